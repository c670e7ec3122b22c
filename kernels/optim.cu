// optim.cu: optimizer steps, one thread per parameter.
//
//   adam_step:    m = b1*m + (1-b1)*g, v = b2*v + (1-b2)*g²,
//                 p -= lr/bc1 * m / (sqrt(v)/sqrt(bc2) + eps)
//                 (torch.optim.Adam without weight decay; bc1 = 1-b1^t, bc2 = 1-b2^t)
//   rmsprop_step: v = alpha*v + (1-alpha)*g², p -= lr*g/(sqrt(v) + eps)
//                 (torch.optim.RMSprop, not centred, no momentum)
//
// Versions: v1, grid-stride loops.
#include "common.cuh"

extern "C" __global__ void adam_step(float* p, const float* g, float* m, float* v, int n,
                                     float lr, float b1, float b2, float eps, float bc1, float bc2) {
    float step = lr / bc1, sbc2 = sqrtf(bc2);
    GRID_STRIDE(i, n) {
        float gi = g[i];
        float mi = b1 * m[i] + (1.0f - b1) * gi;
        float vi = b2 * v[i] + (1.0f - b2) * gi * gi;
        m[i] = mi;
        v[i] = vi;
        p[i] -= step * mi / (sqrtf(vi) / sbc2 + eps);
    }
}

extern "C" __global__ void rmsprop_step(float* p, const float* g, float* v, int n,
                                        float lr, float alpha, float eps) {
    GRID_STRIDE(i, n) {
        float gi = g[i];
        float vi = alpha * v[i] + (1.0f - alpha) * gi * gi;
        v[i] = vi;
        p[i] -= lr * gi / (sqrtf(vi) + eps);
    }
}
