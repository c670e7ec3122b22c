package cpu

import (
	"math"

	"github.com/vaegan-go/vaegan/backend"
)

// The per-channel operations view their tensors as [n, c, s] and cut the c
// channels into blocks, one item per block (chanTask). Each channel's sums
// run over i, then over the s positions, in that order whatever the blocks,
// so the results do not depend on the number of threads.

// chans is what every per-channel job has: the [n, c, s] view, the number
// of channel blocks (items) and k zeroed float64 sums per channel (channel
// j's are sums[j*k:(j+1)*k]).
type chans struct {
	n, c, s, blocks int
	sums            []float64
}

// chanTask sets ch for an [n, c, s] view with k sums per channel and runs
// j, whose chans ch is, over the channel blocks.
func (b *Backend) chanTask(ch *chans, j job, n, c, s, k int) {
	if cap(b.stat) < k*c {
		b.stat = make([]float64, k*c)
	}
	ch.sums = b.stat[:k*c]
	clear(ch.sums)
	ch.n, ch.c, ch.s = n, c, s
	ch.blocks = max(min(c, chunks(n*c*s)), 1)
	b.p.do(ch.blocks, j)
}

// block returns item's channels [j0, j1), and n, c, s.
func (ch *chans) block(item int) (j0, j1, n, c, s int) {
	n, c, s = ch.n, ch.c, ch.s
	return item * c / ch.blocks, (item + 1) * c / ch.blocks, n, c, s
}

// BiasForward adds b[c] to y viewed as [n, c, s].
func (b *Backend) BiasForward(y, bias backend.Tensor, n, c, s int) {
	b.jobs.biasForward = biasForwardJob{bias: data(bias), y: data(y)}
	b.chanTask(&b.jobs.biasForward.chans, &b.jobs.biasForward, n, c, s, 0)
}

type biasForwardJob struct {
	chans
	bias, y []float32
}

func (t *biasForwardJob) run(_, item int) {
	j0, j1, n, c, s := t.block(item)
	for i := 0; i < n; i++ {
		for j := j0; j < j1; j++ {
			v := t.bias[j]
			row := t.y[(i*c+j)*s:][:s]
			for k := range row {
				row[k] += v
			}
		}
	}
}

// BiasBackward accumulates db[c] += Σ_{n,s} dy[n,c,s].
func (b *Backend) BiasBackward(dy, db backend.Tensor, n, c, s int) {
	b.jobs.biasBackward = biasBackwardJob{dy: data(dy), db: data(db)}
	b.chanTask(&b.jobs.biasBackward.chans, &b.jobs.biasBackward, n, c, s, 1)
}

type biasBackwardJob struct {
	chans
	dy, db []float32
}

func (t *biasBackwardJob) run(_, item int) {
	j0, j1, n, c, s := t.block(item)
	sums := t.sums
	for i := 0; i < n; i++ {
		for j := j0; j < j1; j++ {
			acc := sums[j]
			for _, v := range t.dy[(i*c+j)*s:][:s] {
				acc += float64(v)
			}
			sums[j] = acc
		}
	}
	for j := j0; j < j1; j++ {
		t.db[j] += float32(sums[j])
	}
}

// BatchNormTrain normalises x [n, c, s] with its batch statistics and updates
// the running statistics. With a single value per channel the unbiased
// variance is undefined; the biased one (0) is used for the running variance.
func (b *Backend) BatchNormTrain(x, gamma, beta, y, mean, invstd, runMean, runVar backend.Tensor, n, c, s int, momentum, eps float32) {
	b.jobs.bnTrain = bnTrainJob{x: data(x), y: data(y), gamma: data(gamma), beta: data(beta), mean: data(mean),
		invstd: data(invstd), runMean: data(runMean), runVar: data(runVar), momentum: momentum, eps: eps}
	b.chanTask(&b.jobs.bnTrain.chans, &b.jobs.bnTrain, n, c, s, 2)
}

type bnTrainJob struct {
	chans
	x, y, gamma, beta, mean, invstd, runMean, runVar []float32
	momentum, eps                                    float32
}

