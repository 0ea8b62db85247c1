package report

import (
	"bufio"
	"fmt"
	"io"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"
	"unicode/utf8"

	"github.com/flowdoc/flowdoc/analyze"
)

// Text is the terminal report: a headline, the endpoint states per host,
// the findings, then the flows that did not close cleanly (every flow with
// All).
type Text struct {
	All bool
	// Color marks severities and the endpoints verdicts are about with
	// ANSI colours.
	Color bool
	// Width is the terminal's width in columns. Text wraps to it, and a
	// flow table wider than it puts each flow's notes on a line of their
	// own. 0 (not a terminal) wraps text at 100 columns and keeps each
	// flow on one line, for grep.
	Width int
}

// maxLocalShown is how many of the capturing host's addresses the text
// report names.
const maxLocalShown = 8

// Render implements Renderer.
func (t *Text) Render(w io.Writer, rep *analyze.Report) error {
	bw := bufio.NewWriter(w)
	width := t.Width
	if width <= 0 {
		width = 100
	}
	width = max(width, 40)
	c := painter(t.Color)
	textHeader(bw, rep, width)
	if rep.Busy() && !t.All {
		textSummary(bw, rep, width, c)
		fmt.Fprintln(bw)
	}
	fmt.Fprintf(bw, "Endpoint states at %s:\n", rep.End.UTC().Format("2006-01-02 15:04:05.000000 MST"))
	hostTable(bw, rep, t.All, 0)
	textFindings(bw, rep, t.All, width, c)
	if k := rep.Kernel; k != nil {
		textKernel(bw, k, width)
	}
	if listed, more := rep.ShownFlows(t.All); len(listed) > 0 {
		switch {
		case t.All:
			fmt.Fprintf(bw, "\nFlows:\n")
		case more > 0:
			fmt.Fprintf(bw, "\nFlows not closed cleanly, the most severe %d of %d (--all lists every flow):\n", len(listed), len(listed)+more)
		default:
			fmt.Fprintf(bw, "\nFlows not closed cleanly (--all lists every flow):\n")
		}
		t.flowTable(bw, rep, listed, width, c)
	}
	if w := rep.Warnings(); len(w) > 0 {
		fmt.Fprintf(bw, "\n%s\n", c.severity("Warnings:", analyze.Warning))
		for _, s := range w {
			fmt.Fprintf(bw, "  %s\n", s)
		}
	}
	return bw.Flush()
}

// textHeader writes the inputs, what the report was narrowed to, the
// headline and the moment the states stand at.
func textHeader(w io.Writer, rep *analyze.Report, width int) {
	for i := range rep.Inputs {
		fmt.Fprintf(w, "%s: %s\n", rep.Inputs[i].Path, inputDetail(&rep.Inputs[i], ""))
	}
	if c := rep.Capture; c != nil {
		wrap(w, width, "", captureLine(c)+".")
	}
	if !rep.Filter.IsZero() {
		wrap(w, width, "", fmt.Sprintf("Showing only: %s.", rep.Filter))
	}
	if len(rep.LocalAddrs) > 0 {
		var a []string
		for _, l := range rep.LocalAddrs[:min(len(rep.LocalAddrs), maxLocalShown)] {
			a = append(a, l.Unmap().String())
		}
		if more := len(rep.LocalAddrs) - len(a); more > 0 {
			a = append(a, fmt.Sprintf("and %d more (the JSON's local_addresses)", more))
		}
		wrap(w, width, "", fmt.Sprintf("Captured on the host with %s %s (from the packets' directions).", map[bool]string{true: "address", false: "addresses"}[len(rep.LocalAddrs) == 1], strings.Join(a, ", ")))
	}
	head := rep.Totals.Summary()
	if extra := rep.Totals.Caveats(); len(extra) > 0 {
		head += " (" + strings.Join(extra, ", ") + ")"
	}
	wrap(w, width, "", head+".")
}

