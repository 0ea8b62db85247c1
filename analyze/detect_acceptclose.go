package analyze

import (
	"fmt"
	"net/netip"
	"time"

	"github.com/flowdoc/flowdoc/flow"
	"github.com/flowdoc/flowdoc/flow/packet"
	"github.com/flowdoc/flowdoc/flow/payload"
)

// Accepted, then closed at once before any data from the server,
// whoever closed second; many such from one client are a reconnect storm
// against a connection cap.
var acceptCloseDetector = detector{
	class: AcceptThenClose,
	explain: Explanation{
		Class: AcceptThenClose, Title: "Accepted, then closed at once",
		Meaning: "The server completed the handshake and closed the connection right away, before sending any " +
			"data: it accepts and then refuses the client, usually because the client is over a connection cap.",
		Detection: "The server's FIN (or RST) comes within a second of the handshake, before the client's FIN and " +
			"with no payload from the server before it, or only an error that refuses the client (Redis's \"max " +
			"number of clients reached\", a MySQL error packet where its handshake belongs, a PostgreSQL FATAL to " +
			"the startup message, an FTP or SMTP 421, an MQTT CONNACK refusing, a TLS alert, memcached's \"Too many open connections\", sshd's \"Exceeded MaxStartups\", an IRC ERROR line before any greeting; or, within the server's first kilobyte, an AMQP " +
			"Connection.Close 530 or 403 as the connection opens: RabbitMQ's connection limits; an IMAP NO [LIMIT] to the login: Dovecot's " +
			"mail_max_userip_connections; a NATS -ERR 'maximum connections exceeded' or 'Authorization Violation'; an rsync daemon's @ERROR; a SOCKS reply refusing the request), or one short message " +
			"the client had not asked for (it sent nothing, or the server sent its message and its FIN before acknowledging a byte " +
			"of the client's: their first messages crossed, which --no-payload can tell too); whether the client then closes cleanly or resets. " +
			"A silent connection closed while the server served connections opened after it is no refusal: the server was not refusing, " +
			"but closed one that sent nothing (a timeout for a first request).",
		Causes: "A connection limit, per client (ZooKeeper maxClientCnxns, a proxy's per-source limit) or for all " +
			"clients (Redis maxclients, MySQL and PostgreSQL max_connections: these say so in an error first), an " +
			"access check that fails, a server shutting down.",
		Confirm: "The server's log at the time (\"Too many connections from /IP - max is 60\" for ZooKeeper); " +
			"ss -tn dst CLIENT on the server to count the client's open connections.",
		Fix: "Find why the client holds so many connections (a leak, too many processes or pods on one host) and " +
			"fix that; raise the limit only if the load is legitimate. Make the client back off before reconnecting.",
	},
	inspect: inspectAcceptClose,
	group: func(f *Flow, _ *Verdict) (groupKey, bool) {
		return groupKey{host: f.Key.Client().Addr(), endpoint: f.Key.Server()}, true
	},
	findings: func(g *group, _ *findCtx) []Finding { return []Finding{acceptCloseFinding(g)} },
}

// The findings of acceptCloseDetector's groups when they come fast.
var reconnectStormDetector = detector{class: ReconnectStorm, explain: Explanation{
	Class: ReconnectStorm, Title: "Reconnect storm",
	Meaning: "A client reconnects at a high rate to an endpoint that accepts and closes each connection at " +
		"once: it never gets service, and each attempt costs both hosts a TIME_WAIT socket.",
	Detection: "Five or more accepted-then-closed connections from one client host to one server endpoint, " +
		"at one or more per second.",
	Causes: "A client over a per-client connection cap (ZooKeeper's maxClientCnxns is the classic case) that " +
		"retries with no backoff.",
	Confirm: "The server's log (the connection-limit message); ss -tn on the client: how many connections it " +
		"holds to the server, and which processes own them (ss -tnp).",
	Fix: "Reduce the connections the client host keeps open (share one client per process, fix leaks, spread " +
		"pods), raise the cap if the load is legitimate, and add exponential backoff to reconnects.",
}}

// acceptCloseWithin is how soon after the handshake a server's close
// counts as refusing the client.
const acceptCloseWithin = time.Second

// refusalMax is the most a server may send before its close for the
// close to count as refusing the client: one error message.
const refusalMax = 1024

