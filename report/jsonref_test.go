package report

import (
	"net/netip"

	"github.com/flowdoc/flowdoc/analyze"
)

// The schema of a flow, for encoding/json: the reference appendFlow is
// held to.

type jsonEndpoint struct {
	IP   string `json:"ip"`
	Port uint16 `json:"port"`
}

type jsonPair[T any] struct {
	Client T `json:"client"`
	Server T `json:"server"`
}

// jsonSocket is a side's socket in the kernel's table; a side on the
// host with no socket is {"state": "CLOSED"}.
type jsonSocket struct {
	State   string `json:"state"`
	PID     int    `json:"pid,omitempty"`
	Command string `json:"command,omitempty"`
	RxQueue uint32 `json:"rx_queue"`
	TxQueue uint32 `json:"tx_queue"`
	Timer   string `json:"timer,omitempty"`
}

func jsonSocketOf(s *analyze.Socket) *jsonSocket {
	if s == nil {
		return &jsonSocket{State: "CLOSED"}
	}
	return &jsonSocket{State: s.State.String(), PID: s.PID, Command: s.Command, RxQueue: s.RxQueue, TxQueue: s.TxQueue, Timer: s.Timer}
}

func endpoint(a netip.AddrPort) jsonEndpoint {
	return jsonEndpoint{IP: a.Addr().Unmap().String(), Port: a.Port()}
}

