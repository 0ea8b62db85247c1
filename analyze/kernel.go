package analyze

import (
	"cmp"
	"fmt"
	"maps"
	"net/netip"
	"slices"
	"strings"
	"time"

	"github.com/flowdoc/flowdoc/flow"
	"github.com/flowdoc/flowdoc/flow/sockets"
)

// KernelView is the capturing host's own socket table, read by flowdoc
// live, joined to the captured flows.
type KernelView struct {
	// At is when the table was read.
	At time.Time
	// Local are the host's addresses.
	Local []netip.Addr
	// Sockets counts the connection sockets read (listeners left out);
	// Matched those a captured flow has.
	Sockets, Matched int
	// Unnamed counts the sockets whose process /proc did not say: those
	// of other users' processes, when flowdoc runs without root.
	Unnamed int
	// Disagreements are endpoints whose inferred state is not the
	// kernel's (timers aside: see JoinKernel).
	Disagreements []Disagreement
	// Unseen groups the sockets no captured packet touched, most first:
	// connections that went quiet before the capture started.
	Unseen []SocketGroup
}

// Disagreement is an endpoint whose state the capture and the kernel see
// differently.
type Disagreement struct {
	Flow     int
	Side     string // "client" or "server"
	Endpoint netip.AddrPort
	// Inferred and Kernel are the states as netstat spells them.
	Inferred, Kernel string
}

func (d *Disagreement) String() string {
	return fmt.Sprintf("flow %d, %s %s: inferred %s, the kernel says %s", d.Flow, d.Side, d.Endpoint, d.Inferred, d.Kernel)
}

// SocketGroup is sockets alike: one state, one process, one peer.
type SocketGroup struct {
	State   string // as netstat spells it
	PID     int
	Command string
	// Local is the local endpoint when the sockets were accepted on a
	// listening port (the port, address unset if several); else unset.
	Local netip.AddrPort
	// Peer is the remote endpoint; its port is 0 when the sockets go to
	// many ports of one address (clients of a local server).
	Peer  netip.AddrPort
	Count int
	// RxQueue and TxQueue are the bytes waiting, summed over the sockets.
	RxQueue, TxQueue uint64

	state flow.State
}

func socketGroup(st flow.State, pid int, comm string) SocketGroup {
	return SocketGroup{State: st.String(), PID: pid, Command: comm, state: st}
}

// LocalText is the local endpoint, or "*" when unset.
func (g *SocketGroup) LocalText() string {
	if g.Local.IsValid() {
		return g.Local.String()
	}
	return "*"
}

// PeerText is the peer: its address alone when the port varies.
func (g *SocketGroup) PeerText() string {
	if g.Peer.Port() == 0 {
		return g.Peer.Addr().Unmap().String()
	}
	return g.Peer.String()
}

// Process spells who holds the sockets: "pid 4242 (java)", or "no
// process" when the kernel alone holds them (TIME_WAIT, orphans), or
// "an unknown process" when /proc did not say (permissions).
func (g *SocketGroup) Process() string {
	switch {
	case g.PID > 0:
		return fmt.Sprintf("pid %d (%s)", g.PID, g.Command)
	case g.state == flow.TimeWait || g.state == flow.FinWait2 || g.state == flow.LastAck || g.state == flow.Closing:
		return "no process (the kernel's)"
	}
	return "an unknown process"
}

// NamingHint says what naming the processes behind sockets takes, for
// where they show as an unknown process.
const NamingHint = "naming the process needs root, or CAP_SYS_PTRACE to read other users' /proc/PID/fd"

