package data

import (
	"math"
	"testing"
)

// The widely published per-pixel statistics of MNIST in [0, 1] terms
// (mean and population standard deviation over every pixel).
func TestMNISTEmbedded(t *testing.T) {
	for _, tc := range []struct {
		name      string
		open      func() (Dataset, error)
		n         int
		mean, std float64
	}{
		{"train", MNIST, 60000, 0.1307, 0.3081},
		{"test", MNISTTest, 10000, 0.1325, 0.3105},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ds, err := tc.open()
			if err != nil {
				t.Fatal(err)
			}
			if c, h, w := ds.Shape(); ds.Len() != tc.n || c != 1 || h != 28 || w != 28 {
				t.Fatalf("%d images of %d×%d×%d, want %d of 1×28×28", ds.Len(), c, h, w, tc.n)
			}
			dst := make([]float32, 28*28)
			var sum, sq float64
			for i := range ds.Len() {
				if err := ds.Image(i, dst); err != nil {
					t.Fatal(err)
				}
				for _, v := range dst {
					if v < -1 || v > 1 {
						t.Fatalf("image %d holds %v, outside [-1, 1]", i, v)
					}
					x := (float64(v) + 1) / 2
					sum += x
					sq += x * x
				}
			}
			count := float64(ds.Len() * 28 * 28)
			mean := sum / count
			std := math.Sqrt(sq/count - mean*mean)
			t.Logf("mean %.6f std %.6f", mean, std)
			if math.Abs(mean-tc.mean) > 5e-5 || math.Abs(std-tc.std) > 5e-5 {
				t.Fatalf("mean %.6f std %.6f, want %.4f %.4f", mean, std, tc.mean, tc.std)
			}
		})
	}
}

func TestOpenDefaultIsMNIST(t *testing.T) {
	ds, err := Open("", 1, 28, 28)
	if err != nil {
		t.Fatal(err)
	}
	train, _ := MNIST()
	if ds != train || ds.Len() != 60000 {
		t.Fatalf("Open(\"\") gave %s (%d images), want the embedded MNIST training set", ds.Name(), ds.Len())
	}
}
