package report

import (
	"bufio"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/flowdoc/flowdoc/analyze"
)

// Text is the terminal report: a headline, the endpoint states per host,
// then the flows that did not close cleanly (every flow with All).
type Text struct {
	All bool
}

// Render implements Renderer.
func (t *Text) Render(w io.Writer, rep *analyze.Report) error {
	bw := bufio.NewWriter(w)
	p := func(format string, a ...any) { fmt.Fprintf(bw, format, a...) }
	tot := rep.Totals

	for _, in := range rep.Inputs {
		span := ""
		if !in.First.IsZero() {
			span = fmt.Sprintf(", %s to %s (%s)", in.First.UTC().Format("2006-01-02 15:04:05.000"),
				in.Last.UTC().Format("15:04:05.000"), dur(in.Last.Sub(in.First)))
		}
		p("%s: %s %s, %d packets, %d TCP%s\n", in.Path, in.Format, strings.Join(in.LinkTypes, "+"), in.Packets, in.TCPPackets, span)
	}
	if !rep.Filter.IsZero() {
		p("Showing only: %s.\n", rep.Filter)
	}
	if len(rep.LocalAddrs) > 0 {
		var a []string
		for _, l := range rep.LocalAddrs {
			a = append(a, l.Unmap().String())
		}
		p("Captured on the host with %s %s (from the packets' directions).\n", map[bool]string{true: "address", false: "addresses"}[len(a) == 1], strings.Join(a, ", "))
	}
	p("%s: %d closed cleanly, %d not", plural(tot.Flows, "TCP connection"), tot.Clean, tot.Flows-tot.Clean)
	var extra []string
	if tot.Midstream > 0 {
		extra = append(extra, fmt.Sprintf("%d began before the capture", tot.Midstream))
	}
	if tot.OneSided > 0 {
		extra = append(extra, fmt.Sprintf("%d seen in one direction only", tot.OneSided))
	}
	if tot.Reused > 0 {
		extra = append(extra, fmt.Sprintf("%d reused a 4-tuple", tot.Reused))
	}
	if len(extra) > 0 {
		p(" (%s)", strings.Join(extra, ", "))
	}
	p(".\nEndpoint states at %s:\n", rep.End.UTC().Format("2006-01-02 15:04:05.000000 MST"))

	// Endpoint states per host: only the states that occur get a column.
	cols := stateColumns(rep)
	tw := tabwriter.NewWriter(bw, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprint(tw, "HOST\tCONNS\t")
	for _, s := range cols {
		fmt.Fprintf(tw, "%s\t", s)
	}
	fmt.Fprintln(tw)
	for _, h := range rep.Hosts {
		fmt.Fprintf(tw, "%s\t%d\t", h.Host.Unmap(), h.Total)
		for _, s := range cols {
			fmt.Fprintf(tw, "%d\t", h.Count(s))
		}
		fmt.Fprintln(tw)
	}
	tw.Flush()

	if len(rep.Findings) > 0 {
		p("\nFindings, most severe first:\n")
	}
	for _, f := range rep.Findings {
		scope := scopeOf(&f)
		p("\n%-7s %s", strings.ToUpper(f.Severity.String()), f.Class)
		if len(scope) > 0 {
			p("  %s", strings.Join(scope, " > "))
		}
		p("  (%s)\n", plural(len(f.Flows), "flow"))
		wrap(bw, "  ", f.Summary)
		if len(f.Evidence) > 0 {
			var ev []string
			for _, e := range f.Evidence {
				ev = append(ev, evidenceText(rep, e))
			}
			wrap(bw, "  ", "Evidence: "+strings.Join(ev, "; "))
		}
		wrap(bw, "  ", "Remedy: "+f.Remedy)
		p("  More: flowdoc explain %s\n", f.Class)
	}

	listed := 0
	for i := range rep.Flows {
		if t.All || !rep.Flows[i].Clean() {
			listed++
		}
	}
	if listed > 0 {
		if t.All {
			p("\nFlows:\n")
		} else {
			p("\nFlows not closed cleanly (--all lists every flow):\n")
		}
		tw = tabwriter.NewWriter(bw, 0, 0, 2, ' ', 0)
		fmt.Fprintln(tw, "ID\tCLIENT\tSERVER\tCLIENT STATE\tSERVER STATE\tDURATION\tPKTS\tHISTORY\tNOTES")
		for i := range rep.Flows {
			f := &rep.Flows[i]
			if !t.All && f.Clean() {
				continue
			}
			r := f.Record
			fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%s\t%d/%d\t%s\t%s\n", r.ID, r.Key.Client, r.Key.Server,
				stateText(&r.Client), stateText(&r.Server), dur(r.Duration()),
				r.Client.Packets, r.Server.Packets, r.History, flowNotes(f))
		}
		tw.Flush()
	}
	if w := rep.Warnings(); len(w) > 0 {
		p("\nWarnings:\n")
		for _, s := range w {
			p("  %s\n", s)
		}
	}
	return bw.Flush()
}

func stateText(h *analyze.Half) string {
	if h.Expired != 0 {
		return fmt.Sprintf("%s (%s ended)", h.State, h.Expired)
	}
	return h.State.String()
}

func flowNotes(f *analyze.Flow) string {
	var n []string
	r := f.Record
	if r.Midstream {
		n = append(n, "midstream")
	}
	if r.RolesInferred {
		n = append(n, "roles inferred")
	}
	if r.OneSided {
		n = append(n, "one-sided")
	}
	if r.Reused {
		n = append(n, "port reused")
	}
	for _, v := range f.Verdicts {
		if v.Class == analyze.MidstreamClass {
			continue
		}
		n = append(n, string(v.Class)+"("+v.Side.String()+")")
	}
	return strings.Join(n, ", ")
}

// evidenceText is "#12 17:39:21.648 FIN from server", with the input's
// name when there are several.
func evidenceText(rep *analyze.Report, e analyze.Evidence) string {
	s := fmt.Sprintf("#%d %s %s", e.Packet, e.At.UTC().Format("15:04:05.000"), e.What)
	if len(rep.Inputs) > 1 && e.Input < len(rep.Inputs) {
		s = rep.Inputs[e.Input].Path + s
	}
	return s
}

// wrap writes text as lines of at most 100 columns, each after indent.
func wrap(w io.Writer, indent, text string) {
	const width = 100
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
