package analyze

import (
	"cmp"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"time"

	"github.com/flowdoc/flowdoc/flow"
	"github.com/flowdoc/flowdoc/flow/packet"
	"github.com/flowdoc/flowdoc/flow/payload"
)

// minIdle is the shortest quiet period before a close that counts as an
// idle-timeout close (gunicorn's 2 s is the shortest common default).
const minIdle = time.Second

// Idle-timeout close: the first FIN, or an RST that answered nothing,
// after the connection carried no data for a while.
var idleDetector = detector{
	class: IdleTimeoutClose,
	explain: Explanation{
		Class: IdleTimeoutClose, Title: "Idle-timeout close",
		Meaning: "A side closed the connection after it had carried no data for a while: a server's keep-alive " +
			"or idle timeout (or a client pool's idle eviction). Healthy by itself; it matters when the other side " +
			"does not close in turn (a CLOSE_WAIT leak) or reuses the connection after it (a stale reuse).",
		Detection: "The first FIN of the connection comes one second or more after the last payload in either " +
			"direction (after the handshake, where no payload came either way; before the closer's goodbye, when it sent one: a message that answered nothing, just before its " +
			"FIN, as PostgreSQL's idle_session_timeout and MySQL 8's wait_timeout send, or the Terminate a PostgreSQL client or " +
			"pooler sends as it closes an idle connection), or before its announcement of " +
			"the close, when it made one: a short message answering nothing after the quiet, its FIN later, no later than " +
			"the quiet lasted (Go's HTTP/2 server sends GOAWAY when its idle timeout fires, and close_notify and FIN a " +
			"second later; a FIN of the peer's answering that announcement at once, before the closer's own, as a TLS client " +
			"answers a close_notify, leaves the announcer the closer); or, with no FIN, an RST does, which no packet of the peer provoked (an idle timeout that closes " +
			"with zero linger). Across connections, the idle times before such closes are clustered and compared with " +
			"the defaults of common HTTP servers, unless the connections, read from their first byte, carried another " +
			"protocol (MQTT, a database's); the shortest bounds the timeout set (a server that checks its idle " +
			"connections once a second closes each up to a second after it). Where the closer's peer sent the last data, the " +
			"close ended a wait rather than an idle connection: a client's on a request with no answer (a request or read " +
			"timeout), a server's on a request whose headers never ended (a request read timeout: nginx client_header_timeout, " +
			"slow or stalled clients, a slow-request attack) or that it never answered (its handler's or upstream's timeout), " +
			"told apart where the HTTP is read. A server's idle closes that come all at once (three or more within " +
			"10 ms) though their connections had been idle for times far apart (the longest twice the shortest, and a " +
			"second longer) are a restart, reload or shutdown, not its timeout: they are reported apart, and left out " +
			"of the timeout the other closes measure (unless there are more than two such moments: a server that " +
			"sweeps on a clock, each connection on a timeout of its own). A server's closes at one age from the client's SYN " +
			"(three or more, a second old or more, within 1 % of it or 20 ms), of connections opened apart whose idle times " +
			"are ten times as far apart (100 ms at least), are a deadline counted from the accept, not an idle timeout: " +
			"a timeout to finish a handshake or log in (sshd LoginGraceTime), or a maximum age; they are reported apart, " +
			"and data the client sent after such a close is no reuse of the connection. Where the closer closed, within a " +
			"millisecond of most of its idle closes, a connection of its own on the other side of it, it is a TCP relay (HAProxy in " +
			"mode tcp, nginx stream) whose inactivity timeout closed both legs: the findings of both legs say so.",
		Causes: "Tomcat keepAliveTimeout (default connectionTimeout, 20 s), nginx keepalive_timeout (75 s), Apache " +
			"KeepAliveTimeout (5 s), Node.js server.keepAliveTimeout (5 s; recent releases close at 6 s, adding keepAliveTimeoutBuffer), gunicorn --keep-alive (2 s), uvicorn --timeout-keep-alive (5 s), AWS ALB idle " +
			"timeout (60 s), HAProxy timeout http-keep-alive, Envoy idle_timeout (1 h).",
		Confirm: "The server's configuration for the timeout named in the finding; its Keep-Alive: timeout= " +
			"response header, when it sends one.",
		Fix: "Nothing to fix in the server when the clients close their side. Make clients' pool idle timeouts " +
			"shorter than the server's keep-alive timeout, so that clients, not servers, close idle connections.",
	},
	inspect: inspectIdle,
	group: func(f *Flow, v *Verdict) (groupKey, bool) {
		// A server's closes, per server endpoint; a client's, per client
		// host and the server it closed on (its ports change).
		_, from := idleBefore(f.Record, v)
		waiting := waitedFor(v.Side, from) && !v.unused
		if v.Side == flow.Client {
			return groupKey{host: f.Key.Client().Addr(), endpoint: f.Key.Server(), waiting: waiting, unused: v.unused, greet: v.greetWait}, true
		}
		return groupKey{endpoint: f.Key.Server(), waiting: waiting, mass: v.mass, pings: v.pings, unused: v.unused}, true
	},
	findings: func(g *group, fx *findCtx) []Finding {
		if g.vs[0].mass {
			return []Finding{massFinding(g)}
		}
		if g.vs[0].unused {
			return []Finding{unusedFinding(g)}
		}
		if g.vs[0].pings {
			return []Finding{pingsFinding(g)}
		}
		_, from := idleBefore(g.flows[0].Record, g.vs[0])
		if waitedFor(g.vs[0].Side, from) {
			return []Finding{waitFinding(g, fx)}
		}
		if dl, rest, ok := splitDeadline(g); ok {
			out := []Finding{deadlineFinding(dl)}
			if rest != nil {
				out = append(out, idleFinding(rest, fx))
			}
			return out
		}
		return []Finding{idleFinding(g, fx)}
	},
}

// A server that closes connections a fixed time after it accepted them,
// whatever their idle time, keeps a deadline counted from the accept: a
// timeout for the client to finish its handshake or log in (sshd's
// LoginGraceTime), or a maximum connection age. An idle timeout closes
// each a fixed time after its last data, at ages as far apart as their
// use. The ages of deadlineMin or more closes within deadlineSpread of
// each other (1 % of their median, at least 20 ms), with idle times ten
// times as far apart (100 ms at least), tell a deadline.
const (
	deadlineMin    = 3
	deadlineSpread = 20 * time.Millisecond
)

// closeAge is a server's close: its connection's index, when it came,
// the connection's age then (from the client's SYN) and its idle time
// before it.
type closeAge struct {
	i         int
	at        flow.Timestamp
	age, idle time.Duration
}

// deadlineRun returns the closes of cs that kept a deadline from the
// accept: the largest run, of deadlineMin or more, of ages of a second
// or more within the spread of their median, whose idle times, and the
// moments they came, are ten times as far apart as their ages (100 ms at
// least for idle times, the spread for moments): connections opened
// apart and closed at one age, whatever their use. Idle times shorter
// than raceIdle are left out: data just before a close may have raced an
// idle timer. (Connections opened together and closed together, at a
// restart, are not apart.)
// raceIdle is the idle time under which a close may be an idle timer's
// that a request raced (Jetty's FIN 1 ms after a request it never read).
const raceIdle = 50 * time.Millisecond