// refusedAtAccept reports whether the server of r refused the client
// with its first message rather than serving it: a protocol's error that
// refuses a client (Record.Refusal), or, unasked, one short message
// before it closed: the client sent nothing, or the server had read none
// of it (closedUnasked).
func refusedAtAccept(r *flow.Record) bool {
	S := &r.Server
	if S.Bytes == 0 || S.Bytes > refusalMax || S.FinPacket == 0 && S.RSTs == 0 {
		return false
	}
	return r.Refusal() != flow.NoRefusal || S.Bytes <= refusalMax/2 && (r.Client.Bytes == 0 || closedUnasked(r))
}

// closedUnasked reports whether the server of r sent its data and its
// FIN before it had received a byte of the client's: every packet of
// the server's up to its FIN acknowledges the client's SYN and no more.
// The client's first message then crossed the server's, and the server
// closed on its own, not in answer (a server that speaks first, an SMTP
// or FTP greeting, waits for the client before it closes). Payload need
// not be read for this: Redis over its maxclients, with --no-payload,
// says its error and closes as the client's first command arrives.
func closedUnasked(r *flow.Record) bool {
	C, S := &r.Client, &r.Server
	if C.SYNs() == 0 || S.FinPacket == 0 {
		return false
	}
	fin := false
	for i := range r.Events {
		e := &r.Events[i]
		if e.From != flow.Server || e.Note == flow.NoteNotCaptured {
			continue
		}
		if !e.Flags.Has(packet.ACK) || e.Ack != C.ISN+1 {
			return false
		}
		if e.Flags.Has(packet.FIN) {
			fin = true
			break
		}
	}
	return fin
}

// acceptClosing is a server's close of a connection it refused as it
// accepted it: when, which packet, and how (FIN or RST).
type acceptClosing struct {
	at     flow.Timestamp
	packet uint32
	input  uint16
	how    string
	// clientFirst is set when the client, having read the refusal,
	// closed before the server did.
	clientFirst bool
}

// acceptCloseOf returns the server's close of r when it accepted the
// connection and closed it at once, within acceptCloseWithin of its
// handshake, sending nothing first or only a refusal (refusedAtAccept),
// before the client closed; or after it, where the refusal was read: a
// client that reads a refusal closes at once, racing the server.
func acceptCloseOf(r *flow.Record) (acceptClosing, bool) {
	C, S := &r.Client, &r.Server
	if !has(r, flow.Server, 'H') || S.Bytes != 0 && !refusedAtAccept(r) || S.FinPacket == 0 && S.RSTs == 0 {
		return acceptClosing{}, false
	}
	// The handshake is the server's first packet: its SYN-ACK. (Events of
	// connections that closed cleanly are not kept; the halves are.)
	x := acceptClosing{at: S.FinAt, packet: S.FinPacket, input: S.FinInput, how: "FIN"}
	if S.FinPacket == 0 {
		rst := firstEvent(r, func(e *flow.Event) bool { return e.From == flow.Server && e.Flags.Has(packet.RST) })
		if rst == nil {
			return acceptClosing{}, false
		}
		x = acceptClosing{at: rst.At, packet: rst.Packet, input: rst.Input, how: "RST"}
	}
	if x.at.Sub(S.FirstPacket) > acceptCloseWithin {
		return acceptClosing{}, false
	}
	if C.FinPacket > 0 && C.FinAt < x.at {
		if r.Refusal() == flow.NoRefusal {
			return acceptClosing{}, false
		}
		x.clientFirst = true
	}
	return x, true
}

