package backendtest

import (
	"fmt"
	"hash/fnv"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/vaegan-go/vaegan/backend"
)

// Tolerance is the allowed error of a backend's result against the float64
// reference: |got - ref| <= Atol + Rtol*|ref|, elementwise.
type Tolerance struct{ Atol, Rtol float64 }

// opCase tests one Backend method.
type opCase struct {
	name string
	run  func(t *testing.T, b backend.Backend, tol Tolerance)
}

var cases = []opCase{
	{"Copy", testCopy},
	{"Fill", testFill},
	{"Axpy", testAxpy},
	{"Gemm", testGemm},
	{"ConvForward", testConvForward},
	{"ConvBackwardData", testConvBackwardData},
	{"ConvBackwardFilter", testConvBackwardFilter},
	{"BiasForward", testBiasForward},
	{"BiasBackward", testBiasBackward},
	{"BatchNormTrain", testBatchNormTrain},
	{"BatchNormEval", testBatchNormEval},
	{"BatchNormBackward", testBatchNormBackward},
	{"ActForward", testActForward},
	{"ActBackward", testActBackward},
	{"Normal", testNormal},
	{"Reparameterize", testReparameterize},
	{"ReparameterizeBackward", testReparameterizeBackward},
	{"KL", testKL},
	{"BCEWithLogits", testBCEWithLogits},
	{"SoftmaxCE", testSoftmaxCE},
	{"SquaredError", testSquaredError},
	{"SumSquares", testSumSquares},
	{"Decide", testDecide},
	{"Restore", testRestore},
	{"AdamStep", testAdamStep},
	{"RMSPropStep", testRMSPropStep},
	{"Average", testAverage},
}

// Ops lists the Backend methods that compute, each of which Run tests in a
// subtest of the same name.
func Ops() []string {
	names := make([]string, len(cases))
	for i, c := range cases {
		names[i] = c.name
	}
	return names
}

// Run tests every operation of b against the references, within tol.
func Run(t *testing.T, b backend.Backend, tol Tolerance) {
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) { c.run(t, b, tol) })
	}
}

// guard is the number of sentinel elements on each side of every tensor the
// suite allocates; sentinel is their value.
const (
	guard    = 3
	sentinel = -777.25
)

// env is the state of one subtest: its backend, a random source seeded from
// the subtest's name, and the guarded buffers it allocated.
type env struct {
	t     *testing.T
	b     backend.Backend
	tol   Tolerance
	rng   *rand.Rand
	whole []backend.Tensor
}

// sub runs f in a subtest named name and then checks that no guard element
// was overwritten.
func sub(t *testing.T, b backend.Backend, tol Tolerance, name string, f func(e *env)) {
	t.Run(name, func(t *testing.T) {
		h := fnv.New64a()
		h.Write([]byte(t.Name()))
		e := &env{t: t, b: b, tol: tol, rng: rand.New(rand.NewPCG(h.Sum64(), 1))}
		f(e)
		e.b.Sync()
		e.checkGuards()
	})
}

// up allocates a tensor of the given shape (1-D of len(v) when none is
// given) inside a guarded buffer, and uploads v into it.
func (e *env) up(v []float32, shape ...int) backend.Tensor {
	if len(shape) == 0 {
		shape = []int{len(v)}
	}
	x := backend.Tensor{Shape: shape}
	if x.Len() != len(v) {
		e.t.Fatalf("backendtest: %d values for shape %v", len(v), shape)
	}
	host := make([]float32, len(v)+2*guard)
	for i := range host {
		host[i] = sentinel
	}
	copy(host[guard:], v)
	w := e.b.New(len(host))
	e.b.Upload(w, host)
	e.whole = append(e.whole, w)
	x.Buf, x.Off = w.Buf, w.Off+guard
	return x
}

// down returns the contents of x.
func (e *env) down(x backend.Tensor) []float32 {
	v := make([]float32, x.Len())
	e.b.Download(v, x)
	return v
}

// checkGuards fails the test when an operation wrote outside its tensors,
// and frees the subtest's buffers.
func (e *env) checkGuards() {
	for k, w := range e.whole {
		host := e.down(w)
		n := len(host)
		for i, v := range host {
			if (i < guard || i >= n-guard) && v != sentinel {
				e.t.Errorf("tensor %d: element %d outside the view was overwritten: %v", k, i-guard, v)
				break
			}
		}
		e.b.Free(w)
	}
}

// uniform returns n values uniform in [lo, hi).
func (e *env) uniform(n int, lo, hi float64) []float32 {
	v := make([]float32, n)
	for i := range v {
		v[i] = float32(lo + (hi-lo)*e.rng.Float64())
	}
	return v
}

// expect compares the contents of got with want and reports the first few
// elements out of tolerance.
func (e *env) expect(what string, got backend.Tensor, want []float64) {
	e.t.Helper()
	e.expectValues(what, e.down(got), want)
}

