//go:build cuda

package cuda

/*
#cgo LDFLAGS: -ldl -lcuda
#include <dlfcn.h>
#include <stddef.h>
#include <string.h>
#include <cuda.h>

// NCCL is loaded at run time (it is not in Debian, and a build must not need
// it): these are this project's prototypes of the few calls used, after
// nccl.h's ABI. Its enums are ints; ncclFloat32 is 7 and ncclSum 0.
typedef struct { char internal[128]; } nccl_id;
typedef void* nccl_comm;
enum { nccl_float32 = 7, nccl_sum = 0, nccl_in_progress = 7 };

static int (*p_get_unique_id)(nccl_id*);
static int (*p_comm_init_rank)(nccl_comm*, int, nccl_id, int);
static int (*p_all_reduce)(const void*, void*, size_t, int, int, nccl_comm, CUstream);
static int (*p_group_start)(void);
static int (*p_group_end)(void);
static int (*p_comm_destroy)(nccl_comm);
static int (*p_comm_abort)(nccl_comm);
static int (*p_async_error)(nccl_comm, int*);
static const char* (*p_error_string)(int);
static int (*p_get_version)(int*);

// nccl_load opens libnccl.so.2 and finds every symbol above; it returns NULL
// or what went wrong.
static const char* nccl_load(void) {
	void* h = dlopen("libnccl.so.2", RTLD_NOW | RTLD_LOCAL);
	if (h == NULL) {
		return dlerror();
	}
#define SYM(p, name) if ((*(void**)&p = dlsym(h, name)) == NULL) { return "libnccl.so.2 lacks " name; }
	SYM(p_get_unique_id, "ncclGetUniqueId")
	SYM(p_comm_init_rank, "ncclCommInitRank")
	SYM(p_all_reduce, "ncclAllReduce")
	SYM(p_group_start, "ncclGroupStart")
	SYM(p_group_end, "ncclGroupEnd")
	SYM(p_comm_destroy, "ncclCommDestroy")
	SYM(p_comm_abort, "ncclCommAbort")
	SYM(p_async_error, "ncclCommGetAsyncError")
	SYM(p_error_string, "ncclGetErrorString")
	SYM(p_get_version, "ncclGetVersion")
#undef SYM
	return NULL;
}

static int nccl_version(void) { int v = 0; p_get_version(&v); return v; }
static int nccl_unique_id(void* id) { return p_get_unique_id((nccl_id*)id); }
static int nccl_init(nccl_comm* c, int size, const void* id, int rank) {
	nccl_id v;
	memcpy(&v, id, sizeof v);
	return p_comm_init_rank(c, size, v, rank);
}
// nccl_sum_in_place sums n spans (address, length) over the ranks, as one
// NCCL group on the default stream, after the work queued before it.
static int nccl_sum_in_place(nccl_comm c, const unsigned long long* ptrs, const long long* lens, int n) {
	int st = p_group_start();
	for (int i = 0; i < n && st == 0; i++) {
		st = p_all_reduce((const void*)ptrs[i], (void*)ptrs[i], (size_t)lens[i], nccl_float32, nccl_sum, c, 0);
	}
	int end = p_group_end();
	return st != 0 ? st : end;
}
static int nccl_async_error(nccl_comm c) { int e = 0; int st = p_async_error(c, &e); return st != 0 ? st : e; }
static int nccl_abort(nccl_comm c) { return p_comm_abort(c); }
static int nccl_destroy(nccl_comm c) { return p_comm_destroy(c); }
static const char* nccl_error(int st) { return p_error_string(st); }
static int stream_query(void) { return (int)cuStreamQuery(0); }
*/
import "C"

import (
	"errors"
	"fmt"
	"sync"
	"time"
	"unsafe"

	"github.com/vaegan-go/vaegan/comm"
	"github.com/vaegan-go/vaegan/gpu"
)

var _ gpu.AllReducer = (*Driver)(nil)

// ncclGroup is the driver's NCCL communicator (JoinNCCL).
type ncclGroup struct {
	comm    C.nccl_comm
	rank    int
	timeout time.Duration
	ptrs    []C.ulonglong // AllReduce's argument arrays, kept between calls
	lens    []C.longlong
}

// libnccl, loaded once: ncclLoadErr is why it could not be.
var (
	ncclOnce    sync.Once
	ncclLoadErr error
)

func loadNCCL() error {
	ncclOnce.Do(func() {
		if msg := C.nccl_load(); msg != nil {
			ncclLoadErr = fmt.Errorf("cuda: NCCL: %s (install NCCL 2, e.g. NVIDIA's libnccl2 package, as Dockerfile.cuda does)", C.GoString(msg))
		}
	})
	return ncclLoadErr
}

// NCCLVersion loads NCCL and returns its version, e.g. 21903 for 2.19.3.
func NCCLVersion() (int, error) {
	if err := loadNCCL(); err != nil {
		return 0, err
	}
	return int(C.nccl_version()), nil
}

