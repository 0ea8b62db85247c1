package payload

import (
	"bytes"
	"cmp"
	"slices"
	"strings"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/reassembly"

	"github.com/flowdoc/flowdoc/flow/internal/free"
	"github.com/flowdoc/flowdoc/flow/internal/intern"
	"github.com/flowdoc/flowdoc/flow/packet"
)

// Summary is what was read in a connection's two byte streams. Arrays are
// indexed by Side.
type Summary struct {
	// Protocol is "http" or "tls", or "" when the streams were not
	// recognised (or held nothing).
	Protocol string
	HTTP     *HTTP // when Protocol is "http"
	TLS      *TLS  // when Protocol is "tls"
	// rest holds where reading stood when the connection left the
	// tracker's table open and its stream was let go (see Stream.Rest):
	// it is packed with the result, and decoded with it until the
	// stream resumes or the pass ends. nil otherwise.
	rest *restState

	// Missing counts the bytes of each stream that were never captured:
	// gaps in the sequence space that no retransmission filled.
	Missing [2]uint64
	// MissingPacket is the packet just after the first gap; 0 if none.
	MissingPacket [2]uint32
	// Truncated is the first packet whose payload the capture's snap
	// length cut; the rest of that stream is not read. 0 if none.
	Truncated [2]uint32
	// Limited is set when the out-of-order buffer caps made the
	// reassembler give up waiting for missing bytes of that stream.
	Limited [2]bool
}

// Config bounds reassembly.
type Config struct {
	// Off skips reassembly and protocol parsing: endpoint states only.
	Off bool
	// FlowBuffer caps the out-of-order bytes buffered for one connection
	// while a missing segment is awaited; 0 means DefaultFlowBuffer.
	FlowBuffer int
	// Buffer caps them across all connections; 0 means DefaultBuffer.
	Buffer int
}

// Default reassembly buffer caps.
const (
	DefaultFlowBuffer = 256 << 10
	DefaultBuffer     = 64 << 20
)

// GapWait is how long, in capture time, out-of-order data waits for the
// bytes before it; Flush then skips them. reassemblyIdle is how long a
// connection may be quiet before the reassembler lets go of it (its
// parsing state stays with the Stream; a later segment takes it up).
const (
	GapWait        = 10 * time.Second
	reassemblyIdle = 10 * time.Second
)

// Stream is the reading state of one connection's payload: the
// reassembler's Stream, and the protocol reading its bytes. It lives
// until the connection is over (Finish) or rests (Rest).
type Stream struct {
	p *Summary
	// hp holds p when startHTTP took it from the free list: it goes
	// back there once p is packed.
	hp    *httpPayload
	proto protocol // nil until recognised
	asm   *Reader
	// order names the connection in the reassembler (see streamFlow).
	order uint64
	// c2s is the side whose packet created the reassembler's connection,
	// which it calls client to server.
	c2s Side
	// startSeq is the sequence number at which a stream (re)starts in the
	// reassembler: it tells where the first bytes it delivers belong.
	startSeq uint32
	next     [2]uint32 // sequence number after the last byte delivered
	nextOK   [2]bool
	cut      [2]bool // truncated: the side is no longer read
	pre      [2][]byte
	done     bool // nothing more to read
	// fromStart is set for a side whose stream starts at its first byte
	// (its SYN was captured); other is set once such a side's first
	// bytes were of no protocol flowdoc reads.
	fromStart [2]bool
	other     bool
	inPool    bool // the reassembler holds a connection for it
	// pooled is set once the reassembler had it: it may still hold
	// references, so the stream is not reused.
	pooled  bool
	closing bool // being taken out of the reassembler
	// sorted is set for a side once a segment came out of order: from
	// then on the reassembler puts its bytes in order. Before, in-order
	// segments go straight to the protocol, the common case, which
	// spares the reassembler's lookups.
	sorted [2]bool
	// http reads HTTP, when that is the protocol: it lives in the stream
	// so that a packet's reading touches one object, not two.
	http httpReader
}

