package backendtest

import (
	"fmt"
	"math"
	"math/rand/v2"
	"reflect"
	"testing"

	"github.com/vaegan-go/vaegan/backend"
)

// The backward references are checked here against central finite
// differences of the forward references, in float64.

// numGrad returns the central-difference gradient of f with respect to x,
// perturbing x in place and restoring it.
func numGrad(f func() float64, x []float64) []float64 {
	const h = 1e-5
	g := make([]float64, len(x))
	for i := range x {
		v := x[i]
		x[i] = v + h
		fp := f()
		x[i] = v - h
		fm := f()
		x[i] = v
		g[i] = (fp - fm) / (2 * h)
	}
	return g
}

// checkGrad compares an analytic gradient with finite differences of f in x.
func checkGrad(t *testing.T, what string, f func() float64, x, grad []float64) {
	t.Helper()
	num := numGrad(f, x)
	bad := 0
	for i := range num {
		if math.Abs(num[i]-grad[i]) <= 1e-6+1e-5*math.Abs(num[i]) {
			continue
		}
		if bad < 5 {
			t.Errorf("%s[%d]: analytic %.9g, finite differences %.9g", what, i, grad[i], num[i])
		}
		bad++
	}
}

// dot is Σ a⊙b.
func dot(a, b []float64) float64 {
	var s float64
	for i := range a {
		s += a[i] * b[i]
	}
	return s
}

// rnd returns n values uniform in [lo, hi) from r.
func rnd(r *rand.Rand, n int, lo, hi float64) []float64 {
	v := make([]float64, n)
	for i := range v {
		v[i] = lo + (hi-lo)*r.Float64()
	}
	return v
}

// awayFromZero moves values within 0.05 of zero, where ReLU's derivative
// jumps, out of that band.
func awayFromZero(v []float64) []float64 {
	for i, x := range v {
		if math.Abs(x) < 0.05 {
			v[i] = 0.5
		}
	}
	return v
}

// gradConvCases are the geometries of the finite-difference checks.
var gradConvCases = []backend.ConvGeom{
	backend.NewConvGeom(2, 2, 8, 8, 3, 4, 2, 1),
	backend.NewConvGeom(1, 2, 9, 9, 2, 5, 2, 2),
	backend.NewConvGeom(2, 2, 6, 6, 2, 5, 1, 2),
	backend.NewConvGeom(1, 2, 10, 10, 3, 3, 2, 1),
	backend.NewConvGeom(2, 3, 7, 5, 2, 3, 3, 1),
	backend.NewConvGeom(1, 1, 3, 3, 2, 5, 1, 2),
}

func TestConvReferenceGradients(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for _, g := range gradConvCases {
		t.Run(fmt.Sprintf("%+v", g), func(t *testing.T) {
			nx, nw, ny := convSizes(g)
			x, w, gy := rnd(r, nx, -1, 1), rnd(r, nw, -1, 1), rnd(r, ny, -1, 1)
			loss := func() float64 { return dot(gy, refConvForward(g, x, w)) }
			checkGrad(t, "dx", loss, x, refConvBackwardData(g, gy, w))
			checkGrad(t, "dw", loss, w, refConvBackwardFilter(g, x, gy))
		})
	}
}

// TestConvTransposeReference checks the transposed-convolution use of the
// conv references: ConvBackwardData as the forward pass of a
// ConvTranspose2d agrees with PyTorch's definition of it (output padding
// included), and its input and weight gradients are ConvForward and
// ConvBackwardFilter with the roles of input and output swapped.
func TestConvTransposeReference(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	cases := []struct{ n, k, hin, win, c, r, stride, pad, outPad int }{
		{2, 3, 7, 7, 2, 4, 2, 1, 0}, // mnist deconv, 7 → 14
		{1, 3, 4, 4, 2, 5, 2, 2, 1}, // celeba deconv, 4 → 8 with output padding
		{2, 2, 5, 3, 3, 3, 2, 1, 1}, // odd, 5×3 → 10×6
		{1, 2, 3, 4, 2, 3, 3, 0, 2}, // stride 3, output padding 2
		{1, 1, 2, 2, 1, 5, 1, 2, 0}, // stride 1
	}
	for _, tc := range cases {
		t.Run(fmt.Sprintf("%+v", tc), func(t *testing.T) {
			in := rnd(r, tc.n*tc.k*tc.hin*tc.win, -1, 1)
			w := rnd(r, tc.k*tc.c*tc.r*tc.r, -1, 1)
			want, hout, wout := refConvTranspose(in, w, tc.n, tc.k, tc.hin, tc.win, tc.c, tc.r, tc.stride, tc.pad, tc.outPad)
			g := backend.NewConvGeom(tc.n, tc.c, hout, wout, tc.k, tc.r, tc.stride, tc.pad)
			if g.OH != tc.hin || g.OW != tc.win {
				t.Fatalf("NewConvGeom maps the %dx%d output back to %dx%d, want %dx%d", hout, wout, g.OH, g.OW, tc.hin, tc.win)
			}
			got := refConvBackwardData(g, in, w)
			for i := range want {
				if math.Abs(got[i]-want[i]) > 1e-12 {
					t.Fatalf("ConvBackwardData as ConvTranspose2d: [%d] = %g, want %g", i, got[i], want[i])
				}
			}
			gout := rnd(r, len(want), -1, 1)
			loss := func() float64 { return dot(gout, refConvBackwardData(g, in, w)) }
			checkGrad(t, "dinput", loss, in, refConvForward(g, gout, w))
			checkGrad(t, "dweight", loss, w, refConvBackwardFilter(g, gout, in))
		})
	}
}

