package flow

import (
	"bytes"
	"encoding/binary"
	"errors"
	"flag"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcapgo"

	"github.com/flowdoc/flowdoc/flow/capture"
	"github.com/flowdoc/flowdoc/flow/packet"
)

// The captures in testdata/decode are made here: go test ./flow -run
// TestDecodeCaptures -update rewrites them and, where tshark is
// installed, their .tshark sidecars (tshark -q -z conv,tcp), which
// TestTsharkConversations holds flowdoc's counts to. The .ipbytes
// sidecars of caplen-over-len and link-types are testdata/lab/ipbytes.sh's
// (TestTsharkIPBytes); tunnels and fragments have none, as that script
// sums the outer IP header's length, or the last fragment's, where
// flowdoc counts the inner or reassembled datagram.
var update = flag.Bool("update", false, "rewrite testdata/decode captures and their tshark sidecars")

const decodeDir = "../testdata/decode"

// innerPkt is one packet of a crafted conversation: its IP datagram.
type innerPkt struct {
	at time.Time
	ip []byte
	v6 bool
}

var craftT0 = time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)

// conversation is a whole TCP connection between cli and srv, starting at
// t0: a handshake with Linux's SYN options, a 100-byte request, a 300-byte
// response, and an orderly close by the client; 9 packets, 5 from the
// client. Every segment but the SYNs carries timestamps (a 32-byte
// header), as Linux sends them.
func conversation(t testing.TB, cli, srv netip.AddrPort, t0 time.Time) []innerPkt {
	type step struct {
		fromCli bool
		flags   string
		n       int
	}
	steps := []step{
		{true, "S", 0}, {false, "SA", 0}, {true, "A", 0}, {true, "PA", 100}, {false, "PA", 300},
		{true, "A", 0}, {true, "FA", 0}, {false, "FA", 0}, {true, "A", 0},
	}
	seq := map[bool]uint32{true: 1000, false: 5000}
	var out []innerPkt
	for i, s := range steps {
		src, dst := cli, srv
		if !s.fromCli {
			src, dst = srv, cli
		}
		tcp := &layers.TCP{
			SrcPort: layers.TCPPort(src.Port()), DstPort: layers.TCPPort(dst.Port()),
			Seq: seq[s.fromCli], Window: 502,
			SYN: strings.Contains(s.flags, "S"), ACK: strings.Contains(s.flags, "A"),
			PSH: strings.Contains(s.flags, "P"), FIN: strings.Contains(s.flags, "F"),
		}
		if tcp.ACK {
			tcp.Ack = seq[!s.fromCli]
		}
		ts := layers.TCPOption{OptionType: layers.TCPOptionKindTimestamps, OptionLength: 10, OptionData: make([]byte, 8)}
		if tcp.SYN {
			tcp.Window = 64240
			tcp.Options = []layers.TCPOption{
				{OptionType: layers.TCPOptionKindMSS, OptionLength: 4, OptionData: []byte{0x05, 0xb4}},
				{OptionType: layers.TCPOptionKindSACKPermitted, OptionLength: 2},
				ts,
				{OptionType: layers.TCPOptionKindNop},
				{OptionType: layers.TCPOptionKindWindowScale, OptionLength: 3, OptionData: []byte{7}},
			}
		} else {
			tcp.Options = []layers.TCPOption{{OptionType: layers.TCPOptionKindNop}, {OptionType: layers.TCPOptionKindNop}, ts}
		}
		payload := bytes.Repeat([]byte{'a' + byte(i)}, s.n)
		var ip gopacket.SerializableLayer
		if src.Addr().Is4() {
			ip4 := &layers.IPv4{Version: 4, TTL: 64, Protocol: layers.IPProtocolTCP, Id: uint16(100 + i), Flags: layers.IPv4DontFragment,
				SrcIP: src.Addr().AsSlice(), DstIP: dst.Addr().AsSlice()}
			tcp.SetNetworkLayerForChecksum(ip4)
			ip = ip4
		} else {
			ip6 := &layers.IPv6{Version: 6, HopLimit: 64, NextHeader: layers.IPProtocolTCP, SrcIP: src.Addr().AsSlice(), DstIP: dst.Addr().AsSlice()}
			tcp.SetNetworkLayerForChecksum(ip6)
			ip = ip6
		}
		out = append(out, innerPkt{at: t0.Add(time.Duration(i) * 10 * time.Millisecond), ip: serialize(t, ip, tcp, gopacket.Payload(payload)), v6: !src.Addr().Is4()})
		seq[s.fromCli] += uint32(s.n)
		if tcp.SYN || tcp.FIN {
			seq[s.fromCli]++
		}
	}
	return out
}

func serialize(t testing.TB, ls ...gopacket.SerializableLayer) []byte {
	t.Helper()
	buf := gopacket.NewSerializeBuffer()
	if err := gopacket.SerializeLayers(buf, gopacket.SerializeOptions{FixLengths: true, ComputeChecksums: true}, ls...); err != nil {
		t.Fatal(err)
	}
	return append([]byte(nil), buf.Bytes()...)
}

var (
	macA = net.HardwareAddr{0x02, 0, 0, 0, 0, 0x0a}
	macB = net.HardwareAddr{0x02, 0, 0, 0, 0, 0x0b}
)

// ether frames an IP datagram (or anything of EtherType et) in Ethernet.
func ether(et layers.EthernetType, b []byte) []byte {
	h := make([]byte, 14, 14+len(b))
	copy(h, macB)
	copy(h[6:], macA)
	binary.BigEndian.PutUint16(h[12:], uint16(et))
	return append(h, b...)
}

func ipType(p innerPkt) layers.EthernetType {
	if p.v6 {
		return layers.EthernetTypeIPv6
	}
	return layers.EthernetTypeIPv4
}

