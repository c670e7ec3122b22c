package model

import (
	"github.com/vaegan-go/vaegan/backend"
	"github.com/vaegan-go/vaegan/comm"
)

// slot is one layer's activations in one bound pass: its output y, the
// gradient dy of the loss with respect to y, and what the backward pass needs
// besides (BatchNorm's batch mean and inverse standard deviation).
type slot struct {
	y, dy        backend.Tensor
	mean, invstd backend.Tensor
	bn           *bnSync // a synchronised BatchNorm's scratch space (syncbn.go)
}

// layer is one step of a sequential network. forward reads x and fills s.y;
// backward reads s.dy, accumulates parameter gradients when paramGrads is
// set, and overwrites dx (the gradient of x) unless dx is nil.
type layer interface {
	outShape(in []int) []int
	// inPlace layers write their output over their input (activations).
	inPlace() bool
	bind(b backend.Backend, s *slot, in []int)
	forward(b backend.Backend, x backend.Tensor, s *slot, train bool)
	backward(b backend.Backend, x backend.Tensor, s *slot, dx backend.Tensor, paramGrads bool)
}

// conv2d is PyTorch's Conv2d(c→k, kernel r, stride, pad) over c×h×w inputs.
type conv2d struct {
	c, h, w, k, r, stride, pad int
	weight, bias               *Param // bias is nil when a BatchNorm follows
}

func newConv2d(ps *ParamSet, name string, c, h, w, k, r, stride, pad int, withBias bool) *conv2d {
	l := &conv2d{c: c, h: h, w: w, k: k, r: r, stride: stride, pad: pad}
	l.weight = ps.add(name+".weight", weightParam, k, c, r, r)
	if withBias {
		l.bias = ps.add(name+".bias", biasParam, k)
	}
	return l
}

func (l *conv2d) geom(n int) backend.ConvGeom {
	return backend.NewConvGeom(n, l.c, l.h, l.w, l.k, l.r, l.stride, l.pad)
}

func (l *conv2d) outShape(in []int) []int {
	g := l.geom(in[0])
	return []int{in[0], l.k, g.OH, g.OW}
}
func (l *conv2d) inPlace() bool                      { return false }
func (l *conv2d) bind(backend.Backend, *slot, []int) {}

func (l *conv2d) forward(b backend.Backend, x backend.Tensor, s *slot, _ bool) {
	g := l.geom(x.Shape[0])
	b.ConvForward(g, x, l.weight.W, s.y)
	if l.bias != nil {
		b.BiasForward(s.y, l.bias.W, g.N, g.K, g.OH*g.OW)
	}
}

func (l *conv2d) backward(b backend.Backend, x backend.Tensor, s *slot, dx backend.Tensor, paramGrads bool) {
	g := l.geom(x.Shape[0])
	if paramGrads {
		b.ConvBackwardFilter(g, x, s.dy, l.weight.G)
		if l.bias != nil {
			b.BiasBackward(s.dy, l.bias.G, g.N, g.K, g.OH*g.OW)
		}
	}
	if !dx.IsNil() {
		b.ConvBackwardData(g, s.dy, l.weight.W, dx)
	}
}

// convTranspose2d is PyTorch's ConvTranspose2d(c→k, kernel r, stride, pad,
// output padding op) over c×h×w inputs, weight [c, k, r, r]. It runs as the
// adjoint of the Conv2d(k→c) whose input is this layer's output.
type convTranspose2d struct {
	c, h, w, k, r, stride, pad, outPad, oh, ow int
	weight, bias                               *Param
}

func newConvTranspose2d(ps *ParamSet, name string, c, h, w, k, r, stride, pad, outPad int, withBias bool) *convTranspose2d {
	l := &convTranspose2d{c: c, h: h, w: w, k: k, r: r, stride: stride, pad: pad, outPad: outPad,
		oh: (h-1)*stride - 2*pad + r + outPad, ow: (w-1)*stride - 2*pad + r + outPad}
	l.weight = ps.add(name+".weight", weightParam, c, k, r, r)
	if withBias {
		l.bias = ps.add(name+".bias", biasParam, k)
	}
	return l
}

// geom is the adjoint convolution: input [n, k, oh, ow], output [n, c, h, w].
func (l *convTranspose2d) geom(n int) backend.ConvGeom {
	return backend.NewConvGeom(n, l.k, l.oh, l.ow, l.c, l.r, l.stride, l.pad)
}

func (l *convTranspose2d) outShape(in []int) []int            { return []int{in[0], l.k, l.oh, l.ow} }
func (l *convTranspose2d) inPlace() bool                      { return false }
func (l *convTranspose2d) bind(backend.Backend, *slot, []int) {}

func (l *convTranspose2d) forward(b backend.Backend, x backend.Tensor, s *slot, _ bool) {
	g := l.geom(x.Shape[0])
	b.ConvBackwardData(g, x, l.weight.W, s.y)
	if l.bias != nil {
		b.BiasForward(s.y, l.bias.W, g.N, l.k, l.oh*l.ow)
	}
}

func (l *convTranspose2d) backward(b backend.Backend, x backend.Tensor, s *slot, dx backend.Tensor, paramGrads bool) {
	g := l.geom(x.Shape[0])
	if paramGrads {
		b.ConvBackwardFilter(g, s.dy, x, l.weight.G)
		if l.bias != nil {
			b.BiasBackward(s.dy, l.bias.G, g.N, l.k, l.oh*l.ow)
		}
	}
	if !dx.IsNil() {
		b.ConvForward(g, s.dy, l.weight.W, dx)
	}
}

