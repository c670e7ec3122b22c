package cpu

import (
	"testing"

	"github.com/vaegan-go/vaegan/backend"
)

// TestNoAllocations checks that the operations allocate nothing once their
// scratch buffers have grown, at a small size on gonum (whose Sgemm starts
// goroutines, which allocate, only for large products) and, where the system
// has OpenBLAS, also with a celeba64 layer over 8 images.
func TestNoAllocations(t *testing.T) {
	geoms := []struct {
		openBLAS bool
		g        backend.ConvGeom
	}{
		{false, backend.NewConvGeom(4, 3, 12, 12, 8, 4, 2, 1)},
		{true, backend.NewConvGeom(4, 3, 12, 12, 8, 4, 2, 1)},
		{true, backend.NewConvGeom(8, 32, 64, 64, 128, 5, 2, 2)}, // two chunks
		{false, backend.NewConvGeom(1, 4, 6, 6, 2, 3, 1, 1)},     // run as its adjoint
		{true, backend.NewConvGeom(2, 8, 16, 16, 3, 5, 1, 2)},    // run as its adjoint
	}
	for _, tc := range geoms {
		if tc.openBLAS && !loadOpenBLAS() {
			continue
		}
		b, g := newBackend(2, tc.openBLAS), tc.g
		x, w, y := b.New(g.N, g.C, g.H, g.W), b.New(g.K, g.C, g.R, g.R), b.New(g.N, g.K, g.OH, g.OW)
		dx, dw := b.New(g.N, g.C, g.H, g.W), b.New(g.K, g.C, g.R, g.R)
		b.Fill(x, 0.5)
		b.Fill(w, 0.25)
		n, c, s := g.N, g.K, g.OH*g.OW
		gamma, beta, mean, invstd, rm, rv := b.New(c), b.New(c), b.New(c), b.New(c), b.New(c), b.New(c)
		loss, v := b.New(1), b.New(n*c*s)
		b.Fill(rv, 1)
		on, flags := b.New(1), b.New(3)
		b.Fill(on, 1)
		ga, gb, gc := b.New(8, 48), b.New(16, 48), b.New(8, 16)
		ops := map[string]func(){
			"ConvForward":        func() { b.ConvForward(g, x, w, y) },
			"ConvBackwardData":   func() { b.ConvBackwardData(g, y, w, dx) },
			"ConvBackwardFilter": func() { b.ConvBackwardFilter(g, x, y, dw) },
			"Gemm":               func() { b.Gemm(false, true, 8, 16, 48, 1, ga, gb, 0.5, gc) },
			"Fill":               func() { b.Fill(v, 0.5) },
			"BiasBackward":       func() { b.BiasBackward(y, beta, n, c, s) },
			"BatchNormTrain":     func() { b.BatchNormTrain(y, gamma, beta, v, mean, invstd, rm, rv, n, c, s, 0.1, 1e-5) },
			"BatchNormBackward":  func() { b.BatchNormBackward(y, v, gamma, mean, invstd, v, gamma, beta, n, c, s) },
			"ActForward":         func() { b.ActForward(backend.Tanh, v, v, 0) },
			"ActBackward":        func() { b.ActBackward(backend.LeakyReLU, v, v, v, 0.2) },
			"Reparameterize":     func() { b.Reparameterize(v, v, v, v, 1, flags.Rows(0, 2)) },
			"SoftmaxCE":          func() { b.SoftmaxCE(v, loss, v, 4, 1, 1) },
			"SquaredError":       func() { b.SquaredError(v, y, loss, v, 1) },
			"SumSquares":         func() { b.SumSquares(v, loss) },
			"AdamStep":           func() { b.AdamStep(v, v, v, v, on, flags.Rows(0, 2), 1e-3, 0.5, 0.999, 1e-8) },
			"Average":            func() { b.Average(v, v, on, 0.9) },
			"Decide": func() {
				b.Decide(v, flags, backend.Decision{Checked: 3, Equilibrium: true, Rec: 1, Gen: 2, Low: 0.3, High: 1})
			},
		}
		for name, op := range ops {
			op() // grow the scratch buffers
			if a := fewestAllocs(op); a != 0 {
				t.Errorf("%s (%s, N=%d, C=%d, H=%d): %v allocations per call, want 0", name, b.Name(), g.N, g.C, g.H, a)
			}
		}
	}
}

// fewestAllocs is the fewest allocations per call of op over three
// measurements. The count is the whole process's: on a loaded machine the
// runtime may start an OS thread while a long cgo call (an OpenBLAS
// product) holds one, and that allocates; once in a while, not on every
// call, as an allocation of the op's own would.
func fewestAllocs(op func()) float64 {
	fewest := testing.AllocsPerRun(3, op)
	for range 2 {
		fewest = min(fewest, testing.AllocsPerRun(3, op))
	}
	return fewest
}