// outerUDP carries b in UDP between two tunnel endpoints, in IPv4 and
// Ethernet.
func outerUDP(t testing.TB, dport uint16, b []byte) []byte {
	ip := &layers.IPv4{Version: 4, TTL: 64, Protocol: layers.IPProtocolUDP, SrcIP: net.IP{192, 0, 2, 1}, DstIP: net.IP{192, 0, 2, 2}}
	udp := &layers.UDP{SrcPort: 49152, DstPort: layers.UDPPort(dport)}
	udp.SetNetworkLayerForChecksum(ip)
	return ether(layers.EthernetTypeIPv4, serialize(t, ip, udp, gopacket.Payload(b)))
}

// outerIP carries b as IP protocol proto between two tunnel endpoints.
func outerIP(t testing.TB, proto layers.IPProtocol, b []byte) []byte {
	ip := &layers.IPv4{Version: 4, TTL: 64, Protocol: proto, SrcIP: net.IP{192, 0, 2, 1}, DstIP: net.IP{192, 0, 2, 2}}
	return ether(layers.EthernetTypeIPv4, serialize(t, ip, gopacket.Payload(b)))
}

func join(parts ...[]byte) []byte { return bytes.Join(parts, nil) }

// tunnels are the encapsulations crafted: each wraps a conversation's
// IP datagrams into Ethernet frames, with the name flowdoc gives it.
var tunnels = []struct {
	name, want string
	wrap       func(t testing.TB, p innerPkt) []byte
}{
	{"vxlan", "VXLAN", func(t testing.TB, p innerPkt) []byte {
		return outerUDP(t, 4789, join([]byte{0x08, 0, 0, 0, 0, 0x01, 0x23, 0}, ether(ipType(p), p.ip)))
	}},
	{"vxlan-linux", "VXLAN", func(t testing.TB, p innerPkt) []byte {
		return outerUDP(t, 8472, join([]byte{0x08, 0, 0, 0, 0, 0x01, 0x24, 0}, ether(ipType(p), p.ip)))
	}},
	{"geneve", "Geneve", func(t testing.TB, p innerPkt) []byte {
		return outerUDP(t, 6081, join([]byte{0, 0, 0x65, 0x58, 0, 0, 0x0a, 0}, ether(ipType(p), p.ip)))
	}},
	{"gre", "GRE", func(t testing.TB, p innerPkt) []byte {
		return outerIP(t, layers.IPProtocolGRE, join([]byte{0, 0, byte(ipType(p) >> 8), byte(ipType(p))}, p.ip))
	}},
	{"gre-eth", "GRE", func(t testing.TB, p innerPkt) []byte { // NVGRE-like: Ethernet in GRE
		return outerIP(t, layers.IPProtocolGRE, join([]byte{0x20, 0, 0x65, 0x58, 0, 0, 0x10, 0}, ether(ipType(p), p.ip)))
	}},
	{"erspan2", "ERSPAN II", func(t testing.TB, p innerPkt) []byte {
		gre := []byte{0x10, 0, 0x88, 0xbe, 0, 0, 0, 7} // sequence number present
		erspan := []byte{0x10, 0x64, 0x00, 0x05, 0, 0, 0, 0}
		return outerIP(t, layers.IPProtocolGRE, join(gre, erspan, ether(ipType(p), p.ip)))
	}},
	{"erspan3", "ERSPAN III", func(t testing.TB, p innerPkt) []byte {
		gre := []byte{0x10, 0, 0x22, 0xeb, 0, 0, 0, 9}
		erspan := []byte{0x20, 0x64, 0x00, 0x05, 0, 0, 0, 0, 0, 0, 0, 0x01} // O: a subheader follows
		sub := make([]byte, 8)
		return outerIP(t, layers.IPProtocolGRE, join(gre, erspan, sub, ether(ipType(p), p.ip)))
	}},
	{"mpls", "MPLS", func(t testing.TB, p innerPkt) []byte {
		return ether(layers.EthernetTypeMPLSUnicast, join([]byte{0x00, 0x01, 0x00, 0x40, 0x00, 0x02, 0x01, 0x40}, p.ip))
	}},
	{"mpls-pw", "MPLS", func(t testing.TB, p innerPkt) []byte { // Ethernet pseudowire with a control word
		return ether(layers.EthernetTypeMPLSUnicast, join([]byte{0x00, 0x03, 0x01, 0x40}, []byte{0, 0, 0, 0}, ether(ipType(p), p.ip)))
	}},
	{"pppoe", "PPPoE", func(t testing.TB, p innerPkt) []byte {
		proto := uint16(0x0021)
		if p.v6 {
			proto = 0x0057
		}
		h := []byte{0x11, 0x00, 0x00, 0x2a, 0, 0, byte(proto >> 8), byte(proto)}
		binary.BigEndian.PutUint16(h[4:], uint16(len(p.ip)+2))
		return ether(layers.EthernetTypePPPoESession, join(h, p.ip))
	}},
	{"pbb", "802.1ah", func(t testing.TB, p innerPkt) []byte {
		btag := []byte{0x00, 0x64, 0x88, 0xe7}                              // B-VID 100, then the I-TAG
		itag := []byte{0x00, 0x01, 0x00, 0x01}                              // I-SID 65537
		inner := ether(ipType(p), p.ip)                                     // C-DA, C-SA, EtherType, IP
		return join(ether(layers.EthernetTypeQinQ, nil), btag, itag, inner) // the outer EtherType is the B-TAG's TPID
	}},
	{"llc-snap", "", func(t testing.TB, p innerPkt) []byte {
		snap := join([]byte{0xaa, 0xaa, 0x03, 0, 0, 0, byte(ipType(p) >> 8), byte(ipType(p))}, p.ip)
		return ether(layers.EthernetType(len(snap)), snap) // a length, not a type
	}},
	{"gtpu", "GTP-U", func(t testing.TB, p innerPkt) []byte {
		h := []byte{0x30, 0xff, 0, 0, 0, 0, 0x12, 0x34}
		binary.BigEndian.PutUint16(h[2:], uint16(len(p.ip)))
		return outerUDP(t, 2152, join(h, p.ip))
	}},
	{"ipip", "IP in IP", func(t testing.TB, p innerPkt) []byte {
		if p.v6 {
			return outerIP(t, layers.IPProtocolIPv6, p.ip)
		}
		return outerIP(t, layers.IPProtocolIPv4, p.ip)
	}},
}

