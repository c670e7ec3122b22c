package main

import (
	"encoding/csv"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/vaegan-go/vaegan/checkpoint"
)

// readCSV returns the loss log's header and rows.
func readCSV(t *testing.T, path string) ([]string, [][]float64) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	recs, err := csv.NewReader(f).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	var rows [][]float64
	for _, r := range recs[1:] {
		row := make([]float64, len(r))
		for i, s := range r {
			if row[i], err = strconv.ParseFloat(s, 64); err != nil {
				t.Fatalf("%s: %v", path, err)
			}
		}
		rows = append(rows, row)
	}
	return recs[0], rows
}

func column(t *testing.T, header []string, rows [][]float64, name string) []float64 {
	t.Helper()
	for i, h := range header {
		if h == name {
			var c []float64
			for _, r := range rows {
				c = append(c, r[i])
			}
			return c
		}
	}
	t.Fatalf("no column %q in %v", name, header)
	return nil
}

func TestTrainWritesEverythingAndResumes(t *testing.T) {
	out := t.TempDir()
	args := []string{"-device", "cpu", "-batch", "8", "-steps", "4", "-sample-every", "2", "-ckpt-every", "2", "-log-every", "1",
		"-eval-every", "2", "-eval-n", "20", "-out", out}
	if err := run(args); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{ckptFile, bestFile, lossCSV, lossPlot, qualityCSV, qualityPlot, "samples/sample_000002.png", "samples/recon_000004.png"} {
		if _, err := os.Stat(filepath.Join(out, f)); err != nil {
			t.Errorf("train did not write %s: %v", f, err)
		}
	}
	if err := run(args); err == nil || !strings.Contains(err.Error(), "-resume") {
		t.Errorf("training again into a folder with a checkpoint: %v, want an error suggesting -resume", err)
	}
	if err := run([]string{"train", "-resume", "-steps", "6", "-log-every", "1", "-eval-every", "2", "-eval-n", "20", "-out", out}); err != nil {
		t.Fatal(err)
	}
	qh, qrows := readCSV(t, filepath.Join(out, qualityCSV))
	if len(qrows) != 3 || qrows[2][0] != 6 {
		t.Errorf("quality log after resuming to step 6 has %d rows, want 3 (steps 2, 4, 6)", len(qrows))
	}
	for _, name := range []string{"frechet", "agreement", "ssim"} {
		for _, v := range column(t, qh, qrows, name) {
			if math.IsNaN(v) || v < -1 {
				t.Errorf("quality log: %s = %v, want a measured value", name, v)
			}
		}
	}
	_, rows := readCSV(t, filepath.Join(out, lossCSV))
	if len(rows) != 6 || rows[0][0] != 1 || rows[5][0] != 6 {
		t.Errorf("loss log after resuming to step 6 has %d rows, want 6 from step 1 to 6", len(rows))
	}
	ckpt := filepath.Join(out, ckptFile)
	for _, c := range [][]string{
		{"sample", "-ckpt", ckpt, "-n", "5", "-out", filepath.Join(out, "s.png")},
		{"reconstruct", "-ckpt", ckpt, "-n", "3", "-out", filepath.Join(out, "r.png")},
		{"reconstruct", "-ckpt", ckpt, "-n", "3", "-out", filepath.Join(out, "r.safetensors")},
		{"interpolate", "-ckpt", ckpt, "-rows", "2", "-steps", "3", "-out", filepath.Join(out, "i.png")},
		{"interpolate", "-ckpt", ckpt, "-rows", "2", "-steps", "3", "-out", filepath.Join(out, "i.gif")},
		{"eval", "-ckpt", ckpt, "-n", "30", "-recon", "30", "-json"},
		{"eval", "-samples", filepath.Join(out, "s.png"), "-ref", filepath.Join(out, "samples")},
	} {
		if err := run(c); err != nil {
			t.Errorf("%v: %v", c, err)
		}
	}
	f, err := checkpoint.Read(filepath.Join(out, "r.safetensors"))
	if err != nil {
		t.Fatal(err)
	}
	in, err1 := f.Float32("input", 3, 1, 28, 28)
	rec, err2 := f.Float32("recon", 3, 1, 28, 28)
	if err1 != nil || err2 != nil {
		t.Fatal(err1, err2)
	}
	for i := range rec {
		if rec[i] < -1 || rec[i] > 1 || in[i] < -1 || in[i] > 1 {
			t.Fatalf("reconstruct wrote values outside [-1, 1]: input %v recon %v", in[i], rec[i])
		}
	}
}