func deadlineRun(cs []closeAge) ([]closeAge, bool) {
	cs = slices.DeleteFunc(cs, func(c closeAge) bool { return c.age < minIdle })
	slices.SortFunc(cs, func(a, b closeAge) int { return cmp.Compare(a.age, b.age) })
	var best []closeAge
	for lo, hi := 0, 0; lo < len(cs); lo++ {
		hi = max(hi, lo)
		for hi+1 < len(cs) && cs[hi+1].age-cs[lo].age <= max(deadlineSpread, cs[lo].age/100) {
			hi++
		}
		run := cs[lo : hi+1]
		if len(run) < max(deadlineMin, len(best)+1) {
			continue
		}
		ageSpread := run[len(run)-1].age - run[0].age
		idleLo, idleHi, atLo, atHi := time.Duration(-1), time.Duration(-1), run[0].at, run[0].at
		for _, c := range run {
			atLo, atHi = min(atLo, c.at), max(atHi, c.at)
			if c.idle < raceIdle {
				// Data just before the close: a request that raced an
				// idle timer (Jetty's), which says nothing of a deadline.
				continue
			}
			if idleLo < 0 {
				idleLo, idleHi = c.idle, c.idle
			}
			idleLo, idleHi = min(idleLo, c.idle), max(idleHi, c.idle)
		}
		if idleLo >= 0 && idleHi-idleLo >= max(10*ageSpread, 100*time.Millisecond) && atHi.Sub(atLo) >= max(10*ageSpread, deadlineSpread) {
			best = run
		}
	}
	return best, best != nil
}

// serverCloseAge is the age of r's connection when its server closed it
// first, with the idle time before; false where the capture did not see
// it open, or the server did not close first.
func serverCloseAge(r *flow.Record) (age, idle time.Duration, ok bool) {
	closer, d, ok := firstCloser(r)
	if !ok || closer != flow.Server || r.Midstream || !has(r, flow.Client, 'S') {
		return 0, 0, false
	}
	return closeAt(r, flow.Server).Sub(r.First), d, true
}

// splitDeadline parts g, a server's idle closes, into those that kept a
// deadline from the accept and the rest (nil when none); false when no
// deadline shows.
func splitDeadline(g *group) (dl, rest *group, ok bool) {
	if g.vs[0].Side != flow.Server || len(g.flows) < deadlineMin {
		return nil, nil, false
	}
	cs := make([]closeAge, 0, len(g.flows))
	for i, f := range g.flows {
		if f.Midstream || !has(f.Record, flow.Client, 'S') {
			continue
		}
		d, _ := idleBefore(f.Record, g.vs[i])
		at := closeAt(f.Record, flow.Server)
		cs = append(cs, closeAge{i, at, at.Sub(f.First), d})
	}
	run, ok := deadlineRun(cs)
	if !ok {
		return nil, nil, false
	}
	dl = &group{key: g.key}
	in := map[int]bool{}
	for _, c := range run {
		in[c.i] = true
	}
	for i := range g.flows {
		if in[i] {
			dl.flows, dl.vs = append(dl.flows, g.flows[i]), append(dl.vs, g.vs[i])
		} else {
			if rest == nil {
				rest = &group{key: g.key}
			}
			rest.flows, rest.vs = append(rest.flows, g.flows[i]), append(rest.vs, g.vs[i])
		}
	}
	return dl, rest, true
}

// deadlineFinding says a server's closes at a fixed age (splitDeadline).
func deadlineFinding(g *group) Finding {
	server := g.flows[0].Key.Server()
	var ages, idle []time.Duration
	var clients []netip.Addr
	for i, f := range g.flows {
		ages = append(ages, closeAt(f.Record, flow.Server).Sub(f.First))
		d, _ := idleBefore(f.Record, g.vs[i])
		idle = append(idle, d)
		if c := f.Key.Client().Addr(); !slices.Contains(clients, c) {
			clients = append(clients, c)
		}
	}
	from := clients[0].String()
	if len(clients) > 1 {
		from = fmt.Sprintf("%d clients", len(clients))
	}
	median := func(ds []time.Duration) time.Duration {
		ds = slices.Clone(ds)
		slices.Sort(ds)
		return ds[len(ds)/2]
	}
	n := len(g.flows)
	spread := slices.Max(ages) - slices.Min(ages)
	summary := fmt.Sprintf("%s (server) closed %s from %s %s after accepting them (all %d within %s of each other), whatever their idle time (%s to %s): a deadline counted from the accept, not an idle timeout. Most often a timeout for the client to finish its handshake or log in (sshd LoginGraceTime, 120 s by default; a TLS or protocol handshake timeout), or a maximum connection age.",
		server, plural(n, "connection"), from, fmtDur(median(ages)), n, fmtDur(max(spread, time.Millisecond)), fmtDur(slices.Min(idle)), fmtDur(slices.Max(idle)))
	return Finding{Class: IdleTimeoutClose, Severity: Info, Hosts: clients, Endpoints: []netip.AddrPort{server},
		Flows: ids(g.flows), Metrics: []Metric{{"connections", float64(n)}, {"deadline_s", median(ages).Seconds()}},
		Summary:  summary,
		Remedy:   "Find why these clients did not finish within the deadline: clients that connect and never log in (scanners, health checks), stuck or slow ones (a password prompt, a client waiting for the server to speak first); raise the deadline only for legitimate slow clients.",
		Evidence: evidence(g, true)}
}

// waitedFor reports whether a close by closer, when the last data came
// from last, ended a wait for an answer rather than an idle connection: a
// client whose request went unanswered, or a server whose request never
// completed. A server closing after its own response, or a client after
// the server's, closes an idle connection.
func waitedFor(closer, last flow.Side) bool {
	return closer == flow.Client && last == flow.Client || closer == flow.Server && last == flow.Client
}

// A server that closes after the client's last data stopped waiting
// on the client: for the rest of a request it never finished sending, or
// for itself, on a request it never answered. Which one, where the
// payload tells it.
type serverWait uint8

const (
	waitUnknown    serverWait = iota // no HTTP read: either, or an idle timer counting from the client's last message
	waitIncomplete                   // the client's last request's headers never ended
	waitUnanswered                   // the request's headers were whole, and no response came
	waitBodyless                     // the same, for a request that carries no body (GET)
)

// serverWaitOf tells what the server of r, closing after the client's
// last data, had waited for.
func serverWaitOf(r *flow.Record, pb *payload.Buffer) serverWait {
	p := r.ReadPayload(pb)
	if p == nil || p.HTTP == nil || p.HTTP.Upgraded || p.HTTP.Client != payload.Side(flow.Client) {
		return waitUnknown
	}
	x := p.HTTP.Last()
	switch {
	case x != nil && (x.Status == 408 || x.Status == 400) && x.RequestLine() == "":
		// The server said so: a 408 Request Timeout (or, from some, a
		// 400) to no whole request.
		return waitIncomplete
	case x == nil || x.Status != 0 && flow.Timestamp(x.ResponseAt) < r.Client.LastPayload:
		// Data after the last whole request's answer, or none whole:
		// a request begun, never finished.
		return waitIncomplete
	case x.Status == 0 && x.Method != "":
		switch x.Method {
		case "GET", "HEAD", "OPTIONS", "DELETE", "TRACE":
			return waitBodyless
		}
		return waitUnanswered
	}
	return waitUnknown
}

// words says what the server waited for, after "the server closed the
// connection N after the client's last data, ".
func (w serverWait) words() string {
	switch w {
	case waitIncomplete:
		return "its request's headers never completed: the server's timeout for reading a request (nginx client_header_timeout or client_body_timeout, Go's Server.ReadHeaderTimeout; HAProxy's timeout http-request, or timeout client without it, and Apache's RequestReadTimeout answer 408 first) closed it"
	case waitUnanswered:
		return "without answering its request (its headers came whole): the server gave up on it (a handler's or an upstream's timeout), or on a request body that never came whole, and closed without a response"
	case waitBodyless:
		return "without answering its request (whole, and with no body): the server gave up on it (a handler's or an upstream's timeout) and closed without a response"
	}
	return "without answering it: a timeout for a request it never finished reading or answering, or an idle timeout counting from the client's last message"
}

