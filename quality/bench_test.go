package quality

import (
	"math/rand/v2"
	"testing"
)

// BenchmarkPrecisionRecall10k: 10000 real × 10000 fake rows, d = 128, k = 3.
func BenchmarkPrecisionRecall10k(b *testing.B) {
	const n, d = 10000, 128
	rng := rand.New(rand.NewPCG(12, 13))
	real := randRows(rng, n, d, 0, 1)
	fake := randRows(rng, n, d, 0.05, 1.1)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		p, r := PrecisionRecall(real, n, fake, n, d, 3)
		b.ReportMetric(p, "precision")
		b.ReportMetric(r, "recall")
	}
}
