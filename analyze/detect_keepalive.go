package analyze

import (
	"fmt"
	"net/netip"
	"time"

	"github.com/flowdoc/flowdoc/flow"
)

// TCP keep-alive: per host, the probes it sends and their interval; and
// long-idle open connections without any. Findings only, from every flow.
var keepAliveDetector = detector{class: KeepAliveClass, explain: Explanation{
	Class: KeepAliveClass, Title: "TCP keep-alive",
	Meaning: "TCP keep-alive probes (one byte below the next sequence number, answered with an ACK) keep idle " +
		"connections alive through NAT and firewalls and detect dead peers. Without them, an idle connection " +
		"can be dropped silently by a middlebox, and the first request after the idle period fails.",
	Detection: "Keep-alive probes per host with the interval between them; connections idle for a long time " +
		"with no probe at all. Zero-window probes, which look the same, are told apart by the peer's zero window.",
	Causes: "SO_KEEPALIVE with net.ipv4.tcp_keepalive_time (7200 s by default), tcp_keepalive_intvl (75 s) " +
		"and tcp_keepalive_probes (9), or the application's own settings.",
	Confirm: "ss -tno: the keepalive timer of each socket; sysctl net.ipv4.tcp_keepalive_time.",
	Fix: "Enable keep-alive with an idle time shorter than the shortest idle timeout on the path (NAT, " +
		"firewall, load balancer) for long-lived idle connections.",
},
	all: func(fx *findCtx) []Finding { return keepAliveFindings(fx.rep) }}

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
		if rep.isCopy(i) {
			continue // its probes are the flow's it copies
		}
		f := &rep.Flows[i]
		any := false
		for _, s := range []flow.Side{flow.Client, flow.Server} {
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
			// The interval, where the probes followed one another with no
			// data between (data restarts the idle time, and the spacing
			// would be the application's).
			if ka := f.KeepAlive; h.KeepAlives > 1 && ka != nil && max(f.Client.LastPayload, f.Server.LastPayload) < ka.First[s] {
				p.intervals = append(p.intervals, ka.Last[s].Sub(ka.First[s])/time.Duration(h.KeepAlives-1))
			}
			if e := firstEvent(f.Record, func(e *flow.Event) bool { return e.From == s && e.Note&flow.NoteKeepAlive != 0 }); e != nil && len(p.ev) < maxEvidence {
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