// JoinKernel joins the host's socket table to the report's flows: each
// side of a flow whose address is the host's gets its socket (or none:
// CLOSED), differences between inferred and kernel states are listed,
// sockets without packets are grouped, and CLOSE_WAIT sockets become a
// finding that names the processes holding them. The table is read a
// moment after the last packet, so a state whose timer may have run out
// since (TIME_WAIT, FIN_WAIT_2, a SYN given up) is not a disagreement
// when the kernel has moved on from it.
//
// A CLOSE_WAIT socket makes a finding once it has been seen in that state
// for grace (Options.CloseWaitGrace): applications close a moment after
// the peer does. A socket whose Seen is unset counts at once.
//
// While a capture goes on, the table and the captured packets are never
// quite of the same moment: a flow with a packet less than settle before
// at is not compared with the kernel (a connection that opened or closed
// between the two readings is no disagreement).
func (rep *Report) JoinKernel(socks []sockets.Socket, local []netip.Addr, at time.Time, grace, settle time.Duration) {
	k := &KernelView{At: at, Local: slices.Clone(local)}
	t := indexSockets(k, socks, local)
	matched := rep.joinSockets(k, t, settle)
	k.Matched = len(matched)
	k.Unseen = groupUnseen(socks, matched, rep.foldedSockets(socks), t.listening)
	rep.Kernel = k
	rep.kernelFindings(socks, matched, grace)
}

// foldedSockets returns the half-open sockets of connections folded into
// an aggregate rather than kept as flows: a SYN_RECV socket at a server
// endpoint with an aggregate (a SYN flood at this host), a SYN_SENT one
// from a scanning address (a scan from it). Packets did touch them; the
// aggregate counts them. Of an Other aggregate's endpoints, too many to
// be counted one by one, any SYN_RECV socket may be one: on the host, or
// at the port, they all had, when they had one.
func (rep *Report) foldedSockets(socks []sockets.Socket) map[*sockets.Socket]bool {
	servers, clients := map[netip.AddrPort]bool{}, map[netip.Addr]bool{}
	var spread []netip.AddrPort // an estimated Other's host and port, each unset if many
	for _, a := range rep.Aggregates {
		if a.Server.IsValid() {
			servers[netip.AddrPortFrom(a.Server.Addr().Unmap(), a.Server.Port())] = true
		}
		if a.Client.IsValid() {
			clients[a.Client.Unmap()] = true
		}
		if a.Other && a.Class == HandshakeIncomplete {
			if a.Estimated {
				spread = append(spread, netip.AddrPortFrom(a.OneHost.Unmap(), a.OnePort))
			}
			for _, p := range a.TopPeers {
				servers[netip.AddrPortFrom(p.Peer.Addr().Unmap(), p.Peer.Port())] = true
			}
		}
	}
	if len(servers)+len(clients)+len(spread) == 0 {
		return nil
	}
	out := map[*sockets.Socket]bool{}
	for i := range socks {
		s := &socks[i]
		local := netip.AddrPortFrom(s.Local.Addr().Unmap(), s.Local.Port())
		amid := func(p netip.AddrPort) bool {
			return (!p.Addr().IsValid() || p.Addr() == local.Addr()) && (p.Port() == 0 || p.Port() == local.Port())
		}
		if s.State == flow.SynRecv && (servers[local] || slices.ContainsFunc(spread, amid)) || s.State == flow.SynSent && clients[local.Addr()] {
			out[s] = true
		}
	}
	return out
}

// socketTable is the host's connection sockets by their two endpoints,
// its listening ports, and its addresses.
type socketTable struct {
	bySock    map[sockKey]*sockets.Socket
	listening map[uint16]bool
	isLocal   map[netip.Addr]bool
}

type sockKey struct{ local, remote netip.AddrPort }

// indexSockets indexes the socket table, counting in k the connection
// sockets and those whose process is not known.
func indexSockets(k *KernelView, socks []sockets.Socket, local []netip.Addr) socketTable {
	t := socketTable{bySock: map[sockKey]*sockets.Socket{}, listening: map[uint16]bool{}, isLocal: map[netip.Addr]bool{}}
	for _, a := range local {
		t.isLocal[a.Unmap()] = true
	}
	for i := range socks {
		s := &socks[i]
		t.isLocal[s.Local.Addr()] = true
		if s.Listen {
			t.listening[s.Local.Port()] = true
			continue
		}
		k.Sockets++
		t.bySock[sockKey{s.Local, s.Remote}] = s
		if s.PID == 0 && s.Inode != 0 {
			k.Unnamed++
		}
	}
	return t
}

