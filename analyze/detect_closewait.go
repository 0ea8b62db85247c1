package analyze

import (
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"time"

	"github.com/flowdoc/flowdoc/flow"
	"github.com/flowdoc/flowdoc/flow/packet"
	"github.com/flowdoc/flowdoc/flow/payload"
)

// CLOSE_WAIT: an endpoint received the FIN, acknowledged it, and never
// closed. Whether one still in CLOSE_WAIT at the end is a leak yet is
// judged at the edge (judgeCloseWait); one the capture cannot judge gets
// an open verdict that says so, and one still sending a half-close in
// progress.
var closeWaitDetector = detector{
	class: CloseWaitLeak,
	explain: Explanation{
		Class: CloseWaitLeak, Title: "CLOSE_WAIT leak",
		Meaning: "One side received the peer's FIN and acknowledged it (its kernel did), but never sent its own FIN: " +
			"the application has not closed the socket. The socket sits in CLOSE_WAIT, holding a file descriptor, " +
			"buffers and, on a client, an ephemeral port, until the process closes it or exits. CLOSE_WAIT never times out.",
		Detection: "An endpoint is in CLOSE_WAIT at the end of the capture (the peer's FIN and the ACK of it are in the " +
			"capture, and no FIN followed), quiet since the FIN or since its own last data, and judged from what the same " +
			"capture shows of its host: a leak when it has been quiet ten times longer than the host usually took to close " +
			"its other connections after the peer's FIN (never less than 200 ms; a close the host had begun itself, its " +
			"last message a TLS close_notify that the peer's FIN answered, is no such close, and a close_notify sent in reply " +
			"to the peer's FIN, which the peer reset, is one; an application with three or more closes of its own " +
			"is judged by them, and a pool that sends a request on a connection the peer closed, and is reset, lets go of it then), " +
			"or when it is one more of the same as " +
			"its application's leaks beyond doubt; with no close of the host to compare with, when quiet for 1 s, or, for a " +
			"client whose server closed the connection idle, as long as it had been idle (a pool that notices a close only " +
			"at the connection's next use holds it that long), unless its host leaks elsewhere. " +
			"One still sending is a half-close in progress; one too young to judge, or whose close the capture lost " +
			"packets of (the FIN never acknowledged in the capture, as a kernel does at once whatever the application, " +
			"nor sent again; or the peer's FIN acknowledging data the capture never saw), is reported open, with why, and a " +
			"host's such sockets make an info finding of this class, so that every CLOSE_WAIT is accounted for. " +
			"--close-wait-grace replaces the judgement with a fixed threshold.",
		Causes: "A client that drops a connection without closing it after the server closed it for being idle " +
			"(a thread that ends without close(); a keep-alive timeout on the server); an HTTP client that returns early " +
			"on an error status without releasing the connection (the pool then runs dry at maxConnTotal); a library " +
			"that never closes (Python httplib without close()); a proxy blocked on its upstream with no timeout that " +
			"never closes the downstream socket after its caller gave up.",
		Confirm: "On Linux: ss -tanp state close-wait (the process owning each socket; the Recv-Q shows unread bytes). " +
			"On Windows: netstat -ano | findstr CLOSE_WAIT, then tasklist /FI \"PID eq <pid>\". " +
			"Counting them over time shows the leak growing: watch 'ss -tan state close-wait | wc -l'.",
		Fix: "Close the connection in the application whenever the peer has closed it (a read returning EOF or -1), " +
			"and release or close it after every response, error responses included (read the body to the end or " +
			"abort the request). A pooled client must evict connections the server closed (validate before reuse, " +
			"idle-evict shorter than the server's keep-alive timeout). A proxy must close its side when either side " +
			"closes, and put timeouts on upstream calls.",
	},
	inspect:  inspectCloseWait,
	group:    func(f *Flow, v *Verdict) (groupKey, bool) { return groupKey{host: f.Endpoint(v.Side).Addr()}, true },
	findings: func(g *group, fx *findCtx) []Finding { return []Finding{leakFinding(g, fx)} },
	all:      notJudgedFindings,
}

