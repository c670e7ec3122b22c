package main

import (
	"bytes"
	"fmt"
	"image"
	"image/png"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/vaegan-go/vaegan/backend/cpu"
	"github.com/vaegan-go/vaegan/checkpoint"
	"github.com/vaegan-go/vaegan/data"
	"github.com/vaegan-go/vaegan/model"
	"github.com/vaegan-go/vaegan/report"
)

// cellsOf decodes a PNG grid of 28×28 cells and returns cell (row, col).
func cellsOf(t *testing.T, path string, cols int) func(row, col int) []uint8 {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	img, err := png.Decode(f)
	if err != nil {
		t.Fatal(err)
	}
	g, ok := img.(*image.Gray)
	if !ok {
		t.Fatalf("%s is not a gray image", path)
	}
	if w := cols*(28+report.GridGap) + report.GridGap; g.Rect.Dx() != w {
		t.Fatalf("%s is %d pixels wide, want %d columns (%d)", path, g.Rect.Dx(), cols, w)
	}
	return func(row, col int) []uint8 {
		x0, y0 := report.GridGap+col*(28+report.GridGap), report.GridGap+row*(28+report.GridGap)
		var out []uint8
		for y := range 28 {
			out = append(out, g.Pix[(y0+y)*g.Stride+x0:][:28]...)
		}
		return out
	}
}

// nearly says whether two cells differ by at most one level anywhere.
func nearly(a, b []uint8) bool {
	for i := range a {
		if d := int(a[i]) - int(b[i]); d > 1 || d < -1 {
			return false
		}
	}
	return true
}

// analogy: each row is the input, its reconstruction, then the ten digits;
// moving a code to its own class's mean changes nothing, so the input's own
// digit column is its reconstruction. attributes: the vectors are each
// class's mean minus the others' (checked from the file's means and
// counts), and the grid is as wide as the classes.
func TestAnalogyAndAttributes(t *testing.T) {
	out := t.TempDir()
	if err := run([]string{"-batch", "8", "-steps", "2", "-eval-every", "-1", "-out", out}); err != nil {
		t.Fatal(err)
	}
	ckpt := filepath.Join(out, ckptFile)
	grid := filepath.Join(out, "analogy.png")
	if err := run([]string{"analogy", "-ckpt", ckpt, "-fit", "300", "-n", "3", "-out", grid}); err != nil {
		t.Fatal(err)
	}
	cell := cellsOf(t, grid, 12)
	labels, err := data.MNISTLabels()
	if err != nil {
		t.Fatal(err)
	}
	for i := range 3 {
		own := 2 + int(labels[300+i])
		if !nearly(cell(i, own), cell(i, 1)) {
			t.Errorf("row %d: the column of its own digit %d is not its reconstruction", i, labels[300+i])
		}
	}

	vecs := filepath.Join(out, "attr.safetensors")
	agrid := filepath.Join(out, "attr.png")
	if err := run([]string{"attributes", "-ckpt", ckpt, "-fit", "300", "-n", "2", "-out", vecs, "-grid", agrid, "-scale", "0"}); err != nil {
		t.Fatal(err)
	}
	f, err := checkpoint.Read(vecs)
	if err != nil {
		t.Fatal(err)
	}
	counts := strings.Split(f.Meta["counts"], ",")
	if len(counts) != 10 || f.Meta["names"] != "0,1,2,3,4,5,6,7,8,9" {
		t.Fatalf("metadata %v, want ten classes with their counts", f.Meta)
	}
	means := make([][]float32, 10)
	n := make([]float64, 10)
	for k := range 10 {
		means[k], _ = f.Float32("mean."+strconv.Itoa(k), 32)
		c, _ := strconv.Atoi(counts[k])
		n[k] = float64(c)
	}
	for k := range 10 {
		v, err := f.Float32("attr."+strconv.Itoa(k), 32)
		if err != nil {
			t.Fatal(err)
		}
		for j := range 32 {
			var rest, m float64
			for o := range 10 {
				if o != k {
					rest += float64(means[o][j]) * n[o]
					m += n[o]
				}
			}
			if want := float64(means[k][j]) - rest/m; math.Abs(float64(v[j])-want) > 1e-4 {
				t.Fatalf("attr.%d[%d] = %v, want mean.%d − the others' mean = %v", k, j, v[j], k, want)
			}
		}
	}
	acell := cellsOf(t, agrid, 12)
	for col := 2; col < 12; col++ { // -scale 0: every column is the reconstruction
		if !nearly(acell(1, col), acell(1, 1)) {
			t.Errorf("attributes grid with -scale 0: column %d differs from the reconstruction", col)
		}
	}
}

