//go:build emugpu && !cuda

package main

import (
	"time"

	"github.com/vaegan-go/vaegan/backend"
	"github.com/vaegan-go/vaegan/comm"
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
	b := gpu.New(emu.New(d.threads, opts...))
	b.SetRecording(d.graphs && !d.debug) // as the CUDA driver, which records nothing with -cuda-debug
	return b, nil
}

// deviceAllReducer sets up the step's all-reduce in the emulated devices'
// memory (the path NCCL takes on GPUs) when every rank of c trains on one;
// otherwise the gradients go through host memory and c. Every rank calls
// it; all get the same answer, and how the gradients travel, to print.
func deviceAllReducer(b backend.Backend, c comm.Comm, _ time.Duration) (backend.AllReducer, string, error) {
	drv, _ := driverOf(b).(*emu.Driver)
	if notAll, err := anyRank(c, drv == nil); err != nil || notAll {
		return nil, "through host memory (not every rank is on a GPU)", err
	}
	drv.JoinGroup(c)
	return b.(*gpu.Backend), "in emulated device memory", nil
}

// usesTF32: the emulated GPU multiplies in float32.
func usesTF32(backend.Backend) bool { return false }
