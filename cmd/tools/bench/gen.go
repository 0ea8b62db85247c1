package main

import (
	"bufio"
	"encoding/binary"
	"fmt"
	"log"
	"math/rand/v2"
	"os"
	"strings"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcapgo"
)

// conn is one scripted connection: its packets are produced one at a time.
type conn struct {
	cli, srv [4]byte
	cport    uint16
	sport    uint16
	script   []step
	next     int
	cseq     uint32
	sseq     uint32
	// ipid is each side's next IPv4 identification: every datagram a
	// new one, as a TCP stack sends them (a retransmission too), so that
	// no two packets read as one captured twice.
	ipid [2]uint16
}

// step is one packet: from the server?, flags, payload length, and
// whether it is a keep-alive or window probe (sequence one below).
type step struct {
	fromServer bool
	flags      uint8
	n          int
	probe      bool
	zeroWin    bool
	// The payload is bytes [off, off+n) of an HTTP message msgLen long:
	// a request from the client, a response from the server.
	off, msgLen int
}

const (
	fFIN = 0x01
	fSYN = 0x02
	fRST = 0x04
	fPSH = 0x08
	fACK = 0x10
)

func handshake() []step {
	return []step{{false, fSYN, 0, false, false, 0, 0}, {true, fSYN | fACK, 0, false, false, 0, 0}, {false, fACK, 0, false, false, 0, 0}}
}

// exchange is an HTTP request and a response of n full segments, the
// client acknowledging every second one.
func exchange(rng *rand.Rand) []step {
	rn := 200 + rng.IntN(400)
	s := []step{{false, fPSH | fACK, rn, false, false, 0, rn}, {true, fACK, 0, false, false, 0, 0}}
	n := 1 + rng.IntN(8)
	sizes := make([]int, n)
	total := 0
	for i := range n {
		sizes[i] = 1448
		if i == n-1 {
			sizes[i] = 100 + rng.IntN(1300)
		}
		total += sizes[i]
	}
	off := 0
	for i, size := range sizes {
		s = append(s, step{true, fPSH | fACK, size, false, false, off, total})
		off += size
		if i%2 == 1 || i == n-1 {
			s = append(s, step{false, fACK, 0, false, false, 0, 0})
		}
	}
	return s
}

// request is a step carrying a whole request of n bytes.
func request(n int) step { return step{false, fPSH | fACK, n, false, false, 0, n} }

// message writes bytes [off, off+len(b)) of an HTTP message msgLen long
// into b: a request padded with a header, or a response whose body fills
// it out.
func message(b []byte, fromServer bool, off, msgLen int) {
	var head string
	if fromServer {
		// Five digits, zero-padded (valid: 1*DIGIT), keep the header's
		// length fixed.
		const l = len("HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 00000\r\n\r\n")
		head = fmt.Sprintf("HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: %05d\r\n\r\n", max(0, msgLen-l))
	} else {
		const start, end = "GET /bench/items?page=1 HTTP/1.1\r\nHost: bench\r\nX-Pad: ", "\r\n\r\n"
		head = start + strings.Repeat("a", max(0, msgLen-len(start)-len(end))) + end
	}
	for i := range b {
		j := off + i
		switch {
		case j < len(head):
			b[i] = head[j]
		default:
			b[i] = 'b'
		}
	}
}

// shapes are the scripts of each capture shape.
var shapes = map[string]func(*rand.Rand) []step{
	"mixed": mixed,
	"leaky": leaky,
	"synflood": func(*rand.Rand) []step {
		return []step{{false, fSYN, 0, false, false, 0, 0}}
	},
	"concurrent": func(*rand.Rand) []step { return append(handshake(), request(120)) },
	"cookies": func(*rand.Rand) []step {
		return []step{{false, fSYN, 0, false, false, 0, 0}, {true, fSYN | fACK, 0, false, false, 0, 0}}
	},
	"scan": func(*rand.Rand) []step {
		return []step{{false, fSYN, 0, false, false, 0, 0}}
	},
	"carpet": func(*rand.Rand) []step {
		return []step{{false, fSYN, 0, false, false, 0, 0}}
	},
	"rstscan": func(*rand.Rand) []step {
		return []step{{false, fSYN, 0, false, false, 0, 0}, {true, fRST | fACK, 0, false, false, 0, 0}}
	},
}

