package analyze

import (
	"fmt"
	"net/netip"

	"github.com/flowdoc/flowdoc/flow"
)

// Zero-window stall: a receiver that stopped reading.
var zeroWindowDetector = detector{
	class: ZeroWindowStall,
	explain: Explanation{
		Class: ZeroWindowStall, Title: "Zero-window stall",
		Meaning: "A receiver advertised a zero receive window: its application stopped reading, its socket buffer " +
			"is full, and the sender can only probe.",
		Detection: "Zero-window advertisements from one side, with the other side's zero-window probes; a stall " +
			"when the window is still zero at the end of the capture.",
		Causes: "A receiving application that is blocked, overloaded or deadlocked, or that reads only when it " +
			"has finished something else.",
		Confirm: "ss -tn on the receiver: a large Recv-Q on the socket that does not drain; a thread dump of the " +
			"receiving process.",
		Fix: "Find what keeps the receiving application from reading (a thread dump shows where it waits).",
	},
	inspect: inspectZeroWindow,
	group:   func(f *Flow, v *Verdict) (groupKey, bool) { return groupKey{endpoint: f.Endpoint(v.Side)}, true },
	findings: func(g *group, _ *findCtx) []Finding {
		sev, stuck := Warning, 0
		for _, v := range g.vs {
			if v.Severity == Error {
				sev, stuck = Error, stuck+1
			}
		}
		v, f := g.vs[0], g.flows[0]
		sum := fmt.Sprintf("%s stopped reading on %s: it advertised a zero receive window", f.Endpoint(v.Side), plural(len(g.flows), "connection"))
		switch {
		case stuck == 1 && len(g.flows) == 1:
			sum += ", and was still not reading at the end of the capture"
		case stuck > 0:
			sum += fmt.Sprintf(", and %s still stalled at the end of the capture", ofThem(stuck))
		}
		return []Finding{{Class: ZeroWindowStall, Severity: sev, Endpoints: []netip.AddrPort{f.Endpoint(v.Side)},
			Flows: ids(g.flows), Metrics: []Metric{{"connections", float64(len(g.flows))}, {"stalled_at_end", float64(stuck)}},
			Summary: sum + ".", Remedy: remedy(ZeroWindowStall), Evidence: evidence(g, false)}}
	},
}

func inspectZeroWindow(c *flowCtx) {
	r := c.r
	for _, s := range []flow.Side{flow.Client, flow.Server} {
		h, peer := r.Half(s), r.Half(s.Other())
		if h.ZeroWindows == 0 || !h.ZeroWindowAtEnd && peer.WinProbes == 0 {
			continue
		}
		zw := firstEvent(r, func(e *flow.Event) bool { return e.From == s && e.Note&flow.NoteZeroWindow != 0 })
		probe := firstEvent(r, func(e *flow.Event) bool { return e.From == s.Other() && e.Note&flow.NoteWindowProbe != 0 })
		v := Verdict{Class: ZeroWindowStall, Side: s, Severity: Warning, Confidence: 0.9}
		if zw != nil {
			v.Since, v.Age = zw.At, c.age(zw.At)
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
		c.add(v)
	}
}
