package main

import (
	"flag"
	"fmt"
	"os"
	"runtime"
	"strconv"
	"strings"

	"github.com/vaegan-go/vaegan/backend"
	"github.com/vaegan-go/vaegan/backend/cpu"
)

// deviceFlags are the flags every subcommand shares to pick a backend.
type deviceFlags struct {
	name    string
	ordinal int // the GPU of -device cuda:K; -1: not chosen (GPU 0, or the local rank's in a data-parallel run)
	threads int
	tf32    bool
	debug   bool
	graphs  bool
}

func (d *deviceFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&d.name, "device", "", "compute device: cpu, cuda or cuda:K (GPU K) (default: cuda when this binary has CUDA support and a GPU is present, else cpu;\n"+
		"in a data-parallel run each process takes the GPU of its local rank)")
	d.ordinal = -1
	fs.IntVar(&d.threads, "threads", runtime.NumCPU(), "CPU threads for the cpu device")
	fs.BoolVar(&d.tf32, "tf32", true, "cuda: TF32 tensor-core math in matrix products on GPUs that have it (Ampere, sm_80, and newer):\nfaster, products rounded to 10 mantissa bits; -tf32=false keeps full float32")
	fs.BoolVar(&d.debug, "cuda-debug", false, "cuda: synchronise and check for errors after every kernel launch (no CUDA graphs)")
	fs.BoolVar(&d.graphs, "cuda-graphs", true, "cuda: record the training step once and replay it (CUDA graphs): one driver call per step\ninstead of hundreds; -cuda-graphs=false runs every step op by op")
}

// graphsNote says, after the device's name, whether training steps on b
// will be replayed from a recording (CUDA graphs): on a backend that
// records, unless -cuda-graphs=false or -cuda-debug, and for one rank.
func (d *deviceFlags) graphsNote(b backend.Backend, ranks int) string {
	if _, ok := b.(backend.Recorder); !ok || !d.graphs || d.debug {
		return ""
	}
	if ranks > 1 {
		return " (steps op by op: no CUDA graph across ranks)"
	}
	return " (the step recorded once as a CUDA graph and replayed)"
}

// open returns the chosen backend.
func (d *deviceFlags) open() (backend.Backend, error) {
	if d.threads < 1 {
		return nil, fmt.Errorf("-threads %d: want at least 1", d.threads)
	}
	if k, ok := strings.CutPrefix(d.name, "cuda:"); ok {
		n, err := strconv.Atoi(k)
		if err != nil || n < 0 {
			return nil, fmt.Errorf("-device %q: want cuda:K with K a GPU number from 0", d.name)
		}
		d.name, d.ordinal = "cuda", n
	}
	switch d.name {
	case "cpu":
		return cpu.New(d.threads), nil
	case "cuda":
		return openCUDA(d)
	case "":
		b, err := openCUDA(d)
		if err == nil {
			return b, nil
		}
		if cudaBuilt { // a GPU was there to try (cudaprobe ends a CUDA build without one): say why it failed
			fmt.Fprintf(os.Stderr, "trainer: the GPU could not be used, training on the CPU: %v\n", err)
		}
		return cpu.New(d.threads), nil
	}
	return nil, fmt.Errorf("-device %q: want cpu, cuda or cuda:K", d.name)
}
