#!/usr/bin/env python3
"""Builds /tmp/lab-nat/<name>.md from the lab's side files and tshark."""
import subprocess, sys, re, collections, os
OUT = "/tmp/lab-nat"

def sh(cmd):
    r = subprocess.run(cmd, shell=True, capture_output=True, text=True)
    out = r.stdout + "".join(l + "\n" for l in r.stderr.splitlines() if "could be dangerous" not in l)
    return out.rstrip("\n")

def rd(p):
    return open(p).read().rstrip("\n")

def block(t, lang=""):
    return f"```{lang}\n{t}\n```\n"

def main(name, title, blurb):
    pcap = f"{OUT}/{name}.pcap"
    md = []
    A = md.append
    A(f"# {name}: {title}\n")
    A(blurb + "\n")
    A("## Environment\n")
    A(block("\n".join([
        "$ uname -r; uname -v", sh("uname -r; uname -v"),
        "$ nginx -v", sh("nginx -v 2>&1"),
        "$ tcpdump --version", sh("tcpdump --version 2>&1"),
        "$ tshark --version | head -1", sh("tshark --version 2>/dev/null | head -1"),
        "$ nft --version", sh("nft --version"),
        "$ conntrack --version", sh("conntrack --version 2>&1"),
        "$ python3 --version", sh("python3 --version"),
        "$ dpkg-query -W nginx nginx-common tcpdump libpcap0.8 tshark nftables conntrack",
        sh("dpkg-query -W nginx nginx-common nginx-core nginx-light tcpdump libpcap0.8 tshark nftables conntrack 2>/dev/null"),
    ])))
    A("## Topology\n")
    A("Three network namespaces, fresh for this scenario (names in the command list below):\n\n"
      "- client: `vc0` 10.77.1.2/24, default via 10.77.1.1\n"
      "- router: `vrc0` 10.77.1.1/24 (veth peer of client), `vrs0` 10.77.2.1/24 (veth peer of server), net.ipv4.ip_forward=1\n"
      "- server: `vs0` 10.77.2.2/24, default via 10.77.2.1; nginx 1.22.1 listening on 10.77.2.2:8080, `keepalive_timeout 2s;`, static file /small.txt (27 bytes)\n\n"
      "Router interface indexes (these are the `sll.ifindex` values in the SLL2 headers):\n")
    A(block(rd(f"{OUT}/.{name}.links")))
    A("NAT ruleset loaded in the router (`nft -f`):\n")
    A(block(rd(f"{OUT}/.{name}.nft")))
    A("## Exact commands, in order (as executed by /tmp/lab-nat/lab.sh, names expanded)\n")
    A(block(rd(f"{OUT}/.{name}.cmds"), "sh"))
    A("nginx.conf used (temp dir removed after the run):\n")
    A(block(rd(f"{OUT}/.{name}.nginx.conf"), "nginx"))
    A("Client: `/tmp/lab-nat/leaky_client.py` (opens 10 connections one after another, 50 ms apart, one "
      "HTTP/1.1 keep-alive GET each, reads the full response; pattern `LLCLCLCLCL`: L = keep the socket referenced "
      "and never close it, C = close() right after the response; then sleeps 9 s holding the 6 leaked sockets and exits).\n")
    A(block(rd(f"{OUT}/leaky_client.py"), "python"))
    A("Client output:\n")
    A(block(rd(f"{OUT}/.{name}.client")))
    A("nginx error log (info level):\n")
    A(block(rd(f"{OUT}/.{name}.nginx-error.log")))

    # ---- ground truth ----
    gt = rd(f"{OUT}/.{name}.gt")
    def states(section):
        m = re.search(r"### ss -tan \(" + section + r".*?```\n(.*?)```", gt, re.S)
        c = collections.Counter(l.split()[0] for l in m.group(1).splitlines()[1:] if l.strip())
        return dict(c)
    cs, ss_ = states("client"), states("server")
    ct = collections.Counter(l.split()[3] for l in re.search(r"### conntrack -L.*?```\n(.*?)```", gt, re.S).group(1).splitlines() if l.startswith("tcp"))
    A("## Ground truth (taken ~1.5 s before the capture ended, while the leaked sockets were still open)\n")
    A(f"- client (10.77.1.2) `ss -tan` states: {cs}\n- server (10.77.2.2) `ss -tan` states: {ss_}\n"
      f"- router `conntrack -L` states: {dict(ct)}\n")
    A("So the leaking side is the **client**: 6 sockets in CLOSE-WAIT (Recv-Q 1 = the unread FIN), "
      "their peers on the **server** in FIN-WAIT-2 (orphaned after nginx's close(), kept by tcp_fin_timeout, shown by ss as "
      "timer:(timewait,~56sec)). The 4 cleanly closed connections are in TIME-WAIT on the client (active closer) and gone from the server.\n")
    A(gt + "\n")

    # ---- capture ----
    A("## Capture\n")
    A("tcpdump's own report (stderr):\n")
    A(block(rd(f"{OUT}/.{name}.tcpdump.err")))
    A(block("$ capinfos " + pcap + "\n" + sh(f"capinfos {pcap}")))
    import struct
    hdr = open(pcap, "rb").read(24)
    magic, vmaj, vmin, _, _, snap, lt = struct.unpack("<IHHiIII", hdr)
    A(f"pcap global header: magic 0x{magic:08x}, version {vmaj}.{vmin}, snaplen {snap}, **linktype {lt}** "
      f"({'LINKTYPE_LINUX_SLL2' if lt == 276 else 'unexpected'}). (capinfos' '210' is Wireshark's internal encapsulation number, not the linktype.)\n")
    A(f"Link type: **LINUX_SLL2 (Linux cooked v2, linktype 276)**, as written by `tcpdump -i any` (tcpdump 4.99.3 / libpcap 1.10.3). "
      "Each SLL2 header carries the interface index (2 = vrc0, client side; 3 = vrs0, server side) and the packet type "
      "(0 = PACKET_HOST, received by the router; 4 = PACKET_OUTGOING, sent by the router).\n")
    A("### `tshark -r FILE -q -z conv,tcp`\n")
    A(block(sh(f"tshark -r {pcap} -q -z conv,tcp")))
    A("### SYN / SYN-ACK packets with raw sequence numbers\n")
    A(block(f"$ tshark -r {pcap} -Y 'tcp.flags.syn==1' -T fields -e frame.number -e sll.ifindex -e sll.pkttype -e ip.src -e tcp.srcport -e ip.dst -e tcp.dstport -e tcp.flags.ack -e tcp.seq_raw -e tcp.ack_raw\n"
            + sh(f"tshark -r {pcap} -Y 'tcp.flags.syn==1' -T fields -e frame.number -e sll.ifindex -e sll.pkttype -e ip.src -e tcp.srcport -e ip.dst -e tcp.dstport -e tcp.flags.ack -e tcp.seq_raw -e tcp.ack_raw")))

    # ---- pairing analysis ----
    f = "-e frame.number -e frame.time_relative -e sll.ifindex -e sll.pkttype -e ip.src -e tcp.srcport -e ip.dst -e tcp.dstport -e tcp.flags -e tcp.seq_raw -e tcp.ack_raw -e tcp.len -e ip.id -e ip.ttl -e tcp.stream"
    rows = [l.split("\t") for l in sh(f"tshark -r {pcap} -T fields {f}").splitlines() if l and l[0].isdigit()]
    P = collections.namedtuple("P", "no t ifx ptype src sport dst dport flags seq ack ln ipid ttl stream")
    pk = [P(*r) for r in rows]
    key = lambda p: (p.seq, p.ack, p.flags, p.ln, p.ipid)
    groups = collections.defaultdict(list)
    for p in pk: groups[key(p)].append(p)
    sizes = collections.Counter(len(g) for g in groups.values())
    tup = lambda p: (p.src, p.sport, p.dst, p.dport)
    same_addr = sum(1 for g in groups.values() if len(g) == 2 and tup(g[0]) == tup(g[1]))
    diff_addr = sum(1 for g in groups.values() if len(g) == 2 and tup(g[0]) != tup(g[1]))
    exact_dups = collections.Counter((tup(p),) + key(p) for p in pk)
    n_exact = sum(1 for v in exact_dups.values() if v > 1)
    ifx_ok = sum(1 for g in groups.values() if len(g) == 2 and {g[0].ifx, g[1].ifx} == {"2", "3"})
    ttl = collections.Counter((g[0].ttl, g[1].ttl) for g in groups.values() if len(g) == 2)
    dt = [abs(float(g[1].t) - float(g[0].t)) * 1e6 for g in groups.values() if len(g) == 2]
    # connection pairing via SYNs
    conns = []
    for g in groups.values():
        if g[0].flags == "0x0002":
            a, b = sorted(g, key=lambda p: int(p.no))
            conns.append((a, b))
    conns.sort(key=lambda ab: int(ab[0].no))
    streams = collections.Counter(p.stream for p in pk)
    ana = sh(f"tshark -r {pcap} -Y tcp.analysis.flags -T fields -e frame.number -e _ws.expert.message | head -20")
    A("### Each packet appears twice: before and after NAT\n")
    A(f"Method: all {len(pk)} packets were grouped by (tcp.seq_raw, tcp.ack_raw, tcp.flags, tcp.len, ip.id), which NAT does not change.\n\n"
      f"- group sizes: {dict(sizes)} (i.e. {sizes.get(2,0)} groups of exactly 2 = {2*sizes.get(2,0)} packets; any other size would be listed here)\n"
      f"- groups whose two copies were seen on the two different router interfaces (ifindex 2 and 3): {ifx_ok}\n"
      f"- groups whose two copies have **different** address/port 4-tuples (the translated copy): {diff_addr}\n"
      f"- groups whose two copies have **identical** 4-tuples: {same_addr}\n"
      f"- packets occurring more than once with identical addresses, ports, seq, ack, flags, len, ip.id: {n_exact}\n"
      f"- IP TTL of (first copy, second copy): {dict(ttl)} (the forwarded copy is decremented by the router)\n"
      f"- time between the two copies: min {min(dt):.0f} µs, median {sorted(dt)[len(dt)//2]:.0f} µs, max {max(dt):.0f} µs\n"
      f"- tshark tcp.stream count: {len(streams)} (each connection is 2 tshark streams, one per side of the NAT)\n"
      f"- tshark expert/analysis flags (retransmission, dup-ack, ...): {'none' if not ana.strip() else chr(10)+ana}\n")
    A("\nConnections (pre-NAT copy = seen on the client-side interface, post-NAT copy = seen on the server-side interface), from the SYNs:\n")
    fate = {}
    for l in rd(f"{OUT}/.{name}.client").splitlines():
        m = re.search(r"local_port=(\d+) (LEAK|CLEAN)", l)
        if m: fate[m.group(1)] = m.group(2)
    lines = ["| # | client-side 4-tuple (ifindex 2, vrc0) | server-side 4-tuple (ifindex 3, vrs0) | ISN (seq_raw) both copies | packets per copy | fate |",
             "|---|---|---|---|---|---|"]
    for i, (a, b) in enumerate(conns):
        pre, post = (a, b) if a.ifx == "2" else (b, a)
        n_pre, n_post = streams[pre.stream], streams[post.stream]
        lines.append(f"| {i} | {pre.src}:{pre.sport} → {pre.dst}:{pre.dport} | {post.src}:{post.sport} → {post.dst}:{post.dport} | "
                     f"{pre.seq} / {post.seq} | {n_pre} / {n_post} | {fate.get(pre.sport,'?')} |")
    A("\n".join(lines) + "\n")
    ck = sh(f"tshark -r {pcap} -o tcp.check_checksum:TRUE -o ip.check_checksum:TRUE -T fields -e sll.ifindex -e sll.pkttype -e ip.checksum.status -e tcp.checksum.status | sort | uniq -c")
    A("## Notes / surprises\n")
    A("- **TCP checksums are all 'bad' in the capture** (IP header checksums are good). Counts by (ifindex, pkttype, ip.checksum.status, tcp.checksum.status; 1 = good, 0 = bad):\n")
    A(block(f"$ tshark -r {pcap} -o tcp.check_checksum:TRUE -o ip.check_checksum:TRUE -T fields -e sll.ifindex -e sll.pkttype -e ip.checksum.status -e tcp.checksum.status | sort | uniq -c\n" + ck))
    A("  This is checksum offload on veth (CHECKSUM_PARTIAL: only the pseudo-header sum is filled in when tcpdump sees the packet), "
      "the usual picture on a Docker/Kubernetes node; a reader of such captures must not drop packets for bad TCP checksums.\n")
    A("- The two copies of a packet are distinguishable only by addresses/ports, SLL2 ifindex/pkttype and the TTL (64 on the copy "
      "the router received, 63 on the copy it sent); TCP seq/ack/flags/payload and IP ID are identical.\n")
    A("- Per-direction: on the client-side interface (ifindex 2) client→server packets are pkttype 0 (incoming) and server→client "
      "are pkttype 4 (outgoing); on the server-side interface (ifindex 3) the reverse. So for every packet the first copy in time is the "
      "one on the interface it arrived on (pkttype 0) and the second the one it left on (pkttype 4).\n")
    A("- conntrack in the router names the leaked connections' state CLOSE_WAIT (its view: the server's FIN was seen and ACKed, no FIN from the client), "
      "timeout 60 s; the cleanly closed ones are TIME_WAIT (120 s). These conntrack entries expire on their own; the client sockets do not.\n")
    A("- `ss -tano` shows the server's orphaned FIN-WAIT-2 sockets with `timer:(timewait,~56sec)` — ss's label for the tcp_fin_timeout (60 s) timer, not the TIME-WAIT state.\n")
    A("- The leaked connections' last packets in the capture are the server's FIN and the client's ACK, about 2 s (keepalive_timeout) after the response; "
      "tshark lists each leaked connection as 9 frames per copy, each clean one as 10 (3-way handshake, request, ACK, response, ACK, then FIN, FIN, ACK for clean; FIN, ACK for leaked).\n")
    if name == "snat-masquerade":
        A("- MASQUERADE kept the client's source ports (no clash), so only the source address differs between copies (10.77.1.2 vs 10.77.2.1). "
          "nginx's error log and the server's `ss` show the peer as 10.77.2.1, never 10.77.1.2.\n")
    else:
        A("- DNAT changes destination address AND port: the client-side copy is 10.77.1.2:P → 10.77.9.9:80, the server-side copy "
          "10.77.1.2:P → 10.77.2.2:8080; the client's `ss` only ever shows 10.77.9.9:80, the server's only 10.77.1.2:P.\n")
    A("- After the capture ended the client process exited (9 s hold), and the kernel closed its leaked sockets; that FIN exchange is deliberately NOT in the capture. "
      "Namespaces and nginx (killed by its PID) were torn down after each scenario; each scenario used fresh namespaces so its ground truth holds no leftovers of the other.\n")
    open(f"{OUT}/{name}.md", "w").write("\n".join(md) + "\n")
    return md

