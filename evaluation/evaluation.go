// Package evaluation measures a trained model's sample quality against a
// test split: prior samples and reconstructions go through a classifier
// trained on the same domain (model.Classifier) and the metrics of package
// quality compare them with the split's own features.
//
// The figures are domain metrics in the features of this project's
// classifier: comparable between runs of this trainer, not with published
// Inception-based FID or KID figures.
package evaluation

import (
	"fmt"

	"github.com/vaegan-go/vaegan/model"
	"github.com/vaegan-go/vaegan/quality"
)

// Chunk is the number of images classified at once, so that memory does not
// grow with the number of samples (the model decodes and encodes in chunks
// of its own, model.InferenceChunk).
const Chunk = 500

// Settings of the metrics.
const (
	kidSubsets   = 100  // KID subsets (as torch-fidelity)
	kidSize      = 1000 // rows per KID subset
	prNeighbours = 3    // k of precision and recall (Kynkäänniemi et al.)
	minShare     = 0.02 // a class is covered when at least this share of samples falls in it
	dataRange    = 2    // images are in [-1, 1]
)

// Reference is a test split and what the metrics need of it: its
// classifier features, their Gaussian and its sharpness.
type Reference struct {
	Name    string    // dataset name, e.g. "mnist"
	Images  []float32 // N images, NCHW in [-1, 1]
	Labels  []uint8   // N labels; nil when the split has none
	N       int
	C, H, W int

	cls   *model.Classifier // nil: only the metrics that need no classifier
	feats []float32         // N × model.ClassifierFeatures
	gauss quality.Gaussian
	sharp float64
}

// NewReference prepares the test split images (n images of c×h×w) with
// their labels (nil when unknown). cls may be nil: then only the metrics
// that need no classifier (sharpness, reconstruction MSE and SSIM) are
// computed.
func NewReference(name string, images []float32, labels []uint8, c, h, w int, cls *model.Classifier) (*Reference, error) {
	size := c * h * w
	if size == 0 || len(images) == 0 || len(images)%size != 0 {
		return nil, fmt.Errorf("reference %s: %d floats is not a whole number of %d×%d×%d images", name, len(images), c, h, w)
	}
	n := len(images) / size
	if labels != nil && len(labels) != n {
		return nil, fmt.Errorf("reference %s: %d labels for %d images", name, len(labels), n)
	}
	r := &Reference{Name: name, Images: images, Labels: labels, N: n, C: c, H: h, W: w, cls: cls,
		sharp: quality.Sharpness(images, n, c, h, w)}
	if cls != nil {
		feats, _, err := classify(cls, images, size)
		if err != nil {
			return nil, err
		}
		r.feats = feats
		r.gauss = quality.FitGaussian(feats, n, model.ClassifierFeatures)
	}
	return r, nil
}

// HasClassifier says whether the classifier-based metrics are computed.
func (r *Reference) HasClassifier() bool { return r.cls != nil }

// classify runs the classifier over images in chunks.
func classify(cls *model.Classifier, images []float32, size int) (feats, probs []float32, err error) {
	for lo := 0; lo < len(images); lo += Chunk * size {
		hi := min(lo+Chunk*size, len(images))
		f, p, err := cls.Features(images[lo:hi])
		if err != nil {
			return nil, nil, err
		}
		feats, probs = append(feats, f...), append(probs, p...)
	}
	return feats, probs, nil
}

