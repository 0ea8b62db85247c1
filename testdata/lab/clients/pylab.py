#!/usr/bin/python3
"""The python parts of the real-software lab (testdata/lab/real.sh).

Each subcommand plays one client or server behaviour with the standard
library (http.client, socket) or python3-requests; every one is bounded in
count and time and exits by itself. Clients print one line per connection,
"ROLE PORT" with the local port, for the expectations.

  httpleak HOST PORT N INTERVAL HOLD   http.client, one request per connection,
                                       never closed (every 4th closed: "ok")
  hold HOST PORT N SECONDS             N connections, held open
  storm HOST PORT N INTERVAL           connect, read until EOF, close; N times
  proxy LHOST LPORT UHOST UPORT TTL    a proxy with no upstream timeout that
                                       never closes its caller's socket
  silent HOST PORT TTL                 accept, read, never answer
  stream HOST PORT SECONDS TTL         read to EOF, then stream 1 KB per 200 ms
  nobacklog HOST PORT TTL              listen(backlog 1), never accept
  flood HOST PORT N HOLD [PAUSE]      N parallel connections, each sends data
                                       (after PAUSE s)
  kasilence HOST PORT HOLD             a Redis connection with TCP keep-alive
                                       (idle 1 s, interval 1 s, 3 probes)
  lingerd HOST PORT IDLE TTL           a line server closing idle connections
                                       with RST (SO_LINGER 0) after IDLE s
  pool KIND:HOST:PORT... REUSE HOLD    per server, a pooled connection reused
                                       after REUSE s ("stale") and one that
                                       notices the close and closes ("watch")
  idle HOST PORT IDLE HOLD             Redis connections through a firewall:
                                       one closes after IDLE s, one sends after
                                       IDLE s, one pings every 2 s
  stale HOST PORT PAUSE HOLD [ROLE]    http.client and a requests Session,
                                       each reusing its connection after PAUSE s
                                       (ROLE names the http.client one,
                                       "session" the Session's first)
  pgidle HOST PORT REUSE N HOLD        PostgreSQL (psycopg2, autocommit): a
                                       connection left idle and never read or
                                       closed ("leak"), one reused after REUSE s
                                       ("stale"), one querying every second, N
                                       times, then closed ("busy")
  pgtlsidle HOST PORT REUSE HOLD       PostgreSQL over TLS (psycopg2, sslmode
                                       require, autocommit): two connections
                                       left idle and never read or closed
                                       ("leak"), one reused after REUSE s
                                       ("stale"), one closed after 1 s ("close")
  pgbouncer HOST PORT REUSE HOLD       psycopg2 through PgBouncer (autocommit):
                                       two connections left idle and never read
                                       or closed ("leak"), one reused after
                                       REUSE s ("stale"), one closed after 1 s
                                       ("close"), one that waits until the
                                       socket is readable (the server's close)
                                       and closes ("watch")
  redispool HOST PORT REUSE HOLD       python3-redis: a ConnectionPool reused
                                       after REUSE s idle ("pool"; the
                                       connection it opens then: "repool"), the
                                       same with health_check_interval 1
                                       ("health", "rehealth"), a
                                       single_connection_client reused after
                                       REUSE s ("single"), and a raw socket
                                       sending PING, never read nor closed
                                       ("leak")
  ftpidle HOST PORT N HOLD             ftplib, logged in anonymously: two
                                       sessions never read nor closed ("leak"),
                                       one sending NOOP every second N times,
                                       then QUIT ("noop"), one that quits after
                                       1 s ("quit")
  h2idle HOST PORT N HOLD              HTTP/2 over cleartext (python3-h2, prior
                                       knowledge): one request per connection,
                                       then idle; N never read nor closed
                                       ("leak"), one that reads to the server's
                                       GOAWAY and EOF and closes ("close")
  proxyidle PHOST PPORT URL N HOLD     http.client through a forward proxy
                                       (absolute URL): one request per
                                       connection, then idle; N never read nor
                                       closed ("leak"), one that reads to the
                                       proxy's EOF and closes ("close")
  tlsstale HOST PORT PAUSE HOLD ROLE   http.client over TLS (certificate not
                                       verified): one request, then the next on
                                       the same connection after PAUSE s
  tlsclose HOST PORT HOLD ROLE         http.client over TLS: one request, then
                                       idle until the server's close_notify and
                                       FIN (up to HOLD s); answers with its own
                                       close_notify (SSLSocket.unwrap), closes
  tlssession HOST PORT PAUSE HOLD      a requests Session over HTTPS (certificate
                                       not verified): one request, the next
                                       after PAUSE s, then closed
  aiopool HOST PORT PAUSE HOLD         an aiohttp ClientSession (its pool keeps
                                       idle connections 15 s): a request, the
                                       next after PAUSE s idle, then five in a
                                       row; closed, then HOLD s. Each connection
                                       it opens is said as "aio"
  spaced HOST PORT PAUSE...            http.client, one request per connection,
                                       read and closed by the client ("spaced"),
                                       the next after PAUSE s, for each PAUSE
  sweep HOST PORT METHOD PAUSE...      spaced with METHOD (GET, or POST with a
                                       small body) on "/": each connection said
                                       after its response, as "got200",
                                       "got502", ... ("failed" without one)
  mqttsilent HOST PORT KEEPALIVE HOLD  MQTT 3.1.1 by hand: CONNECT with a
                                       keepalive of KEEPALIVE s, CONNACK, then
                                       silent: no PINGREQ, never read nor
                                       closed ("silent")
  mqttping HOST PORT KEEPALIVE SECONDS  python3-paho-mqtt, keepalive KEEPALIVE s:
                                       subscribes, then PINGREQ when idle for
                                       SECONDS s ("ping"), then disconnects
  h2tls HOST PORT N REUSE HOLD         HTTP/2 over TLS (python3-h2, ALPN h2,
                                       certificate not verified): one request
                                       per connection, then idle; N never read
                                       nor closed ("leak"), one that reads to
                                       the server's close and closes ("close"),
                                       one sending its next request after
                                       REUSE s ("reuse"), one that sends
                                       GOAWAY and closes after 1 s ("cclose")
  grpcserve HOST PORT TTL [OPT=V...]   a gRPC server (python3-grpcio, generic
                                       handler, no protoc): /lab.Echo/Say
                                       answers its request and prints the
                                       request (a role) and the caller's port;
                                       OPT=V are channel arguments (grpc.max_
                                       connection_idle_ms=2000 ...), tls=CERT:KEY
                                       serves over TLS
  grpcclient HOST PORT ROLE PAUSE HOLD [OPT=V...]
                                       a gRPC channel (tls=CERT: over TLS,
                                       trusting CERT; watch=1: a connectivity
                                       watch, which keeps grpc reading it) with
                                       one call saying ROLE; a ROLE ending in
                                       "reuse" calls again after PAUSE s
                                       (ROLE2), any other holds the channel
                                       unused; then HOLD s
  grpcpings HOST PORT ROLE EVERY HOLD [OPT=V...]
                                       a gRPC channel (cleartext; OPT=V are
                                       channel arguments, grpc.keepalive_
                                       time_ms=500 ...) watched for HOLD s,
                                       so that grpc reads it and sends its
                                       PINGs with no call: one call saying
                                       ROLE (the server takes 4 s to answer
                                       a ROLE beginning with "slow"), then
                                       one every EVERY s (0: none) after the
                                       last returned; when the server closes the
                                       connection (the channel goes idle) a
                                       call connects it again
  grpcleak HOST PORT HOLD              python3-h2, cleartext: one gRPC call by
                                       hand, then never read nor closed
                                       ("leak")
  pooled HOST PORT START HOLD SPEC...  pooled connections used on a schedule, in
                                       seconds from START (a Unix time): each
                                       SPEC is KIND:ROLE:T1,T2,...:END, a
                                       request at each time Ti; KIND hc, an
                                       http.client connection opened at T1 (said
                                       as ROLE), kind rs, a requests Session (its
                                       first connection said as ROLE, those it
                                       opens after as ROLE-new, ROLE-new2, ...);
                                       END close closes it after its last
                                       request, keep keeps it, never read nor
                                       closed; then waits until HOLD s
  capheld KIND HOST PORT N HOLD        N connections of KIND held open HOLD s,
                                       each after one exchange ("KINDhold"):
                                       redis (redis-py, PING), pg (psycopg2,
                                       SELECT 1), ftp (ftplib, anonymous
                                       login), mqtt (paho, CONNECT),
                                       memcached (raw socket, version), poll
                                       (raw socket, GET /poll, never answered),
                                       http (http.client, GET /ok, then idle
                                       keep-alive; one the server closes is
                                       closed at once, "httpevicted PORT")
  caprefused KIND HOST PORT N INTERVAL [SSLMODE]
                                       a client of KIND connecting N times,
                                       INTERVAL s apart, each time as a new
                                       client would (redis: connect, PING; pg:
                                       psycopg2.connect, sslmode SSLMODE; ftp:
                                       FTP.connect; mqtt: paho connect and its
                                       CONNACK; memcached: raw socket, version;
                                       http: http.client, GET /ok), closing
                                       after the error; says "KINDrefused PORT"
                                       ("httploop PORT": a loop that may be
                                       served) where the library shows the
                                       socket, and what the attempts got,
                                       counted, on stderr
  slowread HOST PORT PATH ROLE BYTES PAUSE THEN HOLD [RCVBUF]
                                       a download by hand (raw socket, SO_RCVBUF
                                       RCVBUF when given): GET PATH, BYTES read
                                       (headers included), then nothing read
                                       for PAUSE s (the window closes); THEN
                                       "close" (the rest unread: RST), "resume"
                                       (reads to EOF, says on stderr how much
                                       of the body came, closes) or "hold" (the
                                       socket kept open, unread, HOLD s more)
  streamread HOST PORT PATH PAUSE      requests, stream=True: one 64 KB chunk of
                                       the body read, then PAUSE s, then the
                                       response and Session closed ("stream")
  wsserve HOST PORT TTL                an aiohttp WebSocket server on /ws (its
                                       defaults: no heartbeat, no receive
                                       timeout, pings answered): echoes each
                                       text message; exits after TTL s
  wsclient HOST PORT ROLE KIND HOLD    one WebSocket on /ws, one text message
                                       sent and its echo read, then up to HOLD
                                       s more, as KIND says: idle (aiohttp's
                                       ws_connect, waiting in receive(): it
                                       closes when the server closes), beat
                                       (the same with heartbeat=1.0: a ping
                                       every second), raw (a raw socket and the
                                       handshake by hand, never read nor
                                       closed again); says "ROLE PORT", and on
                                       stderr how it ended
  tcpprobe HOST PORT N INTERVAL        a TCP liveness probe as an orchestrator
                                       makes it: connect, close at once
                                       (nothing sent), N times ("tcpprobe")
  session HOST PORT N INTERVAL PATH... a requests Session: N requests, one
                                       every INTERVAL s, on the PATHs in turn,
                                       then closed (each connection: "session")
  amqpidle HOST PORT ROLE HOLD         python3-pika (BlockingConnection,
                                       heartbeat=2), one channel, then idle
                                       HOLD s in sleep() (its heartbeats go on),
                                       closed ("ROLE PORT")
  amqpheld HOST PORT VHOST ROLE N HOLD N pika connections to VHOST held open
                                       HOLD s, their heartbeats served in turn
                                       ("ROLE PORT"), then closed
  amqpclose HOST PORT PAUSE            a pika connection that declares a queue,
                                       publishes and gets a message, waits
                                       PAUSE s and closes ("close PORT")
  amqprefused HOST PORT VHOST N INTERVAL [TIMEOUT]
                                       N pika connections to VHOST, INTERVAL s
                                       apart, each a new client giving up after
                                       TIMEOUT s (its stack_timeout, 10 s by
                                       default); says on stderr what each got
                                       (the broker's refusal)
  amqpraw HOST PORT ROLE MODE HOLD     a raw socket that never finishes the
                                       AMQP handshake: MODE header sends the
                                       protocol header ("AMQP" 0 0 9 1) and
                                       nothing more, MODE nothing sends nothing;
                                       reads until EOF (or HOLD s), closes, says
                                       on stderr what it got and when
  mysqlpool HOST PORT IDLES REUSE PINGS HOLD
                                       python3-pymysql (autocommit), through a
                                       TCP proxy: a small pool, a list of open
                                       connections ("pool"), each queried, left
                                       idle IDLES s (comma separated, one per
                                       connection) and queried again on the
                                       same connection; one that fails is
                                       replaced ("repool": the query again,
                                       then closed); one querying SELECT 1 every
                                       second PINGS times, then closed ("ping");
                                       after REUSE s idle, a pool that checks
                                       the socket first (readable: EOF) and
                                       drops it without a word ("validate") or
                                       with pymysql's close(), COM_QUIT
                                       ("validatequit"), and one that pings
                                       first, ping(reconnect=True) as a
                                       pre-ping pool does ("preping"); each
                                       connects again ("re" + role), queries
                                       and closes; says on stderr what each
                                       got and when; then waits until HOLD s
  redisreuse HOST PORT REUSE HOLD      python3-redis ConnectionPools, through a
                                       TCP proxy: one (health_check_interval
                                       0, "redispool") and one with
                                       health_check_interval 1 ("redishealth"),
                                       each a SET, REUSE s idle, a GET; a
                                       connection the pool opens for it is
                                       said as "redisre" + pool or health
  ldapidle HOST PORT DN PASSWORD BASE HOLD
                                       python3-ldap3 (SYNC strategy, bound as DN):
                                       a search, then the next on the same
                                       connection after 4.9 s ("stale") and 5.4 s
                                       ("stale5") idle; the RESTARTABLE strategy
                                       after 5 s ("restart"; the connection it
                                       opens again: "restart-new"); every 2 s,
                                       three times, then unbound ("reuse2"); a
                                       bind and a search every second, 14 times,
                                       then unbound ("busy"); raw sockets that
                                       send nothing: never read nor closed
                                       ("silent"), read until EOF and closed
                                       ("silentread"); one that sends an
                                       anonymous bind and 10 searches in one
                                       write (conn_max_pending), reads until
                                       EOF, closes ("flood"). What each got goes
                                       to stderr
  smtphold HOST PORT HOLD              two smtplib sessions (EHLO client.lab.example),
                                       then idle: "smtpwatch" waits until the
                                       socket is readable (the server's close),
                                       reads the reply there with smtplib and
                                       closes; "smtpidle" never reads nor closes
                                       (up to HOLD s); what each got to stderr
  smtprefused HOST PORT N INTERVAL     smtplib connecting N times, INTERVAL s
                                       apart, each as smtplib.SMTP(HOST) does it:
                                       connect, read the greeting, close on
                                       anything but 220 (SMTPConnectError), or
                                       EHLO and QUIT when served; says
                                       "smtprefused PORT", what they got
                                       counted on stderr
  smtpreuse HOST PORT PAUSE            an smtplib session kept as a pool keeps it:
                                       EHLO, then idle PAUSE s, then a mail sent
                                       on it (sendmail: MAIL, RCPT, DATA) as it
                                       is ("smtpreuse"); what it got to stderr
  smtperrors HOST PORT N                an smtplib session: EHLO, then up to N
                                       unknown commands (XLAB), each sent as the
                                       reply to the last came ("smtperrors");
                                       each reply, and how it ended, to stderr
  imaphold HOST PORT USER PASS HOLD    two imaplib sessions (LOGIN, SELECT
                                       INBOX), then idle up to HOLD s, never
                                       reading ("imaphold"); what each got to
                                       stderr
  imaprefused HOST PORT USER PASS N INTERVAL
                                       imaplib logging in N times, INTERVAL s
                                       apart, each as "with IMAP4(HOST) as M:
                                       M.login(...); M.select()" does it (its
                                       __exit__ logs out); says "imaprefused
                                       PORT", what they got counted on stderr
  imapsession HOST PORT USER PASS      LOGIN, SELECT INBOX, LOGOUT
                                       ("imapsession")
  imapsilent HOST PORT HOLD            a socket that reads the greeting and
                                       never logs in, held HOLD s
                                       ("imapsilent")
  unboundstale HOST PORT PAUSE         dnspython (dns.query.tcp on one socket):
                                       a query, another on the same socket
                                       PAUSE s later ("unboundstale"); on its
                                       failure a new connection, a query, closed
                                       ("unboundrestale")
  unboundspaced HOST PORT N INTERVAL   dnspython, N queries INTERVAL s apart on
                                       one socket, then closed ("unboundspaced")
  unboundsilent HOST PORT ROLE MODE HOLD  a socket that never sends: MODE close
                                       reads until EOF and closes, leak never
                                       reads nor closes (held HOLD s)
  unboundka HOST PORT N INTERVAL       dnspython with the EDNS TCP keepalive
                                       option (RFC 7828): N queries INTERVAL s
                                       apart, then closed 0.5 s before the
                                       timeout the server advertised
                                       ("unboundka")
  unboundqueued HOST PORT N LAST       a socket that never sends
                                       ("unboundcapfirst"), then N dnspython
                                       connections at once, each a query with
                                       the keepalive option, then reading until
                                       EOF and closing ("unboundqueued"), and
                                       LAST s later another socket that never
                                       sends ("unboundcaplast"); the silent
                                       ones read until EOF and close
  ircraw HOST PORT HOLD                two IRC connections that never
                                       register: one sends nothing
                                       ("ircsilent"), one only "NICK lurker"
                                       ("ircnick"); each read until the
                                       server closes it (or HOLD s), then
                                       closed; what each got, and when, to
                                       stderr
  uwsgistale HOST PORT ROLE PAUSE     keep-alive clients of uWSGI's own HTTP:
                                       an http.client connection and a requests
                                       Session, one GET / each ("ROLEhc",
                                       "ROLErs"), then each sends its next GET
                                       on the same pooled connection after
                                       PAUSE s idle (the Session checks it
                                       first, and opens a new one if the
                                       server closed it: "ROLErs2"); what each
                                       got to stderr
  uwsgisilent HOST PORT ROLE HOLD      a socket that connects and never sends,
                                       reading until the server closes (up to
                                       HOLD s), then closes ("ROLE"); how long
                                       that took to stderr
  natsraw HOST PORT ROLE MODE HOLD     a socket to nats-server that never
                                       sends CONNECT: MODE "read" reads the
                                       INFO and on until EOF, then closes;
                                       "silent" never reads nor closes (up to
                                       HOLD s); what it read to stderr
  tinyproxyplain PHOST PPORT URL PAUSE HOLD  keep-alive clients of a forward
                                       proxy, one GET of the absolute URL
                                       each: an http.client connection never
                                       read again nor closed ("plainleak"),
                                       one that reads to the proxy's EOF and
                                       closes ("plainclose"), one sending its
                                       next GET after PAUSE s ("plainstale"),
                                       a requests Session whose next GET after
                                       PAUSE s checks the connection first
                                       ("plainsession", then "plainsession2"
                                       for the one it opens); what each got to
                                       stderr
  tinyproxytunnel PHOST PPORT HOST PORT ROLE MODE PAUSE HOLD  http.client
                                       over TLS through a CONNECT tunnel
                                       (certificate not verified): one GET,
                                       then MODE idle never reads nor closes,
                                       read reads until EOF and closes, reuse
                                       sends its next GET after PAUSE s, close
                                       closes after PAUSE s (held HOLD s);
                                       what it got, and when, to stderr
  tinyproxysilent PHOST PPORT ROLE MODE HOLD [URL]  a socket to a forward
                                       proxy: MODE read sends nothing and
                                       reads until EOF, then closes; silent
                                       never sends, reads nor closes; half
                                       sends a request line (of URL) and one
                                       header, no blank line, and reads until
                                       EOF, then closes (up to HOLD s); what
                                       it got to stderr
  eximhold HOST PORT ROLE N EVERY QUIT smtplib sessions held open: N connections
                                       (EHLO client.lab.example), each sending
                                       NOOP every EVERY s, and QUIT (smtplib's
                                       quit: QUIT, the 221 read, close) QUIT s
                                       after the last of them connected
                                       ("ROLE"); what each got to stderr
  eximsilent HOST PORT ROLE MODE HOLD  a socket that connects and never sends:
                                       MODE "read" reads the greeting and on
                                       until EOF, then closes; "silent" never
                                       reads nor closes (up to HOLD s); what
                                       it read to stderr
  eximdata HOST PORT ROLE MODE HOLD    smtplib: EHLO, MAIL, RCPT, DATA (354),
                                       then the headers and half a body line
                                       and nothing more, the mail never ended
                                       (no "."): MODE "read" waits until the
                                       socket is readable (the server's
                                       close), reads the reply there and
                                       closes; "silent" never reads nor closes
                                       (up to HOLD s); what it got to stderr
  eximearly HOST PORT ROLE             an early talker: connects and sends
                                       "EHLO client.lab.example" at once,
                                       before the greeting; when the EHLO is
                                       answered, QUIT; reads until EOF and
                                       closes ("ROLE"); what it read to stderr
  eximburst HOST PORT N TIMEOUT        N smtplib sessions at once (threads),
                                       each smtplib.SMTP(HOST, PORT,
                                       timeout=TIMEOUT): connect, the greeting
                                       read, EHLO, QUIT; says "eximburst PORT"
                                       as it binds, before its SYN; how each
                                       ended, and when, to stderr
  jettyraw HOST PORT ROLE MODE HOLD    a socket to an HTTP server ("ROLE"):
                                       MODE "silent" never sends, reads nor
                                       closes (held HOLD s); "read" never
                                       sends, reads until EOF and closes;
                                       "half" sends a request line and one
                                       header (no blank line), reads until
                                       EOF and closes; what it read, and
                                       when, to stderr
  rsyncraw HOST PORT ROLE MODE HOLD    a socket to an rsync daemon: MODE
                                       "silent" never sends nor reads (held
                                       HOLD s); "module" sends the greeting
                                       ("@RSYNCD: 32.0 ...") and the module
                                       name "data", reads the daemon's
                                       greeting and "@RSYNCD: OK", then sends
                                       nothing more (held HOLD s); "quit"
                                       reads the daemon's greeting, sends
                                       nothing, and closes after HOLD s; what
                                       it read, and when, to stderr
  dantesocks PHOST PPORT ROLE MODE DHOST DPORT HOLD  a raw SOCKS5 client of
                                       danted: MODE silent never negotiates;
                                       greet sends its method greeting only;
                                       idle CONNECTs to DHOST:DPORT, sends one
                                       GET and stays idle; blocked CONNECTs
                                       and reads the reply; each reads until
                                       EOF (up to HOLD s), then closes; with
                                       "keep" appended, never reads again nor
                                       closes
"""

