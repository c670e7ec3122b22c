package cpu

import (
	"fmt"
	"runtime"

	"github.com/vaegan-go/vaegan/backend"
	"gonum.org/v1/gonum/blas"
	"gonum.org/v1/gonum/blas/blas32"
)

// Buf is the CPU backend's buffer: a host float32 slice.
type Buf []float32

// Len is the number of elements of b.
func (b Buf) Len() int { return len(b) }

// Backend is the CPU implementation of backend.Backend. It is not safe for
// concurrent use: its operations run one at a time, each possibly spread over
// the worker pool.
type Backend struct {
	p        *pool
	openBLAS bool      // products run in OpenBLAS, else in gonum
	col, out []float32 // convolution scratch (conv.go)
	wt, dwt  []float32 // turned weights and their gradient (conv.go)
	ph       []float32 // the workers' phases of im2col and col2im (conv.go)
	part     []float64 // per-item partial sums of reductions
	stat     []float64 // per-channel sums (norm.go)
	jobs     jobs
}

// jobs holds one value of each operation's job (pool.go): an operation
// fills its value and hands the pool a pointer to it, which allocates
// nothing.
type jobs struct {
	fill         fillJob
	copy         copyJob
	axpy         axpyJob
	actForward   actForwardJob
	actBackward  actBackwardJob
	squaredError squaredErrorJob
	sumSquares   sumSquaresJob
	adam         adamJob
	rmsprop      rmspropJob
	average      averageJob
	biasForward  biasForwardJob
	biasBackward biasBackwardJob
	bnTrain      bnTrainJob
	bnEval       bnEvalJob
	bnBackward   bnBackwardJob
	im2col       im2colJob
	col2im       col2imJob
	toBatch      toBatchJob
	fromBatch    fromBatchJob
}

var _ backend.Backend = (*Backend)(nil)

// New returns a CPU backend that runs on threads threads (at least one; the
// calling goroutine is one of them). Its matrix products run in OpenBLAS,
// loaded at run time, when the system has it, else in gonum.
func New(threads int) *Backend {
	return newBackend(threads, loadOpenBLAS())
}

// newBackend is New with the choice of matrix products made by the caller.
func newBackend(threads int, openBLAS bool) *Backend {
	if threads < 1 {
		threads = 1
	}
	p := newPool(threads)
	b := &Backend{p: p, openBLAS: openBLAS}
	// The workers hold only the pool, so b can become unreachable; stop them
	// then.
	runtime.AddCleanup(b, func(p *pool) { p.stop() }, p)
	return b
}

// data is the float32 slice t views.
func data(t backend.Tensor) []float32 {
	if t.Buf == nil {
		return nil
	}
	n := t.Len()
	return t.Buf.(Buf)[t.Off : t.Off+n : t.Off+n]
}

// Name reports "cpu", the number of threads and the library of the matrix
// products, e.g. "cpu (2 threads, OpenBLAS OpenMP)".
func (b *Backend) Name() string {
	lib := "gonum"
	if b.openBLAS {
		lib = "OpenBLAS " + openBLASKind
	}
	return fmt.Sprintf("cpu (%d threads, %s)", b.p.threads, lib)
}

// New allocates a zeroed tensor of the given shape.
func (b *Backend) New(shape ...int) backend.Tensor {
	t := backend.Tensor{Shape: append([]int(nil), shape...)}
	t.Buf = make(Buf, t.Len())
	return t
}

// Free does nothing: the garbage collector reclaims host buffers.
func (b *Backend) Free(t backend.Tensor) {}

// Upload copies src into t.
func (b *Backend) Upload(t backend.Tensor, src []float32) {
	d := data(t)
	if len(src) != len(d) {
		panic("cpu: Upload length mismatch")
	}
	copy(d, src)
}

// Download copies t into dst.
func (b *Backend) Download(dst []float32, t backend.Tensor) {
	d := data(t)
	if len(dst) != len(d) {
		panic("cpu: Download length mismatch")
	}
	copy(dst, d)
}

// Gemm computes C = alpha*op(A)*op(B) + beta*C for row-major matrices.
func (b *Backend) Gemm(transA, transB bool, m, n, k int, alpha float32, a, bm backend.Tensor, beta float32, c backend.Tensor) {
	lda, ldb := k, n
	if transA {
		lda = m
	}
	if transB {
		ldb = k
	}
	b.gemm(transA, transB, m, n, k, alpha, data(a), lda, data(bm), ldb, beta, data(c), n)
}

// gemm is the row-major Sgemm of OpenBLAS (on the backend's threads) or of
// gonum's blas32, extended to empty matrices. It is called from the calling
// goroutine only, never from the pool's workers, so that OpenBLAS's threads
// and the pool's never compete for the cores.
func (b *Backend) gemm(transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, bm []float32, ldb int, beta float32, c []float32, ldc int) {
	if m == 0 || n == 0 {
		return
	}
	if k == 0 {
		for i := 0; i < m; i++ {
			row := c[i*ldc : i*ldc+n]
			for j := range row {
				if beta == 0 {
					row[j] = 0
				} else {
					row[j] *= beta
				}
			}
		}
		return
	}
	if b.openBLAS {
		// OpenBLAS reads the slices through pointers: check their lengths
		// as gonum would.
		ra, ca, rb, cb := m, k, k, n
		if transA {
			ra, ca = k, m
		}
		if transB {
			rb, cb = n, k
		}
		if len(a) < (ra-1)*lda+ca || len(bm) < (rb-1)*ldb+cb || len(c) < (m-1)*ldc+n {
			panic("cpu: Gemm operand too short")
		}
		openBLASGemm(b.p.threads, transA, transB, m, n, k, alpha, a, lda, bm, ldb, beta, c, ldc)
		return
	}
	tA, tB := blas.NoTrans, blas.NoTrans
	if transA {
		tA = blas.Trans
	}
	if transB {
		tB = blas.Trans
	}
	blas32.Implementation().Sgemm(tA, tB, m, n, k, alpha, a, lda, bm, ldb, beta, c, ldc)
}

// Sync does nothing: every CPU operation has finished when it returns.
func (b *Backend) Sync() {}
