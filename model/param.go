package model

import (
	"fmt"
	"math"

	"github.com/vaegan-go/vaegan/backend"
)

// paramKind says how a parameter is initialised.
type paramKind int

const (
	weightParam   paramKind = iota // N(0, std)
	biasParam                      // 0
	bnWeightParam                  // N(1, std)
	bnBiasParam                    // 0
)

// Param is one named parameter tensor and its gradient, both views into the
// flat buffers of their ParamSet.
type Param struct {
	Name  string // checkpoint name, e.g. "enc.conv1.weight"
	Shape []int
	W, G  backend.Tensor
	kind  paramKind
}

// Stat is a named non-trainable tensor (a BatchNorm running statistic).
type Stat struct {
	Name  string
	Shape []int
	T     backend.Tensor
	init  float32
}

// ParamSet is the parameters of one network in one flat buffer, their
// gradients in another, and the network's running statistics in a third.
type ParamSet struct {
	Params []*Param
	Stats  []*Stat
	W, G   backend.Tensor // flat [Size()] buffers
	S      backend.Tensor // flat buffer of every Stat (nil when there are none)
	size   int
}

func (s *ParamSet) add(name string, kind paramKind, shape ...int) *Param {
	p := &Param{Name: name, Shape: shape, kind: kind}
	s.Params = append(s.Params, p)
	return p
}

func (s *ParamSet) stat(name string, init float32, shape ...int) *Stat {
	st := &Stat{Name: name, Shape: shape, init: init}
	s.Stats = append(s.Stats, st)
	return st
}

// Size is the number of trainable scalars.
func (s *ParamSet) Size() int { return s.size }

// alloc places every parameter into the flat buffers and allocates the
// statistics. Called once, after all layers are declared.
func (s *ParamSet) alloc(b backend.Backend) {
	for _, p := range s.Params {
		s.size += shapeLen(p.Shape)
	}
	s.W = b.New(s.size)
	s.G = b.New(s.size)
	off := 0
	for _, p := range s.Params {
		n := shapeLen(p.Shape)
		p.W = s.W.Rows(off, off+n).Reshape(p.Shape...)
		p.G = s.G.Rows(off, off+n).Reshape(p.Shape...)
		off += n
	}
	statSize := 0
	for _, st := range s.Stats {
		statSize += shapeLen(st.Shape)
	}
	if statSize > 0 {
		s.S = b.New(statSize)
	}
	off = 0
	for _, st := range s.Stats {
		n := shapeLen(st.Shape)
		st.T = s.S.Rows(off, off+n).Reshape(st.Shape...)
		off += n
		b.Fill(st.T, st.init)
	}
}

// namedView is one parameter's part of a flat buffer.
type namedView struct {
	name string
	t    backend.Tensor
}

// views cuts a flat buffer of Size() floats into the parameters' shapes,
// named as they are.
func (s *ParamSet) views(flat backend.Tensor) []namedView {
	v := make([]namedView, len(s.Params))
	off := 0
	for i, p := range s.Params {
		n := shapeLen(p.Shape)
		v[i] = namedView{p.Name, flat.Rows(off, off+n).Reshape(p.Shape...)}
		off += n
	}
	return v
}

// ResetStats sets running means to 0 and running variances to 1.
func (s *ParamSet) ResetStats(b backend.Backend) {
	for _, st := range s.Stats {
		b.Fill(st.T, st.init)
	}
}

// InitRule is how Init draws parameters. Element i of parameter tensor j
// (counting from first, in declaration order) draws its randomness from
// counter j<<40 | i of the Philox stream with the rule's Seed.
//
// With FanIn unset (the DCGAN family): base + Std·NormalAt, where base is 1
// for BatchNorm weights and 0 otherwise; biases are 0 unless Biases is set.
//
// With FanIn set (PyTorch's layer defaults): every weight and layer bias is
// U(-1/√fan_in, 1/√fan_in), fan_in being the product of the weight's
// dimensions after the first (PyTorch's rule, which for ConvTranspose2d's
// [in, out, kh, kw] layout counts out·kh·kw); BatchNorm weights are 1 and
// their biases 0.
type InitRule struct {
	Seed   uint64
	Std    float32
	Biases bool
	FanIn  bool
}

// Weight initializations a run can choose (Config.Init).
const (
	InitDCGAN   = "dcgan"   // N(0, 0.02) weights, N(1, 0.02) BatchNorm weights, zero biases
	InitPyTorch = "pytorch" // PyTorch's layer defaults (kaiming-uniform, a = √5)
)

// InitNames lists the weight initializations in the order the CLI shows them.
func InitNames() []string { return []string{InitPyTorch, InitDCGAN} }

// InitRuleOf returns the rule of a named initialization with the given seed.
func InitRuleOf(name string, seed uint64) (InitRule, error) {
	switch name {
	case InitDCGAN:
		return InitRule{Seed: seed, Std: 0.02}, nil
	case InitPyTorch:
		return InitRule{Seed: seed, FanIn: true}, nil
	}
	return InitRule{}, fmt.Errorf("unknown weight initialization %q (want one of %v)", name, InitNames())
}

// Init draws every parameter by rule r; first is the index of this set's
// first tensor in the model-wide order.
func (s *ParamSet) Init(b backend.Backend, r InitRule, first int) {
	host := make([]float32, s.size)
	off, bound := 0, float32(0)
	for j, p := range s.Params {
		n := shapeLen(p.Shape)
		if p.kind == weightParam {
			bound = float32(1 / math.Sqrt(float64(shapeLen(p.Shape[1:]))))
		}
		for i := 0; i < n; i++ {
			host[off+i] = r.draw(p.kind, bound, uint64(first+j)<<40|uint64(i))
		}
		off += n
	}
	b.Upload(s.W, host)
}

// draw is one element of a parameter of the given kind; bound is
// 1/√fan_in of the layer's weight.
func (r InitRule) draw(kind paramKind, bound float32, ctr uint64) float32 {
	base := float32(0)
	if kind == bnWeightParam {
		base = 1
	}
	if r.FanIn {
		if kind == weightParam || kind == biasParam {
			return bound * (2*backend.UniformAt(r.Seed, ctr) - 1)
		}
		return base
	}
	if kind == weightParam || kind == bnWeightParam || r.Biases {
		return base + r.Std*backend.NormalAt(r.Seed, ctr)
	}
	return base
}

func shapeLen(shape []int) int {
	n := 1
	for _, d := range shape {
		n *= d
	}
	return n
}
