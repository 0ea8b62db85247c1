package analyze

import (
	"fmt"
	"math/bits"
	"net/netip"
	"slices"
	"strings"

	"github.com/flowdoc/flowdoc/flow"
)

// The same connection captured on both sides of an address translation:
// tcpdump -i any on a Kubernetes node records a pod's connection to a
// service on the pod's veth (to the service's virtual address) and again
// on the veth of the pod behind it (to that pod's address); on a Docker
// host, inside the bridge and again masqueraded on the way out. Each
// copy is a flow of its own, with the same states: counted as it comes,
// every leak, every TIME_WAIT is counted twice, and the hosts' tables
// hold virtual addresses. The translation rewrites addresses and ports,
// never the sequence numbers: the copies have the same initial sequence
// numbers both ways, 64 random bits, within moments of each other.

var translatedDetector = detector{class: TranslatedClass, explain: Explanation{
	Class: TranslatedClass, Title: "The same connection, translated",
	Meaning: "The flow is a connection the capture holds twice: once before an address translation (NAT: a " +
		"Kubernetes service's virtual address, a Docker host's masquerade, a load balancer that forwards packets) and " +
		"once after it, under other addresses. Both are listed; the connection is counted once, in the flow first seen.",
	Detection: "Both endpoints' initial sequence numbers (their SYN and SYN-ACK) are those of a flow under other " +
		"addresses whose first and last packets came within 1 s of this one's, with the same bytes each way and the same " +
		"endpoint states; a refused connection has the client's alone, a chain of translations changing one end, and an address, at a time. A translation " +
		"keeps sequence numbers; a proxy that ends the connection and opens its own does not, and its two connections are two.",
	Causes: "A capture on every interface of a host that translates (tcpdump -i any on a node or a container host), " +
		"or captures from both sides of a NAT read together.",
	Confirm: "conntrack -L (the translation's entry), or the service's endpoints (kubectl get endpoints).",
	Fix:     "Nothing to fix.",
}}

// translateWindow is how close a copy's first and last packets must be
// to the flow's: a translation forwards in microseconds, and captures
// from two hosts read together may have clocks apart (as for copies of
// packets, flow.CrossWindow). The same conversation replayed (a load
// test replaying a recording under other addresses) is further apart,
// or ends otherwise.
const translateWindow = flow.CrossWindow

// refusedISN stands for the server's ISN in the key of a refused
// connection, which has none.
const refusedISN = 1 << 31

// translations finds the flows that are another's connection seen again
// under translated addresses: it returns, for each such flow (by index),
// the index of the flow first seen; nil when there are none (see
// copies).
func translations(recs []*flow.Record) map[int]int {
	// Nearly every ISN pair is seen once: a bitmap finds those that may
	// be seen again, and only these are grouped (not a map of them all).
	type cand struct {
		key uint64
		i   int32
	}
	cands := make([]cand, 0, len(recs))
	// Sixteen bits per record or more: a pair seen once shares its bit
	// with another in one case in sixteen at most, and such pairs are
	// grouped for nothing (a map entry each).
	bitsLog := max(20, bits.Len(uint(len(recs)))+4)
	once, twice := make([]uint64, 1<<bitsLog/64), make([]uint64, 1<<bitsLog/64)
	bit := func(k uint64) (int, uint64) {
		h := (k * 0x9e3779b97f4a7c15) >> (64 - bitsLog)
		return int(h / 64), 1 << (h % 64)
	}
	for i, r := range recs {
		if r.Midstream || r.Client.SYNs() == 0 || r.Server.SYNs() == 0 && r.Server.RSTs == 0 {
			continue
		}
		k := uint64(r.Client.ISN)<<32 | uint64(r.Server.ISN)
		if r.Server.SYNs() == 0 {
			k = uint64(r.Client.ISN)<<32 | refusedISN
		}
		cands = append(cands, cand{k, int32(i)})
		w, m := bit(k)
		if once[w]&m != 0 {
			twice[w] |= m
		}
		once[w] |= m
	}
	var groups map[uint64][]int
	for _, c := range cands {
		if w, m := bit(c.key); twice[w]&m == 0 {
			continue
		}
		if groups == nil {
			groups = map[uint64][]int{}
		}
		groups[c.key] = append(groups[c.key], int(c.i))
	}
	var of map[int]int
	for k, idx := range groups {
		if len(idx) < 2 {
			continue // another pair's bit
		}
		// A translation makes a copy or two (DNAT, and SNAT behind it);
		// more with the same ISNs are a tool's that does not choose them
		// (nmap's SYN scan sends every probe from one port with one ISN,
		// and the closed ports refuse each).
		if len(idx) > 3 || uint32(k) == refusedISN && oneClient(recs, idx) {
			continue
		}
		// In order of first packet (recs are), each pairs with the
		// first before it that it copies (through a copy: a chain).
		for j, b := range idx {
			for _, a := range idx[:j] {
				if !copies(recs[b], recs[a]) {
					continue
				}
				if of == nil {
					of = map[int]int{}
				}
				if o, copied := of[a]; copied {
					a = o
				}
				of[b] = a
				break
			}
		}
	}
	return of
}

