//go:build !cuda

// The cross-check is left out of the cuda-tagged build: with that tag
// gorgonia compiles its cuDNN path, and cuDNN is not in Debian.

package cpu

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/vaegan-go/vaegan/backend"
	"github.com/vaegan-go/vaegan/backend/backendtest"
	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// These tests cross-check the CPU backend's forward and backward passes
// against an independent automatic differentiation: gorgonia's symbolic
// gradients (gorgonia.Grad) of small float64 graphs built from its own
// primitives. Every op tried works on the CPU: matmul, Conv2d (nnops.Conv2d
// is this same gorgonia.Conv2d without the cuda tag), Rectify, LeakyRelu,
// Tanh, Sigmoid, SoftMax, Log, Exp, Square and BatchNorm. Gorgonia has no
// transposed convolution; ConvBackwardData is checked as Conv2d's input
// gradient instead.

// gTol is the tolerance of the float32 backend against gorgonia's float64.
var gTol = backendtest.Tolerance{Atol: 1e-5, Rtol: 1e-4}

// input is a graph input: its shape and float64 values.
type input struct {
	shape []int
	data  []float64
}

// graphGrads builds a gorgonia graph over the inputs with build, which
// returns an output node and a scalar cost; it runs the graph and returns the
// output's value and the cost's gradient with respect to every input.
func graphGrads(t *testing.T, ins []input, build func(g *G.ExprGraph, x []*G.Node) (out, cost *G.Node, err error)) ([]float64, [][]float64) {
	t.Helper()
	g := G.NewGraph()
	nodes := make([]*G.Node, len(ins))
	for i, in := range ins {
		v := tensor.New(tensor.WithShape(in.shape...), tensor.WithBacking(append([]float64(nil), in.data...)))
		// Unnamed inputs of equal shape would be merged into one node.
		nodes[i] = G.NewTensor(g, G.Float64, len(in.shape), G.WithShape(in.shape...), G.WithValue(v), G.WithName(fmt.Sprint("input", i)))
	}
	out, cost, err := build(g, nodes)
	if err != nil {
		t.Fatalf("building the gorgonia graph: %v", err)
	}
	grads, err := G.Grad(cost, nodes...)
	if err != nil {
		t.Fatalf("gorgonia.Grad: %v", err)
	}
	// The machine may reuse the output's memory for later nodes: read a copy
	// of it when it is computed.
	var outVal G.Value
	G.Read(out, &outVal)
	vm := G.NewTapeMachine(g)
	defer vm.Close()
	if err := vm.RunAll(); err != nil {
		t.Fatalf("running the gorgonia graph: %v", err)
	}
	res := make([][]float64, len(grads))
	for i, gn := range grads {
		res[i] = append([]float64(nil), gn.Value().Data().([]float64)...)
	}
	switch v := outVal.Data().(type) {
	case []float64:
		return v, res
	case float64:
		return []float64{v}, res
	}
	t.Fatalf("gorgonia output of type %T", outVal.Data())
	return nil, nil
}

// weighted returns Σ y⊙w as a scalar node: the cost whose gradient with
// respect to y is w.
func weighted(g *G.ExprGraph, y *G.Node, w []float64) (*G.Node, error) {
	wt := G.NewConstant(tensor.New(tensor.WithShape(y.Shape().Clone()...), tensor.WithBacking(w)))
	p, err := G.HadamardProd(y, wt)
	if err != nil {
		return nil, err
	}
	return G.Sum(p)
}

// compare checks got against gorgonia's want.
func compare(t *testing.T, what string, got []float32, want []float64) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: %d elements, gorgonia has %d", what, len(got), len(want))
	}
	bad := 0
	for i := range want {
		if math.Abs(float64(got[i])-want[i]) <= gTol.Atol+gTol.Rtol*math.Abs(want[i]) {
			continue
		}
		if bad < 5 {
			t.Errorf("%s[%d] = %.7g, gorgonia %.7g", what, i, got[i], want[i])
		}
		bad++
	}
}