func inspectCloseWait(c *flowCtx) {
	r := c.r
	for _, s := range []flow.Side{flow.Client, flow.Server} {
		h := r.Half(s)
		if h.State != flow.CloseWait {
			continue
		}
		age := c.age(h.Since)
		if s == flow.Server && notTakenUp(r) && c.end.Sub(r.Client.LastPayload) >= takeUpWait {
			c.add(notTakenUpVerdict(c, age, false))
			continue
		}
		if s == flow.Server && ungreeted(r) && c.cap.greets[r.Key.Server()] && c.end.Sub(opened(r)) >= takeUpWait {
			c.add(notTakenUpVerdict(c, age, true))
			continue
		}
		j := c.cap.judgeCloseWait(r, s, true)
		if !j.leak {
			if j.sending {
				c.add(Verdict{Class: HalfCloseOK, Side: s.Other(), Severity: Info, Confidence: 0.8, Since: h.Since, Age: age,
					Summary: fmt.Sprintf("the %s shut down its sending side %s before the end; the %s is still sending (its last data %s before the end), a half-close in progress",
						sideName(s.Other()), fmtDur(age), sideName(s), fmtDur(j.quiet))})
				continue
			}
			c.add(Verdict{Class: OpenClass, Side: s, Severity: Info, Confidence: 0.5, Since: h.Since, Age: age,
				Summary: fmt.Sprintf("the %s is %s", sideName(s), j.basis()), pooled: j.on == byNextUse})
			continue
		}
		c.add(closeWaitVerdict(c, s, j, age))
	}
}

// notTakenUp reports whether the server of r, in CLOSE_WAIT, never came
// to the connection: the client opened a handshake that a server answers
// as soon as it takes a connection up (flow.Record.Opened), the server's
// kernel acknowledged it and the server sent nothing, and the client gave
// up and closed. Its socket waits in the listening socket's accept queue,
// or with an application that has not come to it yet: no leak.
func notTakenUp(r *flow.Record) bool {
	return r.Opened() && !r.Midstream && r.Server.Bytes == 0 && r.Server.RSTs == 0 && r.Client.FinPacket > 0 &&
		r.Client.LastPayload > 0 && r.Client.LastPayload < r.Client.FinAt
}

// takeUpWait is how long a server must have left a client's opening
// message unanswered before it is said never to have come to the
// connection: one that answers at once under load answers well within it,
// and a capture cut sooner cannot tell.
const takeUpWait = time.Second

// notTakenUpVerdict is the listen overflow of a connection in CLOSE_WAIT
// that its server never came to: the client's opening message never
// answered, or, where the server speaks first, no greeting (greeting).
func notTakenUpVerdict(c *flowCtx, age time.Duration, greeting bool) Verdict {
	r := c.r
	what := "opening message"
	if p := r.ReadPayload(c.pb); p != nil && p.Protocol == "tls" {
		what = "TLS ClientHello"
	}
	since, ok := r.Client.LastPayload, true
	first := fmt.Sprintf("the server never answered the client's %s, which a server answers as soon as it takes a connection up; its kernel acknowledged it", what)
	if greeting {
		since, ok = opened(r), false
		first = "the server never greeted the client, though it speaks first on its other connections, at once"
	}
	waited := r.Client.FinAt.Sub(since)
	v := Verdict{Class: ListenOverflow, Side: flow.Server, Severity: Warning, Confidence: 0.7, Since: r.Server.Since, Age: age, notTakenUp: true,
		Summary: fmt.Sprintf("%s, and the client gave up %s later and closed. "+
			"The server never accepted the connection (a connection cap: RabbitMQ's connection_max, HAProxy's maxconn, Tomcat's maxConnections; a full accept queue; or it stopped accepting), or accepted it and never came to it (every worker busy): "+
			"its CLOSE_WAIT waits in the kernel until the server takes it up, no application's leak", first, fmtDur(waited))}
	if ok {
		v.Evidence = append(v.Evidence, Evidence{Input: int(r.Client.LastPayloadInput), Packet: int(r.Client.LastPayloadPacket), At: r.Client.LastPayload, What: "the client's " + what + ", never answered"})
	} else if e := handshakeEnd(r); e != nil {
		v.Evidence = append(v.Evidence, ev(e, "the handshake's last packet: no greeting after it"))
	}
	v.Evidence = append(v.Evidence, Evidence{Input: int(r.Client.FinInput), Packet: int(r.Client.FinPacket), At: r.Client.FinAt, What: fmt.Sprintf("FIN from client %s later: it gave up", fmtDur(waited))})
	return v
}

