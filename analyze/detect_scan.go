package analyze

import (
	"cmp"
	"fmt"
	"net/netip"
	"slices"
	"strings"

	"github.com/flowdoc/flowdoc/flow"
	"github.com/flowdoc/flowdoc/flow/packet"
)

// Port scan: one client address probing many endpoints, each about once,
// with no conversation on any of them. Its probes are not outages: the
// refused, unanswered and reset verdicts they would have had are this
// class's instead, and the scanner is one finding, not one per port.
var portScanDetector = detector{
	class: PortScan,
	explain: Explanation{
		Class: PortScan, Title: "Port scan",
		Meaning: "One host tried many ports or addresses, each about once, and never talked on any of them: it " +
			"probed which were open. The ports that answered with RST are closed, those that answered with a " +
			"SYN-ACK are open, those that did not answer are filtered (or nothing is there).",
		Detection: "A client address whose probes (a SYN and no payload either way: refused, unanswered, or " +
			"answered and then reset or closed by the client at once) reached at least 20 distinct server " +
			"endpoints, no more than four times each on average, most of them refused or unanswered. Connections " +
			"folded as a scan (many unanswered or refused SYNs from one source) count too. The probes of a SYN scan " +
			"(nmap -sS) are reset by the prober right after the SYN-ACK; those of a connect scan (nmap -sT) " +
			"complete the handshake first.",
		Causes: "A security or inventory scanner (nmap, masscan, a vulnerability scanner), an attacker mapping " +
			"the network, or a client walking a list of addresses. A health checker probing many backends, half " +
			"of them down, looks the same in a capture shorter than its interval.",
		Confirm: "Who owns the source address (the inventory, the DHCP leases); whether the scan was scheduled. " +
			"On the scanned host: the firewall's log of the source.",
		Fix: "If the scan is not yours, find the host and block it at the firewall; either way, close the open " +
			"ports that should not be reachable from there.",
	},
	inspect: inspectProbe,
	group: func(f *Flow, _ *Verdict) (groupKey, bool) {
		return groupKey{host: f.Key.Client().Addr()}, true
	},
	findings: func(g *group, fx *findCtx) []Finding {
		st := scanStats{client: g.key.host, aggs: scanAggregates(fx.rep, g.key.host)}
		for _, f := range g.flows {
			st.add(f.Record)
		}
		return []Finding{st.finding(ids(g.flows))}
	},
}

// scanRemedy is what to do about a scan.
const scanRemedy = "If the scan is not yours (an inventory or a vulnerability scanner), find the host and block it; " +
	"either way, the destinations that answered are the ones it found open."

// A probe is a connection with no conversation, by what its server did.
type probe uint8

const (
	notProbe probe = iota
	probeClosed
	probeFiltered
	probeOpen
)

// probeOf says whether a flow was a probe, and what it found: the
// client sent a SYN, and neither side any payload; the server answered
// with RST (closed), not at all (filtered), or with a SYN-ACK after which
// the client reset or closed the connection (open). An answered
// connection still open at the end is no probe: it may yet talk.
func probeOf(r *flow.Record) probe {
	if r.Midstream || r.RolesInferred || r.OneSided || r.Client.Bytes != 0 || r.Server.Bytes != 0 || !has(r, flow.Client, 'S') {
		return notProbe
	}
	switch {
	case r.Server.Packets == 0:
		return probeFiltered
	case !has(r, flow.Server, 'H'):
		if r.Server.RSTs > 0 {
			return probeClosed
		}
	case r.Client.RSTs > 0 || r.Client.FinPacket > 0:
		return probeOpen
	}
	return notProbe
}

// scanner is what the capture shows of one scanning address.
type scanner struct {
	confidence float64
}

// Scans are told from the probes of each client address: at least
// scanMinEndpoints distinct endpoints, probed no more than scanRepeat
// times each on average (a scanner sends a probe again a few times when
// it gets no answer, nmap from another port; a monitor checking its
// services comes back to them at every interval), and most of them
// refused or unanswered (a client of many healthy services is answered).
const (
	scanMinEndpoints = 20
	scanRepeat       = 4
)

// probeCount is one address's probes while the scanners are found.
type probeCount struct {
	probes, answered int
	endpoints        map[netip.AddrPort]struct{}
	// folded counts its folded connections, and foldedPeers the
	// endpoints of its largest aggregate.
	folded, foldedPeers int
}

// maxProbeEndpoints bounds the distinct endpoints remembered per
// address; its probes past them are not counted.
const maxProbeEndpoints = 1 << 14

