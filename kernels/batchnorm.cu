// batchnorm.cu: batch normalisation over x viewed as [N, C, S], per channel c,
// with M = N*S values per channel.
//
//   bn_train_stats: the batch statistics, in two passes of one launch
//   (common.cuh; count: C zeros): per chunk k of channel c, with cnt_k values,
//       part[2(c*chunks+k)] = sum_k = Σx, part[2(c*chunks+k)+1] = sq_k = Σ(x - sum_k/cnt_k)²;
//   then, in the block that finishes the channel, adding over k in increasing order,
//       mean = Σ sum_k/M, var = Σ (sq_k + cnt_k*(sum_k/cnt_k - mean)²)/M (biased;
//       the chunks' squared deviations moved to the channel's mean, exact in
//       real arithmetic), invstd = 1/sqrt(var+eps),
//       runMean = (1-momentum)*runMean + momentum*mean,
//       runVar  = (1-momentum)*runVar  + momentum*var*M/(M-1)   (unbiased; var when M = 1);
//       an empty batch (M = 0) counts as mean 0, var 0.
//   bn_apply:    y = (x-mean[c])*invstd[c]*gamma[c] + beta[c]           (elementwise; as bn_eval,
//                over (C*S, samples) with one division per element)
//   bn_eval:     y = (x-runMean[c])/sqrt(runVar[c]+eps)*gamma[c] + beta[c]
//   bn_backward_part, bn_backward_apply, with xhat = (x-mean)*invstd: per chunk
//       part[2(c*chunks+k)] = Σdy, part[2(c*chunks+k)+1] = Σdy*xhat; then, with
//       sdy and sdyx their sums over k in increasing order,
//       dgamma += sdyx, dbeta += sdy                  (when dgamma is not null)
//       dx = gamma*invstd*(dy - sdy/M - xhat*sdyx/M)  (when dx is not null)
//
// Versions: v2, the reductions over (chunk, channel) blocks and a fixed-order
// second pass (deterministic): in the same launch for the statistics, in
// bn_backward_apply for the gradients, whose every block needs the sums; v1
// reduced one channel per block, leaving most SMs idle for the few channels
// of a layer, and divided per element.
#include "common.cuh"

// finish_stats combines channel ch's chunk results p (sum_k, sq_k pairs)
// into its statistics, in increasing k.
static __device__ void finish_stats(float* mean, float* invstd, float* runMean, float* runVar,
                                    const volatile float* p, int ch, int m, int chunks,
                                    float momentum, float eps) {
    float sum = 0.0f;
    for (int k = 0; k < chunks; k++) {
        sum += p[2 * k];
    }
    float mu = m > 0 ? sum / (float)m : 0.0f;
    float sq = 0.0f;
    for (int k = 0; k < chunks; k++) {
        int cnt = chunk_begin(m, k + 1, chunks) - chunk_begin(m, k, chunks);
        if (cnt > 0) {
            float d = p[2 * k] / (float)cnt - mu;
            sq += p[2 * k + 1] + (float)cnt * d * d;
        }
    }
    float var = m > 0 ? sq / (float)m : 0.0f;
    float unbiased = m > 1 ? var * (float)m / (float)(m - 1) : var;
    mean[ch] = mu;
    invstd[ch] = 1.0f / sqrtf(var + eps);
    runMean[ch] = (1.0f - momentum) * runMean[ch] + momentum * mu;
    runVar[ch] = (1.0f - momentum) * runVar[ch] + momentum * unbiased;
}

extern "C" __global__ void bn_train_stats(float* mean, float* invstd, float* runMean, float* runVar,
                                          float* part, float* count, const float* x,
                                          int n, int c, int s, int chunks, float momentum, float eps) {
    __shared__ float buf[BLOCK];
    int m = n * s;
    GRID_STRIDE_Y(ch, c) {
        for (int k = blockIdx.x; k < chunks; k += gridDim.x) {
            int q0 = chunk_begin(m, k, chunks), q1 = chunk_begin(m, k + 1, chunks);
            float acc = 0.0f;
            for (ChannelWalk it(ch, c, s, q0, q1); it.more(); it.next()) {
                acc += x[it.at];
            }
            float sum = block_sum(acc, buf);
            float mu = q1 > q0 ? sum / (float)(q1 - q0) : 0.0f;
            acc = 0.0f;
            for (ChannelWalk it(ch, c, s, q0, q1); it.more(); it.next()) {
                float d = x[it.at] - mu;
                acc += d * d;
            }
            float sq = block_sum(acc, buf);
            if (threadIdx.x == 0) {
                part[2 * (ch * chunks + k)] = sum;
                part[2 * (ch * chunks + k) + 1] = sq;
            }
            if (last_chunk((unsigned int*)count + ch, chunks, buf) && threadIdx.x == 0) {
                finish_stats(mean, invstd, runMean, runVar, part + 2 * ch * chunks, ch, m, chunks, momentum, eps);
            }
        }
    }
}