func closeWaitVerdict(c *flowCtx, s flow.Side, j judgement, age time.Duration) Verdict {
	r := c.r
	h := r.Half(s)
	fin := firstEvent(r, func(e *flow.Event) bool { return e.From == s.Other() && e.Flags.Has(packet.FIN) })
	ack := firstEvent(r, func(e *flow.Event) bool {
		return e.From == s && fin != nil && e.Packet >= fin.Packet && e.Input == fin.Input && e.Flags.Has(packet.ACK) &&
			e.Note&flow.NoteStateChange != 0
	})
	if ack == nil {
		ack = firstEvent(r, func(e *flow.Event) bool {
			return e.From == s && fin != nil && e.At >= fin.At && e.Flags.Has(packet.ACK)
		})
	}
	conf := j.confidence
	if r.Midstream {
		conf = min(conf, 0.85)
	}
	quiet := ""
	if closer, idle, ok := firstCloser(r); ok && closer == s.Other() && idle >= minIdle {
		quiet = fmt.Sprintf(" after %s idle", fmtDur(idle))
		switch {
		case r.Half(closer).DataBeforeFin == 0:
			quiet = fmt.Sprintf(" %s after the handshake (no data sent either way)", fmtDur(idle))
		case waitedFor(closer, r.Half(closer).DataBeforeFinFrom):
			quiet = fmt.Sprintf(" %s after its own last data (it gave up waiting)", fmtDur(idle))
		}
		if bye, ok := goodbyeEvidence(r, closer); ok {
			quiet += fmt.Sprintf(" and a goodbye at #%d", bye.Packet)
		}
	}
	b := c.text[:0] // the text is copied out whole: no builder's growth left as garbage
	if fin != nil {
		b = fmt.Appendf(b, "%s FIN at #%d%s", sideName(s.Other()), fin.Packet, quiet)
		if ack != nil {
			b = fmt.Appendf(b, " acknowledged by the %s at #%d", sideName(s), ack.Packet)
		}
		b = fmt.Appendf(b, "; the %s never sent FIN (%s until the end of the capture)", sideName(s), fmtDur(age))
	} else {
		b = fmt.Appendf(b, "the %s has been in CLOSE_WAIT for %s: it received the %s's FIN and never closed", sideName(s), fmtDur(age), sideName(s.Other()))
	}
	if j.sending {
		b = fmt.Appendf(b, "; it sent data until %s before the end, then nothing", fmtDur(j.quiet))
	}
	if c.cap.grace == 0 && conf < 0.9 {
		b = fmt.Appendf(b, " (%s)", j.basis())
	}
	c.text = b
	v := Verdict{Class: CloseWaitLeak, Side: s, Severity: Error, Confidence: conf, Since: h.Since, Age: age, Summary: string(b)}
	var evs [3]Evidence // made whole below: one allocation of the right size
	n := 0
	if bye, ok := goodbyeEvidence(r, s.Other()); ok && fin != nil && bye.Packet != int(fin.Packet) {
		evs[n], n = bye, n+1
	}
	if fin != nil {
		evs[n], n = ev(fin, "FIN from "+sideName(s.Other())+quiet), n+1
	}
	if ack != nil {
		evs[n], n = ev(ack, ackOfFinFrom[s]), n+1
	}
	if n > 0 {
		v.Evidence = slices.Clone(evs[:n])
	}
	leakExchange(r, s, &v, c.pb)
	return v
}

