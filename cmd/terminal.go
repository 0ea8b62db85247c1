package cmd

import (
	"bytes"
	"io"
	"os"
	"strings"

	"golang.org/x/term"

	"github.com/flowdoc/flowdoc/analyze"
	"github.com/flowdoc/flowdoc/report"
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

// terminalSize is w's size when it is a terminal; 0, 0 otherwise.
func terminalSize(w io.Writer) (cols, rows int) {
	if !isTerminal(w) {
		return 0, 0
	}
	cols, rows, err := term.GetSize(int(w.(*os.File).Fd()))
	if err != nil {
		return 0, 0
	}
	return cols, rows
}

// liveScreen draws flowdoc live's view as full-screen programs do: on
// the terminal's alternate screen, redrawn in place, so that no frame is
// left in the scrollback; close goes back to the screen as it was, for
// what flowdoc says at the end to stay. The nil *liveScreen does nothing.
type liveScreen struct {
	w  io.Writer
	on bool // on the alternate screen
}

func newLiveScreen(w io.Writer) *liveScreen { return &liveScreen{w: w} }

// draw replaces the screen with the view. Each line clears the rest of
// its row, and the rows below the view are cleared: no part of an older,
// longer frame stays.
func (s *liveScreen) draw(st report.LiveStatus, rep *analyze.Report) {
	cols, rows := terminalSize(s.w)
	var view bytes.Buffer
	if rows > 0 {
		rows-- // the cursor's row: a full screen would scroll
	}
	report.LiveView(&view, st, rep, cols, rows)
	var b strings.Builder
	if !s.on {
		b.WriteString("\x1b[?1049h\x1b[?25l") // the alternate screen; the cursor hidden
		s.on = true
	}
	b.WriteString("\x1b[H")
	lines := strings.Split(strings.TrimSuffix(view.String(), "\n"), "\n")
	if rows > 0 && len(lines) > rows {
		lines = lines[:rows]
	}
	for i, l := range lines {
		if i > 0 {
			b.WriteString("\r\n")
		}
		b.WriteString(l + "\x1b[K")
	}
	b.WriteString("\x1b[J")
	io.WriteString(s.w, b.String())
}

// close leaves the alternate screen and shows the cursor again.
func (s *liveScreen) close() {
	if s == nil || !s.on {
		return
	}
	io.WriteString(s.w, "\x1b[?25h\x1b[?1049l")
	s.on = false
}
