package flow

import (
	"bytes"
	"cmp"
	"encoding/binary"
	"math"
	"net/netip"
	"slices"
	"time"

	"github.com/flowdoc/flowdoc/flow/internal/free"
	"github.com/flowdoc/flowdoc/flow/internal/intern"
	"github.com/flowdoc/flowdoc/flow/packet"
	"github.com/flowdoc/flowdoc/flow/payload"
)

// Linux defaults for the timers that end a connection without a packet.
const (
	DefaultTimeWait   = 60 * time.Second // TCP_TIMEWAIT_LEN
	DefaultFinTimeout = 60 * time.Second // net.ipv4.tcp_fin_timeout
)

// maxEvents caps the events a record keeps; the rest are counted.
const maxEvents = 32

// Config tunes a Tracker. The zero Config uses the Linux defaults.
type Config struct {
	// TimeWait is how long an endpoint stays in TIME_WAIT.
	TimeWait time.Duration
	// FinTimeout is how long an orphaned FIN_WAIT_2 lasts.
	FinTimeout time.Duration
	// At is the moment states are reported for; zero means the last
	// packet's time.
	At time.Time
	// AllEvents keeps the events of connections that closed cleanly (both
	// FINs acknowledged, no RST), which are otherwise dropped when the
	// connection leaves the table: nothing is wrong with them to cite.
	AllEvents bool
	// IdleEvict is how long a connection may go without a packet before
	// it leaves the table for its compact record (taken up again exactly
	// if a packet comes); 0 means 5 s.
	IdleEvict time.Duration
	// Payload bounds reassembly, or turns it off.
	Payload payload.Config
	// MaxFlows caps the connections kept in memory, records included:
	// there are never more. A new connection at the cap first drops the
	// oldest ones no longer in the table from the result (counted in
	// Result.Evicted), down to 90% of it, and if the table alone is too
	// big, the connections idle the longest leave it first. Read shares
	// the cap among its trackers. 0: no cap. The connections folded into
	// aggregates (a flood's, a scan's) are not among them: an aggregate
	// counts all of its own.
	MaxFlows int
}

func (c Config) idleEvict() time.Duration {
	if c.IdleEvict > 0 {
		return c.IdleEvict
	}
	return freezeAfter
}

func (c Config) timeWait() time.Duration {
	if c.TimeWait > 0 {
		return c.TimeWait
	}
	return DefaultTimeWait
}

func (c Config) finTimeout() time.Duration {
	if c.FinTimeout > 0 {
		return c.FinTimeout
	}
	return DefaultFinTimeout
}

// Meta is where a segment came from.
type Meta struct {
	At Timestamp
	// Order is the packet's position in the whole pass; records from
	// several trackers are merged by it.
	Order   uint64
	Packet  uint32
	WireLen uint32
	Input   uint16
	// Cut is how many payload bytes the snap length cut off (at most
	// 65535: more than any IP packet without a jumbogram option holds).
	Cut uint16
	// Fold marks a bare SYN that may be folded into an Aggregate should
	// it go unanswered, and by what (see synCounter).
	Fold Fold
}

// tuple is a connection's endpoints in a canonical order, so both
// directions find the same flow. It holds no pointers, so hashing and
// comparing it is a plain memory operation.
type tuple struct {
	a, b   [16]byte
	pa, pb uint16
}

// eq reports whether k and o are the same tuple. It compares words, where
// == on the struct calls a byte loop: it runs on every packet.
func (k *tuple) eq(o *tuple) bool {
	le := binary.LittleEndian
	return k.pa == o.pa && k.pb == o.pb &&
		le.Uint64(k.a[:8]) == le.Uint64(o.a[:8]) && le.Uint64(k.a[8:]) == le.Uint64(o.a[8:]) &&
		le.Uint64(k.b[:8]) == le.Uint64(o.b[:8]) && le.Uint64(k.b[8:]) == le.Uint64(o.b[8:])
}

// makeTuple returns the tuple of a segment from src to dst, and whether
// src is its first endpoint.
func makeTuple(src, dst netip.AddrPort) (tuple, bool) {
	if less(dst, src) {
		return tuple{dst.Addr().As16(), src.Addr().As16(), dst.Port(), src.Port()}, false
	}
	return tuple{src.Addr().As16(), dst.Addr().As16(), src.Port(), dst.Port()}, true
}

func less(x, y netip.AddrPort) bool {
	if c := x.Addr().Compare(y.Addr()); c != 0 {
		return c < 0
	}
	return x.Port() < y.Port()
}

// track is the sequence-space view of one side, needed only while the
// connection is in the table.
type track struct {
	sent      bool
	synSeen   bool
	nxtOK     bool
	ackOK     bool
	finSent   bool
	gotFin    bool // has received the peer's FIN
	synAck    bool // has sent a SYN-ACK
	overflow  bool // a server whose accept queue dropped the handshake's ACK
	zeroWin   bool // last advertised window was zero
	dataAfter bool // sent data after the peer's FIN
	// notes says what the side sent after the peer's FIN, where its
	// bytes were read (data that was no control message, a control
	// message: Record.DataAfterFin, Record.ControlAfterFin), and whether
	// its last payload was an acknowledgement (noteEcho).
	notes sideNotes
	// halfClosed and zeroWins are the record's HalfClosed and ZeroWindows
	// while the connection has no record (a packet's path makes none).
	halfClosed bool
	// finLost is set while the side's FIN is one taken as lost by the
	// capture (conn.finNotCaptured), counted in input finLostIn's tally.
	finLost bool
	// nholes counts the side's holes (in connExtra, or for a retired
	// connection in Tracker.slotHoles): ranges below nxt not seen (yet).
	// A segment that fills one is data that came out of order or was lost
	// before the capture point, not a retransmission. Past maxHoles the
	// oldest is taken as missed for good.
	nholes    uint8
	finLostIn uint16 // see finLost
	zeroWins  uint32
	isn       uint32
	lo        uint32 // lowest sequence number sent (valid with nxtOK)
	nxt       uint32 // sequence number after the highest one sent
	ack       uint32 // highest acknowledgement sent
	firstAck  uint32 // first acknowledgement sent (valid with ackOK)
	finSeq    uint32
	histFin   uint32 // end of the last FIN, for the history's F letter
	histRst   uint32 // sequence number of the last RST, for its R letter
	retransN  uint32 // for the history's T letter
	zeroWinN  uint32 // for the history's W letter
	win       uint16 // raw advertised window
	hist      uint16 // history letters already logged
	// bytes counts the sequence space from lo to nxt, holes included,
	// without the SYN and FIN; missed the payload bytes known never to
	// have been captured: holes forgotten (see nholes) and payload cut by
	// the snap length. Record.Half adds the holes still open and what
	// only the peer's acknowledgements show (see seqCounts).
	bytes, missed uint64
}

// sideNotes are a side's notes on its payload (see track.notes).
type sideNotes uint8

const (
	afterData    sideNotes = 1 << iota // after the peer's FIN: data that was no control message
	afterControl                       // after the peer's FIN: a control message
	// noteEcho is set while the side's last payload was an
	// acknowledgement of the peer's at the protocol's level (see
	// echoMax), not data of its own.
	noteEcho
	// noteOther, on the client's track, is set once the connection's
	// payload, read from its first byte, was of no protocol flowdoc
	// reads (see Record.OtherProtocol).
	noteOther
	// The next three bits, on the server's track, hold the Refusal its
	// first message was (see Record.Refusal).
	noteRefusalShift = iota
	// noteCalm, on the server's track, is set once it sent an HTTP/2
	// GOAWAY with ENHANCE_YOUR_CALM (see Record.ClosedForPings).
	noteCalm sideNotes = 1 << 7
	// noteAlert, on the client's track (whose refusal bits are unused),
	// is set once it sent a fatal TLS alert in the clear (see
	// Record.ClientAlert).
	noteAlert sideNotes = 1 << noteRefusalShift
	// noteRefusalHigh, on the client's track, is the fourth bit of the
	// server's Refusal, above the three on the server's.
	noteRefusalHigh sideNotes = 1 << (noteRefusalShift + 1)
	// noteOpener, on the client's track, is set where its first payload
	// opened a handshake that a server answers as soon as it has
	// accepted the connection (see opener and Record.Opened).
	noteOpener sideNotes = 1 << (noteRefusalShift + 2)
	// notePongs, on the client's track, is set once it answered pings
	// after the server's FIN (pongLines; see Record.PongsAfterFin).
	notePongs sideNotes = 1 << 7
)

// An echo is a payload of echoMax bytes or fewer that the client sends
// within echoWindow of the server's: HTTP/2's SETTINGS acknowledgement,
// WINDOW_UPDATE or PING answer (9 to 17 bytes; 31 to 44 in a TLS
// record). It answers what came, asks nothing: the server's payload is
// the last word before it, for the quiet period a close ends and for who
// was waiting for whom. (A server's short quick payload is an answer to
// the client, data of its own.)
const (
	echoMax    = 64
	echoWindow = 50 * time.Millisecond
)

// holes are a side's sequence ranges not seen (see track.nholes).
type holes [maxHoles]seqRange

// maxHoles is how many holes in its sequence space a side keeps track of.
const maxHoles = 4

// seqRange is the sequence numbers from lo up to, not including, hi.
type seqRange struct{ lo, hi uint32 }

// hot is what every packet of a side touches, kept with the connection
// (not in its record) while it is in the table so that a packet touches
// as little memory as possible; retire writes it to the record.
type hot struct {
	raw State
	// The SYNs (or SYN-ACKs) sent, and what the first said.
	synCount          uint8
	wscale            int8
	lastCtl           bool // the last payload packet held a control message (controlMessage)
	mss               uint16
	lastPayloadInput  uint16
	since             Timestamp
	first, last       Timestamp
	lastPayload       Timestamp
	packets           uint64
	wire              uint64
	ip                uint64
	synLast           Timestamp
	lastPayloadPacket uint32
	synGapUS          uint32 // interval before the last SYN retransmission, in µs
}

type conn struct {
	// The fields holding pointers come first, so that the collector reads
	// only the start of each connection (200 k open ones are 115 MB), and
	// with them next and key, so that a lookup reads only the first cache
	// line of each connection it passes.
	next   *conn // another connection whose tuple has the same hash
	key    tuple
	queued bool // in Tracker.ending
	// gone is set once the connection is retired, while Tracker.ending
	// still holds it.
	gone      bool
	firstFrom Side // the side that sent the first packet
	clientA   bool // the client is the tuple's first endpoint
	// rec is the connection's record, in the tracker's arena: made when
	// the connection first has something only a record holds (a FIN, an
	// RST, a retransmission), or when it leaves the table. Most open
	// connections have none: what a record would hold of them is here.
	rec *Record
	tr  *Tracker // whose arena rec comes from
	// st is rec.stream while the connection is in the table: a packet
	// with payload reaches its stream without reading the record.
	st *payload.Stream
	x  *connExtra // nil until the connection needs it
	// packed is where reading stood when the stream of this quiet
	// connection, which has no record yet, rested (see payloader.rest):
	// a record would cost more than the stream it replaces. The record
	// takes it when made (payloader.adopt).
	packed payload.Packed

	h    [2]hot
	last Timestamp // of the last packet either way
	// What the record starts with: the Meta.Order of the first packet,
	// and how the connection was met.
	order uint64
	// slot is the record's place in the arena, which the tracker numbers
	// the connections it makes in: records lie in memory in the order
	// their connections began, as the passes over them read them, made
	// when they may be.
	slot                uint32
	fam                 [2]family // of the tuple's addresses (a, b), for the record's key
	midstream, inferred bool
	t                   [2]track
	// prevData is the new payload, either way, before the last one; or,
	// when the last is a control message that followed its side's own
	// payload within burstGap, before that payload: a goodbye of two
	// records, as TLS sends a FATAL and its close_notify. It is what the
	// connection carried before a goodbye (see Half.Goodbye).
	prevData dataMark
	hist     [20]byte
	nh       uint8
	nev      uint8
	reused   bool
	// ann is a close that may be being announced (annNoted, annMore,
	// annServer; see announcing): its record holds it once it is done.
	ann extFlags
	ev  [inlineEvents]Event // the first events, copied out when retired
}

// dataMark is a packet that carried new payload.
type dataMark struct {
	at     Timestamp
	packet uint32
	input  uint16
	from   Side
}

// inlineEvents is how many events a connection keeps without allocating;
// most connections have fewer.
const inlineEvents = 3

// connExtra is what a connection needs only once it has more events than
// the inline ones (most connections that close) or holes in a sequence
// space (a lossy path): kept apart, so that a connection waiting in the
// table costs 576 bytes and not 640 (200 k open connections: 13 MB). It
// stays with its conn when the conn is reused.
type connExtra struct {
	overflow []Event // events past inlineEvents
	holes    [2]holes
}

// extra returns c's connExtra, making it if it has none.
func (c *conn) extra() *connExtra {
	if c.x == nil {
		c.x = new(connExtra)
	}
	return c.x
}

// overflow returns the events c keeps past the inline ones.
func (c *conn) overflow() []Event {
	if c.x == nil {
		return nil
	}
	return c.x.overflow
}

// arenaChunk is how many events are allocated at once.
const arenaChunk = 256

