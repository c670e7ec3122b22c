package model

import (
	"fmt"
	"sort"
)

// Arch is a built-in architecture: the image shape, the latent size and the
// layers of its encoder, decoder and discriminator (shared/spec/models.md).
type Arch struct {
	Name     string
	C, H, W  int // image channels, height, width
	Latent   int
	Defaults Defaults
	build    func(n *Nets, classes int)
}

// Defaults are the settings a run of an architecture gets where it does not
// choose them, picked from measured sample quality (docs/quality.md).
type Defaults struct {
	Gamma       float64 // γ, the decoder's weight on L_like
	Beta        float64 // β, the encoder's weight on L_like (the spec's is 1)
	Init        string  // weight initialization (InitPyTorch or InitDCGAN)
	Equilibrium bool    // whether the equilibrium rule is on
	EMA         float64 // decay of the decoder's weight average; 0: none
	DecLRScale  float64 // the VAE-GAN decoder's learning rate over the other networks'
}

// ImageLen is the number of floats of one image.
func (a *Arch) ImageLen() int { return a.C * a.H * a.W }

// Nets are the three networks of an architecture with their parameters.
type Nets struct {
	Enc, Dec, Dis ParamSet
	encTrunk      seq
	mu, logvar    *linear
	dec, dis      seq
	disTap        int // index of the layer whose output is Dis_l
	classes       int // discriminator outputs: 1 (logit) or 3
}

var archs = map[string]*Arch{
	// mnist: measured over 3,500-step runs at three seeds (docs/quality.md).
	"mnist": {Name: "mnist", C: 1, H: 28, W: 28, Latent: 32, build: buildMNIST,
		Defaults: Defaults{Gamma: 0.3, Beta: 2, Init: InitPyTorch, Equilibrium: false, DecLRScale: 8}},
	// celeba64: not measured yet (a step takes 15–20 s on the CPU); the
	// earlier choices stay.
	"celeba64": {Name: "celeba64", C: 3, H: 64, W: 64, Latent: 128, build: buildCelebA64,
		Defaults: Defaults{Gamma: 1, Beta: 1, Init: InitDCGAN, Equilibrium: true, DecLRScale: 1}},
}

// LookupArch returns the architecture with the given name.
func LookupArch(name string) (*Arch, error) {
	a, ok := archs[name]
	if !ok {
		return nil, fmt.Errorf("unknown architecture %q (want one of %v)", name, ArchNames())
	}
	return a, nil
}

// ArchNames lists the built-in architectures.
func ArchNames() []string {
	var names []string
	for n := range archs {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// newNets declares the layers and parameters of all three networks of arch
// (nothing is allocated yet); the discriminator has the given number of
// outputs.
func newNets(a *Arch, classes int) *Nets {
	n := &Nets{classes: classes}
	a.build(n, classes)
	return n
}

// encHeads adds the encoder's mu and logvar heads over a trunk of width f.
func (n *Nets) encHeads(f, latent int) {
	n.mu = newLinear(&n.Enc, "enc.mu", f, latent, true)
	n.logvar = newLinear(&n.Enc, "enc.logvar", f, latent, true)
	n.logvar.accumulateDx = true
}

func buildMNIST(n *Nets, classes int) {
	e, d, s := &n.Enc, &n.Dec, &n.Dis
	n.encTrunk.layers = []layer{
		newConv2d(e, "enc.conv1", 1, 28, 28, 32, 4, 2, 1, false), newBatchNorm(e, "enc.bn1", 32), relu,
		newConv2d(e, "enc.conv2", 32, 14, 14, 64, 4, 2, 1, false), newBatchNorm(e, "enc.bn2", 64), relu,
		newLinear(e, "enc.fc", 3136, 512, false), newBatchNorm(e, "enc.bn_fc", 512), relu,
	}
	n.encHeads(512, 32)
	n.dec.layers = []layer{
		newLinear(d, "dec.fc", 32, 3136, false), newBatchNorm(d, "dec.bn_fc", 3136), relu,
		newConvTranspose2d(d, "dec.deconv1", 64, 7, 7, 32, 4, 2, 1, 0, false), newBatchNorm(d, "dec.bn1", 32), relu,
		newConvTranspose2d(d, "dec.out", 32, 14, 14, 1, 4, 2, 1, 0, true), tanh,
	}
	n.dis.layers = []layer{
		newConv2d(s, "dis.conv1", 1, 28, 28, 32, 4, 2, 1, true), lrelu,
		newConv2d(s, "dis.conv2", 32, 14, 14, 64, 4, 2, 1, false), newBatchNorm(s, "dis.bn2", 64), lrelu,
		newLinear(s, "dis.fc", 3136, 512, false), newBatchNorm(s, "dis.bn_fc", 512), lrelu,
		newLinear(s, "dis.out", 512, classes, true),
	}
	n.disTap = 2
}

func buildCelebA64(n *Nets, classes int) {
	e, d, s := &n.Enc, &n.Dec, &n.Dis
	n.encTrunk.layers = []layer{
		newConv2d(e, "enc.conv1", 3, 64, 64, 64, 5, 2, 2, false), newBatchNorm(e, "enc.bn1", 64), relu,
		newConv2d(e, "enc.conv2", 64, 32, 32, 128, 5, 2, 2, false), newBatchNorm(e, "enc.bn2", 128), relu,
		newConv2d(e, "enc.conv3", 128, 16, 16, 256, 5, 2, 2, false), newBatchNorm(e, "enc.bn3", 256), relu,
		newLinear(e, "enc.fc", 16384, 2048, false), newBatchNorm(e, "enc.bn_fc", 2048), relu,
	}
	n.encHeads(2048, 128)
	n.dec.layers = []layer{
		newLinear(d, "dec.fc", 128, 16384, false), newBatchNorm(d, "dec.bn_fc", 16384), relu,
		newConvTranspose2d(d, "dec.deconv1", 256, 8, 8, 256, 5, 2, 2, 1, false), newBatchNorm(d, "dec.bn1", 256), relu,
		newConvTranspose2d(d, "dec.deconv2", 256, 16, 16, 128, 5, 2, 2, 1, false), newBatchNorm(d, "dec.bn2", 128), relu,
		newConvTranspose2d(d, "dec.deconv3", 128, 32, 32, 32, 5, 2, 2, 1, false), newBatchNorm(d, "dec.bn3", 32), relu,
		newConv2d(d, "dec.out", 32, 64, 64, 3, 5, 1, 2, true), tanh,
	}
	n.dis.layers = []layer{
		newConv2d(s, "dis.conv1", 3, 64, 64, 32, 5, 1, 2, true), relu,
		newConv2d(s, "dis.conv2", 32, 64, 64, 128, 5, 2, 2, false), newBatchNorm(s, "dis.bn2", 128), relu,
		newConv2d(s, "dis.conv3", 128, 32, 32, 256, 5, 2, 2, false), newBatchNorm(s, "dis.bn3", 256), relu,
		newConv2d(s, "dis.conv4", 256, 16, 16, 256, 5, 2, 2, false), newBatchNorm(s, "dis.bn4", 256), relu,
		newLinear(s, "dis.fc", 16384, 512, false), newBatchNorm(s, "dis.bn_fc", 512), relu,
		newLinear(s, "dis.out", 512, classes, true),
	}
	n.disTap = 8
}
