package flow

import (
	"encoding/binary"
	"net/netip"
	"time"

	"github.com/flowdoc/flowdoc/flow/packet"
)

// foldAfter is how many SYNs to a server endpoint, or from a client
// address, must have gone without their handshakes going on in the last
// window or two of capture time before the next ones may be folded; and
// they must be more than a tenth of the server's SYNs (SYNs sent again
// would otherwise add up on a busy server that answers them all), or nine
// tenths of the client's.
const foldAfter = 100

// Fold says by what a SYN may be folded, should it go unanswered: its
// server endpoint (a flood, a service that a firewall hides) or its
// client address (a scan: one source, many destinations); 0: it may not.
type Fold uint8

const (
	FoldServer Fold = 1 + iota
	FoldClient
)

// synWindow is the window of capture time synCounter counts in.
const synWindow = 10 * time.Second

// synCells is the size of synCounter's tables: server endpoints and
// client addresses are hashed into them, so that memory does not grow
// with a flood's sources or a scan's destinations. (A collision can only
// make a SYN foldable that another address's SYNs made so.)
const synCells = 1 << synCellBits

const synCellBits = 15

// synCounter counts, per server endpoint and per client address, over
// the current and the previous window of capture time, the SYNs and how
// many more of them there were than signs that their handshakes went on:
// for a server endpoint, the packets with an ACK (and no SYN) sent to it;
// for a client address, the SYN-ACKs sent to it. An endpoint that serves
// has far more ACKs than SYNs; one that a flood overwhelms, or that a
// firewall hides, piles SYNs up, whether it answers them with SYN-ACKs
// (SYN cookies) or not. It is fed every segment in capture order.
type synCounter struct {
	cells  *[2][2][synCells]synCell // [current, previous][server, client]
	window int64
}

type synCell struct{ syns, open, refused int32 }

// mark counts a segment sent at time at, and says by what a bare SYN may
// be folded, or whether an RST refusing one may. It is called for every packet: what it passes over is
// decided here, small enough to be inlined.
func (sc *synCounter) mark(seg *packet.Segment, at Timestamp) Fold {
	if seg.Flags&(packet.SYN|packet.RST) == 0 && seg.Seq&7 != 0 {
		return 0
	}
	return sc.count(seg, at)
}

// count is mark for the segments it counts.
func (sc *synCounter) count(seg *packet.Segment, at Timestamp) Fold {
	f := seg.Flags & (packet.SYN | packet.ACK | packet.RST)
	if f&(packet.SYN|packet.RST) == 0 {
		// One ACK in eight, by its sequence number, counts for eight:
		// the reader meets every packet, and the count needs no more.
		if f == packet.ACK && seg.Seq&7 == 0 && sc.cells != nil {
			sc.roll(at)
			sc.cells[0][0][cellOf(seg.Dst.Addr(), seg.Dst.Port())].open -= 8
		}
		return 0
	}
	if sc.cells == nil {
		sc.cells = new([2][2][synCells]synCell)
	}
	sc.roll(at)
	switch f {
	case packet.SYN:
	case packet.SYN | packet.ACK:
		// A SYN-ACK to a client: one of its SYNs was answered. (An RST
		// refused it: a scan of closed ports is still a scan.)
		sc.cells[0][1][cellOf(seg.Dst.Addr(), 0)].open--
		return 0
	case packet.RST | packet.ACK:
		return sc.refusal(seg)
	default:
		return 0
	}
	var fold Fold
	for k, i := range [2]uint64{cellOf(seg.Dst.Addr(), seg.Dst.Port()), cellOf(seg.Src.Addr(), 0)} {
		c := &sc.cells[0][k][i]
		c.syns++
		c.open++
		p := sc.cells[1][k][i]
		open, syns := c.open+p.open, c.syns+p.syns
		// A server endpoint with a tenth of its SYNs unanswered is in
		// trouble; a client is scanning when nearly none of its SYNs get
		// an answer (a busy client to a few dead servers is caught by
		// their endpoints).
		if fold == 0 && open > foldAfter && (k == 0 && open*10 > syns || k == 1 && open*10 > 9*syns) {
			fold = Fold(k + 1)
		}
	}
	return fold
}

// refusal counts an RST that may refuse a SYN, and says whether its
// connection may be folded: once more than foldAfter came from its
// endpoint, or to its client, in the last window or two, and they were
// most of its SYNs (a closed port, a scan of closed ports; an endpoint
// that refuses a few of many is listed). Whether the SYN could be folded
// was decided when it was sent, and at the start of a capture, before
// the first handshakes were acknowledged, nearly every SYN can: the
// refusals tell the rest.
func (sc *synCounter) refusal(seg *packet.Segment) Fold {
	var fold Fold
	for k, i := range [2]uint64{cellOf(seg.Src.Addr(), seg.Src.Port()), cellOf(seg.Dst.Addr(), 0)} {
		c, p := &sc.cells[0][k][i], &sc.cells[1][k][i]
		c.refused++
		if refused := c.refused + p.refused; fold == 0 && refused > foldAfter && 2*refused > c.syns+p.syns {
			fold = Fold(k + 1)
		}
	}
	return fold
}

// roll starts a new window when at is past the current one.
func (sc *synCounter) roll(at Timestamp) {
	w := int64(at) / int64(synWindow)
	if w == sc.window {
		return
	}
	if w == sc.window+1 {
		sc.cells[1] = sc.cells[0]
	} else {
		sc.cells[1] = [2][synCells]synCell{}
	}
	sc.cells[0] = [2][synCells]synCell{}
	sc.window = w
}

// cellOf hashes an address and port to a cell of synCounter's tables:
// the high bits of a product, which every bit of the address moves.
func cellOf(a netip.Addr, port uint16) uint64 {
	b := a.As16()
	w0, w1 := binary.LittleEndian.Uint64(b[:8]), binary.LittleEndian.Uint64(b[8:])
	h := (w0*0x9e3779b97f4a7c15 ^ w1 ^ uint64(port)<<1) * 0xbf58476d1ce4e5b9
	return h >> (64 - synCellBits)
}