// Report is one evaluation. Fields that a model or reference cannot give
// stay zero and their Has flag false.
type Report struct {
	Samples int `json:"samples"` // prior samples evaluated

	// Prior samples, in the classifier's features (HasClassifier).
	Frechet   float64   `json:"frechet"`    // Fréchet distance to the test split
	KID       float64   `json:"kid"`        // unbiased MMD², cubic polynomial kernel
	KIDErr    float64   `json:"kid_stderr"` // its standard error over subsets
	Precision float64   `json:"precision"`  // Kynkäänniemi et al., k = 3
	Recall    float64   `json:"recall"`
	Covered   int       `json:"classes_covered"` // classes with ≥ 2% of the samples
	Entropy   float64   `json:"class_entropy"`   // of the predicted class shares, nats
	Score     float64   `json:"class_score"`     // the inception-score analogue
	Shares    []float64 `json:"class_shares"`

	// Sharpness is the samples' Laplacian variance over the test split's.
	Sharpness float64 `json:"sharpness"`

	// Reconstructions of the test split (HasRecon).
	HasRecon  bool    `json:"has_recon"`
	Recons    int     `json:"recons"`
	Agreement float64 `json:"label_agreement"` // share classified as their input's label (needs labels and a classifier)
	MSE       float64 `json:"recon_mse"`       // mean squared pixel error, images in [-1, 1]
	SSIM      float64 `json:"recon_ssim"`

	HasClassifier bool `json:"has_classifier"`
}

// Generator is what an evaluation needs of a model: decoding latent
// vectors, and (when it has an encoder) deterministic reconstruction.
type Generator interface {
	Decode(z []float32) ([]float32, error)
	HasEncoder() bool
	Reconstruct(x []float32) ([]float32, error)
}

// Evaluate draws n prior samples (latent seed seed, latent size latent),
// reconstructs the first nRecon images of the split (none when nRecon is
// 0 or the model has no encoder), and measures both.
func (r *Reference) Evaluate(g Generator, latent, n int, seed uint64, nRecon int) (Report, error) {
	z := model.Prior(n, latent, seed)
	samples, err := g.Decode(z)
	if err != nil {
		return Report{}, err
	}
	rep, err := r.Samples(samples)
	if err != nil || nRecon <= 0 || !g.HasEncoder() {
		return rep, err
	}
	nRecon = min(nRecon, r.N)
	size := r.C * r.H * r.W
	in := r.Images[:nRecon*size]
	rec, err := g.Reconstruct(in)
	if err != nil {
		return rep, err
	}
	return rep, r.recon(&rep, in, rec, nRecon)
}

// Samples measures a set of images (NCHW in [-1, 1], the reference's
// shape) as prior samples.
func (r *Reference) Samples(x []float32) (Report, error) {
	size := r.C * r.H * r.W
	if len(x) == 0 || len(x)%size != 0 {
		return Report{}, fmt.Errorf("samples: %d floats is not a whole number of %d×%d×%d images", len(x), r.C, r.H, r.W)
	}
	n := len(x) / size
	rep := Report{Samples: n, Sharpness: quality.Sharpness(x, n, r.C, r.H, r.W) / r.sharp, HasClassifier: r.cls != nil}
	if r.cls == nil {
		return rep, nil
	}
	feats, probs, err := classify(r.cls, x, size)
	if err != nil {
		return rep, err
	}
	d := model.ClassifierFeatures
	rep.Frechet = quality.FrechetDistance(quality.FitGaussian(feats, n, d), r.gauss)
	rep.KID, rep.KIDErr = quality.KID(feats, n, r.feats, r.N, d, kidSubsets, kidSize, 1)
	rep.Precision, rep.Recall = quality.PrecisionRecall(r.feats, r.N, feats, n, d, prNeighbours)
	cs := quality.Classes(probs, n, model.ClassifierClasses, minShare)
	rep.Covered, rep.Entropy, rep.Score, rep.Shares = cs.Covered, cs.Entropy, cs.Score, cs.Shares
	return rep, nil
}

// recon fills the reconstruction figures of n inputs and their
// reconstructions.
func (r *Reference) recon(rep *Report, in, rec []float32, n int) error {
	rep.HasRecon, rep.Recons = true, n
	rep.MSE = quality.MSE(in, rec)
	rep.SSIM = quality.SSIM(in, rec, n, r.C, r.H, r.W, dataRange)
	if r.cls == nil || r.Labels == nil {
		return nil
	}
	_, probs, err := classify(r.cls, rec, r.C*r.H*r.W)
	if err != nil {
		return err
	}
	rep.Agreement = quality.Agreement(probs, model.ClassifierClasses, r.Labels[:n])
	return nil
}
