package backend

import "math"

// Philox4x32 is the Philox4x32-10 counter-based generator of Salmon et al.
// (2011): it maps a 128-bit counter and a 64-bit key to four random 32-bit
// words. The CUDA kernels in kernels/random.cuh compute the same function, so a
// run draws the same noise on every backend.
func Philox4x32(ctr [4]uint32, key [2]uint32) [4]uint32 {
	const (
		m0 = 0xD2511F53
		m1 = 0xCD9E8D57
		w0 = 0x9E3779B9
		w1 = 0xBB67AE85
	)
	for i := 0; i < 10; i++ {
		p0 := uint64(m0) * uint64(ctr[0])
		p1 := uint64(m1) * uint64(ctr[2])
		ctr = [4]uint32{
			uint32(p1>>32) ^ ctr[1] ^ key[0],
			uint32(p1),
			uint32(p0>>32) ^ ctr[3] ^ key[1],
			uint32(p0),
		}
		key[0] += w0
		key[1] += w1
	}
	return ctr
}

// NormalAt is the i-th N(0, 1) sample of the stream with the given seed: the
// Box–Muller transform of the first two words of Philox4x32(counter = i,
// key = seed), u1 = (r0+1)/2³² ∈ (0, 1], u2 = r1/2³²,
// n = sqrt(-2 ln u1)·cos(2π u2).
func NormalAt(seed, i uint64) float32 {
	r := Philox4x32([4]uint32{uint32(i), uint32(i >> 32), 0, 0}, [2]uint32{uint32(seed), uint32(seed >> 32)})
	u1 := (float64(r[0]) + 1) / 4294967296.0
	u2 := float64(r[1]) / 4294967296.0
	return float32(math.Sqrt(-2*math.Log(u1)) * math.Cos(2*math.Pi*u2))
}

// UniformAt is the i-th U[0, 1) sample of the stream with the given seed: the
// first word of Philox4x32(counter = i, key = seed) over 2³².
func UniformAt(seed, i uint64) float32 {
	r := Philox4x32([4]uint32{uint32(i), uint32(i >> 32), 0, 0}, [2]uint32{uint32(seed), uint32(seed >> 32)})
	return float32(float64(r[0]) / 4294967296.0)
}

// CounterLen is the number of float32 elements of a counter tensor: a
// uint64 Philox counter kept in device memory as the bit patterns of its low
// and high 32 bits.
const CounterLen = 2

// PutCounter writes counter c into dst[0:CounterLen], for an upload into a
// counter tensor.
func PutCounter(dst []float32, c uint64) {
	dst[0], dst[1] = math.Float32frombits(uint32(c)), math.Float32frombits(uint32(c>>32))
}

// CounterOf is the counter that PutCounter wrote into src.
func CounterOf(src []float32) uint64 {
	return uint64(math.Float32bits(src[0])) | uint64(math.Float32bits(src[1]))<<32
}
