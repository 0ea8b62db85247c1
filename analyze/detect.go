package analyze

import (
	"slices"
	"time"

	"github.com/flowdoc/flowdoc/flow"
	"github.com/flowdoc/flowdoc/flow/payload"
)

// A detector finds one class of verdict on a flow, and groups that class's
// verdicts into findings. Each lives in a file of its own (detect_*.go)
// with its explanation beside it; this file holds what they share and the
// order in which they run, which is their precedence.
//
// For each flow:
//  1. every detector's inspect runs, in the order of detectors, and adds
//     its verdicts (a detector may read the verdicts of those before it);
//  2. the verdicts that a verdict of a higher class makes redundant are
//     dropped (suppressed, below);
//  3. the rest are sorted by severity, most severe first.
//
// Across flows, every verdict whose detector has a group func is put in a
// group of its class; each group gives its detector's findings.
type detector struct {
	class   Class
	explain Explanation
	// inspect adds the class's verdicts on the flow; nil for classes
	// only findings have.
	inspect func(c *flowCtx)
	// group returns what a verdict of the class is grouped under for a
	// finding; false leaves it out. Nil: the class makes no findings.
	group func(f *Flow, v *Verdict) (groupKey, bool)
	// findings builds the findings of one group.
	findings func(g *group, fx *findCtx) []Finding
	// all builds findings from every flow rather than from groups of
	// verdicts; nil for most classes.
	all func(fx *findCtx) []Finding
}

// detectors run in this order, which is also the order of `flowdoc
// explain`: a detector may read the verdicts of the classes placed
// before it (which classes outrank others is in suppressed). A class
// only findings have (reconnect_storm, time_wait_pressure) stands after
// the class whose verdicts make it. Set in init, as the detectors' own
// texts refer to the list (their remedies).
var detectors []*detector

func init() {
	detectors = []*detector{
		&portScanDetector, &refusedDetector, &unansweredDetector, &listenOverflowDetector, &halfOpenDetector, &acceptCloseDetector, &reconnectStormDetector,
		&closeWaitDetector, &idleDetector, &staleReuseDetector, &closeIgnoredDetector, &peerUnreachableDetector,
		&zeroWindowDetector, &halfCloseDetector, &timeWaitDetector, &timeWaitPressureDetector,
		&resetDetector, &cleanDetector, &openDetector, &midstreamDetector, &translatedDetector,
		&keepAliveDetector, &kernelCloseWaitDetector,
	}
	grouped = map[Class]*detector{}
	for _, d := range detectors {
		if d.group != nil {
			grouped[d.class] = d
		}
	}
}

// grouped maps each class whose verdicts make findings to its detector.
var grouped map[Class]*detector

// suppressed lists, for a class, the classes whose verdicts on the same
// flow it makes redundant: the more specific explanation of the same
// packets wins. The one place where classes outrank one another.
var suppressed = map[Class][]Class{
	// A scan's probe is no outage: what its server did is the scan's to say.
	PortScan: {Refused, UnansweredSYN, ListenOverflow, HandshakeIncomplete, AcceptThenClose, PeerUnreachable, ResetClass, CleanClass, OpenClass},
	// An RST that answered the SYN, a close right after the accept, data on
	// a closed connection, a close into silence: each says more than "reset".
	Refused:         {ResetClass},
	AcceptThenClose: {ResetClass, CleanClass, IdleTimeoutClose},
	StaleReuseReset: {ResetClass, HalfCloseOK, CleanClass},
	// A listen queue that dropped the handshake's ACK explains the silence.
	ListenOverflow: {PeerUnreachable, UnansweredSYN},
	// An idle timeout that closes with RST says why the RST came.
	IdleTimeoutClose: {ResetClass},
	// Packets into a silent path: the close they carried never arrived.
	PeerUnreachable: {ResetClass, IdleTimeoutClose},
}

// flowCtx is what a detector sees of one flow: the record, the moment the
// states stand at, and what the capture shows of its hosts.
type flowCtx struct {
	r   *flow.Record
	end flow.Timestamp
	cap *captureEvidence
	pb  *payload.Buffer
	vs  []Verdict
	// text is room for a verdict's summary, reused from one flow to the
	// next.
	text []byte
}

func (c *flowCtx) add(v Verdict) { c.vs = append(c.vs, v) }

// has reports whether a verdict of class cl on side s was already added.
func (c *flowCtx) has(cl Class, s flow.Side) bool {
	return slices.ContainsFunc(c.vs, func(v Verdict) bool { return v.Class == cl && v.Side == s })
}

// hasClass reports whether a verdict of class cl was already added.
func (c *flowCtx) hasClass(cl Class) bool {
	return slices.ContainsFunc(c.vs, func(v Verdict) bool { return v.Class == cl })
}

// age is how long before the end t was.
func (c *flowCtx) age(t flow.Timestamp) time.Duration { return c.end.Sub(t) }

// inspector gives flows their verdicts; one per goroutine.
type inspector struct {
	end    flow.Timestamp
	cap    *captureEvidence
	ctx    flowCtx // reused from one flow to the next: no allocation per flow
	shared map[uint64][]Verdict
	pb     payload.Buffer
}

// inspect returns the verdicts on one flow, most severe first. Flows with
// only the verdicts of healthy traffic share one read-only slice.
func (in *inspector) inspect(r *flow.Record) []Verdict {
	c := &in.ctx
	*c = flowCtx{r: r, end: in.end, cap: in.cap, pb: &in.pb, vs: c.vs[:0], text: c.text[:0]}
	for _, d := range detectors {
		if d.inspect != nil {
			d.inspect(c)
		}
	}
	var drop []Class
	for _, v := range c.vs {
		if v.Class == IdleTimeoutClose && r.Half(v.Side).FinPacket > 0 && r.DataAfterFin(v.Side.Other()) {
			// Closed idle with FIN, then reset data the peer sent
			// after (no goodbye in reply, no reuse): the RST is not
			// the close, and is said on its own.
			continue
		}
		drop = append(drop, suppressed[v.Class]...)
	}
	vs := c.vs
	if len(drop) > 0 {
		vs = slices.DeleteFunc(vs, func(w Verdict) bool { return slices.Contains(drop, w.Class) })
	}
	slices.SortStableFunc(vs, func(a, b Verdict) int { return int(b.Severity) - int(a.Severity) })
	c.vs = vs[:0]
	return in.keep(vs)
}

// detectorOf returns the detector of class c, or nil.
func detectorOf(c Class) *detector {
	for _, d := range detectors {
		if d.class == c {
			return d
		}
	}
	return nil
}
