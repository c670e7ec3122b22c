package model

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/vaegan-go/vaegan/backend"
	"github.com/vaegan-go/vaegan/backend/cpu"
	"github.com/vaegan-go/vaegan/checkpoint"
)

// batchFor returns a deterministic batch of images in [-1, 1] for step s.
func batchFor(a *Arch, n, s int) []float32 {
	x := make([]float32, n*a.ImageLen())
	for i := range x {
		x[i] = 2*float32((i*7+s*13)%29)/28 - 1
	}
	return x
}

func download(b backend.Backend, t backend.Tensor) []float32 {
	h := make([]float32, t.Len())
	b.Download(h, t)
	return h
}

// Training k steps, saving, loading into a fresh trainer and training the
// rest must give bit-identical parameters to training straight through.
func TestResumeIsExact(t *testing.T) {
	for _, m := range ModelNames() {
		t.Run(m, func(t *testing.T) {
			cfg := Config{Arch: "mnist", Model: m, Batch: 4, Optim: OptimConfig{Kind: "adam"}, Seed: 3}
			if m == VAE {
				cfg.Optim.Kind = "rmsprop"
			}
			if m == VAEGAN {
				cfg.Beta = 7 // stored in the checkpoint's configuration
			}
			if m == VAEGAN3 || m == GAN {
				cfg.EMA, cfg.Init, cfg.Margin = 0.9, InitPyTorch, 0.5 // the weight average resumes too
			}
			a, _ := LookupArch("mnist")
			straight, err := NewTrainer(cpu.New(2), cfg)
			if err != nil {
				t.Fatal(err)
			}
			for s := 0; s < 4; s++ {
				if _, err := straight.Step(batchFor(a, 4, s)); err != nil {
					t.Fatal(err)
				}
			}
			first, _ := NewTrainer(cpu.New(2), cfg)
			for s := 0; s < 2; s++ {
				if _, err := first.Step(batchFor(a, 4, s)); err != nil {
					t.Fatal(err)
				}
			}
			path := filepath.Join(t.TempDir(), "ckpt.safetensors")
			if err := first.Save(path, map[string]string{"extra": "1"}); err != nil {
				t.Fatal(err)
			}
			f, err := checkpoint.Read(path)
			if err != nil {
				t.Fatal(err)
			}
			c2, err := ConfigOf(f)
			if err != nil || c2 != first.Cfg {
				t.Fatalf("ConfigOf = %+v, %v; want the trainer's %+v", c2, err, first.Cfg)
			}
			resumed, _ := NewTrainer(cpu.New(2), c2)
			if err := resumed.Load(f, false); err != nil {
				t.Fatal(err)
			}
			for s := 2; s < 4; s++ {
				if _, err := resumed.Step(batchFor(a, 4, s)); err != nil {
					t.Fatal(err)
				}
			}
			for i, ps := range straight.nets() {
				if ps == nil {
					continue
				}
				want, got := download(straight.B, ps.W), download(resumed.B, resumed.nets()[i].W)
				for j := range want {
					if want[j] != got[j] {
						t.Fatalf("%s parameter %d: resumed %v, straight %v", netNames[i], j, got[j], want[j])
					}
				}
			}
			if cfg.EMA > 0 {
				want, got := download(straight.B, straight.ema.avg), download(resumed.B, resumed.ema.avg)
				for j := range want {
					if want[j] != got[j] {
						t.Fatalf("decoder weight average %d: resumed %v, straight %v", j, got[j], want[j])
					}
				}
			}
		})
	}
}

