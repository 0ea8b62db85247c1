package payload

import (
	"bytes"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/flowdoc/flowdoc/flow/internal/free"
	"github.com/flowdoc/flowdoc/flow/internal/intern"
)

// HTTP is what was read of an HTTP/1.x conversation on one connection.
type HTTP struct {
	// Exchanges are the last requests with their responses, oldest
	// first; Earlier counts those before them, not kept.
	Exchanges []Exchange
	Earlier   int
	Requests  int
	Responses int // final ones (not 1xx)
	// KeepAlive is the idle timeout the server advertised in its last
	// Keep-Alive header (timeout=N); 0 if it sent none.
	KeepAlive time.Duration
	// Client is the side that sent the requests.
	Client Side
	// Upgraded is set when the server switched protocols (101): what
	// follows is not HTTP.
	Upgraded bool
	// Server is the first response's Server header ("Apache/2.4.62
	// (Debian)"), its first 64 bytes; "" if none said one. Via is the
	// first response's Via header, likewise: a proxy it came through.
	Server, Via string
	// Error says why reading stopped early, if it did.
	Error string
}

// Last returns the last exchange, or nil.
func (h *HTTP) Last() *Exchange {
	if len(h.Exchanges) == 0 {
		return nil
	}
	return &h.Exchanges[len(h.Exchanges)-1]
}

// LastResponse returns the last exchange that got a response, or nil.
func (h *HTTP) LastResponse() *Exchange {
	for i := len(h.Exchanges) - 1; i >= 0; i-- {
		if h.Exchanges[i].Status != 0 {
			return &h.Exchanges[i]
		}
	}
	return nil
}

// RequestLine is "GET /upload"; "" when the request was not captured,
// or was malformed.
func (x *Exchange) RequestLine() string {
	if x.Method == "" {
		return ""
	}
	return x.Method + " " + x.Target
}

// Malformed reports whether the request was captured but its request
// line was not HTTP (as "GET /a b HTTP/1.1", a target with a space):
// Target then holds the whole line, as sent.
func (x *Exchange) Malformed() bool { return x.Method == "" && x.Target != "" }

// StatusLine is "404 Not Found", or "404" without a reason; "" while no
// response came.
func (x *Exchange) StatusLine() string {
	switch {
	case x.Status == 0:
		return ""
	case x.Reason == "":
		return strconv.Itoa(x.Status)
	}
	return strconv.Itoa(x.Status) + " " + x.Reason
}

// Exchange is one request and its response.
type Exchange struct {
	// From the request line; empty when only the response was captured.
	// A malformed request line leaves Method empty and is kept whole in
	// Target (see Malformed).
	Method, Target, Version string
	// From the status line; Status is 0 while no response came.
	Status int
	Reason string
	// When the request's and the response's first bytes came, and the
	// response's last one; 0 if not seen.
	RequestAt, ResponseAt, ResponseEnd Timestamp
	RequestPacket, ResponsePacket      uint32
	RequestInput, ResponseInput        uint16
	// ContentLength is the response's; -1 if it declared none.
	ContentLength int64
	// BodyBytes counts the response body bytes on the wire (chunked
	// framing excluded).
	BodyBytes int64
	// Keep-Alive timeout the response advertised; 0 if none.
	KeepAlive time.Duration
	Chunked   bool
	// Complete: the whole response was captured.
	Complete bool
	// Acked: the client's TCP acknowledged the whole response.
	Acked bool
	// RequestClose and ResponseClose: the message said Connection: close.
	RequestClose, ResponseClose bool
	// Continue: the server answered 100 Continue first.
	Continue bool
	// Missing: part of the response body was not captured.
	Missing bool
	endSeq  uint32 // sequence number after the response's last byte
	endOK   bool
}

// Limits on what an HTTP message may hold before reading stops: far
// beyond real traffic, they keep hostile input from growing memory.
const (
	maxLine      = 16 << 10 // a start line, header line or chunk size line
	maxHeaders   = 64 << 10 // a message's header section
	maxExchanges = 16       // kept per connection
	maxTarget    = 256      // bytes of a request target kept
	maxReason    = 64
)