// run is BatchNormTrain for a block of channels; the sums hold each
// channel's sum and sum of squared deviations.
func (t *bnTrainJob) run(_, item int) {
	j0, j1, n, c, s := t.block(item)
	xs, ys, st := t.x, t.y, t.sums
	gs, bs, ms, is, rm, rv := t.gamma, t.beta, t.mean, t.invstd, t.runMean, t.runVar
	cnt := float64(n * s)
	if s == 1 {
		// One value per channel and row (BatchNorm1d): the same sums, a
		// row at a time.
		for i := 0; i < n; i++ {
			for j, v := range xs[i*c+j0 : i*c+j1] {
				st[2*(j0+j)] += float64(v)
			}
		}
	} else {
		for i := 0; i < n; i++ {
			for j := j0; j < j1; j++ {
				acc := st[2*j]
				for _, v := range xs[(i*c+j)*s:][:s] {
					acc += float64(v)
				}
				st[2*j] = acc
			}
		}
	}
	for j := j0; j < j1; j++ {
		if cnt > 0 {
			st[2*j] /= cnt // the mean
		}
	}
	if s == 1 {
		for i := 0; i < n; i++ {
			for j, v := range xs[i*c+j0 : i*c+j1] {
				d := float64(v) - st[2*(j0+j)]
				st[2*(j0+j)+1] += d * d
			}
		}
	} else {
		for i := 0; i < n; i++ {
			for j := j0; j < j1; j++ {
				mu, acc := st[2*j], st[2*j+1]
				for _, v := range xs[(i*c+j)*s:][:s] {
					d := float64(v) - mu
					acc += d * d
				}
				st[2*j+1] = acc
			}
		}
	}
	m := float64(t.momentum)
	for j := j0; j < j1; j++ {
		mu, sq := st[2*j], st[2*j+1]
		variance, unbiased := 0.0, 0.0
		if cnt > 0 {
			variance = sq / cnt
		}
		if cnt > 1 {
			unbiased = sq / (cnt - 1)
		} else {
			unbiased = variance
		}
		inv := 1 / math.Sqrt(variance+float64(t.eps))
		ms[j], is[j] = float32(mu), float32(inv)
		rm[j] = float32((1-m)*float64(rm[j]) + m*mu)
		rv[j] = float32((1-m)*float64(rv[j]) + m*unbiased)
		scale := inv * float64(gs[j])
		st[2*j], st[2*j+1] = scale, float64(bs[j])-mu*scale
	}
	affine(xs, ys, st, j0, j1, n, c, s)
}

// affine sets y = x*st[2j] + st[2j+1] for the channels j of [j0, j1).
func affine(xs, ys []float32, st []float64, j0, j1, n, c, s int) {
	if s == 1 {
		for i := 0; i < n; i++ {
			dst := ys[i*c+j0 : i*c+j1]
			for j, v := range xs[i*c+j0 : i*c+j1] {
				dst[j] = float32(float64(v)*st[2*(j0+j)] + st[2*(j0+j)+1])
			}
		}
		return
	}
	for i := 0; i < n; i++ {
		for j := j0; j < j1; j++ {
			scale, shift := st[2*j], st[2*j+1]
			o := (i*c + j) * s
			src, dst := xs[o:][:s], ys[o:][:s]
			for k, v := range src {
				dst[k] = float32(float64(v)*scale + shift)
			}
		}
	}
}

// BatchNormEval normalises x [n, c, s] with the running statistics.
func (b *Backend) BatchNormEval(x, gamma, beta, y, runMean, runVar backend.Tensor, n, c, s int, eps float32) {
	b.jobs.bnEval = bnEvalJob{x: data(x), y: data(y), gamma: data(gamma), beta: data(beta),
		runMean: data(runMean), runVar: data(runVar), eps: eps}
	b.chanTask(&b.jobs.bnEval.chans, &b.jobs.bnEval, n, c, s, 2)
}

type bnEvalJob struct {
	chans
	x, y, gamma, beta, runMean, runVar []float32
	eps                                float32
}

func (t *bnEvalJob) run(_, item int) {
	j0, j1, n, c, s := t.block(item)
	gs, bs, rm, rv, st := t.gamma, t.beta, t.runMean, t.runVar, t.sums
	for j := j0; j < j1; j++ {
		scale := float64(gs[j]) / math.Sqrt(float64(rv[j])+float64(t.eps))
		st[2*j], st[2*j+1] = scale, float64(bs[j])-float64(rm[j])*scale
	}
	affine(t.x, t.y, st, j0, j1, n, c, s)
}

