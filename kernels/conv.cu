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
//                 col[(c*R+ky)*R+kx, (n*OH+oy)*OW+ox], in increasing ky, then kx
//                 (overwritten; each thread gathers its own sum, so no atomics
//                 and a fixed order).
//   kns_from_nks: out[k, n, s] = in[n, k, s]  (in is [N, K, S]).
//   nks_from_kns: out[n, k, s] = in[k, n, s]  (in is [K, N, S]).
//
// Grids and versions (v2): no kernel divides per element.
//   im2col:  x over the columns (n, oy, ox), y over the channels. A thread
//            splits its column into (n, oy, ox) once (two divisions) and
//            then writes its R*R entries, one per row, with additions only.
//   col2im:  x over the pixels of an image, y over the channels, z over the
//            samples. A thread finds, per axis, its first kernel tap and
//            output position once (a division and a remainder by stride)
//            and steps through the taps that reach it: ky += stride, oy -= 1.
//   kns_from_nks, nks_from_kns: x over one sample's K*S values, y over the
//            samples; one division per element (the channel, q / S).
// v1 used one thread per element of a 1-D grid, with a chain of divisions
// and remainders per element (176 SASS instructions per element of im2col
// for sm_90; scripts/sass-stats.sh).
#include "common.cuh"

extern "C" __global__ void im2col(float* col, const float* x, int n, int c, int h, int w,
                                  int r, int stride, int pad, int oh, int ow) {
    int s = oh * ow;
    int ns = n * s;
    GRID_STRIDE_Y(ch, c) {
        GRID_STRIDE(j, ns) {
            int b = j / s, p = j - b * s;
            int oy = p / ow, ox = p - oy * ow;
            int y0 = oy * stride - pad, x0 = ox * stride - pad;
            const float* img = x + (b * c + ch) * h * w;
            float* out = col + ch * r * r * ns + j;
            for (int ky = 0; ky < r; ky++) {
                int iy = y0 + ky;
                bool rowIn = iy >= 0 && iy < h;
                for (int kx = 0; kx < r; kx++) {
                    int ix = x0 + kx;
                    *out = rowIn && ix >= 0 && ix < w ? img[iy * w + ix] : 0.0f;
                    out += ns;
                }
            }
        }
    }
}

extern "C" __global__ void col2im(float* dx, const float* col, int n, int c, int h, int w,
                                  int r, int stride, int pad, int oh, int ow) {
    int s = oh * ow;
    int ns = n * s;
    GRID_STRIDE_Z(b, n) {
        GRID_STRIDE_Y(ch, c) {
            float* img = dx + (b * c + ch) * h * w;
            const float* src = col + ch * r * r * ns + b * s;
            GRID_STRIDE(p, h * w) {
                int iy = p / w, ix = p - iy * w;
                // Tap ky reaches row iy from output row oy = (iy + pad - ky)/stride
                // when that divides exactly: ky ≡ iy + pad (mod stride).
                int ty = iy + pad, tx = ix + pad;
                int ky0 = ty % stride, oy0 = ty / stride;
                int kx0 = tx % stride, ox0 = tx / stride;
                float acc = 0.0f;
                for (int ky = ky0, oy = oy0; ky < r && oy >= 0; ky += stride, oy--) {
                    if (oy >= oh) {
                        continue;
                    }
                    for (int kx = kx0, ox = ox0; kx < r && ox >= 0; kx += stride, ox--) {
                        if (ox < ow) {
                            acc += src[(ky * r + kx) * ns + oy * ow + ox];
                        }
                    }
                }
                img[p] = acc;
            }
        }
    }
}

extern "C" __global__ void kns_from_nks(float* out, const float* in, int n, int k, int s) {
    int ks = k * s;
    GRID_STRIDE_Y(b, n) {
        const float* src = in + b * ks;
        float* dst = out + b * s;
        GRID_STRIDE(q, ks) {
            // q = ch*s + j goes to (ch*n + b)*s + j = b*s + q + ch*(n-1)*s.
            dst[q + (q / s) * (n - 1) * s] = src[q];
        }
    }
}

extern "C" __global__ void nks_from_kns(float* out, const float* in, int n, int k, int s) {
    int ks = k * s;
    GRID_STRIDE_Y(b, n) {
        const float* src = in + b * s;
        float* dst = out + b * ks;
        GRID_STRIDE(q, ks) {
            dst[q] = src[q + (q / s) * (n - 1) * s];
        }
    }
}
