package evaluation

import (
	"math"
	"testing"

	"github.com/vaegan-go/vaegan/backend/cpu"
	"github.com/vaegan-go/vaegan/data"
	"github.com/vaegan-go/vaegan/model"
)

// refSize is how many MNIST test images the tests use (the first ones).
const refSize = 2000

// mnistRef is the first refSize images of the MNIST test split with the
// committed classifier.
func mnistRef(t *testing.T) (*Reference, *model.Classifier) {
	t.Helper()
	b := cpu.New(2)
	cls, err := model.EmbeddedClassifier(b, MNIST)
	if err != nil {
		t.Fatal(err)
	}
	test, err := data.MNISTTest()
	if err != nil {
		t.Fatal(err)
	}
	labels, err := data.MNISTTestLabels()
	if err != nil {
		t.Fatal(err)
	}
	x, err := data.FirstN(test, refSize)
	if err != nil {
		t.Fatal(err)
	}
	r, err := NewReference(MNIST, x, labels[:refSize], 1, 28, 28, cls)
	if err != nil {
		t.Fatal(err)
	}
	return r, cls
}

// echo is a perfect model of the test split: its samples are the split's
// images in order and its reconstructions are its inputs.
type echo struct {
	r    *Reference
	next int // the image the next sample is
}

func (e *echo) Decode(z []float32) ([]float32, error) {
	n, size := len(z)/32, e.r.C*e.r.H*e.r.W
	x := append([]float32(nil), e.r.Images[e.next*size:(e.next+n)*size]...)
	e.next += n
	return x, nil
}

func (e *echo) HasEncoder() bool { return true }

func (e *echo) Reconstruct(x []float32) ([]float32, error) { return append([]float32(nil), x...), nil }

// The test split measured against itself: Fréchet distance 0, precision and
// recall 1, sharpness 1; its reconstructions by an identity model agree
// with their labels exactly as often as the classifier is right, with SSIM
// 1 and MSE 0.
func TestTestSplitScoresPerfectly(t *testing.T) {
	r, cls := mnistRef(t)
	rep, err := r.Evaluate(&echo{r: r}, 32, r.N, 1, r.N)
	if err != nil {
		t.Fatal(err)
	}
	probs := make([]float32, 0, r.N*model.ClassifierClasses)
	for lo := 0; lo < r.N; lo += Chunk {
		_, p, err := cls.Features(r.Images[lo*784 : min(lo+Chunk, r.N)*784])
		if err != nil {
			t.Fatal(err)
		}
		probs = append(probs, p...)
	}
	right := 0
	for i := range r.N {
		row := probs[i*10 : i*10+10]
		best := 0
		for c := range row {
			if row[c] > row[best] {
				best = c
			}
		}
		if best == int(r.Labels[i]) {
			right++
		}
	}
	acc := float64(right) / float64(r.N)
	t.Logf("classifier accuracy on the first %d test images: %.4f", r.N, acc)
	for _, c := range []struct {
		name      string
		got, want float64
		tol       float64
	}{
		{"frechet", rep.Frechet, 0, 1e-6},
		{"precision", rep.Precision, 1, 0},
		{"recall", rep.Recall, 1, 0},
		{"sharpness", rep.Sharpness, 1, 1e-12},
		{"label agreement", rep.Agreement, acc, 1e-9},
		{"ssim", rep.SSIM, 1, 1e-9},
		{"mse", rep.MSE, 0, 0},
		{"classes", float64(rep.Covered), 10, 0},
	} {
		if math.Abs(c.got-c.want) > c.tol {
			t.Errorf("%s = %v, want %v ± %g", c.name, c.got, c.want, c.tol)
		}
	}
}

// Images unlike the split score far from it: blank images are one class at
// best, with a large Fréchet distance, no recall and no sharpness; the
// first 2000 training images score close to the test split. (Precision
// does not separate them: one identical image can fall inside an outlier's
// neighbourhood ball, a known weakness of the k-NN estimate.)
func TestMetricsSeparateGoodFromBad(t *testing.T) {
	r, _ := mnistRef(t)
	blank := make([]float32, 2000*784)
	for i := range blank {
		blank[i] = -1
	}
	bad, err := r.Samples(blank)
	if err != nil {
		t.Fatal(err)
	}
	train, err := data.MNIST()
	if err != nil {
		t.Fatal(err)
	}
	x, err := data.FirstN(train, 2000)
	if err != nil {
		t.Fatal(err)
	}
	good, err := r.Samples(x)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("blank: %+v", bad)
	t.Logf("train: frechet %.3f kid %.4f precision %.3f recall %.3f sharpness %.3f classes %d",
		good.Frechet, good.KID, good.Precision, good.Recall, good.Sharpness, good.Covered)
	if bad.Covered > 1 || bad.Sharpness != 0 || bad.Frechet < 20*good.Frechet || bad.KID < 20*good.KID || bad.Recall != 0 {
		t.Errorf("blank images: frechet %.3f (train %.3f), %d classes, sharpness %v, recall %v: want a large distance, ≤ 1 class, 0 sharpness, no recall",
			bad.Frechet, good.Frechet, bad.Covered, bad.Sharpness, bad.Recall)
	}
	if good.Covered != 10 || good.Precision < 0.75 || good.Recall < 0.75 || math.Abs(good.Sharpness-1) > 0.1 || good.Frechet > 5 {
		t.Errorf("training images: %d classes, precision %.3f, recall %.3f, sharpness %.3f, frechet %.3f: want 10, ≥ 0.75, ≥ 0.75, 1 ± 0.1, ≤ 5",
			good.Covered, good.Precision, good.Recall, good.Sharpness, good.Frechet)
	}
}

func TestReferenceFor(t *testing.T) {
	for in, want := range map[string]string{
		"": MNIST,
		FashionDir + "/train-images-idx3-ubyte.gz": Fashion,
		"/d/train-images-idx3-ubyte.gz":            "/d/t10k-images-idx3-ubyte.gz",
		"/faces":                                   "/faces",
	} {
		if got := ReferenceFor(in); got != want {
			t.Errorf("ReferenceFor(%q) = %q, want %q", in, got, want)
		}
	}
}
