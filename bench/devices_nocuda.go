//go:build !cuda

package main

import (
	"errors"

	"github.com/vaegan-go/vaegan/backend"
)

// cudaBuilt reports whether this binary has CUDA support.
const cudaBuilt = false

// openCUDA reports that this binary was built without CUDA support.
func openCUDA() (graphs, opByOp backend.Backend, closeFn func(), err error) {
	return nil, nil, nil, errors.New("built without CUDA support (build with -tags cuda on a machine with the CUDA toolkit)")
}
