package report

import (
	"fmt"
	"image"
	"image/color"
	"image/color/palette"
	"image/draw"
	"image/gif"
	"io"
)

// WriteAnimation writes frames, each a grid of n images of c×h×w in cols
// columns (as Grid lays them out), to path as an animated GIF that loops
// forever, delay hundredths of a second per frame, replacing any existing
// file atomically. Gray grids keep all 256 levels; RGB grids are dithered
// to the web-safe palette (Floyd–Steinberg).
func WriteAnimation(path string, frames [][]float32, n, c, h, w, cols, delay int) error {
	if len(frames) == 0 {
		return fmt.Errorf("report: animation %s has no frames", path)
	}
	anim := &gif.GIF{LoopCount: 0}
	gray := make(color.Palette, 256)
	for i := range gray {
		gray[i] = color.Gray{Y: uint8(i)}
	}
	for _, f := range frames {
		img, err := Grid(f, n, c, h, w, cols)
		if err != nil {
			return fmt.Errorf("%w (writing %s)", err, path)
		}
		var p *image.Paletted
		if g, ok := img.(*image.Gray); ok {
			p = &image.Paletted{Pix: g.Pix, Stride: g.Stride, Rect: g.Rect, Palette: gray}
		} else {
			p = image.NewPaletted(img.Bounds(), palette.WebSafe)
			draw.FloydSteinberg.Draw(p, p.Rect, img, image.Point{})
		}
		anim.Image = append(anim.Image, p)
		anim.Delay = append(anim.Delay, delay)
	}
	return writeFileAtomic(path, func(w io.Writer) error { return gif.EncodeAll(w, anim) })
}
