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
// on, within microseconds; a TCP stack's retransmission comes after a
// timeout of milliseconds at least (Linux's tail loss probe waits two
// round trips and 2 ms more, its RTO 200 ms) and differs anyway: a new
// IPv4 identification, a new timestamp option, so a new checksum.

// DupWindow is how soon after a packet its copy must come to be one.
const DupWindow = 2 * time.Millisecond

// recentBits sets how many of the last packets recent remembers (a
// tracker's, 32 KiB): a copy comes microseconds after the packet, a few
// packets later, and the table is read on every packet, so it is kept
// small enough to stay in the CPU's nearest cache.
const (
	recentBits  = 11
	recentSlots = 1 << recentBits
)

// recent remembers the signatures of the last packets, each in the slot
// its signature picks (a newer one takes its place).
type recent struct {
	slots [recentSlots]struct {
		sig uint64
		at  Timestamp
	}
}

// seen reports whether seg (on the tuple whose hash is h, from its
// first endpoint when srcA) is a copy of a packet less than DupWindow
// before (or after: captures are not always in time order), and
// remembers it if not.
func (r *recent) seen(h uint64, srcA bool, seg *packet.Segment, at Timestamp) bool {
	sig := dupSignature(h, srcA, seg)
	s := &r.slots[sig>>(64-recentBits)]
	if s.sig == sig {
		if d := at - s.at; d < Timestamp(DupWindow) && d > -Timestamp(DupWindow) {
			return true
		}
	}
	s.sig, s.at = sig, at
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

// dupCount is an input's packets captured twice, and the frame number
// of the first.
type dupCount struct{ n, first int }

// duplicate counts the packet of m as captured twice.
func (t *Tracker) duplicate(m Meta) {
	i := int(m.Input)
	if i >= len(t.dups) {
		t.dups = append(t.dups, make([]dupCount, i+1-len(t.dups))...)
	}
	d := &t.dups[i]
	d.n++
	if d.first == 0 || int(m.Packet) < d.first {
		d.first = int(m.Packet)
	}
}

// countDuplicates adds the trackers' counts of packets captured twice
// (by tracker, then input) to the inputs, and warns of them.
func countDuplicates(inputs []Input, dups [][]dupCount) {
	for i := range inputs {
		var sum dupCount
		for _, ds := range dups {
			if i < len(ds) && ds[i].n > 0 {
				if sum.first == 0 || ds[i].first < sum.first {
					sum.first = ds[i].first
				}
				sum.n += ds[i].n
			}
		}
		if sum.n > 0 {
			inputs[i].Duplicates = sum.n
			inputs[i].warn(Warning{Kind: WarnDuplicates, N: sum.n, Packet: sum.first})
		}
	}
}
