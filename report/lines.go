package report

import (
	"bufio"
	"encoding/csv"
	"encoding/json"
	"io"
	"strconv"
	"strings"

	"github.com/flowdoc/flowdoc/analyze"
)

// JSONLines writes one JSON object per line for log pipelines: every flow
// ("type": "flow", the fields of a flow in the JSON report), then every
// finding ("type": "finding").
type JSONLines struct {
	Events bool
}

// Render implements Renderer.
func (j *JSONLines) Render(w io.Writer, rep *analyze.Report) error {
	bw := bufio.NewWriterSize(w, 1<<16)
	var fe flowEncoder
	var line []byte
	for i := range rep.Flows {
		line = append(line[:0], `{"type":"flow",`...)
		rep.ViewFlow(i, &fe.view, j.Events)
		line = fe.appendFlow(line, &fe.view)
		// appendFlow opened its own object: drop its brace.
		line = append(line[:len(`{"type":"flow",`)], line[len(`{"type":"flow",`)+1:]...)
		line = append(line, '\n')
		bw.Write(line)
	}
	for _, f := range findingsJSON(rep) {
		b, err := json.Marshal(struct {
			Type string `json:"type"`
			jsonFinding
		}{"finding", f})
		if err != nil {
			return err
		}
		bw.Write(append(b, '\n'))
	}
	return bw.Flush()
}

// csvColumns are the CSV report's columns, in order. They are stable:
// new ones are added at the end.
var csvColumns = []string{
	"id", "client_ip", "client_port", "server_ip", "server_port",
	"first", "last", "duration_s",
	"client_state", "server_state", "history",
	"client_packets", "server_packets", "client_bytes", "server_bytes",
	"client_retransmissions", "server_retransmissions", "client_rsts", "server_rsts",
	"roles_inferred", "midstream", "one_sided", "reused",
	"severity", "verdicts",
}

// CSV writes one line per flow under a header line (csvColumns). The
// verdicts column lists class(side) pairs, most severe first, separated
// by spaces; severity is the most severe one's.
type CSV struct{}

// Render implements Renderer.
func (CSV) Render(w io.Writer, rep *analyze.Report) error {
	cw := csv.NewWriter(w)
	if err := cw.Write(csvColumns); err != nil {
		return err
	}
	rec := make([]string, len(csvColumns))
	u := func(n uint64) string { return strconv.FormatUint(n, 10) }
	for i := range rep.Flows {
		f := &rep.Flows[i]
		r := f.Record
		sev := ""
		if len(f.Verdicts) > 0 {
			sev = f.Verdicts[0].Severity.String()
		}
		rec = append(rec[:0],
			strconv.Itoa(r.ID), r.Key.Client().Addr().Unmap().String(), strconv.Itoa(int(r.Key.Client().Port())),
			r.Key.Server().Addr().Unmap().String(), strconv.Itoa(int(r.Key.Server().Port())),
			ts(r.First.Time()), ts(r.Last.Time()), strconv.FormatFloat(r.Duration().Seconds(), 'f', -1, 64),
			r.Client.State.String(), r.Server.State.String(), r.History,
			u(r.Client.Packets), u(r.Server.Packets), u(r.Client.Bytes), u(r.Server.Bytes),
			u(uint64(r.Client.Retrans)), u(uint64(r.Server.Retrans)), u(uint64(r.Client.RSTs)), u(uint64(r.Server.RSTs)),
			strconv.FormatBool(r.RolesInferred), strconv.FormatBool(r.Midstream), strconv.FormatBool(r.OneSided), strconv.FormatBool(r.Reused),
			sev, strings.Join(verdictNames(f), " "),
		)
		if err := cw.Write(rec); err != nil {
			return err
		}
	}
	cw.Flush()
	return cw.Error()
}
