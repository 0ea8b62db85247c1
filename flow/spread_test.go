package flow

import (
	"bytes"
	"math"
	"math/rand/v2"
	"net/netip"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/flowdoc/flowdoc/flow/packet"
)

// readTrackers reads pkts with n trackers.
func readTrackers(t *testing.T, pkts []lonePkt, n int) *Result {
	t.Helper()
	return readOpts(t, bytes.NewReader(lonePcap(pkts)), "spread.pcap", ReadOptions{Trackers: n})
}

// cleanClients is n clients each through a handshake and a close with
// server, one every gap from the start.
func cleanClients(n int, server netip.AddrPort, gap time.Duration) []lonePkt {
	var pkts []lonePkt
	ms := time.Millisecond
	for i := range n {
		c := netip.AddrPortFrom(netip.AddrFrom4([4]byte{10, 0, 2, byte(1 + i)}), 40000)
		at := time.Duration(i) * gap
		cs, ss := uint32(1000+i), uint32(9000+i)
		pkts = append(pkts,
			lonePkt{at, c, server, packet.SYN, cs, 0},
			lonePkt{at + ms, server, c, packet.SYN | packet.ACK, ss, cs + 1},
			lonePkt{at + 2*ms, c, server, packet.ACK, cs + 1, ss + 1},
			lonePkt{at + 50*ms, c, server, packet.FIN | packet.ACK, cs + 1, ss + 1},
			lonePkt{at + 51*ms, server, c, packet.FIN | packet.ACK, ss + 1, cs + 2},
			lonePkt{at + 52*ms, c, server, packet.ACK, cs + 2, ss + 2})
	}
	return pkts
}

// TestFoldSpread: a flood spread over a network (carpet bombing), 5,000
// SYNs over 5 s, each from a spoofed source of its own to a random port
// of a random address of 10.2.0.0/16, never answered, beside 20 clean
// connections until 7 s. No server endpoint and no client has many of
// them, yet all but the first five hundred or so are folded, into one Other aggregate
// that counts their endpoints; the clean connections are flows. With 1,
// 2 and 4 trackers the result is the same.
func TestFoldSpread(t *testing.T) {
	const n = 5000
	web := netip.MustParseAddrPort("10.0.0.80:80")
	pkts := cleanClients(20, web, 350*time.Millisecond)
	rng := rand.New(rand.NewPCG(7, 8))
	for i := range n {
		src := netip.AddrPortFrom(netip.AddrFrom4([4]byte{198, 18, byte(i >> 8), byte(i)}), uint16(1024+i))
		dst := netip.AddrPortFrom(netip.AddrFrom4([4]byte{10, 2, byte(rng.IntN(256)), byte(rng.IntN(256))}), uint16(1+rng.IntN(65535)))
		pkts = append(pkts, lonePkt{time.Duration(i) * time.Millisecond, src, dst, packet.SYN, rng.Uint32(), 0})
	}

	var first *Result
	for _, trackers := range []int{1, 2, 4} {
		res := readTrackers(t, pkts, trackers)
		lone, clean := 0, 0
		for _, r := range res.Flows {
			switch {
			case r.History == "S":
				lone++
			case r.Server.Packets > 0 && r.Client.FinPacket > 0 && r.Server.FinPacket > 0:
				clean++
			}
		}
		if clean != 20 || len(res.Aggregates) != 1 {
			t.Fatalf("%d trackers: %d clean flows and %d aggregates; want 20 and 1", trackers, clean, len(res.Aggregates))
		}
		a := res.Aggregates[0]
		if !a.Other || a.Server.IsValid() || a.Client.IsValid() || a.HalfOpen || a.Refused {
			t.Fatalf("%d trackers: aggregate %+v; want Other, unanswered", trackers, a)
		}
		if a.Connections+lone != n || a.SYNs != a.Connections || lone > 600 {
			t.Errorf("%d trackers: %d lone flows + %d folded (%d SYNs); want %d in all, at most 600 flows", trackers, lone, a.Connections, a.SYNs, n)
		}
		if a.Sources < a.Connections*95/100 {
			t.Errorf("%d trackers: %d sources for %d connections; want about as many (spoofed: one each)", trackers, a.Sources, a.Connections)
		}
		if !a.PeersEstimated || a.Peers < a.Connections*95/100 || a.Peers > a.Connections || a.OnePort != 0 || a.OneHost.IsValid() {
			t.Errorf("%d trackers: %d endpoints (estimated %v, one host %v, one port %d); want about %d, many hosts and ports",
				trackers, a.Peers, a.PeersEstimated, a.OneHost, a.OnePort, a.Connections)
		}
		if first == nil {
			first = res
			continue
		}
		if !reflect.DeepEqual(first.Aggregates, res.Aggregates) || len(first.Flows) != len(res.Flows) {
			t.Errorf("%d trackers: %d flows, %+v; 1 tracker: %d flows, %+v", trackers, len(res.Flows), res.Aggregates, len(first.Flows), first.Aggregates)
		}
	}
}

