//go:build cgo

package emu

import (
	"errors"

	"github.com/vaegan-go/vaegan/comm"
	"github.com/vaegan-go/vaegan/gpu"
)

var _ gpu.AllReducer = (*Driver)(nil)

// JoinGroup makes the driver's AllReduce sum over the ranks of c, each rank
// with its own emulated device, as the CUDA driver's does over NCCL after
// JoinNCCL: for tests of the device all-reduce path on machines without
// GPUs. The sums go through host memory and c.AllReduce.
func (d *Driver) JoinGroup(c comm.Comm) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.group = c
}

// AllReduce replaces every span by its sum over the group's ranks.
func (d *Driver) AllReduce(spans []gpu.Span) error {
	d.mu.Lock()
	group := d.group
	if group == nil {
		d.mu.Unlock()
		return errors.New("emu: AllReduce before JoinGroup")
	}
	if err := d.outsideCapture("AllReduce"); err != nil {
		d.mu.Unlock()
		return err
	}
	total := 0
	for _, s := range spans {
		if err := d.checkRange("AllReduce buffer", s.P, s.N); err != nil {
			d.mu.Unlock()
			return err
		}
		total += s.N
	}
	buf := make([]float32, 0, total)
	for _, s := range spans {
		buf = append(buf, floats(s.P, s.N)...)
	}
	d.mu.Unlock()
	if err := group.AllReduce(buf); err != nil { // without the lock: it waits for the other ranks
		return err
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	for _, s := range spans {
		if err := d.checkRange("AllReduce buffer", s.P, s.N); err != nil { // freed meanwhile
			return err
		}
		copy(floats(s.P, s.N), buf[:s.N])
		buf = buf[s.N:]
	}
	return nil
}
