package analyze

import (
	"cmp"
	"math"
	"net/netip"
	"slices"
	"strings"
	"time"

	"github.com/flowdoc/flowdoc/flow"
	"github.com/flowdoc/flowdoc/flow/packet"
)

// captureEvidence is what the whole capture shows of its hosts, gathered
// before any flow is judged: how fast each host closed the connections it
// did close, which servers completed handshakes when, and which
// CLOSE_WAITs are leaks beyond doubt. The judgements at the capture's edge
// (edge.go) weigh a flow against it. Read-only once built.
type captureEvidence struct {
	end flow.Timestamp
	// grace, when set (--close-wait-grace), replaces the judgement of a
	// CLOSE_WAIT's age by a fixed threshold.
	grace time.Duration
	// closes holds, per application (a host, and the server endpoint it
	// talks to or serves on) and per host (the zero endpoint), how long
	// after the peer's FIN (or its own last data, if later) the host sent
	// its own FIN. Only hosts with a CLOSE_WAIT at the end are measured.
	closes map[appKey]*latencies
	// reused counts, per application, the closes in closes that were
	// reuses (reuseLatency): a request on the closed connection, reset.
	reused map[appKey]int
	// done holds, per application, how long after a connection's last
	// data it closed the connections it closed first: an application that
	// closes each connection as soon as it is done with it.
	done map[appKey]*latencies
	// accepted holds, per server endpoint that left a SYN unanswered, or
	// answered only a SYN sent again, when its completed handshakes
	// began, sorted.
	accepted map[netip.AddrPort][]flow.Timestamp
	// leaks counts, per application, the CLOSE_WAITs judged leaks on
	// their own evidence: a younger one of the same application is one
	// more of the same.
	leaks map[appKey]int
	// leakHosts counts such leaks per host, to any server.
	leakHosts map[netip.Addr]int
	// scanners are the client addresses that scanned: their probes are
	// the scan's, not outages.
	scanners map[netip.Addr]*scanner
	// idleCloses holds, per server endpoint, how long its connections had
	// been quiet when it closed them first after minIdle or more: its
	// idle timeout, where it has one.
	idleCloses map[netip.AddrPort]*latencies
	// greets holds the server endpoints that speak first: on their
	// connections where both sides sent data, the server's came first
	// (a greeting: SMTP's 220, FTP's, an SSH banner), judged where a
	// connection to them carried none of the server's, or only after the
	// client's FIN (greetingLate).
	greets map[netip.AddrPort]bool
	// served holds, per server endpoint that closed a silent connection
	// soon after its handshake (silentClose), when the connections it
	// served were opened, in order: one opened while the silent one
	// waited, and served, says the server was not refusing.
	served map[netip.AddrPort][]flow.Timestamp
	// usedIdle holds, per server endpoint, the shortest and longest of
	// those idle closes of connections whose last data was the server's
	// (its idle or keep-alive timer): where one that carried none was
	// closed within them, the same timer closed it.
	usedIdle map[netip.AddrPort][2]time.Duration
	// mass holds, per server endpoint, the moments it closed several idle
	// connections at once whatever their idle times (massClose): a
	// restart, a reload, a shutdown, not its idle timer. Their closes are
	// not in idleCloses.
	mass map[netip.AddrPort][]massClose
	// answering holds, per server endpoint on a host with a CLOSE_WAIT,
	// how it answered its requests: a server busy with them one after
	// another still holds those it has not come to.
	answering map[netip.AddrPort]*answers
	// acked holds, per server endpoint with a connection whose request
	// went unacknowledged after its only SYN-ACK, when its other
	// connections' requests that it did acknowledge were sent, sorted.
	acked map[netip.AddrPort][]flow.Timestamp
	// nextUse holds, per client application with CLOSE_WAITs to judge,
	// its closes after the server's FIN and the connections it opened
	// (see nextUsePool).
	nextUse map[appKey]*poolUse
	// deadline holds, per server endpoint that closes connections at a
	// fixed age whatever their idle time (deadlineRun), the range of
	// those ages.
	deadline map[netip.AddrPort][2]time.Duration
}

