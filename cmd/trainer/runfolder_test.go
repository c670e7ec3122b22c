package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// A run folder is locked while a run holds it: a second run is refused,
// naming the folder and the holder's process; a lock file left by a process
// that is gone blocks nothing.
func TestRunFolderLock(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, lockFile), []byte("999999999\n"), 0o644) // left by a dead run
	held, err := lockRunFolder(dir)
	if err != nil {
		t.Fatalf("a stale lock file blocked the folder: %v", err)
	}
	err = run([]string{"-batch", "8", "-steps", "1", "-eval-every", "-1", "-out", dir})
	pid := strconv.Itoa(os.Getpid())
	if err == nil || !strings.Contains(err.Error(), "-out "+dir+" is in use") || !strings.Contains(err.Error(), pid) {
		t.Errorf("a second run on a locked folder: %v, want an error naming -out %s and process %s", err, dir, pid)
	}
	if _, err := os.Stat(filepath.Join(dir, lossCSV)); err == nil {
		t.Errorf("the refused run wrote %s into the locked folder", lossCSV)
	}
	held.Close()
	if err := run([]string{"-batch", "8", "-steps", "1", "-eval-every", "-1", "-out", dir}); err != nil {
		t.Errorf("after the lock was released: %v", err)
	}
}

// Temporary files of interrupted atomic writes are removed at the next
// start, and said so; other files stay.
func TestRemoveTemporaries(t *testing.T) {
	dir := t.TempDir()
	leftovers := []string{ckptFile + ".tmp3141592", ".losses.png.tmp27", bestFile + ".tmp1"}
	kept := []string{"notes.tmpl", "x.tmp", "my.tmp12a", ckptFile}
	for _, n := range append(leftovers, kept...) {
		os.WriteFile(filepath.Join(dir, n), []byte("0123456789"), 0o644)
	}
	var msg bytes.Buffer
	if err := removeTemporaries(dir, &msg); err != nil {
		t.Fatal(err)
	}
	for _, n := range leftovers {
		if _, err := os.Stat(filepath.Join(dir, n)); err == nil {
			t.Errorf("%s was not removed", n)
		}
	}
	for _, n := range kept {
		if _, err := os.Stat(filepath.Join(dir, n)); err != nil {
			t.Errorf("%s was removed: %v", n, err)
		}
	}
	if !strings.Contains(msg.String(), "removed 3 temporary file(s)") {
		t.Errorf("message %q, want one saying 3 files were removed", msg.String())
	}
}
