package analyze

import (
	"cmp"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"time"

	"github.com/flowdoc/flowdoc/flow"
)

// TIME_WAIT on the active closer; across a client's connections to one
// server, the pressure it puts on the ephemeral ports.
var timeWaitDetector = detector{
	class: TimeWaitClass,
	explain: Explanation{
		Class: TimeWaitClass, Title: "TIME_WAIT",
		Meaning: "The side that closed first (the active closer) waits in TIME_WAIT after the exchange of FINs, " +
			"60 s on Linux and 240 s on Windows, so that stray segments of the old connection die out. Normal, " +
			"but each such socket keeps its 4-tuple, and on a client its ephemeral port towards that server, busy.",
		Detection: "An endpoint is in TIME_WAIT at the end of the capture, or was until the timer ran out.",
		Causes:    "A client (or server) that opens a new connection per request and closes it first.",
		Confirm:   "ss -tan state time-wait | wc -l (Linux); netstat -an | find /c \"TIME_WAIT\" (Windows).",
		Fix: "Nothing, usually. At high rates: reuse connections (keep-alive, a pool), or let the other side close " +
			"first; on Linux net.ipv4.tcp_tw_reuse=1 lets a client reuse TIME_WAIT ports for new outgoing connections.",
	},
	inspect: inspectTimeWait,
	group: func(f *Flow, v *Verdict) (groupKey, bool) {
		return groupKey{host: f.Key.Client().Addr(), endpoint: f.Key.Server()}, v.Side == flow.Client
	},
	findings: func(g *group, fx *findCtx) []Finding {
		if f, ok := timeWaitFinding(g, fx); ok {
			return []Finding{f}
		}
		return nil
	},
}

// The findings of timeWaitDetector's groups.
var timeWaitPressureDetector = detector{class: TimeWaitPressure, explain: Explanation{
	Class: TimeWaitPressure, Title: "TIME_WAIT accumulation (ephemeral port exhaustion risk)",
	Meaning: "A client host closes connections to one server endpoint at a rate that keeps many of its " +
		"ephemeral ports in TIME_WAIT: rate x TIME_WAIT duration ports are busy at any time, and when that " +
		"nears the ephemeral port range, connect() fails (EADDRNOTAVAIL on Linux, WSAENOBUFS / \"No buffer " +
		"space available\" on Windows).",
	Detection: "Per client host and server endpoint: the rate of connections the client closed first, the " +
		"TIME_WAIT population it implies, and the peak reached in the capture, against --port-range " +
		"(Linux default 32768-60999: 28,232 ports; Windows: 16,384 ports with 240 s TIME_WAIT).",
	Causes: "A connection per request (HTTP/1.0 style, keep-alive off, a pool not used); a reconnect loop. " +
		"CLOSE_WAIT sockets hold ports too.",
	Confirm: "ss -tan state time-wait dst SERVER | wc -l; sysctl net.ipv4.ip_local_port_range; on Windows " +
		"netsh int ipv4 show dynamicport tcp.",
	Fix: "Reuse connections (keep-alive, a connection pool). Let the server close first where the protocol " +
		"allows. On Linux, net.ipv4.tcp_tw_reuse=1 and a wider ip_local_port_range; on Windows, widen the " +
		"dynamic port range and lower TcpTimedWaitDelay.",
}}

func inspectTimeWait(c *flowCtx) {
	// When it began is the side's "since"; healthy verdicts carry no
	// per-flow text, so that flows can share them.
	for _, s := range []flow.Side{flow.Client, flow.Server} {
		h := c.r.Half(s)
		if h.State == flow.TimeWait || h.Expired == flow.TimeWait {
			v := Verdict{Class: TimeWaitClass, Side: s, Severity: Info, Confidence: 0.95, Summary: timeWaitSummary[s]}
			if h.State != flow.TimeWait {
				v.Summary = timeWaitRanOut[s]
			}
			c.add(v)
		}
	}
}

// rate is connections per second over the time they span (at least 1 s).
func rate(n int, first, last flow.Timestamp) float64 {
	span := max(last.Sub(first), time.Second)
	return float64(n) / span.Seconds()
}

