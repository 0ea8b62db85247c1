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
// server endpoint (a flood, a service that a firewall hides), its client
// address (a scan: one source, many destinations), or neither (FoldOther:
// a flood spread over more endpoints than are counted one by one); 0: it
// may not.
type Fold uint8

const (
	FoldServer Fold = 1 + iota
	FoldClient
	FoldOther
)

// maxFoldKeys is how many server endpoints, and how many client
// addresses, may each have aggregates of their own. A flood spread over
// a network's addresses and ports (carpet bombing) would otherwise make
// one aggregate, a kilobyte or more, per endpoint it hit: past the first
// maxFoldKeys (in capture order), connections are folded by neither.
var maxFoldKeys = 4096

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
//
// The SYNs that neither their endpoint nor their client marks, or whose
// endpoint or client is past maxFoldKeys, are counted once more, all
// together (all), and so are those of them that were the first in the
// window from their source's cell and to their endpoint's.
// When such SYNs outnumber every sign of handshakes going on in the whole
// capture, many were new from both ends, and nearly all came from sources
// of their own (spoofed) or they were too many to keep one by one, SYNs
// spread thin are flooding it (spoofed sources sending to a whole
// network), and they may be folded by neither (FoldOther). A flood of one
// endpoint (new sources, one endpoint) or a scan from one source (one
// source, new endpoints) is its own cell's to mark; the scans of many
// sources that reach a network all the time (each source a few dozen
// SYNs) are listed, up to spreadVolume.
type synCounter struct {
	cells  *[2][2][synCells]synCell // [current, previous][server, client]
	all    [2]synSpread             // [current, previous]
	window int64
	// servers and clients are the endpoints and addresses that may have
	// aggregates of their own (their cells marked a SYN of theirs, which
	// may yet have been answered), maxFoldKeys of each at most.
	servers map[netip.AddrPort]struct{}
	clients map[netip.Addr]struct{}
	// sources has a bit set for the address of each spread SYN of the
	// current window (hashed), to count those from sources not seen yet.
	sources *[1 << sourceBits / 64]uint64
}

// sourceBits sizes synCounter.sources: a million bits, 128 KiB.
const sourceBits = 20

// spreadVolume is how many spread SYNs in the last window or two make a
// flood to fold, whether their sources were spoofed or not.
const spreadVolume = 50_000

type synCell struct{ syns, open, refused int32 }

// synSpread counts SYNs as a cell does, those that were the first in the
// window in both their cells, and those from a source not seen in the
// window before.
type synSpread struct {
	synCell
	fresh, sources int32
}

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
			sc.all[0].open -= 8
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
	var fresh [2]bool                // the first SYN of the window in its cells
	src := hashOf(seg.Src.Addr(), 0) // the client's cell, and its bit in sources
	for k, i := range [2]uint64{cellOf(seg.Dst.Addr(), seg.Dst.Port()), src >> (64 - synCellBits)} {
		c := &sc.cells[0][k][i]
		fresh[k] = c.syns == 0
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
	switch fold {
	case FoldServer:
		if !admit(&sc.servers, seg.Dst) {
			fold = FoldOther
		}
	case FoldClient:
		if !admit(&sc.clients, seg.Src.Addr()) {
			fold = FoldOther
		}
	}
	if fold == 0 || fold == FoldOther {
		// Those past maxFoldKeys are counted too: a flood spread over a
		// network fast enough fills every cell, which then marks all of
		// its SYNs, and its refusals must still be told.
		c := &sc.all[0]
		c.syns++
		c.open++
		if fresh[0] && fresh[1] {
			c.fresh++
		}
		if sc.newSource(src) {
			c.sources++
		}
		if fold == 0 && sc.spread() {
			fold = FoldOther
		}
	}
	return fold
}

// admit reports whether k may have an aggregate of its own: it was
// admitted already, or fewer than maxFoldKeys were.
func admit[K comparable](m *map[K]struct{}, k K) bool {
	if _, ok := (*m)[k]; ok {
		return true
	}
	if len(*m) >= maxFoldKeys {
		return false
	}
	if *m == nil {
		*m = map[K]struct{}{}
	}
	(*m)[k] = struct{}{}
	return true
}

// refusal counts an RST that may refuse a SYN, and says whether its
// connection may be folded (by what its SYN was marked with): once more
// than foldAfter came from its endpoint, or to its client, in the last
// window or two, and they were most of the SYNs (a closed port, a scan of
// closed ports; an endpoint that refuses a few of many is listed), or
// while SYNs spread thin flood the capture. Whether the SYN could be folded
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
	if fold == 0 {
		// Refusals spread over many endpoints and clients, while SYNs
		// spread so flood the capture: those SYNs were marked Other, and
		// what happened to them is counted with them, however few.
		c, p := &sc.all[0], &sc.all[1]
		c.refused++
		if c.refused+p.refused > foldAfter && sc.spread() {
			fold = FoldOther
		}
	}
	return fold
}

// spread reports whether SYNs spread thin over many endpoints and
// sources flood the capture: in the last window or two, more of them
// than signs of handshakes going on, and more than a tenth of all such
// SYNs, more than foldAfter of them new from both ends, and nine in ten
// of more than 5*foldAfter from sources of their own (spoofed: sources
// that scan send dozens each, but each is new at first), or more than
// spreadVolume in all.
func (sc *synCounter) spread() bool {
	c, p := &sc.all[0], &sc.all[1]
	open, syns := c.open+p.open, c.syns+p.syns
	return open > foldAfter && open*10 > syns && c.fresh+p.fresh > foldAfter &&
		(syns > 5*foldAfter && 10*(c.sources+p.sources) >= 9*syns || syns > spreadVolume)
}

// newSource reports whether no spread SYN of the current window came
// from a source address of hash h (hashOf) before, and marks it.
func (sc *synCounter) newSource(h uint64) bool {
	if sc.sources == nil {
		sc.sources = new([1 << sourceBits / 64]uint64)
	}
	i := h >> (64 - sourceBits)
	w, b := &sc.sources[i/64], uint64(1)<<(i%64)
	if *w&b != 0 {
		return false
	}
	*w |= b
	return true
}

// roll starts a new window when at is past the current one.
func (sc *synCounter) roll(at Timestamp) {
	w := int64(at) / int64(synWindow)
	if w == sc.window {
		return
	}
	if w == sc.window+1 {
		sc.cells[1], sc.all[1] = sc.cells[0], sc.all[0]
	} else {
		sc.cells[1], sc.all[1] = [2][synCells]synCell{}, synSpread{}
	}
	sc.cells[0], sc.all[0] = [2][synCells]synCell{}, synSpread{}
	if sc.sources != nil {
		clear(sc.sources[:])
	}
	sc.window = w
}

// cellOf hashes an address and port to a cell of synCounter's tables:
// the high bits of a product, which every bit of the address moves.
func cellOf(a netip.Addr, port uint16) uint64 {
	return hashOf(a, port) >> (64 - synCellBits)
}

// hashOf hashes an address and port: its high bits are the best.
func hashOf(a netip.Addr, port uint16) uint64 {
	b := a.As16()
	w0, w1 := binary.LittleEndian.Uint64(b[:8]), binary.LittleEndian.Uint64(b[8:])
	return (w0*0x9e3779b97f4a7c15 ^ w1 ^ uint64(port)<<1) * 0xbf58476d1ce4e5b9
}
