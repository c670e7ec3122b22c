//go:build asan && cgo

package emu_test

import (
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/vaegan-go/vaegan/gpu"
	"github.com/vaegan-go/vaegan/gpu/emu"
	"github.com/vaegan-go/vaegan/gpu/emu/drivertest"
)

// TestAddressSanitizerCatchesOutOfBounds runs under go test -asan (CI does,
// with the backend conformance suite on this driver): an emulated kernel
// that reads and writes past the end of its device buffers must kill the
// process with AddressSanitizer's heap-buffer-overflow report, as
// compute-sanitizer's memcheck would stop it on a GPU. The launch runs in a
// child process, this test binary started again.
func TestAddressSanitizerCatchesOutOfBounds(t *testing.T) {
	if os.Getenv("EMU_ASAN_CHILD") == "1" {
		d := emu.New(1)
		const n = 16
		x, _ := d.Alloc(4 * n)
		y, _ := d.Alloc(4 * n)
		// n+8 elements over buffers of n: the driver cannot see the kernel's
		// indices, only the sanitizer can.
		err := d.Launch("emutest_affine", gpu.Dim3{X: 1, Y: 1, Z: 1}, gpu.Dim3{X: 32, Y: 1, Z: 1}, 0, drivertest.Args(y, x, n+8, float32(1), float32(0)))
		t.Fatalf("the out-of-bounds launch returned (%v) instead of stopping the process", err)
	}
	cmd := exec.Command(os.Args[0], "-test.run", "^TestAddressSanitizerCatchesOutOfBounds$")
	cmd.Env = append(os.Environ(), "EMU_ASAN_CHILD=1")
	out, err := cmd.CombinedOutput()
	if err == nil || !strings.Contains(string(out), "AddressSanitizer: heap-buffer-overflow") {
		t.Fatalf("an out-of-bounds kernel under -asan: %v, want AddressSanitizer's heap-buffer-overflow report "+
			"(the emulated kernels are C++, which go test -asan does not instrument: set CGO_CXXFLAGS=-fsanitize=address as .ci/run does); output:\n%s", err, out)
	}
	t.Logf("the sanitizer stopped it: %s", firstLine(string(out), "AddressSanitizer"))
}

// firstLine returns the first line of s containing sub.
func firstLine(s, sub string) string {
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, sub) {
			return l
		}
	}
	return ""
}
