package latent

import (
	"math"
	"math/rand/v2"
	"testing"
)

// images is a dataset of n 1×1×3 images whose pixels are a function of i.
type images struct{ n int }

func (d images) Len() int               { return d.n }
func (d images) Shape() (c, h, w int)   { return 1, 1, 3 }
func (d images) Name() string           { return "images" }
func (d images) pixel(i, j int) float32 { return float32(math.Sin(float64(3*i + j))) }
func (d images) Image(i int, dst []float32) error {
	for j := range dst {
		dst[j] = d.pixel(i, j)
	}
	return nil
}

// firstTwo "encodes" an image as its first two pixels, doubled.
type firstTwo struct{}

func (firstTwo) EncodeMean(x []float32) ([]float32, error) {
	var mu []float32
	for i := 0; i < len(x); i += 3 {
		mu = append(mu, 2*x[i], 2*x[i+1])
	}
	return mu, nil
}

// Class means, attribute vectors and analogies against a direct
// computation over 2,500 images (three chunks of the fit); the labels (i²
// mod 3) leave classes 2 and 3 empty.
func TestClassMeansAndVectors(t *testing.T) {
	ds := images{n: 2600}
	n := 2500
	labels := make([]uint8, ds.n)
	for i := range labels {
		labels[i] = uint8((i * i) % 3)
	}
	codes, err := Codes(firstTwo{}, ds, n)
	if err != nil {
		t.Fatal(err)
	}
	means, counts, err := ClassMeans(codes, labels, 4, 2)
	if err != nil {
		t.Fatal(err)
	}
	for k := range 4 {
		var sum [2]float64
		var cnt int
		var others [2]float64
		for i := range n {
			code := [2]float64{2 * float64(ds.pixel(i, 0)), 2 * float64(ds.pixel(i, 1))}
			if int(labels[i]) == k {
				cnt++
				sum[0], sum[1] = sum[0]+code[0], sum[1]+code[1]
			} else {
				others[0], others[1] = others[0]+code[0], others[1]+code[1]
			}
		}
		if counts[k] != cnt {
			t.Errorf("class %d: %d images, want %d", k, counts[k], cnt)
		}
		vec := AttributeVectors(means, counts)[k]
		for j := range 2 {
			want, wantVec := 0.0, 0.0
			if cnt > 0 {
				want = sum[j] / float64(cnt)
				wantVec = want - others[j]/float64(n-cnt)
			}
			if math.Abs(means[k][j]-want) > 1e-6 || math.Abs(vec[j]-wantVec) > 1e-6 {
				t.Errorf("class %d, dim %d: mean %v vector %v, want %v and %v", k, j, means[k][j], vec[j], want, wantVec)
			}
		}
	}
	z := []float32{0.5, -0.25}
	got := Analogy(z, means, 0, 2)
	for j := range z {
		if want := float64(z[j]) - means[0][j] + means[2][j]; math.Abs(float64(got[j])-want) > 1e-6 {
			t.Errorf("analogy dim %d: %v, want %v", j, got[j], want)
		}
	}
	if _, _, err := ClassMeans(codes, labels, 1, 2); err == nil {
		t.Error("a label beyond the classes was accepted")
	}
	// A binary attribute's vector is its class-1 attribute vector.
	has := make([]bool, n)
	for i := range has {
		has[i] = labels[i] == 1
	}
	bv, bc := BinaryVectors(codes, [][]bool{has}, 2)
	if want := AttributeVectors(means, counts)[1]; bc[0] != counts[1] || math.Abs(bv[0][0]-want[0]) > 1e-9 || math.Abs(bv[0][1]-want[1]) > 1e-9 {
		t.Errorf("binary attribute: vector %v count %d, want %v and %d", bv[0], bc[0], want, counts[1])
	}
}

// TestClassTransport checks the Gaussian map on codes drawn from two known
// Gaussians: a code moves by the ratio of the classes' standard deviations
// along their (shared) axes, a class onto itself is the identity, and class
// 0's codes moved to class 1 have class 1's fitted mean and covariance.
func TestClassTransport(t *testing.T) {
	const n = 20000
	rng := rand.New(rand.NewPCG(4, 5))
	// Class 0: mean (1, −2), standard deviations (1, 2); class 1: mean
	// (0, 3), standard deviations (3, 0.5), the same axes.
	mean := [2][2]float64{{1, -2}, {0, 3}}
	sd := [2][2]float64{{1, 2}, {3, 0.5}}
	codes := make([]float32, 0, 2*n)
	labels := make([]uint8, n)
	for i := range labels {
		k := i % 2
		labels[i] = uint8(k)
		for j := range 2 {
			codes = append(codes, float32(mean[k][j]+sd[k][j]*rng.NormFloat64()))
		}
	}
	tr, err := NewClassTransport(codes, labels, 2, 2)
	if err != nil {
		t.Fatal(err)
	}
	got := tr.Map([]float32{2, 0}, 0, 1) // one sd above class 0's mean on both axes
	want := []float64{0 + 3, 3 + 0.5}
	for j := range want { // 10,000 draws per class: fitted means within ~0.03, standard deviations ~1 %
		if math.Abs(float64(got[j])-want[j]) > 0.1 {
			t.Errorf("Map((2, 0), 0→1) = %v, want ≈ %v (one sd of class 1 above its mean)", got, want)
		}
	}
	same := tr.Map([]float32{0.3, -1.7}, 1, 1)
	if math.Abs(float64(same[0])-0.3) > 1e-5 || math.Abs(float64(same[1])+1.7) > 1e-5 {
		t.Errorf("Map within class 1 = %v, want the code itself", same)
	}
	// Class 0's codes moved to class 1: its fitted mean and covariance.
	var moved []float32
	var movedLabels []uint8
	for i := 0; i < n; i += 2 {
		moved = append(moved, tr.Map(codes[2*i:2*i+2], 0, 1)...)
		movedLabels = append(movedLabels, 0)
	}
	m, _, err := ClassMeans(moved, movedLabels, 1, 2)
	if err != nil {
		t.Fatal(err)
	}
	var sxx, syy, sxy float64
	for i := 0; i < len(moved); i += 2 {
		dx, dy := float64(moved[i])-m[0][0], float64(moved[i+1])-m[0][1]
		sxx, syy, sxy = sxx+dx*dx, syy+dy*dy, sxy+dx*dy
	}
	k := float64(len(moved)/2 - 1)
	t1 := tr.means[1]
	if math.Abs(m[0][0]-t1[0]) > 1e-4 || math.Abs(m[0][1]-t1[1]) > 1e-4 {
		t.Errorf("moved codes' mean %v, want class 1's %v", m[0], t1)
	}
	if math.Abs(sxx/k-9) > 0.3 || math.Abs(syy/k-0.25) > 0.01 || math.Abs(sxy/k) > 0.05 {
		t.Errorf("moved codes' covariance [%.3f %.3f; %.3f], want class 1's ≈ [9 0; 0.25]", sxx/k, sxy/k, syy/k)
	}
	if _, err := NewClassTransport(codes[:2], labels[:1], 2, 2); err == nil {
		t.Error("a class with fewer than 2 codes: no error")
	}
}
