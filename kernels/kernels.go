package kernels

//go:generate sh gen.sh

import (
	"embed"
	"fmt"
	"io/fs"
	"regexp"
	"sort"
	"strings"
)

// Sources holds every .cu and .cuh file of this folder. Packages that
// compile the sources (gpu/emu) depend on it so that Go's build cache sees
// an edited kernel.
//
//go:embed *.cu *.cuh
var Sources embed.FS

//go:embed *.ptx
var ptx embed.FS

// Kernel is one extern "C" __global__ function of the sources.
type Kernel struct {
	Name   string // function name, unique across the sources
	Source string // file that defines it, e.g. "losses.cu"
}

// kernelDecl matches a kernel declaration up to its opening parenthesis.
var kernelDecl = regexp.MustCompile(`extern\s+"C"\s+__global__\s+void\s+([A-Za-z_][A-Za-z0-9_]*)\s*\(`)

// ParseNames returns the names of the kernels declared in one source text,
// in order of appearance.
func ParseNames(src string) []string {
	var names []string
	for _, m := range kernelDecl.FindAllStringSubmatch(src, -1) {
		names = append(names, m[1])
	}
	return names
}

// Kernels lists every kernel of the sources, by file name and then in order
// of appearance.
func Kernels() []Kernel {
	var ks []Kernel
	for _, f := range SourceFiles() {
		src, err := Sources.ReadFile(f)
		if err != nil {
			panic(err) // embedded files are always readable
		}
		for _, n := range ParseNames(string(src)) {
			ks = append(ks, Kernel{Name: n, Source: f})
		}
	}
	return ks
}

// SourceFiles lists the .cu files of the sources, sorted.
func SourceFiles() []string {
	files, err := fs.Glob(Sources, "*.cu")
	if err != nil {
		panic(err) // the pattern is constant and valid
	}
	sort.Strings(files)
	return files
}

// ptxEntry matches a PTX kernel entry and its parameter list.
var ptxEntry = regexp.MustCompile(`\.entry\s+([A-Za-z_][A-Za-z0-9_]*)\s*\(([^)]*)\)`)

// ptxParam matches one parameter of a PTX entry.
var ptxParam = regexp.MustCompile(`\.param\s+(\.[a-z0-9]+)`)

// PTXParams returns the parameter types of every kernel entry of a PTX text,
// by kernel name: ".u64" for pointers and unsigned long long, ".u32" for int,
// ".f32" for float.
func PTXParams(ptx string) map[string][]string {
	entries := map[string][]string{}
	for _, m := range ptxEntry.FindAllStringSubmatch(ptx, -1) {
		types := []string{}
		for _, p := range ptxParam.FindAllStringSubmatch(m[2], -1) {
			types = append(types, p[1])
		}
		entries[m[1]] = types
	}
	return entries
}

// PTX returns the committed PTX that nvcc made of one source file, e.g.
// PTX("losses.cu").
func PTX(source string) (string, error) {
	name := strings.TrimSuffix(source, ".cu") + ".ptx"
	b, err := ptx.ReadFile(name)
	if err != nil {
		return "", fmt.Errorf("kernels: no PTX for %q (expected %s; run go generate ./kernels): %w", source, name, err)
	}
	return string(b), nil
}
