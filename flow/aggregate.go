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

// Aggregate counts the connections that carried no conversation and
// were folded rather than kept as flows: those to one server endpoint (a
// SYN flood, a service a firewall hides, hammered by retries), or from
// one client address to many (a scan).
type Aggregate struct {
	// Server is the server endpoint; Client the client address. One of
	// them is set, or, for Other, neither.
	Server netip.AddrPort
	Client netip.Addr
	// Other is set for the connections to server endpoints, or from
	// client addresses, past the first few thousand that may have
	// aggregates of their own, or that neither their server endpoint nor
	// their client had many of (SYNs spread over a whole network, from
	// spoofed sources or too many to keep one by one): their peers are
	// the server endpoints, as for a client's.
	Other bool
	// Sources estimates, for Other, the distinct client addresses (never
	// more than Connections): as many as the connections when the sources
	// were spoofed, each used once.
	Sources int
	// HalfOpen is set for connections the server answered with a SYN-ACK
	// and the client never went on with (the SYN flood a server answers
	// with SYN cookies); else they got no answer at all.
	HalfOpen bool
	// Refused is set for connections the server answered with RST: the
	// port is closed (a scan of closed ports, clients retrying a service
	// that is down).
	Refused bool
	// Connections counts the folded connections: bare SYNs (and their
	// retransmissions), and for HalfOpen the SYN-ACKs that answered them.
	Connections int
	SYNs        int // SYN packets, retransmissions included
	SYNACKs     int // SYN-ACK packets (HalfOpen), retransmissions included
	RSTs        int // RST packets: those that refused them, and any after (Refused)
	// ServerRetried counts the connections whose server sent its SYN-ACK
	// more than once (HalfOpen): it kept them in SYN_RECV, where one sent
	// once is a SYN cookie, no state kept.
	ServerRetried int
	Retried       int // connections whose SYN was sent more than once
	// RetriedBy names the clients of the connections Retried counts,
	// their addresses (port 0) and how many each, busiest first: those
	// among the maxRetriedBy lowest addresses of the clients that sent a
	// SYN again (the same, however many trackers counted them; one whose
	// connections were all answered late keeps its place, unnamed).
	// Spoofed sources do not send a SYN again: of a flood from spoofed
	// sources, the clients that do are most likely real ones.
	RetriedBy []PeerCount
	// InProgress counts those whose single SYN was sent, or (HalfOpen)
	// whose first SYN-ACK was, less than the initial RTO before the end:
	// handshakes in progress.
	InProgress int
	// GaveUp counts the clients that had stopped retrying by the end
	// (SYN_SENT expired, CLOSED); the others, but those in progress, are
	// still in SYN_SENT.
	GaveUp int
	// AnsweredLate counts connections folded, then answered after all:
	// they are flows of their own, and not in Connections.
	AnsweredLate int
	// Peers is the number of distinct client addresses (of a server
	// endpoint's aggregate) or server endpoints (of a client's, or
	// Other): exact up to maxExactPeers, an estimate (within a few
	// percent, never more than Connections) past it.
	Peers          int
	PeersEstimated bool
	// TopPeers are the peers with the most connections, when few enough
	// were counted exactly: client addresses (port 0), or endpoints.
	TopPeers []PeerCount
	// OneHost is, of a client's aggregate (or Other) whose endpoints were
	// all on one address, that address (ports scanned on one host);
	// OnePort, when they all had one port, that port (one port swept over
	// many hosts).
	OneHost     netip.Addr
	OnePort     uint16
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
	// maxTopPeers is how many peers TopPeers lists: all of them when they
	// were counted exactly (a client that tried a few endpoints only, and
	// is no scanner, is reported per endpoint).
	maxTopPeers = maxExactPeers
	// hllBits sizes the HyperLogLog past maxExactPeers: 4 KiB, made only
	// then; within a percent or two.
	hllBits = 12
)

// aggKey is what an aggregate counts by: a server endpoint, or a
// client address (port 0), as the tuple holds them.
type aggKey struct {
	by      Fold
	half    bool
	refused bool
	addr    [16]byte
	port    uint16
}

// aggregate is an Aggregate being counted.
type aggregate struct {
	Aggregate
	// buckets counts the folded connections by the second of their last
	// SYN, whether they retried, and the backoff before that SYN in
	// seconds: enough to tell at the end whether each client gave up.
	buckets map[uint64]int32
	// settledAt is when the buckets of clients that had given up by then
	// were last counted in GaveUp and let go of (settle); 0: never.
	settledAt Timestamp
	exact     map[netip.AddrPort]int32 // up to maxExactPeers of them
	hll       []uint8
	latest    []Example // the latest examples; Examples holds the earliest
	// manyHosts and manyPorts are set once a client's endpoints were on
	// more than one address, or port.
	manyHosts, manyPorts bool
	retriedBy            map[netip.Addr]int32 // RetriedBy, as counted
	sources              []uint8              // Other's client addresses: a HyperLogLog
}

// maxRetriedBy is how many clients Aggregate.RetriedBy names.
const maxRetriedBy = 16

