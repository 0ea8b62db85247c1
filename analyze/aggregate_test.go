package analyze

import (
	"net/netip"
	"slices"
	"strings"
	"testing"

	"github.com/flowdoc/flowdoc/flow"
)

// TestFoldedFindings: on a capture where two servers leave thousands of
// SYNs unanswered and a host scans 600 endpoints
// (testdata/flood/syn-flood.pcap, see flow's floodCapture), each
// server's finding counts its flows and its folded connections as one,
// says which are folded and why, and cites packets of both; the scan is
// one finding about the scanner; the headline and the host table count
// the folded too.
func TestFoldedFindings(t *testing.T) {
	rep := analyzeFile(t, "../testdata/flood/syn-flood.pcap")
	web, dark := netip.MustParseAddrPort("10.0.0.80:80"), netip.MustParseAddrPort("10.0.0.81:443")
	if len(rep.Aggregates) != 4 {
		t.Fatalf("%d aggregates, want 4", len(rep.Aggregates))
	}
	scanner := netip.MustParseAddr("10.0.9.9")
	var scan *Finding
	for i := range rep.Findings {
		f := &rep.Findings[i]
		for _, id := range f.Flows {
			if rep.Flows[id-1].Key.Client().Addr() == scanner && (len(f.Hosts) != 1 || f.Hosts[0] != scanner) {
				t.Errorf("the scanner's flow %d is in a finding about %v %v: %s", id, f.Hosts, f.Endpoints, f.Summary)
			}
		}
		if len(f.Hosts) == 1 && f.Hosts[0] == scanner {
			scan = f
		}
	}
	if scan == nil || scan.Connections() != 600 || scan.Folded != 500 || !strings.Contains(scan.Summary, "is a scan") || scan.Remedy != scanRemedy {
		t.Errorf("the scan's finding: %+v; want 600 connections, 500 folded, called a scan", scan)
	}
	found := map[netip.AddrPort]*Finding{}
	for i := range rep.Findings {
		f := &rep.Findings[i]
		if len(f.Endpoints) == 1 && (f.Endpoints[0] == web || f.Endpoints[0] == dark) {
			if found[f.Endpoints[0]] != nil {
				t.Errorf("two findings about %s: %s and %s", f.Endpoints[0], found[f.Endpoints[0]].Class, f.Class)
			}
			found[f.Endpoints[0]] = f
		}
	}
	cookies := netip.MustParseAddrPort("10.0.0.82:8443")
	for _, a := range rep.Aggregates {
		if a.Scan() || a.Server == cookies {
			continue
		}
		f := found[a.Server]
		if f == nil {
			t.Fatalf("no finding about %s", a.Server)
		}
		// The server accepted other connections meanwhile (the 20 web
		// clients; the two answered late): its listen queue.
		if f.Class != ListenOverflow || a.Class != ListenOverflow {
			t.Errorf("%s: finding %s, aggregate %s; want listen_overflow", a.Server, f.Class, a.Class)
		}
		if f.Folded != a.Unanswered() || len(f.Flows) == 0 || f.Connections() != len(f.Flows)+a.Unanswered() {
			t.Errorf("%s: %d flows and %d folded; want the flows kept and the aggregate's %d unanswered", a.Server, len(f.Flows), f.Folded, a.Unanswered())
		}
		var folded, kept bool
		for _, e := range f.Evidence {
			folded = folded || strings.HasPrefix(e.What, "SYN from ") && e.What != "SYN from client"
			kept = kept || e.What == "SYN from client"
		}
		if !folded || !kept || len(f.Evidence) > maxEvidence {
			t.Errorf("%s: evidence %v; want packets of the flows and of the folded", a.Server, f.Evidence)
		}
	}
	w := found[web]
	for _, s := range []string{"counted, not listed", "about ", "SYN flood with spoofed addresses", "in progress"} {
		if !strings.Contains(w.Summary, s) {
			t.Errorf("%s: %q does not say %q", web, w.Summary, s)
		}
	}
	// Its clients include those of the handshakes in progress, which the
	// connections do not: the metrics count both.
	m := map[string]float64{}
	for _, x := range w.Metrics {
		m[x.Name] = x.Value
	}
	if m["in_progress"] == 0 || m["client_hosts"] > m["connections"]+m["in_progress"] {
		t.Errorf("%s: metrics %v; want the handshakes in progress counted, and no more clients than connections", web, w.Metrics)
	}
	d := found[dark]
	for _, s := range []string{"10.0.1.1 (75)", "more than once", "accept() fast enough"} {
		if !strings.Contains(d.Summary, s) {
			t.Errorf("%s: %q does not say %q", dark, d.Summary, s)
		}
	}
	if strings.Contains(d.Summary, "SYN flood") {
		t.Errorf("%s: 4 clients that retry are no SYN flood: %q", dark, d.Summary)
	}
	// The flood answered with SYN cookies: the handshakes never
	// completed, kept and folded in one finding that says so; a flood
	// is an error.
	var half *Finding
	for i := range rep.Findings {
		if f := &rep.Findings[i]; len(f.Endpoints) == 1 && f.Endpoints[0] == cookies {
			half = f
		}
	}
	if half == nil || half.Class != HandshakeIncomplete || half.Severity != Error || half.Folded != 299 || len(half.Flows) < 90 {
		t.Fatalf("the cookie flood's finding: %+v", half)
	}
	for _, s := range []string{"never acknowledged", "SYN cookies", "SYN flood with spoofed addresses"} {
		if !strings.Contains(half.Summary, s) {
			t.Errorf("%s: %q does not say %q", cookies, half.Summary, s)
		}
	}
	if f := &rep.Flows[half.Flows[0]-1]; verdictOf(f, HandshakeIncomplete) == nil {
		t.Errorf("flow %d, kept of the cookie flood, has verdicts %v", f.ID, f.Verdicts)
	}
	if !strings.Contains(rep.Totals.Summary(), "counted per server endpoint") || rep.Totals.Folded != rep.Aggregates[0].Connections+rep.Aggregates[1].Connections+rep.Aggregates[2].Connections+rep.Aggregates[3].Connections {
		t.Errorf("headline %q, %d folded", rep.Totals.Summary(), rep.Totals.Folded)
	}
	for _, h := range rep.Hosts {
		if h.Host == web.Addr() && h.Total != 1520 {
			t.Errorf("%s counts %d connections, want 1,520 (20 clients and 1,500 SYNs)", h.Host, h.Total)
		}
	}
}