// The states of one direction's reader.
const (
	hStart     = iota // before a message
	hHeaders          // in the header section
	hBody             // a body of known length
	hChunkSize        // expecting a chunk size line
	hChunkData        // in a chunk
	hChunkEnd         // expecting the CRLF after a chunk
	hTrailer          // in the trailer section
	hUntilEnd         // a response body that ends when the server closes
	hDone             // reading stopped
)

// httpReader reads both directions of an HTTP/1.x connection.
type httpReader struct {
	h    *HTTP
	strs *intern.Table // for request targets
	dir  [2]httpDir
	// acked is how far each side acknowledged the other's bytes.
	acked   [2]uint32
	ackedOK [2]bool
}

// httpDir is the reading state of one direction.
type httpDir struct {
	state  uint8
	line   []byte
	hdrLen int
	left   int64 // of the body or chunk
	start  Packet
	// The message being read.
	ex      *Exchange // the response's exchange; nil for requests
	method  string    // set for a request, not for a response
	target  string
	version string
	status  int
	reason  string
	clen    int64
	chunked bool
	close   bool
	ka      time.Duration
}

// detectHTTP recognises a request line's method or a status line's
// "HTTP/1." at the start of a stream.
func detectHTTP(_ Side, b []byte) verdict {
	if len(b) >= 7 && string(b[:7]) == "HTTP/1." {
		return isThis
	}
	if len(b) < 7 && bytes.HasPrefix([]byte("HTTP/1."), b) {
		return needMore
	}
	for _, m := range methods {
		switch {
		case len(b) > len(m) && string(b[:len(m)]) == m && b[len(m)] == ' ':
			return isThis
		case len(b) <= len(m) && string(b) == m[:len(b)]:
			return needMore
		}
	}
	return notThis
}

// methods are those a stream may start with to be read as HTTP.
var methods = []string{"GET", "POST", "PUT", "HEAD", "DELETE", "OPTIONS", "PATCH", "CONNECT", "TRACE"}

// httpPayload is a payload result with its HTTP result and room for its
// first exchanges, in one object. It lives while the connection is read;
// once the result is packed, the next connection reuses it (see
// Stream.Finish), so reading HTTP allocates next to nothing.
type httpPayload struct {
	p  Summary
	h  HTTP
	ex [2]Exchange
}

// startHTTP starts reading HTTP into p. With a stream (p is its payload
// result), the result moves into an httpPayload and the stream's own
// reader reads; without (in tests), they are allocated apart.
func startHTTP(st *Stream, p *Summary) protocol {
	if st == nil {
		p.HTTP = &HTTP{}
		return &httpReader{h: p.HTTP, strs: &intern.Table{}}
	}
	hp := st.asm.newHTTPPayload()
	hp.p = *p
	st.hp = hp
	*p = Summary{}
	st.asm.freeResults = free.Keep(st.asm.freeResults, p)
	hp.p.HTTP = &hp.h
	hp.h.Exchanges = hp.ex[:0]
	st.p = &hp.p
	st.http = httpReader{h: &hp.h, strs: &st.asm.strs}
	return &st.http
}

func (r *httpReader) data(s Side, c *chunk) bool {
	d := &r.dir[s]
	b := c.data
	for i := 0; i < len(b) && d.state != hDone; {
		switch d.state {
		case hBody, hChunkData:
			n := min(int64(len(b)-i), d.left)
			d.left -= n
			i += int(n)
			if d.ex != nil {
				d.ex.BodyBytes += n
			}
			if d.left == 0 {
				if d.state == hChunkData {
					d.state = hChunkEnd
				} else {
					r.endMessage(s, c, i-1)
				}
			}
		case hUntilEnd:
			if d.ex != nil {
				d.ex.BodyBytes += int64(len(b) - i)
				d.ex.ResponseEnd = c.where(len(b) - 1).At
				d.ex.endSeq, d.ex.endOK = c.seq+uint32(len(b)), true
			}
			i = len(b)
		default:
			if d.state == hStart && len(d.line) == 0 {
				// Blank lines between messages are allowed.
				for i < len(b) && (b[i] == '\r' || b[i] == '\n') {
					i++
				}
				if i == len(b) {
					break
				}
				if !tchar(b[i]) {
					r.fail(s, "bytes that are not HTTP (0x%02x) where a message should start", b[i])
					break
				}
				d.start = c.where(i)
			}
			j := bytes.IndexByte(b[i:], '\n')
			if j < 0 {
				r.keep(s, b[i:])
				i = len(b)
				break
			}
			line := b[i : i+j]
			if len(d.line) > 0 {
				r.keep(s, line)
				line = d.line
			}
			if len(line) > maxLine {
				r.fail(s, "a line longer than %d bytes", maxLine)
				break
			}
			i += j + 1
			line = bytes.TrimSuffix(line, []byte{'\r'})
			r.line(s, line, c, i-1)
			d.line = d.line[:0]
		}
	}
	return r.dir[Client].state != hDone || r.dir[Server].state != hDone
}

