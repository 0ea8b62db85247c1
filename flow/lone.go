package flow

import (
	"cmp"
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

// foldAfter is how many SYNs more than it answered a server endpoint must
// have been sent before the next ones to it may be folded.
const foldAfter = 100

// synCounter counts, per server endpoint, the SYNs sent to it less the
// SYN-ACKs it sent: the SYNs outstanding. An endpoint that answers has
// about none; one that a flood overwhelms, or a firewall hides, piles
// them up. It holds only endpoints with SYNs outstanding.
type synCounter struct {
	out map[aggKey]int32
}

// mark counts a SYN or SYN-ACK, and reports whether a bare SYN may be
// folded should it go unanswered.
func (sc *synCounter) mark(seg *packet.Segment) bool {
	switch seg.Flags & (packet.SYN | packet.ACK | packet.RST) {
	case packet.SYN:
		k := aggKey{seg.Dst.Addr().As16(), seg.Dst.Port()}
		if sc.out == nil {
			sc.out = map[aggKey]int32{}
		}
		n := sc.out[k]
		sc.out[k] = n + 1
		return n >= foldAfter
	case packet.SYN | packet.ACK:
		k := aggKey{seg.Src.Addr().As16(), seg.Src.Port()}
		if n, ok := sc.out[k]; ok {
			if n <= 1 {
				delete(sc.out, k)
			} else {
				sc.out[k] = n - 1
			}
		}
	}
	return false
}

// foldAge is how long a SYN waits for an answer before it is lone: the
// initial retransmission timeout, after which its client sends it again.
const foldAge = InitialRTO

// foldedFor is how long the tuple and ISN of a folded connection are
// remembered: they are kept in generations of capture time this long,
// the current one and the one before. Linux's sixth and last SYN goes
// 63 s after the first.
const foldedFor = 64 * time.Second

// Aggregate counts the connections to one server endpoint that carried
// no conversation and were folded rather than kept as flows (a SYN
// flood, a scan, a blackholed service hammered by retries).
type Aggregate struct {
	Server netip.AddrPort
	// Connections counts the folded connections: bare SYNs (and their
	// retransmissions) that got no answer.
	Connections int
	SYNs        int // SYN packets, retransmissions included
	Retried     int // connections whose SYN was sent more than once
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
	// ClientHosts is the number of distinct client addresses: exact up
	// to maxExactClients, an estimate (within a few percent) past it.
	ClientHosts      int
	ClientsEstimated bool
	// TopClients are the client addresses with the most connections, when
	// few enough clients were counted exactly.
	TopClients  []ClientCount
	First, Last Timestamp
	// Examples are the first and last few folded connections.
	Examples []Example
}

// ClientCount is one client address and its connections.
type ClientCount struct {
	Addr        netip.Addr
	Connections int
}

// Example is one folded connection, to find in the capture.
type Example struct {
	Client netip.AddrPort
	At     Timestamp // its first SYN
	Input  uint16
	Packet uint32
}

const (
	maxExamples     = 3 // first and last
	maxExactClients = 64
	hllBits         = 10
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
	dir      packet.Direction
}

// embryo is a tuple on which only bare SYNs from one side were seen.
type embryo struct {
	key  tuple
	v4   bool
	srcA bool // the SYN's source is the tuple's first endpoint
	n    uint8
	gen  uint32
	syn  [2]synPkt
}

type embryoRef struct {
	i   int32
	gen uint32
}

// aggKey is a server endpoint, as its tuple holds it.
type aggKey struct {
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
	exact   map[netip.Addr]int32 // up to maxExactClients of them
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
}

// bareSYN reports whether seg is a SYN without ACK, RST, FIN or payload.
func bareSYN(seg *packet.Segment) bool {
	return seg.Flags&(packet.SYN|packet.ACK|packet.RST|packet.FIN) == packet.SYN && seg.Len == 0 && seg.IPLen <= math.MaxUint16
}

func (p *synPkt) set(seg *packet.Segment, m Meta) {
	*p = synPkt{at: m.At, order: m.Order, packet: m.Packet, wire: m.WireLen, seq: seg.Seq, ack: seg.Ack,
		ipLen: uint16(seg.IPLen), win: seg.Window, mss: seg.MSS, input: m.Input, flags: seg.Flags, wscale: seg.WScale,
		cut: seg.OptionsCut, dir: seg.Dir}
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
	return seg, Meta{At: p.at, Input: p.input, Packet: p.packet, WireLen: p.wire, Order: p.order, Foldable: true}
}

func addrOf(b [16]byte, v4 bool) netip.Addr {
	if v4 {
		return netip.AddrFrom4([4]byte(b[12:]))
	}
	return netip.AddrFrom16(b)
}

// server is the embryo's server endpoint (the SYN's destination).
func (e *embryo) server() (aggKey, netip.AddrPort) {
	addr, port := e.key.b, e.key.pb
	if !e.srcA {
		addr, port = e.key.a, e.key.pa
	}
	return aggKey{addr, port}, netip.AddrPortFrom(addrOf(addr, e.v4), port)
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
	if t.lone.n == 0 {
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

// resend keeps a retransmission of the embryo's SYN; false if the
// segment is anything else, or one too many, and the embryo must become
// a connection.
func (t *Tracker) resend(i int32, seg *packet.Segment, m Meta, srcA bool) bool {
	e := &t.lone.embryos[i]
	if !bareSYN(seg) || srcA != e.srcA || seg.Seq != e.syn[0].seq || int(e.n) == len(e.syn) {
		return false
	}
	e.syn[e.n].set(seg, m)
	e.n++
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
	for j := range int(e.n) {
		seg, m := e.syn[j].segment(&e)
		t.place(&seg, m, &e.key, h, e.srcA)
	}
	t.lone.replaying = false
}

// promoteAll makes every embryo a connection in the table.
func (t *Tracker) promoteAll() {
	l := &t.lone
	for _, ref := range l.queue[l.head:] {
		if e := &l.embryos[ref.i]; e.gen == ref.gen && e.n > 0 {
			t.promote(ref.i, e.key.hash())
		}
	}
	l.queue, l.head = l.queue[:0], 0
}

// aggregate returns the index of the aggregate of the embryo's server
// endpoint.
func (t *Tracker) aggregate(e *embryo) int32 {
	l := &t.lone
	key, server := e.server()
	j, ok := l.aggIdx[key]
	if !ok {
		if l.aggIdx == nil {
			l.aggIdx = map[aggKey]int32{}
		}
		j = int32(len(l.aggs))
		l.aggs = append(l.aggs, aggregate{Aggregate: Aggregate{Server: server}})
		l.aggIdx[key] = j
	}
	return j
}

// ageOut folds the embryo i, unanswered for foldAge.
func (t *Tracker) ageOut(i int32, at Timestamp) {
	e := &t.lone.embryos[i]
	t.fold(i, e.key.hash(), t.aggregate(e), at)
}

// fold counts embryo i in aggregate j and frees it; at is the moment it
// is judged at (the end, for those still waiting then).
func (t *Tracker) fold(i int32, h uint64, j int32, at Timestamp) {
	l := &t.lone
	e, a := &l.embryos[i], &l.aggs[j]
	first, last := &e.syn[0], &e.syn[e.n-1]
	a.Connections++
	a.SYNs += int(e.n)
	if e.n > 1 {
		a.Retried++
	}
	if a.First == 0 || first.at < a.First {
		a.First = first.at
	}
	a.Last = max(a.Last, last.at)
	client := e.client()
	a.countClient(client.Addr())
	a.example(Example{Client: client, At: first.at, Input: first.input, Packet: first.packet})
	if e.n == 1 && at.Sub(last.at) < InitialRTO {
		a.InProgress++
	} else {
		var gap time.Duration
		if e.n > 1 {
			gap = last.at.Sub(e.syn[e.n-2].at)
		}
		b := bucketOf(last.at, gap, e.n > 1)
		if a.buckets == nil {
			a.buckets = map[uint64]int32{}
		}
		a.buckets[b]++
		l.renew(last.at)
		l.folded[0].set(foldedHash(h, first.seq), foldedEntry(j, e.n, b))
	}
	t.drop(i, h)
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

func foldedEntry(agg int32, syns uint8, bucket uint64) uint64 {
	return uint64(agg+1)<<aggShift | uint64(min(syns, 15))<<synsShift | bucket
}

// countClient counts one connection from client address a.
func (a *aggregate) countClient(addr netip.Addr) {
	if a.hll == nil {
		a.hll = make([]uint8, 1<<hllBits)
		a.exact = map[netip.Addr]int32{}
	}
	b := addr.As16()
	h := uint64(0xcbf29ce484222325)
	for _, c := range b {
		h = (h ^ uint64(c)) * 0x100000001b3
	}
	h ^= h >> 31
	h *= 0x9e3779b97f4a7c15
	h ^= h >> 29
	r := uint8(bits.LeadingZeros64(h<<hllBits|1<<(hllBits-1))) + 1
	if j := h >> (64 - hllBits); r > a.hll[j] {
		a.hll[j] = r
	}
	if n, ok := a.exact[addr]; ok || len(a.exact) < maxExactClients {
		a.exact[addr] = n + 1
	} else {
		a.ClientsEstimated = true
	}
}

// sweepLone takes the embryos unanswered for foldAge out of the table,
// and renews the set of folded connections.
func (t *Tracker) sweepLone() {
	l := &t.lone
	for l.head < len(l.queue) {
		ref := l.queue[l.head]
		e := &l.embryos[ref.i]
		if e.gen != ref.gen || e.n == 0 {
			l.head++ // promoted since
			continue
		}
		if t.last.Sub(e.syn[0].at) < foldAge {
			break
		}
		l.head++
		if t.last.Sub(e.syn[e.n-1].at) < foldAge {
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
// embryo that belongs to a folded connection: a SYN sent again (counted,
// and true: nothing more to do) or the SYN-ACK that answers it at last
// (the connection leaves its aggregate; false: the packet starts a flow).
func (t *Tracker) lateForFolded(seg *packet.Segment, m Meta, h uint64) bool {
	l := &t.lone
	if l.foldedGen == 0 {
		return false
	}
	l.renew(m.At)
	var isn uint32
	switch seg.Flags & (packet.SYN | packet.ACK | packet.RST | packet.FIN) {
	case packet.SYN:
		isn = seg.Seq
	case packet.SYN | packet.ACK:
		isn = seg.Ack - 1
	default:
		return false
	}
	fh := foldedHash(h, isn)
	for g := range l.folded {
		v := l.folded[g].get(fh)
		if v == 0 {
			continue
		}
		a := &l.aggs[v>>aggShift-1]
		b, syns := v&bucketMask, int(v>>synsShift&15)
		a.buckets[b]--
		if seg.Flags.Has(packet.ACK) {
			// Answered after all: a flow of its own from here.
			l.folded[g].del(fh)
			a.Connections--
			a.SYNs -= syns
			if syns > 1 {
				a.Retried--
			}
			a.AnsweredLate++
			return false
		}
		a.SYNs++
		if syns == 1 {
			a.Retried++
		}
		last := Timestamp(b>>5) * Timestamp(time.Second)
		nb := bucketOf(m.At, m.At.Sub(last), true)
		a.buckets[nb]++
		a.Last = max(a.Last, m.At)
		l.folded[g].set(fh, foldedEntry(int32(v>>aggShift-1), uint8(min(syns+1, 15)), nb))
		return true
	}
	return false
}

// finishLone ends the embryos at the end of the capture (at), and
// returns the aggregates that folded connections, their clients' states
// settled.
func (t *Tracker) finishLone(at Timestamp) []*aggregate {
	l := &t.lone
	for _, ref := range l.queue[l.head:] {
		e := &l.embryos[ref.i]
		if e.gen != ref.gen || e.n == 0 {
			continue
		}
		t.fold(ref.i, e.key.hash(), t.aggregate(e), at)
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
	by := map[netip.AddrPort]*aggregate{}
	var order []*aggregate
	for _, l := range lists {
		for _, a := range l {
			o := by[a.Server]
			if o == nil {
				by[a.Server] = a
				order = append(order, a)
				continue
			}
			o.Connections += a.Connections
			o.SYNs += a.SYNs
			o.Retried += a.Retried
			o.InProgress += a.InProgress
			o.GaveUp += a.GaveUp
			o.AnsweredLate += a.AnsweredLate
			o.First = min(o.First, a.First)
			o.Last = max(o.Last, a.Last)
			for _, ex := range slices.Concat(a.Examples, a.latest) {
				o.example(ex)
			}
			for addr, n := range a.exact {
				if _, ok := o.exact[addr]; ok || len(o.exact) < maxExactClients {
					o.exact[addr] += n
				} else {
					o.ClientsEstimated = true
				}
			}
			o.ClientsEstimated = o.ClientsEstimated || a.ClientsEstimated
			for k, r := range a.hll {
				o.hll[k] = max(o.hll[k], r)
			}
		}
	}
	out := make([]Aggregate, 0, len(order))
	for _, a := range order {
		out = append(out, a.settled())
	}
	slices.SortStableFunc(out, func(x, y Aggregate) int { return y.Connections - x.Connections })
	return out
}

// settled is the aggregate as reported.
func (a *aggregate) settled() Aggregate {
	out := a.Aggregate
	out.ClientHosts = len(a.exact)
	if a.ClientsEstimated {
		out.ClientHosts = max(len(a.exact), hllEstimate(a.hll))
	} else {
		for addr, n := range a.exact {
			out.TopClients = append(out.TopClients, ClientCount{addr, int(n)})
		}
		slices.SortFunc(out.TopClients, func(x, y ClientCount) int {
			return cmp.Or(y.Connections-x.Connections, x.Addr.Compare(y.Addr))
		})
		if len(out.TopClients) > 5 {
			out.TopClients = out.TopClients[:5]
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
