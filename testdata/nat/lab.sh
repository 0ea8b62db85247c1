#!/bin/bash
# flowdoc NAT lab: records the same TCP connections before and after NAT,
# as `tcpdump -i any` in a router namespace sees them.
# Each scenario gets a FRESH set of namespaces flowdoc-nat-<PID>-<scenario>-{c,r,s}
# (so the ground truth of one scenario holds no leftovers of the other),
# and its own nginx (killed by PID), all torn down by name at the end.
set -u
OUT=${OUT:-/tmp/lab-nat}   # where the captures and raw ground truth go
here=$(cd "$(dirname "$0")" && pwd)
ID=$$
C= R= S= WORK= NGINX_PID= CMDLOG=/dev/null XSUFFIX=
x() { printf '%q ' "$@" >> $CMDLOG; echo >> $CMDLOG; "$@"; }   # log the exact (expanded) command, then run it
xlog() { printf '%q ' "$@" >> $CMDLOG; echo "$XSUFFIX" >> $CMDLOG; }  # log only (for background commands)
teardown() {
  if [ -n "$NGINX_PID" ]; then x kill "$NGINX_PID"; wait "$NGINX_PID" 2>/dev/null; NGINX_PID=; fi
  for n in $C $R $S; do ip netns list | grep -qw "^$n" && x ip netns del $n; done
  [ -n "$WORK" ] && rm -rf "$WORK"; WORK=
}
trap teardown EXIT

setup() {   # $1 scenario name
  C=flowdoc-nat-$ID-$1-c; R=flowdoc-nat-$ID-$1-r; S=flowdoc-nat-$ID-$1-s
  for n in $C $R $S; do x ip netns add $n; x ip -n $n link set lo up; done
  x ip link add vc0 netns $C type veth peer name vrc0 netns $R
  x ip link add vs0 netns $S type veth peer name vrs0 netns $R
  x ip -n $C addr add 10.77.1.2/24 dev vc0;  x ip -n $C link set vc0 up
  x ip -n $R addr add 10.77.1.1/24 dev vrc0; x ip -n $R link set vrc0 up
  x ip -n $R addr add 10.77.2.1/24 dev vrs0; x ip -n $R link set vrs0 up
  x ip -n $S addr add 10.77.2.2/24 dev vs0;  x ip -n $S link set vs0 up
  x ip -n $C route add default via 10.77.1.1
  x ip -n $S route add default via 10.77.2.1
  x ip netns exec $R sysctl -qw net.ipv4.ip_forward=1
  # nginx in server namespace, own pid file / logs / temp paths in a temp dir
  WORK=$(mktemp -d $OUT/nginx-run.XXXXXX)
  mkdir -p $WORK/html $WORK/tmp
  printf 'hello from flowdoc nat lab\n' > $WORK/html/small.txt
  chmod -R a+rX $WORK
  cat > $WORK/nginx.conf <<NGX
user root;
worker_processes 1;
pid $WORK/nginx.pid;
error_log $WORK/error.log info;
events { worker_connections 64; }
http {
  access_log $WORK/access.log;
  client_body_temp_path $WORK/tmp/body; proxy_temp_path $WORK/tmp/proxy;
  fastcgi_temp_path $WORK/tmp/fcgi; uwsgi_temp_path $WORK/tmp/uwsgi; scgi_temp_path $WORK/tmp/scgi;
  keepalive_timeout 2s;
  server {
    listen 10.77.2.2:8080;
    root $WORK/html;
    default_type text/plain;
  }
}
NGX
  cp $WORK/nginx.conf $OUT/.$1.nginx.conf
  XSUFFIX=' &'; xlog ip netns exec $S nginx -c $WORK/nginx.conf -g 'daemon off;'
  ip netns exec $S nginx -c $WORK/nginx.conf -g 'daemon off;' &
  NGINX_PID=$!
  sleep 1
  kill -0 $NGINX_PID || { echo "nginx failed"; cat $WORK/error.log; exit 1; }
}

# $1 name, $2 target host, $3 target port, $4 nft ruleset text
run_scenario() {
  local name=$1 host=$2 port=$3 rules=$4
  local pcap=$OUT/$name.pcap gt=$OUT/.$name.gt cl=$OUT/.$name.client
  CMDLOG=$OUT/.$name.cmds; : > $CMDLOG
  setup $name
  echo "$rules" > $OUT/.$name.nft
  x ip netns exec $R nft -f $OUT/.$name.nft
  ip -n $R -o link show > $OUT/.$name.links
  rm -f $pcap
  XSUFFIX=" 2> $OUT/.$name.tcpdump.err &"; xlog ip netns exec $R timeout 8 tcpdump -i any -w $pcap tcp
  ip netns exec $R timeout 8 tcpdump -i any -w $pcap tcp 2> $OUT/.$name.tcpdump.err &
  local TD=$!
  x sleep 1
  XSUFFIX=" > $cl 2>&1 &"; xlog timeout 15 ip netns exec $C python3 $here/leaky_client.py $host $port 9
  timeout 15 ip netns exec $C python3 $here/leaky_client.py $host $port 9 > $cl 2>&1 &
  local CL=$!
  x sleep 5.5      # requests done at ~t=1.5s, nginx idle close at ~t=3.5s; now t~6.5s of 8
  echo "# ground-truth snapshot (ss / conntrack / nft), taken here, ~1.5 s before tcpdump's timeout" >> $CMDLOG
  {
    echo "### ss -tan (client namespace $C, 10.77.1.2) at $(date +%T.%N)"
    echo '```'; ip netns exec $C ss -tan; echo '```'
    echo "### ss -tano (client namespace, with timers)"
    echo '```'; ip netns exec $C ss -tano; echo '```'
    echo "### ss -tan (server namespace $S, 10.77.2.2)"
    echo '```'; ip netns exec $S ss -tan; echo '```'
    echo "### ss -tano (server namespace, with timers)"
    echo '```'; ip netns exec $S ss -tano; echo '```'
    echo "### conntrack -L (router namespace $R)"
    echo '```'; ip netns exec $R conntrack -L 2>&1; echo '```'
    echo "### nft list ruleset (router namespace)"
    echo '```'; ip netns exec $R nft list ruleset; echo '```'
  } > $gt
  printf '%s\n' "ip netns exec $C ss -tan" "ip netns exec $C ss -tano" "ip netns exec $S ss -tan" \
     "ip netns exec $S ss -tano" "ip netns exec $R conntrack -L" "ip netns exec $R nft list ruleset" >> $CMDLOG
  wait $TD; echo "tcpdump rc=$? (124 = ended by timeout, expected)" >> $OUT/.$name.tcpdump.err
  wait $CL; echo "client rc=$?" >> $cl
  cp $WORK/error.log $OUT/.$name.nginx-error.log; cp $WORK/access.log $OUT/.$name.nginx-access.log
  teardown
  CMDLOG=/dev/null
}

DNAT_RULES='table ip nat {
  chain prerouting {
    type nat hook prerouting priority dstnat; policy accept;
    ip daddr 10.77.9.9 tcp dport 80 dnat to 10.77.2.2:8080
  }
}'
SNAT_RULES='table ip nat {
  chain postrouting {
    type nat hook postrouting priority srcnat; policy accept;
    ip saddr 10.77.1.0/24 oifname "vrs0" masquerade
  }
}'
run_scenario dnat-leak 10.77.9.9 80 "$DNAT_RULES"
run_scenario snat-masquerade 10.77.2.2 8080 "$SNAT_RULES"
