package emu

//go:generate go run gen.go

/*
#cgo CXXFLAGS: -std=c++20 -O2 -Wall
#cgo LDFLAGS: -lm
#include <stdlib.h>
#include <string.h>
#include "emu.h"
*/
import "C"

import (
	"errors"
	"fmt"
	"math"
	"runtime"
	"sort"
	"sync"
	"unsafe"

	"github.com/vaegan-go/vaegan/comm"
	"github.com/vaegan-go/vaegan/gpu"
	// The gen_*.cc files compile kernels/*.cu, which Go's build cache does
	// not track; depending on package kernels, which embeds them, makes an
	// edited kernel rebuild this package.
	_ "github.com/vaegan-go/vaegan/kernels"
)

// DefaultMemoryLimit is the device memory an emulated device has unless
// WithMemoryLimit says otherwise.
const DefaultMemoryLimit = 8 << 30

// maxSharedBytes is the dynamic shared memory a launch may ask for without
// opting in, as on CUDA devices.
const maxSharedBytes = 48 << 10

// Driver is a gpu.Driver that runs kernels on the CPU. Its methods are safe
// for concurrent use; they run one at a time.
type Driver struct {
	mu      sync.Mutex
	workers []*C.emu_worker
	kernels map[string]kernel
	allocs  []allocation // sorted by base
	used    int
	limit   int
	shuffle uint64        // WithShuffle's seed; 0: blocks and threads in order
	async   bool          // WithAsyncErrors
	sticky  error         // a kernel's failure, reported by every later call (async)
	group   comm.Comm     // JoinGroup's; nil: AllReduce fails
	capture *graph        // the graph being recorded (BeginCapture); nil: none
	failed  error         // the failure of the kernel just run, without WithAsyncErrors
	pending []pendingCopy // CopyHtoDAsync's copies, made at the next call
	closed  bool
}

var (
	_ gpu.Driver     = (*Driver)(nil)
	_ gpu.Capturer   = (*Driver)(nil)
	_ gpu.AllReducer = (*Driver)(nil)
)

// kernel is one entry of the launch table.
type kernel struct {
	index  int
	params string // one code per parameter, see emu.h
}

// allocation is a block of emulated device memory.
type allocation struct {
	base gpu.DevicePtr
	size int
}

// Option configures a Driver.
type Option func(*Driver)

// WithMemoryLimit sets the device memory size in bytes: Alloc fails with
// gpu.ErrOutOfMemory beyond it.
func WithMemoryLimit(bytes int) Option {
	return func(d *Driver) { d.limit = bytes }
}

// WithShuffle runs every launch's blocks, and each block's threads between
// barriers, in an order scrambled by seed (not 0), as a GPU promises no
// order: a kernel that depends on one gives other results or fails.
func WithShuffle(seed uint64) Option {
	return func(d *Driver) { d.shuffle = seed }
}

// WithAsyncErrors reports a kernel's failure during its run (a barrier not
// every thread reaches) as a GPU does: Launch returns nil, and that error
// comes back from the next call (copy, launch, synchronisation) and every
// one after it, the context being unusable. Errors a launch's arguments
// show (shapes, types, limits) still come back from Launch.
func WithAsyncErrors() Option {
	return func(d *Driver) { d.async = true }
}

// New returns an emulated device that runs the blocks of a grid on workers
// OS threads (runtime.GOMAXPROCS(0) if workers < 1).
func New(workers int, opts ...Option) *Driver {
	if workers < 1 {
		workers = runtime.GOMAXPROCS(0)
	}
	d := &Driver{kernels: map[string]kernel{}, limit: DefaultMemoryLimit}
	for _, o := range opts {
		o(d)
	}
	for range workers {
		d.workers = append(d.workers, C.emu_worker_new())
	}
	for i := range int(C.emu_kernel_count()) {
		name := C.GoString(C.emu_kernel_name(C.int(i)))
		d.kernels[name] = kernel{index: i, params: C.GoString(C.emu_kernel_params(C.int(i)))}
	}
	return d
}

