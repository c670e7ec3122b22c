package cpu

import (
	"math"

	"github.com/vaegan-go/vaegan/backend"
)

// ActForward sets y = f(x) elementwise.
func (b *Backend) ActForward(f backend.Activation, x, y backend.Tensor, slope float32) {
	xs, ys := data(x), data(y)
	ys = ys[:len(xs)]
	switch f {
	case backend.ReLU:
		for i, v := range xs {
			ys[i] = max(v, 0)
		}
	case backend.LeakyReLU:
		for i, v := range xs {
			if v <= 0 {
				v *= slope
			}
			ys[i] = v
		}
	case backend.Tanh:
		for i, v := range xs {
			ys[i] = float32(math.Tanh(float64(v)))
		}
	default:
		panic("cpu: unknown activation")
	}
}

// ActBackward sets dx = f'(x)*dy from the forward output y.
func (b *Backend) ActBackward(f backend.Activation, y, dy, dx backend.Tensor, slope float32) {
	ys, dys, dxs := data(y), data(dy), data(dx)
	dys, dxs = dys[:len(ys)], dxs[:len(ys)]
	switch f {
	case backend.ReLU:
		for i, v := range ys {
			if v > 0 {
				dxs[i] = dys[i]
			} else {
				dxs[i] = 0
			}
		}
	case backend.LeakyReLU:
		for i, v := range ys {
			if v > 0 {
				dxs[i] = dys[i]
			} else {
				dxs[i] = slope * dys[i]
			}
		}
	case backend.Tanh:
		for i, v := range ys {
			dxs[i] = dys[i] * (1 - v*v)
		}
	default:
		panic("cpu: unknown activation")
	}
}

// Normal sets t[i] = NormalAt(seed, offset+i).
func (b *Backend) Normal(t backend.Tensor, seed, offset uint64) {
	d := data(t)
	for i := range d {
		d[i] = backend.NormalAt(seed, offset+uint64(i))
	}
}

// Reparameterize sets eps[i] = NormalAt(seed, offset+i) and
// z = mu + exp(logvar/2)*eps.
func (b *Backend) Reparameterize(mu, logvar, eps, z backend.Tensor, seed, offset uint64) {
	ms, ls, es, zs := data(mu), data(logvar), data(eps), data(z)
	ls, es, zs = ls[:len(ms)], es[:len(ms)], zs[:len(ms)]
	for i, m := range ms {
		e := backend.NormalAt(seed, offset+uint64(i))
		es[i] = e
		zs[i] = float32(float64(m) + math.Exp(float64(ls[i])/2)*float64(e))
	}
}

// ReparameterizeBackward accumulates dmu += dz and
// dlogvar += dz*eps*exp(logvar/2)/2.
func (b *Backend) ReparameterizeBackward(logvar, eps, dz, dmu, dlogvar backend.Tensor) {
	ls, es, dzs, dms, dls := data(logvar), data(eps), data(dz), data(dmu), data(dlogvar)
	es, dzs, dms, dls = es[:len(ls)], dzs[:len(ls)], dms[:len(ls)], dls[:len(ls)]
	for i, l := range ls {
		d := dzs[i]
		dms[i] += d
		dls[i] += float32(float64(d) * float64(es[i]) * math.Exp(float64(l)/2) / 2)
	}
}

// KL sets loss = scale * -0.5*Σ(1 + logvar - mu² - exp(logvar)) and the
// gradients dmu = scale*mu, dlogvar = scale*(exp(logvar)-1)/2.
func (b *Backend) KL(mu, logvar, loss, dmu, dlogvar backend.Tensor, scale float32) {
	ms, ls, dms, dls := data(mu), data(logvar), data(dmu), data(dlogvar)
	ls = ls[:len(ms)]
	sc := float64(scale)
	var sum float64
	for i, m := range ms {
		l := float64(ls[i])
		e := math.Exp(l)
		sum += 1 + l - float64(m)*float64(m) - e
		if dms != nil {
			dms[i] = scale * m
		}
		if dls != nil {
			dls[i] = float32(sc * (e - 1) / 2)
		}
	}
	data(loss)[0] = float32(-0.5 * sc * sum)
}

