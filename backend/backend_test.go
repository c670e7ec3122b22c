package backend

import "testing"

// TestNewConvGeom checks output sizes against PyTorch's formula
// floor((size + 2·pad − r) / stride) + 1, and 0 where the kernel does not fit.
func TestNewConvGeom(t *testing.T) {
	for _, c := range []struct {
		h, w, r, stride, pad int
		oh, ow               int
	}{
		{28, 28, 4, 2, 1, 14, 14},
		{64, 64, 5, 2, 2, 32, 32},
		{64, 64, 5, 1, 2, 64, 64},
		{7, 9, 3, 3, 1, 3, 3},
		{3, 3, 5, 2, 2, 2, 2},
		{10, 3, 6, 2, 1, 4, 0}, // 3+2 < 6: (−1)/2 must not round up to a position
		{4, 5, 5, 1, 0, 0, 1},
	} {
		g := NewConvGeom(1, 1, c.h, c.w, 1, c.r, c.stride, c.pad)
		if g.OH != c.oh || g.OW != c.ow {
			t.Errorf("%d×%d, k%d s%d p%d: output %d×%d, want %d×%d", c.h, c.w, c.r, c.stride, c.pad, g.OH, g.OW, c.oh, c.ow)
		}
	}
}
