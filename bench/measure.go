package main

import (
	"fmt"
	"slices"
	"time"

	"github.com/vaegan-go/vaegan/backend"
	"github.com/vaegan-go/vaegan/model"
)

// timeCalls runs call once to warm up, then again and again until at least
// minReps calls and minTotal of time are done, each followed by b.Sync, and
// returns the time of each call in nanoseconds, sorted.
func timeCalls(b backend.Backend, call func(), minReps int, minTotal time.Duration) []float64 {
	call()
	b.Sync()
	var times []float64
	var total time.Duration
	for len(times) < minReps || total < minTotal {
		t0 := time.Now()
		call()
		b.Sync()
		d := time.Since(t0)
		total += d
		times = append(times, float64(d.Nanoseconds()))
	}
	slices.Sort(times)
	return times
}

// median returns the middle value of xs (the mean of the two middle ones
// for an even count); xs is sorted in place.
func median(xs []float64) float64 {
	slices.Sort(xs)
	n := len(xs)
	if n%2 == 1 {
		return xs[n/2]
	}
	return (xs[n/2-1] + xs[n/2]) / 2
}

// tracker is a Backend that remembers the tensors it allocates, so that
// they can all be freed at once.
type tracker struct {
	backend.Backend
	made []backend.Tensor
}

func (t *tracker) New(shape ...int) backend.Tensor {
	x := t.Backend.New(shape...)
	t.made = append(t.made, x)
	return x
}

// freeAll frees every tensor allocated so far.
func (t *tracker) freeAll() {
	for _, x := range t.made {
		t.Backend.Free(x)
	}
	t.made = nil
}

// timeOp sets op o up on b, times it with timeCalls and frees its operands.
func timeOp(b backend.Backend, o op, minReps int, minTotal time.Duration) []float64 {
	mem := &tracker{Backend: b}
	defer mem.freeAll()
	return timeCalls(b, o.setup(mem), minReps, minTotal)
}

// flopCounter is a Backend that adds up the floating-point operations of
// the matrix products and convolutions it passes on.
type flopCounter struct {
	backend.Backend
	flop float64
}

func convFLOP(g backend.ConvGeom) float64 {
	return 2 * float64(g.N) * float64(g.K) * float64(g.C) * float64(g.R*g.R) * float64(g.OH*g.OW)
}

func (c *flopCounter) Gemm(transA, transB bool, m, n, k int, alpha float32, a, b backend.Tensor, beta float32, d backend.Tensor) {
	c.flop += 2 * float64(m) * float64(n) * float64(k)
	c.Backend.Gemm(transA, transB, m, n, k, alpha, a, b, beta, d)
}

func (c *flopCounter) ConvForward(g backend.ConvGeom, x, w, y backend.Tensor) {
	c.flop += convFLOP(g)
	c.Backend.ConvForward(g, x, w, y)
}

func (c *flopCounter) ConvBackwardData(g backend.ConvGeom, dy, w, dx backend.Tensor) {
	c.flop += convFLOP(g)
	c.Backend.ConvBackwardData(g, dy, w, dx)
}

func (c *flopCounter) ConvBackwardFilter(g backend.ConvGeom, x, dy, dw backend.Tensor) {
	c.flop += convFLOP(g)
	c.Backend.ConvBackwardFilter(g, x, dy, dw)
}

// stepper runs training steps of one model on one backend with a fixed
// batch of images.
type stepper struct {
	tr   *model.Trainer
	b    backend.Backend
	mem  *tracker // the trainer's tensors
	x    []float32
	flop float64 // of one step, counted on the first one
	// warmup is the time of the first step in nanoseconds.
	warmup float64
}

// trainerConfig is the configuration the benchmark trains with: Adam, and
// no equilibrium rule, so that every step updates all three networks as
// the PyTorch step does.
func trainerConfig(arch, mdl string, batch int) model.Config {
	return model.Config{Arch: arch, Model: mdl, Batch: batch, Optim: model.OptimConfig{Kind: "adam"},
		NoEquilibrium: true, Seed: 1}
}

// newStepper builds a trainer on b and runs one step, the warm-up, whose
// matrix products and convolutions it counts.
func newStepper(b backend.Backend, arch, mdl string, batch int) (*stepper, error) {
	cfg := trainerConfig(arch, mdl, batch)
	mem := &tracker{Backend: b}
	counter := &flopCounter{Backend: mem}
	tr, err := model.NewTrainer(counter, cfg)
	if err != nil {
		mem.freeAll()
		return nil, err
	}
	s := &stepper{tr: tr, b: b, mem: mem, x: hostRandom(0, -1, 1, batch*tr.Arch.ImageLen())}
	t0 := time.Now()
	if err := s.step(); err != nil {
		s.free()
		return nil, err
	}
	s.flop, s.warmup = counter.flop, float64(time.Since(t0).Nanoseconds())
	return s, nil
}

// free releases the trainer's tensors.
func (s *stepper) free() { s.mem.freeAll() }

func (s *stepper) step() error {
	if _, err := s.tr.Step(s.x); err != nil {
		return fmt.Errorf("%s: %w", s.b.Name(), err)
	}
	s.b.Sync()
	return nil
}

// time runs n steps and returns the median time of one in nanoseconds.
func (s *stepper) time(n int) (float64, error) {
	times := make([]float64, 0, n)
	for range n {
		t0 := time.Now()
		if err := s.step(); err != nil {
			return 0, err
		}
		times = append(times, float64(time.Since(t0).Nanoseconds()))
	}
	return median(times), nil
}
