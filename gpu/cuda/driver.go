//go:build cuda

package cuda

/*
#cgo LDFLAGS: -ldl -lcuda
#include <dlfcn.h>
#include <stdlib.h>
#include <cuda.h>
#include <cublas_v2.h>

// cuBLAS is loaded at run time, the newest version the machine has of those
// in blasFiles, so that one binary runs with CUDA 11.8's cuBLAS or a newer
// one: the _v2 calls used here are the same in each. gorgonia.org/cu/blas
// is not used: it hides its handle, which TF32 math needs, and keeps errors
// to skip later calls. The wrappers run inside do, where the CUDA context is
// current.
static cublasStatus_t (*p_create)(cublasHandle_t*);
static cublasStatus_t (*p_destroy)(cublasHandle_t);
static cublasStatus_t (*p_set_math_mode)(cublasHandle_t, cublasMath_t);
static cublasStatus_t (*p_sgemm)(cublasHandle_t, cublasOperation_t, cublasOperation_t, int, int, int,
                                 const float*, const float*, int, const float*, int, const float*, float*, int);
static const char* (*p_status_string)(cublasStatus_t);
static cublasStatus_t (*p_set_stream)(cublasHandle_t, cudaStream_t);
static cublasStatus_t (*p_set_workspace)(cublasHandle_t, void*, size_t);

// blas_load opens file and finds every call above; it returns NULL, or
// dlopen's error (*opened 0) or the call the library lacks (*opened 1).
static const char* blas_load(const char* file, int* opened) {
	void* h = dlopen(file, RTLD_NOW | RTLD_LOCAL);
	*opened = h != NULL;
	if (h == NULL) {
		return dlerror();
	}
#define SYM(p, name) if ((*(void**)&p = dlsym(h, name)) == NULL) { return "it lacks " name; }
	SYM(p_create, "cublasCreate_v2")
	SYM(p_destroy, "cublasDestroy_v2")
	SYM(p_set_math_mode, "cublasSetMathMode")
	SYM(p_sgemm, "cublasSgemm_v2")
	SYM(p_status_string, "cublasGetStatusString")
	SYM(p_set_stream, "cublasSetStream_v2")
	SYM(p_set_workspace, "cublasSetWorkspace_v2")
#undef SYM
	return NULL;
}
static int blas_create(cublasHandle_t* h) { return (int)p_create(h); }
static int blas_destroy(cublasHandle_t h) { return (int)p_destroy(h); }
static int blas_tf32(cublasHandle_t h) { return (int)p_set_math_mode(h, CUBLAS_TF32_TENSOR_OP_MATH); }
static int blas_sgemm(cublasHandle_t h, int ta, int tb, int m, int n, int k, float alpha,
                      unsigned long long a, int lda, unsigned long long b, int ldb, float beta,
                      unsigned long long c, int ldc) {
	return (int)p_sgemm(h, ta ? CUBLAS_OP_T : CUBLAS_OP_N, tb ? CUBLAS_OP_T : CUBLAS_OP_N, m, n, k,
	                    &alpha, (const float*)a, lda, (const float*)b, ldb, &beta, (float*)c, ldc);
}
static const char* blas_status(int st) { return p_status_string((cublasStatus_t)st); }
static int blas_set_stream(cublasHandle_t h, void* s) { return (int)p_set_stream(h, (cudaStream_t)s); }
static int blas_set_workspace(cublasHandle_t h, unsigned long long p, size_t n) {
	return (int)p_set_workspace(h, (void*)p, n);
}

// Graphs: the driver's stream is captured in relaxed mode (the driver's
// calls run on whichever OS thread holds its mutex), the graph instantiated
// and launched on the same stream.
static int capture_begin(void* s) { return (int)cuStreamBeginCapture((CUstream)s, CU_STREAM_CAPTURE_MODE_RELAXED); }
static int capture_end(void* s, CUgraphExec* exec) {
	CUgraph g = NULL;
	int st = (int)cuStreamEndCapture((CUstream)s, &g);
	if (st != 0) {
		return st;
	}
	st = (int)cuGraphInstantiateWithFlags(exec, g, 0);
	int destroy = (int)cuGraphDestroy(g); // the instantiated graph stands alone
	return st != 0 ? st : destroy;
}
static int graph_launch(CUgraphExec exec, void* s) { return (int)cuGraphLaunch(exec, (CUstream)s); }
static int graph_destroy(CUgraphExec exec) { return (int)cuGraphExecDestroy(exec); }
static const char* result_name(int st) {
	const char* s = NULL;
	return cuGetErrorName((CUresult)st, &s) == CUDA_SUCCESS ? s : "unknown CUresult";
}
static const char* result_string(int st) {
	const char* s = NULL;
	return cuGetErrorString((CUresult)st, &s) == CUDA_SUCCESS ? s : "no description";
}
*/
import "C"