// expectValues compares got with want within the tolerance.
func (e *env) expectValues(what string, got []float32, want []float64) {
	e.t.Helper()
	if len(got) != len(want) {
		e.t.Errorf("%s: %d elements, want %d", what, len(got), len(want))
		return
	}
	bad := 0
	for i, w := range want {
		g := float64(got[i])
		if math.Abs(g-w) <= e.tol.Atol+e.tol.Rtol*math.Abs(w) {
			continue
		}
		if bad < 5 {
			e.t.Errorf("%s[%d] = %.7g, want %.7g (diff %.3g)", what, i, g, w, g-w)
		}
		bad++
	}
	if bad > 5 {
		e.t.Errorf("%s: %d of %d elements out of tolerance", what, bad, len(want))
	}
}

// f64 converts to float64.
func f64(v []float32) []float64 {
	out := make([]float64, len(v))
	for i, x := range v {
		out[i] = float64(x)
	}
	return out
}

// f32 rounds to float32.
func f32(v []float64) []float32 {
	out := make([]float32, len(v))
	for i, x := range v {
		out[i] = float32(x)
	}
	return out
}

// add returns a + b elementwise.
func add(a, b []float64) []float64 {
	out := make([]float64, len(a))
	for i := range a {
		out[i] = a[i] + b[i]
	}
	return out
}

// sizes are the vector lengths the elementwise tests use.
var sizes = []int{0, 1, 3, 17, 33, 1000}

func testCopy(t *testing.T, b backend.Backend, tol Tolerance) {
	for _, n := range sizes {
		sub(t, b, tol, fmt.Sprint("n", n), func(e *env) {
			src := e.uniform(n, -1, 1)
			dst := e.up(e.uniform(n, -1, 1))
			b.Copy(dst, e.up(src))
			e.expect("dst", dst, f64(src))
		})
	}
}

func testFill(t *testing.T, b backend.Backend, tol Tolerance) {
	for _, n := range sizes {
		sub(t, b, tol, fmt.Sprint("n", n), func(e *env) {
			x := e.up(e.uniform(n, -1, 1))
			b.Fill(x, 0.375)
			want := make([]float64, n)
			for i := range want {
				want[i] = 0.375
			}
			e.expect("t", x, want)
		})
	}
}

func testAxpy(t *testing.T, b backend.Backend, tol Tolerance) {
	for _, n := range sizes {
		sub(t, b, tol, fmt.Sprint("n", n), func(e *env) {
			x, y := e.uniform(n, -1, 1), e.uniform(n, -1, 1)
			ty := e.up(y)
			b.Axpy(-0.7, e.up(x), ty)
			want := make([]float64, n)
			for i := range want {
				want[i] = float64(y[i]) + float64(float32(-0.7))*float64(x[i])
			}
			e.expect("y", ty, want)
		})
	}
}

func testGemm(t *testing.T, b backend.Backend, tol Tolerance) {
	shapes := [][3]int{{1, 1, 1}, {3, 17, 33}, {33, 1, 17}, {17, 33, 3}, {64, 65, 31}, {1, 300, 257}, {130, 129, 20}, {0, 5, 3}, {4, 0, 3}, {4, 5, 0}}
	scales := [][2]float32{{0.7, -0.3}, {1.3, 0}, {-1, 1}}
	for _, s := range shapes {
		m, n, k := s[0], s[1], s[2]
		for _, ta := range []bool{false, true} {
			for _, tb := range []bool{false, true} {
				for _, ab := range scales {
					name := fmt.Sprintf("m%d_n%d_k%d_ta%v_tb%v_alpha%g_beta%g", m, n, k, ta, tb, ab[0], ab[1])
					sub(t, b, tol, name, func(e *env) {
						a, bb, c := e.uniform(m*k, -1, 1), e.uniform(k*n, -1, 1), e.uniform(m*n, -1, 1)
						tc := e.up(c)
						b.Gemm(ta, tb, m, n, k, ab[0], e.up(a), e.up(bb), ab[1], tc)
						e.expect("C", tc, refGemm(ta, tb, m, n, k, float64(ab[0]), f64(a), f64(bb), float64(ab[1]), f64(c)))
					})
				}
			}
		}
	}
}