func inspectAcceptClose(c *flowCtx) {
	r := c.r
	S := &r.Server
	x, ok := acceptCloseOf(r)
	if !ok {
		return
	}
	if r.Client.Bytes == 0 && S.Bytes == 0 && c.cap.servedWhile(r.Key.Server(), r.First, x.at) {
		// A silent connection closed while the server took up and served
		// connections opened after it: it was not refusing, but closed
		// one that sent nothing (a timeout for a first request, which
		// load may shorten: unbound's at its last handlers).
		return
	}
	accepted := S.FirstPacket
	closeAt, closePkt, closeIn, how := x.at, x.packet, x.input, x.how
	v := Verdict{Class: AcceptThenClose, Side: flow.Server, Severity: Warning, Confidence: 0.85, Since: closeAt,
		Summary: fmt.Sprintf("the server accepted the connection and closed it %s later (%s), before sending any data", fmtDur(closeAt.Sub(accepted)), how)}
	if S.Bytes > 0 {
		v.Summary = fmt.Sprintf("the server accepted the connection, refused the client with %s, and closed it %s later (%s)",
			refusalWords(r), fmtDur(closeAt.Sub(accepted)), how)
		if x.clientFirst {
			v.Summary += ", the client, having read the refusal, closing first"
		}
	}
	if hs := firstEvent(r, func(e *flow.Event) bool { return e.From == flow.Server && e.Flags.Has(packet.SYN|packet.ACK) }); hs != nil {
		v.Evidence = append(v.Evidence, ev(hs, "SYN-ACK from server"))
	}
	what := how + " from server, no data sent"
	if S.Bytes > 0 {
		what = how + " from server after its refusal"
	}
	v.Evidence = append(v.Evidence, Evidence{Input: int(closeIn), Packet: int(closePkt), At: closeAt, What: what})
	c.add(v)
}

// refusalReasons says, for a protocol's refusal that every connection of
// a finding was refused with, why the server refuses (why, and short for
// a finding of accept_then_close alone) and what to do.
var refusalReasons = []struct {
	refusal         flow.Refusal
	why, short, fix string
}{
	{flow.RefusalSSH,
		"it refuses new connections past sshd's MaxStartups: too many connections not yet authenticated, from all clients together (10:30:100 by default: some refused past 10, all past 100), held by clients that connect and do not log in (scanners, stuck clients) for up to LoginGraceTime (120 s by default)",
		"sshd refuses new connections past MaxStartups: too many connections not yet authenticated, from all clients together",
		"Find who holds unauthenticated connections to sshd (its log: \"Connection closed by ... [preauth]\", \"Timeout before authentication\"; ss -tn state established '( sport = :22 )'); lower LoginGraceTime, raise MaxStartups, or cap each source (PerSourceMaxStartups, fail2ban)."},
	{flow.RefusalIMAP,
		"a per-user limit refuses the login: connections of one user from one address over the server's cap (Dovecot's mail_max_userip_connections, 10 by default), not the server's whole capacity",
		"a per-user limit refuses the login (Dovecot's mail_max_userip_connections)",
		"Find which clients hold that user's connections (a mail client per device, a misbehaving sync tool), close the idle ones or share one; raise the per-user limit if the load is legitimate; make the client back off instead of retrying at once."},
	{flow.RefusalIRC,
		"the IRC server refuses the connection as it opens, its ERROR line saying why: most often too many connections from the client's address (ngIRCd's MaxConnectionsIP, an ircd's per-host limit), or a ban",
		"the IRC server refuses the connection as it opens (too many connections from the client's address, or a ban: its ERROR line says which)",
		"Find what holds the connections from that address (several users behind one NAT, a bot reconnecting in a loop), raise the per-address limit (ngIRCd MaxConnectionsIP) where that load is legitimate, and make the client back off instead of reconnecting at once."},
	{flow.RefusalSOCKS,
		"the SOCKS proxy refuses the client's requests: its ruleset does not allow them (Dante's socks block rules), or the destination is unreachable from it (the reply's status says which)",
		"the SOCKS proxy refuses the request (its ruleset, or the destination unreachable: the reply's status says which)",
		"Read the reply's status: for \"not allowed by ruleset\", allow the destination in the proxy's rules or stop the client asking for it; for an unreachable destination, check the route from the proxy. Make the client back off instead of retrying at once."},
	{flow.RefusalRsync,
		"the rsync daemon refuses the client after the greetings, its @ERROR saying why: most often a module's max connections reached, or an unknown module or an access check",
		"the rsync daemon refuses the client (a module's max connections, an unknown module, an access check: its @ERROR says which)",
		"Read the @ERROR: for 'max connections', find what holds the module's connections (long transfers, --bwlimit, stuck clients: the daemon's log) and raise max connections or spread the clients; make the client back off instead of retrying at once."},
	{flow.RefusalNATS,
		"the NATS server refuses the client as it connects: over its max_connections, or for credentials it does not accept (its -ERR says which: 'maximum connections exceeded', 'Authorization Violation')",
		"the NATS server refuses the client as it connects (over max_connections, or an authorization violation: its -ERR says which)",
		"Read the -ERR: for 'maximum connections exceeded', find what holds the server's connections (its /connz monitoring endpoint) and raise max_connections or free them; for 'Authorization Violation', fix the client's credentials. Make the client back off instead of reconnecting at once (nats.go's ReconnectWait, MaxReconnects)."},
}

