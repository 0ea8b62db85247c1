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
type JSON struct{}

type jsonEndpoint struct {
	IP   string `json:"ip"`
	Port uint16 `json:"port"`
}

type jsonPair[T any] struct {
	Client T `json:"client"`
	Server T `json:"server"`
}

type jsonRef struct {
	Input  int    `json:"input"`
	Packet uint32 `json:"packet"`
	Time   string `json:"time"`
}

type jsonEnd struct {
	State        string   `json:"state"`
	Since        string   `json:"since,omitempty"`
	Expired      string   `json:"expired,omitempty"`
	HalfClosed   bool     `json:"half_closed,omitempty"`
	Packets      uint64   `json:"packets"`
	Bytes        uint64   `json:"bytes"`
	WireBytes    uint64   `json:"wire_bytes"`
	Retransmits  uint32   `json:"retransmissions"`
	RSTs         uint32   `json:"rsts"`
	ZeroWindows  uint32   `json:"zero_windows"`
	KeepAlives   uint32   `json:"keepalives"`
	WindowProbes uint32   `json:"window_probes"`
	MSS          uint16   `json:"mss,omitempty"`
	WScale       *int8    `json:"wscale,omitempty"`
	First        string   `json:"first,omitempty"`
	Last         string   `json:"last,omitempty"`
	LastPayload  *jsonRef `json:"last_payload,omitempty"`
	FIN          *jsonRef `json:"fin,omitempty"`
}

type jsonEvent struct {
	Input       int      `json:"input"`
	Packet      uint32   `json:"packet"`
	Time        string   `json:"time"`
	From        string   `json:"from"`
	Flags       string   `json:"flags"`
	Seq         uint32   `json:"seq"`
	Ack         uint32   `json:"ack"`
	Len         uint32   `json:"len"`
	Notes       []string `json:"notes,omitempty"`
	ClientState string   `json:"client_state"`
	ServerState string   `json:"server_state"`
}

type jsonEvidence struct {
	Input  int    `json:"input"`
	Packet int    `json:"packet"`
	Time   string `json:"time"`
	What   string `json:"what"`
}

type jsonVerdict struct {
	Class      string         `json:"class"`
	Side       string         `json:"side"`
	Severity   string         `json:"severity"`
	Confidence float64        `json:"confidence"`
	Summary    string         `json:"summary"`
	Evidence   []jsonEvidence `json:"evidence"`
}

type jsonFlow struct {
	ID            int               `json:"id"`
	Client        jsonEndpoint      `json:"client"`
	Server        jsonEndpoint      `json:"server"`
	RolesInferred bool              `json:"roles_inferred"`
	Midstream     bool              `json:"midstream"`
	OneSided      bool              `json:"one_sided"`
	Reused        bool              `json:"reused"`
	First         string            `json:"first"`
	Last          string            `json:"last"`
	DurationS     float64           `json:"duration_s"`
	Packets       jsonPair[uint64]  `json:"packets"`
	Bytes         jsonPair[uint64]  `json:"bytes"`
	ClientState   string            `json:"client_state"`
	ServerState   string            `json:"server_state"`
	History       string            `json:"history"`
	Ends          jsonPair[jsonEnd] `json:"ends"`
	Events        []jsonEvent       `json:"events"`
	EventsDropped int               `json:"events_dropped,omitempty"`
	Verdicts      []jsonVerdict     `json:"verdicts"`
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
func (JSON) Render(w io.Writer, rep *analyze.Report) error {
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
	for i := range rep.Flows {
		if i > 0 {
			put(",")
		}
		put("\n    ")
		if err := enc("    ", jsonFlowOf(&rep.Flows[i])); err != nil {
			return err
		}
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

func jsonFlowOf(f *analyze.Flow) jsonFlow {
	r := f.Record
	jf := jsonFlow{
		ID: r.ID, Client: endpoint(r.Key.Client), Server: endpoint(r.Key.Server),
		RolesInferred: r.RolesInferred, Midstream: r.Midstream, OneSided: r.OneSided, Reused: r.Reused,
		First: ts(r.First.Time()), Last: ts(r.Last.Time()), DurationS: r.Duration().Seconds(),
		Packets:     jsonPair[uint64]{r.Client.Packets, r.Server.Packets},
		Bytes:       jsonPair[uint64]{r.Client.Bytes, r.Server.Bytes},
		ClientState: r.Client.State.String(), ServerState: r.Server.State.String(),
		History: r.History,
		Ends:    jsonPair[jsonEnd]{jsonEndOf(&r.Client), jsonEndOf(&r.Server)},
		Events:  make([]jsonEvent, 0, len(r.Events)), EventsDropped: r.EventsDropped,
		Verdicts: make([]jsonVerdict, 0, len(f.Verdicts)),
	}
	for _, e := range r.Events {
		jf.Events = append(jf.Events, jsonEvent{
			Input: int(e.Input), Packet: e.Packet, Time: ts(e.At.Time()), From: e.From.String(),
			Flags: e.Flags.String(), Seq: e.Seq, Ack: e.Ack, Len: e.Len, Notes: e.Note.Names(),
			ClientState: e.ClientState.String(), ServerState: e.ServerState.String(),
		})
	}
	for _, v := range f.Verdicts {
		jf.Verdicts = append(jf.Verdicts, jsonVerdict{Class: v.Class, Side: v.Side.String(), Severity: v.Severity,
			Confidence: v.Confidence, Summary: v.Summary, Evidence: evidence(v.Evidence)})
	}
	return jf
}

func jsonEndOf(h *analyze.Half) jsonEnd {
	e := jsonEnd{
		State: h.State.String(), Since: ts(h.Since.Time()), HalfClosed: h.HalfClosed,
		Packets: h.Packets, Bytes: h.Bytes, WireBytes: h.WireBytes, Retransmits: h.Retrans,
		RSTs: h.RSTs, ZeroWindows: h.ZeroWindows, KeepAlives: h.KeepAlives, WindowProbes: h.WinProbes,
		MSS: h.MSS, First: ts(h.FirstPacket.Time()), Last: ts(h.LastPacket.Time()),
	}
	if h.Expired != 0 {
		e.Expired = h.Expired.String()
	}
	if h.WScale >= 0 {
		ws := h.WScale
		e.WScale = &ws
	}
	if h.LastPayloadPacket > 0 {
		e.LastPayload = &jsonRef{Input: int(h.LastPayloadInput), Packet: h.LastPayloadPacket, Time: ts(h.LastPayload.Time())}
	}
	if h.FinPacket > 0 {
		e.FIN = &jsonRef{Input: int(h.FinInput), Packet: h.FinPacket, Time: ts(h.FinAt.Time())}
	}
	return e
}