// bn_apply and bn_eval run over x: one sample's C*S values, y: the samples.
extern "C" __global__ void bn_apply(float* y, const float* x, const float* mean, const float* invstd,
                                    const float* gamma, const float* beta, int n, int c, int s) {
    GRID_STRIDE_Y(k, n) {
        int off = k * c * s;
        GRID_STRIDE(q, c * s) {
            int ch = q / s;
            y[off + q] = (x[off + q] - mean[ch]) * invstd[ch] * gamma[ch] + beta[ch];
        }
    }
}

extern "C" __global__ void bn_eval(float* y, const float* x, const float* runMean, const float* runVar,
                                   const float* gamma, const float* beta, int n, int c, int s, float eps) {
    GRID_STRIDE_Y(k, n) {
        int off = k * c * s;
        GRID_STRIDE(q, c * s) {
            int ch = q / s;
            y[off + q] = (x[off + q] - runMean[ch]) / sqrtf(runVar[ch] + eps) * gamma[ch] + beta[ch];
        }
    }
}

extern "C" __global__ void bn_backward_part(float* part, const float* x, const float* dy,
                                            const float* mean, const float* invstd,
                                            int n, int c, int s, int chunks) {
    __shared__ float buf[BLOCK];
    int m = n * s;
    GRID_STRIDE_Y(ch, c) {
        float mu = mean[ch], is = invstd[ch];
        for (int k = blockIdx.x; k < chunks; k += gridDim.x) {
            float a = 0.0f, b = 0.0f;
            for (ChannelWalk it(ch, c, s, chunk_begin(m, k, chunks), chunk_begin(m, k + 1, chunks)); it.more(); it.next()) {
                float g = dy[it.at];
                a += g;
                b += g * (x[it.at] - mu) * is;
            }
            float sdy = block_sum(a, buf);
            float sdyx = block_sum(b, buf);
            if (threadIdx.x == 0) {
                part[2 * (ch * chunks + k)] = sdy;
                part[2 * (ch * chunks + k) + 1] = sdyx;
            }
        }
    }
}

extern "C" __global__ void bn_backward_apply(float* dx, float* dgamma, float* dbeta,
                                             const float* x, const float* dy, const float* gamma,
                                             const float* mean, const float* invstd, const float* part,
                                             int n, int c, int s, int chunks) {
    __shared__ float tot[2];
    int m = n * s;
    GRID_STRIDE_Y(ch, c) {
        if (threadIdx.x == 0) {
            const float* p = part + 2 * ch * chunks;
            float sdy = 0.0f, sdyx = 0.0f;
            for (int k = 0; k < chunks; k++) {
                sdy += p[2 * k];
                sdyx += p[2 * k + 1];
            }
            tot[0] = sdy;
            tot[1] = sdyx;
            if (dgamma != 0 && blockIdx.x == 0) {
                dgamma[ch] += sdyx;
                dbeta[ch] += sdy;
            }
        }
        __syncthreads();
        float sdy = tot[0], sdyx = tot[1];
        __syncthreads(); // tot is rewritten for the next channel
        if (dx != 0) {
            float mu = mean[ch], is = invstd[ch];
            float kf = gamma[ch] * is;
            float mdy = sdy / (float)m, mdyx = sdyx / (float)m;
            for (int k = blockIdx.x; k < chunks; k += gridDim.x) {
                for (ChannelWalk it(ch, c, s, chunk_begin(m, k, chunks), chunk_begin(m, k + 1, chunks)); it.more(); it.next()) {
                    dx[it.at] = kf * (dy[it.at] - mdy - (x[it.at] - mu) * is * mdyx);
                }
            }
        }
    }
}
