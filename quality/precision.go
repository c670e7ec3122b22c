package quality

import (
	"math"
	"runtime"
	"sync"

	"gonum.org/v1/gonum/blas"
	"gonum.org/v1/gonum/blas/blas64"
)

// Tile sizes of the blockwise distance computation (rows × columns of one
// tile of squared distances). Variables so tests can force many small,
// ragged tiles.
var (
	prRowBlock = 256
	prColBlock = 1024
)

// prTieBand is the relative width (in units of |a|²+|b|²) of the band
// around a decision threshold inside which a squared distance from the
// expansion |a|²+|b|²−2a·b is recomputed exactly as Σ(a_j−b_j)². The
// expansion's round-off is far below this band for any practical d.
const prTieBand = 1e-10

// PrecisionRecall returns the improved precision and recall of Kynkäänniemi
// et al. (2019) with k nearest neighbours (the project uses k = 3). With
// r_k(a, S) the Euclidean distance from row a of set S to its k-th nearest
// other row of S:
//
//	precision = (1/nf) #{ f ∈ fake : ∃ r ∈ real, |f−r| ≤ r_k(r, real) },
//	recall    = (1/nr) #{ r ∈ real : ∃ f ∈ fake, |r−f| ≤ r_k(f, fake) }.
//
// Distances are computed tile by tile with gonum BLAS as |a|²+|b|²−2a·b (no
// n×n matrix is held; memory is O((nr+nf)(d+k)) plus the tiles), and are
// recomputed exactly where round-off could decide a comparison or the k
// nearest neighbours. Duplicate rows count as neighbours at distance 0. It
// panics on mismatched shapes, k < 1, nr <= k or nf <= k.
func PrecisionRecall(real []float32, nr int, fake []float32, nf int, d, k int) (precision, recall float64) {
	checkRows(real, nr, d)
	checkRows(fake, nf, d)
	if k < 1 || nr <= k || nf <= k {
		panic(errNeighbours)
	}
	r := newRowSet(real, nr, d)
	f := newRowSet(fake, nf, d)
	r.radii(k)
	f.radii(k)
	fakeIn := make([]bool, nf) // fake row inside some real ball
	realIn := make([]bool, nr) // real row inside some fake ball
	forTiles(f, r, func(i0, j0, ni, nj int, tile []float64) {
		for a := 0; a < ni; a++ {
			i := i0 + a
			fin := fakeIn[i]
			rf := f.rad2[i]
			for b, v := range tile[a*nj : (a+1)*nj] {
				j := j0 + b
				d2 := v + f.norm2[i] + r.norm2[j]
				band := prTieBand * (f.norm2[i] + r.norm2[j])
				exact := -1.0
				if !fin {
					fin = within(d2, r.rad2[j], band, &exact, f.row(i), r.row(j))
				}
				if !realIn[j] && within(d2, rf, band, &exact, f.row(i), r.row(j)) {
					realIn[j] = true
				}
			}
			fakeIn[i] = fin
		}
	})
	return share(fakeIn), share(realIn)
}

// within reports whether the squared distance d2 (from the expansion) is
// ≤ rad2, falling back to the exact distance, cached in *exact, when d2 is
// within band of rad2.
func within(d2, rad2, band float64, exact *float64, a, b []float64) bool {
	if d2 < rad2-band {
		return true
	}
	if d2 > rad2+band {
		return false
	}
	if *exact < 0 {
		*exact = sqDist(a, b)
	}
	return *exact <= rad2
}

func share(in []bool) float64 {
	c := 0
	for _, v := range in {
		if v {
			c++
		}
	}
	return float64(c) / float64(len(in))
}

func sqDist(a, b []float64) float64 {
	var s float64
	for j, v := range a {
		t := v - b[j]
		s += t * t
	}
	return s
}

// rowSet is a set of rows in float64 with their squared norms and squared
// k-NN radii.
type rowSet struct {
	x     []float64
	n, d  int
	norm2 []float64
	rad2  []float64
}

func newRowSet(x []float32, n, d int) *rowSet {
	s := &rowSet{x: toFloat64(x), n: n, d: d, norm2: make([]float64, n)}
	for i := range s.norm2 {
		row := s.row(i)
		var t float64
		for _, v := range row {
			t += v * v
		}
		s.norm2[i] = t
	}
	return s
}

func (s *rowSet) row(i int) []float64 { return s.x[i*s.d : (i+1)*s.d] }

