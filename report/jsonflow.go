package report

import (
	"slices"
	"strconv"
	"time"
	"unicode/utf8"

	"github.com/flowdoc/flowdoc/analyze"
)

// flowEncoder appends flows (analyze.FlowView, the schema of a flow) as
// compact JSON, exactly as encoding/json would encode them, but without
// reflection and allocations: for millions of flows this is most of a
// JSON report's time. It remembers the last day it formatted: a
// capture's timestamps mostly fall on the same day.
type flowEncoder struct {
	day    int64  // since the Unix epoch
	prefix []byte // "2006-01-02T" of day
	view   analyze.FlowView
}

// appendTS appends a capture time as encoding/json would: RFC 3339 with
// the fraction trimmed, "" for none.
func (e *flowEncoder) appendTS(b []byte, ts analyze.Time) []byte {
	if ts == 0 {
		return append(b, `""`...)
	}
	ns := int64(ts)
	sec, frac := ns/1e9, ns%1e9
	if frac < 0 {
		sec, frac = sec-1, frac+1e9
	}
	day, tod := sec/86400, sec%86400
	if tod < 0 {
		day, tod = day-1, tod+86400
	}
	if day != e.day || e.prefix == nil {
		e.day = day
		e.prefix = time.Unix(day*86400, 0).UTC().AppendFormat(e.prefix[:0], "2006-01-02T")
	}
	b = append(b, '"')
	b = append(b, e.prefix...)
	h, m, s := tod/3600, tod/60%60, tod%60
	b = append(b, byte('0'+h/10), byte('0'+h%10), ':', byte('0'+m/10), byte('0'+m%10), ':', byte('0'+s/10), byte('0'+s%10))
	if frac != 0 {
		// ".123456789" with trailing zeros trimmed.
		n := 9
		for frac%10 == 0 {
			frac, n = frac/10, n-1
		}
		b = append(b, '.')
		b = extend(b, n)
		for i := len(b) - 1; i >= len(b)-n; i-- {
			b[i], frac = byte('0'+frac%10), frac/10
		}
	}
	return append(b, 'Z', '"')
}

// extend returns b with n more bytes, their values unset.
func extend(b []byte, n int) []byte {
	if cap(b)-len(b) < n {
		b = slices.Grow(b, n)
	}
	return b[:len(b)+n]
}

// appendUint appends n in decimal, as strconv.AppendUint does, but
// writing the digits in place: most numbers in a flow are small, and this
// spares each one a copy.
func appendUint(b []byte, n uint64) []byte {
	switch {
	case n < 10:
		return append(b, byte('0'+n))
	case n < 100:
		return append(b, byte('0'+n/10), byte('0'+n%10))
	}
	d := 3
	for x := n / 1000; x > 0; x /= 10 {
		d++
	}
	b = extend(b, d)
	for i := len(b) - 1; i >= len(b)-d; i-- {
		b[i], n = byte('0'+n%10), n/10
	}
	return b
}

// appendInt is appendUint for a signed n.
func appendInt(b []byte, n int64) []byte {
	if n < 0 {
		return strconv.AppendInt(b, n, 10)
	}
	return appendUint(b, uint64(n))
}

