package model

import "github.com/vaegan-go/vaegan/backend"

// paramKind says how a parameter is initialised.
type paramKind int

const (
	weightParam   paramKind = iota // N(0, std)
	biasParam                      // 0
	bnWeightParam                  // N(1, std)
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
// gradients in another, and the network's running statistics.
type ParamSet struct {
	Params []*Param
	Stats  []*Stat
	W, G   backend.Tensor // flat [Size()] buffers
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
	for _, st := range s.Stats {
		st.T = b.New(st.Shape...)
		b.Fill(st.T, st.init)
	}
}

// ResetStats sets running means to 0 and running variances to 1.
func (s *ParamSet) ResetStats(b backend.Backend) {
	for _, st := range s.Stats {
		b.Fill(st.T, st.init)
	}
}

// InitRule is how Init draws parameters: element i of parameter tensor j
// (counting from first, in declaration order) is
// base + Std·NormalAt(Seed, j<<40 | i), where base is 1 for BatchNorm
// weights and 0 otherwise; biases are 0 unless Biases is set.
type InitRule struct {
	Seed   uint64
	Std    float32
	Biases bool
}

// DCGANInit is the DCGAN rule: weights N(0, 0.02), BatchNorm weights
// N(1, 0.02), biases 0.
func DCGANInit(seed uint64) InitRule { return InitRule{Seed: seed, Std: 0.02} }

// Init draws every parameter by rule r; first is the index of this set's
// first tensor in the model-wide order.
func (s *ParamSet) Init(b backend.Backend, r InitRule, first int) {
	host := make([]float32, s.size)
	off := 0
	for j, p := range s.Params {
		n := shapeLen(p.Shape)
		base := float32(0)
		if p.kind == bnWeightParam {
			base = 1
		}
		draw := p.kind != biasParam || r.Biases
		for i := 0; i < n; i++ {
			v := base
			if draw {
				v += r.Std * backend.NormalAt(r.Seed, uint64(first+j)<<40|uint64(i))
			}
			host[off+i] = v
		}
		off += n
	}
	b.Upload(s.W, host)
}

func shapeLen(shape []int) int {
	n := 1
	for _, d := range shape {
		n *= d
	}
	return n
}
