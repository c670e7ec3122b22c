package cpu

import (
	"math"

	"github.com/vaegan-go/vaegan/backend"
)

// Elementwise operations cut their n elements into chunks(n) items (pool.go)
// and run them on the pool: item i covers span(n, i), n being t.i[0].
// Reductions keep one float64 partial sum per item in t.e and add them up
// in item order.

// each runs t with run over n elements cut into chunks(n) items.
func (b *Backend) each(n int, run func(t *task, w, item int), t task) {
	t.run, t.n, t.i[0] = run, chunks(n), n
	b.p.do(t)
}

// partials returns the zeroed per-item partial sums of a reduction over n
// elements.
func (b *Backend) partials(n int) []float64 {
	k := chunks(n)
	if cap(b.part) < k {
		b.part = make([]float64, k)
	}
	p := b.part[:k]
	clear(p)
	return p
}

// sum adds the partial sums in item order.
func sum(p []float64) float64 {
	var s float64
	for _, v := range p {
		s += v
	}
	return s
}

// Fill sets every element of t to v.
func (b *Backend) Fill(t backend.Tensor, v float32) {
	d := data(t)
	b.each(len(d), fillItem, task{c: d, f: [6]float32{v}})
}

func fillItem(t *task, _, item int) {
	lo, hi := span(t.i[0], item)
	d, v := t.c[lo:hi], t.f[0]
	if v == 0 {
		clear(d)
		return
	}
	for i := range d {
		d[i] = v
	}
}

// Copy sets dst = src.
func (b *Backend) Copy(dst, src backend.Tensor) {
	d, s := data(dst), data(src)
	if len(d) != len(s) {
		panic("cpu: Copy length mismatch")
	}
	b.each(len(d), copyItem, task{a: s, c: d})
}

func copyItem(t *task, _, item int) {
	lo, hi := span(t.i[0], item)
	copy(t.c[lo:hi], t.a[lo:hi])
}

// Axpy sets y += alpha*x.
func (b *Backend) Axpy(alpha float32, x, y backend.Tensor) {
	xs, ys := data(x), data(y)
	b.each(len(xs), axpyItem, task{a: xs, c: ys[:len(xs)], f: [6]float32{alpha}})
}

func axpyItem(t *task, _, item int) {
	lo, hi := span(t.i[0], item)
	xs, ys, alpha := t.a[lo:hi], t.c[lo:hi], t.f[0]
	for i, v := range xs {
		ys[i] += alpha * v
	}
}

// ActForward sets y = f(x) elementwise.
func (b *Backend) ActForward(f backend.Activation, x, y backend.Tensor, slope float32) {
	if f != backend.ReLU && f != backend.LeakyReLU && f != backend.Tanh {
		panic("cpu: unknown activation")
	}
	xs, ys := data(x), data(y)
	b.each(len(xs), actForwardItem, task{a: xs, c: ys[:len(xs)], f: [6]float32{slope}, i: [4]int{1: int(f)}})
}

func actForwardItem(t *task, _, item int) {
	lo, hi := span(t.i[0], item)
	xs, ys, slope := t.a[lo:hi], t.c[lo:hi], t.f[0]
	ys = ys[:len(xs)]
	switch backend.Activation(t.i[1]) {
	case backend.ReLU:
		for i, v := range xs {
			ys[i] = max(v, 0)
		}
	case backend.LeakyReLU:
		// max(v, slope*v) for 0 < slope < 1, written so for any slope.
		for i, v := range xs {
			ys[i] = max(v, 0) + slope*min(v, 0)
		}
	case backend.Tanh:
		for i, v := range xs {
			ys[i] = float32(math.Tanh(float64(v)))
		}
	}
}

// ActBackward sets dx = f'(x)*dy from the forward output y.
func (b *Backend) ActBackward(f backend.Activation, y, dy, dx backend.Tensor, slope float32) {
	if f != backend.ReLU && f != backend.LeakyReLU && f != backend.Tanh {
		panic("cpu: unknown activation")
	}
	ys, dys, dxs := data(y), data(dy), data(dx)
	b.each(len(ys), actBackwardItem, task{a: ys, b: dys[:len(ys)], c: dxs[:len(ys)], f: [6]float32{slope}, i: [4]int{1: int(f)}})
}

