package main

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/vaegan-go/vaegan/checkpoint"
	"github.com/vaegan-go/vaegan/data"
	"github.com/vaegan-go/vaegan/evaluation"
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
	codes  []float32 // of the fitted images
}

// open checks the flags and reads the checkpoint and the dataset.
func (l *labelled) open() (*classes, error) {
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
	if l.fit+l.n > c.ds.Len() {
		return nil, fmt.Errorf("-fit %d -n %d: %s holds %d images", l.fit, l.n, c.ds.Name(), c.ds.Len())
	}
	return c, nil
}

// load is open, then the labels and the class means of the fitted images.
func (l *labelled) load() (*classes, error) {
	c, err := l.open()
	if err != nil {
		return nil, err
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
	k := 0
	for _, y := range c.labels {
		k = max(k, int(y)+1)
	}
	codes, err := latent.Codes(c.tr, c.ds, l.fit)
	if err != nil {
		return nil, err
	}
	c.codes = codes
	c.means, c.counts, err = latent.ClassMeans(codes, c.labels, k, c.tr.Arch.Latent)
	return c, err
}

// shown returns the n images after the fitted ones and their codes.
func (c *classes) shown(fit, n int) (x, z []float32, err error) {
	size := c.tr.Arch.ImageLen()
	x = make([]float32, n*size)
	for i := range n {
		if err := c.ds.Image(fit+i, x[i*size:(i+1)*size]); err != nil {
			return nil, nil, err
		}
	}
	z, err = c.tr.EncodeMean(x)
	return x, z, err
}

func analogy(args []string) error {
	l := newLabelled("analogy", "Turns each shown image into every class while keeping its style: z − mean(z of its class) +\n"+
		"mean(z of the target class), decoded. One row per image: the input, its reconstruction, then one\n"+
		"column per class (on MNIST, the digits 0 to 9).")
	out := l.fs.String("out", "analogy.png", "output PNG")
	how := l.fs.String("map", "gaussian", "how a code moves between classes: gaussian (keeps its offset from its class's mean in units of the\n"+
		"class's spread: each class a fitted Gaussian) or mean (keeps the raw offset: z − mean(from) + mean(to), Larsen et al.)")
	if err := parse(l.fs, args); err != nil {
		return err
	}
	if *how != "gaussian" && *how != "mean" {
		return fmt.Errorf("-map %q: want gaussian or mean", *how)
	}
	c, err := l.load()
	if err != nil {
		return err
	}
	move := func(z []float32, from, to int) []float32 { return latent.Analogy(z, c.means, from, to) }
	if *how == "gaussian" {
		t, err := latent.NewClassTransport(c.codes, c.labels[:l.fit], len(c.means), c.tr.Arch.Latent)
		if err != nil {
			return fmt.Errorf("-map gaussian: %w (fewer classes' codes than -fit gives? try -map mean)", err)
		}
		move = t.Map
	}
	x, z, err := c.shown(l.fit, l.n)
	if err != nil {
		return err
	}
	y := c.labels[l.fit : l.fit+l.n]
	a := c.tr.Arch
	codes := make([]float32, 0, l.n*(len(c.means)+1)*a.Latent)
	for i := range l.n {
		zi := z[i*a.Latent : (i+1)*a.Latent]
		codes = append(codes, zi...)
		for to := range c.means {
			codes = append(codes, move(zi, int(y[i]), to)...)
		}
	}
	dec, err := writeRows(c.tr, *out, x, codes, l.n, len(c.means)+1)
	if err != nil {
		return err
	}
	return c.checkAnalogies(l.data, dec, l.n, len(c.means), os.Stderr)
}

// checkAnalogies classifies the converted images (after each row's
// reconstruction, one per class) with the dataset's classifier, where it has
// one, and says how often the classifier gives each its target class.
func (c *classes) checkAnalogies(dataArg string, dec []float32, rows, k int, w io.Writer) error {
	ref := evaluation.ReferenceFor(dataArg)
	if ref != evaluation.MNIST && ref != evaluation.Fashion {
		return nil
	}
	cls, err := model.EmbeddedClassifier(c.tr.B, ref)
	if err != nil {
		return err
	}
	_, probs, err := cls.Features(dec)
	if err != nil {
		return err
	}
	classes := len(probs) / (rows * (k + 1))
	hits := 0
	for i := range rows {
		for to := range k {
			p := probs[(i*(k+1)+1+to)*classes:][:classes]
			if argmax(p) == to {
				hits++
			}
		}
	}
	fmt.Fprintf(w, "analogy: the %s classifier gives %d of the %d converted images their target class (%.1f%%)\n",
		ref, hits, rows*k, 100*float64(hits)/float64(rows*k))
	return nil
}

// argmax is the index of the largest value.
func argmax(p []float32) int {
	best := 0
	for i, v := range p {
		if v > p[best] {
			best = i
		}
	}
	return best
}

func attributes(args []string) error {
	l := newLabelled("attributes", "Computes attribute vectors (Larsen et al.): the mean code (z = mu) of the fitted images that\n"+
		"have an attribute minus that of those that do not. The attributes are the classes of -labels, or\n"+
		"with -attr-file the columns of a CelebA-style table (list_attr_celeba.txt) matched to a folder's\n"+
		"files by name. -out writes them as safetensors (attr.<name> [latent] float32; for classes also\n"+
		"mean.<class>; metadata: names, counts). -grid writes one row per shown image: the input, its\n"+
		"reconstruction, then the reconstruction with each vector times -scale added.")
	out := l.fs.String("out", "attributes.safetensors", "output safetensors file of the vectors")
	grid := l.fs.String("grid", "", "also write this PNG grid")
	scale := l.fs.Float64("scale", 1.5, "multiple of each vector the grid adds")
	attrFile := l.fs.String("attr-file", "", "attribute table (CelebA's list_attr_celeba.txt format) for a -data folder")
	only := l.fs.String("attr", "", "with -attr-file: the attributes to use, e.g. Smiling,Eyeglasses (default: all)")
	if err := parse(l.fs, args); err != nil {
		return err
	}
	if filepath.Ext(*out) != ".safetensors" {
		return fmt.Errorf("-out %s: want a .safetensors file", *out)
	}
	var c *classes
	var names []string
	var vecs [][]float64
	var counts []int
	var ts []checkpoint.Tensor
	var err error
	if *attrFile == "" {
		if c, err = l.load(); err != nil {
			return err
		}
		vecs, counts = latent.AttributeVectors(c.means, c.counts), c.counts
		for k := range vecs {
			names = append(names, strconv.Itoa(k))
			ts = append(ts, checkpoint.F32("mean."+names[k], []int{c.tr.Arch.Latent}, toFloat32(c.means[k], 1)))
		}
	} else if c, names, vecs, counts, err = l.tableVectors(*attrFile, *only); err != nil {
		return err
	}
	a := c.tr.Arch
	var countText []string
	for k, v := range vecs {
		ts = append(ts, checkpoint.F32("attr."+names[k], []int{a.Latent}, toFloat32(v, 1)))
		countText = append(countText, strconv.Itoa(counts[k]))
	}
	meta := map[string]string{"names": strings.Join(names, ","), "counts": strings.Join(countText, ","), "arch": a.Name, "model": c.tr.Cfg.Model}
	if err := checkpoint.Write(*out, ts, meta); err != nil {
		return err
	}
	if *grid == "" {
		return nil
	}
	x, z, err := c.shown(l.fit, l.n)
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
	_, err = writeRows(c.tr, *grid, x, codes, l.n, len(vecs)+1)
	return err
}

// tableVectors reads an attribute table and returns the vectors of the
// attributes named in only (all when empty) over the fitted images, and how
// many of those have each.
func (l *labelled) tableVectors(path, only string) (*classes, []string, [][]float64, []int, error) {
	table, err := data.ReadAttributes(path)
	if err != nil {
		return nil, nil, nil, nil, fmt.Errorf("-attr-file: %w", err)
	}
	c, err := l.open()
	if err != nil {
		return nil, nil, nil, nil, err
	}
	has, err := table.For(c.ds, l.fit)
	if err != nil {
		return nil, nil, nil, nil, fmt.Errorf("-attr-file: %w", err)
	}
	names := table.Names
	if only != "" {
		var picked [][]bool
		names = strings.Split(only, ",")
		for _, name := range names {
			j := slices.Index(table.Names, name)
			if j < 0 {
				return nil, nil, nil, nil, fmt.Errorf("-attr %s: %s has no such attribute (it has %s)", name, path, strings.Join(table.Names, ", "))
			}
			picked = append(picked, has[j])
		}
		has = picked
	}
	codes, err := latent.Codes(c.tr, c.ds, l.fit)
	if err != nil {
		return nil, nil, nil, nil, err
	}
	vecs, counts := latent.BinaryVectors(codes, has, c.tr.Arch.Latent)
	return c, names, vecs, counts, nil
}

// writeRows decodes codes (rows × cols latent vectors) and writes a grid
// whose rows are each input image followed by the decodings of its codes;
// it returns the decodings.
func writeRows(tr *model.Trainer, path string, x, codes []float32, rows, cols int) ([]float32, error) {
	dec, err := tr.Decode(codes)
	if err != nil {
		return nil, err
	}
	size := tr.Arch.ImageLen()
	img := make([]float32, 0, rows*(cols+1)*size)
	for i := range rows {
		img = append(img, x[i*size:(i+1)*size]...)
		img = append(img, dec[i*cols*size:(i+1)*cols*size]...)
	}
	a := tr.Arch
	return dec, report.WriteGrid(path, img, rows*(cols+1), a.C, a.H, a.W, cols+1)
}

// toFloat32 returns s·v in float32.
func toFloat32(v []float64, s float64) []float32 {
	out := make([]float32, len(v))
	for i, x := range v {
		out[i] = float32(s * x)
	}
	return out
}
