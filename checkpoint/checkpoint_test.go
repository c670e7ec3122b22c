package checkpoint_test

import (
	"bytes"
	"encoding/binary"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/vaegan-go/vaegan/checkpoint"
)

// rawFile writes an 8-byte length, the header and data to dir/name and
// returns the path.
func rawFile(t *testing.T, dir, name, header string, data []byte) string {
	t.Helper()
	var b bytes.Buffer
	binary.Write(&b, binary.LittleEndian, uint64(len(header)))
	b.WriteString(header)
	b.Write(data)
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, b.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// wantErr fails unless err is non-nil and its message contains the file path
// and every fact.
func wantErr(t *testing.T, err error, path string, facts ...string) {
	t.Helper()
	if err == nil {
		t.Fatalf("got no error, want one mentioning %q", facts)
	}
	msg := err.Error()
	for _, s := range append([]string{path}, facts...) {
		if !strings.Contains(msg, s) {
			t.Errorf("error %q does not contain %q", msg, s)
		}
	}
}

// onlyFiles fails unless dir holds exactly the named entries.
func onlyFiles(t *testing.T, dir string, names ...string) {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, e := range ents {
		got = append(got, e.Name())
	}
	slices.Sort(names)
	if !slices.Equal(got, names) {
		t.Errorf("directory holds %q, want %q", got, names)
	}
}

func f32bits(v []float32) []uint32 {
	out := make([]uint32, len(v))
	for i, x := range v {
		out[i] = math.Float32bits(x)
	}
	return out
}

// sample is a set of tensors of every dtype with edge values, a scalar and an
// empty tensor, and metadata with characters that need escaping.
var (
	sampleF32 = []float32{1, -2.5, 3.25e-39, float32(math.Inf(1)), float32(math.Inf(-1)), float32(math.NaN()),
		float32(math.Copysign(0, -1)), math.MaxFloat32, math.SmallestNonzeroFloat32, 0.1, 1e-7, -123456.789}
	sampleI64  = []int64{math.MinInt64, -1, 0, 1, math.MaxInt64, 1 << 40}
	sampleU64  = []uint64{math.MaxUint64, 0, 1, 1 << 63, 12345678901234567890, 7}
	sampleMeta = map[string]string{"step": "1200", "model": "vae-gan", "note": "quote \" backslash \\ <tag> ünïcode\n"}
)

func sampleTensors() []checkpoint.Tensor {
	return []checkpoint.Tensor{
		checkpoint.F32("enc.conv1.weight", []int{2, 1, 2, 3}, sampleF32),
		checkpoint.I64("rng.counter", []int{3, 2}, sampleI64),
		checkpoint.U64("opt.step", []int{6}, sampleU64),
		checkpoint.F32("loss.scale", []int{}, []float32{0.5}),
		checkpoint.F32("empty", []int{0, 3}, nil),
		checkpoint.U64("z.last", []int{1}, []uint64{42}),
	}
}

func TestRoundTrip(t *testing.T) {
	path := filepath.Join(t.TempDir(), "ckpt.safetensors")
	if err := checkpoint.Write(path, sampleTensors(), sampleMeta); err != nil {
		t.Fatal(err)
	}
	f, err := checkpoint.Read(path)
	if err != nil {
		t.Fatal(err)
	}
	if f.Path != path {
		t.Errorf("Path = %q, want %q", f.Path, path)
	}
	wantNames := []string{"enc.conv1.weight", "rng.counter", "opt.step", "loss.scale", "empty", "z.last"}
	if got := f.Names(); !slices.Equal(got, wantNames) {
		t.Errorf("Names = %q, want %q", got, wantNames)
	}
	if len(f.Meta) != len(sampleMeta) {
		t.Errorf("Meta = %q, want %q", f.Meta, sampleMeta)
	}
	for k, v := range sampleMeta {
		if f.Meta[k] != v {
			t.Errorf("Meta[%q] = %q, want %q", k, f.Meta[k], v)
		}
	}
	if s, ok := f.Shape("enc.conv1.weight"); !ok || !slices.Equal(s, []int{2, 1, 2, 3}) {
		t.Errorf("Shape(enc.conv1.weight) = %v, %v", s, ok)
	}
	if s, ok := f.Shape("loss.scale"); !ok || len(s) != 0 {
		t.Errorf("Shape(loss.scale) = %v, %v, want [], true", s, ok)
	}
	if _, ok := f.Shape("nope"); ok || f.Has("nope") || !f.Has("empty") {
		t.Errorf("Has/Shape report a missing tensor or miss a present one")
	}

	x, err := f.Float32("enc.conv1.weight", 2, 1, 2, 3)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(f32bits(x), f32bits(sampleF32)) {
		t.Errorf("F32 bits = %08x, want %08x", f32bits(x), f32bits(sampleF32))
	}
	i, err := f.Int64("rng.counter", 3, 2)
	if err != nil || !slices.Equal(i, sampleI64) {
		t.Errorf("Int64 = %v, %v; want %v", i, err, sampleI64)
	}
	u, err := f.Uint64("opt.step", 6)
	if err != nil || !slices.Equal(u, sampleU64) {
		t.Errorf("Uint64 = %v, %v; want %v", u, err, sampleU64)
	}
	s, err := f.Float32("loss.scale")
	if err != nil || !slices.Equal(s, []float32{0.5}) {
		t.Errorf("scalar = %v, %v; want [0.5]", s, err)
	}
	e, err := f.Float32("empty", 0, 3)
	if err != nil || len(e) != 0 {
		t.Errorf("empty = %v, %v; want []", e, err)
	}
	z, err := f.Uint64("z.last", 1)
	if err != nil || !slices.Equal(z, []uint64{42}) {
		t.Errorf("z.last = %v, %v; want [42]", z, err)
	}

	// The header is space-padded to a multiple of 8 and the file is exactly
	// header plus data.
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	n := binary.LittleEndian.Uint64(raw)
	if n%8 != 0 {
		t.Errorf("header length %d is not a multiple of 8", n)
	}
	hdr := raw[8 : 8+n]
	if trimmed := bytes.TrimRight(hdr, " "); trimmed[len(trimmed)-1] != '}' || len(hdr)-len(trimmed) >= 8 {
		t.Errorf("header %q is not a JSON object padded with fewer than 8 spaces", hdr)
	}
	wantData := 4*12 + 8*6 + 8*6 + 4 + 0 + 8
	if got := len(raw) - 8 - int(n); got != wantData {
		t.Errorf("data buffer is %d bytes, want %d", got, wantData)
	}
	if st, err := os.Stat(path); err != nil || st.Mode().Perm() != 0o644 {
		t.Errorf("file mode = %v, %v; want 0644", st.Mode(), err)
	}
}

func TestNoMetadata(t *testing.T) {
	path := filepath.Join(t.TempDir(), "m.safetensors")
	if err := checkpoint.Write(path, []checkpoint.Tensor{checkpoint.I64("a", []int{1}, []int64{-7})}, nil); err != nil {
		t.Fatal(err)
	}
	raw, _ := os.ReadFile(path)
	if bytes.Contains(raw, []byte("__metadata__")) {
		t.Errorf("file without metadata has a __metadata__ entry: %q", raw)
	}
	f, err := checkpoint.Read(path)
	if err != nil {
		t.Fatal(err)
	}
	if f.Meta == nil || len(f.Meta) != 0 {
		t.Errorf("Meta = %#v, want an empty map", f.Meta)
	}
	if a, err := f.Int64("a", 1); err != nil || a[0] != -7 {
		t.Errorf("a = %v, %v; want [-7]", a, err)
	}
}

// TestHandBuiltFile reads a file whose bytes are spelled out here, independent
// of Write: header entries out of offset order, extra whitespace, padding.
func TestHandBuiltFile(t *testing.T) {
	header := `{ "b" : {"dtype":"U64","shape":[1],"data_offsets":[8,16]},` +
		` "__metadata__": {"format":"pt"},` +
		` "a": {"dtype":"F32","shape":[2],"data_offsets":[0,8]},` +
		` "c": {"shape":[1,1],"data_offsets":[16,24],"dtype":"I64"}}    `
	data := []byte{
		0x00, 0x00, 0x80, 0x3f, 0x00, 0x00, 0x00, 0xc0, // a: 1.0, -2.0
		0x01, 0x02, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, // b: 0x0201 = 513
		0xfe, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, // c: -2
	}
	path := rawFile(t, t.TempDir(), "hand.safetensors", header, data)
	f, err := checkpoint.Read(path)
	if err != nil {
		t.Fatal(err)
	}
	if got := f.Names(); !slices.Equal(got, []string{"a", "b", "c"}) {
		t.Errorf("Names = %q, want [a b c]", got)
	}
	if f.Meta["format"] != "pt" || len(f.Meta) != 1 {
		t.Errorf("Meta = %q, want map[format:pt]", f.Meta)
	}
	if a, err := f.Float32("a", 2); err != nil || !slices.Equal(a, []float32{1, -2}) {
		t.Errorf("a = %v, %v; want [1 -2]", a, err)
	}
	if b, err := f.Uint64("b", 1); err != nil || !slices.Equal(b, []uint64{513}) {
		t.Errorf("b = %v, %v; want [513]", b, err)
	}
	if c, err := f.Int64("c", 1, 1); err != nil || !slices.Equal(c, []int64{-2}) {
		t.Errorf("c = %v, %v; want [-2]", c, err)
	}
}

func TestCorruptHeaders(t *testing.T) {
	ok := `"x":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}`
	data8 := make([]byte, 8)
	cases := []struct {
		name, header string
		data         []byte
		facts        []string
	}{
		{"invalid JSON", `{"x": {"dtype": "F32",`, data8, []string{"invalid JSON header"}},
		{"not an object", `[1, 2, 3]`, nil, []string{"invalid JSON header", "'{'"}},
		{"garbage after object", `{` + ok + `} x`, data8, []string{"invalid JSON header", "after the object"}},
		{"duplicate tensor", `{` + ok + `,` + ok + `}`, data8, []string{"tensor x twice"}},
		{"metadata not strings", `{"__metadata__":{"step":12},` + ok + `}`, data8, []string{"__metadata__ is not an object of strings"}},
		{"metadata null", `{"__metadata__":null,` + ok + `}`, data8, []string{"__metadata__ is not an object of strings"}},
		{"unknown field", `{"x":{"dtype":"F32","shape":[2],"data_offsets":[0,8],"foo":1}}`, data8, []string{"tensor x", "unknown field"}},
		{"no dtype", `{"x":{"shape":[2],"data_offsets":[0,8]}}`, data8, []string{"tensor x", "no dtype"}},
		{"no shape", `{"x":{"dtype":"F32","data_offsets":[0,8]}}`, data8, []string{"tensor x", "no shape"}},
		{"no offsets", `{"x":{"dtype":"F32","shape":[2]}}`, data8, []string{"tensor x", "no data_offsets"}},
		{"three offsets", `{"x":{"dtype":"F32","shape":[2],"data_offsets":[0,4,8]}}`, data8, []string{"tensor x", "data_offsets [0 4 8]"}},
		{"fractional dim", `{"x":{"dtype":"F32","shape":[1.5],"data_offsets":[0,8]}}`, data8, []string{"tensor x", "invalid entry"}},
		{"unsupported dtype", `{"x":{"dtype":"F16","shape":[4],"data_offsets":[0,8]}}`, data8, []string{"tensor x", `unsupported dtype "F16"`, "F32, I64, U64"}},
		{"negative dim", `{"x":{"dtype":"F32","shape":[-2,-1],"data_offsets":[0,8]}}`, data8, []string{"tensor x", "negative dimension", "[-2 -1]"}},
		{"huge shape", `{"x":{"dtype":"F32","shape":[4294967296,4294967296],"data_offsets":[0,8]}}`, data8, []string{"tensor x", "too large"}},
		{"length vs shape", `{"x":{"dtype":"I64","shape":[2],"data_offsets":[0,8]}}`, data8, []string{"tensor x", "span 8 bytes", "shape [2] of I64 needs 16"}},
		{"negative offset", `{"x":{"dtype":"F32","shape":[2],"data_offsets":[-8,0]}}`, data8, []string{"tensor x", "invalid data_offsets [-8, 0]"}},
		{"end before begin", `{"x":{"dtype":"F32","shape":[0],"data_offsets":[8,0]}}`, data8, []string{"tensor x", "invalid data_offsets [8, 0]"}},
		{"overlap", `{"x":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"y":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}`,
			data8, []string{"tensor y at bytes [4, 8) overlaps tensor x ending at 8"}},
		{"gap", `{"x":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"y":{"dtype":"F32","shape":[1],"data_offsets":[8,12]}}`,
			make([]byte, 12), []string{"not contiguous", "bytes [4, 8) belong to no tensor", "next is y"}},
		{"not starting at 0", `{"x":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}`, data8, []string{"not contiguous", "bytes [0, 4)"}},
		{"out of range", `{"x":{"dtype":"F32","shape":[4],"data_offsets":[0,16]}}`, data8, []string{"truncated: header says 16 bytes of tensor data, file holds 8"}},
		{"trailing bytes", `{` + ok + `}`, make([]byte, 12), []string{"4 unexpected bytes after the tensor data"}},
		{"empty name", `{"":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}`, data8, []string{"empty name"}},
		{"empty header", ``, nil, []string{"invalid JSON header"}},
	}
	dir := t.TempDir()
	for i, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			path := rawFile(t, dir, "bad"+string(rune('a'+i))+".safetensors", c.header, c.data)
			_, err := checkpoint.Read(path)
			wantErr(t, err, path, c.facts...)
		})
	}
}