// poolUse is what a client application did with its connections to a
// server: when it closed them after the server's FIN (with how long
// after), and when it opened connections.
type poolUse struct {
	closes []closeAfter
	opens  []flow.Timestamp
	// late counts the closes a millisecond or more after the FIN, and
	// replaced those of them a new connection followed (count).
	late, replacedN int
}

// count sets late and replacedN, once closes and opens are sorted.
func (u *poolUse) count() {
	u.late, u.replacedN = 0, 0
	for _, c := range u.closes {
		if c.after < time.Millisecond {
			continue
		}
		u.late++
		if u.replaced(c.at) {
			u.replacedN++
		}
	}
}

type closeAfter struct {
	at    flow.Timestamp
	after time.Duration
}

// poolUseOf returns the poolUse of a, made if need be.
func (ev *captureEvidence) poolUseOf(a appKey) *poolUse {
	u := ev.nextUse[a]
	if u == nil {
		if ev.nextUse == nil {
			ev.nextUse = map[appKey]*poolUse{}
		}
		u = &poolUse{}
		ev.nextUse[a] = u
	}
	return u
}

// replaceWithin is how soon after closing a connection the server had
// closed a pool opens its replacement: in the same call, as Apache's
// mod_proxy and Apache HttpClient check a connection when they hand it
// out (35 µs in the lab).
const replaceWithin = time.Millisecond

// replaced reports whether the application opened a connection within
// replaceWithin after time at.
func (u *poolUse) replaced(at flow.Timestamp) bool {
	i, _ := slices.BinarySearch(u.opens, at)
	return i < len(u.opens) && u.opens[i].Sub(at) <= replaceWithin
}

// replacement reports whether the connection opened at t replaced one
// the application closed just before (within replaceWithin).
func (u *poolUse) replacement(t flow.Timestamp) bool {
	i, _ := slices.BinarySearchFunc(u.closes, t, func(c closeAfter, t flow.Timestamp) int { return cmp.Compare(c.at, t) })
	return i > 0 && t.Sub(u.closes[i-1].at) <= replaceWithin
}

// nextUsePool reports whether client application a is a pool that
// notices a server's close only when it next uses the connection, and
// holds this one (its server's FIN at fin) until then: of its closes that
// came a millisecond or more after the server's FIN, minSamples or more,
// and most, were followed within replaceWithin by a new connection to
// the same server (the pool found the connection closed as it handed it
// out, and opened another); and every connection it opened since fin
// replaced one so (a pool with this one idle in it opens no other). n is
// how many of its closes were such.
func (ev *captureEvidence) nextUsePool(a appKey, fin flow.Timestamp) (n int, ok bool) {
	u := ev.nextUse[a]
	// The application's own closes; with too few, its host's (the
	// same proxy's pools to other servers).
	late := 0
	if u != nil {
		n, late = u.replacedN, u.late
	}
	if late < minSamples {
		h := ev.nextUse[appKey{host: a.host}]
		if h == nil {
			return 0, false
		}
		n, late = h.replacedN, h.late
	}
	if n < minSamples || 2*n <= late {
		return n, false
	}
	if u == nil {
		return n, true
	}
	i, _ := slices.BinarySearch(u.opens, fin)
	for _, t := range u.opens[i:] {
		if !u.replacement(t) {
			return n, false
		}
	}
	return n, true
}

// atDeadline reports whether the server of r closed it first at the age
// its other deadline closes show (deadlineRun): a client's data after
// that close came late to a handshake or login the server had given up
// on, not on a connection kept idle for reuse.
func (ev *captureEvidence) atDeadline(r *flow.Record) bool {
	d, ok := ev.deadline[r.Key.Server()]
	if !ok {
		return false
	}
	age, _, ok := serverCloseAge(r)
	tol := max(deadlineSpread, d[0]/100)
	return ok && age >= d[0]-tol && age <= d[1]+tol
}

