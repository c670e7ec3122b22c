//go:build cuda

package main

import (
	"fmt"
	"time"

	"github.com/vaegan-go/vaegan/backend"
	"github.com/vaegan-go/vaegan/comm"
	"github.com/vaegan-go/vaegan/gpu"
	"github.com/vaegan-go/vaegan/gpu/cuda"
)

// cudaBuilt says whether this binary has a CUDA backend to try.
const cudaBuilt = true

// openCUDA opens the chosen GPU (GPU 0 when none was) through the CUDA driver.
func openCUDA(d *deviceFlags) (backend.Backend, error) {
	drv, err := cuda.New(cuda.Options{Debug: d.debug, TF32: d.tf32, Device: max(d.ordinal, 0)})
	if err != nil {
		return nil, fmt.Errorf("-device cuda: %w", err)
	}
	b := gpu.New(drv)
	b.SetRecording(d.graphs)
	return b, nil
}

// deviceAllReducer sets up the step's all-reduce in GPU memory with NCCL
// when every rank of c trains on a GPU and has NCCL; otherwise the gradients
// go through host memory and c. Every rank calls it; all get the same
// answer, and how the gradients travel, to print.
func deviceAllReducer(b backend.Backend, c comm.Comm, timeout time.Duration) (backend.AllReducer, string, error) {
	drv, _ := driverOf(b).(*cuda.Driver)
	if notAll, err := anyRank(c, drv == nil); err != nil || notAll {
		return nil, "through host memory (not every rank is on a GPU)", err
	}
	joinErr := drv.JoinNCCL(c, timeout)
	if failed, err := anyRank(c, joinErr != nil); err != nil || failed {
		why := "NCCL failed on another rank"
		if joinErr != nil {
			why = joinErr.Error()
		}
		return nil, "through host memory (" + why + ")", err
	}
	v, _ := cuda.NCCLVersion()
	return b.(*gpu.Backend), fmt.Sprintf("in GPU memory with NCCL %d.%d.%d", v/10000, v/100%100, v%100), nil
}

// usesTF32 reports whether b multiplies matrices with TF32 tensor cores:
// -tf32 on a GPU that has them.
func usesTF32(b backend.Backend) bool {
	drv, ok := driverOf(b).(*cuda.Driver)
	return ok && drv.TF32()
}
