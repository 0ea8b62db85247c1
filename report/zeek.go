package report

import (
	"bufio"
	"encoding/binary"
	"hash/fnv"
	"io"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/flowdoc/flowdoc/analyze"
)

// zeekFields are Zeek's conn.log columns, then flowdoc's own.
var zeekFields = []struct{ name, typ string }{
	{"ts", "time"}, {"uid", "string"},
	{"id.orig_h", "addr"}, {"id.orig_p", "port"}, {"id.resp_h", "addr"}, {"id.resp_p", "port"},
	{"proto", "enum"}, {"service", "string"}, {"duration", "interval"},
	{"orig_bytes", "count"}, {"resp_bytes", "count"}, {"conn_state", "string"},
	{"local_orig", "bool"}, {"local_resp", "bool"}, {"missed_bytes", "count"}, {"history", "string"},
	{"orig_pkts", "count"}, {"orig_ip_bytes", "count"}, {"resp_pkts", "count"}, {"resp_ip_bytes", "count"},
	{"tunnel_parents", "set[string]"},
	{"flowdoc_id", "count"}, {"flowdoc_client_state", "string"}, {"flowdoc_server_state", "string"},
	{"flowdoc_severity", "string"}, {"flowdoc_verdicts", "set[string]"},
}

// Zeek writes a Zeek-style conn.log: tab-separated, with Zeek's header
// lines, one line per flow. conn_state and history are as Zeek defines
// them (the originator is the client); flowdoc's endpoint states and
// verdicts follow in columns named flowdoc_*. Tools that read conn.log
// (zeek-cut, log shippers) load it as it is.
//
// service is "http" or "ssl" (Zeek's name for TLS) when the payload was
// recognised (unset with --no-payload). orig_bytes and resp_bytes go by
// sequence numbers, holes included; missed_bytes counts the bytes of both
// streams the capture does not hold. duration ends when both endpoints
// had closed. local_orig and
// local_resp are set only when the capture recorded packet directions.
// #open and #close carry the capture's first and last packet times, not
// the time the file was written, so the output is the same every run.
type Zeek struct{}

const zeekTime = "2006-01-02-15-04-05"

// Render implements Renderer.
func (Zeek) Render(w io.Writer, rep *analyze.Report) error {
	bw := bufio.NewWriterSize(w, 1<<16)
	first, last := captureSpan(rep)
	bw.WriteString("#separator \\x09\n#set_separator\t,\n#empty_field\t(empty)\n#unset_field\t-\n#path\tconn\n")
	bw.WriteString("#open\t" + first.Format(zeekTime) + "\n#fields")
	for _, f := range zeekFields {
		bw.WriteString("\t" + f.name)
	}
	bw.WriteString("\n#types")
	for _, f := range zeekFields {
		bw.WriteString("\t" + f.typ)
	}
	bw.WriteByte('\n')

	local := func(a netip.AddrPort) string {
		if len(rep.LocalAddrs) == 0 {
			return "-"
		}
		return zeekBool(slices.Contains(rep.LocalAddrs, a.Addr()))
	}
	var line []byte
	var v analyze.FlowView
	for i := range rep.Flows {
		rep.ViewFlow(i, &v, false)
		line = appendZeekLine(line[:0], &v, local)
		if _, err := bw.Write(line); err != nil {
			return err
		}
	}
	bw.WriteString("#close\t" + last.Format(zeekTime) + "\n")
	return bw.Flush()
}

