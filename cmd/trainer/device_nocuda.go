//go:build !cuda && !emugpu

package main

import (
	"errors"
	"time"

	"github.com/vaegan-go/vaegan/backend"
	"github.com/vaegan-go/vaegan/comm"
)

// cudaBuilt says whether this binary has a CUDA backend to try.
const cudaBuilt = false

// openCUDA reports that this binary has no CUDA support.
func openCUDA(*deviceFlags) (backend.Backend, error) {
	return nil, errors.New("-device cuda: this binary was built without CUDA support; " +
		"build it with `go build -tags cuda ./cmd/trainer` on a machine with the CUDA toolkit and driver, " +
		"or use the Docker image (see README, \"GPU\")")
}

// deviceAllReducer: without CUDA every rank is on the CPU, and the
// gradients go through host memory and c.
func deviceAllReducer(backend.Backend, comm.Comm, time.Duration) (backend.AllReducer, string, error) {
	return nil, "through host memory", nil
}

// usesTF32: without CUDA, matrix products are float32.
func usesTF32(backend.Backend) bool { return false }