// convCases are the convolution geometries tested: the layers of the two
// reference architectures at small batch and reduced channel counts, the
// transposed convolutions as the Conv2d geometry whose ConvBackwardData they
// are, and small odd ones.
var convCases = []struct {
	name string
	g    backend.ConvGeom
}{
	{"mnist_conv_k4s2p1_28", backend.NewConvGeom(2, 1, 28, 28, 4, 4, 2, 1)},
	{"mnist_conv_k4s2p1_14", backend.NewConvGeom(2, 3, 14, 14, 5, 4, 2, 1)},
	{"mnist_deconv_k4s2p1_7to14", backend.NewConvGeom(2, 3, 14, 14, 4, 4, 2, 1)},
	{"mnist_deconv_k4s2p1_14to28", backend.NewConvGeom(2, 1, 28, 28, 3, 4, 2, 1)},
	{"celeba_conv_k5s2p2_64", backend.NewConvGeom(2, 3, 64, 64, 4, 5, 2, 2)},
	{"celeba_conv_k5s2p2_16", backend.NewConvGeom(2, 5, 16, 16, 3, 5, 2, 2)},
	{"celeba_conv_k5s1p2_64", backend.NewConvGeom(1, 3, 64, 64, 2, 5, 1, 2)},
	{"celeba_deconv_k5s2p2op1_8to16", backend.NewConvGeom(2, 3, 16, 16, 5, 5, 2, 2)},
	{"celeba_deconv_k5s2p2op1_16to32", backend.NewConvGeom(1, 2, 32, 32, 3, 5, 2, 2)},
	{"odd_k3s2p1op1_5to10", backend.NewConvGeom(3, 2, 10, 10, 3, 3, 2, 1)},
	{"odd_k3s1p0_5x7", backend.NewConvGeom(3, 2, 5, 7, 3, 3, 1, 0)},
	{"odd_k3s3p1_9x6", backend.NewConvGeom(3, 2, 9, 6, 3, 3, 3, 1)},
	{"odd_k5s1p2_17", backend.NewConvGeom(3, 4, 17, 17, 3, 5, 1, 2)},
	{"odd_k1s1p0_1x1", backend.NewConvGeom(1, 1, 1, 1, 1, 1, 1, 0)},
	{"odd_k5s1p2_kernel_over_4x4", backend.NewConvGeom(1, 3, 4, 4, 2, 5, 1, 2)},
	{"odd_k2s2p0_33x3", backend.NewConvGeom(5, 3, 33, 3, 7, 2, 2, 0)},
	{"odd_k3s1p1_3x1", backend.NewConvGeom(2, 2, 3, 1, 2, 3, 1, 1)},
	{"odd_k5s3p2_11x1_columns_outside", backend.NewConvGeom(2, 3, 11, 1, 2, 5, 3, 2)},
	{"odd_k3s3p0_7x7_last_pixel_unread", backend.NewConvGeom(2, 2, 7, 7, 3, 3, 3, 0)},
	{"empty_batch", backend.NewConvGeom(0, 2, 5, 5, 3, 3, 1, 1)},
}

// convSizes returns the element counts of x, w and y for g.
func convSizes(g backend.ConvGeom) (nx, nw, ny int) {
	return g.N * g.C * g.H * g.W, g.K * g.C * g.R * g.R, g.N * g.K * g.OH * g.OW
}

func testConvForward(t *testing.T, b backend.Backend, tol Tolerance) {
	for _, cc := range convCases {
		g := cc.g
		sub(t, b, tol, cc.name, func(e *env) {
			nx, nw, ny := convSizes(g)
			x, w := e.uniform(nx, -1, 1), e.uniform(nw, -1, 1)
			y := e.up(e.uniform(ny, -1, 1), g.N, g.K, g.OH, g.OW)
			b.ConvForward(g, e.up(x, g.N, g.C, g.H, g.W), e.up(w, g.K, g.C, g.R, g.R), y)
			e.expect("y", y, refConvForward(g, f64(x), f64(w)))
		})
	}
}

func testConvBackwardData(t *testing.T, b backend.Backend, tol Tolerance) {
	for _, cc := range convCases {
		g := cc.g
		sub(t, b, tol, cc.name, func(e *env) {
			nx, nw, ny := convSizes(g)
			dy, w := e.uniform(ny, -1, 1), e.uniform(nw, -1, 1)
			dx := e.up(e.uniform(nx, -1, 1), g.N, g.C, g.H, g.W)
			b.ConvBackwardData(g, e.up(dy, g.N, g.K, g.OH, g.OW), e.up(w, g.K, g.C, g.R, g.R), dx)
			e.expect("dx", dx, refConvBackwardData(g, f64(dy), f64(w)))
		})
	}
}

func testConvBackwardFilter(t *testing.T, b backend.Backend, tol Tolerance) {
	for _, cc := range convCases {
		g := cc.g
		sub(t, b, tol, cc.name, func(e *env) {
			nx, nw, ny := convSizes(g)
			x, dy, dw0 := e.uniform(nx, -1, 1), e.uniform(ny, -1, 1), e.uniform(nw, -1, 1)
			dw := e.up(dw0, g.K, g.C, g.R, g.R)
			b.ConvBackwardFilter(g, e.up(x, g.N, g.C, g.H, g.W), e.up(dy, g.N, g.K, g.OH, g.OW), dw)
			e.expect("dw", dw, add(f64(dw0), refConvBackwardFilter(g, f64(x), f64(dy))))
		})
	}
}

