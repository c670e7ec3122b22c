package data

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
)

// Position is a place in a Loader's order: batch Batch of epoch Epoch.
type Position struct {
	Epoch, Batch int
}

// Batch is one batch of images from a Loader.
type Batch struct {
	// Data is B*C*H*W floats, NCHW (a shard's: its B/n rows); valid until the next call to Next.
	Data []float32
	// Pos is this batch's place in the order.
	Pos Position
}

// errClosed is returned by Next after Close.
var errClosed = errors.New("data: loader closed")

// Loader decodes and shuffles batches ahead of the training step on a pool of
// goroutines, into a fixed ring of preallocated buffers.
//
// Epoch e's order is rand.New(rand.NewPCG(seed, e)).Perm(Len) (math/rand/v2):
// the identity shuffled by (*rand.Rand).Shuffle. Batch b of
// epoch e holds the images at places [b*B, (b+1)*B) of it; the last
// incomplete batch is dropped. The order does not depend on the number of
// workers. A loader of shard r of n (NewShardLoader) gives rows
// [r*B/n, (r+1)*B/n) of each batch, so that the n shards of an epoch are
// its batches, each image once.
//
// Next, Pos and Close are called from one goroutine.
type Loader struct {
	ds       Dataset
	batch    int // images of a whole batch
	shard    Shard
	seed     uint64
	start    Position
	perEpoch int // batches per epoch
	err      error
	alloc    func(n int) []float32 // the batch buffers' memory (WithBuffers)

	slots []slot
	free  chan int // slots the producer may fill, in ring order
	jobs  chan int // filled-in slots for the workers to decode
	quit  chan struct{}
	wg    sync.WaitGroup
	once  sync.Once

	next int // batches Next has returned
	held int // slot the caller holds, or -1
}

// slot is one batch buffer of the ring.
type slot struct {
	idx   []int
	data  []float32
	pos   Position
	err   error
	ready chan struct{} // receives once the workers have filled data
}

// NewLoader starts a Loader giving batches of batch images of ds, in the
// order of seed, from position start, decoded by workers goroutines (at
// least 1). A dataset smaller than one batch, or a start outside the order,
// is an error that Next returns.
func NewLoader(ds Dataset, batch int, seed uint64, workers int, start Position, opts ...Option) *Loader {
	return NewShardLoader(ds, batch, Shard{0, 1}, seed, workers, start, opts...)
}

// Option configures a Loader.
type Option func(*Loader)

// WithBuffers makes the Loader take its batch buffers from alloc (n floats
// each) instead of the Go heap: a GPU backend's pinned host memory
// (backend.HostAllocator), from which a batch is uploaded without a copy.
func WithBuffers(alloc func(n int) []float32) Option {
	return func(l *Loader) { l.alloc = alloc }
}

// Shard is rank Rank's part of each batch when Size ranks share it.
type Shard struct{ Rank, Size int }

// NewShardLoader is NewLoader giving shard's rows of each batch of batch
// images (batch a multiple of shard.Size).
func NewShardLoader(ds Dataset, batch int, shard Shard, seed uint64, workers int, start Position, opts ...Option) *Loader {
	l := &Loader{ds: ds, batch: batch, shard: shard, seed: seed, start: start, held: -1,
		alloc: func(n int) []float32 { return make([]float32, n) }}
	for _, o := range opts {
		o(l)
	}
	switch {
	case batch < 1:
		l.err = fmt.Errorf("data: batch size %d, want at least 1", batch)
		return l
	case shard.Size < 1 || shard.Rank < 0 || shard.Rank >= shard.Size || batch%shard.Size != 0:
		l.err = fmt.Errorf("data: shard %d of %d of batches of %d: want 0 ≤ rank < size and the batch a multiple of the size", shard.Rank, shard.Size, batch)
		return l
	case ds.Len() < batch:
		l.err = fmt.Errorf("data: %s holds %d images, fewer than one batch of %d", ds.Name(), ds.Len(), batch)
		return l
	}
	l.perEpoch = ds.Len() / batch
	if start.Epoch < 0 || start.Batch < 0 || start.Batch >= l.perEpoch {
		l.err = fmt.Errorf("data: start position epoch %d batch %d is outside the order of %s (%d batches of %d per epoch)",
			start.Epoch, start.Batch, ds.Name(), l.perEpoch, batch)
		return l
	}
	workers = max(workers, 1)
	c, h, w := ds.Shape()
	n := workers + 2 // one held by the caller, the rest decoding or ready
	rows := batch / shard.Size
	l.slots = make([]slot, n)
	l.free = make(chan int, n)
	l.jobs = make(chan int, n)
	l.quit = make(chan struct{})
	for i := range l.slots {
		l.slots[i] = slot{
			idx:   make([]int, rows),
			data:  l.alloc(rows * c * h * w)[:rows*c*h*w],
			ready: make(chan struct{}, 1),
		}
		l.free <- i
	}
	l.wg.Add(1 + workers)
	go l.produce()
	for range workers {
		go l.work(c * h * w)
	}
	return l
}

