//go:build cgo

package emu_test

import (
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/vaegan-go/vaegan/backend"
	"github.com/vaegan-go/vaegan/backend/backendtest"
	"github.com/vaegan-go/vaegan/gpu"
	"github.com/vaegan-go/vaegan/gpu/emu"
	"github.com/vaegan-go/vaegan/kernels"
)

// tol is the CUDA backend's tolerance against the float64 references. Its
// Atol covers float32 rounding in cuBLAS-style dot products, which sum
// sequentially: the suite's longest, ConvBackwardFilter over 64×64 outputs,
// adds 4096 products whose partial sums reach about 20, so its rounding
// error is about sqrt(4096)·2⁻²⁴·20 ≈ 8e-5 whatever the size of the result
// (observed up to 7e-5 with the emulator's Sgemm).
var tol = backendtest.Tolerance{Atol: 2e-4, Rtol: 1e-4}

// TestBackend runs the conformance suite on the CUDA backend over the
// emulated driver.
func TestBackend(t *testing.T) {
	backendtest.Run(t, gpu.New(emu.New(2)), tol)
}

// TestBackendChunkedConv runs the suite with a workspace limit of one float,
// so that every convolution runs one sample per chunk.
func TestBackendChunkedConv(t *testing.T) {
	b := gpu.New(emu.New(2))
	b.SetWorkspaceLimit(1)
	backendtest.Run(t, b, tol)
}

// TestEveryKernelLaunched runs the suite and then checks that it launched
// every kernel of the sources except the emulator's own test kernels, so no
// kernel is left untested (or dead).
func TestEveryKernelLaunched(t *testing.T) {
	b := gpu.New(emu.New(2))
	t.Run("Suite", func(t *testing.T) { backendtest.Run(t, b, tol) })
	launched := b.Launched()
	for _, k := range kernels.Kernels() {
		if k.Source != "emutest.cu" && !slices.Contains(launched, k.Name) {
			t.Errorf("kernel %s (%s) was not launched by any backend op", k.Name, k.Source)
		}
	}
}

// countingDriver counts allocations.
type countingDriver struct {
	*emu.Driver
	allocs int
}

func (d *countingDriver) Alloc(n int) (gpu.DevicePtr, error) {
	d.allocs++
	return d.Driver.Alloc(n)
}

// TestConvWorkspaceReused checks that the convolution workspace is allocated
// for the largest geometry seen and then reused.
func TestConvWorkspaceReused(t *testing.T) {
	d := &countingDriver{Driver: emu.New(2)}
	b := gpu.New(d)
	big := backend.NewConvGeom(4, 3, 16, 16, 8, 4, 2, 1)
	small := backend.NewConvGeom(2, 3, 8, 8, 4, 4, 2, 1)
	tensors := func(g backend.ConvGeom) (x, w, y backend.Tensor) {
		return b.New(g.N, g.C, g.H, g.W), b.New(g.K, g.C, g.R, g.R), b.New(g.N, g.K, g.OH, g.OW)
	}
	bx, bw, by := tensors(big)
	sx, sw, sy := tensors(small)
	for step := range 3 {
		before := d.allocs
		b.ConvForward(big, bx, bw, by)
		b.ConvBackwardData(big, by, bw, bx)
		b.ConvBackwardFilter(big, bx, by, bw)
		b.ConvForward(small, sx, sw, sy)
		b.ConvBackwardFilter(small, sx, sy, sw)
		want := 0
		if step == 0 {
			want = 1
		}
		if got := d.allocs - before; got != want {
			t.Errorf("step %d: %d allocations, want %d", step, got, want)
		}
	}
}

