package gpu

import (
	"fmt"

	"github.com/vaegan-go/vaegan/backend"
)

// Fill sets every element of t to v.
func (b *Backend) Fill(t backend.Tensor, v float32) {
	b.each("Fill", "fill", t.Len(), ptr(t), t.Len(), v)
}

// Axpy sets y += alpha*x.
func (b *Backend) Axpy(alpha float32, x, y backend.Tensor) {
	b.each("Axpy", "axpy", y.Len(), ptr(y), ptr(x), y.Len(), alpha)
}

// BiasForward adds b[c] to y viewed as [N, C, S].
func (b *Backend) BiasForward(y, bias backend.Tensor, n, c, s int) {
	b.each("BiasForward", "bias_forward", n*c*s, ptr(y), ptr(bias), n, c, s)
}

// BiasBackward accumulates db[c] += Σ_{n,s} dy[n,c,s].
func (b *Backend) BiasBackward(dy, db backend.Tensor, n, c, s int) {
	b.perChannel("BiasBackward", "bias_backward", c, ptr(db), ptr(dy), n, c, s)
}

// BatchNormTrain normalises x with its batch statistics and updates the
// running statistics.
func (b *Backend) BatchNormTrain(x, gamma, beta, y, mean, invstd, runMean, runVar backend.Tensor, n, c, s int, momentum, eps float32) {
	const op = "BatchNormTrain"
	b.perChannel(op, "bn_train_stats", c, ptr(x), ptr(mean), ptr(invstd), ptr(runMean), ptr(runVar), n, c, s, momentum, eps)
	b.each(op, "bn_apply", n*c*s, ptr(y), ptr(x), ptr(mean), ptr(invstd), ptr(gamma), ptr(beta), n, c, s)
}

// BatchNormEval normalises x with the running statistics.
func (b *Backend) BatchNormEval(x, gamma, beta, y, runMean, runVar backend.Tensor, n, c, s int, eps float32) {
	b.each("BatchNormEval", "bn_eval", n*c*s, ptr(y), ptr(x), ptr(runMean), ptr(runVar), ptr(gamma), ptr(beta), n, c, s, eps)
}

// BatchNormBackward sets dx (unless nil) and accumulates dgamma, dbeta
// (unless dgamma is nil).
func (b *Backend) BatchNormBackward(x, dy, gamma, mean, invstd, dx, dgamma, dbeta backend.Tensor, n, c, s int) {
	b.perChannel("BatchNormBackward", "bn_backward", c, ptr(dx), ptr(dgamma), ptr(dbeta),
		ptr(x), ptr(dy), ptr(gamma), ptr(mean), ptr(invstd), n, c, s)
}

// ActForward sets y = f(x).
func (b *Backend) ActForward(f backend.Activation, x, y backend.Tensor, slope float32) {
	const op = "ActForward"
	n := x.Len()
	switch f {
	case backend.ReLU:
		b.each(op, "relu_forward", n, ptr(y), ptr(x), n)
	case backend.LeakyReLU:
		b.each(op, "leaky_relu_forward", n, ptr(y), ptr(x), n, slope)
	case backend.Tanh:
		b.each(op, "tanh_forward", n, ptr(y), ptr(x), n)
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
		b.each(op, "relu_backward", n, ptr(dx), ptr(y), ptr(dy), n)
	case backend.LeakyReLU:
		b.each(op, "leaky_relu_backward", n, ptr(dx), ptr(y), ptr(dy), n, slope)
	case backend.Tanh:
		b.each(op, "tanh_backward", n, ptr(dx), ptr(y), ptr(dy), n)
	default:
		panic(fmt.Sprintf("gpu: ActBackward: unknown activation %d", f))
	}
}

// Normal fills t with backend.NormalAt(seed, offset+i).
func (b *Backend) Normal(t backend.Tensor, seed, offset uint64) {
	b.each("Normal", "normal_fill", t.Len(), ptr(t), t.Len(), seed, offset)
}

