// Package drivertest is a test suite for any gpu.Driver: it launches the
// test kernels of kernels/emutest.cu and runs Sgemm, comparing the results
// with plain Go, and records graphs where the driver captures. Package
// gpu/emu runs it on the emulator; package gpu/cuda runs it on a GPU.
package drivertest

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/vaegan-go/vaegan/gpu"
)

// Run runs every test of the suite on d as subtests.
func Run(t *testing.T, d gpu.Driver) {
	tests := []struct {
		name string
		run  func(*testing.T, gpu.Driver)
	}{
		{"AffineEarlyReturn", testAffineEarlyReturn},
		{"Index3D", testIndex3D},
		{"BlockSum", testBlockSum},
		{"DynamicSharedReverse", testDynamicSharedReverse},
		{"Atomics", testAtomics},
		{"Params", testParams},
		{"Math", testMath},
		{"CopyDtoD", testCopyDtoD},
		{"Sgemm", testSgemm},
		{"SgemmAlphaZero", testSgemmAlphaZero},
	}
	if _, ok := d.(gpu.Capturer); ok {
		tests = append(tests, []struct {
			name string
			run  func(*testing.T, gpu.Driver)
		}{{"Capture", testCapture}, {"CaptureRefusesHostCopies", testCaptureRefusesHostCopies}}...)
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) { tc.run(t, d) })
	}
}

// BenchBlockSum reduces 2^20 floats in 256-thread blocks, each block running
// nine __syncthreads.
func BenchBlockSum(b *testing.B, d gpu.Driver) {
	const n, block = 1 << 20, 256
	xp := Upload(b, d, randFloats(rand.New(rand.NewPCG(1, 1)), n), 0)
	pp := Alloc(b, d, n/block)
	for b.Loop() {
		Launch(b, d, "emutest_block_sum", gpu.Dim3{X: n / block, Y: 1, Z: 1}, gpu.Dim3{X: block, Y: 1, Z: 1}, 0, pp, xp, n)
	}
	if err := d.Synchronize(); err != nil {
		b.Fatal(err)
	}
}

// Upload allocates room for xs plus extra floats and copies xs there.
func Upload(t testing.TB, d gpu.Driver, xs []float32, extra int) gpu.DevicePtr {
	t.Helper()
	p, err := d.Alloc(4 * (len(xs) + extra))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { free(t, d, p) })
	if err := d.CopyHtoD(p, xs); err != nil {
		t.Fatal(err)
	}
	return p
}

// Download copies n floats from p to the host.
func Download(t testing.TB, d gpu.Driver, p gpu.DevicePtr, n int) []float32 {
	t.Helper()
	xs := make([]float32, n)
	if err := d.CopyDtoH(xs, p); err != nil {
		t.Fatal(err)
	}
	return xs
}

// Alloc allocates room for floats floats.
func Alloc(t testing.TB, d gpu.Driver, floats int) gpu.DevicePtr {
	t.Helper()
	p, err := d.Alloc(4 * floats)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { free(t, d, p) })
	return p
}

func free(t testing.TB, d gpu.Driver, p gpu.DevicePtr) {
	if err := d.Free(p); err != nil {
		t.Error(err)
	}
}

func randFloats(r *rand.Rand, n int) []float32 {
	xs := make([]float32, n)
	for i := range xs {
		xs[i] = float32(r.NormFloat64())
	}
	return xs
}

// Launch launches a kernel with Args(args...) and fails the test on error.
func Launch(t testing.TB, d gpu.Driver, name string, grid, block gpu.Dim3, shared int, args ...any) {
	t.Helper()
	if err := d.Launch(name, grid, block, shared, Args(args...)); err != nil {
		t.Fatal(err)
	}
}

// Args converts Go values to kernel arguments: gpu.DevicePtr, int, float32
// and uint64 become Ptr, Int, F32 and U64; any other type panics.
func Args(vals ...any) []gpu.Arg {
	args := make([]gpu.Arg, len(vals))
	for i, v := range vals {
		switch v := v.(type) {
		case gpu.DevicePtr:
			args[i] = gpu.Ptr(v)
		case int:
			args[i] = gpu.Int(v)
		case float32:
			args[i] = gpu.F32(v)
		case uint64:
			args[i] = gpu.U64(v)
		default:
			panic(fmt.Sprintf("drivertest.Args: argument %d has Go type %T", i, v))
		}
	}
	return args
}