// keep holds part of a line until its end comes.
func (r *httpReader) keep(s Side, b []byte) {
	d := &r.dir[s]
	if len(d.line)+len(b) > maxLine {
		r.fail(s, "a line longer than %d bytes", maxLine)
		return
	}
	d.line = append(d.line, b...)
}

// fail stops reading a direction, saying why.
func (r *httpReader) fail(s Side, format string, args ...any) {
	d := &r.dir[s]
	if d.state == hDone {
		return
	}
	if r.h.Error == "" {
		r.h.Error = fmt.Sprintf("%s stream: %s; the rest of it is not read", s, fmt.Sprintf(format, args...))
	}
	d.state, d.line = hDone, nil
}

// line handles one complete line of side s; end is the offset in c of its
// newline.
func (r *httpReader) line(s Side, line []byte, c *chunk, end int) {
	d := &r.dir[s]
	switch d.state {
	case hStart:
		r.startLine(s, line)
	case hHeaders:
		d.hdrLen += len(line) + 2
		if d.hdrLen > maxHeaders {
			r.fail(s, "a header section longer than %d bytes", maxHeaders)
			return
		}
		if len(line) == 0 {
			r.endHeaders(s, c, end)
			return
		}
		r.header(s, line)
	case hChunkSize:
		if i := bytes.IndexByte(line, ';'); i >= 0 {
			line = line[:i]
		}
		n, err := strconv.ParseInt(string(bytes.TrimSpace(line)), 16, 64)
		if err != nil || n < 0 {
			r.fail(s, "a malformed chunk size %q", clip(line, 32))
			return
		}
		if n == 0 {
			d.state = hTrailer
			return
		}
		d.state, d.left = hChunkData, n
	case hChunkEnd:
		if len(line) != 0 {
			r.fail(s, "no CRLF after a chunk")
			return
		}
		d.state = hChunkSize
	case hTrailer:
		if len(line) == 0 {
			r.endMessage(s, c, end)
		}
	}
}

// startLine reads a request line or a status line.
func (r *httpReader) startLine(s Side, line []byte) {
	d := &r.dir[s]
	*d = httpDir{state: hHeaders, line: d.line, start: d.start, clen: -1}
	if bytes.HasPrefix(line, []byte("HTTP/")) {
		// HTTP/1.1 200 OK
		v, rest, _ := bytes.Cut(line, []byte{' '})
		code, reason, _ := bytes.Cut(rest, []byte{' '})
		st, err := strconv.Atoi(string(code))
		if !version(v) || len(code) != 3 || err != nil || st < 100 {
			r.fail(s, "a malformed status line %q", clip(line, 64))
			return
		}
		if r.h.Requests+r.h.Responses > 0 && r.h.Client == s {
			r.fail(s, "a status line among requests")
			return
		}
		d.version, d.status, d.reason = internVersion(v), st, internReason(clip(reason, maxReason))
		if r.h.Requests == 0 && r.h.Responses == 0 {
			r.h.Client = s.Other()
		}
		return
	}
	// GET /path HTTP/1.1
	m, rest, ok1 := bytes.Cut(line, []byte{' '})
	target, v, ok2 := bytes.Cut(rest, []byte{' '})
	if !ok1 || !ok2 || !token(m) || len(target) == 0 || !version(v) || !visible(target) {
		if ok1 && token(m) && (r.h.Requests+r.h.Responses == 0 || r.h.Client == s) {
			r.malformedRequest(s, line)
		}
		r.fail(s, "a malformed request line %q", clip(line, 64))
		return
	}
	if r.h.Requests+r.h.Responses == 0 {
		r.h.Client = s
	} else if r.h.Client != s {
		r.fail(s, "a request line among responses")
		return
	}
	d.method, d.target, d.version = internMethod(m), r.strs.Get(clip(target, maxTarget)), internVersion(v)
}

