package analyze

import (
	"fmt"
	"time"

	"github.com/flowdoc/flowdoc/flow"
	"github.com/flowdoc/flowdoc/flow/packet"
	"github.com/flowdoc/flowdoc/flow/payload"
)

// Judging at the edge of the capture. A capture stops at an arbitrary
// moment: a CLOSE_WAIT that began 0.8 s before the end, a SYN sent 5 ms
// before it. Whether such a state is a fault is judged here, in one place,
// from what the same capture shows (how fast this host closed the
// connections it did close, the protocol's own timers, what its sibling
// connections did), not from thresholds fixed in advance; and when the
// capture cannot tell, the verdict says so in words.

// judgement is a decision about a state at the end of the capture, with
// what it rests on (the words are made only when shown: basis).
type judgement struct {
	leak       bool
	confidence float64
	// quiet is how long the endpoint had shown no sign of life: no data
	// since the peer's FIN, or since its own last data.
	quiet time.Duration
	// sending is set when the endpoint sent data after the peer's FIN:
	// a half-close, the application at work.
	sending bool

	on     basisKind
	lost   string // on byLoss: what the capture lost
	app    appKey
	server bool          // the application is a server (its own endpoint)
	closes *latencies    // the closes compared with (on byOwnCloses, byHostCloses)
	reused int           // how many of those closes were reuses (reuseLatency)
	grace  time.Duration // on byGrace
	leaks  int           // on bySiblings
	idle   time.Duration // on byDone: since the connection's last data
	// before is, on byPrior, how long the connection had been idle when
	// the peer closed it (0: it was not idle).
	before time.Duration
	// line is, on byQueue, how the server answered the requests before
	// this one's; ago how long before the end it last answered, waited how
	// long this one's request had waited then.
	line        *answers
	ago, waited time.Duration
	ownApps     bool // closes are the application's own, not its host's
	// replaced is, on byNextUse, how many of the application's closes
	// after a FIN came as it opened a new connection in their place.
	replaced int
}

// basisKind is what a judgement rests on.
type basisKind uint8

const (
	byGrace       basisKind = iota // --close-wait-grace
	byCloses                       // the host's or application's own closes
	byPrior                        // nothing to compare with
	byDone                         // the application closes what it is done with
	bySiblings                     // its application's leaks beyond doubt
	byLoss                         // the capture lost packets of this close
	byQueue                        // a server still answering the requests before this one
	byNextUse                      // a pool that closes a connection at its next use
	byUnannounced                  // a server that closed right after a response that did not say it would
)

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
	// minDone is how many connections an application must have closed
	// itself, each right after its last data, to show that it closes
	// what it is done with: one could be chance.
	minDone = 2
)

