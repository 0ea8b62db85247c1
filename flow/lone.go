package flow

import (
	"maps"
	"math"
	"net/netip"
	"slices"
	"time"

	"github.com/flowdoc/flowdoc/flow/packet"
	"github.com/flowdoc/flowdoc/flow/payload"
)

// Connections that carry no conversation: SYNs that nothing answers, or
// that the server answers and the client never follows (a SYN flood
// answered with SYN cookies), or a scan's SYNs to many destinations. A
// flood or a scan sends millions of them, each a connection of its own,
// and a record apiece would make memory follow the capture.
//
// The files: syncount.go decides which SYNs may be folded (synCounter,
// fed by the reading goroutine in capture order, so that what follows
// does not depend on how many trackers run); this file keeps them as
// embryos and folds them; aggregate.go counts the folded per server
// endpoint or scanning client (flow.Aggregate); folded.go remembers the
// tuple and ISN of those no longer kept, to count their late packets.
//
// The order things happen in for one tuple:
//  1. a foldable bare SYN with no connection on its tuple makes an
//     embryo, a compact pointer-free copy of it (as a kernel holds a
//     request socket); other SYNs make connections at once;
//  2. the same SYN sent again, and the SYN-ACKs that answer it, are kept
//     with it (two of each at most);
//  3. the server's RST refusing the SYN folds it at once, refused, once
//     the server or the client has had many refusals (the connection is
//     over; its tuple and ISN are remembered, folded.go);
//     any other packet on the tuple (the client's ACK, another RST, one
//     too many) makes it a connection: its packets are replayed through
//     the state machine as if the connection had been there all along;
//  4. with no packet for foldAge (found by a sweep, or by the next packet
//     on the tuple), it is folded: counted in its aggregate, unanswered
//     or half-open, and kept (retain) should its connection go on after
//     all, in which case it is taken back out (unfold) and goes on as in
//     3; past the tracker's share of retainCap the oldest are
//     forgotten, their tuple and ISN only remembered (folded.go);
//  5. at the end, the embryos left are folded, as in progress when their
//     last packet is younger than the initial RTO.

// foldAge is how long a SYN waits for an answer before it is lone: the
// initial retransmission timeout, after which its client sends it again.
const foldAge = InitialRTO

// synPkt is a bare SYN as an embryo keeps it: enough to replay it.
type synPkt struct {
	at       Timestamp
	order    uint64
	packet   uint32
	wire     uint32
	seq, ack uint32
	ipLen    uint16
	win      uint16
	mss      uint16
	input    uint16
	flags    packet.Flags
	wscale   int8
	cut      bool
	fold     Fold
	dir      packet.Direction
}

// embryo is a tuple on which only bare SYNs from one side were seen, and
// perhaps the SYN-ACKs that answered them (na of them).
type embryo struct {
	key  tuple
	v4   bool
	srcA bool // the SYN's source is the tuple's first endpoint
	n    uint8
	na   uint8
	// folded is set while the embryo is counted in aggregate agg but kept,
	// for a while, should its connection go on after all (see retain).
	folded bool
	// refused is set once the server answered the SYN with RST.
	refused bool
	agg     int32
	gen     uint32
	// elided counts the SYNs sent again past the two kept, between syn[0]
	// and syn[1] (a folded embryo keeps its first SYN and its latest), and
	// gap is the interval before syn[1] then, in units of gapUnit: a
	// client whose SYN is answered at its fourth or fifth try keeps what
	// its connect took.
	elided uint8
	gap    uint16
	syn    [2]synPkt
	ack    [2]synPkt
}

// last is the time of the embryo's last packet.
func (e *embryo) last() Timestamp {
	t := e.syn[e.n-1].at
	if e.na > 0 {
		t = max(t, e.ack[e.na-1].at)
	}
	return t
}

type embryoRef struct {
	i   int32
	gen uint32
}

