// random.cu: Gaussian noise from the Philox4x32-10 counter-based generator,
// the same function as backend.NormalAt, so every backend draws the same noise.
//
//   normal_at(seed, i): r = Philox4x32-10(counter = (lo(i), hi(i), 0, 0),
//                       key = (lo(seed), hi(seed))),
//                       u1 = (r0 + 1)/2³² ∈ (0, 1], u2 = r1/2³²,
//                       sqrt(-2 ln u1)·cos(2π u2)   (Box–Muller, float32 maths,
//                       ln u1 through log1p near u1 = 1 to keep small samples accurate).
//   normal_fill:        x[i] = normal_at(seed, c + i)
//   reparam_forward:    eps[i] = normal_at(seed, c + i),
//                       z = mu + exp(logvar/2)*eps
//   reparam_backward:   dmu += dz, dlogvar += dz*eps*exp(logvar/2)/2
//
// c is the counter in device memory (backend.PutCounter: its low and high 32
// bits), so that a recorded step draws new noise at each replay.
//
// Versions: v1, one Philox call per element (two of its four words used);
// v2, the counter read from device memory.
#include "common.cuh"

static __device__ inline float normal_at(unsigned long long seed, unsigned long long i) {
    unsigned int c0 = (unsigned int)i, c1 = (unsigned int)(i >> 32), c2 = 0, c3 = 0;
    unsigned int k0 = (unsigned int)seed, k1 = (unsigned int)(seed >> 32);
    for (int round = 0; round < 10; round++) {
        unsigned long long p0 = 0xD2511F53ull * c0;
        unsigned long long p1 = 0xCD9E8D57ull * c2;
        unsigned int n0 = (unsigned int)(p1 >> 32) ^ c1 ^ k0;
        unsigned int n1 = (unsigned int)p1;
        unsigned int n2 = (unsigned int)(p0 >> 32) ^ c3 ^ k1;
        unsigned int n3 = (unsigned int)p0;
        c0 = n0;
        c1 = n1;
        c2 = n2;
        c3 = n3;
        k0 += 0x9E3779B9u;
        k1 += 0xBB67AE85u;
    }
    const float inv32 = 2.3283064365386963e-10f; // 2^-32, exact
    // ln u1: for u1 ≥ 1/2 through log1p of u1 - 1 = -(2³² - 1 - r0)/2³², which
    // float32 holds to full relative precision where (r0 + 1) would round.
    float lnu1 = c0 < 0x80000000u ? logf(((float)c0 + 1.0f) * inv32) : log1pf(-(float)(~c0) * inv32);
    float u2 = (float)c1 * inv32;
    return sqrtf(-2.0f * lnu1) * cosf(6.2831853071795865f * u2);
}

// read_counter is the counter whose low and high 32 bits are the bit
// patterns of c[0] and c[1].
static __device__ inline unsigned long long read_counter(const float* c) {
    return (unsigned long long)__float_as_uint(c[0]) | (unsigned long long)__float_as_uint(c[1]) << 32;
}

extern "C" __global__ void normal_fill(float* x, int n, unsigned long long seed, const float* counter) {
    unsigned long long offset = read_counter(counter);
    GRID_STRIDE(i, n) { x[i] = normal_at(seed, offset + (unsigned long long)i); }
}

extern "C" __global__ void reparam_forward(float* z, float* eps, const float* mu, const float* logvar,
                                           int n, unsigned long long seed, const float* counter) {
    unsigned long long offset = read_counter(counter);
    GRID_STRIDE(i, n) {
        float e = normal_at(seed, offset + (unsigned long long)i);
        eps[i] = e;
        z[i] = mu[i] + expf(0.5f * logvar[i]) * e;
    }
}

extern "C" __global__ void reparam_backward(float* dmu, float* dlogvar, const float* logvar,
                                            const float* eps, const float* dz, int n) {
    GRID_STRIDE(i, n) {
        float g = dz[i];
        dmu[i] += g;
        dlogvar[i] += 0.5f * g * eps[i] * expf(0.5f * logvar[i]);
    }
}
