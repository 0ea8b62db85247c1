package report

import (
	"bufio"
	"encoding/json"
	"io"
	"net/netip"
	"time"

	"github.com/flowdoc/flowdoc/analyze"
)

// JSON writes the flowdoc/v1 schema. Flows are encoded one at a time, so
// a report of millions of flows is never held as one document in memory.
type JSON struct {
	// Events adds each flow's notable packets (SYN, FIN, RST, state
	// changes, first probes) as "events".
	Events bool
}

type jsonEndpoint struct {
	IP   string `json:"ip"`
	Port uint16 `json:"port"`
}

type jsonPair[T any] struct {
	Client T `json:"client"`
	Server T `json:"server"`
}

type jsonEvidence struct {
	Input  int    `json:"input"`
	Packet int    `json:"packet"`
	Time   string `json:"time"`
	What   string `json:"what"`
}

type jsonHost struct {
	IP      string         `json:"ip"`
	Flows   int            `json:"flows"`
	Clients int            `json:"as_client"`
	Servers int            `json:"as_server"`
	States  map[string]int `json:"states"`
}

type jsonFinding struct {
	Class    string         `json:"class"`
	Severity string         `json:"severity"`
	Endpoint string         `json:"endpoint"`
	Flows    []int          `json:"flows"`
	Summary  string         `json:"summary"`
	Remedy   string         `json:"remedy"`
	Evidence []jsonEvidence `json:"evidence"`
}

type jsonTotals struct {
	Flows      int `json:"flows"`
	Clean      int `json:"clean"`
	Midstream  int `json:"midstream"`
	OneSided   int `json:"one_sided"`
	Reused     int `json:"reused"`
	Packets    int `json:"packets"`
	TCPPackets int `json:"tcp_packets"`
	BadPackets int `json:"bad_packets"`
}

func ts(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(time.RFC3339Nano)
}

func endpoint(a netip.AddrPort) jsonEndpoint {
	return jsonEndpoint{IP: a.Addr().Unmap().String(), Port: a.Port()}
}

// Render implements Renderer.
func (j *JSON) Render(w io.Writer, rep *analyze.Report) error {
	bw := bufio.NewWriterSize(w, 1<<16)
	put := func(s string) { bw.WriteString(s) }
	enc := func(prefix string, v any) error {
		b, err := json.MarshalIndent(v, prefix, "  ")
		if err != nil {
			return err
		}
		bw.Write(b)
		return nil
	}
	put("{\n  \"schema\": \"" + analyze.Schema + "\",\n  \"inputs\": ")
	if err := enc("  ", rep.Inputs); err != nil {
		return err
	}
	put(",\n  \"capture_end\": \"" + ts(rep.End) + "\",\n  \"totals\": ")
	t := rep.Totals
	if err := enc("  ", jsonTotals{t.Flows, t.Clean, t.Midstream, t.OneSided, t.Reused, t.Packets, t.TCPPackets, t.BadPackets}); err != nil {
		return err
	}
	put(",\n  \"hosts\": ")
	hosts := make([]jsonHost, 0, len(rep.Hosts))
	for _, h := range rep.Hosts {
		jh := jsonHost{IP: h.Host.Unmap().String(), Flows: h.Total, Clients: h.Clients, Servers: h.Servers, States: map[string]int{}}
		for _, s := range analyze.States() {
			if n := h.Count(s); n > 0 {
				jh.States[s.String()] = n
			}
		}
		hosts = append(hosts, jh)
	}
	if err := enc("  ", hosts); err != nil {
		return err
	}
	put(",\n  \"flows\": [")
	// One flow per line: the flows are the bulk of a report, so they are
	// appended by hand rather than through reflection.
	var line []byte
	var fe flowEncoder
	for i := range rep.Flows {
		if i > 0 {
			put(",")
		}
		put("\n    ")
		line = fe.appendFlow(line[:0], &rep.Flows[i], j.Events)
		bw.Write(line)
	}
	if len(rep.Flows) > 0 {
		put("\n  ")
	}
	put("],\n  \"findings\": ")
	fs := make([]jsonFinding, 0, len(rep.Findings))
	for _, f := range rep.Findings {
		fs = append(fs, jsonFinding{Class: f.Class, Severity: f.Severity, Endpoint: f.Endpoint.String(),
			Flows: f.Flows, Summary: f.Summary, Remedy: f.Remedy, Evidence: evidence(f.Evidence)})
	}
	if err := enc("  ", fs); err != nil {
		return err
	}
	put("\n}\n")
	return bw.Flush()
}

func evidence(ev []analyze.Evidence) []jsonEvidence {
	out := make([]jsonEvidence, 0, len(ev))
	for _, e := range ev {
		out = append(out, jsonEvidence{Input: e.Input, Packet: e.Packet, Time: ts(e.At), What: e.What})
	}
	return out
}
