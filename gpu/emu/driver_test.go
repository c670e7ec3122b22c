//go:build cgo

package emu_test

import (
	"errors"
	"math"
	"os"
	"os/exec"
	"slices"
	"strings"
	"testing"

	"github.com/vaegan-go/vaegan/gpu"
	"github.com/vaegan-go/vaegan/gpu/emu"
	"github.com/vaegan-go/vaegan/gpu/emu/drivertest"
)

func newDriver(t testing.TB, workers int, opts ...emu.Option) *emu.Driver {
	d := emu.New(workers, opts...)
	t.Cleanup(func() {
		if err := d.Close(); err != nil {
			t.Error(err)
		}
	})
	return d
}

// TestDriver runs the driver test suite on the emulator with several
// workers, so that blocks run in parallel.
func TestDriver(t *testing.T) {
	drivertest.Run(t, newDriver(t, 3))
}

func TestFreshMemoryIsNaN(t *testing.T) {
	d := newDriver(t, 1)
	for _, v := range drivertest.Download(t, d, drivertest.Alloc(t, d, 5), 5) {
		if !math.IsNaN(float64(v)) {
			t.Fatalf("fresh memory holds %v, want NaN", v)
		}
	}
}

func TestLaunchErrors(t *testing.T) {
	d := newDriver(t, 2)
	x := drivertest.Alloc(t, d, 64)
	one := gpu.Dim3{X: 1, Y: 1, Z: 1}
	b64 := gpu.Dim3{X: 64, Y: 1, Z: 1}
	cases := []struct {
		name        string
		kernel      string
		grid, block gpu.Dim3
		shared      int
		args        []gpu.Arg
		want        string
	}{
		{"unknown kernel", "no_such_kernel", one, one, 0, nil, "no such kernel"},
		{"too few arguments", "emutest_affine", one, b64, 0, drivertest.Args(x, x, 64), "3 arguments for 5 parameters"},
		{"int for float", "emutest_affine", one, b64, 0, drivertest.Args(x, x, 64, 1, float32(0)), "int for a parameter of type float"},
		{"pointer for int", "emutest_affine", one, b64, 0, drivertest.Args(x, x, x, float32(1), float32(0)), "DevicePtr for a parameter of type int"},
		{"int overflow", "emutest_affine", one, b64, 0, drivertest.Args(x, x, 1<<40, float32(1), float32(0)), "32-bit int"},
		{"stray pointer", "emutest_affine", one, b64, 0, drivertest.Args(x, gpu.DevicePtr(16), 64, float32(1), float32(0)), "not in a live allocation"},
		{"1025 threads", "emutest_bad_barrier", one, gpu.Dim3{X: 1025, Y: 1, Z: 1}, 0, drivertest.Args(x, 1), "at most (1024,1024,64)"},
		{"32×64 threads", "emutest_bad_barrier", one, gpu.Dim3{X: 32, Y: 64, Z: 1}, 0, drivertest.Args(x, 1), "2048 threads per block"},
		{"empty block", "emutest_bad_barrier", one, gpu.Dim3{X: 0, Y: 1, Z: 1}, 0, drivertest.Args(x, 1), "at least 1"},
		{"grid y", "emutest_bad_barrier", gpu.Dim3{X: 1, Y: 65536, Z: 1}, one, 0, drivertest.Args(x, 1), "grid dimensions"},
		{"shared", "emutest_reverse", one, b64, 48<<10 + 4, drivertest.Args(x, x, 64), "dynamic shared memory"},
		{"partial barrier", "emutest_bad_barrier", gpu.Dim3{X: 2, Y: 1, Z: 1}, b64, 0, drivertest.Args(x, 10), "__syncthreads reached by 10 of 64 threads"},
	}
	for _, c := range cases {
		err := d.Launch(c.kernel, c.grid, c.block, c.shared, c.args)
		if err == nil {
			t.Errorf("%s: no error", c.name)
			continue
		}
		shape := "launch " + c.kernel + " grid (" // the error names the kernel and its shape
		if !strings.Contains(err.Error(), c.want) || !strings.Contains(err.Error(), shape) {
			t.Errorf("%s: error %q, want it to contain %q and %q", c.name, err, c.want, shape)
		}
	}
	// The driver still works after the failed launches.
	drivertest.Launch(t, d, "emutest_affine", one, b64, 0, x, x, 0, float32(1), float32(0))
}

