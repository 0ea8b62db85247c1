package analyze

import (
	"bufio"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/flowdoc/flowdoc/flow"
)

// The lab of real software (testdata/lab/real.sh): captures of nginx,
// HAProxy, Tomcat, ZooKeeper, Redis, memcached, curl, python, the JDK and
// Go net/http between network namespaces, each cut at several moments
// (testdata/real/NAME@CUT.pcap) with `ss -tan` on every host at that
// moment (NAME@CUT.truth, the format of testdata/*.truth).
//
// NAME.expect says what a network engineer expects flowdoc to say at every
// cut of the scenario. One statement a line; # starts a comment. A line may
// begin with @CUT[,CUT...] to hold at those cuts only.
//
//	expect SELECTOR... : TERM...   every flow the selector picks has each TERM
//	healthy SELECTOR...            those flows raise no error or warning:
//	                               no such verdict, and no such finding that
//	                               counts them without a verdict of its class
//	unknown_ok SELECTOR... : SIDE  UNKNOWN is right for that endpoint too
//	infinding SELECTOR... : CLASS  every flow picked is in a finding of CLASS
//	                               (the findings count what the state table does)
//	unseen_ok                      sockets in ss that the capture never saw
//	                               are no error (it began after they went quiet)
//	finding CLASS                  some finding has this class
//	nofinding CLASS                no finding has this class
//	noproblem CLASS                no finding of this class is more than
//	                               Info (those that account for sockets the
//	                               capture cannot judge are allowed)
//	says CLASS : TEXT...           some finding of this class says TEXT (its
//	                               words, spaces as written, in its summary):
//	                               the figures a check of classes cannot see,
//	                               such as the timeout it names
//
// A TERM is class(side) — the flow has that verdict — or alternatives
// a(side)|b(side), or !class(side): the flow must not have it. A SELECTOR
// is all of its words: all, sport=PORT (server port), cport=P1,P2 (client
// ports; cport!= all but these), client.ss=STATE and server.ss=STATE (the
// endpoint's state in the cut's ss, CLOSED when ss shows no socket; ss
// spelling: ESTAB, CLOSE-WAIT), n>=N (the line fails when fewer flows
// match).
//
// The test measures, per capture: endpoint states against ss, the
// expected verdicts found, findings, and the quiet of healthy flows. The
// bars of the diagnosis: states ≥ 99 %, verdicts ≥ 97 %, no error or
// warning on a healthy flow.

