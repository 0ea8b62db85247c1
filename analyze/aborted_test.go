package analyze

import (
	"fmt"
	"strings"
	"testing"
)

// TestAbortedHandshakes: one client resets 150 handshakes with a server
// endpoint right after its SYN-ACK, 100 a second (SYNs sent raw: a SYN
// flood from one host), which makes a finding about it; another resets
// 150 as slowly as a health check, one a second, which makes none.
func TestAbortedHandshakes(t *testing.T) {
	var convs []conv
	for i := range 150 {
		for _, c := range []struct {
			client string
			every  float64
		}{{"10.0.5.5", 0.01}, {"10.0.5.6", 1}} {
			at := float64(i) * c.every
			convs = append(convs, conv{cport: uint16(2000 + i), client: c.client, server: "10.0.0.80:80", segs: []seg{
				{at, true, "S", 0, -1}, {at + 0.0001, false, "SA", 0, -1}, {at + 0.0002, true, "R", 0, -1}}})
		}
	}
	rep := analyzeFile(t, craft(t, convs...))
	var found []Finding
	for _, f := range rep.Findings {
		if f.Class == ResetClass {
			found = append(found, f)
		}
	}
	if len(found) != 1 {
		t.Fatalf("%d reset findings (%+v); want one, about 10.0.5.5", len(found), found)
	}
	f := found[0]
	want := "10.0.5.5 opened 150 connections to 10.0.0.80:80 over 1.5 s, 100 a second, and reset each right after the server's SYN-ACK"
	if f.Severity != Warning || len(f.Flows) != 150 || !strings.HasPrefix(f.Summary, want) {
		t.Errorf("finding %s, %d flows: %q; want a warning about 150 flows: %q...", f.Severity, len(f.Flows), f.Summary, want)
	}
	if got := fmt.Sprint(f.Hosts, f.Endpoints); got != "[10.0.5.5] [10.0.0.80:80]" {
		t.Errorf("about %s; want the client and the server endpoint", got)
	}
}
