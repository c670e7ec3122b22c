package latent

import (
	"math/rand/v2"
	"testing"

	"github.com/vaegan-go/vaegan/backend/cpu"
	"github.com/vaegan-go/vaegan/model"
)

// barImages is a labelled synthetic dataset of 28×28 images: a vertical
// stroke 3 pixels wide at a column that varies with the image, and, on the
// images that have the attribute, a horizontal bar over rows 2–5: a known
// direction in pixel space.
type barImages struct {
	col []int
	bar []bool
}

func newBarImages(n int, seed uint64) barImages {
	rng := rand.New(rand.NewPCG(seed, 1))
	d := barImages{col: make([]int, n), bar: make([]bool, n)}
	for i := range n {
		d.col[i], d.bar[i] = 4+rng.IntN(18), rng.IntN(2) == 0
	}
	return d
}

func (d barImages) Len() int             { return len(d.col) }
func (d barImages) Shape() (c, h, w int) { return 1, 28, 28 }
func (d barImages) Name() string         { return "bars" }
func (d barImages) Image(i int, dst []float32) error {
	for y := range 28 {
		for x := range 28 {
			v := float32(-1)
			if (x >= d.col[i] && x < d.col[i]+3 && y >= 8) || (d.bar[i] && y >= 2 && y < 6) {
				v = 1
			}
			dst[y*28+x] = v
		}
	}
	return nil
}

// inBar and outside are the mean pixel of images (n×784) over the bar's rows
// and over the rows below them.
func inBar(x []float32) float64   { return meanRows(x, 2, 6) }
func outside(x []float32) float64 { return meanRows(x, 8, 28) }

func meanRows(x []float32, lo, hi int) float64 {
	sum, n := 0.0, 0
	for i := 0; i < len(x); i += 784 {
		for _, v := range x[i+lo*28 : i+hi*28] {
			sum += float64(v)
			n++
		}
	}
	return sum / float64(n)
}

// TestAttributeVectorAddsTheBar trains a VAE briefly on the bar images,
// takes the attribute vector of "has the bar" (BinaryVectors over the
// encoder's means) and adds it to the codes of images without the bar:
// their decodings must gain the bar (the bar's rows brighten by most of the
// pixel range) while the rest of the image barely changes; subtracting it
// from images with the bar must remove it.
func TestAttributeVectorAddsTheBar(t *testing.T) {
	if testing.Short() {
		t.Skip("trains a VAE for 300 steps")
	}
	const batch, steps, n = 32, 300, 512
	ds := newBarImages(4096, 1)
	tr, err := model.NewTrainer(cpu.New(2), model.Config{Arch: "mnist", Model: model.VAE, Batch: batch,
		Optim: model.OptimConfig{Kind: "adam", LR: 1e-3}, NoEquilibrium: true, Seed: 3})
	if err != nil {
		t.Fatal(err)
	}
	x := make([]float32, batch*784)
	for s := range steps {
		for k := range batch {
			ds.Image((s*batch+k)%ds.Len(), x[k*784:(k+1)*784])
		}
		if _, err := tr.Step(x); err != nil {
			t.Fatal(err)
		}
	}
	codes, err := Codes(tr, ds, n)
	if err != nil {
		t.Fatal(err)
	}
	vecs, counts := BinaryVectors(codes, [][]bool{ds.bar[:n]}, tr.Arch.Latent)
	if counts[0] == 0 || counts[0] == n {
		t.Fatalf("%d of %d images have the bar", counts[0], n)
	}
	for _, c := range []struct {
		name      string
		has       bool
		sign      float64
		wantDelta float64 // the least change of the bar rows' mean, in that direction
	}{{"adding it to images without the bar", false, 1, 1}, {"subtracting it from images with the bar", true, -1, 1}} {
		var z []float32
		L := tr.Arch.Latent
		for i := range n {
			if ds.bar[i] == c.has && len(z) < 64*L {
				z = append(z, codes[i*L:(i+1)*L]...)
			}
		}
		moved := make([]float32, len(z))
		for i := range z {
			moved[i] = z[i] + float32(c.sign*vecs[0][i%L])
		}
		before, err := tr.Decode(z)
		if err != nil {
			t.Fatal(err)
		}
		after, err := tr.Decode(moved)
		if err != nil {
			t.Fatal(err)
		}
		dBar, dRest := c.sign*(inBar(after)-inBar(before)), outside(after)-outside(before)
		t.Logf("%s: the bar rows' mean moves by %+.3f (from %.3f), the rows below by %+.3f", c.name, c.sign*dBar, inBar(before), dRest)
		if dBar < c.wantDelta || abs(dRest) > 0.1 {
			t.Errorf("%s: the bar rows' mean moved by %+.3f and the rows below by %+.3f; want the bar rows at least %+.1f and the rest within 0.1",
				c.name, c.sign*dBar, dRest, c.sign*c.wantDelta)
		}
	}
}

func abs(v float64) float64 {
	if v < 0 {
		return -v
	}
	return v
}
