package analyze

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"
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
	found := resetFindings(rep)
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
	// Named as the other findings that tell a rate name it.
	if m := f.Metrics; len(m) != 2 || m[0] != (Metric{"connections", 150}) || m[1].Name != "rate_per_s" || m[1].Value < 100 || m[1].Value > 101 {
		t.Errorf("metrics %v; want its 150 connections and rate_per_s, about 100", m)
	}
}

// TestSlowConnectOverflow: while 10.0.0.80:80 completes a handshake
// every 100 ms, a client's SYN is answered only when sent the third time,
// 3 s after the first, and the connection then closes cleanly: its first
// SYNs were dropped by the server's full listen queue, a listen_overflow
// (a warning) that says how long the connect took. The same slow connect
// to a server that completed no other handshake meanwhile (a lossy path,
// as likely) has no such verdict.
func TestSlowConnectOverflow(t *testing.T) {
	slow := func(server string, at float64) conv {
		return conv{cport: 50000, client: "10.0.9.9", server: server, segs: []seg{
			{at, true, "S", 0, -1}, {at + 1, true, "S", 0, -1}, {at + 3, true, "S", 0, -1},
			{at + 3.001, false, "SA", 0, -1}, {at + 3.002, true, "A", 0, -1},
			{at + 3.1, true, "FA", 0, -1}, {at + 3.101, false, "FA", 0, -1}, {at + 3.102, true, "A", 0, -1}}}
	}
	convs := []conv{slow("10.0.0.80:80", 1), slow("10.0.0.81:80", 1)}
	for i := range 60 {
		at := float64(i) * 0.1
		convs = append(convs, conv{cport: uint16(40000 + i), client: "10.0.2.1", server: "10.0.0.80:80", segs: []seg{
			{at, true, "S", 0, -1}, {at + 0.001, false, "SA", 0, -1}, {at + 0.002, true, "A", 0, -1},
			{at + 0.05, true, "FA", 0, -1}, {at + 0.051, false, "FA", 0, -1}, {at + 0.052, true, "A", 0, -1}}})
	}
	rep := analyzeFile(t, craft(t, convs...))
	for _, f := range rep.Flows {
		if f.Key.Client().Addr().String() != "10.0.9.9" {
			continue
		}
		var v *Verdict
		for i := range f.Verdicts {
			if f.Verdicts[i].Class == ListenOverflow {
				v = &f.Verdicts[i]
			}
		}
		switch f.Key.Server().String() {
		case "10.0.0.80:80":
			if v == nil || v.Severity != Warning || !strings.Contains(v.Summary, "sent its SYN 3 times over 3.0 s before the server answered") || len(v.Evidence) != 2 {
				t.Errorf("slow connect to a busy server: verdicts %+v; want a listen_overflow warning citing its first SYN and the SYN-ACK", f.Verdicts)
			}
		default:
			if v != nil {
				t.Errorf("slow connect to an idle server: %+v; want no listen_overflow", *v)
			}
		}
	}
	if !slices.ContainsFunc(rep.Findings, func(f Finding) bool { return f.Class == ListenOverflow }) {
		t.Errorf("no listen_overflow finding: %v", findingsOf(rep))
	}
}

// TestAbortedHandshakesSlowAnswers: a client resets 150 handshakes with
// a server endpoint right after its SYN-ACK, 100 a second, but the
// server took 150 ms to answer each. An application whose connect
// timeout is shorter than that resets them as well (its kernel closed
// the socket when the connect gave up), so the finding does not say as a
// fact that the SYNs were sent raw, and tells how long the server took.
func TestAbortedHandshakesSlowAnswers(t *testing.T) {
	var convs []conv
	for i := range 150 {
		at := float64(i) * 0.01
		convs = append(convs, conv{cport: uint16(2000 + i), client: "10.0.5.5", server: "10.0.0.80:80", segs: []seg{
			{at, true, "S", 0, -1}, {at + 0.15, false, "SA", 0, -1}, {at + 0.1501, true, "R", 0, -1}}})
	}
	rep := analyzeFile(t, craft(t, convs...))
	found := resetFindings(rep)
	if len(found) != 1 {
		t.Fatalf("%d reset findings (%+v); want one, about 10.0.5.5", len(found), found)
	}
	f := found[0]
	if strings.Contains(f.Summary, "so the SYNs were sent raw") || !strings.Contains(f.Summary, "150 ms") || !strings.Contains(f.Summary, "connect timeout") ||
		!strings.Contains(f.Remedy, "connect timeout") {
		t.Errorf("finding %q, remedy %q: want the connects given up before the server's answers told as a cause, with how long it took", f.Summary, f.Remedy)
	}
}

