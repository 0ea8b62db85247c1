package flow

import (
	"fmt"
	"math/rand/v2"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/flowdoc/flowdoc/flow/packet"
)

// chaosSegs makes n random segments on a few tuples: handshakes (or
// not), data, FINs, RSTs, retransmissions, keep-alives, zero windows,
// long silences (the table lets connections go, and takes them up
// again) and port reuse.
func chaosSegs(seed uint64, n, tuples int) ([]packet.Segment, []Meta) {
	rng := rand.New(rand.NewPCG(seed, seed^0x9e37))
	type side struct{ seq uint32 }
	type tup struct {
		c, s netip.AddrPort
		cs   side
		ss   side
	}
	ts := make([]tup, tuples)
	for i := range ts {
		c := netip.AddrPortFrom(netip.AddrFrom4([4]byte{10, 0, byte(i >> 8), byte(i)}), uint16(40000+i%3))
		s := netip.AddrPortFrom(netip.AddrFrom4([4]byte{10, 9, 0, byte(i % 5)}), 80)
		if i%7 == 3 {
			c = netip.AddrPortFrom(netip.MustParseAddr(fmt.Sprintf("2001:db8::%x", i+1)), uint16(40000+i%3))
			s = netip.AddrPortFrom(netip.MustParseAddr("2001:db8::ffff"), 443)
		}
		ts[i] = tup{c: c, s: s, cs: side{rng.Uint32()}, ss: side{rng.Uint32()}}
	}
	var segs []packet.Segment
	var metas []Meta
	at := t0
	body := []byte("GET / HTTP/1.1\r\nHost: x\r\n\r\n")
	resp := []byte("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")
	for len(segs) < n {
		switch r := rng.IntN(1000); {
		case r < 3:
			at = at.Add(time.Duration(6+rng.IntN(20)) * time.Second) // a long silence
		case r < 30:
			at = at.Add(time.Duration(rng.IntN(2000)) * time.Millisecond)
		default:
			at = at.Add(time.Duration(rng.IntN(3000)) * time.Microsecond)
		}
		i := rng.IntN(tuples)
		tp := &ts[i]
		fromC := rng.IntN(2) == 0
		src, dst := tp.c, tp.s
		me, peer := &tp.cs, &tp.ss
		if !fromC {
			src, dst = dst, src
			me, peer = peer, me
		}
		seg := packet.Segment{Src: src, Dst: dst, Seq: me.seq, Ack: peer.seq, Window: 500, WScale: -1, IPLen: 40}
		switch k := rng.IntN(40); {
		case k < 3: // a SYN (a new connection when the ISN is new)
			if rng.IntN(3) == 0 {
				me.seq = rng.Uint32()
			}
			seg.Seq, seg.Ack, seg.Flags = me.seq, 0, packet.SYN
			seg.MSS, seg.WScale = 1460, int8(rng.IntN(8))
			if rng.IntN(2) == 0 {
				me.seq++
			}
		case k < 5: // a SYN-ACK
			seg.Seq, seg.Flags = me.seq, packet.SYN|packet.ACK
			seg.MSS, seg.WScale = 1400, int8(rng.IntN(8))
			if rng.IntN(2) == 0 {
				me.seq++
			}
		case k < 7:
			seg.Flags = packet.FIN | packet.ACK
			me.seq++
		case k < 8:
			seg.Flags = packet.RST | packet.ACK
		case k < 9:
			seg.Flags = packet.RST
		case k < 11: // a keep-alive
			seg.Seq, seg.Flags = me.seq-1, packet.ACK
		case k < 13: // a zero window
			seg.Flags, seg.Window = packet.ACK, 0
		case k < 16: // data sent again
			seg.Seq, seg.Flags, seg.Len = me.seq-10, packet.PSH|packet.ACK, 10
			seg.Payload = make([]byte, 10)
		case k < 26: // data
			p := body
			if !fromC {
				p = resp
			}
			seg.Flags, seg.Len, seg.Payload = packet.PSH|packet.ACK, len(p), p
			me.seq += uint32(len(p))
		default:
			seg.Flags = packet.ACK
		}
		seg.IPLen += seg.Len
		segs = append(segs, seg)
		metas = append(metas, Meta{At: TS(at), Packet: uint32(len(segs)), WireLen: uint32(54 + seg.Len), Order: uint64(len(segs))})
	}
	return segs, metas
}

