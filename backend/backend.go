// Package backend defines the tensors and the operations that every compute
// backend (the CPU, a CUDA GPU, the emulated GPU) provides to the model code.
//
// The model code in package model is written once against the Backend
// interface; a backend decides how each operation runs. Every operation has an
// explicit forward and backward form, in the style of llm.c: parameter
// gradients are accumulated (+=), input gradients are overwritten.
//
// Tensors are dense, row-major float32 arrays. Images are NCHW.
package backend

import "errors"

// Buffer is backend-owned storage for float32 elements. Each backend defines
// its own concrete type (host slice, device pointer) and accepts only its own.
type Buffer interface {
	// Len is the number of float32 elements the buffer holds.
	Len() int
}

// Tensor is a view of Len() consecutive elements of a Buffer, starting at
// element Off, with a row-major Shape. The zero Tensor is "absent": operations
// that take an optional output skip it when IsNil reports true.
type Tensor struct {
	Shape []int
	Buf   Buffer
	Off   int
}

// IsNil reports whether t refers to no storage.
func (t Tensor) IsNil() bool { return t.Buf == nil }

// Len is the number of elements of t: the product of its shape.
func (t Tensor) Len() int {
	n := 1
	for _, d := range t.Shape {
		n *= d
	}
	return n
}

// Dim returns the size of dimension i.
func (t Tensor) Dim(i int) int { return t.Shape[i] }

// Reshape returns a view of t with another shape of the same length.
func (t Tensor) Reshape(shape ...int) Tensor {
	r := Tensor{Shape: append([]int(nil), shape...), Buf: t.Buf, Off: t.Off}
	if r.Len() != t.Len() {
		panic("backend: Reshape changes the number of elements")
	}
	return r
}

// Rows returns the view of rows [i, j) along the first dimension.
func (t Tensor) Rows(i, j int) Tensor {
	if i < 0 || j < i || j > t.Shape[0] {
		panic("backend: Rows out of range")
	}
	row := t.Len() / t.Shape[0]
	shape := append([]int{j - i}, t.Shape[1:]...)
	return Tensor{Shape: shape, Buf: t.Buf, Off: t.Off + i*row}
}

// ConvGeom is the geometry of a 2-D convolution with a square kernel, as
// PyTorch's Conv2d sees it: input [N, C, H, W], weight [K, C, R, R],
// output [N, K, OH, OW] with OH = (H + 2*Pad - R)/Stride + 1 (likewise OW).
//
// A ConvTranspose2d(K→C) with weight [K, C, R, R] is the adjoint of this
// Conv2d(C→K): its forward pass is ConvBackwardData, its input gradient is
// ConvForward and its weight gradient is ConvBackwardFilter with input and
// output swapped. Its output padding is absorbed in H, W (the formula above
// maps the padded output size back to the transposed convolution's input).
type ConvGeom struct {
	N, C, H, W int // input batch, channels, height, width
	K          int // output channels
	R          int // kernel size (R×R)
	Stride     int
	Pad        int
	OH, OW     int // output height and width
}

// NewConvGeom fills in the output size of a convolution over an input of
// n×c×h×w with k filters of size r×r, as PyTorch's Conv2d computes it; it
// is 0 where the kernel is larger than the padded input (PyTorch refuses
// those).
func NewConvGeom(n, c, h, w, k, r, stride, pad int) ConvGeom {
	return ConvGeom{N: n, C: c, H: h, W: w, K: k, R: r, Stride: stride, Pad: pad,
		OH: convOut(h, r, stride, pad), OW: convOut(w, r, stride, pad)}
}

// convOut is the number of positions of an r-wide kernel moved by stride over
// size inputs padded by pad on each side.
func convOut(size, r, stride, pad int) int {
	if size+2*pad < r {
		return 0
	}
	return (size+2*pad-r)/stride + 1
}

// Activation names an elementwise nonlinearity.
type Activation int

// The activations the models use. Each backward pass is computed from the
// forward output y alone: ReLU and LeakyReLU from the sign of y (slope > 0),
// Tanh from 1 - y².
const (
	ReLU Activation = iota
	LeakyReLU
	Tanh
)

