package data

import (
	"bytes"
	"compress/gzip"
	"encoding/binary"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// idxBytes builds an IDX image file of n images of h×w with the given pixels.
func idxBytes(n, h, w int, pix []byte) []byte {
	var b bytes.Buffer
	b.Write([]byte{0, 0, 0x08, 3})
	for _, d := range []int{n, h, w} {
		binary.Write(&b, binary.BigEndian, uint32(d))
	}
	b.Write(pix)
	return b.Bytes()
}

// gzipBytes compresses raw into one gzip member.
func gzipBytes(t *testing.T, raw []byte) []byte {
	t.Helper()
	var b bytes.Buffer
	zw := gzip.NewWriter(&b)
	if _, err := zw.Write(raw); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// writeFile writes content to name in a fresh temporary folder.
func writeFile(t *testing.T, name string, content []byte) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(path, content, 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// testPixels returns n*h*w pixel bytes covering all 256 values.
func testPixels(n, h, w int) []byte {
	pix := make([]byte, n*h*w)
	for i := range pix {
		pix[i] = byte(i * 7)
	}
	return pix
}

func TestIDXRoundTrip(t *testing.T) {
	const n, h, w = 5, 4, 3
	pix := testPixels(n, h, w)
	raw := idxBytes(n, h, w, pix)
	for _, tc := range []struct {
		name    string
		content []byte
	}{
		{"raw.idx", raw},
		{"packed.idx.gz", gzipBytes(t, raw)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := writeFile(t, tc.name, tc.content)
			ds, err := OpenIDX(path)
			if err != nil {
				t.Fatal(err)
			}
			if ds.Len() != n || ds.Name() != path {
				t.Fatalf("Len %d Name %q, want %d %q", ds.Len(), ds.Name(), n, path)
			}
			if c, gh, gw := ds.Shape(); c != 1 || gh != h || gw != w {
				t.Fatalf("Shape %d×%d×%d, want 1×%d×%d", c, gh, gw, h, w)
			}
			dst := make([]float32, h*w)
			for i := range n {
				if err := ds.Image(i, dst); err != nil {
					t.Fatal(err)
				}
				for j, v := range dst {
					want := float32(float64(pix[i*h*w+j])/127.5 - 1)
					if v != want {
						t.Fatalf("image %d pixel %d = %v, want %v", i, j, v, want)
					}
				}
			}
			if err := ds.Image(n, dst); err == nil || !strings.Contains(err.Error(), "out of range") {
				t.Errorf("Image(%d) error %v, want out of range", n, err)
			}
			if err := ds.Image(0, dst[1:]); err == nil || !strings.Contains(err.Error(), "want 12") {
				t.Errorf("Image with short dst: error %v, want a length error", err)
			}
		})
	}
}

func TestByteScaleEnds(t *testing.T) {
	if byteScale[0] != -1 || byteScale[255] != 1 || byteScale[128] != float32(128/127.5-1) {
		t.Fatalf("byteScale 0, 128, 255 = %v %v %v", byteScale[0], byteScale[128], byteScale[255])
	}
}

func TestIDXErrors(t *testing.T) {
	const n, h, w = 3, 4, 4
	good := idxBytes(n, h, w, testPixels(n, h, w))
	gz := gzipBytes(t, good)
	corruptCRC := bytes.Clone(gz)
	corruptCRC[len(corruptCRC)-6] ^= 0xff // in the CRC-32 of the trailer
	labels := []byte{0, 0, 0x08, 1, 0, 0, 0, 2, 7, 3}
	floats := bytes.Clone(good)
	floats[2] = 0x0d

	for _, tc := range []struct {
		name    string
		content []byte
		want    string
	}{
		{"empty.idx", nil, "truncated: file holds 0 bytes, an IDX header is 16"},
		{"short-header.idx", good[:10], "truncated: file holds 10 bytes, an IDX header is 16"},
		{"truncated.idx", good[:len(good)-5], "truncated: header says 3 images of 4×4 (48 pixel bytes), file holds 43"},
		{"trailing.idx", append(bytes.Clone(good), 1, 2), "trailing data: header says 3 images of 4×4 (48 pixel bytes), file holds more"},
		{"magic.idx", append([]byte("PK\x03\x04"), good[4:]...), "not an IDX file: starts with 50 4b 03 04"},
		{"floats.idx", floats, "element type 0x0d, want 0x08"},
		{"labels.idx", labels, "1 dimensions, want 3"},
		{"zero.idx", idxBytes(0, h, w, nil), "header says 0 images of 4×4"},
		{"huge.idx", idxBytes(1<<31, 1<<15, 1<<15, nil), "more than 1099511627776 bytes"},
		{"truncated.idx.gz", gzipBytes(t, good[:len(good)-5]), "truncated: header says 3 images of 4×4 (48 pixel bytes), decompressed file holds 43"},
		{"trailing.idx.gz", gzipBytes(t, append(bytes.Clone(good), 9)), "trailing data"},
		{"cut.idx.gz", gz[:len(gz)-12], "corrupt gzip: unexpected EOF"},
		{"crc.idx.gz", corruptCRC, "corrupt gzip: gzip: invalid checksum"},
		{"junk-after.idx.gz", append(bytes.Clone(gz), "junk"...), "corrupt gzip"},
		{"header.idx.gz", []byte{0x1f, 0x8b, 0xff}, "corrupt gzip"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := writeFile(t, tc.name, tc.content)
			ds, err := OpenIDX(path)
			if err == nil {
				t.Fatalf("OpenIDX gave %d images, want an error", ds.Len())
			}
			if ds != nil {
				t.Errorf("OpenIDX returned a non-nil Dataset with its error")
			}
			msg := err.Error()
			if !strings.HasPrefix(msg, "data: "+path+": ") || !strings.Contains(msg, tc.want) {
				t.Fatalf("error %q, want it to name %s and say %q", msg, path, tc.want)
			}
		})
	}
	if _, err := OpenIDX(filepath.Join(t.TempDir(), "missing.idx")); err == nil || !strings.Contains(err.Error(), "missing.idx") {
		t.Errorf("missing file: error %v, want one naming missing.idx", err)
	}
}

func TestOpenShapeMismatch(t *testing.T) {
	path := writeFile(t, "32.idx", idxBytes(2, 32, 32, make([]byte, 2*32*32)))
	for _, tc := range []struct {
		c, h, w int
		want    string
	}{
		{1, 28, 28, path + " holds 1×32×32 (gray) images; the architecture expects 1×28×28 (gray)"},
		{3, 32, 32, path + " holds 1×32×32 (gray) images; the architecture expects 3×32×32 (RGB)"},
	} {
		_, err := Open(path, tc.c, tc.h, tc.w)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Open(%d×%d×%d): error %v, want %q", tc.c, tc.h, tc.w, err, tc.want)
		}
	}
	ds, err := Open(path, 1, 32, 32)
	if err != nil || ds.Len() != 2 {
		t.Fatalf("Open matching shape: %v", err)
	}
	if _, err := Open(filepath.Join(t.TempDir(), "nope"), 1, 28, 28); err == nil || !strings.Contains(err.Error(), "nope") {
		t.Errorf("Open of a missing path: error %v, want one naming it", err)
	}
	if _, err := Open("", 3, 64, 64); err == nil || !strings.Contains(err.Error(), "embedded MNIST train-images-idx3-ubyte.gz holds 1×28×28 (gray) images; the architecture expects 3×64×64 (RGB)") {
		t.Errorf("Open(\"\") for an RGB arch: error %v", err)
	}
}