// TestFoldKeysCapped: past maxFoldKeys server endpoints with aggregates
// of their own, the floods of the next ones are folded together, Other,
// and which endpoints have their own does not depend on the number of
// trackers: the first to be flooded, in capture order.
func TestFoldKeysCapped(t *testing.T) {
	defer func(n int) { maxFoldKeys = n }(maxFoldKeys)
	maxFoldKeys = 8
	const endpoints, each = 20, 300
	var pkts []lonePkt
	for i := range endpoints * each {
		e := i % endpoints
		dst := netip.AddrPortFrom(netip.AddrFrom4([4]byte{10, 0, 0, byte(1 + e)}), 80)
		src := netip.AddrPortFrom(netip.AddrFrom4([4]byte{198, 18, byte(i >> 8), byte(i)}), uint16(1024+i%60000))
		pkts = append(pkts, lonePkt{time.Duration(i) * 500 * time.Microsecond, src, dst, packet.SYN, uint32(i) * 2654435761, 0})
	}
	pkts = append(pkts, cleanClients(1, netip.MustParseAddrPort("10.0.0.1:80"), 0)...)
	pkts[len(pkts)-1].at = 6 * time.Second // the capture ends then

	var first []Aggregate
	for _, trackers := range []int{1, 2, 4} {
		res := readTrackers(t, pkts, trackers)
		own, folded, other := map[netip.AddrPort]bool{}, 0, 0
		for _, a := range res.Aggregates {
			folded += a.Connections
			switch {
			case a.Other:
				other++
				if a.Peers != endpoints-maxFoldKeys || a.PeersEstimated {
					t.Errorf("%d trackers: Other counts %d endpoints; want %d", trackers, a.Peers, endpoints-maxFoldKeys)
				}
			case a.Server.IsValid():
				own[a.Server] = true
			}
		}
		lone := 0
		for _, r := range res.Flows {
			if r.History == "S" {
				lone++
			}
		}
		if len(own) != maxFoldKeys || other != 1 || folded+lone != endpoints*each {
			t.Errorf("%d trackers: %d endpoints with aggregates of their own, %d Other, %d folded + %d flows; want %d, 1, %d in all",
				trackers, len(own), other, folded, lone, maxFoldKeys, endpoints*each)
		}
		for e := range maxFoldKeys {
			if p := netip.AddrPortFrom(netip.AddrFrom4([4]byte{10, 0, 0, byte(1 + e)}), 80); !own[p] {
				t.Errorf("%d trackers: %v, among the first %d flooded, has no aggregate of its own", trackers, p, maxFoldKeys)
			}
		}
		if first == nil {
			first = res.Aggregates
		} else if !reflect.DeepEqual(first, res.Aggregates) {
			t.Errorf("%d trackers: aggregates differ from 1 tracker's", trackers)
		}
	}
}

