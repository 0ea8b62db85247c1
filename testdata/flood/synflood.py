# Spoofed SYNs to DST:PORT from random sources in 198.18.0.0/15, N of them
# at RATE per second; a bounded loop that stops by itself.
import random, socket, struct, sys, time
dst, port, n, rate = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4])
s = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_RAW)
s.setsockopt(socket.IPPROTO_IP, socket.IP_HDRINCL, 1)
rng = random.Random(7)
def csum(b):
    if len(b) % 2: b += b'\0'
    t = sum(struct.unpack('!%dH' % (len(b)//2), b))
    while t >> 16: t = (t & 0xffff) + (t >> 16)
    return ~t & 0xffff
d = socket.inet_aton(dst)
start = time.time()
for i in range(n):
    src = socket.inet_aton('198.%d.%d.%d' % (18 + rng.randrange(2), rng.randrange(256), 1 + rng.randrange(254)))
    sport, seq = 1024 + rng.randrange(60000), rng.getrandbits(32)
    opts = struct.pack('!BBH', 2, 4, 1460)  # MSS
    tcp = struct.pack('!HHIIBBHHH', sport, port, seq, 0, (6 << 4), 0x02, 64240, 0, 0) + opts
    pseudo = src + d + struct.pack('!BBH', 0, 6, len(tcp))
    tcp = tcp[:16] + struct.pack('!H', csum(pseudo + tcp)) + tcp[18:]
    ip = struct.pack('!BBHHHBBH4s4s', 0x45, 0, 20 + len(tcp), i & 0xffff, 0, 64, 6, 0, src, d)
    ip = ip[:10] + struct.pack('!H', csum(ip)) + ip[12:]
    s.sendto(ip + tcp, (dst, 0))
    wait = start + (i + 1) / rate - time.time()
    if wait > 0: time.sleep(wait)
