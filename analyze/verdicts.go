package analyze

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/flowdoc/flowdoc/flow"
)

// Verdict is a conclusion about one flow, about one of its sides.
type Verdict struct {
	Class      Class
	Side       Side
	Severity   Severity
	Confidence float64
	// Since is when the condition began (the state was entered, the
	// close happened); Age how long it had lasted at the end of the
	// capture. Zero when they do not apply.
	Since    time.Time
	Age      time.Duration
	Summary  string
	Evidence []Evidence
}

// Evidence is a packet that supports a verdict or finding.
type Evidence struct {
	Input  int // index into Report.Inputs
	Packet int // 1-based frame number in that input
	At     time.Time
	What   string
}

// minIdle is the shortest quiet period before a FIN that counts as an
// idle-timeout close (gunicorn's 2 s is the shortest common default).
const minIdle = time.Second

// acceptCloseWithin is how soon after the handshake a server's close
// counts as refusing the client.
const acceptCloseWithin = time.Second

// waitedFor reports whether a close by closer, when the last data came
// from last, ended a wait for an answer rather than an idle connection: a
// client whose request went unanswered, or a server whose request never
// completed. A server closing after its own response, or a client after
// the server's, closes an idle connection.
func waitedFor(closer, last Side) bool {
	return closer == flow.Client && last == flow.Client || closer == flow.Server && last == flow.Client
}

// inspector holds what the per-flow rules need besides the flow.
type inspector struct {
	end     flow.Timestamp
	grace   time.Duration
	scratch []Verdict
	shared  map[uint64][]Verdict
	pb      PayloadBuffer
}

// has reports whether side s did what history letter l (upper case)
// stands for.
func has(r *Record, s Side, l byte) bool {
	if s == flow.Server {
		l += 'a' - 'A'
	}
	return strings.IndexByte(r.History, l) >= 0
}

func sideName(s Side) string { return s.String() }

// sided is a text in its two variants, indexed by Side: format with
// "client", and with "server". Texts that vary only by side are made
// once, not once per flow: a large capture has hundreds of thousands of
// TIME_WAIT verdicts, and each concatenation would be an allocation the
// collector then has to chase.
type sided [2]string

func bySide(format string) sided {
	return sided{fmt.Sprintf(format, sideName(flow.Client)), fmt.Sprintf(format, sideName(flow.Server))}
}

var (
	halfCloseSummary   = bySide("the %s shut down its sending side and went on reading; the connection then closed cleanly")
	timeWaitSummary    = bySide("the %s closed first and is in TIME_WAIT, holding the 4-tuple")
	timeWaitRanOut     = bySide("the %s closed first; its TIME_WAIT ran out before the end of the capture")
	resetSummary       = bySide("the %s closed the connection with RST")
	cleanSummary       = bySide("orderly close, the %s first")
	finFrom            = bySide("FIN from %s")
	ackOfFinFrom       = bySide("ACK of FIN from %s")
	rstFrom            = bySide("RST from %s")
	zeroWindowFrom     = bySide("zero window from %s")
	zeroWinProbeFrom   = bySide("zero-window probe from %s")
	keepAliveProbeFrom = bySide("keep-alive probe from %s")
)

func ev(e *Event, what string) Evidence {
	return Evidence{Input: int(e.Input), Packet: int(e.Packet), At: e.At.Time(), What: what}
}

// firstEvent returns the first event matching f, or nil.
func firstEvent(r *Record, f func(*Event) bool) *Event {
	for i := range r.Events {
		if f(&r.Events[i]) {
			return &r.Events[i]
		}
	}
	return nil
}

func lastEvent(r *Record, f func(*Event) bool) *Event {
	for i := len(r.Events) - 1; i >= 0; i-- {
		if f(&r.Events[i]) {
			return &r.Events[i]
		}
	}
	return nil
}

