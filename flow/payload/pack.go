package payload

import (
	"encoding/binary"
	"time"
)

// A connection that is over keeps what was read in its streams packed: a
// string of varints, a few dozen bytes per HTTP exchange instead of the
// 150 the Exchange struct takes, and no pointers for the garbage collector
// to follow. In a capture of hundreds of thousands of HTTP connections,
// the results were a third of the heap. Decoding returns strings that
// share the packed string's bytes, so it copies nothing.
//
// Layout: a flags byte, then the fields the flags announce:
//
//	flags   packMissing: Missing and MissingPacket of both sides
//	        packTruncated: Truncated of both sides
//	        packLimited0, packLimited1: Limited
//	        packHTTP, packTLS: the protocol result follows
//	        packRest: the stream rests (see Stream.Rest): its restState
//	        follows, and each exchange's end sequence number
//	rest    next of both sides, then the flags (restNextOK0 ...)
//	Protocol string
//	HTTP:   Earlier, Requests, Responses, KeepAlive,
//	        Client|Upgraded<<1|(Server set)<<2|(Via set)<<3, Error, Server
//	        and Via if set, the number of exchanges, each exchange
//	TLS:    ServerName, ClientHello|ServerHello<<1|(client's Alert
//	        set)<<2|(server's set)<<3, each Alert set:
//	        Sent|Fatal<<1|Description<<2
//
// Numbers are varints; times are zig-zag deltas from the time before
// them, plus one (0: not seen); strings are either a length and the bytes
// or an index into wellKnown.
const (
	packMissing = 1 << iota
	packTruncated
	packLimited0
	packLimited1
	packHTTP
	packTLS
	packRest
)

// The flags byte of a restState.
const (
	restNextOK0 = 1 << iota
	restNextOK1
	restCut0
	restCut1
	restHTTPEnd0
	restHTTPEnd1
	restDoneFlag
)

// The flags byte of an exchange.
const (
	xChunked = 1 << iota
	xComplete
	xAcked
	xRequestClose
	xResponseClose
	xContinue
	xMissing
	xEndOK
)

// wellKnown are strings most payloads hold, packed as one byte each.
var wellKnown = [...]string{
	"http", "tls",
	"GET", "HEAD", "POST", "PUT", "DELETE", "OPTIONS", "PATCH", "CONNECT", "TRACE",
	"HTTP/1.0", "HTTP/1.1",
	"Continue", "Switching Protocols", "OK", "Created", "Accepted", "No Content",
	"Moved Permanently", "Found", "Not Modified", "Temporary Redirect", "Permanent Redirect",
	"Bad Request", "Unauthorized", "Forbidden", "Not Found", "Method Not Allowed",
	"Request Timeout", "Conflict", "Gone", "Payload Too Large", "Too Many Requests",
	"Internal Server Error", "Not Implemented", "Bad Gateway", "Service Unavailable", "Gateway Timeout",
}

var wellKnownIndex = func() map[string]int {
	m := make(map[string]int, len(wellKnown))
	for i, s := range wellKnown {
		m[s] = i
	}
	return m
}()

// packer appends to a buffer reused from one payload to the next.
type packer struct {
	b    []byte
	prev Timestamp
	rest bool // the exchanges' end sequence numbers go in too
}

func (w *packer) writeUint(v uint64) { w.b = binary.AppendUvarint(w.b, v) }
func (w *packer) writeInt(v int64)   { w.b = binary.AppendVarint(w.b, v) }

func (w *packer) writeStr(s string) {
	if i, ok := wellKnownIndex[s]; ok {
		w.writeUint(uint64(i)<<1 | 1)
		return
	}
	w.writeUint(uint64(len(s)) << 1)
	w.b = append(w.b, s...)
}

func (w *packer) writeTime(t Timestamp) {
	if t == 0 {
		w.writeUint(0)
		return
	}
	d := int64(t - w.prev)
	w.writeUint(uint64(d<<1^d>>63) + 1)
	w.prev = t
}

