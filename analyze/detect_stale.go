package analyze

import (
	"cmp"
	"fmt"
	"net/netip"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/flowdoc/flowdoc/flow"
	"github.com/flowdoc/flowdoc/flow/packet"
	"github.com/flowdoc/flowdoc/flow/payload"
)

// Data on a connection the peer had closed, answered by RST, or by nothing
// when the peer had closed it idle. A server does not reuse connections:
// data it sends after the client closed (a TLS close_notify, a response
// too late) is a plain reset. A client that ignored Connection: close has
// a verdict that says more.
var staleReuseDetector = detector{
	class: StaleReuseReset,
	explain: Explanation{
		Class: StaleReuseReset, Title: "Stale connection reused, reset",
		Meaning: "A side sent a request on a connection the peer had already closed (its FIN was in the capture " +
			"before the request, or its idle timer fired with the request unread), and the peer answered with RST, or " +
			"with nothing at all: a pooled connection reused " +
			"after the server's idle timeout. The request fails (connection reset, or the connection closed before a " +
			"response) although nothing was wrong with the server.",
		Detection: "New data from one side after the other side's FIN, followed by an RST from the other side (where the " +
			"payload was read, data that was only a goodbye in reply, a TLS close_notify, PostgreSQL's Terminate or MySQL's COM_QUIT, does not count: a server that let " +
			"go of its socket resets it, and nothing was lost); or a client's data after the connection was quiet as long " +
			"as its server's idle closes elsewhere in the capture, answered by an RST, with no FIN or one that followed the " +
			"request within 10 ms (the server's idle timer fired with the request unread: a keep-alive race); or, " +
			"with no RST, when that FIN had closed an idle connection (one second or more without data either way) and " +
			"a request followed it: an HTTP request read in the streams, or over TLS a record of application data (an " +
			"alert, as a close_notify in reply is, does not count; TLS 1.3 encrypts its alerts, known by their 19 bytes); " +
			"a server that reads and drops what comes after its close (Apache's lingering close) sends none. " +
			"With --no-payload such a request is not seen. A finding says when the same request line " +
			"went out again first thing on a new connection to the same server within 100 ms (or ten round trips): retried; " +
			"and where the same request (method and target) had come to the host that sent it, from a caller of its own, " +
			"within 50 ms before, that host is a reverse proxy: the finding says so and what its callers got (a 502, or a " +
			"success the proxy retried); where the requests were not read (another protocol, AJP), the error answers (5xx) the host sent its own callers within 50 ms after each failure.",
		Causes: "A client pool whose idle timeout is longer than the server's keep-alive timeout, or that does not " +
			"check for the server's FIN before reusing a connection; behind a reverse proxy, its upstream pool " +
			"(nginx's upstream keepalive_timeout, 60 s by default, in front of Node.js's 5 s).",
		Confirm: "Client errors \"connection reset by peer\" / \"NoHttpResponseException\" / \"socket hang up\" on " +
			"the first request after an idle period; a proxy's \"upstream prematurely closed connection\" or " +
			"\"recv() failed (104: Connection reset by peer)\" (nginx), \"error reading status line from remote " +
			"server\" (Apache), with 502 answers.",
		Fix: "Make the pool's idle timeout shorter than the server's keep-alive timeout; validate connections " +
			"after inactivity (e.g. Apache HttpClient setValidateAfterInactivity); retry idempotent requests once.",
	},
	inspect: inspectStaleReuse,
	group: func(f *Flow, v *Verdict) (groupKey, bool) {
		return groupKey{host: f.Endpoint(v.Side).Addr(), endpoint: f.Endpoint(v.Side.Other())}, true
	},
	findings: func(g *group, fx *findCtx) []Finding { return []Finding{staleFinding(g, fx)} },
}

