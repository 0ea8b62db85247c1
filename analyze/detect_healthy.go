package analyze

import (
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"time"

	"github.com/flowdoc/flowdoc/flow"
	"github.com/flowdoc/flowdoc/flow/packet"
)

// The verdicts of healthy traffic and of plain facts: a half-close, an
// abortive close no other class explains, a clean close, a connection
// still open, one begun before the capture. They make no findings, but
// for the handshakes one client aborts by the hundred (abortedHandshakes).

var halfCloseDetector = detector{class: HalfCloseOK, explain: Explanation{
	Class: HalfCloseOK, Title: "Legitimate half-close",
	Meaning: "A side shut down its sending direction (shutdown(SHUT_WR)) while still reading, the peer went on " +
		"sending and then closed: the connection ended cleanly. Not a problem.",
	Detection: "A side acknowledged data that arrived after its own FIN, and the connection then closed; or, at the " +
		"end of the capture, the other side, in CLOSE_WAIT, is still sending (a half-close in progress).",
	Causes: "Protocols and tools that signal the end of a request with a FIN (netcat, some RPC and file " +
		"transfer protocols).",
	Confirm: "Nothing to confirm.",
	Fix:     "Nothing to fix.",
}, inspect: func(c *flowCtx) {
	r := c.r
	done := func(st flow.State) bool { return st == flow.Closed || st == flow.TimeWait }
	for _, s := range []flow.Side{flow.Client, flow.Server} {
		if r.Half(s).HalfClosed && done(r.Client.State) && done(r.Server.State) && r.Client.RSTs == 0 && r.Server.RSTs == 0 {
			c.add(Verdict{Class: HalfCloseOK, Side: s, Severity: Info, Confidence: 0.9, Summary: halfCloseSummary[s]})
		}
	}
}}

// An abortive close not explained by another class (see suppressed).
var resetDetector = detector{class: ResetClass, explain: Explanation{
	Class: ResetClass, Title: "Reset",
	Meaning: "The connection was closed abortively, by an RST in the receiver's window.",
	Detection: "An RST that the receiver accepts. A client that resets 100 handshakes or more with one server " +
		"endpoint right after its SYN-ACK, 10 a second or more, having sent nothing, makes a finding: its kernel held " +
		"no socket for the answers, so its SYNs were sent raw or, when the server took 10 ms or more to answer, its " +
		"connects may have timed out before the answers came.",
	Causes: "An application closing with SO_LINGER 0, a crash, a timeout in a proxy or a load balancer, data " +
		"arriving for a socket already closed; for many handshakes reset by one client, a SYN flood from one host " +
		"(hping3, a load tester), a half-open health check run far too often, or a connect timeout shorter than the " +
		"server takes to answer.",
	Confirm: "The logs of the side that sent the RST at that time.",
	Fix:     "Only when unexpected: find why the side sending the RST aborted.",
}, inspect: func(c *flowCtx) {
	r := c.r
	if r.Client.RSTs+r.Server.RSTs == 0 || r.Client.State != flow.Closed || r.Server.State != flow.Closed {
		return
	}
	if rst := firstEvent(r, func(e *flow.Event) bool { return e.Flags.Has(packet.RST) && e.Note&flow.NoteRSTIgnored == 0 }); rst != nil {
		sum := resetSummary[rst.From]
		if h, p := r.Half(rst.From), r.Half(rst.From.Other()); h.FinPacket > 0 && h.FinAt < rst.At && p.LastPayload > h.FinAt && p.LastPayload <= rst.At {
			// Closed in order, then data came for the closed socket: its
			// kernel answers that with RST.
			sum = resetAfterClose[rst.From]
		}
		if rst.From == flow.Client && r.ClientAlert() {
			sum = "the client closed the connection with RST after a fatal TLS alert of its own, in the clear: it gave up on the handshake (most often, a server certificate it does not trust: tshark -Y tls.alert_message names it)"
			if a, ok := tlsAlert(r, flow.Client); ok {
				sum = "the client closed the connection with RST after a fatal TLS alert of its own, in the clear: it gave up on the handshake with " + alertWords(a) + ": " + alertMeaning(a, flow.Client)
			}
		}
		c.add(Verdict{Class: ResetClass, Side: rst.From, Severity: Info, Confidence: 0.9, Since: rst.At,
			Summary: sum, Evidence: []Evidence{ev(rst, rstFrom[rst.From])}})
	}
}, group: func(f *Flow, v *Verdict) (groupKey, bool) {
	return groupKey{host: f.Key.Client().Addr(), endpoint: f.Key.Server()}, v.Side == flow.Client && abortedHandshake(f.Record)
}, findings: abortedHandshakes}

