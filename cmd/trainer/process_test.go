package main

import (
	"bytes"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/vaegan-go/vaegan/checkpoint"
)

// trainerArgsEnv makes the test binary run as the trainer: the variable
// holds its arguments, separated by newlines.
const trainerArgsEnv = "TRAINER_TEST_ARGS"

func TestMain(m *testing.M) {
	if args, ok := os.LookupEnv(trainerArgsEnv); ok {
		os.Args = append([]string{"trainer"}, strings.Split(args, "\n")...)
		main()
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// trainerProcess starts this test binary as a trainer process with args,
// its standard error going to stderr.
func trainerProcess(t *testing.T, stderr *bytes.Buffer, args ...string) *exec.Cmd {
	t.Helper()
	cmd := exec.Command(os.Args[0])
	cmd.Env = append(os.Environ(), trainerArgsEnv+"="+strings.Join(args, "\n"))
	cmd.Stderr = stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	return cmd
}

// waitForFile waits until path exists, failing the test after a minute.
func waitForFile(t *testing.T, path string) {
	t.Helper()
	for end := time.Now().Add(time.Minute); time.Now().Before(end); time.Sleep(20 * time.Millisecond) {
		if _, err := os.Stat(path); err == nil {
			return
		}
	}
	t.Fatalf("%s did not appear within a minute", path)
}

// SIGTERM (how Docker, systemd and Slurm stop a job) saves the run and
// exits cleanly, as Ctrl-C does.
func TestSIGTERMSavesTheRun(t *testing.T) {
	out := t.TempDir()
	var stderr bytes.Buffer
	cmd := trainerProcess(t, &stderr, "-batch", "8", "-steps", "1000000", "-log-every", "1", "-eval-every", "-1", "-out", out)
	waitForFile(t, filepath.Join(out, lossCSV))
	time.Sleep(200 * time.Millisecond)
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if err := cmd.Wait(); err != nil {
		t.Fatalf("after SIGTERM the trainer exited with %v, want 0; stderr:\n%s", err, stderr.String())
	}
	if !strings.Contains(stderr.String(), "interrupted: checkpoint saved") {
		t.Errorf("after SIGTERM the trainer did not say it saved; stderr:\n%s", stderr.String())
	}
	if _, err := checkpoint.Read(filepath.Join(out, ckptFile)); err != nil {
		t.Errorf("after SIGTERM: %v", err)
	}
}

// A trainer killed with SIGKILL at random moments, many of them during a
// checkpoint write (one is written every step), always leaves a checkpoint
// that loads; resuming after each of 10 kills ends with exactly the
// checkpoint of a run that was never interrupted, and no temporary file.
func TestKilledRunResumesExactly(t *testing.T) {
	if testing.Short() {
		t.Skip("starts eleven trainer processes; skipped under -short")
	}
	common := []string{"-batch", "8", "-steps", "40", "-sample-every", "10", "-eval-every", "-1", "-workers", "1"}
	ref := t.TempDir() // the uninterrupted run writes its checkpoint at the end only
	if err := run(append(common, "-ckpt-every", "1000", "-out", ref)); err != nil {
		t.Fatal(err)
	}
	want, err := os.ReadFile(filepath.Join(ref, ckptFile))
	if err != nil {
		t.Fatal(err)
	}

	out := t.TempDir()
	ckpt := filepath.Join(out, ckptFile)
	rng := rand.New(rand.NewPCG(1, 2))
	const kills = 10
	duringWrite := 0
	for k := 0; ; k++ {
		args := append(common, "-ckpt-every", "1", "-out", out)
		if _, err := os.Stat(ckpt); err == nil {
			args = append(args, "-resume")
		}
		var stderr bytes.Buffer
		cmd := trainerProcess(t, &stderr, args...)
		done := make(chan error, 1)
		go func() { done <- cmd.Wait() }()
		if k == kills {
			if err := <-done; err != nil {
				t.Fatalf("the last resume (%v) failed: %v\n%s", args, err, stderr.String())
			}
			break
		}
		// Kill at a random moment after the run has written its first
		// checkpoint: a step and its checkpoint write take about half a second.
		before := modTime(ckpt)
		for end := time.Now().Add(time.Minute); modTime(ckpt).Equal(before) && time.Now().Before(end); {
			select {
			case err := <-done:
				t.Fatalf("run %d ended (%v) before it could be killed: the run has too few steps for the kills\n%s", k+1, err, stderr.String())
			case <-time.After(10 * time.Millisecond):
			}
		}
		time.Sleep(time.Duration(rng.IntN(600)) * time.Millisecond)
		cmd.Process.Kill()
		<-done
		if _, err := os.Stat(ckpt); err == nil {
			if _, err := checkpoint.Read(ckpt); err != nil {
				t.Fatalf("after kill %d the checkpoint does not load: %v", k+1, err)
			}
		}
		if entries, _ := os.ReadDir(out); slices.ContainsFunc(entries, func(e os.DirEntry) bool { return isTemporary(e.Name()) }) {
			duringWrite++
		}
	}
	t.Logf("%d kills, %d of them during a write (a temporary file was left)", kills, duringWrite)
	got, err := os.ReadFile(ckpt)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("after %d kills and resumes the final checkpoint differs from the uninterrupted run's", kills)
	}
	for _, dir := range []string{out, filepath.Join(out, samplesDir)} {
		entries, _ := os.ReadDir(dir)
		for _, e := range entries {
			if isTemporary(e.Name()) {
				t.Errorf("%s left in %s after the last resume", e.Name(), dir)
			}
		}
	}
}

// modTime is the modification time of path (zero when it does not exist).
func modTime(path string) time.Time {
	info, err := os.Stat(path)
	if err != nil {
		return time.Time{}
	}
	return info.ModTime()
}
