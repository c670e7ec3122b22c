package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"

	"github.com/vaegan-go/vaegan/data"
	"github.com/vaegan-go/vaegan/model"
)

// fashionMNISTDir is where the Debian package dataset-fashion-mnist installs
// Fashion-MNIST.
const fashionMNISTDir = "/usr/share/datasets/fashion-mnist"

// classifierData is a labelled dataset's training and test halves.
type classifierData struct {
	train, test             data.Dataset
	trainLabels, testLabels []uint8
}

// loadClassifierData reads MNIST from the embedded files, or Fashion-MNIST
// from the folder dir.
func loadClassifierData(name, dir string) (*classifierData, error) {
	d := &classifierData{}
	var err error
	switch name {
	case "mnist":
		if d.train, err = data.MNIST(); err != nil {
			return nil, err
		}
		if d.test, err = data.MNISTTest(); err != nil {
			return nil, err
		}
		if d.trainLabels, err = data.MNISTLabels(); err != nil {
			return nil, err
		}
		if d.testLabels, err = data.MNISTTestLabels(); err != nil {
			return nil, err
		}
		return d, nil
	case "fashion-mnist":
		if _, err := os.Stat(dir); err != nil {
			return nil, fmt.Errorf("-data fashion-mnist: the Fashion-MNIST files are not in %s (%v); "+
				"install the Debian package dataset-fashion-mnist, or give the folder holding "+
				"{train,t10k}-{images-idx3,labels-idx1}-ubyte.gz with -dir", dir, err)
		}
		file := func(f string) string { return filepath.Join(dir, f) }
		if d.train, err = data.OpenIDX(file("train-images-idx3-ubyte.gz")); err != nil {
			return nil, err
		}
		if d.test, err = data.OpenIDX(file("t10k-images-idx3-ubyte.gz")); err != nil {
			return nil, err
		}
		if d.trainLabels, err = data.ReadLabels(file("train-labels-idx1-ubyte.gz")); err != nil {
			return nil, err
		}
		if d.testLabels, err = data.ReadLabels(file("t10k-labels-idx1-ubyte.gz")); err != nil {
			return nil, err
		}
		return d, nil
	}
	return nil, fmt.Errorf("-data %q: want one of %v", name, model.ClassifierDatasets())
}

func classifier(args []string) error {
	fs := newFlagSet("classifier", "Trains the small CNN classifier whose features the sample-quality metrics use\n"+
		"(model.Classifier) on MNIST (embedded) or Fashion-MNIST, prints each epoch's training loss and\n"+
		"accuracy and the test accuracy, and writes the weights to a safetensors file.")
	dataName := fs.String("data", "mnist", "dataset: mnist or fashion-mnist")
	dir := fs.String("dir", fashionMNISTDir, "folder holding the Fashion-MNIST files")
	epochs := fs.Int("epochs", 4, "passes over the training set")
	seed := fs.Uint64("seed", 1, "seed of the weights and of the data order")
	out := fs.String("out", "classifier.safetensors", "output safetensors file")
	var dev deviceFlags
	dev.register(fs)
	if err := parse(fs, args); err != nil {
		return err
	}
	if *epochs < 1 {
		return fmt.Errorf("-epochs %d: want at least 1", *epochs)
	}
	d, err := loadClassifierData(*dataName, *dir)
	if err != nil {
		return err
	}
	b, err := dev.open()
	if err != nil {
		return err
	}
	c, acc, err := model.TrainClassifier(b, d.train, d.test, d.trainLabels, d.testLabels, *epochs, *seed, os.Stdout)
	if err != nil {
		return err
	}
	fmt.Printf("test accuracy %.4f (%d test images)\n", acc, d.test.Len())
	meta := map[string]string{
		"dataset":       *dataName,
		"epochs":        strconv.Itoa(*epochs),
		"seed":          strconv.FormatUint(*seed, 10),
		"test_accuracy": strconv.FormatFloat(acc, 'f', -1, 64),
		"device":        b.Name(),
	}
	if err := c.Save(*out, meta); err != nil {
		return err
	}
	fmt.Printf("wrote %s\n", *out)
	return nil
}