// answers is how a server endpoint answered requests: a connection whose
// server sent data after the client's last data was answered.
type answers struct {
	n           int
	first, last flow.Timestamp // its first answer, and its last
	slowest     time.Duration  // the longest a request waited for its answer's end
	// sentLast is when the latest of the requests answered was sent.
	sentLast flow.Timestamp
}

// inLine reports whether a request sent at req, unanswered at the end of
// the capture, may be in line behind those the server ep is still
// answering: answers still come (answering), the last since it was
// sent, and either every request answered was sent before it (a queue
// served in order has not come to it yet, however long it is), or it
// has not waited longer than the server took to answer another.
func (ev *captureEvidence) inLine(ep netip.AddrPort, req flow.Timestamp) (*answers, bool) {
	a := ev.answering[ep]
	if a == nil || a.last <= req || a.sentLast >= req && ev.end.Sub(req) > a.slowest {
		return nil, false
	}
	return a, a.answering(ev.end)
}

// answering reports whether answers still came at end: the last no longer
// before it than three times the server's pace between answers, or than
// the longest it took to answer one (closeFloor at least).
func (a *answers) answering(end flow.Timestamp) bool {
	pace := max(closeFloor, a.slowest)
	if a.n > 1 {
		pace = max(pace, 3*a.last.Sub(a.first)/time.Duration(a.n-1))
	}
	return end.Sub(a.last) <= pace
}

// busy reports whether server ep is busy enough that a close it owes may
// wait on its workers for quiet: answers still come, and it has taken a
// second or more, and at least quiet, to answer a request.
func (ev *captureEvidence) busy(ep netip.AddrPort, quiet time.Duration) (*answers, bool) {
	a := ev.answering[ep]
	if a == nil || a.slowest < time.Second || quiet > a.slowest {
		return nil, false
	}
	return a, a.answering(ev.end)
}

// massClose is a moment a server closed massMin or more idle connections
// at once, within massGap of each other, though they had been idle for
// times far apart (the longest at least twice the shortest idle for
// minIdle or more, and a second or more longer): an idle timer closes
// each connection its own idle time after its last use, and one that
// checks on a clock closes those it finds within one period of their
// timeout. Connections idle less long closed in the same moment belong
// to it.
type massClose struct {
	first, last flow.Timestamp // the first close and the last
	n           int
	lo, hi      time.Duration // the idle times
}

// massGap and massMin bound a massClose; an endpoint has at most
// massMoments of them, or none.
const (
	massGap     = 10 * time.Millisecond
	massMin     = 3
	massMoments = 2
)

// massOf returns the mass close of server endpoint ep that a close at t
// was part of; false for none.
func (ev *captureEvidence) massOf(ep netip.AddrPort, t flow.Timestamp) (massClose, bool) {
	for _, m := range ev.mass[ep] {
		if t >= m.first && t <= m.last {
			return m, true
		}
	}
	return massClose{}, false
}

// idleClose is a server's close of an idle connection: when, and after
// how long idle.
type idleClose struct {
	at   flow.Timestamp
	idle time.Duration
	age  time.Duration // the connection's, from the client's SYN; -1 if not seen
	// quiet is set where the connection carried no data either way
	// before the close (but the server's goodbye); waited, where the
	// client's data was the last (a timeout for a request).
	quiet, waited bool
}

// findMass finds the mass closes among an endpoint's idle closes, sorted
// by time.
func findMass(cs []idleClose) []massClose {
	var out []massClose
	for i := 0; i < len(cs); {
		j := i + 1
		for j < len(cs) && cs[j].at.Sub(cs[j-1].at) <= massGap {
			j++
		}
		if j-i >= massMin {
			// massMin of them idle for minIdle or more, far apart; the
			// others, closed in the same moment, belong to it too.
			m := massClose{first: cs[i].at, last: cs[j-1].at, n: j - i, lo: cs[i].idle, hi: cs[i].idle}
			lo, idle := time.Duration(-1), 0
			for _, c := range cs[i:j] {
				m.lo, m.hi = min(m.lo, c.idle), max(m.hi, c.idle)
				if c.idle >= minIdle {
					idle++
					if lo < 0 || c.idle < lo {
						lo = c.idle
					}
				}
			}
			if idle >= massMin && m.hi >= 2*lo && m.hi-lo >= time.Second {
				out = append(out, m)
			}
		}
		i = j
	}
	return out
}