// appendFlow encodes one flow with a fresh encoder.
func appendFlow(b []byte, f *analyze.Flow, events bool) []byte {
	var e flowEncoder
	return e.appendFlow(b, f, events)
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

type jsonVerdict struct {
	Class      string         `json:"class"`
	Side       string         `json:"side"`
	Severity   string         `json:"severity"`
	Confidence float64        `json:"confidence"`
	Since      string         `json:"since,omitempty"`
	AgeS       *float64       `json:"age_s,omitempty"`
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
	Kernel        *jsonFlowKernel   `json:"kernel,omitempty"`
	Payload       *jsonPayload      `json:"payload,omitempty"`
	HTTP          *jsonHTTP         `json:"http,omitempty"`
	TLS           *jsonTLS          `json:"tls,omitempty"`
	Events        *[]jsonEvent      `json:"events,omitempty"`
	EventsDropped int               `json:"events_dropped,omitempty"`
	Verdicts      []jsonVerdict     `json:"verdicts"`
}

// jsonFlowOf is the reference encoding of a flow, through encoding/json.
func jsonFlowOf(f *analyze.Flow, events bool) jsonFlow {
	r := f.Record
	jf := jsonFlow{
		ID: r.ID, Client: endpoint(r.Key.Client()), Server: endpoint(r.Key.Server()),
		RolesInferred: r.RolesInferred, Midstream: r.Midstream, OneSided: r.OneSided, Reused: r.Reused,
		First: ts(r.First.Time()), Last: ts(r.Last.Time()), DurationS: r.Duration().Seconds(),
		Packets:     jsonPair[uint64]{r.Client.Packets, r.Server.Packets},
		Bytes:       jsonPair[uint64]{r.Client.Bytes, r.Server.Bytes},
		ClientState: r.Client.State.String(), ServerState: r.Server.State.String(),
		History:  r.History,
		Ends:     jsonPair[jsonEnd]{jsonEndOf(&r.Client), jsonEndOf(&r.Server)},
		Verdicts: make([]jsonVerdict, 0, len(f.Verdicts)),
	}
	if k := f.Kernel; k != nil && (k.Known[analyze.Client] || k.Known[analyze.Server]) {
		jf.Kernel = &jsonFlowKernel{}
		if k.Known[analyze.Client] {
			jf.Kernel.Client = jsonSocketOf(k.Sockets[analyze.Client])
		}
		if k.Known[analyze.Server] {
			jf.Kernel.Server = jsonSocketOf(k.Sockets[analyze.Server])
		}
	}
	if p := r.Payload(); p != nil {
		jf.Payload = &jsonPayload{Protocol: p.Protocol}
		for s := analyze.Client; s <= analyze.Server; s++ {
			if p.Missing[s] > 0 || p.Truncated[s] > 0 {
				g := jsonGap{Side: s.String(), MissingBytes: p.Missing[s], Packet: p.MissingPacket[s], BufferLimited: p.Limited[s]}
				if p.Truncated[s] > 0 {
					g.Truncated = &jsonRefPacket{Packet: p.Truncated[s]}
				}
				jf.Payload.Gaps = append(jf.Payload.Gaps, g)
			}
		}
		if h := p.HTTP; h != nil {
			jh := &jsonHTTP{Requests: h.Requests, Responses: h.Responses, Earlier: h.Earlier, Upgraded: h.Upgraded, Error: h.Error,
				Exchanges: []jsonExchange{}}
			if h.KeepAlive > 0 {
				ka := h.KeepAlive.Seconds()
				jh.KeepAliveS = &ka
			}
			if l := h.LastResponse(); l != nil {
				jh.LastStatus = l.Status
			}
			for _, e := range h.Exchanges {
				je := jsonExchange{Method: e.Method, Target: e.Target, Malformed: e.Malformed(), Version: e.Version, RequestClose: e.RequestClose, Continue: e.Continue,
					Status: e.Status, Reason: e.Reason, ResponseEnd: ts(e.ResponseEnd.Time()), Chunked: e.Chunked, BodyBytes: e.BodyBytes,
					Complete: e.Complete, Acked: e.Acked, ResponseClose: e.ResponseClose, Missing: e.Missing}
				if e.RequestPacket > 0 {
					je.Request = &jsonRef{Input: int(e.RequestInput), Packet: e.RequestPacket, Time: ts(e.RequestAt.Time())}
				}
				if e.ResponsePacket > 0 {
					je.Response = &jsonRef{Input: int(e.ResponseInput), Packet: e.ResponsePacket, Time: ts(e.ResponseAt.Time())}
				}
				if e.ContentLength >= 0 && e.Status != 0 {
					cl := e.ContentLength
					je.ContentLength = &cl
				}
				if e.KeepAlive > 0 {
					ka := e.KeepAlive.Seconds()
					je.KeepAliveS = &ka
				}
				jh.Exchanges = append(jh.Exchanges, je)
			}
			jf.HTTP = jh
		}
		if t := p.TLS; t != nil {
			jf.TLS = &jsonTLS{ServerName: t.ServerName, ClientHello: t.ClientHello, ServerHello: t.ServerHello}
		}
	}
	if events {
		ev := make([]jsonEvent, 0, len(r.Events))
		jf.Events, jf.EventsDropped = &ev, int(r.EventsDropped)
	}
	for _, e := range r.Events {
		if !events {
			break
		}
		*jf.Events = append(*jf.Events, jsonEvent{
			Input: int(e.Input), Packet: e.Packet, Time: ts(e.At.Time()), From: e.From.String(),
			Flags: e.Flags.String(), Seq: e.Seq, Ack: e.Ack, Len: e.Len, Notes: e.Note.Names(),
			ClientState: e.ClientState.String(), ServerState: e.ServerState.String(),
		})
	}
	for _, v := range f.Verdicts {
		jv := jsonVerdict{Class: string(v.Class), Side: v.Side.String(), Severity: v.Severity.String(),
			Confidence: v.Confidence, Summary: v.Summary, Evidence: evidence(v.Evidence)}
		if !v.Since.IsZero() {
			age := v.Age.Seconds()
			jv.Since, jv.AgeS = ts(v.Since), &age
		}
		jf.Verdicts = append(jf.Verdicts, jv)
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

type jsonFlowKernel struct {
	Client *jsonSocket `json:"client,omitempty"`
	Server *jsonSocket `json:"server,omitempty"`
}

type jsonPayload struct {
	Protocol string    `json:"protocol,omitempty"`
	Gaps     []jsonGap `json:"gaps,omitempty"`
}

type jsonRefPacket struct {
	Packet uint32 `json:"packet"`
}

type jsonGap struct {
	Side          string         `json:"side"`
	MissingBytes  uint64         `json:"missing_bytes"`
	Packet        uint32         `json:"packet,omitempty"`
	BufferLimited bool           `json:"buffer_limited,omitempty"`
	Truncated     *jsonRefPacket `json:"truncated,omitempty"`
}

type jsonHTTP struct {
	Requests   int            `json:"requests"`
	Responses  int            `json:"responses"`
	Earlier    int            `json:"earlier_exchanges,omitempty"`
	KeepAliveS *float64       `json:"keep_alive_timeout_s,omitempty"`
	LastStatus int            `json:"last_status,omitempty"`
	Upgraded   bool           `json:"upgraded,omitempty"`
	Error      string         `json:"error,omitempty"`
	Exchanges  []jsonExchange `json:"exchanges"`
}

type jsonExchange struct {
	Method        string   `json:"method,omitempty"`
	Target        string   `json:"target,omitempty"`
	Malformed     bool     `json:"malformed,omitempty"`
	Version       string   `json:"version,omitempty"`
	Request       *jsonRef `json:"request,omitempty"`
	RequestClose  bool     `json:"request_close,omitempty"`
	Continue      bool     `json:"continue,omitempty"`
	Status        int      `json:"status,omitempty"`
	Reason        string   `json:"reason,omitempty"`
	Response      *jsonRef `json:"response,omitempty"`
	ResponseEnd   string   `json:"response_end,omitempty"`
	ContentLength *int64   `json:"content_length,omitempty"`
	Chunked       bool     `json:"chunked,omitempty"`
	BodyBytes     int64    `json:"body_bytes"`
	Complete      bool     `json:"complete"`
	Acked         bool     `json:"acked"`
	ResponseClose bool     `json:"response_close,omitempty"`
	KeepAliveS    *float64 `json:"keep_alive_s,omitempty"`
	Missing       bool     `json:"missing,omitempty"`
}

type jsonTLS struct {
	ServerName  string `json:"server_name,omitempty"`
	ClientHello bool   `json:"client_hello"`
	ServerHello bool   `json:"server_hello"`
}
