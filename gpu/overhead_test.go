package gpu_test

import (
	"testing"

	"github.com/vaegan-go/vaegan/backend"
	"github.com/vaegan-go/vaegan/gpu"
	"github.com/vaegan-go/vaegan/model"
)

// noopDriver does nothing and counts the calls a training step makes: what
// is left of a step's time over it is the host's own overhead (the backend's
// bookkeeping, argument packing, allocations), which on a fast GPU bounds the
// step when kernels are short. Memory reads back as ones: finite losses, and
// flags that let the step's updates through.
// It records graphs (gpu.Capturer): a replay is one call; as opByOp, it
// does not, and the steps run op by op. It has pinned memory
// (gpu.Stager), so uploads are queued.
type noopDriver struct {
	next                                gpu.DevicePtr
	launches, gemms, uploads, downloads int
	copies, syncs, replays, queued      int         // queued: uploads from pinned memory (CopyHtoDAsync)
	sinceDownload                       int         // calls since the last copy to the host
	sources                             [2]*float32 // the memory the last two queued uploads read
}

func (d *noopDriver) calls() int {
	return d.launches + d.gemms + d.uploads + d.downloads + d.copies + d.syncs + d.replays + d.queued
}

// opByOp is a noopDriver that refuses to capture, as the CUDA driver does
// with -cuda-debug.
type opByOp struct{ *noopDriver }

func (opByOp) BeginCapture() error { return gpu.ErrNoCapture }

// counts returns the driver whose calls are counted.
func (d *noopDriver) counts() *noopDriver { return d }

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

func (d *noopDriver) AllocPinned(n int) ([]float32, error) { return make([]float32, n), nil }
func (d *noopDriver) FreePinned([]float32) error           { return nil }
func (d *noopDriver) CopyHtoDAsync(_ gpu.DevicePtr, src []float32) error {
	d.sources[d.queued%2] = &src[0]
	d.call(&d.queued)
	return nil
}

func (d *noopDriver) BeginCapture() error            { return nil }
func (d *noopDriver) EndCapture() (gpu.Graph, error) { return noopGraph{d}, nil }

// noopGraph is a noopDriver's graph: its replay is one call.
type noopGraph struct{ d *noopDriver }

func (g noopGraph) Replay() error  { g.d.call(&g.d.replays); return nil }
func (g noopGraph) Destroy() error { return nil }

// mode is a way the CUDA backend runs steps over a noopDriver: replaying
// the recorded step (CUDA graphs) or op by op, with the batch in ordinary
// memory or in pinned memory from HostBuffer (as the trainer's loader
// decodes it).
type mode struct {
	name   string
	d      gpu.Driver
	pinned bool
}

// modes are the modes over d.
func modes(d *noopDriver) []mode {
	return []mode{{"graph", d, false}, {"graph-pinned-batch", d, true}, {"op-by-op", opByOp{d}, false}}
}

// trainerFor is steppedTrainer over m's driver, its batch where m has it.
func trainerFor(tb testing.TB, m mode, arch string, batch int) (*model.Trainer, []float32) {
	tr, x := steppedTrainer(tb, m.d, arch, batch)
	if m.pinned {
		x = append(tr.B.(backend.HostAllocator).HostBuffer(len(x))[:0], x...)
	}
	return tr, x
}

// steppedTrainer is a VAE-GAN of arch on the CUDA backend over d, with a
// batch of blank images that it has taken two steps on (the first sets up
// what later ones reuse, the second records the step where d captures).
func steppedTrainer(tb testing.TB, d gpu.Driver, arch string, batch int) (*model.Trainer, []float32) {
	tb.Helper()
	tr, err := model.NewTrainer(gpu.New(d), model.Config{Arch: arch, Model: model.VAEGAN, Batch: batch,
		Optim: model.OptimConfig{Kind: "adam"}, NoEquilibrium: true, Seed: 1})
	if err != nil {
		tb.Fatal(err)
	}
	x := make([]float32, batch*tr.Arch.ImageLen())
	for range 2 {
		if _, err := tr.Step(x); err != nil {
			tb.Fatal(err)
		}
	}
	return tr, x
}

