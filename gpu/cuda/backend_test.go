//go:build cuda

package cuda_test

import (
	"testing"

	"github.com/vaegan-go/vaegan/backend/backendtest"
	"github.com/vaegan-go/vaegan/gpu"
	"github.com/vaegan-go/vaegan/gpu/cuda"
	"github.com/vaegan-go/vaegan/model/steptest"
)

// tol is the CUDA backend's tolerance against the float64 references, as on
// the emulated driver (gpu/emu): cuBLAS sums products in float32.
var tol = backendtest.Tolerance{Atol: 2e-4, Rtol: 1e-4}

// TestBackend runs the backend conformance suite on the real GPU through
// the real driver (every kernel's PTX, cuBLAS), with each launch checked
// (Debug) so that a failing kernel names itself.
func TestBackend(t *testing.T) {
	b := gpu.New(newDriver(t, cuda.Options{Debug: true}))
	backendtest.Run(t, b, tol)
}

// TestBackendAsync is the suite with launches queued (no Debug): errors
// and results as a training run sees them.
func TestBackendAsync(t *testing.T) {
	backendtest.Run(t, gpu.New(newDriver(t, cuda.Options{})), tol)
}

// TestStepsMatchPyTorch runs the model-step suite (one step of every model
// against PyTorch) on the real GPU.
func TestStepsMatchPyTorch(t *testing.T) {
	steptest.Run(t, gpu.New(newDriver(t, cuda.Options{})))
}

// TestFailedStepChangesNothing: a stopped step on the GPU leaves the state
// as it was.
func TestFailedStepChangesNothing(t *testing.T) {
	steptest.CheckFailedStep(t, gpu.New(newDriver(t, cuda.Options{})))
}

// TestCelebAStepMatchesPyTorch: one celeba64 vaegan step (a BatchNorm before
// Dis_l) against PyTorch on the GPU.
func TestCelebAStepMatchesPyTorch(t *testing.T) {
	steptest.CheckCelebADigest(t, gpu.New(newDriver(t, cuda.Options{})), 1e-3) // as on the emulated driver (gpu/emu's celebAFloor)
}

// TestRecordedStepsMatchOpByOp: steps replayed from CUDA graphs match steps
// run op by op on the GPU, bit for bit.
func TestRecordedStepsMatchOpByOp(t *testing.T) {
	steptest.CheckRecordedSteps(t, func() gpu.Driver { return newDriver(t, cuda.Options{}) })
}
