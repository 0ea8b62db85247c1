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

// Finding is a conclusion about a host or endpoint across flows.
type Finding struct {
	Class    Class
	Severity Severity
	// Hosts and Endpoints are what the finding is about: the host that
	// leaks, the server endpoint that refuses.
	Hosts     []netip.Addr
	Endpoints []netip.AddrPort
	Flows     []int // flow IDs
	Metrics   []Metric
	Summary   string
	Remedy    string
	Evidence  []Evidence
}

// Metric is one number a finding rests on.
type Metric struct {
	Name  string
	Value float64
}

// maxEvidence is how many packets a finding cites.
const maxEvidence = 4

// group collects the flows with a verdict of one class under one key.
type group struct {
	key   groupKey
	flows []*Flow
	vs    []*Verdict
}

// groupKey is what a finding is about: a host, an endpoint, or both, and
// for idle closes whether they ended a wait.
type groupKey struct {
	host     netip.Addr
	endpoint netip.AddrPort
	waiting  bool
}

type grouper struct {
	order  []groupKey
	groups map[groupKey]*group
}

func (g *grouper) add(key groupKey, f *Flow, v *Verdict) {
	if g.groups == nil {
		g.groups = map[groupKey]*group{}
	}
	gr := g.groups[key]
	if gr == nil {
		gr = &group{key: key}
		g.groups[key] = gr
		g.order = append(g.order, key)
	}
	gr.flows = append(gr.flows, f)
	gr.vs = append(gr.vs, v)
}

func (g *grouper) each(fn func(*group)) {
	for _, k := range g.order {
		fn(g.groups[k])
	}
}

func ids(fs []*Flow) []int {
	out := make([]int, len(fs))
	for i, f := range fs {
		out[i] = f.ID
	}
	return out
}

// evidence takes the evidence of the first verdicts, up to maxEvidence.
func evidence(vs []*Verdict) []Evidence {
	var out []Evidence
	for _, v := range vs {
		for _, e := range v.Evidence {
			if len(out) == maxEvidence {
				return out
			}
			out = append(out, e)
		}
	}
	return out
}

func remedy(c Class) string {
	e, _ := Explain(c)
	return e.Fix
}

// countPeers counts flows per peer endpoint, busiest first: "10.0.0.2:80
// (4) and 10.0.0.3:443 (2)".
func countPeers(fs []*Flow, peer func(*Flow) netip.AddrPort) string {
	n := map[netip.AddrPort]int{}
	var order []netip.AddrPort
	for _, f := range fs {
		p := peer(f)
		if n[p] == 0 {
			order = append(order, p)
		}
		n[p]++
	}
	slices.SortStableFunc(order, func(a, b netip.AddrPort) int { return n[b] - n[a] })
	if len(order) == 1 {
		return order[0].String()
	}
	var parts []string
	for i, p := range order {
		if i == 3 {
			parts = append(parts, fmt.Sprintf("%d more", len(order)-3))
			break
		}
		parts = append(parts, fmt.Sprintf("%s (%d)", p, n[p]))
	}
	return strings.Join(parts, ", ")
}

func verdictOf(f *Flow, c Class) *Verdict {
	for i := range f.Verdicts {
		if f.Verdicts[i].Class == c {
			return &f.Verdicts[i]
		}
	}
	return nil
}