// appendFlow appends v as encoding/json would encode it
// (TestFlowEncoderMatchesEncodingJSON holds it to that, field by field).
func (e *flowEncoder) appendFlow(b []byte, v *analyze.FlowView) []byte {
	b = append(b, `{"id":`...)
	b = appendInt(b, int64(v.ID))
	b = append(b, `,"client":`...)
	b = appendEndpoint(b, v.Client)
	b = append(b, `,"server":`...)
	b = appendEndpoint(b, v.Server)
	b = appendBoolField(b, "roles_inferred", v.RolesInferred)
	b = appendBoolField(b, "midstream", v.Midstream)
	b = appendBoolField(b, "one_sided", v.OneSided)
	b = appendBoolField(b, "reused", v.Reused)
	if v.CopyOf != 0 {
		b = append(b, `,"copy_of":`...)
		b = appendInt(b, int64(v.CopyOf))
	}
	b = append(b, `,"first":`...)
	b = e.appendTS(b, v.First)
	b = append(b, `,"last":`...)
	b = e.appendTS(b, v.Last)
	b = append(b, `,"duration_s":`...)
	b = appendFloat(b, v.DurationS)
	b = append(b, `,"packets":`...)
	b = appendUintPair(b, v.Packets)
	b = append(b, `,"bytes":`...)
	b = appendUintPair(b, v.Bytes)
	b = append(b, `,"client_state":`...)
	b = appendString(b, v.ClientState)
	b = append(b, `,"server_state":`...)
	b = appendString(b, v.ServerState)
	b = append(b, `,"history":`...)
	b = appendString(b, v.History)
	b = append(b, `,"ends":{"client":`...)
	b = e.appendEnd(b, &v.Ends.Client)
	b = append(b, `,"server":`...)
	b = e.appendEnd(b, &v.Ends.Server)
	b = append(b, '}')
	b = appendKernel(b, &v.Kernel)
	b = e.appendPayload(b, v)
	if v.Events.Set {
		b = append(b, `,"events":`...)
		b = e.appendEvents(b, v.Events.V)
	}
	if v.EventsDropped != 0 {
		b = append(b, `,"events_dropped":`...)
		b = appendInt(b, int64(v.EventsDropped))
	}
	b = append(b, `,"verdicts":`...)
	b = e.appendVerdicts(b, v.Verdicts)
	return append(b, '}')
}

func appendUintPair(b []byte, p analyze.Pair[uint64]) []byte {
	b = append(b, `{"client":`...)
	b = appendUint(b, p.Client)
	b = append(b, `,"server":`...)
	b = appendUint(b, p.Server)
	return append(b, '}')
}

// appendKernel appends a flow's "kernel" field, when a side is on the
// capturing host.
func appendKernel(b []byte, k *analyze.Pair[analyze.SocketView]) []byte {
	if *k == (analyze.Pair[analyze.SocketView]{}) {
		return b
	}
	b = append(b, `,"kernel":{`...)
	if k.Client != (analyze.SocketView{}) {
		b = append(b, `"client":`...)
		b = appendSocket(b, &k.Client)
	}
	if k.Server != (analyze.SocketView{}) {
		if k.Client != (analyze.SocketView{}) {
			b = append(b, ',')
		}
		b = append(b, `"server":`...)
		b = appendSocket(b, &k.Server)
	}
	return append(b, '}')
}

func (e *flowEncoder) appendVerdicts(b []byte, vs []analyze.VerdictView) []byte {
	if vs == nil {
		return append(b, "null"...)
	}
	b = append(b, '[')
	for i := range vs {
		v := &vs[i]
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, `{"class":`...)
		b = appendString(b, string(v.Class))
		b = append(b, `,"side":`...)
		b = appendString(b, v.Side)
		b = append(b, `,"severity":`...)
		b = appendString(b, v.Severity.String())
		b = append(b, `,"confidence":`...)
		b = appendFloat(b, v.Confidence)
		if v.Since != 0 {
			b = append(b, `,"since":`...)
			b = e.appendTS(b, v.Since)
		}
		if v.AgeS.Set {
			b = append(b, `,"age_s":`...)
			b = appendFloat(b, v.AgeS.V)
		}
		b = append(b, `,"summary":`...)
		b = appendString(b, v.Summary)
		b = append(b, `,"evidence":`...)
		b = e.appendEvidence(b, v.Evidence)
		b = append(b, '}')
	}
	return append(b, ']')
}

// appendPayload appends a flow's "payload", "http" and "tls" fields, those
// it has.
func (e *flowEncoder) appendPayload(b []byte, v *analyze.FlowView) []byte {
	if p := &v.Payload; !p.IsZero() {
		b = append(b, `,"payload":{`...)
		n := len(b)
		if p.Protocol != "" {
			b = append(b, `"protocol":`...)
			b = appendString(b, p.Protocol)
		}
		if len(p.Gaps) > 0 {
			if len(b) > n {
				b = append(b, ',')
			}
			b = append(b, `"gaps":`...)
			b = appendGaps(b, p.Gaps)
		}
		b = append(b, '}')
	}
	if h := &v.HTTP; !h.IsZero() {
		b = e.appendHTTP(b, h)
	}
	if t := &v.TLS; !t.IsZero() {
		b = append(b, `,"tls":{`...)
		if t.ServerName != "" {
			b = append(b, `"server_name":`...)
			b = appendString(b, t.ServerName)
			b = append(b, ',')
		}
		b = append(b, `"client_hello":`...)
		b = strconv.AppendBool(b, t.ClientHello)
		b = append(b, `,"server_hello":`...)
		b = strconv.AppendBool(b, t.ServerHello)
		if t.ClientAlert != "" {
			b = append(b, `,"client_alert":`...)
			b = appendString(b, t.ClientAlert)
		}
		if t.ServerAlert != "" {
			b = append(b, `,"server_alert":`...)
			b = appendString(b, t.ServerAlert)
		}
		b = append(b, '}')
	}
	return b
}

