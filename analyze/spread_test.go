package analyze

import (
	"fmt"
	"math/rand/v2"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/flowdoc/flowdoc/flow"
	"github.com/flowdoc/flowdoc/flow/sockets"
)

// carpet is n SYNs, one a millisecond, each from a source of its own to
// an endpoint of 10.2.0.0/16 that endpoint(i) names, never answered;
// and a clean connection at 6 s, which the capture ends with.
func carpet(n int, endpoint func(i int) string) []conv {
	var convs []conv
	for i := range n {
		convs = append(convs, conv{cport: uint16(1024 + i), client: fmt.Sprintf("198.18.%d.%d", i>>8, i&255), server: endpoint(i),
			segs: []seg{{float64(i) * 0.001, true, "S", 0, -1}}})
	}
	return append(convs, conv{cport: 40000, client: "10.0.2.1", server: "10.0.0.80:80", segs: []seg{
		{6, true, "S", 0, -1}, {6.001, false, "SA", 0, -1}, {6.002, true, "A", 0, -1},
		{6.003, true, "FA", 0, -1}, {6.004, false, "FA", 0, -1}, {6.005, true, "A", 0, -1}}})
}

// halfOpenPortsFlood analyses 3,000 SYNs from spoofed sources to random
// ports of 10.2.0.9, each answered with a SYN-ACK and never
// acknowledged (carpet).
func halfOpenPortsFlood(t *testing.T) *Report {
	t.Helper()
	const n = 3000
	rng := rand.New(rand.NewPCG(9, 10))
	convs := carpet(n, func(int) string { return fmt.Sprintf("10.2.0.9:%d", 1+rng.IntN(65535)) })
	for i := range n {
		convs[i].segs = append(convs[i].segs, seg{convs[i].segs[0].at + 0.0001, false, "SA", 0, -1})
	}
	return analyzeFile(t, craft(t, convs...))
}

// foldedFinding is the (last) finding of rep that counts folded
// connections, or nil.
func foldedFinding(rep *Report) *Finding {
	var out *Finding
	for i := range rep.Findings {
		if f := &rep.Findings[i]; f.Folded > 0 {
			out = f
		}
	}
	return out
}

// keptCase is a filter, and whether it keeps a report's one aggregate
// and its finding.
type keptCase struct {
	f    Filter
	keep bool
}

// checkKept checks what each filter keeps of rep.
func checkKept(t *testing.T, rep *Report, cases []keptCase) {
	t.Helper()
	for _, tc := range cases {
		got := rep.Filtered(tc.f)
		if (len(got.Aggregates) == 1) != tc.keep || (len(got.Findings) == 1) != tc.keep {
			t.Errorf("%+v: %d aggregates, %d findings; want kept %v", tc.f, len(got.Aggregates), len(got.Findings), tc.keep)
		}
	}
}