import (
	"errors"
	"fmt"
	"math"
	"runtime"
	"strings"
	"sync"
	"unsafe"

	"gorgonia.org/cu"

	"github.com/vaegan-go/vaegan/gpu"
	_ "github.com/vaegan-go/vaegan/gpu/cudaprobe" // before cu's init: a clear "no device" message
	"github.com/vaegan-go/vaegan/kernels"
)

// Options configures a Driver.
type Options struct {
	// Debug synchronises after every launch, so that a failing kernel is
	// reported by its own Launch, with its name and shape.
	Debug bool
	// TF32 lets cuBLAS run Sgemm on TF32 tensor cores where the GPU has
	// them (compute capability 8.0, Ampere, and newer): faster, with products
	// rounded to 10-bit mantissas. Older GPUs ignore it (Driver.TF32).
	TF32 bool
	// Device is the GPU's number (CUDA's ordinal, 0 first).
	Device int
}

// Driver is the gpu.Driver of one device (Options.Device). Its methods are
// safe for concurrent use: they run one at a time.
type Driver struct {
	opts    Options
	mu      sync.Mutex // held by each call (do)
	name    string
	ctx     cu.CUContext
	modules []cu.Module
	funcs   map[string]function
	blas    C.cublasHandle_t
	blasLib string           // the cuBLAS library loaded, e.g. "libcublas.so.12"
	blasWS  cu.DevicePtr     // cuBLAS's workspace, blasWorkspace bytes
	stream  cu.Stream        // every launch, product and copy within the device; captured into graphs
	tf32    bool             // TF32 math on: asked for, and the GPU has it
	nccl    *ncclGroup       // JoinNCCL's; nil: AllReduce fails
	params  []unsafe.Pointer // the launch being made's argument addresses (under mu)
	closed  bool
}

var (
	_ gpu.Driver   = (*Driver)(nil)
	_ gpu.Capturer = (*Driver)(nil)
)

// function is a loaded kernel and its PTX parameter types.
type function struct {
	fn     cu.Function
	params []string
}

// New opens the device, loads the kernels and creates a cuBLAS handle.
func New(opts Options) (*Driver, error) {
	d := &Driver{opts: opts, funcs: map[string]function{}}
	if err := d.do(d.open); err != nil {
		d.closed = true
		return nil, err
	}
	return d, nil
}

// do runs f under the driver's mutex on the calling goroutine, locked to its
// OS thread for the call, with the driver's CUDA context made current on that
// thread (a CUDA context may be current on several threads). There is no
// hand-off to another thread: measured with no-op C functions on a 2-core
// machine, the mutex, the lock and two cgo calls take 53 ns, where a round
// trip to a dedicated locked goroutine (this driver before) took 23 µs.
func (d *Driver) do(f func() error) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.closed {
		return errors.New("cuda: driver used after Close")
	}
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	if d.ctx != (cu.CUContext{}) { // open makes it, current on this thread
		if err := cu.SetCurrentContext(d.ctx); err != nil {
			return fmt.Errorf("cuda: making the context of %s current: %w", d.name, err)
		}
	}
	return f()
}

