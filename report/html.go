package report

import (
	"cmp"
	_ "embed"
	"fmt"
	"html/template"
	"io"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/flowdoc/flowdoc/analyze"
)

// HTML is one self-contained page (no scripts, fonts or styles from
// elsewhere) with the Markdown report's content and three pictures, drawn
// as inline SVG: a timeline of the flows, a ladder diagram of one flow per
// finding, and the endpoint states per host as bars. It is rendered with
// html/template: every text that came from packets or file names is
// escaped.
type HTML struct {
	// MaxFlows caps the flow table; 0 means 500.
	MaxFlows int
	// TimelineRows caps the timeline: the flows that did not close cleanly
	// first, then a sample of the clean ones; 0 means 120.
	TimelineRows int
}

//go:embed html.tmpl
var htmlSource string

var htmlTemplate = template.Must(template.New("report").Funcs(template.FuncMap{
	"upper": strings.ToUpper,
	"n":     func(f float64) string { return strconv.FormatFloat(f, 'f', -1, 32) },
	"arrowMarkers": func() map[string]string {
		m := map[string]string{}
		for _, c := range arrowColors {
			m[markerFor(c)] = c
		}
		return m
	},
}).Parse(htmlSource))

// arrowColors are the colours arrows are drawn in; each has its arrowhead.
var arrowColors = []string{"#24292f", "#cf222e", "#0969da", "#1a7f37"}

func markerFor(color string) string { return "fd-arrow-" + strings.TrimPrefix(color, "#") }

// Render implements Renderer.
func (h *HTML) Render(w io.Writer, rep *analyze.Report) error {
	return htmlTemplate.Execute(w, h.view(rep))
}

// The view: what the template lays out, every figure worked out here.
type (
	htmlView struct {
		Title   string
		Inputs  []htmlInput
		Summary string
		Filter  string
		Local   string
		End     string
		// ClassSums open a busy capture's report: a row per finding
		// class. MoreFindings and MoreHosts are what it leaves out.
		ClassSums    []htmlClassSum
		Findings     []htmlFinding
		MoreFindings int
		States       []string // the columns of the host table
		Hosts        []htmlHost
		MoreHosts    int
		Bars         svgChart
		Timeline     svgChart
		// TimelineNote says what the timeline leaves out.
		TimelineNote string
		Flows        []htmlFlow
		MoreFlows    int
		Warnings     []string
		Legend       []htmlLegend
		Capture      string
		Kernel       *htmlKernel
	}
	htmlKernel struct {
		Line          string
		Disagreements []string
		Unseen        []htmlSocketGroup
	}
	htmlSocketGroup struct {
		State, Process, Local, Peer string
		Count                       int
		RxQueue, TxQueue            uint64
	}
	htmlInput struct {
		Name, Detail string
		Warnings     []string
	}
	htmlFinding struct {
		Severity, Class, Scope, Summary, Remedy, Flows string
		Evidence                                       []htmlEvidence
		Ladder                                         svgChart
		LadderTitle                                    string
	}
	htmlEvidence struct{ Packet, At, What string }
	htmlClassSum struct {
		Severity, Class, Remedy           string
		Findings, Hosts, Endpoints, Flows int
	}
	htmlHost struct {
		Host   string
		Total  int
		Counts []int
	}
	htmlFlow struct {
		ID                                          int
		Client, Server, ClientState, ServerState    string
		ClientClass, ServerClass, Duration, Packets string
		History, Notes, Severity                    string
	}
	htmlLegend struct{ Label, Color string }
)

// An svgChart is a picture as lists of shapes; the template writes them
// as SVG elements, escaping every text.
type (
	svgChart struct {
		Width, Height int
		Label         string // for screen readers
		Rects         []svgRect
		Lines         []svgLine
		Texts         []svgText
	}
	svgRect struct {
		X, Y, W, H float64
		Fill       string
		Title      string
	}
	svgLine struct {
		X1, Y1, X2, Y2 float64
		Stroke         string
		Width          float64
		Dash           string
		Marker         string // the id of an arrowhead at the end
		Title          string
	}
	svgText struct {
		X, Y   float64
		Text   string
		Anchor string // start, middle, end
		Class  string
	}
)

// Colours of severities and states.
var (
	severityFill = map[analyze.Severity]string{analyze.Info: "#57606a", analyze.Warning: "#bf8700", analyze.Error: "#cf222e"}
	cleanFill    = "#2da44e"
	stateFill    = map[string]string{
		"UNKNOWN":     "#24292f",
		"CLOSED":      "#d0d7de",
		"SYN_SENT":    "#8250df",
		"SYN_RECV":    "#bf3989",
		"ESTABLISHED": "#2da44e",
		"FIN_WAIT_1":  "#d4a72c",
		"FIN_WAIT_2":  "#fb8f44",
		"CLOSE_WAIT":  "#cf222e",
		"CLOSING":     "#1b7c83",
		"LAST_ACK":    "#953800",
		"TIME_WAIT":   "#6e7781",
	}
)

