package steptest

import (
	"bytes"
	"math"
	"os"
	"path/filepath"
	"testing"

	"github.com/vaegan-go/vaegan/gpu"
	"github.com/vaegan-go/vaegan/model"
)

// launchCounter counts the launches a driver is asked for one by one (a
// replayed graph's launches do not come through Launch) and passes the
// capture calls on.
type launchCounter struct {
	gpu.Driver
	launches int
}

func (d *launchCounter) Launch(name string, grid, block gpu.Dim3, shared int, args []gpu.Arg) error {
	d.launches++
	return d.Driver.Launch(name, grid, block, shared, args)
}

func (d *launchCounter) BeginCapture() error { return d.Driver.(gpu.Capturer).BeginCapture() }

func (d *launchCounter) EndCapture() (gpu.Graph, error) { return d.Driver.(gpu.Capturer).EndCapture() }

// CheckRecordedSteps trains every model for 8 steps on the CUDA backend
// over a driver from newDriver (a gpu.Capturer) twice: replaying recorded
// steps (CUDA graphs) and op by op (SetRecording(false)). The results of
// every step and the state after the last must be the same bit for bit,
// through the equilibrium rule's branches, the decoder's weight average, a
// recording made stale by an evaluation pass that grows the scratch memory
// and a change of γ; and a replayed step makes no launch of its own.
func CheckRecordedSteps(t *testing.T, newDriver func() gpu.Driver) {
	const batch, steps = 2, 8
	dir := t.TempDir()
	for _, m := range model.ModelNames() {
		t.Run(m, func(t *testing.T) {
			cfg := model.Config{Arch: "mnist", Model: m, Batch: batch, Optim: model.OptimConfig{Kind: "adam"}, Seed: 3, EMA: 0.9, Margin: 0.05}
			d := &launchCounter{Driver: newDriver()}
			rec, err := model.NewTrainer(gpu.New(d), cfg)
			if err != nil {
				t.Fatal(err)
			}
			opByOp := gpu.New(newDriver())
			opByOp.SetRecording(false)
			ref, err := model.NewTrainer(opByOp, cfg)
			if err != nil {
				t.Fatal(err)
			}
			x := make([]float32, batch*rec.Arch.ImageLen())
			replayed, skipDis, skipDec := 0, 0, 0
			for s := range steps {
				for i := range x {
					x[i] = float32(math.Sin(float64(i*(s+1)) * 0.37))
				}
				switch s {
				case 3: // an evaluation pass at 64 images grows the workspace
					z := make([]float32, 64*rec.Arch.Latent)
					for _, tr := range []*model.Trainer{rec, ref} {
						if _, err := tr.Decode(z); err != nil {
							t.Fatal(err)
						}
					}
				case 5:
					rec.Gamma, ref.Gamma = 2, 2
				}
				before := d.launches
				got, err := rec.Step(x)
				if err != nil {
					t.Fatal(err)
				}
				want, err := ref.Step(x)
				if err != nil {
					t.Fatal(err)
				}
				if got != want {
					t.Errorf("step %d: recorded %+v, op by op %+v", s+1, got, want)
				}
				if !got.UpdateDis {
					skipDis++
				}
				if !got.UpdateDec {
					skipDec++
				}
				launched := d.launches - before
				if launched == 0 {
					replayed++
				}
				// Step 1 runs op by op, step 2 records, 3 replays; 4 finds
				// the recording stale: op by op; 5 records; 6 finds γ
				// changed: op by op; 7 records, 8 replays.
				if replay := s == 2 || s == 7; replay != (launched == 0) {
					t.Errorf("step %d made %d launches of its own; want %s", s+1, launched,
						map[bool]string{true: "none (a replay)", false: "some (op by op, or recording)"}[replay])
				}
			}
			a, b := filepath.Join(dir, m+"-rec.safetensors"), filepath.Join(dir, m+"-ref.safetensors")
			if err := rec.Save(a, nil); err != nil {
				t.Fatal(err)
			}
			if err := ref.Save(b, nil); err != nil {
				t.Fatal(err)
			}
			ba, _ := os.ReadFile(a)
			bb, _ := os.ReadFile(b)
			if !bytes.Equal(ba, bb) {
				t.Errorf("the state after %d steps differs between recorded and op-by-op steps", steps)
			}
			t.Logf("%s: %d of %d steps replayed; the discriminator skipped in %d, the decoder in %d", m, replayed, steps, skipDis, skipDec)
		})
	}
}
