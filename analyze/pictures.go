package analyze

import (
	"cmp"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/flowdoc/flowdoc/flow"
	"github.com/flowdoc/flowdoc/flow/packet"
)

// Mark is what a packet drawn in a picture stands out for: the colour it
// is drawn in.
type Mark uint8

const (
	MarkNone Mark = iota // a plain segment
	MarkSYN
	MarkFIN
	MarkRST
	// MarkLate is data sent after the peer's FIN.
	MarkLate
)

func markOf(f packet.Flags) Mark {
	switch {
	case f&packet.RST != 0:
		return MarkRST
	case f&packet.FIN != 0:
		return MarkFIN
	case f&packet.SYN != 0:
		return MarkSYN
	}
	return MarkNone
}

// flagName spells a segment's control flags as people say them:
// "SYN-ACK", "FIN-ACK", "segment" for none.
func flagName(f packet.Flags) string {
	var parts []string
	for _, fl := range []struct {
		f    packet.Flags
		name string
	}{{packet.SYN, "SYN"}, {packet.FIN, "FIN"}, {packet.RST, "RST"}, {packet.ACK, "ACK"}} {
		if f&fl.f != 0 {
			parts = append(parts, fl.name)
		}
	}
	if len(parts) == 0 {
		return "segment"
	}
	return strings.Join(parts, "-")
}

// Timeline is the flows drawn across the capture, one row each.
type Timeline struct {
	// Start and End are the span drawn: the first packet drawn to the
	// end of the capture (or the last packet drawn, if later).
	Start, End Time
	Rows       []TimelineRow
	// Note says what the timeline leaves out; "" when nothing.
	Note string
}

// TimelineRow is one flow of a Timeline.
type TimelineRow struct {
	ID             int
	Client, Server Endpoint
	// Severity is the flow's worst verdict's; unset for a flow with none.
	Severity Opt[Severity]
	// Notes are the flow's (FlowView.Notes); "closed cleanly" for a flow
	// with no verdict.
	Notes string
	// States are the endpoints' states at the end (EndView.StateText).
	States Pair[string]
	// First and Last are the flow's first and last packets. IdleFrom to
	// IdleTo is the quiet time before the first FIN, when it was long;
	// both zero otherwise.
	First, Last, IdleFrom, IdleTo Time
	// Open holds the endpoints' states when one of them still held its
	// socket at the end ("CLOSE_WAIT / FIN_WAIT_2"); "" otherwise.
	Open string
	// Marks are the flow's SYNs, FINs and RSTs.
	Marks []TimelineMark
}

// TimelineMark is a SYN, FIN or RST on a timeline row.
type TimelineMark struct {
	At     Time
	Mark   Mark
	Packet uint32
	// Title is "#3 FIN-ACK from server".
	Title string
}

// Timeline draws up to rows flows (0: 120): those that did not close
// cleanly first, then clean ones sampled evenly, in the room left.
func (rep *Report) Timeline(rows int) Timeline {
	if rows <= 0 {
		rows = 120
	}
	picked, note := rep.timelineFlows(rows)
	if len(picked) == 0 {
		return Timeline{}
	}
	tl := Timeline{Start: Time(rep.Flows[picked[0]].First), End: Time(rep.End.UnixNano()), Note: note}
	var v FlowView
	for _, i := range picked {
		f := &rep.Flows[i]
		tl.Start, tl.End = min(tl.Start, Time(f.First)), max(tl.End, Time(f.Last))
		rep.ViewFlow(i, &v, false)
		tl.Rows = append(tl.Rows, timelineRow(f, &v))
	}
	return tl
}

// timelineFlows picks the flows a timeline draws, and says what it leaves
// out.
func (rep *Report) timelineFlows(limit int) ([]int, string) {
	var bad, clean []int
	for i := range rep.Flows {
		if rep.Flows[i].Clean() {
			clean = append(clean, i)
		} else {
			bad = append(bad, i)
		}
	}
	if len(bad) > limit {
		return bad[:limit], fmt.Sprintf("The first %d of %d flows that did not close cleanly; %d clean flows not drawn.", limit, len(bad), len(clean))
	}
	rows, note := bad, ""
	room := min(limit-len(bad), len(clean), max(10, (limit-len(bad))/3))
	if room < len(clean) && room > 0 {
		note = fmt.Sprintf("All %d flows that did not close cleanly and %d of %d clean ones, sampled evenly.", len(bad), room, len(clean))
	}
	for i := range room {
		rows = append(rows, clean[i*len(clean)/room])
	}
	return rows, note
}

