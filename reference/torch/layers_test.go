package torch_test

import (
	"fmt"
	"math"
	"strconv"
	"testing"

	"github.com/vaegan-go/vaegan/backend"
	"github.com/vaegan-go/vaegan/backend/cpu"
	"github.com/vaegan-go/vaegan/checkpoint"
)

// The tolerance for every comparison: |got-ref| ≤ absTol + relTol·|ref|.
const (
	absTol = 1e-5
	relTol = 1e-4
)

// The reparameterization fixture's noise: eps[i] = NormalAt(5, 1000+i).
const reparamSeed, reparamOffset = 5, 1000

// fixture is one safetensors fixture file and the backend under test.
type fixture struct {
	t *testing.T
	f *checkpoint.File
	b backend.Backend
}

func open(t *testing.T, name string) fixture {
	t.Helper()
	f, err := checkpoint.Read("fixtures/" + name)
	if err != nil {
		t.Fatal(err)
	}
	return fixture{t: t, f: f, b: cpu.New(2)}
}

// ref returns the fixture tensor name, which must have the given shape.
func (x fixture) ref(name string, shape ...int) []float32 {
	x.t.Helper()
	v, err := x.f.Float32(name, shape...)
	if err != nil {
		x.t.Fatal(err)
	}
	return v
}

// shape returns the shape of the fixture tensor name.
func (x fixture) shape(name string) []int {
	x.t.Helper()
	s, ok := x.f.Shape(name)
	if !ok {
		x.t.Fatalf("fixture %s: no tensor named %s", x.f.Path, name)
	}
	return s
}

// load uploads the fixture tensor name into a new backend tensor.
func (x fixture) load(name string) backend.Tensor {
	x.t.Helper()
	s := x.shape(name)
	t := x.b.New(s...)
	x.b.Upload(t, x.ref(name, s...))
	return t
}

// zeros is a new zeroed backend tensor shaped like the fixture tensor name.
func (x fixture) zeros(name string) backend.Tensor {
	x.t.Helper()
	return x.b.New(x.shape(name)...)
}

// check compares got with the fixture tensor name (same shape) and reports
// the first mismatches.
func (x fixture) check(name string, got backend.Tensor) {
	x.t.Helper()
	want := x.ref(name, got.Shape...)
	g := make([]float32, got.Len())
	x.b.Download(g, got)
	if msg := compare(g, want); msg != "" {
		x.t.Errorf("%s: %s", name, msg)
	}
}

// compare returns "" when got matches want within the tolerance, else a
// description of the mismatch count and the first few mismatches.
func compare(got, want []float32) string {
	bad, msg := 0, ""
	for i := range want {
		g, w := float64(got[i]), float64(want[i])
		if d := math.Abs(g - w); !(d <= absTol+relTol*math.Abs(w)) {
			if bad < 5 {
				msg += fmt.Sprintf(" [%d] got %.7g want %.7g;", i, g, w)
			}
			bad++
		}
	}
	if bad == 0 {
		return ""
	}
	return fmt.Sprintf("%d of %d elements differ:%s", bad, len(want), msg)
}

func TestConv2d(t *testing.T) {
	for _, c := range []struct {
		op                string
		r, stride, pad, k int
	}{
		{"conv2d_k4s2p1", 4, 2, 1, 5},
		{"conv2d_k5s2p2", 5, 2, 2, 5},
		{"conv2d_k5s1p2", 5, 1, 2, 5},
	} {
		t.Run(c.op, func(t *testing.T) {
			x := open(t, "layers.safetensors")
			in, w, b, dy := x.load(c.op+".x"), x.load(c.op+".w"), x.load(c.op+".b"), x.load(c.op+".dy")
			g := backend.NewConvGeom(in.Dim(0), in.Dim(1), in.Dim(2), in.Dim(3), c.k, c.r, c.stride, c.pad)
			s := g.OH * g.OW

			y := x.zeros(c.op + ".y")
			x.b.ConvForward(g, in, w, y)
			x.b.BiasForward(y, b, g.N, g.K, s)
			x.check(c.op+".y", y)

			dx, dw, db := x.zeros(c.op+".dx"), x.zeros(c.op+".dw"), x.zeros(c.op+".db")
			x.b.ConvBackwardData(g, dy, w, dx)
			x.b.ConvBackwardFilter(g, in, dy, dw)
			x.b.BiasBackward(dy, db, g.N, g.K, s)
			x.check(c.op+".dx", dx)
			x.check(c.op+".dw", dw)
			x.check(c.op+".db", db)
		})
	}
}