// protocol reads one connection's two byte streams.
type protocol interface {
	// data gives the next bytes side s sent, in order. It returns false
	// when the protocol wants no more of either stream.
	data(s Side, c *chunk) bool
	// gap says n bytes side s sent were never captured.
	gap(s Side, n int)
	// end says side s sent nothing more; fin if it closed.
	end(s Side, fin bool)
	// cut says the snap length cut side s's stream: what it sent next
	// cannot be read (what came before, to the cut, was given to data).
	cut(s Side)
	// ack says side s acknowledged everything before sequence number ack.
	ack(s Side, ack uint32)
}

// detectors recognise protocols from the first bytes of a stream.
var detectors = []struct {
	name   string
	detect func(s Side, b []byte) verdict
	start  func(st *Stream, p *Summary) protocol
}{
	{"http", detectHTTP, startHTTP},
	{"tls", detectTLS, startTLS},
}

// verdict is what a detector makes of a stream's first bytes.
type verdict uint8

const (
	notThis  verdict = iota
	needMore         // too few bytes to tell
	isThis
)

// detectBytes is the most a detector needs to see.
const detectBytes = 16

// chunk is a run of in-order bytes of one stream.
type chunk struct {
	data []byte
	seq  uint32 // of data[0]
	// sg, when not nil, tells the packet each byte came in; else all came
	// in the one at.
	sg  reassembly.ScatterGather
	off int // of data[0] in sg
	at  Packet
}

// Packet is a packet's time and place in the capture: what an exchange
// cites.
type Packet struct {
	At     Timestamp
	Number uint32 // 1-based, within its input
	Input  uint16
}

// where returns the packet byte i of c came in.
func (c *chunk) where(i int) Packet {
	if c.sg == nil {
		return c.at
	}
	return fromCaptureInfo(c.sg.CaptureInfo(c.off + i))
}

// The reassembler keeps a gopacket.CaptureInfo with out-of-order data;
// flowdoc's packet number and input travel in it in two fields the
// reassembler does not use.
func toCaptureInfo(at Packet) gopacket.CaptureInfo {
	return gopacket.CaptureInfo{Timestamp: at.At.Time(), InterfaceIndex: int(at.Number), CaptureLength: int(at.Input)}
}

func fromCaptureInfo(ci gopacket.CaptureInfo) Packet {
	return Packet{At: Timestamp(ci.Timestamp.UnixNano()), Number: uint32(ci.InterfaceIndex), Input: uint16(ci.CaptureLength)}
}

// Reader feeds the payload of one tracker's connections through a
// reassembler, and holds what their streams share. It belongs to one
// goroutine.
type Reader struct {
	asm *reassembly.Assembler
	ctx segContext
	tcp layers.TCP
	// chunks are handed to the protocol, which keeps none: reused, they
	// spare an allocation per segment. [1] holds bytes kept back until
	// the protocol was recognised.
	chunks    [2]chunk
	flushing  bool // Flush is running: a gap it skips was never captured
	lastFlush Timestamp
	// Reading state of finished connections, for reuse: a capture holds
	// hundreds of thousands of connections, and allocating it anew for
	// each one makes garbage the collector must chase.
	freeStreams []*Stream
	freeHTTP    []*httpPayload // results packed, for reuse by startHTTP
	freeResults []*Summary     // results startHTTP moved out of
	strs        intern.Table   // request targets
	packBuf     []byte         // reused by pack
	readBuf     Buffer         // reused to unpack resting payloads (Resume, Unrest, AckRest)
}

// segContext is the reassembler's context for one segment.
type segContext struct {
	ci   gopacket.CaptureInfo
	st   *Stream
	side Side
}

func (c *segContext) GetCaptureInfo() gopacket.CaptureInfo { return c.ci }

// NewReader returns a Reader whose reassembler is bounded by cfg (whose
// Off it ignores: the caller does not make one).
func NewReader(cfg Config) *Reader {
	p := &Reader{}
	p.asm = reassembly.NewAssembler(reassembly.NewStreamPool(p))
	flow := cmp.Or(cfg.FlowBuffer, DefaultFlowBuffer)
	all := cmp.Or(cfg.Buffer, DefaultBuffer)
	p.asm.MaxBufferedPagesPerConnection = max(1, flow/pageBytes)
	p.asm.MaxBufferedPagesTotal = max(1, all/pageBytes)
	return p
}