// knownWrong lists what today's diagnosis gets wrong on the real-software
// lab: "NAME@CUT check" (check: states, verdicts, findings, healthy) with
// what goes wrong. The test fails on a check that fails and is not here,
// and on one that is here and passes: remove it then. The entries hold for
// the captures committed: a new recording (make lab) moves ports and the
// moments of the cuts, and the map is brought up to date with it.
var knownWrong = map[string]string{
	// A capture that lost 402 of 10137 packets (tcpdump -B 64).
	"lossy-capture@early states": lossyStates,
	"lossy-capture@mid states":   lossyStates,
	"lossy-capture@late states":  lossyStates,
	// sshd's MaxStartups drops, LoginGraceTime closes and ClientAlive give-ups.
	"sshd-limits@late states": "sshd gave up on 53334 (ClientAlive) with its FIN queued behind its unacknowledged probe (#230, retransmitted to the end): ss FIN-WAIT-1, Send-Q 121; no capture can show that FIN, flowdoc says ESTABLISHED",
	// HAProxy at its connection limits, captured on the proxy.
	"haproxy-maxconn@mid states": "33650, 33666, 33682, 33696 (8080): handshake ACKs and requests dropped at 2.08 s (accept queue full); the server's SYN-ACK sent again at 3.106 s was answered by the client's ACK, which the queue took (ss: ESTAB, Recv-Q 0, LISTEN 6/4): flowdoc keeps the server SYN_RECV 0.23 s later, which the capture cannot tell until the server acknowledges the request (3.79 s) or sends its SYN-ACK again",
	// Apache's mod_proxy pools in front of Tomcat's 3 s idle timeout (AJP and HTTP).
	"apache-ajp-tomcat@mid verdicts": ajpRaceMid,
	"apache-ajp-tomcat@mid findings": "no stale_reuse_reset finding for the AJP races 48544 and 47326 (503 to their callers)",
	// OpenLDAP slapd's idletimeout 3 (whole-second clock, closes in batches), ldap3 pools, raw sockets.
	"slapd-idle@mid verdicts": slapdPoolLeakMid,
	"slapd-idle@mid findings": "an error close_wait_leak finding (\"its application never closed the socket\") for 4 CLOSE_WAITs 40 ms to 1.0 s old, 3 of them ldap3 connections reused 0.6-1.2 s later (RST), and an idle_timeout_close finding saying they were \"then leaked by its peer in CLOSE_WAIT\"",
	// The key incidents over IPv6 only (nginx leaks and stale reuse, Redis maxclients, a listen overflow).
	"ipv6-incidents@early states": "58028, 58030, 58034, 58040, 58054, 58056 to 9000 (backlog 1, never accepting, SYN cookies): server SYN_RECV, ss CLOSED (no socket: cookies); the cut comes 0.82 s after their SYN-ACKs (#101-#111), before the SYN-ACK's 1 s retransmission timeout could tell a SYN_RECV request from a cookie, so flowdoc keeps the state as last answered: the capture cannot tell it yet",
	"ipv6-incidents@mid verdicts": ipv6YoungCloseWait,
	"ipv6-incidents@mid findings": "the close_wait_leak finding says \"holds 5 connections\" (3 leaks, 2.2-2.7 s, and the 2 young CLOSE_WAITs: " + ipv6YoungCloseWait + "), and idle_timeout_close says \"Every one of these connections was then leaked by its peer in CLOSE_WAIT\" (3 of the 5)",
	"ipv6-incidents@mid healthy":  "48484, the requests Session's pooled connection, 63 ms in CLOSE_WAIT after nginx's idle FIN (#200): error close_wait_leak(client) and warning idle_timeout_close(server); the Session closes it (FIN #205) at its next request 1.0 s later and reconnects: healthy",
	// ngIRCd's PING timeout, registration timeout, MaxConnectionsIP refusals and QUIT.
	"ngircd-irc@timeout states": ngircdQueuedClose,
	"ngircd-irc@late states":    ngircdQueuedClose,
	// uWSGI behind nginx (listen queue, harakiri) and its own HTTP (router, http-socket, http11-socket).
	"uwsgi-nginx@early states": uwsgiDeferred,
	"uwsgi-nginx@mid states":   "52632 to 8003 (a socket that never sends): the http11-socket's kernel sent its SYN-ACK again at the end of the 3 s deferral (#242, 4.233 s, 3.03 s after the ACK #126) and the client's ACK (#243) completed the handshake: uWSGI's worker accepted it (ss ESTAB on both sides, LISTEN 0 100) and closed it 3.03 s later (FIN #321 in the late cut); flowdoc keeps the server SYN_RECV (the tracker reads a SYN-ACK sent again after the ACK as the ACK dropped; the verdicts, which see the deferral, say no listen overflow); 36068 (8002) and 38700 (8001): " + uwsgiDeferred,
	// nats-server's PING/PONG keep-alive ("Stale Connection"), authorization timeout and max_connections, nats.go clients.
	"nats-server@mid states":    natsGoneStates,
	"nats-server@late states":   natsGoneStates,
	"nats-server@mid findings":  natsStaleIdle,
	"nats-server@late findings": natsStaleIdle,
	// tinyproxy 1.11 as a forward proxy (Timeout 3, MaxClients 3 on 8889): CONNECT tunnels, plain HTTP, origins that do not answer.
	"tinyproxy@mid verdicts":     "43936 (8889, \"gaveup\"), queued behind MaxClients: its GET #574 acknowledged by the kernel at 13.77 s, curl's FIN #590 1.5 s later, the cut 0.58 s after that; ss shows the proxy's socket CLOSE-WAIT with Recv-Q 132 (the 131-byte request and the FIN unread: never accepted) and LISTEN 8889 Recv-Q 6 (six connections queued), yet flowdoc says close_wait_leak(server) (error) and its finding calls 10.99.1.2 \"a proxy that does not close its side when its caller closes\"; tinyproxy had stopped accepting at MaxClients (log \"Maximum number of connections reached\"), all six requests to 8889 since 13.77 s unanswered alike, and accepts it at 16.26 s, answering at once (#815; the client's RST #816): a server not taking connections, no application holding a closed one. The rule judges the CLOSE_WAIT by the host's quick closes elsewhere and does not see that the connection was never taken up (the listen_overflow reading of an opening message never answered covers protocols the server answers first, not an HTTP request)",
	"tinyproxy@timeout states":   "41866 to 8082 (SYNs dropped by nftables on the server): SYNs #501, #586, #592, #848 at 13.45, 14.45, 15.48, 16.50 s; tinyproxy's connect() gave up at its Timeout (SO_SNDTIMEO, log \"opensock: Could not establish a connection to 10.99.2.2:8082\"; its 500 to the caller #849 at 16.70 s) and released the socket with no packet: ss CLOSED, flowdoc SYN_SENT at the cut (17.03 s), 0.53 s after the last SYN, before the next was due (1 s apart: the kernel's linear SYN timeouts); the capture cannot tell (at the late cut flowdoc says SYN_SENT ended)",
	"tinyproxy@timeout findings": tinyproxyRelayedClose,
	"tinyproxy@late findings":    tinyproxyStale + "; " + tinyproxyRelayedClose + "; 37178 (\"half\": its 400 after 6.24 s now read as the server's request read timeout) shares its finding with 28's unanswered request, which says \"1 with a request's headers left unfinished\", not \"the request's headers never ended\" (" + tinyproxyHalf + ")",
	// Exim 4.96's daemons: smtp_accept_max, smtp_accept_max_per_host, smtp_receive_timeout, a slow main loop behind smtp_connect_backlog 2, early talkers.
	"exim-smtp@late verdicts": eximEarlyTalker,
	// Jetty 9.4's idle timeout (3000 ms, a bare FIN, then it reads and drops what comes), JDK and python clients, a burst on two threads.
	"jetty-idle@early verdicts": "54506 (http.client, reused 7.5 s after its response) in CLOSE_WAIT 0.79 s at the cut (Jetty's idle FIN #71 at 5.001 s into the capture, the delayed ACK #78) is close_wait_leak(client) (error) " + jettyYoungCloseWait + ": it sends its next GET 4.29 s after Jetty's FIN (#117; RST #118), a pool that notices at its next use, open(client), no leak",
	"jetty-idle@early healthy":  "54520, a requests Session's pooled connection, in CLOSE_WAIT 0.77 s at the cut (Jetty's idle FIN #73 at 5.023 s): error close_wait_leak(client) and warning idle_timeout_close(server) " + jettyYoungCloseWait + "; the Session checks it at its next request, closes it (FIN #85, 1.37 s after Jetty's) and connects anew: healthy",
	// An rsync daemon's max connections, its module timeout on stalled transfers, a stopped daemon.
	"rsyncd@mid states":    rsyncQueuedFin,
	"rsyncd@late findings": rsyncPullGaveUp,
	// Dante 1.4.2's danted (timeout.negotiate 3, timeout.io 4, a socks block rule), raw SOCKS5 sockets and curl --socks5.
	"dante-socks@mid findings":  danteNegotiate,
	"dante-socks@late findings": danteNegotiate,
}

