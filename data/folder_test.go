package data

import (
	"image"
	"image/color"
	"image/jpeg"
	"image/png"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// saveImage writes img to path as PNG or JPEG (by extension), making folders.
func saveImage(t *testing.T, path string, img image.Image) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	switch strings.ToLower(filepath.Ext(path)) {
	case ".png":
		err = png.Encode(f, img)
	default:
		err = jpeg.Encode(f, img, &jpeg.Options{Quality: 100})
	}
	if err != nil {
		t.Fatal(err)
	}
}

// solid returns a w×h image of one colour.
func solid(w, h int, c color.NRGBA) *image.NRGBA {
	img := image.NewNRGBA(image.Rect(0, 0, w, h))
	for y := range h {
		for x := range w {
			img.SetNRGBA(x, y, c)
		}
	}
	return img
}

// scaled is an 8-bit value in [-1, 1] terms.
func scaled(x float64) float64 { return x/127.5 - 1 }

// loadOne opens a folder and decodes its only image.
func loadOne(t *testing.T, dir string, c, h, w int) []float32 {
	t.Helper()
	ds, err := OpenFolder(dir, c, h, w)
	if err != nil {
		t.Fatal(err)
	}
	if ds.Len() != 1 {
		t.Fatalf("%d images, want 1", ds.Len())
	}
	dst := make([]float32, c*h*w)
	if err := ds.Image(0, dst); err != nil {
		t.Fatal(err)
	}
	return dst
}

func checkClose(t *testing.T, got []float32, want []float64, tol float64) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%d values, want %d", len(got), len(want))
	}
	for i := range got {
		if math.Abs(float64(got[i])-want[i]) > tol {
			t.Fatalf("value %d = %v, want %v (±%g); all: %v", i, got[i], want[i], tol, got)
		}
	}
}

// A wide image is cropped to its central square, then each output pixel is
// the mean of the 2×2 block it covers.
func TestFolderCenterCropWide(t *testing.T) {
	img := image.NewGray(image.Rect(0, 0, 8, 4))
	for y := range 4 {
		for x := range 8 {
			v := 255 // outside the crop: must not show
			if x >= 2 && x < 6 {
				v = 10*((x-2)/2+2*(y/2)) + 4*(x%2) + 2*y
			}
			img.SetGray(x, y, color.Gray{Y: uint8(v)})
		}
	}
	dir := t.TempDir()
	saveImage(t, filepath.Join(dir, "wide.png"), img)
	got := loadOne(t, dir, 1, 2, 2)
	var want []float64
	for by := range 2 {
		for bx := range 2 {
			var sum float64
			for y := 2 * by; y < 2*by+2; y++ {
				for x := 2 + 2*bx; x < 4+2*bx; x++ {
					sum += float64(img.GrayAt(x, y).Y)
				}
			}
			want = append(want, scaled(sum/4))
		}
	}
	checkClose(t, got, want, 1e-6)
}

// A tall 3×5 image is cropped to rows 1..3 and area-averaged to 2×2: output
// (0, 0) covers source [0, 1.5)², so pixel weights are 1, 0.5 and 0.25.
func TestFolderCenterCropTallFractional(t *testing.T) {
	img := image.NewGray(image.Rect(0, 0, 3, 5))
	p := func(x, y int) float64 { return float64(20*x + 60*y + 3) }
	for y := range 5 {
		for x := range 3 {
			img.SetGray(x, y, color.Gray{Y: uint8(p(x, y))})
		}
	}
	dir := t.TempDir()
	saveImage(t, filepath.Join(dir, "tall.png"), img)
	got := loadOne(t, dir, 1, 2, 2)
	wt := [2][3]float64{{1, 0.5, 0}, {0, 0.5, 1}}
	var want []float64
	for oy := range 2 {
		for ox := range 2 {
			var sum float64
			for y := range 3 {
				for x := range 3 {
					sum += wt[oy][y] * wt[ox][x] * p(x, y+1)
				}
			}
			want = append(want, scaled(sum/2.25))
		}
	}
	checkClose(t, got, want, 1e-6)
}

func TestFolderGrayAndRGB(t *testing.T) {
	col := color.NRGBA{R: 200, G: 100, B: 50, A: 255}
	lum := 0.299*200 + 0.587*100 + 0.114*50
	for _, tc := range []struct {
		name string
		tol  float64
	}{
		{"solid.png", 1e-6},
		{"solid.JPEG", 4.0 / 127.5}, // lossy, even at quality 100
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			saveImage(t, filepath.Join(dir, tc.name), solid(10, 6, col))
			rgb := loadOne(t, dir, 3, 4, 4)
			var want []float64
			for _, v := range []float64{200, 100, 50} {
				for range 16 {
					want = append(want, scaled(v))
				}
			}
			checkClose(t, rgb, want, tc.tol)
			gray := loadOne(t, dir, 1, 4, 4)
			for i := range want[:16] {
				want[i] = scaled(lum)
			}
			checkClose(t, gray, want[:16], tc.tol)
		})
	}
}

// A 16-bit PNG goes through the generic colour path at full precision.
func TestFolderGray16(t *testing.T) {
	img := image.NewGray16(image.Rect(0, 0, 3, 3))
	for i := range 9 {
		img.SetGray16(i%3, i/3, color.Gray16{Y: 0x8000})
	}
	dir := t.TempDir()
	saveImage(t, filepath.Join(dir, "deep.png"), img)
	got := loadOne(t, dir, 1, 1, 1)
	checkClose(t, got, []float64{2*float64(0x8000)/0xffff - 1}, 1e-6)
}

