package model

import (
	"math"
	"math/rand/v2"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/vaegan-go/vaegan/backend/cpu"
	"github.com/vaegan-go/vaegan/checkpoint"
	"github.com/vaegan-go/vaegan/data"
)

// The host cross-entropy's gradient against central finite differences of
// the loss, computed in float64 from logits perturbed in float32.
func TestSoftmaxCEGradient(t *testing.T) {
	const n, k = 3, 5
	r := rand.New(rand.NewPCG(1, 2))
	logits := make([]float32, n*k)
	for i := range logits {
		logits[i] = float32(3 * r.NormFloat64())
	}
	labels := []uint8{0, 4, 2}
	grad := make([]float32, n*k)
	loss, _ := softmaxCE(logits, labels, k, grad)

	// The loss by its definition: the mean of -log softmax(row)[label].
	var want float64
	for i, y := range labels {
		var sum float64
		for _, z := range logits[i*k : (i+1)*k] {
			sum += math.Exp(float64(z))
		}
		want -= math.Log(math.Exp(float64(logits[i*k+int(y)])) / sum)
	}
	want /= n
	if math.Abs(loss-want) > 1e-12 {
		t.Fatalf("loss %v, want %v", loss, want)
	}

	scratch := make([]float32, n*k)
	const h = 1.0 / 256 // exact in float32 around logits of this size
	for i := range logits {
		orig := logits[i]
		logits[i] = orig + h
		up, _ := softmaxCE(logits, labels, k, scratch)
		logits[i] = orig - h
		down, _ := softmaxCE(logits, labels, k, scratch)
		logits[i] = orig
		fd := (up - down) / (float64(orig+h) - float64(orig-h))
		if math.Abs(fd-float64(grad[i])) > 2e-5 {
			t.Errorf("logit %d (row %d, class %d, label %d): gradient %v, finite difference %v",
				i, i/k, i%k, labels[i/k], grad[i], fd)
		}
	}
	// Each row's gradient sums to zero: softmax − one-hot.
	for i := range n {
		var s float64
		for _, g := range grad[i*k : (i+1)*k] {
			s += float64(g)
		}
		if math.Abs(s) > 1e-7 {
			t.Errorf("row %d's gradient sums to %v, want 0", i, s)
		}
	}
}

// The classifier's parameter gradients (the host loss gradient taken
// through the network by the backend) against finite differences of the
// loss in some weights of every layer.
func TestClassifierWeightGradients(t *testing.T) {
	b := cpu.New(1)
	const batch = 4
	c, err := NewClassifier(b, batch, 5)
	if err != nil {
		t.Fatal(err)
	}
	x, labels := mnistBatch(t, 0, batch)
	c.forward(x, labels)
	c.backward()
	g := download(b, c.Params.G)
	w := download(b, c.Params.W)
	loss := func() float64 {
		b.Upload(c.Params.W, w)
		l, _ := c.forward(x, labels)
		return l
	}
	checked := 0
	for _, p := range c.Params.Params {
		// The weight with the largest gradient in each tensor, where the
		// finite difference is far above float32 rounding.
		off := p.W.Off - c.Params.W.Off
		n := shapeLen(p.Shape)
		best := off
		for i := off; i < off+n; i++ {
			if math.Abs(float64(g[i])) > math.Abs(float64(g[best])) {
				best = i
			}
		}
		if g[best] == 0 {
			t.Errorf("%s: every gradient is 0", p.Name)
			continue
		}
		h := float32(1e-3)
		orig := w[best]
		w[best] = orig + h
		up := loss()
		w[best] = orig - h
		down := loss()
		w[best] = orig
		fd := (up - down) / (float64(orig+h) - float64(orig-h))
		rel := math.Abs(fd-float64(g[best])) / math.Abs(float64(g[best]))
		t.Logf("%s[%d]: gradient %.6g, finite difference %.6g", p.Name, best-off, g[best], fd)
		if rel > 0.01 {
			t.Errorf("%s[%d]: gradient %v, finite difference %v (relative error %.3g)", p.Name, best-off, g[best], fd, rel)
		}
		checked++
	}
	if checked != 11 {
		t.Errorf("checked %d parameter tensors, want 11", checked)
	}
}

