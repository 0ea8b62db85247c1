package flow

import (
	"container/heap"
	"context"
	"errors"
	"io"
	"maps"
	"net/netip"
	"runtime"
	"slices"
	"sync/atomic"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"

	"github.com/flowdoc/flowdoc/flow/capture"
	"github.com/flowdoc/flowdoc/flow/packet"
	"github.com/flowdoc/flowdoc/flow/payload"
)

// Result is what one pass over the inputs produced.
type Result struct {
	Inputs []Input
	Flows  []*Record // in order of first packet
	// Aggregates count, per server endpoint, the connections that
	// carried no conversation once there were many: they are not in
	// Flows (see Aggregate).
	Aggregates []Aggregate
	// LocalAddrs are the capturing host's addresses, where the link layer
	// recorded packet directions (Linux cooked captures, tcpdump -i any);
	// sorted. A host with several addresses (a proxy's two sides) is
	// known to be one host by them.
	LocalAddrs []netip.Addr
	// End is the moment the states are reported for: Config.At, or the
	// last packet's time.
	End time.Time
	// Evicted counts the connections dropped to stay under
	// Config.MaxFlows: they are not in Flows.
	Evicted int
}

// Progress reports how far a pass has come; it is called every few
// thousand packets from the reading goroutine.
type Progress struct {
	Packets   uint64
	BytesRead int64 // of the input files, compressed if they are
	Total     int64 // the input files' sizes; -1 if any is unknown (a pipe)
	Open      int   // connections in the table
}

// ReadOptions tunes Read.
type ReadOptions struct {
	Config
	// Trackers is how many goroutines follow connections, each its share
	// of them; 0 means one per CPU.
	Trackers int
	// OnProgress, if not nil, is called now and then during the pass.
	OnProgress func(Progress)
	// OnFinish, if not nil, is called once the last packet is read, just
	// before the trackers turn the connections still open into records:
	// a moment when memory holds both at once.
	OnFinish func()
	// Snapshots, if not nil, asks for the result so far: the pass sends
	// one to each channel it receives, soon (within a few hundred
	// packets, or when a live source is idle), and goes on.
	Snapshots <-chan chan<- *Result
}

// Read reads every packet of srcs in timestamp order (several inputs are
// merged), tracks the TCP connections and returns them. A packet that
// cannot be decoded is counted and warned about in its Input; a record
// that cannot be read ends that input with a warning, and what was read
// before it still counts. Read returns an error only when ctx ends, along
// with the result so far.
func Read(ctx context.Context, srcs []*capture.Source, opt ReadOptions) (*Result, error) {
	n := opt.Trackers
	if n <= 0 {
		// One per CPU, although the reading goroutine needs one too: it
		// waits whenever a tracker falls behind, and a tracker whenever
		// the reader does, so the load only balances over the CPUs when
		// every one of them has a tracker to run (make bench measures
		// it: fewer trackers than CPUs read more slowly, with payload
		// read or without).
		n = runtime.GOMAXPROCS(0)
	}
	cfg := opt.Config
	if cfg.MaxFlows > 0 {
		// The cap is the pass's: each tracker keeps its share, and no
		// more trackers than there are flows to keep.
		n = min(n, cfg.MaxFlows)
		cfg.MaxFlows /= n
	}
	p := &pass{
		dec:     packet.NewDecoder(),
		inputs:  make([]Input, len(srcs)),
		srcs:    srcs,
		onProg:  opt.OnProgress,
		snaps:   opt.Snapshots,
		at:      opt.Config.At,
		payload: !opt.Config.Payload.Off,
	}
	if cfg.Payload.Buffer == 0 {
		cfg.Payload.Buffer = payload.DefaultBuffer
	}
	cfg.Payload.Buffer /= n // the trackers share the cap
	// Trackers run on goroutines of their own, each fed in order with the
	// connections whose tuple hashes to it, while this one reads and
	// decodes.
	for range n {
		tr := NewTracker(cfg)
		tr.inputs, tr.retainN = len(srcs), retainCap/n
		sh := &shard{
			tracker: tr,
			full:    make(chan *batch, batches),
			free:    make(chan *batch, batches),
			done:    make(chan struct{}),
		}
		for range batches {
			sh.free <- new(batch)
		}
		sh.cur = <-sh.free
		p.shards = append(p.shards, sh)
		go sh.track()
	}
	for i, s := range srcs {
		p.inputs[i] = Input{Path: s.Name, Format: s.Format.String(), Compressed: s.Compressed, LinkTypes: []string{}, Warnings: []Warning{}}
		if s.Size() < 0 {
			p.total = -1
		} else if p.total >= 0 {
			p.total += s.Size()
		}
	}
	err := p.run(ctx)
	// Each tracker finishes on its own goroutine once it has the last
	// batch, all of them at once.
	end := p.closeInputs(p.inputs, false)
	if opt.OnFinish != nil {
		opt.OnFinish()
	}
	for _, sh := range p.shards {
		sh.flush()
		sh.end = end
		close(sh.full)
	}
	var lists [][]*Record
	var aggs [][]*aggregate
	var dups [][]dupCount
	var at time.Time
	evicted := 0
	for _, sh := range p.shards {
		<-sh.done
		evicted += sh.tracker.evicted
		lists, at = append(lists, sh.recs), sh.at
		aggs = append(aggs, sh.tracker.aggs)
		dups = append(dups, sh.tracker.dups)
	}
	countDuplicates(p.inputs, dups)
	flows := mergeRecords(lists)
	inferRoles(flows)
	return &Result{Inputs: p.inputs, Flows: flows, Aggregates: mergeAggregates(aggs), End: at, LocalAddrs: p.localAddrs(), Evicted: evicted}, err
}

