package flow

import (
	"bytes"
	"encoding/binary"
	"math/rand/v2"
	"net/netip"
	"os"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcapgo"

	"github.com/flowdoc/flowdoc/flow/capture"
	"github.com/flowdoc/flowdoc/flow/packet"
)

// floodCapture is testdata/flood/syn-flood.pcap (TestFloodCapture -update
// rewrites it):
//   - 10.0.0.80:80 serves 20 clients, handshake to close, while 1,500
//     spoofed sources (198.18.0.0/15) send it a SYN each over 3 s, never
//     answered and never sent again;
//   - 10.0.0.81:443 answers nothing: 4 clients open 100 connections each
//     and send each SYN three times (at 0, 1 and 3 s), but for two
//     connections it answers at last, 2.5 s after their SYN, and they
//     close cleanly;
//   - 10.0.9.9 scans: a SYN each to ports 22 and 3389 of 300 hosts
//     (10.1.0.0/16), from 0.2 s to 3.2 s; none answers;
//   - 10.0.0.82:8443 answers 400 spoofed sources (198.19.0.0/16), a SYN
//     each from 0.5 s to 2.5 s, with one SYN-ACK each (SYN cookies) and
//     nothing more comes, but for one connection whose SYN-ACK is sent
//     again at 1 and 3 s and one whose client acknowledges at last, 2 s
//     after its SYN-ACK;
//   - the capture ends at 5 s, 0.5 s after the last flood SYN: those
//     sent less than a second before are handshakes in progress.
func floodCapture() []byte {
	var pkts []lonePkt
	add := func(at time.Duration, src, dst netip.AddrPort, f packet.Flags, seq, ack uint32) {
		pkts = append(pkts, lonePkt{at, src, dst, f, seq, ack})
	}
	web := netip.MustParseAddrPort("10.0.0.80:80")
	dark := netip.MustParseAddrPort("10.0.0.81:443")
	ms := time.Millisecond
	for i := range 20 {
		c := netip.AddrPortFrom(netip.AddrFrom4([4]byte{10, 0, 2, byte(1 + i)}), 40000)
		at := time.Duration(i) * 150 * ms
		cs, ss := uint32(1000+i), uint32(9000+i)
		add(at, c, web, packet.SYN, cs, 0)
		add(at+ms, web, c, packet.SYN|packet.ACK, ss, cs+1)
		add(at+2*ms, c, web, packet.ACK, cs+1, ss+1)
		add(at+50*ms, c, web, packet.FIN|packet.ACK, cs+1, ss+1)
		add(at+51*ms, web, c, packet.FIN|packet.ACK, ss+1, cs+2)
		add(at+52*ms, c, web, packet.ACK, cs+2, ss+2)
	}
	for i := range 1500 {
		src := netip.AddrPortFrom(netip.AddrFrom4([4]byte{198, 18, byte(i >> 8), byte(i)}), uint16(1024+i*7))
		add(1500*ms+time.Duration(i)*2*ms, src, web, packet.SYN, uint32(i)*2654435761, 0)
	}
	for i := range 400 {
		c := netip.AddrPortFrom(netip.AddrFrom4([4]byte{10, 0, 1, byte(1 + i%4)}), uint16(50000+i))
		at := time.Duration(i) * 5 * ms
		isn := uint32(77 + i)
		if i == 150 || i == 250 { // answered at last
			add(at, c, dark, packet.SYN, isn, 0)
			add(at+2500*ms, dark, c, packet.SYN|packet.ACK, 5000, isn+1)
			add(at+2501*ms, c, dark, packet.ACK, isn+1, 5001)
			add(at+2600*ms, c, dark, packet.FIN|packet.ACK, isn+1, 5001)
			add(at+2601*ms, dark, c, packet.FIN|packet.ACK, 5001, isn+2)
			add(at+2602*ms, c, dark, packet.ACK, isn+2, 5002)
			continue
		}
		for _, d := range []time.Duration{0, time.Second, 3 * time.Second} {
			add(at+d, c, dark, packet.SYN, isn, 0)
		}
	}
	scanner := netip.MustParseAddr("10.0.9.9")
	for i := range 600 {
		dst := netip.AddrPortFrom(netip.AddrFrom4([4]byte{10, 1, byte(i / 2 >> 8), byte(i / 2)}), []uint16{22, 3389}[i%2])
		add(200*ms+time.Duration(i)*5*ms, netip.AddrPortFrom(scanner, uint16(40000+i)), dst, packet.SYN, uint32(i)*7919, 0)
	}
	cookies := netip.MustParseAddrPort("10.0.0.82:8443")
	for i := range 400 {
		src := netip.AddrPortFrom(netip.AddrFrom4([4]byte{198, 19, byte(i >> 8), byte(i)}), uint16(2000+i))
		at := 500*ms + time.Duration(i)*5*ms
		isn, cookie := uint32(i)*104729+1, uint32(i)*7+3
		add(at, src, cookies, packet.SYN, isn, 0)
		add(at+ms, cookies, src, packet.SYN|packet.ACK, cookie, isn+1)
		switch i {
		case 300: // a server that keeps state sends its SYN-ACK again
			add(at+1001*ms, cookies, src, packet.SYN|packet.ACK, cookie, isn+1)
			add(at+3001*ms, cookies, src, packet.SYN|packet.ACK, cookie, isn+1)
		case 200: // a client after all
			add(at+2001*ms, src, cookies, packet.ACK, isn+1, cookie+1)
		}
	}
	return lonePcap(pkts)
}

