// Package latent is arithmetic in a model's latent space, as Larsen et al.
// (2016) use it: the mean code of the images that have an attribute (or
// class) minus that of those that do not is the attribute's vector, which
// added to an image's code adds the attribute to its decoding; moving a
// code from its class's mean to another's is an analogy.
package latent

import (
	"fmt"
	"math"

	"github.com/vaegan-go/vaegan/data"
	"gonum.org/v1/gonum/mat"
)

// Encoder gives the latent means of images (model.Trainer.EncodeMean).
type Encoder interface {
	EncodeMean(x []float32) ([]float32, error)
}

// fitChunk is how many images Codes encodes at once.
const fitChunk = 1000

// Codes encodes the first n images of ds, fitChunk at a time, and returns
// their codes (n×latent).
func Codes(enc Encoder, ds data.Dataset, n int) ([]float32, error) {
	if n < 1 || n > ds.Len() {
		return nil, fmt.Errorf("latent: %d images asked of %s, which holds %d", n, ds.Name(), ds.Len())
	}
	c, h, w := ds.Shape()
	size := c * h * w
	var codes []float32
	x := make([]float32, 0, fitChunk*size)
	for i0 := 0; i0 < n; i0 += fitChunk {
		i1 := min(i0+fitChunk, n)
		x = x[:(i1-i0)*size]
		for i := i0; i < i1; i++ {
			if err := ds.Image(i, x[(i-i0)*size:(i-i0+1)*size]); err != nil {
				return nil, err
			}
		}
		mu, err := enc.EncodeMean(x)
		if err != nil {
			return nil, err
		}
		codes = append(codes, mu...)
	}
	return codes, nil
}

// ClassMeans returns each class's mean code (classes×latent, in float64)
// and image count, from codes (n×latent) whose i-th has class labels[i]. A
// class without images has a zero mean and count 0.
func ClassMeans(codes []float32, labels []uint8, classes, latent int) ([][]float64, []int, error) {
	n := len(codes) / latent
	if len(labels) < n {
		return nil, nil, fmt.Errorf("latent: %d labels for %d codes", len(labels), n)
	}
	sums := make([][]float64, classes)
	for k := range sums {
		sums[k] = make([]float64, latent)
	}
	counts := make([]int, classes)
	for i := range n {
		k := int(labels[i])
		if k >= classes {
			return nil, nil, fmt.Errorf("latent: code %d has label %d, want below %d", i, k, classes)
		}
		counts[k]++
		for j, v := range codes[i*latent : (i+1)*latent] {
			sums[k][j] += float64(v)
		}
	}
	for k, s := range sums {
		if counts[k] > 0 {
			for j := range s {
				s[j] /= float64(counts[k])
			}
		}
	}
	return sums, counts, nil
}

// AttributeVectors returns, for each class k, the mean code of the images of
// class k minus the mean code of all the others (Larsen et al.'s attribute
// vector), from ClassMeans' means and counts.
func AttributeVectors(means [][]float64, counts []int) [][]float64 {
	total := 0
	sum := make([]float64, len(means[0]))
	for k, m := range means {
		total += counts[k]
		for j, v := range m {
			sum[j] += v * float64(counts[k])
		}
	}
	out := make([][]float64, len(means))
	for k, m := range means {
		out[k] = make([]float64, len(m))
		rest := total - counts[k]
		if counts[k] == 0 || rest == 0 {
			continue
		}
		for j, v := range m {
			out[k][j] = v - (sum[j]-v*float64(counts[k]))/float64(rest)
		}
	}
	return out
}

// Analogy returns z moved from class from's mean to class to's:
// z − means[from] + means[to].
func Analogy(z []float32, means [][]float64, from, to int) []float32 {
	out := make([]float32, len(z))
	for j, v := range z {
		out[j] = float32(float64(v) - means[from][j] + means[to][j])
	}
	return out
}

