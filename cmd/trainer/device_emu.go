//go:build emugpu && !cuda

package main

import (
	"github.com/vaegan-go/vaegan/backend"
	"github.com/vaegan-go/vaegan/gpu"
	"github.com/vaegan-go/vaegan/gpu/emu"
)

// cudaBuilt says whether this binary has a CUDA backend to try.
const cudaBuilt = true

// openCUDA runs the CUDA backend on the emulated driver: the kernels/*.cu
// sources compiled for the CPU. For tests (build tag emugpu); slow. As on a
// GPU, a kernel's failure surfaces at the next call unless -cuda-debug.
func openCUDA(d *deviceFlags) (backend.Backend, error) {
	var opts []emu.Option
	if !d.debug {
		opts = append(opts, emu.WithAsyncErrors())
	}
	return gpu.New(emu.New(d.threads, opts...)), nil
}
