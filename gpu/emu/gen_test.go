//go:build cgo

package emu

import (
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/vaegan-go/vaegan/gpu/emu/internal/gen"
	"github.com/vaegan-go/vaegan/kernels"
)

// TestLaunchTableCurrent fails when gen_*.cc is stale against kernels/*.cu.
func TestLaunchTableCurrent(t *testing.T) {
	files := gen.Files(kernels.SourceFiles(), kernels.Kernels())
	for name, want := range files {
		got, err := os.ReadFile(name)
		if err != nil || string(got) != string(want) {
			t.Errorf("%s is stale or missing; run go generate ./gpu/emu", name)
		}
	}
	onDisk, err := filepath.Glob("gen_*.cc")
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range onDisk {
		if _, ok := files[f]; !ok {
			t.Errorf("%s has no kernels/*.cu source; run go generate ./gpu/emu", f)
		}
	}
}

// TestLaunchTableNames checks the compiled launch table against the kernel
// names of the sources.
func TestLaunchTableNames(t *testing.T) {
	d := New(1)
	defer d.Close()
	var names []string
	for name := range d.kernels {
		names = append(names, name)
	}
	slices.Sort(names)
	var want []string
	for _, k := range kernels.Kernels() {
		want = append(want, k.Name)
	}
	slices.Sort(want)
	if !slices.Equal(names, want) {
		t.Errorf("launch table has kernels %v, sources have %v; run go generate ./gpu/emu", names, want)
	}
	if p := d.kernels["emutest_params"].params; p != "pcifu" {
		t.Errorf("emutest_params has parameter codes %q, want %q", p, "pcifu")
	}
}