// leaky is a busy host in the middle of an incident: leaks, refusals and
// connections still open at the end, besides clean traffic.
func leaky(rng *rand.Rand) []step {
	var s []step
	c := func(parts ...[]step) {
		for _, p := range parts {
			s = append(s, p...)
		}
	}
	switch k := rng.IntN(100); {
	case k < 15: // CLOSE_WAIT leak
		c(handshake(), exchange(rng), []step{{true, fFIN | fACK, 0, false, false, 0, 0}, {false, fACK, 0, false, false, 0, 0}})
	case k < 20: // refused
		c([]step{{false, fSYN, 0, false, false, 0, 0}, {true, fRST | fACK, 0, false, false, 0, 0}})
	case k < 25: // open at the end
		c(handshake(), exchange(rng))
	default:
		return mixed(rng)
	}
	return s
}

func mixed(rng *rand.Rand) []step {
	var s []step
	c := func(parts ...[]step) {
		for _, p := range parts {
			s = append(s, p...)
		}
	}
	switch k := rng.IntN(100); {
	case k < 45: // client closes first
		c(handshake(), exchange(rng), exchange(rng), []step{{false, fFIN | fACK, 0, false, false, 0, 0}, {true, fFIN | fACK, 0, false, false, 0, 0}, {false, fACK, 0, false, false, 0, 0}})
	case k < 60: // server closes first (idle timeout), client closes too
		c(handshake(), exchange(rng), []step{{true, fFIN | fACK, 0, false, false, 0, 0}, {false, fFIN | fACK, 0, false, false, 0, 0}, {true, fACK, 0, false, false, 0, 0}})
	case k < 70: // CLOSE_WAIT leak
		c(handshake(), exchange(rng), []step{{true, fFIN | fACK, 0, false, false, 0, 0}, {false, fACK, 0, false, false, 0, 0}})
	case k < 75: // reset
		c(handshake(), exchange(rng), []step{request(300), {true, fRST, 0, false, false, 0, 0}})
	case k < 80: // refused
		c([]step{{false, fSYN, 0, false, false, 0, 0}, {true, fRST | fACK, 0, false, false, 0, 0}})
	case k < 83: // unanswered
		c([]step{{false, fSYN, 0, false, false, 0, 0}, {false, fSYN, 0, false, false, 0, 0}, {false, fSYN, 0, false, false, 0, 0}})
	case k < 90: // open, with keep-alive probes
		c(handshake(), exchange(rng), []step{{false, fACK, 0, true, false, 0, 0}, {true, fACK, 0, false, false, 0, 0}})
	case k < 95: // zero-window stall
		c(handshake(), []step{request(1448), {true, fACK, 0, false, true, 0, 0}, {false, fACK, 0, true, false, 0, 0}, {true, fACK, 0, false, true, 0, 0}})
	default: // begun before the capture
		c(exchange(rng), []step{{false, fFIN | fACK, 0, false, false, 0, 0}, {true, fFIN | fACK, 0, false, false, 0, 0}, {false, fACK, 0, false, false, 0, 0}})
	}
	return s
}