// inspect returns the verdicts on one flow, most severe first. Flows with
// only the verdicts of healthy traffic share one read-only slice.
func (in *inspector) inspect(r *Record) []Verdict {
	vs := in.scratch[:0]
	add := func(v Verdict) { vs = append(vs, v) }
	defer func() { in.scratch = vs[:0] }()
	C, S := &r.Client, &r.Server
	end := in.end

	synSent, synAcked := has(r, flow.Client, 'S'), has(r, flow.Server, 'H')
	handshake := firstEvent(r, func(e *Event) bool { return e.From == flow.Server && e.Flags.Has(flow.SYN|flow.ACK) })
	firstSYN := firstEvent(r, func(e *Event) bool { return e.From == flow.Client && e.Flags&(flow.SYN|flow.ACK) == flow.SYN })
	lastSYN := lastEvent(r, func(e *Event) bool { return e.From == flow.Client && e.Flags&(flow.SYN|flow.ACK) == flow.SYN })

	switch {
	case synSent && !synAcked && S.RSTs > 0:
		rst := firstEvent(r, func(e *Event) bool { return e.From == flow.Server && e.Flags.Has(flow.RST) })
		v := Verdict{Class: Refused, Side: flow.Server, Severity: Error, Confidence: 0.95,
			Summary: fmt.Sprintf("SYN to %s answered by RST: nothing listens there, or a firewall rejects", r.Key.Server())}
		if firstSYN != nil {
			v.Evidence = append(v.Evidence, ev(firstSYN, "SYN from client"))
		}
		if rst != nil {
			v.Since = rst.At.Time()
			v.Evidence = append(v.Evidence, ev(rst, "RST from server"))
		}
		add(v)
	case synSent && S.Packets == 0:
		n := int(C.Retrans) + 1
		span := C.LastPacket.Sub(C.FirstPacket)
		state := "still retrying at the end of the capture"
		if C.State == flow.Closed {
			state = "then gave up"
		}
		v := Verdict{Class: UnansweredSYN, Side: flow.Server, Severity: Error, Confidence: 0.9,
			Since: C.FirstPacket.Time(), Age: end.Sub(C.FirstPacket),
			Summary: fmt.Sprintf("%s sent to %s over %s, never answered; the client %s", plural(n, "SYN"), r.Key.Server(), fmtDur(span), state)}
		if firstSYN != nil {
			v.Evidence = append(v.Evidence, ev(firstSYN, "SYN from client"))
		}
		if lastSYN != nil && lastSYN != firstSYN {
			v.Evidence = append(v.Evidence, ev(lastSYN, fmt.Sprintf("SYN sent again (%d in all)", n)))
		}
		add(v)
	}

	if e := firstEvent(r, func(e *Event) bool { return e.Note&flow.NoteListenOverflow != 0 }); e != nil {
		v := Verdict{Class: ListenOverflow, Side: flow.Server, Severity: Error, Confidence: 0.9, Since: e.At.Time(),
			Summary: "the server sent its SYN-ACK again after the client had acknowledged it: its accept queue was full and it dropped the ACK"}
		if handshake != nil {
			v.Evidence = append(v.Evidence, ev(handshake, "SYN-ACK from server"))
		}
		v.Evidence = append(v.Evidence, ev(e, "SYN-ACK sent again after the client's ACK"))
		add(v)
	}

	// Accepted, then closed at once, before any data from the server.
	acceptClose := false
	if synAcked && handshake != nil && S.Bytes == 0 && (S.FinPacket > 0 || S.RSTs > 0) {
		closeAt, closePkt := S.FinAt, S.FinPacket
		var closeEv *Event
		if S.FinPacket == 0 {
			closeEv = firstEvent(r, func(e *Event) bool { return e.From == flow.Server && e.Flags.Has(flow.RST) })
			if closeEv != nil {
				closeAt, closePkt = closeEv.At, closeEv.Packet
			}
		}
		clientFirst := C.FinPacket > 0 && C.FinAt < closeAt
		if closePkt > 0 && !clientFirst && closeAt.Sub(handshake.At) <= acceptCloseWithin {
			acceptClose = true
			how := "FIN"
			if S.FinPacket == 0 {
				how = "RST"
			}
			v := Verdict{Class: AcceptThenClose, Side: flow.Server, Severity: Warning, Confidence: 0.85, Since: closeAt.Time(),
				Summary: fmt.Sprintf("the server accepted the connection and closed it %s later (%s), before sending any data", fmtDur(closeAt.Sub(handshake.At)), how)}
			v.Evidence = append(v.Evidence, ev(handshake, "SYN-ACK from server"),
				Evidence{Input: int(S.FinInput), Packet: int(closePkt), At: closeAt.Time(), What: how + " from server, no data sent"})
			add(v)
		}
	}

	// Who closed first, and after how long without data.
	closer, idle, idleKnown := flow.Client, time.Duration(0), false
	switch {
	case C.FinPacket > 0 && (S.FinPacket == 0 || C.FinAt < S.FinAt):
		closer = flow.Client
	case S.FinPacket > 0:
		closer = flow.Server
	}
	ch := r.Half(closer)
	if ch.FinPacket > 0 && ch.DataBeforeFin > 0 {
		idle, idleKnown = ch.FinAt.Sub(ch.DataBeforeFin), true
	}

	// CLOSE_WAIT: received the FIN, acknowledged it, never closed.
	leaked := map[Side]bool{}
	for _, s := range []Side{flow.Client, flow.Server} {
		h := r.Half(s)
		if h.State != flow.CloseWait {
			continue
		}
		age := end.Sub(h.Since)
		fin := firstEvent(r, func(e *Event) bool { return e.From == s.Other() && e.Flags.Has(flow.FIN) })
		ack := firstEvent(r, func(e *Event) bool {
			return e.From == s && fin != nil && e.Packet >= fin.Packet && e.Input == fin.Input && e.Flags.Has(flow.ACK) &&
				e.Note&flow.NoteStateChange != 0
		})
		if ack == nil {
			ack = firstEvent(r, func(e *Event) bool { return e.From == s && fin != nil && e.At >= fin.At && e.Flags.Has(flow.ACK) })
		}
		if age < in.grace {
			add(Verdict{Class: OpenClass, Side: s, Severity: Info, Confidence: 0.8, Since: h.Since.Time(), Age: age,
				Summary: fmt.Sprintf("%s in CLOSE_WAIT for %s at the end of the capture: shorter than the %s grace, not a leak yet", sideName(s), fmtDur(age), fmtDur(in.grace))})
			continue
		}
		leaked[s] = true
		conf := 0.95
		if r.Midstream {
			conf = 0.85
		}
		quiet := ""
		if idleKnown && closer == s.Other() && idle >= minIdle {
			quiet = fmt.Sprintf(" after %s idle", fmtDur(idle))
			if waitedFor(closer, ch.DataBeforeFinFrom) {
				quiet = fmt.Sprintf(" %s after its own last data (it gave up waiting)", fmtDur(idle))
			}
		}
		var sb strings.Builder
		if fin != nil {
			fmt.Fprintf(&sb, "%s FIN at #%d%s", sideName(s.Other()), fin.Packet, quiet)
			if ack != nil {
				fmt.Fprintf(&sb, " acknowledged by the %s at #%d", sideName(s), ack.Packet)
			}
			fmt.Fprintf(&sb, "; the %s never sent FIN (%s until the end of the capture)", sideName(s), fmtDur(age))
		} else {
			fmt.Fprintf(&sb, "the %s has been in CLOSE_WAIT for %s: it received the %s's FIN and never closed", sideName(s), fmtDur(age), sideName(s.Other()))
		}
		v := Verdict{Class: CloseWaitLeak, Side: s, Severity: Error, Confidence: conf, Since: h.Since.Time(), Age: age, Summary: sb.String()}
		if fin != nil {
			v.Evidence = append(v.Evidence, ev(fin, "FIN from "+sideName(s.Other())+quiet))
		}
		if ack != nil {
			v.Evidence = append(v.Evidence, ev(ack, ackOfFinFrom[s]))
		}
		leakExchange(r, s, &v, &in.pb)
		add(v)
	}

	// Idle-timeout close: the first FIN after a quiet period.
	if idleKnown && idle >= minIdle && !acceptClose {
		sev := Info
		if leaked[closer.Other()] {
			sev = Warning
		}
		dataFrom := ch.DataBeforeFinFrom
		sum := fmt.Sprintf("the %s closed the connection after %s without data", sideName(closer), fmtDur(idle))
		what := fmt.Sprintf("FIN from %s after %s idle", sideName(closer), fmtDur(idle))
		if waitedFor(closer, dataFrom) {
			what = fmt.Sprintf("FIN from %s %s after its last data", sideName(closer), fmtDur(idle))
			sum = fmt.Sprintf("the %s closed the connection %s after its own last data, with no answer: it gave up waiting (a timeout)", sideName(closer), fmtDur(idle))
		}
		v := Verdict{Class: IdleTimeoutClose, Side: closer, Severity: sev, Confidence: 0.8, Since: ch.FinAt.Time(), Summary: sum}
		v.Evidence = append(v.Evidence,
			Evidence{Input: int(ch.DataBeforeFinInput), Packet: int(ch.DataBeforeFinPacket), At: ch.DataBeforeFin.Time(), What: "last data from " + sideName(dataFrom)},
			Evidence{Input: int(ch.FinInput), Packet: int(ch.FinPacket), At: ch.FinAt.Time(), What: what})
		add(v)
	}

	// Data on a connection the peer had closed, answered by RST. A server
	// does not reuse connections: data it sends after the client closed
	// (a TLS close_notify, a response too late) is a plain reset. A client
	// that ignored Connection: close has a verdict that says more.
	stale := false
	ignored, isIgnored := closeIgnored(r, &in.pb)
	for _, s := range []Side{flow.Client, flow.Server} {
		h, peer := r.Half(s), r.Half(s.Other())
		if peer.FinPacket == 0 || h.LastPayload <= peer.FinAt || peer.RSTs == 0 {
			continue
		}
		if s == flow.Server && !r.RolesInferred || s == flow.Client && isIgnored {
			continue
		}
		rst := lastEvent(r, func(e *Event) bool { return e.From == s.Other() && e.Flags.Has(flow.RST) && e.At >= h.LastPayload })
		if rst == nil {
			continue
		}
		stale = true
		sent, data := "data", Evidence{Input: int(h.LastPayloadInput), Packet: int(h.LastPayloadPacket), At: h.LastPayload.Time(), What: "data from " + sideName(s) + " on the closed connection"}
		after := h.LastPayload.Sub(peer.FinAt)
		if x := staleRequest(r, s, peer.FinAt, &in.pb); x != nil {
			sent = request(x)
			after = x.RequestAt.Sub(peer.FinAt)
			data = Evidence{Input: int(x.RequestInput), Packet: int(x.RequestPacket), At: x.RequestAt.Time(), What: request(x) + " from " + sideName(s) + " on the closed connection"}
		}
		v := Verdict{Class: StaleReuseReset, Side: s, Severity: Warning, Confidence: 0.9, Since: h.LastPayload.Time(),
			Summary: fmt.Sprintf("the %s sent %s %s after the %s had closed the connection, and got RST: a connection reused after the peer closed it",
				sideName(s), sent, fmtDur(after), sideName(s.Other()))}
		v.Evidence = append(v.Evidence,
			Evidence{Input: int(peer.FinInput), Packet: int(peer.FinPacket), At: peer.FinAt.Time(), What: finFrom[s.Other()]},
			data, ev(rst, rstFrom[s.Other()]))
		add(v)
	}

	if isIgnored {
		add(ignored)
	}

	// A receiver that stopped reading.
	for _, s := range []Side{flow.Client, flow.Server} {
		h, peer := r.Half(s), r.Half(s.Other())
		if h.ZeroWindows == 0 || !h.ZeroWindowAtEnd && peer.WinProbes == 0 {
			continue
		}
		zw := firstEvent(r, func(e *Event) bool { return e.From == s && e.Note&flow.NoteZeroWindow != 0 })
		probe := firstEvent(r, func(e *Event) bool { return e.From == s.Other() && e.Note&flow.NoteWindowProbe != 0 })
		v := Verdict{Class: ZeroWindowStall, Side: s, Severity: Warning, Confidence: 0.9}
		if zw != nil {
			v.Since, v.Age = zw.At.Time(), end.Sub(zw.At)
		}
		if h.ZeroWindowAtEnd {
			v.Severity = Error
			v.Summary = fmt.Sprintf("the %s advertised a zero window and was still not reading at the end of the capture, %s later (the %s probed or retransmitted into the closed window %d times)",
				sideName(s), fmtDur(v.Age), sideName(s.Other()), peer.WinProbes+peer.Retrans)
		} else {
			v.Summary = fmt.Sprintf("the %s advertised a zero window %d times, then read again", sideName(s), h.ZeroWindows)
		}
		if zw != nil {
			v.Evidence = append(v.Evidence, ev(zw, zeroWindowFrom[s]))
		}
		if probe != nil {
			v.Evidence = append(v.Evidence, ev(probe, zeroWinProbeFrom[s.Other()]))
		}
		add(v)
	}

	done := func(st State) bool { return st == flow.Closed || st == flow.TimeWait }
	for _, s := range []Side{flow.Client, flow.Server} {
		h := r.Half(s)
		if h.HalfClosed && done(C.State) && done(S.State) && C.RSTs == 0 && S.RSTs == 0 {
			add(Verdict{Class: HalfCloseOK, Side: s, Severity: Info, Confidence: 0.9,
				Summary: halfCloseSummary[s]})
		}
	}

	// TIME_WAIT on the active closer. (When it began is the side's
	// "since"; healthy verdicts carry no per-flow text, so that flows can
	// share them.)
	for _, s := range []Side{flow.Client, flow.Server} {
		h := r.Half(s)
		if h.State == flow.TimeWait || h.Expired == flow.TimeWait {
			v := Verdict{Class: TimeWaitClass, Side: s, Severity: Info, Confidence: 0.95,
				Summary: timeWaitSummary[s]}
			if h.State != flow.TimeWait {
				v.Summary = timeWaitRanOut[s]
			}
			add(v)
		}
	}

	// An abortive close not explained above.
	if (C.RSTs > 0 || S.RSTs > 0) && C.State == flow.Closed && S.State == flow.Closed && !stale && !acceptClose &&
		!slices.ContainsFunc(vs, func(v Verdict) bool { return v.Class == Refused }) {
		rst := firstEvent(r, func(e *Event) bool { return e.Flags.Has(flow.RST) && e.Note&flow.NoteRSTIgnored == 0 })
		if rst != nil {
			v := Verdict{Class: ResetClass, Side: rst.From, Severity: Info, Confidence: 0.9, Since: rst.At.Time(),
				Summary: resetSummary[rst.From]}
			v.Evidence = append(v.Evidence, ev(rst, rstFrom[rst.From]))
			add(v)
		}
	}

	if (&Flow{Record: r}).Clean() && !acceptClose {
		add(Verdict{Class: CleanClass, Side: closer, Severity: Info, Confidence: 0.95,
			Summary: cleanSummary[closer]})
	}
	if C.State == flow.Established && S.State == flow.Established {
		sum := "established and healthy at the end of the capture"
		if C.ZeroWindowAtEnd || S.ZeroWindowAtEnd {
			sum = "established at the end of the capture"
		}
		add(Verdict{Class: OpenClass, Side: flow.Client, Severity: Info, Confidence: 0.9, Summary: sum})
	}
	if r.Midstream {
		add(Verdict{Class: MidstreamClass, Side: flow.Client, Severity: Info, Confidence: 1,
			Summary: "the capture began after the handshake: roles and states are inferred"})
	}

	slices.SortStableFunc(vs, func(a, b Verdict) int { return int(b.Severity) - int(a.Severity) })
	return in.keep(vs)
}

