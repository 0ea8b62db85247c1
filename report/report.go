// Package report lays out an *analyze.Report in the formats people read
// and tools load: the terminal report (Text), JSON and JSON Lines, CSV,
// Markdown, a self-contained HTML page, Zeek's conn.log, and the compact
// view flowdoc live refreshes. New returns the renderer of a format.
//
// It imports package analyze alone, where everything a report shows is
// computed: each flow as an analyze.FlowView (Report.ViewFlow), whose json
// tags are the flowdoc/v1 schema of a flow and whose methods give its
// notes and colours; which flows a table lists (Report.Listed); the
// headline (Totals.Summary); the endpoint states per host
// (Report.StateTable); the rows of the HTML timeline and ladder diagrams
// (Report.Timeline, Report.FindingLadders). A renderer chooses words,
// columns, colours and coordinates; it neither sorts nor decides anything
// about TCP.
//
// A flow's JSON is written by a hand-written encoder (jsonflow.go), which
// a report of millions of flows spends most of its time in; a test holds
// it to encoding/json's encoding of FlowView, field by field.
package report

import (
	"fmt"
	"io"
	"path/filepath"
	"strings"
	"time"

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
	if len(in.Encapsulations) > 0 {
		s += " (in " + strings.Join(in.Encapsulations, ", ") + ")"
	}
	if in.OptionsCut > 0 {
		s += fmt.Sprintf(", %d with TCP options cut by the snap length", in.OptionsCut)
	}
	if in.Duplicates > 0 {
		s += fmt.Sprintf(", %d captured twice", in.Duplicates)
	}
	if in.Elsewhere > 0 {
		s += fmt.Sprintf(", %d also in another input", in.Elsewhere)
	}
	if in.Reordered > 0 {
		s += fmt.Sprintf(", %d stamped out of order (by %s at most)", in.Reordered, dur(time.Duration(in.ReorderedByS*float64(time.Second))))
	}
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