func inspectStaleReuse(c *flowCtx) {
	r := c.r
	inspectRace(c)
	if _, ok := acceptCloseOf(r); ok {
		// The server refused the client as it accepted it: what the
		// client sent after was its first request, crossing the refusal
		// or the close, on a connection never used.
		return
	}
	for _, s := range []flow.Side{flow.Client, flow.Server} {
		h, peer := r.Half(s), r.Half(s.Other())
		if peer.FinPacket == 0 || h.LastPayload <= peer.FinAt {
			continue
		}
		if s == flow.Client && c.cap.atDeadline(r) {
			// The server closed at its deadline from the accept: the
			// client answered late (a login, a handshake), reused
			// nothing.
			continue
		}
		if r.ControlAfterFin(s) && !r.DataAfterFin(s) {
			// What came after the FIN was read, and was a goodbye in
			// reply (a TLS close_notify), no request: a server that had
			// let go of the socket resets it, and nothing was lost.
			continue
		}
		if peer.RSTs == 0 {
			// Nothing answered: stale only if the peer had closed an idle
			// connection (a half-close sends its FIN amid the data), and
			// what came after its FIN was a request (not a goodbye of its
			// own, as a TLS close_notify is).
			closer, idle, ok := firstCloser(r)
			if ok && idle < minIdle && closer == flow.Server {
				// Closed at a restart, whatever its idle time.
				_, ok = c.cap.massOf(r.Key.Server(), closeAt(r, flow.Server))
				idle = minIdle
			}
			if !ok || closer != s.Other() || idle < minIdle || !requestAfterFin(r, s, finOf(peer), c.pb) {
				continue
			}
		}
		if s == flow.Server && !r.RolesInferred {
			continue
		}
		if _, ignored := closeIgnored(r, c.pb); s == flow.Client && ignored {
			continue
		}
		var rst *flow.Event
		if peer.RSTs > 0 {
			if rst = lastEvent(r, func(e *flow.Event) bool {
				return e.From == s.Other() && e.Flags.Has(packet.RST) && e.At >= h.LastPayload
			}); rst == nil {
				continue
			}
		}
		sent, data := "data", Evidence{Input: int(h.LastPayloadInput), Packet: int(h.LastPayloadPacket), At: h.LastPayload, What: "data from " + sideName(s) + " on the closed connection"}
		after := h.LastPayload.Sub(peer.FinAt)
		x := staleRequest(r, s, finOf(peer), c.pb)
		if x != nil {
			sent = request(x)
			after = flow.Timestamp(x.RequestAt).Sub(peer.FinAt)
			data = Evidence{Input: int(x.RequestInput), Packet: int(x.RequestPacket), At: flow.Timestamp(x.RequestAt), What: request(x) + " from " + sideName(s) + " on the closed connection"}
		}
		v := Verdict{Class: StaleReuseReset, Side: s, Severity: Warning, Confidence: 0.9, Since: h.LastPayload,
			Summary: fmt.Sprintf("the %s sent %s %s after the %s had closed the connection, and got RST: a connection reused after the peer closed it",
				sideName(s), sent, fmtDur(after), sideName(s.Other()))}
		v.Evidence = append(v.Evidence,
			Evidence{Input: int(peer.FinInput), Packet: int(peer.FinPacket), At: peer.FinAt, What: finFrom[s.Other()]},
			data)
		if rst != nil {
			v.Evidence = append(v.Evidence, ev(rst, rstFrom[s.Other()]))
		} else {
			v.Confidence = 0.8
			if x == nil {
				// Data no control message, not read as a request: TLS
				// application data, or another protocol's.
				v.Confidence = 0.7
				if p := r.ReadPayload(c.pb); p != nil && p.TLS != nil {
					sent = "TLS application data (a request, encrypted)"
				}
			}
			v.Summary = fmt.Sprintf("the %s sent %s %s after the %s had closed the idle connection, and got no answer (the %s had shut down its sending side: it read and dropped the data, as Apache's lingering close does): a connection reused after the peer closed it",
				sideName(s), sent, fmtDur(after), sideName(s.Other()), sideName(s.Other()))
		}
		c.add(v)
	}
}