func appendGaps(b []byte, gaps []analyze.GapView) []byte {
	b = append(b, '[')
	for i := range gaps {
		g := &gaps[i]
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, `{"side":`...)
		b = appendString(b, g.Side)
		b = append(b, `,"missing_bytes":`...)
		b = appendUint(b, g.MissingBytes)
		if g.Packet != 0 {
			b = append(b, `,"packet":`...)
			b = appendUint(b, uint64(g.Packet))
		}
		if g.BufferLimited {
			b = append(b, `,"buffer_limited":true`...)
		}
		if g.Truncated != (analyze.PacketRef{}) {
			b = append(b, `,"truncated":{"packet":`...)
			b = appendUint(b, uint64(g.Truncated.Packet))
			b = append(b, '}')
		}
		b = append(b, '}')
	}
	return append(b, ']')
}

func (e *flowEncoder) appendHTTP(b []byte, h *analyze.HTTPView) []byte {
	b = append(b, `,"http":{"requests":`...)
	b = appendInt(b, int64(h.Requests))
	b = append(b, `,"responses":`...)
	b = appendInt(b, int64(h.Responses))
	if h.Earlier != 0 {
		b = append(b, `,"earlier_exchanges":`...)
		b = appendInt(b, int64(h.Earlier))
	}
	if h.KeepAliveS.Set {
		b = append(b, `,"keep_alive_timeout_s":`...)
		b = appendFloat(b, h.KeepAliveS.V)
	}
	if h.LastStatus != 0 {
		b = append(b, `,"last_status":`...)
		b = appendInt(b, int64(h.LastStatus))
	}
	if h.Upgraded {
		b = append(b, `,"upgraded":true`...)
	}
	if h.Server != "" {
		b = append(b, `,"server":`...)
		b = appendString(b, h.Server)
	}
	if h.Via != "" {
		b = append(b, `,"via":`...)
		b = appendString(b, h.Via)
	}
	if h.Error != "" {
		b = append(b, `,"error":`...)
		b = appendString(b, h.Error)
	}
	b = append(b, `,"exchanges":`...)
	if h.Exchanges == nil {
		b = append(b, "null"...)
	} else {
		b = append(b, '[')
		for i := range h.Exchanges {
			if i > 0 {
				b = append(b, ',')
			}
			b = e.appendExchange(b, &h.Exchanges[i])
		}
		b = append(b, ']')
	}
	return append(b, '}')
}

func (e *flowEncoder) appendExchange(b []byte, x *analyze.ExchangeView) []byte {
	b = append(b, '{')
	n := len(b)
	field := func(name string) {
		if len(b) > n {
			b = append(b, ',')
		}
		b = append(b, '"')
		b = append(b, name...)
		b = append(b, '"', ':')
	}
	str := func(name, v string) {
		if v != "" {
			field(name)
			b = appendString(b, v)
		}
	}
	flag := func(name string, v bool) {
		if v {
			field(name)
			b = append(b, "true"...)
		}
	}
	ref := func(name string, r *analyze.Ref) {
		if *r != (analyze.Ref{}) {
			field(name)
			b = e.appendRef(b, r)
		}
	}
	str("method", x.Method)
	str("target", x.Target)
	flag("malformed", x.Malformed)
	str("version", x.Version)
	ref("request", &x.Request)
	flag("request_close", x.RequestClose)
	flag("continue", x.Continue)
	if x.Status != 0 {
		field("status")
		b = appendInt(b, int64(x.Status))
	}
	str("reason", x.Reason)
	ref("response", &x.Response)
	if x.ResponseEnd != 0 {
		field("response_end")
		b = e.appendTS(b, x.ResponseEnd)
	}
	if x.ContentLength.Set {
		field("content_length")
		b = appendInt(b, x.ContentLength.V)
	}
	flag("chunked", x.Chunked)
	field("body_bytes")
	b = appendInt(b, x.BodyBytes)
	field("complete")
	b = strconv.AppendBool(b, x.Complete)
	field("acked")
	b = strconv.AppendBool(b, x.Acked)
	flag("response_close", x.ResponseClose)
	if x.KeepAliveS.Set {
		field("keep_alive_s")
		b = appendFloat(b, x.KeepAliveS.V)
	}
	flag("missing", x.Missing)
	return append(b, '}')
}