// copies reports whether flow b, with a's initial sequence numbers (the
// client's alone when the server refused the SYN), is a's connection under
// other addresses: the same family, the same bytes and endpoint states,
// within translateWindow.
func copies(b, a *flow.Record) bool {
	if a.Key == b.Key || b.First.Sub(a.First) > translateWindow || b.Last.Sub(a.Last).Abs() > translateWindow ||
		a.Key.Client().Addr().Is4() != b.Key.Client().Addr().Is4() { // NAT64 is left out: rarer than look-alikes
		return false
	}
	if b.Server.SYNs() == 0 {
		// The client's ISN alone: a translation changes one end, and its
		// address (a tool's probes to the ports of one host with one ISN
		// change the port only).
		cAddr, sAddr := b.Key.Client().Addr() != a.Key.Client().Addr(), b.Key.Server().Addr() != a.Key.Server().Addr()
		if b.Key.Client() != a.Key.Client() && b.Key.Server() != a.Key.Server() || !cAddr && !sAddr {
			return false
		}
	}
	// Pure ACKs and RSTs captured twice that nothing told apart (a cooked
	// v1 capture records no interface) may be counted in one: the packets
	// may differ, up to twice as many.
	for s := flow.Client; s <= flow.Server; s++ {
		x, y := a.Half(s), b.Half(s)
		if x.Bytes != y.Bytes || x.State != y.State || (x.RSTs == 0) != (y.RSTs == 0) ||
			x.Packets > 2*y.Packets || y.Packets > 2*x.Packets {
			return false
		}
	}
	return true
}

// oneClient reports whether the flows of a group refused with one
// client ISN all have one client endpoint: a tool's probes (nmap's SYN
// scan sends every probe from one port with one ISN, and closed ports
// refuse each), not a chain of translations, which changes the client
// behind a SNAT. Two are a DNAT's pair.
func oneClient(recs []*flow.Record, idx []int) bool {
	if len(idx) <= 2 {
		return false
	}
	for _, i := range idx[1:] {
		if recs[i].Key.Client() != recs[idx[0]].Key.Client() {
			return false
		}
	}
	return true
}

// translatedVerdict is the verdict on flow f, the connection of flow
// first seen again.
func translatedVerdict(f, first *flow.Record, firstID int) Verdict {
	side, what := flow.Server, "the server's address"
	switch {
	case f.Key.Client() != first.Key.Client() && f.Key.Server() != first.Key.Server():
		side, what = flow.Client, "both addresses"
	case f.Key.Client() != first.Key.Client():
		side, what = flow.Client, "the client's address"
	}
	return Verdict{Class: TranslatedClass, Side: side, Severity: Info, Confidence: 0.95, Since: f.First,
		Summary: fmt.Sprintf("the same connection as flow %d (%s > %s), captured again %s later with %s translated (NAT): the same initial sequence numbers both ways; counted once, as flow %d",
			firstID, first.Key.Client(), first.Key.Server(), fmtDur(f.First.Sub(first.First)), what, firstID)}
}

// serverSeenFirst reports whether flow f, a translated copy of first,
// has the server's side before the translation: its SYN-ACK was captured
// first. Its server is then the host that holds the server's socket
// (first's is a virtual address, say).
func serverSeenFirst(f, first *flow.Record) bool {
	return f.Server.FirstPacket < first.Server.FirstPacket
}

// findCopies maps the index of each flow that is a translated copy to
// the index of the flow first seen, when the report holds both (a filter
// may keep one only: it then counts as the connection).
func (rep *Report) findCopies() map[int]int {
	var out map[int]int
	var byID map[int]int
	for i := range rep.Flows {
		if rep.Flows[i].CopyOf == 0 {
			continue
		}
		if byID == nil {
			byID = make(map[int]int, len(rep.Flows))
			for j := range rep.Flows {
				byID[rep.Flows[j].ID] = j
			}
			out = map[int]int{}
		}
		if a, ok := byID[rep.Flows[i].CopyOf]; ok {
			out[i] = a
		}
	}
	return out
}

// noteTranslations tells, in the findings about a server endpoint whose
// connections were captured again under other addresses (a service's
// virtual address, say), where they went: the endpoints behind it.
func noteTranslations(out []Finding, rep *Report) {
	if len(rep.copyOf) == 0 {
		return
	}
	behind := map[netip.AddrPort][]netip.AddrPort{}
	for b, a := range rep.copyOf {
		from, to := rep.Flows[a].Key.Server(), rep.Flows[b].Key.Server()
		if from != to && !slices.Contains(behind[from], to) {
			behind[from] = append(behind[from], to)
		}
	}
	for i := range out {
		f := &out[i]
		if len(f.Endpoints) != 1 || len(behind[f.Endpoints[0]]) == 0 {
			continue
		}
		to := slices.Clone(behind[f.Endpoints[0]])
		slices.SortFunc(to, netip.AddrPort.Compare)
		names := make([]string, len(to))
		for j, e := range to {
			names[j] = e.String()
		}
		f.Summary += fmt.Sprintf(" Its connections were captured again behind an address translation (NAT), to %s: the same connections, counted once.", andList(names, "more endpoints"))
	}
}

// andList spells names as "a, b and c", the first five, then how many
// more.
func andList(names []string, more string) string {
	switch n := len(names); {
	case n > 5:
		return strings.Join(names[:5], ", ") + " and " + fmt.Sprintf("%d %s", n-5, more)
	case n > 1:
		return strings.Join(names[:n-1], ", ") + " and " + names[n-1]
	}
	return strings.Join(names, "")
}
