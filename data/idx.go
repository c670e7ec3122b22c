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

// idxStream is an IDX file of unsigned bytes being read: its contents after
// the header, and what messages call it.
type idxStream struct {
	name string    // the file, for messages
	what string    // "file" or "decompressed file"
	src  io.Reader // the bytes after the header
	dims []uint64  // the header's dimension sizes
}

// fail is an error naming the file.
func (s *idxStream) fail(format string, args ...any) error {
	return fmt.Errorf("data: %s: "+format, append([]any{s.name}, args...)...)
}

// readErr describes an error reading the contents.
func (s *idxStream) readErr(err error) error {
	if s.what == "file" {
		return s.fail("read: %v", err)
	}
	return s.fail("corrupt gzip: %v", err)
}

// openIDXStream reads the header of an IDX file of unsigned bytes with dims
// dimensions (gzip-compressed or raw, recognised by the magic bytes 1f 8b)
// from r; kind says what such a file holds, for messages ("images N×H×W").
func openIDXStream(name string, r io.Reader, dims int, kind string) (*idxStream, error) {
	br := bufio.NewReader(r)
	s := &idxStream{name: name, what: "file", src: br}
	if m, _ := br.Peek(2); len(m) == 2 && m[0] == 0x1f && m[1] == 0x8b {
		zr, err := gzip.NewReader(br)
		if err != nil {
			return nil, s.fail("corrupt gzip: %v", err)
		}
		s.src, s.what = zr, "decompressed file"
	}
	size := 4 + 4*dims
	hdr, err := io.ReadAll(io.LimitReader(s.src, int64(size)))
	if err != nil {
		return nil, s.readErr(err)
	}
	if len(hdr) < 4 {
		return nil, s.fail("truncated: %s holds %d bytes, an IDX header is %d", s.what, len(hdr), size)
	}
	if hdr[0] != 0 || hdr[1] != 0 {
		return nil, s.fail("not an IDX file: starts with % x, want 00 00 08 %02x", hdr[:4], dims)
	}
	if hdr[2] != 0x08 {
		return nil, s.fail("IDX element type 0x%02x, want 0x08 (unsigned byte)", hdr[2])
	}
	if int(hdr[3]) != dims {
		return nil, s.fail("IDX file has %d dimensions, want %d (%s)", hdr[3], dims, kind)
	}
	if len(hdr) < size {
		return nil, s.fail("truncated: %s holds %d bytes, an IDX header is %d", s.what, len(hdr), size)
	}
	for i := range dims {
		s.dims = append(s.dims, uint64(binary.BigEndian.Uint32(hdr[4+4*i:])))
	}
	return s, nil
}

// readIDX parses an IDX image file from r; name names it in errors.
func readIDX(name string, r io.Reader) (*idxSet, error) {
	s, err := openIDXStream(name, r, 3, "images N×H×W; an idx1 file holds labels")
	if err != nil {
		return nil, err
	}
	fail, readErr, src, what := s.fail, s.readErr, s.src, s.what
	n, h, w := s.dims[0], s.dims[1], s.dims[2]
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
