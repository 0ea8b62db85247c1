// Package analyze turns the connections that flow tracked into a Report:
// the flows with their endpoint states, per-host state counts, and the
// verdicts and findings that explain them, sorted.
//
// It also computes everything package report lays out, as types of its
// own, so that renderers need nothing from package flow: a flow's view
// (FlowView, the JSON schema of a flow, from Report.ViewFlow), the flows
// a table lists, the headline, the states per host, and the rows of the
// HTML pictures (view.go, listing.go, pictures.go).
package analyze

import (
	"fmt"
	"net/netip"
	"runtime"
	"slices"
	"sync"
	"time"

	"github.com/flowdoc/flowdoc/flow"
	"github.com/flowdoc/flowdoc/flow/sockets"
)

// Schema names the JSON layout a Report is rendered in.
const Schema = "flowdoc/v1"

// Report is the whole analysis of one run.
type Report struct {
	Inputs []Input
	// End is the moment the endpoint states stand at.
	End time.Time
	// Flows are in order of first packet; every one of them. Reports
	// read them through ViewFlow, Listed and the pictures.
	Flows []Flow
	// Aggregates count the connections with no conversation that were
	// folded rather than listed, per server endpoint.
	Aggregates []Aggregate
	// Hosts are the endpoint-state counts per IP address, busiest first.
	Hosts    []HostStates
	Findings []Finding
	Totals   Totals
	// LocalAddrs are the capturing host's addresses, when the capture
	// recorded packet directions.
	LocalAddrs []netip.Addr
	// Filter is what the report was narrowed to; zero for everything.
	Filter Filter
	// Kernel is the capturing host's own socket table, joined to the
	// flows (flowdoc live); nil otherwise.
	Kernel *KernelView
	// Capture holds a live capture's counters; nil for files.
	Capture *CaptureStats
	// copyOf maps the index of each flow that is a translated copy to
	// the index of the flow it copies, when the report holds both (see
	// findCopies); count sets it.
	copyOf map[int]int
}

// isCopy reports whether flow i is counted in the flow it copies.
func (rep *Report) isCopy(i int) bool {
	_, ok := rep.copyOf[i]
	return ok
}

// CaptureStats are a live capture's counters.
type CaptureStats struct {
	Interface string
	Filter    string
	Received  int // packets the filter passed
	Dropped   int // by the kernel (buffer full)
	IfDropped int // by the interface
	Duration  time.Duration
}

// Flow is one connection and what was concluded about it.
type Flow struct {
	*flow.Record
	Verdicts []Verdict
	// CopyOf is the ID of the flow whose connection this one is, captured
	// again under translated addresses (NAT); 0 for most flows. The
	// connection is counted once, in that flow.
	CopyOf int
	// Kernel is the kernel's view of the sides on the capturing host
	// (flowdoc live); nil otherwise.
	Kernel *FlowKernel
}

// FlowKernel is a flow's sockets in the capturing host's kernel.
type FlowKernel struct {
	// Known says for which sides the table was read (the side's address
	// is the host's); Sockets holds their sockets (nil: none, CLOSED).
	Known   [2]bool
	Sockets [2]*sockets.Socket
}

// Clean reports whether the connection opened and closed in order: a
// handshake seen, both FINs sent and acknowledged, no RST, each endpoint
// closed or in TIME_WAIT; and, once it has its verdicts, none worse than
// Info (a request sent into a connection the server had closed and
// dropped ends with FINs in order).
func (f *Flow) Clean() bool {
	r := f.Record
	if r.Midstream || r.OneSided || r.Client.RSTs > 0 || r.Server.RSTs > 0 {
		return false
	}
	if r.Client.FinPacket == 0 || r.Server.FinPacket == 0 {
		return false
	}
	if !r.Client.State.Ended() || !r.Server.State.Ended() {
		return false
	}
	for i := range f.Verdicts {
		if f.Verdicts[i].Severity > Info {
			return false
		}
	}
	return true
}

// HostStates counts the endpoint states of one IP address, whether it was
// the client or the server of each flow.
type HostStates struct {
	Host    netip.Addr
	Counts  [16]int // by State
	Total   int
	Clients int // flows where the host was the client
	Servers int // ... the server
}

// Count returns the number of endpoints of the host in state s.
func (h *HostStates) Count(s flow.State) int { return h.Counts[s] }