// Backend is a compute device with its own memory. All operations are
// asynchronous with respect to the host on devices that allow it; Download
// waits for them. Shapes are checked by the callers (package model); a
// backend may panic on mismatched lengths.
type Backend interface {
	// Name is a short human-readable name ("cpu", "cuda:0 NVIDIA H100", …).
	Name() string
	// New allocates a zeroed tensor of the given shape.
	New(shape ...int) Tensor
	// Free releases the storage behind t's buffer (a no-op on the CPU).
	Free(t Tensor)
	// Upload copies src (len t.Len()) from host memory into t.
	Upload(t Tensor, src []float32)
	// Download copies t into dst (len t.Len()), waiting for pending work.
	Download(dst []float32, t Tensor)
	// Copy sets dst = src (same length).
	Copy(dst, src Tensor)
	// Fill sets every element of t to v.
	Fill(t Tensor, v float32)
	// Axpy sets y += alpha*x (same length).
	Axpy(alpha float32, x, y Tensor)

	// Gemm computes C = alpha*op(A)*op(B) + beta*C with row-major matrices:
	// op(A) is m×k, op(B) is k×n, C is m×n; op(X) is X or its transpose.
	Gemm(transA, transB bool, m, n, k int, alpha float32, a, b Tensor, beta float32, c Tensor)

	// ConvForward sets y = conv(x, w): x [N,C,H,W], w [K,C,R,R], y [N,K,OH,OW].
	ConvForward(g ConvGeom, x, w, y Tensor)
	// ConvBackwardData sets dx = convᵀ(dy, w), the gradient of the input.
	ConvBackwardData(g ConvGeom, dy, w, dx Tensor)
	// ConvBackwardFilter accumulates dw += the gradient of the weight.
	ConvBackwardFilter(g ConvGeom, x, dy, dw Tensor)

	// BiasForward adds b[c] to y viewed as [N, C, S] (S = 1 for a Linear layer).
	BiasForward(y, b Tensor, n, c, s int)
	// BiasBackward accumulates db[c] += Σ_{n,s} dy[n,c,s].
	BiasBackward(dy, db Tensor, n, c, s int)

	// BatchNormTrain normalises x viewed as [N, C, S] with its batch statistics:
	// y = (x-mean)*invstd*gamma + beta, with mean and invstd = 1/sqrt(var+eps)
	// (biased variance) saved per channel for the backward pass, and the
	// running statistics updated as PyTorch does: run = (1-m)*run + m*stat,
	// the running variance taking the unbiased batch variance.
	BatchNormTrain(x, gamma, beta, y, mean, invstd, runMean, runVar Tensor, n, c, s int, momentum, eps float32)
	// BatchNormEval normalises x with the running statistics.
	BatchNormEval(x, gamma, beta, y, runMean, runVar Tensor, n, c, s int, eps float32)
	// BatchNormBackward sets dx (skipped when nil) and, when dgamma is not
	// nil, accumulates dgamma and dbeta, for a BatchNormTrain forward pass.
	BatchNormBackward(x, dy, gamma, mean, invstd, dx, dgamma, dbeta Tensor, n, c, s int)

	// ActForward sets y = f(x) elementwise (y may be x). slope is LeakyReLU's
	// negative slope.
	ActForward(f Activation, x, y Tensor, slope float32)
	// ActBackward sets dx = f'(x)*dy from the forward output y (dx may be dy).
	ActBackward(f Activation, y, dy, dx Tensor, slope float32)

	// Normal fills t with N(0, 1) samples: element i is NormalAt(seed, c+i)
	// with c the Philox counter that the tensor counter holds (PutCounter):
	// read on the device, so that a recorded step replayed draws new noise.
	Normal(t Tensor, seed uint64, counter Tensor)
	// Reparameterize samples eps = NormalAt(seed, c+i), c as for Normal,
	// and sets z = mu + exp(logvar/2)*eps, keeping eps for the backward pass.
	Reparameterize(mu, logvar, eps, z Tensor, seed uint64, counter Tensor)
	// ReparameterizeBackward accumulates, from dz, dmu += dz and
	// dlogvar += dz*eps*exp(logvar/2)/2.
	ReparameterizeBackward(logvar, eps, dz, dmu, dlogvar Tensor)

	// The losses below write the loss value into loss (a one-element tensor)
	// and, when grad is not nil, overwrite grad with ∂(loss)/∂(input). scale
	// multiplies both (use 1/B for a mean over a batch of B).

	// KL sets loss = scale * -0.5*Σ(1 + logvar - mu² - exp(logvar)) and
	// overwrites dmu, dlogvar with its gradient when they are not nil.
	KL(mu, logvar, loss, dmu, dlogvar Tensor, scale float32)
	// BCEWithLogits sets loss = scale*Σ_i bce(logit_i, target), the binary
	// cross-entropy of sigmoid(logit) against a constant target in [0, 1].
	BCEWithLogits(logits, loss, grad Tensor, target, scale float32)
	// SoftmaxCE sets loss = scale*Σ_n -log softmax(logits[n])[class] for
	// logits [N, K] whose rows all belong to the same class.
	SoftmaxCE(logits, loss, grad Tensor, k, class int, scale float32)
	// SquaredError sets loss = scale*0.5*Σ(a-b)² and grad = scale*(a-b), the
	// gradient with respect to a (that with respect to b is its negative).
	SquaredError(a, b, loss, grad Tensor, scale float32)
	// SumSquares sets out[0] = Σ x², one reduction that is not finite when an
	// element of x is NaN or ±Inf, or so large that its square overflows
	// float32 (|x| > 1.8e19): the trainer's check of a gradient before it
	// reaches an optimizer.
	SumSquares(x, out Tensor)

	// Decide judges a training step on the device, so that the host need not
	// wait for the losses before it queues the updates: it writes flags
	// (three elements, each 1 or 0) from the step's values l by rule d.
	// flags[0] is whether l[0:d.Checked] are all finite; flags[1] and
	// flags[2] are whether the decoder and the discriminator are updated:
	// both 0 when flags[0] is, else both 1 or as the equilibrium rule says.
	Decide(l, flags Tensor, d Decision)
	// Restore sets dst = saved (same length) when ok[0] is 0, and leaves
	// dst alone otherwise: undoing a step that Decide stopped.
	Restore(dst, saved, ok Tensor)

	// The optimizer steps and Average take a flag on, a one-element tensor
	// written on the device (by Decide): when on is not nil and on[0] is 0,
	// they change nothing.

	// AdamStep updates p with the gradient g and moments m, v in place, as
	// torch.optim.Adam without weight decay: m = b1*m + (1-b1)*g,
	// v = b2*v + (1-b2)*g², p -= lr/bc1 * m / (sqrt(v)/sqrt(bc2) + eps), where
	// bc1 = 1-b1^t and bc2 = 1-b2^t for step t ≥ 1, read from the
	// two-element tensor bc = [bc1, bc2] on the device (a per-step value
	// that a recorded step must not hold as an argument).
	AdamStep(p, g, m, v, on, bc Tensor, lr, b1, b2, eps float32)
	// RMSPropStep updates p as torch.optim.RMSprop (not centred, no
	// momentum): v = alpha*v + (1-alpha)*g², p -= lr*g/(sqrt(v)+eps).
	RMSPropStep(p, g, v, on Tensor, lr, alpha, eps float32)
	// Average moves avg toward w (same length), an exponential moving
	// average: avg += (1-decay)*(w-avg).
	Average(avg, w, on Tensor, decay float32)

	// Sync waits until all queued work is done.
	Sync()
}