// ncsShapes are the [n, c, s] views of the bias and batch-norm tests: image
// layers (s > 1), Linear layers (s = 1), odd and empty ones.
// ncsShapes are the [N, C, S] shapes of the per-channel ops. The last two
// have more than 2,048 values per channel, which the GPU backend reduces in
// several chunks per channel, with chunk boundaries inside a sample's run
// of S: 2,107 values in runs of 7 (shorter than a block) and 5,002 in runs
// of 2,501 (longer).
var ncsShapes = [][3]int{{4, 3, 5}, {2, 17, 9}, {8, 33, 1}, {3, 1, 1}, {1, 2, 7}, {5, 4, 49}, {2, 0, 3}, {301, 2, 7}, {2, 2, 2501}}

func ncsName(s [3]int) string { return fmt.Sprintf("n%d_c%d_s%d", s[0], s[1], s[2]) }

func testBiasForward(t *testing.T, b backend.Backend, tol Tolerance) {
	for _, s := range append(ncsShapes, [3]int{0, 3, 4}) {
		n, c, sp := s[0], s[1], s[2]
		sub(t, b, tol, ncsName(s), func(e *env) {
			y, bias := e.uniform(n*c*sp, -1, 1), e.uniform(c, -1, 1)
			ty := e.up(y, n, c, sp)
			b.BiasForward(ty, e.up(bias), n, c, sp)
			e.expect("y", ty, refBias(f64(y), f64(bias), n, c, sp))
		})
	}
}

func testBiasBackward(t *testing.T, b backend.Backend, tol Tolerance) {
	for _, s := range append(ncsShapes, [3]int{0, 3, 4}) {
		n, c, sp := s[0], s[1], s[2]
		sub(t, b, tol, ncsName(s), func(e *env) {
			dy, db0 := e.uniform(n*c*sp, -1, 1), e.uniform(c, -1, 1)
			db := e.up(db0)
			b.BiasBackward(e.up(dy, n, c, sp), db, n, c, sp)
			e.expect("db", db, add(f64(db0), refBiasBackward(f64(dy), n, c, sp)))
		})
	}
}

// bnInputs draws a batch-norm input with a channel-dependent mean and
// spread, and gamma, beta.
func bnInputs(e *env, n, c, s int) (x, gamma, beta []float32) {
	x = e.uniform(n*c*s, -1, 1)
	for i := range x {
		j := i / s % c
		x[i] = x[i]*float32(1+j%3) + float32(j%5) - 2
	}
	return x, e.uniform(c, 0.5, 1.5), e.uniform(c, -0.5, 0.5)
}

func testBatchNormTrain(t *testing.T, b backend.Backend, tol Tolerance) {
	const momentum, eps = 0.1, 1e-5
	for _, s := range ncsShapes {
		n, c, sp := s[0], s[1], s[2]
		sub(t, b, tol, ncsName(s), func(e *env) {
			x, gamma, beta := bnInputs(e, n, c, sp)
			rm0, rv0 := e.uniform(c, -1, 1), e.uniform(c, 0.5, 2)
			y := e.up(e.uniform(n*c*sp, -1, 1), n, c, sp)
			mean, invstd := e.up(e.uniform(c, -1, 1)), e.up(e.uniform(c, -1, 1))
			rm, rv := e.up(rm0), e.up(rv0)
			b.BatchNormTrain(e.up(x, n, c, sp), e.up(gamma), e.up(beta), y, mean, invstd, rm, rv, n, c, sp, momentum, eps)
			wy, st := refBatchNormTrain(f64(x), f64(gamma), f64(beta), n, c, sp, eps)
			e.expect("y", y, wy)
			e.expect("mean", mean, st.mean)
			e.expect("invstd", invstd, st.invstd)
			wrm, wrv := make([]float64, c), make([]float64, c)
			for j := range c {
				wrm[j] = (1-momentum)*float64(rm0[j]) + momentum*st.mean[j]
				wrv[j] = (1-momentum)*float64(rv0[j]) + momentum*st.unbiased[j]
			}
			e.expect("runMean", rm, wrm)
			e.expect("runVar", rv, wrv)
		})
	}
}

func testBatchNormEval(t *testing.T, b backend.Backend, tol Tolerance) {
	const eps = 1e-5
	for _, s := range ncsShapes {
		n, c, sp := s[0], s[1], s[2]
		sub(t, b, tol, ncsName(s), func(e *env) {
			x, gamma, beta := bnInputs(e, n, c, sp)
			rm, rv := e.uniform(c, -1, 1), e.uniform(c, 0.5, 2)
			y := e.up(e.uniform(n*c*sp, -1, 1), n, c, sp)
			b.BatchNormEval(e.up(x, n, c, sp), e.up(gamma), e.up(beta), y, e.up(rm), e.up(rv), n, c, sp, eps)
			e.expect("y", y, refBatchNormEval(f64(x), f64(gamma), f64(beta), f64(rm), f64(rv), n, c, sp, eps))
		})
	}
}

