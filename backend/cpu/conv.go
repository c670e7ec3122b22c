package cpu

import "github.com/vaegan-go/vaegan/backend"

// The convolutions work one image at a time. For image n the column matrix
// col [C*R*R, OH*OW] holds, in row (c*R+ky)*R+kx and column oy*OW+ox, the
// input pixel x[n, c, oy*Stride-Pad+ky, ox*Stride-Pad+kx] (zero outside the
// image), so that y[n] = w·col with w viewed as [K, C*R*R].

// colRows is the number of rows of the column matrix.
func colRows(g backend.ConvGeom) int { return g.C * g.R * g.R }

// validCols returns the range [lo, hi) of output columns ox whose input
// column ox*Stride-Pad+kx lies inside [0, W).
func validCols(g backend.ConvGeom, kx int) (lo, hi int) {
	if d := g.Pad - kx; d > 0 {
		lo = (d + g.Stride - 1) / g.Stride
	}
	last := g.W - 1 + g.Pad - kx // largest ox*Stride allowed
	if last < 0 {
		return 0, 0
	}
	hi = min(g.OW, last/g.Stride+1)
	return min(lo, hi), hi
}

// im2col fills col from one image x [C, H, W].
func im2col(g backend.ConvGeom, x, col []float32) {
	ohw := g.OH * g.OW
	for c := 0; c < g.C; c++ {
		for ky := 0; ky < g.R; ky++ {
			for kx := 0; kx < g.R; kx++ {
				row := col[((c*g.R+ky)*g.R+kx)*ohw:][:ohw]
				lo, hi := validCols(g, kx)
				for oy := 0; oy < g.OH; oy++ {
					dst := row[oy*g.OW : (oy+1)*g.OW]
					iy := oy*g.Stride - g.Pad + ky
					if iy < 0 || iy >= g.H {
						clear(dst)
						continue
					}
					src := x[(c*g.H+iy)*g.W:][:g.W]
					clear(dst[:lo])
					ix := lo*g.Stride - g.Pad + kx
					for ox := lo; ox < hi; ox++ {
						dst[ox] = src[ix]
						ix += g.Stride
					}
					clear(dst[hi:])
				}
			}
		}
	}
}

// col2im adds every entry of col into the pixel of dx [C, H, W] it was
// taken from by im2col.
func col2im(g backend.ConvGeom, col, dx []float32) {
	ohw := g.OH * g.OW
	for c := 0; c < g.C; c++ {
		for ky := 0; ky < g.R; ky++ {
			for kx := 0; kx < g.R; kx++ {
				row := col[((c*g.R+ky)*g.R+kx)*ohw:][:ohw]
				lo, hi := validCols(g, kx)
				for oy := 0; oy < g.OH; oy++ {
					iy := oy*g.Stride - g.Pad + ky
					if iy < 0 || iy >= g.H {
						continue
					}
					src := row[oy*g.OW : (oy+1)*g.OW]
					dst := dx[(c*g.H+iy)*g.W:][:g.W]
					ix := lo*g.Stride - g.Pad + kx
					for ox := lo; ox < hi; ox++ {
						dst[ix] += src[ox]
						ix += g.Stride
					}
				}
			}
		}
	}
}

// convOK reports whether g has any output pixel.
func convOK(g backend.ConvGeom) bool { return g.N > 0 && g.OH > 0 && g.OW > 0 }

// ConvForward sets y = conv(x, w).
func (b *Backend) ConvForward(g backend.ConvGeom, x, w, y backend.Tensor) {
	if !convOK(g) {
		return
	}
	b.p.scratch(colRows(g)*g.OH*g.OW, 0)
	b.p.do(task{run: convForwardImage, n: g.N, g: g, a: data(x), b: data(w), c: data(y)})
}

// convForwardImage is ConvForward for image n: a = x, b = w, c = y.
func convForwardImage(p *pool, worker, n int) {
	g, t := p.task.g, &p.task
	crr, ohw := colRows(g), g.OH*g.OW
	col := p.cols[worker][:crr*ohw]
	im2col(g, t.a[n*g.C*g.H*g.W:][:g.C*g.H*g.W], col)
	gemm(false, false, g.K, ohw, crr, 1, t.b, crr, col, ohw, 0, t.c[n*g.K*ohw:][:g.K*ohw], ohw)
}

// ConvBackwardData sets dx = convᵀ(dy, w).
func (b *Backend) ConvBackwardData(g backend.ConvGeom, dy, w, dx backend.Tensor) {
	if !convOK(g) {
		clear(data(dx))
		return
	}
	b.p.scratch(colRows(g)*g.OH*g.OW, 0)
	b.p.do(task{run: convBackwardDataImage, n: g.N, g: g, a: data(dy), b: data(w), c: data(dx)})
}

// convBackwardDataImage is ConvBackwardData for image n: a = dy, b = w,
// c = dx.
func convBackwardDataImage(p *pool, worker, n int) {
	g, t := p.task.g, &p.task
	crr, ohw, chw := colRows(g), g.OH*g.OW, g.C*g.H*g.W
	col := p.cols[worker][:crr*ohw]
	gemm(true, false, crr, ohw, g.K, 1, t.b, crr, t.a[n*g.K*ohw:][:g.K*ohw], ohw, 0, col, ohw)
	dx := t.c[n*chw:][:chw]
	clear(dx)
	col2im(g, col, dx)
}

// ConvBackwardFilter accumulates dw += Σ_n dy[n]·col(x[n])ᵀ. Each worker
// sums its images into its own accumulator; the accumulators are then added
// into dw.
func (b *Backend) ConvBackwardFilter(g backend.ConvGeom, x, dy, dw backend.Tensor) {
	if !convOK(g) {
		return
	}
	crr := colRows(g)
	size := g.K * crr
	b.p.scratch(crr*g.OH*g.OW, size)
	// Any worker may take part, so all accumulators are cleared and summed.
	for w := range b.p.threads {
		clear(b.p.accs[w][:size])
	}
	b.p.do(task{run: convBackwardFilterImage, n: g.N, g: g, a: data(x), b: data(dy)})
	d := data(dw)[:size]
	for w := range b.p.threads {
		for i, v := range b.p.accs[w][:size] {
			d[i] += v
		}
	}
}

// convBackwardFilterImage adds image n's weight gradient to the worker's
// accumulator: a = x, b = dy.
func convBackwardFilterImage(p *pool, worker, n int) {
	g, t := p.task.g, &p.task
	crr, ohw, chw := colRows(g), g.OH*g.OW, g.C*g.H*g.W
	col := p.cols[worker][:crr*ohw]
	im2col(g, t.a[n*chw:][:chw], col)
	gemm(false, true, g.K, crr, ohw, 1, t.b[n*g.K*ohw:][:g.K*ohw], ohw, col, ohw, 1, p.accs[worker][:g.K*crr], crr)
}
