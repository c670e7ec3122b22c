package evaluation

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/vaegan-go/vaegan/backend"
	"github.com/vaegan-go/vaegan/data"
	"github.com/vaegan-go/vaegan/model"
)

// FashionDir is where Debian's dataset-fashion-mnist package puts
// Fashion-MNIST's IDX files.
const FashionDir = "/usr/share/datasets/fashion-mnist"

// Names of the test splits that have a committed classifier.
const (
	MNIST   = "mnist"
	Fashion = "fashion-mnist"
)

// ReferenceFor names the test split that matches a run's training data
// (the trainer's -data value): MNIST for the embedded default,
// Fashion-MNIST for files under FashionDir, and otherwise the t10k file
// beside an IDX train-images file, or the training data itself.
func ReferenceFor(trainData string) string {
	switch {
	case trainData == "":
		return MNIST
	case filepath.Dir(trainData) == FashionDir || strings.TrimSuffix(trainData, "/") == FashionDir:
		return Fashion
	}
	dir, base := filepath.Split(trainData)
	if rest, ok := strings.CutPrefix(base, "train-images-idx3-ubyte"); ok {
		return filepath.Join(dir, "t10k-images-idx3-ubyte"+rest)
	}
	return trainData
}

// MaxReference is the most images of a test split an evaluation uses (the
// first ones, in file order).
const MaxReference = 10000

// OpenReference loads the test split ref (MNIST, Fashion, or the path of an
// IDX file or image folder) for c×h×w images. The named splits come with
// their labels and classifier; a path has neither, so only the metrics that
// need no classifier are computed on it.
func OpenReference(b backend.Backend, ref string, c, h, w int) (*Reference, error) {
	var (
		ds     data.Dataset
		labels []uint8
		err    error
	)
	switch ref {
	case MNIST:
		if ds, err = data.MNISTTest(); err == nil {
			labels, err = data.MNISTTestLabels()
		}
	case Fashion:
		images := filepath.Join(FashionDir, "t10k-images-idx3-ubyte.gz")
		if _, statErr := os.Stat(images); statErr != nil {
			return nil, fmt.Errorf("reference %s: %s not found (install Debian's dataset-fashion-mnist package)", ref, images)
		}
		if ds, err = data.OpenIDX(images); err == nil {
			labels, err = data.ReadLabels(filepath.Join(FashionDir, "t10k-labels-idx1-ubyte.gz"))
		}
	default:
		ds, err = data.Open(ref, c, h, w)
	}
	if err != nil {
		return nil, fmt.Errorf("reference %s: %w", ref, err)
	}
	if dc, dh, dw := ds.Shape(); dc != c || dh != h || dw != w {
		return nil, fmt.Errorf("reference %s holds %d×%d×%d images; the model makes %d×%d×%d", ref, dc, dh, dw, c, h, w)
	}
	images, err := data.FirstN(ds, min(ds.Len(), MaxReference))
	if err != nil {
		return nil, err
	}
	var cls *model.Classifier
	if ref == MNIST || ref == Fashion {
		if cls, err = model.EmbeddedClassifier(b, ref); err != nil {
			return nil, err
		}
	}
	return NewReference(ref, images, labels, c, h, w, cls)
}
