// batchnorm.cu: batch normalisation over x viewed as [N, C, S], per channel c,
// with M = N*S values per channel.
//
//   bn_train_stats (grid C blocks of BLOCK):
//       mean = Σx/M, var = Σ(x-mean)²/M (two passes, biased), invstd = 1/sqrt(var+eps),
//       runMean = (1-momentum)*runMean + momentum*mean,
//       runVar  = (1-momentum)*runVar  + momentum*var*M/(M-1)   (unbiased; var when M = 1);
//       an empty batch (M = 0) counts as mean 0, var 0.
//   bn_apply:    y = (x-mean[c])*invstd[c]*gamma[c] + beta[c]           (elementwise)
//   bn_eval:     y = (x-runMean[c])/sqrt(runVar[c]+eps)*gamma[c] + beta[c]
//   bn_backward (grid C blocks of BLOCK), with xhat = (x-mean)*invstd:
//       sdy = Σdy, sdyx = Σdy*xhat;
//       dgamma += sdyx, dbeta += sdy                  (when dgamma is not null)
//       dx = gamma*invstd*(dy - sdy/M - xhat*sdyx/M)  (when dx is not null)
//
// Versions: v1, one block per channel reducing in a fixed order (deterministic).
#include "common.cuh"

extern "C" __global__ void bn_train_stats(const float* x, float* mean, float* invstd,
                                          float* runMean, float* runVar,
                                          int n, int c, int s, float momentum, float eps) {
    __shared__ float buf[BLOCK];
    int ch = blockIdx.x;
    int m = n * s;
    float acc = 0.0f;
    for (int j = threadIdx.x; j < m; j += blockDim.x) {
        acc += x[((j / s) * c + ch) * s + j % s];
    }
    float sum = block_sum(acc, buf);
    float mu = m > 0 ? sum / (float)m : 0.0f;
    acc = 0.0f;
    for (int j = threadIdx.x; j < m; j += blockDim.x) {
        float d = x[((j / s) * c + ch) * s + j % s] - mu;
        acc += d * d;
    }
    float sq = block_sum(acc, buf);
    float var = m > 0 ? sq / (float)m : 0.0f;
    if (threadIdx.x == 0) {
        float unbiased = m > 1 ? var * (float)m / (float)(m - 1) : var;
        mean[ch] = mu;
        invstd[ch] = 1.0f / sqrtf(var + eps);
        runMean[ch] = (1.0f - momentum) * runMean[ch] + momentum * mu;
        runVar[ch] = (1.0f - momentum) * runVar[ch] + momentum * unbiased;
    }
}

extern "C" __global__ void bn_apply(float* y, const float* x, const float* mean, const float* invstd,
                                    const float* gamma, const float* beta, int n, int c, int s) {
    GRID_STRIDE(i, n * c * s) {
        int ch = (i / s) % c;
        y[i] = (x[i] - mean[ch]) * invstd[ch] * gamma[ch] + beta[ch];
    }
}

extern "C" __global__ void bn_eval(float* y, const float* x, const float* runMean, const float* runVar,
                                   const float* gamma, const float* beta, int n, int c, int s, float eps) {
    GRID_STRIDE(i, n * c * s) {
        int ch = (i / s) % c;
        y[i] = (x[i] - runMean[ch]) / sqrtf(runVar[ch] + eps) * gamma[ch] + beta[ch];
    }
}

extern "C" __global__ void bn_backward(float* dx, float* dgamma, float* dbeta,
                                       const float* x, const float* dy, const float* gamma,
                                       const float* mean, const float* invstd, int n, int c, int s) {
    __shared__ float buf[BLOCK];
    int ch = blockIdx.x;
    int m = n * s;
    float mu = mean[ch], is = invstd[ch];
    float a = 0.0f, b = 0.0f;
    for (int j = threadIdx.x; j < m; j += blockDim.x) {
        int idx = ((j / s) * c + ch) * s + j % s;
        float g = dy[idx];
        a += g;
        b += g * (x[idx] - mu) * is;
    }
    float sdy = block_sum(a, buf);
    float sdyx = block_sum(b, buf);
    if (dgamma != 0 && threadIdx.x == 0) {
        dgamma[ch] += sdyx;
        dbeta[ch] += sdy;
    }
    if (dx != 0) {
        float k = gamma[ch] * is;
        float mdy = sdy / (float)m, mdyx = sdyx / (float)m;
        for (int j = threadIdx.x; j < m; j += blockDim.x) {
            int idx = ((j / s) * c + ch) * s + j % s;
            dx[idx] = k * (dy[idx] - mdy - (x[idx] - mu) * is * mdyx);
        }
    }
}
