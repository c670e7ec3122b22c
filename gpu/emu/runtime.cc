// runtime.cc runs the blocks of a kernel launch: each thread of a block is a
// fiber on the calling OS thread, switched with a few lines of x86-64
// assembly; __syncthreads moves on to the next fiber, and a block is done
// when every fiber has returned.
#include <sys/mman.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <numeric>
#include <utility>
#include <vector>

#include "cuda_emu.h"
#include "emu.h"

#if !defined(__x86_64__)
#error "the kernel emulator switches fibers with x86-64 assembly; other CPUs are not supported"
#endif

// emu_fiber_swap pushes the callee-saved registers, stores the stack pointer
// in *save, switches to the stack load (made by another emu_fiber_swap or by
// new_fiber) and pops that fiber's registers.
extern "C" void emu_fiber_swap(void** save, void* load);
asm(R"(
	.text
	.globl emu_fiber_swap
	.hidden emu_fiber_swap
	.type emu_fiber_swap, @function
emu_fiber_swap:
	pushq %rbp
	pushq %rbx
	pushq %r12
	pushq %r13
	pushq %r14
	pushq %r15
	movq %rsp, (%rdi)
	movq %rsi, %rsp
	popq %r15
	popq %r14
	popq %r13
	popq %r12
	popq %rbx
	popq %rbp
	ret
	.size emu_fiber_swap, .-emu_fiber_swap
)");

namespace {

constexpr size_t kStackSize = 64 << 10;  // per fiber, above a guard page

}  // namespace

struct emu_worker {
    char* stacks = nullptr;  // nstacks × (guard page + kStackSize)
    int nstacks = 0;
    size_t page = 0;
    std::vector<void*> sp;    // saved stack pointer of each fiber
    std::vector<uint3> tid;   // threadIdx of each fiber
    void* sched_sp = nullptr; // the scheduler's stack pointer while fibers run
    std::vector<double> dyn;  // dynamic shared memory
    const emu::Kernel* kernel = nullptr;
    const uint64_t* args = nullptr;
    int n = 0;        // threads per block
    std::vector<int> order;  // the fibers of a phase in running order
    uint64_t seed = 0;       // scrambles the orders; 0: in order
    int cur = 0;      // place of the running fiber in order
    int arrived = 0;  // fibers at the barrier in this phase
    int done = 0;     // fibers returned in this phase
};

