package analyze

import (
	"fmt"
	"net/netip"
	"slices"
	"time"

	"github.com/flowdoc/flowdoc/flow"
)

// Unanswered SYN: no SYN-ACK, no RST. A SYN sent too shortly before the
// end to have been sent again is a handshake in progress; SYNs to a
// server that accepted other connections meanwhile were dropped by its
// full listen queue (listen_overflow), not by a firewall.
var unansweredDetector = detector{
	class: UnansweredSYN,
	explain: Explanation{
		Class: UnansweredSYN, Title: "Unanswered SYN",
		Meaning: "The SYN (and its retransmissions) got no answer at all.",
		Detection: "SYNs from the client and nothing from the server. The client gives up after " +
			"net.ipv4.tcp_syn_retries retransmissions (about 127 s by default) or its own connect timeout. A single SYN " +
			"sent less than the initial retransmission timeout (1 s) before the end of the capture is a handshake in " +
			"progress, reported open. Once more than 100 SYNs to a server endpoint, or from a client address, went " +
			"unanswered, the next of its connections that get no answer are counted in its finding (JSON aggregates) " +
			"rather than listed as flows: a flood from many sources that never retry is called a SYN flood, one source " +
			"trying many destinations a scan. SYNs spread over a whole network, from spoofed sources or too many to keep " +
			"one by one, too few to any one endpoint for that, are counted together in one finding once they outnumber " +
			"every sign of handshakes going on in the capture.",
		Causes: "A firewall that drops (DROP, security groups), the host down or unreachable, a wrong route, or a " +
			"server whose listen queue is full and drops SYNs (then other clients' SYNs are answered: see " +
			"listen_overflow).",
		Confirm: "On the server: tcpdump -ni any 'tcp port PORT and tcp[tcpflags] & tcp-syn != 0' to see whether " +
			"the SYNs arrive; firewall counters (nft list ruleset, iptables -vnL).",
		Fix: "Open the path (firewall, security group, route) or bring the host up.",
	},
	inspect: inspectUnanswered,
	group:   byServer,
	findings: func(g *group, _ *findCtx) []Finding {
		return perServer(UnansweredSYN, g, fmt.Sprintf("%s did not answer %s from %s at all (no SYN-ACK, no RST): a firewall drops them, or the host or route is down.",
			g.flows[0].Key.Server(), plural(len(g.flows), "connection attempt"), hostsOf(g.flows, flow.Client)))
	},
}

// overflowWindow is how near an unanswered SYN a handshake the server
// completed must be for the SYN to count as dropped by its listen queue.
const overflowWindow = 5 * time.Second

// acceptedBetween reports whether server began a completed handshake
// other than the one at self between from and to.
func (ev *captureEvidence) acceptedBetween(server netip.AddrPort, from, to, self flow.Timestamp) bool {
	acc := ev.accepted[server]
	j, _ := slices.BinarySearch(acc, from)
	for ; j < len(acc) && acc[j] <= to; j++ {
		if acc[j] != self {
			return true
		}
	}
	return false
}

// acceptedNear reports whether server completed a handshake within
// overflowWindow of the span from first to last.
func (ev *captureEvidence) acceptedNear(server netip.AddrPort, first, last flow.Timestamp) bool {
	acc := ev.accepted[server]
	j, _ := slices.BinarySearch(acc, first-flow.Timestamp(overflowWindow))
	return j < len(acc) && acc[j] <= last+flow.Timestamp(overflowWindow)
}

func inspectUnanswered(c *flowCtx) {
	r := c.r
	C := &r.Client
	if !has(r, flow.Client, 'S') || r.Server.Packets > 0 {
		return
	}
	if synInFlight(r, c.end) {
		c.add(Verdict{Class: OpenClass, Side: flow.Client, Severity: Info, Confidence: 0.5, Since: C.FirstPacket, Age: c.age(C.FirstPacket),
			Summary: fmt.Sprintf("SYN sent %s before the end of the capture, within its first retransmission timeout (%s): the handshake was still in progress",
				fmtDur(c.age(C.LastPacket)), fmtDur(flow.InitialRTO))})
		return
	}
	n := int(C.Retrans) + 1
	span := C.LastPacket.Sub(C.FirstPacket)
	state := "still retrying at the end of the capture"
	if C.State == flow.Closed {
		state = "then gave up"
	}
	v := Verdict{Class: UnansweredSYN, Side: flow.Server, Severity: Error, Confidence: 0.9,
		Since: C.FirstPacket, Age: c.age(C.FirstPacket),
		Summary: fmt.Sprintf("%s sent to %s over %s, never answered; the client %s", plural(n, "SYN"), r.Key.Server(), fmtDur(span), state)}
	first, last := firstSYN(r), lastSYN(r)
	if first != nil {
		v.Evidence = append(v.Evidence, ev(first, "SYN from client"))
	}
	if last != nil && last != first {
		v.Evidence = append(v.Evidence, ev(last, fmt.Sprintf("SYN sent again (%d in all)", n)))
	}
	if c.cap.acceptedNear(r.Key.Server(), r.First, r.Last) {
		v.Class, v.Confidence = ListenOverflow, 0.7
		v.Summary += "; the server accepted other connections meanwhile, so its listen queue was most likely full and dropped the SYN"
	}
	c.add(v)
}