// lone is a tracker's embryos and aggregates.
type lone struct {
	table hashTable[int32] // tuple hash -> index+1 in the slab
	// slab holds the embryos, embryoChunk to a chunk, size slots made:
	// it grows a chunk at a time, never copied.
	slab   []*[embryoChunk]embryo
	size   int32
	free   []int32
	queue  fifo[embryoRef] // by first SYN
	n      int             // embryos live
	aggs   []aggregate
	aggIdx map[aggKey]int32
	// folded maps the hash of a folded connection's tuple and ISN to
	// its entry (foldedEntry).
	folded    [2]hashTable[uint64]
	foldedGen int64 // the generation folded[0] holds; 0: none yet
	// filter has a bit set for each hash that folded may hold (see
	// mayHold); nil until the first is remembered.
	filter    []uint64
	replaying bool // promote is replaying an embryo's SYNs
	// retained are the folded embryos kept, oldest first; resent those
	// of them whose client had sent its SYN again when their turn to be
	// forgotten came (real clients: spoofed sources never do), kept apart.
	retained, resent fifo[embryoRef]
	swept            Timestamp
	settled          Timestamp // when the aggregates' buckets were last settled
}

// embryoChunk is how many embryos a chunk of the slab holds: 248 KiB.
const embryoChunk = 1024

// at is embryo i.
func (l *lone) at(i int32) *embryo { return &l.slab[i/embryoChunk][i%embryoChunk] }

// grow makes a slot at the end of the slab, a chunk more when it is full,
// and returns its index.
func (l *lone) grow() int32 {
	if l.size%embryoChunk == 0 {
		l.slab = append(l.slab, new([embryoChunk]embryo))
	}
	l.size++
	return l.size - 1
}

// bareSYN reports whether seg is a SYN without ACK, RST, FIN or payload.
func bareSYN(seg *packet.Segment) bool {
	return seg.Flags&(packet.SYN|packet.ACK|packet.RST|packet.FIN) == packet.SYN && seg.Len == 0 && seg.IPLen <= math.MaxUint16
}

func (p *synPkt) set(seg *packet.Segment, m Meta) {
	*p = synPkt{at: m.At, order: m.Order, packet: m.Packet, wire: m.WireLen, seq: seg.Seq, ack: seg.Ack,
		ipLen: uint16(seg.IPLen), win: seg.Window, mss: seg.MSS, input: m.Input, flags: seg.Flags, wscale: seg.WScale,
		cut: seg.OptionsCut, fold: m.Fold, dir: seg.Dir}
}

// segment rebuilds the SYN from the embryo e.
func (p *synPkt) segment(e *embryo) (packet.Segment, Meta) {
	a, b := addrOf(e.key.a, e.v4), addrOf(e.key.b, e.v4)
	src, dst := netip.AddrPortFrom(a, e.key.pa), netip.AddrPortFrom(b, e.key.pb)
	if !e.srcA {
		src, dst = dst, src
	}
	seg := packet.Segment{Src: src, Dst: dst, Seq: p.seq, Ack: p.ack, Flags: p.flags, Window: p.win, IPLen: int(p.ipLen),
		MSS: p.mss, WScale: p.wscale, OptionsCut: p.cut, Dir: p.dir}
	return seg, Meta{At: p.at, Input: p.input, Packet: p.packet, WireLen: p.wire, Order: p.order, Fold: p.fold}
}

func addrOf(b [16]byte, v4 bool) netip.Addr {
	if v4 {
		return netip.AddrFrom4([4]byte(b[12:]))
	}
	return netip.AddrFrom16(b)
}

// server is the embryo's server endpoint (the SYN's destination).
func (e *embryo) server() netip.AddrPort {
	addr, port := e.key.b, e.key.pb
	if !e.srcA {
		addr, port = e.key.a, e.key.pa
	}
	return netip.AddrPortFrom(addrOf(addr, e.v4), port)
}

// aggKey is the key of the aggregate the embryo is folded into.
func (e *embryo) aggKey() aggKey {
	addr, port := e.key.b, e.key.pb
	if e.srcA == (e.syn[0].fold == FoldClient) {
		addr, port = e.key.a, e.key.pa
	}
	switch e.syn[0].fold {
	case FoldClient:
		port = 0
	case FoldOther:
		addr, port = [16]byte{}, 0
	}
	return aggKey{e.syn[0].fold, e.na > 0, e.refused, addr, port}
}

