package report_test

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"encoding/json"
	"net/netip"
	"testing"
	"time"

	"github.com/flowdoc/flowdoc/analyze"
	"github.com/flowdoc/flowdoc/flow"
	"github.com/flowdoc/flowdoc/flow/packet"
	"github.com/flowdoc/flowdoc/report"
)

// FuzzReports runs arbitrary TCP conversations through the whole
// analysis: the tracker, the verdicts and findings, and every renderer.
// None may panic, and the JSON formats must stay valid JSON. Each 12 bytes
// are one segment:
//
//	byte 0     flags (low 5 bits), which of 4 client ports (bits 5-6),
//	           server to client (bit 7)
//	byte 1     time since the previous segment, in 50 ms steps
//	bytes 2-5  sequence number; its low bits also pick the payload
//	bytes 6-9  acknowledgement number
//	bytes 10-11 payload length (mod 1500)
//
// The payload is taken from HTTP messages that vary in status, keep-alive
// and Connection: close, so the HTTP-driven verdicts are reached too.
func FuzzReports(f *testing.F) {
	seg := func(b []byte, from byte, flags packet.Flags, step byte, seq, ack uint32, n uint16) []byte {
		b = append(b, byte(flags)|from, step)
		b = binary.BigEndian.AppendUint32(b, seq)
		b = binary.BigEndian.AppendUint32(b, ack)
		return binary.BigEndian.AppendUint16(b, n)
	}
	const c, s = 0, 0x80
	const syn, ack, fin, rst, psh = packet.SYN, packet.ACK, packet.FIN, packet.RST, packet.PSH
	// Sequence numbers 6000 and 12000 start the client's and the server's
	// messages (see below).
	open := func(b []byte, port byte) []byte {
		b = seg(b, c|port, syn, 1, 5999, 0, 0)
		b = seg(b, s|port, syn|ack, 1, 11999, 6000, 0)
		return seg(b, c|port, ack, 1, 6000, 12000, 0)
	}
	// Two requests, answered 200 and 404; then the server closes and the
	// client never does: a CLOSE_WAIT leak after an error, 13 s old at the
	// end.
	leak := open(nil, 0)
	leak = seg(leak, c, psh|ack, 1, 6000, 12000, 36)
	leak = seg(leak, s, psh|ack, 1, 12000, 6036, 66)
	leak = seg(leak, c, psh|ack, 2, 6036, 12066, 36)
	leak = seg(leak, s, psh|ack, 1, 12066, 6072, 45)
	leak = seg(leak, c, ack, 1, 6072, 12111, 0)
	leak = seg(leak, s, fin|ack, 100, 12111, 6072, 0)
	leak = seg(leak, c, ack, 1, 6072, 12112, 0)
	leak = seg(leak, c, ack, 255, 6072, 12112, 0)
	f.Add(leak)
	// Two connections closed in order by the client (TIME_WAIT), one
	// refused, and one the capture joined midway, reset by the server.
	var mixed []byte
	for _, port := range []byte{0x20, 0x40} {
		mixed = open(mixed, port)
		mixed = seg(mixed, c|port, fin|ack, 2, 6000, 12000, 0)
		mixed = seg(mixed, s|port, fin|ack, 1, 12000, 6001, 0)
		mixed = seg(mixed, c|port, ack, 1, 6001, 12001, 0)
	}
	mixed = seg(mixed, c|0x60, syn, 1, 9000, 0, 0)
	mixed = seg(mixed, s|0x60, rst|ack, 1, 0, 9001, 0)
	mixed = seg(mixed, c, psh|ack, 200, 6000, 12000, 36)
	mixed = seg(mixed, s, rst, 1, 12000, 0, 0)
	f.Add(mixed)

	cli := netip.MustParseAddr("10.0.0.1")
	srv := netip.AddrPortFrom(netip.MustParseAddr("10.0.0.2"), 8080)
	var streams [2][]byte
	answers := []string{
		"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nKeep-Alive: timeout=5\r\n\r\nhello",
		"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n",
		"HTTP/1.1 500 Oops\r\nConnection: close\r\nContent-Length: 2\r\n\r\nno",
		"HTTP/1.1 204 No Content\r\n\r\n",
	}
	for i := 0; len(streams[0]) < 8000; i++ {
		streams[0] = append(streams[0], "GET /item?id=7 HTTP/1.1\r\nHost: a\r\n\r\n"...)
		streams[1] = append(streams[1], answers[i%len(answers)]...)
	}
	start := flow.TS(time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC))

	f.Fuzz(func(t *testing.T, b []byte) {
		if len(b) > 12*400 {
			return
		}
		tr := flow.NewTracker(flow.Config{})
		at := start
		n := 0
		for ; len(b) >= 12; b = b[12:] {
			c := netip.AddrPortFrom(cli, 40000+uint16(b[0]>>5&3))
			sg := packet.Segment{Src: c, Dst: srv, Flags: packet.Flags(b[0] & 0x1f), Seq: binary.BigEndian.Uint32(b[2:]),
				Ack: binary.BigEndian.Uint32(b[6:]), Len: int(binary.BigEndian.Uint16(b[10:]) % 1500), Window: 512, WScale: -1}
			side := 0
			if b[0]&0x80 != 0 {
				sg.Src, sg.Dst, side = srv, c, 1
			}
			off := int(sg.Seq % 6000)
			sg.Payload = streams[side][off : off+sg.Len]
			sg.IPLen = 40 + sg.Len
			at += flow.Timestamp(time.Duration(b[1]) * 50 * time.Millisecond)
			n++
			tr.Add(&sg, flow.Meta{At: at, Packet: uint32(n), WireLen: uint32(54 + sg.Len), Order: uint64(n)})
		}
		recs, end := tr.Finish()
		res := &flow.Result{Flows: recs, End: end, Inputs: []flow.Input{{Path: "fuzz.pcap", Format: "pcap",
			LinkTypes: []string{"EN10MB"}, Packets: n, TCPPackets: n, First: start.Time(), Last: at.Time()}}}
		rep := analyze.Build(res, analyze.Options{})
		for _, format := range report.Formats {
			r, err := report.New(format, report.Options{All: true, Events: true, Width: 100})
			if err != nil {
				t.Fatal(err)
			}
			var out bytes.Buffer
			if err := r.Render(&out, rep); err != nil {
				t.Fatalf("%s: %v", format, err)
			}
			switch format {
			case "json":
				if !json.Valid(out.Bytes()) {
					t.Fatalf("json: not valid JSON:\n%s", out.Bytes())
				}
			case "jsonl":
				sc := bufio.NewScanner(&out)
				sc.Buffer(nil, 1<<24)
				for sc.Scan() {
					if !json.Valid(sc.Bytes()) {
						t.Fatalf("jsonl: not valid JSON: %s", sc.Bytes())
					}
				}
			}
		}
	})
}
