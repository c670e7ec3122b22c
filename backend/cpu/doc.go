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
// # Performance
//
// Measured on this project's machine (AMD EPYC, 2 cores, AVX-512) with 2
// threads, OpenBLAS 0.3.21 OpenMP (Debian 12). The machine is shared: other
// jobs held about one core during most measurements (load average 2.4–4),
// so the figures below are low and spread; compare only figures taken in one
// command, as the rows marked "same load" were.
//
//	go test -run XXX -bench Gemm ./backend/cpu/   (square C = A·B)
//	  n     gonum            OpenBLAS
//	  256   7–13 GFLOP/s     32–73 GFLOP/s
//	  1024  9–12 GFLOP/s     71–96 GFLOP/s  (a C program calling it: 77)
//	  2048  10–12 GFLOP/s    78–101 GFLOP/s (170–200 on a quiet machine)
//
// VAE-GAN training step (model.Trainer.Step, Adam), batch 64, 2 threads:
//
//	mnist
//	  before: gonum, per-image products    0.85–0.89 s/step, 72–75 img/s,
//	                                       400k allocations/step
//	  after, same load as before           0.23–0.25 s/step, 258–278 img/s,
//	                                       ~50 allocations/step (the model's)
//	  after, one quiet moment              0.12 s/step, 518 img/s
//	  after vs PyTorch, same load          263 vs 342 img/s (0.77×)
//	celeba64
//	  before, loaded                       69–82 s/step, 0.8 img/s
//	  after vs PyTorch, same load          2.8 vs 3.2 img/s (0.88×)
//	  before the adjoint and per-image     5.6 vs 6.0 img/s (0.93×)
//	    products, vs PyTorch, quiet        (rounds 5.9, 5.2)
//	  after, vs PyTorch, quiet, the        6.2 vs 6.0 img/s (1.03×)
//	    next run                           (rounds 6.3, 6.1)
//
// The convolutions that the adjoint and the per-image products changed,
// batch 64 (192 for the discriminator), ms per pass, medians of three runs
// alternated before/after in one command (load average 1.6; in the two
// step runs above, dec.out's three passes took 289 ms before, 62 after):
//
//	go test -run XXX -bench Conv/openblas/celeba ./backend/cpu/
//	                                     forward    data     filter
//	  dec.out 32→3 k5 s1 64×64   before   90         117      130
//	                             after    24          19       25
//	  dis.conv1 3→32 k5 s1 64×64 before   60          70       75
//	                             after    57          71       68
//
// The phase split of im2col (the discriminator's stride-2 k5 p2 layers at
// 192 images; forward and filter passes, which run im2col; ms per pass,
// medians of three runs alternated before/after per benchmark, load
// average 1.6; the data pass, whose col2im is unchanged, is left out):
//
//	go test -run XXX -bench 'Conv/openblas/celeba.dis' ./backend/cpu/
//	                                     forward         filter
//	  dis.conv2 32→128 64×64→32×32        371 → 344       437 → 423
//	  dis.conv3 128→256 32×32→16×16       633 → 514       521 → 484
//	  dis.conv4 256→256 16×16→8×8         278 → 272       273 → 272
//
// On its own (one channel after another, one thread) im2col takes 0.52×,
// 0.59× and 0.77× the time it did for those three layers; a col2im summing
// into phases was 1.1–1.2× slower than the strided one in Go (in C it is
// the faster, see below).
// The spread between runs (±15% on unchanged passes) is as large as the
// gain, which is a few percent of each pass: OpenBLAS takes most of it.
//
// The per-image products alone (after vs the adjoint without them, four
// alternated runs) change each pass by −10% to +17%, about +5% over those
// six passes; for images of 32×32 outputs they were no faster, hence the
// 4096 threshold.
//
// Later, in the celeba64 VAE-GAN step itself (batch 64, 2 threads, time
// spent in each kind of call, Go and C variants alternated step by step
// in one process, four pairs, 2026-11-25): with the C twins, col2im took
// 0.35–0.45 s per step instead of 0.83–1.08 and im2col 0.40–0.43 s instead
// of 0.70–1.22; the steps took 8.7–9.8 s instead of 9.6–11.8, of which
// OpenBLAS took 7.1–8.4 s in both. Chunks of 1 Mi column elements rather
// than 4 Mi (six alternated pairs, Go functions): col2im 0.84–1.20 s per
// step instead of 0.92–1.49, im2col 0.70–1.02 instead of 0.74–1.47, step
// medians 10.1 vs 10.3 s. In isolation (one chunk, one thread, column
// matrix in the cache) a C col2im without phases was no faster than Go's.
//
// With one thread, about half of the mnist step's CPU time is in OpenBLAS
// (≈74 GFLOP/s per core), a quarter in im2col/col2im, the rest elementwise;
// on celeba64 two thirds is OpenBLAS (≈82 GFLOP/s per core) and a fifth
// im2col/col2im. PyTorch 1.13 on a quiet machine does 380–640 img/s on mnist
// and about 6 img/s on celeba64 (shared/notes/cuda-facts.md); it runs
// Conv2d in oneDNN without im2col.
package cpu
