package comm

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"sync"
	"testing"
	"time"
)

// onRanks runs f on every rank of a Local group of n and returns each
// rank's error.
func onRanks(n int, timeout time.Duration, f func(c Comm) error) []error {
	ranks := Local(n, timeout)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for r, c := range ranks {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[r] = f(c)
		}()
	}
	wg.Wait()
	return errs
}

func TestLocalAllReduceSumsInRankOrder(t *testing.T) {
	const n, size = 3, 1000
	in := make([][]float32, n)
	rng := rand.New(rand.NewPCG(1, 2))
	for r := range in {
		in[r] = make([]float32, size)
		for i := range in[r] {
			in[r][i] = float32(rng.NormFloat64())
		}
	}
	out := make([][]float32, n)
	errs := onRanks(n, time.Minute, func(c Comm) error {
		buf := append([]float32(nil), in[c.Rank()]...)
		for range 2 { // two rounds: the group opens the next collective
			if err := c.AllReduce(buf); err != nil {
				return err
			}
		}
		out[c.Rank()] = buf
		return nil
	})
	for r, err := range errs {
		if err != nil {
			t.Fatalf("rank %d: %v", r, err)
		}
	}
	for i := range size {
		once := in[0][i] + in[1][i] + in[2][i]
		want := once + once + once
		for r := range n {
			if out[r][i] != want {
				t.Fatalf("rank %d element %d: %v, want %v (the sum in rank order, twice)", r, i, out[r][i], want)
			}
		}
	}
}

func TestLocalBroadcastAndAgreement(t *testing.T) {
	errs := onRanks(3, time.Minute, func(c Comm) error {
		buf := []byte{byte(c.Rank()), 7, 7}
		if err := c.Broadcast(buf, 2); err != nil {
			return err
		}
		if buf[0] != 2 {
			return fmt.Errorf("got %v, want root 2's", buf)
		}
		f := []float32{float32(c.Rank())}
		if err := BroadcastFloats(c, f, 1); err != nil {
			return err
		}
		if f[0] != 1 {
			return fmt.Errorf("BroadcastFloats gave %v, want 1", f[0])
		}
		msg, err := BroadcastBytes(c, []byte(strings.Repeat("x", c.Rank()*5)), 1)
		if err != nil || string(msg) != "xxxxx" {
			return fmt.Errorf("BroadcastBytes gave %q, %v; want root 1's xxxxx", msg, err)
		}
		value := "same"
		if c.Rank() == 2 {
			value = "other"
		}
		bad, err := Disagreeing(c, []byte(value), 0)
		if err != nil || fmt.Sprint(bad) != "[2]" {
			return fmt.Errorf("Disagreeing gave %v, %v; want [2]", bad, err)
		}
		return c.Barrier()
	})
	for r, err := range errs {
		if err != nil {
			t.Errorf("rank %d: %v", r, err)
		}
	}
}

func TestLocalNamesTheMissingRank(t *testing.T) {
	errs := onRanks(3, 200*time.Millisecond, func(c Comm) error {
		if c.Rank() == 1 {
			return nil // a rank that has died
		}
		return c.AllReduce(make([]float32, 4))
	})
	for _, r := range []int{0, 2} {
		if errs[r] == nil || !strings.Contains(errs[r].Error(), "rank(s) [1]") {
			t.Errorf("rank %d: %v, want an error naming rank 1", r, errs[r])
		}
	}
}

func TestLocalMismatchedCollectivesFail(t *testing.T) {
	errs := onRanks(2, time.Minute, func(c Comm) error {
		return c.AllReduce(make([]float32, 3+c.Rank()))
	})
	for r, err := range errs {
		if err == nil || !strings.Contains(err.Error(), "disagree") {
			t.Errorf("rank %d: %v, want the ranks' disagreement", r, err)
		}
	}
}

func TestLaunchFromEnv(t *testing.T) {
	for _, v := range launchVars {
		t.Setenv(v.size, "")
	}
	if l := LaunchFromEnv(); l.Size != 1 || l.By != "" {
		t.Fatalf("alone: %+v", l)
	}
	t.Setenv("SLURM_NTASKS", "4")
	t.Setenv("SLURM_LOCALID", "3")
	if l := LaunchFromEnv(); l != (Launch{By: "srun", Size: 4, LocalRank: 3}) {
		t.Fatalf("srun: %+v", l)
	}
	t.Setenv("OMPI_COMM_WORLD_SIZE", "2")
	t.Setenv("OMPI_COMM_WORLD_LOCAL_RANK", "1")
	if l := LaunchFromEnv(); l != (Launch{By: "mpirun", Size: 2, LocalRank: 1}) {
		t.Fatalf("mpirun: %+v", l)
	}
	if _, err := Open("nccl", time.Second); err == nil || !strings.Contains(err.Error(), "auto, single or mpi") {
		t.Fatalf("Open(nccl): %v", err)
	}
}
