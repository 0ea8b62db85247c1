package analyze

import (
	"fmt"
	"net/netip"
	"strings"
	"testing"

	"github.com/flowdoc/flowdoc/flow"
)

// metric returns the finding's metric name, or -1.
func metric(f *Finding, name string) float64 {
	for _, m := range f.Metrics {
		if m.Name == name {
			return m.Value
		}
	}
	return -1
}

// TestRealScans: real nmap scans (testdata/scan/record-real.sh) are one
// port_scan finding about the scanner, with what it found, and no
// refused or unanswered finding per port; the ordinary clients beside
// the scan are judged as before.
func TestRealScans(t *testing.T) {
	scanner := netip.MustParseAddr("10.98.0.2")
	tests := []struct {
		file                     string
		closed, open, unanswered int
		found                    []string
		says                     []string
		folded                   bool // past 100 probes, the closed and unanswered are counted, not kept
	}{
		{file: "nmap-syn.pcap", closed: 2998, open: 2, folded: true, found: []string{"10.98.0.1:80", "10.98.0.1:1234"},
			says: []string{"ports on 10.98.0.1", "half-open SYN scan", "3,000 connection attempts"}},
		{file: "nmap-connect.pcap", closed: 1498, open: 2, folded: true, found: []string{"10.98.0.1:80", "10.98.0.1:1234"},
			says: []string{"ports on 10.98.0.1", "connect scan", "1,500 connection attempts"}},
		// 1,000 ports dropped by a firewall, each probed twice (the second
		// time from another port), 201 closed.
		{file: "nmap-filtered.pcap", closed: 201, unanswered: 2000, folded: true,
			says: []string{"ports on 10.98.0.1", "2,201 connection attempts", "counted, not listed"}},
		{file: "nmap-sweep.pcap", closed: 39, open: 1, found: []string{"10.98.1.7:8080"},
			says: []string{"40 endpoints (port 8080 on as many hosts)", "half-open SYN scan"}},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			rep := analyzeFile(t, "../testdata/scan/"+tt.file)
			var scan *Finding
			for i := range rep.Findings {
				f := &rep.Findings[i]
				switch f.Class {
				case PortScan:
					if scan != nil {
						t.Fatalf("two port_scan findings: %s / %s", scan.Summary, f.Summary)
					}
					scan = f
				case Refused, UnansweredSYN, ListenOverflow, ResetClass, HandshakeIncomplete:
					t.Errorf("finding %s %v %v: the scan's probes are not outages: %s", f.Class, f.Hosts, f.Endpoints, f.Summary)
				}
			}
			if scan == nil {
				t.Fatalf("no port_scan finding; findings %v", findingsOf(rep))
			}
			if len(scan.Hosts) != 1 || scan.Hosts[0] != scanner || scan.Severity != Warning {
				t.Errorf("the scan's finding is about %v, %s; want %s, a warning", scan.Hosts, scan.Severity, scanner)
			}
			for name, want := range map[string]int{"closed": tt.closed, "open": tt.open, "unanswered": tt.unanswered} {
				if got := metric(scan, name); got != float64(want) {
					t.Errorf("%s: %v, want %d", name, got, want)
				}
			}
			probes := tt.closed + tt.open + tt.unanswered
			if scan.Connections() != probes || tt.folded != (scan.Folded > probes/2) || scan.Folded+len(scan.Flows) != probes {
				t.Errorf("%d flows, %d folded; want %d probes, folded %v", len(scan.Flows), scan.Folded, probes, tt.folded)
			}
			if rep.Totals.Flows+rep.Totals.Folded != probes+others(rep, scanner) {
				t.Errorf("totals %+v: not every probe counted once", rep.Totals)
			}
			for _, s := range append(tt.found, tt.says...) {
				if !strings.Contains(scan.Summary, s) {
					t.Errorf("%q does not say %q", scan.Summary, s)
				}
			}
			if tt.open == 0 && strings.Contains(scan.Summary, "Found open") {
				t.Errorf("%q: nothing was open", scan.Summary)
			}
			// Every flow of the scanner is a probe; every other flow
			// (curl beside the SYN scan) closed cleanly.
			others := 0
			for i := range rep.Flows {
				f := &rep.Flows[i]
				if f.Key.Client().Addr() == scanner {
					if verdictOf(f, PortScan) == nil || len(f.Verdicts) != 1 {
						t.Errorf("flow %d %s: verdicts %v; want port_scan alone", f.ID, f.Key, f.Verdicts)
					}
					continue
				}
				others++
				if !f.Clean() || verdictOf(f, PortScan) != nil {
					t.Errorf("flow %d %s, not the scanner's: clean %v, verdicts %v", f.ID, f.Key, f.Clean(), f.Verdicts)
				}
			}
			if tt.file == "nmap-syn.pcap" && others != 15 {
				t.Errorf("%d flows beside the scan, want curl's 15", others)
			}
		})
	}
}

// others counts the flows not from the scanner.
func others(rep *Report, scanner netip.Addr) int {
	n := 0
	for i := range rep.Flows {
		if rep.Flows[i].Key.Client().Addr() != scanner {
			n++
		}
	}
	return n
}

