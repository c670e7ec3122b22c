// common.cuh: helpers shared by the kernels of this folder.
//
// Conventions: every index fits in an int (the Go side checks lengths below
// 2^31); elementwise kernels walk their range with a grid-stride loop, so any
// grid size covers any length; block reductions go through __shared__ memory
// with a __syncthreads that every thread of the block reaches (no
// warp-synchronous code), and assume blockDim.x == BLOCK.
//
// Per-channel reductions over x viewed as [N, C, S] (BatchNorm, bias
// gradients) run in two passes. The first runs over a grid of (chunk,
// channel) blocks: chunk k of `chunks` holds the channel's values at the flat
// positions q ∈ [chunk_begin(M, k, chunks), chunk_begin(M, k+1, chunks)) of
// its M = N*S values, value q being x[((q/S)*C + ch)*S + q%S], and leaves
// one result per chunk; the second adds a channel's chunk results in the
// order k = 0, 1, ..., so every sum is the same on every run, while every SM
// has blocks to run. Where nothing else waits for the sums, the second pass
// runs in the same launch, in the block that finishes the channel's last
// chunk (last_chunk).
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

// chunk_begin is the first flat position of chunk k when m values are split
// into chunks nearly equal chunks (chunk_begin(m, chunks, chunks) = m).
static __device__ inline int chunk_begin(int m, int k, int chunks) {
    return (int)((long long)m * k / chunks);
}

// ChannelWalk steps one thread of a block through its share of positions
// [q0, q1) of channel ch of x [N, C, S]: q0 + threadIdx.x, then every
// blockDim.x, with `at` the value's offset in x. It divides once, at the
// start, and only adds after that.
struct ChannelWalk {
    int q, end, step;  // the position, q1, blockDim.x
    int j, s, dj;      // the place q%S within its sample's run, S, step%S
    int at, jump, wrap; // offset in x, its change per step, and per run crossed

    __device__ ChannelWalk(int ch, int c, int s_, int q0, int q1)
        : q(q0 + threadIdx.x), end(q1), step(blockDim.x), j(0), s(s_), dj(0), at(0), jump(0), wrap(0) {
        if (q >= end) { // nothing to walk (and S may be 0)
            return;
        }
        int b = q / s, db = step / s;
        j = q - b * s;
        dj = step - db * s;
        at = (b * c + ch) * s + j;
        jump = db * c * s + dj;
        wrap = c * s - s;
    }
    __device__ bool more() const { return q < end; }
    __device__ void next() {
        q += step;
        j += dj;
        at += jump;
        if (j >= s) {
            j -= s;
            at += wrap;
        }
    }
};

// last_chunk ends a block's chunk of channel ch, once its results are
// written: it returns true, to every thread of the block, in the one block
// that finishes the channel's last chunk, which may then read every chunk's
// results (through a volatile pointer, past the caches). count points at the
// channel's count of finished chunks, 0 before the launch; that block sets
// it back to 0 for the next one. buf is the block's __shared__ scratch of
// block_sum (a shared variable here would get a name that differs between
// builds in the PTX). Every thread of the block must call it.
// (Kernels take the counts as a float* parameter, as the emulator's launch
// table has no unsigned int*, and cast it.)
static __device__ inline bool last_chunk(unsigned int* count, int chunks, float* buf) {
    __threadfence(); // this block's results are visible before it is counted
    __syncthreads();
    if (threadIdx.x == 0) {
        bool last = atomicAdd(count, 1u) == (unsigned int)(chunks - 1);
        if (last) {
            *count = 0;
        }
        buf[0] = last ? 1.0f : 0.0f;
        __threadfence(); // the other blocks' results are read after the count
    }
    __syncthreads();
    bool last = buf[0] != 0.0f;
    __syncthreads(); // buf may be reused right after the call
    return last;
}