// findScanners returns the scanning addresses of the capture: those
// whose probes show a scan, and those whose SYNs were folded as one.
func findScanners(recs []*flow.Record, aggs []flow.Aggregate) map[netip.Addr]*scanner {
	counts := map[netip.Addr]*probeCount{}
	of := func(a netip.Addr) *probeCount {
		c := counts[a]
		if c == nil {
			c = &probeCount{endpoints: map[netip.AddrPort]struct{}{}}
			counts[a] = c
		}
		return c
	}
	for _, r := range recs {
		p := probeOf(r)
		if p == notProbe {
			continue
		}
		c := of(r.Key.Client().Addr())
		if len(c.endpoints) == maxProbeEndpoints {
			continue // the ratios are those of the first probes
		}
		c.probes++
		if p == probeOpen {
			c.answered++
		}
		c.endpoints[r.Key.Server()] = struct{}{}
	}
	// The folded connections of a client's aggregates are probes too.
	for _, a := range aggs {
		if !a.Client.IsValid() {
			continue
		}
		c := of(a.Client)
		c.folded += a.Connections
		c.foldedPeers = max(c.foldedPeers, a.Peers)
		if a.HalfOpen {
			c.answered += a.Connections
		}
	}
	out := map[netip.Addr]*scanner{}
	for a, c := range counts {
		n := max(len(c.endpoints), c.foldedPeers)
		probes := c.probes + c.folded
		if n >= scanMinEndpoints && probes <= scanRepeat*n && 2*c.answered < probes {
			out[a] = &scanner{confidence: scanConfidence(n)}
		}
	}
	return out
}

// scanConfidence grows with the endpoints probed: 20 could be a client
// with a list; thousands are a scan.
func scanConfidence(endpoints int) float64 {
	switch {
	case endpoints >= 1000:
		return 0.95
	case endpoints >= 100:
		return 0.9
	case endpoints >= 50:
		return 0.8
	}
	return 0.7
}

var probeSummary = [...]string{
	probeClosed:   "a probe of a port scan: the port is closed (RST)",
	probeFiltered: "a probe of a port scan: no answer (filtered, or nothing there)",
	probeOpen:     "a probe of a port scan: the port is open (SYN-ACK), and the prober closed at once",
}

func inspectProbe(c *flowCtx) {
	r := c.r
	if len(c.cap.scanners) == 0 {
		return // most captures: nothing to look up
	}
	p := probeOf(r)
	if p == notProbe {
		return
	}
	sc := c.cap.scanners[r.Key.Client().Addr()]
	if sc == nil {
		return
	}
	v := Verdict{Class: PortScan, Side: flow.Client, Severity: Warning, Confidence: sc.confidence, Summary: probeSummary[p]}
	if syn := firstSYN(r); syn != nil {
		v.Since = syn.At
		v.Evidence = append(v.Evidence, ev(syn, "SYN from client"))
	}
	if ans := firstEvent(r, func(e *flow.Event) bool {
		return e.From == flow.Server && (e.Flags.Has(packet.RST) || e.Flags.Has(packet.SYN|packet.ACK))
	}); ans != nil {
		what := "RST from server"
		if ans.Flags.Has(packet.SYN) {
			what = "SYN-ACK from server"
		}
		v.Evidence = append(v.Evidence, ev(ans, what))
	}
	c.add(v)
}

// scanStats is what a scanner's finding says: its kept probes, and its
// folded SYNs.
type scanStats struct {
	client                 netip.Addr
	closed, filtered, open int
	synScan, connectScan   int // open probes reset before, or after, the client's ACK
	endpoints              map[netip.AddrPort]struct{}
	// host and port are those of the first endpoint probed; manyHosts and
	// manyPorts are set once another had another.
	host                 netip.Addr
	port                 uint16
	manyHosts, manyPorts bool
	found                []netip.AddrPort // the open endpoints, each as often as found
	first, last          flow.Timestamp
	evidence             []Evidence
	aggs                 []*Aggregate // the folded, if any
}

func (st *scanStats) add(r *flow.Record) {
	p := probeOf(r)
	if st.endpoints == nil {
		st.endpoints = map[netip.AddrPort]struct{}{}
	}
	srv := r.Key.Server()
	st.endpoints[srv] = struct{}{}
	st.seeHost(srv.Addr())
	st.seePort(srv.Port())
	if st.first == 0 || r.First < st.first {
		st.first = r.First
	}
	st.last = max(st.last, r.First)
	switch p {
	case probeClosed:
		st.closed++
	case probeFiltered:
		st.filtered++
	case probeOpen:
		st.open++
		if has(r, flow.Client, 'A') {
			st.connectScan++
		} else {
			st.synScan++
		}
		st.found = append(st.found, srv)
	}
	if len(st.evidence) < 2 && p != notProbe {
		if syn := firstSYN(r); syn != nil && (len(st.evidence) == 0 || p == probeOpen) {
			what := "SYN from " + st.client.String() + " to " + srv.String()
			if p == probeOpen {
				what += ", found open"
			}
			st.evidence = append(st.evidence, ev(syn, what))
		}
	}
}

// seeHost and seePort note a host, or a port, probed.
func (st *scanStats) seeHost(h netip.Addr) {
	if !st.host.IsValid() {
		st.host = h
	}
	st.manyHosts = st.manyHosts || h != st.host
}

func (st *scanStats) seePort(p uint16) {
	if st.port == 0 {
		st.port = p
	}
	st.manyPorts = st.manyPorts || p != st.port
}

// scanAggregates returns the aggregates of the scanner's folded SYNs:
// those refused, those unanswered.
func scanAggregates(rep *Report, client netip.Addr) []*Aggregate {
	var out []*Aggregate
	for i := range rep.Aggregates {
		if a := &rep.Aggregates[i]; a.Scan() && a.Client == client {
			out = append(out, a)
		}
	}
	return out
}