// client is the embryo's client endpoint.
func (e *embryo) client() netip.AddrPort {
	addr, port := e.key.a, e.key.pa
	if !e.srcA {
		addr, port = e.key.b, e.key.pb
	}
	return netip.AddrPortFrom(addrOf(addr, e.v4), port)
}

// embryoFor returns the index of the embryo on tuple k (hash h), or -1.
func (t *Tracker) embryoFor(h uint64, k *tuple) int32 {
	if t.lone.table.n == 0 {
		return -1
	}
	i := t.lone.table.get(h) - 1
	if i < 0 || !t.lone.at(i).key.eq(k) {
		return -1
	}
	return i
}

// conceive makes an embryo of a bare SYN on tuple k, which has no
// connection; false if it cannot (another tuple holds its hash).
func (t *Tracker) conceive(seg *packet.Segment, m Meta, k *tuple, h uint64, srcA bool) bool {
	l := &t.lone
	if l.replaying || l.table.get(h) != 0 {
		return false
	}
	var i int32
	if n := len(l.free); n > 0 {
		i = l.free[n-1]
		l.free = l.free[:n-1]
	} else {
		i = l.grow()
	}
	e := l.at(i)
	gen := e.gen + 1
	*e = embryo{key: *k, v4: seg.Src.Addr().Is4(), srcA: srcA, n: 1, gen: gen}
	e.syn[0].set(seg, m)
	l.table.set(h, i+1)
	l.queue.push(embryoRef{i, gen})
	l.n++
	return true
}

// resend keeps a retransmission of the embryo's SYN, or a SYN-ACK that
// answers it (or that one sent again); false if the segment is anything
// else, or one too many, and the embryo must become a connection.
func (t *Tracker) resend(i int32, seg *packet.Segment, m Meta, srcA bool) bool {
	e := t.lone.at(i)
	switch {
	case srcA == e.srcA:
		if !bareSYN(seg) || seg.Seq != e.syn[0].seq || e.na > 0 || int(e.n) == len(e.syn) {
			return false
		}
		e.syn[e.n].set(seg, m)
		e.n++
	default:
		if seg.Flags&(packet.SYN|packet.ACK|packet.RST|packet.FIN) != packet.SYN|packet.ACK || seg.Len != 0 ||
			seg.Ack != e.syn[0].seq+1 || int(e.na) == len(e.ack) || e.na > 0 && seg.Seq != e.ack[0].seq {
			return false
		}
		e.ack[e.na].set(seg, m)
		e.na++
	}
	return true
}

// embryo takes a segment on the tuple of embryo i (whose hash is h): it
// reports true when the embryo kept it, false when the segment is to be
// added to the connection it became, or to none (it was forgotten).
func (t *Tracker) embryo(i int32, h uint64, seg *packet.Segment, m Meta, srcA bool) bool {
	e := t.lone.at(i)
	if !e.folded && m.At.Sub(e.last()) >= foldAge {
		// Unanswered that long, it is folded whether a sweep came by
		// yet or not; then this segment is a late one.
		t.ageOut(i, m.At)
	}
	if e.folded && m.Fold != 0 && e.refusedBy(seg, srcA) {
		// Refused after it was folded unanswered (the RST answers a SYN
		// sent again): it moves to the refused, not answered late.
		t.unfold(i, false)
	}
	if e.folded {
		if t.late(i, seg, m, srcA) {
			return true
		}
		if e.n == 0 {
			return false // forgotten: its tuple and ISN tell the rest
		}
	}
	if !e.folded && m.Fold != 0 && e.refusedBy(seg, srcA) {
		t.refuse(i, h, m)
		return true
	}
	if t.resend(i, seg, m, srcA) {
		return true
	}
	t.promote(i, h)
	return false
}