// TestLinear runs y = x·wᵀ + b and its backward pass with Gemm.
func TestLinear(t *testing.T) {
	x := open(t, "layers.safetensors")
	in, w, b, dy := x.load("linear.x"), x.load("linear.w"), x.load("linear.b"), x.load("linear.dy")
	n, out, k := in.Dim(0), w.Dim(0), w.Dim(1)

	y := x.zeros("linear.y")
	x.b.Gemm(false, true, n, out, k, 1, in, w, 0, y)
	x.b.BiasForward(y, b, n, out, 1)
	x.check("linear.y", y)

	dx, dw, db := x.zeros("linear.dx"), x.zeros("linear.dw"), x.zeros("linear.db")
	x.b.Gemm(false, false, n, k, out, 1, dy, w, 0, dx)
	x.b.Gemm(true, false, out, k, n, 1, dy, in, 0, dw)
	x.b.BiasBackward(dy, db, n, out, 1)
	x.check("linear.dx", dx)
	x.check("linear.dw", dw)
	x.check("linear.db", db)
}

// ncs views a fixture tensor shape as BatchNorm's [N, C, S].
func ncs(shape []int) (n, c, s int) {
	s = 1
	for _, d := range shape[2:] {
		s *= d
	}
	return shape[0], shape[1], s
}

func TestBatchNorm(t *testing.T) {
	for _, op := range []string{"bn2d", "bn1d"} {
		t.Run(op+"_train", func(t *testing.T) {
			x := open(t, "layers.safetensors")
			p := op + "_train."
			in, gamma, beta, dy := x.load(p+"x"), x.load(p+"gamma"), x.load(p+"beta"), x.load(p+"dy")
			n, c, s := ncs(in.Shape)
			y, mean, invstd := x.zeros(p+"y"), x.b.New(c), x.b.New(c)
			runMean, runVar := x.b.New(c), x.b.New(c)
			x.b.Fill(runVar, 1)
			x.b.BatchNormTrain(in, gamma, beta, y, mean, invstd, runMean, runVar, n, c, s, 0.1, 1e-5)
			x.check(p+"y", y)
			x.check(p+"mean", mean)
			x.check(p+"invstd", invstd)
			x.check(p+"running_mean", runMean)
			x.check(p+"running_var", runVar)

			dx, dgamma, dbeta := x.zeros(p+"dx"), x.b.New(c), x.b.New(c)
			x.b.BatchNormBackward(in, dy, gamma, mean, invstd, dx, dgamma, dbeta, n, c, s)
			x.check(p+"dx", dx)
			x.check(p+"dgamma", dgamma)
			x.check(p+"dbeta", dbeta)
		})
		t.Run(op+"_eval", func(t *testing.T) {
			x := open(t, "layers.safetensors")
			p := op + "_eval."
			in, gamma, beta := x.load(p+"x"), x.load(p+"gamma"), x.load(p+"beta")
			runMean, runVar := x.load(p+"running_mean"), x.load(p+"running_var")
			n, c, s := ncs(in.Shape)
			y := x.zeros(p + "y")
			x.b.BatchNormEval(in, gamma, beta, y, runMean, runVar, n, c, s, 1e-5)
			x.check(p+"y", y)
		})
	}
}

func TestActivations(t *testing.T) {
	for _, c := range []struct {
		op    string
		f     backend.Activation
		slope float32
	}{
		{"relu", backend.ReLU, 0},
		{"leaky_relu", backend.LeakyReLU, 0.2},
		{"tanh", backend.Tanh, 0},
	} {
		t.Run(c.op, func(t *testing.T) {
			x := open(t, "layers.safetensors")
			in, dy := x.load(c.op+".x"), x.load(c.op+".dy")
			y, dx := x.zeros(c.op+".y"), x.zeros(c.op+".dx")
			x.b.ActForward(c.f, in, y, c.slope)
			x.b.ActBackward(c.f, y, dy, dx, c.slope)
			x.check(c.op+".y", y)
			x.check(c.op+".dx", dx)
		})
	}
}

