package data

import (
	"fmt"
	"image/color"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// An attribute table is matched to a folder's images by file name; bad
// tables are refused naming the file, the line and what is wrong.
func TestAttributes(t *testing.T) {
	dir := t.TempDir()
	imgs := filepath.Join(dir, "img")
	for _, name := range []string{"000002.png", "000001.png", "000003.png"} {
		saveImage(t, filepath.Join(imgs, name), solid(2, 2, color.NRGBA{9, 9, 9, 255}))
	}
	write := func(text string) string {
		p := filepath.Join(dir, fmt.Sprintf("attr%d.txt", len(text)))
		os.WriteFile(p, []byte(text), 0o644)
		return p
	}
	good := write("3\nSmiling Eyeglasses\n000001.png  1 -1\n000002.png -1 -1\n000003.png  1  1\n")
	a, err := ReadAttributes(good)
	if err != nil {
		t.Fatal(err)
	}
	ds, err := OpenFolder(imgs, 1, 2, 2)
	if err != nil {
		t.Fatal(err)
	}
	has, err := a.For(ds, 3)
	if err != nil {
		t.Fatal(err)
	}
	// The folder's order is by name: 000001, 000002, 000003.
	if got := fmt.Sprint(a.Names, has); got != "[Smiling Eyeglasses] [[true false true] [false false true]]" {
		t.Errorf("attributes %s", got)
	}
	for _, c := range []struct{ text, want string }{
		{"", "empty"},
		{"x\nA\n", `line 1: "x"`},
		{"2\nA B\n000001.png 1\n", "line 3: 1 values for 000001.png, want one per attribute (2)"},
		{"1\nA\n000001.png 0\n", `attribute A is "0"`},
		{"2\nA\n000001.png 1\n", "1 image lines, the first line says 2"},
		{"1\nA\n000001.png 1\n000002.png 1\n", "more image lines"},
		{"2\nA\n000001.png 1\n000001.png 1\n", "listed twice"},
	} {
		if _, err := ReadAttributes(write(c.text)); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("table %q: %v, want an error mentioning %s", c.text, err, c.want)
		}
	}
	short, _ := ReadAttributes(write("1\nA\n000001.png 1\n"))
	if _, err := short.For(ds, 2); err == nil || !strings.Contains(err.Error(), "lists no 000002.png") {
		t.Errorf("an image the table does not list: %v", err)
	}
	idx, _ := MNIST()
	if _, err := a.For(idx, 1); err == nil || !strings.Contains(err.Error(), "not one") {
		t.Errorf("attributes for an IDX dataset: %v", err)
	}
}