// malformedRequest keeps a request whose request line is not HTTP (a
// method, then a space, then what is not a target and a version): it was
// sent, and the server's answer (400 Bad Request, or a close) is its
// response, not one to a request not captured.
func (r *httpReader) malformedRequest(s Side, line []byte) {
	d := &r.dir[s]
	h := r.h
	h.Client = s
	h.Requests++
	if len(h.Exchanges) == maxExchanges {
		copy(h.Exchanges, h.Exchanges[1:])
		h.Exchanges = h.Exchanges[:maxExchanges-1]
		h.Earlier++
	}
	h.Exchanges = append(h.Exchanges, Exchange{Target: r.strs.Get(clip(line, maxTarget)),
		RequestAt: d.start.At, RequestPacket: d.start.Number, RequestInput: d.start.Input, ContentLength: -1})
}

// version reports whether v is HTTP/1.0 or HTTP/1.1.
func version(v []byte) bool {
	return len(v) == 8 && string(v[:7]) == "HTTP/1." && (v[7] == '0' || v[7] == '1')
}

// token reports whether b is an HTTP token (RFC 9110), as a method is.
func token(b []byte) bool {
	if len(b) == 0 || len(b) > 32 {
		return false
	}
	for _, c := range b {
		if !tchar(c) {
			return false
		}
	}
	return true
}

// tchar reports whether c may be in a token (RFC 9110, 5.6.2): visible
// ASCII but for the delimiters. It runs on every byte of every header
// name, so it looks the answer up.
func tchar(c byte) bool { return tchars[c] }

var tchars = func() (t [256]bool) {
	for c := '!'; c < 0x7f; c++ {
		t[c] = !strings.ContainsRune(`"(),/:;<=>?@[\]{}`, c)
	}
	return t
}()

// visible reports whether b is all visible ASCII, as a request target
// is (RFC 9112: non-ASCII is percent-encoded).
func visible(b []byte) bool {
	for _, c := range b {
		if c <= ' ' || c >= 0x7f {
			return false
		}
	}
	return true
}

// printableASCII returns b with every byte that is not printable ASCII
// replaced by '?': what a report shows must not drive a terminal.
func printableASCII(b []byte) string {
	out := bytes.Clone(b)
	for i, c := range out {
		if c < ' ' || c >= 0x7f {
			out[i] = '?'
		}
	}
	return string(out)
}

// internVersion and internReason return the common strings without
// allocating: a capture holds millions of messages.
func internVersion(v []byte) string {
	if v[7] == '1' {
		return "HTTP/1.1"
	}
	return "HTTP/1.0"
}

var reasons = []string{"OK", "Created", "Accepted", "No Content", "Moved Permanently", "Found", "Not Modified",
	"Bad Request", "Unauthorized", "Forbidden", "Not Found", "Method Not Allowed", "Request Timeout", "Conflict",
	"Too Many Requests", "Internal Server Error", "Bad Gateway", "Service Unavailable", "Gateway Timeout", "Continue"}

func internReason(b []byte) string {
	for _, r := range reasons {
		if string(b) == r {
			return r
		}
	}
	return printableASCII(b)
}

func internMethod(m []byte) string {
	for _, k := range methods {
		if string(m) == k {
			return k
		}
	}
	return string(m)
}

func clip(b []byte, n int) []byte {
	if len(b) > n {
		return b[:n]
	}
	return b
}