// Name describes the emulated device.
func (d *Driver) Name() string {
	return fmt.Sprintf("CPU emulator (%d workers)", len(d.workers))
}

// Alloc reserves n bytes of C memory filled with NaN bytes. An n of 0
// reserves a minimal block, so that every allocation has its own address.
func (d *Driver) Alloc(n int) (gpu.DevicePtr, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if err := d.outsideCapture("Alloc"); err != nil {
		return 0, err
	}
	if n < 0 {
		return 0, fmt.Errorf("emu: Alloc of %d bytes: size must not be negative", n)
	}
	size := max(n, 4)
	if d.used+size > d.limit {
		return 0, fmt.Errorf("emu: Alloc of %d bytes with %d of %d in use: %w", n, d.used, d.limit, gpu.ErrOutOfMemory)
	}
	p := C.malloc(C.size_t(size))
	if p == nil {
		return 0, fmt.Errorf("emu: Alloc of %d bytes: malloc failed: %w", n, gpu.ErrOutOfMemory)
	}
	C.memset(p, 0xff, C.size_t(size))
	a := allocation{base: gpu.DevicePtr(uintptr(p)), size: size}
	i := sort.Search(len(d.allocs), func(i int) bool { return d.allocs[i].base > a.base })
	d.allocs = append(d.allocs, allocation{})
	copy(d.allocs[i+1:], d.allocs[i:])
	d.allocs[i] = a
	d.used += size
	return a.base, nil
}

// Free releases memory from Alloc.
func (d *Driver) Free(p gpu.DevicePtr) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if err := d.outsideCapture("Free"); err != nil {
		return err
	}
	i := sort.Search(len(d.allocs), func(i int) bool { return d.allocs[i].base >= p })
	if i == len(d.allocs) || d.allocs[i].base != p {
		return fmt.Errorf("emu: Free of %#x: not an address returned by Alloc", uintptr(p))
	}
	C.free(pointer(p))
	d.used -= d.allocs[i].size
	d.allocs = append(d.allocs[:i], d.allocs[i+1:]...)
	return nil
}

// CopyHtoD copies len(src) floats from the host to dst.
func (d *Driver) CopyHtoD(dst gpu.DevicePtr, src []float32) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if err := d.outsideCapture("CopyHtoD"); err != nil {
		return err
	}
	if err := d.checkRange("CopyHtoD destination", dst, len(src)); err != nil {
		return err
	}
	copy(floats(dst, len(src)), src)
	return nil
}

// CopyDtoH copies len(dst) floats from src to the host.
func (d *Driver) CopyDtoH(dst []float32, src gpu.DevicePtr) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if err := d.outsideCapture("CopyDtoH"); err != nil {
		return err
	}
	if err := d.checkRange("CopyDtoH source", src, len(dst)); err != nil {
		return err
	}
	copy(dst, floats(src, len(dst)))
	return nil
}

// CopyDtoD copies n floats within the device (or records the copy).
func (d *Driver) CopyDtoD(dst, src gpu.DevicePtr, n int) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.queue("CopyDtoD", func() error {
		if err := d.checkRange("CopyDtoD destination", dst, n); err != nil {
			return err
		}
		return d.checkRange("CopyDtoD source", src, n)
	}, func() { copy(floats(dst, n), floats(src, n)) })
}

// Launch runs the named kernel over grid×block threads and returns when it
// has finished (or records it, its arguments copied).
func (d *Driver) Launch(name string, grid, block gpu.Dim3, shared int, args []gpu.Arg) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.capture != nil {
		args = append([]gpu.Arg(nil), args...) // the caller reuses its slice
	}
	var k kernel
	var slots []uint64
	return d.queue("Launch", func() error {
		var err error
		k, slots, err = d.checkLaunch(name, grid, block, shared, args)
		return err
	}, func() { d.run(name, k, slots, grid, block, shared) })
}

