package analyze

import (
	"fmt"
	"time"

	"github.com/flowdoc/flowdoc/flow"
)

// Judging at the edge of the capture. A capture stops at an arbitrary
// moment: a CLOSE_WAIT that began 0.8 s before the end, a SYN sent 5 ms
// before it. Whether such a state is a fault is judged here, in one place,
// from what the same capture shows (how fast this host closed the
// connections it did close, the protocol's own timers, what its sibling
// connections did), not from thresholds fixed in advance; and when the
// capture cannot tell, the verdict says so in words.

// judgement is a decision about a state at the end of the capture.
type judgement struct {
	leak       bool
	confidence float64
	// quiet is how long the endpoint had shown no sign of life: no data
	// since the peer's FIN, or since its own last data.
	quiet time.Duration
	// sending is set when the endpoint sent data after the peer's FIN:
	// a half-close, the application at work.
	sending bool
	// basis says, in words, what the judgement rests on.
	basis string
}

const (
	// closeFactor is how many times the time its host usually takes to
	// close (the 90th percentile of its closes after the peer's FIN) an
	// endpoint must have stayed in CLOSE_WAIT to be a leak.
	closeFactor = 10
	// closeFloor is the least quiet time that makes a leak, however fast
	// the host showed itself to close: a garbage collection or a busy
	// scheduler can hold an application's close this long.
	closeFloor = 200 * time.Millisecond
	// minSamples is how many closes of one application make evidence of
	// its own; with fewer, its host's closes are used.
	minSamples = 3
)

// judgeCloseWait decides whether side s of r, in CLOSE_WAIT at the end, is
// a leak. With siblings, a CLOSE_WAIT too young to judge on its own is one
// more of the same when its application leaked others beyond doubt.
func (ev *captureEvidence) judgeCloseWait(r *flow.Record, s flow.Side, siblings bool) judgement {
	h := r.Half(s)
	last := h.Since // the peer's FIN
	j := judgement{sending: h.LastPayload > h.Since}
	if j.sending {
		last = h.LastPayload
	}
	j.quiet = ev.end.Sub(last)
	// An endpoint that streams with pauses is not quiet until it has
	// paused much longer than it usually does between packets.
	var cadence time.Duration
	if j.sending && h.Packets > 1 {
		cadence = closeFactor * (h.LastPacket.Sub(h.FirstPacket) / time.Duration(h.Packets-1))
	}
	quiet := fmtDur(j.quiet)
	if ev.grace > 0 {
		j.leak, j.confidence = j.quiet >= max(ev.grace, cadence), 0.9
		j.basis = fmt.Sprintf("quiet for %s in CLOSE_WAIT, against the %s set by --close-wait-grace", quiet, fmtDur(ev.grace))
		return j
	}
	app := appOf(r, s)
	l, who := ev.closes[app], "this host"
	if l != nil && len(l.d) >= minSamples {
		who = fmt.Sprintf("%s, on its connections to %s,", app.host, app.endpoint)
		if s == flow.Server {
			who = fmt.Sprintf("%s, on its other connections,", app.endpoint)
		}
	} else {
		l = ev.closes[appKey{host: app.host}]
	}
	switch {
	case l != nil && len(l.d) > 0:
		usual := l.quantile(0.9)
		if j.quiet >= max(closeFloor, closeFactor*usual, cadence) {
			j.leak, j.confidence = true, 0.85
			if len(l.d) >= minSamples && j.quiet >= closeFactor*l.quantile(1) {
				j.confidence = 0.95
			}
			j.basis = fmt.Sprintf("%s closed %s within %s of the peer's FIN, and this one has not in %s",
				who, plural(len(l.d), "connection"), fmtDur(l.quantile(1)), quiet)
			if len(l.d) > 2 && usual < l.quantile(1) {
				j.basis = fmt.Sprintf("%s closed %s after the peer's FIN within %s (90 %% of them; all within %s), and this one has not in %s",
					who, plural(len(l.d), "connection"), fmtDur(usual), fmtDur(l.quantile(1)), quiet)
			}
		} else {
			j.basis = fmt.Sprintf("in CLOSE_WAIT for %s at the end of the capture, and %s has taken up to %s to close after the peer's FIN: the capture cannot tell yet whether it will close",
				quiet, who, fmtDur(l.quantile(1)))
		}
	default:
		// Nothing to compare with. An application that reads EOF closes
		// within milliseconds; the default grace is the prior.
		if j.quiet >= max(DefaultCloseWaitGrace, cadence) {
			j.leak, j.confidence = true, 0.8
			if j.quiet >= 3*max(DefaultCloseWaitGrace, cadence) {
				j.confidence = 0.9
			}
			j.basis = fmt.Sprintf("the capture holds no close by this host to compare with, but an application that reads the peer's FIN closes within milliseconds, and this one has not in %s", quiet)
		} else {
			j.basis = fmt.Sprintf("in CLOSE_WAIT for %s at the end of the capture, and the capture holds no close by this host to compare with: it cannot tell yet whether it will close", quiet)
		}
	}
	if !j.leak && siblings && !j.sending {
		if n := ev.leaks[app]; n > 0 {
			j.leak, j.confidence = true, 0.8
			j.basis = fmt.Sprintf("in CLOSE_WAIT for %s only, but it is one more of the same: %s of %s in CLOSE_WAIT %s leaks beyond doubt",
				quiet, plural(n, "other connection"), app.host, map[bool]string{true: "is a", false: "are"}[n == 1])
		}
	}
	return j
}

// synInFlight reports whether a client's SYN, unanswered at the end, may
// still be answered: sent once, less than the initial retransmission
// timeout before the end (a SYN not answered within it is sent again).
func synInFlight(r *flow.Record, end flow.Timestamp) bool {
	return r.Client.Retrans == 0 && end.Sub(r.Client.LastPacket) < flow.InitialRTO
}