func TestBiasReferenceGradient(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	n, c, s := 3, 4, 5
	y, b, gy := rnd(r, n*c*s, -1, 1), rnd(r, c, -1, 1), rnd(r, n*c*s, -1, 1)
	checkGrad(t, "db", func() float64 { return dot(gy, refBias(y, b, n, c, s)) }, b, refBiasBackward(gy, n, c, s))
}

func TestBatchNormReferenceGradients(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 8))
	for _, s := range [][3]int{{4, 3, 5}, {8, 5, 1}, {1, 2, 9}, {2, 1, 1}} {
		n, c, sp := s[0], s[1], s[2]
		t.Run(ncsName(s), func(t *testing.T) {
			x, gamma, beta := rnd(r, n*c*sp, -2, 2), rnd(r, c, 0.5, 1.5), rnd(r, c, -1, 1)
			gy := rnd(r, n*c*sp, -1, 1)
			loss := func() float64 {
				y, _ := refBatchNormTrain(x, gamma, beta, n, c, sp, 1e-5)
				return dot(gy, y)
			}
			_, st := refBatchNormTrain(x, gamma, beta, n, c, sp, 1e-5)
			dx, dgamma, dbeta := refBatchNormBackward(x, gy, gamma, st.mean, st.invstd, n, c, sp)
			checkGrad(t, "dx", loss, x, dx)
			checkGrad(t, "dgamma", loss, gamma, dgamma)
			checkGrad(t, "dbeta", loss, beta, dbeta)
		})
	}
}

func TestActReferenceGradients(t *testing.T) {
	r := rand.New(rand.NewPCG(9, 10))
	for _, a := range activations {
		t.Run(a.name, func(t *testing.T) {
			x, gy := awayFromZero(rnd(r, 50, -3, 3)), rnd(r, 50, -1, 1)
			slope := float64(a.slope)
			loss := func() float64 { return dot(gy, refAct(a.f, x, slope)) }
			checkGrad(t, "dx", loss, x, refActBackward(a.f, refAct(a.f, x, slope), gy, slope))
		})
	}
}

func TestReparameterizeReferenceGradients(t *testing.T) {
	r := rand.New(rand.NewPCG(11, 12))
	mu, lv, eps, gz := rnd(r, 20, -1, 1), rnd(r, 20, -2, 2), rnd(r, 20, -2, 2), rnd(r, 20, -1, 1)
	loss := func() float64 { return dot(gz, refReparameterize(mu, lv, eps)) }
	dmu, dlv := refReparameterizeBackward(lv, eps, gz)
	checkGrad(t, "dmu", loss, mu, dmu)
	checkGrad(t, "dlogvar", loss, lv, dlv)
}

func TestLossReferenceGradients(t *testing.T) {
	r := rand.New(rand.NewPCG(13, 14))
	t.Run("KL", func(t *testing.T) {
		mu, lv := rnd(r, 20, -2, 2), rnd(r, 20, -2, 2)
		_, dmu, dlv := refKL(mu, lv, 0.3)
		loss := func() float64 { l, _, _ := refKL(mu, lv, 0.3); return l }
		checkGrad(t, "dmu", loss, mu, dmu)
		checkGrad(t, "dlogvar", loss, lv, dlv)
	})
	for _, target := range []float64{0, 1, 0.3} {
		t.Run(fmt.Sprint("BCEWithLogits_target", target), func(t *testing.T) {
			l := rnd(r, 20, -6, 6)
			_, grad := refBCE(l, target, 0.7)
			checkGrad(t, "grad", func() float64 { v, _ := refBCE(l, target, 0.7); return v }, l, grad)
		})
	}
	for _, class := range []int{0, 2} {
		t.Run(fmt.Sprint("SoftmaxCE_class", class), func(t *testing.T) {
			l := rnd(r, 4*3, -5, 5)
			_, grad := refSoftmaxCE(l, 3, class, 0.4)
			checkGrad(t, "grad", func() float64 { v, _ := refSoftmaxCE(l, 3, class, 0.4); return v }, l, grad)
		})
	}
	t.Run("SquaredError", func(t *testing.T) {
		a, b := rnd(r, 20, -1, 1), rnd(r, 20, -1, 1)
		_, grad := refSquaredError(a, b, 0.6)
		checkGrad(t, "grad", func() float64 { v, _ := refSquaredError(a, b, 0.6); return v }, a, grad)
	})
}

// TestOpsCoverBackend checks that Ops names every computing method of
// backend.Backend (all but the memory and bookkeeping ones) exactly once.
func TestOpsCoverBackend(t *testing.T) {
	notOps := map[string]bool{"Name": true, "New": true, "Free": true, "Upload": true, "Download": true, "Sync": true}
	seen := map[string]int{}
	for _, op := range Ops() {
		seen[op]++
	}
	it := reflect.TypeFor[backend.Backend]()
	for i := range it.NumMethod() {
		name := it.Method(i).Name
		if notOps[name] {
			continue
		}
		if seen[name] != 1 {
			t.Errorf("Backend.%s appears %d times in Ops, want once", name, seen[name])
		}
		delete(seen, name)
	}
	for name := range seen {
		t.Errorf("Ops names %q, which is not a method of backend.Backend", name)
	}
}
