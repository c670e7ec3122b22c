// emutest.cu: small kernels that test the CPU emulator (gpu/emu) against
// plain Go; they exercise the features the real kernels rely on.
//
//   emutest_affine:      y[i] = a*x[i] + b, one thread per element, early return
//                        past the end
//   emutest_index:       out[linear thread id] = its (thread, block) coordinates
//                        folded into one number, over 3-D grids and blocks
//   emutest_block_sum:   partial[block] = Σ x over the block's 256 elements, a
//                        __shared__ tree reduction with __syncthreads
//   emutest_reverse:     each block reverses its blockDim.x elements through
//                        dynamic shared memory
//   emutest_atomics:     sum += Σ x (float atomicAdd), count += n (int atomicAdd)
//   emutest_params:      copies each parameter's bits to out[0..5]
//   emutest_math:        y[k*n + i] = device math function k of x[i]
//   emutest_bad_barrier: threads past n return before a __syncthreads the
//                        others reach (an error the emulator must report)
//   emutest_order:       out[k] = the global id of the k-th thread to run the
//                        atomicAdd on *count: the order threads ran in
#ifndef EXTERN_SHARED
#define EXTERN_SHARED(T, name) extern __shared__ T name[]
#endif

#define EMUTEST_BLOCK 256

extern "C" __global__ void emutest_affine(float* y, const float* x, int n, float a, float b) {
    int i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i >= n) {
        return;
    }
    y[i] = a * x[i] + b;
}

extern "C" __global__ void emutest_index(float* out) {
    int tx = threadIdx.x, ty = threadIdx.y, tz = threadIdx.z;
    int bx = blockIdx.x, by = blockIdx.y, bz = blockIdx.z;
    int t = tx + blockDim.x * (ty + blockDim.y * tz);
    int b = bx + gridDim.x * (by + gridDim.y * bz);
    int threads = blockDim.x * blockDim.y * blockDim.z;
    out[b * threads + t] = (float)(tx + 10 * ty + 100 * tz + 1000 * bx + 10000 * by + 100000 * bz);
}

extern "C" __global__ void emutest_block_sum(float* partial, const float* x, int n) {
    __shared__ float buf[EMUTEST_BLOCK];
    int t = threadIdx.x;
    int i = blockIdx.x * EMUTEST_BLOCK + t;
    buf[t] = i < n ? x[i] : 0.0f;
    __syncthreads();
    for (int s = EMUTEST_BLOCK / 2; s > 0; s >>= 1) {
        if (t < s) {
            buf[t] += buf[t + s];
        }
        __syncthreads();
    }
    if (t == 0) {
        partial[blockIdx.x] = buf[0];
    }
}

extern "C" __global__ void emutest_reverse(float* y, const float* x, int n) {
    EXTERN_SHARED(float, seg);
    int t = threadIdx.x;
    int base = blockIdx.x * blockDim.x;
    int len = min(n - base, (int)blockDim.x);
    if (t < len) {
        seg[t] = x[base + t];
    }
    __syncthreads();
    if (t < len) {
        y[base + t] = seg[len - 1 - t];
    }
}

extern "C" __global__ void emutest_atomics(float* sum, float* count, const float* x, int n) {
    int i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i < n) {
        atomicAdd(sum, x[i]);
        atomicAdd((int*)count, 1);
    }
}

extern "C" __global__ void emutest_params(float* out, const float* in, int i, float f, unsigned long long u) {
    out[0] = in[0];
    out[1] = __int_as_float(i);
    out[2] = f;
    out[3] = __uint_as_float((unsigned int)u);
    out[4] = __uint_as_float((unsigned int)(u >> 32));
}

extern "C" __global__ void emutest_math(float* y, const float* x, int n) {
    int i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i >= n) {
        return;
    }
    float v = x[i];
    y[0 * n + i] = expf(v);
    y[1 * n + i] = logf(fabsf(v) + 1.0f);
    y[2 * n + i] = rsqrtf(fabsf(v) + 1.0f);
    y[3 * n + i] = tanhf(v);
    y[4 * n + i] = __expf(v);
    y[5 * n + i] = log1pf(fabsf(v));
    y[6 * n + i] = fmaxf(v, 0.5f) + fminf(v, -0.5f);
    y[7 * n + i] = sqrtf(fabsf(v)) * cosf(v);
}

extern "C" __global__ void emutest_bad_barrier(float* x, int n) {
    int t = threadIdx.x;
    if (t >= n) {
        return;
    }
    __syncthreads();
    x[t] = 1.0f;
}

extern "C" __global__ void emutest_order(float* out, float* count, int n) {
    int i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i < n) {
        int k = atomicAdd((int*)count, 1);
        out[k] = (float)i;
    }
}
