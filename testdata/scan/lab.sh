# The recording scripts' shared part, sourced with NS and NS2 set (the
# names of the target's and the scanner's network namespaces) and dir
# (where captures go). lab_pair NET makes the namespaces, removed on
# exit, joined by a veth pair: NET.1 is the target (v0), NET.2 the
# scanner (v1).

lab_cleanup() { ip netns del "$NS" 2>/dev/null || true; ip netns del "$NS2" 2>/dev/null || true; }

lab_pair() {
	trap lab_cleanup EXIT
	ip netns add "$NS"
	ip netns add "$NS2"
	ip -n "$NS" link set lo up
	ip -n "$NS2" link set lo up
	ip -n "$NS" link add v0 type veth peer name v1
	ip -n "$NS" link set v1 netns "$NS2"
	ip -n "$NS" addr add "$1.1/24" dev v0
	ip -n "$NS2" addr add "$1.2/24" dev v1
}

# lab_up: brings the veth pair up, once every address is on it.
lab_up() {
	ip -n "$NS" link set v0 up
	ip -n "$NS2" link set v1 up
	sleep 1
}

# serve ADDR PORT: a python3 http.server in the target, bounded; its PID
# in $!.
serve() {
	ip netns exec "$NS" timeout 90 python3 -m http.server "$2" --bind "$1" >/dev/null 2>&1 &
}

# capture FILE: tcpdump on the target's v0, bounded; its PID in $cap.
capture() {
	ip netns exec "$NS" timeout 120 tcpdump -i v0 -s 128 -U -w "$dir/$1" tcp >/dev/null 2>&1 &
	cap=$!
	sleep 1
}

# stop PID...: ends the given processes and waits for them.
stop() {
	for p in "$@"; do kill "$p" 2>/dev/null || true; done
	for p in "$@"; do wait "$p" 2>/dev/null || true; done
}

# endcapture: lets the last packets land, then stops tcpdump.
endcapture() {
	sleep 1
	stop "$cap"
}
