package checkpoint

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"strconv"

	"github.com/vaegan-go/vaegan/atomicfile"
)

// Write writes the tensors, in the given order, and the metadata (may be nil)
// to path as a safetensors file with permissions 0644.
//
// It validates every tensor first (name non-empty, unique and not
// "__metadata__"; supported dtype; no negative dimension; data length equal to
// the shape's element count times the dtype size). It then writes a temporary
// file in the same directory, fsyncs it, renames it over path and fsyncs the
// directory. On any error before the rename the previous file at path is
// untouched and the temporary file is removed.
func Write(path string, tensors []Tensor, meta map[string]string) error {
	header, err := encodeHeader(tensors, meta)
	if err != nil {
		return fmt.Errorf("checkpoint %s: %w", path, err)
	}
	if err := writeAtomic(path, header, tensors); err != nil {
		return fmt.Errorf("checkpoint %s: %w", path, err)
	}
	return nil
}

// encodeHeader validates the tensors and returns the JSON header, padded with
// spaces to a multiple of 8 bytes.
func encodeHeader(tensors []Tensor, meta map[string]string) ([]byte, error) {
	var b bytes.Buffer
	b.WriteByte('{')
	if len(meta) > 0 {
		m, err := json.Marshal(meta)
		if err != nil {
			return nil, err
		}
		b.WriteString(`"__metadata__":`)
		b.Write(m)
	}
	seen := make(map[string]bool, len(tensors))
	var off int64
	for _, t := range tensors {
		if t.Name == "" {
			return nil, fmt.Errorf("tensor with an empty name")
		}
		if t.Name == "__metadata__" {
			return nil, fmt.Errorf("tensor name __metadata__ is reserved")
		}
		if seen[t.Name] {
			return nil, fmt.Errorf("duplicate tensor name %s", t.Name)
		}
		seen[t.Name] = true
		n, err := byteLen(t.DType, t.Shape)
		if err != nil {
			return nil, fmt.Errorf("tensor %s: %v", t.Name, err)
		}
		if int64(len(t.Data)) != n {
			return nil, fmt.Errorf("tensor %s: data holds %d bytes, shape %v of %s needs %d",
				t.Name, len(t.Data), t.Shape, t.DType, n)
		}
		if b.Len() > 1 {
			b.WriteByte(',')
		}
		name, err := json.Marshal(t.Name)
		if err != nil {
			return nil, err
		}
		b.Write(name)
		b.WriteString(`:{"dtype":"` + t.DType + `","shape":[`)
		for i, d := range t.Shape {
			if i > 0 {
				b.WriteByte(',')
			}
			b.WriteString(strconv.Itoa(d))
		}
		fmt.Fprintf(&b, `],"data_offsets":[%d,%d]}`, off, off+n)
		off += n
	}
	b.WriteByte('}')
	for b.Len()%8 != 0 {
		b.WriteByte(' ')
	}
	return b.Bytes(), nil
}

// writeAtomic writes the file through atomicfile.Write.
func writeAtomic(path string, header []byte, tensors []Tensor) error {
	return atomicfile.Write(path, func(w io.Writer) error {
		var n [8]byte
		binary.LittleEndian.PutUint64(n[:], uint64(len(header)))
		w.Write(n[:])
		w.Write(header)
		for _, t := range tensors {
			if _, err := w.Write(t.Data); err != nil {
				return err
			}
		}
		return nil
	})
}
