package backendtest

import (
	"math"

	"github.com/vaegan-go/vaegan/backend"
)

// The reference implementations: plain float64 loops written from the
// definitions in package backend. Outputs that a backend accumulates into are
// returned as fresh increments; the caller adds the prior contents.

// refGemm returns alpha*op(A)*op(B) + beta*C.
func refGemm(transA, transB bool, m, n, k int, alpha float64, a, b []float64, beta float64, c []float64) []float64 {
	out := make([]float64, m*n)
	for i := 0; i < m; i++ {
		for j := 0; j < n; j++ {
			var s float64
			for l := 0; l < k; l++ {
				av := a[i*k+l]
				if transA {
					av = a[l*m+i]
				}
				bv := b[l*n+j]
				if transB {
					bv = b[j*k+l]
				}
				s += av * bv
			}
			out[i*n+j] = alpha*s + beta*c[i*n+j]
		}
	}
	return out
}

// convTap calls f for every (output pixel, weight tap, input pixel) triple
// of the convolution g that touches the inside of the input, with flat
// indices into y, w and x.
func convTap(g backend.ConvGeom, f func(yi, wi, xi int)) {
	for n := 0; n < g.N; n++ {
		for k := 0; k < g.K; k++ {
			for oy := 0; oy < g.OH; oy++ {
				for ox := 0; ox < g.OW; ox++ {
					yi := ((n*g.K+k)*g.OH+oy)*g.OW + ox
					for c := 0; c < g.C; c++ {
						for ky := 0; ky < g.R; ky++ {
							iy := oy*g.Stride - g.Pad + ky
							if iy < 0 || iy >= g.H {
								continue
							}
							for kx := 0; kx < g.R; kx++ {
								ix := ox*g.Stride - g.Pad + kx
								if ix < 0 || ix >= g.W {
									continue
								}
								wi := ((k*g.C+c)*g.R+ky)*g.R + kx
								xi := ((n*g.C+c)*g.H+iy)*g.W + ix
								f(yi, wi, xi)
							}
						}
					}
				}
			}
		}
	}
}

// refConvForward returns y = conv(x, w).
func refConvForward(g backend.ConvGeom, x, w []float64) []float64 {
	y := make([]float64, g.N*g.K*g.OH*g.OW)
	convTap(g, func(yi, wi, xi int) { y[yi] += x[xi] * w[wi] })
	return y
}

// refConvBackwardData returns dx = convᵀ(dy, w).
func refConvBackwardData(g backend.ConvGeom, dy, w []float64) []float64 {
	dx := make([]float64, g.N*g.C*g.H*g.W)
	convTap(g, func(yi, wi, xi int) { dx[xi] += dy[yi] * w[wi] })
	return dx
}

// refConvBackwardFilter returns the weight gradient for output gradient dy.
func refConvBackwardFilter(g backend.ConvGeom, x, dy []float64) []float64 {
	dw := make([]float64, g.K*g.C*g.R*g.R)
	convTap(g, func(yi, wi, xi int) { dw[wi] += dy[yi] * x[xi] })
	return dw
}

// refConvTranspose is PyTorch's ConvTranspose2d(k→c) written independently
// of the Conv2d geometry, as a gather over the output: in [n, k, hin, win],
// w [k, c, r, r], output [n, c, hout, wout] with
// hout = (hin-1)*stride - 2*pad + r + outPad.
func refConvTranspose(in, w []float64, n, k, hin, win, c, r, stride, pad, outPad int) (out []float64, hout, wout int) {
	hout = (hin-1)*stride - 2*pad + r + outPad
	wout = (win-1)*stride - 2*pad + r + outPad
	out = make([]float64, n*c*hout*wout)
	for b := 0; b < n; b++ {
		for co := 0; co < c; co++ {
			for oy := 0; oy < hout; oy++ {
				for ox := 0; ox < wout; ox++ {
					var s float64
					for ky := 0; ky < r; ky++ {
						ty := oy + pad - ky
						if ty < 0 || ty%stride != 0 || ty/stride >= hin {
							continue
						}
						for kx := 0; kx < r; kx++ {
							tx := ox + pad - kx
							if tx < 0 || tx%stride != 0 || tx/stride >= win {
								continue
							}
							for ki := 0; ki < k; ki++ {
								s += in[((b*k+ki)*hin+ty/stride)*win+tx/stride] * w[((ki*c+co)*r+ky)*r+kx]
							}
						}
					}
					out[((b*c+co)*hout+oy)*wout+ox] = s
				}
			}
		}
	}
	return out, hout, wout
}

