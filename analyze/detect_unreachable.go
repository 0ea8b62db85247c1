package analyze

import (
	"fmt"
	"net/netip"
	"strings"
	"time"

	"github.com/flowdoc/flowdoc/flow"
	"github.com/flowdoc/flowdoc/flow/packet"
)

// Peer unreachable: one side sent what the peer had to answer (data, a
// FIN, keep-alive probes), sent it again with backoff, and the peer
// answered nothing: the peer, or a firewall or NAT on the path that forgot
// the idle connection, stopped answering. The peer's state stays what it
// was when it last answered (flow.Record.Unanswered). Across connections
// on one path, the idle time after which it went silent is measured, like
// a server's keep-alive timeout.
var peerUnreachableDetector = detector{
	class: PeerUnreachable,
	explain: Explanation{
		Class: PeerUnreachable, Title: "Peer unreachable",
		Meaning: "One side sent what the other had to answer (data, a FIN, keep-alive probes) and sent it again with " +
			"backoff, and the other side answered nothing: it, or a stateful firewall, NAT or load balancer on the path " +
			"that forgot the idle connection, stopped answering. The packets the capture saw leave never arrived, so the " +
			"silent side's state is what it was when it last answered (an unacknowledged FIN left it ESTABLISHED, not " +
			"CLOSE_WAIT; an RST into the silence did not close it).",
		Detection: "After the peer's last packet, the side sent new data, a FIN or keep-alive probes, and then retransmitted " +
			"(or probed again) with no packet at all from the peer. A single FIN or request at the very end of the capture, " +
			"not yet sent again, may still be in flight and is not judged. Across connections on one path, the idle time " +
			"after which each went silent is measured: similar idle times point at a middlebox's idle timeout.",
		Causes: "A stateful firewall, NAT gateway or cloud load balancer that drops connections idle longer than its timeout " +
			"(often 350 s on cloud NATs, minutes to an hour on firewalls) and then drops their packets; a peer host that " +
			"crashed, lost power or was removed; a route or security-group change.",
		Confirm: "On the silent side: ss -tan shows the connection still ESTABLISHED (it never got the FIN or RST). On the " +
			"middlebox: its connection table (conntrack -L on Linux) no longer holds the 4-tuple; its idle timeout setting " +
			"(nf_conntrack_tcp_timeout_established, the NAT's idle timeout).",
		Fix: "Enable TCP keep-alive with an idle time shorter than the middlebox's timeout (SO_KEEPALIVE with " +
			"TCP_KEEPIDLE, net.ipv4.tcp_keepalive_time, or the client's or pool's keep-alive option), or evict pooled " +
			"connections idle longer than it; or raise the middlebox's idle timeout.",
	},
	inspect: inspectPeerUnreachable,
	group: func(f *Flow, v *Verdict) (groupKey, bool) {
		return groupKey{host: f.Endpoint(v.Side.Other()).Addr(), endpoint: f.Endpoint(v.Side)}, true
	},
	findings: func(g *group, _ *findCtx) []Finding { return []Finding{unreachableFinding(g)} },
}

// silentAfter is how long a flow had been idle when side s's unanswered
// stretch began: since the last packet of the peer.
func silentAfter(r *flow.Record, s flow.Side) time.Duration {
	return r.Unanswered(s).Sub(r.Half(s.Other()).LastPacket)
}

func inspectPeerUnreachable(c *flowCtx) {
	r := c.r
	for _, s := range []flow.Side{flow.Client, flow.Server} {
		u := r.Unanswered(s)
		if u == 0 {
			continue
		}
		h, peer := r.Half(s), r.Half(s.Other())
		var sent []string
		var evs []Evidence
		if h.FinAt >= u {
			sent = append(sent, "its FIN")
			evs = append(evs, Evidence{Input: int(h.FinInput), Packet: int(h.FinPacket), At: h.FinAt, What: finFrom[s] + ", never acknowledged"})
		}
		if h.LastPayload >= u {
			sent = append([]string{"data"}, sent...)
			evs = append(evs, Evidence{Input: int(h.LastPayloadInput), Packet: int(h.LastPayloadPacket), At: h.LastPayload, What: "data from " + sideName(s) + ", never acknowledged"})
		}
		if ka := r.KeepAlive; ka != nil && ka.Last[s] >= u {
			sent = append(sent, "keep-alive probes")
		}
		if len(sent) == 0 {
			sent = append(sent, "packets")
		}
		gave := "was still sending at the end of the capture"
		if rst := lastEvent(r, func(e *flow.Event) bool { return e.From == s && e.Flags.Has(packet.RST) && e.At >= u }); rst != nil {
			gave = "then gave up and reset the connection; that RST cannot have arrived either"
			evs = append(evs, ev(rst, rstFrom[s]+" into the silence"))
		}
		v := Verdict{Class: PeerUnreachable, Side: s.Other(), Severity: Warning, Confidence: 0.8, Since: u, Age: c.age(u),
			Summary: fmt.Sprintf("the %s sent %s %s after the %s's last packet and went on sending for %s with no answer at all; it %s. The %s, or a firewall or NAT on the path that forgot the idle connection, stopped answering: its state is shown as it was when it last answered (%s)",
				sideName(s), strings.Join(sent, " and "), fmtDur(silentAfter(r, s)), sideName(s.Other()), fmtDur(h.LastPacket.Sub(u)),
				gave, sideName(s.Other()), peer.State),
			Evidence: evs}
		c.add(v)
	}
}