// TestLosses checks each loss's value (a sum, scale 1) and input gradient.
func TestLosses(t *testing.T) {
	for _, c := range []struct {
		op  string
		run func(b backend.Backend, in, loss, grad backend.Tensor)
	}{
		{"bce_t1", func(b backend.Backend, in, loss, grad backend.Tensor) { b.BCEWithLogits(in, loss, grad, 1, 1) }},
		{"bce_t0", func(b backend.Backend, in, loss, grad backend.Tensor) { b.BCEWithLogits(in, loss, grad, 0, 1) }},
		{"softmax_ce_k3c1", func(b backend.Backend, in, loss, grad backend.Tensor) {
			b.SoftmaxCE(in, loss, grad, 3, 1, 1)
		}},
	} {
		t.Run(c.op, func(t *testing.T) {
			x := open(t, "layers.safetensors")
			in, loss, grad := x.load(c.op+".x"), x.b.New(1), x.zeros(c.op+".grad")
			c.run(x.b, in, loss, grad)
			x.check(c.op+".loss", loss)
			x.check(c.op+".grad", grad)
		})
	}
	t.Run("kl", func(t *testing.T) {
		x := open(t, "layers.safetensors")
		mu, logvar := x.load("kl.mu"), x.load("kl.logvar")
		loss, dmu, dlogvar := x.b.New(1), x.zeros("kl.dmu"), x.zeros("kl.dlogvar")
		x.b.KL(mu, logvar, loss, dmu, dlogvar, 1)
		x.check("kl.loss", loss)
		x.check("kl.dmu", dmu)
		x.check("kl.dlogvar", dlogvar)
	})
	t.Run("sqerr", func(t *testing.T) {
		x := open(t, "layers.safetensors")
		a, b := x.load("sqerr.a"), x.load("sqerr.b")
		loss, grad := x.b.New(1), x.zeros("sqerr.grad")
		x.b.SquaredError(a, b, loss, grad, 1)
		x.check("sqerr.loss", loss)
		x.check("sqerr.grad", grad)
	})
}

// TestReparameterize checks the backend's own noise against the fixture's
// Philox draw, z, and the backward pass.
func TestReparameterize(t *testing.T) {
	x := open(t, "layers.safetensors")
	mu, logvar, dz := x.load("reparam.mu"), x.load("reparam.logvar"), x.load("reparam.dz")
	eps, z := x.zeros("reparam.eps"), x.zeros("reparam.z")
	counter := make([]float32, backend.CounterLen)
	backend.PutCounter(counter, reparamOffset)
	c := x.b.New(backend.CounterLen)
	x.b.Upload(c, counter)
	x.b.Reparameterize(mu, logvar, eps, z, reparamSeed, c)
	x.check("reparam.eps", eps)
	x.check("reparam.z", z)

	dmu, dlogvar := x.zeros("reparam.dmu"), x.zeros("reparam.dlogvar")
	x.b.ReparameterizeBackward(logvar, eps, dz, dmu, dlogvar)
	x.check("reparam.dmu", dmu)
	x.check("reparam.dlogvar", dlogvar)
}

// TestStepFixtureInit checks that the whole-step fixtures' weights, which
// are not stored, follow from the Philox rule in Go exactly as in numpy:
// tensor j, element i = base + 0.05·NormalAt(weight_seed, j<<40 | i), with
// weight_seed from the file's metadata.
func TestStepFixtureInit(t *testing.T) {
	for _, file := range []string{"mnist_vaegan_step.safetensors", "mnist_vaegan3_step.safetensors"} {
		x := open(t, file)
		seed, err := strconv.ParseUint(x.f.Meta["weight_seed"], 10, 64)
		if err != nil {
			t.Fatalf("%s: metadata weight_seed: %v", file, err)
		}
		for _, c := range []struct {
			name string
			j    uint64
			base float32
		}{
			{"enc.conv1.weight", 0, 0},
			{"enc.bn1.weight", 1, 1},
			{"dis.out.bias", 30, 0},
		} {
			shape := x.shape("init." + c.name)
			want := x.ref("init."+c.name, shape...)
			for i, w := range want {
				if got := c.base + 0.05*backend.NormalAt(seed, c.j<<40|uint64(i)); got != w {
					t.Errorf("%s: init.%s[%d] = %v, Go's rule gives %v", file, c.name, i, w, got)
					break
				}
			}
		}
	}
}
