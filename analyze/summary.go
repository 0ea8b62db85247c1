package analyze

import (
	"cmp"
	"net/netip"
	"slices"
)

// A busy capture's report opens with a summary, so that the answer is on
// the first screen: per finding class, how much it covers, its worst
// findings and its remedy once; and its tables show the hosts with
// problems first, a screenful of them.

// ClassSummary sums up the findings of one class.
type ClassSummary struct {
	Class    Class
	Severity Severity // the worst of its findings
	Findings int
	// Hosts and Endpoints are the distinct ones the findings are about;
	// Flows the connections they count.
	Hosts, Endpoints, Flows int
	// Worst are the most severe and largest findings of the class, as
	// indexes into Report.Findings: at most summaryWorst.
	Worst  []int
	Remedy string // the class's fix, said once (flowdoc explain)
}

const (
	// summaryWorst is how many findings of a class a summary names.
	summaryWorst = 3
	// MaxHostRows is how many hosts a report's table shows without --all.
	MaxHostRows = 20
	// busyFindings is how many findings make a report busy enough to open
	// with a summary.
	busyFindings = 8
)

// Busy reports whether the report is large enough to open with its
// summary and cap its tables: many findings, or more hosts than a table
// shows. The small captures' reports stay as they are.
func (r *Report) Busy() bool {
	return len(r.Findings) > busyFindings || len(r.Hosts) > MaxHostRows
}

// Summary sums up the findings per class, the classes in the order of
// their worst finding (as Findings are sorted).
func (r *Report) Summary() []ClassSummary {
	var out []ClassSummary
	at := map[Class]int{}
	hosts := map[Class]map[netip.Addr]struct{}{}
	eps := map[Class]map[netip.AddrPort]struct{}{}
	for i := range r.Findings {
		f := &r.Findings[i]
		j, ok := at[f.Class]
		if !ok {
			j = len(out)
			at[f.Class] = j
			out = append(out, ClassSummary{Class: f.Class, Severity: f.Severity, Remedy: remedy(f.Class)})
			hosts[f.Class], eps[f.Class] = map[netip.Addr]struct{}{}, map[netip.AddrPort]struct{}{}
		}
		s := &out[j]
		s.Findings++
		s.Flows += len(f.Flows)
		s.Severity = max(s.Severity, f.Severity)
		for _, h := range f.Hosts {
			hosts[f.Class][h] = struct{}{}
		}
		for _, e := range f.Endpoints {
			eps[f.Class][e] = struct{}{}
		}
		s.Worst = append(s.Worst, i)
	}
	for i := range out {
		s := &out[i]
		s.Hosts, s.Endpoints = len(hosts[s.Class]), len(eps[s.Class])
		slices.SortStableFunc(s.Worst, func(a, b int) int {
			fa, fb := &r.Findings[a], &r.Findings[b]
			return cmp.Or(int(fb.Severity)-int(fa.Severity), len(fb.Flows)-len(fa.Flows))
		})
		s.Worst = slices.Clip(s.Worst[:min(len(s.Worst), summaryWorst)])
	}
	return out
}

// HostRows returns the hosts a table shows, the hosts with problems first
// (those a warning or error finding is about, most flows first), then the
// busiest; at most MaxHostRows unless all. more is how many are left out.
func (r *Report) HostRows(all bool) (rows []HostStates, more int) {
	troubled := map[netip.Addr]int{}
	for i := range r.Findings {
		f := &r.Findings[i]
		if f.Severity < Warning {
			continue
		}
		for _, h := range f.Hosts {
			troubled[h] += len(f.Flows)
		}
		for _, e := range f.Endpoints {
			troubled[e.Addr()] += len(f.Flows)
		}
	}
	rows = slices.Clone(r.Hosts)
	slices.SortStableFunc(rows, func(a, b HostStates) int { return troubled[b.Host] - troubled[a.Host] })
	if all || len(rows) <= MaxHostRows {
		return rows, 0
	}
	return rows[:MaxHostRows], len(rows) - MaxHostRows
}