func TestNotSafetensors(t *testing.T) {
	dir := t.TempDir()

	short := filepath.Join(dir, "short.safetensors")
	os.WriteFile(short, []byte("abc"), 0o644)
	_, err := checkpoint.Read(short)
	wantErr(t, err, short, "not a safetensors file", "3 bytes")

	// A text file: its first 8 bytes, "hello, w", read as a huge header length
	// (value checked with Python's struct.unpack("<Q", b"hello, w")).
	text := filepath.Join(dir, "text.safetensors")
	os.WriteFile(text, []byte("hello, world: this is not a tensor file\n"), 0o644)
	_, err = checkpoint.Read(text)
	wantErr(t, err, text, "not a safetensors file (header length 8583909746840200552 exceeds file size 40)")

	// A header length within the file size but over the cap; the file is
	// sparse, so this costs no disk space.
	big := filepath.Join(dir, "big.safetensors")
	fd, err := os.Create(big)
	if err != nil {
		t.Fatal(err)
	}
	binary.Write(fd, binary.LittleEndian, uint64(150<<20))
	if err := fd.Truncate(200 << 20); err != nil {
		t.Fatal(err)
	}
	fd.Close()
	_, err = checkpoint.Read(big)
	wantErr(t, err, big, "not a safetensors file (header length 157286400 exceeds the 104857600-byte limit)")

	_, err = checkpoint.Read(filepath.Join(dir, "missing.safetensors"))
	wantErr(t, err, filepath.Join(dir, "missing.safetensors"), "no such file")
}