// A 1-pixel checkerboard the size of a CelebA image averages to mid-gray when
// shrunk to 64×64; point sampling would give ±1.
func TestFolderDownscaleDoesNotAlias(t *testing.T) {
	img := image.NewGray(image.Rect(0, 0, 178, 218))
	for y := range 218 {
		for x := range 178 {
			img.SetGray(x, y, color.Gray{Y: uint8(255 * ((x + y) % 2))})
		}
	}
	dir := t.TempDir()
	saveImage(t, filepath.Join(dir, "checker.png"), img)
	got := loadOne(t, dir, 1, 64, 64)
	var worst float64
	for _, v := range got {
		worst = max(worst, math.Abs(float64(v)))
	}
	// Along one axis a window of 178/64 pixels sums (-1)^x to at most 1 in
	// magnitude, so the 2-D mean is within (64/178)² of mid-gray.
	if bound := math.Pow(64.0/178, 2); worst > bound {
		t.Fatalf("largest |value| %v, want at most %v", worst, bound)
	}
}

func TestFolderOrderAndFilter(t *testing.T) {
	dir := t.TempDir()
	saveImage(t, filepath.Join(dir, "c.jpeg"), solid(5, 5, color.NRGBA{A: 255}))
	saveImage(t, filepath.Join(dir, "b", "z.png"), solid(7, 3, color.NRGBA{R: 255, G: 255, B: 255, A: 255}))
	saveImage(t, filepath.Join(dir, "a.JPG"), solid(4, 9, color.NRGBA{R: 128, G: 128, B: 128, A: 255}))
	if err := os.WriteFile(filepath.Join(dir, "notes.txt"), []byte("not an image"), 0o644); err != nil {
		t.Fatal(err)
	}
	ds, err := Open(dir, 1, 2, 2)
	if err != nil {
		t.Fatal(err)
	}
	f := ds.(*folder)
	want := []string{"a.JPG", filepath.Join("b", "z.png"), "c.jpeg"}
	if len(f.files) != len(want) {
		t.Fatalf("files %v, want %v", f.files, want)
	}
	for i, name := range want {
		if f.files[i] != filepath.Join(dir, name) {
			t.Fatalf("file %d is %s, want %s", i, f.files[i], name)
		}
	}
	all, err := FirstN(ds, 3)
	if err != nil {
		t.Fatal(err)
	}
	var means []float64
	for i := range 3 {
		var s float64
		for _, v := range all[4*i : 4*i+4] {
			s += float64(v)
		}
		means = append(means, s/4)
	}
	checkClose(t, []float32{float32(means[0]), float32(means[1]), float32(means[2])},
		[]float64{scaled(128), 1, -1}, 4.0/127.5)
	if _, err := FirstN(ds, 4); err == nil || !strings.Contains(err.Error(), "holds 3") {
		t.Errorf("FirstN(4) of 3: error %v", err)
	}
}

func TestFolderErrors(t *testing.T) {
	empty := t.TempDir()
	if err := os.WriteFile(filepath.Join(empty, "readme.md"), []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := OpenFolder(empty, 3, 64, 64); err == nil || !strings.Contains(err.Error(), empty+" holds no .png, .jpg or .jpeg images") {
		t.Errorf("empty folder: error %v", err)
	}
	if _, err := OpenFolder(empty, 2, 64, 64); err == nil || !strings.Contains(err.Error(), "want 1 (gray) or 3 (RGB)") {
		t.Errorf("2 channels: error %v", err)
	}
	dir := t.TempDir()
	bad := filepath.Join(dir, "broken.png")
	if err := os.WriteFile(bad, []byte("\x89PNG\r\n\x1a\nnot really"), 0o644); err != nil {
		t.Fatal(err)
	}
	ds, err := OpenFolder(dir, 1, 8, 8)
	if err != nil {
		t.Fatal(err)
	}
	err = ds.Image(0, make([]float32, 64))
	if err == nil || !strings.HasPrefix(err.Error(), "data: "+bad+": decode: ") {
		t.Errorf("broken PNG: error %v, want one naming %s", err, bad)
	}
}

// BenchmarkFolderCelebA decodes a CelebA-sized JPEG (178×218) into 3×64×64.
func BenchmarkFolderCelebA(b *testing.B) {
	img := image.NewYCbCr(image.Rect(0, 0, 178, 218), image.YCbCrSubsampleRatio420)
	for i := range img.Y {
		img.Y[i] = uint8(i * 13)
	}
	dir := b.TempDir()
	f, err := os.Create(filepath.Join(dir, "face.jpg"))
	if err != nil {
		b.Fatal(err)
	}
	if err := jpeg.Encode(f, img, &jpeg.Options{Quality: 95}); err != nil {
		b.Fatal(err)
	}
	f.Close()
	ds, err := OpenFolder(dir, 3, 64, 64)
	if err != nil {
		b.Fatal(err)
	}
	dst := make([]float32, 3*64*64)
	for b.Loop() {
		if err := ds.Image(0, dst); err != nil {
			b.Fatal(err)
		}
	}
}
