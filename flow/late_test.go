package flow

import (
	"bytes"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/flowdoc/flowdoc/flow/packet"
	"github.com/flowdoc/flowdoc/flow/payload"
)

// segFeed adds segments to a tracker, numbering them.
type segFeed struct {
	tr *Tracker
	n  uint32
}

func (f *segFeed) add(at time.Duration, src, dst netip.AddrPort, flags packet.Flags, seq, ack uint32, win uint16) {
	f.n++
	seg := packet.Segment{Src: src, Dst: dst, Seq: seq, Ack: ack, Flags: flags, Window: win, WScale: -1, IPLen: 40}
	f.tr.Add(&seg, Meta{At: TS(t0.Add(at)), Packet: f.n, WireLen: 54})
}

// readLone reads pkts as a capture.
func readLone(t *testing.T, pkts []lonePkt) *Result {
	t.Helper()
	return readOpts(t, bytes.NewReader(lonePcap(pkts)), "lone.pcap", ReadOptions{})
}

// TestSnapshotLeavesRevivedEventsAlone: a connection met midstream whose
// roles the end of the pass swaps, let go for being idle and taken up
// again, has its events in its record; a snapshot then must not swap
// them in the record itself.
func TestSnapshotLeavesRevivedEventsAlone(t *testing.T) {
	x := netip.MustParseAddrPort("10.0.0.1:40000")
	y := netip.MustParseAddrPort("10.0.0.2:40001") // a server: z connects to it
	z := netip.MustParseAddrPort("10.0.0.3:50000")
	f1 := netip.MustParseAddrPort("10.0.0.4:50001")
	f2 := netip.MustParseAddrPort("10.0.0.5:443")
	pass := func(snap bool) []*Record {
		f := &segFeed{tr: NewTracker(Config{Payload: payload.Config{Off: true}})}
		f.add(0, y, x, packet.ACK, 500, 100, 0) // midstream, a zero window: an event
		f.add(100*time.Millisecond, z, y, packet.SYN, 1, 0, 500)
		f.add(101*time.Millisecond, y, z, packet.SYN|packet.ACK, 9, 2, 500)
		f.add(102*time.Millisecond, z, y, packet.ACK, 2, 10, 500)
		for i := range 1100 { // the sweeps let the idle go
			f.add(200*time.Millisecond+time.Duration(i)*6*time.Millisecond, f1, f2, packet.ACK, 7, 7, 500)
		}
		f.add(7500*time.Millisecond, x, y, packet.ACK, 100, 500, 500) // taken up again
		if f.tr.revived == 0 {
			t.Fatal("the midstream connection was not taken up again")
		}
		if snap {
			snapshotAsFinish(f.tr)
		}
		recs, _ := f.tr.Finish()
		return recs
	}
	want, got := pass(false), pass(true)
	for i, r := range want {
		if !r.RolesInferred {
			continue
		}
		if r.Key != got[i].Key || len(r.Events) != len(got[i].Events) || len(r.Events) > 0 && r.Events[0] != got[i].Events[0] {
			t.Errorf("with a snapshot taken: %v events %+v; without: %v events %+v", got[i].Key, got[i].Events, r.Key, r.Events)
		}
	}
}