// minControlFINs is how many FINs, with no packet but SYNs, FINs and
// RSTs, tell a capture filtered on those flags.
const minControlFINs = 10

// closeInputs sets each input's first and last packet times and returns
// the end of the capture: its recorded end where it has one, else its last
// packet, TCP or not. A live capture still running (now) ends now.
func (p *pass) closeInputs(inputs []Input, now bool) Timestamp {
	var end Timestamp
	for i := range inputs {
		in := &inputs[i]
		if in.Packets > 0 {
			in.First, in.Last = time.Unix(0, in.first).UTC(), time.Unix(0, in.last).UTC()
		}
		end = max(end, Timestamp(in.last))
		var e int64
		if t := p.srcs[i].End(); !t.IsZero() {
			e = t.UnixNano()
		}
		if now && p.srcs[i].Format == capture.FormatLive {
			e = time.Now().UnixNano()
		}
		if e > in.last {
			in.End = time.Unix(0, e).UTC()
			end = max(end, Timestamp(e))
		}
		if in.longer > 1 && !now {
			in.warn(Warning{Kind: WarnLongerAll, N: in.longer})
		}
		if in.cut > 0 && !now {
			in.warn(Warning{Kind: WarnCutHeaders, N: in.cut, Packet: in.cutFirst})
		}
		if in.plain == 0 && in.fins >= minControlFINs && !now {
			// Connections closed, yet not one ACK or segment of data between
			// their handshakes and their FINs: the capture kept only the
			// packets with those flags (tcp[tcpflags] & (tcp-syn|tcp-fin|
			// tcp-rst) != 0).
			in.warn(Warning{Kind: WarnControlOnly, N: in.fins})
		}
		if d := p.srcs[i].Dropped(); d > 0 {
			in.Dropped = d
			in.warn(Warning{Kind: WarnDropped, N: int(d)})
		}
	}
	return end
}

// How an address was seen in packets with a direction: as this host's
// end (the destination of one that came in, the source of one that went
// out), or as the other end.
const (
	localEnd uint8 = 1 << iota
	remoteEnd
)

// sawEnds notes the ends of the segment, which has a direction: the
// destination of what came in, the source of what went out, is the
// host's, unless it is the other end elsewhere (a host that forwards
// packets, a router, a NAT, a node's pods behind veths, receives and
// sends both ends' packets). On the loopback interface the other end is
// the host's too, but not taken for its: a lab that routes spoofed
// sources over lo would make them all the host's.
func (p *pass) sawEnds() {
	a, r := p.seg.Dst.Addr(), p.seg.Src.Addr()
	if p.seg.Dir.Outgoing() {
		a, r = r, a
	}
	if a == p.last && r == p.lastRemote {
		return
	}
	p.last, p.lastRemote = a, r
	if p.local == nil {
		p.local = map[netip.Addr]uint8{}
	}
	p.local[a] |= localEnd
	if r != a && !p.seg.Dir.Loopback() {
		p.local[r] |= remoteEnd
	}
}

// localAddrs are the addresses seen as this host's end only.
func (p *pass) localAddrs() []netip.Addr {
	var local []netip.Addr
	for a, ends := range p.local {
		if ends == localEnd {
			local = append(local, a)
		}
	}
	slices.SortFunc(local, netip.Addr.Compare)
	return local
}