func inspectIdle(c *flowCtx) {
	r := c.r
	if closer, idle, ok := firstCloser(r); ok {
		ch := r.Half(closer)
		dataFrom := ch.DataBeforeFinFrom
		pings := closer == flow.Server && r.ClosedForPings()
		m, mass := massClose{}, false
		if closer == flow.Server && !waitedFor(closer, dataFrom) && !pings {
			m, mass = c.cap.massOf(r.Key.Server(), closeAt(r, flow.Server))
		}
		if idle < minIdle && !mass && !pings {
			return
		}
		sum := fmt.Sprintf("the %s closed the connection after %s without data", sideName(closer), fmtDur(idle))
		if idle < minIdle && pings {
			sum = "the server closed the connection" // not idle: for its client's pings (below)
		}
		what := fmt.Sprintf("FIN from %s after %s idle", sideName(closer), fmtDur(idle))
		quiet := ch.DataBeforeFin == 0 // idle since the handshake (firstCloser)
		greet := false                 // a client that waited for a greeting
		switch {
		case quiet && closer == flow.Server:
			what = fmt.Sprintf("FIN from server %s after the handshake", fmtDur(ch.FinAt.Sub(opened(r))))
			sum = fmt.Sprintf("the server closed the connection %s after the handshake, the client having sent nothing: a timeout for a first request or message (HAProxy's timeout http-request, or timeout client without it, and Apache's RequestReadTimeout answer 408 first; nginx's client_header_timeout, a login or handshake timeout), or an idle timeout counting from the accept", fmtDur(idle))
			if serverWaitOf(r, c.pb) == waitIncomplete {
				sum = fmt.Sprintf("the server answered 408 Request Time-out and closed the connection %s after the handshake, the client having sent nothing: its timeout for a request that never came (HAProxy's timeout http-request, or timeout client without it; Apache's RequestReadTimeout)", fmtDur(idle))
			}
		case quiet && c.cap.greets[r.Key.Server()]:
			what = fmt.Sprintf("FIN from client %s after the handshake, no greeting", fmtDur(ch.FinAt.Sub(opened(r))))
			sum = fmt.Sprintf("the client gave up waiting for the server's greeting %s after the handshake, and closed: the server speaks first on its other connections, and never greeted this one in time", fmtDur(idle))
			greet = true
		case quiet:
			what = fmt.Sprintf("FIN from client %s after the handshake", fmtDur(ch.FinAt.Sub(opened(r))))
			sum = fmt.Sprintf("the client closed the connection %s after the handshake, having sent nothing and received nothing: a connection opened and let go unused (a pool's or a browser's spare connection, a health check that only connects)", fmtDur(idle))
		case waitedFor(closer, dataFrom) && closer == flow.Server:
			what = fmt.Sprintf("FIN from server %s after the client's last data", fmtDur(idle))
			sum = fmt.Sprintf("the server closed the connection %s after the client's last data, %s", fmtDur(idle), serverWaitOf(r, c.pb).words())
		case waitedFor(closer, dataFrom):
			what = fmt.Sprintf("FIN from %s %s after its last data", sideName(closer), fmtDur(idle))
			sum = fmt.Sprintf("the %s closed the connection %s after its own last data, with no answer: it gave up waiting (a timeout)", sideName(closer), fmtDur(idle))
		}
		annAt, annPacket, announced := r.Announced(closer)
		// The FIN that ends the close: the closer's, or the peer's when it
		// answered the closer's announcement before the closer's own FIN.
		fin := ch
		if announced && answeredFirst(r, closer) {
			fin = r.Half(closer.Other())
			what = fmt.Sprintf("FIN from %s %s after the announcement, answering it", sideName(closer.Other()), fmtDur(fin.FinAt.Sub(annAt)))
			sum += fmt.Sprintf(", announcing it (a short message that answered nothing, such as a TLS close_notify or an SMTP 421); the %s answered with its own FIN before the %s's", sideName(closer.Other()), sideName(closer))
		} else if announced {
			what = fmt.Sprintf("FIN from %s %s after its announcement", sideName(closer), fmtDur(ch.FinAt.Sub(annAt)))
			sum += fmt.Sprintf(", announcing it first (a short message that answered nothing, such as an HTTP/2 GOAWAY) and sending its FIN %s later", fmtDur(ch.FinAt.Sub(annAt)))
		}
		bye, said := goodbyeEvidence(r, closer)
		if said && announced && (ch.LastPayloadPacket == annPacket || fin != ch) {
			said = false // the announcement was its last word, or came before the FIN that closed
		}
		if pings && said {
			// The GOAWAY came with the acknowledgement of the ping it
			// answers: no goodbye that answered nothing.
			bye.What = "GOAWAY from server (ENHANCE_YOUR_CALM), with its acknowledgement of the client's last ping"
		}
		if said && !pings && !(quiet && closer == flow.Server && serverWaitOf(r, c.pb) == waitIncomplete) {
			// A server's is why it closes (PostgreSQL's FATAL, a 421); a
			// client's is its protocol's farewell (PostgreSQL's Terminate).
			kind := "a timeout message"
			if closer == flow.Client {
				kind = "its protocol's farewell"
			}
			sum += fmt.Sprintf(", saying goodbye first (data %s before its FIN, which answered nothing: %s)", fmtDur(ch.FinAt.Sub(ch.LastPayload)), kind)
		}
		if pings {
			why := ", and for its client's pings, not for the idle time"
			if idle < minIdle {
				why = " for its client's pings, with calls in flight (they fail: UNAVAILABLE)"
			}
			sum += why + ": it sent an HTTP/2 GOAWAY with ENHANCE_YOUR_CALM (gRPC's \"too_many_pings\": the client pings more often than the server allows)"
		}
		if mass {
			sum += fmt.Sprintf(", in the same moment as %d other idle connections (%s), whatever their idle times (%s to %s): a restart, reload or shutdown, not its idle timeout",
				m.n-1, massSpan(m), fmtDur(m.lo), fmtDur(m.hi))
		}
		sev := Info
		if c.has(CloseWaitLeak, closer.Other()) {
			sev = Warning
		}
		since := ch.FinAt
		if fin != ch {
			since = annAt
		}
		v := Verdict{Class: IdleTimeoutClose, Side: closer, Severity: sev, Confidence: 0.8, Since: since, Summary: sum, mass: mass, pings: pings, unused: quiet && !mass && !pings && !c.cap.sameTimer(r.Key.Server(), closer, idle), greetWait: greet}
		switch {
		case !quiet:
			v.Evidence = append(v.Evidence,
				Evidence{Input: int(ch.DataBeforeFinInput), Packet: int(ch.DataBeforeFinPacket), At: ch.DataBeforeFin, What: "last data from " + sideName(dataFrom)})
		default:
			if e := handshakeEnd(r); e != nil {
				what := "handshake completed (ACK from client): no data either way after it"
				if e.From == flow.Server {
					what = "SYN-ACK from server: no data either way after the handshake"
				}
				v.Evidence = append(v.Evidence, ev(e, what))
			}
		}
		if announced {
			v.Evidence = append(v.Evidence, Evidence{Input: int(ch.DataBeforeFinInput), Packet: int(annPacket), At: annAt,
				What: fmt.Sprintf("announcement from %s after %s idle: a short message answering nothing", sideName(closer), fmtDur(idle))})
		}
		if said {
			v.Evidence = append(v.Evidence, bye)
		}
		v.Evidence = append(v.Evidence, Evidence{Input: int(fin.FinInput), Packet: int(fin.FinPacket), At: fin.FinAt, What: what})
		c.add(v)
		return
	}
	// No FIN: an RST after a quiet period, which no packet of the peer
	// provoked, closed an idle connection abortively (a server that
	// closes idle connections with zero linger).
	if r.Client.FinPacket > 0 || r.Server.FinPacket > 0 {
		return
	}
	rst := firstEvent(r, func(e *flow.Event) bool { return e.Flags.Has(packet.RST) && e.Note&flow.NoteRSTIgnored == 0 })
	if rst == nil {
		return
	}
	from, last := lastData(r)
	if last == 0 && !r.Midstream && has(r, flow.Client, 'S') && has(r, flow.Server, 'H') && has(r, flow.Client, 'A') {
		// No data either way: the quiet began with the handshake.
		if at := opened(r); rst.At.Sub(at) >= minIdle {
			if p := r.Half(rst.From.Other()).LastPacket; p > at && rst.At.Sub(p) < provokedWithin(r) {
				return
			}
			c.add(Verdict{Class: IdleTimeoutClose, Side: rst.From, Severity: Info, Confidence: 0.75, Since: rst.At,
				Summary: fmt.Sprintf("the %s reset the connection %s after the handshake, no data sent either way: a timeout for the first message (a handshake or login timeout: RabbitMQ's handshake_timeout, sshd's LoginGraceTime), closing with RST (zero linger)",
					sideName(rst.From), fmtDur(rst.At.Sub(at))),
				Evidence: []Evidence{ev(rst, fmt.Sprintf("RST from %s %s after the handshake", sideName(rst.From), fmtDur(rst.At.Sub(at))))}})
		}
		return
	}
	if last == 0 || last >= rst.At || rst.At.Sub(last) < minIdle {
		return
	}
	if p := r.Half(rst.From.Other()).LastPacket; p > last && p < rst.At && rst.At.Sub(p) < provokedWithin(r) {
		return // an answer to the peer's packet, not a timeout
	}
	if r.Half(rst.From).WinProbes > 0 || r.Half(rst.From.Other()).ZeroWindowAtEnd || r.Half(rst.From).ZeroWindowAtEnd {
		// Not idle: the closer had data to send into the peer's zero
		// window (nginx's send_timeout resets a reader that stopped),
		// or had stopped reading the peer's (a download given up).
		return
	}
	idle := rst.At.Sub(last)
	lp := r.Half(from)
	v := Verdict{Class: IdleTimeoutClose, Side: rst.From, Severity: Info, Confidence: 0.75, Since: rst.At,
		Summary: fmt.Sprintf("the %s reset the connection after %s without data: an idle timeout that closes with RST (zero linger)", sideName(rst.From), fmtDur(idle))}
	switch {
	case waitedFor(rst.From, from) && rst.From == flow.Server:
		v.Summary = fmt.Sprintf("the server reset the connection %s after the client's last data, %s", fmtDur(idle), serverWaitOf(r, c.pb).words())
	case waitedFor(rst.From, from):
		v.Summary = fmt.Sprintf("the %s reset the connection %s after its own last data, with no answer: it gave up waiting (a timeout)", sideName(rst.From), fmtDur(idle))
	}
	v.Evidence = append(v.Evidence,
		Evidence{Input: int(lp.LastPayloadInput), Packet: int(lp.LastPayloadPacket), At: last, What: "last data from " + sideName(from)},
		ev(rst, fmt.Sprintf("RST from %s after %s idle", sideName(rst.From), fmtDur(idle))))
	c.add(v)
}

