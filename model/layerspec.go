package model

import (
	"strings"

	"github.com/vaegan-go/vaegan/backend"
)

// LayerKind is how a layer with weights computes.
type LayerKind int

// The kinds of layers with weights.
const (
	Conv          LayerKind = iota // PyTorch's Conv2d
	ConvTranspose                  // PyTorch's ConvTranspose2d
	Linear                         // PyTorch's Linear
)

// LayerSpec describes one layer with weights of an architecture, for tools
// that take the layers one by one (the benchmarks).
type LayerSpec struct {
	Name    string // checkpoint prefix, e.g. "enc.conv1"
	Kind    LayerKind
	In, Out int // channels; features for Linear
	H, W    int // input height and width; 1 for Linear
	// R, Stride and Pad are the kernel's size, stride and padding; OutPad
	// is a ConvTranspose2d's output padding.
	R, Stride, Pad, OutPad int
	BatchNorm              bool // a BatchNorm follows (and the layer has no bias)
	DisL                   bool // the output is Dis_l

	geom func(n int) backend.ConvGeom // the layer's own; nil for Linear
}

// Geom is the convolution a Conv or ConvTranspose layer computes over n
// images (for ConvTranspose, the adjoint Conv2d(Out→In), whose input is the
// layer's output), as the layer itself runs it.
func (s LayerSpec) Geom(n int) backend.ConvGeom { return s.geom(n) }

// Params is the number of trainable scalars of the layer and its
// BatchNorm: the weight, and the bias or BatchNorm's scale and shift.
func (s LayerSpec) Params() int {
	n := s.In * s.Out
	if s.Kind != Linear {
		n *= s.R * s.R
	}
	if s.BatchNorm {
		return n + 2*s.Out
	}
	return n + s.Out
}

// Layers returns the layers with weights of the architecture with a
// 1-output discriminator, in the order of shared/spec/models.md: encoder,
// its two heads, decoder, discriminator.
func (a *Arch) Layers() []LayerSpec {
	n := newNets(a, 1)
	var specs []LayerSpec
	add := func(layers []layer, tap int) {
		for i, l := range layers {
			s, ok := layerSpec(l)
			if !ok {
				continue
			}
			if i+1 < len(layers) {
				_, s.BatchNorm = layers[i+1].(*batchNorm)
			}
			s.DisL = i == tap
			specs = append(specs, s)
		}
	}
	add(n.encTrunk.layers, -1)
	add([]layer{n.mu, n.logvar}, -1)
	add(n.dec.layers, -1)
	add(n.dis.layers, n.disTap)
	return specs
}

// layerSpec describes l when it has weights.
func layerSpec(l layer) (LayerSpec, bool) {
	switch l := l.(type) {
	case *conv2d:
		return LayerSpec{Name: prefix(l.weight), Kind: Conv, In: l.c, Out: l.k, H: l.h, W: l.w,
			R: l.r, Stride: l.stride, Pad: l.pad, geom: l.geom}, true
	case *convTranspose2d:
		return LayerSpec{Name: prefix(l.weight), Kind: ConvTranspose, In: l.c, Out: l.k, H: l.h, W: l.w,
			R: l.r, Stride: l.stride, Pad: l.pad, OutPad: l.outPad, geom: l.geom}, true
	case *linear:
		return LayerSpec{Name: prefix(l.weight), Kind: Linear, In: l.in, Out: l.out, H: 1, W: 1}, true
	}
	return LayerSpec{}, false
}

// prefix is the layer's name: its weight's name without ".weight".
func prefix(w *Param) string { return strings.TrimSuffix(w.Name, ".weight") }