// Totals are whole-report counts.
type Totals struct {
	Flows, Midstream, OneSided, Reused, Clean int
	// Open counts the flows established at both ends when the capture
	// ended: not closed, cleanly or otherwise.
	Open int
	// Folded counts the connections in Aggregates, not in Flows.
	Folded                          int
	Packets, TCPPackets, BadPackets int
	spread                          int // of Folded, those in Other aggregates
	inProgress                      int // of Folded, those in progress at the end
	// Translated counts the flows that are another flow's connection
	// seen again under translated addresses: not in Flows.
	Translated int
	lossy      bool // an input lost packets: a handshake not captured may be one of them
}

// Options tune the analysis. The zero Options uses the defaults.
type Options struct {
	// CloseWaitGrace, when set, overrides the judgement of a CLOSE_WAIT
	// at the end of the capture: quiet this long, it is a leak; younger,
	// it is not. Zero judges each from what the capture shows of its host
	// (how fast it closed the connections it did close).
	CloseWaitGrace time.Duration
	// PortRange is the clients' ephemeral port range.
	PortRange PortRange
	// TimeWait is how long TIME_WAIT lasts (the flow pass's setting).
	TimeWait time.Duration
}

// DefaultCloseWaitGrace is how long a CLOSE_WAIT must last to be a leak
// when the capture holds no close by its host to compare with, and, in
// flowdoc live, before a CLOSE_WAIT socket of the host's own table is
// reported: an application that reads the peer's FIN closes within
// milliseconds.
const DefaultCloseWaitGrace = time.Second

func (o Options) withDefaults() Options {
	if o.PortRange == (PortRange{}) || o.PortRange.Size() <= 0 {
		o.PortRange = LinuxPortRange
	}
	if o.TimeWait <= 0 {
		o.TimeWait = flow.DefaultTimeWait
	}
	return o
}

// Build makes a Report from a flow pass: verdicts on every flow, findings
// across them, most severe first.
func Build(res *flow.Result, opt Options) *Report {
	opt = opt.withDefaults()
	rep := &Report{Inputs: inputsOf(res.Inputs), End: res.End, Flows: make([]Flow, len(res.Flows)), LocalAddrs: res.LocalAddrs}
	// A connection captured twice (translated) is in the evidence twice,
	// which moves no quantile; its copy's verdicts are replaced below.
	of := translations(res.Flows)
	cap := gatherEvidence(res.Flows, res.Aggregates, flow.TS(res.End), opt.CloseWaitGrace)
	inspectAll(res.Flows, rep.Flows, cap)
	for b, a := range of {
		// Its verdicts are the flow's it copies: it has only the one
		// that says so, which leaves it out of every count of verdicts
		// (exports, --fail-on).
		f := &rep.Flows[b]
		f.CopyOf = rep.Flows[a].ID
		f.Verdicts = []Verdict{translatedVerdict(f.Record, rep.Flows[a].Record, f.CopyOf)}
	}
	rep.Aggregates = aggregatesOf(res.Aggregates, cap)
	rep.count()
	rep.Findings = findings(rep, opt)
	return rep
}