// TestSpreadFloodFinding: SYNs spread over a whole network from spoofed
// sources (carpet bombing) are folded together, neither by endpoint nor
// by client; their finding says so, counts them once with the flows kept
// of the same flood (its first SYNs, before it was told: one finding
// about one endpoint each, absorbed), and cites the first and last of
// them.
func TestSpreadFloodFinding(t *testing.T) {
	const n = 3000
	rng := rand.New(rand.NewPCG(5, 6))
	rep := analyzeFile(t, craft(t, carpet(n, func(int) string {
		return fmt.Sprintf("10.2.%d.%d:%d", rng.IntN(256), rng.IntN(256), 1+rng.IntN(65535))
	})...))
	if len(rep.Aggregates) != 1 || !rep.Aggregates[0].Other {
		t.Fatalf("aggregates %+v; want one, Other", rep.Aggregates)
	}
	a := rep.Aggregates[0]
	var spread *Finding
	unanswered, findings := 0, 0
	for i := range rep.Findings {
		f := &rep.Findings[i]
		if f.Class != UnansweredSYN {
			continue
		}
		findings++
		unanswered += f.Connections()
		if f.Folded > 0 {
			if spread != nil {
				t.Fatalf("two findings count folded connections: %q and %q", spread.Summary, f.Summary)
			}
			spread = f
		}
	}
	if spread == nil {
		t.Fatal("no finding counts the folded connections")
	}
	if unanswered != n || findings != 1 || spread.Folded != a.Connections || rep.Totals.Folded != a.Connections || len(spread.Flows) != n-a.Connections {
		t.Errorf("%d findings count %d connections, %d of them folded, %d listed; totals fold %d; want 1, %d, %d, %d",
			findings, unanswered, spread.Folded, len(spread.Flows), rep.Totals.Folded, n, a.Connections, n-a.Connections)
	}
	if m := spread.Metrics[2]; m.Name != "server_endpoints" || !strings.Contains(spread.Summary, " to about "+thousands(int(m.Value))+" endpoints ") {
		t.Errorf("metric %+v; summary %q: want the endpoints it says", m, spread.Summary)
	}
	for _, want := range []string{thousands(n) + " connection attempts to about", "listed as flows before the flood was told", "got no answer", "spread over more endpoints and sources", "carpet bombing"} {
		if !strings.Contains(spread.Summary, want) {
			t.Errorf("summary %q does not say %q", spread.Summary, want)
		}
	}
	if len(spread.Evidence) != 4 || spread.Evidence[0].Packet >= spread.Evidence[3].Packet || !strings.HasPrefix(spread.Evidence[3].What, "SYN from 198.18.") {
		t.Errorf("evidence %+v; want the first two and the last two SYNs folded", spread.Evidence)
	}
	if s := rep.Totals.Summary(); !strings.Contains(s, "spread over too many endpoints") {
		t.Errorf("headline %q does not say the folded were spread", s)
	}
	if got := rep.Filtered(Filter{Host: netip.MustParseAddr("10.2.3.4")}); len(got.Aggregates) != 0 {
		t.Errorf("--host 10.2.3.4 keeps %+v; its endpoints were too many to tell it was among them", got.Aggregates)
	}
}

// TestSpreadFloodFilter: an Other aggregate whose endpoints were counted
// one by one (few of them past the first thousands with aggregates of
// their own: flow's TestFoldKeysCapped makes one) is kept by --host and
// --port when they name one of its endpoints, and its finding with it.
func TestSpreadFloodFilter(t *testing.T) {
	a := Aggregate{Other: true, Class: UnansweredSYN, Connections: 400, SYNs: 400, Peers: 2, OneHost: netip.MustParseAddr("10.2.0.9"),
		TopPeers: []PeerCount{{netip.MustParseAddrPort("10.2.0.9:1017"), 300}, {netip.MustParseAddrPort("10.2.0.9:22"), 100}}}
	rep := &Report{Aggregates: []Aggregate{a}, Findings: []Finding{a.otherFinding()}}
	if f := rep.Findings[0]; !a.about(&f) || !strings.Contains(f.Summary, "10.2.0.9:1017 (300) and 10.2.0.9:22 (100)") {
		t.Fatalf("finding %+v: not the aggregate's, or does not name its endpoints", f)
	}
	checkKept(t, rep, []keptCase{
		{Filter{Host: netip.MustParseAddr("10.2.0.9")}, true},
		{Filter{Port: 1017}, true},
		{Filter{Host: netip.MustParseAddr("10.2.0.8")}, false},
		{Filter{Port: 2000}, false},
		{Filter{Classes: []Class{Refused}}, false},
	})
}

// TestKernelSpreadHalfOpen: a flood spread over the ports of this host,
// each SYN answered with a SYN-ACK (SYN cookies, or SYN_RECV sockets)
// and never acknowledged, is folded together (Other, half-open). The
// kernel's SYN_RECV sockets may be any of its endpoints: they are the
// aggregate's, not sockets no packet touched; an established socket is.
func TestKernelSpreadHalfOpen(t *testing.T) {
	rep := halfOpenPortsFlood(t)
	if len(rep.Aggregates) != 1 || !rep.Aggregates[0].Other || rep.Aggregates[0].Class != HandshakeIncomplete {
		t.Fatalf("aggregates %+v; want one, Other, half-open", rep.Aggregates)
	}
	local := netip.MustParseAddr("10.2.0.9")
	socks := []sockets.Socket{
		{Local: netip.AddrPortFrom(local, 7001), Remote: netip.MustParseAddrPort("198.51.100.1:40001"), State: flow.SynRecv},
		{Local: netip.AddrPortFrom(local, 7002), Remote: netip.MustParseAddrPort("198.51.100.2:40002"), State: flow.SynRecv},
		{Local: netip.AddrPortFrom(local, 22), Remote: netip.MustParseAddrPort("192.0.2.7:50000"), State: flow.Established},
	}
	rep.JoinKernel(socks, []netip.Addr{local}, time.Unix(0, 0), time.Second, 0)
	if len(rep.Kernel.Unseen) != 1 || rep.Kernel.Unseen[0].State != flow.Established.String() {
		t.Errorf("listed as unseen: %+v; want the established socket only", rep.Kernel.Unseen)
	}
}

