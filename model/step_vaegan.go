package model

import (
	"github.com/vaegan-go/vaegan/backend"
)

// gradsVAEGAN computes the VAE-GAN step's gradients (shared/spec/models.md,
// step 5) with one forward pass of the discriminator over [x; x_rec; x_gen]
// and three backward passes through it:
//
//  1. discriminator ← L_dis: from its output, all rows, into its weights;
//  2. decoder ← γ·L_like + L_adv: L_adv's gradient from the output down to
//     the layer above Dis_l, plus γ·∂L_like/∂Dis_l added at Dis_l, then down
//     to the input on the fake rows only (dDisDec), with no weight gradient;
//  3. encoder ← β·L_like: β·∂L_like/∂Dis_l written at Dis_l and taken down
//     to the input on the reconstructed rows (dDisEnc), no weight gradient.
//
// The decoder's weights then get pass 2's gradient through Dec(z) and
// Dec(z_p); pass 3's goes through Dec(z) without touching the decoder's
// weights, on to z, and with the KL gradient into the encoder. So no
// adversarial gradient reaches the encoder and no L_like gradient reaches
// the discriminator's weights.
func (t *Trainer) gradsVAEGAN() {
	b, inv := t.B, 1/float32(t.batch)
	z := t.z
	t.encode()
	t.sampleZp()
	t.decRec.forward(b, z, true)
	t.decGen.forward(b, t.zp, true)
	t.dis.forward(b, t.disIn, true)

	t.klLoss()
	b.SquaredError(t.tap[1], t.tap[0], t.loss[lossLike], t.gLike, inv)
	t.advLosses(fakeRec, fakeGen)

	// Discriminator ← L_dis.
	top, tapAt := t.dis.top(), t.Nets.disTap
	t.dis.backward(b, t.disIn, top, 0, backend.Tensor{}, true)
	// Decoder ← γ·L_like + L_adv, through the discriminator's input.
	b.Copy(t.dis.dout(), t.gAdv)
	t.dis.backward(b, t.disIn, top, tapAt+1, backend.Tensor{}, false)
	t.injectLike(float32(t.Gamma), true)
	t.dis.backwardRows(b, t.disIn, tapAt, &t.fakeRows, t.dDisDec)
	// Encoder ← β·L_like, through the same path.
	t.injectLike(float32(t.Beta), false)
	t.dis.backwardRows(b, t.disIn, tapAt, &t.recRows, t.dDisEnc)

	b.Copy(t.decRec.dout(), t.dDisDecG[0])
	t.decRec.backward(b, z, t.decRec.top(), 0, backend.Tensor{}, true)
	b.Copy(t.decGen.dout(), t.dDisDecG[1])
	t.decGen.backward(b, t.zp, t.decGen.top(), 0, backend.Tensor{}, true)

	b.Copy(t.decRec.dout(), t.dDisEnc)
	t.decRec.backward(b, z, t.decRec.top(), 0, t.dz, false)
	t.encBackward()
}

// injectLike adds (add) or writes w·∂L_like/∂Dis_l into the Dis_l gradient:
// +w·gLike on the reconstructed rows, -w·gLike on the real rows.
func (t *Trainer) injectLike(w float32, add bool) {
	b := t.B
	if !add {
		b.Fill(t.dis.slots[t.Nets.disTap].dy, 0)
	}
	b.Axpy(w, t.gLike, t.dTap[1])
	b.Axpy(-w, t.gLike, t.dTap[0])
}