func timelineRow(f *Flow, v *FlowView) TimelineRow {
	r := f.Record
	row := TimelineRow{ID: r.ID, Client: v.Client, Server: v.Server, Notes: "closed cleanly",
		States: Pair[string]{v.Ends.Client.StateText(), v.Ends.Server.StateText()}, First: Time(r.First), Last: Time(r.Last)}
	if sev, ok := v.Severity(); ok {
		row.Severity, row.Notes = Some(sev), v.Notes()
	}
	row.IdleFrom, row.IdleTo = idleBeforeFin(r)
	if holdsSocket(r.Client.State) || holdsSocket(r.Server.State) {
		row.Open = r.Client.State.String() + " / " + r.Server.State.String()
	}
	for _, e := range r.Events {
		if m := markOf(e.Flags); m != MarkNone {
			row.Marks = append(row.Marks, TimelineMark{At: Time(e.At), Mark: m, Packet: e.Packet,
				Title: fmt.Sprintf("#%d %s from %s", e.Packet, flagName(e.Flags), e.From)})
		}
	}
	return row
}

// idleBeforeFin is the quiet time before the first FIN, from the last
// payload before it: when it took more than a fifth of the flow and more
// than 100 ms. Zero otherwise.
func idleBeforeFin(r *flow.Record) (from, to Time) {
	fin := firstFin(r)
	if fin == 0 {
		return 0, 0
	}
	last := max(r.Client.DataBeforeFin, r.Server.DataBeforeFin)
	if r.Client.FinAt == fin {
		last = r.Client.DataBeforeFin
	} else if r.Server.FinAt == fin {
		last = r.Server.DataBeforeFin
	}
	if last != 0 && float64(fin-last) > 0.2*float64(max(r.Last-r.First, 1)) && fin-last > flow.Timestamp(100*time.Millisecond) {
		return Time(last), Time(fin)
	}
	return 0, 0
}

// firstFin is the time of the first FIN either way; 0 if none.
func firstFin(r *flow.Record) flow.Timestamp {
	a, b := r.Client.FinAt, r.Server.FinAt
	switch {
	case a == 0:
		return b
	case b == 0:
		return a
	}
	return min(a, b)
}

// maxLadder is how many packets a ladder diagram draws: the first ones
// and the last 8.
const maxLadder = 24

// Ladder is one flow's packets as a sequence diagram: the client on one
// side, the server on the other, a row per packet, and what never came.
type Ladder struct {
	ID             int
	Client, Server Endpoint
	Rows           []LadderRow
	// Skipped packets are left out, before row SkippedAt.
	Skipped, SkippedAt int
	// Quiet, before row QuietAt, is the quiet time before the first FIN
	// ("last data (from the client) at +1.2 s, then 20.0 s quiet"); ""
	// and -1 when short.
	Quiet   string
	QuietAt int
	// Missing are the packets that never came, drawn after the rows.
	Missing []LadderMissing
}

// LadderRow is one packet of a ladder.
type LadderRow struct {
	// After is the time since the flow's first packet.
	After  time.Duration
	From   string // "client" or "server"
	Mark   Mark
	Label  string // "FIN-ACK len 0 (retransmission)"
	Packet uint32
	// Title is "#5 FIN-ACK seq 1 ack 1".
	Title string
	// States are "ESTABLISHED / CLOSE_WAIT" after the packet, when it
	// changed them; "" otherwise.
	States string
}

// LadderMissing is a packet a side never sent.
type LadderMissing struct {
	From        string
	Title, Text string
}

// FindingLadders returns a ladder per finding, indexed as Findings: its
// first flow whose packets were kept and that no earlier finding drew;
// nil for a finding without one.
func (rep *Report) FindingLadders() []*Ladder {
	byID := make(map[int]*Flow, len(rep.Flows))
	for i := range rep.Flows {
		byID[rep.Flows[i].ID] = &rep.Flows[i]
	}
	drawn := map[int]bool{}
	out := make([]*Ladder, len(rep.Findings))
	for i, f := range rep.Findings {
		for _, id := range f.Flows {
			if fl := byID[id]; fl != nil && len(fl.Events) > 0 && !drawn[id] {
				drawn[id] = true
				out[i] = ladderOf(fl.Record, rep.End)
				break
			}
		}
	}
	return out
}