// pack returns p packed; scratch is reused for the encoding.
func pack(p *Summary, scratch *[]byte) Packed {
	w := packer{b: (*scratch)[:0]}
	var flags byte
	if p.Missing != [2]uint64{} || p.MissingPacket != [2]uint32{} {
		flags |= packMissing
	}
	if p.Truncated != [2]uint32{} {
		flags |= packTruncated
	}
	if p.Limited[0] {
		flags |= packLimited0
	}
	if p.Limited[1] {
		flags |= packLimited1
	}
	if p.HTTP != nil {
		flags |= packHTTP
	}
	if p.TLS != nil {
		flags |= packTLS
	}
	if rs := p.rest; rs != nil {
		flags |= packRest
		w.rest = true
	}
	w.b = append(w.b, flags)
	if rs := p.rest; rs != nil {
		w.writeUint(uint64(rs.next[0]))
		w.writeUint(uint64(rs.next[1]))
		var f byte
		for i, b := range [...]bool{rs.nextOK[0], rs.nextOK[1], rs.cut[0], rs.cut[1], rs.httpEnd[0], rs.httpEnd[1], rs.done} {
			f |= byte(b2i(b)) << i
		}
		w.b = append(w.b, f)
	}
	w.writeStr(p.Protocol)
	if flags&packMissing != 0 {
		w.writeUint(p.Missing[0])
		w.writeUint(p.Missing[1])
		w.writeUint(uint64(p.MissingPacket[0]))
		w.writeUint(uint64(p.MissingPacket[1]))
	}
	if flags&packTruncated != 0 {
		w.writeUint(uint64(p.Truncated[0]))
		w.writeUint(uint64(p.Truncated[1]))
	}
	if h := p.HTTP; h != nil {
		w.writeInt(int64(h.Earlier))
		w.writeInt(int64(h.Requests))
		w.writeInt(int64(h.Responses))
		w.writeInt(int64(h.KeepAlive))
		w.writeUint(uint64(h.Client) | uint64(b2i(h.Upgraded))<<1 | uint64(b2i(h.Server != ""))<<2 | uint64(b2i(h.Via != ""))<<3)
		w.writeStr(h.Error)
		if h.Server != "" {
			w.writeStr(h.Server)
		}
		if h.Via != "" {
			w.writeStr(h.Via)
		}
		w.writeUint(uint64(len(h.Exchanges)))
		for i := range h.Exchanges {
			w.writeExchange(&h.Exchanges[i])
		}
	}
	if t := p.TLS; t != nil {
		w.writeStr(t.ServerName)
		w.writeUint(uint64(b2i(t.ClientHello)) | uint64(b2i(t.ServerHello))<<1 |
			uint64(b2i(t.Alert[0] != Alert{}))<<2 | uint64(b2i(t.Alert[1] != Alert{}))<<3)
		for _, a := range t.Alert {
			if a != (Alert{}) {
				w.writeUint(uint64(a.Description)<<2 | uint64(b2i(a.Fatal))<<1 | uint64(b2i(a.Sent)))
			}
		}
	}
	*scratch = w.b
	return Packed(w.b)
}

func (w *packer) writeExchange(x *Exchange) {
	w.writeStr(x.Method)
	w.writeStr(x.Target)
	w.writeStr(x.Version)
	w.writeInt(int64(x.Status))
	w.writeStr(x.Reason)
	w.writeTime(x.RequestAt)
	w.writeTime(x.ResponseAt)
	w.writeTime(x.ResponseEnd)
	w.writeUint(uint64(x.RequestPacket))
	w.writeUint(uint64(x.ResponsePacket))
	w.writeUint(uint64(x.RequestInput))
	w.writeUint(uint64(x.ResponseInput))
	w.writeInt(x.ContentLength)
	w.writeInt(x.BodyBytes)
	w.writeInt(int64(x.KeepAlive))
	var f byte
	for i, b := range [...]bool{x.Chunked, x.Complete, x.Acked, x.RequestClose, x.ResponseClose, x.Continue, x.Missing, x.endOK} {
		f |= byte(b2i(b)) << i
	}
	w.b = append(w.b, f)
	if w.rest {
		w.writeUint(uint64(x.endSeq))
	}
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}

