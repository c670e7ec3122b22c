//go:build cuda

package cuda_test

import (
	"runtime"
	"testing"

	"github.com/vaegan-go/vaegan/backend/cpu"
	"github.com/vaegan-go/vaegan/gpu"
	"github.com/vaegan-go/vaegan/gpu/cuda"
	"github.com/vaegan-go/vaegan/model/steptest"
)

// TestTrainingRunMatchesCPU trains the default VAE-GAN on MNIST for 200
// steps three times: on the CPU, on the GPU replaying its recorded step
// (CUDA graphs) and on the GPU op by op, in float32 (no TF32). The two GPU
// runs must agree bit for bit, and the GPU's losses must stay close to the
// CPU's (steptest.CheckRunsClose).
func TestTrainingRunMatchesCPU(t *testing.T) {
	if testing.Short() {
		t.Skip("200 training steps on the CPU")
	}
	const images, steps = "../../data/mnist/train-images-idx3-ubyte.gz", 200
	want, err := steptest.TrainDefault(cpu.New(runtime.NumCPU()), images, steps)
	if err != nil {
		t.Fatal(err)
	}
	graphs, err := steptest.TrainDefault(gpu.New(newDriver(t, cuda.Options{})), images, steps)
	if err != nil {
		t.Fatal(err)
	}
	b := gpu.New(newDriver(t, cuda.Options{}))
	b.SetRecording(false)
	opByOp, err := steptest.TrainDefault(b, images, steps)
	if err != nil {
		t.Fatal(err)
	}
	for i := range graphs {
		if graphs[i] != opByOp[i] {
			t.Fatalf("step %d: %+v replaying the graph, %+v op by op", i+1, graphs[i], opByOp[i])
		}
	}
	steptest.CheckRunsClose(t, graphs, want)
}