import http.client
import os
import select
import socket
import struct
import sys
import threading
import time

keep = []  # sockets kept reachable, so that nothing closes them


def family(host):
    """The address family of a numeric host: IPv6 when it has a colon."""
    return socket.AF_INET6 if ":" in host else socket.AF_INET


def urlhost(host, port):
    """HOST:PORT for a URL, an IPv6 address in brackets."""
    return ("[%s]:%s" if ":" in host else "%s:%s") % (host, port)


def say(role, sock):
    # One write per line: clients that run at once append to one file.
    sys.stdout.flush()
    os.write(1, ("%s %d\n" % (role, sock.getsockname()[1])).encode())


def httpleak(host, port, n, interval, hold):
    for i in range(int(n)):
        c = http.client.HTTPConnection(host, int(port), timeout=5)
        c.request("GET", "/")
        c.getresponse().read()
        if i % 4 == 3:
            say("ok", c.sock)
            c.close()
        else:
            say("leak", c.sock)
            keep.append(c)  # the bug: never closed
        time.sleep(float(interval))
    time.sleep(float(hold))


def hold(host, port, n, seconds):
    for _ in range(int(n)):
        s = socket.create_connection((host, int(port)), timeout=5)
        say("hold", s)
        keep.append(s)
    time.sleep(float(seconds))


def storm(host, port, n, interval):
    for _ in range(int(n)):
        s = socket.socket()
        s.settimeout(2)
        try:
            s.connect((host, int(port)))
            say("storm", s)
            while s.recv(4096):
                pass
        except OSError:
            pass  # reset: reconnect all the same
        s.close()
        time.sleep(float(interval))


def serve(host, port, handle, ttl, backlog=16):
    ls = socket.socket()
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.bind((host, int(port)))
    ls.listen(backlog)
    ls.settimeout(0.5)
    end = time.time() + float(ttl)
    while time.time() < end:
        try:
            c, _ = ls.accept()
        except socket.timeout:
            continue
        threading.Thread(target=handle, args=(c,), daemon=True).start()


def proxy(lhost, lport, uhost, uport, ttl):
    def handle(c):
        req = c.recv(65536)
        u = socket.create_connection((uhost, int(uport)))  # no timeout
        u.sendall(req)
        resp = u.recv(65536)  # blocks as long as the upstream is silent
        c.sendall(resp)
        c.close()  # never reached when the upstream does not answer
        u.close()

    serve(lhost, lport, handle, ttl)


def silent(host, port, ttl):
    def handle(c):
        keep.append(c)
        c.recv(65536)

    serve(host, port, handle, ttl)


def stream(host, port, seconds, ttl):
    def handle(c):
        while c.recv(65536):
            pass
        end = time.time() + float(seconds)
        while time.time() < end:
            c.sendall(b"x" * 1023 + b"\n")
            time.sleep(0.2)
        c.close()

    serve(host, port, handle, ttl)


