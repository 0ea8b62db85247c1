package report

import (
	"bytes"
	"fmt"
	"net/netip"
	"strings"
	"testing"

	"github.com/flowdoc/flowdoc/analyze"
)

// busyReport is a lab capture's report with as many findings and hosts as
// a busy capture has: 30 more leak findings, one per client host.
func busyReport(t *testing.T) *analyze.Report {
	rep := labReport(t, "../testdata/http-keepalive.pcap")
	leak := rep.Findings[0]
	for i := range 30 {
		f := leak
		f.Hosts = []netip.Addr{netip.AddrFrom4([4]byte{10, 7, 0, byte(i + 1)})}
		f.Summary = fmt.Sprintf("leak number %d", i+1)
		f.Flows = leak.Flows[:1+i%len(leak.Flows)]
		rep.Findings = append(rep.Findings, f)
		rep.Hosts = append(rep.Hosts, analyze.HostStates{Host: f.Hosts[0], Total: 1})
	}
	if !rep.Busy() {
		t.Fatal("not busy")
	}
	return rep
}

// TestBusyReports: the reports of people open with the summary, show the
// worst findings and say how many more; text with --all shows everything.
func TestBusyReports(t *testing.T) {
	rep := busyReport(t)
	for _, tc := range []struct {
		format string
		says   []string
	}{
		{"text", []string{"Summary, most severe first:", "close_wait_leak  31 findings: 31 hosts", "Findings, the worst of each class (", "more hosts: --all)"}},
		{"md", []string{"## Summary", "| ERROR | close\\_wait\\_leak | 31 |", "The worst of each class;", "The hosts a problem is about first;"}},
		{"html", []string{`<h2 id="summary">Summary</h2>`, "The worst of each class;", "The hosts a problem is about first;"}},
	} {
		t.Run(tc.format, func(t *testing.T) {
			r, err := New(tc.format, Options{})
			if err != nil {
				t.Fatal(err)
			}
			var b bytes.Buffer
			if err := r.Render(&b, rep); err != nil {
				t.Fatal(err)
			}
			out := b.String()
			for _, s := range tc.says {
				if !strings.Contains(out, s) {
					t.Errorf("no %q in:\n%s", s, out)
				}
			}
			// The class's two worst: the capture's own leak (4 flows) and
			// the first added one as large.
			if n := strings.Count(out, "leak number"); n != 1 || !strings.Contains(out, "leak number 4") {
				t.Errorf("%d of the 30 added findings shown, want leak number 4 alone", n)
			}
			if i, j := strings.Index(out, "ummary"), strings.Index(out, "leak number"); i < 0 || j < i {
				t.Errorf("the summary does not come before the findings")
			}
		})
	}
	t.Run("text --all", func(t *testing.T) {
		var b bytes.Buffer
		if err := (&Text{All: true}).Render(&b, rep); err != nil {
			t.Fatal(err)
		}
		out := b.String()
		if strings.Contains(out, "Summary, most severe first:") || strings.Count(out, "leak number") != 30 {
			t.Errorf("--all: want every finding and no summary:\n%s", out)
		}
	})
}

// TestFoldedReports: a capture whose SYNs were folded says so in every
// format: the text and Markdown headline and findings count them, JSON
// and JSON Lines carry the aggregates, CSV and conn.log list only flows.
func TestFoldedReports(t *testing.T) {
	rep := labReport(t, "../testdata/flood/syn-flood.pcap")
	for _, tc := range []struct {
		format string
		says   []string
	}{
		{"text", []string{"more that never got past", "counted, not listed)", "SYN from 198.18."}},
		{"md", []string{"counted per server endpoint", "more counted, not listed (the aggregates)"}},
		{"html", []string{"counted per server endpoint", "more counted, not listed (the aggregates)"}},
		{"json", []string{`"aggregates": [`, `"folded": 2485`, `"peers_estimated": true`, `"client": "10.0.9.9"`}},
		{"jsonl", []string{`{"type":"aggregate","server":"10.0.0.80:80"`}},
	} {
		t.Run(tc.format, func(t *testing.T) {
			r, err := New(tc.format, Options{})
			if err != nil {
				t.Fatal(err)
			}
			var b bytes.Buffer
			if err := r.Render(&b, rep); err != nil {
				t.Fatal(err)
			}
			for _, s := range tc.says {
				if !strings.Contains(b.String(), s) {
					t.Errorf("no %q in:\n%.3000s", s, b.String())
				}
			}
		})
	}
	for _, format := range []string{"csv", "zeek"} {
		r, _ := New(format, Options{})
		var b bytes.Buffer
		if err := r.Render(&b, rep); err != nil {
			t.Fatal(err)
		}
		if n := strings.Count(b.String(), "\n10.0.0.80") + strings.Count(b.String(), "\t10.0.0.80\t"); n > len(rep.Flows) {
			t.Errorf("%s: %d lines about 10.0.0.80 for %d flows", format, n, len(rep.Flows))
		}
	}
}
