package main

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/vaegan-go/vaegan/checkpoint"
	"github.com/vaegan-go/vaegan/comm"
)

// distArgs are a short data-parallel vaegan run on the embedded MNIST.
var distArgs = []string{"-batch", "16", "-eval-every", "-1", "-threads", "1", "-workers", "1", "-sample-every", "100", "-log-every", "1"}

// trainLocal runs trainer train with args as the ranks of an in-process group
// of n (comm.Local) and returns what rank 0 wrote to its standard error.
func trainLocal(t *testing.T, n int, args ...string) string {
	t.Helper()
	return trainLocalCtx(t, t.Context(), n, args...)
}

// trainLocalCtx is trainLocal under ctx; every rank must return nil.
func trainLocalCtx(t *testing.T, ctx context.Context, n int, args ...string) string {
	t.Helper()
	group := comm.Local(n, time.Minute)
	errs := make([]error, n)
	stderrs := make([]*os.File, n)
	var wg sync.WaitGroup
	for r := range n {
		f, err := parseTrainFlags(args)
		if err != nil {
			t.Fatal(err)
		}
		stderrs[r] = tempStderr(t)
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[r] = runTraining(ctx, f, stderrs[r], group[r])
		}()
	}
	wg.Wait()
	for r, err := range errs {
		if err != nil {
			t.Fatalf("rank %d: %v", r, err)
		}
	}
	msgs, _ := os.ReadFile(stderrs[0].Name())
	return string(msgs)
}

// sameCheckpoints fails unless the checkpoints at a and b hold the same
// tensors, bit for bit, and the same loader position.
func sameCheckpoints(t *testing.T, a, b string) {
	t.Helper()
	fa, err := checkpoint.Read(a)
	if err != nil {
		t.Fatal(err)
	}
	fb, err := checkpoint.Read(b)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(fa.Names(), ",") != strings.Join(fb.Names(), ",") {
		t.Fatalf("%s and %s hold different tensors", a, b)
	}
	for _, name := range fa.Names() {
		if fa.Dtype(name) != "F32" {
			continue
		}
		shape, _ := fa.Shape(name)
		va, err := fa.Float32(name, shape...)
		if err != nil {
			t.Fatal(err)
		}
		vb, err := fb.Float32(name, shape...)
		if err != nil {
			t.Fatal(err)
		}
		for i := range va {
			if va[i] != vb[i] {
				t.Fatalf("%s[%d]: %v in %s, %v in %s", name, i, va[i], a, vb[i], b)
			}
		}
	}
	for _, k := range []string{metaEpoch, metaBatch, metaRanks} {
		if fa.Meta[k] != fb.Meta[k] {
			t.Fatalf("metadata %s: %q in %s, %q in %s", k, fa.Meta[k], a, fb.Meta[k], b)
		}
	}
	sa, _ := fa.Int64("trainer.state", 2)
	sb, _ := fb.Int64("trainer.state", 2)
	if len(sa) != 2 || len(sb) != 2 || sa[0] != sb[0] || sa[1] != sb[1] {
		t.Fatalf("trainer.state %v in %s, %v in %s", sa, a, sb, b)
	}
}