func TestLoadRejectsOtherModels(t *testing.T) {
	dir := t.TempDir()
	mk := func(arch, m string) *Trainer {
		tr, err := NewTrainer(cpu.New(1), Config{Arch: arch, Model: m, Batch: 2, Optim: OptimConfig{Kind: "adam"}})
		if err != nil {
			t.Fatal(err)
		}
		return tr
	}
	path := filepath.Join(dir, "vae.safetensors")
	if err := mk("mnist", VAE).Save(path, nil); err != nil {
		t.Fatal(err)
	}
	f, err := checkpoint.Read(path)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct{ arch, model, want string }{
		{"mnist", VAEGAN, `model "vae", want "vaegan"`},
		{"celeba64", VAE, `architecture "mnist", want "celeba64"`},
	} {
		err := mk(c.arch, c.model).Load(f, true)
		if err == nil || !strings.Contains(err.Error(), c.want) || !strings.Contains(err.Error(), path) {
			t.Errorf("loading a mnist vae checkpoint into %s %s: %v, want an error naming the file and %q", c.arch, c.model, err, c.want)
		}
	}
}

// Checkpoints load into the PyTorch modules of reference/torch by the spec's
// names (load_state_dict with strict=True).
func TestCheckpointLoadsInPyTorch(t *testing.T) {
	py := "/usr/bin/python3"
	if _, err := os.Stat(py); err != nil {
		t.Skip("no /usr/bin/python3")
	}
	if err := exec.Command(py, "-c", "import torch").Run(); err != nil {
		t.Skip("python3 has no torch (apt-get install python3-torch)")
	}
	dir := t.TempDir()
	for _, arch := range ArchNames() {
		for _, m := range ModelNames() {
			tr, err := NewTrainer(cpu.New(2), Config{Arch: arch, Model: m, Batch: 2, Optim: OptimConfig{Kind: "adam"}})
			if err != nil {
				t.Fatal(err)
			}
			path := filepath.Join(dir, arch+"_"+m+".safetensors")
			if err := tr.Save(path, nil); err != nil {
				t.Fatal(err)
			}
			out, err := exec.Command(py, "../reference/torch/load_check.py", path).CombinedOutput()
			if err != nil || !strings.HasPrefix(string(out), "ok ") {
				t.Errorf("%s %s: load_check.py: %v\n%s", arch, m, err, out)
			}
		}
	}
}

// The README's loading snippet runs as written against Debian's PyTorch
// (1.13) with the real safetensors library's dtype rules, which refuse a
// U64 tensor on a torch without uint64: checkpoints store counters as I64.
func TestREADMESnippetLoads(t *testing.T) {
	py := "/usr/bin/python3"
	if err := exec.Command(py, "-c", "import torch").Run(); err != nil {
		t.Skip("no /usr/bin/python3 with torch (apt-get install python3-torch)")
	}
	tr, err := NewTrainer(cpu.New(2), Config{Arch: "mnist", Model: VAEGAN, Batch: 2, Optim: OptimConfig{Kind: "adam"}, EMA: 0.9})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tr.Step(batchFor(tr.Arch, 2, 0)); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "checkpoint.safetensors")
	if err := tr.Save(path, nil); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(py, "../reference/torch/readme_snippet.py", "../README.md", path).CombinedOutput()
	if err != nil || strings.TrimSpace(string(out)) != "ok" {
		t.Errorf("the README's snippet on a checkpoint: %v\n%s", err, out)
	}
}

