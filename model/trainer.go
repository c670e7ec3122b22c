package model

import (
	"fmt"
	"math"
	"runtime"
	"slices"

	"github.com/vaegan-go/vaegan/backend"
)

// Models the trainer knows.
const (
	VAE     = "vae"     // encoder + decoder, pixel squared error + KL
	GAN     = "gan"     // decoder + discriminator, DCGAN non-saturating loss
	VAEGAN  = "vaegan"  // Larsen et al.: Dis_l feature loss, 2-class discriminator
	VAEGAN3 = "vaegan3" // VAE-GAN with a real / reconstructed / generated discriminator
)

// ModelNames lists the models in the order the CLI shows them.
func ModelNames() []string { return []string{VAEGAN, VAEGAN3, VAE, GAN} }

// The equilibrium rule's centre and default margin (Larsen et al.'s code).
const (
	equilibrium   = 0.68
	defaultMargin = 0.35
)

// Config is everything that defines a training run's maths.
type Config struct {
	Arch  string // "mnist" or "celeba64"
	Model string // VAE, GAN, VAEGAN or VAEGAN3
	Batch int
	Optim OptimConfig
	// Gamma weighs L_like in the decoder's loss; 0 picks the architecture's
	// default (Arch.Defaults).
	Gamma float64
	// Beta weighs L_like in the encoder's loss; 0 picks the spec's β = 1.
	Beta float64 `json:",omitempty"`
	// Init names the weight initialization (InitPyTorch or InitDCGAN);
	// "" picks the architecture's default (Arch.Defaults).
	Init string `json:",omitempty"`
	// NoEquilibrium turns the equilibrium rule off. (Arch.Defaults says
	// whether an architecture's runs have it by default; the CLI applies it.)
	NoEquilibrium bool
	// Margin is the equilibrium rule's margin around 0.68; 0 picks the
	// default 0.35.
	Margin float64 `json:",omitempty"`
	// EMA is the decay of the moving average of the decoder's weights that
	// sampling and reconstruction use; 0: none (decode with the weights as
	// trained). (Arch.Defaults has each architecture's default; the CLI
	// applies it.)
	EMA  float64 `json:",omitempty"`
	Seed uint64
}

// DefaultBeta is β when Config.Beta is 0 (shared/spec/models.md: β = 1).
const DefaultBeta = 1.0

// Loss indices into the trainer's loss tensor.
const (
	lossKL = iota
	lossLike
	lossDisReal
	lossDisRec
	lossDisGen
	lossAdvRec
	lossAdvGen
	numLosses
)

// Slots after the losses in the losses tensor: Σg² of each network's
// gradient (encoder, decoder, discriminator), downloaded with the losses.
const (
	gradSumSq = numLosses
	numSlots  = numLosses + 3
)

// netTitles name the networks of Trainer.nets in messages.
var netTitles = [3]string{"encoder", "decoder", "discriminator"}

// Result is what one training step measured. Each loss is a mean over the
// batch; for the VAE, Like is the pixel reconstruction loss.
type Result struct {
	KL, Like  float64 // KL to N(0, I); L_like (pixel loss for the VAE)
	Dis, Adv  float64 // L_dis; L_adv (the generator's loss)
	DisReal   float64 // the discriminator's mean error on real images
	DisFake   float64 // … on reconstructed and generated images
	UpdateDis bool    // whether the discriminator was updated
	UpdateDec bool    // whether the decoder was updated
}

// Trainer runs training steps of one model on one backend. All tensors are
// allocated by NewTrainer; Step allocates nothing.
type Trainer struct {
	Cfg  Config
	Arch *Arch
	B    backend.Backend
	Nets *Nets
	// Gamma and Beta are γ and β after the defaults.
	Gamma, Beta float64
	// Steps is the number of steps done; Noise is the next counter of the
	// Philox stream that draws eps and z_p (seeded by NoiseSeed).
	Steps     int
	Noise     uint64
	NoiseSeed uint64

	hasEnc, hasDis bool
	enc            *encoderPass
	decRec, decGen *pass
	dis            *pass

	disIn      backend.Tensor // [3B or 2B, C, H, W]: x, x_rec, x_gen (VAE: x only)
	x, xRec    backend.Tensor // views
	eps, z, zp backend.Tensor // [B, L]
	dz         backend.Tensor
	gLike      backend.Tensor // ∂L_like/∂Dis_l(x_rec), tap-shaped [B, …]
	gAdv       backend.Tensor // ∂L_adv/∂logits [rows, classes]
	dDisDec    backend.Tensor // ∂(γ·L_like + L_adv)/∂disIn on the fake rows
	dDisEnc    backend.Tensor // β·∂L_like/∂disIn on the reconstructed rows
	losses     backend.Tensor // numLosses losses, then each network's Σg²
	lossesHost []float32
	gradSq     [3]backend.Tensor // views of the Σg² slots
	statsSaved [3]backend.Tensor // each network's running statistics before the step

	// Views made once, so that a step makes none: each loss, and the B-row
	// groups (real, reconstructed, generated) of the discriminator's tensors
	// (of dDisDec: its fake groups).
	loss                                     [numLosses]backend.Tensor
	logits, gDis, gAdvG, tap, dTap, dDisDecG []backend.Tensor
	fakeRows, recRows                        rowsOf // of the discriminator's pass

	opt  [3]*optimizer  // enc, dec, dis; nil when the model lacks the net
	ema  *weightAverage // of the decoder's weights; nil without Cfg.EMA
	eval map[int]*evalPasses
}