// dumpRecords prints every field of the records that a report shows.
func dumpRecords(recs []*Record) string { return dumpRecordsWith(recs, true) }

func dumpRecordsWith(recs []*Record, withPayload bool) string {
	var b strings.Builder
	for _, r := range recs {
		cp := *r
		ka := ""
		if cp.KeepAlive != nil {
			ka = fmt.Sprintf("%+v", *cp.KeepAlive)
		}
		p := cp.Payload()
		if !withPayload {
			p = nil
		}
		ps := ""
		if p != nil {
			q := *p
			q.HTTP, q.TLS = nil, nil
			ps = fmt.Sprintf("%+v", q)
			if p.HTTP != nil {
				ps += fmt.Sprintf(" http=%+v", *p.HTTP)
			}
			if p.TLS != nil {
				ps += fmt.Sprintf(" tls=%+v", *p.TLS)
			}
		}
		cp.KeepAlive, cp.stream, cp.packed = nil, nil, ""
		cp.set(recHeld|recClientA, false)
		fmt.Fprintf(&b, "%s ka=%s payload=%s\n  %+v\n", cp.Key, ka, ps, cp)
	}
	return b.String()
}

// snapshotAsFinish is what Read makes of a tracker's snapshot.
func snapshotAsFinish(tr *Tracker) []*Record {
	recs := tr.snapshot()
	for _, r := range recs {
		tr.finalize(r, tr.last)
	}
	numbered(recs)
	inferRoles(recs)
	return recs
}

// TestSnapshotAsFinish: a snapshot taken in the middle of random
// traffic is what Finish gives for the packets before it, and the pass
// ends as if no snapshot had been taken.
func TestSnapshotAsFinish(t *testing.T) {
	seeds := uint64(8)
	if raceOn {
		seeds = 1
	}
	for seed := uint64(1); seed <= seeds; seed++ {
		for _, tuples := range []int{3, 40} {
			segs, metas := chaosSegs(seed, 4000, tuples)
			for _, cut := range []int{500, 1500, 2222, 3999} {
				for _, cfg := range []Config{{}, {AllEvents: true}} {
					whole := NewTracker(cfg)
					for i := range segs {
						whole.Add(&segs[i], metas[i])
					}
					wrecs, _ := whole.Finish()
					want := dumpRecords(wrecs)

					prefix := NewTracker(cfg)
					for i := range segs[:cut] {
						prefix.Add(&segs[i], metas[i])
					}
					precs, _ := prefix.Finish()

					tr := NewTracker(cfg)
					for i := range segs[:cut] {
						tr.Add(&segs[i], metas[i])
					}
					snap := dumpRecordsWith(snapshotAsFinish(tr), false)
					if p := dumpRecordsWith(precs, false); snap != p {
						t.Errorf("seed %d tuples %d cut %d allEvents %v: the snapshot differs from the prefix:\n%s", seed, tuples, cut, cfg.AllEvents, firstDiff(snap, p))
					}
					for i := cut; i < len(segs); i++ {
						tr.Add(&segs[i], metas[i])
					}
					recs, _ := tr.Finish()
					if got := dumpRecords(recs); got != want {
						t.Errorf("seed %d tuples %d cut %d allEvents %v: the pass with a snapshot ends differently:\n%s", seed, tuples, cut, cfg.AllEvents, firstDiff(got, want))
					}
				}
			}
		}
	}
}

func firstDiff(a, b string) string {
	la, lb := strings.Split(a, "\n"), strings.Split(b, "\n")
	for i := range min(len(la), len(lb)) {
		if la[i] != lb[i] {
			return fmt.Sprintf("line %d:\n got  %s\n want %s", i, la[i], lb[i])
		}
	}
	return fmt.Sprintf("%d lines, %d lines", len(la), len(lb))
}

// floodSegs mixes chaos with SYN floods and scans: bare SYNs to many
// endpoints, some answered, some refused, some late, some sent again.