func TestMemoryErrors(t *testing.T) {
	d := newDriver(t, 1, emu.WithMemoryLimit(1000))
	p, err := d.Alloc(800)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := d.Alloc(400); !errors.Is(err, gpu.ErrOutOfMemory) || !strings.Contains(err.Error(), "400 bytes") {
		t.Errorf("Alloc beyond the limit: error %v, want gpu.ErrOutOfMemory naming 400 bytes", err)
	}
	if _, err := d.Alloc(-1); err == nil {
		t.Error("Alloc(-1): no error")
	}
	if err := d.CopyHtoD(p+4, make([]float32, 200)); err == nil || !strings.Contains(err.Error(), "not inside one live allocation") {
		t.Errorf("CopyHtoD past the end: error %v", err)
	}
	if err := d.CopyDtoD(p, p+400, 101); err == nil {
		t.Error("CopyDtoD past the end: no error")
	}
	if err := d.Free(p + 4); err == nil {
		t.Error("Free of an inner address: no error")
	}
	if err := d.Free(p); err != nil {
		t.Fatal(err)
	}
	if err := d.Free(p); err == nil {
		t.Error("double Free: no error")
	}
	if err := d.CopyDtoH(make([]float32, 1), p); err == nil {
		t.Error("CopyDtoH from freed memory: no error")
	}
	if _, err := d.Alloc(1000); err != nil {
		t.Errorf("Alloc of the whole limit after Free: %v", err)
	}
}

func TestClosed(t *testing.T) {
	d := emu.New(1)
	if err := d.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := d.Alloc(4); err == nil || !strings.Contains(err.Error(), "closed") {
		t.Errorf("Alloc after Close: error %v, want one saying the driver is closed", err)
	}
}

// BenchmarkBlockSum1M reduces 2^20 floats in 256-thread blocks on
// GOMAXPROCS workers.
func BenchmarkBlockSum1M(b *testing.B) {
	drivertest.BenchBlockSum(b, newDriver(b, 0))
}

// launchOrder runs emutest_order over 4 blocks of 64 threads and returns the
// global thread ids in the order they ran.
func launchOrder(t *testing.T, d *emu.Driver) []int {
	const n = 256
	out := drivertest.Alloc(t, d, n)
	count := drivertest.Upload(t, d, []float32{0}, 0)
	drivertest.Launch(t, d, "emutest_order", gpu.Dim3{X: 4, Y: 1, Z: 1}, gpu.Dim3{X: 64, Y: 1, Z: 1}, 0, out, count, n)
	got := drivertest.Download(t, d, out, n)
	ids := make([]int, n)
	for k, v := range got {
		ids[k] = int(v)
	}
	return ids
}

// TestShuffleScramblesOrder: one worker runs blocks and threads in order;
// WithShuffle runs every thread once, in another order, different across
// blocks, the same for the same seed.
func TestShuffleScramblesOrder(t *testing.T) {
	inOrder := launchOrder(t, newDriver(t, 1))
	for k, id := range inOrder {
		if id != k {
			t.Fatalf("without a shuffle, the %d-th thread to run was %d", k, id)
		}
	}
	a := launchOrder(t, newDriver(t, 1, emu.WithShuffle(3)))
	b := launchOrder(t, newDriver(t, 1, emu.WithShuffle(3)))
	c := launchOrder(t, newDriver(t, 1, emu.WithShuffle(4)))
	if !slices.Equal(a, b) {
		t.Fatal("the same seed gave two orders")
	}
	if slices.Equal(a, c) || slices.Equal(a, inOrder) {
		t.Fatal("seeds 3 and 4 (or 3 and none) gave the same order")
	}
	seen := make([]bool, len(a))
	firstBlock := a[0] / 64
	blockMoved := false
	for k, id := range a {
		if seen[id] {
			t.Fatalf("thread %d ran twice", id)
		}
		seen[id] = true
		if k%64 == 0 && id/64 != k/64 {
			blockMoved = true
		}
	}
	if !blockMoved && firstBlock == 0 {
		t.Fatalf("blocks still ran in order: %v", a[:8])
	}
}

// TestBlockSumTrapsOnOtherBlockSizes launches a kernel that reduces with
// block_sum (bias_backward) with 128 threads instead of BLOCK's 256: the
// kernel must trap, ending the process with a message naming it, rather
// than sum half a block. The launch runs in a child process.
func TestBlockSumTrapsOnOtherBlockSizes(t *testing.T) {
	if os.Getenv("EMU_TRAP_CHILD") == "1" {
		d := emu.New(1)
		const n, c, s = 2, 3, 4
		db := drivertest.Upload(t, d, make([]float32, c), 0)
		part := drivertest.Upload(t, d, make([]float32, c), 0)
		count := drivertest.Upload(t, d, make([]float32, c), 0)
		dy := drivertest.Upload(t, d, make([]float32, n*c*s), 0)
		err := d.Launch("bias_backward", gpu.Dim3{X: 1, Y: c, Z: 1}, gpu.Dim3{X: 128, Y: 1, Z: 1}, 0, drivertest.Args(db, part, count, dy, n, c, s, 1))
		t.Fatalf("the launch returned (%v) instead of trapping", err)
	}
	cmd := exec.Command(os.Args[0], "-test.run", "^TestBlockSumTrapsOnOtherBlockSizes$")
	cmd.Env = append(os.Environ(), "EMU_TRAP_CHILD=1")
	out, err := cmd.CombinedOutput()
	if err == nil || !strings.Contains(string(out), "emu: kernel bias_backward trapped (__trap)") {
		t.Fatalf("bias_backward with 128 threads: %v, want it to trap; output:\n%s", err, out)
	}
}

