//go:build cuda

// Package cuda is the gpu.Driver of a real NVIDIA GPU, over gorgonia.org/cu
// (devices, contexts, memory, modules, launches) and cuBLAS through cgo.
//
// Every file carries the build tag cuda, because gorgonia.org/cu exits the
// process from its init function on a machine without a GPU: build and test
// with `go test -tags cuda ./gpu/cuda/`. Building needs the CUDA headers and
// libraries (scripts/install-cuda-toolkit.sh); where only the link stubs are
// present, set CGO_LDFLAGS=-L/usr/lib/x86_64-linux-gnu/stubs.
//
// The driver uses the device Options.Device names. Its methods run one at a
// time, under a mutex, on the calling goroutine: locked to its OS thread for
// the call, with the driver's CUDA context made current there
// (cuCtxSetCurrent), so a call costs its own cgo calls and no hand-off to
// another thread. The kernels are the PTX of package kernels, loaded once;
// launches and copies go on the default stream, so they run in order. A New
// that fails part-way destroys what it made (context, modules, cuBLAS handle).
//
// cuBLAS: the driver creates its own handle and calls cublasSgemm through
// small cgo wrappers (gorgonia.org/cu/blas hides its handle, which TF32 math
// needs, and keeps an error to skip every later call), so each Sgemm reports
// its own status. TF32 (Options.TF32) is cublasSetMathMode's
// CUBLAS_TF32_TENSOR_OP_MATH on that handle.
//
// A kernel's fault (an illegal address, a trap) surfaces at the next copy or
// synchronisation without the kernel's name; those errors say that the
// context is unusable and that Options.Debug (-cuda-debug) names the kernel.
package cuda
