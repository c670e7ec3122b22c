package gpu

import (
	"errors"
	"fmt"
	"math"
	"slices"
	"unsafe"

	"github.com/vaegan-go/vaegan/backend"
)

// Launch geometry shared with kernels/common.cuh.
const (
	block    = 256   // BLOCK in common.cuh: threads per block of every kernel
	maxGrid  = 1024  // most blocks of an elementwise (grid-stride) kernel
	maxGridY = 65535 // most blocks along a grid's y or z dimension
	lossGrid = 256   // most blocks of a loss's first reduction stage
)

// Buffer is device memory holding Len() float32 elements.
type Buffer struct {
	ptr DevicePtr
	n   int
}

// Len is the number of float32 elements the buffer holds.
func (b *Buffer) Len() int { return b.n }

// Error is the value a Backend panics with when the driver fails: the
// backend.Backend interface has no error returns, so the model layer recovers
// it. Op names the Backend method, Call the failing driver call (a kernel with
// its grid and block, Sgemm with its sizes, an allocation with its shape).
// Err is the driver's error, so errors.Is(err, ErrOutOfMemory) works.
type Error struct {
	Op   string
	Call string
	Err  error
}

// Error names the op and the call, and suggests a smaller batch when the
// device ran out of memory.
func (e *Error) Error() string {
	msg := fmt.Sprintf("gpu: %s: %s: %v", e.Op, e.Call, e.Err)
	if errors.Is(e.Err, ErrOutOfMemory) {
		msg += " (try a smaller -batch)"
	}
	return msg
}

// Unwrap returns the driver's error.
func (e *Error) Unwrap() error { return e.Err }

// Backend is backend.Backend on a CUDA device reached through a Driver.
// Every method panics with an *Error when the driver reports a failure (an
// allocation, a copy, a kernel launch or a matrix product). It is not safe
// for concurrent use.
type Backend struct {
	d           Driver
	launched    map[string]bool // kernel names launched so far
	partial     DevicePtr       // lossGrid floats: first-stage loss sums
	work        DevicePtr       // convolution workspace, workLen floats
	workLen     int
	chunk       DevicePtr // per-chunk results of per-channel reductions, chunkLen floats
	chunkLen    int
	count       DevicePtr // per-channel counts of finished chunks, countLen zeros between launches
	countLen    int
	workLimit   int         // see SetWorkspaceLimit
	args        []Arg       // the arguments of the launch being made (launchArgs)
	moves       int         // device memory freed so far (tensors, scratch moved by grow): a recording made before is stale
	noRecord    bool        // SetRecording(false)
	recording   bool        // inside Record
	staging     []float32   // pinned host memory that uploads are queued from (a Stager driver)
	staged      int         // floats of staging in flight: uploads queued since the last wait
	stagingWant int         // the staging size the uploads between two waits have needed
	pinned      [][]float32 // HostBuffer's memory, which uploads read without staging
}

var (
	_ backend.Backend       = (*Backend)(nil)
	_ backend.Recorder      = (*Backend)(nil)
	_ backend.HostAllocator = (*Backend)(nil)
)

// New returns a Backend over the driver d. It panics with an *Error if the
// device cannot hold the backend's small fixed buffers.
func New(d Driver) *Backend {
	b := &Backend{d: d, launched: map[string]bool{}, workLimit: DefaultWorkspaceLimit}
	b.partial = b.alloc("New", lossGrid, []int{lossGrid})
	return b
}

// Name describes the device.
func (b *Backend) Name() string { return "gpu " + b.d.Name() }

// Launched returns the sorted names of the kernels this backend has launched.
func (b *Backend) Launched() []string {
	names := make([]string, 0, len(b.launched))
	for k := range b.launched {
		names = append(names, k)
	}
	slices.Sort(names)
	return names
}

// fail panics with an *Error naming the failed call (formatted only on
// failure: the hot path boxes no arguments for a message it never writes).
func fail(op string, err error, call string, args ...any) {
	panic(&Error{Op: op, Call: fmt.Sprintf(call, args...), Err: err})
}