// appKey names an application by where it stands: a host and the server
// endpoint of its connections (its own, for a server). The zero endpoint
// stands for the host as a whole.
type appKey struct {
	host     netip.Addr
	endpoint netip.AddrPort
}

// appOf is the application of side s of a flow.
func appOf(r *flow.Record, s flow.Side) appKey {
	return appKey{host: r.Endpoint(s).Addr(), endpoint: r.Key.Server()}
}

// latencies is a sample of durations, kept as a histogram: a capture may
// hold a million closes, and their judgement needs only quantiles within
// a few percent.
type latencies struct {
	n       int
	slowest time.Duration
	buckets [latencyBuckets]uint32
}

// latencyBuckets cover 1 µs to over an hour, eight to each doubling.
const latencyBuckets = 8 * 32

// bucket returns the histogram bucket of d.
func bucket(d time.Duration) int {
	us := float64(d) / float64(time.Microsecond)
	if us < 1 {
		return 0
	}
	return min(latencyBuckets-1, 1+int(8*math.Log2(us)))
}

// upper is the largest duration bucket i holds.
func upper(i int) time.Duration {
	if i == 0 {
		return time.Microsecond
	}
	return time.Duration(math.Exp2(float64(i)/8) * float64(time.Microsecond))
}

func (l *latencies) add(d time.Duration) {
	d = max(d, 0)
	l.n++
	l.slowest = max(l.slowest, d)
	l.buckets[bucket(d)]++
}

// quantile returns the q-quantile (0..1) of the sample, which is not
// empty: the top of its bucket, never more than the slowest.
func (l *latencies) quantile(q float64) time.Duration {
	if q >= 1 {
		return l.slowest
	}
	want := int(math.Ceil(q * float64(l.n)))
	seen := 0
	for i, c := range l.buckets {
		if seen += int(c); seen >= max(want, 1) {
			return min(upper(i), l.slowest)
		}
	}
	return l.slowest
}

// near counts the samples within tol of d (to the histogram's resolution,
// a ninth).
func (l *latencies) near(d, tol time.Duration) int {
	n := 0
	for i := bucket(d - tol); i <= bucket(d+tol); i++ {
		n += int(l.buckets[i])
	}
	return n
}