// recChunk is how many records a slab holds: 1024 records of 456 bytes
// are a whole number of the allocator's 8 KiB pages (256 of them took 15
// pages for 14¼, a twentieth more than the records).
const recChunk = 1024

// Tracker follows TCP connections through a stream of segments. Feed it
// with Add in capture order, then call Finish once.
type Tracker struct {
	cfg Config
	// recent tells the packets captured twice (duplicate.go); dups counts
	// them, by input.
	recent *recent
	dups   []dupCount
	// cross tells the packets another input holds too, when inputs
	// (more than one) are read together.
	cross  crossCopies
	inputs int
	// retainN is this tracker's share of retainCap.
	retainN int
	// flows holds the connections in progress by the hash of their
	// tuple; the rare tuples that share a hash are chained.
	flows   hashTable[*conn]
	open    int     // connections in flows
	connBuf []*conn // reused by conns
	// retired remembers connections taken out of the table while their
	// tuple may still carry late packets (retransmitted FINs, RSTs): those
	// are counted on the record, and a new SYN is port reuse.
	retired hashTable[retiredConn]
	// slots hold retired connections' sequence state, for lateWindow
	// (or, for frozen ones, until they are taken up again).
	slots     []*[slotChunk]seqSlot
	slotHoles map[int32]*[2]holes // the holes of the slots' tracks that have any
	nslots    int32
	freeSlots []int32
	expiry    []retiredAt // retired connections in order of retirement
	pastN     int         // how many of expiry have no sequence state left
	// ending holds connections that finished on both ends, in the order
	// they did: the only ones a sweep needs to look at.
	ending  []endingConn
	records []*Record // every connection with a record, in order of ID at the end
	// recSlabs is the arena the records are carved from, a slab of
	// recChunk for each recChunk connections made (Tracker.slots), made
	// when the first of them needs its record.
	recSlabs   []*[recChunk]Record
	nconns     uint32  // connections made
	evChunk    []Event // arena retired connections' events are copied to
	free       []*conn // retired connection state, for reuse
	last       Timestamp
	lastSweep  Timestamp
	lastFreeze Timestamp
	lastRest   Timestamp
	added      uint64
	noSweep    bool         // tests: keep every connection in the table
	revived    int          // retired connections taken up again by a late packet
	frozen     int          // connections retired for being idle
	evicted    int          // records dropped for Config.MaxFlows
	unrecorded int          // connections in the table with no record yet
	finishing  bool         // Finish is retiring every connection
	pay        *payloader   // nil with Config.Payload.Off
	strs       intern.Table // histories
	lone       lone         // bare SYNs, and the aggregates of lone ones
	syns       synCounter   // for Add; Read's reader marks the segments
	aggs       []*aggregate
}

// NewTracker returns an empty Tracker.
func NewTracker(cfg Config) *Tracker {
	t := &Tracker{cfg: cfg, retainN: retainCap}
	if !cfg.Payload.Off {
		t.pay = newPayloader(cfg.Payload)
	}
	return t
}

// Open is the number of connections in the table now.
func (t *Tracker) Open() int { return t.open + t.lone.n }

// hash mixes a tuple into 64 bits (a multiply-xorshift over its words,
// then a finalizer).
func (k *tuple) hash() uint64 {
	const m = 0x9e3779b97f4a7c15
	h := uint64(k.pa)<<16 | uint64(k.pb)
	for _, w := range [4]uint64{
		binary.LittleEndian.Uint64(k.a[:8]), binary.LittleEndian.Uint64(k.a[8:]),
		binary.LittleEndian.Uint64(k.b[:8]), binary.LittleEndian.Uint64(k.b[8:]),
	} {
		h = (h ^ w) * m
		h ^= h >> 32
	}
	// A product's low bits depend only on its factors' low bits: without
	// a last mix, the table's slot (the low bits) would not depend on the
	// last octets of an IPv4 address at all.
	h = (h ^ h>>29) * 0xbf58476d1ce4e5b9
	return h ^ h>>32
}

// lookup finds the connection on tuple k, whose hash is h.
func (t *Tracker) lookup(h uint64, k *tuple) *conn {
	for c := t.flows.get(h); c != nil; c = c.next {
		if c.key.eq(k) {
			return c
		}
	}
	return nil
}

func (t *Tracker) insert(h uint64, c *conn) {
	c.next = t.flows.get(h)
	t.flows.set(h, c)
	t.open++
}

func (t *Tracker) remove(c *conn) {
	h := c.key.hash()
	p := t.flows.get(h)
	if p == c {
		if c.next == nil {
			t.flows.del(h)
		} else {
			t.flows.set(h, c.next)
		}
	} else {
		for p != nil && p.next != c {
			p = p.next
		}
		if p != nil {
			p.next = c.next
		}
	}
	c.next = nil
	t.open--
}

// Add feeds one segment.
func (t *Tracker) Add(seg *packet.Segment, m Meta) {
	if m.Order == 0 {
		m.Order = t.added + 1 // records are ordered by it
	}
	m.Fold = t.syns.mark(seg, m.At)
	k, srcA := makeTuple(seg.Src, seg.Dst)
	t.add(seg, m, &k, k.hash(), srcA)
}

// add is Add with the segment's tuple, hash and direction worked out
// (by the reading goroutine, off the tracker's path).
func (t *Tracker) add(seg *packet.Segment, m Meta, kp *tuple, h uint64, srcA bool) {
	if t.recent == nil {
		t.recent = new(recent)
	}
	sig := dupSignature(h, srcA, seg)
	copied, late := t.recent.seen(sig, seg, m.At, m.Input)
	if copied {
		t.dupsOf(m.Input).same.add(int(m.Packet))
		return
	}
	if late {
		t.dupsOf(m.Input).late.add(int(m.Packet))
	}
	if t.inputs > 1 && t.cross.seen(sig, m.At, m.Input) {
		t.dupsOf(m.Input).cross.add(int(m.Packet))
		return
	}
	if m.At > t.last {
		t.last = m.At
	}
	t.added++
	if t.added&0x3ff == 0 && !t.noSweep {
		switch {
		case t.last-t.lastSweep > Timestamp(sweepEvery):
			t.sweep()
		case t.lone.n > 0 && t.last-t.lone.swept > Timestamp(foldAge/8):
			// A flood's embryos go as soon as they are due.
			t.sweepLone()
		}
	}
	if t.cfg.MaxFlows > 0 && len(t.records)+t.unrecorded >= t.cfg.MaxFlows {
		t.evict() // this packet may start a connection: make room
	}
	t.place(seg, m, kp, h, srcA)
}

// place adds a segment to the connection on its tuple, making one if
// there is none.
func (t *Tracker) place(seg *packet.Segment, m Meta, kp *tuple, h uint64, srcA bool) {
	k := *kp
	c := t.lookup(h, &k)
	if c == nil && t.lone.table.n > 0 {
		// A tuple has a connection or an embryo, never both.
		if i := t.embryoFor(h, kp); i >= 0 && t.embryo(i, h, seg, m, srcA) {
			return
		}
		c = t.lookup(h, &k)
	}
	reused := false
	if c != nil && seg.Flags&(packet.SYN|packet.ACK|packet.RST) == packet.SYN && c.startsNew(c.sideOf(srcA), seg) {
		t.retire(c)
		c, reused = nil, true
	}
	if c == nil {
		if rc := t.retired.get(h); rc.r != nil && rc.is(&k) {
			t.retired.del(h)
			tracks, hs, exact := t.unpark(&rc)
			switch {
			case exact:
				c = t.revive(k, h, &rc, tracks, hs)
				if seg.Flags&(packet.SYN|packet.ACK|packet.RST) == packet.SYN && c.startsNew(c.sideOf(srcA), seg) {
					t.retire(c)
					c, reused = nil, true
				}
			case seg.Flags&(packet.SYN|packet.ACK|packet.RST) == packet.SYN:
				reused = true
			default:
				// Long after it ended: the sequence state is gone, and the
				// connection is taken up as if met midstream.
				for s := Client; s <= Server; s++ {
					h := rc.r.Half(s)
					tracks[s].bytes, tracks[s].missed = h.Bytes, h.Missed
					tracks[s].sent = h.Packets > 0
					tracks[s].finSent = h.FinPacket > 0
					tracks[s].gotFin = rc.r.Half(s.Other()).FinPacket > 0
					if rc.r.DataAfterFin(s) {
						tracks[s].notes |= afterData
					}
					if rc.r.ControlAfterFin(s) {
						tracks[s].notes |= afterControl
					}
				}
				if rc.r.OtherProtocol() {
					tracks[Client].notes |= noteOther
				}
				c = t.revive(k, h, &rc, tracks, nil)
			}
		}
	}
	if c == nil && !reused {
		if t.lateForFolded(seg, m, h) {
			return
		}
		if m.Fold != 0 && bareSYN(seg) && t.conceive(seg, m, &k, h, srcA) {
			return
		}
	}
	if c == nil {
		c = t.newConn(seg, m, srcA)
		c.key = k
		c.reused = reused
		t.insert(h, c)
	}
	side := c.sideOf(srcA)
	c.add(side, seg, m)
	if t.pay != nil && seg.Len > 0 && seg.Flags&packet.RST == 0 {
		t.pay.feed(c, side, seg, m)
	}
	if !c.queued && over(c.h[Client].raw) && over(c.h[Server].raw) {
		c.queued = true
		t.ending = append(t.ending, endingConn{c, t.last})
	}
}

// sideOf returns the side that sent a segment, given whether its source
// is the tuple's first endpoint.
func (c *conn) sideOf(srcA bool) Side {
	if srcA == c.clientA {
		return Client
	}
	return Server
}

// startsNew reports whether a SYN (without ACK) opens a new connection on
// the tuple of c rather than continuing it.
func (c *conn) startsNew(s Side, seg *packet.Segment) bool {
	ts := &c.t[s]
	if s == Client {
		if ts.synSeen {
			return seg.Seq != ts.isn // a new connect(): a new ISN
		}
		// c began with the SYN-ACK: a SYN that it answers was captured
		// after it (reordered, as on "any" or a multi-queue NIC).
		to := &c.t[Server]
		if to.synAck && to.ackOK && to.firstAck == seg.Seq+1 {
			return false
		}
		return true // c began midstream, or with another SYN-ACK
	}
	// A SYN from the server's endpoint: simultaneous open while the client
	// waits for an answer, otherwise a new connection the other way.
	return !(c.h[Client].raw == SynSent && !ts.sent)
}

// alloc returns a zeroed conn, recycled if one is free (with the array
// of its overflow events, emptied: most connections that close have
// more events than the inline ones, and would allocate it again).
func (t *Tracker) alloc() *conn {
	if c := free.Take(&t.free); c != nil {
		x := c.x
		if x != nil {
			x.overflow = x.overflow[:0]
		}
		*c = conn{x: x}
		return c
	}
	return &conn{}
}

func (t *Tracker) newConn(seg *packet.Segment, m Meta, srcA bool) *conn {
	c := t.alloc()
	c.tr = t
	c.order, c.last = m.Order, m.At
	c.slot = noSlot
	if t.nconns < noSlot {
		c.slot = t.nconns
		t.nconns++
	}
	_, _, fsrc := keyAddr(seg.Src)
	_, _, fdst := keyAddr(seg.Dst)
	c.fam = [2]family{fsrc, fdst}
	if !srcA {
		c.fam = [2]family{fdst, fsrc}
	}
	c.h[Client].wscale, c.h[Server].wscale = -1, -1
	t.unrecorded++
	switch {
	case seg.Flags&(packet.SYN|packet.ACK) == packet.SYN:
		c.clientA = srcA
		c.h[Client].raw, c.h[Server].raw = Closed, Closed
	case seg.Flags&(packet.SYN|packet.ACK) == packet.SYN|packet.ACK:
		// The SYN was not captured (yet); the client must have sent one.
		c.clientA = !srcA
		c.h[Client].raw, c.h[Server].raw = SynSent, Closed
		c.h[Client].since = m.At
		c.appendFlip()
	default:
		c.midstream, c.inferred = true, true
		if serverLike(seg.Src, seg.Dst) {
			c.clientA = !srcA
			c.appendFlip()
		} else {
			c.clientA = srcA
		}
		c.h[Client].raw, c.h[Server].raw = Established, Established
		c.h[Client].since, c.h[Server].since = m.At, m.At
	}
	c.firstFrom = c.sideOf(srcA)
	return c
}

// noSlot is the slot of connections made past the arena's numbering.
const noSlot = math.MaxUint32

// record returns the connection's record, making it if it has none.
func (c *conn) record() *Record {
	if c.rec == nil {
		c.rec = c.tr.newRecord(c)
	}
	return c.rec
}

// newRecord makes the record of connection c, in the table, from what c
// holds of it.
func (t *Tracker) newRecord(c *conn) *Record {
	var r *Record
	if c.slot == noSlot || t.cfg.MaxFlows > 0 {
		// One by one past 4 G connections; and under Config.MaxFlows,
		// whose eviction drops records here and there: a slab would
		// keep every record ever made.
		r = new(Record)
	} else {
		i := int(c.slot / recChunk)
		for len(t.recSlabs) <= i {
			t.recSlabs = append(t.recSlabs, nil)
		}
		if t.recSlabs[i] == nil {
			t.recSlabs[i] = new([recChunk]Record)
		}
		r = &t.recSlabs[i][c.slot%recChunk]
	}
	t.records = append(t.records, r)
	t.unrecorded--
	c.start(r)
	t.pay.adopt(c, r)
	r.set(recHeld, true)
	for s := range c.t {
		c.t[s].zeroWins, c.t[s].halfClosed = 0, false // the record counts them from now on
	}
	return r
}