func (d *Driver) open() (err error) {
	defer func() {
		if err != nil { // leave nothing behind: the context, the modules
			d.release()
		}
	}()
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
	major, _, err := dev.ComputeCapability()
	if err != nil {
		return fmt.Errorf("cuda: compute capability of %s: %w", d.name, err)
	}
	d.tf32 = d.opts.TF32 && major >= 8
	if d.ctx, err = dev.MakeContext(cu.SchedAuto); err != nil {
		return fmt.Errorf("cuda: creating a context on %s: %w", d.name, err)
	}
	// A blocking stream: the copies to and from the host (synchronous, on
	// the legacy default stream) and NCCL's all-reduce (on that stream too)
	// stay ordered with its work.
	if d.stream, err = cu.MakeStream(cu.DefaultStream); err != nil {
		return fmt.Errorf("cuda: creating a stream on %s: %w", d.name, err)
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

// blasWorkspace is the size of cuBLAS's workspace in bytes: 32 MiB, what
// cuBLAS asks for on Hopper (and more than it uses on older GPUs).
const blasWorkspace = 32 << 20

// blasFiles are the cuBLAS libraries loadBLAS tries, newest first.
var blasFiles = []string{"libcublas.so.13", "libcublas.so.12", "libcublas.so.11"}

// loadBLAS loads cuBLAS once per process: the first of blasFiles that opens
// (it must have every call used), or why none could be.
var loadBLAS = sync.OnceValues(func() (string, error) {
	var why string
	for _, file := range blasFiles {
		cfile := C.CString(file)
		var opened C.int
		msg := C.blas_load(cfile, &opened)
		C.free(unsafe.Pointer(cfile))
		if msg == nil {
			return file, nil
		}
		why = C.GoString(msg) // dlopen's errors name the file
		if opened != 0 {
			why = file + ": " + why
			break
		}
	}
	return "", fmt.Errorf("cuda: loading cuBLAS (tried %s): %s; install CUDA's cuBLAS (11 or newer) or add its folder to LD_LIBRARY_PATH",
		strings.Join(blasFiles, ", "), why)
})

// newBLAS loads cuBLAS and creates its handle, with TF32 math if asked for
// and the GPU has it.
func (d *Driver) newBLAS() error {
	var err error
	if d.blasLib, err = loadBLAS(); err != nil {
		return err
	}
	if err := blasError("cublasCreate", C.blas_create(&d.blas)); err != nil {
		return fmt.Errorf("cuda: creating the cuBLAS handle: %w", err)
	}
	if err := blasError("cublasSetStream", C.blas_set_stream(d.blas, d.rawStream())); err != nil {
		return fmt.Errorf("cuda: %w", err)
	}
	// A workspace of our own (after cublasSetStream, which resets it): cuBLAS
	// before 12.2 would otherwise allocate one for every graph captured.
	if d.blasWS, err = cu.MemAlloc(blasWorkspace); err != nil {
		return fmt.Errorf("cuda: allocating cuBLAS's workspace of %d bytes: %w", blasWorkspace, err)
	}
	if err := blasError("cublasSetWorkspace", C.blas_set_workspace(d.blas, C.ulonglong(d.blasWS), blasWorkspace)); err != nil {
		return fmt.Errorf("cuda: %w", err)
	}
	if d.tf32 {
		if err := blasError("cublasSetMathMode(CUBLAS_TF32_TENSOR_OP_MATH)", C.blas_tf32(d.blas)); err != nil {
			return fmt.Errorf("cuda: %w", err)
		}
	}
	return nil
}

// blasError turns a cuBLAS status into an error naming the call.
func blasError(call string, st C.int) error {
	if st == 0 { // CUBLAS_STATUS_SUCCESS
		return nil
	}
	return fmt.Errorf("%s: %s (status %d)", call, C.GoString(C.blas_status(st)), int(st))
}

// BLAS is the cuBLAS library in use, e.g. "libcublas.so.12": the newest
// of 13, 12 and 11 that the machine has.
func (d *Driver) BLAS() string { return d.blasLib }

// Name is the device's name, e.g. "NVIDIA H100 80GB HBM3".
func (d *Driver) Name() string { return d.name }

// TF32 reports whether Sgemm uses TF32 tensor cores: Options.TF32 on a GPU
// of compute capability 8.0 or newer.
func (d *Driver) TF32() bool { return d.tf32 }

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
		return fmt.Errorf("cuda: CopyHtoD of %d floats to %#x: %w", len(src), uintptr(dst), fault(err))
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
		return fmt.Errorf("cuda: CopyDtoH of %d floats from %#x: %w", len(dst), uintptr(src), fault(err))
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
		return cu.MemcpyDtoDAsync(cu.DevicePtr(dst), cu.DevicePtr(src), int64(4*n), d.stream)
	})
	if err != nil {
		return fmt.Errorf("cuda: CopyDtoD of %d floats from %#x to %#x: %w", n, uintptr(src), uintptr(dst), fault(err))
	}
	return nil
}