// firstCloser returns the side that closed first and how long the
// connection had carried no data by then, or by the announcement of the
// close (flow.Record.Announced): the side that sent the first FIN, or
// one whose announcement that FIN answered; false when neither closed or
// the connection carried no data before.
func firstCloser(r *flow.Record) (flow.Side, time.Duration, bool) {
	C, S := &r.Client, &r.Server
	closer := flow.Client
	switch {
	case C.FinPacket > 0 && (S.FinPacket == 0 || C.FinAt < S.FinAt):
	case S.FinPacket > 0:
		closer = flow.Server
	default:
		return closer, 0, false
	}
	// The peer may have announced its close before: the FIN answered it.
	if o := closer.Other(); answeredFirst(r, o) {
		if at, _, ok := r.Announced(o); ok {
			return o, at.Sub(r.Half(o).DataBeforeFin), true
		}
	}
	h := r.Half(closer)
	if h.DataBeforeFin == 0 {
		if quietSinceHandshake(r, closer) {
			// No data either way (but the closer's goodbye): idle since
			// the handshake, up to the goodbye when it said one.
			end := h.FinAt
			if h.Goodbye() {
				end = h.LastPayload
			}
			return closer, end.Sub(opened(r)), true
		}
		return closer, 0, false
	}
	if at, _, ok := r.Announced(closer); ok {
		return closer, at.Sub(h.DataBeforeFin), true
	}
	return closer, h.FinAt.Sub(h.DataBeforeFin), true
}

// quietSinceHandshake reports whether a connection whose handshake the
// capture holds carried no data either way before side s closed it, but
// s's goodbye: HAProxy's 408 to a connection that never sent a request,
// a server's timeout message to a client that never spoke.
func quietSinceHandshake(r *flow.Record, s flow.Side) bool {
	if r.Midstream || !has(r, flow.Client, 'S') || !has(r, flow.Server, 'H') || !has(r, flow.Client, 'A') {
		return false
	}
	h, p := r.Half(s), r.Half(s.Other())
	return p.Bytes == 0 && (h.Bytes == 0 || h.Goodbye() && h.DataBeforeFin == 0)
}

// answeredFirst reports whether side s's close was announced and the
// peer's FIN came before s's own (or s sent none): the peer answered the
// announcement (flow.Record.Announced).
func answeredFirst(r *flow.Record, s flow.Side) bool {
	h, p := r.Half(s), r.Half(s.Other())
	_, _, ok := r.Announced(s)
	return ok && p.FinPacket > 0 && (h.FinPacket == 0 || p.FinAt < h.FinAt)
}

