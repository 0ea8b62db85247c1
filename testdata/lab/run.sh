#!/usr/bin/env bash
# The flowdoc lab: real kernel TCP traffic between network namespaces,
# captured with tcpdump, with `ss -tan` on every host at the moment the
# capture ended as ground truth.
#
# Usage (as root): testdata/lab/run.sh [SCENARIO...]   (default: all)
#
# For each scenario it writes, next to the other test captures:
#   testdata/NAME.pcap[ng]     the capture
#   testdata/NAME.truth        when the capture ended, each host's addresses
#                              and its `ss -tanH` lines
#   testdata/NAME.tshark       `tshark -q -z conv,tcp` on the capture
#   testdata/NAME.ipbytes      IP bytes per direction, from tshark (ipbytes.sh)
# Traffic stays inside namespaces named flowdoc-lab-<pid>-*, deleted by
# name on exit, as are the processes started (by PID).
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
out=${LAB_OUT:-$(cd "$here/.." && pwd)}
tag=flowdoc-lab-$$
work=$(mktemp -d)
pids=()
namespaces=()
capture_pid=
net=0

. "$here/lib.sh"

(cd "$here/../.." && go build -o "$work/labpeer" ./cmd/tools/labpeer)
peer=$work/labpeer

# finish NAME FILE HOST...: stop the capture, take the truth on each host,
# stop the peers and remove the hosts.
finish() {
	local name=$1 file=$2
	shift 2
	kill -INT "$capture_pid"
	wait "$capture_pid" 2>/dev/null || true
	capture_pid=
	local truth=$out/$name.truth
	{
		echo "# flowdoc lab ground truth: ss -tan on each host when the capture ended."
		echo "scenario $name"
		echo "at $(date -u +%Y-%m-%dT%H:%M:%S.%NZ)"
		for h in "$@"; do
			echo "host $h $(eval echo \$addrs_$h)"
			ip netns exec "$tag-$h" ss -tanH | sed 's/  */ /g'
		done
	} >"$truth"
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
	for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
	pids=()
	for n in "${namespaces[@]}"; do ip netns del "$n"; done
	namespaces=()
	case $file in
	*.pcapng) editcap -F pcapng "$file" "$out/$(basename "$file")" ;; # tcpdump writes pcap
	*) cp "$file" "$out/$(basename "$file")" ;;
	esac
	if command -v tshark >/dev/null; then
		tshark -q -z conv,tcp -r "$file" >"$out/$name.tshark" 2>/dev/null
		"$here/ipbytes.sh" "$file" >"$out/$name.ipbytes"
	fi
	if [ -s "$work/log" ]; then sed 's/^/  /' "$work/log"; : >"$work/log"; fi
	printf 'lab: %-16s %5d packets  %s\n' "$name" "$(tcpdump -r "$file" 2>/dev/null | wc -l)" "$(basename "$file")"
}

# Incident 1: a server closes idle keep-alive connections (its keep-alive
# timeout, 2 s here for Tomcat's 20 s); the client never closes any socket,
# so each sits in CLOSE_WAIT.
sc_keepalive_leak() {
	host client; host server; wire client server
	on server "$peer" server -listen "$server_ip:8080" -idle 2s
	sleep 0.3
	capture client "$client_if" "$work/keepalive-leak.pcap"
	on client "$peer" client -connect "$server_ip:8080" -n 6 -interval 300ms -paths /upload -leak all
	sleep 6.5 # the last leak is a few seconds old when the capture ends
	finish keepalive-leak "$work/keepalive-leak.pcap" client server
}

# Incident 2: the client releases connections only on 200; after a 404 or
# 500 it returns early and the socket is never closed.
sc_non200_leak() {
	host client; host server; wire client server
	on server "$peer" server -listen "$server_ip:8080" -idle 1500ms
	sleep 0.3
	capture client "$client_if" "$work/non200-leak.pcap"
	on client "$peer" client -connect "$server_ip:8080" -n 8 -interval 200ms -paths /ok,/status/404,/ok,/status/500 -leak non200
	sleep 6
	finish non200-leak "$work/non200-leak.pcap" client server
}

