package analyze

import (
	"errors"
	"fmt"
	"io"
	"testing"

	"github.com/flowdoc/flowdoc/flow"
)

// TestWarningText holds the words of each kind of warning, as reports and
// the terminal say them.
func TestWarningText(t *testing.T) {
	for _, tc := range []struct {
		w    flow.Warning
		want string
	}{
		{flow.Warning{Kind: flow.WarnStopped, Packet: 7, N: 6, Err: io.ErrUnexpectedEOF},
			"packet 7: truncated record (unexpected EOF); stopped reading, the 6 packets before it were analysed"},
		{flow.Warning{Kind: flow.WarnStopped, Packet: 3, N: 2, Err: errors.New("bad record length")},
			"packet 3: unreadable record (bad record length); stopped reading, the 2 packets before it were analysed"},
		{flow.Warning{Kind: flow.WarnLonger, Packet: 4, Captured: 166, OnWire: 146},
			"packet 4: captured length 166 exceeds its length on the wire 146; read as captured"},
		{flow.Warning{Kind: flow.WarnLongerAll, N: 9}, "9 packets in all had a captured length over their length on the wire"},
		{flow.Warning{Kind: flow.WarnDropped, N: 2}, "the capture's statistics say 2 packets were dropped while capturing: some states may be wrong"},
		{flow.Warning{Kind: flow.WarnLinkType, Packet: 1, LinkType: "TOKEN_RING"}, "packet 1: link type TOKEN_RING is not supported; its packets are skipped"},
		{flow.Warning{Kind: flow.WarnPacket, Packet: 10, Err: fmt.Errorf("packet 10: TCP header cut")}, "packet 10: TCP header cut"},
		{flow.Warning{Kind: flow.WarnEvicted, N: 120, Limit: 5000},
			"120 connections were dropped from memory to stay under --max-flows 5000: the report covers the newest"},
		{flow.Warning{Kind: flow.WarnOmitted}, "further warnings omitted"},
		{flow.Warning{Kind: flow.WarnOther, Err: errors.New("no such file")}, "no such file"},
	} {
		if got := WarningText(tc.w); got != tc.want {
			t.Errorf("%+v:\n got %q\nwant %q", tc.w, got, tc.want)
		}
	}
}
