package emu

import "sync"

// sgemm computes C = alpha*op(A)*op(B) + beta*C on column-major matrices as
// cuBLAS does: with beta == 0, C is written without being read (NaNs in it
// vanish); with alpha == 0 or k == 0, A and B are not read. Sums accumulate
// in float32. Columns of C are shared out among up to workers goroutines.
func sgemm(transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int, workers int) {
	column := func(j int, acc []float32) {
		cj := c[j*ldc : j*ldc+m]
		if k == 0 || alpha == 0 {
			for i := range cj {
				if beta == 0 {
					cj[i] = 0
				} else {
					cj[i] *= beta
				}
			}
			return
		}
		opB := func(p int) float32 {
			if transB {
				return b[j+p*ldb]
			}
			return b[p+j*ldb]
		}
		if transA {
			// op(A)[i,p] = A[p,i]: a dot product down column i of A.
			for i := range acc {
				ai := a[i*lda : i*lda+k]
				var s float32
				for p, v := range ai {
					s += v * opB(p)
				}
				acc[i] = s
			}
		} else {
			clear(acc)
			for p := range k {
				bp := opB(p)
				ap := a[p*lda : p*lda+m]
				for i, v := range ap {
					acc[i] += v * bp
				}
			}
		}
		for i, s := range acc {
			if beta == 0 {
				cj[i] = alpha * s
			} else {
				cj[i] = alpha*s + beta*cj[i]
			}
		}
	}
	// Split the columns into one contiguous range per goroutine, unless the
	// product is too small to be worth it.
	parts := min(workers, n)
	if m*n*k < 1<<16 {
		parts = 1
	}
	var wg sync.WaitGroup
	for w := range parts {
		lo, hi := w*n/parts, (w+1)*n/parts
		wg.Go(func() {
			acc := make([]float32, m)
			for j := lo; j < hi; j++ {
				column(j, acc)
			}
		})
	}
	wg.Wait()
}
