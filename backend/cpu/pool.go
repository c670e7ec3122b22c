package cpu

import "sync"

// job is the work of one parallel operation, cut into items: run does one
// item on worker w (0 is the calling goroutine). Each operation has its own
// job type with named fields, and the Backend keeps one value of each
// (Backend.jobs), so that handing a job to the pool allocates nothing.
type job interface {
	run(worker, item int)
}

// pool is a fixed set of worker goroutines plus the calling goroutine
// (worker 0).
type pool struct {
	threads int
	start   chan int // the index of each worker wanted for the current job
	done    sync.WaitGroup
	workers int // workers taking part in the current job
	job     job
	items   int
}

func newPool(threads int) *pool {
	p := &pool{threads: threads, start: make(chan int)}
	for range threads - 1 {
		go p.helper()
	}
	return p
}

// helper is a helper goroutine's loop: take a worker index, do that
// worker's share of the current job. Any helper may take any index.
func (p *pool) helper() {
	for w := range p.start {
		p.work(w)
		p.done.Done()
	}
}

// stop ends the helper goroutines.
func (p *pool) stop() { close(p.start) }

// work runs worker w's share of the current job: a fixed contiguous range
// of items, so that which worker computes which items depends only on the
// number of threads.
func (p *pool) work(w int) {
	n := p.items
	for i := w * n / p.workers; i < (w+1)*n/p.workers; i++ {
		p.job.run(w, i)
	}
}

// do runs j over items items and returns when they are done.
func (p *pool) do(items int, j job) {
	p.job, p.items = j, items
	helpers := max(min(p.threads-1, items-1), 0)
	p.workers = helpers + 1
	if helpers > 0 {
		p.done.Add(helpers)
		for w := 1; w <= helpers; w++ {
			p.start <- w
		}
	}
	p.work(0)
	p.done.Wait()
	p.job = nil
}

// chunkLen is the number of elements of one item of an elementwise job.
// Work below it runs on the calling goroutine alone: waking a helper costs
// more than it saves. It is a variable so that tests can make it small.
var chunkLen = 16384

// chunks is the number of items an elementwise job over n elements is cut
// into: a function of n alone, so that partial sums are added in the same
// order whatever the number of threads.
func chunks(n int) int { return max((n+chunkLen-1)/chunkLen, 1) }

// span is the element range [lo, hi) of item i of n elements cut into
// chunks(n) items.
func span(n, i int) (lo, hi int) {
	k := chunks(n)
	return i * n / k, (i + 1) * n / k
}
