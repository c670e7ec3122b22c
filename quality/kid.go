package quality

import (
	"math"
	"math/rand/v2"

	"gonum.org/v1/gonum/blas"
	"gonum.org/v1/gonum/blas/blas64"
)

// KID returns the kernel inception distance between the nx rows of x and
// the ny rows of y (d features each): the unbiased estimate of MMD² with the
// cubic polynomial kernel k(a,b) = (a·b/d + 1)³,
//
//	MMD²_u = Σ_{i≠j} k(x_i,x_j)/(m(m-1)) + Σ_{i≠j} k(y_i,y_j)/(m(m-1)) − 2 Σ_{i,j} k(x_i,y_j)/m²,
//
// averaged over `subsets` subsets of m = min(size, nx, ny) rows of each set.
// A set with exactly m rows is used whole, in order, with no randomness;
// otherwise its m rows are drawn without replacement by a math/rand/v2 PCG
// seeded with (seed, seed). It returns the mean over subsets and its
// standard error s/√subsets, s being the sample standard deviation (divisor
// subsets-1) of the per-subset estimates (0 when subsets == 1). The
// estimate is unbiased and may be negative. It panics on mismatched shapes,
// subsets < 1 or m < 2.
func KID(x []float32, nx int, y []float32, ny int, d, subsets, size int, seed uint64) (mean, stderr float64) {
	checkRows(x, nx, d)
	checkRows(y, ny, d)
	m := min(size, nx, ny)
	if subsets < 1 || m < 2 {
		panic(errKIDArgs)
	}
	rng := rand.New(rand.NewPCG(seed, seed))
	px, py := identity(nx), identity(ny)
	xs := make([]float64, m*d)
	ys := make([]float64, m*d)
	gram := make([]float64, m*m)
	vals := make([]float64, subsets)
	for s := range vals {
		gatherRows(xs, x, d, pickRows(rng, px, m))
		gatherRows(ys, y, d, pickRows(rng, py, m))
		vals[s] = mmd2Unbiased(xs, ys, m, d, gram)
	}
	for _, v := range vals {
		mean += v
	}
	mean /= float64(subsets)
	if subsets > 1 {
		var ss float64
		for _, v := range vals {
			ss += (v - mean) * (v - mean)
		}
		stderr = math.Sqrt(ss/float64(subsets-1)) / math.Sqrt(float64(subsets))
	}
	return mean, stderr
}

// identity returns 0, 1, ..., n-1.
func identity(n int) []int {
	p := make([]int, n)
	for i := range p {
		p[i] = i
	}
	return p
}

// pickRows returns m distinct indices out of len(perm): all of them in
// order when m == len(perm) (no random draws), otherwise a uniform random
// m-subset by a partial Fisher–Yates shuffle of perm (which it permutes).
func pickRows(rng *rand.Rand, perm []int, m int) []int {
	n := len(perm)
	if m == n {
		return perm
	}
	for i := 0; i < m; i++ {
		j := i + rng.IntN(n-i)
		perm[i], perm[j] = perm[j], perm[i]
	}
	return perm[:m]
}

// gatherRows copies rows idx of src (d columns) into dst as float64.
func gatherRows(dst []float64, src []float32, d int, idx []int) {
	for r, i := range idx {
		row := src[i*d : (i+1)*d]
		out := dst[r*d : (r+1)*d]
		for j, v := range row {
			out[j] = float64(v)
		}
	}
}

// mmd2Unbiased is the unbiased MMD² of the m rows of xs and ys under the
// kernel (a·b/d + 1)³; gram is scratch of m*m values.
func mmd2Unbiased(xs, ys []float64, m, d int, gram []float64) float64 {
	inv := 1 / float64(d)
	k := func(dot float64) float64 {
		t := dot*inv + 1
		return t * t * t
	}
	// Sum of k over i<j of a set with itself, from the upper triangle.
	within := func(a []float64) float64 {
		g := blas64.Symmetric{N: m, Stride: m, Uplo: blas.Upper, Data: gram}
		blas64.Syrk(blas.NoTrans, 1, blas64.General{Rows: m, Cols: d, Stride: d, Data: a}, 0, g)
		var s float64
		for i := 0; i < m; i++ {
			for _, v := range gram[i*m+i+1 : (i+1)*m] {
				s += k(v)
			}
		}
		return s
	}
	sxx := within(xs)
	syy := within(ys)
	blas64.Gemm(blas.NoTrans, blas.Trans, 1,
		blas64.General{Rows: m, Cols: d, Stride: d, Data: xs},
		blas64.General{Rows: m, Cols: d, Stride: d, Data: ys},
		0, blas64.General{Rows: m, Cols: m, Stride: m, Data: gram})
	var sxy float64
	for _, v := range gram {
		sxy += k(v)
	}
	fm := float64(m)
	return 2*(sxx+syy)/(fm*(fm-1)) - 2*sxy/(fm*fm)
}