// mnistBatch returns n embedded MNIST test images from image i on, and
// their labels.
func mnistBatch(t *testing.T, i, n int) ([]float32, []uint8) {
	t.Helper()
	ds, err := data.MNISTTest()
	if err != nil {
		t.Fatal(err)
	}
	labels, err := data.MNISTTestLabels()
	if err != nil {
		t.Fatal(err)
	}
	x := make([]float32, n*classifierImageLen)
	for j := range n {
		if err := ds.Image(i+j, x[j*classifierImageLen:(j+1)*classifierImageLen]); err != nil {
			t.Fatal(err)
		}
	}
	return x, labels[i : i+n]
}

// trainedClassifier is a classifier after a few steps, so that its running
// statistics are not the initial ones.
func trainedClassifier(t *testing.T, threads int) *Classifier {
	t.Helper()
	c, err := NewClassifier(cpu.New(threads), 16, 3)
	if err != nil {
		t.Fatal(err)
	}
	for s := range 3 {
		x, y := mnistBatch(t, 16*s, 16)
		if _, _, err := c.TrainStep(x, y); err != nil {
			t.Fatal(err)
		}
	}
	return c
}

// Features of many images, run in chunks of 500, equal the features of the
// same images asked for a few at a time.
func TestClassifierFeaturesChunks(t *testing.T) {
	c := trainedClassifier(t, 2)
	const n = 1100 // chunks of 500, 500 and 100
	x, _ := mnistBatch(t, 0, n)
	feats, probs, err := c.Features(x)
	if err != nil {
		t.Fatal(err)
	}
	if len(feats) != n*ClassifierFeatures || len(probs) != n*ClassifierClasses {
		t.Fatalf("%d features and %d probabilities, want %d and %d", len(feats), len(probs), n*ClassifierFeatures, n*ClassifierClasses)
	}
	for i := range n {
		var s float64
		for _, p := range probs[i*ClassifierClasses : (i+1)*ClassifierClasses] {
			s += float64(p)
		}
		if math.Abs(s-1) > 1e-5 {
			t.Fatalf("image %d: probabilities sum to %v", i, s)
		}
	}
	active := 0
	for _, f := range feats {
		if f < 0 {
			t.Fatalf("feature %v < 0 after a ReLU", f)
		}
		if f > 0 {
			active++
		}
	}
	if active < len(feats)/10 {
		t.Errorf("only %d of %d features are positive", active, len(feats))
	}
	for _, r := range [][2]int{{0, 1}, {3, 10}, {490, 510}, {999, 1100}, {0, 300}} {
		lo, hi := r[0], r[1]
		f, p, err := c.Features(x[lo*classifierImageLen : hi*classifierImageLen])
		if err != nil {
			t.Fatal(err)
		}
		if d := maxAbsDiff(f, feats[lo*ClassifierFeatures:hi*ClassifierFeatures]); d > 1e-5 {
			t.Errorf("images [%d, %d): features differ from those of the whole call by up to %g", lo, hi, d)
		}
		if d := maxAbsDiff(p, probs[lo*ClassifierClasses:hi*ClassifierClasses]); d > 1e-6 {
			t.Errorf("images [%d, %d): probabilities differ from those of the whole call by up to %g", lo, hi, d)
		}
	}
	if _, _, err := c.Features(x[:100*classifierImageLen]); err != nil {
		t.Fatal(err)
	}
	if len(c.eval) > 10 {
		t.Errorf("%d evaluation passes bound, want at most 10", len(c.eval))
	}
	for _, bad := range [][]float32{nil, x[:783]} {
		if _, _, err := c.Features(bad); err == nil || !strings.Contains(err.Error(), "784") {
			t.Errorf("Features of %d floats: %v, want an error asking for multiples of 784", len(bad), err)
		}
	}
}

func maxAbsDiff(a, b []float32) float64 {
	d := 0.0
	for i := range a {
		d = max(d, math.Abs(float64(a[i])-float64(b[i])))
	}
	return d
}