# Incident 3: a client that opens a connection per request and closes it
# first holds each port in TIME_WAIT; with a narrow port range it runs out.
sc_timewait_storm() {
	host client; host server; wire client server
	ip netns exec "$tag-client" sysctl -qw net.ipv4.ip_local_port_range="40000 40039"
	on server "$peer" server -listen "$server_ip:8080"
	sleep 0.3
	capture client "$client_if" "$work/timewait-storm.pcap" --time-stamp-precision=nano
	on client "$peer" client -connect "$server_ip:8080" -n 60 -interval 20ms
	sleep 3
	finish timewait-storm "$work/timewait-storm.pcap" client server
}

# Incident 4: a server at its per-client connection cap accepts and closes
# at once; the client reconnects in a loop.
sc_accept_close() {
	host client; host server; wire client server
	on server "$peer" server -listen "$server_ip:2181" -accept-close
	sleep 0.3
	capture client "$client_if" "$work/accept-close.pcap"
	on client "$peer" client -connect "$server_ip:2181" -n 25 -interval 60ms -close-order server
	sleep 3
	finish accept-close "$work/accept-close.pcap" client server
}

# Incident 5: a proxy waits on its upstream with no timeout; its caller
# gives up after 2 s and closes, but the proxy never closes the caller's
# socket. Captured on the proxy with `tcpdump -i any` (LINUX_SLL2).
sc_proxy() {
	host caller; host proxy; host upstream
	wire caller proxy
	local front=$proxy_ip # the address callers use; the next link sets another
	wire proxy upstream
	on upstream "$peer" server -listen "$upstream_ip:9000" -delay 60s
	on proxy "$peer" proxy -listen "$front:8080" -upstream "$upstream_ip:9000"
	sleep 0.3
	capture proxy any "$work/proxy-any.pcap"
	on caller "$peer" client -connect "$front:8080" -n 3 -interval 200ms -timeout 2s
	sleep 4
	finish proxy-any "$work/proxy-any.pcap" caller proxy upstream
}

# A port nobody listens on: SYN answered by RST.
sc_refused() {
	host client; host server; wire client server
	capture client "$client_if" "$work/refused.pcap"
	on client "$peer" client -connect "$server_ip:8081" -n 3 -interval 200ms
	sleep 1.5
	finish refused "$work/refused.pcap" client server
}

# SYNs dropped by a firewall on the server: one client gives up after 2 s,
# the other is still retrying when the capture ends.
sc_unanswered() {
	host client; host server; wire client server
	ip netns exec "$tag-server" nft add table inet flowdoc
	ip netns exec "$tag-server" nft add chain inet flowdoc in '{ type filter hook input priority 0; }'
	ip netns exec "$tag-server" nft add rule inet flowdoc in tcp dport 8080 drop
	on server "$peer" server -listen "$server_ip:8080"
	sleep 0.3
	capture client "$client_if" "$work/unanswered.pcap"
	on client "$peer" client -connect "$server_ip:8080" -n 1 -timeout 2s
	on client "$peer" client -connect "$server_ip:8080" -n 1
	sleep 6
	finish unanswered "$work/unanswered.pcap" client server
}

# A server that never accepts: with backlog 1 its accept queue holds two
# connections; the ACKs of the rest are dropped and the server sends its
# SYN-ACK again.
sc_listen_overflow() {
	host client; host server; wire client server
	on server "$peer" server -listen "$server_ip:8080" -no-accept -backlog 1
	sleep 0.3
	capture client "$client_if" "$work/listen-overflow.pcap"
	on client "$peer" client -connect "$server_ip:8080" -n 5 -parallel -timeout 30s
	sleep 5
	finish listen-overflow "$work/listen-overflow.pcap" client server
}

# A pooled connection reused after the server's idle timeout closed it:
# the request is answered with RST.
sc_stale_reuse() {
	host client; host server; wire client server
	on server "$peer" server -listen "$server_ip:8080" -idle 1s
	sleep 0.3
	capture client "$client_if" "$work/stale-reuse.pcap"
	on client "$peer" client -connect "$server_ip:8080" -n 2 -parallel -reuse-after 2s
	sleep 3
	finish stale-reuse "$work/stale-reuse.pcap" client server
}

