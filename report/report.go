// Package report lays out an *analyze.Report in the formats people read
// and tools load: a terminal report and JSON. Renderers neither sort nor
// compute: the order and every figure come from the analyze package.
package report

import (
	"fmt"
	"io"

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