func testBatchNormBackward(t *testing.T, b backend.Backend, tol Tolerance) {
	for _, s := range ncsShapes {
		n, c, sp := s[0], s[1], s[2]
		for _, mode := range []string{"all", "no_dx", "no_dgamma"} {
			sub(t, b, tol, ncsName(s)+"_"+mode, func(e *env) {
				x, gamma, _ := bnInputs(e, n, c, sp)
				_, st := refBatchNormTrain(f64(x), make([]float64, c), make([]float64, c), n, c, sp, 1e-5)
				mean, invstd := f32(st.mean), f32(st.invstd)
				dy := e.uniform(n*c*sp, -1, 1)
				dg0, db0 := e.uniform(c, -1, 1), e.uniform(c, -1, 1)
				var dx, dg, db backend.Tensor
				if mode != "no_dx" {
					dx = e.up(e.uniform(n*c*sp, -1, 1), n, c, sp)
				}
				if mode != "no_dgamma" {
					dg, db = e.up(dg0), e.up(db0)
				}
				b.BatchNormBackward(e.up(x, n, c, sp), e.up(dy, n, c, sp), e.up(gamma), e.up(mean), e.up(invstd), dx, dg, db, n, c, sp)
				wdx, wdg, wdb := refBatchNormBackward(f64(x), f64(dy), f64(gamma), f64(mean), f64(invstd), n, c, sp)
				if !dx.IsNil() {
					e.expect("dx", dx, wdx)
				}
				if !dg.IsNil() {
					e.expect("dgamma", dg, add(f64(dg0), wdg))
					e.expect("dbeta", db, add(f64(db0), wdb))
				}
			})
		}
	}
}

// activations are the activations tested, with LeakyReLU's slope.
var activations = []struct {
	name  string
	f     backend.Activation
	slope float32
}{{"ReLU", backend.ReLU, 0}, {"LeakyReLU", backend.LeakyReLU, 0.2}, {"Tanh", backend.Tanh, 0}}

func testActForward(t *testing.T, b backend.Backend, tol Tolerance) {
	for _, a := range activations {
		for _, n := range sizes {
			for _, inPlace := range []bool{false, true} {
				sub(t, b, tol, fmt.Sprintf("%s_n%d_inplace%v", a.name, n, inPlace), func(e *env) {
					x := e.uniform(n, -3, 3)
					tx := e.up(x)
					ty := tx
					if !inPlace {
						ty = e.up(e.uniform(n, -1, 1))
					}
					b.ActForward(a.f, tx, ty, a.slope)
					e.expect("y", ty, refAct(a.f, f64(x), float64(a.slope)))
				})
			}
		}
	}
}

func testActBackward(t *testing.T, b backend.Backend, tol Tolerance) {
	for _, a := range activations {
		for _, n := range sizes {
			for _, inPlace := range []bool{false, true} {
				sub(t, b, tol, fmt.Sprintf("%s_n%d_inplace%v", a.name, n, inPlace), func(e *env) {
					y := f32(refAct(a.f, f64(e.uniform(n, -3, 3)), float64(a.slope)))
					dy := e.uniform(n, -1, 1)
					tdy := e.up(dy)
					tdx := tdy
					if !inPlace {
						tdx = e.up(e.uniform(n, -1, 1))
					}
					b.ActBackward(a.f, e.up(y), tdy, tdx, a.slope)
					e.expect("dx", tdx, refActBackward(a.f, f64(y), f64(dy), float64(a.slope)))
				})
			}
		}
	}
}

// normals returns NormalAt(seed, offset+i) for i < n.
func normals(n int, seed, offset uint64) []float64 {
	v := make([]float64, n)
	for i := range v {
		v[i] = float64(backend.NormalAt(seed, offset+uint64(i)))
	}
	return v
}

// streams are the (seed, offset) pairs of the random tests; the last
// crosses the 32-bit boundary of the counter.
var streams = [][2]uint64{{42, 0}, {7, 12345}, {1<<40 + 3, 1<<32 - 5}}

// counter uploads a counter tensor holding c.
func (e *env) counter(c uint64) backend.Tensor {
	v := make([]float32, backend.CounterLen)
	backend.PutCounter(v, c)
	return e.up(v)
}

func testNormal(t *testing.T, b backend.Backend, tol Tolerance) {
	for _, st := range streams {
		for _, n := range sizes {
			sub(t, b, tol, fmt.Sprintf("seed%d_off%d_n%d", st[0], st[1], n), func(e *env) {
				x := e.up(e.uniform(n, -1, 1))
				b.Normal(x, st[0], e.counter(st[1]))
				e.expect("t", x, normals(n, st[0], st[1]))
			})
		}
	}
}

