package quality

import "math"

// ClassStats summarises predicted class probabilities p(y|x_i) of n rows
// over k classes:
//
//	Shares[c] = (1/n) #{ i : argmax_y p(y|x_i) = c }   (ties: lowest class)
//	Covered   = #{ c : Shares[c] ≥ minShare }
//	Entropy   = −Σ_c Shares[c] ln Shares[c]            (nats, 0 ln 0 = 0)
//	Score     = exp( (1/n) Σ_i KL(p(y|x_i) ‖ p(y)) ),  p(y) = (1/n) Σ_i p(y|x_i),
//
// Score being the inception-score analogue (KL in nats, 0 ln 0 = 0).
type ClassStats struct {
	Shares         []float64
	Covered        int
	Entropy, Score float64
}

// Classes computes ClassStats of probs (n rows × k classes, row-major; rows
// are used as given, not renormalised). It panics on a mismatched shape or
// n < 1.
func Classes(probs []float32, n, k int, minShare float64) ClassStats {
	checkRows(probs, n, k)
	if n < 1 {
		panic(errFewRows)
	}
	p := toFloat64(probs)
	st := ClassStats{Shares: make([]float64, k)}
	marg := make([]float64, k)
	for i := 0; i < n; i++ {
		row := p[i*k : (i+1)*k]
		st.Shares[argmax(row)]++
		for c, v := range row {
			marg[c] += v
		}
	}
	for c := range marg {
		marg[c] /= float64(n)
		st.Shares[c] /= float64(n)
		if st.Shares[c] >= minShare {
			st.Covered++
		}
		if s := st.Shares[c]; s > 0 {
			st.Entropy -= s * math.Log(s)
		}
	}
	var kl float64
	for i := 0; i < n; i++ {
		for c, v := range p[i*k : (i+1)*k] {
			if v > 0 {
				kl += v * (math.Log(v) - math.Log(marg[c]))
			}
		}
	}
	st.Score = math.Exp(kl / float64(n))
	return st
}

// Agreement returns (1/n) #{ i : argmax_c probs[i*k+c] = labels[i] } with
// n = len(labels) (argmax ties: lowest class). It panics if len(probs) !=
// n*k, n == 0, or a label is ≥ k.
func Agreement(probs []float32, k int, labels []uint8) float64 {
	n := len(labels)
	checkRows(probs, n, k)
	if n == 0 {
		panic(errFewRows)
	}
	hit := 0
	for i, l := range labels {
		if int(l) >= k {
			panic(errLabel)
		}
		if argmax(probs[i*k:(i+1)*k]) == int(l) {
			hit++
		}
	}
	return float64(hit) / float64(n)
}

// argmax is the index of row's largest value, the lowest on ties.
func argmax[T float32 | float64](row []T) int {
	b := 0
	for c, v := range row {
		if v > row[b] {
			b = c
		}
	}
	return b
}
