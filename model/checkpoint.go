package model

import (
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"strings"

	"github.com/vaegan-go/vaegan/backend"
	"github.com/vaegan-go/vaegan/checkpoint"
)

// Checkpoint layout. Network tensors carry the spec's names (PyTorch
// state_dict keys, num_batches_tracked included); the rest rides along under
// the "optim." and "trainer." prefixes:
//
//	optim.<net>.exp_avg, optim.<net>.exp_avg_sq  Adam moments over the
//	    network's parameters flattened in declaration order (RMSProp: square_avg)
//	optim.<net>.step                             updates applied (I64 [1])
//	trainer.state                                steps, noise counter (I64 [2])
//
// Counters are I64, what PyTorch stores num_batches_tracked as (torch has no
// uint64 before 2.3); files of earlier versions, with U64 counters, load too.
//
//	ema.<decoder tensor name>                    the decoder's weight average
//	    (Config.EMA), e.g. ema.dec.fc.weight
//
// The metadata holds "arch", "model", "config" (the Config as JSON) and
// whatever the caller adds (the data loader's position).
const (
	metaArch   = "arch"
	metaModel  = "model"
	metaConfig = "config"
)

var netNames = [3]string{"enc", "dec", "dis"}

// emaPrefix starts the names of the decoder's weight average.
const emaPrefix = "ema."

// Save writes the trainer's complete state to path atomically, with extra
// metadata entries.
func (t *Trainer) Save(path string, extra map[string]string) (err error) {
	defer recoverError(&err)
	cfg, err := json.Marshal(t.Cfg)
	if err != nil {
		return err
	}
	meta := map[string]string{metaArch: t.Arch.Name, metaModel: t.Cfg.Model, metaConfig: string(cfg)}
	for k, v := range extra {
		meta[k] = v
	}
	var ts []checkpoint.Tensor
	f32 := func(name string, x backend.Tensor) { ts = append(ts, downloadF32(t.B, name, x)) }
	for i, ps := range t.nets() {
		if ps == nil {
			continue
		}
		for _, p := range ps.Params {
			f32(p.Name, p.W)
		}
		tracked := int64(t.Steps)
		if i == 1 && t.decGen != nil && t.decRec != nil {
			tracked *= 2 // the decoder runs twice per VAE-GAN step
		}
		for _, st := range ps.Stats {
			f32(st.Name, st.T)
			if bn, ok := strings.CutSuffix(st.Name, ".running_var"); ok {
				ts = append(ts, checkpoint.I64(bn+".num_batches_tracked", []int{}, []int64{tracked}))
			}
		}
		o, net := t.opt[i], "optim."+netNames[i]
		if o.kind == "adam" {
			f32(net+".exp_avg", o.m)
			f32(net+".exp_avg_sq", o.v)
		} else {
			f32(net+".square_avg", o.v)
		}
		ts = append(ts, checkpoint.I64(net+".step", []int{1}, []int64{int64(o.t)}))
	}
	if t.ema != nil {
		for _, v := range t.Nets.Dec.views(t.ema.avg) {
			f32(emaPrefix+v.name, v.t)
		}
	}
	ts = append(ts, checkpoint.I64("trainer.state", []int{2}, []int64{int64(t.Steps), int64(t.Noise)}))
	return checkpoint.Write(path, ts, meta)
}

// downloadF32 is tensor x of b as a named float32 checkpoint tensor.
func downloadF32(b backend.Backend, name string, x backend.Tensor) checkpoint.Tensor {
	host := make([]float32, x.Len())
	b.Download(host, x)
	return checkpoint.F32(name, x.Shape, host)
}

