package flow

import (
	"time"

	"github.com/flowdoc/flowdoc/flow/packet"
)

// A capture may hold a packet twice: tcpdump -i any records it on each
// interface it crosses (a container's veth, then the bridge), a switch's
// mirror port copies it from both ports it went through. Counted as it
// comes, each copy would be a retransmission, a SYN sent again (a slow
// connect), a SYN-ACK sent again after the ACK (a full accept queue).
// The copies are the same bytes from the IP header's identification
// on, within microseconds. A TCP stack's own segments sent twice are not
// copies: a retransmission comes after a timeout (Linux's tail loss
// probe waits two round trips and 2 ms more, its RTO 200 ms), a fast
// retransmission after the peer's duplicate ACKs, a round trip at least;
// and most differ anyway, by a new IPv4 identification or a new
// timestamp option. Some do not: IPv6 has no identification, some
// stacks send 0 (RFC 6864), timestamps tick by the millisecond, and
// duplicate ACKs and RSTs go out in bursts. So a packet again is a copy
// when the capture says it came from another interface or the other way
// through the host; or when its IPv4 identification tells datagrams
// apart; or else only when it carries data, a SYN or a FIN, within
// copyAtOnce.

// DupWindow is how soon after a packet its copy must come to be one.
const DupWindow = 2 * time.Millisecond

// copyAtOnce is how soon a copy must come when nothing but its bytes
// tells it from a segment sent again: less than any round trip but the
// loopback's, where nothing is lost to send again.
const copyAtOnce = 50 * time.Microsecond

// CrossWindow is how soon a copy in another input must come: the same traffic
// captured at two points (the client's host and the server's, read
// together) has its copies apart by the latency between the points and
// the offset of their clocks. A retransmission seen at both points is a
// copy at both: each is counted once, after the original.
const CrossWindow = time.Second

// recentBits sets how many of the last packets recent remembers (a
// tracker's, 48 KiB): a copy comes microseconds after the packet, a few
// packets later, and the table is read on every packet, so it is kept
// small enough to stay in the CPU's nearest caches.
const (
	recentBits  = 11
	recentSlots = 1 << recentBits
)

// recent remembers the signatures of the last packets, each in the slot
// its signature picks (a newer one takes its place): the top 48 bits of
// the signature and the input in the low 16, when, and where the packet
// was captured (interface and direction).
type recent struct {
	slots [recentSlots]struct {
		sig   uint64
		at    Timestamp
		where uint32
	}
}

// seen reports whether seg (whose signature is sig, in input) is a copy
// of a packet of the same input less than DupWindow before it (or after:
// captures are not always in time order; see above), and remembers it if
// not.
//
// late reports a packet that came again too late to be a copy of one
// host's capture (DupWindow to CrossWindow) on another interface, or with
// its IPv4 identification (a stack's resend has a new one): a capture of
// two points merged into one file.
func (r *recent) seen(sig uint64, seg *packet.Segment, at Timestamp, input uint16) (copied, late bool) {
	s := &r.slots[sig>>(64-recentBits)]
	sig = sig&^0xffff | uint64(input)
	where := seg.Iface<<2 | uint32(seg.Dir)
	if s.sig == sig {
		d := time.Duration(at - s.at).Abs()
		ipid := seg.IPID != 0 && seg.Src.Addr().Is4() // tells datagrams apart
		switch {
		case d >= DupWindow:
			late = d < CrossWindow && (seg.Iface != s.where>>2 || ipid)
		case where != s.where, ipid:
			return true, false
		case d < copyAtOnce && (seg.Len > 0 || seg.Flags&(packet.SYN|packet.FIN) != 0) && seg.Flags&packet.RST == 0:
			return true, false
		}
	}
	s.sig, s.at, s.where = sig, at, where
	return false, late
}

// crossCopies remembers the packets of the last CrossWindow when several
// inputs are read together, to tell those that another input holds
// too: a map by signature, and the signatures in the order they came, to
// forget them as capture time passes. It holds every packet of the window
// (at most maxCross, past which the oldest are forgotten early), so that
// what is a copy does not depend on how the packets fall to the trackers.
type crossCopies struct {
	last  map[uint64]crossSeen
	order fifo[crossAt] // in the order they came, refreshed ones again
}

type crossSeen struct {
	at    Timestamp
	input uint16
}

type crossAt struct {
	sig uint64
	at  Timestamp
}