// refusalName names what the server of r refused its client with: the
// protocol's refusal, or one short message the client had not asked for.
func refusalName(r *flow.Record) string {
	if f := r.Refusal(); f != flow.NoRefusal {
		if a, ok := tlsAlert(r, flow.Server); ok && f == flow.RefusalTLS {
			return "a TLS alert instead of its hello, " + alertWords(a)
		}
		return f.String()
	}
	return "one short message, unasked"
}

// refusalWords is refusalName with the message's size.
func refusalWords(r *flow.Record) string {
	return fmt.Sprintf("%s (%s)", refusalName(r), plural(int(r.Server.Bytes), "byte"))
}

func acceptCloseFinding(g *group) Finding {
	f0 := g.flows[0]
	client, server := f0.Key.Client().Addr(), f0.Key.Server()
	n := len(g.flows)
	var first, last flow.Timestamp
	tw := 0
	for i, f := range g.flows {
		if i == 0 || f.First < first {
			first = f.First
		}
		last = max(last, f.First)
		if f.Server.State == flow.TimeWait {
			tw++
		}
	}
	r := float64(n) / max(last.Sub(first), time.Second).Seconds()
	metrics := []Metric{{"connections", float64(n)}, {"rate_per_s", r}, {"server_time_wait", float64(tw)}}
	// How the server closed them: at once with nothing said, or after a
	// refusal (the most common one is named).
	said, kinds, handshakes := 0, map[string]int{}, 0
	var named string
	for _, f := range g.flows {
		if f.Server.Bytes == 0 {
			continue
		}
		said++
		if f.Refusal() == flow.RefusalTLS {
			handshakes++
		}
		k := refusalName(f.Record)
		kinds[k]++
		if kinds[k] > kinds[named] {
			named = k
		}
	}
	closed := "before sending any data"
	switch {
	case said == n:
		closed = "after refusing the client with " + named
	case said > 0:
		closed = fmt.Sprintf("before sending any data or, %d of them, after refusing the client with %s", said, named)
	}
	// Why the server refuses: a connection limit, most often; a TLS
	// alert instead of its hello refuses the client's handshake.
	why, fix := "it refuses this client, typically because the client is over a per-client connection cap (ZooKeeper's maxClientCnxns), or all clients together over the server's (Redis's maxclients, a database's max_connections)", remedy(ReconnectStorm)
	short, shortFix := "a connection cap or an access check refuses this client", remedy(AcceptThenClose)
	for _, w := range refusalReasons {
		if kinds[w.refusal.String()] == n {
			// Every one refused with the same protocol's refusal: it says why.
			why, short, fix, shortFix = w.why, w.short, w.fix, w.fix
		}
	}
	if handshakes == n {
		why = "it refuses the client's TLS handshake: a protocol version, a cipher or a server name it does not accept, which the alert's description says (tshark -Y tls.alert_message), not a connection limit"
		short = "it refuses the client's TLS handshake (a protocol version, a cipher or a server name it does not accept), not a connection limit"
		fix = "Make the client's TLS settings meet the server's (versions, ciphers, the server name it sends), or the server's accept the client's; the alert's description names what failed. Make the client back off instead of retrying at once."
		if a, ok := tlsAlert(g.flows[0].Record, flow.Server); ok && named == refusalName(g.flows[0].Record) && kinds[named] == n {
			// Every one refused with the same alert: it says what.
			meaning := alertMeaning(a, flow.Server)
			why = "it refuses the client's TLS handshake, not a connection limit: " + meaning
			short = "it refuses the client's TLS handshake, not a connection limit: " + meaning
		}
		shortFix = fix
	}
	if n >= 5 && r >= 1 {
		leftOn := fmt.Sprintf("Each attempt leaves a TIME_WAIT socket on the server (%d now).", tw)
		clientTW := countState(g.flows, flow.Client, flow.TimeWait)
		switch {
		case tw > 0 && tw+clientTW < n:
			reset := 0
			for _, f := range g.flows {
				if f.Server.State != flow.TimeWait && f.Client.State != flow.TimeWait && f.Client.RSTs+f.Server.RSTs > 0 {
					reset++
				}
			}
			leftOn = fmt.Sprintf("%d of the %d attempts left a TIME_WAIT socket on the server, %d on the client; %d were reset, leaving none.", tw, n, clientTW, reset)
		case clientTW > tw:
			leftOn = fmt.Sprintf("Each attempt leaves a TIME_WAIT socket behind (%d on the client now, %d on the server).", clientTW, tw)
		case tw == 0 && clientTW == 0:
			// Reset, not closed in order (a request that crossed the
			// close, a server that closes with zero linger): no TIME_WAIT.
			resets := 0
			for _, f := range g.flows {
				if f.Server.RSTs > 0 {
					resets++
				}
			}
			leftOn = "The server reset them (RST), leaving no TIME_WAIT socket on either side."
			if resets < n {
				leftOn = fmt.Sprintf("The server reset %d of them (RST); none left a TIME_WAIT socket on either side at the end.", resets)
			}
		}
		return Finding{Class: ReconnectStorm, Severity: Error, Hosts: []netip.Addr{client}, Endpoints: []netip.AddrPort{server},
			Flows: ids(g.flows), Metrics: metrics,
			Summary: fmt.Sprintf("%s opened %s to %s in %s (%.1f per second), and the server accepted and closed every one at once, %s: %s. %s",
				client, plural(n, "connection"), server, fmtDur(last.Sub(first)), r, closed, why, leftOn),
			Remedy: fix, Evidence: evidence(g, true)}
	}
	return Finding{Class: AcceptThenClose, Severity: Warning, Hosts: []netip.Addr{client}, Endpoints: []netip.AddrPort{server},
		Flows: ids(g.flows), Metrics: metrics,
		Summary: fmt.Sprintf("%s accepted %s from %s and closed %s at once, %s: %s.",
			server, plural(n, "connection"), client, map[bool]string{true: "it", false: "them"}[n == 1], closed, short),
		Remedy: shortFix, Evidence: evidence(g, true)}
}

