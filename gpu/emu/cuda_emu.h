// cuda_emu.h lets kernels/*.cu compile as host C++ for the emulator.
//
// A block's threads are fibers on one OS thread (runtime.cc), so:
//   - threadIdx, blockIdx, blockDim, gridDim are thread_local variables that
//     the scheduler sets before it resumes a fiber;
//   - __shared__ is static thread_local: one copy per OS thread, which runs
//     one block at a time, i.e. per-block storage;
//   - __syncthreads() switches to the next fiber of the block;
//   - atomics are real atomics, since blocks run on several OS threads.
// The conventions the kernels follow are in kernels/doc.go.
#pragma once

#include <atomic>
#include <cfloat>
#include <climits>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <utility>

#define __global__
#define __device__
#define __host__
#define __forceinline__ inline __attribute__((always_inline))
#define __shared__ static thread_local
#define __restrict__ __restrict

struct uint3 {
    unsigned int x, y, z;
};
struct dim3 {
    unsigned int x, y, z;
};

inline thread_local uint3 threadIdx;
inline thread_local uint3 blockIdx;
inline thread_local dim3 blockDim;
inline thread_local dim3 gridDim;

namespace emu {
// syncthreads waits until every thread of the block has reached it.
void syncthreads();
// dynamic_shared is the block's dynamic shared memory (the launch's shared bytes).
void* dynamic_shared();
// trap ends the process with a message naming the block and thread, as
// __trap makes a GPU launch fail for good.
[[noreturn]] void trap();
}  // namespace emu

#define __syncthreads() emu::syncthreads()
// __threadfence orders this thread's memory accesses before and after it as
// every other thread sees them (with the atomics, which are relaxed).
inline void __threadfence() { std::atomic_thread_fence(std::memory_order_seq_cst); }
#define __trap() emu::trap()
#define EXTERN_SHARED(T, name) T* name = static_cast<T*>(emu::dynamic_shared())

// Device math without a host equivalent of the same name.
using std::isfinite;
inline float rsqrtf(float x) { return 1.0f / sqrtf(x); }
inline float __expf(float x) { return expf(x); }
inline float __logf(float x) { return logf(x); }
inline float __fdividef(float a, float b) { return a / b; }
inline float __saturatef(float x) { return fminf(fmaxf(x, 0.0f), 1.0f); }
inline int min(int a, int b) { return a < b ? a : b; }
inline int max(int a, int b) { return a > b ? a : b; }
inline unsigned int min(unsigned int a, unsigned int b) { return a < b ? a : b; }
inline unsigned int max(unsigned int a, unsigned int b) { return a > b ? a : b; }
inline unsigned int __umulhi(unsigned int a, unsigned int b) {
    return (unsigned int)(((unsigned long long)a * b) >> 32);
}
inline int __float_as_int(float x) {
    int i;
    std::memcpy(&i, &x, sizeof i);
    return i;
}
inline float __int_as_float(int i) {
    float x;
    std::memcpy(&x, &i, sizeof x);
    return x;
}
inline unsigned int __float_as_uint(float x) {
    unsigned int i;
    std::memcpy(&i, &x, sizeof i);
    return i;
}
inline float __uint_as_float(unsigned int i) {
    float x;
    std::memcpy(&x, &i, sizeof x);
    return x;
}

// Atomics; each returns the old value, as in CUDA.
template <typename T>
inline T emu_atomic_add(T* p, T v) {
    return std::atomic_ref<T>(*p).fetch_add(v, std::memory_order_relaxed);
}
inline float atomicAdd(float* p, float v) { return emu_atomic_add(p, v); }
inline int atomicAdd(int* p, int v) { return emu_atomic_add(p, v); }
inline unsigned int atomicAdd(unsigned int* p, unsigned int v) { return emu_atomic_add(p, v); }
inline int atomicMax(int* p, int v) {
    std::atomic_ref<int> a(*p);
    int old = a.load(std::memory_order_relaxed);
    while (old < v && !a.compare_exchange_weak(old, v, std::memory_order_relaxed)) {
    }
    return old;
}
template <typename T>
inline T emu_atomic_cas(T* p, T compare, T v) {
    std::atomic_ref<T>(*p).compare_exchange_strong(compare, v, std::memory_order_relaxed);
    return compare;
}
inline int atomicCAS(int* p, int compare, int v) { return emu_atomic_cas(p, compare, v); }
inline unsigned int atomicCAS(unsigned int* p, unsigned int compare, unsigned int v) {
    return emu_atomic_cas(p, compare, v);
}
inline float atomicExch(float* p, float v) { return std::atomic_ref<float>(*p).exchange(v); }
inline int atomicExch(int* p, int v) { return std::atomic_ref<int>(*p).exchange(v); }

namespace emu {

// Kernel is one entry of the launch table: a kernel, its parameter codes
// (p float*, c const float*, i int, f float, u unsigned long long) and a
// function that calls it with arguments unpacked from 8-byte slots.
struct Kernel {
    const char* name;
    const char* params;
    void (*call)(const uint64_t* args);
};

// KernelTable is the launch table of one kernels/*.cu file (gen_<file>.cc);
// gen_table.cc lists them all.
struct KernelTable {
    const Kernel* kernels;
    int len;
};
extern const KernelTable kernel_tables[];
extern const int kernel_table_count;

template <typename T>
struct Param {
    static_assert(sizeof(T) == 0,
                  "kernel parameters must be float*, const float*, int, float or unsigned long long");
};
template <>
struct Param<float*> {
    static constexpr char code = 'p';
    static float* from(uint64_t v) { return reinterpret_cast<float*>(static_cast<uintptr_t>(v)); }
};
template <>
struct Param<const float*> {
    static constexpr char code = 'c';
    static const float* from(uint64_t v) { return reinterpret_cast<const float*>(static_cast<uintptr_t>(v)); }
};
template <>
struct Param<int> {
    static constexpr char code = 'i';
    static int from(uint64_t v) { return static_cast<int>(static_cast<int64_t>(v)); }
};
template <>
struct Param<float> {
    static constexpr char code = 'f';
    static float from(uint64_t v) { return __uint_as_float(static_cast<unsigned int>(v)); }
};
template <>
struct Param<unsigned long long> {
    static constexpr char code = 'u';
    static unsigned long long from(uint64_t v) { return v; }
};

template <typename F>
struct Signature;
template <typename... P>
struct Signature<void (*)(P...)> {
    static constexpr char params[] = {Param<P>::code..., 0};
    template <void (*F)(P...), size_t... I>
    static void unpack(const uint64_t* args, std::index_sequence<I...>) {
        F(Param<P>::from(args[I])...);
    }
    template <void (*F)(P...)>
    static void call(const uint64_t* args) {
        unpack<F>(args, std::index_sequence_for<P...>{});
    }
};

}  // namespace emu

// EMU_KERNEL(f) is the launch-table entry of kernel f.
#define EMU_KERNEL(f) \
    emu::Kernel { #f, emu::Signature<decltype(&f)>::params, &emu::Signature<decltype(&f)>::template call<&f> }
