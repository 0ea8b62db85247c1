#!/usr/bin/env python3
"""Leaky HTTP/1.1 keep-alive client for the flowdoc NAT lab.

Opens N connections one after another to HOST:PORT, sends one GET on each,
reads the full response (Content-Length), then either closes the socket
cleanly ("clean") or keeps it referenced without closing ("leak").
Afterwards it sleeps HOLD seconds with the leaked sockets still open,
then exits (the kernel then closes them).  Bounded: at most 10 connections,
socket timeouts of 3 s, and the caller wraps it in `timeout`.
"""
import socket, sys, time

host, port, hold = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
# L = leak, C = clean close; 6 leaked, 4 clean
pattern = "LLCLCLCLCL"
leaked = []
for i, kind in enumerate(pattern):
    s = socket.create_connection((host, port), timeout=3)
    req = f"GET /small.txt HTTP/1.1\r\nHost: {host}\r\nUser-Agent: flowdoc-lab/{i}\r\nConnection: keep-alive\r\n\r\n"
    s.sendall(req.encode())
    buf = b""
    while b"\r\n\r\n" not in buf:
        chunk = s.recv(4096)
        if not chunk:
            raise SystemExit(f"conn {i}: EOF before headers")
        buf += chunk
    head, body = buf.split(b"\r\n\r\n", 1)
    clen = 0
    for line in head.split(b"\r\n")[1:]:
        k, _, v = line.partition(b":")
        if k.strip().lower() == b"content-length":
            clen = int(v.strip())
    while len(body) < clen:
        chunk = s.recv(4096)
        if not chunk:
            raise SystemExit(f"conn {i}: EOF in body")
        body += chunk
    lport = s.getsockname()[1]
    status = head.split(b"\r\n")[0].decode()
    print(f"{time.time():.3f} conn {i} local_port={lport} {'LEAK ' if kind=='L' else 'CLEAN'} {status} body={len(body)}B", flush=True)
    if kind == "L":
        leaked.append(s)          # keep referenced, never close
    else:
        s.close()
    time.sleep(0.05)
print(f"{time.time():.3f} holding {len(leaked)} leaked sockets for {hold}s", flush=True)
time.sleep(hold)
print(f"{time.time():.3f} exiting (kernel closes leaked sockets now)", flush=True)
