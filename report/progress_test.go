package report

import (
	"bytes"
	"os"
	"testing"
	"time"
)

// fakeClock returns a clock that advances by step on every call.
func fakeClock(step time.Duration) func() time.Time {
	t := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	return func() time.Time {
		now := t
		t = t.Add(step)
		return now
	}
}

func TestProgressPlain(t *testing.T) {
	var buf bytes.Buffer
	p := NewProgress(&buf, 1000)
	if p.terminal {
		t.Fatal("bytes.Buffer taken for a terminal")
	}
	p.Every = 2
	p.now = fakeClock(2 * time.Second)
	losses := []NamedValue{{"recon", 0.123456}, {"kl", 12.5}}
	// Steps 100, 200, 300, 400, 500 at t = 0, 2, 4, 6, 8 s: 50 steps/s.
	// Images/s samples 100, 200, 100, ... smooth as 100, 110, 109, 118.1, 116.29.
	for i, ips := range []float64{100, 200, 100, 200, 100} {
		p.Update(100*(i+1), i/2, losses, ips)
	}
	p.Done()
	want := "step 100/1000 [==>                     ] 10.0% | epoch 0 | recon 0.1235 kl 12.5 | 100.0 img/s | ETA --\n" +
		"step 300/1000 [=======>                ] 30.0% | epoch 1 | recon 0.1235 kl 12.5 | 109.0 img/s | ETA 14s\n" +
		"step 500/1000 [============>           ] 50.0% | epoch 2 | recon 0.1235 kl 12.5 | 116.3 img/s | ETA 10s\n"
	if got := buf.String(); got != want {
		t.Errorf("output:\n%s\nwant:\n%s", got, want)
	}

	// Done prints the last update when it was skipped, and only once.
	buf.Reset()
	p.Update(600, 3, nil, 0)
	p.Done()
	want = "step 600/1000 [==============>         ] 60.0% | epoch 3 | 116.3 img/s | ETA 8s\n"
	if got := buf.String(); got != want {
		t.Errorf("Done output %q, want %q", got, want)
	}
}

func TestProgressUnknownTotalAndTerminal(t *testing.T) {
	var buf bytes.Buffer
	p := NewProgress(&buf, 0)
	p.now = fakeClock(75 * time.Minute)
	p.terminal = true // exercise the in-place redraw on a buffer
	p.Update(1, 0, []NamedValue{{"d", 1234567}}, 0)
	p.Update(2, 0, []NamedValue{{"d", 1}}, 0)
	p.Done()
	want := "\rstep 1 | epoch 0 | d 1.235e+06 | elapsed 0s" +
		"\rstep 2 | epoch 0 | d 1 | elapsed 1h15m00s  " + // 2 spaces blank the longer line 1
		"\n"
	if got := buf.String(); got != want {
		t.Errorf("output %q, want %q", got, want)
	}
	buf.Reset()
	p.Update(3, 0, nil, 0) // shorter line: leftovers blanked with spaces
	if got, want := buf.String(), "\rstep 3 | epoch 0 | elapsed 2h30m00s      "; got != want {
		t.Errorf("output %q, want %q", got, want)
	}
}

func TestAppendDuration(t *testing.T) {
	for _, tc := range []struct {
		d    time.Duration
		want string
	}{
		{0, "0s"},
		{1499 * time.Millisecond, "1s"},
		{59*time.Second + 600*time.Millisecond, "1m00s"},
		{3*time.Minute + 7*time.Second, "3m07s"},
		{26*time.Hour + 5*time.Minute + 9*time.Second, "26h05m09s"},
	} {
		if got := string(appendDuration(nil, tc.d)); got != tc.want {
			t.Errorf("appendDuration(%v) = %q, want %q", tc.d, got, tc.want)
		}
	}
}

func TestProgressUpdateAllocs(t *testing.T) {
	var buf bytes.Buffer
	p := NewProgress(&buf, 1_000_000)
	p.Every = 1
	p.now = fakeClock(time.Second)
	losses := []NamedValue{{"recon", 0.5}, {"kl", 3}, {"adv", 0.7}}
	step := 0
	update := func() {
		step++
		buf.Reset()
		p.Update(step, 0, losses, 512)
	}
	update() // grow the buffers
	if a := testing.AllocsPerRun(100, update); a != 0 {
		t.Errorf("Update allocates %v times per call, want 0", a)
	}
}

// /dev/null is a character device but no terminal: a run writing its
// progress there prints plain lines, not carriage-return redraws.
func TestDevNullIsNotATerminal(t *testing.T) {
	f, err := os.OpenFile(os.DevNull, os.O_WRONLY, 0)
	if err != nil {
		t.Skip(err)
	}
	defer f.Close()
	if isTerminal(f) {
		t.Errorf("%s is taken for a terminal", os.DevNull)
	}
}
