// Package data provides the training images: the embedded MNIST set, IDX image
// files, folders of PNG/JPEG images, and a Loader that decodes and shuffles
// batches ahead of the training step.
//
// Every Dataset hands out images as CHW float32 scaled to [-1, 1]: an 8-bit
// value x becomes x/127.5 - 1.
//
// The Loader's order is deterministic: epoch e is a permutation of [0, Len)
// drawn from a math/rand/v2 PCG seeded with (seed, e); batches are consecutive
// slices of it and the last incomplete batch is dropped. A Position (epoch,
// batch) names a place in that order, so training resumes exactly.
package data
