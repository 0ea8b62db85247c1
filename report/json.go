package report

import (
	"bufio"
	"encoding/json"
	"io"
	"runtime"
	"sync"
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

type jsonScope struct {
	Hosts     []string `json:"hosts"`
	Endpoints []string `json:"endpoints"`
}

type jsonFinding struct {
	Class    string             `json:"class"`
	Severity string             `json:"severity"`
	Scope    jsonScope          `json:"scope"`
	Flows    []int              `json:"flows"`
	Metrics  map[string]float64 `json:"metrics"`
	Summary  string             `json:"summary"`
	Remedy   string             `json:"remedy"`
	Evidence []jsonEvidence     `json:"evidence"`
}

type jsonAggregate struct {
	Server         string         `json:"server,omitempty"`
	Client         string         `json:"client,omitempty"`
	Other          bool           `json:"other,omitempty"`
	Sources        int            `json:"sources,omitempty"`
	Class          string         `json:"class"`
	Connections    int            `json:"connections"`
	InProgress     int            `json:"in_progress"`
	SYNs           int            `json:"syns"`
	SYNACKs        int            `json:"syn_acks,omitempty"`
	ServerRetried  int            `json:"server_retried,omitempty"`
	RSTs           int            `json:"rsts,omitempty"`
	Retried        int            `json:"retried"`
	RetriedBy      []jsonPeer     `json:"retried_by,omitempty"`
	GaveUp         int            `json:"gave_up"`
	AnsweredLate   int            `json:"answered_late"`
	Peers          int            `json:"peers"`
	PeersEstimated bool           `json:"peers_estimated"`
	TopPeers       []jsonPeer     `json:"top_peers"`
	OneHost        string         `json:"one_host,omitempty"`
	OnePort        int            `json:"one_port,omitempty"`
	First          string         `json:"first"`
	Last           string         `json:"last"`
	Examples       []jsonEvidence `json:"examples"`
}

type jsonPeer struct {
	Peer        string `json:"peer"`
	Connections int    `json:"connections"`
}

func aggregatesJSON(aggs []analyze.Aggregate) []jsonAggregate {
	out := make([]jsonAggregate, 0, len(aggs))
	for _, a := range aggs {
		ja := jsonAggregate{Class: string(a.Class), Connections: a.Connections, InProgress: a.InProgress,
			SYNs: a.SYNs, SYNACKs: a.SYNACKs, ServerRetried: a.ServerRetried, RSTs: a.RSTs, OnePort: int(a.OnePort), Retried: a.Retried, GaveUp: a.GaveUp, AnsweredLate: a.AnsweredLate, Peers: a.Peers,
			PeersEstimated: a.Estimated, TopPeers: []jsonPeer{}, First: ts(a.First), Last: ts(a.Last), Examples: evidence(a.Examples)}
		if a.OneHost.IsValid() {
			ja.OneHost = a.OneHost.Unmap().String()
		}
		switch {
		case a.Other:
			ja.Other, ja.Sources = true, a.Sources
		case a.ByClient():
			ja.Client = a.Client.Unmap().String()
		default:
			ja.Server = a.Server.String()
		}
		ja.TopPeers = append(ja.TopPeers, peersJSON(a.TopPeers)...)
		ja.RetriedBy = peersJSON(a.RetriedBy)
		out = append(out, ja)
	}
	return out
}

// peersJSON spells peers: an address (port 0), or an endpoint.
func peersJSON(ps []analyze.PeerCount) []jsonPeer {
	var out []jsonPeer
	for _, p := range ps {
		name := p.Peer.String()
		if p.Peer.Port() == 0 {
			name = p.Peer.Addr().Unmap().String()
		}
		out = append(out, jsonPeer{name, p.Connections})
	}
	return out
}

type jsonCapture struct {
	Interface string  `json:"interface"`
	Filter    string  `json:"filter,omitempty"`
	Received  int     `json:"received"`
	Dropped   int     `json:"dropped"`
	IfDropped int     `json:"if_dropped"`
	DurationS float64 `json:"duration_s"`
}

type jsonKernel struct {
	Time          string             `json:"time"`
	Local         []string           `json:"local_addresses"`
	Sockets       int                `json:"sockets"`
	Matched       int                `json:"with_packets"`
	Disagreements []jsonDisagreement `json:"disagreements"`
	Unseen        []jsonSocketGroup  `json:"without_packets"`
}

type jsonDisagreement struct {
	Flow     int    `json:"flow"`
	Side     string `json:"side"`
	Endpoint string `json:"endpoint"`
	Inferred string `json:"inferred"`
	Kernel   string `json:"kernel"`
}

type jsonSocketGroup struct {
	State   string `json:"state"`
	Count   int    `json:"count"`
	PID     int    `json:"pid,omitempty"`
	Command string `json:"command,omitempty"`
	Local   string `json:"local,omitempty"`
	Peer    string `json:"peer"`
	RxQueue uint64 `json:"rx_queue"`
	TxQueue uint64 `json:"tx_queue"`
}

func kernelJSON(k *analyze.KernelView) jsonKernel {
	j := jsonKernel{Time: ts(k.At), Local: []string{}, Sockets: k.Sockets, Matched: k.Matched,
		Disagreements: []jsonDisagreement{}, Unseen: []jsonSocketGroup{}}
	for _, a := range k.Local {
		j.Local = append(j.Local, a.Unmap().String())
	}
	for _, d := range k.Disagreements {
		j.Disagreements = append(j.Disagreements, jsonDisagreement{d.Flow, d.Side, d.Endpoint.String(), d.Inferred, d.Kernel})
	}
	for _, g := range k.Unseen {
		jg := jsonSocketGroup{State: g.State, Count: g.Count, PID: g.PID, Command: g.Command, Peer: g.PeerText(), RxQueue: g.RxQueue, TxQueue: g.TxQueue}
		if g.Local.IsValid() {
			jg.Local = g.Local.String()
		}
		j.Unseen = append(j.Unseen, jg)
	}
	return j
}

type jsonTotals struct {
	Flows      int `json:"flows"`
	Clean      int `json:"clean"`
	Open       int `json:"open"`
	Midstream  int `json:"midstream"`
	OneSided   int `json:"one_sided"`
	Reused     int `json:"reused"`
	Folded     int `json:"folded,omitempty"`
	Translated int `json:"translated,omitempty"`
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
	put(",\n  \"capture_end\": \"" + ts(rep.End) + "\",")
	if !rep.Filter.IsZero() {
		put("\n  \"filter\": " + string(appendString(nil, rep.Filter.String())) + ",")
	}
	put("\n  \"local_addresses\": ")
	local := make([]string, 0, len(rep.LocalAddrs))
	for _, a := range rep.LocalAddrs {
		local = append(local, a.Unmap().String())
	}
	if err := enc("  ", local); err != nil {
		return err
	}
	if c := rep.Capture; c != nil {
		put(",\n  \"capture\": ")
		if err := enc("  ", jsonCapture{c.Interface, c.Filter, c.Received, c.Dropped, c.IfDropped, c.Duration.Seconds()}); err != nil {
			return err
		}
	}
	if k := rep.Kernel; k != nil {
		put(",\n  \"kernel\": ")
		if err := enc("  ", kernelJSON(k)); err != nil {
			return err
		}
	}
	put(",\n  \"totals\": ")
	t := rep.Totals
	if err := enc("  ", jsonTotals{t.Flows, t.Clean, t.Open, t.Midstream, t.OneSided, t.Reused, t.Folded, t.Translated, t.Packets, t.TCPPackets, t.BadPackets}); err != nil {
		return err
	}
	put(",\n  \"hosts\": ")
	st := rep.StateTable()
	hosts := make([]jsonHost, 0, len(st.Hosts))
	for _, h := range st.Hosts {
		jh := jsonHost{IP: h.Host.String(), Flows: h.Total, Clients: h.Clients, Servers: h.Servers, States: map[string]int{}}
		for i, n := range h.Counts {
			if n > 0 {
				jh.States[st.States[i]] = n
			}
		}
		hosts = append(hosts, jh)
	}
	if err := enc("  ", hosts); err != nil {
		return err
	}
	put(",\n  \"flows\": [")
	j.writeFlows(bw, rep)
	if len(rep.Flows) > 0 {
		put("\n  ")
	}
	put("],")
	if len(rep.Aggregates) > 0 {
		put("\n  \"aggregates\": ")
		if err := enc("  ", aggregatesJSON(rep.Aggregates)); err != nil {
			return err
		}
		put(",")
	}
	put("\n  \"findings\": ")
	fs := findingsJSON(rep)
	if err := enc("  ", fs); err != nil {
		return err
	}
	put("\n}\n")
	return bw.Flush()
}

func evidence(ev []analyze.Evidence) []jsonEvidence {
	out := make([]jsonEvidence, 0, len(ev))
	for _, e := range ev {
		out = append(out, jsonEvidence{Input: e.Input, Packet: e.Packet, Time: ts(e.At.Time()), What: e.What})
	}
	return out
}

// findingsJSON lays out the findings for encoding/json.
func findingsJSON(rep *analyze.Report) []jsonFinding {
	fs := make([]jsonFinding, 0, len(rep.Findings))
	for _, f := range rep.Findings {
		jf := jsonFinding{Class: string(f.Class), Severity: f.Severity.String(),
			Scope: jsonScope{Hosts: []string{}, Endpoints: []string{}}, Flows: f.Flows, Metrics: map[string]float64{},
			Summary: f.Summary, Remedy: f.Remedy, Evidence: evidence(f.Evidence)}
		for _, h := range f.Hosts {
			jf.Scope.Hosts = append(jf.Scope.Hosts, h.Unmap().String())
		}
		for _, e := range f.Endpoints {
			jf.Scope.Endpoints = append(jf.Scope.Endpoints, e.String())
		}
		for _, m := range f.Metrics {
			jf.Metrics[m.Name] = m.Value
		}
		fs = append(fs, jf)
	}
	return fs
}

// encoders keeps flow encoders, with the room their views have grown,
// from one report to the next.
var encoders = sync.Pool{New: func() any { return new(flowEncoder) }}

// flowChunk is how many flows one worker renders at a time.
const flowChunk = 512

// writeFlows writes the flows, one per line, rendering chunks of them on
// every core and writing the chunks in order: for millions of flows this
// is most of a report's time.
func (j *JSON) writeFlows(w io.Writer, rep *analyze.Report) {
	n := len(rep.Flows)
	type job struct {
		lo, hi int
		out    chan []byte
	}
	workers := min(runtime.GOMAXPROCS(0), (n+flowChunk-1)/flowChunk)
	if workers <= 1 {
		fe := encoders.Get().(*flowEncoder)
		w.Write(fe.appendFlows(make([]byte, 0, n*1024), rep, 0, n, j.Events))
		encoders.Put(fe)
		return
	}
	jobs := make(chan job, workers)
	order := make(chan job, 2*workers)
	// At most this many chunks are rendered or waiting at once; their
	// buffers go round, so rendering allocates next to nothing.
	inFlight := 2*workers + workers + 2
	bufs := make(chan []byte, inFlight)
	for range inFlight {
		bufs <- make([]byte, 0, flowChunk*1024)
	}
	go func() {
		for lo := 0; lo < n; lo += flowChunk {
			jb := job{lo, min(lo+flowChunk, n), make(chan []byte, 1)}
			order <- jb
			jobs <- jb
		}
		close(jobs)
		close(order)
	}()
	for range workers {
		go func() {
			fe := encoders.Get().(*flowEncoder)
			defer encoders.Put(fe)
			for jb := range jobs {
				jb.out <- fe.appendFlows((<-bufs)[:0], rep, jb.lo, jb.hi, j.Events)
			}
		}()
	}
	for jb := range order {
		b := <-jb.out
		w.Write(b)
		bufs <- b
	}
}

// appendFlows appends the report's flows lo to hi, each on a line of its
// own and all but the very first (index 0 of the report) after a comma.
func (e *flowEncoder) appendFlows(b []byte, rep *analyze.Report, lo, hi int, events bool) []byte {
	for i := lo; i < hi; i++ {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, "\n    "...)
		rep.ViewFlow(i, &e.view, events)
		b = e.appendFlow(b, &e.view)
	}
	return b
}
