package analyze

import (
	"fmt"
	"net/netip"
	"strings"
	"testing"
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
		flows, folded            int // kept flows and folded connections in the finding
	}{
		{file: "nmap-syn.pcap", closed: 2998, open: 2, flows: 3000, found: []string{"10.98.0.1:80", "10.98.0.1:1234"},
			says: []string{"3,000 ports on 10.98.0.1", "half-open SYN scan"}},
		{file: "nmap-connect.pcap", closed: 1498, open: 2, flows: 1500, found: []string{"10.98.0.1:80", "10.98.0.1:1234"},
			says: []string{"1,500 ports on 10.98.0.1", "connect scan"}},
		// 1,000 ports dropped by a firewall, each probed twice (the second
		// time from another port), 201 closed: most of the unanswered
		// SYNs are folded.
		{file: "nmap-filtered.pcap", closed: 201, unanswered: 2000, flows: -1, folded: -1,
			says: []string{"at least", "2,201 connection attempts", "counted, not listed"}},
		{file: "nmap-sweep.pcap", closed: 39, open: 1, flows: 40, found: []string{"10.98.1.7:8080"},
			says: []string{"port 8080 on 40 hosts", "half-open SYN scan"}},
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
			if tt.flows >= 0 && (len(scan.Flows) != tt.flows || scan.Folded != 0) {
				t.Errorf("%d flows, %d folded; want %d flows", len(scan.Flows), scan.Folded, tt.flows)
			}
			if tt.folded < 0 && (scan.Folded < 1000 || scan.Connections() != tt.closed+tt.unanswered) {
				t.Errorf("%d flows, %d folded; want most of the %d probes folded", len(scan.Flows), scan.Folded, tt.closed+tt.unanswered)
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
	// One client, one closed port, 60 times.
	for i := range 60 {
		retry = append(retry, refused("10.0.0.1", next(), "10.0.0.2:5432", float64(i)*0.05))
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
		name  string
		convs []conv
		scan  bool
	}{
		{"one closed port, again and again", retry, false},
		{"a monitor, every round", monitor, false},
		{"healthy services, connections unused", unused, false},
		{"twenty ports once each", scan, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rep := analyzeFile(t, craft(t, tt.convs...))
			var scans, refusals int
			for _, f := range rep.Findings {
				switch f.Class {
				case PortScan:
					scans++
				case Refused:
					refusals++
				}
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
