package data

import (
	"bytes"
	_ "embed"
	"sync"
)

// The MNIST image files, vendored unmodified; see mnist/README.md.
var (
	//go:embed mnist/train-images-idx3-ubyte.gz
	mnistTrainGz []byte
	//go:embed mnist/t10k-images-idx3-ubyte.gz
	mnistTestGz []byte
)

// The decoded sets are shared: a Dataset is read-only.
var (
	mnistTrain = sync.OnceValues(func() (*idxSet, error) {
		return readIDX("embedded MNIST train-images-idx3-ubyte.gz", bytes.NewReader(mnistTrainGz))
	})
	mnistTest = sync.OnceValues(func() (*idxSet, error) {
		return readIDX("embedded MNIST t10k-images-idx3-ubyte.gz", bytes.NewReader(mnistTestGz))
	})
)

// MNIST returns the embedded MNIST training set: 60000 gray images of 28×28.
func MNIST() (Dataset, error) { return asDataset(mnistTrain()) }

// MNISTTest returns the embedded MNIST test set: 10000 gray images of 28×28.
func MNISTTest() (Dataset, error) { return asDataset(mnistTest()) }

// asDataset keeps a failed load from becoming a non-nil Dataset.
func asDataset(d *idxSet, err error) (Dataset, error) {
	if err != nil {
		return nil, err
	}
	return d, nil
}