// TestSynCounterCarpet: 3 M SYNs at 500 k/s, each from a source of its
// own to a random endpoint of a /16. Enough fall in each of synCounter's
// cells for the cells to mark them by server endpoint; no more than
// maxFoldKeys endpoints may have aggregates of their own, and the rest
// are marked Other. (Before the cap, such a flood made an aggregate per
// endpoint: millions of them.)
func TestSynCounterCarpet(t *testing.T) {
	var sc synCounter
	rng := rand.New(rand.NewPCG(3, 4))
	at := TS(time.Date(2026, 1, 2, 3, 0, 0, 0, time.UTC))
	marks := map[Fold]int{}
	servers := map[netip.AddrPort]bool{}
	const n = 3_000_000
	for i := range n {
		seg := packet.Segment{Flags: packet.SYN, Seq: rng.Uint32(),
			Src: netip.AddrPortFrom(netip.AddrFrom4([4]byte{byte(1 + rng.IntN(200)), byte(rng.IntN(256)), byte(rng.IntN(256)), byte(rng.IntN(256))}), uint16(1024+rng.IntN(60000))),
			Dst: netip.AddrPortFrom(netip.AddrFrom4([4]byte{10, 2, byte(rng.IntN(256)), byte(rng.IntN(256))}), uint16(1+rng.IntN(65535)))}
		f := sc.mark(&seg, at+Timestamp(i)*2*Timestamp(time.Microsecond))
		marks[f]++
		if f == FoldServer {
			servers[seg.Dst] = true
		}
	}
	if len(servers) > maxFoldKeys || len(sc.servers) > maxFoldKeys || len(sc.clients) > maxFoldKeys {
		t.Errorf("%d endpoints marked to fold by server endpoint (%d, %d kept); want at most %d", len(servers), len(sc.servers), len(sc.clients), maxFoldKeys)
	}
	if marks[FoldOther] < n*9/10 {
		t.Errorf("marks %v; want nine in ten or more Other", marks)
	}
}

// TestSynCounterCarpetRefusals: 10.5 M SYNs at 500 k/s, spread as in
// TestSynCounterCarpet, one in ten refused at once. From the second
// window on, every cell marks the flood's SYNs by server endpoint, and
// past maxFoldKeys they are Other; their refusals must be marked too
// (past the first hundred), or each refused connection is a flow.
func TestSynCounterCarpetRefusals(t *testing.T) {
	if raceOn {
		t.Skip("synCounter is the reader's alone, and ten million SYNs take long under the race detector")
	}
	var sc synCounter
	rng := rand.New(rand.NewPCG(11, 12))
	at := TS(time.Date(2026, 1, 2, 3, 0, 0, 0, time.UTC)) // a window starts
	const rate, n = 500_000, 10_500_000
	lost := map[int64]int{} // refusals of Other SYNs left unmarked, by window
	for i := range n {
		now := at + Timestamp(i)*Timestamp(time.Second/rate)
		r := rng.Uint64()
		seg := packet.Segment{Flags: packet.SYN, Seq: uint32(r),
			Src: netip.AddrPortFrom(netip.AddrFrom4([4]byte{byte(1 + r>>32%200), byte(r >> 40), byte(r >> 48), byte(r >> 56)}), uint16(1024+i%60000)),
			Dst: netip.AddrPortFrom(netip.AddrFrom4([4]byte{10, 2, byte(r >> 8), byte(r >> 16)}), uint16(1+r>>24%65535))}
		f := sc.mark(&seg, now)
		if i%10 != 0 {
			continue
		}
		rst := packet.Segment{Flags: packet.RST | packet.ACK, Src: seg.Dst, Dst: seg.Src, Ack: seg.Seq + 1}
		if f == FoldOther && sc.mark(&rst, now) == 0 {
			lost[int64(now.Sub(at)/synWindow)]++
		}
	}
	if sum := lost[0] + lost[1] + lost[2]; sum > foldAfter {
		t.Errorf("%d refusals of SYNs marked Other were not marked (by window: %v); want at most %d", sum, lost, foldAfter)
	}
}