// textSummary writes a busy capture's summary: per finding class, how
// much it covers, and its remedy once.
func textSummary(w io.Writer, rep *analyze.Report, width int, c painter) {
	fmt.Fprintf(w, "\nSummary, most severe first:\n")
	for _, s := range rep.Summary() {
		fmt.Fprintf(w, "\n%s %s  %s\n", c.severity(fmt.Sprintf("%-7s", strings.ToUpper(s.Severity.String())), s.Severity),
			c.bold(string(s.Class)), s.Counts())
		wrap(w, width, "  ", "Remedy: "+s.Remedy)
	}
}

// textFindings writes the findings shown, most severe first.
func textFindings(w io.Writer, rep *analyze.Report, all bool, width int, c painter) {
	shown, more := rep.ShownFindings(all)
	summed := rep.Busy() && !all // the summary said each class's remedy
	switch {
	case more > 0:
		fmt.Fprintf(w, "\nFindings, the worst of each class (%d more: --all, or --format json):\n", more)
	case len(shown) > 0:
		fmt.Fprintf(w, "\nFindings, most severe first:\n")
	}
	for _, i := range shown {
		f := rep.Findings[i]
		scope := scopeOf(&f)
		fmt.Fprintf(w, "\n%s %s", c.severity(fmt.Sprintf("%-7s", strings.ToUpper(f.Severity.String())), f.Severity), c.bold(string(f.Class)))
		if len(scope) > 0 {
			fmt.Fprintf(w, "  %s", strings.Join(scope, " > "))
		}
		fmt.Fprintf(w, "  (%s)\n", f.Size())
		wrap(w, width, "  ", f.Summary)
		if len(f.Evidence) > 0 {
			var ev []string
			for _, e := range f.Evidence {
				ev = append(ev, evidenceText(rep, e))
			}
			wrap(w, width, "  ", "Evidence: "+strings.Join(ev, "; "))
		}
		if !summed || f.Remedy != rep.Remedy(f.Class) {
			wrap(w, width, "  ", "Remedy: "+f.Remedy)
		}
		fmt.Fprintf(w, "  More: flowdoc explain %s\n", f.Class)
	}
}

// textKernel writes the host's socket table as joined to the flows: the
// disagreements, and the sockets without packets (the first 30 groups).
func textKernel(w io.Writer, k *analyze.KernelView, width int) {
	fmt.Fprintf(w, "\n")
	if len(k.Disagreements) > 0 {
		wrap(w, width, "", kernelLine(k)+":")
	} else {
		wrap(w, width, "", kernelLine(k)+".")
	}
	for _, d := range k.Disagreements {
		wrap(w, width, "  ", d.String())
	}
	if h := unnamedLine(k); h != "" {
		wrap(w, width, "", h+".")
	}
	if len(k.Unseen) == 0 {
		return
	}
	fmt.Fprintf(w, "Sockets without packets in the capture (quiet since before it started, or not captured):\n")
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "  STATE\tSOCKETS\tPROCESS\tLOCAL\tPEER\tRECV-Q\tSEND-Q")
	for i, g := range k.Unseen {
		if i == 30 {
			fmt.Fprintf(tw, "  ... %d more groups (--format json lists them)\n", len(k.Unseen)-30)
			break
		}
		fmt.Fprintf(tw, "  %s\t%d\t%s\t%s\t%s\t%d\t%d\n", g.State, g.Count, g.Process(), g.LocalText(), g.PeerText(), g.RxQueue, g.TxQueue)
	}
	tw.Flush()
}