// TestLocalRanksWriteOnlyOnRankZero runs 2 in-process ranks: rank 0's run
// folder holds the logs and checkpoint a run alone writes, with the world
// size recorded; a 2-rank run resumed on 1 rank says so and ends on the same
// step, noise counter and loader position as the 2-rank run.
func TestLocalRanksWriteOnlyOnRankZero(t *testing.T) {
	out := t.TempDir()
	trainLocal(t, 2, append(distArgs, "-steps", "4", "-out", out)...)
	for _, name := range []string{ckptFile, lossCSV, runPageFile} {
		if _, err := os.Stat(filepath.Join(out, name)); err != nil {
			t.Errorf("rank 0 did not write %s: %v", name, err)
		}
	}
	f, err := checkpoint.Read(filepath.Join(out, ckptFile))
	if err != nil {
		t.Fatal(err)
	}
	if f.Meta[metaRanks] != "2" {
		t.Fatalf("%s = %q, want 2", metaRanks, f.Meta[metaRanks])
	}

	resumed := t.TempDir()
	trainLocal(t, 2, append(distArgs, "-steps", "2", "-out", resumed)...)
	fl, err := parseTrainFlags(append(distArgs, "-steps", "4", "-resume", "-out", resumed))
	if err != nil {
		t.Fatal(err)
	}
	stderr := tempStderr(t)
	if err := runTraining(t.Context(), fl, stderr, comm.Single{}); err != nil {
		t.Fatal(err)
	}
	msgs, _ := os.ReadFile(stderr.Name())
	if !strings.Contains(string(msgs), "written by 2 rank(s) and continues on 1") {
		t.Errorf("resuming on 1 rank does not say so:\n%s", msgs)
	}
	g, err := checkpoint.Read(filepath.Join(resumed, ckptFile))
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{metaEpoch, metaBatch} {
		if g.Meta[k] != f.Meta[k] {
			t.Errorf("resumed on 1 rank: %s = %q, want the 2-rank run's %q", k, g.Meta[k], f.Meta[k])
		}
	}
	sf, _ := f.Int64("trainer.state", 2)
	sg, _ := g.Int64("trainer.state", 2)
	if len(sf) != 2 || len(sg) != 2 || sf[0] != sg[0] || sf[1] != sg[1] {
		t.Errorf("resumed on 1 rank: steps and noise counter %v, want the 2-rank run's %v", sg, sf)
	}
}

// TestLocalRanksStopTogether: an interrupt (here, before the first step)
// stops every rank without an error, and rank 0 saves the run: no rank may
// report the stop as a failure, which in an MPI job would abort the others,
// rank 0 in the middle of its save.
func TestLocalRanksStopTogether(t *testing.T) {
	out := t.TempDir()
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	trainLocalCtx(t, ctx, 2, append(distArgs, "-steps", "4", "-out", out)...)
	if _, err := os.Stat(filepath.Join(out, ckptFile)); err != nil {
		t.Fatalf("rank 0 did not save the interrupted run: %v", err)
	}
}

// mpiTrainer builds the trainer with -tags mpi for tests that launch it
// with mpirun, or skips the test where Open MPI is not installed.
func mpiTrainer(t *testing.T) string {
	t.Helper()
	if _, err := exec.LookPath("mpirun"); err != nil {
		t.Skip("no mpirun (apt-get install openmpi-bin libopenmpi-dev)")
	}
	if err := exec.Command("pkg-config", "--exists", "mpi").Run(); err != nil {
		t.Skip("no MPI development files (apt-get install libopenmpi-dev)")
	}
	bin := filepath.Join(t.TempDir(), "trainer-mpi")
	if out, err := exec.Command("go", "build", "-tags", "mpi", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build -tags mpi: %v\n%s", err, out)
	}
	return bin
}

// mpirun starts n processes of bin with args over loopback, within limit.
func mpirun(ctx context.Context, n int, bin string, args ...string) *exec.Cmd {
	all := append([]string{"-np", strconv.Itoa(n), "--oversubscribe", "--mca", "btl", "self,tcp", "--mca", "btl_tcp_if_include", "lo", bin, "train"}, args...)
	cmd := exec.CommandContext(ctx, "mpirun", all...)
	cmd.Env = append(os.Environ(), "OMPI_ALLOW_RUN_AS_ROOT=1", "OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1", "OMPI_MCA_rmaps_base_oversubscribe=1")
	return cmd
}