// TestOtherOrderAcrossTrackers: with no endpoint admitted to an
// aggregate of its own, a flood of one endpoint left unanswered and one
// of another refused are folded into two Other aggregates of as many
// connections each. Where they rank must not depend on the number of
// trackers, nor on which tracker made which first (here the second
// tracker holds every refused connection).
func TestOtherOrderAcrossTrackers(t *testing.T) {
	defer func(n int) { maxFoldKeys = n }(maxFoldKeys)
	maxFoldKeys = 0
	dark, closed := netip.MustParseAddrPort("10.0.0.1:80"), netip.MustParseAddrPort("10.0.0.2:80")
	ms := time.Millisecond
	var pkts []lonePkt
	for i := range 250 {
		src := netip.AddrPortFrom(netip.AddrFrom4([4]byte{198, 18, 0, byte(i)}), uint16(1024+i))
		pkts = append(pkts, lonePkt{time.Duration(i) * ms, src, dark, packet.SYN, uint32(i) * 2654435761, 0})
	}
	for i, port := 0, uint16(1024); i < 250; port++ {
		src := netip.AddrPortFrom(netip.AddrFrom4([4]byte{198, 19, 0, byte(i)}), port)
		if k, _ := makeTuple(src, closed); k.hash()>>32%2 != 1 {
			continue // on the first of two trackers
		}
		isn := uint32(i) * 2654435761
		pkts = append(pkts, lonePkt{time.Duration(i) * ms, src, closed, packet.SYN, isn, 0},
			lonePkt{time.Duration(i)*ms + 100*time.Microsecond, closed, src, packet.RST | packet.ACK, 0, isn + 1})
		i++
	}
	pkts = append(pkts, cleanClients(1, netip.MustParseAddrPort("10.0.0.3:80"), 0)...)
	pkts[len(pkts)-1].at = 5 * time.Second // the capture ends then

	var first []Aggregate
	for _, trackers := range []int{1, 2} {
		res := readTrackers(t, pkts, trackers)
		if len(res.Aggregates) != 2 || !res.Aggregates[0].Other || !res.Aggregates[1].Other || res.Aggregates[0].Connections != res.Aggregates[1].Connections {
			t.Fatalf("%d trackers: %+v; want two Other aggregates of as many connections", trackers, res.Aggregates)
		}
		if first == nil {
			first = res.Aggregates
		} else if !reflect.DeepEqual(first, res.Aggregates) {
			t.Errorf("%d trackers: refused first %v, then %v; 1 tracker: %v, then %v",
				trackers, res.Aggregates[0].Refused, res.Aggregates[1].Refused, first[0].Refused, first[1].Refused)
		}
	}
}

// TestSpreadScannersListed: the scans that reach a network all the time
// from many sources, each a few dozen SYNs (here 300 sources, 30 SYNs
// each to random endpoints of a /16, over 20 s, none answered), are
// spread thin too, but from sources that come back, and too few to fill
// memory: they stay flows, for the port_scan findings of each source.
func TestSpreadScannersListed(t *testing.T) {
	const sources, each = 300, 30
	rng := rand.New(rand.NewPCG(11, 12))
	var pkts []lonePkt
	for i := range sources * each {
		s := i % sources
		src := netip.AddrPortFrom(netip.AddrFrom4([4]byte{203, 0, byte(s >> 8), byte(s)}), uint16(40000+i/sources))
		dst := netip.AddrPortFrom(netip.AddrFrom4([4]byte{10, 2, byte(rng.IntN(256)), byte(rng.IntN(256))}), uint16(1+rng.IntN(65535)))
		pkts = append(pkts, lonePkt{time.Duration(i) * 20 * time.Second / (sources * each), src, dst, packet.SYN, rng.Uint32(), 0})
	}
	res := readTrackers(t, pkts, 2)
	if len(res.Aggregates) != 0 || len(res.Flows) != sources*each {
		t.Errorf("%d flows and aggregates %+v; want %d flows, none folded", len(res.Flows), res.Aggregates, sources*each)
	}
}

// TestPeersNoMoreThanConnections: an aggregate's estimated peers cannot
// take back those of the connections answered late, which leave it; the
// count it reports is never more than the connections it still holds.
func TestPeersNoMoreThanConnections(t *testing.T) {
	web := netip.MustParseAddrPort("10.0.0.80:80")
	var pkts []lonePkt
	const n = 600
	for i := range n {
		src := netip.AddrPortFrom(netip.AddrFrom4([4]byte{198, 18, byte(i >> 8), byte(i)}), uint16(1024+i))
		at := time.Duration(i) * time.Millisecond
		isn := uint32(i) * 2654435761
		pkts = append(pkts, lonePkt{at, src, web, packet.SYN, isn, 0})
		if i%10 != 0 { // nine in ten answered 3 s later, once folded
			pkts = append(pkts, lonePkt{at + 3*time.Second, web, src, packet.SYN | packet.ACK, 7, isn + 1})
		}
	}
	res := readTrackers(t, pkts, 1)
	checked := false
	for _, a := range res.Aggregates {
		if a.HalfOpen { // those answered late, half-open now
			continue
		}
		checked = true
		if a.AnsweredLate < 400 || !a.PeersEstimated || a.Peers > a.Connections {
			t.Errorf("aggregate of %v: %d connections, %d answered late, %d peers (estimated %v); want 450 answered late, no more peers than connections",
				a.Server, a.Connections, a.AnsweredLate, a.Peers, a.PeersEstimated)
		}
	}
	if !checked {
		t.Fatalf("no unanswered aggregate: %+v", res.Aggregates)
	}
}