// joinSockets gives each side of a flow on the host its socket (nil:
// none), lists in k the sides whose inferred state is not the kernel's,
// and returns the sockets a flow has.
func (rep *Report) joinSockets(k *KernelView, t socketTable, settle time.Duration) map[*sockets.Socket]bool {
	matched := map[*sockets.Socket]bool{}
	// The latest flow of a reused 4-tuple is the one with the socket.
	latest := map[flow.Key]int{}
	for i := range rep.Flows {
		latest[rep.Flows[i].Key] = i
	}
	for i := range rep.Flows {
		f := &rep.Flows[i]
		for _, side := range []flow.Side{flow.Client, flow.Server} {
			ep, peer := f.Endpoint(side), f.Endpoint(side.Other())
			ep = netip.AddrPortFrom(ep.Addr().Unmap(), ep.Port())
			peer = netip.AddrPortFrom(peer.Addr().Unmap(), peer.Port())
			if !t.isLocal[ep.Addr()] {
				continue
			}
			if f.Kernel == nil {
				f.Kernel = &FlowKernel{}
			}
			f.Kernel.Known[side] = true
			var s *sockets.Socket
			if latest[f.Key] == i {
				s = t.bySock[sockKey{ep, peer}]
			}
			f.Kernel.Sockets[side] = s
			if s != nil {
				matched[s] = true
			}
			kernel := flow.Closed
			if s != nil {
				kernel = s.State
			}
			inferred := f.Half(side).State
			moving := settle > 0 && k.At.Sub(f.Last.Time()) < settle
			if inferred != kernel && inferred != flow.Unknown && !timerMayEnd(inferred, kernel) && !moving {
				k.Disagreements = append(k.Disagreements, Disagreement{Flow: f.ID, Side: side.String(), Endpoint: ep,
					Inferred: inferred.String(), Kernel: kernel.String()})
			}
		}
	}
	return matched
}

// groupUnseen groups the connection sockets no flow has, most first.
func groupUnseen(socks []sockets.Socket, matched, folded map[*sockets.Socket]bool, listening map[uint16]bool) []SocketGroup {
	type gkey struct {
		state       flow.State
		pid         int
		comm        string
		local, peer netip.AddrPort
	}
	groups := map[gkey]*SocketGroup{}
	for i := range socks {
		s := &socks[i]
		if s.Listen || matched[s] || folded[s] {
			continue
		}
		gk := gkey{state: s.State, pid: s.PID, comm: s.Command, peer: s.Remote}
		if listening[s.Local.Port()] {
			gk.local, gk.peer = s.Local, netip.AddrPortFrom(s.Remote.Addr(), 0)
		}
		g := groups[gk]
		if g == nil {
			sg := socketGroup(s.State, s.PID, s.Command)
			sg.Local, sg.Peer = gk.local, gk.peer
			g = &sg
			groups[gk] = g
		}
		g.Count++
		g.RxQueue += uint64(s.RxQueue)
		g.TxQueue += uint64(s.TxQueue)
	}
	var out []SocketGroup
	for _, g := range groups {
		out = append(out, *g)
	}
	slices.SortFunc(out, func(a, b SocketGroup) int {
		return cmp.Or(b.Count-a.Count, int(a.state)-int(b.state), a.PID-b.PID, a.Peer.Compare(b.Peer), a.Local.Compare(b.Local))
	})
	return out
}

// timerMayEnd reports whether the kernel's state can follow the inferred
// one with no packet: a timer ran out (TIME_WAIT, FIN_WAIT_2, a SYN given
// up) between the last packet and the reading of the table.
func timerMayEnd(inferred, kernel flow.State) bool {
	switch inferred {
	case flow.TimeWait, flow.FinWait2, flow.SynSent, flow.SynRecv, flow.LastAck, flow.FinWait1, flow.Closing:
		return kernel == flow.Closed || kernel == flow.TimeWait && inferred != flow.TimeWait
	}
	return false
}