def nobacklog(host, port, ttl):
    ls = socket.socket(family(host))
    ls.bind((host, int(port)))
    ls.listen(1)
    time.sleep(float(ttl))


def flood(host, port, n, hold, pause="0"):
    def one():
        s = socket.socket(family(host))
        s.settimeout(float(hold))
        try:
            s.connect((host, int(port)))
            say("flood", s)
            time.sleep(float(pause))
            s.sendall(b"hello\n")
            keep.append(s)
        except OSError as e:
            print("flood error", e, file=sys.stderr, flush=True)

    for _ in range(int(n)):
        threading.Thread(target=one, daemon=True).start()
    time.sleep(float(hold))


def kasilence(host, port, hold):
    s = socket.create_connection((host, int(port)), timeout=5)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPIDLE, 1)
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPINTVL, 1)
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPCNT, 3)
    say("keepalive", s)
    s.sendall(b"PING\r\n")
    s.recv(100)
    keep.append(s)
    time.sleep(float(hold))


def lingerd(host, port, idle, ttl):
    def handle(c):
        c.settimeout(float(idle))
        try:
            while True:
                line = c.recv(4096)
                if not line:
                    c.close()
                    return
                c.sendall(b"pong\n")
        except socket.timeout:
            c.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            c.close()  # zero linger: RST

    serve(host, port, handle, ttl)


COMMANDS = {"redis": b"PING\r\n", "memcached": b"version\r\n", "linger": b"ping\n"}


def pool(*args):
    targets, reuse, hold = args[:-2], float(args[-2]), float(args[-1])

    def stale(kind, host, port):
        s = socket.create_connection((host, int(port)), timeout=5)
        say("stale-" + kind, s)
        s.sendall(COMMANDS[kind])
        s.recv(4096)
        time.sleep(reuse)  # idle in the pool past the server's timeout
        try:
            s.sendall(COMMANDS[kind])
            s.recv(4096)
        except OSError:
            pass
        s.close()

    def watch(kind, host, port):
        s = socket.create_connection((host, int(port)), timeout=5)
        say("watch-" + kind, s)
        s.sendall(COMMANDS[kind])
        s.recv(4096)
        s.settimeout(None)
        select.select([s], [], [], hold)
        s.close()  # the pool noticed the close (or hold ran out)

    threads = []
    for t in targets:
        kind, host, port = t.split(":")
        for f in (stale, watch):
            threads.append(threading.Thread(target=f, args=(kind, host, port), daemon=True))
    for th in threads:
        th.start()
        time.sleep(0.1)
    time.sleep(hold)


def idle(host, port, idle_s, hold):
    idle_s = float(idle_s)

    def conn(role):
        s = socket.create_connection((host, int(port)), timeout=5)
        say(role, s)
        s.sendall(b"PING\r\n")
        s.recv(100)
        keep.append(s)
        return s

    closer, sender, pinger = conn("closes"), conn("sends"), conn("pings")
    start = time.time()
    while time.time() - start < idle_s:
        time.sleep(2)
        pinger.sendall(b"PING\r\n")
        pinger.recv(100)
    closer.close()
    sender.sendall(b"PING\r\n")
    end = start + float(hold)
    while time.time() < end:
        time.sleep(2)
        try:
            pinger.sendall(b"PING\r\n")
            pinger.recv(100)
        except OSError:
            break


def reuse(c, pause, role):
    """Sends a request on c, an http.client connection, after pause seconds
    idle (past the server's keep-alive timeout), then closes it."""
    time.sleep(float(pause))
    try:
        c.request("GET", "/")
        c.getresponse().read()
    except (OSError, http.client.HTTPException) as e:
        print(role, "error", type(e).__name__, file=sys.stderr, flush=True)
    c.close()


def stale(host, port, pause, hold, role="httpclient"):
    import requests

    c = http.client.HTTPConnection(host, int(port), timeout=5)
    c.request("GET", "/")
    say(role, c.sock)
    c.getresponse().read()
    s = requests.Session()
    r = s.get("http://%s/" % urlhost(host, port), timeout=5, stream=True)
    say("session", r.raw._connection.sock)  # its first connection
    r.content
    reuse(c, pause, role)
    s.get("http://%s/" % urlhost(host, port), timeout=5).content
    s.close()
    time.sleep(float(hold))


def pgconn(host, port, role, **tls):
    """Connects with psycopg2 (autocommit: idle, not idle in a
    transaction; tls: sslmode="require" for TLS), says the local port as
    role, and runs a first query."""
    import os
    import psycopg2

    c = psycopg2.connect(host=host, port=int(port), user="postgres", dbname="postgres", connect_timeout=5, **tls)
    c.autocommit = True
    s = socket.socket(fileno=os.dup(c.fileno()))
    say(role, s)
    s.close()  # the duplicate only
    with c.cursor() as cur:
        cur.execute("SELECT 1")
        cur.fetchall()
    return c


def pgstale(c, reuse):
    """Queries on c after reuse seconds idle in the pool, past the
    server's timeout, then closes it."""
    import psycopg2

    time.sleep(float(reuse))
    try:
        with c.cursor() as cur:
            cur.execute("SELECT 2")
    except psycopg2.Error as e:
        print("stale error", type(e).__name__, str(e).strip().replace("\n", " | "), file=sys.stderr, flush=True)
    c.close()


def pgidle(host, port, reuse, n, hold):
    def leak():
        keep.append(pgconn(host, port, "leak"))  # never read, never closed

    def stale():
        pgstale(pgconn(host, port, "stale"), reuse)

    def busy():
        c = pgconn(host, port, "busy")
        for _ in range(int(n)):
            time.sleep(1)
            with c.cursor() as cur:
                cur.execute("SELECT 3")
                cur.fetchall()
        c.close()

    threads = []
    for f in (leak, stale, busy):
        th = threading.Thread(target=f, daemon=True)
        th.start()
        threads.append(th)
        time.sleep(0.1)
    time.sleep(float(hold))


def pgleakstale(host, port, reuse, hold, **tls):
    """Two connections leaked, one reused after reuse s, one closed after
    1 s (tls: pgconn's)."""

    def leak():
        keep.append(pgconn(host, port, "leak", **tls))  # never read, never closed

    def stale():
        pgstale(pgconn(host, port, "stale", **tls), reuse)

    def close():
        c = pgconn(host, port, "close", **tls)
        time.sleep(1)
        c.close()  # Terminate (and close_notify), FIN

    for f in (leak, stale, close, leak):
        threading.Thread(target=f, daemon=True).start()
        time.sleep(0.1)
    time.sleep(float(hold))


def pgtlsidle(host, port, reuse, hold):
    pgleakstale(host, port, reuse, hold, sslmode="require")


def pgbouncer(host, port, reuse, hold):
    def watch():
        c = pgconn(host, port, "watch")
        select.select([c.fileno()], [], [], float(hold))
        c.close()  # the server closed it (or hold ran out): Terminate, FIN

    threading.Thread(target=watch, daemon=True).start()
    time.sleep(0.1)
    pgleakstale(host, port, reuse, hold)


def redispool(host, port, reuse, hold):
    import redis

    def said(role, r):
        # the connection the client holds, or the one its pool keeps idle
        conn = r.connection or r.connection_pool._available_connections[0]
        say(role, conn._sock)

    def pooled(role, **kw):
        r = redis.Redis(host=host, port=int(port), socket_timeout=5, **kw)
        r.set("lab", role)
        said(role, r)
        time.sleep(float(reuse))  # idle in the pool past the server's timeout
        try:
            r.get("lab")  # the pool checks the connection before handing it out
            said("re" + role, r)
        except redis.ConnectionError as e:
            print(role, "error", type(e).__name__, e, file=sys.stderr, flush=True)
        r.connection_pool.disconnect()

    def single():
        r = redis.Redis(host=host, port=int(port), socket_timeout=5, single_connection_client=True)
        r.set("lab", "single")
        said("single", r)
        time.sleep(float(reuse))
        try:
            r.get("lab")  # sent on the connection as it is
        except redis.ConnectionError as e:
            print("single error", type(e).__name__, e, file=sys.stderr, flush=True)
        r.close()
        r.connection_pool.disconnect()

    def leak():
        s = socket.create_connection((host, int(port)), timeout=5)
        say("leak", s)
        s.sendall(b"PING\r\n")
        s.recv(100)
        keep.append(s)  # never read nor closed

    for f in (lambda: pooled("pool"), lambda: pooled("health", health_check_interval=1), single, leak):
        threading.Thread(target=f, daemon=True).start()
        time.sleep(0.1)
    time.sleep(float(hold))


def ftpidle(host, port, n, hold):
    import ftplib

    def login(role):
        f = ftplib.FTP()
        f.connect(host, int(port), timeout=5)
        f.login()  # anonymous
        say(role, f.sock)
        return f

    def leak(pwd):
        f = login("leak")
        if pwd:
            time.sleep(1)
            f.pwd()  # one more command, then idle
        keep.append(f)  # the bug: never read (the 421), never closed

    def noop():
        f = login("noop")
        for _ in range(int(n)):
            time.sleep(1)
            f.voidcmd("NOOP")
        f.quit()

    def quit_():
        f = login("quit")
        time.sleep(1)
        f.pwd()
        f.quit()  # QUIT, 221, and close

    threads = []
    for f, args in ((leak, (False,)), (noop, ()), (quit_, ()), (leak, (True,))):
        th = threading.Thread(target=f, args=args, daemon=True)
        th.start()
        threads.append(th)
        time.sleep(0.1)
    time.sleep(float(hold))


def h2open():
    """An HTTP/2 client connection, its preface to go with the first
    request."""
    import h2.config
    import h2.connection

    c = h2.connection.H2Connection(config=h2.config.H2Configuration(client_side=True))
    c.initiate_connection()
    return c


def h2exchange(s, c, headers, body=None):
    """Sends one request on c over s and reads until its stream ends,
    acknowledging what the server sends (SETTINGS, PING). False when the
    connection closed first."""
    import h2.events

    sid = c.get_next_available_stream_id()
    c.send_headers(sid, headers, end_stream=body is None)
    if body is not None:
        c.send_data(sid, body, end_stream=True)
    s.sendall(c.data_to_send())
    while True:
        data = s.recv(65536)
        if not data:
            return False
        events = c.receive_data(data)
        s.sendall(c.data_to_send())
        if any(isinstance(ev, h2.events.StreamEnded) and ev.stream_id == sid for ev in events):
            return True


def h2drain(role, s, c, hold):
    """Reads s until the server closes it (or HOLD s), saying when a
    GOAWAY came, then closes it. (ssl.SSLError is an OSError.)"""
    import h2.events

    s.settimeout(float(hold))
    try:
        while True:
            data = s.recv(65536)
            if not data:
                break
            for ev in c.receive_data(data):
                if isinstance(ev, h2.events.ConnectionTerminated):
                    print(role, "goaway", ev.error_code, file=sys.stderr, flush=True)
    except OSError as e:
        print(role, "error", type(e).__name__, e, file=sys.stderr, flush=True)
    s.close()


def h2idle(host, port, n, hold):
    def conn(role, close):
        s = socket.create_connection((host, int(port)), timeout=5)
        say(role, s)
        c = h2open()
        h2exchange(s, c, [(":method", "GET"), (":path", "/"), (":scheme", "http"), (":authority", host)])
        if not close:
            keep.append(s)  # the bug: never read (the GOAWAY), never closed
            return
        h2drain(role, s, c, hold)

    leak_and_close(conn, n, hold)


def proxyidle(phost, pport, url, n, hold):
    def conn(role, close):
        c = http.client.HTTPConnection(phost, int(pport), timeout=5)
        c.request("GET", url)
        say(role, c.sock)
        c.getresponse().read()
        if not close:
            keep.append(c)  # the bug: never read (the EOF), never closed
            return
        s = c.sock
        s.settimeout(float(hold))
        try:
            while s.recv(65536):
                pass
        except OSError:
            pass
        c.close()

    leak_and_close(conn, n, hold)


def tlsconn(host, port, role):
    import ssl

    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE  # the lab's self-signed certificate
    c = http.client.HTTPSConnection(host, int(port), timeout=5, context=ctx)
    c.request("GET", "/")
    say(role, c.sock)
    c.getresponse().read()
    return c


def tlsstale(host, port, pause, hold, role):
    reuse(tlsconn(host, port, role), pause, role)
    time.sleep(float(hold))


