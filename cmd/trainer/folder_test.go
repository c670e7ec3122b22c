package main

import (
	"encoding/binary"
	"fmt"
	"image"
	"image/png"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/vaegan-go/vaegan/comm"
	"github.com/vaegan-go/vaegan/data"
)

// writeFolder writes n 28×28 gray PNGs into a new folder; the files whose
// index is in corrupt hold junk instead.
func writeFolder(t *testing.T, n int, corrupt ...int) string {
	t.Helper()
	dir := t.TempDir()
	for i := range n {
		path := filepath.Join(dir, fmt.Sprintf("img%02d.png", i))
		f, err := os.Create(path)
		if err != nil {
			t.Fatal(err)
		}
		img := image.NewGray(image.Rect(0, 0, 28, 28))
		for p := range img.Pix {
			img.Pix[p] = uint8(p * (i + 1))
		}
		err = png.Encode(f, img)
		for _, c := range corrupt {
			if c == i {
				f.Truncate(0)
				f.WriteAt([]byte("scraped junk"), 0)
			}
		}
		f.Close()
		if err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// A folder smaller than the reconstruction grid trains with the images
// it has (issue 9: ten images and -batch 4 failed naming neither).
func TestSmallFolderTrains(t *testing.T) {
	out := t.TempDir()
	if err := run([]string{"-data", writeFolder(t, 10), "-batch", "4", "-steps", "3", "-eval-every", "-1", "-out", out}); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(filepath.Join(out, samplesDir, "recon_000003.png"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	cfg, err := png.DecodeConfig(f)
	if err != nil {
		t.Fatal(err)
	}
	// 10 inputs and their reconstructions, 8 a row: 4 rows of 28 pixels and borders.
	if rows := cfg.Height / 28; rows != 4 {
		t.Errorf("the reconstruction grid of 10 images has %d rows, want 4", rows)
	}
}

// One corrupt image stops a run, naming the file and the flag that skips
// it; with -skip-bad-images the run goes on and lists what it skipped.
func TestSkipBadImages(t *testing.T) {
	dir := writeFolder(t, 12, 0, 7) // img00 is among the images the run fingerprints
	out := t.TempDir()
	err := run([]string{"-data", dir, "-batch", "4", "-steps", "6", "-eval-every", "-1", "-out", out})
	if err == nil || !strings.Contains(err.Error(), "img00.png") || !strings.Contains(err.Error(), "-skip-bad-images") {
		t.Errorf("a corrupt image: %v, want an error naming img00.png and -skip-bad-images", err)
	}
	out = t.TempDir()
	if err := run([]string{"-data", dir, "-batch", "4", "-steps", "6", "-eval-every", "-1", "-skip-bad-images", "-out", out}); err != nil {
		t.Fatal(err)
	}
	list, err := os.ReadFile(filepath.Join(out, skippedFile))
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(string(list)), "\n")
	if len(lines) != 2 || !strings.Contains(string(list), "img00.png") || !strings.Contains(string(list), "img07.png") {
		t.Errorf("%s lists:\n%s\nwant img00.png and img07.png, once each", skippedFile, list)
	}
}

// A resumed run says which flags its checkpoint overrides; it finds its
// dataset from any working directory (the path is stored absolute), and
// takes -data at a new place when it is the same dataset, refusing another.
func TestResumeFlagsAndData(t *testing.T) {
	dir := writeFolder(t, 12)
	out := t.TempDir()
	t.Chdir(filepath.Dir(dir))
	if err := run([]string{"-data", filepath.Base(dir), "-batch", "4", "-steps", "2", "-eval-every", "-1", "-out", out}); err != nil {
		t.Fatal(err)
	}
	t.Chdir(out)
	stderr := tempStderr(t)
	f := resumeFlags(t, "-resume", "-arch", "celeba64", "-model", "gan", "-batch", "16", "-seed", "1", "-steps", "3", "-eval-every", "-1", "-out", out)
	if err := runTraining(t.Context(), f, stderr, comm.Single{}); err != nil {
		t.Fatalf("resuming from another working directory: %v", err)
	}
	msgs, _ := os.ReadFile(stderr.Name())
	for _, want := range []string{"ignoring -arch celeba64: the run being resumed has mnist", "ignoring -model gan", "ignoring -batch 16: the run being resumed has 4"} {
		if !strings.Contains(string(msgs), want) {
			t.Errorf("resume with overridden flags: output lacks %q:\n%s", want, msgs)
		}
	}
	if strings.Contains(string(msgs), "ignoring -seed") {
		t.Errorf("-seed 1 is the run's own seed, yet it was reported ignored:\n%s", msgs)
	}

	moved := filepath.Join(t.TempDir(), "moved")
	if err := os.Rename(dir, moved); err != nil {
		t.Fatal(err)
	}
	err := run([]string{"-resume", "-steps", "4", "-eval-every", "-1", "-out", out})
	if err == nil || !strings.Contains(err.Error(), "-data") {
		t.Errorf("resuming after the dataset moved: %v, want an error suggesting -data", err)
	}
	if err := run([]string{"-resume", "-data", moved, "-steps", "4", "-eval-every", "-1", "-out", out}); err != nil {
		t.Errorf("resuming with -data at the dataset's new place: %v", err)
	}
	other := writeFolder(t, 13)
	err = run([]string{"-resume", "-data", other, "-steps", "5", "-eval-every", "-1", "-out", out})
	if err == nil || !strings.Contains(err.Error(), "is not the dataset of the run being resumed") {
		t.Errorf("resuming with another dataset: %v, want a refusal", err)
	}
}

// resumeFlags parses trainer train's flags as train does, for runTraining.
func resumeFlags(t *testing.T, args ...string) *trainFlags {
	t.Helper()
	f, err := parseTrainFlags(args)
	if err != nil {
		t.Fatal(err)
	}
	return f
}

// A checkpoint's configuration is bounded like the flags: one claiming a
// batch of ten million (issue 9: sample -n 4 tried to allocate 94 GB) is
// refused, naming the file and the value.
func TestCheckpointConfigIsBounded(t *testing.T) {
	out := t.TempDir()
	if err := run([]string{"-batch", "8", "-steps", "1", "-eval-every", "-1", "-out", out}); err != nil {
		t.Fatal(err)
	}
	raw, err := os.ReadFile(filepath.Join(out, ckptFile))
	if err != nil {
		t.Fatal(err)
	}
	n := binary.LittleEndian.Uint64(raw)
	header := strings.Replace(string(raw[8:8+n]), `\"Batch\":8,`, `\"Batch\":10000000,`, 1)
	if header == string(raw[8:8+n]) {
		t.Fatalf("the checkpoint's header holds no batch of 8 to change:\n%.300s", raw[8:8+n])
	}
	bad := filepath.Join(out, "bad.safetensors")
	os.WriteFile(bad, append(append(binary.LittleEndian.AppendUint64(nil, uint64(len(header))), header...), raw[8+n:]...), 0o644)
	err = run([]string{"sample", "-ckpt", bad, "-n", "4", "-out", filepath.Join(out, "s.png")})
	if err == nil || !strings.Contains(err.Error(), "bad.safetensors") || !strings.Contains(err.Error(), "Batch 10000000") {
		t.Errorf("sampling from a checkpoint claiming a batch of 10,000,000: %v, want an error naming the file and the value", err)
	}
}

// A run that fails before it starts (a missing dataset) leaves no folder.
func TestFailedStartWritesNothing(t *testing.T) {
	out := filepath.Join(t.TempDir(), "run")
	if err := run([]string{"-data", filepath.Join(t.TempDir(), "missing"), "-out", out}); err == nil {
		t.Fatal("a missing dataset was accepted")
	}
	if _, err := os.Stat(out); err == nil {
		t.Errorf("a run refused for its dataset created %s", out)
	}
}

// An interpolation's animation runs each walk forth and back: frame s holds
// image s of every walk, and the frames return without repeating the ends.
func TestWalkFrames(t *testing.T) {
	x := []float32{0, 1, 2, 10, 11, 12} // two walks of three one-pixel images
	got := fmt.Sprint(walkFrames(x, 2, 3, 1))
	if want := "[[0 10] [1 11] [2 12] [1 11]]"; got != want {
		t.Errorf("frames %s, want %s", got, want)
	}
}

// interpolate -between walks from the code of one image file to another's:
// one row, whose first and last cells are the two images' reconstructions.
func TestInterpolateBetween(t *testing.T) {
	imgs, out := writeFolder(t, 2), t.TempDir()
	if err := run([]string{"-batch", "8", "-steps", "1", "-eval-every", "-1", "-out", out}); err != nil {
		t.Fatal(err)
	}
	ckpt, walk := filepath.Join(out, ckptFile), filepath.Join(out, "walk.png")
	a, b := filepath.Join(imgs, "img00.png"), filepath.Join(imgs, "img01.png")
	if err := run([]string{"interpolate", "-ckpt", ckpt, "-between", a + "," + b, "-steps", "3", "-out", walk}); err != nil {
		t.Fatal(err)
	}
	cell := cellsOf(t, walk, 3) // one row of three images
	c := &ckptCommand{ckpt: ckpt}
	c.dev.name, c.dev.threads = "cpu", 1
	tr, err := c.trainer()
	if err != nil {
		t.Fatal(err)
	}
	for i, path := range []string{a, b} {
		x, err := data.LoadImage(path, 1, 28, 28)
		if err != nil {
			t.Fatal(err)
		}
		rec, err := tr.Reconstruct(x)
		if err != nil {
			t.Fatal(err)
		}
		got := cell(0, 2*i)
		for p := range 28 * 28 {
			want := math.Round(float64(rec[p]+1) * 127.5)
			if math.Abs(float64(got[p])-want) > 1 {
				t.Fatalf("cell %d pixel %d: %d, want the reconstruction of %s (%v)", 2*i, p, got[p], path, want)
			}
		}
	}
}

// A run resumed on another device (here: a checkpoint whose metadata says it
// was written on a GPU with TF32) says that it will not continue bit for bit.
func TestResumeOnAnotherDeviceSaysSo(t *testing.T) {
	out := t.TempDir()
	if err := run([]string{"-batch", "8", "-steps", "1", "-eval-every", "-1", "-out", out}); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(out, ckptFile)
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	n := binary.LittleEndian.Uint64(raw)
	header := string(raw[8 : 8+n])
	edited := strings.Replace(strings.Replace(header, `"device":"cpu`, `"device":"NVIDIA H200 (cuda`, 1), `"device.tf32":"false"`, `"device.tf32":"true"`, 1)
	if edited == header || !strings.Contains(edited, "NVIDIA H200") || !strings.Contains(edited, `"device.tf32":"true"`) {
		t.Fatalf("no device and TF32 metadata to change in:\n%.400s", header)
	}
	os.WriteFile(path, append(append(binary.LittleEndian.AppendUint64(nil, uint64(len(edited))), edited...), raw[8+n:]...), 0o644)
	stderr := tempStderr(t)
	if err := runTraining(t.Context(), resumeFlags(t, "-resume", "-steps", "2", "-eval-every", "-1", "-out", out), stderr, comm.Single{}); err != nil {
		t.Fatal(err)
	}
	msgs, _ := os.ReadFile(stderr.Name())
	if !strings.Contains(string(msgs), "the run was on NVIDIA H200 (cuda") || !strings.Contains(string(msgs), "with TF32 and continues on cpu") ||
		!strings.Contains(string(msgs), "not bit for bit") {
		t.Errorf("resuming a GPU run on the CPU does not say so:\n%s", msgs)
	}
}