// gatherEvidence builds the capture's evidence from its records and
// aggregates.
func gatherEvidence(recs []*flow.Record, aggs []flow.Aggregate, end flow.Timestamp, grace time.Duration) *captureEvidence {
	ev := &captureEvidence{end: end, grace: grace, closes: map[appKey]*latencies{}, reused: map[appKey]int{}, done: map[appKey]*latencies{},
		accepted: map[netip.AddrPort][]flow.Timestamp{}, leaks: map[appKey]int{}, scanners: findScanners(recs, aggs),
		idleCloses: map[netip.AddrPort]*latencies{}}
	// The hosts with a CLOSE_WAIT to judge, and the servers with SYNs
	// no packet answered: only theirs are measured.
	waiting := map[netip.Addr]bool{}
	waitingApps := map[appKey]bool{} // client applications with a CLOSE_WAIT
	for _, a := range aggs {
		if a.Server.IsValid() {
			ev.accepted[a.Server] = nil
		}
	}
	closed := map[netip.AddrPort][]idleClose{}
	for _, r := range recs {
		if closer, idle, ok := firstCloser(r); ok && closer == flow.Server {
			// Closes after less than minIdle too: a restart closes
			// connections whatever their idle time (findMass).
			age := time.Duration(-1)
			if a, _, ok := serverCloseAge(r); ok {
				age = a
			}
			closed[r.Key.Server()] = append(closed[r.Key.Server()], idleClose{closeAt(r, flow.Server), idle, age,
				r.Server.DataBeforeFin == 0, r.Server.DataBeforeFinFrom == flow.Client})
		}
		unanswered := r.Server.Packets == 0 && has(r, flow.Client, 'S')
		if !unanswered && r.Client.Retrans > 0 {
			_, late, _ := lateAnswer(r)
			unanswered = late != nil // its first SYNs
		}
		if unanswered {
			ev.accepted[r.Key.Server()] = nil
		}
		for s := flow.Client; s <= flow.Server; s++ {
			if r.Half(s).State == flow.CloseWait {
				waiting[r.Endpoint(s).Addr()] = true
				if s == flow.Client {
					waitingApps[appOf(r, s)] = true
				}
			}
		}
	}
	for ep, cs := range closed {
		if len(cs) >= massMin {
			slices.SortFunc(cs, func(a, b idleClose) int { return cmp.Compare(a.at, b.at) })
			// A restart is rare: an endpoint with more such moments closes
			// on a clock, each connection on a timeout of its own (a
			// broker's per-client keep-alives), and none is a restart.
			if m := findMass(cs); m != nil && len(m) <= massMoments {
				if ev.mass == nil {
					ev.mass = map[netip.AddrPort][]massClose{}
				}
				ev.mass[ep] = m
			}
		}
		if len(cs) >= deadlineMin {
			var ages []closeAge
			for i, c := range cs {
				if _, mass := ev.massOf(ep, c.at); c.age >= 0 && !mass {
					ages = append(ages, closeAge{i, c.at, c.age, c.idle})
				}
			}
			if run, ok := deadlineRun(ages); ok {
				if ev.deadline == nil {
					ev.deadline = map[netip.AddrPort][2]time.Duration{}
				}
				ev.deadline[ep] = [2]time.Duration{run[0].age, run[len(run)-1].age}
			}
		}
		l := &latencies{}
		used := [2]time.Duration{-1, -1}
		for _, c := range cs {
			if _, ok := ev.massOf(ep, c.at); !ok && c.idle >= minIdle {
				l.add(c.idle)
				if !c.quiet && !c.waited {
					used = [2]time.Duration{min(used[0], c.idle), max(used[1], c.idle)}
					if used[0] < 0 {
						used[0] = c.idle
					}
				}
			}
		}
		if l.n > 0 {
			ev.idleCloses[ep] = l
		}
		if used[1] >= 0 {
			if ev.usedIdle == nil {
				ev.usedIdle = map[netip.AddrPort][2]time.Duration{}
			}
			ev.usedIdle[ep] = used
		}
	}
	if len(ev.accepted) > 0 {
		for _, r := range recs {
			if acc, ok := ev.accepted[r.Key.Server()]; ok && has(r, flow.Server, 'H') && r.Client.Packets > 0 {
				ev.accepted[r.Key.Server()] = append(acc, r.First)
			}
		}
		for _, acc := range ev.accepted {
			if !slices.IsSorted(acc) { // a capture's clock may step back
				slices.Sort(acc)
			}
		}
	}
	for _, r := range recs {
		if silentClose(r) || deferredAccept(r) != nil {
			if ev.served == nil {
				ev.served = map[netip.AddrPort][]flow.Timestamp{}
			}
			ev.served[r.Key.Server()] = nil
		}
	}
	if len(ev.served) > 0 {
		for _, r := range recs {
			if sv, ok := ev.served[r.Key.Server()]; ok && r.Server.Bytes > 0 && !refusedAtAccept(r) {
				ev.served[r.Key.Server()] = append(sv, r.First)
			}
		}
		for _, sv := range ev.served {
			if !slices.IsSorted(sv) {
				slices.Sort(sv)
			}
		}
	}
	// Servers that speak first, where a connection got no greeting or
	// one only after its client gave up.
	var firsts map[netip.AddrPort][2]int // server first, client first
	for _, r := range recs {
		if ungreeted(r) || greetingLate(r) {
			if firsts == nil {
				firsts = map[netip.AddrPort][2]int{}
			}
			firsts[r.Key.Server()] = [2]int{}
		}
	}
	if len(firsts) > 0 {
		for _, r := range recs {
			n, ok := firsts[r.Key.Server()]
			if !ok || r.Midstream || r.Client.Bytes == 0 || r.Server.Bytes == 0 {
				continue
			}
			if strings.IndexByte(r.History, 'd') < strings.IndexByte(r.History, 'D') {
				n[0]++
			} else {
				n[1]++
			}
			firsts[r.Key.Server()] = n
		}
		for ep, n := range firsts {
			if n[0] >= 2 && n[1]*10 <= n[0] {
				if ev.greets == nil {
					ev.greets = map[netip.AddrPort]bool{}
				}
				ev.greets[ep] = true
			}
		}
	}
	// Requests a server left unacknowledged after its only SYN-ACK, and
	// when it acknowledged its other connections' (siblingAcked).
	for _, r := range recs {
		if r.Server.Bytes == 0 && r.Unanswered(flow.Client) > 0 && requestSentAgain(r) >= 1 {
			if ev.acked == nil {
				ev.acked = map[netip.AddrPort][]flow.Timestamp{}
			}
			ev.acked[r.Key.Server()] = nil
		}
	}
	if len(ev.acked) > 0 {
		for _, r := range recs {
			if l, ok := ev.acked[r.Key.Server()]; ok && r.Client.Bytes > 0 && r.Client.LastPayload > 0 && r.Unanswered(flow.Client) == 0 && !r.Midstream {
				ev.acked[r.Key.Server()] = append(l, r.Client.LastPayload)
			}
		}
		for ep, l := range ev.acked {
			slices.Sort(l)
			ev.acked[ep] = l
		}
	}
	if len(waiting) == 0 {
		return ev
	}
	for _, r := range recs {
		if C, S := &r.Client, &r.Server; waiting[r.Key.Server().Addr()] && C.LastPayload > 0 && S.LastPayload > C.LastPayload {
			if ev.answering == nil {
				ev.answering = map[netip.AddrPort]*answers{}
			}
			a := ev.answering[r.Key.Server()]
			if a == nil {
				a = &answers{first: S.LastPayload}
				ev.answering[r.Key.Server()] = a
			}
			a.n++
			a.first, a.last = min(a.first, S.LastPayload), max(a.last, S.LastPayload)
			a.slowest = max(a.slowest, S.LastPayload.Sub(C.LastPayload))
			a.sentLast = max(a.sentLast, C.LastPayload)
		}
		for s := flow.Client; s <= flow.Server; s++ {
			if !waiting[r.Endpoint(s).Addr()] {
				continue
			}
			d, ok := closeLatency(r, s)
			reused := false
			if s == flow.Client && r.PongsAfterFin() {
				// A stopped client, woken, answering pings that gave up
				// on it: no pace of its application's closes or reuses.
				continue
			}
			if !ok {
				// Data on the closed connection, reset: a reuse, its
				// application's own pace and not its host's; unless it was
				// only a goodbye in reply (a TLS close_notify): it was
				// closing, as a close after the FIN is.
				d, ok = reuseLatency(r, s)
				reused = ok && !(r.ControlAfterFin(s) && !r.DataAfterFin(s))
				if _, refused := acceptCloseOf(r); ok && (refused || s == flow.Client && ev.atDeadline(r)) {
					// Data crossing a refusal, or late to a login the
					// server gave up on: no reuse, and no close.
					ok, reused = false, false
				}
			}
			if ok && s == flow.Client && !reused {
				for _, k := range []appKey{appOf(r, s), {host: r.Endpoint(s).Addr()}} {
					ev.poolUseOf(k).closes = append(ev.poolUseOf(k).closes, closeAfter{r.Client.FinAt, d})
				}
			}
			if ok {
				sample(ev.closes, appOf(r, s), d)
				if reused {
					ev.reused[appOf(r, s)]++
				} else {
					sample(ev.closes, appKey{host: r.Endpoint(s).Addr()}, d)
				}
			}
			if h, p := r.Half(s), r.Half(s.Other()); h.FinPacket > 0 && h.DataBeforeFin > 0 && (p.FinPacket == 0 || h.FinAt < p.FinAt) {
				sample(ev.done, appOf(r, s), h.FinAt.Sub(h.DataBeforeFin))
			}
		}
	}
	// The connections the applications that closed after a FIN opened,
	// to tell a pool's replacements from new connections.
	if len(ev.nextUse) > 0 {
		for _, r := range recs {
			if r.Midstream || !has(r, flow.Client, 'S') {
				continue
			}
			// Every application of a host that closed after a FIN: one
			// with CLOSE_WAITs and no closes of its own is judged on its
			// host's, and on what it opened.
			host := appKey{host: r.Key.Client().Addr()}
			if h := ev.nextUse[host]; h != nil {
				h.opens = append(h.opens, r.First)
				if a := appOf(r, flow.Client); waitingApps[a] || ev.nextUse[a] != nil {
					u := ev.poolUseOf(a)
					u.opens = append(u.opens, r.First)
				}
			}
		}
		for _, u := range ev.nextUse {
			slices.Sort(u.opens)
			slices.SortFunc(u.closes, func(a, b closeAfter) int { return cmp.Compare(a.at, b.at) })
			u.count()
		}
	}
	// CLOSE_WAITs that are leaks on their own evidence.
	for _, r := range recs {
		for s := flow.Client; s <= flow.Server; s++ {
			if r.Half(s).State != flow.CloseWait {
				continue
			}
			if j := ev.judgeCloseWait(r, s, false); j.leak {
				ev.leaks[appOf(r, s)]++
			}
		}
	}
	ev.leakHosts = map[netip.Addr]int{}
	for a, n := range ev.leaks {
		ev.leakHosts[a.host] += n
	}
	return ev
}