// findings groups the flows' verdicts into findings, most severe first.
func findings(rep *Report, opt Options) []Finding {
	var out []Finding
	var leaks, idles, refused, unanswered, overflow, acceptClose, stale, stalls, timeWait, ignored grouper
	// Server endpoints that completed handshakes, for telling dropped SYNs
	// from a firewall's: when each of those connections began.
	accepted := map[netip.AddrPort][]flow.Timestamp{}
	for i := range rep.Flows {
		f := &rep.Flows[i]
		if has(f.Record, flow.Server, 'H') && f.Client.Packets > 0 {
			accepted[f.Key.Server()] = append(accepted[f.Key.Server()], f.First)
		}
		for j := range f.Verdicts {
			v := &f.Verdicts[j]
			switch v.Class {
			case CloseWaitLeak:
				leaks.add(groupKey{host: f.Endpoint(v.Side).Addr()}, f, v)
			case IdleTimeoutClose:
				idles.add(groupKey{endpoint: f.Endpoint(v.Side), waiting: waitedFor(v.Side, f.Half(v.Side).DataBeforeFinFrom)}, f, v)
			case Refused:
				refused.add(groupKey{endpoint: f.Key.Server()}, f, v)
			case UnansweredSYN:
				unanswered.add(groupKey{endpoint: f.Key.Server()}, f, v)
			case ListenOverflow:
				overflow.add(groupKey{endpoint: f.Key.Server()}, f, v)
			case AcceptThenClose:
				acceptClose.add(groupKey{host: f.Key.Client().Addr(), endpoint: f.Key.Server()}, f, v)
			case StaleReuseReset:
				stale.add(groupKey{host: f.Endpoint(v.Side).Addr(), endpoint: f.Endpoint(v.Side.Other())}, f, v)
			case ZeroWindowStall:
				stalls.add(groupKey{endpoint: f.Endpoint(v.Side)}, f, v)
			case CloseIgnored:
				ignored.add(groupKey{host: f.Key.Client().Addr(), endpoint: f.Key.Server()}, f, v)
			case TimeWaitClass:
				if v.Side == flow.Client {
					timeWait.add(groupKey{host: f.Key.Client().Addr(), endpoint: f.Key.Server()}, f, v)
				}
			}
		}
	}

	// Unanswered SYNs to an endpoint that accepted others meanwhile were
	// dropped by a full listen queue, not by a firewall.
	unanswered.each(func(g *group) {
		srv := g.flows[0].Key.Server()
		var first, last flow.Timestamp
		for _, f := range g.flows {
			if first == 0 || f.First < first {
				first = f.First
			}
			last = max(last, f.Last)
		}
		// Flows are in order of first packet, but a capture's clock may
		// step back.
		acc := accepted[srv]
		if !slices.IsSorted(acc) {
			slices.Sort(acc)
		}
		if j, _ := slices.BinarySearch(acc, first-flow.Timestamp(5*time.Second)); j == len(acc) || acc[j] > last {
			return
		}
		for i, f := range g.flows {
			v := *g.vs[i]
			v.Class, v.Confidence = ListenOverflow, 0.7
			v.Summary += "; the server accepted other connections meanwhile, so its listen queue was most likely full and dropped the SYN"
			*g.vs[i] = v
			overflow.add(groupKey{endpoint: srv}, f, g.vs[i])
		}
		g.flows = nil
	})

	byClient := clientIndex{rep: rep}
	leaks.each(func(g *group) { out = append(out, leakFinding(g, rep, &byClient)) })
	idles.each(func(g *group) { out = append(out, idleFinding(g)) })
	// CLOSE_WAIT sockets per client and server endpoint: they hold ports
	// too.
	closeWait := map[pairKey]int{}
	for i := range rep.Flows {
		if f := &rep.Flows[i]; f.Client.State == flow.CloseWait {
			closeWait[pairKey{f.Key.Client().Addr(), f.Key.Server()}]++
		}
	}
	timeWait.each(func(g *group) {
		if f, ok := timeWaitFinding(g, rep, opt, closeWait); ok {
			out = append(out, f)
		}
	})
	acceptClose.each(func(g *group) { out = append(out, acceptCloseFinding(g, rep, opt)) })
	// Findings about one server endpoint and how many connections to it.
	perServer := func(c Class, g *group, summary string) {
		out = append(out, Finding{Class: c, Severity: Error, Endpoints: []netip.AddrPort{g.flows[0].Key.Server()},
			Flows: ids(g.flows), Metrics: []Metric{{"connections", float64(len(g.flows))}},
			Summary: summary, Remedy: remedy(c), Evidence: evidence(g.vs)})
	}
	overflow.each(func(g *group) {
		perServer(ListenOverflow, g, fmt.Sprintf("%s could not keep up with incoming connections: %s hit its full listen queue (SYN-ACKs sent again after the client's ACK, or SYNs dropped while other connections were accepted). The application is not calling accept() fast enough.",
			g.flows[0].Key.Server(), plural(len(g.flows), "connection")))
	})
	refused.each(func(g *group) {
		perServer(Refused, g, fmt.Sprintf("%s refused %s (SYN answered by RST) from %s: nothing listens on that port, or a firewall rejects.",
			g.flows[0].Key.Server(), plural(len(g.flows), "connection"), hostsOf(g.flows, flow.Client)))
	})
	unanswered.each(func(g *group) {
		if len(g.flows) > 0 { // none left when they turned out to be listen overflows
			perServer(UnansweredSYN, g, fmt.Sprintf("%s did not answer %s from %s at all (no SYN-ACK, no RST): a firewall drops them, or the host or route is down.",
				g.flows[0].Key.Server(), plural(len(g.flows), "connection attempt"), hostsOf(g.flows, flow.Client)))
		}
	})
	stale.each(func(g *group) {
		v := g.vs[0]
		f := g.flows[0]
		peer := f.Endpoint(v.Side.Other())
		var idle []time.Duration
		var reqs []string
		var pb PayloadBuffer
		for i, fl := range g.flows {
			s := g.vs[i].Side
			if iv := verdictOf(fl, IdleTimeoutClose); iv != nil && iv.Side == s.Other() {
				idle = append(idle, idleOf(fl, iv.Side))
			}
			if x := staleRequest(fl.Record, s, fl.Half(s.Other()).FinAt, &pb); x != nil && !slices.Contains(reqs, request(x)) {
				reqs = append(reqs, request(x))
			}
		}
		sent := "requests"
		if len(reqs) > 0 {
			if len(reqs) > 3 {
				reqs = append(reqs[:3], "…")
			}
			sent = "requests (" + strings.Join(reqs, ", ") + ")"
		}
		sum := fmt.Sprintf("%s sent %s on %s that %s had already closed, and got RST: it reuses pooled connections after the peer closed them.",
			f.Endpoint(v.Side).Addr(), sent, plural(len(g.flows), "connection"), peer)
		fix := remedy(StaleReuseReset)
		ms := []Metric{{"connections", float64(len(g.flows))}}
		if cl := ClusterDurations(idle); len(cl) > 0 {
			t := cl[0].Median
			sum = fmt.Sprintf("%s sent %s on %s that %s had closed after %s idle (its idle timeout), and got RST: its pool reuses connections the server has already closed.",
				f.Endpoint(v.Side).Addr(), sent, plural(len(g.flows), "connection"), peer, fmtDur(t))
			fix = fmt.Sprintf("Make the client pool's idle timeout shorter than %s (the server's, measured here), or validate connections after inactivity; retry idempotent requests once.", fmtDur(t))
			ms = append(ms, Metric{"peer_idle_timeout_s", t.Seconds()})
		}
		out = append(out, Finding{Class: StaleReuseReset, Severity: Warning, Hosts: []netip.Addr{f.Endpoint(v.Side).Addr()},
			Endpoints: []netip.AddrPort{peer}, Flows: ids(g.flows), Metrics: ms, Summary: sum, Remedy: fix, Evidence: evidence(g.vs)})
	})
	stalls.each(func(g *group) {
		sev, stuck := Warning, 0
		for _, v := range g.vs {
			if v.Severity == Error {
				sev, stuck = Error, stuck+1
			}
		}
		v, f := g.vs[0], g.flows[0]
		sum := fmt.Sprintf("%s stopped reading on %s: it advertised a zero receive window", f.Endpoint(v.Side), plural(len(g.flows), "connection"))
		switch {
		case stuck == 1 && len(g.flows) == 1:
			sum += ", and was still not reading at the end of the capture"
		case stuck > 0:
			sum += fmt.Sprintf(", and %d of them were still stalled at the end of the capture", stuck)
		}
		out = append(out, Finding{Class: ZeroWindowStall, Severity: sev, Endpoints: []netip.AddrPort{f.Endpoint(v.Side)},
			Flows: ids(g.flows), Metrics: []Metric{{"connections", float64(len(g.flows))}, {"stalled_at_end", float64(stuck)}},
			Summary: sum + ".", Remedy: remedy(ZeroWindowStall), Evidence: evidence(g.vs)})
	})
	ignored.each(func(g *group) { out = append(out, closeIgnoredFinding(g)) })
	out = append(out, keepAliveFindings(rep)...)

	sortFindings(out)
	if out == nil {
		out = []Finding{}
	}
	return out
}

