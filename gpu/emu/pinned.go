//go:build cgo

package emu

import (
	"errors"
	"fmt"

	"github.com/vaegan-go/vaegan/gpu"
)

var _ gpu.Stager = (*Driver)(nil)

// AllocPinned returns n floats of host memory: every copy of the emulator
// finishes before it returns, so any memory will do.
func (d *Driver) AllocPinned(n int) ([]float32, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if err := d.outsideCapture("AllocPinned"); err != nil {
		return nil, err
	}
	if n < 0 {
		return nil, fmt.Errorf("emu: AllocPinned of %d floats: size must not be negative", n)
	}
	return make([]float32, n), nil
}

// FreePinned releases memory from AllocPinned.
func (d *Driver) FreePinned(p []float32) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if p == nil {
		return errors.New("emu: FreePinned of nil")
	}
	return d.outsideCapture("FreePinned")
}

// pendingCopy is a copy CopyHtoDAsync queued.
type pendingCopy struct {
	dst gpu.DevicePtr
	src []float32
}

// CopyHtoDAsync queues a copy of len(src) floats to dst: it is made at the
// driver's next call, as a GPU makes it some time after the call returns,
// so that a caller that changes src too early sees its copy change.
func (d *Driver) CopyHtoDAsync(dst gpu.DevicePtr, src []float32) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if err := d.outsideCapture("CopyHtoDAsync"); err != nil {
		return err
	}
	if err := d.checkRange("CopyHtoDAsync destination", dst, len(src)); err != nil {
		return err
	}
	d.pending = append(d.pending, pendingCopy{dst, src})
	return nil
}