if __name__ == "__main__":
    name = sys.argv[1]
    T = {
      "dnat-leak": ("DNAT of a service VIP, client leaks keep-alive connections",
        "Kubernetes-service-like DNAT in the router: 10.77.9.9:80 → 10.77.2.2:8080. The client talks to the VIP; "
        "`tcpdump -i any` in the router sees every packet twice: on the client side with the VIP address "
        "(10.77.1.2 ↔ 10.77.9.9:80) and on the server side with the real backend (10.77.1.2 ↔ 10.77.2.2:8080). "
        "Same TCP sequence numbers, same IP ID, different destination address and port. 6 connections leaked by the "
        "client (CLOSE-WAIT on the client, FIN-WAIT-2 on nginx), 4 closed cleanly by the client."),
      "snat-masquerade": ("SNAT (MASQUERADE), client leaks keep-alive connections",
        "MASQUERADE in the router for 10.77.1.0/24 leaving on the server-side veth (vrs0); no DNAT. The client talks "
        "to 10.77.2.2:8080 directly; `tcpdump -i any` in the router sees every packet twice: on the client side "
        "with the real client address (10.77.1.2:P ↔ 10.77.2.2:8080) and on the server side with the router's "
        "address as source (10.77.2.1:P ↔ 10.77.2.2:8080). Same TCP sequence numbers, same IP ID, different source "
        "address (masquerade kept the source ports here). 6 connections leaked by the client (CLOSE-WAIT on the "
        "client, FIN-WAIT-2 on nginx, which sees the peer as 10.77.2.1), 4 closed cleanly by the client."),
    }[name]
    main(name, *T)
