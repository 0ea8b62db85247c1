package report

import (
	"bufio"
	"fmt"
	"io"
	"path/filepath"
	"strings"

	"github.com/flowdoc/flowdoc/analyze"
)

// Markdown is a report to attach to a GitHub, GitLab or Jira ticket: the
// findings as sections with their evidence, the endpoint states per host,
// and the flows that did not close cleanly (at most MaxFlows of them).
type Markdown struct {
	// MaxFlows caps the flow table; 0 means 100.
	MaxFlows int
}

// Render implements Renderer.
func (m *Markdown) Render(w io.Writer, rep *analyze.Report) error {
	bw := bufio.NewWriter(w)
	p := func(format string, a ...any) { fmt.Fprintf(bw, format, a...) }
	mdHeader(p, rep)
	if rep.Busy() {
		mdSummary(p, rep)
	}
	mdFindings(p, rep)
	if k := rep.Kernel; k != nil {
		mdKernel(p, k)
	}
	mdStates(p, rep)
	m.flows(p, rep)
	return bw.Flush()
}

// printer writes formatted text.
type printer func(format string, a ...any)

// mdHeader writes the title, and a list of the inputs, the headline and
// what the report was narrowed to.
func mdHeader(p printer, rep *analyze.Report) {
	var names []string
	for _, in := range rep.Inputs {
		names = append(names, filepath.Base(in.Path))
	}
	p("# flowdoc report: %s\n\n", mdText(strings.Join(names, ", ")))
	for i, in := range rep.Inputs {
		p("- Capture `%s`: %s\n", mdCode(in.Path), inputDetail(&rep.Inputs[i], " UTC"))
		for _, warning := range in.Warnings {
			p("  - warning: %s\n", mdText(warning))
		}
	}
	p("- %s; states as at %s\n", rep.Totals.Summary(), rep.End.UTC().Format("2006-01-02 15:04:05.000000 MST"))
	if c := rep.Capture; c != nil {
		p("- %s\n", mdText(captureLine(c)))
	}
	if !rep.Filter.IsZero() {
		p("- Showing only: %s\n", mdText(rep.Filter.String()))
	}
	if len(rep.LocalAddrs) > 0 {
		var a []string
		for _, l := range rep.LocalAddrs {
			a = append(a, l.Unmap().String())
		}
		p("- Captured on the host with addresses %s\n", strings.Join(a, ", "))
	}
}

// mdSummary writes a busy capture's summary: a row per finding class,
// and its remedy once.
func mdSummary(p printer, rep *analyze.Report) {
	p("\n## Summary\n\n| Severity | Class | Findings | Hosts | Endpoints | Flows |\n| --- | --- | ---: | ---: | ---: | ---: |\n")
	sum := rep.Summary()
	for _, s := range sum {
		p("| %s | %s | %d | %d | %d | %d |\n", strings.ToUpper(s.Severity.String()), mdText(string(s.Class)), s.Findings, s.Hosts, s.Endpoints, s.Flows)
	}
	p("\n")
	for _, s := range sum {
		p("- **%s:** %s\n", mdText(string(s.Class)), mdText(s.Remedy))
	}
}

// mdFindings writes a section per finding shown, with its evidence.
func mdFindings(p printer, rep *analyze.Report) {
	shown, more := rep.ShownFindings(false)
	p("\n## Findings\n\n")
	if len(rep.Findings) == 0 {
		p("None.\n")
	}
	if more > 0 {
		p("The worst of each class; %d more in `flowdoc analyze --format json`.\n\n", more)
	}
	for _, i := range shown {
		f := rep.Findings[i]
		scope := scopeOf(&f)
		p("### %s: %s", strings.ToUpper(f.Severity.String()), mdText(string(f.Class)))
		if len(scope) > 0 {
			p(" (%s)", mdText(strings.Join(scope, " > ")))
		}
		p("\n\n%s\n\n", mdText(f.Summary))
		if len(f.Evidence) > 0 {
			p("| Packet | Time (UTC) | What |\n| ---: | --- | --- |\n")
			for _, e := range f.Evidence {
				p("| %s | %s | %s |\n", evidencePacket(rep, e, mdCell), e.At.Time().Format("15:04:05.000000"), mdCell(e.What))
			}
			p("\n")
		}
		p("**Remedy:** %s\n\n", mdText(f.Remedy))
		p("Flows: %s. More: `flowdoc explain %s`.\n\n", f.FlowList(20), f.Class)
	}
}