// hostTable writes the endpoint states per host, a column for each state
// that occurs: the hosts the report shows (all of them with all; at most
// limit, when set).
func hostTable(w io.Writer, rep *analyze.Report, all bool, limit int) {
	st, more := rep.ShownStateTable(all, limit)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprint(tw, "HOST\tCONNS\t")
	for _, s := range st.States {
		fmt.Fprintf(tw, "%s\t", s)
	}
	fmt.Fprintln(tw)
	for _, h := range st.Hosts {
		fmt.Fprintf(tw, "%s\t%d\t", h.Host, h.Total)
		for _, n := range h.Counts {
			fmt.Fprintf(tw, "%d\t", n)
		}
		fmt.Fprintln(tw)
	}
	if more > 0 {
		fmt.Fprintf(tw, "(%d more hosts: --all)\t\n", more)
	}
	tw.Flush()
}

// flowTable lists the flows listed (indexes in rep.Flows), one line
// each; when that is wider than width, each flow's notes go on a line of
// their own below it. It goes over the flows twice, first to size the
// columns, then to write: a capture of a leak can hold a hundred thousand
// unclean flows, and their lines all kept at once would take more memory
// than their records.
func (t *Text) flowTable(w io.Writer, rep *analyze.Report, listed []int, width int, c painter) {
	header := []string{"ID", "CLIENT", "SERVER", "CLIENT STATE", "SERVER STATE", "DURATION", "PKTS", "HISTORY"}
	cells := make([]string, len(header))
	var v analyze.FlowView
	// each calls fn with the cells and notes of every flow listed; cells
	// is reused from one call to the next.
	each := func(fn func(cells []string, notes string)) {
		for _, i := range listed {
			rep.ViewFlow(i, &v, false)
			// The endpoint a verdict is about takes the verdict's colour.
			sev := v.SideSeverity()
			cells = append(cells[:0], strconv.Itoa(v.ID), v.Client.String(), v.Server.String(),
				c.cell(v.Ends.Client.StateText(), sev.Client.V, sev.Client.Set),
				c.cell(v.Ends.Server.StateText(), sev.Server.V, sev.Server.Set), dur(v.Duration()),
				strconv.FormatUint(v.Packets.Client, 10)+"/"+strconv.FormatUint(v.Packets.Server, 10), v.History)
			fn(cells, v.Notes())
		}
	}
	// Each column as wide as its widest cell, two spaces apart; colour
	// codes take no room on the screen.
	widths := make([]int, len(header))
	for col, h := range header {
		widths[col] = visibleLen(h)
	}
	widest := 0
	each(func(cells []string, notes string) {
		for col, cell := range cells {
			widths[col] = max(widths[col], visibleLen(cell))
		}
		widest = max(widest, len(notes))
	})
	total := 0
	for _, wd := range widths {
		total += wd + 2
	}
	// Notes stay on the flow's line unless that is wider than the
	// terminal; then the history joins them if the line is still too wide.
	inline := t.Width <= 0 || total+max(widest, len("NOTES")) <= width
	historyInNotes := !inline && total > width
	if historyInNotes {
		header, widths = header[:len(header)-1], widths[:len(widths)-1]
	}
	var buf []byte // reused from one line to the next
	line := func(cells []string, notes string) {
		buf = buf[:0]
		for col, cell := range cells {
			buf = append(buf, cell...)
			if col < len(cells)-1 || notes != "" {
				for range widths[col] - visibleLen(cell) + 2 {
					buf = append(buf, ' ')
				}
			}
		}
		buf = append(buf, notes...)
		buf = append(buf, '\n')
		w.Write(buf)
	}
	if inline {
		line(header, "NOTES")
	} else {
		line(header, "")
	}
	each(func(cells []string, notes string) {
		switch {
		case inline:
			line(cells, notes)
			return
		case historyInNotes:
			last := len(cells) - 1
			notes = strings.TrimSuffix("history "+cells[last]+", "+notes, ", ")
			cells = cells[:last]
		}
		line(cells, "")
		if notes != "" {
			wrap(w, width, "    ", notes)
		}
	})
}

// captureLine describes a live capture and its losses.
func captureLine(c *analyze.CaptureStats) string {
	s := fmt.Sprintf("Live capture on %s", c.Interface)
	if c.Filter != "" {
		s += fmt.Sprintf(" (filter %q)", c.Filter)
	}
	s += fmt.Sprintf(" for %s: %d packets received, %d dropped", dur(c.Duration), c.Received, c.Dropped+c.IfDropped)
	return s
}

