package cpu

import "github.com/vaegan-go/vaegan/backend"

// The convolutions work on chunks of nb consecutive images of the batch,
// each chunk with one matrix product. The column matrix col
// [C*R*R, nb*OH*OW] holds, in row (c*R+ky)*R+kx and column i*OH*OW+oy*OW+ox,
// the input pixel x[n0+i, c, oy*Stride-Pad+ky, ox*Stride-Pad+kx] (zero
// outside the image), so that the chunk's output, laid out as
// out [K, nb*OH*OW], is w·col with w viewed as [K, C*R*R]. Out is permuted
// to and from y's [nb, K, OH*OW] layout, except for images of perImageMin
// or more output pixels, which get a product each, reading and writing their
// block of y in place. The chunk size depends on the geometry alone, so that
// every result does too. Stride-1 convolutions with fewer output than input
// channels run as the passes of their adjoint (see adjoint).

// colBudget bounds the elements of the column matrix of one chunk (it holds
// at least one image; a variable so that tests can make it small).
var colBudget = 1 << 20

// colRows is the number of rows of the column matrix.
func colRows(g backend.ConvGeom) int { return g.C * g.R * g.R }

// chunkImages is the number of images per chunk.
func chunkImages(g backend.ConvGeom) int {
	return max(min(colBudget/(colRows(g)*g.OH*g.OW), g.N), 1)
}

// valid returns the range [lo, hi) of output positions o (of out) whose
// input position o*stride-pad+k lies inside [0, size).
func valid(size, out, stride, pad, k int) (lo, hi int) {
	if d := pad - k; d > 0 {
		lo = (d + stride - 1) / stride
	}
	last := size - 1 + pad - k // largest o*stride allowed
	if last < 0 {
		return 0, 0
	}
	hi = min(out, last/stride+1)
	return min(lo, hi), hi
}

// phaseWidth is the row length of one phase of a padded input row (see
// toPhases): long enough for every output column.
func phaseWidth(g backend.ConvGeom) int { return g.OW + (g.R-1)/g.Stride }

// phaseLen is the number of elements of one channel's phases.
func phaseLen(g backend.ConvGeom) int { return g.Stride * g.H * phaseWidth(g) }

// toPhases sets p [Stride, H, phaseWidth] to the plane x [H, W] with its
// columns padded by Pad zeros on the left and split by their residue modulo
// the stride: p[r, y, j] = x[y, j*Stride+r-Pad], zero outside the image.
// Input column ox*Stride-Pad+kx is then p[kx%Stride, y, ox+kx/Stride], so
// that each row of im2col is a run of plain copies.
func toPhases(g backend.ConvGeom, x, p []float32) {
	pw := phaseWidth(g)
	for r := 0; r < g.Stride; r++ {
		lo, hi := valid(g.W, pw, g.Stride, g.Pad, r)
		for y := 0; y < g.H; y++ {
			d := p[(r*g.H+y)*pw:][:pw]
			clear(d[:lo])
			clear(d[hi:])
			if lo == hi {
				continue
			}
			d = d[lo:hi]
			s := x[y*g.W+lo*g.Stride+r-g.Pad:][:(len(d)-1)*g.Stride+1]
			if g.Stride == 1 {
				copy(d, s)
				continue
			}
			for j := range d {
				d[j] = s[j*g.Stride]
			}
		}
	}
}

// im2col fills the rows of channel c of col (row length ld) in the columns
// [0, OH*OW) of col, from the channel's plane x [H, W], using p
// (phaseLen(g) elements) for the plane's phases.
func im2col(g backend.ConvGeom, x, col []float32, ld, c int, p []float32) {
	toPhases(g, x, p)
	pw := phaseWidth(g)
	for ky := 0; ky < g.R; ky++ {
		ylo, yhi := valid(g.H, g.OH, g.Stride, g.Pad, ky)
		for kx := 0; kx < g.R; kx++ {
			row := col[((c*g.R+ky)*g.R+kx)*ld:][:g.OH*g.OW]
			clear(row[:ylo*g.OW])
			clear(row[yhi*g.OW:])
			src := p[(kx%g.Stride)*g.H*pw+kx/g.Stride:]
			for oy := ylo; oy < yhi; oy++ {
				copy(row[oy*g.OW:][:g.OW], src[(oy*g.Stride-g.Pad+ky)*pw:])
			}
		}
	}
}