func gen(path string, packets int, shape string) error {
	script := shapes[shape]
	if script == nil {
		return fmt.Errorf("unknown shape %q", shape)
	}
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	defer f.Close() // after an error; the one below reports a failed write
	bw := bufio.NewWriterSize(f, 1<<20)
	w := pcapgo.NewWriter(bw)
	if err := w.WriteFileHeader(65535, layers.LinkTypeEthernet); err != nil {
		return err
	}
	rng := rand.New(rand.NewPCG(1, 2))
	active := 4000
	total := 0 // connections to make; 0: as many as the packets take
	if shape == "concurrent" {
		// A few at a time, each through its handshake and request within
		// a millisecond, as a server's clients connect; all stay open.
		active, total = 64, max(1, packets/len(script(rng)))
	}
	conns := make([]*conn, 0, active)
	var made int
	newConn := func() *conn {
		made++
		host := made / 28000
		if shape == "synflood" || shape == "cookies" || shape == "carpet" {
			host = made // a source of its own each time
		}
		c := &conn{
			cli:    [4]byte{10, byte(1 + host>>16), byte(host >> 8), byte(host)},
			srv:    [4]byte{10, 2, 0, byte(1 + made%16)},
			cport:  uint16(32768 + made%28000),
			sport:  []uint16{80, 443, 8080, 5432}[made%4],
			script: script(rng),
			cseq:   rng.Uint32(),
			sseq:   rng.Uint32(),
		}
		if shape == "scan" || shape == "rstscan" { // one source, a destination of its own each time
			c.cli = [4]byte{10, 1, 0, 1}
			c.srv = [4]byte{10, byte(2 + made>>16), byte(made >> 8), byte(made)}
			c.sport = []uint16{22, 80, 443, 3389}[made%4]
		}
		if shape == "carpet" { // anywhere in 10.2.0.0/16, any port
			c.srv = [4]byte{10, 2, byte(rng.IntN(256)), byte(rng.IntN(256))}
			c.sport = uint16(1 + rng.IntN(65535))
		}
		return c
	}
	for range active {
		conns = append(conns, newConn())
	}
	buf := make([]byte, 14+20+32+1448)
	ts := time.Date(2026, 1, 2, 3, 0, 0, 0, time.UTC)
	for written := 0; written < packets; written++ {
		i := rng.IntN(len(conns))
		c := conns[i]
		st := c.script[c.next]
		c.next++
		n := frame(buf, c, st)
		ts = ts.Add(time.Duration(5+rng.IntN(10)) * time.Microsecond)
		if err := w.WritePacket(gopacket.CaptureInfo{Timestamp: ts, CaptureLength: n, Length: n}, buf[:n]); err != nil {
			return err
		}
		if c.next == len(c.script) {
			if total > 0 && made >= total { // never closed, and no more to make
				conns[i] = conns[len(conns)-1]
				conns = conns[:len(conns)-1]
				if len(conns) == 0 {
					break
				}
				continue
			}
			conns[i] = newConn()
		}
	}
	log.Printf("wrote %s: %d packets, %d connections begun", path, packets, made)
	if err := bw.Flush(); err != nil {
		return err
	}
	return f.Close()
}

// frame writes one Ethernet/IPv4/TCP frame with a timestamps option.
func frame(b []byte, c *conn, st step) int {
	src, dst, sp, dp := c.cli, c.srv, c.cport, c.sport
	seq, ack := &c.cseq, &c.sseq
	if st.fromServer {
		src, dst, sp, dp = c.srv, c.cli, c.sport, c.cport
		seq, ack = &c.sseq, &c.cseq
	}
	copy(b[0:6], []byte{2, 0, 0, 0, 0, 2})
	copy(b[6:12], []byte{2, 0, 0, 0, 0, 1})
	binary.BigEndian.PutUint16(b[12:], 0x0800)
	ip := b[14:]
	total := 20 + 32 + st.n
	ip[0], ip[1] = 0x45, 0
	binary.BigEndian.PutUint16(ip[2:], uint16(total))
	side := 0
	if st.fromServer {
		side = 1
	}
	binary.BigEndian.PutUint16(ip[4:], c.ipid[side])
	c.ipid[side]++
	binary.BigEndian.PutUint16(ip[6:], 0x4000) // DF
	ip[8], ip[9] = 64, 6
	binary.BigEndian.PutUint16(ip[10:], 0)
	copy(ip[12:16], src[:])
	copy(ip[16:20], dst[:])
	tcp := ip[20:]
	binary.BigEndian.PutUint16(tcp[0:], sp)
	binary.BigEndian.PutUint16(tcp[2:], dp)
	s := *seq
	if st.probe {
		s--
	}
	binary.BigEndian.PutUint32(tcp[4:], s)
	a := *ack
	if st.flags&fACK == 0 {
		a = 0
	}
	binary.BigEndian.PutUint32(tcp[8:], a)
	tcp[12], tcp[13] = 8<<4, st.flags
	win := uint16(502)
	if st.zeroWin {
		win = 0
	}
	binary.BigEndian.PutUint16(tcp[14:], win)
	binary.BigEndian.PutUint32(tcp[16:], 0)
	copy(tcp[20:32], []byte{1, 1, 8, 10, 0, 0, 0, 1, 0, 0, 0, 1})
	message(tcp[32:32+st.n], st.fromServer, st.off, st.msgLen)
	if !st.probe {
		*seq += uint32(st.n)
		if st.flags&(fSYN|fFIN) != 0 {
			*seq++
		}
	}
	return 14 + total
}