// TestSpreadFloodFilterHostAndPort: --host and --port together keep an
// Other aggregate when they name one of its endpoints, not when the host
// is one endpoint's and the port another's.
func TestSpreadFloodFilterHostAndPort(t *testing.T) {
	a := Aggregate{Other: true, Class: UnansweredSYN, Connections: 400, SYNs: 400, Peers: 2,
		TopPeers: []PeerCount{{netip.MustParseAddrPort("10.2.0.9:1017"), 300}, {netip.MustParseAddrPort("10.2.0.8:22"), 100}}}
	rep := &Report{Aggregates: []Aggregate{a}, Findings: []Finding{a.otherFinding()}}
	checkKept(t, rep, []keptCase{
		{Filter{Host: netip.MustParseAddr("10.2.0.9"), Port: 1017}, true},
		{Filter{Host: netip.MustParseAddr("10.2.0.8"), Port: 22}, true},
		{Filter{Host: netip.MustParseAddr("10.2.0.9"), Port: 22}, false},
		{Filter{Host: netip.MustParseAddr("10.2.0.8"), Port: 1017}, false},
	})
}

// TestKernelSpreadHalfOpenOneHost: a flood spread over the ports of one
// address of this host, folded together (Other, half-open, too many
// endpoints to count one by one). A SYN_RECV socket at another of its
// addresses is none of the flood's: no packet touched it.
func TestKernelSpreadHalfOpenOneHost(t *testing.T) {
	rep := halfOpenPortsFlood(t)
	if len(rep.Aggregates) != 1 || !rep.Aggregates[0].Other || !rep.Aggregates[0].Estimated || rep.Aggregates[0].OneHost != netip.MustParseAddr("10.2.0.9") {
		t.Fatalf("aggregates %+v; want one, Other, its endpoints estimated, all on 10.2.0.9", rep.Aggregates)
	}
	flooded, other := netip.MustParseAddr("10.2.0.9"), netip.MustParseAddr("10.2.0.10")
	socks := []sockets.Socket{
		{Local: netip.AddrPortFrom(flooded, 7001), Remote: netip.MustParseAddrPort("198.51.100.1:40001"), State: flow.SynRecv},
		{Local: netip.AddrPortFrom(other, 7002), Remote: netip.MustParseAddrPort("198.51.100.2:40002"), State: flow.SynRecv},
	}
	rep.JoinKernel(socks, []netip.Addr{flooded, other}, time.Unix(0, 0), time.Second, 0)
	if u := rep.Kernel.Unseen; len(u) != 1 || u[0].State != flow.SynRecv.String() || u[0].Count != 1 || u[0].Peer.Addr() != socks[1].Remote.Addr() {
		t.Errorf("listed as unseen: %+v; want the SYN_RECV socket at %v only", rep.Kernel.Unseen, other)
	}
}

// TestOtherFewEndpointsNoCarpet: an Other aggregate of two endpoints,
// counted one by one (floods of endpoints past the first thousands with
// aggregates of their own), is no flood of a whole network, whatever
// its sources did: its finding does not call it one, and half-open it
// is a warning.
func TestOtherFewEndpointsNoCarpet(t *testing.T) {
	for _, class := range []Class{UnansweredSYN, HandshakeIncomplete} {
		a := Aggregate{Other: true, Class: class, Connections: 400, SYNs: 400, Peers: 2, OneHost: netip.MustParseAddr("10.2.0.9"),
			TopPeers: []PeerCount{{netip.MustParseAddrPort("10.2.0.9:1017"), 300}, {netip.MustParseAddrPort("10.2.0.9:22"), 100}}}
		if class == HandshakeIncomplete {
			a.SYNACKs = 400
		}
		f := a.otherFinding()
		if strings.Contains(f.Summary, "carpet bombing") || class == HandshakeIncomplete && f.Severity != Warning {
			t.Errorf("%s: %s: %q; want no carpet bombing of two endpoints", class, f.Severity, f.Summary)
		}
	}
}