func (h *HTML) view(rep *analyze.Report) *htmlView {
	v := &htmlView{End: rep.End.UTC().Format("2006-01-02 15:04:05.000000 MST"), Summary: rep.Totals.Summary()}
	var names []string
	for i, in := range rep.Inputs {
		names = append(names, filepath.Base(in.Path))
		v.Inputs = append(v.Inputs, htmlInput{Name: in.Path, Detail: inputDetail(&rep.Inputs[i], " UTC"), Warnings: in.Warnings})
	}
	v.Title = "flowdoc report: " + strings.Join(names, ", ")
	if !rep.Filter.IsZero() {
		v.Filter = rep.Filter.String()
	}
	if len(rep.LocalAddrs) > 0 {
		var a []string
		for _, l := range rep.LocalAddrs {
			a = append(a, l.Unmap().String())
		}
		v.Local = strings.Join(a, ", ")
	}
	if rep.Busy() {
		for _, s := range rep.Summary() {
			v.ClassSums = append(v.ClassSums, htmlClassSum{Severity: s.Severity.String(), Class: string(s.Class), Remedy: s.Remedy,
				Findings: s.Findings, Hosts: s.Hosts, Endpoints: s.Endpoints, Flows: s.Flows})
		}
	}
	v.Findings, v.MoreFindings = findingsHTML(rep)
	// The bars picture every host; the table shows the hosts the report
	// shows.
	all := rep.StateTable()
	st, more := rep.ShownStateTable(false, 0)
	v.States, v.MoreHosts = st.States, more
	for _, hs := range st.Hosts {
		v.Hosts = append(v.Hosts, htmlHost{Host: hs.Host.String(), Total: hs.Total, Counts: hs.Counts})
	}
	v.Bars = stateBars(all)
	for _, s := range st.States {
		v.Legend = append(v.Legend, htmlLegend{s, stateFill[s]})
	}
	tl := rep.Timeline(h.TimelineRows)
	v.Timeline, v.TimelineNote = timelineChart(&tl), tl.Note
	v.Flows, v.MoreFlows = h.flows(rep)
	if c := rep.Capture; c != nil {
		v.Capture = captureLine(c)
	}
	if k := rep.Kernel; k != nil {
		v.Kernel = kernelHTML(k)
	}
	v.Warnings = rep.Warnings()
	return v
}

// findingsHTML lays out the findings shown, each with its ladder
// diagram, and says how many more there are.
func findingsHTML(rep *analyze.Report) ([]htmlFinding, int) {
	var out []htmlFinding
	ladders := rep.FindingLadders()
	shown, more := rep.ShownFindings(false)
	for _, i := range shown {
		f := rep.Findings[i]
		hf := htmlFinding{
			Severity: f.Severity.String(), Class: string(f.Class), Scope: strings.Join(scopeOf(&f), " > "),
			Summary: f.Summary, Remedy: f.Remedy, Flows: f.FlowList(20),
		}
		for _, e := range f.Evidence {
			pkt := evidencePacket(rep, e, func(s string) string { return s })
			hf.Evidence = append(hf.Evidence, htmlEvidence{pkt, e.At.Time().Format("15:04:05.000000"), e.What})
		}
		if l := ladders[i]; l != nil {
			hf.Ladder = ladderChart(l)
			hf.LadderTitle = fmt.Sprintf("Flow %d, %s > %s", l.ID, l.Client, l.Server)
		}
		out = append(out, hf)
	}
	return out, more
}

// flows lays out the flows not closed cleanly, at most MaxFlows of them,
// and says how many more there are.
func (h *HTML) flows(rep *analyze.Report) ([]htmlFlow, int) {
	limit := h.MaxFlows
	if limit <= 0 {
		limit = 500
	}
	listed, _ := rep.ShownFlows(false)
	total := len(rep.Listed(false))
	var out []htmlFlow
	var v analyze.FlowView
	for _, i := range listed[:min(limit, len(listed))] {
		rep.ViewFlow(i, &v, false)
		hf := htmlFlow{ID: v.ID, Client: v.Client.String(), Server: v.Server.String(),
			ClientState: v.Ends.Client.StateText(), ServerState: v.Ends.Server.StateText(), Duration: dur(v.Duration()),
			Packets: fmt.Sprintf("%d/%d", v.Packets.Client, v.Packets.Server), History: v.History, Notes: v.Notes()}
		if sev, ok := v.Severity(); ok {
			hf.Severity = sev.String()
		}
		if sev := v.SideSeverity(); sev.Client.Set {
			hf.ClientClass = sev.Client.V.String()
		}
		if sev := v.SideSeverity(); sev.Server.Set {
			hf.ServerClass = sev.Server.V.String()
		}
		out = append(out, hf)
	}
	return out, total - len(out)
}