// abortedHandshake reports whether the client reset the connection
// right after the server's SYN-ACK, having acknowledged and sent nothing.
func abortedHandshake(r *flow.Record) bool {
	return !r.Midstream && has(r, flow.Client, 'S') && has(r, flow.Server, 'H') && !has(r, flow.Client, 'A') &&
		r.Client.Bytes == 0 && r.Server.Bytes == 0
}

// Handshakes a client aborts this way, many of them and fast, are SYNs
// it sent raw, its kernel holding no socket for the answers: a SYN flood
// from one host (hping3, a load tester), or a half-open health check run
// far too often. One now and then is a connect that timed out as the
// answer came.
const (
	abortedMin  = 100
	abortedRate = 10 // a second
)

// abortedTimeout is how long the server must have taken to answer, at
// the median, for the handshakes a client aborts to be told as connects
// it gave up before the answer came as well: a connect timeout shorter
// than a few milliseconds is not set in practice, and the kernel resets
// the SYN-ACK of a socket closed meanwhile just as it does a raw SYN's.
const abortedTimeout = 10 * time.Millisecond

// abortedHandshakes makes the finding of a client that aborted many
// handshakes with one server endpoint, fast.
func abortedHandshakes(g *group, _ *findCtx) []Finding {
	n := len(g.flows)
	if n < abortedMin {
		return nil
	}
	first, last := g.flows[0].First, g.flows[0].First
	for _, f := range g.flows {
		first, last = min(first, f.First), max(last, f.First)
	}
	per := rate(n, first, last)
	if per < abortedRate {
		return nil
	}
	// How long the server took to answer: a connect that timed out
	// before then is reset as well.
	var answer []time.Duration
	for _, f := range g.flows {
		answer = append(answer, f.Server.FirstPacket.Sub(f.Client.FirstPacket))
	}
	slices.Sort(answer)
	took := median(answer)
	client, server := g.key.host, g.key.endpoint
	var b strings.Builder
	fmt.Fprintf(&b, "%s opened %s to %s over %s, %s a second, and reset each right after the server's SYN-ACK, "+
		"before acknowledging it or sending anything: its kernel held no socket for the answers",
		client, many(n, "connection"), server, fmtDur(last.Sub(first)), thousands(int(per)))
	raw := "by a tool (a SYN flood from one host: hping3, a load tester) or a half-open health check run far too often"
	fix := "Find the process on the client that sends the SYNs (a load test, a monitor, an attack) and stop it, or filter the client at the edge."
	if took >= abortedTimeout {
		fmt.Fprintf(&b, ". The server took %s to answer, at the median: either the client gave each connect up before then "+
			"(a connect timeout shorter than that; its kernel resets the answer of a socket closed meanwhile), or the SYNs were sent raw, %s.",
			fmtDur(took), raw)
		fix = "Find the process on the client that opens these connections. An application whose connects time out: give them a connect timeout " +
			"longer than the server takes to answer, and find why the server is slow to. A tool that sends SYNs raw (a load test, a monitor, an attack): " +
			"stop it, or filter the client at the edge."
	} else {
		fmt.Fprintf(&b, ", so the SYNs were sent raw, %s.", raw)
	}
	b.WriteString(" The server answered each with a SYN-ACK: it is the one taking the load.")
	return []Finding{{Class: ResetClass, Severity: Warning, Hosts: []netip.Addr{client}, Endpoints: []netip.AddrPort{server}, Flows: ids(g.flows),
		Metrics: []Metric{{"connections", float64(n)}, {"rate_per_s", per}}, Summary: b.String(), Remedy: fix, Evidence: evidence(g, false)}}
}

