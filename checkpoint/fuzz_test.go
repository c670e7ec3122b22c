package checkpoint_test

import (
	"bytes"
	"encoding/binary"
	"os"
	"path/filepath"
	"testing"

	"github.com/vaegan-go/vaegan/checkpoint"
)

// Parse never panics on untrusted bytes, and every tensor of a file it
// accepts can be read at its stored shape. CI runs this target for a short,
// fixed time (.ci/run); `go test` runs its seeds: a valid checkpoint and
// hostile headers.
func FuzzParse(f *testing.F) {
	path := filepath.Join(f.TempDir(), "seed.safetensors")
	err := checkpoint.Write(path, []checkpoint.Tensor{
		checkpoint.F32("w", []int{2, 3}, []float32{1, 2, 3, 4, 5, 6}),
		checkpoint.F32("s", []int{}, []float32{7}),
	}, map[string]string{"k": "v"})
	if err != nil {
		f.Fatal(err)
	}
	valid, err := os.ReadFile(path)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(valid)
	f.Add(valid[:len(valid)-3])
	huge := binary.LittleEndian.AppendUint64(nil, 1<<62)
	f.Add(append(huge, '{', '}'))
	f.Add(hostile(`{"x":{"dtype":"F32","shape":[4294967296,4294967296],"data_offsets":[0,0]}}`))
	f.Add(hostile(`{"x":{"dtype":"F32","shape":[-1],"data_offsets":[0,4]}}`))
	f.Add(hostile(`{"__metadata__":{"a":1}}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		file, err := checkpoint.Parse("fuzz", b)
		if err != nil {
			return
		}
		for _, name := range file.Names() {
			shape, _ := file.Shape(name)
			_, e1 := file.Float32(name, shape...)
			_, e2 := file.Int64(name, shape...)
			_, e3 := file.Uint64(name, shape...)
			if e1 != nil && e2 != nil && e3 != nil {
				t.Fatalf("tensor %s of an accepted file reads as no dtype: %v; %v; %v", name, e1, e2, e3)
			}
		}
	})
}

// hostile is a file with the given JSON header and 4 data bytes.
func hostile(header string) []byte {
	var b bytes.Buffer
	binary.Write(&b, binary.LittleEndian, uint64(len(header)))
	b.WriteString(header)
	b.Write([]byte{0, 0, 128, 63})
	return b.Bytes()
}
