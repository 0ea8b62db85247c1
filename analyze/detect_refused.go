package analyze

import (
	"fmt"
	"net/netip"

	"github.com/flowdoc/flowdoc/flow"
	"github.com/flowdoc/flowdoc/flow/packet"
)

// Refused: the SYN answered by RST.
var refusedDetector = detector{
	class: Refused,
	explain: Explanation{
		Class: Refused, Title: "Connection refused",
		Meaning: "The SYN was answered with RST: no socket listens on that port on that host, or a firewall " +
			"rejects the connection with a TCP reset.",
		Detection: "A SYN from the client, no SYN-ACK, an RST from the server's address.",
		Causes: "The service is down or restarting, listens on another port or address (127.0.0.1 only), or a " +
			"firewall rule REJECTs with tcp-reset.",
		Confirm: "On the server: ss -ltn 'sport = :PORT'; the service's logs and status.",
		Fix:     "Start the service, or fix the address or port the client uses.",
	},
	inspect: inspectRefused,
	group:   byServer,
	findings: func(g *group, _ *findCtx) []Finding {
		return perServer(Refused, g, fmt.Sprintf("%s refused %s (SYN answered by RST) from %s: nothing listens on that port, or a firewall rejects.",
			g.flows[0].Key.Server(), plural(len(g.flows), "connection"), hostsOf(g.flows, flow.Client)))
	},
}

func inspectRefused(c *flowCtx) {
	r := c.r
	if !has(r, flow.Client, 'S') || has(r, flow.Server, 'H') || r.Server.RSTs == 0 {
		return
	}
	rst := firstEvent(r, func(e *flow.Event) bool { return e.From == flow.Server && e.Flags.Has(packet.RST) })
	v := Verdict{Class: Refused, Side: flow.Server, Severity: Error, Confidence: 0.95,
		Summary: fmt.Sprintf("SYN to %s answered by RST: nothing listens there, or a firewall rejects", r.Key.Server())}
	if syn := firstSYN(r); syn != nil {
		v.Evidence = append(v.Evidence, ev(syn, "SYN from client"))
	}
	if rst != nil {
		v.Since = rst.At
		v.Evidence = append(v.Evidence, ev(rst, "RST from server"))
	}
	c.add(v)
}

// firstSYN and lastSYN are the client's first and last bare SYN; nil if
// none was kept.
func firstSYN(r *flow.Record) *flow.Event {
	return firstEvent(r, func(e *flow.Event) bool {
		return e.From == flow.Client && e.Flags&(packet.SYN|packet.ACK) == packet.SYN
	})
}

func lastSYN(r *flow.Record) *flow.Event {
	return lastEvent(r, func(e *flow.Event) bool {
		return e.From == flow.Client && e.Flags&(packet.SYN|packet.ACK) == packet.SYN
	})
}

// byServer groups verdicts by the flow's server endpoint.
func byServer(f *Flow, _ *Verdict) (groupKey, bool) { return groupKey{endpoint: f.Key.Server()}, true }

// perServer is the finding about one server endpoint and how many
// connections to it.
func perServer(c Class, g *group, summary string) []Finding {
	return []Finding{{Class: c, Severity: Error, Endpoints: []netip.AddrPort{g.flows[0].Key.Server()},
		Flows: ids(g.flows), Metrics: []Metric{{"connections", float64(len(g.flows))}},
		Summary: summary, Remedy: remedy(c), Evidence: evidence(g, false)}}
}