// col2im sets the plane dx [H, W] of channel c to the sum of the entries of
// col (row length ld, columns [0, OH*OW)) that im2col took from each pixel.
func col2im(g backend.ConvGeom, col, dx []float32, ld, c int) {
	clear(dx)
	for ky := 0; ky < g.R; ky++ {
		ylo, yhi := valid(g.H, g.OH, g.Stride, g.Pad, ky)
		for kx := 0; kx < g.R; kx++ {
			row := col[((c*g.R+ky)*g.R+kx)*ld:][:g.OH*g.OW]
			lo, hi := valid(g.W, g.OW, g.Stride, g.Pad, kx)
			if lo == hi {
				continue // no pixel of this row lies inside the image
			}
			for oy := ylo; oy < yhi; oy++ {
				s := row[oy*g.OW+lo : oy*g.OW+hi]
				d := dx[(oy*g.Stride-g.Pad+ky)*g.W+lo*g.Stride-g.Pad+kx:]
				switch g.Stride {
				case 1:
					d = d[:len(s)]
					for o, v := range s {
						d[o] += v
					}
				case 2:
					if len(s) > 0 {
						d = d[:2*len(s)-1]
						for o, v := range s {
							d[2*o] += v
						}
					}
				default:
					for o, v := range s {
						d[o*g.Stride] += v
					}
				}
			}
		}
	}
}

// im2colJob fills the column matrix col (row length ld) for item i*C+c,
// channel c of image i of the chunk x [nb, C, H, W]; worker w uses
// phases[w*phaseLen:] for the phases.
type im2colJob struct {
	g              backend.ConvGeom
	x, col, phases []float32
	ld, phaseLen   int
}

func (t *im2colJob) run(w, item int) {
	g := t.g
	i, c := item/g.C, item%g.C
	hw, ohw := g.H*g.W, g.OH*g.OW
	im2colPlane(g, t.x[(i*g.C+c)*hw:][:hw], t.col[i*ohw:], t.ld, c, t.phases[w*t.phaseLen:][:t.phaseLen])
}

// col2imJob sets channel c of image i of the chunk dx [nb, C, H, W] from
// the column matrix col (row length ld), for item i*C+c; worker w may use
// phases[w*phaseLen:] for the phases.
type col2imJob struct {
	g               backend.ConvGeom
	col, dx, phases []float32
	ld, phaseLen    int
}

func (t *col2imJob) run(w, item int) {
	g := t.g
	i, c := item/g.C, item%g.C
	hw, ohw := g.H*g.W, g.OH*g.OW
	col2imPlane(g, t.col[i*ohw:], t.dx[(i*g.C+c)*hw:][:hw], t.ld, c, t.phases[w*t.phaseLen:][:t.phaseLen])
}

// toBatchJob copies image i's columns of cols [K, nb*OH*OW] (row length
// ld) into batch [nb, K, OH*OW], for item i.
type toBatchJob struct {
	g           backend.ConvGeom
	cols, batch []float32
	ld          int
}

func (t *toBatchJob) run(_, i int) {
	g := t.g
	ohw := g.OH * g.OW
	for k := 0; k < g.K; k++ {
		copy(t.batch[(i*g.K+k)*ohw:][:ohw], t.cols[k*t.ld+i*ohw:][:ohw])
	}
}

// fromBatchJob copies image i of batch [nb, K, OH*OW] into its columns of
// cols [K, nb*OH*OW] (row length ld), for item i.
type fromBatchJob struct {
	g           backend.ConvGeom
	batch, cols []float32
	ld          int
}

func (t *fromBatchJob) run(_, i int) {
	g := t.g
	ohw := g.OH * g.OW
	for k := 0; k < g.K; k++ {
		copy(t.cols[k*t.ld+i*ohw:][:ohw], t.batch[(i*g.K+k)*ohw:][:ohw])
	}
}

// perImageMin is the least number of output pixels per image for which each
// image of a chunk gets a matrix product of its own, reading and writing the
// image's [K, OH*OW] block of y in place, rather than one product for the
// chunk between permutes (a variable so that tests can change it).
var perImageMin = 4096

// perImage reports whether the products of g run per image.
func perImage(g backend.ConvGeom) bool { return g.OH*g.OW >= perImageMin }

