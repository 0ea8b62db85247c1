package report

import (
	"cmp"
	_ "embed"
	"fmt"
	"html/template"
	"io"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

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
		Title    string
		Inputs   []htmlInput
		Summary  string
		Filter   string
		Local    string
		End      string
		Findings []htmlFinding
		States   []string // the columns of the host table
		Hosts    []htmlHost
		Bars     svgChart
		Timeline svgChart
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
	htmlHost     struct {
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
	v := &htmlView{End: rep.End.UTC().Format("2006-01-02 15:04:05.000000 MST")}
	var names []string
	for i, in := range rep.Inputs {
		names = append(names, filepath.Base(in.Path))
		v.Inputs = append(v.Inputs, htmlInput{Name: in.Path, Detail: inputDetail(&rep.Inputs[i], " UTC"), Warnings: in.Warnings})
	}
	v.Title = "flowdoc report: " + strings.Join(names, ", ")
	tot := rep.Totals
	v.Summary = fmt.Sprintf("%s: %d closed cleanly, %d not", plural(tot.Flows, "TCP connection"), tot.Clean, tot.Flows-tot.Clean)
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

	byID := make(map[int]*analyze.Flow, len(rep.Flows))
	for i := range rep.Flows {
		byID[rep.Flows[i].ID] = &rep.Flows[i]
	}
	drawn := map[int]bool{}
	for _, f := range rep.Findings {
		hf := htmlFinding{
			Severity: f.Severity.String(), Class: string(f.Class), Scope: strings.Join(scopeOf(&f), " > "),
			Summary: f.Summary, Remedy: f.Remedy, Flows: flowList(f.Flows),
		}
		for _, e := range f.Evidence {
			pkt := evidencePacket(rep, e, func(s string) string { return s })
			hf.Evidence = append(hf.Evidence, htmlEvidence{pkt, e.At.UTC().Format("15:04:05.000000"), e.What})
		}
		// One flow drawn per finding, not one drawn for an earlier one.
		for _, id := range f.Flows {
			if fl := byID[id]; fl != nil && len(fl.Events) > 0 && !drawn[id] {
				drawn[id] = true
				hf.Ladder = ladder(fl, rep.End)
				hf.LadderTitle = fmt.Sprintf("Flow %d, %s > %s", fl.ID, fl.Key.Client(), fl.Key.Server())
				break
			}
		}
		v.Findings = append(v.Findings, hf)
	}

	cols := stateColumns(rep)
	for _, s := range cols {
		v.States = append(v.States, s.String())
	}
	for _, hs := range rep.Hosts {
		row := htmlHost{Host: hs.Host.Unmap().String(), Total: hs.Total}
		for _, s := range cols {
			row.Counts = append(row.Counts, hs.Count(s))
		}
		v.Hosts = append(v.Hosts, row)
	}
	v.Bars = stateBars(rep, cols)
	for _, s := range cols {
		v.Legend = append(v.Legend, htmlLegend{s.String(), stateFill[s.String()]})
	}
	v.Timeline, v.TimelineNote = h.timeline(rep)

	limit := h.MaxFlows
	if limit <= 0 {
		limit = 500
	}
	var pb analyze.PayloadBuffer // reused by flowNotes
	for i := range rep.Flows {
		f := &rep.Flows[i]
		if f.Clean() {
			continue
		}
		if len(v.Flows) == limit {
			v.MoreFlows++
			continue
		}
		r := f.Record
		hf := htmlFlow{ID: r.ID, Client: r.Key.Client().String(), Server: r.Key.Server().String(),
			ClientState: stateText(&r.Client), ServerState: stateText(&r.Server), Duration: dur(r.Duration()),
			Packets: fmt.Sprintf("%d/%d", r.Client.Packets, r.Server.Packets), History: r.History, Notes: flowNotes(f, &pb)}
		if len(f.Verdicts) > 0 {
			hf.Severity = f.Verdicts[0].Severity.String()
		}
		var seen [2]bool
		for _, vd := range f.Verdicts {
			if !seen[vd.Side] {
				seen[vd.Side] = true
				if vd.Side == analyze.Client {
					hf.ClientClass = vd.Severity.String()
				} else {
					hf.ServerClass = vd.Severity.String()
				}
			}
		}
		v.Flows = append(v.Flows, hf)
	}
	if c := rep.Capture; c != nil {
		v.Capture = captureLine(c)
	}
	if k := rep.Kernel; k != nil {
		hk := &htmlKernel{Line: kernelLine(k)}
		if h := unnamedLine(k); h != "" {
			hk.Line += ". " + h
		}
		for _, d := range k.Disagreements {
			hk.Disagreements = append(hk.Disagreements, fmt.Sprintf("flow %d, %s %s: inferred %s, the kernel says %s", d.Flow, d.Side, d.Endpoint, d.Inferred, d.Kernel))
		}
		for _, g := range k.Unseen {
			local := "*"
			if g.Local.IsValid() {
				local = g.Local.String()
			}
			hk.Unseen = append(hk.Unseen, htmlSocketGroup{g.State.String(), g.Process(), local, peerText(g.Peer), g.Count, g.RxQueue, g.TxQueue})
		}
		v.Kernel = hk
	}
	v.Warnings = rep.Warnings()
	return v
}

// stateBars draws the endpoint states of each host (the busiest 25) as a
// stacked bar, as long as the host's connection count.
func stateBars(rep *analyze.Report, cols []analyze.State) svgChart {
	hosts := rep.Hosts
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
		c.Texts = append(c.Texts, svgText{X: label - 8, Y: y + 15, Text: h.Host.Unmap().String(), Anchor: "end"})
		x := label
		for _, s := range cols {
			n := h.Count(s)
			if n == 0 {
				continue
			}
			w := barW * float64(n) / float64(most)
			c.Rects = append(c.Rects, svgRect{X: x, Y: y, W: w, H: rowH - 6, Fill: stateFill[s.String()],
				Title: fmt.Sprintf("%s: %d in %s", h.Host.Unmap(), n, s)})
			x += w
		}
		c.Texts = append(c.Texts, svgText{X: x + 6, Y: y + 15, Text: fmt.Sprint(h.Total), Anchor: "start", Class: "muted"})
	}
	return c
}