// refusedBy reports whether seg is the server's RST refusing the
// embryo's SYN: RST and ACK, acknowledging the SYN, no answer before.
func (e *embryo) refusedBy(seg *packet.Segment, srcA bool) bool {
	return srcA != e.srcA && e.na == 0 && seg.Flags&(packet.SYN|packet.ACK|packet.RST|packet.FIN) == packet.RST|packet.ACK &&
		seg.Len == 0 && seg.Ack == e.syn[0].seq+1
}

// refuse folds embryo i, whose server refused it at m: the connection is
// over. Its tuple and ISN are remembered, to count the SYN should the
// client send it again, and the RST that answers it.
func (t *Tracker) refuse(i int32, h uint64, m Meta) {
	l := &t.lone
	e := l.at(i)
	e.refused = true
	j := t.aggregate(e)
	isn, n := e.syn[0].seq, uint8(min(e.syns(), math.MaxUint8))
	t.fold(i, h, j, m.At, true)
	a := &l.aggs[j]
	a.RSTs++
	a.Last = max(a.Last, m.At)
	l.renew(m.At)
	l.remember(foldedHash(h, isn), foldedEntry(j, n, 0))
}

// late counts a segment on the tuple of folded embryo i that repeats what
// it had (its SYN, or its SYN-ACK, sent again), and reports true. Past
// what an embryo holds, the embryo is forgotten instead; anything else is
// the connection going on after all, and it is taken back out of its
// aggregate (unfold). Both report false.
func (t *Tracker) late(i int32, seg *packet.Segment, m Meta, srcA bool) bool {
	e := t.lone.at(i)
	a := &t.lone.aggs[e.agg]
	f := seg.Flags & (packet.SYN | packet.ACK | packet.RST | packet.FIN)
	switch {
	case srcA == e.srcA && bareSYN(seg) && seg.Seq == e.syn[0].seq:
		if e.na > 0 || int(e.n) == len(e.syn) && e.elided == math.MaxUint8 {
			t.forget(i)
			return false
		}
		a.bucket(e.bucket(), -1)
		if int(e.n) == len(e.syn) {
			// The first SYN and the latest are kept, the others counted.
			e.gap = uint16(min(m.At.Sub(e.syn[1].at)/gapUnit, math.MaxUint16))
			e.elided++
			e.syn[1].set(seg, m)
		} else {
			e.syn[e.n].set(seg, m)
			e.n++
			a.retry(e.client().Addr(), 1)
		}
		a.bucket(e.bucket(), 1)
		a.SYNs++
	case srcA != e.srcA && e.na > 0 && f == packet.SYN|packet.ACK && seg.Len == 0 && seg.Seq == e.ack[0].seq && seg.Ack == e.syn[0].seq+1:
		if int(e.na) == len(e.ack) {
			t.forget(i)
			return false
		}
		e.ack[e.na].set(seg, m)
		e.na++
		a.SYNACKs++
		a.ServerRetried++
	default:
		t.unfold(i, true)
		return false
	}
	a.Last = max(a.Last, m.At)
	return true
}

// drop frees embryo i, on the tuple whose hash is h.
func (t *Tracker) drop(i int32, h uint64) {
	l := &t.lone
	l.table.del(h)
	l.at(i).n = 0
	l.at(i).gen++
	l.free = append(l.free, i)
	l.n--
}

// promote makes embryo i a connection in the table, its packets replayed.
func (t *Tracker) promote(i int32, h uint64) {
	e := *t.lone.at(i) // a copy: drop frees the slot
	t.drop(i, h)
	t.lone.replaying = true
	t.replay(&e, h)
	t.lone.replaying = false
}

// replay places the packets of embryo e (on the tuple whose hash is h).
func (t *Tracker) replay(e *embryo, h uint64) {
	one := func(p *synPkt, srcA bool) {
		seg, m := p.segment(e)
		if srcA != e.srcA { // a SYN-ACK
			seg.Src, seg.Dst = seg.Dst, seg.Src
		}
		t.place(&seg, m, &e.key, h, srcA)
	}
	// Its SYNs all came before its SYN-ACKs: resend takes no SYN after
	// a SYN-ACK.
	for j := range int(e.n) {
		one(&e.syn[j], e.srcA)
	}
	if e.elided > 0 {
		t.elided(e, h)
	}
	for j := range int(e.na) {
		one(&e.ack[j], !e.srcA)
	}
}

