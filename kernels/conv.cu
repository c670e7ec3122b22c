// conv.cu: the data movements around the matrix products of a convolution.
//
// A Conv2d with input x [N, C, H, W], weight [K, C, R, R] and output
// [N, K, OH, OW] becomes one matrix product over the whole batch through the
// column matrix col [C*R*R, N*OH*OW]:
//   col[(c*R + ky)*R + kx, (n*OH + oy)*OW + ox] = x[n, c, oy*stride - pad + ky, ox*stride - pad + kx]
// (0 outside the image). Then y' = w·col is [K, N*OH*OW], which nks_from_kns
// reorders into NCHW.
//
//   im2col:       col as above (overwritten).
//   col2im:       the adjoint of im2col: dx[n,c,h,w] = Σ over the (ky, kx, oy, ox)
//                 with oy*stride - pad + ky = h and ox*stride - pad + kx = w of
//                 col[(c*R+ky)*R+kx, (n*OH+oy)*OW+ox] (overwritten; each thread
//                 gathers its own sum, so no atomics and a fixed order).
//   kns_from_nks: out[k, n, s] = in[n, k, s]  (in is [N, K, S]).
//   nks_from_kns: out[n, k, s] = in[k, n, s]  (in is [K, N, S]).
//
// Versions: v1 of each, one thread per output element, grid-stride loops.
#include "common.cuh"

extern "C" __global__ void im2col(float* col, const float* x, int n, int c, int h, int w,
                                  int r, int stride, int pad, int oh, int ow) {
    int s = oh * ow;
    int ns = n * s;
    GRID_STRIDE(i, c * r * r * ns) {
        int row = i / ns, j = i % ns;
        int ch = row / (r * r), ky = (row / r) % r, kx = row % r;
        int b = j / s, oy = (j % s) / ow, ox = j % ow;
        int iy = oy * stride - pad + ky, ix = ox * stride - pad + kx;
        float v = 0.0f;
        if (iy >= 0 && iy < h && ix >= 0 && ix < w) {
            v = x[((b * c + ch) * h + iy) * w + ix];
        }
        col[i] = v;
    }
}

extern "C" __global__ void col2im(float* dx, const float* col, int n, int c, int h, int w,
                                  int r, int stride, int pad, int oh, int ow) {
    int s = oh * ow;
    int ns = n * s;
    GRID_STRIDE(i, n * c * h * w) {
        int ix = i % w, iy = (i / w) % h, ch = (i / (w * h)) % c, b = i / (w * h * c);
        float acc = 0.0f;
        for (int ky = 0; ky < r; ky++) {
            int ty = iy + pad - ky;
            if (ty < 0 || ty % stride != 0 || ty / stride >= oh) {
                continue;
            }
            int oy = ty / stride;
            for (int kx = 0; kx < r; kx++) {
                int tx = ix + pad - kx;
                if (tx < 0 || tx % stride != 0 || tx / stride >= ow) {
                    continue;
                }
                int ox = tx / stride;
                acc += col[((ch * r + ky) * r + kx) * ns + b * s + oy * ow + ox];
            }
        }
        dx[i] = acc;
    }
}

extern "C" __global__ void kns_from_nks(float* out, const float* in, int n, int k, int s) {
    GRID_STRIDE(i, n * k * s) {
        int j = i % s, ch = (i / s) % k, b = i / (s * k);
        out[(ch * n + b) * s + j] = in[i];
    }
}

extern "C" __global__ void nks_from_kns(float* out, const float* in, int n, int k, int s) {
    GRID_STRIDE(i, n * k * s) {
        int j = i % s, ch = (i / s) % k, b = i / (s * k);
        out[i] = in[(ch * n + b) * s + j];
    }
}