// draw returns n float32 values uniform in [lo, hi) and their float64 copy.
func draw(r *rand.Rand, n int, lo, hi float64) ([]float32, []float64) {
	v32, v64 := make([]float32, n), make([]float64, n)
	for i := range v32 {
		v32[i] = float32(lo + (hi-lo)*r.Float64())
		v64[i] = float64(v32[i])
	}
	return v32, v64
}

// tensorOf uploads v into a new tensor of the given shape.
func tensorOf(b *Backend, v []float32, shape ...int) backend.Tensor {
	x := b.New(shape...)
	b.Upload(x, v)
	return x
}

// values downloads x.
func values(b *Backend, x backend.Tensor) []float32 {
	v := make([]float32, x.Len())
	b.Download(v, x)
	return v
}

func TestGorgoniaLinear(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 1))
	b := New(2)
	const n, in, out = 5, 7, 3
	x32, x := draw(r, n*in, -1, 1)
	w32, w := draw(r, out*in, -1, 1)
	bias32, bias := draw(r, out, -1, 1)
	gy32, gy := draw(r, n*out, -1, 1)

	wantY, grads := graphGrads(t, []input{{[]int{n, in}, x}, {[]int{out, in}, w}, {[]int{1, out}, bias}},
		func(g *G.ExprGraph, v []*G.Node) (*G.Node, *G.Node, error) {
			wt, err := G.Transpose(v[1])
			if err != nil {
				return nil, nil, err
			}
			xw, err := G.Mul(v[0], wt)
			if err != nil {
				return nil, nil, err
			}
			y, err := G.BroadcastAdd(xw, v[2], nil, []byte{0})
			if err != nil {
				return nil, nil, err
			}
			cost, err := weighted(g, y, gy)
			return y, cost, err
		})

	tx, tw, tb := tensorOf(b, x32, n, in), tensorOf(b, w32, out, in), tensorOf(b, bias32, out)
	ty, tgy := b.New(n, out), tensorOf(b, gy32, n, out)
	b.Gemm(false, true, n, out, in, 1, tx, tw, 0, ty)
	b.BiasForward(ty, tb, n, out, 1)
	compare(t, "y", values(b, ty), wantY)

	dx, dw, db := b.New(n, in), b.New(out, in), b.New(out)
	b.Gemm(false, false, n, in, out, 1, tgy, tw, 0, dx)
	b.Gemm(true, false, out, in, n, 1, tgy, tx, 1, dw)
	b.BiasBackward(tgy, db, n, out, 1)
	compare(t, "dx", values(b, dx), grads[0])
	compare(t, "dw", values(b, dw), grads[1])
	compare(t, "db", values(b, db), grads[2])
}

func TestGorgoniaConv2d(t *testing.T) {
	r := rand.New(rand.NewPCG(2, 2))
	b := New(2)
	for _, g := range []backend.ConvGeom{
		backend.NewConvGeom(2, 3, 8, 8, 4, 4, 2, 1),
		backend.NewConvGeom(2, 2, 9, 9, 3, 5, 2, 2),
		backend.NewConvGeom(1, 2, 6, 7, 3, 5, 1, 2),
	} {
		x32, x := draw(r, g.N*g.C*g.H*g.W, -1, 1)
		w32, w := draw(r, g.K*g.C*g.R*g.R, -1, 1)
		gy32, gy := draw(r, g.N*g.K*g.OH*g.OW, -1, 1)
		wantY, grads := graphGrads(t, []input{{[]int{g.N, g.C, g.H, g.W}, x}, {[]int{g.K, g.C, g.R, g.R}, w}},
			func(gr *G.ExprGraph, v []*G.Node) (*G.Node, *G.Node, error) {
				y, err := G.Conv2d(v[0], v[1], tensor.Shape{g.R, g.R}, []int{g.Pad, g.Pad}, []int{g.Stride, g.Stride}, []int{1, 1})
				if err != nil {
					return nil, nil, err
				}
				cost, err := weighted(gr, y, gy)
				return y, cost, err
			})
		tx, tw := tensorOf(b, x32, g.N, g.C, g.H, g.W), tensorOf(b, w32, g.K, g.C, g.R, g.R)
		ty, tgy := b.New(g.N, g.K, g.OH, g.OW), tensorOf(b, gy32, g.N, g.K, g.OH, g.OW)
		b.ConvForward(g, tx, tw, ty)
		compare(t, "y", values(b, ty), wantY)
		dx, dw := b.New(g.N, g.C, g.H, g.W), b.New(g.K, g.C, g.R, g.R)
		b.ConvBackwardData(g, tgy, tw, dx)
		b.ConvBackwardFilter(g, tx, tgy, dw)
		compare(t, "dx", values(b, dx), grads[0])
		compare(t, "dw", values(b, dw), grads[1])
	}
}

