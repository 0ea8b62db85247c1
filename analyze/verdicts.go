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
	Class    Class
	Side     flow.Side
	Severity Severity
	// lastResponse is set on a CLOSE_WAIT leak whose side got an HTTP
	// response before the peer closed: its summary and evidence then
	// end with that response, read from the flow's payload when shown
	// (detailed). Leaks are many in a busy capture, and the text is
	// long.
	lastResponse bool
	// mass is set on a server's idle close that was part of a mass close
	// (captureEvidence.mass): a restart or reload, not its idle timer.
	mass bool
	// pings is set on a server's close for its client's pings (flow's
	// Record.ClosedForPings), not for the idle time.
	pings bool
	// unused is set on an idle close of a connection that carried no
	// data either way before it (but the closer's goodbye): quiet since
	// its handshake.
	unused bool
	// greetWait is set on such a close by a client that waited for the
	// greeting of a server that speaks first.
	greetWait bool
	// notTakenUp is set on a listen overflow of a connection in CLOSE_WAIT
	// whose server never came to it (notTakenUp).
	notTakenUp bool
	// pooled is set on a CLOSE_WAIT held by a pool until its next use
	// (judgement byNextUse), not a leak.
	pooled     bool
	Confidence float64
	// Since is when the condition began (the state was entered, the
	// close happened); Age how long it had lasted at the end of the
	// capture. Zero when they do not apply.
	Since    flow.Timestamp
	Age      time.Duration
	Summary  string
	Evidence []Evidence
}

// Evidence is a packet that supports a verdict or finding.
type Evidence struct {
	Input  int // index into Report.Inputs
	Packet int // 1-based frame number in that input
	At     flow.Timestamp
	What   string
}

// has reports whether side s did what history letter l (upper case)
// stands for.
func has(r *flow.Record, s flow.Side, l byte) bool {
	if s == flow.Server {
		l += 'a' - 'A'
	}
	return strings.IndexByte(r.History, l) >= 0
}

func sideName(s flow.Side) string { return s.String() }

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
	halfCloseSummary = bySide("the %s shut down its sending side and went on reading; the connection then closed cleanly")
	timeWaitSummary  = bySide("the %s closed first and is in TIME_WAIT, holding the 4-tuple")
	timeWaitRanOut   = bySide("the %s closed first; its TIME_WAIT ran out before the end of the capture")
	resetSummary     = bySide("the %s closed the connection with RST")
	resetAfterClose  = sided{
		"the client closed with FIN, then reset the server's data that came after its close (a closed socket answers data with RST)",
		"the server closed with FIN, then reset the client's data that came after its close (a closed socket answers data with RST)",
	}
	cleanSummary = bySide("orderly close, the %s first")
	// A simultaneous close: each side sent its FIN before it had the
	// other's, and each holds TIME_WAIT.
	timeWaitCrossed    = "the client and the server closed at once, their FINs crossing: each is in TIME_WAIT, holding the 4-tuple"
	cleanCrossed       = "orderly close, both at once (their FINs crossed)"
	finFrom            = bySide("FIN from %s")
	ackOfFinFrom       = bySide("ACK of FIN from %s")
	rstFrom            = bySide("RST from %s")
	zeroWindowFrom     = bySide("zero window from %s")
	zeroWinProbeFrom   = bySide("zero-window probe from %s")
	keepAliveProbeFrom = bySide("keep-alive probe from %s")
)

func ev(e *flow.Event, what string) Evidence {
	return Evidence{Input: int(e.Input), Packet: int(e.Packet), At: e.At, What: what}
}

// firstEvent returns the first event matching f, or nil.
func firstEvent(r *flow.Record, f func(*flow.Event) bool) *flow.Event {
	for i := range r.Events {
		if f(&r.Events[i]) {
			return &r.Events[i]
		}
	}
	return nil
}

func lastEvent(r *flow.Record, f func(*flow.Event) bool) *flow.Event {
	for i := len(r.Events) - 1; i >= 0; i-- {
		if f(&r.Events[i]) {
			return &r.Events[i]
		}
	}
	return nil
}

// sameVerdicts reports whether two verdict lists say the same.
func sameVerdicts(a, b []Verdict) bool {
	return slices.EqualFunc(a, b, func(x, y Verdict) bool {
		return x.Class == y.Class && x.Side == y.Side && x.Severity == y.Severity &&
			x.Confidence == y.Confidence && x.Summary == y.Summary && x.lastResponse == y.lastResponse && x.mass == y.mass && x.pings == y.pings && x.Since == y.Since && x.Age == y.Age &&
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