// pageBytes is the reassembler's page size, by which its caps count.
const pageBytes = 1900

// New is the reassembler's StreamFactory: the stream is the connection's.
func (p *Reader) New(_, _ gopacket.Flow, _ *layers.TCP, ac reassembly.AssemblerContext) reassembly.Stream {
	c := ac.(*segContext)
	if c.st.done {
		return nil
	}
	c.st.c2s = c.side
	c.st.inPool, c.st.pooled = true, true
	return c.st
}

// endpointConn marks the reassembler's keys: each connection gets its own
// (its order in the pass and the side), so that a new connection on an
// old 4-tuple is never mistaken for the old one.
const endpointConn = gopacket.EndpointType(0x7f1d)

func streamFlow(order uint64, s Side) gopacket.Flow {
	var a, b [9]byte
	for i := range 8 {
		a[i] = byte(order >> (8 * i))
	}
	b = a
	a[8], b[8] = byte(s), byte(s.Other())
	return gopacket.NewFlow(endpointConn, a[:], b[:])
}

// newSummary returns an empty payload result.
func (p *Reader) newSummary() *Summary {
	if pl := free.Take(&p.freeResults); pl != nil {
		return pl
	}
	return &Summary{}
}

// newHTTPPayload returns an empty httpPayload.
func (p *Reader) newHTTPPayload() *httpPayload {
	if hp := free.Take(&p.freeHTTP); hp != nil {
		return hp
	}
	return new(httpPayload)
}

// recycleResult keeps the stream's payload result for a later connection
// once it is packed: nothing refers to it any more.
func (st *Stream) recycleResult() {
	a := st.asm
	if hp := st.hp; hp != nil {
		*hp = httpPayload{}
		a.freeHTTP = free.Keep(a.freeHTTP, hp)
	} else if pl := st.p; pl != nil {
		*pl = Summary{}
		a.freeResults = free.Keep(a.freeResults, pl)
	}
	st.hp, st.p = nil, nil
}

// Start returns the reading state of a new connection, reused where a
// finished connection left some. order names the connection: no other
// connection of the Reader's has it while this one is read.
func (p *Reader) Start(order uint64) *Stream {
	return p.newStream(order, p.newSummary())
}

// newStream returns reading state for the connection order, reading into
// its payload result pl.
func (p *Reader) newStream(order uint64, pl *Summary) *Stream {
	st := free.Take(&p.freeStreams)
	if st == nil {
		st = &Stream{asm: p}
	}
	st.p, st.order = pl, order
	return st
}

// recycle keeps a stream that is done with for a later connection, unless
// the reassembler had it (it may still hold references to it).
func (st *Stream) recycle() {
	if !st.pooled {
		a := st.asm
		*st = Stream{asm: a}
		a.freeStreams = free.Keep(a.freeStreams, st)
	}
}

// Other reports whether the connection's first bytes, read from its
// very start (its SYN captured), were of no protocol flowdoc reads: a
// known protocol other than HTTP or TLS (MQTT, a database's), not one
// the capture met midstream.
func (st *Stream) Other() bool { return st.other }

// Summary returns what was read so far. It changes as the stream is
// read, and is not the caller's to keep past Rest or Finish.
func (st *Stream) Summary() *Summary { return st.p }