// sample adds d to the latencies of k in m.
func sample(m map[appKey]*latencies, k appKey, d time.Duration) {
	l := m[k]
	if l == nil {
		l = &latencies{}
		m[k] = l
	}
	l.add(d)
}

// closeLatency is how long side s took to close after the peer did: from
// the peer's FIN, or s's own last data if it went on sending, to s's FIN,
// or to its RST when it closed abortively. False when s did not close
// second, or had begun to close before the peer's FIN (its last message
// was a control message, a TLS close_notify: the FIN answered it, and
// s's close was no reaction to it).
func closeLatency(r *flow.Record, s flow.Side) (time.Duration, bool) {
	h, p := r.Half(s), r.Half(s.Other())
	if p.FinPacket == 0 || r.ControlBeforeFin(s) {
		return 0, false
	}
	from := max(p.FinAt, h.LastPayload)
	switch {
	case h.FinPacket > 0 && h.FinAt > p.FinAt:
		return h.FinAt.Sub(from), true
	case h.FinPacket == 0 && h.RSTs > 0:
		if e := firstEvent(r, func(e *flow.Event) bool { return e.From == s && e.Flags.Has(packet.RST) && e.At >= p.FinAt }); e != nil {
			return e.At.Sub(from), true
		}
	}
	return 0, false
}

