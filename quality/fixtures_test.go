package quality

import (
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"math"
	"os"
	"testing"
)

// The expectations in testdata/fixtures.json come from an independent
// computation with numpy/scipy (testdata/make_fixtures.py). Inputs are
// stored as int16 multiples of 2^-shift, exactly representable in float32,
// so both sides work on identical numbers.

type qArray struct {
	Shift int    `json:"shift"`
	Shape []int  `json:"shape"`
	B64   string `json:"b64"`
}

func (q qArray) values(t testing.TB) []float32 {
	raw, err := base64.StdEncoding.DecodeString(q.B64)
	if err != nil {
		t.Fatal(err)
	}
	n := 1
	for _, s := range q.Shape {
		n *= s
	}
	if len(raw) != 2*n {
		t.Fatalf("array has %d bytes, shape %v", len(raw), q.Shape)
	}
	scale := float32(math.Ldexp(1, -q.Shift))
	out := make([]float32, n)
	for i := range out {
		out[i] = float32(int16(binary.LittleEndian.Uint16(raw[2*i:]))) * scale
	}
	return out
}

type fixtures struct {
	Frechet []struct {
		Name  string    `json:"name"`
		N     int       `json:"n"`
		D     int       `json:"d"`
		A     qArray    `json:"a"`
		B     qArray    `json:"b"`
		FD    float64   `json:"fd"`
		MeanA []float64 `json:"mean_a"`
		CovA  []float64 `json:"cov_a"`
	} `json:"frechet"`
	KID []struct {
		Name string  `json:"name"`
		N    int     `json:"n"`
		D    int     `json:"d"`
		X    qArray  `json:"x"`
		Y    qArray  `json:"y"`
		MMD2 float64 `json:"mmd2"`
	} `json:"kid"`
	PR []struct {
		Name       string    `json:"name"`
		NR         int       `json:"nr"`
		NF         int       `json:"nf"`
		D          int       `json:"d"`
		K          int       `json:"k"`
		Real       qArray    `json:"real"`
		Fake       qArray    `json:"fake"`
		FakeInside int       `json:"fake_inside"`
		RealInside int       `json:"real_inside"`
		RadiiReal  []float64 `json:"radii_real"`
	} `json:"pr"`
	Classes []struct {
		Name      string    `json:"name"`
		N         int       `json:"n"`
		K         int       `json:"k"`
		MinShare  float64   `json:"min_share"`
		Probs     qArray    `json:"probs"`
		Shares    []float64 `json:"shares"`
		Covered   int       `json:"covered"`
		Entropy   float64   `json:"entropy"`
		Score     float64   `json:"score"`
		Labels    []uint8   `json:"labels"`
		Agreement float64   `json:"agreement"`
	} `json:"classes"`
	SSIM struct {
		N, C, H, W int
		A          qArray  `json:"a"`
		B          qArray  `json:"b"`
		DataRange  float64 `json:"data_range"`
		SSIM       float64 `json:"ssim"`
		MSE        float64 `json:"mse"`
	} `json:"ssim"`
	Sharpness struct {
		N, C, H, W int
		Images     qArray  `json:"images"`
		Sharpness  float64 `json:"sharpness"`
	} `json:"sharpness"`
}

func loadFixtures(t testing.TB) *fixtures {
	t.Helper()
	b, err := os.ReadFile("testdata/fixtures.json")
	if err != nil {
		t.Fatal(err)
	}
	var f fixtures
	if err := json.Unmarshal(b, &f); err != nil {
		t.Fatal(err)
	}
	if len(f.Frechet) == 0 || len(f.KID) == 0 || len(f.PR) == 0 || len(f.Classes) == 0 {
		t.Fatal("fixtures incomplete")
	}
	return &f
}

// relErr is |got−want| / |want| (absolute error when want == 0).
func relErr(got, want float64) float64 {
	if want == 0 {
		return math.Abs(got)
	}
	return math.Abs(got-want) / math.Abs(want)
}

func checkRel(t *testing.T, what string, got, want, tol float64) {
	t.Helper()
	if e := relErr(got, want); !(e <= tol) {
		t.Errorf("%s = %.15g, want %.15g (rel err %.2e > %.0e)", what, got, want, e, tol)
	}
}

// Tolerances (relative). The inputs are identical on both sides, so the
// differences are float64 round-off of different summation orders and
// algorithms (scipy.linalg.sqrtm's Schur method against eigendecompositions
// for Fréchet).
const (
	tolMoments = 1e-12 // FitGaussian mean and covariance
	tolFD      = 1e-9  // FrechetDistance (observed ≤ 1e-14)
	tolKID     = 1e-10 // unbiased MMD² (observed ≤ 4e-13)
	tolRadius  = 1e-12 // k-NN radii
	tolClasses = 1e-12 // entropy and score
	tolImage   = 1e-10 // SSIM, sharpness, MSE
)

