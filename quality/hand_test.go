package quality

import (
	"math"
	"math/rand/v2"
	"sort"
	"testing"

	"gonum.org/v1/gonum/mat"
)

// Hand-worked cases with closed-form answers.

func gauss(mean []float64, cov ...float64) Gaussian {
	return Gaussian{Mean: mean, Cov: mat.NewSymDense(len(mean), cov)}
}

func randRows(rng *rand.Rand, n, d int, shift, scale float64) []float32 {
	x := make([]float32, n*d)
	for i := range x {
		x[i] = float32(rng.NormFloat64()*scale + shift)
	}
	return x
}

func TestFrechetHand(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	g := FitGaussian(randRows(rng, 200, 12, 0.3, 2), 200, 12)
	if fd := FrechetDistance(g, g); fd > 1e-11 {
		t.Errorf("FD(g,g) = %g, want 0", fd)
	}
	// Rank-deficient covariance (n < d): still 0 against itself, not NaN.
	gs := FitGaussian(randRows(rng, 5, 10, 0, 1), 5, 10)
	if fd := FrechetDistance(gs, gs); !(fd < 1e-10) {
		t.Errorf("FD(singular, itself) = %g, want 0", fd)
	}

	// 1-d from data: {−1, 1} has mean 0, variance 2; {1, 5} mean 3,
	// variance 8: (0−3)² + (√2 − √8)² = 9 + 2 = 11.
	a := FitGaussian([]float32{-1, 1}, 2, 1)
	b := FitGaussian([]float32{1, 5}, 2, 1)
	checkRel(t, "1-d from data", FrechetDistance(a, b), 11, 1e-14)
	// 1-d: (m1−m2)² + (σ1−σ2)² = (1+2)² + (2−3)² = 10.
	checkRel(t, "1-d", FrechetDistance(gauss([]float64{1}, 4), gauss([]float64{-2}, 9)), 10, 1e-14)

	// Diagonal: Σ(m1−m2)² + Σ(√a_i − √b_i)² = (1+4) + ((1−2)² + 0 + (3−1)²) = 10.
	c1 := gauss([]float64{0, 0, 0}, 1, 0, 0, 0, 4, 0, 0, 0, 9)
	c2 := gauss([]float64{1, 2, 0}, 4, 0, 0, 0, 4, 0, 0, 0, 1)
	checkRel(t, "diagonal", FrechetDistance(c1, c2), 10, 1e-13)

	// Commuting, rotated by 30°: eigenvalues (1,4) and (9,16) on the same
	// axes give (1−3)² + (2−4)² = 8.
	rot := func(l1, l2 float64) Gaussian {
		c, s := math.Cos(math.Pi/6), math.Sin(math.Pi/6)
		return gauss([]float64{0, 0},
			l1*c*c+l2*s*s, (l1-l2)*c*s,
			(l1-l2)*c*s, l1*s*s+l2*c*c)
	}
	checkRel(t, "rotated commuting", FrechetDistance(rot(1, 4), rot(9, 16)), 8, 1e-12)

	// Non-commuting 2×2: for 2×2 PSD M, Tr M^½ = √(Tr M + 2√det M), and with
	// M = C1^½C2C1^½, Tr M = Tr(C1C2), det M = det C1 det C2. C1 = [2 1; 1 2],
	// C2 = diag(1, 3): Tr(C1C2) = 8, det = 3·3, so Tr = √14 and
	// FD = |(1,1)|² + 4 + 4 − 2√14.
	n1 := gauss([]float64{0, 0}, 2, 1, 1, 2)
	n2 := gauss([]float64{1, -1}, 1, 0, 0, 3)
	checkRel(t, "non-commuting 2x2", FrechetDistance(n1, n2), 2+8-2*math.Sqrt(14), 1e-13)
}

