package data

import (
	"fmt"
	"image"
	"image/color"
	_ "image/jpeg" // registers JPEG with image.Decode
	_ "image/png"  // registers PNG with image.Decode
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
)

// OpenFolder lists every .png, .jpg and .jpeg file (any letter case) under
// dir, recursively, sorted by path: that is the folder's file order. Images
// are decoded when Image asks for them: center-cropped to a square,
// area-averaged to h×w, and made gray (c = 1, Rec. 601 luminance) or RGB
// (c = 3). Transparent pixels are taken over black.
func OpenFolder(dir string, c, h, w int) (Dataset, error) {
	if c != 1 && c != 3 {
		return nil, fmt.Errorf("data: folder %s: %d channels asked, want 1 (gray) or 3 (RGB)", dir, c)
	}
	if h < 1 || w < 1 {
		return nil, fmt.Errorf("data: folder %s: image size %d×%d asked, want at least 1×1", dir, h, w)
	}
	var files []string
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		switch strings.ToLower(filepath.Ext(path)) {
		case ".png", ".jpg", ".jpeg":
			if d.Type().IsRegular() {
				files = append(files, path)
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("data: folder %s: %w", dir, err)
	}
	if len(files) == 0 {
		return nil, fmt.Errorf("data: folder %s holds no .png, .jpg or .jpeg images", dir)
	}
	slices.Sort(files)
	return &folder{dir: dir, files: files, c: c, h: h, w: w}, nil
}

// folder is a list of image files decoded on demand.
type folder struct {
	dir     string
	files   []string
	c, h, w int
}

// Len is the number of image files.
func (d *folder) Len() int { return len(d.files) }

// Shape is the c×h×w every image is made into.
func (d *folder) Shape() (c, h, w int) { return d.c, d.h, d.w }

// Name is the folder's path.
func (d *folder) Name() string { return d.dir }

// Image decodes file i, crops, resizes and scales it into dst.
func (d *folder) Image(i int, dst []float32) error {
	if err := checkImageArgs(d, i, dst); err != nil {
		return err
	}
	return loadImage(d.files[i], dst, d.c, d.h, d.w)
}

// LoadImage reads the PNG or JPEG file at path as one c×h×w image (CHW
// floats in [-1, 1]), made as a folder's images are: center-cropped to a
// square, area-resized, gray or RGB.
func LoadImage(path string, c, h, w int) ([]float32, error) {
	if c != 1 && c != 3 {
		return nil, fmt.Errorf("data: %s: %d channels asked, want 1 (gray) or 3 (RGB)", path, c)
	}
	dst := make([]float32, c*h*w)
	return dst, loadImage(path, dst, c, h, w)
}

// loadImage decodes the file at path into dst as a c×h×w image.
func loadImage(path string, dst []float32, c, h, w int) error {
	img, err := decodeBounded(path)
	if err != nil {
		return err
	}
	b := img.Bounds()
	s := min(b.Dx(), b.Dy())
	if s == 0 {
		return fmt.Errorf("data: %s: image is %d×%d, empty", path, b.Dx(), b.Dy())
	}
	x0, y0 := b.Min.X+(b.Dx()-s)/2, b.Min.Y+(b.Dy()-s)/2
	planes := samples(img, x0, y0, s, c)
	hw := h * w
	for ch := range c {
		out := areaResize(planes[ch*s*s:(ch+1)*s*s], s, h, w)
		for j, v := range out {
			dst[ch*hw+j] = float32(2*v - 1)
		}
	}
	return nil
}

// Limits on an image file's declared size, checked from its header before
// it is decoded: a small file can claim a huge image (a 378-byte JPEG
// header can claim 65535×65535) and decoding it would exhaust memory.
const (
	MaxImageSide   = 16384   // pixels along either side
	MaxImagePixels = 1 << 25 // width × height: 33.5 megapixels (a 24-megapixel photo fits)
)

// decodeBounded decodes the image file at path after checking, from its
// header, that its size is within MaxImageSide and MaxImagePixels.
func decodeBounded(path string) (image.Image, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("data: %w", err)
	}
	defer f.Close()
	return decodeBoundedFrom(path, f)
}