// encoderPass is the encoder bound to one batch size: its trunk and the two
// heads, which share the trunk's output.
type encoderPass struct {
	trunk      *pass
	mu, logvar slot
}

func (n *Nets) bindEncoder(b backend.Backend, batch int, a *Arch) *encoderPass {
	e := &encoderPass{trunk: n.encTrunk.bind(b, []int{batch, a.C, a.H, a.W}, backend.Tensor{})}
	for _, s := range []*slot{&e.mu, &e.logvar} {
		s.y, s.dy = b.New(batch, a.Latent), b.New(batch, a.Latent)
	}
	return e
}

func (e *encoderPass) forward(b backend.Backend, n *Nets, x backend.Tensor, train bool) {
	e.trunk.forward(b, x, train)
	h := e.trunk.out()
	n.mu.forward(b, h, &e.mu, train)
	n.logvar.forward(b, h, &e.logvar, train)
}

// backward takes the gradients already in mu.dy and logvar.dy down to the
// encoder's parameters.
func (e *encoderPass) backward(b backend.Backend, n *Nets, x backend.Tensor) {
	h, dh := e.trunk.out(), e.trunk.dout()
	n.mu.backward(b, h, &e.mu, dh, true)
	n.logvar.backward(b, h, &e.logvar, dh, true)
	e.trunk.backward(b, x, e.trunk.top(), 0, backend.Tensor{}, true)
}

// Check validates a configuration and names the offending field.
func (c *Config) Check() error {
	if _, ok := archs[c.Arch]; !ok {
		return &ConfigError{"Arch", fmt.Sprintf("%q", c.Arch), fmt.Sprintf("want one of %v", ArchNames())}
	}
	if !slices.Contains(ModelNames(), c.Model) {
		return &ConfigError{"Model", fmt.Sprintf("%q", c.Model), fmt.Sprintf("want one of %v", ModelNames())}
	}
	if c.Batch < 2 || c.Batch > MaxBatch {
		return &ConfigError{"Batch", fmt.Sprint(c.Batch), fmt.Sprintf("want 2 to %d (BatchNorm needs more than one sample)", MaxBatch)}
	}
	if c.Gamma < 0 || math.IsNaN(c.Gamma) || math.IsInf(c.Gamma, 0) {
		return &ConfigError{"Gamma", fmt.Sprint(c.Gamma), "want a non-negative number (0: the architecture's default)"}
	}
	if c.Beta < 0 || math.IsNaN(c.Beta) || math.IsInf(c.Beta, 0) {
		return &ConfigError{"Beta", fmt.Sprint(c.Beta), "want a non-negative number (0: the default 1)"}
	}
	if !(c.Margin >= 0 && c.Margin < equilibrium) {
		return &ConfigError{"Margin", fmt.Sprint(c.Margin), fmt.Sprintf("want a number in [0, %v) (0: the default %v)", equilibrium, defaultMargin)}
	}
	if !(c.EMA >= 0 && c.EMA < 1) {
		return &ConfigError{"EMA", fmt.Sprint(c.EMA), "want a decay in [0, 1) (0: no weight average)"}
	}
	if c.Init != "" {
		if _, err := InitRuleOf(c.Init, 0); err != nil {
			return &ConfigError{"Init", fmt.Sprintf("%q", c.Init), fmt.Sprintf("want one of %v", InitNames())}
		}
	}
	return c.Optim.check()
}

