//go:build cuda

package main

import (
	"fmt"

	"github.com/vaegan-go/vaegan/backend"
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
	return gpu.New(drv), nil
}
