package flow

import (
	"net/netip"
	"slices"
	"testing"
	"time"

	"github.com/flowdoc/flowdoc/flow/packet"
)

type horizonPkt struct {
	at       time.Duration
	src, dst netip.AddrPort
	fl       packet.Flags
	seq, ack uint32
	conn     int // -1: background
}

// TestRetiredForgottenAfterHorizon: many connections closing over 3
// minutes, some taken up again by late FINs (within lateWindow, past it,
// twice), some tuples reused; the retired table forgets every tuple a
// horizon after its last retirement, none before, and stays bounded.
func TestRetiredForgottenAfterHorizon(t *testing.T) {
	srv := netip.MustParseAddrPort("10.0.0.2:80")
	bg := netip.MustParseAddrPort("10.0.0.3:50000")
	ms := time.Millisecond
	const total = 180 * time.Second
	every := 10 * ms
	var pkts []horizonPkt
	var cli []netip.AddrPort
	n := 0
	for at := time.Duration(0); at < total-40*time.Second; at += every {
		i := n
		n++
		c := netip.AddrPortFrom(netip.AddrFrom4([4]byte{10, 1, byte(i >> 8), byte(i)}), uint16(40000+i%1000))
		cli = append(cli, c)
		add := func(at time.Duration, s, d netip.AddrPort, fl packet.Flags, seq, ack uint32) {
			pkts = append(pkts, horizonPkt{at, s, d, fl, seq, ack, i})
		}
		add(at, c, srv, S, 1000, 0)
		add(at+1*ms, srv, c, SA, 5000, 1001)
		add(at+2*ms, c, srv, A, 1001, 5001)
		add(at+3*ms, c, srv, FA, 1001, 5001)
		add(at+4*ms, srv, c, FA, 5001, 1002)
		add(at+5*ms, c, srv, A, 1002, 5002)
		switch i % 7 {
		case 1: // late FIN within lateWindow
			add(at+6*time.Second, srv, c, FA, 5001, 1002)
		case 2: // late FIN past lateWindow, short of the horizon
			add(at+30*time.Second, srv, c, FA, 5001, 1002)
		case 3: // twice
			add(at+6*time.Second, srv, c, FA, 5001, 1002)
			add(at+40*time.Second, srv, c, FA, 5001, 1002)
		case 4: // the tuple reused 20 s later
			add(at+20*time.Second, c, srv, S, 9000, 0)
			add(at+20*time.Second+1*ms, srv, c, SA, 7000, 9001)
			add(at+20*time.Second+2*ms, c, srv, A, 9001, 7001)
			add(at+20*time.Second+3*ms, c, srv, FA, 9001, 7001)
			add(at+20*time.Second+4*ms, srv, c, FA, 7001, 9002)
			add(at+20*time.Second+5*ms, c, srv, A, 9002, 7002)
		}
	}
	for at := time.Duration(0); at < total; at += ms {
		pkts = append(pkts, horizonPkt{at, bg, srv, A, 7, 7, -1})
	}
	slices.SortStableFunc(pkts, func(a, b horizonPkt) int { return int(a.at - b.at) })
	tr := NewTracker(Config{})
	lastOf := make([]time.Duration, n)
	horizon := max(DefaultTimeWait, DefaultFinTimeout) + quietBefore
	maxRetired := 0
	check := func(now time.Duration) {
		maxRetired = max(maxRetired, tr.retired.n)
		bad, badMissing := 0, 0
		for i, c := range cli {
			if lastOf[i] == 0 {
				continue
			}
			k, _ := makeTuple(c, srv)
			rc := tr.retired.get(k.hash())
			known := rc.r != nil && rc.is(&k)
			age := now - lastOf[i]
			switch {
			case age > horizon+8*time.Second && known:
				bad++
			case age < horizon-1*time.Second && age > 6*time.Second && !known:
				badMissing++
			}
		}
		if bad > 0 || badMissing > 0 {
			t.Errorf("at %v: %d tuples remembered past the horizon of their last retirement, %d forgotten before it (retired table %d)", now, bad, badMissing, tr.retired.n)
		}
	}
	next := 10 * time.Second
	for j, p := range pkts {
		if p.at >= next {
			check(p.at)
			next += 10 * time.Second
		}
		seg := packet.Segment{Src: p.src, Dst: p.dst, Seq: p.seq, Ack: p.ack, Flags: p.fl, Window: 100, WScale: -1, IPLen: 40}
		tr.Add(&seg, Meta{At: TS(t0.Add(p.at)), Packet: uint32(j + 1), WireLen: 54})
		if p.conn >= 0 {
			lastOf[p.conn] = p.at
		}
	}
	check(total)
	t.Logf("%d connections, %d revived, retired table at most %d, at the end %d, expiry %d, free slots %d of %d",
		n, tr.revived, maxRetired, tr.retired.n, len(tr.expiry), len(tr.freeSlots), tr.nslots)
	// ~100 connections closing a second, remembered ~65 s: about 6500.
	if tr.retired.n > 8000 {
		t.Errorf("retired table holds %d", tr.retired.n)
	}
	recent := 0
	for i := range cli {
		if total-lastOf[i] <= horizon+8*time.Second {
			recent++
		}
	}
	if tr.retired.n > recent {
		t.Errorf("retired table %d, more than the %d tuples retired within the horizon", tr.retired.n, recent)
	}
}