// appendZeekLine appends the conn.log line of flow v; local spells
// whether an endpoint is the capturing host's.
func appendZeekLine(line []byte, v *analyze.FlowView, local func(netip.AddrPort) string) []byte {
	tab := func(s string) { line = append(append(line, '\t'), s...) }
	count := func(n uint64) { line = strconv.AppendUint(append(line, '\t'), n, 10) }

	line = append(line, zeekTS(v.First.Time())...)
	tab(zeekUID(v))
	tab(v.Client.IP.String())
	count(uint64(v.Client.Port))
	tab(v.Server.IP.String())
	count(uint64(v.Server.Port))
	tab("tcp")
	tab(zeekService(&v.Payload))
	// Zeek leaves duration and the byte counts unset for a connection
	// of a single instant.
	if d := v.ZeekDuration(); d > 0 {
		tab(strconv.FormatFloat(d.Seconds(), 'f', 6, 64))
		count(v.Bytes.Client)
		count(v.Bytes.Server)
	} else {
		tab("-")
		tab("-")
		tab("-")
	}
	tab(v.ZeekConnState())
	tab(local(v.Client.AddrPort()))
	tab(local(v.Server.AddrPort()))
	count(v.Ends.Client.Missed + v.Ends.Server.Missed)
	tab(zeekString(v.History))
	count(v.Packets.Client)
	count(v.Ends.Client.IPBytes)
	count(v.Packets.Server)
	count(v.Ends.Server.IPBytes)
	tab("-")

	count(uint64(v.ID))
	tab(v.ClientState)
	tab(v.ServerState)
	if sev, ok := v.Severity(); ok {
		tab(sev.String())
		tab(strings.Join(v.VerdictNames(), ","))
	} else {
		tab("-")
		tab("(empty)")
	}
	return append(line, '\n')
}

// zeekService names a recognised protocol as Zeek's service column does.
func zeekService(p *analyze.PayloadView) string {
	switch {
	case p.Protocol == "":
		return "-"
	case p.Protocol == "tls":
		return "ssl"
	}
	return p.Protocol
}

// captureSpan returns the first and last packet times over all inputs.
func captureSpan(rep *analyze.Report) (first, last time.Time) {
	for _, in := range rep.Inputs {
		if !in.First.IsZero() && (first.IsZero() || in.First.Before(first)) {
			first = in.First
		}
		if in.Last.After(last) {
			last = in.Last
		}
	}
	if first.IsZero() {
		first = rep.End
	}
	if last.IsZero() {
		last = rep.End
	}
	return first.UTC(), last.UTC()
}

// zeekTS spells t as Zeek's time type: Unix seconds, 6 decimals.
func zeekTS(t time.Time) string {
	ns := t.UnixNano()
	return strconv.FormatInt(ns/1e9, 10) + "." + strconv.FormatInt(1e6+ns%1e9/1e3, 10)[1:]
}

// zeekUID makes a Zeek-looking connection uid ("C" and base62) from the
// flow's identity, the same on every run.
func zeekUID(v *analyze.FlowView) string {
	h := fnv.New64a()
	var b [8]byte
	h.Write(v.Client.AddrPort().Addr().AsSlice())
	h.Write(v.Server.AddrPort().Addr().AsSlice())
	binary.LittleEndian.PutUint64(b[:], uint64(v.Client.Port)<<16|uint64(v.Server.Port))
	h.Write(b[:])
	binary.LittleEndian.PutUint64(b[:], uint64(v.First))
	h.Write(b[:])
	binary.LittleEndian.PutUint64(b[:], uint64(v.ID))
	h.Write(b[:])
	const digits = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
	uid := []byte("C")
	for n, i := h.Sum64(), 0; i < 11; i++ {
		uid = append(uid, digits[n%62])
		n /= 62
	}
	return string(uid)
}

func zeekBool(b bool) string {
	if b {
		return "T"
	}
	return "F"
}

// zeekString escapes what Zeek escapes in a string field: the separators
// and bytes that are not printable ASCII, as \xNN.
func zeekString(s string) string {
	if s == "" {
		return "(empty)"
	}
	if strings.IndexFunc(s, func(c rune) bool { return c < 0x20 || c > 0x7e || c == ',' || c == '\\' }) < 0 {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < 0x20 || c > 0x7e || c == ',' || c == '\\' {
			b.WriteString(`\x`)
			b.WriteByte("0123456789abcdef"[c>>4])
			b.WriteByte("0123456789abcdef"[c&15])
			continue
		}
		b.WriteByte(c)
	}
	return b.String()
}
