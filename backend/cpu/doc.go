// Package cpu is the host backend: every backend.Backend operation computed
// on float32 slices in the Go heap.
//
// # Matrix products
//
// Products run in OpenBLAS when the system has it: New loads
// libopenblas.so.0 (or libblas.so.3 when Debian's alternatives point it at
// OpenBLAS) with dlopen at run time and calls its cblas_sgemm, setting
// OpenBLAS's thread count to the backend's on every call. Without the
// library, or in a build without cgo, they run in gonum's pure-Go blas32
// (which spreads large products over GOMAXPROCS goroutines); Name says which
// is in use. On Debian, `apt-get install libopenblas0-openmp` provides the
// library; its OpenMP build is the one to use (the pthreads build's threads
// spin and compete with the pool's).
//
// # Convolutions
//
// Convolutions are lowered to matrix products over chunks of images:
// im2col turns a chunk into a column matrix [C·R·R, images·OH·OW] (col2im
// folds it back for the data gradient). im2col first splits each input
// plane's zero-padded columns by their residue modulo the stride (two
// phases for stride 2), so that every row of the column matrix is a run of
// plain copies, with no strided reads or bounds tests per element. With
// cgo, im2col and col2im of each plane run as C twins of the Go functions
// (im2col_cgo.go), compiled at -O3 so that their row copies and row sums are
// vector instructions; col2im's twin sums into the phases, where every row
// of the column matrix lands on a contiguous run. The twins give bitwise the
// Go functions' results (same terms, same order), which stay as the build
// without cgo's. Chunks hold as many images as fit in 1 Mi column elements
// (4 MiB): the product writes the column matrix and col2im reads it back
// while it is still in the cache. Where an image has
// 4096 or more output pixels, each image of the chunk gets a product of its
// own that reads and writes its NCHW block in place; below that, the
// chunk's one product works in a [K, images·OH·OW] layout that is permuted
// to and from NCHW. Stride-1 convolutions with fewer output than input
// channels (celeba64's dec.out, 32→3) run as the passes of their adjoint, a
// convolution from the output back to the input with the kernel turned by
// 180°: its column matrix has K·R·R rows instead of C·R·R (75 instead of
// 800) and its products have C rows instead of K, which OpenBLAS runs
// several times faster. Products are started from the calling goroutine
// only; the pool's workers do im2col, col2im and the permutes in between,
// so OpenBLAS's threads and the pool's never run at once.
//
// # Parallel work and determinism
//
// Everything else (activations, bias, batch norm, Adam, RMSProp, the
// squared-error loss, fills and copies) runs on a fixed pool of worker
// goroutines, with a static partition of the work: elementwise operations
// in chunks of 16384 elements, per-channel ones in blocks of channels.
// Reductions accumulate in float64 in a fixed order (per channel: over the
// batch, then the positions; across chunks: in chunk order), so the results
// do not depend on how the work is split, and are bitwise the same from run
// to run for a given number of threads (OpenBLAS's products depend on its
// thread count). After the first call at a given size, no operation
// allocates.
//
// # Use
//
//	b := cpu.New(runtime.NumCPU())  // or cpu.New(1) for one thread
//	x := b.New(64, 1, 28, 28)
//	b.Upload(x, pixels)
//
// The measurements behind these choices (GEMM rates, the convolution
// lowering's variants, the step against PyTorch) are in docs/cpu-backend.md.
package cpu