// tinyproxy 1.11 (Timeout 3) as a forward proxy, captured on the proxy.
const (
	tinyproxyRelayedClose = "the idle_timeout_close finding for 10.99.2.2:8443 says the proxy \"closed 7 idle connections ... 6 of them after 3.0 s without traffic and 1 after another idle time (1.0 s) ... It closed none sooner than 1.0 s: its timeout is at most that\" (the says check wants \"closed 6 idle connections ... after 3.0 s\"): the 1.0 s one (47848) is no timeout: its caller 37186 (\"tunclose\") closed the tunnel (FIN #579 at 14.325 s, 1.0 s after the last data), and tinyproxy passed the close on, its FIN to the caller #580 1.2 ms later and to nginx #583 5.3 ms after the caller's; tinyproxy's timeout is 3 s (the other six legs, closed 3.0 s after their last data). The relay rule sees the proxy's two FINs together but not that the caller's FIN came first"
	tinyproxyHalf         = "37178 (8888, \"half\"): a request line and one header with no blank line (#24, 61 B, at 13.21 s), then nothing; tinyproxy gave up on the headers after its Timeout (log \"Could not retrieve all the headers from the client\"), waited Timeout again for a body (\"no entity\"), and answered \"HTTP/1.0 400 Bad Request\" (#979, #981) and FIN (#983) 6.24 s after the request: a server's request read timeout closing with an error first, idle_timeout_close(server) as HAProxy's 408 is, but flowdoc says only time_wait(server) clean(server) (the 400 read as the answer to the request: only a 408 is taken for a timeout's goodbye), so no idle_timeout_close finding says \"the request's headers never ended\""
	tinyproxyStale        = "the stale_reuse_reset finding says the client's requests went \"on 2 connections that 10.99.1.2:8888 had closed after 3.0 s idle (its idle timeout)\", remedy \"Make the client pool's idle timeout shorter than 3.0 s\": only 37188 (a CONNECT tunnel: FIN #824 3.0 s after its last data, TLS data #923, RST #924) was closed idle; 37214 (plain HTTP) was closed by tinyproxy 5 µs after the last byte of its 200 (#337, FIN #339; HTTP/1.1 with no Connection: close: tinyproxy keeps no client connection alive) and its GET came 5.0 s later (#869, RST #870): no idle timeout, and no pool idle timeout prevents it (the fix: no keep-alive to tinyproxy, or a Connection: close from it); the check wants \"on 1 connection that 10.99.1.2:8888 had already closed\""
)

// Exim 4.96 (three daemons of their own; "c" on 2526: smtp_connect_backlog
// 2, its main loop blocked 1.2 s per accept by a slow
// smtp_accept_max_per_host expansion) and a burst of 8 smtplib sessions
// (timeout 4 s); a data timeout; an early talker refused by "b" (2525).
const (
	eximEarlyTalker = "59524 (2525), an early talker: its EHLO (#350) 0.13 ms after the handshake, inside Exim's greet pause (a connect ACL's delay = 1s); with PIPECONNECT advertised to no host, Exim answers \"554 SMTP synchronization error\" (#364, 32 bytes) where its greeting belongs, 1.003 s after the accept, and closes (FIN #368, 0.65 ms later; the client's #369); rejectlog \"SMTP protocol synchronization error (input sent without waiting for greeting): rejected connection\": a refusal at the greeting, accept_then_close(server), but flowdoc says time_wait(server) clean(server): 554 is a refusal line to it, and the close came 1.0034 s after the handshake, just past acceptCloseWithin (1 s), the greet pause counted in"
)

// Jetty 9.4.57 (idleTimeout 3000, maxThreads 4) and the JDK's and python's
// clients.
const (
	jettyYoungCloseWait = "on the strength of the host's other closes (the raw sockets 54490 and 54538, blocked in a read, closing 0.22 and 0.23 ms after Jetty's FINs #67 and #75; other programs of that host)"
)