// timeline draws one row per flow across the capture: the flows that did
// not close cleanly first (up to the cap), then clean ones sampled evenly.
// A bar runs from the first to the last packet in the colour of the flow's
// worst verdict; a dotted stretch is the idle time before the first FIN;
// a faint dashed line to the end means an endpoint is still not closed;
// ticks mark SYN (green), FIN (blue) and RST (red).
func (h *HTML) timeline(rep *analyze.Report) (svgChart, string) {
	limit := h.TimelineRows
	if limit <= 0 {
		limit = 120
	}
	var bad, clean []*analyze.Flow
	for i := range rep.Flows {
		if f := &rep.Flows[i]; f.Clean() {
			clean = append(clean, f)
		} else {
			bad = append(bad, f)
		}
	}
	var rows []*analyze.Flow
	note := ""
	if len(bad) > limit {
		rows = bad[:limit]
		note = fmt.Sprintf("The first %d of %d flows that did not close cleanly; %d clean flows not drawn.", limit, len(bad), len(clean))
	} else {
		rows = bad
		room := min(limit-len(bad), len(clean), max(10, (limit-len(bad))/3))
		if room < len(clean) && room > 0 {
			note = fmt.Sprintf("All %d flows that did not close cleanly and %d of %d clean ones, sampled evenly.", len(bad), room, len(clean))
		}
		for i := range room {
			rows = append(rows, clean[i*len(clean)/room])
		}
	}
	if len(rows) == 0 {
		return svgChart{}, ""
	}

	start, end := rows[0].First, analyze.Timestamp(rep.End.UnixNano())
	for _, f := range rows {
		start = min(start, f.First)
		end = max(end, f.Last)
	}
	span := float64(max(end-start, 1))
	const label, plotW, rowH, top = 300.0, 640.0, 16.0, 22.0
	x := func(t analyze.Timestamp) float64 { return label + plotW*float64(t-start)/span }
	c := svgChart{Width: int(label + plotW + 20), Height: int(top + rowH*float64(len(rows)) + 8), Label: "Timeline of the flows"}
	// Time axis: the start, the middle and the end.
	for _, t := range []analyze.Timestamp{start, start + (end-start)/2, end} {
		anchor := map[bool]string{true: "start", false: "middle"}[t == start]
		if t == end {
			anchor = "end"
		}
		c.Texts = append(c.Texts, svgText{X: x(t), Y: 12, Text: t.Time().Format("15:04:05.000"), Anchor: anchor, Class: "muted"})
		c.Lines = append(c.Lines, svgLine{X1: x(t), Y1: top - 4, X2: x(t), Y2: float64(c.Height), Stroke: "#d0d7de", Width: 1})
	}
	var pb analyze.PayloadBuffer // reused by flowNotes
	for i, f := range rows {
		r := f.Record
		y := top + rowH*float64(i) + rowH/2
		color := cleanFill
		title := "closed cleanly"
		if len(f.Verdicts) > 0 {
			color = severityFill[f.Verdicts[0].Severity]
			title = flowNotes(f, &pb)
		}
		c.Texts = append(c.Texts, svgText{X: label - 8, Y: y + 4, Text: fmt.Sprintf("%d  %s > %s", r.ID, r.Key.Client(), r.Key.Server()), Anchor: "end", Class: "small"})
		tip := fmt.Sprintf("flow %d: %s, %s / %s", r.ID, title, stateText(&r.Client), stateText(&r.Server))

		// Idle before the first FIN: from the last payload to the FIN.
		idleFrom, idleTo := analyze.Timestamp(0), analyze.Timestamp(0)
		if fin := firstFin(r); fin != 0 {
			last := max(r.Client.DataBeforeFin, r.Server.DataBeforeFin)
			if r.Client.FinAt == fin {
				last = r.Client.DataBeforeFin
			} else if r.Server.FinAt == fin {
				last = r.Server.DataBeforeFin
			}
			if last != 0 && float64(fin-last) > 0.2*float64(max(r.Last-r.First, 1)) && fin-last > analyze.Timestamp(100*time.Millisecond) {
				idleFrom, idleTo = last, fin
			}
		}
		bar := func(a, b analyze.Timestamp, dash string, w float64) {
			x1, x2 := x(a), x(b)
			if x2-x1 < 2 {
				x2 = x1 + 2
			}
			c.Lines = append(c.Lines, svgLine{X1: x1, Y1: y, X2: x2, Y2: y, Stroke: color, Width: w, Dash: dash, Title: tip})
		}
		if idleFrom != 0 {
			bar(r.First, idleFrom, "", 6)
			bar(idleFrom, idleTo, "2 3", 3)
			bar(idleTo, r.Last, "", 6)
		} else {
			bar(r.First, r.Last, "", 6)
		}
		if holdsSocket(r.Client.State) || holdsSocket(r.Server.State) {
			if end > r.Last {
				c.Lines = append(c.Lines, svgLine{X1: x(r.Last), Y1: y, X2: x(end), Y2: y, Stroke: color, Width: 1, Dash: "4 4",
					Title: fmt.Sprintf("flow %d still %s / %s at the end", r.ID, r.Client.State, r.Server.State)})
			}
		}
		for _, e := range r.Events {
			mark := flagColor(e.Flags)
			if mark == "" {
				continue
			}
			c.Lines = append(c.Lines, svgLine{X1: x(e.At), Y1: y - 6, X2: x(e.At), Y2: y + 6, Stroke: mark, Width: 2,
				Title: fmt.Sprintf("#%d %s from %s", e.Packet, flagName(e.Flags), e.From)})
		}
	}
	return c, note
}

