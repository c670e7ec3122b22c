package model

import (
	"embed"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"time"

	"github.com/vaegan-go/vaegan/backend"
	"github.com/vaegan-go/vaegan/checkpoint"
	"github.com/vaegan-go/vaegan/data"
)

// ClassifierFeatures is the width of the classifier's feature vector.
const ClassifierFeatures = 128

// ClassifierClasses is the number of classes (the width of the classifier's
// probability vectors); labels are 0 to ClassifierClasses-1.
const ClassifierClasses = 10

const (
	classifierImageLen = 28 * 28
	// classifierChunk is the most images Features runs at once.
	classifierChunk = 500
	// classifierTap is the layer whose output is the feature vector: the
	// ReLU after cls.bn_fc.
	classifierTap = 8
	// classifierModel is the "model" metadata of a classifier file.
	classifierModel = "classifier"
)

// The classifier's training: Adam with PyTorch's default hyper-parameters
// (the generative models use β1 = 0.5), the learning rate divided by
// classifierLRDrop in the last epoch, batches of classifierBatch.
const (
	classifierLR                     = 1e-3
	classifierBeta1, classifierBeta2 = 0.9, 0.999
	classifierEps                    = 1e-8
	classifierLRDrop                 = 10
	classifierBatch                  = 64
)

// Classifier is a small CNN that classifies 1×28×28 gray images (MNIST,
// Fashion-MNIST) into 10 classes; its 128-wide penultimate activations are
// the feature vectors of the sample-quality metrics. It is built from the
// model's own layers and runs on any backend:
//
//	cls.conv1  Conv2d(1→32, k4 s2 p1), cls.bn1 BatchNorm2d, ReLU    32×14×14
//	cls.conv2  Conv2d(32→64, k4 s2 p1), cls.bn2 BatchNorm2d, ReLU   64×7×7
//	cls.fc     Linear(3136→128), cls.bn_fc BatchNorm1d, ReLU        the features
//	cls.out    Linear(128→10) with bias                             the logits
//
// Names are the checkpoint tensor names; layouts are PyTorch's. Training
// uses Adam and the softmax cross-entropy with per-sample labels, computed
// on the host from the downloaded logits.
//
// A Classifier is used from one goroutine at a time.
type Classifier struct {
	B backend.Backend
	// Params are the weights and BatchNorm statistics.
	Params ParamSet
	// Meta is the metadata of the file the classifier was loaded from (nil
	// for one made by NewClassifier).
	Meta map[string]string

	net   seq
	train *classifierTrain
	eval  map[int]*classifierEval
	lr    float32
}

// classifierTrain is the training state, bound to one batch size.
type classifierTrain struct {
	batch        int
	x            backend.Tensor
	p            *pass
	m, v         backend.Tensor // Adam moments
	bc           backend.Tensor // Adam's bias corrections of the update, uploaded before it
	bcHost       []float32
	t            int // Adam updates applied
	logits, grad []float32
}

// classifierEval is the network bound for evaluation at one batch size.
type classifierEval struct {
	x backend.Tensor
	p *pass
}

// newClassifier declares the layers and allocates the parameters (zero) and
// statistics (running means 0, variances 1).
func newClassifier(b backend.Backend) *Classifier {
	c := &Classifier{B: b, lr: classifierLR, eval: map[int]*classifierEval{}}
	ps := &c.Params
	c.net.layers = []layer{
		newConv2d(ps, "cls.conv1", 1, 28, 28, 32, 4, 2, 1, false), newBatchNorm(ps, "cls.bn1", 32), relu,
		newConv2d(ps, "cls.conv2", 32, 14, 14, 64, 4, 2, 1, false), newBatchNorm(ps, "cls.bn2", 64), relu,
		newLinear(ps, "cls.fc", 3136, ClassifierFeatures, false), newBatchNorm(ps, "cls.bn_fc", ClassifierFeatures), relu,
		newLinear(ps, "cls.out", ClassifierFeatures, ClassifierClasses, true),
	}
	ps.alloc(b)
	return c
}

