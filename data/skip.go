package data

import (
	"fmt"
	"sync"
)

// SkipBad wraps ds so that an image that fails to load is replaced by the
// next one in file order that loads (wrapping round), for datasets such as
// scraped folders where a few corrupt files are expected. onSkip is told of
// each failing image once, with its error (which names the file); it may be
// called from several goroutines at once. Which image replaces a bad one
// depends only on the files, so a run stays reproducible. Image fails only
// when no image of ds loads.
func SkipBad(ds Dataset, onSkip func(i int, err error)) Dataset {
	return &skipBad{Dataset: ds, onSkip: onSkip, bad: map[int]bool{}}
}

type skipBad struct {
	Dataset
	onSkip func(i int, err error)
	mu     sync.Mutex
	bad    map[int]bool // images known not to load
}

// Image writes the first image at or after i that loads into dst.
func (d *skipBad) Image(i int, dst []float32) error {
	if err := checkImageArgs(d, i, dst); err != nil {
		return err
	}
	n := d.Len()
	for k := range n {
		j := (i + k) % n
		d.mu.Lock()
		known := d.bad[j]
		d.mu.Unlock()
		if known {
			continue
		}
		err := d.Dataset.Image(j, dst)
		if err == nil {
			return nil
		}
		d.mu.Lock()
		first := !d.bad[j]
		d.bad[j] = true
		d.mu.Unlock()
		if first {
			d.onSkip(j, err)
		}
	}
	return fmt.Errorf("data: %s: none of its %d images loads", d.Name(), n)
}