// teredo carries an IPv6 conversation in UDP port 3544, the server's
// packets after an origin indication.
func teredo(t testing.TB, p innerPkt, fromSrv bool) []byte {
	b := p.ip
	if fromSrv {
		b = join([]byte{0, 0, 0xf2, 0x27, 0x3f, 0xff, 0xfd, 0xfe}, b)
	}
	return outerUDP(t, 3544, b)
}

type craftedFrame struct {
	ci   gopacket.CaptureInfo
	data []byte
}

func writeCrafted(t testing.TB, name string, lt layers.LinkType, snap int, frames []craftedFrame) {
	t.Helper()
	var buf bytes.Buffer
	w := pcapgo.NewWriterNanos(&buf)
	if err := w.WriteFileHeader(uint32(snap), lt); err != nil {
		t.Fatal(err)
	}
	for _, f := range frames {
		if err := w.WritePacket(f.ci, f.data); err != nil {
			t.Fatal(err)
		}
	}
	writeCapture(t, name, buf.Bytes())
}

func writeCapture(t testing.TB, name string, data []byte) {
	t.Helper()
	path := filepath.Join(decodeDir, name)
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := exec.LookPath("tshark"); err != nil {
		t.Logf("tshark not installed: %s has no sidecar", name)
		return
	}
	args, ok := tsharkArgs[name]
	if !ok {
		return
	}
	out, err := exec.Command("tshark", append(append([]string{"-q", "-z", "conv,tcp"}, args...), "-r", path)...).Output()
	if err != nil {
		t.Fatalf("tshark %s: %v", name, err)
	}
	side := strings.TrimSuffix(path, filepath.Ext(path)) + ".tshark"
	if err := os.WriteFile(side, out, 0o644); err != nil {
		t.Fatal(err)
	}
}

// tsharkArgs are the captures cross-checked with tshark's conversation
// table, each with what tshark must be told to read it all: VXLAN on
// Linux's port and the MPLS pseudowire are not decoded by default, nor
// IPv6 payload length 0. Header-only captures are not cross-checked:
// tshark's table leaves out every TCP packet cut within its options (its
// packet list shows them all).
var tsharkArgs = map[string][]string{
	"tunnels.pcap":         {"-d", "udp.port==8472,vxlan", "-d", "mpls.label==48,pwethcw"},
	"fragments.pcap":       nil,
	"ipv6-length-0.pcap":   {"-o", "ipv6.tso_support:TRUE"},
	"caplen-over-len.pcap": nil,
	"link-types.pcapng":    nil,
	"no-tcp.pcap":          nil,
}

func frameOf(at time.Time, data []byte) craftedFrame {
	return craftedFrame{gopacket.CaptureInfo{Timestamp: at, CaptureLength: len(data), Length: len(data)}, data}
}

// snapped cuts a frame to snap bytes, as tcpdump -s does.
func snapped(f craftedFrame, snap int) craftedFrame {
	if len(f.data) > snap {
		f.data = f.data[:snap]
		f.ci.CaptureLength = snap
	}
	return f
}

var (
	cli4 = netip.MustParseAddrPort("10.1.0.1:40001")
	srv4 = netip.MustParseAddrPort("10.1.0.2:80")
	cli6 = netip.MustParseAddrPort("[fd00::1]:40002")
	// cli6frag sends its SYN and receives its response in fragments.
	cli6frag = netip.MustParseAddrPort("[fd00::1]:40003")
	srv6     = netip.MustParseAddrPort("[fd00::2]:443")
)