// Launch queues the named kernel over grid×block threads. With
// Options.Debug it waits for the kernel and reports its error.
func (d *Driver) Launch(name string, grid, block gpu.Dim3, shared int, args []gpu.Arg) error {
	shape := func() string { // formatted only for an error
		return fmt.Sprintf("launch %s grid (%d,%d,%d) block (%d,%d,%d) shared %d",
			name, grid.X, grid.Y, grid.Z, block.X, block.Y, block.Z, shared)
	}
	f, ok := d.funcs[name]
	if !ok {
		return fmt.Errorf("cuda: %s: no such kernel in kernels/*.cu", shape())
	}
	if err := checkArgs(f.params, args); err != nil {
		return fmt.Errorf("cuda: %s: %w", shape(), err)
	}
	return d.do(func() error {
		d.params = d.params[:0]
		for i := range args { // cu.Function.Launch copies each 8-byte value
			d.params = append(d.params, unsafe.Pointer(&args[i].Bits))
		}
		if err := f.fn.Launch(grid.X, grid.Y, grid.Z, block.X, block.Y, block.Z, shared, d.stream, d.params); err != nil {
			return fmt.Errorf("cuda: %s: %w", shape(), err)
		}
		if d.opts.Debug {
			if err := cu.Synchronize(); err != nil {
				return fmt.Errorf("cuda: %s: kernel failed: %w", shape(), err)
			}
		}
		return nil
	})
}

// ptxTypes is the PTX parameter type each kind of argument fills.
var ptxTypes = [...]string{gpu.PtrArg: ".u64", gpu.IntArg: ".u32", gpu.F32Arg: ".f32", gpu.U64Arg: ".u64"}

// checkArgs checks launch arguments against the kernel's PTX parameter
// types; an int must fit 32 bits (the kernel reads the low 4 bytes of its
// slot).
func checkArgs(types []string, args []gpu.Arg) error {
	if len(args) != len(types) {
		return fmt.Errorf("%d arguments for %d parameters", len(args), len(types))
	}
	for i, a := range args {
		if int(a.Kind) >= len(ptxTypes) || ptxTypes[a.Kind] == "" {
			return fmt.Errorf("argument %d has kind %v", i, a.Kind)
		}
		if types[i] != ptxTypes[a.Kind] {
			return fmt.Errorf("argument %d (%v) does not match PTX parameter type %s", i, a.Kind, types[i])
		}
		if v := int64(a.Bits); a.Kind == gpu.IntArg && (v < math.MinInt32 || v > math.MaxInt32) {
			return fmt.Errorf("argument %d: %d does not fit a 32-bit int", i, v)
		}
	}
	return nil
}

// Sgemm is cuBLAS's column-major single-precision matrix product
// C = alpha*op(A)*op(B) + beta*C; see package gpu.
func (d *Driver) Sgemm(transA, transB bool, m, n, k int, alpha float32, a gpu.DevicePtr, lda int, b gpu.DevicePtr, ldb int, beta float32, c gpu.DevicePtr, ldc int) error {
	shape := func() string { // formatted only for an error
		return fmt.Sprintf("Sgemm transA=%t transB=%t m=%d n=%d k=%d lda=%d ldb=%d ldc=%d", transA, transB, m, n, k, lda, ldb, ldc)
	}
	rowsA, rowsB := m, k
	if transA {
		rowsA = k
	}
	if transB {
		rowsB = n
	}
	switch {
	case m < 0 || n < 0 || k < 0:
		return fmt.Errorf("cuda: %s: sizes must not be negative", shape())
	case lda < max(1, rowsA):
		return fmt.Errorf("cuda: %s: lda must be at least max(1, %d)", shape(), rowsA)
	case ldb < max(1, rowsB):
		return fmt.Errorf("cuda: %s: ldb must be at least max(1, %d)", shape(), rowsB)
	case ldc < max(1, m):
		return fmt.Errorf("cuda: %s: ldc must be at least max(1, m)", shape())
	}
	return d.do(func() error {
		st := C.blas_sgemm(d.blas, cBool(transA), cBool(transB), C.int(m), C.int(n), C.int(k), C.float(alpha),
			C.ulonglong(a), C.int(lda), C.ulonglong(b), C.int(ldb), C.float(beta), C.ulonglong(c), C.int(ldc))
		if err := blasError("cublasSgemm", st); err != nil {
			return fmt.Errorf("cuda: %s: %w", shape(), err)
		}
		return nil
	})
}

func cBool(b bool) C.int {
	if b {
		return 1
	}
	return 0
}

// Synchronize waits for all queued work and reports its first error.
func (d *Driver) Synchronize() error {
	if err := d.do(cu.Synchronize); err != nil {
		return fmt.Errorf("cuda: Synchronize: %w", fault(err))
	}
	return nil
}

// Close releases the NCCL communicator, the cuBLAS handle, the kernels and
// the context; later calls fail.
func (d *Driver) Close() error {
	err := d.do(func() error {
		defer func() { d.closed = true }()
		return d.release()
	})
	if err != nil {
		return fmt.Errorf("cuda: Close: %w", err)
	}
	return nil
}

