//go:build cuda

package cuda_test

import (
	"math"
	"sync"
	"testing"
	"time"

	"gorgonia.org/cu"

	"github.com/vaegan-go/vaegan/comm"
	"github.com/vaegan-go/vaegan/gpu"
	"github.com/vaegan-go/vaegan/gpu/cuda"
	"github.com/vaegan-go/vaegan/gpu/emu/drivertest"
	"github.com/vaegan-go/vaegan/model"
)

// needNCCL skips a test where libnccl.so.2 cannot be loaded.
func needNCCL(t *testing.T) {
	v, err := cuda.NCCLVersion()
	if err != nil {
		t.Skip(err)
	}
	t.Logf("NCCL %d", v)
}

// TestNCCLOneRank: over one rank NCCL's sum is the buffer itself, element
// for element, and a second AllReduce reuses the communicator.
func TestNCCLOneRank(t *testing.T) {
	needNCCL(t)
	d := newDriver(t, cuda.Options{})
	if err := d.JoinNCCL(comm.Single{}, 10*time.Second); err != nil {
		t.Fatal(err)
	}
	xs := []float32{1, -2.5, 3e-8, float32(math.Pi), 0}
	p := drivertest.Upload(t, d, xs, 0)
	for range 2 {
		if err := d.AllReduce([]gpu.Span{{P: p, N: len(xs)}}); err != nil {
			t.Fatal(err)
		}
	}
	for i, v := range drivertest.Download(t, d, p, len(xs)) {
		if math.Float32bits(v) != math.Float32bits(xs[i]) {
			t.Errorf("[%d] = %g, want %g", i, v, xs[i])
		}
	}
}

// twoGPUs skips a test on a machine with fewer than two GPUs.
func twoGPUs(t *testing.T) {
	if n, err := cu.NumDevices(); err != nil || n < 2 {
		t.Skipf("needs two GPUs (devices: %d, %v)", n, err)
	}
}

// onTwoGPUs runs each of two ranks of an in-process group as a goroutine
// with its own GPU (0 and 1) and fails the test with a rank's error.
func onTwoGPUs(t *testing.T, rank func(r int, d *cuda.Driver, c comm.Comm) error) {
	group := comm.Local(2, time.Minute)
	var wg sync.WaitGroup
	for r := range 2 {
		d := newDriver(t, cuda.Options{Device: r})
		wg.Go(func() {
			if err := rank(r, d, group[r]); err != nil {
				t.Errorf("rank %d: %v", r, err)
			}
		})
	}
	wg.Wait()
}

// TestNCCLSumsTwoGPUs: two ranks (goroutines, GPUs 0 and 1) sum two spans.
func TestNCCLSumsTwoGPUs(t *testing.T) {
	needNCCL(t)
	twoGPUs(t)
	got := make([][]float32, 2)
	onTwoGPUs(t, func(r int, d *cuda.Driver, c comm.Comm) error {
		if err := d.JoinNCCL(c, 30*time.Second); err != nil {
			return err
		}
		a := drivertest.Upload(t, d, []float32{float32(r + 1), 10 * float32(r+1)}, 0)
		b := drivertest.Upload(t, d, []float32{float32(-r)}, 0)
		if err := d.AllReduce([]gpu.Span{{P: a, N: 2}, {P: b, N: 1}}); err != nil {
			return err
		}
		got[r] = append(drivertest.Download(t, d, a, 2), drivertest.Download(t, d, b, 1)...)
		return nil
	})
	for r, g := range got {
		if len(g) != 3 || g[0] != 3 || g[1] != 30 || g[2] != -1 {
			t.Errorf("rank %d: %v, want [3 30 -1]", r, g)
		}
	}
}

// TestNCCLStepMatchesHost trains a VAE-GAN on two GPUs for 3 steps, with
// the all-reduce in device memory (NCCL) and through the host (the Comm):
// two ranks' sums are exact, so the losses and the decoder's output must be
// equal bit for bit.
func TestNCCLStepMatchesHost(t *testing.T) {
	needNCCL(t)
	twoGPUs(t)
	cfg := model.Config{Arch: "mnist", Model: model.VAEGAN, Batch: 16, Optim: model.OptimConfig{Kind: "adam"}, NoEquilibrium: true, Seed: 3}
	x := make([]float32, cfg.Batch*28*28)
	for i := range x {
		x[i] = float32(math.Sin(float64(i))) // any fixed images in [-1, 1]
	}
	a, err := model.LookupArch("mnist")
	if err != nil {
		t.Fatal(err)
	}
	z := make([]float32, 4*a.Latent)
	for i := range z {
		z[i] = float32(math.Cos(float64(3 * i)))
	}
	run := func(nccl bool) (res [][]model.Result, dec [][]float32) {
		res, dec = make([][]model.Result, 2), make([][]float32, 2)
		onTwoGPUs(t, func(r int, d *cuda.Driver, c comm.Comm) error {
			b := gpu.New(d)
			tr, err := model.NewDistributedTrainer(b, cfg, c)
			if err != nil {
				return err
			}
			if nccl {
				if err := d.JoinNCCL(c, 30*time.Second); err != nil {
					return err
				}
				tr.ReduceOnDevice(b)
			}
			if err := tr.Broadcast(); err != nil {
				return err
			}
			half := len(x) / 2
			for range 3 {
				s, err := tr.Step(x[r*half : (r+1)*half])
				if err != nil {
					return err
				}
				res[r] = append(res[r], s)
			}
			dec[r], err = tr.Decode(z)
			return err
		})
		return res, dec
	}
	hostRes, hostDec := run(false)
	ncclRes, ncclDec := run(true)
	for r := range 2 {
		for s := range hostRes[r] {
			if s >= len(ncclRes[r]) || ncclRes[r][s] != hostRes[r][s] {
				t.Errorf("rank %d step %d: NCCL %+v, host %+v", r, s, ncclRes[r], hostRes[r][s])
			}
		}
		for i := range hostDec[r] {
			if i >= len(ncclDec[r]) || math.Float32bits(ncclDec[r][i]) != math.Float32bits(hostDec[r][i]) {
				t.Fatalf("rank %d: decoded image element %d differs (NCCL against host)", r, i)
			}
		}
	}
}