// quickMiddlebox is an idle time shorter than middleboxes commonly keep
// idle connections (cloud load balancers and NATs: 60 s to an hour;
// Linux conntrack: 5 days).
const quickMiddlebox = 30 * time.Second

func unreachableFinding(g *group) Finding {
	v0, f0 := g.vs[0], g.flows[0]
	from, to := f0.Endpoint(v0.Side.Other()).Addr(), f0.Endpoint(v0.Side)
	var idle []time.Duration
	for i, f := range g.flows {
		idle = append(idle, silentAfter(f.Record, g.vs[i].Side.Other()))
	}
	cl := ClusterDurations(idle)
	lo, hi := cl[0].Min, cl[0].Max
	for _, c := range cl[1:] {
		lo, hi = min(lo, c.Min), max(hi, c.Max)
	}
	var sb strings.Builder
	fmt.Fprintf(&sb, "%s got no answer at all from %s on %s: it sent data, a FIN or keep-alive probes and sent them again with backoff, and nothing came back.",
		from, to, plural(len(g.flows), "connection"))
	switch {
	case len(g.flows) == 1:
		fmt.Fprintf(&sb, " It had been idle for %s when it went silent", fmtDur(cl[0].Median))
	case lo == hi || len(cl) == 1:
		fmt.Fprintf(&sb, " Each had been idle for %s when it went silent", fmtDur(cl[0].Median))
	default:
		fmt.Fprintf(&sb, " They had been idle for %s to %s when they went silent", fmtDur(lo), fmtDur(hi))
	}
	if lo < quickMiddlebox {
		// Firewalls, NATs and load balancers keep idle connections for
		// minutes: one this quick is possible, but the peer's going down
		// or the path's being cut is as likely.
		fmt.Fprintf(&sb, ": the peer went down or the path was cut, or a stateful firewall or NAT between them forgets connections idle for %s or less (unusually quick: most keep them for minutes) and then drops their packets.", fmtDur(lo))
	} else {
		fmt.Fprintf(&sb, ": a stateful firewall or NAT between them forgets connections idle for %s or less and then drops their packets (or the peer is down).", fmtDur(lo))
	}
	return Finding{Class: PeerUnreachable, Severity: Warning, Hosts: []netip.Addr{from}, Endpoints: []netip.AddrPort{to}, Flows: ids(g.flows),
		Metrics:  []Metric{{"connections", float64(len(g.flows))}, {"idle_before_silence_min_s", lo.Seconds()}, {"idle_before_silence_max_s", hi.Seconds()}},
		Summary:  sb.String(),
		Remedy:   remedyPrefix(lo) + fmt.Sprintf(" (the capture puts it at %s at most), then enable TCP keep-alive on these connections with an idle time shorter than it (net.ipv4.tcp_keepalive_time, or the client's or pool's keep-alive setting), or have the pool evict connections idle longer than it; or raise the idle timeout of the firewall, NAT or load balancer on the path.", fmtDur(lo)),
		Evidence: evidence(g, false)}
}

// remedyPrefix is what to check first where the silence came after an
// idle time shorter than middleboxes keep connections.
func remedyPrefix(idle time.Duration) string {
	if idle < quickMiddlebox {
		return "First check that the peer was up and the path whole at that moment (its logs, its uptime, a link or route change). If a middlebox forgets connections this quickly, find its idle timeout"
	}
	return "Find the middlebox's idle timeout"
}