// requestAfterFin reports whether side s sent a request after the peer's
// FIN at fin: an HTTP request read as such; or, where the payload was not
// read as HTTP (TLS, another protocol), data that was no control message
// (a TLS close_notify answering the peer's is one).
func requestAfterFin(r *flow.Record, s flow.Side, fin packetAt, pb *payload.Buffer) bool {
	if staleRequest(r, s, fin, pb) != nil {
		return true
	}
	// Not read as HTTP: data that was no goodbye (the tracker tells one
	// by its first bytes, when they were captured). So too where the
	// snap length cut side s's stream (a header-only capture): requests
	// after the cut were not read.
	p := r.ReadPayload(pb)
	return p != nil && (p.HTTP == nil || p.Truncated[s] != 0) && r.DataAfterFin(s)
}

// raceWindow is how soon after the server's FIN a request is taken to have
// raced it (sent before the FIN reached the client): a few round trips on
// a LAN.
const raceWindow = 10 * time.Millisecond

// inspectRace finds a request that raced the server's idle timeout: sent
// after the connection had been quiet as long as the server's idle closes
// elsewhere show, and answered by an RST, no FIN, no data. The server's
// timer fired with the request unread in its socket, and a socket closed
// with unread data sends RST (Node.js's keep-alive timeout does; the
// client sees ECONNRESET, "socket hang up").
func inspectRace(c *flowCtx) {
	r := c.r
	cl, sv := &r.Client, &r.Server
	if sv.RSTs == 0 && sv.FinPacket == 0 || cl.LastPayload == 0 || sv.LastPayload == 0 || sv.LastPayload >= cl.LastPayload {
		return
	}
	// The server's timer may have fired as the request arrived: its FIN
	// then follows the request within a moment, and an RST the FIN, the
	// request unread. A FIN before the request is a stale reuse's; one
	// later, an answer's end.
	crossed := sv.FinPacket > 0
	if crossed && (sv.FinAt < cl.LastPayload || sv.FinAt.Sub(cl.LastPayload) > raceWindow || cl.FinPacket > 0 && cl.FinAt <= sv.FinAt) {
		return // not the server's timer: the client closed first
	}
	rst := firstEvent(r, func(e *flow.Event) bool {
		return e.From == flow.Server && e.Flags.Has(packet.RST) && e.Note&flow.NoteRSTIgnored == 0 && e.At >= cl.LastPayload
	})
	l := c.cap.idleCloses[r.Key.Server()]
	if rst == nil && !(crossed && !r.ControlBeforeFin(flow.Client)) || l == nil {
		// With no RST, the server's FIN must have crossed the request,
		// and the request been no goodbye of the client's.
		return
	}
	idle := cl.LastPayload.Sub(sv.LastPayload) // the request came after the last answer
	if idle < minIdle || l.near(idle, max(idle/10, 300*time.Millisecond)) == 0 {
		return
	}
	sent, data := "data", Evidence{Input: int(cl.LastPayloadInput), Packet: int(cl.LastPayloadPacket), At: cl.LastPayload, What: "data from client"}
	if x := staleRequest(r, flow.Client, packetAt{sv.LastPayload, sv.LastPayloadPacket, sv.LastPayloadInput}, c.pb); x != nil {
		sent = request(x)
		data = Evidence{Input: int(x.RequestInput), Packet: int(x.RequestPacket), At: flow.Timestamp(x.RequestAt), What: request(x) + " from client"}
	}
	if rst == nil {
		// Java's servers (Tomcat) shut their side down on the timer and
		// close later: the request is acknowledged, never answered.
		c.add(Verdict{Class: StaleReuseReset, Side: flow.Client, Severity: Warning, Confidence: 0.75, Since: cl.LastPayload,
			Summary: fmt.Sprintf("the client sent %s %s after the server's last data, as long as the server lets connections idle before it closes them (its other idle closes), and the server's FIN followed %s later with no answer: "+
				"its timer fired as the request came, and it closed without reading it (a keep-alive race: the request is lost)", sent, fmtDur(idle), fmtDur(sv.FinAt.Sub(cl.LastPayload))),
			Evidence: []Evidence{
				{Input: int(sv.LastPayloadInput), Packet: int(sv.LastPayloadPacket), At: sv.LastPayload, What: "last data from server"},
				data, {Input: int(sv.FinInput), Packet: int(sv.FinPacket), At: sv.FinAt, What: "FIN from server, no answer"}}})
		return
	}
	c.add(Verdict{Class: StaleReuseReset, Side: flow.Client, Severity: Warning, Confidence: 0.8, Since: cl.LastPayload,
		Summary: fmt.Sprintf("the client sent %s %s after the server's last data, as long as the server lets connections idle before it closes them (its other idle closes): "+
			"its timer fired with the request unread, and it %s the connection (a keep-alive race: the request is lost)", sent, fmtDur(idle), map[bool]string{false: "reset", true: "closed (FIN) and reset"}[crossed]),
		Evidence: []Evidence{
			{Input: int(sv.LastPayloadInput), Packet: int(sv.LastPayloadPacket), At: sv.LastPayload, What: "last data from server"},
			data, ev(rst, "RST from server, the request unread")}})
}

