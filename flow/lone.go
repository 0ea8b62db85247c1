package flow

import (
	"cmp"
	"encoding/binary"
	"math"
	"math/bits"
	"net/netip"
	"slices"
	"time"

	"github.com/flowdoc/flowdoc/flow/packet"
)

// Connections that carry no conversation: a SYN that nothing answers.
// A SYN flood or a scan sends millions of them, each a connection of its
// own, and a record apiece would make memory follow the capture. The
// SYNs are counted per server endpoint in capture order, by the reading
// goroutine (synCounter), so that what follows does not depend on how
// many trackers run. A bare SYN to an endpoint that had left more than
// foldAfter SYNs unanswered before it is foldable: it is held compactly
// (an embryo, as a kernel holds a request socket) until its connection
// goes on, and becomes a connection in the table only then. One left
// unanswered for the initial retransmission timeout is folded into the
// endpoint's Aggregate, which counts such connections and keeps examples
// with their packet numbers. Other SYNs make connections at once, as
// any packet does.
//
// The order things happen in for one tuple:
//  1. a foldable bare SYN with no connection on its tuple makes an
//     embryo;
//  2. the same SYN sent again is kept with it (two at most);
//  3. any other packet on the tuple (the SYN-ACK, an RST, a third SYN)
//     makes it a connection: its SYNs are replayed through the state
//     machine as if the connection had been there all along;
//  4. unanswered for foldAge (found by a sweep, or by the next packet
//     on the tuple), it is folded into its aggregate; its tuple and ISN
//     are remembered for a while, so that a later retransmission is
//     counted as one and a late answer takes the connection back out of
//     the aggregate;
//  5. at the end, the embryos left are folded as in progress or
//     unanswered.

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
// for a client address, the SYN-ACKs and RSTs sent to it. An endpoint that serves
// has far more ACKs than SYNs; one that a flood overwhelms, or that a
// firewall hides, piles SYNs up, whether it answers them with SYN-ACKs
// (SYN cookies) or not. It is fed every segment in capture order.
type synCounter struct {
	cells  *[2][2][synCells]synCell // [current, previous][server, client]
	window int64
}

type synCell struct{ syns, open int32 }

