package analyze

import (
	"fmt"
	"time"

	"github.com/flowdoc/flowdoc/flow"
	"github.com/flowdoc/flowdoc/flow/packet"
)

// Handshake incomplete: the server answered the SYN and the client never
// did anything more. A client that exists acknowledges a SYN-ACK within
// a round trip, and one that did not receive it sends its SYN again; a
// source that does neither was never there (a spoofed SYN flood), or the
// SYN-ACKs are lost on the way back.
var halfOpenDetector = detector{
	class: HandshakeIncomplete,
	explain: Explanation{
		Class: HandshakeIncomplete, Title: "Handshake never completed",
		Meaning: "The server answered the SYN with a SYN-ACK, and the client never acknowledged it nor sent " +
			"anything else: the connection stayed half-open on the server.",
		Detection: "SYNs from the client, SYN-ACKs from the server and nothing more, the last SYN-ACK at least the " +
			"initial retransmission timeout (1 s) before the end of the capture. The server keeps the half-open " +
			"connection in SYN_RECV and sends its SYN-ACK again, or, answering with SYN cookies, keeps nothing. " +
			"Many such connections from many sources that never send their SYN again are a SYN flood with spoofed " +
			"addresses.",
		Causes: "A SYN flood (spoofed sources); SYN-ACKs dropped on the way back (asymmetric routing, a firewall " +
			"or NAT that saw only one direction); a client that crashed or gave up right after its SYN.",
		Confirm: "On the server: nstat -az TcpExtSyncookiesSent TcpExtListenDrops; ss -tn state syn-recv | wc -l. " +
			"On a client: whether the SYN-ACK arrives (tcpdump on the client).",
		Fix: "For a flood: keep SYN cookies on (net.ipv4.tcp_syncookies=1), raise net.ipv4.tcp_max_syn_backlog, and " +
			"filter it upstream (rate limits, a SYN proxy). For one client: fix the return path of its SYN-ACKs.",
	},
	inspect:  inspectHalfOpen,
	group:    byServer,
	findings: func(g *group, _ *findCtx) []Finding { return halfOpenFindings(g) },
}

// halfOpenFindings is the finding about a server's incomplete handshakes:
// a warning, or an error when they are a SYN flood.
func halfOpenFindings(g *group) []Finding {
	retried := 0
	for _, f := range g.flows {
		if f.Client.Retrans > 0 {
			retried++
		}
	}
	s := fmt.Sprintf("%s answered %s from %s with a SYN-ACK that the client never acknowledged: the handshakes stayed half-open.",
		g.flows[0].Key.Server(), plural(len(g.flows), "SYN"), hostsOf(g.flows, flow.Client))
	flood := synFlood(distinctHosts(g.flows, flow.Client), false, retried, len(g.flows))
	if flood {
		s += " So many sources that never send their SYN again is the mark of a SYN flood with spoofed addresses."
	}
	f := perServer(HandshakeIncomplete, g, s)
	if !flood {
		f[0].Severity = Warning
	}
	return f
}

func inspectHalfOpen(c *flowCtx) {
	r := c.r
	C, S := &r.Client, &r.Server
	if r.Midstream || !has(r, flow.Client, 'S') || !has(r, flow.Server, 'H') {
		return
	}
	// Nothing but SYNs one way and SYN-ACKs the other.
	if C.Packets != uint64(C.Retrans)+1 || S.Packets != uint64(S.Retrans)+1 || C.Bytes+S.Bytes > 0 ||
		C.FinPacket+S.FinPacket > 0 || C.RSTs+S.RSTs > 0 {
		return
	}
	// A client acknowledges the first SYN-ACK it gets within a round
	// trip: the server sending it again does not make the wait shorter.
	quiet := c.age(S.FirstPacket)
	if quiet < flow.InitialRTO {
		c.add(Verdict{Class: OpenClass, Side: flow.Client, Severity: Info, Confidence: 0.5, Since: C.FirstPacket, Age: c.age(C.FirstPacket),
			Summary: fmt.Sprintf("SYN answered %s before the end of the capture, within the initial retransmission timeout (%s): the client's ACK may yet come, the handshake was in progress",
				fmtDur(quiet), fmtDur(flow.InitialRTO))})
		return
	}
	syn := firstSYN(r)
	first := firstEvent(r, func(e *flow.Event) bool { return e.From == flow.Server && e.Flags.Has(packet.SYN|packet.ACK) })
	v := Verdict{Class: HandshakeIncomplete, Side: flow.Client, Severity: Warning, Confidence: 0.8,
		Since: S.FirstPacket, Age: c.age(S.FirstPacket)}
	server := fmt.Sprintf("the server sent its SYN-ACK %s", times(int(S.Retrans)+1))
	switch {
	case S.State == flow.Closed && S.Retrans == 0:
		server = "the server sent one SYN-ACK and kept no state (SYN cookies)"
	case S.State == flow.SynRecv:
		server += " and sits in SYN_RECV"
	}
	v.Summary = fmt.Sprintf("SYN answered, never acknowledged in %s: %s; the client sent nothing more, a spoofed or vanished source, or the SYN-ACKs were lost on the way back",
		fmtDur(quiet.Round(time.Millisecond)), server)
	if syn != nil {
		v.Evidence = append(v.Evidence, ev(syn, "SYN from client"))
	}
	if first != nil {
		v.Evidence = append(v.Evidence, ev(first, "SYN-ACK from server, never acknowledged"))
	}
	c.add(v)
}

// times spells a count of times: "once", "twice", "3 times".
func times(n int) string {
	switch n {
	case 1:
		return "once"
	case 2:
		return "twice"
	}
	return fmt.Sprintf("%d times", n)
}

// distinctHosts counts the addresses on side s of the flows.
func distinctHosts(fs []*Flow, s flow.Side) int {
	seen := map[[16]byte]struct{}{}
	for _, f := range fs {
		seen[f.Endpoint(s).Addr().As16()] = struct{}{}
	}
	return len(seen)
}