// staleFinding sums up one host's requests on connections its peer had
// closed, or was closing (a race): how they ended, the peer's idle
// timeout where the capture measured it, and what to change.
func staleFinding(g *group, fx *findCtx) Finding {
	v := g.vs[0]
	f := g.flows[0]
	peer := f.Endpoint(v.Side.Other())
	var idle []time.Duration
	var reqs []string
	var forwarded []staleReq // the requests, for proxied
	var pb payload.Buffer
	unanswered, crossing, races, massed := 0, 0, 0, 0
	var latest time.Duration // the longest a request came after the close
	retried, retryMax := 0, time.Duration(0)
	unread := 0 // flows whose payload was not read (--no-payload)
	// Closes right after the server's own answer, and of those, the ones
	// whose HTTP response had said Connection: close.
	afterAnswer, announced := 0, 0
	var afterMax time.Duration
	for i, fl := range g.flows {
		s := g.vs[i].Side
		if d, ok := closedAfterAnswer(fl.Record, s.Other()); ok {
			afterAnswer++
			afterMax = max(afterMax, d)
			if h := httpOf(fl.Record, s, &pb); h != nil && answeredClose(h) {
				announced++
			}
		}
		if fl.Half(s.Other()).RSTs == 0 {
			unanswered++
			if p := fl.Half(s.Other()); p.FinPacket > 0 && fl.Half(s).LastPayload < p.FinAt {
				crossing++ // the request came before the FIN: not read
			}
		}
		switch h, p := fl.Half(s), fl.Half(s.Other()); {
		case p.FinPacket == 0: // a race: reset with the request unread
			races++
		case h.LastPayload.Sub(p.FinAt) < raceWindow:
			races++
			latest = max(latest, h.LastPayload.Sub(p.FinAt))
		}
		if iv := verdictOf(fl, IdleTimeoutClose); iv != nil && iv.Side == s.Other() {
			if iv.mass {
				massed++ // closed in a restart or reload: no idle timeout
			} else {
				d, _ := idleBefore(fl.Record, iv)
				idle = append(idle, d)
			}
		}
		x := staleRequest(fl.Record, s, finOf(fl.Half(s.Other())), &pb)
		if x == nil {
			if fl.ReadPayload(&pb) == nil && !fl.OtherProtocol() {
				unread++ // nothing read (--no-payload), or nothing of it told
			}
			continue
		}
		line := request(x)
		if !slices.Contains(reqs, line) {
			reqs = append(reqs, line)
		}
		if x.Method != "" {
			forwarded = append(forwarded, staleReq{x.Method, x.Target, flow.Timestamp(x.RequestAt)})
		}
		if s == flow.Client && x.RequestLine() != "" {
			if d, ok := fx.resent(fl, line, flow.Timestamp(x.RequestAt)); ok {
				retried++
				retryMax = max(retryMax, d)
			}
		}
	}
	sent := "requests"
	if unread == len(g.flows) {
		// Without the payload, what was sent is not known: a goodbye in
		// reply (a TLS close_notify) is data too.
		sent = "data (not read: a request, or a goodbye in reply such as a TLS close_notify)"
	}
	if len(reqs) > 0 {
		if len(reqs) > 3 {
			reqs = append(reqs[:3], "…")
		}
		sent = "requests (" + strings.Join(reqs, ", ") + ")"
	}
	got := "got RST"
	dropped := "the server read and dropped them"
	switch {
	case crossing == unanswered:
		dropped = "the server's FIN crossed them, and it closed without reading them"
	case crossing > 0:
		dropped = fmt.Sprintf("the server read and dropped them or, on %d, its FIN crossed them", crossing)
	}
	switch {
	case unanswered == len(g.flows):
		got = "got no answer (" + dropped + ")"
	case unanswered > 0:
		got = fmt.Sprintf("got RST or, on %d, no answer (%s)", unanswered, dropped)
	}
	why := "it reuses pooled connections after the peer closed them."
	if races == len(g.flows) {
		what := "each request came within %s of the server's close, or just before it (reset with the request unread)"
		switch {
		case crossing == len(g.flows):
			what = "each request came just before the server's close (within %s), which crossed it unread"
		case unread == len(g.flows):
			what = "each came within %s of the server's close, or just before it (reset unread)"
		}
		why = fmt.Sprintf(what+": a race with its idle timeout, which the client could not yet know of, rather than a pool that ignores closes.",
			fmtBound(latest))
	}
	// The server's idle timeout, where the capture measured one: these
	// connections' own idle closes; or, reset with the request unread and
	// no FIN, its other connections'. A server that checks its idle
	// connections periodically closes each between its timeout and one
	// period later: the reused connections may have waited longer than
	// others it closed, and the pool must let go before the shortest.
	closed := "that %s had already closed"
	if races == len(g.flows) {
		closed = "just as %s closed them for being idle"
	}
	var bound time.Duration // what the pool must stay under; 0: unknown
	measured := "the server's, measured here"
	if cl := ClusterDurations(idle); len(cl) > 0 {
		t := cl[0].Median
		if races < len(g.flows) {
			why = "its pool reuses connections the server has already closed."
		}
		timeout := "(its idle timeout)"
		bound = t
		if low := fx.shortestIdleClose(peer); low > 0 && wellBelow(low, t) {
			timeout = fmt.Sprintf("(it closed others after as little as %s)", fmtDur(low))
			bound, measured = low, "the shortest idle time after which the server closed a connection here"
		}
		closed = "that %s had closed after " + fmtDur(t) + " idle " + timeout
		if races == len(g.flows) {
			closed = "just as %s closed them after " + fmtDur(t) + " idle " + timeout
		}
	} else if t := fx.shortestIdleClose(peer); t > 0 {
		bound, measured = t, "the shortest idle time after which the server closed a connection here"
		closed = "just as %s closed them for being idle (it closed others after " + fmtDur(t) + " idle)"
		if races < len(g.flows) {
			closed = "that %s had closed for being idle (it closed others after " + fmtDur(t) + " idle)"
		}
	}
	if massed == len(g.flows) {
		closed = "that %s had closed all at once with other idle connections, whatever their idle times (a restart, reload or shutdown: see its idle_timeout_close finding)"
		why = "requests that raced the server's restart, which no pool's idle timeout prevents."
	}
	isHTTP := httpOf(f.Record, v.Side, &pb) != nil
	if afterAnswer == len(g.flows) && massed == 0 {
		// No idle time: the server closed each right after answering.
		closed = "that %s had closed right after its answer (within " + fmtBound(afterMax) + ")"
		bound = 0
		switch {
		case announced == len(g.flows):
			why = "the responses said Connection: close, and the client reused the connections anyway: it ignores the header."
		case announced == 0 && isHTTP:
			why = "the server closes each connection after its response without saying so (no Connection: close in an HTTP/1.1 response), so the client's pool kept the connection to use again."
		default:
			why = "the server closes each connection after answering, and the client's pool kept it to use again."
		}
	}
	sum := fmt.Sprintf("%s sent %s on %s "+closed+", and %s: %s",
		f.Endpoint(v.Side).Addr(), sent, plural(len(g.flows), "connection"), peer, got, why)
	if massed > 0 && massed < len(g.flows) {
		sum += fmt.Sprintf(" %s closed in a restart or reload instead, all at once with other idle connections.", ofThem(massed))
	}
	fix := remedy(StaleReuseReset)
	ms := []Metric{{"connections", float64(len(g.flows))}}
	switch {
	case massed == len(g.flows):
		fix = "Retry an idempotent request once when a pooled connection fails at its first write: a server's restart or reload closes connections under every pool. Drain a server (out of its load balancer) before reloading it."
	case afterAnswer == len(g.flows) && announced == len(g.flows):
		fix = "Make the client honour Connection: close (close the connection after such a response instead of pooling it); retry idempotent requests once."
	case afterAnswer == len(g.flows) && isHTTP:
		fix = "Make the server say Connection: close when it will close (or keep connections alive as HTTP/1.1 expects, e.g. uWSGI's --http11-socket, or its http router with --http-keepalive), or have the client not reuse its connections; retry idempotent requests once."
	case afterAnswer == len(g.flows):
		fix = "The server closes each connection once it has answered: have the client open one per exchange (or validate pooled connections before reuse) rather than keep them; retry idempotent requests once."
	case bound > 0:
		fix = fmt.Sprintf("Make the client pool's idle timeout shorter than %s (%s), or validate connections after inactivity; retry idempotent requests once.", fmtDur(bound), measured)
		ms = append(ms, Metric{"peer_idle_timeout_s", bound.Seconds()})
	}
	front := fx.proxied(g, forwarded)
	if front == "" {
		// Requests not read (another protocol: AJP): the host's callers
		// answered with an error as the reuse failed, if it is a proxy.
		var at []flow.Timestamp
		for i, fl := range g.flows {
			p := fl.Half(g.vs[i].Side.Other())
			at = append(at, max(p.FinAt, fl.Half(g.vs[i].Side).LastPayload))
		}
		if got := fx.callersGot(f.Endpoint(v.Side).Addr(), at); got != "" {
			front = fmt.Sprintf("%s is a proxy: its callers got %s as the requests failed, so its upstream pool keeps idle connections longer than its backend does.", f.Endpoint(v.Side).Addr(), got)
		}
	}
	if front != "" {
		sum += " " + front
		upstream := "the backend's keep-alive timeout"
		if bound > 0 {
			upstream = fmtDur(bound)
		}
		fix = fmt.Sprintf("Make the proxy's upstream idle timeout shorter than %s (nginx: keepalive_timeout in the upstream block; Apache: ProxyPass ttl=; HAProxy: timeout http-keep-alive on the backend), or the backend's keep-alive timeout longer than the proxy's; retry idempotent requests once.", upstream)
	}
	if unanswered > 0 {
		ms = append(ms, Metric{"unanswered", float64(unanswered)})
	}
	if retried > 0 && front == "" {
		// The request sent again at once on a new connection: retried,
		// by the client library (the JDK's or Go's HTTP client: its
		// caller saw no error) or by the application after an error. A
		// proxy's callers say what it did (proxied): the same request
		// line from it may be another caller's.
		which := fmt.Sprintf("%d of these requests were", retried)
		switch {
		case retried == len(g.flows) && retried == 1:
			which = "The request was"
		case retried == len(g.flows) && retried == 2:
			which = "Both requests were"
		case retried == len(g.flows):
			which = fmt.Sprintf("All %d requests were", retried)
		case retried == 1:
			which = "1 of these requests was"
		}
		sum += fmt.Sprintf(" %s sent again on a new connection within %s: retried (by the client library, its caller saw no error; or by the application, after one).", which, fmtBound(retryMax))
		ms = append(ms, Metric{"retried", float64(retried)})
		if retried == len(g.flows) {
			fix = strings.Replace(fix, "; retry idempotent requests once.", ". It already retries them, at the cost of a round trip and a new connection each.", 1)
		}
	}
	return Finding{Class: StaleReuseReset, Severity: Warning, Hosts: []netip.Addr{f.Endpoint(v.Side).Addr()},
		Endpoints: []netip.AddrPort{peer}, Flows: ids(g.flows), Metrics: ms, Summary: sum, Remedy: fix, Evidence: evidence(g, false)}
}

