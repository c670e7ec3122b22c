package report

import (
	"image/gif"
	"os"
	"path/filepath"
	"testing"
)

// An animation decodes back to its frames: as many as given, looping, with
// the delay, each gray frame holding Grid's intensities; RGB frames come out
// at the grid's size.
func TestWriteAnimation(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "a.gif")
	frames := [][]float32{
		{-1, 1, 0, 0.5, 1, -1, -0.5, 0}, // two 2×2 gray images
		{0, 0, 0, 0, 1, 1, 1, 1},
		{1, 1, 1, 1, -1, -1, -1, -1},
	}
	if err := WriteAnimation(path, frames, 2, 1, 2, 2, 2, 7); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	g, err := gif.DecodeAll(f)
	if err != nil {
		t.Fatal(err)
	}
	if len(g.Image) != 3 || g.LoopCount != 0 || g.Delay[1] != 7 {
		t.Fatalf("%d frames, loop %d, delay %v; want 3 frames looping forever at 7", len(g.Image), g.LoopCount, g.Delay)
	}
	for k, fr := range frames {
		for i := range 2 {
			x0, y0 := cellOrigin(i, 2, 2, 2)
			for p := range 4 {
				r, _, _, _ := g.Image[k].At(x0+p%2, y0+p/2).RGBA()
				if got, want := uint8(r>>8), toByte(fr[i*4+p]); got != want {
					t.Errorf("frame %d image %d pixel %d: %d, want %d", k, i, p, got, want)
				}
			}
		}
	}
	rgb := filepath.Join(dir, "c.gif")
	if err := WriteAnimation(rgb, [][]float32{make([]float32, 12)}, 1, 3, 2, 2, 1, 5); err != nil {
		t.Fatal(err)
	}
	if err := WriteAnimation(filepath.Join(dir, "none.gif"), nil, 1, 1, 2, 2, 1, 5); err == nil {
		t.Error("an animation of no frames was written")
	}
}