// refBias returns y + b[c] over [n, c, s].
func refBias(y, b []float64, n, c, s int) []float64 {
	out := make([]float64, len(y))
	for i := 0; i < n; i++ {
		for j := 0; j < c; j++ {
			for k := 0; k < s; k++ {
				o := (i*c+j)*s + k
				out[o] = y[o] + b[j]
			}
		}
	}
	return out
}

// refBiasBackward returns Σ_{n,s} dy[n, c, s].
func refBiasBackward(dy []float64, n, c, s int) []float64 {
	db := make([]float64, c)
	for i := 0; i < n; i++ {
		for j := 0; j < c; j++ {
			for k := 0; k < s; k++ {
				db[j] += dy[(i*c+j)*s+k]
			}
		}
	}
	return db
}

// bnStats are the per-channel batch statistics of x [n, c, s].
type bnStats struct {
	mean, invstd, unbiased []float64
}

// refBatchNormTrain returns the normalised y and the batch statistics.
func refBatchNormTrain(x, gamma, beta []float64, n, c, s int, eps float64) ([]float64, bnStats) {
	st := bnStats{make([]float64, c), make([]float64, c), make([]float64, c)}
	y := make([]float64, len(x))
	m := float64(n * s)
	for j := 0; j < c; j++ {
		var sum, sq float64
		for i := 0; i < n; i++ {
			for k := 0; k < s; k++ {
				sum += x[(i*c+j)*s+k]
			}
		}
		mean := sum / m
		for i := 0; i < n; i++ {
			for k := 0; k < s; k++ {
				d := x[(i*c+j)*s+k] - mean
				sq += d * d
			}
		}
		st.mean[j] = mean
		st.invstd[j] = 1 / math.Sqrt(sq/m+eps)
		st.unbiased[j] = sq / (m - 1)
		for i := 0; i < n; i++ {
			for k := 0; k < s; k++ {
				o := (i*c+j)*s + k
				y[o] = (x[o]-mean)*st.invstd[j]*gamma[j] + beta[j]
			}
		}
	}
	return y, st
}

// refBatchNormEval returns x normalised with the running statistics.
func refBatchNormEval(x, gamma, beta, runMean, runVar []float64, n, c, s int, eps float64) []float64 {
	y := make([]float64, len(x))
	for i := 0; i < n; i++ {
		for j := 0; j < c; j++ {
			for k := 0; k < s; k++ {
				o := (i*c+j)*s + k
				y[o] = (x[o]-runMean[j])/math.Sqrt(runVar[j]+eps)*gamma[j] + beta[j]
			}
		}
	}
	return y
}

// refBatchNormBackward returns dx, dgamma and dbeta for a training-mode
// batch norm with the given saved statistics.
func refBatchNormBackward(x, dy, gamma, mean, invstd []float64, n, c, s int) (dx, dgamma, dbeta []float64) {
	dx = make([]float64, len(x))
	dgamma, dbeta = make([]float64, c), make([]float64, c)
	m := float64(n * s)
	for j := 0; j < c; j++ {
		for i := 0; i < n; i++ {
			for k := 0; k < s; k++ {
				o := (i*c+j)*s + k
				dbeta[j] += dy[o]
				dgamma[j] += dy[o] * (x[o] - mean[j]) * invstd[j]
			}
		}
		for i := 0; i < n; i++ {
			for k := 0; k < s; k++ {
				o := (i*c+j)*s + k
				xhat := (x[o] - mean[j]) * invstd[j]
				dx[o] = gamma[j] * invstd[j] * (dy[o] - dbeta[j]/m - xhat*dgamma[j]/m)
			}
		}
	}
	return dx, dgamma, dbeta
}

// refAct returns f(x).
func refAct(f backend.Activation, x []float64, slope float64) []float64 {
	y := make([]float64, len(x))
	for i, v := range x {
		switch f {
		case backend.ReLU:
			y[i] = math.Max(v, 0)
		case backend.LeakyReLU:
			y[i] = v
			if v < 0 {
				y[i] = slope * v
			}
		case backend.Tanh:
			y[i] = math.Tanh(v)
		}
	}
	return y
}

// refActBackward returns f'(x)*dy computed from y = f(x).
func refActBackward(f backend.Activation, y, dy []float64, slope float64) []float64 {
	dx := make([]float64, len(y))
	for i, v := range y {
		switch f {
		case backend.ReLU:
			if v > 0 {
				dx[i] = dy[i]
			}
		case backend.LeakyReLU:
			dx[i] = slope * dy[i]
			if v > 0 {
				dx[i] = dy[i]
			}
		case backend.Tanh:
			dx[i] = (1 - v*v) * dy[i]
		}
	}
	return dx
}

