package flow

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"testing"
	"time"

	"github.com/gopacket/gopacket/layers"
)

// fuzzLinkTypes are chosen by the first byte of a fuzz input: below 0x80
// one of the first eight (the corpus's first bytes keep their meaning),
// else one of the rest.
var fuzzLinkTypes = []layers.LinkType{
	layers.LinkTypeEthernet, layers.LinkTypeLinuxSLL, layers.LinkTypeLinuxSLL2, layers.LinkTypeNull,
	layers.LinkTypeLoop, layers.LinkTypeRaw, layers.LinkTypeIPv4, layers.LinkTypeIPv6,
	layers.LinkTypePPP, layers.LinkTypePPP_HDLC, layers.LinkTypeC_HDLC, layers.LinkTypeFDDI,
	layers.LinkTypeIEEE802_11, layers.LinkTypeIEEE80211Radio, layers.LinkTypePrismHeader,
	layers.LinkTypePFLog, linkTypeNFLOG, linkTypePKTAP, layers.LinkTypePPPEthernet, layers.LinkTypeATM_RFC1483,
}

// fuzzLinkByte is the first byte of a fuzz input for link type lt.
func fuzzLinkByte(lt layers.LinkType) byte {
	for i, l := range fuzzLinkTypes {
		if l == lt {
			if i < 8 {
				return byte(i)
			}
			return byte(0x80 + i - 8)
		}
	}
	return 0
}

// seedFrames are real frames from the lab captures and the crafted
// captures of encapsulations and link types, each prefixed with the byte
// of its link type.
func seedFrames(f *testing.F) [][]byte {
	var out [][]byte
	for _, name := range []string{"keepalive-leak.pcap", "ipv6.pcap", "proxy-any.pcap"} {
		frames, lt := readFrames(f, filepath.Join("..", "testdata", name))
		for i, fr := range frames {
			if i%7 == 0 {
				out = append(out, append([]byte{fuzzLinkByte(lt)}, fr.data...))
			}
		}
	}
	for _, name := range []string{"tunnels.pcap", "link-types.pcapng", "fragments.pcap", "header-only-64.pcap", "header-only-v6-80.pcap", "ipv6-length-0.pcap"} {
		s, err := Open(filepath.Join(decodeDir, name))
		if err != nil {
			f.Fatal(err)
		}
		for i := 0; ; i++ {
			data, _, lt, err := s.next()
			if err != nil {
				break
			}
			if i%3 == 0 || name == "fragments.pcap" {
				out = append(out, append([]byte{fuzzLinkByte(lt)}, data...))
			}
		}
		s.Close()
	}
	return out
}

// fuzzFrame splits a decoder fuzz input into its link type (the first
// byte) and frame.
func fuzzFrame(b []byte) (layers.LinkType, []byte, bool) {
	if len(b) == 0 {
		return 0, nil, false
	}
	i := int(b[0]) % 8
	if b[0] >= 0x80 {
		i = 8 + int(b[0]-0x80)%(len(fuzzLinkTypes)-8)
	}
	return fuzzLinkTypes[i], b[1:], true
}

func addSeedFrames(f *testing.F) {
	for _, fr := range seedFrames(f) {
		f.Add(fr)
	}
}

func FuzzDecode(f *testing.F) {
	addSeedFrames(f)
	d := NewDecoder()
	f.Fuzz(func(t *testing.T, b []byte) {
		lt, frame, ok := fuzzFrame(b)
		if !ok {
			return
		}
		var seg Segment
		ok, err := d.Decode(lt, frame, &seg)
		var de *DecodeError
		if err != nil && !errors.As(err, &de) {
			t.Fatalf("untyped error: %v", err)
		}
		if ok && (seg.Len < 0 || !seg.Src.IsValid() || !seg.Dst.IsValid()) {
			t.Fatalf("bad segment %+v", seg)
		}
	})
}

func FuzzSource(f *testing.F) {
	for _, name := range []string{"refused.pcap", "clean.pcapng", "midstream.pcap", "decode/caplen-over-len.pcap", "decode/fragments.pcap", "decode/link-types.pcapng"} {
		b, err := os.ReadFile(filepath.Join("..", "testdata", name))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		s, err := NewSource("fuzz", bytes.NewReader(b))
		if err != nil {
			return
		}
		res, err := Read(context.Background(), []*Source{s}, ReadOptions{})
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
			seg := Segment{
				Src: src, Dst: dst, Flags: Flags(b[0] & 0x1f), Seq: binary.BigEndian.Uint32(b[2:]),
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
		if pkts != sent {
			t.Fatalf("%d packets in flows, %d sent", pkts, sent)
		}
	})
}

// checkConns holds the tracker's connections to what they cache of their
// records.
func checkConns(t *testing.T, tr *Tracker) {
	t.Helper()
	for _, c := range tr.conns() {
		if c.st != c.rec.stream {
			t.Fatalf("connection %v caches stream %p, its record holds %p", c.rec.Key, c.st, c.rec.stream)
		}
	}
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

// FuzzFastPath holds the fast path to gopacket's: for every frame it
// takes, both must give the same segment.
func FuzzFastPath(f *testing.F) {
	addSeedFrames(f)
	d := NewDecoder()
	f.Fuzz(func(t *testing.T, b []byte) {
		lt, frame, ok := fuzzFrame(b)
		if !ok {
			return
		}
		var fast, slow Segment
		if !fastDecode(lt, frame, &fast) {
			return
		}
		ok, err := d.decodeLayers(lt, frame, &slow)
		if err != nil || !ok {
			t.Fatalf("fast path took a frame gopacket rejects (ok %v, %v)", ok, err)
		}
		fp, sp := fast.Payload, slow.Payload
		fast.Payload, slow.Payload = nil, nil
		if !reflect.DeepEqual(fast, slow) || !bytes.Equal(fp, sp) {
			t.Fatalf("fast path %+v payload %q\ngopacket  %+v payload %q", fast, fp, slow, sp)
		}
	})
}
