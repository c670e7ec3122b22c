package model

import (
	"fmt"

	"github.com/vaegan-go/vaegan/backend"
)

// evalPasses are the networks bound for inference (BatchNorm with running
// statistics) at one batch size, made on first use and kept.
type evalPasses struct {
	in, z backend.Tensor
	enc   *encoderPass
	dec   *pass
}

func (t *Trainer) evalAt(n int) *evalPasses {
	if t.eval == nil {
		t.eval = map[int]*evalPasses{}
	}
	if e, ok := t.eval[n]; ok {
		return e
	}
	a := t.Arch
	e := &evalPasses{z: t.B.New(n, a.Latent), dec: t.Nets.dec.bind(t.B, []int{n, a.Latent}, backend.Tensor{})}
	if t.hasEnc {
		e.in = t.B.New(n, a.C, a.H, a.W)
		e.enc = t.Nets.bindEncoder(t.B, n, a)
	}
	t.eval[n] = e
	return e
}

// InferenceChunk is the most images Decode, EncodeMean and Reconstruct run
// through a network at once, so that their memory is bounded whatever the
// number of images asked (BatchNorm in evaluation mode treats each image
// alone, so chunking does not change the result).
const InferenceChunk = 128

// Decode runs the decoder in evaluation mode on latent vectors z (n×Latent
// floats) and returns the n images (NCHW, in [-1, 1]). With a weight
// average (Config.EMA) it decodes with the averaged weights.
func (t *Trainer) Decode(z []float32) (x []float32, err error) {
	L, il := t.Arch.Latent, t.Arch.ImageLen()
	if len(z) == 0 || len(z)%L != 0 {
		return nil, fmt.Errorf("latent batch of %d floats: want a positive multiple of %d", len(z), L)
	}
	defer recoverError(&err)
	if t.ema != nil {
		t.ema.swap(t.B, t.Nets.Dec.W)
		defer t.ema.swap(t.B, t.Nets.Dec.W)
	}
	n := len(z) / L
	x = make([]float32, n*il)
	inChunks(n, func(i, j int) {
		e := t.evalAt(j - i)
		t.B.Upload(e.z, z[i*L:j*L])
		e.dec.forward(t.B, e.z, false)
		t.B.Download(x[i*il:j*il], e.dec.out())
	})
	return x, nil
}

// EncodeMean runs the encoder in evaluation mode on n images (NCHW floats in
// [-1, 1]) and returns their latent means mu (n×Latent).
func (t *Trainer) EncodeMean(x []float32) (mu []float32, err error) {
	if !t.hasEnc {
		return nil, fmt.Errorf("model %s has no encoder", t.Cfg.Model)
	}
	L, il := t.Arch.Latent, t.Arch.ImageLen()
	if len(x) == 0 || len(x)%il != 0 {
		return nil, fmt.Errorf("image batch of %d floats: want a positive multiple of %d (%d×%d×%d)", len(x), il, t.Arch.C, t.Arch.H, t.Arch.W)
	}
	defer recoverError(&err)
	n := len(x) / il
	mu = make([]float32, n*L)
	inChunks(n, func(i, j int) {
		e := t.evalAt(j - i)
		t.B.Upload(e.in, x[i*il:j*il])
		e.enc.forward(t.B, t.Nets, e.in, false)
		t.B.Download(mu[i*L:j*L], e.enc.mu.y)
	})
	return mu, nil
}

// inChunks calls f on the ranges [i, j) of at most InferenceChunk items
// that cover [0, n), in order.
func inChunks(n int, f func(i, j int)) {
	for i := 0; i < n; i += InferenceChunk {
		f(i, min(i+InferenceChunk, n))
	}
}

// HasEncoder says whether the model has an encoder, and so can
// reconstruct (every model but the GAN).
func (t *Trainer) HasEncoder() bool { return t.hasEnc }

// Reconstruct decodes the latent means of n images: the deterministic
// reconstruction (z = mu, BatchNorm in evaluation mode).
func (t *Trainer) Reconstruct(x []float32) ([]float32, error) {
	mu, err := t.EncodeMean(x)
	if err != nil {
		return nil, err
	}
	return t.Decode(mu)
}

// Prior returns n latent vectors drawn from N(0, I) with the given seed.
func Prior(n, latent int, seed uint64) []float32 {
	z := make([]float32, n*latent)
	for i := range z {
		z[i] = backend.NormalAt(seed, uint64(i))
	}
	return z
}