// leakFinding states one host's CLOSE_WAIT leak: its sockets and their
// ages, how the peer closed them, what role the host plays (client,
// server, proxy) and so what to fix, and the CLOSE_WAITs set apart.
func leakFinding(g *group, fx *findCtx) Finding {
	host := g.flows[0].Endpoint(g.vs[0].Side).Addr()
	n := len(g.flows)
	ages := make([]time.Duration, n)
	for i := range g.flows {
		ages[i] = g.vs[i].Age
	}
	slices.Sort(ages)
	role := leakRole(g, host, fx)
	var sb strings.Builder
	oldest := "for"
	if n > 1 {
		oldest = "the oldest for"
	}
	fmt.Fprintf(&sb, "%s holds %s to %s in CLOSE_WAIT, %s %s", host, plural(n, "connection"), countPeers(g.flows, leakPeer), oldest, fmtDur(ages[n-1]))
	if n > 2 {
		fmt.Fprintf(&sb, " (median %s)", fmtDur(median(ages)))
	}
	sb.WriteString(". ")
	web := speaksHTTP(g.flows)
	idleClosed := leakHowClosed(&sb, g, host, role, web)
	statuses, statusMetrics, errorsOnly := leakStatuses(g, fx.byClient)
	switch role.name {
	case "client":
		sb.WriteString(statuses)
		if web {
			sb.WriteString(" Fix the client: close or release the connection after each response.")
		} else {
			sb.WriteString(" Fix the client: close the connection when the server has closed it.")
		}
	case "proxy":
		fmt.Fprintf(&sb, " It also opens connections of its own (%s to %s", plural(len(role.upstream), "connection"),
			countPeers(role.upstream, func(f *Flow) netip.AddrPort { return f.Key.Server() }))
		if role.waiting > 0 {
			fmt.Fprintf(&sb, ", %d of them still waiting for an answer", role.waiting)
		}
		sb.WriteString("): a proxy that does not close its side when its caller closes.")
	case "server":
		sb.WriteString(" Fix the server: close the socket when the client has closed it.")
	}
	metrics := append([]Metric{{"sockets", float64(n)}, {"oldest_s", ages[n-1].Seconds()}, {"median_age_s", median(ages).Seconds()},
		{"closed_by_idle_timeout", float64(idleClosed)}}, statusMetrics...)
	if apart := fx.closeWaitApart[host]; apart.total() > 0 {
		sb.WriteString(" " + apart.String(host))
		metrics = append(metrics, Metric{"close_wait_not_judged", float64(apart.young + apart.lost)}, Metric{"close_wait_sending", float64(apart.sending)})
	}
	return Finding{Class: CloseWaitLeak, Severity: Error, Hosts: []netip.Addr{host}, Flows: ids(g.flows),
		Metrics: metrics, Summary: sb.String(), Remedy: leakRemedy(role.name, errorsOnly, web), Evidence: evidence(g, true)}
}

// leakPeer is the endpoint whose FIN a leaked flow received.
func leakPeer(f *Flow) netip.AddrPort {
	for _, v := range f.Verdicts {
		if v.Class == CloseWaitLeak {
			if v.Side == flow.Server {
				// A server leaks towards clients, whose ports change:
				// the client host says it (port 0).
				return netip.AddrPortFrom(f.Key.Client().Addr(), 0)
			}
			return f.Endpoint(v.Side.Other())
		}
	}
	return f.Key.Server()
}

// leakingRole is what a leaking host is to the leaked connections: a
// client, a server, a proxy (a server that opens connections of its
// own, some of them still waiting for an answer), or both.
type leakingRole struct {
	name     string // "client", "server", "proxy" or "client and server"
	other    string // who closed: "the server", "the client", "the caller", "the peer"
	upstream []*Flow
	waiting  int
}

func leakRole(g *group, host netip.Addr, fx *findCtx) leakingRole {
	asClient := 0
	for _, v := range g.vs {
		if v.Side == flow.Client {
			asClient++
		}
	}
	switch {
	case asClient == len(g.flows):
		return leakingRole{name: "client", other: "the server"}
	case asClient > 0:
		return leakingRole{name: "client and server", other: "the peer"}
	}
	// A host that leaks accepted connections while it opens its own
	// upstream ones is a proxy; it may open them from another of its
	// addresses, which a capture on it shows.
	role := leakingRole{name: "server", other: "the client"}
	for _, f := range fx.byClient.flows(fx.hostAddrs(host)...) {
		role.name, role.other = "proxy", "the caller"
		role.upstream = append(role.upstream, f)
		if f.Client.State == flow.Established && f.Client.Bytes > 0 && f.Server.Bytes == 0 {
			role.waiting++
		}
	}
	return role
}

