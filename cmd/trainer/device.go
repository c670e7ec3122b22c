package main

import (
	"flag"
	"fmt"
	"runtime"

	"github.com/vaegan-go/vaegan/backend"
	"github.com/vaegan-go/vaegan/backend/cpu"
)

// deviceFlags are the flags every subcommand shares to pick a backend.
type deviceFlags struct {
	name    string
	threads int
	tf32    bool
	debug   bool
}

func (d *deviceFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&d.name, "device", "", "compute device: cpu or cuda (default: cuda when this binary has CUDA support and a GPU is present, else cpu)")
	fs.IntVar(&d.threads, "threads", runtime.NumCPU(), "CPU threads for the cpu device")
	fs.BoolVar(&d.tf32, "tf32", false, "cuda: allow TF32 tensor-core math in matrix products (faster on Ampere and later, about 10 mantissa bits)")
	fs.BoolVar(&d.debug, "cuda-debug", false, "cuda: synchronise and check for errors after every kernel launch")
}

// open returns the chosen backend.
func (d *deviceFlags) open() (backend.Backend, error) {
	if d.threads < 1 {
		return nil, fmt.Errorf("-threads %d: want at least 1", d.threads)
	}
	switch d.name {
	case "cpu":
		return cpu.New(d.threads), nil
	case "cuda":
		return openCUDA(d)
	case "":
		if b, err := openCUDA(d); err == nil {
			return b, nil
		}
		return cpu.New(d.threads), nil
	}
	return nil, fmt.Errorf("-device %q: want cpu or cuda", d.name)
}