// spoofedFlood is 1,500 SYNs to web, one every 2 ms, each from a spoofed
// source of its own, never answered.
func spoofedFlood(web netip.AddrPort) []lonePkt {
	var pkts []lonePkt
	for i := range 1500 {
		src := netip.AddrPortFrom(netip.AddrFrom4([4]byte{198, 18, byte(i >> 8), byte(i)}), uint16(1024+i))
		pkts = append(pkts, lonePkt{time.Duration(i) * 2 * time.Millisecond, src, web, packet.SYN, uint32(i) * 2654435761, 0})
	}
	return pkts
}

// TestRetriedClientsNamed: 20 real clients whose connections to a
// flooded endpoint got no answer either (each SYN sent three times,
// which spoofed sources never do) are folded with the flood, and the
// aggregate names them: the 16 lowest addresses, the same with 1, 2 and
// 4 trackers.
func TestRetriedClientsNamed(t *testing.T) {
	web := netip.MustParseAddrPort("10.0.0.80:80")
	pkts := spoofedFlood(web)
	ms := time.Millisecond
	const clients = 20
	for i := range clients {
		c := netip.AddrPortFrom(netip.AddrFrom4([4]byte{10, 0, 3, byte(clients - i)}), uint16(50000+i))
		at := 500*ms + time.Duration(i)*50*ms
		for _, d := range []time.Duration{0, time.Second, 3 * time.Second} {
			pkts = append(pkts, lonePkt{at + d, c, web, packet.SYN, uint32(7 + i), 0})
		}
	}
	var first []PeerCount
	for _, trackers := range []int{1, 2, 4} {
		res := readTrackers(t, pkts, trackers)
		if len(res.Aggregates) != 1 {
			t.Fatalf("%d trackers: aggregates %+v; want one, the endpoint's", trackers, res.Aggregates)
		}
		a := res.Aggregates[0]
		if a.Retried != clients || len(a.RetriedBy) != maxRetriedBy {
			t.Fatalf("%d trackers: %d retried, by %v; want %d, by %d clients", trackers, a.Retried, a.RetriedBy, clients, maxRetriedBy)
		}
		for j, p := range a.RetriedBy {
			if want := netip.AddrPortFrom(netip.AddrFrom4([4]byte{10, 0, 3, byte(1 + j)}), 0); p.Peer != want || p.Connections != 1 {
				t.Errorf("%d trackers: named %v (%d); want %v (1): the lowest addresses, in order", trackers, p.Peer, p.Connections, want)
			}
		}
		if first == nil {
			first = a.RetriedBy
		} else if !reflect.DeepEqual(first, a.RetriedBy) {
			t.Errorf("%d trackers name %v; 1 tracker %v", trackers, a.RetriedBy, first)
		}
	}
}

// TestCookiesHoldNoSocket: of the half-open connections the flood
// capture keeps as flows (10.0.0.82:8443, each SYN answered with one
// SYN-ACK, never acknowledged), those whose SYN-ACK was sent once and not
// again for more than the initial RTO left no socket on the server (SYN
// cookies): CLOSED, SYN_RECV expired. The one whose SYN-ACK was sent
// again (folded with the flood) is counted in SYN_RECV by its aggregate.
func TestCookiesHoldNoSocket(t *testing.T) {
	res := readOpts(t, bytes.NewReader(floodCapture()), "flood.pcap", ReadOptions{})
	cookies, kept := 0, 0
	for _, r := range res.Flows {
		if r.Key.Server() != netip.MustParseAddrPort("10.0.0.82:8443") || r.Client.Bytes+r.Server.Bytes > 0 || r.Client.Packets != 1 {
			continue
		}
		switch {
		case r.Server.State == Closed && r.Server.Expired == SynRecv && r.Server.Packets == 1:
			cookies++
		case r.Server.State == SynRecv && r.Server.Packets > 1:
			kept++
		default:
			t.Errorf("%v: server %s (expired %s) after %d SYN-ACKs", r.Key, r.Server.State, r.Server.Expired, r.Server.Packets)
		}
	}
	retried := 0
	for _, a := range res.Aggregates {
		if a.Server == netip.MustParseAddrPort("10.0.0.82:8443") && a.HalfOpen {
			retried += a.ServerRetried
		}
	}
	if cookies < 90 || kept+retried != 1 {
		t.Errorf("%d half-open flows with no socket left; %d in SYN_RECV, %d folded; want about 100, and the one sent again", cookies, kept, retried)
	}
}