// start gives r, an empty record, what c holds of its connection's
// record before any packet was counted on it.
func (c *conn) start(r *Record) {
	r.ID = int(c.order) // until the records are numbered, at the end
	r.First = c.h[c.firstFrom].first
	r.Midstream, r.RolesInferred, r.Reused = c.midstream, c.inferred, c.reused
	r.stream = c.st
	for s := Client; s <= Server; s++ {
		h, ts := r.Half(s), &c.t[s]
		h.ZeroWindows, h.HalfClosed = ts.zeroWins, ts.halfClosed
	}
	// The tuple holds the addresses as a Key does (As16).
	k := &c.key
	if c.clientA {
		r.Key = Key{client: k.a, server: k.b, cport: k.pa, sport: k.pb, cfam: c.fam[0], sfam: c.fam[1]}
	} else {
		r.Key = Key{client: k.b, server: k.a, cport: k.pb, sport: k.pa, cfam: c.fam[1], sfam: c.fam[0]}
	}
}

func serverLike(a, b netip.AddrPort) bool {
	pa, pb := a.Port(), b.Port()
	switch {
	case pa < 1024 != (pb < 1024):
		return pa < 1024
	case ephemeral(pa) != ephemeral(pb):
		return !ephemeral(pa)
	}
	return pa < pb
}

// ephemeral reports whether p lies in the ephemeral port range of Linux
// (32768-60999) or of Windows and the IANA (49152-65535).
func ephemeral(p uint16) bool { return p >= 32768 }

// Seq arithmetic modulo 2^32 (RFC 9293, 3.4).
func seqLT(a, b uint32) bool { return int32(a-b) < 0 }
func seqLE(a, b uint32) bool { return int32(a-b) <= 0 }
func seqGT(a, b uint32) bool { return int32(a-b) > 0 }
func seqGE(a, b uint32) bool { return int32(a-b) >= 0 }

// add runs the state machine on one segment sent by s, and keeps it as
// an event when it is worth citing.
func (c *conn) add(s Side, seg *packet.Segment, m Meta) {
	c.count(s, seg, m)
	before := c.states()
	c.flagLetters(s, seg)
	if seg.Flags.Has(packet.RST) {
		c.reset(s, seg, m, before)
		return
	}
	note := c.window(s, seg)
	c.acceptedLate(s, seg, m)
	if seg.Flags.Has(packet.ACK) {
		c.acknowledge(s, seg, m)
		if to := &c.t[s.Other()]; seg.Flags.Has(packet.FIN) && !c.t[s].finSent && to.nxtOK && seqGT(seg.Ack, to.nxt) {
			// A FIN that acknowledges data of the peer's the capture
			// never saw: the capture lost packets at this close, the
			// peer's FIN perhaps among them.
			note |= NoteNotCaptured
			c.tr.dupsOf(m.Input).lostData.add(int(m.Packet))
		}
	}
	if ts := &c.t[s]; ts.finLost && seg.Flags.Has(packet.FIN) && seg.Seq+uint32(seg.Len) == ts.finSeq && seg.Len == 0 &&
		c.rec != nil && m.At <= c.rec.Half(s).FinAt+1 {
		// The FIN taken as lost comes after all, stamped no later than
		// the packet that acknowledged it (inputs merged with their
		// clocks apart, a capture that reorders): no loss, and no FIN
		// sent again. One stamped later is the FIN sent again.
		ts.finLost = false
		c.tr.dupsOf(ts.finLostIn).lostFins.n--
		if after := c.states(); before != after {
			c.event(seg, m, s, note, before)
		}
		return
	}
	probe := c.sequence(s, seg, m, &note)
	if seg.Flags.Has(packet.FIN) {
		c.fin(s, seg, m)
	}
	keep := seg.Flags&(packet.SYN|packet.FIN|packet.RST) != 0 || note&NoteZeroWindow != 0
	if after := c.states(); keep || probe && note != 0 || before != after && !handshakeDone(before, after) {
		c.event(seg, m, s, note, before)
	}
}

// count counts the packet on its side. A packet touches the connection
// only: its record is reached in the branches that few packets take, as
// even a pointer taken to the record up front costs a cache miss per
// packet (the nil check reads it).
func (c *conn) count(s Side, seg *packet.Segment, m Meta) {
	hh := &c.h[s]
	if m.At > c.last {
		c.last = m.At
	}
	if hh.packets == 0 {
		hh.first = m.At
	}
	hh.last = m.At
	hh.packets++
	hh.wire += uint64(m.WireLen)
	hh.ip += uint64(seg.IPLen)
	c.t[s].sent = true
}

// reset handles an RST from s: both ends close if it is in the window.
func (c *conn) reset(s Side, seg *packet.Segment, m Meta, before [2]State) {
	var note Note
	c.record().Half(s).RSTs++
	if c.rstAcceptable(s, seg) {
		c.set(s, Closed, m.At)
		c.set(s.Other(), Closed, m.At)
	} else {
		note |= NoteRSTIgnored
	}
	c.event(seg, m, s, note, before)
}

// window reads the receive window s advertises; the note says when it
// first went to zero.
func (c *conn) window(s Side, seg *packet.Segment) (note Note) {
	ts, to := &c.t[s], &c.t[s.Other()]
	// Zeek's W letter: a zero window, unless the peer has closed (there
	// is nothing left to receive).
	if seg.Window == 0 && !to.finSent {
		ts.zeroWinN++
		c.logCounted(s, 'W', ts.zeroWinN)
	}
	if seg.Flags.Has(packet.SYN) {
		return 0
	}
	ts.win = seg.Window
	zero := seg.Window == 0
	if zero {
		if c.rec != nil {
			c.rec.Half(s).ZeroWindows++
		} else {
			ts.zeroWins++
		}
		if !ts.zeroWin {
			note |= NoteZeroWindow
		}
	}
	ts.zeroWin = zero
	return note
}

// acceptedLate moves a server whose full accept queue dropped the
// handshake's ACK to ESTABLISHED when it sends something other than its
// SYN-ACK: it accepted the connection at last.
func (c *conn) acceptedLate(s Side, seg *packet.Segment, m Meta) {
	if ts := &c.t[s]; ts.overflow && seg.Flags&packet.SYN == 0 && c.h[s].raw == SynRecv {
		ts.overflow = false
		c.set(s, Established, m.At)
	}
}

// acknowledge reads what s has received of the other side: the
// handshake completed, a FIN acknowledged.
func (c *conn) acknowledge(s Side, seg *packet.Segment, m Meta) {
	o := s.Other()
	ts, to := &c.t[s], &c.t[o]
	if !ts.ackOK || seqGT(seg.Ack, ts.ack) {
		if ts.ackOK && ts.finSent && to.dataAfter {
			// Data that came after our FIN is acknowledged: a
			// half-close, not an orphaned socket.
			if c.rec != nil {
				c.rec.Half(s).HalfClosed = true
			} else {
				ts.halfClosed = true
			}
		}
		if !ts.ackOK {
			ts.firstAck = seg.Ack
		}
		ts.ack, ts.ackOK = seg.Ack, true
	}
	if to.synSeen && seqGE(seg.Ack, to.isn+1) {
		if c.h[s].raw == SynSent && to.synAck && seg.Flags&packet.SYN == 0 {
			// It acknowledges the SYN-ACK, so it received it: its
			// own SYN was not captured, or was captured late.
			c.set(s, Established, m.At)
		}
		switch c.h[o].raw {
		case SynSent:
			if seg.Flags.Has(packet.SYN) {
				c.set(o, Established, m.At) // SYN-ACK received
			}
		case SynRecv:
			if !to.overflow {
				c.set(o, Established, m.At) // the handshake's ACK
			}
		}
	}
	if !to.finSent && to.nxtOK && seg.Ack == to.nxt+1 &&
		(c.h[o].raw == CloseWait || c.h[o].raw == Established && seg.Flags.Has(packet.FIN)) {
		// s acknowledges one sequence number past all o sent: o's FIN,
		// which the capture lost (a busy capture point drops packets).
		// s had closed already, or closes with this very segment, so
		// the number is no byte of data. Without it, o would seem never
		// to close (a CLOSE_WAIT leak that is none).
		c.finNotCaptured(o, m)
	}
	if to.finSent && seqGE(seg.Ack, to.finSeq+1) {
		switch c.h[o].raw {
		case FinWait1:
			c.set(o, FinWait2, m.At)
		case Closing:
			c.set(o, TimeWait, m.At)
		case LastAck:
			c.set(o, Closed, m.At)
		}
	}
}

// sequence places the segment in the sequence space of s: a SYN, data
// sent again (Zeek's T), a probe (reported: true), holes filled.
func (c *conn) sequence(s Side, seg *packet.Segment, m Meta, note *Note) (probe bool) {
	ts := &c.t[s]
	f := seg.Flags
	span := uint32(seg.Len)
	if f.Has(packet.SYN) {
		span++
	}
	if f.Has(packet.FIN) {
		span++
	}
	end := seg.Seq + span
	if f.Has(packet.SYN) {
		c.syn(s, seg, m, note)
	}
	if ts.nxtOK && seg.Len > 0 && seqLE(end, ts.nxt) {
		// Zeek's T letter: payload that does not go past the highest
		// sequence number seen, whether it was seen or not.
		ts.retransN++
		c.logCounted(s, 'T', ts.retransN)
	}
	if ts.nxtOK {
		switch {
		case f&(packet.SYN|packet.FIN) == 0 && seg.Len <= 1 && seg.Seq == ts.nxt-1:
			// One byte below the next sequence number: a probe the peer
			// must answer. Linux sends the same segment to probe a zero
			// window and to keep an idle connection alive.
			probe = true
			c.probe(s, m, note)
		case span > 0 || seqGT(seg.Seq, ts.nxt):
			// A segment is sent again only if it covers sequence space
			// already seen: one that fills a hole came out of order, or
			// was lost before the capture point.
			fresh := c.seqSpace(s, seg, end, m)
			// A SYN-ACK that repeats a bare SYN's number answers a
			// simultaneous open; it is not sent again.
			if span > 0 && !fresh && !(f.Has(packet.SYN|packet.ACK) && !ts.synAck) {
				c.record().Half(s).Retrans++
				if f&(packet.SYN|packet.FIN) != 0 {
					*note |= NoteRetransmit
				}
			}
		}
	} else {
		ts.lo, ts.nxt, ts.nxtOK = seg.Seq, end, true
		ts.bytes += uint64(seg.Len)
		c.payload(s, seg, uint32(seg.Len), m)
	}
	if f.Has(packet.SYN) {
		ts.synSeen = true
		if f.Has(packet.ACK) {
			ts.synAck = true
		}
	}
	return probe
}

// probe counts a zero-window probe, or a keep-alive, from s.
func (c *conn) probe(s Side, m Meta, note *Note) {
	r := c.record()
	hs := r.Half(s)
	if c.t[s.Other()].zeroWin {
		hs.WinProbes++
		if hs.WinProbes == 1 {
			*note |= NoteWindowProbe
		}
		return
	}
	hs.KeepAlives++
	ka := r.KeepAlive
	if ka == nil {
		ka = &KeepAliveTimes{}
		r.KeepAlive = ka
	}
	if hs.KeepAlives == 1 {
		*note |= NoteKeepAlive
		ka.First[s] = m.At
	}
	ka.Last[s] = m.At
}

