//go:build cuda

// Package cudaprobe stops a CUDA build of the trainer with a clear message
// when the machine has no usable CUDA device.
//
// gorgonia.org/cu calls cuInit in its init function and exits with a bare
// error name when that fails. Go initialises ready packages in import-path
// order, and this package's path sorts before gorgonia.org/cu's while its
// dependencies are a subset of cu's, so importing it next to cu (as package
// gpu/cuda does) runs this check first.
package cudaprobe

/*
#cgo LDFLAGS: -lcuda
#include <cuda.h>

static int probe(int *count, const char **name) {
	CUresult r = cuInit(0);
	if (r == CUDA_SUCCESS) {
		r = cuDeviceGetCount(count);
	}
	if (r != CUDA_SUCCESS && cuGetErrorName(r, name) != CUDA_SUCCESS) {
		*name = "unknown error";
	}
	return (int)r;
}
*/
import "C"

import (
	"fmt"
	"os"
)

func init() {
	var n C.int
	var name *C.char
	r := C.probe(&n, &name)
	switch {
	case r != 0:
		fail(fmt.Sprintf("the CUDA driver found no usable GPU (cuInit: %s)", C.GoString(name)))
	case n == 0:
		fail("the CUDA driver reports no GPU")
	}
}

func fail(why string) {
	fmt.Fprintf(os.Stderr, "trainer: no CUDA device found: %s.\n"+
		"This binary was built with -tags cuda and needs an NVIDIA GPU and driver "+
		"(with Docker: docker run --gpus all). On a machine without one, build it "+
		"without the tag (go build ./cmd/trainer) and use -device cpu.\n", why)
	os.Exit(1)
}
