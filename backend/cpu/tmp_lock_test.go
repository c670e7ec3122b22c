package cpu

import (
	"fmt"
	"os"
	"runtime"
	"testing"
)

func TestTmpLock(t *testing.T) {
	if os.Getenv("TMPLOCK") == "" {
		t.Skip("tmp")
	}
	if os.Getenv("TMPLOCK") == "1" {
		runtime.LockOSThread()
	}
	b := newBackend(2, loadOpenBLAS())
	for _, n := range []int{256, 1024, 2048} {
		r := testing.Benchmark(func(bm *testing.B) {
			if os.Getenv("TMPLOCK") == "1" {
				runtime.LockOSThread()
				defer runtime.UnlockOSThread()
			}
			x, y, z := b.New(n, n), b.New(n, n), b.New(n, n)
			for bm.Loop() {
				b.Gemm(false, false, n, n, n, 1, x, y, 0, z)
			}
			bm.ReportMetric(2*float64(n)*float64(n)*float64(n)*float64(bm.N)/bm.Elapsed().Seconds()/1e9, "GFLOP/s")
		})
		ents, _ := os.ReadDir("/proc/self/task")
		fmt.Println(n, r.String(), "threads", len(ents))
	}
}