// makeDecodeCaptures writes every capture of testdata/decode.
func makeDecodeCaptures(t *testing.T) {
	if err := os.MkdirAll(decodeDir, 0o755); err != nil {
		t.Fatal(err)
	}
	plain := func(ps []innerPkt) []craftedFrame {
		var fs []craftedFrame
		for _, p := range ps {
			fs = append(fs, frameOf(p.at, ether(ipType(p), p.ip)))
		}
		return fs
	}
	// Header-only: tcpdump -s 64 on IPv4 cuts every header with
	// timestamps; -s 80 on IPv6 too.
	var hdr []craftedFrame
	for _, f := range plain(conversation(t, cli4, srv4, craftT0)) {
		hdr = append(hdr, snapped(f, 64))
	}
	writeCrafted(t, "header-only-64.pcap", layers.LinkTypeEthernet, 64, hdr)
	hdr = nil
	for _, f := range plain(conversation(t, cli6, srv6, craftT0)) {
		hdr = append(hdr, snapped(f, 80))
	}
	writeCrafted(t, "header-only-v6-80.pcap", layers.LinkTypeEthernet, 80, hdr)

	// Tunnels: one inner conversation per encapsulation (IPv4, and IPv6
	// in VXLAN and GRE), each on its own client port.
	var tun []craftedFrame
	at := craftT0
	for i, tt := range tunnels {
		c := netip.AddrPortFrom(cli4.Addr(), uint16(41000+i))
		for _, p := range conversation(t, c, srv4, at) {
			tun = append(tun, frameOf(p.at, tt.wrap(t, p)))
		}
		at = at.Add(time.Second)
		if tt.name == "vxlan" || tt.name == "gre" {
			c := netip.AddrPortFrom(cli6.Addr(), uint16(41000+i))
			for _, p := range conversation(t, c, srv6, at) {
				tun = append(tun, frameOf(p.at, tt.wrap(t, p)))
			}
			at = at.Add(time.Second)
		}
	}
	for i, p := range conversation(t, netip.AddrPortFrom(cli6.Addr(), 42000), srv6, at) {
		tun = append(tun, frameOf(p.at, teredo(t, p, i == 1 || i == 4 || i == 7)))
	}
	writeCrafted(t, "tunnels.pcap", layers.LinkTypeEthernet, 65535, tun)

	// IPv4 fragments: the SYN in two, the response in three; IPv6
	// atomic fragments: every packet has a Fragment header of offset 0
	// and no more fragments.
	var frag []craftedFrame
	for i, p := range conversation(t, cli4, srv4, craftT0) {
		switch i {
		case 0:
			for j, f := range fragment4(t, p.ip, 24) {
				frag = append(frag, frameOf(p.at.Add(time.Duration(j)*time.Microsecond), ether(layers.EthernetTypeIPv4, f)))
			}
		case 4:
			for j, f := range fragment4(t, p.ip, 128) {
				frag = append(frag, frameOf(p.at.Add(time.Duration(j)*time.Microsecond), ether(layers.EthernetTypeIPv4, f)))
			}
		default:
			frag = append(frag, frameOf(p.at, ether(layers.EthernetTypeIPv4, p.ip)))
		}
	}
	for _, p := range conversation(t, cli6, srv6, craftT0.Add(time.Second)) {
		frag = append(frag, frameOf(p.at, ether(layers.EthernetTypeIPv6, atomic6(p.ip))))
	}
	// IPv6 fragments, as IPv4's.
	for i, p := range conversation(t, cli6frag, srv6, craftT0.Add(2*time.Second)) {
		if i != 0 && i != 4 {
			frag = append(frag, frameOf(p.at, ether(layers.EthernetTypeIPv6, p.ip)))
			continue
		}
		for j, f := range fragment6(p.ip, map[int]int{0: 24, 4: 128}[i], uint32(7+i)) {
			frag = append(frag, frameOf(p.at.Add(time.Duration(j)*time.Microsecond), ether(layers.EthernetTypeIPv6, f)))
		}
	}
	writeCrafted(t, "fragments.pcap", layers.LinkTypeEthernet, 65535, frag)

	// IPv6 with payload length 0, as captured on a host whose NIC
	// segments (TSO).
	var tso []craftedFrame
	for _, p := range conversation(t, cli6, srv6, craftT0) {
		ip := append([]byte(nil), p.ip...)
		ip[4], ip[5] = 0, 0
		tso = append(tso, frameOf(p.at, ether(layers.EthernetTypeIPv6, ip)))
	}
	writeCrafted(t, "ipv6-length-0.pcap", layers.LinkTypeEthernet, 65535, tso)

	// A record whose captured length exceeds its length on the wire, in
	// the middle of a capture: the 4th packet claims 20 bytes fewer.
	var buf bytes.Buffer
	w := pcapgo.NewWriter(&buf)
	w.WriteFileHeader(65535, layers.LinkTypeEthernet)
	for i, f := range plain(conversation(t, cli4, srv4, craftT0)) {
		if i == 3 {
			// pcapgo's writer refuses it: write the record by hand.
			var h [16]byte
			binary.LittleEndian.PutUint32(h[0:], uint32(f.ci.Timestamp.Unix()))
			binary.LittleEndian.PutUint32(h[4:], uint32(f.ci.Timestamp.Nanosecond()/1000))
			binary.LittleEndian.PutUint32(h[8:], uint32(len(f.data)))
			binary.LittleEndian.PutUint32(h[12:], uint32(len(f.data)-20))
			buf.Write(h[:])
			buf.Write(f.data)
			continue
		}
		w.WritePacket(f.ci, f.data)
	}
	writeCapture(t, "caplen-over-len.pcap", buf.Bytes())

	// Link types: one pcapng, an interface for each, a conversation on
	// each.
	var ng bytes.Buffer
	nw, err := pcapgo.NewNgWriterInterface(&ng, pcapgo.NgInterface{Name: "ppp0", LinkType: layers.LinkTypePPP, SnapLength: 65535}, pcapgo.DefaultNgWriterOptions)
	if err != nil {
		t.Fatal(err)
	}
	at = craftT0
	for i, lk := range linkFrames {
		id := 0
		if i > 0 {
			if id, err = nw.AddInterface(pcapgo.NgInterface{Name: lk.name, LinkType: lk.lt, SnapLength: 65535}); err != nil {
				t.Fatal(err)
			}
		}
		c := netip.AddrPortFrom(cli4.Addr(), uint16(43000+i))
		for _, p := range conversation(t, c, srv4, at) {
			d := lk.wrap(p)
			ci := gopacket.CaptureInfo{Timestamp: p.at, CaptureLength: len(d), Length: len(d), InterfaceIndex: id}
			if err := nw.WritePacket(ci, d); err != nil {
				t.Fatal(err)
			}
		}
		at = at.Add(time.Second)
	}
	nw.Flush()
	writeCapture(t, "link-types.pcapng", ng.Bytes())

	// No TCP at all: UDP and ICMP.
	var notcp []craftedFrame
	for i := range 12 {
		ip := &layers.IPv4{Version: 4, TTL: 64, SrcIP: net.IP{10, 2, 0, 1}, DstIP: net.IP{10, 2, 0, 2}}
		var b []byte
		if i%4 == 3 {
			ip.Protocol = layers.IPProtocolICMPv4
			b = serialize(t, ip, &layers.ICMPv4{TypeCode: layers.CreateICMPv4TypeCode(8, 0), Id: 1, Seq: uint16(i)}, gopacket.Payload("ping"))
		} else {
			ip.Protocol = layers.IPProtocolUDP
			udp := &layers.UDP{SrcPort: 5353, DstPort: 53}
			udp.SetNetworkLayerForChecksum(ip)
			b = serialize(t, ip, udp, gopacket.Payload("query"))
		}
		notcp = append(notcp, frameOf(craftT0.Add(time.Duration(i)*time.Millisecond), ether(layers.EthernetTypeIPv4, b)))
	}
	writeCrafted(t, "no-tcp.pcap", layers.LinkTypeEthernet, 65535, notcp)
}

