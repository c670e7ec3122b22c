package data

import (
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"image/color"
	"math"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

// pngClaiming is a PNG whose header claims a w×h 8-bit gray image and whose
// data is one empty chunk: a few dozen bytes that would make a decoder
// allocate w·h bytes.
func pngClaiming(w, h uint32) []byte {
	out := []byte("\x89PNG\r\n\x1a\n")
	chunk := func(kind string, body []byte) {
		out = binary.BigEndian.AppendUint32(out, uint32(len(body)))
		start := len(out)
		out = append(out, kind...)
		out = append(out, body...)
		out = binary.BigEndian.AppendUint32(out, crc32.ChecksumIEEE(out[start:]))
	}
	ihdr := binary.BigEndian.AppendUint32(nil, w)
	ihdr = binary.BigEndian.AppendUint32(ihdr, h)
	ihdr = append(ihdr, 8, 0, 0, 0, 0) // bit depth 8, gray, deflate, no filter, no interlace
	chunk("IHDR", ihdr)
	chunk("IDAT", []byte{0x78, 0x9c, 0x03, 0x00, 0x00, 0x00, 0x00, 0x01})
	chunk("IEND", nil)
	return out
}

// jpegClaiming is a baseline JPEG header (SOI, JFIF APP0, SOF0) claiming a
// w×h gray image.
func jpegClaiming(w, h uint16) []byte {
	out := []byte{0xff, 0xd8, 0xff, 0xe0, 0, 16, 'J', 'F', 'I', 'F', 0, 1, 1, 0, 0, 1, 0, 1, 0, 0}
	out = append(out, 0xff, 0xc0, 0, 11, 8)
	out = binary.BigEndian.AppendUint16(out, h)
	out = binary.BigEndian.AppendUint16(out, w)
	return append(out, 1, 1, 0x11, 0, 0xff, 0xd9)
}

// An image file whose header declares a size beyond the limits is refused
// from its header, naming the file and the size, before anything that size
// is allocated (the hostile files of issue 9 made the loader allocate 4 to 7 GB).
func TestImageSizeIsBounded(t *testing.T) {
	for _, c := range []struct {
		name string
		data []byte
		want string
	}{
		{"wide.png", pngClaiming(30000, 30000), "30000×30000"},
		{"tall.png", pngClaiming(1, MaxImageSide+1), "1×16385"},
		{"many.png", pngClaiming(6000, 6000), "6000×6000"},
		{"huge.jpg", jpegClaiming(65535, 65535), "65535×65535"},
	} {
		dir := t.TempDir()
		path := filepath.Join(dir, c.name)
		if err := os.WriteFile(path, c.data, 0o644); err != nil {
			t.Fatal(err)
		}
		ds, err := OpenFolder(dir, 1, 28, 28)
		if err != nil {
			t.Fatal(err)
		}
		err = ds.Image(0, make([]float32, 28*28))
		if err == nil || !strings.Contains(err.Error(), path) || !strings.Contains(err.Error(), c.want) || !strings.Contains(err.Error(), "limit") {
			t.Errorf("%s (%d bytes): error %v, want one naming the file, its size %s and the limit", c.name, len(c.data), err, c.want)
		}
	}
	// Within the limits, the same kind of header is decoded (and fails on
	// its empty data, naming the file): the limit is what refused the above.
	dir := t.TempDir()
	path := filepath.Join(dir, "ok.png")
	os.WriteFile(path, pngClaiming(4000, 4000), 0o644)
	ds, err := OpenFolder(dir, 1, 28, 28)
	if err != nil {
		t.Fatal(err)
	}
	if err := ds.Image(0, make([]float32, 28*28)); err == nil || strings.Contains(err.Error(), "limit") {
		t.Errorf("a 4000×4000 header: error %v, want a decode error, not the size limit", err)
	}
}

// SkipBad replaces an image that does not load by the next that does, in
// file order and wrapping round, tells of each bad file once, and fails
// only when nothing loads.
func TestSkipBad(t *testing.T) {
	dir := t.TempDir()
	shades := []uint8{10, 0, 0, 40, 0} // 0: a corrupt file
	for i, v := range shades {
		path := filepath.Join(dir, fmt.Sprintf("%d.png", i))
		if v == 0 {
			os.WriteFile(path, []byte("\x89PNG\r\n\x1a\nscraped junk"), 0o644)
			continue
		}
		saveImage(t, path, solid(4, 4, color.NRGBA{v, v, v, 255}))
	}
	ds, err := OpenFolder(dir, 1, 4, 4)
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	skipped := map[string]int{}
	sb := SkipBad(ds, func(i int, err error) {
		mu.Lock()
		defer mu.Unlock()
		skipped[fmt.Sprint(i)]++
		if !strings.Contains(err.Error(), fmt.Sprintf("%d.png", i)) {
			t.Errorf("skipped image %d: error %v does not name its file", i, err)
		}
	})
	want := []uint8{10, 40, 40, 40, 10} // image 4 wraps round to image 0
	var wg sync.WaitGroup
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			dst := make([]float32, 16)
			for i, v := range want {
				if err := sb.Image(i, dst); err != nil {
					t.Error(err)
					return
				}
				if math.Abs(float64(dst[0])-scaled(float64(v))) > 1e-6 {
					t.Errorf("image %d: %v, want the image of shade %d", i, dst[0], v)
				}
			}
		}()
	}
	wg.Wait()
	if fmt.Sprint(skipped) != "map[1:1 2:1 4:1]" {
		t.Errorf("skipped %v, want images 1, 2 and 4 once each", skipped)
	}

	bad := t.TempDir()
	os.WriteFile(filepath.Join(bad, "a.png"), []byte("junk"), 0o644)
	ds, _ = OpenFolder(bad, 1, 4, 4)
	if err := SkipBad(ds, func(int, error) {}).Image(0, make([]float32, 16)); err == nil || !strings.Contains(err.Error(), "none of its 1 images") {
		t.Errorf("a folder of corrupt files: %v, want an error saying none loads", err)
	}
}
