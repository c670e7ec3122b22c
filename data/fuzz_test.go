package data

import (
	"bytes"
	"compress/gzip"
	"image"
	"image/jpeg"
	"image/png"
	"testing"
)

// The readers of untrusted files never panic and never allocate what a
// header merely claims. CI runs each target for a short, fixed time
// (.ci/run); `go test` runs their seeds. The seeds are valid files and
// the hostile ones of issue 9.

func FuzzIDX(f *testing.F) {
	valid := []byte{0, 0, 8, 3, 0, 0, 0, 2, 0, 0, 0, 2, 0, 0, 0, 3, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12}
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	zw.Write(valid)
	zw.Close()
	f.Add(valid)
	f.Add(gz.Bytes())
	f.Add(valid[:20])                                                                                 // truncated pixels
	f.Add([]byte{0, 0, 8, 3, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff}) // claims 2^96 bytes
	f.Add([]byte{0, 0, 8, 1, 0, 0, 0, 3, 1, 2, 3})                                                    // a label file
	f.Fuzz(func(t *testing.T, b []byte) {
		ds, err := asDataset(readIDX("fuzz", bytes.NewReader(b)))
		if err == nil {
			c, h, w := ds.Shape()
			dst := make([]float32, c*h*w)
			if err := ds.Image(ds.Len()-1, dst); err != nil {
				t.Fatalf("a file that opened fails to give its last image: %v", err)
			}
		}
		readLabels("fuzz", bytes.NewReader(b))
	})
}

func FuzzImage(f *testing.F) {
	img := image.NewGray(image.Rect(0, 0, 5, 3))
	for i := range img.Pix {
		img.Pix[i] = uint8(40 * i)
	}
	var p, j bytes.Buffer
	png.Encode(&p, img)
	jpeg.Encode(&j, img, nil)
	f.Add(p.Bytes())
	f.Add(j.Bytes())
	f.Add(pngClaiming(30000, 30000))
	f.Add(jpegClaiming(65535, 65535))
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := decodeBoundedFrom("fuzz", bytes.NewReader(b))
		if err != nil {
			return
		}
		r := m.Bounds()
		if r.Dx() > MaxImageSide || r.Dy() > MaxImageSide || r.Dx()*r.Dy() > MaxImagePixels {
			t.Fatalf("decoded a %d×%d image beyond the limits", r.Dx(), r.Dy())
		}
		if s := min(r.Dx(), r.Dy()); s > 0 && s <= 512 {
			for _, c := range []int{1, 3} {
				areaResize(samples(m, r.Min.X, r.Min.Y, s, c)[:s*s], s, 7, 7)
			}
		}
	})
}