// unpacker reads a packed payload. Past the end it reads zeros: the
// string is the packer's own, so that happens only if the two disagree,
// and a wrong field is better than a panic in a report.
type unpacker struct {
	s    string
	prev Timestamp
	rest bool
}

func (r *unpacker) readByte() byte {
	if len(r.s) == 0 {
		return 0
	}
	b := r.s[0]
	r.s = r.s[1:]
	return b
}

func (r *unpacker) readUint() uint64 {
	if len(r.s) > 0 && r.s[0] < 0x80 { // most numbers are small
		v := uint64(r.s[0])
		r.s = r.s[1:]
		return v
	}
	var v uint64
	for shift := 0; shift < 64 && len(r.s) > 0; shift += 7 {
		b := r.s[0]
		r.s = r.s[1:]
		v |= uint64(b&0x7f) << shift
		if b < 0x80 {
			break
		}
	}
	return v
}

func (r *unpacker) readInt() int64 {
	u := r.readUint()
	return int64(u>>1) ^ -int64(u&1)
}

func (r *unpacker) readStr() string {
	v := r.readUint()
	if v&1 == 1 {
		if i := v >> 1; i < uint64(len(wellKnown)) {
			return wellKnown[i]
		}
		return ""
	}
	n := min(v>>1, uint64(len(r.s)))
	s := r.s[:n]
	r.s = r.s[n:]
	return s
}

func (r *unpacker) readTime() Timestamp {
	v := r.readUint()
	if v == 0 {
		return 0
	}
	v--
	r.prev += Timestamp(int64(v>>1) ^ -int64(v&1))
	return r.prev
}

// Buffer is room for a decoded payload, reused from one connection to
// the next by Packed.Read.
type Buffer struct {
	p  Summary
	h  HTTP
	t  TLS
	rs restState
	ex []Exchange // room for the exchanges, kept from call to call
	// src is what was decoded last: reading the same record again (the
	// verdicts look at a flow's HTTP several times) decodes nothing.
	src Packed
}

// unpack decodes s into buf and returns the payload in it.
func unpack(s Packed, buf *Buffer) *Summary {
	r := unpacker{s: string(s)}
	flags := r.readByte()
	ex := buf.ex[:0]
	*buf = Buffer{}
	p := &buf.p
	if flags&packRest != 0 {
		r.rest = true
		buf.rs = r.readRest()
		p.rest = &buf.rs
	}
	p.Protocol = r.readStr()
	if flags&packMissing != 0 {
		p.Missing[0], p.Missing[1] = r.readUint(), r.readUint()
		p.MissingPacket[0], p.MissingPacket[1] = uint32(r.readUint()), uint32(r.readUint())
	}
	if flags&packTruncated != 0 {
		p.Truncated[0], p.Truncated[1] = uint32(r.readUint()), uint32(r.readUint())
	}
	p.Limited = [2]bool{flags&packLimited0 != 0, flags&packLimited1 != 0}
	if flags&packHTTP != 0 {
		h := &buf.h
		p.HTTP = h
		h.Earlier, h.Requests, h.Responses = int(r.readInt()), int(r.readInt()), int(r.readInt())
		h.KeepAlive = time.Duration(r.readInt())
		cu := r.readUint()
		h.Client, h.Upgraded = Side(cu&1), cu&2 != 0
		h.Error = r.readStr()
		if cu&4 != 0 {
			h.Server = r.readStr()
		}
		if cu&8 != 0 {
			h.Via = r.readStr()
		}
		n := int(min(r.readUint(), uint64(len(r.s)))) // an exchange takes a byte at least
		for range n {
			ex = append(ex, Exchange{})
			r.readExchange(&ex[len(ex)-1])
		}
		if n > 0 {
			h.Exchanges = ex
		}
	}
	buf.ex = ex
	if flags&packTLS != 0 {
		t := &buf.t
		p.TLS = t
		t.ServerName = r.readStr()
		f := r.readUint()
		t.ClientHello, t.ServerHello = f&1 != 0, f&2 != 0
		for i := range t.Alert {
			t.Alert[i] = Alert{}
			if f&(4<<i) != 0 {
				a := r.readUint()
				t.Alert[i] = Alert{Sent: a&1 != 0, Fatal: a&2 != 0, Description: uint8(a >> 2)}
			}
		}
	}
	return p
}

