package comm

import (
	"fmt"
	"os"
)

// exit prints msg (when not empty) on standard error and ends the process.
func exit(code int, msg string) {
	if msg != "" {
		fmt.Fprintln(os.Stderr, msg)
	}
	os.Exit(code)
}
