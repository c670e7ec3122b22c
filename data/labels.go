package data

import (
	"fmt"
	"io"
	"os"
)

// ReadLabels reads an IDX label file (the MNIST / Fashion-MNIST format:
// magic 0x00000801, unsigned bytes, dimension N), gzip-compressed or raw;
// gzip is recognised by its magic bytes 1f 8b. The whole file is read and
// checked: its header, and that it holds exactly N label bytes. Any byte
// value is accepted; what a label may be is for the caller to check.
func ReadLabels(path string) ([]uint8, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("data: %w", err)
	}
	defer f.Close()
	return readLabels(path, f)
}

// readLabels parses an IDX label file from r; name names it in errors.
func readLabels(name string, r io.Reader) ([]uint8, error) {
	s, err := openIDXStream(name, r, 1, "labels N; an idx3 file holds images")
	if err != nil {
		return nil, err
	}
	fail, readErr, src, what := s.fail, s.readErr, s.src, s.what
	n := int64(s.dims[0])
	if n == 0 {
		return nil, fail("header says 0 labels; want at least 1")
	}
	labels, err := io.ReadAll(io.LimitReader(src, n+1))
	if err != nil {
		return nil, readErr(err)
	}
	switch got := int64(len(labels)); {
	case got < n:
		return nil, fail("truncated: header says %d labels, %s holds %d", n, what, got)
	case got > n:
		return nil, fail("trailing data: header says %d labels, %s holds more", n, what)
	}
	return labels, nil
}
