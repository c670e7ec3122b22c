package cpu

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/vaegan-go/vaegan/backend"
)

// randomTensor is a tensor of the given shape with values uniform in [-1, 1).
func randomTensor(b *Backend, r *rand.Rand, shape ...int) backend.Tensor {
	t := b.New(shape...)
	d := data(t)
	for i := range d {
		d[i] = r.Float32()*2 - 1
	}
	return t
}

// backends are the variants benchmarked: OpenBLAS when the system has it,
// and gonum.
func backends() map[string]*Backend {
	m := map[string]*Backend{"gonum": newBackend(2, false)}
	if loadOpenBLAS() {
		m["openblas"] = newBackend(2, true)
	}
	return m
}

// BenchmarkGemm times square products C = A·B on 2 threads.
func BenchmarkGemm(bm *testing.B) {
	for name, b := range backends() {
		for _, n := range []int{256, 1024, 2048} {
			bm.Run(fmt.Sprintf("%s/n=%d", name, n), func(bm *testing.B) {
				r := rand.New(rand.NewPCG(1, 2))
				x, y, z := randomTensor(b, r, n, n), randomTensor(b, r, n, n), b.New(n, n)
				for bm.Loop() {
					b.Gemm(false, false, n, n, n, 1, x, y, 0, z)
				}
				bm.ReportMetric(2*float64(n)*float64(n)*float64(n)*float64(bm.N)/bm.Elapsed().Seconds()/1e9, "GFLOP/s")
			})
		}
	}
}

// BenchmarkConv times the three convolution passes of layers of the mnist
// and celeba64 models at batch 64 on 2 threads.
func BenchmarkConv(bm *testing.B) {
	geoms := map[string]backend.ConvGeom{
		"mnist.conv2":      backend.NewConvGeom(64, 32, 14, 14, 64, 4, 2, 1),
		"celeba.conv2":     backend.NewConvGeom(64, 32, 64, 64, 128, 5, 2, 2),
		"celeba.dec.out":   backend.NewConvGeom(64, 32, 64, 64, 3, 5, 1, 2),
		"celeba.dis.conv1": backend.NewConvGeom(192, 3, 64, 64, 32, 5, 1, 2),
		"celeba.dis.conv2": backend.NewConvGeom(192, 32, 64, 64, 128, 5, 2, 2),
		"celeba.dis.conv3": backend.NewConvGeom(192, 128, 32, 32, 256, 5, 2, 2),
		"celeba.dis.conv4": backend.NewConvGeom(192, 256, 16, 16, 256, 5, 2, 2),
	}
	for name, b := range backends() {
		for gname, g := range geoms {
			r := rand.New(rand.NewPCG(1, 2))
			x, w := randomTensor(b, r, g.N, g.C, g.H, g.W), randomTensor(b, r, g.K, g.C, g.R, g.R)
			y := randomTensor(b, r, g.N, g.K, g.OH, g.OW)
			flop := 2 * float64(g.N*g.K*g.OH*g.OW*colRows(g))
			passes := map[string]func(){
				"forward": func() { b.ConvForward(g, x, w, y) },
				"data":    func() { b.ConvBackwardData(g, y, w, x) },
				"filter":  func() { b.ConvBackwardFilter(g, x, y, w) },
			}
			for pname, pass := range passes {
				bm.Run(fmt.Sprintf("%s/%s/%s", name, gname, pname), func(bm *testing.B) {
					for bm.Loop() {
						pass()
					}
					bm.ReportMetric(flop*float64(bm.N)/bm.Elapsed().Seconds()/1e9, "GFLOP/s")
				})
			}
		}
	}
}