// header reads one header line.
func (r *httpReader) header(s Side, line []byte) {
	d := &r.dir[s]
	if line[0] == ' ' || line[0] == '\t' {
		return // an obsolete folded continuation
	}
	name, value, ok := bytes.Cut(line, []byte{':'})
	if !ok || !token(name) {
		r.fail(s, "a malformed header line %q", clip(line, 64))
		return
	}
	value = bytes.TrimSpace(value)
	switch {
	case bytes.EqualFold(name, []byte("Content-Length")):
		n, err := strconv.ParseInt(string(value), 10, 64)
		if err != nil || n < 0 || d.clen >= 0 && d.clen != n {
			r.fail(s, "a bad Content-Length %q", clip(value, 32))
			return
		}
		d.clen = n
	case bytes.EqualFold(name, []byte("Transfer-Encoding")):
		// Chunked when it is the last coding.
		eachItem(value, func(c []byte) { d.chunked = bytes.EqualFold(c, []byte("chunked")) })
	case bytes.EqualFold(name, []byte("Connection")):
		eachItem(value, func(t []byte) { d.close = d.close || bytes.EqualFold(t, []byte("close")) })
	case bytes.EqualFold(name, []byte("Server")):
		if d.status != 0 && r.h.Server == "" && len(value) > 0 {
			r.h.Server = printableASCII(clip(value, 64))
		}
	case bytes.EqualFold(name, []byte("Via")):
		if d.status != 0 && r.h.Via == "" && len(value) > 0 {
			r.h.Via = printableASCII(clip(value, 64))
		}
	case bytes.EqualFold(name, []byte("Keep-Alive")):
		eachItem(value, func(p []byte) {
			k, v, _ := bytes.Cut(p, []byte{'='})
			if bytes.EqualFold(bytes.TrimSpace(k), []byte("timeout")) {
				if n, err := strconv.Atoi(string(bytes.TrimSpace(v))); err == nil && n >= 0 && n < 1<<20 {
					d.ka = time.Duration(n) * time.Second
				}
			}
		})
	}
}

// eachItem calls fn with each item of a comma-separated header value,
// trimmed.
func eachItem(value []byte, fn func([]byte)) {
	for len(value) > 0 {
		var item []byte
		item, value, _ = bytes.Cut(value, []byte{','})
		fn(bytes.TrimSpace(item))
	}
}

// endHeaders ends a header section: the message's body, if any, follows.
func (r *httpReader) endHeaders(s Side, c *chunk, end int) {
	d := &r.dir[s]
	h := r.h
	if d.method != "" {
		h.Requests++
		if len(h.Exchanges) == maxExchanges {
			copy(h.Exchanges, h.Exchanges[1:])
			h.Exchanges = h.Exchanges[:maxExchanges-1]
			h.Earlier++
		}
		h.Exchanges = append(h.Exchanges, Exchange{Method: d.method, Target: d.target, Version: d.version,
			RequestAt: d.start.At, RequestPacket: d.start.Number, RequestInput: d.start.Input,
			RequestClose: d.close, ContentLength: -1})
		switch {
		case d.chunked:
			d.state = hChunkSize
		case d.clen > 0:
			d.state, d.left = hBody, d.clen
		default:
			d.state = hStart
		}
		return
	}
	if d.status < 200 {
		// An interim response: the final one follows.
		if d.status == 101 {
			// The last response the connection carries as HTTP: the
			// request's answer.
			h.Upgraded = true
			if ex := r.awaiting(); ex != nil {
				h.Responses++
				ex.Version, ex.Status, ex.Reason = d.version, d.status, d.reason
				ex.ResponseAt, ex.ResponsePacket, ex.ResponseInput = d.start.At, d.start.Number, d.start.Input
			}
			r.dir[Client].state, r.dir[Server].state = hDone, hDone
			return
		}
		if d.status == 100 {
			if ex := r.awaiting(); ex != nil {
				ex.Continue = true
			}
		}
		d.state = hStart
		return
	}
	ex := r.awaiting()
	if ex == nil {
		// A response to a request not captured (or not kept).
		if h.Requests > 0 && h.Responses-h.Earlier < 0 {
			ex = &Exchange{} // its exchange was dropped: read past it
		} else {
			h.Exchanges = append(h.Exchanges, Exchange{})
			if len(h.Exchanges) > maxExchanges {
				h.Exchanges = h.Exchanges[1:]
				h.Earlier++
			}
			ex = h.Last()
		}
	}
	h.Responses++
	ex.Version, ex.Status, ex.Reason = d.version, d.status, d.reason
	ex.ResponseAt, ex.ResponsePacket, ex.ResponseInput = d.start.At, d.start.Number, d.start.Input
	ex.ResponseClose, ex.KeepAlive, ex.Chunked, ex.ContentLength = d.close, d.ka, d.chunked, d.clen
	if d.ka > 0 {
		h.KeepAlive = d.ka
	}
	d.ex = ex
	switch {
	case c == nil: // cut within the headers: the message ends here
	case ex.Method == "HEAD" || d.status == 204 || d.status == 304 || ex.Method == "CONNECT" && d.status < 300:
		r.endMessage(s, c, end)
	case d.chunked:
		d.state = hChunkSize
	case d.clen == 0:
		r.endMessage(s, c, end)
	case d.clen > 0:
		d.state, d.left = hBody, d.clen
	default:
		d.state = hUntilEnd
	}
	if ex.Method == "CONNECT" && d.status < 300 {
		// A tunnel: what follows is not HTTP.
		r.dir[Client].state, r.dir[Server].state = hDone, hDone
	}
}