// fin handles a FIN from s: its first moves both ends; one sent again
// restarts the peer's TIME_WAIT.
func (c *conn) fin(s Side, seg *packet.Segment, m Meta) {
	o := s.Other()
	ts, to := &c.t[s], &c.t[o]
	if ts.finSent {
		if seg.Seq+uint32(seg.Len) == ts.finSeq && c.h[o].raw == TimeWait {
			c.h[o].since = m.At // a FIN sent again restarts TIME_WAIT
		}
		return
	}
	ts.finSent = true
	ts.finSeq = seg.Seq + uint32(seg.Len)
	r := c.record()
	hs := r.Half(s)
	hs.FinAt, hs.FinPacket, hs.FinInput = m.At, m.Packet, m.Input
	if po := &c.h[o]; po.lastPayload > 0 && po.lastCtl && !c.t[o].finSent {
		r.set(recControlBeforeFin<<o, true)
	}
	from := Client
	if c.h[Server].lastPayload > c.h[Client].lastPayload {
		from = Server
	}
	if last := &c.h[from]; last.lastPayload > 0 && !c.closeAnnounced(s, from, m) {
		hs.DataBeforeFin, hs.DataBeforeFinPacket, hs.DataBeforeFinInput = last.lastPayload, last.lastPayloadPacket, last.lastPayloadInput
		hs.DataBeforeFinFrom = from
		p := c.prevData
		switch {
		case p.at == 0 && from == s && last.lastCtl && c.h[o].lastPayload == 0 && c.quietSinceHandshake(last.lastPayload, m.At):
			// A goodbye that is the first payload either way (HAProxy's
			// 408 to a connection that never sent a request): nothing
			// came before it, the quiet began with the handshake.
			hs.DataBeforeFin, hs.DataBeforeFinPacket, hs.DataBeforeFinInput = 0, 0, 0
		case p.at == 0 || p.at >= last.lastPayload:
		case c.t[from].notes&noteEcho != 0:
			// The last payload only acknowledged the one before it.
			hs.DataBeforeFin, hs.DataBeforeFinPacket, hs.DataBeforeFinInput = p.at, p.packet, p.input
			hs.DataBeforeFinFrom = p.from
		case from == s && (p.from == s || last.lastCtl) &&
			last.lastPayload.Sub(p.at) >= goodbyeQuiet && last.lastPayload.Sub(p.at) >= 10*m.At.Sub(last.lastPayload) &&
			!c.answered(last.lastPayload):
			// A goodbye (Half.Goodbye): the quiet period before it is
			// what the close ends.
			hs.DataBeforeFin, hs.DataBeforeFinPacket, hs.DataBeforeFinInput = p.at, p.packet, p.input
			hs.DataBeforeFinFrom = p.from
		}
	}
	switch c.h[s].raw {
	case CloseWait:
		if ts.ackOK && seqGE(ts.ack, to.finSeq+1) {
			c.set(s, LastAck, m.At)
		} else {
			// It sent its FIN before it received ours: both
			// sides closed at once.
			c.set(s, Closing, m.At)
		}
	case Established, SynRecv, SynSent:
		c.set(s, FinWait1, m.At)
	}
	c.receiveFin(o, m.At)
}

// quietSinceHandshake reports whether a goodbye at bye, the first
// payload either way, ended a quiet period since the handshake, as a
// goodbye after data does (Half.Goodbye): a second or more, and ten times
// as long as the moment to the FIN at fin.
func (c *conn) quietSinceHandshake(bye, fin Timestamp) bool {
	if c.midstream || !c.t[Client].synSeen || !c.t[Server].synSeen {
		return false
	}
	quiet := bye.Sub(max(c.h[Client].first, c.h[Server].first))
	return quiet >= goodbyeQuiet && quiet >= 10*fin.Sub(bye)
}

// burstGap is the longest pause between a side's message and the control
// message it sends right after, as one goodbye (see conn.prevData):
// records an application writes one after the other.
const burstGap = 10 * time.Millisecond

// goodbyeQuiet is the least quiet period a goodbye ends (Half.Goodbye):
// the idle timeouts that say goodbye are a second or more, and a pause
// within a response is shorter.
const goodbyeQuiet = time.Second

// controlMessage reports whether b, a packet's payload, is a message that
// closes or warns rather than replies: an HTTP/2 GOAWAY frame (on stream
// 0), a TLS alert record, an FTP or SMTP 421 line, an HTTP 408 Request
// Timeout, MySQL's COM_QUIT, PostgreSQL's Terminate
// ('X', length 4: what libpq and a pooler such as PgBouncer send as they
// close, and what libpq sends when it closes after the server did). TLS
// 1.3 encrypts its alerts as application data: one is known by its
// length alone, 19 bytes (a content type byte, the two of the alert, a
// 16-byte tag), sent by itself; no HTTP request is that short (an HTTP/2
// frame header is 9 bytes), though a 2-byte message of another protocol
// is (MQTT's ping).
// A goodbye after the peer's data must be one (an answer to the peer
// would be the protocol's reply); one after the closer's own data
// (PostgreSQL's FATAL, after its last response) may be anything.
func controlMessage(b []byte) bool {
	switch {
	case len(b) >= 17 && b[3] == 0x07 && binary.BigEndian.Uint32(b[5:9])&0x7fffffff == 0:
		return true
	case len(b) >= 5 && b[0] == 0x15 && b[1] == 0x03:
		return true
	case len(b) == 5+19 && b[0] == 0x17 && b[1] == 0x03 && b[3] == 0 && b[4] == 19:
		return true
	case len(b) >= 4 && (string(b[:4]) == "421 " || string(b[:4]) == "421-"):
		return true
	case len(b) == 5 && b[0] == 'X' && binary.BigEndian.Uint32(b[1:5]) == 4:
		return true
	case len(b) == 5 && string(b) == "\x01\x00\x00\x00\x01":
		// MySQL's COM_QUIT (a packet of one byte, sequence 0, command
		// 1): what a client sends as it closes.
		return true
	case len(b) >= 13 && (string(b[:13]) == "HTTP/1.1 408 " || string(b[:13]) == "HTTP/1.0 408 "):
		// A 408 Request Timeout: the server gave up waiting for a
		// request (HAProxy's timeout http-request, or timeout client
		// without it; Apache's RequestReadTimeout), and closes.
		return true
	case len(b) >= 13 && (string(b[:13]) == "HTTP/1.1 400 " || string(b[:13]) == "HTTP/1.0 400 "):
		// A 400 Bad Request: what some servers answer a request whose
		// headers never ended when they give up on it (tinyproxy's
		// Timeout). A goodbye only after a quiet period (Half.Goodbye);
		// one at once answers a bad request.
		return true
	}
	return false
}

// refusal returns the refusal b, the server's first payload, is: an
// error that a server opens a connection with when it will not serve
// the client (over a connection limit, or failing an access check),
// before it closes. Each is a protocol's own: none is a reply a served
// client gets first. The payload was n bytes on the wire, of which the
// snap length may have cut all but b: each is known by its first bytes.
func refusal(b []byte, n int) Refusal {
	switch {
	case bytes.HasPrefix(b, []byte("-ERR max number of cli")):
		return RefusalRedis
	case bytes.HasPrefix(b, []byte("ERROR Too many open conn")):
		return RefusalMemcached
	case len(b) >= 7 && b[3] == 0 && b[4] == 0xff && int(b[0])|int(b[1])<<8|int(b[2])<<16 == n-4:
		// A MySQL packet, sequence 0, an error (0xff) where the server's
		// handshake (protocol 10) would be.
		return RefusalMySQL
	case len(b) >= 12 && b[0] == 'E' && int(binary.BigEndian.Uint32(b[1:5])) <= n-1 && bytes.Contains(b[5:], []byte("SFATAL\x00")):
		return RefusalPostgres
	case len(b) >= 5 && (string(b[:4]) == "421 " || string(b[:4]) == "421-" || string(b[:4]) == "554 " || string(b[:4]) == "554-"):
		return RefusalLine
	case len(b) >= 4 && b[0] == 0x20 && (b[1] == 2 && b[3] != 0 || b[1] >= 2 && b[3] >= 0x80):
		// MQTT's CONNACK: 3.1.1's return code, or 5's reason code.
		return RefusalMQTT
	case fatalAlert(b):
		return RefusalTLS
	case bytes.HasPrefix(b, []byte("ERROR :")):
		// An IRC server's ERROR closes the link; as its first message,
		// before any greeting, it refuses the client (ngIRCd's
		// "Connection refused, too many connections from your IP
		// address", a ban).
		return RefusalIRC
	case bytes.HasPrefix(b, []byte("Exceeded MaxStartups")), bytes.HasPrefix(b, []byte("Exceeded PerSourceMaxStartups")):
		// OpenSSH over MaxStartups (unauthenticated connections) or
		// PerSourceMaxStartups writes this and closes, where its banner
		// would be.
		return RefusalSSH
	}
	return NoRefusal
}

// refusalWithin is how much a server may have sent, its refusal
// included, for a refusal after its first message to count: an AMQP
// broker's Connection.Start and Tune, and the Close that refuses.
const refusalWithin = 1024

// amqpRefusal reports whether b begins with an AMQP 0-9-1 Connection.Close
// (a method frame on channel 0, class 10, method 50) with the reply code
// 530 NOT_ALLOWED or 403 ACCESS_REFUSED: what RabbitMQ answers a
// Connection.Open with over a vhost's or a user's connection limit, or
// when access is refused.
func amqpRefusal(b []byte) bool {
	if len(b) < 13 || b[0] != 1 || b[1] != 0 || b[2] != 0 || b[7] != 0 || b[8] != 10 || b[9] != 0 || b[10] != 50 {
		return false
	}
	code := int(b[11])<<8 | int(b[12])
	return code == 530 || code == 403
}

// imapRefusal reports whether b holds an IMAP tagged NO with the response
// code LIMIT or UNAVAILABLE (RFC 5530): what Dovecot answers a LOGIN with
// over mail_max_userip_connections, or a server too busy to serve the
// user, before it closes.
func imapRefusal(b []byte) bool {
	return bytes.Contains(b, []byte(" NO [LIMIT]")) || bytes.Contains(b, []byte(" NO [UNAVAILABLE]"))
}

// socksRefusal reports whether b, sent after before bytes of the server's,
// is a SOCKS proxy's reply refusing the client's request: SOCKS5's, a
// status from 1 to 8 after its 2-byte method selection (a ruleset's
// "connection not allowed", a host unreachable); SOCKS4's, 91 to 93 as
// its first message.
func socksRefusal(b []byte, before uint64) bool {
	switch {
	case before == 2 && len(b) >= 10 && b[0] == 5 && b[1] >= 1 && b[1] <= 8 && b[2] == 0 && (b[3] == 1 || b[3] == 3 || b[3] == 4):
		return true
	case before == 0 && len(b) == 8 && b[0] == 0 && b[1] >= 0x5b && b[1] <= 0x5d:
		return true
	}
	return false
}

// natsRefusal reports whether b begins with a NATS server's -ERR that
// refuses the client as it connects: over max_connections (after its
// INFO), or credentials it does not accept (the answer to the client's
// CONNECT). (Its timeouts, "Authentication Timeout" and "Stale
// Connection", are no refusals.)
func natsRefusal(b []byte) bool {
	return bytes.HasPrefix(b, []byte("-ERR 'maximum connections exceeded'")) || bytes.HasPrefix(b, []byte("-ERR 'Authorization Violation'"))
}

// opener reports whether b, the client's first payload, opens a handshake
// that the server's protocol answers as soon as it has accepted the
// connection, whatever its application does: a TLS ClientHello, an AMQP
// protocol header, PostgreSQL's startup message or SSL request, an SSH
// client's version line, an MQTT CONNECT, the HTTP/2 connection preface,
// an rsync client's greeting. (An HTTP/1 request is not one: its answer
// waits on a handler.)
func opener(b []byte) bool {
	switch {
	case len(b) >= 6 && b[0] == 0x16 && b[1] == 0x03 && b[5] == 0x01:
		return true
	case len(b) >= 8 && string(b[:4]) == "AMQP":
		return true
	case len(b) >= 8 && binary.BigEndian.Uint32(b[:4]) >= 8 && binary.BigEndian.Uint32(b[:4]) <= 10000 &&
		(string(b[4:8]) == "\x04\xd2\x16\x2f" || string(b[4:8]) == "\x04\xd2\x16\x30" || string(b[4:8]) == "\x00\x03\x00\x00"):
		return true
	case len(b) >= 8 && string(b[:8]) == "SSH-2.0-":
		return true
	case len(b) >= 10 && b[0] == 0x10 && (bytes.Contains(b[2:min(len(b), 12)], []byte("MQTT")) || bytes.Contains(b[2:min(len(b), 14)], []byte("MQIsdp"))):
		return true
	case len(b) >= 14 && string(b[:14]) == "PRI * HTTP/2.0":
		return true
	case len(b) >= 9 && string(b[:9]) == "@RSYNCD: ":
		// An rsync client's greeting: the daemon sends its own as it
		// takes the connection up.
		return true
	}
	return false
}

// fatalAlert reports whether b begins with a fatal TLS alert record in
// the clear: content type 21, level 2.
func fatalAlert(b []byte) bool {
	return len(b) >= 7 && b[0] == 0x15 && b[1] == 0x03 && b[5] == 2
}

// calmMax is the longest payload calm looks into: a GOAWAY comes in a
// segment of its own, or with a PING's acknowledgement.
const calmMax = 256

// calm reports whether b, a packet's payload, holds whole HTTP/2 frames
// of which one is a GOAWAY (on stream 0) with the error code
// ENHANCE_YOUR_CALM (0xb): gRPC's answer to a client that pings more
// often than the server allows ("too_many_pings").
func calm(b []byte) bool {
	for len(b) >= 9 {
		n := int(b[0])<<16 | int(b[1])<<8 | int(b[2])
		if len(b) < 9+n {
			return false
		}
		if b[3] == 0x07 && binary.BigEndian.Uint32(b[5:9])&0x7fffffff == 0 && n >= 8 && binary.BigEndian.Uint32(b[13:17]) == 0xb {
			return true
		}
		b = b[9+n:]
	}
	return false
}

// pongLines reports whether b is nothing but a text protocol's answers
// to pings, whole lines: NATS's "PONG", IRC's "PONG :token". After the
// peer's FIN they ask nothing: a stopped client's late answers to the
// pings that gave up on it. (A PING asks, as Redis's inline PING is a
// request; and before the FIN a pong is data still: one sent again into a
// cut path is what shows it cut.)
func pongLines(b []byte) bool {
	if len(b) < 6 || len(b) > 256 {
		return false
	}
	for len(b) > 0 {
		line, rest, ok := bytes.Cut(b, []byte("\r\n"))
		if !ok || len(line) < 4 || string(line[:4]) != "PONG" || len(line) > 4 && line[4] != ' ' {
			return false
		}
		b = rest
	}
	return true
}