// snapshot is the result so far, from copies of the trackers' records:
// the pass goes on undisturbed.
func (p *pass) snapshot() *Result {
	replies := make([]chan snapReply, len(p.shards))
	for i, sh := range p.shards {
		sh.flush()
		b := <-sh.free
		b.snap = make(chan snapReply, 1)
		replies[i] = b.snap
		sh.full <- b
	}
	inputs := slices.Clone(p.inputs)
	for i := range inputs {
		inputs[i].Warnings = slices.Clone(inputs[i].Warnings)
		inputs[i].Encapsulations = slices.Clone(inputs[i].Encapsulations)
		inputs[i].other = maps.Clone(inputs[i].other)
	}
	end := p.closeInputs(inputs, true)
	at := end
	if !p.at.IsZero() {
		at = TS(p.at)
	}
	lists := make([][]*Record, len(replies))
	aggs := make([][]*aggregate, len(replies))
	dups := make([][]dupCount, len(replies))
	evicted := 0
	for i, r := range replies {
		reply := <-r
		lists[i], aggs[i], evicted, dups[i] = reply.recs, reply.aggs, evicted+reply.evicted, reply.dups
		for _, a := range reply.aggs {
			a.settle(at)
			a.buckets = nil
		}
	}
	for _, l := range lists {
		for _, r := range l {
			p.shards[0].tracker.finalize(r, at)
		}
	}
	countDuplicates(inputs, dups)
	flows := mergeRecords(lists)
	inferRoles(flows)
	return &Result{Inputs: inputs, Flows: flows, Aggregates: mergeAggregates(aggs), End: at.Time(), LocalAddrs: p.localAddrs(), Evicted: evicted}
}

// service answers the snapshot requests waiting.
func (p *pass) service() {
	for {
		select {
		case reply := <-p.snaps:
			reply <- p.snapshot()
		default:
			return
		}
	}
}

// mergeRecords merges the trackers' records, each list in order of first
// packet (their IDs still hold that packet's Meta.Order), into one in that
// order, and numbers them.
func mergeRecords(lists [][]*Record) []*Record {
	if len(lists) == 1 {
		return numbered(lists[0])
	}
	total := 0
	for _, l := range lists {
		total += len(l)
	}
	out := make([]*Record, 0, total)
	for len(out) < total {
		best := -1
		for i, l := range lists {
			if len(l) > 0 && (best < 0 || l[0].ID < lists[best][0].ID) {
				best = i
			}
		}
		out = append(out, lists[best][0])
		lists[best] = lists[best][1:]
	}
	return numbered(out)
}

// numbered gives recs their IDs, 1-based in the order they are in.
func numbered(recs []*Record) []*Record {
	for i, r := range recs {
		r.ID = i + 1
	}
	return recs
}

type pass struct {
	dec     *packet.Decoder
	inputs  []Input
	srcs    []*capture.Source
	onProg  func(Progress)
	snaps   <-chan chan<- *Result
	at      time.Time // Config.At
	total   int64
	packets uint64
	shards  []*shard
	seg     packet.Segment
	local   map[netip.Addr]uint8 // localEnd, remoteEnd
	// last and lastRemote are the ends of the last packet with a
	// direction, to skip the map.
	last, lastRemote netip.Addr
	idle             bool       // the last read found no packet yet (live)
	payload          bool       // payloads go to the trackers
	syns             synCounter // marks the SYNs that may be folded
}

// shard is one tracker and the batches that feed it.
type shard struct {
	tracker    *Tracker
	cur        *batch       // being filled by the reader
	full, free chan *batch  // to the tracker, and back
	open       atomic.Int64 // connections in the table, for progress
	// end is the end of the capture, set before full is closed; the
	// tracker then finishes, leaving its records in recs, and closes
	// done.
	end  Timestamp
	recs []*Record
	at   time.Time
	done chan struct{}
}

// snapReply is a tracker's part of a snapshot.
type snapReply struct {
	recs    []*Record
	aggs    []*aggregate
	evicted int
	dups    []dupCount
}

// batch carries decoded segments from the reader to a tracker.
type batch struct {
	n    int
	segs [batchSize]packet.Segment
	meta [batchSize]Meta
	keys [batchSize]tuple
	hash [batchSize]uint64
	srcA [batchSize]bool
	// payload holds the segments' payloads one after another (the
	// packets' buffers are reused); pend[i] is where segment i's ends.
	payload []byte
	pend    [batchSize]int32
	// snap, when set, asks the tracker for a snapshot of its records
	// once it has added the segments.
	snap chan snapReply
}

const (
	batchSize = 256
	batches   = 8
)

