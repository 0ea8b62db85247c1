package analyze

import (
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/flowdoc/flowdoc/flow"
	"github.com/flowdoc/flowdoc/flow/packet"
)

// TestLadder lays out crafted flows: one with more packets than a ladder
// draws, and one whose client sent data after the server's FIN and then
// sat in CLOSE_WAIT.
func TestLadder(t *testing.T) {
	start := flow.TS(time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC))
	at := func(ms int) flow.Timestamp { return start + flow.Timestamp(time.Duration(ms)*time.Millisecond) }
	long := &flow.Record{ID: 1, Key: flow.MakeKey(netipAP("10.0.0.1:40000"), netipAP("10.0.0.2:80")), First: at(0), Last: at(29)}
	for i := range 30 {
		long.Events = append(long.Events, flow.Event{At: at(i), Packet: uint32(i + 1), From: flow.Side(i % 2), Flags: packet.ACK,
			ClientState: flow.Established, ServerState: flow.Established})
	}
	late := &flow.Record{ID: 2, Key: flow.MakeKey(netipAP("10.0.0.1:40001"), netipAP("10.0.0.2:80")), First: at(0), Last: at(2000),
		Events: []flow.Event{
			{At: at(0), Packet: 1, From: flow.Client, Flags: packet.SYN, ClientState: flow.SynSent, ServerState: flow.SynRecv},
			{At: at(1000), Packet: 5, From: flow.Server, Flags: packet.FIN | packet.ACK, ClientState: flow.CloseWait, ServerState: flow.FinWait1},
		}}
	late.Client.State, late.Client.Since = flow.CloseWait, at(1000)
	late.Client.LastPayload, late.Client.LastPayloadPacket = at(1500), 7
	late.Server.FinAt, late.Server.FinPacket = at(1000), 5
	rep := &Report{End: at(3000).Time(), Flows: []Flow{{Record: long}, {Record: late}},
		Findings: []Finding{{Flows: []int{1}}, {Flows: []int{1, 2}}, {Flows: []int{1}}}}

	ls := rep.FindingLadders()
	if len(ls) != 3 || ls[0] == nil || ls[1] == nil || ls[2] != nil {
		t.Fatalf("ladders %v: want flow 1's, flow 2's (flow 1 drawn already), none", ls)
	}
	l := ls[0]
	if len(l.Rows) != maxLadder || l.Skipped != 30-maxLadder || l.SkippedAt != maxLadder-8 || l.Rows[l.SkippedAt].Packet != 30-8+1 {
		t.Errorf("long flow: %d rows, %d skipped before row %d (packet %d)", len(l.Rows), l.Skipped, l.SkippedAt, l.Rows[l.SkippedAt].Packet)
	}
	if l.Rows[0].States != "ESTABLISHED / ESTABLISHED" || l.Rows[1].States != "" {
		t.Errorf("states are drawn where they change: %q, %q", l.Rows[0].States, l.Rows[1].States)
	}

	l = ls[1]
	if len(l.Rows) != 3 || l.Rows[2].Mark != MarkLate || l.Rows[2].Label != "data, after the peer's FIN" || l.Rows[2].From != "client" || l.Rows[2].States != "" {
		t.Errorf("late data: %+v", l.Rows)
	}
	if len(l.Missing) != 1 || l.Missing[0].From != "client" || !strings.Contains(l.Missing[0].Text, "no FIN from the client: CLOSE_WAIT for 2.0 s") {
		t.Errorf("missing FIN: %+v", l.Missing)
	}
}

func netipAP(s string) netip.AddrPort { return netip.MustParseAddrPort(s) }
