package main

import (
	"fmt"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/vaegan-go/vaegan/checkpoint"
	"github.com/vaegan-go/vaegan/data"
	"github.com/vaegan-go/vaegan/latent"
	"github.com/vaegan-go/vaegan/model"
	"github.com/vaegan-go/vaegan/report"
)

// labelled is what analogy and attributes share: a checkpoint, a labelled
// dataset, how many of its images to fit the class means on, and how many
// of the images after those to show.
type labelled struct {
	*ckptCommand
	data, labels string
	fit, n       int
}

func newLabelled(name, summary string) *labelled {
	l := &labelled{ckptCommand: newCkptCommand(name, summary)}
	l.fs.StringVar(&l.data, "data", "", "labelled dataset: an IDX image file (default: the embedded MNIST)")
	l.fs.StringVar(&l.labels, "labels", "", "its IDX label file (default: the images' file name with images-idx3 → labels-idx1)")
	l.fs.IntVar(&l.fit, "fit", 10000, "images (the first ones) whose codes give each class's mean")
	l.fs.IntVar(&l.n, "n", 8, "images shown, one per row: the ones after those fitted")
	return l
}

// classes is the fitted model, the dataset with its labels, and each class's
// mean code and count.
type classes struct {
	tr     *model.Trainer
	ds     data.Dataset
	labels []uint8
	means  [][]float64
	counts []int
}

// load checks the flags, reads the checkpoint and the labelled dataset, and
// fits the class means.
func (l *labelled) load() (*classes, error) {
	if l.fit < 1 || l.n < 1 {
		return nil, fmt.Errorf("-fit %d -n %d: want positive numbers", l.fit, l.n)
	}
	tr, err := l.trainer()
	if err != nil {
		return nil, err
	}
	if !tr.HasEncoder() {
		return nil, fmt.Errorf("-ckpt %s: model %s has no encoder, so no codes to do arithmetic on", l.ckpt, tr.Cfg.Model)
	}
	a := tr.Arch
	c := &classes{tr: tr}
	if c.ds, err = data.Open(l.data, a.C, a.H, a.W); err != nil {
		return nil, fmt.Errorf("-data: %w", err)
	}
	switch {
	case l.labels != "":
		c.labels, err = data.ReadLabels(l.labels)
	case l.data == "":
		c.labels, err = data.MNISTLabels()
	default:
		guess := strings.Replace(l.data, "images-idx3", "labels-idx1", 1)
		if guess == l.data {
			return nil, fmt.Errorf("-labels: needed for -data %s (no images-idx3 in its name to find it by)", l.data)
		}
		c.labels, err = data.ReadLabels(guess)
	}
	if err != nil {
		return nil, fmt.Errorf("-labels: %w", err)
	}
	if len(c.labels) != c.ds.Len() {
		return nil, fmt.Errorf("-labels: %d labels for the %d images of %s", len(c.labels), c.ds.Len(), c.ds.Name())
	}
	if l.fit+l.n > c.ds.Len() {
		return nil, fmt.Errorf("-fit %d -n %d: %s holds %d images", l.fit, l.n, c.ds.Name(), c.ds.Len())
	}
	k := 0
	for _, y := range c.labels {
		k = max(k, int(y)+1)
	}
	c.means, c.counts, err = latent.ClassMeans(tr, c.ds, c.labels, l.fit, k, a.Latent)
	return c, err
}

// shown returns the n images after the fitted ones, their labels and codes.
func (c *classes) shown(fit, n int) (x []float32, y []uint8, z []float32, err error) {
	size := c.tr.Arch.ImageLen()
	x = make([]float32, n*size)
	for i := range n {
		if err := c.ds.Image(fit+i, x[i*size:(i+1)*size]); err != nil {
			return nil, nil, nil, err
		}
	}
	z, err = c.tr.EncodeMean(x)
	return x, c.labels[fit : fit+n], z, err
}