func testReparameterize(t *testing.T, b backend.Backend, tol Tolerance) {
	for _, st := range streams {
		for _, n := range sizes {
			sub(t, b, tol, fmt.Sprintf("seed%d_off%d_n%d", st[0], st[1], n), func(e *env) {
				mu, lv := e.uniform(n, -1, 1), e.uniform(n, -2, 2)
				eps, z := e.up(e.uniform(n, -1, 1)), e.up(e.uniform(n, -1, 1))
				b.Reparameterize(e.up(mu), e.up(lv), eps, z, st[0], e.counter(st[1]))
				weps := normals(n, st[0], st[1])
				e.expect("eps", eps, weps)
				e.expect("z", z, refReparameterize(f64(mu), f64(lv), weps))
			})
		}
	}
}

func testReparameterizeBackward(t *testing.T, b backend.Backend, tol Tolerance) {
	for _, n := range sizes {
		sub(t, b, tol, fmt.Sprint("n", n), func(e *env) {
			lv, eps, dz := e.uniform(n, -2, 2), e.uniform(n, -2, 2), e.uniform(n, -1, 1)
			dmu0, dlv0 := e.uniform(n, -1, 1), e.uniform(n, -1, 1)
			dmu, dlv := e.up(dmu0), e.up(dlv0)
			b.ReparameterizeBackward(e.up(lv), e.up(eps), e.up(dz), dmu, dlv)
			wmu, wlv := refReparameterizeBackward(f64(lv), f64(eps), f64(dz))
			e.expect("dmu", dmu, add(f64(dmu0), wmu))
			e.expect("dlogvar", dlv, add(f64(dlv0), wlv))
		})
	}
}

// lossOut allocates a one-element loss tensor holding garbage, so that a
// backend that accumulates into it instead of writing it fails.
func (e *env) lossOut() backend.Tensor { return e.up([]float32{123.5}, 1) }

// gradModes are the loss tests' variants: with the gradient, or loss only.
var gradModes = []string{"grad", "loss_only"}

func testKL(t *testing.T, b backend.Backend, tol Tolerance) {
	for _, n := range sizes {
		for _, mode := range gradModes {
			sub(t, b, tol, fmt.Sprintf("n%d_%s", n, mode), func(e *env) {
				mu, lv := e.uniform(n, -2, 2), e.uniform(n, -2, 2)
				loss := e.lossOut()
				var dmu, dlv backend.Tensor
				if mode == "grad" {
					dmu, dlv = e.up(e.uniform(n, -1, 1)), e.up(e.uniform(n, -1, 1))
				}
				b.KL(e.up(mu), e.up(lv), loss, dmu, dlv, 0.25)
				wl, wmu, wlv := refKL(f64(mu), f64(lv), float64(float32(0.25)))
				e.expect("loss", loss, []float64{wl})
				if mode == "grad" {
					e.expect("dmu", dmu, wmu)
					e.expect("dlogvar", dlv, wlv)
				}
			})
		}
	}
}

func testBCEWithLogits(t *testing.T, b backend.Backend, tol Tolerance) {
	for _, n := range sizes {
		for _, target := range []float32{0, 1, 0.3} {
			for _, mode := range gradModes {
				sub(t, b, tol, fmt.Sprintf("n%d_target%g_%s", n, target, mode), func(e *env) {
					logits := e.uniform(n, -6, 6)
					loss := e.lossOut()
					var grad backend.Tensor
					if mode == "grad" {
						grad = e.up(e.uniform(n, -1, 1))
					}
					scale := float32(1.0 / 7)
					b.BCEWithLogits(e.up(logits), loss, grad, target, scale)
					wl, wg := refBCE(f64(logits), float64(target), float64(scale))
					e.expect("loss", loss, []float64{wl})
					if mode == "grad" {
						e.expect("grad", grad, wg)
					}
				})
			}
		}
	}
}

func testSoftmaxCE(t *testing.T, b backend.Backend, tol Tolerance) {
	shapes := [][3]int{{1, 1, 0}, {5, 3, 0}, {5, 3, 1}, {5, 3, 2}, {4, 2, 1}, {3, 17, 16}, {33, 3, 2}, {0, 3, 1}}
	for _, s := range shapes {
		n, k, class := s[0], s[1], s[2]
		for _, mode := range gradModes {
			sub(t, b, tol, fmt.Sprintf("n%d_k%d_class%d_%s", n, k, class, mode), func(e *env) {
				logits := e.uniform(n*k, -5, 5)
				loss := e.lossOut()
				var grad backend.Tensor
				if mode == "grad" {
					grad = e.up(e.uniform(n*k, -1, 1), n, k)
				}
				scale := float32(1.0 / 3)
				b.SoftmaxCE(e.up(logits, n, k), loss, grad, k, class, scale)
				wl, wg := refSoftmaxCE(f64(logits), k, class, float64(scale))
				e.expect("loss", loss, []float64{wl})
				if mode == "grad" {
					e.expect("grad", grad, wg)
				}
			})
		}
	}
}