// mdKernel writes the host's socket table as joined to the flows.
func mdKernel(p printer, k *analyze.KernelView) {
	p("## The host's socket table\n\n%s.\n\n", mdText(kernelLine(k)))
	if h := unnamedLine(k); h != "" {
		p("%s.\n\n", mdText(h))
	}
	if len(k.Disagreements) > 0 {
		p("| Flow | Endpoint | Inferred | Kernel |\n| ---: | --- | --- | --- |\n")
		for _, d := range k.Disagreements {
			p("| %d | %s %s | %s | %s |\n", d.Flow, d.Side, mdCell(d.Endpoint.String()), d.Inferred, d.Kernel)
		}
		p("\n")
	}
	if len(k.Unseen) > 0 {
		p("Sockets without packets in the capture:\n\n| State | Sockets | Process | Local | Peer | Recv-Q | Send-Q |\n| --- | ---: | --- | --- | --- | ---: | ---: |\n")
		for _, g := range k.Unseen {
			p("| %s | %d | %s | %s | %s | %d | %d |\n", g.State, g.Count, mdCell(g.Process()), mdCell(g.LocalText()), mdCell(g.PeerText()), g.RxQueue, g.TxQueue)
		}
		p("\n")
	}
}

// mdStates writes the endpoint states per host: the hosts the report
// shows.
func mdStates(p printer, rep *analyze.Report) {
	st, more := rep.ShownStateTable(false, 0)
	p("## Endpoint states per host\n\n")
	p("| Host | Connections |")
	for _, s := range st.States {
		p(" %s |", s)
	}
	p("\n| --- | ---: |%s\n", strings.Repeat(" ---: |", len(st.States)))
	for _, h := range st.Hosts {
		p("| %s | %d |", mdCell(h.Host.String()), h.Total)
		for _, n := range h.Counts {
			p(" %d |", n)
		}
		p("\n")
	}
	if more > 0 {
		p("\nThe hosts a problem is about first; %d more in `flowdoc analyze --format json`.\n", more)
	}
}

// flows writes the flows not closed cleanly, at most MaxFlows of them.
func (m *Markdown) flows(p printer, rep *analyze.Report) {
	limit := m.MaxFlows
	if limit <= 0 {
		limit = 100
	}
	listed, _ := rep.ShownFlows(false)
	listed = listed[:len(listed):len(listed)]
	all := len(rep.Listed(false))
	p("\n## Flows not closed cleanly\n\n")
	if len(listed) == 0 {
		p("None.\n")
		return
	}
	p("| ID | Client | Server | Client state | Server state | Duration | Packets | History | Verdicts |\n")
	p("| ---: | --- | --- | --- | --- | ---: | ---: | --- | --- |\n")
	var v analyze.FlowView
	for _, i := range listed[:min(limit, len(listed))] {
		rep.ViewFlow(i, &v, false)
		p("| %d | %s | %s | %s | %s | %s | %d/%d | `%s` | %s |\n", v.ID, mdCell(v.Client.String()), mdCell(v.Server.String()),
			v.Ends.Client.StateText(), v.Ends.Server.StateText(), dur(v.Duration()), v.Packets.Client, v.Packets.Server,
			mdCode(v.History), mdCell(v.Notes()))
	}
	if more := all - min(limit, len(listed)); more > 0 {
		p("\n%d more not shown: `flowdoc analyze --format csv` lists every flow.\n", more)
	}
}

// mdText escapes what Markdown would otherwise take for markup, and what
// an HTML renderer would take for tags: text from packets stays text.
var mdReplacer = strings.NewReplacer(
	`\`, `\\`, "`", "\\`", "*", `\*`, "_", `\_`, "[", `\[`, "]", `\]`, "#", `\#`,
	"<", "&lt;", ">", "&gt;", "&", "&amp;", "|", `\|`, "\n", " ",
)

func mdText(s string) string { return mdReplacer.Replace(s) }

// mdCell is mdText for a table cell.
func mdCell(s string) string { return mdText(s) }

// mdCode makes s safe inside a code span: no backquotes, no line breaks.
func mdCode(s string) string {
	return strings.NewReplacer("`", "'", "\n", " ", "|", `\|`).Replace(s)
}
