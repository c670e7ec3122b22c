package model

import (
	"fmt"

	"github.com/vaegan-go/vaegan/backend"
)

// seq is a sequential network: a list of layers applied in order.
type seq struct {
	layers []layer
}

// pass is a seq bound to one input shape: every layer's activations,
// allocated once and reused by every forward and backward pass.
type pass struct {
	net   *seq
	in    []int
	slots []slot
}

// bind allocates the activations of a pass over inputs of shape in. When out
// is not nil, the last layer that computes (not an in-place activation)
// writes its output there instead of into a tensor of its own.
func (n *seq) bind(b backend.Backend, in []int, out backend.Tensor) *pass {
	p := &pass{net: n, in: append([]int(nil), in...), slots: make([]slot, len(n.layers))}
	last := len(n.layers) - 1
	for last > 0 && n.layers[last].inPlace() {
		last--
	}
	shape := p.in
	for i, l := range n.layers {
		shape = l.outShape(shape)
		s := &p.slots[i]
		switch {
		case l.inPlace():
			s.y, s.dy = p.slots[i-1].y, p.slots[i-1].dy
		case i == last && !out.IsNil():
			if out.Len() != shapeLen(shape) {
				panic(fmt.Sprintf("model: output tensor %v does not hold %v", out.Shape, shape))
			}
			s.y = out.Reshape(shape...)
			s.dy = b.New(shape...)
		default:
			s.y, s.dy = b.New(shape...), b.New(shape...)
		}
		l.bind(b, s, shape)
	}
	return p
}

// out is the output of the last layer; dout its gradient.
func (p *pass) out() backend.Tensor  { return p.slots[len(p.slots)-1].y }
func (p *pass) dout() backend.Tensor { return p.slots[len(p.slots)-1].dy }

// input returns the input of layer i.
func (p *pass) input(x backend.Tensor, i int) backend.Tensor {
	if i == 0 {
		return x
	}
	return p.slots[i-1].y
}

// forward runs every layer on x.
func (p *pass) forward(b backend.Backend, x backend.Tensor, train bool) {
	for i, l := range p.net.layers {
		l.forward(b, p.input(x, i), &p.slots[i], train)
	}
}

// backward runs layers from, from-1, …, to backwards, starting from the
// gradient already in slot from's dy. When to is 0 the gradient of x is
// written into dx unless dx is nil.
func (p *pass) backward(b backend.Backend, x backend.Tensor, from, to int, dx backend.Tensor, paramGrads bool) {
	for i := from; i >= to; i-- {
		d := dx
		if i > 0 {
			d = p.slots[i-1].dy
		}
		p.net.layers[i].backward(b, p.input(x, i), &p.slots[i], d, paramGrads)
	}
}

// top is the index of the last layer.
func (p *pass) top() int { return len(p.slots) - 1 }
