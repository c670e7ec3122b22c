package data

import (
	"bytes"
	"encoding/binary"
	"os"
	"slices"
	"strings"
	"testing"
)

// idx1Bytes builds an IDX label file holding labels, with a header that
// announces n of them.
func idx1Bytes(n int, labels []byte) []byte {
	var b bytes.Buffer
	b.Write([]byte{0, 0, 0x08, 1})
	binary.Write(&b, binary.BigEndian, uint32(n))
	b.Write(labels)
	return b.Bytes()
}

func TestReadLabelsRoundTrip(t *testing.T) {
	labels := []byte{3, 1, 4, 1, 5, 9, 2, 6, 255}
	raw := idx1Bytes(len(labels), labels)
	for name, content := range map[string][]byte{"l.idx1": raw, "l.idx1.gz": gzipBytes(t, raw)} {
		got, err := ReadLabels(writeFile(t, name, content))
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if !slices.Equal(got, labels) {
			t.Errorf("%s: read %v, want %v", name, got, labels)
		}
	}
}

func TestReadLabelsErrors(t *testing.T) {
	good := idx1Bytes(4, []byte{0, 1, 2, 3})
	images := idxBytes(1, 2, 2, testPixels(1, 2, 2))
	for _, tc := range []struct {
		name    string
		content []byte
		want    string
	}{
		{"empty", nil, "truncated"},
		{"short header", good[:6], "truncated"},
		{"bad magic", append([]byte{1, 2, 8, 1}, good[4:]...), "not an IDX file"},
		{"images", images, "want 1 (labels"},
		{"float", append([]byte{0, 0, 0x0d, 1}, good[4:]...), "element type 0x0d"},
		{"truncated", good[:len(good)-1], "truncated: header says 4 labels, file holds 3"},
		{"trailing", append(slices.Clone(good), 7), "trailing data"},
		{"zero", idx1Bytes(0, nil), "0 labels"},
		{"truncated gzip", gzipBytes(t, good)[:20], "corrupt gzip"},
		{"truncated inside gzip", gzipBytes(t, good[:len(good)-2]), "decompressed file holds 2"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := writeFile(t, "labels.gz", tc.content)
			_, err := ReadLabels(path)
			if err == nil {
				t.Fatal("no error")
			}
			if !strings.Contains(err.Error(), path) || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %q, want one naming %s and saying %q", err, path, tc.want)
			}
		})
	}
	if _, err := ReadLabels("/nonexistent/labels.gz"); err == nil || !strings.Contains(err.Error(), "/nonexistent/labels.gz") {
		t.Errorf("missing file: %v, want an error naming it", err)
	}
}

// The embedded label files: their sizes, the published class counts of the
// MNIST test set, and that every label is a digit.
func TestMNISTLabels(t *testing.T) {
	train, err := MNISTLabels()
	if err != nil {
		t.Fatal(err)
	}
	test, err := MNISTTestLabels()
	if err != nil {
		t.Fatal(err)
	}
	if len(train) != 60000 || len(test) != 10000 {
		t.Fatalf("%d train and %d test labels, want 60000 and 10000", len(train), len(test))
	}
	var trainCount, testCount [10]int
	for _, c := range []struct {
		labels []uint8
		count  *[10]int
	}{{train, &trainCount}, {test, &testCount}} {
		for i, l := range c.labels {
			if l > 9 {
				t.Fatalf("label %d is %d, not a digit", i, l)
			}
			c.count[l]++
		}
	}
	if want := [10]int{980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009}; testCount != want {
		t.Errorf("test set class counts %v, want %v", testCount, want)
	}
	if want := [10]int{5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949}; trainCount != want {
		t.Errorf("training set class counts %v, want %v", trainCount, want)
	}
	// The first test labels, as every MNIST tutorial prints them.
	if want := []uint8{7, 2, 1, 0, 4, 1, 4, 9, 5, 9}; !slices.Equal(test[:10], want) {
		t.Errorf("first test labels %v, want %v", test[:10], want)
	}
	test[0] = 99
	if again, _ := MNISTTestLabels(); again[0] != 7 {
		t.Errorf("changing the returned labels changed the embedded ones")
	}
}

// fashionMNIST is where the Debian package dataset-fashion-mnist installs
// Fashion-MNIST.
const fashionMNIST = "/usr/share/datasets/fashion-mnist/"

func TestFashionMNISTLabels(t *testing.T) {
	if _, err := os.Stat(fashionMNIST); err != nil {
		t.Skipf("Fashion-MNIST not installed (Debian package dataset-fashion-mnist): %v", err)
	}
	for _, tc := range []struct {
		file string
		n    int
	}{{"train", 60000}, {"t10k", 10000}} {
		labels, err := ReadLabels(fashionMNIST + tc.file + "-labels-idx1-ubyte.gz")
		if err != nil {
			t.Fatal(err)
		}
		images, err := OpenIDX(fashionMNIST + tc.file + "-images-idx3-ubyte.gz")
		if err != nil {
			t.Fatal(err)
		}
		var count [10]int
		for _, l := range labels {
			if l > 9 {
				t.Fatalf("%s: label %d, want 0–9", tc.file, l)
			}
			count[l]++
		}
		if len(labels) != tc.n || images.Len() != tc.n {
			t.Errorf("%s: %d labels and %d images, want %d", tc.file, len(labels), images.Len(), tc.n)
		}
		for c, k := range count { // Fashion-MNIST is balanced
			if k != tc.n/10 {
				t.Errorf("%s: class %d has %d images, want %d", tc.file, c, k, tc.n/10)
			}
		}
	}
}
