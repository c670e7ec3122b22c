package model

import (
	"errors"
	"fmt"
	"runtime"

	"github.com/vaegan-go/vaegan/backend"
	"github.com/vaegan-go/vaegan/comm"
)

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

// Slots after the losses in the losses tensor, downloaded with them: Σg² of
// each network's gradient (encoder, decoder, discriminator), then the
// step's flags that Decide writes (all finite; update the decoder; update
// the discriminator).
const (
	gradSumSq = numLosses
	flagOK    = numLosses + 3
	flagDec   = flagOK + 1
	flagDis   = flagOK + 2
	numSlots  = flagOK + 3
)

// The step's scalars that change from step to step, which its kernels read
// from device memory (the scalars tensor, uploaded before the step) rather
// than take as arguments, so that a recorded step can be replayed: the
// Philox counters of eps and z_p, and each network's Adam bias corrections.
const (
	scalarEps  = 0
	scalarZp   = scalarEps + backend.CounterLen
	scalarBC   = scalarZp + backend.CounterLen // [bc1, bc2] of the encoder, decoder, discriminator
	numScalars = scalarBC + 3*2
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
	Cfg  Config // the configuration, with the architecture's γ, β and initialization where it left them 0 or ""
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

	// The group this trainer is one rank of (comm.Single alone): it holds
	// batch = Cfg.Batch/Size images of each step's global batch.
	comm           comm.Comm
	batch          int
	reduced        []float32          // host buffer of the step's all-reduce (distributed.go)
	onDevice       backend.AllReducer // the step's all-reduce in device memory (ReduceOnDevice); nil: through reduced
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
	losses     backend.Tensor // numLosses losses, then each network's Σg², then the flags (numSlots)
	lossesHost []float32
	scalars    backend.Tensor // the step's scalars (numScalars)
	scalarsOf  []float32      // their host copy
	epsCounter backend.Tensor // views of the noise counters in scalars
	zpCounter  backend.Tensor
	gradSq     [3]backend.Tensor // views of the Σg² slots
	flags      backend.Tensor    // view of the flag slots
	updates    [3]backend.Tensor // each network's update flag: views of flagOK, flagDec, flagDis
	decision   backend.Decision
	statsSaved [3]backend.Tensor // each network's running statistics before the step

	// Views made once, so that a step makes none: each loss, and the B-row
	// groups (real, reconstructed, generated) of the discriminator's tensors
	// (of dDisDec: its fake groups).
	loss                                     [numLosses]backend.Tensor
	logits, gDis, gAdvG, tap, dTap, dDisDecG []backend.Tensor
	fakeRows, recRows                        rowsOf // of the discriminator's pass

	// The recorded step (gradients and updates) that later steps replay;
	// nil: none yet, or the backend does not record (eager).
	rec     backend.Recording
	recWith recordedWith
	warm    bool // a step has run op by op: the scratch memory is sized
	eager   bool // the backend does not record

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

// NewTrainer allocates everything a run of cfg needs on b and initialises the
// parameters by cfg.Init (the architecture's default when empty) with
// cfg.Seed. An allocation that fails (out of device memory) is returned as
// an error. The trainer's memory, and the CUDA graph its steps record, live
// as long as b's: on a GPU, closing b's driver frees them (one driver per
// trainer, for several trainers one after another in a process).
func NewTrainer(b backend.Backend, cfg Config) (*Trainer, error) {
	return NewDistributedTrainer(b, cfg, comm.Single{})
}

// NewDistributedTrainer is NewTrainer for one rank of group c: each step
// takes this rank's cfg.Batch/c.Size() images of the global batch of
// cfg.Batch (distributed.go says what the ranks share).
func NewDistributedTrainer(b backend.Backend, cfg Config, c comm.Comm) (t *Trainer, err error) {
	if err := cfg.Check(); err != nil {
		return nil, err
	}
	if n := c.Size(); cfg.Batch%n != 0 || cfg.Batch/n < 2 {
		return nil, &ConfigError{"Batch", fmt.Sprint(cfg.Batch),
			fmt.Sprintf("want a multiple of the %d ranks with at least 2 images per rank (BatchNorm needs more than one sample)", n)}
	}
	defer recoverError(&err)
	a, _ := LookupArch(cfg.Arch)
	// The architecture's defaults are written into the configuration, so
	// that a checkpoint holds the values the run used.
	if cfg.Gamma == 0 {
		cfg.Gamma = a.Defaults.Gamma
	}
	if cfg.Beta == 0 {
		cfg.Beta = a.Defaults.Beta
	}
	if cfg.Init == "" {
		cfg.Init = a.Defaults.Init
	}
	classes := 1
	if cfg.Model == VAEGAN3 {
		classes = 3
	}
	t = &Trainer{Cfg: cfg, Arch: a, B: b, Nets: newNets(a, classes), Gamma: cfg.Gamma, Beta: cfg.Beta,
		NoiseSeed: cfg.Seed + 1, comm: c, batch: cfg.Batch / c.Size(),
		hasEnc: cfg.Model != GAN, hasDis: cfg.Model != VAE}
	if cfg.SyncBN && c.Size() > 1 {
		t.Nets.syncBatchNorm(c)
	}
	n, batch, L := t.Nets, t.batch, a.Latent
	rows := batch // images the discriminator sees per step
	switch cfg.Model {
	case VAEGAN, VAEGAN3:
		rows = 3 * batch
	case GAN:
		rows = 2 * batch
	}
	t.disIn = b.New(rows, a.C, a.H, a.W)
	t.x = t.disIn.Rows(0, batch)
	t.zp = b.New(batch, L)
	if t.hasEnc {
		n.Enc.alloc(b)
		t.enc = n.bindEncoder(b, batch, a)
		t.eps, t.z, t.dz = b.New(batch, L), b.New(batch, L), b.New(batch, L)
	}
	n.Dec.alloc(b)
	switch cfg.Model {
	case VAE:
		t.decRec = n.dec.bind(b, []int{batch, L}, backend.Tensor{})
		t.xRec = t.decRec.out()
	case GAN:
		t.decGen = n.dec.bind(b, []int{batch, L}, t.disIn.Rows(batch, 2*batch))
	default:
		t.xRec = t.disIn.Rows(batch, 2*batch)
		t.decRec = n.dec.bind(b, []int{batch, L}, t.xRec)
		t.decGen = n.dec.bind(b, []int{batch, L}, t.disIn.Rows(2*batch, 3*batch))
	}
	if t.hasDis {
		n.Dis.alloc(b)
		t.dis = n.dis.bind(b, t.disIn.Shape, backend.Tensor{})
		t.gAdv = b.New(rows, classes)
		img := t.disIn.Shape[1:]
		t.dDisDec = b.New(append([]int{rows - batch}, img...)...)
		if cfg.Model != GAN {
			t.dDisEnc = b.New(append([]int{batch}, img...)...)
			t.gLike = b.New(t.dis.slots[n.disTap].y.Rows(0, batch).Shape...)
		}
	}
	t.losses = b.New(numSlots)
	t.scalars, t.scalarsOf = b.New(numScalars), make([]float32, numScalars)
	t.epsCounter = t.scalars.Rows(scalarEps, scalarEps+backend.CounterLen)
	t.zpCounter = t.scalars.Rows(scalarZp, scalarZp+backend.CounterLen)
	t.lossesHost = make([]float32, numSlots)
	for i := range t.loss {
		t.loss[i] = t.losses.Rows(i, i+1)
	}
	t.flags = t.losses.Rows(flagOK, numSlots)
	for i, slot := range []int{flagOK, flagDec, flagDis} {
		t.updates[i] = t.losses.Rows(slot, slot+1)
	}
	t.decision = t.decisionRule()
	if t.hasDis {
		groups := rows / batch
		tapOut := t.dis.slots[n.disTap]
		t.logits, t.gDis = split(t.dis.out(), groups), split(t.dis.dout(), groups)
		t.gAdvG, t.dDisDecG = split(t.gAdv, groups), split(t.dDisDec, groups-1)
		t.tap, t.dTap = split(tapOut.y, groups), split(tapOut.dy, groups)
		t.fakeRows, t.recRows = t.dis.rows(t.disIn, batch, rows), t.dis.rows(t.disIn, batch, 2*batch)
	}
	for i, ps := range t.nets() {
		if ps == nil {
			continue
		}
		t.opt[i] = newOptimizer(b, cfg.Optim, ps.Size(), ps == &t.Nets.Dec, t.scalars.Rows(scalarBC+2*i, scalarBC+2*i+2))
		t.gradSq[i] = t.losses.Rows(gradSumSq+i, gradSumSq+i+1)
		if !ps.S.IsNil() {
			t.statsSaved[i] = b.New(ps.S.Len())
		}
	}
	if cfg.EMA > 0 {
		t.ema = newWeightAverage(b, cfg.EMA, n.Dec.W)
	}
	t.allocReduce()
	rule, _ := InitRuleOf(cfg.Init, cfg.Seed)
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
// [-1, 1], NCHW; of a distributed trainer, this rank's rows of the global
// batch). When a loss is NaN or infinite, or a network's gradient
// is not finite (checked by one reduction per network, before any
// optimizer sees it), it returns an error naming the step, and the
// trainer's state (weights, optimizer moments, running statistics,
// counters) is as it was before the call.
func (t *Trainer) Step(x []float32) (r Result, err error) {
	if len(x) != t.x.Len() {
		return r, fmt.Errorf("batch holds %d floats, want %d (%d images of %d×%d×%d)",
			len(x), t.x.Len(), t.batch, t.Arch.C, t.Arch.H, t.Arch.W)
	}
	defer recoverError(&err)
	noise := t.Noise
	t.prepare(x)
	if t.comm.Size() == 1 {
		t.queue()
		return t.finish(noise, nil)
	}
	t.gradients()
	if err := t.allReduce(); err != nil {
		return t.finish(noise, err)
	}
	t.update()
	return t.finish(noise, nil)
}

// queue queues this process's step, its gradients and updates. On a backend
// that records (the CUDA backend: CUDA graphs) the second step records them
// and later steps replay the recording: one driver call instead of
// hundreds. The first step runs op by op and sizes the scratch memory the
// recording then uses. A recording goes stale when memory it uses is freed
// (an evaluation pass may grow the scratch memory) or when γ or β, which it
// holds as arguments, change: that step runs op by op, and the next
// records again.
func (t *Trainer) queue() {
	now := recordedWith{t.Gamma, t.Beta}
	if t.rec != nil {
		if t.recWith == now {
			err := t.rec.Replay()
			if err == nil {
				return
			}
			if !errors.Is(err, backend.ErrStale) {
				panic(err)
			}
		}
		t.rec.Free()
		t.rec = nil
	} else if r, ok := t.B.(backend.Recorder); ok && t.warm && !t.eager {
		rec, err := r.Record(t.ops)
		switch {
		case err == nil:
			t.rec, t.recWith = rec, now
			if err := rec.Replay(); err != nil {
				panic(err)
			}
			return
		case errors.Is(err, backend.ErrNoRecording):
			t.eager = true
		default:
			panic(err)
		}
	}
	t.ops()
	t.warm = true
}

// recordedWith are the values a recording of the step holds that a user of
// the Trainer may change between steps.
type recordedWith struct{ gamma, beta float64 }

// ops queues the step's gradients and updates op by op.
func (t *Trainer) ops() {
	t.gradients()
	t.update()
}

// prepare uploads the batch x and the step's scalars: the noise counters
// of eps and z_p (drawn in that order, advancing t.Noise) and each
// optimizer's bias corrections.
func (t *Trainer) prepare(x []float32) {
	s := t.scalarsOf
	if t.hasEnc {
		backend.PutCounter(s[scalarEps:], t.drawNoise(t.eps.Len()))
	}
	if t.Cfg.Model != VAE {
		backend.PutCounter(s[scalarZp:], t.drawNoise(t.zp.Len()))
	}
	for i, o := range t.opt {
		if o != nil {
			o.corrections(s[scalarBC+2*i : scalarBC+2*i+2])
		}
	}
	t.B.Upload(t.scalars, s)
	t.B.Upload(t.x, x)
}

// gradients saves the running statistics and computes this rank's losses
// and gradients of the batch in t.x.
func (t *Trainer) gradients() {
	b := t.B
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
}

// update decides the step on the device from the (all-reduced) losses and
// gradients and queues the updates, which the device makes only where the
// decision lets them (Decide): no finite check and no equilibrium rule
// waits for the host. A step stopped on the device (a non-finite loss or
// gradient) leaves its weights and moments untouched and restores its
// running statistics.
func (t *Trainer) update() {
	b := t.B
	for i, ps := range t.nets() {
		if ps != nil {
			b.SumSquares(ps.G, t.gradSq[i])
		}
	}
	b.Decide(t.losses, t.flags, t.decision)
	for i, ps := range t.nets() {
		if ps == nil {
			continue
		}
		t.opt[i].step(b, ps, t.updates[i])
		if !ps.S.IsNil() {
			b.Restore(ps.S, t.statsSaved[i], t.updates[0])
		}
	}
	if t.ema != nil {
		t.ema.update(b, t.Nets.Dec.W, t.updates[1])
	}
}

// finish downloads the losses and flags, the step's one synchronization,
// and counts the updates the device made. For a step stopped on the device
// it restores the noise counter (noise) and returns an error naming the
// culprit. An error of the all-reduce (err) stops the step before its
// updates were queued.
func (t *Trainer) finish(noise uint64, err error) (Result, error) {
	t.B.Download(t.lossesHost, t.losses)
	if err != nil {
		clear(t.lossesHost[flagOK:]) // no Decide ran: the flags are the last step's
		t.restoreStats()
		return t.stopped(noise, t.result(), err)
	}
	r := t.result()
	if t.lossesHost[flagOK] == 0 {
		err = r.check(t.Cfg.Model)
		if err == nil {
			err = t.checkGradients()
		}
		return t.stopped(noise, r, err)
	}
	for i, o := range t.opt {
		if o != nil && t.lossesHost[flagOK+i] != 0 {
			o.applied()
		}
	}
	t.Steps++
	return r, nil
}

// stopped ends a step that must leave no trace: it restores the noise
// counter and returns err (the reason) with the step's number.
func (t *Trainer) stopped(noise uint64, r Result, err error) (Result, error) {
	t.Noise = noise
	if err == nil { // the device found what the host's checks do not see
		err = fmt.Errorf("the device's check found a loss or gradient that is not finite")
	}
	return r, fmt.Errorf("step %d: %w", t.Steps+1, err)
}

// restoreStats puts back the running statistics saved before the step.
func (t *Trainer) restoreStats() {
	for i, ps := range t.nets() {
		if ps != nil && !ps.S.IsNil() {
			t.B.Copy(ps.S, t.statsSaved[i])
		}
	}
}

// encode runs the encoder on x and samples z by the reparameterization
// trick, drawing eps from the noise stream.
func (t *Trainer) encode() {
	e := t.enc
	e.forward(t.B, t.Nets, t.x, true)
	t.B.Reparameterize(e.mu.y, e.logvar.y, t.eps, t.z, t.NoiseSeed, t.epsCounter)
}

// klLoss writes the KL loss and overwrites the heads' gradients with it.
func (t *Trainer) klLoss() {
	e := t.enc
	t.B.KL(e.mu.y, e.logvar.y, t.loss[lossKL], e.mu.dy, e.logvar.dy, 1/float32(t.batch))
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
	t.B.Normal(t.zp, t.NoiseSeed, t.zpCounter)
}

// decisionRule is how Decide judges this trainer's steps: every loss and
// Σg² finite, and the equilibrium rule when the model and configuration
// have it.
func (t *Trainer) decisionRule() backend.Decision {
	d := backend.Decision{Checked: flagOK, Real: lossDisReal, Rec: lossDisRec, Gen: lossDisGen}
	if t.Cfg.Model == GAN {
		d.Rec = -1
	}
	if t.hasDis && t.hasEnc && !t.Cfg.NoEquilibrium {
		margin := t.Cfg.Margin
		if margin == 0 {
			margin = defaultMargin
		}
		d.Equilibrium, d.Low, d.High = true, float32(equilibrium-margin), float32(equilibrium+margin)
	}
	return d
}

// result reads the downloaded losses and the update flags.
func (t *Trainer) result() Result {
	l := func(i int) float64 { return float64(t.lossesHost[i]) }
	r := Result{UpdateDis: l(flagDis) != 0, UpdateDec: l(flagDec) != 0}
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
	return r
}

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
