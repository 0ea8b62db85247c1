package report

import (
	"net/netip"
	"strconv"
	"time"
	"unicode/utf8"

	"github.com/flowdoc/flowdoc/analyze"
)

// flowEncoder appends flows as compact JSON, exactly as encoding/json
// would encode jsonFlow (TestAppendFlowMatchesEncodingJSON holds it to
// that). It remembers the last day it formatted: a capture's timestamps
// mostly fall on the same day.
type flowEncoder struct {
	day     int64  // since the Unix epoch
	prefix  []byte // "2006-01-02T" of day
	payload analyze.PayloadBuffer
}

// appendTS appends a capture timestamp as encoding/json would the
// string of ts(t): RFC 3339 with the fraction trimmed, "" for none.
func (e *flowEncoder) appendTS(b []byte, ts flowTS) []byte {
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
		// ".123456789" with trailing zeros trimmed: format 1e9+frac and
		// replace its leading 1.
		n := len(b)
		b = strconv.AppendInt(b, 1e9+frac, 10)
		b[n] = '.'
		for b[len(b)-1] == '0' {
			b = b[:len(b)-1]
		}
	}
	return append(b, 'Z', '"')
}

func (e *flowEncoder) appendFlow(b []byte, f *analyze.Flow, events bool) []byte {
	r := f.Record
	b = append(b, `{"id":`...)
	b = strconv.AppendInt(b, int64(r.ID), 10)
	b = append(b, `,"client":`...)
	b = appendEndpoint(b, r.Key.Client())
	b = append(b, `,"server":`...)
	b = appendEndpoint(b, r.Key.Server())
	b = appendBoolField(b, "roles_inferred", r.RolesInferred)
	b = appendBoolField(b, "midstream", r.Midstream)
	b = appendBoolField(b, "one_sided", r.OneSided)
	b = appendBoolField(b, "reused", r.Reused)
	b = append(b, `,"first":`...)
	b = e.appendTS(b, r.First)
	b = append(b, `,"last":`...)
	b = e.appendTS(b, r.Last)
	b = append(b, `,"duration_s":`...)
	b = appendFloat(b, r.Duration().Seconds())
	b = append(b, `,"packets":{"client":`...)
	b = strconv.AppendUint(b, r.Client.Packets, 10)
	b = append(b, `,"server":`...)
	b = strconv.AppendUint(b, r.Server.Packets, 10)
	b = append(b, `},"bytes":{"client":`...)
	b = strconv.AppendUint(b, r.Client.Bytes, 10)
	b = append(b, `,"server":`...)
	b = strconv.AppendUint(b, r.Server.Bytes, 10)
	b = append(b, `},"client_state":`...)
	b = appendString(b, r.Client.State.String())
	b = append(b, `,"server_state":`...)
	b = appendString(b, r.Server.State.String())
	b = append(b, `,"history":`...)
	b = appendString(b, r.History)
	b = append(b, `,"ends":{"client":`...)
	b = e.appendEnd(b, &r.Client)
	b = append(b, `,"server":`...)
	b = e.appendEnd(b, &r.Server)
	b = append(b, '}')
	if k := f.Kernel; k != nil && (k.Known[analyze.Client] || k.Known[analyze.Server]) {
		b = append(b, `,"kernel":{`...)
		if k.Known[analyze.Client] {
			b = append(b, `"client":`...)
			b = appendSocket(b, k.Sockets[analyze.Client])
		}
		if k.Known[analyze.Server] {
			if k.Known[analyze.Client] {
				b = append(b, ',')
			}
			b = append(b, `"server":`...)
			b = appendSocket(b, k.Sockets[analyze.Server])
		}
		b = append(b, '}')
	}
	if p := r.ReadPayload(&e.payload); p != nil {
		b = e.appendPayload(b, p)
	}
	if events {
		b = e.appendEvents(b, r.Events)
	}
	if r.EventsDropped > 0 && events {
		b = append(b, `,"events_dropped":`...)
		b = strconv.AppendInt(b, int64(r.EventsDropped), 10)
	}
	b = append(b, `,"verdicts":[`...)
	for i, v := range f.Verdicts {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, `{"class":`...)
		b = appendString(b, string(v.Class))
		b = append(b, `,"side":`...)
		b = appendString(b, v.Side.String())
		b = append(b, `,"severity":`...)
		b = appendString(b, v.Severity.String())
		b = append(b, `,"confidence":`...)
		b = appendFloat(b, v.Confidence)
		if !v.Since.IsZero() {
			b = append(b, `,"since":`...)
			b = e.appendTS(b, flowTS(v.Since.UnixNano()))
			b = append(b, `,"age_s":`...)
			b = appendFloat(b, v.Age.Seconds())
		}
		b = append(b, `,"summary":`...)
		b = appendString(b, v.Summary)
		b = append(b, `,"evidence":`...)
		b = appendEvidence(b, v.Evidence)
		b = append(b, '}')
	}
	return append(b, "]}"...)
}

