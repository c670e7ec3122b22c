package gpu

import (
	"errors"
	"fmt"
	"math"
)

// DevicePtr is an address in device memory.
type DevicePtr uintptr

// Dim3 is a CUDA grid or block size.
type Dim3 struct{ X, Y, Z int }

// Driver is the thin layer between the CUDA backend and a device: the real
// one over gorgonia.org/cu (package gpu/cuda, build tag cuda) or the emulated
// one that runs the kernels/*.cu sources on the CPU (package gpu/emu).
//
// Launch takes the kernel's arguments in its parameter order as Args (Ptr,
// Int, F32, U64), which drivers check against the parameters' C types and
// must not keep after Launch returns: the backend reuses the slice, so that
// a launch allocates nothing.
//
// Sgemm has cuBLAS's column-major semantics:
// C = alpha*op(A)*op(B) + beta*C with op(A) m×k, op(B) k×n, C m×n, and
// leading dimensions lda, ldb, ldc.
type Driver interface {
	// Name describes the device, e.g. "NVIDIA H100 80GB HBM3".
	Name() string
	// Alloc reserves n bytes of device memory; the error wraps
	// ErrOutOfMemory when the device has too little left.
	Alloc(n int) (DevicePtr, error)
	// Free releases memory from Alloc.
	Free(p DevicePtr) error
	// CopyHtoD copies len(src) floats from the host to dst.
	CopyHtoD(dst DevicePtr, src []float32) error
	// CopyDtoH copies len(dst) floats from src to the host, after the work
	// queued before it.
	CopyDtoH(dst []float32, src DevicePtr) error
	// CopyDtoD copies n floats within the device.
	CopyDtoD(dst, src DevicePtr, n int) error
	// Launch runs the named kernel (an extern "C" function in kernels/) over
	// grid×block threads with shared bytes of dynamic shared memory.
	Launch(kernel string, grid, block Dim3, shared int, args []Arg) error
	// Sgemm is cuBLAS's column-major single-precision matrix product.
	Sgemm(transA, transB bool, m, n, k int, alpha float32, a DevicePtr, lda int, b DevicePtr, ldb int, beta float32, c DevicePtr, ldc int) error
	// Synchronize waits for all queued work and reports its first error.
	Synchronize() error
	// Close releases the device.
	Close() error
}

// ErrOutOfMemory is wrapped by Alloc errors when device memory runs out.
var ErrOutOfMemory = fmt.Errorf("out of device memory")

// Span is N float32 elements of device memory starting at P.
type Span struct {
	P DevicePtr
	N int
}

// AllReducer is a Driver that belongs to a data-parallel group of ranks and
// sums device memory over them itself, without a copy to the host: the CUDA
// driver after JoinNCCL, the emulated one after JoinGroup (for tests).
type AllReducer interface {
	// AllReduce replaces every span by its element-wise sum over the
	// group's ranks, which must pass spans of the same lengths in the same
	// order; it returns once the sums are in place.
	AllReduce(spans []Span) error
}

// Arg is one kernel argument: the 8 bytes of its parameter slot and the Go
// type they came from. Make one with Ptr, Int, F32 or U64.
type Arg struct {
	Kind ArgKind
	Bits uint64
}

// ArgKind is the Go type a kernel argument came from.
type ArgKind uint8

// The kinds of kernel arguments, each for one C parameter type.
const (
	PtrArg ArgKind = iota + 1 // DevicePtr, for a T* parameter
	IntArg                    // int, for an int parameter (32 bits)
	F32Arg                    // float32, for a float parameter
	U64Arg                    // uint64, for an unsigned long long parameter
)

// String is the Go type of the kind.
func (k ArgKind) String() string {
	switch k {
	case PtrArg:
		return "gpu.DevicePtr"
	case IntArg:
		return "int"
	case F32Arg:
		return "float32"
	case U64Arg:
		return "uint64"
	}
	return fmt.Sprintf("ArgKind(%d)", uint8(k))
}

// Ptr is a device-pointer argument.
func Ptr(p DevicePtr) Arg { return Arg{PtrArg, uint64(p)} }

// Int is an int argument; drivers refuse one outside 32 bits.
func Int(v int) Arg { return Arg{IntArg, uint64(int64(v))} }

// F32 is a float argument.
func F32(v float32) Arg { return Arg{F32Arg, uint64(math.Float32bits(v))} }

// U64 is an unsigned long long argument.
func U64(v uint64) Arg { return Arg{U64Arg, v} }

// Capturer is a Driver that records device work into a graph and replays
// it (CUDA graphs: stream capture, then one launch of the whole graph).
// Between BeginCapture and EndCapture, Launch, Sgemm and CopyDtoD check
// their arguments and record the work instead of queuing it; anything else
// that touches the device (a copy to or from the host, Synchronize, Alloc,
// Free, an all-reduce) fails and spoils the capture, which EndCapture then
// reports. A graph holds the device addresses it was recorded with: the
// memory behind them must outlive it.
type Capturer interface {
	// BeginCapture starts recording. It fails with ErrNoCapture where the
	// driver does not record (a debugging mode that waits for every
	// launch).
	BeginCapture() error
	// EndCapture stops recording and returns the recorded work.
	EndCapture() (Graph, error)
}

// Graph is device work that a Capturer recorded.
type Graph interface {
	// Replay queues the recorded work again, with the arguments it was
	// recorded with: one driver call for the whole of it.
	Replay() error
	// Destroy releases the graph.
	Destroy() error
}

// ErrNoCapture is returned by BeginCapture where the driver does not
// record graphs.
var ErrNoCapture = errors.New("this driver does not record graphs")

// Stager is a Driver with pinned (page-locked) host memory, from which a
// copy to the device is queued without waiting for it (CUDA: cuMemAllocHost,
// and cuMemcpyHtoDAsync on the driver's stream).
type Stager interface {
	// AllocPinned returns n floats of pinned host memory.
	AllocPinned(n int) ([]float32, error)
	// FreePinned releases memory from AllocPinned.
	FreePinned(p []float32) error
	// CopyHtoDAsync queues a copy of len(src) floats from pinned memory
	// (from AllocPinned) to dst, after the work queued before it. src must
	// not change until a later CopyDtoH or Synchronize has returned.
	CopyHtoDAsync(dst DevicePtr, src []float32) error
}