// sameTimer reports whether idle, how long a connection that carried no
// data was quiet when side closer closed it, is within the idle times at
// which the server closed its connections that did carry data (a tenth
// either way, 200 ms at least): the same timer (slapd's idletimeout)
// closed both, and a finding states them together.
func (ev *captureEvidence) sameTimer(server netip.AddrPort, closer flow.Side, idle time.Duration) bool {
	used, ok := ev.usedIdle[server]
	if closer != flow.Server || !ok {
		return false
	}
	return idle >= used[0]-max(used[0]/10, 200*time.Millisecond) && idle <= used[1]+max(used[1]/10, 200*time.Millisecond)
}

// opened is when the connection's handshake was done, as far as the
// capture shows: the later of both sides' first packets (the server's
// SYN-ACK).
func opened(r *flow.Record) flow.Timestamp { return max(r.Client.FirstPacket, r.Server.FirstPacket) }

// handshakeEnd returns the event of the client's ACK that completed the
// handshake, where the events kept it right after the server's SYN-ACK,
// or else the SYN-ACK's; nil when neither was kept.
func handshakeEnd(r *flow.Record) *flow.Event {
	for i := range r.Events {
		e := &r.Events[i]
		if e.From != flow.Server || !e.Flags.Has(packet.SYN|packet.ACK) {
			continue
		}
		if i+1 < len(r.Events) {
			a := &r.Events[i+1]
			if a.From == flow.Client && a.Flags&(packet.SYN|packet.FIN|packet.RST) == 0 && a.ServerState == flow.Established {
				return a
			}
		}
		return e
	}
	return nil
}

// provokedWithin is how soon after a packet of the peer's an RST
// answers it: at once where it is sent, a round trip later where the
// capture is at the other end. Four times the handshake's first round
// trip (SYN to SYN-ACK), 50 ms at least; a second without a handshake.
// An RST later than that was sent on its own: a closer's timer (an
// idle or heartbeat timeout with zero linger), though the peer's kernel
// had acknowledged the closer's last heartbeats in between.
func provokedWithin(r *flow.Record) time.Duration {
	C, S := &r.Client, &r.Server
	if C.SYNs() == 0 || S.SYNs() == 0 || S.FirstPacket < C.FirstPacket {
		return minIdle
	}
	return max(50*time.Millisecond, 4*S.FirstPacket.Sub(C.FirstPacket))
}

// goodbyeEvidence returns the goodbye side s sent just before its FIN
// (flow.Half.Goodbye); false when it sent none.
func goodbyeEvidence(r *flow.Record, s flow.Side) (Evidence, bool) {
	h := r.Half(s)
	if !h.Goodbye() {
		return Evidence{}, false
	}
	return Evidence{Input: int(h.LastPayloadInput), Packet: int(h.LastPayloadPacket), At: h.LastPayload,
		What: fmt.Sprintf("goodbye from %s: data %s before its FIN, answering nothing", sideName(s), fmtDur(h.FinAt.Sub(h.LastPayload)))}, true
}

// lastData returns the side that sent the connection's last payload, and
// when; 0 when it carried none.
func lastData(r *flow.Record) (flow.Side, flow.Timestamp) {
	if r.Server.LastPayload > r.Client.LastPayload {
		return flow.Server, r.Server.LastPayload
	}
	return flow.Client, r.Client.LastPayload
}

// idleBefore is how long the connection was quiet before the close that
// verdict v (an idle-timeout close) is about, and who sent the last data.
func idleBefore(r *flow.Record, v *Verdict) (time.Duration, flow.Side) {
	h := r.Half(v.Side)
	if at, _, ok := r.Announced(v.Side); ok {
		return at.Sub(h.DataBeforeFin), h.DataBeforeFinFrom
	}
	if h.FinPacket > 0 && h.DataBeforeFin > 0 {
		return h.FinAt.Sub(h.DataBeforeFin), h.DataBeforeFinFrom
	}
	from, last := lastData(r)
	if last == 0 || h.FinPacket > 0 && quietSinceHandshake(r, v.Side) {
		// No data either way (but the closer's goodbye): idle since the
		// handshake, the server's last word (its SYN-ACK), up to the
		// goodbye when it said one.
		end := v.Since
		if h.Goodbye() {
			end = h.LastPayload
		}
		return end.Sub(opened(r)), flow.Server
	}
	return v.Since.Sub(last), from
}

// wellBelow reports whether idle time a is shorter than b by as much as
// ClusterDurations keeps apart (10 %, or 200 ms): the shortest of a
// server's idle closes, against the one in question or their median.
func wellBelow(a, b time.Duration) bool { return b-a >= max(b/10, 200*time.Millisecond) }

// byRST reports whether the idle close of v was an RST.
func byRST(r *flow.Record, v *Verdict) bool { return r.Half(v.Side).FinPacket == 0 }

