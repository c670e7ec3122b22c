package report

import (
	"fmt"
	"io"

	"github.com/vaegan-go/vaegan/atomicfile"
)

// writeFileAtomic writes the output of write to path with atomicfile.Write,
// naming path in errors.
func writeFileAtomic(path string, write func(w io.Writer) error) error {
	if err := atomicfile.Write(path, write); err != nil {
		return fmt.Errorf("report: writing %s: %w", path, err)
	}
	return nil
}
