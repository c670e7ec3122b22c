//go:build cuda

package main

import (
	"github.com/vaegan-go/vaegan/backend"
	"github.com/vaegan-go/vaegan/gpu"
	"github.com/vaegan-go/vaegan/gpu/cuda"
)

// cudaBuilt reports whether this binary has CUDA support.
const cudaBuilt = true

// openCUDA opens device 0 as a gpu.Backend over the real CUDA driver, and
// returns the function that closes it.
func openCUDA() (b backend.Backend, closeFn func(), err error) {
	d, err := cuda.New(cuda.Options{})
	if err != nil {
		return nil, nil, err
	}
	defer func() {
		if r := recover(); r != nil {
			e, ok := r.(*gpu.Error)
			if !ok {
				panic(r)
			}
			d.Close()
			b, closeFn, err = nil, nil, e
		}
	}()
	return gpu.New(d), func() { d.Close() }, nil
}
