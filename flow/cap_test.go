package flow

import (
	"bytes"
	"context"
	"net"
	"net/netip"
	"runtime"
	"testing"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcapgo"

	"github.com/flowdoc/flowdoc/flow/capture"
	"github.com/flowdoc/flowdoc/flow/packet"
)

// capTraffic is n connections from one client to one server, a few
// milliseconds apart: every third one opened and left open (it stays in
// the table), the others opened and closed by both ends.
func capTraffic(n int) (segs []packet.Segment, metas []Meta) {
	server := netip.MustParseAddrPort("10.0.0.2:80")
	for i := range n {
		client := netip.AddrPortFrom(netip.MustParseAddr("10.0.0.1"), uint16(10000+i%50000))
		if i >= 50000 {
			client = netip.AddrPortFrom(netip.MustParseAddr("10.0.1.1"), uint16(10000+i%50000))
		}
		at := t0.Add(time.Duration(i) * 3 * time.Millisecond)
		c, s := uint32(1000*i+1), uint32(7000*i+1)
		add := func(from Side, flags packet.Flags, seq, ack uint32) {
			src, dst := client, server
			if from == Server {
				src, dst = server, client
			}
			segs = append(segs, packet.Segment{Src: src, Dst: dst, Seq: seq, Ack: ack, Flags: flags, Window: 500, WScale: -1})
			metas = append(metas, Meta{At: TS(at), Packet: uint32(len(segs)), WireLen: 54})
			at = at.Add(100 * time.Microsecond)
		}
		add(Client, packet.SYN, c, 0)
		add(Server, packet.SYN|packet.ACK, s, c+1)
		add(Client, packet.ACK, c+1, s+1)
		if i%3 != 0 {
			add(Client, packet.FIN|packet.ACK, c+1, s+1)
			add(Server, packet.FIN|packet.ACK, s+1, c+2)
			add(Client, packet.ACK, c+2, s+2)
		}
	}
	return segs, metas
}

// TestMaxFlowsNeverExceeded: a tracker under Config.MaxFlows never holds
// more records than the cap, not even between sweeps, and whether the
// connections are over or still open; the newest are kept.
func TestMaxFlowsNeverExceeded(t *testing.T) {
	segs, metas := capTraffic(3000)
	for _, limit := range []int{1, 7, 100, 1000} {
		tr := NewTracker(Config{MaxFlows: limit})
		peak := 0
		for i := range segs {
			tr.Add(&segs[i], metas[i])
			n := len(tr.records) + tr.unrecorded // open connections have no record yet
			peak = max(peak, n)
			if n > limit {
				t.Fatalf("cap %d: %d records after packet %d", limit, n, i+1)
			}
		}
		// Nothing else holds on to a dropped record.
		kept := map[*Record]bool{}
		for _, r := range tr.records {
			kept[r] = true
		}
		for _, e := range tr.expiry {
			if !kept[e.r] {
				t.Fatalf("cap %d: a dropped record is still held, retired at %v", limit, e.at)
			}
		}
		recs, _ := tr.Finish()
		if len(recs) > limit || tr.Evicted() == 0 || peak < limit*8/10 {
			t.Errorf("cap %d: %d flows at the end, %d at most, %d evicted", limit, len(recs), peak, tr.Evicted())
		}
		if last := recs[len(recs)-1]; last.Key.Client().Port() != uint16(10000+2999) {
			t.Errorf("cap %d: the newest connection was dropped; the last kept is %s", limit, last.Key)
		}
	}
}