// ConfigError is a configuration value that Config.Check refuses.
type ConfigError struct {
	Field string // the Config field: "Batch", "Optim.LR", ...
	Value string // the value, formatted (strings quoted)
	Want  string // what was expected
}

func (e *ConfigError) Error() string {
	return fmt.Sprintf("configuration %s %s: %s", e.Field, e.Value, e.Want)
}

// MaxBatch is the largest batch size a configuration may ask for: a bound
// on what a configuration read from a file can make NewTrainer allocate.
const MaxBatch = 16384

// NewTrainer allocates everything a run of cfg needs on b and initialises the
// parameters by the DCGAN rule with cfg.Seed. An allocation that fails (out
// of device memory) is returned as an error.
func NewTrainer(b backend.Backend, cfg Config) (t *Trainer, err error) {
	if err := cfg.Check(); err != nil {
		return nil, err
	}
	defer recoverError(&err)
	a, _ := LookupArch(cfg.Arch)
	classes := 1
	if cfg.Model == VAEGAN3 {
		classes = 3
	}
	t = &Trainer{Cfg: cfg, Arch: a, B: b, Nets: newNets(a, classes), Gamma: cfg.Gamma, Beta: cfg.Beta,
		NoiseSeed: cfg.Seed + 1,
		hasEnc:    cfg.Model != GAN, hasDis: cfg.Model != VAE}
	if t.Gamma == 0 {
		t.Gamma = a.Defaults.Gamma
	}
	if t.Beta == 0 {
		t.Beta = DefaultBeta
	}
	n, B, L := t.Nets, cfg.Batch, a.Latent
	rows := B // images the discriminator sees per step
	switch cfg.Model {
	case VAEGAN, VAEGAN3:
		rows = 3 * B
	case GAN:
		rows = 2 * B
	}
	t.disIn = b.New(rows, a.C, a.H, a.W)
	t.x = t.disIn.Rows(0, B)
	t.zp = b.New(B, L)
	if t.hasEnc {
		n.Enc.alloc(b)
		t.enc = n.bindEncoder(b, B, a)
		t.eps, t.z, t.dz = b.New(B, L), b.New(B, L), b.New(B, L)
	}
	n.Dec.alloc(b)
	switch cfg.Model {
	case VAE:
		t.decRec = n.dec.bind(b, []int{B, L}, backend.Tensor{})
		t.xRec = t.decRec.out()
	case GAN:
		t.decGen = n.dec.bind(b, []int{B, L}, t.disIn.Rows(B, 2*B))
	default:
		t.xRec = t.disIn.Rows(B, 2*B)
		t.decRec = n.dec.bind(b, []int{B, L}, t.xRec)
		t.decGen = n.dec.bind(b, []int{B, L}, t.disIn.Rows(2*B, 3*B))
	}
	if t.hasDis {
		n.Dis.alloc(b)
		t.dis = n.dis.bind(b, t.disIn.Shape, backend.Tensor{})
		t.gAdv = b.New(rows, classes)
		img := t.disIn.Shape[1:]
		t.dDisDec = b.New(append([]int{rows - B}, img...)...)
		if cfg.Model != GAN {
			t.dDisEnc = b.New(append([]int{B}, img...)...)
			t.gLike = b.New(t.dis.slots[n.disTap].y.Rows(0, B).Shape...)
		}
	}
	t.losses = b.New(numSlots)
	t.lossesHost = make([]float32, numSlots)
	for i := range t.loss {
		t.loss[i] = t.losses.Rows(i, i+1)
	}
	if t.hasDis {
		groups := rows / B
		tapOut := t.dis.slots[n.disTap]
		t.logits, t.gDis = split(t.dis.out(), groups), split(t.dis.dout(), groups)
		t.gAdvG, t.dDisDecG = split(t.gAdv, groups), split(t.dDisDec, groups-1)
		t.tap, t.dTap = split(tapOut.y, groups), split(tapOut.dy, groups)
		t.fakeRows, t.recRows = t.dis.rows(t.disIn, B, rows), t.dis.rows(t.disIn, B, 2*B)
	}
	for i, ps := range t.nets() {
		if ps == nil {
			continue
		}
		t.opt[i] = newOptimizer(b, cfg.Optim, ps.Size())
		t.gradSq[i] = t.losses.Rows(gradSumSq+i, gradSumSq+i+1)
		if !ps.S.IsNil() {
			t.statsSaved[i] = b.New(ps.S.Len())
		}
	}
	if cfg.EMA > 0 {
		t.ema = newWeightAverage(b, cfg.EMA, n.Dec.W)
	}
	init := cfg.Init
	if init == "" {
		init = a.Defaults.Init
	}
	rule, _ := InitRuleOf(init, cfg.Seed)
	t.Init(rule)
	return t, nil
}