// decodeBoundedFrom is decodeBounded on the file's contents r; name names
// the file in errors.
func decodeBoundedFrom(name string, r io.ReadSeeker) (image.Image, error) {
	cfg, _, err := image.DecodeConfig(r)
	if err != nil {
		return nil, fmt.Errorf("data: %s: decode: %v", name, err)
	}
	if cfg.Width > MaxImageSide || cfg.Height > MaxImageSide || cfg.Width*cfg.Height > MaxImagePixels {
		return nil, fmt.Errorf("data: %s: image is %d×%d, beyond the limit of %d pixels a side and %d pixels in all (resize it first)",
			name, cfg.Width, cfg.Height, MaxImageSide, MaxImagePixels)
	}
	if _, err := r.Seek(0, io.SeekStart); err != nil {
		return nil, fmt.Errorf("data: %s: %w", name, err)
	}
	img, _, err := image.Decode(r)
	if err != nil {
		return nil, fmt.Errorf("data: %s: decode: %v", name, err)
	}
	return img, nil
}

// samples returns the s×s square of img at (x0, y0) as c planes of values in
// [0, 1]: gray luminance (c = 1) or R, G, B (c = 3).
func samples(img image.Image, x0, y0, s, c int) []float64 {
	rgb := rgbFunc(img)
	out := make([]float64, c*s*s)
	for y := range s {
		for x := range s {
			r, g, b := rgb(x0+x, y0+y)
			j := y*s + x
			if c == 1 {
				out[j] = (0.299*r + 0.587*g + 0.114*b) / 0xffff
				continue
			}
			out[j], out[s*s+j], out[2*s*s+j] = r/0xffff, g/0xffff, b/0xffff
		}
	}
	return out
}

// rgbFunc returns a reader of img's alpha-premultiplied 16-bit R, G, B at
// (x, y), with direct paths for the types the PNG and JPEG decoders make most.
func rgbFunc(img image.Image) func(x, y int) (r, g, b float64) {
	switch m := img.(type) {
	case *image.Gray:
		return func(x, y int) (r, g, b float64) {
			v := float64(m.Pix[m.PixOffset(x, y)]) * 0x101
			return v, v, v
		}
	case *image.YCbCr:
		return func(x, y int) (r, g, b float64) {
			yi, ci := m.YOffset(x, y), m.COffset(x, y)
			r8, g8, b8 := color.YCbCrToRGB(m.Y[yi], m.Cb[ci], m.Cr[ci])
			return float64(r8) * 0x101, float64(g8) * 0x101, float64(b8) * 0x101
		}
	case *image.RGBA:
		return func(x, y int) (r, g, b float64) {
			p := m.Pix[m.PixOffset(x, y):]
			return float64(p[0]) * 0x101, float64(p[1]) * 0x101, float64(p[2]) * 0x101
		}
	}
	return func(x, y int) (r, g, b float64) {
		r32, g32, b32, _ := img.At(x, y).RGBA()
		return float64(r32), float64(g32), float64(b32)
	}
}

// areaResize resizes the s×s plane src to h×w by area averaging: each output
// pixel is the mean of the source area it covers, partly covered source
// pixels counting by the fraction covered. Downscaling does not alias.
func areaResize(src []float64, s, h, w int) []float64 {
	xs, ys := areaWeights(s, w), areaWeights(s, h)
	tmp := make([]float64, s*w)
	for y := range s {
		row := src[y*s : (y+1)*s]
		for ox, ws := range xs {
			var sum float64
			for _, t := range ws {
				sum += t.w * row[t.i]
			}
			tmp[y*w+ox] = sum
		}
	}
	out := make([]float64, h*w)
	for oy, ws := range ys {
		for ox := range w {
			var sum float64
			for _, t := range ws {
				sum += t.w * tmp[t.i*w+ox]
			}
			out[oy*w+ox] = sum
		}
	}
	return out
}

// tap is one source pixel's weight in an output pixel.
type tap struct {
	i int
	w float64
}

// areaWeights returns, for each of n output pixels along an axis of src source
// pixels, the source pixels it covers and their weights (summing to 1). In
// units of 1/n source pixels, output o covers [o*src, (o+1)*src) and source
// pixel i covers [i*n, (i+1)*n), so the overlaps are exact integers.
func areaWeights(src, n int) [][]tap {
	out := make([][]tap, n)
	for o := range n {
		lo, hi := o*src, (o+1)*src
		for i := lo / n; i*n < hi; i++ {
			overlap := min(hi, (i+1)*n) - max(lo, i*n)
			out[o] = append(out[o], tap{i: i, w: float64(overlap) / float64(src)})
		}
	}
	return out
}
