package flow

import (
	"bytes"
	"flag"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcapgo"

	"github.com/flowdoc/flowdoc/flow/packet"
	"github.com/flowdoc/flowdoc/flow/payload"
)

var writeCaptures = flag.Bool("write-captures", false, "rewrite the crafted captures in testdata/zeek")

// crafted is a packet of a crafted capture: pkt, and the client port of
// its connection (several connections may share a capture).
type crafted struct {
	pkt
	port uint16
}

// zeekCapture is a crafted capture of one of Zeek's counting rules.
type zeekCapture struct {
	name    string
	snaplen int // 0: whole packets
	pkts    []crafted
}

// at0 builds crafted packets of one connection from client port port.
func at0(port uint16, ps ...pkt) []crafted {
	out := make([]crafted, len(ps))
	for i, p := range ps {
		out[i] = crafted{pkt: p, port: port}
	}
	return out
}

// zeekCaptures are the captures testdata/zeek holds; TestZeekCaptures
// writes them with -write-captures. Client 10.0.0.1, server 10.0.0.2:80;
// ISNs 1000 (client) and 5000 (server).
func zeekCaptures() []zeekCapture {
	const c, s = 1000, 5000
	close := func(cs, ss uint32, at float64) []pkt { // client closes first
		return []pkt{
			{Client, FA, cs, ss, 0, at, 0},
			{Server, A, ss, cs + 1, 0, at + 0.001, 0},
			{Server, FA, ss, cs + 1, 0, at + 0.002, 0},
			{Client, A, cs + 1, ss + 1, 0, at + 0.003, 0},
		}
	}
	return []zeekCapture{
		// A SYN-ACK captured before its SYN (as with -i any): one
		// connection.
		{name: "synack-first", pkts: at0(40000, cat([]pkt{
			{Server, SA, s, c + 1, 0, 0.0001, 0},
			{Client, S, c, 0, 0, 0.0002, 0},
			{Client, A, c + 1, s + 1, 0, 0.001, 0},
			{Client, PA, c + 1, s + 1, 100, 0.002, 0},
			{Server, A, s + 1, c + 101, 0, 0.003, 0},
			{Server, PA, s + 1, c + 101, 200, 0.004, 0},
			{Client, A, c + 101, s + 201, 0, 0.005, 0},
		}, close(c+101, s+201, 0.01))...)},
		// Out of order both ways, and one true retransmission.
		{name: "out-of-order", pkts: at0(40001, cat(handshake(c, s), []pkt{
			{Client, PA, c + 101, s + 1, 100, 0.010, 0}, // second segment first
			{Client, PA, c + 1, s + 1, 100, 0.011, 0},   // then the first
			{Client, PA, c + 201, s + 1, 100, 0.012, 0},
			{Server, A, s + 1, c + 301, 0, 0.013, 0},
			{Server, PA, s + 201, c + 301, 100, 0.020, 0},
			{Server, PA, s + 1, c + 301, 200, 0.021, 0},
			{Server, PA, s + 1, c + 301, 200, 0.300, 0}, // sent again
			{Client, A, c + 301, s + 301, 0, 0.301, 0},
		}, close(c+301, s+301, 0.4))...)},
		// Holes never filled: 100 bytes of the client's, and the
		// server's last 200, seen only in the client's ACK.
		{name: "gap", pkts: at0(40002, cat(handshake(c, s), []pkt{
			{Client, PA, c + 1, s + 1, 100, 0.010, 0},
			{Client, PA, c + 201, s + 1, 100, 0.012, 0},
			{Server, A, s + 1, c + 301, 0, 0.013, 0},
			{Server, PA, s + 1, c + 301, 100, 0.020, 0},
			{Client, A, c + 301, s + 301, 0, 0.022, 0},
		}, close(c+301, s+301, 0.1))...)},
		// Payload cut by a snap length of 96 bytes: 42 of each
		// segment's payload captured.
		{name: "snaplen", snaplen: 96, pkts: at0(40003, cat(handshake(c, s), []pkt{
			{Client, PA, c + 1, s + 1, 400, 0.010, 0},
			{Server, A, s + 1, c + 401, 0, 0.011, 0},
			{Server, PA, s + 1, c + 401, 1000, 0.020, 0},
			{Client, A, c + 401, s + 1001, 0, 0.021, 0},
		}, close(c+401, s+1001, 0.1))...)},
		// A RST after both FINs: still a normal close (SF), and the
		// RST and the final ACK, a second later, do not lengthen it.
		{name: "rst-after-fins", pkts: at0(40004, cat(handshake(c, s), []pkt{
			{Client, PA, c + 1, s + 1, 10, 0.010, 0},
			{Server, PA, s + 1, c + 11, 20, 0.011, 0},
			{Client, FA, c + 11, s + 21, 0, 0.020, 0},
			{Server, FA, s + 21, c + 12, 0, 0.021, 0},
			{Client, A, c + 12, s + 22, 0, 1.021, 0},
			{Client, RA, c + 12, s + 22, 0, 1.5, 0},
		})...)},
		// Handshakes with a packet missing: S1 both.
		{name: "handshake-s1", pkts: append(
			at0(40005, handshake(c, s)[:2]...), // no final ACK
			at0(40006, []pkt{ // the SYN missed
				{Server, SA, s, c + 1, 0, 0.010, 0},
				{Client, A, c + 1, s + 1, 0, 0.011, 0},
			}...)...)},
		// History letters: a FIN carrying data is F, not D; a FIN sent
		// again is not T, data sent again is.
		{name: "letters", pkts: at0(40007, cat(handshake(c, s), []pkt{
			{Client, PA, c + 1, s + 1, 50, 0.010, 0},
			{Server, A, s + 1, c + 51, 0, 0.011, 0},
			{Server, FA, s + 1, c + 51, 30, 0.020, 0}, // data and FIN
			{Server, FA, s + 1, c + 51, 30, 0.250, 0}, // sent again: t
			{Client, A, c + 51, s + 32, 0, 0.251, 0},
			{Client, FA, c + 51, s + 32, 0, 0.260, 0},
			{Client, FA, c + 51, s + 32, 0, 0.500, 0}, // sent again: no T
			{Server, A, s + 32, c + 52, 0, 0.501, 0},
		})...)},
	}
}