// radii sets rad2[i] to the squared distance from row i to its k-th
// nearest other row. Candidates are ranked by the expansion; the kept
// candidates, plus any whose expanded distance ties the k-th within the
// round-off band, are then measured exactly.
func (s *rowSet) radii(k int) {
	// Per row, the k+extra best candidates (squared distance, index) kept
	// sorted ascending; extra slack absorbs round-off in the ranking.
	const extra = 2
	keep := min(k+extra, s.n-1)
	best := make([]float64, s.n*keep)
	idx := make([]int, s.n*keep)
	for i := range best {
		best[i] = inf
		idx[i] = -1
	}
	forTiles(s, s, func(i0, j0, ni, nj int, tile []float64) {
		for a := 0; a < ni; a++ {
			i := i0 + a
			bd := best[i*keep : (i+1)*keep]
			bi := idx[i*keep : (i+1)*keep]
			for b, v := range tile[a*nj : (a+1)*nj] {
				j := j0 + b
				if j == i {
					continue
				}
				d2 := v + s.norm2[i] + s.norm2[j]
				if d2 >= bd[keep-1] {
					continue
				}
				p := keep - 1
				for p > 0 && bd[p-1] > d2 {
					bd[p], bi[p] = bd[p-1], bi[p-1]
					p--
				}
				bd[p], bi[p] = d2, j
			}
		}
	})
	s.rad2 = make([]float64, s.n)
	ex := make([]float64, keep)
	for i := range s.rad2 {
		bd := best[i*keep : (i+1)*keep]
		bi := idx[i*keep : (i+1)*keep]
		for c, j := range bi {
			ex[c] = sqDist(s.row(i), s.row(j))
		}
		// k-th smallest exact distance among the candidates (keep is tiny).
		sorted := append([]float64(nil), ex...)
		insertionSort(sorted)
		s.rad2[i] = sorted[k-1]
		// If the last kept candidate is within the band of the k-th, the
		// ranking may have missed a row: fall back to an exact O(n·d) scan
		// (any row j that could be missed has |x_i|²+|x_j|² ≤
		// 3|x_i|²+2·bd[keep-1]). Not needed when k exact duplicates were
		// found: the radius is then 0 (this keeps mode-collapsed sets fast).
		if s.rad2[i] > 0 && keep < s.n-1 &&
			bd[keep-1]-bd[k-1] <= prTieBand*(3*s.norm2[i]+2*max(bd[keep-1], 0)) {
			s.rad2[i] = exactKth(s, i, k)
		}
	}
}

// inf initialises candidate lists.
const inf = math.MaxFloat64

func insertionSort(a []float64) {
	for i := 1; i < len(a); i++ {
		for j := i; j > 0 && a[j-1] > a[j]; j-- {
			a[j-1], a[j] = a[j], a[j-1]
		}
	}
}

// exactKth is the brute-force k-th smallest exact squared distance from
// row i to the other rows of s.
func exactKth(s *rowSet, i, k int) float64 {
	best := make([]float64, k)
	for c := range best {
		best[c] = inf
	}
	for j := 0; j < s.n; j++ {
		if j == i {
			continue
		}
		d2 := sqDist(s.row(i), s.row(j))
		if d2 >= best[k-1] {
			continue
		}
		p := k - 1
		for p > 0 && best[p-1] > d2 {
			best[p] = best[p-1]
			p--
		}
		best[p] = d2
	}
	return best[k-1]
}

// forTiles calls fn for every tile of −2·A·Bᵀ (A's rows i0..i0+ni by B's
// rows j0..j0+nj, row-major in tile). The BLAS products of different row
// blocks run in parallel, one goroutine per CPU; the fn calls are
// serialised by a mutex, so fn may update any state.
func forTiles(a, b *rowSet, fn func(i0, j0, ni, nj int, tile []float64)) {
	type job struct{ i0, ni int }
	jobs := make(chan job)
	var mu sync.Mutex
	var wg sync.WaitGroup
	workers := max(1, runtime.GOMAXPROCS(0))
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			tile := make([]float64, prRowBlock*prColBlock)
			for jb := range jobs {
				for j0 := 0; j0 < b.n; j0 += prColBlock {
					nj := min(prColBlock, b.n-j0)
					t := tile[:jb.ni*nj]
					blas64.Gemm(blas.NoTrans, blas.Trans, -2,
						blas64.General{Rows: jb.ni, Cols: a.d, Stride: a.d, Data: a.x[jb.i0*a.d : (jb.i0+jb.ni)*a.d]},
						blas64.General{Rows: nj, Cols: b.d, Stride: b.d, Data: b.x[j0*b.d : (j0+nj)*b.d]},
						0, blas64.General{Rows: jb.ni, Cols: nj, Stride: nj, Data: t})
					mu.Lock()
					fn(jb.i0, j0, jb.ni, nj, t)
					mu.Unlock()
				}
			}
		}()
	}
	for i0 := 0; i0 < a.n; i0 += prRowBlock {
		jobs <- job{i0, min(prRowBlock, a.n-i0)}
	}
	close(jobs)
	wg.Wait()
}