// NewClassifier makes a classifier on b, trained by batches of batch images
// (at least 2: BatchNorm needs more than one sample), with weights drawn by
// PyTorch's default rule (InitPyTorch) from seed.
func NewClassifier(b backend.Backend, batch int, seed uint64) (c *Classifier, err error) {
	if batch < 2 {
		return nil, fmt.Errorf("classifier batch size %d: want at least 2 (BatchNorm needs more than one sample)", batch)
	}
	defer recoverError(&err)
	c = newClassifier(b)
	rule, err := InitRuleOf(InitPyTorch, seed)
	if err != nil {
		return nil, err
	}
	c.Params.Init(b, rule, 0)
	c.bindTrain(batch)
	return c, nil
}

// bindTrain allocates the training state for batches of batch images.
func (c *Classifier) bindTrain(batch int) {
	b := c.B
	t := &classifierTrain{batch: batch, x: b.New(batch, 1, 28, 28),
		m: b.New(c.Params.Size()), v: b.New(c.Params.Size()), bc: b.New(2), bcHost: make([]float32, 2),
		logits: make([]float32, batch*ClassifierClasses), grad: make([]float32, batch*ClassifierClasses)}
	t.p = c.net.bind(b, t.x.Shape, backend.Tensor{})
	c.train = t
}

// softmaxCE is the mean softmax cross-entropy of logits [n, k] (n =
// len(labels)) against the labels, computed in float64. It writes its
// gradient with respect to the logits, (softmax − onehot)/n, into grad
// (same length as logits) and counts the rows whose largest logit (the
// first, on ties) is the label's.
func softmaxCE(logits []float32, labels []uint8, k int, grad []float32) (loss float64, correct int) {
	n := len(labels)
	p := make([]float64, k)
	for i, y := range labels {
		row := logits[i*k : (i+1)*k]
		top := 0
		for j, z := range row {
			if z > row[top] {
				top = j
			}
		}
		if top == int(y) {
			correct++
		}
		zmax := float64(row[top])
		var sum float64
		for j, z := range row {
			p[j] = math.Exp(float64(z) - zmax)
			sum += p[j]
		}
		loss += math.Log(sum) + zmax - float64(row[y])
		for j := range p {
			g := p[j] / sum
			if j == int(y) {
				g--
			}
			grad[i*k+j] = float32(g / float64(n))
		}
	}
	return loss / float64(n), correct
}

// checkLabels checks that every label names one of the classifier's classes.
func checkLabels(labels []uint8) error {
	for i, l := range labels {
		if l >= ClassifierClasses {
			return fmt.Errorf("label %d is %d: the classifier has %d classes (0 to %d)", i, l, ClassifierClasses, ClassifierClasses-1)
		}
	}
	return nil
}

// TrainStep runs one Adam step (lr 1e-3 unless TrainClassifier lowered it,
// β 0.9, 0.999) on a batch of images (B·784 floats in [-1, 1]) and their B
// labels (0–9), BatchNorm in training mode. It returns the batch's mean
// cross-entropy before the update and the number of images it classified
// correctly. A classifier made by NewClassifier takes batches of its batch
// size; a loaded one takes the size of its first TrainStep from then on. A
// loss that is NaN or infinite is an error, and then nothing is updated.
func (c *Classifier) TrainStep(x []float32, labels []uint8) (loss float64, correct int, err error) {
	if c.train == nil && len(labels) < 2 {
		return 0, 0, fmt.Errorf("classifier batch of %d labels: want at least 2 (BatchNorm needs more than one sample)", len(labels))
	}
	batch := len(labels)
	if c.train != nil {
		batch = c.train.batch
	}
	if len(labels) != batch || len(x) != batch*classifierImageLen {
		return 0, 0, fmt.Errorf("classifier batch of %d floats and %d labels: want %d images of 1×28×28 (%d floats) and %d labels",
			len(x), len(labels), batch, batch*classifierImageLen, batch)
	}
	if err := checkLabels(labels); err != nil {
		return 0, 0, err
	}
	defer recoverError(&err)
	if c.train == nil {
		c.bindTrain(batch)
	}
	b, t := c.B, c.train
	loss, correct = c.forward(x, labels)
	if math.IsNaN(loss) || math.IsInf(loss, 0) {
		return loss, correct, fmt.Errorf("classifier step %d: cross-entropy is %v", t.t+1, loss)
	}
	c.backward()
	t.t++
	t.bcHost[0] = float32(1 - math.Pow(classifierBeta1, float64(t.t)))
	t.bcHost[1] = float32(1 - math.Pow(classifierBeta2, float64(t.t)))
	b.Upload(t.bc, t.bcHost)
	b.AdamStep(c.Params.W, c.Params.G, t.m, t.v, backend.Tensor{}, t.bc, c.lr, classifierBeta1, classifierBeta2, classifierEps)
	return loss, correct, nil
}

