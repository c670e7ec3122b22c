package model

import (
	"fmt"
	"math"
	"slices"
)

// Models the trainer knows.
const (
	VAE     = "vae"     // encoder + decoder, pixel squared error + KL
	GAN     = "gan"     // decoder + discriminator, DCGAN non-saturating loss
	VAEGAN  = "vaegan"  // Larsen et al.: Dis_l feature loss, 2-class discriminator
	VAEGAN3 = "vaegan3" // VAE-GAN with a real / reconstructed / generated discriminator
)

// ModelNames lists the models in the order the CLI shows them.
func ModelNames() []string { return []string{VAEGAN, VAEGAN3, VAE, GAN} }

// Config is everything that defines a training run's maths.
type Config struct {
	Arch  string // "mnist" or "celeba64"
	Model string // VAE, GAN, VAEGAN or VAEGAN3
	Batch int
	Optim OptimConfig
	// Gamma weighs L_like in the decoder's loss; 0 picks the architecture's
	// default (Arch.Defaults).
	Gamma float64
	// Beta weighs L_like in the encoder's loss; 0 picks the architecture's
	// default (Arch.Defaults). In a checkpoint, 0 is read as 1: what it
	// meant when it was written.
	Beta float64 `json:",omitempty"`
	// Init names the weight initialization (InitPyTorch or InitDCGAN);
	// "" picks the architecture's default (Arch.Defaults).
	Init string `json:",omitempty"`
	// NoEquilibrium turns the equilibrium rule off. (Arch.Defaults says
	// whether an architecture's runs have it by default; the CLI applies it.)
	NoEquilibrium bool
	// Margin is the equilibrium rule's margin around 0.68; 0 picks the
	// default 0.35.
	Margin float64 `json:",omitempty"`
	// EMA is the decay of the moving average of the decoder's weights that
	// sampling and reconstruction use; 0: none (decode with the weights as
	// trained). (Arch.Defaults has each architecture's default; the CLI
	// applies it.)
	EMA float64 `json:",omitempty"`
	// SyncBN makes BatchNorm in a data-parallel run normalise over the
	// global batch (syncbn.go) instead of each rank's rows; alone it
	// changes nothing.
	SyncBN bool `json:",omitempty"`
	Seed   uint64
}

// Check validates a configuration and names the offending field.
func (c *Config) Check() error {
	if _, ok := archs[c.Arch]; !ok {
		return &ConfigError{"Arch", fmt.Sprintf("%q", c.Arch), fmt.Sprintf("want one of %v", ArchNames())}
	}
	if !slices.Contains(ModelNames(), c.Model) {
		return &ConfigError{"Model", fmt.Sprintf("%q", c.Model), fmt.Sprintf("want one of %v", ModelNames())}
	}
	if c.Batch < 2 || c.Batch > MaxBatch {
		return &ConfigError{"Batch", fmt.Sprint(c.Batch), fmt.Sprintf("want 2 to %d (BatchNorm needs more than one sample)", MaxBatch)}
	}
	if c.Gamma < 0 || math.IsNaN(c.Gamma) || math.IsInf(c.Gamma, 0) {
		return &ConfigError{"Gamma", fmt.Sprint(c.Gamma), "want a non-negative number (0: the architecture's default)"}
	}
	if c.Beta < 0 || math.IsNaN(c.Beta) || math.IsInf(c.Beta, 0) {
		return &ConfigError{"Beta", fmt.Sprint(c.Beta), "want a non-negative number (0: the default 1)"}
	}
	if !(c.Margin >= 0 && c.Margin < equilibrium) {
		return &ConfigError{"Margin", fmt.Sprint(c.Margin), fmt.Sprintf("want a number in [0, %v) (0: the default %v)", equilibrium, defaultMargin)}
	}
	if !(c.EMA >= 0 && c.EMA < 1) {
		return &ConfigError{"EMA", fmt.Sprint(c.EMA), "want a decay in [0, 1) (0: no weight average)"}
	}
	if c.Init != "" {
		if _, err := InitRuleOf(c.Init, 0); err != nil {
			return &ConfigError{"Init", fmt.Sprintf("%q", c.Init), fmt.Sprintf("want one of %v", InitNames())}
		}
	}
	return c.Optim.check()
}

// ConfigError is a configuration value that Config.Check refuses.
type ConfigError struct {
	Field string // the Config field: "Batch", "Optim.LR", ...
	Value string // the value, formatted (strings quoted)
	Want  string // what was expected
}

func (e *ConfigError) Error() string {
	return fmt.Sprintf("configuration %s %s: %s", e.Field, e.Value, e.Want)
}

// MaxBatch is the largest batch size a configuration may ask for: a bound
// on what a configuration read from a file can make NewTrainer allocate.
const MaxBatch = 16384