// Segment gives the stream a TCP segment that carries payload, sent by
// side s, in packet at. isn is side s's initial sequence number when
// synSeen (its SYN was captured): its stream starts just after it,
// wherever the first data lands. seg.Payload is not kept.
func (st *Stream) Segment(s Side, seg *packet.Segment, isn uint32, synSeen bool, at Packet) {
	cut := len(seg.Payload) < seg.Len
	if st.cut[s] || st.done && !cut {
		return
	}
	if !st.nextOK[s] && synSeen {
		st.next[s], st.nextOK[s] = isn+1, true
		st.fromStart[s] = true
	}
	seq := seg.Seq
	if seg.Flags.Has(packet.SYN) {
		seq++ // data on a SYN (TCP Fast Open) comes after it
	}
	if cut {
		// Cut by the snap length: what follows cannot be read (whether or
		// not the stream is still read, the cut is told). The bytes
		// captured are read when they come in order (a status line, the
		// first headers: a header-only capture still tells responses).
		if !st.done && len(seg.Payload) > 0 && !st.sorted[s] && (!st.nextOK[s] || seq == st.next[s]) {
			st.next[s], st.nextOK[s] = seq+uint32(len(seg.Payload)), true
			ch := &st.asm.chunks[0]
			*ch = chunk{data: seg.Payload, seq: seq, at: at}
			st.deliver(s, ch)
		}
		st.p.Truncated[s] = at.Number
		st.cut[s] = true
		if st.proto != nil && !st.done {
			st.proto.cut(s)
		}
		return
	}
	p := st.asm
	if !st.sorted[s] {
		if !st.nextOK[s] || seq == st.next[s] {
			st.next[s], st.nextOK[s] = seq+uint32(len(seg.Payload)), true
			ch := &p.chunks[0]
			*ch = chunk{data: seg.Payload, seq: seq, at: at}
			st.deliver(s, ch)
			return
		}
		// Out of order: the reassembler takes this side from where the
		// stream stands (a SYN just before it says where).
		st.sorted[s] = true
		p.segment(st, s, st.next[s]-1, nil, packet.SYN, at)
	}
	p.segment(st, s, seq, seg.Payload, seg.Flags&packet.ACK, at)
}

func (p *Reader) segment(st *Stream, s Side, seq uint32, data []byte, f packet.Flags, at Packet) {
	ctx := &p.ctx
	if st.nextOK[s] && seq != st.next[s] {
		// Out of order: the reassembler may keep it, and its context
		// with it.
		ctx = &segContext{}
	}
	ctx.ci, ctx.st, ctx.side = toCaptureInfo(at), st, s
	t := &p.tcp
	t.Seq, t.SYN, t.ACK, t.RST = seq, f.Has(packet.SYN), f.Has(packet.ACK), f.Has(packet.RST)
	t.Payload = data
	p.asm.AssembleWithContext(streamFlow(st.order, s), t, ctx)
	t.Payload = nil
}

// release takes a finished connection out of the reassembler at once (it
// has no call for that): an RST on each half at its next sequence number
// closes both, and the reassembler lets go of a connection closed both
// ways. Its map stays as small as the connections still open.
func (p *Reader) release(st *Stream, at Timestamp) {
	st.closing = true
	for s := Client; s <= Server && st.inPool; s++ {
		p.segment(st, s, st.next[s], nil, packet.RST, Packet{At: at})
	}
}

// Flush lets go of connections quiet for a while, skipping the gaps that
// no retransmission filled. now is the capture's time; it acts once per
// GapWait.
func (p *Reader) Flush(now Timestamp) {
	if now.Sub(p.lastFlush) < GapWait {
		return
	}
	p.lastFlush = now
	p.flushing = true
	p.asm.FlushWithOptions(reassembly.FlushOptions{T: (now - Timestamp(GapWait)).Time(), TC: (now - Timestamp(reassemblyIdle)).Time()})
	p.flushing = false
}

// FlushAll ends reassembly: what waits for missing bytes is delivered.
func (p *Reader) FlushAll() {
	p.flushing = true
	p.asm.FlushAll()
	p.flushing = false
}

// Accept is the reassembler asking whether to take a segment.
func (st *Stream) Accept(t *layers.TCP, _ gopacket.CaptureInfo, _ reassembly.TCPFlowDirection, nextSeq reassembly.Sequence, start *bool, _ reassembly.AssemblerContext) bool {
	if st.closing {
		*start = nextSeq == invalidSequence
		return true
	}
	if st.done {
		return false
	}
	if nextSeq == invalidSequence {
		st.startSeq = t.Seq
		if t.SYN {
			st.startSeq++
		} else {
			*start = true // no SYN: the stream starts here
		}
	}
	return true
}

