package main

import (
	"fmt"
	"os"

	"github.com/vaegan-go/vaegan/backend"
	"github.com/vaegan-go/vaegan/backend/cpu"
)

// device is a backend under measurement.
type device struct {
	name  string // "cpu" or "cuda"
	b     backend.Backend
	close func()
}

// openDevices opens the devices -device names: "cpu", "cuda" or "all"
// (the CPU, and the GPU when this binary has CUDA support and one is there).
func openDevices(which string, threads int) ([]device, error) {
	var devs []device
	if which == "cpu" || which == "all" {
		devs = append(devs, device{name: "cpu", b: cpu.New(threads), close: func() {}})
	}
	if which == "cuda" || which == "all" {
		b, closeFn, err := openCUDA()
		switch {
		case err == nil:
			devs = append(devs, device{name: "cuda", b: b, close: closeFn})
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
