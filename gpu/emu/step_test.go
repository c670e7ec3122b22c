//go:build cgo

package emu_test

import (
	"errors"
	"math"
	"strings"
	"testing"

	"github.com/vaegan-go/vaegan/backend"
	"github.com/vaegan-go/vaegan/backend/cpu"
	"github.com/vaegan-go/vaegan/gpu"
	"github.com/vaegan-go/vaegan/gpu/emu"
	"github.com/vaegan-go/vaegan/model"
	"github.com/vaegan-go/vaegan/model/steptest"
)

// One whole training step of every model on the CUDA backend (over the
// emulated driver) must match the CPU backend: the losses and every
// network's gradient. (Parameters after one Adam step are no test: Adam's
// first update is lr·sign(g), which rounding flips where g is near zero.)
func TestTrainingStepMatchesCPU(t *testing.T) {
	const batch = 4
	for _, m := range model.ModelNames() {
		t.Run(m, func(t *testing.T) {
			cfg := model.Config{Arch: "mnist", Model: m, Batch: batch, Optim: model.OptimConfig{Kind: "adam"}, Seed: 9, NoEquilibrium: true}
			var results [2]model.Result
			var grads [2][3][]float32
			for i, b := range []backend.Backend{cpu.New(2), gpu.New(emu.New(2))} {
				tr, err := model.NewTrainer(b, cfg)
				if err != nil {
					t.Fatal(err)
				}
				x := make([]float32, batch*tr.Arch.ImageLen())
				for j := range x {
					x[j] = float32(math.Sin(float64(j)))
				}
				if results[i], err = tr.Step(x); err != nil {
					t.Fatal(err)
				}
				for k, ps := range []*model.ParamSet{&tr.Nets.Enc, &tr.Nets.Dec, &tr.Nets.Dis} {
					if ps.Size() > 0 {
						grads[i][k] = make([]float32, ps.Size())
						b.Download(grads[i][k], ps.G)
					}
				}
			}
			c, g := results[0], results[1]
			for _, l := range []struct {
				name     string
				cpu, gpu float64
			}{{"KL", c.KL, g.KL}, {"L_like", c.Like, g.Like}, {"L_dis", c.Dis, g.Dis}, {"L_adv", c.Adv, g.Adv}} {
				if math.Abs(l.gpu-l.cpu) > 1e-5+1e-4*math.Abs(l.cpu) {
					t.Errorf("%s: cuda (emulated) %.7g, cpu %.7g", l.name, l.gpu, l.cpu)
				}
			}
			for k, net := range []string{"enc", "dec", "dis"} {
				var d, n float64
				for j, want := range grads[0][k] {
					e := float64(grads[1][k][j] - want)
					d += e * e
					n += float64(want) * float64(want)
				}
				if n > 0 && math.Sqrt(d/n) > 1e-4 {
					t.Errorf("%s gradient: relative error %.2g between cuda (emulated) and cpu", net, math.Sqrt(d/n))
				}
			}
		})
	}
}

// A model too big for the device's memory is an error from NewTrainer that
// says so and suggests a smaller batch, not a crash.
func TestNewTrainerOutOfDeviceMemory(t *testing.T) {
	b := gpu.New(emu.New(1, emu.WithMemoryLimit(64<<20)))
	_, err := model.NewTrainer(b, model.Config{Arch: "celeba64", Model: model.VAEGAN, Batch: 64, Optim: model.OptimConfig{Kind: "adam"}})
	if !errors.Is(err, gpu.ErrOutOfMemory) || !strings.Contains(err.Error(), "smaller -batch") {
		t.Fatalf("NewTrainer on a 64 MiB device: %v, want an out-of-memory error suggesting a smaller -batch", err)
	}
}

// TestStepsMatchPyTorch runs the model-step suite (PyTorch's steps) on the
// CUDA backend over the emulated driver.
func TestStepsMatchPyTorch(t *testing.T) {
	steptest.Run(t, gpu.New(emu.New(2)))
}

// TestFailedStepChangesNothing: a stopped step on the CUDA backend leaves the
// state as it was (the NaN and overflow checks run on the device).
func TestFailedStepChangesNothing(t *testing.T) {
	steptest.CheckFailedStep(t, gpu.New(emu.New(2)))
}

// celebAFloor is the CUDA backend's tolerance floor in the celeba64 step
// check (steptest.CheckCelebADigest): its float32 sums run in another order
// than the CPU's (the emulated cuBLAS sums each dot product sequentially, the
// kernels reduce in float32 trees), and a gradient whose elements cancel
// shows it: the decoder's output bias sums 16,384 values of about ±10³ to
// about −3,750, measured 4.7e-4 of its norm from PyTorch's float64 (the CPU
// backend, which sums in float64: 2.7e-5).
const celebAFloor = 1e-3

// TestCelebAStepMatchesPyTorch: one celeba64 vaegan step (a BatchNorm before
// Dis_l) against PyTorch on the CUDA backend over the emulated driver.
func TestCelebAStepMatchesPyTorch(t *testing.T) {
	if testing.Short() {
		t.Skip("a celeba64 step on the emulated driver")
	}
	steptest.CheckCelebADigest(t, gpu.New(emu.New(2)), celebAFloor)
}

// TestRecordedStepsMatchOpByOp: steps replayed from a recording (CUDA
// graphs, here on the emulated driver) match steps run op by op bit for bit.
func TestRecordedStepsMatchOpByOp(t *testing.T) {
	steptest.CheckRecordedSteps(t, func() gpu.Driver { return emu.New(2) })
}