// AllReducer is a backend that sums its own tensors over the ranks of a
// data-parallel group in device memory (the CUDA backend with NCCL), so
// that the step's all-reduce needs no copy to the host.
type AllReducer interface {
	// AllReduce replaces every tensor of ts by its element-wise sum over the
	// ranks, which pass tensors of the same lengths in the same order.
	AllReduce(ts []Tensor) error
}

// HostAllocator is a backend with host memory that its uploads read
// without a copy of their own (the CUDA backend's pinned memory): fill a
// buffer from HostBuffer and upload it, and the copy to the device is
// queued straight from it.
type HostAllocator interface {
	// HostBuffer returns n floats of such memory, which lives as long as
	// the backend's device. After an upload from it, change it only after
	// the next wait for the device (Download, Sync).
	HostBuffer(n int) []float32
}

// Recorder is a backend that records a sequence of its operations once and
// replays it with one call (the CUDA backend, with CUDA graphs), so that
// the host's cost of the sequence no longer grows with its length.
type Recorder interface {
	// Record runs f, whose operations are recorded instead of run, and
	// returns the recording; replay it to run them. f must not copy to or
	// from the host, nor allocate or free. Operations read the arguments
	// they were recorded with at every replay; what must change from one
	// replay to the next is read from tensors (counters, flags, factors).
	// It fails with ErrNoRecording where the backend cannot record.
	Record(f func()) (Recording, error)
}

// Recording is a sequence of operations that a Recorder recorded.
type Recording interface {
	// Replay queues the recorded operations. It fails with ErrStale when
	// the backend has freed or moved memory that they use since they were
	// recorded (record them again).
	Replay() error
	// Free releases the recording.
	Free()
}

// Errors of Recorder and Recording.
var (
	ErrNoRecording = errors.New("backend: this backend does not record operations")
	ErrStale       = errors.New("backend: the recording uses memory freed since it was made")
)

// Decision is the rule by which Decide judges a step from its values l (the
// losses, then each network's Σg²).
type Decision struct {
	// Checked is the number of leading values of l that must be finite
	// for the step to count.
	Checked int
	// Equilibrium applies the equilibrium rule of Larsen et al.: with the
	// discriminator's mean BCE on real rows, l[Real], and on fake rows
	// (l[Gen], or (l[Rec] + l[Gen])/2 in float32 when Rec ≥ 0), skip the
	// discriminator while either is below Low, skip the decoder while
	// either is above High, and update both when both would be skipped.
	Equilibrium    bool
	Real, Rec, Gen int
	Low, High      float32
}

// Judge applies d to the values l: ok is whether l[0:d.Checked] are all
// finite; dec and dis whether the decoder and the discriminator are updated
// (both false when ok is). It is the rule every backend's Decide computes.
func (d Decision) Judge(l []float32) (ok, dec, dis bool) {
	for _, v := range l[:d.Checked] {
		if v-v != 0 { // NaN or ±Inf
			return false, false, false
		}
	}
	if !d.Equilibrium {
		return true, true, true
	}
	real, fake := l[d.Real], l[d.Gen]
	if d.Rec >= 0 {
		fake = (l[d.Rec] + fake) / 2
	}
	dis = !(real < d.Low || fake < d.Low)
	dec = !(real > d.High || fake > d.High)
	if !dis && !dec {
		dis, dec = true, true
	}
	return true, dec, dis
}