def tlsclose(host, port, hold, role):
    import os

    c = tlsconn(host, port, role)
    s = c.sock
    s.settimeout(float(hold))
    raw = socket.socket(fileno=os.dup(s.fileno()))  # the TCP stream under TLS
    try:
        while s.recv(65536):  # b"": the server's close_notify (or its FIN)
            pass
        # and its FIN, which follows the close_notify by a few ms: the
        # answer comes after the server's whole close
        select.select([raw], [], [], float(hold))
        raw.recv(1, socket.MSG_PEEK)
        s = s.unwrap()  # our close_notify
    except OSError as e:
        print(role, "error", type(e).__name__, e, file=sys.stderr, flush=True)
    raw.close()
    s.close()
    c.sock = None


def tlssession(host, port, pause, hold):
    import requests
    import urllib3

    urllib3.disable_warnings()  # the lab's self-signed certificate
    s = requests.Session()
    url = "https://%s:%s/" % (host, port)
    s.get(url, timeout=5, verify=False).content
    time.sleep(float(pause))  # past the server's keep-alive timeout
    try:
        s.get(url, timeout=5, verify=False).content
    except requests.RequestException as e:
        print("session error", type(e).__name__, file=sys.stderr, flush=True)
    s.close()
    time.sleep(float(hold))


def aiopool(host, port, pause, hold):
    import asyncio
    import aiohttp

    class Connector(aiohttp.TCPConnector):
        async def _create_connection(self, req, traces, timeout):
            proto = await super()._create_connection(req, traces, timeout)
            print("aio", proto.transport.get_extra_info("sockname")[1], flush=True)
            return proto

    async def main():
        url = "http://%s:%s/" % (host, port)
        timeout = aiohttp.ClientTimeout(total=5)
        async with aiohttp.ClientSession(connector=Connector(), timeout=timeout) as s:

            async def get():
                try:
                    async with s.get(url) as r:
                        await r.read()
                except (aiohttp.ClientError, asyncio.TimeoutError) as e:
                    print("aio error", type(e).__name__, e, file=sys.stderr, flush=True)

            await get()
            await asyncio.sleep(float(pause))  # past the server's keep-alive timeout
            for _ in range(6):
                await get()
        await asyncio.sleep(float(hold))

    asyncio.run(main())


def leak_and_close(conn, n, hold):
    """Start conn(role, close) n+1 times, 0.2 s apart: the second closes,
    the others leak; then wait hold seconds."""
    for i in range(int(n) + 1):
        role = "close" if i == 1 else "leak"
        threading.Thread(target=conn, args=(role, role == "close"), daemon=True).start()
        time.sleep(0.2)
    time.sleep(float(hold))


def spaced(host, port, *pauses):
    for pause in pauses + ("0",):
        c = http.client.HTTPConnection(host, int(port), timeout=5)
        try:
            c.request("GET", "/ok")
            say("spaced", c.sock)
            c.getresponse().read()
        except (OSError, http.client.HTTPException) as e:
            print("spaced error", type(e).__name__, file=sys.stderr, flush=True)
        c.close()
        time.sleep(float(pause))


def sweep(host, port, method, *pauses):
    for pause in pauses + ("0",):
        c = http.client.HTTPConnection(host, int(port), timeout=10)
        try:
            c.request(method, "/", body=b"x=1" if method == "POST" else None)
            # http.client closes its socket after a Connection: close response
            local = c.sock.getsockname()[1]
            r = c.getresponse()
            r.read()
            sys.stdout.flush()
            os.write(1, ("got%d %d\n" % (r.status, local)).encode())
        except (OSError, http.client.HTTPException) as e:
            print("sweep error", type(e).__name__, file=sys.stderr, flush=True)
            if c.sock:
                say("failed", c.sock)
        c.close()
        time.sleep(float(pause))


def mqttsilent(host, port, keepalive, hold):
    cid = b"flowdoc-silent"
    var = b"\x00\x04MQTT\x04\x02" + struct.pack("!H", int(keepalive))  # MQTT 3.1.1, clean session
    body = var + struct.pack("!H", len(cid)) + cid
    s = socket.create_connection((host, int(port)), timeout=5)
    s.sendall(bytes([0x10, len(body)]) + body)  # CONNECT
    if s.recv(4) != b"\x20\x02\x00\x00":  # CONNACK, accepted
        print("silent error: no CONNACK", file=sys.stderr, flush=True)
    say("silent", s)
    keep.append(s)  # the bug: no PINGREQ, never read nor closed
    time.sleep(float(hold))


def mqttping(host, port, keepalive, seconds):
    import paho.mqtt.client as mqtt

    c = mqtt.Client(client_id="flowdoc-ping")
    c.connect(host, int(port), keepalive=int(keepalive))
    c.subscribe("lab/ping")
    say("ping", c.socket())
    c.loop_start()  # its thread sends PINGREQ after KEEPALIVE s without traffic
    time.sleep(float(seconds))
    c.disconnect()
    c.loop_stop()


def h2tls(host, port, n, reuse, hold):
    import ssl

    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE  # the lab's self-signed certificate
    ctx.set_alpn_protocols(["h2"])
    get = [(":method", "GET"), (":path", "/"), (":scheme", "https"), (":authority", host)]

    def conn(role):
        s = ctx.wrap_socket(socket.create_connection((host, int(port)), timeout=5), server_hostname=host)
        if s.selected_alpn_protocol() != "h2":
            print(role, "error: ALPN", s.selected_alpn_protocol(), file=sys.stderr, flush=True)
        say(role, s)
        c = h2open()
        h2exchange(s, c, get)
        if role == "leak":
            keep.append(s)  # the bug: never read (the GOAWAY), never closed
            return
        if role == "cclose":  # the client closes its idle connection
            time.sleep(1)
            c.close_connection()
            s.sendall(c.data_to_send())
            s.close()
            return
        if role == "reuse":  # the next request after the server's close
            time.sleep(float(reuse))
            try:
                c.send_headers(c.get_next_available_stream_id(), get, end_stream=True)
                s.sendall(c.data_to_send())
                print(role, "answer", s.recv(65536)[:16], file=sys.stderr, flush=True)
            except (OSError, ssl.SSLError) as e:
                print(role, "error", type(e).__name__, e, file=sys.stderr, flush=True)
            keep.append(s)
            return
        h2drain(role, s, c, hold)  # "close": read to the server's close

    roles = ["leak"] * int(n) + ["close", "reuse", "cclose"]
    for role in roles:
        threading.Thread(target=conn, args=(role,), daemon=True).start()
        time.sleep(0.2)
    time.sleep(float(hold))


def grpcopts(args):
    opts = []
    for a in args:
        k, v = a.split("=", 1)
        opts.append((k, int(v) if v.lstrip("-").isdigit() else v))
    return opts


def grpcserve(host, port, ttl, *args):
    from concurrent import futures

    import grpc

    opts = [o for o in grpcopts(args) if o[0] != "tls"]
    tls = dict(grpcopts(args)).get("tls")

    def say_(req, ctx):
        print(req.decode(), ctx.peer().rsplit(":", 1)[1], flush=True)
        if req.startswith(b"slow"):
            time.sleep(4)  # a long call: no data on the connection meanwhile
        return req

    srv = grpc.server(futures.ThreadPoolExecutor(max_workers=4), options=opts)
    srv.add_generic_rpc_handlers((grpc.method_handlers_generic_handler("lab.Echo", {"Say": grpc.unary_unary_rpc_method_handler(say_)}),))
    for p in port.split(","):
        addr = "%s:%s" % (host, p)
        if tls:
            cert, key = tls.split(":")
            creds = grpc.ssl_server_credentials([(open(key, "rb").read(), open(cert, "rb").read())])
            srv.add_secure_port(addr, creds)
        else:
            srv.add_insecure_port(addr)
    srv.start()
    srv.wait_for_termination(float(ttl))
    srv.stop(0)


def grpcclient(host, port, role, pause, hold, *args):
    import grpc

    opts = dict(grpcopts(args))
    tls, watch = opts.pop("tls", None), opts.pop("watch", None)
    addr = "%s:%s" % (host, port)
    if tls:
        # the lab's self-signed certificate, for the name it carries
        pem = open(tls, "rb").read()
        opts["grpc.ssl_target_name_override"] = "lab"
        ch = grpc.secure_channel(addr, grpc.ssl_channel_credentials(root_certificates=pem), options=list(opts.items()))
    else:
        ch = grpc.insecure_channel(addr, options=list(opts.items()))
    if watch:
        # a connectivity watch: a thread of grpc's polls the channel, so
        # that it reads (and answers PINGs, sends its own) with no call
        ch.subscribe(lambda state: None, try_to_connect=True)
    say_ = ch.unary_unary("/lab.Echo/Say")

    def call(r):
        try:
            say_(r.encode(), timeout=5)
        except grpc.RpcError as e:
            print(r, "error", e.code(), file=sys.stderr, flush=True)

    call(role)
    if role.endswith("reuse"):
        time.sleep(float(pause))
        call(role + "2")
    time.sleep(float(hold))
    ch.close()


def grpcpings(host, port, role, every, hold, *args):
    import queue

    import grpc

    start = time.time()

    def log(*what):
        print(role, "%.3f s:" % (time.time() - start), *what, file=sys.stderr, flush=True)

    ch = grpc.insecure_channel("%s:%s" % (host, port), options=grpcopts(args))
    states = queue.Queue()
    # a connectivity watch: grpc reads the connection (and sends its
    # keepalive PINGs) with no call running
    ch.subscribe(states.put, try_to_connect=True)
    say_ = ch.unary_unary("/lab.Echo/Say")

    def call():
        try:
            say_(role.encode(), timeout=8)
            log("call ok")
        except grpc.RpcError as e:
            log("call error", e.code().name, repr(e.details()))

    call()
    every, end, ready = float(every), start + float(hold), False
    due = time.time() + every if every > 0 else end
    while time.time() < end:
        try:
            s = states.get(timeout=max(0.001, min(due, end) - time.time()))
        except queue.Empty:
            s = None
        if s is not None:
            log(s.name)
            ready |= s == grpc.ChannelConnectivity.READY
            if s == grpc.ChannelConnectivity.IDLE and ready:
                call()  # the server closed the connection: connect again
        if every > 0 and time.time() >= due:
            call()
            due = time.time() + every
    ch.close()


def grpcleak(host, port, hold):
    s = socket.create_connection((host, int(port)), timeout=5)
    say("leak", s)
    c = h2open()
    hdrs = [(":method", "POST"), (":path", "/lab.Echo/Say"), (":scheme", "http"), (":authority", host), ("content-type", "application/grpc"), ("te", "trailers")]
    # (its request is not "leak": the server prints the request it answers)
    h2exchange(s, c, hdrs, b"\x00" + struct.pack("!I", 3) + b"raw")
    keep.append(s)  # the bug: never read (the GOAWAY), never closed
    time.sleep(float(hold))


def capconnect(kind, host, port, **kw):
    """One client of kind, connected and through its first exchange; its
    socket for say()."""
    if kind == "redis":
        import redis

        r = redis.Redis(host=host, port=int(port), socket_timeout=5, single_connection_client=True)
        r.ping()
        return r, r.connection._sock
    if kind == "pg":
        c = pgconn(host, port, "pghold")
        return c, None  # pgconn said it
    if kind == "ftp":
        import ftplib

        f = ftplib.FTP()
        f.connect(host, int(port), timeout=5)
        f.login()  # anonymous
        return f, f.sock
    if kind == "mqtt":
        import paho.mqtt.client as mqtt

        c = mqtt.Client(client_id="flowdoc-hold-%d-%d" % (os.getpid(), kw["i"]))
        c.connect(host, int(port), keepalive=60)
        c.loop_start()  # reads the CONNACK; PINGREQ after 60 s idle
        return c, c.socket()
    if kind == "memcached":
        s = socket.create_connection((host, int(port)), timeout=5)
        s.sendall(b"version\r\n")
        if not s.recv(4096).startswith(b"VERSION"):
            raise SystemExit("capconnect: memcached refused a holder")
        return s, s
    if kind == "poll":
        s = socket.create_connection((host, int(port)), timeout=5)
        s.sendall(b"GET /poll HTTP/1.1\r\nHost: %s\r\n\r\n" % host.encode())
        return s, s  # the answer never comes: a long poll
    if kind == "http":
        c = http.client.HTTPConnection(host, int(port), timeout=5)
        c.request("GET", "/ok")
        c.getresponse().read()
        return c, c.sock  # idle, kept alive
    raise SystemExit("capconnect: no kind " + kind)


def watchclose(c, s, hold):
    """Close c as soon as its server closes it (as a pool that watches its
    idle connections does), saying "httpevicted PORT"; or after hold."""
    s.settimeout(None)
    t = time.time()
    if select.select([s], [], [], hold)[0]:
        say("httpevicted", s)
        print("capheld: %d closed by the server after %.3f s idle, closed at once" % (s.getsockname()[1], time.time() - t),
              file=sys.stderr, flush=True)
        c.close()


