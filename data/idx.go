package data

import (
	"bufio"
	"compress/gzip"
	"encoding/binary"
	"fmt"
	"io"
	"math/bits"
	"os"
)

// idxHeader is the length of an IDX image file's header: the magic number
// 0x00000803 (unsigned byte, 3 dimensions) and three big-endian uint32 sizes.
const idxHeader = 16

// maxIDXBytes bounds the pixel data an IDX header may announce.
const maxIDXBytes = 1 << 40

// OpenIDX reads an IDX image file (the MNIST / Fashion-MNIST format: magic
// 0x00000803, unsigned bytes, dimensions N×H×W), gzip-compressed or raw; gzip
// is recognised by its magic bytes 1f 8b. The whole file is read and checked:
// its header, and that it holds exactly N*H*W pixel bytes.
func OpenIDX(path string) (Dataset, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("data: %w", err)
	}
	defer f.Close()
	return asDataset(readIDX(path, f))
}

// idxSet is an IDX image file held in memory: n gray images of h×w bytes.
type idxSet struct {
	name    string
	n, h, w int
	pix     []byte
}

// readIDX parses an IDX image file from r; name names it in errors.
func readIDX(name string, r io.Reader) (*idxSet, error) {
	br := bufio.NewReader(r)
	src, what := io.Reader(br), "file"
	if m, _ := br.Peek(2); len(m) == 2 && m[0] == 0x1f && m[1] == 0x8b {
		zr, err := gzip.NewReader(br)
		if err != nil {
			return nil, fmt.Errorf("data: %s: corrupt gzip: %v", name, err)
		}
		src, what = zr, "decompressed file"
	}
	fail := func(format string, args ...any) error {
		return fmt.Errorf("data: %s: "+format, append([]any{name}, args...)...)
	}
	readErr := func(err error) error {
		if what == "file" {
			return fail("read: %v", err)
		}
		return fail("corrupt gzip: %v", err)
	}

	hdr, err := io.ReadAll(io.LimitReader(src, idxHeader))
	if err != nil {
		return nil, readErr(err)
	}
	if len(hdr) < 4 {
		return nil, fail("truncated: %s holds %d bytes, an IDX header is %d", what, len(hdr), idxHeader)
	}
	if hdr[0] != 0 || hdr[1] != 0 {
		return nil, fail("not an IDX file: starts with % x, want 00 00 08 03", hdr[:4])
	}
	if hdr[2] != 0x08 {
		return nil, fail("IDX element type 0x%02x, want 0x08 (unsigned byte)", hdr[2])
	}
	if hdr[3] != 3 {
		return nil, fail("IDX file has %d dimensions, want 3 (images N×H×W; an idx1 file holds labels)", hdr[3])
	}
	if len(hdr) < idxHeader {
		return nil, fail("truncated: %s holds %d bytes, an IDX header is %d", what, len(hdr), idxHeader)
	}
	n := uint64(binary.BigEndian.Uint32(hdr[4:]))
	h := uint64(binary.BigEndian.Uint32(hdr[8:]))
	w := uint64(binary.BigEndian.Uint32(hdr[12:]))
	if n == 0 || h == 0 || w == 0 {
		return nil, fail("header says %d images of %d×%d; every dimension must be at least 1", n, h, w)
	}
	hi, want := bits.Mul64(n, h*w)
	if hi != 0 || want > maxIDXBytes {
		return nil, fail("header says %d images of %d×%d, more than %d bytes; not an image file?", n, h, w, uint64(maxIDXBytes))
	}

	pix, err := io.ReadAll(io.LimitReader(src, int64(want)+1))
	if err != nil {
		return nil, readErr(err)
	}
	switch got := uint64(len(pix)); {
	case got < want:
		return nil, fail("truncated: header says %d images of %d×%d (%d pixel bytes), %s holds %d",
			n, h, w, want, what, got)
	case got > want:
		return nil, fail("trailing data: header says %d images of %d×%d (%d pixel bytes), %s holds more",
			n, h, w, want, what)
	}
	return &idxSet{name: name, n: int(n), h: int(h), w: int(w), pix: pix}, nil
}

// Len is the number of images.
func (d *idxSet) Len() int { return d.n }

// Shape is 1×h×w: IDX images are gray.
func (d *idxSet) Shape() (c, h, w int) { return 1, d.h, d.w }

// Name is the file's path.
func (d *idxSet) Name() string { return d.name }

// Image writes image i as x/127.5 - 1.
func (d *idxSet) Image(i int, dst []float32) error {
	size := d.h * d.w
	if err := checkImageArgs(d, i, dst); err != nil {
		return err
	}
	for j, x := range d.pix[i*size : (i+1)*size] {
		dst[j] = byteScale[x]
	}
	return nil
}

// checkImageArgs checks Image's index and destination length against ds.
func checkImageArgs(ds Dataset, i int, dst []float32) error {
	if i < 0 || i >= ds.Len() {
		return fmt.Errorf("data: %s: image %d out of range [0, %d)", ds.Name(), i, ds.Len())
	}
	c, h, w := ds.Shape()
	if len(dst) != c*h*w {
		return fmt.Errorf("data: %s: Image destination holds %d floats, want %d (%s)",
			ds.Name(), len(dst), c*h*w, shapeString(c, h, w))
	}
	return nil
}
