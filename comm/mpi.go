//go:build mpi

package comm

/*
#cgo pkg-config: mpi
#include <mpi.h>
#include <stdlib.h>

// MPI's handles and MPI_IN_PLACE are macros that cgo cannot name: these
// wrappers name them on the C side.
static int comm_init(int *provided) {
	int err = MPI_Init_thread(NULL, NULL, MPI_THREAD_SERIALIZED, provided);
	if (err == MPI_SUCCESS) MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);
	return err;
}
static int comm_rank(int *r) { return MPI_Comm_rank(MPI_COMM_WORLD, r); }
static int comm_size(int *n) { return MPI_Comm_size(MPI_COMM_WORLD, n); }
static int comm_allreduce(float *buf, int n) {
	return MPI_Allreduce(MPI_IN_PLACE, buf, n, MPI_FLOAT, MPI_SUM, MPI_COMM_WORLD);
}
static int comm_bcast(void *buf, int n, int root) { return MPI_Bcast(buf, n, MPI_BYTE, root, MPI_COMM_WORLD); }
static int comm_barrier(void) { return MPI_Barrier(MPI_COMM_WORLD); }
static void comm_abort(int code) { MPI_Abort(MPI_COMM_WORLD, code); }
static int comm_finalize(void) { return MPI_Finalize(); }
static void comm_error_string(int code, char *out, int *len) { MPI_Error_string(code, out, len); }
*/
import "C"

import (
	"fmt"
	"os"
	"time"
	"unsafe"
)

// MPIBuilt says whether this binary was built with the mpi tag.
const MPIBuilt = true

// chunk is the most elements one MPI call moves (MPI counts are C ints).
const chunk = 1 << 30

type mpiComm struct {
	rank, size int
	timeout    time.Duration
}

// MPI joins the MPI job this process was launched in (MPI_Init_thread) and
// returns its group, MPI_COMM_WORLD. A collective that takes longer than
// timeout ends this process with a message saying which collective hung;
// mpirun then ends the others. A rank that dies is reported by mpirun, which
// ends the whole job.
func MPI(timeout time.Duration) (Comm, error) {
	var provided C.int
	if err := mpiError("MPI_Init_thread", C.comm_init(&provided)); err != nil {
		return nil, err
	}
	if provided < C.MPI_THREAD_SERIALIZED {
		C.comm_finalize()
		return nil, fmt.Errorf("comm: this MPI library gives thread level %d, want MPI_THREAD_SERIALIZED", int(provided))
	}
	var r, n C.int
	if err := mpiError("MPI_Comm_rank", C.comm_rank(&r)); err != nil {
		return nil, err
	}
	if err := mpiError("MPI_Comm_size", C.comm_size(&n)); err != nil {
		return nil, err
	}
	return &mpiComm{rank: int(r), size: int(n), timeout: timeout}, nil
}

func (m *mpiComm) Rank() int { return m.rank }
func (m *mpiComm) Size() int { return m.size }

// watch ends the process when the collective op takes longer than the
// timeout; the returned function stops the watch.
func (m *mpiComm) watch(op string) func() bool {
	t := time.AfterFunc(m.timeout, func() {
		exit(1, fmt.Sprintf("rank %d of %d: %s did not complete within %v: another rank has died or hangs; ending this rank", m.rank, m.size, op, m.timeout))
	})
	return t.Stop
}

func (m *mpiComm) AllReduce(buf []float32) error {
	defer m.watch("all-reduce")()
	for len(buf) > 0 {
		n := min(len(buf), chunk)
		if err := mpiError("MPI_Allreduce", C.comm_allreduce((*C.float)(unsafe.Pointer(&buf[0])), C.int(n))); err != nil {
			return err
		}
		buf = buf[n:]
	}
	return nil
}

func (m *mpiComm) Broadcast(buf []byte, root int) error {
	defer m.watch("broadcast")()
	for len(buf) > 0 {
		n := min(len(buf), chunk)
		if err := mpiError("MPI_Bcast", C.comm_bcast(unsafe.Pointer(&buf[0]), C.int(n), C.int(root))); err != nil {
			return err
		}
		buf = buf[n:]
	}
	return nil
}

func (m *mpiComm) Barrier() error {
	defer m.watch("barrier")()
	return mpiError("MPI_Barrier", C.comm_barrier())
}

// Abort prints msg and ends every rank of the job (MPI_Abort).
func (m *mpiComm) Abort(code int, msg string) {
	if msg != "" {
		fmt.Fprintln(os.Stderr, msg)
	}
	C.comm_abort(C.int(code))
	os.Exit(code)
}

// Close calls MPI_Finalize.
func (m *mpiComm) Close() error { return mpiError("MPI_Finalize", C.comm_finalize()) }

// mpiError turns an MPI return code into an error with MPI's own message.
func mpiError(call string, code C.int) error {
	if code == C.MPI_SUCCESS {
		return nil
	}
	buf := make([]byte, C.MPI_MAX_ERROR_STRING)
	var n C.int
	C.comm_error_string(code, (*C.char)(unsafe.Pointer(&buf[0])), &n)
	return fmt.Errorf("comm: %s: %s", call, buf[:n])
}
