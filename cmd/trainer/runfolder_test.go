package main

import (
	"bytes"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/vaegan-go/vaegan/checkpoint"
	"golang.org/x/net/html"
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

// On a full disk a run stops with an error that says so, and the last good
// checkpoint stays on disk, loadable, with no temporary file beside it. The
// disk is a 60 MB tmpfs (a checkpoint of this run is 41 MB, so the second
// write cannot fit); the test is skipped, saying why, where mounting one is
// not allowed.
func TestFullDiskKeepsTheLastCheckpoint(t *testing.T) {
	dir := t.TempDir()
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size=60m", "tmpfs", dir).CombinedOutput(); err != nil {
		t.Skipf("cannot mount a small tmpfs here (needs root and CAP_SYS_ADMIN): %v %s", err, bytes.TrimSpace(out))
	}
	defer exec.Command("umount", dir).Run()
	err := run([]string{"-batch", "8", "-steps", "4", "-ckpt-every", "1", "-sample-every", "100", "-eval-every", "-1", "-out", dir})
	if err == nil || !strings.Contains(err.Error(), "no space left") {
		t.Fatalf("training onto a full disk: %v, want an error saying no space is left", err)
	}
	f, err := checkpoint.Read(filepath.Join(dir, ckptFile))
	if err != nil {
		t.Fatalf("after the disk filled, the last checkpoint does not load: %v", err)
	}
	if st, err := f.Int64("trainer.state", 2); err != nil || st[0] < 1 {
		t.Errorf("the kept checkpoint's state: %v %v, want a step of the run", st, err)
	}
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		if isTemporary(e.Name()) {
			t.Errorf("the failed write left %s", e.Name())
		}
	}
}

// pageLinks parses an HTML page and returns every src and href in it.
func pageLinks(t *testing.T, path string) []string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var links []string
	z := html.NewTokenizer(f)
	for {
		switch z.Next() {
		case html.ErrorToken:
			if z.Err() != io.EOF {
				t.Fatalf("%s: %v", path, z.Err())
			}
			return links
		case html.StartTagToken, html.SelfClosingTagToken:
			for {
				k, v, more := z.TagAttr()
				if string(k) == "src" || string(k) == "href" {
					links = append(links, string(v))
				}
				if !more {
					break
				}
			}
		}
	}
}

// The run page links the newest grids, both plots and the best checkpoint,
// every link to a file that exists; a live run's page reloads itself, a
// finished run's does not.
func TestRunPage(t *testing.T) {
	out := t.TempDir()
	if err := run([]string{"-batch", "8", "-steps", "4", "-sample-every", "2", "-eval-every", "2", "-eval-n", "20", "-out", out}); err != nil {
		t.Fatal(err)
	}
	page := filepath.Join(out, runPageFile)
	links := pageLinks(t, page)
	for _, want := range []string{"samples/sample_000004.png", "samples/recon_000004.png", lossPlot, qualityPlot, bestFile} {
		if !slices.Contains(links, want) {
			t.Errorf("the run page does not link %s (links %v)", want, links)
		}
	}
	for _, l := range links {
		if _, err := os.Stat(filepath.Join(out, l)); err != nil {
			t.Errorf("the run page links %s, which does not exist", l)
		}
	}
	body, _ := os.ReadFile(page)
	if bytes.Contains(body, []byte("http-equiv=\"refresh\"")) || !bytes.Contains(body, []byte("step 4 of 4")) {
		t.Errorf("a finished run's page reloads itself or does not say step 4 of 4")
	}
	if !bytes.Contains(body, []byte("<th>frechet</th>")) {
		t.Errorf("the run page has no quality table")
	}
}
