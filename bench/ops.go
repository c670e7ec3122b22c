package main

import (
	"fmt"
	"math/rand/v2"
	"strings"

	"github.com/vaegan-go/vaegan/backend"
	"github.com/vaegan-go/vaegan/model"
)

// op is one backend operation at one shape of an architecture.
type op struct {
	group string  // groupLayer, groupBatchNorm or groupElementwise
	name  string  // e.g. "enc.conv1 fwd", "dis.bn2 bwd", "KL"
	shape string  // the operands, human-readable
	flop  float64 // floating-point operations per call; 0 for memory-bound ops
	bytes float64 // bytes each operand is read or written once per call: the least any device moves
	// setup allocates the operands on b, filled with seeded random values,
	// and returns the call to time.
	setup func(b backend.Backend) func()
}

// Op groups.
const (
	groupLayer       = "layer"       // a conv, transposed conv or linear layer's pass
	groupBatchNorm   = "batchnorm"   // BatchNorm forward or backward
	groupElementwise = "elementwise" // losses, Reparameterize, AdamStep
)

// rate is the op's throughput for one call lasting ns nanoseconds: GFLOP/s
// for a compute-bound op, GB/s for a memory-bound one.
func (o op) rate(ns float64) float64 {
	if o.flop > 0 {
		return o.flop / ns
	}
	return o.bytes / ns
}

// unit names the unit of rate.
func (o op) unit() string {
	if o.flop > 0 {
		return "GFLOP/s"
	}
	return "GB/s"
}

// hostRandom returns n values drawn uniformly from [lo, hi) with seed.
func hostRandom(seed uint64, lo, hi float32, n int) []float32 {
	r := rand.New(rand.NewPCG(seed, 0x5eed))
	xs := make([]float32, n)
	for i := range xs {
		xs[i] = lo + (hi-lo)*r.Float32()
	}
	return xs
}

// random returns a tensor of the given shape on b holding values drawn
// uniformly from [lo, hi) with seed.
func random(b backend.Backend, seed uint64, lo, hi float32, shape ...int) backend.Tensor {
	t := b.New(shape...)
	b.Upload(t, hostRandom(seed, lo, hi, t.Len()))
	return t
}

// gemmOp is C = A·B with square n×n matrices: the measure of a device's peak.
func gemmOp(n int) op {
	return op{
		name:  fmt.Sprintf("sgemm %d³", n),
		shape: fmt.Sprintf("%d×%d · %d×%d", n, n, n, n),
		flop:  2 * float64(n) * float64(n) * float64(n),
		setup: func(b backend.Backend) func() {
			x, y, z := random(b, 1, -1, 1, n, n), random(b, 2, -1, 1, n, n), b.New(n, n)
			return func() { b.Gemm(false, false, n, n, n, 1, x, y, 0, z) }
		},
	}
}

// layerOps are the forward pass and the two backward passes (data and
// weight gradient) of l over rows·batch images (dataRows·batch for the data
// gradient).
func layerOps(l layer, batch int) []op {
	ops := passOps(l, l.rows*batch)
	if l.dataRows != l.rows {
		ops[1] = passOps(l, l.dataRows*batch)[1]
	}
	return ops
}

