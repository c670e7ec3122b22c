package model

import "math"

// fixtureDir holds the PyTorch fixtures (reference/torch); the step
// fixtures are checked by package steptest, the trajectory here.
const fixtureDir = "../reference/torch/fixtures/"

// relErr is ‖got − want‖₂ / ‖want‖₂ (the absolute error when want is 0).
func relErr(got, want []float32) float64 {
	var d, n float64
	for i := range want {
		e := float64(got[i]) - float64(want[i])
		d += e * e
		n += float64(want[i]) * float64(want[i])
	}
	if n == 0 {
		return math.Sqrt(d)
	}
	return math.Sqrt(d / n)
}