func TestGorgoniaActivations(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 3))
	b := New(1)
	cases := []struct {
		name  string
		f     backend.Activation
		slope float32
		build func(x *G.Node) (*G.Node, error)
	}{
		{"ReLU", backend.ReLU, 0, G.Rectify},
		{"LeakyReLU", backend.LeakyReLU, 0.2, func(x *G.Node) (*G.Node, error) { return G.LeakyRelu(x, 0.2) }},
		{"Tanh", backend.Tanh, 0, G.Tanh},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			const n = 41
			x32, x := draw(r, n, -3, 3)
			gy32, gy := draw(r, n, -1, 1)
			wantY, grads := graphGrads(t, []input{{[]int{n}, x}}, func(g *G.ExprGraph, v []*G.Node) (*G.Node, *G.Node, error) {
				y, err := c.build(v[0])
				if err != nil {
					return nil, nil, err
				}
				cost, err := weighted(g, y, gy)
				return y, cost, err
			})
			ty, dx := b.New(n), b.New(n)
			b.ActForward(c.f, tensorOf(b, x32, n), ty, c.slope)
			b.ActBackward(c.f, ty, tensorOf(b, gy32, n), dx, c.slope)
			compare(t, "y", values(b, ty), wantY)
			compare(t, "dx", values(b, dx), grads[0])
		})
	}
}

// scalar is a float64 constant node.
func scalar(v float64) *G.Node { return G.NewConstant(v) }

func TestGorgoniaBCEWithLogits(t *testing.T) {
	r := rand.New(rand.NewPCG(4, 4))
	b := New(1)
	const n, scale = 23, 0.25
	for _, target := range []float32{1, 0, 0.3} {
		l32, l := draw(r, n, -5, 5)
		// loss = -scale * Σ (t*log σ(l) + (1-t)*log(1-σ(l)))
		wantLoss, grads := graphGrads(t, []input{{[]int{n}, l}}, func(g *G.ExprGraph, v []*G.Node) (*G.Node, *G.Node, error) {
			p := G.Must(G.Sigmoid(v[0]))
			pos := G.Must(G.Mul(scalar(float64(target)), G.Must(G.Log(p))))
			neg := G.Must(G.Mul(scalar(1-float64(target)), G.Must(G.Log(G.Must(G.Sub(scalar(1), p))))))
			cost := G.Must(G.Mul(scalar(-scale), G.Must(G.Sum(G.Must(G.Add(pos, neg))))))
			return cost, cost, nil
		})
		loss, grad := b.New(1), b.New(n)
		b.BCEWithLogits(tensorOf(b, l32, n), loss, grad, target, scale)
		compare(t, "loss", values(b, loss), wantLoss)
		compare(t, "grad", values(b, grad), grads[0])
	}
}

