package model

import (
	"fmt"
	"math"

	"github.com/vaegan-go/vaegan/backend"
)

// OptimConfig selects an optimizer and its hyper-parameters.
type OptimConfig struct {
	Kind  string  // "adam" or "rmsprop"
	LR    float64 // 0: the kind's default (Adam 2e-4, RMSProp 3e-4)
	DecLR float64 `json:",omitempty"` // the decoder's learning rate; 0: LR
}

// Optimizer defaults, as shared/spec/models.md gives them.
const (
	adamLR, adamBeta1, adamBeta2, adamEps = 2e-4, 0.5, 0.999, 1e-8
	rmspropLR, rmspropAlpha, rmspropEps   = 3e-4, 0.9, 1e-8
)

// optimizer updates one network's flat parameter buffer from its flat
// gradient buffer: Adam (moments m, v) or RMSProp (v only).
type optimizer struct {
	kind string
	lr   float32
	m, v backend.Tensor
	bc   backend.Tensor // Adam's bias corrections of the next update, on the device
	t    int            // updates applied so far
}

func (c OptimConfig) check() error {
	if c.Kind != "adam" && c.Kind != "rmsprop" {
		return &ConfigError{"Optim.Kind", fmt.Sprintf("%q", c.Kind), "want adam or rmsprop"}
	}
	if c.LR < 0 || math.IsNaN(c.LR) || math.IsInf(c.LR, 0) {
		return &ConfigError{"Optim.LR", fmt.Sprint(c.LR), "want a positive number (0: the optimizer's default)"}
	}
	if c.DecLR < 0 || math.IsNaN(c.DecLR) || math.IsInf(c.DecLR, 0) {
		return &ConfigError{"Optim.DecLR", fmt.Sprint(c.DecLR), "want a positive number (0: Optim.LR's)"}
	}
	return nil
}

// LearningRate is the learning rate of every network but a decoder with
// DecLR set: LR, or the kind's default.
func (c OptimConfig) LearningRate() float64 {
	switch {
	case c.LR > 0:
		return c.LR
	case c.Kind == "rmsprop":
		return rmspropLR
	}
	return adamLR
}

// newOptimizer makes the optimizer of a network of size parameters; the
// decoder's (dec) takes DecLR where it is set. Adam reads its bias
// corrections from bc (two elements, which the trainer uploads with the
// step's other scalars).
func newOptimizer(b backend.Backend, c OptimConfig, size int, dec bool, bc backend.Tensor) *optimizer {
	lr := c.LearningRate()
	if dec && c.DecLR > 0 {
		lr = c.DecLR
	}
	o := &optimizer{kind: c.Kind, lr: float32(lr), v: b.New(size), bc: bc}
	if c.Kind == "adam" {
		o.m = b.New(size)
	}
	return o
}

// corrections writes Adam's bias corrections [bc1, bc2] of the next
// update, number o.t+1, into dst, for the upload into o.bc (RMSProp has
// none).
func (o *optimizer) corrections(dst []float32) {
	if o.kind == "adam" {
		dst[0] = float32(1 - math.Pow(adamBeta1, float64(o.t+1)))
		dst[1] = float32(1 - math.Pow(adamBeta2, float64(o.t+1)))
	}
}

// step queues an update of ps that happens only where on[0] ≠ 0 (a flag
// Decide writes on the device), Adam's with the corrections in o.bc. The
// host learns whether it happened from the flag afterwards and then calls
// applied.
func (o *optimizer) step(b backend.Backend, ps *ParamSet, on backend.Tensor) {
	if o.kind == "rmsprop" {
		b.RMSPropStep(ps.W, ps.G, o.v, on, o.lr, rmspropAlpha, rmspropEps)
		return
	}
	b.AdamStep(ps.W, ps.G, o.m, o.v, on, o.bc, o.lr, adamBeta1, adamBeta2, adamEps)
}

// applied counts an update that step queued and the device made.
func (o *optimizer) applied() { o.t++ }