// leakHowClosed says how the peer closed the leaked connections, as it
// holds for all of them, and returns how many it closed for being idle.
func leakHowClosed(sb *strings.Builder, g *group, host netip.Addr, role leakingRole, web bool) int {
	idleClosed, gaveUp, massed, quiet := 0, 0, 0, 0
	idleBy := map[netip.AddrPort][]time.Duration{}
	var idleTimes []time.Duration
	for i, f := range g.flows {
		iv := verdictOf(f, IdleTimeoutClose)
		if iv == nil || iv.Side != g.vs[i].Side.Other() {
			continue
		}
		idleClosed++
		if iv.mass {
			massed++ // at a restart: its idle time measures no timeout
			continue
		}
		d, _ := idleBefore(f.Record, iv)
		idleTimes = append(idleTimes, d)
		idleBy[f.Endpoint(iv.Side)] = append(idleBy[f.Endpoint(iv.Side)], d)
		switch h := f.Half(iv.Side); {
		case h.DataBeforeFin == 0:
			quiet++ // no data either way before it: no answer waited for
		case waitedFor(iv.Side, h.DataBeforeFinFrom):
			gaveUp++
		}
	}
	n := len(g.flows)
	every := "In every one"
	if n == 1 {
		every = "There"
	}
	switch {
	case massed == n:
		fmt.Fprintf(sb, "%s %s closed it at a restart or reload, all at once with its other idle connections whatever their idle times (see its idle_timeout_close finding), and %s acknowledged the FIN, but its application never closed the socket.",
			every, role.other, host)
		return idleClosed
	case idleClosed == n && massed > 0:
		fmt.Fprintf(sb, "%s %s closed it for being idle, %d of them at a restart or reload (all at once, whatever their idle times), and %s acknowledged the FIN, but its application never closed the socket.",
			every, role.other, massed, host)
		return idleClosed
	case idleClosed == n && quiet == n:
		fmt.Fprintf(sb, "%s %s closed it %s after the handshake, no data sent either way (a timeout for a first request or message), and %s acknowledged the FIN, but its application never closed the socket.",
			every, role.other, idleSpan(idleBy, idleTimes, "%s", "a time of its own (%s)"), host)
	case idleClosed == n && gaveUp == n:
		fmt.Fprintf(sb, "%s %s gave up waiting for an answer after %s and closed, and %s acknowledged the FIN, but its application never closed the socket: it is still working on, or blocked in, the request.",
			every, role.other, idleSpan(idleBy, idleTimes, "%s", "a time of its own (%s)"), host)
	case idleClosed == n:
		timeout := "idle timeout"
		if web {
			timeout = "keep-alive timeout"
		}
		fmt.Fprintf(sb, "%s %s sent FIN after %s and %s acknowledged it, but its application never closed the socket.",
			every, role.other, idleSpan(idleBy, idleTimes, "%s of idle time (its "+timeout+")", "an idle time of its own (%s: its "+timeout+")"), host)
	case idleClosed > 0:
		fmt.Fprintf(sb, "In %d of them %s closed after an idle period; in all, %s acknowledged the FIN but its application never closed the socket.", idleClosed, role.other, host)
	default:
		fmt.Fprintf(sb, "%s closed each one and %s acknowledged the FIN, but its application never closed the socket.", upperFirst(role.other), host)
	}
	return idleClosed
}

// leakRemedy is what to fix, by the leaking host's role.
func leakRemedy(role string, errorsOnly, web bool) string {
	switch {
	case role == "client" && !web:
		// No HTTP read (another protocol, or --no-payload): words for any.
		return "Close the connection when a read returns EOF (the server has closed it), and release it after every exchange, errors included (an HTTP client reads the body to the end or aborts the request; a database client returns it to its pool). A pooled client must check idle connections before reuse, or evict them sooner than the server's idle timeout."
	case role == "client" && errorsOnly:
		return "Release the connection on error responses too: the code path that handles a 4xx or 5xx returns without closing the response (read or discard its body and close it, e.g. in a finally block or defer). Also close the connection when a read returns EOF."
	case role == "client":
		return "Close or release the connection after every response, error responses included (read the body to the end or abort the request), and close it when a read returns EOF. A pooled client must evict connections the server has closed, and its idle timeout should be shorter than the server's keep-alive timeout."
	case role == "proxy":
		return "The proxy must close the caller's connection when the caller closes it (a read returning EOF), even while it waits on the upstream; put timeouts on upstream calls so that no worker blocks forever."
	case role == "server":
		return "The server application must close its socket when a read returns EOF (the client has closed), also while it is busy with the request: put timeouts on what it waits on (upstream calls, locks, queues), so that a worker is never blocked longer than its callers wait."
	}
	return remedy(CloseWaitLeak)
}

