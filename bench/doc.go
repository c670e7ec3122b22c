// Command bench measures the backends on the shapes the two built-in
// architectures use, and the training step against PyTorch.
//
//	go run ./bench -device cpu -arch mnist -model vaegan -batch 64
//
// It times every operation of a step (each conv, transposed conv and linear
// layer's forward pass and two backward passes, BatchNorm, the losses,
// Reparameterize, Adam) on each device, a 2048³ SGEMM through Backend.Gemm
// as the device's peak, and whole training steps (model.Trainer.Step on a
// fixed batch, equilibrium rule off), alternating rounds with the same step
// in PyTorch (torch_step.py, run as a subprocess with the same number of
// threads). It writes bench.md, bench.json and bench.png under -out; see
// README.md for the flags and how to read the tables.
//
// The same ops are Go benchmarks: go test -bench . ./bench/
package main