// rsync 3.2.7's daemon (max connections 2 on a module, timeout 4) and
// rsync clients; a second daemon stopped (SIGSTOP).
const (
	danteNegotiate  = "danted's negotiate timeout (timeout.negotiate 3; log \"negotiate timeout after 4 seconds\" x3) closed 48260 and 48326, which never sent a byte, and 48296, which sent only its method greeting (#42, 3 B at 0.0987 s, answered 0x05 0x00, #44), with bare FINs #153, #156, #157 at 4.424-4.427 s (within 2.1 ms: danted's one-second tick), 4.3-4.4 s after their accepts: no SOCKS request ever came, a timeout for the negotiation (a handshake timeout), yet the idle_timeout_close finding calls them \"idle connections ... its idle or keep-alive timeout\"; with one such connection alone (an earlier recording) it said \"after the handshake, the clients having sent nothing on them: its timeout for a first request or message\". The method exchange of 48296 counts as traffic (flowdoc does not read SOCKS), so the group is no longer all silent and the first-request reading is dropped for all three"
	rsyncQueuedFin  = "35244, a pull stopped (SIGSTOP) whose zero window lasts since #1167 (00:17:58.330): the daemon's sender gave up on it (log \"[sender] io timeout after 4 seconds -- exiting\", some 00:18:02.6) and exited, its FIN queued behind the 1,479,281 bytes its socket still held (ss: FIN-WAIT-1, Send-Q 1479281), its kernel probing the window as before (#1197, #1246, #1351, #1425, the next due after the cut); no capture can show that FIN, flowdoc says ESTABLISHED"
	rsyncPullGaveUp = "the zero_window_stall finding for 35244 says \"it advertised a zero receive window, then read again\" and not that the sender gave up on the stalled reader: the daemon had closed the connection during the stall (its io timeout; its FIN queued, never sent) and its kernel reset the reader's first write after SIGCONT (#1698, 4 bytes; RST #1699 32 µs later) 4 ms after the reader had opened its window again (#1587) and taken 0.3 MB of what the orphaned socket still held: inspectZeroWindow reads a sender's RST as giving up only while the window is still zero (ZeroWindowAtEnd)"
)

// nats-server 2.9 (ping_interval 1s, ping_max 2, authorization timeout 2,
// max_connections 3) and nats.go 1.22.
const (
	natsGoneStates = "39966, its path cut by nftables at 1.54 s: nats-server declared it stale on its clock (log \"Stale Client Connection - Closing\") and closed it, its -ERR 'Stale Connection' and FIN queued behind its unacknowledged PING (#207, sent again #234, #245, #276, #337, #412, #507): ss FIN-WAIT-1, Send-Q 38 (two PINGs, the -ERR, the FIN); no capture can show that FIN, flowdoc says ESTABLISHED"
	natsStaleIdle  = "the idle_timeout_close finding for 4222 says \"closed 4 idle connections after 1.0 s without traffic\" (the says check wants the 3.0 s the keep-alive waited): the 1.0 s runs from the server's own last PING, unanswered (39958: PING #281, \"-ERR 'Stale Connection'\" #353; 39950: #302, #366; the raw sockets 39980 and 39982: #171 and #169, \"-ERR 'Authentication Timeout'\" #259 and #256); the stopped clients had been silent 3.0 s (their last PONG #134, #156) and nats-server gives up at its third tick with 2 PINGs unanswered (ping_interval 1 s, ping_max 2: 3 s), the connections carrying its PING every second all along; the raw sockets never sent a byte and were closed 2.0 s after the accept (the authorization timeout): two timeouts, neither of 1.0 s of idle. The rule measures the quiet from the last payload either way, the closer's own keep-alive probe included"
)

const (
	lossyStates = "the states follow the packets captured (their verdicts say the capture lost packets of these closes): 52 flows (e.g. 42950: #1255 server FIN, nothing after) lost the client's FIN+ACK and the server's last ACK (the reference capture has them 2 ms later): flowdoc says client CLOSE_WAIT/server FIN_WAIT_1, ss CLOSED/TIME-WAIT, though that FIN is never acknowledged in the capture nor retransmitted up to the cut, 0.3-11 s later (Linux's RTO: 200 ms); 25 flows (e.g. 47338: #6071 client FIN ack=147, #6072 server ACK seq=147) lost the server's 145-byte response and FIN: the client acknowledged 146 sequence numbers the capture never saw, yet flowdoc says server CLOSE_WAIT, ss TIME-WAIT; 47 more lost everything after the request (both ESTABLISHED, ss CLOSED/TIME-WAIT)"
	ajpRaceMid  = "48544 (8012) and 47326 (8011), AJP requests sent on the pooled connection 3.004 s after Tomcat's last answer, Tomcat's FIN 0.47 ms later acknowledging the request (#444, #445), no answer and no RST (Java shuts output down first, Apache's FIN made it TIME_WAIT), Apache's 503 to its caller (#448): time_wait(server) clean(server), no stale_reuse_reset(client) (the race check wants an RST)"

	slapdPoolLeakMid = "36359, 37821, 42851: ldap3 connections slapd closed idle (FIN #154 at 3.329 s; #181, #182 at 4.332 s, delayed ACKs 40 ms later), in CLOSE_WAIT 1.0 s and 40 ms at the cut, are close_wait_leak(client) (error) on the strength of one other close of the host (44566, a raw socket that closed 0.17 ms after its FIN) and \"one more of the same\": each sends its next search 4.929, 5.229, 5.529 s in and is reset (#209, #211, #223), a pool that notices at its next use; 44558, never closing, is too young (39 ms) for any verdict but open"
)

// ngIRCd (MaxConnectionsIP 2, PingTimeout and PongTimeout 5) and ii, sic.
const (
	ngircdQueuedClose = "57528, whose path nftables cut on the client's host at 1.05 s: ngIRCd gave up on it (log \"Ping timeout: 5 seconds\") on the pass that closed 57514 (#220-#222 at 12.604 s), its NOTICE, ERROR and FIN queued behind its unacknowledged PING (#198 at 6.592 s, sent again to #247 at 19.900 s): ss FIN-WAIT-1, Send-Q 139; no capture can show that FIN, flowdoc says ESTABLISHED"
)

