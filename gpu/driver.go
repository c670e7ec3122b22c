package gpu

import "fmt"

// DevicePtr is an address in device memory.
type DevicePtr uintptr

// Dim3 is a CUDA grid or block size.
type Dim3 struct{ X, Y, Z int }

// Driver is the thin layer between the CUDA backend and a device: the real
// one over gorgonia.org/cu (package gpu/cuda, build tag cuda) or the emulated
// one that runs the kernels/*.cu sources on the CPU (package gpu/emu).
//
// Kernel arguments passed to Launch may be DevicePtr (a T* parameter),
// int (an int parameter), float32 (a float parameter) or uint64 (an
// unsigned long long parameter), in the kernel's parameter order.
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
	Launch(kernel string, grid, block Dim3, shared int, args ...any) error
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