// kernelFindings names the processes that hold CLOSE_WAIT sockets: one
// finding per process and peer, with how many of the sockets the capture
// saw the peer close and how many were silent since before it started.
func (rep *Report) kernelFindings(socks []sockets.Socket, matched map[*sockets.Socket]bool, grace time.Duration) {
	holders := rep.closeWaitHolders(socks, matched, grace)
	if len(holders) == 0 {
		return
	}
	for _, h := range holders {
		rep.Findings = append(rep.Findings, rep.holderFinding(h))
	}
	// A leak the capture found gets the name of the process behind it.
	for i := range rep.Findings {
		f := &rep.Findings[i]
		if f.Class != CloseWaitLeak {
			continue
		}
		if h := rep.Holders(f); h != "" {
			f.Summary += " The kernel shows them held by " + h + "."
		}
	}
	sortFindings(rep.Findings)
}

// holder is the CLOSE_WAIT sockets of one process to one peer.
type holder struct {
	pid      int
	comm     string
	peer     netip.AddrPort
	n, seen  int // sockets, and those a flow of the capture has
	closed   int // the peer's FIN is in the capture
	flows    []int
	local    netip.Addr
	firstFin time.Time // the earliest of those FINs
	oldest   time.Time // the earliest one of the others was seen in CLOSE_WAIT
}

// closeWaitHolders gathers the CLOSE_WAIT sockets seen for grace or more
// by process and peer, most sockets first.
func (rep *Report) closeWaitHolders(socks []sockets.Socket, matched map[*sockets.Socket]bool, grace time.Duration) []*holder {
	type key struct {
		pid  int
		comm string
		peer netip.AddrPort
	}
	byKey := map[key]*holder{}
	var order []*holder
	flowOf := map[*sockets.Socket]*Flow{}
	for i := range rep.Flows {
		if k := rep.Flows[i].Kernel; k != nil {
			for _, s := range k.Sockets {
				if s != nil {
					flowOf[s] = &rep.Flows[i]
				}
			}
		}
	}
	for i := range socks {
		s := &socks[i]
		if s.Listen || s.State != flow.CloseWait || !s.Seen.IsZero() && rep.Kernel.At.Sub(s.Seen) < grace {
			continue
		}
		k := key{s.PID, s.Command, s.Remote}
		h := byKey[k]
		if h == nil {
			h = &holder{pid: s.PID, comm: s.Command, peer: s.Remote, local: s.Local.Addr()}
			byKey[k] = h
			order = append(order, h)
		}
		h.add(s, matched[s], flowOf[s])
	}
	slices.SortStableFunc(order, func(a, b *holder) int { return b.n - a.n })
	return order
}

// add counts socket s; f is its flow when matched.
func (h *holder) add(s *sockets.Socket, matched bool, f *Flow) {
	h.n++
	var fin time.Time
	if matched {
		h.seen++
		h.flows = append(h.flows, f.ID)
		// The side of the flow this socket is: the one whose peer's
		// FIN the capture holds, if it does.
		for _, side := range []flow.Side{flow.Client, flow.Server} {
			if f.Kernel.Sockets[side] == s && f.Half(side.Other()).FinAt != 0 {
				fin = f.Half(side.Other()).FinAt.Time()
			}
		}
	}
	switch {
	case !fin.IsZero():
		h.closed++
		if h.firstFin.IsZero() || fin.Before(h.firstFin) {
			h.firstFin = fin
		}
	case !s.Seen.IsZero() && (h.oldest.IsZero() || s.Seen.Before(h.oldest)):
		h.oldest = s.Seen
	}
}

