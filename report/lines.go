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
// ("type": "flow", the fields of a flow in the JSON report), every
// aggregate of folded connections ("type": "aggregate"), then every
// finding ("type": "finding").
type JSONLines struct {
	Events bool
}

// Render implements Renderer.
func (j *JSONLines) Render(w io.Writer, rep *analyze.Report) error {
	bw := bufio.NewWriterSize(w, 1<<16)
	fe := encoders.Get().(*flowEncoder)
	defer encoders.Put(fe)
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
	for _, a := range aggregatesJSON(rep.Aggregates) {
		b, err := json.Marshal(struct {
			Type string `json:"type"`
			jsonAggregate
		}{"aggregate", a})
		if err != nil {
			return err
		}
		bw.Write(append(b, '\n'))
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
	var v analyze.FlowView
	for i := range rep.Flows {
		rep.ViewFlow(i, &v, false)
		c, s := &v.Ends.Client, &v.Ends.Server
		sev := ""
		if worst, ok := v.Severity(); ok {
			sev = worst.String()
		}
		rec = append(rec[:0],
			strconv.Itoa(v.ID), v.Client.IP.String(), strconv.Itoa(int(v.Client.Port)),
			v.Server.IP.String(), strconv.Itoa(int(v.Server.Port)),
			ts(v.First.Time()), ts(v.Last.Time()), strconv.FormatFloat(v.DurationS, 'f', -1, 64),
			v.ClientState, v.ServerState, v.History,
			u(v.Packets.Client), u(v.Packets.Server), u(v.Bytes.Client), u(v.Bytes.Server),
			u(uint64(c.Retransmits)), u(uint64(s.Retransmits)), u(uint64(c.RSTs)), u(uint64(s.RSTs)),
			strconv.FormatBool(v.RolesInferred), strconv.FormatBool(v.Midstream), strconv.FormatBool(v.OneSided), strconv.FormatBool(v.Reused),
			sev, strings.Join(v.VerdictNames(), " "),
		)
		if err := cw.Write(rec); err != nil {
			return err
		}
	}
	cw.Flush()
	return cw.Error()
}