// nets returns the parameter sets of the encoder, decoder and discriminator,
// nil for a network the model does not have.
func (t *Trainer) nets() [3]*ParamSet {
	var s [3]*ParamSet
	if t.hasEnc {
		s[0] = &t.Nets.Enc
	}
	s[1] = &t.Nets.Dec
	if t.hasDis {
		s[2] = &t.Nets.Dis
	}
	return s
}

// Init draws every parameter by rule r (tensor indices count the encoder's,
// then the decoder's, then the discriminator's parameters, whether or not
// the model has each network) and resets the running statistics.
func (t *Trainer) Init(r InitRule) {
	first := 0
	for i, ps := range []*ParamSet{&t.Nets.Enc, &t.Nets.Dec, &t.Nets.Dis} {
		if t.nets()[i] != nil {
			ps.Init(t.B, r, first)
			ps.ResetStats(t.B)
		}
		first += len(ps.Params)
	}
	if t.ema != nil {
		t.ema.reset(t.B, t.Nets.Dec.W)
	}
}

// split returns the views of t's groups of rows: n groups of equal size.
func split(t backend.Tensor, n int) []backend.Tensor {
	g := make([]backend.Tensor, n)
	size := t.Shape[0] / n
	for i := range g {
		g[i] = t.Rows(i*size, (i+1)*size)
	}
	return g
}

// Step runs one training step on a batch of images (B·C·H·W floats in
// [-1, 1], NCHW). When a loss is NaN or infinite, or a network's gradient
// is not finite (checked by one reduction per network, before any
// optimizer sees it), it returns an error naming the step, and the
// trainer's state (weights, optimizer moments, running statistics,
// counters) is as it was before the call.
func (t *Trainer) Step(x []float32) (r Result, err error) {
	if len(x) != t.x.Len() {
		return r, fmt.Errorf("batch holds %d floats, want %d (%d images of %d×%d×%d)",
			len(x), t.x.Len(), t.Cfg.Batch, t.Arch.C, t.Arch.H, t.Arch.W)
	}
	defer recoverError(&err)
	b := t.B
	b.Upload(t.x, x)
	noise := t.Noise
	for i, ps := range t.nets() {
		if ps != nil {
			b.Fill(ps.G, 0)
			if !ps.S.IsNil() {
				b.Copy(t.statsSaved[i], ps.S)
			}
		}
	}
	switch t.Cfg.Model {
	case VAE:
		t.gradsVAE()
	case GAN:
		t.gradsGAN()
	default:
		t.gradsVAEGAN()
	}
	for i, ps := range t.nets() {
		if ps != nil {
			b.SumSquares(ps.G, t.gradSq[i])
		}
	}
	b.Download(t.lossesHost, t.losses)
	r = t.result()
	err = r.check(t.Cfg.Model)
	if err == nil {
		err = t.checkGradients()
	}
	if err != nil {
		t.Noise = noise
		for i, ps := range t.nets() {
			if ps != nil && !ps.S.IsNil() {
				b.Copy(ps.S, t.statsSaved[i])
			}
		}
		return r, fmt.Errorf("step %d: %w", t.Steps+1, err)
	}
	update := [3]bool{true, r.UpdateDec, r.UpdateDis}
	for i, ps := range t.nets() {
		if ps != nil && update[i] {
			t.opt[i].step(b, ps)
		}
	}
	if t.ema != nil && r.UpdateDec {
		t.ema.update(b, t.Nets.Dec.W)
	}
	t.Steps++
	return r, nil
}

// encode runs the encoder on x and samples z by the reparameterization
// trick, drawing eps from the noise stream.
func (t *Trainer) encode() {
	e := t.enc
	e.forward(t.B, t.Nets, t.x, true)
	t.B.Reparameterize(e.mu.y, e.logvar.y, t.eps, t.z, t.NoiseSeed, t.Noise)
	t.Noise += uint64(t.eps.Len())
}

// klLoss writes the KL loss and overwrites the heads' gradients with it.
func (t *Trainer) klLoss() {
	e := t.enc
	t.B.KL(e.mu.y, e.logvar.y, t.loss[lossKL], e.mu.dy, e.logvar.dy, 1/float32(t.Cfg.Batch))
}

