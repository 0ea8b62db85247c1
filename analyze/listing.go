package analyze

import (
	"cmp"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"time"

	"github.com/flowdoc/flowdoc/flow"
)

// Listed returns the indexes in Flows of the flows a flow table lists:
// those that did not close cleanly, in order, or every flow with all.
func (rep *Report) Listed(all bool) []int {
	var idx []int
	for i := range rep.Flows {
		if all || !rep.Flows[i].Clean() {
			idx = append(idx, i)
		}
	}
	return idx
}

// Summary is the report's headline: "12 TCP connections: 9 closed
// cleanly, 2 still open, 1 not".
func (t Totals) Summary() string {
	s := fmt.Sprintf("%s: %d closed cleanly, ", plural(t.Flows, "TCP connection"), t.Clean)
	if t.Open > 0 {
		s += fmt.Sprintf("%d still open, ", t.Open)
	}
	s += fmt.Sprintf("%d not", t.Flows-t.Clean-t.Open)
	if t.Translated > 0 {
		s += fmt.Sprintf("; %s of them captured again under translated addresses (NAT), listed, counted once", thousands(t.Translated))
	}
	if t.Folded == 0 {
		return s
	}
	s += fmt.Sprintf("; and %s more that never got past the handshake", thousands(t.Folded))
	if t.inProgress > 0 {
		s += fmt.Sprintf(" (%s of them in progress at the end)", thousands(t.inProgress))
	}
	switch {
	case t.spread == t.Folded:
		s += ", spread over too many endpoints to tell apart: counted together, not listed"
	case t.spread > 0:
		s += fmt.Sprintf(", counted per server endpoint or scanning host (%s of them, spread over too many endpoints to tell apart, together), not listed", thousands(t.spread))
	default:
		s += ", counted per server endpoint or scanning host, not listed"
	}
	return s
}

// Caveats say which flows the capture saw only in part: "2 began before
// the capture", "1 seen in one direction only", "1 reused a 4-tuple".
func (t Totals) Caveats() []string {
	var c []string
	switch {
	case t.Midstream > 0 && t.lossy:
		c = append(c, fmt.Sprintf("%d without their handshake in the capture, begun before it or lost by it", t.Midstream))
	case t.Midstream > 0:
		c = append(c, fmt.Sprintf("%d began before the capture", t.Midstream))
	}
	if t.OneSided > 0 {
		c = append(c, fmt.Sprintf("%d seen in one direction only", t.OneSided))
	}
	if t.Reused > 0 {
		c = append(c, fmt.Sprintf("%d reused a 4-tuple", t.Reused))
	}
	return c
}

// StateTable is the endpoint states per host as a table: a column for
// each state some host is in, in the order of the states' lifecycle.
type StateTable struct {
	States []string
	// Hosts are busiest first.
	Hosts []HostRow
}

// HostRow is one host's line of a StateTable.
type HostRow struct {
	Host             netip.Addr // IPv4-mapped addresses unmapped
	Total            int
	Clients, Servers int // flows where the host was the client, the server
	// Counts are the host's endpoints in each of the table's States.
	Counts []int
}

// StateTable returns the endpoint states per host.
func (rep *Report) StateTable() StateTable {
	var t StateTable
	var cols []flow.State
	for _, s := range flow.States() {
		for _, h := range rep.Hosts {
			if h.Counts[s] > 0 {
				cols = append(cols, s)
				t.States = append(t.States, s.String())
				break
			}
		}
	}
	t.Hosts = make([]HostRow, len(rep.Hosts))
	counts := make([]int, len(rep.Hosts)*len(cols)) // every row's, in one
	for i, h := range rep.Hosts {
		row := HostRow{Host: h.Host.Unmap(), Total: h.Total, Clients: h.Clients, Servers: h.Servers,
			Counts: counts[i*len(cols) : (i+1)*len(cols) : (i+1)*len(cols)]}
		for j, s := range cols {
			row.Counts[j] = h.Counts[s]
		}
		t.Hosts[i] = row
	}
	return t
}

// StillOpen counts the flows with an endpoint that still holds its
// socket at the end, as far as the capture can tell.
func (rep *Report) StillOpen() int {
	n := 0
	for i := range rep.Flows {
		if rep.isCopy(i) {
			continue
		}
		if f := &rep.Flows[i]; holdsSocket(f.Client.State) || holdsSocket(f.Server.State) {
			n++
		}
	}
	return n
}

// holdsSocket reports whether an endpoint in state s is still open (as
// far as the capture can tell).
func holdsSocket(s flow.State) bool { return !s.Ended() && s != flow.Unknown }

// Duration is the time between the flow's first and last packet.
func (v *FlowView) Duration() time.Duration { return v.Last.Sub(v.First) }

