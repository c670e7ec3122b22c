package gpu

import (
	"errors"
	"fmt"

	"github.com/vaegan-go/vaegan/backend"
)

// SetRecording turns Record on (the default) or off: off, it fails with
// backend.ErrNoRecording, and a trainer runs every step op by op.
func (b *Backend) SetRecording(on bool) { b.noRecord = !on }

// Record runs f with the driver capturing (a Capturer): f's launches,
// matrix products and copies within the device are recorded into a graph,
// not run. It fails with backend.ErrNoRecording where the driver does not
// capture or SetRecording turned it off; a panic in f ends the capture and
// then goes on. Inside f, copies to and from the host, New, Free and
// scratch memory growth panic: a recording holds device work on memory that
// outlives it.
func (b *Backend) Record(f func()) (backend.Recording, error) {
	c, ok := b.d.(Capturer)
	if !ok || b.noRecord {
		return nil, backend.ErrNoRecording
	}
	if err := c.BeginCapture(); err != nil {
		if errors.Is(err, ErrNoCapture) {
			return nil, fmt.Errorf("%w: %w", backend.ErrNoRecording, err)
		}
		return nil, fmt.Errorf("gpu: Record: %w", err)
	}
	done := false
	b.recording = true
	defer func() {
		b.recording = false
		if !done { // f panicked: leave the driver out of capture
			if g, err := c.EndCapture(); err == nil {
				g.Destroy()
			}
		}
	}()
	f()
	done = true
	g, err := c.EndCapture()
	if err != nil {
		return nil, fmt.Errorf("gpu: Record: %w", err)
	}
	return &recording{b: b, g: g, moves: b.moves}, nil
}

// recording is a Backend's graph and the count of memory moves it was
// recorded at.
type recording struct {
	b     *Backend
	g     Graph
	moves int
}

// Replay queues the graph, unless memory it uses has been freed since.
func (r *recording) Replay() error {
	if r.g == nil {
		return errors.New("gpu: Replay of a freed recording")
	}
	if r.b.moves != r.moves {
		return backend.ErrStale
	}
	if err := r.g.Replay(); err != nil {
		return fmt.Errorf("gpu: Replay: %w", err)
	}
	return nil
}

// Free destroys the graph.
func (r *recording) Free() {
	if r.g != nil {
		r.g.Destroy()
		r.g = nil
	}
}
