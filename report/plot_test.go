package report

import (
	"image"
	"image/png"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"gonum.org/v1/plot/plotter"
)

func decodePNG(t *testing.T, path string) image.Image {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	img, err := png.Decode(f)
	if err != nil {
		t.Fatalf("decoding %s: %v", path, err)
	}
	return img
}

func TestPlotLosses(t *testing.T) {
	dir := t.TempDir()
	csvPath := filepath.Join(dir, "losses.csv")
	l, err := OpenLossLog(csvPath, []string{"recon", "kl"}, 0)
	if err != nil {
		t.Fatal(err)
	}
	for step := 1; step <= 50; step++ {
		if err := l.Log(step, 0, []float64{100 / float64(step), 0.5 + float64(step%5)}, 300); err != nil {
			t.Fatal(err)
		}
	}
	l.Close()
	for _, tc := range []struct {
		name string
		csv  string // "" keeps the logged file: all positive, log-y
	}{
		{"log-y", ""},
		{"linear with NaN and negatives", "step,epoch,g,d,images_per_sec\n1,0,-1,NaN,10\n2,0,0.5,2,10\n3,0,+Inf,1,10\n"},
		{"single row", "step,epoch,g,images_per_sec\n7,0,1.5,10\n"},
	} {
		src := csvPath
		if tc.csv != "" {
			src = filepath.Join(dir, "other.csv")
			if err := os.WriteFile(src, []byte(tc.csv), 0o644); err != nil {
				t.Fatal(err)
			}
		}
		pngPath := filepath.Join(dir, "losses.png")
		if err := PlotLosses(src, "", pngPath); err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		// One panel of losses: 8×3 inches at 96 dpi.
		if got := decodePNG(t, pngPath).Bounds(); got != image.Rect(0, 0, 768, 288) {
			t.Errorf("%s: plot bounds %v, want (0,0)-(768,288)", tc.name, got)
		}
	}
}

// A VAE-GAN's log gets three panels: the losses, the discriminator's
// errors, the update shares.
func TestPlotLossesPanels(t *testing.T) {
	dir := t.TempDir()
	csvPath := filepath.Join(dir, "losses.csv")
	names := []string{"kl", "like", "dis", "adv", "dis_real", "dis_fake", "upd_dis", "upd_dec"}
	l, err := OpenLossLog(csvPath, names, 0)
	if err != nil {
		t.Fatal(err)
	}
	for step := 1; step <= 60; step++ {
		flag := float64(step % 2)
		if err := l.Log(step, 0, []float64{3, 40 / float64(step), 1.2, 2, 0.4, 0.7, flag, 1}, 300); err != nil {
			t.Fatal(err)
		}
	}
	l.Close()
	pngPath := filepath.Join(dir, "losses.png")
	qPath := filepath.Join(dir, "quality.csv")
	// No quality log, or one with no evaluation yet (its header only): three panels.
	q, err := OpenLossLog(qPath, []string{"frechet", "kid", "precision", "recall", "classes", "sharpness", "agreement", "ssim"}, 0)
	if err != nil {
		t.Fatal(err)
	}
	for _, quality := range []string{filepath.Join(dir, "no-quality.csv"), qPath} {
		if err := PlotLosses(csvPath, quality, pngPath); err != nil {
			t.Fatal(err)
		}
		if got := decodePNG(t, pngPath).Bounds(); got != image.Rect(0, 0, 768, 3*288) {
			t.Errorf("quality log %s: plot bounds %v, want three panels (0,0)-(768,864)", quality, got)
		}
	}

	// With evaluations logged: two more panels, the Fréchet distance and the shares.
	for step := 15; step <= 60; step += 15 {
		if err := q.Log(step, 0, []float64{100 / float64(step), 0.3, 0.5, 0.6, 10, 0.9, 0.95, 0.7}, 300); err != nil {
			t.Fatal(err)
		}
	}
	q.Close()
	if err := PlotLosses(csvPath, qPath, pngPath); err != nil {
		t.Fatal(err)
	}
	if got := decodePNG(t, pngPath).Bounds(); got != image.Rect(0, 0, 768, 5*288) {
		t.Errorf("plot bounds %v with a quality log, want five panels (0,0)-(768,1440)", got)
	}
}

func TestRollingMean(t *testing.T) {
	s := plotter.XYs{{X: 1, Y: 0}, {X: 2, Y: 1}, {X: 3, Y: 1}, {X: 4, Y: 0}}
	got := rollingMean(s, 2)
	want := []float64{0, 0.5, 1, 0.5}
	for i := range want {
		if got[i].Y != want[i] || got[i].X != s[i].X {
			t.Errorf("rolling mean %v, want Y %v", got, want)
			break
		}
	}
}

func TestPlotLossesErrors(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct{ csv, want string }{
		{"step,epoch,images_per_sec\n", "want step,epoch,<loss names...>,images_per_sec"},
		{"step,epoch,g,images_per_sec\n", "no rows"},
		{"step,epoch,g,images_per_sec\n1,0,x,3\n", `line 2: g value "x"`},
		{"step,epoch,g,images_per_sec\n1,0,3\n", "wrong number of fields"},
	} {
		src := filepath.Join(dir, "bad.csv")
		if err := os.WriteFile(src, []byte(tc.csv), 0o644); err != nil {
			t.Fatal(err)
		}
		err := PlotLosses(src, "", filepath.Join(dir, "bad.png"))
		if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), "bad.csv") {
			t.Errorf("csv %q: error %v, want one naming bad.csv and containing %q", tc.csv, err, tc.want)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "bad.png")); !os.IsNotExist(err) {
		t.Errorf("failed PlotLosses left bad.png behind (stat error %v)", err)
	}
}