// holdsSocket reports whether an endpoint in state s is still open (as
// far as the capture can tell).
func holdsSocket(s analyze.State) bool { return !s.Ended() && s != analyze.Unknown }

// firstFin is the time of the first FIN either way; 0 if none.
func firstFin(r *analyze.Record) analyze.Timestamp {
	a, b := r.Client.FinAt, r.Server.FinAt
	switch {
	case a == 0:
		return b
	case b == 0:
		return a
	}
	return min(a, b)
}

// flagColor is the colour of a segment with a RST (red), FIN (blue) or
// SYN (green); "" for others.
func flagColor(f analyze.Flags) string {
	switch {
	case f&analyze.RST != 0:
		return "#cf222e"
	case f&analyze.FIN != 0:
		return "#0969da"
	case f&analyze.SYN != 0:
		return "#1a7f37"
	}
	return ""
}

// flagName spells a segment's control flags as people say them.
func flagName(f analyze.Flags) string {
	var parts []string
	if f&analyze.SYN != 0 {
		parts = append(parts, "SYN")
	}
	if f&analyze.FIN != 0 {
		parts = append(parts, "FIN")
	}
	if f&analyze.RST != 0 {
		parts = append(parts, "RST")
	}
	if f&analyze.ACK != 0 {
		parts = append(parts, "ACK")
	}
	if len(parts) == 0 {
		return "segment"
	}
	return strings.Join(parts, "-")
}