func idleFinding(g *group, fx *findCtx) Finding {
	v0, f0 := g.vs[0], g.flows[0]
	ep := f0.Endpoint(v0.Side)
	who := "server"
	closer, to := ep.String(), ""
	if v0.Side == flow.Client {
		who, closer, to = "client", ep.Addr().String(), " to "+f0.Key.Server().String()
	}
	var idle []time.Duration
	leaked, reused, dropped, resets := 0, 0, 0, 0
	for i, f := range g.flows {
		d, _ := idleBefore(f.Record, g.vs[i])
		idle = append(idle, d)
		if lv := verdictOf(f, CloseWaitLeak); lv != nil && lv.Side == g.vs[i].Side.Other() {
			leaked++
		}
		if sv := verdictOf(f, StaleReuseReset); sv != nil && sv.Side == g.vs[i].Side.Other() {
			reused++
			if fl := f.Half(sv.Side.Other()); fl.RSTs == 0 {
				dropped++ // drained without an answer
			}
		}
		if byRST(f.Record, g.vs[i]) {
			resets++
		}
	}
	cl := ClusterDurations(idle)
	main := cl[0]
	how := closedHow(resets, len(g.flows))
	var sb strings.Builder
	if others := len(idle) - len(main.Values); others > 0 {
		// "closed 4 idle connections, 2 of them after 2.6 s without
		// traffic (2.5 s to 2.7 s) and 2 after other idle times (3.0 s
		// to 3.3 s)"
		var lo, hi time.Duration
		first := true
		for _, d := range idle {
			if d >= main.Min && d <= main.Max {
				continue
			}
			if first || d < lo {
				lo = d
			}
			if first || d > hi {
				hi = d
			}
			first = false
		}
		fmt.Fprintf(&sb, "%s (%s) %s %s%s, %d of them after %s without traffic", closer, who, how, plural(len(g.flows), "idle connection"), to, len(main.Values), fmtDur(main.Median))
		if a, b := fmtDur(main.Min), fmtDur(main.Max); a != b {
			fmt.Fprintf(&sb, " (%s to %s)", a, b)
		}
		fmt.Fprintf(&sb, " and %d after %s", others, map[bool]string{true: "another idle time", false: "other idle times"}[others == 1])
		if a, b := fmtDur(lo), fmtDur(hi); a != b {
			fmt.Fprintf(&sb, " (%s to %s)", a, b)
		} else {
			fmt.Fprintf(&sb, " (%s)", a)
		}
	} else {
		fmt.Fprintf(&sb, "%s (%s) %s %s%s after %s without traffic", closer, who, how, plural(len(g.flows), "idle connection"), to, fmtDur(main.Median))
		if len(main.Values) > 1 {
			if lo, hi := fmtDur(main.Min), fmtDur(main.Max); lo != hi {
				fmt.Fprintf(&sb, " (median of %d, %s to %s)", len(main.Values), lo, hi)
			} else {
				fmt.Fprintf(&sb, " (all %d)", len(main.Values))
			}
		}
	}
	// Connections upgraded from HTTP (a WebSocket) are no keep-alive
	// connections: no pool keeps them, and no keep-alive timeout applies
	// inside one.
	var pb payload.Buffer
	upgraded := true
	for _, f := range g.flows {
		if p := f.ReadPayload(&pb); p == nil || p.HTTP == nil || !p.HTTP.Upgraded {
			upgraded = false
			break
		}
	}
	switch {
	case upgraded && v0.Side == flow.Client:
		sb.WriteString(": its timeout for an idle upgraded connection (a WebSocket, which no pool keeps): a proxy's, such as nginx's proxy_read_timeout (60 s by default), which closes the other side of the tunnel too, or its application's own")
	case upgraded:
		sb.WriteString(": its timeout for an idle upgraded connection")
	case v0.Side == flow.Client:
		// A pool's eviction most often; an application that sleeps, then
		// closes what it is done with, looks the same.
		sb.WriteString(": its pool's idle timeout, or its application done with " + map[bool]string{true: "it", false: "them"}[len(g.flows) == 1])
	default:
		sb.WriteString(": its idle or keep-alive timeout")
	}
	// The first flow with HTTP says whether the server speaks it, and what
	// its responses named it (Server, Via). Without any, a flow whose
	// payload was read from its first byte and was of another protocol
	// says the server is no HTTP server: no HTTP server's default is its.
	anyHTTP, other := false, false
	var name, via string
	for i, f := range g.flows {
		if h := httpOf(f.Record, g.vs[i].Side.Other(), &pb); h != nil {
			anyHTTP = true
			if v0.Side == flow.Server {
				name, via = h.Server, h.Via // strings of their own (packed results share the packed string)
			}
			break
		}
		other = other || f.OtherProtocol()
	}
	// A timer cannot fire before its timeout: the shortest idle close
	// bounds it. One that checks its idle connections periodically
	// (lighttpd, squid, gunicorn's worker: once a second) closes each up
	// to a period later, which the median does not say: where the
	// shortest is well below it (as far as ClusterDurations keeps apart),
	// the words say so.
	shortest := slices.Min(idle)
	switch {
	case upgraded && v0.Side == flow.Server:
		// A WebSocket (or another protocol over an upgraded HTTP
		// connection): no keep-alive timeout applies inside it.
		sb.WriteString(": they had been upgraded (101 Switching Protocols: a WebSocket, or another protocol over HTTP), and no keep-alive timeout applies inside one; a proxy's timeout for an idle tunnel closes it (nginx proxy_read_timeout, 60 s by default; HAProxy timeout tunnel; an AWS ALB's idle timeout, 60 s), or the application's own")
		if name != "" {
			fmt.Fprintf(&sb, " (the responses name %q)", name)
		}
	case upgraded:
	case v0.Side == flow.Client:
		// A client's pool: no server's default to compare with.
	case name != "" && via == "" && fx != nil:
		if up, ok := forwardedFrom(fx, ep.Addr(), name); ok {
			// The closer is a proxy: its own connections to the
			// server named carry the same header.
			fmt.Fprintf(&sb, "; the responses name %q, but %s is a proxy in front of it, which passes the Server header on (its own connections to %s carry responses naming it): the proxy's idle timeout (HAProxy timeout http-keep-alive, nginx keepalive_timeout), not that server's", name, ep.Addr(), up)
			break
		}
		fallthrough
	default:
		sb.WriteString(timeoutWords(main.Median, shortest, name, via, other && !anyHTTP))
	}
	sb.WriteString(".")
	if wellBelow(shortest, main.Median) {
		fmt.Fprintf(&sb, " It closed none sooner than %s: its timeout is at most that (a server that checks its idle connections periodically closes each up to one period after the timeout).", fmtDur(shortest))
	}
	kaText, kaMetrics := keepAliveText(main.Median, advertisedKeepAlive(g.flows, v0.Side), anyHTTP && !upgraded)
	sb.WriteString(kaText)
	sev := Info
	if leaked > 0 {
		sev = Warning
		if leaked == len(g.flows) {
			fmt.Fprintf(&sb, " Every one of these connections was then leaked by its peer in CLOSE_WAIT: the timeout is what exposes the leak.")
		} else {
			fmt.Fprintf(&sb, " %s then leaked by their peer in CLOSE_WAIT.", ofThem(leaked))
		}
	}
	if reused > 0 {
		sev = Warning
		how := "and " + reuseEnd(reused, dropped)
		fmt.Fprintf(&sb, " %s then reused by the peer anyway, %s: its pool keeps connections idle longer than this.",
			map[bool]string{true: "Every one was", false: ofThem(reused)}[reused == len(g.flows)], how)
	}
	fix := remedy(IdleTimeoutClose)
	if upgraded && v0.Side == flow.Server {
		fix = "Keep idle WebSockets alive from either end (WebSocket pings, or application messages) more often than the timeout measured here, or raise the proxy's timeout for them (nginx proxy_read_timeout in the location that proxies them); clients should reconnect when one is closed."
	}
	if other && !anyHTTP && v0.Side == flow.Server {
		// Not HTTP: a broker's or a database's clients that should stay
		// connected keep the connection alive with their protocol's ping.
		fix = "Nothing to fix in the server when the clients close their side. Clients meant to stay connected must send within its idle timeout (their protocol's keep-alive: MQTT's PINGREQ within the keep-alive they announced, a database client's ping or test query); pooled ones should close idle connections before it does."
	}
	switch {
	case v0.Side == flow.Client && upgraded:
		fix = "Keep idle WebSockets alive (pings, or application messages) more often than the timeout measured here, or raise the timeout that closes them (nginx: proxy_read_timeout where it proxies them)."
	case v0.Side == flow.Client && leaked == 0 && reused == 0 && resets == 0:
		fix = "Nothing to fix: the client closes its idle connections itself, as a pool should, before the server's timeout can."
	}
	relayed := false
	if other, n := relayedCloses(fx, g); !upgraded && n*2 > len(g.flows) {
		relayed = true
		// The closer closed another connection of its own in the same
		// moment each time: a TCP relay closing both legs.
		if v0.Side == flow.Server {
			fmt.Fprintf(&sb, " %s closed its own connection to %s in the same millisecond each time (%d of %d): it is a TCP proxy relaying them, and its inactivity timeout closed both legs (HAProxy timeout client and timeout server, nginx stream proxy_timeout); the server behind it did not close.",
				ep.Addr(), other, n, len(g.flows))
		} else {
			fmt.Fprintf(&sb, " It closed its callers' connections to %s in the same millisecond each time (%d of %d): it is a TCP proxy relaying them, and its inactivity timeout closed both legs; %s did not close.",
				other, n, len(g.flows), f0.Key.Server())
		}
		fix = fmt.Sprintf("The proxy's inactivity timeout (%s, HAProxy timeout client and timeout server, nginx stream proxy_timeout) is shorter than the clients keep pooled connections idle: raise it above their idle time, or make the pools send a ping or evict connections idle longer than it.", fmtDur(main.Median))
	}
	if resets > 0 {
		// An RST leaves the peer nothing to read: its next request on the
		// connection fails ("server has gone away", "connection reset").
		if sev == Info {
			sev = Warning
		}
		fmt.Fprintf(&sb, " A reset gives the peer no orderly end of stream: a pooled client that sends its next request on such a connection gets an error (\"server has gone away\", \"connection reset by peer\").")
		switch {
		case relayed:
			// The relay's remedy stands: its timeout is the one to fix.
		case v0.Side == flow.Client:
			fix = "The client closes its idle connections with RST (a zero linger) rather than FIN, which the server sees as errors: have it close them in order, unless it means to; nothing to fix in the server."
		default:
			fix = fmt.Sprintf("Make the clients' pools validate connections before reuse (a test query or a liveness check after inactivity) and keep their idle time below %s, the server's idle timeout measured here; or raise the server's timeout.", fmtDur(main.Median))
		}
	}
	scope := []netip.AddrPort{ep}
	var hosts []netip.Addr
	if v0.Side == flow.Client {
		hosts, scope = []netip.Addr{ep.Addr()}, []netip.AddrPort{f0.Key.Server()}
	}
	return Finding{Class: IdleTimeoutClose, Severity: sev, Hosts: hosts, Endpoints: scope, Flows: ids(g.flows),
		Metrics: append([]Metric{{"connections", float64(len(g.flows))}, {"idle_median_s", main.Median.Seconds()},
			{"idle_min_s", main.Min.Seconds()}, {"idle_max_s", main.Max.Seconds()}, {"idle_shortest_s", shortest.Seconds()}, {"leaked_after", float64(leaked)},
			{"reused_after", float64(reused)}}, append(kaMetrics, resetMetric(resets)...)...),
		Summary: sb.String(), Remedy: fix, Evidence: evidence(g, true)}
}

