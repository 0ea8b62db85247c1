package analyze

import (
	"fmt"
	"net/netip"
	"slices"
	"strings"
)

// Filter narrows a report. The zero Filter keeps everything.
type Filter struct {
	// Host keeps the flows with this address at either end, and the
	// findings about them.
	Host netip.Addr
	// Port keeps the flows with this port at either end.
	Port uint16
	// Classes keeps the flows with a verdict of one of these classes, and
	// the findings of these classes.
	Classes []Class
	// MinSeverity keeps the flows with a verdict at least this severe,
	// and the findings too.
	MinSeverity Severity
}

// IsZero reports whether f keeps everything.
func (f Filter) IsZero() bool {
	return !f.Host.IsValid() && f.Port == 0 && len(f.Classes) == 0 && f.MinSeverity == Info
}

func (f Filter) String() string {
	var parts []string
	if f.Host.IsValid() {
		parts = append(parts, "host "+f.Host.String())
	}
	if f.Port != 0 {
		parts = append(parts, fmt.Sprintf("port %d", f.Port))
	}
	if len(f.Classes) > 0 {
		var cs []string
		for _, c := range f.Classes {
			cs = append(cs, string(c))
		}
		parts = append(parts, "verdict "+strings.Join(cs, ","))
	}
	if f.MinSeverity > Info {
		parts = append(parts, "severity "+f.MinSeverity.String()+" or worse")
	}
	return strings.Join(parts, ", ")
}

// inScope reports whether a flow is about f's host and port.
func (f Filter) inScope(fl *Flow) bool {
	if f.Host.IsValid() && fl.Key.Client().Addr().Unmap() != f.Host && fl.Key.Server().Addr().Unmap() != f.Host {
		return false
	}
	if f.Port != 0 && fl.Key.Client().Port() != f.Port && fl.Key.Server().Port() != f.Port {
		return false
	}
	return true
}

// keepsAggregate reports whether f keeps an aggregate: about its host
// (the server, the scanning client, or a client it names for sending its
// SYNs again) and port, of a class it asks for.
// The aggregate's other ends are too many to be told apart; an Other
// aggregate's servers are, when its peers were counted exactly.
func (f Filter) keepsAggregate(a *Aggregate) bool {
	// The clients it names, that sent their SYNs again, are its too.
	retried := slices.ContainsFunc(a.RetriedBy, func(p PeerCount) bool { return p.Peer.Addr().Unmap() == f.Host })
	if a.Other {
		// One of its endpoints, when they were counted one by one, or the
		// host or port they all had: both, when both are asked for. A
		// client it names went to one of them.
		names := func(host netip.Addr, port uint16) bool {
			return (!f.Host.IsValid() || retried || host.Unmap() == f.Host) && (f.Port == 0 || port == f.Port)
		}
		return (len(f.Classes) == 0 || slices.Contains(f.Classes, a.Class)) &&
			(names(a.OneHost, a.OnePort) || slices.ContainsFunc(a.TopPeers, func(p PeerCount) bool { return names(p.Peer.Addr(), p.Peer.Port()) }))
	}
	switch {
	case f.Host.IsValid() && a.Server.Addr().Unmap() != f.Host && a.Client.Unmap() != f.Host && !retried,
		f.Port != 0 && a.Server.Port() != f.Port,
		len(f.Classes) > 0 && !slices.Contains(f.Classes, a.Class):
		return false
	}
	return true
}

// keepsVerdicts reports whether a flow has a verdict f asks for.
func (f Filter) keepsVerdicts(fl *Flow) bool {
	if len(f.Classes) == 0 && f.MinSeverity == Info {
		return true
	}
	for _, v := range fl.Verdicts {
		if (len(f.Classes) == 0 || slices.Contains(f.Classes, v.Class)) && v.Severity >= f.MinSeverity {
			return true
		}
	}
	return false
}

// Filtered returns the report narrowed by f: the flows it selects, the
// aggregates about its host and port, the findings about them, and the
// totals and host states counted again over what is left. The flows and
// findings are shared with rep.
func (rep *Report) Filtered(f Filter) *Report {
	if f.IsZero() {
		return rep
	}
	out := *rep
	out.Filter = f
	out.Flows = nil
	out.Hosts = nil
	scope := map[int]bool{}
	for i := range rep.Flows {
		fl := &rep.Flows[i]
		if !f.inScope(fl) {
			continue
		}
		scope[fl.ID] = true
		judged := fl
		if a, ok := rep.copyOf[i]; ok {
			// A copy's connection is the flow it copies: the findings
			// about it are in scope too, and its verdicts say whether the
			// copy is listed.
			judged = &rep.Flows[a]
			scope[judged.ID] = true
		}
		if f.keepsVerdicts(judged) {
			out.Flows = append(out.Flows, *fl)
		}
	}
	out.Aggregates = nil
	for i := range rep.Aggregates {
		if a := &rep.Aggregates[i]; f.keepsAggregate(a) {
			out.Aggregates = append(out.Aggregates, *a)
		}
	}
	out.Findings = []Finding{}
	for _, fd := range rep.Findings {
		if len(f.Classes) > 0 && !slices.Contains(f.Classes, fd.Class) || fd.Severity < f.MinSeverity {
			continue
		}
		if f.Host.IsValid() || f.Port != 0 {
			folded := fd.Folded > 0 && slices.ContainsFunc(out.Aggregates, func(a Aggregate) bool { return a.about(&fd) })
			if !folded && !slices.ContainsFunc(fd.Flows, func(id int) bool { return scope[id] }) {
				continue
			}
		}
		out.Findings = append(out.Findings, fd)
	}
	out.count()
	return &out
}

// Worst is the most severe finding's severity, and whether there is any.
func (rep *Report) Worst() (Severity, bool) {
	if len(rep.Findings) == 0 {
		return Info, false
	}
	w := Info
	for _, f := range rep.Findings {
		w = max(w, f.Severity)
	}
	return w, true
}