def capheld(kind, host, port, n, hold):
    for i in range(int(n)):
        c, s = capconnect(kind, host, port, i=i)
        if s is not None:
            say(kind + "hold", s)
        keep.append(c)  # held open: the server's cap is full
        if kind == "http":
            threading.Thread(target=watchclose, args=(c, s, float(hold)), daemon=True).start()
    time.sleep(float(hold))
    for c in keep:
        if kind == "mqtt":
            c.disconnect()
            c.loop_stop()
        else:
            c.close()


def caprefused(kind, host, port, n, interval, sslmode=None):
    got = {}

    def note(e):
        k = "%s: %s" % (type(e).__name__, " | ".join(str(e).strip().splitlines()))
        got[k] = got.get(k, 0) + 1

    for i in range(int(n)):
        try:
            if kind == "redis":
                import redis

                # a new client each time, as a process restarting would
                c = redis.Connection(host=host, port=int(port), socket_timeout=5)
                try:
                    c.connect()
                    say(kind + "refused", c._sock)
                    c.send_command("PING")
                    note(Exception(c.read_response()))  # served: PONG
                finally:
                    c.disconnect()
            elif kind == "pg":
                import psycopg2

                kw = {"sslmode": sslmode} if sslmode else {}
                psycopg2.connect(host=host, port=int(port), user="postgres", dbname="postgres", connect_timeout=5, **kw).close()
                note(Exception("served"))
            elif kind == "ftp":
                import ftplib

                f = ftplib.FTP()
                try:
                    f.connect(host, int(port), timeout=5)  # reads the greeting
                    note(Exception("served"))
                except ftplib.Error:
                    say(kind + "refused", f.sock)
                    raise
                finally:
                    f.close()
            elif kind == "mqtt":
                import paho.mqtt.client as mqtt

                res = []
                c = mqtt.Client(client_id="flowdoc-refused-%d-%d" % (os.getpid(), i))
                c.on_connect = lambda c, u, f, rc: res.append("CONNACK rc %d (%s)" % (rc, mqtt.connack_string(rc)))
                c.connect(host, int(port), keepalive=10)  # TCP, then CONNECT sent
                s = c.socket()
                say(kind + "refused", s)
                end = time.time() + 2
                rc = 0
                while not res and rc == 0 and time.time() < end:
                    rc = c.loop(0.1)
                if rc != 0:
                    res.append("loop rc %d (%s)" % (rc, mqtt.error_string(rc)))
                if c.socket() is not None:
                    c.socket().close()
                note(Exception(res[0] if res else "nothing in 2 s"))
            elif kind == "memcached":
                s = socket.create_connection((host, int(port)), timeout=5)
                try:
                    say(kind + "refused", s)
                    s.sendall(b"version\r\n")
                    got_, then = b"", "open"
                    while True:
                        try:
                            b = s.recv(4096)
                        except ConnectionResetError:
                            then = "reset"
                            break
                        if not b:
                            then = "EOF"
                            break
                        got_ += b
                        if got_.startswith(b"VERSION") and got_.endswith(b"\r\n"):
                            break  # served
                    note(Exception("%r, then %s" % (got_.decode(errors="replace"), then)))
                finally:
                    s.close()
            elif kind == "http":
                c = http.client.HTTPConnection(host, int(port), timeout=5)
                try:
                    c.connect()
                    say("httploop", c.sock)
                    c.request("GET", "/ok")
                    r = c.getresponse()
                    r.read()
                    note(Exception("HTTP %d" % r.status))
                finally:
                    c.close()
        except Exception as e:
            note(e)
        time.sleep(float(interval))
    for k, v in sorted(got.items()):
        print("%s %s:%s refused loop: %d x %s" % (kind, host, port, v, k), file=sys.stderr, flush=True)


def pooled(host, port, start, hold, *specs):
    import requests

    url = "http://%s:%s/" % (host, port)
    start = float(start)
    events = []  # (time, spec index, its last)
    for i, spec in enumerate(specs):
        kind, role, times, end = spec.split(":")
        ts = [float(t) for t in times.split(",")]
        for j, t in enumerate(ts):
            events.append((t, i, j == len(ts) - 1))
    events.sort()
    conns = {}  # spec index -> [connection or Session, its port, reconnections]

    def use(i, last):
        kind, role, _, end = specs[i].split(":")
        try:
            if kind == "hc":
                if i not in conns:
                    c = http.client.HTTPConnection(host, int(port), timeout=5)
                    c.request("GET", "/")
                    say(role, c.sock)
                    conns[i] = [c, None]
                else:
                    c = conns[i][0]
                    c.request("GET", "/")
                c.getresponse().read()
            else:
                if i not in conns:
                    conns[i] = [requests.Session(), None, 0]
                s = conns[i][0]
                r = s.get(url, timeout=5, stream=True)
                p = r.raw._connection.sock.getsockname()[1]
                if p != conns[i][1]:
                    if conns[i][1] is not None:
                        n = conns[i][2] = conns[i][2] + 1
                        role += "-new" + ("" if n == 1 else str(n))
                    os.write(1, ("%s %d\n" % (role, p)).encode())
                    conns[i][1] = p
                r.content
        except (OSError, http.client.HTTPException, requests.RequestException) as e:
            print(role, "error", type(e).__name__, file=sys.stderr, flush=True)
        if last and i in conns:
            if end == "close":
                conns[i][0].close()
            else:
                keep.append(conns[i][0])  # never read nor closed

    for t, i, last in events:
        time.sleep(max(0, start + t - time.time()))
        use(i, last)
    time.sleep(max(0, start + float(hold) - time.time()))


def slowread(host, port, path, role, nbytes, pause, then, hold, rcvbuf="0"):
    s = socket.socket()
    if int(rcvbuf):
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, int(rcvbuf))
    s.settimeout(10)
    s.connect((host, int(port)))
    s.sendall(("GET %s HTTP/1.1\r\nHost: lab\r\n\r\n" % path).encode())
    got = b""
    while len(got) < int(nbytes):
        b = s.recv(min(65536, int(nbytes) - len(got)))
        if not b:
            break
        got += b
    say(role, s)
    head, _, body = got.partition(b"\r\n\r\n")
    length = [int(l.split(b":")[1]) for l in head.split(b"\r\n") if l.lower().startswith(b"content-length:")]
    time.sleep(float(pause))  # not reading: the receive buffer fills
    if then == "resume":
        n, end, err = len(body), time.time() + 20, ""
        try:
            while time.time() < end:
                b = s.recv(65536)
                if not b:
                    break
                n += len(b)
        except OSError as e:
            err = ", then %s" % e
        print("slowread: %s %d: read again after %s s: %d of %s body bytes, then EOF%s" % (role, s.getsockname()[1], pause, n, length[0] if length else "?", err), file=sys.stderr, flush=True)
    elif then == "hold":
        keep.append(s)
        time.sleep(float(hold))
    s.close()


def streamread(host, port, path, pause):
    import requests

    s = requests.Session()
    r = s.get("http://%s:%s%s" % (host, port, path), timeout=10, stream=True)
    say("stream", r.raw._connection.sock)
    next(r.iter_content(65536))
    time.sleep(float(pause))  # not reading: the receive buffer fills
    r.close()  # the rest unread
    s.close()


def wsserve(host, port, ttl):
    import asyncio

    from aiohttp import web

    async def ws(request):
        w = web.WebSocketResponse()  # autoping, no heartbeat, no receive timeout
        await w.prepare(request)
        async for msg in w:
            if msg.type == web.WSMsgType.TEXT:
                await w.send_str(msg.data)
        return w

    async def main():
        app = web.Application()
        app.router.add_get("/ws", ws)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        await web.TCPSite(runner, host, int(port)).start()
        await asyncio.sleep(float(ttl))
        await runner.cleanup()

    asyncio.run(main())


