package report

import (
	"image"
	"image/png"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestGridGray(t *testing.T) {
	// Three 2×2 gray images in 2 columns: a 2×2 grid with the last cell empty.
	nan := float32(math.NaN())
	images := []float32{
		-1, 1, 0, 0.5, // image 0
		-2, 3, nan, -0.5, // image 1: clamped below and above, NaN
		0.25, -0.25, 1, -1, // image 2
	}
	img, err := Grid(images, 3, 1, 2, 2, 2)
	if err != nil {
		t.Fatal(err)
	}
	g, ok := img.(*image.Gray)
	if !ok {
		t.Fatalf("Grid returned %T, want *image.Gray", img)
	}
	// Width: 2 cells of 2 pixels with 3 gaps of 2 = 10; height the same.
	if got := g.Bounds(); got != image.Rect(0, 0, 10, 10) {
		t.Fatalf("bounds %v, want (0,0)-(10,10)", got)
	}
	// round((v+1)*127.5): -1→0, 1→255, 0→128 (127.5 rounds half away from zero),
	// 0.5→191 (191.25), -0.5→64 (63.75), 0.25→159 (159.375), -0.25→96 (95.625).
	want := map[[2]int]uint8{
		{2, 2}: 0, {3, 2}: 255, {2, 3}: 128, {3, 3}: 191, // image 0 at x 2..3, y 2..3
		{6, 2}: 0, {7, 2}: 255, {6, 3}: 0, {7, 3}: 64, // image 1 at x 6..7, y 2..3
		{2, 6}: 159, {3, 6}: 96, {2, 7}: 255, {3, 7}: 0, // image 2 at x 2..3, y 6..7
	}
	for y := range 10 {
		for x := range 10 {
			w, ok := want[[2]int{x, y}]
			if !ok {
				w = 0 // gap, border and the empty fourth cell are black
			}
			if got := g.GrayAt(x, y).Y; got != w {
				t.Errorf("pixel (%d,%d) = %d, want %d", x, y, got, w)
			}
		}
	}
}

func TestGridRGB(t *testing.T) {
	// Two 1×2 RGB images (h=1, w=2) in one row; planes are R, G, B.
	images := []float32{
		1, -1, // image 0 R
		-1, 1, // image 0 G
		0, 5, // image 0 B (5 clamps to 1)
		-1, 0.5, // image 1 R
		1, -0.5, // image 1 G
		-7, 0.25, // image 1 B (-7 clamps to -1)
	}
	img, err := Grid(images, 2, 3, 1, 2, 4) // cols > n: grid is 2 cells wide
	if err != nil {
		t.Fatal(err)
	}
	rgba, ok := img.(*image.RGBA)
	if !ok {
		t.Fatalf("Grid returned %T, want *image.RGBA", img)
	}
	if got := rgba.Bounds(); got != image.Rect(0, 0, 10, 5) {
		t.Fatalf("bounds %v, want (0,0)-(10,5)", got)
	}
	want := map[[2]int][4]uint8{
		{2, 2}: {255, 0, 128, 255},
		{3, 2}: {0, 255, 255, 255},
		{6, 2}: {0, 255, 0, 255},
		{7, 2}: {191, 64, 159, 255},
	}
	for y := range 5 {
		for x := range 10 {
			w, ok := want[[2]int{x, y}]
			if !ok {
				w = [4]uint8{0, 0, 0, 255}
			}
			c := rgba.RGBAAt(x, y)
			if got := [4]uint8{c.R, c.G, c.B, c.A}; got != w {
				t.Errorf("pixel (%d,%d) = %v, want %v", x, y, got, w)
			}
		}
	}
}

func TestWriteGridPNG(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "samples.png")
	images := make([]float32, 5*3*4*3)
	for i := range images {
		images[i] = float32(i%7)/3 - 1
	}
	if err := WriteGrid(path, images, 5, 3, 4, 3, 2); err != nil {
		t.Fatal(err)
	}
	want, err := Grid(images, 5, 3, 4, 3, 2)
	if err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	got, err := png.Decode(f)
	if err != nil {
		t.Fatal(err)
	}
	// 2 columns, 3 rows of 3×4 cells: 2*(3+2)+2 = 12 wide, 3*(4+2)+2 = 20 high.
	if got.Bounds() != image.Rect(0, 0, 12, 20) {
		t.Fatalf("decoded bounds %v, want (0,0)-(12,20)", got.Bounds())
	}
	for y := range 20 {
		for x := range 12 {
			r1, g1, b1, a1 := got.At(x, y).RGBA()
			r2, g2, b2, a2 := want.At(x, y).RGBA()
			if r1 != r2 || g1 != g2 || b1 != b2 || a1 != a2 {
				t.Fatalf("decoded pixel (%d,%d) differs from Grid", x, y)
			}
		}
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		t.Errorf("directory holds %d entries after WriteGrid, want only the PNG (temp file left?)", len(entries))
	}
}

func TestGridErrors(t *testing.T) {
	cases := []struct {
		name             string
		n, c, h, w, cols int
		values           int
		want             string
	}{
		{"channels", 1, 2, 2, 2, 1, 8, "2 channels"},
		{"length", 2, 1, 2, 2, 1, 7, "got 7 values"},
		{"zero cols", 1, 1, 2, 2, 0, 4, "0 columns"},
	}
	for _, tc := range cases {
		_, err := Grid(make([]float32, tc.values), tc.n, tc.c, tc.h, tc.w, tc.cols)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: error %v, want one containing %q", tc.name, err, tc.want)
		}
	}
	err := WriteGrid(filepath.Join(t.TempDir(), "x.png"), nil, 1, 1, 1, 1, 1)
	if err == nil || !strings.Contains(err.Error(), "x.png") {
		t.Errorf("WriteGrid error %v, want one naming x.png", err)
	}
}
