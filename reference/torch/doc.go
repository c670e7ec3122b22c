// Package torch holds the PyTorch reference fixtures: the nets of the model
// spec written as torch.nn.Modules (nets.py), a script that writes
// safetensors fixtures from them (make_fixtures.py, output in fixtures/), a
// checker that loads our checkpoints into PyTorch (load_check.py), and Go
// tests that hold the CPU backend's operations to the fixtures. See README.md.
package torch
