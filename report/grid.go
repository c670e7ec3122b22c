package report

import (
	"fmt"
	"image"
	"image/png"
	"io"
	"math"
)

// GridGap is the width in pixels of the black border drawn around and between
// the cells of an image grid.
const GridGap = 2

// Grid lays out n images of c×h×w (NCHW, float32) in rows of cols cells, with
// a GridGap-pixel black border around and between cells. A value v maps to the
// 8-bit intensity round((v+1)/2·255) after clamping v to [-1, 1]; NaN maps to
// 0. c must be 1 (the result is an *image.Gray) or 3 (an *image.RGBA, opaque,
// channels in R, G, B order). If cols exceeds n, the grid is n cells wide.
func Grid(images []float32, n, c, h, w, cols int) (image.Image, error) {
	if n <= 0 || h <= 0 || w <= 0 || cols <= 0 {
		return nil, fmt.Errorf("report: grid of n=%d images of %dx%d in %d columns: want all of them positive", n, h, w, cols)
	}
	if c != 1 && c != 3 {
		return nil, fmt.Errorf("report: grid images have %d channels, want 1 (gray) or 3 (RGB)", c)
	}
	if len(images) != n*c*h*w {
		return nil, fmt.Errorf("report: grid got %d values, want n*c*h*w = %d*%d*%d*%d = %d", len(images), n, c, h, w, n*c*h*w)
	}
	cols = min(cols, n)
	rows := (n + cols - 1) / cols
	rect := image.Rect(0, 0, cols*(w+GridGap)+GridGap, rows*(h+GridGap)+GridGap)
	plane := h * w
	if c == 1 {
		img := image.NewGray(rect)
		for i := range n {
			x0, y0 := cellOrigin(i, cols, h, w)
			src := images[i*plane : (i+1)*plane]
			for y := range h {
				row := img.Pix[(y0+y)*img.Stride+x0:]
				for x := range w {
					row[x] = toByte(src[y*w+x])
				}
			}
		}
		return img, nil
	}
	img := image.NewRGBA(rect)
	for i := range len(img.Pix) / 4 {
		img.Pix[4*i+3] = 255 // opaque black border
	}
	for i := range n {
		x0, y0 := cellOrigin(i, cols, h, w)
		r := images[(3*i)*plane : (3*i+1)*plane]
		g := images[(3*i+1)*plane : (3*i+2)*plane]
		b := images[(3*i+2)*plane : (3*i+3)*plane]
		for y := range h {
			row := img.Pix[(y0+y)*img.Stride+4*x0:]
			for x := range w {
				k := y*w + x
				row[4*x] = toByte(r[k])
				row[4*x+1] = toByte(g[k])
				row[4*x+2] = toByte(b[k])
			}
		}
	}
	return img, nil
}

// WriteGrid writes Grid(images, n, c, h, w, cols) to path as a PNG file,
// replacing any existing file atomically.
func WriteGrid(path string, images []float32, n, c, h, w, cols int) error {
	img, err := Grid(images, n, c, h, w, cols)
	if err != nil {
		return fmt.Errorf("%w (writing %s)", err, path)
	}
	return writeFileAtomic(path, func(w io.Writer) error { return png.Encode(w, img) })
}

// cellOrigin returns the top-left pixel of cell i in a grid of cols columns.
func cellOrigin(i, cols, h, w int) (x0, y0 int) {
	return GridGap + (i%cols)*(w+GridGap), GridGap + (i/cols)*(h+GridGap)
}

// toByte maps v in [-1, 1] to 0..255, clamping values outside; NaN maps to 0.
func toByte(v float32) uint8 {
	if !(v > -1) { // also catches NaN
		return 0
	}
	if v >= 1 {
		return 255
	}
	return uint8(math.Round(float64(v+1) * 127.5))
}