// elided counts in the connection replayed from embryo e the SYNs it did
// not keep: sent again between its first and its latest, each the same
// as the latest, they are not events, and the backoff is the one before
// the latest.
func (t *Tracker) elided(e *embryo, h uint64) {
	c := t.lookup(h, &e.key)
	if c == nil {
		return
	}
	s, n, p := c.sideOf(e.srcA), uint64(e.elided), &e.syn[1]
	x := &c.h[s]
	if x.synCount < 2 {
		return // not the connection of those SYNs
	}
	x.packets += n
	x.wire += n * uint64(p.wire)
	x.ip += n * uint64(p.ipLen)
	x.synCount = uint8(min(int(x.synCount)+int(e.elided), math.MaxUint8))
	x.synGapUS = micros(e.lastGap())
	r := c.record()
	r.Half(s).Retrans += uint32(n)
	r.dropEvents(int(n))
}

// embryoCopies returns records of the embryos waiting for an answer, as
// promote would make them, for a snapshot: their packets are replayed in
// a scratch tracker, and the embryos are left as they are (the pass must
// go on as if no snapshot had been taken).
func (t *Tracker) embryoCopies() []*Record {
	l := &t.lone
	if l.n == 0 {
		return nil
	}
	cfg := t.cfg
	cfg.Payload, cfg.MaxFlows = payload.Config{Off: true}, 0 // bare SYNs and SYN-ACKs carry none
	tmp := NewTracker(cfg)
	tmp.noSweep, tmp.lone.replaying = true, true
	seen := map[int32]bool{}
	for _, ref := range l.queue.all() {
		e := l.at(ref.i)
		if e.gen != ref.gen || e.n == 0 || e.folded || seen[ref.i] {
			continue
		}
		seen[ref.i] = true
		tmp.replay(e, e.key.hash())
	}
	return tmp.snapshot()
}

// aggregate returns the index of the aggregate of the embryo's server
// endpoint.
func (t *Tracker) aggregate(e *embryo) int32 {
	l := &t.lone
	key := e.aggKey()
	j, ok := l.aggIdx[key]
	if !ok {
		if l.aggIdx == nil {
			l.aggIdx = map[aggKey]int32{}
		}
		j = int32(len(l.aggs))
		a := aggregate{}
		a.HalfOpen, a.Refused = key.half, key.refused
		switch key.by {
		case FoldClient:
			a.Client = e.client().Addr()
		case FoldOther:
			a.Other = true
		default:
			a.Server = e.server()
		}
		l.aggs = append(l.aggs, a)
		l.aggIdx[key] = j
	}
	return j
}

// ageOut folds the embryo i, unanswered for foldAge.
func (t *Tracker) ageOut(i int32, at Timestamp) {
	e := t.lone.at(i)
	t.fold(i, e.key.hash(), t.aggregate(e), at, false)
}

// fold counts embryo i in aggregate j and frees it; at is the moment it
// is judged at (the end, for those still waiting then).
func (t *Tracker) fold(i int32, h uint64, j int32, at Timestamp, final bool) {
	l := &t.lone
	e, a := l.at(i), &l.aggs[j]
	first, last := &e.syn[0], &e.syn[e.n-1]
	a.Connections++
	a.SYNs += e.syns()
	if e.n > 1 {
		a.retry(e.client().Addr(), 1)
	}
	a.SYNACKs += int(e.na)
	if e.na > 1 {
		a.ServerRetried++
	}
	if a.First == 0 || first.at < a.First {
		a.First = first.at
	}
	a.Last = max(a.Last, e.last())
	client := e.client()
	if a.Other {
		a.countSource(client.Addr())
	}
	if a.byEndpoint() {
		a.countEndpoint(e.server())
	} else {
		a.countPeer(netip.AddrPortFrom(client.Addr(), 0))
	}
	a.example(Example{Client: client, Server: e.server(), At: first.at, Input: first.input, Packet: first.packet})
	switch {
	case e.refused: // over
	case e.na > 0 && at.Sub(e.ack[0].at) < InitialRTO, e.na == 0 && e.n == 1 && at.Sub(last.at) < InitialRTO:
		a.InProgress++ // the answer, or the ACK to the first SYN-ACK, may yet come
	case e.na == 0:
		a.bucket(e.bucket(), 1)
	}
	if final {
		t.drop(i, h)
		return
	}
	t.retain(i, j)
}