func TestKIDHand(t *testing.T) {
	// d = 1, x = {0, 1}, y = {0, 2}, k(a,b) = (ab + 1)³:
	// within x: k(0,1) = 1; within y: k(0,2) = 1; cross: 1, 1, 1, 27 → mean 7.5.
	// MMD²_u = 1 + 1 − 2·7.5 = −13.
	m, se := KID([]float32{0, 1}, 2, []float32{0, 2}, 2, 1, 1, 50, 3)
	checkRel(t, "KID 1-d", m, -13, 1e-15)
	if se != 0 {
		t.Errorf("stderr %g", se)
	}

	// Unequal sizes, size ≥ both: m = nx = 3, x used whole, y subsampled.
	// All rows of y are equal, so the draw cannot matter: with x = {0,1,2},
	// y = {1}×5 in d = 1: within x: k(0,1)=1, k(0,2)=1, k(1,2)=27 → mean
	// 29/3; within y: 8; cross: k(0,1)=1, k(1,1)=8, k(2,1)=27 → mean 12.
	// MMD²_u = 29/3 + 8 − 24.
	m, _ = KID([]float32{0, 1, 2}, 3, []float32{1, 1, 1, 1, 1}, 5, 1, 2, 100, 9)
	checkRel(t, "KID unequal sizes", m, 29.0/3+8-24, 1e-14)
}

func TestKIDSubsets(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	const n, d = 120, 6
	x := randRows(rng, n, d, 0, 1)
	y := randRows(rng, n, d, 0.4, 1.2)
	full, _ := KID(x, n, y, n, d, 1, n, 0)
	m1, se1 := KID(x, n, y, n, d, 400, 30, 11)
	m2, se2 := KID(x, n, y, n, d, 400, 30, 11)
	m3, _ := KID(x, n, y, n, d, 400, 30, 12)
	if m1 != m2 || se1 != se2 {
		t.Errorf("same seed, different results: %v±%v vs %v±%v", m1, se1, m2, se2)
	}
	if m1 == m3 {
		t.Errorf("different seeds, same mean %v", m1)
	}
	if !(se1 > 0) {
		t.Fatalf("stderr %v over random subsets", se1)
	}
	// Uniform subsets of both sets make the subset estimate an unbiased
	// estimate of the full-set U-statistic.
	if z := math.Abs(m1-full) / se1; z > 4 {
		t.Errorf("subset mean %v ± %v is %.1f stderr from the full-set value %v", m1, se1, z, full)
	}
	// pickRows draws distinct in-range indices.
	perm := identity(50)
	r := rand.New(rand.NewPCG(5, 5))
	for trial := 0; trial < 20; trial++ {
		seen := map[int]bool{}
		for _, i := range pickRows(r, perm, 17) {
			if i < 0 || i >= 50 || seen[i] {
				t.Fatalf("bad subset index %d", i)
			}
			seen[i] = true
		}
	}
}