// alloc reserves n floats (at least one) for a tensor of the given shape.
func (b *Backend) alloc(op string, n int, shape []int) DevicePtr {
	bytes := 4 * max(n, 1)
	p, err := b.d.Alloc(bytes)
	if err != nil {
		fail(op, err, "Alloc(%d bytes) for shape %v", bytes, shape)
	}
	return p
}

// ptr is the device address of t's first element; nil tensors give 0, the
// null pointer that kernels test for optional outputs.
func ptr(t backend.Tensor) DevicePtr {
	if t.IsNil() {
		return 0
	}
	buf, ok := t.Buf.(*Buffer)
	if !ok {
		panic(fmt.Sprintf("gpu: tensor buffer is a %T, not a *gpu.Buffer", t.Buf))
	}
	if t.Off < 0 || t.Off+t.Len() > buf.n {
		panic(fmt.Sprintf("gpu: tensor view [%d, %d) outside its buffer of %d", t.Off, t.Off+t.Len(), buf.n))
	}
	return buf.ptr + DevicePtr(4*t.Off)
}

// dev is tensor t's device address as a kernel argument.
func dev(t backend.Tensor) Arg { return Ptr(ptr(t)) }

// launch runs kernel over grid×block threads with args and records its
// name.
func (b *Backend) launch(op, kernel string, grid, blk Dim3, args ...Arg) {
	b.args = append(b.args[:0], args...)
	b.launchArgs(op, kernel, grid, blk)
}

// launchArgs is launch with the arguments already in b.args, the buffer
// every launch reuses so that it allocates nothing.
func (b *Backend) launchArgs(op, kernel string, grid, blk Dim3) {
	b.launched[kernel] = true
	if err := b.d.Launch(kernel, grid, blk, 0, b.args); err != nil {
		fail(op, err, "%s<<<grid (%d,%d,%d), block (%d,%d,%d)>>>", kernel, grid.X, grid.Y, grid.Z, blk.X, blk.Y, blk.Z)
	}
}

// gridFor is the grid of a grid-stride kernel over n elements: one thread
// per element up to maxGrid blocks.
func gridFor(n, most int) Dim3 {
	checkIndex(n)
	return Dim3{min(max((n+block-1)/block, 1), most), 1, 1}
}

// checkIndex panics when a grid-stride loop over n elements would overflow
// the kernels' int index (i += stride).
func checkIndex(n int) {
	if n > math.MaxInt32-block*maxGrid {
		panic(fmt.Sprintf("gpu: %d elements overflow the kernels' int indices", n))
	}
}

// each launches a grid-stride kernel over n elements; n = 0 launches nothing.
func (b *Backend) each(op, kernel string, n int, args ...Arg) {
	if n == 0 {
		return
	}
	b.launch(op, kernel, gridFor(n, maxGrid), Dim3{block, 1, 1}, args...)
}

// eachXYZ launches a kernel whose x dimension is a grid-stride loop over nx
// elements and whose y and z dimensions loop over ny and nz (GRID_STRIDE_Y,
// GRID_STRIDE_Z): one block per (y, z) pair up to maxGridY each, and blocks
// of fewer threads when nx is small, so that a short row does not idle most
// of a block. An empty range launches nothing.
func (b *Backend) eachXYZ(op, kernel string, nx, ny, nz int, args ...Arg) {
	if nx == 0 || ny == 0 || nz == 0 {
		return
	}
	checkIndex(nx)
	threads := min(block, (nx+31)/32*32) // whole warps
	grid := Dim3{min((nx+threads-1)/threads, maxGrid), min(ny, maxGridY), min(nz, maxGridY)}
	b.launch(op, kernel, grid, Dim3{threads, 1, 1}, args...)
}

// Per-channel reductions (kernels/common.cuh) split each channel's values
// into chunks of about chunkValues (8 per thread of a block), at most
// maxChunks of them.
const (
	chunkValues = 8 * block
	maxChunks   = 64
)

// chunksFor is the number of chunks per channel of a reduction over m
// values per channel; it depends on the shape only, so the sums' order
// does too.
func chunksFor(m int) int { return min(max((m+chunkValues-1)/chunkValues, 1), maxChunks) }

