package model

import (
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