// appendPayload appends a flow's "payload", "http" and "tls" fields.
func (e *flowEncoder) appendPayload(b []byte, p *analyze.Payload) []byte {
	b = append(b, `,"payload":{`...)
	n := len(b)
	if p.Protocol != "" {
		b = append(b, `"protocol":`...)
		b = appendString(b, p.Protocol)
	}
	gaps := 0
	for s := analyze.Client; s <= analyze.Server; s++ {
		if p.Missing[s] == 0 && p.Truncated[s] == 0 {
			continue
		}
		switch {
		case gaps > 0:
			b = append(b, ',')
		case len(b) > n:
			b = append(b, `,"gaps":[`...)
		default:
			b = append(b, `"gaps":[`...)
		}
		gaps++
		b = append(b, `{"side":`...)
		b = appendString(b, s.String())
		b = append(b, `,"missing_bytes":`...)
		b = strconv.AppendUint(b, p.Missing[s], 10)
		if p.MissingPacket[s] > 0 {
			b = append(b, `,"packet":`...)
			b = strconv.AppendUint(b, uint64(p.MissingPacket[s]), 10)
		}
		if p.Limited[s] {
			b = append(b, `,"buffer_limited":true`...)
		}
		if p.Truncated[s] > 0 {
			b = append(b, `,"truncated":{"packet":`...)
			b = strconv.AppendUint(b, uint64(p.Truncated[s]), 10)
			b = append(b, '}')
		}
		b = append(b, '}')
	}
	if gaps > 0 {
		b = append(b, ']')
	}
	b = append(b, '}')
	if h := p.HTTP; h != nil {
		b = append(b, `,"http":{"requests":`...)
		b = strconv.AppendInt(b, int64(h.Requests), 10)
		b = append(b, `,"responses":`...)
		b = strconv.AppendInt(b, int64(h.Responses), 10)
		if h.Earlier > 0 {
			b = append(b, `,"earlier_exchanges":`...)
			b = strconv.AppendInt(b, int64(h.Earlier), 10)
		}
		if h.KeepAlive > 0 {
			b = append(b, `,"keep_alive_timeout_s":`...)
			b = appendFloat(b, h.KeepAlive.Seconds())
		}
		if l := h.LastResponse(); l != nil {
			b = append(b, `,"last_status":`...)
			b = strconv.AppendInt(b, int64(l.Status), 10)
		}
		if h.Upgraded {
			b = append(b, `,"upgraded":true`...)
		}
		if h.Error != "" {
			b = append(b, `,"error":`...)
			b = appendString(b, h.Error)
		}
		b = append(b, `,"exchanges":[`...)
		for i := range h.Exchanges {
			if i > 0 {
				b = append(b, ',')
			}
			b = e.appendExchange(b, &h.Exchanges[i])
		}
		b = append(b, "]}"...)
	}
	if t := p.TLS; t != nil {
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
		b = append(b, '}')
	}
	return b
}