// holderFinding names the process that holds CLOSE_WAIT sockets, and
// says what the capture shows of their peers' closes.
func (rep *Report) holderFinding(h *holder) Finding {
	g := socketGroup(flow.CloseWait, h.pid, h.comm)
	sum := fmt.Sprintf("%s holds %s in CLOSE_WAIT to %s (the kernel's socket table at %s)",
		g.Process(), plural(h.n, "socket"), h.peer, rep.Kernel.At.UTC().Format("15:04:05"))
	if h.pid == 0 {
		sum += " (" + NamingHint + ")"
	}
	slices.Sort(h.flows)
	switch {
	case h.closed == h.n:
		sum += fmt.Sprintf("; the capture shows the peer closing each of them (flows %s), the first %s before the table was read, and the process has not closed them since",
			IDList(h.flows, 10), FormatDuration(rep.Kernel.At.Sub(h.firstFin)))
	case h.closed > 0:
		sum += fmt.Sprintf("; the capture shows the peer closing %d of them (flows %s); the other %d were in CLOSE_WAIT before it started: the leak is older than the capture",
			h.closed, IDList(h.flows, 10), h.n-h.closed)
	case h.seen > 0:
		sum += fmt.Sprintf("; %d of them sent packets during the capture, but their peer closed before it started: the leak is older than the capture", h.seen)
	default:
		sum += "; none sent a packet during the capture: they went quiet before it started"
	}
	if age := rep.Kernel.At.Sub(h.oldest); h.closed < h.n && !h.oldest.IsZero() && age >= time.Second {
		sum += fmt.Sprintf(" (the oldest in CLOSE_WAIT for at least %s, as long as flowdoc has watched it)", FormatDuration(age))
	}
	return Finding{Class: KernelCloseWait, Severity: Error, Hosts: []netip.Addr{h.local},
		Endpoints: []netip.AddrPort{h.peer}, Flows: h.flows, Summary: sum + ".", Remedy: remedy(KernelCloseWait),
		Metrics: []Metric{{"sockets", float64(h.n)}, {"in_capture", float64(h.seen)}, {"pid", float64(h.pid)}}}
}

// Holders says which processes hold a finding's CLOSE_WAIT sockets, as
// the kernel's socket table tells: "pid 4242 (java)", or "12 by pid 4242
// (java), 3 by pid 977 (python3)", with what naming them takes when
// /proc did not say; "" when the table is not joined or holds none.
func (rep *Report) Holders(f *Finding) string {
	if rep.Kernel == nil {
		return ""
	}
	procs := map[string]int{}
	for _, id := range f.Flows {
		if fl := rep.flowByID(id); fl != nil && fl.Kernel != nil {
			for _, s := range fl.Kernel.Sockets {
				if s != nil && s.State == flow.CloseWait {
					g := socketGroup(s.State, s.PID, s.Command)
					procs[g.Process()]++
				}
			}
		}
	}
	ps := slices.Collect(maps.Keys(procs))
	slices.SortFunc(ps, func(a, b string) int { return cmp.Or(procs[b]-procs[a], strings.Compare(a, b)) })
	h := ""
	switch len(ps) {
	case 0:
		return ""
	case 1:
		h = ps[0]
	default:
		for i, p := range ps {
			ps[i] = fmt.Sprintf("%d by %s", procs[p], p)
		}
		h = strings.Join(ps, ", ")
	}
	if _, ok := procs[(&SocketGroup{state: flow.CloseWait}).Process()]; ok {
		h += " (" + NamingHint + ")"
	}
	return h
}

func (rep *Report) flowByID(id int) *Flow {
	if i := id - 1; i >= 0 && i < len(rep.Flows) && rep.Flows[i].ID == id {
		return &rep.Flows[i]
	}
	for i := range rep.Flows {
		if rep.Flows[i].ID == id {
			return &rep.Flows[i]
		}
	}
	return nil
}

// IDList spells flow IDs, the first limit of them and how many more.
func IDList(ids []int, limit int) string {
	var s []string
	for i, id := range ids {
		if i == limit {
			s = append(s, fmt.Sprintf("and %d more", len(ids)-limit))
			break
		}
		s = append(s, fmt.Sprint(id))
	}
	return strings.Join(s, ", ")
}
