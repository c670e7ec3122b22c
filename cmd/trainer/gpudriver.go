//go:build cuda || emugpu

package main

import (
	"github.com/vaegan-go/vaegan/backend"
	"github.com/vaegan-go/vaegan/gpu"
)

// driverOf is the driver under b when b is the CUDA backend (a real or an
// emulated GPU), and nil otherwise.
func driverOf(b backend.Backend) gpu.Driver {
	if gb, ok := b.(*gpu.Backend); ok {
		return gb.Driver()
	}
	return nil
}