// reuseLatency is how long side s, in CLOSE_WAIT after the peer's FIN,
// kept the connection before it sent data on it again, which the peer,
// closed, reset: a pool that does not watch its idle connections and
// notices a close only at their next use. That is how long this
// application takes to let go of a connection the peer closed, as a
// close after the FIN is for another; it is counted for the application
// only, since it is the pace of its requests, not of its host's closes.
// False unless s never sent FIN nor RST, its last data came after the
// peer's FIN (that request) and the peer's RST after it.
func reuseLatency(r *flow.Record, s flow.Side) (time.Duration, bool) {
	h, p := r.Half(s), r.Half(s.Other())
	if p.FinPacket == 0 || h.FinPacket > 0 || h.RSTs > 0 || p.RSTs == 0 || h.LastPayload <= p.FinAt {
		return 0, false
	}
	rst := firstEvent(r, func(e *flow.Event) bool {
		return e.From == s.Other() && e.Flags.Has(packet.RST) && e.At >= h.LastPayload
	})
	if rst == nil {
		return 0, false
	}
	return h.LastPayload.Sub(p.FinAt), true
}

// closeAt is when side s of r began its close: its announcement, when it
// made one (flow.Record.Announced), or its FIN.
func closeAt(r *flow.Record, s flow.Side) flow.Timestamp {
	if at, _, ok := r.Announced(s); ok {
		return at
	}
	return r.Half(s).FinAt
}