func kernelHTML(k *analyze.KernelView) *htmlKernel {
	hk := &htmlKernel{Line: kernelLine(k)}
	if h := unnamedLine(k); h != "" {
		hk.Line += ". " + h
	}
	for _, d := range k.Disagreements {
		hk.Disagreements = append(hk.Disagreements, d.String())
	}
	for _, g := range k.Unseen {
		hk.Unseen = append(hk.Unseen, htmlSocketGroup{g.State, g.Process(), g.LocalText(), g.PeerText(), g.Count, g.RxQueue, g.TxQueue})
	}
	return hk
}

// stateBars draws the endpoint states of each host (the busiest 25) as a
// stacked bar, as long as the host's connection count.
func stateBars(st analyze.StateTable) svgChart {
	hosts := st.Hosts
	if len(hosts) > 25 {
		hosts = hosts[:25]
	}
	const label, barW, rowH = 230.0, 560.0, 26.0
	c := svgChart{Width: int(label + barW + 70), Height: int(rowH*float64(len(hosts)) + 10), Label: "Endpoint states per host"}
	most := 1
	for _, h := range hosts {
		most = max(most, h.Total)
	}
	for i, h := range hosts {
		y := 5 + rowH*float64(i)
		c.Texts = append(c.Texts, svgText{X: label - 8, Y: y + 15, Text: h.Host.String(), Anchor: "end"})
		x := label
		for col, n := range h.Counts {
			if n == 0 {
				continue
			}
			w := barW * float64(n) / float64(most)
			c.Rects = append(c.Rects, svgRect{X: x, Y: y, W: w, H: rowH - 6, Fill: stateFill[st.States[col]],
				Title: fmt.Sprintf("%s: %d in %s", h.Host, n, st.States[col])})
			x += w
		}
		c.Texts = append(c.Texts, svgText{X: x + 6, Y: y + 15, Text: fmt.Sprint(h.Total), Anchor: "start", Class: "muted"})
	}
	return c
}

// timelineChart draws one row per flow of tl across its span. A bar runs
// from the first to the last packet in the colour of the flow's worst
// verdict; a dotted stretch is the idle time before the first FIN; a
// faint dashed line to the end means an endpoint is still not closed;
// ticks mark SYN (green), FIN (blue) and RST (red).
func timelineChart(tl *analyze.Timeline) svgChart {
	if len(tl.Rows) == 0 {
		return svgChart{}
	}
	start, end := tl.Start, tl.End
	span := float64(max(end-start, 1))
	const label, plotW, rowH, top = 300.0, 640.0, 16.0, 22.0
	x := func(t analyze.Time) float64 { return label + plotW*float64(t-start)/span }
	c := svgChart{Width: int(label + plotW + 20), Height: int(top + rowH*float64(len(tl.Rows)) + 8), Label: "Timeline of the flows"}
	// Time axis: the start, the middle and the end.
	for _, t := range []analyze.Time{start, start + (end-start)/2, end} {
		anchor := map[bool]string{true: "start", false: "middle"}[t == start]
		if t == end {
			anchor = "end"
		}
		c.Texts = append(c.Texts, svgText{X: x(t), Y: 12, Text: t.Time().Format("15:04:05.000"), Anchor: anchor, Class: "muted"})
		c.Lines = append(c.Lines, svgLine{X1: x(t), Y1: top - 4, X2: x(t), Y2: float64(c.Height), Stroke: "#d0d7de", Width: 1})
	}
	for i := range tl.Rows {
		r := &tl.Rows[i]
		y := top + rowH*float64(i) + rowH/2
		color := cleanFill
		if r.Severity.Set {
			color = severityFill[r.Severity.V]
		}
		c.Texts = append(c.Texts, svgText{X: label - 8, Y: y + 4, Text: fmt.Sprintf("%d  %s > %s", r.ID, r.Client, r.Server), Anchor: "end", Class: "small"})
		tip := fmt.Sprintf("flow %d: %s, %s / %s", r.ID, r.Notes, r.States.Client, r.States.Server)
		bar := func(a, b analyze.Time, dash string, w float64) {
			x1, x2 := x(a), x(b)
			if x2-x1 < 2 {
				x2 = x1 + 2
			}
			c.Lines = append(c.Lines, svgLine{X1: x1, Y1: y, X2: x2, Y2: y, Stroke: color, Width: w, Dash: dash, Title: tip})
		}
		if r.IdleFrom != 0 {
			bar(r.First, r.IdleFrom, "", 6)
			bar(r.IdleFrom, r.IdleTo, "2 3", 3)
			bar(r.IdleTo, r.Last, "", 6)
		} else {
			bar(r.First, r.Last, "", 6)
		}
		if r.Open != "" && end > r.Last {
			c.Lines = append(c.Lines, svgLine{X1: x(r.Last), Y1: y, X2: x(end), Y2: y, Stroke: color, Width: 1, Dash: "4 4",
				Title: fmt.Sprintf("flow %d still %s at the end", r.ID, r.Open)})
		}
		for _, m := range r.Marks {
			c.Lines = append(c.Lines, svgLine{X1: x(m.At), Y1: y - 6, X2: x(m.At), Y2: y + 6, Stroke: markColor(m.Mark), Width: 2, Title: m.Title})
		}
	}
	return c
}