// TestTruncated cuts a valid file at many byte positions; every prefix must
// be rejected with the file name and the right diagnosis.
func TestTruncated(t *testing.T) {
	dir := t.TempDir()
	full := filepath.Join(dir, "full.safetensors")
	if err := checkpoint.Write(full, sampleTensors(), sampleMeta); err != nil {
		t.Fatal(err)
	}
	raw, _ := os.ReadFile(full)
	hdrEnd := 8 + int(binary.LittleEndian.Uint64(raw))
	dataLen := len(raw) - hdrEnd
	cuts := []int{0, 1, 7, 8, 9, hdrEnd / 2, hdrEnd - 1, hdrEnd, hdrEnd + 1, hdrEnd + 47, len(raw) - 8, len(raw) - 1}
	for _, cut := range cuts {
		path := filepath.Join(dir, "cut.safetensors")
		if err := os.WriteFile(path, raw[:cut], 0o644); err != nil {
			t.Fatal(err)
		}
		_, err := checkpoint.Read(path)
		switch {
		case cut < 8:
			wantErr(t, err, path, "not a safetensors file", "shorter than the 8-byte header length")
		case cut < hdrEnd:
			wantErr(t, err, path, "not a safetensors file", "exceeds file size")
		default:
			wantErr(t, err, path, "truncated: header says "+strconv.Itoa(dataLen)+" bytes of tensor data, file holds "+strconv.Itoa(cut-hdrEnd))
		}
	}
}

