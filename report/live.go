package report

import (
	"fmt"
	"io"
	"strings"
	"time"
	"unicode/utf8"

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

// LiveView draws the compact view flowdoc live refreshes on a terminal
// width columns wide and height rows high (0: unbounded): traffic,
// flows, endpoint states per host (the busiest five), the host's socket
// table and the findings so far, each with who it is about, the process
// holding the sockets when the kernel names it. Every line fits the
// width (a longer one is cut, never wrapped by the terminal), and the
// whole view the height.
func LiveView(w io.Writer, st LiveStatus, rep *analyze.Report, width, height int) error {
	if width <= 0 {
		width = 80
	}
	var b strings.Builder
	line := func(format string, a ...any) { b.WriteString(fit(fmt.Sprintf(format, a...), width) + "\n") }
	line("flowdoc live on %s: %s, %d packets (%.0f/s), %d dropped", st.Interface, dur(st.Elapsed.Round(time.Second)), st.Packets, st.Rate, st.Dropped)
	head := fmt.Sprintf("%s, %d still open", plural(rep.Totals.Flows, "connection"), rep.StillOpen())
	if st.Evicted > 0 {
		head += fmt.Sprintf(", %d dropped from memory (--max-flows)", st.Evicted)
	}
	if n := rep.Totals.Folded; n > 0 {
		head += fmt.Sprintf("; %d more counted, not listed", n)
	}
	line("%s", head)
	b.WriteString("\n")
	var hosts strings.Builder
	hostTable(&hosts, rep, false, 5)
	for _, l := range strings.Split(strings.TrimSuffix(hosts.String(), "\n"), "\n") {
		line("%s", l)
	}
	if k := rep.Kernel; k != nil {
		b.WriteString("\n")
		var kb strings.Builder
		wrap(&kb, width, "", liveKernelLine(k)+".")
		if h := unnamedLine(k); h != "" {
			wrap(&kb, width, "", h+".")
		}
		b.WriteString(kb.String())
	}
	top := b.String()
	const foot = "\nCtrl-C stops the capture and writes the report.\n"

	// The findings take the rows left, two each: what, and who.
	var fb strings.Builder
	if len(rep.Findings) == 0 {
		fb.WriteString("\nNo findings yet.\n")
	} else {
		fb.WriteString("\nFindings:\n")
	}
	rows := -1 // unbounded
	if height > 0 {
		rows = height - strings.Count(top, "\n") - strings.Count(foot, "\n") - 3
	}
	for i, f := range rep.Findings {
		if rows >= 0 && rows < 2+min(1, len(rep.Findings)-i-1) {
			fb.WriteString(fit(fmt.Sprintf("  (%d more)", len(rep.Findings)-i), width) + "\n")
			break
		}
		fb.WriteString(fit(fmt.Sprintf("  %-7s %s  %s  (%s)", strings.ToUpper(f.Severity.String()), f.Class, strings.Join(scopeOf(&f), " > "), f.Size()), width) + "\n")
		fb.WriteString(fit("          "+findingWho(rep, &f), width) + "\n")
		rows -= 2
	}
	_, err := io.WriteString(w, top+fb.String()+foot)
	return err
}

// findingWho is the line under a finding in the live view: the first
// clause of its summary ("pid 4242 (java) holds 412 sockets in
// CLOSE_WAIT to 10.0.9.2:8080"), led for a leak the capture found by the
// process the kernel names for it.
func findingWho(rep *analyze.Report, f *analyze.Finding) string {
	s := f.Summary
	for _, sep := range []string{" (the kernel's", "; ", ". ", ", "} {
		if i := strings.Index(s, sep); i > 0 {
			s = s[:i]
		}
	}
	s = strings.TrimSuffix(s, ".")
	if f.Class != analyze.CloseWaitLeak {
		return s
	}
	if h := rep.Holders(f); h != "" {
		if i := strings.Index(h, " ("+analyze.NamingHint); i > 0 {
			h = h[:i] // the socket table's lines say it
		}
		return h + " on " + s
	}
	return s
}

// liveKernelLine is kernelLine for the live view: shorter, to fit a line.
func liveKernelLine(k *analyze.KernelView) string {
	return fmt.Sprintf("Socket table at %s: %s, %d with packets, %d disagreeing",
		k.At.Format("15:04:05"), plural(k.Sockets, "socket"), k.Matched, len(k.Disagreements))
}

// fit cuts s to width columns, ending it with "…" when cut.
func fit(s string, width int) string {
	if utf8.RuneCountInString(s) <= width {
		return s
	}
	r := []rune(s)
	return string(r[:width-1]) + "…"
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
	open := fmt.Sprintf("%d open", rep.StillOpen())
	if n := rep.Totals.Folded; n > 0 {
		open += fmt.Sprintf(", %d more counted, not listed", n)
	}
	return fmt.Sprintf("flowdoc live: %s on %s, %d packets (%.0f/s), %d dropped, %d connections (%s), %d findings (%d errors)",
		dur(st.Elapsed.Round(time.Second)), st.Interface, st.Packets, st.Rate, st.Dropped, rep.Totals.Flows, open, len(rep.Findings), errs)
}