// chunkScratch returns scratch device memory for n per-chunk results and c
// per-channel counts of finished chunks (last_chunk in kernels/common.cuh),
// which are zero: set so when allocated, and each launch leaves them so.
func (b *Backend) chunkScratch(op string, n, c int) (results, counts DevicePtr) {
	b.grow(op, &b.chunk, &b.chunkLen, n)
	if c > b.countLen {
		b.grow(op, &b.count, &b.countLen, c)
		b.each(op, "fill", c, Ptr(b.count), Int(c), F32(0)) // 0.0f is all zero bits
	}
	return b.chunk, b.count
}

// perChunk launches a kernel over (chunk, channel) blocks: k chunks of each
// of c channels.
func (b *Backend) perChunk(op, kernel string, c, k int, args ...Arg) {
	if c == 0 {
		return
	}
	b.launch(op, kernel, Dim3{k, min(c, maxGridY), 1}, Dim3{block, 1, 1}, args...)
}

// grow makes *p, holding *have floats, hold at least need floats: a new
// allocation (the old one freed) when it is too small, so that scratch
// memory sized by the largest layer so far makes steady training allocate
// nothing.
func (b *Backend) grow(op string, p *DevicePtr, have *int, need int) {
	if need <= *have {
		return
	}
	b.outsideRecord(op + " growing scratch memory")
	if *have > 0 {
		if err := b.d.Free(*p); err != nil {
			fail(op, err, "Free(scratch of %d floats)", *have)
		}
		*p, *have = 0, 0
		b.moves++
	}
	*p = b.alloc(op, need, []int{need})
	*have = need
}

// New allocates a zeroed tensor of the given shape.
func (b *Backend) New(shape ...int) backend.Tensor {
	b.outsideRecord("New")
	t := backend.Tensor{Shape: append([]int(nil), shape...)}
	n := t.Len()
	t.Buf = &Buffer{ptr: b.alloc("New", n, shape), n: n}
	b.each("New", "fill", n, dev(t), Int(n), F32(0))
	return t
}

// Free releases the device memory behind t's buffer.
func (b *Backend) Free(t backend.Tensor) {
	b.outsideRecord("Free")
	buf := t.Buf.(*Buffer)
	if err := b.d.Free(buf.ptr); err != nil {
		fail("Free", err, "Free(%d floats)", buf.n)
	}
	buf.ptr, buf.n = 0, 0
	b.moves++
}

// Upload copies src into t. On a Stager driver it queues the copy to the
// device without waiting for it: straight from src when src is HostBuffer
// memory, else from a copy of src in pinned staging memory, which is free
// again at the next wait (Download, Sync).
func (b *Backend) Upload(t backend.Tensor, src []float32) {
	b.outsideRecord("Upload")
	n := t.Len()
	if s, ok := b.d.(Stager); ok {
		from, queued := src[:n], b.isPinned(src[:n])
		if !queued && b.stage(s, n) {
			from, queued = b.staging[b.staged:b.staged+n], true
			copy(from, src[:n])
			b.staged += n
		}
		if queued {
			if err := s.CopyHtoDAsync(ptr(t), from); err != nil {
				fail("Upload", err, "CopyHtoDAsync(%d floats)", n)
			}
			return
		}
	}
	if err := b.d.CopyHtoD(ptr(t), src[:n]); err != nil {
		fail("Upload", err, "CopyHtoD(%d floats)", n)
	}
}

// stage reports whether n more floats fit in the staging memory. One that
// does not fit while others are in flight goes the synchronous way, and the
// staging memory grows to hold them all at the next upload after a wait:
// from the second, a training step's uploads all fit. An upload larger than
// stagingMax floats (weights, once) always goes the synchronous way.
func (b *Backend) stage(s Stager, n int) bool {
	if b.staged+n > stagingMax {
		return false
	}
	b.stagingWant = max(b.stagingWant, b.staged+n, stagingMin)
	if b.staged == 0 && len(b.staging) < b.stagingWant {
		if b.staging != nil {
			if err := s.FreePinned(b.staging); err != nil {
				fail("Upload", err, "FreePinned(%d floats)", len(b.staging))
			}
			b.staging = nil
		}
		p, err := s.AllocPinned(b.stagingWant)
		if err != nil {
			fail("Upload", err, "AllocPinned(%d floats)", b.stagingWant)
		}
		b.staging = p
	}
	return b.staged+n <= len(b.staging)
}