// lonePkt is one IPv4 TCP packet without payload, at a moment after t0.
type lonePkt struct {
	at       time.Duration
	src, dst netip.AddrPort
	flags    packet.Flags
	seq, ack uint32
}

// lonePcap writes the packets, in time order, as a pcap file.
func lonePcap(pkts []lonePkt) []byte {
	var buf bytes.Buffer
	w := pcapgo.NewWriterNanos(&buf)
	w.WriteFileHeader(65535, layers.LinkTypeEthernet)
	slices.SortStableFunc(pkts, func(a, b lonePkt) int { return int(a.at - b.at) })
	frame := make([]byte, 14+20+20)
	for _, p := range pkts {
		binary.BigEndian.PutUint16(frame[12:], 0x0800)
		ip := frame[14:]
		ip[0], ip[8], ip[9] = 0x45, 64, 6
		binary.BigEndian.PutUint16(ip[2:], 40)
		s4, d4 := p.src.Addr().As4(), p.dst.Addr().As4()
		copy(ip[12:], s4[:])
		copy(ip[16:], d4[:])
		tcp := ip[20:]
		binary.BigEndian.PutUint16(tcp[0:], p.src.Port())
		binary.BigEndian.PutUint16(tcp[2:], p.dst.Port())
		binary.BigEndian.PutUint32(tcp[4:], p.seq)
		binary.BigEndian.PutUint32(tcp[8:], p.ack)
		tcp[12], tcp[13] = 5<<4, byte(p.flags)
		binary.BigEndian.PutUint16(tcp[14:], 64240)
		w.WritePacket(gopacket.CaptureInfo{Timestamp: t0.Add(p.at), CaptureLength: len(frame), Length: len(frame)}, frame)
	}
	return buf.Bytes()
}

const floodFile = "../testdata/flood/syn-flood.pcap"

