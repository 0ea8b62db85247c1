package cmd

import (
	"io"
	"os"

	"golang.org/x/term"
)

func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

// terminalStyle decides colour and width for a report written to w: a
// terminal gets its width, and colour unless mode is never, NO_COLOR is
// set and not empty
// (https://no-color.org) or TERM is dumb; mode always colours anything.
func terminalStyle(w io.Writer, mode string) (color bool, width int) {
	tty := isTerminal(w)
	if tty {
		if cols, _, err := term.GetSize(int(w.(*os.File).Fd())); err == nil && cols > 0 {
			width = cols
		}
	}
	switch mode {
	case "always":
		return true, width
	case "never":
		return false, width
	}
	return tty && os.Getenv("NO_COLOR") == "" && os.Getenv("TERM") != "dumb", width
}