func TestBadInputIsNamed(t *testing.T) {
	dir := t.TempDir()
	junk := filepath.Join(dir, "junk.safetensors")
	os.WriteFile(junk, []byte("not a checkpoint at all"), 0o644)
	truncatedIDX := filepath.Join(dir, "t.idx")
	os.WriteFile(truncatedIDX, []byte{0, 0, 8, 3, 0, 0, 0, 9, 0, 0, 0, 28, 0, 0, 0, 28, 1, 2}, 0o644)
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"-arch", "mnist64"}, `-arch "mnist64": want one of`},
		{[]string{"-model", "vaegan4"}, `-model "vaegan4": want one of`},
		{[]string{"-optim", "sgd"}, `-optim "sgd": want adam or rmsprop`},
		{[]string{"-device", "tpu"}, `-device "tpu"`},
		{[]string{"-batch", "1"}, "-batch 1: want 2 to"},
		{[]string{"-batch", "99999999"}, "-batch 99999999: want 2 to"},
		{[]string{"-lr", "-1"}, "-lr -1: want a positive number"},
		{[]string{"-gamma", "-2"}, "-gamma -2: want"},
		{[]string{"-beta", "NaN"}, "-beta NaN: want"},
		{[]string{"-log-every", "0"}, "-log-every 0"},
		{[]string{"-data", filepath.Join(dir, "missing")}, "missing"},
		{[]string{"-data", truncatedIDX, "-out", dir}, "t.idx"},
		{[]string{"-resume", "-out", filepath.Join(dir, "none")}, "checkpoint.safetensors"},
		{[]string{"sample", "-ckpt", junk}, "junk.safetensors"},
		{[]string{"sample"}, "-ckpt"},
		{[]string{"reconstruct", "-ckpt", junk, "-out", "x.jpg"}, "-out x.jpg"},
		{[]string{"interpolate", "-ckpt", junk, "-out", "x.mp4"}, "-out x.mp4"},
		{[]string{"frobnicate"}, `"frobnicate"`},
		{[]string{"eval"}, "-ckpt"},
		{[]string{"eval", "-samples", junk}, "junk.safetensors"},
		{[]string{"eval", "-samples", truncatedIDX}, "t.idx"},
		{[]string{"eval", "-ckpt", junk, "-samples", junk}, "exactly one"},
		{[]string{"-margin", "0.9"}, "-margin 0.9: want"},
		{[]string{"-ema", "1"}, "-ema 1: want"},
		{[]string{"-init", "xavier"}, `-init "xavier": want one of`},
		{[]string{"-steps", "3", "stray"}, `"stray"`},
	} {
		err := run(c.args)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("trainer %v: error %v, want one mentioning %s", c.args, err, c.want)
		}
	}
	// Several bad flags: the same one is named every time, in a fixed order
	// (the run's flags, then the model's configuration in Config's order).
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"-gamma", "-2", "-workers", "0", "-sample-every", "0", "-log-every", "0"}, "-sample-every 0"},
		{[]string{"-gamma", "-2", "-ema", "2", "-batch", "1"}, "-batch 1"},
	} {
		for range 10 {
			if err := run(c.args); err == nil || !strings.HasPrefix(err.Error(), c.want) {
				t.Fatalf("trainer %v: error %v, want one starting %s", c.args, err, c.want)
			}
		}
	}
}

