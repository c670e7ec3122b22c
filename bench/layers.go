package main

import (
	"fmt"

	"github.com/vaegan-go/vaegan/backend"
)

// layerKind is how a layer with weights computes.
type layerKind int

const (
	conv   layerKind = iota // Conv2d
	deconv                  // ConvTranspose2d
	linear                  // Linear
)

// layer is one Conv2d, ConvTranspose2d or Linear layer of an architecture,
// as /work/shared/spec/models.md tables it. A conv layer reads c×h×w and has
// k outputs; a linear layer maps c inputs to k outputs (h = w = 1).
type layer struct {
	name                           string // checkpoint prefix, e.g. "enc.conv1"
	kind                           layerKind
	c, h, w, k, r, stride, pad, op int  // op: a transposed conv's output padding
	bn                             bool // followed by BatchNorm (then no bias)
	rows                           int  // images per call in a step, in batches: the discriminator sees 3B
	// dataRows is rows for the data gradient: the discriminator's first
	// layer computes it for the fake images alone (2B for the decoder; B,
	// the reconstructions, for the encoder).
	dataRows int
}

func cv(name string, c, h, k, r, s, p int, bn bool, rows int) layer {
	return layer{name: name, kind: conv, c: c, h: h, w: h, k: k, r: r, stride: s, pad: p, bn: bn, rows: rows, dataRows: rows}
}

func dc(name string, c, h, k, r, s, p, op int, bn bool) layer {
	return layer{name: name, kind: deconv, c: c, h: h, w: h, k: k, r: r, stride: s, pad: p, op: op, bn: bn, rows: 1, dataRows: 1}
}

func fc(name string, in, out int, bn bool, rows int) layer {
	return layer{name: name, kind: linear, c: in, h: 1, w: 1, k: out, bn: bn, rows: rows, dataRows: rows}
}

// firstDis is l as the discriminator's first layer, whose data gradient
// covers the fake images only.
func firstDis(l layer) layer {
	l.dataRows = 2
	return l
}

// archSpec is an architecture's image shape, latent size, layers and the
// size of one image's Dis_l features.
type archSpec struct {
	name    string
	c, h, w int
	latent  int
	disL    int
	layers  []layer
}

// archs are the two built-in architectures, layer by layer (2-class
// discriminator; the 3-class one differs only in dis.out's width).
var archs = []archSpec{
	{name: "mnist", c: 1, h: 28, w: 28, latent: 32, disL: 64 * 7 * 7, layers: []layer{
		cv("enc.conv1", 1, 28, 32, 4, 2, 1, true, 1),
		cv("enc.conv2", 32, 14, 64, 4, 2, 1, true, 1),
		fc("enc.fc", 3136, 512, true, 1),
		fc("enc.mu", 512, 32, false, 1),
		fc("enc.logvar", 512, 32, false, 1),
		fc("dec.fc", 32, 3136, true, 1),
		dc("dec.deconv1", 64, 7, 32, 4, 2, 1, 0, true),
		dc("dec.out", 32, 14, 1, 4, 2, 1, 0, false),
		firstDis(cv("dis.conv1", 1, 28, 32, 4, 2, 1, false, 3)),
		cv("dis.conv2", 32, 14, 64, 4, 2, 1, true, 3),
		fc("dis.fc", 3136, 512, true, 3),
		fc("dis.out", 512, 1, false, 3),
	}},
	{name: "celeba64", c: 3, h: 64, w: 64, latent: 128, disL: 256 * 8 * 8, layers: []layer{
		cv("enc.conv1", 3, 64, 64, 5, 2, 2, true, 1),
		cv("enc.conv2", 64, 32, 128, 5, 2, 2, true, 1),
		cv("enc.conv3", 128, 16, 256, 5, 2, 2, true, 1),
		fc("enc.fc", 16384, 2048, true, 1),
		fc("enc.mu", 2048, 128, false, 1),
		fc("enc.logvar", 2048, 128, false, 1),
		fc("dec.fc", 128, 16384, true, 1),
		dc("dec.deconv1", 256, 8, 256, 5, 2, 2, 1, true),
		dc("dec.deconv2", 256, 16, 128, 5, 2, 2, 1, true),
		dc("dec.deconv3", 128, 32, 32, 5, 2, 2, 1, true),
		cv("dec.out", 32, 64, 3, 5, 1, 2, false, 1),
		firstDis(cv("dis.conv1", 3, 64, 32, 5, 1, 2, false, 3)),
		cv("dis.conv2", 32, 64, 128, 5, 2, 2, true, 3),
		cv("dis.conv3", 128, 32, 256, 5, 2, 2, true, 3),
		cv("dis.conv4", 256, 16, 256, 5, 2, 2, true, 3),
		fc("dis.fc", 16384, 512, true, 3),
		fc("dis.out", 512, 1, false, 3),
	}},
}

// lookupArch returns the architecture with the given name.
func lookupArch(name string) (*archSpec, error) {
	for i := range archs {
		if archs[i].name == name {
			return &archs[i], nil
		}
	}
	return nil, fmt.Errorf("unknown architecture %q (want mnist or celeba64)", name)
}

// geom is the convolution a conv or transposed conv layer computes over n
// images; for a transposed conv it is the adjoint Conv2d(k→c), whose input
// is the layer's output.
func (l layer) geom(n int) backend.ConvGeom {
	if l.kind == deconv {
		oh := (l.h-1)*l.stride - 2*l.pad + l.r + l.op
		ow := (l.w-1)*l.stride - 2*l.pad + l.r + l.op
		return backend.NewConvGeom(n, l.k, oh, ow, l.c, l.r, l.stride, l.pad)
	}
	return backend.NewConvGeom(n, l.c, l.h, l.w, l.k, l.r, l.stride, l.pad)
}

// outSize is the number of outputs per image and channel (1 for Linear).
func (l layer) outSize() int {
	switch l.kind {
	case conv:
		g := l.geom(1)
		return g.OH * g.OW
	case deconv:
		g := l.geom(1)
		return g.H * g.W
	}
	return 1
}

// macs is the number of multiply-adds of one pass (forward, data gradient
// or weight gradient: all three are the same product) over n images.
func (l layer) macs(n int) float64 {
	switch l.kind {
	case linear:
		return float64(n) * float64(l.c) * float64(l.k)
	}
	g := l.geom(n)
	return float64(g.N) * float64(g.K) * float64(g.C) * float64(g.R*g.R) * float64(g.OH*g.OW)
}

// params is the number of trainable scalars of the layer and its BatchNorm.
func (l layer) params() int {
	n := l.c * l.k * l.r * l.r
	if l.kind == linear {
		n = l.c * l.k
	}
	if l.bn {
		return n + 2*l.k
	}
	return n + l.k
}

// netParams is the number of trainable scalars of net ("enc", "dec", "dis").
func (a *archSpec) netParams(net string) int {
	n := 0
	for _, l := range a.layers {
		if l.name[:3] == net {
			n += l.params()
		}
	}
	return n
}
