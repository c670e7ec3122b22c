//go:build cuda

package cuda

/*
#cgo LDFLAGS: -lcublas
#include <cublas_v2.h>

static int set_tf32_math(void* handle) {
	return (int)cublasSetMathMode((cublasHandle_t)handle, CUBLAS_TF32_TENSOR_OP_MATH);
}
*/
import "C"

import (
	"errors"
	"fmt"
	"math"
	"reflect"
	"runtime"
	"unsafe"

	gonumblas "gonum.org/v1/gonum/blas"
	"gorgonia.org/cu"
	cublas "gorgonia.org/cu/blas"

	"github.com/vaegan-go/vaegan/gpu"
	_ "github.com/vaegan-go/vaegan/gpu/cudaprobe" // before cu's init: a clear "no device" message
	"github.com/vaegan-go/vaegan/kernels"
)

// Options configures a Driver.
type Options struct {
	// Debug synchronises after every launch, so that a failing kernel is
	// reported by its own Launch, with its name and shape.
	Debug bool
	// TF32 lets cuBLAS run Sgemm on TF32 tensor cores (Ampere and newer):
	// faster, with products rounded to 10-bit mantissas.
	TF32 bool
	// Device is the GPU's number (CUDA's ordinal, 0 first).
	Device int
}

// Driver is the gpu.Driver of one device (Options.Device). Close must not run concurrently
// with other calls.
type Driver struct {
	opts    Options
	work    chan func()
	name    string
	ctx     cu.CUContext
	modules []cu.Module
	funcs   map[string]function
	blas    *cublas.Standard
	closed  bool
}

var _ gpu.Driver = (*Driver)(nil)

// function is a loaded kernel and its PTX parameter types.
type function struct {
	fn     cu.Function
	params []string
}

// New opens device 0, loads the kernels and creates a cuBLAS handle.
func New(opts Options) (*Driver, error) {
	d := &Driver{opts: opts, work: make(chan func()), funcs: map[string]function{}}
	go d.serve()
	if err := d.do(d.open); err != nil {
		close(d.work)
		return nil, err
	}
	return d, nil
}

// serve runs the driver's calls on one locked OS thread, where the CUDA
// context is current.
func (d *Driver) serve() {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	for f := range d.work {
		f()
	}
}

// do runs f on the driver's thread and returns its error.
func (d *Driver) do(f func() error) error {
	if d.closed {
		return errors.New("cuda: driver used after Close")
	}
	var err error
	done := make(chan struct{})
	d.work <- func() {
		err = f()
		close(done)
	}
	<-done
	return err
}

func (d *Driver) open() error {
	n, err := cu.NumDevices()
	if err != nil {
		return fmt.Errorf("cuda: counting devices: %w", err)
	}
	if n == 0 {
		return errors.New("cuda: no CUDA device")
	}
	k := d.opts.Device
	if k < 0 || k >= n {
		return fmt.Errorf("cuda: device %d: this machine has %d (0 to %d)", k, n, n-1)
	}
	dev, err := cu.GetDevice(k)
	if err != nil {
		return fmt.Errorf("cuda: device %d: %w", k, err)
	}
	if d.name, err = dev.Name(); err != nil {
		return fmt.Errorf("cuda: name of device %d: %w", k, err)
	}
	if d.ctx, err = dev.MakeContext(cu.SchedAuto); err != nil {
		return fmt.Errorf("cuda: creating a context on %s: %w", d.name, err)
	}
	modules := map[string]cu.Module{}
	params := map[string][]string{}
	for _, src := range kernels.SourceFiles() {
		ptx, err := kernels.PTX(src)
		if err != nil {
			return err
		}
		mod, err := cu.LoadData(ptx)
		if err != nil {
			return fmt.Errorf("cuda: loading the PTX of kernels/%s: %w", src, err)
		}
		d.modules = append(d.modules, mod)
		modules[src] = mod
		for name, types := range kernels.PTXParams(ptx) {
			params[name] = types
		}
	}
	for _, k := range kernels.Kernels() {
		fn, err := modules[k.Source].Function(k.Name)
		if err != nil {
			return fmt.Errorf("cuda: kernel %s of kernels/%s: %w", k.Name, k.Source, err)
		}
		d.funcs[k.Name] = function{fn: fn, params: params[k.Name]}
	}
	return d.newBLAS()
}

// newBLAS creates the cuBLAS handle, with TF32 math if asked for.
func (d *Driver) newBLAS() error {
	s := new(cublas.Standard)
	if err := s.Init(); err != nil {
		return fmt.Errorf("cuda: creating the cuBLAS handle: %w", err)
	}
	d.blas = s
	if !d.opts.TF32 {
		return nil
	}
	h, err := blasHandle(s)
	if err != nil {
		return err
	}
	if st := C.set_tf32_math(h); st != 0 {
		return fmt.Errorf("cuda: cublasSetMathMode(CUBLAS_TF32_TENSOR_OP_MATH): status %d", int(st))
	}
	return nil
}

