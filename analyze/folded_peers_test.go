package analyze

import (
	"fmt"
	"testing"
)

// TestSpreadAfterLateAnswer: a client (no scanner: ten endpoints) whose
// SYNs to dead services are folded by client, each sent three times;
// one of them is answered at last, long after, and is a flow of its
// own. The findings about the endpoints count every other connection
// once, and that one not at all.
func TestSpreadAfterLateAnswer(t *testing.T) {
	var convs []conv
	const n = 150
	for i := range n {
		at := float64(i) * 0.01
		segs := []seg{{at, true, "S", 0, -1}, {at + 1, true, "S", 0, -1}, {at + 3, true, "S", 0, -1}}
		if i == n-1 { // answered at last
			segs = append(segs, seg{at + 5, false, "SA", 0, -1}, seg{at + 5.001, true, "A", 0, -1})
		}
		convs = append(convs, conv{cport: uint16(40000 + i), client: "10.0.0.1", server: fmt.Sprintf("10.0.5.%d:80", 1+i%10), segs: segs})
	}
	rep := analyzeFile(t, craft(t, convs...))
	folded := 0
	for _, f := range rep.Findings {
		t.Logf("%s %s %v %v: %d flows, %d folded", f.Severity, f.Class, f.Hosts, f.Endpoints, len(f.Flows), f.Folded)
		folded += f.Folded
	}
	for _, a := range rep.Aggregates {
		t.Logf("aggregate %v %v %s: %d connections, %d answered late, top peers %v", a.Client, a.Server, a.Class, a.Connections, a.AnsweredLate, a.TopPeers)
	}
	if folded != rep.Totals.Folded {
		t.Errorf("the findings count %d folded connections; %d were folded", folded, rep.Totals.Folded)
	}
	// One finding per endpoint: the folded join what its kept flows show
	// (its listen queue, when it accepted others meanwhile).
	about := map[string]int{}
	for _, f := range rep.Findings {
		for _, e := range f.Endpoints {
			about[e.String()]++
		}
	}
	for e, n := range about {
		if n > 1 {
			t.Errorf("%d findings about %s", n, e)
		}
	}
}

// TestScanHalfOpenNotUnanswered: a scanner's SYNs folded as half-open
// (the ports answered with a SYN-ACK, the scanner never went on) were
// answered: they are not "unanswered (filtered)".
func TestScanHalfOpenNotUnanswered(t *testing.T) {
	var convs []conv
	const n, answered = 300, 40
	for i := range n {
		at := float64(i) * 0.001
		segs := []seg{{at, true, "S", 0, -1}}
		if i >= n-answered {
			segs = append(segs, seg{at + 0.0002, false, "SA", 0, -1})
		}
		convs = append(convs, conv{cport: 50000, client: "10.0.0.9", server: fmt.Sprintf("10.7.0.1:%d", 1000+i), segs: segs})
	}
	rep := analyzeFile(t, craft(t, convs...))
	for _, a := range rep.Aggregates {
		t.Logf("aggregate %v %s: %d connections, %d SYN-ACKs", a.Client, a.Class, a.Connections, a.SYNACKs)
	}
	for _, f := range rep.Findings {
		t.Logf("%s %v: %s", f.Class, f.Metrics, f.Summary)
		if f.Class == PortScan {
			if u := metric(&f, "unanswered"); u > n-answered {
				t.Errorf("%v unanswered: %d of the probes were answered with a SYN-ACK", u, answered)
			}
		}
	}
}
