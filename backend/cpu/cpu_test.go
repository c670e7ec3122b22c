package cpu

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/vaegan-go/vaegan/backend"
	"github.com/vaegan-go/vaegan/backend/backendtest"
)

// tight is the tolerance of the CPU backend against the float64 references:
// float32 rounding of sums of at most a few thousand terms.
var tight = backendtest.Tolerance{Atol: 1e-5, Rtol: 1e-4}

// gonumTol is the tolerance on gonum's products, which add the terms of a
// dot product one after the other in float32: the suite's longest one, 4096
// products of values in [-1, 1] for a weight gradient, has partial sums of
// about sqrt(4096/9) ≈ 21, where one rounding is 2⁻²⁴·21 ≈ 1.3e-6, and 4096
// of them add up to about sqrt(4096)·1.3e-6 ≈ 8e-5. (OpenBLAS keeps 16 or
// more partial sums per dot product: its error stays within tight.)
var gonumTol = backendtest.Tolerance{Atol: 1e-4, Rtol: 1e-4}

// tol is the tolerance for b.
func tol(b *Backend) backendtest.Tolerance {
	if b.openBLAS {
		return tight
	}
	return gonumTol
}

// The backend as New makes it: on OpenBLAS where the system has it.

func TestConformanceOneThread(t *testing.T) { b := New(1); backendtest.Run(t, b, tol(b)) }

func TestConformanceTwoThreads(t *testing.T) { b := New(2); backendtest.Run(t, b, tol(b)) }

// TestConformanceGonum runs the suite on gonum's products, the fallback.
func TestConformanceGonum(t *testing.T) { b := newBackend(2, false); backendtest.Run(t, b, tol(b)) }

// TestConformanceSmallChunks runs the suite with tiny elementwise items and
// convolution chunks, so that its small tensors take the paths that split
// work: many items per operation, several chunks of images per convolution.
func TestConformanceSmallChunks(t *testing.T) {
	oldChunk, oldBudget := chunkLen, colBudget
	chunkLen, colBudget = 7, 300
	t.Cleanup(func() { chunkLen, colBudget = oldChunk, oldBudget })
	b := New(3)
	backendtest.Run(t, b, tol(b))
}

// TestConformancePerImage runs the suite with a product per image for every
// convolution, over several chunks of images, rather than only for images
// of 4096 or more output pixels.
func TestConformancePerImage(t *testing.T) {
	oldMin, oldBudget := perImageMin, colBudget
	perImageMin, colBudget = 1, 300
	t.Cleanup(func() { perImageMin, colBudget = oldMin, oldBudget })
	b := New(2)
	backendtest.Run(t, b, tol(b))
}

// TestName checks that the name says which products are in use.
func TestName(t *testing.T) {
	if got, want := newBackend(2, false).Name(), "cpu (2 threads, gonum)"; got != want {
		t.Errorf("Name() = %q, want %q", got, want)
	}
	if loadOpenBLAS() {
		if got, want := New(3).Name(), "cpu (3 threads, OpenBLAS "+openBLASKind+")"; got != want {
			t.Errorf("Name() = %q, want %q", got, want)
		}
	}
}

// trainingOps runs, on b, the operations of a layer's training step over
// inputs made from seed: a convolution, batch norm and activation forward,
// their backward passes, an Adam update and a loss. It returns every output.
func trainingOps(b *Backend, seed uint64) [][]float32 {
	r := rand.New(rand.NewPCG(seed, 3))
	g := backend.NewConvGeom(6, 8, 20, 20, 16, 5, 2, 2)
	x, w := randomTensor(b, r, g.N, g.C, g.H, g.W), randomTensor(b, r, g.K, g.C, g.R, g.R)
	y, z := b.New(g.N, g.K, g.OH, g.OW), b.New(g.N, g.K, g.OH, g.OW)
	dy := randomTensor(b, r, g.N, g.K, g.OH, g.OW)
	dx, dw := b.New(g.N, g.C, g.H, g.W), b.New(g.K, g.C, g.R, g.R)
	c, s := g.K, g.OH*g.OW
	gamma, beta := randomTensor(b, r, c), randomTensor(b, r, c)
	mean, invstd, rm, rv, dg, db := b.New(c), b.New(c), b.New(c), b.New(c), b.New(c), b.New(c)
	m, v, loss := b.New(w.Len()), b.New(w.Len()), b.New(1)
	b.ConvForward(g, x, w, y)
	b.BatchNormTrain(y, gamma, beta, z, mean, invstd, rm, rv, g.N, c, s, 0.1, 1e-5)
	b.ActForward(backend.LeakyReLU, z, z, 0.2)
	b.SquaredError(z, dy, loss, dy, 0.5)
	b.ActBackward(backend.LeakyReLU, z, dy, dy, 0.2)
	b.BatchNormBackward(y, dy, gamma, mean, invstd, dy, dg, db, g.N, c, s)
	b.ConvBackwardData(g, dy, w, dx)
	b.ConvBackwardFilter(g, x, dy, dw)
	bc := b.New(2)
	b.Upload(bc, []float32{0.5, 0.001})
	b.AdamStep(w, dw, m, v, backend.Tensor{}, bc, 1e-3, 0.5, 0.999, 1e-8)
	var out [][]float32
	for _, t := range []backend.Tensor{y, z, mean, invstd, rm, rv, loss, dy, dg, db, dx, dw, w, m, v} {
		out = append(out, append([]float32(nil), data(t)...))
	}
	return out
}

// TestDeterministic checks that the results are bitwise the same from run
// to run for a given number of threads (resuming training relies on it), on
// both libraries of products and with small chunks.
func TestDeterministic(t *testing.T) {
	oldChunk := chunkLen
	t.Cleanup(func() { chunkLen = oldChunk })
	for _, chunk := range []int{oldChunk, 100} {
		chunkLen = chunk
		for _, threads := range []int{1, 2, 3} {
			for _, ob := range []bool{false, true} {
				if ob && !loadOpenBLAS() {
					continue
				}
				first := trainingOps(newBackend(threads, ob), 1)
				again := trainingOps(newBackend(threads, ob), 1)
				for i := range first {
					if j, ok := sameBits(first[i], again[i]); !ok {
						t.Fatalf("chunk %d, %d threads, OpenBLAS %v: output %d element %d is %v, then %v",
							chunk, threads, ob, i, j, first[i][j], again[i][j])
					}
				}
			}
		}
	}
}

// sameBits reports whether a and b are bitwise equal, and else the first
// index where they differ.
func sameBits(a, b []float32) (int, bool) {
	for i := range a {
		if math.Float32bits(a[i]) != math.Float32bits(b[i]) {
			return i, false
		}
	}
	return 0, true
}