func TestPrecisionRecallHand(t *testing.T) {
	// Identical sets, with duplicate rows: every row is inside its own ball.
	rng := rand.New(rand.NewPCG(6, 7))
	x := randRows(rng, 40, 5, 0, 1)
	copy(x[5*5:6*5], x[0:5])
	copy(x[9*5:10*5], x[0:5])
	copy(x[10*5:11*5], x[0:5])
	for _, k := range []int{1, 3} {
		p, r := PrecisionRecall(x, 40, x, 40, 5, k)
		if p != 1 || r != 1 {
			t.Errorf("identical sets, k=%d: precision %v recall %v, want 1 1", k, p, r)
		}
	}

	// Every row duplicated, k = 1: all radii are exactly 0, so a row is
	// inside a ball only if it equals its centre. With coordinates spanning
	// six decades (d = 128) the expansion |a|²+|b|²−2a·b of equal rows is
	// not exactly 0; the exact recomputation must decide.
	const nd, dd = 50, 128
	dup := make([]float32, 2*nd*dd)
	for i := 0; i < nd; i++ {
		for c := 0; c < dd; c++ {
			v := float32(rng.NormFloat64() * math.Pow(10, 6*rng.Float64()-3))
			dup[(2*i)*dd+c], dup[(2*i+1)*dd+c] = v, v
		}
	}
	p, r := PrecisionRecall(dup, 2*nd, dup, 2*nd, dd, 1)
	if p != 1 || r != 1 {
		t.Errorf("duplicated rows: precision %v recall %v, want 1 1", p, r)
	}
	// Moving one coordinate of every 4th fake row by one float32 ulp (ε)
	// takes it out of every real ball (all of radius 0): precision 3/4. The
	// moved row and its unmoved twin now have fake radius ε, and the real
	// original lies at exactly ε from the moved row: recall stays 1.
	moved := append([]float32(nil), dup...)
	for i := 0; i < 2*nd; i += 4 {
		moved[i*dd+7] = math.Nextafter32(moved[i*dd+7], float32(math.Inf(1)))
	}
	p, r = PrecisionRecall(dup, 2*nd, moved, 2*nd, dd, 1)
	if p != 0.75 || r != 1 {
		t.Errorf("moved rows: precision %v recall %v, want 0.75 1", p, r)
	}

	// 1-d, k = 1. real {0, 1, 2, 10}: radii 1, 1, 1, 8.
	// fake {0.5, 2.9, 5, 5.5, 30, 30.25}: radii 2.4, 2.1, 0.5, 0.5, 0.25, 0.25.
	// Precision: 0.5 (ball of 0), 2.9 (ball of 2), 5 and 5.5 (ball of 10,
	// radius 8) are inside; 30 and 30.25 are 20+ from 10 → 4/6.
	// Recall: 0, 1 inside the ball of 0.5; 2 inside that of 2.9; 10 is 4.5
	// from 5.5 (radius 0.5) and 20 from 30 (radius 0.25) → 3/4.
	real := []float32{0, 1, 2, 10}
	fake := []float32{0.5, 2.9, 5, 5.5, 30, 30.25}
	p, r = PrecisionRecall(real, 4, fake, 6, 1, 1)
	if p != 4.0/6 || r != 3.0/4 {
		t.Errorf("1-d: precision %v recall %v, want 4/6 3/4", p, r)
	}
	// k = 2: real radii 2, 1, 2, 9; fake radii 4.5, 2.4, 2.1, 2.6, 24.5,
	// 24.75. Precision: 30 is 20 from 10, > 9,
	// still out → 4/6. Recall: 10 is now within 24.5 of 30 → 4/4.
	p, r = PrecisionRecall(real, 4, fake, 6, 1, 2)
	if p != 4.0/6 || r != 1 {
		t.Errorf("1-d k=2: precision %v recall %v, want 4/6 1", p, r)
	}
}

// bruteShare is the share of the na rows of a inside some k-NN ball of the
// nb rows of b, from exact distances Σ(a_j−b_j)² by plain loops.
func bruteShare(a []float32, na int, b []float32, nb, d, k int) float64 {
	dist2 := func(x []float32, i int, y []float32, j int) float64 {
		var s float64
		for c := 0; c < d; c++ {
			t := float64(x[i*d+c]) - float64(y[j*d+c])
			s += t * t
		}
		return s
	}
	rad := make([]float64, nb)
	for j := range rad {
		ds := []float64{}
		for l := 0; l < nb; l++ {
			if l != j {
				ds = append(ds, dist2(b, j, b, l))
			}
		}
		sort.Float64s(ds)
		rad[j] = ds[k-1]
	}
	c := 0
	for i := 0; i < na; i++ {
		for j := 0; j < nb; j++ {
			if dist2(a, i, b, j) <= rad[j] {
				c++
				break
			}
		}
	}
	return float64(c) / float64(na)
}

// The blockwise computation agrees with a brute-force one on random data,
// for several tilings.
func TestPrecisionRecallBruteForce(t *testing.T) {
	rng := rand.New(rand.NewPCG(8, 9))
	const nr, nf, d, k = 130, 110, 7, 3
	real := randRows(rng, nr, d, 0, 1)
	fake := randRows(rng, nf, d, 0.3, 1.2)
	wp, wr := bruteShare(fake, nf, real, nr, d, k), bruteShare(real, nr, fake, nf, d, k)
	defer func(r, c int) { prRowBlock, prColBlock = r, c }(prRowBlock, prColBlock)
	for _, tiles := range [][2]int{{256, 1024}, {1, 1}, {5, 64}, {130, 3}} {
		prRowBlock, prColBlock = tiles[0], tiles[1]
		p, r := PrecisionRecall(real, nr, fake, nf, d, k)
		if p != wp || r != wr {
			t.Errorf("tiles %v: precision %v recall %v, want %v %v", tiles, p, r, wp, wr)
		}
	}
}

