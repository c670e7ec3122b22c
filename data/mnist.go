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

// The decoded sets are shared (a Dataset is read-only) and decoded on first
// use. Only the functions below refer to the embedded files, so a program
// that calls none of them links none of the files' 11 MB.
var (
	mnistTrain, mnistTest             lazy[*idxSet]
	mnistTrainLabels, mnistTestLabels lazy[[]uint8]
)

// lazy is a value made once, on first use.
type lazy[T any] struct {
	once sync.Once
	v    T
	err  error
}

// get returns the value, making it with load on first use.
func (l *lazy[T]) get(load func() (T, error)) (T, error) {
	l.once.Do(func() { l.v, l.err = load() })
	return l.v, l.err
}

// MNIST returns the embedded MNIST training set: 60000 gray images of 28×28.
func MNIST() (Dataset, error) {
	return asDataset(mnistTrain.get(func() (*idxSet, error) {
		return readIDX("embedded MNIST train-images-idx3-ubyte.gz", bytes.NewReader(mnistTrainGz))
	}))
}

// MNISTTest returns the embedded MNIST test set: 10000 gray images of 28×28.
func MNISTTest() (Dataset, error) {
	return asDataset(mnistTest.get(func() (*idxSet, error) {
		return readIDX("embedded MNIST t10k-images-idx3-ubyte.gz", bytes.NewReader(mnistTestGz))
	}))
}

// MNISTLabels returns the 60000 labels (digits 0–9) of the embedded MNIST
// training set, in image order, as a slice of the caller's own.
func MNISTLabels() ([]uint8, error) {
	return cloneLabels(mnistTrainLabels.get(func() ([]uint8, error) {
		return readLabels("embedded MNIST train-labels-idx1-ubyte.gz", bytes.NewReader(mnistTrainLabelsGz))
	}))
}

// MNISTTestLabels returns the 10000 labels of the embedded MNIST test set, in
// image order, as a slice of the caller's own.
func MNISTTestLabels() ([]uint8, error) {
	return cloneLabels(mnistTestLabels.get(func() ([]uint8, error) {
		return readLabels("embedded MNIST t10k-labels-idx1-ubyte.gz", bytes.NewReader(mnistTestLabelsGz))
	}))
}

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
