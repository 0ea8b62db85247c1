// Package report lays out an *analyze.Report in the formats people read
// and tools load: a terminal report and JSON. Renderers neither sort nor
// compute: the order and every figure come from the analyze package.
package report

import (
	"cmp"
	"fmt"
	"io"
	"path/filepath"
	"strings"

	"github.com/flowdoc/flowdoc/analyze"
)

// Renderer writes a report in one format.
type Renderer interface {
	Render(w io.Writer, rep *analyze.Report) error
}

// Formats lists the names New accepts.
var Formats = []string{"text", "json", "jsonl", "csv", "md", "html", "zeek"}

// Options are the choices a renderer may honour.
type Options struct {
	// All lists every flow in the text report, not only those that did
	// not close cleanly.
	All bool
	// Events adds each flow's notable packets to the JSON report.
	Events bool
	// Color and Width are the terminal's, for the text report (see Text).
	Color bool
	Width int
}

// New returns the renderer for format.
func New(format string, opt Options) (Renderer, error) {
	switch format {
	case "text", "":
		return &Text{All: opt.All, Color: opt.Color, Width: opt.Width}, nil
	case "json":
		return &JSON{Events: opt.Events}, nil
	case "jsonl":
		return &JSONLines{Events: opt.Events}, nil
	case "csv":
		return CSV{}, nil
	case "md", "markdown":
		return &Markdown{}, nil
	case "html":
		return &HTML{}, nil
	case "zeek":
		return Zeek{}, nil
	}
	return nil, fmt.Errorf("unknown format %q (want one of %v)", format, Formats)
}

// stateColumns lists the states some host is in, in order: the columns
// of an endpoint-state table.
func stateColumns(rep *analyze.Report) []analyze.State {
	var cols []analyze.State
	for _, s := range analyze.States() {
		for _, h := range rep.Hosts {
			if h.Count(s) > 0 {
				cols = append(cols, s)
				break
			}
		}
	}
	return cols
}

// inputDetail describes an input as read: "pcap EN10MB, 68 packets, 54
// TCP, 2026-01-02 03:04:05.000 to 03:04:11.000 (6.0 s)", the times with
// zone appended (" UTC" where the reader cannot assume it).
func inputDetail(in *analyze.Input, zone string) string {
	if in.Format == "" {
		return "not read (see the warnings)"
	}
	s := in.Format
	if len(in.LinkTypes) > 0 {
		s += " " + strings.Join(in.LinkTypes, "+")
	}
	s += fmt.Sprintf(", %d packets, %d TCP", in.Packets, in.TCPPackets)
	if !in.First.IsZero() {
		s += fmt.Sprintf(", %s to %s%s (%s)", in.First.UTC().Format("2006-01-02 15:04:05.000"),
			in.Last.UTC().Format("15:04:05.000"), zone, dur(in.Last.Sub(in.First)))
	}
	return s
}

// evidencePacket spells an evidence packet's number, with its input's
// file name (through name) when there are several inputs.
func evidencePacket(rep *analyze.Report, e analyze.Evidence, name func(string) string) string {
	pkt := fmt.Sprint(e.Packet)
	if len(rep.Inputs) > 1 && e.Input < len(rep.Inputs) {
		pkt = name(filepath.Base(rep.Inputs[e.Input].Path)) + " #" + pkt
	}
	return pkt
}

// verdictNames lists a flow's verdicts as class(side), most severe first.
func verdictNames(f *analyze.Flow) []string {
	vs := make([]string, 0, len(f.Verdicts))
	for _, v := range f.Verdicts {
		vs = append(vs, string(v.Class)+"("+v.Side.String()+")")
	}
	return vs
}

// scopeOf spells what a finding is about: its hosts, then its endpoints.
func scopeOf(f *analyze.Finding) []string {
	var scope []string
	for _, h := range f.Hosts {
		scope = append(scope, h.Unmap().String())
	}
	for _, e := range f.Endpoints {
		scope = append(scope, e.String())
	}
	return scope
}

// payloadNote sums up what was read in a flow's payload: the last HTTP
// exchange ("GET /upload -> 404 Not Found"), the TLS server name, and
// bytes the capture missed.
func payloadNote(p *analyze.Payload) string {
	if p == nil {
		return ""
	}
	var n []string
	switch {
	case p.HTTP != nil:
		h := p.HTTP
		if x := h.Last(); x != nil {
			s := "http " + exchangeText(x)
			if h.Requests > 1 {
				s += fmt.Sprintf(" (last of %d requests)", h.Requests)
			}
			n = append(n, s)
		} else {
			n = append(n, "http")
		}
	case p.TLS != nil:
		s := "tls"
		if p.TLS.ServerName != "" {
			s += " " + p.TLS.ServerName
		}
		n = append(n, s)
	}
	for s := analyze.Client; s <= analyze.Server; s++ {
		if p.Truncated[s] > 0 {
			n = append(n, fmt.Sprintf("%s payload cut by the snap length", s))
		} else if p.Missing[s] > 0 {
			n = append(n, fmt.Sprintf("%s stream: %s not captured", s, plural(int(p.Missing[s]), "byte")))
		}
	}
	return strings.Join(n, ", ")
}

// exchangeText is "GET /upload -> 404 Not Found", or "GET / -> no
// response".
func exchangeText(x *analyze.Exchange) string {
	req := cmp.Or(x.RequestLine(), "(request not captured)")
	if x.Malformed() {
		req = fmt.Sprintf("(malformed request %q)", x.Target)
	}
	return req + " -> " + cmp.Or(x.StatusLine(), "no response")
}
