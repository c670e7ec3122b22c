// Package kernels holds the CUDA kernels of the GPU backend: the sources
// (Sources, every *.cu and *.cuh of this folder) and the PTX that nvcc makes
// of them (PTX), which the real driver (package gpu/cuda) loads and the
// emulator (package gpu/emu) replaces by compiling the same sources as host
// C++.
//
// # Regenerating
//
// After editing any .cu or .cuh file run
//
//	go generate ./kernels ./gpu/emu
//
// The first runs gen.sh, which compiles every .cu file with
// `nvcc -ptx -arch=compute_70 -Werror all-warnings` into the committed
// <name>.ptx beside it (CUDA toolkit: scripts/install-cuda-toolkit.sh). The
// second regenerates the emulator's launch table (gpu/emu/gen_*.cc). Tests
// fail when either is stale.
//
// # Conventions every kernel follows
//
// Files. Each kernels/<concern>.cu is its own translation unit, compiled
// alone by nvcc (to <concern>.ptx) and by the emulator; it includes only
// "common.cuh" (which has #pragma once). Device helpers are
// `static __device__ inline`. emutest.cu holds the emulator's test kernels.
//
// Kernels. Every kernel is declared, on one line up to its opening
// parenthesis, as
//
//	extern "C" __global__ void name(
//
// and its name is unique across all files. Parameters are only float*,
// const float*, int, float and unsigned long long (the emulator rejects
// others at compile time). From Go they are passed to gpu.Driver.Launch as
// gpu.DevicePtr, int, float32 and uint64.
//
// Threads. blockDim has at most 1024 threads (x, y ≤ 1024, z ≤ 64) and grid
// y, z are at most 65535 (GRID_STRIDE_Y and GRID_STRIDE_Z loop past it). No warp-synchronous code: no __shfl*, __ballot*,
// __syncwarp, warpSize, cooperative groups or unsynchronised last-warp
// unrolling. Reductions go through __shared__ memory, and every
// __syncthreads is reached by all threads of the block: a thread must not
// return early past a barrier the others reach (the emulator reports that
// as an error naming the kernel).
//
// Shared memory. Static shared arrays are declared in the kernel body (or a
// device helper) with a compile-time size, e.g. `__shared__ float buf[BLOCK];`.
// Dynamic shared memory (the shared bytes of Launch, at most 48 KiB) is
// declared in the kernel body with
//
//	EXTERN_SHARED(float, buf);
//
// which common.cuh defines for nvcc, and the emulator before it, by
//
//	#ifndef EXTERN_SHARED
//	#define EXTERN_SHARED(T, name) extern __shared__ T name[]
//	#endif
//
// Shared memory is not initialised.
//
// Device functions available in both builds: expf, logf, sqrtf, rsqrtf,
// tanhf, cosf, sinf, powf, floorf, ceilf, fabsf, fmaxf, fminf, log1pf,
// isfinite,
// __expf, __logf, __fdividef, __saturatef, integer min and max, __umulhi,
// __float_as_int, __int_as_float, __float_as_uint, __uint_as_float, and
// atomicAdd (float, int, unsigned int), atomicMax (int), atomicCAS (int,
// unsigned int), atomicExch (float, int) and __threadfence. A kernel that
// needs unsigned int memory (last_chunk's counts) takes a float* and casts
// it. Results may differ from the GPU
// in the last bits (nvcc contracts a*b+c into FMAs; the host does not).
// No __constant__ or __device__ variables, textures or printf. Keep
// per-thread local arrays small: the emulator gives each thread a 64 KiB
// stack.
//
// Per-step values. The training step is recorded once as a CUDA graph and
// replayed (gpu.Capturer), and a replay passes every kernel the arguments
// it was recorded with. A value that changes from step to step (a Philox
// counter, Adam's bias corrections, the step's update flags) is therefore
// read from device memory, through a const float* parameter, never passed
// as an argument.
package kernels