// blasHandle returns the cuBLAS handle that cublas.Standard keeps in its
// unexported first field h (gorgonia.org/cu v0.9.6).
func blasHandle(s *cublas.Standard) (unsafe.Pointer, error) {
	f, ok := reflect.TypeOf(s).Elem().FieldByName("h")
	if !ok || f.Offset != 0 || f.Type.Kind() != reflect.Pointer {
		return nil, errors.New("cuda: TF32 needs the cuBLAS handle, which gorgonia.org/cu/blas no longer keeps as its first field h")
	}
	return *(*unsafe.Pointer)(unsafe.Pointer(s)), nil
}

// Name is the device's name, e.g. "NVIDIA H100 80GB HBM3".
func (d *Driver) Name() string { return d.name }

// Alloc reserves n bytes of device memory (a minimal block for n = 0).
func (d *Driver) Alloc(n int) (gpu.DevicePtr, error) {
	if n < 0 {
		return 0, fmt.Errorf("cuda: Alloc of %d bytes: size must not be negative", n)
	}
	var p cu.DevicePtr
	err := d.do(func() error {
		var err error
		p, err = cu.MemAlloc(int64(max(n, 4)))
		return err
	})
	switch {
	case errors.Is(err, cu.OutOfMemory):
		return 0, fmt.Errorf("cuda: Alloc of %d bytes on %s: %w (%w)", n, d.name, gpu.ErrOutOfMemory, err)
	case err != nil:
		return 0, fmt.Errorf("cuda: Alloc of %d bytes: %w", n, err)
	}
	return gpu.DevicePtr(p), nil
}

// Free releases memory from Alloc.
func (d *Driver) Free(p gpu.DevicePtr) error {
	if err := d.do(func() error { return cu.MemFree(cu.DevicePtr(p)) }); err != nil {
		return fmt.Errorf("cuda: Free of %#x: %w", uintptr(p), err)
	}
	return nil
}

// CopyHtoD copies len(src) floats from the host to dst.
func (d *Driver) CopyHtoD(dst gpu.DevicePtr, src []float32) error {
	if len(src) == 0 {
		return nil
	}
	err := d.do(func() error {
		return cu.MemcpyHtoD(cu.DevicePtr(dst), unsafe.Pointer(&src[0]), int64(4*len(src)))
	})
	if err != nil {
		return fmt.Errorf("cuda: CopyHtoD of %d floats to %#x: %w", len(src), uintptr(dst), err)
	}
	return nil
}

// CopyDtoH copies len(dst) floats from src to the host, after the work
// queued before it.
func (d *Driver) CopyDtoH(dst []float32, src gpu.DevicePtr) error {
	if len(dst) == 0 {
		return nil
	}
	err := d.do(func() error {
		return cu.MemcpyDtoH(unsafe.Pointer(&dst[0]), cu.DevicePtr(src), int64(4*len(dst)))
	})
	if err != nil {
		return fmt.Errorf("cuda: CopyDtoH of %d floats from %#x: %w", len(dst), uintptr(src), err)
	}
	return nil
}

// CopyDtoD copies n floats within the device.
func (d *Driver) CopyDtoD(dst, src gpu.DevicePtr, n int) error {
	if n <= 0 {
		if n < 0 {
			return fmt.Errorf("cuda: CopyDtoD of %d floats: negative length", n)
		}
		return nil
	}
	err := d.do(func() error {
		return cu.MemcpyDtoD(cu.DevicePtr(dst), cu.DevicePtr(src), int64(4*n))
	})
	if err != nil {
		return fmt.Errorf("cuda: CopyDtoD of %d floats from %#x to %#x: %w", n, uintptr(src), uintptr(dst), err)
	}
	return nil
}

// Launch queues the named kernel over grid×block threads. With
// Options.Debug it waits for the kernel and reports its error.
func (d *Driver) Launch(name string, grid, block gpu.Dim3, shared int, args ...any) error {
	shape := fmt.Sprintf("launch %s grid (%d,%d,%d) block (%d,%d,%d) shared %d",
		name, grid.X, grid.Y, grid.Z, block.X, block.Y, block.Z, shared)
	f, ok := d.funcs[name]
	if !ok {
		return fmt.Errorf("cuda: %s: no such kernel in kernels/*.cu", shape)
	}
	params, err := holders(f.params, args)
	if err != nil {
		return fmt.Errorf("cuda: %s: %w", shape, err)
	}
	return d.do(func() error {
		if err := f.fn.Launch(grid.X, grid.Y, grid.Z, block.X, block.Y, block.Z, shared, cu.NoStream, params); err != nil {
			return fmt.Errorf("cuda: %s: %w", shape, err)
		}
		if d.opts.Debug {
			if err := cu.Synchronize(); err != nil {
				return fmt.Errorf("cuda: %s: kernel failed: %w", shape, err)
			}
		}
		return nil
	})
}