// Exact ties everywhere: 3-d integer lattices scaled by 2^-10 and offset by
// 1000, plus three coordinates shared by all rows (1092.84, 0.001234,
// 3.3e-5 in float32). Differences and their squares are exact in float64,
// so the brute force sees exact ties, while the squared norms straddle 2^22
// (so their round-off differs from row to row) and the expansion
// |a|²+|b|²−2a·b (|a|² ≈ 4·10⁶, distances² ≈ 10⁻⁶) is off by ~10⁻⁹. Only the exact recomputation near decision thresholds and the
// exact k-NN fallback reproduce the brute force.
func TestPrecisionRecallTies(t *testing.T) {
	lattice := func(nx, ny, nz int, drop func(x, y, z int) bool) ([]float32, int) {
		var out []float32
		for x := 0; x < nx; x++ {
			for y := 0; y < ny; y++ {
				for z := 0; z < nz; z++ {
					if !drop(x, y, z) {
						out = append(out, 1000+float32(x)/1024, 1000+float32(y)/1024, 1000+float32(z)/1024,
							1092.84, 0.001234, 3.3e-5)
					}
				}
			}
		}
		return out, len(out) / 6
	}
	real, nr := lattice(4, 4, 4, func(x, y, z int) bool { return false })
	// A larger lattice with holes: some fake rows lie outside the real
	// lattice at exactly a real k-NN radius.
	fake, nf := lattice(6, 5, 3, func(x, y, z int) bool { return (x+2*y+z)%5 == 0 })
	for k := 1; k <= 6; k++ {
		wp, wr := bruteShare(fake, nf, real, nr, 6, k), bruteShare(real, nr, fake, nf, 6, k)
		p, r := PrecisionRecall(real, nr, fake, nf, 6, k)
		if p != wp || r != wr {
			t.Errorf("k=%d: precision %v recall %v, want %v %v", k, p, r, wp, wr)
		}
		if k == 1 && (wp == 1 || wr == 1) {
			t.Errorf("lattice case is trivial: %v %v", wp, wr)
		}
	}
}

func TestClassesHand(t *testing.T) {
	// One-hot rows of classes 0, 0, 1, 2: shares (1/2, 1/4, 1/4); entropy
	// −(½ln½ + 2·¼ln¼) = 1.5 ln 2; p(y) = shares, KL(onehot_c ‖ p(y)) =
	// −ln p(y)_c, mean 1.5 ln 2, so Score = 2^1.5.
	p := []float32{1, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 1}
	st := Classes(p, 4, 3, 0.3)
	want := []float64{0.5, 0.25, 0.25}
	for c := range want {
		if st.Shares[c] != want[c] {
			t.Errorf("shares %v, want %v", st.Shares, want)
		}
	}
	if st.Covered != 1 {
		t.Errorf("covered %d, want 1", st.Covered)
	}
	checkRel(t, "entropy", st.Entropy, 1.5*math.Ln2, 1e-15)
	checkRel(t, "score", st.Score, math.Pow(2, 1.5), 1e-15)
	if c := Classes(p, 4, 3, 0.25).Covered; c != 3 {
		t.Errorf("covered at 0.25: %d, want 3", c)
	}

	// Identical uniform rows: argmax ties go to class 0; entropy 0; Score 1.
	u := []float32{0.25, 0.25, 0.25, 0.25, 0.25, 0.25, 0.25, 0.25}
	st = Classes(u, 2, 4, 0.1)
	if st.Shares[0] != 1 || st.Covered != 1 || st.Entropy != 0 {
		t.Errorf("uniform rows: %+v", st)
	}
	checkRel(t, "uniform score", st.Score, 1, 1e-15)

	if a := Agreement(p, 3, []uint8{0, 1, 1, 2}); a != 0.75 {
		t.Errorf("agreement %v, want 0.75", a)
	}
}

