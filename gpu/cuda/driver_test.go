//go:build cuda

package cuda_test

import (
	"errors"
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/vaegan-go/vaegan/gpu"
	"github.com/vaegan-go/vaegan/gpu/cuda"
	"github.com/vaegan-go/vaegan/gpu/emu/drivertest"
)

func newDriver(t testing.TB, opts cuda.Options) *cuda.Driver {
	d, err := cuda.New(opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := d.Close(); err != nil {
			t.Error(err)
		}
	})
	return d
}

func TestDriver(t *testing.T) {
	d := newDriver(t, cuda.Options{Debug: true})
	t.Logf("device: %s, cuBLAS %s", d.Name(), d.BLAS())
	drivertest.Run(t, d)
}

func TestAllocOutOfMemory(t *testing.T) {
	d := newDriver(t, cuda.Options{})
	_, err := d.Alloc(1 << 50)
	if !errors.Is(err, gpu.ErrOutOfMemory) || !strings.Contains(err.Error(), "1125899906842624 bytes") {
		t.Errorf("Alloc of 1 PiB: error %v, want gpu.ErrOutOfMemory naming the size", err)
	}
}

func TestLaunchErrors(t *testing.T) {
	d := newDriver(t, cuda.Options{Debug: true})
	x := drivertest.Alloc(t, d, 64)
	one, b64 := gpu.Dim3{X: 1, Y: 1, Z: 1}, gpu.Dim3{X: 64, Y: 1, Z: 1}
	cases := []struct {
		kernel string
		block  gpu.Dim3
		args   []gpu.Arg
		want   string
	}{
		{"no_such_kernel", b64, nil, "no such kernel"},
		{"emutest_affine", b64, drivertest.Args(x, x, 64), "3 arguments for 5 parameters"},
		{"emutest_affine", b64, drivertest.Args(x, x, 64, 1, float32(0)), "argument 3 (int) does not match PTX parameter type .f32"},
		{"emutest_affine", b64, drivertest.Args(x, x, 1<<40, float32(1), float32(0)), "does not fit a 32-bit int"},
		{"emutest_affine", gpu.Dim3{X: 2048, Y: 1, Z: 1}, drivertest.Args(x, x, 64, float32(1), float32(0)), "block (2048,1,1)"},
	}
	for _, c := range cases {
		err := d.Launch(c.kernel, one, c.block, 0, c.args)
		if err == nil || !strings.Contains(err.Error(), c.want) || !strings.Contains(err.Error(), "launch "+c.kernel) {
			t.Errorf("launch %s %v: error %v, want one naming the launch and containing %q", c.kernel, c.args, err, c.want)
		}
	}
}

// TestTF32 checks a TF32 product against float64 within TF32's precision
// (10-bit mantissas in the products).
func TestTF32(t *testing.T) {
	d := newDriver(t, cuda.Options{TF32: true})
	r := rand.New(rand.NewPCG(1, 2))
	const m, n, k = 64, 48, 96
	a, b := make([]float32, m*k), make([]float32, k*n)
	for i := range a {
		a[i] = float32(r.NormFloat64())
	}
	for i := range b {
		b[i] = float32(r.NormFloat64())
	}
	ap, bp := drivertest.Upload(t, d, a, 0), drivertest.Upload(t, d, b, 0)
	cp := drivertest.Alloc(t, d, m*n)
	if err := d.Sgemm(false, false, m, n, k, 1, ap, m, bp, k, 0, cp, m); err != nil {
		t.Fatal(err)
	}
	c := drivertest.Download(t, d, cp, m*n)
	for j := range n {
		for i := range m {
			var want, mag float64
			for p := range k {
				want += float64(a[i+p*m]) * float64(b[p+j*k])
				mag += math.Abs(float64(a[i+p*m]) * float64(b[p+j*k]))
			}
			if math.Abs(float64(c[i+j*m])-want) > 2e-3*mag {
				t.Fatalf("C[%d,%d] = %v, want %v", i, j, c[i+j*m], want)
			}
		}
	}
}

func BenchmarkBlockSum1M(b *testing.B) {
	drivertest.BenchBlockSum(b, newDriver(b, cuda.Options{}))
}