// judgeCloseWait decides whether side s of r, in CLOSE_WAIT at the end, is
// a leak. With siblings, a CLOSE_WAIT too young to judge on its own is one
// more of the same when its application leaked others beyond doubt.
func (ev *captureEvidence) judgeCloseWait(r *flow.Record, s flow.Side, siblings bool) judgement {
	h := r.Half(s)
	last := h.Since // the peer's FIN
	j := judgement{sending: h.LastPayload > h.Since, app: appOf(r, s), server: s == flow.Server}
	if j.sending {
		last = h.LastPayload
	}
	j.quiet = ev.end.Sub(last)
	if why := lostAtClose(r, s, ev.end); why != "" {
		j.on, j.lost = byLoss, why
		return j
	}
	// An endpoint that streams with pauses is not quiet until it has
	// paused much longer than it usually does between packets.
	var cadence time.Duration
	if j.sending && h.Packets > 1 {
		cadence = closeFactor * (h.LastPacket.Sub(h.FirstPacket) / time.Duration(h.Packets-1))
	}
	if C := &r.Client; s == flow.Server && !j.sending && ev.grace == 0 && C.FinPacket > 0 && C.FinAt > C.LastPayload {
		// A request the client gave up waiting on, in line behind those
		// the server is still answering one after another: a worker
		// busy with each in turn, not one that forgot this one. Or a
		// request answered, whose close waits as long on the busy
		// workers (Tomcat closes on a request thread).
		a, ok := ev.inLine(r.Key.Server(), C.LastPayload)
		if C.LastPayload <= r.Server.LastPayload {
			a, ok = ev.busy(r.Key.Server(), j.quiet)
		}
		if ok {
			j.on, j.line, j.ago = byQueue, a, ev.end.Sub(a.last)
			if C.LastPayload > r.Server.LastPayload {
				j.waited = ev.end.Sub(C.LastPayload)
			}
			return j
		}
	}
	if s == flow.Client && !j.sending && ev.grace == 0 {
		// A pool that finds a connection closed only as it hands it
		// out, and has opened none but replacements since.
		if n, ok := ev.nextUsePool(j.app, r.Server.FinAt); ok {
			j.on, j.replaced = byNextUse, n
			return j
		}
		// The server closed right after an HTTP/1.1 response that did
		// not say Connection: close: the client's pool keeps such a
		// connection to use again, and notices the close at its next use
		// (unless its application leaks elsewhere).
		if d, ok := closedAfterAnswer(r, flow.Server); ok && unannouncedClose(r) && !(siblings && ev.leaks[j.app] > 0) {
			j.on, j.before = byUnannounced, d
			return j
		}
	}
	if ev.grace > 0 {
		j.on, j.grace = byGrace, ev.grace
		j.leak, j.confidence = j.quiet >= max(ev.grace, cadence), 0.9
		return j
	}
	l := ev.closes[j.app]
	j.ownApps = l != nil && l.n >= minSamples
	if h.Bytes == 0 && !r.Midstream && ev.closes[appKey{host: j.app.host}] != nil {
		// It never sent a byte: no pool's connection, which a pool
		// uses; its application's reuses say nothing of it. Its host's
		// closes on a FIN, reuses left out, are the pace.
		j.ownApps = false
	}
	if j.ownApps {
		j.reused = ev.reused[j.app]
		if h := ev.closes[appKey{host: j.app.host}]; j.reused > 0 && 2*j.reused < l.n && h != nil && h.n >= minSamples {
			// Its few reuses are another pace than its closes on a FIN:
			// those, its host's without reuses, are the measure.
			l, j.ownApps, j.reused = h, false, 0
		}
	} else {
		l = ev.closes[appKey{host: j.app.host}]
	}
	if l != nil && l.n > 0 {
		j.on, j.closes = byCloses, l
		if j.quiet >= max(closeFloor, closeFactor*l.quantile(0.9), cadence) {
			j.leak, j.confidence = true, 0.85
			if l.n >= minSamples && j.quiet >= closeFactor*l.quantile(1) {
				j.confidence = 0.95
			}
		}
		if own := ev.closes[j.app]; j.leak && !j.ownApps && (own == nil || own.n == 0) && ev.reused[j.app] == 0 {
			// Its application has closed none of its connections to this
			// server: the host's closes are other programs' (a proxy's
			// beside a pool of a script's). Then, as with nothing to
			// compare with, a pool that notices a close only at its next
			// use may hold it as long as it had been idle.
			if idle, ok := idledBeforeClose(r, s); ok && j.quiet < idle {
				// Unless the application leaks elsewhere (its host's other
				// programs' leaks say nothing of it).
				others := ev.leaks[j.app]
				if !siblings || others <= 0 {
					j.leak, j.confidence, j.before = false, 0, idle
				}
			}
		}
	} else {
		// Nothing to compare with. An application that reads EOF closes
		// within milliseconds; the default grace is the prior. But a
		// pool that notices a close only at a connection's next use
		// holds it in CLOSE_WAIT until then, and the connection's own
		// idle time before the peer closed it says how seldom it was
		// used: in CLOSE_WAIT no longer than that, it may yet be.
		// (A pool is a client; and a host known to leak elsewhere is
		// taken at its word.)
		j.on = byPrior
		prior := max(DefaultCloseWaitGrace, cadence)
		if idle, ok := idledBeforeClose(r, s); ok && !j.sending {
			// Its host's leaks on their own evidence, this one left out
			// (judged so first, with the same prior).
			others := ev.leakHosts[j.app.host]
			if j.quiet >= max(prior, idle) {
				others--
			}
			if !siblings || others <= 0 {
				j.before = idle
				prior = max(prior, idle)
			}
		}
		if j.quiet >= prior {
			j.leak, j.confidence = true, 0.8
			if j.quiet >= 3*prior {
				j.confidence = 0.9
			}
		}
	}
	// An application that closes each connection it opened as soon as it
	// is done with it (its other connections closed within milliseconds
	// of their last data) did not keep this one idle on purpose: it
	// forgot it, and the peer's FIN only made that visible. Unless it (or,
	// with fewer than minSamples closes of its own, its host) has taken
	// longer than this to close after a peer's FIN elsewhere: then it
	// keeps connections idle too (a pool that notices a close when it
	// next looks), and this one may yet be closed. Nor before it has been
	// in CLOSE_WAIT for closeFloor: the same host may run another
	// application that keeps connections idle on purpose (a pool that
	// closes on the peer's FIN, or at its next use), and its close may
	// be held that long.
	younger := l != nil && l.n > 0 && j.quiet <= l.quantile(1) || j.quiet < closeFloor
	if d := ev.done[j.app]; !j.leak && !j.sending && !younger && d != nil && d.n >= minDone {
		_, lastData := lastData(r)
		if idle := ev.end.Sub(lastData); lastData > 0 && idle >= max(closeFloor, closeFactor*d.quantile(0.9)) {
			j.on, j.closes, j.idle = byDone, d, idle
			j.leak, j.confidence = true, 0.8
			if d.n >= minSamples {
				j.confidence = 0.85
			}
		}
	}
	if !j.leak && siblings && !j.sending {
		if n := ev.leaks[j.app]; n > 0 {
			j.on, j.leaks = bySiblings, n
			j.leak, j.confidence = true, 0.8
		}
	}
	return j
}