// Severity is the flow's most severe verdict's, and whether it has one.
func (v *FlowView) Severity() (Severity, bool) {
	if len(v.Verdicts) == 0 {
		return Info, false
	}
	return v.Verdicts[0].Severity, true
}

// SideSeverity is, for each side, the severity of the most severe verdict
// about it; unset for a side no verdict is about.
func (v *FlowView) SideSeverity() Pair[Opt[Severity]] {
	var p Pair[Opt[Severity]]
	for i := range v.Verdicts {
		vd := &v.Verdicts[i]
		s := &p.Client
		if vd.Side == flow.Server.String() {
			s = &p.Server
		}
		if !s.Set || vd.Severity > s.V {
			*s = Some(vd.Severity)
		}
	}
	return p
}

// VerdictNames lists the flow's verdicts as class(side), most severe
// first.
func (v *FlowView) VerdictNames() []string {
	vs := make([]string, 0, len(v.Verdicts))
	for i := range v.Verdicts {
		vs = append(vs, string(v.Verdicts[i].Class)+"("+v.Verdicts[i].Side+")")
	}
	return vs
}

// ZeekConnState is the conn_state Zeek's conn.log gives the flow (see
// ZeekConnState).
func (v *FlowView) ZeekConnState() string { return ZeekConnState(v.rec) }

// ZeekDuration is the duration Zeek's conn.log gives the flow (see
// ZeekDuration).
func (v *FlowView) ZeekDuration() time.Duration { return ZeekDuration(v.rec) }

// Notes sum the flow up for a table's notes column: how the capture saw
// it (midstream, roles inferred, one-sided, port reused), its verdicts
// but midstream, what its payload held, and its sockets in the host's
// kernel.
func (v *FlowView) Notes() string {
	var n []string
	for _, c := range []struct {
		set  bool
		note string
	}{{v.Midstream, "midstream"}, {v.RolesInferred, "roles inferred"}, {v.OneSided, "one-sided"}, {v.Reused, "port reused"}} {
		if c.set {
			n = append(n, c.note)
		}
	}
	for i := range v.Verdicts {
		if vd := &v.Verdicts[i]; vd.Class != MidstreamClass {
			n = append(n, string(vd.Class)+"("+vd.Side+")")
		}
	}
	if p := v.payloadNote(); p != "" {
		n = append(n, p)
	}
	for _, side := range []struct {
		name string
		s    *SocketView
	}{{"client", &v.Kernel.Client}, {"server", &v.Kernel.Server}} {
		if *side.s != (SocketView{}) {
			n = append(n, "kernel: "+side.name+" "+side.s.text())
		}
	}
	return strings.Join(n, ", ")
}

// text is "no socket", "CLOSE_WAIT" or "CLOSE_WAIT pid 42 (java)".
func (s *SocketView) text() string {
	switch {
	case s.NoSocket:
		return "no socket"
	case s.PID > 0:
		return fmt.Sprintf("%s pid %d (%s)", s.State, s.PID, s.Command)
	}
	return s.State
}

// payloadNote sums up what was read in the payload: the last HTTP
// exchange ("GET /upload -> 404 Not Found"), the TLS server name, and
// bytes the capture missed.
func (v *FlowView) payloadNote() string {
	var n []string
	switch {
	case !v.HTTP.IsZero():
		s := "http"
		if x := v.HTTP.Last(); x != nil {
			req := cmp.Or(x.RequestLine(), "(request not captured)")
			if x.RequestLine() == "" && !v.Midstream {
				switch {
				case v.Bytes.Client == 0:
					req = "(no request)" // the client sent nothing: a server's answer to an empty connection
				case !slices.ContainsFunc(v.Payload.Gaps, func(g GapView) bool { return g.Side == "client" }):
					req = "(request unfinished)" // captured whole, its headers never ended
				}
			}
			if x.Malformed {
				req = fmt.Sprintf("(malformed request %q)", x.Target)
			}
			s += " " + req + " -> " + cmp.Or(x.StatusLine(), "no response")
			if v.HTTP.Requests > 1 {
				s += fmt.Sprintf(" (last of %d requests)", v.HTTP.Requests)
			}
		}
		n = append(n, s)
	case !v.TLS.IsZero():
		s := "tls"
		if v.TLS.ServerName != "" {
			s += " " + v.TLS.ServerName
		}
		n = append(n, s)
	}
	for _, g := range v.Payload.Gaps {
		if g.Truncated.Packet > 0 {
			n = append(n, g.Side+" payload cut by the snap length")
		} else if g.MissingBytes > 0 {
			n = append(n, fmt.Sprintf("%s stream: %s not captured", g.Side, plural(int(g.MissingBytes), "byte")))
		}
	}
	return strings.Join(n, ", ")
}
