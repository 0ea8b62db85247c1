package analyze

import (
	"encoding/json"
	"net/netip"
	"slices"
	"strconv"
	"time"

	"github.com/flowdoc/flowdoc/flow"
	"github.com/flowdoc/flowdoc/flow/payload"
	"github.com/flowdoc/flowdoc/flow/sockets"
)

// FlowView is one flow as every report shows it. Its exported fields, as
// their json tags name them, are the flowdoc/v1 schema of a flow in the
// JSON and JSON Lines reports; the methods give what the other formats
// show besides (notes, the state a side's severity colours, the Zeek
// connection state). Report.ViewFlow fills one. A FlowView is meant to
// be reused from one flow to the next, which spares an allocation per
// flow: the next fill overwrites what it holds, slices included.
type FlowView struct {
	ID            int      `json:"id"`
	Client        Endpoint `json:"client"`
	Server        Endpoint `json:"server"`
	RolesInferred bool     `json:"roles_inferred"`
	Midstream     bool     `json:"midstream"`
	OneSided      bool     `json:"one_sided"`
	Reused        bool     `json:"reused"`
	// CopyOf is the flow whose connection this one is, captured again
	// under translated addresses; 0 (absent) for most.
	CopyOf      int              `json:"copy_of,omitempty"`
	First       Time             `json:"first"`
	Last        Time             `json:"last"`
	DurationS   float64          `json:"duration_s"`
	Packets     Pair[uint64]     `json:"packets"`
	Bytes       Pair[uint64]     `json:"bytes"`
	ClientState string           `json:"client_state"`
	ServerState string           `json:"server_state"`
	History     string           `json:"history"`
	Ends        Pair[EndView]    `json:"ends"`
	Kernel      Pair[SocketView] `json:"kernel,omitzero"`
	Payload     PayloadView      `json:"payload,omitzero"`
	HTTP        HTTPView         `json:"http,omitzero"`
	TLS         TLSView          `json:"tls,omitzero"`
	// Events are the packets the flow kept, when asked for; unset
	// otherwise.
	Events        Opt[[]EventView] `json:"events,omitzero"`
	EventsDropped int              `json:"events_dropped,omitempty"`
	// Verdicts are most severe first; never nil.
	Verdicts []VerdictView `json:"verdicts"`

	rec *flow.Record
	pb  payload.Buffer
	// Room reused from one fill to the next.
	gaps      [2]GapView
	exchanges []ExchangeView
	events    []EventView
	verdicts  []VerdictView
	evidence  []EvidenceView
}

// Time is a capture time in Unix nanoseconds; 0 is unset. JSON spells it
// in RFC 3339, UTC, with the fraction's trailing zeros trimmed; "" when
// unset.
type Time int64

// TimeOf converts t; the zero time.Time gives 0.
func TimeOf(t time.Time) Time {
	if t.IsZero() {
		return 0
	}
	return Time(t.UnixNano())
}

// Time returns t as a time.Time in UTC; 0 gives the zero time.Time.
func (t Time) Time() time.Time { return flow.Timestamp(t).Time() }

// IsZero reports whether t is unset.
func (t Time) IsZero() bool { return t == 0 }

// Sub returns t-u.
func (t Time) Sub(u Time) time.Duration { return time.Duration(t - u) }

// MarshalJSON implements json.Marshaler.
func (t Time) MarshalJSON() ([]byte, error) {
	if t == 0 {
		return []byte(`""`), nil
	}
	return json.Marshal(t.Time().Format(time.RFC3339Nano))
}

// Opt is a value that may be absent: a field of type Opt tagged omitzero
// is left out of JSON when Set is false, and is V otherwise (a zero V
// included).
type Opt[T any] struct {
	V   T
	Set bool
}

// Some returns v, set.
func Some[T any](v T) Opt[T] { return Opt[T]{V: v, Set: true} }