func TestAccessorErrors(t *testing.T) {
	path := filepath.Join(t.TempDir(), "ckpt.safetensors")
	tensors := []checkpoint.Tensor{checkpoint.F32("enc.conv1.weight", []int{32, 1, 4, 4}, make([]float32, 512))}
	if err := checkpoint.Write(path, tensors, nil); err != nil {
		t.Fatal(err)
	}
	f, err := checkpoint.Read(path)
	if err != nil {
		t.Fatal(err)
	}
	_, err = f.Float32("enc.conv1.weight", 64, 3, 5, 5)
	wantErr(t, err, path, "tensor enc.conv1.weight has shape [32 1 4 4], want [64 3 5 5]")
	_, err = f.Float32("enc.conv1.weight")
	wantErr(t, err, path, "tensor enc.conv1.weight has shape [32 1 4 4], want []")
	_, err = f.Float32("dis.out.bias", 1)
	wantErr(t, err, path, "no tensor named dis.out.bias")
	_, err = f.Uint64("enc.conv1.weight", 32, 1, 4, 4)
	wantErr(t, err, path, "tensor enc.conv1.weight has dtype F32, want U64")
	_, err = f.Int64("enc.conv1.weight", 32, 1, 4, 4)
	wantErr(t, err, path, "tensor enc.conv1.weight has dtype F32, want I64")
}