// sortFindings puts the most severe first; problems before context.
func sortFindings(fs []Finding) {
	slices.SortStableFunc(fs, func(a, b Finding) int {
		return cmp.Or(int(b.Severity)-int(a.Severity), priority(a.Class)-priority(b.Class), len(b.Flows)-len(a.Flows))
	})
}

// priority orders findings of equal severity: problems before the
// context that explains them (an idle timeout, TIME_WAIT).
func priority(c Class) int {
	switch c {
	case IdleTimeoutClose, KeepAliveClass:
		return 2
	case TimeWaitPressure:
		return 1
	}
	return 0
}

// hostsOf lists the distinct addresses on side s of the flows.
func hostsOf(fs []*Flow, s Side) string {
	var hs []string
	seen := map[netip.Addr]bool{}
	for _, f := range fs {
		a := f.Endpoint(s).Addr()
		if !seen[a] {
			seen[a] = true
			hs = append(hs, a.String())
		}
	}
	if len(hs) > 3 {
		return fmt.Sprintf("%s and %d other hosts", strings.Join(hs[:3], ", "), len(hs)-3)
	}
	return strings.Join(hs, ", ")
}

// clientIndex finds the flows a host opened without going over every
// flow for each leak group: a capture may hold thousands of leaking
// hosts. It is built on first use.
type clientIndex struct {
	rep *Report
	by  map[netip.Addr][]int32 // indices into rep.Flows, in order
}

