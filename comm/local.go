package comm

import (
	"fmt"
	"sync"
	"time"
)

// Local returns the n ranks of a group whose ranks are goroutines of this
// process: rank r is Local(n)[r]. A collective sums (or copies) in rank
// order, so its result does not depend on which rank arrives first. A rank
// that waits longer than timeout for the others gets an error naming the
// ranks that did not arrive, and the group is broken from then on.
func Local(n int, timeout time.Duration) []Comm {
	g := &localGroup{n: n, timeout: timeout, arrived: make([]*localCall, n), done: make(chan struct{})}
	ranks := make([]Comm, n)
	for r := range ranks {
		ranks[r] = &localRank{g: g, rank: r}
	}
	return ranks
}

// localGroup is the state the ranks of Local share: the collective under way.
type localGroup struct {
	n       int
	timeout time.Duration

	mu      sync.Mutex
	arrived []*localCall  // each rank's call to the collective under way, nil until it arrives
	count   int           // ranks arrived
	done    chan struct{} // closed when the collective under way completes
	err     error         // set when the group broke
}

// localCall is one rank's side of a collective.
type localCall struct {
	op     string
	floats []float32
	bytes  []byte
	root   int
	err    error
}

type localRank struct {
	g    *localGroup
	rank int
}

func (l *localRank) Rank() int { return l.rank }
func (l *localRank) Size() int { return l.g.n }

func (l *localRank) AllReduce(buf []float32) error {
	return l.g.call(l.rank, &localCall{op: "all-reduce", floats: buf})
}

func (l *localRank) Broadcast(buf []byte, root int) error {
	return l.g.call(l.rank, &localCall{op: "broadcast", bytes: buf, root: root})
}

func (l *localRank) Barrier() error { return l.g.call(l.rank, &localCall{op: "barrier"}) }

// Abort ends the whole process, every rank of the group with it.
func (l *localRank) Abort(code int, msg string) { exit(code, msg) }

// Close does nothing: the group lives as long as its ranks.
func (l *localRank) Close() error { return nil }

// call adds rank's side of a collective; the last rank to arrive carries it
// out for all.
func (g *localGroup) call(rank int, c *localCall) error {
	g.mu.Lock()
	if g.err != nil {
		g.mu.Unlock()
		return g.err
	}
	if g.arrived[rank] != nil {
		g.mu.Unlock()
		panic(fmt.Sprintf("comm: rank %d entered a collective twice", rank))
	}
	g.arrived[rank] = c
	g.count++
	done := g.done
	if g.count == g.n {
		g.complete()
		g.mu.Unlock()
		return c.err
	}
	g.mu.Unlock()
	timer := time.NewTimer(g.timeout)
	defer timer.Stop()
	select {
	case <-done:
		return c.err
	case <-timer.C:
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	select {
	case <-done: // completed while the lock was taken
		return c.err
	default:
	}
	var missing []int
	for r, a := range g.arrived {
		if a == nil {
			missing = append(missing, r)
		}
	}
	g.err = fmt.Errorf("comm: rank %d waited %v in a %s for rank(s) %v, which did not arrive", rank, g.timeout, c.op, missing)
	return g.err
}

// complete carries out the collective every rank has now joined, with g.mu
// held, and opens the next one.
func (g *localGroup) complete() {
	calls := g.arrived
	first := calls[0]
	var err error
	for r, c := range calls {
		if c.op != first.op || len(c.floats) != len(first.floats) || len(c.bytes) != len(first.bytes) || c.root != first.root {
			err = fmt.Errorf("comm: ranks disagree on the collective: rank 0 called %s of %d values from root %d, rank %d %s of %d from root %d",
				first.op, len(first.floats)+len(first.bytes), first.root, r, c.op, len(c.floats)+len(c.bytes), c.root)
			break
		}
	}
	switch {
	case err != nil:
		g.err = err
	case first.op == "all-reduce":
		sum := make([]float32, len(first.floats))
		for _, c := range calls {
			for i, v := range c.floats {
				sum[i] += v
			}
		}
		for _, c := range calls {
			copy(c.floats, sum)
		}
	case first.op == "broadcast":
		if first.root < 0 || first.root >= g.n {
			err = fmt.Errorf("comm: broadcast from rank %d in a group of %d", first.root, g.n)
			break
		}
		for _, c := range calls {
			copy(c.bytes, calls[first.root].bytes)
		}
	}
	for _, c := range calls {
		c.err = err
	}
	g.arrived = make([]*localCall, g.n)
	g.count = 0
	close(g.done)
	g.done = make(chan struct{})
}
