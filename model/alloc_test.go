package model

import (
	"testing"

	"github.com/vaegan-go/vaegan/backend/cpu"
)

// A training step allocates nothing: every tensor is allocated when the
// trainer is made.
func TestStepAllocatesNothing(t *testing.T) {
	for _, m := range ModelNames() {
		tr, err := NewTrainer(cpu.New(2), Config{Arch: "mnist", Model: m, Batch: 8, Optim: OptimConfig{Kind: "adam"}, Seed: 1})
		if err != nil {
			t.Fatal(err)
		}
		x := batchFor(tr.Arch, 8, 0)
		if _, err := tr.Step(x); err != nil { // warm-up: the backend's scratch buffers grow once
			t.Fatal(err)
		}
		if n := testing.AllocsPerRun(3, func() { tr.Step(x) }); n != 0 {
			t.Errorf("%s: a step makes %v allocations, want 0", m, n)
		}
	}
}