// encBackward takes dz (the gradient of the encoder's share of the loss
// with respect to z) and the KL gradients down to the encoder's parameters.
func (t *Trainer) encBackward() {
	e := t.enc
	t.B.ReparameterizeBackward(e.logvar.y, t.eps, t.dz, e.mu.dy, e.logvar.dy)
	e.backward(t.B, t.Nets, t.x)
}

// sampleZp draws the decoder's prior samples z_p ~ N(0, I).
func (t *Trainer) sampleZp() {
	t.B.Normal(t.zp, t.NoiseSeed, t.Noise)
	t.Noise += uint64(t.zp.Len())
}

func (t *Trainer) gradsVAE() {
	b, inv := t.B, 1/float32(t.Cfg.Batch)
	t.encode()
	t.decRec.forward(b, t.z, true)
	t.klLoss()
	b.SquaredError(t.xRec, t.x, t.loss[lossLike], t.decRec.dout(), inv)
	t.decRec.backward(b, t.z, t.decRec.top(), 0, t.dz, true)
	t.encBackward()
}

// advLosses writes the discriminator's losses for the groups of B rows of
// its output (real, then one or two fake groups), its gradient into the
// discriminator's output gradient, and the generator's loss gradient into
// gAdv (zero on the real rows).
func (t *Trainer) advLosses(fake ...int) {
	b, inv := t.B, 1/float32(t.Cfg.Batch)
	b.Fill(t.gAdvG[0], 0)
	if t.Nets.classes == 1 {
		b.BCEWithLogits(t.logits[0], t.loss[lossDisReal], t.gDis[0], 1, inv)
		for g, l := range fake {
			b.BCEWithLogits(t.logits[g+1], t.loss[lossDisRec+l], t.gDis[g+1], 0, inv)
			b.BCEWithLogits(t.logits[g+1], t.loss[lossAdvRec+l], t.gAdvG[g+1], 1, inv)
		}
		return
	}
	k := t.Nets.classes
	b.SoftmaxCE(t.logits[0], t.loss[lossDisReal], t.gDis[0], k, 0, inv)
	for g, l := range fake {
		b.SoftmaxCE(t.logits[g+1], t.loss[lossDisRec+l], t.gDis[g+1], k, l+1, inv)
		b.SoftmaxCE(t.logits[g+1], t.loss[lossAdvRec+l], t.gAdvG[g+1], k, 0, inv)
	}
}

// Indices of the fake groups passed to advLosses.
const (
	recGroup = 0
	genGroup = 1
)

func (t *Trainer) gradsGAN() {
	b := t.B
	t.sampleZp()
	t.decGen.forward(b, t.zp, true)
	t.dis.forward(b, t.disIn, true)
	t.advLosses(genGroup)
	b.Fill(t.loss[lossDisRec], 0)
	b.Fill(t.loss[lossAdvRec], 0)
	t.dis.backward(b, t.disIn, t.dis.top(), 0, backend.Tensor{}, true)
	b.Copy(t.dis.dout(), t.gAdv)
	t.dis.backwardRows(b, t.disIn, t.dis.top(), &t.fakeRows, t.dDisDec)
	b.Copy(t.decGen.dout(), t.dDisDec)
	t.decGen.backward(b, t.zp, t.decGen.top(), 0, backend.Tensor{}, true)
}

func (t *Trainer) gradsVAEGAN() {
	b, inv := t.B, 1/float32(t.Cfg.Batch)
	z := t.z
	t.encode()
	t.sampleZp()
	t.decRec.forward(b, z, true)
	t.decGen.forward(b, t.zp, true)
	t.dis.forward(b, t.disIn, true)

	t.klLoss()
	b.SquaredError(t.tap[1], t.tap[0], t.loss[lossLike], t.gLike, inv)
	t.advLosses(recGroup, genGroup)

	// Discriminator ← L_dis.
	top, tapAt := t.dis.top(), t.Nets.disTap
	t.dis.backward(b, t.disIn, top, 0, backend.Tensor{}, true)
	// Decoder ← γ·L_like + L_adv, through the discriminator's input.
	b.Copy(t.dis.dout(), t.gAdv)
	t.dis.backward(b, t.disIn, top, tapAt+1, backend.Tensor{}, false)
	t.injectLike(float32(t.Gamma), true)
	t.dis.backwardRows(b, t.disIn, tapAt, &t.fakeRows, t.dDisDec)
	// Encoder ← β·L_like, through the same path.
	t.injectLike(float32(t.Beta), false)
	t.dis.backwardRows(b, t.disIn, tapAt, &t.recRows, t.dDisEnc)

	b.Copy(t.decRec.dout(), t.dDisDecG[0])
	t.decRec.backward(b, z, t.decRec.top(), 0, backend.Tensor{}, true)
	b.Copy(t.decGen.dout(), t.dDisDecG[1])
	t.decGen.backward(b, t.zp, t.decGen.top(), 0, backend.Tensor{}, true)

	b.Copy(t.decRec.dout(), t.dDisEnc)
	t.decRec.backward(b, z, t.decRec.top(), 0, t.dz, false)
	t.encBackward()
}