def wsclient(host, port, role, kind, hold):
    start = time.time()

    def log(*what):
        print(role, "%.3f s:" % (time.time() - start), *what, file=sys.stderr, flush=True)

    if kind == "raw":
        import base64

        s = socket.create_connection((host, int(port)), timeout=5)
        say(role, s)
        key = base64.b64encode(os.urandom(16)).decode()
        s.sendall(("GET /ws HTTP/1.1\r\nHost: %s:%s\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                   "Sec-WebSocket-Key: %s\r\nSec-WebSocket-Version: 13\r\n\r\n" % (host, port, key)).encode())
        got = b""
        while b"\r\n\r\n" not in got:
            b = s.recv(4096)
            if not b:
                break
            got += b
        log("handshake:", got.split(b"\r\n", 1)[0].decode())
        body, mask = role.encode(), os.urandom(4)
        s.sendall(bytes([0x81, 0x80 | len(body)]) + mask + bytes(c ^ mask[i % 4] for i, c in enumerate(body)))
        echo = got.split(b"\r\n\r\n", 1)[1]
        while len(echo) < 2 + len(body):
            b = s.recv(4096)
            if not b:
                break
            echo += b
        log("echo:", echo[2:])
        keep.append(s)  # the bug: never read again, never closed
        time.sleep(float(hold))
        return

    import asyncio

    import aiohttp

    async def main():
        async with aiohttp.ClientSession() as sess:
            heartbeat = 1.0 if kind == "beat" else None
            async with sess.ws_connect("http://%s:%s/ws" % (host, port), heartbeat=heartbeat) as w:
                print(role, w.get_extra_info("sockname")[1], flush=True)
                await w.send_str(role)
                log("echo:", (await w.receive()).data)

                async def read():
                    # (receive() answers pings and reads pongs itself)
                    while True:
                        msg = await w.receive()
                        log("got", msg.type.name, msg.data, msg.extra or "")
                        if msg.type in (aiohttp.WSMsgType.CLOSED, aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.ERROR):
                            log("closed: close code", w.close_code, "exception", repr(w.exception()))
                            return

                try:
                    await asyncio.wait_for(read(), start + float(hold) - time.time())
                except asyncio.TimeoutError:
                    log("held to the end")

    asyncio.run(main())


def tcpprobe(host, port, n, interval):
    for _ in range(int(n)):
        s = socket.socket()
        s.settimeout(1)
        try:
            s.connect((host, int(port)))
            say("tcpprobe", s)
        except OSError as e:
            print("tcpprobe error", type(e).__name__, file=sys.stderr, flush=True)
        s.close()
        time.sleep(float(interval))


def session(host, port, n, interval, *paths):
    import requests

    seen = set()
    with requests.Session() as s:
        for i in range(int(n)):
            r = s.get("http://%s:%s%s" % (host, port, paths[i % len(paths)]), timeout=5, stream=True)
            sock = r.raw._connection.sock
            if sock.getsockname()[1] not in seen:
                seen.add(sock.getsockname()[1])
                say("session", sock)
            r.content
            time.sleep(float(interval))


def amqpparams(host, port, vhost="/", stack_timeout=10):
    import pika

    return pika.ConnectionParameters(host=host, port=int(port), virtual_host=vhost, heartbeat=2,
                                     connection_attempts=1, socket_timeout=5, stack_timeout=float(stack_timeout))


def amqpsock(c):
    """The socket of a pika BlockingConnection."""
    return c._impl._transport._sock


def amqpidle(host, port, role, hold):
    import pika

    c = pika.BlockingConnection(amqpparams(host, port))
    c.channel()
    say(role, amqpsock(c))
    c.sleep(float(hold))  # pika's I/O loop: heartbeats every second
    c.close()


def amqpheld(host, port, vhost, role, n, hold):
    import pika

    conns = []
    for _ in range(int(n)):
        c = pika.BlockingConnection(amqpparams(host, port, vhost))
        say(role, amqpsock(c))
        conns.append(c)
    end = time.time() + float(hold)
    while time.time() < end:
        for c in conns:
            c.process_data_events(0)  # its heartbeats
        time.sleep(0.1)
    for c in conns:
        c.close()


def amqpclose(host, port, pause):
    import pika

    c = pika.BlockingConnection(amqpparams(host, port))
    say("close", amqpsock(c))
    ch = c.channel()
    q = ch.queue_declare(queue="", exclusive=True).method.queue
    ch.basic_publish(exchange="", routing_key=q, body=b"flowdoc")
    _, _, body = ch.basic_get(queue=q, auto_ack=True)
    if body != b"flowdoc":
        print("amqpclose: got %r" % body, file=sys.stderr, flush=True)
    c.sleep(float(pause))
    c.close()  # Connection.Close, Close-Ok, FIN


def amqprefused(host, port, vhost, n, interval, stack_timeout=10):
    import pika

    for i in range(int(n)):
        t = time.time()
        try:
            c = pika.BlockingConnection(amqpparams(host, port, vhost, stack_timeout))
            say("served", amqpsock(c))
            got = "served"
            c.close()
        except Exception as e:
            got = "%s: %s" % (type(e).__name__, e)
        print("amqprefused %s %d: %s after %.3f s" % (port, i + 1, got, time.time() - t), file=sys.stderr, flush=True)
        time.sleep(float(interval))


def amqpraw(host, port, role, mode, hold):
    s = socket.create_connection((host, int(port)), timeout=5)
    say(role, s)
    t = time.time()
    if mode == "header":
        s.sendall(b"AMQP\x00\x00\x09\x01")
    s.settimeout(float(hold))
    got, end = b"", "still open after %s s" % hold
    try:
        while True:
            b = s.recv(4096)
            if not b:
                end = "EOF"
                break
            got += b
    except OSError as e:
        end = repr(e)
    print("amqpraw: %s %d: %s after %.2f s, having got %d bytes %r" % (role, s.getsockname()[1], end, time.time() - t, len(got), got[:12]),
          file=sys.stderr, flush=True)
    s.close()


def mysqlpool(host, port, idles, reuse, pings, hold):
    import pymysql

    t0 = time.time()

    def connect(role):
        c = pymysql.connect(host=host, port=int(port), user="root", autocommit=True,
                            connect_timeout=5, read_timeout=5, write_timeout=5)
        say(role, c._sock)
        return c

    def query(c, sql):
        with c.cursor() as cur:
            cur.execute(sql)
            return cur.fetchall()

    def log(role, port, what):
        # one write per line: the threads log at once
        os.write(2, ("mysqlpool: %.3f s: %s %d: %s\n" % (time.time() - t0, role, port, what)).encode())

    def pooled(idle):
        c = connect("pool")
        p = c._sock.getsockname()[1]
        query(c, "SELECT 1")
        time.sleep(idle)  # idle in the pool, past the proxy's timeout
        try:
            query(c, "SELECT 2")  # sent on the connection as it is
            log("pool", p, "SELECT 2 answered after %.1f s idle" % idle)
        except pymysql.MySQLError as e:
            log("pool", p, "after %.1f s idle: %s %s" % (idle, type(e).__name__, e))
            c = connect("repool")  # the pool replaces it
            query(c, "SELECT 2")
        c.close()

    def ping():
        c = connect("ping")
        p = c._sock.getsockname()[1]
        for i in range(int(pings)):
            try:
                query(c, "SELECT 1")
            except pymysql.MySQLError as e:
                log("ping", p, "SELECT 1 #%d: %s %s" % (i + 1, type(e).__name__, e))
                return
            time.sleep(1)
        log("ping", p, "%s pings answered, closed" % pings)
        c.close()

    def validated(role):
        c = connect(role)
        s = c._sock
        p = s.getsockname()[1]
        query(c, "SELECT 1")
        time.sleep(float(reuse))
        if role == "preping":
            c.ping(reconnect=True)  # COM_PING; on an error, connects anew
            if c._sock.getsockname()[1] != p:
                say("re" + role, c._sock)
                log(role, p, "ping failed after %s s idle, reconnected" % reuse)
        elif select.select([s], [], [], 0)[0]:
            eof = s.recv(1, socket.MSG_PEEK) == b""
            log(role, p, "readable after %s s idle (%s), dropped" % (reuse, "EOF" if eof else "data"))
            if role == "validate":
                c._force_close()  # the socket closed, no COM_QUIT
            else:
                c.close()  # COM_QUIT, then the socket closed
            c = connect("re" + role)
        query(c, "SELECT 2")
        c.close()

    fs = [lambda i=i: pooled(float(i)) for i in idles.split(",")]
    fs += [ping, lambda: validated("validate"), lambda: validated("validatequit"), lambda: validated("preping")]
    for f in fs:
        threading.Thread(target=f, daemon=True).start()
        time.sleep(0.05)
    time.sleep(float(hold))


def redisreuse(host, port, reuse, hold):
    import redis

    def pooled(role, **kw):
        r = redis.Redis(host=host, port=int(port), socket_timeout=5, **kw)
        r.set("lab", role)
        c = r.connection_pool._available_connections[0]
        p = c._sock.getsockname()[1]
        say(role, c._sock)
        time.sleep(float(reuse))  # idle in the pool past the proxy's timeout
        try:
            r.get("lab")  # the pool checks the connection before handing it out
            if c._sock.getsockname()[1] != p:
                say("redisre" + role[5:], c._sock)
                os.write(2, ("redisreuse: %s %d: closed by the peer after %s s idle, the pool connected anew\n" % (role, p, reuse)).encode())
        except redis.ConnectionError as e:
            os.write(2, ("redisreuse: %s %d: %s %s\n" % (role, p, type(e).__name__, e)).encode())
        r.connection_pool.disconnect()

    for f in (lambda: pooled("redispool"), lambda: pooled("redishealth", health_check_interval=1)):
        threading.Thread(target=f, daemon=True).start()
        time.sleep(0.05)
def ldapmsg(msgid, op):
    """An LDAPMessage: SEQUENCE { messageID, protocolOp } (short lengths)."""
    body = b"\x02\x01" + bytes([msgid]) + op
    return b"\x30" + bytes([len(body)]) + body


def ldapidle(host, port, dn, password, base, hold):
    import ldap3

    t0 = time.time()

    def log(role, what):
        print("ldapidle %s at %.3f s: %s" % (role, time.time() - t0, what), file=sys.stderr, flush=True)

    def conn(role, strategy=ldap3.SYNC):
        c = ldap3.Connection(ldap3.Server(host, port=int(port), get_info=ldap3.NONE, connect_timeout=5),
                             dn, password, client_strategy=strategy, auto_bind=True, receive_timeout=5)
        say(role, c.socket)
        return c

    def search(role, c, flt="(uid=u1)"):
        try:
            c.search(base, flt, attributes=["cn"])
            log(role, "%s, %d entries" % (c.result["description"], len(c.entries)))
        except Exception as e:
            log(role, "%s: %s" % (type(e).__name__, e))

    def stale(role, reuse, strategy=ldap3.SYNC):
        c = conn(role, strategy)
        search(role, c)
        first = c.socket.getsockname()[1]
        time.sleep(reuse)  # idle past slapd's idletimeout
        search(role, c)  # sent on the connection as it is
        if strategy == ldap3.RESTARTABLE:
            try:
                if c.socket.getsockname()[1] != first:
                    say(role + "-new", c.socket)
            except Exception as e:
                log(role, "its socket: %s: %s" % (type(e).__name__, e))
        try:
            c.unbind()
        except Exception as e:
            log(role, "unbind: %s: %s" % (type(e).__name__, e))

    def reuse2():
        c = conn("reuse2")
        for i in range(3):
            if i:
                time.sleep(2)
            search("reuse2", c)
        c.unbind()

    def busy():
        c = conn("busy")
        for i in range(14):
            if i:
                time.sleep(1)
            c.rebind(dn, password)
            search("busy", c, "(objectClass=inetOrgPerson)")  # more entries than sizelimit
        c.unbind()

    def silent(role, read):
        s = socket.create_connection((host, int(port)), timeout=5)
        say(role, s)
        if not read:
            keep.append(s)  # never read nor closed
            return
        s.settimeout(float(hold))
        got = s.recv(4096)
        log(role, "got %d bytes %r" % (len(got), got[:16]))
        s.close()

    def flood():
        s = socket.create_connection((host, int(port)), timeout=5)
        say("flood", s)
        bind = ldapmsg(1, b"\x60\x07\x02\x01\x03\x04\x00\x80\x00")  # anonymous simple bind
        # base "", scope base, (objectClass=*), no attributes: the root DSE
        srch = b"\x04\x00\x0a\x01\x00\x0a\x01\x00\x02\x01\x00\x02\x01\x00\x01\x01\x00\x87\x0bobjectClass\x30\x00"
        s.sendall(bind + b"".join(ldapmsg(i, b"\x63" + bytes([len(srch)]) + srch) for i in range(2, 12)))
        s.settimeout(float(hold))
        got, end = b"", "still open"
        try:
            while True:
                b = s.recv(4096)
                if not b:
                    end = "EOF"
                    break
                got += b
        except OSError as e:
            end = repr(e)
        log("flood", "%s having got %d bytes" % (end, len(got)))
        s.close()

    for f in (lambda: stale("stale", 4.9), lambda: stale("stale5", 5.4), lambda: stale("restart", 5.0, ldap3.RESTARTABLE),
              reuse2, busy, lambda: silent("silent", False), lambda: silent("silentread", True), flood):
        threading.Thread(target=f, daemon=True).start()
        time.sleep(0.1)
    time.sleep(float(hold))


def smtphold(host, port, hold):
    import smtplib

    t0 = time.time()

    def log(role, what):
        print("smtphold %s at %.3f s: %s" % (role, time.time() - t0, what), file=sys.stderr, flush=True)

    def watch(c):
        s = c.sock
        s.settimeout(None)
        if not select.select([s], [], [], float(hold))[0]:
            log("smtpwatch", "nothing from the server in %s s" % hold)
            return
        try:
            log("smtpwatch", "readable: %r" % (c.getreply(),))
        except Exception as e:
            log("smtpwatch", "%s: %s" % (type(e).__name__, e))
        c.close()
        log("smtpwatch", "closed")

    for role in ("smtpwatch", "smtpidle"):
        c = smtplib.SMTP(host, int(port), local_hostname="client.lab.example", timeout=5)
        code, msg = c.ehlo()
        log(role, "EHLO: %d %s" % (code, msg.splitlines()[0].decode()))
        say(role, c.sock)
        keep.append(c)  # held open: one of the two connections the server allows
        if role == "smtpwatch":
            threading.Thread(target=watch, args=(c,), daemon=True).start()
    time.sleep(float(hold))


def smtprefused(host, port, n, interval):
    import smtplib

    got = {}
    for _ in range(int(n)):
        c = smtplib.SMTP(local_hostname="client.lab.example", timeout=5)
        try:
            code, msg = c.connect(host, int(port))  # the greeting read
            say("smtprefused", c.sock)
            if code != 220:
                c.close()  # as smtplib.SMTP(host) does, then raises SMTPConnectError
                k = "SMTPConnectError: %d %s" % (code, msg.decode(errors="replace"))
            else:
                c.ehlo()
                c.quit()
                k = "served"
        except Exception as e:
            k = "%s: %s" % (type(e).__name__, e)
            c.close()
        got[k] = got.get(k, 0) + 1
        time.sleep(float(interval))
    for k, v in sorted(got.items()):
        print("smtplib %s:%s refused loop: %d x %s" % (host, port, v, k), file=sys.stderr, flush=True)


def smtpreuse(host, port, pause):
    import smtplib

    t0 = time.time()
    c = smtplib.SMTP(host, int(port), local_hostname="client.lab.example", timeout=5)
    c.ehlo()
    say("smtpreuse", c.sock)
    time.sleep(float(pause))  # idle in the pool, never read
    try:
        c.sendmail("app@client.lab.example", ["root@lab.example"], b"Subject: lab\r\n\r\nreused\r\n")
        what = "sent"
    except Exception as e:
        what = "%s: %s" % (type(e).__name__, e)
    print("smtpreuse at %.3f s: sendmail after %s s idle: %s" % (time.time() - t0, pause, what), file=sys.stderr, flush=True)
    c.close()


def smtperrors(host, port, n):
    import smtplib

    t0 = time.time()
    c = smtplib.SMTP(host, int(port), local_hostname="client.lab.example", timeout=10)
    c.ehlo()
    say("smtperrors", c.sock)
    for i in range(int(n)):
        try:
            code, msg = c.docmd("XLAB")
            print("smtperrors at %.3f s: XLAB %d: %d %s" % (time.time() - t0, i + 1, code, msg.decode(errors="replace")),
                  file=sys.stderr, flush=True)
        except Exception as e:
            print("smtperrors at %.3f s: XLAB %d: %s: %s" % (time.time() - t0, i + 1, type(e).__name__, e),
                  file=sys.stderr, flush=True)
            break
    c.close()


def imaphold(host, port, user, password, hold):
    import imaplib

    t0 = time.time()
    for _ in range(2):
        c = imaplib.IMAP4(host, int(port), timeout=5)
        typ, dat = c.login(user, password)
        say("imaphold", c.sock)
        typ2, dat2 = c.select("INBOX")
        print("imaphold at %.3f s: LOGIN %s %r, SELECT %s %r" % (time.time() - t0, typ, dat, typ2, dat2),
              file=sys.stderr, flush=True)
        keep.append(c)  # held open, logged in: one of the two the user may have from this host
    time.sleep(float(hold))


def imaprefused(host, port, user, password, n, interval):
    import imaplib

    got = {}
    for _ in range(int(n)):
        try:
            with imaplib.IMAP4(host, int(port), timeout=5) as c:
                say("imaprefused", c.sock)
                c.login(user, password)
                c.select("INBOX")
                k = "served"
        except Exception as e:
            k = "%s: %s" % (type(e).__name__, e)
        got[k] = got.get(k, 0) + 1
        time.sleep(float(interval))
    for k, v in sorted(got.items()):
        print("imaplib %s:%s refused loop: %d x %s" % (host, port, v, k), file=sys.stderr, flush=True)


def imapsession(host, port, user, password):
    import imaplib

    c = imaplib.IMAP4(host, int(port), timeout=5)
    say("imapsession", c.sock)
    c.login(user, password)
    typ, dat = c.select("INBOX")
    bye = c.logout()
    print("imapsession: SELECT %s %r, LOGOUT %r" % (typ, dat, bye), file=sys.stderr, flush=True)


def imapsilent(host, port, hold):
    s = socket.create_connection((host, int(port)), timeout=5)
    say("imapsilent", s)
    print("imapsilent: greeting %r" % s.recv(4096), file=sys.stderr, flush=True)
    keep.append(s)
    time.sleep(float(hold))


def unbound_query(name, ka=False):
    import dns.edns
    import dns.message

    opts = [dns.edns.GenericOption(11, b"")] if ka else None
    return dns.message.make_query(name, "A", use_edns=0, options=opts)


def unbound_keepalive(r):
    """The timeout an answer's EDNS TCP keepalive option advertises, in s."""
    for o in r.options:
        if int(o.otype) == 11 and len(o.data) == 2:
            return ((o.data[0] << 8) | o.data[1]) / 10.0
    return None


def unboundstale(host, port, pause):
    import dns.query

    port = int(port)
    t0 = time.time()
    s = socket.create_connection((host, port), timeout=5)
    say("unboundstale", s)
    r = dns.query.tcp(unbound_query("www.lab.example"), host, port=port, sock=s, timeout=5)
    print("unboundstale at %.3f s: %s" % (time.time() - t0, r.answer[0].to_text()), file=sys.stderr, flush=True)
    time.sleep(float(pause))
    try:
        # The same socket, after the server's idle timeout: what a pool does.
        r = dns.query.tcp(unbound_query("db.lab.example"), host, port=port, sock=s, timeout=5)
        print("unboundstale at %.3f s: reused: %s" % (time.time() - t0, r.answer[0].to_text()), file=sys.stderr, flush=True)
        s.close()
        return
    except Exception as e:
        print("unboundstale at %.3f s: reused: %s %r" % (time.time() - t0, type(e).__name__, e), file=sys.stderr, flush=True)
    s.close()
    s = socket.create_connection((host, port), timeout=5)
    say("unboundrestale", s)
    r = dns.query.tcp(unbound_query("db.lab.example"), host, port=port, sock=s, timeout=5)
    print("unboundrestale at %.3f s: %s" % (time.time() - t0, r.answer[0].to_text()), file=sys.stderr, flush=True)
    s.close()


def unboundspaced(host, port, n, interval):
    import dns.query

    port = int(port)
    s = socket.create_connection((host, port), timeout=5)
    say("unboundspaced", s)
    for i in range(int(n)):
        if i:
            time.sleep(float(interval))
        dns.query.tcp(unbound_query("www.lab.example"), host, port=port, sock=s, timeout=5)
    print("unboundspaced: %s queries %s s apart, answered" % (n, interval), file=sys.stderr, flush=True)
    s.close()


def unboundsilent(host, port, role, mode, hold):
    s = socket.create_connection((host, int(port)), timeout=float(hold))
    say(role, s)
    t0 = time.time()
    if mode == "leak":
        keep.append(s)  # never read nor closed
        time.sleep(float(hold))
        return
    try:
        d = s.recv(512)
        print("%s: %r after %.3f s, closed" % (role, d, time.time() - t0), file=sys.stderr, flush=True)
    except OSError as e:
        print("%s: %r after %.3f s" % (role, e, time.time() - t0), file=sys.stderr, flush=True)
    s.close()


def unboundka(host, port, n, interval):
    import dns.query

    port = int(port)
    t0 = time.time()
    s = socket.create_connection((host, port), timeout=5)
    say("unboundka", s)
    ka = None
    for i in range(int(n)):
        if i:
            time.sleep(float(interval))
        r = dns.query.tcp(unbound_query("www.lab.example", True), host, port=port, sock=s, timeout=5)
        ka = unbound_keepalive(r)
        print("unboundka at %.3f s: keepalive %s s" % (time.time() - t0, ka), file=sys.stderr, flush=True)
    # RFC 7828: the client closes before the timeout the server gave.
    time.sleep(max((ka or 0) - 0.5, 0))
    print("unboundka at %.3f s: closed" % (time.time() - t0), file=sys.stderr, flush=True)
    s.close()


def unboundqueued(host, port, n, last):
    import dns.query

    port = int(port)
    t0 = time.time()

    def silent(s, role):
        try:
            d = s.recv(512)
            print("%s %d: %r %.3f s after its connect, closed" % (role, s.getsockname()[1], d, time.time() - t0),
                  file=sys.stderr, flush=True)
        except OSError as e:
            print("%s: %r" % (role, e), file=sys.stderr, flush=True)
        s.close()

    def one(s):
        p = s.getsockname()[1]
        t1 = time.time()
        try:
            r = dns.query.tcp(unbound_query("db.lab.example", True), host, port=port, sock=s, timeout=5)
            t2 = time.time()
            eof = s.recv(512)
            print("unboundqueued %d: answered after %.3f s, keepalive %s s; %r %.3f s later, closed"
                  % (p, t2 - t1, unbound_keepalive(r), eof, time.time() - t2), file=sys.stderr, flush=True)
        except Exception as e:
            print("unboundqueued %d: %s %r after %.3f s" % (p, type(e).__name__, e, time.time() - t1), file=sys.stderr, flush=True)
        s.close()

    first = socket.create_connection((host, port), timeout=5)
    say("unboundcapfirst", first)
    ts = [threading.Thread(target=silent, args=(first, "unboundcapfirst"))]
    for _ in range(int(n)):
        s = socket.create_connection((host, port), timeout=5)
        say("unboundqueued", s)
        ts.append(threading.Thread(target=one, args=(s,)))
    for t in ts:
        t.start()
    time.sleep(float(last))
    s = socket.create_connection((host, port), timeout=5)
    say("unboundcaplast", s)
    ts.append(threading.Thread(target=silent, args=(s, "unboundcaplast")))
    ts[-1].start()
    for t in ts:
        t.join()

def ircraw(host, port, hold):
    t0 = time.time()
    socks = {}
    for role, first in (("ircsilent", b""), ("ircnick", b"NICK lurker\r\n")):
        s = socket.create_connection((host, int(port)), timeout=5)
        say(role, s)
        if first:
            s.sendall(first)
        socks[s] = [role, b""]
    end = t0 + float(hold)
    while socks and time.time() < end:
        for s in select.select(list(socks), [], [], max(0.0, end - time.time()))[0]:
            role, got = socks[s]
            try:
                b = s.recv(4096)
            except OSError as e:
                b, what = b"", "%s" % e
            else:
                what = "EOF"
            if b:
                socks[s][1] += b
                continue
            print("ircraw %s at %.3f s: %s, having got %d bytes %r" % (role, time.time() - t0, what, len(got), got[:80]),
                  file=sys.stderr, flush=True)
            s.close()
            del socks[s]
    for s, (role, got) in socks.items():
        print("ircraw %s: still open after %s s, having got %d bytes" % (role, hold, len(got)), file=sys.stderr, flush=True)
        s.close()


def uwsgistale(host, port, role, pause):
    import requests

    t0 = time.time()
    c = http.client.HTTPConnection(host, int(port), timeout=5)
    c.request("GET", "/")
    say(role + "hc", c.sock)
    r = c.getresponse()
    r.read()
    print("%shc: %d %s, Connection: %s" % (role, r.status, r.reason, r.getheader("Connection")), file=sys.stderr, flush=True)
    s = requests.Session()
    r = s.get("http://%s/" % urlhost(host, port), timeout=5, stream=True)
    say(role + "rs", r.raw._connection.sock)  # its first connection
    r.content
    time.sleep(float(pause))
    try:
        c.request("GET", "/")
        r = c.getresponse()
        r.read()
        got = "%d" % r.status
    except (OSError, http.client.HTTPException) as e:
        got = "%s: %s" % (type(e).__name__, e)
    print("%shc: its next GET after %.1f s idle got %s" % (role, float(pause), got), file=sys.stderr, flush=True)
    c.close()
    try:
        r = s.get("http://%s/" % urlhost(host, port), timeout=5, stream=True)
        if r.raw._connection is not None and r.raw._connection.sock is not None:
            say(role + "rs2", r.raw._connection.sock)  # the connection it used
        r.content
        got = "%d" % r.status_code
    except Exception as e:
        got = "%s: %s" % (type(e).__name__, e)
    print("%srs: its next GET after %.1f s idle got %s (%.2f s after the start)" % (role, float(pause), got, time.time() - t0),
          file=sys.stderr, flush=True)
    s.close()


def uwsgisilent(host, port, role, hold):
    s = socket.create_connection((host, int(port)), timeout=5)
    say(role, s)
    t0 = time.time()
    s.settimeout(float(hold))
    try:
        b = s.recv(4096)
        got = "EOF" if not b else "%r" % b[:60]
    except OSError as e:
        got = "%s: %s" % (type(e).__name__, e)
    print("%s: %s after %.2f s without sending, closing" % (role, got, time.time() - t0), file=sys.stderr, flush=True)
def natsraw(host, port, role, mode, hold):
    s = socket.create_connection((host, int(port)), timeout=float(hold))
    say(role, s)
    t0 = time.time()
    if mode == "silent":
        keep.append(s)  # never read, never closed: the server's -ERR and FIN wait unread
        time.sleep(float(hold))
        return
    got = b""
    try:
        while True:
            b = s.recv(4096)
            if not b:
                break
            got += b
    except OSError as e:
        got += ("<%s>" % e).encode()
    print("natsraw %s: EOF after %.3f s, read %r" % (role, time.time() - t0, got[-80:]), file=sys.stderr, flush=True)
    s.close()


def tinyproxyplain(phost, pport, url, pause, hold):
    import requests

    t0 = time.time()

    def log(msg):
        print("tinyproxyplain +%.3f s: %s" % (time.time() - t0, msg), file=sys.stderr, flush=True)

    def get(role):
        c = http.client.HTTPConnection(phost, int(pport), timeout=5)
        c.request("GET", url)
        say(role, c.sock)
        r = c.getresponse()
        r.read()
        log("%s: %d %s, %s, Connection: %s" % (role, r.status, r.reason, "HTTP/1.%d" % (r.version - 10), r.getheader("Connection")))
        return c

    leak = get("plainleak")
    keep.append(leak)  # the bug: never read (the EOF), never closed
    c = get("plainclose")
    s = c.sock
    s.settimeout(float(hold))
    try:
        while s.recv(65536):
            pass
        log("plainclose: EOF, closing")
    except OSError as e:
        log("plainclose: %s" % type(e).__name__)
    c.close()
    stale = get("plainstale")
    ses = requests.Session()
    proxies = {"http": "http://%s" % urlhost(phost, pport)}
    r = ses.get(url, proxies=proxies, timeout=5, stream=True)
    say("plainsession", r.raw._connection.sock)  # its first connection
    r.content
    log("plainsession: %d, Connection: %s" % (r.status_code, r.headers.get("Connection")))
    time.sleep(float(pause))
    try:
        stale.request("GET", url)
        r = stale.getresponse()
        r.read()
        got = "%d" % r.status
    except (OSError, http.client.HTTPException) as e:
        got = "%s: %s" % (type(e).__name__, e)
    log("plainstale: its next GET after %.1f s idle got %s" % (float(pause), got))
    stale.close()
    try:
        r = ses.get(url, proxies=proxies, timeout=5, stream=True)
        if r.raw._connection is not None and r.raw._connection.sock is not None:
            say("plainsession2", r.raw._connection.sock)  # the connection it used
        r.content
        got = "%d" % r.status_code
    except Exception as e:
        got = "%s: %s" % (type(e).__name__, e)
    log("plainsession: its next GET after %.1f s idle got %s" % (float(pause), got))
    ses.close()
    time.sleep(float(hold))


def tinyproxytunnel(phost, pport, host, port, role, mode, pause, hold):
    import ssl

    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE  # the lab's self-signed certificate
    c = http.client.HTTPSConnection(phost, int(pport), timeout=5, context=ctx)
    c.set_tunnel(host, int(port))
    c.request("GET", "/ok")
    say(role, c.sock)
    r = c.getresponse()
    r.read()
    t0 = time.time()

    def log(msg):
        print("tinyproxytunnel %s: %s (+%.3f s after its response)" % (role, msg, time.time() - t0), file=sys.stderr, flush=True)

    if mode == "idle":
        keep.append(c)  # never read, never closed: the tunnel's close waits unread
        time.sleep(float(hold))
        return
    if mode == "read":
        s = c.sock
        s.settimeout(float(hold))
        try:
            b = s.recv(65536)
            log("read %s" % ("EOF" if not b else "%d bytes" % len(b)))
        except OSError as e:
            log("read: %s: %s" % (type(e).__name__, e))
        c.close()
        return
    time.sleep(float(pause))
    if mode == "close":
        log("closing")
        c.close()
        return
    try:
        c.request("GET", "/ok")
        r = c.getresponse()
        r.read()
        got = "%d" % r.status
    except (OSError, http.client.HTTPException) as e:
        got = "%s: %s" % (type(e).__name__, e)
    log("its next GET got %s" % got)
    c.close()
    time.sleep(float(hold))


def tinyproxysilent(phost, pport, role, mode, hold, url="http://lab/"):
    s = socket.create_connection((phost, int(pport)), timeout=5)
    say(role, s)
    t0 = time.time()
    if mode == "silent":
        keep.append(s)  # never read, never closed
        time.sleep(float(hold))
        return
    if mode == "half":
        host = url.split("/")[2]
        s.sendall(("GET %s HTTP/1.1\r\nHost: %s\r\n" % (url, host)).encode())
    s.settimeout(float(hold))
    got = b""
    try:
        while True:
            b = s.recv(65536)
            if not b:
                break
            got += b
    except OSError as e:
        got += ("<%s>" % e).encode()
    line = got.split(b"\r\n", 1)[0]
    print("tinyproxysilent %s: EOF after %.3f s, %d bytes: %r" % (role, time.time() - t0, len(got), line[:60]), file=sys.stderr, flush=True)
    s.close()


def eximhold(host, port, role, n, every, quit):
    import smtplib

    t0 = time.time()

    def log(p, what):
        print("eximhold %s %d at %.3f s: %s" % (role, p, time.time() - t0, what), file=sys.stderr, flush=True)

    def held(c, p):
        end = t1 + float(quit)
        while time.time() + float(every) < end:
            time.sleep(float(every))
            try:
                code, msg = c.noop()
            except Exception as e:
                log(p, "NOOP: %s: %s" % (type(e).__name__, e))
                c.close()
                return
        time.sleep(max(0.0, end - time.time()))
        try:
            code, msg = c.quit()
            log(p, "QUIT: %d %s" % (code, msg.decode(errors="replace")))
        except Exception as e:
            log(p, "QUIT: %s: %s" % (type(e).__name__, e))
            c.close()

    held_ = []
    for _ in range(int(n)):
        c = smtplib.SMTP(host, int(port), local_hostname="client.lab.example", timeout=5)
        code, msg = c.ehlo()
        say(role, c.sock)
        p = c.sock.getsockname()[1]
        log(p, "EHLO: %d %s" % (code, msg.splitlines()[0].decode()))
        held_.append((c, p))
    t1 = time.time()  # the QUIT clock starts with all N held
    threads = [threading.Thread(target=held, args=cp) for cp in held_]
    for t in threads:
        t.start()
    for t in threads:
        t.join()


def eximsilent(host, port, role, mode, hold):
    s = socket.create_connection((host, int(port)), timeout=float(hold))
    say(role, s)
    t0 = time.time()
    if mode == "silent":
        keep.append(s)  # never read, never closed: the server's close waits unread
        time.sleep(float(hold))
        return
    got = b""
    try:
        while True:
            b = s.recv(4096)
            if not b:
                break
            got += b
    except OSError as e:
        got += ("<%s>" % e).encode()
    print("eximsilent %s: EOF after %.3f s, read %r" % (role, time.time() - t0, got[-120:]), file=sys.stderr, flush=True)
    s.close()


def eximdata(host, port, role, mode, hold):
    import smtplib

    c = smtplib.SMTP(host, int(port), local_hostname="client.lab.example", timeout=5)
    c.ehlo()
    say(role, c.sock)
    c.mail("app@client.lab.example")
    c.rcpt("root@lab.example")
    code, msg = c.docmd("DATA")
    t0 = time.time()
    # The headers and half a line of the body: the producer stalls there.
    c.send(b"From: app@client.lab.example\r\nTo: root@lab.example\r\nSubject: lab\r\n\r\nthe first line of the bo")
    print("eximdata %s: DATA: %d, half a body sent" % (role, code), file=sys.stderr, flush=True)
    s = c.sock
    s.settimeout(None)
    if mode == "silent":
        keep.append(c)  # never read, never closed
        time.sleep(float(hold))
        return
    if not select.select([s], [], [], float(hold))[0]:
        print("eximdata %s: nothing from the server in %s s" % (role, hold), file=sys.stderr, flush=True)
        return
    try:
        got = c.getreply()
    except Exception as e:
        got = "%s: %s" % (type(e).__name__, e)
    print("eximdata %s: readable after %.3f s: %r" % (role, time.time() - t0, got), file=sys.stderr, flush=True)
    c.close()


def eximearly(host, port, role):
    s = socket.create_connection((host, int(port)), timeout=10)
    s.sendall(b"EHLO client.lab.example\r\n")  # before the greeting
    say(role, s)
    t0 = time.time()
    got = b""
    quit = False
    try:
        while True:
            b = s.recv(4096)
            if not b:
                break
            got += b
            # Served (the EHLO taken as PIPECONNECT): QUIT once its reply is in.
            if not quit and (got.startswith(b"250 ") or b"\r\n250 " in got):
                s.sendall(b"QUIT\r\n")
                quit = True
    except OSError as e:
        got += ("<%s>" % e).encode()
    print("eximearly %s: EOF after %.3f s, read %r" % (role, time.time() - t0, got), file=sys.stderr, flush=True)
    s.close()


def eximburst(host, port, n, timeout):
    import smtplib

    t0 = time.time()

    class Bound(smtplib.SMTP):
        def _get_socket(self, host, port, timeout):
            s = socket.socket(family(host), socket.SOCK_STREAM)
            s.settimeout(timeout)
            s.bind(("", 0))
            say("eximburst", s)  # before the SYN: one whose connect fails is named too
            self.port_ = s.getsockname()[1]
            try:
                s.connect((host, port))
            except OSError:
                s.close()
                raise
            return s

    def one():
        c = Bound(local_hostname="client.lab.example", timeout=float(timeout))
        try:
            code, msg = c.connect(host, int(port))
            c.ehlo()
            c.quit()
            what = "served (greeting %d)" % code
        except Exception as e:
            what = "%s: %s" % (type(e).__name__, e)
            c.close()
        print("eximburst %s at %.3f s: %s" % (getattr(c, "port_", "?"), time.time() - t0, what), file=sys.stderr, flush=True)

    threads = [threading.Thread(target=one) for _ in range(int(n))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()


def jettyraw(host, port, role, mode, hold):
    s = socket.create_connection((host, int(port)), timeout=float(hold))
    say(role, s)
    t0 = time.time()
    if mode == "silent":
        keep.append(s)  # never read, never closed: the server's FIN waits unread
        time.sleep(float(hold))
        return
    if mode == "half":
        s.sendall(b"GET / HTTP/1.1\r\nHost: %s\r\n" % host.encode())  # no blank line: the headers never end
    got = b""
    try:
        while True:
            b = s.recv(4096)
            if not b:
                break
            got += b
    except OSError as e:
        got += ("<%s>" % e).encode()
    print("jettyraw %s: EOF after %.3f s, read %r" % (role, time.time() - t0, got[-80:]), file=sys.stderr, flush=True)
    s.close()


def rsyncraw(host, port, role, mode, hold):
    s = socket.create_connection((host, int(port)), timeout=5)
    say(role, s)
    t0 = time.time()
    if mode == "silent":
        keep.append(s)  # never read, never closed: the daemon's greeting waits unread
        time.sleep(float(hold))
        return
    got = b""
    if mode == "module":
        s.sendall(b"@RSYNCD: 32.0 sha512 sha256 sha1 md5 md4\n")
        s.sendall(b"data\n")
    try:
        while got.count(b"\n") < (2 if mode == "module" else 1):
            b = s.recv(4096)
            if not b:
                got += b"<EOF>"
                break
            got += b
    except OSError as e:
        got += ("<%s>" % e).encode()
    print("rsyncraw %s: read %r after %.3f s" % (role, got, time.time() - t0), file=sys.stderr, flush=True)
    if mode == "module":
        keep.append(s)  # the arguments never sent; held open
        time.sleep(float(hold))
        return
    time.sleep(max(0.0, t0 + float(hold) - time.time()))
    s.close()
    print("rsyncraw %s: closed after %.3f s" % (role, time.time() - t0), file=sys.stderr, flush=True)


def stunnel_tls(host, port, role, pause, hold):
    """http.client over TLS through stunnel: one request, then, after pause
    seconds idle (past stunnel's TIMEOUTidle), a second on the same
    connection; pause 0 holds it open, never read nor closed, for hold s."""
    import ssl

    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE  # the lab's self-signed certificate
    c = http.client.HTTPSConnection(host, int(port), timeout=5, context=ctx)
    c.request("GET", "/ok")
    say(role, c.sock)
    c.getresponse().read()
    t0 = time.time()
    if float(pause) == 0:
        keep.append(c)  # never read again, never closed
        time.sleep(float(hold))
        return
    time.sleep(float(pause))
    try:
        c.request("GET", "/ok")
        r = c.getresponse()
        print("stunnel_tls %s: reused after %.3f s: %d" % (role, time.time() - t0, r.status), file=sys.stderr, flush=True)
        r.read()
    except (OSError, http.client.HTTPException) as e:
        print("stunnel_tls %s: reused after %.3f s: %s %s" % (role, time.time() - t0, type(e).__name__, e), file=sys.stderr, flush=True)
    c.close()
    time.sleep(float(hold))


def stunnel_raw(host, port, role, hold):
    """A TCP socket to stunnel's TLS port that never starts the handshake:
    reads until EOF or an error, then closes."""
    s = socket.create_connection((host, int(port)), timeout=float(hold))
    say(role, s)
    t0 = time.time()
    got = b""
    try:
        while True:
            b = s.recv(4096)
            if not b:
                got += b"<EOF>"
                break
            got += b
    except OSError as e:
        got += ("<%s>" % e).encode()
    print("stunnel_raw %s: %r after %.3f s" % (role, got[-80:], time.time() - t0), file=sys.stderr, flush=True)
    s.close()


def dantesocks(phost, pport, role, mode, dhost, dport, hold):
    """A raw SOCKS5 client of danted: MODE "silent" connects and never
    negotiates (no method greeting); "greet" sends the method greeting,
    reads danted's choice and never sends its request; "idle" negotiates,
    CONNECTs to DHOST:DPORT, sends one HTTP/1.1 GET through it, reads the
    response and stays idle; "blocked" CONNECTs to DHOST:DPORT and reads
    the reply (its REP byte). Each then reads until EOF and closes (up to
    HOLD s); with "keep" after the MODE (silentkeep, idlekeep,
    blockedkeep) it never reads again nor closes, held open HOLD s. What
    it got to stderr."""
    keepit = mode.endswith("keep")
    mode = mode[:-4] if keepit else mode
    s = socket.create_connection((phost, int(pport)), timeout=5)
    say(role, s)
    t0 = time.time()
    s.settimeout(float(hold))
    got = b""
    try:
        if mode != "silent":
            s.sendall(b"\x05\x01\x00")
            got += s.recv(2)
        if mode in ("idle", "blocked"):
            a = socket.inet_aton(dhost)
            s.sendall(b"\x05\x01\x00\x01" + a + int(dport).to_bytes(2, "big"))
            r = s.recv(10)
            got += r
            print("dantesocks %s: reply %r after %.3f s" % (role, r.hex(), time.time() - t0), file=sys.stderr, flush=True)
            if mode == "idle" and len(r) >= 2 and r[1] == 0:
                s.sendall(("GET /ok HTTP/1.1\r\nHost: %s\r\n\r\n" % dhost).encode())
                if keepit:
                    got += s.recv(65536)
        if keepit:
            keep.append(s)  # never read again, never closed
            print("dantesocks %s: holding after %d bytes" % (role, len(got)), file=sys.stderr, flush=True)
            time.sleep(float(hold))
            return
        while True:
            b = s.recv(65536)
            if not b:
                got += b"<EOF>"
                break
            got += b
    except OSError as e:
        got += ("<%s>" % e).encode()
    print("dantesocks %s: %d bytes, ends %r, after %.3f s" % (role, len(got), got[-12:], time.time() - t0), file=sys.stderr, flush=True)
    s.close()


if __name__ == "__main__":
    globals()[sys.argv[1]](*sys.argv[2:])
