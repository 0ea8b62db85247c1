package analyze

import (
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"time"

	"github.com/flowdoc/flowdoc/flow"
)

// Aggregate is the connections that carried no conversation (SYNs
// nothing answered), counted rather than listed once there were many of
// them: those to one server endpoint (a SYN flood, clients hammering a
// service behind a firewall that drops), or from one client address to
// many endpoints (a scan), or, Other, those spread over more endpoints
// and sources than are counted one by one (a flood of a whole network).
// Their flows are not in Report.Flows; the finding about the endpoint or
// the client counts them, and Examples lead to a few of them in the
// capture.
type Aggregate struct {
	// Server is the server endpoint, or Client the scanning address: one
	// of them is set, but for Other.
	Server netip.AddrPort
	Client netip.Addr
	// Sources estimates, for Other, its distinct client addresses.
	Sources int
	// Other is set for the connections folded by neither end: to server
	// endpoints, or from client addresses, past the first few thousand
	// that may have aggregates of their own, or spread thin over many
	// endpoints and sources. Its peers are the server endpoints, as for a
	// client's.
	Other bool
	// Class is UnansweredSYN, or ListenOverflow when the server accepted
	// other connections meanwhile (its listen queue dropped these), or
	// HandshakeIncomplete when the server answered with SYN-ACKs and the
	// clients never went on, or Refused when it answered with RST;
	// PortScan for a scanner's.
	Class Class
	// Connections counts the folded connections, InProgress those among
	// them whose single SYN was sent, or (HandshakeIncomplete) whose first
	// SYN-ACK was, within the initial retransmission timeout before the
	// end (handshakes in progress, not failures).
	Connections, InProgress int
	SYNs                    int // SYN packets, retransmissions included
	SYNACKs                 int // SYN-ACK packets (HandshakeIncomplete)
	RSTs                    int // RST packets that refused them (Refused)
	ServerRetried           int // connections whose server sent its SYN-ACK more than once
	Retried                 int // connections that sent their SYN more than once
	// RetriedBy names the clients of those (port 0), busiest first, the
	// 16 lowest addresses at most: spoofed sources do not retry, real
	// clients do.
	RetriedBy    []PeerCount
	GaveUp       int // clients that had stopped retrying by the end
	AnsweredLate int // answered after all: flows of their own, not counted here
	// Peers counts the distinct client addresses of a server's
	// aggregate, or the server endpoints of a client's (or Other's); Estimated when
	// there were too many to count exactly (then within a few percent).
	Peers     int
	Estimated bool
	// TopPeers are the busiest peers, when they were counted exactly:
	// client addresses (port 0), or server endpoints.
	TopPeers []PeerCount
	// OneHost and OnePort, of a client's aggregate (or Other), are the
	// address and the port all its endpoints had, when they had one.
	OneHost     netip.Addr
	OnePort     uint16
	First, Last time.Time
	// Examples are the first SYNs of the first and last few folded
	// connections.
	Examples []Evidence
}

// PeerCount is one peer and its connections.
type PeerCount struct {
	Peer        netip.AddrPort
	Connections int
}

// ByClient reports whether the aggregate counts a client's connections,
// to many endpoints, rather than a server endpoint's.
func (a *Aggregate) ByClient() bool { return a.Client.IsValid() }

// byEndpoint reports whether the aggregate's peers are server endpoints.
func (a *Aggregate) byEndpoint() bool { return a.ByClient() || a.Other }

// Scan reports whether the aggregate is a scanner's.
func (a *Aggregate) Scan() bool { return a.Class == PortScan }

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
		v := Aggregate{Server: a.Server, Client: a.Client, Other: a.Other, Sources: a.Sources, Class: UnansweredSYN, Connections: a.Connections, InProgress: a.InProgress,
			SYNs: a.SYNs, SYNACKs: a.SYNACKs, RSTs: a.RSTs, ServerRetried: a.ServerRetried, Retried: a.Retried, GaveUp: a.GaveUp, AnsweredLate: a.AnsweredLate,
			Peers: a.Peers, Estimated: a.PeersEstimated, OneHost: a.OneHost, OnePort: a.OnePort, First: a.First.Time(), Last: a.Last.Time()}
		for _, p := range a.TopPeers {
			v.TopPeers = append(v.TopPeers, PeerCount{p.Peer, p.Connections})
		}
		for _, p := range a.RetriedBy {
			v.RetriedBy = append(v.RetriedBy, PeerCount{p.Peer, p.Connections})
		}
		for _, e := range a.Examples {
			what := "SYN from " + e.Client.String()
			switch {
			case v.Other:
				what = "SYN from " + e.Client.String() + " to " + e.Server.String()
			case v.ByClient():
				what = "SYN to " + e.Server.String()
			}
			v.Examples = append(v.Examples, Evidence{Input: int(e.Input), Packet: int(e.Packet), At: e.At, What: what})
		}
		switch {
		case v.ByClient() && ev.scanners[a.Client] != nil:
			v.Class = PortScan
		case a.Refused:
			v.Class = Refused
		case a.HalfOpen:
			v.Class = HandshakeIncomplete
		case a.Server.IsValid() && ev.acceptedNear(a.Server, a.First, a.Last):
			v.Class = ListenOverflow
		}
		out = append(out, v)
	}
	return out
}

