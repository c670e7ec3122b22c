package gpu

import "github.com/vaegan-go/vaegan/backend"

// DefaultWorkspaceLimit is the default bound on the convolution workspace,
// in floats (256 MiB).
const DefaultWorkspaceLimit = 1 << 26

// SetWorkspaceLimit bounds the convolution workspace to about floats
// elements: a batch whose column and product matrices would need more is
// processed in chunks of samples (at least one sample per chunk).
func (b *Backend) SetWorkspaceLimit(floats int) { b.workLimit = floats }

// convPlan is how a convolution runs through the workspace: chunks of nb
// samples, each with a column matrix col [C*R*R, nb*S] and a product matrix
// prod [K, nb*S] (S = OH*OW) in the workspace.
type convPlan struct {
	crr, s, nb int
	col, prod  DevicePtr
}

// plan sizes the chunks of g and grows the workspace when g needs more than
// any geometry before it, so steady training allocates nothing.
func (b *Backend) plan(op string, g backend.ConvGeom) convPlan {
	p := convPlan{crr: g.C * g.R * g.R, s: g.OH * g.OW}
	per := (p.crr + g.K) * p.s
	p.nb = min(max(b.workLimit/max(per, 1), 1), g.N)
	b.grow(op, &b.work, &b.workLen, p.nb*per)
	p.col = b.work
	p.prod = b.work + DevicePtr(4*p.nb*p.crr*p.s)
	return p
}

// chunks calls f for each chunk [n0, n0+nb) of the batch.
func (p convPlan) chunks(n int, f func(n0, nb int)) {
	for n0 := 0; n0 < n; n0 += p.nb {
		f(n0, min(p.nb, n-n0))
	}
}

// im2col fills the plan's column matrix from the nb samples at x.
func (b *Backend) im2col(op string, g backend.ConvGeom, p convPlan, x DevicePtr, nb int) {
	b.eachXYZ(op, "im2col", nb*p.s, g.C, 1, Ptr(p.col), Ptr(x), Int(nb), Int(g.C), Int(g.H), Int(g.W), Int(g.R), Int(g.Stride), Int(g.Pad), Int(g.OH), Int(g.OW))
}

// ConvForward sets y = conv(x, w): per chunk, col = im2col(x), prod = w·col
// ([K, nb*S]), y = prod reordered to [nb, K, S].
func (b *Backend) ConvForward(g backend.ConvGeom, x, w, y backend.Tensor) {
	const op = "ConvForward"
	p := b.plan(op, g)
	px, pw, py := ptr(x), ptr(w), ptr(y)
	p.chunks(g.N, func(n0, nb int) {
		b.im2col(op, g, p, px+DevicePtr(4*n0*g.C*g.H*g.W), nb)
		b.gemm(op, false, false, g.K, nb*p.s, p.crr, 1, pw, p.col, 0, p.prod)
		b.eachXYZ(op, "nks_from_kns", g.K*p.s, nb, 1, Ptr(py+DevicePtr(4*n0*g.K*p.s)), Ptr(p.prod), Int(nb), Int(g.K), Int(p.s))
	})
}

// ConvBackwardData sets dx = convᵀ(dy, w): per chunk, prod = dy reordered to
// [K, nb*S], col = wᵀ·prod, dx = col2im(col).
func (b *Backend) ConvBackwardData(g backend.ConvGeom, dy, w, dx backend.Tensor) {
	const op = "ConvBackwardData"
	p := b.plan(op, g)
	pdy, pw, pdx := ptr(dy), ptr(w), ptr(dx)
	p.chunks(g.N, func(n0, nb int) {
		b.eachXYZ(op, "kns_from_nks", g.K*p.s, nb, 1, Ptr(p.prod), Ptr(pdy+DevicePtr(4*n0*g.K*p.s)), Int(nb), Int(g.K), Int(p.s))
		b.gemm(op, true, false, p.crr, nb*p.s, g.K, 1, pw, p.prod, 0, p.col)
		b.eachXYZ(op, "col2im", g.H*g.W, g.C, nb, Ptr(pdx+DevicePtr(4*n0*g.C*g.H*g.W)), Ptr(p.col),
			Int(nb), Int(g.C), Int(g.H), Int(g.W), Int(g.R), Int(g.Stride), Int(g.Pad), Int(g.OH), Int(g.OW))
	})
}

// ConvBackwardFilter accumulates dw += dy'·colᵀ over the chunks, with
// col = im2col(x) and dy' = dy reordered to [K, nb*S].
func (b *Backend) ConvBackwardFilter(g backend.ConvGeom, x, dy, dw backend.Tensor) {
	const op = "ConvBackwardFilter"
	p := b.plan(op, g)
	px, pdy, pdw := ptr(x), ptr(dy), ptr(dw)
	p.chunks(g.N, func(n0, nb int) {
		b.im2col(op, g, p, px+DevicePtr(4*n0*g.C*g.H*g.W), nb)
		b.eachXYZ(op, "kns_from_nks", g.K*p.s, nb, 1, Ptr(p.prod), Ptr(pdy+DevicePtr(4*n0*g.K*p.s)), Int(nb), Int(g.K), Int(p.s))
		b.gemm(op, false, true, g.K, p.crr, nb*p.s, 1, p.prod, p.col, 1, pdw)
	})
}
