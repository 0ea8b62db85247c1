package flow

import (
	"net/netip"
	"testing"
	"time"

	"github.com/flowdoc/flowdoc/flow/packet"
)

// TestRecentCopies: a packet again within DupWindow, either way in time,
// is a copy; later, or with another IPv4 identification or checksum (a
// retransmission), or the other way on the tuple, it is not.
func TestRecentCopies(t *testing.T) {
	seg := packet.Segment{Src: netip.MustParseAddrPort("10.0.0.1:40000"), Dst: netip.MustParseAddrPort("10.0.0.2:80"),
		Seq: 1000, Ack: 2000, Flags: packet.ACK | packet.PSH, Window: 501, IPID: 0x1234, Checksum: 0xbeef, Len: 1448}
	k, srcA := makeTuple(seg.Src, seg.Dst)
	h := k.hash()
	at := TS(t0)
	ms := Timestamp(time.Millisecond)
	cases := []struct {
		what string
		edit func(s *packet.Segment)
		dt   Timestamp
		copy bool
	}{
		{"the same, 1.9 ms later", func(*packet.Segment) {}, 19 * ms / 10, true},
		{"the same, 0.5 ms before", func(*packet.Segment) {}, -ms / 2, true},
		{"the same, 2.1 ms later", func(*packet.Segment) {}, 21 * ms / 10, false},
		{"another identification", func(s *packet.Segment) { s.IPID++ }, ms / 10, false},
		{"another checksum", func(s *packet.Segment) { s.Checksum++ }, ms / 10, false},
		{"another window", func(s *packet.Segment) { s.Window++ }, ms / 10, false},
		{"another length", func(s *packet.Segment) { s.Len-- }, ms / 10, false},
	}
	for _, c := range cases {
		var r recent
		first := seg
		if r.seen(h, srcA, &first, at) {
			t.Fatalf("%s: the first packet seen as a copy", c.what)
		}
		again := seg
		c.edit(&again)
		if got := r.seen(h, srcA, &again, at+c.dt); got != c.copy {
			t.Errorf("%s: a copy %v; want %v", c.what, got, c.copy)
		}
	}
	var r recent
	r.seen(h, srcA, &seg, at)
	if r.seen(h, !srcA, &seg, at) {
		t.Error("the same numbers the other way on the tuple: a copy")
	}
}
