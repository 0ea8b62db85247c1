package analyze

import (
	"cmp"
	"fmt"
	"net/netip"
	"slices"
	"strings"
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
	// Folded are those of Flows counted in aggregates, not listed.
	Hosts, Endpoints, Flows, Folded int
	// Worst are the most severe and largest findings of the class, as
	// indexes into Report.Findings: at most summaryWorst.
	Worst  []int
	Remedy string // the class's fix, said once (flowdoc explain)
}

const (
	// summaryWorst is how many findings of a class a summary names.
	summaryWorst = 2
	// MaxHostRows is how many hosts a report's table shows without --all.
	MaxHostRows = 20
	// busyFindings is how many findings make a report busy enough to open
	// with a summary.
	busyFindings = 8
	// busyFlows is how many flows not closed cleanly make a report busy:
	// a list longer than a few screens is no longer read.
	busyFlows = 100
)

// Busy reports whether the report is large enough to open with its
// summary and cap its tables: many findings, more hosts than a table
// shows, or many flows to list (a scan: one finding, one host pair, and
// thousands of probes). The small captures' reports stay as they are.
func (r *Report) Busy() bool {
	return len(r.Findings) > busyFindings || len(r.Hosts) > MaxHostRows || r.Totals.Flows-r.Totals.Clean > busyFlows
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
		s.Flows += f.Connections()
		s.Folded += f.Folded
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
		// A remedy of its own that every finding of the class gives (a
		// scan's) is the one to say.
		first := r.Findings[s.Worst[0]].Remedy
		if first != "" && !slices.ContainsFunc(s.Worst, func(j int) bool { return r.Findings[j].Remedy != first }) {
			s.Remedy = first
		}
		slices.SortStableFunc(s.Worst, func(a, b int) int {
			fa, fb := &r.Findings[a], &r.Findings[b]
			return cmp.Or(int(fb.Severity)-int(fa.Severity), fb.Connections()-fa.Connections())
		})
		s.Worst = slices.Clip(s.Worst[:min(len(s.Worst), summaryWorst)])
	}
	return out
}

// HostRows returns the hosts a table shows, the hosts with problems first
// (those a warning or error finding is about, most flows first), then the
// busiest; at most MaxHostRows unless all. A capped table leaves out the
// hosts of a single connection that no finding is about: by the hundred,
// they are a flood's sources or a scan's targets, and each tells nothing.
// more is how many are left out.
func (r *Report) HostRows(all bool) (rows []HostStates, more int) {
	if all {
		return r.hostRows(0)
	}
	return r.hostRows(MaxHostRows)
}

// hostRows is HostRows with at most limit rows; 0: no limit.
func (r *Report) hostRows(limit int) (rows []HostStates, more int) {
	troubled := map[netip.Addr]int{}
	for i := range r.Findings {
		f := &r.Findings[i]
		if f.Severity < Warning {
			continue
		}
		for _, h := range f.Hosts {
			troubled[h] += f.Connections()
		}
		for _, e := range f.Endpoints {
			troubled[e.Addr()] += f.Connections()
		}
	}
	rows = slices.Clone(r.Hosts)
	slices.SortStableFunc(rows, func(a, b HostStates) int { return troubled[b.Host] - troubled[a.Host] })
	if limit == 0 || len(rows) <= limit {
		return rows, 0
	}
	n := len(rows)
	rows = slices.DeleteFunc(rows, func(h HostStates) bool { return h.Total == 1 && troubled[h.Host] == 0 })
	rows = rows[:min(len(rows), limit)]
	return rows, n - len(rows)
}

// MaxFlowRows is how many flows a busy report's table lists without --all.
const MaxFlowRows = 20

// Remedy is the fix flowdoc explain gives for class c, which a summary
// says once for its findings.
func (rep *Report) Remedy(c Class) string { return remedy(c) }

// ShownStateTable is the state table a report of people shows: every host,
// busiest first, for a small capture; for a busy one (without all), the
// hosts with problems first, at most MaxHostRows; with a limit (a view a
// screen high), the hosts with problems first, at most limit. more is how
// many hosts are left out. (JSON keeps every host: StateTable.)
func (rep *Report) ShownStateTable(all bool, limit int) (t StateTable, more int) {
	t = rep.StateTable()
	switch {
	case all:
		return t, 0
	case limit == 0 && !rep.Busy():
		return t, 0
	case limit == 0:
		limit = MaxHostRows
	}
	rows, _ := rep.hostRows(limit)
	at := make(map[netip.Addr]int, len(t.Hosts))
	for i, h := range t.Hosts {
		at[h.Host] = i
	}
	shown := make([]HostRow, 0, min(limit, len(rows)))
	for _, h := range rows {
		shown = append(shown, t.Hosts[at[h.Host.Unmap()]])
	}
	more = len(t.Hosts) - len(shown)
	t.Hosts = shown
	return t, more
}

// ShownFindings lists the findings a report of people shows, as indexes
// into Findings: all of them for a small capture; for a busy one (without
// all), the worst of each class that its summary names. more is how many
// are left out.
func (rep *Report) ShownFindings(all bool) (idx []int, more int) {
	if all || !rep.Busy() {
		idx = make([]int, len(rep.Findings))
		for i := range idx {
			idx[i] = i
		}
		return idx, 0
	}
	for _, s := range rep.Summary() {
		idx = append(idx, s.Worst...)
	}
	slices.Sort(idx)
	return idx, len(rep.Findings) - len(idx)
}

// ShownFlows lists the flows a report of people shows (Listed), at most
// MaxFlowRows of a busy capture without all, the most severe first. more
// is how many listed flows are left out.
func (rep *Report) ShownFlows(all bool) (idx []int, more int) {
	idx = rep.Listed(all)
	if all || !rep.Busy() || len(idx) <= MaxFlowRows {
		return idx, 0
	}
	worst := func(i int) Severity {
		var s Severity
		for _, v := range rep.Flows[i].Verdicts {
			s = max(s, v.Severity)
		}
		return s
	}
	slices.SortStableFunc(idx, func(a, b int) int { return int(worst(b)) - int(worst(a)) })
	more = len(idx) - MaxFlowRows
	idx = idx[:MaxFlowRows]
	slices.Sort(idx)
	return idx, more
}

// Counts says what a class summary covers: "112 findings: 112 hosts,
// 9,800 flows".
func (s *ClassSummary) Counts() string {
	parts := []string{plural(s.Findings, "finding") + ":"}
	if s.Hosts > 0 {
		parts = append(parts, plural(s.Hosts, "host")+",")
	}
	if s.Endpoints > 0 {
		parts = append(parts, plural(s.Endpoints, "endpoint")+",")
	}
	if s.Folded > 0 {
		parts = append(parts, fmt.Sprintf("%s connections (%s counted, not listed)", thousands(s.Flows), thousands(s.Folded)))
	} else {
		parts = append(parts, many(s.Flows, "flow"))
	}
	return strings.Join(parts, " ")
}
