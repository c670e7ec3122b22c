package main

import (
	"runtime"
	"testing"

	"github.com/vaegan-go/vaegan/backend/cpu"
)

// benchDevices are the backends the Go benchmarks measure: the CPU, and
// the GPU when built with -tags cuda.
func benchDevices(b *testing.B) []device {
	devs := []device{{name: "cpu", b: cpu.New(runtime.NumCPU()), close: func() {}}}
	if !cudaBuilt {
		return devs
	}
	g, opByOp, closeFn, err := openCUDA()
	if err != nil {
		b.Fatal(err)
	}
	// The driver closes with the last device on it.
	return append(devs, device{name: "cuda", b: g, close: func() {}}, device{name: "cuda-op", b: opByOp, close: closeFn, stepsOnly: true})
}

// benchBatch is the batch size of the per-op benchmarks, as in a step.
const benchBatch = 64

// benchOps runs every op of arch in the given group, one sub-benchmark per
// device and op, reporting its rate beside ns/op.
func benchOps(b *testing.B, arch, group string) {
	a, err := lookupArch(arch)
	if err != nil {
		b.Fatal(err)
	}
	for _, d := range benchDevices(b) {
		for _, o := range archOps(a, benchBatch) {
			if o.group == group && !d.stepsOnly {
				b.Run(d.name+"/"+o.name, func(b *testing.B) { benchOp(b, d, o) })
			}
		}
		d.close()
	}
}

// benchOp times op o on device d after one warm-up call.
func benchOp(b *testing.B, d device, o op) {
	mem := &tracker{Backend: d.b}
	defer mem.freeAll()
	call := o.setup(mem)
	call()
	d.b.Sync()
	b.ResetTimer()
	for range b.N {
		call()
	}
	d.b.Sync()
	ns := float64(b.Elapsed().Nanoseconds()) / float64(b.N)
	b.ReportMetric(o.rate(ns), o.unit())
}

func BenchmarkLayersMNIST(b *testing.B)         { benchOps(b, "mnist", groupLayer) }
func BenchmarkLayersCelebA64(b *testing.B)      { benchOps(b, "celeba64", groupLayer) }
func BenchmarkBatchNormMNIST(b *testing.B)      { benchOps(b, "mnist", groupBatchNorm) }
func BenchmarkBatchNormCelebA64(b *testing.B)   { benchOps(b, "celeba64", groupBatchNorm) }
func BenchmarkElementwiseMNIST(b *testing.B)    { benchOps(b, "mnist", groupElementwise) }
func BenchmarkElementwiseCelebA64(b *testing.B) { benchOps(b, "celeba64", groupElementwise) }

// BenchmarkGemm2048 is the SGEMM the command takes as each device's peak.
func BenchmarkGemm2048(b *testing.B) {
	for _, d := range benchDevices(b) {
		if !d.stepsOnly {
			b.Run(d.name, func(b *testing.B) { benchOp(b, d, gemmOp(2048)) })
		}
		d.close()
	}
}

// benchStep times training steps of one model at batch 64 after one
// warm-up step, reporting images/s and GFLOP/s.
func benchStep(b *testing.B, arch, mdl string) {
	if arch == "celeba64" && testing.Short() {
		b.Skip("celeba64 steps take seconds each on the CPU; skipped under -short")
	}
	for _, d := range benchDevices(b) {
		b.Run(d.name, func(b *testing.B) {
			s, err := newStepper(d.b, arch, mdl, benchBatch)
			if err != nil {
				b.Fatal(err)
			}
			defer s.free()
			b.ResetTimer()
			for range b.N {
				if err := s.step(); err != nil {
					b.Fatal(err)
				}
			}
			sec := b.Elapsed().Seconds() / float64(b.N)
			b.ReportMetric(benchBatch/sec, "images/s")
			b.ReportMetric(s.flop/sec/1e9, "GFLOP/s")
		})
		d.close()
	}
}

func BenchmarkStepMNISTVAEGAN(b *testing.B)     { benchStep(b, "mnist", "vaegan") }
func BenchmarkStepMNISTVAEGAN3(b *testing.B)    { benchStep(b, "mnist", "vaegan3") }
func BenchmarkStepMNISTVAE(b *testing.B)        { benchStep(b, "mnist", "vae") }
func BenchmarkStepMNISTGAN(b *testing.B)        { benchStep(b, "mnist", "gan") }
func BenchmarkStepCelebA64VAEGAN(b *testing.B)  { benchStep(b, "celeba64", "vaegan") }
func BenchmarkStepCelebA64VAEGAN3(b *testing.B) { benchStep(b, "celeba64", "vaegan3") }
func BenchmarkStepCelebA64VAE(b *testing.B)     { benchStep(b, "celeba64", "vae") }
func BenchmarkStepCelebA64GAN(b *testing.B)     { benchStep(b, "celeba64", "gan") }
