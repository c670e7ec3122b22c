package model

import (
	"encoding/json"
	"fmt"

	"github.com/vaegan-go/vaegan/backend"
	"github.com/vaegan-go/vaegan/comm"
)

// Data-parallel training. Every rank of the group holds the whole model and
// takes its share of each global batch: rank r the rows [r·b, (r+1)·b) with
// b = Cfg.Batch/size. What keeps the ranks one model:
//
//   - Noise: rank r draws its rows' eps and z_p at the counters a single
//     process with the global batch would use for the same rows, and every
//     rank advances the counter by the global batch's draws.
//   - Gradients: each network's flat gradient is summed over the ranks and
//     divided by their number (each rank's losses are means over its rows,
//     so this is the gradient of the global batch's mean loss).
//   - Losses: averaged the same way, in the same all-reduce, before any
//     decision is taken from them (the equilibrium rule, the stop on a
//     non-finite loss or gradient), so every rank takes the same branch.
//   - BatchNorm: statistics over each rank's rows (as PyTorch's DDP); the
//     running statistics are averaged over the ranks after each step, so
//     every rank holds the same. With Config.SyncBN, over the global batch
//     (syncbn.go): N ranks then compute one process's step.
//   - State: Broadcast copies rank 0's state to the others at start and
//     after a resume.

// Rank is this trainer's place in its group; WorldSize the group's size.
func (t *Trainer) Rank() int { return t.comm.Rank() }

// WorldSize is the number of ranks training together (1 alone).
func (t *Trainer) WorldSize() int { return t.comm.Size() }

// drawNoise returns the first Philox counter of this rank's n draws and
// advances the stream past the draws of every rank.
func (t *Trainer) drawNoise(n int) uint64 {
	c := t.Noise + uint64(t.comm.Rank()*n)
	t.Noise += uint64(t.comm.Size() * n)
	return c
}

// ReduceOnDevice makes the step's all-reduce sum the gradients, statistics
// and losses with r, in device memory (NCCL), instead of copying them to the
// host for the Comm; r must reduce over the same ranks as the Comm, which
// still carries the broadcasts and checks.
func (t *Trainer) ReduceOnDevice(r backend.AllReducer) {
	t.onDevice, t.reduced = r, nil
}

// reduceParts are the tensors the step's all-reduce averages, in buffer
// order: each network's gradient, each network's running statistics, the
// losses.
func (t *Trainer) reduceParts() []backend.Tensor {
	var parts []backend.Tensor
	for _, ps := range t.nets() {
		if ps != nil {
			parts = append(parts, ps.G)
		}
	}
	for _, ps := range t.nets() {
		if ps != nil && !ps.S.IsNil() && !t.Cfg.SyncBN { // synchronised: the same on every rank already
			parts = append(parts, ps.S)
		}
	}
	return append(parts, t.losses.Rows(0, numLosses))
}

// allocReduce allocates the host buffer of the step's all-reduce.
func (t *Trainer) allocReduce() {
	if t.comm.Size() == 1 {
		return
	}
	t.reduced = make([]float32, t.ReducedFloats())
}

// allReduce averages the gradients, running statistics and losses over the
// ranks, through host memory (or in device memory after ReduceOnDevice).
// Alone it does nothing.
func (t *Trainer) allReduce() error {
	if t.comm.Size() == 1 {
		return nil
	}
	inv := 1 / float32(t.comm.Size())
	if t.onDevice != nil {
		parts := t.reduceParts()
		if err := t.onDevice.AllReduce(parts); err != nil {
			return fmt.Errorf("rank %d: averaging the gradients on the device: %w", t.comm.Rank(), err)
		}
		for _, p := range parts {
			t.B.Axpy(inv-1, p, p) // p·inv, in place
		}
		return nil
	}
	parts, buf := t.reduceParts(), t.reduced
	off := 0
	for _, p := range parts {
		t.B.Download(buf[off:off+p.Len()], p)
		off += p.Len()
	}
	if err := t.comm.AllReduce(buf); err != nil {
		return fmt.Errorf("rank %d: averaging the gradients: %w", t.comm.Rank(), err)
	}
	for i := range buf {
		buf[i] *= inv
	}
	off = 0
	for _, p := range parts {
		t.B.Upload(p, buf[off:off+p.Len()])
		off += p.Len()
	}
	return nil
}

// stateTensors are the float tensors of the trainer's state: weights,
// running statistics, optimizer moments, the decoder's average.
func (t *Trainer) stateTensors() []backend.Tensor {
	var ts []backend.Tensor
	for i, ps := range t.nets() {
		if ps == nil {
			continue
		}
		ts = append(ts, ps.W)
		if !ps.S.IsNil() {
			ts = append(ts, ps.S)
		}
		if o := t.opt[i]; o.kind == "adam" {
			ts = append(ts, o.m, o.v)
		} else {
			ts = append(ts, o.v)
		}
	}
	if t.ema != nil {
		ts = append(ts, t.ema.avg)
	}
	return ts
}

// Broadcast makes every rank's state rank 0's: it first checks that every
// rank holds the same configuration (naming the ranks that do not), then
// copies the weights, running statistics, optimizer state, the decoder's
// average and the step and noise counters. Alone it does nothing.
func (t *Trainer) Broadcast() error {
	c := t.comm
	if c.Size() == 1 {
		return nil
	}
	cfg, err := json.Marshal(t.Cfg)
	if err != nil {
		return err
	}
	bad, err := comm.Disagreeing(c, cfg, 0)
	if err != nil {
		return err
	}
	if len(bad) > 0 {
		return fmt.Errorf("rank(s) %v hold another configuration than rank 0's %s", bad, cfg)
	}
	for _, x := range t.stateTensors() {
		host := make([]float32, x.Len())
		t.B.Download(host, x)
		if err := comm.BroadcastFloats(c, host, 0); err != nil {
			return err
		}
		t.B.Upload(x, host)
	}
	counters := []uint64{uint64(t.Steps), t.Noise}
	for _, o := range t.opt {
		if o != nil {
			counters = append(counters, uint64(o.t))
		}
	}
	if err := comm.BroadcastUint64s(c, counters, 0); err != nil {
		return err
	}
	t.Steps, t.Noise = int(counters[0]), counters[1]
	k := 2
	for _, o := range t.opt {
		if o != nil {
			o.t = int(counters[k])
			k++
		}
	}
	return nil
}

// ReducedFloats is the number of floats each step all-reduces.
func (t *Trainer) ReducedFloats() int {
	n := 0
	for _, p := range t.reduceParts() {
		n += p.Len()
	}
	return n
}

// syncBatchNorm makes every BatchNorm layer of the networks normalise over
// the global batch of group c. Called before the passes are bound.
func (n *Nets) syncBatchNorm(c comm.Comm) {
	for _, layers := range [][]layer{n.encTrunk.layers, n.dec.layers, n.dis.layers} {
		for _, l := range layers {
			if bn, ok := l.(*batchNorm); ok {
				bn.sync = c
			}
		}
	}
}
