package model

import (
	"fmt"
	"math"

	"github.com/vaegan-go/vaegan/backend"
	"github.com/vaegan-go/vaegan/comm"
)

// Synchronised BatchNorm (Config.SyncBN): in a data-parallel run, each
// BatchNorm layer in training mode normalises with the statistics of the
// whole global batch, not of its rank's rows, so that N ranks compute the
// step one process computes with the global batch. It is built from the
// backend's BatchNorm ops and two small all-reduces per layer and pass, with
// the per-channel arithmetic on the host (c floats per layer):
//
// Forward: BatchNormTrain gives each rank's mean μ_r and 1/√(v_r+ε) over its
// m = n·S values per channel (into scratch running statistics); the global
// mean is μ = Σ m·μ_r / M and the global (biased) variance
// V = Σ m·(v_r + (μ_r − μ)²) / M (Chan et al.'s pairwise form, no
// cancellation), M = N·m. y is then BatchNormEval with μ and V, and the
// running statistics move toward μ and the unbiased V·M/(M−1) as PyTorch's.
//
// Backward: with x̂ = (x − μ)/√(V+ε), the gradient over the global batch is
// dx = γ/√(V+ε)·(dy − ΣS₁/M − x̂·ΣS₂/M), S₁ = Σ dy and S₂ = Σ dy·x̂ summed
// over every rank's rows. BatchNormBackward gives the rank's S₁, S₂ (as
// dβ, dγ) and its dx with the rank's own means; the difference is affine in
// x per channel, a + b·x, added through BatchNormEval with unit statistics.
// (Each rank's dy carries its losses' 1/b where one process's carries 1/B,
// so every rank-local gradient is N× the one-process one until the step's
// all-reduce divides by N: the formula holds as written.)

// bnSync is a synchronised BatchNorm layer's scratch space in one slot.
type bnSync struct {
	runMean, runVar backend.Tensor // scratch running statistics for BatchNormTrain
	v               backend.Tensor // the global biased variance, for BatchNormEval
	s1, s2          backend.Tensor // the rank's Σdy and Σdy·x̂
	a, bx, zero     backend.Tensor // the backward's correction a + b·x, and BatchNormEval's unit statistics
	one, tmp        backend.Tensor
	mean, inv       []float32 // host: μ, 1/√(V+ε) of the last forward
	h1, h2, a2, buf []float32 // host scratch (buf: 2c)
}

func newBNSync(b backend.Backend, c int, s *slot) *bnSync {
	n := s.y.Shape
	z := &bnSync{runMean: b.New(c), runVar: b.New(c), v: b.New(c), s1: b.New(c), s2: b.New(c),
		a: b.New(c), bx: b.New(c), zero: b.New(c), one: b.New(c), tmp: b.New(n...),
		mean: make([]float32, c), inv: make([]float32, c), h1: make([]float32, c), h2: make([]float32, c), a2: make([]float32, c), buf: make([]float32, 2*c)}
	b.Fill(z.zero, 0)
	b.Fill(z.one, 1-bnEps) // √(1−ε+ε) = 1: BatchNormEval then computes gamma·x + beta
	return z
}