// peers says who the aggregate's connections were with: "10.0.0.1
// (40), 10.0.0.2 (3)", or "about 98,000 hosts" ("endpoints", for a scan).
func (a *Aggregate) peers() string {
	if a.Estimated {
		what := "hosts"
		if a.byEndpoint() {
			what = "endpoints"
		}
		return fmt.Sprintf("about %s %s", thousands(min(a.Peers, a.Connections)), what)
	}
	what := "host"
	if a.byEndpoint() {
		what = "endpoint"
	}
	return peerList(a.TopPeers, a.Peers, what)
}

// peerList names the first three peers of ps with their connections,
// "10.0.0.1 (40), 10.0.0.2 (3) and 5 more hosts": total is how many there
// are in all, what they are; -1 when there are more than ps, uncounted.
func peerList(ps []PeerCount, total int, what string) string {
	var parts []string
	for _, p := range ps[:min(3, len(ps))] {
		name := p.Peer.String()
		if p.Peer.Port() == 0 {
			name = p.Peer.Addr().String()
		}
		parts = append(parts, fmt.Sprintf("%s (%d)", name, p.Connections))
	}
	switch more := total - len(parts); {
	case total < 0:
		return strings.Join(parts, ", ") + " and more"
	case more > 0:
		return strings.Join(parts, ", ") + " and " + plural(more, "more "+what)
	case len(parts) > 1:
		return strings.Join(parts[:len(parts)-1], ", ") + " and " + parts[len(parts)-1]
	}
	return strings.Join(parts, "")
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
// endpoint and those folded are one finding. A scan's aggregate is in
// the finding about the scanning host, which its first SYNs, kept as
// flows, made; or it makes that finding alone.
func foldAggregates(out []Finding, rep *Report) []Finding {
	for i := range rep.Aggregates {
		a := &rep.Aggregates[i]
		switch {
		case a.Scan():
			if !slices.ContainsFunc(out, func(f Finding) bool { return a.about(&f) }) {
				st := scanStats{client: a.Client, aggs: scanAggregates(rep, a.Client)}
				out = append(out, st.finding([]int{}))
			}
			continue
		case a.ByClient():
			out = a.spread(out)
			continue
		case a.Unanswered() == 0:
			continue
		case a.Other:
			f := a.otherFinding()
			out = a.absorb(&f, out, rep)
			out = append(out, f)
			continue
		}
		j := slices.IndexFunc(out, func(f Finding) bool { return a.about(&f) })
		if j < 0 {
			out = append(out, Finding{Class: a.Class, Severity: Error, Flows: []int{}, Remedy: remedy(a.Class), Endpoints: []netip.AddrPort{a.Server}})
			j = len(out) - 1
			if a.Class == HandshakeIncomplete {
				out[j].Severity = Warning
			}
		}
		a.fold(&out[j], rep)
	}
	return out
}

// joins reports whether a client's aggregate (no scanner's) adds to a
// finding of class c about one of its endpoints: one of its own class,
// or, for SYNs that got no answer, the listen queue overflow the
// endpoint's kept flows showed (the same silence, explained).
func (a *Aggregate) joins(c Class) bool {
	return c == a.Class || a.Class == UnansweredSYN && c == ListenOverflow
}

// spread adds the aggregate of a client that is no scanner, whose SYNs
// went to a few endpoints only (all of them in TopPeers), to the
// findings about those endpoints.
func (a *Aggregate) spread(out []Finding) []Finding {
	what := "got no answer"
	if a.Class == Refused {
		what = "were refused"
	}
	spread := 0
	for _, p := range a.TopPeers {
		j := slices.IndexFunc(out, func(f Finding) bool {
			return a.joins(f.Class) && len(f.Endpoints) == 1 && f.Endpoints[0] == p.Peer
		})
		if j < 0 {
			out = append(out, Finding{Class: a.Class, Severity: Error, Endpoints: []netip.AddrPort{p.Peer}, Flows: []int{}, Remedy: remedy(a.Class),
				Summary: fmt.Sprintf("Connection attempts to %s %s.", p.Peer, what)})
			j = len(out) - 1
		}
		f := &out[j]
		f.Folded += p.Connections
		f.Metrics = append(slices.DeleteFunc(f.Metrics, func(m Metric) bool { return m.Name == "connections" || m.Name == "folded" }),
			Metric{"connections", float64(f.Connections())}, Metric{"folded", float64(f.Folded)})
		f.Summary += fmt.Sprintf(" %s more from %s %s, counted, not listed: %s in all.", thousands(p.Connections), a.Client, what, thousands(f.Connections()))
		if a.InProgress > 0 {
			// Which endpoints they went to was not counted apart.
			f.Summary += fmt.Sprintf(" (%s of the client's were sent less than the initial retransmission timeout before the end, and may yet be answered.)", thousands(a.InProgress))
		}
		spread += p.Connections
	}
	if rest := a.Connections - spread; rest > 0 {
		// Too many endpoints to tell apart: a finding about the client.
		out = append(out, Finding{Class: a.Class, Severity: Error, Hosts: []netip.Addr{a.Client}, Flows: []int{}, Folded: rest,
			Metrics: []Metric{{"connections", float64(rest)}, {"folded", float64(rest)}, {"server_endpoints", float64(a.Peers)}},
			Summary: fmt.Sprintf("%s connection attempts from %s to %s %s, counted, not listed; it came back to them again and again, as a client does, not a scanner.",
				thousands(rest), a.Client, a.peers(), what),
			Remedy: remedy(a.Class), Evidence: a.Examples[:min(len(a.Examples), 2)]})
	}
	return out
}

// about reports whether f is the finding the aggregate belongs to.
func (a *Aggregate) about(f *Finding) bool {
	switch {
	case a.Other:
		return f.Class == a.Class && f.Folded == a.Unanswered() &&
			slices.Equal(f.Hosts, a.otherHosts()) && slices.Equal(f.Endpoints, a.otherEndpoints())
	case a.Scan():
		return f.Class == PortScan && len(f.Hosts) == 1 && f.Hosts[0] == a.Client
	case a.ByClient():
		return a.joins(f.Class) && len(f.Endpoints) == 1 && slices.ContainsFunc(a.TopPeers, func(p PeerCount) bool { return p.Peer == f.Endpoints[0] })
	}
	return f.Class == a.Class && len(f.Endpoints) == 1 && f.Endpoints[0] == a.Server
}

// fold adds the aggregate to its finding: counts, evidence, the words.
func (a *Aggregate) fold(f *Finding, rep *Report) {
	f.Folded += a.Unanswered()
	peers := "client_hosts"
	f.Metrics = append(slices.DeleteFunc(f.Metrics, func(m Metric) bool { return m.Name == "connections" }),
		Metric{"connections", float64(f.Connections())}, Metric{"folded", float64(f.Folded)}, Metric{peers, float64(a.Peers)})
	if a.InProgress > 0 {
		// Not in connections, as the words count them; their clients
		// are in client_hosts.
		f.Metrics = append(f.Metrics, Metric{"in_progress", float64(a.InProgress)})
	}
	// The first and the last of the folded: where to look.
	f.Evidence = f.Evidence[:min(len(f.Evidence), maxEvidence-2)]
	if n := len(a.Examples); n > 0 {
		f.Evidence = append(f.Evidence, a.Examples[0])
		if n > 1 {
			f.Evidence = append(f.Evidence, a.Examples[n-1])
		}
	}
	// The time the attempts took: the flows kept and the folded.
	first, last := flow.TS(a.First), flow.TS(a.Last)
	for _, id := range f.Flows {
		if id >= 1 && id <= len(rep.Flows) && rep.Flows[id-1].ID == id {
			fl := &rep.Flows[id-1]
			first, last = min(first, fl.First), max(last, fl.Last)
		}
	}
	slow := slowConnects(f, rep)
	if slow.n > 0 {
		f.Metrics = append(f.Metrics, Metric{"answered_late", float64(slow.n)})
	}
	f.Summary = a.summary(f, last.Sub(first), slow)
	if a.flood() {
		f.Severity = Error // a flood is an incident, whatever the class
		f.Remedy = synFloodRemedy
		if a.Class == Refused {
			// A closed port keeps no state: nothing to protect.
			f.Remedy = floodFilterRemedy
		}
	}
}

// flood reports whether the aggregate has a SYN flood's mark: many
// sources, nearly none of which send their SYN again.
func (a *Aggregate) flood() bool {
	if a.Other {
		// Spread over endpoints too many to count one by one (a few
		// counted exactly are floods of endpoints past the first thousands
		// with aggregates of their own): its sources were not counted, but
		// that few retried tells.
		return a.Estimated && a.Retried*10 < a.Connections
	}
	return !a.ByClient() && synFlood(a.Peers, a.Estimated, a.Retried, a.Connections)
}

// spoofed reports whether an Other aggregate's sources look spoofed:
// nearly as many as its connections, each address used once.
func (a *Aggregate) spoofed() bool { return a.Sources*10 >= a.Connections*9 }

// inProgress opens the sentence about the aggregate's connections: " The
// counted ones", or, when some are in progress at the end (counted in
// the peers and SYNs, not as failures), a sentence about those first.
func (a *Aggregate) inProgress() string {
	if a.InProgress == 0 {
		return " The counted ones"
	}
	what, next := "sent", "their answers"
	if a.Class == HandshakeIncomplete {
		what, next = "answered", "their clients' ACKs"
	}
	return fmt.Sprintf(" %s more, %s within the initial retransmission timeout before the end, are in progress: %s may yet come. These and the counted ones",
		thousands(a.InProgress), what, next)
}

// synFloodRemedy is the fix for a SYN flood, whatever its class: no path
// to open, no service to start, no application to unblock.
const synFloodRemedy = "Keep SYN cookies on (net.ipv4.tcp_syncookies=1) on the hosts the flood reaches (a larger net.ipv4.tcp_max_syn_backlog buys time), and filter it upstream (rate limits at the edge, a SYN proxy, a scrubbing service)."

// floodFilterRemedy is the fix for a flood that the hosts it reaches
// keep no state for (refused, or never answered, over a whole network):
// no path to open, no service to start, the SYNs are the flood's.
const floodFilterRemedy = "Filter the flood upstream (rate limits at the edge, a scrubbing service); the hosts it reaches need no fix for it."

// synFlood is a SYN flood's mark on the connections to one server: more
// than 100 sources (or too many to count), and hardly one connection in
// ten whose SYN was sent again (real clients retry; spoofed ones do not).
func synFlood(sources int, many bool, retried, conns int) bool {
	return (many || sources > 100) && retried*10 < conns
}

// slowConnect is what the flows of a finding that were answered only
// when their SYN was sent again took to connect.
type slowConnect struct {
	n                int
	fastest, slowest time.Duration
}

// slowConnects finds, among the flows of finding f, those the server
// answered only when the client had sent its SYN again.
func slowConnects(f *Finding, rep *Report) slowConnect {
	var s slowConnect
	for _, id := range f.Flows {
		if id < 1 || id > len(rep.Flows) || rep.Flows[id-1].ID != id {
			continue
		}
		first, late, _ := lateAnswer(rep.Flows[id-1].Record)
		if late == nil {
			continue
		}
		d := late.At.Sub(first.At)
		if s.n == 0 || d < s.fastest {
			s.fastest = d
		}
		s.slowest = max(s.slowest, d)
		s.n++
	}
	return s
}

// summary is the finding's paragraph once the aggregate is in it; slow
// are its flows answered late.
func (a *Aggregate) summary(f *Finding, span time.Duration, slow slowConnect) string {
	n := f.Connections()
	again := "none of them again"
	if a.Retried > 0 {
		again = fmt.Sprintf("%s of the connections more than once%s", thousands(a.Retried), a.retriedBy())
	}
	var b strings.Builder
	if a.Class == HandshakeIncomplete {
		server := fmt.Sprintf("sent %s SYN-ACKs", thousands(a.SYNACKs))
		if a.ServerRetried > 0 {
			server += fmt.Sprintf(", for %s of the connections more than once (kept in SYN_RECV)", thousands(a.ServerRetried))
		} else {
			server += ", each once (SYN cookies: no state kept)"
		}
		fmt.Fprintf(&b, "%s answered %s SYNs with a SYN-ACK that the client never acknowledged over %s: the handshakes stayed half-open, %s of them counted, not listed.",
			a.Server, thousands(n), fmtDur(span), thousands(f.Folded))
		fmt.Fprintf(&b, "%s came from %s, and sent %s SYNs, %s; the server %s", a.inProgress(), a.peers(), thousands(a.SYNs), again, server)
	} else if a.Class == Refused {
		fmt.Fprintf(&b, "%s refused %s connection attempts (SYN answered by RST) over %s, %s of them counted, not listed.",
			a.Server, thousands(n), fmtDur(span), thousands(f.Folded))
		fmt.Fprintf(&b, "%s came from %s, and sent %s SYNs, %s", a.inProgress(), a.peers(), thousands(a.SYNs), again)
	} else {
		fmt.Fprintf(&b, "%s did not answer %s connection attempts over %s (no SYN-ACK, no RST), %s of them counted, not listed.",
			a.Server, thousands(n-slow.n), fmtDur(span), thousands(f.Folded))
		if slow.n > 0 {
			took := fmtDur(slow.slowest)
			if slow.fastest != slow.slowest {
				took = fmtDur(slow.fastest) + " to " + took
			}
			what := "those connects took"
			if slow.n == 1 {
				what = "that connect took"
			}
			fmt.Fprintf(&b, " It answered %s more only when the client had sent its SYN again: %s %s.", thousands(slow.n), what, took)
		}
		switch {
		case a.Class == ListenOverflow && a.flood():
			b.WriteString(" It accepted other connections meanwhile: most likely its listen queue was full and dropped these. Under a flood of spoofed SYNs, that is more likely its SYN queue (net.ipv4.tcp_max_syn_backlog), full of the flood's half-open handshakes when SYN cookies are off, than the accept queue (a firewall's rate limit, or a full connection-tracking table, drop SYNs under a flood too).")
		case a.Class == ListenOverflow:
			b.WriteString(" It accepted other connections meanwhile: most likely its listen queue was full and dropped these.")
		}
		fmt.Fprintf(&b, "%s came from %s, and sent %s SYNs, %s", a.inProgress(), a.peers(), thousands(a.SYNs), again)
	}
	b.WriteString(".")
	switch {
	case a.flood() && a.Class == Refused:
		b.WriteString(" So many sources that never send their SYN again is the mark of a SYN flood with spoofed addresses: real clients retry. The port is closed, so the host keeps nothing for them: filter the flood upstream.")
	case a.flood():
		b.WriteString(" So many sources that never send their SYN again is the mark of a SYN flood with spoofed addresses: real clients retry. Check that SYN cookies are on (net.ipv4.tcp_syncookies) and filter the flood upstream.")
	case a.Class == ListenOverflow:
		b.WriteString(" The application is not calling accept() fast enough.")
	case a.Class == Refused:
		b.WriteString(" Nothing listens on that port, or a firewall rejects.")
	default:
		b.WriteString(" A firewall drops them, or the host or route is down.")
	}
	return b.String()
}

// otherEndpoints are the server endpoints of an Other aggregate, when
// they were counted one by one; otherHosts their addresses, or the one
// address all its endpoints had.
func (a *Aggregate) otherEndpoints() []netip.AddrPort {
	if a.Estimated {
		return nil
	}
	var out []netip.AddrPort
	for _, p := range a.TopPeers {
		out = append(out, p.Peer)
	}
	slices.SortFunc(out, netip.AddrPort.Compare)
	return out
}

func (a *Aggregate) otherHosts() []netip.Addr {
	if a.OneHost.IsValid() {
		return []netip.Addr{a.OneHost}
	}
	var out []netip.Addr
	for _, p := range a.otherEndpoints() {
		out = append(out, p.Addr())
	}
	slices.SortFunc(out, netip.Addr.Compare)
	return slices.Compact(out)
}

// otherFinding is the finding of an Other aggregate: connection attempts
// spread over endpoints too many to have findings of their own.
func (a *Aggregate) otherFinding() Finding {
	f := Finding{Class: a.Class, Severity: Error, Hosts: a.otherHosts(), Endpoints: a.otherEndpoints(), Flows: []int{}, Folded: a.Unanswered(),
		Remedy: remedy(a.Class)}
	// The first and the last of them: where to look.
	if n := len(a.Examples); n > 4 {
		f.Evidence = slices.Concat(a.Examples[:2], a.Examples[n-2:])
	} else {
		f.Evidence = a.Examples
	}
	f.Metrics = []Metric{{"connections", float64(f.Folded)}, {"folded", float64(f.Folded)}, {"server_endpoints", float64(a.Peers)}}
	switch {
	case a.Class == HandshakeIncomplete && !a.flood():
		f.Severity = Warning
	case a.Class == HandshakeIncomplete:
		f.Remedy = synFloodRemedy
	case a.flood():
		f.Remedy = floodFilterRemedy
	}
	f.Summary = a.otherSummary(&f, a.Last.Sub(a.First))
	return f
}

// spreadLead is how long before an Other aggregate's first connection
// the connections of the same flood may have come: the reader marks SYNs
// spread thin by what it counted in the last window or two (10-20 s), so
// a flood's first SYNs are connections of their own.
const spreadLead = 20 * time.Second

// spreadFirst is how many single attempts, at the least, a flood's
// first SYNs are within spreadLead of each: the reader tells a flood
// spread thin only once more than five hundred such SYNs, over a hundred
// of them unanswered, came in the last window or two. A lone attempt
// between a flood's waves is none of its.
const spreadFirst = 100

// absorb takes into f, the finding of an Other aggregate, the findings of
// its class about one endpoint whose one or two connections were single
// attempts like those folded, from up to spreadLead before the first of
// them to the last, among many such attempts, and to an endpoint on the
// host and port all those folded had, when they had one: the flood's
// first SYNs, one endpoint each, kept as flows before it was known to be
// a flood.
func (a *Aggregate) absorb(f *Finding, out []Finding, rep *Report) []Finding {
	from, to := flow.TS(a.First.Add(-spreadLead)), flow.TS(a.Last)
	lone := func(fl *Flow) bool { return fl.Client.Packets == 1 && fl.Server.Packets <= 1 && !fl.Midstream }
	var times []flow.Timestamp // of every single attempt
	for i := range rep.Flows {
		if fl := &rep.Flows[i]; lone(fl) {
			times = append(times, fl.First)
		}
	}
	slices.Sort(times)
	many := func(at flow.Timestamp) bool {
		lo, _ := slices.BinarySearch(times, at-flow.Timestamp(spreadLead))
		hi, _ := slices.BinarySearch(times, at+flow.Timestamp(spreadLead)+1)
		return hi-lo > spreadFirst
	}
	single := func(id int) bool {
		if id < 1 || id > len(rep.Flows) || rep.Flows[id-1].ID != id {
			return false
		}
		fl := &rep.Flows[id-1]
		return fl.First >= from && fl.First <= to && lone(fl) && many(fl.First)
	}
	first, last := flow.TS(a.First), flow.TS(a.Last)
	out = slices.DeleteFunc(out, func(g Finding) bool {
		if g.Class != a.Class || g.Folded > 0 || len(g.Endpoints) != 1 || len(g.Flows) == 0 || len(g.Flows) > 2 {
			return false
		}
		if ep := g.Endpoints[0]; a.OneHost.IsValid() && ep.Addr() != a.OneHost || a.OnePort != 0 && ep.Port() != a.OnePort {
			return false // the flood's were all on another host, or port
		}
		if slices.ContainsFunc(g.Flows, func(id int) bool { return !single(id) }) {
			return false
		}
		f.Flows = append(f.Flows, g.Flows...)
		for _, id := range g.Flows {
			first, last = min(first, rep.Flows[id-1].First), max(last, rep.Flows[id-1].Last)
		}
		return true
	})
	if len(f.Flows) == 0 {
		return out
	}
	slices.Sort(f.Flows)
	f.Metrics[0] = Metric{"connections", float64(f.Connections())}
	f.Metrics[2] = Metric{"server_endpoints", float64(a.otherPeers(f))}
	f.Summary = a.otherSummary(f, last.Sub(first))
	return out
}

// otherPeers is how many server endpoints an Other aggregate's finding f
// reached: when they were too many to count one by one, the flows it
// kept went to one each.
func (a *Aggregate) otherPeers(f *Finding) int {
	if !a.Estimated {
		return a.Peers
	}
	return min(a.Peers+len(f.Flows), a.Connections+len(f.Flows))
}

// otherSummary is the paragraph of an Other aggregate's finding f, whose
// connections (those kept as flows and those folded) took span.
func (a *Aggregate) otherSummary(f *Finding, span time.Duration) string {
	total := a.Connections + len(f.Flows)
	to := a.peers()
	if n := thousands(a.otherPeers(f)); a.Estimated {
		switch {
		case a.OneHost.IsValid():
			to = fmt.Sprintf("about %s ports of %s", n, a.OneHost)
		case a.OnePort != 0:
			to = fmt.Sprintf("port %d of about %s hosts", a.OnePort, n)
		default:
			to = fmt.Sprintf("about %s endpoints", n)
		}
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%s connection attempts to %s over %s, spread over more endpoints and sources than are counted one by one, were counted together, not listed",
		thousands(total), to, fmtDur(span))
	if len(f.Flows) > 0 {
		fmt.Fprintf(&b, " (but for the first %s, one endpoint each, listed as flows before the flood was told)", thousands(len(f.Flows)))
	}
	b.WriteString(": ")
	n := thousands(f.Connections())
	switch a.Class {
	case HandshakeIncomplete:
		fmt.Fprintf(&b, "%s were answered with a SYN-ACK that the client never acknowledged (the handshakes stayed half-open)", n)
	case Refused:
		fmt.Fprintf(&b, "%s were refused (SYN answered by RST)", n)
	default:
		fmt.Fprintf(&b, "%s got no answer (no SYN-ACK, no RST)", n)
	}
	fmt.Fprintf(&b, ".%s sent %s SYNs", a.inProgress(), thousands(a.SYNs))
	if a.Retried > 0 {
		fmt.Fprintf(&b, ", %s of the connections more than once%s.", thousands(a.Retried), a.retriedBy())
	} else {
		b.WriteString(", none of them again.")
	}
	if a.flood() {
		what := "a whole network"
		if a.OneHost.IsValid() {
			what = "the ports of " + a.OneHost.String()
		}
		if a.spoofed() {
			fmt.Fprintf(&b, " So many endpoints, from sources that hardly ever send their SYN again, each of them once, are the mark of a flood of %s from spoofed sources", what)
		} else {
			fmt.Fprintf(&b, " So many endpoints, from about %s sources that each sent to many and hardly ever sent a SYN again, are the mark of a flood of %s from many hosts (a botnet) or of many scanners at once", thousands(a.Sources), what)
		}
		switch {
		case !a.OneHost.IsValid() && a.Class != Refused:
			b.WriteString(" (carpet bombing)")
		case !a.OneHost.IsValid():
			b.WriteString(" (carpet bombing), here answered by the hosts whose ports are closed")
		case a.Class == Refused:
			b.WriteString(", here answered by RST (those ports are closed)")
		}
		if a.Class == HandshakeIncomplete {
			b.WriteString(": check that SYN cookies are on (net.ipv4.tcp_syncookies) on the hosts it reaches, and filter it upstream.")
		} else {
			b.WriteString(": filter it upstream.")
		}
	}
	return b.String()
}

// retriedBy says which clients sent their SYN again, when the aggregate
// is a flood's, spread thin or not (spoofed sources do not): " (from
// 10.0.1.5 (8) and 2 more hosts: spoofed sources do not send their SYN
// again, so these are most likely real clients, and got no answer
// either)"; "" otherwise. Of a flood spread thin from sources that are
// not spoofed, they may as well be its own.
func (a *Aggregate) retriedBy() string {
	if len(a.RetriedBy) == 0 || !a.flood() {
		return ""
	}
	what := "got no answer either"
	switch a.Class {
	case Refused:
		what = "were refused too"
	case HandshakeIncomplete:
		what = "did not go on either"
	}
	n, total := 0, len(a.RetriedBy)
	for _, p := range a.RetriedBy {
		n += p.Connections
	}
	if n < a.Retried {
		total = -1 // clients past those named
	}
	s := peerList(a.RetriedBy, total, "host")
	if a.Other && !a.spoofed() {
		// The flood's sources are real hosts, whose TCP stacks (or whose
		// scanners) send a SYN again too: these may be its own.
		return fmt.Sprintf(" (from %s: real clients send their SYN again, and so may the flood's own sources, which are not spoofed)", s)
	}
	return fmt.Sprintf(" (from %s: spoofed sources do not send their SYN again, so these are most likely real clients, and %s)", s, what)
}
