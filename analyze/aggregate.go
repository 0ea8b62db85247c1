package analyze

import (
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"time"

	"github.com/flowdoc/flowdoc/flow"
)

// Aggregate is the connections to one server endpoint that carried no
// conversation (SYNs nothing answered), counted rather than listed once
// there were many of them: a SYN flood, a scan, clients hammering a
// service behind a firewall that drops. Their flows are not in
// Report.Flows; the finding about the endpoint counts them, and Examples
// lead to a few of them in the capture.
type Aggregate struct {
	Server netip.AddrPort
	// Class is UnansweredSYN, or ListenOverflow when the server accepted
	// other connections meanwhile (its listen queue dropped these).
	Class Class
	// Connections counts the folded connections, InProgress those among
	// them whose single SYN was sent within the initial retransmission
	// timeout before the end (handshakes in progress, not failures).
	Connections, InProgress int
	SYNs                    int // SYN packets, retransmissions included
	Retried                 int // connections that sent their SYN more than once
	GaveUp                  int // clients that had stopped retrying by the end
	AnsweredLate            int // answered after all: flows of their own, not counted here
	// ClientHosts counts the distinct client addresses; Estimated when
	// there were too many to count exactly (then within a few percent).
	ClientHosts int
	Estimated   bool
	// TopClients are the busiest clients, when they were counted exactly.
	TopClients  []ClientCount
	First, Last time.Time
	// Examples are the first SYNs of the first and last few folded
	// connections.
	Examples []Evidence
}

// ClientCount is one client address and its connections.
type ClientCount struct {
	Addr        netip.Addr
	Connections int
}

// Unanswered is how many of the aggregate's connections failed: all but
// those in progress.
func (a *Aggregate) Unanswered() int { return a.Connections - a.InProgress }

// aggregatesOf turns the pass's aggregates into the report's, classed by
// what the server did meanwhile.
func aggregatesOf(in []flow.Aggregate, ev *captureEvidence) []Aggregate {
	out := make([]Aggregate, 0, len(in))
	for _, a := range in {
		if a.Connections == 0 {
			continue
		}
		v := Aggregate{Server: a.Server, Class: UnansweredSYN, Connections: a.Connections, InProgress: a.InProgress,
			SYNs: a.SYNs, Retried: a.Retried, GaveUp: a.GaveUp, AnsweredLate: a.AnsweredLate,
			ClientHosts: a.ClientHosts, Estimated: a.ClientsEstimated, First: a.First.Time(), Last: a.Last.Time()}
		for _, c := range a.TopClients {
			v.TopClients = append(v.TopClients, ClientCount{c.Addr, c.Connections})
		}
		for _, e := range a.Examples {
			v.Examples = append(v.Examples, Evidence{Input: int(e.Input), Packet: int(e.Packet), At: e.At.Time(),
				What: "SYN from " + e.Client.String()})
		}
		acc := ev.accepted[a.Server]
		if j, _ := slices.BinarySearch(acc, a.First-flow.Timestamp(overflowWindow)); j < len(acc) && acc[j] <= a.Last+flow.Timestamp(overflowWindow) {
			v.Class = ListenOverflow
		}
		out = append(out, v)
	}
	return out
}

// clients says who sent an aggregate's SYNs: "10.0.0.1 (40), 10.0.0.2
// (3)", or "about 98,000 hosts".
func (a *Aggregate) clients() string {
	if a.Estimated {
		return fmt.Sprintf("about %s hosts", thousands(min(a.ClientHosts, a.Connections)))
	}
	var parts []string
	for i, c := range a.TopClients {
		if i == 3 {
			parts = append(parts, fmt.Sprintf("%d more", a.ClientHosts-3))
			break
		}
		parts = append(parts, fmt.Sprintf("%s (%d)", c.Addr, c.Connections))
	}
	return strings.Join(parts, ", ")
}

// thousands spells n with commas: 1,234,567.
func thousands(n int) string {
	s := fmt.Sprint(n)
	for i := len(s) - 3; i > 0 && s[i-1] != '-'; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s
}

// foldAggregates adds the aggregates to the findings about their server
// endpoints, or makes one where there is none: the flows kept of an
// endpoint and those folded are one finding.
func foldAggregates(out []Finding, aggs []Aggregate) []Finding {
	for i := range aggs {
		a := &aggs[i]
		if a.Unanswered() == 0 {
			continue
		}
		j := slices.IndexFunc(out, func(f Finding) bool {
			return f.Class == a.Class && len(f.Endpoints) == 1 && f.Endpoints[0] == a.Server
		})
		if j < 0 {
			out = append(out, Finding{Class: a.Class, Severity: Error, Endpoints: []netip.AddrPort{a.Server},
				Flows: []int{}, Remedy: remedy(a.Class)})
			j = len(out) - 1
		}
		f := &out[j]
		f.Folded += a.Unanswered()
		n := f.Connections()
		f.Metrics = append(slices.DeleteFunc(f.Metrics, func(m Metric) bool { return m.Name == "connections" }),
			Metric{"connections", float64(n)}, Metric{"folded", float64(f.Folded)}, Metric{"client_hosts", float64(a.ClientHosts)})
		// The first and the last of the folded: where to look.
		f.Evidence = f.Evidence[:min(len(f.Evidence), maxEvidence-2)]
		if n := len(a.Examples); n > 0 {
			f.Evidence = append(f.Evidence, a.Examples[0])
			if n > 1 {
				f.Evidence = append(f.Evidence, a.Examples[n-1])
			}
		}
		span := a.Last.Sub(a.First)
		what := "did not answer"
		if a.Class == ListenOverflow {
			what = "dropped, with its listen queue full,"
		}
		again := "none of them again"
		if a.Retried > 0 {
			again = fmt.Sprintf("%s of the connections more than once", thousands(a.Retried))
		}
		f.Summary = fmt.Sprintf("%s %s %s connection attempts over %s (no SYN-ACK, no RST), %s of them counted, not listed.",
			a.Server, what, thousands(n), fmtDur(span), thousands(f.Folded))
		f.Summary += fmt.Sprintf(" The counted came from %s and sent %s SYNs, %s", a.clients(), thousands(a.SYNs), again)
		if a.InProgress > 0 {
			f.Summary += fmt.Sprintf("; %s more were sent within the initial retransmission timeout before the end, and are in progress", thousands(a.InProgress))
		}
		f.Summary += "."
		switch {
		case (a.Estimated || a.ClientHosts > 100) && a.Retried*10 < a.Connections:
			f.Summary += " So many sources that never send their SYN again is the mark of a SYN flood with spoofed addresses: real clients retry. Check that SYN cookies are on (net.ipv4.tcp_syncookies) and filter the flood upstream."
		case a.Class == ListenOverflow:
			f.Summary += " The application is not calling accept() fast enough."
		default:
			f.Summary += " A firewall drops them, or the host or route is down."
		}

	}
	return out
}