// BCEWithLogits sets loss = scale*Σ bce(logit, target), computed stably as
// max(l, 0) - l*target + log(1 + exp(-|l|)), and grad = scale*(σ(l) - target).
func (b *Backend) BCEWithLogits(logits, loss, grad backend.Tensor, target, scale float32) {
	ls, gs := data(logits), data(grad)
	t, sc := float64(target), float64(scale)
	var sum float64
	for i, v := range ls {
		l := float64(v)
		sum += max(l, 0) - l*t + math.Log1p(math.Exp(-math.Abs(l)))
		if gs != nil {
			gs[i] = float32(sc * (sigmoid(l) - t))
		}
	}
	data(loss)[0] = float32(sc * sum)
}

// sigmoid is 1/(1+exp(-x)), evaluated without overflow.
func sigmoid(x float64) float64 {
	if x >= 0 {
		return 1 / (1 + math.Exp(-x))
	}
	e := math.Exp(x)
	return e / (1 + e)
}

// SoftmaxCE sets loss = scale*Σ_n (logsumexp(logits[n]) - logits[n][class])
// and grad = scale*(softmax(logits[n]) - onehot(class)).
func (b *Backend) SoftmaxCE(logits, loss, grad backend.Tensor, k, class int, scale float32) {
	ls, gs := data(logits), data(grad)
	sc := float64(scale)
	var sum float64
	for o := 0; k > 0 && o < len(ls); o += k {
		row := ls[o : o+k]
		mx := row[0]
		for _, v := range row {
			mx = max(mx, v)
		}
		var z float64
		for _, v := range row {
			z += math.Exp(float64(v - mx))
		}
		lse := float64(mx) + math.Log(z)
		sum += lse - float64(row[class])
		if gs != nil {
			g := gs[o : o+k]
			for j, v := range row {
				p := math.Exp(float64(v) - lse)
				if j == class {
					p--
				}
				g[j] = float32(sc * p)
			}
		}
	}
	data(loss)[0] = float32(sc * sum)
}

// SquaredError sets loss = scale*0.5*Σ(a-b)² and grad = scale*(a-b).
func (b *Backend) SquaredError(a, bt, loss, grad backend.Tensor, scale float32) {
	as, bs, gs := data(a), data(bt), data(grad)
	bs = bs[:len(as)]
	var sum float64
	for i, v := range as {
		d := float64(v) - float64(bs[i])
		sum += d * d
		if gs != nil {
			gs[i] = float32(float64(scale) * d)
		}
	}
	data(loss)[0] = float32(0.5 * float64(scale) * sum)
}

// AdamStep is one torch.optim.Adam update of p (no weight decay).
func (b *Backend) AdamStep(p, g, m, v backend.Tensor, lr, b1, b2, eps, bc1, bc2 float32) {
	ps, gs, ms, vs := data(p), data(g), data(m), data(v)
	gs, ms, vs = gs[:len(ps)], ms[:len(ps)], vs[:len(ps)]
	step := float64(lr) / float64(bc1)
	rbc2 := 1 / math.Sqrt(float64(bc2))
	for i, gi := range gs {
		mi := b1*ms[i] + (1-b1)*gi
		vi := b2*vs[i] + (1-b2)*gi*gi
		ms[i], vs[i] = mi, vi
		ps[i] -= float32(step * float64(mi) / (math.Sqrt(float64(vi))*rbc2 + float64(eps)))
	}
}

// RMSPropStep is one torch.optim.RMSprop update of p (not centred, no
// momentum).
func (b *Backend) RMSPropStep(p, g, v backend.Tensor, lr, alpha, eps float32) {
	ps, gs, vs := data(p), data(g), data(v)
	gs, vs = gs[:len(ps)], vs[:len(ps)]
	for i, gi := range gs {
		vi := alpha*vs[i] + (1-alpha)*gi*gi
		vs[i] = vi
		ps[i] -= float32(float64(lr) * float64(gi) / (math.Sqrt(float64(vi)) + float64(eps)))
	}
}