# A server that stops reading: its receive window closes and the client
# probes the zero window.
sc_zero_window() {
	host client; host server; wire client server
	on server "$peer" server -listen "$server_ip:8080" -no-read
	sleep 0.3
	capture client "$client_if" "$work/zero-window.pcap"
	on client "$peer" client -connect "$server_ip:8080" -n 1 -flood 4000000
	sleep 4
	finish zero-window "$work/zero-window.pcap" client server
}

# A legitimate half-close: the client shuts down its sending side after the
# request; the server reads to EOF, answers and closes.
sc_half_close() {
	host client; host server; wire client server
	on server "$peer" server -listen "$server_ip:8080" -half-close
	sleep 0.3
	capture client "$client_if" "$work/half-close.pcap"
	on client "$peer" client -connect "$server_ip:8080" -n 3 -interval 100ms -half-close -close-order server
	sleep 1.5
	finish half-close "$work/half-close.pcap" client server
}

# Healthy traffic: client-closed, server-closed (idle timeout, the client
# closes at once), aborted with RST, and connections still open.
sc_clean() {
	host client; host server; wire client server
	on server "$peer" server -listen "$server_ip:80" -idle 1s
	on server "$peer" server -listen "$server_ip:8443"
	sleep 0.3
	capture client "$client_if" "$work/clean.pcapng" --time-stamp-precision=nano
	on client "$peer" client -connect "$server_ip:80" -n 4 -interval 50ms
	on client "$peer" client -connect "$server_ip:80" -n 2 -interval 50ms -close-order server
	on client "$peer" client -connect "$server_ip:8443" -n 1 -abort
	on client "$peer" client -connect "$server_ip:8443" -n 2 -leak all
	sleep 2.5
	finish clean "$work/clean.pcapng" client server
}

# The capture starts after the connections were made: all it sees of them
# is the server's FIN after its idle timeout and the client's ACK.
sc_midstream() {
	host client; host server; wire client server
	on server "$peer" server -listen "$server_ip:8080" -idle 3s
	sleep 0.3
	on client "$peer" client -connect "$server_ip:8080" -n 4 -interval 100ms -leak all
	sleep 1.5
	capture client "$client_if" "$work/midstream.pcap"
	sleep 5
	finish midstream "$work/midstream.pcap" client server
}

# IPv6: leaks and clean closes.
sc_ipv6() {
	host client; host server; wire client server v6
	on server "$peer" server -listen "[$server_ip]:8080" -idle 1s
	sleep 0.5
	capture client "$client_if" "$work/ipv6.pcap"
	on client "$peer" client -connect "[$server_ip]:8080" -n 3 -interval 100ms -leak all
	on client "$peer" client -connect "[$server_ip]:8080" -n 3 -interval 100ms
	sleep 4.5
	finish ipv6 "$work/ipv6.pcap" client server
}

# TCP keep-alive: an idle connection probed every second (the client's
# socket option), and one idle without probes.
sc_keepalive() {
	host client; host server; wire client server
	on server "$peer" server -listen "$server_ip:5432"
	sleep 0.3
	capture client "$client_if" "$work/keepalive.pcap"
	on client "$peer" client -connect "$server_ip:5432" -n 1 -leak all -keepalive 1s
	on client "$peer" client -connect "$server_ip:5432" -n 1 -leak all
	sleep 4.5
	finish keepalive "$work/keepalive.pcap" client server
}

# HTTP with a Keep-Alive header: the server advertises its real idle
# timeout (2 s); the client leaks the connections that got an error.
sc_http_keepalive() {
	host client; host server; wire client server
	on server "$peer" httpd -listen "$server_ip:8080" -idle 2s -advertise 2s
	sleep 0.3
	capture client "$client_if" "$work/http-keepalive.pcap"
	on client "$peer" http -connect "$server_ip:8080" -n 6 -interval 200ms -requests "GET /ok,GET /status/404,GET /status/503" -leak non200
	sleep 4.5 # the leaks are a few seconds old when a last request comes
	on client "$peer" http -connect "$server_ip:8080" -requests "GET /health"
	sleep 0.5
	finish http-keepalive "$work/http-keepalive.pcap" client server
}