func analogy(args []string) error {
	l := newLabelled("analogy", "Turns each shown image into every class while keeping its style: z − mean(z of its class) +\n"+
		"mean(z of the target class), decoded. One row per image: the input, its reconstruction, then one\n"+
		"column per class (on MNIST, the digits 0 to 9).")
	out := l.fs.String("out", "analogy.png", "output PNG")
	if err := parse(l.fs, args); err != nil {
		return err
	}
	c, err := l.load()
	if err != nil {
		return err
	}
	x, y, z, err := c.shown(l.fit, l.n)
	if err != nil {
		return err
	}
	a := c.tr.Arch
	codes := make([]float32, 0, l.n*(len(c.means)+1)*a.Latent)
	for i := range l.n {
		zi := z[i*a.Latent : (i+1)*a.Latent]
		codes = append(codes, zi...)
		for to := range c.means {
			codes = append(codes, latent.Analogy(zi, c.means, int(y[i]), to)...)
		}
	}
	return writeRows(c.tr, *out, x, codes, l.n, len(c.means)+1)
}

func attributes(args []string) error {
	l := newLabelled("attributes", "Computes each class's attribute vector: the mean code (z = mu) of the fitted images of that\n"+
		"class minus that of the others (Larsen et al.). -out writes them as safetensors (attr.<class>, and\n"+
		"mean.<class>, [latent] float32; metadata: classes, counts). -grid writes one row per shown image:\n"+
		"the input, its reconstruction, then the reconstruction with each class's vector times -scale added.")
	out := l.fs.String("out", "attributes.safetensors", "output safetensors file of the vectors")
	grid := l.fs.String("grid", "", "also write this PNG grid")
	scale := l.fs.Float64("scale", 1.5, "multiple of each vector the grid adds")
	if err := parse(l.fs, args); err != nil {
		return err
	}
	if filepath.Ext(*out) != ".safetensors" {
		return fmt.Errorf("-out %s: want a .safetensors file", *out)
	}
	c, err := l.load()
	if err != nil {
		return err
	}
	vecs := latent.AttributeVectors(c.means, c.counts)
	a := c.tr.Arch
	var ts []checkpoint.Tensor
	var names, counts []string
	for k, v := range vecs {
		name := strconv.Itoa(k)
		ts = append(ts, checkpoint.F32("attr."+name, []int{a.Latent}, toFloat32(v, 1)), checkpoint.F32("mean."+name, []int{a.Latent}, toFloat32(c.means[k], 1)))
		names, counts = append(names, name), append(counts, strconv.Itoa(c.counts[k]))
	}
	meta := map[string]string{"classes": strings.Join(names, ","), "counts": strings.Join(counts, ","), "arch": a.Name, "model": c.tr.Cfg.Model}
	if err := checkpoint.Write(*out, ts, meta); err != nil {
		return err
	}
	if *grid == "" {
		return nil
	}
	x, _, z, err := c.shown(l.fit, l.n)
	if err != nil {
		return err
	}
	codes := make([]float32, 0, l.n*(len(vecs)+1)*a.Latent)
	for i := range l.n {
		zi := z[i*a.Latent : (i+1)*a.Latent]
		codes = append(codes, zi...)
		for _, v := range vecs {
			for j, d := range toFloat32(v, *scale) {
				codes = append(codes, zi[j]+d)
			}
		}
	}
	return writeRows(c.tr, *grid, x, codes, l.n, len(vecs)+1)
}

// writeRows decodes codes (rows × cols latent vectors) and writes a grid
// whose rows are each input image followed by the decodings of its codes.
func writeRows(tr *model.Trainer, path string, x, codes []float32, rows, cols int) error {
	dec, err := tr.Decode(codes)
	if err != nil {
		return err
	}
	size := tr.Arch.ImageLen()
	img := make([]float32, 0, rows*(cols+1)*size)
	for i := range rows {
		img = append(img, x[i*size:(i+1)*size]...)
		img = append(img, dec[i*cols*size:(i+1)*cols*size]...)
	}
	a := tr.Arch
	return report.WriteGrid(path, img, rows*(cols+1), a.C, a.H, a.W, cols+1)
}

// toFloat32 returns s·v in float32.
func toFloat32(v []float64, s float64) []float32 {
	out := make([]float32, len(v))
	for i, x := range v {
		out[i] = float32(s * x)
	}
	return out
}