func TestImagesHand(t *testing.T) {
	// Constant and linear images have zero Laplacian.
	lin := make([]float32, 2*5*6)
	for c := 0; c < 2; c++ {
		for y := 0; y < 5; y++ {
			for x := 0; x < 6; x++ {
				lin[(c*5+y)*6+x] = float32(0.5*float64(x) - 0.25*float64(y) + float64(c))
			}
		}
	}
	if s := Sharpness(lin, 1, 2, 5, 6); s != 0 {
		t.Errorf("sharpness of a ramp: %v", s)
	}
	// ±1 checkerboard 4×4: interior responses ±8, two of each → variance 64.
	// Second image all 0 → 0. Mean over images 32.
	cb := make([]float32, 2*16)
	for y := 0; y < 4; y++ {
		for x := 0; x < 4; x++ {
			cb[y*4+x] = float32(1 - 2*((x+y)%2))
		}
	}
	checkRel(t, "checkerboard sharpness", Sharpness(cb, 2, 1, 4, 4), 32, 1e-15)

	rng := rand.New(rand.NewPCG(10, 11))
	a := randRows(rng, 2*3*13*15, 1, 0, 0.5)
	checkRel(t, "SSIM(a,a)", SSIM(a, a, 2, 3, 13, 15, 2), 1, 1e-12)
	// Constant images 0.5 and −0.5, L = 2: σ = 0 so SSIM = (2μaμb + C1) /
	// (μa² + μb² + C1) with C1 = 0.02² = 0.0004.
	ca := make([]float32, 12*11)
	cbm := make([]float32, 12*11)
	for i := range ca {
		ca[i], cbm[i] = 0.5, -0.5
	}
	checkRel(t, "SSIM constants", SSIM(ca, cbm, 1, 1, 12, 11, 2), (-0.5+0.0004)/(0.5+0.0004), 1e-12)

	checkRel(t, "MSE", MSE([]float32{1, 2, 3}, []float32{1, 0, 0}), 13.0/3, 1e-15)
}

func TestMisusePanics(t *testing.T) {
	cases := []struct {
		name, msg string
		f         func()
	}{
		{"FitGaussian shape", errShape, func() { FitGaussian(make([]float32, 5), 2, 3) }},
		{"FitGaussian n<2", errFewRows, func() { FitGaussian(make([]float32, 3), 1, 3) }},
		{"Frechet dims", errGaussDims, func() {
			FrechetDistance(gauss([]float64{0}, 1), gauss([]float64{0, 0}, 1, 0, 0, 1))
		}},
		{"KID shape", errShape, func() { KID(make([]float32, 6), 3, make([]float32, 5), 3, 2, 1, 3, 0) }},
		{"KID subsets", errKIDArgs, func() { KID(make([]float32, 6), 3, make([]float32, 6), 3, 2, 0, 3, 0) }},
		{"KID size", errKIDArgs, func() { KID(make([]float32, 6), 3, make([]float32, 6), 3, 2, 1, 1, 0) }},
		{"PR k", errNeighbours, func() { PrecisionRecall(make([]float32, 6), 3, make([]float32, 6), 3, 2, 3) }},
		{"PR shape", errShape, func() { PrecisionRecall(make([]float32, 6), 3, make([]float32, 7), 3, 2, 1) }},
		{"Classes shape", errShape, func() { Classes(make([]float32, 7), 2, 4, 0) }},
		{"Agreement label", errLabel, func() { Agreement(make([]float32, 4), 2, []uint8{0, 2}) }},
		{"Sharpness size", errImageSize, func() { Sharpness(make([]float32, 4), 1, 1, 2, 2) }},
		{"SSIM shape", errShape, func() { SSIM(make([]float32, 121), make([]float32, 120), 1, 1, 11, 11, 2) }},
		{"SSIM range", errDataRange, func() { SSIM(make([]float32, 121), make([]float32, 121), 1, 1, 11, 11, 0) }},
		{"MSE length", errLength, func() { MSE(make([]float32, 2), make([]float32, 3)) }},
	}
	for _, c := range cases {
		func() {
			defer func() {
				if r := recover(); r != c.msg {
					t.Errorf("%s: panic %v, want %q", c.name, r, c.msg)
				}
			}()
			c.f()
		}()
	}
}
