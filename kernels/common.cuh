// common.cuh: helpers shared by the kernels of this folder.
//
// Conventions: every index fits in an int (the Go side checks lengths below
// 2^31); elementwise kernels walk their range with a grid-stride loop, so any
// grid size covers any length; block reductions go through __shared__ memory
// with a __syncthreads that every thread of the block reaches (no
// warp-synchronous code), and assume blockDim.x == BLOCK.
#pragma once

// EXTERN_SHARED(T, name) declares the block's dynamic shared memory (the
// emulator defines its own before including this file).
#ifndef EXTERN_SHARED
#define EXTERN_SHARED(T, name) extern __shared__ T name[]
#endif

// BLOCK is the block size of every kernel that reduces within a block.
#define BLOCK 256

// GRID_STRIDE(i, n) loops i over [0, n) with a grid-stride loop.
#define GRID_STRIDE(i, n) \
    for (int i = blockIdx.x * blockDim.x + threadIdx.x; i < (n); i += blockDim.x * gridDim.x)

// GRID_STRIDE_Y and GRID_STRIDE_Z are GRID_STRIDE along the grid's y and z
// dimensions.
#define GRID_STRIDE_Y(i, n) \
    for (int i = blockIdx.y * blockDim.y + threadIdx.y; i < (n); i += blockDim.y * gridDim.y)
#define GRID_STRIDE_Z(i, n) \
    for (int i = blockIdx.z * blockDim.z + threadIdx.z; i < (n); i += blockDim.z * gridDim.z)

// block_sum returns Σ v over the threads of the block to every thread. buf is
// a __shared__ array of BLOCK floats; every thread of the block must call it.
// The tree order is fixed, so the result is the same on every run. A launch
// with another block shape would read and write past buf or leave threads
// out of the sum: it traps (the launch fails) instead.
static __device__ inline float block_sum(float v, float* buf) {
    if (blockDim.x != BLOCK || blockDim.y != 1 || blockDim.z != 1) {
        __trap();
    }
    int t = threadIdx.x;
    buf[t] = v;
    __syncthreads();
    for (int s = BLOCK / 2; s > 0; s >>= 1) {
        if (t < s) {
            buf[t] += buf[t + s];
        }
        __syncthreads();
    }
    float r = buf[0];
    __syncthreads(); // buf may be reused right after the call
    return r;
}
