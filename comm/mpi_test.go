//go:build mpi

package comm

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// TestMPI starts this test binary as 3 MPI processes (mpirun, with a time
// limit) and checks each collective against the values every rank can
// compute alone.
func TestMPI(t *testing.T) {
	if os.Getenv("COMM_MPI_CHILD") == "1" {
		if err := mpiChild(); err != nil {
			fmt.Fprintln(os.Stderr, "MPI CHILD FAILED:", err)
			os.Exit(1)
		}
		return
	}
	if _, err := exec.LookPath("mpirun"); err != nil {
		t.Skip("no mpirun (apt-get install openmpi-bin)")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, "mpirun", "-np", "3", "--oversubscribe", os.Args[0], "-test.run", "^TestMPI$")
	cmd.Env = append(os.Environ(), "COMM_MPI_CHILD=1", "OMPI_ALLOW_RUN_AS_ROOT=1", "OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1")
	out, err := cmd.CombinedOutput()
	if err != nil || strings.Contains(string(out), "FAILED") {
		t.Fatalf("mpirun: %v\n%s", err, out)
	}
}

func mpiChild() error {
	c, err := Open("auto", 30*time.Second)
	if err != nil {
		return err
	}
	defer c.Close()
	if c.Size() != 3 {
		return fmt.Errorf("size %d, want 3", c.Size())
	}
	r := c.Rank()
	buf := make([]float32, 100)
	for i := range buf {
		buf[i] = float32(r*1000 + i)
	}
	if err := c.AllReduce(buf); err != nil {
		return err
	}
	for i, v := range buf {
		if want := float32(3*i + 3000); v != want {
			return fmt.Errorf("rank %d: all-reduce element %d = %v, want %v", r, i, v, want)
		}
	}
	msg, err := BroadcastBytes(c, []byte(fmt.Sprintf("from rank %d", r)), 2)
	if err != nil || string(msg) != "from rank 2" {
		return fmt.Errorf("rank %d: broadcast gave %q, %v", r, msg, err)
	}
	value := "a"
	if r == 1 {
		value = "b"
	}
	if bad, err := Disagreeing(c, []byte(value), 0); err != nil || fmt.Sprint(bad) != "[1]" {
		return fmt.Errorf("rank %d: Disagreeing gave %v, %v; want [1]", r, bad, err)
	}
	return c.Barrier()
}