// invalidSequence is the reassembler's "no sequence number yet".
const invalidSequence = reassembly.Sequence(-1)

// ReassembledSG takes in-order bytes from the reassembler.
func (st *Stream) ReassembledSG(sg reassembly.ScatterGather, _ reassembly.AssemblerContext) {
	dir, _, _, skip := sg.Info()
	s := st.c2s
	if dir == reassembly.TCPDirServerToClient {
		s = s.Other()
	}
	n, _ := sg.Lengths()
	if st.done || st.cut[s] || st.closing {
		return
	}
	var seq uint32
	trim := 0
	switch {
	case skip < 0 || !st.nextOK[s]:
		seq = st.startSeq
		if st.nextOK[s] {
			// Taken up again after the reassembler let go.
			switch d := int32(seq - st.next[s]); {
			case d > 0:
				st.missing(s, int(d), sg)
			case d < 0:
				trim = int(-d)
			}
		}
	case skip > 0:
		st.missing(s, skip, sg)
		seq = st.next[s] + uint32(skip)
	default:
		seq = st.next[s]
	}
	if !st.nextOK[s] || seqGT(seq+uint32(n), st.next[s]) {
		st.next[s], st.nextOK[s] = seq+uint32(n), true
	}
	if n <= trim {
		return
	}
	ch := &st.asm.chunks[0]
	*ch = chunk{data: sg.Fetch(n)[trim:], seq: seq + uint32(trim), sg: sg, off: trim}
	st.deliver(s, ch)
}

// seqGT and seqGE compare sequence numbers modulo 2^32.
func seqGT(a, b uint32) bool { return int32(a-b) > 0 }
func seqGE(a, b uint32) bool { return int32(a-b) >= 0 }

// missing notes n bytes of side s that will never come.
func (st *Stream) missing(s Side, n int, sg reassembly.ScatterGather) {
	st.p.Missing[s] += uint64(n)
	if st.p.MissingPacket[s] == 0 {
		st.p.MissingPacket[s] = fromCaptureInfo(sg.CaptureInfo(0)).Number
	}
	if !st.asm.flushing {
		st.p.Limited[s] = true
	}
	if st.proto != nil {
		st.proto.gap(s, n)
	}
}

// ReassemblyComplete is the reassembler letting go of the connection; a
// later packet makes it anew.
func (st *Stream) ReassemblyComplete(reassembly.AssemblerContext) bool {
	st.inPool = false
	st.sorted = [2]bool{} // a later segment is compared with st.next again
	return true
}

// deliver hands in-order bytes to the protocol, recognising it first.
func (st *Stream) deliver(s Side, c *chunk) {
	if st.proto == nil {
		b := c.data
		if len(st.pre[s]) > 0 {
			b = append(st.pre[s], b...)
		}
		for _, d := range detectors {
			switch d.detect(s, b) {
			case isThis:
				st.p.Protocol = d.name
				st.proto = d.start(st, st.p)
			case needMore:
				if len(b) < detectBytes {
					st.pre[s] = append(st.pre[s][:0], b...)
					return
				}
			}
			if st.proto != nil {
				break
			}
		}
		if st.proto == nil {
			st.other = st.fromStart[s] && !httpLike(b)
			st.stop() // not a protocol flowdoc reads
			return
		}
		if pre := st.pre[s]; len(pre) > 0 {
			st.pre[s] = nil
			pc := &st.asm.chunks[1]
			*pc = chunk{data: pre, seq: c.seq - uint32(len(pre)), at: c.where(0)}
			if !st.proto.data(s, pc) {
				st.stop()
				return
			}
		}
	}
	if !st.proto.data(s, c) {
		st.stop()
	}
}

// httpLike reports whether b, the first bytes of a stream that is not
// read, is HTTP all the same: HTTP/2's connection preface (cleartext,
// by prior knowledge), or a request line with a method flowdoc does not
// read (PROPFIND).
func httpLike(b []byte) bool {
	const preface = "PRI * HTTP/2.0\r\n"
	if len(b) > 0 && strings.HasPrefix(preface, string(b[:min(len(b), len(preface))])) {
		return true
	}
	line, _, _ := bytes.Cut(b[:min(len(b), 256)], []byte("\r\n"))
	return bytes.Contains(line, []byte(" HTTP/1."))
}

