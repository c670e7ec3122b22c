package data

import (
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"
	"testing/synctest"
)

// indexSet is a Dataset whose image i holds i*size+j at element j, so every
// float tells which image it came from. Image yields the processor at varying
// points so that workers finish out of order.
type indexSet struct{ n, c, h, w int }

func (d indexSet) Len() int             { return d.n }
func (d indexSet) Shape() (c, h, w int) { return d.c, d.h, d.w }
func (d indexSet) Name() string         { return "indexSet" }
func (d indexSet) Image(i int, dst []float32) error {
	if err := checkImageArgs(d, i, dst); err != nil {
		return err
	}
	for j := range dst {
		if (i+j)%5 == 0 {
			runtime.Gosched()
		}
		dst[j] = float32(i*len(dst) + j)
	}
	return nil
}

// batchIndices checks that b.Data is whole images of indexSet and returns
// which images, in order.
func batchIndices(t *testing.T, b Batch, batch, size int) []int {
	t.Helper()
	if len(b.Data) != batch*size {
		t.Fatalf("batch %+v holds %d floats, want %d", b.Pos, len(b.Data), batch*size)
	}
	idx := make([]int, batch)
	for k := range batch {
		img := b.Data[k*size : (k+1)*size]
		idx[k] = int(img[0]) / size
		for j, v := range img {
			if v != float32(idx[k]*size+j) {
				t.Fatalf("batch %+v image %d element %d = %v: mixed or stale data", b.Pos, k, j, v)
			}
		}
	}
	return idx
}

// run reads count batches from a new Loader and returns their image indices.
func run(t *testing.T, ds Dataset, batch int, seed uint64, workers int, start Position, count int) ([][]int, []Position) {
	t.Helper()
	l := NewLoader(ds, batch, seed, workers, start)
	defer l.Close()
	c, h, w := ds.Shape()
	var idx [][]int
	var pos []Position
	for range count {
		want := l.Pos()
		b, err := l.Next()
		if err != nil {
			t.Fatal(err)
		}
		if b.Pos != want {
			t.Fatalf("batch at %+v, Pos said %+v", b.Pos, want)
		}
		idx = append(idx, batchIndices(t, b, batch, c*h*w))
		pos = append(pos, b.Pos)
	}
	return idx, pos
}

func TestLoaderOrder(t *testing.T) {
	ds := indexSet{n: 103, c: 1, h: 2, w: 3}
	const batch, seed, epochs = 10, 42, 3
	idx, pos := run(t, ds, batch, seed, 3, Position{}, epochs*10)
	for e := range epochs {
		perm := rand.New(rand.NewPCG(seed, uint64(e))).Perm(ds.n)
		seen := make([]bool, ds.n)
		for b := range 10 {
			k := e*10 + b
			if pos[k] != (Position{Epoch: e, Batch: b}) {
				t.Fatalf("batch %d at %+v, want epoch %d batch %d", k, pos[k], e, b)
			}
			for j, i := range idx[k] {
				if i != perm[b*batch+j] {
					t.Fatalf("epoch %d batch %d image %d is %d, want %d", e, b, j, i, perm[b*batch+j])
				}
				if seen[i] {
					t.Fatalf("epoch %d shows image %d twice", e, i)
				}
				seen[i] = true
			}
		}
		if e > 0 && fmt.Sprint(idx[e*10]) == fmt.Sprint(idx[0]) {
			t.Fatalf("epoch %d starts like epoch 0: %v", e, idx[0])
		}
	}

	same, _ := run(t, ds, batch, seed, 1, Position{}, epochs*10)
	other, _ := run(t, ds, batch, seed+1, 3, Position{}, 10)
	if fmt.Sprint(same) != fmt.Sprint(idx) {
		t.Fatal("1 worker and 3 workers gave different orders for the same seed")
	}
	if fmt.Sprint(other) == fmt.Sprint(idx[:10]) {
		t.Fatal("seeds 42 and 43 gave the same order")
	}
}

func TestLoaderResume(t *testing.T) {
	ds := indexSet{n: 57, c: 2, h: 2, w: 2}
	const batch, seed = 8, 7 // 7 batches per epoch
	full, fullPos := run(t, ds, batch, seed, 2, Position{}, 30)
	for _, start := range []Position{{0, 0}, {0, 6}, {1, 3}, {3, 0}} {
		k := start.Epoch*7 + start.Batch
		tail, tailPos := run(t, ds, batch, seed, 4, start, 30-k)
		if fmt.Sprint(tail) != fmt.Sprint(full[k:]) || fmt.Sprint(tailPos) != fmt.Sprint(fullPos[k:]) {
			t.Fatalf("starting at %+v does not reproduce the uninterrupted run from batch %d", start, k)
		}
	}
}

func TestLoaderErrors(t *testing.T) {
	ds := indexSet{n: 20, c: 1, h: 1, w: 1}
	for _, tc := range []struct {
		batch int
		start Position
		want  string
	}{
		{21, Position{}, "indexSet holds 20 images, fewer than one batch of 21"},
		{0, Position{}, "batch size 0"},
		{5, Position{0, 3}, ""},
		{5, Position{0, 5}, "epoch 0 batch 5 is outside the order of indexSet (4 batches of 5 per epoch)"},
		{5, Position{-1, 0}, "epoch -1 batch 0 is outside"},
	} {
		l := NewLoader(ds, tc.batch, 1, 2, tc.start)
		_, err := l.Next()
		l.Close()
		if tc.want == "" {
			if err != nil {
				t.Errorf("batch %d from %+v: %v", tc.batch, tc.start, err)
			}
			continue
		}
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("batch %d from %+v: error %v, want %q", tc.batch, tc.start, err, tc.want)
		}
	}
}