// BenchmarkStepHostOverhead times training steps of each architecture's
// VAE-GAN on the CUDA backend over a driver that does nothing, replaying the
// recorded step (graph) and op by op: the host's time and allocations per
// step, the driver calls per step by kind (launches, SGEMMs, copies to and
// from the host and within the device, graph replays, synchronisations; a
// copy to the host waits for the device as a synchronisation does) and the
// time per call. Issue 11's target: under 1 µs and 0 allocations per call.
func BenchmarkStepHostOverhead(b *testing.B) {
	for _, arch := range []string{"mnist", "celeba64"} {
		for _, mode := range modes(&noopDriver{}) {
			b.Run(arch+"/"+mode.name, func(b *testing.B) {
				tr, x := trainerFor(b, mode, arch, 64)
				d := mode.d.(interface{ counts() *noopDriver }).counts()
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
				b.ReportMetric(per(d.queued), "queued-uploads/step")
				b.ReportMetric(per(d.downloads), "downloads/step")
				b.ReportMetric(per(d.copies), "dtod/step")
				b.ReportMetric(per(d.replays), "replays/step")
				b.ReportMetric(per(d.syncs), "syncs/step")
				b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(d.calls()), "ns/call")
			})
		}
	}
}

// TestStepLaunchesAllocateNothing: a steady training step of the CUDA
// backend allocates nothing on the host, whatever the driver, replayed or
// op by op: launch arguments are typed values in a reused buffer, not boxed
// into interfaces.
func TestStepLaunchesAllocateNothing(t *testing.T) {
	for _, arch := range []string{"mnist", "celeba64"} {
		for _, mode := range modes(&noopDriver{}) {
			tr, x := trainerFor(t, mode, arch, 8)
			if n := testing.AllocsPerRun(3, func() {
				if _, err := tr.Step(x); err != nil {
					t.Fatal(err)
				}
			}); n != 0 {
				t.Errorf("%s, %s: %.0f allocations per step", arch, mode.name, n)
			}
		}
	}
}

// TestStepWaitsOnlyAtItsEnd: a training step queues all its work, the
// updates included, before its one wait for the device (the copy of the
// losses and flags to the host): the finite check and the equilibrium rule
// run on the device, so the GPU never idles while the host decides. A
// replayed step makes four calls: two uploads (the batch, the step's
// scalars, both queued from pinned memory), the replay, the download.
func TestStepWaitsOnlyAtItsEnd(t *testing.T) {
	for _, arch := range []string{"mnist", "celeba64"} {
		for _, mode := range modes(&noopDriver{}) {
			tr, x := trainerFor(t, mode, arch, 8)
			d := mode.d.(interface{ counts() *noopDriver }).counts()
			before := *d
			if _, err := tr.Step(x); err != nil {
				t.Fatal(err)
			}
			if n := d.downloads - before.downloads; n != 1 || d.sinceDownload != 0 || d.syncs != before.syncs {
				t.Errorf("%s, %s: a step made %d copies to the host and %d synchronisations, and %d calls after its last copy; want 1, 0, 0",
					arch, mode.name, n, d.syncs-before.syncs, d.sinceDownload)
			}
			if calls := d.calls() - before.calls(); mode.name == "graph" && calls != 4 {
				t.Errorf("%s: a replayed step made %d driver calls, want 4", arch, calls)
			}
			if q, u := d.queued-before.queued, d.uploads-before.uploads; q != 2 || u != 0 {
				t.Errorf("%s, %s: a step queued %d uploads from pinned memory and made %d synchronous ones; want 2 and 0", arch, mode.name, q, u)
			}
			if fromBatch := d.sources[0] == &x[0] || d.sources[1] == &x[0]; fromBatch != mode.pinned {
				t.Errorf("%s, %s: the batch's upload read the caller's memory: %v, want %v (a pinned batch is uploaded without a staging copy)",
					arch, mode.name, fromBatch, mode.pinned)
			}
		}
	}
}

// TestStagingGrowsToTheUploadsBetweenWaits: an upload that does not fit in
// the pinned staging memory beside others in flight goes the synchronous
// way once; after the next wait the staging memory grows to hold them all,
// so a training step's uploads are all queued from its second step on.
func TestStagingGrowsToTheUploadsBetweenWaits(t *testing.T) {
	d := &noopDriver{}
	b := gpu.New(d)
	const n = 1 << 19 // more than the least staging memory
	small, big := b.New(10), b.New(n)
	for round, want := range [][2]int{{1, 1}, {2, 0}} {
		before := *d
		b.Upload(small, make([]float32, 10))
		b.Upload(big, make([]float32, n))
		b.Download(make([]float32, 10), small)
		if q, u := d.queued-before.queued, d.uploads-before.uploads; q != want[0] || u != want[1] {
			t.Errorf("round %d: %d uploads queued and %d synchronous, want %d and %d", round+1, q, u, want[0], want[1])
		}
	}
}