// TestLateRefusalNotAnsweredLate: SYNs to a closed port whose RST comes
// only for the SYN sent again, after the first was folded as
// unanswered: they are refused, folded as such, and no flow; nothing was
// answered late.
func TestLateRefusalNotAnsweredLate(t *testing.T) {
	closed := netip.MustParseAddrPort("10.0.0.82:5432")
	var pkts []lonePkt
	ms := time.Millisecond
	const fast, slow = 200, 50
	for i := range fast + slow {
		cli := netip.AddrPortFrom(netip.AddrFrom4([4]byte{172, 16, byte(i >> 8), byte(i)}), 40000)
		at := time.Duration(i) * 2 * ms
		isn := uint32(1000 * (i + 1))
		pkts = append(pkts, lonePkt{at, cli, closed, packet.SYN, isn, 0})
		if i < fast {
			pkts = append(pkts, lonePkt{at + ms/10, closed, cli, packet.RST | packet.ACK, 0, isn + 1})
			continue
		}
		// The first SYN is lost on the way; the one sent again is refused.
		pkts = append(pkts, lonePkt{at + time.Second, cli, closed, packet.SYN, isn, 0},
			lonePkt{at + time.Second + ms/10, closed, cli, packet.RST | packet.ACK, 0, isn + 1})
	}
	res := readLone(t, pkts)
	folded, late := 0, 0
	for _, a := range res.Aggregates {
		t.Logf("aggregate %v refused %v: %d connections, %d SYNs, %d RSTs, %d answered late", a.Server, a.Refused, a.Connections, a.SYNs, a.RSTs, a.AnsweredLate)
		folded += a.Connections
		late += a.AnsweredLate
	}
	if len(res.Flows)+folded != fast+slow || late != 0 {
		t.Errorf("%d flows, %d folded, %d answered late: of %d connections, all refused, none answered late", len(res.Flows), folded, late, fast+slow)
	}
}

// TestKeyFamilies: the record's Key keeps each endpoint's address family
// as the segment gave it, as MakeKey does; and a late packet on the
// tuple of a connection that left the table takes it up again.
func TestKeyFamilies(t *testing.T) {
	a := netip.MustParseAddrPort("10.0.0.1:40000")
	b := netip.MustParseAddrPort("[2001:db8::1]:80")
	tr := NewTracker(Config{Payload: payload.Config{Off: true}})
	f := &segFeed{tr: tr}
	f.add(0, a, b, packet.SYN, 1, 0, 500)
	f.add(time.Millisecond, b, a, packet.SYN|packet.ACK, 9, 2, 500)
	f.add(2*time.Millisecond, a, b, packet.ACK, 2, 10, 500)
	recs, _ := tr.Finish()
	if len(recs) != 1 || recs[0].Key != MakeKey(a, b) {
		t.Fatalf("records %d, key %v; want %v", len(recs), recs[0].Key, MakeKey(a, b))
	}
}

// TestLateRefusalOfForgotten: a SYN sent four times (forgotten after the
// third: only its tuple and ISN are kept), refused at last by the server.
// Every connection is a flow or folded, once: the RST is a flow of its
// own, as a late SYN-ACK would be.
func TestLateRefusalOfForgotten(t *testing.T) {
	dark := netip.MustParseAddrPort("10.0.0.81:443")
	var pkts []lonePkt
	ms := time.Millisecond
	const conns = 300
	for i := range conns {
		cli := netip.AddrPortFrom(netip.AddrFrom4([4]byte{172, 16, byte(i >> 8), byte(i)}), 40000)
		at := time.Duration(i) * 2 * ms
		isn := uint32(1000 * (i + 1))
		for _, d := range []time.Duration{0, time.Second, 3 * time.Second, 7 * time.Second} {
			pkts = append(pkts, lonePkt{at + d, cli, dark, packet.SYN, isn, 0})
		}
		if i == conns-1 { // the server is back, and refuses it
			pkts = append(pkts, lonePkt{at + 7*time.Second + ms, dark, cli, packet.RST | packet.ACK, 0, isn + 1})
		}
	}
	// Half-open: SYN-ACKs sent three times (forgotten after the third),
	// then the server resets one.
	cookies := netip.MustParseAddrPort("10.0.0.82:8443")
	for i := range conns {
		cli := netip.AddrPortFrom(netip.AddrFrom4([4]byte{172, 17, byte(i >> 8), byte(i)}), 40000)
		at := time.Duration(i) * 2 * ms
		isn, sisn := uint32(3000*(i+1)), uint32(777*(i+1))
		pkts = append(pkts, lonePkt{at, cli, cookies, packet.SYN, isn, 0})
		for _, d := range []time.Duration{ms, time.Second, 3 * time.Second} {
			pkts = append(pkts, lonePkt{at + d, cookies, cli, packet.SYN | packet.ACK, sisn, isn + 1})
		}
		if i == conns-1 {
			pkts = append(pkts, lonePkt{at + 7*time.Second, cookies, cli, packet.RST | packet.ACK, sisn + 1, isn + 1})
		}
	}
	res := readLone(t, pkts)
	folded, counted, inFlows := 0, 0, 0
	for _, a := range res.Aggregates {
		t.Logf("aggregate %v refused %v: %d connections, %d SYNs, %d RSTs, %d answered late", a.Server, a.Refused, a.Connections, a.SYNs, a.RSTs, a.AnsweredLate)
		folded += a.Connections
		counted += a.SYNs + a.SYNACKs + a.RSTs
	}
	for _, r := range res.Flows {
		inFlows += int(r.Client.Packets + r.Server.Packets)
	}
	// (The SYNs of a forgotten connection answered at last are in
	// neither: a flow from that packet on, as for a late SYN-ACK.)
	if len(res.Flows)+folded != 2*conns || inFlows+counted < len(pkts)-8 {
		t.Errorf("%d flows + %d folded of %d connections; %d packets in flows + %d counted of %d", len(res.Flows), folded, 2*conns, inFlows, counted, len(pkts))
	}
}