// retry counts d connections of client (d -1: one taken back out) whose
// SYN was sent more than once.
func (a *aggregate) retry(client netip.Addr, d int) {
	a.Retried += d
	a.retriedBy = nameRetried(a.retriedBy, client, int32(d))
}

// nameRetried adds d connections of client to m, which keeps the
// maxRetriedBy lowest addresses of the clients met: a client among the
// lowest of all is among the lowest of those any tracker met, and is
// never let go of. A client whose connections were all taken back out
// (answered late) keeps its place, at 0: were it let go of, a higher
// address that one tracker had no room for, and another had, would be
// named or not by the number of trackers.
func nameRetried(m map[netip.Addr]int32, client netip.Addr, d int32) map[netip.Addr]int32 {
	if n, ok := m[client]; ok {
		m[client] = max(n+d, 0)
		return m
	}
	if d < 0 {
		return m // not named: its other connections were not either
	}
	if len(m) >= maxRetriedBy {
		hi := client
		for c := range m {
			if c.Compare(hi) > 0 {
				hi = c
			}
		}
		if hi == client {
			return m
		}
		delete(m, hi)
	}
	if m == nil {
		m = map[netip.Addr]int32{}
	}
	m[client] = d
	return m
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
	if n := len(l); n == maxExamples && exampleOrder(ex, l[n-1]) > 0 {
		// Later than every one kept, as most are: the pass goes in
		// capture order.
		if !earliest {
			copy(l, l[1:])
			l[n-1] = ex
		}
		return l
	}
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

// byEndpoint reports whether the aggregate's peers are server
// endpoints (a client's, or Other) rather than client addresses.
func (a *aggregate) byEndpoint() bool { return a.Client.IsValid() || a.Other }

// countEndpoint counts one connection of a client's aggregate (or
// Other), to endpoint p.
func (a *aggregate) countEndpoint(p netip.AddrPort) {
	if a.exact == nil {
		a.OneHost, a.OnePort = p.Addr(), p.Port()
	}
	a.manyHosts = a.manyHosts || p.Addr() != a.OneHost
	a.manyPorts = a.manyPorts || p.Port() != a.OnePort
	a.countPeer(p)
}

// countPeer counts one connection with peer p.
func (a *aggregate) countPeer(p netip.AddrPort) {
	if a.exact == nil {
		a.exact = map[netip.AddrPort]int32{}
	}
	if n, ok := a.exact[p]; ok || len(a.exact) < maxExactPeers {
		a.exact[p] = n + 1
		if a.hll != nil {
			a.estimate(p)
		}
		return
	}
	a.PeersEstimated = true
	a.estimating()
	a.estimate(p)
}

// estimating makes the HyperLogLog, once the peers are more than are
// counted exactly, with those that are.
func (a *aggregate) estimating() {
	if a.hll != nil {
		return
	}
	a.hll = make([]uint8, 1<<hllBits)
	for p := range a.exact {
		a.estimate(p)
	}
}

// estimate counts peer p in the HyperLogLog.
func (a *aggregate) estimate(p netip.AddrPort) { hllAdd(a.hll, p) }

// hllAdd counts p in the HyperLogLog m.
func hllAdd(m []uint8, p netip.AddrPort) {
	b := p.Addr().As16()
	// SplitMix64's finalizer over the address's two words, the port in
	// the first: as well spread as a byte-wise hash, at a fraction of its
	// cost (a flood counts every source).
	h := mix64(mix64(binary.LittleEndian.Uint64(b[:8])^uint64(p.Port())) ^ binary.LittleEndian.Uint64(b[8:]))
	r := uint8(bits.LeadingZeros64(h<<hllBits|1<<(hllBits-1))) + 1
	if j := h >> (64 - hllBits); r > m[j] {
		m[j] = r
	}
}

// mix64 is SplitMix64's finalizer: every bit of x moves every bit of
// the result.
func mix64(x uint64) uint64 {
	x = (x ^ x>>30) * 0xbf58476d1ce4e5b9
	x = (x ^ x>>27) * 0x94d049bb133111eb
	return x ^ x>>31
}

// mergeHLL merges the HyperLogLog src into dst.
func mergeHLL(dst, src []uint8) {
	for k, r := range src {
		dst[k] = max(dst[k], r)
	}
}

// countSource counts the client address of one connection of an Other
// aggregate, whose peers are its endpoints.
func (a *aggregate) countSource(c netip.Addr) {
	if a.sources == nil {
		a.sources = make([]uint8, 1<<hllBits)
	}
	hllAdd(a.sources, netip.AddrPortFrom(c, 0))
}

// uncountPeer takes one connection with peer p back out of the exact
// counts (an estimate cannot be taken back: past the exact counts, only
// Peers is told).
func (a *aggregate) uncountPeer(p netip.AddrPort) {
	if n, ok := a.exact[p]; ok {
		if n <= 1 {
			delete(a.exact, p)
		} else {
			a.exact[p] = n - 1
		}
	}
}

// peerOf is the peer, as the aggregate counts them, of the connection a
// segment is on: the server endpoint of a client's aggregate (or Other),
// the client address of a server endpoint's. fromServer says which end
// sent it, which only Other, with neither end known, needs.
func (a *aggregate) peerOf(seg *packet.Segment, fromServer bool) netip.AddrPort {
	switch {
	case a.Other && fromServer, a.Client.IsValid() && seg.Dst.Addr() == a.Client:
		return seg.Src
	case a.Other, a.Client.IsValid():
		return seg.Dst
	case seg.Src == a.Server:
		return netip.AddrPortFrom(seg.Dst.Addr(), 0)
	}
	return netip.AddrPortFrom(seg.Src.Addr(), 0)
}

// mergeAggregates merges the trackers' aggregates of the same server
// endpoint, and returns them as reported, most connections first.
func mergeAggregates(lists [][]*aggregate) []Aggregate {
	type key struct {
		server netip.AddrPort
		client netip.Addr
		half   bool
		refsd  bool
	}
	by := map[key]*aggregate{}
	var order []*aggregate
	for _, l := range lists {
		for _, a := range l {
			k := key{a.Server, a.Client, a.HalfOpen, a.Refused}
			o := by[k]
			if o == nil {
				by[k] = a
				order = append(order, a)
				continue
			}
			o.Connections += a.Connections
			o.SYNs += a.SYNs
			o.Retried += a.Retried
			for c, n := range a.retriedBy {
				o.retriedBy = nameRetried(o.retriedBy, c, n)
			}
			o.InProgress += a.InProgress
			o.GaveUp += a.GaveUp
			o.AnsweredLate += a.AnsweredLate
			o.SYNACKs += a.SYNACKs
			o.RSTs += a.RSTs
			o.ServerRetried += a.ServerRetried
			if o.exact == nil {
				o.OneHost, o.OnePort = a.OneHost, a.OnePort
			}
			o.manyHosts = o.manyHosts || a.manyHosts || a.exact != nil && a.OneHost != o.OneHost
			o.manyPorts = o.manyPorts || a.manyPorts || a.exact != nil && a.OnePort != o.OnePort
			o.First = min(o.First, a.First)
			o.Last = max(o.Last, a.Last)
			for _, ex := range slices.Concat(a.Examples, a.latest) {
				o.example(ex)
			}
			if o.exact == nil {
				o.exact = map[netip.AddrPort]int32{}
			}
			for p, n := range a.exact {
				if _, ok := o.exact[p]; ok || len(o.exact) < maxExactPeers {
					o.exact[p] += n
				} else {
					o.PeersEstimated = true
				}
			}
			o.PeersEstimated = o.PeersEstimated || a.PeersEstimated
			if o.PeersEstimated {
				o.estimating()
				for p := range a.exact {
					o.estimate(p)
				}
				mergeHLL(o.hll, a.hll)
			}
			if a.sources != nil {
				if o.sources == nil {
					o.sources = make([]uint8, 1<<hllBits)
				}
				mergeHLL(o.sources, a.sources)
			}
		}
	}
	out := make([]Aggregate, 0, len(order))
	for _, a := range order {
		out = append(out, a.settled())
	}
	// Those of one endpoint, of one client, or Other, are told apart by
	// what happened to them: the order the trackers made them in depends
	// on how many there were.
	outcome := func(a Aggregate) int {
		switch {
		case a.Refused:
			return 2
		case a.HalfOpen:
			return 1
		}
		return 0
	}
	slices.SortStableFunc(out, func(x, y Aggregate) int {
		return cmp.Or(y.Connections-x.Connections, x.Server.Compare(y.Server), x.Client.Compare(y.Client), outcome(x)-outcome(y))
	})
	return out
}

// busiestFirst orders peers by their connections, most first, then by
// address.
func busiestFirst(x, y PeerCount) int {
	return cmp.Or(y.Connections-x.Connections, x.Peer.Compare(y.Peer))
}

// settled is the aggregate as reported.
func (a *aggregate) settled() Aggregate {
	out := a.Aggregate
	if a.manyHosts || !a.byEndpoint() {
		out.OneHost = netip.Addr{}
	}
	if a.manyPorts || !a.byEndpoint() {
		out.OnePort = 0
	}
	out.Peers = len(a.exact)
	if a.PeersEstimated {
		// Within a few percent, and never more than the connections: an
		// estimate cannot take back the peers of those answered late.
		out.Peers = min(max(len(a.exact), hllEstimate(a.hll)), a.Connections)
	} else {
		for p, n := range a.exact {
			out.TopPeers = append(out.TopPeers, PeerCount{p, int(n)})
		}
		slices.SortFunc(out.TopPeers, busiestFirst)
		if len(out.TopPeers) > maxTopPeers {
			out.TopPeers = out.TopPeers[:maxTopPeers]
		}
	}
	if a.sources != nil {
		out.Sources = min(hllEstimate(a.sources), a.Connections)
	}
	for c, n := range a.retriedBy {
		if n > 0 {
			out.RetriedBy = append(out.RetriedBy, PeerCount{netip.AddrPortFrom(c, 0), int(n)})
		}
	}
	slices.SortFunc(out.RetriedBy, busiestFirst)
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
