//go:build cgo

package cpu

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/vaegan-go/vaegan/backend"
)

// TestPlaneTwins checks that the C im2colPlane and col2imPlane give bitwise
// the results of the Go im2col and col2im, and touch nothing outside their
// operands: over the geometries of both architectures, odd ones (wide
// padding, stride 3, kernels larger than the image, pixels right of every
// window) and random ones. Every operand lies between NaN guards, and the
// column matrix's rows have NaN past their OH·OW used columns, so that a
// read outside shows as a NaN in a result and a write outside as a changed
// guard.
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
	for len(geoms) < 300 {
		rr, s := 1+r.IntN(6), 1+r.IntN(3)
		g := backend.NewConvGeom(1, 1+r.IntN(3), 1+r.IntN(12), 1+r.IntN(12), 1, rr, s, r.IntN(rr))
		if g.OH > 0 && g.OW > 0 {
			geoms = append(geoms, g)
		}
	}
	for _, g := range geoms {
		ohw, hw := g.OH*g.OW, g.H*g.W
		ld := ohw + 3
		c := g.C - 1 // the rows of the last channel
		x := guarded(hw)
		for i := range x.in() {
			x.in()[i] = r.Float32()*2 - 1
		}
		colWant, colGot := guarded(colRows(g)*ld), guarded(colRows(g)*ld)
		pWant, pGot := guarded(phaseLen(g)), guarded(phaseLen(g))
		im2col(g, x.in(), colWant.in(), ld, c, pWant.in())
		im2colPlane(g, x.in(), colGot.in(), ld, c, pGot.in())
		if i, ok := sameBits(colGot.in(), colWant.in()); !ok {
			t.Errorf("%+v: im2colPlane[%d] = %v, im2col %v", g, i, colGot.in()[i], colWant.in()[i])
		}
		if !colGot.intact() || !pGot.intact() {
			t.Errorf("%+v: im2colPlane wrote outside its column matrix or phases", g)
		}

		col := guarded(colRows(g) * ld)
		for row := range colRows(g) {
			for j := range ohw {
				col.in()[row*ld+j] = r.Float32()*2 - 1
			}
		}
		dxWant, dxGot := guarded(hw), guarded(hw) // NaN: every pixel must be written
		col2im(g, col.in(), dxWant.in(), ld, c)
		col2imPlane(g, col.in(), dxGot.in(), ld, c, pGot.in())
		if i, ok := sameBits(dxGot.in(), dxWant.in()); !ok {
			t.Errorf("%+v: col2imPlane[%d] = %v, col2im %v", g, i, dxGot.in()[i], dxWant.in()[i])
		}
		if !dxGot.intact() || !pGot.intact() {
			t.Errorf("%+v: col2imPlane wrote outside its output or phases", g)
		}
	}
}

// guardLen is the number of NaNs on each side of a guarded operand.
const guardLen = 64

// guards is an operand of n floats, all NaN to start with, between guardLen
// NaNs on each side.
type guards struct {
	buf []float32
	n   int
}

func guarded(n int) guards {
	buf := make([]float32, n+2*guardLen)
	for i := range buf {
		buf[i] = float32(math.NaN())
	}
	return guards{buf, n}
}

// in is the operand; its capacity ends at its length.
func (g guards) in() []float32 { return g.buf[guardLen : guardLen+g.n : guardLen+g.n] }

// intact reports whether the guards still hold NaN.
func (g guards) intact() bool {
	for _, v := range append(g.buf[:guardLen:guardLen], g.buf[guardLen+g.n:]...) {
		if !math.IsNaN(float64(v)) {
			return false
		}
	}
	return true
}