// bucket is the bucket of an unanswered embryo's last SYN.
func (e *embryo) bucket() uint64 {
	return bucketOf(e.syn[e.n-1].at, e.lastGap(), e.n > 1)
}

// gapUnit is the unit of embryo.gap.
const gapUnit = 10 * time.Millisecond

// lastGap is the interval before the embryo's last SYN; 0 with one SYN.
func (e *embryo) lastGap() time.Duration {
	switch {
	case e.elided > 0:
		return time.Duration(e.gap) * gapUnit
	case e.n > 1:
		return e.syn[e.n-1].at.Sub(e.syn[e.n-2].at)
	}
	return 0
}

// syns is how many SYNs the embryo's client sent.
func (e *embryo) syns() int { return int(e.n) + int(e.elided) }

// retainCap is how many folded embryos the pass keeps, shared among its
// trackers (Tracker.retainN), so that a connection that goes on after all
// (answered after the initial RTO, or acknowledged late) is taken back
// out of its aggregate and becomes a flow whole, its handshake replayed.
// 8 MiB: an embryo folded 1 s after its SYN is kept for 3.3 s more at
// 10,000 spoofed SYNs a second, past Linux's second SYN (1 s) and
// Windows' (3 s); at 12,000, still. Past it, the oldest are forgotten
// (those whose SYN was sent again past as many more: see retain): their
// tuple and ISN only are remembered (see remember), and a late answer
// makes a flow from that packet on. (Which are forgotten depends a little
// on how connections fall to the trackers, at the edge of what each
// keeps.)
const retainCap = 1 << 15

// retain keeps folded embryo i, counted in aggregate j. Past retainCap,
// the oldest is forgotten; if its client had sent its SYN again, it goes
// on to resent instead, where past retainCap the oldest is forgotten. A
// flood of spoofed SYNs, none sent again, then cannot push out the real
// clients that wait for their connect (Linux's takes up to 127 s).
func (t *Tracker) retain(i, j int32) {
	l := &t.lone
	e := l.at(i)
	e.folded, e.agg = true, j
	l.n--
	l.retained.push(embryoRef{i, e.gen})
	for l.retained.len() > t.retainN {
		ref := l.retained.pop()
		switch {
		case !l.stillFolded(ref):
		case l.at(ref.i).n > 1:
			l.resent.push(ref)
		default:
			t.forget(ref.i)
		}
	}
	for l.resent.len() > t.retainN {
		if ref := l.resent.pop(); l.stillFolded(ref) {
			t.forget(ref.i)
		}
	}
}

// stillFolded reports whether ref is still the folded embryo it was
// when queued (not taken back out, forgotten, or its slot reused).
func (l *lone) stillFolded(ref embryoRef) bool {
	e := l.at(ref.i)
	return e.gen == ref.gen && e.folded
}

// fifo is a queue: pushed at the back, popped at the front.
type fifo[T any] struct {
	items []T
	head  int
}

func (q *fifo[T]) len() int { return len(q.items) - q.head }

func (q *fifo[T]) push(x T) { q.items = append(q.items, x) }

// all returns what the queue holds, oldest first.
func (q *fifo[T]) all() []T { return q.items[q.head:] }

// peek returns the oldest; the queue must not be empty.
func (q *fifo[T]) peek() T { return q.items[q.head] }

