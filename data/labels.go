package data

import (
	"bufio"
	"compress/gzip"
	"encoding/binary"
	"fmt"
	"io"
	"os"
)

// idx1Header is the length of an IDX label file's header: the magic number
// 0x00000801 (unsigned byte, 1 dimension) and one big-endian uint32 count.
const idx1Header = 8

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

	hdr, err := io.ReadAll(io.LimitReader(src, idx1Header))
	if err != nil {
		return nil, readErr(err)
	}
	if len(hdr) < 4 {
		return nil, fail("truncated: %s holds %d bytes, an IDX label header is %d", what, len(hdr), idx1Header)
	}
	if hdr[0] != 0 || hdr[1] != 0 {
		return nil, fail("not an IDX file: starts with % x, want 00 00 08 01", hdr[:4])
	}
	if hdr[2] != 0x08 {
		return nil, fail("IDX element type 0x%02x, want 0x08 (unsigned byte)", hdr[2])
	}
	if hdr[3] != 1 {
		return nil, fail("IDX file has %d dimensions, want 1 (labels N; an idx3 file holds images)", hdr[3])
	}
	if len(hdr) < idx1Header {
		return nil, fail("truncated: %s holds %d bytes, an IDX label header is %d", what, len(hdr), idx1Header)
	}
	n := int64(binary.BigEndian.Uint32(hdr[4:]))
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
