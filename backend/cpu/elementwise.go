package cpu

import (
	"math"

	"github.com/vaegan-go/vaegan/backend"
)

// Elementwise operations cut their n elements into chunks(n) items (pool.go)
// and run them on the pool: item i covers span(n, i). Reductions keep one
// float64 partial sum per item and add them up in item order.

// each runs j over n elements cut into chunks(n) items.
func (b *Backend) each(n int, j job) { b.p.do(chunks(n), j) }

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
	b.jobs.fill = fillJob{d: d, v: v}
	b.each(len(d), &b.jobs.fill)
}

type fillJob struct {
	d []float32
	v float32
}

func (j *fillJob) run(_, item int) {
	lo, hi := span(len(j.d), item)
	d, v := j.d[lo:hi], j.v
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
	b.jobs.copy = copyJob{dst: d, src: s}
	b.each(len(d), &b.jobs.copy)
}

type copyJob struct{ dst, src []float32 }

func (j *copyJob) run(_, item int) {
	lo, hi := span(len(j.dst), item)
	copy(j.dst[lo:hi], j.src[lo:hi])
}

// Axpy sets y += alpha*x.
func (b *Backend) Axpy(alpha float32, x, y backend.Tensor) {
	xs, ys := data(x), data(y)
	b.jobs.axpy = axpyJob{x: xs, y: ys[:len(xs)], alpha: alpha}
	b.each(len(xs), &b.jobs.axpy)
}

type axpyJob struct {
	x, y  []float32
	alpha float32
}

func (j *axpyJob) run(_, item int) {
	lo, hi := span(len(j.x), item)
	xs, ys, alpha := j.x[lo:hi], j.y[lo:hi], j.alpha
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
	b.jobs.actForward = actForwardJob{x: xs, y: ys[:len(xs)], f: f, slope: slope}
	b.each(len(xs), &b.jobs.actForward)
}

type actForwardJob struct {
	x, y  []float32
	f     backend.Activation
	slope float32
}

