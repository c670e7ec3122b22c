// Package model holds the layers, the networks of the two built-in
// architectures, the losses, the optimizers and the training steps of the
// VAE, GAN and VAE-GAN models, written once against backend.Backend.
//
// Every layer has an explicit forward and backward pass. Parameters of one
// network live in one flat buffer (and their gradients in another), so an
// optimizer update or a gradient reset is one operation per network.
// Activations are allocated once per batch size when a pass is bound, so a
// training step allocates nothing.
//
// The architectures, the checkpoint tensor names and the training step follow
// shared/spec/models.md; see README.md of the repository for the loss
// definitions this package chose where the spec leaves room.
package model
