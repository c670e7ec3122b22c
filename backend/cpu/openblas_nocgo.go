//go:build !cgo

package cpu

// Without cgo OpenBLAS cannot be loaded: every product runs on gonum.

// openBLASKind is the threading of the loaded OpenBLAS: none here.
var openBLASKind string

func loadOpenBLAS() bool { return false }

func openBLASGemm(threads int, transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	panic("cpu: OpenBLAS is not available without cgo")
}