// unusedFinding reports closes of connections that carried no data
// either way (Verdict.unused): a server's timeout for a first request,
// or a client's spare connections let go.
func unusedFinding(g *group) Finding {
	v0, f0 := g.vs[0], g.flows[0]
	server := f0.Key.Server()
	var quiet []time.Duration
	var clients []netip.Addr
	answered408 := 0
	var pb payload.Buffer
	for i, f := range g.flows {
		d, _ := idleBefore(f.Record, g.vs[i])
		quiet = append(quiet, d)
		if c := f.Key.Client().Addr(); !slices.Contains(clients, c) {
			clients = append(clients, c)
		}
		if v0.Side == flow.Server && f.Server.Goodbye() && serverWaitOf(f.Record, &pb) == waitIncomplete {
			answered408++
		}
	}
	lo, hi := slices.Min(quiet), slices.Max(quiet)
	main := ClusterDurations(quiet)[0]
	after := fmtDur(main.Median)
	if wellBelow(lo, hi) {
		after = fmt.Sprintf("%s to %s", fmtDur(lo), fmtDur(hi))
	}
	var sb strings.Builder
	var fix string
	hosts, scope := clients, []netip.AddrPort{server}
	if v0.Side == flow.Server {
		fmt.Fprintf(&sb, "%s (server) closed %s from %s %s after the handshake, the clients having sent nothing on them",
			server, plural(len(g.flows), "connection"), hostsOf(g.flows, flow.Client), after)
		switch {
		case answered408 == len(g.flows):
			sb.WriteString(", answering 408 Request Time-out first")
		case answered408 > 0:
			fmt.Fprintf(&sb, ", answering %d of them 408 Request Time-out first", answered408)
		}
		sb.WriteString(": its timeout for a first request or message (HAProxy's timeout http-request, or timeout client without it, and Apache's RequestReadTimeout answer 408 first; nginx's client_header_timeout; a login or handshake timeout), or an idle timeout counting from the accept.")
		fix = "Nothing to fix where the clients open connections they may not use (a pool's spare connections, a browser's preconnect, a health check that only connects). Otherwise find why they connect and send nothing; many sources each holding connections without a request are a slow-request attack (slowloris): keep this timeout short and limit connections per client."
	} else if v0.greetWait {
		hosts, scope = []netip.Addr{f0.Key.Client().Addr()}, []netip.AddrPort{server}
		fmt.Fprintf(&sb, "%s gave up on %s to %s %s after the handshake, waiting for a greeting the server never sent in time (it speaks first on its other connections, at once): the server did not come to them (see its listen_overflow finding, where it has one).",
			f0.Key.Client().Addr(), plural(len(g.flows), "connection"), server, after)
		fix = "Find why the server is slow to take up connections (its accept queue: ss -ltn; its connection cap; its workers; a slow accept loop); raise the client's greeting timeout only if the server is merely slow."
	} else {
		hosts, scope = []netip.Addr{f0.Key.Client().Addr()}, []netip.AddrPort{server}
		fmt.Fprintf(&sb, "%s closed %s to %s %s after the handshake, having sent nothing on them and received nothing: connections opened and let go unused (a pool's spare connections, a browser's preconnect, a health check that only connects).",
			f0.Key.Client().Addr(), plural(len(g.flows), "connection"), server, after)
		fix = "Nothing to fix, unless the client meant to use them: then find why it opens connections it never sends on (a pool's minimum size above its need, a request given up before it was written)."
	}
	return Finding{Class: IdleTimeoutClose, Severity: Info, Hosts: hosts, Endpoints: scope, Flows: ids(g.flows),
		Metrics: []Metric{{"connections", float64(len(g.flows))}, {"idle_median_s", main.Median.Seconds()},
			{"idle_min_s", lo.Seconds()}, {"idle_max_s", hi.Seconds()}},
		Summary: sb.String(), Remedy: fix, Evidence: evidence(g, true)}
}