// IsZero reports whether o is unset.
func (o Opt[T]) IsZero() bool { return !o.Set }

// MarshalJSON implements json.Marshaler.
func (o Opt[T]) MarshalJSON() ([]byte, error) { return json.Marshal(o.V) }

// Pair is a value for each side of a connection.
type Pair[T any] struct {
	Client T `json:"client"`
	Server T `json:"server"`
}

// Endpoint is an address and port. JSON gives the address with an
// IPv4-mapped IPv6 address unmapped; String spells it as captured.
type Endpoint struct {
	IP   netip.Addr `json:"ip"`
	Port uint16     `json:"port"`

	ap netip.AddrPort
}

func endpointOf(ap netip.AddrPort) Endpoint {
	return Endpoint{IP: ap.Addr().Unmap(), Port: ap.Port(), ap: ap}
}

// AddrPort is the endpoint as captured.
func (e Endpoint) AddrPort() netip.AddrPort { return e.ap }

func (e Endpoint) String() string { return e.ap.String() }

// EndView is one endpoint of a flow: its state at the end of the capture
// and what it sent.
type EndView struct {
	State string `json:"state"`
	// Since is when it entered State (for an expired one, the state
	// that expired).
	Since Time `json:"since,omitempty"`
	// Expired is the state whose timer ran out to leave it CLOSED; "" if
	// none did.
	Expired      string `json:"expired,omitempty"`
	HalfClosed   bool   `json:"half_closed,omitempty"`
	Packets      uint64 `json:"packets"`
	Bytes        uint64 `json:"bytes"`
	WireBytes    uint64 `json:"wire_bytes"`
	Retransmits  uint32 `json:"retransmissions"`
	RSTs         uint32 `json:"rsts"`
	ZeroWindows  uint32 `json:"zero_windows"`
	KeepAlives   uint32 `json:"keepalives"`
	WindowProbes uint32 `json:"window_probes"`
	// MSS and WScale are from the SYN; unset if it was not seen.
	MSS         uint16    `json:"mss,omitempty"`
	WScale      Opt[int8] `json:"wscale,omitzero"`
	First       Time      `json:"first,omitempty"`
	Last        Time      `json:"last,omitempty"`
	LastPayload Ref       `json:"last_payload,omitzero"`
	FIN         Ref       `json:"fin,omitzero"`
	// IPBytes counts IP datagram lengths, as Zeek's ip_bytes does;
	// Missed the bytes of the stream the capture does not hold, as Zeek's
	// missed_bytes does.
	IPBytes, Missed uint64 `json:"-"`
}

// StateText is the state, with the one that expired into it: "CLOSED
// (TIME_WAIT ended)".
func (e *EndView) StateText() string {
	if e.Expired != "" {
		return e.State + " (" + e.Expired + " ended)"
	}
	return e.State
}

// Ref is a packet of the capture: its input, number and time. The zero
// Ref is none.
type Ref struct {
	Input  int    `json:"input"`
	Packet uint32 `json:"packet"`
	Time   Time   `json:"time"`
}

func refOf(input uint16, packet uint32, at flow.Timestamp) Ref {
	if packet == 0 {
		return Ref{}
	}
	return Ref{Input: int(input), Packet: packet, Time: Time(at)}
}

// fillEnd sets e from h, in place: a view is filled for every flow.
func fillEnd(e *EndView, h *flow.Half) {
	*e = EndView{
		State: h.State.String(), Since: Time(h.Since), HalfClosed: h.HalfClosed,
		Packets: h.Packets, Bytes: h.Bytes, WireBytes: h.WireBytes, Retransmits: h.Retrans,
		RSTs: h.RSTs, ZeroWindows: h.ZeroWindows, KeepAlives: h.KeepAlives, WindowProbes: h.WinProbes,
		MSS: h.MSS, First: Time(h.FirstPacket), Last: Time(h.LastPacket),
		LastPayload: refOf(h.LastPayloadInput, h.LastPayloadPacket, h.LastPayload),
		FIN:         refOf(h.FinInput, h.FinPacket, h.FinAt),
		IPBytes:     h.IPBytes, Missed: h.Missed,
	}
	if h.Expired != 0 {
		e.Expired = h.Expired.String()
	}
	if h.WScale >= 0 {
		e.WScale = Some(h.WScale)
	}
}