func TestFixtureFrechet(t *testing.T) {
	for _, c := range loadFixtures(t).Frechet {
		t.Run(c.Name, func(t *testing.T) {
			ga := FitGaussian(c.A.values(t), c.N, c.D)
			gb := FitGaussian(c.B.values(t), c.N, c.D)
			for j, m := range c.MeanA {
				checkRel(t, "mean", ga.Mean[j], m, tolMoments)
			}
			for i, v := range c.CovA {
				checkRel(t, "cov", ga.Cov.At(i/c.D, i%c.D), v, tolMoments)
			}
			checkRel(t, "FD", FrechetDistance(ga, gb), c.FD, tolFD)
			checkRel(t, "FD swapped", FrechetDistance(gb, ga), c.FD, tolFD)
		})
	}
}

func TestFixtureKID(t *testing.T) {
	for _, c := range loadFixtures(t).KID {
		t.Run(c.Name, func(t *testing.T) {
			x, y := c.X.values(t), c.Y.values(t)
			// size ≥ n: all rows in order, so every seed gives the full-set
			// value, bit for bit (no reordering of the sums).
			m0, _ := KID(x, c.N, y, c.N, c.D, 1, c.N, 0)
			checkRel(t, "KID", m0, c.MMD2, tolKID)
			for _, seed := range []uint64{1, 99} {
				for _, size := range []int{c.N, c.N + 1000} {
					m, se := KID(x, c.N, y, c.N, c.D, 1, size, seed)
					if m != m0 {
						t.Errorf("KID(seed %d, size %d) = %.17g, want exactly %.17g", seed, size, m, m0)
					}
					if se != 0 {
						t.Errorf("stderr %g with one subset", se)
					}
				}
			}
			m, se := KID(x, c.N, y, c.N, c.D, 4, c.N, 7)
			checkRel(t, "KID 4 whole subsets", m, c.MMD2, tolKID)
			if se > 1e-12*math.Abs(m) {
				t.Errorf("stderr %g over identical subsets", se)
			}
		})
	}
}

func TestFixturePrecisionRecall(t *testing.T) {
	f := loadFixtures(t)
	run := func(t *testing.T) {
		for _, c := range f.PR {
			t.Run(c.Name, func(t *testing.T) {
				r, fk := c.Real.values(t), c.Fake.values(t)
				p, rc := PrecisionRecall(r, c.NR, fk, c.NF, c.D, c.K)
				if want := float64(c.FakeInside) / float64(c.NF); p != want {
					t.Errorf("precision %v, want %v (%d/%d)", p, want, c.FakeInside, c.NF)
				}
				if want := float64(c.RealInside) / float64(c.NR); rc != want {
					t.Errorf("recall %v, want %v (%d/%d)", rc, want, c.RealInside, c.NR)
				}
				s := newRowSet(r, c.NR, c.D)
				s.radii(c.K)
				for i, want := range c.RadiiReal {
					checkRel(t, "radius", math.Sqrt(s.rad2[i]), want, tolRadius)
				}
			})
		}
	}
	t.Run("default tiles", run)
	// Many small ragged tiles, so that blocking and the parallel workers
	// are exercised at fixture sizes.
	defer func(r, c int) { prRowBlock, prColBlock = r, c }(prRowBlock, prColBlock)
	prRowBlock, prColBlock = 7, 13
	t.Run("7x13 tiles", run)
}

func TestFixtureClasses(t *testing.T) {
	for _, c := range loadFixtures(t).Classes {
		t.Run(c.Name, func(t *testing.T) {
			p := c.Probs.values(t)
			st := Classes(p, c.N, c.K, c.MinShare)
			for i, s := range c.Shares {
				if st.Shares[i] != s {
					t.Errorf("share[%d] = %v, want %v", i, st.Shares[i], s)
				}
			}
			if st.Covered != c.Covered {
				t.Errorf("covered %d, want %d", st.Covered, c.Covered)
			}
			checkRel(t, "entropy", st.Entropy, c.Entropy, tolClasses)
			checkRel(t, "score", st.Score, c.Score, tolClasses)
			if a := Agreement(p, c.K, c.Labels); a != c.Agreement {
				t.Errorf("agreement %v, want %v", a, c.Agreement)
			}
		})
	}
}

func TestFixtureImages(t *testing.T) {
	f := loadFixtures(t)
	s := f.SSIM
	a, b := s.A.values(t), s.B.values(t)
	checkRel(t, "SSIM", SSIM(a, b, s.N, s.C, s.H, s.W, s.DataRange), s.SSIM, tolImage)
	checkRel(t, "SSIM swapped", SSIM(b, a, s.N, s.C, s.H, s.W, s.DataRange), s.SSIM, tolImage)
	checkRel(t, "MSE", MSE(a, b), s.MSE, tolImage)
	h := f.Sharpness
	checkRel(t, "sharpness", Sharpness(h.Images.values(t), h.N, h.C, h.H, h.W), h.Sharpness, tolImage)
}