// stop ends reading: the stream is not wanted any more.
func (st *Stream) stop() {
	st.done = true
	st.pre = [2][]byte{}
}

// restState is what reading needs to go on where it stood, kept in place
// of the Stream of a connection that left the tracker's table while open
// (idle for a while, or not over yet when its tuple was reused). A stream
// is hundreds of bytes, and a capture of a connection leak holds
// connections by the hundred thousand that went idle and were never closed.
type restState struct {
	next    [2]uint32 // sequence number after the last byte delivered
	nextOK  [2]bool
	cut     [2]bool
	httpEnd [2]bool // the HTTP reader had stopped reading that side
	done    bool    // nothing more to read
}

// restDone is the rest of every stream that has nothing more to read.
var restDone = &restState{done: true}

// Rest lets go of the stream of a connection leaving the tracker's table
// while open, when nothing is pending in it: the reassembler holds nothing
// of it, the protocol is recognised (or reading stopped), and an HTTP
// reader stands between messages. It then returns the payload result
// packed with where reading stood (Packed.Resting), and the Stream is not
// to be used again; Resume takes reading up from that. Otherwise it
// returns false, and the stream stays as it was.
func (st *Stream) Rest() (Packed, bool) {
	if st.inPool {
		return "", false
	}
	rs := restDone
	if !st.done {
		if st.proto != protocol(&st.http) {
			return "", false
		}
		rs = &restState{next: st.next, nextOK: st.nextOK, cut: st.cut}
		for s := range st.http.dir {
			switch d := &st.http.dir[s]; {
			case d.state == hDone:
				rs.httpEnd[s] = true
			case d.state != hStart || len(d.line) > 0:
				return "", false
			}
		}
	}
	st.p.rest = rs
	packed := pack(st.p, &st.asm.packBuf)
	st.recycleResult()
	st.recycle()
	return packed, true
}

// Resume takes reading up again where a resting connection's packed
// payload says it stood (see Rest), when a segment brings it back with
// more bytes. It returns nil when there is nothing more to read: the
// payload is then left as it was.
func (p *Reader) Resume(order uint64, packed Packed) *Stream {
	if rs, ok := packed.restOf(); !ok || rs.done {
		return nil // read to the end already
	}
	// Everything is copied out of the decoded payload: readBuf is free
	// again on return.
	d := unpack(packed, &p.readBuf)
	if d.HTTP == nil || d.rest == nil {
		return nil // rests only where HTTP is read
	}
	rs := *d.rest
	hp := p.newHTTPPayload()
	hp.p, hp.h = *d, *d.HTTP
	hp.p.rest, hp.p.HTTP = nil, &hp.h
	hp.h.Exchanges = append(hp.ex[:0], d.HTTP.Exchanges...)
	st := p.newStream(order, &hp.p)
	st.hp = hp
	st.next, st.nextOK, st.cut = rs.next, rs.nextOK, rs.cut
	st.http = httpReader{h: &hp.h, strs: &p.strs}
	for s, end := range rs.httpEnd {
		if end {
			st.http.dir[s].state = hDone
		}
	}
	st.proto = &st.http
	return st
}

// Acks is how far each side acknowledged the other's bytes, by Side: Seq
// is the sequence number acknowledged, where OK says the side sent an
// acknowledgement.
type Acks struct {
	Seq [2]uint32
	OK  [2]bool
}

// AckRest is Ack for a connection whose stream rests: an acknowledgement
// that came after the stream was let go still tells whether the client
// received a response. It returns the payload packed again (rare: the
// connection came back with acknowledgements only).
func (p *Reader) AckRest(packed Packed, a Acks) Packed {
	d := unpack(packed, &p.readBuf)
	if d.HTTP == nil {
		return packed
	}
	rd := httpReader{h: d.HTTP}
	for s := Client; s <= Server; s++ {
		if a.OK[s] {
			rd.ack(s, a.Seq[s])
		}
	}
	return pack(d, &p.packBuf)
}