// A short run with the trainer's defaults learns what a VAE-GAN is for, as
// the committed MNIST classifier sees it after 400 steps: the encoder is in
// use (its reconstructions of test images keep their digit, and KL has not
// fallen to the prior), the samples are not one mode (most classes appear),
// the discriminator keeps learning (it is updated on a fair share of the
// late steps) and no loss is NaN. A collapsed encoder reconstructs every
// input as the same image (agreement about 10%, KL near 0); a starved
// discriminator is skipped on nearly every step.
func TestDefaultsLearn(t *testing.T) {
	if testing.Short() {
		t.Skip("trains 400 steps; skipped under -short")
	}
	out := t.TempDir()
	if err := run([]string{"-steps", "400", "-eval-every", "400", "-eval-n", "1000", "-sample-every", "400", "-out", out}); err != nil {
		t.Fatal(err)
	}
	header, rows := readCSV(t, filepath.Join(out, lossCSV))
	for _, name := range []string{"kl", "like", "dis", "adv"} {
		for _, v := range column(t, header, rows, name) {
			if math.IsNaN(v) || math.IsInf(v, 0) {
				t.Fatalf("%s is %v in the loss log", name, v)
			}
		}
	}
	late := func(name string) float64 { // mean over the logs of the last 200 steps
		c := column(t, header, rows, name)
		c = c[len(c)-20:]
		s := 0.0
		for _, v := range c {
			s += v
		}
		return s / float64(len(c))
	}
	qh, qrows := readCSV(t, filepath.Join(out, qualityCSV))
	q := func(name string) float64 { c := column(t, qh, qrows, name); return c[len(c)-1] }
	kl, disShare := late("kl"), late("upd_dis")
	t.Logf("after 400 steps: KL %.3g, discriminator updated on %.0f%% of the late logged steps; label agreement %.3f, classes %v, Fréchet %.2f, sharpness %.3f",
		kl, 100*disShare, q("agreement"), q("classes"), q("frechet"), q("sharpness"))
	if kl < learnMinKL {
		t.Errorf("KL %.3g over the last 200 steps: the encoder has collapsed to the prior (want ≥ %v)", kl, learnMinKL)
	}
	if a := q("agreement"); a < learnMinAgreement {
		t.Errorf("reconstructions keep their input's digit %.1f%% of the time: the encoder ignores its input (want ≥ %.0f%%)", 100*a, 100*learnMinAgreement)
	}
	if c := q("classes"); c < learnMinClasses {
		t.Errorf("samples cover %v classes (want ≥ %v)", c, learnMinClasses)
	}
	if disShare < learnMinDisShare {
		t.Errorf("the discriminator was updated on %.0f%% of the late steps: it is starved (want ≥ %.0f%%)", 100*disShare, 100*learnMinDisShare)
	}
}

// What TestDefaultsLearn asks of 400 steps of the defaults. Measured
// (docs/quality.md): the defaults (γ 0.3, β 2) give KL 7.8 (mean of the last
// 200 steps), label agreement 0.78, 10 classes, the discriminator updated on
// every step; the first defaults (DCGAN initialization, γ 10, equilibrium
// rule on) gave KL 0.03, one class, the discriminator updated on no late step.
const (
	learnMinKL        = 1.0
	learnMinAgreement = 0.4
	learnMinClasses   = 6
	learnMinDisShare  = 0.2
)

// TestDecoderLearningRateDefault: the mnist VAE-GANs' decoders learn at
// 8 times the other networks' rate unless -lr-dec says otherwise; the
// baselines and celeba64 keep one rate.
func TestDecoderLearningRateDefault(t *testing.T) {
	for _, c := range []struct {
		args []string
		want float64
	}{
		{nil, 1.6e-3},
		{[]string{"-model", "vaegan3"}, 1.6e-3},
		{[]string{"-lr", "1e-4"}, 8e-4},
		{[]string{"-optim", "rmsprop"}, 2.4e-3},
		{[]string{"-lr-dec", "3e-4"}, 3e-4},
		{[]string{"-model", "vae"}, 0},
		{[]string{"-model", "gan"}, 0},
		{[]string{"-arch", "celeba64"}, 0},
	} {
		f, err := parseTrainFlags(c.args)
		if err != nil {
			t.Fatal(err)
		}
		if got := f.config().Optim.DecLR; math.Abs(got-c.want) > 1e-12 {
			t.Errorf("%v: the decoder's learning rate %g, want %g (0: the others')", c.args, got, c.want)
		}
	}
}
