package flow

import (
	"bytes"
	"context"
	"encoding/binary"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/flowdoc/flowdoc/flow/capture"
	"github.com/flowdoc/flowdoc/flow/packet"
)

func FuzzSource(f *testing.F) {
	for _, name := range []string{"refused.pcap", "clean.pcapng", "midstream.pcap", "decode/caplen-over-len.pcap", "decode/fragments.pcap", "decode/link-types.pcapng"} {
		b, err := os.ReadFile(filepath.Join("..", "testdata", name))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		s, err := capture.NewSource("fuzz", bytes.NewReader(b))
		if err != nil {
			return
		}
		res, err := Read(context.Background(), []*capture.Source{s}, ReadOptions{})
		if err != nil {
			t.Fatal(err)
		}
		in := res.Inputs[0]
		if in.TCPPackets+in.NonTCP+in.BadPackets != in.Packets {
			t.Fatalf("packets %d != tcp %d + other %d + bad %d", in.Packets, in.TCPPackets, in.NonTCP, in.BadPackets)
		}
	})
}

// FuzzTracker drives the state machine with arbitrary segments: 12 bytes
// each (side and flags, time step, sequence and acknowledgement offsets,
// length) between two endpoints, and checks its invariants.
func FuzzTracker(f *testing.F) {
	f.Add(encodeSegs(cat(handshake(1000, 5000), []pkt{
		{Client, FA, 1001, 5001, 0, 1, 0}, {Server, FA, 5001, 1002, 0, 1.1, 0}, {Client, A, 1002, 5002, 0, 1.2, 0},
	})))
	f.Add(encodeSegs([]pkt{{Server, FA, 5000, 1000, 0, 0, 0}, {Client, A, 1000, 5001, 0, 0.1, 0}}))
	f.Add(encodeSegs(cat(handshake(0xffffff00, 7), []pkt{{Server, R, 8, 0, 0, 1, 0}})))
	// Payload for the reassembler and the HTTP reader: each side's
	// messages over and over, taken at the segment's sequence number.
	var streams [2][]byte
	for len(streams[Client]) < 6000 {
		streams[Client] = append(streams[Client], "GET /x HTTP/1.1\r\nHost: a\r\n\r\n"...)
		streams[Server] = append(streams[Server], "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello"...)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		tr := NewTracker(Config{})
		at := TS(t0)
		var sent uint64
		for ; len(b) >= 12; b = b[12:] {
			src, dst := cli, srv
			if b[0]&0x80 != 0 {
				src, dst = srv, cli
			}
			at += Timestamp(time.Duration(b[1]) * 50 * time.Millisecond)
			seg := packet.Segment{
				Src: src, Dst: dst, Flags: packet.Flags(b[0] & 0x1f), Seq: binary.BigEndian.Uint32(b[2:]),
				Ack: binary.BigEndian.Uint32(b[6:]), Len: int(binary.BigEndian.Uint16(b[10:]) % 2000), Window: uint16(b[3]), WScale: -1,
			}
			side := Client
			if src == srv {
				side = Server
			}
			if b[0]&0x40 == 0 { // else cut by the snap length
				off := int(seg.Seq % 4000)
				seg.Payload = streams[side][off : off+seg.Len]
			}
			tr.Add(&seg, Meta{At: at, Packet: uint32(sent + 1), WireLen: uint32(54 + seg.Len)})
			sent++
			checkConns(t, tr)
		}
		recs, _ := tr.Finish()
		var pkts uint64
		for _, r := range recs {
			pkts += r.Client.Packets + r.Server.Packets
			for _, h := range []*Half{&r.Client, &r.Server} {
				if h.State >= numStates || h.State.String() == "" {
					t.Fatalf("bad state %d", h.State)
				}
				if h.Expired != Unknown && h.State != Closed {
					t.Fatalf("expired %v but %v", h.Expired, h.State)
				}
			}
			if r.OneSided && (r.Client.State != Unknown && r.Client.RSTs == 0 || r.Server.State != Unknown && r.Server.RSTs == 0) {
				t.Fatalf("one-sided flow with known states %v/%v", r.Client.State, r.Server.State)
			}
			if len(r.Events) > maxEvents {
				t.Fatalf("%d events", len(r.Events))
			}
			// The packed payload reads back whole.
			if p := r.Payload(); p != nil && p.HTTP != nil {
				for i := range p.HTTP.Exchanges {
					if x := &p.HTTP.Exchanges[i]; x.ResponsePacket > uint32(sent) || x.RequestPacket > uint32(sent) {
						t.Fatalf("exchange %d names packet %d/%d of %d", i, x.RequestPacket, x.ResponsePacket, sent)
					}
				}
			}
		}
		// Or left out, captured twice: the same packet again at once.
		for _, d := range tr.dups {
			pkts += uint64(d.same.n + d.cross.n)
		}
		if pkts != sent {
			t.Fatalf("%d packets in flows and captured twice, %d sent", pkts, sent)
		}
	})
}

// checkConns holds the tracker's connections to what they cache of their
// records (those that have one yet).
func checkConns(t *testing.T, tr *Tracker) {
	t.Helper()
	inTable := map[*conn]bool{}
	for _, c := range tr.conns() {
		inTable[c] = true
		if c.rec != nil && c.st != c.rec.stream {
			t.Fatalf("connection %v caches stream %p, its record holds %p", c.rec.Key, c.st, c.rec.stream)
		}
	}
	// A stream resting apart from a record belongs to a connection in the
	// table that has neither record nor live stream.
	for _, c := range restingApart(tr) {
		if c.rec != nil || c.st != nil {
			t.Fatalf("a resting stream kept for a connection with record %p, stream %p", c.rec, c.st)
		}
	}
}

// restingApart returns the connections in tr's table whose streams rest
// with no record to keep them.
func restingApart(tr *Tracker) []*conn {
	var cs []*conn
	for _, c := range tr.conns() {
		if c.packed != "" {
			cs = append(cs, c)
		}
	}
	return cs
}

func encodeSegs(ps []pkt) []byte {
	var b []byte
	prev := 0.0
	for _, p := range ps {
		head := byte(p.flags) & 0x1f
		if p.from == Server {
			head |= 0x80
		}
		step := byte((p.at - prev) / 0.05)
		prev = p.at
		b = append(b, head, step)
		b = binary.BigEndian.AppendUint32(b, p.seq)
		b = binary.BigEndian.AppendUint32(b, p.ack)
		b = binary.BigEndian.AppendUint16(b, uint16(p.len))
	}
	return b
}