// Unrest returns a resting payload packed again without its rest state,
// as Finish leaves a stream's.
func (p *Reader) Unrest(packed Packed) Packed {
	return p.settle(unpack(packed, &p.readBuf))
}

// settle packs a payload result as Finish leaves it: without a rest
// state, and "" if it holds nothing worth reporting.
func (p *Reader) settle(s *Summary) Packed {
	s.rest = nil
	if s.empty() {
		return ""
	}
	return pack(s, &p.packBuf)
}

// empty reports whether p holds nothing worth reporting.
func (p *Summary) empty() bool {
	return p.Protocol == "" && p.Missing == [2]uint64{} && p.Truncated == [2]uint32{}
}

// Finish ends both streams once the connection is over (or the pass):
// fin says which sides closed with a FIN; last is the time of its last
// packet. It returns what was read, packed; "" if nothing worth
// reporting was. The Stream is not to be used again.
func (st *Stream) Finish(fin [2]bool, last Timestamp) Packed {
	if st.proto != nil && !st.done {
		for s := Client; s <= Server; s++ {
			if !st.cut[s] {
				st.proto.end(s, fin[s])
			}
		}
	}
	st.stop()
	a := st.asm
	st.proto = nil
	if st.inPool {
		a.release(st, last)
	}
	packed := a.settle(st.p)
	st.recycleResult()
	st.recycle()
	return packed
}

// Ack tells the protocol how far each side acknowledged.
func (st *Stream) Ack(a Acks) {
	if st.proto == nil {
		return
	}
	for s := Client; s <= Server; s++ {
		if a.OK[s] {
			st.proto.ack(s, a.Seq[s])
		}
	}
}

// Snapshot returns what Finish would return if the connection ended now,
// leaving the stream as it is. With end (the connection is still in the
// tracker's table), a response read until the connection closed is
// complete once its sender's FIN came (fin, as for Finish).
func (st *Stream) Snapshot(fin [2]bool, end bool) Packed {
	cp := st.p.clone()
	if end {
		st.snapshotEnd(cp, fin)
	}
	return st.asm.settle(cp)
}

// snapshotEnd gives cp, a snapshot's copy of the stream's payload result,
// what Finish would add if the capture ended now.
func (st *Stream) snapshotEnd(cp *Summary, fin [2]bool) {
	if st.done || st.proto != protocol(&st.http) || cp.HTTP == nil {
		return
	}
	for s := Client; s <= Server; s++ {
		d := &st.http.dir[s]
		if d.state != hUntilEnd || d.ex == nil || st.cut[s] || !fin[s] {
			continue
		}
		for i := range st.p.HTTP.Exchanges {
			if &st.p.HTTP.Exchanges[i] == d.ex {
				x := &cp.HTTP.Exchanges[i]
				x.Complete = true
				rd := httpReader{h: cp.HTTP, acked: st.http.acked, ackedOK: st.http.ackedOK}
				rd.checkAck(x)
			}
		}
	}
}

// clone copies a payload result, for a snapshot: the tracker goes on
// updating its own.
func (p *Summary) clone() *Summary {
	cp := *p
	cp.rest = nil
	if p.HTTP != nil {
		h := *p.HTTP
		h.Exchanges = slices.Clone(h.Exchanges)
		cp.HTTP = &h
	}
	if p.TLS != nil {
		t := *p.TLS
		cp.TLS = &t
	}
	return &cp
}

// swap exchanges the sides of a payload result.
func (p *Summary) swap() {
	p.Missing[0], p.Missing[1] = p.Missing[1], p.Missing[0]
	p.MissingPacket[0], p.MissingPacket[1] = p.MissingPacket[1], p.MissingPacket[0]
	p.Truncated[0], p.Truncated[1] = p.Truncated[1], p.Truncated[0]
	p.Limited[0], p.Limited[1] = p.Limited[1], p.Limited[0]
	if p.HTTP != nil {
		p.HTTP.Client = p.HTTP.Client.Other()
	}
}
