//go:build cgo

package cpu

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/vaegan-go/vaegan/backend"
)

// TestPlaneTwins checks that the C im2colPlane and col2imPlane give bitwise
// the results of the Go im2col and col2im, over the geometries of both
// architectures and odd ones (wide padding, stride 3, kernels larger than
// the image, pixels right of every window).
func TestPlaneTwins(t *testing.T) {
	geoms := []backend.ConvGeom{
		backend.NewConvGeom(1, 2, 28, 28, 1, 4, 2, 1),
		backend.NewConvGeom(1, 3, 64, 64, 1, 5, 2, 2),
		backend.NewConvGeom(1, 2, 16, 16, 1, 5, 2, 2),
		backend.NewConvGeom(1, 2, 64, 64, 1, 5, 1, 2),
		backend.NewConvGeom(1, 2, 7, 9, 1, 3, 3, 1),
		backend.NewConvGeom(1, 2, 8, 8, 1, 3, 2, 0),
		backend.NewConvGeom(1, 2, 5, 6, 1, 4, 1, 3),
		backend.NewConvGeom(1, 2, 3, 3, 1, 5, 2, 2),
		backend.NewConvGeom(1, 2, 10, 11, 1, 2, 3, 0),
		backend.NewConvGeom(1, 2, 7, 7, 1, 3, 3, 0),
	}
	r := rand.New(rand.NewPCG(3, 4))
	for _, g := range geoms {
		hw, ld := g.H*g.W, g.OH*g.OW+3
		x := make([]float32, hw)
		col := make([]float32, colRows(g)*ld)
		for i := range x {
			x[i] = r.Float32()*2 - 1
		}
		for i := range col {
			col[i] = r.Float32()*2 - 1
		}
		p := make([]float32, phaseLen(g))
		c := g.C - 1 // the rows of the last channel
		want, got := make([]float32, len(col)), make([]float32, len(col))
		copy(want, col)
		copy(got, col)
		im2col(g, x, want, ld, c, p)
		im2colPlane(g, x, got, ld, c, p)
		if i, ok := sameBits(got, want); !ok {
			t.Errorf("%+v: im2colPlane[%d] = %v, im2col %v", g, i, got[i], want[i])
		}
		dxWant, dxGot := make([]float32, hw), make([]float32, hw)
		for i := range dxGot {
			dxGot[i] = float32(math.NaN()) // every pixel must be written
		}
		col2im(g, col, dxWant, ld, c)
		col2imPlane(g, col, dxGot, ld, c, p)
		if i, ok := sameBits(dxGot, dxWant); !ok {
			t.Errorf("%+v: col2imPlane[%d] = %v, col2im %v", g, i, dxGot[i], dxWant[i])
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
