package data

import (
	"bytes"
	_ "embed"
	"slices"
	"sync"
)

// The MNIST image files, vendored unmodified; see mnist/README.md.
var (
	//go:embed mnist/train-images-idx3-ubyte.gz
	mnistTrainGz []byte
	//go:embed mnist/t10k-images-idx3-ubyte.gz
	mnistTestGz []byte
	//go:embed mnist/train-labels-idx1-ubyte.gz
	mnistTrainLabelsGz []byte
	//go:embed mnist/t10k-labels-idx1-ubyte.gz
	mnistTestLabelsGz []byte
)

// The decoded sets are shared: a Dataset is read-only.
var (
	mnistTrain = sync.OnceValues(func() (*idxSet, error) {
		return readIDX("embedded MNIST train-images-idx3-ubyte.gz", bytes.NewReader(mnistTrainGz))
	})
	mnistTest = sync.OnceValues(func() (*idxSet, error) {
		return readIDX("embedded MNIST t10k-images-idx3-ubyte.gz", bytes.NewReader(mnistTestGz))
	})
	mnistTrainLabels = sync.OnceValues(func() ([]uint8, error) {
		return readLabels("embedded MNIST train-labels-idx1-ubyte.gz", bytes.NewReader(mnistTrainLabelsGz))
	})
	mnistTestLabels = sync.OnceValues(func() ([]uint8, error) {
		return readLabels("embedded MNIST t10k-labels-idx1-ubyte.gz", bytes.NewReader(mnistTestLabelsGz))
	})
)

// MNIST returns the embedded MNIST training set: 60000 gray images of 28×28.
func MNIST() (Dataset, error) { return asDataset(mnistTrain()) }

// MNISTTest returns the embedded MNIST test set: 10000 gray images of 28×28.
func MNISTTest() (Dataset, error) { return asDataset(mnistTest()) }

// MNISTLabels returns the 60000 labels (digits 0–9) of the embedded MNIST
// training set, in image order, as a slice of the caller's own.
func MNISTLabels() ([]uint8, error) { return cloneLabels(mnistTrainLabels()) }

// MNISTTestLabels returns the 10000 labels of the embedded MNIST test set, in
// image order, as a slice of the caller's own.
func MNISTTestLabels() ([]uint8, error) { return cloneLabels(mnistTestLabels()) }

// cloneLabels copies shared labels so that a caller cannot alter them.
func cloneLabels(l []uint8, err error) ([]uint8, error) {
	if err != nil {
		return nil, err
	}
	return slices.Clone(l), nil
}

// asDataset keeps a failed load from becoming a non-nil Dataset.
func asDataset(d *idxSet, err error) (Dataset, error) {
	if err != nil {
		return nil, err
	}
	return d, nil
}