// pop takes the oldest; the queue must not be empty.
func (q *fifo[T]) pop() T {
	x := q.items[q.head]
	q.head++
	if q.head > 1024 && q.head*2 > len(q.items) {
		q.items = append(q.items[:0], q.items[q.head:]...)
		q.head = 0
	}
	return x
}

// forget frees folded embryo i, remembering only its tuple and ISN.
func (t *Tracker) forget(i int32) {
	l := &t.lone
	e := l.at(i)
	h := e.key.hash()
	l.renew(e.last())
	if e.na > 0 {
		l.remember(foldedHash(h, e.syn[0].seq), foldedEntry(e.agg, 0, halfCounts(e.syns(), int(e.na))))
	} else {
		l.remember(foldedHash(h, e.syn[0].seq), foldedEntry(e.agg, uint8(min(e.syns(), math.MaxUint8)), e.bucket()))
	}
	e.folded = false
	l.n++ // as drop counts it
	t.drop(i, h)
}

// unfold takes folded embryo i back out of its aggregate: its connection
// goes on after all (answered late, unless it was refused). It is an
// embryo again, and ages anew.
func (t *Tracker) unfold(i int32, late bool) {
	l := &t.lone
	e := l.at(i)
	a := &l.aggs[e.agg]
	a.Connections--
	a.SYNs -= e.syns()
	if e.n > 1 {
		a.retry(e.client().Addr(), -1)
	}
	a.SYNACKs -= int(e.na)
	if e.na > 1 {
		a.ServerRetried--
	}
	if e.na == 0 {
		a.bucket(e.bucket(), -1)
	}
	if late {
		a.AnsweredLate++
	}
	peer := netip.AddrPortFrom(e.client().Addr(), 0)
	if a.byEndpoint() {
		peer = e.server()
	}
	a.uncountPeer(peer)
	first := &e.syn[0]
	gone := func(x Example) bool { return x.Input == first.input && x.Packet == first.packet }
	a.Examples, a.latest = slices.DeleteFunc(a.Examples, gone), slices.DeleteFunc(a.latest, gone)
	e.folded = false
	e.gen++
	l.n++
	l.queue.push(embryoRef{i, e.gen})
}

// sweepLone takes the embryos unanswered for foldAge out of the table,
// and renews the set of folded connections.
func (t *Tracker) sweepLone() {
	l := &t.lone
	l.swept = t.last
	// Those sent again go to the back, for a later sweep: n is how many
	// the queue held when this one began.
	for n := l.queue.len(); n > 0; n-- {
		ref := l.queue.peek()
		e := l.at(ref.i)
		if e.gen != ref.gen || e.n == 0 || e.folded {
			l.queue.pop() // promoted since
			continue
		}
		if t.last.Sub(e.syn[0].at) < foldAge {
			break
		}
		l.queue.pop()
		if t.last.Sub(e.last()) < foldAge {
			l.queue.push(ref) // sent again meanwhile
			continue
		}
		t.ageOut(ref.i, t.last)
	}
	l.compact()
	// The buckets of clients that have given up are counted as the pass
	// goes (not past Config.At, when the states are taken before the end).
	if at := t.last; t.last.Sub(l.settled) >= settleEvery {
		if !t.cfg.At.IsZero() {
			at = min(at, TS(t.cfg.At))
		}
		l.settled = t.last
		for i := range l.aggs {
			if len(l.aggs[i].buckets) > 0 {
				l.aggs[i].settle(at)
			}
		}
	}
}

// settleEvery is how often, in capture time, the aggregates' buckets are
// settled (aggregate.settle).
var settleEvery = 10 * time.Second // a variable for tests