// heartbeat reports whether b, a packet's payload, is an AMQP heartbeat
// frame, or an HTTP/2 heartbeat in the clear: whole frames on stream 0, each a PING (its
// acknowledgement included) or the WINDOW_UPDATE or SETTINGS sent with
// one, at least one a PING. A PING asks only for its echo, whoever sends
// it, and servers keep such pings going on idle connections (gRPC's
// keepalive): their idle timers count requests, not pings (gRPC's
// max_connection_idle closes a connection a millisecond after a PING
// answered). Encrypted, a PING cannot be told from a GOAWAY (both 17
// bytes): this knows the clear only.
func heartbeat(b []byte) bool {
	if len(b) == 8 && string(b) == "\x08\x00\x00\x00\x00\x00\x00\xce" {
		// An AMQP 0-9-1 heartbeat frame (type 8, channel 0, empty):
		// RabbitMQ and its clients send one each way every half
		// heartbeat interval, whatever the application does.
		return true
	}
	ping := false
	for len(b) > 0 {
		if len(b) < 9 {
			return false
		}
		n := int(b[0])<<16 | int(b[1])<<8 | int(b[2])
		if binary.BigEndian.Uint32(b[5:9])&0x7fffffff != 0 || len(b) < 9+n {
			return false
		}
		switch b[3] {
		case 6: // PING
			if n != 8 {
				return false
			}
			ping = true
		case 4, 8: // SETTINGS, WINDOW_UPDATE
		default:
			return false
		}
		b = b[9+n:]
	}
	return ping
}

// maxAnnounceGap is the longest quiet period before an announced close
// that a record holds (Record.Announced): in microseconds, in 32 bits.
const maxAnnounceGap = time.Duration(1<<32-1) * time.Microsecond

// announcing reports whether a close announced by one side may still
// follow the payload side s sends now, and notes it: the announcer's
// next message if it is a control message (ctl: a close_notify), which
// makes the record hold the announcement; the peer's echoes (echo: this
// payload is one). Anything else ends the announcement.
func (c *conn) announcing(s Side, ctl, echo bool) bool {
	a := c.ann
	if a&annNoted == 0 {
		return false
	}
	switch h, p := &c.h[s], c.prevData; {
	case s == a.side() && a&annMore == 0 && ctl && h.lastPayloadInput == p.input:
		// The announcement is still s's last payload, the data before
		// it in prevData: the record keeps it.
		r := c.record()
		r.annGapUS, r.annPacket = uint32(h.lastPayload.Sub(p.at)/time.Microsecond), h.lastPayloadPacket
		c.ann |= annMore
	case s != a.side() && echo:
	default:
		c.ann = 0
		return false
	}
	return true
}

// closeAnnounced takes s's FIN at m as the end of a close it announced
// (Record.Announced), if it did: the announcement still stands, the last
// payload is s's (or an echo of it), and the FIN came more than burstGap
// after the announcement (closer, it is a goodbye in one, which fin
// tells by itself) and no later than the quiet before it lasted. The
// data before that quiet then ends DataBeforeFin.
//
// A FIN from the peer instead, within echoWindow of the announcement and
// with nothing but echoes since, answers it (a TLS client answers a
// server's close_notify with its own and its FIN, which may reach the
// capture before the server's FIN): the announcer closed first, and its
// DataBeforeFin is set then; false, as s's own is still to be set.
func (c *conn) closeAnnounced(s, from Side, m Meta) bool {
	r := c.rec
	if r.ext&annDone != 0 {
		// Decided at the peer's FIN, which answered s's announcement.
		return r.ext.side() == s
	}
	a := c.ann
	c.ann = 0
	as := a.side()
	if a&annNoted == 0 || from != as && c.t[from].notes&noteEcho == 0 {
		return false
	}
	p := c.prevData // the data before the announcement
	if p.at == 0 || p.from != as && !c.h[as].lastCtl {
		// (After the peer's data, only a control message announces: a
		// reply would be an answer.)
		return false
	}
	// The announcement: its time and packet, noted in the record when a
	// control message followed it (announcing), else s's last payload.
	at, packet := p.at+Timestamp(time.Duration(r.annGapUS)*time.Microsecond), r.annPacket
	if a&annMore == 0 {
		h := &c.h[as]
		at, packet = h.lastPayload, h.lastPayloadPacket
		if h.lastPayloadInput != p.input || c.answered(at) {
			return false
		}
	}
	gap := at.Sub(p.at)
	if as == s && (m.At.Sub(at) <= burstGap || m.At.Sub(at) > gap) || as != s && m.At.Sub(at) > echoWindow {
		return false
	}
	r.annGapUS, r.annPacket = uint32(gap/time.Microsecond), packet
	ha := r.Half(as)
	ha.DataBeforeFin, ha.DataBeforeFinPacket, ha.DataBeforeFinInput = p.at, p.packet, p.input
	ha.DataBeforeFinFrom = p.from
	r.ext |= annDone | a&annServer
	return as == s
}

// answered reports whether the payload at t carried (the end of) an HTTP
// response, as read in c's stream: an answer, not a goodbye.
func (c *conn) answered(t Timestamp) bool {
	if c.st == nil {
		return false
	}
	p := c.st.Summary()
	if p == nil || p.HTTP == nil {
		return false
	}
	x := p.HTTP.LastResponse()
	// A 408, or a 400 to no whole request, is a timeout's goodbye.
	return x != nil && x.Status != 408 && !(x.Status == 400 && x.RequestLine() == "") &&
		(Timestamp(x.ResponseAt) == t || Timestamp(x.ResponseEnd) == t)
}

// finNotCaptured takes side o as having sent its FIN, at its next sequence
// number, just before the packet m that acknowledged it (a nanosecond:
// it came first); the event cites that packet, noted NoteNotCaptured, and
// its input counts it.
func (c *conn) finNotCaptured(o Side, m Meta) {
	to := &c.t[o]
	before := c.states()
	fin := packet.Segment{Seq: to.nxt, Ack: to.ack, Flags: packet.FIN | packet.ACK}
	to.nxt++ // the FIN's sequence number
	to.finLost, to.finLostIn = true, m.Input
	m.At = max(c.h[o].last, m.At-1)
	if c.h[o].raw == CloseWait {
		// o had the peer's FIN: its own acknowledged it, as a FIN sent
		// in reply does.
		fin.Ack = c.t[o.Other()].finSeq + 1
		c.acknowledge(o, &fin, m)
	}
	c.fin(o, &fin, m)
	c.event(&fin, m, o, NoteNotCaptured, before)
	c.tr.dupsOf(m.Input).lostFins.add(int(m.Packet))
}

// handshakeDone reports whether the only change is the server completing
// the handshake, which the SYN-ACK before it already shows: not an event
// worth keeping.
func handshakeDone(before, after [2]State) bool {
	return before[Client] == after[Client] && before[Server] == SynRecv && after[Server] == Established
}

// syn handles a SYN or SYN-ACK sent by s.
func (c *conn) syn(s Side, seg *packet.Segment, m Meta, note *Note) {
	ts, to := &c.t[s], &c.t[s.Other()]
	hs := &c.h[s]
	if ts.synSeen && seg.Seq == ts.isn {
		// A retransmitted SYN or SYN-ACK: note the backoff, which tells
		// when the sender will give up.
		hs.synGapUS = micros(m.At.Sub(hs.synLast))
		hs.synLast = m.At
		if hs.synCount < 255 {
			hs.synCount++
		}
		if seg.Flags.Has(packet.ACK) && ts.synAck && to.ackOK && seqGE(to.ack, ts.isn+1) && c.h[s].raw == Established {
			// The client acknowledged our SYN, yet the SYN-ACK comes
			// again: the server dropped that ACK because its accept
			// queue was full, and sits in SYN_RECV.
			*note |= NoteListenOverflow
			ts.overflow = true
			c.set(s, SynRecv, m.At)
		}
		return
	}
	ts.isn = seg.Seq
	hs.synLast = m.At
	hs.synCount = 1
	if seg.MSS > 0 {
		hs.mss = seg.MSS
	}
	hs.wscale = seg.WScale
	if seg.OptionsCut && seg.WScale < 0 {
		hs.wscale = WScaleCut // perhaps sent, not captured
	}
	if seg.Flags.Has(packet.ACK) {
		switch c.h[s].raw {
		case Closed, SynSent, Unknown:
			c.set(s, SynRecv, m.At)
		}
		return
	}
	switch c.h[s].raw {
	case Closed, Unknown:
		c.set(s, SynSent, m.At)
	}
	if to.synSeen && !to.synAck {
		// Both sent a bare SYN before receiving the other's: a
		// simultaneous open, where each answers with a SYN-ACK.
		c.set(s, SynRecv, m.At)
		if c.h[s.Other()].raw == SynSent {
			c.set(s.Other(), SynRecv, m.At)
		}
	}
}

// receiveFin moves the receiver of a FIN.
func (c *conn) receiveFin(s Side, at Timestamp) {
	ts := &c.t[s]
	if ts.gotFin {
		return
	}
	ts.gotFin = true
	switch c.h[s].raw {
	case Established, SynRecv:
		c.set(s, CloseWait, at)
	case FinWait1:
		c.set(s, Closing, at)
	case FinWait2:
		c.set(s, TimeWait, at)
	}
}

// rstAcceptable applies the receiver's checks to an RST sent by s: in
// SYN_SENT it must acknowledge the SYN; otherwise its sequence number must
// fall in the receiver's window.
func (c *conn) rstAcceptable(s Side, seg *packet.Segment) bool {
	o := s.Other()
	ts, to := &c.t[s], &c.t[o]
	if c.h[o].raw == SynSent {
		return seg.Flags.Has(packet.ACK) && to.synSeen && seg.Ack == to.isn+1
	}
	var next uint32
	switch {
	case to.ackOK:
		next = to.ack
	case ts.nxtOK:
		next = ts.nxt
	default:
		return true // nothing to check against
	}
	win := uint32(to.win)
	hs, ho := c.h[s].wscale, c.h[o].wscale
	switch {
	case hs >= 0 && ho >= 0:
		win <<= uint(ho)
	case hs == WScaleCut || ho == WScaleCut,
		hs < 0 && ho < 0 && c.midstream:
		win = 1 << 30 // scale unknown
	}
	if win == 0 {
		win = 1
	}
	// Anything the sender had already sent may still be in flight.
	if ts.nxtOK && seqGT(ts.nxt, next+win) {
		win = ts.nxt - next + 1
	}
	return seqGE(seg.Seq, next) && seqLT(seg.Seq, next+win)
}

