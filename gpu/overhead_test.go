package gpu_test

import (
	"testing"

	"github.com/vaegan-go/vaegan/gpu"
	"github.com/vaegan-go/vaegan/model"
)

// noopDriver does nothing and counts the calls a training step makes: what
// is left of a step's time over it is the host's own overhead (the backend's
// bookkeeping, argument packing, allocations), which on a fast GPU bounds the
// step when kernels are short. Memory reads back as ones: finite losses, and
// flags that let the step's updates through.
type noopDriver struct {
	next                                gpu.DevicePtr
	launches, gemms, uploads, downloads int
	copies, syncs                       int
	sinceDownload                       int // calls since the last copy to the host
}

func (d *noopDriver) calls() int {
	return d.launches + d.gemms + d.uploads + d.downloads + d.copies + d.syncs
}

// call counts one call of a kind (a field of d) that does not read the device.
func (d *noopDriver) call(kind *int) {
	*kind++
	d.sinceDownload++
}

func (d *noopDriver) Name() string { return "no-op" }
func (d *noopDriver) Alloc(n int) (gpu.DevicePtr, error) {
	d.next += gpu.DevicePtr(max(n, 4)+255) &^ 255
	return d.next, nil
}
func (d *noopDriver) Free(gpu.DevicePtr) error                { return nil }
func (d *noopDriver) CopyHtoD(gpu.DevicePtr, []float32) error { d.call(&d.uploads); return nil }
func (d *noopDriver) CopyDtoH(dst []float32, _ gpu.DevicePtr) error {
	d.downloads++
	d.sinceDownload = 0
	for i := range dst {
		dst[i] = 1
	}
	return nil
}
func (d *noopDriver) CopyDtoD(gpu.DevicePtr, gpu.DevicePtr, int) error {
	d.call(&d.copies)
	return nil
}
func (d *noopDriver) Launch(string, gpu.Dim3, gpu.Dim3, int, []gpu.Arg) error {
	d.call(&d.launches)
	return nil
}
func (d *noopDriver) Sgemm(bool, bool, int, int, int, float32, gpu.DevicePtr, int, gpu.DevicePtr, int, float32, gpu.DevicePtr, int) error {
	d.call(&d.gemms)
	return nil
}
func (d *noopDriver) Synchronize() error { d.call(&d.syncs); return nil }
func (d *noopDriver) Close() error       { return nil }

// steppedTrainer is a VAE-GAN of arch on the CUDA backend over d, with a
// batch of blank images that it has taken one step on (the first step sets
// up what later ones reuse).
func steppedTrainer(tb testing.TB, d gpu.Driver, arch string, batch int) (*model.Trainer, []float32) {
	tb.Helper()
	tr, err := model.NewTrainer(gpu.New(d), model.Config{Arch: arch, Model: model.VAEGAN, Batch: batch,
		Optim: model.OptimConfig{Kind: "adam"}, NoEquilibrium: true, Seed: 1})
	if err != nil {
		tb.Fatal(err)
	}
	x := make([]float32, batch*tr.Arch.ImageLen())
	if _, err := tr.Step(x); err != nil {
		tb.Fatal(err)
	}
	return tr, x
}

// BenchmarkStepHostOverhead times training steps of each architecture's
// VAE-GAN on the CUDA backend over a driver that does nothing: the host's
// time and allocations per step, the driver calls per step by kind
// (launches, SGEMMs, copies to and from the host and within the device,
// synchronisations; a copy to the host waits for the device as a
// synchronisation does) and the time per call. Issue 11's target: under 1 µs and 0 allocations per call.
func BenchmarkStepHostOverhead(b *testing.B) {
	for _, arch := range []string{"mnist", "celeba64"} {
		b.Run(arch, func(b *testing.B) {
			d := &noopDriver{}
			tr, x := steppedTrainer(b, d, arch, 64)
			*d = noopDriver{next: d.next}
			b.ReportAllocs()
			b.ResetTimer()
			for b.Loop() {
				if _, err := tr.Step(x); err != nil {
					b.Fatal(err)
				}
			}
			b.StopTimer()
			per := func(n int) float64 { return float64(n) / float64(b.N) }
			b.ReportMetric(per(d.calls()), "calls/step")
			b.ReportMetric(per(d.launches), "launches/step")
			b.ReportMetric(per(d.gemms), "sgemms/step")
			b.ReportMetric(per(d.uploads), "uploads/step")
			b.ReportMetric(per(d.downloads), "downloads/step")
			b.ReportMetric(per(d.copies), "dtod/step")
			b.ReportMetric(per(d.syncs), "syncs/step")
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(d.calls()), "ns/call")
		})
	}
}

// TestStepLaunchesAllocateNothing: a steady training step of the CUDA
// backend allocates nothing on the host, whatever the driver: launch
// arguments are typed values in a reused buffer, not boxed into interfaces.
func TestStepLaunchesAllocateNothing(t *testing.T) {
	for _, arch := range []string{"mnist", "celeba64"} {
		tr, x := steppedTrainer(t, &noopDriver{}, arch, 8)
		if n := testing.AllocsPerRun(3, func() {
			if _, err := tr.Step(x); err != nil {
				t.Fatal(err)
			}
		}); n != 0 {
			t.Errorf("%s: %.0f allocations per step", arch, n)
		}
	}
}

// TestStepWaitsOnlyAtItsEnd: a training step queues all its work, the
// updates included, before its one wait for the device (the copy of the
// losses and flags to the host): the finite check and the equilibrium rule
// run on the device, so the GPU never idles while the host decides.
func TestStepWaitsOnlyAtItsEnd(t *testing.T) {
	for _, arch := range []string{"mnist", "celeba64"} {
		d := &noopDriver{}
		tr, x := steppedTrainer(t, d, arch, 8)
		before := *d
		if _, err := tr.Step(x); err != nil {
			t.Fatal(err)
		}
		if n := d.downloads - before.downloads; n != 1 || d.sinceDownload != 0 || d.syncs != before.syncs {
			t.Errorf("%s: a step made %d copies to the host and %d synchronisations, and %d calls after its last copy; want 1, 0, 0",
				arch, n, d.syncs-before.syncs, d.sinceDownload)
		}
	}
}
