package checkpoint_test

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"testing"

	"github.com/vaegan-go/vaegan/checkpoint"
)

const python = "/usr/bin/python3"

// needNumpy skips the test unless python3 with numpy is installed.
func needNumpy(t *testing.T) {
	t.Helper()
	if _, err := os.Stat(python); err != nil {
		t.Skipf("%s not found: %v", python, err)
	}
	if out, err := exec.Command(python, "-c", "import numpy").CombinedOutput(); err != nil {
		t.Skipf("%s has no numpy: %v: %s", python, err, out)
	}
}

// runPython runs script with args and decodes the JSON it prints into v.
func runPython(t *testing.T, v any, script string, args ...string) {
	t.Helper()
	cmd := exec.Command(python, append([]string{"-c", script}, args...)...)
	cmd.Stderr = os.Stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("python: %v", err)
	}
	if err := json.Unmarshal(out, v); err != nil {
		t.Fatalf("python printed %q: %v", out, err)
	}
}

// pyTensor is a tensor as Python reports it; F32 values are the uint32 bit
// patterns so that NaN and -0 compare exactly.
type pyTensor struct {
	DType  string        `json:"dtype"`
	Shape  []int         `json:"shape"`
	Values []json.Number `json:"values"`
}

// uints parses the values as unsigned integers.
func (p pyTensor) uints(t *testing.T) []uint64 {
	out := make([]uint64, len(p.Values))
	for i, v := range p.Values {
		u, err := strconv.ParseUint(string(v), 10, 64)
		if err != nil {
			t.Fatal(err)
		}
		out[i] = u
	}
	return out
}

// ints parses the values as signed integers.
func (p pyTensor) ints(t *testing.T) []int64 {
	out := make([]int64, len(p.Values))
	for i, v := range p.Values {
		n, err := strconv.ParseInt(string(v), 10, 64)
		if err != nil {
			t.Fatal(err)
		}
		out[i] = n
	}
	return out
}

// pyRead parses a safetensors file with struct, json and numpy only.
const pyRead = `
import json, struct, sys
import numpy as np
raw = open(sys.argv[1], 'rb').read()
(n,) = struct.unpack('<Q', raw[:8])
text = raw[8:8 + n].decode('utf-8')
header = json.loads(text)
buf = raw[8 + n:]
meta = header.pop('__metadata__', {})
np_dtype = {'F32': '<f4', 'I64': '<i8', 'U64': '<u8'}
out = {'header_len': n, 'padding': len(text) - len(text.rstrip(' ')), 'buffer_len': len(buf), 'meta': meta,
       'names': sorted(header, key=lambda k: tuple(header[k]['data_offsets'])), 'tensors': {}}
arrays = {}
for name, e in header.items():
    b, end = e['data_offsets']
    a = np.frombuffer(buf[b:end], dtype=np_dtype[e['dtype']]).reshape(e['shape'])
    arrays[name] = a
    v = a.view('<u4') if e['dtype'] == 'F32' else a
    out['tensors'][name] = {'dtype': e['dtype'], 'shape': list(a.shape), 'values': v.reshape(-1).tolist()}
# Row-major probes: multi-index into the reshaped arrays.
out['probe_f32'] = int(arrays['enc.conv1.weight'].view('<u4')[1, 0, 1, 2])
out['probe_i64'] = int(arrays['rng.counter'][2, 1])
print(json.dumps(out))
`

// TestPythonReadsOurFile has Python parse a file written by Write.
func TestPythonReadsOurFile(t *testing.T) {
	needNumpy(t)
	path := filepath.Join(t.TempDir(), "ckpt.safetensors")
	tensors := sampleTensors()
	if err := checkpoint.Write(path, tensors, sampleMeta); err != nil {
		t.Fatal(err)
	}
	var got struct {
		HeaderLen int                 `json:"header_len"`
		Padding   int                 `json:"padding"`
		BufferLen int                 `json:"buffer_len"`
		Meta      map[string]string   `json:"meta"`
		Names     []string            `json:"names"`
		Tensors   map[string]pyTensor `json:"tensors"`
		ProbeF32  uint32              `json:"probe_f32"`
		ProbeI64  int64               `json:"probe_i64"`
	}
	runPython(t, &got, pyRead, path)

	if got.HeaderLen%8 != 0 || got.Padding >= 8 {
		t.Errorf("header length %d with %d padding spaces, want a multiple of 8 with < 8 spaces", got.HeaderLen, got.Padding)
	}
	if got.BufferLen != 156 {
		t.Errorf("Python sees a %d-byte buffer, want 156", got.BufferLen)
	}
	if len(got.Meta) != len(sampleMeta) {
		t.Errorf("Python meta = %q, want %q", got.Meta, sampleMeta)
	}
	for k, v := range sampleMeta {
		if got.Meta[k] != v {
			t.Errorf("Python meta[%q] = %q, want %q", k, got.Meta[k], v)
		}
	}
	var names []string
	for _, x := range tensors {
		names = append(names, x.Name)
		p, ok := got.Tensors[x.Name]
		if !ok {
			t.Errorf("Python finds no tensor %s", x.Name)
			continue
		}
		if p.DType != x.DType || !slices.Equal(p.Shape, x.Shape) {
			t.Errorf("Python sees %s as %s %v, want %s %v", x.Name, p.DType, p.Shape, x.DType, x.Shape)
		}
	}
	if !slices.Equal(got.Names, names) {
		t.Errorf("Python offset order %q, want %q", got.Names, names)
	}
	f32 := got.Tensors["enc.conv1.weight"].uints(t)
	if want := f32bits(sampleF32); !slices.Equal(f32, u32to64(want)) {
		t.Errorf("Python F32 bits %08x, want %08x", f32, want)
	}
	if i64 := got.Tensors["rng.counter"].ints(t); !slices.Equal(i64, sampleI64) {
		t.Errorf("Python I64 %v, want %v", i64, sampleI64)
	}
	if u64 := got.Tensors["opt.step"].uints(t); !slices.Equal(u64, sampleU64) {
		t.Errorf("Python U64 %v, want %v", u64, sampleU64)
	}
	if s := got.Tensors["loss.scale"].uints(t); !slices.Equal(s, []uint64{0x3f000000}) {
		t.Errorf("Python scalar bits %08x, want [3f000000]", s)
	}
	// Element [1,0,1,2] of a [2,1,2,3] tensor is flat index 11; [2,1] of [3,2] is 5.
	if got.ProbeF32 != f32bits(sampleF32)[11] || got.ProbeI64 != sampleI64[5] {
		t.Errorf("row-major probes = %08x, %d; want %08x, %d", got.ProbeF32, got.ProbeI64, f32bits(sampleF32)[11], sampleI64[5])
	}
}