// BinaryVectors returns, for each attribute a, the mean code of the images
// that have it (has[a][i]) minus that of those that do not, and how many
// have it, from codes (n×latent). An attribute that all or none of the
// images have gets a zero vector.
func BinaryVectors(codes []float32, has [][]bool, latent int) ([][]float64, []int) {
	n := len(codes) / latent
	vecs := make([][]float64, len(has))
	counts := make([]int, len(has))
	for a, h := range has {
		labels := make([]uint8, n)
		for i := range n {
			if h[i] {
				labels[i] = 1
			}
		}
		means, c, _ := ClassMeans(codes, labels, 2, latent)
		counts[a] = c[1]
		vecs[a] = AttributeVectors(means, c)[1]
	}
	return vecs, counts
}

// ClassTransport moves codes between classes modelled as Gaussians: the
// map T(z) = μ_to + Σ_to^{1/2} Σ_from^{-1/2} (z − μ_from) takes class from's
// fitted Gaussian onto class to's, so a code keeps its whitened offset from
// its class's mean (its "style") measured in units of its class's spread,
// where Analogy keeps the raw offset. The covariances are regularised by
// adding Ridge to their diagonals.
type ClassTransport struct {
	means [][]float64
	root  []*mat.Dense // Σ_k^{1/2}
	inv   []*mat.Dense // Σ_k^{-1/2}
}

// Ridge is added to each class covariance's diagonal before its roots are
// taken: codes' variances are of order 1 and some directions of a class are
// nearly flat.
const Ridge = 1e-3

// NewClassTransport fits each class's mean and covariance to codes
// (n×latent) and labels. A class needs at least 2 codes.
func NewClassTransport(codes []float32, labels []uint8, classes, latent int) (*ClassTransport, error) {
	means, counts, err := ClassMeans(codes, labels, classes, latent)
	if err != nil {
		return nil, err
	}
	t := &ClassTransport{means: means, root: make([]*mat.Dense, classes), inv: make([]*mat.Dense, classes)}
	covs := make([]*mat.SymDense, classes)
	for k := range covs {
		if counts[k] < 2 {
			return nil, fmt.Errorf("latent: class %d has %d codes, want at least 2 to fit its covariance", k, counts[k])
		}
		covs[k] = mat.NewSymDense(latent, nil)
	}
	n := len(codes) / latent
	for i := range n {
		k := labels[i]
		z := codes[i*latent : (i+1)*latent]
		for a := range latent {
			da := float64(z[a]) - means[k][a]
			for b := a; b < latent; b++ {
				covs[k].SetSym(a, b, covs[k].At(a, b)+da*(float64(z[b])-means[k][b]))
			}
		}
	}
	for k, c := range covs {
		for a := range latent {
			for b := a; b < latent; b++ {
				v := c.At(a, b) / float64(counts[k]-1)
				if a == b {
					v += Ridge
				}
				c.SetSym(a, b, v)
			}
		}
		var eig mat.EigenSym
		if !eig.Factorize(c, true) {
			return nil, fmt.Errorf("latent: class %d's covariance has no eigendecomposition", k)
		}
		vals := eig.Values(nil)
		var vecs mat.Dense
		eig.VectorsTo(&vecs)
		t.root[k], t.inv[k] = powSym(&vecs, vals, 0.5), powSym(&vecs, vals, -0.5)
	}
	return t, nil
}

// powSym is V·diag(vals^p)·Vᵀ.
func powSym(vecs *mat.Dense, vals []float64, p float64) *mat.Dense {
	n := len(vals)
	scaled := mat.NewDense(n, n, nil)
	for j, v := range vals {
		s := math.Pow(v, p)
		for i := range n {
			scaled.Set(i, j, vecs.At(i, j)*s)
		}
	}
	var out mat.Dense
	out.Mul(scaled, vecs.T())
	return &out
}

// Map returns T(z) for a code z of class from, as a code of class to.
func (t *ClassTransport) Map(z []float32, from, to int) []float32 {
	n := len(z)
	d := mat.NewVecDense(n, nil)
	for j, v := range z {
		d.SetVec(j, float64(v)-t.means[from][j])
	}
	var w, y mat.VecDense
	w.MulVec(t.inv[from], d)
	y.MulVec(t.root[to], &w)
	out := make([]float32, n)
	for j := range out {
		out[j] = float32(t.means[to][j] + y.AtVec(j))
	}
	return out
}