// lateData marks the ladder's own event for data sent after the peer's
// FIN (a Note no packet carries).
const lateData analyze.Note = 1 << 7

// maxLadder is how many packets a ladder diagram draws: the first ones and
// the last ones, with a mark for what is left out.
const maxLadder = 24

// ladder draws the packets flow f kept as a sequence diagram: the client's
// line on the left, the server's on the right, one arrow per packet with
// its flags, and the states it left the endpoints in. An endpoint still
// in CLOSE_WAIT at the end gets the FIN it never sent, dashed.
func ladder(f *analyze.Flow, end time.Time) svgChart {
	r := f.Record
	evs := r.Events
	// Data sent after the peer's FIN is not an event, but is what the
	// diagram is for when a pooled connection was reused after the close.
	for _, side := range []analyze.Side{analyze.Client, analyze.Server} {
		h, peer := r.Half(side), r.Half(side.Other())
		if peer.FinAt != 0 && h.LastPayload > peer.FinAt && !slices.ContainsFunc(evs, func(e analyze.Event) bool { return e.Packet == h.LastPayloadPacket }) {
			late := analyze.Event{At: h.LastPayload, Packet: h.LastPayloadPacket, Input: h.LastPayloadInput, From: side, Flags: analyze.ACK, Note: lateData,
				ClientState: analyze.Unknown, ServerState: analyze.Unknown}
			i, _ := slices.BinarySearchFunc(evs, late.At, func(e analyze.Event, t analyze.Timestamp) int { return cmp.Compare(e.At, t) })
			evs = slices.Insert(slices.Clone(evs), i, late)
		}
	}
	skipped := 0
	if len(evs) > maxLadder {
		skipped = len(evs) - maxLadder
		evs = append(append([]analyze.Event{}, evs[:maxLadder-8]...), evs[len(evs)-8:]...)
	}
	const left, right, top, step = 150.0, 470.0, 44.0, 30.0
	rows := len(evs) + 1
	if skipped > 0 {
		rows++
	}
	// The quiet time before the first FIN, which events do not show: the
	// last payload either way, and how long nothing was sent after it.
	var quiet string
	quietAt := -1
	if fin := firstFin(r); fin != 0 {
		for i, e := range evs {
			if e.Flags&analyze.FIN != 0 {
				hf := r.Half(e.From)
				if hf.DataBeforeFin != 0 && e.At.Sub(hf.DataBeforeFin) >= 100*time.Millisecond {
					quiet = fmt.Sprintf("last data (from the %s) at +%s, then %s quiet", hf.DataBeforeFinFrom, dur(hf.DataBeforeFin.Sub(r.First)), dur(e.At.Sub(hf.DataBeforeFin)))
					quietAt = i
					rows++
				}
				break
			}
		}
	}
	c := svgChart{Width: 760, Height: int(top + step*float64(rows) + 10), Label: fmt.Sprintf("Packets of flow %d", r.ID)}
	c.Texts = append(c.Texts,
		svgText{X: left, Y: 14, Text: "client " + r.Key.Client().String(), Anchor: "middle", Class: "bold"},
		svgText{X: right, Y: 14, Text: "server " + r.Key.Server().String(), Anchor: "middle", Class: "bold"},
		svgText{X: 4, Y: 32, Text: "time", Anchor: "start", Class: "muted"},
		svgText{X: right + 40, Y: 32, Text: "client / server state after", Anchor: "start", Class: "muted"})
	c.Lines = append(c.Lines,
		svgLine{X1: left, Y1: 22, X2: left, Y2: float64(c.Height) - 4, Stroke: "#57606a", Width: 2},
		svgLine{X1: right, Y1: 22, X2: right, Y2: float64(c.Height) - 4, Stroke: "#57606a", Width: 2})
	base := r.First
	y := top
	prevClient, prevServer := analyze.State(0), analyze.State(0)
	for i, e := range evs {
		if skipped > 0 && i == maxLadder-8 {
			c.Texts = append(c.Texts, svgText{X: (left + right) / 2, Y: y + 14, Text: fmt.Sprintf("… %d more packets …", skipped), Anchor: "middle", Class: "muted"})
			y += step
		}
		if i == quietAt {
			c.Texts = append(c.Texts, svgText{X: (left + right) / 2, Y: y + 10, Text: "… " + quiet + " …", Anchor: "middle", Class: "small muted"})
			y += step
		}
		x1, x2 := left, right
		if e.From == analyze.Server {
			x1, x2 = right, left
		}
		color := cmp.Or(flagColor(e.Flags), "#24292f")
		label := flagName(e.Flags)
		if e.Len > 0 {
			label += fmt.Sprintf(" len %d", e.Len)
		}
		if e.Note == lateData {
			label, color = "data, after the peer's FIN", "#cf222e"
		}
		if names := e.Note.Names(); len(names) > 0 {
			var keep []string
			for _, n := range names {
				if n != "state_change" {
					keep = append(keep, strings.ReplaceAll(n, "_", " "))
				}
			}
			if len(keep) > 0 {
				label += " (" + strings.Join(keep, ", ") + ")"
			}
		}
		c.Lines = append(c.Lines, svgLine{X1: x1, Y1: y, X2: x2, Y2: y + 12, Stroke: color, Width: 1.5, Marker: markerFor(color),
			Title: fmt.Sprintf("#%d %s seq %d ack %d", e.Packet, label, e.Seq, e.Ack)})
		c.Texts = append(c.Texts,
			svgText{X: (left + right) / 2, Y: y - 2, Text: label, Anchor: "middle", Class: "small"},
			svgText{X: 4, Y: y + 8, Text: "+" + dur(e.At.Sub(base)), Anchor: "start", Class: "small muted"})
		if e.Note != lateData && (e.ClientState != prevClient || e.ServerState != prevServer) {
			c.Texts = append(c.Texts, svgText{X: right + 40, Y: y + 8, Text: e.ClientState.String() + " / " + e.ServerState.String(), Anchor: "start", Class: "small"})
			prevClient, prevServer = e.ClientState, e.ServerState
		}
		y += step
	}
	// The FIN that never came.
	for _, s := range []analyze.Side{analyze.Client, analyze.Server} {
		hf := r.Half(s)
		if hf.State != analyze.CloseWait {
			continue
		}
		x1, x2 := left, right
		if s == analyze.Server {
			x1, x2 = right, left
		}
		c.Lines = append(c.Lines, svgLine{X1: x1, Y1: y, X2: x2, Y2: y + 12, Stroke: "#cf222e", Width: 1.5, Dash: "5 4", Marker: markerFor("#cf222e"),
			Title: fmt.Sprintf("the %s never sent its FIN", s)})
		c.Texts = append(c.Texts, svgText{X: (left + right) / 2, Y: y - 2,
			Text: fmt.Sprintf("no FIN from the %s: CLOSE_WAIT for %s at the end", s, dur(end.Sub(hf.Since.Time()))), Anchor: "middle", Class: "small alert"})
	}
	if r.Client.State == analyze.SynSent {
		c.Lines = append(c.Lines, svgLine{X1: right, Y1: y, X2: left, Y2: y + 12, Stroke: "#cf222e", Width: 1.5, Dash: "5 4", Marker: markerFor("#cf222e"),
			Title: "the server never answered"})
		c.Texts = append(c.Texts, svgText{X: (left + right) / 2, Y: y - 2,
			Text: fmt.Sprintf("no SYN-ACK: the client still in SYN_SENT at the end (%s)", dur(end.Sub(r.Client.Since.Time()))), Anchor: "middle", Class: "small alert"})
	}
	return c
}
