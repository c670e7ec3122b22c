package checkpoint

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"os"
	"slices"
	"sort"
)

// maxHeader caps the header length Read accepts, so that garbage in the first
// 8 bytes cannot cause a huge allocation.
const maxHeader = 100 << 20

// File is a safetensors file read into memory and validated.
type File struct {
	// Path is the file the tensors were read from.
	Path string
	// Meta is the header's "__metadata__" map (empty when absent).
	Meta map[string]string

	names   []string         // in offset order
	entries map[string]entry // by name
	data    []byte           // the byte buffer after the header
}

// entry locates one tensor in the byte buffer.
type entry struct {
	dtype      string
	shape      []int
	begin, end int64
}

// Read reads and validates the safetensors file at path: the header length,
// the JSON header, every tensor's dtype, shape and offsets (which must tile
// the byte buffer exactly), and the file length. Errors name the file and the
// problem.
func Read(path string) (*File, error) {
	fail := func(format string, args ...any) error {
		return fmt.Errorf("checkpoint %s: %s", path, fmt.Sprintf(format, args...))
	}
	fd, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("checkpoint: %w", err)
	}
	defer fd.Close()
	st, err := fd.Stat()
	if err != nil {
		return nil, fmt.Errorf("checkpoint: %w", err)
	}
	// The header length is checked before the file is read, so that a
	// large file that is not a safetensors file is not read whole.
	size := st.Size()
	var lenBuf [8]byte
	if size >= 8 {
		if _, err := io.ReadFull(fd, lenBuf[:]); err != nil {
			return nil, fail("reading header length: %v", err)
		}
	}
	if err := checkHeaderLen(size, lenBuf[:]); err != nil {
		return nil, fail("%v", err)
	}
	buf := make([]byte, size)
	copy(buf, lenBuf[:])
	if _, err := io.ReadFull(fd, buf[8:]); err != nil {
		return nil, fail("reading header and tensor data: %v", err)
	}
	return Parse(path, buf)
}

// Parse validates a safetensors file held in memory, with the checks of
// Read; name names it in errors and becomes the File's Path. The File keeps
// data: do not modify it afterwards.
func Parse(name string, data []byte) (*File, error) {
	fail := func(format string, args ...any) error {
		return fmt.Errorf("checkpoint %s: %s", name, fmt.Sprintf(format, args...))
	}
	size := int64(len(data))
	if err := checkHeaderLen(size, data); err != nil {
		return nil, fail("%v", err)
	}
	n := int64(binary.LittleEndian.Uint64(data))
	f := &File{Path: name, Meta: map[string]string{}, entries: map[string]entry{}}
	if err := f.parseHeader(data[8:8+n], size-8-n); err != nil {
		return nil, fail("%v", err)
	}
	f.data = data[8+n:]
	return f, nil
}

// checkHeaderLen checks the header length in the first 8 bytes of a file of
// size bytes (prefix holds at least those 8 bytes when size ≥ 8).
func checkHeaderLen(size int64, prefix []byte) error {
	if size < 8 {
		return fmt.Errorf("not a safetensors file (%d bytes, shorter than the 8-byte header length)", size)
	}
	n := binary.LittleEndian.Uint64(prefix)
	switch {
	case n > uint64(size-8):
		return fmt.Errorf("not a safetensors file (header length %d exceeds file size %d)", n, size)
	case n > maxHeader:
		return fmt.Errorf("not a safetensors file (header length %d exceeds the %d-byte limit)", n, maxHeader)
	}
	return nil
}

// parseHeader decodes the JSON header into f and checks that the tensors
// tile a byte buffer of bufLen bytes.
func (f *File) parseHeader(header []byte, bufLen int64) error {
	if len(header) == 0 || header[0] != '{' {
		return fmt.Errorf("invalid JSON header: does not start with '{'")
	}
	dec := json.NewDecoder(bytes.NewReader(header))
	if _, err := dec.Token(); err != nil {
		return fmt.Errorf("invalid JSON header: %v", err)
	}
	var order []string // header order, the tie-break for equal offsets
	seenMeta := false
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return fmt.Errorf("invalid JSON header: %v", err)
		}
		name := tok.(string) // an object key is always a string
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			return fmt.Errorf("invalid JSON header: %v", err)
		}
		if name == "__metadata__" {
			if seenMeta {
				return fmt.Errorf("header has __metadata__ twice")
			}
			seenMeta = true
			if err := json.Unmarshal(raw, &f.Meta); err != nil || f.Meta == nil {
				return fmt.Errorf("__metadata__ is not an object of strings: %s", raw)
			}
			continue
		}
		if _, dup := f.entries[name]; dup {
			return fmt.Errorf("header has tensor %s twice", name)
		}
		e, err := parseEntry(name, raw)
		if err != nil {
			return err
		}
		f.entries[name] = e
		order = append(order, name)
	}
	if _, err := dec.Token(); err != nil {
		return fmt.Errorf("invalid JSON header: %v", err)
	}
	switch tok, err := dec.Token(); {
	case err == nil:
		return fmt.Errorf("invalid JSON header: unexpected %v after the object", tok)
	case err != io.EOF:
		return fmt.Errorf("invalid JSON header: %v after the object", err)
	}

	f.names = order
	sort.SliceStable(f.names, func(i, j int) bool {
		a, b := f.entries[f.names[i]], f.entries[f.names[j]]
		return a.begin < b.begin || a.begin == b.begin && a.end < b.end
	})
	var pos int64
	prev := ""
	for _, name := range f.names {
		e := f.entries[name]
		switch {
		case e.begin < pos:
			return fmt.Errorf("tensor %s at bytes [%d, %d) overlaps tensor %s ending at %d", name, e.begin, e.end, prev, pos)
		case e.begin > pos:
			return fmt.Errorf("offsets not contiguous: bytes [%d, %d) belong to no tensor (next is %s)", pos, e.begin, name)
		}
		pos, prev = e.end, name
	}
	switch {
	case pos > bufLen:
		return fmt.Errorf("truncated: header says %d bytes of tensor data, file holds %d", pos, bufLen)
	case pos < bufLen:
		return fmt.Errorf("%d unexpected bytes after the tensor data (header says %d bytes, file holds %d)", bufLen-pos, pos, bufLen)
	}
	return nil
}

