package data

import (
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"os"
)

// Dataset is an indexed set of images of one shape.
type Dataset interface {
	// Len is the number of images.
	Len() int
	// Shape is the shape of every image: channels, height, width.
	Shape() (c, h, w int)
	// Name names the dataset in messages: a path or "embedded MNIST ...".
	Name() string
	// Image writes image i into dst (len c*h*w) as CHW float32 in [-1, 1].
	// It is safe to call from several goroutines at once.
	Image(i int, dst []float32) error
}

// Open opens the dataset at path for an architecture taking c×h×w images:
// "" is the embedded MNIST training set, a directory is read with OpenFolder
// (resized to h×w, so it always fits), and a file is read with OpenIDX. A
// dataset whose shape is not c×h×w is an error.
func Open(path string, c, h, w int) (Dataset, error) {
	var ds Dataset
	var err error
	if path == "" {
		ds, err = MNIST()
	} else {
		fi, statErr := os.Stat(path)
		switch {
		case statErr != nil:
			return nil, fmt.Errorf("data: %w", statErr)
		case fi.IsDir():
			return OpenFolder(path, c, h, w)
		}
		ds, err = OpenIDX(path)
	}
	if err != nil {
		return nil, err
	}
	if dc, dh, dw := ds.Shape(); dc != c || dh != h || dw != w {
		return nil, fmt.Errorf("data: %s holds %s images; the architecture expects %s",
			ds.Name(), shapeString(dc, dh, dw), shapeString(c, h, w))
	}
	return ds, nil
}

// FirstN returns the first n images of ds in file order, concatenated
// (n*c*h*w floats).
func FirstN(ds Dataset, n int) ([]float32, error) {
	if n < 1 || n > ds.Len() {
		return nil, fmt.Errorf("data: %s: asked for the first %d images, it holds %d", ds.Name(), n, ds.Len())
	}
	c, h, w := ds.Shape()
	size := c * h * w
	out := make([]float32, n*size)
	for i := range n {
		if err := ds.Image(i, out[i*size:(i+1)*size]); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// fingerprintImages is how many of a dataset's first images Fingerprint hashes.
const fingerprintImages = 16

// Fingerprint identifies a dataset by its image count, shape and a SHA-256
// of its first images as loaded: the same files at another path give the
// same fingerprint.
func Fingerprint(ds Dataset) (string, error) {
	c, h, w := ds.Shape()
	x, err := FirstN(ds, min(fingerprintImages, ds.Len()))
	if err != nil {
		return "", err
	}
	sum := sha256.New()
	binary.Write(sum, binary.LittleEndian, x)
	return fmt.Sprintf("%d images of %s, sha256 of the first %d %x", ds.Len(), shapeString(c, h, w), len(x)/(c*h*w), sum.Sum(nil)[:8]), nil
}

// shapeString writes a shape as "1×28×28 (gray)" or "3×64×64 (RGB)".
func shapeString(c, h, w int) string {
	kind := ""
	switch c {
	case 1:
		kind = " (gray)"
	case 3:
		kind = " (RGB)"
	}
	return fmt.Sprintf("%d×%d×%d%s", c, h, w, kind)
}

// byteScale maps an 8-bit value x to x/127.5 - 1.
var byteScale = func() (t [256]float32) {
	for x := range t {
		t[x] = float32(float64(x)/127.5 - 1)
	}
	return t
}()