var cleanDetector = detector{class: CleanClass, explain: Explanation{
	Class: CleanClass, Title: "Clean",
	Meaning:   "Opened with a handshake, closed with a FIN from each side, each acknowledged. Not a problem.",
	Detection: "Both FINs and their ACKs seen, no RST, each endpoint CLOSED or in TIME_WAIT.",
	Causes:    "Healthy traffic.", Confirm: "Nothing to confirm.", Fix: "Nothing to fix.",
}, inspect: func(c *flowCtx) {
	if r := c.r; (&Flow{Record: r}).Clean() {
		// Who closed first in TCP's terms, as the TIME_WAIT says.
		closer := flow.Server
		if r.Client.FinAt < r.Server.FinAt {
			closer = flow.Client
		}
		sum := cleanSummary[closer]
		if r.Client.State == flow.TimeWait && r.Server.State == flow.TimeWait {
			sum = cleanCrossed // each sent its FIN before it had the other's
		}
		c.add(Verdict{Class: CleanClass, Side: closer, Severity: Info, Confidence: 0.95, Summary: sum})
	}
}}

var openDetector = detector{class: OpenClass, explain: Explanation{
	Class: OpenClass, Title: "Open",
	Meaning: "Not closed at the end of the capture, with nothing wrong seen: established; in CLOSE_WAIT too " +
		"shortly for the capture to tell whether it will close (the verdict says why, and how sure); or a handshake " +
		"still in progress.",
	Detection: "Both endpoints ESTABLISHED; a CLOSE_WAIT the capture cannot judge yet (the verdict says why); a SYN " +
		"sent less than the initial retransmission timeout before the end.",
	Causes: "Healthy, long-lived or pooled connections.", Confirm: "Nothing to confirm.", Fix: "Nothing to fix.",
}, inspect: func(c *flowCtx) {
	r := c.r
	if r.Client.State == flow.Established && r.Server.State == flow.Established && !c.hasClass(PeerUnreachable) {
		sum := "established and healthy at the end of the capture"
		if r.Client.ZeroWindowAtEnd || r.Server.ZeroWindowAtEnd {
			sum = "established at the end of the capture"
		}
		c.add(Verdict{Class: OpenClass, Side: flow.Client, Severity: Info, Confidence: 0.9, Summary: sum})
	}
}}

var midstreamDetector = detector{class: MidstreamClass, explain: Explanation{
	Class: MidstreamClass, Title: "Begun before the capture",
	Meaning: "The capture started after the handshake, so which side is the client and the endpoints' states " +
		"are inferred: each side is taken to be ESTABLISHED at the first packet.",
	Detection: "No SYN or SYN-ACK was captured for the connection.",
	Causes:    "A capture started while connections were open (normal for long-lived ones).",
	Confirm:   "Nothing to confirm.", Fix: "Start captures before the connections of interest when possible.",
}, inspect: func(c *flowCtx) {
	if c.r.Midstream {
		c.add(Verdict{Class: MidstreamClass, Side: flow.Client, Severity: Info, Confidence: 1,
			Summary: "the capture began after the handshake: roles and states are inferred"})
	}
}}

// Findings only: from the host's own socket table (kernel.go).
var kernelCloseWaitDetector = detector{class: KernelCloseWait, explain: Explanation{
	Class: KernelCloseWait, Title: "CLOSE_WAIT sockets in the kernel",
	Meaning: "flowdoc live read the host's socket table (/proc/net/tcp) and found sockets in CLOSE_WAIT: the " +
		"peer closed, the application on this host has not. A CLOSE_WAIT socket sends nothing, so those that went " +
		"quiet before the capture started show only here, with the process that holds them.",
	Detection: "Sockets in state CLOSE_WAIT (08) in /proc/net/tcp and /proc/net/tcp6, grouped by process and peer; " +
		"the owning process from /proc/PID/fd (as root, or for the user's own processes).",
	Causes:  "The causes of a CLOSE_WAIT leak: see flowdoc explain close_wait_leak.",
	Confirm: "ss -tanp state close-wait; ls -l /proc/PID/fd | grep -c socket; lsof -p PID -a -i TCP.",
	Fix: "Close or release the connection after every response, error responses included, and close it when a " +
		"read returns EOF. Restarting the process frees the sockets until the leak fills the table again.",
}}