// resetFindings are the findings of rep of class reset.
func resetFindings(rep *Report) []Finding {
	var out []Finding
	for _, f := range rep.Findings {
		if f.Class == ResetClass {
			out = append(out, f)
		}
	}
	return out
}

// A SYN flood that fills a server's SYN queue, and real clients served at
// their fifth SYN, 15 s after the first: the flood is folded, and the
// clients' SYNs are folded with it before they are answered. They come
// back out whole (lab: synflood-nocookies-fresh-clients, where curl
// connected in 11 s and the flows read 0.4 ms from the SYN-ACK on).
func TestSlowConnectDuringFlood(t *testing.T) {
	var convs []conv
	for i := range 3000 { // spoofed: one SYN each, never answered
		at := 0.5 + float64(i)*0.006
		convs = append(convs, conv{cport: uint16(1024 + i), client: fmt.Sprintf("198.18.%d.%d", i>>8, i&255), server: "10.0.0.80:80",
			segs: []seg{{at, true, "S", 0, -1}}})
	}
	for i := range 40 { // served meanwhile
		at := 0.1 + float64(i)*0.45
		convs = append(convs, conv{cport: uint16(40000 + i), client: "10.0.2.1", server: "10.0.0.80:80", segs: []seg{
			{at, true, "S", 0, -1}, {at + 0.001, false, "SA", 0, -1}, {at + 0.002, true, "A", 0, -1},
			{at + 0.05, true, "FA", 0, -1}, {at + 0.051, false, "FA", 0, -1}, {at + 0.052, true, "A", 0, -1}}})
	}
	for i := range 2 { // Linux's backoff: 0, 1, 3, 7 and 15 s
		at := 2 + float64(i)*0.5
		segs := []seg{}
		for _, d := range []float64{0, 1, 3, 7, 15} {
			segs = append(segs, seg{at + d, true, "S", 0, -1})
		}
		segs = append(segs, seg{at + 15.001, false, "SA", 0, -1}, seg{at + 15.002, true, "A", 0, -1},
			seg{at + 15.1, true, "FA", 0, -1}, seg{at + 15.101, false, "FA", 0, -1}, seg{at + 15.102, true, "A", 0, -1})
		convs = append(convs, conv{cport: 50000, client: fmt.Sprintf("10.0.9.%d", i+1), server: "10.0.0.80:80", segs: segs})
	}
	rep := analyzeFile(t, craft(t, convs...))
	slow := 0
	for _, f := range rep.Flows {
		if f.Key.Client().Port() != 50000 {
			continue
		}
		slow++
		if f.Client.Packets != 8 || f.Client.SYNs() != 5 || f.Duration() < 15*time.Second || !strings.HasPrefix(f.History, "S") {
			t.Errorf("%s: %d packets, %d SYNs, %s, history %q; want the 5 SYNs and 15 s", f.Key, f.Client.Packets, f.Client.SYNs(), f.Duration(), f.History)
		}
		i := slices.IndexFunc(f.Verdicts, func(v Verdict) bool { return v.Class == ListenOverflow })
		if i < 0 || !strings.Contains(f.Verdicts[i].Summary, "sent its SYN 5 times over 15.0 s") {
			t.Errorf("%s: verdicts %+v; want a slow connect of 5 SYNs over 15 s", f.Key, f.Verdicts)
		}
	}
	if slow != 2 {
		t.Errorf("%d flows of the slow clients; want 2", slow)
	}
	i := slices.IndexFunc(rep.Findings, func(f Finding) bool { return f.Class == ListenOverflow && f.Folded > 0 })
	if i < 0 {
		t.Fatalf("no folded listen_overflow finding: %v", findingsOf(rep))
	}
	if f := rep.Findings[i]; !strings.Contains(f.Summary, "It answered 2 more only when the client had sent its SYN again: those connects took 15.0 s.") ||
		!strings.Contains(f.Summary, fmt.Sprintf("did not answer %s connection attempts", thousands(f.Connections()-2))) {
		t.Errorf("finding: %s; want the 2 slow connects told apart", f.Summary)
	}
}