// BatchNormBackward sets dx and accumulates dgamma and dbeta for a
// BatchNormTrain forward pass: with x̂ = (x-mean)*invstd and m = n*s,
// dβ = Σdy, dγ = Σdy*x̂, dx = γ*invstd*(dy - dβ/m - x̂*dγ/m).
func (b *Backend) BatchNormBackward(x, dy, gamma, mean, invstd, dx, dgamma, dbeta backend.Tensor, n, c, s int) {
	b.jobs.bnBackward = bnBackwardJob{x: data(x), dy: data(dy), dx: data(dx), gamma: data(gamma), mean: data(mean),
		invstd: data(invstd), dgamma: data(dgamma), dbeta: data(dbeta)}
	b.chanTask(&b.jobs.bnBackward.chans, &b.jobs.bnBackward, n, c, s, 2)
}

type bnBackwardJob struct {
	chans
	x, dy, dx, gamma, mean, invstd, dgamma, dbeta []float32 // dx, dgamma, dbeta may be nil
}

// run is BatchNormBackward for a block of channels; the sums hold each
// channel's Σdy and Σdy*x̂.
func (t *bnBackwardJob) run(_, item int) {
	j0, j1, n, c, s := t.block(item)
	xs, dys, dxs, st := t.x, t.dy, t.dx, t.sums
	gs, ms, is, dgs, dbs := t.gamma, t.mean, t.invstd, t.dgamma, t.dbeta
	cnt := float64(n * s)
	if s == 1 {
		// One value per channel and row (BatchNorm1d): the same sums, a
		// row at a time.
		for i := 0; i < n; i++ {
			x := xs[i*c+j0 : i*c+j1]
			for j, d := range dys[i*c+j0 : i*c+j1][:len(x)] {
				mu, inv := float64(ms[j0+j]), float64(is[j0+j])
				st[2*(j0+j)] += float64(d)
				st[2*(j0+j)+1] += float64(d) * (float64(x[j]) - mu) * inv
			}
		}
	} else {
		for i := 0; i < n; i++ {
			for j := j0; j < j1; j++ {
				mu, inv := float64(ms[j]), float64(is[j])
				sdy, sdyx := st[2*j], st[2*j+1]
				o := (i*c + j) * s
				x := xs[o:][:s]
				for k, d := range dys[o:][:s] {
					sdy += float64(d)
					sdyx += float64(d) * (float64(x[k]) - mu) * inv
				}
				st[2*j], st[2*j+1] = sdy, sdyx
			}
		}
	}
	if dgs != nil {
		for j := j0; j < j1; j++ {
			dgs[j] += float32(st[2*j+1])
			dbs[j] += float32(st[2*j])
		}
	}
	if dxs == nil || cnt == 0 {
		return
	}
	if s == 1 {
		for j := j0; j < j1; j++ {
			st[2*j], st[2*j+1] = st[2*j]/cnt, st[2*j+1]/cnt
		}
		for i := 0; i < n; i++ {
			x, dx := xs[i*c+j0:i*c+j1], dxs[i*c+j0:i*c+j1]
			for j, d := range dys[i*c+j0 : i*c+j1][:len(x)] {
				mu, inv := float64(ms[j0+j]), float64(is[j0+j])
				k0 := float64(gs[j0+j]) * inv
				xh := (float64(x[j]) - mu) * inv
				dx[j] = float32(k0 * (float64(d) - st[2*(j0+j)] - xh*st[2*(j0+j)+1]))
			}
		}
		return
	}
	for i := 0; i < n; i++ {
		for j := j0; j < j1; j++ {
			mu, inv := float64(ms[j]), float64(is[j])
			k0 := float64(gs[j]) * inv
			mdy, mdyx := st[2*j]/cnt, st[2*j+1]/cnt
			o := (i*c + j) * s
			x, dx := xs[o:][:s], dxs[o:][:s]
			for k, d := range dys[o:][:s] {
				xh := (float64(x[k]) - mu) * inv
				dx[k] = float32(k0 * (float64(d) - mdy - xh*mdyx))
			}
		}
	}
}
