package flow

import (
	"math"
	"net/netip"
	"slices"
	"testing"
	"time"

	"github.com/flowdoc/flowdoc/flow/internal/free"
	"github.com/flowdoc/flowdoc/flow/packet"
)

var (
	cli = netip.MustParseAddrPort("10.0.0.1:40000")
	srv = netip.MustParseAddrPort("10.0.0.2:80")
	t0  = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
)

// pkt is a segment in a test conversation; at is seconds after t0.
type pkt struct {
	from  Side
	flags packet.Flags
	seq   uint32
	ack   uint32
	len   int
	at    float64
	win   uint16
}

const (
	S  = packet.SYN
	SA = packet.SYN | packet.ACK
	A  = packet.ACK
	PA = packet.PSH | packet.ACK
	FA = packet.FIN | packet.ACK
	R  = packet.RST
	RA = packet.RST | packet.ACK
)

func run(pkts []pkt, cfg Config) []*Record {
	tr := NewTracker(cfg)
	feed(tr, pkts)
	recs, _ := tr.Finish()
	return recs
}

// feed adds pkts to tr, numbered from 1.
func feed(tr *Tracker, pkts []pkt) {
	for i, p := range pkts {
		src, dst := cli, srv
		if p.from == Server {
			src, dst = srv, cli
		}
		win := p.win
		if win == 0 && p.flags&packet.RST == 0 {
			win = 500
		}
		if p.win == 0xffff {
			win = 0 // a zero window, spelled out
		}
		seg := packet.Segment{Src: src, Dst: dst, Seq: p.seq, Ack: p.ack, Flags: p.flags, Len: p.len, Window: win, WScale: -1}
		tr.Add(&seg, Meta{At: TS(t0.Add(time.Duration(p.at * float64(time.Second)))), Packet: uint32(i + 1), WireLen: uint32(54 + p.len)})
	}
}

// opened returns a tracker holding a connection whose handshake, with
// ISNs c and s, is done (packets 1 to 3, by 2 ms), and the sender of its
// next segments (see sender).
func opened(c, s uint32) (*Tracker, func(from Side, fl packet.Flags, seq, ack uint32, data []byte, at float64)) {
	tr := NewTracker(Config{})
	add := sender(tr)
	add(Client, S, c, 0, nil, 0)
	add(Server, SA, s, c+1, nil, 0.001)
	add(Client, A, c+1, s+1, nil, 0.002)
	return tr, add
}

// sender returns a func that adds to tr a segment with payload data, the
// packets numbered from 1: for the tests that read payload.
func sender(tr *Tracker) func(from Side, fl packet.Flags, seq, ack uint32, data []byte, at float64) {
	n := 0
	return func(from Side, fl packet.Flags, seq, ack uint32, data []byte, at float64) {
		src, dst := cli, srv
		if from == Server {
			src, dst = srv, cli
		}
		n++
		seg := packet.Segment{Src: src, Dst: dst, Seq: seq, Ack: ack, Flags: fl, Len: len(data), Payload: data, Window: 500, WScale: -1}
		tr.Add(&seg, Meta{At: TS(t0.Add(time.Duration(at * float64(time.Second)))), Packet: uint32(n), WireLen: uint32(54 + len(data))})
	}
}

// handshake opens a connection with ISNs c and s.
func handshake(c, s uint32) []pkt {
	return []pkt{
		{Client, S, c, 0, 0, 0, 0},
		{Server, SA, s, c + 1, 0, 0.001, 0},
		{Client, A, c + 1, s + 1, 0, 0.002, 0},
	}
}

func cat(parts ...[]pkt) []pkt {
	var out []pkt
	for _, p := range parts {
		out = append(out, p...)
	}
	return out
}