// convOK reports whether g has any output pixel.
func convOK(g backend.ConvGeom) bool { return g.N > 0 && g.OH > 0 && g.OW > 0 }

// convScratch returns the column matrix and the permuted output of a chunk
// of nb images, and the phases of every worker (phaseLen(g) elements each),
// grown at most once per new maximum.
func (b *Backend) convScratch(g backend.ConvGeom, nb int) (col, out, ph []float32) {
	ohw := g.OH * g.OW
	b.col = grow(b.col, colRows(g)*nb*ohw)
	b.out = grow(b.out, g.K*nb*ohw)
	b.ph = grow(b.ph, b.p.threads*phaseLen(g))
	return b.col[:colRows(g)*nb*ohw], b.out[:g.K*nb*ohw], b.ph[:b.p.threads*phaseLen(g)]
}

// grow returns s if it holds n elements, else a new slice of n.
func grow(s []float32, n int) []float32 {
	if cap(s) < n {
		return make([]float32, n)
	}
	return s[:cap(s)]
}

// adjoint returns, for a stride-1 convolution g with fewer output than input
// channels, the geometry a of the convolution from g's output (K channels,
// OH×OW) to its input (C channels, H×W) with padding R-1-Pad, whose
// transpose g is when a's weight is g's turned (see turn). ConvForward,
// ConvBackwardData and ConvBackwardFilter of g run as ConvBackwardData,
// ConvForward and ConvBackwardFilter of a, whose column matrix has K·R·R
// rows rather than C·R·R and whose products have C rows rather than K
// (dec.out of celeba64, 32→3 channels: 75 rather than 800, and 32 rather
// than 3). ok is false for any other g.
func adjoint(g backend.ConvGeom) (a backend.ConvGeom, ok bool) {
	if g.Stride != 1 || g.K >= g.C || g.Pad > g.R-1 {
		return g, false
	}
	return backend.NewConvGeom(g.N, g.K, g.OH, g.OW, g.C, g.R, 1, g.R-1-g.Pad), true
}

// turn sets wt [C, K, R, R] to the weight w [K, C, R, R] of g with the two
// channel axes swapped and each kernel turned by 180°, or, with add, adds it
// back: w[k, c, ky, kx] += wt[c, k, R-1-ky, R-1-kx].
func turn(g backend.ConvGeom, w, wt []float32, add bool) {
	rr := g.R * g.R
	for k := 0; k < g.K; k++ {
		for c := 0; c < g.C; c++ {
			a, t := w[(k*g.C+c)*rr:][:rr], wt[(c*g.K+k)*rr:][:rr]
			for j := range a {
				if add {
					a[j] += t[rr-1-j]
				} else {
					t[rr-1-j] = a[j]
				}
			}
		}
	}
}

// turned returns the scratch wt holding g's weight w turned for adjoint (g).
func (b *Backend) turned(g backend.ConvGeom, w []float32) []float32 {
	n := g.K * g.C * g.R * g.R
	b.wt = grow(b.wt, n)
	turn(g, w, b.wt[:n], false)
	return b.wt[:n]
}

// ConvForward sets y = conv(x, w).
func (b *Backend) ConvForward(g backend.ConvGeom, x, w, y backend.Tensor) {
	b.convForward(g, data(x), data(w), data(y))
}

// ConvBackwardData sets dx = convᵀ(dy, w).
func (b *Backend) ConvBackwardData(g backend.ConvGeom, dy, w, dx backend.Tensor) {
	b.convBackwardData(g, data(dy), data(w), data(dx))
}

// ConvBackwardFilter accumulates dw += Σ_n dy[n]·col(x[n])ᵀ.
func (b *Backend) ConvBackwardFilter(g backend.ConvGeom, x, dy, dw backend.Tensor) {
	b.convBackwardFilter(g, data(x), data(dy), data(dw))
}