// Checkpoints of earlier versions, whose counters are U64, still load and
// resume at the same step and noise position.
func TestU64CountersLoad(t *testing.T) {
	cfg := Config{Arch: "mnist", Model: VAEGAN, Batch: 2, Optim: OptimConfig{Kind: "adam"}}
	tr, err := NewTrainer(cpu.New(2), cfg)
	if err != nil {
		t.Fatal(err)
	}
	for s := range 3 {
		if _, err := tr.Step(batchFor(tr.Arch, 2, s)); err != nil {
			t.Fatal(err)
		}
	}
	dir := t.TempDir()
	path, old := filepath.Join(dir, "new.safetensors"), filepath.Join(dir, "old.safetensors")
	if err := tr.Save(path, nil); err != nil {
		t.Fatal(err)
	}
	f, err := checkpoint.Read(path)
	if err != nil {
		t.Fatal(err)
	}
	var ts []checkpoint.Tensor
	for _, name := range f.Names() {
		shape, _ := f.Shape(name)
		switch f.Dtype(name) {
		case "F32":
			v, _ := f.Float32(name, shape...)
			ts = append(ts, checkpoint.F32(name, shape, v))
		case "I64":
			v, _ := f.Int64(name, shape...)
			u := make([]uint64, len(v))
			for i := range v {
				u[i] = uint64(v[i])
			}
			ts = append(ts, checkpoint.U64(name, shape, u))
		default:
			t.Fatalf("tensor %s has dtype %s", name, f.Dtype(name))
		}
	}
	if err := checkpoint.Write(old, ts, f.Meta); err != nil {
		t.Fatal(err)
	}
	g, err := checkpoint.Read(old)
	if err != nil {
		t.Fatal(err)
	}
	if g.Dtype("trainer.state") != "U64" {
		t.Fatalf("the rewritten file stores trainer.state as %s, want U64", g.Dtype("trainer.state"))
	}
	back, _ := NewTrainer(cpu.New(2), cfg)
	if err := back.Load(g, false); err != nil {
		t.Fatalf("loading a checkpoint with U64 counters: %v", err)
	}
	if back.Steps != tr.Steps || back.Noise != tr.Noise || back.opt[1].t != tr.opt[1].t {
		t.Errorf("counters from U64: steps %d noise %d adam %d, want %d %d %d", back.Steps, back.Noise, back.opt[1].t, tr.Steps, tr.Noise, tr.opt[1].t)
	}
}

// A step that fails (a NaN loss, or a gradient that is not finite) stops
// before any update and leaves the whole state as it was: the checkpoint
// written after it is byte for byte the one written before (weights,
// optimizer moments, running statistics, the weight average, the step and
// noise counters). γ = 1e30 is issue 9's case: finite losses whose decoder
// gradient overflows, which used to make Adam's moments infinite silently.
func TestFailedStepChangesNothing(t *testing.T) {
	dir := t.TempDir()
	for _, m := range ModelNames() {
		for _, fault := range []string{"nan-pixel", "huge-gamma"} {
			if fault == "huge-gamma" && m != VAEGAN && m != VAEGAN3 {
				continue
			}
			tr, err := NewTrainer(cpu.New(1), Config{Arch: "mnist", Model: m, Batch: 2, Optim: OptimConfig{Kind: "adam"}, EMA: 0.9})
			if err != nil {
				t.Fatal(err)
			}
			for s := range 2 {
				if _, err := tr.Step(batchFor(tr.Arch, 2, s)); err != nil {
					t.Fatal(err)
				}
			}
			before, after := filepath.Join(dir, "before.safetensors"), filepath.Join(dir, "after.safetensors")
			if err := tr.Save(before, nil); err != nil {
				t.Fatal(err)
			}
			x, want := batchFor(tr.Arch, 2, 2), []string{"step 3", "NaN"}
			if fault == "nan-pixel" {
				x[5] = float32(nanValue())
			} else {
				tr.Gamma = 1e30
				want = []string{"step 3", "decoder's gradient is not finite", "dec."}
			}
			_, err = tr.Step(x)
			for _, w := range want {
				if err == nil || !strings.Contains(err.Error(), w) {
					t.Errorf("%s, %s: Step returned %v, want an error mentioning %q", m, fault, err, w)
				}
			}
			if err := tr.Save(after, nil); err != nil {
				t.Fatal(err)
			}
			b1, _ := os.ReadFile(before)
			b2, _ := os.ReadFile(after)
			if !bytes.Equal(b1, b2) {
				t.Errorf("%s, %s: the failed step changed the trainer's state (checkpoints differ)", m, fault)
			}
		}
	}
}

func nanValue() float64 { var z float64; return z / z }