func (j *actForwardJob) run(_, item int) {
	lo, hi := span(len(j.x), item)
	xs, ys, slope := j.x[lo:hi], j.y[lo:hi], j.slope
	ys = ys[:len(xs)]
	switch j.f {
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
	b.jobs.actBackward = actBackwardJob{y: ys, dy: dys[:len(ys)], dx: dxs[:len(ys)], f: f, slope: slope}
	b.each(len(ys), &b.jobs.actBackward)
}

type actBackwardJob struct {
	y, dy, dx []float32
	f         backend.Activation
	slope     float32
}

func (j *actBackwardJob) run(_, item int) {
	lo, hi := span(len(j.y), item)
	ys, dys, dxs, slope := j.y[lo:hi], j.dy[lo:hi], j.dx[lo:hi], j.slope
	dys, dxs = dys[:len(ys)], dxs[:len(ys)]
	switch j.f {
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

// Normal sets t[i] = NormalAt(seed, c+i), c the counter's value.
func (b *Backend) Normal(t backend.Tensor, seed uint64, counter backend.Tensor) {
	offset := backend.CounterOf(data(counter))
	d := data(t)
	for i := range d {
		d[i] = backend.NormalAt(seed, offset+uint64(i))
	}
}

// Reparameterize sets eps[i] = NormalAt(seed, offset+i) and
// z = mu + exp(logvar/2)*eps.
func (b *Backend) Reparameterize(mu, logvar, eps, z backend.Tensor, seed uint64, counter backend.Tensor) {
	offset := backend.CounterOf(data(counter))
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
	b.jobs.squaredError = squaredErrorJob{a: as, b: bs[:len(as)], grad: gs, part: part, scale: scale}
	b.each(len(as), &b.jobs.squaredError)
	data(loss)[0] = float32(0.5 * float64(scale) * sum(part))
}

type squaredErrorJob struct {
	a, b, grad []float32 // grad may be nil
	part       []float64
	scale      float32
}

func (j *squaredErrorJob) run(_, item int) {
	lo, hi := span(len(j.a), item)
	as, bs, sc := j.a[lo:hi], j.b[lo:hi], float64(j.scale)
	var gs []float32
	if j.grad != nil {
		gs = j.grad[lo:hi]
	}
	var s float64
	for i, v := range as {
		d := float64(v) - float64(bs[i])
		s += d * d
		if gs != nil {
			gs[i] = float32(sc * d)
		}
	}
	j.part[item] = s
}

// SumSquares sets out[0] = Σ x² (accumulated in float64).
func (b *Backend) SumSquares(x, out backend.Tensor) {
	xs := data(x)
	part := b.partials(len(xs))
	b.jobs.sumSquares = sumSquaresJob{x: xs, part: part}
	b.each(len(xs), &b.jobs.sumSquares)
	data(out)[0] = float32(sum(part))
}

type sumSquaresJob struct {
	x    []float32
	part []float64
}

func (j *sumSquaresJob) run(_, item int) {
	lo, hi := span(len(j.x), item)
	var s float64
	for _, v := range j.x[lo:hi] {
		s += float64(v) * float64(v)
	}
	j.part[item] = s
}

// Decide writes the step's flags by d.Judge.
func (b *Backend) Decide(l, flags backend.Tensor, d backend.Decision) {
	ok, dec, dis := d.Judge(data(l))
	f := data(flags)[:3]
	f[0], f[1], f[2] = one(ok), one(dec), one(dis)
}

// one is 1 for true, 0 for false.
func one(v bool) float32 {
	if v {
		return 1
	}
	return 0
}

// off reports whether the flag tensor on is given and holds 0.
func off(on backend.Tensor) bool { return !on.IsNil() && data(on)[0] == 0 }

// Restore sets dst = saved when ok[0] is 0.
func (b *Backend) Restore(dst, saved, ok backend.Tensor) {
	if data(ok)[0] == 0 {
		b.Copy(dst, saved)
	}
}

// AdamStep is one torch.optim.Adam update of p (no weight decay), unless on
// holds 0.
func (b *Backend) AdamStep(p, g, m, v, on, bc backend.Tensor, lr, b1, b2, eps float32) {
	if off(on) {
		return
	}
	bc1, bc2 := data(bc)[0], data(bc)[1]
	ps, gs, ms, vs := data(p), data(g), data(m), data(v)
	n := len(ps)
	b.jobs.adam = adamJob{g: gs[:n], m: ms[:n], p: ps, v: vs[:n], lr: lr, b1: b1, b2: b2, eps: eps, bc1: bc1, bc2: bc2}
	b.each(n, &b.jobs.adam)
}

type adamJob struct {
	g, m, p, v                []float32
	lr, b1, b2, eps, bc1, bc2 float32
}

func (j *adamJob) run(_, item int) {
	lo, hi := span(len(j.g), item)
	gs, ms, ps, vs := j.g[lo:hi], j.m[lo:hi], j.p[lo:hi], j.v[lo:hi]
	ms, ps, vs = ms[:len(gs)], ps[:len(gs)], vs[:len(gs)]
	lr, b1, b2, eps, bc1, bc2 := j.lr, j.b1, j.b2, j.eps, j.bc1, j.bc2
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
// momentum), unless on holds 0.
func (b *Backend) RMSPropStep(p, g, v, on backend.Tensor, lr, alpha, eps float32) {
	if off(on) {
		return
	}
	ps, gs, vs := data(p), data(g), data(v)
	n := len(ps)
	b.jobs.rmsprop = rmspropJob{g: gs[:n], p: ps, v: vs[:n], lr: lr, alpha: alpha, eps: eps}
	b.each(n, &b.jobs.rmsprop)
}

type rmspropJob struct {
	g, p, v        []float32
	lr, alpha, eps float32
}

func (j *rmspropJob) run(_, item int) {
	lo, hi := span(len(j.g), item)
	gs, ps, vs := j.g[lo:hi], j.p[lo:hi], j.v[lo:hi]
	ps, vs = ps[:len(gs)], vs[:len(gs)]
	lr, alpha, eps := j.lr, j.alpha, j.eps
	for i, gi := range gs {
		vi := alpha*vs[i] + (1-alpha)*gi*gi
		vs[i] = vi
		ps[i] -= float32(float64(lr) * float64(gi) / (math.Sqrt(float64(vi)) + float64(eps)))
	}
}

// Average sets avg += (1-decay)*(w-avg), unless on holds 0.
func (b *Backend) Average(avg, w, on backend.Tensor, decay float32) {
	if off(on) {
		return
	}
	a, ws := data(avg), data(w)
	if len(a) != len(ws) {
		panic("cpu: Average length mismatch")
	}
	b.jobs.average = averageJob{avg: a, w: ws, rate: 1 - decay}
	b.each(len(a), &b.jobs.average)
}

type averageJob struct {
	avg, w []float32
	rate   float32
}

func (j *averageJob) run(_, item int) {
	lo, hi := span(len(j.avg), item)
	a, w := j.avg[lo:hi], j.w[lo:hi]
	w = w[:len(a)]
	for i := range a {
		a[i] += j.rate * (w[i] - a[i])
	}
}
