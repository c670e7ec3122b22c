package checkpoint

import (
	"encoding/binary"
	"fmt"
	"math"
)

// Tensor is one named tensor as stored in a file: a dtype ("F32", "I64" or
// "U64"), a row-major shape and the little-endian bytes of its elements.
type Tensor struct {
	Name  string
	DType string
	Shape []int
	Data  []byte
}

// dtypeSize is the element size in bytes of each supported dtype.
var dtypeSize = map[string]int{"F32": 4, "I64": 8, "U64": 8}

const supported = "F32, I64, U64"

// F32 returns a float32 tensor holding a copy of data.
func F32(name string, shape []int, data []float32) Tensor {
	b := make([]byte, 4*len(data))
	for i, v := range data {
		binary.LittleEndian.PutUint32(b[4*i:], math.Float32bits(v))
	}
	return Tensor{Name: name, DType: "F32", Shape: append([]int{}, shape...), Data: b}
}

// U64 returns a uint64 tensor holding a copy of data.
func U64(name string, shape []int, data []uint64) Tensor {
	b := make([]byte, 8*len(data))
	for i, v := range data {
		binary.LittleEndian.PutUint64(b[8*i:], v)
	}
	return Tensor{Name: name, DType: "U64", Shape: append([]int{}, shape...), Data: b}
}

// I64 returns an int64 tensor holding a copy of data.
func I64(name string, shape []int, data []int64) Tensor {
	b := make([]byte, 8*len(data))
	for i, v := range data {
		binary.LittleEndian.PutUint64(b[8*i:], uint64(v))
	}
	return Tensor{Name: name, DType: "I64", Shape: append([]int{}, shape...), Data: b}
}

// byteLen is the number of bytes a tensor of the given dtype and shape
// occupies. It fails on an unsupported dtype, a negative dimension or a size
// that does not fit in an int64.
func byteLen(dtype string, shape []int) (int64, error) {
	size, ok := dtypeSize[dtype]
	if !ok {
		return 0, fmt.Errorf("unsupported dtype %q (supported: %s)", dtype, supported)
	}
	n := int64(size)
	for _, d := range shape {
		if d < 0 {
			return 0, fmt.Errorf("negative dimension in shape %v", shape)
		}
		if d > 0 && n > math.MaxInt64/int64(d) {
			return 0, fmt.Errorf("shape %v is too large", shape)
		}
		n *= int64(d)
	}
	return n, nil
}