// flows returns the flows whose client is one of hosts, in report order.
func (x *clientIndex) flows(hosts ...netip.Addr) []*Flow {
	if x.by == nil {
		x.by = map[netip.Addr][]int32{}
		for i := range x.rep.Flows {
			a := x.rep.Flows[i].Key.Client().Addr()
			x.by[a] = append(x.by[a], int32(i))
		}
	}
	var idx []int32
	for _, h := range hosts {
		idx = append(idx, x.by[h]...)
	}
	if len(hosts) > 1 {
		slices.Sort(idx)
		idx = slices.Compact(idx) // a host named twice
	}
	fs := make([]*Flow, len(idx))
	for i, j := range idx {
		fs[i] = &x.rep.Flows[j]
	}
	return fs
}

func leakFinding(g *group, rep *Report, byClient *clientIndex) Finding {
	host := g.flows[0].Endpoint(g.vs[0].Side).Addr()
	var ages []time.Duration
	asClient, idleClosed, gaveUp := 0, 0, 0
	var idleTimes []time.Duration
	for i, f := range g.flows {
		ages = append(ages, g.vs[i].Age)
		if g.vs[i].Side == flow.Client {
			asClient++
		}
		if iv := verdictOf(f, IdleTimeoutClose); iv != nil && iv.Side == g.vs[i].Side.Other() {
			idleClosed++
			idleTimes = append(idleTimes, idleOf(f, iv.Side))
			if waitedFor(iv.Side, f.Half(iv.Side).DataBeforeFinFrom) {
				gaveUp++
			}
		}
	}
	slices.Sort(ages)
	n := len(g.flows)
	role := "client"
	var upstream []*Flow // a proxy's own connections
	waiting := 0         // ... still without an answer
	if asClient == 0 {
		role = "server"
		// A host that leaks accepted connections while it opens its own
		// upstream ones is a proxy; it may open them from another of its
		// addresses, which a capture on it shows.
		self := []netip.Addr{host}
		if slices.Contains(rep.LocalAddrs, host) {
			self = append(self, rep.LocalAddrs...)
		}
		for _, f := range byClient.flows(self...) {
			role = "proxy"
			upstream = append(upstream, f)
			if f.Client.State == flow.Established && f.Client.Bytes > 0 && f.Server.Bytes == 0 {
				waiting++
			}
		}
	} else if asClient < n {
		role = "client and server"
	}
	peer := func(f *Flow) netip.AddrPort {
		for _, v := range f.Verdicts {
			if v.Class == CloseWaitLeak {
				return f.Endpoint(v.Side.Other())
			}
		}
		return f.Key.Server()
	}
	var sb strings.Builder
	oldest := "for"
	if n > 1 {
		oldest = "the oldest for"
	}
	fmt.Fprintf(&sb, "%s holds %s to %s in CLOSE_WAIT, %s %s", host, plural(n, "connection"), countPeers(g.flows, peer), oldest, fmtDur(ages[n-1]))
	if n > 2 {
		fmt.Fprintf(&sb, " (median %s)", fmtDur(median(ages)))
	}
	sb.WriteString(". ")
	other := "the server"
	switch role {
	case "server":
		other = "the client"
	case "proxy":
		other = "the caller"
	case "client and server":
		other = "the peer"
	}
	every := "In every one"
	if n == 1 {
		every = "There"
	}
	switch {
	case idleClosed == n && gaveUp == n:
		cl := ClusterDurations(idleTimes)
		fmt.Fprintf(&sb, "%s %s gave up waiting for an answer after %s and closed, and %s acknowledged the FIN, but its application never closed the socket: it is still working on, or blocked in, the request.",
			every, other, fmtDur(cl[0].Median), host)
	case idleClosed == n:
		cl := ClusterDurations(idleTimes)
		fmt.Fprintf(&sb, "%s %s sent FIN after %s of idle time (its keep-alive timeout) and %s acknowledged it, but its application never closed the socket.",
			every, other, fmtDur(cl[0].Median), host)
	case idleClosed > 0:
		fmt.Fprintf(&sb, "In %d of them %s closed after an idle period; in all, %s acknowledged the FIN but its application never closed the socket.", idleClosed, other, host)
	default:
		fmt.Fprintf(&sb, "%s closed each one and %s acknowledged the FIN, but its application never closed the socket.", upperFirst(other), host)
	}
	fix := remedy(CloseWaitLeak)
	statuses, statusMetrics, errorsOnly := leakStatuses(g, byClient)
	switch role {
	case "client":
		sb.WriteString(statuses)
		sb.WriteString(" Fix the client: close or release the connection after each response.")
		fix = "Close or release the connection after every response, error responses included (read the body to the end or abort the request), and close it when a read returns EOF. A pooled client must evict connections the server has closed, and its idle timeout should be shorter than the server's keep-alive timeout."
		if errorsOnly {
			fix = "Release the connection on error responses too: the code path that handles a 4xx or 5xx returns without closing the response (read or discard its body and close it, e.g. in a finally block or defer). Also close the connection when a read returns EOF."
		}
	case "proxy":
		fmt.Fprintf(&sb, " It also opens connections of its own (%s to %s", plural(len(upstream), "connection"),
			countPeers(upstream, func(f *Flow) netip.AddrPort { return f.Key.Server() }))
		if waiting > 0 {
			fmt.Fprintf(&sb, ", %d of them still waiting for an answer", waiting)
		}
		sb.WriteString("): a proxy that does not close its side when its caller closes.")
		fix = "The proxy must close the caller's connection when the caller closes it (a read returning EOF), even while it waits on the upstream; put timeouts on upstream calls so that no worker blocks forever."
	case "server":
		sb.WriteString(" Fix the server: close the socket when the client has closed it.")
		fix = "The server application must close its socket when a read returns EOF (the client has closed), also while it is busy with the request: put timeouts on what it waits on (upstream calls, locks, queues), so that a worker is never blocked longer than its callers wait."
	}
	return Finding{Class: CloseWaitLeak, Severity: Error, Hosts: []netip.Addr{host}, Flows: ids(g.flows),
		Metrics: append([]Metric{{"sockets", float64(n)}, {"oldest_s", ages[n-1].Seconds()}, {"median_age_s", median(ages).Seconds()},
			{"closed_by_idle_timeout", float64(idleClosed)}}, statusMetrics...),
		Summary: sb.String(), Remedy: fix, Evidence: evidence(g.vs[:1])}
}