// linkFrames frame an IP datagram in the link types decodeOther reads.
var linkFrames = []struct {
	name string
	lt   layers.LinkType
	wrap func(p innerPkt) []byte
}{
	{"ppp", layers.LinkTypePPP, func(p innerPkt) []byte { return join([]byte{0xff, 0x03, 0x00, 0x21}, p.ip) }},
	{"ppp-serial", layers.LinkTypePPP_HDLC, func(p innerPkt) []byte { return join([]byte{0xff, 0x03, 0x00, 0x21}, p.ip) }},
	{"chdlc", layers.LinkTypeC_HDLC, func(p innerPkt) []byte { return join([]byte{0x0f, 0x00, 0x08, 0x00}, p.ip) }},
	{"fddi", layers.LinkTypeFDDI, func(p innerPkt) []byte {
		return join([]byte{0x50}, macB, macA, []byte{0xaa, 0xaa, 0x03, 0, 0, 0, 0x08, 0x00}, p.ip)
	}},
	{"wlan", layers.LinkTypeIEEE802_11, func(p innerPkt) []byte { return dot11(p) }},
	{"radiotap", layers.LinkTypeIEEE80211Radio, func(p innerPkt) []byte {
		return join([]byte{0, 0, 8, 0, 0, 0, 0, 0}, dot11(p))
	}},
	{"pktap", packet.LinkTypePKTAP, func(p innerPkt) []byte {
		h := make([]byte, 108)
		binary.LittleEndian.PutUint32(h[0:], 108) // header length
		binary.LittleEndian.PutUint32(h[4:], 1)   // a packet
		binary.LittleEndian.PutUint32(h[8:], 1)   // in Ethernet
		copy(h[12:], "en0")
		return join(h, ether(ipType(p), p.ip))
	}},
	{"ppp-ether", layers.LinkTypePPPEthernet, func(p innerPkt) []byte {
		h := []byte{0x11, 0x00, 0x00, 0x2b, 0, 0, 0x00, 0x21}
		binary.BigEndian.PutUint16(h[4:], uint16(len(p.ip)+2))
		return join(h, p.ip)
	}},
	{"atm", layers.LinkTypeATM_RFC1483, func(p innerPkt) []byte {
		return join([]byte{0xaa, 0xaa, 0x03, 0, 0, 0, 0x08, 0x00}, p.ip)
	}},
	{"nflog", packet.LinkTypeNFLOG, func(p innerPkt) []byte {
		tlv := make([]byte, 4, 4+len(p.ip)+3)
		binary.LittleEndian.PutUint16(tlv[0:], uint16(4+len(p.ip)))
		binary.LittleEndian.PutUint16(tlv[2:], 9)
		tlv = append(tlv, p.ip...)
		for len(tlv)%4 != 0 {
			tlv = append(tlv, 0)
		}
		prefix := []byte{8, 0, 10, 0, 'f', 'l', 'o', 'w'} // NFULA_PREFIX "flow"
		return join([]byte{2, 0, 0, 0}, prefix, tlv)
	}},
}

// dot11 frames an IP datagram as an 802.11 data frame to the access
// point, with LLC/SNAP.
func dot11(p innerPkt) []byte {
	h := []byte{0x08, 0x01, 0x30, 0x00}
	h = append(h, macB...)
	h = append(h, macA...)
	h = append(h, macB...)
	h = append(h, 0x10, 0x00)
	return join(h, []byte{0xaa, 0xaa, 0x03, 0, 0, 0, 0x08, 0x00}, p.ip)
}

// fragment4 splits an IPv4 datagram (20-byte header) into fragments of
// at most size bytes of payload (a multiple of 8).
func fragment4(t testing.TB, ip []byte, size int) [][]byte {
	hdr, data := ip[:20], ip[20:]
	var out [][]byte
	for off := 0; off < len(data); off += size {
		end := min(off+size, len(data))
		f := append(append([]byte(nil), hdr...), data[off:end]...)
		flags := uint16(off / 8)
		if end < len(data) {
			flags |= 0x2000
		}
		binary.BigEndian.PutUint16(f[6:], flags)
		binary.BigEndian.PutUint16(f[2:], uint16(len(f)))
		f[10], f[11] = 0, 0
		binary.BigEndian.PutUint16(f[10:], ipChecksum(f[:20]))
		out = append(out, f)
	}
	return out
}

func ipChecksum(h []byte) uint16 {
	var s uint32
	for i := 0; i < len(h); i += 2 {
		s += uint32(binary.BigEndian.Uint16(h[i:]))
	}
	for s > 0xffff {
		s = s>>16 + s&0xffff
	}
	return ^uint16(s)
}

// fragment6 splits an IPv6 packet (no extension headers) into fragments
// of at most size bytes of payload (a multiple of 8).
func fragment6(ip []byte, size int, id uint32) [][]byte {
	data := ip[40:]
	var out [][]byte
	for off := 0; off < len(data); off += size {
		end := min(off+size, len(data))
		h := append([]byte(nil), ip[:40]...)
		h[6] = 44
		binary.BigEndian.PutUint16(h[4:], uint16(8+end-off))
		fo := uint16(off/8) << 3
		if end < len(data) {
			fo |= 1
		}
		fh := []byte{ip[6], 0, byte(fo >> 8), byte(fo), 0, 0, 0, 0}
		binary.BigEndian.PutUint32(fh[4:], id)
		out = append(out, join(h, fh, data[off:end]))
	}
	return out
}

