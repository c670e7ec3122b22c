package data

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// Attributes is a table of binary attributes of image files in CelebA's
// list_attr_celeba.txt format: a line with the number of images, a line of
// attribute names, then one line per image: its file name and a 1 or −1 per
// attribute.
type Attributes struct {
	Path  string
	Names []string
	rows  map[string][]bool // file name → has each attribute
}

// ReadAttributes reads an attribute table, checking its counts and values;
// errors name the file and the line.
func ReadAttributes(path string) (*Attributes, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("data: %w", err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64*1024), 1<<20)
	line := 0
	next := func() ([]string, bool) {
		for sc.Scan() {
			line++
			if fields := strings.Fields(sc.Text()); len(fields) > 0 {
				return fields, true
			}
		}
		return nil, false
	}
	fail := func(format string, args ...any) error {
		return fmt.Errorf("data: %s, line %d: %s", path, line, fmt.Sprintf(format, args...))
	}
	head, ok := next()
	if !ok {
		return nil, fmt.Errorf("data: %s: empty, want an image count, attribute names and one line per image", path)
	}
	n, err := strconv.Atoi(head[0])
	if len(head) != 1 || err != nil || n < 1 {
		return nil, fail("%q: want the number of images", strings.Join(head, " "))
	}
	names, ok := next()
	if !ok {
		return nil, fail("no line of attribute names")
	}
	a := &Attributes{Path: path, Names: names, rows: make(map[string][]bool, n)}
	for range n {
		fields, ok := next()
		if !ok {
			return nil, fail("%d image lines, the first line says %d", len(a.rows), n)
		}
		if len(fields) != len(names)+1 {
			return nil, fail("%d values for %s, want one per attribute (%d)", len(fields)-1, fields[0], len(names))
		}
		if _, dup := a.rows[fields[0]]; dup {
			return nil, fail("%s listed twice", fields[0])
		}
		has := make([]bool, len(names))
		for j, v := range fields[1:] {
			switch v {
			case "1":
				has[j] = true
			case "-1":
			default:
				return nil, fail("%s: attribute %s is %q, want 1 or -1", fields[0], names[j], v)
			}
		}
		a.rows[fields[0]] = has
	}
	if extra, ok := next(); ok {
		return nil, fail("more image lines than the %d the first line says (%s)", n, extra[0])
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("data: %s: %w", path, err)
	}
	return a, nil
}

// For returns, for each attribute, which of the first n images of ds (a
// folder of image files) have it, matching the table's rows to the images
// by file name. An image the table does not list is an error.
func (a *Attributes) For(ds Dataset, n int) ([][]bool, error) {
	files, ok := ds.(*folder)
	if !ok {
		return nil, fmt.Errorf("data: attributes of %s: an attribute table matches a folder of image files by name, and %s is not one", a.Path, ds.Name())
	}
	has := make([][]bool, len(a.Names))
	for j := range has {
		has[j] = make([]bool, n)
	}
	for i := range n {
		name := filepath.Base(files.files[i])
		row, ok := a.rows[name]
		if !ok {
			return nil, fmt.Errorf("data: %s lists no %s (image %d of %s)", a.Path, name, i, ds.Name())
		}
		for j, v := range row {
			has[j][i] = v
		}
	}
	return has, nil
}
