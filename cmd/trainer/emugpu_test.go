//go:build emugpu

package main

import (
	"math"
	"path/filepath"
	"strings"
	"testing"
)

// With the emulated driver (build tag emugpu), "-device cuda" runs the CUDA
// backend's kernels on the CPU: a few VAE-GAN steps must give the losses the
// CPU backend gives.
func TestEmulatedCUDAMatchesCPU(t *testing.T) {
	logs := map[string][][]float64{}
	var header []string
	for _, dev := range []string{"cpu", "cuda"} {
		out := t.TempDir()
		if err := run([]string{"-device", dev, "-batch", "8", "-steps", "3", "-log-every", "1", "-sample-every", "3", "-eval-every", "-1", "-out", out}); err != nil {
			t.Fatalf("-device %s: %v", dev, err)
		}
		header, logs[dev] = readCSV(t, filepath.Join(out, lossCSV))
	}
	for s := range logs["cpu"] {
		for i, name := range header[:len(header)-1] { // the last column is images/s
			c, g := logs["cpu"][s][i], logs["cuda"][s][i]
			if math.Abs(g-c) > 1e-4+1e-3*math.Abs(c) {
				t.Errorf("step %d %s: cuda (emulated) %.6g, cpu %.6g", s+1, name, g, c)
			}
		}
	}
}

// Two in-process ranks on emulated GPUs average their gradients in device
// memory (the path NCCL takes on GPUs), say so, and log the losses two
// ranks on the CPU log.
func TestEmulatedRanksAverageOnTheDevice(t *testing.T) {
	logs := map[string][][]float64{}
	var header []string
	for _, dev := range []string{"cpu", "cuda"} {
		out := t.TempDir()
		msgs := trainLocal(t, 2, "-device", dev, "-batch", "8", "-steps", "2", "-log-every", "1", "-sample-every", "2", "-eval-every", "-1", "-threads", "1", "-out", out)
		if want := map[string]string{"cpu": "gradients averaged through host memory", "cuda": "gradients averaged in emulated device memory"}[dev]; !strings.Contains(msgs, want) {
			t.Errorf("-device %s: rank 0's messages do not say %q:\n%s", dev, want, msgs)
		}
		header, logs[dev] = readCSV(t, filepath.Join(out, lossCSV))
	}
	for s := range logs["cpu"] {
		for i, name := range header[:len(header)-1] {
			c, g := logs["cpu"][s][i], logs["cuda"][s][i]
			if math.Abs(g-c) > 1e-4+1e-3*math.Abs(c) {
				t.Errorf("step %d %s: 2 ranks on emulated GPUs %.6g, on the CPU %.6g", s+1, name, g, c)
			}
		}
	}
}