// mark counts a segment sent at time at, and says by what a bare SYN may
// be folded.
func (sc *synCounter) mark(seg *packet.Segment, at Timestamp) Fold {
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
	if f != packet.SYN {
		// A SYN-ACK or RST to a client: one of its SYNs was answered.
		sc.cells[0][1][cellOf(seg.Dst.Addr(), 0)].open--
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

// foldAge is how long a SYN waits for an answer before it is lone: the
// initial retransmission timeout, after which its client sends it again.
const foldAge = InitialRTO

// foldedFor is how long the tuple and ISN of a folded connection are
// remembered: they are kept in generations of capture time this long,
// the current one and the one before. Linux's sixth and last SYN goes
// 63 s after the first.
const foldedFor = 64 * time.Second

// Aggregate counts the connections that carried no conversation and
// were folded rather than kept as flows: those to one server endpoint (a
// SYN flood, a service a firewall hides, hammered by retries), or from
// one client address to many (a scan).
type Aggregate struct {
	// Server is the server endpoint; Client the client address. One of
	// them is set.
	Server netip.AddrPort
	Client netip.Addr
	// HalfOpen is set for connections the server answered with a SYN-ACK
	// and the client never went on with (the SYN flood a server answers
	// with SYN cookies); else they got no answer at all.
	HalfOpen bool
	// Connections counts the folded connections: bare SYNs (and their
	// retransmissions), and for HalfOpen the SYN-ACKs that answered them.
	Connections int
	SYNs        int // SYN packets, retransmissions included
	SYNACKs     int // SYN-ACK packets (HalfOpen), retransmissions included
	// ServerRetried counts the connections whose server sent its SYN-ACK
	// more than once (HalfOpen): it kept them in SYN_RECV, where one sent
	// once is a SYN cookie, no state kept.
	ServerRetried int
	Retried       int // connections whose SYN was sent more than once
	// InProgress counts those whose single SYN was sent less than the
	// initial RTO before the end: handshakes in progress.
	InProgress int
	// GaveUp counts the clients that had stopped retrying by the end
	// (SYN_SENT expired, CLOSED); the others, but those in progress, are
	// still in SYN_SENT.
	GaveUp int
	// AnsweredLate counts connections folded, then answered after all:
	// they are flows of their own, and not in Connections.
	AnsweredLate int
	// Peers is the number of distinct client addresses (of a server
	// endpoint's aggregate) or server endpoints (of a client's): exact up
	// to maxExactPeers, an estimate (within a few percent) past it.
	Peers          int
	PeersEstimated bool
	// TopPeers are the peers with the most connections, when few enough
	// were counted exactly: client addresses (port 0), or endpoints.
	TopPeers    []PeerCount
	First, Last Timestamp
	// Examples are the first and last few folded connections.
	Examples []Example
}

// PeerCount is one peer and its connections.
type PeerCount struct {
	Peer        netip.AddrPort
	Connections int
}

// Example is one folded connection, to find in the capture.
type Example struct {
	Client netip.AddrPort
	Server netip.AddrPort
	At     Timestamp // its first SYN
	Input  uint16
	Packet uint32
}

const (
	maxExamples   = 3 // first and last
	maxExactPeers = 64
	hllBits       = 10
)

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
	agg    int32
	gen    uint32
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

// aggKey is what an aggregate counts by: a server endpoint, or a
// client address (port 0), as the tuple holds them.
type aggKey struct {
	by   Fold
	half bool
	addr [16]byte
	port uint16
}

// aggregate is an Aggregate being counted.
type aggregate struct {
	Aggregate
	// buckets counts the folded connections by the second of their last
	// SYN, whether they retried, and the backoff before that SYN in
	// seconds: enough to tell at the end whether each client gave up.
	buckets map[uint64]int32
	exact   map[netip.AddrPort]int32 // up to maxExactPeers of them
	hll     []uint8
	latest  []Example // the latest examples; Examples holds the earliest
}

// lone is a tracker's embryos and aggregates.
type lone struct {
	table   hashTable[int32] // tuple hash -> index+1 in embryos
	embryos []embryo
	free    []int32
	queue   []embryoRef // by first SYN
	head    int
	n       int // embryos live
	aggs    []aggregate
	aggIdx  map[aggKey]int32
	// folded maps the hash of a folded connection's tuple and ISN to
	// its entry (foldedEntry).
	folded    [2]hashTable[uint64]
	foldedGen int64 // the generation folded[0] holds; 0: none yet
	replaying bool  // promote is replaying an embryo's SYNs
	// retained are the folded embryos kept, oldest first.
	retained []embryoRef
	rhead    int
	swept    Timestamp
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
	if e.syn[0].fold == FoldClient {
		port = 0
	}
	return aggKey{e.syn[0].fold, e.na > 0, addr, port}
}

// client is the embryo's client endpoint.
func (e *embryo) client() netip.AddrPort {
	addr, port := e.key.a, e.key.pa
	if !e.srcA {
		addr, port = e.key.b, e.key.pb
	}
	return netip.AddrPortFrom(addrOf(addr, e.v4), port)
}

// foldedHash mixes a tuple's hash with a connection's ISN.
func foldedHash(h uint64, isn uint32) uint64 {
	x := (h ^ uint64(isn)) * 0x9e3779b97f4a7c15
	return x ^ x>>29
}

// embryoFor returns the index of the embryo on tuple k (hash h), or -1.
func (t *Tracker) embryoFor(h uint64, k *tuple) int32 {
	if t.lone.table.n == 0 {
		return -1
	}
	i := t.lone.table.get(h) - 1
	if i < 0 || !t.lone.embryos[i].key.eq(k) {
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
		l.embryos = append(l.embryos, embryo{})
		i = int32(len(l.embryos) - 1)
	}
	e := &l.embryos[i]
	gen := e.gen + 1
	*e = embryo{key: *k, v4: seg.Src.Addr().Is4(), srcA: srcA, n: 1, gen: gen}
	e.syn[0].set(seg, m)
	l.table.set(h, i+1)
	l.queue = append(l.queue, embryoRef{i, gen})
	l.n++
	return true
}

// resend keeps a retransmission of the embryo's SYN, or a SYN-ACK that
// answers it (or that one sent again); false if the segment is anything
// else, or one too many, and the embryo must become a connection.
func (t *Tracker) resend(i int32, seg *packet.Segment, m Meta, srcA bool) bool {
	e := &t.lone.embryos[i]
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
	e := &t.lone.embryos[i]
	if !e.folded && m.At.Sub(e.last()) >= foldAge {
		// Unanswered that long, it is folded whether a sweep came by
		// yet or not; then this segment is a late one.
		t.ageOut(i, m.At)
	}
	if e.folded {
		if t.late(i, seg, m, srcA) {
			return true
		}
		if e.n == 0 {
			return false // forgotten: its tuple and ISN tell the rest
		}
	}
	if t.resend(i, seg, m, srcA) {
		return true
	}
	t.promote(i, h)
	return false
}

// late counts a segment on the tuple of folded embryo i that repeats what
// it had (its SYN, or its SYN-ACK, sent again), and reports true. Past
// what an embryo holds, the embryo is forgotten instead; anything else is
// the connection going on after all, and it is taken back out of its
// aggregate (unfold). Both report false.
func (t *Tracker) late(i int32, seg *packet.Segment, m Meta, srcA bool) bool {
	e := &t.lone.embryos[i]
	a := &t.lone.aggs[e.agg]
	f := seg.Flags & (packet.SYN | packet.ACK | packet.RST | packet.FIN)
	switch {
	case srcA == e.srcA && bareSYN(seg) && seg.Seq == e.syn[0].seq:
		if int(e.n) == len(e.syn) || e.na > 0 {
			t.forget(i)
			return false
		}
		a.buckets[e.bucket()]--
		e.syn[e.n].set(seg, m)
		e.n++
		a.buckets[e.bucket()]++
		a.SYNs++
		a.Retried++
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
		t.unfold(i)
		return false
	}
	a.Last = max(a.Last, m.At)
	return true
}

// drop frees embryo i, on the tuple whose hash is h.
func (t *Tracker) drop(i int32, h uint64) {
	l := &t.lone
	l.table.del(h)
	l.embryos[i].n = 0
	l.embryos[i].gen++
	l.free = append(l.free, i)
	l.n--
}

// promote makes embryo i a connection in the table, its SYNs replayed.
func (t *Tracker) promote(i int32, h uint64) {
	e := t.lone.embryos[i] // a copy: drop frees the slot
	t.drop(i, h)
	t.lone.replaying = true
	pkts := make([]*synPkt, 0, 4)
	for j := range int(e.n) {
		pkts = append(pkts, &e.syn[j])
	}
	for j := range int(e.na) {
		pkts = append(pkts, &e.ack[j])
	}
	slices.SortStableFunc(pkts, func(a, b *synPkt) int { return cmp.Compare(a.order, b.order) })
	for _, p := range pkts {
		seg, m := p.segment(&e)
		srcA := e.srcA
		if p.flags.Has(packet.ACK) {
			seg.Src, seg.Dst = seg.Dst, seg.Src
			srcA = !srcA
		}
		t.place(&seg, m, &e.key, h, srcA)
	}
	t.lone.replaying = false
}

// promoteAll makes every embryo a connection in the table.
func (t *Tracker) promoteAll() {
	l := &t.lone
	for _, ref := range l.queue[l.head:] {
		if e := &l.embryos[ref.i]; e.gen == ref.gen && e.n > 0 && !e.folded {
			t.promote(ref.i, e.key.hash())
		}
	}
	l.queue, l.head = l.queue[:0], 0
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
		a.HalfOpen = key.half
		if key.by == FoldClient {
			a.Client = e.client().Addr()
		} else {
			a.Server = e.server()
		}
		l.aggs = append(l.aggs, a)
		l.aggIdx[key] = j
	}
	return j
}

// ageOut folds the embryo i, unanswered for foldAge.
func (t *Tracker) ageOut(i int32, at Timestamp) {
	e := &t.lone.embryos[i]
	t.fold(i, e.key.hash(), t.aggregate(e), at, false)
}

// fold counts embryo i in aggregate j and frees it; at is the moment it
// is judged at (the end, for those still waiting then).
func (t *Tracker) fold(i int32, h uint64, j int32, at Timestamp, final bool) {
	l := &t.lone
	e, a := &l.embryos[i], &l.aggs[j]
	first, last := &e.syn[0], &e.syn[e.n-1]
	a.Connections++
	a.SYNs += int(e.n)
	if e.n > 1 {
		a.Retried++
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
	if a.Client.IsValid() {
		a.countPeer(e.server())
	} else {
		a.countPeer(netip.AddrPortFrom(client.Addr(), 0))
	}
	a.example(Example{Client: client, Server: e.server(), At: first.at, Input: first.input, Packet: first.packet})
	switch {
	case e.na > 0 && at.Sub(e.last()) < InitialRTO, e.na == 0 && e.n == 1 && at.Sub(last.at) < InitialRTO:
		a.InProgress++ // the answer, or the ACK, may yet come
	case e.na == 0:
		if a.buckets == nil {
			a.buckets = map[uint64]int32{}
		}
		a.buckets[e.bucket()]++
	}
	if final {
		t.drop(i, h)
		return
	}
	t.retain(i, j)
}

// bucket is the bucket of an unanswered embryo's last SYN.
func (e *embryo) bucket() uint64 {
	var gap time.Duration
	if e.n > 1 {
		gap = e.syn[e.n-1].at.Sub(e.syn[e.n-2].at)
	}
	return bucketOf(e.syn[e.n-1].at, gap, e.n > 1)
}

// retainCap is how many folded embryos a tracker keeps, so that a
// connection that goes on after all (answered after the initial RTO, or
// acknowledged late) is taken back out of its aggregate and becomes a
// flow whole, its handshake replayed. Past it, the oldest are forgotten:
// their tuple and ISN only are remembered (see remember), and a late
// answer makes a flow from that packet on.
const retainCap = 1 << 14

// retain keeps folded embryo i, counted in aggregate j.
func (t *Tracker) retain(i, j int32) {
	l := &t.lone
	e := &l.embryos[i]
	e.folded, e.agg = true, j
	l.n--
	l.retained = append(l.retained, embryoRef{i, e.gen})
	for len(l.retained)-l.rhead > retainCap {
		ref := l.retained[l.rhead]
		l.rhead++
		if old := &l.embryos[ref.i]; old.gen == ref.gen && old.folded {
			t.forget(ref.i)
		}
	}
	if l.rhead > 1024 && l.rhead*2 > len(l.retained) {
		l.retained = append(l.retained[:0], l.retained[l.rhead:]...)
		l.rhead = 0
	}
}

// forget frees folded embryo i, remembering only its tuple and ISN.
func (t *Tracker) forget(i int32) {
	l := &t.lone
	e := &l.embryos[i]
	h := e.key.hash()
	l.renew(e.last())
	if e.na > 0 {
		l.remember(foldedHash(h, e.syn[0].seq), foldedEntry(e.agg, halfCounts(int(e.n), int(e.na)), 0))
	} else {
		l.remember(foldedHash(h, e.syn[0].seq), foldedEntry(e.agg, e.n, e.bucket()))
	}
	e.folded = false
	l.n++ // as drop counts it
	t.drop(i, h)
}

// unfold takes folded embryo i back out of its aggregate: its connection
// goes on after all. It is an embryo again, and ages anew.
func (t *Tracker) unfold(i int32) {
	l := &t.lone
	e := &l.embryos[i]
	a := &l.aggs[e.agg]
	a.Connections--
	a.SYNs -= int(e.n)
	if e.n > 1 {
		a.Retried--
	}
	a.SYNACKs -= int(e.na)
	if e.na > 1 {
		a.ServerRetried--
	}
	if e.na == 0 {
		a.buckets[e.bucket()]--
	}
	a.AnsweredLate++
	peer := netip.AddrPortFrom(e.client().Addr(), 0)
	if a.Client.IsValid() {
		peer = e.server()
	}
	if n, ok := a.exact[peer]; ok {
		if n <= 1 {
			delete(a.exact, peer)
		} else {
			a.exact[peer] = n - 1
		}
	}
	first := &e.syn[0]
	gone := func(x Example) bool { return x.Input == first.input && x.Packet == first.packet }
	a.Examples, a.latest = slices.DeleteFunc(a.Examples, gone), slices.DeleteFunc(a.latest, gone)
	e.folded = false
	e.gen++
	l.n++
	l.queue = append(l.queue, embryoRef{i, e.gen})
}

// example keeps ex if it is among the maxExamples earliest or latest
// connections folded (by first SYN): which are kept does not depend on
// the order they were folded in.
func (a *aggregate) example(ex Example) {
	a.Examples = keepExamples(a.Examples, ex, true)
	a.latest = keepExamples(a.latest, ex, false)
}

// keepExamples adds ex to the sorted list l of at most maxExamples, which
// keeps the earliest or the latest.
func keepExamples(l []Example, ex Example, earliest bool) []Example {
	i, found := slices.BinarySearchFunc(l, ex, exampleOrder)
	if found {
		return l
	}
	l = slices.Insert(l, i, ex)
	if len(l) > maxExamples {
		if earliest {
			l = l[:maxExamples]
		} else {
			l = append(l[:0], l[1:]...)
		}
	}
	return l
}

func exampleOrder(x, y Example) int {
	return cmp.Or(cmp.Compare(x.At, y.At), cmp.Compare(x.Input, y.Input), cmp.Compare(x.Packet, y.Packet))
}

// bucketOf packs the second of a last SYN, whether it was a retry, and
// the backoff before it in whole seconds (at most 15).
func bucketOf(at Timestamp, gap time.Duration, retried bool) uint64 {
	b := uint64(at/Timestamp(time.Second)) << 5
	if retried {
		b |= 1<<4 | uint64(min(max(gap/time.Second, 0), 15))
	}
	return b & bucketMask
}

// A folded connection's entry in lone.folded: its aggregate's index+1,
// its SYNs (at most 15 are told), and its bucket.
const (
	bucketMask = 1<<36 - 1
	synsShift  = 36
	aggShift   = 40
)

// halfCounts packs a half-open connection's SYNs and SYN-ACKs (3 at
// most each) in an entry's count.
func halfCounts(syns, acks int) uint8 { return uint8(min(syns, 3) | min(acks, 3)<<2) }

func foldedEntry(agg int32, syns uint8, bucket uint64) uint64 {
	return uint64(agg+1)<<aggShift | uint64(min(syns, 15))<<synsShift | bucket
}

// countPeer counts one connection with peer p.
func (a *aggregate) countPeer(p netip.AddrPort) {
	if a.hll == nil {
		a.hll = make([]uint8, 1<<hllBits)
		a.exact = map[netip.AddrPort]int32{}
	}
	b := p.Addr().As16()
	h := uint64(0xcbf29ce484222325)
	for _, c := range append(b[:], byte(p.Port()>>8), byte(p.Port())) {
		h = (h ^ uint64(c)) * 0x100000001b3
	}
	h ^= h >> 31
	h *= 0x9e3779b97f4a7c15
	h ^= h >> 29
	r := uint8(bits.LeadingZeros64(h<<hllBits|1<<(hllBits-1))) + 1
	if j := h >> (64 - hllBits); r > a.hll[j] {
		a.hll[j] = r
	}
	if n, ok := a.exact[p]; ok || len(a.exact) < maxExactPeers {
		a.exact[p] = n + 1
	} else {
		a.PeersEstimated = true
	}
}

// sweepLone takes the embryos unanswered for foldAge out of the table,
// and renews the set of folded connections.
func (t *Tracker) sweepLone() {
	l := &t.lone
	l.swept = t.last
	// Those sent again go to the back, for a later sweep: end is where
	// the queue ended when this one began.
	for end := len(l.queue); l.head < end; {
		ref := l.queue[l.head]
		e := &l.embryos[ref.i]
		if e.gen != ref.gen || e.n == 0 || e.folded {
			l.head++ // promoted since
			continue
		}
		if t.last.Sub(e.syn[0].at) < foldAge {
			break
		}
		l.head++
		if t.last.Sub(e.last()) < foldAge {
			l.queue = append(l.queue, ref) // sent again meanwhile
			continue
		}
		t.ageOut(ref.i, t.last)
	}
	if l.head > 1024 && l.head*2 > len(l.queue) {
		l.queue = append(l.queue[:0], l.queue[l.head:]...)
		l.head = 0
	}
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
		l.folded[1], l.folded[0] = l.folded[0], hashTable[uint64]{}
	}
	l.folded[0].set(fh, entry)
}

// renew makes the generation of time at the current one of the set of
// folded connections: by capture time alone, so that what is remembered
// does not depend on when sweeps ran.
func (l *lone) renew(at Timestamp) {
	g := int64(at)/int64(foldedFor) + 1
	switch {
	case g <= l.foldedGen:
	case g == l.foldedGen+1:
		l.folded[1], l.folded[0] = l.folded[0], hashTable[uint64]{}
	default:
		l.folded = [2]hashTable[uint64]{}
	}
	l.foldedGen = max(l.foldedGen, g)
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
		v := l.folded[g].get(fh)
		if v == 0 {
			continue
		}
		j := int32(v>>aggShift - 1)
		a := &l.aggs[j]
		b, n := v&bucketMask, int(v>>synsShift&15)
		if a.HalfOpen {
			return a.lateHalfOpen(&l.folded[g], fh, j, f, n, m.At)
		}
		if f != packet.SYN && f != packet.SYN|packet.ACK {
			return false
		}
		a.buckets[b]--
		if f == packet.SYN|packet.ACK {
			// Answered after all: a flow of its own from here.
			l.folded[g].del(fh)
			a.Connections--
			a.SYNs -= n
			if n > 1 {
				a.Retried--
			}
			a.AnsweredLate++
			return false
		}
		a.SYNs++
		if n == 1 {
			a.Retried++
		}
		last := Timestamp(b>>5) * Timestamp(time.Second)
		nb := bucketOf(m.At, m.At.Sub(last), true)
		a.buckets[nb]++
		a.Last = max(a.Last, m.At)
		l.folded[g].set(fh, foldedEntry(j, uint8(min(n+1, 15)), nb))
		return true
	}
	return false
}

