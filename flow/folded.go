package flow

import (
	"net/netip"
	"time"

	"github.com/flowdoc/flowdoc/flow/packet"
)

// foldedFor is how long the tuple and ISN of a folded connection are
// remembered: they are kept in generations of capture time this long,
// the current one and the one before. Linux's sixth and last SYN goes
// 63 s after the first.
const foldedFor = 64 * time.Second

// foldedHash mixes a tuple's hash with a connection's ISN.
func foldedHash(h uint64, isn uint32) uint64 {
	x := (h ^ uint64(isn)) * 0x9e3779b97f4a7c15
	return x ^ x>>29
}

// A folded connection's entry in lone.folded: its aggregate's index+1,
// its SYNs (at most 15 are told), and its bucket.
const (
	bucketMask = 1<<36 - 1
	synsShift  = 36
	aggShift   = 40
)

// halfCounts packs a half-open connection's SYNs and SYN-ACKs (255 at
// most each) in an entry's bucket, which a half-open one has no use for:
// Linux sends its SYN-ACK 6 times, its SYN 7.
func halfCounts(syns, acks int) uint64 { return uint64(min(syns, 255)) | uint64(min(acks, 255))<<8 }

// halfCountsOf unpacks what halfCounts packed in entry v.
func halfCountsOf(v uint64) (syns, acks int) { return int(v & 0xff), int(v >> 8 & 0xff) }

func foldedEntry(agg int32, syns uint8, bucket uint64) uint64 {
	return uint64(agg+1)<<aggShift | uint64(min(syns, 15))<<synsShift | bucket
}

// foldedCap bounds each generation of the set of folded connections
// (per tracker): past it, the older generation is forgotten early. A
// flood of more than that many SYNs a minute from clients that send them
// again may then count a late retransmission as a connection of its own;
// spoofed sources send none.
const foldedCap = 1 << 17

// remember puts a folded connection's entry in the set.
func (l *lone) remember(fh, entry uint64) {
	if l.folded[0].n >= foldedCap {
		l.rotate()
	}
	l.folded[0].set(fh, entry)
	if l.filter == nil {
		l.filter = make([]uint64, filterBits/64)
	}
	b := fh >> (64 - filterLog)
	l.filter[b/64] |= 1 << (b % 64)
}

// filterLog is the size of lone.filter, in bits, as a power of two:
// 128 KiB, which a core's cache holds, for at most 2*foldedCap entries.
const (
	filterLog  = 20
	filterBits = 1 << filterLog
)

// mayHold reports whether fh may be in the set of folded connections: a
// packet of a flood on a tuple never seen is told so from the filter,
// not from two lookups in tables of megabytes.
func (l *lone) mayHold(fh uint64) bool {
	if l.filter == nil {
		return false
	}
	b := fh >> (64 - filterLog)
	return l.filter[b/64]&(1<<(b%64)) != 0
}

// refilter makes the filter anew from the generations of the set, once
// one is forgotten.
func (l *lone) refilter() {
	if l.filter == nil {
		return
	}
	clear(l.filter)
	for g := range l.folded {
		for _, s := range l.folded[g].slots {
			if s.v != 0 {
				b := s.h >> (64 - filterLog)
				l.filter[b/64] |= 1 << (b % 64)
			}
		}
	}
}

// renew makes the generation of time at the current one of the set of
// folded connections: by capture time alone, so that what is remembered
// does not depend on when sweeps ran.
func (l *lone) renew(at Timestamp) {
	g := int64(at)/int64(foldedFor) + 1
	switch {
	case g <= l.foldedGen:
	case g == l.foldedGen+1:
		l.rotate()
	default:
		l.folded[1].empty()
		l.folded[0].empty()
		l.refilter()
	}
	l.foldedGen = max(l.foldedGen, g)
}

// rotate forgets the older generation of the set of folded connections
// and begins a new one in its table, emptied, or in one as large as the
// current one's: a flood fills each generation as far as the one
// before, and its table need not grow again slot by slot.
func (l *lone) rotate() {
	old := l.folded[1]
	if len(old.slots) < len(l.folded[0].slots) {
		old.slots = make([]hashSlot[uint64], len(l.folded[0].slots))
	} else {
		old.empty()
	}
	old.n = 0
	l.folded[1], l.folded[0] = l.folded[0], old
	l.refilter()
}