// TestNewOutOfMemory checks the panic of a tensor larger than the device.
func TestNewOutOfMemory(t *testing.T) {
	b := gpu.New(emu.New(1, emu.WithMemoryLimit(1<<20)))
	defer func() {
		err, ok := recover().(error)
		if !ok || !errors.Is(err, gpu.ErrOutOfMemory) {
			t.Fatalf("panic value %v, want an error wrapping gpu.ErrOutOfMemory", err)
		}
		for _, want := range []string{"New", "[64 3 64 64]", "smaller -batch"} {
			if !strings.Contains(err.Error(), want) {
				t.Errorf("error %q does not mention %q", err, want)
			}
		}
	}()
	b.New(64, 3, 64, 64)
}

// TestBackendShuffled runs the suite with blocks and threads in scrambled
// orders (WithShuffle): no kernel may depend on the order a GPU runs them in.
func TestBackendShuffled(t *testing.T) {
	backendtest.Run(t, gpu.New(emu.New(2, emu.WithShuffle(11))), tol)
}

// TestUploadsQueuedFromPinnedMemory: uploads between two waits are queued
// from pinned staging memory, and the emulator makes each such copy only at
// its next call, as a GPU makes it later: the caller may change its slice
// at once, several uploads share the staging memory, one that does not fit
// while others are in flight goes the synchronous way, and after a wait the
// staging memory grows to fit a larger one.
func TestUploadsQueuedFromPinnedMemory(t *testing.T) {
	b := gpu.New(emu.New(1))
	const n, large = 1000, 1 << 18
	x, y, z := b.New(n), b.New(n), b.New(large)
	src := make([]float32, large)
	fill := func(v float32) []float32 {
		for i := range src {
			src[i] = v
		}
		return src
	}
	check := func(when string, t2 backend.Tensor, want float32) {
		t.Helper()
		got := make([]float32, t2.Len())
		b.Download(got, t2)
		for i, v := range got {
			if v != want {
				t.Fatalf("%s: element %d is %v, want %v", when, i, v, want)
			}
		}
	}
	b.Upload(x, fill(1)[:n])
	b.Upload(y, fill(2)[:n])
	b.Upload(z, fill(3)) // does not fit beside x and y: synchronous
	check("x", x, 1)
	check("y", y, 2)
	check("z", z, 3)
	big := b.New(2 * large)
	b.Upload(big, append(fill(4), fill(4)...)) // after the waits: the staging grows
	check("big", big, 4)
}

// TestRecordRefuses: inside Record, an upload, a download, an allocation
// or a free panics (a recording holds device work on memory that outlives
// it), and the driver is out of capture after; SetRecording(false) makes
// Record fail with backend.ErrNoRecording; a recording whose memory was
// freed since is stale.
func TestRecordRefuses(t *testing.T) {
	b := gpu.New(emu.New(1))
	x, y := b.New(4), b.New(1)
	for name, f := range map[string]func(){
		"Upload":   func() { b.Upload(x, []float32{1, 2, 3, 4}) },
		"Download": func() { b.Download(make([]float32, 4), x) },
		"New":      func() { b.New(4) },
		"Free":     func() { b.Free(y) },
	} {
		var msg any
		func() {
			defer func() { msg = recover() }()
			b.Record(func() {
				b.Fill(x, 1)
				f()
			})
		}()
		if s, ok := msg.(string); !ok || !strings.Contains(s, name+" inside Record") {
			t.Errorf("%s inside Record: panic %v, want one naming it", name, msg)
		}
		b.Fill(x, 2) // runs: the driver is out of capture
		got := make([]float32, 4)
		b.Download(got, x)
		if got[0] != 2 {
			t.Fatalf("after the failed Record with %s, Fill gave %v", name, got)
		}
	}
	rec, err := b.Record(func() { b.Fill(x, 3) })
	if err != nil {
		t.Fatal(err)
	}
	b.Free(b.New(1))
	if err := rec.Replay(); !errors.Is(err, backend.ErrStale) {
		t.Errorf("Replay after a Free: %v, want backend.ErrStale", err)
	}
	b.SetRecording(false)
	if _, err := b.Record(func() {}); !errors.Is(err, backend.ErrNoRecording) {
		t.Errorf("Record after SetRecording(false): %v, want backend.ErrNoRecording", err)
	}
}