// TestFloodNamesRetriedClients: real clients whose SYNs to a flooded
// endpoint got no answer, sent again as spoofed sources never do, are
// folded with the flood; its finding names them, with the flood's remedy,
// and --host keeps it for one of them.
func TestFloodNamesRetriedClients(t *testing.T) {
	var convs []conv
	for i := range 1500 {
		convs = append(convs, conv{cport: uint16(1024 + i), client: fmt.Sprintf("198.18.%d.%d", i>>8, i&255), server: "10.0.0.80:80",
			segs: []seg{{float64(i) * 0.002, true, "S", 0, -1}}})
	}
	for i := range 5 {
		at := 0.5 + float64(i)*0.05
		convs = append(convs, conv{cport: uint16(50000 + i), client: fmt.Sprintf("10.0.3.%d", 1+i), server: "10.0.0.80:80",
			segs: []seg{{at, true, "S", 0, -1}, {at + 1, true, "S", 0, -1}, {at + 3, true, "S", 0, -1}}})
	}
	rep := analyzeFile(t, craft(t, convs...))
	flood := foldedFinding(rep)
	if flood == nil {
		t.Fatalf("no finding counts the folded: %+v", rep.Findings)
	}
	if !strings.Contains(flood.Summary, "5 of the connections more than once (from 10.0.3.1 (1), 10.0.3.2 (1), 10.0.3.3 (1) and 2 more hosts: ") ||
		!strings.Contains(flood.Remedy, "SYN cookies") {
		t.Errorf("finding %q, remedy %q: want the retrying clients named, and the flood's remedy", flood.Summary, flood.Remedy)
	}
	got := rep.Filtered(Filter{Host: netip.MustParseAddr("10.0.3.4")})
	if len(got.Aggregates) != 1 || !slices.ContainsFunc(got.Findings, func(f Finding) bool { return f.Folded > 0 }) {
		t.Errorf("--host 10.0.3.4: %d aggregates, findings %+v; want the flood's", len(got.Aggregates), got.Findings)
	}
}

// TestSpreadFloodKeepsOtherRefusals: a flood of the closed ports of
// 10.2.0.9 from spoofed sources comes in two waves a minute apart, 3,000
// SYNs each, each SYN refused. Its finding takes in the first SYNs of
// each wave, listed before the wave was told, but not the refusals of
// real clients by services that are down: one of 10.2.0.9 between the
// waves, one of another host among the first wave's first SYNs. Those
// have findings of their own.
func TestSpreadFloodKeepsOtherRefusals(t *testing.T) {
	const n = 3000
	rng := rand.New(rand.NewPCG(13, 14))
	var convs []conv
	for w, start := range []float64{0, 60} {
		for i := range n {
			at := start + float64(i)*0.001
			convs = append(convs, conv{cport: uint16(1024 + i), client: fmt.Sprintf("198.%d.%d.%d", 18+w, i>>8, i&255),
				server: fmt.Sprintf("10.2.0.9:%d", 1+rng.IntN(65535)), segs: []seg{{at, true, "S", 0, -1}, {at + 0.0001, false, "RA", 0, -1}}})
		}
	}
	dead := []string{"10.2.0.9:5432", "10.0.0.6:6379"}
	convs = append(convs, conv{cport: 40000, client: "10.0.5.5", server: dead[0], segs: []seg{{30, true, "S", 0, -1}, {30.0002, false, "RA", 0, -1}}},
		conv{cport: 40001, client: "10.0.5.6", server: dead[1], segs: []seg{{0.2, true, "S", 0, -1}, {0.2002, false, "RA", 0, -1}}})
	rep := analyzeFile(t, craft(t, convs...))
	if len(rep.Aggregates) != 1 || !rep.Aggregates[0].Other || rep.Aggregates[0].Class != Refused {
		t.Fatalf("aggregates %+v; want one, Other, refused", rep.Aggregates)
	}
	var flood *Finding
	refused, kept := 0, 0
	for i := range rep.Findings {
		f := &rep.Findings[i]
		if f.Class != Refused {
			continue
		}
		refused++
		if f.Folded > 0 {
			flood = f
		}
		if len(f.Endpoints) == 1 && slices.Contains(dead, f.Endpoints[0].String()) && f.Folded == 0 && len(f.Flows) == 1 {
			kept++
		}
	}
	if flood == nil {
		t.Fatalf("no finding counts the folded: %d refused findings", refused)
	}
	if refused != 3 || kept != 2 || flood.Connections() != 2*n {
		t.Errorf("%d refused findings, %d of them the dead services' own, the flood's of %d connections (%d listed); want 3, 2, %d",
			refused, kept, flood.Connections(), len(flood.Flows), 2*n)
	}
}

