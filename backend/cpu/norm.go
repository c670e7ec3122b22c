package cpu

import (
	"math"

	"github.com/vaegan-go/vaegan/backend"
)

// BiasForward adds b[c] to y viewed as [n, c, s].
func (b *Backend) BiasForward(y, bias backend.Tensor, n, c, s int) {
	ys, bs := data(y), data(bias)
	for i := 0; i < n; i++ {
		for j := 0; j < c; j++ {
			v := bs[j]
			row := ys[(i*c+j)*s:][:s]
			for k := range row {
				row[k] += v
			}
		}
	}
}

// BiasBackward accumulates db[c] += Σ_{n,s} dy[n,c,s].
func (b *Backend) BiasBackward(dy, db backend.Tensor, n, c, s int) {
	ds, dbs := data(dy), data(db)
	for j := 0; j < c; j++ {
		var sum float64
		for i := 0; i < n; i++ {
			for _, v := range ds[(i*c+j)*s:][:s] {
				sum += float64(v)
			}
		}
		dbs[j] += float32(sum)
	}
}

// BatchNormTrain normalises x [n, c, s] with its batch statistics and updates
// the running statistics. With a single value per channel the unbiased
// variance is undefined; the biased one (0) is used for the running variance.
func (b *Backend) BatchNormTrain(x, gamma, beta, y, mean, invstd, runMean, runVar backend.Tensor, n, c, s int, momentum, eps float32) {
	xs, ys := data(x), data(y)
	gs, bs := data(gamma), data(beta)
	ms, is := data(mean), data(invstd)
	rm, rv := data(runMean), data(runVar)
	cnt := float64(n * s)
	for j := 0; j < c; j++ {
		var sum float64
		for i := 0; i < n; i++ {
			for _, v := range xs[(i*c+j)*s:][:s] {
				sum += float64(v)
			}
		}
		mu := 0.0
		if cnt > 0 {
			mu = sum / cnt
		}
		var sq float64
		for i := 0; i < n; i++ {
			for _, v := range xs[(i*c+j)*s:][:s] {
				d := float64(v) - mu
				sq += d * d
			}
		}
		variance, unbiased := 0.0, 0.0
		if cnt > 0 {
			variance = sq / cnt
		}
		if cnt > 1 {
			unbiased = sq / (cnt - 1)
		} else {
			unbiased = variance
		}
		inv := 1 / math.Sqrt(variance+float64(eps))
		ms[j], is[j] = float32(mu), float32(inv)
		m := float64(momentum)
		rm[j] = float32((1-m)*float64(rm[j]) + m*mu)
		rv[j] = float32((1-m)*float64(rv[j]) + m*unbiased)
		scale := inv * float64(gs[j])
		shift := float64(bs[j]) - mu*scale
		for i := 0; i < n; i++ {
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
	xs, ys := data(x), data(y)
	gs, bs := data(gamma), data(beta)
	rm, rv := data(runMean), data(runVar)
	for j := 0; j < c; j++ {
		scale := float64(gs[j]) / math.Sqrt(float64(rv[j])+float64(eps))
		shift := float64(bs[j]) - float64(rm[j])*scale
		for i := 0; i < n; i++ {
			o := (i*c + j) * s
			src, dst := xs[o:][:s], ys[o:][:s]
			for k, v := range src {
				dst[k] = float32(float64(v)*scale + shift)
			}
		}
	}
}

// BatchNormBackward sets dx and accumulates dgamma and dbeta for a
// BatchNormTrain forward pass: with x̂ = (x-mean)*invstd and m = n*s,
// dβ = Σdy, dγ = Σdy*x̂, dx = γ*invstd*(dy - dβ/m - x̂*dγ/m).
func (b *Backend) BatchNormBackward(x, dy, gamma, mean, invstd, dx, dgamma, dbeta backend.Tensor, n, c, s int) {
	xs, dys := data(x), data(dy)
	gs, ms, is := data(gamma), data(mean), data(invstd)
	dxs, dgs, dbs := data(dx), data(dgamma), data(dbeta)
	cnt := float64(n * s)
	for j := 0; j < c; j++ {
		mu, inv := float64(ms[j]), float64(is[j])
		var sdy, sdyx float64
		for i := 0; i < n; i++ {
			o := (i*c + j) * s
			for k, d := range dys[o:][:s] {
				sdy += float64(d)
				sdyx += float64(d) * (float64(xs[o+k]) - mu) * inv
			}
		}
		if dgs != nil {
			dgs[j] += float32(sdyx)
			dbs[j] += float32(sdy)
		}
		if dxs == nil || cnt == 0 {
			continue
		}
		k0 := float64(gs[j]) * inv
		mdy, mdyx := sdy/cnt, sdyx/cnt
		for i := 0; i < n; i++ {
			o := (i*c + j) * s
			for k, d := range dys[o:][:s] {
				xh := (float64(xs[o+k]) - mu) * inv
				dxs[o+k] = float32(k0 * (float64(d) - mdy - xh*mdyx))
			}
		}
	}
}
