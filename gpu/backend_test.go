package gpu

import (
	"errors"
	"fmt"
	"strings"
	"testing"
)

// fakeDriver records Sgemm calls and fails Alloc or Launch on demand; it
// runs no kernels. The numerical tests of the backend live in gpu/emu.
type fakeDriver struct {
	next       DevicePtr
	allocLeft  int // allocations that succeed before Alloc reports OOM
	launchErr  error
	sgemmCalls []string
}

func (f *fakeDriver) Name() string { return "fake" }
func (f *fakeDriver) Alloc(n int) (DevicePtr, error) {
	if f.allocLeft == 0 {
		return 0, fmt.Errorf("fake: %d bytes: %w", n, ErrOutOfMemory)
	}
	f.allocLeft--
	f.next += 1 << 20
	return f.next, nil
}
func (f *fakeDriver) Free(DevicePtr) error                     { return nil }
func (f *fakeDriver) CopyHtoD(DevicePtr, []float32) error      { return nil }
func (f *fakeDriver) CopyDtoH([]float32, DevicePtr) error      { return nil }
func (f *fakeDriver) CopyDtoD(DevicePtr, DevicePtr, int) error { return nil }
func (f *fakeDriver) Launch(string, Dim3, Dim3, int, []Arg) error {
	return f.launchErr
}
func (f *fakeDriver) Sgemm(transA, transB bool, m, n, k int, alpha float32, a DevicePtr, lda int, b DevicePtr, ldb int, beta float32, c DevicePtr, ldc int) error {
	f.sgemmCalls = append(f.sgemmCalls, fmt.Sprintf("%v %v %d %d %d a=%d lda=%d b=%d ldb=%d c=%d ldc=%d",
		transA, transB, m, n, k, a, lda, b, ldb, c, ldc))
	return nil
}
func (f *fakeDriver) Synchronize() error { return nil }
func (f *fakeDriver) Close() error       { return nil }

// recoverError runs f and returns the *Error it panics with.
func recoverError(t *testing.T, f func()) (e *Error) {
	t.Helper()
	defer func() {
		r := recover()
		var ok bool
		if e, ok = r.(*Error); !ok {
			t.Fatalf("panic value %#v, want a *gpu.Error", r)
		}
	}()
	f()
	return nil
}

func TestNewOutOfMemory(t *testing.T) {
	b := New(&fakeDriver{allocLeft: 1})
	e := recoverError(t, func() { b.New(64, 3, 28, 28) })
	if !errors.Is(e, ErrOutOfMemory) {
		t.Errorf("error %v does not wrap ErrOutOfMemory", e)
	}
	for _, want := range []string{"New", "[64 3 28 28]", "smaller -batch"} {
		if !strings.Contains(e.Error(), want) {
			t.Errorf("error %q does not mention %q", e, want)
		}
	}
}

func TestLaunchErrorNamesKernel(t *testing.T) {
	b := New(&fakeDriver{allocLeft: 10, launchErr: errors.New("launch failed")})
	x := b.New(0) // no launch for an empty tensor
	x.Shape = []int{1000}
	x.Buf.(*Buffer).n = 1000
	e := recoverError(t, func() { b.Fill(x, 1) })
	want := "gpu: Fill: fill<<<grid (4,1,1), block (256,1,1)>>>: launch failed"
	if e.Error() != want {
		t.Errorf("error %q, want %q", e, want)
	}
}

// TestGemmRowMajor checks the one row-major to column-major conversion:
// C = op(A)·op(B) becomes the column-major Cᵀ = op(B)ᵀ·op(A)ᵀ with the
// operands and m, n swapped and the row lengths as leading dimensions.
func TestGemmRowMajor(t *testing.T) {
	f := &fakeDriver{allocLeft: 10}
	b := New(f)
	for _, tc := range []struct {
		transA, transB bool
		want           string
	}{
		{false, false, "false false 5 3 4 a=2 lda=5 b=1 ldb=4 c=3 ldc=5"},
		{true, false, "false true 5 3 4 a=2 lda=5 b=1 ldb=3 c=3 ldc=5"},
		{false, true, "true false 5 3 4 a=2 lda=4 b=1 ldb=4 c=3 ldc=5"},
		{true, true, "true true 5 3 4 a=2 lda=4 b=1 ldb=3 c=3 ldc=5"},
	} {
		f.sgemmCalls = nil
		b.gemm("test", tc.transA, tc.transB, 3, 5, 4, 1, 1, 2, 0, 3)
		if len(f.sgemmCalls) != 1 || f.sgemmCalls[0] != tc.want {
			t.Errorf("transA=%v transB=%v: Sgemm calls %q, want [%q]", tc.transA, tc.transB, f.sgemmCalls, tc.want)
		}
	}
}