// TestSpreadFloodNamesRetriedClients: real clients folded with a flood
// spread over a whole network, that sent their SYNs again as spoofed
// sources never do, are named by its finding as by an endpoint's flood,
// and --host keeps the aggregate and its finding for one of them.
func TestSpreadFloodNamesRetriedClients(t *testing.T) {
	client := netip.MustParseAddr("10.0.3.1")
	a := Aggregate{Other: true, Class: UnansweredSYN, Connections: 5000, SYNs: 5002, Retried: 2, Peers: 4900, Estimated: true,
		RetriedBy: []PeerCount{{netip.AddrPortFrom(client, 0), 2}}}
	f := a.otherFinding()
	if !strings.Contains(f.Summary, "2 of the connections more than once (from 10.0.3.1 (2): ") {
		t.Errorf("summary %q does not name the client that sent its SYNs again", f.Summary)
	}
	rep := &Report{Aggregates: []Aggregate{a}, Findings: []Finding{f}}
	if got := rep.Filtered(Filter{Host: client}); len(got.Aggregates) != 1 || len(got.Findings) != 1 {
		t.Errorf("--host %v: %d aggregates, %d findings; want the flood's", client, len(got.Aggregates), len(got.Findings))
	}
	if got := rep.Filtered(Filter{Host: netip.MustParseAddr("10.0.3.2")}); len(got.Aggregates) != 0 || len(got.Findings) != 0 {
		t.Errorf("--host 10.0.3.2: %d aggregates, %d findings; want none", len(got.Aggregates), len(got.Findings))
	}
}

// TestRefusedFloodRemedy: a flood of spoofed SYNs to a closed port, each
// refused by RST, is a flood, and its remedy is to filter it: the host
// keeps no state for a closed port's SYNs, so its SYN cookies and its
// SYN queue have nothing to do with it.
func TestRefusedFloodRemedy(t *testing.T) {
	var convs []conv
	for i := range 1500 {
		at := float64(i) * 0.002
		convs = append(convs, conv{cport: uint16(1024 + i), client: fmt.Sprintf("198.18.%d.%d", i>>8, i&255), server: "10.0.0.80:80",
			segs: []seg{{at, true, "S", 0, -1}, {at + 0.0001, false, "RA", 0, -1}}})
	}
	rep := analyzeFile(t, craft(t, convs...))
	flood := foldedFinding(rep)
	if flood == nil || flood.Class != Refused || !strings.Contains(flood.Summary, "SYN flood with spoofed addresses") {
		t.Fatalf("findings %+v; want a refused flood's", rep.Findings)
	}
	for _, s := range []string{flood.Remedy, flood.Summary} {
		if strings.Contains(s, "SYN cookies") || strings.Contains(s, "syn_backlog") || !strings.Contains(s, "upstream") {
			t.Errorf("%q: want the flood filtered upstream, and no word of SYN cookies or of the SYN queue", s)
		}
	}
}

// TestListenOverflowFloodHedged: a server that accepted a real client's
// connection while a flood of spoofed SYNs to it got no answer dropped
// them before answering: its SYN queue, full, most likely, but a
// firewall or a full connection-tracking table drop SYNs under a flood
// as well, and the capture tells none of them apart. The finding says
// so as a likelihood, not as a fact.
func TestListenOverflowFloodHedged(t *testing.T) {
	var convs []conv
	for i := range 1500 {
		convs = append(convs, conv{cport: uint16(1024 + i), client: fmt.Sprintf("198.18.%d.%d", i>>8, i&255), server: "10.0.0.80:80",
			segs: []seg{{float64(i) * 0.002, true, "S", 0, -1}}})
	}
	convs = append(convs, conv{cport: 40000, client: "10.0.2.1", server: "10.0.0.80:80", segs: join(open(1.5), exchange(1.6, 100, 200))})
	rep := analyzeFile(t, craft(t, convs...))
	flood := foldedFinding(rep)
	if flood == nil || flood.Class != ListenOverflow || !strings.Contains(flood.Summary, "SYN flood with spoofed addresses") {
		t.Fatalf("findings %+v; want a listen_overflow flood's", rep.Findings)
	}
	if strings.Contains(flood.Summary, "meanwhile: its listen queue was full") || !strings.Contains(flood.Summary, "most likely") {
		t.Errorf("summary %q: want the full queue told as most likely, not as a fact", flood.Summary)
	}
}