// pairKey is a client host and the server endpoint it connects to.
type pairKey struct {
	client netip.Addr
	server netip.AddrPort
}

func timeWaitFinding(g *group, fx *findCtx) (Finding, bool) {
	rep, opt := fx.rep, fx.opt
	f0 := g.flows[0]
	client, server := f0.Key.Client().Addr(), f0.Key.Server()
	n := len(g.flows)
	var first, last flow.Timestamp
	since := make([]flow.Timestamp, 0, n)
	for i, f := range g.flows {
		if i == 0 || f.First < first {
			first = f.First
		}
		last = max(last, f.Client.FinAt)
		since = append(since, flow.TS(g.vs[i].Since))
	}
	p := PortPressure{Rate: rate(n, first, last), TimeWait: opt.TimeWait, Ports: opt.PortRange.Size()}
	peak := peakConcurrent(since, opt.TimeWait, flow.TS(rep.End))
	closeWait := fx.closeWaits()[pairKey{client, server}]
	share := max(p.Share(), float64(peak+closeWait)/float64(p.Ports))
	if n < 10 && share < 0.25 {
		return Finding{}, false
	}
	sev := Info
	switch {
	case share >= 1:
		sev = Error // connects fail
	case share >= 0.25:
		sev = Warning
	}
	var sb strings.Builder
	fmt.Fprintf(&sb, "%s closed %s to %s first, %.1f per second, and each holds a local port in TIME_WAIT for %s: that rate keeps %.0f of its %d ephemeral ports (%s) busy, %.0f%%",
		client, plural(n, "connection"), server, p.Rate, fmtDur(opt.TimeWait), p.Implied(), p.Ports, opt.PortRange, 100*p.Share())
	fmt.Fprintf(&sb, "; %d were in TIME_WAIT at once in the capture", peak)
	if closeWait > 0 {
		fmt.Fprintf(&sb, ", and %d more ports are held by CLOSE_WAIT sockets", closeWait)
	}
	sb.WriteString(".")
	if p.Exhausted() || peak+closeWait >= p.Ports {
		fmt.Fprintf(&sb, " That is all of them: new connections to %s fail (EADDRNOTAVAIL) until ports come out of TIME_WAIT.", server)
	} else {
		fmt.Fprintf(&sb, " Ports run out at %.0f connections per second.", p.MaxRate())
	}
	win := PortPressure{Rate: p.Rate, TimeWait: windowsTimeWait, Ports: WindowsPortRange.Size()}
	fmt.Fprintf(&sb, " On Windows (%d ports, %s TIME_WAIT) the same rate would hold %.0f ports, %.0f%%.", win.Ports, fmtDur(windowsTimeWait), win.Implied(), 100*win.Share())
	return Finding{Class: TimeWaitPressure, Severity: sev, Hosts: []netip.Addr{client}, Endpoints: []netip.AddrPort{server},
		Flows: ids(g.flows),
		Metrics: []Metric{{"connections", float64(n)}, {"rate_per_s", p.Rate}, {"implied_time_wait", p.Implied()},
			{"peak_time_wait", float64(peak)}, {"close_wait", float64(closeWait)}, {"ports", float64(p.Ports)}, {"share", share}},
		Summary: sb.String(), Remedy: remedy(TimeWaitPressure)}, true
}

// peakConcurrent is the most intervals [s, s+d) (cut at end) that overlap.
func peakConcurrent(starts []flow.Timestamp, d time.Duration, end flow.Timestamp) int {
	type edge struct {
		at    flow.Timestamp
		delta int
	}
	es := make([]edge, 0, 2*len(starts))
	for _, s := range starts {
		if s > end {
			continue
		}
		es = append(es, edge{s, 1}, edge{min(s+flow.Timestamp(d), end+1), -1})
	}
	slices.SortFunc(es, func(a, b edge) int { return cmp.Or(cmp.Compare(a.at, b.at), a.delta-b.delta) })
	cur, peak := 0, 0
	for _, e := range es {
		cur += e.delta
		peak = max(peak, cur)
	}
	return peak
}