// forward runs the training pass on a batch and returns its loss and the
// number of correct answers, leaving the loss gradient in t.grad.
func (c *Classifier) forward(x []float32, labels []uint8) (loss float64, correct int) {
	b, t := c.B, c.train
	b.Upload(t.x, x)
	t.p.forward(b, t.x, true)
	b.Download(t.logits, t.p.out())
	return softmaxCE(t.logits, labels, ClassifierClasses, t.grad)
}

// backward sets the parameter gradients Params.G to those of the loss of the
// last forward.
func (c *Classifier) backward() {
	b, t := c.B, c.train
	b.Fill(c.Params.G, 0)
	b.Upload(t.p.dout(), t.grad)
	t.p.backward(b, t.x, t.p.top(), 0, backend.Tensor{}, true)
}

// evalAt returns the network bound for evaluation at n images, made on
// first use and kept. Features asks only for powers of two below
// classifierChunk and for classifierChunk itself, so at most 10 are made.
func (c *Classifier) evalAt(n int) *classifierEval {
	if e, ok := c.eval[n]; ok {
		return e
	}
	e := &classifierEval{x: c.B.New(n, 1, 28, 28)}
	e.p = c.net.bind(c.B, e.x.Shape, backend.Tensor{})
	c.eval[n] = e
	return e
}

// evalSize is the batch size Features runs a chunk of n ≤ classifierChunk
// images at: the next power of two, or classifierChunk. The rows past n
// are left over from earlier chunks; in evaluation mode every row is
// computed independently of the others, so they do not matter.
func evalSize(n int) int {
	s := 1
	for s < n {
		s *= 2
	}
	return min(s, classifierChunk)
}

// Features runs the classifier in evaluation mode (BatchNorm with its
// running statistics) on n ≥ 1 images (n·784 floats in [-1, 1], NCHW) and
// returns their n×128 feature vectors (the ReLU after cls.bn_fc) and n×10
// softmax probabilities. Images are processed in chunks of at most 500, so
// the memory used does not grow with n; an image's results do not depend on
// the other images of the call.
func (c *Classifier) Features(x []float32) (feats, probs []float32, err error) {
	if len(x) == 0 || len(x)%classifierImageLen != 0 {
		return nil, nil, fmt.Errorf("classifier input of %d floats: want a positive multiple of %d (1×28×28 images)", len(x), classifierImageLen)
	}
	defer recoverError(&err)
	n := len(x) / classifierImageLen
	feats = make([]float32, n*ClassifierFeatures)
	probs = make([]float32, n*ClassifierClasses)
	b := c.B
	for lo := 0; lo < n; lo += classifierChunk {
		hi := min(lo+classifierChunk, n)
		m := hi - lo
		e := c.evalAt(evalSize(m))
		b.Upload(e.x.Rows(0, m), x[lo*classifierImageLen:hi*classifierImageLen])
		e.p.forward(b, e.x, false)
		b.Download(feats[lo*ClassifierFeatures:hi*ClassifierFeatures], e.p.slots[classifierTap].y.Rows(0, m))
		logits := probs[lo*ClassifierClasses : hi*ClassifierClasses]
		b.Download(logits, e.p.out().Rows(0, m))
		softmaxRows(logits, ClassifierClasses)
	}
	return feats, probs, nil
}

// softmaxRows replaces each row of k logits by its softmax, in float64.
func softmaxRows(z []float32, k int) {
	p := make([]float64, k)
	for i := 0; i < len(z); i += k {
		row := z[i : i+k]
		zmax := math.Inf(-1)
		for _, v := range row {
			zmax = math.Max(zmax, float64(v))
		}
		var sum float64
		for j, v := range row {
			p[j] = math.Exp(float64(v) - zmax)
			sum += p[j]
		}
		for j := range row {
			row[j] = float32(p[j] / sum)
		}
	}
}