func TestTransitions(t *testing.T) {
	const c, s = 1000, 5000
	// request of 100 bytes, response of 200
	exchange := []pkt{
		{Client, PA, c + 1, s + 1, 100, 0.01, 0},
		{Server, A, s + 1, c + 101, 0, 0.011, 0},
		{Server, PA, s + 1, c + 101, 200, 0.02, 0},
		{Client, A, c + 101, s + 201, 0, 0.021, 0},
	}
	tests := []struct {
		name        string
		pkts        []pkt
		at          float64 // seconds after t0 to report at; 0: last packet
		client, srv State
		check       func(t *testing.T, r *Record)
	}{
		{name: "handshake", pkts: handshake(c, s), client: Established, srv: Established},
		{name: "SYN only", pkts: handshake(c, s)[:1], client: SynSent, srv: Closed},
		{name: "SYN, SYN-ACK", pkts: handshake(c, s)[:2], client: Established, srv: SynRecv},
		{name: "client closes first", pkts: cat(handshake(c, s), exchange, []pkt{
			{Client, FA, c + 101, s + 201, 0, 1, 0},
			{Server, A, s + 201, c + 102, 0, 1.001, 0},
			{Server, FA, s + 201, c + 102, 0, 1.002, 0},
			{Client, A, c + 102, s + 202, 0, 1.003, 0},
		}), client: TimeWait, srv: Closed},
		{name: "server idle close, client never closes", pkts: cat(handshake(c, s), exchange, []pkt{
			{Server, FA, s + 201, c + 101, 0, 20.02, 0},
			{Client, A, c + 101, s + 202, 0, 20.021, 0},
		}), client: CloseWait, srv: FinWait2, check: func(t *testing.T, r *Record) {
			if r.Server.FinPacket != 8 || r.Server.LastPayloadPacket != 6 {
				t.Errorf("fin packet %d, last payload packet %d", r.Server.FinPacket, r.Server.LastPayloadPacket)
			}
			if got := r.Server.FinAt.Sub(r.Server.LastPayload); got != 20*time.Second {
				t.Errorf("idle before FIN %v", got)
			}
		}},
		{name: "orphaned FIN_WAIT_2 times out, CLOSE_WAIT does not", pkts: cat(handshake(c, s), []pkt{
			{Server, FA, s + 1, c + 1, 0, 1, 0},
			{Client, A, c + 1, s + 2, 0, 1.001, 0},
		}), at: 62, client: CloseWait, srv: Closed, check: func(t *testing.T, r *Record) {
			if r.Server.Expired != FinWait2 {
				t.Errorf("expired %v", r.Server.Expired)
			}
		}},
		{name: "half-closed FIN_WAIT_2 does not time out", pkts: cat(handshake(c, s), []pkt{
			{Client, FA, c + 1, s + 1, 0, 1, 0},
			{Server, A, s + 1, c + 2, 0, 1.001, 0},
			{Server, PA, s + 1, c + 2, 300, 2, 0},
			{Client, A, c + 2, s + 301, 0, 2.001, 0},
		}), at: 300, client: FinWait2, srv: CloseWait, check: func(t *testing.T, r *Record) {
			if !r.Client.HalfClosed {
				t.Error("client not marked half-closed")
			}
		}},
		{name: "TIME_WAIT runs out", pkts: cat(handshake(c, s), []pkt{
			{Client, FA, c + 1, s + 1, 0, 1, 0},
			{Server, FA, s + 1, c + 2, 0, 1.001, 0},
			{Client, A, c + 2, s + 2, 0, 1.002, 0},
		}), at: 61.002, client: Closed, srv: Closed, check: func(t *testing.T, r *Record) {
			if r.Client.Expired != TimeWait {
				t.Errorf("expired %v", r.Client.Expired)
			}
		}},
		{name: "TIME_WAIT not yet run out", pkts: cat(handshake(c, s), []pkt{
			{Client, FA, c + 1, s + 1, 0, 1, 0},
			{Server, FA, s + 1, c + 2, 0, 1.001, 0},
			{Client, A, c + 2, s + 2, 0, 1.002, 0},
		}), at: 60.9, client: TimeWait, srv: Closed},
		{name: "FIN not acknowledged", pkts: cat(handshake(c, s), []pkt{
			{Client, FA, c + 1, s + 1, 0, 1, 0},
		}), client: FinWait1, srv: CloseWait},
		{name: "ACK short of the FIN does not acknowledge it", pkts: cat(handshake(c, s), []pkt{
			{Client, PA, c + 1, s + 1, 50, 1, 0},
			{Client, FA, c + 51, s + 1, 0, 1.0001, 0},
			{Server, A, s + 1, c + 51, 0, 1.001, 0},
		}), client: FinWait1, srv: CloseWait},
		{name: "FIN retransmitted, then acknowledged", pkts: cat(handshake(c, s), []pkt{
			{Client, FA, c + 1, s + 1, 0, 1, 0},
			{Client, FA, c + 1, s + 1, 0, 1.2, 0},
			{Server, A, s + 1, c + 2, 0, 1.201, 0},
		}), client: FinWait2, srv: CloseWait, check: func(t *testing.T, r *Record) {
			if r.Client.Retrans != 1 || r.History != "ShAFa" { // Zeek's T: payload only
				t.Errorf("retrans %d, history %s", r.Client.Retrans, r.History)
			}
		}},
		{name: "LAST_ACK waits for its ACK", pkts: cat(handshake(c, s), []pkt{
			{Client, FA, c + 1, s + 1, 0, 1, 0},
			{Server, A, s + 1, c + 2, 0, 1.001, 0},
			{Server, FA, s + 1, c + 2, 0, 1.5, 0},
		}), client: TimeWait, srv: LastAck},
		{name: "simultaneous close", pkts: cat(handshake(c, s), []pkt{
			{Client, FA, c + 1, s + 1, 0, 1, 0},
			{Server, FA, s + 1, c + 1, 0, 1.0001, 0}, // sent before the client's FIN arrived
			{Client, A, c + 2, s + 2, 0, 1.001, 0},
			{Server, A, s + 2, c + 2, 0, 1.001, 0},
		}), client: TimeWait, srv: TimeWait},
		{name: "simultaneous close, ACKs not yet seen", pkts: cat(handshake(c, s), []pkt{
			{Client, FA, c + 1, s + 1, 0, 1, 0},
			{Server, FA, s + 1, c + 1, 0, 1.0001, 0},
		}), client: Closing, srv: Closing},
		{name: "FIN with the ACK of the peer's FIN", pkts: cat(handshake(c, s), []pkt{
			{Client, FA, c + 1, s + 1, 0, 1, 0},
			{Server, FA, s + 1, c + 2, 0, 1.001, 0},
		}), client: TimeWait, srv: LastAck},
		{name: "accepted at last after a full queue", pkts: cat(handshake(c, s), []pkt{
			{Server, SA, s, c + 1, 0, 1.001, 0},
			{Client, A, c + 1, s + 1, 0, 1.002, 0},
			{Server, A, s + 1, c + 1, 0, 3, 0},
		}), client: Established, srv: Established},
		{name: "simultaneous open", pkts: []pkt{
			{Client, S, c, 0, 0, 0, 0},
			{Server, S, s, 0, 0, 0.0001, 0},
			{Client, SA, c, s + 1, 0, 0.001, 0},
			{Server, SA, s, c + 1, 0, 0.001, 0},
		}, client: Established, srv: Established},
		{name: "refused", pkts: []pkt{
			{Client, S, c, 0, 0, 0, 0},
			{Server, RA, 0, c + 1, 0, 0.001, 0},
		}, client: Closed, srv: Closed},
		{name: "RST with a wrong ACK in SYN_SENT is ignored", pkts: []pkt{
			{Client, S, c, 0, 0, 0, 0},
			{Server, RA, 0, c + 77, 0, 0.001, 0},
		}, client: SynSent, srv: Closed},
		{name: "RST in window", pkts: cat(handshake(c, s), exchange, []pkt{
			{Server, R, s + 201, 0, 0, 1, 0},
		}), client: Closed, srv: Closed},
		{name: "RST out of window is ignored", pkts: cat(handshake(c, s), exchange, []pkt{
			{Server, R, s + 201 + 100000, 0, 0, 1, 0},
		}), client: Established, srv: Established, check: func(t *testing.T, r *Record) {
			if n := r.Events[len(r.Events)-1].Note; n&NoteRSTIgnored == 0 {
				t.Errorf("note %v", n.Names())
			}
		}},
		{name: "RST kills TIME_WAIT (rfc1337 off)", pkts: cat(handshake(c, s), []pkt{
			{Client, FA, c + 1, s + 1, 0, 1, 0},
			{Server, FA, s + 1, c + 2, 0, 1.001, 0},
			{Client, A, c + 2, s + 2, 0, 1.002, 0},
			{Server, R, s + 2, 0, 0, 2, 0},
		}), client: Closed, srv: Closed},
		{name: "sequence numbers wrap", pkts: cat(handshake(0xffffff00, 0xfffffff0), []pkt{
			{Client, PA, 0xffffff01, 0xfffffff1, 0x200, 1, 0}, // crosses 2^32
			{Server, A, 0xfffffff1, 0x101, 0, 1.001, 0},
			{Server, PA, 0xfffffff1, 0x101, 0x100, 1.002, 0},
			{Client, FA, 0x101, 0xf1, 0, 2, 0},
			{Server, A, 0xf1, 0x102, 0, 2.001, 0},
		}), client: FinWait2, srv: CloseWait, check: func(t *testing.T, r *Record) {
			if r.Client.Bytes != 0x200 || r.Server.Bytes != 0x100 {
				t.Errorf("bytes %d/%d", r.Client.Bytes, r.Server.Bytes)
			}
		}},
		{name: "data retransmission", pkts: cat(handshake(c, s), []pkt{
			{Client, PA, c + 1, s + 1, 100, 1, 0},
			{Client, PA, c + 1, s + 1, 100, 1.3, 0},
			{Server, A, s + 1, c + 101, 0, 1.301, 0},
		}), client: Established, srv: Established, check: func(t *testing.T, r *Record) {
			if r.Client.Retrans != 1 || r.Client.Bytes != 100 {
				t.Errorf("retrans %d bytes %d", r.Client.Retrans, r.Client.Bytes)
			}
		}},
		{name: "keep-alive probes", pkts: cat(handshake(c, s), []pkt{
			{Client, A, c, s + 1, 0, 75, 0},
			{Server, A, s + 1, c + 1, 0, 75.001, 0},
			{Client, A, c, s + 1, 0, 150, 0},
			{Server, A, s + 1, c + 1, 0, 150.001, 0},
		}), client: Established, srv: Established, check: func(t *testing.T, r *Record) {
			if r.Client.KeepAlives != 2 || r.Client.WinProbes != 0 || r.Client.Retrans != 0 {
				t.Errorf("keepalives %d probes %d retrans %d", r.Client.KeepAlives, r.Client.WinProbes, r.Client.Retrans)
			}
		}},
		{name: "zero-window probes are not keep-alives", pkts: cat(handshake(c, s), []pkt{
			{Client, PA, c + 1, s + 1, 1000, 1, 0},
			{Server, A, s + 1, c + 1001, 0, 1.001, 0xffff},
			{Client, A, c + 1000, s + 1, 0, 1.2, 0},
			{Server, A, s + 1, c + 1001, 0, 1.201, 0xffff},
		}), client: Established, srv: Established, check: func(t *testing.T, r *Record) {
			if r.Client.WinProbes != 1 || r.Client.KeepAlives != 0 || r.Server.ZeroWindows != 2 {
				t.Errorf("probes %d keepalives %d zero windows %d", r.Client.WinProbes, r.Client.KeepAlives, r.Server.ZeroWindows)
			}
		}},
		{name: "listen queue full: SYN-ACK again after the ACK", pkts: cat(handshake(c, s), []pkt{
			{Client, PA, c + 1, s + 1, 100, 0.003, 0},
			{Server, SA, s, c + 1, 0, 1.001, 0},
			{Client, A, c + 101, s + 1, 0, 1.002, 0},
		}), client: Established, srv: SynRecv, check: func(t *testing.T, r *Record) {
			found := false
			for _, e := range r.Events {
				found = found || e.Note&NoteListenOverflow != 0
			}
			if !found {
				t.Error("no listen_overflow note")
			}
		}},
		{name: "SYN retransmitted, still trying", pkts: []pkt{
			{Client, S, c, 0, 0, 0, 0},
			{Client, S, c, 0, 0, 1, 0},
			{Client, S, c, 0, 0, 3, 0},
		}, at: 7.3, client: SynSent, srv: Closed},
		{name: "SYN retransmitted, overdue", pkts: []pkt{
			{Client, S, c, 0, 0, 0, 0},
			{Client, S, c, 0, 0, 1, 0},
			{Client, S, c, 0, 0, 3, 0},
		}, at: 7.6, client: Closed, srv: Closed},
		{name: "SYN retransmitted, given up", pkts: []pkt{
			{Client, S, c, 0, 0, 0, 0},
			{Client, S, c, 0, 0, 1, 0},
			{Client, S, c, 0, 0, 3, 0},
		}, at: 9.5, client: Closed, srv: Closed, check: func(t *testing.T, r *Record) {
			if r.Client.Expired != SynSent {
				t.Errorf("expired %v", r.Client.Expired)
			}
		}},
		{name: "midstream: the two-packet FIN, ACK stream", pkts: []pkt{
			{Server, FA, s, c, 0, 0, 0},
			{Client, A, c, s + 1, 0, 0.001, 0},
		}, client: CloseWait, srv: FinWait2, check: func(t *testing.T, r *Record) {
			if !r.Midstream || !r.RolesInferred || r.Key.Server() != srv {
				t.Errorf("midstream %v inferred %v key %v", r.Midstream, r.RolesInferred, r.Key)
			}
		}},
		{name: "one-sided: the server's packets were not captured", pkts: []pkt{
			{Client, S, c, 0, 0, 0, 0},
			{Client, A, c + 1, s + 1, 0, 0.002, 0},
			{Client, FA, c + 1, s + 1, 0, 1, 0},
		}, client: Unknown, srv: Unknown, check: func(t *testing.T, r *Record) {
			if !r.OneSided {
				t.Error("not one-sided")
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := Config{}
			if tt.at > 0 {
				cfg.At = t0.Add(time.Duration(tt.at * float64(time.Second)))
			}
			recs := run(tt.pkts, cfg)
			if len(recs) != 1 {
				t.Fatalf("%d flows, want 1", len(recs))
			}
			r := recs[0]
			if r.Client.State != tt.client || r.Server.State != tt.srv {
				t.Errorf("states %s/%s, want %s/%s (history %s)", r.Client.State, r.Server.State, tt.client, tt.srv, r.History)
			}
			if tt.check != nil {
				tt.check(t, r)
			}
		})
	}
}

func TestPortReuse(t *testing.T) {
	first := cat(handshake(1000, 5000), []pkt{
		{Client, FA, 1001, 5001, 0, 1, 0},
		{Server, FA, 5001, 1002, 0, 1.001, 0},
		{Client, A, 1002, 5002, 0, 1.002, 0},
	})
	second := handshake(900000, 700000)
	for i := range second {
		second[i].at += 2
	}
	recs := run(cat(first, second, []pkt{{Client, S, 900000, 0, 0, 2.5, 0}}), Config{})
	if len(recs) != 2 {
		t.Fatalf("%d flows, want 2", len(recs))
	}
	if recs[0].Reused || !recs[1].Reused {
		t.Errorf("reused flags %v %v", recs[0].Reused, recs[1].Reused)
	}
	if recs[0].Client.State != TimeWait || recs[1].Client.State != Established {
		t.Errorf("states %v %v", recs[0].Client.State, recs[1].Client.State)
	}
	if recs[1].Client.Retrans != 1 {
		t.Errorf("the repeated SYN is a retransmission: %d", recs[1].Client.Retrans)
	}
}

func TestServerLike(t *testing.T) {
	tests := []struct {
		a, b string
		want bool
	}{
		{"10.0.0.1:80", "10.0.0.2:51000", true},
		{"10.0.0.1:51000", "10.0.0.2:443", false},
		{"10.0.0.1:8080", "10.0.0.2:40000", true},
		{"10.0.0.1:50000", "10.0.0.2:9000", false},
		{"10.0.0.1:3306", "10.0.0.2:5432", true},
	}
	for _, tt := range tests {
		if got := serverLike(netip.MustParseAddrPort(tt.a), netip.MustParseAddrPort(tt.b)); got != tt.want {
			t.Errorf("serverLike(%s, %s) = %v", tt.a, tt.b, got)
		}
	}
}

// TestInferRoles: an endpoint that accepted a handshake elsewhere in the
// capture is the server of a midstream flow, whatever the ports say.
func TestInferRoles(t *testing.T) {
	a := netip.MustParseAddrPort("10.0.0.2:40001") // a server on a high port
	b := netip.MustParseAddrPort("10.0.0.1:30000")
	tr := NewTracker(Config{})
	add := func(src, dst netip.AddrPort, f packet.Flags, seq, ack uint32, at float64) {
		seg := packet.Segment{Src: src, Dst: dst, Flags: f, Seq: seq, Ack: ack, Window: 100, WScale: -1}
		tr.Add(&seg, Meta{At: TS(t0.Add(time.Duration(at * float64(time.Second))))})
	}
	other := netip.MustParseAddrPort("10.0.0.3:30001")
	add(other, a, S, 1, 0, 0)
	add(a, other, SA, 9, 2, 0.001)
	add(a, b, FA, 100, 200, 1) // midstream: ports alone would make b the server
	add(b, a, A, 200, 101, 1.001)
	recs, _ := tr.Finish()
	// The client did not send the first packet: Zeek's ^.
	if recs[1].Key.Server() != a || recs[1].Server.State != FinWait2 || recs[1].Client.State != CloseWait || recs[1].History != "^fA" {
		t.Errorf("key %v states %v/%v history %s", recs[1].Key, recs[1].Client.State, recs[1].Server.State, recs[1].History)
	}
	// Swapped back, the ^ goes.
	recs[1].swap()
	if recs[1].History != "Fa" {
		t.Errorf("swapped back: history %s, want Fa", recs[1].History)
	}
}

// TestSweepChangesNothing runs a long capture with many connections, late
// packets after they finished, and reused ports, through a tracker that
// retires finished connections and one that keeps all of them: the
// records must be the same.
func TestSweepChangesNothing(t *testing.T) {
	type timed struct {
		seg packet.Segment
		at  Timestamp
	}
	var pkts []timed
	add := func(at Timestamp, src, dst netip.AddrPort, f packet.Flags, seq, ack uint32, n int) {
		pkts = append(pkts, timed{packet.Segment{Src: src, Dst: dst, Flags: f, Seq: seq, Ack: ack, Len: n, Window: 1000, WScale: -1}, at})
	}
	server := netip.MustParseAddrPort("10.9.0.1:80")
	for i := 0; i < 3000; i++ {
		// 7 hosts x 300 ports: each tuple comes back after 21 s.
		client := netip.AddrPortFrom(netip.AddrFrom4([4]byte{10, 8, 0, byte(i % 7)}), uint16(40000+i%300))
		c, s := uint32(i*7919), uint32(i*104729)
		at := TS(t0) + Timestamp(time.Duration(i)*10*time.Millisecond)
		add(at, client, server, S, c, 0, 0)
		add(at, server, client, SA, s, c+1, 0)
		add(at, client, server, A, c+1, s+1, 0)
		add(at, client, server, PA, c+1, s+1, 100)
		add(at, server, client, PA, s+1, c+101, 300)
		late := at + Timestamp(3500*time.Millisecond) // after the connection is retired
		switch i % 4 {
		case 0: // client closes
			add(at, client, server, FA, c+101, s+301, 0)
			add(at, server, client, FA, s+301, c+102, 0)
			add(at, client, server, A, c+102, s+302, 0)
			if i%8 == 0 { // the last ACK was lost: the FIN again, late
				add(late, server, client, FA, s+301, c+102, 0)
				add(late, client, server, A, c+102, s+302, 0)
			}
		case 1: // server closes, the client leaks; some close half a minute later
			add(at, server, client, FA, s+301, c+101, 0)
			add(at, client, server, A, c+101, s+302, 0)
			if i%20 == 1 {
				later := at + Timestamp(30*time.Second)
				add(later, client, server, FA, c+101, s+302, 0)
				add(later, server, client, A, s+302, c+102, 0)
			}
		case 3: // open and idle, then a keep-alive much later
			if i%10 == 3 {
				later := at + Timestamp(25*time.Second)
				add(later, client, server, A, c+100, s+301, 0)
				add(later, server, client, A, s+301, c+101, 0)
			}
		case 2: // reset, then a stray segment
			add(at, server, client, R, s+301, 0, 0)
			add(late, client, server, PA, c+101, s+301, 50)
		}
	}
	slices.SortStableFunc(pkts, func(a, b timed) int { return int(a.at - b.at) })
	segs := make([]packet.Segment, len(pkts))
	metas := make([]Meta, len(pkts))
	for i, p := range pkts {
		segs[i] = p.seg
		metas[i] = Meta{At: p.at, Packet: uint32(i + 1), WireLen: uint32(54 + p.seg.Len)}
	}
	run := func(sweep bool) []*Record {
		tr := NewTracker(Config{})
		tr.noSweep = !sweep
		for i := range segs {
			tr.Add(&segs[i], metas[i])
		}
		recs, _ := tr.Finish()
		return recs
	}
	swept, kept := run(true), run(false)
	sweeps := NewTracker(Config{})
	for i := range segs {
		sweeps.Add(&segs[i], metas[i])
	}
	if sweeps.retired.n == 0 || sweeps.revived < 500 || sweeps.frozen < 100 {
		t.Fatalf("%d retired, %d revived, %d frozen: the test does not exercise sweeping", sweeps.retired.n, sweeps.revived, sweeps.frozen)
	}
	if len(swept) != len(kept) {
		t.Fatalf("%d flows swept, %d kept", len(swept), len(kept))
	}
	reused := 0
	for i := range swept {
		a, b := *swept[i], *kept[i]
		if a.Reused {
			reused++
		}
		if a.Key != b.Key || a.Client != b.Client || a.Server != b.Server || a.History != b.History || a.Reused != b.Reused || a.Last != b.Last {
			t.Fatalf("flow %d differs:\nswept %+v\nkept  %+v", a.ID, a, b)
		}
	}
	if reused == 0 {
		t.Error("no port reuse in the test: it tests less than it claims")
	}

	// Under a cap (flowdoc live --max-flows) memory holds the newest
	// connections; the oldest are dropped and counted, and the newest
	// come out as they would without the cap.
	capped := NewTracker(Config{MaxFlows: 500})
	for i := range segs {
		capped.Add(&segs[i], metas[i])
	}
	recs, _ := capped.Finish()
	if len(recs) > 500 || capped.Evicted() == 0 || len(recs)+capped.Evicted() < len(kept) {
		t.Fatalf("capped at 500: %d flows, %d evicted, of %d", len(recs), capped.Evicted(), len(kept))
	}
	// A late packet of a dropped connection starts a flow of its own
	// (midstream): those aside, the newest flows are as without the cap.
	type id struct {
		k Key
		t Timestamp
	}
	uncapped := map[id]*Record{}
	for _, r := range kept {
		uncapped[id{r.Key, r.First}] = r
	}
	compared := 0
	for i := len(recs) - 1; i >= 0 && compared < 150; i-- {
		a := recs[i]
		if a.Midstream {
			continue
		}
		compared++
		b := uncapped[id{a.Key, a.First}]
		if b == nil || a.Client.State != b.Client.State || a.Server.State != b.Server.State || a.History != b.History || a.Last != b.Last {
			t.Fatalf("capped: flow %v from %v differs:\ncapped %+v\nkept   %+v", a.Key, a.First, *a, b)
		}
	}
}

// TestVeryLatePacket: a FIN sent again long after the connection ended
// (past the window in which its sequence state is kept) counts on the
// same flow and changes neither its states nor its recorded FIN.
func TestVeryLatePacket(t *testing.T) {
	pkts := cat(handshake(1000, 5000), []pkt{
		{Client, FA, 1001, 5001, 0, 1, 0},
		{Server, FA, 5001, 1002, 0, 1.001, 0},
		{Client, A, 1002, 5002, 0, 1.002, 0},
	})
	// Other traffic keeps the capture going so that sweeps run.
	tr := NewTracker(Config{})
	add := func(p pkt, src, dst netip.AddrPort, n int) {
		seg := packet.Segment{Src: src, Dst: dst, Seq: p.seq, Ack: p.ack, Flags: p.flags, Len: p.len, Window: 100, WScale: -1}
		tr.Add(&seg, Meta{At: TS(t0.Add(time.Duration(p.at * float64(time.Second)))), Packet: uint32(n)})
	}
	n := 0
	for _, p := range pkts {
		n++
		if p.from == Client {
			add(p, cli, srv, n)
		} else {
			add(p, srv, cli, n)
		}
	}
	other := netip.MustParseAddrPort("10.0.0.3:50000")
	for i := 0; i < 40000; i++ {
		n++
		add(pkt{Client, A, 7, 7, 0, 2 + float64(i)/1000, 0}, other, srv, n)
	}
	n++
	add(pkt{Server, FA, 5001, 1002, 0, 45, 0}, srv, cli, n)
	if tr.revived != 1 {
		t.Fatalf("revived %d connections, want 1", tr.revived)
	}
	recs, _ := tr.Finish()
	r := recs[0]
	if len(recs) != 2 || r.Server.Packets != 3 || r.Server.FinPacket != 5 || r.Client.State != TimeWait || r.Server.State != Closed {
		t.Errorf("%d flows; server packets %d, FIN packet %d, states %v/%v", len(recs), r.Server.Packets, r.Server.FinPacket, r.Client.State, r.Server.State)
	}
}

// TestFreeListBounded: after a burst of connections that all close, the
// tracker keeps no more of their state for reuse than free.Max: memory
// goes back to following the connections open.
func TestFreeListBounded(t *testing.T) {
	tr := NewTracker(Config{})
	server := netip.MustParseAddrPort("10.0.0.2:80")
	feed := &segFeed{tr: tr}
	add := func(at time.Duration, src, dst netip.AddrPort, f packet.Flags, seq, ack uint32) {
		feed.add(at, src, dst, f, seq, ack, 500)
	}
	const conns = free.Max + 5000
	client := func(i int) netip.AddrPort {
		return netip.AddrPortFrom(netip.AddrFrom4([4]byte{10, 1, byte(i >> 8), byte(i)}), uint16(20000+i%30000))
	}
	for i := range conns { // all open at once
		at := time.Duration(i) * time.Microsecond
		add(at, client(i), server, packet.SYN, 100, 0)
		add(at, server, client(i), packet.SYN|packet.ACK, 500, 101)
		add(at, client(i), server, packet.ACK, 101, 501)
	}
	for i := range conns { // then all closed
		at := time.Second + time.Duration(i)*time.Microsecond
		add(at, client(i), server, packet.FIN|packet.ACK, 101, 501)
		add(at, server, client(i), packet.FIN|packet.ACK, 501, 102)
		add(at, client(i), server, packet.ACK, 102, 502)
	}
	for i := range 4096 { // quiet, past the sweeps that retire them
		add(5*time.Second+time.Duration(i)*time.Millisecond, client(conns), server, packet.ACK, 1, 1)
	}
	if tr.open > 1 || len(tr.free) > free.Max || len(tr.free) < free.Max/2 {
		t.Errorf("%d connections open, %d kept for reuse; want the burst retired and at most %d kept", tr.open, len(tr.free), free.Max)
	}
}

// TestGoodbye: a server that sends a message nobody asked for just before
// its FIN (PostgreSQL's FATAL 57P05 on an idle session) said goodbye: the
// quiet period the close ends is before the message. An answer to a
// request, a message long before the FIN, or the last segment of a
// response are no goodbyes.
func TestGoodbye(t *testing.T) {
	const c, s = 1000, 5000
	query := []pkt{
		{Client, PA, c + 1, s + 1, 10, 0.1, 0},
		{Server, PA, s + 1, c + 11, 20, 0.106, 0},
		{Client, A, c + 11, s + 21, 0, 0.15, 0},
	}
	for _, tc := range []struct {
		name    string
		pkts    []pkt
		goodbye bool
		quiet   float64 // FinAt - DataBeforeFin, in seconds
	}{
		{"goodbye, then FIN", cat(handshake(c, s), query, []pkt{
			{Server, PA, s + 21, c + 11, 116, 3.106, 0},
			{Server, FA, s + 137, c + 11, 0, 3.109, 0},
		}), true, 3.003},
		{"goodbye on the FIN", cat(handshake(c, s), query, []pkt{
			{Server, FA | PA, s + 21, c + 11, 116, 3.106, 0},
		}), true, 3.0},
		{"a slow answer, then FIN", cat(handshake(c, s), []pkt{
			{Client, PA, c + 1, s + 1, 10, 0.1, 0},
			{Server, PA, s + 1, c + 11, 20, 3.1, 0},
			{Server, FA, s + 21, c + 11, 0, 3.101, 0},
		}), false, 0.001},
		{"the rest of an answer after a pause, then FIN", cat(handshake(c, s), []pkt{
			{Client, PA, c + 1, s + 1, 10, 0.1, 0},
			{Server, PA, s + 1, c + 11, 20, 0.2, 0},
			{Server, PA, s + 21, c + 11, 20, 0.21, 0},
			{Server, FA, s + 41, c + 11, 0, 3.21, 0},
		}), false, 3.0},
		{"a message long before the FIN", cat(handshake(c, s), query, []pkt{
			{Server, PA, s + 21, c + 11, 116, 3.106, 0},
			{Server, FA, s + 137, c + 11, 0, 3.606, 0},
		}), false, 0.5},
	} {
		r := run(tc.pkts, Config{})[0]
		h := &r.Server
		quiet := h.FinAt.Sub(h.DataBeforeFin).Seconds()
		if h.Goodbye() != tc.goodbye || math.Abs(quiet-tc.quiet) > 1e-6 || h.DataBeforeFinFrom != Server {
			t.Errorf("%s: goodbye %v, quiet %.6f s before the FIN, last data from the %s; want %v, %.6f s, the server",
				tc.name, h.Goodbye(), quiet, h.DataBeforeFinFrom, tc.goodbye, tc.quiet)
		}
	}
}

// TestFinNotCaptured: a FIN the capture lost, which the peer acknowledged
// while closing (or having closed), is taken as sent: no CLOSE_WAIT that
// never was, and the input counts it. A bare acknowledgement of one more
// number from a peer still open could be a lost byte of data: nothing is
// made of it.
func TestFinNotCaptured(t *testing.T) {
	const c, s = 1000, 5000
	exchange := []pkt{
		{Client, PA, c + 1, s + 1, 10, 0.1, 0},
		{Server, PA, s + 1, c + 11, 20, 0.101, 0},
		{Client, A, c + 11, s + 21, 0, 0.102, 0},
	}
	for _, tc := range []struct {
		name           string
		pkts           []pkt
		client, server State
		lost           int
		again          uint32 // the client's FINs and data sent again
	}{
		{"the client's FIN lost", cat(handshake(c, s), exchange, []pkt{
			// {Client, FA, c + 11, s + 21, 0, 0.2, 0} not captured
			{Server, FA, s + 21, c + 12, 0, 0.2001, 0},
			{Client, A, c + 12, s + 22, 0, 0.2002, 0},
		}), TimeWait, Closed, 1, 0},
		{"the server's FIN lost", cat(handshake(c, s), exchange, []pkt{
			{Client, FA, c + 11, s + 21, 0, 0.2, 0},
			// {Server, FA, s + 21, c + 12, 0, 0.2001, 0} not captured
			{Client, A, c + 12, s + 22, 0, 0.2002, 0},
		}), TimeWait, Closed, 1, 0},
		{"one more number acknowledged, no close", cat(handshake(c, s), exchange, []pkt{
			{Server, A, s + 21, c + 12, 0, 0.2001, 0},
		}), Established, Established, 0, 0},
		{"the client's FIN after the packet that acknowledged it", cat(handshake(c, s), exchange, []pkt{
			{Server, FA, s + 21, c + 12, 0, 0.2001, 0},
			{Client, FA, c + 11, s + 21, 0, 0.2, 0}, // from another input, its clock behind
			{Client, A, c + 12, s + 22, 0, 0.2002, 0},
		}), TimeWait, Closed, 0, 0},
		{"the client's lost FIN sent again later", cat(handshake(c, s), exchange, []pkt{
			{Server, FA, s + 21, c + 12, 0, 0.2001, 0},
			{Client, FA, c + 11, s + 21, 0, 0.5, 0}, // its ACK lost past the capture point
			{Client, A, c + 12, s + 22, 0, 0.5002, 0},
		}), TimeWait, Closed, 1, 1},
	} {
		tr := NewTracker(Config{})
		feed(tr, tc.pkts)
		lost := tr.dupsOf(0).lostFins.n
		recs, _ := tr.Finish()
		r := recs[0]
		if r.Client.State != tc.client || r.Server.State != tc.server || lost != tc.lost || r.Client.Retrans != tc.again {
			t.Errorf("%s: %s/%s, %d FINs not captured, %d sent again; want %s/%s, %d, %d", tc.name, r.Client.State, r.Server.State, lost, r.Client.Retrans, tc.client, tc.server, tc.lost, tc.again)
		}
	}
}

// TestGoodbyeNotAnAnswer: an HTTP response whose body comes seconds after
// its headers, just before the server's FIN (a long poll closed after its
// answer), answers the request: no goodbye, whatever the pause.
func TestGoodbyeNotAnAnswer(t *testing.T) {
	const c, s = 1000, 5000
	req := []byte("GET /poll HTTP/1.1\r\nHost: x\r\n\r\n")
	head := []byte("HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\n")
	body := []byte("ok")
	tr, add := opened(c, s)
	add(Client, PA, c+1, s+1, req, 0.1)
	add(Server, PA, s+1, c+1+uint32(len(req)), head, 0.11)
	add(Server, PA, s+1+uint32(len(head)), c+1+uint32(len(req)), body, 3.11)
	add(Server, FA, s+1+uint32(len(head)+len(body)), c+1+uint32(len(req)), nil, 3.1101)
	recs, _ := tr.Finish()
	h := &recs[0].Server
	if p := recs[0].Payload(); p == nil || p.HTTP == nil || p.HTTP.Responses != 1 {
		t.Fatalf("the response was not read: %+v", p)
	}
	if h.Goodbye() || h.DataBeforeFin != h.LastPayload {
		t.Errorf("goodbye %v, data before the FIN %v, last payload %v: the body is an answer", h.Goodbye(), h.DataBeforeFin, h.LastPayload)
	}
}

// TestLostDataOncePerClose: a FIN that acknowledged data the capture
// never saw, sent three times, is one close whose packets were lost.
func TestLostDataOncePerClose(t *testing.T) {
	const c, s = 1000, 5000
	tr := NewTracker(Config{})
	feed(tr, cat(handshake(c, s), []pkt{
		{Client, PA, c + 1, s + 1, 10, 0.1, 0},
		// the server's 100-byte answer not captured
		{Client, FA, c + 11, s + 101, 0, 0.2, 0},
		{Client, FA, c + 11, s + 101, 0, 0.4, 0},
		{Client, FA, c + 11, s + 101, 0, 0.8, 0},
	}))
	if n := tr.dupsOf(0).lostData.n; n != 1 {
		t.Errorf("%d FINs counted as acknowledging lost data, want 1", n)
	}
}

// appData is a TLS record of application data, n bytes of zeros.
func appData(n int) []byte {
	return append([]byte{0x17, 0x03, 0x03, byte(n >> 8), byte(n)}, make([]byte, n)...)
}

// TestDataAfterFin: data a side sends after the peer's FIN is told from
// a control message sent in reply (a TLS close_notify, in the clear with
// TLS 1.2, encrypted with TLS 1.3), and not told when no byte of it was
// read.
func TestDataAfterFin(t *testing.T) {
	const c, s = 1000, 5000
	alert12 := append([]byte{0x15, 0x03, 0x03, 0, 26}, make([]byte, 26)...)
	for _, tc := range []struct {
		name  string
		after []byte
		len   int // of a segment whose bytes were not read, when after is nil
		want  bool
	}{
		{"a TLS record of application data", appData(100), 0, true},
		{"a TLS 1.3 close_notify", appData(19), 0, false},
		{"a TLS 1.2 close_notify", alert12, 0, false},
		{"data not read", nil, 105, false},
	} {
		tr, add := opened(c, s)
		add(Client, PA, c+1, s+1, appData(80), 0.1)
		add(Server, PA, s+1, c+86, appData(200), 0.2)
		add(Server, FA, s+206, c+86, nil, 2.2) // idle 2 s: the server closes
		add(Client, A, c+86, s+207, nil, 2.2001)
		n := max(len(tc.after), tc.len)
		seg := packet.Segment{Src: cli, Dst: srv, Seq: c + 86, Ack: s + 207, Flags: PA, Len: n, Payload: tc.after, Window: 500, WScale: -1}
		tr.Add(&seg, Meta{At: TS(t0.Add(3 * time.Second)), Packet: 8, WireLen: uint32(54 + n)})
		recs, _ := tr.Finish()
		if got := recs[0].DataAfterFin(Client); got != tc.want {
			t.Errorf("%s after the server's FIN: DataAfterFin %v, want %v", tc.name, got, tc.want)
		}
		if recs[0].DataAfterFin(Server) {
			t.Errorf("%s: the server sent data after the client's FIN, says DataAfterFin", tc.name)
		}
	}
}

// TestOtherProtocol: a connection whose payload, read from its first
// byte, is of no protocol flowdoc reads (an MQTT CONNECT) says so; not one
// that speaks HTTP or TLS, nor one the capture met midstream, whose first
// bytes read may be the middle of anything, nor one whose payload was not
// read.
func TestOtherProtocol(t *testing.T) {
	const c, s = 1000, 5000
	connect := []byte("\x10\x1a\x00\x04MQTT\x04\x02\x00\x02\x00\x0eflowdoc-silent")
	for _, tc := range []struct {
		name      string
		first     []byte
		midstream bool
		off       bool
		want      bool
	}{
		{"an MQTT CONNECT", connect, false, false, true},
		{"an HTTP request", []byte("GET / HTTP/1.1\r\nHost: x\r\n\r\n"), false, false, false},
		{"HTTP/2's preface, in the clear", []byte("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"), false, false, false},
		{"a WebDAV request", []byte("PROPFIND /d HTTP/1.1\r\nHost: x\r\n\r\n"), false, false, false},
		{"a TLS ClientHello", append([]byte{0x16, 3, 1, 0, 44, 1, 0, 0, 40}, make([]byte, 40)...), false, false, false},
		{"an MQTT CONNECT met midstream", connect, true, false, false},
		{"an MQTT CONNECT, payload not read", connect, false, true, false},
	} {
		cfg := Config{}
		cfg.Payload.Off = tc.off
		tr := NewTracker(cfg)
		add := sender(tr)
		if !tc.midstream {
			add(Client, S, c, 0, nil, 0)
			add(Server, SA, s, c+1, nil, 0.001)
			add(Client, A, c+1, s+1, nil, 0.002)
		}
		n := uint32(len(tc.first))
		add(Client, PA, c+1, s+1, tc.first, 0.01)
		add(Server, PA, s+1, c+1+n, []byte{0x20, 0x02, 0, 0}, 0.011)
		add(Server, FA, s+5, c+1+n, nil, 4.8) // the broker's keepalive timeout
		add(Client, A, c+1+n, s+6, nil, 4.8001)
		recs, _ := tr.Finish()
		if got := recs[0].OtherProtocol(); got != tc.want {
			t.Errorf("%s: OtherProtocol %v, want %v", tc.name, got, tc.want)
		}
	}
}

// TestGoodbyeInRecords: a goodbye of two records written one after the
// other (PostgreSQL over TLS: its FATAL, then a close_notify 0.1 ms
// later, then the FIN) ends the quiet period as a goodbye of one does.
func TestGoodbyeInRecords(t *testing.T) {
	const c, s = 1000, 5000
	tr, add := opened(c, s)
	add(Client, PA, c+1, s+1, appData(40), 0.01)
	add(Server, PA, s+1, c+46, appData(83), 0.015) // the answer
	fatal, notify := appData(133), appData(19)
	add(Server, PA, s+89, c+46, fatal, 3.015)
	add(Server, PA, s+89+138, c+46, notify, 3.0151)
	add(Server, FA, s+89+138+24, c+46, nil, 3.018)
	recs, _ := tr.Finish()
	h := &recs[0].Server
	if !h.Goodbye() {
		t.Fatalf("no goodbye: last payload %v, data before the FIN %v", h.LastPayload.Time(), h.DataBeforeFin.Time())
	}
	if got, want := h.FinAt.Sub(h.DataBeforeFin), 3003*time.Millisecond; got != want {
		t.Errorf("quiet before the FIN %v, want %v (since the answer)", got, want)
	}
}

// TestNoGoodbyeAfterStream: a server that streams for 3 s, a segment
// every 5 ms, then sends a close_notify and its FIN was not quiet: no
// goodbye, whatever the stream's length.
func TestNoGoodbyeAfterStream(t *testing.T) {
	const c, s = 1000, 5000
	tr, add := opened(c, s)
	add(Client, PA, c+1, s+1, appData(40), 0.01)
	seq := uint32(s + 1)
	for i := range 600 {
		add(Server, PA, seq, c+46, appData(100), 0.015+float64(i)*0.005)
		seq += 105
	}
	add(Server, PA, seq, c+46, appData(19), 3.016)
	add(Server, FA, seq+24, c+46, nil, 3.0161)
	recs, _ := tr.Finish()
	if h := &recs[0].Server; h.Goodbye() {
		t.Errorf("a goodbye after a stream: the quiet before it is %v", h.FinAt.Sub(h.DataBeforeFin))
	}
}

// TestAfterFinCut: a close_notify in reply that the snap length cut is
// told as neither data nor a control message.
func TestAfterFinCut(t *testing.T) {
	const c, s = 1000, 5000
	tr, add := opened(c, s)
	add(Client, PA, c+1, s+1, appData(80), 0.1)
	add(Server, PA, s+1, c+86, appData(200), 0.2)
	add(Server, FA, s+206, c+86, nil, 2.2)
	seg := packet.Segment{Src: cli, Dst: srv, Seq: c + 86, Ack: s + 207, Flags: PA, Len: 24, Payload: appData(19)[:10], Window: 500, WScale: -1}
	tr.Add(&seg, Meta{At: TS(t0.Add(2201 * time.Millisecond)), Packet: 7, WireLen: 78, Cut: 14})
	recs, _ := tr.Finish()
	if r := recs[0]; r.DataAfterFin(Client) || r.ControlAfterFin(Client) {
		t.Errorf("a cut close_notify told: data %v, control %v", r.DataAfterFin(Client), r.ControlAfterFin(Client))
	}
}

// TestAfterFinRevived: what a side sent after the peer's FIN is kept
// when a packet long after the close, its sequence state gone, takes the
// connection up again.
func TestAfterFinRevived(t *testing.T) {
	const c, s = 1000, 5000
	tr, add := opened(c, s)
	add(Client, PA, c+1, s+1, appData(80), 0.1)
	add(Server, PA, s+1, c+86, appData(200), 0.2)
	add(Server, PA, s+206, c+86, appData(19), 2.2) // close_notify
	add(Server, FA, s+230, c+86, nil, 2.2001)
	add(Client, PA, c+86, s+231, appData(19), 2.2003) // close_notify in reply
	add(Client, FA, c+110, s+231, nil, 2.2004)
	add(Server, A, s+231, c+111, nil, 2.2005)
	// Other traffic, a packet every 5 ms, for the sweeps to run; the
	// server's RST 20 s after the close, past lateWindow.
	other := netip.MustParseAddrPort("10.0.0.9:40000")
	for i := range 5000 {
		at := 3 + float64(i)*0.005
		if at >= 22.2 && at < 22.205 {
			add(Server, R, s+231, 0, nil, at)
		}
		seg := packet.Segment{Src: other, Dst: srv, Seq: 9000, Ack: 7, Flags: A, Window: 500, WScale: -1}
		tr.Add(&seg, Meta{At: TS(t0.Add(time.Duration(at * float64(time.Second)))), Packet: uint32(100 + i), WireLen: 54})
	}
	recs, _ := tr.Finish()
	if tr.revived == 0 {
		t.Fatal("the connection was not taken up again")
	}
	i := slices.IndexFunc(recs, func(r *Record) bool { return r.Key.Client() == cli })
	if r := recs[i]; !r.ControlAfterFin(Client) || r.DataAfterFin(Client) {
		t.Errorf("after the RST 20 s later: control %v, data %v; want the close_notify kept", r.ControlAfterFin(Client), r.DataAfterFin(Client))
	}
}

// TestEchoNotData: an HTTP/2 client acknowledges the server's response
// at once (a WINDOW_UPDATE, 31 bytes in a TLS record), then closes its
// idle connection 1 s later with a close_notify and FIN. The last word
// before that close was the server's: an idle connection, not a wait
// for an answer.
func TestEchoNotData(t *testing.T) {
	const c, s = 1000, 5000
	tr, add := opened(c, s)
	add(Client, PA, c+1, s+1, appData(80), 0.1)
	add(Server, PA, s+1, c+86, appData(86), 0.101)    // the response
	add(Client, PA, c+86, s+92, appData(26), 0.1012)  // its acknowledgement
	add(Client, PA, c+117, s+92, appData(19), 1.1013) // close_notify
	add(Client, FA, c+141, s+92, nil, 1.1014)
	recs, _ := tr.Finish()
	h := &recs[0].Client
	if h.DataBeforeFinFrom != Server || h.DataBeforeFin != TS(t0.Add(101*time.Millisecond)) {
		t.Errorf("last data before the client's FIN: from the %v at %v; want the server's response at 0.101 s",
			h.DataBeforeFinFrom, h.DataBeforeFin.Sub(TS(t0)))
	}
}

// TestGoodbyeControl: after the client's last data (HTTP/2's SETTINGS
// acknowledgement), nginx's idle close sends a GOAWAY frame, then FIN: a
// goodbye, the 2 s before it the idle time. A slow answer of as few
// bytes (a TLS long poll's 50-byte record) is no goodbye.
func TestGoodbyeControl(t *testing.T) {
	const c, s = 1000, 5000
	goaway := []byte{0, 0, 8, 7, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0}
	answer := append([]byte{0x17, 0x03, 0x03, 0, 45}, make([]byte, 45)...)
	for _, tc := range []struct {
		name    string
		last    []byte
		goodbye bool
	}{{"GOAWAY", goaway, true}, {"a TLS record of data", answer, false}} {
		tr, add := opened(c, s)
		add(Client, PA, c+1, s+1, make([]byte, 9), 0.1)
		add(Server, PA, s+1, c+10, tc.last, 2.1)
		add(Server, FA, s+1+uint32(len(tc.last)), c+10, nil, 2.10004)
		recs, _ := tr.Finish()
		h := &recs[0].Server
		if h.Goodbye() != tc.goodbye {
			t.Errorf("%s: goodbye %v, want %v", tc.name, h.Goodbye(), tc.goodbye)
		}
	}
}

// TestAnnouncedClose: Go's HTTP/2 server, its idle timeout fired, sends
// GOAWAY (an encrypted 34-byte record), then a second later close_notify
// and FIN: the close ends the 2 s of quiet before the GOAWAY, not the
// second after it. Without the close_notify, or with the client's echo
// of the response, the same. A FIN right after the short message is a
// goodbye in one (Half.Goodbye); a request answering it, or a FIN much
// later than the quiet before it lasted, is no announced close.
func TestAnnouncedClose(t *testing.T) {
	const c, s = 1000, 5000
	type step struct {
		from Side
		data []byte
		at   float64
	}
	for _, tc := range []struct {
		name  string
		steps []step
		fin   float64
		want  bool
	}{
		{"GOAWAY, close_notify, FIN", []step{{Server, appData(34), 2.1}, {Server, appData(19), 3.1}}, 3.1001, true},
		{"GOAWAY, FIN", []step{{Server, appData(34), 2.1}}, 3.1, true},
		{"the response echoed, GOAWAY, FIN", []step{{Client, appData(26), 0.1002}, {Server, appData(34), 2.1}, {Client, appData(26), 2.1002}}, 3.1, true},
		{"a goodbye in one", []step{{Server, appData(34), 2.1}}, 2.1001, false},
		{"a request after it", []step{{Server, appData(34), 2.1}, {Client, appData(300), 2.5}}, 3.1, false},
		{"a FIN long after it", []step{{Server, appData(34), 2.1}}, 6.1, false},
		{"a long message", []step{{Server, appData(500), 2.1}}, 3.1, false},
	} {
		tr, add := opened(c, s)
		add(Client, PA, c+1, s+1, appData(80), 0.05)
		add(Server, PA, s+1, c+86, appData(86), 0.1) // the response, packet 5
		seq := [2]uint32{c + 86, s + 92}
		var announcement uint32
		for i, st := range tc.steps {
			add(st.from, PA, seq[st.from], seq[st.from.Other()], st.data, st.at)
			seq[st.from] += uint32(len(st.data))
			if st.at == 2.1 {
				announcement = uint32(6 + i)
			}
		}
		add(Server, FA, seq[Server], seq[Client], nil, tc.fin)
		recs, _ := tr.Finish()
		r := recs[0]
		at, packet, ok := r.Announced(Server)
		if ok != tc.want {
			t.Errorf("%s: announced %v, want %v", tc.name, ok, tc.want)
			continue
		}
		if !ok {
			continue
		}
		if h := &r.Server; h.DataBeforeFin != TS(t0.Add(100*time.Millisecond)) || h.DataBeforeFinPacket != 5 || h.DataBeforeFinFrom != Server {
			t.Errorf("%s: the quiet begins at packet %d from the %v at %v, want the response", tc.name, h.DataBeforeFinPacket, h.DataBeforeFinFrom, h.DataBeforeFin.Sub(TS(t0)))
		}
		if want := TS(t0.Add(2100 * time.Millisecond)); at != want || packet != announcement {
			t.Errorf("%s: announced at %v (packet %d), want 2.1 s", tc.name, at.Sub(TS(t0)), packet)
		}
		if _, _, ok := r.Announced(Client); ok {
			t.Errorf("%s: announced by the client too", tc.name)
		}
	}
}

// TestAnnouncedAnswered: a server's close_notify after 2 s of quiet,
// answered at once by the client's close_notify and FIN, before the
// server's own FIN: the server announced the close, and its quiet began
// at its response.
func TestAnnouncedAnswered(t *testing.T) {
	const c, s = 1000, 5000
	tr, add := opened(c, s)
	add(Client, PA, c+1, s+1, appData(80), 0.05)
	add(Server, PA, s+1, c+86, appData(86), 0.1)      // the response, packet 5
	add(Server, PA, s+92, c+86, appData(19), 2.1)     // close_notify, packet 6
	add(Client, PA, c+86, s+116, appData(19), 2.1002) // the client's
	add(Client, FA, c+110, s+116, nil, 2.1003)
	add(Server, FA, s+116, c+111, nil, 2.1027)
	recs, _ := tr.Finish()
	r := recs[0]
	at, packet, ok := r.Announced(Server)
	if !ok || at != TS(t0.Add(2100*time.Millisecond)) || packet != 6 {
		t.Fatalf("announced %v at %v (packet %d); want the close_notify at 2.1 s, packet 6", ok, at.Sub(TS(t0)), packet)
	}
	if h := &r.Server; h.DataBeforeFin != TS(t0.Add(100*time.Millisecond)) || h.DataBeforeFinPacket != 5 {
		t.Errorf("the server's quiet begins at packet %d, %v; want the response", h.DataBeforeFinPacket, h.DataBeforeFin.Sub(TS(t0)))
	}
	if _, _, ok := r.Announced(Client); ok {
		t.Error("announced by the client too")
	}
}

// h2frame is an HTTP/2 frame on stream 0 with a payload of n bytes.
func h2frame(typ, flags byte, n int) []byte {
	return append([]byte{0, 0, byte(n), typ, flags, 0, 0, 0, 0}, make([]byte, n)...)
}

// TestHeartbeatPings: HTTP/2 PINGs in the clear are a connection's
// heartbeat, not its application's data (gRPC's keepalive pings, its
// max_connection_idle counting requests only): the quiet a close ends
// runs across them, a PING after a quiet period announces no close, and
// a PING's acknowledgement after the peer's FIN asks nothing.
func TestHeartbeatPings(t *testing.T) {
	const c, s = 1000, 5000
	ping, pong := h2frame(6, 0, 8), h2frame(6, 1, 8)
	start := func() (*Tracker, func(from Side, fl packet.Flags, data []byte, at float64), *[2]uint32) {
		tr, add := opened(c, s)
		seq := &[2]uint32{c + 1, s + 1}
		send := func(from Side, fl packet.Flags, data []byte, at float64) {
			add(from, fl, seq[from], seq[from.Other()], data, at)
			seq[from] += uint32(len(data))
			if fl.Has(packet.FIN) {
				seq[from]++
			}
		}
		send(Client, PA, appData(80), 0.05)
		send(Server, PA, appData(86), 0.1) // the response, packet 5
		return tr, send, seq
	}
	response := TS(t0.Add(100 * time.Millisecond))

	// The client pings every second, the server answers; 4 s after the
	// response the server says GOAWAY a millisecond after an answer,
	// and closes.
	tr, send, _ := start()
	for i := range 4 {
		send(Client, PA, ping, 1.1+float64(i))
		send(Server, PA, pong, 1.1002+float64(i))
	}
	send(Server, PA, h2frame(7, 0, 8), 4.1012)
	send(Server, FA, nil, 4.1013)
	recs, _ := tr.Finish()
	if h := &recs[0].Server; h.DataBeforeFin != response || !h.Goodbye() {
		t.Errorf("pinged: the server's quiet begins at %v (goodbye %v), want the response at 0.1 s and a goodbye", h.DataBeforeFin.Sub(TS(t0)), h.Goodbye())
	}

	// The server pings after 1.1 s of quiet, gets no answer, and closes
	// 0.5 s later; the client's answer comes after that FIN, and RST.
	tr, send, _ = start()
	send(Server, PA, ping, 1.2)
	send(Server, FA, nil, 1.7)
	send(Client, PA, append(pong, h2frame(8, 0, 4)...), 5.2)
	send(Server, R, nil, 5.2001)
	recs, _ = tr.Finish()
	r := recs[0]
	if _, _, ok := r.Announced(Server); ok {
		t.Error("a PING announced the close")
	}
	if h := &r.Server; h.DataBeforeFin != response {
		t.Errorf("unanswered: the server's quiet begins at %v, want the response at 0.1 s", h.DataBeforeFin.Sub(TS(t0)))
	}
	if r.DataAfterFin(Client) || !r.ControlAfterFin(Client) {
		t.Errorf("a PING's answer after the FIN: data %v, control %v; want control only", r.DataAfterFin(Client), r.ControlAfterFin(Client))
	}
}

// TestHeartbeatsNoRecord: a server's short messages after quiet periods
// (heartbeats, each echoed by the client) may each announce a close, but
// the connection makes no record for them while it stays open: an open
// connection costs its table entry only.
func TestHeartbeatsNoRecord(t *testing.T) {
	const c, s = 1000, 5000
	tr, add := opened(c, s)
	add(Client, PA, c+1, s+1, appData(80), 0.05)
	add(Server, PA, s+1, c+86, appData(86), 0.1)
	seq := [2]uint32{c + 86, s + 92}
	for i := range 3 {
		at := 2.1 + 2*float64(i)
		add(Server, PA, seq[Server], seq[Client], appData(20), at)
		seq[Server] += 25
		add(Client, PA, seq[Client], seq[Server], appData(20), at+0.0002)
		seq[Client] += 25
	}
	if len(tr.records) != 0 {
		t.Errorf("%d records for an open connection", len(tr.records))
	}
	recs, _ := tr.Finish()
	if _, _, ok := recs[0].Announced(Server); ok {
		t.Error("an announced close without a FIN")
	}
}