// payload notes n bytes of payload that the capture had not seen before,
// carried by seg.
func (c *conn) payload(s Side, seg *packet.Segment, n uint32, m Meta) {
	if n == 0 {
		return
	}
	from := Client
	if c.h[Server].lastPayload > c.h[Client].lastPayload {
		from = Server
	}
	if s == Server {
		f := NoRefusal
		switch {
		case c.t[Server].bytes-uint64(n) <= 1:
			f = refusal(seg.Payload, len(seg.Payload)+int(m.Cut))
		case c.t[Server].bytes <= refusalWithin && amqpRefusal(seg.Payload):
			f = RefusalAMQP
		case c.t[Server].bytes <= refusalWithin && imapRefusal(seg.Payload):
			f = RefusalIMAP
		case c.t[Server].bytes <= refusalWithin && natsRefusal(seg.Payload):
			f = RefusalNATS
		case c.t[Server].bytes-uint64(n) <= 2 && socksRefusal(seg.Payload, c.t[Server].bytes-uint64(n)):
			f = RefusalSOCKS
		case c.t[Server].bytes <= refusalWithin && bytes.HasPrefix(seg.Payload, []byte("@ERROR:")):
			// An rsync daemon's refusal after the greetings and the
			// module name: "@ERROR: max connections (2) reached -- try
			// again later", an unknown module, an access check.
			f = RefusalRsync
		}
		if f != NoRefusal {
			c.t[Server].notes |= sideNotes(f&7) << noteRefusalShift
			if f&8 != 0 {
				c.t[Client].notes |= noteRefusalHigh
			}
		}
	}
	if s == Server && len(seg.Payload) <= calmMax && calm(seg.Payload) {
		c.t[Server].notes |= noteCalm
	}
	if s == Client && len(seg.Payload) == 7 && fatalAlert(seg.Payload) {
		c.t[Client].notes |= noteAlert
	}
	if s == Client && c.t[Client].bytes == uint64(n) && !c.midstream && opener(seg.Payload) {
		c.t[Client].notes |= noteOpener
	}
	if heartbeat(seg.Payload) && m.Cut == 0 {
		// HTTP/2 PINGs and their acknowledgements: the connection's
		// heartbeat, not its application's data. They neither end a
		// quiet period nor announce a close, and after the peer's FIN
		// they ask nothing.
		if c.t[s.Other()].finSent {
			c.t[s].dataAfter = true
			c.t[s].notes |= afterControl
		}
		return
	}
	// A control message's continuation, written right after it (its
	// body: tinyproxy's 400 page), is the same message.
	ctl := controlMessage(seg.Payload) || from == s && c.h[s].lastCtl && m.At.Sub(c.h[s].lastPayload) <= burstGap
	l := &c.h[from]
	echo := s == Client && from != s && l.lastPayload > 0 && n <= echoMax && m.At.Sub(l.lastPayload) <= echoWindow
	short := ctl || n <= echoMax
	// While a close announced may follow, prevData stays the data before
	// the announcement.
	if !c.announcing(s, ctl, echo) {
		// An echo is passed over: prevData stays the payload it answered.
		if l.lastPayload > 0 && c.t[from].notes&noteEcho == 0 && (from != s || !ctl || m.At.Sub(l.lastPayload) > burstGap) {
			c.prevData = dataMark{l.lastPayload, l.lastPayloadPacket, l.lastPayloadInput, from}
		}
		if p := c.prevData; short && (p.from == s || ctl) && (p.at == l.lastPayload || c.t[from].notes&noteEcho != 0) &&
			p.input == m.Input && m.At.Sub(p.at) >= goodbyeQuiet && m.At.Sub(p.at) < maxAnnounceGap &&
			!c.t[Client].finSent && !c.t[Server].finSent && (c.rec == nil || c.rec.ext&annDone == 0) {
			// A short message after a quiet period, its side's own data
			// the last before it (but for an echo of it), or a control
			// message (an SMTP 421 after the client's stalled DATA):
			// perhaps a close announced. The connection notes it; no record is made
			// for it (a server's heartbeats look the same).
			c.ann = annNoted
			if s == Server {
				c.ann |= annServer
			}
		}
	}
	if echo {
		c.t[s].notes |= noteEcho
	} else {
		c.t[s].notes &^= noteEcho
	}
	h := &c.h[s]
	h.lastPayload, h.lastPayloadPacket, h.lastPayloadInput = m.At, m.Packet, m.Input
	h.lastCtl = ctl
	if c.t[s.Other()].finSent {
		c.t[s].dataAfter = true
		// Without all of its bytes (no payload read, or some cut by the
		// snap length), what it was cannot be told; but for the start of
		// an HTTP request, which no goodbye is.
		switch {
		case m.Cut > 0 && requestStart(seg.Payload):
			c.t[s].notes |= afterData
		case len(seg.Payload) == 0 || m.Cut > 0:
		case h.lastCtl:
			c.t[s].notes |= afterControl
		case pongLines(seg.Payload):
			c.t[s].notes |= afterControl
			if s == Client {
				c.t[Client].notes |= notePongs
			}
		default:
			c.t[s].notes |= afterData
		}
	}
	if m.Cut > 0 {
		// The snap length cut the packet: those bytes were not captured.
		c.t[s].missed += uint64(min(uint32(m.Cut), n))
	}
}

// requestStart reports whether b, the start of a packet's payload,
// begins a request, which no goodbye is: an HTTP request's method and
// the space after it, or a TLS record of application data too long to
// be an encrypted alert (see controlMessage). It is what a header-only
// capture keeps of one.
func requestStart(b []byte) bool {
	if len(b) >= 5 && b[0] == 0x17 && b[1] == 0x03 {
		return int(b[3])<<8|int(b[4]) > 19
	}
	for _, m := range [...]string{"GET ", "POST ", "PUT ", "HEAD ", "DELETE ", "PATCH ", "OPTIONS "} {
		if len(b) >= len(m) && string(b[:len(m)]) == m {
			return true
		}
	}
	return false
}

// seqSpace places a segment of s covering seq to end (its SYN and FIN
// included) in the sequence space seen so far: it extends it up or down,
// holes included, or fills holes. It reports whether the segment covered
// any sequence number not seen before.
func (c *conn) seqSpace(s Side, seg *packet.Segment, end uint32, m Meta) bool {
	ts := &c.t[s]
	seq, f := seg.Seq, seg.Flags
	if f.Has(packet.SYN) && (seqGT(seq, ts.nxt+maxSeqJump) || seqLT(end+maxSeqJump, ts.lo)) {
		// A SYN far from the sequence space seen: a new one, from which
		// the count starts again. (A SYN just below it is the SYN of
		// that data, captured late.)
		ts.lo, ts.nxt, ts.nholes = seq, end, 0
		ts.bytes += uint64(seg.Len)
		c.payload(s, seg, uint32(seg.Len), m)
		return true
	}
	// The payload's own sequence numbers, without the SYN and FIN.
	pLo, pHi := seq, seq+uint32(seg.Len)
	if f.Has(packet.SYN) {
		pLo++
		pHi++
	}
	fresh := false
	var n uint32 // new payload bytes
	if seqLT(seq, ts.lo) {
		// Below anything seen: earlier data, or the SYN, captured late.
		// The count goes by sequence numbers: a hole counts as sent.
		fresh = true
		if seqLT(end, ts.lo) {
			ts.addHole(&c.extra().holes[s], end, ts.lo)
		}
		ts.bytes += uint64(ts.lo - seq)
		if f.Has(packet.SYN) {
			ts.bytes--
		}
		n += overlap(pLo, pHi, seq, ts.lo)
		ts.lo = seq
	}
	if seqGT(end, ts.nxt) {
		fresh = true
		if seqGT(seq, ts.nxt) {
			ts.addHole(&c.extra().holes[s], ts.nxt, seq)
		}
		ts.bytes += uint64(end - ts.nxt)
		if f.Has(packet.FIN) {
			ts.bytes--
		}
		if f.Has(packet.SYN) && seqGE(seq, ts.nxt) {
			ts.bytes--
		}
		n += overlap(pLo, pHi, ts.nxt, end)
		ts.nxt = end
	}
	if ts.nholes > 0 {
		if k := ts.fill(&c.x.holes[s], seq, end); k > 0 {
			fresh = true
			n += k
		}
	}
	c.payload(s, seg, n, m)
	return fresh
}

// maxSeqJump is how far from the sequence numbers seen a SYN may lie and
// still belong to them, as Zeek's TOO_LARGE_SEQ_DELTA.
const maxSeqJump = 1 << 20

// overlap is how many sequence numbers from lo to hi fall between from
// and to.
func overlap(lo, hi, from, to uint32) uint32 {
	if seqLT(lo, from) {
		lo = from
	}
	if seqGT(hi, to) {
		hi = to
	}
	if seqLT(lo, hi) {
		return hi - lo
	}
	return 0
}

// addHole notes that lo to hi was not seen. Past maxHoles the oldest
// hole is let go: its bytes are taken as missed for good.
func (ts *track) addHole(hs *holes, lo, hi uint32) {
	if int(ts.nholes) == maxHoles {
		ts.missed += uint64(hs[0].hi - hs[0].lo)
		copy(hs[:], hs[1:])
		ts.nholes--
	}
	hs[ts.nholes] = seqRange{lo, hi}
	ts.nholes++
}

// fill takes the segment from seq to end out of the holes hs and returns
// how many of their sequence numbers it covered.
func (ts *track) fill(hs *holes, seq, end uint32) uint32 {
	var n uint32
	for i := 0; i < int(ts.nholes); i++ {
		h := hs[i]
		k := overlap(seq, end, h.lo, h.hi)
		if k == 0 {
			continue
		}
		n += k
		left, right := seqLT(h.lo, seq), seqGT(h.hi, end)
		switch {
		case left && right: // split in two
			hs[i].hi = seq
			if int(ts.nholes) == maxHoles {
				ts.missed += uint64(h.hi - end) // no room: given up
			} else {
				copy(hs[i+2:], hs[i+1:ts.nholes])
				hs[i+1] = seqRange{end, h.hi}
				ts.nholes++
				i++
			}
		case left:
			hs[i].hi = seq
		case right:
			hs[i].lo = end
		default: // filled
			copy(hs[i:], hs[i+1:ts.nholes])
			ts.nholes--
			i--
		}
	}
	return n
}

func (c *conn) set(s Side, st State, at Timestamp) {
	h := &c.h[s]
	if h.raw != st {
		h.raw, h.since = st, at
	}
}

// dropsEvents reports whether the connection's record keeps no events: it
// closed cleanly, and its client's SYN was answered the first time (a SYN
// sent again tells a slow connect, and its packets are cited).
func (c *conn) dropsEvents(cfg Config) bool {
	return !cfg.AllEvents && c.closedCleanly() && c.h[Client].synCount <= 1
}

// closedCleanly reports whether both sides sent a FIN the other
// acknowledged, with no RST, and nothing is left open.
func (c *conn) closedCleanly() bool {
	cl, sv := &c.t[Client], &c.t[Server]
	return cl.finSent && sv.finSent && cl.synSeen && sv.synSeen && c.rsts(Client) == 0 && c.rsts(Server) == 0 &&
		(c.h[Client].raw == Closed || c.h[Client].raw == TimeWait) && (c.h[Server].raw == Closed || c.h[Server].raw == TimeWait)
}

// seqCounts returns the payload bytes side s sent and those the capture
// missed, by sequence numbers as Zeek counts them (TCP_Endpoint::Size):
// from its first sequence number to its last, holes included, and past
// either where the peer's acknowledgements show more: data acknowledged
// beyond what was captured, and for a side whose first packets were not
// captured, what the peer acknowledged before them. The SYN and a
// captured FIN are not counted.
func (c *conn) seqCounts(s Side) (bytes, missed uint64) {
	ts, to := &c.t[s], &c.t[s.Other()]
	bytes, missed = ts.bytes, ts.missed
	if ts.nholes > 0 {
		for _, h := range c.x.holes[s][:ts.nholes] {
			missed += uint64(h.hi - h.lo)
		}
	}
	if !to.ackOK {
		return bytes, missed
	}
	var extra uint32
	switch {
	case !ts.nxtOK:
		// Nothing captured from s: only the peer's acknowledgements
		// tell what it sent.
		if seqGT(to.ack, to.firstAck) {
			extra = to.ack - to.firstAck
		}
	default:
		if seqGT(to.ack, ts.nxt) {
			extra = to.ack - ts.nxt
		}
		if !ts.synSeen && seqLT(to.firstAck, ts.lo) {
			extra += ts.lo - to.firstAck
		}
	}
	if extra < 1<<30 { // not a bogus acknowledgement
		bytes += uint64(extra)
		missed += uint64(extra)
	}
	return bytes, missed
}

// rsts is how many RSTs side s sent (only a record counts them).
func (c *conn) rsts(s Side) uint32 {
	if c.rec == nil {
		return 0
	}
	return c.rec.Half(s).RSTs
}

// states returns both sides' states.
func (c *conn) states() [2]State { return [2]State{c.h[Client].raw, c.h[Server].raw} }

// flushTo writes the hot state to r: the connection's record, or a copy.
func (c *conn) flushTo(r *Record) {
	r.Last = c.last
	for s := Client; s <= Server; s++ {
		h, x := r.Half(s), &c.h[s]
		h.raw, h.Since = x.raw, x.since
		h.FirstPacket, h.LastPacket = x.first, x.last
		h.Packets, h.WireBytes, h.IPBytes = x.packets, x.wire, x.ip
		h.Bytes, h.Missed = c.seqCounts(s)
		h.LastPayload, h.LastPayloadPacket, h.LastPayloadInput = x.lastPayload, x.lastPayloadPacket, x.lastPayloadInput
		h.synLast, h.synCount, h.WScale, h.MSS = x.synLast, x.synCount, x.wscale, x.mss
		h.synGapUS = x.synGapUS
		if x.synCount > 0 {
			h.ISN = c.t[s].isn
		}
	}
}

// load reads the hot state, and what the record started with, back from
// the record.
func (c *conn) load() {
	r := c.rec
	c.last = r.Last
	c.order = uint64(r.ID)
	if r.Server.FirstPacket == r.First && r.Server.Packets > 0 {
		c.firstFrom = Server
	}
	c.midstream, c.inferred, c.reused = r.Midstream, r.RolesInferred, r.Reused
	c.fam = [2]family{r.Key.cfam, r.Key.sfam}
	if !c.clientA {
		c.fam[0], c.fam[1] = c.fam[1], c.fam[0]
	}
	for s := Client; s <= Server; s++ {
		h := r.Half(s)
		c.h[s] = hot{raw: h.raw, since: h.Since, first: h.FirstPacket, last: h.LastPacket,
			packets: h.Packets, wire: h.WireBytes, ip: h.IPBytes,
			lastPayload: h.LastPayload, lastPayloadPacket: h.LastPayloadPacket, lastPayloadInput: h.LastPayloadInput,
			synLast: h.synLast, synGapUS: h.synGapUS, synCount: h.synCount, wscale: h.WScale, mss: h.MSS}
	}
}

func (c *conn) event(seg *packet.Segment, m Meta, s Side, note Note, before [2]State) {
	if before != c.states() {
		note |= NoteStateChange
	}
	e := Event{
		At: m.At, Packet: m.Packet, Input: m.Input, From: s, Flags: seg.Flags,
		Seq: seg.Seq, Ack: seg.Ack, Len: uint32(seg.Len), Note: note,
		ClientState: c.h[Client].raw, ServerState: c.h[Server].raw,
	}
	kept := 0 // in the record already (a connection taken up again)
	if c.rec != nil {
		kept = len(c.rec.Events)
	}
	switch {
	case kept+int(c.nev)+len(c.overflow()) >= maxEvents:
		c.record().dropEvents(1)
	case c.nev < inlineEvents:
		c.ev[c.nev] = e
		c.nev++
	case len(c.overflow()) < maxEvents-inlineEvents:
		x := c.extra()
		x.overflow = append(x.overflow, e)
	default:
		c.record().dropEvents(1)
	}
}

