// Package cpu is the host backend: every backend.Backend operation computed
// on float32 slices in the Go heap.
//
// Matrix products go through gonum's blas32. Convolutions are lowered to
// matrix products with im2col (and col2im for the data gradient), one image
// of the batch at a time, spread over a fixed pool of worker goroutines, each
// with its own column buffer that grows once and is then reused, so that the
// operations allocate nothing after the first call of a given size.
// Reductions (batch-norm statistics, bias gradients, losses) accumulate in
// float64.
package cpu
