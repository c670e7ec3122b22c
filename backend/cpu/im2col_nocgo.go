//go:build !cgo

package cpu

import "github.com/vaegan-go/vaegan/backend"

// Without cgo the convolutions' column matrices are built and summed in Go.

// im2colPlane is im2col.
func im2colPlane(g backend.ConvGeom, x, col []float32, ld, c int, p []float32) {
	im2col(g, x, col, ld, c, p)
}

// col2imPlane is col2im (which needs no phase buffer p).
func col2imPlane(g backend.ConvGeom, col, dx []float32, ld, c int, _ []float32) {
	col2im(g, col, dx, ld, c)
}
