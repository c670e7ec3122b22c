//go:build cgo

package cpu

/*
#cgo LDFLAGS: -ldl
#include <dlfcn.h>
#include <stddef.h>

typedef void (*sgemm_fn)(int order, int transA, int transB, int m, int n, int k,
	float alpha, const float *a, int lda, const float *b, int ldb,
	float beta, float *c, int ldc);
typedef void (*threads_fn)(int n);
typedef int (*parallel_fn)(void);

static sgemm_fn ob_sgemm;
static threads_fn ob_threads;
static parallel_fn ob_parallel;

// ob_open loads the named library and looks up OpenBLAS's symbols in it. It
// returns 1 when all of cblas_sgemm, openblas_set_num_threads and
// openblas_get_parallel are there (libblas.so.3 may be another BLAS).
static int ob_open(const char *name) {
	void *h = dlopen(name, RTLD_NOW | RTLD_LOCAL);
	if (h == NULL) {
		return 0;
	}
	sgemm_fn s = (sgemm_fn)dlsym(h, "cblas_sgemm");
	threads_fn t = (threads_fn)dlsym(h, "openblas_set_num_threads");
	parallel_fn p = (parallel_fn)dlsym(h, "openblas_get_parallel");
	if (s == NULL || t == NULL || p == NULL) {
		dlclose(h);
		return 0;
	}
	ob_sgemm = s;
	ob_threads = t;
	ob_parallel = p;
	return 1;
}

// ob_gemm is a row-major cblas_sgemm on the given number of threads. The
// thread count is set on every call: the OpenMP build keeps it per calling
// OS thread, and Go may run the caller on any of them.
static void ob_gemm(int threads, int transA, int transB, int m, int n, int k,
		float alpha, const float *a, int lda, const float *b, int ldb,
		float beta, float *c, int ldc) {
	ob_threads(threads);
	ob_sgemm(101, transA ? 112 : 111, transB ? 112 : 111, m, n, k,
		alpha, a, lda, b, ldb, beta, c, ldc);
}

static int ob_get_parallel(void) { return ob_parallel(); }

// ob_load tries libopenblas.so.0, then libblas.so.3 (Debian's alternatives
// may point it at OpenBLAS), and returns 1 or 2 for the one loaded, 0 for
// neither.
static int ob_load(void) {
	if (ob_open("libopenblas.so.0")) {
		return 1;
	}
	if (ob_open("libblas.so.3")) {
		return 2;
	}
	return 0;
}
*/
import "C"

import "sync"

// The OpenBLAS library, loaded once at the first New: openBLASName is the
// file it came from and openBLASKind its threading ("OpenMP", "pthreads" or
// "serial"); both are empty when no OpenBLAS was found.
var (
	openBLASOnce sync.Once
	openBLASName string
	openBLASKind string
)

// loadOpenBLAS looks for OpenBLAS, first as libopenblas.so.0, then as
// libblas.so.3, and reports whether it was found.
func loadOpenBLAS() bool {
	openBLASOnce.Do(func() {
		lib := int(C.ob_load())
		if lib == 0 {
			return
		}
		openBLASName = [...]string{"", "libopenblas.so.0", "libblas.so.3"}[lib]
		openBLASKind = [...]string{"serial", "pthreads", "OpenMP"}[min(max(int(C.ob_get_parallel()), 0), 2)]
	})
	return openBLASName != ""
}

// openBLASGemm is the row-major C = alpha*op(A)*op(B) + beta*C of OpenBLAS
// on the given number of threads; the slices are non-empty and long enough.
func openBLASGemm(threads int, transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	C.ob_gemm(C.int(threads), cbool(transA), cbool(transB), C.int(m), C.int(n), C.int(k),
		C.float(alpha), (*C.float)(&a[0]), C.int(lda), (*C.float)(&b[0]), C.int(ldb),
		C.float(beta), (*C.float)(&c[0]), C.int(ldc))
}

func cbool(v bool) C.int {
	if v {
		return 1
	}
	return 0
}