func ncclError(call string, st C.int) error {
	if st == 0 {
		return nil
	}
	return fmt.Errorf("cuda: %s: NCCL error %d (%s)", call, int(st), C.GoString(C.nccl_error(st)))
}

// JoinNCCL makes the driver's AllReduce sum device memory over the ranks of
// c with NCCL, loaded now from libnccl.so.2: rank 0 makes NCCL's unique id,
// c broadcasts it (as nccl-tests does over MPI), and every rank joins the
// NCCL communicator with its own GPU. Every rank of c must call it. An
// AllReduce that has not finished within timeout (a rank died or stopped)
// aborts the communicator and fails instead of waiting forever.
func (d *Driver) JoinNCCL(c comm.Comm, timeout time.Duration) error {
	if d.nccl != nil {
		return errors.New("cuda: JoinNCCL: already joined")
	}
	loadErr := loadNCCL()
	// Every rank learns whether every rank has NCCL before any waits in
	// NCCL's initialisation for a rank that will never come.
	ok := []float32{1}
	if loadErr != nil {
		ok[0] = 0
	}
	if err := c.AllReduce(ok); err != nil {
		return fmt.Errorf("cuda: JoinNCCL: %w", err)
	}
	if loadErr != nil {
		return loadErr
	}
	if int(ok[0]) != c.Size() {
		return fmt.Errorf("cuda: NCCL: %d of the %d ranks could not load libnccl.so.2", c.Size()-int(ok[0]), c.Size())
	}
	id := make([]byte, C.sizeof_nccl_id)
	if c.Rank() == 0 {
		if err := ncclError("ncclGetUniqueId", C.nccl_unique_id(unsafe.Pointer(&id[0]))); err != nil {
			return err
		}
	}
	if err := c.Broadcast(id, 0); err != nil {
		return fmt.Errorf("cuda: JoinNCCL: broadcasting NCCL's id: %w", err)
	}
	g := &ncclGroup{rank: c.Rank(), timeout: timeout}
	err := d.do(func() error {
		return ncclError("ncclCommInitRank", C.nccl_init(&g.comm, C.int(c.Size()), unsafe.Pointer(&id[0]), C.int(c.Rank())))
	})
	if err != nil {
		return err
	}
	d.nccl = g
	return nil
}

// AllReduce replaces every span by its sum over the ranks of the NCCL
// communicator, in order with the work queued before it, and waits for it.
func (d *Driver) AllReduce(spans []gpu.Span) error {
	g := d.nccl
	if g == nil {
		return errors.New("cuda: AllReduce before JoinNCCL")
	}
	if g.comm == nil {
		return errors.New("cuda: AllReduce: the NCCL communicator was aborted by an earlier failure")
	}
	g.ptrs, g.lens = g.ptrs[:0], g.lens[:0]
	for _, s := range spans {
		g.ptrs = append(g.ptrs, C.ulonglong(s.P))
		g.lens = append(g.lens, C.longlong(s.N))
	}
	return d.do(func() error {
		if len(spans) == 0 {
			return nil
		}
		if err := ncclError("ncclAllReduce", C.nccl_sum_in_place(g.comm, &g.ptrs[0], &g.lens[0], C.int(len(spans)))); err != nil {
			return err
		}
		return g.wait()
	})
}

// wait polls the default stream until the queued all-reduce is done, NCCL
// reports an error, or the timeout passes; in the last two cases it aborts
// the communicator. It runs inside do, with the context current.
func (g *ncclGroup) wait() error {
	deadline := time.Now().Add(g.timeout)
	for pause := time.Microsecond; ; pause = min(2*pause, time.Millisecond) {
		switch st := C.stream_query(); st {
		case C.int(C.CUDA_SUCCESS):
			return nil
		case C.int(C.CUDA_ERROR_NOT_READY):
		default:
			return fmt.Errorf("cuda: AllReduce: the stream failed (CUresult %d) while waiting for NCCL; the CUDA context is unusable", int(st))
		}
		if st := C.nccl_async_error(g.comm); st != 0 && st != C.nccl_in_progress {
			C.nccl_abort(g.comm)
			g.comm = nil
			return ncclError("NCCL all-reduce (another rank may have failed)", st)
		}
		if time.Now().After(deadline) {
			C.nccl_abort(g.comm)
			g.comm = nil
			return fmt.Errorf("cuda: AllReduce: rank %d waited %v for the other ranks' NCCL all-reduce: a rank has died or stopped (the communicator is aborted)", g.rank, g.timeout)
		}
		time.Sleep(pause)
	}
}

// leaveNCCL destroys the NCCL communicator, if any (inside do, before the
// context goes).
func (d *Driver) leaveNCCL() error {
	g := d.nccl
	d.nccl = nil
	if g == nil || g.comm == nil {
		return nil
	}
	return ncclError("ncclCommDestroy", C.nccl_destroy(g.comm))
}
