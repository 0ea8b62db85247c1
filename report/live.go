package report

import (
	"bufio"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/flowdoc/flowdoc/analyze"
)

// LiveStatus is what flowdoc live shows at each interval.
type LiveStatus struct {
	Interface string
	Elapsed   time.Duration
	Packets   int     // captured so far
	Rate      float64 // packets per second over the last interval
	Dropped   int     // by libpcap, so far
	Evicted   int
}

// LiveView draws the compact view flowdoc live refreshes on a terminal:
// traffic, flows, endpoint states per host (the busiest ten) and the
// findings so far. Clear makes it redraw the screen from the top.
func LiveView(w io.Writer, st LiveStatus, rep *analyze.Report, clear bool) error {
	bw := bufio.NewWriter(w)
	if clear {
		bw.WriteString("\x1b[H\x1b[2J")
	}
	fmt.Fprintf(bw, "flowdoc live on %s: %s, %d packets (%.0f/s), %d dropped\n", st.Interface, dur(st.Elapsed.Round(time.Second)), st.Packets, st.Rate, st.Dropped)
	fmt.Fprintf(bw, "%s, %d still open", plural(len(rep.Flows), "connection"), rep.StillOpen())
	if st.Evicted > 0 {
		fmt.Fprintf(bw, ", %d dropped from memory (--max-flows)", st.Evicted)
	}
	bw.WriteString("\n\n")
	hostTable(bw, rep, 10)
	if k := rep.Kernel; k != nil {
		fmt.Fprintf(bw, "\n%s.\n", kernelLine(k))
	}
	if len(rep.Findings) == 0 {
		bw.WriteString("\nNo findings yet.\n")
	} else {
		bw.WriteString("\nFindings:\n")
	}
	for i, f := range rep.Findings {
		if i == 8 {
			fmt.Fprintf(bw, "  (%d more)\n", len(rep.Findings)-8)
			break
		}
		fmt.Fprintf(bw, "  %-7s %s  %s  (%s)\n", strings.ToUpper(f.Severity.String()), f.Class, strings.Join(scopeOf(&f), " > "), plural(len(f.Flows), "flow"))
	}
	bw.WriteString("\nCtrl-C stops the capture and writes the report.\n")
	return bw.Flush()
}

// LiveLine is the one line per interval flowdoc live writes when not on a
// terminal.
func LiveLine(st LiveStatus, rep *analyze.Report) string {
	errs := 0
	for _, f := range rep.Findings {
		if f.Severity == analyze.Error {
			errs++
		}
	}
	return fmt.Sprintf("flowdoc live: %s on %s, %d packets (%.0f/s), %d dropped, %d connections (%d open), %d findings (%d errors)",
		dur(st.Elapsed.Round(time.Second)), st.Interface, st.Packets, st.Rate, st.Dropped, len(rep.Flows), rep.StillOpen(), len(rep.Findings), errs)
}