// ladderOf lays out the packets r kept, then what never came.
func ladderOf(r *flow.Record, end time.Time) *Ladder {
	l := &Ladder{ID: r.ID, Client: endpointOf(r.Key.Client()), Server: endpointOf(r.Key.Server()), QuietAt: -1}
	evs := withLateData(r)
	if len(evs) > maxLadder {
		l.Skipped, l.SkippedAt = len(evs)-maxLadder, maxLadder-8
		evs = append(evs[:l.SkippedAt:l.SkippedAt], evs[len(evs)-8:]...)
	}
	l.Quiet, l.QuietAt = quietBeforeFin(r, evs)
	prev := [2]flow.State{}
	for _, e := range evs {
		row := LadderRow{After: e.At.Sub(r.First), From: e.From.String(), Mark: markOf(e.Flags), Label: flagName(e.Flags), Packet: e.Packet}
		if e.Len > 0 {
			row.Label += fmt.Sprintf(" len %d", e.Len)
		}
		if e.late {
			row.Label, row.Mark = "data, after the peer's FIN", MarkLate
		}
		if notes := noteText(e.Note); notes != "" {
			row.Label += " (" + notes + ")"
		}
		row.Title = fmt.Sprintf("#%d %s seq %d ack %d", e.Packet, row.Label, e.Seq, e.Ack)
		if !e.late && (e.ClientState != prev[0] || e.ServerState != prev[1]) {
			row.States = e.ClientState.String() + " / " + e.ServerState.String()
			prev = [2]flow.State{e.ClientState, e.ServerState}
		}
		l.Rows = append(l.Rows, row)
	}
	l.Missing = missingPackets(r, end)
	return l
}

// ladderEvent is a packet a ladder draws: an event, or data sent after
// the peer's FIN (late), which no event is.
type ladderEvent struct {
	flow.Event
	late bool
}

// withLateData returns r's events with, for each side that sent data
// after the peer's FIN, that packet: it is what the diagram is for when a
// pooled connection was reused after the close.
func withLateData(r *flow.Record) []ladderEvent {
	evs := make([]ladderEvent, 0, len(r.Events)+2)
	for _, e := range r.Events {
		evs = append(evs, ladderEvent{Event: e})
	}
	for _, side := range []flow.Side{flow.Client, flow.Server} {
		h, peer := r.Half(side), r.Half(side.Other())
		if peer.FinAt == 0 || h.LastPayload <= peer.FinAt || slices.ContainsFunc(r.Events, func(e flow.Event) bool { return e.Packet == h.LastPayloadPacket }) {
			continue
		}
		e := ladderEvent{flow.Event{At: h.LastPayload, Packet: h.LastPayloadPacket, Input: h.LastPayloadInput, From: side, Flags: packet.ACK,
			ClientState: flow.Unknown, ServerState: flow.Unknown}, true}
		i, _ := slices.BinarySearchFunc(evs, e.At, func(e ladderEvent, t flow.Timestamp) int { return cmp.Compare(e.At, t) })
		evs = slices.Insert(evs, i, e)
	}
	return evs
}

// noteText spells why a packet was kept, but a state change (the ladder
// shows those): "retransmission, keepalive".
func noteText(n flow.Note) string {
	var keep []string
	for _, name := range n.Names() {
		if name != "state_change" {
			keep = append(keep, strings.ReplaceAll(name, "_", " "))
		}
	}
	return strings.Join(keep, ", ")
}

// quietBeforeFin says how long nothing was sent before the first FIN of
// evs, when it was 100 ms or more, and before which of evs.
func quietBeforeFin(r *flow.Record, evs []ladderEvent) (string, int) {
	if firstFin(r) == 0 {
		return "", -1
	}
	for i, e := range evs {
		if e.Flags&packet.FIN == 0 {
			continue
		}
		h := r.Half(e.From)
		if h.DataBeforeFin != 0 && e.At.Sub(h.DataBeforeFin) >= 100*time.Millisecond {
			return fmt.Sprintf("last data (from the %s) at +%s, then %s quiet", h.DataBeforeFinFrom,
				fmtDur(h.DataBeforeFin.Sub(r.First)), fmtDur(e.At.Sub(h.DataBeforeFin))), i
		}
		break
	}
	return "", -1
}

// missingPackets are the FIN of a side left in CLOSE_WAIT, and the
// SYN-ACK a client still in SYN_SENT never got.
func missingPackets(r *flow.Record, end time.Time) []LadderMissing {
	var m []LadderMissing
	for _, s := range []flow.Side{flow.Client, flow.Server} {
		if h := r.Half(s); h.State == flow.CloseWait {
			m = append(m, LadderMissing{From: s.String(), Title: fmt.Sprintf("the %s never sent its FIN", s),
				Text: fmt.Sprintf("no FIN from the %s: CLOSE_WAIT for %s at the end", s, fmtDur(end.Sub(h.Since.Time())))})
		}
	}
	if r.Client.State == flow.SynSent {
		m = append(m, LadderMissing{From: flow.Server.String(), Title: "the server never answered",
			Text: fmt.Sprintf("no SYN-ACK: the client still in SYN_SENT at the end (%s)", fmtDur(end.Sub(r.Client.Since.Time())))})
	}
	return m
}
