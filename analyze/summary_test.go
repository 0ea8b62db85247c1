package analyze

import (
	"net/netip"
	"slices"
	"testing"
)

// TestSummary sums up findings per class: counts, distinct hosts and
// endpoints, the worst findings first, the remedy once.
func TestSummary(t *testing.T) {
	h1, h2 := netip.MustParseAddr("10.0.0.1"), netip.MustParseAddr("10.0.0.2")
	ep := netip.MustParseAddrPort("10.0.0.9:80")
	rep := &Report{Findings: []Finding{
		{Class: CloseWaitLeak, Severity: Error, Hosts: []netip.Addr{h1}, Flows: []int{1, 2}},
		{Class: CloseWaitLeak, Severity: Error, Hosts: []netip.Addr{h2}, Flows: []int{3, 4, 5}},
		{Class: IdleTimeoutClose, Severity: Warning, Endpoints: []netip.AddrPort{ep}, Flows: []int{1, 2, 3, 4, 5}},
		{Class: CloseWaitLeak, Severity: Error, Hosts: []netip.Addr{h1}, Flows: []int{6}},
	}}
	got := rep.Summary()
	if len(got) != 2 || got[0].Class != CloseWaitLeak || got[1].Class != IdleTimeoutClose {
		t.Fatalf("classes %+v", got)
	}
	s := got[0]
	if s.Findings != 3 || s.Hosts != 2 || s.Endpoints != 0 || s.Flows != 6 || s.Severity != Error {
		t.Errorf("close_wait_leak summary %+v", s)
	}
	if !slices.Equal(s.Worst, []int{1, 0}) {
		t.Errorf("worst %v, want the two largest, largest first: [1 0]", s.Worst)
	}
	if e, _ := Explain(CloseWaitLeak); s.Remedy != e.Fix {
		t.Errorf("remedy %q", s.Remedy)
	}
	if got[1].Endpoints != 1 || got[1].Flows != 5 {
		t.Errorf("idle summary %+v", got[1])
	}
}

// TestHostRows puts the hosts with problems first and caps the table.
func TestHostRows(t *testing.T) {
	rep := &Report{}
	for i := range 30 {
		rep.Hosts = append(rep.Hosts, HostStates{Host: netip.AddrFrom4([4]byte{10, 0, 0, byte(i + 1)}), Total: 100 - i})
	}
	sick := netip.AddrFrom4([4]byte{10, 0, 0, 29})
	rep.Findings = []Finding{{Class: CloseWaitLeak, Severity: Error, Hosts: []netip.Addr{sick}, Flows: []int{1}},
		{Class: TimeWaitPressure, Severity: Info, Hosts: []netip.Addr{netip.AddrFrom4([4]byte{10, 0, 0, 30})}, Flows: []int{2}}}
	rows, more := rep.HostRows(false)
	if len(rows) != MaxHostRows || more != 10 {
		t.Fatalf("%d rows, %d more", len(rows), more)
	}
	if rows[0].Host != sick || rows[1].Host != rep.Hosts[0].Host {
		t.Errorf("rows begin %v %v: want the troubled host, then the busiest", rows[0].Host, rows[1].Host)
	}
	if rows, more := rep.HostRows(true); len(rows) != 30 || more != 0 {
		t.Errorf("--all: %d rows, %d more", len(rows), more)
	}
	if !rep.Busy() {
		t.Error("30 hosts is busy")
	}
	// A flood's sources, a connection each: left out of a capped table.
	for i := range 200 {
		rep.Hosts = append(rep.Hosts, HostStates{Host: netip.AddrFrom4([4]byte{198, 18, byte(i >> 8), byte(i)}), Total: 1})
	}
	if rows, more := rep.HostRows(false); len(rows) != MaxHostRows || more != 210 || slices.ContainsFunc(rows, func(h HostStates) bool { return h.Total == 1 }) {
		t.Errorf("with 200 one-connection hosts: %d rows, %d more: want %d, none of one connection, and 210 more", len(rows), more, MaxHostRows)
	}
	if rows, _ := rep.HostRows(true); len(rows) != 230 {
		t.Errorf("--all: %d rows; want 230", len(rows))
	}
}