// markColor is the colour of a packet that stands out: red for a RST or
// data after the peer's FIN, blue for a FIN, green for a SYN; "" for
// others.
func markColor(m analyze.Mark) string {
	switch m {
	case analyze.MarkRST, analyze.MarkLate:
		return "#cf222e"
	case analyze.MarkFIN:
		return "#0969da"
	case analyze.MarkSYN:
		return "#1a7f37"
	}
	return ""
}

// ladderChart draws l as a sequence diagram: the client's line on the
// left, the server's on the right, one arrow per packet with its flags,
// and the states it left the endpoints in; what never came, dashed.
func ladderChart(l *analyze.Ladder) svgChart {
	const left, right, top, step = 150.0, 470.0, 44.0, 30.0
	rows := len(l.Rows) + 1
	if l.Skipped > 0 {
		rows++
	}
	if l.QuietAt >= 0 {
		rows++
	}
	c := svgChart{Width: 760, Height: int(top + step*float64(rows) + 10), Label: fmt.Sprintf("Packets of flow %d", l.ID)}
	c.Texts = append(c.Texts,
		svgText{X: left, Y: 14, Text: "client " + l.Client.String(), Anchor: "middle", Class: "bold"},
		svgText{X: right, Y: 14, Text: "server " + l.Server.String(), Anchor: "middle", Class: "bold"},
		svgText{X: 4, Y: 32, Text: "time", Anchor: "start", Class: "muted"},
		svgText{X: right + 40, Y: 32, Text: "client / server state after", Anchor: "start", Class: "muted"})
	c.Lines = append(c.Lines,
		svgLine{X1: left, Y1: 22, X2: left, Y2: float64(c.Height) - 4, Stroke: "#57606a", Width: 2},
		svgLine{X1: right, Y1: 22, X2: right, Y2: float64(c.Height) - 4, Stroke: "#57606a", Width: 2})
	// from gives an arrow's ends: from the side that sent it.
	from := func(side string) (float64, float64) {
		if side == "server" {
			return right, left
		}
		return left, right
	}
	y := top
	for i, r := range l.Rows {
		if l.Skipped > 0 && i == l.SkippedAt {
			c.Texts = append(c.Texts, svgText{X: (left + right) / 2, Y: y + 14, Text: fmt.Sprintf("… %d more packets …", l.Skipped), Anchor: "middle", Class: "muted"})
			y += step
		}
		if i == l.QuietAt {
			c.Texts = append(c.Texts, svgText{X: (left + right) / 2, Y: y + 10, Text: "… " + l.Quiet + " …", Anchor: "middle", Class: "small muted"})
			y += step
		}
		x1, x2 := from(r.From)
		color := cmp.Or(markColor(r.Mark), "#24292f")
		c.Lines = append(c.Lines, svgLine{X1: x1, Y1: y, X2: x2, Y2: y + 12, Stroke: color, Width: 1.5, Marker: markerFor(color), Title: r.Title})
		c.Texts = append(c.Texts,
			svgText{X: (left + right) / 2, Y: y - 2, Text: r.Label, Anchor: "middle", Class: "small"},
			svgText{X: 4, Y: y + 8, Text: "+" + dur(r.After), Anchor: "start", Class: "small muted"})
		if r.States != "" {
			c.Texts = append(c.Texts, svgText{X: right + 40, Y: y + 8, Text: r.States, Anchor: "start", Class: "small"})
		}
		y += step
	}
	for _, m := range l.Missing {
		x1, x2 := from(m.From)
		c.Lines = append(c.Lines, svgLine{X1: x1, Y1: y, X2: x2, Y2: y + 12, Stroke: "#cf222e", Width: 1.5, Dash: "5 4", Marker: markerFor("#cf222e"),
			Title: m.Title})
		c.Texts = append(c.Texts, svgText{X: (left + right) / 2, Y: y - 2, Text: m.Text, Anchor: "middle", Class: "small alert"})
	}
	return c
}
