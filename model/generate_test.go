package model

import (
	"testing"

	"github.com/vaegan-go/vaegan/backend/cpu"
)

// Decode and Reconstruct run more than InferenceChunk images in chunks
// (memory bounded whatever n is) with the same results as one batch of all
// n: evaluation-mode BatchNorm treats each image alone.
func TestInferenceInChunks(t *testing.T) {
	cfg := Config{Arch: "mnist", Model: VAEGAN, Batch: 4, Optim: OptimConfig{Kind: "adam"}, Seed: 3, NoEquilibrium: true}
	tr, err := NewTrainer(cpu.New(2), cfg)
	if err != nil {
		t.Fatal(err)
	}
	for s := range 2 { // moves the BatchNorm statistics off their initial values
		if _, err := tr.Step(batchFor(tr.Arch, 4, s)); err != nil {
			t.Fatal(err)
		}
	}
	n := 2*InferenceChunk + 5
	z := Prior(n, tr.Arch.Latent, 4)
	got, err := tr.Decode(z)
	if err != nil {
		t.Fatal(err)
	}
	for size := range tr.eval {
		if size > InferenceChunk {
			t.Fatalf("Decode of %d images bound a decoder for a batch of %d: memory grows with n", n, size)
		}
	}
	e := tr.evalAt(n) // one batch of all n, as Decode ran before chunking
	tr.B.Upload(e.z, z)
	e.dec.forward(tr.B, e.z, false)
	want := download(tr.B, e.dec.out())
	if d := maxAbsDiff(got, want); d > 1e-5 {
		t.Errorf("Decode of %d latent vectors in chunks differs from one batch by up to %g, want ≤ 1e-5", n, d)
	}

	x := make([]float32, 0, n*tr.Arch.ImageLen())
	for s := 0; len(x) < cap(x); s++ {
		b := batchFor(tr.Arch, 4, s)
		x = append(x, b[:min(len(b), cap(x)-len(x))]...)
	}
	mu, err := tr.EncodeMean(x)
	if err != nil {
		t.Fatal(err)
	}
	tr.B.Upload(e.in, x)
	e.enc.forward(tr.B, tr.Nets, e.in, false)
	if d := maxAbsDiff(mu, download(tr.B, e.enc.mu.y)); d > 1e-5 {
		t.Errorf("EncodeMean of %d images in chunks differs from one batch by up to %g, want ≤ 1e-5", n, d)
	}
}