// posAt is the position of the k-th batch from the start.
func (l *Loader) posAt(k int) Position {
	b := l.start.Batch + k
	return Position{Epoch: l.start.Epoch + b/l.perEpoch, Batch: b % l.perEpoch}
}

// produce hands out slots in ring order, each filled with its batch's indices.
func (l *Loader) produce() {
	defer l.wg.Done()
	defer close(l.jobs)
	perm := make([]int, l.ds.Len())
	pcg := rand.NewPCG(0, 0)
	r := rand.New(pcg)
	epoch := -1
	for k := 0; ; k++ {
		var s int
		select {
		case s = <-l.free:
		case <-l.quit:
			return
		}
		pos := l.posAt(k)
		if pos.Epoch != epoch {
			epoch = pos.Epoch
			pcg.Seed(l.seed, uint64(epoch))
			for i := range perm {
				perm[i] = i
			}
			r.Shuffle(len(perm), func(i, j int) { perm[i], perm[j] = perm[j], perm[i] })
		}
		copy(l.slots[s].idx, perm[pos.Batch*l.batch+l.shard.Rank*len(l.slots[s].idx):])
		l.slots[s].pos = pos
		select {
		case l.jobs <- s:
		case <-l.quit:
			return
		}
	}
}

// work decodes the images of each slot it receives.
func (l *Loader) work(size int) {
	defer l.wg.Done()
	for s := range l.jobs {
		sl := &l.slots[s]
		sl.err = nil
		for j, i := range sl.idx {
			select {
			case <-l.quit:
				return
			default:
			}
			if err := l.ds.Image(i, sl.data[j*size:(j+1)*size]); err != nil {
				sl.err = err
				break
			}
		}
		sl.ready <- struct{}{}
	}
}

// Next returns the next batch, waiting for it if it is not decoded yet. The
// previous batch's Data may be overwritten from now on.
func (l *Loader) Next() (Batch, error) {
	if l.err != nil {
		return Batch{}, l.err
	}
	select {
	case <-l.quit:
		return Batch{}, errClosed
	default:
	}
	if l.held >= 0 {
		l.free <- l.held
		l.held = -1
	}
	s := l.next % len(l.slots)
	select {
	case <-l.slots[s].ready:
	case <-l.quit:
		return Batch{}, errClosed
	}
	l.held = s
	l.next++
	sl := &l.slots[s]
	if sl.err != nil {
		return Batch{Pos: sl.pos}, sl.err
	}
	return Batch{Data: sl.data, Pos: sl.pos}, nil
}

// Pos is the position of the batch Next returns next.
func (l *Loader) Pos() Position {
	if l.err != nil {
		return l.start
	}
	return l.posAt(l.next)
}

// Close stops the goroutines and waits for them to end. Next then fails.
func (l *Loader) Close() {
	l.once.Do(func() {
		if l.quit != nil {
			close(l.quit)
			l.wg.Wait()
		}
	})
}