// answerCloseWithin is how soon after its own answer a server's close
// counts as closing on the answer, not on an idle timer (the shortest
// idle timeouts are a second or more).
const answerCloseWithin = 100 * time.Millisecond

// closedAfterAnswer reports whether side s (the server) of r closed the
// connection right after its own last data, within answerCloseWithin:
// and how soon.
func closedAfterAnswer(r *flow.Record, s flow.Side) (time.Duration, bool) {
	h := r.Half(s)
	if r.Midstream || h.FinPacket == 0 || h.DataBeforeFin == 0 || h.DataBeforeFinFrom != s || h.Goodbye() {
		// (Met midstream, a goodbye may not be told as one.)
		return 0, false
	}
	d := h.FinAt.Sub(h.DataBeforeFin)
	return d, d < answerCloseWithin
}

// answeredClose reports whether the last HTTP response of h said
// Connection: close.
func answeredClose(h *payload.HTTP) bool {
	for i := len(h.Exchanges) - 1; i >= 0; i-- {
		if x := &h.Exchanges[i]; x.Status != 0 {
			return x.ResponseClose
		}
	}
	return false
}

// resent reports whether the request line (method and target) that
// client flow f sent at `at`, on a connection its server had closed, was
// sent again first thing on a new connection from the same host to the
// same server soon after: within 100 ms, or ten round trips of f's
// handshake where those are longer; and how long after. A client that
// retries (a proxy, the JDK's or Go's HTTP client) does so at once.
func (fx *findCtx) resent(f *Flow, line string, at flow.Timestamp) (time.Duration, bool) {
	if fx.byPair == nil {
		fx.indexStalePairs()
	}
	window := 100 * time.Millisecond
	if rtt := f.Server.FirstPacket.Sub(f.Client.FirstPacket); f.Server.FirstPacket > 0 && f.Client.FirstPacket > 0 && rtt > 0 {
		window = max(window, 10*rtt)
	}
	var pb payload.Buffer
	for _, i := range fx.byPair[pairKey{f.Key.Client().Addr(), f.Key.Server()}] {
		g := &fx.rep.Flows[i]
		if g.First <= at { // f itself began before its request
			continue
		}
		if g.First.Sub(at) > window {
			break // sorted by First
		}
		if h := httpOf(g.Record, flow.Client, &pb); h != nil && len(h.Exchanges) > 0 && h.Exchanges[0].RequestLine() == line {
			return flow.Timestamp(h.Exchanges[0].RequestAt).Sub(at), true
		}
	}
	return 0, false
}

