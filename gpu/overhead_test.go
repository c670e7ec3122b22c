package gpu_test

import (
	"testing"

	"github.com/vaegan-go/vaegan/gpu"
	"github.com/vaegan-go/vaegan/model"
)

// noopDriver does nothing and counts the calls a training step makes: what
// is left of a step's time over it is the host's own overhead (the backend's
// bookkeeping, argument packing, allocations), which on a fast GPU bounds the
// step when kernels are short. Memory reads back as zeros.
type noopDriver struct {
	next  gpu.DevicePtr
	calls int
}

func (d *noopDriver) Name() string { return "no-op" }
func (d *noopDriver) Alloc(n int) (gpu.DevicePtr, error) {
	d.next += gpu.DevicePtr(max(n, 4)+255) &^ 255
	return d.next, nil
}
func (d *noopDriver) Free(gpu.DevicePtr) error                { return nil }
func (d *noopDriver) CopyHtoD(gpu.DevicePtr, []float32) error { d.calls++; return nil }
func (d *noopDriver) CopyDtoH(dst []float32, _ gpu.DevicePtr) error {
	d.calls++
	clear(dst)
	return nil
}
func (d *noopDriver) CopyDtoD(gpu.DevicePtr, gpu.DevicePtr, int) error {
	d.calls++
	return nil
}
func (d *noopDriver) Launch(string, gpu.Dim3, gpu.Dim3, int, []gpu.Arg) error {
	d.calls++
	return nil
}
func (d *noopDriver) Sgemm(bool, bool, int, int, int, float32, gpu.DevicePtr, int, gpu.DevicePtr, int, float32, gpu.DevicePtr, int) error {
	d.calls++
	return nil
}
func (d *noopDriver) Synchronize() error { d.calls++; return nil }
func (d *noopDriver) Close() error       { return nil }

// BenchmarkStepHostOverhead times training steps of each architecture's
// VAE-GAN on the CUDA backend over a driver that does nothing: the host's
// time and allocations per step and per driver call (calls/step, ns/call,
// allocs/call). Issue 11's target: under 1 µs and 0 allocations per call.
func BenchmarkStepHostOverhead(b *testing.B) {
	for _, arch := range []string{"mnist", "celeba64"} {
		b.Run(arch, func(b *testing.B) {
			d := &noopDriver{}
			tr, err := model.NewTrainer(gpu.New(d), model.Config{Arch: arch, Model: model.VAEGAN, Batch: 64,
				Optim: model.OptimConfig{Kind: "adam"}, NoEquilibrium: true, Seed: 1})
			if err != nil {
				b.Fatal(err)
			}
			x := make([]float32, 64*tr.Arch.ImageLen())
			if _, err := tr.Step(x); err != nil {
				b.Fatal(err)
			}
			d.calls = 0
			b.ReportAllocs()
			b.ResetTimer()
			for b.Loop() {
				if _, err := tr.Step(x); err != nil {
					b.Fatal(err)
				}
			}
			b.StopTimer()
			perStep := float64(d.calls) / float64(b.N)
			b.ReportMetric(perStep, "calls/step")
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(d.calls), "ns/call")
		})
	}
}

// TestStepLaunchesAllocateNothing: a steady training step of the CUDA
// backend allocates nothing on the host, whatever the driver: launch
// arguments are typed values in a reused buffer, not boxed into interfaces.
func TestStepLaunchesAllocateNothing(t *testing.T) {
	for _, arch := range []string{"mnist", "celeba64"} {
		tr, err := model.NewTrainer(gpu.New(&noopDriver{}), model.Config{Arch: arch, Model: model.VAEGAN, Batch: 8,
			Optim: model.OptimConfig{Kind: "adam"}, NoEquilibrium: true, Seed: 1})
		if err != nil {
			t.Fatal(err)
		}
		x := make([]float32, 8*tr.Arch.ImageLen())
		if _, err := tr.Step(x); err != nil {
			t.Fatal(err)
		}
		if n := testing.AllocsPerRun(3, func() {
			if _, err := tr.Step(x); err != nil {
				t.Fatal(err)
			}
		}); n != 0 {
			t.Errorf("%s: %.0f allocations per step", arch, n)
		}
	}
}