func testAffineEarlyReturn(t *testing.T, d gpu.Driver) {
	r := rand.New(rand.NewPCG(1, 2))
	const n, block = 12347, 128
	x := randFloats(r, n)
	xp := Upload(t, d, x, 0)
	yp := Alloc(t, d, n+100) // the 100 floats past n must stay unwritten
	a, b := float32(1.5), float32(-0.25)
	Launch(t, d, "emutest_affine", gpu.Dim3{X: (n + 99 + block - 1) / block, Y: 1, Z: 1}, gpu.Dim3{X: block, Y: 1, Z: 1}, 0,
		yp, xp, n, a, b)
	y := Download(t, d, yp, n+100)
	for i := range n {
		want := float64(a)*float64(x[i]) + float64(b)
		if math.Abs(float64(y[i])-want) > 1e-6*(math.Abs(float64(a*x[i]))+math.Abs(float64(b))) {
			t.Fatalf("y[%d] = %v, want %v", i, y[i], want)
		}
	}
	for i := n; i < n+100; i++ {
		if !math.IsNaN(float64(y[i])) {
			t.Fatalf("y[%d] = %v past n = %d was written", i, y[i], n)
		}
	}
}

func testIndex3D(t *testing.T, d gpu.Driver) {
	grid, block := gpu.Dim3{X: 3, Y: 2, Z: 2}, gpu.Dim3{X: 4, Y: 3, Z: 2}
	threads := block.X * block.Y * block.Z
	n := grid.X * grid.Y * grid.Z * threads
	out := Alloc(t, d, n)
	Launch(t, d, "emutest_index", grid, block, 0, out)
	got := Download(t, d, out, n)
	for bz := range grid.Z {
		for by := range grid.Y {
			for bx := range grid.X {
				for tz := range block.Z {
					for ty := range block.Y {
						for tx := range block.X {
							b := bx + grid.X*(by+grid.Y*bz)
							th := tx + block.X*(ty+block.Y*tz)
							want := float32(tx + 10*ty + 100*tz + 1000*bx + 10000*by + 100000*bz)
							if g := got[b*threads+th]; g != want {
								t.Fatalf("out[%d] = %v, want %v", b*threads+th, g, want)
							}
						}
					}
				}
			}
		}
	}
}

func testBlockSum(t *testing.T, d gpu.Driver) {
	r := rand.New(rand.NewPCG(3, 4))
	const n, block = 100003, 256
	blocks := (n + block - 1) / block
	x := randFloats(r, n)
	xp := Upload(t, d, x, 0)
	pp := Alloc(t, d, blocks)
	Launch(t, d, "emutest_block_sum", gpu.Dim3{X: blocks, Y: 1, Z: 1}, gpu.Dim3{X: block, Y: 1, Z: 1}, 0, pp, xp, n)
	partial := Download(t, d, pp, blocks)
	for b := range blocks {
		var want, mag float64
		for i := b * block; i < min(n, (b+1)*block); i++ {
			want += float64(x[i])
			mag += math.Abs(float64(x[i]))
		}
		if math.Abs(float64(partial[b])-want) > 1e-6*mag {
			t.Fatalf("partial[%d] = %v, want %v", b, partial[b], want)
		}
	}
}

func testDynamicSharedReverse(t *testing.T, d gpu.Driver) {
	r := rand.New(rand.NewPCG(5, 6))
	const n, block = 1000, 96
	x := randFloats(r, n)
	xp := Upload(t, d, x, 0)
	yp := Alloc(t, d, n)
	Launch(t, d, "emutest_reverse", gpu.Dim3{X: (n + block - 1) / block, Y: 1, Z: 1}, gpu.Dim3{X: block, Y: 1, Z: 1}, 4*block,
		yp, xp, n)
	y := Download(t, d, yp, n)
	for base := 0; base < n; base += block {
		l := min(block, n-base)
		for i := range l {
			if y[base+i] != x[base+l-1-i] {
				t.Fatalf("y[%d] = %v, want x[%d] = %v", base+i, y[base+i], base+l-1-i, x[base+l-1-i])
			}
		}
	}
}