// ConfigOf reads the run configuration stored in a checkpoint.
func ConfigOf(f *checkpoint.File) (Config, error) {
	var c Config
	raw, ok := f.Meta[metaConfig]
	if !ok {
		return c, fmt.Errorf("checkpoint %s: no %q metadata: not written by this trainer", f.Path, metaConfig)
	}
	if err := json.Unmarshal([]byte(raw), &c); err != nil {
		return c, fmt.Errorf("checkpoint %s: metadata %q: %v", f.Path, metaConfig, err)
	}
	if err := c.Check(); err != nil {
		return c, fmt.Errorf("checkpoint %s: %v", f.Path, err)
	}
	if c.Beta == 0 {
		c.Beta = 1 // what 0 meant when β's default was the spec's for every architecture
	}
	return c, nil
}

// Load restores the trainer's state from a checkpoint written by Save for
// the same architecture and model. With weightsOnly, only the networks'
// parameters and statistics are read (enough to sample or reconstruct).
func (t *Trainer) Load(f *checkpoint.File, weightsOnly bool) (err error) {
	defer recoverError(&err)
	if a := f.Meta[metaArch]; a != t.Arch.Name {
		return fmt.Errorf("checkpoint %s: architecture %q, want %q", f.Path, a, t.Arch.Name)
	}
	if m := f.Meta[metaModel]; m != t.Cfg.Model {
		return fmt.Errorf("checkpoint %s: model %q, want %q", f.Path, m, t.Cfg.Model)
	}
	load := func(name string, x backend.Tensor) error {
		host, err := f.Float32(name, x.Shape...)
		if err != nil {
			return err
		}
		t.B.Upload(x, host)
		return nil
	}
	for i, ps := range t.nets() {
		if ps == nil {
			continue
		}
		for _, p := range ps.Params {
			if err := load(p.Name, p.W); err != nil {
				return err
			}
		}
		for _, st := range ps.Stats {
			if err := load(st.Name, st.T); err != nil {
				return err
			}
		}
		if weightsOnly {
			continue
		}
		o, net := t.opt[i], "optim."+netNames[i]
		if o.kind == "adam" {
			if err := load(net+".exp_avg", o.m); err != nil {
				return err
			}
			if err := load(net+".exp_avg_sq", o.v); err != nil {
				return err
			}
		} else if err := load(net+".square_avg", o.v); err != nil {
			return err
		}
		n, err := counters(f, net+".step", 1)
		if err != nil {
			return err
		}
		o.t = int(n[0])
	}
	if t.ema != nil {
		for _, v := range t.Nets.Dec.views(t.ema.avg) {
			if err := load(emaPrefix+v.name, v.t); err != nil {
				return err
			}
		}
	}
	if weightsOnly {
		return nil
	}
	st, err := counters(f, "trainer.state", 2)
	if err != nil {
		return err
	}
	t.Steps, t.Noise = int(st[0]), uint64(st[1])
	return nil
}

// counters reads a tensor of n non-negative counters: I64, or U64 as
// checkpoints of earlier versions stored them.
func counters(f *checkpoint.File, name string, n int) ([]int64, error) {
	if shape, ok := f.Shape(name); ok && f.Dtype(name) == "U64" {
		u, err := f.Uint64(name, shape...)
		if err != nil {
			return nil, err
		}
		if len(u) != n {
			return nil, fmt.Errorf("checkpoint %s: tensor %s has %d elements, want %d", f.Path, name, len(u), n)
		}
		out := make([]int64, n)
		for i, v := range u {
			if v > math.MaxInt64 {
				return nil, fmt.Errorf("checkpoint %s: tensor %s: counter %d out of range", f.Path, name, v)
			}
			out[i] = int64(v)
		}
		return out, nil
	}
	c, err := f.Int64(name, n)
	if err != nil {
		return nil, err
	}
	for _, v := range c {
		if v < 0 {
			return nil, fmt.Errorf("checkpoint %s: tensor %s: counter %d, want a non-negative count", f.Path, name, v)
		}
	}
	return c, nil
}

// MetaInt reads an integer metadata entry.
func MetaInt(f *checkpoint.File, key string) (int, error) {
	v, err := strconv.Atoi(f.Meta[key])
	if err != nil {
		return 0, fmt.Errorf("checkpoint %s: metadata %q = %q: want an integer", f.Path, key, f.Meta[key])
	}
	return v, nil
}