// idleOf is how long the connection was quiet before side s's FIN.
func idleOf(f *Flow, s Side) time.Duration {
	h := f.Half(s)
	return h.FinAt.Sub(h.DataBeforeFin)
}

func idleFinding(g *group) Finding {
	v0, f0 := g.vs[0], g.flows[0]
	ep := f0.Endpoint(v0.Side)
	if waitedFor(v0.Side, f0.Half(v0.Side).DataBeforeFinFrom) {
		return waitFinding(g)
	}
	var idle []time.Duration
	leaked, reused := 0, 0
	for i, f := range g.flows {
		idle = append(idle, idleOf(f, g.vs[i].Side))
		if lv := verdictOf(f, CloseWaitLeak); lv != nil && lv.Side == g.vs[i].Side.Other() {
			leaked++
		}
		if sv := verdictOf(f, StaleReuseReset); sv != nil && sv.Side == g.vs[i].Side.Other() {
			reused++
		}
	}
	cl := ClusterDurations(idle)
	main := cl[0]
	who := "server"
	if v0.Side == flow.Client {
		who = "client"
	}
	var sb strings.Builder
	fmt.Fprintf(&sb, "%s (%s) closed %s after %s without traffic", ep, who, plural(len(g.flows), "idle connection"), fmtDur(main.Median))
	if len(main.Values) > 1 {
		if lo, hi := fmtDur(main.Min), fmtDur(main.Max); lo != hi {
			fmt.Fprintf(&sb, " (median of %d, %s to %s)", len(main.Values), lo, hi)
		} else {
			fmt.Fprintf(&sb, " (all %d)", len(main.Values))
		}
	}
	if others := len(idle) - len(main.Values); others > 0 {
		fmt.Fprintf(&sb, "; %d more after other idle times", others)
	}
	sb.WriteString(": its idle or keep-alive timeout")
	if m := MatchDefaults(main.Median); len(m) > 0 {
		var names []string
		for _, d := range m {
			names = append(names, d.String())
		}
		fmt.Fprintf(&sb, ", which matches the default of %s", strings.Join(names, ", or "))
	}
	sb.WriteString(".")
	anyHTTP := false
	var pb PayloadBuffer
	for i, f := range g.flows {
		anyHTTP = anyHTTP || httpOf(f.Record, g.vs[i].Side.Other(), &pb) != nil
	}
	kaText, kaMetrics := keepAliveText(main.Median, advertisedKeepAlive(g.flows, v0.Side), anyHTTP)
	sb.WriteString(kaText)
	sev := Info
	if leaked > 0 {
		sev = Warning
		if leaked == len(g.flows) {
			fmt.Fprintf(&sb, " Every one of these connections was then leaked by its peer in CLOSE_WAIT: the timeout is what exposes the leak.")
		} else {
			fmt.Fprintf(&sb, " %d of them were then leaked by their peer in CLOSE_WAIT.", leaked)
		}
	}
	if reused > 0 {
		sev = Warning
		fmt.Fprintf(&sb, " %s then reused by the peer anyway, and reset: its pool keeps connections idle longer than this.",
			map[bool]string{true: "Every one was", false: fmt.Sprintf("%d of them were", reused)}[reused == len(g.flows)])
	}
	return Finding{Class: IdleTimeoutClose, Severity: sev, Endpoints: []netip.AddrPort{ep}, Flows: ids(g.flows),
		Metrics: append([]Metric{{"connections", float64(len(g.flows))}, {"idle_median_s", main.Median.Seconds()},
			{"idle_min_s", main.Min.Seconds()}, {"idle_max_s", main.Max.Seconds()}, {"leaked_after", float64(leaked)},
			{"reused_after", float64(reused)}}, kaMetrics...),
		Summary: sb.String(), Remedy: remedy(IdleTimeoutClose), Evidence: evidence(g.vs[:1])}
}