// finding is the scanner's finding: one per scanning address.
func (st *scanStats) finding(flows []int) Finding {
	f := Finding{Class: PortScan, Severity: Warning, Hosts: []netip.Addr{st.client}, Flows: flows, Remedy: scanRemedy,
		Evidence: st.evidence}
	first, last := st.first.Time(), st.last.Time()
	endpoints := len(st.endpoints)
	filtered := st.filtered
	foldedPeers := 0
	closed, open := st.closed, st.open
	for _, a := range st.aggs {
		// Every folded SYN was a probe, those sent just before the end
		// too.
		f.Folded += a.Connections
		switch {
		case a.RSTs > 0:
			closed += a.Connections
		case a.SYNACKs > 0: // half-open: the port answered, the scanner never went on
			open += a.Connections
		default:
			filtered += a.Connections
		}
		foldedPeers += a.Peers
		if a.OneHost.IsValid() {
			st.seeHost(a.OneHost)
		} else {
			st.manyHosts = true
		}
		if a.OnePort != 0 {
			st.seePort(a.OnePort)
		} else {
			st.manyPorts = true
		}
		if first.IsZero() || a.First.Before(first) {
			first = a.First
		}
		if a.Last.After(last) {
			last = a.Last
		}
		if n := len(a.Examples); n > 0 && len(f.Evidence) < maxEvidence {
			f.Evidence = append(f.Evidence, a.Examples[n-1])
		}
	}
	// The folded aggregates' examples, cited after the kept flows', in
	// the order of the capture.
	folded := f.Evidence[min(len(st.evidence), len(f.Evidence)):]
	slices.SortFunc(folded, func(x, y Evidence) int { return cmp.Or(x.Input-y.Input, x.Packet-y.Packet) })
	// The folded were counted apart from the kept (and the refused apart
	// from the unanswered, each an estimate within a percent or two past
	// 64): their sum is the estimate, high by the endpoints probed both
	// ways (a probe sent again from another port, as nmap does).
	if foldedPeers > 0 {
		endpoints = min(endpoints+foldedPeers, f.Connections())
	}
	f.Metrics = []Metric{{"connections", float64(f.Connections())}, {"server_endpoints", float64(endpoints)},
		{"closed", float64(closed)}, {"open", float64(open)}, {"unanswered", float64(filtered)}}
	if f.Folded > 0 {
		f.Metrics = append(f.Metrics, Metric{"folded", float64(f.Folded)})
	}
	var b strings.Builder
	if len(st.aggs) > 0 {
		fmt.Fprintf(&b, "%s probed about %s", st.client, many(endpoints, "endpoint"))
	} else {
		fmt.Fprintf(&b, "%s probed %s", st.client, many(endpoints, "endpoint"))
	}
	switch {
	case !st.manyHosts && st.host.IsValid():
		fmt.Fprintf(&b, " (ports on %s)", st.host)
	case !st.manyPorts && st.port != 0:
		fmt.Fprintf(&b, " (port %d on as many hosts)", st.port)
	}
	fmt.Fprintf(&b, " over %s, with %s and no conversation on any, of which %s were refused (RST: closed ports), %s answered (open ports) and %s not answered (filtered, or nothing there; a scanner may send those again)",
		fmtDur(last.Sub(first)), many(f.Connections(), "connection attempt"), thousands(closed), thousands(open), thousands(filtered))
	if f.Folded > 0 {
		what := "closed and unanswered"
		if open > st.open {
			what = "probes"
		}
		fmt.Fprintf(&b, "; %s of the %s were counted, not listed", thousands(f.Folded), what)
	}
	b.WriteString(".")
	slices.SortFunc(st.found, netip.AddrPort.Compare)
	st.found = slices.Compact(st.found)
	if len(st.found) > 0 {
		names := make([]string, 0, 10)
		for i, e := range st.found {
			if i == 10 {
				names = append(names, fmt.Sprintf("and %d more", len(st.found)-10))
				break
			}
			names = append(names, e.String())
		}
		fmt.Fprintf(&b, " Found open: %s.", strings.Join(names, ", "))
	}
	switch {
	case st.synScan > 0 && st.connectScan == 0:
		b.WriteString(" The prober reset each answered connection before acknowledging the SYN-ACK: a half-open SYN scan (as nmap -sS, masscan and hping3 make).")
		if filtered > 0 {
			// Its kernel reset the answers: the SYNs were sent raw.
			fmt.Fprintf(&b, " It holds no socket for its probes: any SYN_SENT endpoints counted on %s are its unanswered SYNs, not sockets.", st.client)
		}
	case st.connectScan > 0 && st.synScan == 0:
		b.WriteString(" The prober completed each answered handshake and closed at once: a connect scan (as nmap -sT makes).")
	}
	b.WriteString(" One source trying many destinations once each is a scan (or a misconfigured client walking a list of addresses); its probes are not outages, and are not reported one by one.")
	f.Summary = b.String()
	return f
}