// unannouncedClose reports whether the last response on r was an
// HTTP/1.1 one that did not say Connection: close: a client may keep the
// connection to use again.
func unannouncedClose(r *flow.Record) bool {
	var pb payload.Buffer
	h := httpOf(r, flow.Client, &pb)
	if h == nil || h.Upgraded {
		return false
	}
	for i := len(h.Exchanges) - 1; i >= 0; i-- {
		if x := &h.Exchanges[i]; x.Status != 0 {
			return x.Version == "HTTP/1.1" && !x.ResponseClose
		}
	}
	return false
}

// idledBeforeClose returns how long the connection had been idle when
// the server closed it for that, where side s is the client it closed it
// on (no wait for an answer of its own): how seldom a pool used it.
func idledBeforeClose(r *flow.Record, s flow.Side) (time.Duration, bool) {
	closer, idle, ok := firstCloser(r)
	if !ok || s != flow.Client || closer != flow.Server || idle < minIdle || waitedFor(closer, r.Server.DataBeforeFinFrom) {
		return 0, false
	}
	return idle, true
}

// basis says, in words, what the judgement rests on.
func (j *judgement) basis() string {
	quiet := fmtDur(j.quiet)
	switch j.on {
	case byGrace:
		return fmt.Sprintf("quiet for %s in CLOSE_WAIT, against the %s set by --close-wait-grace", quiet, fmtDur(j.grace))
	case bySiblings:
		return fmt.Sprintf("in CLOSE_WAIT for %s only, but it is one more of the same: %s of %s in CLOSE_WAIT %s beyond doubt",
			quiet, plural(j.leaks, "other connection"), j.app.host, map[bool]string{true: "is a leak", false: "are leaks"}[j.leaks == 1])
	case byDone:
		return fmt.Sprintf("%s closed %s itself within %s of their last data; this one it left idle for %s until the peer closed it, and has not closed in the %s since",
			j.app.host, plural(j.closes.n, "other connection"), fmtDur(j.closes.quantile(1)), fmtDur(j.idle-j.quiet), quiet)
	case byLoss:
		return fmt.Sprintf("in CLOSE_WAIT as far as the capture shows, but the capture lost packets of this close: %s; whether this side closed is not in the capture", j.lost)
	case byQueue:
		if j.waited == 0 {
			return fmt.Sprintf("in CLOSE_WAIT for %s, its request answered, while %s is still answering others (%s, the last %s before the end) and has taken up to %s to answer one: a server whose workers are all busy closes late too (Tomcat closes on a request thread), and the capture cannot tell yet whether it will close",
				quiet, j.app.endpoint, fmt.Sprintf("%d answered", j.line.n), fmtDur(j.ago), fmtDur(j.line.slowest))
		}
		return fmt.Sprintf("in CLOSE_WAIT for %s, its request unanswered for %s, while %s is still answering requests (%s, the last %s before the end) and has taken up to %s to answer one: it may be in line behind them (workers busy with each in turn, the accept queue), and the capture cannot tell yet whether it will close",
			quiet, fmtDur(j.waited), j.app.endpoint, fmt.Sprintf("%d answered", j.line.n), fmtDur(j.ago), fmtDur(j.line.slowest))
	case byUnannounced:
		return fmt.Sprintf("in CLOSE_WAIT for %s: the server closed the connection right after its response (within %s), which did not say Connection: close; an HTTP/1.1 client keeps such a connection in its pool to use again and notices the close only then, and the capture cannot tell yet whether it will close (the server's close without saying so is what leaves it there)",
			quiet, fmtBound(j.before))
	case byNextUse:
		return fmt.Sprintf("in CLOSE_WAIT for %s, and %s, on its connections to %s, closed %s the server had closed each just as it opened a new one in its place (within %s): a pool that finds a connection closed only when it next hands it out (Apache's mod_proxy without ttl, a pool validating on lease), and it has opened no other connection since this one was closed: it holds it until its next use, bounded by the pool's size",
			quiet, j.app.host, j.app.endpoint, plural(j.replaced, "connection"), fmtDur(replaceWithin))
	case byPrior:
		switch {
		case j.leak && j.before > time.Second:
			return fmt.Sprintf("the capture holds no close by this host to compare with, but an application that reads the peer's FIN closes within milliseconds, and this one has not in %s, longer than the %s the connection had been idle before the peer closed it", quiet, fmtDur(j.before))
		case j.leak:
			return fmt.Sprintf("the capture holds no close by this host to compare with, but an application that reads the peer's FIN closes within milliseconds, and this one has not in %s", quiet)
		case j.before > time.Second && j.quiet >= time.Second:
			return fmt.Sprintf("in CLOSE_WAIT for %s at the end of the capture, no longer than the %s the connection had been idle before the peer closed it, and the capture holds no close by this host to compare with: a pool that notices a close only when it next uses the connection holds it this long, and the capture cannot tell yet whether it will close", quiet, fmtDur(j.before))
		}
		return fmt.Sprintf("in CLOSE_WAIT for %s at the end of the capture, and the capture holds no close by this host to compare with: it cannot tell yet whether it will close", quiet)
	}
	l := j.closes
	who := "this host"
	switch {
	case j.ownApps && j.server:
		who = fmt.Sprintf("%s, on its other connections,", j.app.endpoint)
	case j.ownApps:
		who = fmt.Sprintf("%s, on its connections to %s,", j.app.host, j.app.endpoint)
	}
	slowest, usual := fmtDur(l.quantile(1)), fmtDur(l.quantile(0.9))
	if j.reused > 0 {
		// A pool that notices a close only at a connection's next use.
		sent := fmt.Sprintf("sent requests on %s up to %s after the peer's FIN, and was reset (a pool that notices a close only when it next uses the connection)",
			map[bool]string{true: "all its other connections the peer closed", false: fmt.Sprint(j.reused, " of them")}[j.reused == l.n], slowest)
		if j.reused < l.n {
			sent = fmt.Sprintf("let go of %s after the peer's FIN within %s: it closed some, and %s", plural(l.n, "connection"), slowest, sent)
		}
		if !j.leak {
			return fmt.Sprintf("in CLOSE_WAIT for %s at the end of the capture, and %s %s: this one may yet be used again or closed, and the capture cannot tell yet whether it will",
				quiet, who, sent)
		}
		return fmt.Sprintf("%s %s, and has not let go of this one in %s", who, sent, quiet)
	}
	switch {
	case !j.leak && j.before > 0:
		return fmt.Sprintf("in CLOSE_WAIT for %s at the end of the capture, no longer than the %s the connection had been idle before the peer closed it; this host closed %s within %s of the peer's FIN, but %s has closed none of its connections to %s: those closes are other programs', and a pool that notices a close only when it next uses the connection holds it this long: the capture cannot tell yet whether it will close",
			quiet, fmtDur(j.before), plural(l.n, "other connection"), slowest, j.app.host, j.app.endpoint)
	case !j.leak:
		return fmt.Sprintf("in CLOSE_WAIT for %s at the end of the capture, and %s has taken up to %s to close after the peer's FIN: the capture cannot tell yet whether it will close",
			quiet, who, slowest)
	case l.n > 2 && usual != slowest:
		return fmt.Sprintf("%s closed %s after the peer's FIN within %s (90 %% of them; all within %s), and this one has not in %s",
			who, plural(l.n, "connection"), usual, slowest, quiet)
	}
	return fmt.Sprintf("%s closed %s within %s of the peer's FIN, and this one has not in %s", who, plural(l.n, "connection"), slowest, quiet)
}

