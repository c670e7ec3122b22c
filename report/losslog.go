package report

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"strconv"
	"strings"
)

// LossLog appends one CSV row per logged training step to a file:
//
//	step,epoch,<loss names...>,images_per_sec
//
// Each row is handed to the operating system as soon as it is logged, so a
// crash of the process loses no logged row.
type LossLog struct {
	path  string
	f     *os.File
	names []string
	buf   []byte
}

// OpenLossLog opens the loss log at path for a run with the given loss
// names. A missing or empty file is created with the header. An existing file
// must have the same header; its rows from the first one with step >
// resumeStep on are dropped (they belong to the part of an interrupted run
// that is being redone), as is a final line without a newline (a torn write),
// and new rows are appended after the rest. The shortened file replaces the
// old one atomically. Pass resumeStep 0 to start a fresh log.
func OpenLossLog(path string, names []string, resumeStep int) (*LossLog, error) {
	if len(names) == 0 {
		return nil, fmt.Errorf("report: loss log %s: no loss names given", path)
	}
	for _, n := range names {
		if n == "" || strings.ContainsAny(n, ",\"\r\n") {
			return nil, fmt.Errorf("report: loss log %s: loss name %q must be non-empty and contain no comma, quote or newline", path, n)
		}
	}
	header := "step,epoch," + strings.Join(names, ",") + ",images_per_sec\n"
	old, err := os.ReadFile(path)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("report: loss log: %w", err)
	}
	if len(old) == 0 {
		if err := os.WriteFile(path, []byte(header), 0o644); err != nil {
			return nil, fmt.Errorf("report: loss log: %w", err)
		}
	} else {
		keep, err := keptRows(path, old, header, resumeStep)
		if err != nil {
			return nil, err
		}
		if keep < len(old) {
			err := writeFileAtomic(path, func(w io.Writer) error {
				_, err := w.Write(old[:keep])
				return err
			})
			if err != nil {
				return nil, err
			}
		}
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		return nil, fmt.Errorf("report: loss log: %w", err)
	}
	return &LossLog{path: path, f: f, names: names}, nil
}

// keptRows checks the header of the existing log data and returns the length
// of the prefix to keep: the header and every complete row up to the first
// row with step > resumeStep.
func keptRows(path string, data []byte, header string, resumeStep int) (int, error) {
	if !bytes.HasPrefix(data, []byte(header)) {
		line, _, _ := bytes.Cut(data, []byte("\n"))
		return 0, fmt.Errorf("report: loss log %s has header %q, want %q (a different model or loss set?)", path, line, strings.TrimSuffix(header, "\n"))
	}
	pos := len(header)
	for lineNo := 2; pos < len(data); lineNo++ {
		end := bytes.IndexByte(data[pos:], '\n')
		if end < 0 {
			break // torn final line
		}
		line := data[pos : pos+end]
		field, _, _ := bytes.Cut(line, []byte(","))
		step, err := strconv.Atoi(string(field))
		if err != nil {
			return 0, fmt.Errorf("report: loss log %s line %d: step %q is not an integer", path, lineNo, field)
		}
		if step > resumeStep {
			break
		}
		pos += end + 1
	}
	return pos, nil
}

// Log appends the row for one step. values holds one value per loss name,
// in the order given to OpenLossLog; ips is the training throughput in
// images per second.
func (l *LossLog) Log(step, epoch int, values []float64, ips float64) error {
	if len(values) != len(l.names) {
		return fmt.Errorf("report: loss log %s: got %d values for %d losses %v", l.path, len(values), len(l.names), l.names)
	}
	b := strconv.AppendInt(l.buf[:0], int64(step), 10)
	b = append(b, ',')
	b = strconv.AppendInt(b, int64(epoch), 10)
	for _, v := range values {
		b = append(b, ',')
		b = strconv.AppendFloat(b, v, 'g', 7, 64)
	}
	b = append(b, ',')
	b = strconv.AppendFloat(b, ips, 'f', 1, 64)
	b = append(b, '\n')
	l.buf = b
	if _, err := l.f.Write(b); err != nil {
		return fmt.Errorf("report: loss log: %w", err)
	}
	return nil
}

// Close closes the log file.
func (l *LossLog) Close() error {
	if err := l.f.Close(); err != nil {
		return fmt.Errorf("report: loss log: %w", err)
	}
	return nil
}