func testAtomics(t *testing.T, d gpu.Driver) {
	r := rand.New(rand.NewPCG(7, 8))
	const n, block = 100001, 64
	// Small integers, so that the float sum is exact in any order.
	x := make([]float32, n)
	var want float32
	for i := range x {
		x[i] = float32(r.IntN(8))
		want += x[i]
	}
	xp := Upload(t, d, x, 0)
	acc := Upload(t, d, []float32{0, 0}, 0)
	Launch(t, d, "emutest_atomics", gpu.Dim3{X: (n + block - 1) / block, Y: 1, Z: 1}, gpu.Dim3{X: block, Y: 1, Z: 1}, 0,
		acc, acc+4, xp, n)
	got := Download(t, d, acc, 2)
	if got[0] != want {
		t.Errorf("float atomicAdd sum = %v, want %v", got[0], want)
	}
	if c := int32(math.Float32bits(got[1])); c != n {
		t.Errorf("int atomicAdd count = %d, want %d", c, n)
	}
}

func testParams(t *testing.T, d gpu.Driver) {
	in := Upload(t, d, []float32{42.5}, 0)
	out := Alloc(t, d, 5)
	const u = uint64(0x123456789abcdef0)
	Launch(t, d, "emutest_params", gpu.Dim3{X: 1, Y: 1, Z: 1}, gpu.Dim3{X: 1, Y: 1, Z: 1}, 0,
		out, in, -7, float32(3.25), u)
	got := Download(t, d, out, 5)
	if got[0] != 42.5 {
		t.Errorf("const float* argument read %v, want 42.5", got[0])
	}
	if i := int32(math.Float32bits(got[1])); i != -7 {
		t.Errorf("int argument = %d, want -7", i)
	}
	if got[2] != 3.25 {
		t.Errorf("float argument = %v, want 3.25", got[2])
	}
	if lo, hi := math.Float32bits(got[3]), math.Float32bits(got[4]); uint64(hi)<<32|uint64(lo) != u {
		t.Errorf("unsigned long long argument = %#x, want %#x", uint64(hi)<<32|uint64(lo), u)
	}
}

func testMath(t *testing.T, d gpu.Driver) {
	r := rand.New(rand.NewPCG(9, 10))
	const n = 333
	x := randFloats(r, n)
	xp := Upload(t, d, x, 0)
	yp := Alloc(t, d, 8*n)
	Launch(t, d, "emutest_math", gpu.Dim3{X: 3, Y: 1, Z: 1}, gpu.Dim3{X: 128, Y: 1, Z: 1}, 0, yp, xp, n)
	y := Download(t, d, yp, 8*n)
	// CUDA's __expf is a fast approximation: about 2 + 1.2|x| ulps.
	tols := []float64{1e-6, 1e-6, 1e-6, 1e-6, 1e-5, 1e-6, 1e-6, 1e-6}
	funcs := []func(v float64) float64{
		math.Exp,
		func(v float64) float64 { return math.Log(math.Abs(v) + 1) },
		func(v float64) float64 { return 1 / math.Sqrt(math.Abs(v)+1) },
		math.Tanh,
		math.Exp,
		func(v float64) float64 { return math.Log1p(math.Abs(v)) },
		func(v float64) float64 { return math.Max(v, 0.5) + math.Min(v, -0.5) },
		func(v float64) float64 { return math.Sqrt(math.Abs(v)) * math.Cos(v) },
	}
	for k, f := range funcs {
		for i, v := range x {
			want := f(float64(v))
			if got := y[k*n+i]; math.Abs(float64(got)-want) > tols[k]*math.Max(math.Abs(want), 1) {
				t.Errorf("function %d of %v = %v, want %v", k, v, got, want)
			}
		}
	}
}

func testCopyDtoD(t *testing.T, d gpu.Driver) {
	src := Upload(t, d, []float32{1, 2, 3, 4, 5}, 0)
	dst := Alloc(t, d, 5)
	if err := d.CopyDtoD(dst+4, src, 3); err != nil {
		t.Fatal(err)
	}
	got := Download(t, d, dst+4, 3)
	if got[0] != 1 || got[1] != 2 || got[2] != 3 {
		t.Errorf("CopyDtoD copied %v, want [1 2 3]", got)
	}
}

