// runtime.cc runs the blocks of a kernel launch: each thread of a block is a
// fiber on the calling OS thread, switched with a few lines of x86-64
// assembly; __syncthreads moves on to the next fiber, and a block is done
// when every fiber has returned.
#include <sys/mman.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
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
    int cur = 0;      // running fiber
    int arrived = 0;  // fibers at the barrier in this phase
    int done = 0;     // fibers returned in this phase
};

namespace {

thread_local emu_worker* current;

// next_fiber switches from the running fiber to the next one of the phase,
// or back to the scheduler after the last.
void next_fiber(emu_worker* w) {
    int i = w->cur;
    if (i + 1 < w->n) {
        w->cur = i + 1;
        threadIdx = w->tid[i + 1];
        emu_fiber_swap(&w->sp[i], w->sp[i + 1]);
    } else {
        emu_fiber_swap(&w->sp[i], w->sched_sp);
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

// run_block runs every thread of one block to completion.
bool run_block(emu_worker* w, uint3 b, char* err, int errlen) {
    blockIdx = b;
    for (int i = 0; i < w->n; i++) {
        w->sp[i] = new_fiber(stack_top(w, i));
    }
    for (;;) {
        w->arrived = 0;
        w->done = 0;
        w->cur = 0;
        threadIdx = w->tid[0];
        emu_fiber_swap(&w->sched_sp, w->sp[0]);
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
            int64_t* next, int32_t* stop, char* err, int32_t errlen) {
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
    std::atomic_ref<int64_t> next_block(*next);
    int rc = 0;
    while (stopped.load() == 0) {
        int64_t b = next_block.fetch_add(1);
        if (b >= nblocks) {
            break;
        }
        uint3 bi{(unsigned)(b % gx), (unsigned)(b / gx % gy), (unsigned)(b / ((int64_t)gx * gy))};
        if (!run_block(w, bi, err, errlen)) {
            stopped.store(1);
            rc = -1;
            break;
        }
    }
    current = nullptr;
    return rc;
}

}  // extern "C"