namespace {

thread_local emu_worker* current;

// next_fiber switches from the running fiber to the next one of the phase,
// or back to the scheduler after the last.
void next_fiber(emu_worker* w) {
    int i = w->order[w->cur];
    if (w->cur + 1 < w->n) {
        int j = w->order[++w->cur];
        threadIdx = w->tid[j];
        emu_fiber_swap(&w->sp[i], w->sp[j]);
    } else {
        emu_fiber_swap(&w->sp[i], w->sched_sp);
    }
}

// splitmix64 advances *x and returns the next of its pseudo-random numbers.
uint64_t splitmix64(uint64_t* x) {
    uint64_t z = (*x += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

// set_order puts the fibers of the next phase in order: 0, 1, … without a
// seed, else a permutation drawn from (seed, block, phase).
void set_order(emu_worker* w, uint64_t block, uint64_t phase) {
    w->order.resize(w->n);
    for (int t = 0; t < w->n; t++) {
        w->order[t] = t;
    }
    if (w->seed == 0) {
        return;
    }
    uint64_t x = w->seed ^ (block * 0x9e3779b97f4a7c15ULL) ^ (phase << 32);
    for (int t = w->n - 1; t > 0; t--) {
        int u = (int)(splitmix64(&x) % (uint64_t)(t + 1));
        std::swap(w->order[t], w->order[u]);
    }
}

// fiber_main is where every fiber starts: it runs one thread of the kernel.
void fiber_main() {
    emu_worker* w = current;
    w->kernel->call(w->args);
    w->done++;
    next_fiber(w);  // never resumed
    std::abort();
}

// new_fiber lays out a stack for emu_fiber_swap to pop: six zero registers
// and fiber_main as the return address, entered with the stack alignment of
// a call.
void* new_fiber(char* top) {
    void** sp = reinterpret_cast<void**>(top);
    *--sp = nullptr;  // fiber_main's own return address; it never returns
    *--sp = reinterpret_cast<void*>(&fiber_main);
    for (int r = 0; r < 6; r++) {
        *--sp = nullptr;
    }
    return sp;
}

char* stack_top(emu_worker* w, int i) {
    return w->stacks + (size_t)(i + 1) * (w->page + kStackSize);
}

// ensure_stacks maps at least n fiber stacks, each with a guard page below.
bool ensure_stacks(emu_worker* w, int n) {
    if (n <= w->nstacks) {
        return true;
    }
    size_t each = w->page + kStackSize;
    if (w->stacks != nullptr) {
        munmap(w->stacks, each * w->nstacks);
        w->stacks = nullptr;
        w->nstacks = 0;
    }
    void* p = mmap(nullptr, each * n, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (p == MAP_FAILED) {
        return false;
    }
    w->stacks = static_cast<char*>(p);
    w->nstacks = n;
    for (int i = 0; i < n; i++) {
        if (mprotect(w->stacks + i * each, w->page, PROT_NONE) != 0) {
            return false;
        }
    }
    w->sp.resize(n);
    return true;
}

// run_block runs every thread of one block (number k of the grid) to
// completion.
bool run_block(emu_worker* w, uint3 b, int64_t k, char* err, int errlen) {
    blockIdx = b;
    for (int i = 0; i < w->n; i++) {
        w->sp[i] = new_fiber(stack_top(w, i));
    }
    for (uint64_t phase = 0;; phase++) {
        w->arrived = 0;
        w->done = 0;
        w->cur = 0;
        set_order(w, (uint64_t)k, phase);
        threadIdx = w->tid[w->order[0]];
        emu_fiber_swap(&w->sched_sp, w->sp[w->order[0]]);
        if (w->done == w->n) {
            return true;
        }
        if (w->arrived != w->n) {
            snprintf(err, errlen,
                     "block (%u,%u,%u): __syncthreads reached by %d of %d threads while the others returned",
                     b.x, b.y, b.z, w->arrived, w->n);
            return false;
        }
    }
}

int kernel_count() {
    int n = 0;
    for (int t = 0; t < emu::kernel_table_count; t++) {
        n += emu::kernel_tables[t].len;
    }
    return n;
}

const emu::Kernel* kernel_at(int i) {
    for (int t = 0; t < emu::kernel_table_count; t++) {
        if (i < emu::kernel_tables[t].len) {
            return &emu::kernel_tables[t].kernels[i];
        }
        i -= emu::kernel_tables[t].len;
    }
    return nullptr;
}

}  // namespace

void emu::syncthreads() {
    emu_worker* w = current;
    w->arrived++;
    next_fiber(w);
}

void* emu::dynamic_shared() { return current->dyn.data(); }

void emu::trap() {
    fprintf(stderr, "emu: kernel %s trapped (__trap) in block (%u,%u,%u) thread (%u,%u,%u) of a block of (%u,%u,%u)\n",
            current->kernel->name, blockIdx.x, blockIdx.y, blockIdx.z, threadIdx.x, threadIdx.y, threadIdx.z,
            blockDim.x, blockDim.y, blockDim.z);
    std::abort();
}

extern "C" {

int emu_kernel_count(void) { return kernel_count(); }
const char* emu_kernel_name(int i) { return kernel_at(i)->name; }
const char* emu_kernel_params(int i) { return kernel_at(i)->params; }

emu_worker* emu_worker_new(void) {
    emu_worker* w = new emu_worker;
    w->page = (size_t)sysconf(_SC_PAGESIZE);
    return w;
}

void emu_worker_free(emu_worker* w) {
    if (w->stacks != nullptr) {
        munmap(w->stacks, (w->page + kStackSize) * w->nstacks);
    }
    delete w;
}

int emu_run(emu_worker* w, int i, const uint64_t* args, const int32_t* dims, int32_t shared,
            int64_t* next, int32_t* stop, uint64_t seed, char* err, int32_t errlen) {
    std::atomic_ref<int32_t> stopped(*stop);
    unsigned gx = dims[0], gy = dims[1], gz = dims[2];
    unsigned bx = dims[3], by = dims[4], bz = dims[5];
    int n = (int)(bx * by * bz);
    if (!ensure_stacks(w, n)) {
        snprintf(err, errlen, "cannot map %d fiber stacks: errno %d", n, errno);
        stopped.store(1);
        return -1;
    }
    w->n = n;
    w->seed = seed;
    w->tid.resize(n);
    for (int t = 0; t < n; t++) {
        w->tid[t] = uint3{t % bx, (t / bx) % by, t / (bx * by)};
    }
    w->dyn.resize((shared + sizeof(double) - 1) / sizeof(double) + 1);
    w->kernel = kernel_at(i);
    w->args = args;
    current = w;
    gridDim = dim3{gx, gy, gz};
    blockDim = dim3{bx, by, bz};
    int64_t nblocks = (int64_t)gx * gy * gz;
    // With a seed, block number b runs as block (a·b + c) mod nblocks, a
    // bijection when a is coprime to nblocks.
    uint64_t mix = seed, a = 1, c = 0;
    if (seed != 0 && nblocks > 1) {
        do {
            a = splitmix64(&mix) % (uint64_t)nblocks;
        } while (std::gcd(a, (uint64_t)nblocks) != 1);
        c = splitmix64(&mix) % (uint64_t)nblocks;
    }
    std::atomic_ref<int64_t> next_block(*next);
    int rc = 0;
    while (stopped.load() == 0) {
        int64_t k = next_block.fetch_add(1);
        if (k >= nblocks) {
            break;
        }
        int64_t b = (int64_t)(((unsigned __int128)a * (uint64_t)k + c) % (uint64_t)nblocks);
        uint3 bi{(unsigned)(b % gx), (unsigned)(b / gx % gy), (unsigned)(b / ((int64_t)gx * gy))};
        if (!run_block(w, bi, b, err, errlen)) {
            stopped.store(1);
            rc = -1;
            break;
        }
    }
    current = nullptr;
    return rc;
}

}  // extern "C"