// TestFilteredAggregates: --host and --port keep the aggregates about
// that host and port, and their findings, and count only them.
func TestFilteredAggregates(t *testing.T) {
	rep := analyzeFile(t, "../testdata/flood/syn-flood.pcap")
	for _, c := range []struct {
		filter Filter
		want   []string // the aggregates kept, by server or client
	}{
		{Filter{Host: netip.MustParseAddr("10.0.0.81")}, []string{"10.0.0.81:443"}},
		{Filter{Port: 8443}, []string{"10.0.0.82:8443"}},
		{Filter{Host: netip.MustParseAddr("10.0.9.9")}, []string{"10.0.9.9"}},
		{Filter{Host: netip.MustParseAddr("10.0.2.1")}, nil},
		{Filter{Classes: []Class{HandshakeIncomplete}}, []string{"10.0.0.82:8443"}},
	} {
		out := rep.Filtered(c.filter)
		var got []string
		folded := 0
		for _, a := range out.Aggregates {
			if a.Scan() {
				got = append(got, a.Client.String())
			} else {
				got = append(got, a.Server.String())
			}
			folded += a.Connections
		}
		if !slices.Equal(got, c.want) || out.Totals.Folded != folded {
			t.Errorf("%s: aggregates %v, %d folded in the totals; want %v", c.filter, got, out.Totals.Folded, c.want)
		}
		for _, w := range c.want {
			if !slices.ContainsFunc(out.Findings, func(f Finding) bool {
				return f.Folded > 0 && (len(f.Endpoints) == 1 && f.Endpoints[0].String() == w || len(f.Hosts) == 1 && f.Hosts[0].String() == w)
			}) {
				t.Errorf("%s: no finding about %s's folded connections", c.filter, w)
			}
		}
	}
}

// TestRealSYNFlood: a Linux kernel under a flood of 1,200 SYNs from
// spoofed sources, answering with SYN cookies, while it serves 20 real
// clients (testdata/flood/record-real.sh recorded it): one error, a SYN
// flood whose handshakes never completed, and the clients clean.
func TestRealSYNFlood(t *testing.T) {
	rep := analyzeFile(t, "../testdata/flood/real-synflood.pcap")
	if rep.Totals.Flows+rep.Totals.Folded != 1220 || rep.Totals.Clean != 20 || rep.Totals.Folded < 1000 {
		t.Errorf("totals %+v; want 1,220 connections, 20 clean, most of the flood folded", rep.Totals)
	}
	var errs []Finding
	for _, f := range rep.Findings {
		if f.Severity == Error {
			errs = append(errs, f)
		}
	}
	if len(errs) != 1 || errs[0].Class != HandshakeIncomplete || errs[0].Connections() < 1150 {
		t.Fatalf("errors %+v; want one handshake_incomplete about the flood", errs)
	}
	for _, s := range []string{"SYN flood with spoofed addresses", "SYN cookies: no state kept", "10.99.0.1:8083"} {
		if !strings.Contains(errs[0].Summary, s) {
			t.Errorf("%q does not say %q", errs[0].Summary, s)
		}
	}
	// A spoofed source never acknowledged the SYN-ACK: it is not shown
	// ESTABLISHED, but as its SYN left it (SYN_SENT), given up since.
	for _, f := range rep.Flows {
		if f.Key.Client().Addr().As4()[0] == 198 && f.Client.State == flow.Established {
			t.Errorf("flow %d %s: the spoofed client is ESTABLISHED", f.ID, f.Key)
		}
	}
}