// lateHalfOpen counts a packet of a folded half-open connection (whose
// entry in set is at fh, with n SYN-ACKs): a SYN or SYN-ACK sent again is
// counted (true); anything else from the client is the handshake going
// on after all, and the connection leaves the aggregate (false). Past 3
// SYNs or SYN-ACKs, what it takes back out is short of the rest.
func (a *aggregate) lateHalfOpen(set *hashTable[uint64], fh uint64, j int32, f packet.Flags, n int, at Timestamp) bool {
	syns, acks := n&3, n>>2&3
	switch f {
	case packet.SYN:
		a.SYNs++
		if syns == 1 {
			a.Retried++
		}
		set.set(fh, foldedEntry(j, halfCounts(syns+1, acks), 0))
	case packet.SYN | packet.ACK:
		a.SYNACKs++
		if acks == 1 {
			a.ServerRetried++
		}
		set.set(fh, foldedEntry(j, halfCounts(syns, acks+1), 0))
	default:
		set.del(fh)
		a.Connections--
		a.SYNs -= syns
		a.SYNACKs -= acks
		if syns > 1 {
			a.Retried--
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

// finishLone ends the embryos at the end of the capture (at), and
// returns the aggregates that folded connections, their clients' states
// settled.
func (t *Tracker) finishLone(at Timestamp) []*aggregate {
	l := &t.lone
	for _, ref := range l.queue[l.head:] {
		e := &l.embryos[ref.i]
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
		for b, n := range a.buckets {
			last := Timestamp(b>>5) * Timestamp(time.Second)
			next := 3 * time.Second
			if gap := time.Duration(b&15) * time.Second; b&(1<<4) != 0 && gap > 0 {
				next = 2 * gap
			}
			if at.Sub(last) > next+next/2 {
				a.GaveUp += int(n)
			}
		}
		a.buckets = nil
		out = append(out, a)
	}
	*l = lone{}
	return out
}

// mergeAggregates merges the trackers' aggregates of the same server
// endpoint, and returns them as reported, most connections first.
func mergeAggregates(lists [][]*aggregate) []Aggregate {
	type key struct {
		server netip.AddrPort
		client netip.Addr
		half   bool
	}
	by := map[key]*aggregate{}
	var order []*aggregate
	for _, l := range lists {
		for _, a := range l {
			k := key{a.Server, a.Client, a.HalfOpen}
			o := by[k]
			if o == nil {
				by[k] = a
				order = append(order, a)
				continue
			}
			o.Connections += a.Connections
			o.SYNs += a.SYNs
			o.Retried += a.Retried
			o.InProgress += a.InProgress
			o.GaveUp += a.GaveUp
			o.AnsweredLate += a.AnsweredLate
			o.SYNACKs += a.SYNACKs
			o.ServerRetried += a.ServerRetried
			o.First = min(o.First, a.First)
			o.Last = max(o.Last, a.Last)
			for _, ex := range slices.Concat(a.Examples, a.latest) {
				o.example(ex)
			}
			for p, n := range a.exact {
				if _, ok := o.exact[p]; ok || len(o.exact) < maxExactPeers {
					o.exact[p] += n
				} else {
					o.PeersEstimated = true
				}
			}
			o.PeersEstimated = o.PeersEstimated || a.PeersEstimated
			for k, r := range a.hll {
				o.hll[k] = max(o.hll[k], r)
			}
		}
	}
	out := make([]Aggregate, 0, len(order))
	for _, a := range order {
		out = append(out, a.settled())
	}
	slices.SortStableFunc(out, func(x, y Aggregate) int {
		return cmp.Or(y.Connections-x.Connections, x.Server.Compare(y.Server), x.Client.Compare(y.Client))
	})
	return out
}

// settled is the aggregate as reported.
func (a *aggregate) settled() Aggregate {
	out := a.Aggregate
	out.Peers = len(a.exact)
	if a.PeersEstimated {
		out.Peers = max(len(a.exact), hllEstimate(a.hll))
	} else {
		for p, n := range a.exact {
			out.TopPeers = append(out.TopPeers, PeerCount{p, int(n)})
		}
		slices.SortFunc(out.TopPeers, func(x, y PeerCount) int {
			return cmp.Or(y.Connections-x.Connections, x.Peer.Compare(y.Peer))
		})
		if len(out.TopPeers) > 5 {
			out.TopPeers = out.TopPeers[:5]
		}
	}
	ex := slices.Concat(a.Examples, a.latest)
	slices.SortFunc(ex, exampleOrder)
	ex = slices.Compact(ex)
	if n := len(ex); n > 2*maxExamples {
		ex = append(ex[:maxExamples], ex[n-maxExamples:]...)
	}
	out.Examples = ex
	return out
}

// hllEstimate is HyperLogLog's estimate of the distinct values counted
// in registers m, with the linear-counting correction for small counts.
func hllEstimate(m []uint8) int {
	n := float64(len(m))
	sum, zeros := 0.0, 0
	for _, r := range m {
		sum += math.Ldexp(1, -int(r))
		if r == 0 {
			zeros++
		}
	}
	est := 0.7213 / (1 + 1.079/n) * n * n / sum
	if est <= 2.5*n && zeros > 0 {
		est = n * math.Log(n/float64(zeros))
	}
	return int(est + 0.5)
}
