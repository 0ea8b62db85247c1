package analyze

import (
	"fmt"
	"net/netip"
	"slices"
	"time"

	"github.com/flowdoc/flowdoc/flow"
	"github.com/flowdoc/flowdoc/flow/packet"
)

// Listen overflow: the server's accept queue was full. Its marks: the
// SYN-ACK sent again after the client's ACK (the server dropped the ACK
// and sits in SYN_RECV); with SYN cookies, no SYN-ACK again at all, and
// nothing acknowledged after it while the client sends and resends its
// data (the server kept no state: it holds no socket). Unanswered SYNs to
// a server that accepted others are found by unansweredDetector.
var listenOverflowDetector = detector{
	class: ListenOverflow,
	explain: Explanation{
		Class: ListenOverflow, Title: "Listen queue overflow",
		Meaning: "The server's accept queue was full: the application does not accept() connections as fast as " +
			"they complete. The kernel then drops the client's final ACK (and sends its SYN-ACK again) or drops " +
			"new SYNs; clients see slow connects and timeouts.",
		Detection: "The server sends its SYN-ACK again after the client's ACK of it; or, with SYN cookies (the Linux " +
			"default), it sends one SYN-ACK and acknowledges nothing after it while the client sends and resends its data " +
			"(the server kept no state: no socket); or SYNs to an endpoint go unanswered, or are answered only when sent " +
			"again (a slow connect), while the same endpoint completes other handshakes at the same time; or, before the " +
			"SYN-ACK's retransmission timeout has passed, a request sent again and left unacknowledged while the server acknowledged " +
			"requests its other connections sent within 100 ms of it (the path and the server were up: no firewall's silence). " +
			"With the payload read, also a server that never came to a connection though its queue had room: the client's " +
			"opening message, which a server's protocol answers as soon as it takes a connection up (a TLS ClientHello, an AMQP " +
			"header, PostgreSQL's startup message, an SSH version line, an MQTT CONNECT, the HTTP/2 preface), acknowledged " +
			"by its kernel and never answered until the client gave up and closed: the server's CLOSE_WAIT is no leak of an application. " +
			"Likewise, where the server speaks first (its other connections' data begins with its own: a greeting), a client that " +
			"gave up and closed without a greeting, or got it only after its FIN.",
		Causes: "An application stuck or too slow to accept (all worker threads blocked, e.g. on an upstream with " +
			"no timeout), every worker busy (PHP-FPM pm.max_children, gunicorn's workers), a connection cap at which the " +
			"application stops accepting on purpose (HAProxy maxconn, Tomcat maxConnections), or a backlog too small for bursts.",
		Confirm: "nstat -az TcpExtListenOverflows TcpExtListenDrops (rising counters); ss -ltn: Recv-Q (queued) " +
			"reaching Send-Q (the backlog) for the port.",
		Fix: "Find why the application stopped accepting (thread dumps; CPU at 0 % with a full queue means it is " +
			"blocked); raise the backlog (listen() argument, net.core.somaxconn) for legitimate bursts.",
	},
	inspect: inspectListenOverflow,
	group: func(f *Flow, v *Verdict) (groupKey, bool) {
		return groupKey{endpoint: f.Key.Server(), taken: v.notTakenUp}, true
	},
	findings: func(g *group, _ *findCtx) []Finding {
		if g.vs[0].notTakenUp {
			return []Finding{notTakenUpFinding(g)}
		}
		return perServer(ListenOverflow, g, fmt.Sprintf("%s could not keep up with incoming connections: %s hit its full listen queue (SYN-ACKs sent again after the client's ACK, the client's ACK and data never acknowledged, or SYNs dropped while other connections were accepted). The application is not calling accept() fast enough: it is stuck or slow, every worker is busy (PHP-FPM's pm.max_children, gunicorn's workers, Tomcat's maxThreads), or it stopped accepting at its own connection cap (HAProxy maxconn, Tomcat maxConnections).",
			g.flows[0].Key.Server(), plural(len(g.flows), "connection")))
	},
}