// atomic6 inserts an atomic Fragment header (offset 0, M=0) after the
// IPv6 header.
func atomic6(ip []byte) []byte {
	out := append([]byte(nil), ip[:40]...)
	frag := []byte{ip[6], 0, 0, 0, 0, 0, 0x12, 0x34}
	out[6] = 44
	binary.BigEndian.PutUint16(out[4:], binary.BigEndian.Uint16(ip[4:])+8)
	return join(out, frag, ip[40:])
}

// plainSummary is what every crafted capture of conversation(cli, srv)
// must give, whatever carries it: one flow, closed by the client.
func plainSummary(t *testing.T, cli, srv netip.AddrPort) string {
	var fs []craftedFrame
	for _, p := range conversation(t, cli, srv, craftT0) {
		fs = append(fs, frameOf(p.at, ether(ipType(p), p.ip)))
	}
	var buf bytes.Buffer
	w := pcapgo.NewWriterNanos(&buf)
	w.WriteFileHeader(65535, layers.LinkTypeEthernet)
	for _, f := range fs {
		w.WritePacket(f.ci, f.data)
	}
	return summary(readAll(t, &buf, "plain.pcap"))
}

func TestDecodeCaptures(t *testing.T) {
	if *update {
		makeDecodeCaptures(t)
	}
	read := func(t *testing.T, name string) *Result {
		t.Helper()
		s, err := capture.Open(filepath.Join(decodeDir, name))
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		res, err := Read(t.Context(), []*capture.Source{s}, ReadOptions{})
		if err != nil {
			t.Fatal(err)
		}
		return res
	}
	// The crafted conversation, read plainly.
	want4 := plainSummary(t, cli4, srv4)
	if want := fmt.Sprintf("%s TIME_WAIT/CLOSED", cli4); !strings.Contains(want4, "6/3 100/300") || !strings.Contains(want4, "TIME_WAIT/CLOSED") {
		t.Fatalf("the plain conversation reads %q; want 6/3 packets, 100/300 bytes, %s", want4, want)
	}

	t.Run("header-only", func(t *testing.T) {
		for _, c := range []struct {
			name     string
			cli, srv netip.AddrPort
		}{{"header-only-64.pcap", cli4, srv4}, {"header-only-v6-80.pcap", cli6, srv6}} {
			res := read(t, c.name)
			in := res.Inputs[0]
			if got, want := summary(res), plainSummary(t, c.cli, c.srv); got != want {
				t.Errorf("%s:\n%s\nwant\n%s", c.name, got, want)
			}
			if in.BadPackets != 0 || in.TCPPackets != 9 || len(in.Warnings) != 0 {
				t.Errorf("%s: %d TCP, %d bad: %+v", c.name, in.TCPPackets, in.BadPackets, in.Warnings)
			}
			if in.OptionsCut == 0 {
				t.Errorf("%s: no packet noted with its options cut", c.name)
			}
			// The SYN's MSS comes before the cut; its window scale after.
			r := res.Flows[0]
			if r.Client.MSS != 1460 {
				t.Errorf("%s: client MSS %d, want 1460 (read before the cut)", c.name, r.Client.MSS)
			}
		}
	})

	t.Run("tunnels", func(t *testing.T) {
		res := read(t, "tunnels.pcap")
		in := res.Inputs[0]
		if in.BadPackets != 0 || in.NonTCP != 0 || len(in.Warnings) != 0 {
			t.Errorf("%d bad, %d not TCP: %+v", in.BadPackets, in.NonTCP, in.Warnings)
		}
		byKey := map[string]*Record{}
		for _, r := range res.Flows {
			byKey[r.Key.Client().String()+" "+r.Key.Server().String()] = r
		}
		for i, tt := range tunnels {
			for _, c := range []struct{ cli, srv netip.AddrPort }{{cli4, srv4}, {cli6, srv6}} {
				if c.cli.Addr().Is6() && tt.name != "vxlan" && tt.name != "gre" {
					continue
				}
				cli := netip.AddrPortFrom(c.cli.Addr(), uint16(41000+i))
				r := byKey[cli.String()+" "+c.srv.String()]
				if r == nil {
					t.Errorf("%s: no inner connection %s > %s", tt.name, cli, c.srv)
					continue
				}
				got := fmt.Sprintf("%d/%d %d/%d %s/%s", r.Client.Packets, r.Server.Packets, r.Client.Bytes, r.Server.Bytes, r.Client.State, r.Server.State)
				if want := "6/3 100/300 TIME_WAIT/CLOSED"; got != want {
					t.Errorf("%s: %s > %s: %s, want %s", tt.name, cli, c.srv, got, want)
				}
			}
		}
		teredoCli := netip.AddrPortFrom(cli6.Addr(), 42000)
		if r := byKey[teredoCli.String()+" "+srv6.String()]; r == nil || r.Client.Packets != 6 || r.Server.Packets != 3 || r.Server.Bytes != 300 {
			t.Errorf("teredo: %+v", r)
		}
		if want := 2 + len(tunnels) + 1; len(res.Flows) != want {
			t.Errorf("%d flows, want %d", len(res.Flows), want)
		}
		for _, name := range []string{"VXLAN", "Geneve", "GRE", "ERSPAN II", "ERSPAN III", "MPLS", "PPPoE", "802.1ah", "GTP-U", "IP in IP", "Teredo"} {
			if !strings.Contains(strings.Join(in.Encapsulations, ","), name) {
				t.Errorf("encapsulations %q: no %s", in.Encapsulations, name)
			}
		}
	})

	t.Run("fragments", func(t *testing.T) {
		res := read(t, "fragments.pcap")
		in := res.Inputs[0]
		// 1 + 2 fragments held until their datagram is whole, in IPv4
		// and in IPv6.
		if in.BadPackets != 0 || in.NonTCP != 6 || in.TCPPackets != 27 || len(in.Warnings) != 0 {
			t.Errorf("%d TCP, %d not TCP, %d bad: %+v", in.TCPPackets, in.NonTCP, in.BadPackets, in.Warnings)
		}
		want := plainSummary(t, cli4, srv4) + plainSummary(t, cli6, srv6) + plainSummary(t, cli6frag, srv6)
		if got := summary(res); got != want {
			t.Errorf("got\n%s\nwant\n%s", got, want)
		}
		for _, r := range []*Record{res.Flows[0], res.Flows[2]} {
			if r.Client.MSS != 1460 || r.Client.WScale != 7 {
				t.Errorf("%s: the fragmented SYN gave MSS %d, wscale %d", r.Key, r.Client.MSS, r.Client.WScale)
			}
		}
	})

	t.Run("ipv6 length 0", func(t *testing.T) {
		res := read(t, "ipv6-length-0.pcap")
		in := res.Inputs[0]
		if got, want := summary(res), plainSummary(t, cli6, srv6); got != want || in.BadPackets != 0 || len(in.Warnings) != 0 {
			t.Errorf("got\n%s\nwant\n%s\nwarnings %+v", got, want, in.Warnings)
		}
	})

	t.Run("captured length over length", func(t *testing.T) {
		res := read(t, "caplen-over-len.pcap")
		in := res.Inputs[0]
		if in.Packets != 9 || in.Incomplete || len(in.Warnings) != 1 || in.Warnings[0] != (Warning{Kind: WarnLonger, Packet: 4, Captured: 166, OnWire: 146}) {
			t.Errorf("%d packets, incomplete %v, warnings %+v", in.Packets, in.Incomplete, in.Warnings)
		}
		if got := summary(res); got != want4 {
			t.Errorf("got\n%s\nwant\n%s", got, want4)
		}
	})

	t.Run("link types", func(t *testing.T) {
		res := read(t, "link-types.pcapng")
		in := res.Inputs[0]
		if in.BadPackets != 0 || in.NonTCP != 0 || len(in.Warnings) != 0 || len(res.Flows) != len(linkFrames) {
			t.Errorf("%d flows, %d bad, %d not TCP: %+v", len(res.Flows), in.BadPackets, in.NonTCP, in.Warnings)
		}
		for i, r := range res.Flows {
			got := fmt.Sprintf("%d/%d %d/%d %s/%s", r.Client.Packets, r.Server.Packets, r.Client.Bytes, r.Server.Bytes, r.Client.State, r.Server.State)
			if want := "6/3 100/300 TIME_WAIT/CLOSED"; got != want || r.Key.Client().Port() != uint16(43000+i) {
				t.Errorf("%s: %s %s, want %s", linkFrames[min(i, len(linkFrames)-1)].name, r.Key, got, want)
			}
		}
		for _, lk := range linkFrames {
			if !packet.SupportedLinkType(lk.lt) {
				t.Errorf("%s: not claimed supported", lk.name)
			}
			if !strings.Contains(strings.Join(in.LinkTypes, ","), packet.LinkTypeName(lk.lt)) {
				t.Errorf("link types %q: no %s", in.LinkTypes, packet.LinkTypeName(lk.lt))
			}
		}
	})

	t.Run("no TCP", func(t *testing.T) {
		res := read(t, "no-tcp.pcap")
		in := res.Inputs[0]
		if got, want := in.NonTCPSummary(), "UDP 9, ICMPv4 3"; got != want || in.TCPPackets != 0 {
			t.Errorf("%q, want %q", got, want)
		}
	})
}