// Accuracy is the fraction of the images of ds whose most probable class
// (the first, on ties) is their label, the classifier in evaluation mode.
func (c *Classifier) Accuracy(ds data.Dataset, labels []uint8) (float64, error) {
	if err := checkDataset(ds, labels); err != nil {
		return 0, err
	}
	n := ds.Len()
	x := make([]float32, classifierChunk*classifierImageLen)
	correct := 0
	for lo := 0; lo < n; lo += classifierChunk {
		hi := min(lo+classifierChunk, n)
		for i := lo; i < hi; i++ {
			if err := ds.Image(i, x[(i-lo)*classifierImageLen:(i-lo+1)*classifierImageLen]); err != nil {
				return 0, err
			}
		}
		_, probs, err := c.Features(x[:(hi-lo)*classifierImageLen])
		if err != nil {
			return 0, err
		}
		for i := lo; i < hi; i++ {
			row := probs[(i-lo)*ClassifierClasses : (i-lo+1)*ClassifierClasses]
			top := 0
			for j, p := range row {
				if p > row[top] {
					top = j
				}
			}
			if top == int(labels[i]) {
				correct++
			}
		}
	}
	return float64(correct) / float64(n), nil
}

// checkDataset checks that ds holds 1×28×28 images, one per label, and that
// the labels are classes of the classifier.
func checkDataset(ds data.Dataset, labels []uint8) error {
	if c, h, w := ds.Shape(); c != 1 || h != 28 || w != 28 {
		return fmt.Errorf("%s holds %d×%d×%d images; the classifier takes 1×28×28", ds.Name(), c, h, w)
	}
	if ds.Len() != len(labels) {
		return fmt.Errorf("%s holds %d images but %d labels were given", ds.Name(), ds.Len(), len(labels))
	}
	if err := checkLabels(labels); err != nil {
		return fmt.Errorf("%s: %w", ds.Name(), err)
	}
	return nil
}

// Save writes the classifier's weights and BatchNorm statistics (float32,
// the names of the Classifier's documentation) to path atomically, as a
// safetensors file with the given metadata and "model": "classifier".
func (c *Classifier) Save(path string, meta map[string]string) (err error) {
	defer recoverError(&err)
	m := map[string]string{}
	for k, v := range meta {
		m[k] = v
	}
	m[metaModel] = classifierModel
	var ts []checkpoint.Tensor
	f32 := func(name string, x backend.Tensor) { ts = append(ts, downloadF32(c.B, name, x)) }
	for _, p := range c.Params.Params {
		f32(p.Name, p.W)
	}
	for _, st := range c.Params.Stats {
		f32(st.Name, st.T)
	}
	return checkpoint.Write(path, ts, m)
}

// LoadClassifier makes a classifier on b with the weights and statistics of
// f (written by Save). A missing or mis-shaped tensor is an error naming
// it, and so is a file whose "model" metadata is another model's.
func LoadClassifier(b backend.Backend, f *checkpoint.File) (c *Classifier, err error) {
	if m, ok := f.Meta[metaModel]; ok && m != classifierModel {
		return nil, fmt.Errorf("checkpoint %s: model %q, want %q", f.Path, m, classifierModel)
	}
	defer recoverError(&err)
	c = newClassifier(b)
	load := func(name string, x backend.Tensor) error {
		host, err := f.Float32(name, x.Shape...)
		if err != nil {
			return err
		}
		b.Upload(x, host)
		return nil
	}
	for _, p := range c.Params.Params {
		if err := load(p.Name, p.W); err != nil {
			return nil, err
		}
	}
	for _, st := range c.Params.Stats {
		if err := load(st.Name, st.T); err != nil {
			return nil, err
		}
	}
	c.Meta = f.Meta
	return c, nil
}

// The committed classifiers; see classifiers/README.md.
//
//go:embed classifiers
var classifierFiles embed.FS

// ClassifierDatasets lists the datasets EmbeddedClassifier has weights for.
func ClassifierDatasets() []string { return []string{"mnist", "fashion-mnist"} }