func (e *flowEncoder) appendEvents(b []byte, events []analyze.EventView) []byte {
	if events == nil {
		return append(b, "null"...)
	}
	b = append(b, '[')
	for i := range events {
		ev := &events[i]
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, `{"input":`...)
		b = appendInt(b, int64(ev.Input))
		b = append(b, `,"packet":`...)
		b = appendUint(b, uint64(ev.Packet))
		b = append(b, `,"time":`...)
		b = e.appendTS(b, ev.Time)
		b = append(b, `,"from":`...)
		b = appendString(b, ev.From)
		b = append(b, `,"flags":`...)
		b = appendString(b, ev.Flags)
		b = append(b, `,"seq":`...)
		b = appendUint(b, uint64(ev.Seq))
		b = append(b, `,"ack":`...)
		b = appendUint(b, uint64(ev.Ack))
		b = append(b, `,"len":`...)
		b = appendUint(b, uint64(ev.Len))
		if len(ev.Notes) > 0 {
			b = append(b, `,"notes":[`...)
			for j, n := range ev.Notes {
				if j > 0 {
					b = append(b, ',')
				}
				b = appendString(b, n)
			}
			b = append(b, ']')
		}
		b = append(b, `,"client_state":`...)
		b = appendString(b, ev.ClientState)
		b = append(b, `,"server_state":`...)
		b = appendString(b, ev.ServerState)
		b = append(b, '}')
	}
	return append(b, ']')
}

func (e *flowEncoder) appendEvidence(b []byte, ev []analyze.EvidenceView) []byte {
	if ev == nil {
		return append(b, "null"...)
	}
	b = append(b, '[')
	for i := range ev {
		x := &ev[i]
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, `{"input":`...)
		b = appendInt(b, int64(x.Input))
		b = append(b, `,"packet":`...)
		b = appendInt(b, int64(x.Packet))
		b = append(b, `,"time":`...)
		b = e.appendTS(b, x.Time)
		b = append(b, `,"what":`...)
		b = appendString(b, x.What)
		b = append(b, '}')
	}
	return append(b, ']')
}

func (e *flowEncoder) appendEnd(b []byte, h *analyze.EndView) []byte {
	b = append(b, `{"state":`...)
	b = appendString(b, h.State)
	if h.Since != 0 {
		b = append(b, `,"since":`...)
		b = e.appendTS(b, h.Since)
	}
	if h.Expired != "" {
		b = append(b, `,"expired":`...)
		b = appendString(b, h.Expired)
	}
	if h.HalfClosed {
		b = append(b, `,"half_closed":true`...)
	}
	for _, f := range [...]struct {
		name string
		v    uint64
	}{
		{"packets", h.Packets}, {"bytes", h.Bytes}, {"wire_bytes", h.WireBytes},
		{"retransmissions", uint64(h.Retransmits)}, {"rsts", uint64(h.RSTs)}, {"zero_windows", uint64(h.ZeroWindows)},
		{"keepalives", uint64(h.KeepAlives)}, {"window_probes", uint64(h.WindowProbes)},
	} {
		b = append(b, ',', '"')
		b = append(b, f.name...)
		b = append(b, '"', ':')
		b = appendUint(b, f.v)
	}
	if h.MSS != 0 {
		b = append(b, `,"mss":`...)
		b = appendUint(b, uint64(h.MSS))
	}
	if h.WScale.Set {
		b = append(b, `,"wscale":`...)
		b = appendInt(b, int64(h.WScale.V))
	}
	if h.First != 0 {
		b = append(b, `,"first":`...)
		b = e.appendTS(b, h.First)
	}
	if h.Last != 0 {
		b = append(b, `,"last":`...)
		b = e.appendTS(b, h.Last)
	}
	if h.LastPayload != (analyze.Ref{}) {
		b = append(b, `,"last_payload":`...)
		b = e.appendRef(b, &h.LastPayload)
	}
	if h.FIN != (analyze.Ref{}) {
		b = append(b, `,"fin":`...)
		b = e.appendRef(b, &h.FIN)
	}
	return append(b, '}')
}