// compact moves the embryos still held (waiting, or folded and
// retained) to a smaller slab when they fill less than a quarter of it:
// a burst of SYNs answered late (a host opening thousands of connections
// at once) leaves the slab at its largest, mostly free.
func (l *lone) compact() {
	used := int(l.size) - len(l.free)
	if l.size < 1<<12 || used*4 > int(l.size) {
		return
	}
	old := *l
	l.slab, l.size, l.free, l.table = nil, 0, nil, hashTable[int32]{}
	at := make(map[int32]int32, used) // old index -> new
	for i := range old.size {
		if e := old.at(i); e.n > 0 {
			j := l.grow()
			at[i] = j
			*l.at(j) = *e
			l.table.set(e.key.hash(), j+1)
		}
	}
	move := func(refs []embryoRef) []embryoRef {
		out := refs[:0]
		for _, ref := range refs {
			if j, ok := at[ref.i]; ok && l.at(j).gen == ref.gen {
				out = append(out, embryoRef{j, ref.gen})
			}
		}
		return out
	}
	for _, q := range []*fifo[embryoRef]{&l.queue, &l.retained, &l.resent} {
		*q = fifo[embryoRef]{items: move(q.all())}
	}
}

// finishLone ends the embryos at the end of the capture (at), and
// returns the aggregates that folded connections, their clients' states
// settled.
func (t *Tracker) finishLone(at Timestamp) []*aggregate {
	l := &t.lone
	for _, ref := range l.queue.all() {
		e := l.at(ref.i)
		if e.gen != ref.gen || e.n == 0 || e.folded {
			continue
		}
		t.fold(ref.i, e.key.hash(), t.aggregate(e), at, true)
	}
	var out []*aggregate
	for i := range l.aggs {
		a := &l.aggs[i]
		if a.Connections == 0 && a.AnsweredLate == 0 {
			continue
		}
		a.settle(at)
		a.buckets = nil
		out = append(out, a)
	}
	*l = lone{}
	return out
}

// gaveUpBy reports whether the clients in bucket b had given up by time
// at: silent past the next retransmission interval (synWait, see
// gaveUp), counted from the end of the bucket's second (the latest their
// last SYN can have been).
func gaveUpBy(b uint64, at Timestamp) bool {
	last := Timestamp(b>>5+1) * Timestamp(time.Second)
	next := 3 * time.Second
	if gap := time.Duration(b&15) * time.Second; b&(1<<4) != 0 && gap > 0 {
		next = 2 * gap
	}
	return at.Sub(last) > synWait(next)
}

// settle counts in GaveUp the folded connections of the buckets whose
// clients had given up by time at, and lets those buckets go: a flood of
// hours would otherwise keep a bucket for each of its seconds. (Which
// gave up by a moment gave up by any later one, so settling as the pass
// goes changes no count.)
func (a *aggregate) settle(at Timestamp) {
	for b, n := range a.buckets {
		if gaveUpBy(b, at) {
			a.GaveUp += int(n)
			delete(a.buckets, b)
		}
	}
	a.settledAt = max(a.settledAt, at)
}

// bucket adds n (1 or -1) folded connections to bucket b, or to GaveUp
// when b was settled already.
func (a *aggregate) bucket(b uint64, n int32) {
	if a.settledAt != 0 && gaveUpBy(b, a.settledAt) {
		a.GaveUp += int(n)
		return
	}
	if a.buckets == nil {
		a.buckets = map[uint64]int32{}
	}
	if a.buckets[b] += n; a.buckets[b] == 0 {
		delete(a.buckets, b)
	}
}

// snapshotAggregates returns copies of the aggregates counted so far, for
// a snapshot: the pass goes on with its own. (The embryos still waiting
// are in the snapshot as connections: embryoCopies.)
func (t *Tracker) snapshotAggregates() []*aggregate {
	var out []*aggregate
	for i := range t.lone.aggs {
		a := &t.lone.aggs[i]
		if a.Connections == 0 && a.AnsweredLate == 0 {
			continue
		}
		c := *a
		c.TopPeers, c.Examples, c.hll, c.latest = slices.Clone(a.TopPeers), slices.Clone(a.Examples), slices.Clone(a.hll), slices.Clone(a.latest)
		c.sources = slices.Clone(a.sources)
		c.buckets, c.exact, c.retriedBy = maps.Clone(a.buckets), maps.Clone(a.exact), maps.Clone(a.retriedBy)
		out = append(out, &c)
	}
	return out
}
