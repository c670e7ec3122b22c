package quality

import "math"

// Sharpness returns the mean over the n images (c×h×w each, row-major) of
// the variance (divisor N) of the 3×3 Laplacian response
//
//	L(y,x) = I(y−1,x) + I(y+1,x) + I(y,x−1) + I(y,x+1) − 4 I(y,x)
//
// over the interior pixels 1 ≤ y ≤ h−2, 1 ≤ x ≤ w−2 (a valid convolution
// with [0 1 0; 1 −4 1; 0 1 0]) of every channel, the N = c(h−2)(w−2)
// responses of one image pooled into one variance. Blurry images score low;
// report it as a ratio to the same figure on real data. It panics on a
// mismatched shape or h, w < 3.
func Sharpness(images []float32, n, c, h, w int) float64 {
	checkImages(images, n, c, h, w)
	if h < 3 || w < 3 {
		panic(errImageSize)
	}
	resp := make([]float64, 0, c*(h-2)*(w-2))
	var total float64
	for i := 0; i < n; i++ {
		resp = resp[:0]
		for ch := 0; ch < c; ch++ {
			pl := images[(i*c+ch)*h*w : (i*c+ch+1)*h*w]
			for y := 1; y < h-1; y++ {
				for x := 1; x < w-1; x++ {
					o := y*w + x
					l := float64(pl[o-w]) + float64(pl[o+w]) + float64(pl[o-1]) + float64(pl[o+1]) - 4*float64(pl[o])
					resp = append(resp, l)
				}
			}
		}
		total += variance(resp)
	}
	return total / float64(n)
}

// variance is the population variance (divisor len) by two passes.
func variance(v []float64) float64 {
	var m float64
	for _, x := range v {
		m += x
	}
	m /= float64(len(v))
	var s float64
	for _, x := range v {
		s += (x - m) * (x - m)
	}
	return s / float64(len(v))
}

// SSIM window: 11×11 Gaussian, σ = 1.5, normalised to sum 1.
const (
	ssimWin   = 11
	ssimSigma = 1.5
	ssimK1    = 0.01
	ssimK2    = 0.03
)

// SSIM returns the mean structural similarity (Wang et al. 2004) of the
// image pairs a[i], b[i] (n images of c×h×w, row-major): with local
// statistics μ, σ², σ_ab weighted by an 11×11 Gaussian window w (σ = 1.5,
// Σw = 1; μ_a = w∗a, σ_a² = w∗a² − μ_a², σ_ab = w∗(ab) − μ_aμ_b, no sample
// correction), C1 = (0.01 L)², C2 = (0.03 L)² and L = dataRange (2 for
// images in [−1,1]),
//
//	SSIM = (2μ_aμ_b + C1)(2σ_ab + C2) / ((μ_a² + μ_b² + C1)(σ_a² + σ_b² + C2)),
//
// averaged over the valid window positions ((h−10)×(w−10) per plane),
// channels and images. It panics on mismatched shapes, h, w < 11 or
// dataRange ≤ 0.
func SSIM(a, b []float32, n, c, h, w int, dataRange float64) float64 {
	checkImages(a, n, c, h, w)
	checkImages(b, n, c, h, w)
	if h < ssimWin || w < ssimWin {
		panic(errImageSize)
	}
	if !(dataRange > 0) {
		panic(errDataRange)
	}
	g := gaussWindow(ssimWin, ssimSigma)
	c1 := (ssimK1 * dataRange) * (ssimK1 * dataRange)
	c2 := (ssimK2 * dataRange) * (ssimK2 * dataRange)
	oh, ow := h-ssimWin+1, w-ssimWin+1
	plane := h * w
	// Inputs of the five filters: a, b, a², b², ab.
	in := make([][]float64, 5)
	out := make([][]float64, 5)
	for f := range in {
		in[f] = make([]float64, plane)
		out[f] = make([]float64, oh*ow)
	}
	tmp := make([]float64, h*ow)
	var total float64
	for p := 0; p < n*c; p++ {
		pa := a[p*plane : (p+1)*plane]
		pb := b[p*plane : (p+1)*plane]
		for i := range pa {
			x, y := float64(pa[i]), float64(pb[i])
			in[0][i], in[1][i], in[2][i], in[3][i], in[4][i] = x, y, x*x, y*y, x*y
		}
		for f := range in {
			filterValid(out[f], tmp, in[f], h, w, g)
		}
		for i := range out[0] {
			ma, mb := out[0][i], out[1][i]
			va := out[2][i] - ma*ma
			vb := out[3][i] - mb*mb
			cab := out[4][i] - ma*mb
			total += (2*ma*mb + c1) * (2*cab + c2) / ((ma*ma + mb*mb + c1) * (va + vb + c2))
		}
	}
	return total / float64(n*c*oh*ow)
}

// gaussWindow returns the 1-d kernel exp(−x²/(2σ²)), x = −(size−1)/2 …
// (size−1)/2, normalised to sum 1; its outer product with itself is the 2-d
// window.
func gaussWindow(size int, sigma float64) []float64 {
	g := make([]float64, size)
	var s float64
	for i := range g {
		x := float64(i - (size-1)/2)
		g[i] = math.Exp(-x * x / (2 * sigma * sigma))
		s += g[i]
	}
	for i := range g {
		g[i] /= s
	}
	return g
}

// filterValid writes to dst ((h−len(g)+1)×(w−len(g)+1)) the valid
// correlation of the h×w plane src with the separable window g⊗g; tmp holds
// h×(w−len(g)+1) values.
func filterValid(dst, tmp, src []float64, h, w int, g []float64) {
	kw := len(g)
	ow, oh := w-kw+1, h-kw+1
	for y := 0; y < h; y++ {
		row := src[y*w : (y+1)*w]
		for x := 0; x < ow; x++ {
			var s float64
			for t, gv := range g {
				s += gv * row[x+t]
			}
			tmp[y*ow+x] = s
		}
	}
	for y := 0; y < oh; y++ {
		for x := 0; x < ow; x++ {
			var s float64
			for t, gv := range g {
				s += gv * tmp[(y+t)*ow+x]
			}
			dst[y*ow+x] = s
		}
	}
}

// MSE returns the mean squared difference (1/N) Σ_i (a_i − b_i)² of two
// slices of the same length N > 0; it panics otherwise.
func MSE(a, b []float32) float64 {
	if len(a) != len(b) || len(a) == 0 {
		panic(errLength)
	}
	var s float64
	for i, v := range a {
		t := float64(v) - float64(b[i])
		s += t * t
	}
	return s / float64(len(a))
}

// checkImages panics unless len(x) == n*c*h*w with n ≥ 1 and c, h, w > 0.
func checkImages(x []float32, n, c, h, w int) {
	if n < 1 || c < 1 || h < 1 || w < 1 {
		panic(errDims)
	}
	if len(x) != n*c*h*w {
		panic(errShape)
	}
}