func (r *unpacker) readExchange(x *Exchange) {
	x.Method = r.readStr()
	x.Target = r.readStr()
	x.Version = r.readStr()
	x.Status = int(r.readInt())
	x.Reason = r.readStr()
	x.RequestAt = r.readTime()
	x.ResponseAt = r.readTime()
	x.ResponseEnd = r.readTime()
	x.RequestPacket = uint32(r.readUint())
	x.ResponsePacket = uint32(r.readUint())
	x.RequestInput = uint16(r.readUint())
	x.ResponseInput = uint16(r.readUint())
	x.ContentLength = r.readInt()
	x.BodyBytes = r.readInt()
	x.KeepAlive = time.Duration(r.readInt())
	f := r.readByte()
	x.Chunked, x.Complete, x.Acked = f&xChunked != 0, f&xComplete != 0, f&xAcked != 0
	x.RequestClose, x.ResponseClose = f&xRequestClose != 0, f&xResponseClose != 0
	x.Continue, x.Missing = f&xContinue != 0, f&xMissing != 0
	if r.rest {
		x.endSeq, x.endOK = uint32(r.readUint()), f&xEndOK != 0
	}
}

func (r *unpacker) readRest() restState {
	var rs restState
	rs.next[0], rs.next[1] = uint32(r.readUint()), uint32(r.readUint())
	f := r.readByte()
	rs.nextOK = [2]bool{f&restNextOK0 != 0, f&restNextOK1 != 0}
	rs.cut = [2]bool{f&restCut0 != 0, f&restCut1 != 0}
	rs.httpEnd = [2]bool{f&restHTTPEnd0 != 0, f&restHTTPEnd1 != 0}
	rs.done = f&restDoneFlag != 0
	return rs
}

// Packed is a Summary packed: what a connection that is over keeps of
// its payload (see pack). "" holds nothing worth reporting.
type Packed string

// Resting reports whether p holds where reading stood when its stream
// was let go (see Stream.Rest).
func (p Packed) Resting() bool { return p != "" && p[0]&packRest != 0 }

// restOf returns the rest state a resting payload holds.
func (p Packed) restOf() (restState, bool) {
	if !p.Resting() {
		return restState{}, false
	}
	u := unpacker{s: string(p[1:])}
	return u.readRest(), true
}

// Read decodes p into buf (a new one when nil): the result is valid
// until the next call with the same buf, and nil when p is "". Reading
// the same p again decodes nothing. The result must not be modified.
func (p Packed) Read(buf *Buffer) *Summary {
	switch {
	case p == "":
		return nil
	case buf == nil:
		buf = new(Buffer)
	case buf.src == p:
		return &buf.p
	}
	s := unpack(p, buf)
	buf.src = p
	return s
}

// Swap returns p with its sides exchanged, for a connection whose roles
// were inferred the other way round.
func (p Packed) Swap() Packed {
	if p == "" {
		return ""
	}
	s := p.Read(nil)
	s.swap()
	var scratch []byte
	return pack(s, &scratch)
}