// maxCross bounds a tracker's crossCopies: a second of 2 Mpackets/s read
// from two points at once, 64 MiB.
const maxCross = 1 << 20

// seen reports whether the packet whose signature is sig, in input, at,
// is a copy of another input's within CrossWindow, and remembers it if
// not.
func (x *crossCopies) seen(sig uint64, at Timestamp, input uint16) bool {
	if x.last == nil {
		x.last = map[uint64]crossSeen{}
	}
	// Forget what is older than the window, oldest first. A signature
	// seen again is in the order twice: only its latest place forgets it.
	for x.order.len() > 0 {
		old := x.order.peek()
		if at.Sub(old.at) < CrossWindow && x.order.len() < maxCross {
			break
		}
		if e, ok := x.last[old.sig]; ok && e.at == old.at {
			delete(x.last, old.sig)
		}
		x.order.pop()
	}
	if e, ok := x.last[sig]; ok && e.input != input && time.Duration(at-e.at).Abs() < CrossWindow {
		return true
	}
	x.order.push(crossAt{sig, at})
	x.last[sig] = crossSeen{at, input}
	return false
}

// dupSignature mixes what two copies of a packet share: h is mixed
// already; each multiplication takes in one more word, and spreads it to
// the top bits, which pick the slot.
func dupSignature(h uint64, srcA bool, seg *packet.Segment) uint64 {
	b := uint64(seg.IPID)<<48 | uint64(seg.Checksum)<<32 | uint64(seg.Window)<<16 | uint64(seg.Flags)<<8
	if srcA {
		b |= 1
	}
	x := (h ^ (uint64(seg.Seq)<<32 | uint64(seg.Ack))) * 0x9e3779b97f4a7c15
	x = (x ^ b) * 0xbf58476d1ce4e5b9
	x = (x ^ uint64(uint32(seg.Len))) * 0x94d049bb133111eb
	return x ^ x>>29
}

// dupCount is an input's packets captured twice (same), another input's
// packets too (cross), and come again on another interface too late to
// be copies (late, see recent.seen).
type dupCount struct{ same, cross, late, lostFins, lostData tally }

// tally counts packets, and the frame number of the first.
type tally struct{ n, first int }

func (c *tally) add(packet int) {
	c.n++
	if c.first == 0 || packet < c.first {
		c.first = packet
	}
}

func (c *tally) merge(o tally) {
	if o.n == 0 {
		return
	}
	if c.n == 0 || o.first < c.first {
		c.first = o.first
	}
	c.n += o.n
}

// minLate is how many packets must come again late on another interface
// for an input to be taken for two points' captures merged.
const minLate = 10

// dupsOf is input i's counts.
func (t *Tracker) dupsOf(i uint16) *dupCount {
	if int(i) >= len(t.dups) {
		t.dups = append(t.dups, make([]dupCount, int(i)+1-len(t.dups))...)
	}
	return &t.dups[i]
}

// countDuplicates adds the trackers' counts of packets captured twice
// (by tracker, then input) to the inputs, and warns of them.
func countDuplicates(inputs []Input, dups [][]dupCount) {
	for i := range inputs {
		var sum dupCount
		for _, ds := range dups {
			if i < len(ds) {
				sum.same.merge(ds[i].same)
				sum.cross.merge(ds[i].cross)
				sum.late.merge(ds[i].late)
				sum.lostFins.merge(ds[i].lostFins)
				sum.lostData.merge(ds[i].lostData)
			}
		}
		inputs[i].Duplicates, inputs[i].Elsewhere = sum.same.n, sum.cross.n
		if sum.same.n > 0 {
			inputs[i].warn(Warning{Kind: WarnDuplicates, N: sum.same.n, Packet: sum.same.first})
		}
		if sum.cross.n > 0 {
			inputs[i].warn(Warning{Kind: WarnCrossCopies, N: sum.cross.n, Packet: sum.cross.first})
		}
		if sum.late.n >= minLate {
			inputs[i].warn(Warning{Kind: WarnMerged, N: sum.late.n, Packet: sum.late.first})
		}
		if sum.lostFins.n > 0 {
			inputs[i].warn(Warning{Kind: WarnLostFins, N: sum.lostFins.n, Packet: sum.lostFins.first})
		}
		if sum.lostData.n > 0 {
			inputs[i].warn(Warning{Kind: WarnLostAtClose, N: sum.lostData.n, Packet: sum.lostData.first})
		}
	}
}
