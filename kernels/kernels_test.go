package kernels

import (
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestPTXCurrent regenerates the PTX with nvcc and compares it with the
// committed files.
func TestPTXCurrent(t *testing.T) {
	if _, err := exec.LookPath("nvcc"); err != nil {
		t.Skip("nvcc not found on PATH; cannot check that the committed PTX is current")
	}
	dir := t.TempDir()
	cmd := exec.Command("sh", "gen.sh", dir)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("gen.sh: %v\n%s", err, out)
	}
	fresh, err := filepath.Glob(filepath.Join(dir, "*.ptx"))
	if err != nil {
		t.Fatal(err)
	}
	committed, err := fs.Glob(ptx, "*.ptx")
	if err != nil {
		t.Fatal(err)
	}
	if len(fresh) != len(committed) {
		t.Errorf("nvcc made %d PTX files, %d are committed; run go generate ./kernels", len(fresh), len(committed))
	}
	for _, f := range fresh {
		want, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		got, err := os.ReadFile(filepath.Base(f))
		if err != nil || string(got) != string(want) {
			t.Errorf("%s is stale or missing; run go generate ./kernels", filepath.Base(f))
		}
	}
}

// TestPTXHasEveryKernel checks that each kernel of a source is an entry of
// that source's PTX, and that each PTX has its source.
func TestPTXHasEveryKernel(t *testing.T) {
	ks := Kernels()
	if len(ks) == 0 {
		t.Fatal("no kernels found in the sources")
	}
	entries := map[string]map[string]bool{}
	for _, src := range SourceFiles() {
		text, err := PTX(src)
		if err != nil {
			t.Fatal(err)
		}
		entries[src] = map[string]bool{}
		for name := range PTXParams(text) {
			entries[src][name] = true
		}
	}
	seen := map[string]string{}
	for _, k := range ks {
		if !entries[k.Source][k.Name] {
			t.Errorf("kernel %s of %s is not an .entry of its PTX; run go generate ./kernels", k.Name, k.Source)
		}
		if other, dup := seen[k.Name]; dup {
			t.Errorf("kernel %s is defined in both %s and %s", k.Name, other, k.Source)
		}
		seen[k.Name] = k.Source
	}
	files, err := fs.Glob(ptx, "*.ptx")
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range files {
		if _, ok := entries[strings.TrimSuffix(f, ".ptx")+".cu"]; !ok {
			t.Errorf("%s has no source %s; run go generate ./kernels", f, strings.TrimSuffix(f, ".ptx")+".cu")
		}
	}
}

func TestParseNames(t *testing.T) {
	src := "extern \"C\" __global__ void a1(float* x) {}\n" +
		"static __device__ inline float helper(float v) { return v; }\n" +
		"extern  \"C\"\n__global__ void\tb_2 (int n) {}\n" +
		"// extern \"C\" __device__ void not_a_kernel(\n"
	got := ParseNames(src)
	if strings.Join(got, ",") != "a1,b_2" {
		t.Errorf("ParseNames = %q, want [a1 b_2]", got)
	}
}

func TestPTXParams(t *testing.T) {
	text, err := PTX("emutest.cu")
	if err != nil {
		t.Fatal(err)
	}
	got := PTXParams(text)["emutest_params"]
	want := []string{".u64", ".u64", ".u32", ".f32", ".u64"} // float*, const float*, int, float, unsigned long long
	if strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("emutest_params has PTX parameters %q, want %q", got, want)
	}
	if got := PTXParams(text)["emutest_index"]; len(got) != 1 {
		t.Errorf("emutest_index has PTX parameters %q, want one", got)
	}
}
