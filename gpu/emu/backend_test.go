package emu_test

import (
	"slices"
	"testing"

	"github.com/vaegan-go/vaegan/backend/backendtest"
	"github.com/vaegan-go/vaegan/gpu"
	"github.com/vaegan-go/vaegan/gpu/emu"
	"github.com/vaegan-go/vaegan/kernels"
)

// tol is the CUDA backend's tolerance against the float64 references: float32
// sums over up to a few thousand terms in a different order than the
// references.
var tol = backendtest.Tolerance{Atol: 2e-5, Rtol: 2e-5}

// TestBackend runs the conformance suite on the CUDA backend over the
// emulated driver, then checks that the suite launched every kernel of the
// sources except the emulator's own test kernels.
func TestBackend(t *testing.T) {
	b := gpu.New(emu.New(2))
	backendtest.Run(t, b, tol)

	t.Run("EveryKernelLaunched", func(t *testing.T) {
		launched := b.Launched()
		for _, k := range kernels.Kernels() {
			if k.Source == "emutest.cu" {
				continue
			}
			if !slices.Contains(launched, k.Name) {
				t.Errorf("kernel %s (%s) was not launched by any backend op", k.Name, k.Source)
			}
		}
	})
}

// TestBackendChunkedConv runs the convolution tests with a workspace of one
// float, so every convolution runs one sample per chunk.
func TestBackendChunkedConv(t *testing.T) {
	b := gpu.New(emu.New(2))
	b.SetWorkspaceLimit(1)
	backendtest.Run(t, b, tol)
}
