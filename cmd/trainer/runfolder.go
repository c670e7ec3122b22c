package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
)

// lockFile is the file in a run folder whose lock marks the folder in use.
const lockFile = ".lock"

// lockRunFolder takes an exclusive lock on dir for as long as the process
// holds the returned file (close it to release). The lock is the kernel's
// (flock), so a run that died leaves a lock file that blocks nothing. A folder
// locked by a live process is refused, naming the folder and that process.
func lockRunFolder(dir string) (*os.File, error) {
	f, err := os.OpenFile(filepath.Join(dir, lockFile), os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, fmt.Errorf("-out %s: %w", dir, err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		holder, _ := io.ReadAll(f)
		f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, fmt.Errorf("-out %s is in use by another trainer run (process %s): wait for it to end, or choose another -out",
				dir, strings.TrimSpace(string(holder)))
		}
		return nil, fmt.Errorf("-out %s: locking %s: %w", dir, lockFile, err)
	}
	// The process id is only for the message above: failing to write it
	// does not weaken the lock.
	if f.Truncate(0) == nil {
		f.WriteAt([]byte(strconv.Itoa(os.Getpid())+"\n"), 0)
	}
	return f, nil
}

// removeTemporaries deletes the temporary files that atomic writes
// interrupted by a crash left in dir (os.CreateTemp's "<name>.tmp<digits>",
// with or without a leading dot), and says so on w. Call it holding the
// folder's lock: a live writer's temporary file would go too.
func removeTemporaries(dir string, w io.Writer) error {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return fmt.Errorf("-out %s: %w", dir, err)
	}
	var n int
	var size int64
	for _, e := range entries {
		if !e.Type().IsRegular() || !isTemporary(e.Name()) {
			continue
		}
		if info, err := e.Info(); err == nil {
			size += info.Size()
		}
		if err := os.Remove(filepath.Join(dir, e.Name())); err != nil {
			return fmt.Errorf("removing the leftover temporary file %s: %w", filepath.Join(dir, e.Name()), err)
		}
		n++
	}
	if n > 0 {
		fmt.Fprintf(w, "removed %d temporary file(s) (%.1f MB) left in %s by an interrupted write\n", n, float64(size)/1e6, dir)
	}
	return nil
}

// isTemporary says whether name is one of os.CreateTemp's "<prefix>.tmp*"
// names: ".tmp" followed by digits only.
func isTemporary(name string) bool {
	i := strings.LastIndex(name, ".tmp")
	if i < 0 || i+4 == len(name) {
		return false
	}
	return strings.Trim(name[i+4:], "0123456789") == ""
}

// prepareRunFolder creates dir and its samples folder, locks dir, and
// removes the temporary files a killed run left in both. The returned
// function releases the lock.
func prepareRunFolder(dir string, stderr io.Writer) (unlock func(), err error) {
	if err := os.MkdirAll(filepath.Join(dir, samplesDir), 0o755); err != nil {
		return nil, err
	}
	lock, err := lockRunFolder(dir)
	if err != nil {
		return nil, err
	}
	for _, d := range []string{dir, filepath.Join(dir, samplesDir)} {
		if err := removeTemporaries(d, stderr); err != nil {
			lock.Close()
			return nil, err
		}
	}
	return func() { lock.Close() }, nil
}
