package report

import (
	"io"
	"math"
	"os"
	"strconv"
	"time"

	"golang.org/x/term"
)

// NamedValue is one named number shown on the progress line, e.g. a loss.
type NamedValue struct {
	Name  string
	Value float64
}

// progressBarWidth is the number of characters inside the progress bar.
const progressBarWidth = 24

// ipsSmoothing is the weight of the newest sample in the exponential moving
// average of images per second.
const ipsSmoothing = 0.1

// Progress shows training progress as one line,
//
//	step 1200/5000 [=====>      ] 24.0% | epoch 3 | recon 0.1234 kl 12.34 | 512.3 img/s | ETA 3m12s
//
// (without total, the bar and percentage are left out and "elapsed" replaces
// ETA). On a terminal the line is redrawn in place with a carriage return on
// every Update; on any other writer a plain line is printed every Every
// updates. The ETA extrapolates the average step rate since the first Update;
// images per second is smoothed with an exponential moving average. Update
// allocates nothing once its buffer has grown. Progress is not safe for
// concurrent use.
type Progress struct {
	// Every is how many updates apart plain (non-terminal) lines are
	// printed; values below 1 mean every update.
	Every int

	w        io.Writer
	total    int
	terminal bool
	now      func() time.Time

	updates   int
	start     time.Time
	startStep int
	ips       float64
	printed   bool // whether the latest update has been written
	lastLen   int  // length of the last terminal line, to blank leftovers
	line      []byte
	out       []byte
}

// NewProgress returns a Progress writing to w for a run of total steps
// (total <= 0: unknown). It redraws in place when w is a terminal, and
// prints a line every 100 updates otherwise.
func NewProgress(w io.Writer, total int) *Progress {
	return &Progress{Every: 100, w: w, total: total, terminal: isTerminal(w), now: time.Now}
}

// isTerminal reports whether w is a terminal (golang.org/x/term asks the
// terminal driver, so /dev/null, a character device too, is not one).
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

// Update records that step (of epoch) has finished with the given losses
// and throughput (imagesPerSec <= 0 or non-finite is ignored), and redraws
// or prints the line. Write errors are ignored: progress display must not
// stop training.
func (p *Progress) Update(step, epoch int, losses []NamedValue, imagesPerSec float64) {
	t := p.now()
	if p.updates == 0 {
		p.start, p.startStep = t, step
	}
	p.updates++
	if imagesPerSec > 0 && !math.IsInf(imagesPerSec, 0) {
		if p.ips == 0 {
			p.ips = imagesPerSec
		} else {
			p.ips += ipsSmoothing * (imagesPerSec - p.ips)
		}
	}
	p.format(step, epoch, losses, t.Sub(p.start))
	p.printed = false
	if p.terminal || p.Every <= 1 || p.updates%p.Every == 1 {
		p.emit()
	}
}

// Done prints the latest line if it has not been printed yet and ends it
// with a newline, so that later output starts on a fresh line.
func (p *Progress) Done() {
	if p.updates == 0 {
		return
	}
	if !p.printed {
		p.emit()
	}
	if p.terminal {
		p.w.Write([]byte{'\n'})
	}
}

// Note prints msg on a line of its own (on a terminal, over the progress
// line, which the next Update redraws below it).
func (p *Progress) Note(msg string) {
	b := p.out[:0]
	if p.terminal {
		b = append(b, '\r')
		b = append(b, msg...)
		for i := len(msg); i < p.lastLen; i++ {
			b = append(b, ' ')
		}
		p.lastLen = 0
	} else {
		b = append(b, msg...)
	}
	b = append(b, '\n')
	p.out = b
	p.w.Write(b)
}

// emit writes the formatted line: in place on a terminal, else as a line.
func (p *Progress) emit() {
	b := p.out[:0]
	if p.terminal {
		b = append(b, '\r')
		b = append(b, p.line...)
		for i := len(p.line); i < p.lastLen; i++ {
			b = append(b, ' ')
		}
		p.lastLen = len(p.line)
	} else {
		b = append(b, p.line...)
		b = append(b, '\n')
	}
	p.out = b
	p.w.Write(b)
	p.printed = true
}

// format builds the progress line into p.line.
func (p *Progress) format(step, epoch int, losses []NamedValue, elapsed time.Duration) {
	b := append(p.line[:0], "step "...)
	b = strconv.AppendInt(b, int64(step), 10)
	if p.total > 0 {
		b = append(b, '/')
		b = strconv.AppendInt(b, int64(p.total), 10)
		frac := min(max(float64(step)/float64(p.total), 0), 1)
		filled := int(frac * progressBarWidth)
		b = append(b, " ["...)
		for i := range progressBarWidth {
			switch {
			case i < filled:
				b = append(b, '=')
			case i == filled:
				b = append(b, '>')
			default:
				b = append(b, ' ')
			}
		}
		b = append(b, "] "...)
		b = strconv.AppendFloat(b, 100*frac, 'f', 1, 64)
		b = append(b, '%')
	}
	b = append(b, " | epoch "...)
	b = strconv.AppendInt(b, int64(epoch), 10)
	if len(losses) > 0 {
		b = append(b, " |"...)
		for _, l := range losses {
			b = append(b, ' ')
			b = append(b, l.Name...)
			b = append(b, ' ')
			b = strconv.AppendFloat(b, l.Value, 'g', 4, 64)
		}
	}
	if p.ips > 0 {
		b = append(b, " | "...)
		b = strconv.AppendFloat(b, p.ips, 'f', 1, 64)
		b = append(b, " img/s"...)
	}
	if p.total > 0 {
		b = append(b, " | ETA "...)
		done := step - p.startStep
		if done > 0 && step < p.total {
			left := time.Duration(float64(elapsed) / float64(done) * float64(p.total-step))
			b = appendDuration(b, left)
		} else if step >= p.total {
			b = append(b, "0s"...)
		} else {
			b = append(b, "--"...)
		}
	} else {
		b = append(b, " | elapsed "...)
		b = appendDuration(b, elapsed)
	}
	p.line = b
}

// appendDuration appends d rounded to whole seconds as e.g. "45s", "3m07s"
// or "2h05m09s".
func appendDuration(b []byte, d time.Duration) []byte {
	s := int64(d.Round(time.Second) / time.Second)
	h, m := s/3600, s/60%60
	s %= 60
	two := func(b []byte, v int64) []byte {
		if v < 10 {
			b = append(b, '0')
		}
		return strconv.AppendInt(b, v, 10)
	}
	switch {
	case h > 0:
		b = strconv.AppendInt(b, h, 10)
		b = append(b, 'h')
		b = two(b, m)
		b = append(b, 'm')
		b = two(b, s)
	case m > 0:
		b = strconv.AppendInt(b, m, 10)
		b = append(b, 'm')
		b = two(b, s)
	default:
		b = strconv.AppendInt(b, s, 10)
	}
	return append(b, 's')
}
