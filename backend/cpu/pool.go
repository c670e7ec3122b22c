package cpu

import (
	"sync"

	"github.com/vaegan-go/vaegan/backend"
)

// task is one parallel operation: run is called once for every item in
// [0, n), on some worker. Its fields are the operation's arguments; run is a
// plain function, not a closure, so that starting a task allocates nothing.
type task struct {
	run     func(p *pool, worker, item int)
	n       int
	g       backend.ConvGeom
	a, b, c []float32
}

// pool is a fixed set of worker goroutines plus the calling goroutine
// (worker 0), each with its own scratch buffers.
type pool struct {
	threads int
	start   chan struct{} // one token per helper wanted for the current task
	done    sync.WaitGroup
	workers int // workers taking part in the current task
	task    task
	cols    [][]float32 // per-worker im2col buffers
	accs    [][]float32 // per-worker accumulators (weight gradients)
}

func newPool(threads int) *pool {
	p := &pool{
		threads: threads,
		start:   make(chan struct{}),
		cols:    make([][]float32, threads),
		accs:    make([][]float32, threads),
	}
	for w := 1; w < threads; w++ {
		go p.helper(w)
	}
	return p
}

// helper is worker w's loop: take a token, work on the current task.
func (p *pool) helper(w int) {
	for range p.start {
		p.work(w)
		p.done.Done()
	}
}

// stop ends the helper goroutines.
func (p *pool) stop() { close(p.start) }

// work runs worker w's share of the current task: a fixed contiguous range
// of items, so that which worker sums which items (and so every floating-point
// result) depends only on the number of threads.
func (p *pool) work(w int) {
	n := p.task.n
	for i := w * n / p.workers; i < (w+1)*n/p.workers; i++ {
		p.task.run(p, w, i)
	}
}

// do runs t over all its items and returns when they are done.
func (p *pool) do(t task) {
	p.task = t
	helpers := max(min(p.threads-1, t.n-1), 0)
	p.workers = helpers + 1
	if helpers > 0 {
		p.done.Add(helpers)
		for range helpers {
			p.start <- struct{}{}
		}
	}
	p.work(0)
	p.done.Wait()
	p.task = task{}
}

// scratch makes every worker's column buffer hold at least cols elements
// and its accumulator at least accs elements, growing them at most once per
// new maximum.
func (p *pool) scratch(cols, accs int) {
	for w := range p.threads {
		if cap(p.cols[w]) < cols {
			p.cols[w] = make([]float32, cols)
		}
		if cap(p.accs[w]) < accs {
			p.accs[w] = make([]float32, accs)
		}
	}
}
