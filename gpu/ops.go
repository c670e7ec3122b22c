package gpu

import (
	"fmt"

	"github.com/vaegan-go/vaegan/backend"
)

// Fill sets every element of t to v.
func (b *Backend) Fill(t backend.Tensor, v float32) {
	b.each("Fill", "fill", t.Len(), dev(t), Int(t.Len()), F32(v))
}

// Axpy sets y += alpha*x.
func (b *Backend) Axpy(alpha float32, x, y backend.Tensor) {
	b.each("Axpy", "axpy", y.Len(), dev(y), dev(x), Int(y.Len()), F32(alpha))
}

// BiasForward adds b[c] to y viewed as [N, C, S].
func (b *Backend) BiasForward(y, bias backend.Tensor, n, c, s int) {
	b.eachXYZ("BiasForward", "bias_forward", c*s, n, 1, dev(y), dev(bias), Int(n), Int(c), Int(s))
}

// BiasBackward accumulates db[c] += Σ_{n,s} dy[n,c,s].
func (b *Backend) BiasBackward(dy, db backend.Tensor, n, c, s int) {
	const op = "BiasBackward"
	k := chunksFor(n * s)
	part, count := b.chunkScratch(op, c*k, c)
	b.perChunk(op, "bias_backward", c, k, dev(db), Ptr(part), Ptr(count), dev(dy), Int(n), Int(c), Int(s), Int(k))
}

// BatchNormTrain normalises x with its batch statistics and updates the
// running statistics.
func (b *Backend) BatchNormTrain(x, gamma, beta, y, mean, invstd, runMean, runVar backend.Tensor, n, c, s int, momentum, eps float32) {
	const op = "BatchNormTrain"
	k := chunksFor(n * s)
	part, count := b.chunkScratch(op, 2*c*k, c)
	b.perChunk(op, "bn_train_stats", c, k, dev(mean), dev(invstd), dev(runMean), dev(runVar), Ptr(part), Ptr(count), dev(x),
		Int(n), Int(c), Int(s), Int(k), F32(momentum), F32(eps))
	b.eachXYZ(op, "bn_apply", c*s, n, 1, dev(y), dev(x), dev(mean), dev(invstd), dev(gamma), dev(beta), Int(n), Int(c), Int(s))
}

// BatchNormEval normalises x with the running statistics.
func (b *Backend) BatchNormEval(x, gamma, beta, y, runMean, runVar backend.Tensor, n, c, s int, eps float32) {
	b.eachXYZ("BatchNormEval", "bn_eval", c*s, n, 1, dev(y), dev(x), dev(runMean), dev(runVar), dev(gamma), dev(beta), Int(n), Int(c), Int(s), F32(eps))
}

// BatchNormBackward sets dx (unless nil) and accumulates dgamma, dbeta
// (unless dgamma is nil).
func (b *Backend) BatchNormBackward(x, dy, gamma, mean, invstd, dx, dgamma, dbeta backend.Tensor, n, c, s int) {
	const op = "BatchNormBackward"
	k := chunksFor(n * s)
	part, _ := b.chunkScratch(op, 2*c*k, 0)
	b.perChunk(op, "bn_backward_part", c, k, Ptr(part), dev(x), dev(dy), dev(mean), dev(invstd), Int(n), Int(c), Int(s), Int(k))
	b.perChunk(op, "bn_backward_apply", c, k, dev(dx), dev(dgamma), dev(dbeta), dev(x), dev(dy), dev(gamma),
		dev(mean), dev(invstd), Ptr(part), Int(n), Int(c), Int(s), Int(k))
}

// ActForward sets y = f(x).
func (b *Backend) ActForward(f backend.Activation, x, y backend.Tensor, slope float32) {
	const op = "ActForward"
	n := x.Len()
	switch f {
	case backend.ReLU:
		b.each(op, "relu_forward", n, dev(y), dev(x), Int(n))
	case backend.LeakyReLU:
		b.each(op, "leaky_relu_forward", n, dev(y), dev(x), Int(n), F32(slope))
	case backend.Tanh:
		b.each(op, "tanh_forward", n, dev(y), dev(x), Int(n))
	default:
		panic(fmt.Sprintf("gpu: ActForward: unknown activation %d", f))
	}
}

// ActBackward sets dx = f'·dy from the forward output y.
func (b *Backend) ActBackward(f backend.Activation, y, dy, dx backend.Tensor, slope float32) {
	const op = "ActBackward"
	n := y.Len()
	switch f {
	case backend.ReLU:
		b.each(op, "relu_backward", n, dev(dx), dev(y), dev(dy), Int(n))
	case backend.LeakyReLU:
		b.each(op, "leaky_relu_backward", n, dev(dx), dev(y), dev(dy), Int(n), F32(slope))
	case backend.Tanh:
		b.each(op, "tanh_backward", n, dev(dx), dev(y), dev(dy), Int(n))
	default:
		panic(fmt.Sprintf("gpu: ActBackward: unknown activation %d", f))
	}
}

// Normal fills t with backend.NormalAt(seed, c+i), c the counter's value
// (read by the kernel).
func (b *Backend) Normal(t backend.Tensor, seed uint64, counter backend.Tensor) {
	b.each("Normal", "normal_fill", t.Len(), dev(t), Int(t.Len()), U64(seed), dev(counter))
}

