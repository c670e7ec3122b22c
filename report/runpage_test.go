package report

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// A live page reloads itself and a stopped one does not; the quality CSV
// becomes a table; text is escaped.
func TestWriteRunPage(t *testing.T) {
	dir := t.TempDir()
	q := filepath.Join(dir, "quality.csv")
	os.WriteFile(q, []byte("step,frechet\n500,12.5\n1000,9.75\n"), 0o644)
	page := filepath.Join(dir, "index.html")
	p := RunPage{Title: "a <b> run", Step: 500, Total: 1000, Live: true, QualityCSV: q,
		Losses: []NamedValue{{"kl", 3.25}}, Updated: time.Date(2026, 12, 2, 10, 0, 0, 0, time.UTC)}
	if err := WriteRunPage(page, p); err != nil {
		t.Fatal(err)
	}
	body, _ := os.ReadFile(page)
	for _, want := range []string{`http-equiv="refresh" content="30"`, "a &lt;b&gt; run", "step 500 of 1000", "width:50%",
		"<th>frechet</th>", "<td>9.75</td>", "<th>kl</th>", "<td>3.25</td>"} {
		if !strings.Contains(string(body), want) {
			t.Errorf("live page lacks %q", want)
		}
	}
	p.Live = false
	if err := WriteRunPage(page, p); err != nil {
		t.Fatal(err)
	}
	if body, _ := os.ReadFile(page); strings.Contains(string(body), "refresh") {
		t.Error("a stopped run's page reloads itself")
	}
}
