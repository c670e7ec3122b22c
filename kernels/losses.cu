// losses.cu: scalar losses and their gradients, reduced in two stages without
// atomics so that a run reproduces bit for bit.
//
// Stage 1, one kernel per loss (grid G ≤ BLOCK blocks of BLOCK threads): each
// thread sums the terms t_i of its grid-stride share, each block writes the sum
// of its threads to partial[blockIdx.x], and the gradient is written
// elementwise (skipped when its pointer is null). Stage 2, sum_partials (one
// block): loss[0] = factor * Σ_b partial[b]. The Go side picks factor:
//   kl_partial:      t_i = 1 + lv_i - mu_i² - exp(lv_i), factor -scale/2;
//                    dmu = scale*mu, dlogvar = scale*(exp(lv) - 1)/2
//   bce_partial:     t_i = max(x,0) - x*target + log(1 + exp(-|x|)) (stable form of
//                    -target*log σ(x) - (1-target)*log(1-σ(x))), factor scale;
//                    grad = scale*(σ(x) - target)
//   softmax_ce_partial (one thread per row of logits [rows, k]):
//                    t_row = log Σ_j exp(x_j - max) + max - x_class, factor scale;
//                    grad = scale*(softmax(x) - onehot(class))
//   sq_partial:      t_i = (a_i - b_i)², factor scale/2; grad = scale*(a - b)
//   sumsq_partial:   t_i = x_i², factor 1 (no gradient: the finiteness check
//                    of a gradient buffer)
//
// Versions: v1, two-stage fixed-order reduction.
#include "common.cuh"

extern "C" __global__ void sum_partials(float* loss, const float* partial, int n, float factor) {
    __shared__ float buf[BLOCK];
    float acc = 0.0f;
    for (int j = threadIdx.x; j < n; j += blockDim.x) {
        acc += partial[j];
    }
    float sum = block_sum(acc, buf);
    if (threadIdx.x == 0) {
        loss[0] = factor * sum;
    }
}

extern "C" __global__ void kl_partial(float* partial, float* dmu, float* dlogvar,
                                      const float* mu, const float* logvar, int n, float scale) {
    __shared__ float buf[BLOCK];
    float acc = 0.0f;
    GRID_STRIDE(i, n) {
        float m = mu[i], lv = logvar[i], e = expf(lv);
        acc += 1.0f + lv - m * m - e;
        if (dmu != 0) {
            dmu[i] = scale * m;
        }
        if (dlogvar != 0) {
            dlogvar[i] = 0.5f * scale * (e - 1.0f);
        }
    }
    float sum = block_sum(acc, buf);
    if (threadIdx.x == 0) {
        partial[blockIdx.x] = sum;
    }
}

extern "C" __global__ void bce_partial(float* partial, float* grad, const float* logits, int n,
                                       float target, float scale) {
    __shared__ float buf[BLOCK];
    float acc = 0.0f;
    GRID_STRIDE(i, n) {
        float x = logits[i];
        float e = expf(-fabsf(x)); // in (0, 1]: no overflow
        acc += fmaxf(x, 0.0f) - x * target + log1pf(e);
        if (grad != 0) {
            float sig = x >= 0.0f ? 1.0f / (1.0f + e) : e / (1.0f + e);
            grad[i] = scale * (sig - target);
        }
    }
    float sum = block_sum(acc, buf);
    if (threadIdx.x == 0) {
        partial[blockIdx.x] = sum;
    }
}

extern "C" __global__ void softmax_ce_partial(float* partial, float* grad, const float* logits,
                                              int rows, int k, int cls, float scale) {
    __shared__ float buf[BLOCK];
    float acc = 0.0f;
    GRID_STRIDE(r, rows) {
        const float* x = logits + r * k;
        float mx = x[0];
        for (int j = 1; j < k; j++) {
            mx = fmaxf(mx, x[j]);
        }
        float se = 0.0f;
        for (int j = 0; j < k; j++) {
            se += expf(x[j] - mx);
        }
        acc += logf(se) + mx - x[cls];
        if (grad != 0) {
            for (int j = 0; j < k; j++) {
                float p = expf(x[j] - mx) / se;
                grad[r * k + j] = scale * (p - (j == cls ? 1.0f : 0.0f));
            }
        }
    }
    float sum = block_sum(acc, buf);
    if (threadIdx.x == 0) {
        partial[blockIdx.x] = sum;
    }
}

extern "C" __global__ void sq_partial(float* partial, float* grad, const float* a, const float* b,
                                      int n, float scale) {
    __shared__ float buf[BLOCK];
    float acc = 0.0f;
    GRID_STRIDE(i, n) {
        float d = a[i] - b[i];
        acc += d * d;
        if (grad != 0) {
            grad[i] = scale * d;
        }
    }
    float sum = block_sum(acc, buf);
    if (threadIdx.x == 0) {
        partial[blockIdx.x] = sum;
    }
}

extern "C" __global__ void sumsq_partial(float* partial, const float* x, int n) {
    __shared__ float buf[BLOCK];
    float acc = 0.0f;
    GRID_STRIDE(i, n) {
        acc += x[i] * x[i];
    }
    float sum = block_sum(acc, buf);
    if (threadIdx.x == 0) {
        partial[blockIdx.x] = sum;
    }
}