// TestRestingStreamNotInherited: the stream of a connection with no record
// rests; its tuple is then reused, its conn recycled for the new
// connection, with and without a snapshot taken while it rests: each
// connection reads its own bytes only.
func TestRestingStreamNotInherited(t *testing.T) {
	for _, snap := range []bool{false, true} {
		c := netip.MustParseAddrPort("10.0.0.1:40000")
		s := netip.MustParseAddrPort("10.0.0.2:80")
		bg := netip.MustParseAddrPort("10.0.0.3:50000")
		tr := NewTracker(Config{})
		n := uint32(0)
		add := func(at time.Duration, src, dst netip.AddrPort, fl packet.Flags, seq, ack uint32, pl string) {
			n++
			seg := packet.Segment{Src: src, Dst: dst, Seq: seq, Ack: ack, Flags: fl, Window: 1000, WScale: -1, IPLen: 40, Len: len(pl), Payload: []byte(pl)}
			tr.Add(&seg, Meta{At: TS(t0.Add(at)), Packet: n, WireLen: uint32(54 + len(pl))})
		}
		ms := time.Millisecond
		req := "GET /a HTTP/1.1\r\nHost: x\r\n\r\n"
		resp := "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nhi"
		add(0, c, s, S, 1000, 0, "")
		add(1*ms, s, c, SA, 5000, 1001, "")
		add(2*ms, c, s, A, 1001, 5001, "")
		add(3*ms, c, s, PA, 1001, 5001, req)
		add(4*ms, s, c, PA, 5001, 1001+uint32(len(req)), resp)
		add(5*ms, c, s, A, 1001+uint32(len(req)), 5001+uint32(len(resp)), "")
		at := 10 * ms
		for ; at < 4500*ms; at += ms {
			add(at, bg, s, A, 7, 7, "")
		}
		apart := restingApart(tr)
		if len(apart) != 1 {
			t.Fatalf("%d streams resting apart, want 1", len(apart))
		}
		old := apart[0]
		if snap {
			snapshotAsFinish(tr)
			checkConns(t, tr)
		}
		req2 := "POST /b HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n"
		add(at, c, s, S, 90000, 0, "")
		add(at+1*ms, s, c, SA, 70000, 90001, "")
		add(at+2*ms, c, s, A, 90001, 70001, "")
		add(at+3*ms, c, s, PA, 90001, 70001, req2)
		checkConns(t, tr)
		k, _ := makeTuple(c, s)
		if tr.lookup(k.hash(), &k) != old {
			t.Fatal("the new connection did not get the old one's conn: the test does not exercise its reuse")
		}
		recs, _ := tr.Finish()
		var got []string
		for _, r := range recs {
			if p := r.Payload(); p != nil && p.HTTP != nil {
				for _, x := range p.HTTP.Exchanges {
					got = append(got, x.Method+" "+x.Target)
				}
			}
		}
		if want := []string{"GET /a", "POST /b"}; !slices.Equal(got, want) {
			t.Errorf("snapshot %v: requests read %q, want %q", snap, got, want)
		}
	}
}

// TestHolesSurviveRetirement: a connection closes with a hole in the
// client's data and is retired; a third connection, with a hole of its
// own, then takes the retired one's conn. A late retransmission fills the
// first connection's hole: it is data never seen before, not a
// retransmission, and nothing is left missed.
func TestHolesSurviveRetirement(t *testing.T) {
	const c, s = 1000, 5000
	other := netip.MustParseAddrPort("10.0.0.9:40001")
	tr := NewTracker(Config{})
	n := 0
	add := func(src, dst netip.AddrPort, fl packet.Flags, seq, ack uint32, size int, at time.Duration) {
		n++
		seg := packet.Segment{Src: src, Dst: dst, Seq: seq, Ack: ack, Flags: fl, Len: size, Window: 500, WScale: -1, IPLen: 40 + size}
		tr.Add(&seg, Meta{At: TS(t0.Add(at)), Packet: uint32(n), WireLen: uint32(54 + size)})
	}
	ms := time.Millisecond
	exchange := func(cl netip.AddrPort, c, s uint32, at time.Duration) {
		add(cl, srv, S, c, 0, 0, at)
		add(srv, cl, SA, s, c+1, 0, at+1*ms)
		add(cl, srv, A, c+1, s+1, 0, at+2*ms)
		add(cl, srv, PA, c+1, s+1, 100, at+3*ms)   // 1-100
		add(cl, srv, PA, c+201, s+1, 100, at+4*ms) // 201-300: 101-200 not captured
		add(srv, cl, A, s+1, c+301, 0, at+5*ms)
		add(cl, srv, FA, c+301, s+1, 0, at+6*ms)
		add(srv, cl, FA, s+1, c+302, 0, at+7*ms)
		add(cl, srv, A, c+302, s+2, 0, at+8*ms)
	}
	exchange(cli, c, s, 0)
	add(other, srv, S, 7, 0, 0, 3*time.Second) // the capture goes on
	tr.sweep()
	if k, _ := makeTuple(cli, srv); tr.lookup(k.hash(), &k) != nil || tr.retired.n != 1 {
		t.Fatalf("the first connection was not retired (retired %d)", tr.retired.n)
	}
	third := netip.MustParseAddrPort("10.0.0.9:40002")
	exchange(third, 70000, 90000, 3*time.Second+10*ms) // on the first one's conn
	add(cli, srv, PA, c+101, s+1, 100, 4*time.Second)
	recs, _ := tr.Finish()
	for _, r := range recs {
		if r.Key.Client() != cli {
			continue
		}
		if r.Client.Bytes != 300 || r.Client.Missed != 0 || r.Client.Retrans != 0 || tr.revived != 1 {
			t.Errorf("bytes %d, missed %d, retransmissions %d, revived %d; want 300, 0, 0, 1", r.Client.Bytes, r.Client.Missed, r.Client.Retrans, tr.revived)
		}
		return
	}
	t.Fatal("no record of the first connection")
}