func testSquaredError(t *testing.T, b backend.Backend, tol Tolerance) {
	for _, n := range sizes {
		for _, mode := range gradModes {
			sub(t, b, tol, fmt.Sprintf("n%d_%s", n, mode), func(e *env) {
				x, y := e.uniform(n, -1, 1), e.uniform(n, -1, 1)
				loss := e.lossOut()
				var grad backend.Tensor
				if mode == "grad" {
					grad = e.up(e.uniform(n, -1, 1))
				}
				scale := float32(0.125)
				b.SquaredError(e.up(x), e.up(y), loss, grad, scale)
				wl, wg := refSquaredError(f64(x), f64(y), float64(scale))
				e.expect("loss", loss, []float64{wl})
				if mode == "grad" {
					e.expect("grad", grad, wg)
				}
			})
		}
	}
}

func testSumSquares(t *testing.T, b backend.Backend, tol Tolerance) {
	for _, n := range sizes {
		sub(t, b, tol, fmt.Sprint("n", n), func(e *env) {
			x := e.uniform(n, -2, 2)
			out := e.lossOut()
			b.SumSquares(e.up(x), out)
			e.expect("sum", out, []float64{refSumSquares(f64(x))})
		})
	}
	// What the check exists for: a NaN, an infinity or an element whose
	// square overflows float32 anywhere in a buffer makes the sum non-finite.
	for _, bad := range []float32{float32(math.NaN()), float32(math.Inf(1)), float32(math.Inf(-1)), 2e19} {
		sub(t, b, tol, fmt.Sprint("bad_", bad), func(e *env) {
			x := e.uniform(1000, -1, 1)
			x[777] = bad
			out := e.lossOut()
			b.SumSquares(e.up(x), out)
			if got := float64(e.down(out)[0]); !math.IsNaN(got) && !math.IsInf(got, 0) {
				e.t.Errorf("SumSquares of a buffer holding %v: %v, want NaN or ±Inf", bad, got)
			}
		})
	}
}

// decideCases are values l of a step (Checked 5: four losses, then a Σg²,
// then one value past the checked ones) with the flags Decide must write,
// by rule: the equilibrium rule with thresholds 0.33 and 1.03 reading real
// at 0, rec at 1 (or none) and gen at 2.
var decideCases = []struct {
	name        string
	equilibrium bool
	rec         int
	l           [6]float32
	want        [3]float32
}{
	{"finite", false, 1, [6]float32{0.1, 9, 0.2, -3, 7e30, 0}, [3]float32{1, 1, 1}},
	{"nan_loss", false, 1, [6]float32{0.7, float32(math.NaN()), 0.7, 0.7, 1, 0}, [3]float32{0, 0, 0}},
	{"inf_sumsq", true, 1, [6]float32{0.7, 0.7, 0.7, 0.7, float32(math.Inf(1)), 0}, [3]float32{0, 0, 0}},
	{"neg_inf_loss", true, -1, [6]float32{0.7, 0.7, 0.7, float32(math.Inf(-1)), 1, 0}, [3]float32{0, 0, 0}},
	{"nan_unchecked", false, 1, [6]float32{0.7, 0.7, 0.7, 0.7, 1, float32(math.NaN())}, [3]float32{1, 1, 1}},
	{"balanced", true, 1, [6]float32{0.7, 0.6, 0.8, 5, 1, 0}, [3]float32{1, 1, 1}},
	{"dis_winning_real", true, 1, [6]float32{0.2, 0.6, 0.8, 5, 1, 0}, [3]float32{1, 1, 0}},
	{"dis_winning_fake_mean", true, 1, [6]float32{0.7, 0.1, 0.5, 5, 1, 0}, [3]float32{1, 1, 0}},
	{"dis_winning_gan_gen_only", true, -1, [6]float32{0.7, 0.1, 0.5, 5, 1, 0}, [3]float32{1, 1, 1}},
	{"dis_losing", true, 1, [6]float32{1.2, 0.6, 0.8, 5, 1, 0}, [3]float32{1, 0, 1}},
	{"dis_losing_fake", true, -1, [6]float32{0.7, 0, 1.5, 5, 1, 0}, [3]float32{1, 0, 1}},
	{"both_skipped", true, 1, [6]float32{0.2, 1.5, 1.5, 5, 1, 0}, [3]float32{1, 1, 1}},
	{"at_low", true, -1, [6]float32{0.33, 0.7, 0.33, 5, 1, 0}, [3]float32{1, 1, 1}},
	{"at_high", true, -1, [6]float32{1.03, 0.7, 1.03, 5, 1, 0}, [3]float32{1, 1, 1}},
	{"rule_off", false, 1, [6]float32{0.01, 0.01, 0.01, 5, 1, 0}, [3]float32{1, 1, 1}},
}

