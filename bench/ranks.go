package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"time"

	"github.com/vaegan-go/vaegan/backend/cpu"
	"github.com/vaegan-go/vaegan/comm"
	"github.com/vaegan-go/vaegan/model"
)

// rankResult is what rank 0 of a -rank-worker job reports: training speed
// over the whole group and the all-reduce's bandwidth.
type rankResult struct {
	Ranks, ThreadsPerRank int
	ImagesPerSecond       float64
	StepSeconds           float64
	ReducedFloats         int     // floats the step all-reduces
	AllReduceSeconds      float64 // one all-reduce of ReducedFloats
	AllReduceGBs          float64 // 4·ReducedFloats bytes over its time
}

// measureRanks launches, for n = 1 … c.ranks, n processes of this binary
// under mpirun (each with c.threads/n CPU threads) and writes the scaling
// table from rank 0's reports.
func measureRanks(c config) error {
	if !comm.MPIBuilt {
		return fmt.Errorf("-ranks needs MPI: go run -tags mpi ./bench -ranks %d (with libopenmpi-dev and openmpi-bin)", c.ranks)
	}
	self, err := os.Executable()
	if err != nil {
		return err
	}
	var rows []rankResult
	for n := 1; n <= c.ranks; n++ {
		threads := max(c.threads/n, 1)
		args := []string{"-np", strconv.Itoa(n), "--oversubscribe", "--bind-to", "none", self, "-rank-worker",
			"-arch", c.arch, "-model", c.model, "-batch", strconv.Itoa(c.batch), "-threads", strconv.Itoa(threads),
			"-steps", strconv.Itoa(max(c.steps, 10))}
		logf("mpirun %s", strings.Join(args, " "))
		cmd := exec.Command("mpirun", args...)
		cmd.Env = append(os.Environ(), "OMPI_ALLOW_RUN_AS_ROOT=1", "OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1")
		cmd.Stderr = os.Stderr
		out, err := cmd.Output()
		if err != nil {
			return fmt.Errorf("mpirun with %d ranks: %w", n, err)
		}
		var r rankResult
		if err := json.Unmarshal(lastLine(out), &r); err != nil {
			return fmt.Errorf("mpirun with %d ranks: reading rank 0's report %q: %w", n, out, err)
		}
		rows = append(rows, r)
	}
	return writeScaling(c, rows)
}

func lastLine(b []byte) []byte {
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	return []byte(lines[len(lines)-1])
}

// rankWorker is one rank of a -ranks measurement: it trains c.steps steps of
// the global batch c.batch on random images after one warm-up step, then
// times the all-reduce of the step's size, and rank 0 prints the JSON.
func rankWorker(c config) error {
	g, err := comm.Open("mpi", 10*time.Minute)
	if err != nil {
		return err
	}
	defer g.Close()
	cfg := model.Config{Arch: c.arch, Model: c.model, Batch: c.batch, Optim: model.OptimConfig{Kind: "adam"}, NoEquilibrium: true, Seed: 1}
	tr, err := model.NewDistributedTrainer(cpu.New(c.threads), cfg, g)
	if err != nil {
		return err
	}
	a, _ := model.LookupArch(c.arch)
	x := make([]float32, c.batch/g.Size()*a.ImageLen())
	rng := rand.New(rand.NewPCG(uint64(g.Rank()), 1))
	for i := range x {
		x[i] = float32(2*rng.Float64() - 1)
	}
	if _, err := tr.Step(x); err != nil {
		return err
	}
	if err := g.Barrier(); err != nil {
		return err
	}
	start := time.Now()
	for range c.steps {
		if _, err := tr.Step(x); err != nil {
			return err
		}
	}
	if err := g.Barrier(); err != nil {
		return err
	}
	step := time.Since(start).Seconds() / float64(c.steps)
	buf := make([]float32, tr.ReducedFloats())
	const reps = 20
	start = time.Now()
	for range reps {
		if err := g.AllReduce(buf); err != nil {
			return err
		}
	}
	reduce := time.Since(start).Seconds() / reps
	if g.Rank() == 0 {
		r := rankResult{Ranks: g.Size(), ThreadsPerRank: c.threads, ImagesPerSecond: float64(c.batch) / step, StepSeconds: step,
			ReducedFloats: len(buf), AllReduceSeconds: reduce, AllReduceGBs: 4 * float64(len(buf)) / reduce / 1e9}
		if g.Size() == 1 {
			r.AllReduceSeconds, r.AllReduceGBs = 0, 0
		}
		out, _ := json.Marshal(r)
		fmt.Println(string(out))
	}
	return nil
}

// writeScaling writes scaling.md (and .json) into c.out.
func writeScaling(c config, rows []rankResult) error {
	if err := os.MkdirAll(c.out, 0o755); err != nil {
		return err
	}
	var b strings.Builder
	fmt.Fprintf(&b, "# Data-parallel scaling\n\n`go run -tags mpi ./bench %s` on %s (%d cores), %s, %s %s, global batch %d, CPU backend, Open MPI over shared memory and loopback.\n\n",
		strings.Join(os.Args[1:], " "), cpuModel(), runtime.NumCPU(), time.Now().Format(time.DateOnly), c.model, c.arch, c.batch)
	b.WriteString("| ranks | threads per rank | images/s | speed-up | all-reduce per step | all-reduce time | all-reduce bandwidth |\n|---|---|---|---|---|---|---|\n")
	for _, r := range rows {
		red := "– | – | –" // one rank reduces nothing
		if r.Ranks > 1 {
			red = fmt.Sprintf("%.1f MB | %.2f ms | %.2f GB/s", 4*float64(r.ReducedFloats)/1e6, r.AllReduceSeconds*1e3, r.AllReduceGBs)
		}
		fmt.Fprintf(&b, "| %d | %d | %.1f | %.2f× | %s |\n", r.Ranks, r.ThreadsPerRank, r.ImagesPerSecond,
			r.ImagesPerSecond/rows[0].ImagesPerSecond, red)
	}
	b.WriteString("\nThe all-reduce moves every network's gradient, running statistics and the losses of one step (host buffers); its bandwidth is bytes reduced over time.\n")
	if err := os.WriteFile(filepath.Join(c.out, "scaling.md"), []byte(b.String()), 0o644); err != nil {
		return err
	}
	js, _ := json.MarshalIndent(rows, "", "  ")
	if err := os.WriteFile(filepath.Join(c.out, "scaling.json"), append(js, '\n'), 0o644); err != nil {
		return err
	}
	w := bufio.NewWriter(os.Stdout)
	w.WriteString(b.String())
	return w.Flush()
}
