// Command trainer trains VAE, GAN and VAE-GAN image models on the CPU or an
// NVIDIA GPU, and samples, reconstructs and interpolates with the checkpoints
// it writes.
//
// Usage:
//
//	trainer [train] [flags]       train (the default subcommand)
//	trainer sample -ckpt F        a grid of images decoded from the prior
//	trainer reconstruct -ckpt F   inputs and their reconstructions
//	trainer interpolate -ckpt F   decoded walks between latent points
//	trainer analogy -ckpt F       images turned into every class, style kept
//	trainer attributes -ckpt F    attribute vectors of a labelled dataset
//	trainer eval -ckpt F          sample quality against a test split
//
// Run "trainer <subcommand> -h" for the flags of each.
package main

import (
	"errors"
	"flag"
	"fmt"
	"os"
)

const usage = `trainer trains VAE, GAN and VAE-GAN image models.

Usage:
  trainer [train] [flags]        train a model (default: VAE-GAN on the embedded MNIST)
  trainer sample -ckpt F         decode images from the prior into a PNG grid
  trainer reconstruct -ckpt F    encode and decode the first images of a dataset
  trainer interpolate -ckpt F    decode walks between latent points into a PNG grid or GIF
  trainer analogy -ckpt F        turn images into every class, keeping their style (MNIST: digits)
  trainer attributes -ckpt F     each class's attribute vector, and images with it added
  trainer classifier -data D     train the feature classifier of the metrics (mnist, fashion-mnist)
  trainer eval -ckpt F           measure sample quality (Fréchet distance, KID, precision, recall, ...)

Run "trainer <subcommand> -h" for the flags of each subcommand.
`

func main() {
	err := run(os.Args[1:])
	switch {
	case errors.Is(err, flag.ErrHelp):
		os.Exit(0)
	case err != nil:
		fmt.Fprintln(os.Stderr, "trainer:", err)
		os.Exit(1)
	}
}

// run dispatches to a subcommand; "train" when the first argument is a flag
// or absent.
func run(args []string) error {
	cmd := "train"
	if len(args) > 0 && len(args[0]) > 0 && args[0][0] != '-' {
		cmd, args = args[0], args[1:]
	}
	switch cmd {
	case "train":
		return train(args)
	case "sample":
		return sample(args)
	case "reconstruct":
		return reconstruct(args)
	case "interpolate":
		return interpolate(args)
	case "analogy":
		return analogy(args)
	case "attributes":
		return attributes(args)
	case "classifier":
		return classifier(args)
	case "eval":
		return eval(args)
	case "help":
		fmt.Print(usage)
		return nil
	}
	fmt.Fprint(os.Stderr, usage)
	return fmt.Errorf("unknown subcommand %q", cmd)
}

// newFlagSet makes a flag set that reports errors instead of exiting.
func newFlagSet(name, summary string) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "Usage: trainer %s [flags]\n\n%s\n\nFlags:\n", name, summary)
		fs.PrintDefaults()
	}
	return fs
}

// parse parses flags and rejects stray arguments.
func parse(fs *flag.FlagSet, args []string) error {
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("%s: unexpected argument %q (flags go before it, as -name value)", fs.Name(), fs.Arg(0))
	}
	return nil
}
