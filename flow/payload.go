package flow

import (
	"cmp"
	"slices"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/reassembly"

	"github.com/flowdoc/flowdoc/flow/packet"
)

// Payload is what was read in a connection's two byte streams. Arrays are
// indexed by Side.
type Payload struct {
	// Protocol is "http" or "tls", or "" when the streams were not
	// recognised (or held nothing).
	Protocol string
	HTTP     *HTTP // when Protocol is "http"
	TLS      *TLS  // when Protocol is "tls"
	// rest holds where reading stood when the connection left the
	// tracker's table open and its stream was let go (see stream.rest):
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

// PayloadConfig bounds reassembly.
type PayloadConfig struct {
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

// How long out-of-order data waits for the bytes before it, and how long
// a connection may be quiet before the reassembler lets go of it (its
// parsing state stays with the record; a later packet takes it up).
const (
	gapWait        = 10 * time.Second
	reassemblyIdle = 10 * time.Second
)

// stream is the reading state of one connection's payload: the
// reassembler's Stream, and the protocol reading its bytes. It lives with
// the connection's record until the connection is over.
type stream struct {
	r *Record
	p *Payload // r.payload
	// hp holds p when startHTTP took it from the free list: it goes
	// back there once p is packed.
	hp    *httpPayload
	proto protocol // nil until recognised
	asm   *payloader
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
	inPool   bool // the reassembler holds a connection for it
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
	// ack says side s acknowledged everything before sequence number ack.
	ack(s Side, ack uint32)
}

// detectors recognise protocols from the first bytes of a stream.
var detectors = []struct {
	name   string
	detect func(s Side, b []byte) verdict
	start  func(st *stream, p *Payload) protocol
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
	at  packetAt
}

// packetAt is a packet's time and place in the capture.
type packetAt struct {
	At     Timestamp
	Packet uint32
	Input  uint16
}

// at returns where a segment's packet is.
func (m Meta) at() packetAt { return packetAt{At: m.At, Packet: m.Packet, Input: m.Input} }

// where returns the packet byte i of c came in.
func (c *chunk) where(i int) packetAt {
	if c.sg == nil {
		return c.at
	}
	return fromCaptureInfo(c.sg.CaptureInfo(c.off + i))
}

// The reassembler keeps a gopacket.CaptureInfo with out-of-order data;
// flowdoc's packet number and input travel in it in two fields the
// reassembler does not use.
func toCaptureInfo(m Meta) gopacket.CaptureInfo {
	return gopacket.CaptureInfo{Timestamp: m.At.Time(), InterfaceIndex: int(m.Packet), CaptureLength: int(m.Input)}
}

func fromCaptureInfo(ci gopacket.CaptureInfo) packetAt {
	return packetAt{At: TS(ci.Timestamp), Packet: uint32(ci.InterfaceIndex), Input: uint16(ci.CaptureLength)}
}

// payloader feeds a tracker's connections' payload through a reassembler.
type payloader struct {
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
	freeStreams []*stream
	freeHTTP    []*httpPayload // results packed, for reuse by startHTTP
	freeResults []*Payload     // results startHTTP moved out of
	strs        *interner      // the tracker's
	packBuf     []byte         // reused by pack
	readBuf     PayloadBuffer  // reused to unpack resting payloads (resume, unrest)
	// Streams let go of while their connections were open, and taken
	// up again (tests).
	rested, resumed int
}

// segContext is the reassembler's context for one segment.
type segContext struct {
	ci   gopacket.CaptureInfo
	st   *stream
	side Side
}

func (c *segContext) GetCaptureInfo() gopacket.CaptureInfo { return c.ci }

func newPayloader(cfg PayloadConfig, strs *interner) *payloader {
	p := &payloader{strs: strs}
	p.asm = reassembly.NewAssembler(reassembly.NewStreamPool(p))
	flow := cmp.Or(cfg.FlowBuffer, DefaultFlowBuffer)
	all := cmp.Or(cfg.Buffer, DefaultBuffer)
	p.asm.MaxBufferedPagesPerConnection = max(1, flow/pageBytes)
	p.asm.MaxBufferedPagesTotal = max(1, all/pageBytes)
	return p
}

// pageBytes is the reassembler's page size, by which its caps count.
const pageBytes = 1900

// New is the reassembler's StreamFactory: the stream is the record's.
func (p *payloader) New(_, _ gopacket.Flow, _ *layers.TCP, ac reassembly.AssemblerContext) reassembly.Stream {
	c := ac.(*segContext)
	if c.st.done {
		return nil
	}
	c.st.c2s = c.side
	c.st.inPool, c.st.pooled = true, true
	return c.st
}

// endpointConn marks the reassembler's keys: each connection gets its own
// (its record's order in the pass and the side), so that a new connection
// on an old 4-tuple is never mistaken for the old one.
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

// newPayload returns an empty payload result.
func (p *payloader) newPayload() *Payload {
	if pl := takeFree(&p.freeResults); pl != nil {
		return pl
	}
	return &Payload{}
}

// newHTTPPayload returns an empty httpPayload.
func (p *payloader) newHTTPPayload() *httpPayload {
	if hp := takeFree(&p.freeHTTP); hp != nil {
		return hp
	}
	return new(httpPayload)
}

// recycleResult keeps the stream's payload result for a later connection
// once the record holds it packed: nothing refers to it any more.
func (st *stream) recycleResult() {
	a := st.asm
	if hp := st.hp; hp != nil {
		*hp = httpPayload{}
		a.freeHTTP = append(a.freeHTTP, hp)
	} else if pl := st.p; pl != nil {
		*pl = Payload{}
		a.freeResults = append(a.freeResults, pl)
	}
	st.hp, st.p = nil, nil
}

// newStream returns reading state for r, reading into its payload result
// pl, reused where a finished connection left some.
func (p *payloader) newStream(r *Record, pl *Payload) *stream {
	st := takeFree(&p.freeStreams)
	if st == nil {
		st = &stream{asm: p}
	}
	st.r, st.p = r, pl
	r.stream, r.payload = st, pl
	return st
}

// recycle keeps a stream that is done with for a later connection, unless
// the reassembler had it (it may still hold references to it).
func (st *stream) recycle() {
	if !st.pooled {
		a := st.asm
		*st = stream{asm: a}
		a.freeStreams = append(a.freeStreams, st)
	}
}

// feed gives the reassembler a segment that carries payload.
func (p *payloader) feed(c *conn, s Side, seg *packet.Segment, m Meta) {
	st := c.st
	if st == nil {
		r := c.rec
		switch {
		case r.packed != "":
			if rs, ok := r.restOf(); !ok || rs.done {
				return // read to the end already
			}
			if st = p.resume(r); st == nil {
				return
			}
		case r.payload == nil:
			st = p.newStream(r, p.newPayload())
		default:
			return // read to the end already
		}
		c.st = st
	}
	if st.done || st.cut[s] {
		return
	}
	if len(seg.Payload) < seg.Len {
		// Cut by the snap length: what follows cannot be read.
		st.p.Truncated[s] = m.Packet
		st.cut[s] = true
		if st.proto != nil {
			st.proto.end(s, false)
		}
		return
	}
	if !st.nextOK[s] && c.t[s].synSeen {
		// The stream starts after the SYN, wherever the first data lands.
		st.next[s], st.nextOK[s] = c.t[s].isn+1, true
	}
	if !st.sorted[s] {
		if !st.nextOK[s] || seg.Seq == st.next[s] {
			st.next[s], st.nextOK[s] = seg.Seq+uint32(len(seg.Payload)), true
			ch := &p.chunks[0]
			*ch = chunk{data: seg.Payload, seq: seg.Seq, at: m.at()}
			st.deliver(s, ch)
			return
		}
		// Out of order: the reassembler takes this side from where the
		// stream stands (a SYN just before it says where).
		st.sorted[s] = true
		p.segment(st, uint64(c.rec.ID), s, st.next[s]-1, nil, packet.SYN, m)
	}
	p.segment(st, uint64(c.rec.ID), s, seg.Seq, seg.Payload, seg.Flags&packet.ACK, m)
}

func (p *payloader) segment(st *stream, order uint64, s Side, seq uint32, data []byte, f packet.Flags, m Meta) {
	ctx := &p.ctx
	if st.nextOK[s] && seq != st.next[s] {
		// Out of order: the reassembler may keep it, and its context
		// with it.
		ctx = &segContext{}
	}
	ctx.ci, ctx.st, ctx.side = toCaptureInfo(m), st, s
	t := &p.tcp
	t.Seq, t.SYN, t.ACK, t.RST = seq, f.Has(packet.SYN), f.Has(packet.ACK), f.Has(packet.RST)
	t.Payload = data
	p.asm.AssembleWithContext(streamFlow(order, s), t, ctx)
	t.Payload = nil
}

// release takes a finished connection out of the reassembler at once (it
// has no call for that): an RST on each half at its next sequence number
// closes both, and the reassembler lets go of a connection closed both
// ways. Its map stays as small as the connections still open.
func (p *payloader) release(st *stream, order uint64, at Timestamp) {
	st.closing = true
	for s := Client; s <= Server && st.inPool; s++ {
		p.segment(st, order, s, st.next[s], nil, packet.RST, Meta{At: at})
	}
}

// flush lets go of connections quiet for a while, skipping the gaps that
// no retransmission filled.
func (p *payloader) flush(now Timestamp) {
	if now.Sub(p.lastFlush) < gapWait {
		return
	}
	p.lastFlush = now
	p.flushing = true
	p.asm.FlushWithOptions(reassembly.FlushOptions{T: (now - Timestamp(gapWait)).Time(), TC: (now - Timestamp(reassemblyIdle)).Time()})
	p.flushing = false
}

// flushAll ends reassembly: what waits for missing bytes is delivered.
func (p *payloader) flushAll() {
	p.flushing = true
	p.asm.FlushAll()
	p.flushing = false
}

// Accept is the reassembler asking whether to take a segment.
func (st *stream) Accept(t *layers.TCP, _ gopacket.CaptureInfo, _ reassembly.TCPFlowDirection, nextSeq reassembly.Sequence, start *bool, _ reassembly.AssemblerContext) bool {
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
func (st *stream) ReassembledSG(sg reassembly.ScatterGather, _ reassembly.AssemblerContext) {
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

// missing notes n bytes of side s that will never come.
func (st *stream) missing(s Side, n int, sg reassembly.ScatterGather) {
	st.p.Missing[s] += uint64(n)
	if st.p.MissingPacket[s] == 0 {
		st.p.MissingPacket[s] = fromCaptureInfo(sg.CaptureInfo(0)).Packet
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
func (st *stream) ReassemblyComplete(reassembly.AssemblerContext) bool {
	st.inPool = false
	st.sorted = [2]bool{} // a later segment is compared with st.next again
	return true
}

// deliver hands in-order bytes to the protocol, recognising it first.
func (st *stream) deliver(s Side, c *chunk) {
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

// stop ends reading: the stream is not wanted any more.
func (st *stream) stop() {
	st.done = true
	st.pre = [2][]byte{}
}

// restState is what reading needs to go on where it stood, kept in place
// of the stream of a connection that left the tracker's table while open
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

// rest lets go of the stream of a connection leaving the table while
// open, packing its payload result with a restState, when nothing is
// pending in it: the reassembler holds nothing of it, the protocol is
// recognised (or reading stopped), and an HTTP reader stands between
// messages. It reports whether it did; if not, the stream stays with the
// record.
func (st *stream) rest(r *Record) bool {
	if st.inPool {
		return false
	}
	rs := restDone
	if !st.done {
		if st.proto != protocol(&st.http) {
			return false
		}
		rs = &restState{next: st.next, nextOK: st.nextOK, cut: st.cut}
		for s := range st.http.dir {
			switch d := &st.http.dir[s]; {
			case d.state == hDone:
				rs.httpEnd[s] = true
			case d.state != hStart || len(d.line) > 0:
				return false
			}
		}
	}
	st.p.rest = rs
	r.stream = nil
	r.packPayload(&st.asm.packBuf)
	st.recycleResult()
	st.asm.rested++
	st.recycle()
	return true
}

// resume takes reading up again where a connection's restState says it
// stood, when a packet brings it back to the table with more bytes.
func (p *payloader) resume(r *Record) *stream {
	// Everything is copied out of the decoded payload: readBuf is free
	// again on return.
	d := unpack(r.packed, &p.readBuf)
	if d.HTTP == nil || d.rest == nil {
		return nil // rests only where HTTP is read
	}
	rs := *d.rest
	hp := p.newHTTPPayload()
	hp.p, hp.h = *d, *d.HTTP
	hp.p.rest, hp.p.HTTP = nil, &hp.h
	hp.h.Exchanges = append(hp.ex[:0], d.HTTP.Exchanges...)
	r.packed = ""
	st := p.newStream(r, &hp.p)
	st.hp = hp
	st.next, st.nextOK, st.cut = rs.next, rs.nextOK, rs.cut
	st.http = httpReader{h: &hp.h, strs: p.strs}
	for s, end := range rs.httpEnd {
		if end {
			st.http.dir[s].state = hDone
		}
	}
	st.proto = &st.http
	p.resumed++
	return st
}

// ackedRest is acked for a connection whose stream rests: an
// acknowledgement that came after the stream was let go still tells
// whether the client received a response. The result is packed again
// (rare: the connection came back with acknowledgements only).
func ackedRest(r *Record, t *[2]track, scratch *[]byte) {
	p := r.Payload()
	if p.HTTP == nil {
		return
	}
	rd := httpReader{h: p.HTTP}
	for s := Client; s <= Server; s++ {
		if t[s].ackOK {
			rd.ack(s, t[s].ack)
		}
	}
	r.packed = pack(p, scratch)
}

// resting reports whether r's stream was let go of while the connection
// was open (see stream.rest).
func (r *Record) resting() bool { return r.stream == nil && r.packedRest() }

// empty reports whether p holds nothing worth reporting.
func (p *Payload) empty() bool {
	return p.Protocol == "" && p.Missing == [2]uint64{} && p.Truncated == [2]uint32{}
}

// finish ends both streams once the connection is over (or the pass).
func (st *stream) finish(r *Record) {
	if st.proto != nil && !st.done {
		for s := Client; s <= Server; s++ {
			if !st.cut[s] {
				st.proto.end(s, r.Half(s).FinPacket > 0)
			}
		}
	}
	st.stop()
	a := st.asm
	st.proto = nil
	r.stream = nil
	if st.inPool {
		a.release(st, uint64(r.ID), r.Last)
	}
	r.settlePayload(&a.packBuf)
	st.recycleResult()
	st.recycle()
}

// acked tells the protocol how far each side acknowledged.
func (st *stream) acked(t *[2]track) {
	if st.proto == nil {
		return
	}
	for s := Client; s <= Server; s++ {
		if t[s].ackOK {
			st.proto.ack(s, t[s].ack)
		}
	}
}

// snapshotEnd gives cp, a snapshot's copy of the stream's payload result,
// what finish would add if the capture ended now: a response read until
// the connection closed is complete once its sender's FIN came.
func (st *stream) snapshotEnd(cp *Payload, r *Record) {
	if st.done || st.proto != protocol(&st.http) || cp.HTTP == nil {
		return
	}
	for s := Client; s <= Server; s++ {
		d := &st.http.dir[s]
		if d.state != hUntilEnd || d.ex == nil || st.cut[s] || r.Half(s).FinPacket == 0 {
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
func (p *Payload) clone() *Payload {
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
func (p *Payload) swap() {
	p.Missing[0], p.Missing[1] = p.Missing[1], p.Missing[0]
	p.MissingPacket[0], p.MissingPacket[1] = p.MissingPacket[1], p.MissingPacket[0]
	p.Truncated[0], p.Truncated[1] = p.Truncated[1], p.Truncated[0]
	p.Limited[0], p.Limited[1] = p.Limited[1], p.Limited[0]
	if p.HTTP != nil {
		p.HTTP.Client = p.HTTP.Client.Other()
	}
}