func TestGorgoniaSoftmaxCE(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 5))
	b := New(1)
	const n, k, scale = 6, 3, 0.5
	for class := range k {
		l32, l := draw(r, n*k, -4, 4)
		onehot := make([]float64, n*k)
		for i := range n {
			onehot[i*k+class] = 1
		}
		// loss = -scale * Σ onehot ⊙ log softmax(l)
		wantLoss, grads := graphGrads(t, []input{{[]int{n, k}, l}}, func(g *G.ExprGraph, v []*G.Node) (*G.Node, *G.Node, error) {
			logp := G.Must(G.Log(G.Must(G.SoftMax(v[0], 1))))
			picked, err := weighted(g, logp, onehot)
			if err != nil {
				return nil, nil, err
			}
			cost := G.Must(G.Mul(scalar(-scale), picked))
			return cost, cost, nil
		})
		loss, grad := b.New(1), b.New(n, k)
		b.SoftmaxCE(tensorOf(b, l32, n, k), loss, grad, k, class, scale)
		compare(t, "loss", values(b, loss), wantLoss)
		compare(t, "grad", values(b, grad), grads[0])
	}
}

func TestGorgoniaKL(t *testing.T) {
	r := rand.New(rand.NewPCG(6, 6))
	b := New(1)
	const n, scale = 19, 0.125
	mu32, mu := draw(r, n, -2, 2)
	lv32, lv := draw(r, n, -2, 2)
	// loss = scale * -0.5 * Σ (1 + lv - mu² - exp(lv))
	wantLoss, grads := graphGrads(t, []input{{[]int{n}, mu}, {[]int{n}, lv}}, func(g *G.ExprGraph, v []*G.Node) (*G.Node, *G.Node, error) {
		s := G.Must(G.Add(scalar(1), v[1]))
		s = G.Must(G.Sub(s, G.Must(G.Square(v[0]))))
		s = G.Must(G.Sub(s, G.Must(G.Exp(v[1]))))
		cost := G.Must(G.Mul(scalar(-0.5*scale), G.Must(G.Sum(s))))
		return cost, cost, nil
	})
	loss, dmu, dlv := b.New(1), b.New(n), b.New(n)
	b.KL(tensorOf(b, mu32, n), tensorOf(b, lv32, n), loss, dmu, dlv, scale)
	compare(t, "loss", values(b, loss), wantLoss)
	compare(t, "dmu", values(b, dmu), grads[0])
	compare(t, "dlogvar", values(b, dlv), grads[1])
}

func TestGorgoniaReparameterize(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 7))
	b := New(1)
	const n = 17
	mu32, mu := draw(r, n, -1, 1)
	lv32, lv := draw(r, n, -2, 2)
	gz32, gz := draw(r, n, -1, 1)
	eps, z := b.New(n), b.New(n)
	tlv := tensorOf(b, lv32, n)
	counter := make([]float32, backend.CounterLen)
	backend.PutCounter(counter, 5)
	b.Reparameterize(tensorOf(b, mu32, n), tlv, eps, z, 99, tensorOf(b, counter, backend.CounterLen))
	eps64 := make([]float64, n)
	for i, e := range values(b, eps) {
		eps64[i] = float64(e)
	}
	// z = mu + exp(lv/2) ⊙ eps
	wantZ, grads := graphGrads(t, []input{{[]int{n}, mu}, {[]int{n}, lv}}, func(g *G.ExprGraph, v []*G.Node) (*G.Node, *G.Node, error) {
		sd := G.Must(G.Exp(G.Must(G.Mul(v[1], scalar(0.5)))))
		epsC := G.NewConstant(tensor.New(tensor.WithShape(n), tensor.WithBacking(eps64)))
		zn := G.Must(G.Add(v[0], G.Must(G.HadamardProd(sd, epsC))))
		cost, err := weighted(g, zn, gz)
		return zn, cost, err
	})
	compare(t, "z", values(b, z), wantZ)
	dmu, dlv := b.New(n), b.New(n)
	b.ReparameterizeBackward(tlv, eps, tensorOf(b, gz32, n), dmu, dlv)
	compare(t, "dmu", values(b, dmu), grads[0])
	compare(t, "dlogvar", values(b, dlv), grads[1])
}

