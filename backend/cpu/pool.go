package cpu

import (
	"sync"

	"github.com/vaegan-go/vaegan/backend"
)

// task is one parallel operation: run is called once for every item in
// [0, n), on some worker. Its fields are the operation's arguments; run is a
// plain function, not a closure, so that starting a task allocates nothing.
type task struct {
	run        func(t *task, worker, item int)
	n          int
	g          backend.ConvGeom
	a, b, c, d []float32
	q          [6][]float32 // per-channel arguments
	e          []float64    // partial sums
	f          [6]float32   // scalar arguments
	i          [4]int       // integer arguments
}

// pool is a fixed set of worker goroutines plus the calling goroutine
// (worker 0).
type pool struct {
	threads int
	start   chan int // the index of each worker wanted for the current task
	done    sync.WaitGroup
	workers int // workers taking part in the current task
	task    task
}

func newPool(threads int) *pool {
	p := &pool{threads: threads, start: make(chan int)}
	for range threads - 1 {
		go p.helper()
	}
	return p
}

// helper is a helper goroutine's loop: take a worker index, do that
// worker's share of the current task. Any helper may take any index.
func (p *pool) helper() {
	for w := range p.start {
		p.work(w)
		p.done.Done()
	}
}

// stop ends the helper goroutines.
func (p *pool) stop() { close(p.start) }

// work runs worker w's share of the current task: a fixed contiguous range
// of items, so that which worker computes which items depends only on the
// number of threads.
func (p *pool) work(w int) {
	n := p.task.n
	for i := w * n / p.workers; i < (w+1)*n/p.workers; i++ {
		p.task.run(&p.task, w, i)
	}
}

// do runs t over all its items and returns when they are done.
func (p *pool) do(t task) {
	p.task = t
	helpers := max(min(p.threads-1, t.n-1), 0)
	p.workers = helpers + 1
	if helpers > 0 {
		p.done.Add(helpers)
		for w := 1; w <= helpers; w++ {
			p.start <- w
		}
	}
	p.work(0)
	p.done.Wait()
	p.task = task{}
}

// chunkLen is the number of elements of one item of an elementwise task.
// Work below it runs on the calling goroutine alone: waking a helper costs
// more than it saves. It is a variable so that tests can make it small.
var chunkLen = 16384

// chunks is the number of items an elementwise task over n elements is cut
// into: a function of n alone, so that partial sums are added in the same
// order whatever the number of threads.
func chunks(n int) int { return max((n+chunkLen-1)/chunkLen, 1) }

// span is the element range [lo, hi) of item i of n elements cut into
// chunks(n) items.
func span(n, i int) (lo, hi int) {
	k := chunks(n)
	return i * n / k, (i + 1) * n / k
}
