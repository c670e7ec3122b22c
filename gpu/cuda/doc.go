//go:build cuda

// Package cuda is the gpu.Driver of a real NVIDIA GPU, over gorgonia.org/cu
// and its cuBLAS binding gorgonia.org/cu/blas.
//
// Every file carries the build tag cuda, because gorgonia.org/cu exits the
// process from its init function on a machine without a GPU: build and test
// with `go test -tags cuda ./gpu/cuda/`. Building needs the CUDA headers and
// libraries (scripts/install-cuda-toolkit.sh); where only the link stubs are
// present, set CGO_LDFLAGS=-L/usr/lib/x86_64-linux-gnu/stubs.
//
// The driver uses device 0. Its CUDA context lives on one OS thread: a
// goroutine locked to that thread runs every call, one at a time, so the
// Driver's methods are safe for concurrent use. The kernels are the PTX of
// package kernels, loaded once; launches and copies go on the default
// stream, so they run in order.
//
// TF32: cu/blas does not expose its cuBLAS handle, so Options.TF32 reads it
// from the first field of cublas.Standard (checked by reflection against
// the v0.9.6 layout; New fails with an error if it ever moves) and calls
// cublasSetMathMode(CUBLAS_TF32_TENSOR_OP_MATH) through cgo.
package cuda