// TestSnapshotLeavesEmbryosAlone: a snapshot in the middle of a flood
// (flowdoc live, at every interval) must not change what the pass ends
// with: the SYNs waiting for an answer then are folded or not as they
// would have been without it.
func TestSnapshotLeavesEmbryosAlone(t *testing.T) {
	segs, metas := floodSegs(1, 20000)
	var recs [2]string
	var aggs [2]string
	for k := range 2 {
		tr := NewTracker(Config{})
		for i := range segs {
			tr.Add(&segs[i], metas[i])
			if k == 1 && i == 12000 {
				snapshotAsFinish(tr)
			}
		}
		rs, _ := tr.Finish()
		recs[k], aggs[k] = dumpRecordsWith(rs, false), dumpAggs(tr)
	}
	if recs[0] != recs[1] || aggs[0] != aggs[1] {
		t.Errorf("a snapshot changes the pass: %d flows with it, %d without; first difference %s",
			strings.Count(recs[1], "\n  "), strings.Count(recs[0], "\n  "), firstDiff(recs[1], recs[0]))
	}
}

// TestHorizonOfLastRetirement: a connection retired, taken up again by a
// late FIN and retired once more is remembered for the horizon after its
// last retirement, not its first: a packet between the two horizons is
// still the connection's, not a flow of its own.
func TestHorizonOfLastRetirement(t *testing.T) {
	cli := netip.MustParseAddrPort("10.0.0.1:40000")
	srv := netip.MustParseAddrPort("10.0.0.2:80")
	other := netip.MustParseAddrPort("10.0.0.3:50000")
	f := &segFeed{tr: NewTracker(Config{})}
	ms := func(n int) time.Duration { return time.Duration(n) * time.Millisecond }
	f.add(0, cli, srv, S, 1000, 0, 100)
	f.add(ms(1), srv, cli, SA, 5000, 1001, 100)
	f.add(ms(2), cli, srv, A, 1001, 5001, 100)
	f.add(ms(1000), cli, srv, FA, 1001, 5001, 100)
	f.add(ms(1001), srv, cli, FA, 5001, 1002, 100)
	f.add(ms(1002), cli, srv, A, 1002, 5002, 100)
	// Sweeps come every second: the connection is retired about 4 s in
	// (2 s quiet after its last ACK), and again about 8 s in; each is
	// remembered for the horizon after.
	horizon := max(DefaultTimeWait, DefaultFinTimeout) + quietBefore
	late := []time.Duration{
		ms(6000),           // within lateWindow of the first retirement: taken up again
		ms(6500) + horizon, // past the first retirement's horizon, short of the second's
	}
	end := late[1] + ms(3000)
	// Other traffic, a packet a millisecond, for the sweeps to run.
	for n := 10; ms(n) < end; n++ {
		for len(late) > 0 && ms(n) >= late[0] {
			f.add(late[0], srv, cli, FA, 5001, 1002, 100) // the server's FIN again
			late = late[1:]
		}
		f.add(ms(n), other, srv, A, 7, 7, 100)
	}
	recs, _ := f.tr.Finish()
	if f.tr.revived != 2 || len(recs) != 2 {
		for _, r := range recs {
			t.Logf("%v %s/%s %s", r.Key, r.Client.State, r.Server.State, r.History)
		}
		t.Fatalf("%d connections taken up again, %d flows; want 2 taken up, 2 flows (the connection and the other traffic)", f.tr.revived, len(recs))
	}
	// The first FIN again comes while the sequence state is kept: a
	// retransmission; the second long after, counted without it.
	if r := recs[0]; r.Server.Retrans != 1 || r.Server.Packets != 4 {
		t.Errorf("the connection: %d packets from the server, %d sent again; want 4, 1", r.Server.Packets, r.Server.Retrans)
	}
}