// convForward is ConvForward on slices.
func (b *Backend) convForward(g backend.ConvGeom, xs, ws, ys []float32) {
	if !convOK(g) {
		return
	}
	if a, ok := adjoint(g); ok {
		b.convBackwardData(a, xs, b.turned(g, ws), ys)
		return
	}
	chw, khw, ohw, crr := g.C*g.H*g.W, g.K*g.OH*g.OW, g.OH*g.OW, colRows(g)
	nb := chunkImages(g)
	for n0 := 0; n0 < g.N; n0 += nb {
		m := min(nb, g.N-n0)
		col, out, ph := b.convScratch(g, m)
		ld := m * ohw
		b.jobs.im2col = im2colJob{g: g, x: xs[n0*chw:][:m*chw], col: col, phases: ph, ld: ld, phaseLen: phaseLen(g)}
		b.p.do(m*g.C, &b.jobs.im2col)
		if perImage(g) {
			for i := range m {
				b.gemm(false, false, g.K, ohw, crr, 1, ws, crr, col[i*ohw:], ld, 0, ys[(n0+i)*khw:], ohw)
			}
			continue
		}
		b.gemm(false, false, g.K, ld, crr, 1, ws, crr, col, ld, 0, out, ld)
		b.jobs.toBatch = toBatchJob{g: g, cols: out, batch: ys[n0*khw:][:m*khw], ld: ld}
		b.p.do(m, &b.jobs.toBatch)
	}
}

// convBackwardData is ConvBackwardData on slices.
func (b *Backend) convBackwardData(g backend.ConvGeom, dys, ws, dxs []float32) {
	if !convOK(g) {
		clear(dxs)
		return
	}
	if a, ok := adjoint(g); ok {
		b.convForward(a, dys, b.turned(g, ws), dxs)
		return
	}
	chw, khw, ohw, crr := g.C*g.H*g.W, g.K*g.OH*g.OW, g.OH*g.OW, colRows(g)
	nb := chunkImages(g)
	for n0 := 0; n0 < g.N; n0 += nb {
		m := min(nb, g.N-n0)
		col, out, ph := b.convScratch(g, m)
		ld := m * ohw
		if perImage(g) {
			for i := range m {
				b.gemm(true, false, crr, ohw, g.K, 1, ws, crr, dys[(n0+i)*khw:], ohw, 0, col[i*ohw:], ld)
			}
		} else {
			b.jobs.fromBatch = fromBatchJob{g: g, batch: dys[n0*khw:][:m*khw], cols: out, ld: ld}
			b.p.do(m, &b.jobs.fromBatch)
			b.gemm(true, false, crr, ld, g.K, 1, ws, crr, out, ld, 0, col, ld)
		}
		b.jobs.col2im = col2imJob{g: g, col: col, dx: dxs[n0*chw:][:m*chw], phases: ph, ld: ld, phaseLen: phaseLen(g)}
		b.p.do(m*g.C, &b.jobs.col2im)
	}
}

// convBackwardFilter is ConvBackwardFilter on slices; it accumulates the
// products of the chunks (and images) one after the other.
func (b *Backend) convBackwardFilter(g backend.ConvGeom, xs, dys, dws []float32) {
	if !convOK(g) {
		return
	}
	if a, ok := adjoint(g); ok {
		n := g.K * g.C * g.R * g.R
		b.dwt = grow(b.dwt, n)
		dwt := b.dwt[:n]
		clear(dwt)
		b.convBackwardFilter(a, dys, xs, dwt)
		turn(g, dws, dwt, true)
		return
	}
	chw, khw, ohw, crr := g.C*g.H*g.W, g.K*g.OH*g.OW, g.OH*g.OW, colRows(g)
	nb := chunkImages(g)
	for n0 := 0; n0 < g.N; n0 += nb {
		m := min(nb, g.N-n0)
		col, out, ph := b.convScratch(g, m)
		ld := m * ohw
		b.jobs.im2col = im2colJob{g: g, x: xs[n0*chw:][:m*chw], col: col, phases: ph, ld: ld, phaseLen: phaseLen(g)}
		b.p.do(m*g.C, &b.jobs.im2col)
		if perImage(g) {
			for i := range m {
				b.gemm(false, true, g.K, crr, ohw, 1, dys[(n0+i)*khw:], ohw, col[i*ohw:], ld, 1, dws[:g.K*crr], crr)
			}
			continue
		}
		b.jobs.fromBatch = fromBatchJob{g: g, batch: dys[n0*khw:][:m*khw], cols: out, ld: ld}
		b.p.do(m, &b.jobs.fromBatch)
		b.gemm(false, true, g.K, crr, ld, 1, out, ld, col, ld, 1, dws[:g.K*crr], crr)
	}
}