// speaksHTTP reports whether the first flows of a group carried HTTP
// (read in their streams): the words of a leak are then the web's
// (keep-alive, responses, bodies), otherwise any protocol's (an idle
// timeout, a pool). With --no-payload nothing is read.
func speaksHTTP(flows []*Flow) bool {
	var pb payload.Buffer
	for _, f := range flows[:min(len(flows), 8)] {
		if p := f.ReadPayload(&pb); p != nil && p.HTTP != nil && !p.HTTP.Upgraded {
			return true // (an upgraded one, a WebSocket, is HTTP no longer)
		}
	}
	return false
}

// idleSpan says how long the closers waited, as it holds for the whole
// group: one figure when the idle times agree (spelled by one, a format
// of it), else each closer's or the range (spelled by many).
func idleSpan(by map[netip.AddrPort][]time.Duration, all []time.Duration, one, many string) string {
	if cl := ClusterDurations(all); len(cl) == 1 {
		return fmt.Sprintf(one, fmtDur(cl[0].Median))
	}
	if len(by) > 1 && len(by) <= 3 {
		eps := make([]netip.AddrPort, 0, len(by))
		for ep := range by {
			eps = append(eps, ep)
		}
		slices.SortFunc(eps, func(a, b netip.AddrPort) int { return a.Compare(b) })
		var parts []string
		for _, ep := range eps {
			parts = append(parts, fmt.Sprintf("%s for %s", fmtDur(median(slices.Sorted(slices.Values(by[ep])))), ep))
		}
		return fmt.Sprintf(many, strings.Join(parts, ", "))
	}
	return fmt.Sprintf(many, fmt.Sprintf("%s to %s, differing from one connection to the next", fmtDur(slices.Min(all)), fmtDur(slices.Max(all))))
}