// passOps are l's three passes over n images.
func passOps(l layer, n int) []op {
	flop := 2 * l.macs(n)
	if l.Kind == model.Linear {
		shape := fmt.Sprintf("%d×%d · (%d×%d)ᵀ", n, l.In, l.Out, l.In)
		fwd := func(b backend.Backend) func() {
			x, w, y := random(b, 1, -1, 1, n, l.In), random(b, 2, -0.1, 0.1, l.Out, l.In), b.New(n, l.Out)
			return func() { b.Gemm(false, true, n, l.Out, l.In, 1, x, w, 0, y) }
		}
		data := func(b backend.Backend) func() {
			dy, w, dx := random(b, 1, -1, 1, n, l.Out), random(b, 2, -0.1, 0.1, l.Out, l.In), b.New(n, l.In)
			return func() { b.Gemm(false, false, n, l.In, l.Out, 1, dy, w, 0, dx) }
		}
		filter := func(b backend.Backend) func() {
			dy, x, dw := random(b, 1, -1, 1, n, l.Out), random(b, 2, -1, 1, n, l.In), b.New(l.Out, l.In)
			return func() { b.Gemm(true, false, l.Out, l.In, n, 1, dy, x, 1, dw) }
		}
		x, w, y := float64(n*l.In), float64(l.In*l.Out), float64(n*l.Out)
		return passes(l.Name, shape, flop, 4*(x+w+y), 4*(x+y+2*w), fwd, data, filter)
	}
	g := l.Geom(n)
	in := []int{g.N, g.C, g.H, g.W}    // the convolution's input
	out := []int{g.N, g.K, g.OH, g.OW} // and output
	wshape := []int{g.K, g.C, g.R, g.R}
	conv := func(b backend.Backend) func() {
		x, w, y := random(b, 1, -1, 1, in...), random(b, 2, -0.1, 0.1, wshape...), b.New(out...)
		return func() { b.ConvForward(g, x, w, y) }
	}
	convT := func(b backend.Backend) func() {
		dy, w, dx := random(b, 1, -1, 1, out...), random(b, 2, -0.1, 0.1, wshape...), b.New(in...)
		return func() { b.ConvBackwardData(g, dy, w, dx) }
	}
	filter := func(b backend.Backend) func() {
		x, dy, dw := random(b, 1, -1, 1, in...), random(b, 2, -1, 1, out...), b.New(wshape...)
		return func() { b.ConvBackwardFilter(g, x, dy, dw) }
	}
	// The input, the weights and the output, read or written once by every
	// pass; the weight gradient is also read (it accumulates).
	x, w, y := float64(g.N*g.C*g.H*g.W), float64(g.K*g.C*g.R*g.R), float64(g.N*g.K*g.OH*g.OW)
	pass, grad := 4*(x+w+y), 4*(x+y+2*w)
	if l.Kind == model.ConvTranspose {
		shape := fmt.Sprintf("%d×%d×%d×%d → %d×%d×%d, k%d s%d p%d op%d", n, l.In, l.H, l.W, l.Out, g.H, g.W, l.R, l.Stride, l.Pad, l.OutPad)
		return passes(l.Name, shape, flop, pass, grad, convT, conv, filter)
	}
	shape := fmt.Sprintf("%d×%d×%d×%d → %d×%d×%d, k%d s%d p%d", n, l.In, l.H, l.W, l.Out, g.OH, g.OW, l.R, l.Stride, l.Pad)
	return passes(l.Name, shape, flop, pass, grad, conv, convT, filter)
}

// passes are a layer's three ops: the forward pass and data gradient each
// move passBytes, the weight gradient gradBytes.
func passes(name, shape string, flop, passBytes, gradBytes float64, fwd, data, filter func(backend.Backend) func()) []op {
	return []op{
		{group: groupLayer, name: name + " fwd", shape: shape, flop: flop, bytes: passBytes, setup: fwd},
		{group: groupLayer, name: name + " bwd data", shape: shape, flop: flop, bytes: passBytes, setup: data},
		{group: groupLayer, name: name + " bwd filter", shape: shape, flop: flop, bytes: gradBytes, setup: filter},
	}
}

// bnName is the name of the BatchNorm after l: enc.conv2 → enc.bn2,
// dec.deconv1 → dec.bn1, enc.fc → enc.bn_fc.
func bnName(l layer) string {
	net, name, _ := strings.Cut(l.Name, ".")
	if l.Kind == model.Linear {
		return net + ".bn_fc"
	}
	return net + ".bn" + strings.TrimPrefix(strings.TrimPrefix(name, "de"), "conv")
}

// batchNormOps are BatchNormTrain and BatchNormBackward over l's output.
func batchNormOps(l layer, batch int) []op {
	n, c, s := l.rows*batch, l.Out, l.outSize()
	size := float64(n * c * s)
	shape := fmt.Sprintf("%d×%d×%d", n, c, s)
	return []op{
		{group: groupBatchNorm, name: bnName(l) + " fwd", shape: shape, bytes: 4 * 2 * size, setup: func(b backend.Backend) func() {
			x, gamma, beta, y := random(b, 1, -1, 1, n, c, s), random(b, 2, 0.9, 1.1, c), random(b, 3, -0.1, 0.1, c), b.New(n, c, s)
			mean, invstd, rm, rv := b.New(c), b.New(c), b.New(c), b.New(c)
			return func() { b.BatchNormTrain(x, gamma, beta, y, mean, invstd, rm, rv, n, c, s, 0.1, 1e-5) }
		}},
		{group: groupBatchNorm, name: bnName(l) + " bwd", shape: shape, bytes: 4 * 3 * size, setup: func(b backend.Backend) func() {
			x, gamma, beta, y := random(b, 1, -1, 1, n, c, s), random(b, 2, 0.9, 1.1, c), random(b, 3, -0.1, 0.1, c), b.New(n, c, s)
			mean, invstd, rm, rv := b.New(c), b.New(c), b.New(c), b.New(c)
			b.BatchNormTrain(x, gamma, beta, y, mean, invstd, rm, rv, n, c, s, 0.1, 1e-5)
			dy, dx, dgamma, dbeta := random(b, 4, -1, 1, n, c, s), b.New(n, c, s), b.New(c), b.New(c)
			return func() { b.BatchNormBackward(x, dy, gamma, mean, invstd, dx, dgamma, dbeta, n, c, s) }
		}},
	}
}

