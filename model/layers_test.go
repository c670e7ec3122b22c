package model

import (
	"fmt"
	"math"
	"testing"

	"github.com/vaegan-go/vaegan/backend"
	"github.com/vaegan-go/vaegan/backend/cpu"
)

// Every layer's backward pass against central finite differences of its
// forward pass, through the model's own layer code (the backends' ops are
// checked separately by backend/backendtest). The loss is Σ y·r for a fixed
// random r, so its gradient with respect to y is r.
func TestLayerGradientsFiniteDifferences(t *testing.T) {
	type layerCase struct {
		name  string
		in    []int
		build func(ps *ParamSet) layer
	}
	cases := []layerCase{
		{"conv2d k4 s2 p1 bias", []int{2, 3, 7, 7}, func(ps *ParamSet) layer { return newConv2d(ps, "c", 3, 7, 7, 4, 4, 2, 1, true) }},
		{"conv2d k5 s1 p2", []int{2, 2, 5, 5}, func(ps *ParamSet) layer { return newConv2d(ps, "c", 2, 5, 5, 3, 5, 1, 2, false) }},
		{"convT k4 s2 p1 bias", []int{2, 3, 4, 4}, func(ps *ParamSet) layer { return newConvTranspose2d(ps, "d", 3, 4, 4, 2, 4, 2, 1, 0, true) }},
		{"convT k5 s2 p2 op1", []int{2, 2, 3, 3}, func(ps *ParamSet) layer { return newConvTranspose2d(ps, "d", 2, 3, 3, 3, 5, 2, 2, 1, false) }},
		{"linear bias", []int{3, 5}, func(ps *ParamSet) layer { return newLinear(ps, "l", 5, 4, true) }},
		{"batchnorm2d", []int{3, 2, 3, 3}, func(ps *ParamSet) layer { return newBatchNorm(ps, "bn", 2) }},
		{"batchnorm1d", []int{4, 3}, func(ps *ParamSet) layer { return newBatchNorm(ps, "bn", 3) }},
		{"relu", []int{2, 9}, func(*ParamSet) layer { return relu }},
		{"leaky relu", []int{2, 9}, func(*ParamSet) layer { return lrelu }},
		{"tanh", []int{2, 9}, func(*ParamSet) layer { return tanh }},
	}
	const (
		h   = 1e-2 // float32 forward passes: a step this size keeps rounding small
		tol = 2e-3 // relative to the gradient's largest magnitude
	)
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			b := cpu.New(1)
			var ps ParamSet
			l := c.build(&ps)
			ps.alloc(b)
			ps.Init(b, InitRule{Seed: 5, Std: 0.5, Biases: true}, 0)
			// An in-place layer needs a producer: put an identity slot in front.
			net := &seq{layers: []layer{l}}
			x := b.New(c.in...)
			xs := make([]float32, x.Len())
			for i := range xs {
				xs[i] = backend.NormalAt(6, uint64(i))
				if l.inPlace() && math.Abs(float64(xs[i])) < 2*h {
					xs[i] += 4 * h // keep ReLU kinks out of the difference
				}
			}
			var p *pass
			if l.inPlace() {
				p = &pass{net: net, in: c.in, slots: []slot{{y: b.New(c.in...), dy: b.New(c.in...)}}}
			} else {
				p = net.bind(b, c.in, backend.Tensor{})
			}
			y := p.out()
			r := make([]float32, y.Len())
			for i := range r {
				r[i] = backend.NormalAt(7, uint64(i))
			}
			loss := func() float64 {
				b.Upload(x, xs)
				if l.inPlace() {
					b.Copy(p.slots[0].y, x)
					l.forward(b, p.slots[0].y, &p.slots[0], true)
				} else {
					p.forward(b, x, true)
				}
				out := download(b, y)
				s := 0.0
				for i := range out {
					s += float64(out[i]) * float64(r[i])
				}
				return s
			}
			loss()
			b.Upload(p.dout(), r)
			b.Fill(ps.G, 0)
			dx := b.New(c.in...)
			if l.inPlace() {
				l.backward(b, x, &p.slots[0], dx, true)
			} else {
				p.backward(b, x, 0, 0, dx, true)
			}
			check := func(what string, analytic []float32, perturb func(i int, d float32)) {
				maxAbs := 0.0
				for _, v := range analytic {
					maxAbs = math.Max(maxAbs, math.Abs(float64(v)))
				}
				for i := range analytic {
					perturb(i, h)
					up := loss()
					perturb(i, -2*h)
					down := loss()
					perturb(i, h)
					num := (up - down) / (2 * h)
					if math.Abs(num-float64(analytic[i])) > tol*math.Max(maxAbs, 1e-3) {
						t.Errorf("%s[%d]: backward %.5g, finite difference %.5g", what, i, analytic[i], num)
						return
					}
				}
			}
			check("dx", download(b, dx), func(i int, d float32) { xs[i] += d })
			for _, prm := range ps.Params {
				w := download(b, prm.W)
				check(fmt.Sprintf("d%s", prm.Name), download(b, prm.G), func(i int, d float32) {
					w[i] += d
					b.Upload(prm.W, w)
				})
			}
		})
	}
}