// attributes -attr-file: a CelebA-style table matched to a folder's files;
// the chosen attributes' vectors are written under their names with the
// number of fitted images that have each, and an unknown name is refused.
func TestAttributesFromTable(t *testing.T) {
	imgs, out := writeFolder(t, 12), t.TempDir()
	if err := run([]string{"-batch", "8", "-steps", "1", "-eval-every", "-1", "-out", out}); err != nil {
		t.Fatal(err)
	}
	table := "12\nOdd Big\n"
	for i := range 12 {
		table += fmt.Sprintf("img%02d.png %d %d\n", i, 2*(i%2)-1, 2*(i/6)-1)
	}
	tpath := filepath.Join(out, "list_attr.txt")
	os.WriteFile(tpath, []byte(table), 0o644)
	ckpt, vecs, grid := filepath.Join(out, ckptFile), filepath.Join(out, "v.safetensors"), filepath.Join(out, "g.png")
	args := []string{"attributes", "-ckpt", ckpt, "-data", imgs, "-attr-file", tpath, "-fit", "8", "-n", "2", "-out", vecs, "-grid", grid}
	if err := run(append(args, "-attr", "Odd")); err != nil {
		t.Fatal(err)
	}
	f, err := checkpoint.Read(vecs)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.Float32("attr.Odd", 32); err != nil || f.Meta["names"] != "Odd" || f.Meta["counts"] != "4" {
		t.Errorf("vectors file: %v, metadata %v; want attr.Odd of 4 fitted images", err, f.Meta)
	}
	cellsOf(t, grid, 3) // input, reconstruction, +Odd
	if err := run(append(args, "-attr", "Tall")); err == nil || !strings.Contains(err.Error(), "-attr Tall") || !strings.Contains(err.Error(), "Odd, Big") {
		t.Errorf("an attribute the table lacks: %v", err)
	}
}

// checkAnalogies counts a cell as right when the classifier gives it its
// column's class: test images laid out by their labels score (almost) all,
// the same images one column off score (almost) none.
func TestCheckAnalogies(t *testing.T) {
	ds, err := data.MNISTTest()
	if err != nil {
		t.Fatal(err)
	}
	labels, err := data.MNISTTestLabels()
	if err != nil {
		t.Fatal(err)
	}
	byDigit := map[int][]int{}
	for i, y := range labels[:500] {
		byDigit[int(y)] = append(byDigit[int(y)], i)
	}
	layout := func(shift int) []float32 {
		var dec []float32
		img := make([]float32, 28*28)
		for row := range 3 {
			dec = append(dec, make([]float32, 28*28)...) // the reconstruction column
			for to := range 10 {
				ds.Image(byDigit[(to+shift)%10][row], img)
				dec = append(dec, img...)
			}
		}
		return dec
	}
	c := &classes{tr: &model.Trainer{B: cpu.New(1)}}
	for _, tc := range []struct {
		shift    int
		min, max int
	}{{0, 29, 30}, {1, 0, 1}} {
		var msg bytes.Buffer
		if err := c.checkAnalogies("", layout(tc.shift), 3, 10, &msg); err != nil {
			t.Fatal(err)
		}
		var hits int
		fmt.Sscanf(msg.String(), "analogy: the mnist classifier gives %d of", &hits)
		if hits < tc.min || hits > tc.max {
			t.Errorf("images %d columns off: %q, want %d to %d hits of 30", tc.shift, msg.String(), tc.min, tc.max)
		}
	}
}
