package report

import (
	"net/netip"
	"strconv"
	"time"
	"unicode/utf8"

	"github.com/flowdoc/flowdoc/analyze"
)

// appendFlow appends one flow as compact JSON, exactly as encoding/json
// would encode jsonFlow (TestAppendFlowMatchesEncodingJSON holds it to
// that).
func appendFlow(b []byte, f *analyze.Flow, events bool) []byte {
	r := f.Record
	b = append(b, `{"id":`...)
	b = strconv.AppendInt(b, int64(r.ID), 10)
	b = append(b, `,"client":`...)
	b = appendEndpoint(b, r.Key.Client)
	b = append(b, `,"server":`...)
	b = appendEndpoint(b, r.Key.Server)
	b = appendBoolField(b, "roles_inferred", r.RolesInferred)
	b = appendBoolField(b, "midstream", r.Midstream)
	b = appendBoolField(b, "one_sided", r.OneSided)
	b = appendBoolField(b, "reused", r.Reused)
	b = append(b, `,"first":`...)
	b = appendTime(b, r.First.Time())
	b = append(b, `,"last":`...)
	b = appendTime(b, r.Last.Time())
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
	b = appendEnd(b, &r.Client)
	b = append(b, `,"server":`...)
	b = appendEnd(b, &r.Server)
	b = append(b, '}')
	if events {
		b = appendEvents(b, r.Events)
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
		b = appendString(b, v.Class)
		b = append(b, `,"side":`...)
		b = appendString(b, v.Side.String())
		b = append(b, `,"severity":`...)
		b = appendString(b, v.Severity)
		b = append(b, `,"confidence":`...)
		b = appendFloat(b, v.Confidence)
		b = append(b, `,"summary":`...)
		b = appendString(b, v.Summary)
		b = append(b, `,"evidence":`...)
		b = appendEvidence(b, v.Evidence)
		b = append(b, '}')
	}
	return append(b, "]}"...)
}

func appendEvents(b []byte, events []analyze.Event) []byte {
	b = append(b, `,"events":[`...)
	for i, e := range events {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, `{"input":`...)
		b = strconv.AppendInt(b, int64(e.Input), 10)
		b = append(b, `,"packet":`...)
		b = strconv.AppendUint(b, uint64(e.Packet), 10)
		b = append(b, `,"time":`...)
		b = appendTime(b, e.At.Time())
		b = append(b, `,"from":`...)
		b = appendString(b, e.From.String())
		b = append(b, `,"flags":`...)
		b = appendString(b, e.Flags.String())
		b = append(b, `,"seq":`...)
		b = strconv.AppendUint(b, uint64(e.Seq), 10)
		b = append(b, `,"ack":`...)
		b = strconv.AppendUint(b, uint64(e.Ack), 10)
		b = append(b, `,"len":`...)
		b = strconv.AppendUint(b, uint64(e.Len), 10)
		if names := e.Note.Names(); len(names) > 0 {
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
		b = appendString(b, e.ClientState.String())
		b = append(b, `,"server_state":`...)
		b = appendString(b, e.ServerState.String())
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

func appendEnd(b []byte, h *analyze.Half) []byte {
	b = append(b, `{"state":`...)
	b = appendString(b, h.State.String())
	if !h.Since.IsZero() {
		b = append(b, `,"since":`...)
		b = appendTime(b, h.Since.Time())
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
		b = appendTime(b, h.FirstPacket.Time())
	}
	if !h.LastPacket.IsZero() {
		b = append(b, `,"last":`...)
		b = appendTime(b, h.LastPacket.Time())
	}
	if h.LastPayloadPacket > 0 {
		b = append(b, `,"last_payload":`...)
		b = appendRef(b, int(h.LastPayloadInput), h.LastPayloadPacket, h.LastPayload.Time())
	}
	if h.FinPacket > 0 {
		b = append(b, `,"fin":`...)
		b = appendRef(b, int(h.FinInput), h.FinPacket, h.FinAt.Time())
	}
	return append(b, '}')
}

func appendRef(b []byte, input int, packet uint32, t time.Time) []byte {
	b = append(b, `{"input":`...)
	b = strconv.AppendInt(b, int64(input), 10)
	b = append(b, `,"packet":`...)
	b = strconv.AppendUint(b, uint64(packet), 10)
	b = append(b, `,"time":`...)
	b = appendTime(b, t)
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

// appendTime appends t as encoding/json's string of ts(t).
func appendTime(b []byte, t time.Time) []byte {
	if t.IsZero() {
		return append(b, `""`...)
	}
	b = append(b, '"')
	b = t.UTC().AppendFormat(b, time.RFC3339Nano)
	return append(b, '"')
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