// TestMaxFlowsForThePass: the cap holds for the whole pass, whatever the
// number of trackers it is shared among.
func TestMaxFlowsForThePass(t *testing.T) {
	segs, metas := capTraffic(5000)
	var buf bytes.Buffer
	w := pcapgo.NewWriterNanos(&buf)
	if err := w.WriteFileHeader(65536, layers.LinkTypeEthernet); err != nil {
		t.Fatal(err)
	}
	sb := gopacket.NewSerializeBuffer()
	for i, s := range segs {
		eth := &layers.Ethernet{SrcMAC: net.HardwareAddr{2, 0, 0, 0, 0, 1}, DstMAC: net.HardwareAddr{2, 0, 0, 0, 0, 2}, EthernetType: layers.EthernetTypeIPv4}
		ip := &layers.IPv4{Version: 4, TTL: 64, Protocol: layers.IPProtocolTCP, SrcIP: s.Src.Addr().AsSlice(), DstIP: s.Dst.Addr().AsSlice()}
		tcp := &layers.TCP{SrcPort: layers.TCPPort(s.Src.Port()), DstPort: layers.TCPPort(s.Dst.Port()), Seq: s.Seq, Ack: s.Ack,
			SYN: s.Flags&packet.SYN != 0, ACK: s.Flags&packet.ACK != 0, FIN: s.Flags&packet.FIN != 0, Window: s.Window}
		tcp.SetNetworkLayerForChecksum(ip)
		if err := gopacket.SerializeLayers(sb, gopacket.SerializeOptions{FixLengths: true, ComputeChecksums: true}, eth, ip, tcp); err != nil {
			t.Fatal(err)
		}
		b := sb.Bytes()
		ci := gopacket.CaptureInfo{Timestamp: metas[i].At.Time(), CaptureLength: len(b), Length: len(b)}
		if err := w.WritePacket(ci, b); err != nil {
			t.Fatal(err)
		}
	}
	for _, trackers := range []int{1, 3, 8} {
		for _, limit := range []int{5, 1000} {
			src, err := capture.NewSource("cap.pcap", bytes.NewReader(buf.Bytes()))
			if err != nil {
				t.Fatal(err)
			}
			res, err := Read(context.Background(), []*capture.Source{src}, ReadOptions{Config: Config{MaxFlows: limit}, Trackers: trackers})
			if err != nil {
				t.Fatal(err)
			}
			if len(res.Flows) > limit || res.Evicted == 0 || len(res.Flows)+res.Evicted < 5000 {
				t.Errorf("%d trackers, cap %d: %d flows kept, %d evicted, of 5000", trackers, limit, len(res.Flows), res.Evicted)
			}
		}
	}
}

// TestMaxFlowsFreesRecords: under Config.MaxFlows (flowdoc live), the
// records eviction drops are let go of: the heap follows the cap, not
// every connection ever made.
func TestMaxFlowsFreesRecords(t *testing.T) {
	const capFlows, conns = 2000, 100_000
	tr := NewTracker(Config{MaxFlows: capFlows})
	server := netip.MustParseAddrPort("10.0.0.2:80")
	feed := &segFeed{tr: tr}
	add := func(at time.Duration, src, dst netip.AddrPort, f packet.Flags, seq, ack uint32) {
		feed.add(at, src, dst, f, seq, ack, 500)
	}
	heap := func() uint64 {
		runtime.GC()
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		return ms.HeapAlloc
	}
	before := heap()
	for i := range conns { // each opened and closed in turn, 2000 a second
		at := time.Duration(i) * 500 * time.Microsecond
		c := netip.AddrPortFrom(netip.AddrFrom4([4]byte{10, 1, byte(i >> 8), byte(i)}), uint16(20000+i%30000))
		add(at, c, server, packet.SYN, 100, 0)
		add(at, server, c, packet.SYN|packet.ACK, 500, 101)
		add(at, c, server, packet.ACK, 101, 501)
		add(at, c, server, packet.FIN|packet.ACK, 101, 501)
		add(at, server, c, packet.FIN|packet.ACK, 501, 102)
		add(at, c, server, packet.ACK, 102, 502)
	}
	grew := heap() - min(before, heap())
	if tr.evicted < conns-2*capFlows {
		t.Fatalf("%d records dropped of %d connections: the test does not exercise eviction", tr.evicted, conns)
	}
	// A record is 448 bytes: 100 k of them kept would be 45 MB.
	if grew > 16<<20 {
		t.Errorf("the heap grew %d MB over %d connections with at most %d kept", grew>>20, conns, capFlows)
	}
	runtime.KeepAlive(tr)
}
