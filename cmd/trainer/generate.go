package main

import (
	"flag"
	"fmt"
	"path/filepath"
	"strings"

	"github.com/vaegan-go/vaegan/checkpoint"
	"github.com/vaegan-go/vaegan/data"
	"github.com/vaegan-go/vaegan/model"
	"github.com/vaegan-go/vaegan/report"
)

// ckptCommand is what sample, reconstruct and interpolate share: a
// checkpoint to rebuild the model from and the device flags.
type ckptCommand struct {
	fs    *flag.FlagSet
	ckpt  string
	noEMA bool
	dev   deviceFlags
}

func newCkptCommand(name, summary string) *ckptCommand {
	c := &ckptCommand{fs: newFlagSet(name, summary)}
	c.fs.StringVar(&c.ckpt, "ckpt", "", "checkpoint file written by trainer train")
	c.fs.BoolVar(&c.noEMA, "no-ema", false, "decode with the decoder's trained weights, not its moving average (for checkpoints of runs with -ema)")
	c.dev.register(c.fs)
	return c
}

// trainer rebuilds the checkpoint's model with its weights.
func (c *ckptCommand) trainer() (*model.Trainer, error) {
	tr, _, err := c.load()
	return tr, err
}

// load reads the checkpoint and rebuilds its model with its weights.
func (c *ckptCommand) load() (*model.Trainer, *checkpoint.File, error) {
	if c.ckpt == "" {
		return nil, nil, fmt.Errorf("-ckpt: a checkpoint file is required (e.g. run/%s)", ckptFile)
	}
	f, err := checkpoint.Read(c.ckpt)
	if err != nil {
		return nil, nil, fmt.Errorf("-ckpt: %w", err)
	}
	cfg, err := model.ConfigOf(f)
	if err != nil {
		return nil, nil, err
	}
	if c.noEMA {
		cfg.EMA = 0
	}
	cfg.Batch = 2 // inference uses none of the training buffers: allocate them at the smallest batch
	b, err := c.dev.open()
	if err != nil {
		return nil, nil, err
	}
	tr, err := model.NewTrainer(b, cfg)
	if err != nil {
		return nil, nil, err
	}
	return tr, f, tr.Load(f, true)
}

func sample(args []string) error {
	c := newCkptCommand("sample", "Decodes n latent vectors drawn from N(0, I) into a PNG grid.")
	fs := c.fs
	n := fs.Int("n", 64, "number of images")
	seed := fs.Uint64("seed", 1, "seed of the latent vectors")
	out := fs.String("out", "samples.png", "output PNG")
	if err := parse(fs, args); err != nil {
		return err
	}
	if *n < 1 {
		return fmt.Errorf("-n %d: want at least 1", *n)
	}
	tr, err := c.trainer()
	if err != nil {
		return err
	}
	a := tr.Arch
	x, err := tr.Decode(model.Prior(*n, a.Latent, *seed))
	if err != nil {
		return err
	}
	return report.WriteGrid(*out, x, *n, a.C, a.H, a.W, gridCols(*n))
}

func reconstruct(args []string) error {
	c := newCkptCommand("reconstruct", "Encodes the first n images of a dataset (file order) deterministically (z = mu,\n"+
		"BatchNorm in evaluation mode) and decodes them. -out x.png writes a grid, a row of inputs above\n"+
		"a row of their reconstructions; -out x.safetensors writes float32 tensors input and recon, [n, C, H, W], in [-1, 1].")
	fs := c.fs
	dataPath := fs.String("data", "", "dataset (default: the embedded MNIST)")
	n := fs.Int("n", 16, "number of images")
	out := fs.String("out", "reconstruct.png", "output file: .png or .safetensors")
	if err := parse(fs, args); err != nil {
		return err
	}
	ext := strings.ToLower(filepath.Ext(*out))
	if ext != ".png" && ext != ".safetensors" {
		return fmt.Errorf("-out %s: want a .png or .safetensors file", *out)
	}
	if *n < 1 {
		return fmt.Errorf("-n %d: want at least 1", *n)
	}
	tr, err := c.trainer()
	if err != nil {
		return err
	}
	a := tr.Arch
	ds, err := data.Open(*dataPath, a.C, a.H, a.W)
	if err != nil {
		return fmt.Errorf("-data: %w", err)
	}
	if ds.Len() < *n {
		return fmt.Errorf("-n %d: dataset %s holds only %d images", *n, ds.Name(), ds.Len())
	}
	x, err := data.FirstN(ds, *n)
	if err != nil {
		return err
	}
	rec, err := tr.Reconstruct(x)
	if err != nil {
		return err
	}
	if ext == ".safetensors" {
		shape := []int{*n, a.C, a.H, a.W}
		return checkpoint.Write(*out, []checkpoint.Tensor{checkpoint.F32("input", shape, x), checkpoint.F32("recon", shape, rec)},
			map[string]string{"arch": a.Name, "model": tr.Cfg.Model})
	}
	cols := gridCols(*n)
	grid := interleaveRows(x, rec, a.ImageLen(), cols)
	return report.WriteGrid(*out, grid, len(grid)/a.ImageLen(), a.C, a.H, a.W, cols)
}

