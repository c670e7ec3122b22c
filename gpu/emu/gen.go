//go:build ignore

// gen.go writes the emulator's launch table (gen_*.cc) from the kernel
// sources; run it with `go generate ./gpu/emu`.
package main

import (
	"log"
	"os"
	"path/filepath"

	"github.com/vaegan-go/vaegan/gpu/emu/internal/gen"
	"github.com/vaegan-go/vaegan/kernels"
)

func main() {
	files := gen.Files(kernels.SourceFiles(), kernels.Kernels())
	old, err := filepath.Glob("gen_*.cc")
	if err != nil {
		log.Fatal(err)
	}
	for _, f := range old {
		if _, ok := files[f]; !ok {
			if err := os.Remove(f); err != nil {
				log.Fatal(err)
			}
		}
	}
	for name, b := range files {
		if err := os.WriteFile(name, b, 0o644); err != nil {
			log.Fatal(err)
		}
	}
}