// launchError formats the error of a launch.
func launchError(name string, grid, block gpu.Dim3, shared int, format string, a ...any) error {
	return fmt.Errorf("emu: launch %s grid %s block %s shared %d: %s",
		name, dim(grid), dim(block), shared, fmt.Sprintf(format, a...))
}

// checkLaunch checks a launch against the kernel's parameters and CUDA's
// limits and packs its arguments.
func (d *Driver) checkLaunch(name string, grid, block gpu.Dim3, shared int, args []gpu.Arg) (kernel, []uint64, error) {
	fail := func(format string, a ...any) (kernel, []uint64, error) {
		return kernel{}, nil, launchError(name, grid, block, shared, format, a...)
	}
	k, ok := d.kernels[name]
	if !ok {
		return fail("no such kernel in kernels/*.cu (after editing them, run go generate ./gpu/emu)")
	}
	if err := checkShape(grid, block, shared); err != nil {
		return fail("%v", err)
	}
	slots, err := d.pack(k.params, args)
	if err != nil {
		return fail("%v", err)
	}
	return k, append(slots, 0), nil // the 0: &slots[0] exists for kernels without parameters
}

// run runs a checked launch. A kernel's failure becomes the driver's sticky
// error (WithAsyncErrors: the next call reports it) or d.failed, the
// error of the call.
func (d *Driver) run(name string, k kernel, slots []uint64, grid, block gpu.Dim3, shared int) {
	dims := [6]int32{int32(grid.X), int32(grid.Y), int32(grid.Z), int32(block.X), int32(block.Y), int32(block.Z)}
	var next int64
	var stop int32
	nw := min(len(d.workers), grid.X*grid.Y*grid.Z)
	msgs := make([][256]byte, nw)
	rcs := make([]C.int, nw)
	run := func(w int) {
		rcs[w] = C.emu_run(d.workers[w], C.int(k.index), (*C.uint64_t)(&slots[0]),
			(*C.int32_t)(&dims[0]), C.int32_t(shared), (*C.int64_t)(&next), (*C.int32_t)(&stop), C.uint64_t(d.shuffle),
			(*C.char)(unsafe.Pointer(&msgs[w][0])), C.int32_t(len(msgs[w])))
	}
	var wg sync.WaitGroup
	for w := 1; w < nw; w++ {
		wg.Go(func() { run(w) })
	}
	run(0)
	wg.Wait()
	for w, rc := range rcs {
		if rc != 0 {
			err := launchError(name, grid, block, shared, "%s", C.GoString((*C.char)(unsafe.Pointer(&msgs[w][0]))))
			if d.async { // as on a GPU: the next call reports it
				d.sticky = fmt.Errorf("an earlier kernel failed: %w", err)
				return
			}
			d.failed = err
			return
		}
	}
}

// Sgemm is cuBLAS's column-major single-precision matrix product
// C = alpha*op(A)*op(B) + beta*C; see package gpu.
func (d *Driver) Sgemm(transA, transB bool, m, n, k int, alpha float32, a gpu.DevicePtr, lda int, b gpu.DevicePtr, ldb int, beta float32, c gpu.DevicePtr, ldc int) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	rowsA, colsA := m, k
	if transA {
		rowsA, colsA = k, m
	}
	rowsB, colsB := k, n
	if transB {
		rowsB, colsB = n, k
	}
	fail := func(format string, args ...any) error {
		return fmt.Errorf("emu: Sgemm transA=%t transB=%t m=%d n=%d k=%d lda=%d ldb=%d ldc=%d: %s",
			transA, transB, m, n, k, lda, ldb, ldc, fmt.Sprintf(format, args...))
	}
	var as, bs, cs []float32
	return d.queue("Sgemm", func() error {
		switch {
		case m < 0 || n < 0 || k < 0:
			return fail("sizes must not be negative")
		case lda < max(1, rowsA):
			return fail("lda must be at least max(1, %d)", rowsA)
		case ldb < max(1, rowsB):
			return fail("ldb must be at least max(1, %d)", rowsB)
		case ldc < max(1, m):
			return fail("ldc must be at least max(1, m)")
		}
		if m == 0 || n == 0 {
			return nil
		}
		var err error
		if cs, err = d.matrix(c, m, n, ldc); err != nil {
			return fail("C: %v", err)
		}
		if k > 0 && alpha != 0 {
			if as, err = d.matrix(a, rowsA, colsA, lda); err != nil {
				return fail("A: %v", err)
			}
			if bs, err = d.matrix(b, rowsB, colsB, ldb); err != nil {
				return fail("B: %v", err)
			}
		}
		return nil
	}, func() {
		if m > 0 && n > 0 {
			sgemm(transA, transB, m, n, k, alpha, as, lda, bs, ldb, beta, cs, ldc, len(d.workers))
		}
	})
}