// count works out the totals and the endpoint states per host from the
// flows.
func (rep *Report) count() {
	hosts := map[netip.Addr]*HostStates{}
	host := func(a netip.Addr) *HostStates {
		h := hosts[a]
		if h == nil {
			h = &HostStates{Host: a}
			hosts[a] = h
		}
		return h
	}
	rep.Totals = Totals{}
	t := &rep.Totals
	rep.copyOf = rep.findCopies()
	// The server side of a connection captured twice is the copy's when
	// the copy saw the server's SYN-ACK first: before the translation,
	// from the host that holds the socket.
	serverOf := map[int]int{}
	for b, a := range rep.copyOf {
		if serverSeenFirst(rep.Flows[b].Record, rep.Flows[a].Record) {
			serverOf[a] = b
		}
	}
	for i := range rep.Flows {
		f := &rep.Flows[i]
		if a, ok := rep.copyOf[i]; ok {
			t.Translated++
			if serverOf[a] == i {
				s := host(f.Key.Server().Addr())
				s.Counts[f.Server.State]++
				s.Total++
				s.Servers++
			}
			continue
		}
		t.Flows++
		if f.Midstream {
			t.Midstream++
		}
		if f.OneSided {
			t.OneSided++
		}
		if f.Reused {
			t.Reused++
		}
		if f.Clean() {
			t.Clean++
		}
		if f.Client.State == flow.Established && f.Server.State == flow.Established {
			t.Open++
		}
		c := host(f.Key.Client().Addr())
		c.Counts[f.Client.State]++
		c.Total++
		c.Clients++
		if _, elsewhere := serverOf[i]; !elsewhere {
			s := host(f.Key.Server().Addr())
			s.Counts[f.Server.State]++
			s.Total++
			s.Servers++
		}
	}
	for _, a := range rep.Aggregates {
		t.Folded += a.Connections
		t.inProgress += a.InProgress
		refused := a.RSTs > 0 // both ends CLOSED: over
		if a.Other {
			t.spread += a.Connections
			// Its servers have rows when few enough to be counted
			// exactly; its clients, spread thin, have none.
			if !a.Estimated {
				for _, p := range a.TopPeers {
					h := host(p.Peer.Addr())
					h.Counts[flow.Closed] += p.Connections
					h.Total += p.Connections
					h.Servers += p.Connections
				}
			}
			continue
		}
		if a.ByClient() {
			c := host(a.Client)
			if refused {
				c.Counts[flow.Closed] += a.Connections
			} else {
				c.Counts[flow.SynSent] += a.Connections - a.GaveUp
				c.Counts[flow.Closed] += a.GaveUp
			}
			c.Total += a.Connections
			c.Clients += a.Connections
		} else {
			s := host(a.Server.Addr())
			if a.Class == HandshakeIncomplete {
				// A SYN-ACK sent again is state kept; one sent once, a cookie.
				s.Counts[flow.SynRecv] += a.ServerRetried
				s.Counts[flow.Closed] += a.Connections - a.ServerRetried
			} else {
				s.Counts[flow.Closed] += a.Connections
			}
			s.Total += a.Connections
			s.Servers += a.Connections
		}
		// The peers of refused connections are CLOSED too, when few enough
		// to be counted exactly; other peers' states (given up or not) are
		// not known one by one, and too many peers have no rows.
		if !refused || a.Estimated {
			continue
		}
		for _, p := range a.TopPeers {
			h := host(p.Peer.Addr())
			h.Counts[flow.Closed] += p.Connections
			h.Total += p.Connections
			if a.ByClient() {
				h.Servers += p.Connections
			} else {
				h.Clients += p.Connections
			}
		}
	}
	for _, in := range rep.Inputs {
		t.Packets += in.Packets
		t.TCPPackets += in.TCPPackets
		t.BadPackets += in.BadPackets
		t.lossy = t.lossy || in.lossy
	}
	rep.Hosts = rep.Hosts[:0]
	for _, h := range hosts {
		rep.Hosts = append(rep.Hosts, *h)
	}
	slices.SortFunc(rep.Hosts, func(a, b HostStates) int {
		if a.Total != b.Total {
			return b.Total - a.Total
		}
		return a.Host.Compare(b.Host)
	})
}

// inspectAll gives every flow its verdicts, the flows split across cores.
func inspectAll(recs []*flow.Record, flows []Flow, cap *captureEvidence) {
	workers := min(runtime.GOMAXPROCS(0), max(1, len(recs)/4096))
	var wg sync.WaitGroup
	per := (len(recs) + workers - 1) / workers
	for w := range workers {
		lo, hi := w*per, min((w+1)*per, len(recs))
		if lo >= hi {
			break
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			in := &inspector{end: cap.end, cap: cap}
			for i := lo; i < hi; i++ {
				flows[i] = Flow{Record: recs[i], Verdicts: in.inspect(recs[i])}
			}
		}()
	}
	wg.Wait()
}

// Warnings lists every input warning, each prefixed with its input's path.
func (r *Report) Warnings() []string {
	var w []string
	for _, in := range r.Inputs {
		for _, s := range in.Warnings {
			w = append(w, in.Path+": "+s)
		}
	}
	if c := r.Capture; c != nil && c.Dropped+c.IfDropped > 0 {
		w = append(w, fmt.Sprintf("%s: libpcap dropped %d of %d packets (%d by the kernel, %d by the interface): some states may be wrong; capture less (-f), or raise the buffer",
			c.Interface, c.Dropped+c.IfDropped, c.Received+c.Dropped+c.IfDropped, c.Dropped, c.IfDropped))
	}
	if k := r.Kernel; k != nil && len(k.Disagreements) > 0 {
		w = append(w, fmt.Sprintf("the kernel's socket table disagrees with the inferred state of %d endpoints (see the kernel section)", len(k.Disagreements)))
	}
	return w
}
