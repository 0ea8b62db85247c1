package flow

import (
	"github.com/flowdoc/flowdoc/flow/packet"
	"github.com/flowdoc/flowdoc/flow/payload"
)

// payloader is the tracker's side of package payload: it finds each
// connection's payload.Stream, hands it the segments that carry payload
// and the acknowledgements, and keeps on the record what it gives back.
// A tracker has one unless Config.Payload.Off; its methods that take a
// record do nothing on a nil payloader.
type payloader struct {
	rd *payload.Reader
	// Streams let go of while their connections were open (those still
	// in the table: quiet), and taken up again (tests).
	rested, quiet, resumed int
}

func newPayloader(cfg payload.Config) *payloader {
	return &payloader{rd: payload.NewReader(cfg)}
}

// adopt gives r, the record just made for connection c, c's resting
// stream, if it has one.
func (p *payloader) adopt(c *conn, r *Record) {
	if c.packed != "" {
		r.packed, c.packed = c.packed, ""
	}
}

// feed gives the connection's stream a segment that carries payload,
// starting the stream, or resuming a resting one, if need be.
func (p *payloader) feed(c *conn, s Side, seg *packet.Segment, m Meta) {
	st := c.st
	if st == nil {
		if st = p.open(c); st == nil {
			return // read to the end already
		}
		c.st = st
	}
	t := &c.t[s]
	st.Segment(payload.Side(s), seg, t.isn, t.synSeen, payload.Packet{At: payload.Timestamp(m.At), Number: m.Packet, Input: m.Input})
	if st.Other() {
		c.t[Client].notes |= noteOther
	}
}

// open returns a stream for connection c, which has none: a new one, or
// its resting one taken up again; nil if its payload was read to the end.
func (p *payloader) open(c *conn) *payload.Stream {
	r := c.rec
	if r == nil {
		if packed := c.packed; packed != "" {
			st := p.rd.Resume(c.order, packed)
			if st == nil {
				return nil
			}
			p.resumed++
			c.packed = ""
			return st
		}
		return p.rd.Start(c.order) // the record, when made, takes it from c
	}
	if r.packed != "" {
		st := p.rd.Resume(uint64(r.ID), r.packed)
		if st == nil {
			return nil
		}
		p.resumed++
		r.packed = ""
		r.stream = st
		return st
	}
	r.stream = p.rd.Start(uint64(r.ID))
	return r.stream
}

// flush lets the reassembler go of quiet connections.
func (p *payloader) flush(now Timestamp) { p.rd.Flush(payload.Timestamp(now)) }

// flushAll ends reassembly.
func (p *payloader) flushAll() { p.rd.FlushAll() }

// acks returns how far each side of the connection acknowledged.
func acks(t *[2]track) payload.Acks {
	return payload.Acks{Seq: [2]uint32{t[Client].ack, t[Server].ack}, OK: [2]bool{t[Client].ackOK, t[Server].ackOK}}
}

// fins returns which sides of r closed with a FIN.
func fins(r *Record) [2]bool { return [2]bool{r.Client.FinPacket > 0, r.Server.FinPacket > 0} }

// retire hands the stream of a connection leaving the table its last
// acknowledgements (t), and finishes it if the connection is over, or
// lets it rest if it can. (Small, to be inlined: most records, and all
// with Config.Payload.Off, have no stream.)
func (p *payloader) retire(r *Record, t *[2]track, over bool) {
	if r.stream != nil || r.packed != "" {
		p.retireStream(r, t, over)
	}
}

func (p *payloader) retireStream(r *Record, t *[2]track, over bool) {
	switch st := r.stream; {
	case st != nil:
		st.Ack(acks(t))
		if over {
			r.stream, r.packed = nil, st.Finish(fins(r), payload.Timestamp(r.Last)) // nothing more is coming
		} else if packed, ok := st.Rest(); ok {
			r.stream, r.packed = nil, packed
			p.rested++
		}
	case r.packed.Resting():
		r.packed = p.rd.AckRest(r.packed, acks(t))
	}
}

// rest lets go of the stream of a quiet connection still in the table,
// if it can rest (see payload.Stream.Rest): its record (or, until it has
// one, the connection) keeps where reading stood, and the next segment with
// payload takes it up again.
func (p *payloader) rest(c *conn) {
	st := c.st
	st.Ack(acks(&c.t))
	packed, ok := st.Rest()
	if !ok {
		return
	}
	if r := c.rec; r != nil {
		r.stream, r.packed = nil, packed
	} else {
		c.packed = packed
	}
	c.st = nil
	p.rested++
	p.quiet++
}

// snapshot gives cp, a snapshot's copy of r, the payload Finish would
// leave it if the capture ended now; c is r's connection if it is in the
// table.
func (p *payloader) snapshot(cp, r *Record, c *conn) {
	if c != nil {
		switch {
		case r.stream != nil:
			r.stream.Ack(acks(&c.t))
		case r.packed.Resting():
			r.packed = p.rd.AckRest(r.packed, acks(&c.t))
			cp.packed = r.packed
		}
	}
	switch {
	case r.stream != nil:
		cp.packed = r.stream.Snapshot(fins(r), c != nil)
	case cp.packed.Resting():
		cp.packed = p.rd.Unrest(cp.packed)
	}
}

// finish ends r's payload at the end of the pass.
func (p *payloader) finish(r *Record) {
	if r.stream != nil || r.packed != "" {
		p.finishStream(r)
	}
}

func (p *payloader) finishStream(r *Record) {
	switch {
	case r.stream != nil:
		r.stream, r.packed = nil, r.stream.Finish(fins(r), payload.Timestamp(r.Last))
	case r.packed.Resting():
		r.packed = p.rd.Unrest(r.packed)
	}
}

// Payload returns what was read in the connection's byte streams; nil
// when nothing worth reporting was. A connection that is over keeps it
// packed, and each call then decodes a new copy: loops over many records
// use ReadPayload. The result must not be modified.
func (r *Record) Payload() *payload.Summary { return r.ReadPayload(nil) }

// ReadPayload is Payload decoding into buf (when not nil): the result is
// valid until the next call with the same buf.
func (r *Record) ReadPayload(buf *payload.Buffer) *payload.Summary {
	if r.stream != nil {
		return r.stream.Summary()
	}
	return r.packed.Read(buf)
}
