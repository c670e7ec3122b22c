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

// rowsOf is rows [lo, hi) of a pass's input x and of its first layer's
// activations, made once so that backwardRows makes no views.
type rowsOf struct {
	x backend.Tensor
	s slot
}

// rows returns rows [lo, hi) of x and of layer 0's slot. Layer 0 must treat
// rows independently (a convolution or a linear layer).
func (p *pass) rows(x backend.Tensor, lo, hi int) rowsOf {
	switch p.net.layers[0].(type) {
	case *conv2d, *linear:
	default:
		panic(fmt.Sprintf("model: a %T mixes rows", p.net.layers[0]))
	}
	s := &p.slots[0]
	return rowsOf{x: x.Rows(lo, hi), s: slot{y: s.y.Rows(lo, hi), dy: s.dy.Rows(lo, hi)}}
}

// backwardRows is backward from layer from down to the input x, without
// parameter gradients, where only rows r of the input's gradient are
// wanted: layer 0 computes those alone, into dx (r's rows). The layers above
// it still run on every row (BatchNorm mixes them).
func (p *pass) backwardRows(b backend.Backend, x backend.Tensor, from int, r *rowsOf, dx backend.Tensor) {
	p.backward(b, x, from, 1, backend.Tensor{}, false)
	p.net.layers[0].backward(b, r.x, &r.s, dx, false)
}

// top is the index of the last layer.
func (p *pass) top() int { return len(p.slots) - 1 }