// indexStalePairs lists, for each client host and server endpoint with a
// stale reuse, its flows in order of their first packet (resent).
func (fx *findCtx) indexStalePairs() {
	fx.byPair = map[pairKey][]int{}
	rep := fx.rep
	for i := range rep.Flows {
		if f := &rep.Flows[i]; verdictOf(f, StaleReuseReset) != nil {
			fx.byPair[pairKey{f.Key.Client().Addr(), f.Key.Server()}] = nil
		}
	}
	for i := range rep.Flows {
		if rep.isCopy(i) {
			continue
		}
		f := &rep.Flows[i]
		k := pairKey{f.Key.Client().Addr(), f.Key.Server()}
		if l, ok := fx.byPair[k]; ok {
			fx.byPair[k] = append(l, i)
		}
	}
	for _, l := range fx.byPair {
		slices.SortFunc(l, func(a, b int) int { return cmp.Compare(rep.Flows[a].First, rep.Flows[b].First) })
	}
}

// shortestIdleClose is the shortest idle time after which endpoint ep
// closed a connection for being idle, over the whole capture (0: none).
// The first call measures every endpoint's in one walk.
func (fx *findCtx) shortestIdleClose(ep netip.AddrPort) time.Duration {
	if fx.idleLow == nil {
		fx.idleLow = map[netip.AddrPort]time.Duration{}
		rep := fx.rep
		for i := range rep.Flows {
			if rep.isCopy(i) {
				continue
			}
			f := &rep.Flows[i]
			v := verdictOf(f, IdleTimeoutClose)
			if v == nil || v.mass {
				continue
			}
			e := f.Endpoint(v.Side)
			if d, _ := idleBefore(f.Record, v); d > 0 && (fx.idleLow[e] == 0 || d < fx.idleLow[e]) {
				fx.idleLow[e] = d
			}
		}
	}
	return fx.idleLow[ep]
}