// sameVerdicts reports whether two verdict lists say the same.
func sameVerdicts(a, b []Verdict) bool {
	return slices.EqualFunc(a, b, func(x, y Verdict) bool {
		return x.Class == y.Class && x.Side == y.Side && x.Severity == y.Severity &&
			x.Confidence == y.Confidence && x.Summary == y.Summary && x.Since.Equal(y.Since) && x.Age == y.Age &&
			len(x.Evidence) == 0 && len(y.Evidence) == 0
	})
}

// keep returns vs in memory of its own, or a shared copy when every
// verdict is one whose text does not depend on the flow.
func (in *inspector) keep(vs []Verdict) []Verdict {
	// The key: each verdict's class, side and text variant, a few bits each.
	var key uint64
	shared := len(vs) <= 4
	for i := range vs {
		if !shared {
			break
		}
		v := &vs[i]
		var c uint64
		switch v.Class {
		case TimeWaitClass:
			c = 1
		case CleanClass:
			c = 2
		case MidstreamClass:
			c = 3
		case HalfCloseOK:
			c = 4
		case OpenClass:
			c = 5
			shared = v.Since.IsZero()
		default:
			shared = false
		}
		variant := uint64(len(v.Summary)) & 0xff // a hint; keep checks the texts
		key = key<<16 | c<<12 | uint64(v.Side)<<8 | variant
	}
	if !shared {
		return slices.Clone(vs)
	}
	if in.shared == nil {
		in.shared = map[uint64][]Verdict{}
	}
	if s, ok := in.shared[key]; ok && sameVerdicts(s, vs) {
		return s
	} else if ok {
		return slices.Clone(vs) // the key is only a hint: never share unlike verdicts
	}
	s := slices.Clip(slices.Clone(vs))
	in.shared[key] = s
	return s
}
