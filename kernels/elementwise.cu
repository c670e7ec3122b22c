// elementwise.cu: fills, vector updates, activations and biases.
//
// Maths (n elements, i ∈ [0, n)):
//   fill:               x[i] = v
//   axpy:               y[i] += alpha*x[i]
//   relu_forward:       y = max(x, 0)
//   leaky_relu_forward: y = x > 0 ? x : slope*x
//   tanh_forward:       y = tanh(x)
//   relu_backward:      dx = y > 0 ? dy : 0
//   leaky_relu_backward dx = y > 0 ? dy : slope*dy      (slope > 0)
//   tanh_backward:      dx = (1 - y²)*dy
//   bias_forward:       y[n,c,s] += b[c]                  (y viewed as [N, C, S])
//   bias_backward:      db[c] += Σ_{n,s} dy[n,c,s]: per chunk k of channel c
//                       part[c*chunks + k] = Σ over the chunk, then, in the
//                       block that finishes the channel, db[c] += Σ_k part[...]
//                       in increasing k (grid (chunks, C) blocks of BLOCK;
//                       common.cuh; count: C zeros)
// The backward activations read the forward output y only, so y may alias x
// and dx may alias dy.
//
// Versions: v1 of each, grid-stride loops; bias_forward v2, over (C*S,
// samples), one division per element (v1: two); bias_backward v2, over (chunk,
// channel) blocks and a fixed-order second pass in the same launch (v1
// reduced one channel per block, which left most SMs idle, and divided per
// element).
#include "common.cuh"

extern "C" __global__ void fill(float* x, int n, float v) {
    GRID_STRIDE(i, n) { x[i] = v; }
}

extern "C" __global__ void axpy(float* y, const float* x, int n, float alpha) {
    GRID_STRIDE(i, n) { y[i] += alpha * x[i]; }
}

extern "C" __global__ void relu_forward(float* y, const float* x, int n) {
    GRID_STRIDE(i, n) {
        float v = x[i];
        y[i] = v > 0.0f ? v : 0.0f;
    }
}

extern "C" __global__ void leaky_relu_forward(float* y, const float* x, int n, float slope) {
    GRID_STRIDE(i, n) {
        float v = x[i];
        y[i] = v > 0.0f ? v : slope * v;
    }
}

extern "C" __global__ void tanh_forward(float* y, const float* x, int n) {
    GRID_STRIDE(i, n) { y[i] = tanhf(x[i]); }
}

extern "C" __global__ void relu_backward(float* dx, const float* y, const float* dy, int n) {
    GRID_STRIDE(i, n) { dx[i] = y[i] > 0.0f ? dy[i] : 0.0f; }
}

extern "C" __global__ void leaky_relu_backward(float* dx, const float* y, const float* dy, int n, float slope) {
    GRID_STRIDE(i, n) { dx[i] = y[i] > 0.0f ? dy[i] : slope * dy[i]; }
}

extern "C" __global__ void tanh_backward(float* dx, const float* y, const float* dy, int n) {
    GRID_STRIDE(i, n) {
        float v = y[i];
        dx[i] = (1.0f - v * v) * dy[i];
    }
}

// bias_forward runs over x: one sample's C*S values, y: the samples.
extern "C" __global__ void bias_forward(float* y, const float* b, int n, int c, int s) {
    GRID_STRIDE_Y(k, n) {
        float* yk = y + k * c * s;
        GRID_STRIDE(q, c * s) { yk[q] += b[q / s]; }
    }
}

extern "C" __global__ void bias_backward(float* db, float* part, float* count, const float* dy,
                                         int n, int c, int s, int chunks) {
    __shared__ float buf[BLOCK];
    int m = n * s;
    GRID_STRIDE_Y(ch, c) {
        for (int k = blockIdx.x; k < chunks; k += gridDim.x) {
            float acc = 0.0f;
            for (ChannelWalk it(ch, c, s, chunk_begin(m, k, chunks), chunk_begin(m, k + 1, chunks)); it.more(); it.next()) {
                acc += dy[it.at];
            }
            float sum = block_sum(acc, buf);
            if (threadIdx.x == 0) {
                part[ch * chunks + k] = sum;
            }
            if (last_chunk((unsigned int*)count + ch, chunks, buf) && threadIdx.x == 0) {
                const volatile float* p = part + ch * chunks;
                float total = 0.0f;
                for (int i = 0; i < chunks; i++) {
                    total += p[i];
                }
                db[ch] += total;
            }
        }
    }
}