// HostBuffer returns n floats of pinned host memory (on a Stager driver;
// else of the Go heap), which uploads read without a staging copy. It lives
// as long as the driver.
func (b *Backend) HostBuffer(n int) []float32 {
	s, ok := b.d.(Stager)
	if !ok {
		return make([]float32, n)
	}
	p, err := s.AllocPinned(n)
	if err != nil {
		fail("HostBuffer", err, "AllocPinned(%d floats)", n)
	}
	b.pinned = append(b.pinned, p)
	return p
}

// isPinned reports whether x lies in memory from HostBuffer.
func (b *Backend) isPinned(x []float32) bool {
	if len(x) == 0 {
		return false
	}
	lo := uintptr(unsafe.Pointer(&x[0]))
	hi := lo + 4*uintptr(len(x))
	for _, p := range b.pinned {
		base := uintptr(unsafe.Pointer(&p[0]))
		if lo >= base && hi <= base+4*uintptr(len(p)) {
			return true
		}
	}
	return false
}

// The bounds of the pinned staging memory, in floats: at least 1 MiB (an
// mnist batch of 64 and the step's scalars), at most 64 MiB (a celeba64
// batch of 64 takes 3 MiB).
const (
	stagingMin = 1 << 18
	stagingMax = 1 << 24
)

// Download copies t into dst after the queued work.
func (b *Backend) Download(dst []float32, t backend.Tensor) {
	b.outsideRecord("Download")
	if err := b.d.CopyDtoH(dst[:t.Len()], ptr(t)); err != nil {
		fail("Download", err, "CopyDtoH(%d floats)", t.Len())
	}
	b.staged = 0
}

// outsideRecord panics when op (a copy between host and device, an
// allocation or a free) is called inside Record: a recording replays device
// work on memory that outlives it, and nothing else.
func (b *Backend) outsideRecord(op string) {
	if b.recording {
		panic(fmt.Sprintf("gpu: %s inside Record: a recording holds device work on memory allocated before it, and nothing else", op))
	}
}

// Copy sets dst = src.
func (b *Backend) Copy(dst, src backend.Tensor) {
	if err := b.d.CopyDtoD(ptr(dst), ptr(src), src.Len()); err != nil {
		fail("Copy", err, "CopyDtoD(%d floats)", src.Len())
	}
}

// Sync waits for the queued work.
func (b *Backend) Sync() {
	b.outsideRecord("Sync")
	if err := b.d.Synchronize(); err != nil {
		fail("Sync", err, "Synchronize")
	}
	b.staged = 0
}

// Gemm computes C = alpha*op(A)*op(B) + beta*C on row-major matrices.
func (b *Backend) Gemm(transA, transB bool, m, n, k int, alpha float32, a, bm backend.Tensor, beta float32, c backend.Tensor) {
	b.gemm("Gemm", transA, transB, m, n, k, alpha, ptr(a), ptr(bm), beta, ptr(c))
}

// gemm is the one place where row-major products meet cuBLAS's column-major
// Sgemm: a row-major m×n matrix is the column-major n×m matrix of its
// transpose, so C = op(A)·op(B) is computed as Cᵀ = op(B)ᵀ·op(A)ᵀ by swapping
// the operands and m with n. Leading dimensions are the row lengths.
func (b *Backend) gemm(op string, transA, transB bool, m, n, k int, alpha float32, a, bm DevicePtr, beta float32, c DevicePtr) {
	if m == 0 || n == 0 {
		return
	}
	lda, ldb := k, n
	if transA {
		lda = m
	}
	if transB {
		ldb = k
	}
	// cuBLAS wants every leading dimension ≥ 1, even when k = 0.
	lda, ldb = max(lda, 1), max(ldb, 1)
	err := b.d.Sgemm(transB, transA, n, m, k, alpha, bm, ldb, a, lda, beta, c, n)
	if err != nil {
		fail(op, err, "Sgemm(transA=%v, transB=%v, m=%d, n=%d, k=%d) (row-major)", transA, transB, m, n, k)
	}
}
