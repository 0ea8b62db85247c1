package analyze

import (
	"cmp"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"time"

	"github.com/flowdoc/flowdoc/flow"
	"github.com/flowdoc/flowdoc/flow/payload"
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
	// Folded counts the connections the finding is about that were
	// counted in an Aggregate rather than kept as flows.
	Folded   int
	Metrics  []Metric
	Summary  string
	Remedy   string
	Evidence []Evidence
}

// Connections is how many connections the finding is about, folded
// ones included.
func (f *Finding) Connections() int { return len(f.Flows) + f.Folded }

// Size says how many connections the finding is about: "3 flows", or
// "55,938 connections, 55,738 of them counted, not listed".
func (f *Finding) Size() string {
	if f.Folded == 0 {
		return many(len(f.Flows), "flow")
	}
	return fmt.Sprintf("%s connections, %s of them counted, not listed", thousands(f.Connections()), thousands(f.Folded))
}

// FlowList lists the finding's flow IDs, at most limit of them, and says
// how many more were counted in an aggregate.
func (f *Finding) FlowList(limit int) string {
	s := IDList(f.Flows, limit)
	if f.Folded > 0 {
		s += fmt.Sprintf(" and %s more counted, not listed (the aggregates)", thousands(f.Folded))
	}
	return s
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
	mass     bool // a server's idle closes all at once (Verdict.mass)
	pings    bool // a server's closes for its clients' pings (Verdict.pings)
	unused   bool // closes of connections that carried no data (Verdict.unused)
	greet    bool // a client's closes waiting for a greeting (Verdict.greetWait)
	taken    bool // connections the server never came to (Verdict.notTakenUp)
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

// evidence takes the evidence of the first verdicts, up to maxEvidence:
// g's, or its first verdict's (first).
func evidence(g *group, first bool) []Evidence {
	vs := g.vs
	if first {
		vs = vs[:1]
	}
	var out []Evidence
	var pb payload.Buffer
	for i, v := range vs {
		_, detailed := v.detailed(g.flows[i], &pb)
		for _, e := range detailed {
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
	name := func(p netip.AddrPort) string {
		if p.Port() == 0 {
			return p.Addr().String() // a host, its ports many
		}
		return p.String()
	}
	if len(order) == 1 {
		return name(order[0])
	}
	var parts []string
	for i, p := range order {
		if i == 3 {
			rest := 0
			for _, q := range order[3:] {
				rest += n[q]
			}
			k := len(order) - 3
			parts = append(parts, fmt.Sprintf("%d more %s (%d)", k, map[bool]string{true: "endpoint", false: "endpoints"}[k == 1], rest))
			break
		}
		parts = append(parts, fmt.Sprintf("%s (%d)", name(p), n[p]))
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

// findCtx is what the finding builders share: the report, the options,
// and indexes built on first use.
type findCtx struct {
	rep      *Report
	opt      Options
	byClient *clientIndex
	// closeWaitApart counts, per host, the CLOSE_WAIT sockets that no
	// leak verdict holds (too young to judge, or still sending).
	closeWaitApart map[netip.Addr]apartCounts
	// leakHosts are the hosts a CLOSE_WAIT leak verdict is about.
	leakHosts map[netip.Addr]bool
	closeWait map[pairKey]int
	// idleLow holds, per endpoint, the shortest idle time after which it
	// closed a connection (shortestIdleClose).
	idleLow map[netip.AddrPort]time.Duration
	// byPair lists the flows of each client host and server endpoint
	// with a stale reuse, in order of their first packet (resent).
	byPair map[pairKey][]int
	// stale counts, per host, its connections with a stale reuse of its
	// own (staleFrom).
	stale map[netip.Addr]int
	// toAddr lists the flows to each server address (copies left out),
	// for callersGot; made at its first call.
	toAddr map[netip.Addr][]int32
}

// closeWaits counts the CLOSE_WAIT sockets per client and server
// endpoint: they hold ports too.
func (fx *findCtx) closeWaits() map[pairKey]int {
	if fx.closeWait == nil {
		fx.closeWait = map[pairKey]int{}
		for i := range fx.rep.Flows {
			if fx.rep.isCopy(i) {
				continue
			}
			if f := &fx.rep.Flows[i]; f.Client.State == flow.CloseWait {
				fx.closeWait[pairKey{f.Key.Client().Addr(), f.Key.Server()}]++
			}
		}
	}
	return fx.closeWait
}

// findings groups the flows' verdicts into findings, each class by its
// detector, most severe first. Verdicts are read, never changed.
func findings(rep *Report, opt Options) []Finding {
	fx := &findCtx{rep: rep, opt: opt, byClient: &clientIndex{rep: rep}, closeWaitApart: map[netip.Addr]apartCounts{},
		leakHosts: map[netip.Addr]bool{}}
	groups := map[Class]*grouper{}
	for i := range rep.Flows {
		f := &rep.Flows[i]
		if rep.isCopy(i) {
			continue // its connection is the first flow's
		}
		for j := range f.Verdicts {
			v := &f.Verdicts[j]
			if v.Class == CloseWaitLeak {
				fx.leakHosts[f.Endpoint(v.Side).Addr()] = true
			}
			d := grouped[v.Class]
			if d == nil {
				continue
			}
			key, ok := d.group(f, v)
			if !ok {
				continue
			}
			g := groups[v.Class]
			if g == nil {
				g = &grouper{}
				groups[v.Class] = g
			}
			g.add(key, f, v)
		}
		for _, s := range []flow.Side{flow.Client, flow.Server} {
			if f.Half(s).State != flow.CloseWait || hasVerdict(f, CloseWaitLeak, s) {
				continue
			}
			a := fx.closeWaitApart[f.Endpoint(s).Addr()]
			switch {
			case hasVerdict(f, HalfCloseOK, s.Other()):
				a.sending++
			case pooledCloseWait(f, s):
				a.pooled++
				a.pooledFlows = append(a.pooledFlows, f.ID)
				a.oldestPooled = max(a.oldestPooled, flow.TS(rep.End).Sub(f.Half(s).Since))
			case lostAtClose(f.Record, s, flow.TS(rep.End)) != "":
				a.lost++
				a.flows = append(a.flows, f.ID)
			default:
				a.young++
				a.flows = append(a.flows, f.ID)
				a.oldest = max(a.oldest, flow.TS(rep.End).Sub(f.Half(s).Since))
			}
			fx.closeWaitApart[f.Endpoint(s).Addr()] = a
		}
	}
	var out []Finding
	for _, d := range detectors {
		if d.all != nil {
			out = append(out, d.all(fx)...)
		}
		if g := groups[d.class]; g != nil {
			g.each(func(g *group) { out = append(out, d.findings(g, fx)...) })
		}
	}
	out = foldAggregates(out, rep)
	noteTranslations(out, rep)
	sortFindings(out)
	if out == nil {
		out = []Finding{}
	}
	return out
}

// hasVerdict reports whether f has a verdict of class c on side s.
func hasVerdict(f *Flow, c Class, s flow.Side) bool {
	for i := range f.Verdicts {
		if f.Verdicts[i].Class == c && f.Verdicts[i].Side == s {
			return true
		}
	}
	return false
}

// sortFindings puts the most severe first; problems before context.
func sortFindings(fs []Finding) {
	slices.SortStableFunc(fs, func(a, b Finding) int {
		return cmp.Or(int(b.Severity)-int(a.Severity), priority(a.Class)-priority(b.Class), b.Connections()-a.Connections())
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
func hostsOf(fs []*Flow, s flow.Side) string {
	var hs []string // the first three, spelled
	seen := map[netip.Addr]struct{}{}
	for _, f := range fs {
		a := f.Endpoint(s).Addr()
		if _, ok := seen[a]; !ok {
			seen[a] = struct{}{}
			if len(hs) < 3 {
				hs = append(hs, a.String())
			}
		}
	}
	if len(seen) > 3 {
		return fmt.Sprintf("%s and %d other hosts", strings.Join(hs, ", "), len(seen)-3)
	}
	return strings.Join(hs, ", ")
}

// clientIndex finds the flows a host opened without going over every
// flow for each leak group: a capture may hold thousands of leaking
// hosts. It is built on first use.
type clientIndex struct {
	rep *Report
	by  map[netip.Addr][]int32 // indices into rep.Flows, in order, copies left out
}

// flows returns the flows whose client is one of hosts, in report order.
func (x *clientIndex) flows(hosts ...netip.Addr) []*Flow {
	if x.by == nil {
		x.by = map[netip.Addr][]int32{}
		for i := range x.rep.Flows {
			if x.rep.isCopy(i) {
				continue
			}
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

func upperFirst(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}

// pooledCloseWait reports whether side s of f is in CLOSE_WAIT held by a
// pool until its next use (Verdict.pooled).
func pooledCloseWait(f *Flow, s flow.Side) bool {
	for i := range f.Verdicts {
		if v := &f.Verdicts[i]; v.Class == OpenClass && v.Side == s && v.pooled {
			return true
		}
	}
	return false
}

// callersGot says what the callers of host got, where host is a proxy
// whose upstream connections failed at the moments at (reset, or given
// up): the error responses (5xx) it sent on connections to it (on any
// address of the capture's host, when it is one) within proxyLag after
// one of them, by status: "502 Bad Gateway on 2". "" when none.
func (fx *findCtx) callersGot(host netip.Addr, at []flow.Timestamp) string {
	if len(at) == 0 {
		return ""
	}
	self := fx.hostAddrs(host)
	lo, hi := slices.Min(at), slices.Max(at)+flow.Timestamp(proxyLag)
	type answer struct {
		t      flow.Timestamp
		status string
	}
	var answers []answer
	var pb payload.Buffer
	for _, a := range self {
		for _, i := range fx.flowsToAddr(a) {
			f := &fx.rep.Flows[i]
			if f.Last < lo || f.First > hi {
				continue
			}
			h := httpOf(f.Record, flow.Client, &pb)
			if h == nil {
				continue
			}
			for j := range h.Exchanges {
				x := &h.Exchanges[j]
				t := flow.Timestamp(x.ResponseAt)
				if x.Status < 500 || t == 0 {
					continue
				}
				if t >= lo && t <= hi {
					answers = append(answers, answer{t, x.StatusLine()})
				}
			}
		}
	}
	// Each failure answered once: the earliest error after it not
	// taken by an earlier one.
	slices.SortFunc(answers, func(a, b answer) int { return cmp.Compare(a.t, b.t) })
	at = slices.Sorted(slices.Values(at))
	got := map[string]int{}
	next := 0
	for _, u := range at {
		for next < len(answers) && answers[next].t < u {
			next++
		}
		if next < len(answers) && answers[next].t.Sub(u) <= proxyLag {
			got[answers[next].status]++
			next++
		}
	}
	var out []string
	for st, n := range got {
		out = append(out, fmt.Sprintf("%s on %d", st, n))
	}
	slices.Sort(out)
	return strings.Join(out, ", ")
}

// flowsToAddr lists the flows to server address a (copies left out), by
// an index made at the first call.
func (fx *findCtx) flowsToAddr(a netip.Addr) []int32 {
	if fx.toAddr == nil {
		fx.toAddr = map[netip.Addr][]int32{}
		for i := range fx.rep.Flows {
			if !fx.rep.isCopy(i) {
				s := fx.rep.Flows[i].Key.Server().Addr()
				fx.toAddr[s] = append(fx.toAddr[s], int32(i))
			}
		}
	}
	return fx.toAddr[a]
}

// hostAddrs returns the addresses of host: the capturing host's, where
// host is one of them (a capture on the host shows it under each), else
// host alone.
func (fx *findCtx) hostAddrs(host netip.Addr) []netip.Addr {
	if slices.Contains(fx.rep.LocalAddrs, host) {
		return fx.rep.LocalAddrs
	}
	return []netip.Addr{host}
}