// refReparameterize returns mu + exp(logvar/2)*eps.
func refReparameterize(mu, logvar, eps []float64) []float64 {
	z := make([]float64, len(mu))
	for i := range mu {
		z[i] = mu[i] + math.Exp(logvar[i]/2)*eps[i]
	}
	return z
}

// refReparameterizeBackward returns the gradients of z with respect to mu
// and logvar, given dz.
func refReparameterizeBackward(logvar, eps, dz []float64) (dmu, dlogvar []float64) {
	dmu, dlogvar = make([]float64, len(dz)), make([]float64, len(dz))
	for i := range dz {
		dmu[i] = dz[i]
		dlogvar[i] = dz[i] * eps[i] * math.Exp(logvar[i]/2) / 2
	}
	return dmu, dlogvar
}

// refKL returns scale * -0.5*Σ(1 + logvar - mu² - exp(logvar)) and its
// gradients.
func refKL(mu, logvar []float64, scale float64) (loss float64, dmu, dlogvar []float64) {
	dmu, dlogvar = make([]float64, len(mu)), make([]float64, len(mu))
	for i := range mu {
		loss += -0.5 * scale * (1 + logvar[i] - mu[i]*mu[i] - math.Exp(logvar[i]))
		dmu[i] = scale * mu[i]
		dlogvar[i] = -0.5 * scale * (1 - math.Exp(logvar[i]))
	}
	return loss, dmu, dlogvar
}

// refBCE returns scale*Σ -[t*log σ(l) + (1-t)*log(1-σ(l))] and its gradient.
func refBCE(logits []float64, target, scale float64) (loss float64, grad []float64) {
	grad = make([]float64, len(logits))
	for i, l := range logits {
		p := 1 / (1 + math.Exp(-l))
		loss += -scale * (target*math.Log(p) + (1-target)*math.Log(1-p))
		grad[i] = scale * (p - target)
	}
	return loss, grad
}

// refSoftmaxCE returns scale*Σ_rows -log softmax(row)[class] and its
// gradient, for rows of length k.
func refSoftmaxCE(logits []float64, k, class int, scale float64) (loss float64, grad []float64) {
	grad = make([]float64, len(logits))
	for o := 0; o < len(logits); o += k {
		var z float64
		for j := 0; j < k; j++ {
			z += math.Exp(logits[o+j])
		}
		loss += -scale * math.Log(math.Exp(logits[o+class])/z)
		for j := 0; j < k; j++ {
			grad[o+j] = scale * math.Exp(logits[o+j]) / z
		}
		grad[o+class] -= scale
	}
	return loss, grad
}

// refSquaredError returns scale*0.5*Σ(a-b)² and its gradient in a.
// refSumSquares is Σ x².
func refSumSquares(x []float64) float64 {
	var s float64
	for _, v := range x {
		s += v * v
	}
	return s
}

func refSquaredError(a, b []float64, scale float64) (loss float64, grad []float64) {
	grad = make([]float64, len(a))
	for i := range a {
		d := a[i] - b[i]
		loss += scale * 0.5 * d * d
		grad[i] = scale * d
	}
	return loss, grad
}

// adamHyper are the Adam hyper-parameters the suite uses.
type adamHyper struct{ lr, b1, b2, eps float64 }

// refAdam runs Adam steps 1..len(grads) on p, m, v in place.
func refAdam(p, m, v []float64, grads [][]float64, h adamHyper) {
	for t, g := range grads {
		bc1 := 1 - math.Pow(h.b1, float64(t+1))
		bc2 := 1 - math.Pow(h.b2, float64(t+1))
		for i := range p {
			m[i] = h.b1*m[i] + (1-h.b1)*g[i]
			v[i] = h.b2*v[i] + (1-h.b2)*g[i]*g[i]
			p[i] -= h.lr / bc1 * m[i] / (math.Sqrt(v[i])/math.Sqrt(bc2) + h.eps)
		}
	}
}

// refRMSProp runs RMSprop steps on p, v in place.
func refRMSProp(p, v []float64, grads [][]float64, lr, alpha, eps float64) {
	for _, g := range grads {
		for i := range p {
			v[i] = alpha*v[i] + (1-alpha)*g[i]*g[i]
			p[i] -= lr * g[i] / (math.Sqrt(v[i]) + eps)
		}
	}
}