// refGemm is C = alpha*op(A)*op(B) + beta*C on column-major matrices in
// float64, with beta == 0 ignoring C; it also returns, per element of C, the
// sum of the magnitudes of its terms, which bounds the rounding error.
func refGemm(transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) (want, mag []float64) {
	opA := func(i, p int) float64 {
		if transA {
			return float64(a[p+i*lda])
		}
		return float64(a[i+p*lda])
	}
	opB := func(p, j int) float64 {
		if transB {
			return float64(b[j+p*ldb])
		}
		return float64(b[p+j*ldb])
	}
	want = make([]float64, len(c))
	mag = make([]float64, len(c))
	for i := range c {
		want[i] = float64(c[i]) // outside the m×n block C must not change
	}
	for j := range n {
		for i := range m {
			var s, g float64
			for p := range k {
				s += opA(i, p) * opB(p, j)
				g += math.Abs(opA(i, p) * opB(p, j))
			}
			v := float64(alpha) * s
			g *= math.Abs(float64(alpha))
			if beta != 0 {
				v += float64(beta) * float64(c[i+j*ldc])
				g += math.Abs(float64(beta) * float64(c[i+j*ldc]))
			}
			want[i+j*ldc], mag[i+j*ldc] = v, g
		}
	}
	return want, mag
}

func testSgemm(t *testing.T, d gpu.Driver) {
	r := rand.New(rand.NewPCG(11, 12))
	sizes := []struct{ m, n, k, pad int }{
		{1, 1, 1, 0},
		{7, 5, 3, 2},
		{33, 17, 65, 5},
		{70, 41, 37, 1}, // large enough to split the columns among workers
	}
	for _, s := range sizes {
		for _, transA := range []bool{false, true} {
			for _, transB := range []bool{false, true} {
				for _, beta := range []float32{0, 0.5} {
					rowsA, colsA := s.m, s.k
					if transA {
						rowsA, colsA = s.k, s.m
					}
					rowsB, colsB := s.k, s.n
					if transB {
						rowsB, colsB = s.n, s.k
					}
					lda, ldb, ldc := rowsA+s.pad, rowsB+s.pad+1, s.m+s.pad
					a := randFloats(r, lda*colsA)
					b := randFloats(r, ldb*colsB)
					c := randFloats(r, ldc*s.n)
					if beta == 0 {
						for i := range c {
							c[i] = float32(math.NaN()) // beta == 0 must not read C
						}
					}
					alpha := float32(1.25)
					want, mag := refGemm(transA, transB, s.m, s.n, s.k, alpha, a, lda, b, ldb, beta, c, ldc)
					ap, bp, cp := Upload(t, d, a, 0), Upload(t, d, b, 0), Upload(t, d, c, 0)
					if err := d.Sgemm(transA, transB, s.m, s.n, s.k, alpha, ap, lda, bp, ldb, beta, cp, ldc); err != nil {
						t.Fatal(err)
					}
					got := Download(t, d, cp, len(c))
					for i := range got {
						if math.IsNaN(want[i]) { // padding rows of C
							if !math.IsNaN(float64(got[i])) {
								t.Fatalf("m=%d n=%d k=%d transA=%t transB=%t: C[%d] outside the product changed to %v",
									s.m, s.n, s.k, transA, transB, i, got[i])
							}
							continue
						}
						if math.Abs(float64(got[i])-want[i]) > float64(s.k+2)*0x1p-24*mag[i] {
							t.Fatalf("m=%d n=%d k=%d transA=%t transB=%t beta=%v: C[%d] = %v, want %v",
								s.m, s.n, s.k, transA, transB, beta, i, got[i], want[i])
						}
					}
				}
			}
		}
	}
}