// kernelLine describes the kernel's socket table as joined.
func kernelLine(k *analyze.KernelView) string {
	return fmt.Sprintf("The host's socket table at %s: %s, %d of them with packets in the capture, %d disagreeing with the inferred state",
		k.At.UTC().Format("15:04:05"), plural(k.Sockets, "connection socket"), k.Matched, len(k.Disagreements))
}

// unnamedLine says how many sockets' processes could not be named, and
// what naming them takes; "" when every one was named.
func unnamedLine(k *analyze.KernelView) string {
	if k.Unnamed == 0 {
		return ""
	}
	return fmt.Sprintf("%s held by an unknown process: %s", plural(k.Unnamed, "socket"), analyze.NamingHint)
}

// evidenceText is "#12 17:39:21.648 FIN from server", with the input's
// name when there are several.
func evidenceText(rep *analyze.Report, e analyze.Evidence) string {
	s := fmt.Sprintf("#%d %s %s", e.Packet, e.At.Time().Format("15:04:05.000"), e.What)
	if len(rep.Inputs) > 1 && e.Input < len(rep.Inputs) {
		s = rep.Inputs[e.Input].Path + s
	}
	return s
}

// wrap writes text as lines of at most width columns, each after indent.
func wrap(w io.Writer, width int, indent, text string) {
	line := indent
	for _, word := range keepUnits(strings.Fields(text)) {
		if len(line) > len(indent) && len(line)+1+len(word) > width {
			fmt.Fprintln(w, line)
			line = indent + "  "
		}
		if len(line) > len(indent) && !strings.HasSuffix(line, "  ") {
			line += " "
		}
		line += word
	}
	fmt.Fprintln(w, line)
}

// keepUnits joins a unit to the number before it ("3.1", "s," becomes
// "3.1 s,"), so that wrapping never separates them.
func keepUnits(words []string) []string {
	var out []string
	for _, w := range words {
		unit := strings.TrimRight(w, ").,;:")
		switch unit {
		case "s", "ms", "µs", "min", "h":
			if n := len(out); n > 0 {
				out[n-1] += " " + w
				continue
			}
		}
		out = append(out, w)
	}
	return out
}

func plural(n int, one string) string {
	if n == 1 {
		return "1 " + one
	}
	return fmt.Sprintf("%d %ss", n, one)
}

func dur(d time.Duration) string { return analyze.FormatDuration(d) }

// painter adds ANSI colours when set, and nothing otherwise.
type painter bool

const ansiReset = "\x1b[0m"

var severityColor = map[analyze.Severity]string{
	analyze.Info:    "\x1b[36m", // cyan
	analyze.Warning: "\x1b[33m", // yellow
	analyze.Error:   "\x1b[31m", // red
}

func (c painter) bold(s string) string {
	if !c {
		return s
	}
	return "\x1b[1m" + s + ansiReset
}

func (c painter) severity(s string, sev analyze.Severity) string {
	if !c {
		return s
	}
	return "\x1b[1m" + severityColor[sev] + s + ansiReset
}

// cell colours a table cell by a severity, when colored.
func (c painter) cell(s string, sev analyze.Severity, colored bool) string {
	if !bool(c) || !colored {
		return s
	}
	return severityColor[sev] + s + ansiReset
}

// visibleLen is the number of columns s takes on a terminal: its runes,
// less ANSI colour codes.
func visibleLen(s string) int {
	n := 0
	for i := 0; i < len(s); {
		if s[i] == 0x1b {
			if j := strings.IndexByte(s[i:], 'm'); j > 0 {
				i += j + 1
				continue
			}
		}
		_, size := utf8.DecodeRuneInString(s[i:])
		i += size
		n++
	}
	return n
}