func inspectListenOverflow(c *flowCtx) {
	r := c.r
	handshake := func() *flow.Event {
		return firstEvent(r, func(e *flow.Event) bool { return e.From == flow.Server && e.Flags.Has(packet.SYN|packet.ACK) })
	}
	if e := deferredAccept(r); e != nil && c.cap.servedWhile(r.Key.Server(), r.First, e.At) {
		// The SYN-ACK came again at the end of a deferred accept, not
		// for a full queue: the client sent nothing, the SYN-ACK's first
		// rounds were skipped, and the server took up and served
		// connections opened after this one meanwhile.
		return
	}
	if e := firstEvent(r, func(e *flow.Event) bool { return e.Note&flow.NoteListenOverflow != 0 }); e != nil {
		v := Verdict{Class: ListenOverflow, Side: flow.Server, Severity: Error, Confidence: 0.9, Since: e.At,
			Summary: "the server sent its SYN-ACK again after the client had acknowledged it: its accept queue was full and it dropped the ACK"}
		if hs := handshake(); hs != nil {
			v.Evidence = append(v.Evidence, ev(hs, "SYN-ACK from server"))
		}
		v.Evidence = append(v.Evidence, ev(e, "SYN-ACK sent again after the client's ACK"))
		c.add(v)
		return
	}
	if first, late, n := lateAnswer(r); late != nil {
		// The SYNs before the one answered were dropped: while the server
		// completed other handshakes, by its full listen queue.
		if c.cap.acceptedBetween(r.Key.Server(), first.At, late.At, r.First) {
			took := fmtDur(late.At.Sub(first.At))
			c.add(Verdict{Class: ListenOverflow, Side: flow.Server, Severity: Warning, Confidence: 0.7, Since: first.At,
				Summary: fmt.Sprintf("the client sent its SYN %s over %s before the server answered, while the server completed other handshakes: most likely its listen queue was full and dropped %s; the connect took %s",
					times(n), took, map[bool]string{true: "the first", false: fmt.Sprintf("the first %d", n-1)}[n == 2], took),
				Evidence: []Evidence{ev(first, "SYN from client"), ev(late, "SYN-ACK from server, to a SYN sent again")}})
			return
		}
		// Not told by the SYNs: the handshake's ACK may have been the
		// one dropped (below).
	}
	if greetingLate(r) && c.cap.greets[r.Key.Server()] {
		// A server that speaks first greeted the client only after it had
		// given up: it came to the connection too late.
		wait := r.Client.FinAt.Sub(opened(r))
		v := Verdict{Class: ListenOverflow, Side: flow.Server, Severity: Warning, Confidence: 0.7, Since: opened(r),
			Summary: fmt.Sprintf("the server, which speaks first on its other connections at once, sent nothing for %s after the handshake: the client gave up and closed, and the server's greeting came %s after that, too late: it never came to the connection in time (a full accept queue, a connection cap, every worker busy, an accept loop that is slow)",
				fmtDur(wait), fmtDur(r.Server.LastPayload.Sub(r.Client.FinAt)))}
		if e := handshakeEnd(r); e != nil {
			v.Evidence = append(v.Evidence, ev(e, "the handshake's last packet: no greeting after it"))
		}
		v.Evidence = append(v.Evidence, Evidence{Input: int(r.Client.FinInput), Packet: int(r.Client.FinPacket), At: r.Client.FinAt, What: fmt.Sprintf("FIN from client %s after the handshake: it gave up", fmtDur(wait))})
		c.add(v)
		return
	}
	if r.Server.Expired != flow.SynRecv || r.Server.State != flow.Closed || r.Unanswered(flow.Client) == 0 {
		n := requestSentAgain(r)
		var sum string
		conf := 0.7
		switch {
		case n >= 3 && c.cap.acceptedNear(r.Key.Server(), r.First, r.Client.LastPacket):
			// Its request sent again and again after the server's only
			// SYN-ACK: the server held no socket for it (a SYN cookie) until
			// its accept queue had room; a lossy path would have had the
			// handshake's ACK through, or the SYN-ACK sent again.
			sum = fmt.Sprintf("the server sent one SYN-ACK and left the client's request unacknowledged while the client sent it %s more, as it completed other handshakes: its accept queue was full, it kept no socket for this connection (a SYN cookie), and took it up only when the queue had room",
				times(n))
		case n >= 1 && r.Server.Bytes == 0 && r.Unanswered(flow.Client) > 0 && c.cap.siblingAcked(r.Key.Server(), r.Client.LastPayload):
			// Sent again before the server's SYN-ACK would be (its first
			// retransmission timeout, 1 s), and left unacknowledged while
			// the server acknowledged requests its other connections sent
			// in the same moment: no path's silence, but a socket the
			// server does not hold (its accept queue full, SYN cookies).
			conf = 0.6
			sum = fmt.Sprintf("the server acknowledged nothing after its SYN-ACK while the client sent its request and sent it %s more, though it acknowledged requests its other connections sent in the same moment: most likely its accept queue was full and it holds no socket for this one (a SYN cookie); the capture ends before its SYN-ACK would be sent again, which would tell",
				times(n))
		default:
			return
		}
		v := Verdict{Class: ListenOverflow, Side: flow.Server, Severity: Warning, Confidence: conf, Since: r.Client.LastPayload, Summary: sum}
		if e := firstEvent(r, func(e *flow.Event) bool {
			return e.From == flow.Client && e.Len > 0 && e.Note&flow.NoteRetransmit != 0
		}); e != nil {
			v.Evidence = append(v.Evidence, ev(e, "request sent again by the client, unacknowledged"))
		}
		c.add(v)
		return
	}
	C := &r.Client
	v := Verdict{Class: ListenOverflow, Side: flow.Server, Severity: Error, Confidence: 0.8, Since: C.LastPayload,
		Summary: fmt.Sprintf("the server sent one SYN-ACK and acknowledged nothing after it, while the client sent its data and sent it again (%d retransmissions over %s): the server dropped the handshake's ACK because its accept queue was full, and with SYN cookies kept no state — it holds no socket for this connection",
			C.Retrans, fmtDur(C.LastPacket.Sub(C.LastPayload)))}
	if hs := handshake(); hs != nil {
		v.Evidence = append(v.Evidence, ev(hs, "SYN-ACK from server, the last packet it sent"))
	}
	v.Evidence = append(v.Evidence, Evidence{Input: int(C.LastPayloadInput), Packet: int(C.LastPayloadPacket), At: C.LastPayload,
		What: "data from client, never acknowledged"})
	c.add(v)
}