// TestSpreadFloodFromManyHosts: 60,000 SYNs spread over a /16 in 6 s
// from 1,500 hosts, 40 each, never answered: not spoofed (the sources
// come back), but too many to keep one by one, so folded together. The
// finding counts the sources and does not call them spoofed.
func TestSpreadFloodFromManyHosts(t *testing.T) {
	rng := rand.New(rand.NewPCG(13, 14))
	const sources, each = 1500, 40
	var convs []conv
	for i := range sources * each {
		s := i % sources
		convs = append(convs, conv{cport: uint16(1024 + i/sources), client: fmt.Sprintf("203.0.%d.%d", s>>8, s&255),
			server: fmt.Sprintf("10.2.%d.%d:%d", rng.IntN(256), rng.IntN(256), 1+rng.IntN(65535)),
			segs:   []seg{{float64(i) * 0.0001, true, "S", 0, -1}}})
	}
	rep := analyzeFile(t, craft(t, convs...))
	if len(rep.Aggregates) != 1 || !rep.Aggregates[0].Other {
		t.Fatalf("aggregates %+v; want one, Other", rep.Aggregates)
	}
	a := rep.Aggregates[0]
	if a.Sources < sources*9/10 || a.Sources > sources*11/10 {
		t.Errorf("%d sources; want about %d", a.Sources, sources)
	}
	folded := 0
	for _, f := range rep.Findings {
		if f.Folded == 0 {
			continue
		}
		folded++
		if strings.Contains(f.Summary, "spoofed") || !strings.Contains(f.Summary, "from many hosts (a botnet) or of many scanners") {
			t.Errorf("finding %q: want the sources counted, not called spoofed", f.Summary)
		}
	}
	if folded != 1 {
		t.Errorf("%d findings count the folded; want one", folded)
	}
}

// TestSpreadFloodInProgress: of 5,000 connections of a flood spread over
// a whole network, 1,000 were sent less than the initial RTO before the
// end: in progress, not yet failures. The finding tells them first, and
// the SYNs it counts, theirs included, are not said to be the counted
// ones'.
func TestSpreadFloodInProgress(t *testing.T) {
	a := Aggregate{Other: true, Class: UnansweredSYN, Connections: 5000, InProgress: 1000, SYNs: 5000, Peers: 4900, Estimated: true, Sources: 5000}
	f := a.otherFinding()
	for _, want := range []string{"4,000 got no answer (no SYN-ACK, no RST). 1,000 more, sent within the initial retransmission timeout before the end, are in progress",
		"These and the counted ones sent 5,000 SYNs"} {
		if !strings.Contains(f.Summary, want) {
			t.Errorf("summary %q does not say %q", f.Summary, want)
		}
	}
	if strings.Contains(f.Summary, "The counted ones sent") {
		t.Errorf("summary %q says the 4,000 counted sent the SYNs of all 5,000", f.Summary)
	}
}

// TestSpreadFloodFromManyHostsRetried: a flood spread thin from 1,500
// hosts that came back, 40 SYNs each, is not called spoofed; the clients
// that sent their SYNs again may be its own hosts (real ones, with a TCP
// stack that retries, or scanners sending their probes again), so the
// finding names them without calling them real clients the flood hurt.
func TestSpreadFloodFromManyHostsRetried(t *testing.T) {
	a := Aggregate{Other: true, Class: UnansweredSYN, Connections: 60000, SYNs: 60002, Retried: 2, Peers: 59000, Estimated: true, Sources: 1500,
		RetriedBy: []PeerCount{{netip.MustParseAddrPort("203.0.0.7:0"), 2}}}
	f := a.otherFinding()
	if !strings.Contains(f.Summary, "2 of the connections more than once (from 203.0.0.7 (2)") || !strings.Contains(f.Summary, "from many hosts (a botnet)") {
		t.Fatalf("summary %q: want the client named, and the flood's sources not called spoofed", f.Summary)
	}
	if strings.Contains(f.Summary, "spoofed sources do not send their SYN again") || strings.Contains(f.Summary, "most likely real clients") {
		t.Errorf("summary %q: the flood's own sources are real hosts here, and may be those that sent their SYNs again", f.Summary)
	}
}
