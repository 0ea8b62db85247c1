package analyze

import (
	"fmt"
	"math"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/flowdoc/flowdoc/flow"
	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcapgo"
)

// A conversation crafted packet by packet, for the patterns the lab's
// kernels produce only by luck of timing: where a capture ends.

var craftT0 = time.Date(2026, 3, 4, 5, 6, 7, 0, time.UTC)

// seg is one TCP segment of a crafted connection: at seconds after
// craftT0, from the client (c) or the server, with flags, the payload
// length, and its sequence offset (relative to the sender's ISN + 1;
// -1: the next byte).
type seg struct {
	at     float64
	client bool
	flags  string // S, SA, A, PA, FA, R, RA
	n      int
	off    int
}

// conv is one crafted connection between client port cport and server.
type conv struct {
	cport  uint16
	server string // "10.0.0.2:80"
	client string // "10.0.0.1"
	segs   []seg
	// fixedISN gives the connection the ISNs 1000 and 50000, as a
	// stack or a tool that does not choose them would.
	fixedISN bool
	// data holds the payloads of segs (by index) that are not n zero
	// bytes; n is then their length.
	data map[int][]byte
}

// craft writes the conversations, their packets merged in time order,
// to a pcap file and returns its path.
func craft(t *testing.T, convs ...conv) string {
	t.Helper()
	type pkt struct {
		at   float64
		data []byte
	}
	var pkts []pkt
	for k, c := range convs {
		host, port, _ := net.SplitHostPort(c.server)
		var sport int
		fmt.Sscan(port, &sport)
		cip, sip := net.ParseIP(cmpOr(c.client, "10.0.0.1")).To4(), net.ParseIP(host).To4()
		// Each connection's own, as TCP stacks choose them: two with the
		// same would be one connection seen twice, translated.
		cisn, sisn := 1000+uint32(k)*7919, 50000+uint32(k)*104729
		if c.fixedISN {
			cisn, sisn = 1000, 50000
		}
		next := [2]uint32{cisn + 1, sisn + 1} // next sequence number per side
		acked := [2]uint32{0, 0}
		sentAck := [2]uint32{0, 0} // the ack each side sent last
		for i, s := range c.segs {
			from, to := 1, 0
			src, dst, sp, dp := sip, cip, uint16(sport), c.cport
			if s.client {
				from, to = 0, 1
				src, dst, sp, dp = cip, sip, c.cport, uint16(sport)
			}
			tcp := &layers.TCP{SrcPort: layers.TCPPort(sp), DstPort: layers.TCPPort(dp), Window: 500}
			isn := cisn
			if !s.client {
				isn = sisn
			}
			seq := next[from]
			if s.off >= 0 && s.off != 0 || s.off == 0 && strings.Contains(s.flags, "P") {
				seq = isn + 1 + uint32(s.off)
			}
			switch {
			case strings.HasPrefix(s.flags, "S"):
				tcp.SYN, seq = true, isn
			}
			tcp.Seq = seq
			if strings.Contains(s.flags, "A") {
				tcp.ACK = true
				tcp.Ack = acked[from]
				if strings.Contains(s.flags, "K") {
					tcp.Ack = sentAck[from] // "FAK": what it acknowledged before (a FIN crossing the peer's)
				}
				sentAck[from] = tcp.Ack
			}
			if strings.Contains(s.flags, "W") {
				tcp.Window = 0 // "AW": a zero window advertised
			}
			tcp.PSH = strings.Contains(s.flags, "P")
			tcp.FIN = strings.Contains(s.flags, "F")
			tcp.RST = strings.Contains(s.flags, "R")
			payload := make([]byte, s.n)
			if d, ok := c.data[i]; ok {
				payload = d
			}
			end := seq + uint32(len(payload))
			if tcp.SYN || tcp.FIN {
				end++
			}
			if int32(end-next[from]) > 0 {
				next[from] = end
			}
			if int32(end-acked[to]) > 0 {
				acked[to] = end // the receiver acknowledges what it got
			}
			ip := &layers.IPv4{Version: 4, TTL: 64, Protocol: layers.IPProtocolTCP, SrcIP: src, DstIP: dst}
			tcp.SetNetworkLayerForChecksum(ip)
			eth := &layers.Ethernet{SrcMAC: net.HardwareAddr{2, 0, 0, 0, 0, 1}, DstMAC: net.HardwareAddr{2, 0, 0, 0, 0, 2}, EthernetType: layers.EthernetTypeIPv4}
			buf := gopacket.NewSerializeBuffer()
			if err := gopacket.SerializeLayers(buf, gopacket.SerializeOptions{FixLengths: true, ComputeChecksums: true},
				eth, ip, tcp, gopacket.Payload(payload)); err != nil {
				t.Fatal(err)
			}
			pkts = append(pkts, pkt{s.at, slices.Clone(buf.Bytes())})
		}
	}
	slices.SortStableFunc(pkts, func(a, b pkt) int {
		switch {
		case a.at < b.at:
			return -1
		case a.at > b.at:
			return 1
		}
		return 0
	})
	path := filepath.Join(t.TempDir(), "crafted.pcap")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	w := pcapgo.NewWriter(f)
	if err := w.WriteFileHeader(65535, layers.LinkTypeEthernet); err != nil {
		t.Fatal(err)
	}
	for _, p := range pkts {
		at := craftT0.Add(time.Duration(p.at * float64(time.Second)))
		if err := w.WritePacket(gopacket.CaptureInfo{Timestamp: at, CaptureLength: len(p.data), Length: len(p.data)}, p.data); err != nil {
			t.Fatal(err)
		}
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	return path
}

func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// Building blocks: a handshake at t, a request and its response.
func open(t float64) []seg {
	return []seg{{t, true, "S", 0, -1}, {t + 0.0002, false, "SA", 0, -1}, {t + 0.0004, true, "A", 0, -1}}
}

func exchange(t float64, req, resp int) []seg {
	return []seg{{t, true, "PA", req, -1}, {t + 0.001, false, "PA", resp, -1}, {t + 0.0012, true, "A", 0, -1}}
}

func join(parts ...[]seg) []seg { return slices.Concat(parts...) }

// verdictsOf lists each flow's verdicts as "class(side)".
func verdictsOf(rep *Report) []string {
	var out []string
	for _, f := range rep.Flows {
		var vs []string
		for _, v := range f.Verdicts {
			vs = append(vs, fmt.Sprintf("%s(%s)", v.Class, v.Side))
		}
		out = append(out, strings.Join(vs, " "))
	}
	return out
}

func findingsOf(rep *Report) []string {
	var out []string
	for _, f := range rep.Findings {
		out = append(out, fmt.Sprintf("%s %s %d", f.Severity, f.Class, len(f.Flows)))
	}
	return out
}

// analyzeFile runs a crafted capture through the pass and Build.
func analyzeFile(t *testing.T, path string) *Report {
	return analyzeLab(t, path, time.Time{}, Options{})
}

// tlsRecord is a TLS record of content type typ and n bytes, a handshake
// message of type hs first for a handshake record (1 ClientHello, 2
// ServerHello), zeros after.
func tlsRecord(typ, hs byte, n int) []byte {
	b := append([]byte{typ, 0x03, 0x03, byte(n >> 8), byte(n)}, make([]byte, n)...)
	if typ == 0x16 {
		b[5], b[8] = hs, byte(n-4)
	}
	return b
}

// tlsConv is a TLS connection to 10.0.0.2:443 from client port cport,
// opened at t: a ClientHello and a ServerHello 10 ms later, then the
// segments after, of which those at records' indexes carry a record of
// application data of that many bytes.
func tlsConv(cport uint16, t float64, after []seg, records map[int]int) conv {
	first := join(open(t), exchange(t+0.01, 0, 0))
	data := map[int][]byte{3: tlsRecord(0x16, 1, 120), 4: tlsRecord(0x16, 2, 90)}
	for i, n := range records {
		data[len(first)+i] = tlsRecord(0x17, 0, n)
	}
	return conv{cport: cport, server: "10.0.0.2:443", segs: join(first, after), data: data}
}

func TestEdgeJudgement(t *testing.T) {
	// A keep-alive server that closes idle connections after 2 s.
	idleClose := func(port uint16, start float64, clientCloses bool) conv {
		s := join(open(start), exchange(start+0.01, 100, 200), []seg{{start + 2.011, false, "FA", 0, -1}, {start + 2.0112, true, "A", 0, -1}})
		if clientCloses {
			s = append(s, seg{start + 2.0115, true, "FA", 0, -1}, seg{start + 2.0117, false, "A", 0, -1})
		}
		return conv{cport: port, server: "10.0.0.2:80", segs: s}
	}
	const end = 3.0 // every capture ends with a packet here
	// slowerBefore: a client that closes two connections itself right
	// after their responses, and a third a second after the server's FIN.
	slowerBefore := func() []conv {
		return []conv{
			{cport: 40001, server: "10.0.0.2:80", segs: join(open(0), exchange(0.01, 100, 200), []seg{{0.0125, true, "FA", 0, -1}, {0.0127, false, "FA", 0, -1}, {0.0129, true, "A", 0, -1}})},
			{cport: 40002, server: "10.0.0.2:80", segs: join(open(0.05), exchange(0.06, 100, 200), []seg{{0.0625, true, "FA", 0, -1}, {0.0627, false, "FA", 0, -1}, {0.0629, true, "A", 0, -1}})},
			{cport: 40003, server: "10.0.0.2:80", segs: join(open(0.1), exchange(0.11, 100, 200), []seg{{0.5, false, "FA", 0, -1}, {0.5002, true, "A", 0, -1}, {1.5, true, "FA", 0, -1}, {1.5002, false, "A", 0, -1}})},
		}
	}
	last := func(port uint16) conv {
		return conv{cport: port, server: "10.0.0.9:80", client: "10.0.0.8", segs: join(open(end-0.1), exchange(end-0.01, 10, 10))}
	}
	tests := []struct {
		name     string
		convs    []conv
		verdicts []string // per flow, in order of first packet
		findings []string
		says     []string
	}{
		{
			// The client closes its other connections 0.3 ms after the
			// server's FIN; two others are 0.8 s quiet in CLOSE_WAIT.
			name: "young CLOSE_WAIT, the host closes its others at once",
			convs: []conv{idleClose(40001, 0, true), idleClose(40002, 0.05, true), idleClose(40003, 0.1, true),
				idleClose(40004, 0.15, false), idleClose(40005, 0.2, false), last(50000)},
			verdicts: []string{"idle_timeout_close(server) time_wait(server) clean(server)", "idle_timeout_close(server) time_wait(server) clean(server)",
				"idle_timeout_close(server) time_wait(server) clean(server)", "close_wait_leak(client) idle_timeout_close(server)",
				"close_wait_leak(client) idle_timeout_close(server)", "open(client)"},
			findings: []string{"error close_wait_leak 2", "warning idle_timeout_close 5"},
		},
		{
			// Nothing to compare with: too young to tell, and said so.
			name:     "young CLOSE_WAIT, nothing to compare with",
			convs:    []conv{idleClose(40004, 0.15, false), idleClose(40005, 0.2, false), last(50000)},
			verdicts: []string{"open(client) idle_timeout_close(server)", "open(client) idle_timeout_close(server)", "open(client)"},
			findings: []string{"info close_wait_leak 2", "info idle_timeout_close 2"},
			says:     []string{"cannot tell yet whether it will close", "10.0.0.1 holds 2 connections in CLOSE_WAIT that the capture ended too soon to judge"},
		},
		{
			// The client closes each connection itself right after its
			// response; two it left idle until the server closed them.
			name: "young CLOSE_WAIT, the host closes what it is done with",
			convs: []conv{
				{cport: 40001, server: "10.0.0.2:80", segs: join(open(0), exchange(0.01, 100, 200), []seg{{0.014, true, "FA", 0, -1}, {0.0142, false, "FA", 0, -1}, {0.0144, true, "A", 0, -1}})},
				{cport: 40002, server: "10.0.0.2:80", segs: join(open(0.1), exchange(0.11, 100, 200), []seg{{0.113, true, "FA", 0, -1}, {0.1132, false, "FA", 0, -1}, {0.1134, true, "A", 0, -1}})},
				{cport: 40003, server: "10.0.0.2:80", segs: join(open(0.2), exchange(0.21, 100, 200), []seg{{0.215, true, "FA", 0, -1}, {0.2152, false, "FA", 0, -1}, {0.2154, true, "A", 0, -1}})},
				idleClose(40004, 0.3, false), idleClose(40005, 0.4, false), last(50000)},
			verdicts: []string{"time_wait(client) clean(client)", "time_wait(client) clean(client)", "time_wait(client) clean(client)",
				"close_wait_leak(client) idle_timeout_close(server)", "close_wait_leak(client) idle_timeout_close(server)", "open(client)"},
			findings: []string{"error close_wait_leak 2", "warning idle_timeout_close 2"},
			says:     []string{"10.0.0.1 closed 3 other connections itself within"},
		},
		{
			// One leak beyond doubt makes a younger sibling one more.
			name: "young CLOSE_WAIT beside an old one of the same application",
			convs: []conv{
				{cport: 40001, server: "10.0.0.2:80", segs: join(open(0), exchange(0.01, 100, 200), []seg{{0.5, false, "FA", 0, -1}, {0.5002, true, "A", 0, -1}})},
				idleClose(40004, 0.2, false), last(50000)},
			verdicts: []string{"close_wait_leak(client)", "close_wait_leak(client) idle_timeout_close(server)", "open(client)"},
			findings: []string{"error close_wait_leak 2", "warning idle_timeout_close 1"},
			says:     []string{"one more of the same"},
		},
		{
			// The client shut down its sending side; the server streams on.
			name: "half-close still streaming",
			convs: []conv{{cport: 40001, server: "10.0.0.2:80", segs: func() []seg {
				s := join(open(0), []seg{{0.01, true, "PA", 50, -1}, {0.011, true, "FA", 0, -1}})
				for i := range 29 {
					at := 0.1 + 0.1*float64(i)
					s = append(s, seg{at, false, "PA", 1000, -1}, seg{at + 0.0002, true, "A", 0, -1})
				}
				return s
			}()}},
			verdicts: []string{"half_close_ok(client)"},
			findings: nil,
			says:     []string{"a half-close in progress"},
		},
		{
			// The host closes what it is done with at once, but took a
			// second to close after a server's FIN: a CLOSE_WAIT younger
			// than that may yet close.
			name: "young CLOSE_WAIT, the host was slower before",
			convs: append(slowerBefore(), conv{cport: 40004, server: "10.0.0.2:80", segs: join(open(0.2), exchange(0.21, 100, 200), []seg{{2.5, false, "FA", 0, -1}, {2.5002, true, "A", 0, -1}})},
				last(50000)),
			verdicts: []string{"time_wait(client) clean(client)", "time_wait(client) clean(client)", "time_wait(server) clean(server)",
				"open(client) idle_timeout_close(server)", "open(client)"},
			findings: []string{"info close_wait_leak 1", "info idle_timeout_close 1"},
		},
		{
			// The same, the CLOSE_WAIT older than that slowest close.
			name: "CLOSE_WAIT older than the host's slowest close",
			convs: append(slowerBefore(), conv{cport: 40004, server: "10.0.0.2:80", segs: join(open(0.2), exchange(0.21, 100, 200), []seg{{1.6, false, "FA", 0, -1}, {1.6002, true, "A", 0, -1}})},
				last(50000)),
			verdicts: []string{"time_wait(client) clean(client)", "time_wait(client) clean(client)", "time_wait(server) clean(server)",
				"close_wait_leak(client) idle_timeout_close(server)", "open(client)"},
			findings: []string{"error close_wait_leak 1", "warning idle_timeout_close 1"},
		},
		{
			// The server's FIN is never acknowledged in the capture, nor
			// sent again: the capture lost the client's ACK, and what the
			// client did after. Its CLOSE_WAIT is not judged a leak.
			name: "FIN never acknowledged in the capture",
			convs: []conv{
				{cport: 40001, server: "10.0.0.2:80", segs: join(open(0), exchange(0.01, 100, 200), []seg{{0.0125, true, "FA", 0, -1}, {0.0127, false, "FA", 0, -1}, {0.0129, true, "A", 0, -1}})},
				{cport: 40002, server: "10.0.0.2:80", segs: join(open(0.05), exchange(0.06, 100, 200), []seg{{0.0625, true, "FA", 0, -1}, {0.0627, false, "FA", 0, -1}, {0.0629, true, "A", 0, -1}})},
				{cport: 40003, server: "10.0.0.2:80", segs: join(open(0.1), exchange(0.11, 100, 200), []seg{{0.3, false, "FA", 0, -1}})},
				last(50000)},
			verdicts: []string{"time_wait(client) clean(client)", "time_wait(client) clean(client)", "open(client)", "open(client)"},
			findings: []string{"info close_wait_leak 1"},
			says:     []string{"is never acknowledged in the capture, nor sent again", "whose close the capture lost packets of"},
		},
		{
			// A request sent a second after the server closed the idle
			// connection: the server reads and drops it (Apache's
			// lingering close), no answer and no RST.
			name: "stale request drained",
			convs: []conv{{cport: 40001, server: "10.0.0.2:80", segs: join(open(0), []seg{
				{0.01, true, "PA", 0, -1}, {0.011, false, "PA", 0, -1}, {0.0112, true, "A", 0, -1},
				{2.011, false, "FA", 0, -1}, {2.0112, true, "A", 0, -1},
				{2.9, true, "PA", 0, -1}, {2.9002, false, "A", 0, -1}, {2.901, true, "FA", 0, -1}, {2.9012, false, "A", 0, -1}}),
				data: map[int][]byte{3: []byte("GET / HTTP/1.1\r\nHost: x\r\n\r\n"), 4: []byte("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"),
					8: []byte("GET / HTTP/1.1\r\nHost: x\r\n\r\n")}}, last(50000)},
			verdicts: []string{"stale_reuse_reset(client) idle_timeout_close(server) time_wait(server)", "open(client)"},
			findings: []string{"warning stale_reuse_reset 1", "warning idle_timeout_close 1"},
			says:     []string{"and got no answer (the server had shut down its sending side", "reused by the peer anyway, and the request got no answer"},
		},
		{
			// The server closes idle connections after 2 s; a request that
			// comes 2 s after its last answer meets the timer: RST, the
			// request unread (Node's keep-alive race). One that comes
			// after 0.5 s and is reset is no race.
			name: "a request racing the idle timeout",
			convs: []conv{
				{cport: 40001, server: "10.0.0.2:80", segs: join(open(0), exchange(0.01, 100, 200), []seg{{2.011, false, "FA", 0, -1}, {2.0112, true, "FA", 0, -1}, {2.0114, false, "A", 0, -1}})},
				{cport: 40002, server: "10.0.0.2:80", segs: join(open(0.1), exchange(0.11, 100, 200), []seg{{2.1115, true, "PA", 100, -1}, {2.1116, false, "RA", 0, -1}})},
				{cport: 40003, server: "10.0.0.2:80", segs: join(open(0.2), exchange(0.21, 100, 200), []seg{{0.7115, true, "PA", 100, -1}, {0.7116, false, "RA", 0, -1}})},
				last(50000)},
			verdicts: []string{"idle_timeout_close(server) time_wait(server) clean(server)", "stale_reuse_reset(client)", "reset(server)", "open(client)"},
			findings: []string{"warning stale_reuse_reset 1", "info idle_timeout_close 1"},
			says:     []string{"its timer fired with the request unread", "a race with its idle timeout", "on 1 connection just as 10.0.0.2:80 closed them"},
		},
		{
			// The JDK's HttpClient: a request 1.7 ms after the server's
			// FIN, before its selector saw it (RST). The bound said is
			// 1.7 ms, not the whole millisecond below.
			name: "a request 1.7 ms after the server's FIN",
			convs: []conv{
				{cport: 40001, server: "10.0.0.2:80", segs: join(open(0), exchange(0.01, 100, 200), []seg{{2.011, false, "FA", 0, -1}, {2.0112, true, "FA", 0, -1}, {2.0114, false, "A", 0, -1}})},
				{cport: 40002, server: "10.0.0.2:80", segs: join(open(0.1), exchange(0.11, 100, 200), []seg{{2.111, false, "FA", 0, -1}, {2.1127, true, "PA", 100, -1}, {2.1128, false, "R", 0, -1}})},
				last(50000)},
			verdicts: []string{"idle_timeout_close(server) time_wait(server) clean(server)", "stale_reuse_reset(client) idle_timeout_close(server)", "open(client)"},
			findings: []string{"warning stale_reuse_reset 1", "warning idle_timeout_close 2"},
			says:     []string{"each request came within 1.7 ms of the server's close"},
		},
		{
			// The same over TLS 1.3: the request is application data, not
			// read as HTTP; a close_notify in reply is no request (an
			// encrypted alert: a record of 19 bytes).
			name: "stale request drained, over TLS",
			convs: []conv{
				tlsConv(40001, 0, []seg{
					{2.011, false, "PA", 0, -1}, {2.0111, false, "FA", 0, -1}, {2.0113, true, "A", 0, -1},
					{2.9, true, "PA", 0, -1}, {2.9002, false, "A", 0, -1}, {2.901, true, "PA", 0, -1}, {2.9011, true, "FA", 0, -1}, {2.9013, false, "A", 0, -1}},
					map[int]int{0: 19, 3: 120, 5: 19}),
				tlsConv(40002, 0.05, []seg{
					{2.061, false, "PA", 0, -1}, {2.0611, false, "FA", 0, -1}, {2.0613, true, "PA", 0, -1}, {2.0614, true, "FA", 0, -1}, {2.0616, false, "A", 0, -1}},
					map[int]int{0: 19, 2: 19}),
				last(50000)},
			verdicts: []string{"stale_reuse_reset(client) idle_timeout_close(server) time_wait(server)", "idle_timeout_close(server) half_close_ok(server) time_wait(server) clean(server)", "open(client)"},
			findings: []string{"warning stale_reuse_reset 1", "warning idle_timeout_close 2"},
			says:     []string{"the client sent TLS application data (a request, encrypted) 889 ms after the server had closed the idle connection, and got no answer"},
		},
		{
			// A server that lets go of the socket with its close (nginx,
			// Node): the client's close_notify in reply meets an RST. No
			// request was lost: no stale reuse.
			name: "a close_notify in reply, reset",
			convs: []conv{tlsConv(40001, 0, []seg{
				{2.011, false, "PA", 0, -1}, {2.0111, false, "FA", 0, -1}, {2.0112, true, "PA", 0, -1}, {2.0113, false, "R", 0, -1}},
				map[int]int{0: 19, 2: 19}),
				last(50000)},
			verdicts: []string{"idle_timeout_close(server)", "open(client)"},
			findings: []string{"info idle_timeout_close 1"},
		},
		{
			// A request stamped the same microsecond as the server's FIN,
			// after it in the capture: sent on the closed connection (a
			// race), and named as such.
			name: "a request in the microsecond of the FIN",
			convs: func() []conv {
				get := []byte("GET /a HTTP/1.1\r\nHost: x\r\n\r\n")
				ok := []byte("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
				return []conv{{cport: 40001, server: "10.0.0.2:80", segs: join(open(0), exchange(0.01, len(get), len(ok)),
					[]seg{{2.011, false, "FA", 0, -1}, {2.011, true, "PA", len(get), -1}, {2.0112, false, "R", 0, -1}}),
					data: map[int][]byte{3: get, 4: ok, 7: get}}, last(50000)}
			}(),
			verdicts: []string{"stale_reuse_reset(client) idle_timeout_close(server)", "open(client)"},
			findings: []string{"warning stale_reuse_reset 1", "warning idle_timeout_close 1"},
			says:     []string{"sent requests (GET /a) on 1 connection"},
		},
		{
			// A pool reuses a connection the server closed 0.5 s before: RST.
			// The same request goes out at once on a new connection (the
			// client library retried it); another reset request, sent
			// again only 0.5 s later, was no retry.
			name: "a stale request retried at once",
			convs: func() []conv {
				get := []byte("GET /a HTTP/1.1\r\nHost: x\r\n\r\n")
				ok := []byte("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
				stale := func(port uint16, at float64) conv {
					return conv{cport: port, server: "10.0.0.2:80", segs: join(open(at), exchange(at+0.01, len(get), len(ok)),
						[]seg{{at + 1.511, false, "FA", 0, -1}, {at + 1.5112, true, "A", 0, -1}, {at + 2.011, true, "PA", len(get), -1}, {at + 2.0112, false, "R", 0, -1}}),
						data: map[int][]byte{3: get, 4: ok, 8: get}}
				}
				fresh := func(port uint16, at float64) conv {
					return conv{cport: port, server: "10.0.0.2:80", segs: join(open(at), exchange(at+0.0005, len(get), len(ok))),
						data: map[int][]byte{3: get, 4: ok}}
				}
				return []conv{stale(40001, 0), stale(40002, 0.1), fresh(40003, 2.0113), fresh(40004, 2.6113), last(50000)}
			}(),
			verdicts: []string{"stale_reuse_reset(client) idle_timeout_close(server)", "stale_reuse_reset(client) idle_timeout_close(server)",
				"open(client)", "open(client)", "open(client)"},
			findings: []string{"warning stale_reuse_reset 2", "warning idle_timeout_close 2"},
			says:     []string{"1 of these requests was sent again on a new connection within 1 ms: retried"},
		},
		{
			// A pool that notices a close only when it next uses the
			// connection: two reused after the server closed them (RST),
			// a third in CLOSE_WAIT 0.4 s at the end, too young to judge.
			// The host's finding says what the other two show.
			name: "a young CLOSE_WAIT beside a pool's stale reuses",
			convs: func() []conv {
				stale := func(port uint16, at float64) conv {
					return conv{cport: port, server: "10.0.0.2:80", segs: join(open(at), exchange(at+0.01, 100, 200),
						[]seg{{at + 1.511, false, "FA", 0, -1}, {at + 1.5112, true, "A", 0, -1}, {at + 2.011, true, "PA", 100, -1}, {at + 2.0112, false, "R", 0, -1}})}
				}
				young := conv{cport: 40003, server: "10.0.0.2:80", segs: join(open(1.0), exchange(1.01, 100, 200),
					[]seg{{2.6, false, "FA", 0, -1}, {2.6002, true, "A", 0, -1}})}
				return []conv{stale(40001, 0), stale(40002, 0.1), young, last(50000)}
			}(),
			verdicts: []string{"stale_reuse_reset(client) idle_timeout_close(server)", "stale_reuse_reset(client) idle_timeout_close(server)",
				"open(client) idle_timeout_close(server)", "open(client)"},
			findings: []string{"warning stale_reuse_reset 2", "warning idle_timeout_close 3", "info close_wait_leak 1"},
			says:     []string{"It sent requests on 2 other connections after the server had closed them", "see the stale_reuse_reset finding"},
		},
		{
			// A server that checks its idle connections once a second
			// (timeout 2 s) closes them 2.0-2.9 s after their last data:
			// the median says 2.5 s, the shortest bounds the timeout.
			name: "idle closes spread by a periodic check",
			convs: func() []conv {
				var cs []conv
				for i, idle := range []float64{2.0, 2.5, 2.6, 2.9} {
					at := 0.02 * float64(i)
					cs = append(cs, conv{cport: uint16(40001 + i), server: "10.0.0.2:80", segs: join(open(at), exchange(at+0.01, 100, 200),
						[]seg{{at + 0.011 + idle, false, "FA", 0, -1}, {at + 0.0112 + idle, true, "FA", 0, -1}, {at + 0.0114 + idle, false, "A", 0, -1}})})
				}
				return append(cs, last(50000))
			}(),
			verdicts: []string{"idle_timeout_close(server) time_wait(server) clean(server)", "idle_timeout_close(server) time_wait(server) clean(server)",
				"idle_timeout_close(server) time_wait(server) clean(server)", "idle_timeout_close(server) time_wait(server) clean(server)", "open(client)"},
			findings: []string{"info idle_timeout_close 4"},
			says:     []string{"It closed none sooner than 2.0 s: its timeout is at most that"},
		},
		{
			// nginx over TLS closes idle connections (close_notify, FIN);
			// the client answers two at once with its own close_notify,
			// which nginx, its socket gone, resets: closes, not requests.
			// The third it never answers: a leak, 0.5 s on, against
			// closes within a millisecond.
			name: "a close_notify in reply is a close to compare with",
			convs: func() []conv {
				var cs []conv
				for i := range 3 {
					at := 0.1 * float64(i)
					after := []seg{{at + 0.02, true, "PA", 0, -1}, {at + 0.03, false, "PA", 0, -1}, {at + 0.0302, true, "A", 0, -1},
						{at + 2.03, false, "PA", 0, -1}, {at + 2.0301, false, "FA", 0, -1}}
					recs := map[int]int{0: 100, 1: 200, 3: 19}
					if i < 2 {
						after = append(after, seg{at + 2.0303, true, "PA", 0, -1}, seg{at + 2.0304, false, "R", 0, -1})
						recs[5] = 19
					} else {
						after = append(after, seg{at + 2.0303, true, "A", 0, -1})
					}
					cs = append(cs, tlsConv(uint16(40001+i), at, after, recs))
				}
				return append(cs, last(50000))
			}(),
			verdicts: []string{"idle_timeout_close(server)", "idle_timeout_close(server)", "close_wait_leak(client) idle_timeout_close(server)", "open(client)"},
			findings: []string{"error close_wait_leak 1", "warning idle_timeout_close 3"},
			says:     []string{"this host closed 2 connections within"},
		},
		{
			// HAProxy over TLS closes a pooled connection idle for 2.5 s
			// (close_notify, FIN): 0.5 s before the end the client has not
			// closed. Its host's only other close was curl's, which said
			// close_notify first and reset the connection 50 µs after the
			// server's close_notify and FIN in reply: no reaction to a
			// close, nothing to compare with. Too soon to call a leak.
			name: "a close begun by the client is no close to compare with",
			convs: []conv{
				tlsConv(40001, 0, []seg{
					{0.02, true, "PA", 0, -1}, {0.03, false, "PA", 0, -1}, {0.0302, true, "A", 0, -1},
					{2.53, false, "PA", 0, -1}, {2.5301, false, "FA", 0, -1}, {2.5303, true, "A", 0, -1}},
					map[int]int{0: 100, 1: 200, 3: 19}),
				tlsConv(40002, 0.1, []seg{
					{0.12, true, "PA", 0, -1}, {0.13, false, "PA", 0, -1}, {0.1302, true, "A", 0, -1},
					{0.131, true, "PA", 0, -1}, {0.1311, false, "PA", 0, -1}, {0.13112, false, "FA", 0, -1}, {0.13117, true, "RA", 0, -1}},
					map[int]int{0: 100, 1: 200, 3: 19, 4: 19}),
				last(50000)},
			verdicts: []string{"open(client) idle_timeout_close(server)", "reset(client)", "open(client)"},
			findings: []string{"info close_wait_leak 1", "info idle_timeout_close 1"},
			says:     []string{"the capture holds no close by this host to compare with"},
		},
		{
			// Apache over TLS closes an idle connection (2 s): close_notify,
			// then its FIN 2.4 ms later. The client answers the
			// close_notify at once with its own and its FIN, which reach
			// the capture (on the client) before the server's FIN: the
			// server closed first all the same.
			name: "a close announced and answered first",
			convs: []conv{tlsConv(40001, 0, []seg{
				{0.02, true, "PA", 0, -1}, {0.03, false, "PA", 0, -1}, {0.0302, true, "A", 0, -1},
				{2.03, false, "PA", 0, -1}, {2.0302, true, "PA", 0, -1}, {2.0303, true, "FA", 0, -1},
				{2.0327, false, "FA", 0, -1}, {2.0329, true, "A", 0, -1}},
				map[int]int{0: 100, 1: 200, 3: 19, 4: 19}),
				last(50000)},
			verdicts: []string{"idle_timeout_close(server) time_wait(client) clean(client)", "open(client)"},
			findings: []string{"info idle_timeout_close 1"},
			says:     []string{"closed 1 idle connection after 2.0 s without traffic", "the client answered with its own FIN before the server's"},
		},
		{
			// Go's HTTP/2 server over TLS: its idle timeout (2 s) fires
			// and it sends GOAWAY (a record of 34 bytes), then a second
			// later close_notify and FIN. The timeout is the quiet before
			// the GOAWAY, not the second after it.
			name: "a close announced, over TLS",
			convs: []conv{tlsConv(40001, 0, []seg{
				{0.02, true, "PA", 0, -1}, {0.03, false, "PA", 0, -1}, {0.0302, true, "PA", 0, -1},
				{2.03, false, "PA", 0, -1}, {2.0302, true, "A", 0, -1},
				{3.03, false, "PA", 0, -1}, {3.0301, false, "FA", 0, -1}, {3.0303, true, "PA", 0, -1}, {3.0304, false, "R", 0, -1}},
				map[int]int{0: 100, 1: 200, 2: 26, 3: 34, 5: 19, 7: 19}),
				last(50000)},
			verdicts: []string{"idle_timeout_close(server)", "open(client)"},
			findings: []string{"info idle_timeout_close 1"},
			says:     []string{"closed 1 idle connection after 2.0 s without traffic", "announcing it first", "sending its FIN 1.0 s later"},
		},
		{
			// The server's idle timer fires as a request arrives: its FIN
			// follows the request by a moment, then its RST, the request
			// unread (Node's https server). Its other connections show the
			// timeout, 3 s.
			name: "a request crossing the idle close",
			convs: []conv{
				{cport: 40001, server: "10.0.0.2:443", segs: join(open(0), exchange(0.01, 100, 200), []seg{{3.011, false, "FA", 0, -1}, {3.0112, true, "FA", 0, -1}, {3.0114, false, "A", 0, -1}})},
				{cport: 40002, server: "10.0.0.2:443", segs: join(open(0.1), exchange(0.11, 100, 200), []seg{{3.111, false, "FA", 0, -1}, {3.1112, true, "FA", 0, -1}, {3.1114, false, "A", 0, -1}})},
				{cport: 40003, server: "10.0.0.2:443", segs: join(open(0.2), exchange(0.21, 100, 200), []seg{{3.2115, true, "PA", 100, -1}, {3.21151, false, "FA", 0, -1}, {3.21155, false, "R", 0, -1}})},
				last(50000)},
			verdicts: []string{"idle_timeout_close(server) time_wait(server) clean(server)", "idle_timeout_close(server) time_wait(server) clean(server)", "stale_reuse_reset(client)", "open(client)"},
			findings: []string{"warning stale_reuse_reset 1", "info idle_timeout_close 2"},
			says:     []string{"its timer fired with the request unread, and it closed (FIN) and reset the connection"},
		},
		{
			// A goodbye in reply to an idle close (a TLS close_notify, 31
			// bytes of no HTTP): no request lost.
			name: "a goodbye in reply to an idle close",
			convs: []conv{{cport: 40001, server: "10.0.0.2:443", segs: join(open(0), exchange(0.01, 100, 200), []seg{
				{2.011, false, "PA", 31, -1}, {2.0111, false, "FA", 0, -1}, {2.0113, true, "PA", 31, -1}, {2.0114, true, "FA", 0, -1}, {2.0116, false, "A", 0, -1}})}, last(50000)},
			verdicts: []string{"idle_timeout_close(server) half_close_ok(server) time_wait(server) clean(server)", "open(client)"},
			findings: []string{"info idle_timeout_close 1"},
		},
		{
			// PgBouncer's client_idle_timeout: an ErrorResponse (FATAL),
			// then FIN. A libpq client watching its idle connection
			// closes at once, sending Terminate ('X'), which the pooler,
			// having let go of the socket, resets: a goodbye in reply,
			// no request lost.
			name: "a PostgreSQL Terminate in reply to an idle close, reset",
			convs: []conv{{cport: 40001, server: "10.0.0.2:6432", segs: join(open(0), exchange(0.01, 14, 66), []seg{
				{2.011, false, "PA", 41, -1}, {2.0111, false, "FA", 0, -1}, {2.0112, true, "A", 0, -1},
				{2.0113, true, "PA", 5, -1}, {2.0114, false, "R", 0, -1}}),
				data: map[int][]byte{9: pgTerminate}}, last(50000)},
			verdicts: []string{"idle_timeout_close(server)", "open(client)"},
			findings: []string{"info idle_timeout_close 1"},
		},
		{
			// PgBouncer's server_idle_timeout: as the client of its server
			// connection, it says Terminate and closes after 2.5 s idle.
			name: "a PostgreSQL Terminate after an idle period",
			convs: []conv{{cport: 40001, server: "10.0.0.2:5432", segs: join(open(0), exchange(0.01, 14, 66), []seg{
				{2.511, true, "PA", 5, -1}, {2.5111, true, "FA", 0, -1}, {2.5114, false, "FA", 0, -1}, {2.5116, true, "A", 0, -1}}),
				data: map[int][]byte{6: pgTerminate}}, last(50000)},
			verdicts: []string{"idle_timeout_close(client) time_wait(client) clean(client)", "open(client)"},
			findings: []string{"info idle_timeout_close 1"},
			says:     []string{"the client closed the connection after 2.5 s without data, saying goodbye first (data 100 µs before its FIN, which answered nothing: its protocol's farewell)"},
		},
		{
			// The server shuts down its sending side while the client
			// uploads: the data after the FIN is no reuse.
			name: "half-close by the server amid data",
			convs: []conv{{cport: 40001, server: "10.0.0.2:80", segs: func() []seg {
				s := join(open(0), []seg{{0.01, false, "PA", 50, -1}, {0.011, false, "FA", 0, -1}})
				for i := range 28 {
					at := 0.02 + 0.1*float64(i)
					s = append(s, seg{at, true, "PA", 1000, -1}, seg{at + 0.0002, false, "A", 0, -1})
				}
				return append(s, seg{2.9, true, "FA", 0, -1}, seg{2.9002, false, "A", 0, -1})
			}()}, last(50000)},
			verdicts: []string{"half_close_ok(server) time_wait(server) clean(server)", "open(client)"},
		},
		{
			// A connection cap: accepted, closed at once by the server, the
			// client closes cleanly in turn.
			name: "accept then close, client closes cleanly",
			convs: func() []conv {
				var cs []conv
				for i := range 6 {
					at := 0.3 * float64(i)
					cs = append(cs, conv{cport: uint16(40001 + i), server: "10.0.0.2:2181", segs: join(open(at),
						[]seg{{at + 0.0006, false, "FA", 0, -1}, {at + 0.0008, true, "FA", 0, -1}, {at + 0.001, false, "A", 0, -1}})})
				}
				return append(cs, last(50000))
			}(),
			verdicts: []string{"accept_then_close(server) time_wait(server)", "accept_then_close(server) time_wait(server)", "accept_then_close(server) time_wait(server)",
				"accept_then_close(server) time_wait(server)", "accept_then_close(server) time_wait(server)", "accept_then_close(server) time_wait(server)", "open(client)"},
			findings: []string{"error reconnect_storm 6"},
		},
		{
			// A SYN 5 ms before the end, to a server that answers others.
			name: "SYN in flight",
			convs: []conv{{cport: 40001, server: "10.0.0.9:80", client: "10.0.0.8", segs: join(open(0), exchange(0.5, 10, 10))},
				{cport: 40002, server: "10.0.0.9:80", client: "10.0.0.8", segs: []seg{{end - 0.005, true, "S", 0, -1}}}, last(50000)},
			verdicts: []string{"open(client)", "open(client)", "open(client)"},
			says:     []string{"the handshake was still in progress"},
		},
		{
			// One client leaking to two servers whose keep-alive timeouts
			// differ: the finding gives each server's, not one for all.
			name: "a leak to servers with different timeouts",
			convs: []conv{
				{cport: 40001, server: "10.0.0.2:80", segs: join(open(0), exchange(0.01, 100, 200), []seg{{2.011, false, "FA", 0, -1}, {2.0112, true, "A", 0, -1}})},
				{cport: 40002, server: "10.0.0.3:80", segs: join(open(0.1), exchange(0.11, 100, 200), []seg{{4.111, false, "FA", 0, -1}, {4.1112, true, "A", 0, -1}})},
				{cport: 50000, server: "10.0.0.9:80", client: "10.0.0.8", segs: join(open(6.9), exchange(6.99, 10, 10))}},
			verdicts: []string{"close_wait_leak(client) idle_timeout_close(server)", "close_wait_leak(client) idle_timeout_close(server)", "open(client)"},
			findings: []string{"error close_wait_leak 2", "warning idle_timeout_close 1", "warning idle_timeout_close 1"},
			says:     []string{"In every one the server sent FIN after an idle time of its own (2.0 s for 10.0.0.2:80, 4.0 s for 10.0.0.3:80: its idle timeout)"},
		},
		{
			// A client that gives up waiting on two requests: one finding
			// for the client host and the server, whatever its ports.
			name: "client timeouts grouped by host",
			convs: []conv{
				{cport: 40001, server: "10.0.0.2:80", segs: join(open(0), []seg{{0.01, true, "PA", 100, -1}, {0.0102, false, "A", 0, -1}, {1.51, true, "FA", 0, -1}, {1.5102, false, "A", 0, -1}})},
				{cport: 40002, server: "10.0.0.2:80", segs: join(open(0.1), []seg{{0.11, true, "PA", 100, -1}, {0.1102, false, "A", 0, -1}, {1.61, true, "FA", 0, -1}, {1.6102, false, "A", 0, -1}})},
				last(50000)},
			verdicts: []string{"close_wait_leak(server) idle_timeout_close(client)", "close_wait_leak(server) idle_timeout_close(client)", "open(client)"},
			findings: []string{"error close_wait_leak 2", "warning idle_timeout_close 2"},
			says:     []string{"10.0.0.1 gave up on 2 connections to 10.0.0.2:80 after waiting 1.5 s"},
		},
		{
			// nginx's client_header_timeout: the requests' headers never
			// end, and the server closes 2 s after the client's last
			// bytes, with no response. Not a client that gave up.
			name: "server request read timeout",
			convs: []conv{
				{cport: 40001, server: "10.0.0.2:80", segs: join(open(0), []seg{{0.01, true, "PA", 0, -1}, {0.0102, false, "A", 0, -1},
					{2.011, false, "FA", 0, -1}, {2.0112, true, "A", 0, -1}, {2.02, true, "FA", 0, -1}, {2.0202, false, "A", 0, -1}}),
					data: map[int][]byte{3: []byte("GET / HTTP/1.1\r\nHost: x\r\n")}},
				{cport: 40002, server: "10.0.0.2:80", segs: join(open(0.1), []seg{{0.11, true, "PA", 0, -1}, {0.1102, false, "A", 0, -1},
					{2.111, false, "FA", 0, -1}, {2.1112, true, "A", 0, -1}, {2.12, true, "FA", 0, -1}, {2.1202, false, "A", 0, -1}}),
					data: map[int][]byte{3: []byte("GET /b HTTP/1.1\r\nHost: x\r\nUser-Ag")}},
				last(50000)},
			verdicts: []string{"idle_timeout_close(server) time_wait(server) clean(server)", "idle_timeout_close(server) time_wait(server) clean(server)", "open(client)"},
			findings: []string{"info idle_timeout_close 2"},
			says: []string{"10.0.0.2:80 (server) closed 2 connections from 10.0.0.1 2.0 s after the client's last data, without answering it: the headers of all 2 requests never ended, and the server's timeout for reading a request closed it",
				"slow-request attack"},
		},
		{
			// A request whose headers came whole, never answered: the
			// server gave up on it, or on its body (an upload that stalls).
			name: "server closes a request unanswered",
			convs: []conv{
				{cport: 40001, server: "10.0.0.2:80", segs: join(open(0), []seg{{0.01, true, "PA", 0, -1}, {0.0102, false, "A", 0, -1},
					{3.011, false, "FA", 0, -1}, {3.0112, true, "A", 0, -1}, {3.02, true, "FA", 0, -1}, {3.0202, false, "A", 0, -1}}),
					data: map[int][]byte{3: []byte("GET /report HTTP/1.1\r\nHost: x\r\n\r\n")}},
				{cport: 40002, server: "10.0.0.2:80", segs: join(open(0.1), []seg{{0.11, true, "PA", 0, -1}, {0.1102, false, "A", 0, -1},
					{3.111, false, "FA", 0, -1}, {3.1112, true, "A", 0, -1}, {3.12, true, "FA", 0, -1}, {3.1202, false, "A", 0, -1}}),
					data: map[int][]byte{3: []byte("POST /upload HTTP/1.1\r\nHost: x\r\nContent-Length: 9000\r\n\r\nabc")}},
				last(50000)},
			verdicts: []string{"idle_timeout_close(server) time_wait(server) clean(server)", "idle_timeout_close(server) time_wait(server) clean(server)", "open(client)"},
			findings: []string{"info idle_timeout_close 2"},
			says: []string{"10.0.0.2:80 (server) closed 2 connections from 10.0.0.1 3.0 s after the client's last data, without answering it: the headers of all 2 requests came whole and no response followed",
				"or on a request body that never came whole", "answer a timeout with an error response (504, or 408"},
		},
		{
			// A download the client stops reading (a zero window), then
			// abandons: its close with the rest unread is an RST. Not a
			// reader still stalled at the end.
			name: "zero window, then the reader resets",
			convs: []conv{
				{cport: 40001, server: "10.0.0.2:80", segs: join(open(0), []seg{{0.01, true, "PA", 100, -1}, {0.011, false, "PA", 1000, -1},
					{0.012, false, "PA", 1000, -1}, {0.013, true, "AW", 0, -1}, {0.5, true, "RA", 0, -1}})},
				last(50000)},
			verdicts: []string{"zero_window_stall(client) reset(client)", "open(client)"},
			findings: []string{"info zero_window_stall 1"},
			says:     []string{"10.0.0.1 stopped reading on 1 connection to 10.0.0.2:80: it advertised a zero receive window, then reset it with the rest unread"},
		},
		{
			// The same reader, still stalled at the end: an error.
			name: "zero window to the end",
			convs: []conv{
				{cport: 40001, server: "10.0.0.2:80", segs: join(open(0), []seg{{0.01, true, "PA", 100, -1}, {0.011, false, "PA", 1000, -1},
					{0.012, false, "PA", 1000, -1}, {0.013, true, "AW", 0, -1}})},
				last(50000)},
			verdicts: []string{"zero_window_stall(client) open(client)", "open(client)"},
			findings: []string{"error zero_window_stall 1"},
			says:     []string{"still not reading at the end of the capture"},
		},
		{
			// nginx -s reload: the old worker closes every idle keep-alive
			// connection at once, whatever its idle time (1.5 s to 4 s here);
			// two are reused after it and reset. Not a 1.5 s timeout.
			name: "a reload closes idle connections at once",
			convs: func() []conv {
				var cs []conv
				for i, used := range []float64{0, 0.5, 1.5, 2.5} {
					segs := join(open(used), exchange(used+0.01, 100, 200), []seg{{4.0 + 0.0001*float64(i), false, "FA", 0, -1}, {4.0002 + 0.0001*float64(i), true, "A", 0, -1}})
					if i < 2 {
						segs = append(segs, seg{5.0 + 0.1*float64(i), true, "PA", 100, -1}, seg{5.0002 + 0.1*float64(i), false, "R", 0, -1})
					} else {
						segs = append(segs, seg{4.001, true, "FA", 0, -1}, seg{4.0012, false, "A", 0, -1})
					}
					cs = append(cs, conv{cport: uint16(40001 + i), server: "10.0.0.2:80", segs: segs})
				}
				return cs
			}(),
			verdicts: []string{"stale_reuse_reset(client) idle_timeout_close(server)", "stale_reuse_reset(client) idle_timeout_close(server)",
				"idle_timeout_close(server) time_wait(server) clean(server)", "idle_timeout_close(server) time_wait(server) clean(server)"},
			findings: []string{"warning stale_reuse_reset 2", "info idle_timeout_close 4"},
			says: []string{"10.0.0.2:80 (server) closed 4 idle connections at once (within 300 µs", "though they had been idle for times far apart (1.5 s to 4.0 s)",
				"The server restarted, reloaded or shut down", "2 of them were reused by its client after the close",
				"had closed all at once with other idle connections, whatever their idle times", "Retry an idempotent request once"},
		},
		{
			// A broker that checks its clients' keep-alives on a clock, each
			// its own: closes together, idle times apart, at every sweep.
			// Three such moments are no restart.
			name: "a sweep on a clock is no restart",
			convs: func() []conv {
				var cs []conv
				for m, at := range []float64{10, 20, 30} {
					for i, idle := range []float64{2, 4, 8} {
						used := at - idle - 0.0112
						segs := join(open(used-0.01), exchange(used, 100, 200), []seg{{at + 0.0001*float64(i), false, "FA", 0, -1}, {at + 0.0002 + 0.0001*float64(i), true, "A", 0, -1},
							{at + 0.001, true, "FA", 0, -1}, {at + 0.0012, false, "A", 0, -1}})
						cs = append(cs, conv{cport: uint16(40001 + 3*m + i), server: "10.0.0.2:1883", segs: segs})
					}
				}
				return cs
			}(),
			verdicts: slices.Repeat([]string{"idle_timeout_close(server) time_wait(server) clean(server)"}, 9),
			findings: []string{"info idle_timeout_close 9"},
			says:     []string{"10.0.0.2:1883 (server) closed 9 idle connections, 3 of them after"},
		},
		{
			// A server that answers requests one after another, each after
			// seconds (a busy worker, a full accept queue): a client that
			// gave up waiting leaves it in CLOSE_WAIT while it works
			// through the requests before. Not a leak while answers still
			// come and this one has waited no longer than others did.
			name: "a busy server's CLOSE_WAIT in line",
			convs: []conv{
				{cport: 40001, server: "10.0.0.2:80", segs: join(open(0), []seg{{0.01, true, "PA", 100, -1}, {0.0102, false, "A", 0, -1},
					{10.0, false, "PA", 200, -1}, {10.0002, true, "A", 0, -1}, {10.1, true, "FA", 0, -1}, {10.1002, false, "FA", 0, -1}, {10.1004, true, "A", 0, -1}})},
				{cport: 40002, server: "10.0.0.2:80", segs: join(open(1), []seg{{1.01, true, "PA", 100, -1}, {1.0102, false, "A", 0, -1},
					{11.5, false, "PA", 200, -1}, {11.5002, true, "A", 0, -1}, {11.6, true, "FA", 0, -1}, {11.6002, false, "FA", 0, -1}, {11.6004, true, "A", 0, -1}})},
				{cport: 40003, server: "10.0.0.2:80", segs: join(open(2), []seg{{2.01, true, "PA", 100, -1}, {2.0102, false, "A", 0, -1},
					{9.0, true, "FA", 0, -1}, {9.0002, false, "A", 0, -1}})},
				{cport: 50000, server: "10.0.0.9:80", client: "10.0.0.8", segs: join(open(11.9), exchange(11.99, 10, 10))}},
			verdicts: []string{"time_wait(client) clean(client)", "time_wait(client) clean(client)", "open(server) idle_timeout_close(client)", "open(client)"},
			findings: []string{"info close_wait_leak 1", "info idle_timeout_close 1"},
			says:     []string{"its request unanswered for 10.0 s, while 10.0.0.2:80 is still answering requests (2 answered"},
		},
		{
			// Both sides close at once, each FIN sent before the other's
			// came: each is in TIME_WAIT, and neither closed first.
			name: "a simultaneous close",
			convs: []conv{
				{cport: 40001, server: "10.0.0.2:80", segs: join(open(0), exchange(0.01, 100, 200),
					[]seg{{0.5, true, "FA", 0, -1}, {0.5, false, "FAK", 0, -1}, {0.5002, true, "A", 0, -1}, {0.5002, false, "A", 0, -1}})},
				last(50000)},
			verdicts: []string{"time_wait(client) time_wait(server) clean(server)", "open(client)"},
			says:     []string{"the client and the server closed at once, their FINs crossing: each is in TIME_WAIT"},
		},
		{
			// A client that does not trust the server's certificate: a
			// fatal alert in the clear (unknown_ca), then, the server's
			// flight unread, its close is an RST.
			name: "a client's TLS alert, then its reset",
			convs: []conv{
				{cport: 40001, server: "10.0.0.2:443", segs: join(open(0), []seg{{0.01, true, "PA", 0, -1}, {0.011, false, "PA", 0, -1},
					{0.012, true, "PA", 0, -1}, {0.0122, false, "FA", 0, -1}, {0.0124, true, "RA", 0, -1}}),
					data: map[int][]byte{3: tlsRecord(0x16, 1, 200), 4: tlsRecord(0x16, 2, 1200), 5: {0x15, 0x03, 0x03, 0x00, 0x02, 0x02, 0x30}}},
				last(50000)},
			verdicts: []string{"reset(client)", "open(client)"},
			says:     []string{"the client closed the connection with RST after a fatal TLS alert of its own, in the clear: it gave up on the handshake"},
		},
		{
			// A TCP probe that connects and closes, sending nothing; the
			// server answers the empty connection (HAProxy's 400), and the
			// prober's kernel resets that data.
			name: "a close, then a reset of the data after it",
			convs: []conv{
				{cport: 40001, server: "10.0.0.2:80", segs: join(open(0), []seg{{0.01, true, "FA", 0, -1}, {0.0102, false, "PA", 200, -1}, {0.0104, true, "R", 0, -1}})},
				last(50000)},
			verdicts: []string{"reset(client)", "open(client)"},
			says:     []string{"the client closed with FIN, then reset the server's data that came after its close"},
		},
		{
			// A database that resets connections idle for 3 s.
			name: "idle timeout by RST",
			convs: []conv{
				{cport: 40001, server: "10.0.0.2:3306", segs: join(open(0), exchange(0.01, 20, 200), []seg{{3.011, false, "RA", 0, -1}})},
				{cport: 40002, server: "10.0.0.2:3306", segs: join(open(0.2), exchange(0.21, 20, 200), []seg{{3.211, false, "RA", 0, -1}})},
			},
			verdicts: []string{"idle_timeout_close(server)", "idle_timeout_close(server)"},
			findings: []string{"warning idle_timeout_close 2"},
			says:     []string{"reset (RST) 2 idle connections after 3.0 s", "validate connections before reuse"},
		},
		{
			// A firewall forgot the idle connection: the client's FIN and
			// its retransmissions go unanswered.
			name: "FIN into silence",
			convs: []conv{{cport: 40001, server: "10.0.0.2:80", segs: join(open(0), exchange(0.01, 100, 200),
				[]seg{{2.0, true, "FA", 0, 100}, {2.2, true, "FA", 0, 100}, {2.6, true, "FA", 0, 100}})}, last(50000)},
			verdicts: []string{"peer_unreachable(server)", "open(client)"},
			findings: []string{"warning peer_unreachable 1"},
			says:     []string{"idle for 2.0 s when it went silent", "forgets connections idle for 2.0 s or less", "the peer went down or the path was cut", "its state is shown as it was when it last answered (ESTABLISHED)"},
		},
		{
			// SYN cookies: one SYN-ACK, nothing acknowledged after it.
			name: "listen overflow without SYN-ACK retransmissions",
			convs: []conv{{cport: 40001, server: "10.0.0.2:80", segs: join(open(0),
				[]seg{{0.001, true, "PA", 100, 0}, {0.3, true, "PA", 100, 0}, {0.9, true, "PA", 100, 0}, {2.1, true, "PA", 100, 0}})}, last(50000)},
			verdicts: []string{"listen_overflow(server)", "open(client)"},
			findings: []string{"error listen_overflow 1"},
			says:     []string{"with SYN cookies kept no state"},
		},
		{
			// The server answered; the client never did anything more:
			// one SYN-ACK sent once (a cookie), one sent again and again
			// (SYN_RECV), and one sent just before the end, whose ACK may
			// yet come.
			name: "handshake never completed",
			convs: []conv{
				{cport: 40001, server: "10.0.0.2:80", segs: []seg{{0, true, "S", 0, 0}, {0.001, false, "SA", 0, 0}}},
				{cport: 40002, server: "10.0.0.2:80", segs: []seg{{0, true, "S", 0, 0}, {0.001, false, "SA", 0, 0}, {1.001, false, "SA", 0, 0}, {3.001, false, "SA", 0, 0}}},
				{cport: 40003, server: "10.0.0.2:80", segs: []seg{{4.6, true, "S", 0, 0}, {4.601, false, "SA", 0, 0}}},
				last(50000)},
			verdicts: []string{"handshake_incomplete(client)", "handshake_incomplete(client)", "open(client)", "open(client)"},
			findings: []string{"warning handshake_incomplete 2"},
			says:     []string{"kept no state (SYN cookies)", "sent its SYN-ACK 3 times and sits in SYN_RECV", "never acknowledged", "the client's ACK may yet come"},
		},
		{
			// A pool that does not watch its idle connections (the JDK's
			// HttpURLConnection): it sends its next request on each
			// connection 0.3 s after the server closed it (RST), and the
			// last it has not used again yet, 1.8 s after the FIN. Another
			// application of the same host closes at once after a
			// server's FIN: that is no measure of the pool, which lets go
			// of a closed connection only when it next uses it.
			name: "CLOSE_WAIT in a pool that reuses the connections the server closed",
			convs: func() []conv {
				reused := func(port uint16, start float64) conv {
					return conv{cport: port, server: "10.0.0.2:80", segs: join(open(start), exchange(start+0.01, 100, 200),
						[]seg{{start + 1.02, false, "FA", 0, -1}, {start + 1.0202, true, "A", 0, -1}, {start + 1.32, true, "PA", 100, -1}, {start + 1.3202, false, "R", 0, -1}})}
				}
				other := func(port uint16, start float64) conv {
					c := idleClose(port, start, true)
					c.server = "10.0.0.3:80"
					return c
				}
				return []conv{reused(40001, 0), reused(40002, 0.05), reused(40003, 0.1), other(40011, 0.12), other(40012, 0.14),
					{cport: 40004, server: "10.0.0.2:80", segs: join(open(0.2), exchange(0.21, 100, 200), []seg{{1.23, false, "FA", 0, -1}, {1.2302, true, "A", 0, -1}})},
					last(50000)}
			}(),
			verdicts: []string{"stale_reuse_reset(client) idle_timeout_close(server)", "stale_reuse_reset(client) idle_timeout_close(server)",
				"stale_reuse_reset(client) idle_timeout_close(server)", "idle_timeout_close(server) time_wait(server) clean(server)",
				"idle_timeout_close(server) time_wait(server) clean(server)", "open(client) idle_timeout_close(server)", "open(client)"},
			findings: []string{"warning stale_reuse_reset 3", "warning idle_timeout_close 4", "info close_wait_leak 1", "info idle_timeout_close 2"},
			says:     []string{"sent requests on all its other connections the peer closed up to 300 ms after the peer's FIN, and was reset (a pool that notices a close only when it next uses the connection): this one may yet be used again or closed"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rep := analyzeFile(t, craft(t, tt.convs...))
			for _, f := range rep.Flows {
				for _, v := range f.Verdicts {
					if v.Class == CloseWaitLeak && v.Confidence < 0.8 {
						t.Errorf("flow %d: a leak with confidence %v", f.ID, v.Confidence)
					}
				}
			}
			if got := verdictsOf(rep); !slices.Equal(got, tt.verdicts) {
				t.Errorf("verdicts:\n got %q\nwant %q", got, tt.verdicts)
			}
			if got := findingsOf(rep); !slices.Equal(got, tt.findings) {
				t.Errorf("findings: got %q, want %q", got, tt.findings)
			}
			var text strings.Builder
			for _, f := range rep.Flows {
				for _, v := range f.Verdicts {
					text.WriteString(v.Summary + "\n")
				}
			}
			for _, f := range rep.Findings {
				text.WriteString(f.Summary + "\n" + f.Remedy + "\n")
			}
			for _, s := range tt.says {
				if !strings.Contains(text.String(), s) {
					t.Errorf("nothing says %q in:\n%s", s, text.String())
				}
			}
			if t.Failed() {
				for _, f := range rep.Flows {
					t.Logf("flow %d %s %s/%s %s", f.ID, f.Key, f.Client.State, f.Server.State, f.History)
				}
			}
		})
	}
}

// TestLatencies holds the histogram's quantiles within one bucket (a
// ninth) of the exact ones, and the slowest exact.
// pgTerminate is PostgreSQL's Terminate message: 'X', its length 4.
var pgTerminate = []byte{'X', 0, 0, 0, 4}

func TestLatencies(t *testing.T) {
	var l latencies
	var exact []time.Duration
	for i := 1; i <= 1000; i++ {
		d := time.Duration(i*i) * time.Microsecond // 1 µs to 1 s
		l.add(d)
		exact = append(exact, d)
	}
	for _, q := range []float64{0.1, 0.5, 0.9, 0.99} {
		want := exact[int(q*1000)-1]
		got := l.quantile(q)
		if got < want || float64(got) > 1.1*float64(want) {
			t.Errorf("quantile(%v) = %v, want %v to %v", q, got, want, time.Duration(1.1*float64(want)))
		}
	}
	if got := l.quantile(1); got != time.Second {
		t.Errorf("slowest = %v, want 1s", got)
	}
	var one latencies
	one.add(300 * time.Microsecond)
	if got := one.quantile(0.9); got != 300*time.Microsecond {
		t.Errorf("quantile of one = %v, want 300µs", got)
	}
}

// TestServerTimeWait: a server that closes first a hundred connections or
// more has its TIME_WAITs stated per endpoint, against the kernel's
// tcp_max_tw_buckets and not the ephemeral ports; fewer make no finding.
func TestServerTimeWait(t *testing.T) {
	for _, n := range []int{minServerTimeWaits - 1, minServerTimeWaits + 20} {
		var convs []conv
		for i := range n {
			at := 0.01 * float64(i)
			convs = append(convs, conv{cport: uint16(40000 + i), server: "10.0.0.2:80", segs: join(open(at), []seg{
				{at + 0.001, true, "PA", 100, -1}, {at + 0.002, false, "PA", 200, -1},
				{at + 0.0021, false, "FA", 0, -1}, {at + 0.003, true, "FA", 0, -1}, {at + 0.0031, false, "A", 0, -1}})})
		}
		rep := analyzeFile(t, craft(t, convs...))
		var got []Finding
		for _, f := range rep.Findings {
			if f.Class == TimeWaitPressure {
				got = append(got, f)
			}
		}
		if n < minServerTimeWaits {
			if len(got) > 0 {
				t.Errorf("%d connections: a finding: %s", n, got[0].Summary)
			}
			continue
		}
		if len(got) != 1 || got[0].Severity != Info || len(got[0].Flows) != n || !slices.Equal(got[0].Endpoints, []netip.AddrPort{netip.MustParseAddrPort("10.0.0.2:80")}) ||
			!strings.Contains(got[0].Summary, "holds no ephemeral port") || !strings.Contains(got[0].Summary, "tcp_max_tw_buckets") {
			t.Errorf("%d connections: findings %+v", n, got)
		}
	}
}

// TestKeepAliveInterval: the interval of keep-alive probes is said where
// they followed one another (the lab's keep-alive capture: every 1 s), not
// where requests came between them (Node's Agent probes after 1 s idle and
// its requests come every 2 s: an interval would be the requests').
func TestKeepAliveInterval(t *testing.T) {
	for _, tc := range []struct {
		path     string
		interval float64 // 0: none said
	}{
		{"../testdata/keepalive.pcap", 1},
		{"../testdata/real/node-keepalive-race@late.pcap", 0},
	} {
		rep := analyzeFile(t, tc.path)
		found := false
		for _, f := range rep.Findings {
			if f.Class != KeepAliveClass || len(f.Hosts) == 0 {
				continue
			}
			found = true
			got := 0.0
			for _, m := range f.Metrics {
				if m.Name == "interval_s" {
					got = m.Value
				}
			}
			if math.Abs(got-tc.interval) > 0.05 {
				t.Errorf("%s: interval %.2f s, want %.2f (0: none)", tc.path, got, tc.interval)
			}
		}
		if !found {
			t.Errorf("%s: no keep-alive finding", tc.path)
		}
	}
}

// TestEveryPort: sixteen client ports or more, each once, every one
// between the lowest and the highest, are a block; a gap, a port twice or
// fewer ports are not.
func TestEveryPort(t *testing.T) {
	flows := func(ports ...int) []*Flow {
		var fs []*Flow
		for _, p := range ports {
			k := flow.MakeKey(netip.MustParseAddrPort(fmt.Sprintf("10.0.0.1:%d", p)), netip.MustParseAddrPort("10.0.0.2:80"))
			fs = append(fs, &Flow{Record: &flow.Record{Key: k}})
		}
		return fs
	}
	block := func(lo, n int) []int {
		var ps []int
		for i := range n {
			ps = append(ps, lo+i)
		}
		return ps
	}
	for _, tc := range []struct {
		ports  []int
		lo, hi int
		ok     bool
	}{
		{block(40000, 16), 40000, 40015, true},
		{block(40000, 15), 0, 0, false},
		{append(block(40000, 16), 40017), 0, 0, false},
		{append(block(40000, 16), 40003), 0, 0, false},
	} {
		lo, hi, ok := everyPort(flows(tc.ports...))
		if ok != tc.ok || ok && (lo != tc.lo || hi != tc.hi) {
			t.Errorf("%d ports from %d: %d-%d %v, want %d-%d %v", len(tc.ports), tc.ports[0], lo, hi, ok, tc.lo, tc.hi, tc.ok)
		}
	}
}

// TestIdleDefaultsHTTPOnly: the common defaults an idle close is matched
// with are HTTP servers'. A broker that closes MQTT connections after
// 4.8 s idle is no Apache httpd nor Node.js; an HTTP server closing after
// as long may be one of them.
func TestIdleDefaultsHTTPOnly(t *testing.T) {
	connect := []byte("\x10\x1a\x00\x04MQTT\x04\x02\x00\x02\x00\x0eflowdoc-silent")
	request := []byte("GET / HTTP/1.1\r\nHost: x\r\n\r\n")
	response := []byte("HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nok\n")
	idle := func(port uint16, server string, req, resp []byte) conv {
		segs := join(open(0), exchange(0.01, len(req), len(resp)), []seg{{4.811, false, "FA", 0, -1}, {4.8112, true, "A", 0, -1}})
		return conv{cport: port, server: server, segs: segs, data: map[int][]byte{3: req, 4: resp}}
	}
	for _, tc := range []struct {
		name     string
		c        conv
		defaults bool
	}{
		{"MQTT", idle(40001, "10.0.0.2:1883", connect, []byte{0x20, 0x02, 0, 0}), false},
		{"HTTP", idle(40002, "10.0.0.2:80", request, response), true},
	} {
		rep := analyzeFile(t, craft(t, tc.c))
		found := false
		for _, f := range rep.Findings {
			if f.Class != IdleTimeoutClose {
				continue
			}
			found = true
			if got := strings.Contains(f.Summary, "matches the default of Apache httpd KeepAliveTimeout"); got != tc.defaults {
				t.Errorf("%s: the idle finding names HTTP servers' defaults: %v, want %v: %s", tc.name, got, tc.defaults, f.Summary)
			}
		}
		if !found {
			t.Errorf("%s: no idle_timeout_close finding: %v", tc.name, findingsOf(rep))
		}
	}
}

// TestCloseWaitAfterIdle: with no close of its host to compare with, a
// client's CLOSE_WAIT after the server closed the connection idle for
// 3 s is not judged until it has lasted that long: a pool that notices a
// close only when it next uses the connection holds it so. Past it, a
// leak; and a host that leaks to another server is taken at its word.
func TestCloseWaitAfterIdle(t *testing.T) {
	idle := func(port uint16, server string) conv {
		return conv{cport: port, server: server, segs: join(open(0), exchange(0.01, 100, 200), []seg{{3.011, false, "FA", 0, -1}, {3.0112, true, "A", 0, -1}})}
	}
	end := func(at float64) conv {
		return conv{cport: 50000, server: "10.0.0.9:80", client: "10.0.0.8", segs: join(open(at-0.1), exchange(at-0.01, 10, 10))}
	}
	leaked := func(rep *Report, port uint16) (bool, string) {
		for _, f := range rep.Flows {
			if f.Key.Client().Port() == port {
				for _, v := range f.Verdicts {
					if v.Class == CloseWaitLeak {
						return true, v.Summary
					}
					if v.Class == OpenClass {
						return false, v.Summary
					}
				}
			}
		}
		return false, ""
	}
	for _, tc := range []struct {
		name  string
		convs []conv
		leak  bool
		says  string
	}{
		{"1.5 s into CLOSE_WAIT", []conv{idle(40001, "10.0.0.2:80"), end(4.5)}, false, "no longer than the 3.0 s the connection had been idle"},
		{"4.5 s into CLOSE_WAIT", []conv{idle(40001, "10.0.0.2:80"), end(7.5)}, true, "longer than the 3.0 s the connection had been idle"},
		{"its host leaks elsewhere", []conv{idle(40001, "10.0.0.2:80"),
			{cport: 40002, server: "10.0.0.3:80", segs: join(open(0), exchange(0.01, 100, 200), []seg{{1.011, false, "FA", 0, -1}, {1.0112, true, "A", 0, -1}})},
			end(4.5)}, true, ""},
	} {
		rep := analyzeFile(t, craft(t, tc.convs...))
		leak, sum := leaked(rep, 40001)
		if leak != tc.leak || !strings.Contains(sum, tc.says) {
			t.Errorf("%s: leak %v, want %v; says %q, want %q", tc.name, leak, tc.leak, sum, tc.says)
		}
	}
}