// TestFragmentsInCaptureTime: a datagram whose fragments come further
// apart in capture time than a receiver waits for them (30 s, Linux's
// ipfrag_time) is given up; overlapping fragments are a bad packet, not a
// crash.
func TestFragmentsInCaptureTime(t *testing.T) {
	syn := conversation(t, cli4, srv4, craftT0)[0].ip
	frags := fragment4(t, syn, 24)
	decode := func(d *packet.Decoder, at time.Time, ip []byte) (bool, error) {
		var seg packet.Segment
		return d.Decode(layers.LinkTypeEthernet, ether(layers.EthernetTypeIPv4, ip), at, &seg)
	}
	for _, c := range []struct {
		name string
		gap  time.Duration
		want bool
	}{{"within the timeout", 29 * time.Second, true}, {"after it", 32 * time.Second, false}} {
		d := packet.NewDecoder()
		if ok, err := decode(d, craftT0, frags[0]); ok || err != nil || d.Other() != "IP fragment" {
			t.Fatalf("%s: first fragment: %v %v %q", c.name, ok, err, d.Other())
		}
		if ok, err := decode(d, craftT0.Add(c.gap), frags[1]); ok != c.want || err != nil {
			t.Errorf("%s: last fragment: %v %v, want %v", c.name, ok, err, c.want)
		}
	}
	d := packet.NewDecoder()
	decode(d, craftT0, frags[0])
	overlap := append([]byte(nil), frags[1]...)
	binary.BigEndian.PutUint16(overlap[6:], 2) // offset 16 bytes: inside the first
	overlap[10], overlap[11] = 0, 0
	binary.BigEndian.PutUint16(overlap[10:], ipChecksum(overlap[:20]))
	var de *packet.DecodeError
	if ok, err := decode(d, craftT0, overlap); ok || !errors.As(err, &de) || de.Layer != "IPv4 fragment" {
		t.Errorf("overlapping fragment: %v %v", ok, err)
	}
}