func u32to64(v []uint32) []uint64 {
	out := make([]uint64, len(v))
	for i, x := range v {
		out[i] = uint64(x)
	}
	return out
}

// pyWrite writes a safetensors file with its own encoder: header keys sorted,
// data in another order, space padding, metadata.
const pyWrite = `
import json, struct, sys
import numpy as np
rng = np.random.default_rng(7)
arrays = {
    'dec.fc.weight': rng.standard_normal((3, 4)).astype('<f4'),
    'dec.bn.num_batches_tracked': np.array(17, dtype='<i8'),
    'opt.counts': np.array([[1, 2**64 - 1], [2**63, 5]], dtype='<u8'),
    'rng.offsets': np.array([-5, 2**62, -2**63], dtype='<i8'),
}
order = ['opt.counts', 'dec.fc.weight', 'rng.offsets', 'dec.bn.num_batches_tracked']
codes = {'float32': 'F32', 'int64': 'I64', 'uint64': 'U64'}
header = {'__metadata__': {'format': 'pt', 'epoch': '3'}}
buf = b''
for name in order:
    a = arrays[name]
    b = a.tobytes(order='C')
    header[name] = {'dtype': codes[a.dtype.name], 'shape': list(a.shape), 'data_offsets': [len(buf), len(buf) + len(b)]}
    buf += b
h = json.dumps(dict(sorted(header.items()))).encode()
h += b' ' * (-len(h) % 8)
open(sys.argv[1], 'wb').write(struct.pack('<Q', len(h)) + h + buf)
out = {}
for name, a in arrays.items():
    v = a.view('<u4') if a.dtype.name == 'float32' else a
    out[name] = {'dtype': codes[a.dtype.name], 'shape': list(a.shape), 'values': v.reshape(-1).tolist()}
print(json.dumps(out))
`

// TestReadPythonFile reads a file written by Python's own encoder.
func TestReadPythonFile(t *testing.T) {
	needNumpy(t)
	path := filepath.Join(t.TempDir(), "py.safetensors")
	var want map[string]pyTensor
	runPython(t, &want, pyWrite, path)

	f, err := checkpoint.Read(path)
	if err != nil {
		t.Fatal(err)
	}
	order := []string{"opt.counts", "dec.fc.weight", "rng.offsets", "dec.bn.num_batches_tracked"}
	if got := f.Names(); !slices.Equal(got, order) {
		t.Errorf("Names = %q, want %q", got, order)
	}
	if len(f.Meta) != 2 || f.Meta["format"] != "pt" || f.Meta["epoch"] != "3" {
		t.Errorf("Meta = %q, want map[epoch:3 format:pt]", f.Meta)
	}
	w := want["dec.fc.weight"]
	x, err := f.Float32("dec.fc.weight", w.Shape...)
	if err != nil {
		t.Fatal(err)
	}
	if got := u32to64(f32bits(x)); !slices.Equal(got, w.uints(t)) {
		t.Errorf("dec.fc.weight bits %08x, want %08x", got, w.uints(t))
	}
	for _, name := range []string{"dec.bn.num_batches_tracked", "rng.offsets"} {
		w := want[name]
		got, err := f.Int64(name, w.Shape...)
		if err != nil || !slices.Equal(got, w.ints(t)) {
			t.Errorf("%s = %v, %v; want %v", name, got, err, w.ints(t))
		}
	}
	w = want["opt.counts"]
	u, err := f.Uint64("opt.counts", w.Shape...)
	if err != nil || !slices.Equal(u, w.uints(t)) {
		t.Errorf("opt.counts = %v, %v; want %v", u, err, w.uints(t))
	}
	if s, _ := f.Shape("dec.bn.num_batches_tracked"); len(s) != 0 {
		t.Errorf("scalar shape = %v, want []", s)
	}
}