// waitFinding reports closes that ended a wait for an answer: the closer
// sent data last, then gave up.
func waitFinding(g *group, fx *findCtx) Finding {
	v0, f0 := g.vs[0], g.flows[0]
	if v0.Side == flow.Server {
		return serverWaitFinding(g, fx)
	}
	ep := f0.Endpoint(v0.Side)
	var waits []time.Duration
	leaked := 0
	for i, f := range g.flows {
		d, _ := idleBefore(f.Record, g.vs[i])
		waits = append(waits, d)
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
		fmt.Fprintf(&sb, "; %s never closed %s in turn (see its CLOSE_WAIT leak): it is stuck on something slower than %s's timeout", peer.Addr(), fmt.Sprint(leaked, " of them"), ep.Addr())
	}
	sb.WriteString(".")
	if got := fx.callersGot(ep.Addr(), closeMoments(g)); got != "" {
		fmt.Fprintf(&sb, " %s is a proxy: its callers got %s as it gave up.", ep.Addr(), got)
	}
	return Finding{Class: IdleTimeoutClose, Severity: sev, Hosts: []netip.Addr{ep.Addr()}, Endpoints: []netip.AddrPort{peer},
		Flows:   ids(g.flows),
		Metrics: []Metric{{"connections", float64(len(g.flows))}, {"wait_median_s", main.Median.Seconds()}, {"leaked_after", float64(leaked)}},
		Summary: sb.String(), Remedy: "Find out why " + peer.String() + " does not answer within the timeout (the upstream it waits on, a thread dump), and make it close connections whose caller has gone.",
		Evidence: evidence(g, true)}
}

// pingsFinding reports a server's closes for its clients' pings: gRPC's
// GOAWAY too_many_pings.
func pingsFinding(g *group) Finding {
	server := g.flows[0].Key.Server()
	var clients []netip.Addr
	for _, f := range g.flows {
		if c := f.Key.Client().Addr(); !slices.Contains(clients, c) {
			clients = append(clients, c)
		}
	}
	n := len(g.flows)
	from := clients[0].String()
	if len(clients) > 1 {
		from = fmt.Sprintf("%d clients", len(clients))
	}
	sum := fmt.Sprintf("%s (server) closed %s from %s for their pings: it sent an HTTP/2 GOAWAY with ENHANCE_YOUR_CALM (gRPC's \"too_many_pings\") and its FIN, the client pinging more often than the server allows (gRPC servers allow one ping every 5 minutes by default, and close after a few too soon). The time without data before these closes measures no timeout; the client reconnects, and the calls in flight fail (UNAVAILABLE).",
		server, plural(n, "connection"), from)
	return Finding{Class: IdleTimeoutClose, Severity: Warning, Hosts: clients, Endpoints: []netip.AddrPort{server}, Flows: ids(g.flows),
		Metrics:  []Metric{{"connections", float64(n)}},
		Summary:  sum,
		Remedy:   "Make the clients ping no more often than the server allows: their keepalive time (gRPC: grpc.keepalive_time_ms) no shorter than the server's minimum (grpc.http2.min_ping_interval_without_data_ms, and keepalive_permit_without_calls for idle channels), or relax the server's enforcement.",
		Evidence: evidence(g, true)}
}

// massSpan says how close together a mass close's closes came.
func massSpan(m massClose) string {
	if d := m.last.Sub(m.first); d >= 100*time.Microsecond {
		return "within " + fmtDur(d)
	}
	return "within 0.1 ms"
}

// massFinding reports a server's idle connections closed all at once,
// whatever their idle times: the moments of captureEvidence.mass.
func massFinding(g *group) Finding {
	server := g.flows[0].Key.Server()
	m0 := massClose{first: closeAt(g.flows[0].Record, flow.Server)}
	m0.last = m0.first
	var moments []flow.Timestamp
	lo, hi := time.Duration(-1), time.Duration(0)
	reused, drained := 0, 0
	for i, f := range g.flows {
		at := closeAt(f.Record, flow.Server)
		m := slices.IndexFunc(moments, func(t flow.Timestamp) bool { return at.Sub(t) <= time.Second && t.Sub(at) <= time.Second })
		if m < 0 {
			moments = append(moments, at)
		}
		if m <= 0 {
			m0.first, m0.last = min(m0.first, at), max(m0.last, at)
		}
		d, _ := idleBefore(f.Record, g.vs[i])
		if lo < 0 || d < lo {
			lo = d
		}
		hi = max(hi, d)
		if sv := verdictOf(f, StaleReuseReset); sv != nil && sv.Side == flow.Client {
			reused++
			if f.Server.RSTs == 0 {
				drained++ // read and dropped, no RST
			}
		}
	}
	n := len(g.flows)
	var sb strings.Builder
	when := fmt.Sprintf("at once (%s, at %s)", massSpan(m0), m0.first.Time().Format("15:04:05.000"))
	if len(moments) > 1 {
		when = fmt.Sprintf("at %d moments, those of each within %s", len(moments), fmtDur(massGap))
	}
	fmt.Fprintf(&sb, "%s (server) closed %s %s, though they had been idle for times far apart (%s to %s): an idle timer closes each connection its own idle time after its last use, and these went together. The server restarted, reloaded or shut down (nginx -s reload, Apache's graceful restart and most servers' graceful shutdown close their idle keep-alive connections at once), or swept its idle connections on a clock that runs seldom (every %s or more); this is not its idle timeout, which these closes do not measure.",
		server, plural(n, "idle connection"), when, fmtDur(lo), fmtDur(hi), fmtDur(hi-lo))
	fix := "Nothing to fix in the timeouts. If these were reloads or deploys, clients see them as connections closed under them: make them retry an idempotent request once when a pooled connection fails at its first write, and drain a server (out of its load balancer) before reloading it."
	if reused > 0 {
		fmt.Fprintf(&sb, " %s reused by its client after the close, and %s: requests that raced it.", map[bool]string{true: "Every one was", false: ofThem(reused)}[reused == n], reuseEnd(reused, drained))
	}
	return Finding{Class: IdleTimeoutClose, Severity: Info, Endpoints: []netip.AddrPort{server}, Flows: ids(g.flows),
		Metrics: []Metric{{"connections", float64(n)}, {"moments", float64(len(moments))}, {"idle_min_s", lo.Seconds()}, {"idle_max_s", hi.Seconds()},
			{"reused_after", float64(reused)}},
		Summary: sb.String(), Remedy: fix, Evidence: evidence(g, true)}
}