func (e *flowEncoder) appendExchange(b []byte, x *analyze.Exchange) []byte {
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
	str("method", x.Method)
	str("target", x.Target)
	flag("malformed", x.Malformed())
	str("version", x.Version)
	if x.RequestPacket > 0 {
		field("request")
		b = e.appendRef(b, int(x.RequestInput), x.RequestPacket, x.RequestAt)
	}
	flag("request_close", x.RequestClose)
	flag("continue", x.Continue)
	if x.Status != 0 {
		field("status")
		b = strconv.AppendInt(b, int64(x.Status), 10)
	}
	str("reason", x.Reason)
	if x.ResponsePacket > 0 {
		field("response")
		b = e.appendRef(b, int(x.ResponseInput), x.ResponsePacket, x.ResponseAt)
	}
	if x.ResponseEnd != 0 {
		field("response_end")
		b = e.appendTS(b, x.ResponseEnd)
	}
	if x.ContentLength >= 0 && x.Status != 0 {
		field("content_length")
		b = strconv.AppendInt(b, x.ContentLength, 10)
	}
	flag("chunked", x.Chunked)
	field("body_bytes")
	b = strconv.AppendInt(b, x.BodyBytes, 10)
	field("complete")
	b = strconv.AppendBool(b, x.Complete)
	field("acked")
	b = strconv.AppendBool(b, x.Acked)
	flag("response_close", x.ResponseClose)
	if x.KeepAlive > 0 {
		field("keep_alive_s")
		b = appendFloat(b, x.KeepAlive.Seconds())
	}
	flag("missing", x.Missing)
	return append(b, '}')
}

func (e *flowEncoder) appendEvents(b []byte, events []analyze.Event) []byte {
	b = append(b, `,"events":[`...)
	for i, ev := range events {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, `{"input":`...)
		b = strconv.AppendInt(b, int64(ev.Input), 10)
		b = append(b, `,"packet":`...)
		b = strconv.AppendUint(b, uint64(ev.Packet), 10)
		b = append(b, `,"time":`...)
		b = e.appendTS(b, ev.At)
		b = append(b, `,"from":`...)
		b = appendString(b, ev.From.String())
		b = append(b, `,"flags":`...)
		b = appendString(b, ev.Flags.String())
		b = append(b, `,"seq":`...)
		b = strconv.AppendUint(b, uint64(ev.Seq), 10)
		b = append(b, `,"ack":`...)
		b = strconv.AppendUint(b, uint64(ev.Ack), 10)
		b = append(b, `,"len":`...)
		b = strconv.AppendUint(b, uint64(ev.Len), 10)
		if names := ev.Note.Names(); len(names) > 0 {
			b = append(b, `,"notes":[`...)
			for j, n := range names {
				if j > 0 {
					b = append(b, ',')
				}
				b = appendString(b, n)
			}
			b = append(b, ']')
		}
		b = append(b, `,"client_state":`...)
		b = appendString(b, ev.ClientState.String())
		b = append(b, `,"server_state":`...)
		b = appendString(b, ev.ServerState.String())
		b = append(b, '}')
	}
	return append(b, ']')
}

func appendEvidence(b []byte, ev []analyze.Evidence) []byte {
	b = append(b, '[')
	for i, e := range ev {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, `{"input":`...)
		b = strconv.AppendInt(b, int64(e.Input), 10)
		b = append(b, `,"packet":`...)
		b = strconv.AppendInt(b, int64(e.Packet), 10)
		b = append(b, `,"time":`...)
		b = appendString(b, ts(e.At))
		b = append(b, `,"what":`...)
		b = appendString(b, e.What)
		b = append(b, '}')
	}
	return append(b, ']')
}

