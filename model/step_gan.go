package model

import (
	"github.com/vaegan-go/vaegan/backend"
)

// advLosses writes the discriminator's losses for the groups of B rows of
// its output (real, then one group per fake kind given, in that order), its
// gradient into the discriminator's output gradient, and the generator's
// loss gradient into gAdv (zero on the real rows).
func (t *Trainer) advLosses(fake ...int) {
	b, inv := t.B, 1/float32(t.batch)
	b.Fill(t.gAdvG[0], 0)
	if t.Nets.classes == 1 {
		b.BCEWithLogits(t.logits[0], t.loss[lossDisReal], t.gDis[0], 1, inv)
		for g, l := range fake {
			b.BCEWithLogits(t.logits[g+1], t.loss[lossDisRec+l], t.gDis[g+1], 0, inv)
			b.BCEWithLogits(t.logits[g+1], t.loss[lossAdvRec+l], t.gAdvG[g+1], 1, inv)
		}
		return
	}
	k := t.Nets.classes
	b.SoftmaxCE(t.logits[0], t.loss[lossDisReal], t.gDis[0], k, 0, inv)
	for g, l := range fake {
		b.SoftmaxCE(t.logits[g+1], t.loss[lossDisRec+l], t.gDis[g+1], k, l+1, inv)
		b.SoftmaxCE(t.logits[g+1], t.loss[lossAdvRec+l], t.gAdvG[g+1], k, 0, inv)
	}
}

// The kinds of fake images advLosses scores. A kind is the offset of its
// losses from lossDisRec and lossAdvRec, and the 3-class discriminator's
// class for it is the kind plus one (class 0 is real).
const (
	fakeRec = 0 // reconstructions, Dec(z) with z from the encoder
	fakeGen = 1 // prior samples, Dec(z_p) with z_p ~ N(0, I)
)

// gradsGAN computes the DCGAN step's gradients: the discriminator's from
// L_dis on [x; x_gen], the decoder's from the non-saturating L_adv through
// the discriminator's input.
func (t *Trainer) gradsGAN() {
	b := t.B
	t.sampleZp()
	t.decGen.forward(b, t.zp, true)
	t.dis.forward(b, t.disIn, true)
	t.advLosses(fakeGen)
	b.Fill(t.loss[lossDisRec], 0)
	b.Fill(t.loss[lossAdvRec], 0)
	t.dis.backward(b, t.disIn, t.dis.top(), 0, backend.Tensor{}, true)
	b.Copy(t.dis.dout(), t.gAdv)
	t.dis.backwardRows(b, t.disIn, t.dis.top(), &t.fakeRows, t.dDisDec)
	b.Copy(t.decGen.dout(), t.dDisDec)
	t.decGen.backward(b, t.zp, t.decGen.top(), 0, backend.Tensor{}, true)
}