// serverWaitFinding reports a server's closes after its clients' last
// data: requests it stopped waiting for, or gave up answering.
func serverWaitFinding(g *group, fx *findCtx) Finding {
	server := g.flows[0].Key.Server()
	var pb payload.Buffer
	var waits []time.Duration
	var clients []netip.Addr
	var kinds [4]int
	resets, other := 0, false
	for i, f := range g.flows {
		d, _ := idleBefore(f.Record, g.vs[i])
		waits = append(waits, d)
		if c := f.Key.Client().Addr(); !slices.Contains(clients, c) {
			clients = append(clients, c)
		}
		kinds[serverWaitOf(f.Record, &pb)]++
		if byRST(f.Record, g.vs[i]) {
			resets++
		}
		other = other || f.OtherProtocol()
	}
	main := ClusterDurations(waits)[0]
	from := clients[0].String()
	if len(clients) > 1 {
		from = fmt.Sprintf("%d clients", len(clients))
	}
	n := len(g.flows)
	var sb strings.Builder
	how := closedHow(resets, n)
	fmt.Fprintf(&sb, "%s (server) %s %s from %s %s after the client's last data, without answering it", server, how, plural(n, "connection"), from, fmtDur(main.Median))
	fix := "Find out what the server waited for in its log at those times: a request read timeout (clients that stop mid-request), or a handler's or an upstream's timeout that closes without a response."
	switch {
	case kinds[waitIncomplete] == n:
		fmt.Fprintf(&sb, ": %s, and the server's timeout for reading a request closed it (nginx client_header_timeout and client_body_timeout, 60 s by default; Go's Server.ReadHeaderTimeout and ReadTimeout: both close without a response; HAProxy's timeout http-request, or timeout client without it, and Apache's RequestReadTimeout: they answer 408 first)", every(n, "the request's headers never ended", "the headers of all %d requests never ended"))
		fix = incompleteFix
	case kinds[waitBodyless] == n:
		fmt.Fprintf(&sb, ": %s, with no body, and no response followed; the server gave up on it (a handler's or an upstream's timeout) and closed without answering", every(n, "the request came whole", "all %d requests came whole"))
		fix = unansweredFix
	case kinds[waitUnanswered]+kinds[waitBodyless] == n:
		fmt.Fprintf(&sb, ": %s and no response followed; the server gave up on a request (a handler's or an upstream's timeout) or on a request body that never came whole, and closed without answering", every(n, "the request's headers came whole", "the headers of all %d requests came whole"))
		fix = unansweredFix
	case kinds[waitIncomplete]+kinds[waitUnanswered]+kinds[waitBodyless] > 0:
		fmt.Fprintf(&sb, ": %d with a request's headers left unfinished (the server's request read timeout), %d with a request's headers whole and no response", kinds[waitIncomplete], kinds[waitUnanswered]+kinds[waitBodyless])
		fix = "For the unfinished requests: " + incompleteFix + " For the unanswered ones: " + unansweredFix
	case other:
		sb.WriteString(": its timeout for a request it never finished reading or answering, or an idle timeout counting from the client's last message (the connections carried a protocol flowdoc does not read)")
	default:
		sb.WriteString(": its timeout for a request it never finished reading or answering, or an idle timeout counting from the client's last message (the payload was not read as HTTP)")
	}
	sb.WriteString(".")
	if got := fx.callersGot(clients[0], closeMoments(g)); len(clients) == 1 && got != "" {
		fmt.Fprintf(&sb, " %s is a proxy: its callers got %s at those moments.", clients[0], got)
	}
	if resets > 0 {
		// A socket closed with the request unread in it sends RST: the
		// process that held it was killed, or crashed, or closed it
		// with zero linger.
		sb.WriteString(" An RST with no answer before it is a socket closed with the request still unread in it: the worker handling it was killed or crashed at its timeout (PHP-FPM request_terminate_timeout, a gunicorn worker --timeout, an OOM kill), or it closed with zero linger; a proxy in front answers its caller 502.")
	}
	return Finding{Class: IdleTimeoutClose, Severity: Info, Hosts: clients, Endpoints: []netip.AddrPort{server},
		Flows: ids(g.flows),
		Metrics: []Metric{{"connections", float64(n)}, {"wait_median_s", main.Median.Seconds()},
			{"unfinished_requests", float64(kinds[waitIncomplete])}, {"unanswered_requests", float64(kinds[waitUnanswered] + kinds[waitBodyless])}},
		Summary: sb.String(), Remedy: fix, Evidence: evidence(g, true)}
}

// The remedies of serverWaitFinding.
const (
	incompleteFix = "Find why the clients stop in the middle of their requests (slow or stalled uploads, a client that writes its headers and waits). Many sources each holding connections with unfinished requests are a slow-request attack (slowloris): limit connections per client and keep the timeout short. Raise the timeout only for legitimate slow uploads."
	unansweredFix = "Find why the server did not answer those requests (its log, the upstream or handler it waited on, uploads that stalled), and make it answer a timeout with an error response (504, or 408 for a request that never came whole) rather than a bare close: a client cannot tell a bare close from a crash, and may send the request again."
)

// every is one for n == 1, and many (a format with n's verb) for more.
func every(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return fmt.Sprintf(many, n)
}

// reuseEnd says how reuses of closed connections ended, dropped of them
// read and dropped by the server without an answer (no RST).
func reuseEnd(reused, dropped int) string {
	switch {
	case dropped == reused:
		return "the request got no answer (read and dropped)"
	case dropped > 0:
		return fmt.Sprintf("reset (%d got no answer instead: read and dropped)", dropped)
	}
	return "reset"
}

// resetMetric counts the closes by RST, when there were any.
func resetMetric(n int) []Metric {
	if n == 0 {
		return nil
	}
	return []Metric{{"closed_by_rst", float64(n)}}
}

// ofThem is "1 of them was", "3 of them were".
func ofThem(n int) string {
	if n == 1 {
		return "1 of them was"
	}
	return fmt.Sprintf("%d of them were", n)
}

// forwardedFrom returns a server that host, itself a client of it,
// got responses from naming their server name: host passes the Server
// header of that server on, as a reverse proxy does. Where host is the
// capturing host, its connections from its other addresses count too.
func forwardedFrom(fx *findCtx, host netip.Addr, name string) (netip.AddrPort, bool) {
	if fx.byClient == nil {
		return netip.AddrPort{}, false
	}
	hosts := fx.hostAddrs(host)
	var pb payload.Buffer
	for _, f := range fx.byClient.flows(hosts...) {
		if h := httpOf(f.Record, flow.Client, &pb); h != nil && h.Server == name {
			return f.Key.Server(), true
		}
	}
	return netip.AddrPort{}, false
}

// closeMoments are the moments the group's closes came (their verdicts'
// Since: the FIN or RST).
func closeMoments(g *group) []flow.Timestamp {
	at := make([]flow.Timestamp, len(g.vs))
	for i, v := range g.vs {
		at[i] = v.Since
	}
	return at
}

// relayedCloses counts the idle closes of g that came, within relayGap,
// with a close by the same host of one of its connections on the other
// side of it (for a server's closes, a connection it opened; for a
// client's, one opened to it): a TCP relay that closed both legs at
// once. other is the endpoint of the other legs (the first found).
func relayedCloses(fx *findCtx, g *group) (other netip.AddrPort, n int) {
	if fx == nil || fx.byClient == nil {
		return netip.AddrPort{}, 0
	}
	v0, f0 := g.vs[0], g.flows[0]
	host := f0.Endpoint(v0.Side).Addr()
	self := fx.hostAddrs(host)
	var legs []*Flow
	var side flow.Side // the host's side on the other legs
	if v0.Side == flow.Server {
		legs, side = fx.byClient.flows(self...), flow.Client
	} else {
		for _, a := range self {
			for _, i := range fx.flowsToAddr(a) {
				legs = append(legs, &fx.rep.Flows[i])
			}
		}
		side = flow.Server
	}
	type legClose struct {
		at flow.Timestamp
		ep netip.AddrPort // the leg's server endpoint
	}
	var closes []legClose
	for _, f := range legs {
		if slices.Contains(g.flows, f) {
			continue
		}
		if h := f.Half(side); h.FinPacket > 0 {
			closes = append(closes, legClose{h.FinAt, f.Key.Server()})
		} else if rst := firstEvent(f.Record, func(e *flow.Event) bool { return e.From == side && e.Flags.Has(packet.RST) }); rst != nil {
			// A relay that resets both legs (stunnel's TIMEOUTidle).
			closes = append(closes, legClose{rst.At, f.Key.Server()})
		}
	}
	slices.SortFunc(closes, func(a, b legClose) int { return cmp.Compare(a.at, b.at) })
	eps := map[netip.AddrPort]int{}
	for i, f := range g.flows {
		t := closeAt(f.Record, g.vs[i].Side)
		if t == 0 {
			t = g.vs[i].Since // closed with an RST
		}
		j, _ := slices.BinarySearchFunc(closes, t-flow.Timestamp(relayGap), func(c legClose, t flow.Timestamp) int { return cmp.Compare(c.at, t) })
		if j < len(closes) && closes[j].at <= t+flow.Timestamp(relayGap) {
			n++
			eps[closes[j].ep]++
		}
	}
	for ep, k := range eps {
		if k > eps[other] || k == eps[other] && ep.Compare(other) < 0 {
			other = ep
		}
	}
	return other, n
}

// relayGap is how close together a relay's closes of its two legs come:
// the same event loop's turn.
const relayGap = time.Millisecond

// closedHow says how n connections were closed, resets of them by RST:
// "closed", "reset (RST)", "closed (2 of them by RST)".
func closedHow(resets, n int) string {
	switch {
	case resets == n:
		return "reset (RST)"
	case resets > 0:
		return fmt.Sprintf("closed (%d of them by RST)", resets)
	}
	return "closed"
}
