//go:build cuda

package cuda

/*
#include <cuda.h>

static int alloc_host(void** p, size_t n) { return (int)cuMemAllocHost(p, n); }
*/
import "C"

import (
	"fmt"
	"unsafe"

	"gorgonia.org/cu"

	"github.com/vaegan-go/vaegan/gpu"
)

var _ gpu.Stager = (*Driver)(nil)

// AllocPinned returns n floats of page-locked host memory (cuMemAllocHost),
// which copies to the device read without a staging copy of CUDA's own and
// without holding up the host. It belongs to the context: Close frees it.
func (d *Driver) AllocPinned(n int) ([]float32, error) {
	if n <= 0 {
		return nil, fmt.Errorf("cuda: AllocPinned of %d floats: want at least 1", n)
	}
	var p unsafe.Pointer
	err := d.do(func() error {
		return cuError("cuMemAllocHost", C.alloc_host(&p, C.size_t(4*n)))
	})
	if err != nil {
		return nil, fmt.Errorf("cuda: AllocPinned of %d floats: %w", n, err)
	}
	return unsafe.Slice((*float32)(p), n), nil
}

// FreePinned releases memory from AllocPinned.
func (d *Driver) FreePinned(p []float32) error {
	if len(p) == 0 {
		return fmt.Errorf("cuda: FreePinned of an empty slice")
	}
	return d.do(func() error { return cu.MemFreeHost(unsafe.Pointer(&p[0])) })
}

// CopyHtoDAsync queues a copy from pinned memory on the driver's stream.
func (d *Driver) CopyHtoDAsync(dst gpu.DevicePtr, src []float32) error {
	if len(src) == 0 {
		return nil
	}
	err := d.do(func() error {
		return cu.MemcpyHtoDAsync(cu.DevicePtr(dst), unsafe.Pointer(&src[0]), int64(4*len(src)), d.stream)
	})
	if err != nil {
		return fmt.Errorf("cuda: CopyHtoDAsync of %d floats to %#x: %w", len(src), uintptr(dst), fault(err))
	}
	return nil
}