// elementOps are the losses, the reparameterization and the three networks'
// Adam updates of a step at the given batch size.
func elementOps(a *archSpec, batch int) []op {
	B, L := batch, a.latent
	ops := []op{
		{group: groupElementwise, name: "KL", shape: fmt.Sprintf("%d×%d", B, L), bytes: 4 * 4 * float64(B*L), setup: func(b backend.Backend) func() {
			mu, lv, loss, dmu, dlv := random(b, 1, -1, 1, B, L), random(b, 2, -1, 1, B, L), b.New(1), b.New(B, L), b.New(B, L)
			return func() { b.KL(mu, lv, loss, dmu, dlv, 1/float32(B)) }
		}},
		{group: groupElementwise, name: "Reparameterize", shape: fmt.Sprintf("%d×%d", B, L), bytes: 4 * 4 * float64(B*L), setup: func(b backend.Backend) func() {
			mu, lv, eps, z, counter := random(b, 1, -1, 1, B, L), random(b, 2, -1, 1, B, L), b.New(B, L), b.New(B, L), b.New(backend.CounterLen)
			return func() { b.Reparameterize(mu, lv, eps, z, 7, counter) }
		}},
		{group: groupElementwise, name: "BCEWithLogits", shape: fmt.Sprintf("%d×1", 3*B), bytes: 4 * 2 * float64(3*B), setup: func(b backend.Backend) func() {
			x, loss, g := random(b, 1, -3, 3, 3*B, 1), b.New(1), b.New(3*B, 1)
			return func() { b.BCEWithLogits(x, loss, g, 1, 1/float32(B)) }
		}},
		{group: groupElementwise, name: "SoftmaxCE", shape: fmt.Sprintf("%d×3", 3*B), bytes: 4 * 2 * float64(9*B), setup: func(b backend.Backend) func() {
			x, loss, g := random(b, 1, -3, 3, 3*B, 3), b.New(1), b.New(3*B, 3)
			return func() { b.SoftmaxCE(x, loss, g, 3, 1, 1/float32(B)) }
		}},
		{group: groupElementwise, name: "SquaredError Dis_l", shape: fmt.Sprintf("%d×%d", B, a.disL), bytes: 4 * 3 * float64(B*a.disL), setup: func(b backend.Backend) func() {
			x, y, loss, g := random(b, 1, -1, 1, B, a.disL), random(b, 2, -1, 1, B, a.disL), b.New(1), b.New(B, a.disL)
			return func() { b.SquaredError(x, y, loss, g, 1/float32(B)) }
		}},
	}
	for _, net := range []string{"enc", "dec", "dis"} {
		n := a.netParams(net)
		ops = append(ops, op{group: groupElementwise, name: "AdamStep " + net, shape: fmt.Sprint(n), bytes: 4 * 7 * float64(n), setup: func(b backend.Backend) func() {
			p, g, m, v := random(b, 1, -0.1, 0.1, n), random(b, 2, -1, 1, n), random(b, 3, -0.1, 0.1, n), random(b, 4, 0, 0.1, n)
			bc := b.New(2)
			b.Upload(bc, []float32{0.5, 0.001})
			return func() { b.AdamStep(p, g, m, v, backend.Tensor{}, bc, 2e-4, 0.5, 0.999, 1e-8) }
		}})
	}
	return ops
}

// archOps is every op of a step of architecture a at the given batch size:
// each layer's three passes, each BatchNorm's two, then the elementwise ops.
func archOps(a *archSpec, batch int) []op {
	var ops []op
	for _, l := range a.layers {
		ops = append(ops, layerOps(l, batch)...)
	}
	for _, l := range a.layers {
		if l.BatchNorm {
			ops = append(ops, batchNormOps(l, batch)...)
		}
	}
	return append(ops, elementOps(a, batch)...)
}
