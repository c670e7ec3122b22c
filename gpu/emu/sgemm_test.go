//go:build cgo

package emu_test

import (
	"strings"
	"testing"

	"github.com/vaegan-go/vaegan/gpu"
	"github.com/vaegan-go/vaegan/gpu/emu/drivertest"
)

func TestSgemmErrors(t *testing.T) {
	d := newDriver(t, 1)
	p := drivertest.Alloc(t, d, 12)
	cases := []struct {
		name                   string
		transA, transB         bool
		m, n, k, lda, ldb, ldc int
		want                   string
	}{
		{"negative m", false, false, -1, 2, 2, 2, 2, 2, "must not be negative"},
		{"lda < m", false, false, 3, 2, 2, 2, 3, 3, "lda must be at least"},
		{"lda < k transposed", true, false, 2, 2, 3, 2, 3, 2, "lda must be at least"},
		{"ldb < n transposed", false, true, 2, 3, 2, 2, 2, 2, "ldb must be at least"},
		{"ldc < m", false, false, 3, 2, 2, 3, 2, 2, "ldc must be at least"},
		{"C too big", false, false, 4, 4, 1, 4, 1, 4, "C: 4×4 matrix"},
		{"A too big", false, false, 2, 2, 7, 2, 7, 2, "A: 2×7 matrix"},
	}
	for _, c := range cases {
		err := d.Sgemm(c.transA, c.transB, c.m, c.n, c.k, 1, p, c.lda, p, c.ldb, 0, p, c.ldc)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: error %v, want one containing %q", c.name, err, c.want)
		}
	}
	if err := d.Sgemm(false, false, 2, 2, 2, 1, gpu.DevicePtr(8), 2, p, 2, 0, p, 2); err == nil {
		t.Error("Sgemm with a stray A pointer: no error")
	}
}