func TestGorgoniaSquaredError(t *testing.T) {
	r := rand.New(rand.NewPCG(8, 8))
	b := New(1)
	const n, scale = 29, 0.75
	a32, a := draw(r, n, -1, 1)
	b32, bv := draw(r, n, -1, 1)
	// loss = scale * 0.5 * Σ (a-b)²
	wantLoss, grads := graphGrads(t, []input{{[]int{n}, a}, {[]int{n}, bv}}, func(g *G.ExprGraph, v []*G.Node) (*G.Node, *G.Node, error) {
		d := G.Must(G.Square(G.Must(G.Sub(v[0], v[1]))))
		cost := G.Must(G.Mul(scalar(0.5*scale), G.Must(G.Sum(d))))
		return cost, cost, nil
	})
	loss, grad := b.New(1), b.New(n)
	b.SquaredError(tensorOf(b, a32, n), tensorOf(b, b32, n), loss, grad, scale)
	compare(t, "loss", values(b, loss), wantLoss)
	g := values(b, grad)
	compare(t, "grad_a", g, grads[0])
	for i := range g {
		g[i] = -g[i]
	}
	compare(t, "grad_b", g, grads[1])
}

// TestGorgoniaBatchNorm compares training-mode batch norm, its gradients and
// the running statistics with gorgonia's BatchNorm op (momentum 0.1,
// eps 1e-5, running mean 0 and variance 1 before the step).
func TestGorgoniaBatchNorm(t *testing.T) {
	r := rand.New(rand.NewPCG(9, 9))
	b := New(1)
	for _, shape := range [][]int{{6, 4}, {3, 2, 4, 5}} {
		n, c := shape[0], shape[1]
		s := 1
		for _, d := range shape[2:] {
			s *= d
		}
		pshape := make([]int, len(shape))
		for i := range pshape {
			pshape[i] = 1
		}
		pshape[1] = c
		x32, x := draw(r, n*c*s, -2, 3)
		gamma32, gamma := draw(r, c, 0.5, 1.5)
		beta32, beta := draw(r, c, -1, 1)
		gy32, gy := draw(r, n*c*s, -1, 1)
		var op *G.BatchNormOp
		wantY, grads := graphGrads(t, []input{{shape, x}, {pshape, gamma}, {pshape, beta}}, func(g *G.ExprGraph, v []*G.Node) (*G.Node, *G.Node, error) {
			y, _, _, bn, err := G.BatchNorm(v[0], v[1], v[2], 0.1, 1e-5)
			if err != nil {
				return nil, nil, err
			}
			if err := bn.Reset(); err != nil {
				return nil, nil, err
			}
			op = bn
			cost, err := weighted(g, y, gy)
			return y, cost, err
		})
		tx, ty := tensorOf(b, x32, n, c, s), b.New(n, c, s)
		tg, tb := tensorOf(b, gamma32, c), tensorOf(b, beta32, c)
		mean, invstd, rm, rv := b.New(c), b.New(c), b.New(c), b.New(c)
		b.Fill(rv, 1)
		b.BatchNormTrain(tx, tg, tb, ty, mean, invstd, rm, rv, n, c, s, 0.1, 1e-5)
		compare(t, "y", values(b, ty), wantY)
		dx, dg, db := b.New(n, c, s), b.New(c), b.New(c)
		b.BatchNormBackward(tx, tensorOf(b, gy32, n, c, s), tg, mean, invstd, dx, dg, db, n, c, s)
		compare(t, "dx", values(b, dx), grads[0])
		compare(t, "dgamma", values(b, dg), grads[1])
		compare(t, "dbeta", values(b, db), grads[2])
		runMean, runVar := op.Stats()
		compare(t, "runMean", values(b, rm), runMean.Data().([]float64))
		compare(t, "runVar", values(b, rv), runVar.Data().([]float64))
	}
}
