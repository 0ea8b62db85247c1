#!/bin/sh
# Records real port scans and refused-connection storms made by tools
# other than nmap into testdata/scan/ (or the directory given as the
# first argument); apt-get install masscan hping3 first. Run as root; it works in network namespaces of its
# own (flowdoc-scanmore-PID, the target, and flowdoc-scanmore-PID-peer,
# the scanner), joined by a veth pair and removed at the end. Each
# capture is taken on the target's end of the veth (v0) with
# tcpdump -s 128 -U, TCP only.
#
#   10.97.0.1   the target (v0): python3 -m http.server on 80 and 1234
#               in the masscan and hping3 --scan scenarios
#   10.97.0.2   the scanner (v1)
#
#   masscan.pcap             masscan 10.97.0.1 -p1-2000 --rate 2000
#                            --wait 2 (its own TCP stack, on v1)
#   hping3-scan.pcap         hping3 --scan 1-1500 -S 10.97.0.1
#   hping3-flood-closed.pcap hping3 -S -p 5432 -i u2000 -c 600 10.97.0.1
#                            (nothing listens on 5432)
#   curl-refused.pcap        300 x curl -s -m 1 http://10.97.0.1:8080/
#                            (nothing listens on 8080)
set -eu
here=$(cd "$(dirname "$0")" && pwd)
dir=${1:-$here}
NS=flowdoc-scanmore-$$
NS2=$NS-peer
. "$here/lab.sh"
lab_pair 10.97.0
lab_up

# inpeer CMD...: runs a command in the scanner's namespace.
inpeer() {
	ip netns exec "$NS2" "$@"
}

serve 10.97.0.1 80; s1=$!
serve 10.97.0.1 1234; s2=$!
sleep 1

# 1. masscan of 2,000 ports, two of them open.
mac=$(ip -n "$NS" link show v0 | awk '/link\/ether/ {print $2}')
echo "== target v0 MAC: $mac"
capture masscan.pcap
echo "== masscan 10.97.0.1 -p1-2000 --rate 2000 --wait 2"
inpeer timeout 60 masscan 10.97.0.1 -p1-2000 --rate 2000 --wait 2 \
	-e v1 --adapter-ip 10.97.0.2 --router-mac "$mac" || echo "masscan exit $?"
endcapture

# 2. hping3 SYN scan of 1,500 ports, the same two open.
capture hping3-scan.pcap
echo "== hping3 --scan 1-1500 -S 10.97.0.1"
inpeer timeout 60 hping3 --scan 1-1500 -S 10.97.0.1 || echo "hping3 exit $?"
endcapture
stop "$s1" "$s2"

# 3. 600 SYNs to one closed port, 2 ms apart.
capture hping3-flood-closed.pcap
echo "== hping3 -S -p 5432 -i u2000 -c 600 10.97.0.1"
inpeer timeout 30 hping3 -S -p 5432 -i u2000 -c 600 10.97.0.1 2>&1 | tail -4 || true
endcapture

# 4. An ordinary client retrying a stopped service 300 times.
capture curl-refused.pcap
echo "== 300 x curl -s -m 1 http://10.97.0.1:8080/"
fails=0
for i in $(seq 1 300); do
	inpeer timeout 3 curl -s -m 1 -o /dev/null http://10.97.0.1:8080/ || fails=$((fails + 1))
done
echo "curl: $fails of 300 failed"
endcapture