// Reparameterize sets eps = NormalAt(seed, c+i), z = mu + exp(logvar/2)*eps.
func (b *Backend) Reparameterize(mu, logvar, eps, z backend.Tensor, seed uint64, counter backend.Tensor) {
	n := mu.Len()
	b.each("Reparameterize", "reparam_forward", n, dev(z), dev(eps), dev(mu), dev(logvar), Int(n), U64(seed), dev(counter))
}

// ReparameterizeBackward accumulates dmu += dz, dlogvar += dz*eps*exp(logvar/2)/2.
func (b *Backend) ReparameterizeBackward(logvar, eps, dz, dmu, dlogvar backend.Tensor) {
	n := dz.Len()
	b.each("ReparameterizeBackward", "reparam_backward", n, dev(dmu), dev(dlogvar), dev(logvar), dev(eps), dev(dz), Int(n))
}

// loss runs a loss's first stage, kernel(partial, args...), over n items in
// a grid fixed by n, then sums its per-block partials into loss times factor.
// The fixed grid and reduction order make the loss reproducible bit for bit.
func (b *Backend) loss(op, kernel string, n int, loss backend.Tensor, factor float32, args ...Arg) {
	grid := gridFor(n, lossGrid)
	b.args = append(append(b.args[:0], Ptr(b.partial)), args...)
	b.launchArgs(op, kernel, grid, Dim3{block, 1, 1})
	b.launch(op, "sum_partials", Dim3{1, 1, 1}, Dim3{block, 1, 1}, dev(loss), Ptr(b.partial), Int(grid.X), F32(factor))
}

// KL sets loss = scale * -0.5*Σ(1 + logvar - mu² - exp(logvar)) and its
// gradient into dmu, dlogvar when they are not nil.
func (b *Backend) KL(mu, logvar, loss, dmu, dlogvar backend.Tensor, scale float32) {
	n := mu.Len()
	b.loss("KL", "kl_partial", n, loss, -0.5*scale, dev(dmu), dev(dlogvar), dev(mu), dev(logvar), Int(n), F32(scale))
}

// BCEWithLogits sets loss = scale*Σ bce(logit, target) and its gradient.
func (b *Backend) BCEWithLogits(logits, loss, grad backend.Tensor, target, scale float32) {
	n := logits.Len()
	b.loss("BCEWithLogits", "bce_partial", n, loss, scale, dev(grad), dev(logits), Int(n), F32(target), F32(scale))
}

// SoftmaxCE sets loss = scale*Σ_n -log softmax(logits[n])[class] and its
// gradient.
func (b *Backend) SoftmaxCE(logits, loss, grad backend.Tensor, k, class int, scale float32) {
	rows := logits.Len() / k
	b.loss("SoftmaxCE", "softmax_ce_partial", rows, loss, scale, dev(grad), dev(logits), Int(rows), Int(k), Int(class), F32(scale))
}

// SquaredError sets loss = scale*0.5*Σ(a-b)² and grad = scale*(a-b).
func (b *Backend) SquaredError(a, bt, loss, grad backend.Tensor, scale float32) {
	n := a.Len()
	b.loss("SquaredError", "sq_partial", n, loss, 0.5*scale, dev(grad), dev(a), dev(bt), Int(n), F32(scale))
}

// SumSquares sets out[0] = Σ x².
func (b *Backend) SumSquares(x, out backend.Tensor) {
	n := x.Len()
	b.loss("SumSquares", "sumsq_partial", n, out, 1, dev(x), Int(n))
}

// Decide writes the step's flags by d (backend.Decision.Judge) in one
// thread, on the device.
func (b *Backend) Decide(l, flags backend.Tensor, d backend.Decision) {
	if l.Len() < d.Checked || flags.Len() < 3 {
		panic(fmt.Sprintf("gpu: Decide over %d values (%d checked) into %d flags", l.Len(), d.Checked, flags.Len()))
	}
	b.launch("Decide", "decide", Dim3{1, 1, 1}, Dim3{1, 1, 1}, dev(flags), dev(l), Int(d.Checked), Int(boolInt(d.Equilibrium)),
		Int(d.Real), Int(d.Rec), Int(d.Gen), F32(d.Low), F32(d.High))
}

// boolInt is 1 for true, 0 for false.
func boolInt(v bool) int {
	if v {
		return 1
	}
	return 0
}

// Restore sets dst = saved when ok[0] is 0.
func (b *Backend) Restore(dst, saved, ok backend.Tensor) {
	n := dst.Len()
	b.each("Restore", "restore", n, dev(dst), dev(saved), dev(ok), Int(n))
}

// AdamStep updates p, m, v in place as torch.optim.Adam, unless on holds 0.
func (b *Backend) AdamStep(p, g, m, v, on, bc backend.Tensor, lr, b1, b2, eps float32) {
	n := p.Len()
	b.each("AdamStep", "adam_step", n, dev(p), dev(g), dev(m), dev(v), dev(on), dev(bc), Int(n), F32(lr), F32(b1), F32(b2), F32(eps))
}

// RMSPropStep updates p, v in place as torch.optim.RMSprop, unless on holds 0.
func (b *Backend) RMSPropStep(p, g, v, on backend.Tensor, lr, alpha, eps float32) {
	n := p.Len()
	b.each("RMSPropStep", "rmsprop_step", n, dev(p), dev(g), dev(v), dev(on), Int(n), F32(lr), F32(alpha), F32(eps))
}

// Average sets avg += (1-decay)*(w-avg), unless on holds 0.
func (b *Backend) Average(avg, w, on backend.Tensor, decay float32) {
	n := avg.Len()
	b.each("Average", "average", n, dev(avg), dev(w), dev(on), Int(n), F32(decay))
}