// The key incidents over IPv6 only.
const (
	ipv6YoungCloseWait = "48478 (http.client) and 48484 (a requests Session), nginx's idle FINs #199, #200 63 ms before the cut (the client's delayed ACKs #201, #202 40 ms after them): close_wait_leak(client) \"one more of the same\" on the strength of 3 leaked connections of the host 2.2-2.7 s in CLOSE_WAIT; 48478 sends its next GET 1.0 s after the FIN (#203, RST #204), 48484 is closed by the Session at its next request (FIN #205) and replaced (48492): young CLOSE_WAITs of clients that notice at their next use, open(client)"
)

// uWSGI behind nginx and its own HTTP.
const (
	uwsgiDeferred = "52632 (8003), 36068 (8002), 38700 (8001), sockets that never send (handshakes #124-#126, #118-#120, #121-#123 at 1.18-1.20 s): server ESTABLISHED, ss SYN-RECV: uWSGI's TCP_DEFER_ACCEPT (--socket-timeout: 3 s on 8003, 4 s by default on 8001 and 8002) keeps the request socket, ignoring the bare ACK, until data comes or the deferral ends, and no packet can show it before the SYN-ACK is sent again (#242 at 4.23 s, #326 and #327 at 8.49 s)"
)

type realTruth struct {
	at      time.Time
	hostOf  map[netip.Addr]string
	sockets map[string]map[[2]netip.AddrPort]string // host -> (local, peer) -> ss state
}

func readRealTruth(t *testing.T, path string) *realTruth {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	tr := &realTruth{hostOf: map[netip.Addr]string{}, sockets: map[string]map[[2]netip.AddrPort]string{}}
	host := ""
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		fields := strings.Fields(sc.Text())
		if len(fields) == 0 || strings.HasPrefix(fields[0], "#") {
			continue
		}
		switch fields[0] {
		case "scenario":
		case "at":
			if tr.at, err = time.Parse(time.RFC3339Nano, fields[1]); err != nil {
				t.Fatalf("%s:%d: %v", path, n, err)
			}
		case "host":
			host = fields[1]
			tr.sockets[host] = map[[2]netip.AddrPort]string{}
			for _, a := range fields[2:] {
				tr.hostOf[netip.MustParseAddr(a)] = host
			}
		case "LISTEN":
		default:
			if _, ok := ssState[fields[0]]; !ok || len(fields) < 5 || host == "" {
				t.Fatalf("%s:%d: unexpected line %q", path, n, sc.Text())
			}
			local, err1 := netip.ParseAddrPort(fields[3])
			peer, err2 := netip.ParseAddrPort(fields[4])
			if err1 != nil || err2 != nil {
				t.Fatalf("%s:%d: %v %v", path, n, err1, err2)
			}
			tr.sockets[host][[2]netip.AddrPort{local, peer}] = fields[0]
		}
	}
	if tr.at.IsZero() {
		t.Fatalf("%s: no at line", path)
	}
	return tr
}

// ssState maps ss's state names to flowdoc's.
var ssState = map[string]flow.State{
	"ESTAB": flow.Established, "SYN-SENT": flow.SynSent, "SYN-RECV": flow.SynRecv,
	"FIN-WAIT-1": flow.FinWait1, "FIN-WAIT-2": flow.FinWait2, "CLOSE-WAIT": flow.CloseWait,
	"CLOSING": flow.Closing, "LAST-ACK": flow.LastAck, "TIME-WAIT": flow.TimeWait, "CLOSED": flow.Closed,
}

// ss is the state ss showed for a flow's endpoint: "" when its host has
// no truth, CLOSED when ss listed no such socket.
func (tr *realTruth) ss(r *flow.Record, s flow.Side) string {
	local, peer := r.Endpoint(s), r.Endpoint(s.Other())
	host, ok := tr.hostOf[local.Addr()]
	if !ok {
		return ""
	}
	if st, ok := tr.sockets[host][[2]netip.AddrPort{local, peer}]; ok {
		return st
	}
	return "CLOSED"
}

type realLine struct {
	n     int
	cuts  []string // nil: every cut
	kind  string
	sel   []string
	terms []string
}

func readExpect(t *testing.T, path string) []realLine {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var lines []realLine
	for i, text := range strings.Split(string(data), "\n") {
		if j := strings.Index(text, "#"); j >= 0 {
			text = text[:j]
		}
		fields := strings.Fields(text)
		if len(fields) == 0 {
			continue
		}
		l := realLine{n: i + 1}
		if c, ok := strings.CutPrefix(fields[0], "@"); ok {
			l.cuts = strings.Split(c, ",")
			fields = fields[1:]
		}
		if len(fields) == 0 {
			t.Fatalf("%s:%d: no statement", path, l.n)
		}
		l.kind, fields = fields[0], fields[1:]
		colon := slices.Index(fields, ":")
		switch l.kind {
		case "expect", "unknown_ok", "infinding":
			if colon < 0 || colon == len(fields)-1 {
				t.Fatalf("%s:%d: %s needs SELECTOR : TERM...", path, l.n, l.kind)
			}
			l.sel, l.terms = fields[:colon], fields[colon+1:]
		case "healthy":
			l.sel = fields
		case "unseen_ok":
			if len(fields) != 0 {
				t.Fatalf("%s:%d: unseen_ok takes nothing", path, l.n)
			}
		case "finding", "nofinding", "noproblem":
			if len(fields) != 1 {
				t.Fatalf("%s:%d: %s needs one class", path, l.n, l.kind)
			}
			l.terms = fields
		case "says":
			if colon != 1 || len(fields) < 3 {
				t.Fatalf("%s:%d: says needs CLASS : TEXT", path, l.n)
			}
			l.terms = []string{fields[0], strings.Join(fields[2:], " ")}
		default:
			t.Fatalf("%s:%d: unknown statement %q", path, l.n, l.kind)
		}
		lines = append(lines, l)
	}
	return lines
}

