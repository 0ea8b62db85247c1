package flow

import (
	"net/netip"
	"testing"
	"time"

	"github.com/flowdoc/flowdoc/flow/packet"
)

// Packets sent into silence: the peer's state stays what it was when it
// last spoke.
func TestUnanswered(t *testing.T) {
	const c, s = 1000, 5000
	exchange := []pkt{
		{Client, PA, c + 1, s + 1, 100, 0.01, 0},
		{Server, PA, s + 1, c + 101, 200, 0.011, 0},
		{Client, A, c + 101, s + 201, 0, 0.012, 0},
	}
	tests := []struct {
		name           string
		pkts           []pkt
		client, server State
		unanswered     Side
		since          float64 // when the client's unanswered stretch began; <0: none
		serverExpired  State
	}{
		{
			// A firewall forgot the idle connection: the client's FIN
			// and its retransmissions are dropped.
			name: "FIN sent again, never acknowledged",
			pkts: cat(handshake(c, s), exchange, []pkt{
				{Client, FA, c + 101, s + 201, 0, 10, 0},
				{Client, FA, c + 101, s + 201, 0, 10.2, 0},
				{Client, FA, c + 101, s + 201, 0, 10.6, 0},
			}),
			client: FinWait1, server: Established, since: 10,
		},
		{
			// The same FIN once, at the end: it may be in flight, and is
			// taken as received.
			name: "FIN at the end, not sent again",
			pkts: cat(handshake(c, s), exchange, []pkt{
				{Client, FA, c + 101, s + 201, 0, 10, 0},
			}),
			client: FinWait1, server: CloseWait, since: -1,
		},
		{
			// Three keep-alive probes unanswered, then RST: the server
			// never got it.
			name: "RST after unanswered keep-alive probes",
			pkts: cat(handshake(c, s), exchange, []pkt{
				{Client, A, c + 100, s + 201, 0, 5, 0},
				{Client, A, c + 100, s + 201, 0, 6, 0},
				{Client, A, c + 100, s + 201, 0, 7, 0},
				{Client, RA, c + 101, s + 201, 0, 8, 0},
			}),
			client: Closed, server: Established, since: 5,
		},
		{
			// The first probe answered, the next ones not: the silence
			// began with the second probe.
			name: "RST after probes answered, then not",
			pkts: cat(handshake(c, s), exchange, []pkt{
				{Client, A, c + 100, s + 201, 0, 5, 0},
				{Server, A, s + 201, c + 101, 0, 5.001, 0},
				{Client, A, c + 100, s + 201, 0, 6, 0},
				{Client, A, c + 100, s + 201, 0, 7, 0},
				{Client, A, c + 100, s + 201, 0, 8, 0},
				{Client, RA, c + 101, s + 201, 0, 9, 0},
			}),
			client: Closed, server: Established, since: 6,
		},
		{
			// Keep-alive probes answered: the RST arrived as far as the
			// capture can tell.
			name: "RST after answered probes",
			pkts: cat(handshake(c, s), exchange, []pkt{
				{Client, A, c + 100, s + 201, 0, 5, 0},
				{Server, A, s + 201, c + 101, 0, 5.001, 0},
				{Client, RA, c + 101, s + 201, 0, 8, 0},
			}),
			client: Closed, server: Closed, since: -1,
		},
		{
			// One probe at the end: its answer may be on its way.
			name: "one keep-alive probe, not yet answered",
			pkts: cat(handshake(c, s), exchange, []pkt{
				{Client, A, c + 100, s + 201, 0, 5, 0},
			}),
			client: Established, server: Established, since: -1,
		},
		{
			// A request and a FIN right after it, at the end, after a
			// retransmission earlier in the connection: in flight.
			name: "request and FIN at the end",
			pkts: cat(handshake(c, s), []pkt{
				{Client, PA, c + 1, s + 1, 100, 0.01, 0},
				{Client, PA, c + 1, s + 1, 100, 0.3, 0},
				{Server, PA, s + 1, c + 101, 200, 0.301, 0},
				{Client, A, c + 101, s + 201, 0, 0.302, 0},
				{Client, PA, c + 101, s + 201, 50, 5, 0},
				{Client, FA, c + 151, s + 201, 0, 5.001, 0},
			}),
			client: FinWait1, server: CloseWait, since: -1,
		},
		{
			// A request sent again and again, never acknowledged.
			name: "request never acknowledged",
			pkts: cat(handshake(c, s), exchange, []pkt{
				{Client, PA, c + 101, s + 201, 50, 20, 0},
				{Client, PA, c + 101, s + 201, 50, 20.2, 0},
				{Client, PA, c + 101, s + 201, 50, 20.6, 0},
			}),
			client: Established, server: Established, since: 20,
		},
		{
			// SYN cookies: the listen queue was full; the server sent one
			// SYN-ACK, dropped the ACK and the data, and keeps nothing.
			name: "handshake ACK and data dropped, no SYN-ACK again",
			pkts: cat(handshake(c, s), []pkt{
				{Client, PA, c + 1, s + 1, 100, 0.003, 0},
				{Client, PA, c + 1, s + 1, 100, 0.3, 0},
				{Client, PA, c + 1, s + 1, 100, 0.9, 0},
				{Client, PA, c + 1, s + 1, 100, 2.1, 0},
			}),
			client: Established, server: Closed, since: 0.003, serverExpired: SynRecv,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			recs := run(tt.pkts, Config{})
			if len(recs) != 1 {
				t.Fatalf("%d records, want 1", len(recs))
			}
			r := recs[0]
			if r.Client.State != tt.client || r.Server.State != tt.server {
				t.Errorf("states %v/%v, want %v/%v", r.Client.State, r.Server.State, tt.client, tt.server)
			}
			want := Timestamp(0)
			if tt.since >= 0 {
				want = TS(t0.Add(secs(tt.since)))
			}
			if got := r.Unanswered(Client); got != want {
				t.Errorf("Unanswered(client) = %v, want %v", got.Time(), want.Time())
			}
			if got := r.Unanswered(Server); got != 0 {
				t.Errorf("Unanswered(server) = %v, want none", got.Time())
			}
			if tt.serverExpired != 0 && r.Server.Expired != tt.serverExpired {
				t.Errorf("server expired %v, want %v", r.Server.Expired, tt.serverExpired)
			}
		})
	}
}