func (e *flowEncoder) appendEnd(b []byte, h *analyze.Half) []byte {
	b = append(b, `{"state":`...)
	b = appendString(b, h.State.String())
	if !h.Since.IsZero() {
		b = append(b, `,"since":`...)
		b = e.appendTS(b, h.Since)
	}
	if h.Expired != 0 {
		b = append(b, `,"expired":`...)
		b = appendString(b, h.Expired.String())
	}
	if h.HalfClosed {
		b = append(b, `,"half_closed":true`...)
	}
	for _, f := range []struct {
		name string
		v    uint64
	}{
		{"packets", h.Packets}, {"bytes", h.Bytes}, {"wire_bytes", h.WireBytes},
		{"retransmissions", uint64(h.Retrans)}, {"rsts", uint64(h.RSTs)}, {"zero_windows", uint64(h.ZeroWindows)},
		{"keepalives", uint64(h.KeepAlives)}, {"window_probes", uint64(h.WinProbes)},
	} {
		b = append(b, ',', '"')
		b = append(b, f.name...)
		b = append(b, '"', ':')
		b = strconv.AppendUint(b, f.v, 10)
	}
	if h.MSS != 0 {
		b = append(b, `,"mss":`...)
		b = strconv.AppendUint(b, uint64(h.MSS), 10)
	}
	if h.WScale >= 0 {
		b = append(b, `,"wscale":`...)
		b = strconv.AppendInt(b, int64(h.WScale), 10)
	}
	if !h.FirstPacket.IsZero() {
		b = append(b, `,"first":`...)
		b = e.appendTS(b, h.FirstPacket)
	}
	if !h.LastPacket.IsZero() {
		b = append(b, `,"last":`...)
		b = e.appendTS(b, h.LastPacket)
	}
	if h.LastPayloadPacket > 0 {
		b = append(b, `,"last_payload":`...)
		b = e.appendRef(b, int(h.LastPayloadInput), h.LastPayloadPacket, h.LastPayload)
	}
	if h.FinPacket > 0 {
		b = append(b, `,"fin":`...)
		b = e.appendRef(b, int(h.FinInput), h.FinPacket, h.FinAt)
	}
	return append(b, '}')
}

func (e *flowEncoder) appendRef(b []byte, input int, packet uint32, t flowTS) []byte {
	b = append(b, `{"input":`...)
	b = strconv.AppendInt(b, int64(input), 10)
	b = append(b, `,"packet":`...)
	b = strconv.AppendUint(b, uint64(packet), 10)
	b = append(b, `,"time":`...)
	b = e.appendTS(b, t)
	return append(b, '}')
}

func appendEndpoint(b []byte, a netip.AddrPort) []byte {
	b = append(b, `{"ip":"`...)
	b = a.Addr().Unmap().AppendTo(b)
	b = append(b, `","port":`...)
	b = strconv.AppendUint(b, uint64(a.Port()), 10)
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

// appendString appends s as a JSON string, escaped as encoding/json
// escapes it (HTML characters included).
func appendString(b []byte, s string) []byte {
	const hex = "0123456789abcdef"
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' && c != '<' && c != '>' && c != '&' {
				i++
				continue
			}
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

// flowTS is a capture timestamp as records hold it.
type flowTS = analyze.Timestamp

// appendSocket encodes a side's kernel socket as the reference schema's
// jsonSocket (jsonref_test.go) does.
func appendSocket(b []byte, s *analyze.Socket) []byte {
	if s == nil {
		return append(b, `{"state":"CLOSED","rx_queue":0,"tx_queue":0}`...)
	}
	b = append(b, `{"state":`...)
	b = appendString(b, s.State.String())
	if s.PID != 0 {
		b = append(b, `,"pid":`...)
		b = strconv.AppendInt(b, int64(s.PID), 10)
	}
	if s.Command != "" {
		b = append(b, `,"command":`...)
		b = appendString(b, s.Command)
	}
	b = append(b, `,"rx_queue":`...)
	b = strconv.AppendUint(b, uint64(s.RxQueue), 10)
	b = append(b, `,"tx_queue":`...)
	b = strconv.AppendUint(b, uint64(s.TxQueue), 10)
	if s.Timer != "" {
		b = append(b, `,"timer":`...)
		b = appendString(b, s.Timer)
	}
	return append(b, '}')
}
