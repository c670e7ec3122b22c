//go:build cgo

package cpu

/*
#cgo CFLAGS: -O3

// The C twins of im2col and col2im in conv.go, compiled by gcc at -O3, which
// turns the row copies and row sums into vector instructions (Go's compiler
// does not vectorize). Every output gets the same terms in the same order as
// from the Go functions, so the results are bitwise equal.

typedef struct { int h, w, oh, ow, r, s, pad; } geom;

// span sets [*lo, *hi) to the output positions o in [0, out) whose input
// position o*stride-pad+k lies inside [0, size), as valid in conv.go.
static void span(int size, int out, int stride, int pad, int k, int *lo, int *hi) {
	int l = 0, h;
	if (pad - k > 0) {
		l = (pad - k + stride - 1) / stride;
	}
	int last = size - 1 + pad - k;
	if (last < 0) {
		*lo = *hi = 0;
		return;
	}
	h = last / stride + 1;
	if (h > out) {
		h = out;
	}
	*lo = l < h ? l : h;
	*hi = h;
}

static int phase_width(const geom *g) { return g->ow + (g->r - 1) / g->s; }

// to_phases is toPhases: p[r, y, j] = x[y, j*s+r-pad], zero outside.
static void to_phases(const geom *g, const float *x, float *p) {
	int pw = phase_width(g);
	for (int r = 0; r < g->s; r++) {
		int lo, hi;
		span(g->w, pw, g->s, g->pad, r, &lo, &hi);
		for (int y = 0; y < g->h; y++) {
			float *d = p + (long)(r * g->h + y) * pw;
			const float *row = x + (long)y * g->w;
			for (int j = 0; j < lo; j++) d[j] = 0;
			for (int j = hi; j < pw; j++) d[j] = 0;
			for (int j = lo; j < hi; j++) d[j] = row[j * g->s + r - g->pad];
		}
	}
}

static void im2col_plane(geom gv, const float *x, float *col, long ld, int c, float *p) {
	const geom *g = &gv;
	to_phases(g, x, p);
	int pw = phase_width(g), oh = g->oh, ow = g->ow;
	for (int ky = 0; ky < g->r; ky++) {
		int ylo, yhi;
		span(g->h, oh, g->s, g->pad, ky, &ylo, &yhi);
		for (int kx = 0; kx < g->r; kx++) {
			float *row = col + (long)((c * g->r + ky) * g->r + kx) * ld;
			const float *src = p + (long)(kx % g->s) * g->h * pw + kx / g->s;
			for (int i = 0; i < ylo * ow; i++) row[i] = 0;
			for (int i = yhi * ow; i < oh * ow; i++) row[i] = 0;
			for (int oy = ylo; oy < yhi; oy++) {
				float *d = row + oy * ow;
				const float *s = src + (long)(oy * g->s - g->pad + ky) * pw;
				for (int ox = 0; ox < ow; ox++) d[ox] = s[ox];
			}
		}
	}
}

// col2im_plane is col2im, with the sums done in p, the phases of dx (as
// to_phases lays them out), so that each row of col adds onto a contiguous
// run; entries of p outside the image are dropped when p is copied to dx.
// Each pixel receives the same terms in the same order as in col2im.
static void col2im_plane(geom gv, const float *col, long ld, int c, float *dx, float *p) {
	const geom *g = &gv;
	int h = g->h, w = g->w, s = g->s, pad = g->pad, oh = g->oh, ow = g->ow;
	int pw = phase_width(g);
	for (long i = 0; i < (long)s * h * pw; i++) p[i] = 0;
	for (int ky = 0; ky < g->r; ky++) {
		int ylo, yhi;
		span(h, oh, s, pad, ky, &ylo, &yhi);
		for (int kx = 0; kx < g->r; kx++) {
			const float *row = col + (long)((c * g->r + ky) * g->r + kx) * ld;
			float *dst = p + (long)(kx % s) * h * pw + kx / s;
			for (int oy = ylo; oy < yhi; oy++) {
				float *d = dst + (long)(oy * s - pad + ky) * pw;
				const float *src = row + oy * ow;
				for (int ox = 0; ox < ow; ox++) d[ox] += src[ox];
			}
		}
	}
	if ((w - 1 + pad) / s >= pw) {
		// Pixels right of every window: no phase holds them.
		for (int i = 0; i < h * w; i++) dx[i] = 0;
	}
	for (int r = 0; r < s; r++) {
		int lo, hi;
		span(w, pw, s, pad, r, &lo, &hi);
		for (int y = 0; y < h; y++) {
			const float *src = p + (long)(r * h + y) * pw;
			float *d = dx + (long)y * w;
			for (int j = lo; j < hi; j++) d[j * s + r - pad] = src[j];
		}
	}
}
*/
import "C"

import "github.com/vaegan-go/vaegan/backend"

// cgeom is g's plane geometry as the C functions take it.
func cgeom(g backend.ConvGeom) C.geom {
	return C.geom{h: C.int(g.H), w: C.int(g.W), oh: C.int(g.OH), ow: C.int(g.OW), r: C.int(g.R), s: C.int(g.Stride), pad: C.int(g.Pad)}
}

// im2colPlane is im2col, run as C.
func im2colPlane(g backend.ConvGeom, x, col []float32, ld, c int, p []float32) {
	C.im2col_plane(cgeom(g), (*C.float)(&x[0]), (*C.float)(&col[0]), C.long(ld), C.int(c), (*C.float)(&p[0]))
}

// col2imPlane is col2im, run as C; p holds phaseLen(g) elements.
func col2imPlane(g backend.ConvGeom, col, dx []float32, ld, c int, p []float32) {
	C.col2im_plane(cgeom(g), (*C.float)(&col[0]), C.long(ld), C.int(c), (*C.float)(&dx[0]), (*C.float)(&p[0]))
}
