package model

import "github.com/vaegan-go/vaegan/backend"

// weightAverage is an exponential moving average of a network's weights
// (the generator average of Karras et al.): after each update of the
// network, avg = decay·avg + (1 − decay)·w. Training never reads it;
// sampling and reconstruction decode with it.
type weightAverage struct {
	decay    float32
	avg, tmp backend.Tensor // flat, the size of the network's weights
}

func newWeightAverage(b backend.Backend, decay float64, w backend.Tensor) *weightAverage {
	a := &weightAverage{decay: float32(decay), avg: b.New(w.Len()), tmp: b.New(w.Len())}
	a.reset(b, w)
	return a
}

// reset sets the average to w.
func (a *weightAverage) reset(b backend.Backend, w backend.Tensor) { b.Copy(a.avg, w) }

// update moves the average toward w, avg += (1 − decay)·(w − avg), where
// on[0] ≠ 0 (the decoder's update flag).
func (a *weightAverage) update(b backend.Backend, w, on backend.Tensor) {
	b.Average(a.avg, w, on, a.decay)
}

// swap exchanges w and the average; a second swap restores both.
func (a *weightAverage) swap(b backend.Backend, w backend.Tensor) {
	b.Copy(a.tmp, w)
	b.Copy(w, a.avg)
	b.Copy(a.avg, a.tmp)
}