func TestLoaderDecodeErrorNamesFile(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.png")
	if err := os.WriteFile(bad, []byte("garbage"), 0o644); err != nil {
		t.Fatal(err)
	}
	ds, err := OpenFolder(dir, 3, 4, 4)
	if err != nil {
		t.Fatal(err)
	}
	l := NewLoader(ds, 1, 0, 2, Position{})
	defer l.Close()
	if _, err := l.Next(); err == nil || !strings.Contains(err.Error(), bad) {
		t.Fatalf("Next: error %v, want one naming %s", err, bad)
	}
}

// Close ends every goroutine whatever they are doing: synctest.Test fails if
// any goroutine started in the bubble is still blocked when it returns.
func TestLoaderCloseStopsGoroutines(t *testing.T) {
	ds := indexSet{n: 64, c: 1, h: 4, w: 4}
	for _, reads := range []int{0, 1, 5, 40} {
		synctest.Test(t, func(t *testing.T) {
			l := NewLoader(ds, 4, 3, 3, Position{})
			for range reads {
				if _, err := l.Next(); err != nil {
					t.Fatal(err)
				}
			}
			l.Close()
			l.Close()
			if _, err := l.Next(); err != errClosed {
				t.Fatalf("Next after Close: %v, want %v", err, errClosed)
			}
		})
	}
}

// After warm-up, Next allocates nothing: the batches live in the ring.
func TestLoaderNoAllocation(t *testing.T) {
	ds, err := MNIST()
	if err != nil {
		t.Fatal(err)
	}
	l := NewLoader(ds, 64, 1, 2, Position{})
	defer l.Close()
	next := func() {
		if _, err := l.Next(); err != nil {
			t.Fatal(err)
		}
	}
	for range 10 {
		next()
	}
	if a := testing.AllocsPerRun(100, next); a != 0 {
		t.Fatalf("Next allocates %v times per batch, want 0", a)
	}
}

// WithBuffers: every batch lives in memory from the allocator (a GPU
// backend's pinned memory), and holds the same images as without it.
func TestLoaderWithBuffers(t *testing.T) {
	ds, err := MNIST()
	if err != nil {
		t.Fatal(err)
	}
	var bufs [][]float32
	alloc := func(n int) []float32 {
		b := make([]float32, n+3) // longer than asked: the loader takes n
		bufs = append(bufs, b)
		return b
	}
	l := NewLoader(ds, 16, 5, 2, Position{}, WithBuffers(alloc))
	defer l.Close()
	ref := NewLoader(ds, 16, 5, 2, Position{})
	defer ref.Close()
	for range 6 {
		got, err := l.Next()
		if err != nil {
			t.Fatal(err)
		}
		want, err := ref.Next()
		if err != nil {
			t.Fatal(err)
		}
		if len(got.Data) != 16*28*28 || !slices.Equal(got.Data, want.Data) {
			t.Fatalf("batch %v differs from the loader's without WithBuffers", got.Pos)
		}
		if !slices.ContainsFunc(bufs, func(b []float32) bool { return &b[0] == &got.Data[0] }) {
			t.Fatalf("batch %v is not in the allocator's memory", got.Pos)
		}
	}
}

func TestLoaderMNISTBatch(t *testing.T) {
	ds, err := MNIST()
	if err != nil {
		t.Fatal(err)
	}
	l := NewLoader(ds, 32, 9, 2, Position{Epoch: 2, Batch: 1874})
	defer l.Close()
	b, err := l.Next()
	if err != nil {
		t.Fatal(err)
	}
	perm := rand.New(rand.NewPCG(9, 2)).Perm(60000)
	img := make([]float32, 28*28)
	for k := range 32 {
		if err := ds.Image(perm[1874*32+k], img); err != nil {
			t.Fatal(err)
		}
		for j, v := range img {
			if b.Data[k*784+j] != v {
				t.Fatalf("image %d of the last batch of epoch 2 differs at %d", k, j)
			}
		}
	}
	if p := l.Pos(); p != (Position{Epoch: 3, Batch: 0}) {
		t.Fatalf("Pos after the last batch of epoch 2 is %+v, want epoch 3 batch 0", p)
	}
}

// TestShardLoaderSplitsEachBatch checks that the 3 shards of each batch are
// its rows in rank order, from any start position, so that the shards of an
// epoch hold each of its images once.
func TestShardLoaderSplitsEachBatch(t *testing.T) {
	ds := indexSet{n: 50, c: 1, h: 2, w: 2}
	const batch, seed, steps = 12, 5, 9 // 4 batches per epoch
	whole, _ := run(t, ds, batch, seed, 2, Position{Epoch: 1, Batch: 2}, steps)
	for r := range 3 {
		l := NewShardLoader(ds, batch, Shard{r, 3}, seed, 2, Position{Epoch: 1, Batch: 2})
		for k := range steps {
			b, err := l.Next()
			if err != nil {
				t.Fatal(err)
			}
			got := batchIndices(t, b, batch/3, 4)
			if want := whole[k][r*4 : (r+1)*4]; fmt.Sprint(got) != fmt.Sprint(want) {
				t.Fatalf("shard %d of batch %d: images %v, want the batch's rows %v", r, k, got, want)
			}
		}
		l.Close()
	}
	l := NewShardLoader(ds, 10, Shard{0, 3}, seed, 1, Position{})
	if _, err := l.Next(); err == nil || !strings.Contains(err.Error(), "multiple of the size") {
		t.Fatalf("batch 10 in 3 shards: %v", err)
	}
}
