package model

import (
	"fmt"
	"math"
	"testing"

	"github.com/vaegan-go/vaegan/backend/cpu"
	"github.com/vaegan-go/vaegan/checkpoint"
)

// The model's ConvTranspose2d layer (forward, and the backward to its input,
// weight and bias) matches PyTorch's on the fixtures of
// reference/torch/make_fixtures.py, within |got − ref| ≤ 1e-5 + 1e-4·|ref|.
func TestConvTranspose2dMatchesPyTorch(t *testing.T) {
	f, err := checkpoint.Read("../reference/torch/fixtures/layers.safetensors")
	if err != nil {
		t.Fatal(err)
	}
	b := cpu.New(2)
	for _, c := range []struct {
		op                     string
		r, stride, pad, outPad int
	}{
		{"convt2d_k4s2p1", 4, 2, 1, 0},
		{"convt2d_k5s2p2op1", 5, 2, 2, 1},
	} {
		t.Run(c.op, func(t *testing.T) {
			ref := func(name string) ([]float32, []int) {
				shape, ok := f.Shape(c.op + "." + name)
				if !ok {
					t.Fatalf("fixture has no %s.%s", c.op, name)
				}
				v, err := f.Float32(c.op+"."+name, shape...)
				if err != nil {
					t.Fatal(err)
				}
				return v, shape
			}
			x, xs := ref("x")
			w, ws := ref("w")
			bias, _ := ref("b")
			dy, ys := ref("dy")
			var ps ParamSet
			l := newConvTranspose2d(&ps, "d", xs[1], xs[2], xs[3], ws[1], c.r, c.stride, c.pad, c.outPad, true)
			ps.alloc(b)
			b.Upload(l.weight.W, w)
			b.Upload(l.bias.W, bias)
			if got := l.outShape(xs); fmt.Sprint(got) != fmt.Sprint(ys) {
				t.Fatalf("output shape %v, PyTorch's %v", got, ys)
			}
			in, dx := b.New(xs...), b.New(xs...)
			s := slot{y: b.New(ys...), dy: b.New(ys...)}
			b.Upload(in, x)
			b.Upload(s.dy, dy)
			b.Fill(ps.G, 0)
			l.forward(b, in, &s, true)
			l.backward(b, in, &s, dx, true)
			for _, o := range []struct {
				name string
				got  []float32
			}{{"y", download(b, s.y)}, {"dx", download(b, dx)}, {"dw", download(b, l.weight.G)}, {"db", download(b, l.bias.G)}} {
				want, _ := ref(o.name)
				for i := range want {
					if d := math.Abs(float64(o.got[i] - want[i])); d > 1e-5+1e-4*math.Abs(float64(want[i])) {
						t.Errorf("%s[%d] = %v, PyTorch %v", o.name, i, o.got[i], want[i])
						break
					}
				}
			}
		})
	}
}