func testDecide(t *testing.T, b backend.Backend, tol Tolerance) {
	for _, c := range decideCases {
		sub(t, b, tol, c.name, func(e *env) {
			d := backend.Decision{Checked: 5, Equilibrium: c.equilibrium, Real: 0, Rec: c.rec, Gen: 2, Low: 0.33, High: 1.03}
			flags := e.up([]float32{-1, -1, -1})
			b.Decide(e.up(c.l[:]), flags, d)
			if got := e.down(flags); [3]float32(got) != c.want {
				e.t.Errorf("flags of %v by %+v: %v, want %v", c.l, d, got, c.want)
			}
		})
	}
}

func testRestore(t *testing.T, b backend.Backend, tol Tolerance) {
	for _, ok := range []float32{0, 1} {
		for _, n := range sizes {
			sub(t, b, tol, fmt.Sprintf("ok%v_n%d", ok, n), func(e *env) {
				was, saved := e.uniform(n, -1, 1), e.uniform(n, -1, 1)
				dst := e.up(was)
				b.Restore(dst, e.up(saved), e.up([]float32{ok}))
				want := was
				if ok == 0 {
					want = saved
				}
				e.expectValues("dst", e.down(dst), f64(want))
			})
		}
	}
}

// optSteps is the number of optimizer steps the optimizer tests take.
const optSteps = 5

// gates are the ways the optimizer tests pass the flag on: none, or a
// tensor holding each step's entry of gateFlags (the reference skips the
// steps it turns off).
var (
	gates     = []string{"ungated", "gated"}
	gateFlags = [optSteps]float32{1, 0, 1, 1, 0}
)

// gate returns the flag tensor of step of a test in mode gate, and whether
// the step updates.
func (e *env) gate(gate string, step int) (backend.Tensor, bool) {
	if gate == "ungated" {
		return backend.Tensor{}, true
	}
	return e.up([]float32{gateFlags[step]}), gateFlags[step] != 0
}

func testAdamStep(t *testing.T, b backend.Backend, tol Tolerance) {
	h := adamHyper{lr: 0.01, b1: 0.5, b2: 0.999, eps: 1e-8}
	for _, gate := range gates {
		for _, n := range sizes {
			sub(t, b, tol, fmt.Sprint(gate, "_n", n), func(e *env) {
				p0 := e.uniform(n, -1, 1)
				p, m, v := e.up(p0), e.up(make([]float32, n)), e.up(make([]float32, n))
				var grads [][]float64
				for step := range optSteps {
					g := e.uniform(n, -1, 1)
					on, updates := e.gate(gate, step)
					t := len(grads) + 1 // the update's number, if it happens
					if updates {
						grads = append(grads, f64(g))
					}
					bc := e.up([]float32{float32(1 - math.Pow(h.b1, float64(t))), float32(1 - math.Pow(h.b2, float64(t)))})
					b.AdamStep(p, e.up(g), m, v, on, bc, float32(h.lr), float32(h.b1), float32(h.b2), float32(h.eps))
				}
				wp, wm, wv := f64(p0), make([]float64, n), make([]float64, n)
				refAdam(wp, wm, wv, grads, h)
				e.expect("p", p, wp)
				e.expect("m", m, wm)
				e.expect("v", v, wv)
			})
		}
	}
}

func testRMSPropStep(t *testing.T, b backend.Backend, tol Tolerance) {
	const lr, alpha, eps = 0.01, 0.9, 1e-8
	for _, gate := range gates {
		for _, n := range sizes {
			sub(t, b, tol, fmt.Sprint(gate, "_n", n), func(e *env) {
				p0 := e.uniform(n, -1, 1)
				p, v := e.up(p0), e.up(make([]float32, n))
				var grads [][]float64
				for step := range optSteps {
					g := e.uniform(n, -1, 1)
					on, updates := e.gate(gate, step)
					if updates {
						grads = append(grads, f64(g))
					}
					b.RMSPropStep(p, e.up(g), v, on, lr, alpha, eps)
				}
				wp, wv := f64(p0), make([]float64, n)
				refRMSProp(wp, wv, grads, float64(float32(lr)), float64(float32(alpha)), float64(float32(eps)))
				e.expect("p", p, wp)
				e.expect("v", v, wv)
			})
		}
	}
}

func testAverage(t *testing.T, b backend.Backend, tol Tolerance) {
	const decay = 0.875
	for _, gate := range gates {
		for _, n := range sizes {
			sub(t, b, tol, fmt.Sprint(gate, "_n", n), func(e *env) {
				a0 := e.uniform(n, -1, 1)
				avg, want := e.up(a0), f64(a0)
				for step := range optSteps {
					w := e.uniform(n, -1, 1)
					on, updates := e.gate(gate, step)
					b.Average(avg, e.up(w), on, decay)
					if updates {
						for i := range want {
							want[i] += (1 - decay) * (float64(w[i]) - want[i])
						}
					}
				}
				e.expect("avg", avg, want)
			})
		}
	}
}
