package report

import (
	"bytes"
	"encoding/json"
	"net/netip"
	"testing"
	"time"

	"github.com/flowdoc/flowdoc/analyze"
	"github.com/flowdoc/flowdoc/flow"
)

// TestAppendFlowMatchesEncodingJSON holds the hand-written flow encoder to
// encoding/json's encoding of the same data, on real flows and on one with
// every optional field and awkward strings.
func TestAppendFlowMatchesEncodingJSON(t *testing.T) {
	rep := labReport(t, "../testdata/stale-reuse.pcap")
	odd := *rep.Flows[0].Record
	odd.History = "ShAD\"<script>&\u2028\x01\xff"
	odd.EventsDropped = 3
	odd.Client.Expired, odd.Client.HalfClosed = flow.TimeWait, true
	odd.Client.Since = flow.TS(time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC))         // no fraction
	odd.Server.Since = flow.TS(time.Date(2026, 1, 2, 3, 4, 5, 120000000, time.UTC)) // trailing zeros
	odd.Key = flow.MakeKey(netip.MustParseAddrPort("[::ffff:10.0.0.1]:1"), odd.Key.Server())
	flows := append(rep.Flows, analyze.Flow{Record: &odd, Verdicts: []analyze.Verdict{{
		Class: analyze.CloseWaitLeak, Side: flow.Client, Severity: analyze.Error, Confidence: 0.95,
		Since: time.Date(2026, 1, 2, 3, 4, 5, 500, time.UTC), Age: 1500 * time.Millisecond,
		Summary: "a \"quoted\" <b>summary</b>", Evidence: []analyze.Evidence{{Input: 0, Packet: 7, At: time.Unix(1, 5).UTC(), What: "FIN"}},
	}}})
	// Kernel sockets: one side known with a socket, one known without,
	// and one known with a process named oddly.
	k1, k2 := flows[0], flows[1]
	k1.Kernel = &analyze.FlowKernel{Known: [2]bool{true, false}}
	k1.Kernel.Sockets[0] = &analyze.Socket{State: flow.CloseWait, PID: 42, Command: "ja\"va", RxQueue: 3, Timer: "keepalive"}
	k2.Kernel = &analyze.FlowKernel{Known: [2]bool{true, true}}
	k2.Kernel.Sockets[1] = &analyze.Socket{State: flow.Established}
	flows = append(flows, k1, k2)
	for _, events := range []bool{false, true} {
		for _, f := range flows {
			want, err := json.Marshal(jsonFlowOf(&f, events))
			if err != nil {
				t.Fatal(err)
			}
			got := appendFlow(nil, &f, events)
			if !bytes.Equal(got, want) {
				t.Errorf("flow %d, events %v:\n got %s\nwant %s", f.ID, events, got, want)
			}
		}
	}
}

func TestAppendFloat(t *testing.T) {
	for _, f := range []float64{0, 1, 0.5, 35.2, 1e-7, 123456789.125, 1e21, 3.0000000001} {
		want, _ := json.Marshal(f)
		if got := appendFloat(nil, f); !bytes.Equal(got, want) {
			t.Errorf("%v: got %s want %s", f, got, want)
		}
	}
}

// TestWriteFlowsParallel renders enough flows for several workers and
// compares with one encoder doing them all in order.
func TestWriteFlowsParallel(t *testing.T) {
	base := labReport(t, "../testdata/timewait-storm.pcap")
	var flows []analyze.Flow
	for len(flows) < 5*flowChunk+17 {
		flows = append(flows, base.Flows...)
	}
	for _, events := range []bool{false, true} {
		var got bytes.Buffer
		(&JSON{Events: events}).writeFlows(&got, flows)
		var fe flowEncoder
		want := fe.appendFlows(nil, flows, 0, events)
		if !bytes.Equal(got.Bytes(), want) {
			t.Fatalf("events %v: parallel output differs (%d bytes, want %d)", events, got.Len(), len(want))
		}
		var parsed []json.RawMessage
		if err := json.Unmarshal(append(append([]byte("["), want...), ']'), &parsed); err != nil || len(parsed) != len(flows) {
			t.Fatalf("events %v: %d flows parsed, %v", events, len(parsed), err)
		}
	}
}

// TestAppendTS holds the timestamp encoder to time's RFC 3339 formatting
// across days, midnight, before 1970 and one encoder reused in between.
func TestAppendTS(t *testing.T) {
	var e flowEncoder
	for _, at := range []time.Time{
		time.Date(2026, 1, 2, 3, 4, 5, 123456789, time.UTC),
		time.Date(2026, 1, 2, 23, 59, 59, 999999999, time.UTC),
		time.Date(2026, 1, 3, 0, 0, 0, 1000, time.UTC),
		time.Date(2026, 1, 2, 12, 0, 0, 0, time.UTC),
		time.Date(1969, 12, 31, 23, 59, 58, 500000000, time.UTC),
		time.Date(1960, 6, 1, 10, 20, 30, 0, time.UTC),
		time.Date(2100, 2, 28, 7, 8, 9, 10, time.UTC),
	} {
		want, _ := json.Marshal(ts(at))
		if got := e.appendTS(nil, flowTS(flow.TS(at))); !bytes.Equal(got, want) {
			t.Errorf("%v: got %s want %s", at, got, want)
		}
	}
}