// floodSegs mixes chaos with SYN floods and scans: bare SYNs to many
// endpoints, some answered, some refused, some late, some sent again.
func floodSegs(seed uint64, n int) ([]packet.Segment, []Meta) {
	rng := rand.New(rand.NewPCG(seed, 77))
	csegs, cmetas := chaosSegs(seed, n/4, 20)
	var segs []packet.Segment
	var ats []Timestamp
	ci := 0
	at := cmetas[0].At
	type pending struct {
		at  Timestamp
		seg packet.Segment
	}
	var later []pending
	for len(segs) < n {
		at += Timestamp(time.Duration(rng.IntN(4000)) * time.Microsecond)
		for len(later) > 0 && later[0].at <= at {
			segs, ats = append(segs, later[0].seg), append(ats, later[0].at)
			later = later[1:]
		}
		if ci < len(csegs) && cmetas[ci].At <= at {
			segs, ats = append(segs, csegs[ci]), append(ats, cmetas[ci].At)
			ci++
			continue
		}
		var src, dst netip.AddrPort
		switch rng.IntN(3) {
		case 0: // a scanner
			src = netip.AddrPortFrom(netip.MustParseAddr("10.7.7.7"), uint16(30000+rng.IntN(50)))
			dst = netip.AddrPortFrom(netip.AddrFrom4([4]byte{10, 8, byte(rng.IntN(4)), byte(rng.IntN(250))}), uint16(1+rng.IntN(2000)))
		case 1: // a flood
			src = netip.AddrPortFrom(netip.AddrFrom4([4]byte{198, 18, byte(rng.IntN(256)), byte(rng.IntN(256))}), uint16(1024+rng.IntN(60000)))
			dst = netip.MustParseAddrPort("10.0.0.80:80")
		default: // a closed port
			src = netip.AddrPortFrom(netip.AddrFrom4([4]byte{10, 1, 0, byte(rng.IntN(30))}), uint16(40000+rng.IntN(20000)))
			dst = netip.MustParseAddrPort("10.0.0.81:25")
		}
		isn := rng.Uint32()
		syn := packet.Segment{Src: src, Dst: dst, Seq: isn, Flags: packet.SYN, Window: 500, WScale: 7, MSS: 1460, IPLen: 60}
		segs, ats = append(segs, syn), append(ats, at)
		add := func(d time.Duration, s packet.Segment) {
			p := pending{at + Timestamp(d), s}
			i := len(later)
			for i > 0 && later[i-1].at > p.at {
				i--
			}
			later = append(later, pending{})
			copy(later[i+1:], later[i:])
			later[i] = p
		}
		ms := time.Millisecond
		switch r := rng.IntN(20); {
		case r < 6: // refused
			add(time.Duration(rng.IntN(1500))*ms, packet.Segment{Src: dst, Dst: src, Seq: 0, Ack: isn + 1, Flags: packet.RST | packet.ACK, IPLen: 40})
			if rng.IntN(4) == 0 { // sent again, refused again
				add(1100*ms, syn)
				add(1101*ms, packet.Segment{Src: dst, Dst: src, Seq: 0, Ack: isn + 1, Flags: packet.RST | packet.ACK, IPLen: 40})
			}
		case r < 9: // answered, maybe late, maybe completed
			d := time.Duration(rng.IntN(2500)) * ms
			add(d, packet.Segment{Src: dst, Dst: src, Seq: 777, Ack: isn + 1, Flags: packet.SYN | packet.ACK, Window: 500, WScale: 7, IPLen: 60})
			if rng.IntN(2) == 0 {
				add(d+ms, packet.Segment{Src: src, Dst: dst, Seq: isn + 1, Ack: 778, Flags: packet.ACK, Window: 500, IPLen: 40})
				add(d+2*ms, packet.Segment{Src: src, Dst: dst, Seq: isn + 1, Ack: 778, Flags: packet.RST | packet.ACK, IPLen: 40})
			}
		case r < 12: // sent again
			add(time.Second, syn)
			add(3*time.Second, syn)
		}
	}
	metas := make([]Meta, len(segs))
	for i := range segs {
		segs[i].WScale = max(segs[i].WScale, -1)
		if segs[i].Flags&packet.SYN == 0 && segs[i].WScale == 0 {
			segs[i].WScale = -1
		}
		metas[i] = Meta{At: ats[i], Packet: uint32(i + 1), WireLen: uint32(54 + segs[i].Len), Order: uint64(i + 1)}
	}
	return segs, metas
}

func dumpAggs(tr *Tracker) string {
	var b strings.Builder
	for _, a := range mergeAggregates([][]*aggregate{tr.aggs}) {
		fmt.Fprintf(&b, "agg %+v\n", a)
	}
	return b.String()
}
