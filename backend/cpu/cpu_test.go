package cpu

import (
	"testing"

	"github.com/vaegan-go/vaegan/backend/backendtest"
)

// tight is the tolerance of the CPU backend against the float64 references:
// float32 rounding of sums of at most a few thousand terms.
var tight = backendtest.Tolerance{Atol: 1e-5, Rtol: 1e-4}

func TestConformanceOneThread(t *testing.T) { backendtest.Run(t, New(1), tight) }

func TestConformanceTwoThreads(t *testing.T) { backendtest.Run(t, New(2), tight) }