// A real client waits for its connect through a flood of spoofed SYNs
// more than a tracker retains (retainCap): folded with the flood at its
// first SYN, it is still whole when the server answers its fifth, 15 s
// later, with all five SYNs (two kept, three counted).
func TestResentOutlastsFlood(t *testing.T) {
	web, c := netip.MustParseAddrPort("10.0.0.80:80"), netip.MustParseAddrPort("10.0.9.1:50000")
	var pkts []lonePkt
	n := 2 * retainCap
	for i := range n {
		src := netip.AddrPortFrom(netip.AddrFrom4([4]byte{198, 18, byte(i >> 8), byte(i)}), uint16(1024+i%60000))
		pkts = append(pkts, lonePkt{time.Duration(i) * 17 * time.Second / time.Duration(n), src, web, packet.SYN, uint32(i) * 2654435761, 0})
	}
	const isn, sisn = 7000, 9000
	for _, d := range []time.Duration{1, 2, 4, 8, 16} {
		pkts = append(pkts, lonePkt{d * time.Second, c, web, packet.SYN, isn, 0})
	}
	at := 16*time.Second + time.Millisecond
	pkts = append(pkts, lonePkt{at, web, c, packet.SYN | packet.ACK, sisn, isn + 1},
		lonePkt{at + time.Millisecond, c, web, packet.ACK, isn + 1, sisn + 1},
		lonePkt{at + 2*time.Millisecond, c, web, packet.FIN | packet.ACK, isn + 1, sisn + 1},
		lonePkt{at + 3*time.Millisecond, web, c, packet.FIN | packet.ACK, sisn + 1, isn + 2},
		lonePkt{at + 4*time.Millisecond, c, web, packet.ACK, isn + 2, sisn + 2})
	res := readTrackers(t, pkts, 1)
	i := slices.IndexFunc(res.Flows, func(r *Record) bool { return r.Key.Client() == c })
	if i < 0 {
		t.Fatal("no flow of the client")
	}
	r := res.Flows[i]
	if r.History != "ShAFf" || r.Client.Packets != 8 || r.Client.SYNs() != 5 || r.Client.Retrans != 4 || r.First != TS(t0.Add(time.Second)) {
		t.Errorf("client's flow: history %q, %d packets, %d SYNs, %d retransmissions, first %s; want all 5 SYNs from 1 s on",
			r.History, r.Client.Packets, r.Client.SYNs(), r.Client.Retrans, r.First.Time())
	}
	syns := 0
	for _, a := range res.Aggregates {
		syns += a.SYNs
	}
	if kept := len(res.Flows) - 1; kept+syns != n {
		t.Errorf("%d flood SYNs in flows, %d folded; want %d in all, none of the client's", kept, syns, n)
	}
}