// countState counts the flows whose side s is in state st.
func countState(fs []*Flow, s flow.Side, st flow.State) int {
	n := 0
	for _, f := range fs {
		if f.Half(s).State == st {
			n++
		}
	}
	return n
}

// tlsAlert returns the TLS alert side s of r sent in the clear during
// the handshake, when the payload was read and it sent one.
func tlsAlert(r *flow.Record, s flow.Side) (payload.Alert, bool) {
	p := r.Payload()
	if p == nil || p.TLS == nil || !p.TLS.Alert[s].Sent {
		return payload.Alert{}, false
	}
	return p.TLS.Alert[s], true
}

// alertMeaning says what a handshake's alert from side s means, in the
// words of the settings behind it (the alert itself is named apart).
func alertMeaning(a payload.Alert, s flow.Side) string {
	name := a.Name()
	switch name {
	case "protocol_version":
		return "no TLS version the client offers is one the server accepts (nginx ssl_protocols, HAProxy ssl-min-ver, Java's jdk.tls.disabledAlgorithms)"
	case "handshake_failure":
		return "no cipher suite, key exchange group or signature algorithm both sides accept"
	case "insufficient_security":
		return "the ciphers the client offers are too weak for the server"
	case "unrecognized_name":
		return "the server name the client sent (SNI) is not one the server serves"
	case "no_application_protocol":
		return "no protocol in common by ALPN (h2, http/1.1)"
	case "inappropriate_fallback":
		return "a client retrying with a lower version than it can speak"
	case "certificate_required":
		return "the server requires a client certificate and got none"
	case "unknown_ca":
		if s == flow.Client {
			return "the client does not trust the certificate's issuer (self-signed, or a CA missing from its trust store)"
		}
		return "the server does not trust the issuer of the client's certificate"
	case "bad_certificate", "unsupported_certificate", "certificate_unknown":
		if s == flow.Client {
			return "the client rejects the server's certificate (its name, use or chain)"
		}
		return "the server rejects the client's certificate"
	case "certificate_expired":
		return "the peer's certificate has expired (or a clock is wrong)"
	case "certificate_revoked":
		return "the peer's certificate is revoked"
	case "decode_error", "illegal_parameter", "unexpected_message":
		return "the peer's handshake message was malformed or out of place (a middlebox, or an implementation bug)"
	}
	return "the alert's description names what failed"
}
