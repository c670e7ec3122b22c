package model

// gradsVAE computes the VAE baseline's gradients: the pixel squared error
// (Like) and KL, through the decoder into the encoder.
func (t *Trainer) gradsVAE() {
	b, inv := t.B, 1/float32(t.batch)
	t.encode()
	t.decRec.forward(b, t.z, true)
	t.klLoss()
	b.SquaredError(t.xRec, t.x, t.loss[lossLike], t.decRec.dout(), inv)
	t.decRec.backward(b, t.z, t.decRec.top(), 0, t.dz, true)
	t.encBackward()
}