// TestSgemmAlphaZero checks that alpha == 0 scales C by beta without
// reading A or B, as cuBLAS does.
func testSgemmAlphaZero(t *testing.T, d gpu.Driver) {
	nan := float32(math.NaN())
	ap := Upload(t, d, []float32{nan, nan, nan, nan}, 0)
	cp := Upload(t, d, []float32{1, 2, 3, 4}, 0)
	if err := d.Sgemm(false, false, 2, 2, 2, 0, ap, 2, ap, 2, 0.5, cp, 2); err != nil {
		t.Fatal(err)
	}
	got := Download(t, d, cp, 4)
	for i, v := range got {
		if want := float32(i+1) / 2; v != want {
			t.Errorf("C[%d] = %v, want %v", i, v, want)
		}
	}
}

// testCapture records a launch, a copy within the device and an Sgemm into
// a graph: nothing runs while recording, and each replay runs them again in
// order on the memory as it is then, with the arguments as recorded (an
// argument slice changed after Launch returns does not reach the graph).
func testCapture(t *testing.T, d gpu.Driver) {
	c := d.(gpu.Capturer)
	x := Upload(t, d, []float32{1, 2, 3, 4}, 0)
	y := Upload(t, d, []float32{0, 0, 0, 0}, 0)
	z := Upload(t, d, []float32{0, 0, 0, 0}, 0)
	if err := c.BeginCapture(); err != nil {
		t.Fatal(err)
	}
	args := Args(y, x, 4, float32(2), float32(1)) // y = 2x + 1
	one, four := gpu.Dim3{X: 1, Y: 1, Z: 1}, gpu.Dim3{X: 4, Y: 1, Z: 1}
	if err := d.Launch("emutest_affine", one, four, 0, args); err != nil {
		t.Fatal(err)
	}
	args[3] = gpu.F32(100)
	if err := d.CopyDtoD(z, y, 4); err != nil { // z = y
		t.Fatal(err)
	}
	if err := d.Sgemm(false, false, 1, 1, 1, 1, x, 1, x, 1, 1, z, 1); err != nil { // z[0] += x[0]²
		t.Fatal(err)
	}
	g, err := c.EndCapture()
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		if err := g.Destroy(); err != nil {
			t.Error(err)
		}
	}()
	check := func(when string, p gpu.DevicePtr, want []float32) {
		t.Helper()
		if got := Download(t, d, p, len(want)); !slices.Equal(got, want) {
			t.Errorf("%s: %v, want %v", when, got, want)
		}
	}
	check("y after the capture", y, []float32{0, 0, 0, 0})
	check("z after the capture", z, []float32{0, 0, 0, 0})
	if err := g.Replay(); err != nil {
		t.Fatal(err)
	}
	check("y after a replay", y, []float32{3, 5, 7, 9})
	check("z after a replay", z, []float32{4, 5, 7, 9})
	for i := range 2 {
		if err := d.CopyHtoD(x, []float32{10, 20, 30, float32(40 + i)}); err != nil {
			t.Fatal(err)
		}
		if err := g.Replay(); err != nil {
			t.Fatal(err)
		}
		check("y after a replay on new x", y, []float32{21, 41, 61, float32(81 + 2*i)})
		check("z after a replay on new x", z, []float32{121, 41, 61, float32(81 + 2*i)})
	}
}

// testCaptureRefusesHostCopies: a copy from the host during a capture fails
// and spoils it (EndCapture fails); the driver works on after.
func testCaptureRefusesHostCopies(t *testing.T, d gpu.Driver) {
	c := d.(gpu.Capturer)
	x := Alloc(t, d, 4)
	if err := c.BeginCapture(); err != nil {
		t.Fatal(err)
	}
	if err := d.CopyHtoD(x, []float32{1, 2, 3, 4}); err == nil {
		t.Error("CopyHtoD during a capture succeeded")
	}
	if g, err := c.EndCapture(); err == nil {
		g.Destroy()
		t.Fatal("EndCapture after a refused CopyHtoD succeeded")
	}
	if err := d.CopyHtoD(x, []float32{1, 2, 3, 4}); err != nil {
		t.Fatalf("CopyHtoD after the failed capture: %v", err)
	}
	if got := Download(t, d, x, 4); !slices.Equal(got, []float32{1, 2, 3, 4}) {
		t.Errorf("after the failed capture: %v, want [1 2 3 4]", got)
	}
}