// notJudgedFindings accounts, for the hosts no leak finding is about, for
// the CLOSE_WAIT sockets the capture could not judge yet: every CLOSE_WAIT
// the state table counts is then in a finding, or a half-close the flows'
// verdicts explain.
func notJudgedFindings(fx *findCtx) []Finding {
	var hosts []netip.Addr
	for h, a := range fx.closeWaitApart {
		if a.young+a.lost > 0 && !fx.leakHosts[h] || a.pooled > 0 {
			hosts = append(hosts, h)
		}
	}
	slices.SortFunc(hosts, func(a, b netip.Addr) int { return a.Compare(b) })
	var out []Finding
	for _, h := range hosts {
		a := fx.closeWaitApart[h]
		var why []string
		if a.young > 0 {
			why = append(why, fmt.Sprintf("%s in CLOSE_WAIT that the capture ended too soon to judge (the oldest for %s)", plural(a.young, "connection"), fmtDur(a.oldest)))
		}
		if a.lost > 0 {
			why = append(why, fmt.Sprintf("%s in CLOSE_WAIT whose close the capture lost packets of", plural(a.lost, "connection")))
		}
		if fx.leakHosts[h] {
			// Its leak finding counts the young and lost ones.
			why, a.young, a.lost, a.flows = nil, 0, 0, nil
		}
		a.flows = append(a.flows, a.pooledFlows...)
		if a.pooled > 0 {
			why = append(why, fmt.Sprintf("%s in CLOSE_WAIT (the oldest for %s) that a pool holds until it next uses them: it closed the others the server had closed just as it opened a new connection in their place, and has opened none but those since (Apache's mod_proxy without ttl, a pool that validates a connection as it hands it out)", plural(a.pooled, "connection"), fmtDur(a.oldestPooled)))
		}
		remedy := "Capture for longer (several times the host's usual close), or watch the host itself: ss -tan state close-wait, or flowdoc live, which reads the socket table."
		pooled := ""
		if n := fx.staleFrom(h); n > 0 && a.young > 0 {
			// A pool that notices a close only at its next use holds its
			// connections in CLOSE_WAIT until then, as the stale reuse
			// shows it does.
			pooled = fmt.Sprintf(" It sent requests on %s after the server had closed them (stale_reuse_reset): its pool keeps connections until it next uses them, and these may be more of those.", plural(n, "other connection"))
			remedy = "Make the pool let go of idle connections before the server's timeout, or validate them before reuse (see the stale_reuse_reset finding); to tell a leak from such a pool, capture for longer or watch the host itself: ss -tan state close-wait, or flowdoc live."
		}
		if a.lost > 0 {
			remedy = "Capture with a larger buffer (tcpdump -B, a filter that keeps only what is needed) so that the capture point drops no packets, or watch the host itself: ss -tan state close-wait, or flowdoc live, which reads the socket table."
		}
		if a.pooled > 0 && a.young+a.lost == 0 {
			remedy = "Nothing leaks: the pool closes each at its next use, and holds no more than its size. To have none in CLOSE_WAIT, make the pool close idle connections before the server's idle timeout does (Apache ProxyPass ttl=, shorter than the backend's timeout; a pool's idle eviction)."
		}
		ms := []Metric{{"close_wait_not_judged", float64(a.young + a.lost)}}
		if a.pooled > 0 {
			ms = append(ms, Metric{"close_wait_pooled", float64(a.pooled)})
		}
		if a.young > 0 {
			ms = append(ms, Metric{"oldest_s", a.oldest.Seconds()})
		}
		if a.lost > 0 {
			ms = append(ms, Metric{"close_wait_lost_packets", float64(a.lost)})
		}
		out = append(out, Finding{Class: CloseWaitLeak, Severity: Info, Hosts: []netip.Addr{h}, Flows: a.flows, Metrics: ms,
			Summary: fmt.Sprintf("%s holds %s: each flow's verdict says what the capture shows of this host. Not a leak %sas far as the capture can tell.%s",
				h, strings.Join(why, ", and "), map[bool]string{true: "yet ", false: ""}[a.lost == 0 && a.young > 0], pooled),
			Remedy: remedy})
	}
	return out
}

// staleFrom counts the connections on which host h sent a request after
// its peer had closed them (stale_reuse_reset verdicts of its side). The
// first call counts every host's in one walk.
func (fx *findCtx) staleFrom(h netip.Addr) int {
	if fx.stale == nil {
		fx.stale = map[netip.Addr]int{}
		for i := range fx.rep.Flows {
			f := &fx.rep.Flows[i]
			if v := verdictOf(f, StaleReuseReset); v != nil && !fx.rep.isCopy(i) {
				fx.stale[f.Endpoint(v.Side).Addr()]++
			}
		}
	}
	return fx.stale[h]
}

// apartCounts are a host's CLOSE_WAIT sockets that no leak verdict
// holds, and why: still sending (a half-close), too young to judge, or
// their close partly lost by the capture.
type apartCounts struct {
	sending, young, lost int
	// pooled are held by a pool until its next use (judgement
	// byNextUse); oldestPooled the oldest of them.
	pooled       int
	flows        []int // the young and lost ones' flow IDs
	pooledFlows  []int
	oldest       time.Duration // the young ones' oldest
	oldestPooled time.Duration
}

func (a apartCounts) total() int { return a.sending + a.young + a.lost }

func (a apartCounts) String(host netip.Addr) string {
	var parts []string
	if a.young > 0 {
		parts = append(parts, fmt.Sprintf("%d too young for the capture to judge", a.young))
	}
	if a.lost > 0 {
		parts = append(parts, fmt.Sprintf("%d whose close the capture lost packets of", a.lost))
	}
	if a.sending > 0 {
		parts = append(parts, fmt.Sprintf("%d still sending (a half-close in progress)", a.sending))
	}
	return fmt.Sprintf("%s holds %s more in CLOSE_WAIT, set apart: %s.", host, plural(a.total(), "socket"), strings.Join(parts, ", "))
}
