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
// sources compiled for the CPU. For tests (build tag emugpu); slow.
func openCUDA(d *deviceFlags) (backend.Backend, error) {
	return gpu.New(emu.New(d.threads)), nil
}
