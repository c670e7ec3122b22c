package main

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"path/filepath"
)

// gpuPeak is a GPU's published peak rates, the ceilings of a roofline
// estimate.
type gpuPeak struct {
	name      string
	bandwidth float64 // memory bandwidth, bytes/s
	fp32      float64 // FLOP/s on the CUDA cores
	tf32      float64 // FLOP/s of matrix products on TF32 tensor cores (dense)
}

// h100 is NVIDIA's datasheet for the H100 SXM5 80 GB: 3.35 TB/s of HBM3,
// 67 TFLOP/s FP32, 495 TFLOP/s TF32 tensor (989 with sparsity, which cuBLAS
// does not use here).
var h100 = gpuPeak{name: "H100 SXM5 80 GB", bandwidth: 3.35e12, fp32: 67e12, tf32: 495e12}

// estimate is the roofline time of o in seconds on g: its FLOPs at the
// matrix peak (TF32 or FP32) or its bytes at the bandwidth, whichever takes
// longer, and which of the two that is ("compute" or "memory").
func (g gpuPeak) estimate(o op, tf32 bool) (seconds float64, bound string) {
	rate := g.fp32
	if tf32 {
		rate = g.tf32
	}
	compute, memory := o.flop/rate, o.bytes/g.bandwidth
	if compute > memory {
		return compute, "compute"
	}
	return memory, "memory"
}

// writeRoofline writes the roofline estimate of every op of architecture a
// at the given batch on g, with and without TF32, and the sums. It is
// an estimate, not a measurement: the least time the op's FLOPs and
// compulsory bytes allow, ignoring launch latency and caches.
func writeRoofline(w io.Writer, g gpuPeak, a *archSpec, batch int) {
	ops := archOps(a, batch)
	fmt.Fprintf(w, "\n## Roofline estimate: %s, batch %d, on an %s (not a measurement)\n\n"+
		"Each op's FLOPs at %.0f TFLOP/s (TF32 tensor cores, the default from compute capability 8.0) or %.0f TFLOP/s (FP32, -tf32=false), "+
		"or its bytes (every operand read or written once) at %.2f TB/s, whichever takes longer. "+
		"Launch latency and caches are left out: this is the least time each op could take.\n\n"+
		"| op | shape | MFLOP | KB | TF32 µs | bound | FP32 µs | bound |\n|---|---|---|---|---|---|---|---|\n",
		a.name, batch, g.name, g.tf32/1e12, g.fp32/1e12, g.bandwidth/1e12)
	var sum [2]float64
	for _, o := range ops {
		t32, b32 := g.estimate(o, true)
		f32, bf := g.estimate(o, false)
		sum[0] += t32
		sum[1] += f32
		fmt.Fprintf(w, "| %s | %s | %.1f | %.1f | %.2f | %s | %.2f | %s |\n", o.name, o.shape, o.flop/1e6, o.bytes/1e3, t32*1e6, b32, f32*1e6, bf)
	}
	fmt.Fprintf(w, "| **sum of %d ops** | | | | **%.1f** | | **%.1f** | |\n", len(ops), sum[0]*1e6, sum[1]*1e6)
}

// roofline writes the estimate of -arch (every architecture for all) at
// -batch to stdout and to roofline.md under -out.
func roofline(c config) error {
	var buf bytes.Buffer
	fmt.Fprintf(&buf, "# Roofline estimates\n\nMade by `go run ./bench -roofline -arch %s -batch %d`.\n", c.arch, c.batch)
	for _, name := range c.archNames() {
		a, _ := lookupArch(name)
		writeRoofline(&buf, h100, a, c.batch)
	}
	os.Stdout.Write(buf.Bytes())
	path := filepath.Join(c.out, "roofline.md")
	if err := os.MkdirAll(c.out, 0o755); err != nil {
		return fmt.Errorf("-out: %w", err)
	}
	if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
		return fmt.Errorf("-out: %w", err)
	}
	logf("wrote %s", path)
	return nil
}