// waitFinding reports closes that ended a wait for an answer: the closer
// sent data last, then gave up.
func waitFinding(g *group) Finding {
	v0, f0 := g.vs[0], g.flows[0]
	ep := f0.Endpoint(v0.Side)
	var waits []time.Duration
	leaked := 0
	for i, f := range g.flows {
		waits = append(waits, idleOf(f, g.vs[i].Side))
		if lv := verdictOf(f, CloseWaitLeak); lv != nil && lv.Side == g.vs[i].Side.Other() {
			leaked++
		}
	}
	main := ClusterDurations(waits)[0]
	peer := f0.Endpoint(v0.Side.Other())
	var sb strings.Builder
	fmt.Fprintf(&sb, "%s gave up on %s to %s after waiting %s for an answer to its last data (a request or read timeout), and closed",
		ep.Addr(), plural(len(g.flows), "connection"), peer, fmtDur(main.Median))
	sev := Info
	if leaked > 0 {
		sev = Warning
		fmt.Fprintf(&sb, "; %s never closed %s in turn (see its CLOSE_WAIT leak): it is stuck on something slower than %s's timeout", peer.Addr(), plural(leaked, "of them"), ep.Addr())
	}
	sb.WriteString(".")
	return Finding{Class: IdleTimeoutClose, Severity: sev, Hosts: []netip.Addr{ep.Addr()}, Endpoints: []netip.AddrPort{peer},
		Flows:   ids(g.flows),
		Metrics: []Metric{{"connections", float64(len(g.flows))}, {"wait_median_s", main.Median.Seconds()}, {"leaked_after", float64(leaked)}},
		Summary: sb.String(), Remedy: "Find out why " + peer.String() + " does not answer within the timeout (the upstream it waits on, a thread dump), and make it close connections whose caller has gone.",
		Evidence: evidence(g.vs[:1])}
}

// rate is connections per second over the time they span (at least 1 s).
func rate(n int, first, last flow.Timestamp) float64 {
	span := max(last.Sub(first), time.Second)
	return float64(n) / span.Seconds()
}