// linear is PyTorch's Linear(in→out), weight [out, in]; inputs of any shape
// [N, ...] are read as [N, in].
type linear struct {
	in, out      int
	weight, bias *Param
	// accumulateDx makes backward add to dx instead of overwriting it (the
	// encoder's second head shares its input with the first).
	accumulateDx bool
}

func newLinear(ps *ParamSet, name string, in, out int, withBias bool) *linear {
	l := &linear{in: in, out: out}
	l.weight = ps.add(name+".weight", weightParam, out, in)
	if withBias {
		l.bias = ps.add(name+".bias", biasParam, out)
	}
	return l
}

func (l *linear) outShape(in []int) []int            { return []int{in[0], l.out} }
func (l *linear) inPlace() bool                      { return false }
func (l *linear) bind(backend.Backend, *slot, []int) {}

func (l *linear) forward(b backend.Backend, x backend.Tensor, s *slot, _ bool) {
	n := x.Shape[0]
	b.Gemm(false, true, n, l.out, l.in, 1, x, l.weight.W, 0, s.y)
	if l.bias != nil {
		b.BiasForward(s.y, l.bias.W, n, l.out, 1)
	}
}

func (l *linear) backward(b backend.Backend, x backend.Tensor, s *slot, dx backend.Tensor, paramGrads bool) {
	n := x.Shape[0]
	if paramGrads {
		b.Gemm(true, false, l.out, l.in, n, 1, s.dy, x, 1, l.weight.G)
		if l.bias != nil {
			b.BiasBackward(s.dy, l.bias.G, n, l.out, 1)
		}
	}
	if !dx.IsNil() {
		beta := float32(0)
		if l.accumulateDx {
			beta = 1
		}
		b.Gemm(false, false, n, l.in, l.out, 1, s.dy, l.weight.W, beta, dx)
	}
}

// BatchNorm momentum and epsilon, as PyTorch's defaults.
const (
	bnMomentum = 0.1
	bnEps      = 1e-5
)

// batchNorm is BatchNorm1d or BatchNorm2d over c channels: inputs [N, c, ...]
// are read as [N, c, S].
type batchNorm struct {
	c               int
	weight, bias    *Param
	runMean, runVar *Stat
	sync            comm.Comm // the group whose global batch training normalises over (syncbn.go); nil: this process's batch
}

func newBatchNorm(ps *ParamSet, name string, c int) *batchNorm {
	return &batchNorm{
		c:       c,
		weight:  ps.add(name+".weight", bnWeightParam, c),
		bias:    ps.add(name+".bias", bnBiasParam, c),
		runMean: ps.stat(name+".running_mean", 0, c),
		runVar:  ps.stat(name+".running_var", 1, c),
	}
}

func (l *batchNorm) outShape(in []int) []int { return append([]int(nil), in...) }
func (l *batchNorm) inPlace() bool           { return false }

func (l *batchNorm) bind(b backend.Backend, s *slot, _ []int) {
	s.mean = b.New(l.c)
	s.invstd = b.New(l.c)
	if l.sync != nil {
		s.bn = newBNSync(b, l.c, s)
	}
}

func (l *batchNorm) spatial(x backend.Tensor) int { return x.Len() / (x.Shape[0] * l.c) }

func (l *batchNorm) forward(b backend.Backend, x backend.Tensor, s *slot, train bool) {
	n, sp := x.Shape[0], l.spatial(x)
	if train && s.bn != nil {
		l.syncForward(b, x, s)
		return
	}
	if train {
		b.BatchNormTrain(x, l.weight.W, l.bias.W, s.y, s.mean, s.invstd, l.runMean.T, l.runVar.T, n, l.c, sp, bnMomentum, bnEps)
		return
	}
	b.BatchNormEval(x, l.weight.W, l.bias.W, s.y, l.runMean.T, l.runVar.T, n, l.c, sp, bnEps)
}

func (l *batchNorm) backward(b backend.Backend, x backend.Tensor, s *slot, dx backend.Tensor, paramGrads bool) {
	if s.bn != nil {
		l.syncBackward(b, x, s, dx, paramGrads)
		return
	}
	var dgamma, dbeta backend.Tensor
	if paramGrads {
		dgamma, dbeta = l.weight.G, l.bias.G
	} else if dx.IsNil() {
		return
	}
	b.BatchNormBackward(x, s.dy, l.weight.W, s.mean, s.invstd, dx, dgamma, dbeta, x.Shape[0], l.c, l.spatial(x))
}

// activation applies f in place.
type activation struct {
	f     backend.Activation
	slope float32
}

func (l *activation) outShape(in []int) []int            { return append([]int(nil), in...) }
func (l *activation) inPlace() bool                      { return true }
func (l *activation) bind(backend.Backend, *slot, []int) {}

func (l *activation) forward(b backend.Backend, x backend.Tensor, s *slot, _ bool) {
	b.ActForward(l.f, x, s.y, l.slope)
}

func (l *activation) backward(b backend.Backend, _ backend.Tensor, s *slot, dx backend.Tensor, _ bool) {
	if !dx.IsNil() {
		b.ActBackward(l.f, s.y, s.dy, dx, l.slope)
	}
}

var (
	relu  = &activation{f: backend.ReLU}
	lrelu = &activation{f: backend.LeakyReLU, slope: 0.2}
	tanh  = &activation{f: backend.Tanh}
)