func secs(s float64) time.Duration { return time.Duration(s * float64(time.Second)) }

// A header-only capture cut the SYNs within their options: the window
// scale is unknown, so an RST beyond the unscaled window is not ruled out
// of it.
func TestWindowScaleCut(t *testing.T) {
	const c, s = 1000, 5000
	tr := NewTracker(Config{})
	add := func(src, dst netip.AddrPort, seq, ack uint32, flags packet.Flags, n int, at float64, cut bool) {
		seg := packet.Segment{Src: src, Dst: dst, Seq: seq, Ack: ack, Flags: flags, Len: n, Window: 500, WScale: -1, OptionsCut: cut}
		tr.Add(&seg, Meta{At: TS(t0.Add(secs(at))), Packet: 1, WireLen: 64})
	}
	add(cli, srv, c, 0, packet.SYN, 0, 0, true)
	add(srv, cli, s, c+1, packet.SYN|packet.ACK, 0, 0.001, true)
	add(cli, srv, c+1, s+1, packet.ACK, 0, 0.002, false)
	add(srv, cli, s+1, c+1, packet.PSH|packet.ACK, 100, 0.01, false)
	// 5000 bytes past the client's next byte: beyond an unscaled window
	// of 500, within a scaled one.
	add(srv, cli, s+1+5000, c+1, packet.RST, 0, 0.02, false)
	recs, _ := tr.Finish()
	r := recs[0]
	if r.Client.WScale != WScaleCut || r.Server.WScale != WScaleCut {
		t.Errorf("wscale %d/%d, want %d (cut)", r.Client.WScale, r.Server.WScale, WScaleCut)
	}
	if r.Client.State != Closed || r.Server.State != Closed {
		t.Errorf("states %v/%v, want the RST taken: CLOSED/CLOSED", r.Client.State, r.Server.State)
	}
}
