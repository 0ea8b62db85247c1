#!/usr/bin/env bash
# The flowdoc lab of real software: servers and clients installed from
# packages (nginx, HAProxy, Tomcat 10, Jetty 9.4, ZooKeeper 3.8, Redis, memcached,
# MariaDB, PostgreSQL, Apache httpd, ApacheBench, vsftpd, squid, varnish,
# caddy, mosquitto, PgBouncer, Node.js, curl, socat, python3
# http.client/requests/kazoo/psycopg2/ftplib/h2/paho-mqtt/redis/grpcio/aiohttp, Perl's
# LWP, the JDK, Go net/http, nftables conntrack) talking over real kernel TCP
# between network namespaces. Where the bug of an incident is the client's or the
# proxy's own code, a small program under testdata/lab/clients plays it.
#
# Usage (as root): testdata/lab/real.sh [SCENARIO...]   (default: all)
# Debian packages: nginx haproxy tomcat10 zookeeper redis-server memcached
# mariadb-server nodejs curl socat python3-requests python3-kazoo
# libhttpclient-java tcpdump tshark (editcap) nftables, a JDK and Go; and,
# checked only when their scenarios run, postgresql and python3-psycopg2
# (postgres-idle, postgres-tls-idle), apache2 (apache-keepalive, apache-tls,
# apache-proxy-upstream), openssl
# (apache-tls, nginx-tls-leak, haproxy-tls-stale, node-tls-race,
# postgres-tls-idle, mariadb-tls-idle, go-h2-idle), apache2-utils (ab-timewait, lossy-capture), vsftpd
# (ftp-idle), python3-h2 (h2-idle), squid (squid-pconn), lighttpd and
# python3-aiohttp (lighttpd-keepalive), gunicorn (gunicorn-upstream; with tshark,
# gunicorn-backlog), tshark (tomcat-accept-queue), varnish
# (varnish-backend), caddy (caddy-proxy), mosquitto, mosquitto-clients and
# python3-paho-mqtt (mosquitto-keepalive), pgbouncer (pgbouncer-idle, with
# postgresql and python3-psycopg2), python3-redis (redis-pool), openssl and
# python3-h2 (nginx-h2-tls), python3-grpcio, python3-h2 and openssl
# (grpc-idle), python3-grpcio (grpc-keepalive), python3-uvicorn (uvicorn-haproxy), postgresql,
# python3-psycopg2, python3-redis, vsftpd, mosquitto, python3-paho-mqtt
# and tshark (server-cap-refusal), tshark (more-caps), gunicorn and tshark
# (request-timeouts), apache2, haproxy and tshark (server-reload), tshark
# (download-stall), libwww-perl and tshark (perl-curl-pools),
# python3-aiohttp (websocket-idle), tshark (health-checks), openssl and
# tshark (tls-failures), openssh-server, openssh-client and tshark
# (sshd-limits), gunicorn and tshark (haproxy-maxconn), php8.2-fpm,
# apache2-utils and tshark (php-fpm-fastcgi), rabbitmq-server, python3-pika
# and tshark (rabbitmq-heartbeat), apache2 (with mod_proxy_ajp) and tshark
# (apache-ajp-tomcat), python3-pymysql, python3-redis and tshark
# (haproxy-tcp-db), slapd, ldap-utils, python3-ldap3 and tshark
# (slapd-idle; slapd's debconf question slapd/no_configuration can be
# preseeded true: the scenario writes its own slapd.conf), python3-redis
# and tshark (ipv6-incidents), postfix, swaks
# and tshark (postfix-smtp; postfix's debconf question
# postfix/main_mailer_type can be preseeded "No configuration": the
# scenario writes its own main.cf and master.cf, and runs an instance of
# its own with postfix -c), dovecot-imapd and tshark (dovecot-imap; an
# instance of its own with dovecot -F -c), unbound, bind9-dnsutils (dig),
# knot-dnsutils (kdig), python3-dnspython and tshark (unbound-dns-tcp; two
# instances of its own with unbound -c, the system's not started), ngircd,
# ii, sic and tshark (ngircd-irc; ngircd run by hand with ngircd -n -f),
# uwsgi (uwsgi-core, its python3 and http plugins), uwsgi-plugin-python3,
# python3-requests and tshark (uwsgi-nginx), nats-server,
# golang-github-nats-io-go-nats-dev and tshark (nats-server; nats.go's
# Go source built offline in GOPATH mode, no module of the project's),
# tinyproxy-bin (the program alone, no service), openssl and tshark
# (tinyproxy; two instances of its own run by hand with tinyproxy -d -c),
# exim4-daemon-light, swaks and tshark (exim-smtp; three daemons of its
# own run by hand with exim -C FILE -bdf, the system's not started;
# exim4-config's debconf question exim4/dc_eximconfig_configtype can be
# preseeded "no configuration at this time"; Debian's exim4 and postfix
# conflict, both a mail-transport-agent: exim-smtp and postfix-smtp are
# not recorded on one machine),
# jetty9, python3-requests and tshark (jetty-idle; Jetty run by hand from
# /usr/share/jetty9 with a jetty.base of its own, the jetty9 service not
# used),
# rsync and tshark (rsyncd; two daemons of its own with rsync --daemon
# --no-detach --config, the system's not started),
# stunnel4, openssl and tshark (stunnel-tls; stunnel run by hand with
# foreground = yes and its own stunnel.conf, the system's not started),
# dante-server, curl and tshark (dante-socks; danted run by hand with
# danted -f FILE, the danted service not used).
# The system's services are not used: each server runs in its namespace
# with its own files (installing apache2 or postgresql must not start
# theirs: a policy-rc.d that forbids it, as in containers).
#
# One tcpdump runs per scenario; at each cut (right after the pattern
# starts, midway, long after) `ss -tanH` is taken on every host and the
# capture is cut there (editcap -B); a tail cut also drops what came
# before a moment (editcap -A), for captures that begin mid-connection. For each scenario and cut it writes,
# in testdata/real/:
#   NAME@CUT.pcap    the capture up to the moment ss was taken
#   NAME@CUT.truth   that moment and each host's addresses and ss lines
#                    (the format of testdata/*.truth)
#   NAME.expect      what a network engineer expects flowdoc to say about
#                    the flows of every cut (format: analyze/real_test.go)
# LAB_REF=FILE keeps lossy-capture's lossless reference capture there.
# Ports and timings change from one recording to the next: after one, run
# `go test ./analyze -run TestRealLab -v` and bring knownWrong up to date.
# Traffic stays inside namespaces named flowdoc-real-<pid>-*, deleted by
# name on exit, as are the processes started (by PID). Every client is
# bounded in count and time.
#
# The scenarios:
#   nginx-404-leak      incident 001: nginx (keepalive_timeout 2s) and a Go
#                       net/http client that returns early on a 404 without
#                       closing the body: CLOSE_WAIT on the client, while it
#                       closes its pooled 200 connections within a
#                       millisecond of nginx's FIN. With a tail cut.
#   httpclient-pool     incident 001 again, with Apache HttpClient 4.5
#                       (maxConnTotal 4) releasing connections on 200 only,
#                       against nginx: 4 leaks, then the pool is exhausted.
#   tomcat-leak         incident 000: Tomcat 10 (keepAliveTimeout 2000 ms)
#                       and a JDK client (java.net.Socket) whose request
#                       threads end without closing their socket; one in
#                       three closes properly. A fourth cut (tail) begins
#                       after the requests, as the incident's capture did.
#   haproxy-python-leak incident 002: python3 http.client connections never
#                       closed, against HAProxy (timeout http-keep-alive 2s)
#                       in front of nginx.
#   zk-cap              incident 003: ZooKeeper 3.8 with maxClientCnxns=4; a
#                       client host holds 4 sessions (python3-kazoo) and
#                       reconnects in a loop (raw sockets): the server
#                       accepts and closes at once, the client closes too.
#   node-maxconn        incident 003 again: a Node.js net server with
#                       maxConnections 3, a client holding 3 and reconnecting.
#   proxy-leak          incident 004: curl --max-time 3 through a proxy that
#                       waits on its upstream without a timeout and never
#                       closes its caller's socket; the upstream never answers.
#                       Captured on the proxy (-i any); with a tail cut.
#   nginx-clean         healthy: curl and a requests Session, closed.
#   haproxy-timeout     healthy: curl --max-time 1 through HAProxy to an
#                       upstream that never answers; HAProxy closes both sides.
#   half-close-stream   healthy: socat sends a request and shuts down its
#                       sending side; the server streams its answer for 25 s.
#   listen-overflow     a python server listening with backlog 1 that never
#                       accepts, SYN cookies on; 16 clients connect at once
#                       and send: SYN cookies, then the accept queue
#                       overflows and their ACKs and data are dropped.
#   gunicorn-backlog    gunicorn, one sync worker busy 1.5 s per request,
#                       --backlog 4, and 20 curl --max-time 15 at once:
#                       SYNs dropped, handshake ACKs and requests dropped
#                       (SYN-ACKs sent again, SYN cookies), clients served
#                       late or giving up, whose requests the worker still
#                       answers (RST); then three fast requests.
#   tomcat-accept-queue Tomcat 10's NIO connector with maxConnections 4,
#                       maxThreads 2, acceptCount 2 and a servlet busy
#                       1.5 s per request, and 15 curl --max-time 12 at
#                       once: the acceptor stalls, SYNs and handshake
#                       ACKs dropped (SYN cookies), closes in line for a
#                       busy request thread; then three fast requests.
#   keepalive-silence   TCP keep-alive probes (idle 1 s, interval 1 s, 3
#                       probes) on a Redis connection, then the server drops
#                       everything: the client's RST never arrives.
#   db-idle             server idle timeouts: Redis (timeout 3), memcached
#                       (idle_timeout 3) and a server closing with RST (zero
#                       linger) after 3 s; pooled connections reused after 7 s.
#   mariadb-idle        MariaDB (wait_timeout 3) and three mariadb clients
#                       whose next query comes after 5 s idle.
#   firewall-idle       a stateful firewall (nftables conntrack, established
#                       timeout 5 s) between client and Redis: after 8 s idle
#                       one client's FIN and another's request are dropped.
#   nginx-stale         python http.client reusing a keep-alive connection
#                       after nginx's keepalive_timeout: RST; a requests
#                       Session that notices the close and reconnects.
#   postgres-idle       PostgreSQL 15 (idle_session_timeout 3s) closes idle
#                       sessions with FATAL 57P05 and FIN: psycopg2 and psql
#                       connections that never read it (CLOSE_WAIT), a pooled
#                       one reused after 6 s (RST), one querying every second.
#                       With a tail cut.
#   apache-keepalive    Apache httpd 2.4 (event MPM, KeepAliveTimeout 2):
#                       http.client connections reused 1 s after Apache's
#                       close (drained by its lingering close: no answer, no
#                       RST) and 3.5 s after it (RST), http.client connections
#                       never closed (CLOSE_WAIT), requests Sessions and curl.
#   apache-tls          the same Apache over TLS (mod_ssl; TLS 1.3 on one
#                       port, TLS 1.2 only on another): close_notify and FIN
#                       on idle connections; http.client connections reused
#                       1 s after them (drained: no answer, no RST) and 3.5 s
#                       after (RST), one that answers Apache's close_notify
#                       with its own and closes, curl -k.
#   ab-timewait         ApacheBench (HTTP/1.0, no keep-alive, -n 500 -c 8)
#                       against nginx: the server closes first, 500 TIME_WAIT
#                       sockets on the server.
#   ftp-idle            vsftpd (idle_session_timeout 3) sends "421 Timeout."
#                       and FIN on idle control connections: ftplib sessions
#                       that never read nor close it (CLOSE_WAIT), one
#                       sending NOOP every second, one that quits.
#   node-keepalive-race a Node.js http server (keepAliveTimeout 1000: it
#                       closes at 2 s) and keep-alive Agents whose requests
#                       come 1.994-2.001 s after a response: some cross the
#                       server's FIN (RST, "socket hang up"), some reach it
#                       as it closes (RST with no FIN).
#   lossy-capture       ab (-n 1000 -c 50) against nginx, captured by a
#                       tcpdump with a 64 KiB buffer that drops a few
#                       percent of the packets; a lossless capture on the
#                       server's side says which.
#   port-exhaustion     curl without keep-alive (300 requests, the client
#                       closing first) from a client whose port range is
#                       40000-40063 to nginx: 64 ports in TIME_WAIT, then
#                       connect() fails (EADDRNOTAVAIL), sending nothing.
#   h2-idle             nginx, HTTP/2 over cleartext (keepalive_timeout 2s):
#                       GOAWAY and FIN on idle connections; python3-h2
#                       connections that never read it (CLOSE_WAIT), one that
#                       closes, curl --http2-prior-knowledge.
#   squid-pconn         squid as a forward proxy in front of nginx
#                       (client_idle_pconn_timeout 2 s, pconn_timeout 4 s):
#                       http.client connections to it never closed after its
#                       FIN (CLOSE_WAIT), one closed; squid's pooled
#                       connection to nginx evicted when idle. Captured on
#                       the proxy (-i any).
#   nginx-tls-leak      nginx-404-leak over HTTPS: nginx (ssl, TLS 1.3,
#                       keepalive_timeout 2s) closes idle connections with
#                       close_notify and FIN; the Go client leaks those of
#                       its 404s (CLOSE_WAIT) and answers the close of its
#                       pooled 200 ones with its own close_notify (RST).
#   haproxy-tls-stale   HAProxy terminating TLS (timeout http-keep-alive 2s)
#                       in front of nginx: http.client connections reused
#                       3 s after a response (RST after HAProxy's
#                       close_notify and FIN), one after 1 s, a requests
#                       Session that reconnects, curl -k.
#   node-tls-race       node-keepalive-race over HTTPS: a Node.js https
#                       server (keepAliveTimeout 2000: it closes at 3 s,
#                       FIN without close_notify) and keep-alive
#                       https.Agents whose requests come 2.994-3.001 s after
#                       a response; the Agents answer the server's FIN with
#                       close_notify (RST).
#   postgres-tls-idle   postgres-idle over TLS (ssl=on, hostssl only): the
#                       FATAL 57P05, close_notify and FIN on idle sessions;
#                       psycopg2 (sslmode=require) and psql connections that
#                       never read it (CLOSE_WAIT), one reused after 6 s
#                       (RST), one closed after 1 s.
#   mariadb-tls-idle    mariadb-idle over TLS (require_secure_transport):
#                       wait_timeout 3 aborts idle connections with RST;
#                       mariadb --ssl clients left idle, one querying after
#                       5 s, one quitting after 1 s.
#   go-h2-idle          a Go net/http server over TLS with HTTP/2
#                       (IdleTimeout 2s: GOAWAY, 1 s later close_notify and
#                       FIN) and Go HTTP/2 Transports (testdata/lab/clients/
#                       goh2.go): two never close a response body, one
#                       sends its next request after 4 s (a new
#                       connection), one closes its idle connection.
#   lighttpd-keepalive  lighttpd (max-keep-alive-idle 2, max-keep-alive-
#                       requests 3): http.client connections never closed
#                       (CLOSE_WAIT), one reused 2 s after lighttpd's FIN
#                       (read and dropped: no answer), an aiohttp pool and
#                       a requests Session that close and reconnect.
#   gunicorn-upstream   gunicorn (gthread, --keep-alive 2) behind nginx's
#                       upstream keepalive pool: gunicorn closes idle
#                       upstream connections, nginx closes in turn at once;
#                       curl through nginx; an http.client connection to
#                       gunicorn reused after its close (RST). Captured on
#                       the proxy (-i any).
#   varnish-backend     varnish (timeout_idle 2 s, backend_idle_timeout
#                       60 s) in front of nginx (keepalive_timeout 2s),
#                       captured on the proxy (-i any): http.client
#                       connections to varnish never closed after its FIN
#                       (CLOSE_WAIT), one closed; requests 1.998-2.003 s
#                       apart racing nginx's close of varnish's idle
#                       backend connections.
#   caddy-proxy         the same with caddy 2.6 as the reverse proxy
#                       (servers timeouts idle 3s, transport keepalive
#                       60s): Go's Transport sends some requests just
#                       after nginx's FIN (RST) and retries them.
#   mosquitto-keepalive mosquitto 2.0 closing clients silent for 1.5 times
#                       their MQTT keepalive: a hand-made client silent
#                       after its CONNACK (keepalive 2 s) and a
#                       mosquitto_sub (keepalive 5 s) stopped by SIGSTOP,
#                       neither reading the close (CLOSE_WAIT); paho
#                       pinging every 2 s; mosquitto_pub disconnecting.
#   pgbouncer-idle      PgBouncer (pool_mode transaction, client_idle_timeout
#                       2, server_idle_timeout 3) in front of PostgreSQL:
#                       FATAL "client_idle_timeout" and FIN on idle client
#                       connections; psycopg2 connections that never read
#                       it (CLOSE_WAIT), one reused after 5 s (RST), one
#                       that closes on it (Terminate, RST), one closed
#                       after 1 s; PgBouncer closing its idle server
#                       connection (Terminate, FIN). Captured on the
#                       pooler (-i any).
#   redis-pool          Redis (timeout 2) and redis-py 4.3: ConnectionPools
#                       (one with health_check_interval 1) reused after
#                       4.5 s, which notice the close and reconnect; a
#                       single_connection_client reused after it (RST); a
#                       raw socket that never closes (CLOSE_WAIT).
#   jdk-httpclient      nginx (keepalive_timeout 2s) and the JDK's clients
#                       (testdata/lab/clients/JdkPool.java): HttpClient's
#                       pool with requests 1.5-3.5 s and 1.999-2.002 s
#                       apart (it closes on nginx's FIN at once), one never
#                       closing its responses' streams, and
#                       HttpURLConnection, whose KeepAliveCache reuses
#                       connections after nginx's FIN (RST, retried).
#   node-fetch-undici   Node's fetch (undici) with requests 1.5, 2.5, 3.5 s
#                       apart against a Node http server (keepAliveTimeout
#                       2000) with and without its Keep-Alive: timeout=2
#                       and against nginx (keepalive_timeout 2s).
#   nginx-h2-tls        nginx, HTTP/2 over TLS (ssl http2, keepalive_timeout
#                       2s): GOAWAY, close_notify and FIN at once on idle
#                       connections; python3-h2 over TLS (ALPN h2): two
#                       never read it (CLOSE_WAIT), one closes on it, one
#                       sends its next request after it (RST), one closes
#                       first.
#   grpc-idle           python3-grpcio servers (max_connection_idle_ms
#                       2000; one pinging every second; one over TLS):
#                       GOAWAY and FIN 4 s after the last call; idle
#                       channels, channels calling again after 7 s, one
#                       pinging, one not answering the server's PING, and
#                       a hand-made call never read (CLOSE_WAIT).
#   grpc-keepalive      a python3-grpcio server allowing PINGs every 5 s
#                       at most (min_ping_interval_without_data_ms 5000):
#                       an idle channel pinging every 500 ms and one
#                       pinging under long calls get GOAWAY
#                       ENHANCE_YOUR_CALM "too_many_pings" and FIN,
#                       reconnect (their keepalive doubled each time),
#                       their calls in flight failing UNAVAILABLE; a
#                       channel pinging every 6 s and one calling every
#                       second stay up.
#   nginx-node-upstream nginx's upstream keepalive pool (keepalive 8, its
#                       60 s timeout) in front of a Node.js http server
#                       with its defaults (it closes 6 s after a
#                       response), captured on the proxy (-i any):
#                       requests 5.996-6.006 s apart race Node's timer
#                       (RST after its FIN, or with the request unread);
#                       nginx retries a GET, and answers a POST 502.
#   apache-proxy-upstream Apache httpd's mod_proxy (ProxyPass, Debian's
#                       defaults: a pool with no ttl) in front of nginx
#                       (keepalive_timeout 2s), captured on the proxy:
#                       Apache checks a pooled connection before reuse
#                       and leaves the closed ones in CLOSE_WAIT until
#                       then; requests 1.998-2.009 s apart race nginx's
#                       timer (RST, 502 Proxy Error to the caller).
#   uvicorn-haproxy     HAProxy (http-reuse always, its idle backend
#                       connections kept 60 s) in front of uvicorn with
#                       its default --timeout-keep-alive 5, captured on the
#                       proxy (-i any): requests 4.996-5.009 s apart race
#                       uvicorn's timer (RST: HAProxy retries no GET nor
#                       POST, it answers 502); an http.client connection
#                       to uvicorn never closed (CLOSE_WAIT).
#   server-cap-refusal  servers at their connection caps, each filled by
#                       connections the client host holds open: Redis
#                       (maxclients 4), MariaDB (max_connections 10, and
#                       one for SUPER), PostgreSQL (max_connections 3,
#                       none reserved), vsftpd (max_clients 3), mosquitto
#                       (max_connections 3); reconnect loops of redis-py,
#                       the mariadb client, psycopg2 (sslmode disable and
#                       prefer), ftplib and paho-mqtt, 20 attempts each
#                       150 ms apart, refused with each server's error
#                       and a close (mosquitto: a close, no CONNACK).
#   more-caps           more servers at their connection limits: memcached
#                       (-c 29: 4 clients) writing "ERROR Too many open
#                       connections" and closing; nginx (one worker, 8
#                       worker_connections) whose connections are all busy
#                       (three long polls to a silent upstream), closing
#                       every further one at once (FIN or RST, no
#                       response), and the same nginx limit held by idle
#                       keep-alive connections, the oldest of which it
#                       closes to take a new one; reconnect loops of raw
#                       sockets (memcached "version") and http.client, 20
#                       attempts each 150 ms apart.
#   request-timeouts    servers that stop waiting on a request (2 s each):
#                       nginx's client_header_timeout and
#                       client_body_timeout (a request line and one header;
#                       a POST with 100 of its 10000 bytes of body),
#                       gunicorn's sync worker killed by its arbiter
#                       (--timeout 2) in a handler sleeping 5 s, Go's
#                       ReadHeaderTimeout (testdata/lab/clients/
#                       goreadhdr.go): each closes with a bare FIN, no
#                       response; curl beside them.
#   server-reload       nginx -s reload, Apache httpd's graceful restart
#                       and HAProxy's soft reload (-sf), twice each, under
#                       pooled keep-alive connections idle 0.5-4.5 s (no
#                       timeout fires): each closes them all at once with
#                       FIN. http.client connections reused 1 s after (RST;
#                       Apache's lingering close drains them, and resets
#                       one 3 s after) or never again (CLOSE_WAIT),
#                       requests Sessions that notice and reconnect.
#   download-stall      nginx (sendfile on) serving a 20 MB file to readers
#                       that stop reading (zero windows, nginx's probes):
#                       a raw socket and a requests stream closed with the
#                       rest unread (RST), curl --limit-rate 1M --max-time 2,
#                       a reader stalled to the end; send_timeout 3s closing
#                       on a stalled reader with RST (reset_timedout_
#                       connection on) and without (its FIN queued behind
#                       the unsent data until the reader reads again); a
#                       whole download with curl. Captured with -s 128.
#   perl-curl-pools     nginx (keepalive_timeout 2s) and client pools that
#                       check a connection only when they reuse it: LWP
#                       (keep_alive 4, testdata/lab/clients/lwppool.pl)
#                       with requests 1 s apart, one after 3 s idle and a
#                       sweep 1.996-2.003 s apart, and curl --rate (3 s
#                       and 1 s apart): each closes a connection nginx
#                       closed at its next request and connects anew;
#                       agents left idle hold theirs in CLOSE_WAIT to the
#                       end. LWP without keep-alive ("Connection: close").
#   websocket-idle      nginx (proxy_read_timeout 3s) in front of an aiohttp
#                       WebSocket server, captured on the proxy (-i any):
#                       idle WebSockets closed on both sides at once, bare
#                       FINs, no Close frame; aiohttp clients close at
#                       once, a raw one never does (CLOSE_WAIT); one with
#                       heartbeat=1.0 stays up; one straight to the
#                       backend stays up idle.
#   health-checks       healthy: HAProxy's checks of nginx and Redis every
#                       200 ms (HTTP checks, closed with FIN or RST after
#                       nginx's FIN; layer-4 checks, RST in place of the
#                       handshake's ACK; a tcp-check of Redis, every
#                       second) and an orchestrator's TCP and HTTP probes
#                       of HAProxy every 300 ms for 10 s (HAProxy answers
#                       a TCP probe with 400, reset, unless it ignores
#                       probes), beside curl and requests Sessions through
#                       HAProxy. Captured on the proxy (-i any).
#   tls-failures        TLS handshakes that fail against nginx: a loop of
#                       15 curl offering TLS 1.3 only, 200 ms apart, to a
#                       server of TLS 1.2 only (a fatal protocol_version
#                       alert in the clear, FIN); ssl_verify_client on and
#                       curl without a certificate (400 after the
#                       handshake, encrypted; close_notify, FIN); curl and
#                       python ssl rejecting a self-signed certificate
#                       (unknown_ca in the clear, RST); curl -k served.
#   sshd-limits         OpenSSH's sshd (LoginGraceTime 3, MaxStartups
#                       3:100:3, ClientAliveInterval 1, ClientAliveCountMax
#                       2): socat, a python socket and a slow-typing ssh
#                       never authenticating, closed 3 s after the accept
#                       (bare FIN; ssh's late password reset); six more
#                       connections meanwhile dropped past MaxStartups
#                       ("Exceeded MaxStartups", then FIN or RST); sessions
#                       whose client stops answering sshd's probes (path
#                       cut by nftables; ssh stopped), and healthy ones.
#   haproxy-maxconn     HAProxy 2.6 at its limits in front of gunicorn (/slow
#                       answered after 1.5 s), captured on the proxy (-i
#                       any): a frontend maxconn 4 with backlog 4 and 18
#                       curl --max-time 5 at once (SYNs dropped, handshake
#                       ACKs dropped, requests queued in the kernel; served
#                       late, or giving up and answered anyway: RST); a
#                       server maxconn 1 with timeout queue 2s (503 to the
#                       requests still queued, one of a client that gave up
#                       while queued); timeout http-keep-alive 2s (an
#                       http.client connection reused after it: RST; a
#                       requests Session that reconnects) and timeout
#                       client 3s (408 to socat sending half a request, or
#                       nothing).
#   php-fpm-fastcgi     nginx in front of PHP-FPM 8.2 over FastCGI (TCP),
#                       captured on the proxy (-i any): a connection per
#                       request (no fastcgi_keep_conn) that php-fpm closes
#                       first (200 TIME_WAITs on its side); a pool of 2
#                       workers with listen.backlog 2 under 10 slow
#                       requests at once (SYNs dropped, nginx's connect and
#                       read timeouts: 504s, the late answers reset);
#                       request_terminate_timeout killing workers (RST,
#                       502); fastcgi_keep_conn with an upstream keepalive
#                       pool that nginx closes when idle.
#   rabbitmq-heartbeat  RabbitMQ 3.10 (heartbeat 2, handshake_timeout 3000)
#                       and python3-pika: heartbeats on idle connections;
#                       clients stopped (SIGSTOP) that RabbitMQ gives up on
#                       ("missed heartbeats"): RST with its default zero
#                       linger, FIN and the client's CLOSE-WAIT with linger
#                       off; handshakes never finished, closed after 3 s;
#                       a vhost's max-connections 3 (Connection.Close 530
#                       after the handshake, six from one host in a
#                       second) and connection_max 3 (not accepted: left in
#                       the accept queue until the clients give up); a
#                       proper close (Close, Close-Ok, FIN, then RST).
#   apache-ajp-tomcat   Apache httpd's mod_proxy in front of Tomcat 10
#                       (AJP connectionTimeout 3000, HTTP keepAliveTimeout
#                       3000), captured on the proxy (-i any): mod_proxy_ajp
#                       and mod_proxy_http pools with no ttl, ttl=2 and
#                       disablereuse; batches 4.7 s apart (Tomcat's closes
#                       in CLOSE_WAIT on Apache until the pool's next use,
#                       closed then) and 2.2 s apart (ttl=2 closes first);
#                       requests 3.000-3.012 s apart racing Tomcat's timer
#                       (its FIN with the request unanswered, no RST:
#                       503 to the caller).
#   haproxy-tcp-db      HAProxy in mode tcp (timeout client 3s, timeout
#                       server 3s) in front of MariaDB (wait_timeout 600)
#                       and Redis (timeout 0), captured on the proxy (-i
#                       any): it closes idle streams on both legs (FIN to
#                       the client; FIN and RST to the server); pymysql
#                       pooled connections queried again after 4-5 s idle
#                       (RST, error 2013), one pre-pinging (COM_PING, RST),
#                       two validating before use (FIN; COM_QUIT, RST),
#                       redis-py ConnectionPools reconnecting, one pymysql
#                       connection pinging every second.
#   slapd-idle          OpenLDAP's slapd 2.5 (idletimeout 3, sizelimit 3,
#                       conn_max_pending 3): idle connections closed with a
#                       bare FIN, no Notice of Disconnection, on its whole-
#                       second clock (3-4.75 s); python3-ldap3 connections
#                       searching again 4.9-5.4 s later (RST; its
#                       RESTARTABLE strategy reconnects), every 2 s and
#                       every second; ldapsearch one-shots; raw sockets
#                       that never send (one never closes: CLOSE_WAIT); a
#                       bind and 10 searches in one write, dropped by
#                       conn_max_pending (FIN, RST, no answer).
#   ipv6-incidents      key incidents over IPv6 only (fd00:99:1::/64, no
#                       DAD; ICMPv6 neighbour discovery in the capture):
#                       nginx (keepalive_timeout 2s) and http.client
#                       connections never closed (CLOSE_WAIT) or reused
#                       after 3 s (RST), a requests Session reconnecting;
#                       Redis (maxclients 4, held by 4 connections) and a
#                       redis-py reconnect loop (6 attempts 150 ms apart)
#                       refused; a server with backlog 1 never accepting
#                       and 8 clients at once, SYN cookies on (listen
#                       overflow).
#   postfix-smtp        Postfix 3.7's smtpd (smtpd_client_connection_count_
#                       limit 2, smtpd_timeout 5s, smtpd_hard_error_limit
#                       3 with a 1 s error sleep): two idle smtplib
#                       sessions fill the client host's limit; reconnect
#                       loops of smtplib and swaks (6 each, 200 ms apart)
#                       refused with "421 4.7.0 ... too many connections"
#                       and FIN (swaks answers QUIT: RST); the idle ones
#                       closed after 5 s with "421 4.4.2 ... timeout
#                       exceeded" and FIN (one closes, one never reads:
#                       CLOSE_WAIT); an smtplib session reused after it
#                       (RST); one ended at its third unknown command
#                       ("too many errors", RST); a mail sent with swaks.
#   dovecot-imap        Dovecot 2.3's IMAP (mail_max_userip_connections 2):
#                       two imaplib sessions of one user held idle; 5
#                       more logins of that user from that host, 300 ms
#                       apart, answered with a tagged "NO [LIMIT] Maximum
#                       number of connections from user+IP exceeded" and
#                       FIN (imaplib's LOGOUT after it: RST); a socket
#                       never logging in; another user's LOGIN, SELECT,
#                       LOGOUT.
#   unbound-dns-tcp     unbound 1.17 answering local data over TCP; on one
#                       port tcp-idle-timeout 2000 (a bare FIN): dnspython
#                       reusing its socket 3 s after an answer (RST;
#                       EOFError), raw sockets that never send (one never
#                       closes: CLOSE_WAIT), dig and kdig +tcp +keepopen;
#                       on another edns-tcp-keepalive (3000 ms) and
#                       incoming-num-tcp 2: a keepalive client holding one
#                       handler, a burst served one at a time on the
#                       other, each with 200 ms (keepalive 0 advertised),
#                       the rest waiting in the accept queue (unbound
#                       stops accepting: no refusal, no RST).
#   ngircd-irc          ngIRCd 26 (PingTimeout 5, PongTimeout 5,
#                       MaxConnectionsIP 2) and IRC clients of Debian (ii,
#                       sic), five hosts captured on the server (-i any):
#                       idle clients answering its PINGs; one stopped
#                       (SIGSTOP), closed with "ERROR :Ping timeout: 5
#                       seconds" and FIN (CLOSE-WAIT), one whose path is
#                       cut (its PING sent again to the end, the close
#                       queued: FIN-WAIT-1); sockets that never register,
#                       closed after 6 s with a bare FIN; ii restarted 8
#                       times 200 ms apart from a host holding its two
#                       ("ERROR :Connection refused, too many connections
#                       from your IP address", FIN or RST); sic's QUIT
#                       (ERROR, ngIRCd closes first) and ii's (QUIT and FIN
#                       at once, ngIRCd's ERROR reset).
#   uwsgi-nginx         uWSGI 2.0 serving a python WSGI app: behind nginx
#                       (uwsgi_pass), 2 workers with --listen 4 under 12
#                       slow requests at once (listen queue full: SYNs and
#                       a request dropped, nginx's connect and read
#                       timeouts: 504s, the late answers reset) and
#                       --harakiri 3 killing workers mid-request (FIN for
#                       a GET, RST for a POST's unread body: 502s); its
#                       own HTTP (the --http router with --http-keepalive
#                       and --http-timeout 3, --http-socket closing after
#                       every response, --http11-socket with
#                       --socket-timeout 3) to http.client connections
#                       reused after its close (RST), requests Sessions
#                       that reconnect, and sockets that never send
#                       (TCP_DEFER_ACCEPT: SYN-RECV on the server, the
#                       SYN-ACK again, then closed by uWSGI's timeout).
#   nats-server         nats-server 2.9 (ping_interval 1s, ping_max 2) and
#                       nats.go 1.22 clients: idle subscribers answering
#                       its PINGs (healthy); two stopped (SIGSTOP) and
#                       declared stale ("-ERR 'Stale Connection'", FIN:
#                       CLOSE-WAIT; one resumed, closing and
#                       reconnecting); one whose path is cut (the PING
#                       retransmitted, the FIN queued); raw sockets never
#                       sending CONNECT closed by the authorization
#                       timeout (2 s; one never closes); a wrong password;
#                       max_connections 3 refusing nats.go's reconnect
#                       loop (INFO, "-ERR 'maximum connections
#                       exceeded'", FIN or RST); a clean close.
#   tinyproxy           tinyproxy 1.11 as a forward proxy (Timeout 3),
#                       captured on the proxy (-i any): it closes every
#                       plain-HTTP client connection right after the
#                       response, with no Connection: close (http.client
#                       reusing it: RST; a requests Session reconnecting;
#                       one never closed: CLOSE_WAIT); CONNECT tunnels to
#                       nginx over TLS closed on both legs after 3 s idle
#                       (bare FINs, no close_notify; one reused after it:
#                       RST; one never closed); sockets that never send
#                       (FIN at 3 s) or send half a request (400 at 6 s);
#                       origins that drop SYNs (500 at 3 s), refuse (500)
#                       or never answer (a bare FIN at 3 s; a client that
#                       gave up first held in CLOSE_WAIT until then);
#                       MaxClients 3 held by idle tunnels or hung origins:
#                       tinyproxy stops accepting, the kernel queues the
#                       clients, served when a place frees (one that gave
#                       up while queued answered anyway: RST).
#   exim-smtp           Exim 4.96's daemon, three of its own
#                       (smtp_receive_timeout 3s): smtp_accept_max 2 and
#                       smtp_accept_max_per_host 2 (a greet pause of 1 s),
#                       reconnect loops of smtplib and swaks refused by the
#                       daemon with "421 Too many concurrent SMTP
#                       connections..." and FIN (swaks' QUIT after it
#                       reset); QUIT answered with 221 and FIN together
#                       200 ms late (Exim closes first); sockets that never
#                       send and mails stalled in DATA closed with "421 ...
#                       SMTP command timeout" and "... SMTP incoming data
#                       timeout" (two never read: CLOSE_WAIT); early
#                       talkers (taken as PIPECONNECT, or "554 SMTP
#                       synchronization error"); swaks --pipeline; and
#                       smtp_connect_backlog 2 under a daemon main loop
#                       blocked 1.2 s per accept: a burst of 8 smtplib
#                       sessions (SYNs and handshake ACKs dropped, those
#                       that gave up waiting for the greeting reset it).
#   jetty-idle          Jetty 9.4 (jetty.http.idleTimeout 3000,
#                       acceptQueueSize 2, maxThreads 4: two threads for
#                       requests): idle connections closed with a bare FIN
#                       (shutdownOutput), Jetty still reading and dropping
#                       what comes; the JDK's HttpClient (its pool closes
#                       on the FIN; requests racing the timer dropped and
#                       retried), HttpURLConnection (its KeepAliveCache
#                       reuses closed connections: dropped, retried),
#                       http.client reused 1 s after the FIN (dropped) and
#                       4.5 s after (RST), requests Sessions, raw sockets
#                       (never closing: CLOSE_WAIT; half a request: FIN,
#                       no 408); 10 slow requests at once, queued in
#                       Jetty's thread pool (no 503), some dropped by the
#                       idle timeout while they wait unread (FIN, no
#                       answer).
#   rsyncd              an rsync 3.2 daemon (rsync --daemon, its own
#                       rsyncd.conf) and rsync clients: a module's max
#                       connections 2 held by two paced pulls, a retry
#                       loop of 8 refused 200 ms apart ("@ERROR: max
#                       connections (2) reached -- try again later" after
#                       the greetings, then the daemon's FIN); a module's
#                       timeout 4 on a pull stopped (SIGSTOP) mid-transfer
#                       (zero window; the daemon gives up, its FIN queued
#                       behind the unsent data; the resumed client's write
#                       reset) and on a push stopped (never: the daemon's
#                       keep-alives count as I/O); raw sockets never
#                       sending their greeting or arguments (no timer:
#                       open to the end); --contimeout against dropped
#                       SYNs, and against a stopped daemon whose kernel
#                       still accepts (only --timeout ends it; CLOSE-WAIT
#                       in the listen queue); listings and a transfer.
#   stunnel-tls         stunnel 5.68 as a TLS server (TIMEOUTidle 3,
#                       TIMEOUTbusy 4, TIMEOUTclose 1) in front of a plain
#                       nginx, captured on its host (-i any): idle
#                       connections of http.client reset on both legs in
#                       the same millisecond (no close_notify, no FIN; one
#                       reused 2 s later fails with nothing on the wire),
#                       a socket that never starts the handshake reset at
#                       4 s, curl with and without keep-alive (close_notify
#                       and FIN both ways; curl's kernel resetting
#                       stunnel's late close_notify at times).
#   dante-socks         Dante 1.4's SOCKS5 server (danted, its own
#                       danted.conf: timeout.negotiate 3, timeout.io 4, a
#                       socks block rule for port 8081) between clients and
#                       nginx, both legs captured on the proxy: raw
#                       sockets that never negotiate (danted's bare FIN
#                       after some 4 s), sessions relayed to nginx then
#                       idle (both legs closed by the i/o timeout after
#                       some 5 s), CONNECTs refused by the block rule
#                       (SOCKS5 reply 0x02 and FIN); one of each never
#                       closing (CLOSE_WAIT); curl --socks5.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
out=${LAB_OUT:-$root/testdata/real}
tag=flowdoc-real-$$
work=$(mktemp -d)
chmod 755 "$work"
pids=()
namespaces=()
capture_pid=
net=0
lossy=

. "$here/lib.sh"
for t in editcap nft nginx haproxy redis-server memcached mariadbd mariadb-install-db node curl socat java javac; do
	command -v $t >/dev/null || die "needs $t"
done
[ -f /usr/share/java/zookeeper.jar ] && [ -x /usr/share/tomcat10/bin/catalina.sh ] || die "needs zookeeper and tomcat10"
/usr/bin/python3 -c 'import requests, kazoo' 2>/dev/null || die "needs python3-requests and python3-kazoo"
py=/usr/bin/python3 # Debian's, with python3-requests and python3-kazoo
mkdir -p "$out"
(cd "$root" && go build -o "$work/gohttp" ./cmd/tools/labgohttp)

# pg_bindir: the newest PostgreSQL's programs (Debian keeps them per version).
pg_bindir() {
	ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1
}

# as_postgres CMD...: run a command as the postgres user.
as_postgres() {
	setpriv --reuid=postgres --regid=postgres --init-groups "$@"
}

# route HOST VIA: send the host's traffic for every lab subnet through VIA.
route() {
	ip -n "$tag-$1" route add 10.99.0.0/16 via "$2"
}

# begin NAME: start a scenario's clock; cuts are taken at offsets from it.
begin() {
	name=$1
	cuts=()
	tails=()
	t0=$(date +%s.%N)
	lossy=
	: >"$work/log"
	: >"$work/ports"
}

# until_t S: sleep until S seconds after begin.
until_t() {
	sleep "$(awk -v t0="$t0" -v s="$1" -v now="$(date +%s.%N)" 'BEGIN { d = t0 + s - now; print (d > 0 ? d : 0) }')"
}

# snapshot HOST...: `ss -tanH` on each host, as the truth files hold it.
snapshot() {
	for h in "$@"; do
		echo "host $h $(eval echo \$addrs_$h)"
		# Java's sockets are IPv6 ones with IPv4-mapped addresses.
		ip netns exec "$tag-$h" ss -tanH | sed 's/  */ /g; s/\[::ffff:\([0-9.]*\)\]/\1/g'
	done
}

# cut CUT HOST...: take ss on each host now; the capture of this cut ends
# here. The hosts are read one after the other, before and after the
# moment noted: when a socket changed state meanwhile (the two readings
# differ), they are read again.
cut() {
	local c=$1 at snap before ok=
	shift
	for _ in 1 2 3 4 5 6 7 8; do
		before=$(snapshot "$@")
		at=$(date -u +%Y-%m-%dT%H:%M:%S.%NZ)
		snap=$(snapshot "$@")
		if [ "$(echo "$before" | command cut -d' ' -f1,4,5)" = "$(echo "$snap" | command cut -d' ' -f1,4,5)" ]; then
			ok=1
			break
		fi
		sleep 0.02
	done
	[ -n "$ok" ] || echo "lab: $name@$c: the sockets kept changing while ss was read: record it again" >&2
	{
		echo "# flowdoc lab ground truth: ss -tan on each host when the capture ended."
		echo "scenario $name@$c"
		echo "at $at"
		echo "$snap"
	} >"$work/$name@$c.truth"
	cuts+=("$c=$at")
}

# tail_cut CUT S REF: one more cut, of the capture from S seconds after begin
# to the cut REF (whose truth it shares): a capture that began after the
# connections were made.
tail_cut() {
	tails+=("$1:$(awk -v t0="$t0" -v s="$2" 'BEGIN { printf "%.6f", t0 + s }'):$3")
}

# finish FILE: stop the capture, the processes and the hosts; write each
# cut's capture and truth.
finish() {
	local file=$1 c at
	kill -INT "$capture_pid"
	wait "$capture_pid" 2>/dev/null || true
	capture_pid=
	# A packet tcpdump lost makes the capture disagree with ss, except in a
	# scenario of a capture point that loses packets (lossy), which must.
	local dropped
	dropped=$(sed -n 's/^\([0-9]*\) packets* dropped by kernel.*/\1/p' "$work/tcpdump.err")
	if [ -n "$lossy" ]; then
		[ "${dropped:-0}" -gt 0 ] || echo "lab: $name: tcpdump dropped nothing: record it again" >&2
		grep -E '^[0-9]+ packets' "$work/tcpdump.err" | sed 's/^/  tcpdump: /'
	elif [ "${dropped:-0}" -gt 0 ]; then
		echo "lab: $name: tcpdump $(grep 'dropped by kernel' "$work/tcpdump.err"): record it again" >&2
	fi
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null && kill -CONT "$p" 2>/dev/null || true; done
	for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
	pids=()
	for n in "${namespaces[@]}"; do ip netns del "$n"; done
	namespaces=()
	rm -f "$out/$name"@*
	for ca in "${cuts[@]}"; do
		c=${ca%%=*} at=${ca#*=}
		editcap -B "$at" "$file" "$out/$name@$c.pcap"
		cp "$work/$name@$c.truth" "$out/"
		printf 'lab: %-28s %5d packets, cut at %5.2f s\n' "$name@$c" "$(tcpdump -r "$out/$name@$c.pcap" 2>/dev/null | wc -l)" \
			"$(awk -v t0="$t0" -v at="$(date -d "$at" +%s.%N)" 'BEGIN { print at - t0 }')"
	done
	for ta in "${tails[@]}"; do
		IFS=: read -r c from ref <<<"$ta"
		at=$(printf '%s\n' "${cuts[@]}" | sed -n "s/^$ref=//p")
		editcap -A "$(date -u -d "@$from" +%Y-%m-%dT%H:%M:%S.%NZ)" -B "$at" "$file" "$out/$name@$c.pcap"
		sed "s/^scenario .*/scenario $name@$c/" "$work/$name@$ref.truth" >"$out/$name@$c.truth"
		printf 'lab: %-28s %5d packets\n' "$name@$c" "$(tcpdump -r "$out/$name@$c.pcap" 2>/dev/null | wc -l)"
	done
	if [ -s "$work/log" ]; then sed 's/^/  /' "$work/log"; fi
}

# expect: the scenario's expectations, from stdin, to NAME.expect.
expect() {
	{
		echo "# $name: what flowdoc should say at every cut (written by testdata/lab/real.sh)."
		cat
	} >"$out/$name.expect"
}

# nginx_conf DIR PORT KEEPALIVE [LISTEN_ADDR]: an nginx of its own in DIR:
# /ok answers 200, anything else 404, /big a 16 KB file.
nginx_conf() {
	local d=$1 port=$2 ka=$3 addr=${4:-0.0.0.0}
	mkdir -p "$d/html"
	echo ok >"$d/html/ok"
	head -c 16384 /dev/zero | tr '\0' x >"$d/html/big"
	cat >"$d/nginx.conf" <<CONF
worker_processes 1;
pid $d/nginx.pid;
error_log $d/error.log;
events { worker_connections 256; }
http {
	access_log off;
	client_body_temp_path $d/tmp;
	proxy_temp_path $d/tmp;
	fastcgi_temp_path $d/tmp;
	uwsgi_temp_path $d/tmp;
	scgi_temp_path $d/tmp;
	keepalive_timeout $ka;
	server {
		listen $addr:$port;
		root $d/html;
		location = / { return 200 "ok\n"; }
	}
}
CONF
}

# run_nginx HOST DIR: run the nginx of DIR in HOST, in the foreground.
run_nginx() {
	on "$1" nginx -p "$2" -e "$2/error.log" -c "$2/nginx.conf" -g 'daemon off;'
}

# Incident 001: non-200 responses never released.
sc_nginx_404_leak() {
	host client; host server; wire client server
	nginx_conf "$work/nginx" 8080 2s
	run_nginx server "$work/nginx"
	listening server 8080
	capture client "$client_if" "$work/cap.pcap"
	begin nginx-404-leak
	client client "$work/gohttp" -url "http://$server_ip:8080" -paths /ok,/missing,/ok,/missing,/missing \
		-n 10 -interval 250ms -hold 20s
	until_t 3.1 # the first leak (0.25 s) got nginx's FIN at 2.25 s
	cut early client server
	until_t 6
	cut mid client server
	until_t 15
	cut late client server
	tail_cut tail 3 late # from 3 s: the requests are over
	finish "$work/cap.pcap"
	expect <<EXP
# The Go client leaks every connection that got a 404: nginx closes it
# after 2 s idle and the client sits in CLOSE_WAIT. It closes its pooled
# 200 connections within a millisecond of nginx's FIN, so a CLOSE_WAIT
# a few hundred ms old is already a leak.
@early,mid,late expect client.ss=CLOSE-WAIT n>=1 : close_wait_leak(client) idle_timeout_close(server)
# The tail cut begins after the requests: nginx's FINs and the answers.
@tail expect client.ss=CLOSE-WAIT n>=1 : close_wait_leak(client)
@tail unseen_ok
infinding client.ss=CLOSE-WAIT : close_wait_leak
expect cport=$(ports leak) client.ss=ESTAB : !close_wait_leak(client)
healthy cport=$(ports ok)
finding close_wait_leak
EXP
}

# first_port SECONDS: wait until the client printed its first port, and
# start the scenario's clock there.
first_port() {
	for _ in $(seq $(($1 * 20))); do
		if [ -s "$work/ports" ]; then
			t0=$(date +%s.%N)
			return 0
		fi
		sleep 0.05
	done
	die "the client printed no port in $1 s"
}

# ports ROLE: the client ports the client printed for ROLE, comma separated.
ports() {
	awk -v r="$1" '$1 == r && !seen[$2]++ { printf "%s%s", s, $2; s = "," }' "$work/ports"
}

# client HOST CMD...: a client whose stdout ("ROLE PORT" lines) goes to the
# ports file.
client() {
	local h=$1
	shift
	ip netns exec "$tag-$h" "$@" >>"$work/ports" 2>>"$work/log" &
	pids+=($!)
}

# listening HOST PORT [SECONDS]: wait until something listens on PORT in HOST.
listening() {
	for _ in $(seq $((${3:-10} * 10))); do
		ip netns exec "$tag-$1" ss -tlnH "sport = :$2" | grep -q . && return 0
		sleep 0.1
	done
	die "nothing listens on $1:$2; the log ends: $(tail -5 "$work/log")"
}

pylab="$py $here/clients/pylab.py"

# Incident 001 again, with the library it names: Apache HttpClient 4.5
# with maxConnTotal 4, whose code returns early on a non-200 without
# releasing the connection.
sc_httpclient_pool() {
	host client; host server; wire client server
	nginx_conf "$work/nginx" 8080 2s
	run_nginx server "$work/nginx"
	listening server 8080
	local cp=/usr/share/java/httpclient.jar:/usr/share/java/httpcore.jar:/usr/share/java/commons-logging.jar:/usr/share/java/commons-codec.jar
	javac -cp "$cp" -d "$work" "$here/clients/Non200.java"
	capture client "$client_if" "$work/cap.pcap"
	begin httpclient-pool
	client client java -XX:TieredStopAtLevel=1 -cp "$work:$cp" Non200 "http://$server_ip:8080" 12 250 25
	first_port 20 # the clock starts at the first request
	until_t 2.9   # the first leak (0.25 s) got nginx's FIN at 2.25 s
	cut early client server
	until_t 5
	cut mid client server
	until_t 15
	cut late client server
	finish "$work/cap.pcap"
	expect <<EXP
# Each pooled connection serves a 200 (released) and then a 404 (never
# released): nginx closes it after 2 s idle and the client sits in
# CLOSE_WAIT; after 4 of them the pool is exhausted and the client makes
# no more connections. At the early cut the oldest CLOSE_WAIT is half a
# second old and the client has closed nothing yet to compare with: the
# capture cannot tell, and flowdoc may say so (open, with why).
expect client.ss=CLOSE-WAIT n>=1 : close_wait_leak(client)|open(client) idle_timeout_close(server)
@mid,late expect client.ss=CLOSE-WAIT n>=1 : close_wait_leak(client)
@mid,late infinding client.ss=CLOSE-WAIT : close_wait_leak
@mid,late expect cport=$(ports leak) : close_wait_leak(client)
@mid,late finding close_wait_leak
EXP
}

# tomcat_base DIR CONNECTOR [HOST]: a Tomcat 10 of its own in DIR
# (CATALINA_BASE), one HTTP/1.1 connector on $server_ip:8080 with the
# attributes CONNECTOR, the Host element's content HOST (valves); its ROOT
# webapp serves index.html ("ok").
tomcat_base() {
	local b=$1
	mkdir -p "$b/conf" "$b/logs" "$b/temp" "$b/work" "$b/webapps/ROOT"
	cp /etc/tomcat10/web.xml /etc/tomcat10/catalina.properties /etc/tomcat10/context.xml "$b/conf/"
	echo ok >"$b/webapps/ROOT/index.html"
	cat >"$b/conf/server.xml" <<CONF
<?xml version="1.0" encoding="UTF-8"?>
<Server port="-1" shutdown="SHUTDOWN">
  <Service name="Catalina">
    <Connector port="8080" address="$server_ip" protocol="HTTP/1.1"
               $2/>
    <Engine name="Catalina" defaultHost="localhost">
      <Host name="localhost" appBase="webapps" unpackWARs="false" autoDeploy="false">${3:-}</Host>
    </Engine>
  </Service>
</Server>
CONF
}

# run_tomcat HOST DIR: run the Tomcat of DIR in HOST, in the foreground.
run_tomcat() {
	on "$1" env CATALINA_HOME=/usr/share/tomcat10 CATALINA_BASE="$2" CATALINA_TMPDIR="$2/temp" \
		/usr/share/tomcat10/bin/catalina.sh run
}

# Incident 000: Tomcat's keep-alive timeout and a client that never closes.
sc_tomcat_leak() {
	host client; host server; wire client server
	tomcat_base "$work/tomcat" 'connectionTimeout="5000" keepAliveTimeout="2000" maxKeepAliveRequests="100"'
	run_tomcat server "$work/tomcat"
	listening server 8080 60
	sleep 1
	javac -d "$work" "$here/clients/Leak.java"
	capture client "$client_if" "$work/cap.pcap"
	begin tomcat-leak
	client client java -XX:TieredStopAtLevel=1 -cp "$work" Leak "$server_ip" 8080 24 150 25
	first_port 20 # the clock starts at the first request
	until_t 2.8   # the first leak got Tomcat's FIN at 2 s
	cut early client server
	until_t 5
	cut mid client server
	until_t 18
	cut late client server
	tail_cut tail 4 late # from 4 s: two-packet streams, Tomcat's FIN and the ACK
	finish "$work/cap.pcap"
	expect <<EXP
# The JDK client's request threads end without closing their socket:
# Tomcat closes each after 2 s idle and the client sits in CLOSE_WAIT.
# One connection in three is closed properly by the client. The tail cut
# begins after the requests: it holds only Tomcat's FINs and the ACKs.
@early,mid,late expect client.ss=CLOSE-WAIT n>=1 : close_wait_leak(client) idle_timeout_close(server)
@tail expect client.ss=CLOSE-WAIT n>=1 : close_wait_leak(client)
@tail unseen_ok
infinding client.ss=CLOSE-WAIT : close_wait_leak
@late expect cport=$(ports leak) : close_wait_leak(client)
healthy cport=$(ports ok)
finding close_wait_leak
EXP
}

# haproxy_keepalive_conf BIND writes $work/haproxy.cfg: HAProxy (timeout
# http-keep-alive 2s) bound as BIND says, in front of nginx on
# 127.0.0.1:8081.
haproxy_keepalive_conf() {
	cat >"$work/haproxy.cfg" <<CONF
global
	pidfile $work/haproxy.pid
defaults
	mode http
	timeout connect 2s
	timeout client 30s
	timeout server 30s
	timeout http-keep-alive 2s
frontend web
	bind $1
	default_backend app
backend app
	server nginx 127.0.0.1:8081
CONF
}

# Incident 002: python http.client connections never closed, behind HAProxy.
sc_haproxy_python_leak() {
	host client; host server; wire client server
	nginx_conf "$work/nginx" 8081 60s 127.0.0.1
	haproxy_keepalive_conf "$server_ip:8080"
	run_nginx server "$work/nginx"
	on server haproxy -db -f "$work/haproxy.cfg"
	listening server 8080
	capture client "$client_if" "$work/cap.pcap"
	begin haproxy-python-leak
	client client $pylab httpleak "$server_ip" 8080 8 0.3 20
	first_port 10
	until_t 3.0
	cut early client server
	until_t 6
	cut mid client server
	until_t 15
	cut late client server
	finish "$work/cap.pcap"
	expect <<EXP
# python http.client connections never closed: HAProxy closes each after
# 2 s idle (timeout http-keep-alive) and the client sits in CLOSE_WAIT.
# Every fourth connection is closed by the client.
expect client.ss=CLOSE-WAIT n>=1 : close_wait_leak(client) idle_timeout_close(server)
infinding client.ss=CLOSE-WAIT : close_wait_leak
@mid,late expect cport=$(ports leak) : close_wait_leak(client)
healthy cport=$(ports ok)
finding close_wait_leak
EXP
}

# Incident 003: ZooKeeper's per-client connection cap and a reconnect loop.
sc_zk_cap() {
	host client; host server; wire client server
	mkdir -p "$work/zk/data" "$work/zkconf"
	cat >"$work/zk/zoo.cfg" <<CONF
tickTime=2000
dataDir=$work/zk/data
clientPort=2181
clientPortAddress=$server_ip
maxClientCnxns=4
admin.enableServer=false
CONF
	cp /etc/zookeeper/conf/log4j.properties "$work/zkconf/"
	on server java -Dzookeeper.root.logger=WARN,CONSOLE -Dzookeeper.log.dir="$work/zk" \
		-cp "$work/zkconf:/usr/share/java/zookeeper.jar" org.apache.zookeeper.server.quorum.QuorumPeerMain "$work/zk/zoo.cfg"
	listening server 2181 60
	capture client "$client_if" "$work/cap.pcap"
	begin zk-cap
	client client $py -c "
import sys, time, logging
from kazoo.client import KazooClient
logging.basicConfig(level=logging.ERROR)
zks = []
for i in range(4):
    zk = KazooClient(hosts='$server_ip:2181', timeout=6)
    zk.start(timeout=5)
    zks.append(zk)
    print('session', zk._connection._socket.getsockname()[1], flush=True)
time.sleep(22)
"
	first_port 30
	until_t 3
	client client $pylab storm "$server_ip" 2181 60 0.1
	until_t 4
	cut early client server
	until_t 7
	cut mid client server
	until_t 16
	cut late client server
	finish "$work/cap.pcap"
	expect <<EXP
# 4 ZooKeeper sessions are the client host's cap; every further connection
# is accepted and closed by the server at once, the client closes too and
# reconnects: accept then close, a reconnect storm.
expect cport=$(ports storm) : accept_then_close(server)
infinding cport=$(ports storm) : reconnect_storm
healthy cport=$(ports session)
finding reconnect_storm
EXP
}

# Incident 003 again: a Node.js server at its maxConnections.
sc_node_maxconn() {
	host client; host server; wire client server
	on server node -e "
const net = require('net');
const s = net.createServer(c => { c.on('data', () => {}); c.on('error', () => {}); });
s.maxConnections = 3;
s.listen(9000, '$server_ip');
setTimeout(() => process.exit(0), 40000);
"
	listening server 9000
	capture client "$client_if" "$work/cap.pcap"
	begin node-maxconn
	client client $pylab hold "$server_ip" 9000 3 20
	first_port 5
	client client $pylab storm "$server_ip" 9000 50 0.08
	until_t 1.2
	cut early client server
	until_t 3.5
	cut mid client server
	until_t 8
	cut late client server
	finish "$work/cap.pcap"
	expect <<EXP
# Node.js closes every connection past its maxConnections (3) at once;
# the client closes too and reconnects every 80 ms.
expect cport=$(ports storm) : accept_then_close(server)
infinding cport=$(ports storm) : reconnect_storm
healthy cport=$(ports hold)
finding reconnect_storm
EXP
}

# Incident 004: a proxy that never closes its caller's socket.
sc_proxy_leak() {
	host caller; host proxy; host upstream
	wire caller proxy
	local front=$proxy_ip
	wire proxy upstream
	on upstream $pylab silent "$upstream_ip" 9000 40
	on proxy $pylab proxy "$front" 8080 "$upstream_ip" 9000 40
	listening upstream 9000
	listening proxy 8080
	capture proxy any "$work/cap.pcap"
	begin proxy-leak
	for i in 1 2 3 4 5 6; do
		ip netns exec "$tag-caller" curl -s -o /dev/null --max-time 3 "http://$front:8080/api/$i" >>"$work/log" 2>&1 &
		pids+=($!)
		sleep 0.4
	done
	until_t 3.6 # the first caller gave up at 3 s
	cut early caller proxy upstream
	until_t 7
	cut mid caller proxy upstream
	until_t 16
	cut late caller proxy upstream
	tail_cut tail 4.5 late # from 4.5 s: the last callers' FINs
	finish "$work/cap.pcap"
	expect <<EXP
# curl gives up after 3 s and closes; the proxy, blocked on its silent
# upstream with no timeout, never closes the caller's socket: CLOSE_WAIT
# on the proxy (the server of the caller's connection). At the first cut
# one CLOSE_WAIT is 0.6 s old and the proxy closed nothing yet: the
# capture cannot tell. The tail cut begins at 4.5 s, mid-connection.
@mid,late,tail expect sport=8080 server.ss=CLOSE-WAIT n>=1 : close_wait_leak(server)
@mid,late,tail infinding sport=8080 server.ss=CLOSE-WAIT : close_wait_leak
@tail unseen_ok
expect sport=8080 : !close_wait_leak(client)
@mid,late,tail finding close_wait_leak
EXP
}

# Healthy: clients that close what they open, against nginx.
sc_nginx_clean() {
	host client; host server; wire client server
	nginx_conf "$work/nginx" 80 2s
	run_nginx server "$work/nginx"
	listening server 80
	capture client "$client_if" "$work/cap.pcap"
	begin nginx-clean
	for i in 1 2 3; do
		ip netns exec "$tag-client" curl -s -o /dev/null -o /dev/null --max-time 3 "http://$server_ip/ok" "http://$server_ip/big" >>"$work/log" 2>&1
		sleep 0.2
	done
	ip netns exec "$tag-client" $py -c "
import requests, time
with requests.Session() as s:
    for p in ('/ok', '/big', '/missing', '/ok'):
        s.get('http://$server_ip' + p, timeout=3).content
        time.sleep(0.3)
for p in ('/ok', '/missing'):
    requests.get('http://$server_ip' + p, timeout=3).close()
" >>"$work/log" 2>&1
	# and one keep-alive connection left idle: nginx closes it after 2 s,
	# the client closes at once
	ip netns exec "$tag-client" $py -c "
import socket, time
s = socket.create_connection(('$server_ip', 80))
s.sendall(b'GET /ok HTTP/1.1\r\nHost: x\r\n\r\n')
while s.recv(4096):
    pass
s.close()
" >>"$work/log" 2>&1 &
	pids+=($!)
	until_t 3
	cut early client server
	until_t 5
	cut mid client server
	until_t 9
	cut late client server
	finish "$work/cap.pcap"
	expect <<EXP
# curl, a requests Session and requests.get, all closed; a keep-alive
# connection nginx closes after 2 s idle, closed by the client at once.
healthy all
nofinding close_wait_leak
EXP
}

# Healthy: HAProxy in front of a silent upstream; its caller times out,
# HAProxy closes both sides.
sc_haproxy_timeout() {
	host caller; host proxy; host upstream
	wire caller proxy
	local front=$proxy_ip
	wire proxy upstream
	cat >"$work/haproxy.cfg" <<CONF
global
	pidfile $work/haproxy.pid
defaults
	mode http
	option abortonclose
	timeout connect 2s
	timeout client 5s
	timeout server 2s
frontend web
	bind $front:8080
	default_backend app
backend app
	server up $upstream_ip:9000
CONF
	on upstream $pylab silent "$upstream_ip" 9000 30
	on proxy haproxy -db -f "$work/haproxy.cfg"
	listening upstream 9000
	listening proxy 8080
	capture proxy any "$work/cap.pcap"
	begin haproxy-timeout
	for i in 1 2 3 4; do
		ip netns exec "$tag-caller" curl -s -o /dev/null --max-time 1 "http://$front:8080/api/$i" >>"$work/log" 2>&1 &
		pids+=($!)
		sleep 0.3
	done
	for i in 5 6; do # these wait for HAProxy's 504
		ip netns exec "$tag-caller" curl -s -o /dev/null --max-time 5 "http://$front:8080/api/$i" >>"$work/log" 2>&1 &
		pids+=($!)
		sleep 0.3
	done
	until_t 2.2
	cut early caller proxy upstream
	until_t 4.5
	cut mid caller proxy upstream
	until_t 10
	cut late caller proxy upstream
	finish "$work/cap.pcap"
	expect <<EXP
# A proxy that closes correctly when its caller or its upstream times out.
# (The upstream that never answers is another matter: no expectation.)
healthy sport=8080
nofinding close_wait_leak
EXP
}

# Healthy: a long half-close stream.
sc_half_close_stream() {
	host client; host server; wire client server
	on server $pylab stream "$server_ip" 7000 25 40
	listening server 7000
	capture client "$client_if" "$work/cap.pcap" -s 200
	begin half-close-stream
	for i in 1 2 3; do
		# socat shuts down its sending side at the end of its input and
		# reads the answer until the server closes.
		printf 'GET /stream/%s\n' $i | ip netns exec "$tag-client" timeout 40 socat -t 40 -T 40 - "TCP:$server_ip:7000" >/dev/null 2>>"$work/log" &
		pids+=($!)
		sleep 0.5
	done
	until_t 4
	cut early client server
	until_t 12
	cut mid client server
	until_t 24
	cut late client server
	finish "$work/cap.pcap"
	expect <<EXP
# The client sent its request and shut down its sending side; the server
# streams its answer in CLOSE_WAIT, sending up to the end of every cut.
expect all n>=3 : half_close_ok(client)|half_close_ok(server) !close_wait_leak(server)
healthy all
nofinding close_wait_leak
EXP
}

# Listen overflow with SYN cookies: backlog 1, never accepts.
sc_listen_overflow() {
	host client; host server; wire client server
	ip netns exec "$tag-server" sysctl -qw net.ipv4.tcp_syncookies=1
	# Over a real network the handshakes of a burst overlap (an RTT); on a
	# veth each completes before the next SYN. The client's bare handshake
	# ACKs are held back (dropped: its data, sent 0.5 s later, completes
	# the handshake) so that they overlap here too: the SYN queue (1) is
	# full, the server answers with SYN cookies and keeps no state, then
	# the accept queue (2) overflows and the rest are dropped.
	ip netns exec "$tag-client" nft add table inet flowdoc
	ip netns exec "$tag-client" nft add chain inet flowdoc out '{ type filter hook output priority 0; }'
	ip netns exec "$tag-client" nft add rule inet flowdoc out tcp dport 8080 tcp flags == ack ip length 52 drop
	on server $pylab nobacklog "$server_ip" 8080 40
	listening server 8080
	capture client "$client_if" "$work/cap.pcap"
	begin listen-overflow
	client client $pylab flood "$server_ip" 8080 16 30 0.5
	first_port 10
	until_t 2
	cut early client server
	until_t 6
	cut mid client server
	until_t 14
	cut late client server
	finish "$work/cap.pcap"
	expect <<EXP
# The accept queue holds 2; the other clients' ACKs (after SYN cookies)
# and data are dropped, the server acknowledges nothing after the
# handshake and holds no socket: listen overflow, the server CLOSED.
expect server.ss=CLOSED : listen_overflow(server)
finding listen_overflow
EXP
}

# listen_counters HOST: the listen queue's counters of HOST's kernel
# (nstat, absolute), on one line.
listen_counters() {
	ip netns exec "$tag-$1" nstat -asz TcpExtListenOverflows TcpExtListenDrops TcpExtTCPReqQFullDoCookies \
		TcpExtSyncookiesSent TcpExtSyncookiesRecv TcpExtSyncookiesFailed TcpExtTCPSynRetrans |
		awk '$1 !~ /^#/ { sub(/^TcpExt/, "", $1); printf "%s%s %s", s, $1, $2; s = ", " }'
}

# handshakes FILE SPORT: what FILE shows of the handshakes to port SPORT:
# the SYNs dropped (sent before the connection's first SYN-ACK, but the
# one it answers, or never answered) and the SYN-ACKs sent again.
handshakes() {
	tshark -r "$1" -Y "tcp.port == $2 && tcp.flags.syn == 1" -T fields -e tcp.srcport -e tcp.dstport -e tcp.flags.ack 2>/dev/null |
		awk -v sp="$2" '$2 == sp && $3 == 0 { syns++; if (!sa[$1]) pre[$1]++ } $1 == sp && $3 == 1 { sa[$2]++ }
			END { for (p in pre) { n++; dropped += pre[p] - (sa[p] > 0); again += sa[p] > 1 ? sa[p] - 1 : 0 }
				printf "%d connections, %d SYNs, %d of them dropped, %d SYN-ACKs sent again", n, syns, dropped, again }'
}

# answered_last FILE SPORT: the client ports of the connections to SPORT
# in FILE answered only after they sent their SYN again, while no other
# connection that began during that wait was answered (by the end of
# FILE), comma separated.
answered_last() {
	tshark -r "$1" -Y "tcp.port == $2 && tcp.flags.syn == 1" -T fields -e frame.time_epoch -e tcp.srcport -e tcp.dstport \
		-e tcp.flags.ack 2>/dev/null |
		awk -v sp="$2" '$3 == sp && $4 == 0 { if (!($2 in first)) first[$2] = $1; if (!($2 in sa)) syns[$2]++ }
			$2 == sp && $4 == 1 && !($3 in sa) { sa[$3] = $1 }
			END {
				for (f in sa) {
					alone = syns[f] > 1
					for (g in sa) if (g != f && first[g] >= first[f] && first[g] <= sa[f]) alone = 0
					if (alone) { printf "%s%s", c, f; c = "," }
				}
			}'
}

# A full accept queue behind a busy worker: gunicorn's sync worker accepts
# a connection only when it is done with the one before.
sc_gunicorn_backlog() {
	host client; host server; wire client server
	# A new namespace's default, written out: SYN cookies when the SYN
	# queue is full.
	ip netns exec "$tag-server" sysctl -qw net.ipv4.tcp_syncookies=1
	mkdir -p "$work/app"
	cat >"$work/app/app.py" <<'APP'
import time

def app(environ, start_response):
    if environ["PATH_INFO"] == "/slow":
        time.sleep(1.5)
    body = b"ok\n"
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", str(len(body)))])
    return [body]
APP
	# One sync worker, listen(4): the accept queue holds 5 (backlog + 1),
	# the SYN queue 4 before SYN cookies.
	: >"$work/log"
	on server $py -m gunicorn --chdir "$work/app" -k sync -w 1 --backlog 4 -b "$server_ip:8000" app:app
	listening server 8000 20
	# Its worker up (a request to try it would leave a TIME-WAIT the
	# capture does not hold).
	local i
	for i in $(seq 100); do
		grep -q "Booting worker" "$work/log" && break
		[ "$i" -lt 100 ] || die "gunicorn started no worker: $(tail -5 "$work/log")"
		sleep 0.1
	done
	sleep 1
	: >"$work/curl"
	capture client "$client_if" "$work/cap.pcap" -B 16384
	begin gunicorn-backlog
	# 20 curl --max-time 15 at once to /slow (1.5 s each, one at a time):
	# 10 served in time at most, the others give up. The worker serves
	# those it has queued anyway; those of the others whose request it
	# never acknowledged retransmit it as orphans, until the server takes
	# them or their retries run out (net.ipv4.tcp_orphan_retries: about
	# 100 s, and then nothing is sent: CLOSED in ss, a socket still
	# retransmitting as far as the capture can tell). With 30 clients
	# some did run out, the queue full at each of their retransmissions.
	for i in $(seq 20); do
		ip netns exec "$tag-client" curl -s -o /dev/null --max-time 15 \
			-w 'slow %{http_code} %{local_port} %{time_connect} %{time_total} %{exitcode}\n' \
			"http://$server_ip:8000/slow" >>"$work/curl" 2>>"$work/log" &
		pids+=($!)
	done
	local early mid late drained mid_last late_last
	# The clients send their SYNs again 1, 2, 3, 4, 5, then 7 and 11 s
	# after the first (net.ipv4.tcp_syn_linear_timeouts), in bursts of
	# the same timer tick: those that come when the worker has just taken
	# one connection all get a SYN-ACK, with a SYN_RECV socket while fewer
	# than 4 (the backlog) are half-open, with a SYN cookie after, and all
	# but the first ACK are dropped. A server that keeps no socket is told
	# from one that keeps SYN_RECV only when its SYN-ACK does not come
	# again 1 s later: no cut within a second of the bursts of SYN-ACKs.
	until_t 1.3
	cut early client server
	early=$(listen_counters server)
	until_t 8.6
	cut mid client server
	mid=$(listen_counters server)
	# The curls give up at 15 s. Those whose request the server never
	# acknowledged cannot send their FIN (the request, sent again, fills
	# their congestion window): FIN-WAIT-1 in ss, no FIN in the capture,
	# until the server takes them; no cut then. The worker serves every
	# request that reaches it, those of the curls that gave up too (their
	# sockets wait in CLOSE_WAIT in the accept queue, then the client
	# resets the answer): wait (at most until 110 s) until it is done with
	# them, nothing queued, no socket of port 8000 but TIME-WAIT on either
	# host.
	until_t 16
	for i in $(seq 1000); do
		{
			ip netns exec "$tag-client" ss -tanH "dport = :8000"
			ip netns exec "$tag-server" ss -tanH "sport = :8000"
		} | awk '$1 != "TIME-WAIT" && !($1 == "LISTEN" && $2 == 0)' | grep -q . || break
		[ "$(awk -v t0="$t0" -v now="$(date +%s.%N)" 'BEGIN { print (now - t0 < 110) }')" = 1 ] || {
			echo "lab: $name: the burst did not drain in 110 s" >&2
			break
		}
		sleep 0.1
	done
	drained=$(awk -v t0="$t0" -v now="$(date +%s.%N)" 'BEGIN { printf "%.1f", now - t0 }')
	# Then three requests to /fast, one after the other.
	for i in 1 2 3; do
		ip netns exec "$tag-client" curl -s -o /dev/null --max-time 5 \
			-w 'fast %{http_code} %{local_port} %{time_connect} %{time_total} %{exitcode}\n' \
			"http://$server_ip:8000/fast" >>"$work/curl" 2>>"$work/log"
		sleep 0.3
	done
	# The late cut 65 s at least after the burst's last TIME-WAIT (by
	# 15 s): the kernel's TIME-WAIT timer, 60 s, fires up to a few
	# seconds late.
	sleep 1
	until_t 80
	cut late client server
	late=$(listen_counters server)
	finish "$work/cap.pcap"
	# served: connected at once; servedlate: connected after SYNs sent
	# again; timedout: curl gave up (exit 28) after a handshake.
	awk '$1 == "slow" && $3 != 0 { print ($2 != 200 ? "timedout" : $4 < 0.5 ? "served" : "servedlate"), $3 }
		$1 == "fast" { print "fast", $3 }' "$work/curl" >>"$work/ports"
	echo "lab: $name: drained at $drained s; $(command cut -d" " -f1 "$work/ports" | sort | uniq -c | tr -s "\\n " " ")" >&2
	mid_last=$(answered_last "$out/$name@mid.pcap" 8000)
	late_last=$(answered_last "$out/$name@late.pcap" 8000)
	expect <<EXP
# gunicorn, one sync worker, --backlog 4: the worker accepts a connection
# only when it is done with the one before (/slow: 1.5 s). 20 curl
# --max-time 15 at once: 1 accepted, 5 queued (the accept queue holds
# backlog + 1), and the kernel drops the other SYNs. The clients send
# them again; a burst of them that comes when a place is free gets
# SYN-ACKs (SYN_RECV, then SYN cookies), and all but the first ACK, and
# the requests after them, are dropped: the server sends its SYN-ACK
# again (SYN_RECV) or nothing (cookies), the clients their requests. The
# worker serves them one by one; curl gives up at 15 s (FIN, or nothing
# from SYN_SENT), and the worker answers those it had queued anyway
# (the client resets). Then three requests to /fast.
# This recording: $(awk '{ n[$1]++ } END { printf "%d served at once, %d served late, %d timed out after a handshake", n["served"], n["servedlate"], n["timedout"] }' "$work/ports")
# ($((20 - $(grep -c -v '^fast' "$work/ports"))) before one), 3 fast; the burst drained at $drained s.
# $(handshakes "$out/$name@late.pcap" 8000).
# The server's counters (nstat) at the cuts:
# early: $early
# mid: $mid
# late: $late
finding listen_overflow
nofinding unanswered_syn
nofinding handshake_incomplete
nofinding close_wait_leak
# Those connected at once, and the three fast ones: healthy.
healthy cport=$(ports served)
healthy cport=$(ports fast)
# Every other connection hit the full queue: its SYNs dropped, or its
# ACK and request. flowdoc holds a connection answered late to it by its
# SYNs only when another that began during its wait was answered too;
# the burst's last to be answered (${mid_last:-none} at the mid cut,
# ${late_last:-none} at the late one) it holds by its request, never
# acknowledged after a SYN cookie, while that lasts: at the mid cut; at
# the late one, where the server had acknowledged it at last, by the
# request sent again and again after the server's only SYN-ACK.
nofinding peer_unreachable
@early expect cport!=$(ports served),$(ports fast) n>=10 : listen_overflow(server)
@mid expect cport!=$(ports served),$(ports fast) n>=10 : listen_overflow(server) !close_wait_leak(server)
@mid infinding cport!=$(ports served),$(ports fast) : listen_overflow
@late expect cport!=$(ports served),$(ports fast) n>=10 : listen_overflow(server) !close_wait_leak(server)
@late infinding cport!=$(ports served),$(ports fast) : listen_overflow
# curl's --max-time: the client gives up and closes (FIN); the worker
# answers later, and the client's kernel resets. No leak on the server:
# it answers and closes every one.
@late expect cport=$(ports timedout) n>=1 : idle_timeout_close(client) !close_wait_leak(server)
EXP
}

# answered_once FILE SPORT PORTS: those of the client PORTS (comma
# separated) to which the server (port SPORT) sent one SYN-ACK only in
# FILE, and whose data it acknowledged there.
answered_once() {
	tshark -r "$1" -Y "tcp.srcport == $2" -T fields -e tcp.dstport -e tcp.flags.syn -e tcp.ack 2>/dev/null |
		awk -v l="$3" 'BEGIN { n = split(l, a, ","); for (i = 1; i <= n; i++) want[a[i]] = 1 }
			want[$1] && $2 == 1 { c[$1]++ } want[$1] && $2 == 0 && $3 > 1 { acked[$1] = 1 }
			END { for (p in c) if (c[p] == 1 && acked[p]) { printf "%s%s", s, p; s = "," } }'
}

# A full accept queue behind Tomcat's maxConnections: the NIO connector's
# acceptor takes no connection while it holds maxConnections.
sc_tomcat_accept_queue() {
	host client; host server; wire client server
	# A new namespace's default, written out: SYN cookies when the SYN
	# queue is full.
	ip netns exec "$tag-server" sysctl -qw net.ipv4.tcp_syncookies=1
	# 4 connections at most (maxConnections), 2 request threads, listen(2)
	# (acceptCount): the kernel's accept queue holds 3 (backlog + 1). An
	# access log of the remote port and the moment each request began.
	local b=$work/tomcat i
	tomcat_base "$b" 'maxThreads="2" minSpareThreads="2" maxConnections="4" acceptCount="2" connectionTimeout="20000"' \
		"<Valve className=\"org.apache.catalina.valves.AccessLogValve\" directory=\"$b/logs\" prefix=\"access\" suffix=\".log\" rotatable=\"false\" buffered=\"false\" pattern=\"%{remote}p %{begin:msec}t %s %D\"/>"
	# The webapp: testdata/lab/webapp/Slow.java, /slow after 1.5 s, /fast at
	# once, loaded at start (a first request would load it).
	mkdir -p "$b/webapps/ROOT/WEB-INF/classes"
	javac -cp /usr/share/java/tomcat10-servlet-api.jar -d "$b/webapps/ROOT/WEB-INF/classes" "$here/webapp/Slow.java"
	cat >"$b/webapps/ROOT/WEB-INF/web.xml" <<'XML'
<?xml version="1.0" encoding="UTF-8"?>
<web-app xmlns="https://jakarta.ee/xml/ns/jakartaee" version="6.0" metadata-complete="true">
  <servlet><servlet-name>slow</servlet-name><servlet-class>Slow</servlet-class><load-on-startup>1</load-on-startup></servlet>
  <servlet-mapping><servlet-name>slow</servlet-name><url-pattern>/slow</url-pattern><url-pattern>/fast</url-pattern></servlet-mapping>
</web-app>
XML
	run_tomcat server "$b"
	# Tomcat binds its port before it deploys the webapp: wait for its
	# start (a request to try it would leave a TIME-WAIT the capture does
	# not hold).
	for i in $(seq 600); do
		grep -q "Server startup in" "$work/log" && break
		[ "$i" -lt 600 ] || die "Tomcat did not start: $(tail -5 "$work/log")"
		sleep 0.1
	done
	listening server 8080
	sleep 1
	: >"$work/curl"
	capture client "$client_if" "$work/cap.pcap" -B 16384
	begin tomcat-accept-queue
	# 15 curl --max-time 12 at once to /slow (1.5 s each, two at a time):
	# 4 accepted (2 served, 2 waiting for a thread), 3 in the accept
	# queue, the other SYNs dropped; sent again 1, 2, 3, 4, 5, 7 and 11 s
	# after the first (net.ipv4.tcp_syn_linear_timeouts). About 14
	# served in 12 s at most, with the gaps of the SYNs sent again fewer:
	# some give up.
	for i in $(seq 15); do
		ip netns exec "$tag-client" curl -s -o /dev/null --max-time 12 \
			-w 'slow %{http_code} %{local_port} %{time_connect} %{time_total} %{exitcode}\n' \
			"http://$server_ip:8080/slow" >>"$work/curl" 2>>"$work/log" &
		pids+=($!)
	done
	local early mid late drained fast early_cw early_last mid_last late_last
	# As in gunicorn-backlog: no cut within a second of a burst of
	# SYN-ACKs, so that a server that keeps SYN_RECV (its SYN-ACK comes
	# again 1 s later) is told from one that answered with a SYN cookie and
	# keeps nothing. The burst's first SYNs may fill the queue before the
	# acceptor takes 4 from it, and then it is empty: the SYNs sent again
	# at 1 s get SYN-ACKs (SYN cookies past the backlog), all but the
	# first ACKs and requests dropped, the queue full again; those at 2 s
	# find it full. Early: 2.7 s, the queue full, the requests of the
	# handshakes of 1 s sent again.
	until_t 2.7
	cut early client server
	early=$(listen_counters server)
	# Mid: draining, 1.6 s after the SYNs sent again at 7 s.
	until_t 8.6
	cut mid client server
	mid=$(listen_counters server)
	# The curls give up at 12 s; Tomcat answers what it has taken and
	# queued anyway. Wait (at most until 60 s) until nothing of port 8080
	# is left but TIME-WAIT on either host.
	until_t 12.5
	for i in $(seq 500); do
		{
			ip netns exec "$tag-client" ss -tanH "dport = :8080"
			ip netns exec "$tag-server" ss -tanH "sport = :8080"
		} | awk '$1 != "TIME-WAIT" && !($1 == "LISTEN" && $2 == 0)' | grep -q . || break
		[ "$(awk -v t0="$t0" -v now="$(date +%s.%N)" 'BEGIN { print (now - t0 < 60) }')" = 1 ] || {
			echo "lab: $name: the burst did not drain in 60 s" >&2
			break
		}
		sleep 0.1
	done
	drained=$(awk -v t0="$t0" -v now="$(date +%s.%N)" 'BEGIN { printf "%.1f", now - t0 }')
	# Then three requests to /fast, one after the other, at 28 s at the
	# earliest.
	fast=$(awk -v d="$drained" 'BEGIN { print (d > 28 ? d : 28) }')
	until_t "$fast"
	for i in 1 2 3; do
		ip netns exec "$tag-client" curl -s -o /dev/null --max-time 5 \
			-w 'fast %{http_code} %{local_port} %{time_connect} %{time_total} %{exitcode}\n' \
			"http://$server_ip:8080/fast" >>"$work/curl" 2>>"$work/log"
		sleep 0.3
	done
	# The late cut 65 s at least after the burst's last TIME-WAIT (by
	# 12.5 s: the kernel's TIME-WAIT timer, 60 s, fires up to a few
	# seconds late) and 52 s after the fast requests, whose TIME-WAITs
	# are still there.
	until_t "$(awk -v f="$fast" 'BEGIN { print f + 52 }')"
	cut late client server
	late=$(listen_counters server)
	finish "$work/cap.pcap"
	# served: connected at once; servedlate: connected after SYNs sent
	# again; timedout: curl gave up (exit 28) after a handshake.
	awk '$1 == "slow" && $3 != 0 { print ($2 != 200 ? "timedout" : $4 < 0.5 ? "served" : "servedlate"), $3 }
		$1 == "fast" { print "fast", $3 }' "$work/curl" >>"$work/ports"
	echo "lab: $name: drained at $drained s; $(command cut -d" " -f1 "$work/ports" | sort | uniq -c | tr -s "\\n " " ")" >&2
	# When Tomcat began each request (s after begin) and its client port.
	awk -v t0="$t0" '{ printf "%s%.1f %s", s, $2 / 1000 - t0, $1; s = ", " }' "$b/logs/access.log" >"$work/began"
	# The server's CLOSE-WAITs at the early cut: clients served that closed
	# while both request threads were busy (Tomcat closes on a thread).
	early_cw=$(awk '$1 == "CLOSE-WAIT" && $4 ~ /:8080$/ { sub(/.*:/, "", $5); printf "%s%s", c, $5; c = "," }' "$out/$name@early.truth")
	# The burst's last to be answered, when its handshake went through at
	# the first SYN-ACK.
	early_last=$(answered_once "$out/$name@early.pcap" 8080 "$(answered_last "$out/$name@early.pcap" 8080)")
	mid_last=$(answered_once "$out/$name@mid.pcap" 8080 "$(answered_last "$out/$name@mid.pcap" 8080)")
	late_last=$(answered_once "$out/$name@late.pcap" 8080 "$(answered_last "$out/$name@late.pcap" 8080)")
	expect <<EXP
# Tomcat 10's NIO connector, maxConnections 4, maxThreads 2, acceptCount
# 2: the acceptor takes no connection while it holds 4 (2 served, 2
# waiting for a thread), and the kernel's accept queue holds 3 (backlog
# + 1); /slow answers after 1.5 s. 15 curl --max-time 12 at once: the
# kernel drops the other SYNs; the clients send them again, and a burst
# that comes when a place is free gets SYN-ACKs, all but the first ACKs
# (and the requests after them) dropped. Then three requests to /fast.
# This recording: $(awk '{ n[$1]++ } END { printf "%d served at once, %d served late, %d timed out after a handshake", n["served"], n["servedlate"], n["timedout"] }' "$work/ports")
# ($((15 - $(grep -c -v '^fast' "$work/ports"))) before one), 3 fast; the burst drained at $drained s.
# $(handshakes "$out/$name@late.pcap" 8080).
# Tomcat began the requests at (s, client port): $(cat "$work/began").
# The server's counters (nstat) at the cuts:
# early: $early
# mid: $mid
# late: $late
finding listen_overflow
nofinding unanswered_syn
nofinding handshake_incomplete
nofinding peer_unreachable
# Tomcat closes a connection whose client closed (curl, once answered) on
# one of its request threads: while both are busy with requests, its
# CLOSE_WAIT waits in line behind them (at the early cut:
# ${early_cw:-none}), and it counts against maxConnections, the acceptor
# stalled meanwhile. No leak: Tomcat sends its FIN when a thread is free,
# and flowdoc sees the server still answering, slowly: it cannot tell yet.
noproblem close_wait_leak
@mid,late nofinding close_wait_leak
healthy cport=$(ports served)
healthy cport=$(ports fast)
# Every other connection hit the full queue: its SYNs dropped, or its
# ACK and request. flowdoc holds a connection answered late to it by its
# SYNs only when another that began during its wait was answered too, or
# by its handshake (SYN-ACK sent again, or its request unacknowledged
# after the handshake, a SYN cookie). The burst's last to begin among
# those answered together, its SYNs dropped at the same moments as the
# others', is held once the server has acknowledged its request, when
# its first SYN-ACK was the only one, by its request sent again and
# again; it is left out only at the early cut (${early_last:-none} at the early
# cut, ${mid_last:-none} at the mid one, ${late_last:-none} at the late
# one): left out.
@early expect cport!=$(ports served),$(ports fast) cport!=${early_last:-0} n>=5 : listen_overflow(server)
@mid expect cport!=$(ports served),$(ports fast) n>=5 : listen_overflow(server) !close_wait_leak(server)
@mid infinding cport!=$(ports served),$(ports fast) : listen_overflow
@late expect cport!=$(ports served),$(ports fast) n>=5 : listen_overflow(server) !close_wait_leak(server)
@late infinding cport!=$(ports served),$(ports fast) : listen_overflow
# curl's --max-time: the client gives up and closes (FIN); Tomcat answers
# the request it had taken or queued anyway, and the client's kernel
# resets. No leak on the server.
@late expect cport=$(ports timedout) n>=1 : idle_timeout_close(client) !close_wait_leak(server)
EXP
}

# TCP keep-alive probes, then RST into silence.
sc_keepalive_silence() {
	host client; host server; wire client server
	on server redis-server --bind "$server_ip" --port 6379 --protected-mode no --save "" --appendonly no \
		--tcp-keepalive 0 --timeout 0 --dir "$work" --daemonize no
	listening server 6379
	capture client "$client_if" "$work/cap.pcap"
	begin keepalive-silence
	client client $pylab kasilence "$server_ip" 6379 30
	first_port 10
	until_t 3.5 # probes answered every second
	ip netns exec "$tag-server" nft add table inet flowdoc
	ip netns exec "$tag-server" nft add chain inet flowdoc in '{ type filter hook input priority 0; }'
	ip netns exec "$tag-server" nft add rule inet flowdoc in ip saddr "$client_ip" drop
	until_t 5.2
	cut early client server
	until_t 8.5 # 3 probes unanswered, then the client's RST
	cut mid client server
	until_t 14
	cut late client server
	finish "$work/cap.pcap"
	expect <<EXP
# The path to Redis drops everything: the client's keep-alive probes go
# unanswered and it gives up with an RST that never arrives. The server
# still holds the connection (ESTABLISHED; UNKNOWN is a fair answer too).
unknown_ok all : server
@mid,late expect all n>=1 : peer_unreachable(server)|peer_unreachable(client)
@mid,late finding tcp_keepalive
EXP
}

# Idle timeouts of database and cache servers, and a pooled client.
sc_db_idle() {
	host client; host server; wire client server
	on server redis-server --bind "$server_ip" --port 6379 --protected-mode no --save "" --appendonly no \
		--tcp-keepalive 0 --timeout 3 --dir "$work" --daemonize no
	on server memcached -u nobody -l "$server_ip" -p 11211 -U 0 -o idle_timeout=3
	on server $pylab lingerd "$server_ip" 7000 3 40
	listening server 6379
	listening server 11211
	listening server 7000
	capture client "$client_if" "$work/cap.pcap"
	begin db-idle
	client client $pylab pool redis:$server_ip:6379 memcached:$server_ip:11211 linger:$server_ip:7000 7 20
	first_port 10
	until_t 6.5 # every server closed its idle connections (memcached checks lazily); none reused yet
	cut early client server
	until_t 9
	cut mid client server
	until_t 16
	cut late client server
	finish "$work/cap.pcap"
	local stale=$(ports stale-redis),$(ports stale-memcached)
	local watch=$(ports watch-redis),$(ports watch-memcached)
	local linger=$(ports stale-linger),$(ports watch-linger)
	expect <<EXP
# Redis (timeout 3) and memcached (idle_timeout 3, checked lazily: 3-5 s)
# close connections idle past their timeout with FIN; a server with zero
# linger resets them after 3 s. All are idle timeouts, measured, the RST
# ones too. The pool reuses one connection per server after 7 s: Redis and
# memcached, which closed it, answer with RST (the RST of the zero-linger
# server already closed that socket: its reuse sends nothing). The other
# connection notices the close and closes at once: healthy.
expect cport=$stale,$watch,$linger : idle_timeout_close(server)
@mid,late expect cport=$stale : stale_reuse_reset(client)
healthy cport=$watch
finding idle_timeout_close
@mid,late finding stale_reuse_reset
EXP
}

# A stateful firewall that forgets idle connections.
sc_firewall_idle() {
	host client; host fw; host server
	wire client fw
	local fw1=$fw_ip
	wire fw server
	route client "$fw1"
	route server "$fw_ip"
	ip netns exec "$tag-fw" sysctl -qw net.ipv4.ip_forward=1
	ip netns exec "$tag-fw" nft -f - <<NFT
table inet flowdoc {
	chain forward {
		type filter hook forward priority 0; policy drop;
		ct state established,related accept
		tcp flags & (syn | ack) == syn ct state new accept
	}
}
NFT
	ip netns exec "$tag-fw" sysctl -qw net.netfilter.nf_conntrack_tcp_timeout_established=5
	on server redis-server --bind "$server_ip" --port 6379 --protected-mode no --save "" --appendonly no \
		--tcp-keepalive 0 --timeout 0 --dir "$work" --daemonize no
	listening server 6379
	capture client "$client_if" "$work/cap.pcap"
	begin firewall-idle
	client client $pylab idle "$server_ip" 6379 8 30
	first_port 5
	until_t 9.5 # idle 8 s > the firewall's 5 s: the FIN and the request are dropped
	cut early client server
	until_t 13
	cut mid client server
	until_t 24
	cut late client server
	finish "$work/cap.pcap"
	expect <<EXP
# After 8 s idle, longer than the firewall's 5 s established timeout, one
# client's FIN and another's request are dropped and retransmitted with
# backoff, never acknowledged. Redis got neither: it is not in CLOSE_WAIT,
# and the connection it holds is not healthy. A third connection, used
# every 2 s, passes.
expect cport=$(ports closes) : peer_unreachable(server) !close_wait_leak(server)
expect cport=$(ports sends) : peer_unreachable(server) !open(client)
healthy cport=$(ports pings)
finding peer_unreachable
nofinding close_wait_leak
EXP
}

# Keep-alive connections reused after nginx's keepalive_timeout.
sc_nginx_stale() {
	host client; host server; wire client server
	nginx_conf "$work/nginx" 8080 2s
	run_nginx server "$work/nginx"
	listening server 8080
	capture client "$client_if" "$work/cap.pcap"
	begin nginx-stale
	client client $pylab stale "$server_ip" 8080 3 10
	first_port 10
	until_t 2.6
	cut early client server
	until_t 4.5
	cut mid client server
	until_t 9
	cut late client server
	finish "$work/cap.pcap"
	expect <<EXP
# nginx closes idle keep-alive connections after 2 s. python http.client
# sends its next request on the closed connection after 3 s: RST. The
# requests Session notices the close before reusing, closes it and opens
# a new connection: healthy.
expect cport=$(ports httpclient) : idle_timeout_close(server)
@mid,late expect cport=$(ports httpclient) : stale_reuse_reset(client)
@mid,late healthy cport!=$(ports httpclient)
@mid,late finding stale_reuse_reset
EXP
}

# MariaDB's wait_timeout and a client that reuses its connection after it.
sc_mariadb_idle() {
	host client; host server; wire client server
	mkdir -p "$work/db"
	mariadb-install-db --no-defaults --datadir="$work/db" --user=root --skip-test-db >>"$work/log" 2>&1
	on server mariadbd --no-defaults --datadir="$work/db" --user=root --bind-address="$server_ip" --port=3306 \
		--socket="$work/db.sock" --pid-file="$work/db.pid" --skip-grant-tables --skip-name-resolve \
		--skip-log-bin --performance-schema=off --innodb-buffer-pool-size=16M \
		--wait-timeout=3 --interactive-timeout=3
	listening server 3306 30
	capture client "$client_if" "$work/cap.pcap"
	begin mariadb-idle
	# Three mariadb clients in batch mode: a query, 5 s of nothing, another
	# query: "Server has gone away".
	for i in 1 2 3; do
		(echo "SELECT $i;"; sleep 5; echo "SELECT 2;"; sleep 1) |
			ip netns exec "$tag-client" timeout 20 mariadb -h "$server_ip" -P 3306 -u root >>"$work/log" 2>&1 &
		pids+=($!)
		sleep 0.4
	done
	until_t 3.2 # the server reset the first idle connection at 3 s
	cut early client server
	until_t 5.5 # all three reset; their next query sends nothing
	cut mid client server
	until_t 10
	cut late client server
	finish "$work/cap.pcap"
	expect <<EXP
# MariaDB resets every connection idle for 3 s (wait_timeout), exactly 3 s
# after its last query: an idle timeout, measured, though the close is an
# RST. The client's next query fails ("Server has gone away").
expect sport=3306 server.ss=CLOSED n>=1 : idle_timeout_close(server)
healthy sport=3306 server.ss=ESTAB
finding idle_timeout_close
EXP
}

# newport HOST SPORT ROLE: note, as ROLE, the client port of HOST's one
# connection to SPORT not noted yet (for clients that print none).
newport() {
	local p
	for _ in $(seq 50); do
		p=$(ip netns exec "$tag-$1" ss -tnH "dport = :$2" | awk '{ n = split($4, a, ":"); print a[n] }' |
			grep -vxF -f <(awk '{ print $2 }' "$work/ports"; echo none) | head -1) || true
		if [ -n "$p" ]; then
			echo "$3 $p" >>"$work/ports"
			return 0
		fi
		sleep 0.05
	done
	die "no new connection to $2 from $1"
}

# mariadb-idle over TLS: the server requires it, the clients use it.
sc_mariadb_tls_idle() {
	host client; host server; wire client server
	mkdir -p "$work/db"
	self_signed "$work/tls"
	mariadb-install-db --no-defaults --datadir="$work/db" --user=root --skip-test-db >>"$work/log" 2>&1
	on server mariadbd --no-defaults --datadir="$work/db" --user=root --bind-address="$server_ip" --port=3306 \
		--socket="$work/db.sock" --pid-file="$work/db.pid" --skip-grant-tables --skip-name-resolve \
		--skip-log-bin --performance-schema=off --innodb-buffer-pool-size=16M \
		--ssl-cert="$work/tls/cert.pem" --ssl-key="$work/tls/key.pem" --require-secure-transport=ON \
		--wait-timeout=3 --interactive-timeout=3
	listening server 3306 30
	capture client "$client_if" "$work/cap.pcap"
	begin mariadb-tls-idle
	# mariadb clients in batch mode over TLS: two send one query and then
	# nothing ("idle"); one sends another after 5 s ("stale"); one quits
	# after 1 s ("quit").
	local role script
	for role in idle stale quit idle; do
		case $role in
		idle) script='echo "SELECT 1;"; sleep 14' ;;
		stale) script='echo "SELECT 1;"; sleep 5; echo "SELECT 2;"; sleep 1' ;;
		quit) script='echo "SELECT 1;"; sleep 1' ;;
		esac
		bash -c "$script" | ip netns exec "$tag-client" timeout 20 mariadb --ssl -h "$server_ip" -P 3306 -u root >>"$work/log" 2>&1 &
		pids+=($!)
		newport client 3306 $role
		[ $role = idle ] && [ "$(wc -l <"$work/ports")" = 1 ] && t0=$(date +%s.%N)
		sleep 0.3
	done
	until_t 3.2 # the server closed the first idle connection at 3 s
	cut early client server
	until_t 6 # all closed; "stale" sent its query at 5.3 s
	cut mid client server
	until_t 12
	cut late client server
	finish "$work/cap.pcap"
	expect <<EXP
# MariaDB 10.11 requiring TLS (require_secure_transport; TLS 1.3) with
# wait_timeout 3: it aborts every connection idle for 3 s with RST, no
# close_notify nor FIN, exactly 3 s after its last answer: an idle
# timeout, measured, though the close is an RST (as in mariadb-idle). The
# "idle" clients ($(ports idle)) never query again; the "stale" one
# ($(ports stale)) sends its next query at 5.3 s on the reset socket: the
# write fails in the client ("Server has gone away"), nothing goes out.
# The "quit" one ($(ports quit)) sends COM_QUIT after 1 s and closes: a
# FIN from each side, no close_notify from either; healthy.
expect cport=$(ports idle),$(ports stale) server.ss=CLOSED n>=1 : idle_timeout_close(server)
@mid,late expect cport=$(ports idle),$(ports stale) n>=3 : idle_timeout_close(server)
expect cport=$(ports quit) : !idle_timeout_close(server) !stale_reuse_reset(client)
healthy cport=$(ports quit)
healthy sport=3306 server.ss=ESTAB
finding idle_timeout_close
EXP
}

# ab_cuts N C: ApacheBench from the client, N requests C at a time
# (HTTP/1.0, no keep-alive: nginx closes first, ab in turn), bounded by
# count (-n) and time (-t, given first: -n overrides the count it
# implies); then the early, mid and late cuts.
ab_cuts() {
	ip netns exec "$tag-client" timeout 20 ab -q -t 10 -n "$1" -c "$2" "http://$server_ip/" >"$work/ab.out" 2>&1 || true
	grep -E '^(Complete|Failed|Time taken|Requests per)' "$work/ab.out" >>"$work/log" || true
	until_t 0.3
	cut early client server
	sleep 3
	cut mid client server
	sleep 8
	cut late client server
}

# PostgreSQL's idle_session_timeout: psql and psycopg2 connections.
sc_postgres_idle() {
	host client; host server; wire client server
	local pg=$work/pg bin
	bin=$(pg_bindir)
	mkdir -p "$pg"
	chown postgres: "$pg"
	as_postgres "$bin/initdb" -D "$pg/data" -U postgres -A trust -E UTF8 --no-sync >>"$work/log" 2>&1
	echo "host all all 0.0.0.0/0 trust" >>"$pg/data/pg_hba.conf"
	# The cluster of its own, in the foreground (stopped by PID): a session
	# idle for 3 s gets FATAL 57P05 and the server closes it.
	on server setpriv --reuid=postgres --regid=postgres --init-groups "$bin/postgres" -D "$pg/data" \
		-c listen_addresses="$server_ip" -c port=5432 -c unix_socket_directories="$pg" \
		-c idle_session_timeout=3s -c fsync=off -c shared_buffers=16MB -c max_connections=20 \
		-c logging_collector=off -c log_min_messages=warning
	listening server 5432 30
	capture client "$client_if" "$work/cap.pcap"
	begin postgres-idle
	client client $pylab pgidle "$server_ip" 5432 6 25 26
	first_port 10 # the clock starts at the first connection
	# psql in a pipe: one query, then it waits on its input and never
	# looks at the socket while the server closes it.
	(echo "SELECT 1;"; sleep 24) | ip netns exec "$tag-client" timeout 30 psql -h "$server_ip" -U postgres -d postgres -qAt >>"$work/log" 2>&1 &
	pids+=($!)
	until_t 4.6 # the server closed the idle sessions at 3-3.5 s
	cut early client server
	until_t 8   # the stale connection was reused at 6.1 s
	cut mid client server
	until_t 16
	cut late client server
	tail_cut tail 2.5 late # from 2.5 s: the server's goodbyes and FINs, the reuse
	finish "$work/cap.pcap"
	expect <<EXP
# PostgreSQL (idle_session_timeout 3s) sends FATAL 57P05 and FIN on every
# session idle for 3 s. psycopg2's "leak" connection and psql (waiting on
# its input) never read it: CLOSE_WAIT on the client. The pooled "stale"
# connection sits in CLOSE_WAIT too until it is reused at 6 s: the server,
# which closed, answers the query with RST. The "busy" one queries every
# second: never idle, open. At the early cut the CLOSE_WAITs are 1.3-1.8 s
# old and the client has closed nothing yet: the capture may not tell. The
# tail cut begins at 2.5 s, mid-connection, before the server's goodbyes.
@early,mid,late expect client.ss=CLOSE-WAIT n>=2 : close_wait_leak(client)|open(client) idle_timeout_close(server)
@late,tail expect client.ss=CLOSE-WAIT n>=2 : close_wait_leak(client)
@late,tail infinding client.ss=CLOSE-WAIT : close_wait_leak
@early,mid,late expect cport=$(ports stale) : idle_timeout_close(server)
@mid,late,tail expect cport=$(ports stale) : stale_reuse_reset(client)
@tail unseen_ok
healthy cport=$(ports busy)
@early,mid,late finding idle_timeout_close
@mid,late,tail finding stale_reuse_reset
@late,tail finding close_wait_leak
EXP
}

# postgres-idle over TLS: ssl=on, every client connection hostssl.
sc_postgres_tls_idle() {
	host client; host server; wire client server
	local pg=$work/pg bin
	bin=$(pg_bindir)
	mkdir -p "$pg"
	self_signed "$pg/tls"
	chown -R postgres: "$pg"
	chmod 600 "$pg/tls/key.pem"
	as_postgres "$bin/initdb" -D "$pg/data" -U postgres -A trust -E UTF8 --no-sync >>"$work/log" 2>&1
	echo "hostssl all all 0.0.0.0/0 trust" >>"$pg/data/pg_hba.conf"
	on server setpriv --reuid=postgres --regid=postgres --init-groups "$bin/postgres" -D "$pg/data" \
		-c listen_addresses="$server_ip" -c port=5432 -c unix_socket_directories="$pg" \
		-c ssl=on -c ssl_cert_file="$pg/tls/cert.pem" -c ssl_key_file="$pg/tls/key.pem" \
		-c idle_session_timeout=3s -c fsync=off -c shared_buffers=16MB -c max_connections=20 \
		-c logging_collector=off -c log_min_messages=warning
	listening server 5432 30
	capture client "$client_if" "$work/cap.pcap"
	begin postgres-tls-idle
	client client $pylab pgtlsidle "$server_ip" 5432 6 25
	first_port 10 # the clock starts at the first connection
	# psql over TLS in a pipe: one query, then it waits on its input and
	# never looks at the socket while the server closes it.
	(echo "SELECT 1;"; sleep 24) | ip netns exec "$tag-client" timeout 30 psql "host=$server_ip user=postgres dbname=postgres sslmode=require" -qAt >>"$work/log" 2>&1 &
	pids+=($!)
	until_t 4.6 # the server closed the idle sessions at 3-3.5 s
	cut early client server
	until_t 8   # the stale connection was reused at 6.2 s
	cut mid client server
	until_t 16
	cut late client server
	finish "$work/cap.pcap"
	expect <<EXP
# PostgreSQL 15 over TLS (ssl=on, hostssl only, TLS 1.3;
# idle_session_timeout 3s) ends every session idle for 3 s with its
# goodbye: an application data record of 133 bytes (FATAL 57P05,
# encrypted), its close_notify (19 bytes) and FIN. psycopg2's two "leak"
# connections ($(ports leak)) and psql (waiting on its input) never read
# it: CLOSE_WAIT on the client. The pooled "stale" one ($(ports stale))
# sits in CLOSE_WAIT too until it is reused at 6.2 s: its query (a
# 31-byte record) gets RST from the server, whose socket is gone ("SSL
# connection has been closed unexpectedly"). The "close" one
# ($(ports close)) closes after 1 s: Terminate, close_notify and FIN; the
# server's close_notify, sent after that FIN, gets RST from the client,
# whose socket is gone: TLS's goodbye, healthy. At the early cut the
# CLOSE_WAITs are 1.2-1.6 s old and the client has closed nothing since
# the server's FINs: the capture may not tell a leak yet (open).
expect cport=$(ports leak),$(ports stale) : idle_timeout_close(server)
@early,mid,late expect client.ss=CLOSE-WAIT n>=3 : close_wait_leak(client)|open(client) idle_timeout_close(server)
@late expect client.ss=CLOSE-WAIT n>=3 : close_wait_leak(client)
@late infinding client.ss=CLOSE-WAIT : close_wait_leak
@mid,late expect cport=$(ports stale) : stale_reuse_reset(client)
expect cport=$(ports close) : !idle_timeout_close(server) !stale_reuse_reset(client)
healthy cport=$(ports close)
finding idle_timeout_close
@mid,late finding stale_reuse_reset
@late finding close_wait_leak
EXP
}

# apache_conf DIR PORT... writes DIR/httpd.conf: Apache httpd 2.4 (event
# MPM, KeepAliveTimeout 2) serving DIR/html on $server_ip:PORT for each
# PORT. A scenario appends what it adds (modules, virtual hosts).
apache_conf() {
	local d=$1 p
	shift
	mkdir -p "$d/html"
	echo ok >"$d/html/index.html"
	{
		cat <<CONF
ServerRoot $d
ServerName lab
DefaultRuntimeDir $d
PidFile $d/httpd.pid
Mutex file:$d default
LoadModule mpm_event_module /usr/lib/apache2/modules/mod_mpm_event.so
LoadModule authz_core_module /usr/lib/apache2/modules/mod_authz_core.so
LoadModule dir_module /usr/lib/apache2/modules/mod_dir.so
User www-data
Group www-data
ErrorLog $d/error.log
LogLevel warn
StartServers 1
ServerLimit 1
ThreadsPerChild 16
MaxRequestWorkers 16
MinSpareThreads 4
MaxSpareThreads 32
KeepAlive On
KeepAliveTimeout 2
MaxKeepAliveRequests 100
DocumentRoot $d/html
<Directory $d/html>
	Require all granted
</Directory>
CONF
		for p in "$@"; do
			echo "Listen $server_ip:$p"
		done
	} >"$d/httpd.conf"
}

# Apache httpd's KeepAliveTimeout and clients that reuse, close or leak.
sc_apache_keepalive() {
	host client; host server; wire client server
	local d=$work/apache
	apache_conf "$d" 8080
	on server apache2 -d "$d" -f "$d/httpd.conf" -DFOREGROUND -E "$work/log"
	listening server 8080 20
	capture client "$client_if" "$work/cap.pcap"
	begin apache-keepalive
	# Two http.client connections reused after the server's close: one after
	# 3 s, while Apache still drains the connection it shut down (its
	# lingering close reads for 2 s), one after 5.5 s, when it has closed the
	# socket. Each runs with a requests Session, which notices the close
	# before it reuses and reconnects.
	client client $pylab stale "$server_ip" 8080 3 20 lingered
	first_port 10
	client client $pylab stale "$server_ip" 8080 5.5 20 reset
	# http.client connections never closed; every 4th is closed after its response.
	client client $pylab httpleak "$server_ip" 8080 4 0.3 20
	for i in 1 2; do # curl: one request, closed
		ip netns exec "$tag-client" curl -s -o /dev/null --max-time 3 "http://$server_ip:8080/" >>"$work/log" 2>&1
		sleep 0.3
	done
	until_t 3.6 # Apache closed the idle connections at 2-3 s; "lingered" reused at 3 s
	cut early client server
	until_t 6.3 # "reset" reused at 5.5 s
	cut mid client server
	until_t 14
	cut late client server
	finish "$work/cap.pcap"
	expect <<EXP
# Apache (KeepAliveTimeout 2) closes idle keep-alive connections after 2 s
# with a lingering close: it shuts down its side (FIN) and reads and
# discards what comes for 2 s more, then closes the socket. The http.client
# connections never closed ("leak") sit in CLOSE_WAIT on the client. The
# "lingered" connection is reused 1 s after Apache's FIN: Apache reads the
# request and drops it, no response, no RST (the client gets EOF:
# RemoteDisconnected); that is no legitimate half-close. The "reset" one is
# reused 3.5 s after the FIN: RST. The requests Sessions and curl close
# what they open. At the early and mid cuts the CLOSE_WAITs are young and
# the client closed others 1-3.5 s after Apache's FIN: the capture may not
# tell a leak yet.
expect cport=$(ports leak),$(ports lingered),$(ports reset) : idle_timeout_close(server)
@early,mid expect cport=$(ports leak) client.ss=CLOSE-WAIT n>=3 : close_wait_leak(client)|open(client)
@late expect cport=$(ports leak) client.ss=CLOSE-WAIT n>=3 : close_wait_leak(client)
@late infinding client.ss=CLOSE-WAIT : close_wait_leak
expect cport=$(ports lingered) : !half_close_ok(server) !half_close_ok(client)
@mid,late expect cport=$(ports reset) : stale_reuse_reset(client)
healthy cport=$(ports ok)
@mid,late healthy cport!=$(ports leak),$(ports lingered),$(ports reset)
finding idle_timeout_close
@mid,late finding stale_reuse_reset
@late finding close_wait_leak
EXP
}

# Apache httpd 2.4 over TLS (mod_ssl): the idle closes of apache-keepalive,
# where the requests after Apache's close are encrypted.
sc_apache_tls() {
	host client; host server; wire client server
	local d=$work/apache-tls
	self_signed "$d"
	apache_conf "$d" 8443 8444
	# Two listeners: 8443 takes TLS 1.3 (the default), 8444 TLS 1.2 only.
	cat >>"$d/httpd.conf" <<CONF
LoadModule socache_shmcb_module /usr/lib/apache2/modules/mod_socache_shmcb.so
LoadModule ssl_module /usr/lib/apache2/modules/mod_ssl.so
SSLSessionCache shmcb:$d/ssl_scache(512000)
<VirtualHost $server_ip:8443>
	SSLEngine on
	SSLCertificateFile $d/cert.pem
	SSLCertificateKeyFile $d/key.pem
</VirtualHost>
<VirtualHost $server_ip:8444>
	SSLEngine on
	SSLProtocol -all +TLSv1.2
	SSLCertificateFile $d/cert.pem
	SSLCertificateKeyFile $d/key.pem
</VirtualHost>
CONF
	on server apache2 -d "$d" -f "$d/httpd.conf" -DFOREGROUND -E "$work/log"
	listening server 8443 20
	listening server 8444
	capture client "$client_if" "$work/cap.pcap"
	begin apache-tls
	# On each listener, http.client over TLS: a connection reused 3 s after
	# its response, while Apache drains the connection it shut down (its
	# lingering close reads for 2 s), one reused after 5.5 s, when it has
	# closed the socket, and one that waits for Apache's close and answers
	# its close_notify with its own.
	client client $pylab tlsstale "$server_ip" 8443 3 15 lingered13
	first_port 10
	client client $pylab tlsstale "$server_ip" 8444 3 15 lingered12
	client client $pylab tlsstale "$server_ip" 8443 5.5 15 reset13
	client client $pylab tlsstale "$server_ip" 8444 5.5 15 reset12
	client client $pylab tlsclose "$server_ip" 8443 15 closer13
	client client $pylab tlsclose "$server_ip" 8444 15 closer12
	for p in 8443 8444; do # curl: one request, closed
		ip netns exec "$tag-client" curl -sk -o /dev/null --max-time 3 "https://$server_ip:$p/" >>"$work/log" 2>&1
		sleep 0.3
	done
	until_t 3.9 # Apache closed the idle connections at 2-3 s; "lingered" reused at 3-3.5 s
	cut early client server
	until_t 6.6 # "reset" reused at 5.5-6 s
	cut mid client server
	until_t 14
	cut late client server
	finish "$work/cap.pcap"
	local lingered reset closer
	lingered=$(ports lingered13),$(ports lingered12)
	reset=$(ports reset13),$(ports reset12)
	closer=$(ports closer13),$(ports closer12)
	expect <<EXP
# Apache (KeepAliveTimeout 2) over TLS: port 8443 takes TLS 1.3, 8444 TLS
# 1.2 only. Apache closes idle keep-alive connections after 2 s with a
# lingering close: close_notify and FIN, then it reads and discards what
# comes for 2 s more and closes the socket. On each port, the "lingered"
# connection ($(ports lingered13) on 8443, $(ports lingered12) on 8444) is reused 1 s after
# Apache's FIN: Apache reads the request and drops it, no response, no
# RST (the client reads the close_notify: EOF). A request lost to a
# connection the server had closed idle, though the capture cannot read
# it: what follows the server's close_notify and FIN is an application
# data record as long as the first request's. The "reset" one ($(ports reset13),
# $(ports reset12)) is reused 3.5 s after the FIN: RST. The "closer" ($(ports closer13),
# $(ports closer12)) sends no more requests: it reads Apache's close_notify and
# FIN, answers with its own close_notify (a record as long as Apache's:
# 19 bytes of "application data" in TLS 1.3, a 26-byte alert in TLS 1.2)
# and closes at once: TLS's goodbye, no reuse. curl makes one
# request per port and closes (close_notify and FIN; Apache's close_notify
# after that FIN gets RST). At the early cut the "reset" connections are
# in CLOSE_WAIT, their FIN 1 s old: the capture cannot tell a leak yet.
expect cport=$lingered,$reset,$closer : idle_timeout_close(server)
expect cport=$lingered : stale_reuse_reset(client) !half_close_ok(server) !half_close_ok(client)
@early expect cport=$reset client.ss=CLOSE-WAIT n>=2 : close_wait_leak(client)|open(client)
@mid,late expect cport=$reset : stale_reuse_reset(client)
expect cport=$closer : !stale_reuse_reset(client) !stale_reuse_reset(server)
healthy cport=$closer
healthy cport!=$lingered,$reset,$closer
finding idle_timeout_close
finding stale_reuse_reset
@mid,late noproblem close_wait_leak
EXP
}

# ApacheBench without keep-alive: a connection per request to nginx.
sc_ab_timewait() {
	host client; host server; wire client server
	nginx_conf "$work/nginx" 80 2s
	run_nginx server "$work/nginx"
	listening server 80
	capture client "$client_if" "$work/cap.pcap" -B 16384 # a burst: a larger buffer, no drops
	begin ab-timewait
	# HTTP/1.0, no keep-alive: nginx closes each connection after its
	# response, ab reads to the end and closes in turn.
	ab_cuts 500 8
	finish "$work/cap.pcap"
	# three of the connections the server holds in TIME_WAIT, by client port
	local held
	held=$(awk -v s="$server_ip:80" '$1 == "TIME-WAIT" && $4 == s { split($5, a, ":"); printf "%s%s", c, a[2]; c = ","; if (++n == 3) exit }' \
		"$out/$name@early.truth")
	expect <<EXP
# ab (HTTP/1.0, no keep-alive) makes 500 connections, 8 at a time, in a
# fraction of a second; nginx closes each one first after its response,
# so the TIME_WAIT sockets (one per request, 60 s each) pile up on the
# server, not on ab's host: no ephemeral ports at stake, but a finding
# should say where they are (at that rate, for a minute, they would pass
# net.ipv4.tcp_max_tw_buckets). At the end ab opens a few connections it
# does not use and closes them: client TIME_WAIT, harmless.
expect sport=80 server.ss=TIME-WAIT n>=475 : time_wait(server) !time_wait(client)
healthy sport=80
infinding cport=$held server.ss=TIME-WAIT : time_wait_pressure
nofinding close_wait_leak
EXP
}

# vsftpd's idle_session_timeout: "421 Timeout." and FIN on idle sessions.
sc_ftp_idle() {
	host client; host server; wire client server
	local d=$work/ftp
	mkdir -p "$d/root" "$d/empty"
	echo hello >"$d/root/hello.txt"
	chmod 755 "$d" "$d/root" "$d/empty"
	# Standalone, in the foreground (stopped by PID), anonymous and
	# read-only; no sandbox of its own (it runs in the lab's namespace).
	cat >"$d/vsftpd.conf" <<CONF
listen=YES
listen_ipv6=NO
listen_address=$server_ip
listen_port=21
background=NO
anonymous_enable=YES
no_anon_password=YES
anon_root=$d/root
local_enable=NO
write_enable=NO
idle_session_timeout=3
data_connection_timeout=3
secure_chroot_dir=$d/empty
isolate=NO
isolate_network=NO
seccomp_sandbox=NO
xferlog_enable=NO
connect_from_port_20=NO
CONF
	on server vsftpd "$d/vsftpd.conf"
	listening server 21
	capture client "$client_if" "$work/cap.pcap"
	begin ftp-idle
	client client $pylab ftpidle "$server_ip" 21 20 25
	first_port 10 # the clock starts at the first login
	until_t 4.0   # the first leak got its 421 and FIN at 3 s
	cut early client server
	until_t 7
	cut mid client server
	until_t 14
	cut late client server
	finish "$work/cap.pcap"
	expect <<EXP
# vsftpd (idle_session_timeout 3) sends "421 Timeout." and FIN on a
# control connection idle for 3 s. Two ftplib sessions ("leak") log in
# (one sends PWD 1 s later) and then never read nor close: vsftpd times
# them out and the client sits in CLOSE_WAIT, the 421 unread. One sends
# NOOP every second: never idle, open. One quits after 1 s: vsftpd
# answers 221 and closes, the client closes at once. At the early cut the
# first leak's FIN is 1 s old, the second's not sent yet.
expect cport=$(ports leak) server.ss=FIN-WAIT-2 : idle_timeout_close(server)
@early,mid expect cport=$(ports leak) client.ss=CLOSE-WAIT n>=1 : close_wait_leak(client)|open(client)
@mid expect cport=$(ports leak) client.ss=CLOSE-WAIT n>=2 : close_wait_leak(client)|open(client)
@late expect cport=$(ports leak) client.ss=CLOSE-WAIT n>=2 : close_wait_leak(client)
@late infinding client.ss=CLOSE-WAIT : close_wait_leak
healthy cport=$(ports noop),$(ports quit)
expect cport=$(ports noop) : open(client)
expect cport=$(ports quit) : !idle_timeout_close(server)
finding idle_timeout_close
@late finding close_wait_leak
EXP
}

# node_keepalive_server PORT MS [https] runs a Node.js server on
# $server_ip:PORT (over TLS with $work/tls's certificate, given https)
# with keepAliveTimeout MS, answering "ok" with Connection: keep-alive set
# by hand, which leaves out the Keep-Alive: timeout hint. It exits after
# a minute.
node_keepalive_server() {
	local mod=http opts=
	if [ "${3:-}" = https ]; then
		mod=https
		opts="{ key: fs.readFileSync('$work/tls/key.pem'), cert: fs.readFileSync('$work/tls/cert.pem') }, "
	fi
	on server node -e "
const $mod = require('$mod');
const fs = require('fs');
const s = $mod.createServer(${opts}(req, res) => {
	req.resume();
	res.setHeader('Connection', 'keep-alive');
	res.end('ok\\n');
});
s.keepAliveTimeout = $2;
s.listen($1, '$server_ip');
setTimeout(() => process.exit(0), 60000);
"
}

# Node.js keep-alive: a pooled socket reused just as the server closes it.
sc_node_keepalive_race() {
	host client; host server; wire client server
	# keepAliveTimeout 1000: Node closes an idle connection 1 s later than
	# that (its HTTP_SERVER_KEEP_ALIVE_TIMEOUT_BUFFER), 2 s after a
	# response. The server sets Connection: keep-alive itself, which leaves
	# out the Keep-Alive: timeout=1 hint: an Agent of Node 19 or later
	# would not keep a socket for a server that announces 1 s.
	node_keepalive_server 8080 1000
	listening server 8080
	capture client "$client_if" "$work/cap.pcap"
	begin node-keepalive-race
	# 6 Agents, 10 requests each, 1.994-2.001 s apart: about 19 s. Both
	# sides' timers count milliseconds: a client's that falls due in the
	# millisecond the server's does races it.
	client client node "$here/clients/agentrace.js" "$server_ip" 8080 6 10 1994 2001
	first_port 10 # the clock starts at the first response
	until_t 4.5
	cut early client server
	until_t 9
	cut mid client server
	until_t 23
	cut late client server
	finish "$work/cap.pcap"
	# The requests that followed the server's FIN on the wire (the
	# capture is the client's): the server's FIN, then the client's data.
	local stale
	stale=$(fin_then_data "$out/$name@late.pcap" 8080)
	expect <<EXP
# Node's http server (keepAliveTimeout 1000, closing at 2 s) and six
# keep-alive Agents sending requests 1.994-2.001 s after the last response.
# Sent before the server's close: reused. Sent after its FIN reached the
# client: the Agent has dropped the socket and connects anew. Sent in
# between (the FIN on the wire, the client's event loop not yet told),
# the request goes out on a closed connection: RST, "socket hang up" or
# ECONNRESET ("reset"). Where the server's timer fires with a request
# already in its socket's buffer, it closes with unread data: RST and no
# FIN, after the request. (Before its race, each such connection is an
# ordinary reused one: the lines below pick it once it is closed.)
expect cport=$stale client.ss=CLOSED : stale_reuse_reset(client) idle_timeout_close(server)
expect cport=$(ports reset) client.ss=CLOSED : stale_reuse_reset(client)|idle_timeout_close(server)
healthy cport!=$(ports reset)
@mid,late finding stale_reuse_reset
finding idle_timeout_close
EXP
}

# Ephemeral ports run out: a narrow port range, curl without keep-alive,
# the client closing first.
sc_port_exhaustion() {
	host client; host server; wire client server
	ip netns exec "$tag-client" sysctl -qw net.ipv4.ip_local_port_range="40000 40063"
	nginx_conf "$work/nginx" 80 60s
	run_nginx server "$work/nginx"
	listening server 80
	capture client "$client_if" "$work/cap.pcap"
	begin port-exhaustion
	# A curl per request, one after the other: each closes its connection
	# when it exits (nginx waits 60 s for another request), so the client
	# holds each port in TIME_WAIT for 60 s. Bounded by count and time.
	ip netns exec "$tag-client" timeout 20 bash -c \
		'for i in $(seq 300); do curl -sv -o /dev/null --max-time 2 "$0" 2>&1 | grep -e "^< HTTP" -e "connect fail"; done' \
		"http://$server_ip/" >"$work/curl.out" 2>&1 || true
	local okn failed
	okn=$(grep -c '^< HTTP/1.1 200' "$work/curl.out" || true)
	failed=$(grep -c 'Immediate connect fail .*Cannot assign requested address' "$work/curl.out" || true)
	echo "curl: $okn requests answered, $failed failed with \"Cannot assign requested address\"; other lines: $(grep -v -e '^< HTTP/1.1 200' -e 'Cannot assign requested address' "$work/curl.out" | head -3)" >>"$work/log"
	until_t 0.3
	cut early client server
	sleep 3
	cut mid client server
	sleep 8
	cut late client server
	finish "$work/cap.pcap"
	expect <<EXP
# 300 curls against nginx (keepalive_timeout 60s), one after the other,
# one request each (HTTP/1.1): each curl closes its connection first when
# it exits, and the client holds its port in TIME_WAIT for 60 s. The
# client's net.ipv4.ip_local_port_range is 40000 40063, 64 ports: after
# $okn requests every port is in TIME_WAIT to nginx and connect() fails
# with EADDRNOTAVAIL: $failed curls failed with "Cannot assign requested
# address", sending nothing. The capture shows $okn connections, closed by
# the client first, from every port of 40000-40063, then silence; it
# cannot show the range, nor the connects that failed. With the default
# --port-range (32768-60999) flowdoc can only weigh the rate against
# 28,232 ports (a time_wait_pressure finding, Info); with --port-range
# 40000-40063, $okn in TIME_WAIT at once are all of them: Error.
expect sport=80 client.ss=TIME-WAIT n>=60 : time_wait(client) !time_wait(server)
infinding sport=80 client.ss=TIME-WAIT : time_wait_pressure
finding time_wait_pressure
nofinding close_wait_leak
EXP
}

# HTTP/2's idle timeout: nginx's GOAWAY and FIN on idle h2c connections.
sc_h2_idle() {
	host client; host server; wire client server
	nginx_conf "$work/nginx" 8080 2s
	# HTTP/2 over cleartext, by prior knowledge (nginx 1.22: "listen ...
	# http2"; its idle timeout is keepalive_timeout since 1.19.7).
	sed -i 's/^\([[:space:]]*listen .*\);$/\1 http2;/' "$work/nginx/nginx.conf"
	run_nginx server "$work/nginx"
	listening server 8080
	capture client "$client_if" "$work/cap.pcap"
	begin h2-idle
	# python3-h2: one request per connection, then idle: two never read
	# nor close ("leak"), one reads to the end and closes ("close").
	client client $pylab h2idle "$server_ip" 8080 2 25
	first_port 10 # the clock starts at the first connection
	for i in 1 2; do # curl: one request over HTTP/2, closed
		ip netns exec "$tag-client" curl -s -o /dev/null --max-time 3 --http2-prior-knowledge "http://$server_ip:8080/" >>"$work/log" 2>&1 || true
		sleep 0.2
	done
	until_t 3.0 # nginx closed the idle connections at 2-2.5 s
	cut early client server
	until_t 6
	cut mid client server
	until_t 15
	cut late client server
	finish "$work/cap.pcap"
	expect <<EXP
# nginx (HTTP/2 over cleartext, keepalive_timeout 2s) closes an HTTP/2
# connection idle for 2 s: a GOAWAY frame, then FIN. Two python3-h2
# connections ("leak") never read nor close after their request: CLOSE_WAIT
# on the client, the GOAWAY unread. One ("close") reads the GOAWAY and the
# EOF and closes at once; curl --http2-prior-knowledge closes after its
# request. At the early cut the CLOSE_WAITs are 0.5-1 s old and the client
# closed its "close" connection within a millisecond of nginx's FIN.
expect cport=$(ports leak),$(ports close) : idle_timeout_close(server)
@early expect cport=$(ports leak) client.ss=CLOSE-WAIT n>=2 : close_wait_leak(client)|open(client)
@mid,late expect cport=$(ports leak) client.ss=CLOSE-WAIT n>=2 : close_wait_leak(client)
@mid,late infinding client.ss=CLOSE-WAIT : close_wait_leak
healthy cport!=$(ports leak)
finding idle_timeout_close
@mid,late finding close_wait_leak
EXP
}

# A Go net/http server over TLS (HTTP/2 by ALPN, IdleTimeout 2 s) and Go
# HTTP/2 clients.
sc_go_h2_idle() {
	host client; host server; wire client server
	self_signed "$work/tls"
	(cd "$root" && go build -o "$work/goh2" "$here/clients/goh2.go")
	on server "$work/goh2" serve "$server_ip:8443" "$work/tls/cert.pem" "$work/tls/key.pem" 2s 40s
	listening server 8443
	capture client "$client_if" "$work/cap.pcap"
	begin go-h2-idle
	# A Transport each: two never close their response's body ("leak"),
	# one sends its next request 3 s after the first ("reuse", then
	# "reuse2"), one closes its idle connection after 1 s ("close").
	client client "$work/goh2" client "https://$server_ip:8443/" leak 0s 20s
	first_port 10 # the clock starts at the first response
	local role
	for role in leak reuse close; do
		sleep 0.2
		client client "$work/goh2" client "https://$server_ip:8443/" $role $([ $role = reuse ] && echo 4s || echo 1s) 20s
	done
	until_t 3.1 # GOAWAYs at 2-2.4 s; the first leak closed at 3 s
	cut early client server
	until_t 5 # all closed at 3-3.4 s; "reuse" sent its next request at 4.4 s
	cut mid client server
	until_t 15
	cut late client server
	finish "$work/cap.pcap"
	expect <<EXP
# A Go net/http server over TLS 1.3 with HTTP/2 (IdleTimeout 2s): 2 s
# after a connection's last stream it sends GOAWAY (a 34-byte application
# data record, encrypted: the capture cannot read it), waits 1 s more,
# then sends close_notify and FIN: an idle timeout of 2 s, its goodbye
# the GOAWAY and the close_notify. Each client is a Go Transport speaking
# HTTP/2, whose read loop reads the GOAWAY and the EOF whatever the
# application does: the two "leak" connections ($(ports leak)), whose
# response bodies are never closed, answer the server's close at once
# with close_notify and FIN, and the server, its socket gone, sends RST.
# An unclosed body does not hold an HTTP/2 connection: no CLOSE_WAIT. The
# "reuse" one ($(ports reuse)) sends its next request 4 s after the first:
# the Transport saw the GOAWAY and dials a new connection ($(ports reuse2)),
# which the server closes idle in turn (GOAWAY at 6.4 s, FIN at 7.4 s): no
# stale reuse. The "close" one ($(ports close)) closes its idle connection
# itself after 1 s (CloseIdleConnections): close_notify and FIN; the
# server's close_notify, sent after that FIN, gets RST.
expect cport=$(ports leak),$(ports reuse) server.ss=CLOSED n>=1 : idle_timeout_close(server)
@mid,late expect cport=$(ports leak),$(ports reuse) n>=3 : idle_timeout_close(server)
@late expect cport=$(ports reuse2) : idle_timeout_close(server)
expect all : !close_wait_leak(client) !stale_reuse_reset(client) !stale_reuse_reset(server)
expect cport=$(ports close) : !idle_timeout_close(server)
healthy all
finding idle_timeout_close
nofinding close_wait_leak
says idle_timeout_close : after 2.0 s without traffic
nofinding stale_reuse_reset
EXP
}

# Squid's idle timeouts: a forward proxy closing idle client connections.
sc_squid_pconn() {
	host client; host proxy; host server
	wire client proxy
	local front=$proxy_ip d=$work/squid
	wire proxy server
	nginx_conf "$work/nginx" 8080 60s
	run_nginx server "$work/nginx"
	mkdir -p "$d"
	cat >"$d/squid.conf" <<CONF
http_port $front:3128
visible_hostname lab
pid_filename $d/squid.pid
cache_log $d/cache.log
access_log none
cache_store_log none
coredump_dir $d
cache deny all
cache_mem 1 MB
http_access allow all
client_idle_pconn_timeout 2 seconds
pconn_timeout 4 seconds
shutdown_lifetime 1 seconds
dns_nameservers 127.0.0.1
CONF
	chown -R proxy: "$d"
	on proxy squid -N -f "$d/squid.conf"
	listening server 8080
	listening proxy 3128 20
	capture proxy any "$work/cap.pcap" -B 16384
	begin squid-pconn
	# http.client through squid, one request per connection, then idle:
	# three never read nor close ("leak"), one reads to the end and closes.
	client client $pylab proxyidle "$front" 3128 "http://$server_ip:8080/ok" 3 25
	first_port 10 # the clock starts at the first request
	until_t 3.2 # squid closed the idle client connections at 2-2.8 s
	cut early client proxy server
	until_t 7 # and its idle connection to nginx at 4 s
	cut mid client proxy server
	until_t 15
	cut late client proxy server
	finish "$work/cap.pcap"
	expect <<EXP
# squid (client_idle_pconn_timeout 2 seconds) closes a client connection
# idle for 2 s, checking once a second: FIN after 2.1-3.1 s of idle. Three
# http.client connections ("leak") never read nor close after their
# request: CLOSE_WAIT on the client. One ("close") reads the EOF and
# closes at once. squid carries the four requests to nginx on one pooled
# connection and closes it after pconn_timeout (4 s) idle; nginx (60 s)
# closes in turn: squid's pool evicting an idle connection, healthy. At
# the early cut one or two leaks are closed, their FINs 0.3-1 s old.
@early expect sport=3128 server.ss=FIN-WAIT-2 n>=1 : idle_timeout_close(server)
@mid,late expect sport=3128 cport=$(ports leak),$(ports close) : idle_timeout_close(server)
@early expect client.ss=CLOSE-WAIT n>=1 : close_wait_leak(client)|open(client)
@mid,late expect client.ss=CLOSE-WAIT n>=3 : close_wait_leak(client)
@mid,late infinding client.ss=CLOSE-WAIT : close_wait_leak
@mid,late expect sport=8080 client.ss=TIME-WAIT n>=1 : idle_timeout_close(client)
healthy cport=$(ports close)
healthy sport=8080
finding idle_timeout_close
@mid,late finding close_wait_leak
EXP
}

# Lighttpd's keep-alive idle timeout and request cap, with an aiohttp
# pool, http.client connections that leak or close, and one reused late.
sc_lighttpd_keepalive() {
	host client; host server; wire client server
	local d=$work/lighttpd
	mkdir -p "$d/html"
	echo ok >"$d/html/index.html"
	cat >"$d/lighttpd.conf" <<CONF
server.document-root = "$d/html"
server.bind = "$server_ip"
server.port = 8080
server.pid-file = "$d/lighttpd.pid"
server.errorlog = "$d/error.log"
server.max-keep-alive-idle = 2
server.max-keep-alive-requests = 3
index-file.names = ( "index.html" )
mimetype.assign = ( ".html" => "text/html" )
CONF
	on server lighttpd -D -f "$d/lighttpd.conf"
	listening server 8080
	capture client "$client_if" "$work/cap.pcap"
	begin lighttpd-keepalive
	# http.client, one request per connection: three in four never
	# closed ("leak"), every fourth closed after its response ("ok").
	client client $pylab httpleak "$server_ip" 8080 8 0.3 25
	first_port 10 # the clock starts at the first request
	# aiohttp: a request, the next after 4 s idle, then six in a row
	# (lighttpd closes after the third request of a connection).
	client client $pylab aiopool "$server_ip" 8080 4 20
	# http.client reusing its connection after 5 s ("stale"), and a
	# requests Session doing the same.
	client client $pylab stale "$server_ip" 8080 5 20 stale
	until_t 3.4 # lighttpd closed the first idle connections at 2-3 s
	cut early client server
	until_t 7
	cut mid client server
	until_t 15
	cut late client server
	finish "$work/cap.pcap"
	expect <<EXP
# lighttpd (max-keep-alive-idle 2) closes idle keep-alive connections
# after 2-3 s (it checks once a second, on a clock of whole seconds), FIN
# only, and reads and drops what comes after it. The http.client
# connections never closed ("leak") sit in CLOSE_WAIT on the client. The
# "stale" one is reused 2 s after lighttpd's FIN: the request is read and
# dropped, no answer, no RST (RemoteDisconnected). aiohttp's pool watches
# its idle connections and closes at once after lighttpd's FIN, then
# opens a new one; its requests past max-keep-alive-requests get
# Connection: close and lighttpd closes first. The requests Session
# ("session") notices the close when it reuses (5 s) and reconnects. At
# the early cut the last leaks are still open and others were closed
# 40 ms before it: the capture may not tell a leak there.
@early expect client.ss=CLOSE-WAIT n>=1 : idle_timeout_close(server)
@mid,late expect cport=$(ports leak),$(ports stale),$(ports session) : idle_timeout_close(server)
@early expect cport=$(ports leak) client.ss=CLOSE-WAIT n>=1 : close_wait_leak(client)|open(client)
@mid,late expect cport=$(ports leak) client.ss=CLOSE-WAIT n>=3 : close_wait_leak(client)
@mid,late infinding client.ss=CLOSE-WAIT : close_wait_leak
@mid,late expect cport=$(ports stale) : stale_reuse_reset(client) !half_close_ok(server) !half_close_ok(client)
healthy cport=$(ports ok)
healthy cport=$(ports aio)
# At the early cut the Session's CLOSE_WAIT is as old as the leaks' and
# the host closed aiohttp's within a millisecond: the capture cannot
# tell a pool that closes at its next use from a leak.
@mid,late healthy cport=$(ports session)
@mid,late healthy cport!=$(ports leak),$(ports stale)
finding idle_timeout_close
@mid,late says idle_timeout_close : It closed none sooner than
@mid,late finding close_wait_leak
@mid,late finding stale_reuse_reset
EXP
}

# gunicorn's keep-alive (gthread) behind nginx's upstream keepalive pool.
sc_gunicorn_upstream() {
	host client; host proxy; host server
	wire client proxy
	local front=$proxy_ip d=$work/nginx
	wire proxy server
	mkdir -p "$work/app" "$d/html"
	cat >"$work/app/app.py" <<'APP'
def app(environ, start_response):
    body = b"ok\n"
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", str(len(body)))])
    return [body]
APP
	cat >"$d/nginx.conf" <<CONF
worker_processes 1;
pid $d/nginx.pid;
error_log $d/error.log;
events { worker_connections 256; }
http {
	access_log off;
	client_body_temp_path $d/tmp;
	proxy_temp_path $d/tmp;
	fastcgi_temp_path $d/tmp;
	uwsgi_temp_path $d/tmp;
	scgi_temp_path $d/tmp;
	keepalive_timeout 60s;
	upstream app {
		server $server_ip:8000;
		keepalive 4;
	}
	server {
		listen $front:8080;
		location / {
			proxy_pass http://app;
			proxy_http_version 1.1;
			proxy_set_header Connection "";
		}
	}
}
CONF
	on server $py -m gunicorn --chdir "$work/app" -k gthread --threads 4 -w 1 --keep-alive 2 -b "$server_ip:8000" app:app
	run_nginx proxy "$d"
	listening server 8000 20
	listening proxy 8080
	capture proxy any "$work/cap.pcap" -B 16384
	begin gunicorn-upstream
	# On the proxy host, without nginx: python http.client reusing its
	# connection to gunicorn after 3 s idle ("stale"), and a requests
	# Session doing the same (it notices the close and reconnects).
	client proxy $pylab stale "$server_ip" 8000 3 15 stale
	first_port 20 # the clock starts at its first request
	# curl through nginx, one request per connection, at 0, 0.5, 1.5,
	# 3.1, 5.2, 7.6, 10.3, 13.3 and 17.3 s: nginx reuses its idle upstream
	# connection within gunicorn's keep-alive (2 s), later requests come
	# after gunicorn's close; two pairs at once open a second one.
	(
		i=0
		for at in 0 0.5 1.5 3.1 5.2 7.6 10.3 13.3 17.3; do
			until_t "$at"
			i=$((i + 1))
			ip netns exec "$tag-client" curl -s -o /dev/null --max-time 3 "http://$front:8080/r$i" >>"$work/log" 2>&1 &
			if [ "$i" = 2 ] || [ "$i" = 6 ]; then
				ip netns exec "$tag-client" curl -s -o /dev/null --max-time 3 "http://$front:8080/p$i" >>"$work/log" 2>&1 &
			fi
		done
		wait
	) &
	pids+=($!)
	until_t 5.6
	cut early client proxy server
	until_t 11
	cut mid client proxy server
	until_t 22 # the last request at 17.3 s, closed by gunicorn at 19.3 s
	cut late client proxy server
	finish "$work/cap.pcap"
	expect <<EXP
# gunicorn (gthread, --keep-alive 2) closes idle connections after 2-3 s
# (it checks once a second); nginx, which watches its idle upstream
# connections, closes in turn at once: healthy (TIME_WAIT on gunicorn).
# curl closes first. The
# http.client connection from the proxy host ("stale") is reused 1 s
# after gunicorn's close: RST. The requests Session there reconnects.
expect sport=8000 server.ss=TIME-WAIT n>=1 : idle_timeout_close(server)
expect cport=$(ports stale) : idle_timeout_close(server) stale_reuse_reset(client)
healthy sport=8080
healthy sport=8000 cport!=$(ports stale)
finding idle_timeout_close
says idle_timeout_close : the default of gunicorn --keep-alive (2.0 s)
finding stale_reuse_reset
nofinding close_wait_leak
EXP
}

# PgBouncer in front of PostgreSQL: client_idle_timeout closes idle client
# connections, server_idle_timeout and server_lifetime its own idle
# connections to the server.
sc_pgbouncer_idle() {
	host client; host bouncer; host server
	wire client bouncer
	local front=$bouncer_ip pg=$work/pg d=$work/pgbouncer bin
	wire bouncer server
	bin=$(pg_bindir)
	mkdir -p "$pg" "$d"
	chown postgres: "$pg"
	as_postgres "$bin/initdb" -D "$pg/data" -U postgres -A trust -E UTF8 --no-sync >>"$work/log" 2>&1
	echo "host all all 0.0.0.0/0 trust" >>"$pg/data/pg_hba.conf"
	# The cluster of its own, in the foreground (stopped by PID), with no
	# idle timeout of its own.
	on server setpriv --reuid=postgres --regid=postgres --init-groups "$bin/postgres" -D "$pg/data" \
		-c listen_addresses="$server_ip" -c port=5432 -c unix_socket_directories="$pg" \
		-c fsync=off -c shared_buffers=16MB -c max_connections=20 \
		-c logging_collector=off -c log_min_messages=warning
	echo '"postgres" ""' >"$d/userlist.txt"
	cat >"$d/pgbouncer.ini" <<CONF
[databases]
postgres = host=$server_ip port=5432 dbname=postgres user=postgres
[pgbouncer]
listen_addr = $front
listen_port = 6432
unix_socket_dir =
auth_type = trust
auth_file = $d/userlist.txt
pidfile = $d/pgbouncer.pid
pool_mode = transaction
client_idle_timeout = 2
server_idle_timeout = 3
server_lifetime = 4
CONF
	chown -R postgres: "$d"
	listening server 5432 30
	on bouncer setpriv --reuid=postgres --regid=postgres --init-groups pgbouncer "$d/pgbouncer.ini"
	listening bouncer 6432 10
	capture bouncer any "$work/cap.pcap" -B 16384
	begin pgbouncer-idle
	client client $pylab pgbouncer "$front" 6432 5 25
	first_port 10 # the clock starts at the first connection
	until_t 3.6
	cut early client bouncer server
	until_t 8
	cut mid client bouncer server
	until_t 16
	cut late client bouncer server
	finish "$work/cap.pcap"
	expect <<EXP
# PgBouncer closes a client connection idle for client_idle_timeout (2 s)
# in transaction pooling only (a client linked to a server connection, as
# every one is in session pooling, is never timed out), from its janitor:
# 2.2-2.3 s after the last response, an ErrorResponse (FATAL 08P01
# "client_idle_timeout", 41 bytes), then FIN. Two psycopg2 connections
# ("leak") never read it: CLOSE_WAIT on the client. "stale" is reused at
# 5 s: RST. "watch" wakes on the FATAL and closes at once: libpq's
# Terminate meets PgBouncer's RST, no request lost, healthy. "close"
# closes after 1 s itself. PgBouncer's one server connection, idle after
# the queries, is closed by server_idle_timeout (3 s; server_lifetime 4 s
# comes later): Terminate and FIN 3.2-3.3 s after its last data, the
# pooler as a client evicting an idle connection. At the early cut the
# CLOSE_WAITs are 1.0-1.4 s old: the capture may not tell yet.
expect sport=6432 cport=$(ports leak),$(ports stale),$(ports watch) : idle_timeout_close(server)
@early expect client.ss=CLOSE-WAIT n>=3 : close_wait_leak(client)|open(client)
@mid,late expect client.ss=CLOSE-WAIT n>=2 : close_wait_leak(client)
@mid,late infinding client.ss=CLOSE-WAIT : close_wait_leak
@mid,late expect cport=$(ports stale) : stale_reuse_reset(client)
@mid,late expect sport=5432 n>=1 : idle_timeout_close(client)
healthy cport=$(ports watch),$(ports close)
healthy sport=5432
expect cport=$(ports watch) : !stale_reuse_reset(client)
finding idle_timeout_close
@mid,late finding stale_reuse_reset
@mid,late finding close_wait_leak
EXP
}

# A Redis pool reused after the server's idle timeout.
sc_redis_pool() {
	host client; host server; wire client server
	on server redis-server --bind "$server_ip" --port 6379 --protected-mode no --save "" --appendonly no \
		--tcp-keepalive 0 --timeout 2 --dir "$work" --daemonize no
	listening server 6379
	capture client "$client_if" "$work/cap.pcap"
	begin redis-pool
	client client $pylab redispool "$server_ip" 6379 4.5 30
	first_port 10
	until_t 3.2
	cut early client server
	until_t 7
	cut mid client server
	until_t 15
	cut late client server
	finish "$work/cap.pcap"
	expect <<EXP
# Redis (timeout 2) checks idle clients on a clock of whole seconds: it
# closes the four connections together, 2.4-2.7 s after their last reply
# (FIN). redis-py 4.3's ConnectionPool checks a connection before it hands
# it out (readable: EOF), so "pool" and "health" (health_check_interval 1,
# which only adds a PING before the first command of the new connection)
# are closed by the client at their reuse after 4.5 s, 1.8 s in
# CLOSE_WAIT, and a new connection opened ("repool", "rehealth"): healthy.
# A single_connection_client ("single") holds its connection outside the
# pool: its GET after 4.5 s meets RST ("Connection closed by server"). A
# raw socket ("leak") never reads nor closes: CLOSE_WAIT. At the early cut
# the capture ends with the client's ACKs of Redis's FINs: all four are
# in CLOSE_WAIT as far as it can tell, too young to judge.
expect cport=$(ports pool),$(ports health),$(ports single),$(ports leak) : idle_timeout_close(server)
@early expect client.ss=CLOSE-WAIT n>=4 : close_wait_leak(client)|open(client)
@mid,late expect cport=$(ports leak) client.ss=CLOSE-WAIT : close_wait_leak(client)
@mid,late infinding client.ss=CLOSE-WAIT : close_wait_leak
@mid,late expect cport=$(ports single) : stale_reuse_reset(client)
@mid,late expect cport=$(ports pool),$(ports health) : !stale_reuse_reset(client) !close_wait_leak(client)
@mid,late healthy cport=$(ports pool),$(ports health),$(ports repool),$(ports rehealth)
finding idle_timeout_close
@mid,late finding stale_reuse_reset
@mid,late finding close_wait_leak
EXP
}

# nginx's HTTP/2 over TLS (ALPN h2): its idle close of a connection
# whose clients never read it, reuse it after it, or close it themselves.
sc_nginx_h2_tls() {
	host client; host server; wire client server
	local d=$work/nginx
	self_signed "$d"
	nginx_conf "$d" 8443 2s
	# nginx 1.22: "listen ... ssl http2"; http2_idle_timeout is obsolete
	# since 1.19.7 (a warning; keepalive_timeout applies): set apart, so
	# that the capture says which one closed.
	sed -i "s|listen 0.0.0.0:8443;|listen 0.0.0.0:8443 ssl http2;\n\t\tssl_certificate $d/cert.pem;\n\t\tssl_certificate_key $d/key.pem;\n\t\tssl_protocols TLSv1.3;\n\t\thttp2_idle_timeout 5s;|" "$d/nginx.conf"
	grep -q 'http2_idle_timeout' "$d/nginx.conf" || die "nginx.conf: no ssl http2"
	run_nginx server "$d"
	listening server 8443
	capture client "$client_if" "$work/cap.pcap"
	begin nginx-h2-tls
	# python3-h2 over TLS, 0.2 s apart: two never read nor close ("leak"),
	# one reads to nginx's close and closes ("close"), one sends its next
	# request 4 s after its first ("reuse"), one closes after 1 s
	# ("cclose").
	client client $pylab h2tls "$server_ip" 8443 2 4 20
	first_port 10 # the clock starts at the first connection
	until_t 3.3   # nginx closed the idle connections at 2-2.8 s
	cut early client server
	until_t 6 # "reuse" sent its request at 4.6 s
	cut mid client server
	until_t 15
	cut late client server
	grep -i 'http2_idle_timeout\|warn' "$d/error.log" | head -3 >>"$work/log" || true
	finish "$work/cap.pcap"
	expect <<EXP
# nginx 1.22 with HTTP/2 over TLS 1.3 (keepalive_timeout 2s; its
# http2_idle_timeout 5s is obsolete, a warning, and does not apply)
# closes a connection idle for 2 s in one step: a GOAWAY (a 34-byte
# application data record), close_notify (19 bytes) and FIN within a
# tenth of a millisecond, not in two like Go's server. The two "leak"
# connections ($(ports leak)) never read it: CLOSE_WAIT. The "close" one
# ($(ports close)) reads the GOAWAY and EOF and closes at once. The
# "reuse" one ($(ports reuse)) sends its next request (a 30-byte record)
# 4 s after its first, 2 s after nginx's FIN: RST. The "cclose" one
# ($(ports cclose)) sends GOAWAY and FIN itself after 1 s idle: the
# client closed first. At the early cut the CLOSE_WAITs are 0.5-1.3 s
# old, and "reuse" is one of them.
expect cport=$(ports leak),$(ports close),$(ports reuse) : idle_timeout_close(server)
@early expect cport=$(ports leak),$(ports reuse) client.ss=CLOSE-WAIT n>=3 : close_wait_leak(client)|open(client)
@mid,late expect cport=$(ports leak) client.ss=CLOSE-WAIT n>=2 : close_wait_leak(client)
@mid,late infinding client.ss=CLOSE-WAIT : close_wait_leak
@mid,late expect cport=$(ports reuse) : stale_reuse_reset(client)
expect cport=$(ports close),$(ports cclose) : !close_wait_leak(client) !stale_reuse_reset(client)
expect cport=$(ports cclose) : !idle_timeout_close(server)
healthy cport=$(ports close),$(ports cclose)
finding idle_timeout_close
says idle_timeout_close : after 2.0 s without traffic
@mid,late finding close_wait_leak
@mid,late finding stale_reuse_reset
EXP
}

# A Python gRPC server (python3-grpcio, grpc.max_connection_idle_ms) and
# its clients, in cleartext and over TLS.
sc_grpc_idle() {
	host client; host server; wire client server
	self_signed "$work/tls"
	local idle=grpc.max_connection_idle_ms=2000 pings="grpc.keepalive_permit_without_calls=1 grpc.http2.min_ping_interval_without_data_ms=300"
	# 50051: idle 2 s, the clients' pings allowed; 50052: the same, and
	# the server pings every second; 50443: idle 2 s over TLS.
	client server $pylab grpcserve "$server_ip" 50051 45 $idle $pings
	client server $pylab grpcserve "$server_ip" 50052 45 $idle $pings grpc.keepalive_time_ms=1000 grpc.keepalive_timeout_ms=500
	client server $pylab grpcserve "$server_ip" 50443 45 $idle "tls=$work/tls/cert.pem:$work/tls/key.pem"
	listening server 50051
	listening server 50052
	listening server 50443
	capture client "$client_if" "$work/cap.pcap"
	begin grpc-idle
	# Channels, 0.2 s apart, to 50051: one left idle ("idle"), one calling
	# again after 7 s ("reuse", then "reuse2"), one with keepalive pings
	# (500 ms asked, every second sent) that grpc reads and answers
	# ("ping"), a hand-made call
	# never read again ("leak"); to the pinging 50052: one idle that grpc
	# does not read until much later ("kaidle"), one it reads ("kawatch");
	# over TLS: one idle ("tlsidle"), one calling again after 7 s
	# ("tlsreuse").
	local ca="tls=$work/tls/cert.pem"
	client client $pylab grpcclient "$server_ip" 50051 idle 0 28
	first_port 10 # the clock starts at the first call
	local c
	for c in "50051 reuse 7 28" "50051 ping 0 28 grpc.keepalive_time_ms=500 grpc.keepalive_permit_without_calls=1 grpc.http2.max_pings_without_data=0 watch=1" \
		"50052 kaidle 0 28" "50052 kawatch 0 28 watch=1" "50443 tlsidle 0 28 $ca" "50443 tlsreuse 7 28 $ca"; do
		sleep 0.2
		client client $pylab grpcclient "$server_ip" $c
		[ "${c#50051 ping}" = "$c" ] || { sleep 0.2; client client $pylab grpcleak "$server_ip" 50051 28; }
	done
	until_t 6.4 # idle closes at 4-5.7 s (and "kaidle" at 2.5 s)
	cut early client server
	until_t 10 # "reuse" and "tlsreuse" called again at 7.2 and 8.6 s
	cut mid client server
	until_t 22
	cut late client server
	finish "$work/cap.pcap"
	expect <<EXP
# python3-grpcio 1.51's server with grpc.max_connection_idle_ms=2000
# checks for idleness on a timer of its own: it closed every connection
# 4.0 s after its last call, never 2 s, with one GOAWAY (a 17-byte frame
# and 10 bytes of debug data; over TLS a 44-byte record) and its FIN
# within 0.2 ms: no PING, no second GOAWAY. PINGs do not count: on the
# "ping" channel ($(ports ping)), whose client pings every second, and
# on "kawatch" ($(ports kawatch)), which answers the server's PING every
# second, GOAWAY comes a millisecond after a PING answered, 4.0 s after
# the call. The python client reads its sockets only while a call or a
# connectivity watch runs, else about once a second: it closes 1 s after
# the server's FIN, or up to 4 s. "idle" ($(ports idle)), "reuse" ($(ports reuse),
# then a new connection $(ports reuse2)), "tlsidle" ($(ports tlsidle)) and
# "tlsreuse" ($(ports tlsreuse), then $(ports tlsreuse2)) are closed
# idle and close in turn; no call meets a closed connection. The
# hand-made "leak" ($(ports leak)) never reads: CLOSE_WAIT, which the
# capture cannot yet tell from the grpc client's slow closes (it would
# be a leak at ten times the slowest, 40 s). "kaidle"
# ($(ports kaidle)) does not answer the server's PING (its client reads
# nothing then): the server closes 0.5 s later (keepalive_timeout_ms
# 500), without GOAWAY, and the client's PING acknowledgement, 3.5 s
# later, gets RST: no request lost. flowdoc calls that close an idle
# close after 1.5 s (the quiet since the call): the capture holds the
# PING unanswered, but no record says so.
expect cport=$(ports idle),$(ports reuse),$(ports ping),$(ports leak),$(ports kawatch),$(ports tlsidle),$(ports tlsreuse) : idle_timeout_close(server)
@late expect cport=$(ports reuse2),$(ports tlsreuse2) : idle_timeout_close(server)
expect cport=$(ports leak) client.ss=CLOSE-WAIT : close_wait_leak(client)|open(client)
@late infinding client.ss=CLOSE-WAIT : close_wait_leak
expect all : !stale_reuse_reset(client) !stale_reuse_reset(server)
expect cport!=$(ports leak) : !close_wait_leak(client)
healthy cport!=$(ports leak)
finding idle_timeout_close
says idle_timeout_close : after 4.0 s without traffic
nofinding stale_reuse_reset
@late finding close_wait_leak
EXP
}

# A Python gRPC server (python3-grpcio) enforcing its keepalive policy
# (pings no more often than every 5 s) and clients that ping more often:
# GOAWAY ENHANCE_YOUR_CALM "too_many_pings" and a close, reconnections.
sc_grpc_keepalive() {
	host client; host server; wire client server
	# One server, three ports: 50061 for the idle pinging channel, 50062
	# for the well-behaved ones, 50063 for the one pinging under a long call.
	# Pings without calls are allowed, every 5 s at most; grpc's default
	# grpc.http2.max_ping_strikes 2: the third ping too soon closes.
	client server $pylab grpcserve "$server_ip" 50061,50062,50063 45 \
		grpc.http2.min_ping_interval_without_data_ms=5000 grpc.keepalive_permit_without_calls=1
	listening server 50061
	listening server 50062
	listening server 50063
	capture client "$client_if" "$work/cap.pcap"
	begin grpc-keepalive
	# "abuse": one call, then an idle channel (watched, so that grpc reads
	# it) asking for a PING every 500 ms, which the server closes; a call
	# connects it again. "slowbusy": calls that the server answers in 4 s,
	# one 0.3 s after the other, PINGs asked every 500 ms. "polite": idle,
	# a PING every 6 s. "caller": no keepalive, a call every second.
	local ka="grpc.keepalive_permit_without_calls=1 grpc.http2.max_pings_without_data=0"
	client client $pylab grpcpings "$server_ip" 50061 abuse 0 28 grpc.keepalive_time_ms=500 $ka
	first_port 10 # the clock starts at the first call
	client client $pylab grpcpings "$server_ip" 50063 slowbusy 0.3 28 grpc.keepalive_time_ms=500 $ka
	client client $pylab grpcpings "$server_ip" 50062 polite 0 28 grpc.keepalive_time_ms=6000 $ka
	client client $pylab grpcpings "$server_ip" 50062 caller 1 28
	until_t 4 # the first GOAWAYs at 3-3.5 s
	cut early client server
	until_t 9 # "abuse" closed at 3 and 6 s, "slowbusy" at 3.5 and 7.5 s
	cut mid client server
	until_t 22
	cut late client server
	finish "$work/cap.pcap"
	local sb1
	sb1=$(ports slowbusy | cut -d, -f1)
	expect <<EXP
# python3-grpcio 1.51's server (min_ping_interval_without_data_ms 5000,
# max_ping_strikes 2) counts a strike for every PING sooner than 5 s
# after the last one and, at the third, sends PING ACK and GOAWAY
# ENHANCE_YOUR_CALM (11) with debug data "too_many_pings" in one
# 48-byte segment, then its FIN (within 0.5 ms); the client closes at
# once: no RST, no CLOSE_WAIT. The idle "abuse" channel asked for a PING
# every 500 ms (grpc sent one a second): closed 3.0 s after its call
# ($(ports abuse | cut -d, -f1)), its client reconnecting at once with its keepalive
# doubled (grpc's throttling): 1 s, closed after 3.0 s
# ($(ports abuse | cut -d, -f2), whose client's FIN crossed the server's: client
# TIME-WAIT), 2 s, closed after 6.0 s ($(ports abuse | cut -d, -f3)), 4 s
# ($(ports abuse | cut -d, -f4), up to the late cut). The connection was never idle:
# the client's last PING came 0.6 ms before the GOAWAY, and the server
# answered every one. The "slowbusy" channel ($sb1) pinged every second
# under a call the server answers in 4 s: GOAWAY at the third strike,
# 3.5 s after its call, with the call's trailers (grpc-status 14
# UNAVAILABLE, "Too many pings") and RST_STREAM in the same segment:
# the call failed; its next connection ($(ports slowbusy | cut -d, -f2-)) is not closed.
# "polite" ($(ports polite)) pings every 6 s, "caller" ($(ports caller)) calls every
# second: both stay up. The server closed the abuse connections for its
# client's PINGs, not for the 3.0 s without a call before them.
expect cport=$(ports abuse) server.ss=TIME-WAIT : time_wait(server)
expect cport=$(ports abuse) client.ss=TIME-WAIT : time_wait(client)
expect cport=$sb1 server.ss=TIME-WAIT : time_wait(server) idle_timeout_close(server)
@early,mid,late says idle_timeout_close : $server_ip:50063 (server) closed 1 connection from $client_ip for their pings
expect client.ss=ESTAB : open(client)
expect all : !close_wait_leak(client) !close_wait_leak(server) !stale_reuse_reset(client) !stale_reuse_reset(server)
healthy cport=$(ports polite),$(ports caller),$(ports slowbusy | cut -d, -f2-)
nofinding close_wait_leak
nofinding stale_reuse_reset
nofinding reconnect_storm
@early,mid,late says idle_timeout_close : from $client_ip for their pings: it sent an HTTP/2 GOAWAY with ENHANCE_YOUR_CALM (gRPC's "too_many_pings")
EXP
}

# capture_lossy HOST IFACE FILE: tcpdump as it is often run, buffered (no
# --immediate-mode, no -U), with a kernel buffer of 64 KiB (-B 64): in a
# burst the kernel drops what tcpdump does not read in time.
capture_lossy() {
	tcpdump_on "$1" -i "$2" -s 0 -B 64 -w "$3"
}

# A capture point that loses packets: ApacheBench against nginx, captured
# with a small buffer.
sc_lossy_capture() {
	host client; host server; wire client server
	nginx_conf "$work/nginx" 80 2s
	run_nginx server "$work/nginx"
	listening server 80
	# A lossless capture on the server's end of the wire (a large buffer,
	# immediate mode), not kept: it tells which packets the other lost.
	ip netns exec "$tag-server" tcpdump -i "$server_if" --immediate-mode -U -s 0 -B 65536 -w "$work/ref.pcap" 2>"$work/ref.err" &
	pids+=($!)
	for _ in $(seq 50); do grep -q "listening on" "$work/ref.err" && break; sleep 0.1; done
	capture_lossy client "$client_if" "$work/cap.pcap"
	begin lossy-capture
	lossy=1
	# 50 at a time: thousands of connections a second.
	ab_cuts 1000 50
	finish "$work/cap.pcap"
	local held stats
	held=$(awk -v s="$server_ip:80" '$1 == "TIME-WAIT" && $4 == s { split($5, a, ":"); printf "%s%s", c, a[2]; c = ","; if (++n == 3) exit }' \
		"$out/$name@early.truth")
	stats=$(grep -E '^[0-9]+ packets' "$work/tcpdump.err" | paste -sd, | sed 's/,/, /g')
	grep -q '^0 packets dropped' "$work/ref.err" || echo "lab: $name: the reference capture lost packets: $(cat "$work/ref.err")" >&2
	# LAB_REF=FILE keeps the lossless capture, to compare flow by flow.
	if [ -n "${LAB_REF:-}" ]; then cp "$work/ref.pcap" "$LAB_REF"; fi
	expect <<EXP
$(echo "ab (HTTP/1.0, no keep-alive, -n 1000 -c 50) against nginx, captured on the client by a tcpdump with a 64 KiB buffer and no immediate mode: the kernel dropped a few percent of the packets in bursts ($stats). A lossless capture on the server's end of the wire says what was lost: $(lost_packets "$work/ref.pcap" "$out/$name@late.pcap" 80)." | fold -s -w 72 | sed 's/ *$//; s/^/# /')
# Nothing is wrong with the connections: nginx closed each one first, ab
# closed in turn, and ss shows no CLOSE_WAIT on either host. Where the
# capture lost a FIN that the peer acknowledged, flowdoc takes it as sent;
# where it lost the acknowledgement of a FIN, or data before a FIN, the
# CLOSE_WAIT it shows is not judged (an Info finding accounts for it: the
# states follow the packets captured, not ss).
# Connections of which the capture holds nothing are no error.
unseen_ok
expect sport=80 server.ss=TIME-WAIT n>=900 : !close_wait_leak(client) !close_wait_leak(server)
healthy sport=80
infinding cport=$held server.ss=TIME-WAIT : time_wait_pressure
noproblem close_wait_leak
EXP
}

# lost_packets REF FILE SPORT: the TCP packets of REF (a lossless capture
# of the same wire) that FILE lacks, counted by kind and by side (the
# server is port SPORT).
lost_packets() {
	local f='-e tcp.srcport -e tcp.dstport -e tcp.seq_raw -e tcp.ack_raw -e tcp.flags.syn -e tcp.flags.ack -e tcp.flags.fin -e tcp.flags.reset -e tcp.len'
	{
		tshark -r "$2" -Y tcp -T fields $f 2>/dev/null | sed 's/^/have\t/'
		tshark -r "$1" -Y tcp -T fields $f 2>/dev/null | sed 's/^/ref\t/'
	} | awk -F'\t' -v sp="$3" '
		{ k = $2 " " $3 " " $4 " " $5 " " $6 $7 $8 $9 " " $10 }
		$1 == "have" { have[k]++; next }
		have[k] > 0 { have[k]--; next }
		{
			side = $2 == sp ? "server" : "client"
			kind = $9 == 1 ? "RST" : $6 == 1 ? ($7 == 1 ? "SYN-ACK" : "SYN") : $8 == 1 ? "FIN" : $10 > 0 ? "data" : "ACK"
			n[kind " from the " side]++
			total++
		}
		END {
			printf "it lost %d TCP packets", total
			for (k in n) printf "\n%d %s", n[k], k
		}' | { read -r head; echo -n "$head: "; sort -k1,1nr | paste -sd, | sed 's/,/, /g'; }
}

# self_signed DIR: a self-signed certificate and its key, DIR/cert.pem and
# DIR/key.pem, and both in DIR/both.pem (HAProxy's crt).
self_signed() {
	mkdir -p "$1"
	openssl req -x509 -newkey rsa:2048 -nodes -keyout "$1/key.pem" -out "$1/cert.pem" -days 2 -subj /CN=lab \
		>>"$work/log" 2>&1 || die "openssl: $(tail -3 "$work/log")"
	cat "$1/cert.pem" "$1/key.pem" >"$1/both.pem"
}

# Incident 001 over HTTPS: nginx (ssl, TLS 1.3) and the Go client that
# leaks the connections of its 404s.
sc_nginx_tls_leak() {
	host client; host server; wire client server
	local d=$work/nginx
	self_signed "$d"
	nginx_conf "$d" 8443 2s
	sed -i "s|listen 0.0.0.0:8443;|listen 0.0.0.0:8443 ssl;\n\t\tssl_certificate $d/cert.pem;\n\t\tssl_certificate_key $d/key.pem;\n\t\tssl_protocols TLSv1.3;|" "$d/nginx.conf"
	grep -q 'ssl_protocols' "$d/nginx.conf" || die "nginx.conf: no ssl"
	run_nginx server "$d"
	listening server 8443
	capture client "$client_if" "$work/cap.pcap"
	begin nginx-tls-leak
	client client "$work/gohttp" -url "https://$server_ip:8443" -paths /ok,/missing,/ok,/missing,/missing \
		-n 10 -interval 250ms -hold 20s
	first_port 10 # the clock starts at the first response
	until_t 3.0   # the first leak (0.25 s) got nginx's FIN at 2.25 s
	cut early client server
	until_t 6
	cut mid client server
	until_t 15
	cut late client server
	finish "$work/cap.pcap"
	expect <<EXP
# nginx-404-leak over TLS 1.3: nginx (keepalive_timeout 2s) closes each
# connection after 2 s idle. The Go client never closes the body of a 404
# ($(ports leak)): that connection is never read again and sits in
# CLOSE_WAIT. It closes its pooled 200 connections ($(ports ok)) as soon
# as nginx's FIN arrives. At the early cut the oldest CLOSE_WAIT is under
# a second old: the capture may not tell a leak yet (open).
@early expect client.ss=CLOSE-WAIT n>=1 : close_wait_leak(client)|open(client) idle_timeout_close(server)
@mid,late expect client.ss=CLOSE-WAIT n>=4 : close_wait_leak(client) idle_timeout_close(server)
@late infinding client.ss=CLOSE-WAIT : close_wait_leak
@late expect cport=$(ports leak) : close_wait_leak(client) idle_timeout_close(server)
expect cport=$(ports leak) client.ss=ESTAB : !close_wait_leak(client)
@mid,late expect cport=$(ports ok) : idle_timeout_close(server)
# The 200 ones: nginx's close_notify and FIN, the client's close_notify
# (a 19-byte record, as long as nginx's) and RST from nginx, whose socket
# is gone: TLS's goodbye, no request after the close.
expect cport=$(ports ok) : !stale_reuse_reset(client)
healthy cport=$(ports ok)
@mid,late finding close_wait_leak
finding idle_timeout_close
EXP
}

# HAProxy terminating TLS in front of nginx: keep-alive connections reused
# after HAProxy's timeout http-keep-alive.
sc_haproxy_tls_stale() {
	host client; host server; wire client server
	self_signed "$work/tls"
	nginx_conf "$work/nginx" 8081 60s 127.0.0.1
	haproxy_keepalive_conf "$server_ip:8443 ssl crt $work/tls/both.pem"
	run_nginx server "$work/nginx"
	on server haproxy -db -f "$work/haproxy.cfg"
	listening server 8443
	capture client "$client_if" "$work/cap.pcap"
	begin haproxy-tls-stale
	# http.client over TLS: two connections reused 3 s after their
	# response (HAProxy closed them at 2 s), one reused after 1 s; a
	# requests Session reused after 3 s; curl -k, one request.
	client client $pylab tlsstale "$server_ip" 8443 3 10 stale
	first_port 10 # the clock starts at the first response
	client client $pylab tlsstale "$server_ip" 8443 3 10 stale
	client client $pylab tlsstale "$server_ip" 8443 1 10 reused
	client client $pylab tlssession "$server_ip" 8443 3 10
	ip netns exec "$tag-client" curl -sk -o /dev/null --max-time 3 "https://$server_ip:8443/" >>"$work/log" 2>&1
	until_t 2.7 # HAProxy closed the idle connections at 2-2.5 s
	cut early client server
	until_t 5
	cut mid client server
	until_t 10
	cut late client server
	finish "$work/cap.pcap"
	expect <<EXP
# HAProxy terminates TLS (timeout http-keep-alive 2s) in front of nginx.
# python http.client connections ($(ports stale)) send their second
# request 3 s after the first response, on a connection HAProxy closed
# idle 1 s before: RST. One ($(ports reused)) sends it after 1 s,
# before the timeout: answered, then closed by the client. A requests
# Session sees the close before reusing and connects anew; curl -k makes
# one request and closes. At the early cut the stale ones and the
# Session's sit in CLOSE_WAIT, HAProxy's FIN under a second old and
# nothing yet to compare with: the capture cannot tell a leak from a pool
# that has not looked yet, and flowdoc may say so (open, with why).
expect cport=$(ports stale) : idle_timeout_close(server)
@early expect client.ss=CLOSE-WAIT n>=3 : close_wait_leak(client)|open(client) idle_timeout_close(server)
@mid,late expect cport=$(ports stale) : stale_reuse_reset(client)
expect cport=$(ports reused) : !stale_reuse_reset(client) !idle_timeout_close(server)
@early healthy cport!=$(ports stale) client.ss=CLOSED
@mid,late healthy cport!=$(ports stale)
@mid,late finding stale_reuse_reset
@mid,late noproblem close_wait_leak
EXP
}

# node-keepalive-race over TLS: a Node.js https server and https.Agents
# whose requests race the server's idle close.
sc_node_tls_race() {
	host client; host server; wire client server
	self_signed "$work/tls"
	# keepAliveTimeout 2000: Node closes an idle connection 1 s later than
	# that (its HTTP_SERVER_KEEP_ALIVE_TIMEOUT_BUFFER), 3 s after a
	# response. Connection: keep-alive set by hand leaves out the
	# Keep-Alive: timeout hint, as in node-keepalive-race.
	node_keepalive_server 8443 2000 https
	listening server 8443
	capture client "$client_if" "$work/cap.pcap"
	begin node-tls-race
	# 6 https.Agents, 8 requests each, 2.994-3.001 s apart: about 22 s.
	client client node "$here/clients/agentrace.js" "$server_ip" 8443 6 8 2994 3001 https
	first_port 10 # the clock starts at the first response
	until_t 6.5
	cut early client server
	until_t 12
	cut mid client server
	until_t 27
	cut late client server
	finish "$work/cap.pcap"
	local stale
	stale=$(fin_then_data "$out/$name@late.pcap" 8443 24)
	expect <<EXP
# Node's https server (keepAliveTimeout 2000, closing at 3 s) and six
# keep-alive https.Agents sending requests 2.994-3.001 s after the last
# response. A request sent after the server's FIN reached the client
# ($stale) goes out on a closed connection: RST, "socket hang up" or
# ECONNRESET (the client's "reset": $(ports reset)). Where the server's
# timer fires with a request already in its socket's buffer, it closes
# with unread data: RST and no FIN, after the request. Node closes idle
# connections with a FIN and no close_notify; the Agents answer that FIN
# with their own close_notify (a 19-byte record) and Node, its socket
# gone, with RST: no request after the close, healthy. So are the
# connections reused in time, and those the Agents close at the end.
expect cport=$stale client.ss=CLOSED : stale_reuse_reset(client) idle_timeout_close(server)
expect cport=$(ports reset) client.ss=CLOSED : stale_reuse_reset(client)|idle_timeout_close(server)
expect cport!=$(ports reset) : !stale_reuse_reset(client)
healthy cport!=$(ports reset)
@mid,late finding stale_reuse_reset
finding idle_timeout_close
EXP
}

# proxy_sweep FRONT PORT EARLY: the clients of a reverse proxy at
# FRONT:PORT in front of nginx (keepalive_timeout 2s), and the cuts. http.client,
# one request per connection, then idle: two never read nor close ("leak"),
# one reads to the end and closes ("close"). Then one request per
# connection, closed by the client ("spaced"), after pauses around nginx's
# 2 s: 3.5 s (after its close), 1 s, then 1.998-2.003 s in steps of 0.5 ms,
# sweeping across the moment nginx's timer fires. The clock starts at the
# first request; cuts at EARLY s (the proxy's idle closes), 7 s and 30 s
# (the last request at 26.6 s).
proxy_sweep() {
	client client $pylab proxyidle "$1" "$2" /ok 2 35
	first_port 10
	client client $pylab spaced "$1" "$2" 3.5 1 $(LC_ALL=C seq 1.998 0.0005 2.003)
	until_t "$3"
	cut early client proxy server
	until_t 7
	cut mid client proxy server
	until_t 30
	cut late client proxy server
	finish "$work/cap.pcap"
}

# Varnish in front of nginx: its backend pool against nginx's shorter
# keep-alive, and its own timeout_idle on client connections.
sc_varnish_backend() {
	host client; host proxy; host server
	wire client proxy
	local front=$proxy_ip d=$work/varnish
	wire proxy server
	nginx_conf "$work/nginx" 8080 2s
	run_nginx server "$work/nginx"
	mkdir -p "$d"
	cat >"$d/lab.vcl" <<VCL
vcl 4.1;
backend nginx { .host = "$server_ip"; .port = "8080"; }
sub vcl_recv { return (pass); }
VCL
	# backend_idle_timeout stays at its default, 60 s: longer than nginx's 2 s.
	on proxy varnishd -F -n "$d/n" -a "$front:6081" -f "$d/lab.vcl" -s malloc,16m -T none \
		-p timeout_idle=2 -p backend_idle_timeout=60
	listening server 8080
	listening proxy 6081 20
	capture proxy any "$work/cap.pcap" -B 16384
	begin varnish-backend
	proxy_sweep "$front" 6081 3.0 # varnish and nginx closed their idle connections at 2-2.5 s
	local race
	race=$(fin_then_data "$out/$name@late.pcap" 8080)
	expect <<EXP
# varnish (timeout_idle 2 s) closes a client connection idle for 2 s with
# FIN. Two http.client connections ("leak": $(ports leak)) never read nor
# close after their request: CLOSE_WAIT on the client. One ("close")
# reads the EOF and closes at once; the "spaced" ones are closed by the
# client after their response. Behind it nginx (keepalive_timeout 2s)
# closes varnish's idle backend connections after 2 s, and varnish
# (backend_idle_timeout 60 s), which watches its idle connections, closes
# its side within a millisecond: healthy. Requests come 1.998-2.003 s after
# the one before, racing nginx's timer: one sent on a backend connection
# after nginx's FIN (${race:-none in this recording}) is reset, and
# varnish retries it on a new connection. At the early cut the CLOSE_WAITs
# are 0.5-1 s old, beside a close answered within a millisecond.
expect sport=6081 cport=$(ports leak) client.ss=CLOSE-WAIT n>=2 : close_wait_leak(client) idle_timeout_close(server)
@mid,late infinding client.ss=CLOSE-WAIT : close_wait_leak
expect sport=6081 cport=$(ports close) : idle_timeout_close(server)
expect sport=8080 server.ss=TIME-WAIT n>=1 : idle_timeout_close(server) !close_wait_leak(client)
$([ -n "$race" ] && echo "expect sport=8080 cport=$race : stale_reuse_reset(client)")
healthy sport=6081 cport!=$(ports leak)
healthy sport=8080 cport!=${race:-0}
finding idle_timeout_close
finding close_wait_leak
EXP
}

# Caddy as a reverse proxy in front of nginx: the Go transport's idle pool
# against nginx's shorter keep-alive, and caddy's own idle timeout.
sc_caddy_proxy() {
	host client; host proxy; host server
	wire client proxy
	local front=$proxy_ip d=$work/caddy
	wire proxy server
	nginx_conf "$work/nginx" 8080 2s
	run_nginx server "$work/nginx"
	mkdir -p "$d"
	cat >"$d/Caddyfile" <<CONF
{
	admin off
	auto_https off
	servers {
		timeouts {
			idle 3s
		}
	}
}
http://$front:8080 {
	reverse_proxy $server_ip:8080 {
		transport http {
			keepalive 60s
		}
	}
}
CONF
	on proxy env HOME="$d" XDG_DATA_HOME="$d" XDG_CONFIG_HOME="$d" caddy run --config "$d/Caddyfile" --adapter caddyfile
	listening server 8080
	listening proxy 8080 20
	capture proxy any "$work/cap.pcap" -B 16384
	begin caddy-proxy
	proxy_sweep "$front" 8080 3.8 # caddy closed the idle client connections at 3-3.5 s
	local race
	race=$(fin_then_data "$out/$name@late.pcap" 8080)
	expect <<EXP
# caddy (servers timeouts idle 3s) closes a client connection idle for 3 s
# with FIN. Two http.client connections ("leak": $(ports leak)) never read
# nor close after their request: CLOSE_WAIT on the client. One ("close")
# reads the EOF and closes at once; the "spaced" ones are closed by the
# client after their response. Behind it nginx (keepalive_timeout 2s)
# closes caddy's idle upstream connections after 2 s; Go's Transport
# (keepalive 60 s) reads the EOF and closes within a millisecond:
# healthy. Requests come 1.998-2.003 s after the one before, racing nginx's
# timer: one sent on an upstream connection just after nginx's FIN
# (${race:-none in this recording}) is reset, and the Transport retries it
# on a new connection; the client gets its answer. At the early cut the
# CLOSE_WAITs are 0.3-0.7 s old, beside a close answered at once.
expect sport=8080 cport=$(ports leak) client.ss=CLOSE-WAIT n>=2 : close_wait_leak(client) idle_timeout_close(server)
@mid,late infinding client.ss=CLOSE-WAIT : close_wait_leak
expect cport=$(ports close) : idle_timeout_close(server)
expect server.ss=TIME-WAIT n>=1 : idle_timeout_close(server) !close_wait_leak(client)
$([ -n "$race" ] && echo "expect cport=$race : stale_reuse_reset(client)")
healthy cport!=$(ports leak)${race:+,$race}
finding idle_timeout_close
finding close_wait_leak
EXP
}

# pid_port HOST PID ROLE: note the local port of PID's TCP connection in
# HOST as ROLE, as a client's "ROLE PORT" line (within 5 s).
pid_port() {
	local p
	for _ in $(seq 50); do
		p=$(ip netns exec "$tag-$1" ss -tnpH state established | awk -v pid="pid=$2," 'index($0, pid) { n = split($3, a, ":"); print a[n]; exit }')
		if [ -n "$p" ]; then
			echo "$3 $p" >>"$work/ports"
			return 0
		fi
		sleep 0.1
	done
	die "process $2 made no connection in $1"
}

# MQTT keepalive: mosquitto closes a client silent for 1.5 times its
# keepalive.
sc_mosquitto_keepalive() {
	host client; host server; wire client server
	local d=$work/mosquitto
	mkdir -p "$d"
	cat >"$d/mosquitto.conf" <<CONF
listener 1883 $server_ip
allow_anonymous true
persistence false
log_dest stdout
log_type all
CONF
	on server mosquitto -c "$d/mosquitto.conf"
	listening server 1883
	capture client "$client_if" "$work/cap.pcap"
	begin mosquitto-keepalive
	# paho with keepalive 2 s, pinging when idle ("ping"); mosquitto_sub
	# (keepalive 5 s, its least) stopped (SIGSTOP) after subscribing
	# ("stopped"); a client of a few bytes, keepalive 2 s, silent after
	# its CONNACK, never reading nor closing ("silent"); mosquitto_pub
	# publishing, then DISCONNECT and close, twice.
	client client $pylab mqttping "$server_ip" 1883 2 25
	first_port 10 # the clock starts at the first connection
	on client mosquitto_sub -h "$server_ip" -p 1883 -k 5 -t lab/stop -W 30
	local stopped=${pids[-1]}
	pid_port client "$stopped" stopped
	sleep 0.2
	kill -STOP "$stopped"
	client client $pylab mqttsilent "$server_ip" 1883 2 25
	sleep 0.5
	ip netns exec "$tag-client" mosquitto_pub -h "$server_ip" -p 1883 -t lab/ping -m one >>"$work/log" 2>&1
	until_t 5.9 # mosquitto closed the silent one at 3-5 s (1.5 x 2 s, checked late)
	cut early client server
	ip netns exec "$tag-client" mosquitto_pub -h "$server_ip" -p 1883 -t lab/ping -m two >>"$work/log" 2>&1
	until_t 12.3 # and the stopped one at 7.5-11.5 s (1.5 x 5 s)
	cut mid client server
	until_t 18
	cut late client server
	finish "$work/cap.pcap"
	expect <<EXP
# mosquitto 2.0 closes the connection of a client silent for 1.5 times the
# keepalive it asked for, checking late (3-5 s for 2 s, 7.5-11.5 s for
# 5 s): FIN, no MQTT message (3.1.1). The "silent" client ($(ports silent))
# and the stopped mosquitto_sub ($(ports stopped)) never read it:
# CLOSE_WAIT. paho ($(ports ping)) sends PINGREQ every 2 s: open and
# healthy; mosquitto_pub sends DISCONNECT and closes first: healthy. At the
# early cut the silent one's CLOSE_WAIT is 1-3 s old and nothing on that
# host closed after a server's FIN to compare with.
@early expect cport=$(ports silent) client.ss=CLOSE-WAIT : close_wait_leak(client)|open(client) idle_timeout_close(server)
@early expect cport=$(ports stopped) client.ss=ESTAB : !close_wait_leak(client)
@mid,late expect cport=$(ports silent),$(ports stopped) client.ss=CLOSE-WAIT n>=2 : close_wait_leak(client) idle_timeout_close(server)
@mid,late infinding client.ss=CLOSE-WAIT : close_wait_leak
expect cport=$(ports ping) client.ss=ESTAB : open(client)
healthy cport!=$(ports silent),$(ports stopped)
@mid,late finding idle_timeout_close
@mid,late finding close_wait_leak
EXP
}

# The JDK's java.net.http.HttpClient and nginx's keep-alive timeout.
sc_jdk_httpclient() {
	host client; host server; wire client server
	nginx_conf "$work/nginx" 8080 2s
	run_nginx server "$work/nginx"
	nginx_conf "$work/nginx-leak" 8081 2s
	run_nginx server "$work/nginx-leak"
	nginx_conf "$work/nginx-url" 8082 2s
	run_nginx server "$work/nginx-url"
	listening server 8080
	listening server 8081
	listening server 8082
	capture client "$client_if" "$work/cap.pcap"
	begin jdk-httpclient
	# The pool (jdk.httpclient.keepalive.timeout left at 1200 s) on
	# 8080: requests 1.5-3.5 s apart, and 1.999-2.002 s apart, around
	# nginx's 2 s. On 8081, four responses whose body is never read to
	# the end nor closed (ofInputStream).
	client client java -XX:TieredStopAtLevel=1 "$here/clients/JdkPool.java" pool "http://$server_ip:8080/ok" 10 30 \
		1500 2500 3500 1999 2000 2001 2002
	first_port 30 # the clock starts at the first response
	client client java -XX:TieredStopAtLevel=1 "$here/clients/JdkPool.java" unclosed "http://$server_ip:8081/big" 4 30 500
	client client java -XX:TieredStopAtLevel=1 "$here/clients/JdkPool.java" urlconn "http://$server_ip:8082/ok" 7 30 1500 2500 3500
	until_t 7
	cut early client server
	until_t 13
	cut mid client server
	until_t 24
	cut late client server
	finish "$work/cap.pcap"
	# The requests that followed nginx's FIN on the wire.
	local race stale
	race=$(fin_then_data "$out/$name@late.pcap" 8080)
	stale=$(fin_then_data "$out/$name@late.pcap" 8082)
	expect <<EXP
# nginx (keepalive_timeout 2s) closes idle connections after 2 s with FIN.
# The JDK's HttpClient (8080) watches its idle pooled connections (its
# selector thread): it closes within milliseconds of nginx's FIN, and the
# next request opens a new connection: healthy, whatever the gap. A request
# it sent in the millisecond or two before it saw the FIN goes out on the
# closed connection (${race:-none in this recording}): RST, and the client
# retries it on a new connection. On 8081 it reads only the first 1 KB of
# each 16 KB body and never closes the stream: the HttpClient has read the
# whole body and pooled the connection all the same, and closes it on
# nginx's FIN: healthy. HttpURLConnection (8082) takes a connection back
# into its KeepAliveCache at the end of a body and keeps it 5 s without
# watching it: requests 2.5 and 3.5 s after a response go out on the
# connection nginx closed ($stale): RST, and it retries on a new one; the
# last connection waits in CLOSE_WAIT until the cache reuses or drops it,
# like the others of its pool: no leak the capture can show.
expect sport=8080 server.ss=TIME-WAIT n>=1 : idle_timeout_close(server) !close_wait_leak(client)
expect sport=8081 server.ss=TIME-WAIT n>=1 : idle_timeout_close(server) !close_wait_leak(client)
healthy sport=8081
$([ -n "$race" ] && echo "expect sport=8080 cport=$race : stale_reuse_reset(client) idle_timeout_close(server)")
healthy sport=8080${race:+ cport!=$race}
expect sport=8082 cport=$stale client.ss=CLOSED : stale_reuse_reset(client) idle_timeout_close(server)
expect sport=8082 client.ss=CLOSE-WAIT : !close_wait_leak(client) idle_timeout_close(server)
infinding client.ss=CLOSE-WAIT : close_wait_leak
@mid,late finding stale_reuse_reset
@mid,late says stale_reuse_reset : requests were sent again on a new connection
finding idle_timeout_close
EXP
}

# Node's fetch (undici) against a Node http server and nginx.
sc_node_fetch_undici() {
	host client; host server; wire client server
	nginx_conf "$work/nginx" 8082 2s
	run_nginx server "$work/nginx"
	# keepAliveTimeout 2000 (Node 20 closes 1 s later, 3 s after a
	# response): on 8080 as Node answers by default, on 8081 with
	# Connection: keep-alive set by the handler.
	on server node -e "
const http = require('http');
for (const [port, own] of [[8080, false], [8081, true]]) {
	const s = http.createServer((req, res) => {
		req.resume();
		if (own) res.setHeader('Connection', 'keep-alive');
		res.end('ok\\n');
	});
	s.keepAliveTimeout = 2000;
	s.listen(port, '$server_ip');
}
setTimeout(() => process.exit(0), 60000);
"
	listening server 8080
	listening server 8081
	listening server 8082
	capture client "$client_if" "$work/cap.pcap"
	begin node-fetch-undici
	client client node "$here/clients/fetchspaced.js" 7 10 1500,2500,3500 \
		hint="http://$server_ip:8080/" nohint="http://$server_ip:8081/" nginx="http://$server_ip:8082/ok"
	first_port 10 # the clock starts at the first response
	until_t 4.5
	cut early client server
	until_t 9
	cut mid client server
	until_t 19
	cut late client server
	finish "$work/cap.pcap"
	expect <<EXP
# Node's fetch (undici) against three servers, requests 1.5, 2.5 and 3.5 s
# after a response. Node's http server on 8080 answers with Keep-Alive:
# timeout=2, which undici trusts less its 2 s threshold: nothing left, so
# it closes each connection right after its response (TIME_WAIT on the
# client). On 8081 the handler sets Connection: keep-alive and Node sends
# no hint: undici keeps the socket 4 s, Node closes it after 3 s idle
# (keepAliveTimeout 2000 and its 1 s buffer), undici closes within a
# millisecond and connects anew. nginx (8082, keepalive_timeout 2s, no
# hint) the same after 2 s. Nothing is reused after a close: all healthy.
healthy all
expect sport=8080 client.ss=TIME-WAIT n>=1 : !idle_timeout_close(server)
expect sport=8081 server.ss=TIME-WAIT : idle_timeout_close(server)
expect sport=8082 server.ss=TIME-WAIT n>=1 : idle_timeout_close(server)
nofinding stale_reuse_reset
nofinding close_wait_leak
@mid,late finding idle_timeout_close
EXP
}

# nginx's upstream keepalive pool in front of Node.js's default keep-alive.
sc_nginx_node_upstream() {
	host client; host proxy; host server
	wire client proxy
	local front=$proxy_ip d=$work/nginx
	wire proxy server
	# Node's http server with its defaults: keepAliveTimeout 5000 ms, the
	# Keep-Alive: timeout=5 header; it reads a request's body, then answers.
	on server node -e "
const http = require('http');
const s = http.createServer((req, res) => {
	req.resume();
	req.on('end', () => res.end('ok\\n'));
});
s.listen(3000, '$server_ip');
setTimeout(() => process.exit(0), 150000);
"
	# Four pools of their own (one per upstream block), each behind a port:
	# GET on 8080 and 8081, POST on 8082 and 8083. nginx's upstream
	# keepalive_timeout stays at its default, 60 s: longer than Node's.
	mkdir -p "$d"
	cat >"$d/nginx.conf" <<CONF
worker_processes 1;
pid $d/nginx.pid;
error_log $d/error.log;
events { worker_connections 256; }
http {
	access_log off;
	client_body_temp_path $d/tmp;
	proxy_temp_path $d/tmp;
	fastcgi_temp_path $d/tmp;
	uwsgi_temp_path $d/tmp;
	scgi_temp_path $d/tmp;
	keepalive_timeout 60s;
$(for p in 8080 8081 8082 8083; do
		printf '\tupstream node%s {\n\t\tserver %s:3000;\n\t\tkeepalive 8;\n\t}\n' $p "$server_ip"
		printf '\tserver {\n\t\tlisten %s:%s;\n\t\tlocation / {\n' "$front" $p
		printf '\t\t\tproxy_pass http://node%s;\n\t\t\tproxy_http_version 1.1;\n\t\t\tproxy_set_header Connection "";\n\t\t}\n\t}\n' $p
	done)
}
CONF
	run_nginx proxy "$d"
	listening server 3000 20
	listening proxy 8080
	capture proxy any "$work/cap.pcap" -B 16384
	begin nginx-node-upstream
	# One request per client connection (closed by the client), the next
	# after PAUSE s: 1 s (nginx reuses its idle upstream connection), 8 s
	# (after Node's close), then 5.996-6.006 s, sweeping across the moment
	# Node's timer fires, 6.000-6.005 s after its last response (requests
	# reach it 1-3 ms after the pause). The four at once.
	client client $pylab sweep "$front" 8080 GET 1 8 $(LC_ALL=C seq 5.996 0.001 6.006)
	first_port 10 # the clock starts at the first response
	client client $pylab sweep "$front" 8081 GET 1 8 $(LC_ALL=C seq 5.9965 0.001 6.0065)
	client client $pylab sweep "$front" 8082 POST 1 8 $(LC_ALL=C seq 5.996 0.001 6.006)
	client client $pylab sweep "$front" 8083 POST 1 8 $(LC_ALL=C seq 5.9965 0.001 6.0065)
	until_t 12 # Node closed the idle connections at 7 s
	cut early client proxy server
	until_t 40
	cut mid client proxy server
	until_t 90 # the last request at 75 s, closed by Node at 81 s
	cut late client proxy server
	finish "$work/cap.pcap"
	# The upstream connections Node reset (after its FIN, or with the
	# request unread as its timer fired), at the mid cut and in all.
	local race race_mid bad
	upstream_races
	expect <<EXP
# Node (keepAliveTimeout 5000 ms by default, Keep-Alive: timeout=5) closes
# an idle connection 6 s after its last response (keepAliveTimeout plus
# its 1 s buffer); nginx, which watches its idle upstream connections,
# closes in turn at once: healthy (TIME_WAIT on Node). Requests swept
# across that moment race Node's timer: one sent just after its FIN gets
# RST, one that reaches it as its timer fires is reset unread, with no FIN
# (${race:-none in this recording}). nginx retries a GET on a new
# connection (its caller gets 200) but not a POST: 502 Bad Gateway to the
# caller (${bad:-none in this recording}). The client closes each of its
# connections to nginx after the response: healthy, 502 or not.
expect sport=3000 server.ss=TIME-WAIT n>=1 : idle_timeout_close(server) !close_wait_leak(client)
$([ -n "$race" ] && echo "@late expect cport=$race : stale_reuse_reset(client)")
$([ -n "$race_mid" ] && echo "@mid expect cport=$race_mid : stale_reuse_reset(client)")
healthy sport=8080
healthy sport=8081
healthy sport=8082
healthy sport=8083
healthy sport=3000 cport!=${race:-0}
finding idle_timeout_close
says idle_timeout_close : Node.js server.keepAliveTimeout + keepAliveTimeoutBuffer (6.0 s)
says idle_timeout_close : advertised Keep-Alive: timeout=5, but it closed after 6.0 s
$([ -n "$race" ] && echo "@late${race_mid:+,mid} says stale_reuse_reset : is a reverse proxy")
$([ -n "$race" ] && echo "@late${race_mid:+,mid} says stale_reuse_reset : 6.0 s idle")
$([ -n "$race" ] && echo "@late${race_mid:+,mid} says stale_reuse_reset : its upstream pool keeps idle connections longer than its backend does")
$([ -n "$bad" ] && echo "@late says stale_reuse_reset : 502 Bad Gateway on")
nofinding close_wait_leak
EXP
}

# Apache httpd's mod_proxy in front of nginx's shorter keep-alive.
sc_apache_proxy_upstream() {
	host client; host proxy; host server
	wire client proxy
	local front=$proxy_ip d=$work/apache
	wire proxy server
	# nginx (keepalive_timeout 2s) on four ports, each the backend of one
	# of Apache's virtual hosts: four connection pools.
	nginx_conf "$work/nginx" 8080 2s
	sed -i 's/listen 0.0.0.0:8080;/listen 0.0.0.0:8080; listen 8081; listen 8082; listen 8083;/' "$work/nginx/nginx.conf"
	run_nginx server "$work/nginx"
	# Apache (apache_conf: event MPM) with mod_proxy_http and Debian's
	# defaults: ProxyPass reuses its backend connections (no ttl: the pool
	# keeps them as long as Apache runs).
	apache_conf "$d"
	cat >>"$d/httpd.conf" <<CONF
LoadModule proxy_module /usr/lib/apache2/modules/mod_proxy.so
LoadModule proxy_http_module /usr/lib/apache2/modules/mod_proxy_http.so
CONF
	for p in 8080 8081 8082 8083; do
		printf 'Listen %s:%s\n<VirtualHost %s:%s>\n\tProxyPass / http://%s:%s/\n</VirtualHost>\n' \
			"$front" $p "$front" $p "$server_ip" $p >>"$d/httpd.conf"
	done
	on proxy apache2 -d "$d" -f "$d/httpd.conf" -DFOREGROUND -E "$work/log"
	listening server 8080
	listening proxy 8080 20
	capture proxy any "$work/cap.pcap" -B 16384
	begin apache-proxy-upstream
	# One request per client connection (closed by the client), the next
	# after PAUSE s: 1 s (Apache reuses its pooled connection), 3 s (after
	# nginx's close), then 1.998-2.008 s, sweeping across the moment
	# nginx's timer fires, 2.000-2.005 s after its last response. GET on
	# 8080 and 8081, POST on 8082 and 8083, at once.
	client client $pylab sweep "$front" 8080 GET 1 3 $(LC_ALL=C seq 1.998 0.0005 2.008)
	first_port 10 # the clock starts at the first response
	client client $pylab sweep "$front" 8081 GET 1 3 $(LC_ALL=C seq 1.99825 0.0005 2.00825)
	client client $pylab sweep "$front" 8082 POST 1 3 $(LC_ALL=C seq 1.9985 0.0005 2.0085)
	client client $pylab sweep "$front" 8083 POST 1 3 $(LC_ALL=C seq 1.99875 0.0005 2.00875)
	until_t 5 # nginx closed the idle connections at 3 s
	cut early client proxy server
	until_t 20
	cut mid client proxy server
	until_t 58 # the last request at 46 s, closed by nginx at 48 s
	cut late client proxy server
	finish "$work/cap.pcap"
	local race race_mid bad
	upstream_races
	expect <<EXP
# nginx (keepalive_timeout 2s) closes Apache's idle backend connections
# 2 s after its last response. Apache's mod_proxy does not watch its pool:
# a connection nginx closed stays in CLOSE_WAIT on Apache until the pool
# hands it out again, when Apache finds it closed (it checks before
# reuse), closes it and connects anew in the same millisecond; the last
# connection of each pool stays in CLOSE_WAIT (at the late cut for 8-10 s:
# bounded by the pool, closed at its next use, yet nothing closes it
# before). A request that reaches nginx as its timer fires is reset
# unread (${race:-none in this recording}): Apache retries no request
# there and answers its caller 502 Proxy Error (${bad:-none in this
# recording}). The client closes each connection to Apache after the
# response: healthy (TIME_WAIT on the client), 502 or not.
expect server.ss=TIME-WAIT n>=1 : idle_timeout_close(server) !close_wait_leak(client)
@late expect client.ss=CLOSE-WAIT n>=4 : idle_timeout_close(server) close_wait_leak(client)|open(client)
$([ -n "$race" ] && echo "@late expect cport=$race : stale_reuse_reset(client)")
$([ -n "$race_mid" ] && echo "@mid expect cport=$race_mid : stale_reuse_reset(client)")
healthy client.ss=TIME-WAIT
healthy server.ss=TIME-WAIT cport!=${race:-0}
finding idle_timeout_close
says idle_timeout_close : after 2.0 s without traffic
$([ -n "$race" ] && echo "@late${race_mid:+,mid} says stale_reuse_reset : is a reverse proxy")
$([ -n "$race" ] && echo "@late${race_mid:+,mid} says stale_reuse_reset : 2.0 s idle")
$([ -n "$race" ] && echo "@late${race_mid:+,mid} says stale_reuse_reset : its upstream pool keeps idle connections longer than its backend does")
$([ -n "$bad" ] && echo "@late says stale_reuse_reset : 502 Proxy Error on")
EXP
}

# uvicorn (its default --timeout-keep-alive 5) behind HAProxy reusing its
# backend connections.
sc_uvicorn_haproxy() {
	host client; host proxy; host server
	wire client proxy
	local front=$proxy_ip
	wire proxy server
	# A bare ASGI app: it reads a request's body, then answers ok.
	mkdir -p "$work/app"
	cat >"$work/app/app.py" <<'APP'
async def app(scope, receive, send):
    while (await receive()).get("more_body"):
        pass
    await send({"type": "http.response.start", "status": 200,
                "headers": [(b"content-type", b"text/plain"), (b"content-length", b"3")]})
    await send({"type": "http.response.body", "body": b"ok\n"})
APP
	# HAProxy with four backends (four pools of idle server connections),
	# each behind a port: GET on 8080 and 8081, POST on 8082 and 8083.
	# http-reuse always hands an idle backend connection to any request,
	# the first of a client connection too (safe, the default, keeps those
	# on a connection of their own); its idle ones are purged after 60 s
	# (pool-purge-delay, 5 s by default); one thread, one pool per backend.
	cat >"$work/haproxy.cfg" <<CONF
global
	pidfile $work/haproxy.pid
	nbthread 1
defaults
	mode http
	timeout connect 2s
	timeout client 60s
	timeout server 60s
	timeout http-keep-alive 60s
	http-reuse always
$(for p in 8080 8081 8082 8083; do
		printf 'frontend f%s\n\tbind %s:%s\n\tdefault_backend b%s\n' $p "$front" $p $p
		printf 'backend b%s\n\tserver uvicorn %s:8000 pool-purge-delay 60s\n' $p "$server_ip"
	done)
CONF
	on server $py -m uvicorn --app-dir "$work/app" --host "$server_ip" --port 8000 \
		--lifespan off --no-access-log --log-level warning app:app
	on proxy haproxy -db -f "$work/haproxy.cfg"
	listening server 8000 20
	listening proxy 8080
	capture proxy any "$work/cap.pcap" -B 16384
	begin uvicorn-haproxy
	# One request per client connection (closed by the client), the next
	# after PAUSE s: 1 s (HAProxy reuses its idle backend connection), 8 s
	# (after uvicorn's close), then 4.996-5.008 s, sweeping across the
	# moment uvicorn's timer fires, 5 s after its last response (requests
	# reach it 1-3 ms after the pause). The four at once.
	client client $pylab sweep "$front" 8080 GET 1 8 $(LC_ALL=C seq 4.996 0.001 5.008)
	first_port 10 # the clock starts at the first response
	client client $pylab sweep "$front" 8081 GET 1 8 $(LC_ALL=C seq 4.9965 0.001 5.0085)
	client client $pylab sweep "$front" 8082 POST 1 8 $(LC_ALL=C seq 4.996 0.001 5.008)
	client client $pylab sweep "$front" 8083 POST 1 8 $(LC_ALL=C seq 4.9965 0.001 5.0085)
	# On the proxy host, without HAProxy: an http.client connection to
	# uvicorn never closed after its response.
	client proxy $pylab httpleak "$server_ip" 8000 1 0 90
	until_t 11 # uvicorn closed the idle connections at 6 s
	cut early client proxy server
	until_t 40
	cut mid client proxy server
	until_t 88 # the last request at about 75 s, closed by uvicorn at 80 s
	cut late client proxy server
	finish "$work/cap.pcap"
	local race race_mid bad silent
	upstream_races
	# The callers HAProxy closed without a response (FIN, no data).
	silent=$(tshark -r "$out/$name@late.pcap" -Y "ip.src == $front && tcp.srcport >= 8080 && tcp.srcport <= 8083" \
		-T fields -e tcp.dstport -e tcp.len -e tcp.flags.fin 2>/dev/null |
		awk '$2 > 0 { data[$1] = 1 } $3 == 1 { fin[$1] = 1 } END { for (p in fin) if (!data[p]) { printf "%s%s", c, p; c = "," } }')
	echo "lab: $name: closed without a response: ${silent:-none}" >&2
	expect <<EXP
# uvicorn (h11; --timeout-keep-alive 5 by default) closes a keep-alive
# connection with FIN 5.0 s after its last response (an asyncio timer,
# 1-2 ms late), advertising no Keep-Alive timeout. HAProxy (http-reuse
# always) watches its idle backend connections and closes in turn at
# once: healthy (TIME_WAIT on uvicorn). A request HAProxy forwards just
# after uvicorn's FIN, before it read it, is reset; one that reaches
# uvicorn as its timer fires is reset unread, with no FIN (${race:-none in
# this recording}). HAProxy retries neither, GET or POST: it answers its
# caller 502 Bad Gateway (${bad:-none in this recording}); once in the
# lab, a POST whose body it had not yet forwarded when the RST came, it
# closed its caller's connection with a bare FIN instead, no response
# (http.client: RemoteDisconnected) (${silent:-none in this recording}).
# A misreading of flowdoc's, not held here: it calls a caller closed
# without a response accept_then_close (a connection cap or an access
# check), though HAProxy read its request and forwarded it and the close
# echoes the upstream reset (those callers are left out of the healthy).
# The http.client connection straight to uvicorn from the proxy host is
# never closed after uvicorn's FIN: CLOSE_WAIT.
expect sport=8000 server.ss=TIME-WAIT n>=1 : idle_timeout_close(server) !close_wait_leak(client)
expect cport=$(ports leak) client.ss=CLOSE-WAIT : close_wait_leak(client) idle_timeout_close(server)
infinding client.ss=CLOSE-WAIT : close_wait_leak
$([ -n "$race" ] && echo "@late expect cport=$race : stale_reuse_reset(client)")
$([ -n "$race_mid" ] && echo "@mid expect cport=$race_mid : stale_reuse_reset(client)")
healthy sport=8080 cport!=${silent:-0}
healthy sport=8081 cport!=${silent:-0}
healthy sport=8082 cport!=${silent:-0}
healthy sport=8083 cport!=${silent:-0}
healthy sport=8000 cport!=${race:-0},$(ports leak)
finding idle_timeout_close
finding close_wait_leak
says idle_timeout_close : after 5.0 s without traffic
says idle_timeout_close : the default of uvicorn --timeout-keep-alive (5.0 s)
says idle_timeout_close : advertised no Keep-Alive timeout
says close_wait_leak : sent FIN after 5.0 s of idle time
$([ -n "$race" ] && echo "@late${race_mid:+,mid} says stale_reuse_reset : is a reverse proxy")
$([ -n "$race" ] && echo "@late${race_mid:+,mid} says stale_reuse_reset : 5.0 s idle")
$([ -n "$race" ] && echo "@late${race_mid:+,mid} says stale_reuse_reset : its upstream pool keeps idle connections longer than its backend does")
$([ -n "$silent" ] && echo "@late says stale_reuse_reset : Its callers got no response on")
$([ -n "$bad" ] && echo "@late says stale_reuse_reset : 502 Bad Gateway on")
EXP
}

# Servers at their connection caps: Redis (maxclients), MariaDB and
# PostgreSQL (max_connections), vsftpd (max_clients) and mosquitto
# (max_connections), each filled by connections held open by the client
# host, refuse every further connection of its reconnect loops.
sc_server_cap_refusal() {
	host client; host server; wire client server
	# Redis: maxclients 4, none reserved.
	on server redis-server --bind "$server_ip" --port 6379 --protected-mode no --save "" --appendonly no \
		--maxclients 4 --dir "$work" --daemonize no
	# MariaDB: max_connections 10 (its least: 2 would be raised to it), and
	# one more for a SUPER user (every user is one with skip-grant-tables):
	# 11 held connections fill it.
	mkdir -p "$work/db"
	mariadb-install-db --no-defaults --datadir="$work/db" --user=root --skip-test-db >>"$work/log" 2>&1
	on server mariadbd --no-defaults --datadir="$work/db" --user=root --bind-address="$server_ip" --port=3306 \
		--socket="$work/db.sock" --pid-file="$work/db.pid" --skip-grant-tables --skip-name-resolve \
		--skip-log-bin --performance-schema=off --innodb-buffer-pool-size=16M --max-connections=10
	# PostgreSQL: max_connections 3, none reserved for superusers (the
	# clients are postgres), no TLS.
	local pg=$work/pg bin
	bin=$(pg_bindir)
	mkdir -p "$pg"
	chown postgres: "$pg"
	as_postgres "$bin/initdb" -D "$pg/data" -U postgres -A trust -E UTF8 --no-sync >>"$work/log" 2>&1
	echo "host all all 0.0.0.0/0 trust" >>"$pg/data/pg_hba.conf"
	on server setpriv --reuid=postgres --regid=postgres --init-groups "$bin/postgres" -D "$pg/data" \
		-c listen_addresses="$server_ip" -c port=5432 -c unix_socket_directories="$pg" \
		-c max_connections=3 -c superuser_reserved_connections=0 -c ssl=off \
		-c fsync=off -c shared_buffers=16MB -c logging_collector=off -c log_min_messages=warning
	# vsftpd: max_clients 3 (standalone, anonymous, as in ftp-idle).
	local d=$work/ftp
	mkdir -p "$d/root" "$d/empty"
	chmod 755 "$d" "$d/root" "$d/empty"
	cat >"$d/vsftpd.conf" <<CONF
listen=YES
listen_ipv6=NO
listen_address=$server_ip
listen_port=21
background=NO
anonymous_enable=YES
no_anon_password=YES
anon_root=$d/root
local_enable=NO
write_enable=NO
max_clients=3
secure_chroot_dir=$d/empty
isolate=NO
isolate_network=NO
seccomp_sandbox=NO
xferlog_enable=NO
connect_from_port_20=NO
CONF
	on server vsftpd "$d/vsftpd.conf"
	# mosquitto: max_connections 3 on its listener.
	mkdir -p "$work/mosquitto"
	cat >"$work/mosquitto/mosquitto.conf" <<CONF
listener 1883 $server_ip
max_connections 3
allow_anonymous true
persistence false
log_dest stdout
log_type error
log_type warning
log_type notice
CONF
	on server mosquitto -c "$work/mosquitto/mosquitto.conf"
	listening server 6379
	listening server 3306 30
	listening server 5432 30
	listening server 21
	listening server 1883
	capture client "$client_if" "$work/cap.pcap"
	begin server-cap-refusal
	# The holders fill every cap and stay open 25 s.
	client client $pylab capheld redis "$server_ip" 6379 4 25
	client client $pylab capheld pg "$server_ip" 5432 3 25
	client client $pylab capheld ftp "$server_ip" 21 3 25
	client client $pylab capheld mqtt "$server_ip" 1883 3 25
	local i
	for i in $(seq 11); do
		(echo "SELECT $i;"; sleep 25) | ip netns exec "$tag-client" timeout 30 mariadb -h "$server_ip" -P 3306 -u root >>"$work/log" 2>&1 &
		pids+=($!)
		newport client 3306 mariadbhold
	done
	for _ in $(seq 100); do
		[ "$(wc -l <"$work/ports")" -ge 24 ] && break
		sleep 0.1
	done
	[ "$(wc -l <"$work/ports")" -ge 24 ] || die "the holders did not all connect: $(tail -5 "$work/log")"
	t0=$(date +%s.%N) # the clock starts with every cap full
	until_t 0.5
	# The reconnect loops: 20 attempts each, 150 ms apart, each a new
	# client as a restarting process makes it.
	client client $pylab caprefused redis "$server_ip" 6379 20 0.15
	client client $pylab caprefused pg "$server_ip" 5432 20 0.15 disable
	client client $pylab caprefused pg "$server_ip" 5432 20 0.15 # sslmode prefer: SSLRequest, 'N'
	client client $pylab caprefused ftp "$server_ip" 21 20 0.15
	client client $pylab caprefused mqtt "$server_ip" 1883 20 0.15
	ip netns exec "$tag-client" bash -c "for i in \$(seq 20); do timeout 5 mariadb -h $server_ip -P 3306 -u root -e 'SELECT 1' 2>&1; sleep 0.15; done |
		sort | uniq -c | sed 's/^ */mariadb $server_ip:3306 refused loop: /'" >>"$work/log" 2>&1 &
	pids+=($!)
	until_t 1.8 # some 7 attempts each
	cut early client server
	until_t 3.3 # the loops near their end
	cut mid client server
	until_t 12 # the loops over, the holders open
	cut late client server
	finish "$work/cap.pcap"
	local late=$out/$name@late.pcap rh mh ph fh qh sslreq cr cm cp cf cross pt c
	rh=$(ports redishold) mh=$(ports mariadbhold) ph=$(ports pghold) fh=$(ports ftphold) qh=$(ports mqtthold)
	# The psycopg2 loop with sslmode prefer: its connections begin with an
	# SSLRequest (as do the holders').
	sslreq=$(tshark -r "$late" -Y 'tcp.dstport == 5432 && tcp.payload == 00:00:00:08:04:d2:16:2f' \
		-T fields -e tcp.srcport 2>/dev/null | sort -un | grep -vxF -f <(echo "$ph" | tr , '\n') | paste -sd,)
	# The refused connections that the client closed first, having read
	# the refusal before the server closed; the MQTT clients whose CONNECT
	# came after mosquitto's FIN.
	cr=$(client_first "$late" 6379) cm=$(client_first "$late" 3306) cp=$(client_first "$late" 5432) cf=$(client_first "$late" 21)
	cross=$(fin_then_data "$late" 1883)
	# The cuts at which a port had refused 5 connections or more: a storm
	# of those, for flowdoc.
	local -A storm
	local held
	for pt in 6379 3306 5432 21 1883; do
		storm[$pt]=
		case $pt in 6379) held=$rh ;; 3306) held=$mh ;; 5432) held=$ph ;; 21) held=$fh ;; 1883) held=$qh ;; esac
		for c in early mid late; do
			if [ "$(refused "$out/$name@$c.pcap" $pt "$held" | grep -c .)" -ge 5 ]; then
				storm[$pt]=${storm[$pt]:+${storm[$pt]},}$c
			fi
		done
	done
	echo "lab: $name: closed first by the client: redis ${cr:-none}; mariadb ${cm:-none}; pg ${cp:-none}; ftp ${cf:-none}; CONNECT after mosquitto's FIN: ${cross:-none}; storms at: redis ${storm[6379]:-none}, mariadb ${storm[3306]:-none}, pg ${storm[5432]:-none}, ftp ${storm[21]:-none}, mqtt ${storm[1883]:-none}" >&2
	expect <<EXP
# Five servers at their connection caps, each cap filled by connections
# that the client host holds open (healthy), refuse every further
# connection of the host's reconnect loops (20 attempts each, 150 ms
# apart; the psycopg2 loop twice) and close it: accept then close, a
# reconnect storm per server, whose words name the refusal.
# - Redis 7 (maxclients 4) writes "-ERR max number of clients reached"
#   (36 bytes) within 0.1 ms of the handshake, and closes (FIN, or RST
#   when redis-py's PING, which crosses the error, came in first).
# - MariaDB 10.11 (max_connections 10, plus one for SUPER) sends an error
#   packet where its handshake belongs: 27 bytes, 1040 "Too many
#   connections" (no SQL state), then FIN.
# - PostgreSQL 15 (max_connections 3, superuser_reserved_connections 0)
#   answers the startup message with an 86-byte ErrorResponse, FATAL 53300
#   "sorry, too many clients already", then FIN; the psycopg2 loop with
#   sslmode prefer ($sslreq) asks for TLS first and gets 'N'.
# - vsftpd 3.0 (max_clients 3) greets with "421 There are too many
#   connected users, please try later." (59 bytes), then FIN.
# - mosquitto 2.0 (max_connections 3) sends nothing: no CONNACK, it
#   closes the socket as it accepts it ("denied: max_connections
#   exceeded" in its log): FIN, or RST when paho's CONNECT came in first.
# Each of these clients reads the refusal and closes at once, racing the
# server's own close. The client's FIN came first on these: Redis
# ${cr:-none}; MariaDB ${cm:-none}; vsftpd ${cf:-none};
# PostgreSQL (most of its refusals: libpq closes as it reads the FATAL,
# the backend only as its process exits) ${cp:-none}.
# Those are refused all the same, and belong to the storm. The MQTT
# connections whose CONNECT came after mosquitto's FIN (${cross:-none})
# are no reuse: the CONNECT was their first message, on connections a
# millisecond old.
expect sport=6379 cport!=$rh n>=5 : accept_then_close(server) !stale_reuse_reset(client) !close_wait_leak(client) !open(client)
expect sport=3306 cport!=$mh n>=5 : accept_then_close(server) !stale_reuse_reset(client) !close_wait_leak(client) !open(client)
expect sport=5432 cport!=$ph n>=10 : accept_then_close(server) !stale_reuse_reset(client) !close_wait_leak(client) !open(client)
expect sport=21 cport!=$fh n>=5 : accept_then_close(server) !stale_reuse_reset(client) !close_wait_leak(client) !open(client)
expect sport=1883 cport!=$qh n>=5 : accept_then_close(server) !stale_reuse_reset(client) !close_wait_leak(client) !open(client)
@late expect sport=6379 cport!=$rh n>=20 : accept_then_close(server)
@late expect sport=3306 cport!=$mh n>=20 : accept_then_close(server)
@late expect sport=5432 cport!=$ph n>=40 : accept_then_close(server)
@late expect sport=5432 cport=$sslreq n>=20 : accept_then_close(server)
@late expect sport=21 cport!=$fh n>=20 : accept_then_close(server)
@late expect sport=1883 cport!=$qh n>=20 : accept_then_close(server)
healthy sport=6379 cport=$rh
healthy sport=3306 cport=$mh
healthy sport=5432 cport=$ph
healthy sport=21 cport=$fh
healthy sport=1883 cport=$qh
expect sport=6379 cport=$rh n>=4 : open(client)
expect sport=3306 cport=$mh n>=11 : open(client)
expect sport=5432 cport=$ph n>=3 : open(client)
expect sport=21 cport=$fh n>=3 : open(client)
expect sport=1883 cport=$qh n>=3 : open(client)
finding reconnect_storm
$(for pt in 6379 3306 5432 21 1883; do
	[ -n "${storm[$pt]}" ] || continue
	case $pt in
	6379) h=$rh w="Redis's \"max number of clients reached\"" ;;
	3306) h=$mh w="a MySQL error packet instead of its handshake" ;;
	5432) h=$ph w="a PostgreSQL FATAL error to the startup message" ;;
	21) h=$fh w="a 421 or 554 line" ;;
	1883) h=$qh w= ;;
	esac
	echo "@${storm[$pt]} infinding sport=$pt cport!=$h : reconnect_storm"
	echo "@${storm[$pt]} says reconnect_storm : to $server_ip:$pt in"
	if [ -n "$w" ]; then
		echo "@${storm[$pt]} says reconnect_storm : after refusing the client with $w"
	else
		echo "@${storm[$pt]} says reconnect_storm : closed every one at once, before sending any data:"
	fi
done)
@late says reconnect_storm : opened 20 connections to $server_ip:1883
EXP
}

# client_first FILE SPORT: the client ports of the connections to SPORT in
# FILE whose client sent its FIN before the server sent a FIN or RST,
# comma separated.
client_first() {
	tshark -r "$1" -Y "tcp.port == $2" -T fields -e tcp.srcport -e tcp.dstport -e tcp.flags.fin -e tcp.flags.reset 2>/dev/null |
		awk -v sp="$2" '$1 == sp && ($3 == 1 || $4 == 1) { srv[$2] = 1 } $2 == sp && $3 == 1 && !srv[$1] && !seen[$1]++ { printf "%s%s", c, $1; c = "," }'
}
# refused FILE SPORT HELD: the client ports of the connections to SPORT
# in FILE that the server closed (FIN or RST), but for those in HELD (the
# cap's holders, comma separated), one a line.
refused() {
	tshark -r "$1" -Y "tcp.srcport == $2 && (tcp.flags.fin == 1 || tcp.flags.reset == 1)" -T fields -e tcp.dstport 2>/dev/null |
		sort -u | grep -vxF -f <(echo "$3" | tr , '\n')
}

# nginx_cap_conf DIR PORT: an nginx of its own in DIR with one worker of 8
# worker_connections (its listening socket and its channel to the master
# take two of them: 6 are left for clients and upstreams), keep-alive
# 60 s; /ok answers 200, /poll waits on a silent upstream (127.0.0.1:9000)
# up to 60 s.
nginx_cap_conf() {
	local d=$1 port=$2
	mkdir -p "$d/html"
	echo ok >"$d/html/ok"
	cat >"$d/nginx.conf" <<CONF
worker_processes 1;
pid $d/nginx.pid;
error_log $d/error.log info;
events { worker_connections 8; }
http {
	access_log off;
	client_body_temp_path $d/tmp;
	proxy_temp_path $d/tmp;
	fastcgi_temp_path $d/tmp;
	uwsgi_temp_path $d/tmp;
	scgi_temp_path $d/tmp;
	keepalive_timeout 60s;
	server {
		listen $server_ip:$port;
		root $d/html;
		location /poll { proxy_pass http://127.0.0.1:9000; proxy_read_timeout 60s; }
	}
}
CONF
}

# Servers at their connection limits that refuse otherwise than those of
# server-cap-refusal: memcached's -c, and nginx's worker_connections when
# every connection is busy and when they are idle keep-alive ones.
sc_more_caps() {
	host client; host server; wire client server
	# memcached 1.6 (4 worker threads) sets its descriptor limit to -c and
	# counts its own descriptors against it (the listening socket, the
	# threads' event descriptors, a reserve): -c 23 or less does not start
	# (EMFILE), -c 24 cannot accept (accept4: EMFILE; connections wait in
	# the accept queue), -c 25 refuses every client, -c 29 takes 4. Over
	# it, maxconns_fast (on by default) writes "ERROR Too many open
	# connections" and closes.
	on server memcached -u nobody -l "$server_ip" -p 11211 -U 0 -c 29
	# nginx, one worker, 8 worker_connections, 6 of them for clients and
	# upstreams: on 8080 three long polls hold them all (each a client and
	# an upstream connection); on 8081 six idle keep-alive connections.
	on server $pylab silent 127.0.0.1 9000 60
	nginx_cap_conf "$work/nginx-busy" 8080
	nginx_cap_conf "$work/nginx-idle" 8081
	run_nginx server "$work/nginx-busy"
	run_nginx server "$work/nginx-idle"
	listening server 11211
	listening server 9000
	listening server 8080
	listening server 8081
	capture client "$client_if" "$work/cap.pcap"
	begin more-caps
	# The holders fill every limit and stay open 25 s.
	client client $pylab capheld memcached "$server_ip" 11211 4 25
	client client $pylab capheld poll "$server_ip" 8080 3 25
	client client $pylab capheld http "$server_ip" 8081 6 25
	for _ in $(seq 100); do
		[ "$(grep -c hold "$work/ports")" -ge 13 ] && break
		sleep 0.1
	done
	[ "$(grep -c hold "$work/ports")" -ge 13 ] || die "the holders did not all connect: $(tail -5 "$work/log")"
	t0=$(date +%s.%N) # the clock starts with every limit full
	until_t 0.5
	# The reconnect loops: 20 attempts each, 150 ms apart, each a new
	# client as a restarting process makes it.
	client client $pylab caprefused memcached "$server_ip" 11211 20 0.15
	client client $pylab caprefused http "$server_ip" 8080 20 0.15
	client client $pylab caprefused http "$server_ip" 8081 20 0.15
	until_t 1.8 # some 9 attempts each
	cut early client server
	until_t 3.3 # the loops near their end
	cut mid client server
	until_t 12 # the loops over, the holders open
	cut late client server
	finish "$work/cap.pcap"
	local late=$out/$name@late.pcap mh bh ih ev mfin mrst bfin brst pt c h
	mh=$(ports memcachedhold) bh=$(ports pollhold) ih=$(ports httphold) ev=$(ports httpevicted)
	# How each server closed the connections it refused: with a FIN (the
	# client's request came after it, and was answered with RST), or with
	# RST alone (the request had come in before the close).
	mfin=$(server_fin "$late" 11211 "$mh")
	mrst=$(refused "$late" 11211 "$mh" | grep -vxF -f <(echo "$mfin" | tr , '\n') | paste -sd,) || true
	bfin=$(server_fin "$late" 8080 "$bh")
	brst=$(refused "$late" 8080 "$bh" | grep -vxF -f <(echo "$bfin" | tr , '\n') | paste -sd,) || true
	local nref nrst ntw
	nref=$( (refused "$late" 11211 "$mh"; refused "$late" 8080 "$bh") | grep -c .) || true
	nrst=$(tshark -r "$late" -Y "(tcp.srcport == 11211 || tcp.srcport == 8080) && tcp.flags.reset == 1" -T fields -e tcp.dstport 2>/dev/null |
		sort -u | grep -vxF -f <(echo "$mh,$bh" | tr , '\n') | grep -c .) || true
	ntw=$(grep TIME-WAIT "$out/$name@late.truth" | grep -E ":(11211|8080)( |\$)" | grep -vE ":($(echo "$mh,$bh" | tr , '|'))( |\$)" | grep -c .) || true
	local -A storm
	for pt in 11211 8080; do
		storm[$pt]=
		case $pt in 11211) h=$mh ;; 8080) h=$bh ;; esac
		for c in early mid late; do
			if [ "$(refused "$out/$name@$c.pcap" $pt "$h" | grep -c .)" -ge 5 ]; then
				storm[$pt]=${storm[$pt]:+${storm[$pt]},}$c
			fi
		done
	done
	echo "lab: $name: memcached closed with FIN ${mfin:-none}, with RST alone ${mrst:-none}; nginx 8080 with FIN ${bfin:-none}, with RST alone ${brst:-none}; nginx 8081 closed the idle ${ev:-none}; storms at: memcached ${storm[11211]:-none}, nginx ${storm[8080]:-none}" >&2
	echo "lab: $name: nginx 8080's log: $(grep -c 'worker_connections are not enough$' "$work/nginx-busy/error.log") x \"8 worker_connections are not enough\"; nginx 8081's: $(grep -c 'reusing connections' "$work/nginx-idle/error.log") x \"8 worker_connections are not enough, reusing connections\" (once a second at most)" >&2
	expect <<EXP
# Servers at their connection limits, each filled by connections that
# the client host holds open (healthy), against reconnect loops of 20
# attempts, 150 ms apart, each a new client.
# - memcached 1.6.18 (-c 29: 4 clients; its own descriptors count against
#   -c) writes "ERROR Too many open connections" (33 bytes) as it accepts,
#   and closes: with FIN where the client's "version" had not come in
#   yet, which is then answered with RST (${mfin:-none}), or, where it
#   had, with RST alone right after the error (${mrst:-none}). Accept then
#   close, a reconnect storm named by the refusal.
# - nginx 1.22 on 8080 (one worker, 8 worker_connections: 6 for clients
#   and upstreams, all held by three long polls to a silent upstream)
#   accepts each further connection and closes it at once, no response,
#   "8 worker_connections are not enough" (alert) in its log: FIN at
#   once, then RST to the request that comes after it (${bfin:-none}), or
#   RST alone when the request was already in (${brst:-none}). Accept then
#   close, a reconnect storm.
# Of the $nref refused connections, $nrst end with the server's RST; ss
# shows $ntw of them in TIME_WAIT: the storm findings say the server reset them.
# - nginx on 8081 (the same limit, held by six idle keep-alive
#   connections) refuses nothing: to take the loop's first connection it
#   closes the oldest idle one at once (FIN; "8 worker_connections are
#   not enough, reusing connections", warn): ${ev:-none}, which its holder
#   closes in turn; then the client's close of each served connection
#   frees the slot for the next. Every request is served (200): no
#   refusal, no storm; the loop's connections, closed by the client,
#   leave TIME_WAIT on it (Info).
expect sport=11211 cport!=$mh n>=5 : accept_then_close(server) !stale_reuse_reset(client) !close_wait_leak(client) !open(client)
expect sport=8080 cport!=$bh n>=5 : accept_then_close(server) !stale_reuse_reset(client) !close_wait_leak(client) !open(client)
@late expect sport=11211 cport!=$mh n>=20 : accept_then_close(server)
@late expect sport=8080 cport!=$bh n>=20 : accept_then_close(server)
healthy sport=11211 cport=$mh
healthy sport=8080 cport=$bh
healthy sport=8081
expect sport=11211 cport=$mh n>=4 : open(client)
expect sport=8080 cport=$bh n>=3 : open(client)
expect sport=8081 cport=$ih cport!=$ev n>=5 : open(client)
expect sport=8081 cport=$ev n>=1 : clean(server)
expect sport=8081 cport!=$ih n>=5 : !accept_then_close(server)
finding reconnect_storm
noproblem time_wait_pressure
$(for pt in 11211 8080; do
	[ -n "${storm[$pt]}" ] || continue
	case $pt in 11211) h=$mh ;; 8080) h=$bh ;; esac
	echo "@${storm[$pt]} infinding sport=$pt cport!=$h : reconnect_storm"
	echo "@${storm[$pt]} says reconnect_storm : to $server_ip:$pt in"
done)
@${storm[11211]:-late} says reconnect_storm : after refusing the client with memcached's "Too many open connections"
@${storm[8080]:-late} says reconnect_storm : closed every one at once, before sending any data:
@${storm[8080]:-late} says reconnect_storm : The server reset them (RST), leaving no TIME_WAIT socket on either side.
@late says reconnect_storm : opened 20 connections to $server_ip:11211
@late says reconnect_storm : opened 20 connections to $server_ip:8080
EXP
}

# server_fin FILE SPORT HELD: the client ports of the connections to SPORT
# in FILE that the server closed with a FIN, but for those in HELD, comma
# separated.
server_fin() {
	tshark -r "$1" -Y "tcp.srcport == $2 && tcp.flags.fin == 1" -T fields -e tcp.dstport 2>/dev/null |
		sort -u | grep -vxF -f <(echo "$3" | tr , '\n') | paste -sd, || true
}

# Request read timeouts: servers that stop waiting on a client's request.
# nginx (client_header_timeout and client_body_timeout 2s), gunicorn's
# sync worker killed by its arbiter (--timeout 2) in a slow handler, and a
# Go net/http server with ReadHeaderTimeout 2s; clients that stop in the
# middle of their requests, and healthy curl requests beside them.
sc_request_timeouts() {
	host client; host server; wire client server
	local d=$work/nginx
	mkdir -p "$d/html" "$work/app"
	echo ok >"$d/html/ok"
	cat >"$d/nginx.conf" <<CONF
worker_processes 1;
pid $d/nginx.pid;
error_log $d/error.log info;
events { worker_connections 256; }
http {
	access_log $d/access.log;
	client_body_temp_path $d/tmp;
	proxy_temp_path $d/tmp;
	fastcgi_temp_path $d/tmp;
	uwsgi_temp_path $d/tmp;
	scgi_temp_path $d/tmp;
	keepalive_timeout 30s;
	client_header_timeout 2s;
	client_body_timeout 2s;
	server {
		listen $server_ip:8080;
		root $d/html;
		# The body is read whole (proxy_request_buffering) before nginx
		# connects to its upstream: a return here would answer at once
		# and discard the body (tried: 200 at once, FIN 5 s later).
		location /upload {
			client_max_body_size 1m;
			proxy_pass http://127.0.0.1:8081;
		}
	}
	server {
		listen 127.0.0.1:8081;
		location / { return 200 "stored\n"; }
	}
}
CONF
	cat >"$work/app/app.py" <<'APP'
import time

def app(environ, start_response):
    if environ["PATH_INFO"] == "/slow":
        time.sleep(5)
    body = b"ok\n"
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", str(len(body)))])
    return [body]
APP
	# stall.py ROLE:PORT:KIND...: one connection each, to the server's
	# PORT: "hdr" sends a request line and one header, "body" a POST's
	# headers (Content-Length 10000) and 100 bytes of its body, "slow" a
	# whole GET /slow; then it reads until the server closes and closes
	# (up to 20 s), saying on stderr what it got.
	cat >"$work/stall.py" <<'PY'
import os, select, socket, sys, time

ip = sys.argv[1]
reqs = {
    "hdr": b"GET /ok HTTP/1.1\r\nHost: lab\r\n",
    "body": b"POST /upload HTTP/1.1\r\nHost: lab\r\nContent-Type: application/octet-stream\r\nContent-Length: 10000\r\n\r\n" + b"x" * 100,
    "slow": b"GET /slow HTTP/1.1\r\nHost: lab\r\n\r\n",
}
conns = {}
t0 = time.time()
for a in sys.argv[2:]:
    role, port, kind = a.split(":")
    s = socket.create_connection((ip, int(port)), timeout=5)
    s.sendall(reqs[kind])
    os.write(1, ("%s %d\n" % (role, s.getsockname()[1])).encode())
    conns[s] = [role, b"", time.time()]
while conns and time.time() - t0 < 20:
    ready, _, _ = select.select(list(conns), [], [], 0.5)
    for s in ready:
        role, got, at = conns[s]
        try:
            b = s.recv(4096)
        except OSError as e:
            b, got = b"", got + repr(e).encode()
        if b:
            conns[s][1] += b
            continue
        print("stall: %s %d: closed by the server after %.2f s, having sent %r" % (role, s.getsockname()[1], time.time() - at, got[:60]), file=sys.stderr, flush=True)
        s.close()
        del conns[s]
for s, (role, got, at) in conns.items():
    print("stall: %s %d: still open, closed by the client" % (role, s.getsockname()[1]), file=sys.stderr, flush=True)
    s.close()
PY
	(cd "$root" && go build -o "$work/goreadhdr" "$here/clients/goreadhdr.go")
	run_nginx server "$d"
	on server $py -m gunicorn --chdir "$work/app" -k sync -w 1 --timeout 2 -b "$server_ip:8000" app:app
	on server "$work/goreadhdr" "$server_ip:8090" 2s 40s
	listening server 8080
	listening server 8000 20
	listening server 8090
	capture client "$client_if" "$work/cap.pcap"
	begin request-timeouts
	# Healthy: curl, one connection each (two requests on the first).
	local curl="ip netns exec $tag-client curl -s -o /dev/null --max-time 3"
	$curl "http://$server_ip:8080/ok" -o /dev/null "http://$server_ip:8080/ok" >>"$work/log" 2>&1
	$curl -X POST --data-binary "@$d/html/ok" "http://$server_ip:8080/upload" >>"$work/log" 2>&1
	$curl "http://$server_ip:8000/ok" >>"$work/log" 2>&1
	$curl "http://$server_ip:8090/ok" >>"$work/log" 2>&1
	# The clients that stall, and one GET /slow for gunicorn's only worker.
	client client $py "$work/stall.py" "$server_ip" hdr:8080:hdr hdr:8080:hdr body:8080:body gohdr:8090:hdr slow:8000:slow
	first_port 10 # the clock starts at their first connection
	until_t 1.3
	cut early client server
	until_t 3.8 # nginx and Go closed at 2 s, gunicorn's arbiter at 2-3 s
	cut mid client server
	# gunicorn's new worker answers; a second GET /slow, killed at 7-8 s.
	$curl "http://$server_ip:8000/ok" >>"$work/log" 2>&1
	until_t 5
	client client $py "$work/stall.py" "$server_ip" slow2:8000:slow
	until_t 11
	cut late client server
	finish "$work/cap.pcap"
	# What nginx logged: the header timeouts in its error log (info), all
	# three as 408 in its access log, though it sent nothing.
	grep -h 'timed out' "$d/error.log" | sed 's/^/  nginx: /' || true
	grep -h '" 408 ' "$d/access.log" | sed 's/^/  nginx: /' || true
	# What each server sent on the connections it closed: FIN, and no data.
	tshark -r "$out/$name@late.pcap" -Y "ip.src == $server_ip && (tcp.len > 0 || tcp.flags.fin == 1 || tcp.flags.reset == 1)" \
		-T fields -e frame.number -e tcp.srcport -e tcp.dstport -e tcp.flags.str -e tcp.len 2>/dev/null |
		awk -v p=",$(ports hdr),$(ports body),$(ports gohdr),$(ports slow),$(ports slow2)," 'index(p, "," $3 ",") { print "  server: #" $1, $2 ">" $3, $4, $5 " bytes" }'
	local stalled=$(ports hdr),$(ports body),$(ports gohdr),$(ports slow)
	expect <<EXP
# Servers that stop waiting on a request, each with a 2 s timeout, and
# healthy curl requests beside them (their connections, one each, closed
# by curl first). Clients (python sockets) that stop mid-request, reading
# until the server closes, then closing at once.
# nginx (client_header_timeout 2s, client_body_timeout 2s, keepalive 30 s):
# two connections whose request line and one header came, and no end of
# the headers ("hdr"); a POST whose headers came whole (Content-Length
# 10000) with 100 bytes of its body ("body": /upload is proxied, nginx
# reads the body before its upstream sees the request). nginx closes each
# 2.0 s after the client's last data with a bare FIN: no 408 or any byte
# sent, though it logs 408 in its access log (and "client timed out ...
# while reading client request headers" for the two).
# gunicorn (sync worker, 1 worker, --timeout 2), whose /slow sleeps 5 s
# ("slow" at 0 s, "slow2" at 5 s): the arbiter, which looks once a
# second, aborts the worker 2-3 s after the request (WORKER TIMEOUT,
# SIGABRT): the socket closes with a bare FIN, no 500, no RST; a new
# worker serves the next request.
# Go net/http (ReadHeaderTimeout 2s): a request line and one header
# ("gohdr"): a bare FIN 2.0 s later.
# Each close is the server's, on a request it stopped waiting for or gave
# up answering: idle_timeout_close(server), not a client that gave up; the
# clients close at once (no CLOSE_WAIT), and the servers hold TIME_WAIT.
# At the early cut the clients are stalled and nothing has closed.
@early healthy all
@early nofinding idle_timeout_close
@mid,late expect cport=$(ports hdr) server.ss=TIME-WAIT n>=2 : idle_timeout_close(server) !idle_timeout_close(client) !close_wait_leak(client)
@mid,late expect cport=$(ports body) server.ss=TIME-WAIT n>=1 : idle_timeout_close(server) !idle_timeout_close(client) !close_wait_leak(client)
@mid,late expect cport=$(ports gohdr) server.ss=TIME-WAIT n>=1 : idle_timeout_close(server) !idle_timeout_close(client) !close_wait_leak(client)
@mid,late expect cport=$(ports slow) server.ss=TIME-WAIT n>=1 : idle_timeout_close(server) !idle_timeout_close(client) !close_wait_leak(client)
@late expect cport=$(ports slow2) server.ss=TIME-WAIT n>=1 : idle_timeout_close(server) !idle_timeout_close(client) !close_wait_leak(client)
@mid,late infinding cport=$stalled : idle_timeout_close
@late infinding cport=$(ports slow2) : idle_timeout_close
healthy sport=8080 cport!=$(ports hdr),$(ports body)
healthy sport=8090 cport!=$(ports gohdr)
healthy sport=8000 cport!=$(ports slow),$(ports slow2)
nofinding close_wait_leak
@mid,late finding idle_timeout_close
@mid,late says idle_timeout_close : $server_ip:8080 (server) closed 3 connections from $client_ip 2.0 s after the client's last data, without answering it
@mid,late says idle_timeout_close : 2 with a request's headers left unfinished (the server's request read timeout), 1 with a request's headers whole and no response
@mid,late says idle_timeout_close : $server_ip:8090 (server) closed 1 connection from $client_ip 2.0 s after the client's last data, without answering it: the request's headers never ended
@mid says idle_timeout_close : $server_ip:8000 (server) closed 1 connection from $client_ip
@mid says idle_timeout_close : the request came whole, with no body, and no response followed; the server gave up on it
@late says idle_timeout_close : $server_ip:8000 (server) closed 2 connections from $client_ip
@late says idle_timeout_close : all 2 requests came whole, with no body, and no response followed; the server gave up on it
EXP
}

# Servers reloaded under their clients' pooled idle connections: nginx -s
# reload, Apache httpd's graceful restart, HAProxy's soft reload (-sf).
sc_server_reload() {
	host client; host server; wire client server
	# nginx (keepalive_timeout 60s) on 8080, HAProxy's backend too.
	nginx_conf "$work/nginx" 8080 60s
	run_nginx server "$work/nginx"
	# Apache (apache_conf: event MPM) on 8081 with KeepAliveTimeout 30 and
	# room for two server processes: the new generation starts while the
	# old one finishes.
	local d=$work/apache
	apache_conf "$d" 8081
	sed -i 's/^KeepAliveTimeout 2$/KeepAliveTimeout 30/; s/^ServerLimit 1$/ServerLimit 2/; s/^MaxRequestWorkers 16$/MaxRequestWorkers 32/' "$d/httpd.conf"
	on server apache2 -d "$d" -f "$d/httpd.conf" -DFOREGROUND -E "$work/log"
	# HAProxy (timeout http-keep-alive 60s) on 8082 in front of nginx.
	cat >"$work/haproxy.cfg" <<CONF
defaults
	mode http
	timeout connect 2s
	timeout client 60s
	timeout server 60s
	timeout http-keep-alive 60s
frontend web
	bind $server_ip:8082
	default_backend app
backend app
	server nginx 127.0.0.1:8080
CONF
	on server haproxy -db -f "$work/haproxy.cfg"
	local haproxy=${pids[-1]} at
	listening server 8080
	listening server 8081 20
	listening server 8082
	capture client "$client_if" "$work/cap.pcap"
	begin server-reload
	# The clock starts 1.5 s on, when the three clients start together.
	t0=$(awk -v t="$t0" 'BEGIN { printf "%.6f", t + 1.5 }')
	# Per server, connections opened at 0 s and last used 0.5-4 s before
	# the reload at 6 s (pylab.py pooled, KIND:ROLE:TIMES:END): http.client
	# connections reused 1 s after it ("reuse", "fresh": last used 0.5 s
	# before it), or never again ("idle", never read nor closed); requests
	# Sessions used again 1.5 and 2 s after it, which notice the close and
	# reconnect ("sess", kept; "sessc", closed then). Then new connections,
	# idle 0.5-4.5 s at a second reload at 12 s, one reused 1 s after it.
	client client $pylab pooled "$server_ip" 8080 "$t0" 30 \
		hc:nreuse:0,2,7:close hc:nidle:0,3:keep hc:nreuse:0,4.5,7:close hc:nidle:0,4.7:keep hc:nfresh:0,5.5,7:close \
		rs:nsess:0,2.5,7.5,13.5:close rs:nsessc:0,4,8:close \
		hc:nidle2:9.5:keep hc:nidle2:10.5:keep hc:nfresh2:11.5,13:close
	# Apache at 6.1 s and 12.1 s: reused 1 s after (its lingering close still
	# reads: "linger", "fresh"), and 3 s after ("reuse").
	client client $pylab pooled "$server_ip" 8081 "$t0" 30 \
		hc:areuse:0,2,9.1:close hc:aidle:0,3:keep hc:alinger:0,4.5,7.1:close hc:aidle:0,4.7:keep hc:afresh:0,5.5,7.1:close \
		rs:asess:0,2.5,7.6,13.6:close rs:asessc:0,4,8.1:close \
		hc:aidle2:9.6:keep hc:aidle2:10.6:keep hc:afresh2:11.6,13.1:close
	# HAProxy at 6.2 s and 12.2 s, every connection idle 1.3 s or more at
	# them (flowdoc counts no close after less than 1 s idle in a mass
	# close yet: this one's figures are exact).
	client client $pylab pooled "$server_ip" 8082 "$t0" 30 \
		hc:hreuse:0,2,7.2:close hc:hidle:0,3:keep hc:hreuse:0,4.5,7.2:close hc:hidle:0,4.7:keep \
		rs:hsess:0,2.5,7.7,13.7:close \
		hc:hidle2:9.7:keep hc:hidle2:10.2:keep hc:hreuse2:10.9,13.2:close
	until_t 5.8
	cut early client server
	for at in 6 12; do
		until_t $at
		ip netns exec "$tag-server" nginx -p "$work/nginx" -e "$work/nginx/error.log" -c "$work/nginx/nginx.conf" -s reload >>"$work/log" 2>&1
		until_t $at.1
		ip netns exec "$tag-server" apache2 -d "$d" -f "$d/httpd.conf" -k graceful >>"$work/log" 2>&1
		until_t $at.2
		on server haproxy -db -f "$work/haproxy.cfg" -sf "$haproxy" # the new one tells the old to stop
		haproxy=${pids[-1]}
		if [ $at = 6 ]; then
			until_t 9.4
			cut mid client server
		fi
	done
	until_t 16
	cut late client server
	finish "$work/cap.pcap"
	# What each server did at its reloads: its FINs and RSTs, those less
	# than 50 ms apart together, in seconds from the clients' start.
	local p
	for p in 8080 8081 8082; do
		tshark -r "$out/$name@late.pcap" -Y "tcp.srcport == $p && (tcp.flags.fin == 1 || tcp.flags.reset == 1)" \
			-T fields -e frame.time_epoch -e tcp.flags.reset 2>/dev/null |
			awk -v p=$p -v t0="$t0" 'function out() { if (n) printf "  %s: %d %s at %.3f-%.3f s\n", p, n, k, a - t0, b - t0 }
				{ x = ($2 == 1 || $2 == "True") ? "RST" : "FIN"; if (x != k || $1 - b > 0.05) { out(); n = 0; k = x; a = $1 } n++; b = $1 }
				END { out() }'
	done
	local sessions
	sessions=$(ports nsess),$(ports nsessc),$(ports nsess-new),$(ports nsessc-new),$(ports nsess-new2),$(ports asess),$(ports asessc),$(ports asess-new),$(ports asessc-new),$(ports asess-new2),$(ports hsess),$(ports hsess-new),$(ports hsess-new2)
	expect <<EXP
# nginx (keepalive_timeout 60s), Apache httpd (event MPM, KeepAliveTimeout
# 30) and HAProxy (timeout http-keep-alive 60s) in front of nginx, each
# reloaded twice under idle keep-alive connections of python clients
# last used 0.5-4.5 s before: nginx -s reload (at 6 and 12 s), Apache's
# graceful restart (apache2 -k graceful, 6.1 and 12.1 s), HAProxy's soft
# reload (haproxy -sf, 6.2 and 12.2 s). No timeout fires in the scenario.
# Each closes all its idle connections at once with FIN (nginx's old
# worker and Apache's old child within a fraction of a millisecond,
# HAProxy's old process within a few ms), whatever their idle times: a
# restart, reload or shutdown, not an idle timeout.
# The http.client connections reused 1 s after the reload (nreuse,
# nfresh, hreuse) get RST; Apache's lingering close (2 s) reads and drops
# a request sent 1 s after its FIN (alinger, afresh: no answer, no RST)
# and resets one 3 s after (areuse): stale reuses that raced the reload,
# which retries cure, not a shorter pool timeout. The requests Sessions
# notice the close at their next use (1.5-2 s after), close and
# reconnect: healthy. The http.client connections nobody uses again
# (nidle, aidle, hidle, never read nor closed) sit in CLOSE_WAIT on the
# client: a pool holding connections the server closed, until it next
# uses them, or a leak; at the late cut the oldest are 10 s old.
@early healthy all
@early nofinding idle_timeout_close
@early nofinding stale_reuse_reset
@early nofinding close_wait_leak
@mid,late expect sport=8080 cport=$(ports nreuse),$(ports nidle),$(ports nsess),$(ports nsessc) n>=6 : idle_timeout_close(server)
@mid,late expect sport=8081 cport=$(ports areuse),$(ports alinger),$(ports aidle),$(ports asess),$(ports asessc) n>=6 : idle_timeout_close(server)
@mid,late expect sport=8082 cport=$(ports hreuse),$(ports hidle),$(ports hsess) n>=5 : idle_timeout_close(server)
@mid,late infinding cport=$(ports nreuse),$(ports nidle),$(ports nsess),$(ports nsessc),$(ports areuse),$(ports alinger),$(ports aidle),$(ports asess),$(ports asessc),$(ports hreuse),$(ports hidle),$(ports hsess) : idle_timeout_close
@late expect cport=$(ports nidle2),$(ports nsess-new),$(ports aidle2),$(ports asess-new),$(ports hidle2),$(ports hreuse2),$(ports hsess-new) n>=10 : idle_timeout_close(server)
@late infinding cport=$(ports nidle2),$(ports nsess-new),$(ports aidle2),$(ports asess-new),$(ports hidle2),$(ports hreuse2),$(ports hsess-new) : idle_timeout_close
@mid,late expect cport=$(ports nreuse),$(ports nfresh),$(ports areuse),$(ports alinger),$(ports hreuse) n>=7 : stale_reuse_reset(client) !close_wait_leak(client)
@mid,late expect cport=$(ports alinger) : !half_close_ok(server)
@late expect cport=$(ports nfresh2),$(ports hreuse2) n>=2 : stale_reuse_reset(client)
@mid expect client.ss=CLOSE-WAIT n>=6 : open(client)|close_wait_leak(client) idle_timeout_close(server)
@late expect client.ss=CLOSE-WAIT n>=12 : open(client)|close_wait_leak(client) idle_timeout_close(server)
@mid infinding client.ss=CLOSE-WAIT : close_wait_leak
@late infinding sport=8080 client.ss=CLOSE-WAIT : close_wait_leak
@late infinding sport=8081 client.ss=CLOSE-WAIT : close_wait_leak
@mid,late healthy cport=$sessions
@mid,late finding idle_timeout_close
@mid,late finding stale_reuse_reset
@mid,late says idle_timeout_close : The server restarted, reloaded or shut down (nginx -s reload, Apache's graceful restart and most servers' graceful shutdown close their idle keep-alive connections at once)
@mid says idle_timeout_close : $server_ip:8082 (server) closed 5 idle connections at once (within
@mid says idle_timeout_close : 2 of them were reused by its client after the close, and reset: requests that raced it.
@late says idle_timeout_close : $server_ip:8082 (server) closed 9 idle connections at 2 moments, those of each within 10 ms
@late says idle_timeout_close : 3 of them were reused by its client after the close, and reset: requests that raced it.
@mid,late says idle_timeout_close : $server_ip:8080 (server) closed
@mid,late says idle_timeout_close : $server_ip:8081 (server) closed
@mid,late says stale_reuse_reset : had closed all at once with other idle connections, whatever their idle times (a restart, reload or shutdown: see its idle_timeout_close finding)
@mid,late says stale_reuse_reset : requests that raced the server's restart, which no pool's idle timeout prevents.
# The connections idle less than a second at a reload (nfresh, nfresh2,
# afresh, afresh2), closed in the same fraction of a millisecond as the
# others, belong to the restart too, and their reuses raced it; Apache
# read and dropped the requests on afresh and afresh2 (no RST).
@mid,late expect sport=8080 cport=$(ports nfresh) : idle_timeout_close(server) stale_reuse_reset(client)
@mid,late expect sport=8081 cport=$(ports afresh) : idle_timeout_close(server) stale_reuse_reset(client) !half_close_ok(server)
@late expect cport=$(ports nfresh2),$(ports afresh2) n>=2 : idle_timeout_close(server) stale_reuse_reset(client) !half_close_ok(server)
@mid says idle_timeout_close : $server_ip:8080 (server) closed 7 idle connections at once
@mid says idle_timeout_close : $server_ip:8081 (server) closed 7 idle connections at once
@late says idle_timeout_close : $server_ip:8080 (server) closed 11 idle connections at 2 moments
@late says idle_timeout_close : $server_ip:8081 (server) closed 11 idle connections at 2 moments
@mid says idle_timeout_close : 3 of them were reused by its client after the close, and reset (2 got no answer instead: read and dropped)
@late says close_wait_leak : closed it at a restart or reload, all at once with its other idle connections
# Not held here: at the late cut the close_wait_leak finding sets
# HAProxy's CLOSE_WAIT sockets, as old as the others, apart as "too
# young" (the same client program's other connections to nginx and
# Apache closed within a millisecond of their last data, and those to
# HAProxy did not: its connections to them are judged leaks by that).
EXP
}

# Downloads whose reader stops reading: nginx (sendfile on) serving a
# 20 MB file to readers that close with the rest unread, curl throttled
# and timed out, a reader stalled to the end, and nginx's send_timeout
# (3 s, with and without reset_timedout_connection) giving up on stalled
# readers; a whole download with curl beside them.
sc_download_stall() {
	host client; host server; wire client server
	# Linux's own buffer limits: hosts raise them (a receive buffer that
	# may grow to 32 MB takes 17 MB of the throttled download at once).
	for h in client server; do
		ip netns exec "$tag-$h" sysctl -qw net.ipv4.tcp_rmem="4096 131072 6291456" net.ipv4.tcp_wmem="4096 16384 4194304"
	done
	local d=$work/nginx
	mkdir -p "$d/html"
	head -c 20971520 /dev/urandom >"$d/html/big.bin"
	cat >"$d/nginx.conf" <<CONF
worker_processes 1;
pid $d/nginx.pid;
error_log $d/error.log info;
events { worker_connections 256; }
http {
	access_log $d/access.log;
	client_body_temp_path $d/tmp;
	proxy_temp_path $d/tmp;
	fastcgi_temp_path $d/tmp;
	uwsgi_temp_path $d/tmp;
	scgi_temp_path $d/tmp;
	# Debian's nginx.conf; nginx's own default is sendfile off.
	sendfile on;
	tcp_nopush on;
	# 8080 and 8083: send_timeout 60s, nginx's default (8083 for the
	# reader stalled to the end, so that its finding is its own).
	server {
		listen $server_ip:8080;
		listen $server_ip:8083;
		root $d/html;
	}
	server {
		listen $server_ip:8081;
		root $d/html;
		send_timeout 3s;
	}
	server {
		listen $server_ip:8082;
		root $d/html;
		send_timeout 3s;
		reset_timedout_connection on;
	}
}
CONF
	run_nginx server "$d"
	listening server 8080
	listening server 8083
	# A snap length of 128 keeps the headers of every segment and the
	# first bytes of the response (its status line and Server header) and
	# drops the file's bytes: the capture stays small.
	capture client "$client_if" "$work/cap.pcap" -s 128
	begin download-stall
	local url=http://$server_ip
	# Raw sockets with SO_RCVBUF 64 KB (the kernel doubles it), each
	# reading 200 KB of the response, then not reading.
	client client $pylab slowread "$server_ip" 8080 /big.bin abort 204800 1.5 close 0 65536
	client client $pylab slowread "$server_ip" 8083 /big.bin stall 204800 30 hold 0 65536
	client client $pylab slowread "$server_ip" 8081 /big.bin stresume 204800 4.5 resume 0 65536
	client client $pylab slowread "$server_ip" 8082 /big.bin streset 204800 30 hold 0 65536
	first_port 10 # the clock starts at their first connection
	client client $pylab streamread "$server_ip" 8080 /big.bin 1.5
	client client curl -s -o /dev/null --limit-rate 1M --max-time 2 -w 'throttled %{local_port}\n' "$url:8080/big.bin"
	client client curl -s -o /dev/null --max-time 10 -w 'full %{local_port}\n' "$url:8080/big.bin"
	until_t 1
	cut early client server
	until_t 6.5 # the closes at 1.5-2 s, nginx's send_timeout at 3 s, the reader reading again at 4.5 s
	cut mid client server
	until_t 15
	cut late client server
	finish "$work/cap.pcap"
	grep -h 'timed out' "$d/error.log" | sed 's/^/  nginx: /' || true
	sed 's/^/  nginx: /' "$d/access.log"
	# Per connection: the zero windows the client advertised, nginx's
	# zero-window probes (keep-alives to tshark: one byte below snd_una),
	# and who sent FIN or RST, when.
	tshark -r "$out/$name@late.pcap" -Y tcp -T fields -e frame.number -e frame.time_relative -e tcp.srcport -e tcp.dstport \
		-e tcp.flags.str -e tcp.analysis.zero_window -e tcp.analysis.keep_alive 2>/dev/null |
		awk -F'\t' -v ports="$(tr '\n' ' ' <"$work/ports")" '
			BEGIN { n = split(ports, a, " "); for (i = 1; i < n; i += 2) role[a[i + 1]] = a[i] }
			{ srv = $3 < 9000; c = srv ? $4 : $3; conns[c] = 1 }
			!srv && $6 == 1 && !zw[c]++ { first[c] = sprintf(" (first #%d at %.2f s)", $1, $2) }
			srv && $7 == 1 { probes[c]++ }
			$5 ~ /[FR]/ { ends[c] = ends[c] sprintf(", %s %s #%d at %.2f s", srv ? "server" : "client", $5 ~ /R/ ? "RST" : "FIN", $1, $2) }
			END { for (c in conns) printf "  %s %s: %d zero windows%s, %d probes%s\n", role[c], c, zw[c], first[c], probes[c], ends[c] }' | sort
	local gaveup=$(ports abort),$(ports stream),$(ports throttled)
	expect <<EXP
# nginx 1.22 (sendfile on, tcp_nopush on) serves a 20 MB file on four
# ports: 8080 and 8083 with its default send_timeout 60s, 8081 with
# send_timeout 3s, 8082 with send_timeout 3s and reset_timedout_connection
# on. Linux's default buffer limits on both hosts (tcp_rmem 4096 131072
# 6291456, tcp_wmem 4096 16384 4194304). Captured on the client with a
# snap length of 128. Every reader that stops advertises a zero window
# once its receive buffer is full, and nginx's kernel probes it (one byte
# below snd_una, answered with a zero window), 0.2 s, then doubling.
# Readers that gave up on the transfer themselves, each closing its socket
# with data unread, which the kernel sends as RST: "abort", a raw socket
# (SO_RCVBUF 64 KB) that reads 200 KB, then nothing for 1.5 s, then
# closes; "stream", requests (stream=True) that reads one 64 KB chunk and
# closes the response 1.5 s later; "throttled", curl --limit-rate 1M
# --max-time 2, whose receive buffer (growing up to 6 MB) fills faster
# than curl reads, then curl's timeout. Until the close they are
# stalled; after it, the reader let go: Info, no error or warning.
@early expect cport=$gaveup client.ss=ESTAB n>=3 : zero_window_stall(client)
@early says zero_window_stall : $client_ip stopped reading on 3 connections to $server_ip:8080: it advertised a zero receive window, and 3 of them were still stalled at the end of the capture
@mid,late expect cport=$gaveup client.ss=CLOSED server.ss=CLOSED n>=3 : zero_window_stall(client) reset(client)
@mid,late healthy cport=$gaveup
@mid,late says zero_window_stall : $client_ip stopped reading on 3 connections to $server_ip:8080: it advertised a zero receive window, then reset each with the rest unread: it gave up on those transfers
# "stall" (8083, send_timeout 60s): reads 200 KB, then holds the socket
# open unread to the end: its zero window lasts to the end of every cut,
# nginx probing into it. The real stall: an error.
expect cport=$(ports stall) client.ss=ESTAB server.ss=ESTAB n>=1 : zero_window_stall(client)
says zero_window_stall : $client_ip stopped reading on 1 connection to $server_ip:8083: it advertised a zero receive window, and was still not reading at the end of the capture
# "streset" (8082, send_timeout 3s, reset_timedout_connection on): reads
# 200 KB, then holds the socket open unread; nginx gives up 3.0 s after
# its last write and closes with zero linger: RST. The server gave up on
# the stalled reader: zero_window_stall(client), a warning.
# Not an idle timeout: the connection was not idle but blocked on the
# closed window.
@early expect cport=$(ports streset) client.ss=ESTAB n>=1 : zero_window_stall(client)
@mid,late expect cport=$(ports streset) client.ss=CLOSED server.ss=CLOSED n>=1 : zero_window_stall(client) !reset(client) !idle_timeout_close(server)
@mid,late says zero_window_stall : had not read again when the sender reset it: the sender gave up on the stalled reader
# "stresume" (8081, send_timeout 3s): reads 200 KB, reads nothing for
# 4.5 s, then reads to EOF. nginx gives up at 3 s and closes without
# zero linger: nothing on the wire, its FIN queued behind the megabyte
# and more its socket still holds (ss: FIN-WAIT-1; its probes go on as
# before). When the reader reads again the kernel sends those and the
# FIN: 2 MB or so of the 20 MB body, then EOF (the reader says how much
# on stderr). The reader stalled, then read again:
# zero_window_stall(client), a warning; the server's close is orderly
# and it holds TIME_WAIT. (A reader that kept the socket open unread
# would show nothing of nginx's close: a server ESTABLISHED in the
# capture that ss holds in FIN-WAIT-1, which no capture can tell; none
# is recorded.)
@early expect cport=$(ports stresume) client.ss=ESTAB n>=1 : zero_window_stall(client)
@mid,late expect cport=$(ports stresume) client.ss=CLOSED server.ss=TIME-WAIT n>=1 : zero_window_stall(client) !close_wait_leak(client)
# "full": curl downloads the whole file and closes first.
healthy cport=$(ports full)
nofinding close_wait_leak
EXP
}

# curl_rate ROLE RATE URL...: one curl process fetching the URLs in turn,
# their starts RATE apart (--rate), each body dropped: it keeps its
# connection between transfers. It prints "ROLE PORT" per transfer; the
# log has what curl -v says of its connections.
curl_rate() {
	local role=$1 rate=$2 u args=()
	shift 2
	for u; do args+=(-o /dev/null "$u"); done
	client client bash -c 'exec 3>&1
		curl -sv --max-time 5 --rate "$0" -w "%{stdout}$1 %{local_port}\n" "${@:2}" 2>&1 >&3 3>&- |
			grep -E "Re-using|Connected to|dead|died|Closing|left intact" | sed "s/^/$1: /" >&2' "$rate" "$role" "${args[@]}"
}

# Client pools against nginx's 2 s keepalive_timeout: Perl's LWP and curl.
sc_perl_curl_pools() {
	host client; host server; wire client server
	nginx_conf "$work/nginx" 8080 2s
	# A second port, for an agent to pool two connections (one per
	# host:port).
	sed -i 's/^\t\tlisten .*/&\n\t\tlisten 8081;/' "$work/nginx/nginx.conf"
	run_nginx server "$work/nginx"
	listening server 8080
	listening server 8081
	local u=http://$server_ip:8080/ lwp="perl $here/clients/lwppool.pl"
	capture client "$client_if" "$work/cap.pcap"
	begin perl-curl-pools
	# LWP::UserAgent, keep_alive 4 (LWP::ConnCache): requests 1 s apart,
	# one after 3 s idle, one more 1 s later, then idle to the end.
	client client $lwp pool 4 30 $u 1 $u 1 $u 1 $u 3 $u 1 $u
	first_port 10 # the clock starts at its first connection
	# An agent pooling a connection to each port, then idle to the end.
	client client $lwp idle 4 30 $u http://$server_ip:8081/
	# An agent whose requests come 1.996-2.003 s after a response,
	# racing nginx's timer.
	client client $lwp race 4 30 $u 1.996 $u 1.997 $u 1.998 $u 1.999 $u 2.000 $u 2.001 $u 2.002 $u 2.003 $u
	# No keep-alive: a connection per request ("Connection: close").
	client client $lwp noka 0 30 $u 1 $u 1 $u 1 $u
	# curl, transfers 3 s apart (nginx closed the connection 1 s
	# before each reuse), and 1 s apart (reused).
	curl_rate curl-stale 20/m $u $u $u $u
	curl_rate curl-reuse 60/m $u $u $u $u
	until_t 3.6 # curl noticed nginx's close at its first reuse (3.2 s)
	cut early client server
	until_t 6.6 # the LWP pool and curl reused after 3 s idle
	cut mid client server
	until_t 21
	cut late client server
	finish "$work/cap.pcap"
	# The requests that followed nginx's FIN on the wire, and the
	# connections nginx reset.
	local race
	race=$( {
		fin_then_data "$out/$name@late.pcap" 8080
		echo
		reset_by "$out/$name@late.pcap" "$server_ip"
	} | tr , '\n' | sed '/^$/d' | sort -un | paste -sd,)
	echo "lab: $name: requests after nginx's FIN: ${race:-none}" >&2
	expect <<EXP
# nginx (keepalive_timeout 2s: its default is 75 s) closes idle
# keep-alive connections 2.000-2.003 s after its last response, with FIN.
# LWP's ConnCache does not watch its idle connections: it checks one when
# it takes it out for a request (readable: the peer closed), closes it
# then and opens a new connection in the same millisecond. So a
# connection nginx closed waits in CLOSE_WAIT until the agent's next
# request: 1 s for the pool agent's request after 3 s idle ("pool"), a
# millisecond or two for the agent whose requests come 1.996-2.003 s
# after a response ("race"; those that reach nginx before its timer
# reuse the connection). A request sent after LWP's check but before
# nginx's FIN arrived would be reset, and LWP retries nothing (requests
# after nginx's FIN here: ${race:-none}). An agent idle after its
# requests ("idle", one connection to each port; and the last of "pool"
# and "race") holds the connections nginx closed in CLOSE_WAIT to the
# end: bounded by its cache, closed at its next use, and nothing closes
# them before; the capture cannot tell that from a leak. curl checks a
# connection before reuse too ("Connection 0 seems to be dead"):
# transfers 3 s apart ("curl-stale") close the one nginx closed 1 s
# before and connect anew in the same millisecond; 1 s apart
# ("curl-reuse") it keeps one. At exit curl closes first (TIME_WAIT on
# the client). LWP without keep-alive ("noka") sends "Connection:
# close": nginx closes after the response and LWP at once, their FINs
# crossing within a millisecond; whichever went first holds the
# TIME_WAIT (nginx, most often): healthy.
expect cport=$(ports idle) : idle_timeout_close(server) open(client)|close_wait_leak(client)
@late expect client.ss=CLOSE-WAIT n>=4 : idle_timeout_close(server) open(client)|close_wait_leak(client)
@late infinding client.ss=CLOSE-WAIT : close_wait_leak
@early expect server.ss=TIME-WAIT cport=$(ports pool),$(ports race),$(ports curl-stale) n>=1 : idle_timeout_close(server) !close_wait_leak(client) !stale_reuse_reset(client)
@mid,late expect server.ss=TIME-WAIT cport=$(ports pool),$(ports race),$(ports curl-stale) n>=3 : idle_timeout_close(server) !close_wait_leak(client) !stale_reuse_reset(client)
@mid,late expect cport=$(ports pool) server.ss=TIME-WAIT n>=1 : idle_timeout_close(server) clean(server)
expect cport=$(ports noka) n>=3 : time_wait(server)|time_wait(client) !idle_timeout_close(server)
expect cport=$(ports curl-reuse) : time_wait(client) clean(client) !idle_timeout_close(server)
healthy client.ss=CLOSED${race:+ cport!=$race}
healthy client.ss=TIME-WAIT
healthy client.ss=ESTAB
$([ -n "$race" ] && echo "@late expect cport=$race : stale_reuse_reset(client) idle_timeout_close(server)")
$([ -n "$race" ] || echo "nofinding stale_reuse_reset")
finding idle_timeout_close
says idle_timeout_close : after 2.0 s without traffic
says idle_timeout_close : it is set to 2.0 s there
# Not held here: at the early and mid cuts the idle agent's two
# connections, in CLOSE_WAIT for the same 1.4-4.5 s, may be judged
# apart: the one to 8080 a leak on the closes of the host's other
# programs to 8080 (curl at its exit and LWP without keep-alive close
# within a millisecond of their last data), the one to 8081 too young
# (set apart in the close_wait_leak finding, in none by its flows).
EXP
}

# WebSockets through nginx, idle past its proxy_read_timeout.
sc_websocket_idle() {
	host client; host proxy; host server
	wire client proxy
	local front=$proxy_ip d=$work/nginx
	wire proxy server
	on server $pylab wsserve "$server_ip" 8000 120
	mkdir -p "$d"
	# keepalive_timeout at its default, 75 s: it applies between the
	# requests of a keep-alive connection, not inside an upgraded one.
	cat >"$d/nginx.conf" <<CONF
worker_processes 1;
pid $d/nginx.pid;
error_log $d/error.log info;
events { worker_connections 256; }
http {
	access_log off;
	client_body_temp_path $d/tmp;
	proxy_temp_path $d/tmp;
	fastcgi_temp_path $d/tmp;
	uwsgi_temp_path $d/tmp;
	scgi_temp_path $d/tmp;
	keepalive_timeout 75s;
	map \$http_upgrade \$connection_upgrade {
		default upgrade;
		'' close;
	}
	server {
		listen $front:8080;
		location /ws {
			proxy_pass http://$server_ip:8000;
			proxy_http_version 1.1;
			proxy_set_header Upgrade \$http_upgrade;
			proxy_set_header Connection \$connection_upgrade;
			proxy_read_timeout 3s;
			proxy_send_timeout 3s;
		}
	}
}
CONF
	run_nginx proxy "$d"
	listening server 8000 20
	listening proxy 8080
	capture proxy any "$work/cap.pcap" -B 16384
	begin websocket-idle
	# Through nginx, each a WebSocket with one message and its echo:
	# two aiohttp clients then idle, waiting in receive() ("idle"); a
	# raw socket that never reads nor closes again ("leak"); aiohttp
	# with heartbeat=1.0, a ping every second ("beat").
	client client $pylab wsclient "$front" 8080 idle idle 40
	first_port 10 # the clock starts at the first WebSocket
	until_t 0.3
	client client $pylab wsclient "$front" 8080 idle idle 40
	until_t 0.6
	client client $pylab wsclient "$front" 8080 leak raw 40
	until_t 0.9
	client client $pylab wsclient "$front" 8080 beat beat 40
	# From the proxy host straight to the backend, idle: aiohttp's
	# server has no idle timeout on a WebSocket ("direct").
	until_t 1.2
	client proxy $pylab wsclient "$server_ip" 8000 direct idle 40
	until_t 2.2 # nginx's timer fires 3 s after each echo: 3.0-3.8 s
	cut early client proxy server
	until_t 5
	cut mid client proxy server
	until_t 18
	cut late client proxy server
	finish "$work/cap.pcap"
	grep -E 'timed out' "$d/error.log" | sed 's/^/  nginx: /' >&2 || true
	expect <<EXP
# nginx (proxy_read_timeout 3s, proxy_send_timeout 3s, keepalive_timeout
# 75s) proxies WebSockets to an aiohttp server. Inside an upgraded
# connection keepalive_timeout does not apply: nginx's only timer on an
# idle WebSocket is proxy_read_timeout, counted from the last data read
# from the backend. 3.0 s after a WebSocket's last message (the echo)
# nginx logs "upstream timed out ... while proxying upgraded connection"
# and closes both its sides in the same 0.1 ms: a bare FIN to the
# backend and a bare FIN to the client, no WebSocket Close frame. The
# two aiohttp clients waiting in receive() ("idle": $(ports idle)) close
# within a millisecond (no Close frame either: aiohttp finds its
# transport closing, close code 1006), as the aiohttp server does on
# the upstream side: TIME_WAIT on nginx, both sides. The raw client
# ("leak": $(ports leak)) never reads nor closes: CLOSE_WAIT on the
# client, nginx's orphan in FIN_WAIT_2. The heartbeat client ("beat":
# $(ports beat)) pings every second; the backend's pong resets nginx's
# timer and the WebSocket stays up to the end. The WebSocket from the
# proxy host straight to the backend ("direct": $(ports direct)) stays
# idle to the end: aiohttp's server sets no idle timeout on it. At the
# mid cut the CLOSE_WAIT is about a second old.
@early healthy all
@early nofinding idle_timeout_close
@mid,late expect sport=8080 cport=$(ports idle) server.ss=TIME-WAIT n>=2 : idle_timeout_close(server) !close_wait_leak(client)
@mid,late healthy sport=8080 cport=$(ports idle)
@mid expect sport=8080 cport=$(ports leak) client.ss=CLOSE-WAIT n>=1 : idle_timeout_close(server) close_wait_leak(client)|open(client)
@late expect sport=8080 cport=$(ports leak) client.ss=CLOSE-WAIT n>=1 : idle_timeout_close(server) close_wait_leak(client)
@late infinding client.ss=CLOSE-WAIT : close_wait_leak
# Upstream, nginx is the client: it closes first (TIME_WAIT on nginx).
@mid,late expect sport=8000 client.ss=TIME-WAIT n>=3 : idle_timeout_close(client) !close_wait_leak(server)
expect sport=8080 cport=$(ports beat) client.ss=ESTAB n>=1 : !idle_timeout_close(server) !idle_timeout_close(client)
expect sport=8000 client.ss=ESTAB n>=2 : !idle_timeout_close(server) !idle_timeout_close(client)
healthy sport=8080 cport=$(ports beat)
healthy sport=8000
@mid,late finding idle_timeout_close
@mid,late says idle_timeout_close : after 3.0 s without traffic
@late finding close_wait_leak
# The findings name what closes an idle WebSocket through nginx, its
# proxy_read_timeout, on both sides, not keepalive_timeout nor a pool.
@mid,late says idle_timeout_close : its timeout for an idle upgraded connection: they had been upgraded (101 Switching Protocols
@mid,late says idle_timeout_close : nginx proxy_read_timeout, 60 s by default
@mid,late says idle_timeout_close : (a WebSocket, which no pool keeps): a proxy's, such as nginx's proxy_read_timeout
EXP
}

# Health checks beside real traffic: HAProxy's checks of its backends
# (HTTP, layer 4, tcp-check) and an orchestrator's liveness probes, many
# short connections from one host to one endpoint, none of them a problem.
sc_health_checks() {
	host client; host prober; host proxy; host server
	wire client proxy
	local front=$proxy_ip
	wire prober proxy
	local probed=$proxy_ip
	wire proxy server
	# nginx, three ports standing for three backends, /health answering
	# ok; Redis.
	nginx_conf "$work/nginx" 8081 75s
	sed -i 's/^\t\tlisten .*/&\n\t\tlisten 8082;\n\t\tlisten 8083;/' "$work/nginx/nginx.conf"
	echo ok >"$work/nginx/html/health"
	run_nginx server "$work/nginx"
	on server redis-server --bind "$server_ip" --port 6379 --protected-mode no --save "" --appendonly no \
		--dir "$work" --daemonize no
	listening server 8081
	listening server 8083
	listening server 6379
	# HAProxy checks every server every 200 ms: HTTP checks (option
	# httpchk: "GET /health HTTP/1.0") of the two behind port 8080, a
	# layer-4 check (connect only) of the one behind 8090; and Redis,
	# which serves no frontend, every second with a tcp-check (PING,
	# QUIT). Port 8090 ignores probes (option http-ignore-probes: a
	# connection closed before any request gets no 400). One thread.
	cat >"$work/haproxy.cfg" <<CONF
global
	pidfile $work/haproxy.pid
	nbthread 1
defaults
	mode http
	timeout connect 2s
	timeout client 30s
	timeout server 30s
	timeout check 1s
frontend web
	bind :8080
	default_backend web
frontend plain
	bind :8090
	option http-ignore-probes
	default_backend plain
backend web
	option httpchk GET /health
	server web1 $server_ip:8081 check inter 200ms
	server web2 $server_ip:8082 check inter 200ms
backend plain
	server plain1 $server_ip:8083 check inter 200ms
backend redis
	mode tcp
	option tcp-check
	tcp-check connect
	tcp-check send PING\r\n
	tcp-check expect string +PONG
	tcp-check send QUIT\r\n
	tcp-check expect string +OK
	server redis1 $server_ip:6379 check inter 1s
CONF
	# Captured on the proxy (-i any), from before HAProxy starts: its
	# first checks are in it.
	capture proxy any "$work/cap.pcap" -B 16384
	on proxy haproxy -db -f "$work/haproxy.cfg"
	listening proxy 8080
	listening proxy 8090
	begin health-checks
	# Liveness probes as an orchestrator makes them, from the prober host
	# to HAProxy's ports, every 300 ms for 10 s: TCP (connect, close) to
	# each port, and HTTP (curl GET /health, which HAProxy forwards).
	client prober $pylab tcpprobe "$probed" 8080 34 0.3
	client prober $pylab tcpprobe "$probed" 8090 34 0.3
	client prober bash -c 'for i in $(seq 34); do
		curl -s -o /dev/null --max-time 2 -w "httpprobe %{local_port}\n" "http://$0:8080/health"
		sleep 0.3
	done' "$probed"
	# Real traffic: curl (two transfers on one connection to 8080, one
	# to 8090), five times 1.5 s apart, and requests Sessions.
	client client bash -c 'for i in 1 2 3 4 5; do
		curl -s --max-time 5 -w "curl %{local_port}\n" -o /dev/null -o /dev/null "http://$0:8080/ok" "http://$0:8080/big"
		curl -s --max-time 5 -w "curl %{local_port}\n" -o /dev/null "http://$0:8090/ok"
		sleep 1.5
	done' "$front"
	client client $pylab session "$front" 8080 12 0.5 /ok /big /missing
	client client $pylab session "$front" 8090 6 1 /ok /big
	until_t 2.5
	cut early client prober proxy server
	until_t 6 # the probes run to about 10.5 s
	cut mid client prober proxy server
	until_t 16
	cut late client prober proxy server
	finish "$work/cap.pcap"
	# How HAProxy closed its checks, for the record: the HTTP ones
	# (HTTP/1.0; the requests it forwards are HTTP/1.1) and the layer-4
	# ones (to 8083, nothing sent).
	tshark -r "$out/$name@late.pcap" -Y "tcp.port in {8081, 8082, 8083}" -T fields -e tcp.stream -e ip.src \
		-e tcp.dstport -e tcp.len -e tcp.flags.fin -e tcp.flags.reset -e http.request.version 2>/dev/null |
		awk -v p="$proxy_ip" -F'\t' '$7 == "HTTP/1.0" { kind[$1] = "HTTP" }
			$3 == 8083 && $4 > 0 { data[$1] = 1 } $3 == 8083 { l4[$1] = 1 }
			$2 == p && ($5 == 1 || $6 == 1) && !($1 in how) { how[$1] = $5 == 1 ? "FIN" : "RST" }
			END { for (s in l4) if (!data[s]) kind[s] = "layer-4"
				for (s in kind) n[kind[s] " " how[s]]++
				for (k in n) printf "lab: %s: %s checks closed by HAProxy with %s: %d\n", name, substr(k, 1, index(k, " ") - 1), substr(k, index(k, " ") + 1), n[k] }' name="$name" >&2
	expect <<EXP
# Health checks and probes are healthy traffic: many short connections
# from one host to one endpoint, each opened, used (or not) and closed at
# once. Neither a reconnect storm nor a scan nor accept-then-close: the
# servers answer every one, and the checker closes.
healthy all
nofinding reconnect_storm
nofinding port_scan
nofinding accept_then_close
nofinding close_wait_leak
nofinding handshake_incomplete
nofinding stale_reuse_reset
noproblem time_wait_pressure
noproblem idle_timeout_close
# HAProxy's HTTP checks of 8081 and 8082 ("GET /health HTTP/1.0", no
# Host): the request rides on the handshake's ACK, nginx answers 200 and
# closes (FIN). HAProxy closes with FIN (TIME_WAIT on nginx: the only
# server TIME_WAITs on those ports) or, more often, with RST, before or
# after nginx's FIN reaches it. The connections that carry its callers'
# requests to nginx (HTTP/1.1) it resets when the caller has closed, or
# keeps open for the next request.
expect sport=8081 server.ss=TIME-WAIT n>=1 : clean(server) time_wait(server) !accept_then_close(server)
expect sport=8082 server.ss=TIME-WAIT n>=1 : clean(server) time_wait(server) !accept_then_close(server)
expect sport=8081 server.ss=CLOSED n>=3 : reset(client) !accept_then_close(server)
expect sport=8082 server.ss=CLOSED n>=3 : reset(client) !accept_then_close(server)
# HAProxy's layer-4 checks of 8083: SYN, SYN-ACK, and RST (with ACK) from
# HAProxy in place of the handshake's ACK: no TIME_WAIT anywhere (and the
# connections it forwards, reset when their caller has closed).
expect sport=8083 server.ss=CLOSED n>=5 : reset(client) !accept_then_close(server) !handshake_incomplete(client)
expect sport=8081 client.ss=ESTAB n>=1 : open(client)
expect sport=8082 client.ss=ESTAB n>=1 : open(client)
expect sport=8083 client.ss=ESTAB n>=1 : open(client)
# Its tcp-check of Redis, every second: PING, +PONG, QUIT, +OK, Redis's
# FIN; HAProxy closes with FIN (TIME_WAIT on Redis) or RST.
expect sport=6379 server.ss=TIME-WAIT : clean(server) time_wait(server)
expect sport=6379 server.ss=CLOSED n>=1 : reset(client) !accept_then_close(server)
# The TCP probes close first (FIN, nothing sent). On 8080 HAProxy answers
# the empty connection with "400 Bad request", which the prober's kernel
# resets: no TIME_WAIT. On 8090 (http-ignore-probes) HAProxy closes too:
# TIME_WAIT on the prober.
expect sport=8080 cport=$(ports tcpprobe) n>=5 : reset(client) !accept_then_close(server)
expect sport=8090 cport=$(ports tcpprobe) n>=5 : clean(client) time_wait(client) !accept_then_close(server)
# The HTTP probes: curl closes first at its exit, TIME_WAIT on the prober.
expect cport=$(ports httpprobe) n>=5 : clean(client) time_wait(client)
# The prober's TIME_WAIT sockets, about 3 a second to each port, use a
# hundredth of its ports: information, about the prober.
@mid,late says time_wait_pressure : 10.99.2.1 closed
@late says time_wait_pressure : connections to 10.99.2.2:8080 first
@late says time_wait_pressure : connections to 10.99.2.2:8090 first
# The real traffic: curl closes first at its exit, the Sessions when
# done (TIME_WAIT on the client); open meanwhile.
expect cport=$(ports curl),$(ports session) client.ss=TIME-WAIT n>=1 : clean(client) time_wait(client)
expect cport=$(ports curl),$(ports session) client.ss=ESTAB : open(client)
EXP
}

# alert_summary FILE SPORT: the TLS alerts in the clear (a segment that
# begins with an alert record) each side of the connections to SPORT sent
# in FILE, counted by level and description: "nginx 2/70 x15" (fatal,
# protocol_version), "client 2/48 x6" (fatal, unknown_ca).
alert_summary() {
	tshark -r "$1" -Y "tcp.port == $2 && tcp.len > 0" -T fields -e tcp.srcport -e tcp.payload 2>/dev/null |
		awk -v p="$2" 'function hex(x) { return (index("0123456789abcdef", substr(x, 1, 1)) - 1) * 16 + index("0123456789abcdef", substr(x, 2, 1)) - 1 }
		$2 ~ /^1503/ { k = ($1 == p ? "nginx " : "client ") hex(substr($2, 11, 2)) "/" hex(substr($2, 13, 2)); n[k]++ }
		END { for (k in n) { printf "%s%s x%d", s, k, n[k]; s = ", " } }'
}

# tls_codes ROLE: what curl said of each of ROLE's connections (the third
# field of its ports lines: an exit code or an HTTP status), space
# separated.
tls_codes() {
	awk -v r="$1" '$1 == r { printf "%s%s", s, $3; s = " " }' "$work/ports"
}

# TLS handshakes that fail, against nginx 1.22 (OpenSSL 3.0): a client
# offering TLS 1.3 only to a server of TLS 1.2 only, in a reconnect loop;
# a server requiring client certificates and curl without one; clients
# that reject the server's self-signed certificate; curl -k beside them.
sc_tls_failures() {
	host client; host server; wire client server
	local d=$work/nginx
	self_signed "$d"
	# The CA nginx checks client certificates against (no client has one).
	openssl req -x509 -newkey rsa:2048 -nodes -keyout "$d/ca.key" -out "$d/ca.pem" -days 2 -subj /CN=lab-ca \
		>>"$work/log" 2>&1 || die "openssl: $(tail -3 "$work/log")"
	mkdir -p "$d/html"
	echo ok >"$d/html/ok"
	cat >"$d/nginx.conf" <<CONF
worker_processes 1;
pid $d/nginx.pid;
error_log $d/error.log info;
events { worker_connections 256; }
http {
	access_log $d/access.log;
	client_body_temp_path $d/tmp;
	proxy_temp_path $d/tmp;
	fastcgi_temp_path $d/tmp;
	uwsgi_temp_path $d/tmp;
	scgi_temp_path $d/tmp;
	keepalive_timeout 65s;
	ssl_certificate $d/cert.pem;
	ssl_certificate_key $d/key.pem;
	root $d/html;
	# TLS 1.2 only.
	server { listen $server_ip:8443 ssl; ssl_protocols TLSv1.2; }
	# Client certificates required.
	server {
		listen $server_ip:8444 ssl;
		ssl_protocols TLSv1.2 TLSv1.3;
		ssl_client_certificate $d/ca.pem;
		ssl_verify_client on;
	}
	# A self-signed certificate the clients are not told to trust.
	server { listen $server_ip:8445 ssl; ssl_protocols TLSv1.2 TLSv1.3; }
	# The controls (curl -k).
	server { listen $server_ip:8446 ssl; ssl_protocols TLSv1.2 TLSv1.3; }
}
CONF
	run_nginx server "$d"
	listening server 8443
	listening server 8446
	# A python ssl client with verification on (the default context, TLS
	# 1.2 at most: its alert goes in the clear), N times, GAP s apart.
	local reject='
import socket, ssl, sys, time
host, port, n, gap = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4])
ctx = ssl.create_default_context()
ctx.maximum_version = ssl.TLSVersion.TLSv1_2
for i in range(n):
    s = socket.create_connection((host, port), timeout=5)
    print("reject12", s.getsockname()[1], flush=True)
    try:
        ctx.wrap_socket(s, server_hostname="lab").close()
    except ssl.SSLError as e:
        print("reject12:", e, file=sys.stderr)
    s.close()
    if i < n - 1:
        time.sleep(gap)
'
	local url=https://$server_ip
	capture client "$client_if" "$work/cap.pcap"
	begin tls-failures
	# The reconnect loop: 15 attempts 200 ms apart, each a new curl
	# offering TLS 1.3 only.
	client client bash -c "for i in \$(seq 15); do curl -sk -o /dev/null --tlsv1.3 --tls-max 1.3 --max-time 3 \
		-w 'mismatch %{local_port} %{exitcode}\n' $url:8443/ok; sleep 0.2; done"
	# Three rounds, 4 s apart, of: curl -k without a client certificate;
	# curl (TLS 1.3) and python (TLS 1.2) rejecting the certificate; curl -k.
	until_t 0.3
	client client bash -c "for i in 1 2 3; do curl -sk -o /dev/null --max-time 3 \
		-w 'nocert %{local_port} %{http_code}\n' $url:8444/ok; sleep 4; done"
	until_t 0.5
	client client bash -c "for i in 1 2 3; do curl -s -o /dev/null --max-time 3 \
		-w 'reject13 %{local_port} %{exitcode}\n' $url:8445/ok; sleep 4; done"
	until_t 0.7
	client client $py -c "$reject" "$server_ip" 8445 3 4
	until_t 0.9
	client client bash -c "for i in 1 2 3; do curl -sk -o /dev/null --max-time 3 \
		-w 'ok %{local_port} %{http_code}\n' $url:8446/ok; sleep 4; done"
	until_t 1.7 # the loop's eighth attempt or so, one round of the rest
	cut early client server
	until_t 5.5 # the loop over, the second round done
	cut mid client server
	until_t 12 # everything over
	cut late client server
	finish "$work/cap.pcap"
	local late=$out/$name@late.pcap c n storm=
	for c in early mid late; do
		n=$(refused "$out/$name@$c.pcap" 8443 "" | grep -c .) || true
		[ "$n" -lt 5 ] || storm=${storm:+$storm,}$c
	done
	local a43 a44 a45 cfirst r44 c44 r45 mx
	mx=$(tls_codes mismatch | tr ' ' '\n' | sort -u | paste -sd/)
	a43=$(alert_summary "$late" 8443) a44=$(alert_summary "$late" 8444) a45=$(alert_summary "$late" 8445)
	cfirst=$(client_first "$late" 8443)
	r44=$(reset_by "$late" "$server_ip" | tr , '\n' | grep -xF -f <(ports nocert | tr , '\n') | paste -sd,) || true
	c44=$(tshark -r "$late" -Y "ip.src == $client_ip && tcp.dstport == 8444 && tcp.flags.reset == 1" -T fields -e tcp.srcport 2>/dev/null | sort -un | paste -sd,)
	r45=$(tshark -r "$late" -Y "ip.src == $client_ip && tcp.dstport == 8445 && tcp.flags.reset == 1" -T fields -e tcp.srcport 2>/dev/null | sort -un | paste -sd,)
	echo "lab: $name: 8443: curl exit $(tls_codes mismatch); alerts ${a43:-none}; the client's FIN first on ${cfirst:-none}; storm at ${storm:-none}" >&2
	echo "lab: $name: 8444: HTTP $(tls_codes nocert), alerts ${a44:-none}, nginx reset ${r44:-none}, curl reset ${c44:-none}; 8445: curl exit $(tls_codes reject13), alerts ${a45:-none}, client reset ${r45:-none}; 8446: HTTP $(tls_codes ok)" >&2
	grep -m1 'unsupported protocol' "$d/error.log" | sed 's/^/  nginx: /' >&2 || true
	grep -m1 'no required SSL certificate' "$d/error.log" | sed 's/^/  nginx: /' >&2 || true
	grep -m1 'alert unknown ca' "$d/error.log" | sed 's/^/  nginx: /' >&2 || true
	echo "lab: $name: nginx's log: $(grep -c 'unsupported protocol' "$d/error.log") x \"unsupported protocol\", $(grep -c 'client sent no required SSL certificate' "$d/error.log") x \"client sent no required SSL certificate\", $(grep -c 'alert unknown ca' "$d/error.log") x \"alert unknown ca\"" >&2
	expect <<EXP
# TLS handshakes that fail, against nginx 1.22 (OpenSSL 3.0), and what
# the packets show of each. Alerts in the clear at the late cut
# (level/description): 8443 ${a43:-none}; 8445 ${a45:-none}.
# - 8443 (ssl_protocols TLSv1.2): 15 curl --tlsv1.3 --tls-max 1.3, 200 ms
#   apart, each a new process (curl's exit: $mx). nginx answers the
#   ClientHello with a fatal alert in the clear, protocol_version (70;
#   15 03 03 00 02 02 46), and closes at once (FIN, within a
#   millisecond): "unsupported protocol" in its log (at info). curl
#   closes in turn, or first when the alert reached it before nginx's
#   FIN. The server refused the handshake: accept then close with a TLS
#   alert, and from one client at 5 a second a reconnect storm. The
#   client's FIN first: ${cfirst:-none}.
# - 8444 (ssl_verify_client on; no client has a certificate): curl -k
#   completes the TLS 1.3 handshake and sends its request; nginx answers
#   400 ("No required SSL certificate was sent", encrypted), then
#   close_notify and FIN; curl, having read it, sends its close_notify
#   and FIN too. The one that comes after the other's close is answered
#   with RST: nginx's (${r44:-none}) or curl's (${c44:-none}). The packets
#   show a TLS exchange and a close, as after any response with
#   "Connection: close": no refusal at accept, no leak, no stale reuse;
#   the RST at most Info.
# - 8445 (a self-signed certificate): curl without -k (TLS 1.3) and
#   python ssl with verification (TLS 1.2 at most) reject nginx's
#   certificate after its first flight with a fatal alert in the clear,
#   unknown_ca (48), and close with the rest of that flight unread: RST
#   (nginx closing at once on the alert: the RST comes after its FIN,
#   or before it). The client's reset at most Info; no refusal by the
#   server. Reset: ${r45:-none}.
# - 8446: curl -k, served (200) and closed.
expect sport=8443 n>=5 : accept_then_close(server) !stale_reuse_reset(client) !close_wait_leak(client) !close_wait_leak(server) !open(client)
@late expect sport=8443 n>=15 : accept_then_close(server)
@${storm:-late} finding reconnect_storm
@${storm:-late} infinding sport=8443 : reconnect_storm
@${storm:-late} says reconnect_storm : to $server_ip:8443 in
@${storm:-late} says reconnect_storm : the server accepted and closed every one at once, after refusing the client with a TLS alert instead of its hello, fatal protocol_version (70)
@late says reconnect_storm : opened 15 connections to $server_ip:8443
expect sport=8444 n>=1 : !accept_then_close(server) !stale_reuse_reset(client) !close_wait_leak(client) !close_wait_leak(server) !open(client)
@late expect sport=8444 n>=3 : !accept_then_close(server)
healthy sport=8444
expect sport=8445 cport=$(ports reject13) n>=1 : reset(client) !accept_then_close(server) !stale_reuse_reset(client) !close_wait_leak(server)
expect sport=8445 cport=$(ports reject12) n>=1 : reset(client) !accept_then_close(server) !stale_reuse_reset(client) !close_wait_leak(server)
@late expect sport=8445 n>=6 : reset(client)
healthy sport=8445
expect sport=8446 n>=1 : clean(client)|clean(server)
healthy sport=8446
nofinding close_wait_leak
@${storm:-late} nofinding accept_then_close
noproblem stale_reuse_reset
# A fatal TLS alert in answer to the ClientHello is a handshake the
# server refused (no protocol version or cipher suite in common, here
# protocol_version; an SNI name it does not serve), no connection cap.
@early,mid,late says reconnect_storm : it refuses the client's TLS handshake, not a connection limit: no TLS version the client offers is one the server accepts
@early,mid,late says reconnect_storm : not a connection limit
EXP
}

# sshd_probe: a python client of sshd ("sshprobe.py MODE IP PORT ROLE"):
# MODE quiet connects and sends nothing; MODE banner reads sshd's
# identification line and sends its own, then nothing more. Each prints
# "ROLE PORT", reads until sshd closes (up to 20 s), closes and says on
# stderr what it got and how the connection ended.
sshd_probe() {
	cat >"$1" <<'PY'
import socket, sys, time

mode, ip, port, role = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
s = socket.create_connection((ip, port), timeout=5)
print("%s %d" % (role, s.getsockname()[1]), flush=True)
t0 = time.time()
s.settimeout(20)
got, end = b"", "still open after 20 s"
try:
    if mode == "banner":
        while not got.endswith(b"\n"):
            b = s.recv(1)
            if not b:
                break
            got += b
        s.sendall(b"SSH-2.0-labprobe\r\n")
    while True:
        b = s.recv(4096)
        if not b:
            end = "EOF"
            break
        got += b
except OSError as e:
    end = repr(e)
print("sshprobe: %s %d: %s after %.2f s, having got %d bytes %r" % (role, s.getsockname()[1], end, time.time() - t0, len(got), got[:40]), file=sys.stderr, flush=True)
s.close()
PY
}

# OpenSSH's server enforcing its connection limits and timeouts.
sc_sshd_limits() {
	host client; host server; wire client server
	local d=$work/ssh
	mkdir -p "$d"
	# sshd needs its privilege separation directory (Debian's service
	# makes it at start).
	mkdir -p -m 755 /run/sshd
	ssh-keygen -q -t ed25519 -N '' -f "$d/host_ed25519"
	ssh-keygen -q -t ed25519 -N '' -f "$d/id"
	cp "$d/id.pub" "$d/authorized_keys"
	cat >"$d/sshd_config" <<CONF
ListenAddress $server_ip:22
HostKey $d/host_ed25519
PidFile $d/sshd.pid
AuthorizedKeysFile $d/authorized_keys
StrictModes no
UsePAM no
PermitRootLogin prohibit-password
PasswordAuthentication yes
KbdInteractiveAuthentication no
PrintMotd no
LogLevel VERBOSE
LoginGraceTime 3
MaxStartups 3:100:3
ClientAliveInterval 1
ClientAliveCountMax 2
CONF
	# The askpass of a user who takes 5 s to type a (wrong) password.
	printf '#!/bin/sh\nsleep 5\necho wrong\n' >"$d/askpass"
	chmod 755 "$d/askpass"
	sshd_probe "$work/sshprobe.py"
	/usr/sbin/sshd -t -f "$d/sshd_config" || die "sshd -t: the configuration is wrong"
	on server /usr/sbin/sshd -D -f "$d/sshd_config" -E "$d/sshd.log"
	listening server 22
	# sshc ROLE SECONDS ARG...: ssh from the client (at most SECONDS), in
	# the background, its messages in ssh-ROLE.err.
	sshc() {
		local role=$1 secs=$2
		shift 2
		ip netns exec "$tag-client" timeout "$secs" ssh -F /dev/null -o UserKnownHostsFile=/dev/null \
			-o StrictHostKeyChecking=no -o LogLevel=INFO "$@" >>"$work/log" 2>>"$work/ssh-$role.err" &
		pids+=($!)
	}
	local key="-o BatchMode=yes -o IdentitiesOnly=yes -i $d/id"
	capture client "$client_if" "$work/cap.pcap"
	begin sshd-limits
	# Sessions with key auth: two whose clients will stop answering
	# ("gone": the path cut; "frozen": the process stopped), one echoing a
	# line a second to the end ("ticks").
	sshc gone 30 $key "root@$server_ip" sleep 25
	newport client 22 gone
	sshc frozen 30 $key "root@$server_ip" sleep 25
	newport client 22 frozen
	bash -c 'for i in $(seq 20); do echo tick $i; sleep 1; done' |
		ip netns exec "$tag-client" timeout 30 ssh -F /dev/null -o UserKnownHostsFile=/dev/null \
			-o StrictHostKeyChecking=no -o LogLevel=INFO $key "root@$server_ip" cat >>"$work/log" 2>>"$work/ssh-ticks.err" &
	pids+=($!)
	newport client 22 ticks
	for _ in $(seq 50); do
		[ "$(grep -c 'Accepted publickey' "$d/sshd.log")" -ge 3 ] && break
		sleep 0.1
	done
	until_t 1
	# Three clients that never authenticate fill MaxStartups (3): socat
	# reading sshd's banner and sending nothing ("silent"); a python
	# socket sending its own banner, then nothing ("banner"); ssh whose
	# user is slow to type the password ("slowpw": askpass, 5 s).
	on client timeout 20 socat -u "TCP:$server_ip:22" "OPEN:$work/silent.out,creat"
	newport client 22 silent
	client client timeout 20 $py "$work/sshprobe.py" banner "$server_ip" 22 banner
	for _ in $(seq 50); do grep -q '^banner ' "$work/ports" && break; sleep 0.05; done
	SSH_ASKPASS="$d/askpass" SSH_ASKPASS_REQUIRE=force sshc slowpw 20 -o PubkeyAuthentication=no \
		-o PreferredAuthentications=password -o NumberOfPasswordPrompts=1 "slowtyper@$server_ip" true </dev/null
	newport client 22 slowpw
	local g
	g=$(awk -v t0="$t0" -v now="$(date +%s.%N)" 'BEGIN { printf "%.2f", now - t0 }')
	until_t 1.5
	# Six more while the three hold every slot: dropped. A raw socket
	# sending nothing and ssh, in turn, 250 ms apart.
	local i
	for i in 1 2 3; do
		client client timeout 10 $py "$work/sshprobe.py" quiet "$server_ip" 22 dropraw
		sleep 0.25
		sshc dropssh$i 10 $key "root@$server_ip" true
		sleep 0.25
	done
	until_t 3.3 # the three are 2.1-2.3 s old
	cut early client server
	# sshd closes the three 3 s after accepting them.
	for _ in $(seq 40); do
		[ "$(ip netns exec "$tag-server" ss -tnH "sport = :22" | grep -c ESTAB)" -le 3 ] && break
		sleep 0.05
	done
	sleep 0.1
	cut mid client server
	# "gone" stops answering: the client drops its packets both ways;
	# "frozen" is stopped (SIGSTOP): its kernel still acknowledges.
	local gone frozen fpid
	gone=$(ports gone) frozen=$(ports frozen)
	fpid=$(ip netns exec "$tag-client" ss -tnpH "sport = :$frozen" | sed -n 's/.*"ssh",pid=\([0-9]*\),.*/\1/p')
	[ -n "$fpid" ] || die "no ssh process on port $frozen"
	ip netns exec "$tag-client" nft add table inet flowdoc
	ip netns exec "$tag-client" nft add chain inet flowdoc in '{ type filter hook input priority 0; }'
	ip netns exec "$tag-client" nft add chain inet flowdoc out '{ type filter hook output priority 0; }'
	ip netns exec "$tag-client" nft add rule inet flowdoc in tcp dport "$gone" drop
	ip netns exec "$tag-client" nft add rule inet flowdoc out tcp sport "$gone" drop
	kill -STOP "$fpid"
	local cutoff
	cutoff=$(awk -v t0="$t0" -v now="$(date +%s.%N)" 'BEGIN { printf "%.2f", now - t0 }')
	sleep 0.5
	# A session that ends normally.
	sshc done 10 $key "root@$server_ip" true
	newport client 22 done
	local gave=
	for _ in $(seq 150); do
		if [ "$(grep -c 'Timeout, client not responding' "$d/sshd.log")" -ge 2 ]; then
			gave=$(awk -v t0="$t0" -v now="$(date +%s.%N)" 'BEGIN { printf "%.1f", now - t0 }')
			break
		fi
		sleep 0.1
	done
	until_t 14.5
	cut late client server
	finish "$work/cap.pcap"
	sed 's/^/  sshd: /' "$d/sshd.log"
	for i in "$work"/ssh-*.err; do sed "s/^/  $(basename "$i" .err): /" "$i"; done
	echo "lab: $name: grace clients at $g s, gone cut off and frozen stopped at $cutoff s, sshd gave up on both by ${gave:-never} s" >&2
	local late=$out/$name@late.pcap dropped dropraw dropssh grace
	dropped=$(sed -n 's/.*drop connection #[0-9]* from \[[^]]*\]:\([0-9]*\) .*/\1/p' "$d/sshd.log" | paste -sd,)
	dropraw=$(ports dropraw)
	dropssh=$(echo "$dropped" | tr , '\n' | grep -vxF -f <(echo "$dropraw" | tr , '\n') | paste -sd,) || true
	grace=$(ports silent),$(ports banner),$(ports slowpw)
	# What was on the wire, per connection: the server's bytes, its FIN or
	# RST (seconds after the client's SYN), the client's data after the
	# server's FIN.
	local role p wire=
	for role in gone frozen ticks silent banner slowpw dropraw dropssh done; do
		for p in $( [ $role = dropssh ] && echo "$dropssh" | tr , ' ' || ports $role | tr , ' '); do
			wire+="#   $role $(sshd_wire "$late" "$p")"$'\n'
		done
	done
	printf '%s' "$wire" | sed "s/^#  /lab: $name:/" >&2
	expect <<EXP
# OpenSSH 9.2p1 (Debian 1:9.2p1-2+deb12u10), sshd -D with its own config:
# LoginGraceTime 3, MaxStartups 3:100:3, ClientAliveInterval 1,
# ClientAliveCountMax 2; clients ssh 9.2p1, socat, python sockets.
# Measured in the late capture (times after the client's SYN; the
# server's bytes count retransmissions):
$wire# - LoginGraceTime: three clients that never authenticate ($grace):
#   socat reading sshd's banner and sending nothing ("silent"); a python
#   socket that sends its own banner and nothing more ("banner"): sshd's
#   KEXINIT is unanswered; ssh whose user takes 5 s to type a password
#   ("slowpw", SSH_ASKPASS): key exchange done, USERAUTH_REQUEST "none"
#   answered with the methods, then the prompt. sshd's child exits 3.0 s
#   after the accept (SIGALRM; Debian's build, since its fix for
#   CVE-2024-6387, logs nothing for it): a bare FIN, no SSH_MSG_DISCONNECT
#   nor any other byte before it. The silent and banner clients close at
#   once (FIN; the server holds TIME-WAIT). ssh, blocked in its askpass,
#   leaves the FIN unread (CLOSE-WAIT at the mid cut, a fraction of a
#   second old) and sends its USERAUTH_REQUEST (password, 148 bytes) some
#   2.3 s after the FIN: RST from the server's orphaned socket; ssh says
#   "Connection closed by $server_ip port 22". The server's timeout for a
#   client that never completed its handshake and authentication, counted
#   from the accept (the idle times before the FINs differ: about 3.0,
#   3.0 and 2.7 s): not a client leak, not a pool's stale reuse.
# - MaxStartups 3:100:3: while the three hold every unauthenticated slot,
#   six more connections ($dropped), 250 ms apart,
#   each a new client: sshd accepts each and drops it at once ("drop
#   connection #3 ... past MaxStartups"), writing "Exceeded
#   MaxStartups\r\n" (22 bytes) first. A raw socket that sends nothing
#   ("dropraw") gets the 22 bytes and a FIN within a millisecond of the
#   handshake and closes (the server holds TIME-WAIT). ssh ("dropssh")
#   sends its banner (41 bytes) as it connects: when it came in before
#   the close, sshd's close of a socket with unread data is an RST after
#   the 22 bytes ("kex_exchange_identification: read: Connection reset by
#   peer"); when it came in after the FIN, an RST answers it
#   ("kex_exchange_identification: Connection closed by remote host"). A
#   server refusing connections past its cap: accept_then_close, whether
#   it ended with FIN or RST, never a stale reuse.
# - ClientAlive: sshd probes a session whose client sent nothing for the
#   interval every 2 s (60 bytes; the 1 s interval is checked in whole
#   seconds), the client answers each at once (36 bytes). Two sessions
#   (key auth, "sleep 25") stop answering at $cutoff s: "gone" has its
#   packets dropped both ways by nftables on the client: sshd's next probe
#   is never acknowledged and is retransmitted with backoff to the end;
#   sshd gives up ("Timeout, client not responding") about 6 s after the
#   client's last answer, and its FIN stays queued behind the
#   unacknowledged probe (ss: FIN-WAIT-1, Send-Q 121): the capture cannot
#   show it, the client's ss says ESTAB. "frozen": the ssh process is
#   stopped (SIGSTOP): its kernel acknowledges sshd's next two probes,
#   nothing answers them, and sshd closes 2 s after the second, 6 s after
#   the client's last answer (FIN, no message): the client sits in
#   CLOSE-WAIT with the probes unread, its application hung.
# - Healthy: "ticks", a line a second echoed by cat, open to the end;
#   "done", ssh running true, closed by the client (SSH_MSG_DISCONNECT,
#   FIN first).
# The cuts: early (3.3 s) in the grace period of the three, after the
# drops; mid right after the grace closes (ssh in CLOSE-WAIT); late after
# sshd gave up on "gone" and "frozen" (${gave:-never} s).
expect cport=$dropped n>=6 : accept_then_close(server) !stale_reuse_reset(client) !close_wait_leak(client) !open(client)
# Six refused attempts from one host in 1.25 s (ssh processes of their
# own, but one host): a reconnect storm by the rule of five at one a
# second, whose words name sshd's MaxStartups.
infinding cport=$dropped : reconnect_storm
says reconnect_storm : sshd's "Exceeded MaxStartups"
@early healthy cport=$grace
@early expect cport=$grace n>=3 : open(client) !idle_timeout_close(server)
@mid,late expect cport=$(ports silent),$(ports banner) server.ss=TIME-WAIT n>=2 : idle_timeout_close(server) !accept_then_close(server) !close_wait_leak(client)
@mid expect cport=$(ports slowpw) client.ss=CLOSE-WAIT n>=1 : idle_timeout_close(server) !close_wait_leak(client) !accept_then_close(server)
@late expect cport=$(ports slowpw) n>=1 : idle_timeout_close(server) reset(server) !stale_reuse_reset(client) !close_wait_leak(client)
@mid,late infinding cport=$grace : idle_timeout_close
@mid,late says idle_timeout_close : closed 3 connections from $client_ip 3.0 s after accepting them
nofinding stale_reuse_reset
@early,mid healthy cport=$(ports gone),$(ports frozen)
@late expect cport=$(ports gone) client.ss=ESTAB n>=1 : peer_unreachable(client) !close_wait_leak(client) !clean(server)
@late expect cport=$(ports frozen) client.ss=CLOSE-WAIT n>=1 : idle_timeout_close(server) close_wait_leak(client)
@late finding peer_unreachable
healthy cport=$(ports ticks)
expect cport=$(ports ticks) client.ss=ESTAB n>=1 : open(client)
@late healthy cport=$(ports done)
@late expect cport=$(ports done) n>=1 : clean(client)|clean(server)
EXP
}

# sshd_wire FILE CPORT: what the capture FILE shows of the connection
# from CPORT to port 22: the server's payload bytes, its FIN and RST
# (seconds after the client's SYN), the client's data after the FIN.
sshd_wire() {
	tshark -r "$1" -Y "tcp.port == $2" -T fields -e frame.time_relative -e tcp.srcport -e tcp.flags.syn -e tcp.flags.ack \
		-e tcp.flags.fin -e tcp.flags.reset -e tcp.len 2>/dev/null |
		awk -v p="$2" '$2 == p && $3 == 1 && $4 == 0 { syn = $1 }
			$2 == 22 { sb += $7; if ($5 == 1 && fin == "") fin = $1; if ($6 == 1 && rst == "") rst = $1 }
			$2 == p && fin != "" && $7 > 0 { late += $7; if (lt == "") lt = $1 }
			END { printf "%s: server sent %d bytes, FIN %s, RST %s; client data after the FIN: %d bytes%s\n", p, sb,
				fin == "" ? "none" : sprintf("+%.3f s", fin - syn), rst == "" ? "none" : sprintf("+%.3f s", rst - syn),
				late, lt == "" ? "" : sprintf(" at +%.3f s", lt - syn) }'
}
# HAProxy at its connection limits in front of a slow backend (gunicorn,
# /slow answered after 1.5 s): a frontend's maxconn (the kernel's accept
# queue behind it), a server's maxconn (HAProxy's own queue, timeout
# queue), timeout client and timeout http-keep-alive.
sc_haproxy_maxconn() {
	host client; host proxy; host server
	wire client proxy
	local front=$proxy_ip
	wire proxy server
	# A new namespace's default, written out: SYN cookies when the SYN
	# queue is full.
	ip netns exec "$tag-proxy" sysctl -qw net.ipv4.tcp_syncookies=1
	mkdir -p "$work/app"
	cat >"$work/app/app.py" <<'APP'
import time

def app(environ, start_response):
    if environ["PATH_INFO"] == "/slow":
        time.sleep(1.5)
    body = b"ok\n"
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", str(len(body)))])
    return [body]
APP
	# gunicorn, 8 sync workers: one request per connection (it answers
	# "Connection: close" and closes first), 8 at once.
	on server $py -m gunicorn --chdir "$work/app" -k sync -w 8 -b "$server_ip:8000" app:app
	# HAProxy 2.6, one thread, its log (httplog: timers and termination
	# state) on stdout. Port 8080: maxconn 4 and listen(4): HAProxy stops
	# accepting while it holds 4 connections, the kernel's accept queue
	# holds 5 (backlog + 1), then drops SYNs (and handshake ACKs). Port
	# 8081: a server with maxconn 1, requests waiting in HAProxy's queue
	# 2 s at most (timeout queue), then 503. Port 8082: timeout client 3s
	# (with no timeout http-request it bounds the wait for a request too:
	# 408) and timeout http-keep-alive 2s. No option abortonclose: a
	# request whose client closed is still queued and forwarded.
	cat >"$work/haproxy.cfg" <<CONF
global
	pidfile $work/haproxy.pid
	nbthread 1
	log stdout format raw local0 info
defaults
	mode http
	log global
	option httplog
	timeout connect 2s
	timeout client 10s
	timeout server 10s
	timeout http-keep-alive 2s
frontend capped
	bind $front:8080 backlog 4
	maxconn 4
	default_backend app
frontend queued
	bind $front:8081
	default_backend one
frontend idle
	bind $front:8082
	timeout client 3s
	timeout http-keep-alive 2s
	default_backend app
backend app
	server gunicorn $server_ip:8000
backend one
	timeout queue 2s
	server gunicorn $server_ip:8000 maxconn 1
CONF
	on proxy haproxy -db -f "$work/haproxy.cfg"
	listening server 8000 20
	listening proxy 8080
	listening proxy 8081
	listening proxy 8082
	local i
	for i in $(seq 100); do
		[ "$(grep -c "Booting worker" "$work/log")" -ge 8 ] && break
		[ "$i" -lt 100 ] || die "gunicorn started no workers: $(tail -5 "$work/log")"
		sleep 0.1
	done
	sleep 1
	: >"$work/curl"
	: >"$work/socat"
	capture proxy any "$work/cap.pcap" -B 16384
	begin haproxy-maxconn
	# The clock starts at the burst (the curls take a few hundred ms to
	# start, all together): a watcher in the client host, started first.
	ip netns exec "$tag-client" bash -c 'for i in $(seq 1000); do
		ss -tanH "dport = :8080" | grep -q . && exit 0
		sleep 0.005
	done; exit 1' &
	local watch=$!
	pids+=($watch)
	sleep 0.3
	# 18 curl --max-time 5 at once to /slow on 8080, 5 curl --max-time 8
	# at once to /slow on 8081, and one more there 0.1 s later with
	# --max-time 1.2, last in HAProxy's queue (it gives up while queued).
	for i in $(seq 18); do
		ip netns exec "$tag-client" curl -s -o /dev/null --max-time 5 \
			-w 'capped %{http_code} %{local_port} %{time_connect} %{time_total} %{exitcode}\n' \
			"http://$front:8080/slow" >>"$work/curl" 2>>"$work/log" &
		pids+=($!)
	done
	for i in $(seq 5); do
		ip netns exec "$tag-client" curl -s -o /dev/null --max-time 8 \
			-w 'queued %{http_code} %{local_port} %{time_connect} %{time_total} %{exitcode}\n' \
			"http://$front:8081/slow" >>"$work/curl" 2>>"$work/log" &
		pids+=($!)
	done
	wait "$watch" || die "the curls did not start"
	t0=$(date +%s.%N)
	sleep 0.1
	ip netns exec "$tag-client" curl -s -o /dev/null --max-time 1.2 \
		-w 'queued %{http_code} %{local_port} %{time_connect} %{time_total} %{exitcode}\n' \
		"http://$front:8081/slow" >>"$work/curl" 2>>"$work/log" &
	pids+=($!)
	# On 8082: curl with three URLs on one connection (closed at its
	# exit); an http.client connection reused after 4 s idle and a
	# requests Session after 4.5 s (0.5 s and 0.8 s after the burst);
	# socat sending half a request (no blank line) and socat sending
	# nothing, both reading HAProxy's answer and closing 0.2 s after its
	# FIN.
	ip netns exec "$tag-client" curl -s -o /dev/null -o /dev/null -o /dev/null --max-time 8 \
		-w 'multi %{http_code} %{local_port} %{time_connect} %{time_total} %{exitcode}\n' \
		"http://$front:8082/fast" "http://$front:8082/fast" "http://$front:8082/slow" >>"$work/curl" 2>>"$work/log" &
	pids+=($!)
	client client $pylab pooled "$front" 8082 "$(awk -v t="$t0" 'BEGIN { printf "%.3f", t + 0.5 }')" 20 \
		hc:stale:0,4:close rs:session:0.3,4.5:close
	ip netns exec "$tag-client" bash -c '{ printf "GET /fast HTTP/1.1\r\nHost: x\r\n"; sleep 6; } |
		socat -t 0.2 - TCP:$0:8082' "$front" >>"$work/socat" 2>>"$work/log" &
	pids+=($!)
	ip netns exec "$tag-client" bash -c 'sleep 6 | socat -t 0.2 - TCP:$0:8082' "$front" >>"$work/socat" 2>>"$work/log" &
	pids+=($!)
	local early mid late
	until_t 1.6
	cut early client proxy server
	early=$(listen_counters proxy)
	until_t 3.25
	cut mid client proxy server
	mid=$(listen_counters proxy)
	until_t 14
	cut late client proxy server
	late=$(listen_counters proxy)
	finish "$work/cap.pcap"
	# served: connected at once; servedlate: connected after SYNs sent
	# again; timedout: curl gave up (exit 28) after a handshake; on 8081
	# got200, got503, and gaveup (curl's exit 28).
	awk '$1 == "capped" && $3 != 0 { print ($2 != 200 ? "timedout" : $4 < 0.5 ? "served" : "servedlate"), $3 }
		$1 == "queued" { print ($6 == 28 ? "gaveup" : "got" $2), $3 }
		$1 == "multi" { print "multi", $3 }' "$work/curl" >>"$work/ports"
	echo "lab: $name: $(command cut -d" " -f1 "$work/ports" | sort | uniq -c | tr -s "\\n " " ")" >&2
	local t408 nosyn log
	# The connections HAProxy answered 408, and those to 8080 never
	# answered at all.
	t408=$(tshark -r "$out/$name@late.pcap" -Y "tcp.srcport == 8082 && http.response.code == 408" -T fields -e tcp.dstport 2>/dev/null |
		sort -un | paste -sd,)
	nosyn=$(tshark -r "$out/$name@late.pcap" -Y "tcp.port == 8080 && tcp.flags.syn == 1" -T fields -e tcp.srcport -e tcp.dstport 2>/dev/null |
		awk '$2 == 8080 { c[$1] = 1 } $1 == 8080 { a[$2] = 1 } END { for (p in c) if (!a[p]) { printf "%s%s", s, p; s = "," } }')
	# HAProxy's log: frontend, status and termination state, counted.
	log=$(awk '$1 ~ /^10\.99\./ && $3 ~ /^(capped|queued|idle)$/ { n[$3 " " $6 " " $10]++ }
		END { for (k in n) printf "%s x%d; ", k, n[k] }' "$work/log" | sed 's/; $//')
	local burst c at cuts_at="" queue="" mid408
	# The moments of the cuts, from the burst's first SYN.
	burst=$(tshark -r "$out/$name@late.pcap" -Y "tcp.dstport == 8080 && tcp.flags.syn == 1" -T fields -e frame.time_epoch 2>/dev/null | awk "NR == 1")
	for c in early mid late; do
		at=$(date -d "$(sed -n 's/^at //p' "$out/$name@$c.truth")" +%s.%N)
		cuts_at+=$(awk -v c="$c" -v a="$at" -v b="$burst" 'BEGIN { printf "%s%s %.2f s", (c == "early" ? "" : ", "), c, a - b }')
		queue+=$(awk -v c="$c" '$1 == "LISTEN" && $4 ~ /:8080$/ { printf "%s%s %s/%s", (c == "early" ? "" : ", "), c, $2, $3 }' "$out/$name@$c.truth")
	done
	# The 408s' clients at the mid cut.
	mid408=$(awk -v l=",$t408," '$1 != "LISTEN" && $4 ~ /^10\.99\.1\.1:/ { p = $4; sub(/.*:/, "", p); if (index(l, "," p ",")) { printf "%s%s %s", s, p, $1; s = ", " } }' "$out/$name@mid.truth")
	expect <<EXP
# HAProxy 2.6 in front of gunicorn (8 sync workers, /slow after 1.5 s,
# "Connection: close" and its FIN after every response: HAProxy's
# connections to it close at once, HAProxy's last word often an RST),
# captured on the proxy (-i any). The cuts, after the burst's first SYN:
# $cuts_at.
# - Port 8080, frontend maxconn 4, bind backlog 4: HAProxy holds 4
#   connections and stops accepting; the kernel completes 5 more
#   handshakes into the accept queue (backlog + 1; their requests
#   acknowledged by the kernel, unread) and drops the other SYNs
#   (ListenOverflows), and, when a burst of SYNs sent again finds fewer
#   places than SYNs, a handshake's ACK and request (SYN-ACK sent again).
#   18 curl --max-time 5 at once: 4 served at 1.5 s, the 5 queued in the
#   kernel at 3.0 and 4.5 s (a slow answer as far as their packets
#   tell), those whose SYNs were dropped answered at the SYN sent again
#   that found a place (sent again 1 s apart: net.ipv4.
#   tcp_syn_linear_timeouts); the others give up at
#   5 s (FIN) with their request still queued, and HAProxy, no option
#   abortonclose, takes them anyway and forwards them: gunicorn's
#   answers come 1-2.5 s after the client left, which the client's
#   kernel resets. No leak: HAProxy closes every connection. This
#   recording: $(awk '{ n[$1]++ } END { printf "%d served at once, %d served late, %d timed out after a handshake", n["served"], n["servedlate"], n["timedout"] }' "$work/ports"),
#   never answered: ${nosyn:-none}. $(handshakes "$out/$name@late.pcap" 8080).
#   The listen queue of 8080 (ss Recv-Q/Send-Q): $queue.
#   The proxy's counters (nstat) at the cuts: early: $early; mid: $mid; late: $late.
# - Port 8081, a server line with maxconn 1 and timeout queue 2s: 5 curl
#   at once, one request at gunicorn, the others wait in HAProxy's queue
#   (no upstream connection); the second leaves it at 1.5 s (served at
#   3.0 s), the other three get HAProxy's 503 ("No server is available
#   to handle this request.") 2.0 s after their request: the proxy
#   answering, the client closing at once (curl's exit), HAProxy in turn.
#   One more curl, --max-time 1.2, last in the queue: it gives up
#   (FIN) while queued; HAProxy keeps the request (no abortonclose) and
#   answers it 503 at the queue timeout, which the client's kernel
#   resets. Until then HAProxy's socket of it sits in CLOSE_WAIT (at the
#   early cut) with its request unanswered: no leak.
# - Port 8082, timeout http-keep-alive 2s, timeout client 3s (no timeout
#   http-request: it is the wait for a request too): curl with three
#   URLs on one connection, closed at its exit; an http.client
#   connection and a requests Session idle after one request: HAProxy
#   closes them 2.0 s after its response (FIN, nothing sent first; the
#   responses carry gunicorn's Server header, but gunicorn closed its own
#   connections after each response: the keep-alive timeout is HAProxy's);
#   http.client reuses its connection 4 s after its response (RST, an
#   error to its caller, not retried), the Session notices the close at
#   its next request (4.5 s) and connects anew. socat sending half a
#   request (no blank line) and socat sending nothing: HAProxy answers
#   "408 Request Time-out" with FIN 3.0 s after the connection opened
#   (${t408:-none}); socat reads it and closes 0.2 s after (at the mid
#   cut, ss on the client: ${mid408:-none}).
# HAProxy's log (frontend, status, termination state): $log.
finding listen_overflow
nofinding unanswered_syn
nofinding handshake_incomplete
nofinding peer_unreachable
nofinding accept_then_close
nofinding reconnect_storm
@early,mid noproblem close_wait_leak
@late nofinding close_wait_leak
# 8080: those served at once (accepted, or queued in the kernel's
# accept queue: a slow answer as far as the capture can tell) are
# healthy; every other hit the full queue: its SYNs dropped (while the
# server completed other handshakes in the same milliseconds), or its
# handshake's ACK and request.
healthy cport=$(ports served)
expect sport=8080 cport!=$(ports served) n>=9 : listen_overflow(server) !close_wait_leak(server)
infinding sport=8080 cport!=$(ports served) : listen_overflow
# curl's --max-time: the client gives up and closes (FIN); HAProxy takes
# and answers the request later, and the client's kernel resets: no
# leak, no stale reuse.
@late expect cport=$(ports timedout) n>=1 : idle_timeout_close(client) !close_wait_leak(server) !stale_reuse_reset(server)
# 8081: HAProxy's 503 after its queue timeout is the proxy answering; the
# client closes first: healthy TCP, no refusal, no idle close.
healthy cport=$(ports got200),$(ports got503)
expect cport=$(ports got503) n>=3 : !accept_then_close(server) !idle_timeout_close(server) !close_wait_leak(server)
@mid,late expect cport=$(ports got503) n>=3 : clean(client)|clean(server)
# The client that gave up while queued: no leak on HAProxy, which answers
# it at its queue timeout.
@early expect cport=$(ports gaveup) n>=1 : !close_wait_leak(server)
@mid,late expect cport=$(ports gaveup) n>=1 : idle_timeout_close(client) !close_wait_leak(server) !stale_reuse_reset(server)
# 8082: HAProxy's keep-alive closes (timeout http-keep-alive 2s) and its
# 408s (timeout client 3s, waiting for a request) are idle-timeout
# closes of the server; the clients' CLOSE_WAITs are young (a pool that
# checks at its next use, socat reading the 408): no leak.
healthy cport=$(ports multi),$(ports session-new),$(ports session)
healthy cport=$t408
@mid,late expect cport=$(ports stale),$(ports session) n>=2 : idle_timeout_close(server) !close_wait_leak(client)
@late expect cport=$(ports stale) : stale_reuse_reset(client)
@late expect cport=$(ports session) : !stale_reuse_reset(client)
@mid,late expect cport=$t408 n>=2 : idle_timeout_close(server) !close_wait_leak(client) !accept_then_close(server)
@mid,late says idle_timeout_close : after 2.0 s without traffic
@mid,late says idle_timeout_close : HAProxy
@mid,late says idle_timeout_close : is a proxy in front of it, which passes the Server header on
@mid,late says idle_timeout_close : the request's headers never ended
@mid,late says idle_timeout_close : after the handshake, the clients having sent nothing on them, answering 408 Request Time-out first
@late says stale_reuse_reset : after 2.0 s idle
# HAProxy's connections to gunicorn: gunicorn closes after each
# response, HAProxy in turn (FIN or RST).
healthy sport=8000
expect sport=8000 n>=10 : !accept_then_close(server) !stale_reuse_reset(client) !close_wait_leak(client)
EXP
}

# php_fpm_conf DIR POOL...: a PHP-FPM of its own in DIR (php-fpm.conf, its
# log, its pools' access logs), one pool per POOL, "name:port:settings"
# with settings ';'-separated pool directives.
php_fpm_conf() {
	local d=$1 p name port settings
	shift
	mkdir -p "$d"
	{
		printf '[global]\npid = %s/php-fpm.pid\nerror_log = %s/php-fpm.log\nlog_level = notice\ndaemonize = no\n' "$d" "$d"
		for p in "$@"; do
			IFS=: read -r name port settings <<<"$p"
			printf '[%s]\nuser = www-data\ngroup = www-data\nlisten = %s:%s\n' "$name" "$server_ip" "$port"
			printf 'access.log = %s/%s.access.log\naccess.format = "%%t %%m %%r %%s %%d"\n' "$d" "$name"
			echo "$settings" | tr ';' '\n' | sed 's/^ *//'
		done
	} >"$d/php-fpm.conf"
}

# stat_of FILE SPORT KIND: the client ports (nginx's, to php-fpm's SPORT)
# of the connections in FILE of one KIND, comma separated: "unanswered"
# (SYNs, no SYN-ACK), "abandoned" (nginx's FIN before any answer of
# php-fpm's, then php-fpm's answer reset), "answered" (php-fpm's answer
# before any FIN), "killed" (php-fpm's FIN or RST with no answer at all).
stat_of() {
	tshark -r "$1" -Y "tcp.port == $2" -T fields -e tcp.srcport -e tcp.dstport -e tcp.flags.syn -e tcp.flags.ack \
		-e tcp.flags.fin -e tcp.flags.reset -e tcp.len 2>/dev/null |
		awk -v sp="$2" -v k="$3" '
			$2 == sp { c = $1; seen[c] = 1; if ($3 == 1) syn[c] = 1; if ($5 == 1 && !data[c]) cfin[c] = 1 }
			$1 == sp { c = $2; if ($3 == 1) synack[c] = 1; if ($7 > 0) data[c] = 1; if (($5 == 1 || $6 == 1) && !data[c]) sfin[c] = 1 }
			END {
				for (c in seen) {
					kind = !synack[c] ? "unanswered" : cfin[c] && data[c] ? "abandoned" : data[c] ? "answered" : sfin[c] ? "killed" : "other"
					if (kind == k) { printf "%s%s", s, c; s = "," }
				}
			}'
}

# fcgi_times FILE SPORT: per connection to SPORT in FILE, one line: client
# port, then the moments (s, from its SYN) of its request's end (the
# client's last data before any answer), the server's first data, the
# server's FIN or RST (F or R), the client's FIN or RST, "-" for none.
fcgi_times() {
	tshark -r "$1" -Y "tcp.port == $2" -T fields -e frame.time_epoch -e tcp.srcport -e tcp.dstport -e tcp.flags.syn \
		-e tcp.flags.ack -e tcp.flags.fin -e tcp.flags.reset -e tcp.len 2>/dev/null |
		awk -v sp="$2" '
			function at(x) { return x == "" ? "-" : sprintf("%.3f", x - t0[c]) }
			$3 == sp { c = $2; if ($4 == 1 && $5 == 0 && !(c in t0)) { t0[c] = $1; order[++n] = c }
				if ($8 > 0 && !(c in ans)) req[c] = $1
				if (($6 == 1 || $7 == 1) && !(c in cend)) { cend[c] = $1; ck[c] = $7 == 1 ? "R" : "F" } }
			$2 == sp { c = $3; if ($8 > 0 && !(c in ans)) ans[c] = $1
				if (($6 == 1 || $7 == 1) && !(c in send)) { send[c] = $1; sk[c] = $7 == 1 ? "R" : "F" } }
			END { for (i = 1; i <= n; i++) { c = order[i]
				printf "%s req %s ans %s srv %s%s cli %s%s\n", c, at(req[c]), at(ans[c]), sk[c], at(send[c]), ck[c], at(cend[c]) } }'
}

# first_closer FILE SPORT SERVER CLIENT: who sent the first FIN on the
# connections to SPORT in FILE (the sides named SERVER and CLIENT), and
# the median delays (µs) from the server's last data to its first FIN
# and from the first FIN to the other side's.
first_closer() {
	tshark -r "$1" -Y "tcp.port == $2 && (tcp.len > 0 || tcp.flags.fin == 1 || tcp.flags.reset == 1)" -T fields \
		-e frame.time_epoch -e tcp.srcport -e tcp.dstport -e tcp.flags.fin -e tcp.len 2>/dev/null |
		awk -v sp="$2" -v sn="$3" -v cn="$4" '
			function med(a, k,   n, i, j, t) { n = 0; for (i in a) v[++n] = a[i]
				for (i = 2; i <= n; i++) for (j = i; j > 1 && v[j - 1] > v[j]; j--) { t = v[j]; v[j] = v[j - 1]; v[j - 1] = t }
				return n ? sprintf("%.0f", 1e6 * v[int((n + 1) / 2)]) : "-" }
			{ s = $2 == sp; c = s ? $3 : $2 }
			s && $5 > 0 && !(c in sfin) { last[c] = $1 }
			$4 == 1 && s && !(c in sfin) { sfin[c] = $1; if (!(c in cfin)) { srv++; d1[c] = $1 - last[c] } else d2[c] = $1 - cfin[c] }
			$4 == 1 && !s && !(c in cfin) { cfin[c] = $1; if (!(c in sfin)) cli++; else d2[c] = $1 - sfin[c] }
			END { printf "%s closed first on %d, %s on %d; ", sn, srv, cn, cli
				if (srv) printf "%s FIN %s µs after its last data, ", sn "\047s", med(d1)
				printf "the other FIN %s µs after the first (medians)", med(d2) }'
}

# ab_time FILE: how long ab (its output in FILE) took, in s.
ab_time() {
	awk '/^Time taken for tests/ { printf "%.2f s", $5 }' "$1"
}

# nginx in front of PHP-FPM over FastCGI (TCP), captured on the proxy:
# a connection per request (no fastcgi_keep_conn), closed by php-fpm;
# a pool of two workers with listen.backlog 2 under a burst of slow
# requests (504s); request_terminate_timeout killing workers (502s);
# fastcgi_keep_conn with an upstream keepalive pool.
sc_php_fpm_fastcgi() {
	host client; host proxy; host server
	wire client proxy
	local front=$proxy_ip d=$work/nginx f=$work/fpm
	wire proxy server
	mkdir -p "$d" "$work/php"
	# fast.php says its length (nginx keeps ab's HTTP/1.0 keep-alive);
	# sleep.php sleeps ?ms= milliseconds; neither reads a request body.
	cat >"$work/php/fast.php" <<'PHP'
<?php
header("Content-Length: 3");
echo "ok\n";
PHP
	cat >"$work/php/sleep.php" <<'PHP'
<?php
usleep(1000 * (int)($_GET["ms"] ?? 1000));
echo "slept\n";
PHP
	# Pools: fast (9000: the connection per request), busy (9001: two
	# workers, listen(2)), term (9002: request_terminate_timeout 3s), ka
	# (9003: behind nginx's upstream keepalive pool).
	php_fpm_conf "$f" \
		"fast:9000:pm = static;pm.max_children = 4" \
		"busy:9001:pm = static;pm.max_children = 2;listen.backlog = 2" \
		"term:9002:pm = static;pm.max_children = 2;request_terminate_timeout = 3s" \
		"ka:9003:pm = static;pm.max_children = 2"
	cat >"$d/nginx.conf" <<CONF
worker_processes 1;
pid $d/nginx.pid;
error_log $d/error.log;
events { worker_connections 256; }
http {
	log_format up '\$remote_port \$request \$status up=\$upstream_addr/\$upstream_status/\$upstream_response_time t=\$request_time';
	access_log $d/access.log up;
	client_body_temp_path $d/tmp;
	proxy_temp_path $d/tmp;
	fastcgi_temp_path $d/tmp;
	uwsgi_temp_path $d/tmp;
	scgi_temp_path $d/tmp;
	keepalive_timeout 60s;
	client_max_body_size 1m;
	upstream fpm_ka {
		server $server_ip:9003;
		keepalive 2;
		keepalive_timeout 3s;
	}
	server {
		listen $front:8080;
		location /fast/ {
			include /etc/nginx/fastcgi_params;
			fastcgi_pass $server_ip:9000;
			fastcgi_param SCRIPT_FILENAME $work/php/fast.php;
		}
		location /busy/ {
			include /etc/nginx/fastcgi_params;
			fastcgi_pass $server_ip:9001;
			fastcgi_connect_timeout 2s;
			fastcgi_read_timeout 3s;
			fastcgi_param SCRIPT_FILENAME $work/php/sleep.php;
		}
		location /term/ {
			include /etc/nginx/fastcgi_params;
			fastcgi_pass $server_ip:9002;
			fastcgi_read_timeout 10s;
			fastcgi_param SCRIPT_FILENAME $work/php/sleep.php;
		}
		location /ka/ {
			include /etc/nginx/fastcgi_params;
			fastcgi_pass fpm_ka;
			fastcgi_keep_conn on;
			fastcgi_param SCRIPT_FILENAME $work/php/sleep.php;
		}
	}
}
CONF
	on server php-fpm8.2 --nodaemonize -y "$f/php-fpm.conf"
	run_nginx proxy "$d"
	listening server 9000 20
	listening server 9003 20
	listening proxy 8080
	sleep 1 # the workers forked
	: >"$work/curl"
	: >"$work/listenq"
	# ab's burst of connections: a larger buffer, no drops.
	capture proxy any "$work/cap.pcap" -B 65536
	begin php-fpm-fastcgi
	local curl="ip netns exec $tag-client curl -s -o /dev/null" i at
	# 200 requests, 4 at a time, on ab's 4 keep-alive connections: a
	# FastCGI connection each, closed after the response.
	ip netns exec "$tag-client" ab -k -q -s 5 -n 200 -c 4 "http://$front:8080/fast/x" >"$work/ab" 2>>"$work/log"
	local churn_end
	churn_end=$(awk -v t0="$t0" -v now="$(date +%s.%N)" 'BEGIN { printf "%.2f", now - t0 }')
	local lc0 lc1 lc2
	lc0=$(listen_counters server)
	# At 6 s: 10 curl at once to the busy pool (2 s per request).
	until_t 6
	for i in $(seq 10); do
		$curl --max-time 10 -w 'busy %{http_code} %{local_port} %{time_total}\n' \
			"http://$front:8080/busy/sleep.php?ms=2000" >>"$work/curl" 2>>"$work/log" &
		pids+=($!)
	done
	for at in 6.2 6.5 7 7.5 8.1 8.6 9.1 9.8 10.2 11 12.2; do
		until_t $at
		echo "$at $(ip netns exec "$tag-server" ss -tlnH 'sport = :9001' | awk '{ print "Recv-Q", $2, "Send-Q", $3 }')" >>"$work/listenq"
		[ "$at" != 9.8 ] || {
			cut early client proxy server
			lc1=$(listen_counters server)
		}
	done
	# At 13 s: a GET and a POST (16 KB that sleep.php never reads) that
	# sleep 6 s, in the pool that kills a request after 3 s.
	until_t 13
	head -c 16384 /dev/zero | tr '\0' x >"$work/body"
	$curl --max-time 10 -w 'termget %{http_code} %{local_port} %{time_total}\n' \
		"http://$front:8080/term/sleep.php?ms=6000" >>"$work/curl" 2>>"$work/log" &
	pids+=($!)
	$curl --max-time 10 -w 'termpost %{http_code} %{local_port} %{time_total}\n' -H 'Content-Type: application/octet-stream' \
		--data-binary "@$work/body" "http://$front:8080/term/sleep.php?ms=6000" >>"$work/curl" 2>>"$work/log" &
	pids+=($!)
	for i in $(seq 80); do
		[ "$(grep -c 'execution timed out' "$f/php-fpm.log" 2>/dev/null)" -ge 2 ] && break
		sleep 0.1
	done
	sleep 0.3
	cut mid client proxy server
	lc2=$(listen_counters server)
	# At 18.5 s: fastcgi_keep_conn on, nginx's upstream pool (keepalive 2,
	# keepalive_timeout 3s): four requests 0.3 s apart, then two at once
	# that take 0.3 s (a second connection).
	until_t 18.5
	for i in 1 2 3 4; do
		$curl --max-time 5 -w 'ka %{http_code} %{local_port} %{time_total}\n' "http://$front:8080/ka/sleep.php?ms=0" >>"$work/curl" 2>>"$work/log"
		sleep 0.3
	done
	for i in 1 2; do
		$curl --max-time 5 -w 'ka %{http_code} %{local_port} %{time_total}\n' "http://$front:8080/ka/sleep.php?ms=300" >>"$work/curl" 2>>"$work/log" &
		pids+=($!)
	done
	# The late cut when the churn's TIME_WAITs (ended at $churn_end s)
	# are 64 s old at least (60 s, and the kernel's timer up to 4 s
	# late), and the burst's (from 8 s on) are not 60 s old.
	until_t "$(awk -v e="$churn_end" 'BEGIN { print e + 64.5 }')"
	cut late client proxy server
	local lc3
	lc3=$(listen_counters server)
	finish "$work/cap.pcap"
	grep -E 'Complete requests|Failed|Keep-Alive requests|Time taken' "$work/ab" | sed 's/^/  ab: /'
	grep -h 'timed out\|exited on signal' "$f/php-fpm.log" | sed 's/^/  php-fpm: /' || true
	grep -h 'upstream\|failed' "$d/error.log" | sed 's/^/  nginx: /' || true
	awk '{ print $1 $2, $3 }' "$work/curl" >>"$work/ports"
	echo "lab: $name: $(command cut -d" " -f1 "$work/ports" | sort | uniq -c | tr -s "\\n " " ")" >&2
	local served unanswered abandoned killed kill_log
	served=$(stat_of "$out/$name@late.pcap" 9001 answered)
	unanswered=$(stat_of "$out/$name@late.pcap" 9001 unanswered)
	abandoned=$(stat_of "$out/$name@late.pcap" 9001 abandoned)
	killed=$(stat_of "$out/$name@late.pcap" 9002 killed)
	kill_log=$(sed -n 's/.*(request: "\([A-Z]*\) .*execution timed out (\([0-9.]*\) sec).*/\1 \2/p' "$f/php-fpm.log" |
		awk '{ printf "%s%s %.2f s", s, $1, $2; s = ", " }')
	expect <<EXP
# nginx 1.22 (Debian's, one worker) in front of PHP-FPM 8.2 (Debian's
# php8.2-fpm: php-fpm8.2 --nodaemonize, a config and pools of its own,
# pm static), FastCGI over TCP from the proxy host ($proxy_ip) to the
# server host ($server_ip), captured on the proxy (-i any): curl and ab
# to nginx's :8080, nginx to php-fpm's :9000-9003.
# Without fastcgi_keep_conn (the default) nginx's FCGI_BEGIN_REQUEST does
# not ask to keep the connection: php-fpm writes its answer (FCGI_STDOUT,
# FCGI_END_REQUEST), shuts its sending side and closes; nginx closes in
# turn.
#
# Pool fast (:9000, 4 workers): ab -k -n 200 -c 4 (four keep-alive
# connections to nginx, closed by ab at the end), a FastCGI connection
# per request, 200 in $(ab_time "$work/ab"):
$(first_closer "$out/$name@late.pcap" 9000 php-fpm nginx | fold -s -w 70 | sed 's/^/#   /; s/ *$//')
# The 200 TIME_WAITs are on php-fpm's host (ss: none on nginx's), gone at
# the late cut, 64 s after. No port at stake (a server's TIME_WAIT holds
# no ephemeral port; nginx's are free at once), and 200 are nowhere near
# net.ipv4.tcp_max_tw_buckets: healthy, no TIME_WAIT storm.
#
# Pool busy (:9001, 2 workers, listen.backlog 2: the accept queue holds
# 3), sleep.php 2 s, 10 curl at once through nginx (fastcgi_connect_timeout
# 2s, fastcgi_read_timeout 3s). Each connection (nginx's port: seconds
# from its SYN to the request's end, php-fpm's first data, its FIN (F) or
# RST (R), nginx's FIN or RST):
$(fcgi_times "$out/$name@late.pcap" 9001 | sed 's/^/#   /')
# Two accepted at once, answered at 2.0 s (200; php-fpm closes first).
# Three completed their handshakes into the accept queue and nginx sent
# their requests (acknowledged by the kernel); the five SYNs after them
# were dropped, sent again 1 s later, dropped again, and nginx gave up
# those connects at 2.0 s (504, "upstream timed out (110: Connection
# timed out) while connecting to upstream"; nothing on the wire, no socket
# left). The listener's Recv-Q (ss -ltn; Send-Q 2), s after begin:
$(sed 's/^/#   /' "$work/listenq")
# The server's counters before the burst, at the early, mid and late cuts:
# $lc0
# $lc1
# $lc2
# $lc3
# The workers took two of the queued ones at 2.0 s; nginx's read timeout
# fired on all three at 3.0 s (504, "upstream timed out ... while reading
# response header from upstream"): its FIN, php-fpm's kernel ACK,
# CLOSE_WAIT. At the early cut (3.7 s into the burst), two of them are
# held by workers asleep on them (ss Recv-Q 9: the empty FCGI_STDIN
# record unread, and the FIN), the third is still in the accept queue
# (Recv-Q 593: never accepted). php-fpm answers them at 4.0, 4.0 and
# 6.0 s, nginx's closed sockets reset the answers (RST), and php-fpm sends
# no FIN. The callers got 200 twice, 504 eight times. No leak: a saturated
# pool, too few workers for the burst behind a queue that waits longer
# than nginx does; the 504s are nginx giving up on its upstream.
#
# Pool term (:9002, request_terminate_timeout 3s), sleep.php 6 s: a GET
# and a POST (16 KB of body that sleep.php never reads) at once. The
# master, which checks every timeout/3 (1 s), kills both workers with
# SIGTERM ($kill_log into their requests: "execution timed out ...
# terminating", "exited on signal 15"):
$(fcgi_times "$out/$name@late.pcap" 9002 | sed 's/^/#   /')
# The kernel closes their sockets with request bytes unread (the POST's
# body; the GET's empty FCGI_STDIN record, which php-fpm reads only at
# the end of a request): RST, no FIN, no byte of answer. nginx answers
# 502 Bad Gateway ("recv() failed (104: Connection reset by peer) while
# reading response header from upstream"). The server's request timeout,
# closing with a reset; the finding should say it reset them, and what
# nginx's callers got.
#
# Pool ka (:9003, 2 workers) behind nginx's upstream pool
# (fastcgi_keep_conn on, keepalive 2, keepalive_timeout 3s): four
# requests 0.3 s apart on one connection (a php-fpm worker stays bound to
# it), then two at once, the second on a new one:
$(fcgi_times "$out/$name@late.pcap" 9003 | sed 's/^/#   /')
# nginx closes both 3.0 s after their last answer, and php-fpm in turn:
$(first_closer "$out/$name@late.pcap" 9003 php-fpm nginx | fold -s -w 70 | sed 's/^/#   /; s/ *$//')
# TIME_WAIT on nginx's side, two ports. Healthy.
# Toward nginx (:8080) curl closes each connection first after its
# response, 200, 504 or 502 alike, and ab its four: healthy as TCP.
# flowdoc reads no FastCGI: to it the upstream connections carry another
# protocol, or none.
expect sport=9000 n>=190 : time_wait(server) !time_wait(client) !idle_timeout_close(server) !idle_timeout_close(client)
@early,mid expect sport=9000 server.ss=TIME-WAIT n>=190 : time_wait(server)
healthy sport=9000
noproblem time_wait_pressure
says time_wait_pressure : $server_ip:9000 (server) closed 200 connections first
says time_wait_pressure : A server's TIME_WAIT holds no ephemeral port
healthy sport=8080
healthy sport=9001 cport=$served
expect sport=9001 cport=$served n>=2 : time_wait(server) !time_wait(client)
expect sport=9001 cport=$unanswered n>=5 : listen_overflow(server)
infinding sport=9001 cport=$unanswered : listen_overflow
finding listen_overflow
says listen_overflow : $server_ip:9001 could not keep up with incoming connections: 5 connections
expect sport=9001 cport=$abandoned n>=3 : idle_timeout_close(client) !close_wait_leak(server) !stale_reuse_reset(server) !stale_reuse_reset(client)
@early expect sport=9001 cport=$abandoned server.ss=CLOSE-WAIT n>=3 : !close_wait_leak(server)
infinding sport=9001 cport=$abandoned : idle_timeout_close
says idle_timeout_close : $proxy_ip gave up on 3 connections to $server_ip:9001 after waiting 3.0 s for an answer
says idle_timeout_close : 504 Gateway Time-out
noproblem close_wait_leak
@mid,late nofinding close_wait_leak
nofinding stale_reuse_reset
nofinding accept_then_close
@mid,late expect sport=9002 cport=$killed n>=2 : idle_timeout_close(server) !stale_reuse_reset(server) !stale_reuse_reset(client)
@mid,late infinding sport=9002 : idle_timeout_close
@mid,late says idle_timeout_close : $server_ip:9002 (server) reset (RST) 2 connections
@mid,late says idle_timeout_close : 502 Bad Gateway
@late expect sport=9003 n>=2 : idle_timeout_close(client) time_wait(client) !idle_timeout_close(server)
@late healthy sport=9003
@late says idle_timeout_close : $proxy_ip (client) closed 2 idle connections to $server_ip:9003 after 3.0 s without traffic
EXP
}

# upstream_races: after a reverse-proxy scenario's capture, sets race and
# race_mid to the upstream connections the backend ($server_ip) reset in
# the late and mid cuts, and bad to the callers' ports that got a 502;
# and says what the clients got.
upstream_races() {
	race=$(reset_by "$out/$name@late.pcap" "$server_ip")
	race_mid=$(reset_by "$out/$name@mid.pcap" "$server_ip")
	bad=$(ports got502)
	echo "lab: $name: reset ${race:-none}; $(command cut -d" " -f1 "$work/ports" | sort | uniq -c | tr -s "\\n " " ")" >&2
}

# reset_by FILE ADDR: the client ports of the connections in FILE that the
# server at ADDR reset, comma separated.
reset_by() {
	tshark -r "$1" -Y "ip.src == $2 && tcp.flags.reset == 1" -T fields -e tcp.dstport 2>/dev/null |
		sort -un | paste -sd,
}

# fin_then_data FILE SPORT [MIN]: the client ports of the connections in
# FILE where the client sent data (segments longer than MIN bytes, 0 by
# default) after the server's (port SPORT) FIN, comma separated. Over TLS
# a MIN of 24 leaves out the client's close_notify (a 19-byte record).
fin_then_data() {
	tshark -r "$1" -Y "tcp.port == $2" -T fields -e tcp.srcport -e tcp.dstport -e tcp.flags.fin -e tcp.len 2>/dev/null |
		awk -v sp="$2" -v min="${3:-0}" '$1 == sp && $3 == 1 { fin[$2] = 1 } $2 == sp && $4 > min && fin[$1] && !seen[$1]++ { printf "%s%s", c, $1; c = "," }'
}

# rabbitmq_node DIR NODE DISTPORT: a RabbitMQ node of its own, run by hand
# in the server host (no service): its files under DIR (mnesia, logs, a
# HOME with its own Erlang cookie), node NODE@localhost (localhost
# resolves in the namespace), Erlang distribution on DISTPORT, its
# rabbitmq.conf from stdin, no plugins.
rabbitmq_node() {
	local d=$1 node=$2 dist=$3
	mkdir -p "$d/home" "$d/mnesia" "$d/log"
	printf 'flowdoclab%s%s' "$$" "$node" >"$d/home/.erlang.cookie"
	chmod 400 "$d/home/.erlang.cookie"
	echo '[].' >"$d/enabled_plugins"
	: >"$d/rabbitmq-env.conf"
	cat >"$d/rabbitmq.conf"
	on server env HOME="$d/home" RABBITMQ_NODENAME="$node@localhost" RABBITMQ_DIST_PORT="$dist" \
		RABBITMQ_MNESIA_BASE="$d/mnesia" RABBITMQ_LOG_BASE="$d/log" RABBITMQ_LOGS="$d/log/rabbit.log" \
		RABBITMQ_CONFIG_FILE="$d/rabbitmq.conf" RABBITMQ_ADVANCED_CONFIG_FILE="$d/advanced.config" \
		RABBITMQ_CONF_ENV_FILE="$d/rabbitmq-env.conf" RABBITMQ_ENABLED_PLUGINS_FILE="$d/enabled_plugins" \
		RABBITMQ_PID_FILE="$d/rabbit.pid" RABBITMQ_PLUGINS_EXPAND_DIR="$d/plugins-expand" \
		RABBITMQ_FEATURE_FLAGS_FILE="$d/feature_flags" /usr/lib/rabbitmq/bin/rabbitmq-server
}

# since_t0: the seconds since the scenario's clock started.
since_t0() {
	awk -v t0="$t0" -v now="$(date +%s.%N)" 'BEGIN { printf "%.2f", now - t0 }'
}

# RabbitMQ's heartbeats, handshake timeout and connection caps, against
# python3-pika.
sc_rabbitmq_heartbeat() {
	host client; host server; wire client server
	local a=$work/rabbit b=$work/rabbitfin
	mkdir -p "$a" "$b"
	# Node "rabbit" (5672) keeps Debian's TCP defaults, those of
	# rabbit.app (linger on, timeout 0: every close of its own is an RST);
	# a vhost "capped" there, max-connections 3. The definitions want
	# guest's password hashed (SHA-256, salted).
	local hash
	hash=$($py -c 'import base64, hashlib, os; s = os.urandom(4); print(base64.b64encode(s + hashlib.sha256(s + b"guest").digest()).decode())')
	cat >"$a/definitions.json" <<DEFS
{"users": [{"name": "guest", "password_hash": "$hash", "hashing_algorithm": "rabbit_password_hashing_sha256", "tags": ["administrator"]}],
 "vhosts": [{"name": "/"}, {"name": "capped"}],
 "permissions": [{"user": "guest", "vhost": "/", "configure": ".*", "write": ".*", "read": ".*"},
                 {"user": "guest", "vhost": "capped", "configure": ".*", "write": ".*", "read": ".*"}],
 "parameters": [{"vhost": "capped", "component": "vhost-limits", "name": "limits", "value": {"max-connections": 3}}]}
DEFS
	on server epmd
	rabbitmq_node "$a" rabbit 25672 <<CONF
listeners.tcp.1 = $server_ip:5672
heartbeat = 2
handshake_timeout = 3000
loopback_users = none
load_definitions = $a/definitions.json
disk_free_limit.absolute = 1MB
CONF
	# Node "rabbitfin" (5673, 5674) closes with FIN (linger off; the other
	# listen options as rabbit.app has them) and takes at most 3
	# connections per listener (connection_max: ranch's max_connections,
	# one acceptor so that it is exact).
	rabbitmq_node "$b" rabbitfin 25673 <<CONF
listeners.tcp.1 = $server_ip:5673
listeners.tcp.2 = $server_ip:5674
tcp_listen_options.backlog = 128
tcp_listen_options.nodelay = true
tcp_listen_options.exit_on_close = false
tcp_listen_options.linger.on = false
heartbeat = 2
handshake_timeout = 3000
connection_max = 3
num_acceptors.tcp = 1
loopback_users = none
disk_free_limit.absolute = 1MB
CONF
	listening server 5672 90
	listening server 5673 90
	listening server 5674 90
	for _ in $(seq 50); do
		grep -q 'Server startup complete' "$a/log/rabbit.log" && grep -q 'Server startup complete' "$b/log/rabbit.log" && break
		sleep 0.2
	done
	capture client "$client_if" "$work/cap.pcap"
	begin rabbitmq-heartbeat
	# A healthy idle connection ("idle"; pika's heartbeat every second,
	# RabbitMQ's too), and two whose process is stopped (SIGSTOP) at 1.6 s,
	# after their first heartbeat: "stopped" on 5672, "stoppedfin" on 5673.
	client client $pylab amqpidle "$server_ip" 5672 idle 40
	first_port 15 # the clock starts at the first connection
	client client $pylab amqpidle "$server_ip" 5672 stopped 40
	local stopped=${pids[-1]}
	client client $pylab amqpidle "$server_ip" 5673 stoppedfin 40
	local stoppedfin=${pids[-1]}
	for _ in $(seq 100); do grep -q '^stopped ' "$work/ports" && grep -q '^stoppedfin ' "$work/ports" && break; sleep 0.05; done
	until_t 1.6
	kill -STOP "$stopped" "$stoppedfin"
	local stop_at
	stop_at=$(since_t0)
	# A client that works and closes properly ("close"); the holders of
	# the caps: 3 connections to the vhost "capped" ("cappedhold"), 3 to
	# 5674 ("maxhold"), held to the end.
	client client $pylab amqpclose "$server_ip" 5672 1.5
	client client $pylab amqpheld "$server_ip" 5672 capped cappedhold 3 40
	client client $pylab amqpheld "$server_ip" 5674 / maxhold 3 40
	until_t 2.5
	# Handshakes never finished: the protocol header and nothing more
	# ("header", "headerfin"), nothing at all ("nothing"); each reads
	# until the server closes, then closes.
	client client $pylab amqpraw "$server_ip" 5672 header header 20
	client client $pylab amqpraw "$server_ip" 5672 nothing nothing 20
	client client $pylab amqpraw "$server_ip" 5673 headerfin header 20
	until_t 4
	cut early client server
	local gave= gavefin=
	for _ in $(seq 100); do
		[ -z "$gave" ] && grep -q 'missed heartbeats from client' "$a/log/rabbit.log" && gave=$(since_t0)
		[ -n "$gave" ] && [ -z "$gavefin" ] && grep -q 'missed heartbeats from client' "$b/log/rabbit.log" && gavefin=$(since_t0)
		[ -n "$gave" ] && [ -n "$gavefin" ] && break
		sleep 0.05
	done
	sleep 0.3
	cut mid client server
	# The caps: six more connections to the vhost "capped", 0.2 s apart
	# (refused after the handshake), and six to 5674, whose 3 connections
	# are taken, each client giving up after 1.5 s.
	client client $pylab amqprefused "$server_ip" 5672 capped 6 0.2
	client client $pylab amqprefused "$server_ip" 5674 / 6 0.2 1.5
	until_t 19
	cut late client server
	finish "$work/cap.pcap"
	local log
	for log in "$a/log/rabbit.log" "$b/log/rabbit.log"; do
		grep -E 'missed heartbeats|handshake_timeout|connection limit' -B1 "$log" | grep -v '^--' |
			sed "s/^[0-9-]* \([0-9:.]*\)+00:00 /\1 /; s/^/  $(basename "$(dirname "$(dirname "$log")")"): /"
	done
	echo "lab: $name: stopped at $stop_at s, missed heartbeats by ${gave:-never} s (5672), ${gavefin:-never} s (5673)" >&2
	local late=$out/$name@late.pcap refused queued role p wire=
	refused=$(tshark -r "$late" -Y 'tcp.srcport == 5672 && amqp.method.arguments.reply_code == 530' -T fields -e tcp.dstport 2>/dev/null | sort -un | paste -sd,)
	queued=$(tshark -r "$late" -Y 'tcp.dstport == 5674 && tcp.flags.syn == 1 && tcp.flags.ack == 0' -T fields -e tcp.srcport 2>/dev/null |
		sort -un | grep -vxF -f <(ports maxhold | tr , '\n') | paste -sd,) || true
	echo "$refused" | tr , '\n' | sed 's/^/refused /' >>"$work/ports"
	echo "$queued" | tr , '\n' | sed 's/^/queued /' >>"$work/ports"
	for role in idle stopped stoppedfin close cappedhold maxhold header nothing headerfin refused queued; do
		for p in $(ports $role | tr , ' '); do
			wire+="#   $role $(amqp_wire "$late" "$p")"$'\n'
		done
	done
	printf '%s' "$wire" | sed "s/^#  /lab: $name:/" >&2
	local idle hold close
	idle=$(ports idle) hold=$(ports cappedhold),$(ports maxhold) close=$(ports close)
	expect <<EXP
# RabbitMQ 3.10.8 (Debian's rabbitmq-server 3.10.8-1.1+deb12u1, Erlang 25),
# two nodes run by hand in the server host, each with heartbeat = 2 and
# handshake_timeout = 3000: "rabbit" (5672) with Debian's TCP defaults,
# a vhost "capped" with max-connections 3; "rabbitfin" (5673, 5674) with
# tcp_listen_options.linger.on = false and connection_max = 3 (one
# acceptor). Clients: python3-pika 1.2.0 (BlockingConnection, heartbeat
# 2) and raw python sockets. Measured in the late capture (times after
# each connection's SYN):
$wire# - Heartbeats: pika and RabbitMQ each send an 8-byte heartbeat frame
#   every second (half the 2 s timeout) on an idle connection ("idle",
#   the holders): healthy, open to the end.
# - A client whose process is stopped (SIGSTOP at $stop_at s, after its
#   first heartbeat, "stopped" and "stoppedfin"): its kernel acknowledges
#   RabbitMQ's heartbeats (4 or 5 of them, unread), it sends nothing more, and
#   RabbitMQ gives up 5.0 s after the client's last byte ("missed
#   heartbeats from client, timeout: 2s": its receiver checks every 2 s
#   and gives up on the second check that saw nothing): no
#   Connection.Close frame, the socket is just closed, 1.0 s after its
#   own last heartbeat. RabbitMQ's default listen options set SO_LINGER
#   on with timeout 0 (rabbit.app: {linger, {true, 0}}), so node
#   "rabbit" closes with an RST: the stopped client's socket is gone
#   (CLOSED, its unread heartbeats dropped; the process learns it only
#   when it runs again). With linger off ("rabbitfin") it is a FIN: the
#   stopped client sits in CLOSE-WAIT with the 32 bytes of heartbeats
#   unread (ss Recv-Q 33 with the FIN), the server in FIN-WAIT-2. The
#   server's keep-alive (heartbeat) giving up on a hung client: an idle
#   timeout close of the server's (the client idle, not the connection),
#   and the CLOSE-WAIT a hung application, a leak for as long as it
#   lasts, no pool.
# - handshake_timeout 3000: a raw socket that sends the protocol header
#   ("AMQP" 0 0 9 1) and nothing more gets Connection.Start (504 or 507
#   bytes) and never answers it ("header", "headerfin"); one sends nothing
#   at all ("nothing"). RabbitMQ closes each 3.0 s after the accept, no
#   Connection.Close frame: RST on "rabbit" (the raw clients read "reset
#   by peer"), FIN on "rabbitfin" (the client reads EOF and closes at
#   once, the server holds TIME-WAIT). A server's timeout for a client
#   that never finished its handshake: not a refusal, not a client leak.
# - The vhost's max-connections 3, held by "cappedhold": six more pika
#   connections ($refused), 0.2 s apart, each a new client, go through the
#   whole AMQP handshake (protocol header, Start, Start-Ok, Tune,
#   Tune-Ok, Open) and get Connection.Close 530 NOT_ALLOWED "access to
#   vhost 'capped' refused for user 'guest': connection limit (3) is
#   reached" (115 bytes) in answer to Connection.Open, within 10 ms of
#   the SYN. pika sends no Close-Ok: it closes at
#   once (FIN, under a millisecond after the Close) and RabbitMQ resets
#   (linger 0) under a millisecond after that FIN. A
#   connection cap that refuses after the AMQP handshake, not at the
#   accept: a refusal all the same (accept then close), six from one host
#   in about a second: a reconnect storm.
# - connection_max 3 on 5674, held by "maxhold": in RabbitMQ 3.10 it is
#   ranch's max_connections, not a refusal: the acceptor stops accepting,
#   and six more connections ($queued), each a new pika client, complete
#   their TCP handshake in the kernel (backlog 128), send the protocol
#   header (acknowledged by the kernel) and get nothing; pika gives up
#   after its stack_timeout (1.5 s) and closes (FIN). They stay in the
#   listening socket's accept queue, never accepted (ss: LISTEN Recv-Q 6,
#   each CLOSE-WAIT with 9 bytes unread, the header and the FIN; the
#   client's FIN-WAIT-2): the client's timeout on a server that never
#   answered, and no application socket left open: nothing the server
#   could close, no CLOSE-WAIT leak of its application.
# - "close": pika declares a queue, publishes, gets the message, and
#   1.5 s later closes properly: Channel.Close, Close-Ok,
#   Connection.Close, Close-Ok, the client's FIN, and RabbitMQ's RST
#   (linger 0) a few milliseconds after it: healthy.
# The cuts: early (4 s) with every connection made, the handshake
# timeouts pending; mid 0.3 s after RabbitMQ gave up on the stopped
# clients (${gave:-never} s); late (19 s) after the refusals and the
# queued connections.
healthy cport=$idle,$hold
expect cport=$idle,$hold client.ss=ESTAB n>=7 : open(client)
healthy cport=$close
expect cport=$close n>=1 : !idle_timeout_close(server) !accept_then_close(server) !stale_reuse_reset(client)
@early expect cport=$(ports stopped),$(ports stoppedfin) client.ss=ESTAB n>=2 : open(client)
@mid,late expect cport=$(ports stopped) n>=1 : idle_timeout_close(server) !stale_reuse_reset(client) !accept_then_close(server)
@mid expect cport=$(ports stoppedfin) client.ss=CLOSE-WAIT n>=1 : close_wait_leak(client)|open(client) idle_timeout_close(server)
@late expect cport=$(ports stoppedfin) client.ss=CLOSE-WAIT n>=1 : close_wait_leak(client) idle_timeout_close(server)
@late infinding cport=$(ports stoppedfin) : close_wait_leak
@mid,late infinding cport=$(ports stopped),$(ports stoppedfin) : idle_timeout_close
@early healthy cport=$(ports header),$(ports nothing),$(ports headerfin)
@early expect cport=$(ports header),$(ports nothing),$(ports headerfin) n>=3 : open(client)
@mid,late expect cport=$(ports header),$(ports nothing),$(ports headerfin) n>=3 : idle_timeout_close(server) !accept_then_close(server) !close_wait_leak(client) !stale_reuse_reset(client)
@mid,late infinding cport=$(ports header),$(ports nothing),$(ports headerfin) : idle_timeout_close
@late expect cport=$refused n>=6 : accept_then_close(server) !stale_reuse_reset(client) !close_wait_leak(client) !open(client)
@late infinding cport=$refused : reconnect_storm
@late finding reconnect_storm
@late says reconnect_storm : to $server_ip:5672 in
@late expect cport=$queued server.ss=CLOSE-WAIT n>=6 : idle_timeout_close(client) !close_wait_leak(server) !accept_then_close(server)
@late infinding cport=$queued : listen_overflow
@late says listen_overflow : never came to 6 connections from
EXP
}

# amqp_wire FILE CPORT: what the capture FILE shows of the connection from
# CPORT (times after its SYN): the bytes each way, the client's last data,
# the server's heartbeats (8-byte segments) after it, each side's FIN and
# RST.
amqp_wire() {
	tshark -r "$1" -Y "tcp.port == $2" -T fields -e frame.time_relative -e tcp.srcport -e tcp.dstport -e tcp.flags.syn \
		-e tcp.flags.ack -e tcp.flags.fin -e tcp.flags.reset -e tcp.len 2>/dev/null |
		awk -v p="$2" 'function t(x) { return x == "" ? "none" : sprintf("+%.3f s", x - syn) }
			$2 == p && $4 == 1 && $5 == 0 { syn = $1; sp = $3 }
			$2 == p && $8 > 0 { cb += $8; cl = $1 }
			$2 != p && $8 > 0 { sb += $8; sl = $1; if ($8 == 8) hb[++n] = $1 }
			$2 != p && $6 == 1 && sf == "" { sf = $1 }
			$2 != p && $7 == 1 && sr == "" { sr = $1 }
			$2 == p && $6 == 1 && cf == "" { cf = $1 }
			$2 == p && $7 == 1 && cr == "" { cr = $1 }
			END { for (i = 1; i <= n; i++) if (hb[i] > cl) after++
				printf "%s (to %s): client sent %d bytes, its last %s; server sent %d bytes, its last %s, %d heartbeats after the client'"'"'s last; server FIN %s, RST %s; client FIN %s, RST %s\n",
					p, sp, cb, t(cl), sb, t(sl), after, t(sf), t(sr), t(cf), t(cr) }'
}

# Apache httpd's mod_proxy in front of Tomcat 10 over AJP and HTTP: pooled
# backend connections that outlive Tomcat's idle timeout.
sc_apache_ajp_tomcat() {
	host client; host proxy; host server
	wire client proxy
	local front=$proxy_ip d=$work/apache b=$work/tomcat
	wire proxy server
	# Tomcat 10: HTTP/1.1 connectors (keepAliveTimeout 3000 ms) on 8080,
	# 8081, 8082, 8083 and 8084, AJP/1.3 connectors (connectionTimeout
	# 3000 ms: the AJP connector's keep-alive timeout defaults to it;
	# secretRequired false) on 8009 to 8014, all bound to the server's
	# address, each with a poller of its own; the webapp of
	# testdata/lab/webapp/Slow.java: /slow answers after 1.5 s; index.html
	# at /.
	tomcat_base "$b" 'connectionTimeout="20000" keepAliveTimeout="3000"'
	local conns='' p i
	for p in 8081 8082 8083 8084; do
		conns+="    <Connector port=\"$p\" address=\"$server_ip\" protocol=\"HTTP/1.1\" connectionTimeout=\"20000\" keepAliveTimeout=\"3000\"/>\n"
	done
	for p in 8009 8010 8011 8012 8013 8014; do
		conns+="    <Connector port=\"$p\" address=\"$server_ip\" protocol=\"AJP/1.3\" secretRequired=\"false\" connectionTimeout=\"3000\"/>\n"
	done
	sed -i "s|^    <Engine |$conns&|" "$b/conf/server.xml"
	mkdir -p "$b/webapps/ROOT/WEB-INF/classes"
	javac -cp /usr/share/java/tomcat10-servlet-api.jar -d "$b/webapps/ROOT/WEB-INF/classes" "$here/webapp/Slow.java"
	cat >"$b/webapps/ROOT/WEB-INF/web.xml" <<'XML'
<?xml version="1.0" encoding="UTF-8"?>
<web-app xmlns="https://jakarta.ee/xml/ns/jakartaee" version="6.0" metadata-complete="true">
  <servlet><servlet-name>slow</servlet-name><servlet-class>Slow</servlet-class><load-on-startup>1</load-on-startup></servlet>
  <servlet-mapping><servlet-name>slow</servlet-name><url-pattern>/slow</url-pattern><url-pattern>/fast</url-pattern></servlet-mapping>
</web-app>
XML
	run_tomcat server "$b"
	# Apache (apache_conf: event MPM, one process of 16 threads) with
	# mod_proxy_ajp and mod_proxy_http: a worker, and a pool, per backend
	# port. On port 80, by path: /ajp/ (8009) and /http/ (8080) with no
	# ttl (Debian's default: the pool keeps a connection as long as Apache
	# runs), /ajpttl/ (8010) and /httpttl/ (8081) with ttl=2 (the pool lets
	# go of one idle 2 s or more, when it next hands it out),
	# /httpnoreuse/ (8082) with disablereuse=On. On ports 9011 to 9014
	# (AJP, 8011 to 8014) and 9083, 9084 (HTTP, 8083, 8084), no ttl, a
	# pool each for the sweeps. Its error log at LogLevel debug for
	# mod_proxy, and an access log of its callers' ports and statuses.
	apache_conf "$d"
	cat >>"$d/httpd.conf" <<CONF
LoadModule proxy_module /usr/lib/apache2/modules/mod_proxy.so
LoadModule proxy_ajp_module /usr/lib/apache2/modules/mod_proxy_ajp.so
LoadModule proxy_http_module /usr/lib/apache2/modules/mod_proxy_http.so
LogLevel warn proxy:debug proxy_ajp:debug proxy_http:debug
LogFormat "%{remote}p %{%s}t.%{usec_frac}t %>s %D %r" lab
CustomLog $d/access.log lab
Listen $front:80
ProxyPass /ajp/ ajp://$server_ip:8009/
ProxyPass /ajpttl/ ajp://$server_ip:8010/ ttl=2
ProxyPass /http/ http://$server_ip:8080/
ProxyPass /httpttl/ http://$server_ip:8081/ ttl=2
ProxyPass /httpnoreuse/ http://$server_ip:8082/ disablereuse=On
CONF
	for p in 9011 9012 9013 9014; do
		printf 'Listen %s:%s\n<VirtualHost %s:%s>\n\tServerName lab\n\tProxyPass / ajp://%s:%s/\n</VirtualHost>\n' \
			"$front" $p "$front" $p "$server_ip" $((p - 1000)) >>"$d/httpd.conf"
	done
	for p in 9083 9084; do
		printf 'Listen %s:%s\n<VirtualHost %s:%s>\n\tServerName lab\n\tProxyPass / http://%s:%s/\n</VirtualHost>\n' \
			"$front" $p "$front" $p "$server_ip" $((p - 1000)) >>"$d/httpd.conf"
	done
	on proxy apache2 -d "$d" -f "$d/httpd.conf" -DFOREGROUND -E "$work/log"
	# Tomcat binds its ports before it deploys the webapp: wait for its start.
	for i in $(seq 600); do
		grep -q "Server startup in" "$work/log" && break
		[ "$i" -lt 600 ] || die "Tomcat did not start: $(tail -5 "$work/log")"
		sleep 0.1
	done
	listening server 8009
	listening proxy 80 20
	sleep 1
	: >"$work/curl"
	capture proxy any "$work/cap.pcap" -B 65536
	begin apache-ajp-tomcat
	# The sweeps: http.client, one GET of / per connection to Apache
	# (closed by the client), the next after PAUSE s: 3.000-3.012 s, across
	# the moment Tomcat's timer fires, 3.002-3.011 s after its last
	# answer; six at once, a quarter or half of a millisecond apart. They
	# begin a second before the clock, their first requests warming up
	# Tomcat's AJP and HTTP code.
	client client $pylab sweep "$front" 9011 GET $(LC_ALL=C seq 3.000 0.001 3.012)
	client client $pylab sweep "$front" 9012 GET $(LC_ALL=C seq 3.00025 0.001 3.01225)
	client client $pylab sweep "$front" 9013 GET $(LC_ALL=C seq 3.0005 0.001 3.0125)
	client client $pylab sweep "$front" 9014 GET $(LC_ALL=C seq 3.00075 0.001 3.01275)
	client client $pylab sweep "$front" 9083 GET $(LC_ALL=C seq 3.000 0.001 3.012)
	client client $pylab sweep "$front" 9084 GET $(LC_ALL=C seq 3.0005 0.001 3.0125)
	sleep 1
	t0=$(date +%s.%N)
	# batch ROLE: on each path, two curl at once to /slow: two backend
	# connections in each pool, answered after 1.5 s.
	local path bp
	batch() {
		bp=()
		for path in ajp ajpttl http httpttl httpnoreuse; do
			for i in 1 2; do
				ip netns exec "$tag-client" curl -s -o /dev/null --max-time 8 \
					-w "$1 $path %{http_code} %{local_port}\n" \
					"http://$front/$path/slow" >>"$work/curl" 2>>"$work/log" &
				bp+=($!)
			done
		done
		wait "${bp[@]}"
	}
	batch b1 # answered at 1.6 s; Tomcat closes the idle ones at 4.6 s
	cut early client proxy server
	until_t 6.0 # the pooled ones in CLOSE_WAIT on Apache for 1.4 s
	cut mid client proxy server
	until_t 6.3
	batch b2 # 4.7 s after the first's answers
	until_t 10.0
	batch b3 # 2.2 s after the second's: past ttl=2, short of Tomcat's 3 s
	until_t 44 # the sweeps end at 38 s, Tomcat closes their last at 41 s
	cut late client proxy server
	finish "$work/cap.pcap"
	awk '{ print ($3 == 200 ? $1 $2 : "got" $3), $4 }' "$work/curl" >>"$work/ports"
	# The races: backend connections whose request Tomcat closed on
	# unanswered, and the callers' errors; Tomcat's idle closes.
	local lines race race_mid got5xx errs idle
	lines=$(backend_races "$out/$name@late.pcap" "$server_ip")
	race=$(echo "$lines" | awk '$1 == "race" { printf "%s%s", s, $2; s = "," }')
	race_mid=$(backend_races "$out/$name@mid.pcap" "$server_ip" | awk '$1 == "race" { printf "%s%s", s, $2; s = "," }')
	got5xx=$(awk '$1 ~ /^got5/ { printf "%s%s (port %s)", s, substr($1, 4), $2; s = ", " }' "$work/ports")
	# When Tomcat closed the pool of 8009 (s after the clock), and the cuts.
	local fins at c
	fins=$(tshark -r "$out/$name@late.pcap" -Y "tcp.srcport == 8009 && tcp.flags.fin == 1" -T fields -e frame.time_epoch 2>/dev/null |
		awk -v t0="$t0" '{ printf "%s%.2f", s, $1 - t0; s = ", " }')
	at=$(for c in "${cuts[@]}"; do awk -v t0="$t0" -v at="$(date -d "${c#*=}" +%s.%N)" -v c="${c%%=*}" 'BEGIN { printf "%s %.2f s, ", c, at - t0 }'; done)
	idle=$(echo "$lines" | awk '$1 == "idle" { n++; d = $4; if (!lo || d < lo) lo = d; if (d > hi) hi = d } END { printf "%d connections, %.4f-%.4f s", n, lo, hi }')
	errs=$({ grep -E 'AH01030|AH00878|AH00992|AH01102|AH00898' "$d/error.log" || true; } | sed 's/^\[[^]]*\] //; s/\[pid [^]]*\] //; s/\[client [^]]*\] //' |
		sort | uniq -c | sed 's/^ */#   /')
	echo "lab: $name: races ${race:-none}; $(command cut -d" " -f1 "$work/ports" | sort | uniq -c | tr -s "\\n " " ")" >&2
	expect <<EXP
# Apache httpd 2.4 (mod_proxy, event MPM, one process) in front of Tomcat
# 10.1, captured on the proxy (-i any). Tomcat's AJP connectors
# (connectionTimeout 3000) and HTTP connectors (keepAliveTimeout 3000;
# Keep-Alive: timeout=3 in its responses) close a connection idle for
# 3 s with FIN: here $idle after the
# last data. mod_proxy keeps its backend connections in a pool per worker
# and does not watch it: a connection Tomcat closed stays in CLOSE_WAIT on
# Apache until the pool hands it out again, when Apache finds it closed
# (AH00951 "backend socket is disconnected"), closes it (FIN) and
# connects anew in the same millisecond. ttl=2 changes nothing on an idle
# pool: Apache lets go of a connection idle 2 s or more only when it next
# takes it from the pool (the CLOSE_WAITs stay), but then it never sends
# on one Tomcat may be closing (no race as below).
#
# Batches, two curl at once on each path (/slow, answered after 1.5 s):
# at 0 s; at 6.3 s, 4.7 s after the answers: every pooled connection,
# closed by Tomcat 3 s after them and in CLOSE_WAIT on Apache since
# (through the mid cut), is closed by Apache and replaced; at 10 s,
# 2.2 s after the second's answers: the no-ttl pools (8009, 8080) reuse
# theirs, the ttl=2 pools (8010, 8081) close theirs first (FIN: TIME_WAIT
# on Apache), connect anew, and Tomcat closes in turn. disablereuse=On
# (8082): a connection per request, closed after the answer. Tomcat's
# FINs on 8009, in s after the clock: $fins; the cuts:
# ${at%, }. The last pooled connections stay in CLOSE_WAIT
# on Apache to the late cut, since no request comes. No leak: the pool
# holds them (at most ThreadsPerChild per worker) and closes each at its
# next use, as it did at 6.3 s. Every caller of the batches got 200.
#
# Sweeps (Apache's 9011-9014 to AJP 8011-8014, 9083-9084 to HTTP
# 8083-8084): a request to Apache 3.000-3.012 s after the previous
# answer, across Tomcat's timer. Earlier, Apache reuses the connection;
# later, Tomcat's FIN is there first and Apache reconnects. In between,
# the keep-alive race (${race:-none in this recording}; as client port,
# server port, idle before the request, when Tomcat's FIN or RST came,
# and whether it acknowledged the request):
$(echo "$lines" | awk '$1 == "race" { printf "#   %s %s %.4f s, %s %.2f ms %s, %s\n", $2, $3, $4, $6, $5 < 0 ? -$5 : $5, $5 < 0 ? "before it" : "later", $7 }')
# Apache sent the request on the pooled connection as Tomcat's timer
# fired: Tomcat's FIN came with no answer, having crossed the request
# (microseconds before or after it at the proxy, acknowledging only the
# previous one) or right after it (a fraction of a millisecond,
# acknowledging it). No RST: Java closes a channel registered with a
# selector by shutting its output down first (FIN) and its descriptor
# later, and Apache's FIN came in between (TIME_WAIT on Tomcat). The
# request is lost: a stale reuse, whose server's idle timer fired.
# Apache retries nothing; its callers got ${got5xx:-nothing but 200}. Its error log:
$errs
@early healthy all
@early nofinding close_wait_leak
@early nofinding idle_timeout_close
@mid,late expect client.ss=CLOSE-WAIT n>=8 : idle_timeout_close(server) !close_wait_leak(client)
@late expect sport=8009 server.ss=TIME-WAIT n>=2 : idle_timeout_close(server) !stale_reuse_reset(client)
@late expect sport=8080 server.ss=TIME-WAIT n>=2 : idle_timeout_close(server) !stale_reuse_reset(client)
@late expect sport=8010 client.ss=TIME-WAIT n>=2 : idle_timeout_close(client) !idle_timeout_close(server)
@late expect sport=8081 client.ss=TIME-WAIT n>=2 : idle_timeout_close(client) !idle_timeout_close(server)
$(for p in 8011 8012 8013 8014 8083 8084; do echo "@late expect sport=$p server.ss=TIME-WAIT cport!=${race:-0} n>=3 : idle_timeout_close(server)"; done)
healthy sport=80
healthy sport=8082
healthy client.ss=TIME-WAIT
healthy server.ss=TIME-WAIT cport!=${race:-0}
$([ -n "$race" ] && echo "@late expect cport=$race : stale_reuse_reset(client)")
$([ -n "$race_mid" ] && echo "@mid expect cport=$race_mid : stale_reuse_reset(client)")
@mid,late finding idle_timeout_close
@mid,late says idle_timeout_close : after 3.0 s without traffic
@mid,late says idle_timeout_close : (Keep-Alive: timeout=3)
noproblem close_wait_leak
$([ -n "$race" ] && echo "@late${race_mid:+,mid} finding stale_reuse_reset")
$([ -n "$race" ] && echo "@late${race_mid:+,mid} says stale_reuse_reset : is a reverse proxy")
$([ -n "$race" ] && echo "@late${race_mid:+,mid} says stale_reuse_reset : its upstream pool keeps idle connections longer than its backend does")
$(grep -q '^got503 ' "$work/ports" && echo "@late says stale_reuse_reset : 503 Service Unavailable on")
$(grep -q '^got502 ' "$work/ports" && echo "@late says stale_reuse_reset : 502 Proxy Error on")
EXP
}

# backend_races FILE ADDR: the connections to the backend at ADDR in FILE
# that it closed idle ("idle" lines: client port, server port, the
# backend's FIN after the last data, s), and those on which the client
# sent a request, after an earlier exchange, that got no answer: the
# backend closed after it, or had closed before it ("race" lines: client
# port, server port, the idle time before the request, s, the delay from
# the request to the backend's FIN or RST, ms, F or R, and "acked" when
# that FIN or RST acknowledged the request, "crossed" when not).
backend_races() {
	tshark -r "$1" -Y "ip.addr == $2 && (tcp.len > 0 || tcp.flags.fin == 1 || tcp.flags.reset == 1)" -T fields \
		-e frame.time_epoch -e ip.src -e tcp.srcport -e tcp.dstport -e tcp.flags.fin -e tcp.flags.reset -e tcp.len \
		-e tcp.ack -e tcp.nxtseq 2>/dev/null |
		awk -v a="$2" '
			$2 != a && ($5 == 1 || $6 == 1) { cfin[$3] = 1 }
			$2 != a && $7 > 0 { c = $3
				if (!(c in req) || sent[c]) { n[c]++; idle[c] = (c in last) ? $1 - last[c] : 0; req[c] = $1; sent[c] = 0 }
				if ((c in fin) && !(c in told)) { told[c] = 1; printf "race %s %s %.4f %.2f F crossed\n", c, $4, idle[c], 1000 * (fin[c] - $1) }
				last[c] = $1; end[c] = $9 }
			$2 == a { c = $4
				if ($7 > 0) { sent[c] = 1; last[c] = $1 }
				if (($5 == 1 || $6 == 1) && !(c in fin) && !(c in cfin)) { fin[c] = $1
					if (sent[c] && $1 - last[c] > 1) printf "idle %s %s %.4f\n", c, $3, $1 - last[c]
					else if (!sent[c] && n[c] >= 2) { told[c] = 1
						printf "race %s %s %.4f %.2f %s %s\n", c, $3, idle[c], 1000 * ($1 - req[c]), ($6 == 1 ? "R" : "F"), ($8 >= end[c] ? "acked" : "crossed") } } }'
}

# HAProxy in mode tcp (timeout client 3s, timeout server 3s) in front of
# MariaDB (wait_timeout 600) and Redis (timeout 0): its idle timeout kills
# pooled database connections, on both legs.
sc_haproxy_tcp_db() {
	host client; host proxy; host server
	wire client proxy
	local front=$proxy_ip
	wire proxy server
	# MariaDB by hand, as in mariadb-idle, with its idle timeouts left
	# long: it never closes a connection in this recording.
	mkdir -p "$work/db"
	mariadb-install-db --no-defaults --datadir="$work/db" --user=root --skip-test-db >>"$work/log" 2>&1
	on server mariadbd --no-defaults --datadir="$work/db" --user=root --bind-address="$server_ip" --port=3306 \
		--socket="$work/db.sock" --pid-file="$work/db.pid" --skip-grant-tables --skip-name-resolve \
		--skip-log-bin --performance-schema=off --innodb-buffer-pool-size=16M \
		--wait-timeout=600 --interactive-timeout=600
	# Redis with timeout 0: it never closes an idle client.
	on server redis-server --bind "$server_ip" --port 6379 --protected-mode no --save "" --appendonly no \
		--tcp-keepalive 0 --timeout 0 --dir "$work" --daemonize no
	# HAProxy relaying TCP: each client connection is a stream with a
	# connection of its own to the server, opened at once. timeout client
	# and timeout server are the inactivity timeouts of the two sides; in
	# mode tcp either one ends the whole stream. Its log (option tcplog)
	# goes to a file of its own (it sets O_NONBLOCK on its stdout with
	# F_SETFL, dropping O_APPEND: it would write over the shared log): the
	# termination state of every stream (cD, sD: a client or server
	# timeout while data was being exchanged, "D").
	cat >"$work/haproxy.cfg" <<CONF
global
	pidfile $work/haproxy.pid
	nbthread 1
	log stdout format raw local0
defaults
	mode tcp
	log global
	option tcplog
	timeout connect 2s
	timeout client 3s
	timeout server 3s
frontend mysql
	bind $front:3306
	default_backend mariadb
backend mariadb
	server db $server_ip:3306
frontend redis
	bind $front:6379
	default_backend redis
backend redis
	server redis $server_ip:6379
CONF
	on proxy bash -c 'exec haproxy -db -f "$1" >"$2" 2>&1' _ "$work/haproxy.cfg" "$work/haproxy.log"
	listening server 3306 30
	listening server 6379
	listening proxy 3306
	listening proxy 6379
	capture proxy any "$work/cap.pcap" -B 16384
	begin haproxy-tcp-db
	# pymysql: a pool of three connections reused after 4, 4.5 and 5 s
	# idle; one pinging every second; after 4.5 s idle, pools that check
	# the socket before use (readable: EOF) or ping first.
	client client $pylab mysqlpool "$front" 3306 4,4.5,5 4.5 25 30
	first_port 20 # the clock starts at the first connection
	# redis-py's ConnectionPools, reused after 4 s idle.
	client client $pylab redisreuse "$front" 6379 4 30
	until_t 1.5 # every connection queried once, all idle but the pinger
	cut early client proxy server
	until_t 3.75 # HAProxy closed them all 3 s after their last query
	cut mid client proxy server
	until_t 9 # the reuses and their errors
	cut late client proxy server
	finish "$work/cap.pcap"
	sed 's/^/  haproxy: /' "$work/haproxy.log"
	local late=$out/$name@late.pcap
	{ proxy_legs "$late" 3306 "$front" "$server_ip"; proxy_legs "$late" 6379 "$front" "$server_ip"; } >"$work/legs"
	local idle renew
	idle=$(ports pool),$(ports validate),$(ports validatequit),$(ports preping),$(ports redispool),$(ports redishealth)
	renew=$(ports repool),$(ports revalidate),$(ports revalidatequit),$(ports repreping),$(ports redisrepool),$(ports redisrehealth)
	# The proxy's connections to the servers for them.
	local idleb renewb pingb
	idleb=$(legs_of pool validate validatequit preping redispool redishealth)
	renewb=$(legs_of repool revalidate revalidatequit repreping redisrepool redisrehealth)
	pingb=$(legs_of ping)
	# How long each client leg HAProxy closed idle had been quiet.
	local closes
	closes=$(tshark -r "$late" -Y "ip.src == $front && (tcp.srcport == 3306 || tcp.srcport == 6379) && (tcp.len > 0 || tcp.flags.fin == 1)" \
		-T fields -e frame.time_relative -e tcp.dstport -e tcp.len -e tcp.flags.fin 2>/dev/null |
		awk '$3 > 0 { last[$2] = $1 } $4 == 1 && !($2 in fin) { fin[$2] = 1; if ($1 - last[$2] > 1) printf "%s %.3f\n", $2, $1 - last[$2] }' |
		sort -k2n | awk 'NR == 1 { lo = $2 } { hi = $2 } END { printf "%.3f-%.3f s", lo, hi }')
	echo "lab: $name: idle ${idle//,/ } (backend legs ${idleb//,/ }); HAProxy's FINs after $closes idle; ping $(ports ping) ($pingb)" >&2
	expect <<EXP
# HAProxy 2.6 in mode tcp (timeout client 3s, timeout server 3s; one
# thread) relays the client host's connections to MariaDB 10.11
# (wait_timeout 600) and Redis 7.0 (timeout 0): a stream per client
# connection, with a connection of its own to the server opened at once.
# Captured on the proxy (-i any): both legs. In mode tcp either timeout
# ends the whole stream: HAProxy's log says cD (the client side's
# inactivity timeout) for every idle stream. It closes the client leg
# with FIN $closes after its last data, and in the same
# millisecond the server leg: FIN, then RST 0.1 ms later (it aborts the
# server socket once its FIN is out) unless the server's own FIN came
# first (Redis's, within 0.1 ms; then TIME_WAIT on the proxy). Neither
# server ever closed on its own: MariaDB logs "Aborted connection ... (Got
# an error reading communication packets)" for each, its wait_timeout far
# away; Redis never times clients out. So both legs are idle closes by the
# proxy: the client leg as its server (HAProxy's timeout, not the
# database's), the server leg as MariaDB's or Redis's client.
# - pymysql 1.0.2, a pool of three connections ("pool") queried again
#   after 4, 4.5 and 5 s idle on the same connection: the COM_QUERY (13
#   bytes) goes into the connection HAProxy closed 1-2 s before; the
#   proxy's kernel answers RST within 0.05 ms (its socket, orphaned in
#   FIN_WAIT_2, takes no data); pymysql reads the FIN first: error 2013
#   "Lost connection to MySQL server during query". The pool replaces
#   the connection ("repool") and runs the query again: a stale reuse.
# - "preping" (pymysql's ping(reconnect=True), a pre-ping pool) sends
#   COM_PING (5 bytes) into the closed connection after 4.5 s: RST, and
#   it connects anew ("repreping"): the same stale reuse on the wire, the
#   failure absorbed by the pool.
# - "validate" checks the socket before use (readable: EOF) and drops it
#   with a FIN after 4.5 s idle, 1.5 s in CLOSE_WAIT; "validatequit" does
#   the same with pymysql's close(), whose COM_QUIT (01 00 00 00 01, a
#   goodbye: nothing asked) goes first and is reset by the proxy's kernel:
#   no request was lost, no stale reuse. Each connects anew.
# - redis-py 4.3's ConnectionPools, health_check_interval 0 ("redispool")
#   and 1 ("redishealth"), reused after 4 s idle: the pool checks the
#   socket before handing it out (readable: EOF), closes it (FIN) and
#   connects anew; healthy.
# - "ping" queries SELECT 1 every second on one connection: never idle
#   3 s, HAProxy never closes it; healthy on both legs.
# Until their next use the pooled connections sit in CLOSE_WAIT on the
# client (at the mid cut, under a second after HAProxy's FINs): a pool that
# notices at next use, no leak. The new connections are queried and
# closed by the client (COM_QUIT, FIN): healthy.
@early expect sport=3306 n>=14 : open(client)
@early expect sport=6379 n>=4 : open(client)
@early healthy all
@mid,late expect cport=$idle n>=8 : idle_timeout_close(server)
@mid,late expect cport=$idleb n>=8 : idle_timeout_close(client)
@mid,late healthy cport=$idleb
@mid expect cport=$idle client.ss=CLOSE-WAIT n>=8 : open(client) !close_wait_leak(client)
@mid noproblem close_wait_leak
@late expect cport=$(ports pool) n>=3 : stale_reuse_reset(client)
@late expect cport=$(ports preping) n>=1 : stale_reuse_reset(client)
@late expect cport=$(ports validate),$(ports validatequit),$(ports redispool),$(ports redishealth) n>=4 : !stale_reuse_reset(client) !close_wait_leak(client)
@late healthy cport=$(ports validate),$(ports validatequit),$(ports redispool),$(ports redishealth)
@late healthy cport=$renew,$renewb
expect cport=$(ports ping),$pingb n>=2 : open(client)
healthy cport=$(ports ping),$pingb
@early,late nofinding close_wait_leak
@mid,late finding idle_timeout_close
@mid,late says idle_timeout_close : after 3.0 s without traffic
@mid,late says idle_timeout_close : timeout client
@late finding stale_reuse_reset
@late says stale_reuse_reset : on 4 connections
@late says stale_reuse_reset : had closed after 3.0 s idle
EXP
}

# proxy_legs FILE PORT FRONT SERVER: "CPORT BPORT" lines: each client
# connection to FRONT:PORT in FILE and the proxy's connection to
# SERVER:PORT made for it (the first SYN to the server after the client's:
# a proxy in mode tcp connects at once).
proxy_legs() {
	tshark -r "$1" -Y "tcp.flags.syn == 1 && tcp.flags.ack == 0 && tcp.dstport == $2 && (ip.dst == $3 || ip.dst == $4)" \
		-T fields -e ip.dst -e tcp.srcport 2>/dev/null |
		awk -v f="$3" '!seen[$1 " " $2]++ { if ($1 == f) q[n++] = $2; else if (m < n) print q[m++], $2 }'
}

# legs_of ROLE...: the proxy's server-side ports (work/legs) for the client
# ports noted as ROLEs, comma separated.
legs_of() {
	local r
	for r in "$@"; do
		ports "$r"
		echo
	done | tr , '\n' | awk 'NR == FNR { if ($1 != "") want[$1]; next } ($1 in want) { printf "%s%s", c, $2; c = "," }' - "$work/legs"
}

# ldap_conf DIR: an OpenLDAP slapd of its own in DIR (slapd.conf, an mdb
# database of dc=example,dc=org loaded with slapadd: ou=people, its uid=app
# (password "app") and uid=u1..u5), idletimeout 3, sizelimit 3,
# conn_max_pending 3.
ldap_conf() {
	local d=$1
	mkdir -p "$d/db"
	cat >"$d/slapd.conf" <<CONF
include /etc/ldap/schema/core.schema
include /etc/ldap/schema/cosine.schema
include /etc/ldap/schema/inetorgperson.schema
pidfile $d/slapd.pid
argsfile $d/slapd.args
modulepath /usr/lib/ldap
moduleload back_mdb
loglevel stats
idletimeout 3
sizelimit 3
conn_max_pending 3
database mdb
maxsize 16777216
suffix "dc=example,dc=org"
rootdn "cn=admin,dc=example,dc=org"
rootpw secret
directory $d/db
CONF
	{
		printf 'dn: dc=example,dc=org\nobjectClass: dcObject\nobjectClass: organization\no: Example\ndc: example\n\n'
		printf 'dn: ou=people,dc=example,dc=org\nobjectClass: organizationalUnit\nou: people\n\n'
		printf 'dn: uid=app,ou=people,dc=example,dc=org\nobjectClass: inetOrgPerson\nuid: app\ncn: app\nsn: app\nuserPassword: app\n\n'
		for i in 1 2 3 4 5; do
			printf 'dn: uid=u%s,ou=people,dc=example,dc=org\nobjectClass: inetOrgPerson\nuid: u%s\ncn: User %s\nsn: %s\n\n' $i $i $i $i
		done
	} >"$d/data.ldif"
	slapadd -q -f "$d/slapd.conf" -l "$d/data.ldif" >>"$work/log" 2>&1
}

# slapd_idle_closes PCAP: the connections to port 389 the server closed
# first after a second or more of quiet (since the last payload either
# way, or since the handshake), grouped by the moment of the FINs (within
# 10 ms, in seconds from the first SYN): "at T s: PORT (QUIET s), ...; ...".
slapd_idle_closes() {
	tshark -r "$1" -Y tcp -T fields -e frame.time_epoch -e tcp.srcport -e tcp.dstport -e tcp.flags.syn \
		-e tcp.flags.fin -e tcp.len 2>/dev/null |
		awk '$2 != 389 { c = $2; if ($4 == 1 && t0 == "") t0 = $1
				if (($4 == 1 && !(c in last)) || $6 > 0) last[c] = $1; if ($5 == 1) cfin[c] = 1 }
			$2 == 389 { c = $3; if ($6 > 0) last[c] = $1
				if ($5 == 1 && !(c in sfin) && !(c in cfin)) { sfin[c] = 1
					if ($1 - last[c] < 1) next
					if (g == "" || $1 - g > 0.01) { printf "%sat %.2f s: ", (g == "" ? "" : "; "), $1 - t0; g = $1 } else printf ", "
					printf "%s (%.2f s)", c, $1 - last[c] } }'
}

# OpenLDAP's idletimeout: slapd closes connections idle for 3 s.
sc_slapd_idle() {
	host client; host server; wire client server
	local d=$work/slapd dn=uid=app,ou=people,dc=example,dc=org
	ldap_conf "$d"
	# In the foreground (stopped by PID), its stats log (-d 256: every
	# connection, operation and close) to a file of its own.
	on server sh -c "exec slapd -d 256 -h ldap://$server_ip:389/ -f $d/slapd.conf 2>$d/slapd.log"
	listening server 389
	capture client "$client_if" "$work/cap.pcap"
	begin slapd-idle
	client client $pylab ldapidle "$server_ip" 389 "$dn" app ou=people,dc=example,dc=org 17
	first_port 10 # the clock starts at the first connection
	# ldapsearch one-shots: bind, search, unbind, close; one past sizelimit.
	(for i in 1 2 3 4; do
		until_t $((i - 1)).5
		flt='(uid=u2)'
		[ $i != 3 ] || flt='(objectClass=inetOrgPerson)'
		ip netns exec "$tag-client" timeout 5 ldapsearch -x -LLL -H "ldap://$server_ip:389" -D "$dn" -w app \
			-b ou=people,dc=example,dc=org "$flt" cn >/dev/null 2>>"$work/log" || echo "ldapsearch $i: exit $?" >>"$work/log"
	done) &
	pids+=($!)
	until_t 2.6 # all idle, none past the timeout
	cut early client server
	# Right after slapd's idle closes: the stale connections in CLOSE-WAIT
	# on the client, before their reuse (4.9 s after their search).
	while [ "$(ip netns exec "$tag-client" ss -tanH state close-wait "dport = :389" | wc -l)" -lt 4 ] &&
		awk -v t0="$t0" -v now="$(date +%s.%N)" 'BEGIN { exit !(now - t0 < 4.8) }'; do
		sleep 0.05
	done
	cut mid client server
	until_t 13.9 # the reuses are over; the busy connection's last search
	cut late client server
	finish "$work/cap.pcap"
	grep -E 'closed|deferring' "$d/slapd.log" | sed 's/^/  slapd: /' || true
	local stale=$(ports stale),$(ports stale5),$(ports restart)
	local silent=$(ports silent) silentread=$(ports silentread) flood=$(ports flood)
	expect <<EXP
# OpenLDAP's slapd 2.5 (idletimeout 3, sizelimit 3, conn_max_pending 3)
# closes a connection idle for more than 3 s with a bare FIN: no Notice
# of Disconnection (the unsolicited extended response of RFC 4511 4.4.1),
# nothing written first (its log: "closed (idletimeout)"). It counts in
# whole seconds of its clock (more than 3 s: 4 ticks) and checks when its
# event loop wakes (every 0.75 s at most): a close comes 3-4.75 s after
# the last activity, and the connections due at a check are closed
# together. Its idle closes (client port, and its quiet: since the last
# payload, or since the handshake for the two that never sent anything):
# $(slapd_idle_closes "$out/$name@late.pcap")
# python3-ldap3 (SYNC, bound as uid=app): "stale" ($(ports stale)),
# "stale5" ($(ports stale5)) and the RESTARTABLE "restart" ($(ports restart))
# search, sit in CLOSE_WAIT after slapd's FIN (ldap3 reads only when it
# waits for an answer; its kernel's ACK of the FIN is delayed 40 ms) and
# send their next search 4.9, 5.4 and 5.0 s after the first: slapd, which
# closed the socket, answers RST within 0.1 ms;
# ldap3 raises LDAPSessionTerminatedByServerError ("session terminated by
# server": the FIN read as EOF before the RST). RESTARTABLE sleeps 2 s,
# connects again ($(ports restart-new)), binds and searches: healthy. These
# are pools noticing at their next use, not leaks. "reuse2"
# ($(ports reuse2)) searches every 2 s and unbinds; "busy" ($(ports busy))
# binds and searches every second for 13 s (each search past sizelimit:
# 3 entries and sizeLimitExceeded, nothing on the wire); ldapsearch
# one-shots (the other ports) bind, search, unbind and close (FIN with the
# unbind; slapd closes on the unbind, its FIN crossing the client's or
# ahead of it): healthy. Two raw sockets connect and never send: slapd
# closes them with the others; "silentread" ($silentread) closes at once,
# "silent" ($silent) never reads nor closes: CLOSE_WAIT to the end, a leak.
# "flood" ($flood) sends an anonymous bind and 10 searches in one segment:
# slapd defers the searches behind the bind (conn_max_pending 3), drops
# the connection at the fourth ("closed (connection lost)"): FIN and,
# the requests unread, RST, under a millisecond after them; no answer, no
# idle close. Cuts: early (from 2.6 s) all idle, none past the timeout; mid
# right after slapd's idle closes (the cut waits for 4 CLOSE-WAITs, or
# 4.8 s: the ACKs of its last FINs may be still to come), before the
# reuses, the connections it closed in CLOSE_WAIT on the client, too
# young to judge; late (13.9 s) after the reuses and the busy client's
# unbind. At the mid cut slapd had closed: $(slapd_idle_closes "$out/$name@mid.pcap")
healthy cport!=$stale,$silent,$silentread,$flood
healthy cport=$silentread
expect cport=$flood : accept_then_close(server) !idle_timeout_close(server) !stale_reuse_reset(client)
@early expect cport=$stale,$silent,$silentread n>=5 : open(client) !idle_timeout_close(server)
@early nofinding idle_timeout_close
@early nofinding close_wait_leak
@mid expect cport=$stale client.ss=CLOSE-WAIT n>=2 : idle_timeout_close(server) open(client) !close_wait_leak(client)
@mid expect cport=$silent client.ss=CLOSE-WAIT : idle_timeout_close(server) open(client)|close_wait_leak(client)
@mid noproblem close_wait_leak
@mid says idle_timeout_close : closed $(slapd_idle_closes "$out/$name@mid.pcap" | grep -o '(' | wc -l) idle connections
@late expect cport=$stale,$silent,$silentread n>=5 : idle_timeout_close(server)
@late expect cport=$stale n>=3 : stale_reuse_reset(client) !close_wait_leak(client)
@late expect cport=$silent client.ss=CLOSE-WAIT : close_wait_leak(client)
@late infinding cport=$silent : close_wait_leak
@mid,late finding idle_timeout_close
@late says idle_timeout_close : closed 5 idle connections
@late finding stale_reuse_reset
@late says stale_reuse_reset : on 3 connections
@late finding close_wait_leak
@late says close_wait_leak : holds 1 connection
EXP
}

# ipv6_closewait HOST PORTS DEADLINE: wait until each of the client ports
# PORTS (comma separated) is in CLOSE-WAIT on HOST, or DEADLINE seconds
# after begin.
ipv6_closewait() {
	local p all
	while awk -v t0="$t0" -v s="$3" -v now="$(date +%s.%N)" 'BEGIN { exit !(now < t0 + s) }'; do
		all=1
		for p in ${2//,/ }; do
			ip netns exec "$tag-$1" ss -tanH state close-wait "sport = :$p" | grep -q . || all=
		done
		[ -n "$all" ] && return 0
		sleep 0.01
	done
}

# ipv6_said ROLE N: wait until the clients said N ports of ROLE (up to 5 s).
ipv6_said() {
	for _ in $(seq 500); do
		[ "$(grep -c "^$1 " "$work/ports")" -ge "$2" ] && return 0
		sleep 0.01
	done
	die "the clients said fewer than $2 $1 ports: $(tail -5 "$work/log")"
}

# Key incidents over IPv6 only: the hosts' link has IPv6 addresses alone
# (fd00:99:1::1 and ::2, no DAD delay), and every server listens on the
# IPv6 address.
sc_ipv6_incidents() {
	host client; host server; wire client server v6
	ip netns exec "$tag-server" sysctl -qw net.ipv4.tcp_syncookies=1 # IPv6's too
	nginx_conf "$work/nginx" 8080 2s "[$server_ip]"
	run_nginx server "$work/nginx"
	on server redis-server --bind "$server_ip" --port 6379 --protected-mode no --save "" --appendonly no \
		--maxclients 4 --timeout 0 --dir "$work" --daemonize no
	# listen-overflow's server and the same trick: the clients' bare
	# handshake ACKs (an IPv6 payload of 32 bytes: the TCP header and its
	# timestamps) are dropped, their data 0.5 s later completes the
	# handshake, so that the handshakes overlap as over a real network.
	ip netns exec "$tag-client" nft add table inet flowdoc
	ip netns exec "$tag-client" nft add chain inet flowdoc out '{ type filter hook output priority 0; }'
	ip netns exec "$tag-client" nft add rule inet flowdoc out tcp dport 9000 tcp flags == ack ip6 length 32 drop
	on server $pylab nobacklog "$server_ip" 9000 40
	listening server 8080
	listening server 6379
	listening server 9000
	capture client "$client_if" "$work/cap.pcap"
	begin ipv6-incidents
	# Redis: 4 held connections fill maxclients 4, then a reconnect loop.
	client client $pylab capheld redis "$server_ip" 6379 4 25
	ipv6_said redishold 4
	client client $pylab caprefused redis "$server_ip" 6379 6 0.15
	ipv6_said redisrefused 6
	# 8 clients at once to the server that never accepts (backlog 1),
	# and nginx: http.client connections, one request each, the first
	# three never read nor closed again, the fourth closed.
	client client $pylab flood "$server_ip" 9000 8 30 0.5
	client client $pylab httpleak "$server_ip" 8080 4 0.25 25
	ipv6_said flood 8
	t0=$(date +%s.%N) # the clock starts with the handshakes to 9000
	# Their data (0.5 s) sent again (0.7 s, 0.9 s), before the SYN-ACK's
	# own retransmission timeout (1 s): the server's silence cannot be
	# told from a SYN_RECV's yet. nginx's connections idle, not closed.
	until_t 0.78
	cut early client server
	until_t 2.5
	# http.client reused after 3 s, a requests Session that reconnects.
	client client $pylab stale "$server_ip" 8080 3 10
	ipv6_said session 1
	# Right after nginx's idle close of those two.
	ipv6_closewait client "$(ports httpclient),$(ports session)" 6.5
	cut mid client server
	until_t 12
	cut late client server
	finish "$work/cap.pcap"
	local late=$out/$name@late.pcap rh rr leak ok hc sess acc ndp early_at early_re
	rh=$(ports redishold) rr=$(ports redisrefused) leak=$(ports leak) ok=$(ports ok) hc=$(ports httpclient) sess=$(ports session)
	# The two connections to 9000 whose data the kernel acknowledged: the
	# accept queue's (backlog 1: it holds 2).
	acc=$(tshark -r "$late" -Y 'tcp.srcport == 9000 && tcp.len == 0 && tcp.ack == 7' -T fields -e tcp.dstport 2>/dev/null | sort -un | paste -sd,)
	# The early cut: how long after the last SYN-ACK to 9000, and how
	# many data segments it holds sent again.
	early_at=$(tshark -r "$late" -Y 'tcp.srcport == 9000 && tcp.flags.syn == 1' -T fields -e frame.time_epoch 2>/dev/null |
		tail -1 | awk -v at="$(date -d "$(sed -n 's/^at //p' "$out/$name@early.truth")" +%s.%N)" '{ printf "%.2f", at - $1 }')
	early_re=$(tshark -r "$out/$name@early.pcap" -Y 'tcp.dstport == 9000 && tcp.analysis.retransmission' 2>/dev/null | grep -c .)
	ndp=$(tshark -r "$late" -Y icmpv6 -T fields -e icmpv6.type 2>/dev/null | sort | uniq -c |
		awk '{ n = $2 == 133 ? "router solicitation" : $2 == 135 ? "neighbour solicitation" : $2 == 136 ? "neighbour advertisement" : $2 == 143 ? "MLDv2 report" : "ICMPv6 type " $2; printf "%s%d %s%s", s, $1, n, ($1 > 1 ? "s" : ""); s = ", " }')
	expect <<EXP
# The key incidents again, over IPv6 only: client fd00:99:1::1, server
# $server_ip on one veth link, global addresses without DAD. MSS 1440
# (IPv6's) on every SYN. Linux gives each connection a flow label and
# draws a new one at each retransmission timeout: a connection's label
# changes, its addresses and ports do not. The capture also holds
# ICMPv6, no TCP:
#   $ndp
# (the client's first solicitation of the server's address goes
# unanswered, the link just up, and is sent again 1 s later: the first
# connection waits for it).
# - nginx 1.22 (keepalive_timeout 2s) closes idle keep-alive connections
#   2.0 s after its response with a FIN. Python http.client connections,
#   one request each 0.25 s apart: three ($leak) never read nor close
#   again (CLOSE_WAIT on the client to the end, nginx in FIN-WAIT-2), a
#   fourth ($ok) closed by the client right after its response (its
#   TIME_WAIT). Later an http.client connection ($hc) and a requests
#   Session's ($sess), one request each; nginx closes both 2.0 s later;
#   1.0 s after that http.client sends its next GET on the closed
#   connection: RST (http.client raises RemoteDisconnected; nothing
#   retries it); the Session notices the close as it takes the
#   connection from its pool, closes it (FIN) and opens a new one
#   (healthy).
# - Redis 7.0 (maxclients 4, timeout 0): four redis-py connections
#   ($rh) fill it and stay open (healthy). A reconnect loop of redis-py
#   (6 attempts 150 ms apart, each a new connection and PING) gets
#   "-ERR max number of clients reached" (36 bytes) within 0.2 ms of
#   each handshake, then RST (the PING, crossing the error, is unread),
#   after a FIN or without one: accept then close, a reconnect storm of
#   6 in under a second.
# - A python server listening with backlog 1 on 9000 that never accepts,
#   SYN cookies on (net.ipv4.tcp_syncookies serves IPv6 too): 8 clients
#   connect at once (their bare handshake ACKs dropped on the client by
#   nftables so that the handshakes overlap) and send 6 bytes 0.5 s
#   later. The accept queue takes 2 ($acc: their data acknowledged, ESTAB
#   with Recv-Q 6 on the server, never accepted); the kernel drops the
#   other 6 data segments (ListenOverflows) and keeps no socket for them
#   (SYN cookies): the clients resend their data with backoff to the end,
#   the server acknowledges nothing: listen overflow, the server CLOSED.
# Cuts: early $early_at s after the SYN-ACKs to 9000 (their data sent
# 0.5 s after them, sent again 0.2 s later: $early_re segments sent again
# in this cut; the SYN-ACK's own retransmission timeout, 1 s, not yet
# run out: whether the server holds a SYN_RECV socket or none cannot be
# told yet, but the pattern can: two of eight connections
# opened together acknowledged, six never, none of them idle); the Redis
# loop over; nginx's leaks idle, not yet closed. mid right after nginx's
# idle close of $hc and $sess (the cut waits until the client shows
# both in CLOSE-WAIT: tens of ms, the client's delayed ACKs, 40 ms, in),
# the three leaks 2-3 s in CLOSE-WAIT. late after the reuse.
healthy sport=8080 cport=$ok
@early expect sport=8080 cport=$leak client.ss=ESTAB n>=2 : open(client) !close_wait_leak(client) !idle_timeout_close(server)
@early nofinding close_wait_leak
@early nofinding idle_timeout_close
@mid,late expect sport=8080 cport=$leak client.ss=CLOSE-WAIT n>=3 : idle_timeout_close(server) close_wait_leak(client)
@mid,late infinding sport=8080 cport=$leak : close_wait_leak
@mid expect sport=8080 cport=$hc,$sess client.ss=CLOSE-WAIT n>=2 : idle_timeout_close(server) open(client) !close_wait_leak(client)
@mid healthy sport=8080 cport=$sess
@late expect sport=8080 cport=$hc : idle_timeout_close(server) stale_reuse_reset(client) !close_wait_leak(client)
@late expect sport=8080 cport=$sess : idle_timeout_close(server) !stale_reuse_reset(client) !close_wait_leak(client)
@late healthy sport=8080 cport!=$leak,$hc
@mid,late finding close_wait_leak
@mid,late says close_wait_leak : holds 3 connections to [$server_ip]:8080 in CLOSE_WAIT
@mid,late finding idle_timeout_close
@mid says idle_timeout_close : closed 5 idle connections after 2.0 s without traffic (all 5)
@mid,late says idle_timeout_close : 3 of them were then leaked by their peer in CLOSE_WAIT
@late finding stale_reuse_reset
@late says stale_reuse_reset : on 1 connection that [$server_ip]:8080 had closed after 2.0 s idle
expect sport=6379 cport=$rr n>=6 : accept_then_close(server) !stale_reuse_reset(client) !close_wait_leak(client) !open(client)
expect sport=6379 cport=$rh n>=4 : open(client)
healthy sport=6379 cport=$rh
finding reconnect_storm
infinding sport=6379 cport=$rr : reconnect_storm
says reconnect_storm : fd00:99:1::1 opened 6 connections to [$server_ip]:6379 in
says reconnect_storm : after refusing the client with Redis's "max number of clients reached"
expect sport=9000 cport!=$acc n>=6 : listen_overflow(server) !peer_unreachable(server)
expect sport=9000 cport!=$acc server.ss=CLOSED n>=6 : listen_overflow(server)
expect sport=9000 cport=$acc n>=2 : !peer_unreachable(server) !close_wait_leak(server)
finding listen_overflow
says listen_overflow : [$server_ip]:9000 could not keep up with incoming connections: 6 connections
nofinding peer_unreachable
EXP
}

# postfix_conf DIR: a Postfix instance of its own in DIR (config_directory
# DIR/etc, queue_directory DIR/queue, data_directory DIR/data, its log in
# DIR/maillog): smtpd on port 25 for every address of its host, a limit of
# 2 connections per client (anvil; no client exempt), smtpd_timeout 5s,
# each reply delayed 1 s from a session's second error on, the session
# ended at its third; no DNS; every mail, local or not, goes to
# discard(8): nothing delivered.
postfix_conf() {
	local d=$1
	mkdir -p -m 755 "$d/etc" "$d/queue"
	cat >"$d/etc/main.cf" <<CONF
compatibility_level = 3.6
queue_directory = $d/queue
data_directory = $d/data
mail_owner = postfix
setgid_group = postdrop
maillog_file = $d/maillog
maillog_file_prefixes = $d
myhostname = mx.lab.example
mydomain = lab.example
myorigin = \$mydomain
mydestination = \$mydomain, localhost
mynetworks = 127.0.0.0/8
inet_interfaces = all
inet_protocols = ipv4
smtpd_client_connection_count_limit = 2
smtpd_client_event_limit_exceptions =
smtpd_timeout = 5s
smtpd_soft_error_limit = 2
smtpd_hard_error_limit = 3
smtpd_error_sleep_time = 1s
smtpd_peername_lookup = no
smtp_host_lookup = native
lmtp_host_lookup = native
disable_dns_lookups = yes
smtp_dns_support_level = disabled
alias_maps =
alias_database =
local_recipient_maps =
local_transport = discard
default_transport = discard
relay_transport = discard
biff = no
CONF
	cat >"$d/etc/master.cf" <<'CONF'
smtp      inet  n       -       n       -       -       smtpd
pickup    unix  n       -       n       60      1       pickup
cleanup   unix  n       -       n       -       0       cleanup
qmgr      unix  n       -       n       300     1       qmgr
rewrite   unix  -       -       n       -       -       trivial-rewrite
bounce    unix  -       -       n       -       0       bounce
defer     unix  -       -       n       -       0       bounce
trace     unix  -       -       n       -       0       bounce
verify    unix  -       -       n       -       1       verify
flush     unix  n       -       n       1000?   0       flush
proxymap  unix  -       -       n       -       -       proxymap
showq     unix  n       -       n       -       -       showq
error     unix  -       -       n       -       -       error
retry     unix  -       -       n       -       -       error
discard   unix  -       -       n       -       -       discard
anvil     unix  -       -       n       -       1       anvil
scache    unix  -       -       n       -       1       scache
postlog   unix-dgram n  -       n       -       1       postlogd
CONF
}

# smtp_ends FILE PORTS: how the connections to port 25 of the client
# ports PORTS (comma separated) ended in FILE, one a line: Postfix's first
# reply after the accept, then the FINs, data and RST after it (in µs
# after the packet before).
smtp_ends() {
	tshark -r "$1" -Y "tcp.port == 25" -T fields -e frame.time_epoch -e tcp.srcport -e tcp.dstport -e tcp.flags.syn \
		-e tcp.flags.ack -e tcp.flags.fin -e tcp.flags.reset -e tcp.len 2>/dev/null |
		awk -v want="$2" '
			BEGIN { n = split(want, w, ","); for (i = 1; i <= n; i++) keep[w[i]] = i }
			{ s = $2 == 25; c = s ? $3 : $2 }
			!(c in keep) { next }
			s && $4 == 1 && $5 == 1 { acc[c] = $1 }
			s && $8 > 0 && !(c in sdata) { sdata[c] = $1 }
			s && $6 == 1 && !(c in sfin) { sfin[c] = $1 }
			s && $7 == 1 && !(c in srst) { srst[c] = $1 }
			!s && $6 == 1 && !(c in cfin) { cfin[c] = $1 }
			!s && $8 > 0 && (c in sfin) && !(c in cafter) { cafter[c] = $1; clen[c] = $8 }
			END {
				for (i = 1; i <= n; i++) { c = w[i]; if (!(c in acc)) continue
					printf "%s: its reply %.1f ms after the accept; ", c, 1000 * (sdata[c] - acc[c])
					if ((c in cfin) && (!(c in sfin) || cfin[c] < sfin[c]))
						printf "the client\047s FIN +%.0f µs, Postfix\047s %s +%.0f µs\n", 1e6 * (cfin[c] - sdata[c]),
							(c in sfin ? "FIN" : "RST"), 1e6 * ((c in sfin ? sfin[c] : srst[c]) - cfin[c])
					else if (!(c in sfin)) printf "no FIN from Postfix\n"
					else if (c in cafter) printf "Postfix\047s FIN +%.0f µs, %d bytes +%.0f µs, RST +%.0f µs\n", 1e6 * (sfin[c] - sdata[c]),
						clen[c], 1e6 * (cafter[c] - sfin[c]), 1e6 * (srst[c] - cafter[c])
					else if (c in cfin) printf "Postfix\047s FIN +%.0f µs, the client\047s +%.0f µs\n", 1e6 * (sfin[c] - sdata[c]),
						1e6 * (cfin[c] - sfin[c])
					else printf "Postfix\047s FIN +%.0f µs, none from the client\n", 1e6 * (sfin[c] - sdata[c])
				}
			}'
}

# smtp_timeouts FILE PORTS: for the client ports PORTS, one a line,
# Postfix's last message (its 421 on smtpd_timeout) after the quiet
# before it, its FIN and the client's (before Postfix's when the client
# closed on reading the 421 first).
smtp_timeouts() {
	tshark -r "$1" -Y "tcp.port == 25" -T fields -e frame.time_epoch -e tcp.srcport -e tcp.dstport -e tcp.flags.fin \
		-e tcp.len 2>/dev/null |
		awk -v want="$2" '
			BEGIN { n = split(want, w, ","); for (i = 1; i <= n; i++) keep[w[i]] = i }
			{ s = $2 == 25; c = s ? $3 : $2 }
			!(c in keep) { next }
			$5 > 0 && !(c in sfin) { if (s) { quiet[c] = $1 - last[c]; msg[c] = $1 } last[c] = $1 }
			s && $4 == 1 && !(c in sfin) { sfin[c] = $1 }
			!s && $4 == 1 && !(c in cfin) { cfin[c] = $1 }
			END {
				for (i = 1; i <= n; i++) { c = w[i]
					printf "%s: its 421 after %.3f s quiet; its FIN +%.0f µs, ", c, quiet[c], 1e6 * (sfin[c] - msg[c])
					if (!(c in cfin)) printf "none from the client\n"
					else if (cfin[c] < sfin[c]) printf "the client\047s %.0f µs before it\n", 1e6 * (sfin[c] - cfin[c])
					else printf "the client\047s +%.0f µs\n", 1e6 * (cfin[c] - sfin[c])
				}
			}'
}

# Postfix's smtpd: a per-client connection limit (anvil) and its idle
# timeout.
sc_postfix_smtp() {
	host client; host server; wire client server
	local d=$work/postfix i
	postfix_conf "$d"
	# Started by postfix(1) (its checks, queue directories made), the master
	# daemon in the server's namespace; stopped with postfix stop, and by
	# its PID should the scenario die.
	ip netns exec "$tag-server" postfix -c "$d/etc" start >>"$work/log" 2>&1 || die "postfix start: $(tail -5 "$d/maillog" 2>/dev/null)"
	pids+=("$(awk 'NR == 1 { print $1 }' "$d/queue/pid/master.pid")")
	listening server 25
	capture client "$client_if" "$work/cap.pcap"
	begin postfix-smtp
	# The holders: two smtplib sessions, EHLO, then idle.
	client client $pylab smtphold "$server_ip" 25 20
	for _ in $(seq 100); do
		[ "$(wc -l <"$work/ports")" -ge 2 ] && break
		sleep 0.05
	done
	[ "$(wc -l <"$work/ports")" -ge 2 ] || die "the holders did not connect: $(tail -5 "$work/log")"
	t0=$(date +%s.%N) # the clock starts with both held
	until_t 0.3
	# smtplib reconnecting: 6 attempts, 200 ms apart.
	client client $pylab smtprefused "$server_ip" 25 6 0.2
	# Right after the fifth refusal (the sixth 200 ms later).
	for _ in $(seq 60); do
		[ "$(grep -c '^smtprefused' "$work/ports")" -ge 5 ] && break
		sleep 0.02
	done
	echo "lab: $name: $(grep -c '^smtprefused' "$work/ports") smtplib refusals at the early cut" >&2
	cut early client server
	# swaks reconnecting: 6 attempts, 200 ms apart (each from a port of
	# its own, above the ephemeral range).
	until_t 1.8
	for i in 1 2 3 4 5 6; do
		echo "swaksrefused 6100$i" >>"$work/ports"
		ip netns exec "$tag-client" timeout 5 swaks --server "$server_ip" --port 25 --local-port "6100$i" \
			--helo client.lab.example --from app@client.lab.example --to root@lab.example --timeout 5 \
			>"$work/swaks$i.out" 2>&1 || echo "swaks $i: exit $?" >>"$work/log"
		[ $i = 6 ] || sleep 0.2
	done
	cut mid client server # just after the last refusal
	# After smtpd_timeout closed the holders: a pooled session reused
	# after 6 s idle, a session of unknown commands, ended at its third
	# error, and (that one over) a mail submitted by swaks.
	until_t 5.3
	client client $pylab smtpreuse "$server_ip" 25 6
	until_t 5.5
	client client $pylab smtperrors "$server_ip" 25 5
	until_t 8
	echo "swaksok 61010" >>"$work/ports"
	ip netns exec "$tag-client" timeout 5 swaks --server "$server_ip" --port 25 --local-port 61010 \
		--helo client.lab.example --from app@client.lab.example --to root@lab.example --timeout 5 \
		>"$work/swaksok.out" 2>&1 || echo "swaks ok: exit $?" >>"$work/log"
	until_t 12
	cut late client server
	ip netns exec "$tag-server" postfix -c "$d/etc" stop >>"$work/log" 2>&1 || true
	finish "$work/cap.pcap"
	sed -n 's/^<\*\* /  swaks 1 got: /p; s/^ -> QUIT/  swaks 1 sent: QUIT/p; s/^\*\*\* /  swaks 1: /p' "$work/swaks1.out"
	grep -E '^ *(<-|->) *(221|QUIT|250 2\.0\.0)' "$work/swaksok.out" | sed 's/^/  swaks ok: /' || true
	sed -n 's/^.*smtpd\[[0-9]*\]: \(warning: Connection concurrency.*\)/\1/p' "$d/maillog" | sort | uniq -c | sed 's/^ */  postfix: /'
	grep -E 'timeout after|too many errors|client=|ehlo=' "$d/maillog" | sed 's/^/  postfix: /' || true
	local late=$out/$name@late.pcap watch idle refused swref errs ok reuse
	watch=$(ports smtpwatch) idle=$(ports smtpidle) refused=$(ports smtprefused) swref=$(ports swaksrefused)
	errs=$(ports smtperrors) ok=$(ports swaksok) reuse=$(ports smtpreuse)
	local ends timeouts first cross reused
	ends=$(smtp_ends "$late" "$refused,$swref" | sed '2,$s/^/#   /')
	timeouts=$(smtp_timeouts "$late" "$watch,$idle,$reuse" | sed '2,$s/^/#   /')
	# The reused session: its MAIL after Postfix's FIN, and the RST.
	reused=$(tshark -r "$late" -Y "tcp.port == $reuse && (tcp.len > 0 || tcp.flags.fin == 1 || tcp.flags.reset == 1)" -T fields \
		-e frame.time_epoch -e tcp.srcport -e tcp.flags.fin -e tcp.flags.reset -e tcp.len 2>/dev/null |
		awk '$2 == 25 && $3 == 1 && !f { f = $1 } f && $2 != 25 && $5 > 0 && !m { m = $1; n = $5 }
			$2 == 25 && $4 == 1 && m && !r { r = $1 }
			END { printf "its MAIL (%d bytes) %.3f s after Postfix\047s FIN, the RST %.0f µs after it", n, m - f, 1e6 * (r - m) }')
	first=Postfix
	if client_first "$late" 25 | tr , '\n' | grep -qx "$ok"; then first=swaks; fi
	# Whether smtplib's fifth XLAB went out before smtpd's RST.
	cross="was not sent: the RST came first"
	[ "$(tshark -r "$late" -Y "tcp.srcport == $errs && tcp.len == 6" 2>/dev/null | wc -l)" -lt 5 ] || cross="crossed the 421, sent before the RST"
	expect <<EXP
# Postfix $(postconf -d -h mail_version) (Debian's $(dpkg-query -W -f '${Version}' postfix)), an instance of its own
# (postfix -c DIR start: its main.cf, master.cf, queue and data
# directories in the work directory) listening on port 25 with
# smtpd_client_connection_count_limit = 2 (anvil; no client exempt:
# smtpd_client_event_limit_exceptions empty), smtpd_timeout = 5s,
# smtpd_soft_error_limit 2, smtpd_hard_error_limit 3,
# smtpd_error_sleep_time 1s; no DNS, every mail discarded (discard(8)).
# The holders: two python3 smtplib sessions of the client host, EHLO, then
# idle. "smtpwatch" ($watch) waits until its socket is readable, reads the
# reply there and closes; "smtpidle" ($idle) never reads nor closes.
# With both held, smtpd answers every further connection of the host
# (anvil counts 3) with "421 4.7.0 mx.lab.example Error: too many
# connections from 10.99.1.1" (69 bytes) in place of its 220 greeting,
# and closes (maillog: "warning: Connection concurrency limit exceeded:
# 3 from unknown[10.99.1.1] for service smtp"): an smtplib reconnect loop
# ($refused: 6 attempts 200 ms apart,
# each as smtplib.SMTP(host) does: the greeting read, close,
# SMTPConnectError) and a swaks one ($swref:
# 6 runs 200 ms apart) that answers the 421 with QUIT (exit 21), which
# Postfix's kernel resets, the socket closed. Each, from Postfix's reply:
#   $ends
# All are refusals, accepted then closed at once: a reconnect storm of 12
# connections in under 3 s. swaks' QUIT after Postfix's FIN is its
# goodbye to the 421, no request on a stale connection: nothing is lost,
# the RST only answers it.
# smtpd_timeout: 5 s after its EHLO reply, smtpd writes "421 4.4.2
# mx.lab.example Error: timeout exceeded" (50 bytes) and closes (maillog
# "timeout after EHLO"):
#   $timeouts
# An idle-timeout close by the server, with a goodbye. smtpwatch closes
# as it reads the 421 (its FIN may come before Postfix's own); smtpidle
# sits in CLOSE_WAIT to the end (ss Recv-Q 51: the 421 and the FIN
# unread): a leak. "smtpreuse" ($reuse), connected after
# them, is a session kept as a pool keeps it: EHLO, idle 6 s without
# reading, then sendmail on it (Postfix closed it at 5 s, the same way):
# $reused;
# smtplib reads the 421 left unread as MAIL's answer, closes and raises
# SMTPSenderRefused. A stale reuse after the server's idle timeout.
# "smtperrors" ($errs), after the timeouts: EHLO, then unknown commands
# (XLAB), each sent as the reply to the last came: "500 5.5.2 Error:
# command not recognized" at once to the first two, 1 s later to the
# third (the error sleep, from the second error on); the fourth XLAB is
# not read: 1 s later smtpd sends "421 4.7.0 mx.lab.example Error: too
# many errors" (the hard limit; maillog "too many errors after UNKNOWN")
# and closes: the client's command unread, an RST, no FIN (smtplib's
# fifth XLAB $cross).
# A server ending a session for the client's errors: no idle timeout (its
# 2 s of silence were its own error sleeps, the client's last command
# unanswered), no reuse of a closed connection, no refusal at the accept.
# "swaksok" ($ok): a mail submitted (EHLO, MAIL, RCPT, DATA, "250 2.0.0
# Ok: queued"), QUIT, "221 2.0.0 Bye"; Postfix and swaks close within a
# millisecond of the 221, either first (here $first): healthy.
# Cuts: early right after the fifth smtplib refusal (the sixth to come),
# the holders idle; mid right after swaks' sixth refusal (its RST), the
# holders idle some 3 s, before their timeout; late (12 s) after the
# timeouts, the errors session, the mail and the stale reuse.
expect cport=$refused,$swref : accept_then_close(server) !stale_reuse_reset(client) !close_wait_leak(client) !open(client) !idle_timeout_close(server)
@early expect cport=$refused n>=5 : accept_then_close(server)
@mid,late expect cport=$refused,$swref n>=12 : accept_then_close(server)
infinding cport=$refused,$swref : reconnect_storm
finding reconnect_storm
says reconnect_storm : to $server_ip:25 in
says reconnect_storm : after refusing the client with a 421 or 554 line
@mid,late says reconnect_storm : opened 12 connections
@early,mid nofinding stale_reuse_reset
@early,mid expect cport=$watch,$idle n>=2 : open(client) !idle_timeout_close(server) !close_wait_leak(client)
@early,mid healthy cport=$watch,$idle
@early,mid nofinding idle_timeout_close
@early,mid nofinding close_wait_leak
@late expect cport=$watch,$idle,$reuse n>=3 : idle_timeout_close(server)
@late expect cport=$reuse : stale_reuse_reset(client) !close_wait_leak(client)
@late infinding cport=$reuse : stale_reuse_reset
@late says stale_reuse_reset : on 1 connection
@late expect cport=$watch : !close_wait_leak(client)
@late expect cport=$idle client.ss=CLOSE-WAIT : close_wait_leak(client)
@late infinding cport=$idle : close_wait_leak
@late finding idle_timeout_close
@late says idle_timeout_close : closed 3 idle connections after 5.0 s
@late finding close_wait_leak
@late says close_wait_leak : holds 1 connection to $server_ip:25 in CLOSE_WAIT
@late expect cport=$errs : reset(server) !idle_timeout_close(server) !stale_reuse_reset(client) !accept_then_close(server) !close_wait_leak(client)
@late healthy cport=$ok
EXP
}

# dovecot_conf DIR ADDR: a Dovecot of its own in DIR, IMAP on ADDR:143 in
# the clear, users from a passwd-file (alice and bob, password "secret",
# mail as nobody in DIR/mail), mail_max_userip_connections 2.
dovecot_conf() {
	local d=$1 addr=$2
	mkdir -p "$d/base" "$d/state" "$d/mail"
	chown nobody:nogroup "$d/mail"
	printf '%s:{PLAIN}secret:65534:65534::%s/mail/%s::\n' alice "$d" alice bob "$d" bob >"$d/users"
	cat >"$d/dovecot.conf" <<CONF
protocols = imap
listen = $addr
base_dir = $d/base
state_dir = $d/state
log_path = $d/dovecot.log
auth_verbose = yes
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain login
passdb {
	driver = passwd-file
	args = $d/users
}
userdb {
	driver = passwd-file
	args = $d/users
}
mail_location = maildir:~/Maildir
mail_max_userip_connections = 2
service imap-login {
	inet_listener imap {
		port = 143
	}
	inet_listener imaps {
		port = 0
	}
}
CONF
}

# imap_refusals FILE PORTS: for the client ports PORTS, Dovecot's tagged NO
# to the LOGIN after the handshake, its FIN after the NO, the client's
# LOGOUT before or after that FIN, and the RST.
imap_refusals() {
	tshark -r "$1" -Y "tcp.port == 143" -T fields -e frame.time_epoch -e tcp.srcport -e tcp.dstport -e tcp.flags.syn \
		-e tcp.flags.fin -e tcp.flags.reset -e tcp.len -e tcp.payload 2>/dev/null |
		awk -v want="$2" '
			BEGIN { n = split(want, w, ","); for (i = 1; i <= n; i++) keep[w[i]] = i }
			{ s = $2 == 143; c = s ? $3 : $2 }
			!(c in keep) { next }
			!s && $4 == 1 && !(c in syn) { syn[c] = $1 }
			# "TAG1 NO " in hex: the tag, then 31 20 4e 4f 20.
			s && $7 > 0 && $8 ~ /^[0-9a-f]*31204e4f20/ { no[c] = $1 }
			s && $5 == 1 && !(c in fin) { fin[c] = $1 }
			!s && $7 > 0 && (c in no) && !(c in lo) { lo[c] = $1 }
			!s && $5 == 1 && !(c in cfin) { cfin[c] = $1 }
			s && $6 == 1 && !(c in rst) { rst[c] = $1 }
			END {
				for (i = 1; i <= n; i++) { c = w[i]
					printf "%s: NO [LIMIT] %.1f ms after its SYN, Dovecot\047s FIN +%.0f µs, ", c, 1e3 * (no[c] - syn[c]), 1e6 * (fin[c] - no[c])
					if (lo[c] < fin[c]) printf "the LOGOUT %.0f µs before it", 1e6 * (fin[c] - lo[c])
					else printf "the LOGOUT %.0f µs after it", 1e6 * (lo[c] - fin[c])
					printf ", Dovecot\047s RST +%.0f µs%s\n", 1e6 * (rst[c] - lo[c]), (c in cfin) ? ", a FIN from the client" : ", no FIN from the client"
				}
			}'
}

# Dovecot's per-user connection cap: mail_max_userip_connections.
sc_dovecot_imap() {
	host client; host server; wire client server
	local d=$work/dovecot
	dovecot_conf "$d" "$server_ip"
	on server dovecot -F -c "$d/dovecot.conf"
	listening server 143
	capture client "$client_if" "$work/cap.pcap"
	begin dovecot-imap
	# The holders: two imaplib sessions of alice, logged in, INBOX
	# selected, idle.
	client client $pylab imaphold "$server_ip" 143 alice secret 20
	for _ in $(seq 100); do
		[ "$(wc -l <"$work/ports")" -ge 2 ] && break
		sleep 0.05
	done
	[ "$(wc -l <"$work/ports")" -ge 2 ] || die "the holders did not log in: $(tail -5 "$work/log") $(tail -5 "$d/dovecot.log")"
	t0=$(date +%s.%N) # the clock starts with both held
	client client $pylab imapsilent "$server_ip" 143 20
	until_t 0.3
	# imaplib logging in as alice again: 5 attempts, 300 ms apart.
	client client $pylab imaprefused "$server_ip" 143 alice secret 5 0.3
	for _ in $(seq 60); do
		[ "$(grep -c '^imaprefused' "$work/ports")" -ge 2 ] && break
		sleep 0.02
	done
	cut early client server
	for _ in $(seq 100); do
		[ "$(grep -c '^imaprefused' "$work/ports")" -ge 5 ] && break
		sleep 0.02
	done
	sleep 0.05
	cut mid client server # just after the fifth refusal
	until_t 3.5
	client client $pylab imapsession "$server_ip" 143 bob secret
	until_t 8
	cut late client server
	finish "$work/cap.pcap"
	sed 's/^/  dovecot: /' "$d/dovecot.log" | grep -v 'Debug' | tail -30
	local late=$out/$name@late.pcap hold silent refused sess ends bye
	hold=$(ports imaphold) silent=$(ports imapsilent) refused=$(ports imaprefused) sess=$(ports imapsession)
	ends=$(imap_refusals "$late" "$refused" | sed '2,$s/^/#   /')
	# The normal session: Dovecot's BYE and FIN, imaplib's FIN.
	bye=$(tshark -r "$late" -Y "tcp.port == $sess && (tcp.len > 0 || tcp.flags.fin == 1)" -T fields \
		-e frame.time_epoch -e tcp.srcport -e tcp.flags.fin -e tcp.len 2>/dev/null |
		awk '$2 != 143 && $4 > 0 { lo = $1 } $2 == 143 && $4 > 0 { bye = $1 } $2 == 143 && $3 == 1 { sf = $1 } $2 != 143 && $3 == 1 { cf = $1 }
			END { printf "its BYE and OK %.0f µs after the LOGOUT; ", 1e6 * (bye - lo)
				if (cf < sf) printf "imaplib\047s FIN +%.0f µs (on reading the OK), Dovecot\047s %.0f µs after it (imaplib\047s TIME_WAIT)", 1e6 * (cf - bye), 1e6 * (sf - cf)
				else printf "Dovecot\047s FIN +%.0f µs, imaplib\047s %.0f µs after it (Dovecot\047s TIME_WAIT)", 1e6 * (sf - bye), 1e6 * (cf - sf) }')
	expect <<EXP
# Dovecot $(dovecot --version | command cut -d' ' -f1) (Debian's dovecot-core and dovecot-imapd $(dpkg-query -W -f '${Version}' dovecot-imapd)), an
# instance of its own (dovecot -F -c: base_dir, state_dir, log and maildirs
# in the work directory), IMAP in the clear on port 143 (ssl = no,
# disable_plaintext_auth = no), users alice and bob from a passwd-file,
# mail_max_userip_connections = 2 (per user and client IP; anvil counts
# the logged-in imap processes), login_trusted_networks unset.
# The holders ($hold): two python3 imaplib sessions of alice, LOGIN,
# SELECT INBOX, then idle, never reading (IMAP's 30 min autologout is
# not configurable: it never comes). "imapsilent" ($silent): a socket
# that reads the greeting and never logs in (imap-login's pre-login
# timeout is compiled in, 60 s: it never comes either): open and healthy.
# With alice's two held, imaplib logs in as alice again from the same
# host, 5 times 300 ms apart ($refused), each as "with IMAP4(host) as M:
# M.login(); M.select()" does: Dovecot accepts, greets ("* OK
# [CAPABILITY ...] Dovecot (Debian) ready."), answers CAPABILITY, and
# answers the LOGIN with a tagged "NO [LIMIT] Maximum number of connections
# from user+IP exceeded (mail_max_userip_connections=2)" (no "* BYE": the
# refusal is imap-login's, before any imap process; log "Disconnected:
# Maximum number of connections from user+IP exceeded") and closes: its
# FIN right after the NO (within 0.25 ms). imaplib raises IMAP4.error, and the with
# statement's __exit__ sends LOGOUT on the closed connection: Dovecot's
# kernel resets it (the socket closed), imaplib raises abort ("socket
# error: EOF"). The LOGOUT crosses Dovecot's FIN or follows it; Dovecot
# closes first, the client never sends a FIN:
#   $ends
# A per-user connection cap refusing the client: accepted, then closed
# within 20 ms, the refusal coming after the greeting and the login (not
# at the accept, as ZooKeeper's or Redis's); 5 in some 1.3 s from one
# host: a reconnect storm. The LOGOUT around the FIN is imaplib's goodbye to a
# refused login, no request on a connection closed for being idle: no
# stale reuse, nothing lost, the RST only answers it.
# "imapsession" ($sess): bob (his own cap): LOGIN, SELECT INBOX, LOGOUT;
# Dovecot answers "* BYE Logging out" and "OK Logout completed." (one
# segment) and closes, imaplib closes as it reads the OK: either may
# close first (a race; the two FINs within a few ms): $bye:
# healthy.
# Cuts: early right after the second refusal's RST (three to come), mid
# right after the fifth refusal's RST, late (8 s) after bob's session, the
# holders and the silent socket idle some 8 s.
expect cport=$hold,$silent n>=3 : open(client) !close_wait_leak(client) !idle_timeout_close(server)
healthy cport=$hold,$silent
@early expect cport=$refused n>=2 : accept_then_close(server) !stale_reuse_reset(client) !idle_timeout_close(server) !close_wait_leak(client)
@mid,late expect cport=$refused n>=5 : accept_then_close(server) !stale_reuse_reset(client) !idle_timeout_close(server) !close_wait_leak(client)
@mid,late infinding cport=$refused : reconnect_storm
@mid,late finding reconnect_storm
@mid,late says reconnect_storm : to $server_ip:143
@mid,late says reconnect_storm : opened 5 connections
nofinding stale_reuse_reset
nofinding idle_timeout_close
nofinding close_wait_leak
@late expect cport=$sess : !reset(client) !reset(server) !stale_reuse_reset(client)
@late healthy cport=$sess
EXP
}

# unbound_conf FILE ADDR PORT NTCP KEEPALIVE: an unbound of its own serving
# lab.example from local data, nothing else (the root refused: no
# recursion), with incoming-num-tcp NTCP, tcp-idle-timeout 2000 and, when
# KEEPALIVE is yes, edns-tcp-keepalive with a timeout of 3000 ms; logging
# at verbosity 4 (each TCP handler's timer, the accept socket stopped and
# started), queries and replies, to FILE.log.
unbound_conf() {
	cat >"$1" <<CONF
server:
	verbosity: 4
	num-threads: 1
	interface: $2@$3
	do-ip4: yes
	do-ip6: no
	do-daemonize: no
	username: ""
	chroot: ""
	directory: "$(dirname "$1")"
	pidfile: ""
	use-syslog: no
	logfile: "$1.log"
	log-time-ascii: yes
	log-queries: yes
	log-replies: yes
	access-control: 10.99.0.0/16 allow
	do-not-query-localhost: yes
	module-config: "iterator"
	incoming-num-tcp: $4
	tcp-idle-timeout: 2000
	edns-tcp-keepalive: $5
	edns-tcp-keepalive-timeout: 3000
	local-zone: "." refuse
	local-zone: "lab.example." static
	local-data: "lab.example. 3600 IN SOA ns.lab.example. admin.lab.example. 1 3600 600 86400 60"
	local-data: "lab.example. 60 IN MX 10 mail.lab.example."
	local-data: "ns.lab.example. 60 IN A $2"
	local-data: "www.lab.example. 60 IN A 10.99.1.80"
	local-data: "db.lab.example. 60 IN A 10.99.1.81"
	local-data: "mail.lab.example. 60 IN A 10.99.1.25"
remote-control:
	control-enable: no
CONF
}

# unbound_closes FILE SPORT PORTS: for each client port of PORTS (comma
# separated), unbound's FIN on SPORT, how long after the last payload of
# the connection (or its handshake) it came, and what the client did.
unbound_closes() {
	tshark -r "$1" -Y "tcp.port == $2" -T fields -e frame.time_epoch -e tcp.srcport -e tcp.dstport -e tcp.flags.syn \
		-e tcp.flags.fin -e tcp.flags.reset -e tcp.len 2>/dev/null |
		awk -v sp="$2" -v want="$3" '
			BEGIN { n = split(want, w, ","); for (i = 1; i <= n; i++) keep[w[i]] = i }
			{ s = $2 == sp; c = s ? $3 : $2 }
			!(c in keep) { next }
			!s && $4 == 1 && !(c in last) { last[c] = $1; what[c] = "the handshake" }
			$7 > 0 && !(c in sfin) { last[c] = $1; what[c] = s ? "its answer" : "the query" }
			s && $5 == 1 && !(c in sfin) { sfin[c] = $1; quiet[c] = $1 - last[c]; after[c] = what[c] }
			!s && $7 > 0 && (c in sfin) && !(c in reuse) { reuse[c] = $1 }
			!s && $5 == 1 && !(c in cfin) { cfin[c] = $1 }
			s && $6 == 1 && !(c in rst) { rst[c] = $1 }
			END {
				for (i = 1; i <= n; i++) { c = w[i]
					if (!(c in sfin)) { printf "%s: no FIN from unbound\n", c; continue }
					printf "%s: unbound\047s FIN %.3f s after %s; ", c, quiet[c], after[c]
					if (c in reuse) printf "the client\047s next query %.3f s after the FIN, unbound\047s RST +%.0f µs\n", reuse[c] - sfin[c], 1e6 * (rst[c] - reuse[c])
					else if (!(c in cfin)) printf "no FIN from the client (CLOSE_WAIT)\n"
					else if (cfin[c] < sfin[c]) printf "the client\047s FIN %.0f µs before it\n", 1e6 * (sfin[c] - cfin[c])
					else printf "the client\047s FIN +%.0f µs\n", 1e6 * (cfin[c] - sfin[c])
				}
			}'
}

# unbound_waits FILE SPORT PORTS: for each client port of PORTS, when its
# SYN came (from the first of them), how long its query waited for an
# answer (the kernel's ACK of it meanwhile), and the closes.
unbound_waits() {
	tshark -r "$1" -Y "tcp.port == $2" -T fields -e frame.time_epoch -e tcp.srcport -e tcp.dstport -e tcp.flags.syn \
		-e tcp.flags.fin -e tcp.len 2>/dev/null |
		awk -v sp="$2" -v want="$3" '
			BEGIN { n = split(want, w, ","); for (i = 1; i <= n; i++) keep[w[i]] = i }
			{ s = $2 == sp; c = s ? $3 : $2 }
			!(c in keep) { next }
			!s && $4 == 1 && !(c in syn) { syn[c] = $1; if (t0 == "" || $1 < t0) t0 = $1 }
			!s && $6 > 0 { if (!(c in q)) q[c] = $1; nq[c]++ }
			s && $6 == 0 && $5 == 0 && $4 == 0 && (c in q) && !(c in a) && !(c in k) { k[c] = $1 }
			s && $6 > 0 { if (!(c in a)) a[c] = $1; la[c] = $1; na[c]++ }
			s && $5 == 1 && !(c in sfin) { sfin[c] = $1 }
			!s && $5 == 1 && !(c in cfin) { cfin[c] = $1 }
			END {
				for (i = 1; i <= n; i++) { c = w[i]
					printf "%s: SYN at +%.3f s", c, syn[c] - t0
					if (!(c in q)) printf ", no query"
					else {
						printf ", its %squery answered after %.3f s", (nq[c] > 1 ? "first " : ""), a[c] - q[c]
						if (c in k) printf " (the kernel\047s ACK +%.0f µs)", 1e6 * (k[c] - q[c])
						if (na[c] > 1) printf ", %d answers", na[c]
					}
					if (!(c in sfin) && !(c in cfin)) { printf ", open\n"; continue }
					if ((c in cfin) && (!(c in sfin) || cfin[c] < sfin[c])) printf "; the client\047s FIN first, %.3f s after the last answer\n", cfin[c] - la[c]
					else if (c in q) printf "; unbound\047s FIN %.3f s after its answer, the client\047s +%.0f µs\n", sfin[c] - la[c], 1e6 * (cfin[c] - sfin[c])
					else printf "; unbound\047s FIN %.3f s after the SYN, the client\047s +%.0f µs\n", sfin[c] - syn[c], 1e6 * (cfin[c] - sfin[c])
				}
			}'
}

# unbound_log FILE: what an unbound's log (verbosity 4) says of its TCP
# handlers: its idle closes and the timers it armed (-1 msec: its accept
# socket watched again).
unbound_log() {
	printf '%d x "tcp took too long, dropped", timers ' "$(grep -c 'tcp took too long, dropped' "$1")"
	grep -o 'comm point start listening [0-9]* (-\?[0-9]* msec)' "$1" | sed 's/.*(\(.*\))/\1/' |
		sort | uniq -c | sort -rn | awk '{ printf "%s%d x %s %s", s, $1, $2, $3; s = ", " }'
}

# unbound_bg FILE CMD...: a dig or kdig in the client host, in the
# background (its local port said as "ROLE PORT" by the caller), its
# output to FILE.
unbound_bg() {
	local f=$1
	shift
	ip netns exec "$tag-client" timeout 10 "$@" >"$f" 2>&1 &
	pids+=($!)
}

# unbound's TCP: its idle timeout, the EDNS TCP keepalive it advertises
# and incoming-num-tcp, at which it stops accepting.
sc_unbound_dns_tcp() {
	host client; host server; wire client server
	local d=$work/unbound i
	mkdir -p "$d"
	# Port 53: tcp-idle-timeout 2000, no EDNS keepalive, 10 TCP handlers.
	# Port 8053: edns-tcp-keepalive yes (its 3000 ms timeout, for every
	# connection), 2 TCP handlers.
	unbound_conf "$d/idle.conf" "$server_ip" 53 10 no
	unbound_conf "$d/cap.conf" "$server_ip" 8053 2 yes
	unbound-checkconf "$d/idle.conf" >>"$work/log" 2>&1 || die "unbound-checkconf: $(tail -3 "$work/log")"
	unbound-checkconf "$d/cap.conf" >>"$work/log" 2>&1 || die "unbound-checkconf: $(tail -3 "$work/log")"
	on server unbound -c "$d/idle.conf"
	on server unbound -c "$d/cap.conf"
	listening server 53
	listening server 8053
	capture client "$client_if" "$work/cap.pcap"
	begin unbound-dns-tcp
	# dnspython reusing its socket 3 s after an answer (port 53); one with
	# the EDNS keepalive option (port 8053), a query every 2 s, closing
	# 0.5 s before the timeout unbound advertised after the last: the
	# first connection to 8053, it holds one of its two handlers.
	client client $pylab unboundstale "$server_ip" 53 3
	client client $pylab unboundka "$server_ip" 8053 4 2
	first_port 10 # the clock starts at the first connection
	until_t 0.1
	client client $pylab unboundspaced "$server_ip" 53 5 1.5
	until_t 0.2
	echo "unbounddig 61011" >>"$work/ports"
	unbound_bg "$work/dig.out" dig +tcp +keepopen -b "$client_ip#61011" @"$server_ip" \
		www.lab.example db.lab.example mail.lab.example lab.example MX
	until_t 0.3
	echo "unboundkdig 61012" >>"$work/ports"
	unbound_bg "$work/kdig.out" kdig +tcp +keepopen -b "$client_ip#61012" @"$server_ip" \
		www.lab.example db.lab.example lab.example MX
	until_t 0.4
	client client $pylab unboundsilent "$server_ip" 53 unboundsilent close 15
	until_t 0.5
	client client $pylab unboundsilent "$server_ip" 53 unboundleak leak 15
	# At 8053 with one handler held by the keepalive client: a socket that
	# never sends, five dnspython connections at once, a dig (two queries,
	# +keepalive) and, 0.15 s after the first, another socket that never
	# sends.
	until_t 0.6
	client client $pylab unboundqueued "$server_ip" 8053 5 0.15
	for _ in $(seq 200); do
		[ "$(grep -c '^unboundqueued ' "$work/ports")" -ge 5 ] && break
		sleep 0.01
	done
	echo "unbounddigka 61021" >>"$work/ports"
	unbound_bg "$work/digka.out" dig +tcp +keepopen +keepalive -b "$client_ip#61021" -p 8053 @"$server_ip" \
		www.lab.example db.lab.example
	for _ in $(seq 100); do
		grep -q '^unboundcaplast ' "$work/ports" && break
		sleep 0.01
	done
	sleep 0.35 # half a second into the burst: two served, the rest waiting
	cut early client server # the burst waiting on unbound's second handler
	# Right after unbound's idle close of the connection dnspython will
	# reuse: in CLOSE-WAIT on the client (its delayed ACK), before the reuse.
	ipv6_closewait client "$(ports unboundstale)" 2.9
	cut mid client server
	until_t 10
	cut late client server
	finish "$work/cap.pcap"
	local late=$out/$name@late.pcap f
	local stale restale spaced silent leak ka queued capfirst caplast closes waits kaclose timers dropped
	stale=$(ports unboundstale) restale=$(ports unboundrestale) spaced=$(ports unboundspaced)
	silent=$(ports unboundsilent) leak=$(ports unboundleak) ka=$(ports unboundka)
	queued=$(ports unboundqueued) capfirst=$(ports unboundcapfirst) caplast=$(ports unboundcaplast)
	local logs=
	for f in idle cap; do
		echo "  unbound $f: $(unbound_log "$d/$f.conf.log"); $(grep -c 'accepted too many tcp' "$d/$f.conf.log") x \"accepted too many tcp\""
		logs="$logs${logs:+; }$([ $f = idle ] && echo 53 || echo 8053): $(unbound_log "$d/$f.conf.log")"
	done
	grep -h 'TCP KEEPALIVE' "$work/digka.out" | sort | uniq -c | sed 's/^ */  dig +keepalive: /'
	closes=$(unbound_closes "$late" 53 "$stale,$silent,$leak")
	waits=$(unbound_waits "$late" 8053 "$capfirst,$queued,61021,$caplast")
	kaclose=$(unbound_waits "$late" 8053 "$ka" | sed -n 's/.*FIN first, \([0-9.]*\) s after.*/\1/p')
	echo "$closes" | sed 's/^/  /'
	echo "$waits" | sed 's/^/  /'
	echo "  $ka: the client's FIN $kaclose s after the last answer"
	local early=$out/$name@early.truth lq waiting midack digmss staleerr eof kaq kadig
	staleerr=$(sed -n 's/^unboundstale at .*: reused: \([A-Za-z]*\).*/\1/p' "$work/log")
	eof="dns.query.tcp raises EOFError (it reads the FIN as
# EOF before the RST)"
	[ "$staleerr" = EOFError ] || eof="dns.query.tcp raises ${staleerr:-nothing}"
	kaq=$(grep -c '^unboundqueued .*keepalive 0.0 s' "$work/log")
	kadig=$(grep -h 'TCP KEEPALIVE' "$work/digka.out" | sort -u | sed 's/^; //' | paste -sd,)
	lq=$(awk '$1 == "LISTEN" && $4 ~ /:8053$/ { print $2 }' "$early")
	waiting=$(awk '$1 == "ESTAB" && $4 ~ /:8053$/ && $2 > 0 { n++ } END { print n + 0 }' "$early")
	# unbound's side in FIN-WAIT-1 at the mid cut: the client's delayed ACK
	# of the FIN (40 ms) still to come.
	midack="its delayed ACK of the FIN sent"
	! grep -q "^FIN-WAIT-1 .* $server_ip:53 $client_ip:$stale *\$" "$out/$name@mid.truth" ||
		midack="its ACK of the FIN not yet sent (delayed ACK), ss FIN-WAIT-1 on unbound's side"
	digmss=$(tshark -r "$late" -Y "tcp.srcport == 61011 && tcp.flags.syn == 1" -T fields -e tcp.options.mss_val 2>/dev/null | head -1)
	expect <<EXP
# unbound $(unbound -V | sed -n 's/^Version //p') (Debian's $(dpkg-query -W -f '${Version}' unbound)), two instances of its own in the
# server's namespace (unbound -c FILE: do-daemonize no, no remote-control,
# one thread), serving lab.example from local-zone/local-data (the root
# refused: no recursion), verbosity 4, log-queries and log-replies:
# - port 53: tcp-idle-timeout 2000, edns-tcp-keepalive no,
#   incoming-num-tcp 10;
# - port 8053: edns-tcp-keepalive yes with edns-tcp-keepalive-timeout
#   3000, incoming-num-tcp 2 (and tcp-idle-timeout 2000, unused: with
#   edns-tcp-keepalive on, unbound 1.17 gives every incoming TCP
#   connection the keepalive timeout, whether or not its client sent the
#   option).
# unbound arms a connection's timer at the accept and again after each
# query read and answer written; when it fires (log: "tcp took too long,
# dropped", verbosity 3) it closes the socket: a bare FIN, nothing
# written first. Accepting a connection with more than half its handlers
# in use, it cuts that connection's timeout (more than 80 % in use: to
# 0, raised to its 200 ms minimum) and advertises the cut timeout in the
# EDNS keepalive option (0: "close now", RFC 7828). Taking its last free
# handler it stops watching its listening socket (log at verbosity 4:
# "comm point stop listening" of the accept socket, then "start
# listening ... (-1 msec)" when a handler frees): further connections
# are neither refused nor reset, and unbound logs nothing about them
# ("accepted too many tcp, connections full" never comes): the kernel
# completes their handshakes and acknowledges their queries, which wait
# in the accept queue (backlog 256) until a handler frees. Its logs, per
# port (the timers it armed; -1: the accept socket watched again):
$(echo "$logs" | tr ';' '\n' | sed 's/^ *//; s/^/#   /')
# Port 53: dnspython's dns.query.tcp on one socket ("unboundstale",
# $stale): a query, then another on the same socket 3 s later; unbound
# closed it 2 s after its answer, and its kernel resets the second
# query: $eof;
# dnspython connects anew ("unboundrestale", $restale), queries and
# closes. A raw socket that connects and never
# sends, reading until EOF ("unboundsilent", $silent: it closes at once),
# and one that never reads nor closes ("unboundleak", $leak: CLOSE_WAIT to
# the end, a leak). unbound's closes and what followed:
$(echo "$closes" | sed 's/^/#   /')
# "unboundspaced" ($spaced): 5 queries 1.5 s apart on one socket, within
# the timeout, then closed by the client: healthy. dig +tcp +keepopen
# (61011, MSS $digmss: 4 queries on one connection) and kdig +tcp
# +keepopen (61012: 3 queries): each sends its next query as an answer
# comes and closes first within a millisecond of the last (TIME_WAIT on
# the client): healthy.
# Port 8053: "unboundka" ($ka), its first connection, holds one handler
# with the full 3000 ms: each answer advertises keepalive 3.0 s; it
# queries every 2 s, and closes before the timeout, as RFC 7828 asks:
# its FIN $kaclose s after the last answer.
# Then, with that handler held: a socket that never sends
# ("unboundcapfirst", $capfirst), 5 dnspython connections at once with the
# keepalive option ("unboundqueued"), dig +tcp +keepopen +keepalive
# (61021, two queries) and, 0.15 s after the first, another socket that
# never sends ("unboundcaplast", $caplast). unbound serves them one at a
# time on its second handler, each with 200 ms: the first silent socket
# closed 200 ms after its handshake; each dnspython connection answered
# as the one before is closed, its answer advertising keepalive 0 (so
# did $kaq of 5), unbound's FIN 200 ms after it, dnspython closing at once
# (it reads on to EOF); dig answered after them, closing first after its
# two answers ("$kadig"); the last silent socket,
# accepted after its 1 s in the queue, closed 200 ms later. The others
# wait meanwhile: their handshakes and queries acknowledged by the
# kernel, no answer. From the first SYN of the burst:
$(echo "$waits" | sed 's/^/#   /')
# At the early cut ss shows the LISTEN socket of 8053 with Recv-Q $lq
# (connections in the accept queue, not accepted by unbound) and $waiting
# of them with their query unread.
# Nothing is refused, reset or dropped at the cap: a wait in the accept
# queue, no listen overflow, no reconnect storm; no connection refused
# at the accept: the silent ones were closed by unbound's timer (cut to
# 200 ms by the load) for sending nothing, as the queued ones would
# have been had they sent nothing, and would have been answered. The
# closes at 200 ms are unbound's idle timeout cut short by its load; the
# queued flows end cleanly: healthy.
# Cuts: early half a second into the burst (the first silent socket and
# one query done, another answered, the rest waiting; on port 53 every
# connection younger than 2 s), mid right after unbound's idle close of
# the connection dnspython is to reuse (in CLOSE-WAIT on the client,
# $midack; the reuse 1 s later), late (10 s)
# after the reuse, the burst and the keepalive client's close.
healthy cport=61011,61012,$spaced,$ka,$restale
healthy cport=$queued,61021
# The silent sockets at the cap: closed by unbound's timer, not refused.
healthy cport=$capfirst,$caplast
expect cport=$capfirst,$queued,61021,$caplast : !listen_overflow(server) !accept_then_close(server) !reset(server) !reset(client)
nofinding listen_overflow
nofinding accept_then_close
nofinding reconnect_storm
@early expect cport=$stale,$silent,$leak,$spaced n>=4 : open(client) !idle_timeout_close(server)
@early nofinding close_wait_leak
@early nofinding stale_reuse_reset
@mid expect cport=$stale client.ss=CLOSE-WAIT : idle_timeout_close(server) open(client) !close_wait_leak(client)
@mid noproblem close_wait_leak
@mid nofinding stale_reuse_reset
@mid,late finding idle_timeout_close
@late expect cport=$caplast : idle_timeout_close(server)
@late expect cport=$stale : idle_timeout_close(server) stale_reuse_reset(client)
@late expect cport=$silent : idle_timeout_close(server) !close_wait_leak(client)
@late healthy cport=$silent
@late expect cport=$leak client.ss=CLOSE-WAIT : idle_timeout_close(server) close_wait_leak(client)
@late infinding cport=$leak : close_wait_leak
@late finding stale_reuse_reset
@late says stale_reuse_reset : on 1 connection
@late says idle_timeout_close : closed 3 idle connections after 2.0 s
@late finding close_wait_leak
@late says close_wait_leak : holds 1 connection
@late says close_wait_leak : after the handshake, no data sent either way
EXP
}

# ngircd_conf DIR: an ngIRCd of its own in DIR (ngircd.conf, its MOTD, a
# directory for its PID file that the user it runs as, nobody, may write):
# port 6667 on every address, PingTimeout and PongTimeout 5 (the least
# ngIRCd takes), MaxConnectionsIP 2, no DNS, IDENT nor PAM.
ngircd_conf() {
	local d=$1
	mkdir -p "$d/run"
	chown nobody:nogroup "$d/run"
	printf 'flowdoc lab: ngIRCd in a network namespace\n' >"$d/motd"
	cat >"$d/ngircd.conf" <<CONF
[Global]
	Name = irc.lab.example
	Info = flowdoc lab
	AdminInfo1 = flowdoc lab
	AdminInfo2 = network namespaces
	AdminEMail = root@lab.example
	Listen = 0.0.0.0
	Ports = 6667
	MotdFile = $d/motd
	PidFile = $d/run/ngircd.pid
[Limits]
	MaxConnectionsIP = 2
	PingTimeout = 5
	PongTimeout = 5
[Options]
	DNS = no
	Ident = no
	PAM = no
CONF
}

# irc_wire FILE CPORT: what the capture FILE shows of the connection from
# CPORT to port 6667 (times after its SYN): the client's last data, the
# server's PINGs (23-byte segments) and whether a PONG answered each, the
# server's last data, retransmissions, each side's FIN and RST.
irc_wire() {
	tshark -r "$1" -Y "tcp.port == $2" -T fields -e frame.time_relative -e tcp.srcport -e tcp.flags.syn \
		-e tcp.flags.ack -e tcp.flags.fin -e tcp.flags.reset -e tcp.len -e tcp.seq 2>/dev/null |
		awk -v p="$2" 'function t(x) { return x == "" ? "none" : sprintf("+%.3f s", x - syn) }
			$2 == p && $3 == 1 && $4 == 0 { syn = $1 }
			$2 == p && $7 > 0 { cb += $7; cl = $1; if (ping != "" && $7 == 22 && pong == "") pong = $1 }
			$2 != p && $7 > 0 && ($8 in seen) { rx++; rxl = $1; next }
			$2 != p && $7 > 0 { seen[$8] = 1; sb += $7; sl = $1; sll = $7; if ($7 == 23) { pings++; if (ping == "") ping = $1 } }
			$2 != p && $5 == 1 && sf == "" { sf = $1 }
			$2 != p && $6 == 1 && sr == "" { sr = $1 }
			$2 == p && $5 == 1 && cf == "" { cf = $1 }
			$2 == p && $6 == 1 && cr == "" { cr = $1 }
			END { printf "%s: client sent %d bytes, its last %s; ", p, cb, t(cl)
				if (pings) printf "%d PING%s, the first %s, %s; ", pings, (pings > 1 ? "s" : ""), t(ping), pong == "" ? "no PONG after it" : sprintf("PONG %.1f ms after it", 1000 * (pong - ping))
				printf "server sent %d bytes, its last (%d bytes) %s", sb, sll, t(sl)
				if (rx) printf ", %d retransmitted (the last %s)", rx, t(rxl)
				printf "; server FIN %s, RST %s; client FIN %s, RST %s\n", t(sf), t(sr), t(cf), t(cr) }'
}

# irc_pingout FILE CPORT: for a client that stopped answering: the
# server's PING after the client's last data, and its last data (the
# NOTICE and ERROR) and FIN after the PING.
irc_pingout() {
	tshark -r "$1" -Y "tcp.port == $2" -T fields -e frame.number -e frame.time_epoch -e tcp.srcport -e tcp.flags.fin -e tcp.len 2>/dev/null |
		awk -v p="$2" '$3 == p && $5 > 0 { cl = $2 }
			$3 != p && $5 == 23 && ping == "" { ping = $2; pn = $1 }
			$3 != p && $5 > 0 && $5 != 23 && ping != "" { bye = $2; bn = $1; bl = $5 }
			$3 != p && $4 == 1 && fin == "" { fin = $2; fn = $1 }
			END { printf "the PING (#%d) %.3f s after the client\047s last data, ", pn, ping - cl
				if (bye == "") printf "no other data from the server after it"
				else printf "the NOTICE and ERROR (#%d, %d bytes) %.3f s after the PING, its FIN (#%d) %.0f µs after them", bn, bl, bye - ping, fn, 1e6 * (fin - bye) }'
}

# irc_storm FILE PORTS: how ngIRCd closed the connections of the client
# ports PORTS: its ERROR line (70 bytes) after the handshake, then a FIN
# before the client's NICK and USER came (its RST answering them), or an
# RST alone (close() with them unread): NICK and USER acknowledged before
# the ERROR line, or crossing it (the ERROR segment acknowledges the SYN
# alone); the span of the attempts.
irc_storm() {
	tshark -r "$1" -Y "tcp.port == 6667" -T fields -e frame.time_epoch -e tcp.srcport -e tcp.dstport -e tcp.flags.syn \
		-e tcp.flags.ack -e tcp.flags.fin -e tcp.flags.reset -e tcp.len -e tcp.ack 2>/dev/null |
		awk -v want="$2" '
			BEGIN { n = split(want, w, ","); for (i = 1; i <= n; i++) keep[w[i]] = 1 }
			{ s = $2 == 6667; c = s ? $3 : $2 }
			!(c in keep) { next }
			!s && $4 == 1 && $5 == 0 { syn[c] = $1; if (first == "" || $1 < first) first = $1; if ($1 > last) last = $1 }
			s && $4 == 1 && $5 == 1 { acc[c] = $1 }
			s && $8 > 0 && !(c in err) { err[c] = $1; eack[c] = $9 }
			s && $6 == 1 && !(c in fin) { fin[c] = $1 }
			END { for (c in syn) { k++; e = 1e6 * (err[c] - acc[c]); if (k == 1 || e > emax) emax = e
					if (c in fin) nf++; else if (eack[c] == 1) crossed++; else first_in++ }
				printf "%d attempts in %.2f s, the ERROR line %.0f µs or less after the handshake; %d closed with a FIN (the client\047s NICK and USER came after it: reset), %d with an RST alone, their NICK and USER acknowledged before the ERROR line, %d with an RST alone, NICK and USER crossing the ERROR line (its segment acknowledging the SYN alone)", k, last - first, emax, nf, first_in, crossed }'
}

# ngIRCd's keep-alive (PING, PongTimeout), its registration timeout, its
# per-address cap (MaxConnectionsIP) and its QUIT, with IRC clients of
# Debian (ii, sic) and raw sockets.
sc_ngircd_irc() {
	host client; host gone; host crowd; host lurker; host server
	wire client server
	local sv_client=$server_ip
	wire gone server
	local sv_gone=$server_ip
	wire crowd server
	local sv_crowd=$server_ip
	wire lurker server
	local sv_lurker=$server_ip
	local d=$work/ngircd
	ngircd_conf "$d"
	ngircd -f "$d/ngircd.conf" --configtest >"$work/configtest" 2>&1 || die "ngircd --configtest: $(tail -5 "$work/configtest")"
	# In the foreground (-n), its log to a file of its own.
	on server bash -c "exec ngircd -n -f $d/ngircd.conf >$d/ngircd.log 2>&1"
	listening server 6667
	# iic HOST ROLE NICK SERVER: ii, a FIFO- and file-based IRC client,
	# connected as NICK (at most 40 s); its port noted as ROLE.
	iic() {
		mkdir -p "$work/ii-$2"
		ip netns exec "$tag-$1" timeout 40 ii -s "$4" -n "$3" -i "$work/ii-$2" >/dev/null 2>>"$work/ii-$2.err" &
		pids+=($!)
		newport "$1" 6667 "$2"
	}
	capture server any "$work/cap.pcap" -B 16384
	begin ngircd-irc
	# "idle": ii, registered and idle to the end, answering ngIRCd's PINGs.
	# "sicquit": sic, registered, that sends QUIT at some 2.1 s (stdin a FIFO
	# opened read-write: no EOF).
	iic client idle idle "$sv_client"
	mkfifo "$work/sic.in"
	ip netns exec "$tag-client" timeout 40 sic -h "$sv_client" -n sicquit <>"$work/sic.in" >"$work/sic.out" 2>&1 &
	pids+=($!)
	local sicpid=$!
	newport client 6667 sicquit
	# "frozen" and "cut": ii clients that will stop answering (the process
	# stopped; the path cut).
	iic gone frozen frozen "$sv_gone"
	iic gone cut cut "$sv_gone"
	# The holders of crowd's two connections.
	iic crowd hold hold1 "$sv_crowd"
	iic crowd hold hold2 "$sv_crowd"
	for _ in $(seq 100); do
		[ "$(grep -c 'registered (connection' "$d/ngircd.log")" -ge 6 ] && break
		sleep 0.05
	done
	[ "$(grep -c 'registered (connection' "$d/ngircd.log")" -ge 6 ] || die "the clients did not register: $(tail -5 "$d/ngircd.log")"
	t0=$(date +%s.%N) # the clock starts with the six registered
	until_t 0.3
	# Two connections that never register: nothing sent; NICK only.
	client lurker $pylab ircraw "$sv_lurker" 6667 20
	until_t 1
	# "frozen" stops (SIGSTOP: its kernel still acknowledges); "cut" has
	# its packets dropped both ways by nftables on its host.
	local frozen cutp fpid
	frozen=$(ports frozen) cutp=$(ports cut)
	fpid=$(ip netns exec "$tag-gone" ss -tnpH "sport = :$frozen" | sed -n 's/.*"ii",pid=\([0-9]*\),.*/\1/p')
	[ -n "$fpid" ] || die "no ii process on port $frozen"
	kill -STOP "$fpid"
	pids+=("$fpid") # continued (and ended) by finish
	ip netns exec "$tag-gone" nft add table inet flowdoc
	ip netns exec "$tag-gone" nft add chain inet flowdoc in '{ type filter hook input priority 0; }'
	ip netns exec "$tag-gone" nft add chain inet flowdoc out '{ type filter hook output priority 0; }'
	ip netns exec "$tag-gone" nft add rule inet flowdoc in tcp dport "$cutp" drop
	ip netns exec "$tag-gone" nft add rule inet flowdoc out tcp sport "$cutp" drop
	local stop_at
	stop_at=$(since_t0)
	until_t 1.3
	# crowd's reconnect storm: ii started again and again as a supervisor
	# would, 8 times, 200 ms apart; each run ends when ngIRCd closes.
	local i
	for i in 1 2 3 4 5 6 7 8; do
		[ $i != 5 ] || echo ":QUIT" >"$work/sic.in" # sicquit's QUIT, at about 2.1 s
		mkdir -p "$work/ii-storm$i"
		ip netns exec "$tag-crowd" timeout 5 ii -s "$sv_crowd" -n "storm$i" -i "$work/ii-storm$i" >/dev/null 2>>"$work/ii-storm.err" ||
			echo "ii storm$i: exit $?" >>"$work/ii-storm.err"
		[ $i = 8 ] || sleep 0.2
	done
	sleep 0.05
	cut early client gone crowd lurker server
	# "quit": ii, registered after sic's connection is gone, then /q at
	# 4.3 s (its QUIT, and it exits).
	for _ in $(seq 60); do kill -0 "$sicpid" 2>/dev/null || break; sleep 0.05; done
	until_t 3.3
	iic client quit quit "$sv_client"
	until_t 4.3
	echo "/q" >"$work/ii-quit/$sv_client/in"
	# ngIRCd closes the two that never registered on its PongTimeout.
	local lurk_at= ping_at=
	for _ in $(seq 100); do
		[ "$(grep -c 'Client.*unregistered.*Timeout' "$d/ngircd.log")" -ge 2 ] && break
		sleep 0.05
	done
	lurk_at=$(since_t0)
	sleep 0.4 # "cut"'s PING, sent on the same pass or before, retransmitted since
	cut mid client gone crowd lurker server
	# ngIRCd's Ping timeout on "frozen" and "cut".
	for _ in $(seq 200); do
		[ "$(grep -c 'Ping timeout' "$d/ngircd.log")" -ge 4 ] && break
		sleep 0.05
	done
	ping_at=$(since_t0)
	sleep 0.2
	cut timeout client gone crowd lurker server
	until_t 26 # "frozen" in CLOSE-WAIT longer than it had been silent before
	cut late client gone crowd lurker server
	finish "$work/cap.pcap"
	grep -v 'registered (connection\|^NICK\|^USER\|^$' "$d/ngircd.log" | sed 's/^/  ngircd: /' | tail -40
	sed 's/^/  ii storm: /' "$work/ii-storm.err" | sort | uniq -c | head
	for i in idle frozen cut hold quit; do [ -s "$work/ii-$i.err" ] && sed "s/^/  ii $i: /" "$work/ii-$i.err"; done
	tail -3 "$work/sic.out" | sed 's/^/  sic: /'
	echo "lab: $name: frozen stopped and cut cut off at $stop_at s; unregistered closed by $lurk_at s; Ping timeouts by $ping_at s" >&2
	local late=$out/$name@late.pcap storm role p wire=
	storm=$(tshark -r "$late" -Y "ip.src == $crowd_ip && tcp.flags.syn == 1 && tcp.flags.ack == 0" -T fields -e tcp.srcport 2>/dev/null |
		sort -un | grep -vxF -f <(ports hold | tr , '\n') | paste -sd,) || true
	echo "$storm" | tr , '\n' | sed 's/^/storm /' >>"$work/ports"
	for role in idle sicquit frozen cut hold ircsilent ircnick storm quit; do
		for p in $(ports $role | tr , ' '); do
			wire+="#   $role $(irc_wire "$late" "$p")"$'\n'
		done
	done
	printf '%s' "$wire" | sed "s/^#  /lab: $name:/" >&2
	local idle sicq quit hold lurk frozenp cutp2 refusals fout cout fq csq sicbye iibye
	idle=$(ports idle) sicq=$(ports sicquit) quit=$(ports quit) hold=$(ports hold) lurk=$(ports ircsilent),$(ports ircnick)
	frozenp=$(ports frozen) cutp2=$(ports cut)
	refusals=$(irc_storm "$late" "$storm")
	fout=$(irc_pingout "$late" "$frozenp") cout=$(irc_pingout "$late" "$cutp2")
	fq=$(awk -v p=":$frozenp" '$4 ~ p"$" { print $2 }' "$out/$name@late.truth")
	csq=$(awk -v p=":$cutp2" '$5 ~ p"$" { print $1 ", Send-Q " $3 }' "$out/$name@late.truth")
	# sic's QUIT: ngIRCd's NOTICE and ERROR after it, its FIN, sic's FIN.
	sicbye=$(tshark -r "$late" -Y "tcp.port == $sicq && (tcp.len > 0 || tcp.flags.fin == 1)" -T fields \
		-e frame.time_epoch -e tcp.srcport -e tcp.flags.fin -e tcp.len 2>/dev/null |
		awk '$2 != 6667 && $4 == 6 { q = $1 } $2 == 6667 && $4 > 0 && q { e = $1; n = $4 } $2 == 6667 && $3 == 1 { sf = $1 } $2 != 6667 && $3 == 1 { cf = $1 }
			END { printf "the NOTICE and ERROR (%d bytes) %.1f ms after the QUIT, ngIRCd\047s FIN %.0f µs after them, sic\047s %.0f µs after that", n, 1e3 * (e - q), 1e6 * (sf - e), 1e6 * (cf - sf) }')
	# ii's /q: its QUIT and FIN, ngIRCd's answer after them, the RST.
	iibye=$(tshark -r "$late" -Y "tcp.port == $quit && (tcp.len > 0 || tcp.flags.fin == 1 || tcp.flags.reset == 1)" -T fields \
		-e frame.number -e frame.time_epoch -e tcp.srcport -e tcp.flags.fin -e tcp.flags.reset -e tcp.len 2>/dev/null |
		awk '$3 != 6667 && $6 > 0 && $6 < 100 { q = $2; qn = $1; ql = $6 } $3 != 6667 && $4 == 1 && !f { f = $2; fn = $1 }
			$3 == 6667 && $6 > 0 && f { e = $2; en = $1; el = $6 } $3 != 6667 && $5 == 1 { r = $2; rn = $1 }
			END { printf "its QUIT (#%d, %d bytes) and its FIN (#%d) %.0f µs later, ngIRCd\047s NOTICE and ERROR (#%d, %d bytes) %.1f ms after the QUIT, the RST of ii\047s kernel (#%d) %.0f µs after them", qn, ql, fn, 1e6 * (f - q), en, el, 1e3 * (e - q), rn, 1e6 * (r - e) }')
	expect <<EXP
# ngIRCd $(ngircd --version | sed -n '1s/^ngIRCd \([0-9.]*\).*/\1/p') (Debian's ngircd $(dpkg-query -W -f '${Version}' ngircd)), run by hand in the server
# host (ngircd -n -f: its own ngircd.conf and MOTD; it runs as nobody),
# port 6667 on every address, PingTimeout 5 and PongTimeout 5 (the least
# it takes: lower values are raised to 5 with "Value of ... too low!"),
# MaxConnectionsIP 2, DNS, IDENT and PAM off. Its checks run on a
# whole-second clock (time(NULL)) once a pass of its main loop, at least
# once a second: a registered client silent more than PingTimeout gets
# "PING :irc.lab.example" (23 bytes), and one that has not answered it
# PongTimeout later is closed with "ERROR :Closing connection" reasons;
# a connection not registered (NICK and USER) more than PongTimeout after
# its last data is closed with no message at all (log "Timeout").
# Clients: ii $(dpkg-query -W -f '${Version}' ii) and sic $(dpkg-query -W -f '${Version}' sic) (both answer PING with
# PONG at once), python sockets. Five hosts, each on a link of its own to
# the server; captured on the server (-i any). Measured in the late
# capture (times after each connection's SYN; the server's bytes without
# its retransmissions):
$wire# - Healthy keep-alive: "idle" (ii on host client) and the two "hold"
#   (ii on host crowd), registered and idle to the end: ngIRCd PINGs each
#   some 6 s after its last data (PingTimeout 5 on the whole-second
#   clock), the client's PONG comes within a few ms, and again every 6 s:
#   IRC's own keep-alive, open and healthy.
# - PongTimeout, client stopped: "frozen" (ii on host gone) is stopped
#   (SIGSTOP) at $stop_at s; its kernel still acknowledges:
#   $fout.
#   The 118 bytes are ":irc.lab.example NOTICE frozen :Connection
#   statistics: client 0.1 kb, server 1.4 kb." and "ERROR :Ping timeout:
#   5 seconds" in one segment, then close(): a FIN, no RST (log "Shutting
#   down connection ... (Ping timeout: 5 seconds)"). The ERROR line is
#   ngIRCd's goodbye, answering nothing. ii never reads it: CLOSE-WAIT to
#   the end (ss Recv-Q $fq: the PING, the NOTICE and ERROR, the FIN), the
#   server in FIN-WAIT-2. The server's keep-alive giving up on a hung
#   client: an idle-timeout close of the server's (the client silent, the
#   connection idle but for the server's PING), and the client's
#   CLOSE-WAIT a hung application's, a leak for as long as it lasts.
# - PongTimeout, path cut: "cut" (ii on host gone) has its packets dropped
#   both ways by nftables on its host from $stop_at s:
#   $cout;
#   the PING is never acknowledged and is sent again with backoff to the
#   end. ngIRCd gives up on it on the same pass as on "frozen" (log "Ping
#   timeout: 5 seconds") and closes: its NOTICE, ERROR and FIN stay
#   queued behind the unacknowledged PING, never sent (ss $csq:
#   the PING, the NOTICE and ERROR, the FIN); ii's host never learns of
#   it (ss ESTAB). No capture can show that close: the peer is
#   unreachable, and the server's state as the capture shows it is what
#   it was when it sent the PING.
# - Registration timeout: two sockets of host lurker, from 0.3 s, that
#   never register: "ircsilent" sends nothing, "ircnick" sends only "NICK
#   lurker" (no USER). ngIRCd closes both about 6 s after the accept on
#   one pass (log "Shutting down connection ... (Timeout)"), with a bare
#   FIN and no ERROR; each client closes at once on EOF (the server holds
#   TIME-WAIT). A server's timeout for a client that never finished its
#   handshake (its registration): not a refusal, not a client leak.
# - MaxConnectionsIP 2: host crowd holds two ("hold"), and ii is started
#   again and again there, as a supervisor restarts a bot, 8 times 200 ms
#   apart ($storm).
#   ngIRCd accepts each, writes "ERROR :Connection refused, too many
#   connections from your IP address" (70 bytes) at once and closes (log
#   "Refused connection from $crowd_ip: too may connections (2) from this IP
#   address!"); ii sends NICK and USER (54 bytes) as it connects and exits
#   ("remote host closed connection", or "...: Connection reset by peer"):
#   $refusals.
#   Whether FIN and RST or RST alone, each is a refusal at the accept, the
#   ERROR line unasked: accept then close; 8 from one host at some 5 a
#   second: a reconnect storm.
# - QUIT: "sicquit" (sic on host client) sends "QUIT" at some 2.1 s (log
#   "Shutting down connection ... (Got QUIT command)"):
#   $sicbye:
#   "ERROR :Closing connection" is ngIRCd's answer, it closes first (its
#   TIME-WAIT), sic closes on reading EOF: clean. "quit" (ii on host
#   client, connected at 3.3 s when sic's connection was gone) sends /q at
#   4.3 s:
#   $iibye.
#   ii exits as it sends its QUIT, not waiting for the answer; ngIRCd's
#   'ERROR :"bye"' is a goodbye in reply to the QUIT, no request: the RST
#   only answers it, nothing is lost: healthy.
# The cuts: early right after the storm's eighth refusal (sic's QUIT done,
# "frozen" stopped and "cut" cut off for some 2 s, not yet pinged); mid
# 0.4 s after the registration timeouts ($lurk_at s), the PINGs to "frozen"
# and "cut" out on the same pass or before ("cut"'s sent again since);
# timeout 0.2 s after ngIRCd gave up on both (by $ping_at s): "frozen" a young
# CLOSE-WAIT; late (26 s), "frozen" in CLOSE-WAIT some 13 s, longer than
# it had been silent before ngIRCd's close.
healthy cport=$idle,$hold
expect cport=$idle,$hold client.ss=ESTAB n>=3 : open(client)
expect cport=$storm n>=8 : accept_then_close(server) !stale_reuse_reset(client) !close_wait_leak(client) !open(client) !idle_timeout_close(server)
infinding cport=$storm : reconnect_storm
finding reconnect_storm
says reconnect_storm : to $sv_crowd:6667 in
says reconnect_storm : opened 8 connections
healthy cport=$sicq
expect cport=$sicq server.ss=TIME-WAIT n>=1 : time_wait(server) !reset(client) !reset(server) !idle_timeout_close(server) !accept_then_close(server)
nofinding stale_reuse_reset
@early healthy cport=$lurk,$frozenp,$cutp2
@early expect cport=$lurk,$frozenp,$cutp2 client.ss=ESTAB n>=4 : open(client)
@early nofinding idle_timeout_close
@early,mid nofinding close_wait_leak
@mid,timeout,late expect cport=$lurk server.ss=TIME-WAIT n>=2 : idle_timeout_close(server) !accept_then_close(server) !close_wait_leak(client) !stale_reuse_reset(client)
@mid,timeout,late infinding cport=$lurk : idle_timeout_close
@mid,timeout,late says idle_timeout_close : after the handshake
@mid healthy cport=$frozenp
@mid expect cport=$frozenp client.ss=ESTAB n>=1 : open(client)
@mid,timeout,late expect cport=$cutp2 client.ss=ESTAB n>=1 : peer_unreachable(client) !close_wait_leak(client) !clean(server) !idle_timeout_close(server)
@mid,timeout,late infinding cport=$cutp2 : peer_unreachable
@mid,timeout,late finding peer_unreachable
@timeout expect cport=$frozenp client.ss=CLOSE-WAIT n>=1 : idle_timeout_close(server) close_wait_leak(client)|open(client) !stale_reuse_reset(client)
@late expect cport=$frozenp client.ss=CLOSE-WAIT n>=1 : idle_timeout_close(server) close_wait_leak(client)
@timeout,late infinding cport=$frozenp : idle_timeout_close
@timeout,late says idle_timeout_close : closed 1 idle connection after 6.0 s without traffic
@late infinding cport=$frozenp : close_wait_leak
@late finding close_wait_leak
@mid,timeout,late healthy cport=$quit
@mid,timeout,late expect cport=$quit n>=1 : reset(client) !stale_reuse_reset(server) !stale_reuse_reset(client) !idle_timeout_close(server) !accept_then_close(server)
EXP
}

# uwsgi_app DIR: the WSGI app of the uWSGI scenario: every path answers
# "ok" with a Content-Length after sleeping ?ms= milliseconds; it never
# reads a request body.
uwsgi_app() {
	mkdir -p "$1"
	cat >"$1/app.py" <<'APP'
import time
from urllib.parse import parse_qs


def application(environ, start_response):
    ms = int(parse_qs(environ.get("QUERY_STRING", "")).get("ms", ["0"])[0])
    if ms:
        time.sleep(ms / 1000)
    body = b"ok\n"
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", str(len(body)))])
    return [body]
APP
}

# run_uwsgi NAME ARG...: a uWSGI instance of its own in the server host,
# the app of $work/app, its log in $work/uwsgi-NAME.log. --die-on-term:
# without it uWSGI takes the SIGTERM that ends the scenario for a reload.
run_uwsgi() {
	local n=$1
	shift
	on server uwsgi --die-on-term --master --plugin python3,http --wsgi-file "$work/app/app.py" \
		--logto "$work/uwsgi-$n.log" "$@"
}

# uwsgi_log NAME: what uWSGI instance NAME logged that matters here.
uwsgi_log() {
	grep -E 'listen queue|HARAKIRI ON|killed by signal|Respawned|error|Broken pipe|reset by peer|=> generated' "$work/uwsgi-$1.log" |
		sed "s/^/  uwsgi-$1: /" || true
}

# uwsgi_kind FILE SPORT KIND: the client ports (nginx's, to uWSGI's SPORT)
# of the connections in FILE of one KIND, comma separated: "unanswered"
# (SYNs, no SYN-ACK), "abandoned" (nginx's FIN before any answer of
# uWSGI's, then uWSGI's answer), "answered" (uWSGI's answer before any
# FIN), "killed" (uWSGI's FIN or RST with no answer at all).
uwsgi_kind() {
	tshark -r "$1" -Y "tcp.port == $2" -T fields -e tcp.srcport -e tcp.dstport -e tcp.flags.syn -e tcp.flags.ack \
		-e tcp.flags.fin -e tcp.flags.reset -e tcp.len 2>/dev/null |
		awk -v sp="$2" -v k="$3" '
			$2 == sp { c = $1; seen[c] = 1; if ($5 == 1 && !data[c]) cfin[c] = 1 }
			$1 == sp { c = $2; if ($3 == 1) synack[c] = 1; if ($7 > 0) data[c] = 1; if (($5 == 1 || $6 == 1) && !data[c]) sfin[c] = 1 }
			END {
				for (c in seen) {
					kind = !synack[c] ? "unanswered" : cfin[c] && data[c] ? "abandoned" : data[c] ? "answered" : sfin[c] ? "killed" : "other"
					if (kind == k) { printf "%s%s", s, c; s = "," }
				}
			}'
}

# uwsgi_times FILE SPORT: per connection to SPORT in FILE, one line:
# nginx's port, then the moments (s, from its SYN) of its request's end
# (its last data before any answer), uWSGI's first data, uWSGI's FIN or
# RST (F or R), nginx's FIN or RST, "-" for none.
uwsgi_times() {
	tshark -r "$1" -Y "tcp.port == $2" -T fields -e frame.time_epoch -e tcp.srcport -e tcp.dstport -e tcp.flags.syn \
		-e tcp.flags.ack -e tcp.flags.fin -e tcp.flags.reset -e tcp.len 2>/dev/null |
		awk -v sp="$2" '
			function at(x) { return x == "" ? "-" : sprintf("%.3f", x - t0[c]) }
			$3 == sp { c = $2; if ($4 == 1 && $5 == 0 && !(c in t0)) { t0[c] = $1; order[++n] = c }
				if ($8 > 0 && !(c in ans)) req[c] = $1
				if (($6 == 1 || $7 == 1) && !(c in cend)) { cend[c] = $1; ck[c] = $7 == 1 ? "R" : "F" } }
			$2 == sp { c = $3; if ($8 > 0 && !(c in ans)) ans[c] = $1
				if (($6 == 1 || $7 == 1) && !(c in send)) { send[c] = $1; sk[c] = $7 == 1 ? "R" : "F" } }
			END { for (i = 1; i <= n; i++) { c = order[i]
				printf "%s req %s ans %s uwsgi %s%s nginx %s%s\n", c, at(req[c]), at(ans[c]), sk[c], at(send[c]), ck[c], at(cend[c]) } }'
}

# data_dropped FILE SPORT: the client ports of the connections to SPORT in
# FILE whose first data the server left unacknowledged and the client
# sent again (the ACK that carried it dropped), comma separated.
data_dropped() {
	tshark -r "$1" -Y "tcp.dstport == $2 && tcp.len > 0 && tcp.analysis.retransmission" -T fields -e tcp.srcport 2>/dev/null |
		sort -un | paste -sd,
}

# ka_times FILE SPORT PORT...: per keep-alive connection to SPORT in FILE
# (client PORT), one line: when the server's response ended (s from the
# SYN), its FIN (ms after its response), and what the client did after it
# (its next request, answered by RST or not; its own FIN).
ka_times() {
	local f=$1 sp=$2 p
	shift 2
	for p in "$@"; do
		tshark -r "$f" -Y "tcp.port == $sp && tcp.port == $p" -T fields -e frame.number -e frame.time_epoch -e tcp.srcport \
			-e tcp.flags.syn -e tcp.flags.fin -e tcp.flags.reset -e tcp.len 2>/dev/null |
			awk -v sp="$sp" -v p="$p" '
				NR == 1 { t0 = $2 }
				$3 == sp && $7 > 0 && !sfin { resp = $2 }
				$3 == sp && $5 == 1 && !sfin { sfin = $2; sfn = $1 }
				$3 != sp && $7 > 0 && sfin && !req { req = $2; rqn = $1 }
				$3 == sp && $6 == 1 && !rst { rst = $2; rsn = $1 }
				$3 != sp && $5 == 1 && !cfin { cfin = $2; cfn = $1 }
				END {
					printf "%s: response ended at %.3f s; FIN #%d %.2f ms after it", p, resp - t0, sfn, 1e3 * (sfin - resp)
					if (req) printf "; next request #%d %.3f s after the FIN", rqn, req - sfin
					if (rst) printf ", RST #%d %.2f ms later", rsn, 1e3 * (rst - req)
					if (cfin) printf "; client FIN #%d %.3f s after the server%ss", cfn, cfin - sfin, "\047"
					printf "\n"
				}'
	done
}

# silent_times FILE SPORT PORT...: per connection to SPORT in FILE that
# never carried data (client PORT), one line: when the server sent its
# SYN-ACK again (s after the client's handshake ACK), its FIN (s after
# that), the client's FIN.
silent_times() {
	local f=$1 sp=$2 p
	shift 2
	for p in "$@"; do
		tshark -r "$f" -Y "tcp.port == $sp && tcp.port == $p" -T fields -e frame.number -e frame.time_epoch -e tcp.srcport \
			-e tcp.flags.syn -e tcp.flags.ack -e tcp.flags.fin 2>/dev/null |
			awk -v sp="$sp" -v p="$p" '
				$3 != sp && $4 == 0 && !ack { ack = $2 }
				$3 == sp && $4 == 1 { n++; if (n == 2) { again = $2; an = $1 } }
				$3 == sp && $6 == 1 { sfin = $2; sfn = $1 }
				$3 != sp && $6 == 1 { cfin = $2 }
				END {
					printf "%s: SYN-ACK again #%d %.2f s after the handshake%ss ACK; FIN #%d %.2f s after that (%.2f s after the first ACK)", p, an, again - ack, "\047", sfn, sfin - again, sfin - ack
					if (cfin) printf ", the client%ss FIN %.2f ms later", "\047", 1e3 * (cfin - sfin)
					printf "\n"
				}'
	done
}

# uWSGI 2.0 serving a python WSGI app: behind nginx over the uwsgi
# protocol (a small worker pool under a burst, harakiri), and its own HTTP
# (the --http router with --http-keepalive, --http-socket, --http11-socket)
# to keep-alive clients that reuse a connection it closed, and to sockets
# that never send.
sc_uwsgi_nginx() {
	host client; host proxy; host server
	wire client proxy
	local front=$proxy_ip d=$work/nginx
	wire proxy server
	mkdir -p "$d/tmp"
	uwsgi_app "$work/app"
	cat >"$d/nginx.conf" <<CONF
worker_processes 1;
pid $d/nginx.pid;
error_log $d/error.log;
events { worker_connections 256; }
http {
	log_format up '\$remote_port \$request \$status up=\$upstream_addr/\$upstream_status/\$upstream_response_time t=\$request_time';
	access_log $d/access.log up;
	client_body_temp_path $d/tmp;
	proxy_temp_path $d/tmp;
	fastcgi_temp_path $d/tmp;
	uwsgi_temp_path $d/tmp;
	scgi_temp_path $d/tmp;
	keepalive_timeout 60s;
	client_max_body_size 1m;
	server {
		listen $front:8080;
		location /busy/ {
			include /etc/nginx/uwsgi_params;
			uwsgi_pass $server_ip:9000;
			uwsgi_connect_timeout 2s;
			uwsgi_read_timeout 5s;
		}
		location /hara/ {
			include /etc/nginx/uwsgi_params;
			uwsgi_pass $server_ip:9001;
			uwsgi_read_timeout 15s;
		}
	}
}
CONF
	local somaxconn
	somaxconn=$(ip netns exec "$tag-server" sysctl -n net.core.somaxconn)
	# busy: 2 workers, listen(4); hara: harakiri 3 s; router: the --http
	# router, keep-alive, 3 s timeout; hsock: --http-socket (with the
	# router's --http-keepalive, which it ignores); h11: --http11-socket,
	# socket-timeout 3. Every other setting is uWSGI's default
	# (socket-timeout 4, listen 100).
	run_uwsgi busy --socket "$server_ip:9000" --processes 2 --listen 4
	run_uwsgi hara --socket "$server_ip:9001" --processes 2 --harakiri 3
	run_uwsgi router --http "$server_ip:8001" --http-keepalive --http-timeout 3 --processes 2
	run_uwsgi hsock --http-socket "$server_ip:8002" --http-keepalive --processes 2
	run_uwsgi h11 --http11-socket "$server_ip:8003" --socket-timeout 3 --processes 2
	run_nginx proxy "$d"
	local p
	for p in 9000 9001 8001 8002 8003; do listening server $p 20; done
	listening proxy 8080
	sleep 1 # the workers forked
	: >"$work/curl"
	: >"$work/listenq"
	capture proxy any "$work/cap.pcap" -B 65536
	begin uwsgi-nginx
	local curl="ip netns exec $tag-client curl -s -o /dev/null" i at lc0 lc1 lc2 lc3
	lc0=$(listen_counters server)
	# At 0 s: 12 curl at once to the busy pool (2 s per request).
	for i in $(seq 12); do
		$curl --max-time 12 -w 'busy %{http_code} %{local_port} %{time_total}\n' \
			"http://$front:8080/busy/x?ms=2000" >>"$work/curl" 2>>"$work/log" &
		pids+=($!)
	done
	# At 1 s, from the proxy host: keep-alive clients of uWSGI's own HTTP
	# that reuse their connection after 5 s idle, and sockets that never
	# send.
	until_t 1
	for p in router:8001 hsock:8002 h11:8003; do
		client proxy $pylab uwsgistale "$server_ip" "${p#*:}" "${p%:*}" 5
		client proxy $pylab uwsgisilent "$server_ip" "${p#*:}" "${p%:*}silent" 20
	done
	for at in 0.3 1.2 2.2 3.2 4.2 5.2 6.2 7.2 8.2; do
		until_t $at
		echo "$at $(ip netns exec "$tag-server" ss -tlnH 'sport = :9000' | awk '{ print "Recv-Q", $2, "Send-Q", $3 }')" >>"$work/listenq"
		case $at in
		3.2)
			# The early cut: four requests still queued in the kernel,
			# two in the workers; the sockets that never send deferred.
			until_t 3.5
			cut early client proxy server
			lc1=$(listen_counters server)
			;;
		5.2)
			# The mid cut: nginx gave up on the queued requests at 5 s
			# (uWSGI still holds them, unanswered: CLOSE_WAIT); the
			# keep-alive clients not yet back (6 s).
			until_t 5.6
			cut mid client proxy server
			lc2=$(listen_counters server)
			;;
		esac
	done
	# At 9 s: a GET and a POST (16 KB that the app never reads) that
	# sleep 8 s, in the pool whose harakiri is 3 s.
	until_t 9
	head -c 16384 /dev/zero | tr '\0' x >"$work/body"
	$curl --max-time 15 -w 'haraget %{http_code} %{local_port} %{time_total}\n' \
		"http://$front:8080/hara/x?ms=8000" >>"$work/curl" 2>>"$work/log" &
	pids+=($!)
	$curl --max-time 15 -w 'harapost %{http_code} %{local_port} %{time_total}\n' -H 'Content-Type: application/octet-stream' \
		--data-binary "@$work/body" "http://$front:8080/hara/x?ms=8000" >>"$work/curl" 2>>"$work/log" &
	pids+=($!)
	until_t 20
	cut late client proxy server
	lc3=$(listen_counters server)
	finish "$work/cap.pcap"
	for p in busy hara router hsock h11; do uwsgi_log $p; done
	grep -h 'upstream\|failed' "$d/error.log" | sed 's/^/  nginx: /' || true
	sed 's/^/  nginx: /' "$d/access.log"
	awk '{ print $1 $2, $3 }' "$work/curl" >>"$work/ports"
	echo "lab: $name: $(command cut -d" " -f1 "$work/ports" | sort | uniq -c | tr -s "\\n " " ")" >&2
	local late=$out/$name@late.pcap served unanswered abandoned dropped killed overflow n_over hara_log queue_log
	served=$(uwsgi_kind "$late" 9000 answered)
	unanswered=$(uwsgi_kind "$late" 9000 unanswered)
	abandoned=$(uwsgi_kind "$late" 9000 abandoned)
	dropped=$(data_dropped "$late" 9000)
	killed=$(uwsgi_kind "$late" 9001 killed)
	overflow=$unanswered${dropped:+,$dropped}
	n_over=$(echo "$overflow" | tr , '\n' | grep -c . || true)
	local n_served n_unans n_aband n_drop late_ans got200 got504 drop_text=
	n_served=$(echo "$served" | tr , '\n' | grep -c . || true)
	n_unans=$(echo "$unanswered" | tr , '\n' | grep -c . || true)
	n_aband=$(echo "$abandoned" | tr , '\n' | grep -c . || true)
	n_drop=$(echo "$dropped" | tr , '\n' | grep -c . || true)
	late_ans=$(uwsgi_times "$late" 9000 | awk -v l=",$abandoned," 'index(l, "," $1 ",") { printf "%s%.1f", s, $5; s = ", " }')
	local mid_held mid_queued mid_listen hara_at
	hara_at=$(uwsgi_times "$late" 9001 | awk '{ sub(/^[FR]/, "", $7); printf "%s%.2f", s, $7; s = " and " }')
	mid_held=$(awk '$1 == "CLOSE-WAIT" && $4 ~ /:9000$/ && $2 == 1' "$out/$name@mid.truth" | wc -l)
	mid_queued=$(awk '$1 == "CLOSE-WAIT" && $4 ~ /:9000$/ && $2 > 1' "$out/$name@mid.truth" | wc -l)
	mid_listen=$(awk '$1 == "LISTEN" && $4 ~ /:9000$/ { print $2 }' "$out/$name@mid.truth")
	got200=$(grep -c '^busy 200 ' "$work/curl" || true)
	got504=$(grep -c '^busy 504 ' "$work/curl" || true)
	[ -z "$dropped" ] || drop_text=" Handshakes that completed on nginx's side while the queue was full ($dropped): the request that followed the handshake's ACK was dropped as the ACK was (no room to accept) and sent again (RTO doubling from 200 ms) until the queue had room."
	queue_log=$(grep -o 'uWSGI listen queue of socket .*full !!! ([0-9/]*)' "$work/uwsgi-busy.log" | sort | uniq -c |
		awk '{ c = $1; $1 = ""; printf "%s%d x \"%s\"", s, c, substr($0, 2); s = "; " }')
	hara_log=$(grep -hE 'HARAKIRI ON|killed by signal' "$work/uwsgi-hara.log" | sed 's/^.* - //; s/ (pid: [0-9]*, try: [0-9]*)//; s/ (pid: [0-9]*)//' |
		awk '{ printf "%s\"%s\"", s, $0; s = "; " }')
	local rhc rrs rrs2 rsil hhc hrs hrs2 hsil ehc ers ers2 esil
	rhc=$(ports routerhc) rrs=$(ports routerrs) rrs2=$(ports routerrs2) rsil=$(ports routersilent)
	hhc=$(ports hsockhc) hrs=$(ports hsockrs) hrs2=$(ports hsockrs2) hsil=$(ports hsocksilent)
	ehc=$(ports h11hc) ers=$(ports h11rs) ers2=$(ports h11rs2) esil=$(ports h11silent)
	expect <<EXP
# uWSGI $(uwsgi --version) (Debian's uwsgi-core and uwsgi-plugin-python3
# $(dpkg-query -W -f '${Version}' uwsgi-plugin-python3), the python3 and http plugins) serving a WSGI app (every path
# answers "ok" with a Content-Length after sleeping ?ms=; it never reads a
# request body): five instances of its own (--master, --die-on-term) on
# the server host ($server_ip), nginx $(nginx -v 2>&1 | sed 's|.*/||') (one worker) on the proxy host
# ($proxy_ip) in front of two of them over the uwsgi protocol
# (uwsgi_pass, a connection per request), curl on the client host
# ($client_ip), python3 clients on the proxy host straight to the other
# three; captured on the proxy (-i any). net.core.somaxconn in the server's
# namespace: $somaxconn (uWSGI refuses to start with a --listen above it;
# listen(4) is taken as given). Every uWSGI TCP socket has TCP_DEFER_ACCEPT
# set to --socket-timeout (default 4 s): the kernel keeps a connection in
# SYN-RECV, not accepted, until its first data comes or the deferral ends
# (on the SYN-ACK retransmission schedule: 3 s after the ACK for 3, 7 s
# for 4), when it sends its SYN-ACK again and the client's ACK of it
# completes the handshake.
#
# busy (:9000, --processes 2 --listen 4: the accept queue holds 5), 2 s per
# request, 12 curl at once through nginx (uwsgi_connect_timeout 2s,
# uwsgi_read_timeout 5s). Each uwsgi connection (nginx's port: seconds
# from its SYN to the request's end, uWSGI's first data, uWSGI's FIN (F)
# or RST (R), nginx's FIN or RST):
$(uwsgi_times "$late" 9000 | sed 's/^/#   /')
# The listener (ss -ltn, Send-Q 4), s after begin: $(awk '{ printf "%s%s %s", s, $1, $3; s = ", " }' "$work/listenq").
# uWSGI's master, checking the queue each second (TCP_INFO), logged:
# $queue_log.
# The server's counters before, at the early, mid and late cuts:
# $lc0
# $lc1
# $lc2
# $lc3
$(echo "$n_served answered, 200 (uWSGI or nginx closes first, a race): two at 2.0 s, the first two the workers took; the others at 4.0 s, from the accept queue. The queue filled at once with 5 (nginx's request came right after the handshake, which TCP_DEFER_ACCEPT waits for; the kernel acknowledged it). $n_unans SYNs after them ($unanswered) were dropped, sent again 1 s later, dropped again: nginx gave up each at 2.0 s (504, \"upstream timed out (110: Connection timed out) while connecting to upstream\"; nothing more on the wire, no socket left: ss CLOSED on both sides at the early cut).$drop_text nginx's read timeout fired at 5.0 s on the $n_aband requests still waiting ($abandoned: 504, \"upstream timed out ... while reading response header from upstream\"): nginx's FIN, acknowledged by uWSGI's kernel: CLOSE_WAIT on uWSGI's side, at the mid cut $mid_held held by workers asleep in the app (ss Recv-Q 1: the FIN unread) and $mid_queued not accepted yet (Recv-Q 377: the request and the FIN; LISTEN Recv-Q $mid_listen). uWSGI accepts them later, runs the app 2 s for a caller that is gone, writes its answer (at $late_ans s), nginx's host resets it (RST), and logs each as served (\"generated 3 bytes in 2000 msecs (HTTP/1.1 200)\"), no error. Callers: 200 $got200 times, 504 $got504 times. No leak: too few workers for the burst, and a listen queue whose requests wait longer than nginx does." | fold -s -w 72 | sed 's/ *$//; s/^/# /')
#
# hara (:9001, --processes 2 --harakiri 3), sleep 8 s: a GET and a POST
# (16 KB of body, never read) at once through nginx (uwsgi_read_timeout
$(echo "15s). The master kills both workers with SIGKILL $hara_at s into their requests (the deadline is kept in whole seconds and checked once a second: 3 to 5 s) and respawns them:" | fold -s -w 72 | sed 's/ *$//; s/^/# /')
$(echo "$hara_log" | fold -s -w 72 | sed 's/ *$//; s/^/#   /')
$(uwsgi_times "$late" 9001 | sed 's/^/#   /')
# The kernel closes the killed workers' sockets: FIN where uWSGI had read
# the whole request (the GET), RST where the body lay unread in the socket
# (the POST); no byte of answer either way. nginx answers 502 Bad Gateway
# ("upstream prematurely closed connection while reading response header
# from upstream" for the FIN, "recv() failed (104: Connection reset by
# peer)" for the RST). The server's request timeout, closing without an
# answer; not a stale reuse (nginx's request came first, on a fresh
# connection).
#
# uWSGI's own HTTP, from the proxy host: per port an http.client
# connection ("hc") and a requests Session ("rs"), one GET at 1 s each,
# then the next GET on the same connection after 5 s idle; http.client
# sends it as it is, the Session (urllib3) first checks the socket, closes
# it if the server closed it and connects anew ("rs2"); and a socket that
# connects and never sends, reading until the server closes, then
# closing ("silent").
# router (:8001, --http router, --http-keepalive, --http-timeout 3): it
# closes idle keep-alive connections after 3 s (its FIN, no log line):
$(ka_times "$late" 8001 $rhc $rrs | sed 's/^/#   /')
# hsock (:8002, --http-socket, with --http-keepalive, which is the
# router's option: the http-socket ignores it): it answers "HTTP/1.1 200
# OK" without "Connection: close", and closes the connection right after
# every response. Both clients pool it as a keep-alive connection:
$(ka_times "$late" 8002 $hhc $hrs | sed 's/^/#   /')
# h11 (:8003, --http11-socket, --socket-timeout 3): a worker keeps each
# keep-alive connection and closes it after 3 s idle:
$(ka_times "$late" 8003 $ehc $ers | sed 's/^/#   /')
# http.client's next GET after the close is reset (RemoteDisconnected:
# "Remote end closed connection without response"): a stale reuse, the
# same on the three ports; on hsock the close came with the response, not
# after an idle time. The Sessions close the closed connection and send
# their GET on a new one (200; rs2, closed by the client: healthy),
# within 2-5 ms of http.client's reset: the same request line on a new
# connection of the same host, which is not a retry of it (http.client
# raised RemoteDisconnected to its caller and retries nothing). Until
# their next use, both hold the closed connection in CLOSE_WAIT: a pool
# that notices at its next use, no leak.
# The sockets that never send: the server's kernel defers the accept
# (TCP_DEFER_ACCEPT, --socket-timeout): ss SYN-RECV on the server while the
# client is ESTABLISHED; at the end of the deferral it sends its SYN-ACK
# again, the client's ACK completes the handshake and uWSGI accepts; then
# the router closes after --http-timeout, a worker of the http-socket and
# of the http11-socket after --socket-timeout (a bare FIN, nothing logged):
$(silent_times "$late" 8001 $rsil | sed 's/^/#   /')
$(silent_times "$late" 8002 $hsil | sed 's/^/#   /')
$(silent_times "$late" 8003 $esil | sed 's/^/#   /')
# The SYN-ACK sent again after the client's ACK is the deferral, not a
# full accept queue. The server's timeout for a first request (deferral
# plus timeout), closed cleanly: the client closes at once.
# Cuts: early (3.5 s) with the requests nginx gives up on later still
# queued in the kernel, two in the workers, the deferred sockets in
# SYN-RECV and hsock's closed connections in CLOSE_WAIT; mid (5.6 s) just
# after nginx gave up on the queued ones (uWSGI's sockets in CLOSE_WAIT,
# unanswered), the keep-alive connections closed and not yet reused, the
# http11-socket's silent socket accepted; late (20 s) after the harakiri
# kills.
#
# Toward nginx (:8080) curl closes each connection first after its
# response, 200, 502 or 504 alike: healthy as TCP.
healthy sport=8080
noproblem time_wait_pressure
healthy sport=9000 cport=$served
expect sport=9000 cport=$served n>=$n_served : !listen_overflow(server) !idle_timeout_close(client) !idle_timeout_close(server)
expect sport=9000 cport=$unanswered n>=$n_unans : listen_overflow(server)
@early,mid expect sport=9000 cport=$unanswered client.ss=CLOSED n>=$n_unans : listen_overflow(server)
${dropped:+expect sport=9000 cport=$dropped n>=$n_drop : listen_overflow(server)
}infinding sport=9000 cport=$overflow : listen_overflow
finding listen_overflow
says listen_overflow : $server_ip:9000 could not keep up with incoming connections: $n_over connections
@early expect sport=9000 cport=$abandoned n>=$n_aband : !idle_timeout_close(client) !close_wait_leak(server) !close_wait_leak(client)
@mid,late expect sport=9000 cport=$abandoned n>=$n_aband : idle_timeout_close(client) !close_wait_leak(server) !stale_reuse_reset(server) !stale_reuse_reset(client)
@mid expect sport=9000 cport=$abandoned server.ss=CLOSE-WAIT n>=$n_aband : idle_timeout_close(client) !close_wait_leak(server)
@mid,late infinding sport=9000 cport=$abandoned : idle_timeout_close
@mid,late says idle_timeout_close : $proxy_ip gave up on $n_aband connections to $server_ip:9000 after waiting 5.0 s for an answer
@mid,late says idle_timeout_close : 504 Gateway Time-out
@late expect sport=9001 cport=$killed n>=2 : idle_timeout_close(server) !stale_reuse_reset(server) !stale_reuse_reset(client) !close_wait_leak(client)
@late infinding sport=9001 cport=$killed : idle_timeout_close
@late says idle_timeout_close : $server_ip:9001 (server) closed (1 of them by RST) 2 connections
@late says idle_timeout_close : 502 Bad Gateway
@early,mid expect cport=$rhc,$rrs,$ehc,$ers n>=4 : !stale_reuse_reset(client) !close_wait_leak(client)
@early,mid expect cport=$hhc,$hrs client.ss=CLOSE-WAIT n>=2 : open(client) !close_wait_leak(client) !idle_timeout_close(server)
@mid expect cport=$rhc,$rrs,$ehc,$ers client.ss=CLOSE-WAIT n>=4 : idle_timeout_close(server) !close_wait_leak(client)
@mid infinding sport=8001 cport=$rhc,$rrs : idle_timeout_close
@mid infinding sport=8003 cport=$ehc,$ers : idle_timeout_close
@mid,late says idle_timeout_close : $server_ip:8001 (server) closed 2 idle connections after 3.0 s without traffic
@mid,late says idle_timeout_close : $server_ip:8003 (server) closed 2 idle connections after 3.0 s without traffic
@late expect cport=$rhc,$ehc n>=2 : stale_reuse_reset(client) idle_timeout_close(server)
@late expect cport=$hhc n>=1 : stale_reuse_reset(client) !idle_timeout_close(server)
@late infinding cport=$rhc,$hhc,$ehc : stale_reuse_reset
@late says stale_reuse_reset : on 1 connection that $server_ip:8001 had closed after 3.0 s idle
@late says stale_reuse_reset : on 1 connection that $server_ip:8003 had closed after 3.0 s idle
@late says stale_reuse_reset : on 1 connection that $server_ip:8002 had closed right after its answer
@late says stale_reuse_reset : without saying so (no Connection: close
@late expect cport=$rrs,$ers n>=2 : idle_timeout_close(server) !stale_reuse_reset(client) !close_wait_leak(client)
@late healthy cport=$hrs
@late healthy cport=$rrs2,$hrs2,$ers2
@early expect cport=$rsil,$hsil,$esil n>=3 : open(client) !listen_overflow(server) !handshake_incomplete(server)
@early expect cport=$rsil,$hsil,$esil server.ss=SYN-RECV n>=3 : !listen_overflow(server)
@mid expect cport=$rsil,$hsil,$esil server.ss=SYN-RECV n>=2 : open(client) !listen_overflow(server) !handshake_incomplete(server)
@mid expect cport=$rsil,$hsil,$esil n>=3 : !listen_overflow(server) !close_wait_leak(client)
@late expect cport=$rsil,$hsil,$esil n>=3 : idle_timeout_close(server) !listen_overflow(server) !close_wait_leak(client) !stale_reuse_reset(client)
@late infinding cport=$rsil,$hsil,$esil : idle_timeout_close
@late says idle_timeout_close : $server_ip:8003 (server) closed 1 connection from $proxy_ip
@late says idle_timeout_close : the clients having sent nothing
noproblem close_wait_leak
@early,mid nofinding stale_reuse_reset
EXP
}

# natslab DIR: build testdata/lab's nats.go client (nats.go 1.22 from
# Debian's golang-github-nats-io-go-nats-dev, Go source under
# /usr/share/gocode, built offline in GOPATH mode: it is no module of the
# project's) as DIR/natslab.
natslab() {
	local d=$1
	mkdir -p "$d/natslab.src"
	cat >"$d/natslab.src/main.go" <<'GO'
// natslab plays nats.go 1.22 (Debian's golang-github-nats-io-go-nats-dev)
// clients for the real-software lab's nats-server scenario. Each prints
// "ROLE PORT" on stdout for every TCP connection it dials ("ROLEre" for
// its reconnections), its events on stderr, and exits by itself.
//
//	natslab sub URL ROLE SUBJECT HOLD    subscribe, then hold (answering the
//	                                     server's PINGs; reconnect on loss)
//	natslab pub URL ROLE SUBJECT EVERY HOLD  publish a message every EVERY
//	natslab hold URL ROLE N HOLD         N connections, idle
//	natslab close URL ROLE PAUSE         subscribe, publish, wait for its own
//	                                     message (1 s at most); Close PAUSE
//	                                     later
//	natslab storm URL ROLE N WAIT        RetryOnFailedConnect, MaxReconnects
//	                                     N-1, ReconnectWait WAIT (jitter
//	                                     100 ms): N attempts at most, each
//	                                     printed as ROLE
//	natslab once URL ROLE                one Connect (no retry): its error,
//	                                     or Close at once
package main

import (
	"fmt"
	"net"
	"os"
	"strconv"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
)

var t0 = time.Now()

func logf(format string, a ...interface{}) {
	fmt.Fprintf(os.Stderr, "natslab %.3f s: %s\n", time.Since(t0).Seconds(), fmt.Sprintf(format, a...))
}

// dialer prints the local port of every connection it makes, as ROLE,
// or after the first as ROLEre unless same.
type dialer struct {
	role string
	same bool
	mu   sync.Mutex
	n    int
}

func (d *dialer) Dial(network, address string) (net.Conn, error) {
	c, err := (&net.Dialer{Timeout: 2 * time.Second}).Dial(network, address)
	if err != nil {
		logf("%s: dial: %v", d.role, err)
		return nil, err
	}
	d.mu.Lock()
	role := d.role
	if d.n > 0 && !d.same {
		role += "re"
	}
	d.n++
	d.mu.Unlock()
	fmt.Fprintf(os.Stdout, "%s %d\n", role, c.LocalAddr().(*net.TCPAddr).Port)
	return c, nil
}

func opts(role string, extra ...nats.Option) []nats.Option {
	o := []nats.Option{
		nats.Name(role),
		nats.SetCustomDialer(&dialer{role: role}),
		nats.ReconnectWait(500 * time.Millisecond),
		nats.DisconnectErrHandler(func(_ *nats.Conn, err error) { logf("%s: disconnected: %v", role, err) }),
		nats.ReconnectHandler(func(nc *nats.Conn) { logf("%s: reconnected to %s", role, nc.ConnectedUrl()) }),
		nats.ClosedHandler(func(nc *nats.Conn) { logf("%s: closed: %v", role, nc.LastError()) }),
		nats.ErrorHandler(func(_ *nats.Conn, _ *nats.Subscription, err error) { logf("%s: async error: %v", role, err) }),
	}
	return append(o, extra...)
}

func dur(s string) time.Duration {
	d, err := time.ParseDuration(s)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	return d
}

func connect(url, role string, extra ...nats.Option) *nats.Conn {
	nc, err := nats.Connect(url, opts(role, extra...)...)
	if err != nil {
		logf("%s: connect: %v", role, err)
		os.Exit(1)
	}
	return nc
}

func main() {
	a := os.Args[1:]
	if len(a) < 3 {
		fmt.Fprintln(os.Stderr, "usage: natslab sub|pub|hold|close|storm|once URL ROLE ...")
		os.Exit(2)
	}
	url, role := a[1], a[2]
	switch a[0] {
	case "sub":
		nc := connect(url, role)
		n := 0
		var mu sync.Mutex
		if _, err := nc.Subscribe(a[3], func(*nats.Msg) { mu.Lock(); n++; mu.Unlock() }); err != nil {
			logf("%s: subscribe: %v", role, err)
		}
		nc.Flush()
		time.Sleep(dur(a[4]))
		mu.Lock()
		logf("%s: %d messages, %d reconnects, status %v", role, n, nc.Reconnects, nc.Status())
		mu.Unlock()
	case "pub":
		nc := connect(url, role)
		every, hold := dur(a[4]), dur(a[5])
		n := 0
		for end := time.Now().Add(hold); time.Now().Before(end); time.Sleep(every) {
			if err := nc.Publish(a[3], []byte(fmt.Sprintf("tick %d", n))); err != nil {
				logf("%s: publish: %v", role, err)
			}
			n++
		}
		logf("%s: %d published", role, n)
	case "hold":
		n, _ := strconv.Atoi(a[3])
		for i := 0; i < n; i++ {
			nc := connect(url, role)
			defer nc.Close()
		}
		time.Sleep(dur(a[4]))
	case "close":
		nc := connect(url, role)
		got := make(chan struct{}, 1)
		nc.Subscribe("lab.close", func(*nats.Msg) { got <- struct{}{} })
		nc.Publish("lab.close", []byte("hello"))
		nc.Flush()
		select {
		case <-got:
			logf("%s: got its own message", role)
		case <-time.After(time.Second):
			logf("%s: no message", role)
		}
		time.Sleep(dur(a[3]))
		nc.Close()
		logf("%s: closed", role)
	case "storm":
		n, _ := strconv.Atoi(a[3])
		done := make(chan struct{})
		nc, err := nats.Connect(url, opts(role,
			nats.SetCustomDialer(&dialer{role: role, same: true}),
			nats.RetryOnFailedConnect(true), nats.MaxReconnects(n-1),
			nats.ReconnectWait(dur(a[4])), nats.ReconnectJitter(100*time.Millisecond, 0),
			nats.ClosedHandler(func(nc *nats.Conn) { logf("%s: closed: %v", role, nc.LastError()); close(done) }))...)
		if err != nil {
			logf("%s: connect: %v", role, err)
			os.Exit(1)
		}
		select {
		case <-done:
		case <-time.After(20 * time.Second):
			logf("%s: still %v after 20 s", role, nc.Status())
		}
	case "once":
		nc, err := nats.Connect(url, opts(role)...)
		if err != nil {
			logf("%s: connect: %v", role, err)
			return
		}
		nc.Close()
	}
}
GO
	(cd "$d/natslab.src" && GO111MODULE=off GOPATH=/usr/share/gocode GOFLAGS= GOPROXY=off go build -o "$d/natslab" .) ||
		die "natslab: the nats.go client did not build"
}

# nats_wire FILE CPORT: the connection from CPORT as the capture FILE
# shows it, times after its SYN: each segment of data ("s" from the
# server, "c" from the client: its protocol lines, the first word of
# each, -ERR whole; "again" for a retransmission), FIN and RST.
nats_wire() {
	tshark -r "$1" -Y "tcp.port == $2" -T fields -e frame.time_relative -e tcp.srcport -e tcp.flags.syn -e tcp.flags.ack \
		-e tcp.flags.fin -e tcp.flags.reset -e tcp.len -e tcp.analysis.retransmission -e tcp.payload 2>/dev/null |
		awk -F '\t' -v p="$2" '
			function text(h, i, c, s, line, w, out) {
				s = ""
				for (i = 1; i < length(h); i += 2) {
					c = (index(hex, substr(h, i, 1)) - 1) * 16 + index(hex, substr(h, i + 1, 1)) - 1
					s = s sprintf("%c", c)
				}
				out = ""
				while ((i = index(s, "\r\n")) > 0) {
					line = substr(s, 1, i - 1)
					s = substr(s, i + 2)
					w = line
					if (line !~ /^-ERR/) sub(/ .*/, "", w)
					out = out (out == "" ? "" : "+") w
				}
				return out
			}
			BEGIN { hex = "0123456789abcdef" }
			$2 == p && $3 == 1 && $4 == 0 { syn = $1; next }
			{ who = $2 == p ? "c" : "s"; e = "" }
			$7 > 0 { e = text($9); if ($8 != "") e = e " again" }
			$5 == 1 { e = e (e == "" ? "" : ", ") "FIN" }
			$6 == 1 { e = e (e == "" ? "" : ", ") "RST" }
			e != "" { printf "%s%s +%.3f %s", n++ ? "; " : "", who, $1 - syn, e }
			END { printf "\n" }'
}

# nats_stale FILE CPORT: for a connection nats-server declared stale, the
# client's silence before the server's -ERR (since its last byte of data)
# and the server's PINGs in it, unanswered.
nats_stale() {
	tshark -r "$1" -Y "tcp.port == $2 && tcp.len > 0" -T fields -e frame.time_relative -e tcp.srcport -e tcp.len \
		-e tcp.analysis.retransmission 2>/dev/null |
		awk -F '\t' -v p="$2" '
			er != "" { next }
			$2 == p { cl = $1; n = 0; next }
			$4 != "" { next }
			$3 == 6 { n++; lp = $1; next }
			$3 == 25 { er = $1 }
			END { printf "%.1f s silent, %d PINGs unanswered, the last %.3f s before the -ERR\n", er - cl, n, er - lp }'
}

# nats-server's keep-alive (PING/PONG, "Stale Connection"), its
# authorization timeout and its max_connections, against nats.go clients
# and raw sockets.
sc_nats_server() {
	host client; host server; wire client server
	local d=$work/nats
	mkdir -p "$d"
	natslab "$d"
	# Server "a" (4222): the keep-alive and the authorization timeout.
	# Server "b" (4223): max_connections 3, no authorization.
	cat >"$d/a.conf" <<CONF
listen: "$server_ip:4222"
ping_interval: "1s"
ping_max: 2
authorization {
	user: lab
	password: secret
	timeout: 2
}
debug: true
logtime: true
log_file: "$d/a.log"
CONF
	cat >"$d/b.conf" <<CONF
listen: "$server_ip:4223"
ping_interval: "1s"
ping_max: 2
max_connections: 3
debug: true
logtime: true
log_file: "$d/b.log"
CONF
	on server nats-server -c "$d/a.conf"
	on server nats-server -c "$d/b.conf"
	listening server 4222
	listening server 4223
	local a=nats://lab:secret@$server_ip:4222 b=nats://$server_ip:4223 nl="$d/natslab"
	capture client "$client_if" "$work/cap.pcap"
	begin nats-server
	# Long-lived nats.go connections to "a": "idle" subscribed to a
	# subject nothing is published on (the server's PINGs and its PONGs
	# only), "pub" publishing on lab.tick every second and "sub" receiving
	# it; "frozen" and "paused", to be stopped, and "gone", to be cut off,
	# idle subscribers. The cap of "b" held by three connections ("hold").
	client client $nl sub "$a" idle lab.idle 30s
	client client $nl pub "$a" pub lab.tick 1s 30s
	client client $nl sub "$a" sub lab.tick 30s
	client client $nl sub "$a" frozen lab.frozen 30s
	local frozen=${pids[-1]}
	client client $nl sub "$a" paused lab.paused 30s
	local paused=${pids[-1]}
	client client $nl sub "$a" gone lab.gone 30s
	client client $nl hold "$b" hold 3 30s
	for _ in $(seq 100); do
		[ "$(wc -l <"$work/ports")" -ge 9 ] && break
		sleep 0.05
	done
	[ "$(wc -l <"$work/ports")" -ge 9 ] || die "the nats.go clients did not connect: $(tail -5 "$work/log")"
	t0=$(date +%s.%N) # the clock starts with every long-lived connection made
	until_t 0.5
	# Raw sockets that never send CONNECT: the authorization timeout (2 s).
	client client $pylab natsraw "$server_ip" 4222 authread read 30
	client client $pylab natsraw "$server_ip" 4222 authsilent silent 30
	# At 1.5 s, each having answered the server's first PING (1-1.2 s after
	# its connect), "frozen" and "paused" are stopped (SIGSTOP); "gone" is
	# cut off: nftables on the client drops its packets both ways.
	until_t 1.5
	local gone
	gone=$(ports gone)
	ip netns exec "$tag-client" nft add table inet flowdoc
	ip netns exec "$tag-client" nft add chain inet flowdoc in '{ type filter hook input priority 0; }'
	ip netns exec "$tag-client" nft add chain inet flowdoc out '{ type filter hook output priority 0; }'
	ip netns exec "$tag-client" nft add rule inet flowdoc in tcp dport "$gone" drop
	ip netns exec "$tag-client" nft add rule inet flowdoc out tcp sport "$gone" drop
	kill -STOP "$frozen" "$paused"
	local stop_at
	stop_at=$(since_t0)
	until_t 1.8
	# nats.go clients with a wrong password, three, 150 ms apart.
	for _ in 1 2 3; do
		client client $nl once "nats://lab:wrong@$server_ip:4222" badauth
		sleep 0.15
	done
	until_t 2
	# nats.go's reconnect loop against the cap of "b": RetryOnFailedConnect,
	# 10 attempts, ReconnectWait 200 ms (jitter 100 ms).
	client client $nl storm "$b" storm 10 200ms
	# Early: right after the authorization timeouts, the stopped clients'
	# next PING unanswered, two or three refusals of the storm.
	for _ in $(seq 100); do
		[ "$(grep -c 'Authentication Timeout' "$d/a.log")" -ge 2 ] && break
		sleep 0.02
	done
	sleep 0.15
	cut early client server
	# Mid: 0.3 s after nats-server gave up on the three ("Stale Client
	# Connection"), the stopped ones in CLOSE-WAIT.
	for _ in $(seq 200); do
		[ "$(grep -c 'Stale Client Connection' "$d/a.log")" -ge 3 ] && break
		sleep 0.02
	done
	local stale_at
	stale_at=$(since_t0)
	sleep 0.3
	cut mid client server
	# "paused" runs again (SIGCONT) 1 s later; a client that works and
	# closes.
	sleep 1
	kill -CONT "$paused"
	local cont_at
	cont_at=$(since_t0)
	sleep 0.5
	client client $nl close "$a" close 500ms
	until_t 14
	cut late client server
	finish "$work/cap.pcap"
	echo "lab: $name: stopped and cut off at $stop_at s, stale by $stale_at s, paused resumed at $cont_at s" >&2
	grep -hE 'Stale|Timeout|authentication|maximum|closed|created' "$d/a.log" "$d/b.log" | grep -v 'Server Shutdown\|SYSTEM' |
		sed 's/^\[[0-9]*\] [0-9/]* //; s/^/  nats-server: /'
	local late=$out/$name@late.pcap role p wire=
	for role in frozen paused gone authread authsilent badauth storm close; do
		for p in $(ports $role | tr , ' '); do
			wire+="#   $role $p: $(nats_wire "$late" "$p")"$'\n'
		done
	done
	printf '%s' "$wire" | sed "s/^#  /lab: $name:/" >&2
	local fstale pstale silence pings refused fins resets span badways silentq
	# How each wrong password ended: the PING after nats-server's FIN
	# (reset), the PING unread at its close (an RST, no FIN), or FINs.
	badways=$(for p in $(ports badauth | tr , ' '); do nats_wire "$late" "$p"; done |
		awk '/FIN; c [^;]* PING; s [^;]* RST/ { a++; next } /RST/ { b++; next } { c++ }
			END { printf "here %d, %d and %d of the 3", a, b, c }')
	# The ss queues at the late cut: authsilent's and frozen's unread bytes
	# (with the FIN), what the server holds unsent for "gone".
	silentq=$(awk -v p="$client_ip:$(ports authsilent)" '$4 == p { print $2 }' "$out/$name@late.truth")
	local frozenq goneq
	frozenq=$(awk -v p="$client_ip:$(ports frozen)" '$4 == p { print $1 " Recv-Q " $2 }' "$out/$name@late.truth")
	goneq=$(awk -v p="$client_ip:$(ports gone)" '$5 == p { print $1 ", Send-Q " $3 }' "$out/$name@late.truth")
	# How the resumed client ended its stale connection: its PONGs to the
	# two PINGs after the server's FIN (reset), or a FIN.
	local pausedend
	pausedend=$(nats_wire "$late" "$(ports paused)" | tr ';' '\n' |
		awk '$1 == "s" && $3 == "FIN" { f = substr($2, 2) } f != "" && $1 == "c" && $3 ~ /PONG/ && p == "" { p = substr($2, 2) }
			f != "" && $1 == "c" && $3 == "FIN" && c == "" { c = substr($2, 2) } p != "" && $1 == "s" && $3 == "RST" { r = substr($2, 2) }
			END { if (p != "") printf "its flusher writes the PONGs to the two PINGs first (12 bytes, %.3f s after the server\047s FIN), and nats-server\047s kernel resets them %.0f µs later (the socket closed): data after the server\047s FIN answered with RST, but no request on a connection kept idle, the late answers to the keep-alive that gave up on it: no stale reuse, nothing lost", p - f, 1e6 * (r - p)
				else printf "its FIN %.3f s after the server\047s, its PONGs never written: both FINs, the server\047s TIME-WAIT", c - f }')
	fstale=$(nats_stale "$late" "$(ports frozen)") pstale=$(nats_stale "$late" "$(ports paused)")
	# The shortest silence of a client before its stale close.
	silence=$(printf '%s\n%s\n' "$fstale" "$pstale" | awk '{ print $1 }' | sort -n | head -1)
	# The healthy idle subscriber: the server's PINGs and its PONGs, after
	# the connect's PING and PONG.
	pings=$(nats_wire "$late" "$(ports idle)" | tr ';' '\n' |
		awk '$1 == "s" && $3 == "PING" { n++; t = substr($2, 2); if (l != "") { g = t - l; if (g > mx) mx = g; if (mn == "" || g < mn) mn = g }; l = t }
			$1 == "c" && $3 == "PONG" { m++ }
			END { printf "%d PINGs from the server %.2f-%.2f s apart, %d PONGs", n, mn, mx, m }')
	refused=$(ports storm)
	fins=$(for p in ${refused//,/ }; do nats_wire "$late" "$p"; done | grep -c 'FIN; c') || true
	resets=$(($(echo "$refused" | tr , '\n' | wc -l) - fins))
	span=$(tshark -r "$late" -Y "tcp.dstport == 4223 && tcp.flags.syn == 1 && tcp.flags.ack == 0" -T fields -e frame.time_relative -e tcp.srcport 2>/dev/null |
		awk -v want="$refused" 'BEGIN { n = split(want, w, ","); for (i = 1; i <= n; i++) k[w[i]] = 1 } ($2 in k) { if (f == "") f = $1; l = $1; c++ }
			END { printf "%d connections in %.2f s (%.1f a second)", c, l - f, (c - 1) / (l - f) }')
	expect <<EXP
# nats-server $(nats-server --version | sed 's/.* v//') (Debian's $(dpkg-query -W -f '${Version}' nats-server)), two instances of its
# own in the server host: "a" on 4222 with ping_interval "1s", ping_max 2
# and authorization { user, password, timeout: 2 }; "b" on 4223 with
# ping_interval "1s", ping_max 2, max_connections 3. Clients: nats.go
# 1.22.1 (Debian's golang-github-nats-io-go-nats-dev $(dpkg-query -W -f '${Version}' golang-github-nats-io-go-nats-dev), a client
# program of the lab's built offline with Go's GOPATH mode; its own PINGs
# every 2 min, never in this capture) and raw python sockets. Each
# connection opens with the server's INFO (304-326 bytes); nats.go answers
# CONNECT and PING and gets PONG.
# The keep-alive: every second nats-server sends PING (6 bytes) to each
# client; one that has 2 PINGs unanswered (ping_max) at the next tick is
# declared stale: "-ERR 'Stale Connection'" (25 bytes) and close, 3 ticks
# after its last answer (log: "Stale Client Connection - Closing",
# "Client connection closed: Stale Connection"). A healthy nats.go client
# answers each PING with PONG at once: "idle", subscribed to a subject
# nothing is published on ($(ports idle)): $pings, nothing else: open and healthy, the PINGs being
# keep-alive, no application data; as are "pub" ($(ports pub), a PUB a
# second) and "sub" ($(ports sub), a MSG a second), and the three "hold"
# connections to "b" ($(ports hold)).
# At $stop_at s, each having answered the server's first PING, two idle
# subscribers are stopped (SIGSTOP) and the path of a third is cut
# (nftables on the client drops its packets both ways).
# Measured in the late capture (times after each connection's SYN; "s"
# the server, "c" the client):
$wire# - "frozen" ($fstale) and "paused" ($pstale):
#   the client's kernel acknowledges the PINGs and the -ERR, and the
#   server's FIN: nats-server closes with a FIN (nothing unread on its
#   side), the stopped client sits in CLOSE-WAIT with the two PINGs and
#   the -ERR unread (frozen at the late cut: ss $frozenq with the FIN),
#   the server in FIN-WAIT-2. The server's keep-alive giving up on a client silent for
#   $silence s or more: a close of the server's for the client's silence (idle
#   timeout class; its timeout is 3 ticks of ping_interval without an
#   answer, ${silence} s here, not the 1.0 s since its own last PING),
#   and the CLOSE-WAIT a hung application, a leak for as long as it
#   lasts. "paused" runs again at $cont_at s (SIGCONT): nats.go reads the
#   PINGs and the -ERR ("nats: stale connection") and closes its socket:
#   $pausedend. It reconnects 0.5 s later ("pausedre",
#   $(ports pausedre)), healthy.
# - "gone" (the path cut): the server's next PING is never acknowledged
#   and goes out again with backoff to the end; nats-server declares it
#   stale on the same clock (its log says so), but its -ERR and FIN stay
#   queued behind the unacknowledged PING (ss at the late cut: $goneq,
#   the PINGs, the -ERR and the FIN): the capture cannot show them, the
#   client's ss says ESTAB (nats.go would notice after 2 of its own
#   PINGs, 2 min apart). A peer that stopped answering.
# - The authorization timeout (2 s): two raw sockets that never send
#   CONNECT get the INFO, a PING at about 1 s (nats-server pings a client
#   that has not connected yet) and one at about 2 s, racing the timeout
#   (before or after its -ERR, or lost to the close), and at 2.0 s after
#   the accept "-ERR 'Authentication Timeout'" (31 bytes; log
#   "Authentication Timeout") and a FIN. "authread" reads to EOF
#   and closes at once (the server holds TIME-WAIT); "authsilent" never
#   reads nor closes: CLOSE-WAIT to the end (Recv-Q $silentq: the INFO,
#   the PINGs, the -ERR and the FIN). A server's
#   deadline for a client that never logged in, counted from the accept:
#   not a refusal at the accept, and no stale reuse; the CLOSE-WAIT the
#   raw client's leak.
# - "badauth": three nats.go clients with a wrong password, 150 ms
#   apart: nats-server reads the CONNECT, answers "-ERR 'Authorization
#   Violation'" (32 bytes; log "authentication error") and closes. nats.go
#   writes its PING right after its CONNECT (a second write, as part of
#   its connect): where the PING came in after nats-server's FIN, the
#   server's kernel resets it (RST, no FIN from nats.go); where it came in
#   before the close, unread, the close is an RST after the -ERR, no FIN;
#   else nats.go closes as it reads the -ERR, its FIN crossing the
#   server's (FINs within a millisecond): $badways. The server
#   refusing the client's credentials as it logs in, closing at once (an
#   access check that fails: accept_then_close, whether FIN or RST): no
#   timeout, no leak, and the PING no request on a connection the server
#   had closed idle but its connect's, written before any answer came: no
#   stale reuse.
# - max_connections 3 on "b", held by "hold": nats.go's reconnect loop
#   ("storm": RetryOnFailedConnect, MaxReconnects 9, ReconnectWait 200 ms,
#   jitter 100 ms), $span, each a
#   new connection: nats-server accepts, sends its INFO and "-ERR 'maximum
#   connections exceeded'" (37 bytes; log "maximum connections exceeded",
#   "Client connection closed: Maximum Connections Exceeded") and closes
#   within a millisecond, never reading; after the tenth nats.go gives up
#   ("nats: no servers available for connection"). nats.go answers the INFO with its
#   CONNECT: $fins of them came after the server's FIN (RST), $resets reached
#   nats-server before its close, which it then makes with an RST (unread
#   data), the -ERR sent first and no FIN. Either way a refusal at the
#   accept by a connection cap: accept_then_close, at 3-4 a second from
#   one host a reconnect storm (the client's backoff is 200-300 ms, no
#   exponential growth). nats.go never closes the failed sockets of its
#   reconnect loop (a new dial replaces them): the RSTs closed them.
# - "close": nats.go connects, subscribes, publishes, gets its message
#   and 0.5 s later closes (Close: FIN first); nats-server closes at once:
#   healthy.
# The cuts: early right after the authorization timeouts (authsilent's
# CLOSE-WAIT a fraction of a second old), the stopped clients' next PING
# unanswered, two or three refusals of the storm; mid 0.3 s after
# nats-server declared the three stale ($stale_at s), the storm over or
# nearly; late (14 s)
# after "paused" ran again and "close".
healthy cport=$(ports idle),$(ports pub),$(ports sub),$(ports hold)
expect cport=$(ports idle),$(ports pub),$(ports sub),$(ports hold) client.ss=ESTAB n>=6 : open(client)
@early expect cport=$(ports frozen),$(ports paused) client.ss=ESTAB n>=2 : open(client) !close_wait_leak(client)
# At the mid cut both stopped clients' CLOSE-WAITs are a few tenths of a
# second old, and one will close when it runs again: either verdict.
@mid expect cport=$(ports frozen),$(ports paused) client.ss=CLOSE-WAIT n>=2 : close_wait_leak(client)|open(client) idle_timeout_close(server)
@late expect cport=$(ports frozen) client.ss=CLOSE-WAIT n>=1 : close_wait_leak(client) idle_timeout_close(server)
@late expect cport=$(ports paused) n>=1 : idle_timeout_close(server) !close_wait_leak(client) !stale_reuse_reset(client)
@late healthy cport=$(ports pausedre),$(ports close)
@late expect cport=$(ports pausedre) client.ss=ESTAB n>=1 : open(client)
@mid,late infinding cport=$(ports frozen),$(ports paused) : idle_timeout_close
@mid,late says idle_timeout_close : after $silence s
expect cport=$(ports gone) client.ss=ESTAB n>=1 : peer_unreachable(client) !close_wait_leak(client)
finding peer_unreachable
expect cport=$(ports authread) server.ss=TIME-WAIT n>=1 : idle_timeout_close(server) !accept_then_close(server) !close_wait_leak(client)
@early expect cport=$(ports authsilent) client.ss=CLOSE-WAIT n>=1 : idle_timeout_close(server) close_wait_leak(client)|open(client) !accept_then_close(server)
@mid,late expect cport=$(ports authsilent) client.ss=CLOSE-WAIT n>=1 : idle_timeout_close(server) close_wait_leak(client) !accept_then_close(server)
infinding cport=$(ports authread),$(ports authsilent) : idle_timeout_close
@mid,late infinding cport=$(ports frozen),$(ports authsilent) : close_wait_leak
@mid,late finding close_wait_leak
expect cport=$(ports badauth) n>=3 : accept_then_close(server) !idle_timeout_close(server) !close_wait_leak(client) !stale_reuse_reset(client)
@early expect cport=$refused n>=2 : accept_then_close(server) !stale_reuse_reset(client) !close_wait_leak(client) !open(client) !idle_timeout_close(server)
@mid expect cport=$refused n>=8 : accept_then_close(server) !stale_reuse_reset(client) !close_wait_leak(client) !open(client) !idle_timeout_close(server)
@late expect cport=$refused n>=10 : accept_then_close(server) !stale_reuse_reset(client) !close_wait_leak(client) !open(client) !idle_timeout_close(server)
@mid,late infinding cport=$refused : reconnect_storm
@mid,late finding reconnect_storm
@mid,late says reconnect_storm : to $server_ip:4223 in
@late says reconnect_storm : opened 10 connections
nofinding stale_reuse_reset
@late expect cport=$(ports close) n>=1 : clean(client)|clean(server) !reset(client) !reset(server)
EXP
}

# tinyproxy_conf FILE ADDR PORT MAXCLIENTS: a tinyproxy of its own listening
# on ADDR:PORT, Timeout 3, MaxClients MAXCLIENTS, CONNECT to port 8443
# only, LogLevel Info to FILE.log (it runs as nobody).
tinyproxy_conf() {
	cat >"$1" <<CONF
User nobody
Group nogroup
Listen $2
Port $3
Timeout 3
MaxClients $4
LogFile "$1.log"
LogLevel Info
ConnectPort 8443
CONF
	: >"$1.log"
	chown nobody:nogroup "$1.log"
}

# tinyproxy_curl ROLE PROXY MAXTIME URL: curl through the proxy, in the
# client host, in the background; "ROLE CODE PORT TIME EXIT" to work/curl.
tinyproxy_curl() {
	ip netns exec "$tag-client" curl -s -k -o /dev/null --max-time "$3" -x "http://$2" \
		-w "$1 %{http_code} %{local_port} %{time_total} %{exitcode}\n" "$4" >>"$work/curl" 2>>"$work/log" &
	pids+=($!)
}

# tp_events FILE CPORT: the connection from CPORT as FILE shows it, times
# from its SYN: "c" the client's and "s" the server's data (its first word,
# an HTTP response's status code, "TLS" for TLS records; with the bytes of
# the writes that followed within 5 ms), FIN and RST.
tp_events() {
	tshark -r "$1" -Y "tcp.port == $2" -T fields -e frame.time_relative -e tcp.srcport -e tcp.flags.syn -e tcp.flags.ack \
		-e tcp.flags.fin -e tcp.flags.reset -e tcp.len -e tcp.payload 2>/dev/null |
		awk -F '\t' -v p="$2" '
			function text(h, i, c, s) {
				s = ""
				for (i = 1; i < length(h) && i < 60; i += 2) {
					c = (index(hex, substr(h, i, 1)) - 1) * 16 + index(hex, substr(h, i + 1, 1)) - 1
					if (c == 13) break
					s = s sprintf("%c", c)
				}
				return s
			}
			function word(h, f) {
				if (h ~ /^1[4-7]03/) return "TLS"
				split(text(h), f, " ")
				return f[1] ~ /^HTTP\// ? f[2] : f[1]
			}
			function out(s) { printf "%s%s", n++ ? "; " : "", s }
			function flush() {
				if (pend) out(sprintf("%s +%.3f %s (%d B)", lw, t1 - syn, w, bytes))
				pend = 0
			}
			BEGIN { hex = "0123456789abcdef" }
			$2 == p && $3 == 1 && $4 == 0 { if (syn == "") syn = $1; next }
			syn == "" || $3 == 1 { next }
			{ who = $2 == p ? "c" : "s" }
			$7 > 0 {
				if (pend && who == lw && $1 - lt < 0.005) { bytes += $7; lt = $1 }
				else { flush(); lw = who; lt = t1 = $1; bytes = $7; w = word($8); pend = 1 }
			}
			$5 == 1 { flush(); out(sprintf("%s +%.3f FIN", who, $1 - syn)) }
			$6 == 1 { flush(); out(sprintf("%s +%.3f RST", who, $1 - syn)) }
			END { flush(); printf "\n" }'
}

# tp_closes FILE PORTS [c]: for the connections from the client ports
# PORTS (comma separated) that the server (with c, the client) closed
# first, its FIN after the last payload either way, or the handshake: the
# fastest and the slowest (in µs when under 10 ms).
tp_closes() {
	tshark -r "$1" -Y tcp -T fields -e frame.time_epoch -e tcp.srcport -e tcp.dstport -e tcp.flags.fin -e tcp.len 2>/dev/null |
		awk -v want="$2" -v side="${3:-s}" 'BEGIN { n = split(want, w, ","); for (i = 1; i <= n; i++) keep[w[i]] = 1 }
			($2 in keep) { c = $2; if (!(c in last) || $5 > 0) last[c] = $1; if ($4 == 1) fin(c, "c"); next }
			($3 in keep) { c = $3; if ($5 > 0) last[c] = $1; if ($4 == 1) fin(c, "s") }
			function fin(c, who, d) { if (c in done) return; done[c] = 1; if (who != side) return; d = $1 - last[c]
				if (lo == "" || d < lo) lo = d; if (hi == "" || d > hi) hi = d }
			END { if (hi < 0.01) printf "%.0f-%.0f µs", 1e6 * lo, 1e6 * hi; else printf "%.3f-%.3f s", lo, hi }'
}

# tp_legs FILE: "CPORT BPORT" for each CONNECT tunnel through the proxy:
# the client's port and the proxy's to 8443 that carried the same TLS
# ClientHello (its random).
tp_legs() {
	tshark -r "$1" -Y "tls.handshake.type == 1" -T fields -e tcp.srcport -e tcp.dstport -e tls.handshake.random 2>/dev/null |
		awk '$2 == 8443 { b[$3] = $1; next } { c[$3] = $1 } END { for (r in c) if (r in b) print c[r], b[r] }'
}

# tp_tunnel_closes FILE: for the tunnels (work/legs: "CPORT BPORT") the
# proxy closed first: its FIN to nginx after its FIN to the client, nginx's
# FIN after the proxy's, and the bytes either side sent on the server leg
# after the proxy's FIN.
tp_tunnel_closes() {
	tshark -r "$1" -Y "tcp.flags.fin == 1 || tcp.len > 0" -T fields -e frame.time_epoch -e tcp.srcport -e tcp.dstport \
		-e tcp.flags.fin -e tcp.len 2>/dev/null |
		awk 'NR == FNR { leg[$1] = $2; cl[$2] = $1; next }
			# the client leg: the proxy'"'"'s FIN, the client'"'"'s
			($3 in leg) && $4 == 1 && !($3 in pfin) { pfin[$3] = $1 }
			($2 in leg) && $4 == 1 && !($2 in cfin) { cfin[$2] = $1 }
			# the server leg: the proxy'"'"'s FIN to nginx, nginx'"'"'s; data after
			($2 in cl) && ($2 in sfin) && $5 > 0 { after += $5 }
			($2 in cl) && $4 == 1 && !($2 in sfin) { sfin[$2] = $1 }
			($3 in cl) && ($3 in sfin) && $5 > 0 { after += $5 }
			($3 in cl) && $4 == 1 && !($3 in nfin) { nfin[$3] = $1 }
			END { for (c in leg) { b = leg[c]; if (!(c in pfin) || !(b in sfin) || ((c in cfin) && cfin[c] < pfin[c])) continue
					d = 1e6 * (sfin[b] - pfin[c]); e = 1e6 * (nfin[b] - sfin[b]); k++
					if (k == 1 || d < dlo) dlo = d; if (k == 1 || d > dhi) dhi = d
					if (k == 1 || e < elo) elo = e; if (k == 1 || e > ehi) ehi = e }
				printf "%d tunnels: its FIN to nginx %.0f-%.0f µs after its FIN to the client, nginx\047s FIN %.0f-%.0f µs after it, %d bytes after it", k, dlo, dhi, elo, ehi, after }' \
			"$work/legs" -
}

# tp_ev FILE ROLE...: tp_events of each client port noted for the ROLEs, as
# comment lines.
tp_ev() {
	local f=$1 r p
	shift
	for r in "$@"; do
		for p in $(ports "$r" | tr , ' '); do
			printf '#   %s %s: %s\n' "$r" "$p" "$(tp_events "$f" "$p")"
		done
	done
}

# tp_ss CUT ROLE: the proxy's sockets of the client ports noted for ROLE
# in the cut's ss: "PORT STATE Recv-Q N".
tp_ss() {
	awk -v l=",$(ports "$2")," '$4 ~ /:888[89]$/ { p = $5; sub(/.*:/, "", p); if (index(l, "," p ","))
			{ printf "%s%s %s, Recv-Q %s", s, p, $1, $2; s = "; " } }' "$out/$name@$1.truth"
}

# tp_cut_at CUT: the moment of the cut, in seconds after the clock's start.
tp_cut_at() {
	awk -v t0="$t0" -v at="$(date -d "$(sed -n 's/^at //p' "$out/$name@$1.truth")" +%s.%N)" 'BEGIN { printf "%.2f", at - t0 }'
}

# tinyproxy 1.11 as a forward proxy: its Timeout, its MaxClients, CONNECT
# tunnels, origins that do not answer, clients that never send.
sc_tinyproxy() {
	host client; host proxy; host server
	wire client proxy
	local front=$proxy_ip
	wire proxy server
	local d=$work/tinyproxy n=$work/nginx
	mkdir -p "$d" "$n/html"
	self_signed "$n"
	echo ok >"$n/html/ok"
	# The origins: nginx over HTTP (8080) and TLS 1.3 (8443), keep-alive
	# 60 s (tinyproxy closes first); a server that accepts and reads and
	# never answers nor closes (8081); a port whose SYNs the server's host
	# drops (8082); a port nothing listens on (8083).
	cat >"$n/nginx.conf" <<CONF
worker_processes 1;
pid $n/nginx.pid;
error_log $n/error.log info;
events { worker_connections 256; }
http {
	access_log off;
	client_body_temp_path $n/tmp;
	proxy_temp_path $n/tmp;
	fastcgi_temp_path $n/tmp;
	uwsgi_temp_path $n/tmp;
	scgi_temp_path $n/tmp;
	keepalive_timeout 60s;
	server {
		listen $server_ip:8080;
		root $n/html;
	}
	server {
		listen $server_ip:8443 ssl;
		ssl_certificate $n/cert.pem;
		ssl_certificate_key $n/key.pem;
		ssl_protocols TLSv1.3;
		root $n/html;
	}
}
CONF
	run_nginx server "$n"
	on server $pylab silent "$server_ip" 8081 40
	ip netns exec "$tag-server" nft add table inet flowdoc
	ip netns exec "$tag-server" nft add chain inet flowdoc in '{ type filter hook input priority 0; }'
	ip netns exec "$tag-server" nft add rule inet flowdoc in tcp dport 8082 drop
	# Two tinyproxies in the foreground (-d), Timeout 3 each: "a" (8888,
	# MaxClients 20) and "b" (8889, MaxClients 3).
	tinyproxy_conf "$d/a.conf" "$front" 8888 20
	tinyproxy_conf "$d/b.conf" "$front" 8889 3
	on proxy tinyproxy -d -c "$d/a.conf"
	on proxy tinyproxy -d -c "$d/b.conf"
	listening server 8080
	listening server 8443
	listening server 8081
	listening proxy 8888
	listening proxy 8889
	: >"$work/curl"
	local a=$front:8888 b=$front:8889 i
	capture proxy any "$work/cap.pcap" -B 65536
	begin tinyproxy
	# Through "a": plain HTTP keep-alive clients (one reused 5 s later);
	# CONNECT tunnels to nginx over TLS, idle after one GET; sockets that
	# never send, or send half a request. "b"'s three places taken by idle
	# tunnels that close when tinyproxy closes them.
	client client $pylab tinyproxyplain "$front" 8888 "http://$server_ip:8080/ok" 5 20
	client client $pylab tinyproxytunnel "$front" 8888 "$server_ip" 8443 tunidle idle 0 20
	client client $pylab tinyproxytunnel "$front" 8888 "$server_ip" 8443 tunread read 0 20
	client client $pylab tinyproxytunnel "$front" 8888 "$server_ip" 8443 tunreuse reuse 6 20
	client client $pylab tinyproxytunnel "$front" 8888 "$server_ip" 8443 tunclose close 1 20
	for i in 1 2 3; do
		client client $pylab tinyproxytunnel "$front" 8889 "$server_ip" 8443 holder read 0 20
	done
	client client $pylab tinyproxysilent "$front" 8888 silentread read 20
	client client $pylab tinyproxysilent "$front" 8888 silent silent 20
	client client $pylab tinyproxysilent "$front" 8888 half half 20 "http://$server_ip:8080/ok"
	for i in $(seq 200); do
		[ "$(wc -l <"$work/ports")" -ge 14 ] && break
		[ "$i" -lt 200 ] || die "the python clients did not connect: $(tail -5 "$work/log")"
		sleep 0.05
	done
	t0=$(date +%s.%N) # the clock starts with every python client connected
	# curl through "a": nginx over HTTP and over a tunnel; the origin that
	# never answers (one curl that waits 8 s, one 1.5 s), the one that
	# drops SYNs, the one that refuses.
	tinyproxy_curl curlplain "$a" 5 "http://$server_ip:8080/ok"
	tinyproxy_curl curltls "$a" 5 "https://$server_ip:8443/ok"
	tinyproxy_curl silentorigin "$a" 8 "http://$server_ip:8081/ok"
	tinyproxy_curl quitorigin "$a" 1.5 "http://$server_ip:8081/ok"
	tinyproxy_curl droporigin "$a" 8 "http://$server_ip:8082/ok"
	tinyproxy_curl refusedorigin "$a" 8 "http://$server_ip:8083/ok"
	until_t 0.3
	# More clients than "b" takes: 5 curl --max-time 8 and one --max-time 1.5.
	for i in 1 2 3 4 5; do
		tinyproxy_curl waited "$b" 8 "http://$server_ip:8080/ok"
	done
	tinyproxy_curl gaveup "$b" 1.5 "http://$server_ip:8080/ok"
	until_t 1.0
	cut early client proxy server
	until_t 2.4
	cut mid client proxy server
	until_t 3.6
	cut timeout client proxy server
	until_t 6
	# "b" again: three requests to the origin that never answers fill it,
	# two more come 1 s later.
	for i in 1 2 3; do
		tinyproxy_curl hung "$b" 8 "http://$server_ip:8081/ok"
	done
	until_t 7
	for i in 1 2; do
		tinyproxy_curl stuck "$b" 8 "http://$server_ip:8080/ok"
	done
	until_t 12
	cut late client proxy server
	finish "$work/cap.pcap"
	awk '{ print $1, $3 }' "$work/curl" >>"$work/ports"
	echo "lab: $name: curl (role, code, port, time, exit): $(sort "$work/curl" | tr '\n' ';')" >&2
	# tinyproxy's log: its messages of timeouts and limits, counted.
	local logs=
	for i in a b; do
		logs+="$i: $(grep -E 'Maximum number|Idle Timeout|process_server_headers|Could not|read_request_line|no entity' "$d/$i.conf.log" |
			sed 's/^[A-Z]* *[A-Z][a-z][a-z] [0-9]* [0-9:.]* \[[0-9]*\]: //; s/descriptor:* [0-9]*/descriptor N/; s/ host .*//' |
			sort | uniq -c | awk '{ n = $1; $1 = ""; printf "%s\"%s\" x%d", (NR > 1 ? "; " : ""), substr($0, 2), n }'). "
	done
	echo "lab: $name: tinyproxy's log: $logs" >&2
	local late=$out/$name@late.pcap
	tp_legs "$late" >"$work/legs"
	local tunnels=$(ports tunidle),$(ports tunread),$(ports tunreuse),$(ports holder)
	local early_q mid_q
	early_q=$(awk '$1 == "LISTEN" && $4 ~ /:8889$/ { print $2 "/" $3 }' "$out/$name@early.truth")
	mid_q=$(awk '$1 == "LISTEN" && $4 ~ /:8889$/ { print $2 "/" $3 }' "$out/$name@mid.truth")
	expect <<EXP
# tinyproxy $(tinyproxy -v 2>&1 | awk '{ print $2 }') (Debian's tinyproxy-bin $(dpkg-query -W -f '${Version}' tinyproxy-bin)) as a forward
# proxy between the client and the server hosts, captured on the proxy
# (-i any: both legs). Two instances of its own, run by hand (tinyproxy
# -d -c), each with Timeout 3, ConnectPort 8443 (CONNECT to that port
# only), LogLevel Info, no upstream: "a" on 8888 (MaxClients 20) and "b"
# on 8889 (MaxClients 3). The origins on the server host: nginx 1.22
# (keepalive_timeout 60s) over HTTP on 8080 and TLS 1.3 on 8443; a python
# server on 8081 that accepts, reads the request and never answers nor
# closes; 8082, whose SYNs nftables drops on the server; 8083, where
# nothing listens. Clients: python3 http.client and requests $(/usr/bin/python3 -c 'import requests; print(requests.__version__)'), curl
# $(curl --version | awk 'NR == 1 { print $2 }'). The clock starts when every python client has connected;
# the cuts (after it): early $(tp_cut_at early) s, every client of the first
# round connected, the tunnels idle; mid $(tp_cut_at mid) s, just before tinyproxy's
# Timeout closes the idle tunnels; timeout $(tp_cut_at timeout) s, right after it; late
# $(tp_cut_at late) s.
# Each connection below as the late capture shows it (times from its SYN;
# c: the client, s: the proxy or the server; data with its first word or
# status code, "TLS" for TLS records, and its bytes).
#
# - Plain HTTP through "a" (absolute-URI GETs). tinyproxy 1.11 forwards
#   "GET /ok HTTP/1.1" with "Connection: close" to nginx, which answers
#   and closes first (nginx's TIME_WAIT); it answers its client with
#   nginx's "HTTP/1.1 200 OK" (its Via header added, Connection dropped:
#   no "Connection: close", no Keep-Alive), one write per header line, and
#   closes right after the body: its FIN $(tp_closes "$late" "$(ports plainleak),$(ports plainclose),$(ports plainstale),$(ports plainsession),$(ports curlplain)") after the last byte.
#   tinyproxy keeps no client connection alive, whatever its Timeout:
#   a keep-alive client's pooled connection is closed when it gets it
#   back, not after 3 s idle. http.client keeps it in its pool:
#   "plainleak" never reads nor closes it (CLOSE_WAIT to the end, a
#   leak); "plainstale" sends its next GET 5 s later and is reset
#   (RemoteDisconnected); the requests Session ("plainsession") checks
#   the socket at its next GET, closes it and connects anew
#   ("plainsession2"): healthy; "plainclose" reads to EOF and closes; curl
#   closes at once. No Connection: close was sent, so none was ignored.
$(tp_ev "$late" plainleak plainstale plainsession plainclose)
# - CONNECT tunnels through "a" to nginx over TLS ("HTTP/1.0 200
#   Connection established"), one GET each, then idle. tinyproxy's relay
#   waits Timeout (3 s) for data either way, then logs "Idle Timeout
#   (after poll)", shuts down the client's side and closes both sockets:
#   a bare FIN to the client and one to nginx (no TLS alert: tinyproxy
#   relays bytes, it has no TLS of its own; nginx answers the FIN with
#   its own at once, no close_notify either). tinyproxy counts from its
#   last read or write: its FIN to nginx $(tp_closes "$late" "$(legs_of tunidle tunread tunreuse holder)" c) after the last data
#   on that leg; its FIN to the client $(tp_closes "$late" "$tunnels") after the last data
#   there (its last write to the client, nginx's session tickets, held
#   back by Nagle's algorithm until the client's delayed ACK, some 40 ms
#   later, where that write followed another unacknowledged); the
#   $(tp_tunnel_closes "$late").
#   "tunidle" never reads nor closes (CLOSE_WAIT to the end: a leak);
#   "tunread" reads the EOF and closes; "tunreuse" sends its next GET 6 s
#   after its response, 3 s after the proxy's FIN (RST: a stale reuse);
#   "tunclose" closes after 1 s (FIN, no close_notify: python's close),
#   and tinyproxy closes both legs at once: healthy; curl -k through a
#   tunnel closes at once: healthy. The proxy's closes of its idle
#   tunnels are an idle timeout on both legs (a TCP relay's inactivity
#   timeout); nginx's side is healthy. The tunnels and their legs
#   (client port, the proxy's port to 8443):
$(tr '\n' ';' <"$work/legs" | sed 's/;$//; s/;/, /g' | fold -s -w 72 | sed 's/^/#   /; s/ *$//').
$(tp_ev "$late" tunidle tunread tunreuse tunclose)
# - Sockets to "a" that never send: tinyproxy reads the request line
#   with Timeout as the socket's receive timeout (SO_RCVTIMEO), gives up
#   ("read_request_line: Client ... closed socket before read") and
#   closes: a bare FIN $(tp_closes "$late" "$(ports silent),$(ports silentread)") after the handshake, no answer. "silentread"
#   closes at once, "silent" never reads nor closes (CLOSE_WAIT to the
#   end). "half" sends a request line and one header, no blank line:
#   tinyproxy gives up on the headers after 3 s ("Could not retrieve all
#   the headers from the client"), then waits Timeout again for a request
#   body ("no entity"), and answers "HTTP/1.0 400 Bad Request" and FIN
#   6 s after the request: its timeout for a request that never came
#   whole, an idle-timeout close of the server with an error first.
$(tp_ev "$late" silentread silent half)
# - Origins that do not answer, through "a". tinyproxy's sockets to the
#   origins carry the same timeouts: the connect to 8082 (SYNs dropped)
#   gives up after 3 s or a little more ("opensock: Could not establish a
#   connection"; the SYN sent again every second, below: the socket is
#   let go with no packet, its next SYN never sent), and tinyproxy answers its client
#   "500 Unable to connect" (not 504), FIN ("droporigin", curl waiting 8
#   s: healthy, the proxy answering); 8083 refuses the SYN (RST) and the
#   client gets that 500 at once ("refusedorigin"). The origin on 8081
#   accepts and reads the request and never answers: tinyproxy's read of
#   its response headers gives up after 3 s ("process_server_headers
#   failed: Resource temporarily unavailable"), and tinyproxy closes both
#   sides with a bare FIN, no 504 ("silentorigin": curl exit 52, empty
#   reply): a server closing a request it never answered. "quitorigin"
#   gives up after 1.5 s (FIN): tinyproxy, blocked on the origin, does
#   not watch its client and holds its socket in CLOSE_WAIT until its own
#   timeout on the origin, then closes (FIN; at the mid cut ss shows it
#   in CLOSE-WAIT, the request read, the FIN not: $(tp_ss mid quitorigin)): no leak, bounded
#   by Timeout. The origin on 8081 never closes its side after the
#   proxy's FIN: CLOSE_WAIT on the server to the end, the origin's leak.
$(tp_ev "$late" silentorigin quitorigin droporigin refusedorigin)
#   The proxy's SYNs to 8082 (from the first): $(tshark -r "$late" -Y "tcp.dstport == 8082 && tcp.flags.syn == 1" -T fields -e frame.time_relative 2>/dev/null | awk 'NR == 1 { t = $1 } { printf "%s+%.3f", (NR > 1 ? ", " : ""), $1 - t }') s.
# - MaxClients 3 on "b": three idle tunnels ("holder") hold its three
#   places; 0.3 s later 5 curl (--max-time 8, "waited") and one
#   (--max-time 1.5, "gaveup") connect. tinyproxy stops accepting while
#   full (log "Maximum number of connections reached. Refusing new
#   connections."): no refusal on the wire, no RST, no error; the kernel
#   completes the handshakes into the listen queue (backlog 1024; ss
#   LISTEN Recv-Q/Send-Q: early $early_q, mid $mid_q) and acknowledges
#   the requests, unread. When Timeout closes the holders' tunnels,
#   tinyproxy accepts the queued ones and answers them: a slow answer,
#   healthy. "gaveup" gave up (FIN) while queued (at the mid cut ss shows
#   it in CLOSE-WAIT, never accepted, its request and FIN unread:
#   $(tp_ss mid gaveup)); tinyproxy accepts it
#   anyway, reads the request, asks nginx, and writes the response to a
#   closed socket: the client's kernel resets it, and tinyproxy resets
#   its connection to nginx (the response unread): no leak, no stale
#   reuse.
$(tp_ev "$late" holder | head -1; tp_ev "$late" waited | head -2; tp_ev "$late" gaveup)
# - "b" again at 6 s: three curl (--max-time 8, "hung") to the origin
#   that never answers take its three places; tinyproxy gives up on each
#   after 3 s (bare FIN to the client, curl exit 52); two more curl at 7 s
#   ("stuck") wait in the listen queue and are served when those places
#   free: healthy.
$(tp_ev "$late" hung | head -1; tp_ev "$late" stuck)
# tinyproxy's log (its messages of timeouts and limits, counted; the
# file descriptors as N):
$(echo "$logs" | fold -s -w 72 | sed 's/^/#   /; s/ *$//')
# The proxy's connections to nginx on 8080: $(tshark -r "$late" -Y "tcp.port == 8080" -T fields -e tcp.srcport -e tcp.dstport \
	-e tcp.flags.fin -e tcp.flags.reset 2>/dev/null | awk '{ c = $1 == 8080 ? $2 : $1; all[c] = 1 }
		$3 == 1 && !(c in first) { first[c] = $1 == 8080 ? "s" : "c" } $1 != 8080 && $4 == 1 { r[c] = 1 }
		END { for (k in all) { m++; if (first[k] == "s") n++; if (k in r) rr++ }
			printf "%d, nginx closing first on %d (tinyproxy asks with Connection: close), tinyproxy resetting %d", m, n, rr }').
# Findings wanted: the client host's leaks (plainleak, tunidle, silent)
# and the origin's (8081); tinyproxy's idle closes of tunnels (both legs
# at once: a relay's inactivity timeout, 3.0 s) and of sockets that never
# sent; the stale reuses; the unanswered SYNs and the refusal to 8082 and
# 8083 (the proxy's connects). No listen overflow (the queue is far from
# full: tinyproxy stops accepting, the kernel queues), no refusal at the
# accept, no storm, no Connection: close ignored.
# Every selector names its port: the proxy's ports to the origins come
# from the same ephemeral range as the client's.
healthy sport=8888 cport=$(ports curlplain),$(ports curltls),$(ports plainclose),$(ports plainsession2),$(ports tunread),$(ports tunclose),$(ports silentread),$(ports droporigin),$(ports refusedorigin)
healthy sport=8889 cport=$(ports holder),$(ports waited)
@late healthy sport=8888 cport=$(ports plainsession)
@late healthy sport=8889 cport=$(ports stuck)
healthy sport=8443
healthy sport=8080
nofinding listen_overflow
nofinding accept_then_close
nofinding reconnect_storm
nofinding handshake_incomplete
nofinding peer_unreachable
nofinding connection_close_ignored
# Plain HTTP: closed by the proxy right after each response, not idle.
expect sport=8888 cport=$(ports plainleak),$(ports plainclose),$(ports plainstale),$(ports plainsession),$(ports curlplain) n>=5 : !idle_timeout_close(server)
@early,mid,timeout expect sport=8888 cport=$(ports plainleak),$(ports plainstale),$(ports plainsession) client.ss=CLOSE-WAIT n>=3 : close_wait_leak(client)|open(client)
@late expect sport=8888 cport=$(ports plainleak) client.ss=CLOSE-WAIT : close_wait_leak(client)
@late expect sport=8888 cport=$(ports plainstale) : stale_reuse_reset(client) !close_wait_leak(client)
@late expect sport=8888 cport=$(ports plainsession) : !close_wait_leak(client) !stale_reuse_reset(client)
# Tunnels: idle until tinyproxy's Timeout, then both legs closed at once.
@early,mid expect sport=8888 cport=$(ports tunidle),$(ports tunread),$(ports tunreuse) client.ss=ESTAB n>=3 : open(client) !idle_timeout_close(server)
@early,mid expect sport=8889 cport=$(ports holder) client.ss=ESTAB n>=3 : open(client) !idle_timeout_close(server)
@timeout,late expect sport=8888 cport=$(ports tunidle),$(ports tunread),$(ports tunreuse) n>=3 : idle_timeout_close(server)
@timeout,late expect sport=8889 cport=$(ports holder) n>=3 : idle_timeout_close(server)
@timeout,late expect sport=8443 cport=$(legs_of tunidle tunread tunreuse holder) n>=6 : idle_timeout_close(client) !close_wait_leak(server) !reset(server)
@timeout expect sport=8888 cport=$(ports tunidle),$(ports tunreuse) client.ss=CLOSE-WAIT n>=2 : close_wait_leak(client)|open(client)
@late expect sport=8888 cport=$(ports tunidle) client.ss=CLOSE-WAIT : close_wait_leak(client)
@late expect sport=8888 cport=$(ports tunreuse) : stale_reuse_reset(client) !close_wait_leak(client)
@late infinding sport=8888 cport=$(ports plainstale),$(ports tunreuse) : stale_reuse_reset
@late finding stale_reuse_reset
@late says stale_reuse_reset : on 2 connections
@late says stale_reuse_reset : on 1 connection that $front:8888 had already closed
@timeout,late finding idle_timeout_close
@timeout,late says idle_timeout_close : after 3.0 s without traffic
@timeout,late says idle_timeout_close : it is a TCP proxy relaying them
@timeout,late says idle_timeout_close : (client) closed 6 idle connections to $server_ip:8443 after 3.0 s without traffic
# Sockets that never send, and half a request.
@early,mid expect sport=8888 cport=$(ports silent),$(ports silentread),$(ports half) n>=3 : open(client) !idle_timeout_close(server)
@timeout,late expect sport=8888 cport=$(ports silent),$(ports silentread) n>=2 : idle_timeout_close(server) !accept_then_close(server)
@timeout expect sport=8888 cport=$(ports silent) client.ss=CLOSE-WAIT : close_wait_leak(client)|open(client)
@late expect sport=8888 cport=$(ports silent) client.ss=CLOSE-WAIT : close_wait_leak(client)
@late infinding sport=8888 cport=$(ports plainleak),$(ports tunidle),$(ports silent) : close_wait_leak
@late says close_wait_leak : holds 3 connections to $front:8888
@timeout expect sport=8888 cport=$(ports half) client.ss=ESTAB : open(client)
@late expect sport=8888 cport=$(ports half) : idle_timeout_close(server) !close_wait_leak(client)
@late says idle_timeout_close : the request's headers never ended
# Origins that do not answer.
expect sport=8082 : unanswered_syn(server)
finding unanswered_syn
expect sport=8083 : refused(server)
finding refused
@early,mid expect sport=8888 cport=$(ports silentorigin),$(ports droporigin) client.ss=ESTAB n>=2 : open(client)
@timeout,late expect sport=8888 cport=$(ports silentorigin) : idle_timeout_close(server) !close_wait_leak(client)
@timeout,late says idle_timeout_close : without answering it
@early expect sport=8888 cport=$(ports quitorigin) client.ss=ESTAB : open(client)
@mid expect sport=8888 cport=$(ports quitorigin) server.ss=CLOSE-WAIT : idle_timeout_close(client) close_wait_leak(server)|open(server)
@timeout,late expect sport=8888 cport=$(ports quitorigin) : idle_timeout_close(client) !close_wait_leak(server)
@early,mid expect sport=8081 n>=2 : open(client) !idle_timeout_close(client)
@timeout expect sport=8081 server.ss=CLOSE-WAIT n>=2 : idle_timeout_close(client) close_wait_leak(server)|open(server)
@late expect sport=8081 server.ss=CLOSE-WAIT n>=5 : idle_timeout_close(client) close_wait_leak(server)
@late infinding sport=8081 : close_wait_leak
@late says close_wait_leak : $server_ip holds 5 connections
# MaxClients: the queue waits, no refusal.
@early,mid expect sport=8889 cport=$(ports waited) client.ss=ESTAB n>=5 : open(client) !listen_overflow(server)
@early expect sport=8889 cport=$(ports gaveup) client.ss=ESTAB : open(client)
@mid expect sport=8889 cport=$(ports gaveup) server.ss=CLOSE-WAIT : idle_timeout_close(client) !close_wait_leak(server)
@timeout,late expect sport=8889 cport=$(ports gaveup) : idle_timeout_close(client) !close_wait_leak(server) !stale_reuse_reset(server)
@late expect sport=8889 cport=$(ports hung) n>=3 : idle_timeout_close(server) !close_wait_leak(client) !accept_then_close(server)
EXP
}

# exim_conf DIR: an Exim of its own in DIR/exim.conf, one file for every
# instance, each chosen by macros on exim's command line (-D): NAME (its
# spool DIR/spool-NAME and log DIR/log-NAME/mainlog, rejectlog,
# paniclog), MAX (smtp_accept_max), PERHOST (smtp_accept_max_per_host),
# BACKLOG (smtp_connect_backlog), GREETPAUSE (a connect ACL that
# delays the greeting that long: "accept delay = GREETPAUSE", the
# early-talker check done after it), NOPIPECONNECT (PIPECONNECT advertised
# to no host: early input before the greeting a synchronization error)
# and SLOW (s: smtp_accept_max_per_host
# expanded with ${run{/bin/sleep SLOW}}, as a slow lookup there would be:
# the daemon mainline blocked that long at each accept). Every instance:
# smtp_receive_timeout 3s, IPv4 only, no DNS, ident nor TLS; every
# recipient accepted, every mail discarded (a :blackhole: redirect).
exim_conf() {
	local d=$1
	cat >"$d/exim.conf" <<CONF
.ifndef NAME
NAME = a
.endif
primary_hostname = mx.lab.example
qualify_domain = lab.example
exim_user = Debian-exim
exim_group = Debian-exim
never_users = root
spool_directory = $d/spool-NAME
log_file_path = $d/log-NAME/%slog
pid_file_path = $d/exim-NAME.pid
notifier_socket =
keep_environment =
deliver_drop_privilege = true
disable_ipv6 = true
local_interfaces = 0.0.0.0
host_lookup =
rfc1413_hosts =
tls_advertise_hosts =
log_selector = +smtp_connection +incoming_port +smtp_no_mail +smtp_protocol_error +smtp_syntax_error +pipelining +smtp_incomplete_transaction
smtp_receive_timeout = 3s
.ifdef MAX
smtp_accept_max = MAX
.endif
.ifdef PERHOST
smtp_accept_max_per_host = PERHOST
.endif
.ifdef SLOW
smtp_accept_max_per_host = \${run{/bin/sleep SLOW}{20}{20}}
.endif
.ifdef BACKLOG
smtp_connect_backlog = BACKLOG
.endif
.ifdef NOPIPECONNECT
pipelining_connect_advertise_hosts = :
.endif
.ifdef GREETPAUSE
acl_smtp_connect = acl_connect
.endif
acl_smtp_rcpt = acl_rcpt
begin acl
.ifdef GREETPAUSE
acl_connect:
  accept delay = GREETPAUSE
.endif
acl_rcpt:
  accept
begin routers
discard:
  driver = redirect
  data = :blackhole:
begin transports
CONF
	local n
	for n in a b c; do
		mkdir -p "$d/spool-$n" "$d/log-$n"
		chown Debian-exim:Debian-exim "$d/spool-$n" "$d/log-$n"
	done
}

# run_exim NAME PORT MACRO...: the Exim of $work/exim as the instance NAME,
# a daemon in the foreground (-bdf) in the server's namespace listening on
# PORT, no queue runner.
run_exim() {
	local n=$1 p=$2
	shift 2
	on server exim -C "$work/exim/exim.conf" -DNAME="$n" "$@" -bdf -oX "$p"
}

# exim_wire FILE CPORT: one connection of FILE, by its client port, in a
# line: each SYN, SYN-ACK, segment of data (the first word of each of its
# lines, its length), FIN and RST, "c" the client's, "s" the server's, in
# s after the client's first SYN ("again": a retransmission).
exim_wire() {
	tshark -r "$1" -Y "tcp.port == $2" -T fields -e frame.time_relative -e tcp.srcport -e tcp.flags.syn -e tcp.flags.ack \
		-e tcp.flags.fin -e tcp.flags.reset -e tcp.len -e tcp.analysis.retransmission -e tcp.payload 2>/dev/null |
		awk -F '\t' -v p="$2" '
			function text(h, i, c, s, line, w, out) {
				s = ""
				for (i = 1; i < length(h); i += 2) {
					c = (index(hex, substr(h, i, 1)) - 1) * 16 + index(hex, substr(h, i + 1, 1)) - 1
					s = s sprintf("%c", c)
				}
				out = ""
				while ((i = index(s, "\r\n")) > 0) {
					line = substr(s, 1, i - 1)
					s = substr(s, i + 2)
					w = toupper(substr(line, 1, 4))
					sub(/[ -]$/, "", w)
					if (w != last) out = out (out == "" ? "" : "+") w
					last = w
				}
				if (s != "") out = out (out == "" ? "" : "+") "(text)"
				return out
			}
			BEGIN { hex = "0123456789abcdef" }
			{ who = $2 == p ? "c" : "s"; e = "" }
			$3 == 1 && $4 == 0 { if (syn == "") syn = $1; else e = "SYN again" }
			$3 == 1 && $4 == 1 { e = "SYN-ACK" (sa++ ? " again" : "") }
			$7 > 0 { last = ""; e = text($9) " (" $7 ")"; if ($8 != "") e = e " again" }
			$5 == 1 { e = e (e == "" ? "" : ", ") "FIN"; if ($7 == 0 && $8 != "") e = e " again" }
			$6 == 1 { e = e (e == "" ? "" : ", ") "RST" }
			e != "" { printf "%s%s +%.3f %s", n++ ? "; " : "", who, $1 - syn, e }
			END { printf "\n" }'
}

# exim_burst FILE PORTS: for each client port of PORTS (comma separated),
# a line "PORT SYNS ACKDROPS GREETING CFIN RST": the SYNs it sent, the
# server's SYN-ACKs sent again after the client's ACK of one (its ACK
# dropped), the moment of the server's first data (its greeting), of the
# client's FIN and of the client's RST, in s after its first SYN ("-":
# none).
exim_burst() {
	tshark -r "$1" -Y "tcp.port == 2526" -T fields -e frame.time_relative -e tcp.srcport -e tcp.dstport -e tcp.flags.syn \
		-e tcp.flags.ack -e tcp.flags.fin -e tcp.flags.reset -e tcp.len 2>/dev/null |
		awk -v want="$2" '
			BEGIN { n = split(want, w, ","); for (i = 1; i <= n; i++) keep[w[i]] = 1 }
			{ s = $2 == 2526; c = s ? $3 : $2 }
			!(c in keep) { next }
			!s && $4 == 1 { if (!(c in t0)) t0[c] = $1; syns[c]++ }
			!s && $4 == 0 && $5 == 1 && (c in sa) { acked[c] = 1 }
			s && $4 == 1 { if (acked[c]) drops[c]++; sa[c] = 1 }
			s && $8 > 0 && !(c in g) { g[c] = $1 }
			!s && $6 == 1 && !(c in f) { f[c] = $1 }
			!s && $7 == 1 && !(c in r) { r[c] = $1 }
			function at(x, c) { return (c in x) ? sprintf("%.3f", x[c] - t0[c]) : "-" }
			END { for (i = 1; i <= n; i++) { c = w[i]; printf "%s %d %d %s %s %s\n", c, syns[c], drops[c], at(g, c), at(f, c), at(r, c) } }'
}

# exim_quits FILE PORTS SPORT: how long Exim took to answer the QUITs of
# the client ports PORTS (comma separated) to SPORT with its 221 and FIN,
# and the client's FIN after them: "A-B ms; the client's FIN C-D µs later".
exim_quits() {
	tshark -r "$1" -Y "tcp.port == $3" -T fields -e frame.time_epoch -e tcp.srcport -e tcp.dstport -e tcp.flags.fin \
		-e tcp.len -e tcp.payload 2>/dev/null |
		awk -v want="$2" -v sp="$3" '
			BEGIN { n = split(want, w, ","); for (i = 1; i <= n; i++) keep[w[i]] = 1 }
			{ s = $2 == sp; c = s ? $3 : $2 }
			!(c in keep) { next }
			!s && $5 == 6 && tolower($6) == "717569740d0a" { q[c] = $1 }
			s && $4 == 1 && (c in q) && !(c in b) { b[c] = $1; d = 1000 * ($1 - q[c]); if (lo == "" || d < lo) lo = d; if (d > hi) hi = d }
			!s && $4 == 1 && (c in b) && !(c in cf) { cf[c] = 1; e = 1e6 * ($1 - b[c]); if (elo == "" || e < elo) elo = e; if (e > ehi) ehi = e }
			END { printf "%.1f-%.1f ms after the QUIT; the client\047s FIN %.0f-%.0f µs after them", lo, hi, elo, ehi }'
}

# exim_timeouts FILE SPORT PORTS: for the client ports PORTS of SPORT, one
# a line, Exim's 421 on smtp_receive_timeout after the quiet before it
# (from the last data either way), its length, Exim's FIN and the
# client's (before Exim's when the client closed on reading the 421).
exim_timeouts() {
	tshark -r "$1" -Y "tcp.port == $2" -T fields -e frame.time_epoch -e tcp.srcport -e tcp.dstport -e tcp.flags.fin \
		-e tcp.len -e tcp.analysis.retransmission 2>/dev/null |
		awk -v sp="$2" -v want="$3" '
			BEGIN { n = split(want, w, ","); for (i = 1; i <= n; i++) keep[w[i]] = i }
			{ s = $2 == sp; c = s ? $3 : $2 }
			!(c in keep) || $6 != "" { next }
			$5 > 0 && !(c in sfin) { if (s) { quiet[c] = $1 - last[c]; msg[c] = $1; len[c] = $5; who[c] = lw[c] } last[c] = $1; lw[c] = s ? "its greeting" : "the client\047s last data" }
			s && $4 == 1 && !(c in sfin) { sfin[c] = $1 }
			!s && $4 == 1 && !(c in cfin) { cfin[c] = $1 }
			END {
				for (i = 1; i <= n; i++) { c = w[i]
					printf "%s: its 421 (%d bytes) %.3f s after %s; its FIN +%.0f µs, ", c, len[c], quiet[c], who[c], 1e6 * (sfin[c] - msg[c])
					if (!(c in cfin)) printf "none from the client\n"
					else if (cfin[c] < sfin[c]) printf "the client\047s %.0f µs before it\n", 1e6 * (sfin[c] - cfin[c])
					else printf "the client\047s +%.0f µs\n", 1e6 * (cfin[c] - sfin[c])
				}
			}'
}

# exim_ends FILE SPORT PORTS: how the connections to SPORT of the client
# ports PORTS (comma separated) that Exim refused ended in FILE, one a
# line: its reply after the accept (the handshake's last ACK), then the
# FINs, the client's data and RST after it (in µs after the packet
# before).
exim_ends() {
	tshark -r "$1" -Y "tcp.port == $2" -T fields -e frame.time_epoch -e tcp.srcport -e tcp.dstport -e tcp.flags.syn \
		-e tcp.flags.ack -e tcp.flags.fin -e tcp.flags.reset -e tcp.len 2>/dev/null |
		awk -v sp="$2" -v want="$3" '
			BEGIN { n = split(want, w, ","); for (i = 1; i <= n; i++) keep[w[i]] = i }
			{ s = $2 == sp; c = s ? $3 : $2 }
			!(c in keep) { next }
			!s && $4 == 0 && $5 == 1 && !(c in acc) { acc[c] = $1 }
			s && $8 > 0 && !(c in sdata) { sdata[c] = $1; slen[c] = $8 }
			s && $6 == 1 && !(c in sfin) { sfin[c] = $1 }
			s && $7 == 1 && !(c in srst) { srst[c] = $1 }
			!s && $6 == 1 && !(c in cfin) { cfin[c] = $1 }
			!s && $8 > 0 && (c in sfin) && !(c in cafter) { cafter[c] = $1; clen[c] = $8 }
			END {
				for (i = 1; i <= n; i++) { c = w[i]; if (!(c in acc)) continue
					printf "%s: its %d bytes %.0f µs after the accept; ", c, slen[c], 1e6 * (sdata[c] - acc[c])
					if ((c in cfin) && (!(c in sfin) || cfin[c] < sfin[c]))
						printf "the client\047s FIN +%.0f µs, Exim\047s %s +%.0f µs\n", 1e6 * (cfin[c] - sdata[c]),
							(c in sfin ? "FIN" : "RST"), 1e6 * ((c in sfin ? sfin[c] : srst[c]) - cfin[c])
					else if (!(c in sfin)) printf "no FIN from Exim\n"
					else if (c in cafter) printf "its FIN +%.0f µs, %d bytes +%.0f µs, RST +%.0f µs\n", 1e6 * (sfin[c] - sdata[c]),
						clen[c], 1e6 * (cafter[c] - sfin[c]), 1e6 * (srst[c] - cafter[c])
					else if (c in cfin) printf "its FIN +%.0f µs, the client\047s +%.0f µs\n", 1e6 * (sfin[c] - sdata[c]),
						1e6 * (cfin[c] - sfin[c])
					else printf "its FIN +%.0f µs, none from the client\n", 1e6 * (sfin[c] - sdata[c])
				}
			}'
}

# Exim's daemon: smtp_accept_max and smtp_accept_max_per_host (its 421
# at the accept), smtp_receive_timeout (command and data), a slow daemon
# mainline behind a small smtp_connect_backlog, QUIT, early talkers and
# PIPELINING.
sc_exim_smtp() {
	host client; host server; wire client server
	local d=$work/exim
	mkdir -p "$d"
	exim_conf "$d"
	# "a": smtp_accept_max 2; "b": smtp_accept_max_per_host 2 and PIPECONNECT
	# advertised to no host; both with a greet pause of 1 s. "c":
	# smtp_connect_backlog 2, its daemon mainline blocked 1.2 s at each
	# accept.
	run_exim a 25 -DMAX=2 -DGREETPAUSE=1s
	run_exim b 2525 -DMAX=20 -DPERHOST=2 -DGREETPAUSE=1s -DNOPIPECONNECT
	run_exim c 2526 -DSLOW=1.2 -DBACKLOG=2
	listening server 25
	listening server 2525
	listening server 2526
	capture client "$client_if" "$work/cap.pcap"
	begin exim-smtp
	# The holders: two smtplib sessions on "a" (its smtp_accept_max) and
	# two on "b" (smtp_accept_max_per_host), NOOP every second, QUIT 3.4 s
	# after the second connected.
	client client $pylab eximhold "$server_ip" 25 holda 2 1 3.4
	client client $pylab eximhold "$server_ip" 2525 holdb 2 1 3.4
	for _ in $(seq 100); do
		[ "$(wc -l <"$work/ports")" -ge 4 ] && break
		sleep 0.05
	done
	[ "$(wc -l <"$work/ports")" -ge 4 ] || die "the holders did not connect: $(tail -5 "$work/log")"
	t0=$(date +%s.%N) # the clock starts with the four held
	until_t 0.3
	# smtplib reconnecting to "a": 6 attempts, 200 ms apart; swaks to "b",
	# 6 runs 200 ms apart (each from a port of its own, above the
	# ephemeral range).
	client client $pylab smtprefused "$server_ip" 25 6 0.2
	(
		for i in 1 2 3 4 5 6; do
			echo "swaksrefused 6200$i" >>"$work/ports"
			ip netns exec "$tag-client" timeout 5 swaks --server "$server_ip" --port 2525 --local-port "6200$i" \
				--helo client.lab.example --from app@client.lab.example --to root@lab.example --timeout 5 \
				>"$work/swaks$i.out" 2>&1 || echo "swaks $i: exit $?" >>"$work/log"
			[ $i = 6 ] || sleep 0.2
		done
	) &
	pids+=($!)
	until_t 0.5
	# A burst of 8 smtplib sessions to "c" (timeout 4 s: connect, then the
	# greeting): its queue holds 3, the daemon takes one each 1.2 s.
	client client $pylab eximburst "$server_ip" 2526 8 4
	for _ in $(seq 100); do
		[ "$(grep -c '^eximburst' "$work/ports")" -ge 8 ] && break
		sleep 0.02
	done
	local burst_at
	burst_at=$(since_t0)
	# Early: right after the burst's dropped SYNs went out again (1 s after
	# the first), before its first greeting (1.2 s), the refusals going on.
	sleep 1.1
	cut early client server
	# After the holders' QUIT: sockets that never send to "a" (the command
	# timeout), mails stalled in DATA to "b" (the data timeout).
	until_t 4.3
	client client $pylab eximsilent "$server_ip" 25 silentread read 20
	client client $pylab eximsilent "$server_ip" 25 silentleak silent 20
	client client $pylab eximdata "$server_ip" 2525 dataread read 20
	client client $pylab eximdata "$server_ip" 2525 dataleak silent 20
	# Mid: right after the four timeouts (3 s after their greetings).
	for _ in $(seq 400); do
		[ "$(cat "$d"/log-[ab]/mainlog | grep -c 'timeout')" -ge 4 ] && break
		sleep 0.02
	done
	sleep 0.05
	cut mid client server
	until_t 9.5
	# Early talkers: to "a" (PIPECONNECT advertised, Exim's default) and
	# to "b" (advertised to no host); swaks --pipeline to "a", a mail;
	# swaks to "b", a mail.
	client client $pylab eximearly "$server_ip" 25 earlya
	client client $pylab eximearly "$server_ip" 2525 earlyb
	until_t 10
	echo "swakspipe 62010" >>"$work/ports"
	ip netns exec "$tag-client" timeout 5 swaks --pipeline --server "$server_ip" --port 25 --local-port 62010 \
		--helo client.lab.example --from app@client.lab.example --to root@lab.example --timeout 5 \
		>"$work/swakspipe.out" 2>&1 || echo "swaks pipeline: exit $?" >>"$work/log"
	echo "swaksok 62011" >>"$work/ports"
	ip netns exec "$tag-client" timeout 5 swaks --server "$server_ip" --port 2525 --local-port 62011 \
		--helo client.lab.example --from app@client.lab.example --to root@lab.example --timeout 5 \
		>"$work/swaksok.out" 2>&1 || echo "swaks ok: exit $?" >>"$work/log"
	until_t 15
	cut late client server
	finish "$work/cap.pcap"
	local n
	for n in a b c; do
		grep -hE 'refused|timeout|synchronization|closed by QUIT|lost|<=|Completed' "$d/log-$n/mainlog" |
			sed "s/^[0-9-]* [0-9:]* /  exim $n: /"
	done
	for n in a b c; do
		[ -s "$d/log-$n/rejectlog" ] && sed "s/^[0-9-]* [0-9:]* /  exim $n rejectlog: /" "$d/log-$n/rejectlog"
		[ -s "$d/log-$n/paniclog" ] && sed "s/^/  exim $n paniclog: /" "$d/log-$n/paniclog"
	done
	grep -E '^ *(<-|->) *(MAIL|RCPT|DATA|250 |354|221|QUIT)' "$work/swakspipe.out" | sed 's/^/  swaks --pipeline: /' || true
	local late=$out/$name@late.pcap holda holdb holders refused swref burst
	holda=$(ports holda) holdb=$(ports holdb) holders=$(ports holda),$(ports holdb)
	refused=$(ports smtprefused) swref=$(ports swaksrefused) burst=$(ports eximburst)
	local sread sleak dread dleak earlya earlyb pipe ok
	sread=$(ports silentread) sleak=$(ports silentleak) dread=$(ports dataread) dleak=$(ports dataleak)
	earlya=$(ports earlya) earlyb=$(ports earlyb) pipe=$(ports swakspipe) ok=$(ports swaksok)
	# The burst, each connection: its SYNs, its handshake's ACKs dropped,
	# its greeting, the client's FIN (it gave up) and RST, in s after its
	# first SYN.
	local bstats bserved bgaveup bsyn backdrop
	bstats=$(exim_burst "$late" "$burst")
	bserved=$(echo "$bstats" | awk '$4 != "-" && ($5 == "-" || $4 < $5) { printf "%s%s", s, $1; s = "," }')
	bgaveup=$(echo "$bstats" | awk '$5 != "-" && ($4 == "-" || $5 < $4) { printf "%s%s", s, $1; s = "," }')
	bsyn=$(echo "$bstats" | awk '$2 > 1 { printf "%s%s", s, $1; s = "," }')
	backdrop=$(echo "$bstats" | awk '$3 > 0 { printf "%s%s", s, $1; s = "," }')
	local bdropped
	bdropped=$(echo "$bstats" | awk '$2 > 1 || $3 > 0 { printf "%s%s", s, $1; s = "," }')
	[ -n "$bserved" ] && [ -n "$bgaveup" ] && [ -n "$bsyn" ] || echo "lab: $name: the burst was not served, given up and dropped at once ($bstats): record it again" >&2
	local role p wire=
	for role in holda holdb earlya earlyb swakspipe swaksok silentread silentleak dataread dataleak eximburst; do
		for p in $(ports $role | tr , ' '); do
			wire+="#   $role $p: $(exim_wire "$late" "$p")"$'\n'
		done
	done
	local ends swends quits timeouts dtimeouts
	ends=$(exim_ends "$late" 25 "$refused" | sed '2,$s/^/#   /')
	swends=$(exim_ends "$late" 2525 "$swref" | sed '2,$s/^/#   /')
	quits="$(exim_quits "$late" "$holda,$earlya,$pipe" 25) (\"a\"), $(exim_quits "$late" "$holdb,$ok" 2525) (\"b\")"
	timeouts=$(exim_timeouts "$late" 25 "$sread,$sleak" | sed '2,$s/^/#   /')
	dtimeouts=$(exim_timeouts "$late" 2525 "$dread,$dleak" | sed '2,$s/^/#   /')
	local sleakq dleakq lq
	sleakq=$(awk -v p="$client_ip:$sleak" '$4 == p { print $1 " Recv-Q " $2 }' "$out/$name@late.truth")
	dleakq=$(awk -v p="$client_ip:$dleak" '$4 == p { print $1 " Recv-Q " $2 }' "$out/$name@late.truth")
	# At the mid cut: the listener's queue and the burst's sockets on the
	# server.
	lq=$(awk '$1 == "LISTEN" && $4 ~ /:2526$/ { printf "LISTEN Recv-Q %s of %s", $2, $3 }' "$out/$name@mid.truth")
	local lqe
	lqe=$(awk '$1 == "LISTEN" && $4 ~ /:2526$/ { printf "LISTEN Recv-Q %s of %s", $2, $3 }' "$out/$name@early.truth")
	local midcw
	midcw=$(awk -v want="$bgaveup" 'BEGIN { n = split(want, w, ","); for (i = 1; i <= n; i++) k["10.99.1.1:" w[i]] = 1 }
		$1 == "CLOSE-WAIT" && ($5 in k) { sub(/.*:/, "", $5); printf "%s%s", s, $5; s = "," }' "$out/$name@mid.truth")
	expect <<EXP
# Exim $(exim -bV 2>&1 | sed -n 's/^Exim version \([^ ]*\).*/\1/p') (Debian's exim4-daemon-light $(dpkg-query -W -f '${Version}' exim4-daemon-light)), three daemons of its own
# in the server host, one configuration file with macros (exim -C FILE
# -DNAME=... -bdf -oX PORT: in the foreground, no queue runner; its own
# spool directory and mainlog, rejectlog and paniclog in the work
# directory), smtp_receive_timeout 3s, no DNS, ident nor TLS, every
# recipient accepted and every mail discarded (:blackhole:):
#   "a" on 25: smtp_accept_max 2, a connect ACL "accept delay = 1s" (a
#     greet pause: the greeting 1 s after the accept);
#   "b" on 2525: smtp_accept_max_per_host 2 (smtp_accept_max 20), the
#     same greet pause, pipelining_connect_advertise_hosts empty;
#   "c" on 2526: smtp_connect_backlog 2 (the kernel's accept queue holds
#     3) and smtp_accept_max_per_host expanded with \${run{/bin/sleep 1.2}},
#     as a slow lookup there would be: Exim's daemon expands it in its
#     main loop before it forks (the spec warns of it), so it accepts
#     one connection each 1.2 s and greets it then.
# Exim refuses a connection over smtp_accept_max or
# smtp_accept_max_per_host in the daemon itself, before any fork and with
# no greeting: it writes "421 Too many concurrent SMTP connections;
# please try again later." (67 bytes; mainlog "Connection from
# [10.99.1.1]:PORT refused: too many connections") or "421 Too many
# concurrent SMTP connections from this IP address; please try again
# later." (88 bytes; "... refused: too many connections from that IP
# address"), no hostname, no enhanced status code, and closes, never
# reading; nothing in rejectlog. (Postfix greets the refused with "421
# 4.7.0 HOST Error: too many connections from IP" from its smtpd, after
# asking anvil.) The holders: two python3 smtplib sessions on "a"
# ($holda) and two on "b" ($holdb), EHLO, NOOP every second (none
# of them quiet for 3 s), QUIT 3.4 s after the second connected.
# With them held, an smtplib reconnect loop to "a" ($refused: 6
# attempts 200 ms apart, each as smtplib.SMTP(host) does: the greeting
# read, close, SMTPConnectError 421) and a swaks one to "b" ($swref: 6
# runs 200 ms apart, swaks answering the 421 with QUIT, exit 21: Exim's
# kernel resets it, the socket closed). Each, from the accept:
#   $ends
#   $swends
# Refusals at the accept by a connection cap: accepted, then closed at
# once (both FINs within a fraction of a millisecond of the 421,
# smtplib's at times first); 5 or 6 a second from one host to each
# port: reconnect storms. swaks' QUIT after the FIN is its goodbye
# to the 421, no request on a connection closed idle: nothing lost, the
# RST only answers it.
# QUIT: on QUIT Exim corks its socket (TCP_CORK), waits up to 200 ms for
# the client to close first (poll; strace shows it), then writes its 221
# and exits: the 221 and its FIN come in one segment $quits. The client, waiting for the
# 221 before it closes, never closes first: Exim always does, and holds
# the TIME-WAIT (Postfix: either side, within a millisecond of the 221).
# Healthy, both FINs.
# smtp_receive_timeout 3s, per read: "silentread" ($sread) and
# "silentleak" ($sleak) connect to "a" and never send: 3 s after the
# greeting Exim writes "421 mx.lab.example: SMTP command timeout -
# closing connection" and closes (mainlog "SMTP command timeout on
# connection from [10.99.1.1]:PORT"):
#   $timeouts
# "dataread" ($dread) and "dataleak" ($dleak), smtplib to "b": EHLO,
# MAIL, RCPT, DATA, 354, then the headers and half a body line, and
# nothing more: 3 s after that data Exim writes "421 mx.lab.example SMTP
# incoming data timeout - closing connection." and closes (mainlog "...
# SMTP data timeout (message abandoned) on connection from
# (client.lab.example) [10.99.1.1]:PORT F=<app@client.lab.example>"; the
# spool files removed):
#   $dtimeouts
# Both are the server's timeout closing with a goodbye and a FIN, no RST:
# an idle-timeout close of the server's (the command timeout after its
# own greeting, the data timeout after the client's last data: a request
# it never finished reading); "silentread" and "dataread" read the 421
# and close (either FIN first), "silentleak" and "dataleak" never read
# nor close: CLOSE_WAIT to the end (ss at the late cut: $sleakq, $dleakq),
# leaks.
# Early talkers: a socket that sends "EHLO client.lab.example" as soon as
# it is connected, inside the greet pause. "a" ($earlya) advertises
# PIPECONNECT (Exim's default, pipelining_connect_advertise_hosts *): it
# takes the early EHLO as pipelined, and after the pause writes its
# greeting and the EHLO's answer in one segment (229 bytes); the client
# QUITs: healthy. "b" ($earlyb), PIPECONNECT advertised to no host: at
# the end of the pause Exim finds input waiting, writes "554 SMTP
# synchronization error" (32 bytes) in place of its greeting and closes
# (mainlog and rejectlog: "SMTP protocol synchronization error (input
# sent without waiting for greeting): rejected connection from
# H=[10.99.1.1]:PORT input="EHLO client.lab.example\r\n""); it read
# the EHLO first, so its close is a FIN, not an RST. A refusal of the
# client at its greeting, 1 s after the accept: no idle timeout.
# "swakspipe" ($pipe): swaks --pipeline to "a": MAIL, RCPT and DATA in
# one segment (70 bytes), Exim's 250, 250 and 354 in one (78 bytes), the
# mail, "250 OK id=...", QUIT, 221: healthy. "swaksok" ($ok): swaks to
# "b", one command a segment: healthy.
# The burst to "c" ($burst): 8 smtplib sessions at once (timeout 4 s,
# for the connect and for the greeting). With the queue of 3 full and
# the daemon blocked 1.2 s at each accept, the kernel drops the SYNs of
# the others (ss at the early cut: $lqe; the SYNs sent again at 1, 2 s
# and on) and, its queue full again, the
# handshake's ACK of some (the SYN-ACK sent again: $backdrop); a
# connection waits in the queue until the daemon takes it, smtplib until
# its timeout: the greeting comes too late to some, who had closed (the
# client's FIN, acknowledged by the kernel of a socket no process had
# accepted), and their late greeting is reset. Per connection ("PORT
# SYNs ACK-drops greeting client-FIN RST", s after its first SYN):
$(echo "$bstats" | sed 's/^/#   /')
# served: $bserved; gave up waiting for the greeting: $bgaveup. A listen
# queue overflow: the daemon does not accept as fast as connections
# come (its main loop blocked), the backlog too small for the burst.
# At the mid cut the given-up sockets not yet taken wait in CLOSE-WAIT on
# the server ($midcw; $lq): in the accept queue or in the daemon's
# hands before its fork, no application's leak; and the client's close
# of a connection whose server never greeted it is its greeting timeout,
# no idle close.
# Measured in the late capture (s after the client's first SYN; "s" the
# server, "c" the client; a data segment by the first word of its lines
# and its length):
$wire# The cuts: early 1.1 s after the burst began ($burst_at s), after its dropped SYNs went
# out again and before its first greeting, the refusals going on (5 or 6
# each);
# mid 0.05 s after the four timeouts (the CLOSE-WAITs of "silentleak"
# and "dataleak" young); late (15 s) after the early talkers, the mails
# and the burst.
@early expect cport=$holders n>=4 : open(client) !close_wait_leak(client)
@early healthy cport=$holders
@mid,late expect cport=$holders server.ss=TIME-WAIT n>=4 : time_wait(server) !reset(client) !reset(server) !idle_timeout_close(server)
@mid,late healthy cport=$holders
@early expect cport=$refused,$swref n>=9 : accept_then_close(server) !stale_reuse_reset(client) !close_wait_leak(client) !idle_timeout_close(server)
@mid,late expect cport=$refused,$swref n>=12 : accept_then_close(server) !stale_reuse_reset(client) !close_wait_leak(client) !idle_timeout_close(server)
infinding cport=$refused : reconnect_storm
@mid,late infinding cport=$swref : reconnect_storm
finding reconnect_storm
says reconnect_storm : to $server_ip:25 in
says reconnect_storm : opened 6 connections
@mid,late says reconnect_storm : to $server_ip:2525 in
nofinding stale_reuse_reset
@early expect cport=$bsyn n>=2 : listen_overflow(server)
@early expect cport=$burst : !close_wait_leak(server) !reset(client)
@mid,late expect cport=$bdropped : listen_overflow(server)
@mid,late expect cport=$bgaveup : listen_overflow(server) !close_wait_leak(server)
@mid says idle_timeout_close : waiting for a greeting the server never sent in time
@mid,late infinding cport=$bgaveup : listen_overflow
@mid,late expect cport=$bserved : !close_wait_leak(server) !reset(client) !reset(server)
finding listen_overflow
says listen_overflow : $server_ip:2526
@mid noproblem close_wait_leak
@mid expect cport=$sread,$sleak,$dread,$dleak n>=4 : idle_timeout_close(server) !accept_then_close(server) !stale_reuse_reset(client)
@mid expect cport=$sleak,$dleak client.ss=CLOSE-WAIT n>=2 : close_wait_leak(client)|open(client)
@late expect cport=$sread,$sleak,$dread,$dleak n>=4 : idle_timeout_close(server) !accept_then_close(server) !stale_reuse_reset(client)
@mid,late expect cport=$sread,$dread : !close_wait_leak(client) !reset(client) !reset(server)
@late expect cport=$sleak,$dleak client.ss=CLOSE-WAIT n>=2 : close_wait_leak(client)
@late infinding cport=$sleak,$dleak : close_wait_leak
@late finding close_wait_leak
@late says close_wait_leak : holds 2 connections
@mid,late infinding cport=$sread,$sleak : idle_timeout_close
@mid,late says idle_timeout_close : after 3.0 s
@late healthy cport=$earlya,$pipe,$ok
@late expect cport=$earlya,$pipe,$ok n>=3 : time_wait(server) !reset(client) !reset(server)
@late expect cport=$earlyb : accept_then_close(server) !idle_timeout_close(server) !reset(server) !close_wait_leak(client)
EXP
}

# jetty_base DIR: a jetty.base of its own in DIR for Debian's jetty9 9.4
# (jetty.home /usr/share/jetty9, whose start.ini is not read): the http
# connector on $server_ip:8080 (idleTimeout 3000 ms, acceptQueueSize 2, one
# acceptor and one selector), a thread pool of 4 (maxThreads 4, no
# reserved threads: the acceptor and the selector hold two, two are left
# for requests), deploy with a webapp at / (testdata/lab/webapp/
# JettySlow.java: /slow after 1.5 s, any other path at once), a request
# log (client port, when a thread began the request, status, ms taken,
# request line, User-Agent), and DEBUG logs of its parser and connections
# (the idle timeouts, the shutdownOutput, what it read after them).
jetty_base() {
	local d=$1
	mkdir -p "$d/webapps/ROOT/WEB-INF/classes" "$d/logs" "$d/resources"
	javac -cp /usr/share/jetty9/lib/servlet-api-3.1.jar -d "$d/webapps/ROOT/WEB-INF/classes" "$here/webapp/JettySlow.java"
	cat >"$d/webapps/ROOT/WEB-INF/web.xml" <<'XML'
<?xml version="1.0" encoding="UTF-8"?>
<web-app xmlns="http://xmlns.jcp.org/xml/ns/javaee" version="3.1" metadata-complete="true">
  <servlet><servlet-name>slow</servlet-name><servlet-class>JettySlow</servlet-class><load-on-startup>1</load-on-startup></servlet>
  <servlet-mapping><servlet-name>slow</servlet-name><url-pattern>/</url-pattern></servlet-mapping>
</web-app>
XML
	cat >"$d/start.ini" <<INI
--module=server,http,deploy,customrequestlog,resources
jetty.http.host=$server_ip
jetty.http.port=8080
jetty.http.idleTimeout=3000
jetty.http.acceptQueueSize=2
jetty.http.acceptors=1
jetty.http.selectors=1
jetty.threadPool.minThreads=4
jetty.threadPool.maxThreads=4
jetty.threadPool.reservedThreads=0
jetty.requestlog.filePath=logs/request.log
jetty.customrequestlog.formatString=%{remote}p %{HH:mm:ss.SSS|UTC}t %s %{ms}T "%r" "%{User-Agent}i"
INI
	cat >"$d/resources/jetty-logging.properties" <<'PROPS'
org.eclipse.jetty.http.HttpParser.LEVEL=DEBUG
org.eclipse.jetty.io.AbstractConnection.LEVEL=DEBUG
org.eclipse.jetty.io.AbstractEndPoint.LEVEL=DEBUG
PROPS
}

# ua_ports FILE UA: the client ports of the connections to 8080 in FILE
# that carried a request with User-Agent UA, comma separated.
ua_ports() {
	tshark -r "$1" -Y "tcp.dstport == 8080 && http.user_agent == \"$2\"" -T fields -e tcp.srcport 2>/dev/null |
		sort -un | paste -sd,
}

# jetty_fins FILE: the connections to 8080 in FILE that the server closed
# first (its FIN before any of the client's): how many, and the quiet
# before the FIN (since the last payload either way, or the handshake).
jetty_fins() {
	tshark -r "$1" -Y "tcp.port == 8080" -T fields -e frame.time_epoch -e tcp.srcport -e tcp.dstport -e tcp.flags.syn \
		-e tcp.flags.fin -e tcp.len 2>/dev/null |
		awk '$2 != 8080 { c = $2; if (($4 == 1 && !(c in last)) || $6 > 0) last[c] = $1; if ($5 == 1) cfin[c] = 1 }
			$2 == 8080 { c = $3; if ($4 == 1 && !(c in last)) last[c] = $1; if ($6 > 0) last[c] = $1
				if ($5 == 1 && !(c in sfin) && !(c in cfin)) { sfin[c] = 1; q = $1 - last[c]; n++
					if (min == "" || q < min) min = q; if (q > max) max = q } }
			END { printf "%d, %.3f-%.3f s after the last payload", n, min, max }'
}

# jetty_races FILE: the requests sent after Jetty's FIN on the same
# connection, "PORT (+MS ms after the FIN, answer)", where the answer is
# Jetty's RST or none.
jetty_races() {
	tshark -r "$1" -Y "tcp.port == 8080" -T fields -e frame.time_epoch -e tcp.srcport -e tcp.dstport -e tcp.flags.fin \
		-e tcp.flags.reset -e tcp.len 2>/dev/null |
		awk '$2 == 8080 && $4 == 1 && !($3 in fin) { fin[$3] = $1 }
			$2 == 8080 && $5 == 1 && ($3 in at) && !($3 in rst) { rst[$3] = 1 }
			$3 == 8080 && $6 > 0 && ($2 in fin) && !($2 in at) { at[$2] = $1; order[++n] = $2 }
			END { for (i = 1; i <= n; i++) { p = order[i]
				printf "%s%s (+%.1f ms, %s)", (i > 1 ? ", " : ""), p, (at[p] - fin[p]) * 1000, (p in rst ? "RST" : "no answer, no RST") } }'
}

# jetty_unanswered FILE: the connections to 8080 in FILE whose last
# request got no answer before the server's FIN: "PORT MS" a line, MS the
# milliseconds from the request to the FIN.
jetty_unanswered() {
	tshark -r "$1" -Y "tcp.port == 8080" -T fields -e frame.time_epoch -e tcp.srcport -e tcp.dstport -e tcp.flags.fin \
		-e tcp.len 2>/dev/null |
		awk '$3 == 8080 && $5 > 0 && !($2 in fin) { req[$2] = $1 }
			$2 == 8080 && $5 > 0 { delete req[$3] }
			$2 == 8080 && $4 == 1 && !($3 in fin) { fin[$3] = 1; if ($3 in req) printf "%s %.1f\n", $3, ($1 - req[$3]) * 1000 }'
}

# csv_and A B, csv_minus A B: the ports of the comma-separated list A that
# are (are not) in B, comma separated.
csv_and() {
	awk -v a="$1" -v b="$2" 'BEGIN { n = split(b, x, ","); for (i = 1; i <= n; i++) in_b[x[i]] = 1
		n = split(a, y, ","); for (i = 1; i <= n; i++) if (y[i] != "" && in_b[y[i]]) { printf "%s%s", s, y[i]; s = "," } }'
}
csv_minus() {
	awk -v a="$1" -v b="$2" 'BEGIN { n = split(b, x, ","); for (i = 1; i <= n; i++) in_b[x[i]] = 1
		n = split(a, y, ","); for (i = 1; i <= n; i++) if (y[i] != "" && !in_b[y[i]]) { printf "%s%s", s, y[i]; s = "," } }'
}

# Jetty 9.4's idle timeout and its small thread pool.
sc_jetty_idle() {
	host client; host server; wire client server
	local d=$work/jetty
	jetty_base "$d"
	javac -d "$work" "$here/clients/JettyJdk.java"
	# Jetty in the foreground, its log (stderr) to a file of its own.
	on server sh -c "cd $d && exec java -Xmx256m -jar /usr/share/jetty9/start.jar jetty.home=/usr/share/jetty9 jetty.base=$d 2>$d/jetty.log"
	local i
	for i in $(seq 300); do
		grep -q "Started @" "$d/jetty.log" 2>/dev/null && break
		[ "$i" -lt 300 ] || die "Jetty did not start: $(tail -5 "$d/jetty.log")"
		sleep 0.1
	done
	listening server 8080
	: >"$work/curl"
	capture client "$client_if" "$work/cap.pcap"
	begin jetty-idle
	# Every client starts at t0, 3 s from now (the JVMs start meanwhile).
	t0=$(awk -v n="$(date +%s.%N)" 'BEGIN { printf "%.3f", n + 3 }')
	local url=http://$server_ip:8080/ok
	# HttpClient: a response, another 1.5 s later (the pooled connection),
	# one 4 s later (after Jetty's close), then six 2.994-2.999 s after the
	# one before, around Jetty's 3 s.
	client client java -XX:TieredStopAtLevel=1 -cp "$work" JettyJdk pool jdkpool "$url" "$t0" 24 1500 4000 2994 2995 2996 2997 2998 2999
	# HttpURLConnection: 1.5 s, 4 s and 4.5 s (after Jetty's close, within
	# the cache's 5 s), then 2.998 and 3.002 s.
	client client java -XX:TieredStopAtLevel=1 -cp "$work" JettyJdk urlconn urlconn "$url" "$t0" 28 1500 4000 4500 2998 3002
	# http.client connections: reused 4 s after their response (Jetty
	# closed it at 3 s: its output shut, still reading) and 7.5 s after it
	# (Jetty's socket gone at 6 s), one never reused nor closed; a requests
	# Session at 0, 4.6 and 11.3 s (apart from the others' requests).
	client client $pylab pooled "$server_ip" 8080 "$t0" 45 hc:stale4:0,4:close hc:stale7:0,7.5:close hc:leak:0:keep \
		rs:session:0,4.6,11.3:close
	# Raw sockets: one never sends, reads nor closes; one reads until
	# EOF and closes; one sends half a request and reads until EOF.
	until_t 0
	client client $pylab jettyraw "$server_ip" 8080 silent silent 45
	client client $pylab jettyraw "$server_ip" 8080 silentread read 20
	client client $pylab jettyraw "$server_ip" 8080 half half 20
	# Early: Jetty's first idle closes (3 s) are 1.2 s old; the request
	# reused 4 s after its response is dropped.
	until_t 4.2
	cut early client server
	# The burst, at 25 s (the JDK clients' last requests at about 24 and
	# 16 s): 10 curl --max-time 8 at once to /slow (1.5 s each, two
	# threads).
	until_t 25
	for i in $(seq 10); do
		ip netns exec "$tag-client" curl -s -o /dev/null --max-time 8 \
			-w 'slow %{http_code} %{local_port} %{time_connect} %{time_total} %{exitcode}\n' \
			"http://$server_ip:8080/slow" >>"$work/curl" 2>>"$work/log" &
		pids+=($!)
	done
	# Mid: 2.5 s into the burst: two answered and closed by their clients
	# (Jetty closes in turn when a thread is free to read the FIN), two in
	# their servlet, the others waiting unread in Jetty's queue, their
	# idle timeout running.
	until_t 27.5
	cut mid client server
	until_t 42
	cut late client server
	finish "$work/cap.pcap"
	# served: 200; dropped: closed with no answer (curl's exit 52, "Empty
	# reply from server"); timedout: curl gave up (exit 28).
	awk '$1 == "slow" && $3 != 0 { print ($2 == 200 ? "served" : $6 == 52 ? "dropped" : "timedout"), $3 }' "$work/curl" >>"$work/ports"
	echo "lab: $name: $(command cut -d" " -f1 "$work/ports" | sort | uniq -c | tr -s "\\n " " ")" >&2
	grep -h '^jettyjdk\|^jettyraw\| error ' "$work/log" | sed 's/^/  client: /' || true
	local late=$out/$name@late.pcap c at cuts_at="" burst
	local jdk url afterfin timer stale stale_jdk stale_url ok_jdk ok_url overflow served dropped timedout
	local idlefins closes discarded logged began queued srvcw dropwait
	jdk=$(ua_ports "$late" lab-jdkpool)
	url=$(ua_ports "$late" lab-urlconn)
	# The requests lost: sent after Jetty's FIN, or just before it (its
	# timer fired with the request unread: the FIN within 100 ms).
	afterfin=$(fin_then_data "$late" 8080)
	timer=$(jetty_unanswered "$late" | awk '$2 < 100 { printf "%s%s", s, $1; s = "," }')
	stale=$afterfin${timer:+,$timer}
	stale_jdk=$(csv_and "$jdk" "$stale")
	stale_url=$(csv_and "$url" "$stale")
	ok_jdk=$(csv_minus "$jdk" "$stale")
	ok_url=$(csv_minus "$url" "$stale")
	served=$(ports served) dropped=$(ports dropped) timedout=$(ports timedout)
	# The burst's SYNs sent more than once (dropped by a full accept queue).
	overflow=$(tshark -r "$late" -Y "tcp.dstport == 8080 && tcp.flags.syn == 1 && tcp.flags.ack == 0" -T fields -e tcp.srcport 2>/dev/null |
		sort | uniq -d | paste -sd,)
	burst=$(tshark -r "$late" -Y "tcp.dstport == 8080 && tcp.flags.syn == 1 && tcp.flags.ack == 0" -T fields -e tcp.srcport \
		-e frame.time_epoch 2>/dev/null | awk -v l=",$served,$dropped,$timedout," 'index(l, "," $1 ",") { print $2; exit }')
	for c in early mid late; do
		at=$(date -d "$(sed -n 's/^at //p' "$out/$name@$c.truth")" +%s.%N)
		cuts_at+=$(awk -v c="$c" -v a="$at" -v t="$t0" -v b="$burst" \
			'BEGIN { printf "%s%s %.2f s", (c == "early" ? "" : ", "), c, a - t; if (c != "early") printf " (%.2f s after the burst)", a - b }')
	done
	# Jetty's DEBUG log: its idle FINs (shutdownOutput on an open endpoint,
	# by its Scheduler thread), its closes at the second idle timeout, and
	# the requests its closed parser read and dropped.
	idlefins=$(grep -c 'Scheduler-[0-9-]*: shutdownOutput .*,OPEN,' "$d/jetty.log")
	closes=$(sed -n 's/.*Scheduler-[0-9-]*: close SocketChannelEndPoint.*,r=\/[0-9.]*:\([0-9]*\),.*/\1/p' "$d/jetty.log" | paste -sd,)
	discarded=$(sed -n 's/.*parseNext s=CLOSE HeapByteBuffer@[^[]*\[p=0,l=[1-9][0-9]*,.*<<<\(GET [^ ]*\).*/\1/p' "$d/jetty.log" |
		sort | uniq -c | awk '{ printf "%s%s %s x%d", s, $2, $3, $1; s = ", " }')
	logged=$(wc -l <"$d/logs/request.log")
	# When a thread began each /slow request (s after the burst's first
	# SYN), its client port and the ms it took, from the request log.
	began=$(awk -v b="$burst" '$0 ~ /GET \/slow/ { split(substr($2, 2, 12), h, ":"); day = int(b / 86400) * 86400
			printf "%s%s +%.2f (%d ms)", s, $1, day + h[1] * 3600 + h[2] * 60 + h[3] - b, $4; s = ", " }' "$d/logs/request.log")
	queued=$(awk '$1 == "ESTAB" && $2 > 0 && $4 ~ /:8080$/ { n++ } END { print n + 0 }' "$out/$name@mid.truth")
	# How long the dropped requests waited for Jetty's FIN.
	dropwait=$(jetty_unanswered "$late" | awk -v l=",$dropped," 'index(l, "," $1 ",") { if (min == "" || $2 < min) min = $2; if ($2 > max) max = $2 }
		END { printf (min == max ? "%.2f s" : "%.2f-%.2f s"), min / 1000, max / 1000 }')
	srvcw=$(awk '$1 == "CLOSE-WAIT" && $4 ~ /:8080$/ { p = $5; sub(/.*:/, "", p); printf "%s%s", s, p; s = "," }' "$out/$name@mid.truth")
	expect <<EXP
# Jetty 9.4.57 (Debian's jetty9, run by hand from /usr/share/jetty9 with
# a jetty.base of its own; OpenJDK 17): its http connector with
# jetty.http.idleTimeout 3000, acceptQueueSize 2 (listen(2): the kernel's
# accept queue holds 3), one acceptor and one selector; a QueuedThreadPool
# of maxThreads 4 with no reserved threads (the acceptor and the selector
# take two: two threads for requests; its job queue unbounded); a webapp
# answering /slow after 1.5 s. The clock starts at the clients' first
# requests; the cuts: $cuts_at.
#
# Jetty's idle timeout fires 3 s after a connection's last read or
# write, on its Scheduler thread: it closes its HTTP parser and shuts the
# output down, a bare FIN (no 408 nor any response first), and keeps
# reading: whatever comes after is read and dropped (no answer, no RST),
# until the client's FIN, when it closes (TIME-WAIT on its side), or one
# more idle period, when it closes the socket, which the kernel keeps in
# FIN-WAIT-2 (60 s) with nothing on the wire; a request after that is
# reset. Its FINs that came first, in this recording: $(jetty_fins "$late").
# At INFO Jetty logs nothing of it; its DEBUG log (AbstractConnection,
# AbstractEndPoint, HttpParser) shows "Idle timeout expired: 3000/3000 ms"
# and a shutdownOutput for each ($idlefins, by the Scheduler), the closes
# at the second timeout (${closes:-none}), and the requests the closed
# parser read and dropped ("parseNext s=CLOSE": ${discarded:-none}). Its
# request log holds the $logged requests it answered, none of those.
#
# The clients, on one host:
# - java.net.http.HttpClient (User-Agent lab-jdkpool; $jdk): its pool
#   (keep-alive 1200 s) watches idle connections: on Jetty's FIN it closes
#   within milliseconds and the next request connects anew; a request 1.5 s
#   after a response reuses the connection. Requests 2.994-2.999 s after
#   a response race Jetty's timer: one that reaches Jetty just before the
#   timer fires, not yet read, is acknowledged and dropped (Jetty's FIN
#   a millisecond or two after it: the timer wins over the selector); one
#   sent before the JDK saw the FIN goes out on the closed connection and
#   is read and dropped. No answer, no RST: the JDK reads EOF, closes and
#   sends the GET again on a new connection (200 to its caller). Lost and
#   retried: ${stale_jdk:-none in this recording}.
# - HttpURLConnection (lab-urlconn; $url): its KeepAliveCache keeps a
#   connection 5 s, unwatched: its requests 4 and 4.5 s after a response
#   go out on the connection Jetty closed at 3 s, read and dropped; it
#   reads EOF, closes (its FIN right after the request) and retries on a
#   new connection (200); those 2.998 and 3.002 s after race the timer.
#   Lost and retried: ${stale_url:-none}. Its last connection waits in
#   CLOSE_WAIT until the cache's cleaner drops it, seconds later: no leak.
# - http.client (python3): "stale4" ($(ports stale4)) sends its next GET 4 s
#   after its response, 1 s after Jetty's FIN: read and dropped, no answer,
#   no RST; "stale7" ($(ports stale7)) 7.5 s after it, when Jetty has let
#   go of the socket (6 s): RST. Both raise RemoteDisconnected ("Remote end
#   closed connection without response": the FIN read first), not retried.
#   "leak" ($(ports leak)) is never used nor closed again: CLOSE_WAIT to the
#   end, a leak. A requests Session ($(ports session), then $(ports session-new),
#   $(ports session-new2)) checks its pooled connection before a request: at
#   4.6 and 11.3 s it finds Jetty's FIN, closes and connects anew: healthy.
# - Raw sockets: "silent" ($(ports silent)) never sends, reads nor closes:
#   Jetty's FIN 3 s after the accept, CLOSE_WAIT to the end (a leak);
#   "silentread" ($(ports silentread)) reads that FIN and closes; "half"
#   ($(ports half)) sends a request line and a Host header, no blank line:
#   Jetty's bare FIN 3 s later (no 408), and it closes.
# Requests sent after Jetty's FIN (client port, ms after it, Jetty's
# answer): $(jetty_races "$late"). Connections whose last data from the
# client had no answer when Jetty's FIN came (ms from that data to the
# FIN: a request the timer beat by a few ms, a request queued, "half"):
# $(jetty_unanswered "$late" | awk '{ printf "%s%s (%s ms)", s, $1, $2; s = ", " }').
#
# The burst: 10 curl --max-time 8 to /slow at once. Jetty's acceptor
# takes every connection at once: no 503, no refusal, the accept queue
# empty but for the burst's first milliseconds ($(handshakes "$late" 8080);
# SYNs sent again: ${overflow:-none}). The work waits in the thread
# pool's queue, two requests at a time, 1.5 s each, the requests
# acknowledged by the kernel and unread (at the mid cut $queued
# connections with Recv-Q). Its request log (client port, when a thread
# began the request, s after the burst's first SYN, and the ms it took):
# $began. A client's FIN after its response waits for a thread to read
# it: Jetty's FIN comes when a thread is free or at its idle timeout
# (CLOSE-WAIT on Jetty's side meanwhile, at the mid cut: ${srvcw:-none}): no
# leak. Jetty's idle timeout runs while a request waits unread in the
# queue (from when a thread set the connection up): the requests no
# thread read within 3 s of it are dropped, Jetty's bare FIN $dropwait
# after the request, which its closed parser reads and drops later; curl
# gets "Empty reply from server" (exit 52) and closes: ${dropped:-none}. Served: $served.${timedout:+ Timed out (curl gave up, exit 28): $timedout.}
#
# Jetty's idle closes, its peers' stale reuses and the requests it drops.
finding idle_timeout_close
@mid,late says idle_timeout_close : after 3.0 s without traffic
@mid,late says idle_timeout_close : Jetty
nofinding accept_then_close
nofinding reconnect_storm
nofinding peer_unreachable
nofinding unanswered_syn
nofinding handshake_incomplete
@early nofinding listen_overflow
$([ -n "$overflow" ] && echo "@mid,late finding listen_overflow" || echo "nofinding listen_overflow")
$([ -n "$overflow" ] && echo "expect cport=$overflow : listen_overflow(server)")
expect cport=$(ports silentread),$(ports half) n>=2 : idle_timeout_close(server) !accept_then_close(server) !close_wait_leak(client)
healthy cport=$(ports silentread),$(ports half)
expect cport=$(ports stale4) : stale_reuse_reset(client) idle_timeout_close(server) !close_wait_leak(client)
@early expect cport=$(ports stale7) client.ss=CLOSE-WAIT : idle_timeout_close(server) !close_wait_leak(client)
@mid,late expect cport=$(ports stale7) : stale_reuse_reset(client) idle_timeout_close(server)
@early expect cport=$(ports leak),$(ports silent) client.ss=CLOSE-WAIT n>=2 : idle_timeout_close(server) open(client)|close_wait_leak(client)
@mid,late expect cport=$(ports leak),$(ports silent) client.ss=CLOSE-WAIT n>=2 : idle_timeout_close(server) close_wait_leak(client)
@mid,late infinding cport=$(ports leak),$(ports silent) : close_wait_leak
@mid,late finding close_wait_leak
@mid,late says close_wait_leak : holds 2 connections
healthy cport=$(ports session),$(ports session-new),$(ports session-new2)
@mid,late expect cport=$(ports session),$(ports session-new) n>=2 : idle_timeout_close(server) !stale_reuse_reset(client)
@mid,late healthy cport=${ok_jdk:-0},${ok_url:-0}
@mid,late expect cport=${stale_jdk:-0},${stale_url:-0},$(ports stale4),$(ports stale7) n>=3 : stale_reuse_reset(client)
@mid,late infinding cport=${stale_jdk:-0},${stale_url:-0},$(ports stale4),$(ports stale7) : stale_reuse_reset
finding stale_reuse_reset
$([ -n "$stale_jdk$stale_url" ] && echo "@mid,late says stale_reuse_reset : retried")
@late says idle_timeout_close : with a request's headers whole and no response
# The burst: those served are healthy; Jetty's CLOSE-WAITs behind its busy
# threads are no leak; the requests it dropped were closed by its idle
# timeout with no answer, no reuse of a closed connection.
healthy cport=$(csv_minus "$served" "$overflow")
@mid expect sport=8080 server.ss=CLOSE-WAIT : !close_wait_leak(server)
@mid expect cport=${dropped:-0} server.ss=ESTAB : !close_wait_leak(server) !idle_timeout_close(server) !stale_reuse_reset(client)
@mid expect cport=${dropped:-0} server.ss=TIME-WAIT : idle_timeout_close(server) !stale_reuse_reset(client) !close_wait_leak(client) !accept_then_close(server)
@late expect cport=${dropped:-0} n>=1 : idle_timeout_close(server) !stale_reuse_reset(client) !close_wait_leak(client) !accept_then_close(server)
EXP
}

# rsyncd_conf DIR: an rsync daemon of its own in DIR: rsyncd.conf (port
# 873 on every address, no reverse lookups; module "capped" with max
# connections 2 and its lock file, an 8 MB file; module "data", writable,
# timeout 4, three small files and a 20 MB one) and hung.conf (the same
# modules on port 874, for a daemon that will be stopped).
rsyncd_conf() {
	local d=$1 i
	mkdir -p "$d/capped" "$d/data/up" "$d/in"
	for i in 1 2 3; do echo "file $i of the rsyncd lab" >"$d/data/f$i.txt"; done
	head -c 8000000 /dev/urandom >"$d/capped/big.bin"
	head -c 20000000 /dev/urandom >"$d/data/big.bin"
	head -c 8000000 /dev/urandom >"$d/in/up.bin"
	cat >"$d/rsyncd.conf" <<CONF
pid file = $d/rsyncd.pid
log file = $d/rsyncd.log
port = 873
use chroot = no
reverse lookup = no
uid = root
gid = root
[capped]
	path = $d/capped
	comment = capped at 2
	max connections = 2
	lock file = $d/rsyncd.lock
[data]
	path = $d/data
	comment = lab data
	read only = no
	timeout = 4
CONF
	sed "s#^pid file = .*#pid file = $d/hung.pid#; s#^log file = .*#log file = $d/hung.log#; s#^port = 873#port = 874#; s#rsyncd.lock#hung.lock#" \
		"$d/rsyncd.conf" >"$d/hung.conf"
}

# rsync_run ROLE HOST CMD...: run an rsync client in HOST in the
# foreground (10 s at most), noting "ROLE START END RC" in the windows
# file: the connection it makes is the one whose SYN falls in the window.
rsync_run() {
	local role=$1 h=$2 s rc=0
	shift 2
	s=$(date +%s.%N)
	ip netns exec "$tag-$h" timeout 10 "$@" >>"$work/rsync-$role.out" 2>>"$work/rsync-$role.err" || rc=$?
	echo "$role $s $(date +%s.%N) $rc" >>"$work/windows"
}

# rsync_window_ports FILE ADDR PORT: the client ports of the connections
# from ADDR to PORT whose SYN falls in a window of the windows file, noted
# as that window's role.
rsync_window_ports() {
	tshark -r "$1" -Y "ip.src == $2 && tcp.dstport == $3 && tcp.flags.syn == 1 && tcp.flags.ack == 0" -T fields \
		-e frame.time_epoch -e tcp.srcport 2>/dev/null |
		awk 'NR == FNR { r[NR] = $1; s[NR] = $2; e[NR] = $3; n = NR; next }
			!seen[$2]++ { for (i = 1; i <= n; i++) if ($1 >= s[i] && $1 <= e[i]) { print r[i], $2; break } }' "$work/windows" - >>"$work/ports"
}

# rsync_dump FILE: the TCP segments of the capture, one a line: epoch,
# client port, "s" from the daemon or "c" from the client, SYN, ACK, FIN,
# RST, length, window, tshark's zero-window flag, and the payload as
# text (printable bytes; "." for the others).
rsync_dump() {
	tshark -r "$1" -Y tcp -T fields -e frame.time_epoch -e tcp.srcport -e tcp.dstport -e tcp.flags.syn -e tcp.flags.ack \
		-e tcp.flags.fin -e tcp.flags.reset -e tcp.len -e tcp.window_size -e tcp.analysis.zero_window -e tcp.payload 2>/dev/null |
		awk -F '\t' 'BEGIN { hex = "0123456789abcdef"; OFS = "\t" }
			{ s = ($2 == 873 || $2 == 874); c = s ? $3 : $2; t = ""
				for (i = 1; i < length($11) && i < 160; i += 2) {
					b = (index(hex, substr($11, i, 1)) - 1) * 16 + index(hex, substr($11, i + 1, 1)) - 1
					t = t (b >= 32 && b < 127 ? sprintf("%c", b) : ".")
				}
				print $1, c, s ? "s" : "c", $4, $5, $6, $7, $8, $9, $10 == "" ? 0 : 1, t }'
}

# rsync_refusals DUMP PORTS: for the client ports PORTS, the daemon's
# "@ERROR: max connections" line after the greetings and the module name,
# its FIN and the client's: the span of the attempts and the worst delays.
rsync_refusals() {
	awk -F '\t' -v want="$2" '
		BEGIN { n = split(want, w, ","); for (i = 1; i <= n; i++) k[w[i]] = 1 }
		!($2 in k) { next }
		$3 == "c" && $4 == 1 && $5 == 0 { syn[$2] = $1; if (f == "" || $1 < f) f = $1; if ($1 > l) l = $1 }
		$3 == "s" && $8 > 0 && $11 ~ /^@RSYNCD: / && !($2 in sg) { sg[$2] = $1 }
		$3 == "c" && $8 > 0 && $11 ~ /^@RSYNCD: / && !($2 in cg) { cg[$2] = $1 }
		$3 == "c" && $8 > 0 && $11 !~ /^@RSYNCD: / && !($2 in mod) { mod[$2] = $1; mname = $11 }
		$3 == "s" && $8 > 0 && $11 ~ /^@ERROR/ { er[$2] = $1; elen = $8; etext = $11 }
		$3 == "s" && $6 == 1 && !($2 in sf) { sf[$2] = $1 }
		$3 == "c" && $6 == 1 && !($2 in cf) { cf[$2] = $1 }
		$7 == 1 { rst++ }
		END { for (c in syn) { m++; if (c in er) ne++
				e = 1e3 * (er[c] - syn[c]); if (e > emax) emax = e
				g = 1e6 * (sf[c] - er[c]); if (g > gmax) gmax = g
				h = 1e6 * (cf[c] - sf[c]); if (cf[c] < sf[c]) cfirst++; else if (h > hmax) hmax = h }
			sub(/\.$/, "", etext); sub(/\.$/, "", mname)
			printf "%d attempts in %.2f s (%.1f a second); %d answered \"%s\" (%d bytes) after the greetings and the module name \"%s\", within %.1f ms of the SYN; the daemon\047s FIN within %.0f µs after it, rsync\047s FIN within %.0f µs after that (%d first), %d RST", m, l - f, (m - 1) / (l - f), ne, etext, elen, mname, emax, gmax, hmax, cfirst, rst }' "$1"
}

# rsync_close DUMP PORT: who closed the connection from PORT first, and
# the other's FIN or RST after it.
rsync_close() {
	awk -F '\t' -v p="$2" '$2 != p { next }
		$3 == "c" && $4 == 1 && $5 == 0 { syn = $1 }
		$8 > 0 { last = $1; lw = $3; ll = $8; lt = $11 }
		$3 == "s" && $6 == 1 && sf == "" { sf = $1; if (first == "") first = "s" }
		$3 == "c" && $6 == 1 && cf == "" { cf = $1; if (first == "") first = "c" }
		$7 == 1 && r == "" { r = $1; rw = $3 }
		END { if (first == "s") printf "the daemon\047s FIN %.1f ms after the SYN, %.0f µs after its last data, rsync\047s FIN %.0f µs after it", 1e3 * (sf - syn), 1e6 * (sf - last), 1e6 * (cf - sf)
			else if (first == "c" && sf == "") printf "the client\047s FIN %.3f s after the SYN, none from the daemon", cf - syn
			else if (first == "c") printf "the client\047s FIN %.3f s after the SYN, the daemon\047s %.0f µs after it", cf - syn, 1e6 * (sf - cf)
			else printf "no FIN"
			if (r != "") printf ", an RST from the %s", rw == "s" ? "daemon" : "client" }' "$1"
}

# rsync_pull DUMP PORT: a pull whose reader stopped: the bytes it got,
# the zero window it advertised last (the stall), the daemon's probes
# into it, the window opening again if it did, the client's last data
# (its first since the transfer began) and the daemon's RST; then "|"
# and the epoch of that zero window.
rsync_pull() {
	awk -F '\t' -v p="$2" '$2 != p { next }
		$3 == "c" && $4 == 1 && $5 == 0 { syn = $1; next }
		{ n++; t[n] = $1; w[n] = $3; len[n] = $8; win[n] = $9; f[n] = $6; r[n] = $7; ack[n] = $5 }
		END {
			for (i = 1; i <= n; i++) if (w[i] == "c" && len[i] > 0) cd = i
			for (i = 1; i <= cd; i++) if (w[i] == "c") {
				if (win[i] == 0 && pw > 0) { zs = i; op = "" }
				if (win[i] > 0 && pw == 0 && zs != "" && i < cd) op = i
				pw = win[i]
			}
			for (i = 1; i <= n; i++) if (w[i] == "s") {
				if (len[i] > 1) { if (op == "" || i < op) got += len[i]; else after += len[i] }
				if (i > zs && (op == "" ? i < cd : i < op) && len[i] <= 1 && ack[i] == 1 && !r[i] && !f[i]) { pr++; lp = t[i] }
				if (r[i] && rs == "") rs = t[i]
				if (f[i]) sf = 1
			}
			printf "%.1f MB from the daemon; the client\047s zero window %.3f s after the SYN, the daemon\047s %d probes to %.3f s", got / 1e6, t[zs] - syn, pr, lp - syn
			if (op != "") printf "; the window opened at %.3f s, %.1f MB more from the daemon", t[op] - syn, after / 1e6
			printf "; the client\047s %d bytes at %.3f s%s, the daemon\047s RST %.0f µs after them, %s", len[cd], t[cd] - syn,
				op == "" ? " (its window still zero: it had read nothing)" : "", 1e6 * (rs - t[cd]), sf ? "a FIN from the daemon" : "no FIN from the daemon"
			printf "|%.6f", t[zs] }' "$1"
}

# rsync_push DUMP PORT: a push whose sender stopped: the last data from
# the client, the daemon's 4-byte messages after it (its keep-alives:
# "00 00 00 07", an empty multiplexed data message).
rsync_push() {
	awk -F '\t' -v p="$2" '$2 != p { next }
		$3 == "c" && $4 == 1 && $5 == 0 { syn = $1 }
		$3 == "c" && $8 > 0 { cl = $1; sent += $8 }
		$3 == "s" && $8 == 4 { k[++nk] = $1 }
		$6 == 1 || $7 == 1 { e = e " " $3 ($6 == 1 ? "FIN" : "RST") }
		END { for (i = 1; i <= nk; i++) { if (k[i] <= cl) continue
				n++; if (lk != "") { g = k[i] - lk; if (mn == "" || g < mn) mn = g; if (g > mx) mx = g } else fk = k[i]; lk = k[i] }
			printf "%.1f MB from the client, its last data %.3f s after the SYN; then %d messages of 4 bytes from the daemon, the first %.3f s later, %.2f-%.2f s apart, each acknowledged at once%s", sent / 1e6, cl - syn, n, fk - cl, mn, mx, e == "" ? ", no FIN, no RST" : ";" e }' "$1"
}

# rsync_raw DUMP PORT: a socket that never sent the arguments: what each
# side sent, and its close.
rsync_raw() {
	awk -F '\t' -v p="$2" '$2 != p { next }
		$3 == "c" && $4 == 1 && $5 == 0 { syn = $1 }
		$8 > 0 { out = out sprintf("%s%s %d bytes +%.1f ms", out == "" ? "" : ", ", $3 == "s" ? "daemon" : "client", $8, 1e3 * ($1 - syn)) }
		$6 == 1 { out = out sprintf(", %s FIN +%.3f s", $3 == "s" ? "daemon" : "client", $1 - syn) }
		$7 == 1 { out = out sprintf(", %s RST +%.3f s", $3 == "s" ? "daemon" : "client", $1 - syn) }
		END { print out }' "$1"
}

# rsync_hung DUMP PORT: a client of the stopped daemon: the handshake (the
# kernel), its greeting acknowledged, its FIN and the ACK of it.
rsync_hung() {
	awk -F '\t' -v p="$2" '$2 != p { next }
		$3 == "c" && $4 == 1 && $5 == 0 { syn = $1 }
		$3 == "s" && $4 == 1 { sa = $1 }
		$3 == "c" && $8 > 0 && g == "" { g = $1; gl = $8 }
		$3 == "s" && g != "" && ga == "" && $5 == 1 { ga = $1 }
		$3 == "s" && $8 > 0 { sd += $8 }
		$3 == "c" && $6 == 1 && cf == "" { cf = $1 }
		$3 == "s" && cf != "" && fa == "" { fa = $1 }
		$3 == "s" && $6 == 1 { sfin = 1 }
		END { printf "SYN-ACK %.0f µs after the SYN, its greeting (%d bytes) at +%.1f ms acknowledged %.0f µs later, %d bytes from the daemon; ", 1e6 * (sa - syn), gl, 1e3 * (g - syn), 1e6 * (ga - g), sd
			if (cf == "") printf "no FIN yet"
			else printf "the client\047s FIN %.3f s after the SYN, acknowledged %.1f ms later, %s", cf - syn, 1e3 * (fa - cf), sfin ? "a FIN from the server" : "no FIN from the server" }' "$1"
}

# rsync_syns DUMP PORT: the SYNs of a connection never answered.
rsync_syns() {
	awk -F '\t' -v p="$2" '$2 != p { next } $3 == "c" && $4 == 1 { n++; t = t sprintf("%s+%.3f s", n > 1 ? ", " : "", f == "" ? 0 : $1 - f); if (f == "") f = $1 }
		$3 == "s" { s++ } END { printf "%d SYNs (%s), %d packets back", n, t, s }' "$1"
}

# cut_t CUT: when the cut CUT was taken, in seconds after begin's clock
# (t0), from its truth file.
cut_t() {
	awk -v t0="$t0" -v at="$(date -d "$(sed -n 's/^at //p' "$out/$name@$1.truth")" +%s.%N)" 'BEGIN { printf "%.2f", at - t0 }'
}

# The rsync daemon's own limits: max connections (its lock file), its
# module timeout on stalled transfers and on sockets that never send, and
# rsync's --contimeout and --timeout, against rsync clients.
sc_rsyncd() {
	host client; host backup; host far; host server
	wire client server
	local sv=$server_ip
	wire backup server
	local sv_backup=$server_ip
	wire far server
	local sv_far=$server_ip
	local d=$work/rsyncd
	rsyncd_conf "$d"
	: >"$work/windows"
	# Both daemons in the foreground (--no-detach), their logs to files of
	# their own; the one on 874 stopped (SIGSTOP) once it listens: its
	# kernel still completes handshakes into the listen queue.
	on server rsync --daemon --no-detach --config "$d/rsyncd.conf"
	on server rsync --daemon --no-detach --config "$d/hung.conf"
	local hung=${pids[-1]}
	listening server 873
	listening server 874
	kill -STOP "$hung"
	# The far host's SYNs to 873 are dropped on the server (nftables).
	ip netns exec "$tag-server" nft add table inet flowdoc
	ip netns exec "$tag-server" nft add chain inet flowdoc in '{ type filter hook input priority 0; }'
	ip netns exec "$tag-server" nft add rule inet flowdoc in ip saddr "$far_ip" tcp dport 873 drop
	capture server any "$work/cap.pcap" -s 192
	begin rsyncd
	# The holders: two pulls of capped's 8 MB file from the client host at
	# --bwlimit=32 (KB/s; the daemon, the sender, paces them): 2 of 2.
	local i
	for i in 1 2; do
		ip netns exec "$tag-client" rsync -a --bwlimit=32 "rsync://$sv/capped/big.bin" "$work/hold$i/" >/dev/null 2>>"$work/rsync-hold.err" &
		pids+=($!)
		newport client 873 hold
	done
	for _ in $(seq 100); do
		[ "$(grep -c 'rsync on capped/big.bin' "$d/rsyncd.log")" -ge 2 ] && break
		sleep 0.05
	done
	[ "$(grep -c 'rsync on capped/big.bin' "$d/rsyncd.log")" -ge 2 ] || die "the holders did not start: $(tail -5 "$d/rsyncd.log")"
	t0=$(date +%s.%N) # the clock starts with both transfers going
	# Sockets that never send their arguments: one never sends at all, one
	# sends the greeting and the module name, one reads the greeting and
	# closes after 4 s.
	until_t 0.2
	client backup $pylab rsyncraw "$sv_backup" 873 rawsilent silent 30
	client backup $pylab rsyncraw "$sv_backup" 873 rawmodule module 30
	client backup $pylab rsyncraw "$sv_backup" 873 rawquit quit 4
	for _ in $(seq 100); do
		[ "$(grep -c '^raw' "$work/ports")" -ge 3 ] && break
		sleep 0.02
	done
	# A pull of data's 20 MB file at --bwlimit=4000 and a push of 8 MB at
	# --bwlimit=1000 from the backup host, both stopped (SIGSTOP) 1 s in.
	until_t 0.4
	ip netns exec "$tag-backup" rsync -a --bwlimit=4000 "rsync://$sv_backup/data/big.bin" "$work/pull/" >/dev/null 2>>"$work/rsync-pull.err" &
	local pull=$!
	pids+=($pull)
	newport backup 873 pull
	ip netns exec "$tag-backup" rsync -a --bwlimit=1000 "$d/in/up.bin" "rsync://$sv_backup/data/up/" >/dev/null 2>>"$work/rsync-push.err" &
	local push=$!
	pids+=($push)
	newport backup 873 push
	# The module list and a listing of data (healthy).
	until_t 1.0
	rsync_run list client rsync "rsync://$sv/"
	rsync_run lsmod client rsync "rsync://$sv/data/"
	until_t 1.4
	local stopped
	# The pull's rsync forked its receiver; the push's is one process.
	stopped="$pull $push $(pgrep -P "$pull" | tr '\n' ' ' || true)$(pgrep -P "$push" | tr '\n' ' ' || true)"
	kill -STOP $stopped
	local p
	for p in $stopped; do pids+=("$p"); done
	local stop_at
	stop_at=$(since_t0)
	# The stall: the stopped pull's zero window (the daemon's kernel
	# probing it: a persist timer on its socket that lasts; a transient
	# zero window at the start of the transfer does not).
	local pullp stall_at
	pullp=$(ports pull)
	for _ in $(seq 100); do
		if ip netns exec "$tag-server" ss -tnoH "dport = :$pullp" | grep -q persist; then
			sleep 0.3
			ip netns exec "$tag-server" ss -tnoH "dport = :$pullp" | grep -q persist && break
		fi
		sleep 0.1
	done
	stall_at=$(since_t0)
	# The far host: --contimeout=2 against SYNs dropped on the way; and
	# --contimeout=2 --timeout=3 against the stopped daemon on 874.
	on far rsync --contimeout=2 "rsync://$sv_far/data/" "$work/far1/"
	on far rsync --contimeout=2 --timeout=3 "rsync://$sv_far:874/data/" "$work/far2/"
	local far_at
	far_at=$(date +%s.%N)
	# A retry loop from the client host while the holders hold capped: 8
	# attempts, 200 ms apart, as a wrapper script would ("until rsync ...;
	# do sleep 0.2; done", bounded).
	on client bash -c "for i in 1 2 3 4 5 6 7 8; do s=\$(date +%s.%N); rc=0; timeout 5 rsync -a rsync://$sv/capped/ $work/storm/ >/dev/null 2>>$work/rsync-storm.err || rc=\$?; echo \"storm \$s \$(date +%s.%N) \$rc\" >>$work/windows; [ \$rc = 0 ] && break; sleep 0.2; done"
	# Early: four refusals, the pull stalled some 1 s, the daemon not yet
	# timed out, the far clients' SYN sent again and greeting unanswered.
	for _ in $(seq 100); do
		[ "$(grep -c '^storm' "$work/windows")" -ge 4 ] && break
		sleep 0.02
	done
	cut early client backup far server
	# Mid: 0.3 s after the daemon gave up on the stalled pull ("io
	# timeout"), its FIN queued behind the data the reader never took.
	for _ in $(seq 300); do
		grep -q 'io timeout' "$d/rsyncd.log" && break
		sleep 0.02
	done
	local timeout_at
	timeout_at=$(since_t0)
	sleep 0.3
	# and the client of the stopped daemon gone (6 s after it connected).
	sleep "$(awk -v f="$far_at" -v now="$(date +%s.%N)" 'BEGIN { d = f + 6.4 - now; print (d > 0 ? d : 0) }')"
	cut mid client backup far server
	# The pull runs again (SIGCONT) 1 s later; the push stays stopped.
	sleep 1
	kill -CONT "$pull" $(pgrep -P "$pull" || true)
	local cont_at
	cont_at=$(since_t0)
	sleep 1
	rsync_run get client rsync -a --exclude big.bin "rsync://$sv/data/" "$work/get/"
	sleep 6
	cut late client backup far server
	local h swept=()
	# Every process left in the hosts (the daemons' children too) is ended
	# by finish, after the capture.
	for h in client backup far server; do
		for p in $(ip netns pids "$tag-$h"); do [ "$p" = "$capture_pid" ] || swept+=("$p"); done
	done
	pids+=("${swept[@]}")
	finish "$work/cap.pcap"
	# A daemon's child whose peer went away with a zero window (a holder
	# ended by finish; capped has no timeout) takes SIGTERM and then waits
	# to flush its exit message into the closed window: kill what is left.
	sleep 0.3
	for p in "${swept[@]}"; do kill -KILL "$p" 2>/dev/null || true; done
	echo "lab: $name: stopped at $stop_at s, stalled by $stall_at s, the daemon's io timeout by $timeout_at s, the pull resumed at $cont_at s" >&2
	grep -v 'connect from\|allowed access' "$d/rsyncd.log" | sed 's/^[0-9/]* [0-9:]* //; s/^/  rsyncd: /' | tail -40
	for f in "$work"/rsync-*.err; do sort "$f" | uniq -c | sed "s/^/  $(basename "$f" .err): /"; done
	local late=$out/$name@late.pcap dump=$work/dump.tsv
	rsync_window_ports "$late" "$client_ip" 873
	tshark -r "$late" -Y "ip.src == $far_ip && tcp.flags.syn == 1 && tcp.flags.ack == 0" -T fields -e tcp.dstport -e tcp.srcport 2>/dev/null |
		sort -u | awk '$1 == 873 { print "contimeout", $2 } $1 == 874 { print "hung", $2 }' >>"$work/ports"
	rsync_dump "$late" >"$dump"
	local role wire= h
	for role in hold list lsmod storm get pull push rawsilent rawmodule rawquit contimeout hung; do
		for p in $(ports $role | tr , ' '); do
			wire+="#   $role $p: $(rsync_close "$dump" "$p")"$'\n'
		done
	done
	printf '%s' "$wire" | sed "s/^#  /lab: $name:/" >&2
	local refusals pullw pushw silentw modw quitw synw hungw listw lsmodw getw
	refusals=$(rsync_refusals "$dump" "$(ports storm)")
	pullw=$(rsync_pull "$dump" "$(ports pull)") pushw=$(rsync_push "$dump" "$(ports push)")
	local zwe=${pullw##*|}
	pullw=${pullw%|*}
	silentw=$(rsync_raw "$dump" "$(ports rawsilent)") modw=$(rsync_raw "$dump" "$(ports rawmodule)") quitw=$(rsync_raw "$dump" "$(ports rawquit)")
	synw=$(rsync_syns "$dump" "$(ports contimeout)") hungw=$(rsync_hung "$dump" "$(ports hung)")
	listw=$(rsync_close "$dump" "$(ports list)") lsmodw=$(rsync_close "$dump" "$(ports lsmod)") getw=$(rsync_close "$dump" "$(ports get)")
	echo "lab: $name: refusals: $refusals" >&2
	echo "lab: $name: pull: $pullw" >&2
	echo "lab: $name: push: $pushw" >&2
	echo "lab: $name: raw: $silentw | $modw | $quitw" >&2
	echo "lab: $name: far: $synw | $hungw" >&2
	echo "lab: $name: list: $listw | $lsmodw | $getw" >&2
	local iot gen pushq hungq silentq modq lst pullmid pullmidc estorm storm early_t mid_t late_t zw_t far_t
	early_t=$(cut_t early) mid_t=$(cut_t mid) late_t=$(cut_t late)
	zw_t=$(awk -v t0="$t0" -v e="$zwe" 'BEGIN { printf "%.2f", e - t0 }')
	far_t=$(awk -v t0="$t0" -v e="$far_at" 'BEGIN { printf "%.2f", e - t0 }')
	iot=$(sed -n 's/.*\[sender\] \(io timeout after [0-9]* seconds -- exiting\).*/\1/p' "$d/rsyncd.log" | head -1)
	gen=$(grep -c '\[generator\] io timeout' "$d/rsyncd.log") || true
	pushq=$(awk -v p="$backup_ip:$(ports push)" '$4 == p { print $1 ", Recv-Q " $2 }' "$out/$name@late.truth")
	hungq=$(awk -v p="$far_ip:$(ports hung)" '$5 == p { print $1 ", Recv-Q " $2 }' "$out/$name@late.truth")
	silentq=$(awk -v p="$backup_ip:$(ports rawsilent)" '$4 == p { print $1 ", Recv-Q " $2 }' "$out/$name@late.truth")
	modq=$(awk -v p="$backup_ip:$(ports rawmodule)" '$4 == p { print $1 ", Recv-Q " $2 }' "$out/$name@late.truth")
	lst=$(awk '$1 == "LISTEN" && $4 == "0.0.0.0:874" { print "Recv-Q " $2 " of " $3 }' "$out/$name@late.truth")
	pullmid=$(awk -v p="$backup_ip:$(ports pull)" '$5 == p { print $1 ", Send-Q " $3 }' "$out/$name@mid.truth")
	pullmidc=$(awk -v p="$backup_ip:$(ports pull)" '$4 == p { print $1 ", Recv-Q " $2 }' "$out/$name@mid.truth")
	storm=$(ports storm)
	# The attempts of the storm the early cut holds.
	estorm=$(tshark -r "$out/$name@early.pcap" -Y "ip.src == $client_ip && tcp.flags.syn == 1 && tcp.flags.ack == 0" -T fields -e tcp.srcport 2>/dev/null |
		grep -xF -f <(echo "$storm" | tr , '\n') | paste -sd,) || true
	echo "lab: $name: $iot; $gen generator timeouts; push $pushq; hung $hungq (874: $lst); rawsilent $silentq; pull at mid $pullmid / $pullmidc; early storm $estorm" >&2
	expect <<EXP
# rsync $(rsync --version | sed -n '1s/.*version \([0-9.]*\).*protocol version \([0-9]*\).*/\1 (protocol \2)/p'), Debian's $(dpkg-query -W -f '${Version}' rsync), both ends. A daemon run by
# hand in the server host (rsync --daemon --no-detach --config: its own
# rsyncd.conf, log file and pid file; use chroot = no, reverse lookup =
# no, so its log says "connect from UNDETERMINED (ADDR)"), port 873 on
# every address, two modules: "capped" (max connections = 2, lock file
# in the work directory; an 8 MB file) and "data" (read only = no,
# timeout = 4; three small files and a 20 MB one). A second daemon of
# the same configuration on port 874, stopped (SIGSTOP) as soon as it
# listens. Four hosts on links of their own to the server, captured on
# the server (-i any, snap length 192).
# Each connection of rsync's opens with the greetings: it sends "@RSYNCD: 32.0
# sha512 sha256 sha1 md5 md4" (41 bytes) right after the handshake, not
# waiting for the daemon's, and the daemon's child sends the same line
# as it starts, within a millisecond or so: the two cross. Then rsync
# sends the module name (an empty line asks for the list), and the
# daemon answers "@RSYNCD: OK" (12 bytes), the list, or an "@ERROR:"
# line. Measured in the late capture (times after each SYN):
$wire# - Healthy: the holders ("hold", two pulls of capped's big.bin at
#   --bwlimit=32 from the client host, paced by the daemon, the sender),
#   open to the end; "list" (rsync rsync://HOST/: the module list,
#   "@RSYNCD: EXIT" and the daemon's FIN; log "module-list request"):
#   $listw;
#   "lsmod" (rsync rsync://HOST/data/, a list-only transfer): $lsmodw;
#   "get" (rsync -a --exclude big.bin of data's files, after the
#   rest): $getw. Each ends with both FINs within some 20 ms of its last
#   data: the daemon's first as its child exits, or rsync's as it reads
#   the end (a race of the two exits; seen both ways in trials): clean,
#   TIME-WAIT on the closer's side.
# - max connections (2) on capped, held by the two holders: a retry loop
#   of rsync on the client host (8 attempts, 200 ms apart, "until rsync
#   -a rsync://HOST/capped/ DIR; do sleep 0.2; done", bounded): $refusals.
#   The daemon's log: "rsync allowed access on module capped" and "max
#   connections (2) reached" for each; rsync says "@ERROR: max
#   connections (2) reached -- try again later" and exits with code 5
#   ("error starting client-server protocol"). The cap is the module's,
#   counted by locks on its lock file: the daemon accepts, greets, reads
#   the module name and refuses, then its child exits (FIN); rsync reads
#   the refusal and exits, its FIN within a millisecond, before the
#   daemon's at times (a race; both orderly, no RST). A refusal by a
#   connection cap right after the accept (the greetings and the module
#   name are the protocol's opening, as Dovecot's LOGIN before its NO
#   [LIMIT]): accept_then_close, and 8 in 1.5 s from one host a
#   reconnect storm (a fixed 200 ms pause, no backoff).
# - The module's timeout (4 s) on a stalled reader: "pull", rsync -a
#   --bwlimit=4000 of data's 20 MB file from the backup host, stopped
#   (SIGSTOP, both its processes) at $stop_at s, some 1 s into the
#   transfer: $pullw.
#   The daemon, the sender, blocked on the closed window, writes nothing
#   and reads nothing: its log "[sender] $iot" and "rsync error: timeout
#   in data send/receive (code 30)"; it exits, and its close queues its
#   FIN behind the data its socket still holds: nothing on the wire, its
#   kernel probing the window as before (ss at the mid cut: the daemon
#   $pullmid, the reader $pullmidc). Resumed (SIGCONT) at $cont_at s,
#   rsync writes 4 bytes on the connection the daemon had closed, before
#   its receiver reads or after it read a little (a race of its two
#   processes: both seen in trials), and the daemon's kernel resets it
#   (data for a closed socket; what was unread lost): rsync says
#   "[receiver] read error: Connection reset by peer (104)". The reader stalled and the sender gave up on it
#   (a warning): zero_window_stall(client); its FIN never sent, no close
#   of an idle connection, no request on a connection reused after an
#   idle close (the 4 bytes are the stalled transfer's own).
# - The same timeout on a stalled writer: "push", rsync -a --bwlimit=1000
#   of an 8 MB file to data/up/ from the backup host, stopped at the same
#   moment: $pushw.
#   Those are rsync's keep-alives ("00 00 00 07", an empty multiplexed
#   data message), sent by the daemon's generator whenever it has written
#   nothing for ceil(timeout / 2) = 2 s on its whole-second clock. Its
#   check takes the later of its last read and its last write, and a
#   write to a stopped peer's kernel succeeds: the module's timeout never
#   fires on a pusher that stops ($gen generator timeouts in the log). The
#   stopped rsync reads none of them (ss at the late cut: $pushq). Open
#   at both ends, every segment acknowledged: a stalled application, not
#   the network. (With timeout = 3 in trials, the keep-alive every 2 s
#   raced the timeout on that clock: one daemon closed a stopped pusher
#   after some 6 s, another never did.)
# - No timeout before a module is chosen: "timeout" is a module's,
#   applied once its transfer starts (a global one is only the modules'
#   default). Raw sockets from the backup host: "rawsilent" never sends
#   ($silentw; the daemon's child waits in its first read, on no timer,
#   SO_KEEPALIVE at Linux's 2 h: ss at the late cut $silentq, the
#   greeting unread); "rawmodule" sends the greeting and "data" and never
#   the arguments ($modw; the daemon's child waits for them on no timer
#   either: $modq): both open at the late cut, some 16 s, and would stay
#   so; nothing closes them but the client. "rawquit" reads the
#   greeting, sends nothing and closes after 4 s: $quitw
#   (the daemon's child reads the EOF and exits): clean, the client's
#   TIME-WAIT.
# - rsync --contimeout=2 from the far host, whose packets to 873 the
#   server drops (nftables): $synw; at 2 s rsync gives up ("timeout
#   waiting for daemon connection (code 35)"), its socket closed in
#   SYN-SENT, nothing on the wire: unanswered SYNs (a firewall drops
#   them). --contimeout=2 --timeout=3 to the stopped daemon on 874:
#   $hungw.
#   The kernel completes the handshake into the listen queue and
#   acknowledges the greeting: connect() succeeds at once and
#   --contimeout does not help; rsync's --timeout does ("[Receiver] io
#   timeout after 4 seconds -- exiting", code 30: its clock starts at its
#   first idle wake-up, 2 s in: 6 s in all). The daemon never accepted
#   the connection:
#   at the late cut ss shows 874's listener with $lst and the socket $hungq
#   (the greeting and the FIN unread). A server that never came to a
#   connection its queue had room for: the CLOSE-WAIT is the listen
#   queue's, no application's leak; the client's close ends its wait for
#   an answer (a read timeout).
# The cuts (times after both holders' transfers began): early at
# $early_t s, the pull's window closed since $zw_t s, right after the
# fourth refusal ($estorm), the far clients started at $far_t s (one
# SYN; the greeting unanswered); mid at $mid_t s, after the daemon's
# timeout on the pull (logged by $timeout_at s), its FIN queued, the
# storm over, the client of the stopped daemon gone some 0.4 s before;
# late at $late_t s, 6 s after "get", the pull reset.
healthy cport=$(ports hold),$(ports list),$(ports lsmod),$(ports get)
expect cport=$(ports hold) client.ss=ESTAB n>=2 : open(client)
@early expect cport=$estorm n>=4 : accept_then_close(server) !stale_reuse_reset(client) !close_wait_leak(client) !idle_timeout_close(server) !open(client)
@mid,late expect cport=$storm n>=8 : accept_then_close(server) !stale_reuse_reset(client) !close_wait_leak(client) !idle_timeout_close(server) !open(client)
@mid,late infinding cport=$storm : reconnect_storm
@mid,late finding reconnect_storm
@mid,late says reconnect_storm : to $sv:873 in
@mid,late says reconnect_storm : opened 8 connections
@early expect cport=$(ports pull) client.ss=ESTAB server.ss=ESTAB n>=1 : zero_window_stall(client) !reset(client) !reset(server)
@mid expect cport=$(ports pull) client.ss=ESTAB n>=1 : zero_window_stall(client) !idle_timeout_close(server) !reset(client)
@late expect cport=$(ports pull) client.ss=CLOSED server.ss=CLOSED n>=1 : zero_window_stall(client) !stale_reuse_reset(client) !idle_timeout_close(server) !reset(client)
@late says zero_window_stall : stopped reading on 1 connection to $sv_backup:873
# The daemon had closed the stalled connection (its RST answers the
# resumed reader's first write, no FIN ever sent), whether or not the
# reader read a little of what its kernel still sent first.
@late says zero_window_stall : the sender gave up on the stalled reader
finding zero_window_stall
expect cport=$(ports push) client.ss=ESTAB server.ss=ESTAB n>=1 : open(client) !idle_timeout_close(server) !peer_unreachable(client) !peer_unreachable(server) !zero_window_stall(server) !zero_window_stall(client)
healthy cport=$(ports push)
expect cport=$(ports rawsilent),$(ports rawmodule) client.ss=ESTAB server.ss=ESTAB n>=2 : open(client) !idle_timeout_close(server) !accept_then_close(server)
healthy cport=$(ports rawsilent),$(ports rawmodule),$(ports rawquit)
@mid,late expect cport=$(ports rawquit) client.ss=TIME-WAIT n>=1 : clean(client) !reset(client) !reset(server) !accept_then_close(server)
@early expect cport=$(ports contimeout) client.ss=SYN-SENT n>=1 : open(client)
@mid,late expect cport=$(ports contimeout) n>=1 : unanswered_syn(server)
@mid,late finding unanswered_syn
@mid,late says unanswered_syn : did not answer 1 connection attempt from $far_ip
@early expect cport=$(ports hung) client.ss=ESTAB server.ss=ESTAB n>=1 : open(client) !close_wait_leak(server)
@mid,late expect cport=$(ports hung) client.ss=FIN-WAIT-2 server.ss=CLOSE-WAIT n>=1 : listen_overflow(server) idle_timeout_close(client) !close_wait_leak(server)
noproblem close_wait_leak
nofinding stale_reuse_reset
EXP
}

# stunnel_conf DIR FRONT BACKEND: a stunnel of its own in DIR, a TLS server
# on FRONT:8443 in front of the plain HTTP BACKEND.
stunnel_conf() {
	local d=$1
	self_signed "$d"
	cat >"$d/stunnel.conf" <<CONF
foreground = yes
pid = $d/stunnel.pid
output = $d/stunnel.log
syslog = no
debug = info
[https]
accept = $2:8443
connect = $3
cert = $d/cert.pem
key = $d/key.pem
TIMEOUTidle = 3
TIMEOUTbusy = 4
TIMEOUTclose = 1
CONF
}

# stunnel_wire FILE CPORT: the connection from CPORT as FILE shows it,
# times from its SYN: "c" the client's and "s" the server's TLS records
# (content types: 22 handshake, 20 change cipher spec, 23 application
# data: TLS 1.3 sends its alerts as such, a close_notify 24 bytes on the
# wire), FIN and RST.
stunnel_wire() {
	tshark -r "$1" -Y "tcp.port == $2" -T fields -e frame.number -e frame.time_relative -e ip.src -e tcp.flags.syn \
		-e tcp.flags.fin -e tcp.flags.reset -e tls.record.content_type -e tcp.len 2>/dev/null |
		awk -F'\t' -v cip="$client_ip" '
			$4 == 1 && t0 == "" { t0 = $2 }
			t0 == "" { next }
			{ w = ($3 == cip ? "c" : "s"); e = "" }
			$8 > 0 { e = w ($7 != "" ? " TLS(" $7 ")" : " data") " " $8 " B" }
			$5 == 1 { e = e (e ? "+" : "") w " FIN" }
			$6 == 1 { e = e (e ? "+" : "") w " RST" }
			e != "" { printf "%s#%d %s %.3f", s, $1, e, $2 - t0; s = ", " }
			END { print "" }'
}

# stunnel 5.68 as a TLS server in front of a plain nginx: its idle timeout
# (TIMEOUTidle 3 s) on idle TLS connections, a connection reused after it,
# curl with and without keep-alive, and a socket that never starts the
# handshake (TIMEOUTbusy 4 s).
sc_stunnel_tls() {
	host client; host proxy; host server
	wire client proxy
	local front=$proxy_ip d=$work/stunnel
	wire proxy server
	nginx_conf "$work/nginx" 8080 60s
	run_nginx server "$work/nginx"
	stunnel_conf "$d" "$front" "$server_ip:8080"
	on proxy stunnel "$d/stunnel.conf"
	listening server 8080
	listening proxy 8443
	capture proxy any "$work/cap.pcap" -B 16384
	begin stunnel-tls
	# http.client over TLS: a request, then reused 5 s later ("stale"),
	# or never read nor closed ("leak").
	client client $pylab stunnel_tls "$front" 8443 stale 5 15
	first_port 10 # the clock starts at the first request
	client client $pylab stunnel_tls "$front" 8443 leak 0 20
	# A socket that never starts the TLS handshake.
	client client $pylab stunnel_raw "$front" 8443 raw 20
	# curl -k, keep-alive off (Connection: close) and on (two requests on
	# one connection, then curl exits).
	client client curl -s -k -o /dev/null --max-time 5 -H 'Connection: close' -w 'curlclose %{local_port}\n' "https://$front:8443/ok"
	client client curl -s -k -o /dev/null --max-time 5 -w 'curlka %{local_port}\n' "https://$front:8443/ok" "https://$front:8443/ok"
	until_t 3.5 # stunnel's TIMEOUTidle (3 s) reset stale and leak; raw open
	cut early client proxy server
	until_t 5.6 # stale reused at 5 s; raw reset by TIMEOUTbusy at 4 s
	cut mid client proxy server
	until_t 12
	cut late client proxy server
	finish "$work/cap.pcap"
	local f=$out/$name@late.pcap p wire= log
	for p in stale leak raw curlclose curlka; do
		wire+="#   $p ($(ports $p)): $(stunnel_wire "$f" "$(ports $p)")
"
	done
	wire=$(echo -n "$wire" | fold -s -w 72 | sed '/^#/!s/^/#     /')
	# stunnel's own words for its timeouts and closes.
	log=$(grep -E 'TIMEOUT|Connection (reset|closed)|close_notify' "$d/stunnel.log" | sed 's/^[0-9.]* [0-9:]* /#   /' | sort | uniq -c |
		sed 's/^ *\([0-9]*\) #/#   (x\1)/')
	# stunnel's legs to nginx, reset in the same millisecond as the
	# client's leg.
	local legs
	legs=$(tshark -r "$f" -Y "tcp.flags.reset == 1" -T fields -e frame.number -e frame.time_relative -e tcp.srcport -e tcp.dstport 2>/dev/null |
		awk '{ printf "%s#%s %.4f s %s>%s", s, $1, $2, $3, $4; s = ", " }' | fold -s -w 68 | sed 's/^/#   /')
	local bport
	bport=$(tshark -r "$f" -Y "tcp.flags.reset == 1 && tcp.dstport == 8080" -T fields -e tcp.srcport 2>/dev/null | paste -sd,)
	echo "lab: $name: resets $legs; legs to nginx reset $bport" >&2
	echo "$wire" >&2
	expect <<EXP
# stunnel $(stunnel -version 2>&1 | sed -n 's/^stunnel \([0-9.]*\) .*/\1/p' | head -1) (Debian's $(dpkg-query -W -f '${Version}' stunnel4), OpenSSL $(openssl version | command cut -d' ' -f2)), run by
# hand in the middle host (foreground = yes, its own stunnel.conf, pid
# file and log, debug = info), a TLS server: service [https], accept
# $front:8443, connect $server_ip:8080 (nginx, plain HTTP,
# keepalive_timeout 60s), a self-signed certificate, TIMEOUTidle = 3,
# TIMEOUTbusy = 4, TIMEOUTclose = 1. stunnel does the TLS handshake first
# and connects to nginx only then; one connection to nginx per client
# connection. Captured on the middle host (-i any): both legs.
# The clients (times after the first request):
# - "stale": python http.client over TLS (HTTPSConnection, certificate
#   not checked), a request, then the next on the same connection 5 s
#   later, past TIMEOUTidle; "leak": the same, never used again nor
#   closed; "raw": a TCP socket to 8443 that never sends a ClientHello;
#   "curlclose": curl -k with Connection: close; "curlka": curl -k with
#   two URLs, both on one keep-alive connection, then curl exits.
# What the late capture shows of each (times after its SYN; TLS content
# types, 23 application data, which carries TLS 1.3's encrypted alerts:
# a close_notify is 24 bytes on the wire):
$wire
# stunnel's log (debug = info):
$log
# - TIMEOUTidle: after 3 s without traffic either way stunnel logs
#   "transfer: s_poll_wait: TIMEOUTidle exceeded: sending reset" and resets
#   BOTH legs, with no close_notify and no FIN: an RST to the client and,
#   in the same millisecond, an RST to nginx. The RSTs of the late
#   capture (times from its start, source port > destination port):
$legs
#   The client's leg is the server's idle timeout (idle_timeout_close of
#   8443, by RST); the leg to nginx is stunnel's close as nginx's client
#   (idle_timeout_close(client)): one relay, its inactivity timeout
#   closing both legs at once, nginx (60 s) closing nothing. No CLOSE_WAIT
#   anywhere: an RST leaves none. "leak" never learns of it until it
#   reads; "stale" sends its second request 2 s after the RST: its socket
#   already reset, python raises SSLEOFError ("EOF occurred in violation
#   of protocol") and nothing reaches the wire: no request after the
#   close, so no stale reuse to see in the capture (the error is the
#   client's, the cause the idle RST it saw).
# - TIMEOUTbusy: "raw" never starts the handshake; 4 s after its
#   connect stunnel logs "ssl_start: s_poll_wait: TIMEOUTbusy exceeded:
#   sending reset" and resets it: python reads "Connection reset by peer".
#   A handshake timeout (the client sent nothing), 4 s from the accept,
#   not the 3 s idle timer; no leg to nginx was ever opened.
# - curl closes first after its responses: close_notify and FIN; stunnel
#   reads them ("TLS closed (SSL_read)"), closes its leg to nginx with a
#   FIN (nginx answers with its own: TIME-WAIT on stunnel's side), and
#   sends its own close_notify ("SSL_shutdown successfully sent
#   close_notify alert") and FIN. When they reach a socket curl has
#   already closed, curl's kernel resets it; otherwise the close is a
#   clean one (a race: both seen in trials, and within one recording).
#   A clean close by curl either way; the RST only answers stunnel's
#   close_notify, nothing lost: healthy.
# The cuts (after the first request): early at 3.5 s, after the idle
# resets of stale and leak (about 3.0-3.2 s), raw still waiting for its
# handshake (ESTAB both ends); mid at 5.6 s, after raw's reset (about
# 4.1 s) and stale's failed reuse (5 s); late at 12 s.
expect cport=$(ports stale),$(ports leak) client.ss=CLOSED server.ss=CLOSED n>=2 : idle_timeout_close(server) !close_wait_leak(client) !stale_reuse_reset(client) !accept_then_close(server)
infinding cport=$(ports stale),$(ports leak) : idle_timeout_close
expect sport=8080 cport=$bport n>=2 : idle_timeout_close(client) !stale_reuse_reset(client) !stale_reuse_reset(server)
finding idle_timeout_close
says idle_timeout_close : after 3.0 s
# The relay: stunnel reset its leg to nginx in the same millisecond as
# each client leg it reset.
says idle_timeout_close : it is a TCP proxy relaying them
@early expect cport=$(ports raw) client.ss=ESTAB server.ss=ESTAB n>=1 : open(client)
@mid,late expect cport=$(ports raw) client.ss=CLOSED server.ss=CLOSED n>=1 : idle_timeout_close(server) !accept_then_close(server) !stale_reuse_reset(client)
expect cport=$(ports curlclose),$(ports curlka) n>=2 : !idle_timeout_close(server) !stale_reuse_reset(client) !close_wait_leak(client) !accept_then_close(server)
healthy cport=$(ports curlclose),$(ports curlka)
# Its other legs to nginx end with both FINs: nginx first after
# "Connection: close" (TIME-WAIT on nginx), stunnel first after curl's
# close on the keep-alive one (TIME-WAIT on stunnel).
expect sport=8080 cport!=$bport n>=2 : clean(client)|clean(server)
healthy sport=8080 cport!=$bport
nofinding close_wait_leak
nofinding stale_reuse_reset
nofinding accept_then_close
EXP
}

# dante_conf FILE IN OUT: a danted of its own listening on IN:1080, its
# outgoing connections from OUT; timeout.negotiate 3, timeout.io 4; no
# authentication; a socks block rule for the server's port 8081, every
# other CONNECT passed; its log to FILE.log.
dante_conf() {
	cat >"$1" <<CONF
logoutput: $1.log
debug: 0
internal: $2 port = 1080
external: $3
clientmethod: none
socksmethod: none
user.privileged: root
user.unprivileged: nobody
timeout.negotiate: 3
timeout.io: 4
client pass {
	from: 0.0.0.0/0 to: 0.0.0.0/0
	log: connect disconnect error
}
socks block {
	from: 0.0.0.0/0 to: 0.0.0.0/0 port = 8081
	log: connect error
}
socks pass {
	from: 0.0.0.0/0 to: 0.0.0.0/0
	command: connect
	log: connect disconnect error iooperation
}
CONF
	: >"$1.log"
}

# dante_curl ROLE PROXY URL: curl --socks5 through danted, in the client
# host, in the background; "ROLE CODE PORT TIME EXIT" to work/curl.
dante_curl() {
	ip netns exec "$tag-client" curl -s -o /dev/null --max-time 5 --socks5 "$2" \
		-w "$1 %{http_code} %{local_port} %{time_total} %{exitcode}\n" "$3" >>"$work/curl" 2>>"$work/log" &
	pids+=($!)
}

# dante_ev FILE CPORT: tp_events of a leg (SOCKS5's binary messages have
# no first word: their NUL bytes dropped).
dante_ev() {
	tp_events "$1" "$2" | tr -d '\0'
}

# Dante 1.4's SOCKS5 server (danted) between a client and nginx: its
# timeout.negotiate on a client that never negotiates, its timeout.io on
# an idle relayed session, a CONNECT refused by a socks block rule.
sc_dante_socks() {
	host client; host proxy; host server
	wire client proxy
	local front=$proxy_ip
	wire proxy server
	local back=$proxy_ip d=$work/dante n=$work/nginx
	mkdir -p "$d"
	nginx_conf "$n" 8080 60s "$server_ip"
	run_nginx server "$n"
	dante_conf "$d/danted.conf" "$front" "$back"
	on proxy danted -f "$d/danted.conf" -p "$d/danted.pid"
	listening server 8080
	listening proxy 1080
	: >"$work/curl"
	capture proxy any "$work/cap.pcap" -B 65536
	begin dante-socks
	client client $pylab dantesocks "$front" 1080 silent silent "$server_ip" 8080 20
	client client $pylab dantesocks "$front" 1080 idle idle "$server_ip" 8080 20
	client client $pylab dantesocks "$front" 1080 blocked blocked "$server_ip" 8081 20
	client client $pylab dantesocks "$front" 1080 greet greet "$server_ip" 8080 20
	client client $pylab dantesocks "$front" 1080 silentkeep silentkeep "$server_ip" 8080 20
	client client $pylab dantesocks "$front" 1080 idlekeep idlekeep "$server_ip" 8080 20
	client client $pylab dantesocks "$front" 1080 blockedkeep blockedkeep "$server_ip" 8081 20
	for i in $(seq 200); do
		[ "$(wc -l <"$work/ports")" -ge 7 ] && break
		[ "$i" -lt 200 ] || die "the python clients did not connect: $(tail -5 "$work/log")"
		sleep 0.05
	done
	t0=$(date +%s.%N) # the clock starts with every python client connected
	sleep 0.2 # their SOCKS exchanges done
	dante_curl curl1 "$front:1080" "http://$server_ip:8080/ok"
	dante_curl curl2 "$front:1080" "http://$server_ip:8080/big"
	until_t 1.0
	cut early client proxy server
	# mid: after the negotiate timeout's close (about 4 s), before the i/o
	# timeout's (about 5 s).
	until_t 4.6
	cut mid client proxy server
	until_t 9
	cut late client proxy server
	finish "$work/cap.pcap"
	awk '{ print $1, $3 }' "$work/curl" >>"$work/ports"
	echo "lab: $name: curl (role, code, port, time, exit): $(sort "$work/curl" | tr '\n' ';')" >&2
	echo "lab: $name: danted's log: $(grep -v 'info: .*pass(1)\|^$' "$d/danted.conf.log" | sed 's/^[A-Z][a-z][a-z] [0-9 ]*[0-9:]* ([0-9.]*) danted\[[0-9]*\]: //' | tr '\n' '|' | head -c 3000)" >&2
	# Each leg apart (danted connects to nginx from the client's port
	# number): the client leg's packets and the server leg's.
	local late=$out/$name@late.pcap neglog iolog
	neglog=$(grep -o 'negotiate timeout after [0-9]* seconds' "$d/danted.conf.log" | sort | uniq -c | awk '{ n = $1; $1 = ""; printf "%s\"%s\" x%d", (NR > 1 ? ", " : ""), substr($0, 2), n }')
	iolog=$(grep -o 'i/o timeout.  Session duration: [0-9]*s' "$d/danted.conf.log" | sed 's/  */ /g' | sort | uniq -c | awk '{ n = $1; $1 = ""; printf "%s\"%s\" x%d", (NR > 1 ? ", " : ""), substr($0, 2), n }')
	tshark -r "$late" -Y "tcp && ip.addr == $front" -w "$work/front.pcap" 2>/dev/null
	tshark -r "$late" -Y "tcp && ip.addr == $back" -w "$work/back.pcap" 2>/dev/null
	expect <<EXP
# Dante $(danted -v 2>&1 | awk 'NR == 1 { sub(/^v/, "", $2); sub(/\.$/, "", $2); print $2 }') (Debian's dante-server $(dpkg-query -W -f '${Version}' dante-server)): danted, a SOCKS5 server run by
# hand in the proxy host (danted -f, its own danted.conf; the system's
# service not started), between the client host and nginx 1.22 on the
# server host (port 8080, keepalive_timeout 60s); captured on the proxy
# (-i any: both legs). danted: no authentication (socksmethod none),
# timeout.negotiate 3, timeout.io 4, a "socks block" rule for every
# CONNECT to port 8081, every other CONNECT passed. danted connects to
# nginx from the client's own port number: each relayed session is two
# flows with the same client port, one to $front:1080, one from $back to
# $server_ip:8080. Clients: python3 raw sockets speaking SOCKS5 and curl
# $(curl --version | awk 'NR == 1 { print $2 }') --socks5. The clock starts when the seven python
# clients have connected; cuts: early $(tp_cut_at early) s, everyone connected, the
# sessions idle; mid $(tp_cut_at mid) s, after the negotiate timeout's close and
# before the i/o timeout's; late $(tp_cut_at late) s, everything closed.
# Each connection as the late capture shows it (times from its SYN; c the
# client, s the server of that leg; data with its first word and bytes).
#
# - "silent" connects and never sends its method greeting: danted's
#   negotiate timeout closes it with a bare FIN (no RST, no SOCKS reply)
#   over 4 s after the accept (each FIN below; timeout.negotiate 3: danted
#   checks its timers at a one-second granularity; its log: $neglog);
#   the client reads EOF and closes: an idle-timeout
#   close of the server's on a connection that never sent a first
#   message (a handshake or login timeout), not a refusal.
#   "silentkeep" does the same and never reads nor closes: CLOSE_WAIT on
#   the client to the end (its leak), FIN_WAIT_2 on the proxy. "greet"
#   sends its method greeting, gets danted's choice (0x05 0x00) and never
#   sends its request: the same negotiate timeout (counted from the
#   accept), the same bare FIN.
#   silent $(ports silent): $(dante_ev "$work/front.pcap" "$(ports silent)")
#   silentkeep $(ports silentkeep): $(dante_ev "$work/front.pcap" "$(ports silentkeep)")
#   greet $(ports greet): $(dante_ev "$work/front.pcap" "$(ports greet)")
# - "idle" negotiates, CONNECTs to nginx (reply 0x00), sends one HTTP/1.1
#   GET through it, reads the 200 and stays idle. danted's i/o timeout
#   closes both legs at once (log: $iolog):
#   its FIN to the client and its FIN to nginx within a millisecond, some
#   5 s after the last data (timeout.io 4, same granularity); nginx
#   answers its FIN at once, the client reads EOF and closes: a relay's
#   inactivity timeout closing both legs, healthy by itself.
#   idle $(ports idle), client leg: $(dante_ev "$work/front.pcap" "$(ports idle)")
#   idle $(ports idle), server leg: $(dante_ev "$work/back.pcap" "$(ports idle)")
#   "idlekeep" does the same and never reads again nor closes: the same
#   two FINs, nginx closing its leg in turn, the client's socket left in
#   CLOSE_WAIT to the end (its leak; FIN_WAIT_2 on the proxy).
#   idlekeep $(ports idlekeep), client leg: $(dante_ev "$work/front.pcap" "$(ports idlekeep)")
#   idlekeep $(ports idlekeep), server leg: $(dante_ev "$work/back.pcap" "$(ports idlekeep)")
# - "blocked" negotiates and CONNECTs to $server_ip:8081: the socks block
#   rule refuses it: SOCKS5 reply 0x02 ("connection not allowed by
#   ruleset") and danted's FIN right behind it (log "blocked by
#   higher-level socks-rule #1"); no connection to the server. A refusal
#   by the proxy's access rules after the accept, within a millisecond:
#   accepted, then closed at once, with an error refusing the client.
#   "blockedkeep" reads the refusal and never closes (CLOSE_WAIT on the
#   client to the end, its leak).
#   blocked $(ports blocked): $(dante_ev "$work/front.pcap" "$(ports blocked)")
#   blockedkeep $(ports blockedkeep): $(dante_ev "$work/front.pcap" "$(ports blockedkeep)")
# - curl --socks5 (curl1: /ok, curl2: /big, 16 KB): answered, curl closes
#   first, danted closes the nginx leg right after: healthy.
#   curl1 $(ports curl1): $(dante_ev "$work/front.pcap" "$(ports curl1)")
#   curl2 $(ports curl2): $(dante_ev "$work/front.pcap" "$(ports curl2)")
healthy sport=1080 cport=$(ports curl1),$(ports curl2)
healthy sport=8080 cport=$(ports curl1),$(ports curl2)
nofinding stale_reuse_reset
nofinding listen_overflow
nofinding reconnect_storm
@early expect sport=1080 cport=$(ports silent) client.ss=ESTAB : open(client) !idle_timeout_close(server)
@early expect sport=1080 cport=$(ports idle) client.ss=ESTAB : open(client) !idle_timeout_close(server)
@early,mid expect sport=8080 cport=$(ports idle) server.ss=ESTAB : open(client) !idle_timeout_close(client)
@mid expect sport=1080 cport=$(ports idle) client.ss=ESTAB : open(client) !idle_timeout_close(server)
@early expect sport=1080 cport=$(ports silentkeep),$(ports greet),$(ports idlekeep) client.ss=ESTAB n>=3 : open(client) !idle_timeout_close(server)
@mid,late expect sport=1080 cport=$(ports silent),$(ports greet) n>=2 : idle_timeout_close(server) !accept_then_close(server) !close_wait_leak(client)
# Young CLOSE_WAITs (0.2 s at mid, 0.9 s at early) may be leaks or not yet.
@mid expect sport=1080 cport=$(ports silentkeep) client.ss=CLOSE-WAIT : idle_timeout_close(server) !accept_then_close(server) close_wait_leak(client)|open(client)
@late expect sport=1080 cport=$(ports silentkeep) client.ss=CLOSE-WAIT : idle_timeout_close(server) !accept_then_close(server) close_wait_leak(client)
@mid expect sport=1080 cport=$(ports idlekeep) client.ss=ESTAB : open(client) !idle_timeout_close(server)
@late expect sport=1080 cport=$(ports idlekeep) client.ss=CLOSE-WAIT : idle_timeout_close(server) close_wait_leak(client)
@late expect sport=8080 cport=$(ports idlekeep) : idle_timeout_close(client) !close_wait_leak(server)
@early expect sport=1080 cport=$(ports blockedkeep) client.ss=CLOSE-WAIT : accept_then_close(server) close_wait_leak(client)|open(client)
@mid,late expect sport=1080 cport=$(ports blockedkeep) client.ss=CLOSE-WAIT : accept_then_close(server) close_wait_leak(client)
finding close_wait_leak
@late infinding sport=1080 cport=$(ports silentkeep),$(ports idlekeep),$(ports blockedkeep) : close_wait_leak
@late says close_wait_leak : holds 3 connections
@mid,late finding idle_timeout_close
# The negotiate timeout's closes (no SOCKS request ever came) are a
# timeout for a first request, a handshake timeout, not a keep-alive one.
@mid,late says idle_timeout_close : handshake timeout
@late expect sport=1080 cport=$(ports idle) : idle_timeout_close(server) !close_wait_leak(client)
@late expect sport=8080 cport=$(ports idle) : idle_timeout_close(client) !close_wait_leak(server)
@late says idle_timeout_close : it is a TCP proxy relaying them
expect sport=1080 cport=$(ports blocked) : accept_then_close(server) !close_wait_leak(client)
finding accept_then_close
EXP
}

all="nginx_404_leak httpclient_pool tomcat_leak haproxy_python_leak zk_cap node_maxconn proxy_leak nginx_clean haproxy_timeout half_close_stream listen_overflow gunicorn_backlog tomcat_accept_queue keepalive_silence db_idle mariadb_idle firewall_idle nginx_stale postgres_idle apache_keepalive apache_tls ab_timewait ftp_idle node_keepalive_race lossy_capture port_exhaustion h2_idle squid_pconn nginx_tls_leak haproxy_tls_stale node_tls_race postgres_tls_idle mariadb_tls_idle go_h2_idle lighttpd_keepalive gunicorn_upstream varnish_backend caddy_proxy mosquitto_keepalive pgbouncer_idle redis_pool jdk_httpclient node_fetch_undici nginx_h2_tls grpc_idle grpc_keepalive nginx_node_upstream apache_proxy_upstream uvicorn_haproxy server_cap_refusal request_timeouts server_reload download_stall perl_curl_pools more_caps websocket_idle health_checks tls_failures sshd_limits haproxy_maxconn php_fpm_fastcgi rabbitmq_heartbeat apache_ajp_tomcat haproxy_tcp_db slapd_idle ipv6_incidents postfix_smtp dovecot_imap unbound_dns_tcp ngircd_irc uwsgi_nginx nats_server tinyproxy exim_smtp jetty_idle rsyncd stunnel_tls dante_socks"
# What the newer scenarios need besides, checked before any is recorded.
for s in ${@:-$all}; do
	case ${s//-/_} in
	postgres_idle | postgres_tls_idle)
		[ "${s//-/_}" = postgres_idle ] || command -v openssl >/dev/null || die "needs openssl"
		[ -x "$(pg_bindir)/initdb" ] && [ -x "$(pg_bindir)/postgres" ] && id postgres >/dev/null 2>&1 || die "needs postgresql"
		command -v psql >/dev/null || die "needs psql (postgresql-client)"
		$py -c 'import psycopg2' 2>/dev/null || die "needs python3-psycopg2"
		;;
	apache_keepalive)
		command -v apache2 >/dev/null && [ -f /usr/lib/apache2/modules/mod_mpm_event.so ] || die "needs apache2"
		;;
	apache_tls)
		command -v apache2 >/dev/null && [ -f /usr/lib/apache2/modules/mod_mpm_event.so ] && [ -f /usr/lib/apache2/modules/mod_ssl.so ] || die "needs apache2 (with mod_ssl)"
		command -v openssl >/dev/null || die "needs openssl"
		;;
	ab_timewait) command -v ab >/dev/null || die "needs ab (apache2-utils)" ;;
	ftp_idle) command -v vsftpd >/dev/null || die "needs vsftpd" ;;
	node_keepalive_race | jdk_httpclient | nginx_node_upstream) command -v tshark >/dev/null || die "needs tshark" ;;
	apache_proxy_upstream)
		command -v apache2 >/dev/null && [ -f /usr/lib/apache2/modules/mod_proxy_http.so ] || die "needs apache2 (with mod_proxy_http)"
		command -v tshark >/dev/null || die "needs tshark"
		;;
	lossy_capture) command -v ab >/dev/null || die "needs ab (apache2-utils)" ;;
	h2_idle) $py -c 'import h2' 2>/dev/null || die "needs python3-h2" ;;
	squid_pconn) command -v squid >/dev/null || die "needs squid" ;;
	lighttpd_keepalive)
		command -v lighttpd >/dev/null || die "needs lighttpd"
		$py -c 'import aiohttp' 2>/dev/null || die "needs python3-aiohttp"
		;;
	gunicorn_upstream) $py -c 'import gunicorn' 2>/dev/null || die "needs gunicorn" ;;
	websocket_idle) $py -c 'import aiohttp' 2>/dev/null || die "needs python3-aiohttp" ;;
	request_timeouts) $py -c 'import gunicorn' 2>/dev/null && command -v tshark >/dev/null || die "needs gunicorn and tshark" ;;
	gunicorn_backlog) $py -c 'import gunicorn' 2>/dev/null && command -v tshark >/dev/null || die "needs gunicorn and tshark" ;;
	tomcat_accept_queue) [ -f /usr/share/java/tomcat10-servlet-api.jar ] && command -v tshark >/dev/null || die "needs tomcat10 and tshark" ;;
	server_reload)
		command -v apache2 >/dev/null && [ -f /usr/lib/apache2/modules/mod_mpm_event.so ] || die "needs apache2"
		command -v haproxy >/dev/null && command -v tshark >/dev/null || die "needs haproxy and tshark"
		;;
	download_stall) command -v tshark >/dev/null || die "needs tshark" ;;
	perl_curl_pools)
		perl -MLWP::UserAgent -e 1 2>/dev/null || die "needs libwww-perl"
		command -v tshark >/dev/null || die "needs tshark"
		;;
	uvicorn_haproxy)
		$py -c 'import uvicorn' 2>/dev/null && command -v haproxy >/dev/null || die "needs python3-uvicorn and haproxy"
		command -v tshark >/dev/null || die "needs tshark"
		;;
	varnish_backend) command -v varnishd >/dev/null || die "needs varnish" ;;
	caddy_proxy) command -v caddy >/dev/null || die "needs caddy" ;;
	mosquitto_keepalive)
		command -v mosquitto >/dev/null && command -v mosquitto_sub >/dev/null || die "needs mosquitto and mosquitto-clients"
		$py -c 'import paho.mqtt.client' 2>/dev/null || die "needs python3-paho-mqtt"
		;;
	pgbouncer_idle)
		command -v pgbouncer >/dev/null || die "needs pgbouncer"
		[ -x "$(pg_bindir)/initdb" ] && [ -x "$(pg_bindir)/postgres" ] && id postgres >/dev/null 2>&1 || die "needs postgresql"
		$py -c 'import psycopg2' 2>/dev/null || die "needs python3-psycopg2"
		;;
	redis_pool) $py -c 'import redis' 2>/dev/null || die "needs python3-redis" ;;
	server_cap_refusal)
		[ -x "$(pg_bindir)/initdb" ] && [ -x "$(pg_bindir)/postgres" ] && id postgres >/dev/null 2>&1 || die "needs postgresql"
		command -v vsftpd >/dev/null && command -v mosquitto >/dev/null && command -v tshark >/dev/null || die "needs vsftpd, mosquitto and tshark"
		$py -c 'import redis, psycopg2, paho.mqtt.client' 2>/dev/null || die "needs python3-redis, python3-psycopg2 and python3-paho-mqtt"
		;;
	more_caps) command -v tshark >/dev/null || die "needs tshark" ;;
	health_checks) command -v tshark >/dev/null || die "needs tshark" ;;
	tls_failures) command -v openssl >/dev/null && command -v tshark >/dev/null || die "needs openssl and tshark" ;;
	sshd_limits) [ -x /usr/sbin/sshd ] && command -v ssh >/dev/null && command -v tshark >/dev/null || die "needs openssh-server, openssh-client and tshark" ;;
	haproxy_maxconn) $py -c 'import gunicorn' 2>/dev/null && command -v tshark >/dev/null || die "needs gunicorn and tshark" ;;
	apache_ajp_tomcat)
		command -v apache2 >/dev/null && [ -f /usr/lib/apache2/modules/mod_proxy_ajp.so ] || die "needs apache2 (with mod_proxy_ajp)"
		[ -f /usr/share/java/tomcat10-servlet-api.jar ] && command -v tshark >/dev/null || die "needs tomcat10 and tshark"
		;;
	php_fpm_fastcgi)
		command -v php-fpm8.2 >/dev/null && command -v ab >/dev/null && command -v tshark >/dev/null || die "needs php8.2-fpm, ab (apache2-utils) and tshark"
		;;
	haproxy_tcp_db) $py -c 'import pymysql, redis' 2>/dev/null && command -v tshark >/dev/null || die "needs python3-pymysql, python3-redis and tshark" ;;
	rabbitmq_heartbeat)
		[ -x /usr/lib/rabbitmq/bin/rabbitmq-server ] && command -v epmd >/dev/null || die "needs rabbitmq-server"
		$py -c 'import pika' 2>/dev/null && command -v tshark >/dev/null || die "needs python3-pika and tshark"
		;;
	ipv6_incidents) $py -c 'import redis' 2>/dev/null && command -v tshark >/dev/null || die "needs python3-redis and tshark" ;;
	slapd_idle)
		command -v slapd >/dev/null && command -v slapadd >/dev/null && command -v ldapsearch >/dev/null || die "needs slapd and ldap-utils"
		$py -c 'import ldap3' 2>/dev/null && command -v tshark >/dev/null || die "needs python3-ldap3 and tshark"
		;;
	postfix_smtp)
		command -v postfix >/dev/null && [ -x /usr/lib/postfix/sbin/master ] || die "needs postfix"
		command -v swaks >/dev/null && command -v tshark >/dev/null || die "needs swaks and tshark"
		;;
	dovecot_imap) command -v dovecot >/dev/null && [ -x /usr/lib/dovecot/imap ] && command -v tshark >/dev/null || die "needs dovecot-imapd and tshark" ;;
	unbound_dns_tcp)
		command -v unbound >/dev/null && command -v dig >/dev/null && command -v kdig >/dev/null || die "needs unbound, bind9-dnsutils and knot-dnsutils"
		$py -c 'import dns.query' 2>/dev/null && command -v tshark >/dev/null || die "needs python3-dnspython and tshark"
		;;
	ngircd_irc) command -v ngircd >/dev/null && command -v ii >/dev/null && command -v sic >/dev/null && command -v tshark >/dev/null || die "needs ngircd, ii, sic and tshark" ;;
	uwsgi_nginx)
		command -v uwsgi >/dev/null && [ -f /usr/lib/uwsgi/plugins/python3_plugin.so ] && [ -f /usr/lib/uwsgi/plugins/http_plugin.so ] || die "needs uwsgi (uwsgi-core) and uwsgi-plugin-python3"
		command -v tshark >/dev/null || die "needs tshark"
		;;
	stunnel_tls) command -v stunnel >/dev/null && command -v openssl >/dev/null && command -v tshark >/dev/null || die "needs stunnel4, openssl and tshark" ;;
	rsyncd) command -v rsync >/dev/null && command -v tshark >/dev/null || die "needs rsync and tshark" ;;
	dante_socks) command -v danted >/dev/null && command -v curl >/dev/null && command -v tshark >/dev/null || die "needs dante-server (danted), curl and tshark" ;;
	nats_server)
		command -v nats-server >/dev/null && command -v tshark >/dev/null || die "needs nats-server and tshark"
		[ -d /usr/share/gocode/src/github.com/nats-io/nats.go ] || die "needs golang-github-nats-io-go-nats-dev"
		;;
	tinyproxy) command -v tinyproxy >/dev/null && command -v openssl >/dev/null && command -v tshark >/dev/null || die "needs tinyproxy (tinyproxy-bin), openssl and tshark" ;;
	exim_smtp)
		command -v exim >/dev/null && [ -f /usr/sbin/exim4 ] && id Debian-exim >/dev/null 2>&1 ||
			die "needs exim4-daemon-light (it conflicts with postfix: exim-smtp and postfix-smtp are recorded on different machines)"
		command -v swaks >/dev/null && command -v tshark >/dev/null || die "needs swaks and tshark"
		;;
	jetty_idle)
		[ -f /usr/share/jetty9/start.jar ] && [ -f /usr/share/jetty9/lib/servlet-api-3.1.jar ] || die "needs jetty9"
		command -v tshark >/dev/null || die "needs tshark"
		;;
	nginx_h2_tls) command -v openssl >/dev/null && $py -c 'import h2' 2>/dev/null || die "needs openssl and python3-h2" ;;
	grpc_idle) command -v openssl >/dev/null && $py -c 'import grpc, h2' 2>/dev/null || die "needs openssl, python3-grpcio and python3-h2" ;;
	grpc_keepalive) $py -c 'import grpc' 2>/dev/null || die "needs python3-grpcio" ;;
	nginx_tls_leak | haproxy_tls_stale | mariadb_tls_idle | go_h2_idle) command -v openssl >/dev/null || die "needs openssl" ;;
	node_tls_race) command -v openssl >/dev/null && command -v tshark >/dev/null || die "needs openssl and tshark" ;;
	esac
done
for s in ${@:-$all}; do
	s=${s//-/_}
	declare -F "sc_$s" >/dev/null || die "no scenario $s (have: $all)"
	net=0
	"sc_$s"
done