// TestNotAScan: a client refused over and over by a few endpoints, a
// monitor finding many services down at each round, a client of many
// healthy services that opens connections it does not use: none is a
// scan. Twenty endpoints refused once each is.
func TestNotAScan(t *testing.T) {
	refused := func(client string, port uint16, server string, at float64) conv {
		return conv{cport: port, client: client, server: server, segs: []seg{{at, true, "S", 0, -1}, {at + 0.0001, false, "RA", 0, -1}}}
	}
	var retry, monitor, unused, scan []conv
	port := uint16(40000)
	next := func() uint16 { port++; return port }
	// One client, one closed port, 300 times (past 100, they are folded).
	for i := range 300 {
		retry = append(retry, refused("10.0.0.1", next(), "10.0.0.2:5432", float64(i)*0.01))
	}
	// A monitor checks 25 services each round, six rounds; all down.
	for round := range 6 {
		for s := range 25 {
			check := refused("10.0.0.3", next(), fmt.Sprintf("10.0.1.%d:80", s+1), float64(round)*0.5+float64(s)*0.001)
			monitor = append(monitor, check)
		}
	}
	// A client opens connections to 30 healthy services and closes them
	// unused (a pool warming up, a TCP health check).
	for s := range 30 {
		at := float64(s) * 0.01
		unused = append(unused, conv{cport: next(), client: "10.0.0.4", server: fmt.Sprintf("10.0.2.%d:443", s+1),
			segs: join(open(at), []seg{{at + 0.001, true, "FA", 0, -1}, {at + 0.0012, false, "FA", 0, -1}, {at + 0.0014, true, "A", 0, -1}})})
	}
	// Twenty ports, once each.
	for p := range 20 {
		scan = append(scan, refused("10.0.0.5", next(), fmt.Sprintf("10.0.3.1:%d", 1000+p), float64(p)*0.001))
	}
	tests := []struct {
		name   string
		convs  []conv
		scan   bool
		folded bool
	}{
		{"one closed port, again and again", retry, false, true},
		{"a monitor, every round", monitor, false, true},
		{"healthy services, connections unused", unused, false, false},
		{"twenty ports once each", scan, true, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rep := analyzeFile(t, craft(t, tt.convs...))
			var scans, refusals, refused int
			for _, f := range rep.Findings {
				switch f.Class {
				case PortScan:
					scans++
				case Refused:
					refusals++
					refused += f.Connections()
					t.Logf("%s %v %v: %s", f.Class, f.Hosts, f.Endpoints, f.Summary)
				}
			}
			if tt.folded != (rep.Totals.Folded > 0) {
				t.Errorf("%d folded; want some: %v", rep.Totals.Folded, tt.folded)
			}
			if !tt.scan && refusals > 0 && refused != len(tt.convs) {
				t.Errorf("refused findings count %d connections of %d (%d folded): %v", refused, len(tt.convs), rep.Totals.Folded, findingsOf(rep))
			}
			if tt.scan && (scans != 1 || refusals != 0) || !tt.scan && scans != 0 {
				t.Errorf("%d port_scan and %d refused findings: %v", scans, refusals, findingsOf(rep))
			}
			if !tt.scan && tt.convs[0].segs[1].flags == "RA" && refusals == 0 {
				t.Errorf("the refusals were not reported: %v", findingsOf(rep))
			}
			for _, f := range rep.Flows {
				if v := verdictOf(&f, PortScan); v != nil != tt.scan {
					t.Errorf("flow %d %s: verdicts %v", f.ID, f.Key, f.Verdicts)
					break
				}
			}
		})
	}
}

// TestScannerPastCap: past the endpoints remembered per address, a scan
// is still one (the ratios are those of its first probes), and a client
// refused by a few endpoints over and over still is not.
func TestScannerPastCap(t *testing.T) {
	client := netip.MustParseAddrPort("10.0.0.1:40000")
	probes := func(n, endpoints int) []*flow.Record {
		recs := make([]*flow.Record, n)
		for i := range recs {
			srv := netip.AddrPortFrom(netip.AddrFrom4([4]byte{10, 1, byte(i % endpoints >> 8), byte(i % endpoints)}), 80)
			r := &flow.Record{Key: flow.MakeKey(client, srv), History: "Sr"}
			r.Server.Packets, r.Server.RSTs = 1, 1
			recs[i] = r
		}
		return recs
	}
	if s := findScanners(probes(5*maxProbeEndpoints, 5*maxProbeEndpoints), nil); s[client.Addr()] == nil {
		t.Errorf("%d probes to as many endpoints: no scanner", 5*maxProbeEndpoints)
	}
	if s := findScanners(probes(5*maxProbeEndpoints, 25), nil); s[client.Addr()] != nil {
		t.Errorf("%d probes to 25 endpoints: a scanner", 5*maxProbeEndpoints)
	}
}