// lostAtClose says, when it did, how the capture lost packets of the close
// that left side s in CLOSE_WAIT ("" when it holds them): the peer's FIN
// acknowledged data of s's the capture never saw (s's own FIN may have
// been among it); or the peer's FIN is never acknowledged in the capture,
// yet was not sent again although the capture ran on past the shortest
// retransmission timeout (s's kernel acknowledged it at once, as a kernel
// does whatever the application, and the capture lost that). A leak needs
// that acknowledgement: without it, s may never have had the FIN.
func lostAtClose(r *flow.Record, s flow.Side, end flow.Timestamp) string {
	o := s.Other()
	fin := firstEvent(r, func(e *flow.Event) bool { return e.From == o && e.Flags.Has(packet.FIN) })
	if fin == nil || r.OneSided {
		return "" // (a capture of one direction holds no acknowledgements)
	}
	if fin.Note&flow.NoteNotCaptured != 0 {
		return fmt.Sprintf("the %s's FIN (#%d) acknowledged data of the %s's that the capture never saw, and the %s's FIN may have been among it", sideName(o), fin.Packet, sideName(s), sideName(s))
	}
	again := firstEvent(r, func(e *flow.Event) bool {
		return e.From == o && e.Flags.Has(packet.FIN) && e.Note&flow.NoteRetransmit != 0
	})
	if r.Half(o).State != flow.FinWait1 || again != nil {
		return ""
	}
	if after := end.Sub(fin.At); after < minRTO {
		return fmt.Sprintf("the %s's FIN (#%d) is not acknowledged in the capture, %s before its end: the acknowledgement was lost by the capture or had yet to come", sideName(o), fin.Packet, fmtDur(after))
	}
	return fmt.Sprintf("the %s's FIN (#%d) is never acknowledged in the capture, nor sent again in the %s after it: the %s's kernel acknowledged it, and the capture lost that", sideName(o), fin.Packet, fmtDur(end.Sub(fin.At)), sideName(s))
}

// minRTO is the shortest retransmission timeout of common stacks (Linux
// 200 ms, Windows 300 ms): a FIN not acknowledged within it is sent again.
const minRTO = 300 * time.Millisecond

// synInFlight reports whether a client's SYN, unanswered at the end, may
// still be answered: sent once, less than the initial retransmission
// timeout before the end (a SYN not answered within it is sent again).
func synInFlight(r *flow.Record, end flow.Timestamp) bool {
	return r.Client.Retrans == 0 && end.Sub(r.Client.LastPacket) < flow.InitialRTO
}
