package cmd

import (
	"fmt"
	"io"
	"os"
	"time"

	"github.com/flowdoc/flowdoc/flow"
)

// progress draws one status line on a terminal while a pass runs.
type progress struct {
	w       io.Writer
	start   time.Time
	last    time.Time
	drawn   bool
	packets uint64
}

// newProgress returns nil when no progress should be shown.
func newProgress(w io.Writer, mode string) *progress {
	switch mode {
	case "never":
		return nil
	case "auto":
		f, ok := w.(*os.File)
		if !ok {
			return nil
		}
		st, err := f.Stat()
		if err != nil || st.Mode()&os.ModeCharDevice == 0 {
			return nil
		}
	}
	now := time.Now()
	return &progress{w: w, start: now, last: now}
}

func (p *progress) update(pr flow.Progress) {
	now := time.Now()
	if now.Sub(p.last) < 250*time.Millisecond {
		return
	}
	p.last = now
	p.packets = pr.Packets
	el := now.Sub(p.start).Seconds()
	rate := float64(pr.Packets) / el
	line := fmt.Sprintf("reading: %s packets, %s, %.2f M packets/s, %d connections open", count(pr.Packets), size(pr.BytesRead), rate/1e6, pr.Open)
	if pr.Total > 0 && pr.BytesRead > 0 {
		frac := float64(pr.BytesRead) / float64(pr.Total)
		left := time.Duration(el/frac*(1-frac)) * time.Second
		line = fmt.Sprintf("reading: %3.0f%% of %s, %s packets, %.2f M packets/s, %s left", 100*frac, size(pr.Total), count(pr.Packets), rate/1e6, left.Round(time.Second))
	}
	fmt.Fprintf(p.w, "\r\033[K%s", line)
	p.drawn = true
}

func (p *progress) done() {
	if p.drawn {
		fmt.Fprint(p.w, "\r\033[K")
	}
}

func count(n uint64) string {
	switch {
	case n >= 1e6:
		return fmt.Sprintf("%.1f M", float64(n)/1e6)
	case n >= 1e3:
		return fmt.Sprintf("%.1f k", float64(n)/1e3)
	}
	return fmt.Sprint(n)
}

func size(n int64) string {
	switch {
	case n >= 1<<30:
		return fmt.Sprintf("%.1f GiB", float64(n)/(1<<30))
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d B", n)
}