// holders converts launch arguments to the 8-byte values that
// cu.Function.Launch copies, checking them against the PTX parameter types.
func holders(types []string, args []any) ([]unsafe.Pointer, error) {
	if len(args) != len(types) {
		return nil, fmt.Errorf("%d arguments for %d parameters", len(args), len(types))
	}
	vals := make([]uint64, len(args))
	params := make([]unsafe.Pointer, len(args))
	for i, a := range args {
		var want string
		switch v := a.(type) {
		case gpu.DevicePtr:
			want, vals[i] = ".u64", uint64(v)
		case uint64:
			want, vals[i] = ".u64", v
		case int:
			if v < math.MinInt32 || v > math.MaxInt32 {
				return nil, fmt.Errorf("argument %d: %d does not fit a 32-bit int", i, v)
			}
			want, vals[i] = ".u32", uint64(uint32(int32(v)))
		case float32:
			want, vals[i] = ".f32", uint64(math.Float32bits(v))
		default:
			return nil, fmt.Errorf("argument %d has Go type %T; want gpu.DevicePtr, int, float32 or uint64", i, a)
		}
		if types[i] != want {
			return nil, fmt.Errorf("argument %d (Go type %T) does not match PTX parameter type %s", i, a, types[i])
		}
		params[i] = unsafe.Pointer(&vals[i])
	}
	return params, nil
}

// Sgemm is cuBLAS's column-major single-precision matrix product
// C = alpha*op(A)*op(B) + beta*C; see package gpu.
func (d *Driver) Sgemm(transA, transB bool, m, n, k int, alpha float32, a gpu.DevicePtr, lda int, b gpu.DevicePtr, ldb int, beta float32, c gpu.DevicePtr, ldc int) error {
	shape := fmt.Sprintf("Sgemm transA=%t transB=%t m=%d n=%d k=%d lda=%d ldb=%d ldc=%d", transA, transB, m, n, k, lda, ldb, ldc)
	rowsA, colsA, tA := m, k, gonumblas.NoTrans
	if transA {
		rowsA, colsA, tA = k, m, gonumblas.Trans
	}
	rowsB, colsB, tB := k, n, gonumblas.NoTrans
	if transB {
		rowsB, colsB, tB = n, k, gonumblas.Trans
	}
	switch {
	case m < 0 || n < 0 || k < 0:
		return fmt.Errorf("cuda: %s: sizes must not be negative", shape)
	case lda < max(1, rowsA):
		return fmt.Errorf("cuda: %s: lda must be at least max(1, %d)", shape, rowsA)
	case ldb < max(1, rowsB):
		return fmt.Errorf("cuda: %s: ldb must be at least max(1, %d)", shape, rowsB)
	case ldc < max(1, m):
		return fmt.Errorf("cuda: %s: ldc must be at least max(1, m)", shape)
	}
	return d.do(func() error {
		d.blas.Sgemm(tA, tB, m, n, k, alpha, view(a, lda, colsA), lda, view(b, ldb, colsB), ldb, beta, view(c, ldc, n), ldc)
		if err := d.blas.Err(); err != nil {
			// cu/blas keeps the error and skips every later call: start afresh.
			if cerr := d.blas.Close(); cerr != nil {
				err = errors.Join(err, cerr)
			}
			return errors.Join(fmt.Errorf("cuda: %s: %w", shape, err), d.newBLAS())
		}
		return nil
	})
}

// view is the []float32 of a column-major matrix in device memory that
// cu/blas takes; only its address reaches cuBLAS.
func view(p gpu.DevicePtr, ld, cols int) []float32 {
	return unsafe.Slice((*float32)(*(*unsafe.Pointer)(unsafe.Pointer(&p))), max(1, ld*cols))
}

// Synchronize waits for all queued work and reports its first error.
func (d *Driver) Synchronize() error {
	if err := d.do(cu.Synchronize); err != nil {
		return fmt.Errorf("cuda: Synchronize: %w", err)
	}
	return nil
}

// Close releases the cuBLAS handle, the kernels and the context.
func (d *Driver) Close() error {
	err := d.do(func() error {
		errs := []error{d.blas.Close()}
		for _, m := range d.modules {
			errs = append(errs, m.Unload())
		}
		errs = append(errs, d.ctx.Destroy())
		return errors.Join(errs...)
	})
	if !d.closed {
		close(d.work)
		d.closed = true
	}
	if err != nil {
		return fmt.Errorf("cuda: Close: %w", err)
	}
	return nil
}