// SocketView is a side's socket in the capturing host's kernel table
// (flowdoc live). A side on the host with no socket has State "CLOSED"
// and NoSocket set; the zero SocketView is a side not on the host.
type SocketView struct {
	State   string `json:"state"`
	PID     int    `json:"pid,omitempty"`
	Command string `json:"command,omitempty"`
	RxQueue uint32 `json:"rx_queue"`
	TxQueue uint32 `json:"tx_queue"`
	Timer   string `json:"timer,omitempty"`
	// NoSocket is set when the host held no socket for the side.
	NoSocket bool `json:"-"`
}

func socketsView(k *FlowKernel) Pair[SocketView] {
	var p Pair[SocketView]
	if k == nil {
		return p
	}
	one := func(known bool, s *sockets.Socket) SocketView {
		switch {
		case !known:
			return SocketView{}
		case s == nil:
			return SocketView{State: flow.Closed.String(), NoSocket: true}
		}
		return SocketView{State: s.State.String(), PID: s.PID, Command: s.Command, RxQueue: s.RxQueue, TxQueue: s.TxQueue, Timer: s.Timer}
	}
	return Pair[SocketView]{one(k.Known[flow.Client], k.Sockets[flow.Client]), one(k.Known[flow.Server], k.Sockets[flow.Server])}
}

// PayloadView is what the capture held of a flow's byte streams: the
// protocol recognised, and the bytes it missed. The zero PayloadView is
// no payload read (--no-payload, or nothing recognised or missed).
type PayloadView struct {
	// Protocol is "http" or "tls"; "" when not recognised.
	Protocol string `json:"protocol,omitempty"`
	// Gaps are the sides with bytes never captured, client first.
	Gaps []GapView `json:"gaps,omitempty"`

	read bool
}

// IsZero reports whether no payload was read.
func (p PayloadView) IsZero() bool { return !p.read }

// GapView is the bytes of one side's stream the capture missed.
type GapView struct {
	Side         string `json:"side"`
	MissingBytes uint64 `json:"missing_bytes"`
	// Packet is the packet just after the first gap; 0 if none.
	Packet        uint32 `json:"packet,omitempty"`
	BufferLimited bool   `json:"buffer_limited,omitempty"`
	// Truncated is the first packet the snap length cut: the rest of
	// the stream was not read.
	Truncated PacketRef `json:"truncated,omitzero"`
}

// PacketRef is a packet by its number; the zero PacketRef is none.
type PacketRef struct {
	Packet uint32 `json:"packet"`
}

// HTTPView is the HTTP read in a flow; the zero HTTPView is none.
type HTTPView struct {
	Requests  int `json:"requests"`
	Responses int `json:"responses"`
	// Earlier counts the exchanges before those kept.
	Earlier int `json:"earlier_exchanges,omitempty"`
	// KeepAliveS is the idle timeout the server advertised last.
	KeepAliveS Opt[float64] `json:"keep_alive_timeout_s,omitzero"`
	LastStatus int          `json:"last_status,omitempty"`
	Upgraded   bool         `json:"upgraded,omitempty"`
	// Server is what the server's first response named it (its Server
	// header); Via the proxy it came through (its Via header).
	Server string `json:"server,omitempty"`
	Via    string `json:"via,omitempty"`
	Error  string `json:"error,omitempty"`
	// Exchanges are the last requests and their responses, oldest
	// first; never nil in a flow with HTTP.
	Exchanges []ExchangeView `json:"exchanges"`

	read bool
}