// TestFloodCapture holds the committed capture to its generator.
func TestFloodCapture(t *testing.T) {
	b := floodCapture()
	if *update {
		if err := os.WriteFile(floodFile, b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if old, err := os.ReadFile(floodFile); err != nil || !bytes.Equal(old, b) {
		t.Fatalf("%s differs from its generator (err %v): go test ./flow -run TestFloodCapture -update", floodFile, err)
	}
}

// TestFoldLoneSYNs: SYNs nothing answers are folded into their server
// endpoint's aggregate once it has left many unanswered, and counted
// exactly; which are folded does not depend on the number of trackers.
func TestFoldLoneSYNs(t *testing.T) {
	read := func(trackers int, at time.Time) *Result {
		s, err := capture.NewSource("syn-flood.pcap", bytes.NewReader(floodCapture()))
		if err != nil {
			t.Fatal(err)
		}
		res, err := Read(t.Context(), []*capture.Source{s}, ReadOptions{Trackers: trackers, Config: Config{At: at}})
		if err != nil {
			t.Fatal(err)
		}
		return res
	}
	one := read(1, time.Time{})
	web, dark := netip.MustParseAddrPort("10.0.0.80:80"), netip.MustParseAddrPort("10.0.0.81:443")
	agg := map[netip.AddrPort]Aggregate{}
	for _, a := range one.Aggregates {
		agg[a.Server] = a
	}
	var scan Aggregate
	for _, a := range one.Aggregates {
		if a.Client.IsValid() {
			scan = a
		}
	}
	var half Aggregate
	for _, a := range one.Aggregates {
		if a.HalfOpen {
			half = a
		}
	}
	// The flood answered with cookies: its first SYNs are flows, the
	// rest folded half-open; the SYN-ACK sent again and the client that
	// went on are counted as such.
	halfKept := 0
	for _, r := range one.Flows {
		if r.Key.Server() == half.Server {
			halfKept++
		}
	}
	if half.Server != netip.MustParseAddrPort("10.0.0.82:8443") || halfKept+half.Connections != 400 || half.AnsweredLate != 1 ||
		half.SYNACKs != half.Connections+2 || half.ServerRetried != 1 || half.SYNs != half.Connections || half.Retried != 0 {
		t.Errorf("half-open: %d flows + %+v; want 400 in all, the client that went on answered late, one SYN-ACK sent twice more", halfKept, half)
	}
	// Those folded, then answered (or acknowledged) after all, are
	// whole flows: their handshakes replayed from the start.
	for _, r := range one.Flows {
		switch r.Key.Client().Port() {
		case 50150, 50250, 2200:
			if !strings.HasPrefix(r.History, "ShA") || r.Midstream || r.Client.State != Closed && r.Client.State != Established && r.Client.State != TimeWait {
				t.Errorf("flow %s, answered late: history %q, midstream %v, %s/%s; want the whole handshake", r.Key, r.History, r.Midstream, r.Client.State, r.Server.State)
			}
		}
	}
	if len(agg) != 4 || scan.Client != netip.MustParseAddr("10.0.9.9") {
		t.Fatalf("aggregates %+v; want one for each of %s and %s, and one for the scanner", one.Aggregates, web, dark)
	}
	// The scan: its first hundred or so SYNs are flows, the rest are
	// folded by the scanner's address, each to an endpoint of its own.
	scanKept := 0
	for _, r := range one.Flows {
		if r.Key.Client().Addr() == scan.Client {
			scanKept++
		}
	}
	if scanKept+scan.Connections != 600 || scanKept < foldAfter/2 || scanKept > 2*foldAfter || !scan.PeersEstimated ||
		scan.Peers < scan.Connections*9/10 || scan.Peers > scan.Connections*11/10 || !scan.Examples[0].Server.IsValid() {
		t.Errorf("scan: %d flows, %d folded to %d endpoints (estimated %v), examples %v; want 600 in all, about 100 flows, the endpoints of the folded",
			scanKept, scan.Connections, scan.Peers, scan.PeersEstimated, scan.Examples)
	}
	kept := map[netip.AddrPort]int{}
	synsKept := map[netip.AddrPort]int{}
	for _, r := range one.Flows {
		if r.Server.Packets == 0 {
			kept[r.Key.Server()]++
			synsKept[r.Key.Server()] += int(r.Client.Packets)
		}
	}
	// Every lone SYN connection is a flow or folded, never both.
	if w := agg[web]; kept[web]+w.Connections != 1500 || synsKept[web]+w.SYNs != 1500 {
		t.Errorf("%s: %d flows + %d folded (%d SYNs); want 1500 connections and SYNs in all", web, kept[web], w.Connections, w.SYNs)
	}
	if d := agg[dark]; kept[dark]+d.Connections != 398 || synsKept[dark]+d.SYNs != 3*398 || d.AnsweredLate != 2 {
		t.Errorf("%s: %d flows + %d folded (%d SYNs, %d answered late); want 398 connections, 1194 SYNs, 2 answered late",
			dark, kept[dark], d.Connections, d.SYNs, d.AnsweredLate)
	}
	// The first hundred or so are flows: the report shows them whole.
	for _, s := range []netip.AddrPort{web, dark} {
		if kept[s] < foldAfter/3 || kept[s] > 2*foldAfter {
			t.Errorf("%s: %d lone SYNs kept as flows; want about %d", s, kept[s], foldAfter)
		}
	}
	w, d := agg[web], agg[dark]
	// The flood's sources are too many to count exactly, the 4 real
	// clients are not; their retries are counted, the flood has none.
	if !w.PeersEstimated || w.Peers < w.Connections*9/10 || w.Peers > w.Connections*11/10 || w.Retried != 0 {
		t.Errorf("%s: %d client hosts (estimated %v), %d retried; want about %d estimated, none retried", web, w.Peers, w.PeersEstimated, w.Retried, w.Connections)
	}
	if d.PeersEstimated || d.Peers != 4 || len(d.TopPeers) != 4 || d.Retried != d.Connections {
		t.Errorf("%s: %d client hosts (estimated %v), top %v, %d of %d retried; want 4 exactly, all retried", dark, d.Peers, d.PeersEstimated, d.TopPeers, d.Retried, d.Connections)
	}
	// The flood's last second is in progress at the end; its clients
	// silent for 1.25 times the next backoff (3.75 s after a single SYN;
	// folded, from the end of the second it was sent in) have given up:
	// none at the end, those of its first second when judged at 6 s. The
	// dark endpoint's retried at 1 s and 3 s (next at 7 s): none has.
	silent := func(end time.Time) int {
		n := 0
		for i := range 1500 {
			sent := t0.Add(1500*time.Millisecond + time.Duration(i)*2*time.Millisecond)
			if end.Sub(sent.Truncate(time.Second).Add(time.Second)) > 3750*time.Millisecond {
				n++
			}
		}
		return n
	}
	if w.InProgress < 200 || w.InProgress > 300 || w.GaveUp != silent(one.End) || d.InProgress != 0 || d.GaveUp != 0 {
		t.Errorf("%s: %d in progress, %d gave up; %s: %d, %d; want about 250 in progress (the last second's), %d given up, and none of the other's",
			web, w.InProgress, w.GaveUp, dark, d.InProgress, d.GaveUp, silent(one.End))
	}
	// (The first SYNs are flows, not folded: the earliest.)
	at6 := t0.Add(6 * time.Second)
	for _, a := range read(1, at6).Aggregates {
		if want := silent(at6) - kept[web]; a.Server == web && (want <= 0 || a.GaveUp != want || a.InProgress != 0) {
			t.Errorf("%s judged at 6 s: %d folded gave up, %d in progress; want %d (more than none) and none", web, a.GaveUp, a.InProgress, want)
		}
	}
	// Judged 12 s after the start, every client has given up.
	for _, a := range read(2, t0.Add(12*time.Second)).Aggregates {
		if a.InProgress != 0 || a.GaveUp != a.Connections && !a.HalfOpen {
			t.Errorf("at 12 s, %s: %d in progress, %d of %d gave up; want none, all", a.Server, a.InProgress, a.GaveUp, a.Connections)
		}
	}
	// Examples lead to packets of the capture: the first and the last.
	if len(w.Examples) != 2*maxExamples || w.Examples[0].Packet == 0 || w.Examples[0].At > w.Examples[len(w.Examples)-1].At {
		t.Errorf("%s: examples %+v", web, w.Examples)
	}
	// The same with three trackers.
	three := read(3, time.Time{})
	if !slices.EqualFunc(one.Flows, three.Flows, func(a, b *Record) bool { return a.Key == b.Key && a.History == b.History && a.ID == b.ID }) {
		t.Errorf("flows differ between one tracker (%d) and three (%d)", len(one.Flows), len(three.Flows))
	}
	strip := func(as []Aggregate) []Aggregate {
		out := slices.Clone(as)
		for i := range out {
			out[i].TopPeers = slices.Clone(out[i].TopPeers)
		}
		return out
	}
	a1, a3 := strip(one.Aggregates), strip(three.Aggregates)
	if !slices.EqualFunc(a1, a3, func(x, y Aggregate) bool {
		return x.Server == y.Server && x.Connections == y.Connections && x.SYNs == y.SYNs && x.Retried == y.Retried &&
			x.InProgress == y.InProgress && x.GaveUp == y.GaveUp && x.AnsweredLate == y.AnsweredLate &&
			x.Peers == y.Peers && slices.Equal(x.Examples, y.Examples) && slices.Equal(x.TopPeers, y.TopPeers)
	}) {
		t.Errorf("aggregates differ between one tracker and three:\n%+v\n%+v", a1, a3)
	}
}

// TestSweepEmbryosSentAgain: a sweep that finds every embryo's first SYN
// old and its last young (all sent again) puts them back for a later
// sweep, and ends. (It used to go round them again and again, growing
// its queue until memory ran out.)
func TestSweepEmbryosSentAgain(t *testing.T) {
	server := netip.MustParseAddrPort("10.0.0.80:80")
	done := make(chan []Aggregate)
	go func() {
		tr := NewTracker(Config{})
		n := uint32(0)
		add := func(at time.Duration, i int) {
			n++
			src := netip.AddrPortFrom(netip.AddrFrom4([4]byte{198, 18, byte(i >> 8), byte(i)}), 1024)
			seg := packet.Segment{Src: src, Dst: server, Seq: uint32(i) * 7, Flags: packet.SYN, Window: 1000, WScale: -1, IPLen: 40}
			tr.Add(&seg, Meta{At: TS(t0.Add(at)), Packet: n, Order: uint64(n), WireLen: 54})
		}
		for i := range 3000 {
			add(time.Duration(i)*time.Microsecond, i)
		}
		for i := range 3000 {
			add(900*time.Millisecond+time.Duration(i)*100*time.Microsecond, i)
		}
		_, _ = tr.Finish()
		done <- []Aggregate{tr.aggs[0].settled()}
	}()
	select {
	case as := <-done:
		a := as[0]
		if a.Connections+foldAfter < 3000 || a.Retried != a.Connections {
			t.Errorf("%+v; want about 2,900 connections folded, each sent twice", a)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("the tracker did not finish in 20 s")
	}
}

// TestFoldingKeepsCount runs captures of random handshakes past servers
// whose SYNs pile up (a flood on each, so that folding is on), and holds
// the pass to what folding must not change, whatever becomes of each
// connection: every connection is a flow or counted once in an
// aggregate; every packet is in a flow or in an aggregate's counts; and
// one, two or three trackers give the same flows and counts.
func TestFoldingKeepsCount(t *testing.T) {
	late, half, refused := 0, 0, 0
	defer func() {
		if !t.Failed() && (late == 0 || half == 0 || refused == 0) {
			t.Errorf("%d connections answered late, %d half-open and %d refused aggregates: the test does not test them", late, half, refused)
		}
	}()
	for seed := range uint64(6) {
		rng := rand.New(rand.NewPCG(seed, 7))
		var pkts []lonePkt
		add := func(at time.Duration, src, dst netip.AddrPort, f packet.Flags, seq, ack uint32) {
			pkts = append(pkts, lonePkt{at, src, dst, f, seq, ack})
		}
		servers := []netip.AddrPort{netip.MustParseAddrPort("10.0.0.80:80"), netip.MustParseAddrPort("10.0.0.81:443")}
		closed := netip.MustParseAddrPort("10.0.0.82:5432")
		ms := time.Millisecond
		conns := 0
		for i := range 1500 {
			conns++
			srv := servers[i%2]
			cli := netip.AddrPortFrom(netip.AddrFrom4([4]byte{172, 16, byte(i >> 8), byte(i)}), uint16(1024+rng.IntN(60000)))
			at := time.Duration(rng.IntN(4000)) * ms
			isn, sisn := rng.Uint32(), rng.Uint32()
			k := rng.IntN(10)
			if k == 7 {
				srv = closed // nothing listens: it refuses them all
			}
			add(at, cli, srv, packet.SYN, isn, 0)
			// What becomes of it: unanswered (and sent again, or not),
			// answered late, half-open, refused, or a whole connection.
			switch {
			case k < 3:
				for _, d := range []time.Duration{time.Second, 3 * time.Second}[:rng.IntN(3)] {
					add(at+d, cli, srv, packet.SYN, isn, 0)
				}
			case k < 5:
				late := time.Duration(200+rng.IntN(4000)) * ms
				add(at+late, srv, cli, packet.SYN|packet.ACK, sisn, isn+1)
				if rng.IntN(2) == 0 {
					add(at+late+ms, cli, srv, packet.ACK, isn+1, sisn+1)
				}
			case k < 7:
				add(at+ms, srv, cli, packet.SYN|packet.ACK, sisn, isn+1)
				if d := time.Duration(rng.IntN(5000)) * ms; rng.IntN(2) == 0 {
					add(at+ms+d, cli, srv, packet.ACK, isn+1, sisn+1)
				}
				if rng.IntN(4) == 0 {
					add(at+1001*ms, srv, cli, packet.SYN|packet.ACK, sisn, isn+1)
				}
			case k < 8:
				add(at+ms, srv, cli, packet.RST|packet.ACK, 0, isn+1)
				if rng.IntN(3) == 0 { // the client's own RST after (masscan)
					add(at+2*ms, cli, srv, packet.RST, isn+1, 0)
				}
				if rng.IntN(4) == 0 { // refused, and tried again
					add(at+time.Second, cli, srv, packet.SYN, isn, 0)
					add(at+time.Second+ms, srv, cli, packet.RST|packet.ACK, 0, isn+1)
				}
			default:
				add(at+ms, srv, cli, packet.SYN|packet.ACK, sisn, isn+1)
				add(at+2*ms, cli, srv, packet.ACK, isn+1, sisn+1)
				add(at+50*ms, cli, srv, packet.FIN|packet.ACK, isn+1, sisn+1)
				add(at+51*ms, srv, cli, packet.FIN|packet.ACK, sisn+1, isn+2)
				add(at+52*ms, cli, srv, packet.ACK, isn+2, sisn+2)
			}
		}
		data := lonePcap(pkts)
		var first *Result
		for trackers := 1; trackers <= 3; trackers++ {
			s, err := capture.NewSource("random.pcap", bytes.NewReader(data))
			if err != nil {
				t.Fatal(err)
			}
			res, err := Read(t.Context(), []*capture.Source{s}, ReadOptions{Trackers: trackers})
			if err != nil {
				t.Fatal(err)
			}
			folded, counted := 0, 0
			for _, a := range res.Aggregates {
				folded += a.Connections
				counted += a.SYNs + a.SYNACKs + a.RSTs
				late += a.AnsweredLate
				if a.HalfOpen {
					half++
				}
				if a.Refused {
					refused++
				}
			}
			inFlows := 0
			for _, r := range res.Flows {
				inFlows += int(r.Client.Packets + r.Server.Packets)
			}
			if len(res.Flows)+folded != conns || inFlows+counted != len(pkts) {
				t.Fatalf("seed %d, %d trackers: %d flows + %d folded of %d connections; %d packets in flows + %d counted of %d",
					seed, trackers, len(res.Flows), folded, conns, inFlows, counted, len(pkts))
			}
			if folded == 0 {
				t.Fatalf("seed %d: nothing folded: the test does not test folding", seed)
			}
			if first == nil {
				first = res
				continue
			}
			if !slices.EqualFunc(first.Flows, res.Flows, func(a, b *Record) bool {
				return a.Key == b.Key && a.History == b.History && a.Client.State == b.Client.State && a.Server.State == b.Server.State
			}) || !slices.EqualFunc(first.Aggregates, res.Aggregates, func(a, b Aggregate) bool {
				return a.Server == b.Server && a.Connections == b.Connections && a.SYNs == b.SYNs && a.SYNACKs == b.SYNACKs && a.AnsweredLate == b.AnsweredLate
			}) {
				t.Errorf("seed %d: %d trackers do not give what one does", seed, trackers)
			}
		}
	}
}

// TestEmbryoSlabShrinks: a burst of SYNs answered late leaves the
// embryos' slab mostly free; it shrinks, and every connection still
// comes out whole, answered after all.
func TestEmbryoSlabShrinks(t *testing.T) {
	server := netip.MustParseAddrPort("10.0.0.80:80")
	tr := NewTracker(Config{})
	n := uint32(0)
	add := func(at time.Duration, src, dst netip.AddrPort, f packet.Flags, seq, ack uint32) {
		n++
		seg := packet.Segment{Src: src, Dst: dst, Seq: seq, Ack: ack, Flags: f, Window: 1000, WScale: -1, IPLen: 40}
		tr.Add(&seg, Meta{At: TS(t0.Add(at)), Packet: n, Order: uint64(n), WireLen: 54})
	}
	const conns = 8000
	client := func(i int) netip.AddrPort {
		return netip.AddrPortFrom(netip.AddrFrom4([4]byte{172, 16, byte(i >> 8), byte(i)}), 40000)
	}
	for i := range conns {
		add(time.Duration(i)*100*time.Microsecond, client(i), server, packet.SYN, uint32(i)*9, 0)
	}
	peak := int(tr.lone.size)
	// Answered after the initial RTO: folded by then, and taken back out.
	for i := range conns {
		at := 3*time.Second + time.Duration(i)*100*time.Microsecond
		add(at, server, client(i), packet.SYN|packet.ACK, uint32(i)*5, uint32(i)*9+1)
		add(at+time.Millisecond, client(i), server, packet.ACK, uint32(i)*9+1, uint32(i)*5+1)
	}
	for i := range 2048 { // another client's packets, past the next sweeps
		add(6*time.Second+time.Duration(i)*time.Millisecond, client(conns), server, packet.ACK, 1, 1)
	}
	if left := int(tr.lone.size); peak < conns/2 || left*4 > peak {
		t.Errorf("the slab held %d embryos at the burst and %d after: it did not shrink", peak, left)
	}
	recs, _ := tr.Finish()
	established := 0
	for _, r := range recs {
		if r.Client.State == Established && r.Server.State == Established && r.Client.Packets == 2 {
			established++
		}
	}
	if established != conns || len(tr.aggs) != 0 && tr.aggs[0].Connections != 0 {
		t.Errorf("%d of %d connections whole and established; aggregates %+v", established, conns, tr.aggs)
	}
}

// TestBucketsSettleAsTheyGo: a flood of hours keeps no bucket per second
// of it: the buckets of clients that gave up are counted as the pass goes,
// and the aggregate ends as it would have, late SYNs of clients counted as
// given up included.
func TestBucketsSettleAsTheyGo(t *testing.T) {
	server := netip.MustParseAddrPort("10.0.0.2:80")
	type syn struct {
		at  time.Duration
		src netip.AddrPort
		isn uint32
	}
	var syns []syn
	hours, perSecond := 2, 20
	if raceOn {
		hours = 1
	}
	for i := range hours * 3600 * perSecond {
		at := time.Duration(i) * time.Second / time.Duration(perSecond)
		src := netip.AddrPortFrom(netip.AddrFrom4([4]byte{198, 18, byte(i >> 8), byte(i)}), uint16(1024+i%60000))
		syns = append(syns, syn{at, src, uint32(i)}, syn{at + time.Second, src, uint32(i)}, syn{at + 3*time.Second, src, uint32(i)})
		if i%10 == 0 {
			syns = append(syns, syn{at + 40*time.Second, src, uint32(i)}) // long after it gave up
		}
	}
	slices.SortStableFunc(syns, func(a, b syn) int { return int(a.at - b.at) })
	run := func(every time.Duration) (Aggregate, int) {
		old := settleEvery
		settleEvery = every
		defer func() { settleEvery = old }()
		tr := NewTracker(Config{})
		most := 0
		for n, s := range syns {
			seg := packet.Segment{Src: s.src, Dst: server, Seq: s.isn, Flags: packet.SYN, Window: 500, WScale: -1, IPLen: 40}
			tr.Add(&seg, Meta{At: TS(t0.Add(s.at)), Packet: uint32(n + 1), Order: uint64(n + 1), WireLen: 54})
			if n%5000 == 0 {
				for i := range tr.lone.aggs {
					most = max(most, len(tr.lone.aggs[i].buckets))
				}
			}
		}
		tr.Finish()
		if len(tr.aggs) != 1 {
			t.Fatalf("%d aggregates, want the server's", len(tr.aggs))
		}
		return tr.aggs[0].settled(), most
	}
	want, keptAll := run(1000 * time.Hour)
	got, kept := run(10 * time.Second)
	t.Logf("%d connections, %d gave up; buckets at most %d settled as the pass goes, %d otherwise", got.Connections, got.GaveUp, kept, keptAll)
	if keptAll < 1000 || want.GaveUp == 0 {
		t.Fatalf("%d buckets at most, %d gave up: the test does not exercise settling", keptAll, want.GaveUp)
	}
	if kept > 200 {
		t.Errorf("%d buckets kept while settling as the pass goes", kept)
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("settled as the pass goes:\n%+v\nat the end only:\n%+v", got, want)
	}
}