// matches reports whether a flow is one a selector picks, and the least
// number of flows the selector asks for.
func matches(t *testing.T, sel []string, f *Flow, tr *realTruth) (bool, int) {
	ok, min := true, 0
	for _, w := range sel {
		k, v, _ := strings.Cut(w, "=")
		switch k {
		case "sport":
			ok = ok && strconv.Itoa(int(f.Endpoint(flow.Server).Port())) == v
		case "cport":
			ok = ok && slices.Contains(strings.Split(v, ","), strconv.Itoa(int(f.Endpoint(flow.Client).Port())))
		case "cport!":
			ok = ok && !slices.Contains(strings.Split(v, ","), strconv.Itoa(int(f.Endpoint(flow.Client).Port())))
		case "client.ss":
			ok = ok && tr.ss(f.Record, flow.Client) == v
		case "server.ss":
			ok = ok && tr.ss(f.Record, flow.Server) == v
		case "all":
		case "n>":
			n, err := strconv.Atoi(strings.TrimPrefix(v, "="))
			if err != nil {
				t.Fatalf("selector word %q", w)
			}
			min = n
		default:
			t.Fatalf("unknown selector word %q", w)
		}
	}
	return ok, min
}

// realScore is what one capture, or the whole lab, measured.
type realScore struct {
	states, statesRight, unknown int
	verdicts, verdictsRight      int
	findings, findingsRight      int
	healthy, healthyQuiet        int
	wrong                        map[string][]string // check -> what was wrong
}

func (s *realScore) add(o realScore) {
	s.states += o.states
	s.statesRight += o.statesRight
	s.unknown += o.unknown
	s.verdicts += o.verdicts
	s.verdictsRight += o.verdictsRight
	s.findings += o.findings
	s.findingsRight += o.findingsRight
	s.healthy += o.healthy
	s.healthyQuiet += o.healthyQuiet
}

func pct(a, b int) string {
	if b == 0 {
		return "-"
	}
	return fmt.Sprintf("%d/%d %.0f%%", a, b, 100*float64(a)/float64(b))
}