// TestRetriedNamesAnsweredLate: 17 real clients send their SYN to a
// flooded endpoint again, the 16 lowest addresses first; then the lowest
// is answered late, and leaves the aggregate. The names do not depend on
// the number of trackers: one tracker had no room for the 17th when it
// sent its SYN again, so no tracker may name it; and they count no more
// connections than Retried.
func TestRetriedNamesAnsweredLate(t *testing.T) {
	web := netip.MustParseAddrPort("10.0.0.80:80")
	pkts := spoofedFlood(web)
	ms := time.Millisecond
	client := func(i int) netip.AddrPort {
		return netip.AddrPortFrom(netip.AddrFrom4([4]byte{10, 0, 3, byte(i)}), uint16(50000+i))
	}
	for i := 1; i <= 16; i++ { // sent again at 2.0 s to 2.15 s
		at := 500*ms + time.Duration(i-1)*10*ms
		pkts = append(pkts, lonePkt{at, client(i), web, packet.SYN, uint32(7 + i), 0},
			lonePkt{at + 1500*ms, client(i), web, packet.SYN, uint32(7 + i), 0})
	}
	pkts = append(pkts, lonePkt{700 * ms, client(17), web, packet.SYN, 24, 0},
		lonePkt{2300 * ms, client(17), web, packet.SYN, 24, 0},
		lonePkt{2600 * ms, web, client(1), packet.SYN | packet.ACK, 99, 8 + 1}) // the lowest, answered late
	var first []PeerCount
	for _, trackers := range []int{1, 2, 4} {
		res := readTrackers(t, pkts, trackers)
		i := slices.IndexFunc(res.Aggregates, func(a Aggregate) bool { return !a.HalfOpen })
		if i < 0 {
			t.Fatalf("%d trackers: aggregates %+v; want the endpoint's unanswered", trackers, res.Aggregates)
		}
		a := res.Aggregates[i]
		n := 0
		for _, p := range a.RetriedBy {
			n += p.Connections
			if p.Connections <= 0 || p.Peer.Addr() == client(1).Addr() {
				t.Errorf("%d trackers: named %v (%d); want only clients with connections retried still folded", trackers, p.Peer, p.Connections)
			}
		}
		if a.Retried != 16 || a.AnsweredLate != 1 || n > a.Retried {
			t.Errorf("%d trackers: %d retried, %d answered late, named %v; want 16, 1, no more named than retried", trackers, a.Retried, a.AnsweredLate, a.RetriedBy)
		}
		if first == nil {
			first = a.RetriedBy
		} else if !reflect.DeepEqual(first, a.RetriedBy) {
			t.Errorf("%d trackers name %v; 1 tracker %v", trackers, a.RetriedBy, first)
		}
	}
}

// TestHLLStructured holds the peer estimate within 5 % where the peers
// differ in a few bits only, as a flood's sources and a scan's ports do:
// a hash that spreads such keys poorly counts them 10 to 25 % too many.
func TestHLLStructured(t *testing.T) {
	shapes := map[string]func(i int) netip.AddrPort{
		"IPv4 sources in order": func(i int) netip.AddrPort {
			return netip.AddrPortFrom(netip.AddrFrom4([4]byte{10, byte(i >> 16), byte(i >> 8), byte(i)}), 0)
		},
		"ports of a few addresses": func(i int) netip.AddrPort {
			return netip.AddrPortFrom(netip.AddrFrom4([4]byte{10, 0, byte(i >> 16), 1}), uint16(i))
		},
		"IPv6 sources in order": func(i int) netip.AddrPort {
			b := [16]byte{0x20, 0x01, 0x0d, 0xb8, 13: byte(i >> 16), 14: byte(i >> 8), 15: byte(i)}
			return netip.AddrPortFrom(netip.AddrFrom16(b), 443)
		},
		"endpoints of a /16": func(i int) netip.AddrPort {
			return netip.AddrPortFrom(netip.AddrFrom4([4]byte{10, 2, byte(i >> 8), byte(i)}), uint16(i>>16)+80)
		},
	}
	for name, peer := range shapes {
		for _, n := range []int{10_000, 60_000, 500_000} {
			m := make([]uint8, 1<<hllBits)
			for i := range n {
				hllAdd(m, peer(i))
			}
			if got := hllEstimate(m); math.Abs(float64(got-n)) > 0.05*float64(n) {
				t.Errorf("%s: %d peers estimated as %d", name, n, got)
			}
		}
	}
}