func (sh *shard) track() {
	defer close(sh.done)
	for b := range sh.full {
		sh.tracker.addBatch(b)
		sh.open.Store(int64(sh.tracker.Open()))
		if b.snap != nil {
			b.snap <- snapReply{sh.tracker.snapshot(), sh.tracker.snapshotAggregates(), sh.tracker.evicted, slices.Clone(sh.tracker.dups)}
			b.snap = nil
		}
		b.reset()
		sh.free <- b
	}
	sh.tracker.last = max(sh.tracker.last, sh.end)
	sh.recs, sh.at = sh.tracker.finish()
}

// push adds a segment to the batch; its payload is copied when withPayload
// is set (the packet's buffer is reused).
func (b *batch) push(seg *packet.Segment, m Meta, k tuple, h uint64, srcA, withPayload bool) {
	b.segs[b.n] = *seg
	if cut := seg.Len - len(seg.Payload); cut > 0 {
		m.Cut = uint16(min(cut, 0xffff))
	}
	if withPayload && len(seg.Payload) > 0 && seg.Flags&packet.RST == 0 {
		b.payload = append(b.payload, seg.Payload...)
		b.segs[b.n].Payload = b.payload[len(b.payload):] // not nil: addBatch sets it
	} else {
		b.segs[b.n].Payload = nil
	}
	b.pend[b.n] = int32(len(b.payload))
	b.meta[b.n] = m
	b.keys[b.n], b.hash[b.n], b.srcA[b.n] = k, h, srcA
	b.n++
}

// reset empties the batch for reuse.
func (b *batch) reset() {
	b.n = 0
	b.payload = b.payload[:0]
}

// addBatch adds a batch's segments in order.
func (t *Tracker) addBatch(b *batch) {
	start := int32(0)
	for i := range b.n {
		seg := &b.segs[i]
		if seg.Payload != nil {
			seg.Payload = b.payload[start:b.pend[i]:b.pend[i]]
		}
		start = b.pend[i]
		t.add(seg, b.meta[i], &b.keys[i], b.hash[i], b.srcA[i])
	}
}

// flush hands the batch being filled to the tracker.
func (sh *shard) flush() {
	if sh.cur.n > 0 {
		sh.full <- sh.cur
		sh.cur = <-sh.free
	}
}

// cursor is an input's next packet during a merge.
type cursor struct {
	i    int
	data []byte
	ci   gopacket.CaptureInfo
	lt   layers.LinkType
}

type cursors []*cursor

func (h cursors) Len() int { return len(h) }
func (h cursors) Less(a, b int) bool {
	if !h[a].ci.Timestamp.Equal(h[b].ci.Timestamp) {
		return h[a].ci.Timestamp.Before(h[b].ci.Timestamp)
	}
	return h[a].i < h[b].i
}
func (h cursors) Swap(a, b int) { h[a], h[b] = h[b], h[a] }
func (h *cursors) Push(x any)   { *h = append(*h, x.(*cursor)) }
func (h *cursors) Pop() any {
	old := *h
	x := old[len(old)-1]
	*h = old[:len(old)-1]
	return x
}

func (p *pass) run(ctx context.Context) error {
	if len(p.srcs) == 1 {
		// Live sources are checked on often: their packets come slowly.
		mask := uint64(0x3fff)
		if p.srcs[0].Format == capture.FormatLive {
			mask = 0xff
		}
		for {
			data, ci, lt, ok := p.next(0)
			if !ok {
				if p.idle {
					p.idle = false
					if err := p.tick(ctx); err != nil {
						return err
					}
					continue
				}
				return nil
			}
			p.handle(0, data, ci, lt)
			if p.packets&mask == 0 {
				if err := p.tick(ctx); err != nil {
					return err
				}
			}
		}
	}
	// Several inputs: always process the earliest pending packet. A
	// source's buffer stays valid until that source is read again.
	h := make(cursors, 0, len(p.srcs))
	for i := range p.srcs {
		if data, ci, lt, ok := p.next(i); ok {
			h = append(h, &cursor{i: i, data: data, ci: ci, lt: lt})
		}
	}
	heap.Init(&h)
	for h.Len() > 0 {
		c := h[0]
		p.handle(c.i, c.data, c.ci, c.lt)
		if data, ci, lt, ok := p.next(c.i); ok {
			c.data, c.ci, c.lt = data, ci, lt
			heap.Fix(&h, 0)
		} else {
			heap.Pop(&h)
		}
		if p.packets&0x3fff == 0 {
			if err := p.tick(ctx); err != nil {
				return err
			}
		}
	}
	return nil
}