func actBackwardItem(t *task, _, item int) {
	lo, hi := span(t.i[0], item)
	ys, dys, dxs, slope := t.a[lo:hi], t.b[lo:hi], t.c[lo:hi], t.f[0]
	dys, dxs = dys[:len(ys)], dxs[:len(ys)]
	switch backend.Activation(t.i[1]) {
	case backend.ReLU:
		for i, v := range ys {
			dxs[i] = math.Float32frombits(math.Float32bits(dys[i]) & positive(v))
		}
	case backend.LeakyReLU:
		for i, v := range ys {
			m, d := positive(v), dys[i]
			dxs[i] = math.Float32frombits(math.Float32bits(d)&m | math.Float32bits(slope*d)&^m)
		}
	case backend.Tanh:
		for i, v := range ys {
			dxs[i] = dys[i] * (1 - v*v)
		}
	}
}

// positive is all ones when v > 0 and zero otherwise (NaN included),
// computed without a branch: the signs of activations are unpredictable and
// the compiler does not turn a float select into a conditional move.
func positive(v float32) uint32 {
	// v > 0 exactly when its bits minus one lie below those of +Inf.
	d := int64(math.Float32bits(v)-1) - 0x7f800000
	return uint32(d >> 63)
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
	part := b.partials(len(as))
	b.each(len(as), squaredErrorItem, task{a: as, b: bs[:len(as)], c: gs, e: part, f: [6]float32{scale}})
	data(loss)[0] = float32(0.5 * float64(scale) * sum(part))
}

func squaredErrorItem(t *task, _, item int) {
	lo, hi := span(t.i[0], item)
	as, bs, sc := t.a[lo:hi], t.b[lo:hi], float64(t.f[0])
	var gs []float32
	if t.c != nil {
		gs = t.c[lo:hi]
	}
	var s float64
	for i, v := range as {
		d := float64(v) - float64(bs[i])
		s += d * d
		if gs != nil {
			gs[i] = float32(sc * d)
		}
	}
	t.e[item] = s
}

// SumSquares sets out[0] = Σ x² (accumulated in float64).
func (b *Backend) SumSquares(x, out backend.Tensor) {
	xs := data(x)
	part := b.partials(len(xs))
	b.each(len(xs), sumSquaresItem, task{a: xs, e: part})
	data(out)[0] = float32(sum(part))
}

func sumSquaresItem(t *task, _, item int) {
	lo, hi := span(t.i[0], item)
	var s float64
	for _, v := range t.a[lo:hi] {
		s += float64(v) * float64(v)
	}
	t.e[item] = s
}

// AdamStep is one torch.optim.Adam update of p (no weight decay).
func (b *Backend) AdamStep(p, g, m, v backend.Tensor, lr, b1, b2, eps, bc1, bc2 float32) {
	ps, gs, ms, vs := data(p), data(g), data(m), data(v)
	n := len(ps)
	b.each(n, adamItem, task{a: gs[:n], b: ms[:n], c: ps, d: vs[:n], f: [6]float32{lr, b1, b2, eps, bc1, bc2}})
}

func adamItem(t *task, _, item int) {
	lo, hi := span(t.i[0], item)
	gs, ms, ps, vs := t.a[lo:hi], t.b[lo:hi], t.c[lo:hi], t.d[lo:hi]
	ms, ps, vs = ms[:len(gs)], ps[:len(gs)], vs[:len(gs)]
	lr, b1, b2, eps, bc1, bc2 := t.f[0], t.f[1], t.f[2], t.f[3], t.f[4], t.f[5]
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
	n := len(ps)
	b.each(n, rmspropItem, task{a: gs[:n], c: ps, d: vs[:n], f: [6]float32{lr, alpha, eps}})
}

func rmspropItem(t *task, _, item int) {
	lo, hi := span(t.i[0], item)
	gs, ps, vs := t.a[lo:hi], t.c[lo:hi], t.d[lo:hi]
	ps, vs = ps[:len(gs)], vs[:len(gs)]
	lr, alpha, eps := t.f[0], t.f[1], t.f[2]
	for i, gi := range gs {
		vi := alpha*vs[i] + (1-alpha)*gi*gi
		vs[i] = vi
		ps[i] -= float32(float64(lr) * float64(gi) / (math.Sqrt(float64(vi)) + float64(eps)))
	}
}