// TestAsyncErrorsSurfaceLater: with WithAsyncErrors a kernel that fails while
// running (a barrier half its threads skip) returns nil from Launch, as on a
// GPU; the next call (a launch, a copy, a synchronisation) reports it,
// naming the kernel, and so does every later one; through the CUDA backend
// it surfaces as the Download's error.
func TestAsyncErrorsSurfaceLater(t *testing.T) {
	d := newDriver(t, 1, emu.WithAsyncErrors())
	x, err := d.Alloc(4 * 64) // freed by Close: Free fails too once a kernel has failed
	if err != nil {
		t.Fatal(err)
	}
	b64 := gpu.Dim3{X: 64, Y: 1, Z: 1}
	if err := d.Launch("emutest_bad_barrier", gpu.Dim3{X: 1, Y: 1, Z: 1}, b64, 0, drivertest.Args(x, 10)); err != nil {
		t.Fatalf("the failing launch itself reported %v; want nil, the error at the next call", err)
	}
	for _, call := range []func() error{
		func() error {
			return d.Launch("emutest_affine", gpu.Dim3{X: 1, Y: 1, Z: 1}, b64, 0, drivertest.Args(x, x, 64, float32(1), float32(0)))
		},
		func() error { return d.CopyDtoH(make([]float32, 4), x) },
		d.Synchronize,
	} {
		err := call()
		if err == nil || !strings.Contains(err.Error(), "an earlier kernel failed") || !strings.Contains(err.Error(), "emutest_bad_barrier") {
			t.Errorf("a call after the failed kernel: %v, want the kernel's error", err)
		}
	}

	d2 := emu.New(1, emu.WithAsyncErrors())
	b := gpu.New(d2)
	y := b.New(64)
	if err := d2.Launch("emutest_bad_barrier", gpu.Dim3{X: 1, Y: 1, Z: 1}, b64, 0, drivertest.Args(gpu.DevicePtr(0), 10)); err != nil {
		t.Fatal(err)
	}
	defer func() {
		r := recover()
		e, ok := r.(*gpu.Error)
		if !ok || e.Op != "Download" || !strings.Contains(e.Error(), "emutest_bad_barrier") {
			t.Errorf("Download after the failed kernel panicked with %v, want a *gpu.Error of Download naming the kernel", r)
		}
	}()
	b.Download(make([]float32, 64), y)
}

// TestCaptureStrictness: during a capture the emulator refuses, as CUDA's
// stream capture does, every call that is not recorded work; a replay after
// memory the graph uses was freed fails naming the operation, where a GPU
// would fault; a destroyed graph does not replay.
func TestCaptureStrictness(t *testing.T) {
	d := newDriver(t, 1)
	x, err := d.Alloc(16) // freed below, so not drivertest.Alloc's
	if err != nil {
		t.Fatal(err)
	}
	refused := map[string]func() error{
		"Synchronize": d.Synchronize,
		"Alloc":       func() error { _, err := d.Alloc(4); return err },
		"Free":        func() error { return d.Free(x) },
		"CopyDtoH":    func() error { return d.CopyDtoH(make([]float32, 4), x) },
	}
	for name, call := range refused {
		if err := d.BeginCapture(); err != nil {
			t.Fatal(err)
		}
		if err := call(); err == nil || !strings.Contains(err.Error(), "during a graph capture") {
			t.Errorf("%s during a capture: %v, want a refusal", name, err)
		}
		if _, err := d.EndCapture(); err == nil || !strings.Contains(err.Error(), name) {
			t.Errorf("EndCapture after a refused %s: %v, want the capture's failure naming it", name, err)
		}
	}

	y := drivertest.Alloc(t, d, 4)
	if err := d.BeginCapture(); err != nil {
		t.Fatal(err)
	}
	if err := d.CopyDtoD(y, x, 4); err != nil {
		t.Fatal(err)
	}
	g, err := d.EndCapture()
	if err != nil {
		t.Fatal(err)
	}
	if err := d.Free(x); err != nil {
		t.Fatal(err)
	}
	if err := g.Replay(); err == nil || !strings.Contains(err.Error(), "CopyDtoD source") {
		t.Errorf("replay after its source was freed: %v, want an error naming the CopyDtoD source", err)
	}
	if err := g.Destroy(); err != nil {
		t.Fatal(err)
	}
	if err := g.Replay(); err == nil {
		t.Error("a destroyed graph replayed")
	}
}