// requestSentAgain returns how many times more the client sent its
// request, of one segment, on a connection whose server sent one SYN-ACK:
// its retransmissions but for its SYN's.
func requestSentAgain(r *flow.Record) int {
	C := &r.Client
	if r.Midstream || r.Server.SYNs() != 1 || C.SYNs() == 0 || !has(r, flow.Server, 'H') || C.Bytes == 0 || C.Bytes > uint64(max(C.MSS, 536)) {
		return 0
	}
	return int(C.Retrans) - max(0, C.SYNs()-1)
}

// lateAnswer returns, when the server answered a SYN the client had sent
// more than once (its first SYNs dropped) and the client went on, the
// client's first SYN, the server's first SYN-ACK and how many SYNs came
// before it; nil events otherwise.
func lateAnswer(r *flow.Record) (first, answer *flow.Event, syns int) {
	if r.Midstream || !has(r, flow.Client, 'S') || !has(r, flow.Server, 'H') {
		return nil, nil, 0
	}
	for i := range r.Events {
		e := &r.Events[i]
		switch {
		case e.From == flow.Client && e.Flags&(packet.SYN|packet.ACK) == packet.SYN:
			if syns == 0 {
				first = e
			}
			syns++
		case e.From == flow.Server && e.Flags.Has(packet.SYN|packet.ACK):
			if syns < 2 || !has(r, flow.Client, 'A') && !has(r, flow.Client, 'D') {
				return nil, nil, 0
			}
			// SYNs counted and not kept as events came before the last
			// one kept.
			kept := syns
			for j := i + 1; j < len(r.Events); j++ {
				if x := &r.Events[j]; x.From == flow.Client && x.Flags&(packet.SYN|packet.ACK) == packet.SYN {
					kept++
				}
			}
			return first, e, syns + max(0, r.Client.SYNs()-kept)
		}
	}
	return nil, nil, 0
}

// notTakenUpFinding reports connections a server never came to
// (notTakenUp): their clients gave up on their opening messages.
func notTakenUpFinding(g *group) Finding {
	server := g.flows[0].Key.Server()
	var waits []time.Duration
	for _, f := range g.flows {
		waits = append(waits, f.Client.FinAt.Sub(f.Client.LastPayload))
	}
	lo, hi := slices.Min(waits), slices.Max(waits)
	after := fmtDur(lo)
	if hi-lo >= max(lo/10, time.Millisecond) {
		after = fmtDur(lo) + " to " + fmtDur(hi)
	}
	return Finding{Class: ListenOverflow, Severity: Warning, Endpoints: []netip.AddrPort{server}, Flows: ids(g.flows),
		Metrics: []Metric{{"connections", float64(len(g.flows))}, {"wait_min_s", lo.Seconds()}, {"wait_max_s", hi.Seconds()}},
		Summary: fmt.Sprintf("%s never came to %s from %s: their clients' opening messages (a TLS ClientHello, a protocol's handshake), which a server answers as soon as it takes a connection up, were acknowledged by its kernel and never answered, and the clients gave up after %s and closed. "+
			"The server stopped accepting at a connection cap (RabbitMQ's connection_max, HAProxy's maxconn, Tomcat's maxConnections), or every worker is busy; the sockets wait in CLOSE_WAIT in its kernel, held by no application yet.",
			server, plural(len(g.flows), "connection"), hostsOf(g.flows, flow.Client), after),
		Remedy:   "Find what holds the server at its cap (ss -ltn: the listening socket's Recv-Q counts the connections not yet accepted; ss -tanp shows who holds the accepted ones), then raise the cap or free its connections; clients should back off rather than connect again and again.",
		Evidence: evidence(g, true)}
}
