package report

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func readFile(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestLossLogRowsAndResume(t *testing.T) {
	path := filepath.Join(t.TempDir(), "losses.csv")
	names := []string{"recon", "kl"}
	l, err := OpenLossLog(path, names, 0)
	if err != nil {
		t.Fatal(err)
	}
	for step := 10; step <= 40; step += 10 {
		if err := l.Log(step, step/20, []float64{1.0 / float64(step), float64(step) * 1.5}, 250.25); err != nil {
			t.Fatal(err)
		}
	}
	// Rows are on disk before Close.
	want := "step,epoch,recon,kl,images_per_sec\n" +
		"10,0,0.1,15,250.2\n" +
		"20,1,0.05,30,250.2\n" +
		"30,1,0.03333333,45,250.2\n" +
		"40,2,0.025,60,250.2\n"
	if got := readFile(t, path); got != want {
		t.Fatalf("log before Close:\n%s\nwant:\n%s", got, want)
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}

	// Resume from step 20: rows 30 and 40 go, no second header.
	l, err = OpenLossLog(path, names, 20)
	if err != nil {
		t.Fatal(err)
	}
	if err := l.Log(30, 1, []float64{0.5, 2}, 100); err != nil {
		t.Fatal(err)
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	want = "step,epoch,recon,kl,images_per_sec\n" +
		"10,0,0.1,15,250.2\n" +
		"20,1,0.05,30,250.2\n" +
		"30,1,0.5,2,100.0\n"
	if got := readFile(t, path); got != want {
		t.Fatalf("log after resume:\n%s\nwant:\n%s", got, want)
	}
}

func TestLossLogTornLineAndFreshStart(t *testing.T) {
	path := filepath.Join(t.TempDir(), "losses.csv")
	header := "step,epoch,g,d,images_per_sec\n"
	if err := os.WriteFile(path, []byte(header+"1,0,1,2,3.0\n2,0,1,2,3.0\n3,0,1,"), 0o644); err != nil {
		t.Fatal(err)
	}
	l, err := OpenLossLog(path, []string{"g", "d"}, 100)
	if err != nil {
		t.Fatal(err)
	}
	l.Close()
	if got, want := readFile(t, path), header+"1,0,1,2,3.0\n2,0,1,2,3.0\n"; got != want {
		t.Fatalf("torn line not dropped:\n%q\nwant\n%q", got, want)
	}
	l, err = OpenLossLog(path, []string{"g", "d"}, 0)
	if err != nil {
		t.Fatal(err)
	}
	l.Close()
	if got := readFile(t, path); got != header {
		t.Fatalf("resume step 0 left %q, want only the header", got)
	}
}

func TestLossLogErrors(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "losses.csv")
	if err := os.WriteFile(path, []byte("step,epoch,a,images_per_sec\n1,0,2,3\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := OpenLossLog(path, []string{"a", "b"}, 5)
	if err == nil || !strings.Contains(err.Error(), "losses.csv") || !strings.Contains(err.Error(), "step,epoch,a,b,images_per_sec") {
		t.Errorf("header mismatch error %v, want one naming the file and the expected header", err)
	}
	if err := os.WriteFile(path, []byte("step,epoch,a,images_per_sec\nx,0,2,3\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err = OpenLossLog(path, []string{"a"}, 5)
	if err == nil || !strings.Contains(err.Error(), "line 2") {
		t.Errorf("bad step error %v, want one naming line 2", err)
	}
	if _, err := OpenLossLog(filepath.Join(dir, "b.csv"), []string{"a,b"}, 0); err == nil {
		t.Error("loss name with a comma accepted")
	}
	l, err := OpenLossLog(filepath.Join(dir, "c.csv"), []string{"a"}, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	if err := l.Log(1, 0, []float64{1, 2}, 0); err == nil || !strings.Contains(err.Error(), "2 values for 1 losses") {
		t.Errorf("Log with 2 values for 1 loss: error %v", err)
	}
}
