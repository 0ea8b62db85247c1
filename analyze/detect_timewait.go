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
		if v.Side == flow.Server {
			// A server that closes first: its TIME_WAITs, per endpoint.
			return groupKey{endpoint: f.Key.Server()}, true
		}
		return groupKey{host: f.Key.Client().Addr(), endpoint: f.Key.Server()}, true
	},
	findings: func(g *group, fx *findCtx) []Finding {
		find := timeWaitFinding
		if g.vs[0].Side == flow.Server {
			find = serverTimeWaitFinding
		}
		if f, ok := find(g, fx); ok {
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
		"space available\" on Windows). A server that closes first holds the TIME_WAITs itself: no ephemeral " +
		"port is at stake (its own is the one it listens on), but past net.ipv4.tcp_max_tw_buckets Linux drops " +
		"new ones at once, and a client that reuses a port within TIME_WAIT may have its SYN answered late.",
	Detection: "Per client host and server endpoint: the rate of connections the client closed first, the " +
		"TIME_WAIT population it implies, and the peak reached in the capture, against --port-range " +
		"(Linux default 32768-60999: 28,232 ports; Windows: 16,384 ports with 240 s TIME_WAIT). Per server " +
		"endpoint, when it closed first 100 connections or more: the same figures against Linux's default " +
		"tcp_max_tw_buckets (262,144).",
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
	crossed := c.r.Client.State == flow.TimeWait && c.r.Server.State == flow.TimeWait
	for _, s := range []flow.Side{flow.Client, flow.Server} {
		h := c.r.Half(s)
		if h.State == flow.TimeWait || h.Expired == flow.TimeWait {
			v := Verdict{Class: TimeWaitClass, Side: s, Severity: Info, Confidence: 0.95, Summary: timeWaitSummary[s]}
			switch {
			case crossed:
				v.Summary = timeWaitCrossed
			case h.State != flow.TimeWait:
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

// burst says, of connections that came and closed within less than a
// second (first to last), how long they took: their rate counts them over
// a second, as a burst may not last. "" for a second or more.
func burst(first, last flow.Timestamp) string {
	if d := last.Sub(first); d > 0 && d < time.Second {
		return fmt.Sprintf(" (all within %s, counted over a second)", fmtDur(d))
	}
	return ""
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
		since = append(since, g.vs[i].Since)
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
	busy := fmt.Sprintf("keeps %.0f of its %d ephemeral ports (%s) busy, %.0f%%", p.Implied(), p.Ports, opt.PortRange, 100*p.Share())
	if p.Share() > 1 {
		busy = fmt.Sprintf("would keep %.0f ports busy, more than its %d ephemeral ports (%s)", p.Implied(), p.Ports, opt.PortRange)
	}
	fmt.Fprintf(&sb, "%s closed %s to %s first, %.1f per second%s, and each holds a local port in TIME_WAIT for %s: that rate %s",
		client, plural(n, "connection"), server, p.Rate, burst(first, last), fmtDur(opt.TimeWait), busy)
	fmt.Fprintf(&sb, "; %d were in TIME_WAIT at once in the capture", peak)
	if closeWait > 0 {
		fmt.Fprintf(&sb, ", and %d more ports are held by CLOSE_WAIT sockets", closeWait)
	}
	sb.WriteString(".")
	exhausted := p.Exhausted() || peak+closeWait >= p.Ports
	if exhausted {
		fmt.Fprintf(&sb, " That is all of them: new connections to %s fail (EADDRNOTAVAIL) until ports come out of TIME_WAIT.", server)
	} else {
		fmt.Fprintf(&sb, " Ports run out at %.0f connections per second.", p.MaxRate())
	}
	if lo, hi, ok := everyPort(g.flows); ok && !exhausted && peak == hi-lo+1 && hi-lo+1 < p.Ports {
		// Linux draws ephemeral ports over its whole range: one small
		// block used whole, and nothing outside it, is likely the range
		// (Windows hands ports out in order, though: hence the if).
		fmt.Fprintf(&sb, " It used every port from %d to %d and no other, all %d in TIME_WAIT at once: if that is its ip_local_port_range (--port-range %d-%d tells flowdoc), every port was taken, and its next connects to %s failed (EADDRNOTAVAIL), sending nothing.",
			lo, hi, peak, lo, hi, server)
	}
	win := PortPressure{Rate: p.Rate, TimeWait: windowsTimeWait, Ports: WindowsPortRange.Size()}
	fmt.Fprintf(&sb, " On Windows (%d ports, %s TIME_WAIT) the same rate would hold %.0f ports, %.0f%%.", win.Ports, fmtDur(windowsTimeWait), win.Implied(), 100*win.Share())
	return Finding{Class: TimeWaitPressure, Severity: sev, Hosts: []netip.Addr{client}, Endpoints: []netip.AddrPort{server},
		Flows: ids(g.flows),
		Metrics: []Metric{{"connections", float64(n)}, {"rate_per_s", p.Rate}, {"implied_time_wait", p.Implied()},
			{"peak_time_wait", float64(peak)}, {"close_wait", float64(closeWait)}, {"ports", float64(p.Ports)}, {"share", share}},
		Summary: sb.String(), Remedy: remedy(TimeWaitPressure)}, true
}

// twBuckets is net.ipv4.tcp_max_tw_buckets on most Linux hosts (it is
// scaled down on hosts with little memory): the TIME_WAIT sockets the
// kernel keeps at once; past it, new ones are destroyed right away.
const twBuckets = 262144

// minServerTimeWaits is how many connections a server endpoint must have
// closed first for its TIME_WAITs to make a finding: fewer are the
// ordinary cost of closing first, and each flow says so.
const minServerTimeWaits = 100

// serverTimeWaitFinding states the TIME_WAITs of a server endpoint that
// closes first: how many, at what rate, what that rate holds.
func serverTimeWaitFinding(g *group, fx *findCtx) (Finding, bool) {
	n := len(g.flows)
	if n < minServerTimeWaits {
		return Finding{}, false
	}
	server := g.flows[0].Key.Server()
	var first, last flow.Timestamp
	since := make([]flow.Timestamp, 0, n)
	clients := map[netip.Addr]struct{}{}
	for i, f := range g.flows {
		if i == 0 || f.First < first {
			first = f.First
		}
		last = max(last, f.Server.FinAt)
		since = append(since, g.vs[i].Since)
		clients[f.Key.Client().Addr()] = struct{}{}
	}
	tw := fx.opt.TimeWait
	r := rate(n, first, last)
	implied := r * tw.Seconds()
	peak := peakConcurrent(since, tw, flow.TS(fx.rep.End))
	sev := Info
	if implied >= twBuckets {
		sev = Warning
	}
	var sb strings.Builder
	fmt.Fprintf(&sb, "%s (server) closed %s first, from %s, %.1f per second%s, and holds each in TIME_WAIT for %s: %d were in TIME_WAIT at once in the capture, and that rate keeps %.0f",
		server, plural(n, "connection"), plural(len(clients), "client host"), r, burst(first, last), fmtDur(tw), peak, implied)
	if sev == Warning {
		fmt.Fprintf(&sb, ", more than the %d Linux keeps by default (net.ipv4.tcp_max_tw_buckets): past it the kernel destroys new ones at once (\"TCP: time wait bucket table overflow\")", twBuckets)
	} else {
		fmt.Fprintf(&sb, " (%.1f%% of the %d Linux keeps by default, net.ipv4.tcp_max_tw_buckets)", 100*implied/twBuckets, twBuckets)
	}
	// Connections of another protocol than HTTP (read from their first
	// byte): its own way to keep a connection for more than one request.
	other := slices.ContainsFunc(g.flows, func(f *Flow) bool { return f.OtherProtocol() })
	perRequest, reuse := "(HTTP/1.0, keep-alive off, Connection: close)", "HTTP keep-alive, a client pool"
	if other {
		perRequest = "(the protocol's connection reuse off: FastCGI without nginx's fastcgi_keep_conn, a database or cache client without a pool)"
		reuse = "a client pool; for FastCGI, nginx's fastcgi_keep_conn on with an upstream keepalive"
	}
	sb.WriteString(". A server's TIME_WAIT holds no ephemeral port (its port is the one it listens on); it means the server closes first: a connection per request " + perRequest + ".")
	return Finding{Class: TimeWaitPressure, Severity: sev, Endpoints: []netip.AddrPort{server}, Flows: ids(g.flows),
		Metrics: []Metric{{"connections", float64(n)}, {"rate_per_s", r}, {"implied_time_wait", implied},
			{"peak_time_wait", float64(peak)}, {"tw_buckets", twBuckets}},
		Summary: sb.String(),
		Remedy: "Reuse connections (" + reuse + "), so that fewer are opened and closed; where the protocol allows, let the client close first. " +
			"Raise net.ipv4.tcp_max_tw_buckets only if the kernel logs its overflow."}, true
}

// everyPort returns the lowest and highest client port of the flows, when
// there are 16 or more and they are every port between the two, each once.
func everyPort(fs []*Flow) (lo, hi int, ok bool) {
	if len(fs) < 16 {
		return 0, 0, false
	}
	seen := map[uint16]bool{}
	lo, hi = 1<<16, -1
	for _, f := range fs {
		p := f.Key.Client().Port()
		if seen[p] {
			return 0, 0, false
		}
		seen[p] = true
		lo, hi = min(lo, int(p)), max(hi, int(p))
	}
	return lo, hi, hi-lo+1 == len(fs)
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
