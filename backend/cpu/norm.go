package cpu

import (
	"math"

	"github.com/vaegan-go/vaegan/backend"
)

// The per-channel operations view their tensors as [n, c, s] and cut the c
// channels into blocks, one item per block (chanTask). Each channel's sums
// run over i, then over the s positions, in that order whatever the blocks,
// so the results do not depend on the number of threads.

// chanTask runs t with run over the channel blocks of an [n, c, s] view,
// with k zeroed float64 sums per channel in t.e (channel j's are
// t.e[j*k:(j+1)*k]).
func (b *Backend) chanTask(n, c, s, k int, run func(t *task, w, item int), t task) {
	if cap(b.stat) < k*c {
		b.stat = make([]float64, k*c)
	}
	t.e = b.stat[:k*c]
	clear(t.e)
	t.run = run
	t.n = max(min(c, chunks(n*c*s)), 1)
	t.i = [4]int{n, c, s, t.n}
	b.p.do(t)
}

// block returns item's channels [j0, j1), and n, c, s.
func block(t *task, item int) (j0, j1, n, c, s int) {
	n, c, s = t.i[0], t.i[1], t.i[2]
	return item * c / t.i[3], (item + 1) * c / t.i[3], n, c, s
}

// BiasForward adds b[c] to y viewed as [n, c, s].
func (b *Backend) BiasForward(y, bias backend.Tensor, n, c, s int) {
	b.chanTask(n, c, s, 0, biasForwardItem, task{a: data(bias), c: data(y)})
}

func biasForwardItem(t *task, _, item int) {
	j0, j1, n, c, s := block(t, item)
	for i := 0; i < n; i++ {
		for j := j0; j < j1; j++ {
			v := t.a[j]
			row := t.c[(i*c+j)*s:][:s]
			for k := range row {
				row[k] += v
			}
		}
	}
}

// BiasBackward accumulates db[c] += Σ_{n,s} dy[n,c,s].
func (b *Backend) BiasBackward(dy, db backend.Tensor, n, c, s int) {
	b.chanTask(n, c, s, 1, biasBackwardItem, task{a: data(dy), c: data(db)})
}

func biasBackwardItem(t *task, _, item int) {
	j0, j1, n, c, s := block(t, item)
	sums := t.e
	for i := 0; i < n; i++ {
		for j := j0; j < j1; j++ {
			acc := sums[j]
			for _, v := range t.a[(i*c+j)*s:][:s] {
				acc += float64(v)
			}
			sums[j] = acc
		}
	}
	for j := j0; j < j1; j++ {
		t.c[j] += float32(sums[j])
	}
}

// BatchNormTrain normalises x [n, c, s] with its batch statistics and updates
// the running statistics. With a single value per channel the unbiased
// variance is undefined; the biased one (0) is used for the running variance.
func (b *Backend) BatchNormTrain(x, gamma, beta, y, mean, invstd, runMean, runVar backend.Tensor, n, c, s int, momentum, eps float32) {
	b.chanTask(n, c, s, 2, bnTrainItem, task{a: data(x), c: data(y),
		q: [6][]float32{data(gamma), data(beta), data(mean), data(invstd), data(runMean), data(runVar)},
		f: [6]float32{momentum, eps}})
}

// bnTrainItem is BatchNormTrain for a block of channels; t.e holds each
// channel's sum and sum of squared deviations.
func bnTrainItem(t *task, _, item int) {
	j0, j1, n, c, s := block(t, item)
	xs, ys, st := t.a, t.c, t.e
	gs, bs, ms, is, rm, rv := t.q[0], t.q[1], t.q[2], t.q[3], t.q[4], t.q[5]
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
	m := float64(t.f[0])
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
		inv := 1 / math.Sqrt(variance+float64(t.f[1]))
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
	b.chanTask(n, c, s, 2, bnEvalItem, task{a: data(x), c: data(y),
		q: [6][]float32{data(gamma), data(beta), data(runMean), data(runVar)}, f: [6]float32{eps}})
}

func bnEvalItem(t *task, _, item int) {
	j0, j1, n, c, s := block(t, item)
	gs, bs, rm, rv, st := t.q[0], t.q[1], t.q[2], t.q[3], t.e
	for j := j0; j < j1; j++ {
		scale := float64(gs[j]) / math.Sqrt(float64(rv[j])+float64(t.f[0]))
		st[2*j], st[2*j+1] = scale, float64(bs[j])-float64(rm[j])*scale
	}
	affine(t.a, t.c, st, j0, j1, n, c, s)
}

// BatchNormBackward sets dx and accumulates dgamma and dbeta for a
// BatchNormTrain forward pass: with x̂ = (x-mean)*invstd and m = n*s,
// dβ = Σdy, dγ = Σdy*x̂, dx = γ*invstd*(dy - dβ/m - x̂*dγ/m).
func (b *Backend) BatchNormBackward(x, dy, gamma, mean, invstd, dx, dgamma, dbeta backend.Tensor, n, c, s int) {
	b.chanTask(n, c, s, 2, bnBackwardItem, task{a: data(x), b: data(dy), c: data(dx),
		q: [6][]float32{data(gamma), data(mean), data(invstd), data(dgamma), data(dbeta)}})
}

// bnBackwardItem is BatchNormBackward for a block of channels; t.e holds
// each channel's Σdy and Σdy*x̂.
func bnBackwardItem(t *task, _, item int) {
	j0, j1, n, c, s := block(t, item)
	xs, dys, dxs, st := t.a, t.b, t.c, t.e
	gs, ms, is, dgs, dbs := t.q[0], t.q[1], t.q[2], t.q[3], t.q[4]
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
