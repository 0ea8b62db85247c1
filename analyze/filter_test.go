package analyze

import (
	"net/netip"
	"testing"
	"time"
)

func TestFiltered(t *testing.T) {
	rep := analyzeLab(t, "../testdata/clean.pcapng", time.Time{}, Options{})
	if len(rep.Flows) != 9 {
		t.Fatalf("%d flows", len(rep.Flows))
	}
	tests := []struct {
		name     string
		f        Filter
		flows    int
		findings int
	}{
		{"nothing", Filter{}, 9, 1},
		{"port 8443", Filter{Port: 8443}, 3, 0},
		{"port 80 and the client host", Filter{Port: 80, Host: netip.MustParseAddr("10.99.1.1")}, 6, 1},
		{"another host", Filter{Host: netip.MustParseAddr("192.0.2.1")}, 0, 0},
		{"resets", Filter{Classes: []Class{ResetClass}}, 1, 0},
		{"idle closes", Filter{Classes: []Class{IdleTimeoutClose}}, 2, 1},
		{"warnings", Filter{MinSeverity: Warning}, 0, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := rep.Filtered(tt.f)
			if len(got.Flows) != tt.flows || len(got.Findings) != tt.findings {
				t.Errorf("%d flows, %d findings; want %d, %d", len(got.Flows), len(got.Findings), tt.flows, tt.findings)
			}
			if got.Totals.Flows != len(got.Flows) {
				t.Errorf("totals count %d flows, the report has %d", got.Totals.Flows, len(got.Flows))
			}
			n := 0
			for _, h := range got.Hosts {
				n += h.Total
			}
			if n != 2*len(got.Flows) {
				t.Errorf("host states count %d endpoints for %d flows", n, len(got.Flows))
			}
		})
	}
	if len(rep.Flows) != 9 {
		t.Error("filtering changed the original report")
	}
}