# The server advertises Keep-Alive: timeout=5 but closes after 2 s; the
# client trusts the header and sends its next request after 3 s: RST.
sc_http_stale() {
	host client; host server; wire client server
	on server "$peer" httpd -listen "$server_ip:8080" -idle 2s -advertise 5s
	sleep 0.3
	capture client "$client_if" "$work/http-stale.pcap"
	on client "$peer" http -connect "$server_ip:8080" -requests "GET /orders,POST /orders" -pause 3s
	sleep 4
	finish http-stale "$work/http-stale.pcap" client server
}

# One connection: four pipelined requests (a HEAD, a POST with Expect:
# 100-continue) answered with bodies of several segments, two of them
# chunked; the client closes. http-lossy is derived from it (cmd/tools/labmangle):
# the same traffic with a segment lost, two reordered and one repeated.
sc_http_pipeline() {
	host client; host server; wire client server
	on server "$peer" httpd -listen "$server_ip:8080" -chunked -body 12000
	sleep 0.3
	capture client "$client_if" "$work/http-pipeline.pcap"
	on client "$peer" http -connect "$server_ip:8080" -requests "GET /a,HEAD /b,POST /chunked,GET /chunked/d" -pipeline
	sleep 1.5
	finish http-pipeline "$work/http-pipeline.pcap" client server
	(cd "$here/../.." && go run ./cmd/tools/labmangle -in "$out/http-pipeline.pcap" -out "$out/http-lossy.pcap")
	sed 's/^scenario http-pipeline$/scenario http-lossy/' "$out/http-pipeline.truth" >"$out/http-lossy.truth"
	if command -v tshark >/dev/null; then
		tshark -q -z conv,tcp -r "$out/http-lossy.pcap" >"$out/http-lossy.tshark" 2>/dev/null
		"$here/ipbytes.sh" "$out/http-lossy.pcap" >"$out/http-lossy.ipbytes"
	fi
}

# The server answers the second request with Connection: close and
# closes; the client sends a third on the same connection anyway.
sc_http_close() {
	host client; host server; wire client server
	on server "$peer" httpd -listen "$server_ip:8080" -close-every 2
	sleep 0.3
	capture client "$client_if" "$work/http-close.pcap"
	on client "$peer" http -connect "$server_ip:8080" -requests "GET /1,GET /2,GET /3" -pause 200ms
	sleep 1.5
	finish http-close "$work/http-close.pcap" client server
}

# TLS: two connections asking for lab.flowdoc.test (SNI), one request
# each, closed by the client.
sc_tls() {
	host client; host server; wire client server
	on server "$peer" tls-server -listen "$server_ip:8443"
	sleep 0.3
	capture client "$client_if" "$work/tls.pcap"
	on client "$peer" tls-client -connect "$server_ip:8443" -name lab.flowdoc.test -n 2
	sleep 1.5
	finish tls "$work/tls.pcap" client server
}

all="keepalive_leak non200_leak timewait_storm accept_close proxy refused unanswered listen_overflow stale_reuse zero_window half_close clean midstream ipv6 keepalive http_keepalive http_stale http_pipeline http_close tls"
for s in ${@:-$all}; do
	s=${s//-/_}
	declare -F "sc_$s" >/dev/null || die "no scenario $s (have: $all)"
	net=0
	"sc_$s"
done

# One pcapng with two interfaces of different link types: the IPv6
# capture (Ethernet) and the proxy's (Linux cooked v2) merged.
if command -v mergecap >/dev/null && [ -f "$out/ipv6.pcap" ] && [ -f "$out/proxy-any.pcap" ]; then
	mergecap -F pcapng -w "$out/mixed-link.pcapng" "$out/ipv6.pcap" "$out/proxy-any.pcap"
	tshark -q -z conv,tcp -r "$out/mixed-link.pcapng" >"$out/mixed-link.tshark" 2>/dev/null
	"$here/ipbytes.sh" "$out/mixed-link.pcapng" >"$out/mixed-link.ipbytes"
fi