// TestHeaderOnlyRecorded reads a capture tcpdump -i lo -s 64 recorded of
// three HTTP requests with curl: every TCP header is cut within its
// timestamps. tshark's conversation table leaves such packets out, so
// its packet list is the reference (header-only-lo.fields: tshark -T
// fields -e ip.src -e tcp.srcport -e ip.dst -e tcp.dstport -e tcp.len):
// packets and payload bytes of each direction.
func TestHeaderOnlyRecorded(t *testing.T) {
	data, err := os.ReadFile(filepath.Join(decodeDir, "header-only-lo.fields"))
	if err != nil {
		t.Fatal(err)
	}
	type sums struct{ packets, bytes uint64 }
	want := map[string]sums{}
	for _, line := range strings.Split(strings.TrimSpace(string(data)), "\n") {
		f := strings.Fields(line)
		k := f[0] + ":" + f[1] + " > " + f[2] + ":" + f[3]
		w := want[k]
		want[k] = sums{w.packets + 1, w.bytes + atou(t, f[4])}
	}
	res := analyzeFile(t, filepath.Join(decodeDir, "header-only-lo.pcap"), Config{})
	in := res.Inputs[0]
	if in.TCPPackets != in.Packets || in.OptionsCut != in.Packets || in.BadPackets != 0 || len(in.Warnings) != 0 {
		t.Errorf("%d packets, %d TCP, %d cut, %d bad: %+v", in.Packets, in.TCPPackets, in.OptionsCut, in.BadPackets, in.Warnings)
	}
	got := map[string]sums{}
	for _, r := range res.Flows {
		for _, s := range []Side{Client, Server} {
			h := r.Half(s)
			got[r.Endpoint(s).String()+" > "+r.Endpoint(s.Other()).String()] = sums{h.Packets, h.Bytes}
		}
		// The side that sent its FIN first (the server once, in a race
		// with curl) is in TIME_WAIT.
		first, other := &r.Client, &r.Server
		if r.Server.FinPacket < r.Client.FinPacket {
			first, other = other, first
		}
		if first.State != TimeWait || other.State != Closed || first.FinPacket == 0 {
			t.Errorf("%s: %s/%s, FINs in packets %d/%d", r.Key, r.Client.State, r.Server.State, r.Client.FinPacket, r.Server.FinPacket)
		}
	}
	if len(res.Flows) != 3 || len(got) != len(want) {
		t.Errorf("%d flows, %d directions; tshark has %d directions", len(res.Flows), len(got), len(want))
	}
	for k, w := range want {
		if got[k] != w {
			t.Errorf("%s: %+v, tshark %+v", k, got[k], w)
		}
	}
}

// TestTunnelsChangeNothing carries the lab's real captures in every
// tunnel, and cut to header-only snap lengths: the connections found
// must be the same.
func TestTunnelsChangeNothing(t *testing.T) {
	for _, capture := range []string{"../testdata/keepalive-leak.pcap", "../testdata/ipv6.pcap", "../testdata/http-keepalive.pcap"} {
		frames, lt := readFrames(t, capture)
		if lt != layers.LinkTypeEthernet {
			t.Fatalf("%s: want Ethernet", capture)
		}
		want := summary(analyzeFile(t, capture, Config{}))
		inner := func(b []byte) (innerPkt, bool) {
			switch binary.BigEndian.Uint16(b[12:14]) {
			case 0x0800:
				return innerPkt{ip: b[14:]}, true
			case 0x86dd:
				return innerPkt{ip: b[14:], v6: true}, true
			}
			return innerPkt{}, false
		}
		type variant struct {
			name string
			fn   func([]byte) []byte
			snap int
		}
		var vs []variant
		for _, tt := range tunnels {
			vs = append(vs, variant{tt.name, func(b []byte) []byte {
				if p, ok := inner(b); ok {
					return tt.wrap(t, p)
				}
				return nil
			}, 0})
		}
		vs = append(vs, variant{"teredo", func(b []byte) []byte {
			if p, ok := inner(b); ok && p.v6 {
				return teredo(t, p, true)
			}
			return nil
		}, 0})
		vs = append(vs, variant{"snap length 64", func(b []byte) []byte { return b }, 64},
			variant{"snap length 96", func(b []byte) []byte { return b }, 96})
		// Header-only inside tunnels, on the layered path and on
		// gopacket's: the inner TCP header cut within its options (IPv6
		// inner headers are 20 bytes longer).
		for _, c := range []struct {
			name string
			snap int
		}{{"vxlan", 110}, {"gre", 84}, {"pppoe", 68}, {"mpls", 68}, {"erspan3", 122}} {
			for _, tt := range tunnels {
				if tt.name != c.name {
					continue
				}
				vs = append(vs, variant{c.name + " cut in the inner options", func(b []byte) []byte {
					if p, ok := inner(b); ok {
						return tt.wrap(t, p)
					}
					return nil
				}, c.snap})
			}
		}
		for _, v := range vs {
			t.Run(filepath.Base(capture)+"/"+v.name, func(t *testing.T) {
				if v.name == "teredo" && !strings.Contains(capture, "ipv6") {
					t.Skip("Teredo carries IPv6")
				}
				if v.snap == 64 && strings.Contains(capture, "ipv6") {
					t.Skip("64 bytes of IPv6 leave 10 of TCP's fixed header")
				}
				var buf bytes.Buffer
				w := pcapgo.NewWriterNanos(&buf)
				w.WriteFileHeader(65535, layers.LinkTypeEthernet)
				for _, f := range frames {
					d := v.fn(append([]byte(nil), f.data...))
					if d == nil {
						continue
					}
					ci := f.ci
					ci.CaptureLength, ci.Length = len(d), len(d)+(f.ci.Length-len(f.data))
					snap := v.snap
					if snap > 96 || strings.Contains(v.name, "inner") {
						if p, _ := inner(f.data); p.v6 {
							snap += 20
						}
					}
					if snap > 0 && len(d) > snap {
						d, ci.CaptureLength = d[:snap], snap
					}
					w.WritePacket(ci, d)
				}
				res := readAll(t, &buf, v.name)
				if got := summary(res); got != want {
					t.Errorf("got\n%s\nwant\n%s", got, want)
				}
				if in := res.Inputs[0]; in.BadPackets != 0 {
					t.Errorf("bad packets: %+v", in.Warnings)
				}
			})
		}
	}
}