// IsZero reports whether the flow carried no HTTP.
func (h HTTPView) IsZero() bool { return !h.read }

// Last is the last exchange, or nil.
func (h *HTTPView) Last() *ExchangeView {
	if len(h.Exchanges) == 0 {
		return nil
	}
	return &h.Exchanges[len(h.Exchanges)-1]
}

// ExchangeView is one HTTP request and its response.
type ExchangeView struct {
	Method string `json:"method,omitempty"`
	Target string `json:"target,omitempty"`
	// Malformed is set when the request line could not be read: Target
	// holds it as it came.
	Malformed     bool         `json:"malformed,omitempty"`
	Version       string       `json:"version,omitempty"`
	Request       Ref          `json:"request,omitzero"`
	RequestClose  bool         `json:"request_close,omitempty"`
	Continue      bool         `json:"continue,omitempty"`
	Status        int          `json:"status,omitempty"`
	Reason        string       `json:"reason,omitempty"`
	Response      Ref          `json:"response,omitzero"`
	ResponseEnd   Time         `json:"response_end,omitempty"`
	ContentLength Opt[int64]   `json:"content_length,omitzero"`
	Chunked       bool         `json:"chunked,omitempty"`
	BodyBytes     int64        `json:"body_bytes"`
	Complete      bool         `json:"complete"`
	Acked         bool         `json:"acked"`
	ResponseClose bool         `json:"response_close,omitempty"`
	KeepAliveS    Opt[float64] `json:"keep_alive_s,omitzero"`
	Missing       bool         `json:"missing,omitempty"`
}

// RequestLine is "GET /upload"; "" when the request was not captured.
func (x *ExchangeView) RequestLine() string {
	if x.Method == "" {
		return ""
	}
	return x.Method + " " + x.Target
}

// StatusLine is "404 Not Found", or "404" without a reason; "" while no
// response came.
func (x *ExchangeView) StatusLine() string {
	switch {
	case x.Status == 0:
		return ""
	case x.Reason == "":
		return strconv.Itoa(x.Status)
	}
	return strconv.Itoa(x.Status) + " " + x.Reason
}

// fillExchange sets v from x, in place.
func fillExchange(v *ExchangeView, x *payload.Exchange) {
	*v = ExchangeView{Method: x.Method, Target: x.Target, Malformed: x.Malformed(), Version: x.Version, RequestClose: x.RequestClose, Continue: x.Continue,
		Status: x.Status, Reason: x.Reason, ResponseEnd: Time(x.ResponseEnd), Chunked: x.Chunked, BodyBytes: x.BodyBytes,
		Complete: x.Complete, Acked: x.Acked, ResponseClose: x.ResponseClose, Missing: x.Missing,
		Request:  refOf(x.RequestInput, x.RequestPacket, flow.Timestamp(x.RequestAt)),
		Response: refOf(x.ResponseInput, x.ResponsePacket, flow.Timestamp(x.ResponseAt)),
	}
	if x.ContentLength >= 0 && x.Status != 0 {
		v.ContentLength = Some(x.ContentLength)
	}
	if x.KeepAlive > 0 {
		v.KeepAliveS = Some(x.KeepAlive.Seconds())
	}
}

// TLSView is the TLS handshake read in a flow; the zero TLSView is none.
type TLSView struct {
	// ServerName is the name the client asked for (SNI).
	ServerName  string `json:"server_name,omitempty"`
	ClientHello bool   `json:"client_hello"`
	ServerHello bool   `json:"server_hello"`
	// ClientAlert and ServerAlert are the alert each side sent in the
	// clear during the handshake ("fatal protocol_version (70)").
	ClientAlert string `json:"client_alert,omitempty"`
	ServerAlert string `json:"server_alert,omitempty"`

	read bool
}

