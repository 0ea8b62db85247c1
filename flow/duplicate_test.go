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
		if copied, _ := r.seen(dupSignature(h, srcA, &first), &first, at, 0); copied {
			t.Fatalf("%s: the first packet seen as a copy", c.what)
		}
		again := seg
		c.edit(&again)
		if got, _ := r.seen(dupSignature(h, srcA, &again), &again, at+c.dt, 0); got != c.copy {
			t.Errorf("%s: a copy %v; want %v", c.what, got, c.copy)
		}
	}
	var r recent
	r.seen(dupSignature(h, srcA, &seg), &seg, at, 0)
	if copied, _ := r.seen(dupSignature(h, !srcA, &seg), &seg, at, 0); copied {
		t.Error("the same numbers the other way on the tuple: a copy")
	}
}

// TestCrossCopies: a copy in another input (the same traffic captured at
// two points, clocks apart) is one within CrossWindow; a retransmission
// in the same input, 200 ms on and identical (no IPv4 identification, no
// timestamp option), is not one of its original, and its own copy in the
// other input is; what is older than the window is forgotten.
func TestCrossCopies(t *testing.T) {
	seg := packet.Segment{Src: netip.MustParseAddrPort("[fd00::1]:40000"), Dst: netip.MustParseAddrPort("[fd00::2]:80"),
		Seq: 1000, Ack: 2000, Flags: packet.ACK | packet.PSH, Window: 501, Checksum: 0xbeef, Len: 1448}
	k, srcA := makeTuple(seg.Src, seg.Dst)
	sig := dupSignature(k.hash(), srcA, &seg)
	at := TS(t0)
	ms := Timestamp(time.Millisecond)
	var x crossCopies
	for _, s := range []struct {
		what   string
		at     Timestamp
		input  uint16
		copied bool
	}{
		{"the original, at A", at, 0, false},
		{"its copy at B, 50 ms later", at + 50*ms, 1, true},
		{"the retransmission at A", at + 200*ms, 0, false},
		{"its copy at B", at + 250*ms, 1, true},
		{"at B 1.5 s after the last at A", at + 1700*ms, 1, false},
	} {
		if got := x.seen(sig, s.at, s.input); got != s.copied {
			t.Errorf("%s: a copy %v; want %v", s.what, got, s.copied)
		}
	}
	// Thousands of others later, the window has moved on: all forgotten
	// but the last second's, though one signature comes back every half
	// second (an ACK that nothing tells apart).
	for i := range 5000 {
		x.seen(uint64(i)<<16, at+1700*ms+Timestamp(i)*ms, 0)
		if i%500 == 0 {
			x.seen(sig, at+1700*ms+Timestamp(i)*ms, 0)
		}
	}
	if n := len(x.last); n > 1002 {
		t.Errorf("%d remembered; want the last second's, 1,000", n)
	}
}

// TestRecentEvidence: with nothing but its bytes to tell them apart (IPv6,
// or IPv4 identification 0), a segment again is a copy only when it
// carries data, a SYN or a FIN, within copyAtOnce; another interface or
// direction says it is a copy, whatever it carries.
func TestRecentEvidence(t *testing.T) {
	v6 := packet.Segment{Src: netip.MustParseAddrPort("[fd00::1]:40000"), Dst: netip.MustParseAddrPort("[fd00::2]:80"),
		Seq: 1000, Ack: 2000, Flags: packet.ACK | packet.PSH, Window: 501, Checksum: 0xbeef, Len: 1448}
	ack := v6
	ack.Flags, ack.Len = packet.ACK, 0
	rst := packet.Segment{Src: netip.MustParseAddrPort("10.0.0.2:80"), Dst: netip.MustParseAddrPort("10.0.0.1:40000"),
		Seq: 5000, Flags: packet.RST, Checksum: 0x1234} // IPv4, identification 0
	us := Timestamp(time.Microsecond)
	for _, c := range []struct {
		what        string
		seg         packet.Segment
		dt          Timestamp
		iface, dir2 bool // the second from another interface; the other way
		copy        bool
	}{
		{"IPv6 data again 10 µs later", v6, 10 * us, false, false, true},
		{"IPv6 data again 160 µs later (a fast retransmission)", v6, 160 * us, false, false, false},
		{"IPv6 duplicate ACK 5 µs later", ack, 5 * us, false, false, false},
		{"IPv6 ACK 5 µs later on another interface", ack, 5 * us, true, false, true},
		{"IPv6 ACK 5 µs later, the other way through the host", ack, 5 * us, false, true, true},
		{"IPv4 RST with identification 0, again 3 µs later", rst, 3 * us, false, false, false},
		{"IPv6 data 1 ms later on another interface", v6, 1000 * us, true, false, true},
	} {
		k, srcA := makeTuple(c.seg.Src, c.seg.Dst)
		h := k.hash()
		var r recent
		first, again := c.seg, c.seg
		first.Iface, again.Iface = 3, 3
		first.Dir, again.Dir = packet.DirIncoming, packet.DirIncoming
		if c.iface {
			again.Iface = 4
		}
		if c.dir2 {
			again.Dir = packet.DirOutgoing
		}
		r.seen(dupSignature(h, srcA, &first), &first, TS(t0), 0)
		if got, _ := r.seen(dupSignature(h, srcA, &again), &again, TS(t0)+c.dt, 0); got != c.copy {
			t.Errorf("%s: a copy %v; want %v", c.what, got, c.copy)
		}
	}
}

// TestVXLANBothLayers: tcpdump -i any on a host of a VXLAN overlay
// records each packet twice: encapsulated on the underlay's interface,
// and as it is on the vxlan one (testdata/decode/vxlan-any.pcap: Linux,
// two network namespaces, an HTTP request over vxlan0). Decoded, both are
// the inner packet: one connection, each packet once.
func TestVXLANBothLayers(t *testing.T) {
	res := readFile(t, "../testdata/decode/vxlan-any.pcap", ReadOptions{})
	in := res.Inputs[0]
	if len(res.Flows) != 1 || in.Duplicates != in.TCPPackets/2 {
		t.Fatalf("%d flows, %d of %d TCP packets captured twice; want 1 flow, half", len(res.Flows), in.Duplicates, in.TCPPackets)
	}
	r := res.Flows[0]
	if r.Client.Packets+r.Server.Packets != uint64(in.TCPPackets/2) || r.Client.Retrans+r.Server.Retrans != 0 || r.History != "ShADadFf" {
		t.Errorf("flow: %d/%d packets, %d/%d retransmissions, history %q; want each packet once", r.Client.Packets, r.Server.Packets,
			r.Client.Retrans, r.Server.Retrans, r.History)
	}
}