func (p *pass) tick(ctx context.Context) error {
	if p.onProg != nil {
		var read int64
		for _, s := range p.srcs {
			read += s.BytesRead()
		}
		open := 0
		for _, sh := range p.shards {
			open += int(sh.open.Load())
		}
		p.onProg(Progress{Packets: p.packets, BytesRead: read, Total: p.total, Open: open})
	}
	if p.snaps != nil {
		p.service()
	}
	return ctx.Err()
}

// next reads the next record of input i; a read error ends the input with
// a warning naming the packet it stopped at.
func (p *pass) next(i int) ([]byte, gopacket.CaptureInfo, layers.LinkType, bool) {
	in := &p.inputs[i]
	data, ci, lt, err := p.srcs[i].Next()
	if err == nil {
		return data, ci, lt, true
	}
	if err == capture.ErrIdle {
		p.idle = true
		return nil, ci, 0, false
	}
	if err != io.EOF {
		in.Incomplete = true
		in.warn(Warning{Kind: WarnStopped, Packet: in.Packets + 1, N: in.Packets, Err: err})
	}
	return nil, ci, 0, false
}

func (p *pass) handle(i int, data []byte, ci gopacket.CaptureInfo, lt layers.LinkType) {
	in := &p.inputs[i]
	in.Packets++
	p.packets++
	in.Bytes += int64(len(data))
	ts := ci.Timestamp.UnixNano()
	if back := in.prev - ts; in.Packets > 1 && back > 0 {
		ts = in.behind(ts, back)
	}
	in.prev = ts
	if in.Packets == 1 || ts < in.first {
		in.first = ts
	}
	if ts > in.last {
		in.last = ts
	}
	in.sawLinkType(lt)
	if f := p.srcs[i].Filter(); f != nil && !f.Matches(lt, ci, data) {
		in.Filtered++
		return
	}
	if ci.CaptureLength > ci.Length && ci.Length > 0 {
		in.longer++
		if in.longer == 1 {
			in.warn(Warning{Kind: WarnLonger, Packet: in.Packets, Captured: ci.CaptureLength, OnWire: ci.Length})
		}
	}
	ok, err := p.dec.Decode(lt, data, ci.Timestamp, &p.seg)
	if err != nil {
		in.BadPackets++
		var de *packet.DecodeError
		if errors.As(err, &de) {
			de.Packet = in.Packets
			if errors.Is(de.Err, packet.ErrUnknownLinkType) {
				if !in.unsupported[lt] {
					if in.unsupported == nil {
						in.unsupported = map[layers.LinkType]bool{}
					}
					in.unsupported[lt] = true
					in.warn(Warning{Kind: WarnLinkType, Packet: in.Packets, LinkType: packet.LinkTypeName(lt)})
				}
				return
			}
		}
		if ci.CaptureLength < ci.Length {
			// The snap length cut it within its headers (an IPv6
			// extension header, a tunnel's): no fault of the packet's,
			// and one warning in all says so.
			if in.cut++; in.cut == 1 {
				in.cutFirst = in.Packets
			}
			return
		}
		in.warn(Warning{Kind: WarnPacket, Packet: in.Packets, Err: err})
		return
	}
	if !ok {
		in.NonTCP++
		in.sawOther(p.dec.Other())
		return
	}
	in.TCPPackets++
	if p.seg.Iface == 0 && p.srcs[i].Format == capture.FormatPcapNG {
		// Which of the capture's interfaces: a packet captured on two
		// is a copy (see Tracker.add).
		p.seg.Iface = uint32(ci.InterfaceIndex) + 1
	}
	switch f := p.seg.Flags; {
	case f&(packet.SYN|packet.FIN|packet.RST) == 0:
		in.plain++
	case f&packet.FIN != 0:
		in.fins++
	}
	if p.seg.Tunnel != packet.NoTunnel {
		in.sawTunnel(p.seg.Tunnel.String())
	}
	if p.seg.OptionsCut {
		in.OptionsCut++
	}
	wire := ci.Length
	if wire == 0 {
		wire = len(data)
	}
	if p.seg.Dir != packet.DirUnknown {
		p.sawEnds()
	}
	k, srcA := makeTuple(p.seg.Src, p.seg.Dst)
	h := k.hash()
	sh := p.shards[0]
	if len(p.shards) > 1 {
		sh = p.shards[(h>>32)%uint64(len(p.shards))]
	}
	m := Meta{At: Timestamp(ts), Input: uint16(i), Packet: uint32(in.Packets), WireLen: uint32(wire), Order: p.packets}
	m.Fold = p.syns.mark(&p.seg, m.At)
	b := sh.cur
	b.push(&p.seg, m, k, h, srcA, p.payload)
	if b.n == batchSize {
		sh.full <- b
		sh.cur = <-sh.free
	}
}