// lateForFolded counts a packet on a tuple with neither connection nor
// embryo that belongs to a folded connection: a SYN or SYN-ACK sent again
// (counted, and true: nothing more to do), the SYN-ACK that answers an
// unanswered one at last, or a half-open one's client going on (the
// connection leaves its aggregate; false: the packet starts a flow).
func (t *Tracker) lateForFolded(seg *packet.Segment, m Meta, h uint64) bool {
	l := &t.lone
	if l.foldedGen == 0 {
		return false
	}
	l.renew(m.At)
	f := seg.Flags & (packet.SYN | packet.ACK | packet.RST | packet.FIN)
	isn := seg.Seq - 1 // the client's first packet after the handshake
	switch f {
	case packet.SYN:
		isn = seg.Seq
	case packet.SYN | packet.ACK:
		isn = seg.Ack - 1
	}
	fh := foldedHash(h, isn)
	for g := range l.folded {
		if !l.mayHold(fh) {
			break
		}
		v := l.folded[g].get(fh)
		if v == 0 {
			continue
		}
		j := int32(v>>aggShift - 1)
		a := &l.aggs[j]
		b, n := v&bucketMask, int(v>>synsShift&15)
		switch {
		case a.HalfOpen:
			client := seg.Src.Addr()
			if f == packet.SYN|packet.ACK {
				client = seg.Dst.Addr()
			}
			if !a.lateHalfOpen(&l.folded[g], fh, j, f, v, m.At, client) {
				a.uncountPeer(a.peerOf(seg, false)) // a flow of its own from here
				return false
			}
			return true
		case a.Refused:
			return a.lateRefused(&l.folded[g], fh, j, f, n, m.At, seg.Src.Addr())
		}
		if f != packet.SYN && f != packet.SYN|packet.ACK {
			return false
		}
		if f == packet.SYN|packet.ACK {
			// Answered after all: a flow of its own from here.
			a.answeredLate(&l.folded[g], fh, v, a.peerOf(seg, true), seg.Dst.Addr())
			return false
		}
		a.bucket(b, -1)
		a.SYNs++
		if n == 1 {
			a.retry(seg.Src.Addr(), 1)
		}
		last := Timestamp(b>>5) * Timestamp(time.Second)
		nb := bucketOf(m.At, m.At.Sub(last), true)
		a.bucket(nb, 1)
		a.Last = max(a.Last, m.At)
		l.folded[g].set(fh, foldedEntry(j, uint8(min(n+1, 15)), nb))
		return true
	}
	if f == packet.RST|packet.ACK {
		// The server refusing a folded SYN sent again: what it
		// acknowledges is the client's ISN.
		fh := foldedHash(h, seg.Ack-1)
		for g := range l.folded {
			if !l.mayHold(fh) {
				break
			}
			v := l.folded[g].get(fh)
			if v == 0 {
				continue
			}
			j := int32(v>>aggShift - 1)
			switch a := &l.aggs[j]; {
			case a.Refused:
				return a.lateRefused(&l.folded[g], fh, j, f, int(v>>synsShift&15), m.At, seg.Dst.Addr())
			case a.HalfOpen:
				a.lateHalfOpen(&l.folded[g], fh, j, f, v, m.At, seg.Dst.Addr()) // takes it out
				a.uncountPeer(a.peerOf(seg, true))
			default:
				// Refused at last, long after it was folded unanswered:
				// a flow of its own from here, as one answered.
				a.answeredLate(&l.folded[g], fh, v, a.peerOf(seg, true), seg.Dst.Addr())
			}
			return false
		}
	}
	return false
}

// answeredLate takes a folded unanswered connection (entry v, at fh in
// set) back out of the aggregate: it was answered after all, and is a
// flow of its own from here. peer is as the aggregate counts them; client
// the connection's client.
func (a *aggregate) answeredLate(set *hashTable[uint64], fh, v uint64, peer netip.AddrPort, client netip.Addr) {
	n := int(v >> synsShift & 15)
	a.bucket(v&bucketMask, -1)
	set.del(fh)
	a.uncountPeer(peer)
	a.Connections--
	a.SYNs -= n
	if n > 1 {
		a.retry(client, -1)
	}
	a.AnsweredLate++
}

// lateRefused counts a packet of a folded refused connection (whose
// entry in set is at fh, with n SYNs): its SYN sent again, the RST that
// refuses it again, or the client's own RST after the refusal (a scanner
// with a TCP stack of its own, masscan, sends one) (true). Anything else
// starts a flow (false). client is the connection's client.
func (a *aggregate) lateRefused(set *hashTable[uint64], fh uint64, j int32, f packet.Flags, n int, at Timestamp, client netip.Addr) bool {
	switch f {
	case packet.SYN:
		a.SYNs++
		if n == 1 {
			a.retry(client, 1)
		}
		set.set(fh, foldedEntry(j, uint8(min(n+1, 15)), 0))
	case packet.RST | packet.ACK, packet.RST:
		a.RSTs++
	default:
		return false
	}
	a.Last = max(a.Last, at)
	return true
}

// lateHalfOpen counts a packet of a folded half-open connection (whose
// entry in set, v, is at fh, its SYNs and SYN-ACKs counted in it): a SYN
// or SYN-ACK sent again is counted (true); anything else from the client
// is the handshake going on after all, and the connection leaves the
// aggregate (false). client is the connection's client.
func (a *aggregate) lateHalfOpen(set *hashTable[uint64], fh uint64, j int32, f packet.Flags, v uint64, at Timestamp, client netip.Addr) bool {
	syns, acks := halfCountsOf(v)
	switch f {
	case packet.SYN:
		a.SYNs++
		if syns == 1 {
			a.retry(client, 1)
		}
		set.set(fh, foldedEntry(j, 0, halfCounts(syns+1, acks)))
	case packet.SYN | packet.ACK:
		a.SYNACKs++
		if acks == 1 {
			a.ServerRetried++
		}
		set.set(fh, foldedEntry(j, 0, halfCounts(syns, acks+1)))
	default:
		set.del(fh)
		a.Connections--
		a.SYNs -= syns
		a.SYNACKs -= acks
		if syns > 1 {
			a.retry(client, -1)
		}
		if acks > 1 {
			a.ServerRetried--
		}
		a.AnsweredLate++
		return false
	}
	a.Last = max(a.Last, at)
	return true
}
