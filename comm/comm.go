// Package comm is the group of processes a data-parallel run trains in: one
// process (rank) per device, each holding a full copy of the model and a
// shard of every batch. The ranks meet in collectives: AllReduce sums a
// buffer over every rank in place, Broadcast copies a root's buffer to the
// others, Barrier waits for all.
//
// Implementations:
//
//   - Single: one process; every collective is a no-op (the default).
//   - Local: ranks as goroutines of one process (tests, and the reference the
//     MPI path is checked against).
//   - MPI (build tag mpi): cgo over the MPI C API, on host buffers; the
//     processes are launched by mpirun or srun.
//
// Every rank must call the same collectives in the same order with buffers of
// the same length; a collective that waits longer than its timeout fails
// (Local) or aborts the job (MPI) with a message naming the ranks missing.
package comm

import (
	"fmt"
	"unsafe"
)

// Comm is a group of ranks.
type Comm interface {
	// Rank is this process's place in the group, 0 to Size()-1.
	Rank() int
	// Size is the number of ranks.
	Size() int
	// AllReduce replaces buf on every rank by the element-wise sum of every
	// rank's buf.
	AllReduce(buf []float32) error
	// Broadcast copies root's buf into every other rank's buf.
	Broadcast(buf []byte, root int) error
	// Barrier returns once every rank has called it.
	Barrier() error
	// Abort ends every rank's process with exit code code, after printing
	// msg on this rank's standard error. It does not return.
	Abort(code int, msg string)
	// Close leaves the group (MPI_Finalize); the Comm is unusable after it.
	Close() error
}

// BroadcastFloats copies root's buf into every other rank's buf.
func BroadcastFloats(c Comm, buf []float32, root int) error {
	if len(buf) == 0 {
		return c.Broadcast(nil, root)
	}
	return c.Broadcast(unsafe.Slice((*byte)(unsafe.Pointer(&buf[0])), 4*len(buf)), root)
}

// BroadcastUint64s copies root's vals into every other rank's vals.
func BroadcastUint64s(c Comm, vals []uint64, root int) error {
	if len(vals) == 0 {
		return c.Broadcast(nil, root)
	}
	return c.Broadcast(unsafe.Slice((*byte)(unsafe.Pointer(&vals[0])), 8*len(vals)), root)
}

// BroadcastBytes sends root's msg to every rank, whatever the length the
// other ranks hold: the length travels first. It returns root's msg.
func BroadcastBytes(c Comm, msg []byte, root int) ([]byte, error) {
	n := []uint64{uint64(len(msg))}
	if err := BroadcastUint64s(c, n, root); err != nil {
		return nil, err
	}
	out := make([]byte, n[0])
	if c.Rank() == root {
		copy(out, msg)
	}
	if err := c.Broadcast(out, root); err != nil {
		return nil, err
	}
	return out, nil
}

// Disagreeing returns the ranks whose value differs from root's (the same
// list on every rank), or an error from the collectives.
func Disagreeing(c Comm, value []byte, root int) ([]int, error) {
	rootValue, err := BroadcastBytes(c, value, root)
	if err != nil {
		return nil, err
	}
	flags := make([]float32, c.Size())
	if string(rootValue) != string(value) {
		flags[c.Rank()] = 1
	}
	if err := c.AllReduce(flags); err != nil {
		return nil, err
	}
	var ranks []int
	for r, f := range flags {
		if f != 0 {
			ranks = append(ranks, r)
		}
	}
	return ranks, nil
}

// Single is the group of one process: every collective returns at once.
type Single struct{}

func (Single) Rank() int                 { return 0 }
func (Single) Size() int                 { return 1 }
func (Single) AllReduce([]float32) error { return nil }
func (Single) Barrier() error            { return nil }
func (Single) Close() error              { return nil }

// Broadcast checks that root is 0, the only rank.
func (Single) Broadcast(_ []byte, root int) error {
	if root != 0 {
		return fmt.Errorf("comm: broadcast from rank %d in a group of 1", root)
	}
	return nil
}

// Abort prints msg and exits.
func (Single) Abort(code int, msg string) { exit(code, msg) }
