// Package emu is a gpu.Driver that runs the CUDA kernels on the CPU, so the
// GPU backend can be tested on machines without a GPU.
//
// The kernels/*.cu sources are compiled as host C++ (cgo) with a small
// compatibility header, cuda_emu.h. The threads of a block run as fibers on
// one OS thread, switched by hand-written x86-64 code, so __shared__ memory
// and __syncthreads behave as on a GPU; the blocks of a grid run in parallel
// on the driver's workers, one block per OS thread at a time. A
// __syncthreads that some threads of a block skip by returning is reported
// as an error, since on a GPU it is undefined.
//
// Device memory is C memory (a DevicePtr is its address), filled with NaN
// bytes when allocated so that reading memory never written shows. Launch
// and copies check that pointers lie in live allocations. Sgemm is a Go
// implementation of cuBLAS's column-major Sgemm.
//
// Every launch runs to completion before Launch returns, so Synchronize has
// nothing to wait for. A copy from pinned memory (CopyHtoDAsync, gpu.Stager)
// is made only at the driver's next call, as a GPU makes it some time
// after the call returns. The driver records graphs (gpu.Capturer) as lists
// of checked operations: during a capture it refuses what CUDA's stream
// capture refuses (copies to or from the host, synchronisation, allocation,
// freeing), and a replay checks each operation's memory again, failing
// where a GPU would fault. The package needs cgo and an x86-64 CPU.
//
// Package drivertest holds the test suite that this package and gpu/cuda
// run on their drivers.
//
// After editing kernels/*.cu, run `go generate ./gpu/emu` to update the
// launch table (gen_*.cc); a test fails while it is stale.
package emu