// alertWords says a TLS alert: its level, name and number; "" for none.
func alertWords(a payload.Alert) string {
	if !a.Sent {
		return ""
	}
	level := "warning"
	if a.Fatal {
		level = "fatal"
	}
	return level + " " + a.Name() + " (" + strconv.Itoa(int(a.Description)) + ")"
}

// IsZero reports whether the flow carried no TLS.
func (t TLSView) IsZero() bool { return !t.read }

// EventView is a packet a flow kept: a SYN, FIN or RST, a state change,
// the first of a kind.
type EventView struct {
	Input  int    `json:"input"`
	Packet uint32 `json:"packet"`
	Time   Time   `json:"time"`
	From   string `json:"from"`
	// Flags spells the TCP flags as tcpdump's letters ("FA").
	Flags string `json:"flags"`
	Seq   uint32 `json:"seq"`
	Ack   uint32 `json:"ack"`
	Len   uint32 `json:"len"`
	// Notes say why it was kept ("retransmission", "state_change").
	Notes []string `json:"notes,omitempty"`
	// The endpoints' states after it.
	ClientState string `json:"client_state"`
	ServerState string `json:"server_state"`
}

// VerdictView is a verdict as reports show it.
type VerdictView struct {
	Class      Class    `json:"class"`
	Side       string   `json:"side"`
	Severity   Severity `json:"severity"`
	Confidence float64  `json:"confidence"`
	// Since is when the condition began, and AgeS how long it had lasted
	// at the end of the capture; unset when they do not apply.
	Since   Time         `json:"since,omitempty"`
	AgeS    Opt[float64] `json:"age_s,omitzero"`
	Summary string       `json:"summary"`
	// Evidence is never nil.
	Evidence []EvidenceView `json:"evidence"`
}

// EvidenceView is a packet a verdict or finding rests on.
type EvidenceView struct {
	Input  int    `json:"input"`
	Packet int    `json:"packet"`
	Time   Time   `json:"time"`
	What   string `json:"what"`
}

// ViewFlow fills v with flow i of the report; events adds the packets
// the flow kept. What v held before is overwritten, its room reused.
func (rep *Report) ViewFlow(i int, v *FlowView, events bool) {
	f := &rep.Flows[i]
	r := f.Record
	v.rec = r
	v.ID = r.ID
	v.Client, v.Server = endpointOf(r.Key.Client()), endpointOf(r.Key.Server())
	v.RolesInferred, v.Midstream, v.OneSided, v.Reused = r.RolesInferred, r.Midstream, r.OneSided, r.Reused
	v.CopyOf = f.CopyOf
	v.First, v.Last, v.DurationS = Time(r.First), Time(r.Last), r.Duration().Seconds()
	v.Packets = Pair[uint64]{r.Client.Packets, r.Server.Packets}
	v.Bytes = Pair[uint64]{r.Client.Bytes, r.Server.Bytes}
	v.ClientState, v.ServerState = r.Client.State.String(), r.Server.State.String()
	v.History = r.History
	fillEnd(&v.Ends.Client, &r.Client)
	fillEnd(&v.Ends.Server, &r.Server)
	v.Kernel = socketsView(f.Kernel)
	p := r.ReadPayload(&v.pb)
	v.fillPayload(p)
	v.fillEvents(r, events)
	v.fillVerdicts(f.Verdicts, p)
}