// injectLike adds (add) or writes w·∂L_like/∂Dis_l into the Dis_l gradient:
// +w·gLike on the reconstructed rows, -w·gLike on the real rows.
func (t *Trainer) injectLike(w float32, add bool) {
	b := t.B
	if !add {
		b.Fill(t.dis.slots[t.Nets.disTap].dy, 0)
	}
	b.Axpy(w, t.gLike, t.dTap[1])
	b.Axpy(-w, t.gLike, t.dTap[0])
}

// result reads the downloaded losses and applies the equilibrium rule.
func (t *Trainer) result() Result {
	l := func(i int) float64 { return float64(t.lossesHost[i]) }
	r := Result{UpdateDis: true, UpdateDec: true}
	if t.hasEnc {
		r.KL, r.Like = l(lossKL), l(lossLike)
	}
	if !t.hasDis {
		return r
	}
	r.DisReal = l(lossDisReal)
	r.Dis = l(lossDisReal) + l(lossDisRec) + l(lossDisGen)
	r.Adv = l(lossAdvRec) + l(lossAdvGen)
	r.DisFake = l(lossDisGen)
	if t.Cfg.Model != GAN {
		r.DisFake = (l(lossDisRec) + l(lossDisGen)) / 2
	}
	if t.Cfg.NoEquilibrium || t.Cfg.Model == GAN {
		return r
	}
	margin := t.Cfg.Margin
	if margin == 0 {
		margin = defaultMargin
	}
	if r.DisReal < equilibrium-margin || r.DisFake < equilibrium-margin {
		r.UpdateDis = false
	}
	if r.DisReal > equilibrium+margin || r.DisFake > equilibrium+margin {
		r.UpdateDec = false
	}
	if !r.UpdateDis && !r.UpdateDec {
		r.UpdateDis, r.UpdateDec = true, true
	}
	return r
}

// check reports the first loss that is NaN or infinite.
func (r Result) check(model string) error {
	for _, v := range []struct {
		name string
		v    float64
	}{{"KL", r.KL}, {"L_like", r.Like}, {"L_dis", r.Dis}, {"L_adv", r.Adv}} {
		if math.IsNaN(v.v) || math.IsInf(v.v, 0) {
			return fmt.Errorf("loss %s of model %s is %v", v.name, model, v.v)
		}
	}
	return nil
}

// checkGradients reports the first network whose Σg² (in the losses'
// download) is not finite, naming its first tensor holding a value that is
// NaN, infinite or too large to square in float32.
func (t *Trainer) checkGradients() error {
	for i, ps := range t.nets() {
		if ps == nil {
			continue
		}
		s := float64(t.lossesHost[gradSumSq+i])
		if !math.IsNaN(s) && !math.IsInf(s, 0) {
			continue
		}
		g := make([]float32, ps.Size())
		t.B.Download(g, ps.G)
		off := 0
		for _, p := range ps.Params {
			n := shapeLen(p.Shape)
			for j, v := range g[off : off+n] {
				if a := math.Abs(float64(v)); math.IsNaN(a) || a > maxSquarable {
					return fmt.Errorf("the %s's gradient is not finite (Σg² = %v): first in %s, element %d = %v",
						netTitles[i], s, p.Name, j, v)
				}
			}
			off += n
		}
		return fmt.Errorf("the %s's gradient is not finite (Σg² = %v): its elements are finite, their sum of squares overflows", netTitles[i], s)
	}
	return nil
}

// maxSquarable is about the largest magnitude whose square is a finite float32.
const maxSquarable = 1.8446744e19 // √MaxFloat32

// recoverError turns a panic carrying an error (how backends report device
// failures such as running out of memory) into an error return. Runtime
// errors and other panics are bugs and keep panicking.
func recoverError(err *error) {
	if r := recover(); r != nil {
		e, ok := r.(error)
		if _, bug := r.(runtime.Error); !ok || bug {
			panic(r)
		}
		*err = e
	}
}