func TestClassifierSaveLoad(t *testing.T) {
	c := trainedClassifier(t, 1)
	path := filepath.Join(t.TempDir(), "cls.safetensors")
	if err := c.Save(path, map[string]string{"dataset": "mnist", "note": "x"}); err != nil {
		t.Fatal(err)
	}
	f, err := checkpoint.Read(path)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		"cls.conv1.weight", "cls.bn1.weight", "cls.bn1.bias",
		"cls.conv2.weight", "cls.bn2.weight", "cls.bn2.bias",
		"cls.fc.weight", "cls.bn_fc.weight", "cls.bn_fc.bias",
		"cls.out.weight", "cls.out.bias",
		"cls.bn1.running_mean", "cls.bn1.running_var", "cls.bn2.running_mean", "cls.bn2.running_var",
		"cls.bn_fc.running_mean", "cls.bn_fc.running_var",
	}
	if got := f.Names(); !slices.Equal(got, want) {
		t.Errorf("tensors %v, want %v", got, want)
	}
	for name, shape := range map[string][]int{"cls.conv1.weight": {32, 1, 4, 4}, "cls.conv2.weight": {64, 32, 4, 4},
		"cls.fc.weight": {128, 3136}, "cls.out.weight": {10, 128}, "cls.out.bias": {10}, "cls.bn_fc.running_var": {128}} {
		if got, _ := f.Shape(name); !slices.Equal(got, shape) {
			t.Errorf("%s has shape %v, want %v", name, got, shape)
		}
	}
	if f.Meta["dataset"] != "mnist" || f.Meta["note"] != "x" || f.Meta["model"] != "classifier" {
		t.Errorf("metadata %v", f.Meta)
	}
	l, err := LoadClassifier(cpu.New(1), f)
	if err != nil {
		t.Fatal(err)
	}
	if l.Meta["note"] != "x" {
		t.Errorf("loaded Meta %v", l.Meta)
	}
	x, y := mnistBatch(t, 100, 50)
	f1, p1, err := c.Features(x)
	if err != nil {
		t.Fatal(err)
	}
	f2, p2, err := l.Features(x)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(f1, f2) || !slices.Equal(p1, p2) {
		t.Errorf("the loaded classifier's outputs differ from the saved one's")
	}
	// A loaded classifier trains at the batch size of its first step.
	if _, _, err := l.TrainStep(x[:8*classifierImageLen], y[:8]); err != nil {
		t.Fatal(err)
	}
	if _, _, err := l.TrainStep(x, y); err == nil || !strings.Contains(err.Error(), "want 8 images") {
		t.Errorf("a step of another batch size: %v, want an error", err)
	}

	// Files missing a tensor, with a tensor of another shape, or of
	// another model.
	var ts []checkpoint.Tensor
	for _, name := range f.Names() {
		shape, _ := f.Shape(name)
		v, _ := f.Float32(name, shape...)
		ts = append(ts, checkpoint.F32(name, shape, v))
	}
	for _, tc := range []struct {
		name   string
		tweak  func([]checkpoint.Tensor) []checkpoint.Tensor
		meta   map[string]string
		substr string
	}{
		{"missing", func(ts []checkpoint.Tensor) []checkpoint.Tensor { return ts[1:] }, nil, "no tensor named cls.conv1.weight"},
		{"shape", func(ts []checkpoint.Tensor) []checkpoint.Tensor {
			ts = slices.Clone(ts)
			ts[6] = checkpoint.F32("cls.fc.weight", []int{128, 3137}, make([]float32, 128*3137))
			return ts
		}, nil, "tensor cls.fc.weight has shape [128 3137], want [128 3136]"},
		{"model", func(ts []checkpoint.Tensor) []checkpoint.Tensor { return ts }, map[string]string{"model": "vaegan"}, `model "vaegan", want "classifier"`},
	} {
		p := filepath.Join(t.TempDir(), tc.name+".safetensors")
		if err := checkpoint.Write(p, tc.tweak(ts), tc.meta); err != nil {
			t.Fatal(err)
		}
		bad, err := checkpoint.Read(p)
		if err != nil {
			t.Fatal(err)
		}
		_, err = LoadClassifier(cpu.New(1), bad)
		if err == nil || !strings.Contains(err.Error(), tc.substr) || !strings.Contains(err.Error(), p) {
			t.Errorf("%s: %v, want an error naming %s and saying %q", tc.name, err, p, tc.substr)
		}
	}
}

