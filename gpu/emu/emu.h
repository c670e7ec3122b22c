// emu.h is the C interface of the kernel emulator (runtime.cc) to Go.
#pragma once

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

// emu_worker holds what one OS thread needs to run blocks: fiber stacks and
// dynamic shared memory.
typedef struct emu_worker emu_worker;

// emu_kernel_count is the number of kernels in the launch table.
int emu_kernel_count(void);
// emu_kernel_name is the name of kernel i of the launch table.
const char* emu_kernel_name(int i);
// emu_kernel_params is the parameter codes of kernel i: p float*,
// c const float*, i int, f float, u unsigned long long.
const char* emu_kernel_params(int i);

emu_worker* emu_worker_new(void);
void emu_worker_free(emu_worker* w);

// emu_run runs blocks of one launch of kernel i on the calling OS thread.
// dims is grid x, y, z then block x, y, z; args holds one 8-byte slot per
// parameter. It takes block numbers from *next (shared by the workers of the
// launch) until none is left or *stop is set. On error it sets *stop, writes
// a message to err and returns -1; otherwise it returns 0. A seed other than
// 0 runs the grid's blocks, and each block's threads between barriers, in an
// order scrambled by it (a GPU promises neither order).
int emu_run(emu_worker* w, int i, const uint64_t* args, const int32_t* dims, int32_t shared,
            int64_t* next, int32_t* stop, uint64_t seed, char* err, int32_t errlen);

#ifdef __cplusplus
}
#endif