// TestFoldedSweep: a sweep of one port over 300 hosts, most of it
// folded, is still told as one port over many hosts; a scan of 300
// ports on one host, as ports on that host.
func TestFoldedSweep(t *testing.T) {
	var sweep, ports []conv
	for i := range 300 {
		at := float64(i) * 0.001
		srv := fmt.Sprintf("10.7.%d.%d:22", i/200, 1+i%200)
		sweep = append(sweep, conv{cport: 50000, client: "10.0.0.9", server: srv, segs: []seg{{at, true, "S", 0, -1}, {at + 0.0002, false, "RA", 0, -1}}})
		ports = append(ports, conv{cport: 50000, client: "10.0.0.9", server: fmt.Sprintf("10.7.0.1:%d", 1000+i), segs: []seg{{at, true, "S", 0, -1}}})
	}
	for _, tt := range []struct {
		name  string
		convs []conv
		says  string
	}{{"sweep", sweep, "(port 22 on as many hosts)"}, {"ports", ports, "(ports on 10.7.0.1)"}} {
		t.Run(tt.name, func(t *testing.T) {
			rep := analyzeFile(t, craft(t, tt.convs...))
			if len(rep.Findings) != 1 || rep.Findings[0].Class != PortScan || rep.Findings[0].Folded < 100 || rep.Findings[0].Connections() != 300 {
				t.Fatalf("findings %v, %d folded", findingsOf(rep), rep.Totals.Folded)
			}
			if s := rep.Findings[0].Summary; !strings.Contains(s, tt.says) {
				t.Errorf("%q does not say %q", s, tt.says)
			}
		})
	}
}

// TestRealScansMore: masscan (its own TCP stack: it resets each port
// the target already refused) and hping3 scan; hping3 and curl hammering
// one closed port are refusals, not scans (testdata/scan/record-more.sh).
// Every connection is counted once, in the totals and in the host table.
func TestRealScansMore(t *testing.T) {
	scanner := netip.MustParseAddr("10.97.0.2")
	tests := []struct {
		file  string
		conns int
		class Class
		says  []string
	}{
		{"masscan.pcap", 2000, PortScan, []string{"1,998 were refused (RST: closed ports), 2 answered (open ports)", "10.97.0.1:80, 10.97.0.1:1234", "half-open SYN scan"}},
		{"hping3-flood-closed.pcap", 600, Refused, []string{"refused 600 connection attempts", "over 1.2 s"}},
		{"curl-refused.pcap", 300, Refused, []string{"refused 300 connection attempts", "over 3.2 s"}},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			rep := analyzeFile(t, "../testdata/scan/"+tt.file)
			if n := rep.Totals.Flows + rep.Totals.Folded; n != tt.conns || rep.Totals.Midstream != 0 {
				t.Errorf("%d connections (%d flows, %d folded), %d midstream; want %d, none midstream",
					n, rep.Totals.Flows, rep.Totals.Folded, rep.Totals.Midstream, tt.conns)
			}
			if len(rep.Findings) != 1 || rep.Findings[0].Class != tt.class || rep.Findings[0].Connections() != tt.conns {
				t.Fatalf("findings %v; want one %s about %d connections", findingsOf(rep), tt.class, tt.conns)
			}
			for _, s := range tt.says {
				if !strings.Contains(rep.Findings[0].Summary, s) {
					t.Errorf("%q does not say %q", rep.Findings[0].Summary, s)
				}
			}
			for _, h := range rep.Hosts {
				if h.Host == scanner && h.Total != tt.conns {
					t.Errorf("the host table has %d connections of %s, want %d", h.Total, scanner, tt.conns)
				}
			}
		})
	}
}

// TestSYNScanHoldsNoSockets: nmap -sS of 2,500 ports, 1,000 of them
// dropped by a firewall (testdata/scan/nmap-syn-filtered-open.md). The
// prober resets the SYN-ACKs of the open ports, so it holds no socket for
// its probes: the finding says its unanswered SYNs, which the host table
// counts in SYN_SENT, are not sockets; and that the counts after the
// endpoints are attempts (each filtered port probed twice). Its evidence
// cites the folded probes in the order of the capture.
func TestSYNScanHoldsNoSockets(t *testing.T) {
	rep := analyzeFile(t, "../testdata/scan/nmap-syn-filtered-open.pcap")
	var scan *Finding
	for i := range rep.Findings {
		if rep.Findings[i].Class == PortScan {
			scan = &rep.Findings[i]
		}
	}
	if scan == nil {
		t.Fatalf("no port_scan finding: %v", findingsOf(rep))
	}
	for _, want := range []string{"3,500 connection attempts", "of which 1,498 were refused (RST: closed ports), 2 answered (open ports) and 2,000 not answered",
		"half-open SYN scan", "any SYN_SENT endpoints counted on 10.77.0.2 are its unanswered SYNs, not sockets"} {
		if !strings.Contains(scan.Summary, want) {
			t.Errorf("finding %q does not say %q", scan.Summary, want)
		}
	}
	// The open ports found, then the folded probes in capture order.
	if ev := scan.Evidence; len(ev) != 4 || !strings.Contains(ev[0].What, "found open") || ev[2].Packet > ev[3].Packet {
		t.Errorf("evidence %+v; want the two open ports, then the folded probes in the order of the capture", ev)
	}
}