// Reparameterize sets eps = NormalAt(seed, offset+i), z = mu + exp(logvar/2)*eps.
func (b *Backend) Reparameterize(mu, logvar, eps, z backend.Tensor, seed, offset uint64) {
	n := mu.Len()
	b.each("Reparameterize", "reparam_forward", n, ptr(z), ptr(eps), ptr(mu), ptr(logvar), n, seed, offset)
}

// ReparameterizeBackward accumulates dmu += dz, dlogvar += dz*eps*exp(logvar/2)/2.
func (b *Backend) ReparameterizeBackward(logvar, eps, dz, dmu, dlogvar backend.Tensor) {
	n := dz.Len()
	b.each("ReparameterizeBackward", "reparam_backward", n, ptr(dmu), ptr(dlogvar), ptr(logvar), ptr(eps), ptr(dz), n)
}

// loss runs a loss's first stage, kernel(partial, args...), over n items in
// a grid fixed by n, then sums its per-block partials into loss times factor.
// The fixed grid and reduction order make the loss reproducible bit for bit.
func (b *Backend) loss(op, kernel string, n int, loss backend.Tensor, factor float32, args ...any) {
	grid := gridFor(n, lossGrid)
	b.launch(op, kernel, grid, Dim3{block, 1, 1}, append([]any{b.partial}, args...)...)
	b.launch(op, "sum_partials", Dim3{1, 1, 1}, Dim3{block, 1, 1}, ptr(loss), b.partial, grid.X, factor)
}

// KL sets loss = scale * -0.5*Σ(1 + logvar - mu² - exp(logvar)) and its
// gradient into dmu, dlogvar when they are not nil.
func (b *Backend) KL(mu, logvar, loss, dmu, dlogvar backend.Tensor, scale float32) {
	n := mu.Len()
	b.loss("KL", "kl_partial", n, loss, -0.5*scale, ptr(dmu), ptr(dlogvar), ptr(mu), ptr(logvar), n, scale)
}

// BCEWithLogits sets loss = scale*Σ bce(logit, target) and its gradient.
func (b *Backend) BCEWithLogits(logits, loss, grad backend.Tensor, target, scale float32) {
	n := logits.Len()
	b.loss("BCEWithLogits", "bce_partial", n, loss, scale, ptr(grad), ptr(logits), n, target, scale)
}

// SoftmaxCE sets loss = scale*Σ_n -log softmax(logits[n])[class] and its
// gradient.
func (b *Backend) SoftmaxCE(logits, loss, grad backend.Tensor, k, class int, scale float32) {
	rows := logits.Len() / k
	b.loss("SoftmaxCE", "softmax_ce_partial", rows, loss, scale, ptr(grad), ptr(logits), rows, k, class, scale)
}

// SquaredError sets loss = scale*0.5*Σ(a-b)² and grad = scale*(a-b).
func (b *Backend) SquaredError(a, bt, loss, grad backend.Tensor, scale float32) {
	n := a.Len()
	b.loss("SquaredError", "sq_partial", n, loss, 0.5*scale, ptr(grad), ptr(a), ptr(bt), n, scale)
}

// SumSquares sets out[0] = Σ x².
func (b *Backend) SumSquares(x, out backend.Tensor) {
	n := x.Len()
	b.loss("SumSquares", "sumsq_partial", n, out, 1, ptr(x), n)
}

// AdamStep updates p, m, v in place as torch.optim.Adam.
func (b *Backend) AdamStep(p, g, m, v backend.Tensor, lr, b1, b2, eps, bc1, bc2 float32) {
	n := p.Len()
	b.each("AdamStep", "adam_step", n, ptr(p), ptr(g), ptr(m), ptr(v), n, lr, b1, b2, eps, bc1, bc2)
}

// RMSPropStep updates p, v in place as torch.optim.RMSprop.
func (b *Backend) RMSPropStep(p, g, v backend.Tensor, lr, alpha, eps float32) {
	n := p.Len()
	b.each("RMSPropStep", "rmsprop_step", n, ptr(p), ptr(g), ptr(v), n, lr, alpha, eps)
}