// History letters: each logged once per direction (S, H, F and R again
// for a packet with another sequence number, as Zeek does).
const histLetters = "SHADFRTWQI"

// histBit is each history letter's bit in track.hist: a table, as a
// letter is logged for every packet.
var histBit = func() (t [256]uint16) {
	for i := range len(histLetters) {
		t[histLetters[i]] = 1 << i
	}
	return t
}()

// flagLetters logs Zeek's history letters for a segment's flags: S, H, F
// or R for a packet with one of SYN, FIN and RST, I for FIN and RST, Q
// for other combinations; D for payload and A for a bare ACK otherwise.
func (c *conn) flagLetters(s Side, seg *packet.Segment) {
	ts := &c.t[s]
	f := seg.Flags
	switch f & (packet.SYN | packet.FIN | packet.RST) {
	case 0:
		switch {
		case seg.Len > 0:
			c.log(s, 'D')
		case f.Has(packet.ACK):
			c.log(s, 'A')
		}
	case packet.SYN:
		letter := byte('S')
		if f.Has(packet.ACK) {
			letter = 'H'
		}
		c.logAgain(s, letter, ts.synSeen && seg.Seq != ts.isn)
	case packet.FIN:
		fin := seg.Seq + uint32(seg.Len)
		c.logAgain(s, 'F', ts.finSent && fin != ts.histFin)
		ts.histFin = fin
	case packet.RST:
		c.logAgain(s, 'R', c.rsts(s) > 0 && seg.Seq != ts.histRst)
		ts.histRst = seg.Seq
	case packet.FIN | packet.RST:
		c.log(s, 'I')
	default:
		c.log(s, 'Q')
	}
}

// logAgain logs a letter the first time, and again when again is set.
func (c *conn) logAgain(s Side, letter byte, again bool) {
	bit := histBit[letter]
	if c.t[s].hist&bit == 0 || again {
		c.t[s].hist |= bit
		c.appendHist(s, letter)
	}
}

func (c *conn) log(s Side, letter byte) {
	bit := histBit[letter]
	if c.t[s].hist&bit != 0 {
		return
	}
	c.t[s].hist |= bit
	c.appendHist(s, letter)
}

// logCounted logs a letter the 1st, 10th, 100th... time, as Zeek does for
// repeated retransmissions and zero windows.
func (c *conn) logCounted(s Side, letter byte, n uint32) {
	for n%10 == 0 {
		n /= 10
	}
	if n == 1 {
		c.appendHist(s, letter)
	}
}

// appendFlip logs Zeek's ^: the client is not the sender of the first
// packet.
func (c *conn) appendFlip() {
	c.hist[c.nh] = '^'
	c.nh++
}

func (c *conn) appendHist(s Side, letter byte) {
	if int(c.nh) >= len(c.hist) {
		return
	}
	if s == Server {
		letter += 'a' - 'A'
	}
	c.hist[c.nh] = letter
	c.nh++
}

// retiredConn is what is kept of a retired connection: its record, and
// while the slot is valid its sequence state, enough to take it up again
// exactly where it was should a late packet come.
type retiredConn struct {
	r    *Record // its clientA says which way the tuple goes
	slot int32   // in Tracker.slots; valid while the slot's gen matches
	gen  uint32
}

// is reports whether rc is the connection of tuple k: the table that
// holds it goes by the tuple's hash, which another tuple may share.
func (rc *retiredConn) is(k *tuple) bool {
	return rc.r.tuple() == *k
}

// tuple is the tuple of r's connection.
func (r *Record) tuple() tuple {
	k, _ := makeTuple(r.Key.Client(), r.Key.Server())
	return k
}

// conns returns every connection in the table, chains included, in a
// slice the next call reuses.
func (t *Tracker) conns() []*conn {
	out := t.connBuf[:0]
	for i := range t.flows.slots {
		for c := t.flows.slots[i].v; c != nil; c = c.next {
			out = append(out, c)
		}
	}
	t.connBuf = out
	return out
}

// slotChunk is how many slots are allocated at once: chunks never move,
// so the slab grows without copying.
const slotChunk = 4096

func (t *Tracker) slot(i int32) *seqSlot { return &t.slots[i/slotChunk][i%slotChunk] }

type seqSlot struct {
	t   [2]track
	gen uint32
}

type retiredAt struct {
	r    *Record
	at   Timestamp
	slot int32
	gen  uint32
}

// park retires c into the retired map, its sequence state in a slot.
func (t *Tracker) park(c *conn) retiredConn {
	var i int32
	if n := len(t.freeSlots); n > 0 {
		i = t.freeSlots[n-1]
		t.freeSlots = t.freeSlots[:n-1]
	} else {
		if t.nslots%slotChunk == 0 {
			t.slots = append(t.slots, new([slotChunk]seqSlot))
		}
		i = t.nslots
		t.nslots++
	}
	r := c.record()
	r.set(recClientA, c.clientA)
	sl := t.slot(i)
	sl.gen++
	sl.t = c.t
	if c.t[Client].nholes > 0 || c.t[Server].nholes > 0 {
		hs := c.x.holes // c's connExtra goes with c to its next use
		if t.slotHoles == nil {
			t.slotHoles = map[int32]*[2]holes{}
		}
		t.slotHoles[i] = &hs
	}
	rc := retiredConn{r: r, slot: i, gen: sl.gen}
	t.retired.set(c.key.hash(), rc)
	return rc
}

// unpark returns a retired connection's sequence state (its holes, when
// it has any) and frees its slot; exact is false when the state was
// already dropped.
func (t *Tracker) unpark(rc *retiredConn) (tracks [2]track, hs *[2]holes, exact bool) {
	sl := t.slot(rc.slot)
	if sl.gen != rc.gen {
		return tracks, nil, false
	}
	hs = t.slotHoles[rc.slot]
	t.freeSlot(rc.slot, rc.gen)
	return sl.t, hs, true
}

// freeSlot frees slot i if it still holds generation gen.
func (t *Tracker) freeSlot(i int32, gen uint32) bool {
	sl := t.slot(i)
	if sl.gen != gen {
		return false
	}
	sl.gen++
	t.freeSlots = append(t.freeSlots, i)
	if len(t.slotHoles) > 0 {
		delete(t.slotHoles, i)
	}
	return true
}

// revive puts a retired connection back in the table.
func (t *Tracker) revive(k tuple, h uint64, rc *retiredConn, tracks [2]track, hs *[2]holes) *conn {
	t.revived++
	c := t.alloc()
	c.tr = t
	c.key, c.rec, c.st, c.t, c.clientA = k, rc.r, rc.r.stream, tracks, rc.r.is(recClientA)
	if hs != nil {
		c.extra().holes = *hs
	}
	c.rec.set(recHeld, true)
	c.nh = uint8(copy(c.hist[:], c.rec.History))
	c.load()
	t.insert(h, c)
	return c
}

// endingConn is a connection that finished on both ends, and when.
type endingConn struct {
	c  *conn
	at Timestamp
}

// retire takes a connection out of the table: its record keeps what is
// needed for the report, its tracking state is reused.
func (t *Tracker) retire(c *conn) {
	t.remove(c)
	r := c.record()
	r.set(recHeld, false)
	c.summarize(r, &t.strs)
	t.pay.retire(r, &c.t, over(c.h[Client].raw) && over(c.h[Server].raw))
	if c.dropsEvents(t.cfg) {
		r.Events, c.nev = nil, 0
		if c.x != nil {
			c.x.overflow = c.x.overflow[:0]
		}
	}
	if added := int(c.nev) + len(c.overflow()); added > 0 {
		// A revived connection already has events in the arena.
		old := len(r.Events)
		n := old + added
		if len(t.evChunk) < n {
			t.evChunk = make([]Event, max(arenaChunk, n))
		}
		ev := t.evChunk[:n:n]
		t.evChunk = t.evChunk[n:]
		copy(ev, r.Events)
		copy(ev[old:], c.ev[:c.nev])
		copy(ev[old+int(c.nev):], c.overflow())
		r.Events = ev
	}
	if c.x != nil {
		c.x.overflow = c.x.overflow[:0] // its array is reused
	}
	c.rec, c.st, c.gone = nil, nil, true
	if !c.queued && !t.finishing {
		t.free = free.Keep(t.free, c)
	}
}

// summarize writes what the connection knows to r (its record, or a copy
// of it): the hot state, the history, and what only the sequence state
// tells. Events are left to the caller.
func (c *conn) summarize(r *Record, strs *intern.Table) {
	c.flushTo(r)
	r.Client.ZeroWindowAtEnd, r.Server.ZeroWindowAtEnd = c.t[Client].zeroWin, c.t[Server].zeroWin
	for side := Client; side <= Server; side++ {
		r.set(recDataAfterFin<<side, c.t[side].notes&afterData != 0)
		r.set(recControlAfterFin<<side, c.t[side].notes&afterControl != 0)
	}
	if c.t[Client].notes&noteOther != 0 {
		r.ext |= extOtherProtocol
	} else {
		r.ext &^= extOtherProtocol
	}
	// What the payload told of the refusal, the pings and the alert only
	// accumulates: a connection taken up again long after it left the
	// table (its notes rebuilt without them) keeps what its record holds.
	f := Refusal(c.t[Server].notes >> noteRefusalShift & 7)
	if c.t[Client].notes&noteRefusalHigh != 0 {
		f |= 8
	}
	if f != NoRefusal {
		r.setRefusal(f)
	}
	if c.t[Server].notes&noteCalm != 0 {
		r.ext |= extPings
	}
	if c.t[Client].notes&noteAlert != 0 {
		r.ext |= extClientAlert
	}
	if c.t[Client].notes&noteOpener != 0 {
		r.setExt2(ext2Opener, true)
	}
	if c.t[Client].notes&notePongs != 0 {
		r.setExt2(ext2Pongs, true)
	}
	r.History = strs.Get(c.hist[:c.nh])
	if !c.t[Client].sent != !c.t[Server].sent {
		// Only one direction was captured. A side that acknowledged
		// something evidently heard from the other: its packets were
		// missed, and neither state can be known.
		for s := Client; s <= Server; s++ {
			if c.t[s].sent && c.t[s].ackOK && r.Half(s).RSTs == 0 {
				r.OneSided = true
			}
		}
	}
}

// snapshot returns a copy of every connection's record as it stands now,
// without disturbing the pass: what Finish would return (before its
// timers are applied) if the capture ended here.
func (t *Tracker) snapshot() []*Record {
	inTable := make(map[*Record]*conn, t.open)
	var bare []*conn // in the table, with no record yet
	for _, c := range t.conns() {
		if c.rec == nil {
			bare = append(bare, c)
			continue
		}
		inTable[c.rec] = c
	}
	copies := make([]Record, len(t.records)+len(bare))
	out := make([]*Record, len(copies))
	for j, c := range bare {
		cp := &copies[len(t.records)+j]
		c.start(cp)
		cp.packed = c.packed
		t.pay.snapshot(cp, cp, c)
		cp.stream = nil
		c.summarize(cp, &t.strs)
		if !c.dropsEvents(t.cfg) {
			cp.Events = slices.Concat(c.ev[:c.nev], c.overflow())
		}
		out[len(t.records)+j] = cp
	}
	for i, r := range t.records {
		cp := &copies[i]
		*cp = *r
		cp.set(recHeld, false) // as Finish leaves it
		cp.stream = nil
		c := inTable[r]
		t.pay.snapshot(cp, r, c)
		if cp.KeepAlive != nil {
			ka := *cp.KeepAlive // the tracker goes on updating its own
			cp.KeepAlive = &ka
		}
		if c != nil {
			// As retire would leave it.
			c.summarize(cp, &t.strs)
			switch {
			case c.dropsEvents(t.cfg):
				cp.Events = nil
			case c.nev > 0:
				cp.Events = slices.Concat(r.Events, c.ev[:c.nev], c.overflow())
			case cp.RolesInferred:
				cp.Events = slices.Clone(cp.Events) // inferRoles may swap them
			}
		} else if cp.RolesInferred {
			cp.Events = slices.Clone(cp.Events) // inferRoles may swap them
		}
		out[i] = cp
	}
	// The embryos, as connections (made apart: they stay embryos).
	out = append(out, t.embryoCopies()...)
	sortByFirst(out)
	return out
}

// Sweeps: how often, how long a finished connection stays in the table
// (for its last ACKs and retransmissions), and how long its tuple is
// remembered after that.
const (
	sweepEvery  = time.Second
	quietBefore = 2 * time.Second
	// A connection idle this long leaves the table whatever its state
	// (a leaked CLOSE_WAIT can sit for hours) and is kept in its compact
	// retired form until a packet takes it up again.
	freezeAfter = 5 * time.Second
	// restAfter is how long a connection in the table is quiet before
	// its byte stream rests, when it can (between messages): its record
	// keeps where reading stood, a few hundred bytes where the stream
	// and its parser take about a thousand. Resting costs a packing and,
	// if the connection speaks again, an unpacking: little next to half
	// a second, the time a server has commonly answered by. (The sweeps
	// come once a second, so a stream rests after 0.5 to 1.5 s.)
	restAfter = 500 * time.Millisecond
	// lateWindow is how long a retired connection keeps its sequence
	// state for late packets: retransmissions come within seconds.
	lateWindow = 10 * time.Second
)