// scoreReal measures one cut of a scenario against its truth and
// expectations.
func scoreReal(t *testing.T, cut string, rep *Report, tr *realTruth, lines []realLine) realScore {
	sc := realScore{wrong: map[string][]string{}}
	wrong := func(check, format string, args ...any) {
		sc.wrong[check] = append(sc.wrong[check], fmt.Sprintf(format, args...))
	}
	here := func(l realLine) bool { return l.cuts == nil || slices.Contains(l.cuts, cut) }
	verdicts := func(f *Flow) []string {
		var vs []string
		for _, v := range f.Verdicts {
			vs = append(vs, fmt.Sprintf("%s(%s)", v.Class, v.Side))
		}
		return vs
	}
	// States against ss.
	seen := map[string]map[[2]netip.AddrPort]bool{}
	for i := range rep.Flows {
		f := &rep.Flows[i]
		for _, s := range []flow.Side{flow.Client, flow.Server} {
			want := tr.ss(f.Record, s)
			if want == "" {
				continue
			}
			host := tr.hostOf[f.Endpoint(s).Addr()]
			if seen[host] == nil {
				seen[host] = map[[2]netip.AddrPort]bool{}
			}
			seen[host][[2]netip.AddrPort{f.Endpoint(s), f.Endpoint(s.Other())}] = true
			sc.states++
			got := f.Half(s).State
			if got == ssState[want] {
				sc.statesRight++
				continue
			}
			if got == flow.Unknown {
				unknownOK := false
				for _, l := range lines {
					if ok, _ := matches(t, l.sel, f, tr); l.kind == "unknown_ok" && here(l) && ok && slices.Contains(l.terms, s.String()) {
						unknownOK = true
					}
				}
				if unknownOK {
					sc.statesRight++
					sc.unknown++
					continue
				}
			}
			wrong("states", "flow %d %s: %s is %s, ss says %s", f.ID, f.Key, s, got, want)
		}
	}
	unseenOK := slices.ContainsFunc(lines, func(l realLine) bool { return l.kind == "unseen_ok" && here(l) })
	for host, socks := range tr.sockets {
		for sock, st := range socks {
			if _, ours := tr.hostOf[sock[1].Addr()]; ours && !seen[host][sock] && !unseenOK {
				sc.states++
				wrong("states", "ss on %s shows %s %s > %s, not in the capture", host, st, sock[0], sock[1])
			}
		}
	}
	// Verdicts, healthy flows and findings.
	loud := map[int][]*Finding{} // flow ID -> the findings of warning or worse that name it
	for i := range rep.Findings {
		if fd := &rep.Findings[i]; fd.Severity > Info {
			for _, id := range fd.Flows {
				loud[id] = append(loud[id], fd)
			}
		}
	}
	for _, l := range lines {
		if !here(l) {
			continue
		}
		switch l.kind {
		case "expect", "healthy":
			n, min := 0, 0
			for _, w := range l.sel {
				if v, ok := strings.CutPrefix(w, "n>="); ok {
					min, _ = strconv.Atoi(v)
				}
			}
			for i := range rep.Flows {
				f := &rep.Flows[i]
				if ok, _ := matches(t, l.sel, f, tr); !ok {
					continue
				}
				n++
				vs := verdicts(f)
				if l.kind == "healthy" {
					sc.healthy++
					quiet := true
					for _, v := range f.Verdicts {
						if v.Severity > Info {
							quiet = false
							wrong("healthy", "flow %d %s (line %d): %s %s(%s)", f.ID, f.Key, l.n, v.Severity, v.Class, v.Side)
						}
					}
					// A finding about many flows (a reconnect storm, TIME_WAIT
					// pressure) that counts this one; one that groups verdicts
					// (a server's idle timeout) takes its severity from the
					// other flows, and the flow's own verdict was checked above.
					for _, fd := range loud[f.ID] {
						if !slices.Contains(vs, fmt.Sprintf("%s(%s)", fd.Class, flow.Client)) && !slices.Contains(vs, fmt.Sprintf("%s(%s)", fd.Class, flow.Server)) {
							quiet = false
							wrong("healthy", "flow %d %s (line %d): in finding %s %s", f.ID, f.Key, l.n, fd.Severity, fd.Class)
						}
					}
					if quiet {
						sc.healthyQuiet++
					}
					continue
				}
				for _, term := range l.terms {
					sc.verdicts++
					neg := strings.HasPrefix(term, "!")
					has := false
					for _, alt := range strings.Split(strings.TrimPrefix(term, "!"), "|") {
						has = has || slices.Contains(vs, alt)
					}
					if has != neg {
						sc.verdictsRight++
						continue
					}
					wrong("verdicts", "flow %d %s (line %d, ss %s/%s): wants %s, has %v", f.ID, f.Key, l.n,
						tr.ss(f.Record, flow.Client), tr.ss(f.Record, flow.Server), term, vs)
				}
			}
			if n < min {
				sc.verdicts++
				wrong("verdicts", "line %d: %d flows match %v, want at least %d", l.n, n, l.sel, min)
			}
		case "infinding":
			n, min := 0, 0
			for _, w := range l.sel {
				if v, ok := strings.CutPrefix(w, "n>="); ok {
					min, _ = strconv.Atoi(v)
				}
			}
			for i := range rep.Flows {
				f := &rep.Flows[i]
				if ok, _ := matches(t, l.sel, f, tr); !ok {
					continue
				}
				n++
				sc.findings++
				if slices.ContainsFunc(rep.Findings, func(fd Finding) bool {
					return string(fd.Class) == l.terms[0] && slices.Contains(fd.Flows, f.ID)
				}) {
					sc.findingsRight++
					continue
				}
				wrong("findings", "flow %d %s (line %d, ss %s/%s): in no %s finding", f.ID, f.Key, l.n,
					tr.ss(f.Record, flow.Client), tr.ss(f.Record, flow.Server), l.terms[0])
			}
			if n < min {
				sc.findings++
				wrong("findings", "line %d: %d flows match %v, want at least %d", l.n, n, l.sel, min)
			}
		case "finding", "nofinding", "noproblem":
			sc.findings++
			has := slices.ContainsFunc(rep.Findings, func(f Finding) bool {
				return string(f.Class) == l.terms[0] && (l.kind != "noproblem" || f.Severity > Info)
			})
			if has == (l.kind == "finding") {
				sc.findingsRight++
				continue
			}
			var got []string
			for _, f := range rep.Findings {
				got = append(got, fmt.Sprintf("%s %s %d", f.Severity, f.Class, len(f.Flows)))
			}
			wrong("findings", "line %d: %s %s; findings: %v", l.n, l.kind, l.terms[0], got)
		case "says":
			sc.findings++
			var got []string
			for _, f := range rep.Findings {
				if string(f.Class) != l.terms[0] {
					continue
				}
				sum := strings.Join(strings.Fields(f.Summary), " ")
				if strings.Contains(sum, l.terms[1]) {
					sc.findingsRight++
					got = nil
					break
				}
				got = append(got, sum)
			}
			if got != nil || !slices.ContainsFunc(rep.Findings, func(f Finding) bool { return string(f.Class) == l.terms[0] }) {
				wrong("findings", "line %d: no %s finding says %q: %q", l.n, l.terms[0], l.terms[1], got)
			}
		}
	}
	return sc
}

// checkEvidencePackets fails where a verdict or a finding of rep offers
// evidence that names no packet: "last data from client" on a connection
// that carried none was packet 0.
func checkEvidencePackets(t *testing.T, name string, rep *Report) {
	t.Helper()
	for i := range rep.Flows {
		f := &rep.Flows[i]
		for _, v := range f.Verdicts {
			for _, e := range v.Evidence {
				if e.Packet < 1 || e.At == 0 {
					t.Errorf("%s: flow %d %s: %s(%s) evidence %q names no packet", name, f.ID, f.Key, v.Class, v.Side, e.What)
				}
			}
		}
	}
	for _, fd := range rep.Findings {
		for _, e := range fd.Evidence {
			if e.Packet < 1 || e.At == 0 {
				t.Errorf("%s: %s finding: evidence %q names no packet", name, fd.Class, e.What)
			}
		}
	}
}