// Synchronize returns nil: every operation has finished when it returns.
func (d *Driver) Synchronize() error {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.outsideCapture("Synchronize")
}

// queue checks an operation (op names it in errors) and runs it, or
// records it while capturing. A recorded operation is checked again at each
// replay, so that one whose memory has been freed since fails there, as a
// GPU would fault, rather than touching freed memory.
func (d *Driver) queue(op string, check func() error, run func()) error {
	if err := d.open(op); err != nil {
		return err
	}
	if err := check(); err != nil {
		if d.capture != nil && d.capture.err == nil {
			d.capture.err = err
		}
		return err
	}
	if d.capture != nil {
		d.capture.ops = append(d.capture.ops, recorded{op, check, run})
		return nil
	}
	return d.exec(run)
}

// exec runs a checked operation and returns the failure of its kernel, if
// it launched one that failed (d.failed, without WithAsyncErrors).
func (d *Driver) exec(run func()) error {
	run()
	err := d.failed
	d.failed = nil
	return err
}

// outsideCapture is open(op) for the calls a capture does not allow: while
// capturing they fail and spoil the capture, as CUDA's stream capture does
// (cudaErrorStreamCaptureUnsupported, and the capture is invalidated).
func (d *Driver) outsideCapture(op string) error {
	if err := d.open(op); err != nil {
		return err
	}
	if d.capture != nil {
		err := fmt.Errorf("emu: %s during a graph capture: not allowed (the capture is spoilt)", op)
		if d.capture.err == nil {
			d.capture.err = err
		}
		return err
	}
	return nil
}

// Close frees all device memory and the workers.
func (d *Driver) Close() error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.closed { // not open(): a failed kernel's error does not keep the memory
		return errors.New("emu: Close on a closed driver")
	}
	for _, a := range d.allocs {
		C.free(pointer(a.base))
	}
	for _, w := range d.workers {
		C.emu_worker_free(w)
	}
	d.allocs, d.workers, d.used, d.closed = nil, nil, 0, true
	return nil
}

// open checks that the driver can take a call (op names it) and then makes
// the copies CopyHtoDAsync queued, as the stream would before the call.
func (d *Driver) open(op string) error {
	if d.sticky != nil {
		return fmt.Errorf("emu: %s: %w", op, d.sticky)
	}
	if d.closed {
		return fmt.Errorf("emu: %s on a closed driver", op)
	}
	for _, c := range d.pending {
		copy(floats(c.dst, len(c.src)), c.src)
	}
	d.pending = d.pending[:0]
	return nil
}

// checkRange checks that n floats from p lie in one live allocation.
func (d *Driver) checkRange(what string, p gpu.DevicePtr, n int) error {
	if err := d.open(what); err != nil {
		return err
	}
	if n < 0 {
		return fmt.Errorf("emu: %s: negative length %d", what, n)
	}
	if !d.inAllocation(p, 4*n) {
		return fmt.Errorf("emu: %s: %d floats at %#x are not inside one live allocation", what, n, uintptr(p))
	}
	return nil
}

// inAllocation reports whether the bytes [p, p+n) lie in one live allocation.
func (d *Driver) inAllocation(p gpu.DevicePtr, n int) bool {
	i := sort.Search(len(d.allocs), func(i int) bool { return d.allocs[i].base > p }) - 1
	if i < 0 {
		return false
	}
	a := d.allocs[i]
	return int(p-a.base)+n <= a.size
}

