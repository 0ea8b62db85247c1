# Helpers shared by the lab scripts (run.sh, real.sh): hosts as network
# namespaces, veth wires between them, processes and captures started in
# them and stopped by PID on exit. The caller sets tag (the namespaces'
# name prefix, flowdoc-...), work (a temporary directory), pids=() and
# namespaces=(), capture_pid= and net=0 before sourcing this file.

die() { echo "lab: $*" >&2; exit 1; }
[ "$(id -u)" = 0 ] || die "needs root (network namespaces, tcpdump)"
for t in ip tcpdump ss go; do command -v $t >/dev/null || die "needs $t"; done

cleanup() {
	# SIGCONT too: a process a scenario stopped (SIGSTOP) takes no other signal.
	for p in "${pids[@]}" $capture_pid; do kill "$p" 2>/dev/null && kill -CONT "$p" 2>/dev/null || true; done
	for n in "${namespaces[@]}"; do ip netns del "$n" 2>/dev/null || true; done
	rm -rf "$work"
}
trap cleanup EXIT

# host NAME: a namespace standing for one host.
host() {
	ip netns add "$tag-$1"
	ip -n "$tag-$1" link set lo up
	namespaces+=("$tag-$1")
	declare -g "addrs_$1="
}

# wire A B [v6]: a veth link between hosts A and B, each with an address on
# a subnet of its own; sets ${A}_ip and ${B}_ip (IPv6 with v6).
wire() {
	local a=$1 b=$2 v6=${3:-}
	net=$((net + 1))
	ip link add "$b$net" netns "$tag-$a" type veth peer name "$a$net" netns "$tag-$b"
	local ia=10.99.$net.1 ib=10.99.$net.2 plen=24
	if [ -n "$v6" ]; then ia=fd00:99:$net::1 ib=fd00:99:$net::2 plen=64; fi
	ip -n "$tag-$a" addr add "$ia/$plen" dev "$b$net" nodad 2>/dev/null || ip -n "$tag-$a" addr add "$ia/$plen" dev "$b$net"
	ip -n "$tag-$b" addr add "$ib/$plen" dev "$a$net" nodad 2>/dev/null || ip -n "$tag-$b" addr add "$ib/$plen" dev "$a$net"
	ip -n "$tag-$a" link set "$b$net" up
	ip -n "$tag-$b" link set "$a$net" up
	declare -g "${a}_ip=$ia" "${b}_ip=$ib" "${a}_if=$b$net" "${b}_if=$a$net"
	declare -g "addrs_$a=$(eval echo \$addrs_$a) $ia" "addrs_$b=$(eval echo \$addrs_$b) $ib"
}

# on HOST CMD...: run a command in a host, in the background, keeping its PID.
on() {
	local h=$1
	shift
	ip netns exec "$tag-$h" "$@" >>"$work/log" 2>&1 &
	pids+=($!)
}

# capture HOST IFACE FILE [tcpdump options]: start tcpdump and wait until
# it listens.
capture() {
	local h=$1 ifc=$2 file=$3
	shift 3
	tcpdump_on "$h" -i "$ifc" --immediate-mode -U -s 0 "$@" -w "$file"
}

# tcpdump_on HOST ARG...: start tcpdump with ARGs in HOST's namespace, in
# the background (capture_pid), and wait until it listens.
tcpdump_on() {
	local h=$1
	shift
	ip netns exec "$tag-$h" tcpdump "$@" 2>"$work/tcpdump.err" &
	capture_pid=$!
	for _ in $(seq 50); do
		grep -q "listening on" "$work/tcpdump.err" && return 0
		sleep 0.1
	done
	die "tcpdump did not start: $(cat "$work/tcpdump.err")"
}