func (e *flowEncoder) appendRef(b []byte, r *analyze.Ref) []byte {
	b = append(b, `{"input":`...)
	b = appendInt(b, int64(r.Input))
	b = append(b, `,"packet":`...)
	b = appendUint(b, uint64(r.Packet))
	b = append(b, `,"time":`...)
	b = e.appendTS(b, r.Time)
	return append(b, '}')
}

func appendEndpoint(b []byte, a analyze.Endpoint) []byte {
	b = append(b, `{"ip":"`...)
	b = a.IP.AppendTo(b)
	b = append(b, `","port":`...)
	b = appendUint(b, uint64(a.Port))
	return append(b, '}')
}

func appendBoolField(b []byte, name string, v bool) []byte {
	b = append(b, ',', '"')
	b = append(b, name...)
	b = append(b, '"', ':')
	return strconv.AppendBool(b, v)
}

// appendFloat formats like encoding/json.
func appendFloat(b []byte, f float64) []byte {
	abs := f
	if abs < 0 {
		abs = -abs
	}
	format := byte('f')
	if abs != 0 && (abs < 1e-6 || abs >= 1e21) {
		format = 'e'
	}
	b = strconv.AppendFloat(b, f, format, -1, 64)
	if format == 'e' {
		// clean up e-09 to e-9, as encoding/json does
		n := len(b)
		if n >= 4 && b[n-4] == 'e' && b[n-3] == '-' && b[n-2] == '0' {
			b[n-2] = b[n-1]
			b = b[:n-1]
		}
	}
	return b
}

// jsonSafe marks the bytes a JSON string holds as they are: printable
// ASCII but the quote, the backslash and HTML's <, > and &.
var jsonSafe = func() (t [256]bool) {
	for c := 0x20; c < utf8.RuneSelf; c++ {
		t[c] = c != '"' && c != '\\' && c != '<' && c != '>' && c != '&'
	}
	return t
}()

// appendString appends s as a JSON string, escaped as encoding/json
// escapes it (HTML characters included).
func appendString(b []byte, s string) []byte {
	const hex = "0123456789abcdef"
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if jsonSafe[c] {
			i++
			continue
		}
		if c < utf8.RuneSelf {
			b = append(b, s[start:i]...)
			switch c {
			case '"', '\\':
				b = append(b, '\\', c)
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				b = append(b, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 || r == '\u2028' || r == '\u2029' {
			b = append(b, s[start:i]...)
			if r == utf8.RuneError {
				b = append(b, `\ufffd`...)
			} else {
				b = append(b, '\\', 'u', '2', '0', '2', hex[r&0xf])
			}
			i += size
			start = i
			continue
		}
		i += size
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}

// appendSocket encodes a side's kernel socket.
func appendSocket(b []byte, s *analyze.SocketView) []byte {
	b = append(b, `{"state":`...)
	b = appendString(b, s.State)
	if s.PID != 0 {
		b = append(b, `,"pid":`...)
		b = appendInt(b, int64(s.PID))
	}
	if s.Command != "" {
		b = append(b, `,"command":`...)
		b = appendString(b, s.Command)
	}
	b = append(b, `,"rx_queue":`...)
	b = appendUint(b, uint64(s.RxQueue))
	b = append(b, `,"tx_queue":`...)
	b = appendUint(b, uint64(s.TxQueue))
	if s.Timer != "" {
		b = append(b, `,"timer":`...)
		b = appendString(b, s.Timer)
	}
	return append(b, '}')
}
