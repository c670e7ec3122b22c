//go:build cgo

package emu

import (
	"errors"
	"fmt"

	"github.com/vaegan-go/vaegan/gpu"
)

// graph is a recorded sequence of operations (gpu.Capturer).
type graph struct {
	d       *Driver
	ops     []recorded
	err     error // the first call that spoilt the capture
	dropped bool  // Destroy was called
}

// recorded is one operation of a graph: its check, run again at each
// replay, and its work.
type recorded struct {
	op    string
	check func() error
	run   func()
}

// BeginCapture starts recording Launch, Sgemm and CopyDtoD calls.
func (d *Driver) BeginCapture() error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if err := d.open("BeginCapture"); err != nil {
		return err
	}
	if d.capture != nil {
		return errors.New("emu: BeginCapture while capturing")
	}
	d.capture = &graph{d: d}
	return nil
}

// EndCapture stops recording and returns the graph, or the error of the
// call that spoilt the capture.
func (d *Driver) EndCapture() (gpu.Graph, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	g := d.capture
	if g == nil {
		return nil, errors.New("emu: EndCapture without BeginCapture")
	}
	d.capture = nil
	if g.err != nil {
		return nil, fmt.Errorf("emu: the capture failed: %w", g.err)
	}
	if err := d.open("EndCapture"); err != nil {
		return nil, err
	}
	return g, nil
}

// Replay checks and runs the recorded operations in order; the first that
// fails its check (memory freed since the capture) ends the replay.
func (g *graph) Replay() error {
	d := g.d
	d.mu.Lock()
	defer d.mu.Unlock()
	switch {
	case g.dropped:
		return errors.New("emu: Replay of a destroyed graph")
	case d.capture != nil:
		return errors.New("emu: Replay while capturing")
	}
	for i, r := range g.ops {
		if err := d.open("Replay"); err != nil {
			return err
		}
		if err := r.check(); err != nil {
			return fmt.Errorf("emu: Replay: operation %d of %d (%s): %w", i+1, len(g.ops), r.op, err)
		}
		if err := d.exec(r.run); err != nil {
			return fmt.Errorf("emu: Replay: operation %d of %d: %w", i+1, len(g.ops), err)
		}
	}
	return nil
}

// Destroy releases the graph; it cannot be replayed after.
func (g *graph) Destroy() error {
	g.d.mu.Lock()
	defer g.d.mu.Unlock()
	if g.dropped {
		return errors.New("emu: Destroy of a destroyed graph")
	}
	g.dropped, g.ops = true, nil
	return nil
}