// matrix returns the column-major rows×cols matrix with leading dimension ld
// at p, after checking that it lies in one live allocation.
func (d *Driver) matrix(p gpu.DevicePtr, rows, cols, ld int) ([]float32, error) {
	n := ld*(cols-1) + rows
	if !d.inAllocation(p, 4*n) {
		return nil, fmt.Errorf("%d×%d matrix with leading dimension %d (%d floats) at %#x is not inside one live allocation",
			rows, cols, ld, n, uintptr(p))
	}
	return floats(p, n), nil
}

// argKinds is the kind of argument each parameter code takes (see emu.h).
var argKinds = map[byte]gpu.ArgKind{'p': gpu.PtrArg, 'c': gpu.PtrArg, 'i': gpu.IntArg, 'f': gpu.F32Arg, 'u': gpu.U64Arg}

// pack converts launch arguments to 8-byte slots, checking them against the
// kernel's parameter codes.
func (d *Driver) pack(params string, args []gpu.Arg) ([]uint64, error) {
	if len(args) != len(params) {
		return nil, fmt.Errorf("%d arguments for %d parameters", len(args), len(params))
	}
	slots := make([]uint64, len(args))
	for i, a := range args {
		code := params[i]
		if a.Kind != argKinds[code] {
			return nil, fmt.Errorf("argument %d is a %v for a parameter of type %s", i, a.Kind, paramType(code))
		}
		switch a.Kind {
		case gpu.PtrArg:
			if p := gpu.DevicePtr(a.Bits); p != 0 && !d.inAllocation(p, 0) {
				return nil, fmt.Errorf("argument %d: device pointer %#x is not in a live allocation", i, uintptr(p))
			}
		case gpu.IntArg:
			if v := int64(a.Bits); v < math.MinInt32 || v > math.MaxInt32 {
				return nil, fmt.Errorf("argument %d: %d does not fit a 32-bit int", i, v)
			}
		}
		slots[i] = a.Bits
	}
	return slots, nil
}

// paramType names the C type of a parameter code.
func paramType(code byte) string {
	switch code {
	case 'p':
		return "float*"
	case 'c':
		return "const float*"
	case 'i':
		return "int"
	case 'f':
		return "float"
	case 'u':
		return "unsigned long long"
	}
	return fmt.Sprintf("code %q", code)
}

// checkShape checks a launch shape against CUDA's limits.
func checkShape(grid, block gpu.Dim3, shared int) error {
	switch {
	case block.X < 1 || block.Y < 1 || block.Z < 1:
		return fmt.Errorf("block dimensions must be at least 1")
	case block.X > 1024 || block.Y > 1024 || block.Z > 64:
		return fmt.Errorf("block dimensions must be at most (1024,1024,64)")
	case block.X*block.Y*block.Z > 1024:
		return fmt.Errorf("%d threads per block; at most 1024", block.X*block.Y*block.Z)
	case grid.X < 1 || grid.Y < 1 || grid.Z < 1:
		return fmt.Errorf("grid dimensions must be at least 1")
	case grid.X > math.MaxInt32 || grid.Y > 65535 || grid.Z > 65535:
		return fmt.Errorf("grid dimensions must be at most (2147483647,65535,65535)")
	case shared < 0 || shared > maxSharedBytes:
		return fmt.Errorf("dynamic shared memory must be 0 to %d bytes", maxSharedBytes)
	}
	return nil
}

func dim(d gpu.Dim3) string { return fmt.Sprintf("(%d,%d,%d)", d.X, d.Y, d.Z) }

// pointer converts a device address, which is C memory, to a pointer.
func pointer(p gpu.DevicePtr) unsafe.Pointer {
	return *(*unsafe.Pointer)(unsafe.Pointer(&p))
}

// floats views n floats of device memory at p.
func floats(p gpu.DevicePtr, n int) []float32 {
	if n == 0 {
		return nil
	}
	return unsafe.Slice((*float32)(pointer(p)), n)
}