// awaiting returns the oldest kept exchange without a response, or nil.
func (r *httpReader) awaiting() *Exchange {
	i := r.h.Responses - r.h.Earlier
	if i < 0 || i >= len(r.h.Exchanges) {
		return nil
	}
	return &r.h.Exchanges[i]
}

// endMessage ends the message of side s, whose last byte is at offset
// end of c.
func (r *httpReader) endMessage(s Side, c *chunk, end int) {
	d := &r.dir[s]
	if ex := d.ex; ex != nil {
		ex.Complete = true
		ex.ResponseEnd = c.where(end).At
		ex.endSeq, ex.endOK = c.seq+uint32(end)+1, true
		r.checkAck(ex)
	}
	d.state, d.ex = hStart, nil
}

func (r *httpReader) gap(s Side, n int) {
	d := &r.dir[s]
	switch d.state {
	case hBody, hChunkData:
		if int64(n) <= d.left {
			d.left -= int64(n)
			if d.ex != nil {
				d.ex.BodyBytes += int64(n)
				d.ex.Missing = true
			}
			if d.left == 0 && d.state == hChunkData {
				d.state = hChunkEnd
			} else if d.left == 0 {
				// Ended in the gap: when is not known.
				if d.ex != nil {
					d.ex.Missing, d.ex.Complete = true, true
				}
				d.state, d.ex = hStart, nil
			}
			return
		}
	case hUntilEnd:
		if d.ex != nil {
			d.ex.BodyBytes += int64(n)
			d.ex.Missing = true
		}
		return
	case hDone:
		return
	}
	r.fail(s, "%d bytes not captured", n)
}

func (r *httpReader) cut(s Side) {
	if d := &r.dir[s]; d.state == hHeaders && (d.method != "" || d.status != 0) {
		// Cut inside its header section: the start line and the headers
		// read so far tell what the message was.
		r.endHeaders(s, nil, 0)
	}
	r.end(s, false)
}

func (r *httpReader) end(s Side, fin bool) {
	d := &r.dir[s]
	if d.state == hUntilEnd && fin && d.ex != nil {
		d.ex.Complete = true
		r.checkAck(d.ex)
	}
	d.state, d.line = hDone, nil
}

func (r *httpReader) ack(s Side, ack uint32) {
	if s != r.h.Client || r.h.Responses == 0 {
		return
	}
	r.acked[s], r.ackedOK[s] = ack, true
	for i := range r.h.Exchanges {
		r.checkAck(&r.h.Exchanges[i])
	}
}

// checkAck marks a response acknowledged when the client's ACKs cover it.
func (r *httpReader) checkAck(ex *Exchange) {
	c := r.h.Client
	if ex.endOK && !ex.Acked && r.ackedOK[c] && seqGE(r.acked[c], ex.endSeq) {
		ex.Acked = true
	}
}