// fillPayload sets the payload, HTTP and TLS of v from p (nil: none).
func (v *FlowView) fillPayload(p *payload.Summary) {
	v.Payload, v.HTTP, v.TLS = PayloadView{}, HTTPView{}, TLSView{}
	if p == nil {
		return
	}
	v.Payload = PayloadView{Protocol: p.Protocol, read: true}
	n := 0
	for s := flow.Client; s <= flow.Server; s++ {
		if p.Missing[s] == 0 && p.Truncated[s] == 0 {
			continue
		}
		v.gaps[n] = GapView{Side: s.String(), MissingBytes: p.Missing[s], Packet: p.MissingPacket[s], BufferLimited: p.Limited[s],
			Truncated: PacketRef{p.Truncated[s]}}
		n++
	}
	if n > 0 {
		v.Payload.Gaps = v.gaps[:n]
	}
	if h := p.HTTP; h != nil {
		v.HTTP = HTTPView{Requests: h.Requests, Responses: h.Responses, Earlier: h.Earlier, Upgraded: h.Upgraded, Server: h.Server, Via: h.Via, Error: h.Error, read: true}
		if h.KeepAlive > 0 {
			v.HTTP.KeepAliveS = Some(h.KeepAlive.Seconds())
		}
		if l := h.LastResponse(); l != nil {
			v.HTTP.LastStatus = l.Status
		}
		v.exchanges = slices.Grow(v.exchanges[:0], len(h.Exchanges))[:len(h.Exchanges)]
		for i := range h.Exchanges {
			fillExchange(&v.exchanges[i], &h.Exchanges[i])
		}
		v.HTTP.Exchanges = v.exchanges
		if v.HTTP.Exchanges == nil {
			v.HTTP.Exchanges = []ExchangeView{}
		}
	}
	if t := p.TLS; t != nil {
		v.TLS = TLSView{ServerName: t.ServerName, ClientHello: t.ClientHello, ServerHello: t.ServerHello,
			ClientAlert: alertWords(t.Alert[flow.Client]), ServerAlert: alertWords(t.Alert[flow.Server]), read: true}
	}
}

// fillEvents sets the events of v from r's, when asked for.
func (v *FlowView) fillEvents(r *flow.Record, events bool) {
	v.Events, v.EventsDropped = Opt[[]EventView]{}, 0
	if !events {
		return
	}
	v.events = v.events[:0]
	for i := range r.Events {
		e := &r.Events[i]
		v.events = append(v.events, EventView{
			Input: int(e.Input), Packet: e.Packet, Time: Time(e.At), From: e.From.String(),
			Flags: e.Flags.String(), Seq: e.Seq, Ack: e.Ack, Len: e.Len, Notes: e.Note.Names(),
			ClientState: e.ClientState.String(), ServerState: e.ServerState.String(),
		})
	}
	if v.events == nil {
		v.events = []EventView{}
	}
	v.Events, v.EventsDropped = Some(v.events), r.EventsDropped()
}

// fillVerdicts sets the verdicts of v from vs, and what the flow's
// payload p adds to them (see Verdict.detailed).
func (v *FlowView) fillVerdicts(vs []Verdict, p *payload.Summary) {
	v.verdicts, v.evidence = v.verdicts[:0], v.evidence[:0]
	for i := range vs {
		vd := &vs[i]
		start := len(v.evidence)
		for _, e := range vd.Evidence {
			v.evidence = append(v.evidence, evidenceView(e))
		}
		sum := vd.Summary
		if more, e, ok := vd.detail(p); ok {
			sum += more
			v.evidence = append(v.evidence, evidenceView(e))
		}
		vv := VerdictView{Class: vd.Class, Side: vd.Side.String(), Severity: vd.Severity, Confidence: vd.Confidence,
			Summary: sum, Evidence: v.evidence[start:len(v.evidence):len(v.evidence)]}
		if vv.Evidence == nil {
			vv.Evidence = []EvidenceView{}
		}
		if !vd.Since.IsZero() {
			vv.Since, vv.AgeS = Time(vd.Since), Some(vd.Age.Seconds())
		}
		v.verdicts = append(v.verdicts, vv)
	}
	v.Verdicts = v.verdicts
	if v.Verdicts == nil {
		v.Verdicts = []VerdictView{}
	}
}

func evidenceView(e Evidence) EvidenceView {
	return EvidenceView{Input: e.Input, Packet: e.Packet, Time: Time(e.At), What: e.What}
}