// pairKey is a client host and the server endpoint it connects to.
type pairKey struct {
	client netip.Addr
	server netip.AddrPort
}

func timeWaitFinding(g *group, rep *Report, opt Options, closeWaits map[pairKey]int) (Finding, bool) {
	f0 := g.flows[0]
	client, server := f0.Key.Client().Addr(), f0.Key.Server()
	n := len(g.flows)
	var first, last flow.Timestamp
	since := make([]flow.Timestamp, 0, n)
	for i, f := range g.flows {
		if i == 0 || f.First < first {
			first = f.First
		}
		last = max(last, f.Client.FinAt)
		since = append(since, flow.TS(g.vs[i].Since))
	}
	p := PortPressure{Rate: rate(n, first, last), TimeWait: opt.TimeWait, Ports: opt.PortRange.Size()}
	peak := peakConcurrent(since, opt.TimeWait, flow.TS(rep.End))
	closeWait := closeWaits[pairKey{client, server}]
	share := max(p.Share(), float64(peak+closeWait)/float64(p.Ports))
	if n < 10 && share < 0.25 {
		return Finding{}, false
	}
	sev := Info
	switch {
	case share >= 1:
		sev = Error // connects fail
	case share >= 0.25:
		sev = Warning
	}
	var sb strings.Builder
	fmt.Fprintf(&sb, "%s closed %s to %s first, %.1f per second, and each holds a local port in TIME_WAIT for %s: that rate keeps %.0f of its %d ephemeral ports (%s) busy, %.0f%%",
		client, plural(n, "connection"), server, p.Rate, fmtDur(opt.TimeWait), p.Implied(), p.Ports, opt.PortRange, 100*p.Share())
	fmt.Fprintf(&sb, "; %d were in TIME_WAIT at once in the capture", peak)
	if closeWait > 0 {
		fmt.Fprintf(&sb, ", and %d more ports are held by CLOSE_WAIT sockets", closeWait)
	}
	sb.WriteString(".")
	if p.Exhausted() || peak+closeWait >= p.Ports {
		fmt.Fprintf(&sb, " That is all of them: new connections to %s fail (EADDRNOTAVAIL) until ports come out of TIME_WAIT.", server)
	} else {
		fmt.Fprintf(&sb, " Ports run out at %.0f connections per second.", p.MaxRate())
	}
	win := PortPressure{Rate: p.Rate, TimeWait: windowsTimeWait, Ports: WindowsPortRange.Size()}
	fmt.Fprintf(&sb, " On Windows (%d ports, %s TIME_WAIT) the same rate would hold %.0f ports, %.0f%%.", win.Ports, fmtDur(windowsTimeWait), win.Implied(), 100*win.Share())
	return Finding{Class: TimeWaitPressure, Severity: sev, Hosts: []netip.Addr{client}, Endpoints: []netip.AddrPort{server},
		Flows: ids(g.flows),
		Metrics: []Metric{{"connections", float64(n)}, {"rate_per_s", p.Rate}, {"implied_time_wait", p.Implied()},
			{"peak_time_wait", float64(peak)}, {"close_wait", float64(closeWait)}, {"ports", float64(p.Ports)}, {"share", share}},
		Summary: sb.String(), Remedy: remedy(TimeWaitPressure)}, true
}

// peakConcurrent is the most intervals [s, s+d) (cut at end) that overlap.
func peakConcurrent(starts []flow.Timestamp, d time.Duration, end flow.Timestamp) int {
	type edge struct {
		at    flow.Timestamp
		delta int
	}
	es := make([]edge, 0, 2*len(starts))
	for _, s := range starts {
		if s > end {
			continue
		}
		es = append(es, edge{s, 1}, edge{min(s+flow.Timestamp(d), end+1), -1})
	}
	slices.SortFunc(es, func(a, b edge) int { return cmp.Or(cmp.Compare(a.at, b.at), a.delta-b.delta) })
	cur, peak := 0, 0
	for _, e := range es {
		cur += e.delta
		peak = max(peak, cur)
	}
	return peak
}