// frame builds the Ethernet frame of a crafted packet.
func (p crafted) frame(t testing.TB) []byte {
	cli := net.IP{10, 0, 0, 1}
	srv := net.IP{10, 0, 0, 2}
	ip := &layers.IPv4{Version: 4, TTL: 64, Protocol: layers.IPProtocolTCP, SrcIP: cli, DstIP: srv}
	tcp := &layers.TCP{SrcPort: layers.TCPPort(p.port), DstPort: 80, Seq: p.seq, Ack: p.ack, Window: 500}
	if p.from == Server {
		ip.SrcIP, ip.DstIP = srv, cli
		tcp.SrcPort, tcp.DstPort = 80, layers.TCPPort(p.port)
	}
	f := p.flags
	tcp.SYN, tcp.ACK, tcp.FIN, tcp.RST, tcp.PSH = f.Has(packet.SYN), f.Has(packet.ACK), f.Has(packet.FIN), f.Has(packet.RST), f.Has(packet.PSH)
	if f.Has(packet.RST) {
		tcp.Window = 0
	}
	tcp.SetNetworkLayerForChecksum(ip)
	eth := &layers.Ethernet{SrcMAC: net.HardwareAddr{2, 0, 0, 0, 0, 1}, DstMAC: net.HardwareAddr{2, 0, 0, 0, 0, 2}, EthernetType: layers.EthernetTypeIPv4}
	buf := gopacket.NewSerializeBuffer()
	payload := bytes.Repeat([]byte{'x'}, p.len)
	if err := gopacket.SerializeLayers(buf, gopacket.SerializeOptions{FixLengths: true, ComputeChecksums: true}, eth, ip, tcp, gopacket.Payload(payload)); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// write encodes a crafted capture as a pcap file.
func (zc zeekCapture) write(t testing.TB) []byte {
	var out bytes.Buffer
	w := pcapgo.NewWriterNanos(&out)
	snap := zc.snaplen
	if snap == 0 {
		snap = 65535
	}
	if err := w.WriteFileHeader(uint32(snap), layers.LinkTypeEthernet); err != nil {
		t.Fatal(err)
	}
	for _, p := range zc.pkts {
		d := p.frame(t)
		ci := gopacket.CaptureInfo{Timestamp: t0.Add(time.Duration(p.at * float64(time.Second))), Length: len(d)}
		if len(d) > snap {
			d = d[:snap]
		}
		ci.CaptureLength = len(d)
		if err := w.WritePacket(ci, d); err != nil {
			t.Fatal(err)
		}
	}
	return out.Bytes()
}

// zeekFlow is what a crafted capture's connection must come out as.
type zeekFlow struct {
	port           uint16
	packets, bytes [2]uint64
	missed         [2]uint64
	retrans        [2]uint32
	history        string
	client, server State
}

// TestZeekCaptures reads each crafted capture, with and without the
// payload reader, and checks its connections: one per 4-tuple, packets,
// bytes by sequence numbers, bytes missed, retransmissions and history
// letters as Zeek's rules have them. (testdata/zeek/*.tshark and
// *.ipbytes cross-check packets and bytes with tshark.)
func TestZeekCaptures(t *testing.T) {
	want := map[string][]zeekFlow{
		"synack-first": {{port: 40000, packets: [2]uint64{6, 5}, bytes: [2]uint64{100, 200},
			history: "^hSADadFf", client: TimeWait, server: Closed}},
		"out-of-order": {{port: 40001, packets: [2]uint64{8, 7}, bytes: [2]uint64{300, 300}, retrans: [2]uint32{0, 1},
			history: "ShADTadtFf", client: TimeWait, server: Closed}},
		"gap": {{port: 40002, packets: [2]uint64{7, 5}, bytes: [2]uint64{300, 300}, missed: [2]uint64{100, 200},
			history: "ShADadFf", client: TimeWait, server: Closed}},
		"snaplen": {{port: 40003, packets: [2]uint64{6, 5}, bytes: [2]uint64{400, 1000}, missed: [2]uint64{400 - 42, 1000 - 42},
			history: "ShADadFf", client: TimeWait, server: Closed}},
		"rst-after-fins": {{port: 40004, packets: [2]uint64{6, 3}, bytes: [2]uint64{10, 20},
			history: "ShADdFfR", client: Closed, server: Closed}},
		"handshake-s1": {
			{port: 40005, packets: [2]uint64{1, 1}, history: "Sh", client: Established, server: SynRecv},
			{port: 40006, packets: [2]uint64{1, 1}, history: "^hA", client: Established, server: Established},
		},
		"letters": {{port: 40007, packets: [2]uint64{6, 5}, bytes: [2]uint64{50, 30}, retrans: [2]uint32{1, 1},
			history: "ShADaftF", client: Closed, server: TimeWait}},
	}
	for _, zc := range zeekCaptures() {
		path := filepath.Join("../testdata/zeek", zc.name+".pcap")
		data := zc.write(t)
		if *writeCaptures {
			if err := os.WriteFile(path, data, 0o644); err != nil {
				t.Fatal(err)
			}
		} else if old, err := os.ReadFile(path); err != nil || !bytes.Equal(old, data) {
			t.Errorf("%s: not what zeekCaptures makes (go test ./flow -run TestZeekCaptures -write-captures)", path)
		}
		for _, off := range []bool{false, true} {
			res := analyzeFile(t, path, Config{Payload: payload.Config{Off: off}})
			flows := want[zc.name]
			if len(res.Flows) != len(flows) {
				t.Errorf("%s: %d flows, want %d", zc.name, len(res.Flows), len(flows))
				continue
			}
			for i, w := range flows {
				r := res.Flows[i]
				got := zeekFlow{port: r.Key.Client().Port(),
					packets: [2]uint64{r.Client.Packets, r.Server.Packets},
					bytes:   [2]uint64{r.Client.Bytes, r.Server.Bytes},
					missed:  [2]uint64{r.Client.Missed, r.Server.Missed},
					retrans: [2]uint32{r.Client.Retrans, r.Server.Retrans},
					history: r.History, client: r.Client.State, server: r.Server.State}
				if got != w || r.Reused {
					t.Errorf("%s (payload off %v) flow %d:\n got %+v reused %v\nwant %+v", zc.name, off, r.ID, got, r.Reused, w)
				}
			}
		}
	}
}

// TestHoles: past maxHoles the oldest hole is taken as missed for good;
// a segment that fills it later counts as sent again, one that fills a
// hole still kept does not.
func TestHoles(t *testing.T) {
	const c, s = 1000, 5000
	pkts := handshake(c, s)
	for i := range 7 { // 100 bytes, then a hole of 100: six holes
		pkts = append(pkts, pkt{Client, PA, c + 1 + uint32(200*i), s + 1, 100, 0.01 * float64(i+1), 0})
	}
	pkts = append(pkts,
		pkt{Client, PA, c + 1101, s + 1, 100, 0.1, 0}, // the last hole, kept
		pkt{Client, PA, c + 101, s + 1, 100, 0.11, 0}, // the first, let go
	)
	r := run(pkts, Config{})[0]
	if r.Client.Bytes != 1300 || r.Client.Missed != 500 || r.Client.Retrans != 1 {
		t.Errorf("bytes %d, missed %d, retransmissions %d; want 1300, 500, 1", r.Client.Bytes, r.Client.Missed, r.Client.Retrans)
	}
}

// TestBytesFromAcks: as in Zeek, what the peer acknowledged counts in a
// side's bytes (and as missed) where its own packets were not captured.
func TestBytesFromAcks(t *testing.T) {
	const c, s = 1000, 5000
	for _, tc := range []struct {
		name          string
		pkts          []pkt
		bytes, missed uint64
	}{
		{"one direction captured", []pkt{
			{Client, PA, c + 1, s + 1, 10, 0, 0},
			{Client, A, c + 11, s + 501, 0, 0.1, 0},
			{Client, A, c + 11, s + 1001, 0, 0.2, 0},
		}, 1000, 1000},
		{"the first packets missed", []pkt{
			{Client, PA, c + 1, s + 1, 10, 0, 0},
			{Server, PA, s + 301, c + 11, 100, 0.1, 0},
			{Client, A, c + 11, s + 401, 0, 0.2, 0},
		}, 400, 300},
	} {
		r := run(tc.pkts, Config{})[0]
		if r.Server.Bytes != tc.bytes || r.Server.Missed != tc.missed {
			t.Errorf("%s: server bytes %d, missed %d; want %d, %d", tc.name, r.Server.Bytes, r.Server.Missed, tc.bytes, tc.missed)
		}
	}
}

// TestLateSyn: a SYN captured after the SYN-ACK and after its side's
// first data (with the data before it missed) extends the sequence space
// down to it: nothing is counted twice.
func TestLateSyn(t *testing.T) {
	const c, s = 1000, 5000
	r := run([]pkt{
		{Server, SA, s, c + 1, 0, 0, 0},
		{Client, PA, c + 101, s + 1, 100, 0.001, 0},
		{Client, S, c, 0, 0, 0.002, 0},
		{Client, PA, c + 1, s + 1, 100, 0.003, 0},
		{Client, PA, c + 101, s + 1, 100, 0.004, 0}, // sent again
		{Client, PA, c + 201, s + 1, 100, 0.005, 0},
	}, Config{})
	if len(r) != 1 || r[0].Client.Bytes != 300 || r[0].Client.Missed != 0 || r[0].Client.Retrans != 1 {
		t.Fatalf("%d flows; client bytes %d, missed %d, retransmissions %d; want 1 flow, 300, 0, 1",
			len(r), r[0].Client.Bytes, r[0].Client.Missed, r[0].Client.Retrans)
	}
}
