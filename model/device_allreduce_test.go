//go:build cgo

package model

import (
	"math"
	"testing"

	"github.com/vaegan-go/vaegan/backend"
	"github.com/vaegan-go/vaegan/comm"
	"github.com/vaegan-go/vaegan/gpu"
	"github.com/vaegan-go/vaegan/gpu/emu"
)

// TestDeviceAllReduceMatchesHost trains 2 ranks on emulated GPUs twice: with
// the all-reduce through host memory and the Comm, and in device memory
// through the drivers' AllReduce (the path NCCL takes on GPUs). Two ranks'
// sums and halvings are exact either way, so every loss and every state
// tensor must be equal bit for bit.
func TestDeviceAllReduceMatchesHost(t *testing.T) {
	const steps, global, n = 2, 4, 2
	cfg := Config{Arch: "mnist", Model: VAEGAN, Batch: global, Optim: OptimConfig{Kind: "adam"}, NoEquilibrium: true, Seed: 9}
	a, _ := LookupArch("mnist")
	batches := randomBatches(steps, global, a.ImageLen(), 4)
	run := func(onDevice bool) ([]*Trainer, [][]Result) {
		return trainRanksOn(t, cfg, n, batches, nil, func(r int, c comm.Comm) (backend.Backend, backend.AllReducer) {
			d := emu.New(1)
			b := gpu.New(d)
			if !onDevice {
				return b, nil
			}
			d.JoinGroup(c)
			return b, b
		})
	}
	hostRanks, hostRes := run(false)
	devRanks, devRes := run(true)
	for r := range n {
		for s := range steps {
			if devRes[r][s] != hostRes[r][s] {
				t.Errorf("rank %d step %d: %+v on the device, %+v through the host", r, s, devRes[r][s], hostRes[r][s])
			}
		}
		ds, hs := devRanks[r].stateTensors(), hostRanks[r].stateTensors()
		for i := range ds {
			dv, hv := download(devRanks[r].B, ds[i]), download(hostRanks[r].B, hs[i])
			for j := range dv {
				if math.Float32bits(dv[j]) != math.Float32bits(hv[j]) {
					t.Fatalf("rank %d state tensor %d [%d]: %g on the device, %g through the host", r, i, j, dv[j], hv[j])
				}
			}
		}
	}
}