// sweep retires connections that are over: nothing open on either side
// (closed, or only a timer left) and quiet for a moment. It keeps the
// table, and memory, proportional to the connections open at once.
func (t *Tracker) sweep() {
	t.lastSweep = t.last
	if t.pay != nil {
		t.pay.flush(t.last)
	}
	t.sweepLone()
	keep := t.ending[:0]
	for i, e := range t.ending {
		if t.last.Sub(e.at) < quietBefore {
			// It and those after it finished too recently to be quiet.
			keep = append(keep, t.ending[i:]...)
			break
		}
		c := e.c
		switch {
		case c.gone: // retired already (port reuse)
		case !over(c.h[Client].raw) || !over(c.h[Server].raw):
			c.queued = false // not over after all (a late SYN): add queues it again
		case t.last.Sub(c.last) < quietBefore:
			keep = append(keep, e)
		default:
			rc := t.park(c)
			c.queued = false
			t.retire(c)
			t.expiry = append(t.expiry, retiredAt{r: rc.r, at: t.last, slot: rc.slot, gen: rc.gen})
		}
	}
	clear(t.ending[len(keep):])
	t.ending = keep

	if t.last.Sub(t.lastFreeze) >= min(t.cfg.idleEvict(), freezeAfter) {
		t.lastFreeze = t.last
		for _, c := range t.conns() {
			if !c.queued && t.last.Sub(c.last) >= t.cfg.idleEvict() {
				t.park(c)
				t.retire(c)
				t.frozen++
			}
		}
	}
	if t.pay != nil && t.last.Sub(t.lastRest) >= restAfter {
		t.lastRest = t.last
		for _, c := range t.conns() {
			if c.st != nil && !c.queued && t.last.Sub(c.last) >= restAfter {
				t.pay.rest(c)
			}
		}
	}
	// Retired connections drop their sequence state after lateWindow, and
	// are forgotten once no timer of theirs can be running.
	horizon := max(t.cfg.timeWait(), t.cfg.finTimeout()) + quietBefore
	for _, e := range t.expiry[t.pastN:] {
		if t.last.Sub(e.at) <= lateWindow {
			break
		}
		t.freeSlot(e.slot, e.gen) // unless revived since
		t.pastN++
	}
	n := 0
	for n < t.pastN && t.last.Sub(t.expiry[n].at) > horizon {
		e := t.expiry[n]
		k := e.r.tuple()
		h := k.hash()
		// Only the entry of this very retirement: a connection taken up
		// again and retired since has a later horizon of its own.
		if rc := t.retired.get(h); rc.r == e.r && rc.slot == e.slot && rc.gen == e.gen && over(e.r.Client.raw) && over(e.r.Server.raw) {
			t.retired.del(h)
		}
		n++
	}
	if n > 0 {
		t.expiry = append(t.expiry[:0], t.expiry[n:]...)
		t.pastN -= n
	}
}

// evict keeps memory under Config.MaxFlows: the connections idle the
// longest leave the table if it alone is over the cap, then the oldest
// records of connections out of the table are dropped, down to 90% of it
// (and at least one below it, for the connection about to start).
func (t *Tracker) evict() {
	target := min(t.cfg.MaxFlows-t.cfg.MaxFlows/10, t.cfg.MaxFlows-1)
	if t.open > target {
		conns := t.conns()
		slices.SortFunc(conns, func(a, b *conn) int { return cmp.Compare(a.last, b.last) })
		for _, c := range conns[:t.open-target] {
			t.park(c)
			t.retire(c)
			t.frozen++
		}
	}
	drop := len(t.records) + t.unrecorded - target
	dropped := make(map[*Record]bool, max(drop, 0))
	keep := t.records[:0]
	for _, r := range t.records {
		if drop > 0 && !r.is(recHeld) {
			k := r.tuple()
			h := k.hash()
			if rc := t.retired.get(h); rc.r == r {
				t.retired.del(h)
				t.freeSlot(rc.slot, rc.gen)
			}
			dropped[r] = true
			drop--
			t.evicted++
			continue
		}
		keep = append(keep, r)
	}
	clear(t.records[len(keep):])
	t.records = keep
	// Nor does the list of retired connections keep them: memory holds
	// the cap's records, not every connection of the last minute.
	keepE, pastN := t.expiry[:0], t.pastN
	for i, e := range t.expiry {
		if !dropped[e.r] {
			keepE = append(keepE, e)
			continue
		}
		if i < t.pastN {
			pastN--
		} else {
			t.freeSlot(e.slot, e.gen)
		}
	}
	clear(t.expiry[len(keepE):])
	t.expiry, t.pastN = keepE, pastN
}

// Evicted is how many connections were dropped for Config.MaxFlows.
func (t *Tracker) Evicted() int { return t.evicted }

func over(s State) bool {
	return s == Closed || s == TimeWait || s == FinWait2
}

// Finish ends the pass and returns every connection, in order of first
// packet, with the states as they stand at cfg.At (or the last packet).
// It returns the moment the states were taken at.
func (t *Tracker) Finish() ([]*Record, time.Time) {
	recs, at := t.finish()
	numbered(recs)
	inferRoles(recs)
	return recs, at
}

// finish is Finish but for the roles, which need every tracker's records.
func (t *Tracker) finish() ([]*Record, time.Time) {
	at := t.last
	if !t.cfg.At.IsZero() {
		at = TS(t.cfg.At)
	}
	t.aggs = t.finishLone(at)
	if t.pay != nil {
		t.pay.flushAll()
	}
	// The connections go as their records are made: nothing holds them
	// after (not the free list), and memory need not hold both at once.
	t.ending, t.free, t.finishing = nil, nil, true
	conns := t.conns()
	t.connBuf = nil
	// In the order of their slots: the arena's slabs fill one after the
	// other as the connections go.
	radixSort(conns, func(c *conn) uint64 { return uint64(c.slot) })
	for i, c := range conns {
		t.retire(c)
		conns[i] = nil
	}
	recs := t.records
	sortByFirst(recs)
	for _, r := range recs {
		t.pay.finish(r)
	}
	t.records, t.recSlabs, t.free, t.slots, t.freeSlots, t.expiry, t.ending = nil, nil, nil, nil, nil, nil, nil
	t.slotHoles = nil
	t.flows, t.retired = hashTable[*conn]{}, hashTable[retiredConn]{}
	for _, r := range recs {
		t.finalize(r, at)
	}
	return recs, at.Time()
}

// sortByFirst puts records in order of first packet, by their IDs (which
// hold its Meta.Order until they are numbered). A record is made when
// its connection first needs one, so the list is far from that order.
func sortByFirst(recs []*Record) {
	radixSort(recs, func(r *Record) uint64 { return uint64(r.ID) })
}

// radixSort sorts xs by key, stably, 11 bits at a time: the keys are
// read once and sorted beside their items, not through them.
func radixSort[T any](xs []T, key func(T) uint64) {
	type keyed struct {
		k uint64
		x T
	}
	keys := make([]keyed, len(xs))
	sorted, top := true, uint64(0)
	for i, x := range xs {
		keys[i] = keyed{key(x), x}
		sorted = sorted && (i == 0 || keys[i-1].k <= keys[i].k)
		top = max(top, keys[i].k)
	}
	if sorted {
		return
	}
	const bits = 11
	tmp := make([]keyed, len(keys))
	for shift := uint(0); shift < 64 && top>>shift > 0; shift += bits {
		var at [1<<bits + 1]int
		for _, k := range keys {
			at[(k.k>>shift)&(1<<bits-1)+1]++
		}
		for d := 1; d < len(at); d++ {
			at[d] += at[d-1]
		}
		for _, k := range keys {
			d := (k.k >> shift) & (1<<bits - 1)
			tmp[at[d]] = k
			at[d]++
		}
		keys, tmp = tmp, keys
	}
	for i := range keys {
		xs[i] = keys[i].x
	}
}

// finalize applies the timers at time at, and the rules for what a
// capture cannot know.
func (t *Tracker) finalize(r *Record, at Timestamp) {
	noSocket := r.settleUnanswered(at)
	if r.settleHalfOpen(at) {
		noSocket[Server] = true
	}
	for s, h := range []*Half{&r.Client, &r.Server} {
		h.State, h.Expired = h.raw, Unknown
		age := at.Sub(h.Since)
		switch h.raw {
		case TimeWait:
			if age >= t.cfg.timeWait() {
				h.State, h.Expired = Closed, TimeWait
			}
		case FinWait2:
			if !h.HalfClosed && age >= t.cfg.finTimeout() {
				h.State, h.Expired = Closed, FinWait2
			}
		case SynSent, SynRecv:
			if gaveUp(h, at) || noSocket[s] {
				h.State, h.Expired = Closed, h.raw
			}
		}
	}
	if r.OneSided {
		for _, h := range []*Half{&r.Client, &r.Server} {
			if h.RSTs == 0 {
				h.State, h.Expired = Unknown, Unknown
			}
		}
	}
}

// gaveUp reports whether an endpoint retransmitting its SYN (or SYN-ACK)
// has given up by time at. Retransmissions back off exponentially, each
// interval double the one before; the sender gives up instead of sending
// the next one. The first interval is the initial RTO, 1 s on Linux (3 s
// on older Windows). The retry count is a setting
// (net.ipv4.tcp_syn_retries), so it is not assumed: silence for
// a tenth as long again as the next interval (100 ms at least: a
// path's queues) means no retransmission is coming (stacks back off by
// doubling, or less: macOS repeats its first interval; none waits longer,
// and a retransmission timer is exact to a few milliseconds).
func gaveUp(h *Half, at Timestamp) bool {
	if h.synCount == 0 || h.synLast == 0 {
		return false
	}
	next := 2 * time.Duration(h.synGapUS) * time.Microsecond
	if h.synCount < 2 || next <= 0 {
		next = 3 * time.Second
	}
	return at.Sub(h.synLast) > synWait(next)
}

// synWait is how long after a SYN (or SYN-ACK) sent again the next one
// is overdue, next being the interval expected before it (see gaveUp).
func synWait(next time.Duration) time.Duration { return next + max(next/10, 100*time.Millisecond) }

// inferRoles fixes the roles of midstream connections. The side that sent
// HTTP requests is the client, whatever the ports say; an endpoint that
// accepted a handshake, or answered HTTP requests, elsewhere in the
// capture is a server (the idle pooled connections of a keep-alive leak
// carry nothing, but their busy siblings do).
func inferRoles(recs []*Record) {
	servers := map[netip.AddrPort]bool{}
	var buf payload.Buffer
	for _, r := range recs {
		if !r.RolesInferred {
			servers[r.Key.Server()] = true
			continue
		}
		if h := r.httpRoles(&buf); h != nil {
			if h.Client != payload.Client {
				r.swap()
			}
			servers[r.Key.Server()] = true
		}
	}
	for _, r := range recs {
		if r.RolesInferred && r.httpRoles(&buf) == nil && servers[r.Key.Client()] && !servers[r.Key.Server()] {
			r.swap()
		}
	}
}

// httpRoles returns the HTTP read on a connection when it tells the roles:
// one side sent requests, or the other answered.
func (r *Record) httpRoles(buf *payload.Buffer) *payload.HTTP {
	p := r.ReadPayload(buf)
	if p == nil || p.HTTP == nil || p.HTTP.Requests+p.HTTP.Responses == 0 {
		return nil
	}
	return p.HTTP
}

// swap exchanges the roles of client and server.
func (r *Record) swap() {
	r.Key.swap()
	r.Client, r.Server = r.Server, r.Client
	for _, f := range []recFlags{recDataAfterFin, recControlAfterFin} {
		c, sv := r.is(f<<Client), r.is(f<<Server)
		r.set(f<<Client, sv)
		r.set(f<<Server, c)
	}
	if ka := r.KeepAlive; ka != nil {
		ka.First[0], ka.First[1] = ka.First[1], ka.First[0]
		ka.Last[0], ka.Last[1] = ka.Last[1], ka.Last[0]
	}
	for i := range r.Events {
		e := &r.Events[i]
		e.From = e.From.Other()
		e.ClientState, e.ServerState = e.ServerState, e.ClientState
	}
	h := []byte(r.History)
	flipped := len(h) > 0 && h[0] == '^'
	if flipped {
		h = h[1:]
	}
	for i, b := range h {
		switch {
		case 'A' <= b && b <= 'Z':
			h[i] = b + 'a' - 'A'
		case 'a' <= b && b <= 'z':
			h[i] = b - ('a' - 'A')
		}
	}
	// Zeek's ^ says the client did not send the first packet.
	if flipped {
		r.History = string(h)
	} else {
		r.History = "^" + string(h)
	}
	r.packed = r.packed.Swap()
}

// micros is d in whole microseconds, at most the largest uint32.
func micros(d time.Duration) uint32 {
	return uint32(min(max(d, 0)/time.Microsecond, math.MaxUint32))
}
