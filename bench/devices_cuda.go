//go:build cuda

package main

import (
	"github.com/vaegan-go/vaegan/backend"
	"github.com/vaegan-go/vaegan/gpu"
	"github.com/vaegan-go/vaegan/gpu/cuda"
)

// cudaBuilt reports whether this binary has CUDA support.
const cudaBuilt = true

// openCUDA opens device 0 over the real CUDA driver as two gpu.Backends:
// one that replays recorded steps (CUDA graphs) and one that runs them op
// by op; and returns the function that closes the device.
func openCUDA() (graphs, opByOp backend.Backend, closeFn func(), err error) {
	d, err := cuda.New(cuda.Options{})
	if err != nil {
		return nil, nil, nil, err
	}
	defer func() {
		if r := recover(); r != nil {
			e, ok := r.(*gpu.Error)
			if !ok {
				panic(r)
			}
			d.Close()
			graphs, opByOp, closeFn, err = nil, nil, nil, e
		}
	}()
	op := gpu.New(d)
	op.SetRecording(false)
	return gpu.New(d), op, func() { d.Close() }, nil
}