// release destroys what open and JoinNCCL made, as far as they got: the NCCL
// communicator, the cuBLAS handle, the modules, the context.
func (d *Driver) release() error {
	errs := []error{d.leaveNCCL()}
	if d.blas != nil {
		errs = append(errs, blasError("cublasDestroy", C.blas_destroy(d.blas)))
		d.blas = nil
	}
	if d.blasWS != 0 {
		errs = append(errs, cu.MemFree(d.blasWS))
		d.blasWS = 0
	}
	if d.stream != cu.NoStream {
		errs = append(errs, d.stream.Destroy()) // Destroy zeroes it
	}
	for _, m := range d.modules {
		errs = append(errs, m.Unload())
	}
	d.modules = nil
	if d.ctx != (cu.CUContext{}) {
		errs = append(errs, d.ctx.Destroy()) // Destroy zeroes it
	}
	return errors.Join(errs...)
}

// rawStream is the driver's stream as cgo's CUstream of this package.
func (d *Driver) rawStream() unsafe.Pointer { return unsafe.Pointer(d.stream.C()) }

// BeginCapture starts capturing the driver's stream into a graph (relaxed
// mode). With Options.Debug it fails with gpu.ErrNoCapture: debugging waits
// for every launch, which a capture cannot.
func (d *Driver) BeginCapture() error {
	if d.opts.Debug {
		return fmt.Errorf("cuda: -cuda-debug checks every launch: %w", gpu.ErrNoCapture)
	}
	return d.do(func() error {
		return cuError("cuStreamBeginCapture", C.capture_begin(d.rawStream()))
	})
}

// EndCapture ends the capture and instantiates the graph. A call the
// capture did not allow (a copy to or from the host, a synchronisation)
// fails it here, as CUDA_ERROR_STREAM_CAPTURE_INVALIDATED.
func (d *Driver) EndCapture() (gpu.Graph, error) {
	g := &graph{d: d}
	err := d.do(func() error {
		return cuError("cuStreamEndCapture, cuGraphInstantiateWithFlags", C.capture_end(d.rawStream(), &g.exec))
	})
	if err != nil {
		return nil, err
	}
	return g, nil
}

// graph is an instantiated CUDA graph of the driver's stream.
type graph struct {
	d    *Driver
	exec C.CUgraphExec
}

// Replay launches the graph on the driver's stream.
func (g *graph) Replay() error {
	return g.d.do(func() error {
		if g.exec == nil {
			return errors.New("cuda: Replay of a destroyed graph")
		}
		return cuError("cuGraphLaunch", C.graph_launch(g.exec, g.d.rawStream()))
	})
}

// Destroy releases the graph.
func (g *graph) Destroy() error {
	return g.d.do(func() error {
		if g.exec == nil {
			return errors.New("cuda: Destroy of a destroyed graph")
		}
		err := cuError("cuGraphExecDestroy", C.graph_destroy(g.exec))
		g.exec = nil
		return err
	})
}

// cuError turns a CUresult into an error naming the call, with the
// driver's name and description of the result, and fault's advice where it
// is a kernel's fault.
func cuError(call string, st C.int) error {
	if st == 0 {
		return nil
	}
	err := fmt.Errorf("cuda: %s: %s (CUresult %d): %s", call, C.GoString(C.result_name(st)), int(st), C.GoString(C.result_string(st)))
	switch st {
	case C.CUDA_ERROR_ILLEGAL_ADDRESS, C.CUDA_ERROR_LAUNCH_FAILED, C.CUDA_ERROR_ILLEGAL_INSTRUCTION,
		C.CUDA_ERROR_MISALIGNED_ADDRESS, C.CUDA_ERROR_HARDWARE_STACK_ERROR, C.CUDA_ERROR_ASSERT:
		return fmt.Errorf("%w: %s", err, faultAdvice)
	}
	return err
}

// faultAdvice is what a kernel's fault means and how to find the kernel.
const faultAdvice = "a kernel failed earlier; the CUDA context is unusable and the run must stop " +
	"(rerun with -cuda-debug, which checks every launch and records no graph, to name the kernel)"

// fault adds, to an error that a kernel's fault left on the context (which
// surfaces at the next copy or synchronisation, without the kernel's name),
// what it means and how to find the kernel.
func fault(err error) error {
	for _, r := range []error{cu.IllegalAddress, cu.LaunchFailed, cu.IllegalInstruction, cu.MisalignedAddress, cu.HardwareStackError, cu.Assert} {
		if errors.Is(err, r) {
			return fmt.Errorf("%w: %s", err, faultAdvice)
		}
	}
	return err
}