func TestWriteReplaces(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "ckpt.safetensors")
	for step := uint64(1); step <= 3; step++ {
		err := checkpoint.Write(path, []checkpoint.Tensor{checkpoint.U64("step", nil, []uint64{step})}, nil)
		if err != nil {
			t.Fatal(err)
		}
		f, err := checkpoint.Read(path)
		if err != nil {
			t.Fatal(err)
		}
		if got, err := f.Uint64("step"); err != nil || got[0] != step {
			t.Errorf("step = %v, %v; want %d", got, err, step)
		}
	}
	onlyFiles(t, dir, "ckpt.safetensors")
}

func TestWriteRejectsBadTensors(t *testing.T) {
	cases := []struct {
		name   string
		tensor checkpoint.Tensor
		facts  []string
	}{
		{"short data", checkpoint.F32("w", []int{2, 3}, make([]float32, 5)), []string{"tensor w: data holds 20 bytes, shape [2 3] of F32 needs 24"}},
		{"long data", checkpoint.U64("s", nil, []uint64{1, 2}), []string{"tensor s: data holds 16 bytes, shape [] of U64 needs 8"}},
		{"negative dim", checkpoint.I64("n", []int{-1, 2}, nil), []string{"tensor n", "negative dimension"}},
		{"bad dtype", checkpoint.Tensor{Name: "h", DType: "F16", Shape: []int{1}, Data: make([]byte, 2)}, []string{"tensor h", `unsupported dtype "F16"`}},
		{"empty name", checkpoint.F32("", []int{1}, []float32{1}), []string{"empty name"}},
		{"reserved name", checkpoint.F32("__metadata__", []int{1}, []float32{1}), []string{"__metadata__ is reserved"}},
		{"duplicate", checkpoint.F32("old", []int{1}, []float32{1}), []string{"duplicate tensor name old"}},
	}
	dir := t.TempDir()
	path := filepath.Join(dir, "ckpt.safetensors")
	old := []checkpoint.Tensor{checkpoint.F32("old", []int{1}, []float32{7})}
	if err := checkpoint.Write(path, old, map[string]string{"v": "1"}); err != nil {
		t.Fatal(err)
	}
	before, _ := os.ReadFile(path)
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			err := checkpoint.Write(path, append(slices.Clone(old), c.tensor), nil)
			wantErr(t, err, path, c.facts...)
			after, _ := os.ReadFile(path)
			if !bytes.Equal(before, after) {
				t.Errorf("failed Write changed the old file")
			}
			onlyFiles(t, dir, "ckpt.safetensors")
		})
	}
}

// TestWriteRenameFails makes the final rename fail (path is a non-empty
// directory) so that the temporary file has been written and must be removed.
func TestWriteRenameFails(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "ckpt.safetensors")
	if err := os.Mkdir(path, 0o755); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(path, "keep"), []byte("x"), 0o644)
	err := checkpoint.Write(path, sampleTensors(), sampleMeta)
	wantErr(t, err, path, "rename")
	onlyFiles(t, dir, "ckpt.safetensors")
	onlyFiles(t, path, "keep")
}

func TestWriteUnwritableDir(t *testing.T) {
	if os.Geteuid() == 0 {
		t.Skip("running as root, which may write to a read-only directory")
	}
	dir := t.TempDir()
	path := filepath.Join(dir, "ckpt.safetensors")
	if err := checkpoint.Write(path, sampleTensors(), nil); err != nil {
		t.Fatal(err)
	}
	before, _ := os.ReadFile(path)
	os.Chmod(dir, 0o555)
	defer os.Chmod(dir, 0o755)
	err := checkpoint.Write(path, []checkpoint.Tensor{checkpoint.F32("a", []int{1}, []float32{1})}, nil)
	wantErr(t, err, path, "permission denied")
	after, _ := os.ReadFile(path)
	if !bytes.Equal(before, after) {
		t.Errorf("failed Write changed the old file")
	}
	onlyFiles(t, dir, "ckpt.safetensors")
}

func TestWriteMissingDir(t *testing.T) {
	path := filepath.Join(t.TempDir(), "no", "such", "dir", "ckpt.safetensors")
	err := checkpoint.Write(path, sampleTensors(), nil)
	wantErr(t, err, path, "no such file or directory")
}
