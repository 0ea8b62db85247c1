package flow

import (
	"fmt"
	"net/netip"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/flowdoc/flowdoc/flow/packet"
	"github.com/flowdoc/flowdoc/flow/payload"
)

// TestRestingStreamsResume runs HTTP keep-alive connections that go idle
// long enough to leave the tracker's table, then come back: with more
// requests, with a request split across the idle time, with a body read
// until close, with segments out of order, or never (a leak). Their
// streams are let go of and taken up again; what is read must be what a
// tracker that keeps every connection reads.
func TestRestingStreamsResume(t *testing.T) {
	for _, tc := range []struct {
		name   string
		cfg    Config
		idle   time.Duration
		frozen bool // the connections leave the table when idle; else their streams rest in it
	}{
		{"frozen", Config{IdleEvict: time.Second}, 20 * time.Second, true}, // past freezeAfter, whenever the sweeps come
		{"in the table", Config{}, 3 * time.Second, false},                 // past restAfter, short of freezeAfter
		// A spell of 1.6 s holds a sweep (one a second) that finds the
		// connection quiet for restAfter: 200 k connections waiting for a
		// response hold their streams for a second or two, not four.
		{"in the table, a short spell", Config{}, 1600 * time.Millisecond, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			type timed struct {
				seg packet.Segment
				at  Timestamp
			}
			var pkts []timed
			server := netip.MustParseAddrPort("10.9.0.1:80")
			idle := tc.idle
			for i := range 500 {
				client := netip.AddrPortFrom(netip.AddrFrom4([4]byte{10, 8, byte(i >> 8), byte(i)}), uint16(40000+i))
				seq := [2]uint32{uint32(i * 7919), uint32(i * 104729)}
				at := TS(t0) + Timestamp(time.Duration(i)*100*time.Millisecond)
				send := func(s Side, f packet.Flags, data string) {
					src, dst := client, server
					if s == Server {
						src, dst = server, client
					}
					seg := packet.Segment{Src: src, Dst: dst, Flags: f, Seq: seq[s], Ack: seq[s.Other()], Len: len(data), Window: 1000, WScale: -1, Payload: []byte(data)}
					pkts = append(pkts, timed{seg, at})
					seq[s] += uint32(len(data))
					if f.Has(packet.SYN) || f.Has(packet.FIN) {
						seq[s]++
					}
					at += Timestamp(time.Millisecond)
				}
				// out sends data as two segments, the second first.
				out := func(s Side, data string) {
					half := len(data) / 2
					first := seq[s]
					seq[s] += uint32(half)
					send(s, PA, data[half:])
					seq[s] = first
					send(s, PA, data[:half])
					seq[s] = first + uint32(len(data))
				}
				request := func(n int) string {
					return fmt.Sprintf("GET /%d/%d HTTP/1.1\r\nHost: x\r\n\r\n", i, n)
				}
				const response = "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nKeep-Alive: timeout=60\r\n\r\nhello"
				send(Client, S, "")
				send(Server, SA, "")
				send(Client, A, "")
				send(Client, PA, request(1))
				send(Server, PA, response)
				if i%8 == 7 {
					// The client acknowledges the response only after an idle
					// spell, and sends nothing more.
					at += Timestamp(idle)
					send(Client, A, "")
					continue
				}
				send(Client, A, "")
				if i%8 == 5 {
					// A request's second half, its first only after an idle
					// spell shorter than payload.GapWait: the reassembler holds the
					// connection, waiting, when it leaves the table.
					r := request(2)
					first := seq[Client]
					seq[Client] += 10
					send(Client, PA, r[10:])
					at += Timestamp(payload.GapWait - 3*time.Second)
					seq[Client] = first
					send(Client, PA, r[:10])
					seq[Client] = first + uint32(len(r))
					send(Server, PA, response)
					send(Client, A, "")
					continue
				}
				at += Timestamp(idle)
				switch i % 8 {
				case 0: // another request, then the client closes
					send(Client, PA, request(2))
					send(Server, PA, response)
					send(Client, FA, "")
					send(Server, FA, "")
					send(Client, A, "")
				case 1: // a request split across another idle spell
					r := request(2)
					send(Client, PA, r[:10])
					at += Timestamp(idle)
					send(Client, PA, r[10:])
					send(Server, PA, response)
					send(Client, A, "")
				case 2: // the server closes; the client never does
					send(Server, FA, "")
					send(Client, A, "")
				case 3: // a body read until close, idle in the middle
					send(Client, PA, request(2))
					send(Server, PA, "HTTP/1.0 200 OK\r\n\r\nsome")
					at += Timestamp(idle)
					send(Server, PA, " more")
					send(Server, FA, "")
					send(Client, FA, "")
					send(Server, A, "")
				case 6: // bytes that are not HTTP: the client's side is not read on
					send(Client, PA, "\x01\x02")
					at += Timestamp(idle)
					send(Client, PA, request(2))
					send(Server, PA, response)
					send(Client, A, "")
				case 4: // segments out of order after the idle spell
					out(Client, request(2))
					out(Server, response)
					send(Client, A, "")
				}
			}
			// A busy connection with no payload, for the sweeps to run every
			// second or two of capture time (they wait for 1024 packets).
			busy := netip.MustParseAddrPort("10.7.0.1:5000")
			for ms := range 100_000 {
				at := TS(t0) + Timestamp(time.Duration(ms)*time.Millisecond)
				seg := packet.Segment{Src: busy, Dst: server, Flags: A, Seq: 1, Ack: 1, Window: 1000, WScale: -1}
				pkts = append(pkts, timed{seg, at})
			}
			slices.SortStableFunc(pkts, func(a, b timed) int { return int(a.at - b.at) })
			mostApart := 0 // the most streams resting with no record at once
			run := func(sweep bool) (recs []*Record, snaps [][]*Record, tr *Tracker) {
				tr = NewTracker(tc.cfg)
				tr.noSweep = !sweep
				for i := range pkts {
					p := &pkts[i]
					tr.Add(&p.seg, Meta{At: p.at, Packet: uint32(i + 1), Order: uint64(i + 1), WireLen: uint32(54 + p.seg.Len)})
					if i%997 == 0 {
						checkConns(t, tr)
						mostApart = max(mostApart, len(restingApart(tr)))
						snaps = append(snaps, tr.snapshot())
					}
				}
				recs, _ = tr.Finish()
				return recs, snaps, tr
			}
			swept, sweptSnaps, tr := run(true)
			kept, keptSnaps, _ := run(false)
			// Snapshots, as flowdoc live takes them, read the same too.
			for n, snap := range sweptSnaps {
				for i, a := range snap {
					b := keptSnaps[n][i]
					if a.Payload() == nil && b.Payload() == nil {
						continue // the busy connection, or no payload yet
					}
					if a.Payload() == nil || b.Payload() == nil || a.Payload().HTTP == nil || b.Payload().HTTP == nil {
						t.Fatalf("%v: snapshot %d: payload %+v swept, %+v kept", a.Key, n, a.Payload(), b.Payload())
					}
					if ha, hb := *a.Payload().HTTP, *b.Payload().HTTP; !reflect.DeepEqual(ha, hb) {
						t.Errorf("%v: snapshot %d: swept\n%+v\nkept\n%+v", a.Key, n, ha, hb)
					}
				}
			}
			t.Logf("%d frozen, %d revived, %d streams rested (%d in the table, at most %d at once with no record), %d resumed", tr.frozen, tr.revived, tr.pay.rested, tr.pay.quiet, mostApart, tr.pay.resumed)
			if !tc.frozen && mostApart < 20 {
				// A quiet open connection's record would cost more than
				// the stream its resting lets go of.
				t.Errorf("at most %d streams rested at once without a record", mostApart)
			}
			if tc.frozen && (tr.frozen < 400 || tr.pay.resumed < 200) || !tc.frozen && (tr.pay.quiet < 300 || tr.pay.resumed < 50) || tr.pay.rested < 300 {
				t.Fatalf("%d frozen, %d streams rested, %d resumed: the test does not exercise resting", tr.frozen, tr.pay.rested, tr.pay.resumed)
			}
			if len(swept) != len(kept) {
				t.Fatalf("%d flows swept, %d kept", len(swept), len(kept))
			}
			for i := range swept {
				a, b := swept[i], kept[i]
				if a.Key.Client() == busy {
					continue
				}
				if a.Payload() == nil || b.Payload() == nil || a.Payload().HTTP == nil {
					t.Fatalf("%v: payload %+v swept, %+v kept", a.Key, a.Payload(), b.Payload())
				}
				if a.stream != nil {
					t.Errorf("%v: a payload left unpacked after the pass", a.Key)
				}
				ha, hb := *a.Payload().HTTP, *b.Payload().HTTP
				pa, pb := *a.Payload(), *b.Payload()
				pa.HTTP, pb.HTTP = nil, nil
				if !reflect.DeepEqual(pa, pb) || !reflect.DeepEqual(ha, hb) {
					t.Errorf("%v: swept\n%+v\n%+v\nkept\n%+v\n%+v", a.Key, pa, ha, pb, hb)
				}
				want := 2
				switch (a.Key.Client().Port() - 40000) % 8 {
				case 2, 6, 7:
					want = 1
				}
				if ha.Requests != want {
					t.Errorf("%v: %d requests, want %d", a.Key, ha.Requests, want)
				}
				if x := ha.LastResponse(); x == nil || !x.Acked {
					t.Errorf("%v: the last response is not acknowledged: %+v", a.Key, x)
				}
			}
		})
	}
}
