package main

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strconv"
	"strings"
)

// defaultPython is the interpreter that has Debian's python3-torch (a
// CPU build); -python names another, such as one with a CUDA build.
const defaultPython = "/usr/bin/python3"

// torchScript is the PyTorch side of the comparison, relative to the
// repository root.
const torchScript = "bench/torch_step.py"

// torchAvailable reports whether the interpreter python can import torch.
func torchAvailable(python string) bool {
	return exec.Command(python, "-c", "import torch").Run() == nil
}

// torchInfo is the first line torch_step.py prints.
type torchInfo struct {
	Torch      string   `json:"torch"`
	Threads    int      `json:"threads"`
	BLAS       []string `json:"blas"`
	GemmGFLOPs float64  `json:"gemm_gflops"`
	Device     string   `json:"device"` // "cpu" or "cuda"
}

// torchRunner is a running torch_step.py that times steps on request.
type torchRunner struct {
	cmd  *exec.Cmd
	in   io.WriteCloser
	out  *bufio.Scanner
	info torchInfo
}

// startTorch starts torch_step.py under python for one model on device
// ("cpu" or "cuda") with threads threads (torch.set_num_threads and OMP_NUM_THREADS)
// and reads its setup line.
func startTorch(python, arch, mdl, device string, batch, threads int) (*torchRunner, error) {
	if _, err := os.Stat(torchScript); err != nil {
		return nil, fmt.Errorf("-torch: %w (run from the repository root)", err)
	}
	cmd := exec.Command(python, torchScript, "--arch", arch, "--model", mdl,
		"--batch", strconv.Itoa(batch), "--threads", strconv.Itoa(threads), "--device", device)
	cmd.Env = append(os.Environ(), "OMP_NUM_THREADS="+strconv.Itoa(threads))
	cmd.Stderr = os.Stderr
	in, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("starting %s: %w", torchScript, err)
	}
	t := &torchRunner{cmd: cmd, in: in, out: bufio.NewScanner(out)}
	if err := t.read(&t.info); err != nil {
		t.close()
		return nil, err
	}
	return t, nil
}

// read decodes the script's next output line into v.
func (t *torchRunner) read(v any) error {
	if !t.out.Scan() {
		err := t.out.Err()
		if err == nil {
			err = errors.New("it exited")
		}
		return fmt.Errorf("%s: no output: %w", torchScript, err)
	}
	line := t.out.Text()
	if err := json.NewDecoder(strings.NewReader(line)).Decode(v); err != nil {
		return fmt.Errorf("%s: bad output line %q: %w", torchScript, line, err)
	}
	return nil
}

// steps runs n training steps and returns the time of each in nanoseconds.
func (t *torchRunner) steps(n int) ([]float64, error) {
	if _, err := fmt.Fprintln(t.in, n); err != nil {
		return nil, fmt.Errorf("%s: %w", torchScript, err)
	}
	var r struct{ Seconds []float64 }
	if err := t.read(&r); err != nil {
		return nil, err
	}
	if len(r.Seconds) != n {
		return nil, fmt.Errorf("%s: %d step times for %d steps", torchScript, len(r.Seconds), n)
	}
	ns := make([]float64, n)
	for i, s := range r.Seconds {
		ns[i] = s * 1e9
	}
	return ns, nil
}

// close ends the script (it exits at the end of its input).
func (t *torchRunner) close() error {
	t.in.Close()
	return t.cmd.Wait()
}

// name describes the PyTorch setup: its version and BLAS library.
func (i torchInfo) name() string {
	blas := "?"
	for _, l := range i.BLAS {
		if strings.Contains(l, "libblas") || strings.Contains(l, "openblas") {
			blas = strings.TrimPrefix(l, "/usr/lib/x86_64-linux-gnu/")
			break
		}
	}
	if i.Device == "cuda" {
		return fmt.Sprintf("torch %s, cuda", i.Torch)
	}
	return fmt.Sprintf("torch %s, %s", i.Torch, blas)
}