// syncForward is the training forward pass over the global batch.
func (l *batchNorm) syncForward(b backend.Backend, x backend.Tensor, s *slot) {
	z, c, n, sp := s.bn, l.c, x.Shape[0], l.spatial(x)
	b.BatchNormTrain(x, l.weight.W, l.bias.W, s.y, s.mean, s.invstd, z.runMean, z.runVar, n, c, sp, bnMomentum, bnEps)
	b.Download(z.h1, s.mean)
	b.Download(z.h2, s.invstd)
	ranks := l.sync.Size()
	m, total := float64(n*sp), float64(n*sp*ranks)
	sums := z.buf[:c]
	for i := range sums {
		sums[i] = float32(m * float64(z.h1[i]) / total)
	}
	allReduce(l.sync, sums)
	copy(z.mean, sums)
	for i := range sums {
		inv := float64(z.h2[i])
		local := 1/(inv*inv) - bnEps
		d := float64(z.h1[i]) - float64(z.mean[i])
		sums[i] = float32(m * (local + d*d) / total)
	}
	allReduce(l.sync, sums)
	for i, v := range sums {
		z.h2[i] = v
		z.inv[i] = float32(1 / math.Sqrt(float64(v)+bnEps))
	}
	b.Upload(z.v, z.h2)
	b.Upload(s.mean, z.mean)
	b.Upload(s.invstd, z.inv)
	b.BatchNormEval(x, l.weight.W, l.bias.W, s.y, s.mean, z.v, n, c, sp, bnEps)
	// Running statistics: run = (1 − m)·run + m·stat, the variance unbiased.
	rm, rv := z.h1, z.buf[:c]
	b.Download(rm, l.runMean.T)
	b.Download(rv, l.runVar.T)
	for i := range rm {
		rm[i] = float32((1-bnMomentum)*float64(rm[i]) + bnMomentum*float64(z.mean[i]))
		rv[i] = float32((1-bnMomentum)*float64(rv[i]) + bnMomentum*float64(z.h2[i])*total/(total-1))
	}
	b.Upload(l.runMean.T, rm)
	b.Upload(l.runVar.T, rv)
}

// syncBackward is the backward pass over the global batch.
func (l *batchNorm) syncBackward(b backend.Backend, x backend.Tensor, s *slot, dx backend.Tensor, paramGrads bool) {
	z, c, n, sp := s.bn, l.c, x.Shape[0], l.spatial(x)
	b.Fill(z.s1, 0)
	b.Fill(z.s2, 0)
	b.BatchNormBackward(x, s.dy, l.weight.W, s.mean, s.invstd, backend.Tensor{}, z.s2, z.s1, n, c, sp)
	if paramGrads {
		b.Axpy(1, z.s2, l.weight.G)
		b.Axpy(1, z.s1, l.bias.G)
	}
	if dx.IsNil() {
		return
	}
	b.BatchNormBackward(x, s.dy, l.weight.W, s.mean, s.invstd, dx, backend.Tensor{}, backend.Tensor{}, n, c, sp)
	sums, gamma := z.buf, z.h1
	b.Download(sums[:c], z.s1)
	b.Download(sums[c:], z.s2)
	b.Download(gamma, l.weight.W)
	copy(z.h2, sums[c:]) // the rank's S₂; its S₁ is read back from z.s1's host copy below
	local1 := z.a2
	copy(local1, sums[:c])
	allReduce(l.sync, sums)
	m, total := float64(n*sp), float64(n*sp*l.sync.Size())
	for i := range c {
		// dx − dx_rank = γ·inv·((S₁/m − ΣS₁/M) + x̂·(S₂/m − ΣS₂/M)), x̂ = (x − μ)·inv.
		d1 := float64(local1[i])/m - float64(sums[i])/total
		d2 := float64(z.h2[i])/m - float64(sums[c+i])/total
		inv, k := float64(z.inv[i]), float64(gamma[i])*float64(z.inv[i])
		local1[i] = float32(k * (d1 - d2*inv*float64(z.mean[i]))) // a
		z.h2[i] = float32(k * d2 * inv)                           // b
	}
	b.Upload(z.a, local1)
	b.Upload(z.bx, z.h2)
	b.BatchNormEval(x, z.bx, z.a, z.tmp, z.zero, z.one, n, c, sp, bnEps) // tmp = b·x + a
	b.Axpy(1, z.tmp, dx)
}

// allReduce sums buf over the ranks; a failure panics with the error, which
// Trainer.Step returns (recoverError).
func allReduce(c comm.Comm, buf []float32) {
	if err := c.AllReduce(buf); err != nil {
		panic(fmt.Errorf("synchronised BatchNorm: %w", err))
	}
}
