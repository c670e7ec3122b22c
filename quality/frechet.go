package quality

import (
	"math"

	"gonum.org/v1/gonum/blas"
	"gonum.org/v1/gonum/blas/blas64"
	"gonum.org/v1/gonum/mat"
)

// Gaussian is the mean and covariance (divided by n-1) of a set of feature
// rows: Mean_j = (1/n) Σ_i x_ij and Cov_jk = (1/(n-1)) Σ_i (x_ij-Mean_j)(x_ik-Mean_k).
type Gaussian struct {
	Mean []float64
	Cov  *mat.SymDense
}

// FitGaussian returns the sample mean and the unbiased sample covariance
// (divisor n-1) of the n rows of d features in feats (row-major, n*d
// values). It panics if the shape does not match or n < 2.
func FitGaussian(feats []float32, n, d int) Gaussian {
	checkRows(feats, n, d)
	if n < 2 {
		panic(errFewRows)
	}
	x := toFloat64(feats)
	mean := make([]float64, d)
	for i := 0; i < n; i++ {
		row := x[i*d : (i+1)*d]
		for j, v := range row {
			mean[j] += v
		}
	}
	for j := range mean {
		mean[j] /= float64(n)
	}
	for i := 0; i < n; i++ {
		row := x[i*d : (i+1)*d]
		for j := range row {
			row[j] -= mean[j]
		}
	}
	// Cov = Xcᵀ Xc / (n-1), upper triangle by a rank-n update.
	cov := blas64.Symmetric{N: d, Stride: d, Uplo: blas.Upper, Data: make([]float64, d*d)}
	blas64.Syrk(blas.Trans, 1/float64(n-1), blas64.General{Rows: n, Cols: d, Stride: d, Data: x}, 0, cov)
	return Gaussian{Mean: mean, Cov: mat.NewSymDense(d, cov.Data)}
}

// FrechetDistance returns the Fréchet (2-Wasserstein²) distance between two
// Gaussians:
//
//	|m1-m2|² + Tr(C1 + C2 − 2(C1^½ C2 C1^½)^½).
//
// The matrix square roots are taken through symmetric eigendecompositions
// (mat.EigenSym), clamping tiny negative eigenvalues of the positive
// semi-definite matrices to 0; a negative total from round-off is returned
// as 0. It returns NaN if an eigendecomposition fails to converge and
// panics if the dimensions differ.
func FrechetDistance(a, b Gaussian) float64 {
	d := len(a.Mean)
	if d == 0 || len(b.Mean) != d || a.Cov == nil || b.Cov == nil ||
		a.Cov.SymmetricDim() != d || b.Cov.SymmetricDim() != d {
		panic(errGaussDims)
	}
	var dm float64
	for j := range a.Mean {
		t := a.Mean[j] - b.Mean[j]
		dm += t * t
	}
	s1, ok := sqrtPSD(a.Cov)
	if !ok {
		return math.NaN()
	}
	// M = C1^½ C2 C1^½, symmetrised against round-off.
	var t, m mat.Dense
	t.Mul(s1, b.Cov)
	m.Mul(&t, s1)
	ms := mat.NewSymDense(d, nil)
	for i := 0; i < d; i++ {
		for j := i; j < d; j++ {
			ms.SetSym(i, j, 0.5*(m.At(i, j)+m.At(j, i)))
		}
	}
	var eig mat.EigenSym
	if !eig.Factorize(ms, false) {
		return math.NaN()
	}
	var trSqrt float64
	for _, v := range eig.Values(nil) {
		if v > 0 {
			trSqrt += math.Sqrt(v)
		}
	}
	var tr float64
	for i := 0; i < d; i++ {
		tr += a.Cov.At(i, i) + b.Cov.At(i, i)
	}
	fd := dm + tr - 2*trSqrt
	if fd < 0 {
		return 0
	}
	return fd
}

// sqrtPSD returns the symmetric square root V diag(√max(λ,0)) Vᵀ of a
// positive semi-definite matrix with eigendecomposition V diag(λ) Vᵀ.
func sqrtPSD(c *mat.SymDense) (*mat.Dense, bool) {
	var eig mat.EigenSym
	if !eig.Factorize(c, true) {
		return nil, false
	}
	d := c.SymmetricDim()
	vals := eig.Values(nil)
	var v mat.Dense
	eig.VectorsTo(&v)
	w := mat.NewDense(d, d, nil)
	w.Copy(&v)
	for j, l := range vals {
		s := 0.0
		if l > 0 {
			s = math.Sqrt(l)
		}
		for i := 0; i < d; i++ {
			w.Set(i, j, w.At(i, j)*s)
		}
	}
	var out mat.Dense
	out.Mul(w, v.T())
	return &out, true
}
