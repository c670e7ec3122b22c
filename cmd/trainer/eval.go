package main

import (
	"encoding/json"
	"fmt"
	"image"
	_ "image/png" // PNG sample grids
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/vaegan-go/vaegan/checkpoint"
	"github.com/vaegan-go/vaegan/data"
	"github.com/vaegan-go/vaegan/evaluation"
	"github.com/vaegan-go/vaegan/model"
	"github.com/vaegan-go/vaegan/report"
)

func eval(args []string) error {
	c := newCkptCommand("eval", "Measures sample quality against a test split, in the features of the project's own classifier\n"+
		"(domain metrics: comparable between runs of this trainer, not with Inception-based FID/KID figures).\n"+
		"With -ckpt it draws -n prior samples and reconstructs the test split; with -samples it measures a\n"+
		"file of images (.safetensors with a [n, C, H, W] tensor, an IDX file, or a PNG grid as sample writes).")
	fs := c.fs
	samples := fs.String("samples", "", "file of samples to measure instead of a checkpoint (needs -arch)")
	archName := fs.String("arch", "mnist", "with -samples: the images' architecture (mnist or celeba64)")
	ref := fs.String("ref", "", "test split: mnist, fashion-mnist, or an IDX file or image folder (default: the one matching\n"+
		"the checkpoint's training data; mnist with -samples). Only mnist and fashion-mnist have a classifier.")
	n := fs.Int("n", 10000, "prior samples to draw")
	nRecon := fs.Int("recon", 10000, "test images to reconstruct (0: none)")
	seed := fs.Uint64("seed", 1, "seed of the prior samples")
	asJSON := fs.Bool("json", false, "print the report as JSON")
	if err := parse(fs, args); err != nil {
		return err
	}
	if (c.ckpt == "") == (*samples == "") {
		return fmt.Errorf("eval: give exactly one of -ckpt (a checkpoint) and -samples (a file of images)")
	}
	if *n < 2 || *nRecon < 0 {
		return fmt.Errorf("-n %d -recon %d: want at least 2 samples and a non-negative number of reconstructions", *n, *nRecon)
	}
	var rep evaluation.Report
	var refName string
	if *samples != "" {
		a, err := model.LookupArch(*archName)
		if err != nil {
			return fmt.Errorf("-arch: %w", err)
		}
		x, err := readSamples(*samples, a)
		if err != nil {
			return fmt.Errorf("-samples: %w", err)
		}
		refName = *ref
		if refName == "" {
			refName = evaluation.MNIST
		}
		b, err := c.dev.open()
		if err != nil {
			return err
		}
		r, err := evaluation.OpenReference(b, refName, a.C, a.H, a.W)
		if err != nil {
			return fmt.Errorf("-ref: %w", err)
		}
		if rep, err = r.Samples(x); err != nil {
			return err
		}
	} else {
		tr, f, err := c.load()
		if err != nil {
			return err
		}
		refName = *ref
		if refName == "" {
			refName = evaluation.ReferenceFor(f.Meta[metaData])
		}
		a := tr.Arch
		r, err := evaluation.OpenReference(tr.B, refName, a.C, a.H, a.W)
		if err != nil {
			return fmt.Errorf("-ref: %w", err)
		}
		if rep, err = r.Evaluate(tr, a.Latent, *n, *seed, *nRecon); err != nil {
			return err
		}
	}
	if *asJSON {
		enc := json.NewEncoder(os.Stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(struct {
			Ref string `json:"reference"`
			evaluation.Report
		}{refName, rep})
	}
	writeReport(os.Stdout, refName, rep)
	return nil
}

// writeReport prints an evaluation as a table.
func writeReport(w io.Writer, ref string, r evaluation.Report) {
	fmt.Fprintf(w, "reference: %s test split; %d prior samples\n", ref, r.Samples)
	row := func(name, value, what string) { fmt.Fprintf(w, "  %-16s %12s   %s\n", name, value, what) }
	if r.HasClassifier {
		row("frechet", fmt.Sprintf("%.2f", r.Frechet), "Fréchet distance to the test split (classifier features; 0 is best)")
		row("kid", fmt.Sprintf("%.4f±%.4f", r.KID, r.KIDErr), "kernel inception distance analogue, unbiased MMD² (0 is best)")
		row("precision", fmt.Sprintf("%.3f", r.Precision), "share of samples on the data manifold (k = 3)")
		row("recall", fmt.Sprintf("%.3f", r.Recall), "share of the data manifold the samples reach (k = 3)")
		row("classes", fmt.Sprintf("%d", r.Covered), "classes with at least 2% of the samples")
		row("class_entropy", fmt.Sprintf("%.3f", r.Entropy), "entropy of the predicted class shares (nats; ln 10 = 2.303)")
		row("class_score", fmt.Sprintf("%.2f", r.Score), "inception-score analogue: exp E KL(p(y|x) || p(y)) (at most 10)")
	} else {
		fmt.Fprintf(w, "  (no classifier for %s: Fréchet distance, KID, precision, recall, classes and label agreement need one; mnist and fashion-mnist have one)\n", ref)
	}
	row("sharpness", fmt.Sprintf("%.3f", r.Sharpness), "Laplacian variance relative to the test split (1 is the data's)")
	if !r.HasRecon {
		return
	}
	fmt.Fprintf(w, "reconstructions of %d test images (z = mu):\n", r.Recons)
	if r.HasClassifier {
		row("label_agreement", fmt.Sprintf("%.3f", r.Agreement), "share classified as their input's label")
	}
	row("mse", fmt.Sprintf("%.4f", r.MSE), "mean squared pixel error (pixels in [-1, 1])")
	row("ssim", fmt.Sprintf("%.3f", r.SSIM), "structural similarity to the inputs (1 is identical)")
}

// readSamples reads images of architecture a from a .safetensors file (its
// only tensor, or the one named "samples"), a PNG grid as sample writes
// (every cell), or an IDX image file.
func readSamples(path string, a *model.Arch) ([]float32, error) {
	switch strings.ToLower(filepath.Ext(path)) {
	case ".safetensors":
		f, err := checkpoint.Read(path)
		if err != nil {
			return nil, err
		}
		name := "samples"
		if names := f.Names(); !f.Has(name) && len(names) == 1 {
			name = names[0]
		}
		shape, ok := f.Shape(name)
		if !ok || len(shape) != 4 || shape[1] != a.C || shape[2] != a.H || shape[3] != a.W {
			return nil, fmt.Errorf("%s: want a tensor \"samples\" (or a single tensor) of shape [n, %d, %d, %d], found %v", path, a.C, a.H, a.W, f.Names())
		}
		return f.Float32(name, shape...)
	case ".png":
		return readGrid(path, a)
	}
	ds, err := data.Open(path, a.C, a.H, a.W)
	if err != nil {
		return nil, err
	}
	return data.FirstN(ds, ds.Len())
}

// readGrid cuts a PNG grid written by report.WriteGrid into its cells.
func readGrid(path string, a *model.Arch) ([]float32, error) {
	fh, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer fh.Close()
	img, _, err := image.Decode(fh)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	g, cellW, cellH := report.GridGap, a.W+report.GridGap, a.H+report.GridGap
	bw, bh := img.Bounds().Dx(), img.Bounds().Dy()
	if (bw-g)%cellW != 0 || (bh-g)%cellH != 0 {
		return nil, fmt.Errorf("%s: %d×%d pixels is not a grid of %d×%d cells with %d-pixel gaps", path, bw, bh, a.W, a.H, g)
	}
	cols, rows := (bw-g)/cellW, (bh-g)/cellH
	o := img.Bounds().Min
	x := make([]float32, 0, cols*rows*a.ImageLen())
	for cell := range cols * rows {
		x0, y0 := o.X+g+(cell%cols)*cellW, o.Y+g+(cell/cols)*cellH
		for ch := range a.C {
			for y := range a.H {
				for xx := range a.W {
					r, gg, bb, _ := img.At(x0+xx, y0+y).RGBA()
					v := [3]uint32{r, gg, bb}[ch]
					if a.C == 1 {
						v = r
					}
					x = append(x, float32(v>>8)/127.5-1)
				}
			}
		}
	}
	return x, nil
}
