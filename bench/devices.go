package main

import (
	"fmt"
	"os"

	"github.com/vaegan-go/vaegan/backend"
	"github.com/vaegan-go/vaegan/backend/cpu"
)

// device is a backend under measurement.
type device struct {
	name  string // "cpu", "cuda" or "cuda-op"
	b     backend.Backend
	close func()
	// stepsOnly marks a second way to run another device, cuda-op: the
	// CUDA backend on the same GPU running every step op by op, without
	// the CUDA graph. Only its training steps are timed (its ops are the
	// same), against the peak of the device it runs on.
	stepsOnly bool
}

// openDevices opens the devices -device names: "cpu", "cuda" or "all"
// (the CPU, and the GPU when this binary has CUDA support and one is there).
// The GPU comes twice: "cuda", replaying its recorded step (CUDA graphs, the
// trainer's default), and "cuda-op", op by op.
func openDevices(which string, threads int) ([]device, error) {
	var devs []device
	if which == "cpu" || which == "all" {
		devs = append(devs, device{name: "cpu", b: cpu.New(threads), close: func() {}})
	}
	if which == "cuda" || which == "all" {
		b, opByOp, closeFn, err := openCUDA()
		switch {
		case err == nil:
			devs = append(devs, device{name: "cuda", b: b, close: func() {}}, // the driver closes with the last device on it
				device{name: "cuda-op", b: opByOp, close: closeFn, stepsOnly: true})
		case which == "cuda":
			return nil, fmt.Errorf("-device cuda: %w", err)
		default:
			fmt.Fprintf(os.Stderr, "bench: no cuda device: %v\n", err)
		}
	}
	if len(devs) == 0 {
		return nil, fmt.Errorf("-device %q: want cpu, cuda or all", which)
	}
	return devs, nil
}