func acceptCloseFinding(g *group, rep *Report, opt Options) Finding {
	f0 := g.flows[0]
	client, server := f0.Key.Client().Addr(), f0.Key.Server()
	n := len(g.flows)
	var first, last flow.Timestamp
	tw := 0
	for i, f := range g.flows {
		if i == 0 || f.First < first {
			first = f.First
		}
		last = max(last, f.First)
		if f.Server.State == flow.TimeWait {
			tw++
		}
	}
	r := float64(n) / max(last.Sub(first), time.Second).Seconds()
	metrics := []Metric{{"connections", float64(n)}, {"rate_per_s", r}, {"server_time_wait", float64(tw)}}
	if n >= 5 && r >= 1 {
		return Finding{Class: ReconnectStorm, Severity: Error, Hosts: []netip.Addr{client}, Endpoints: []netip.AddrPort{server},
			Flows: ids(g.flows), Metrics: metrics,
			Summary: fmt.Sprintf("%s opened %s to %s in %s (%.1f per second), and the server accepted and closed every one at once, before sending any data: it refuses this client, typically because the client is over a per-client connection cap (ZooKeeper's maxClientCnxns, a database's connection limit). Each attempt leaves a TIME_WAIT socket on the server (%d now).",
				client, plural(n, "connection"), server, fmtDur(last.Sub(first)), r, tw),
			Remedy: remedy(ReconnectStorm), Evidence: evidence(g.vs[:1])}
	}
	return Finding{Class: AcceptThenClose, Severity: Warning, Hosts: []netip.Addr{client}, Endpoints: []netip.AddrPort{server},
		Flows: ids(g.flows), Metrics: metrics,
		Summary: fmt.Sprintf("%s accepted %s from %s and closed them at once, before sending any data: a connection cap or an access check refuses this client.",
			server, plural(n, "connection"), client),
		Remedy: remedy(AcceptThenClose), Evidence: evidence(g.vs[:1])}
}

// keepAliveFindings reports, per host, the keep-alive probes it sends and
// their interval, and long-idle open connections without any.
func keepAliveFindings(rep *Report) []Finding {
	type probes struct {
		flows     []*Flow
		intervals []time.Duration
		ev        []Evidence
	}
	by := map[netip.Addr]*probes{}
	var order []netip.Addr
	var silent []*Flow
	end := flow.TS(rep.End)
	for i := range rep.Flows {
		f := &rep.Flows[i]
		any := false
		for _, s := range []Side{flow.Client, flow.Server} {
			h := f.Half(s)
			if h.KeepAlives == 0 {
				continue
			}
			any = true
			a := f.Endpoint(s).Addr()
			p := by[a]
			if p == nil {
				p = &probes{}
				by[a] = p
				order = append(order, a)
			}
			p.flows = append(p.flows, f)
			if ka := f.KeepAlive; h.KeepAlives > 1 && ka != nil {
				p.intervals = append(p.intervals, ka.Last[s].Sub(ka.First[s])/time.Duration(h.KeepAlives-1))
			}
			if e := firstEvent(f.Record, func(e *Event) bool { return e.From == s && e.Note&flow.NoteKeepAlive != 0 }); e != nil && len(p.ev) < maxEvidence {
				p.ev = append(p.ev, ev(e, keepAliveProbeFrom[s]))
			}
		}
		idle := end.Sub(f.Last)
		if !any && f.Client.State == flow.Established && f.Server.State == flow.Established && idle >= 10*time.Minute {
			silent = append(silent, f)
		}
	}
	var out []Finding
	for _, a := range order {
		p := by[a]
		sum := fmt.Sprintf("%s sends TCP keep-alive probes on %s", a, plural(len(p.flows), "connection"))
		ms := []Metric{{"connections", float64(len(p.flows))}}
		if cl := ClusterDurations(p.intervals); len(cl) > 0 {
			sum += fmt.Sprintf(", every %s", fmtDur(cl[0].Median))
			ms = append(ms, Metric{"interval_s", cl[0].Median.Seconds()})
		}
		out = append(out, Finding{Class: KeepAliveClass, Severity: Info, Hosts: []netip.Addr{a}, Flows: ids(p.flows), Metrics: ms,
			Summary: sum + ": idle connections are kept alive and dead peers detected.", Remedy: remedy(KeepAliveClass), Evidence: p.ev})
	}
	if len(silent) > 0 {
		out = append(out, Finding{Class: KeepAliveClass, Severity: Info, Flows: ids(silent),
			Metrics: []Metric{{"connections", float64(len(silent))}},
			Summary: fmt.Sprintf("%s sat idle for 10 minutes or more with no keep-alive probe: a NAT or firewall idle timeout on the path may drop them silently, and the next request on them then fails.", plural(len(silent), "open connection")),
			Remedy:  remedy(KeepAliveClass)})
	}
	return out
}

func upperFirst(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}
