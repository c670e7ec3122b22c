package main

import (
	"fmt"
	"strings"

	"github.com/vaegan-go/vaegan/model"
)

// layer is one Conv2d, ConvTranspose2d or Linear layer of an architecture
// (model.LayerSpec: a conv layer reads In×H×W and has Out channels; a linear
// layer maps In inputs to Out outputs), with how many images a step passes
// through it.
type layer struct {
	model.LayerSpec
	rows int // images per call in a step, in batches: the discriminator sees 3B
	// dataRows is rows for the data gradient: the discriminator's first
	// layer computes it for the fake images alone (2B for the decoder; B,
	// the reconstructions, for the encoder).
	dataRows int
}

// archSpec is an architecture's image shape, latent size, layers and the
// size of one image's Dis_l features.
type archSpec struct {
	name   string
	latent int
	disL   int
	layers []layer
}

// archs are the two built-in architectures, layer by layer, as the model
// declares them (2-class discriminator; the 3-class one differs only in
// dis.out's width).
var archs = buildArchs()

func buildArchs() []archSpec {
	var specs []archSpec
	for _, name := range model.ArchNames() {
		a, _ := model.LookupArch(name)
		s := archSpec{name: a.Name, latent: a.Latent}
		firstDis := true
		for _, ls := range a.Layers() {
			l := layer{LayerSpec: ls, rows: 1, dataRows: 1}
			if strings.HasPrefix(ls.Name, "dis.") {
				l.rows, l.dataRows = 3, 3
				if firstDis {
					l.dataRows, firstDis = 2, false
				}
			}
			if ls.DisL {
				s.disL = ls.Out * l.outSize()
			}
			s.layers = append(s.layers, l)
		}
		specs = append(specs, s)
	}
	return specs
}

// lookupArch returns the architecture with the given name.
func lookupArch(name string) (*archSpec, error) {
	for i := range archs {
		if archs[i].name == name {
			return &archs[i], nil
		}
	}
	return nil, fmt.Errorf("unknown architecture %q (want one of %s)", name, strings.Join(model.ArchNames(), ", "))
}

// outSize is the number of outputs per image and channel (1 for Linear).
func (l layer) outSize() int {
	switch l.Kind {
	case model.Conv:
		g := l.Geom(1)
		return g.OH * g.OW
	case model.ConvTranspose:
		g := l.Geom(1)
		return g.H * g.W
	}
	return 1
}

// macs is the number of multiply-adds of one pass (forward, data gradient
// or weight gradient: all three are the same product) over n images.
func (l layer) macs(n int) float64 {
	if l.Kind == model.Linear {
		return float64(n) * float64(l.In) * float64(l.Out)
	}
	g := l.Geom(n)
	return float64(g.N) * float64(g.K) * float64(g.C) * float64(g.R*g.R) * float64(g.OH*g.OW)
}

// netParams is the number of trainable scalars of net ("enc", "dec", "dis").
func (a *archSpec) netParams(net string) int {
	n := 0
	for _, l := range a.layers {
		if l.Name[:3] == net {
			n += l.Params()
		}
	}
	return n
}