func interpolate(args []string) error {
	c := newCkptCommand("interpolate", "Decodes straight-line walks between pairs of latent points drawn from N(0, I):\n"+
		"-out x.png: one row per walk, from one end point to the other; -out x.gif: an animation whose\n"+
		"frames show every walk at one step, forth and back.")
	fs := c.fs
	rows := fs.Int("rows", 8, "number of walks")
	steps := fs.Int("steps", 10, "images per walk, end points included")
	seed := fs.Uint64("seed", 1, "seed of the end points")
	between := fs.String("between", "", "a.png,b.png: one walk between the codes (z = mu) of two image files instead (models with an encoder)")
	out := fs.String("out", "interpolate.png", "output file: .png (a grid) or .gif (an animation)")
	if err := parse(fs, args); err != nil {
		return err
	}
	ext := strings.ToLower(filepath.Ext(*out))
	if ext != ".png" && ext != ".gif" {
		return fmt.Errorf("-out %s: want a .png or .gif file", *out)
	}
	if *rows < 1 || *steps < 2 {
		return fmt.Errorf("-rows %d -steps %d: want at least 1 walk of at least 2 images", *rows, *steps)
	}
	tr, err := c.trainer()
	if err != nil {
		return err
	}
	a := tr.Arch
	L := a.Latent
	ends := model.Prior(2**rows, L, *seed)
	if *between != "" {
		if ends, err = encodeEnds(tr, *between); err != nil {
			return err
		}
		*rows = 1
	}
	z := make([]float32, 0, *rows**steps*L)
	for r := 0; r < *rows; r++ {
		z0, z1 := ends[2*r*L:(2*r+1)*L], ends[(2*r+1)*L:(2*r+2)*L]
		for s := 0; s < *steps; s++ {
			t := float32(s) / float32(*steps-1)
			for j := range z0 {
				z = append(z, z0[j]+t*(z1[j]-z0[j]))
			}
		}
	}
	x, err := tr.Decode(z)
	if err != nil {
		return err
	}
	if ext == ".png" {
		return report.WriteGrid(*out, x, *rows**steps, a.C, a.H, a.W, *steps)
	}
	return report.WriteAnimation(*out, walkFrames(x, *rows, *steps, a.ImageLen()), *rows, a.C, a.H, a.W, gridCols(*rows), 8)
}

// encodeEnds reads the two image files of -between ("a.png,b.png") and
// returns their latent means, one after the other.
func encodeEnds(tr *model.Trainer, between string) ([]float32, error) {
	files := strings.Split(between, ",")
	if len(files) != 2 || files[0] == "" || files[1] == "" {
		return nil, fmt.Errorf("-between %q: want two image files, a.png,b.png", between)
	}
	if !tr.HasEncoder() {
		return nil, fmt.Errorf("-between: model %s has no encoder to find the images' codes", tr.Cfg.Model)
	}
	a := tr.Arch
	var x []float32
	for _, f := range files {
		img, err := data.LoadImage(f, a.C, a.H, a.W)
		if err != nil {
			return nil, fmt.Errorf("-between: %w", err)
		}
		x = append(x, img...)
	}
	return tr.EncodeMean(x)
}

// walkFrames turns rows walks of steps images each (x, walk after walk) into
// animation frames: frame s holds image s of every walk; the frames run
// forth and back (2·steps − 2 of them) so that the loop has no jump.
func walkFrames(x []float32, rows, steps, size int) [][]float32 {
	var frames [][]float32
	for k := 0; k < 2*steps-2; k++ {
		s := k
		if k >= steps {
			s = 2*steps - 2 - k
		}
		f := make([]float32, 0, rows*size)
		for r := range rows {
			i := r*steps + s
			f = append(f, x[i*size:(i+1)*size]...)
		}
		frames = append(frames, f)
	}
	return frames
}

// gridCols is the number of columns of a grid of n images.
func gridCols(n int) int { return min(n, 8) }