// TestMPIMatchesLocalRanks: 2 MPI processes train to the same checkpoint as
// 2 in-process ranks, bit for bit, with and without -sync-bn; a 2-process
// run stopped at step 3 and resumed equals the uninterrupted one.
func TestMPIMatchesLocalRanks(t *testing.T) {
	bin := mpiTrainer(t)
	ctx, cancel := context.WithTimeout(t.Context(), 3*time.Minute)
	defer cancel()
	local, viaMPI, resumed, localSync, viaMPISync := t.TempDir(), t.TempDir(), t.TempDir(), t.TempDir(), t.TempDir()
	trainLocal(t, 2, append(distArgs, "-steps", "6", "-out", local)...)
	trainLocal(t, 2, append(distArgs, "-steps", "3", "-sync-bn", "-out", localSync)...)
	for _, run := range [][]string{{"-steps", "6", "-out", viaMPI}, {"-steps", "3", "-out", resumed}, {"-steps", "6", "-resume", "-out", resumed},
		{"-steps", "3", "-sync-bn", "-out", viaMPISync}} {
		if out, err := mpirun(ctx, 2, bin, append(distArgs, run...)...).CombinedOutput(); err != nil {
			t.Fatalf("mpirun %v: %v\n%s", run, err, out)
		}
	}
	sameCheckpoints(t, filepath.Join(local, ckptFile), filepath.Join(viaMPI, ckptFile))
	sameCheckpoints(t, filepath.Join(viaMPI, ckptFile), filepath.Join(resumed, ckptFile))
	sameCheckpoints(t, filepath.Join(localSync, ckptFile), filepath.Join(viaMPISync, ckptFile))
}

// TestMPIKilledRankEndsTheJob kills rank 1 of a running 2-process job: the
// job must end within 30 s with a message naming the rank.
func TestMPIKilledRankEndsTheJob(t *testing.T) {
	bin := mpiTrainer(t)
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	out := t.TempDir()
	var output bytes.Buffer
	cmd := mpirun(ctx, 2, bin, append(distArgs, "-steps", "1000000", "-ckpt-every", "2", "-out", out)...)
	cmd.Stdout, cmd.Stderr = &output, &output
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	waitForFile(t, filepath.Join(out, ckptFile))
	pid := rankPID(t, bin, "1")
	killed := time.Now()
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	err := cmd.Wait()
	took := time.Since(killed)
	if err == nil || took > 30*time.Second || ctx.Err() != nil {
		t.Fatalf("after rank 1 was killed the job ended after %v with %v, want an error within 30 s:\n%s", took, err, output.String())
	}
	if !strings.Contains(output.String(), "rank 1") {
		t.Fatalf("the job's output does not name rank 1:\n%s", output.String())
	}
	t.Logf("ended %v after the kill: %s", took.Round(time.Millisecond), lastLines(output.String(), 4))
}

// rankPID finds the process of bin whose MPI rank is rank.
func rankPID(t *testing.T, bin, rank string) int {
	t.Helper()
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		pid := 0
		for _, c := range e.Name() {
			if c < '0' || c > '9' {
				pid = -1
				break
			}
			pid = pid*10 + int(c-'0')
		}
		if pid <= 0 {
			continue
		}
		exe, err := os.Readlink(filepath.Join("/proc", e.Name(), "exe"))
		if err != nil || exe != bin {
			continue
		}
		env, _ := os.ReadFile(filepath.Join("/proc", e.Name(), "environ"))
		for _, kv := range strings.Split(string(env), "\x00") {
			if kv == "OMPI_COMM_WORLD_RANK="+rank {
				return pid
			}
		}
	}
	t.Fatalf("no process of %s has rank %s", bin, rank)
	return 0
}

// lastLines is the last n lines of s.
func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return strings.Join(lines[max(0, len(lines)-n):], "\n")
}

// tempStderr is a file to pass runTraining as its standard error, closed
// when the test ends.
func tempStderr(t *testing.T) *os.File {
	t.Helper()
	f, err := os.CreateTemp(t.TempDir(), "stderr")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	return f
}