// staleReq is a request sent on a connection the server had closed.
type staleReq struct {
	method, target string
	at             flow.Timestamp
}

// proxyLag is how soon after a caller's request a proxy is taken to send
// it on upstream: a proxy forwards a request within milliseconds.
const proxyLag = 50 * time.Millisecond

// proxied says, for the requests of a stale reuse group (reqs), which
// its host forwarded: requests with the same method and target that came
// to the host (on any address of the capture's host, when it is one)
// from a caller within proxyLag before. The host is then a reverse proxy whose
// upstream pool outlived its backend's keep-alive, and what its callers
// got says what the reset cost them (a 502, or a retry). "" when none.
func (fx *findCtx) proxied(g *group, reqs []staleReq) string {
	if len(reqs) == 0 {
		return ""
	}
	host := g.flows[0].Endpoint(g.vs[0].Side).Addr()
	self := fx.hostAddrs(host)
	var pb payload.Buffer
	// The host's callers: connections to it under way when a request
	// was sent, read once each.
	var callers []*Flow
	for _, a := range self {
		for _, i := range fx.flowsToAddr(a) {
			f := &fx.rep.Flows[i]
			if slices.Contains(g.flows, f) || slices.Contains(callers, f) {
				continue
			}
			if slices.ContainsFunc(reqs, func(q staleReq) bool { return f.First <= q.at && q.at.Sub(f.Last) <= proxyLag }) {
				callers = append(callers, f)
			}
		}
	}
	got := map[string]int{}
	var example string
	n := 0
	for _, q := range reqs {
		var best *payload.Exchange
		var bestFlow *Flow
		for _, f := range callers {
			h := httpOf(f.Record, flow.Client, &pb)
			if h == nil {
				continue
			}
			for j := range h.Exchanges {
				x := &h.Exchanges[j]
				lag := q.at.Sub(flow.Timestamp(x.RequestAt))
				if x.RequestPacket == 0 || x.Method != q.method || x.Target != q.target || lag < 0 || lag > proxyLag {
					continue
				}
				if best == nil || x.RequestAt > best.RequestAt {
					c := *x
					best, bestFlow = &c, f
				}
			}
		}
		if best == nil {
			continue
		}
		n++
		answer := cmp.Or(best.StatusLine(), "no response")
		if best.Status >= 200 && best.Status < 500 {
			answer += " (retried upstream)" // an answer after the upstream reset
		}
		got[answer]++
		if example == "" {
			example = fmt.Sprintf("%s from %s to %s, %s before", request(best), bestFlow.Key.Client().Addr(), bestFlow.Key.Server(), fmtDur(q.at.Sub(flow.Timestamp(best.RequestAt))))
		}
	}
	if n == 0 {
		return ""
	}
	var statuses []string
	for st, k := range got {
		statuses = append(statuses, fmt.Sprintf("%s on %d", st, k))
	}
	sort.Strings(statuses)
	which := fmt.Sprintf("%d of the requests were ones", n)
	switch {
	case n == len(reqs) && n == 1:
		which = "the request was one"
	case n == len(reqs) && n == 2:
		which = "both requests were ones"
	case n == len(reqs):
		which = fmt.Sprintf("all %d requests were ones", n)
	}
	return fmt.Sprintf("%s is a reverse proxy: %s it forwarded for its callers (e.g. %s), so its upstream pool keeps idle connections longer than its backend does. Its callers got %s.",
		host, which, example, strings.Join(statuses, ", "))
}
