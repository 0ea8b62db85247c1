#!/bin/sh
# Records testdata/flood/real-synflood.pcap: a real Linux kernel under a
# SYN flood from spoofed sources, answering with SYN cookies, while 20
# real clients (curl) are served. Run as root; it works in network
# namespaces of its own (flowdoc-flood-PID, flowdoc-flood-PID-peer),
# removed at the end.
#
#   10.99.0.1:8083   python3 -m http.server (listen backlog 5), in NS
#   198.18.0.0/15    the spoofed sources, routed out of veth v0 to a
#                    gateway with a static neighbour entry, so that the
#                    SYN-ACKs leave (and are captured) and go nowhere
set -eu
here=$(cd "$(dirname "$0")" && pwd)
out=${1:-$here/real-synflood.pcap}
NS=flowdoc-flood-$$
NS2=$NS-peer
cleanup() { ip netns del "$NS" 2>/dev/null || true; ip netns del "$NS2" 2>/dev/null || true; }
trap cleanup EXIT
ip netns add "$NS"
ip netns add "$NS2"
ip -n "$NS" link set lo up
ip -n "$NS" link add v0 type veth peer name v1
ip -n "$NS" link set v1 netns "$NS2"
ip -n "$NS2" link set v1 up
ip -n "$NS" addr add 10.99.0.1/24 dev v0
ip -n "$NS" link set v0 up
ip -n "$NS" neigh add 10.99.0.2 lladdr 02:00:00:00:00:02 dev v0 nud permanent
ip -n "$NS" route add 198.18.0.0/15 via 10.99.0.2 dev v0
ip netns exec "$NS" sysctl -q -w net.ipv4.tcp_syncookies=1 net.ipv4.tcp_max_syn_backlog=128
for k in all default lo v0; do
	ip netns exec "$NS" sysctl -q -w net.ipv4.conf.$k.rp_filter=0 net.ipv4.conf.$k.accept_local=1
done
ip netns exec "$NS" timeout 30 python3 -m http.server 8083 --bind 10.99.0.1 >/dev/null 2>&1 &
sleep 1
ip netns exec "$NS" timeout 12 tcpdump -i any -s 128 -w "$out" tcp port 8083 >/dev/null 2>&1 &
sleep 1.5
( for i in $(seq 1 20); do ip netns exec "$NS" curl -s -m 2 -o /dev/null http://10.99.0.1:8083/; sleep 0.3; done ) &
# 1,200 spoofed SYNs, 400 a second.
ip netns exec "$NS" timeout 20 python3 "$here/synflood.py" 10.99.0.1 8083 1200 400
wait