// parseEntry decodes and checks one tensor's header entry.
func parseEntry(name string, raw json.RawMessage) (entry, error) {
	if name == "" {
		return entry{}, fmt.Errorf("header has a tensor with an empty name")
	}
	var j struct {
		DType   *string  `json:"dtype"`
		Shape   *[]int   `json:"shape"`
		Offsets *[]int64 `json:"data_offsets"`
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&j); err != nil {
		return entry{}, fmt.Errorf("tensor %s: invalid entry %s: %v", name, raw, err)
	}
	switch {
	case j.DType == nil:
		return entry{}, fmt.Errorf("tensor %s: entry has no dtype", name)
	case j.Shape == nil:
		return entry{}, fmt.Errorf("tensor %s: entry has no shape", name)
	case j.Offsets == nil:
		return entry{}, fmt.Errorf("tensor %s: entry has no data_offsets", name)
	case len(*j.Offsets) != 2:
		return entry{}, fmt.Errorf("tensor %s: data_offsets %v, want [begin, end]", name, *j.Offsets)
	}
	e := entry{dtype: *j.DType, shape: *j.Shape, begin: (*j.Offsets)[0], end: (*j.Offsets)[1]}
	want, err := byteLen(e.dtype, e.shape)
	if err != nil {
		return entry{}, fmt.Errorf("tensor %s: %v", name, err)
	}
	if e.begin < 0 || e.end < e.begin {
		return entry{}, fmt.Errorf("tensor %s: invalid data_offsets [%d, %d]", name, e.begin, e.end)
	}
	if e.end-e.begin != want {
		return entry{}, fmt.Errorf("tensor %s: data_offsets [%d, %d] span %d bytes, shape %v of %s needs %d",
			name, e.begin, e.end, e.end-e.begin, e.shape, e.dtype, want)
	}
	return e, nil
}

// Names returns the tensor names in file (offset) order.
func (f *File) Names() []string { return slices.Clone(f.names) }

// Has reports whether the file holds a tensor with this name.
func (f *File) Has(name string) bool {
	_, ok := f.entries[name]
	return ok
}

// Dtype returns the dtype of the named tensor ("F32", "I64", "U64"), or ""
// when there is none.
func (f *File) Dtype(name string) string { return f.entries[name].dtype }

// Shape returns the shape of the named tensor and whether it exists.
func (f *File) Shape(name string) ([]int, bool) {
	e, ok := f.entries[name]
	return slices.Clone(e.shape), ok
}

// bytesOf returns the raw bytes of the named tensor after checking its dtype
// and that its shape equals shape exactly (a scalar has the empty shape).
func (f *File) bytesOf(name, dtype string, shape []int) ([]byte, error) {
	e, ok := f.entries[name]
	switch {
	case !ok:
		return nil, fmt.Errorf("checkpoint %s: no tensor named %s", f.Path, name)
	case e.dtype != dtype:
		return nil, fmt.Errorf("checkpoint %s: tensor %s has dtype %s, want %s", f.Path, name, e.dtype, dtype)
	case !slices.Equal(e.shape, shape):
		return nil, fmt.Errorf("checkpoint %s: tensor %s has shape %v, want %v", f.Path, name, e.shape, shape)
	}
	return f.data[e.begin:e.end], nil
}

// Float32 returns a copy of the named F32 tensor. It fails if the tensor is
// missing, has another dtype, or its shape differs from shape (a scalar has
// the empty shape).
func (f *File) Float32(name string, shape ...int) ([]float32, error) {
	return decode(f, name, "F32", shape, func(b []byte) float32 { return math.Float32frombits(binary.LittleEndian.Uint32(b)) })
}

// Uint64 returns a copy of the named U64 tensor, with the checks of Float32.
func (f *File) Uint64(name string, shape ...int) ([]uint64, error) {
	return decode(f, name, "U64", shape, binary.LittleEndian.Uint64)
}

// Int64 returns a copy of the named I64 tensor, with the checks of Float32.
func (f *File) Int64(name string, shape ...int) ([]int64, error) {
	return decode(f, name, "I64", shape, func(b []byte) int64 { return int64(binary.LittleEndian.Uint64(b)) })
}

// decode checks the named tensor (bytesOf) and decodes each element of its
// dtype with elem.
func decode[T any](f *File, name, dtype string, shape []int, elem func([]byte) T) ([]T, error) {
	b, err := f.bytesOf(name, dtype, shape)
	if err != nil {
		return nil, err
	}
	size := dtypeSize[dtype]
	out := make([]T, len(b)/size)
	for i := range out {
		out[i] = elem(b[size*i:])
	}
	return out, nil
}