// TestWindowsConnectDuringFlood: 12,000 spoofed SYNs a second, and
// Windows clients (a SYN at 0, 3 and 9 s) answered at their third: with
// one tracker or two, the clients' flows are whole, their three SYNs from
// the first on. (With a retention of 16,384 embryos per tracker, one
// tracker forgot their first SYN before the second came, and their flows
// began at the SYN-ACK.)
func TestWindowsConnectDuringFlood(t *testing.T) {
	web := netip.MustParseAddrPort("10.0.0.80:80")
	var pkts []lonePkt
	const rate, secs = 12000, 14
	for i := range rate * secs {
		src := netip.AddrPortFrom(netip.AddrFrom4([4]byte{198, 18 + byte(i>>16), byte(i >> 8), byte(i)}), uint16(1024+i%60000))
		pkts = append(pkts, lonePkt{time.Duration(i) * time.Second / rate, src, web, packet.SYN, uint32(i) * 2654435761, 0})
	}
	for c := range 8 {
		cl := netip.AddrPortFrom(netip.AddrFrom4([4]byte{10, 8, 0, byte(1 + c)}), 50000)
		start := time.Second + time.Duration(c)*100*time.Millisecond
		isn := uint32(7000 + c)
		for _, d := range []time.Duration{0, 3, 9} {
			pkts = append(pkts, lonePkt{start + d*time.Second, cl, web, packet.SYN, isn, 0})
		}
		at := start + 9*time.Second + time.Millisecond
		pkts = append(pkts, lonePkt{at, web, cl, packet.SYN | packet.ACK, 9000, isn + 1},
			lonePkt{at + time.Millisecond, cl, web, packet.ACK, isn + 1, 9001},
			lonePkt{at + 2*time.Millisecond, cl, web, packet.FIN | packet.ACK, isn + 1, 9001},
			lonePkt{at + 3*time.Millisecond, web, cl, packet.FIN | packet.ACK, 9001, isn + 2},
			lonePkt{at + 4*time.Millisecond, cl, web, packet.ACK, isn + 2, 9002})
	}
	for _, trackers := range []int{1, 2} {
		res := readTrackers(t, pkts, trackers)
		n := 0
		for _, r := range res.Flows {
			if r.Key.Client().Addr().As4()[1] != 8 {
				continue
			}
			n++
			if r.History != "ShAFf" || r.Client.SYNs() != 3 || r.Duration() < 9*time.Second {
				t.Errorf("%d trackers: %s: history %q, %d SYNs, %s; want the three SYNs over 9 s", trackers, r.Key, r.History, r.Client.SYNs(), r.Duration())
			}
		}
		if n != 8 {
			t.Errorf("%d trackers: %d flows of the Windows clients; want 8", trackers, n)
		}
	}
}

// TestHalfOpenManySYNACKs: a handshake folded half-open among a flood
// answered with cookies, its SYN-ACK sent 5 times (Linux sends it up to
// 6), then acknowledged: it leaves the aggregate with all its SYN-ACKs,
// where 3 were counted at most and 2 stayed behind.
func TestHalfOpenManySYNACKs(t *testing.T) {
	srv := netip.MustParseAddrPort("10.0.0.82:8443")
	var pkts []lonePkt
	ms := time.Millisecond
	for i := range 400 {
		src := netip.AddrPortFrom(netip.AddrFrom4([4]byte{198, 19, byte(i >> 8), byte(i)}), uint16(2000+i))
		at := time.Duration(i) * 5 * ms
		isn := uint32(i)*104729 + 1
		pkts = append(pkts, lonePkt{at, src, srv, packet.SYN, isn, 0}, lonePkt{at + ms, srv, src, packet.SYN | packet.ACK, uint32(i)*7 + 3, isn + 1})
	}
	c := netip.MustParseAddrPort("10.0.1.1:50000")
	const isn, cookie = 777, 9000
	at := 1500 * ms
	pkts = append(pkts, lonePkt{at, c, srv, packet.SYN, isn, 0})
	for _, d := range []time.Duration{1, 1000, 3000, 7000, 15000} {
		pkts = append(pkts, lonePkt{at + d*ms, srv, c, packet.SYN | packet.ACK, cookie, isn + 1})
	}
	pkts = append(pkts, lonePkt{at + 15500*ms, c, srv, packet.ACK, isn + 1, cookie + 1})
	for _, a := range readTrackers(t, pkts, 1).Aggregates {
		if a.HalfOpen && (a.SYNACKs != a.Connections || a.SYNs != a.Connections || a.AnsweredLate != 1) {
			t.Errorf("half-open aggregate: %d connections, %d SYNs, %d SYN-ACKs, %d answered late; want a SYN and a SYN-ACK each, the one that went on out",
				a.Connections, a.SYNs, a.SYNACKs, a.AnsweredLate)
		}
	}
}