func TestClassifierTrainStepErrors(t *testing.T) {
	c, err := NewClassifier(cpu.New(1), 4, 1)
	if err != nil {
		t.Fatal(err)
	}
	x, y := mnistBatch(t, 0, 4)
	bad := slices.Clone(y)
	bad[2] = 10
	if _, _, err := c.TrainStep(x, bad); err == nil || !strings.Contains(err.Error(), "label 2 is 10") {
		t.Errorf("label 10: %v, want an error", err)
	}
	if _, _, err := c.TrainStep(x[:3*classifierImageLen], y[:3]); err == nil {
		t.Errorf("a batch of 3 for a classifier of batch 4: no error")
	}
	if _, err := NewClassifier(cpu.New(1), 1, 1); err == nil {
		t.Errorf("batch 1: no error")
	}
	if _, err := EmbeddedClassifier(cpu.New(1), "cifar10"); err == nil || !strings.Contains(err.Error(), "fashion-mnist") {
		t.Errorf("EmbeddedClassifier(cifar10): %v, want an error listing the datasets", err)
	}
}

// subset is the first n images of a dataset.
type subset struct {
	data.Dataset
	n int
}

func (s subset) Len() int { return s.n }

// TrainClassifier is deterministic, and learns: two runs of two epochs on
// 512 images give the same weights and the same test accuracy, well above
// chance.
func TestTrainClassifierDeterministic(t *testing.T) {
	train, _ := data.MNIST()
	trainLabels, _ := data.MNISTLabels()
	test, _ := data.MNISTTest()
	testLabels, _ := data.MNISTTestLabels()
	const n, m = 512, 500
	var w [2][]float32
	var acc [2]float64
	for i := range w {
		var log strings.Builder
		c, a, err := TrainClassifier(cpu.New(2), subset{train, n}, subset{test, m}, trainLabels[:n], testLabels[:m], 2, 9, &log)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(log.String(), "epoch 2/2: lr 0.0001") {
			t.Errorf("log %q: want a line for epoch 2 at lr 1e-4", log.String())
		}
		w[i], acc[i] = download(c.B, c.Params.W), a
	}
	t.Logf("test accuracy after 2 epochs of %d images: %v", n, acc[0])
	if !slices.Equal(w[0], w[1]) || acc[0] != acc[1] {
		t.Errorf("two runs with the same seed differ (accuracy %v, %v)", acc[0], acc[1])
	}
	if acc[0] < 0.6 {
		t.Errorf("test accuracy %v after 2 epochs of %d images, want more than 0.6", acc[0], n)
	}
	if _, _, err := TrainClassifier(cpu.New(1), subset{train, n}, test, trainLabels[:n+1], testLabels, 1, 9, nil); err == nil ||
		!strings.Contains(err.Error(), "512 images but 513 labels") {
		t.Errorf("mismatched labels: %v, want an error", err)
	}
}

// The committed MNIST classifier: its accuracy on the embedded test set,
// on the CPU, is at least 99% and is the one its metadata records.
func TestEmbeddedClassifierMNIST(t *testing.T) {
	c, err := EmbeddedClassifier(cpu.New(2), "mnist")
	if err != nil {
		t.Fatal(err)
	}
	test, _ := data.MNISTTest()
	labels, _ := data.MNISTTestLabels()
	acc, err := c.Accuracy(test, labels)
	if err != nil {
		t.Fatal(err)
	}
	recorded, err := strconv.ParseFloat(c.Meta["test_accuracy"], 64)
	if err != nil {
		t.Fatalf("metadata test_accuracy %q: %v", c.Meta["test_accuracy"], err)
	}
	t.Logf("test accuracy %.4f, recorded %.4f", acc, recorded)
	if acc < 0.99 {
		t.Errorf("test accuracy %.4f, want at least 0.99", acc)
	}
	if math.Abs(acc-recorded) > 1e-4+1e-12 {
		t.Errorf("test accuracy %.4f, the file records %.4f", acc, recorded)
	}
}

// The committed Fashion-MNIST classifier loads and has the metadata of its
// training run.
func TestEmbeddedClassifierFashionMNIST(t *testing.T) {
	c, err := EmbeddedClassifier(cpu.New(1), "fashion-mnist")
	if err != nil {
		t.Fatal(err)
	}
	acc, err := strconv.ParseFloat(c.Meta["test_accuracy"], 64)
	if err != nil || acc < 0.85 {
		t.Errorf("metadata test_accuracy %q: want at least 0.85", c.Meta["test_accuracy"])
	}
}

// A safetensors file in memory that is not one: the error names it.
func TestParseNamesTheFile(t *testing.T) {
	if _, err := checkpoint.Parse("embedded thing", []byte("abc")); err == nil || !strings.Contains(err.Error(), "embedded thing") {
		t.Errorf("Parse of 3 bytes: %v, want an error naming the file", err)
	}
}
