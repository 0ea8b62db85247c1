package analyze

import "slices"

// Explanation is what flowdoc knows about a class: what it means, how it
// is detected, what usually causes it, how to confirm it on the host and
// how to fix it. `flowdoc explain` prints it; findings take their remedy
// from Fix.
type Explanation struct {
	Class     Class
	Title     string
	Meaning   string
	Detection string
	Causes    string
	Confirm   string
	Fix       string
}

// Explain returns the explanation of c, or false for an unknown class.
func Explain(c Class) (Explanation, bool) {
	i := slices.IndexFunc(explanations, func(e Explanation) bool { return e.Class == c })
	if i < 0 {
		return Explanation{}, false
	}
	return explanations[i], true
}

// Explanations lists every class, verdicts first.
func Explanations() []Explanation { return slices.Clone(explanations) }

var explanations = []Explanation{
	{
		Class: CloseWaitLeak, Title: "CLOSE_WAIT leak",
		Meaning: "One side received the peer's FIN and acknowledged it (its kernel did), but never sent its own FIN: " +
			"the application has not closed the socket. The socket sits in CLOSE_WAIT, holding a file descriptor, " +
			"buffers and, on a client, an ephemeral port, until the process closes it or exits. CLOSE_WAIT never times out.",
		Detection: "An endpoint is in CLOSE_WAIT at the end of the capture, for longer than --close-wait-grace (1 s): " +
			"the peer's FIN and the ACK of it are in the capture, and no FIN followed.",
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
	{
		Class: IdleTimeoutClose, Title: "Idle-timeout close",
		Meaning: "A side closed the connection after it had carried no data for a while: a server's keep-alive " +
			"or idle timeout (or a client pool's idle eviction). Healthy by itself; it matters when the other side " +
			"does not close in turn (a CLOSE_WAIT leak) or reuses the connection after it (a stale reuse).",
		Detection: "The first FIN of the connection comes one second or more after the last payload in either " +
			"direction. Across connections, the idle times before such FINs are clustered and compared with the " +
			"defaults of common servers.",
		Causes: "Tomcat keepAliveTimeout (default connectionTimeout, 20 s), nginx keepalive_timeout (75 s), Apache " +
			"KeepAliveTimeout (5 s), Node.js server.keepAliveTimeout (5 s), gunicorn --keep-alive (2 s), AWS ALB idle " +
			"timeout (60 s), HAProxy timeout http-keep-alive, Envoy idle_timeout (1 h).",
		Confirm: "The server's configuration for the timeout named in the finding; its Keep-Alive: timeout= " +
			"response header, when it sends one.",
		Fix: "Nothing to fix in the server when the clients close their side. Make clients' pool idle timeouts " +
			"shorter than the server's keep-alive timeout, so that clients, not servers, close idle connections.",
	},
	{
		Class: TimeWaitClass, Title: "TIME_WAIT",
		Meaning: "The side that closed first (the active closer) waits in TIME_WAIT after the exchange of FINs, " +
			"60 s on Linux and 240 s on Windows, so that stray segments of the old connection die out. Normal, " +
			"but each such socket keeps its 4-tuple, and on a client its ephemeral port towards that server, busy.",
		Detection: "An endpoint is in TIME_WAIT at the end of the capture, or was until the timer ran out.",
		Causes:    "A client (or server) that opens a new connection per request and closes it first.",
		Confirm:   "ss -tan state time-wait | wc -l (Linux); netstat -an | find /c \"TIME_WAIT\" (Windows).",
		Fix: "Nothing, usually. At high rates: reuse connections (keep-alive, a pool), or let the other side close " +
			"first; on Linux net.ipv4.tcp_tw_reuse=1 lets a client reuse TIME_WAIT ports for new outgoing connections.",
	},
	{
		Class: TimeWaitPressure, Title: "TIME_WAIT accumulation (ephemeral port exhaustion risk)",
		Meaning: "A client host closes connections to one server endpoint at a rate that keeps many of its " +
			"ephemeral ports in TIME_WAIT: rate x TIME_WAIT duration ports are busy at any time, and when that " +
			"nears the ephemeral port range, connect() fails (EADDRNOTAVAIL on Linux, WSAENOBUFS / \"No buffer " +
			"space available\" on Windows).",
		Detection: "Per client host and server endpoint: the rate of connections the client closed first, the " +
			"TIME_WAIT population it implies, and the peak reached in the capture, against --port-range " +
			"(Linux default 32768-60999: 28,232 ports; Windows: 16,384 ports with 240 s TIME_WAIT).",
		Causes: "A connection per request (HTTP/1.0 style, keep-alive off, a pool not used); a reconnect loop. " +
			"CLOSE_WAIT sockets hold ports too.",
		Confirm: "ss -tan state time-wait dst SERVER | wc -l; sysctl net.ipv4.ip_local_port_range; on Windows " +
			"netsh int ipv4 show dynamicport tcp.",
		Fix: "Reuse connections (keep-alive, a connection pool). Let the server close first where the protocol " +
			"allows. On Linux, net.ipv4.tcp_tw_reuse=1 and a wider ip_local_port_range; on Windows, widen the " +
			"dynamic port range and lower TcpTimedWaitDelay.",
	},
	{
		Class: Refused, Title: "Connection refused",
		Meaning: "The SYN was answered with RST: no socket listens on that port on that host, or a firewall " +
			"rejects the connection with a TCP reset.",
		Detection: "A SYN from the client, no SYN-ACK, an RST from the server's address.",
		Causes: "The service is down or restarting, listens on another port or address (127.0.0.1 only), or a " +
			"firewall rule REJECTs with tcp-reset.",
		Confirm: "On the server: ss -ltn 'sport = :PORT'; the service's logs and status.",
		Fix:     "Start the service, or fix the address or port the client uses.",
	},
	{
		Class: UnansweredSYN, Title: "Unanswered SYN",
		Meaning: "The SYN (and its retransmissions) got no answer at all.",
		Detection: "SYNs from the client and nothing from the server. The client gives up after " +
			"net.ipv4.tcp_syn_retries retransmissions (about 127 s by default) or its own connect timeout.",
		Causes: "A firewall that drops (DROP, security groups), the host down or unreachable, a wrong route, or a " +
			"server whose listen queue is full and drops SYNs (then other clients' SYNs are answered: see " +
			"listen_overflow).",
		Confirm: "On the server: tcpdump -ni any 'tcp port PORT and tcp[tcpflags] & tcp-syn != 0' to see whether " +
			"the SYNs arrive; firewall counters (nft list ruleset, iptables -vnL).",
		Fix: "Open the path (firewall, security group, route) or bring the host up.",
	},
	{
		Class: ListenOverflow, Title: "Listen queue overflow",
		Meaning: "The server's accept queue was full: the application does not accept() connections as fast as " +
			"they complete. The kernel then drops the client's final ACK (and sends its SYN-ACK again) or drops " +
			"new SYNs; clients see slow connects and timeouts.",
		Detection: "The server sends its SYN-ACK again after the client's ACK of it; or SYNs to an endpoint go " +
			"unanswered while the same endpoint completes other handshakes at the same time.",
		Causes: "An application stuck or too slow to accept (all worker threads blocked, e.g. on an upstream with " +
			"no timeout), or a backlog too small for bursts.",
		Confirm: "nstat -az TcpExtListenOverflows TcpExtListenDrops (rising counters); ss -ltn: Recv-Q (queued) " +
			"reaching Send-Q (the backlog) for the port.",
		Fix: "Find why the application stopped accepting (thread dumps; CPU at 0 % with a full queue means it is " +
			"blocked); raise the backlog (listen() argument, net.core.somaxconn) for legitimate bursts.",
	},
	{
		Class: AcceptThenClose, Title: "Accepted, then closed at once",
		Meaning: "The server completed the handshake and closed the connection right away, before sending any " +
			"data: it accepts and then refuses the client, usually because the client is over a connection cap.",
		Detection: "The server's FIN (or RST) comes within a second of the handshake, with no payload from the " +
			"server before it.",
		Causes: "A per-client connection limit (ZooKeeper maxClientCnxns, MySQL max_connections, a proxy's " +
			"per-source limit), an access check that fails, a server shutting down.",
		Confirm: "The server's log at the time (\"Too many connections from /IP - max is 60\" for ZooKeeper); " +
			"ss -tn dst CLIENT on the server to count the client's open connections.",
		Fix: "Find why the client holds so many connections (a leak, too many processes or pods on one host) and " +
			"fix that; raise the limit only if the load is legitimate. Make the client back off before reconnecting.",
	},
	{
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
	},
	{
		Class: StaleReuseReset, Title: "Stale connection reused, reset",
		Meaning: "A side sent a request on a connection the peer had already closed (its FIN was in the capture " +
			"before the request), and the peer answered with RST: a pooled connection reused after the server's " +
			"idle timeout. The request fails (connection reset) although nothing was wrong with the server.",
		Detection: "New data from one side after the other side's FIN, followed by an RST from the other side.",
		Causes: "A client pool whose idle timeout is longer than the server's keep-alive timeout, or that does not " +
			"check for the server's FIN before reusing a connection.",
		Confirm: "Client errors \"connection reset by peer\" / \"NoHttpResponseException\" / \"socket hang up\" on " +
			"the first request after an idle period.",
		Fix: "Make the pool's idle timeout shorter than the server's keep-alive timeout; validate connections " +
			"after inactivity (e.g. Apache HttpClient setValidateAfterInactivity); retry idempotent requests once.",
	},
	{
		Class: CloseIgnored, Title: "Connection: close ignored",
		Meaning: "The server answered a request with Connection: close (it will close the connection after the " +
			"response), yet the client sent another request on the same connection. That request is lost: the " +
			"server has closed, or answers with RST.",
		Detection: "HTTP read from the payload: a request on a connection after a response carrying Connection: close.",
		Causes: "A hand-written or pooled HTTP client that does not honour Connection: close and returns the " +
			"connection to its pool anyway.",
		Confirm: "Client errors on the request after a Connection: close response (connection reset, empty reply).",
		Fix:     "Honour Connection: close: close the connection after that response and never return it to the pool.",
	},
	{
		Class: ZeroWindowStall, Title: "Zero-window stall",
		Meaning: "A receiver advertised a zero receive window: its application stopped reading, its socket buffer " +
			"is full, and the sender can only probe.",
		Detection: "Zero-window advertisements from one side, with the other side's zero-window probes; a stall " +
			"when the window is still zero at the end of the capture.",
		Causes: "A receiving application that is blocked, overloaded or deadlocked, or that reads only when it " +
			"has finished something else.",
		Confirm: "ss -tn on the receiver: a large Recv-Q on the socket that does not drain; a thread dump of the " +
			"receiving process.",
		Fix: "Find what keeps the receiving application from reading (a thread dump shows where it waits).",
	},
	{
		Class: HalfCloseOK, Title: "Legitimate half-close",
		Meaning: "A side shut down its sending direction (shutdown(SHUT_WR)) while still reading, the peer went on " +
			"sending and then closed: the connection ended cleanly. Not a problem.",
		Detection: "A side acknowledged data that arrived after its own FIN, and the connection then closed.",
		Causes: "Protocols and tools that signal the end of a request with a FIN (netcat, some RPC and file " +
			"transfer protocols).",
		Confirm: "Nothing to confirm.",
		Fix:     "Nothing to fix.",
	},
	{
		Class: ResetClass, Title: "Reset",
		Meaning:   "The connection was closed abortively, by an RST in the receiver's window.",
		Detection: "An RST that the receiver accepts.",
		Causes: "An application closing with SO_LINGER 0, a crash, a timeout in a proxy or a load balancer, data " +
			"arriving for a socket already closed.",
		Confirm: "The logs of the side that sent the RST at that time.",
		Fix:     "Only when unexpected: find why the side sending the RST aborted.",
	},
	{
		Class: CleanClass, Title: "Clean",
		Meaning:   "Opened with a handshake, closed with a FIN from each side, each acknowledged. Not a problem.",
		Detection: "Both FINs and their ACKs seen, no RST, each endpoint CLOSED or in TIME_WAIT.",
		Causes:    "Healthy traffic.", Confirm: "Nothing to confirm.", Fix: "Nothing to fix.",
	},
	{
		Class: OpenClass, Title: "Open",
		Meaning: "Established at the end of the capture, with nothing wrong seen (or in CLOSE_WAIT for less than " +
			"--close-wait-grace, which is not a leak yet).",
		Detection: "Both endpoints ESTABLISHED, or a CLOSE_WAIT younger than the grace.",
		Causes:    "Healthy, long-lived or pooled connections.", Confirm: "Nothing to confirm.", Fix: "Nothing to fix.",
	},
	{
		Class: MidstreamClass, Title: "Begun before the capture",
		Meaning: "The capture started after the handshake, so which side is the client and the endpoints' states " +
			"are inferred: each side is taken to be ESTABLISHED at the first packet.",
		Detection: "No SYN or SYN-ACK was captured for the connection.",
		Causes:    "A capture started while connections were open (normal for long-lived ones).",
		Confirm:   "Nothing to confirm.", Fix: "Start captures before the connections of interest when possible.",
	},
	{
		Class: KeepAliveClass, Title: "TCP keep-alive",
		Meaning: "TCP keep-alive probes (one byte below the next sequence number, answered with an ACK) keep idle " +
			"connections alive through NAT and firewalls and detect dead peers. Without them, an idle connection " +
			"can be dropped silently by a middlebox, and the first request after the idle period fails.",
		Detection: "Keep-alive probes per host with the interval between them; connections idle for a long time " +
			"with no probe at all. Zero-window probes, which look the same, are told apart by the peer's zero window.",
		Causes: "SO_KEEPALIVE with net.ipv4.tcp_keepalive_time (7200 s by default), tcp_keepalive_intvl (75 s) " +
			"and tcp_keepalive_probes (9), or the application's own settings.",
		Confirm: "ss -tno: the keepalive timer of each socket; sysctl net.ipv4.tcp_keepalive_time.",
		Fix: "Enable keep-alive with an idle time shorter than the shortest idle timeout on the path (NAT, " +
			"firewall, load balancer) for long-lived idle connections.",
	},
	{
		Class: KernelCloseWait, Title: "CLOSE_WAIT sockets in the kernel",
		Meaning: "flowdoc live read the host's socket table (/proc/net/tcp) and found sockets in CLOSE_WAIT: the " +
			"peer closed, the application on this host has not. A CLOSE_WAIT socket sends nothing, so those that went " +
			"quiet before the capture started show only here, with the process that holds them.",
		Detection: "Sockets in state CLOSE_WAIT (08) in /proc/net/tcp and /proc/net/tcp6, grouped by process and peer; " +
			"the owning process from /proc/PID/fd (as root, or for the user's own processes).",
		Causes:  "The causes of a CLOSE_WAIT leak: see flowdoc explain close_wait_leak.",
		Confirm: "ss -tanp state close-wait; ls -l /proc/PID/fd | grep -c socket; lsof -p PID -a -i TCP.",
		Fix: "Close or release the connection after every response, error responses included, and close it when a " +
			"read returns EOF. Restarting the process frees the sockets until the leak fills the table again.",
	},
}