// EmbeddedClassifier returns the committed classifier trained on dataset
// ("mnist" or "fashion-mnist"), made on b. Its Meta holds how it was
// trained and its test accuracy ("test_accuracy").
func EmbeddedClassifier(b backend.Backend, dataset string) (*Classifier, error) {
	known := false
	for _, d := range ClassifierDatasets() {
		known = known || d == dataset
	}
	if !known {
		return nil, fmt.Errorf("no embedded classifier for dataset %q (want one of %v)", dataset, ClassifierDatasets())
	}
	name := "classifiers/" + dataset + ".safetensors"
	raw, err := classifierFiles.ReadFile(name)
	if err != nil {
		return nil, fmt.Errorf("embedded classifier model/%s: %v (train it with trainer classifier -data %s -out model/%s)", name, err, dataset, name)
	}
	f, err := checkpoint.Parse("embedded model/"+name, raw)
	if err != nil {
		return nil, err
	}
	if d := f.Meta["dataset"]; d != dataset {
		return nil, fmt.Errorf("checkpoint %s: dataset %q, want %q", f.Path, d, dataset)
	}
	return LoadClassifier(b, f)
}

// TrainClassifier trains a new classifier on b on the 1×28×28 images of
// train and their labels, for epochs passes over the data, by batches of 64
// with Adam (lr 1e-3, a tenth of it in the last epoch when there are two or
// more), and returns it with its accuracy on test. It is deterministic:
// the weights are drawn from seed, and epoch e (from 0) visits the images
// in the order rand.New(rand.NewPCG(seed, e)) shuffles them into
// (math/rand/v2; the last incomplete batch is dropped). It logs each epoch's
// mean training loss and accuracy and the test accuracy to log (may be nil).
func TrainClassifier(b backend.Backend, train, test data.Dataset, trainLabels, testLabels []uint8,
	epochs int, seed uint64, log io.Writer) (*Classifier, float64, error) {
	if log == nil {
		log = io.Discard
	}
	if epochs < 1 {
		return nil, 0, fmt.Errorf("classifier: %d epochs, want at least 1", epochs)
	}
	if err := checkDataset(train, trainLabels); err != nil {
		return nil, 0, err
	}
	if err := checkDataset(test, testLabels); err != nil {
		return nil, 0, err
	}
	const batch = classifierBatch
	if train.Len() < batch {
		return nil, 0, fmt.Errorf("%s holds %d images, fewer than one batch of %d", train.Name(), train.Len(), batch)
	}
	c, err := NewClassifier(b, batch, seed)
	if err != nil {
		return nil, 0, err
	}
	fmt.Fprintf(log, "classifier: %d training images (%s), %d test images (%s), %d epochs of %d batches of %d, seed %d, on %s\n",
		train.Len(), train.Name(), test.Len(), test.Name(), epochs, train.Len()/batch, batch, seed, b.Name())
	perm := make([]int, train.Len())
	x := make([]float32, batch*classifierImageLen)
	y := make([]uint8, batch)
	var acc float64
	for e := range epochs {
		start := time.Now()
		c.lr = classifierLR
		if epochs >= 2 && e == epochs-1 {
			c.lr = classifierLR / classifierLRDrop
		}
		for i := range perm {
			perm[i] = i
		}
		r := rand.New(rand.NewPCG(seed, uint64(e)))
		r.Shuffle(len(perm), func(i, j int) { perm[i], perm[j] = perm[j], perm[i] })
		var lossSum float64
		correct, seen := 0, 0
		for k := 0; k+batch <= len(perm); k += batch {
			for j, i := range perm[k : k+batch] {
				if err := train.Image(i, x[j*classifierImageLen:(j+1)*classifierImageLen]); err != nil {
					return nil, 0, err
				}
				y[j] = trainLabels[i]
			}
			loss, ok, err := c.TrainStep(x, y)
			if err != nil {
				return nil, 0, fmt.Errorf("epoch %d: %w", e+1, err)
			}
			lossSum += loss * batch
			correct += ok
			seen += batch
		}
		if acc, err = c.Accuracy(test, testLabels); err != nil {
			return nil, 0, err
		}
		fmt.Fprintf(log, "epoch %d/%d: lr %g, train loss %.4f, train accuracy %.4f, test accuracy %.4f (%s)\n",
			e+1, epochs, c.lr, lossSum/float64(seen), float64(correct)/float64(seen), acc, time.Since(start).Round(time.Second))
	}
	return c, acc, nil
}
