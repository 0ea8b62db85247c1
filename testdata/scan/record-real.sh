#!/bin/sh
# Records real port scans by nmap into testdata/scan/ (or the directory
# given as the first argument). Run as root; it works in network
# namespaces of its own (flowdoc-scan-PID, the target, and
# flowdoc-scan-PID-peer, the scanner), joined by a veth pair and removed
# at the end. Each capture is taken on the target's end of the veth
# (v0) with tcpdump -s 128 -U, TCP only.
#
#   10.98.0.1        the target (v0): python3 -m http.server on 80 and
#                    1234 in the syn and connect scenarios (both inside
#                    the scanned ranges)
#   10.98.0.2        the scanner (v1), runs nmap
#   10.98.0.3        a second address of the scanner's namespace, from
#                    which curl fetches http://10.98.0.1:80/ 15 times,
#                    0.2 s apart, the SYN scan starting 0.5 s in
#   10.98.1.1-40     40 more addresses of the target, on v0; the sweep
#                    scans port 8080 on all of them, with a listener on
#                    10.98.1.7:8080 only
#
#   nmap-syn.pcap       nmap -sS -n -p 1-3000 -T4 10.98.0.1, with the
#                       curl client running alongside
#   nmap-connect.pcap   nmap -sT -n -p 1-1500 -T4 10.98.0.1
#   nmap-filtered.pcap  nmap -sS -n -p 900-2100 -T5 --max-retries 1
#                       10.98.0.1, no listener, the target dropping
#                       (nft, or iptables) TCP to ports 1000-1999
#   nmap-sweep.pcap     nmap -sS -n -Pn -p 8080 10.98.1.1-40
set -eu
here=$(cd "$(dirname "$0")" && pwd)
dir=${1:-$here}
NS=flowdoc-scan-$$
NS2=$NS-peer
. "$here/lab.sh"
lab_pair 10.98.0
ip -n "$NS2" addr add 10.98.0.3/24 dev v1
for i in $(seq 1 40); do
	ip -n "$NS" addr add 10.98.1.$i/24 dev v0
done
lab_up
ip -n "$NS2" route add 10.98.1.0/24 dev v1 src 10.98.0.2

scan() {
	echo "== nmap $*"
	ip netns exec "$NS2" timeout 120 nmap "$@"
}

# 1. SYN scan of 3,000 ports, two of them open, with an ordinary client.
serve 10.98.0.1 80; s1=$!
serve 10.98.0.1 1234; s2=$!
sleep 1
capture nmap-syn.pcap
(
	for i in $(seq 1 15); do
		ip netns exec "$NS2" timeout 5 curl -s -m 2 -o /dev/null --interface 10.98.0.3 http://10.98.0.1:80/ || true
		sleep 0.2
	done
) &
client=$!
sleep 0.5
scan -sS -n -p 1-3000 -T4 10.98.0.1
wait "$client" || true
endcapture

# 2. Connect scan of 1,500 ports, the same two open.
capture nmap-connect.pcap
scan -sT -n -p 1-1500 -T4 10.98.0.1
endcapture
stop "$s1" "$s2"

# 3. SYN scan of 1,201 ports, 1,000 of them dropped by the target.
if command -v nft >/dev/null 2>&1; then
	ip netns exec "$NS" nft add table inet flowdoc
	ip netns exec "$NS" nft add chain inet flowdoc input '{ type filter hook input priority 0; policy accept; }'
	ip netns exec "$NS" nft add rule inet flowdoc input tcp dport 1000-1999 drop
	dropped=1
elif command -v iptables >/dev/null 2>&1; then
	ip netns exec "$NS" iptables -A INPUT -p tcp --dport 1000:1999 -j DROP
	dropped=1
else
	echo "neither nft nor iptables: nmap-filtered.pcap not recorded" >&2
	dropped=0
fi
if [ "$dropped" = 1 ]; then
	capture nmap-filtered.pcap
	scan -sS -n -p 900-2100 -T5 --max-retries 1 10.98.0.1
	endcapture
fi

# 4. Sweep of port 8080 across 40 addresses, one of them listening.
serve 10.98.1.7 8080; s3=$!
sleep 1
capture nmap-sweep.pcap
scan -sS -n -Pn -p 8080 10.98.1.1-40
endcapture
stop "$s3"