// TestRealLab holds flowdoc to the lab of real software: endpoint states
// to ss, verdicts and findings to NAME.expect, quiet on healthy flows.
func TestRealLab(t *testing.T) {
	truths, _ := filepath.Glob("../testdata/real/*@*.truth")
	if len(truths) == 0 {
		t.Fatal("no captures in ../testdata/real")
	}
	sort.Strings(truths)
	var total realScore
	stillWrong := map[string]bool{}
	for _, tp := range truths {
		name := strings.TrimSuffix(filepath.Base(tp), ".truth")
		scenario, cut, _ := strings.Cut(name, "@")
		tr := readRealTruth(t, tp)
		lines := readExpect(t, filepath.Join(filepath.Dir(tp), scenario+".expect"))
		rep := analyzeLab(t, strings.TrimSuffix(tp, ".truth")+".pcap", tr.at, Options{})
		sc := scoreReal(t, cut, rep, tr, lines)
		checkEvidencePackets(t, name, rep)
		total.add(sc)
		t.Logf("%-32s flows %3d  states %-13s verdicts %-13s findings %-9s healthy quiet %s",
			name, len(rep.Flows), pct(sc.statesRight, sc.states), pct(sc.verdictsRight, sc.verdicts),
			pct(sc.findingsRight, sc.findings), pct(sc.healthyQuiet, sc.healthy))
		for _, check := range []string{"states", "verdicts", "findings", "healthy"} {
			key := name + " " + check
			why, known := knownWrong[key]
			for _, w := range sc.wrong[check] {
				if known {
					t.Logf("    known wrong, %s: %s", check, w)
				} else {
					t.Errorf("%s: %s", key, w)
				}
			}
			if known && len(sc.wrong[check]) == 0 {
				t.Errorf("%s passes now (knownWrong said %q): remove it from knownWrong", key, why)
			}
			if known {
				stillWrong[check] = true
			}
		}
	}
	expects, _ := filepath.Glob("../testdata/real/*.expect")
	for _, e := range expects {
		if m, _ := filepath.Glob(strings.TrimSuffix(e, ".expect") + "@*.truth"); len(m) == 0 {
			t.Errorf("%s has no capture", e)
		}
	}
	for key := range knownWrong {
		name, _, _ := strings.Cut(key, " ")
		if !slices.Contains(truths, filepath.Join("../testdata/real", name+".truth")) {
			t.Errorf("knownWrong names %q, which has no capture", key)
		}
	}
	t.Logf("%-32s           states %-13s verdicts %-13s findings %-9s healthy quiet %s (UNKNOWN accepted: %d)",
		"all", pct(total.statesRight, total.states), pct(total.verdictsRight, total.verdicts),
		pct(total.findingsRight, total.findings), pct(total.healthyQuiet, total.healthy), total.unknown)
	// The bars hold over the whole lab once nothing of their kind is known wrong.
	if !stillWrong["states"] && float64(total.statesRight) < 0.99*float64(total.states) {
		t.Errorf("endpoint states %s right, want ≥ 99%%", pct(total.statesRight, total.states))
	}
	if !stillWrong["verdicts"] && float64(total.verdictsRight) < 0.97*float64(total.verdicts) {
		t.Errorf("expected verdicts %s found, want ≥ 97%%", pct(total.verdictsRight, total.verdicts))
	}
	if !stillWrong["healthy"] && total.healthyQuiet != total.healthy {
		t.Errorf("healthy flows quiet %s, want all", pct(total.healthyQuiet, total.healthy))
	}
}

// shellFunc is a line of real.sh that begins a function.
var shellFunc = regexp.MustCompile(`^[a-z_][a-z0-9_]*\(\) \{$`)

// TestRealScript holds testdata/lab/real.sh together, which merges of
// scenarios written side by side have broken: every expectations heredoc
// ends before the next function begins, and every scenario in all= has
// its function; and bash reads it.
func TestRealScript(t *testing.T) {
	b, err := os.ReadFile("../testdata/lab/real.sh")
	if err != nil {
		t.Fatal(err)
	}
	open := 0 // the line of the heredoc being read; 0 outside one
	funcs := map[string]bool{}
	var all []string
	for n, l := range strings.Split(string(b), "\n") {
		switch {
		case strings.Contains(l, "<<EXP"):
			if open > 0 {
				t.Errorf("real.sh:%d: a heredoc begins inside the one of line %d", n+1, open)
			}
			open = n + 1
		case l == "EXP":
			open = 0
		case shellFunc.MatchString(l):
			name := strings.TrimSuffix(l, "() {")
			if open > 0 {
				t.Errorf("real.sh:%d: function %s begins inside the heredoc of line %d", n+1, name, open)
			}
			funcs[name] = true
		case strings.HasPrefix(l, `all="`):
			all = append(all, strings.Fields(strings.Trim(strings.TrimPrefix(l, "all="), `"`))...)
		}
	}
	if open > 0 {
		t.Errorf("real.sh: the heredoc of line %d never ends", open)
	}
	if bash, err := exec.LookPath("bash"); err == nil {
		if out, err := exec.Command(bash, "-n", "../testdata/lab/real.sh").CombinedOutput(); err != nil {
			t.Errorf("bash -n real.sh: %v: %s", err, out)
		}
	}
	if len(all) == 0 {
		t.Fatal("real.sh: no all= line")
	}
	for _, s := range all {
		if !funcs["sc_"+s] {
			t.Errorf("real.sh: scenario %s in all= has no function sc_%s", s, s)
		}
	}
}
