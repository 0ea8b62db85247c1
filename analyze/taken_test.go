package analyze

import (
	"slices"
	"testing"
	"time"

	"github.com/flowdoc/flowdoc/flow"
)

// TestNotTakenUp: a server in CLOSE_WAIT that never answered the client's
// TLS ClientHello, which a server answers as soon as it takes a connection
// up, never came to the connection: listen_overflow, no leak of its
// application. Not so where the opening is younger than takeUpWait at the
// end of the capture, nor for an HTTP request, whose answer waits on a
// handler.
func TestNotTakenUp(t *testing.T) {
	hello := []byte{0x16, 0x03, 0x01, 0x00, 0x05, 0x01, 0x00, 0x00, 0x01, 0x00}
	get := []byte("GET / HTTP/1.1\r\nHost: a\r\n\r\n")
	// A connection served (its hello answered), then one whose opening
	// message is acknowledged by the server's kernel and never answered;
	// the client gives up after gaveUp and closes.
	convs := func(opening []byte, gaveUp float64) []conv {
		served := conv{cport: 40000, server: "10.0.0.2:443", segs: join(open(0),
			[]seg{{0.01, true, "PA", len(opening), -1}, {0.011, false, "PA", 80, -1}, {0.012, true, "A", 0, -1}}),
			data: map[int][]byte{3: opening}}
		waiting := conv{cport: 40002, server: "10.0.0.2:443", segs: join(open(0.1), []seg{
			{0.11, true, "PA", len(opening), -1}, {0.1102, false, "A", 0, -1},
			{0.11 + gaveUp, true, "FA", 0, -1}, {0.1102 + gaveUp, false, "A", 0, -1}}),
			data: map[int][]byte{3: opening}}
		return []conv{served, waiting}
	}
	for _, tc := range []struct {
		name     string
		opening  []byte
		gaveUp   float64
		at       float64 // the end of the capture, seconds in
		notTaken bool
	}{
		{"a ClientHello left 1.5 s", hello, 1.5, 5, true},
		{"a ClientHello given up on at once, the capture cut 0.3 s in", hello, 0.02, 0.3, false},
		{"an HTTP request left 1.5 s", get, 1.5, 5, false},
	} {
		rep := analyzeLab(t, craft(t, convs(tc.opening, tc.gaveUp)...), craftT0.Add(time.Duration(tc.at*float64(time.Second))), Options{})
		if len(rep.Flows) != 2 {
			t.Fatalf("%s: %d flows, want 2", tc.name, len(rep.Flows))
		}
		got := verdictsOf(rep)[1]
		f := &rep.Flows[1]
		taken := slices.ContainsFunc(f.Verdicts, func(v Verdict) bool { return v.Class == ListenOverflow && v.notTakenUp })
		if taken != tc.notTaken || tc.notTaken && hasVerdict(f, CloseWaitLeak, flow.Server) {
			t.Errorf("%s: %s; want listen_overflow (never taken up) %v", tc.name, got, tc.notTaken)
		}
		found := slices.ContainsFunc(rep.Findings, func(fd Finding) bool {
			return fd.Class == ListenOverflow && slices.Contains(fd.Flows, f.ID)
		})
		if found != tc.notTaken {
			t.Errorf("%s: listen_overflow finding %v, want %v: %v", tc.name, found, tc.notTaken, findingsOf(rep))
		}
	}
}