// siblingAcked reports whether server ep acknowledged a request of
// another connection sent within siblingWindow of at: the path and the
// server were up then.
func (ev *captureEvidence) siblingAcked(ep netip.AddrPort, at flow.Timestamp) bool {
	l := ev.acked[ep]
	i, _ := slices.BinarySearch(l, at-flow.Timestamp(siblingWindow))
	return i < len(l) && l[i] <= at+flow.Timestamp(siblingWindow)
}

// siblingWindow is how close together requests count as sent in the
// same moment: a burst of clients.
const siblingWindow = 100 * time.Millisecond

// silentClose reports whether the server of r closed it soon after its
// handshake (acceptCloseOf) with no data either way.
func silentClose(r *flow.Record) bool {
	if r.Client.Bytes != 0 || r.Server.Bytes != 0 {
		return false
	}
	_, ok := acceptCloseOf(r)
	return ok
}

// deferredAccept returns the SYN-ACK that r's server sent again after
// the client's ACK of it, where that may be a deferred accept's
// (TCP_DEFER_ACCEPT, uWSGI's and others' default) rather than a full
// accept queue's: the client sent nothing, and the SYN-ACK came again not
// at its first retransmission timeout (1 s) but at 2 s or more after the
// first. A kernel deferring the accept ignores the bare ACK, skips the
// first rounds of the SYN-ACK's timer, and sends it again when the
// deferral ends. nil otherwise.
func deferredAccept(r *flow.Record) *flow.Event {
	if r.Client.Bytes != 0 {
		return nil
	}
	var synAck *flow.Event
	for i := range r.Events {
		e := &r.Events[i]
		switch {
		case e.From == flow.Server && e.Note&flow.NoteListenOverflow != 0:
			if synAck == nil || e.At.Sub(synAck.At) < deferMin {
				return nil
			}
			return e
		case e.From == flow.Server && e.Flags.Has(packet.SYN|packet.ACK) && synAck == nil:
			synAck = e
		}
	}
	return nil
}

// deferMin is how long after the first a SYN-ACK sent again must come to
// be a deferred accept's: past the first retransmission timeout (1 s),
// with room for the second (3 s after the first).
const deferMin = 2 * time.Second

// servedWhile reports whether server served a connection opened after
// from and up to to (a silent connection's handshake and close).
func (ev *captureEvidence) servedWhile(server netip.AddrPort, from, to flow.Timestamp) bool {
	sv := ev.served[server]
	i, _ := slices.BinarySearch(sv, from+1)
	return i < len(sv) && sv[i] <= to
}

// ungreeted reports whether r's client, having sent nothing, gave up and
// closed without a byte from its server: a server that speaks first
// (captureEvidence.greets) never greeted it.
func ungreeted(r *flow.Record) bool {
	return !r.Midstream && r.Client.Bytes == 0 && r.Server.Bytes == 0 && r.Server.RSTs == 0 && r.Client.FinPacket > 0 &&
		has(r, flow.Client, 'S') && has(r, flow.Server, 'H')
}

// greetingLate reports whether r's server sent its first data only after
// its client, having sent nothing, had given up and closed: a server that
// speaks first came to the connection too late.
func greetingLate(r *flow.Record) bool {
	if r.Midstream || r.Client.Bytes != 0 || r.Server.Bytes == 0 || r.Client.FinPacket == 0 || !has(r, flow.Client, 'S') || !has(r, flow.Server, 'H') {
		return false
	}
	h := r.History
	return strings.IndexByte(h, 'F') >= 0 && strings.IndexByte(h, 'F') < strings.IndexByte(h, 'd')
}
