// Command bench measures flowdoc on a large synthetic capture.
//
//	bench gen -o FILE [-packets N] [-shape S]
//	                                    write the capture (deterministic)
//	bench run -file FILE -flowdoc BIN   measure flowdoc, the bare read+decode
//	                                    loop, and tshark when installed
//	bench soak -flowdoc BIN [-duration D] [-rate N] [-max-flows N,...]
//	                                    flowdoc live on loopback under a
//	                                    bounded churn of real connections,
//	                                    once per --max-flows cap: its memory
//	                                    over time, drops, and the flows it
//	                                    kept (never above the cap)
//
// The generator's shapes (-shape):
//
//   - mixed (the default): many connections interleaved, each ending one of
//     the ways flowdoc's verdicts care about: clean closes from either side,
//     CLOSE_WAIT leaks, resets, refusals, unanswered SYNs, keep-alive probes,
//     zero-window stalls, connections still open, and connections begun
//     before the capture;
//   - leaky: the same traffic with 15 % of the connections leaked in
//     CLOSE_WAIT, 5 % refused and 5 % still open at the end, a busy
//     host's capture in the middle of an incident;
//   - synflood: one SYN per connection from a different source each time,
//     to one server port, never answered;
//   - concurrent: connections opened a few at a time (a handshake and a
//     request within a millisecond) and never closed, all open at once
//     at the end;
//   - cookies: the SYN flood against a server that answers each SYN with
//     a SYN-ACK (SYN cookies) and nothing more;
//   - scan: one SYN per connection from one source, each to a
//     destination of its own, never answered;
//   - rstscan: the same scan, each SYN refused (RST): closed ports;
//   - carpet: a flood spread over a network (carpet bombing): one SYN per
//     connection from a source of its own, each to a random port of a
//     random address of a /16, never answered.
package main

import (
	"bufio"
	"bytes"
	"cmp"
	"encoding/binary"
	"flag"
	"fmt"
	"io"
	"log"
	"math/rand/v2"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcapgo"
)

func main() {
	log.SetFlags(0)
	log.SetPrefix("bench: ")
	if len(os.Args) < 2 {
		log.Fatal("usage: bench gen|run ...")
	}
	switch os.Args[1] {
	case "gen":
		fs := flag.NewFlagSet("gen", flag.ExitOnError)
		out := fs.String("o", "", "output file")
		packets := fs.Int("packets", 5_000_000, "packets to write")
		shape := fs.String("shape", "mixed", "mixed, leaky, synflood, cookies, concurrent, scan, rstscan or carpet")
		fs.Parse(os.Args[2:])
		if err := gen(*out, *packets, *shape); err != nil {
			log.Fatal(err)
		}
	case "run":
		fs := flag.NewFlagSet("run", flag.ExitOnError)
		file := fs.String("file", "", "capture")
		bin := fs.String("flowdoc", "bin/flowdoc", "flowdoc binary")
		tshark := fs.Bool("tshark", true, "measure tshark too, and hold flowdoc's flows to its conversation table")
		fs.Parse(os.Args[2:])
		if err := run(*file, *bin, *tshark && os.Getenv("BENCH_NO_TSHARK") == ""); err != nil {
			log.Fatal(err)
		}
	case "soak":
		fs := flag.NewFlagSet("soak", flag.ExitOnError)
		bin := fs.String("flowdoc", "bin/flowdoc", "flowdoc binary (a libpcap build)")
		d := fs.Duration("duration", time.Minute, "how long the traffic runs")
		rate := fs.Int("rate", 500, "connections opened per second")
		caps := fs.String("max-flows", "20000", "flowdoc live --max-flows: one soak per comma-separated cap")
		fs.Parse(os.Args[2:])
		failed := false
		for _, c := range strings.Split(*caps, ",") {
			maxFlows, err := strconv.Atoi(strings.TrimSpace(c))
			if err != nil || maxFlows <= 0 {
				log.Fatalf("-max-flows %q: want positive numbers, comma-separated", *caps)
			}
			if err := soak(*bin, *d, *rate, maxFlows); err != nil {
				log.Print(err)
				failed = true
			}
		}
		if failed {
			os.Exit(1)
		}
	default:
		log.Fatalf("unknown command %q", os.Args[1])
	}
}

// conn is one scripted connection: its packets are produced one at a time.
type conn struct {
	cli, srv [4]byte
	cport    uint16
	sport    uint16
	script   []step
	next     int
	cseq     uint32
	sseq     uint32
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
	defer f.Close()
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
	return bw.Flush()
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
	binary.BigEndian.PutUint32(ip[4:], 0x40000000)
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

// result is one measured command.
type result struct {
	name    string
	seconds float64
	cpu     float64 // user and system seconds, on every CPU
	rssMiB  float64
}

// rounds is how many times each command runs; the median counts.
const rounds = 5

// median returns the median of rs by field f, and that result.
func median(rs []result, f func(result) float64) result {
	sorted := slices.Clone(rs)
	slices.SortFunc(sorted, func(a, b result) int { return cmp.Compare(f(a), f(b)) })
	return sorted[len(sorted)/2]
}

func medianOf(v []float64) float64 {
	v = slices.Clone(v)
	slices.Sort(v)
	return v[len(v)/2]
}

func run(file, bin string, tshark bool) error {
	st, err := os.Stat(file)
	if err != nil {
		return err
	}
	// The machine is shared and noisy: run the reference and flowdoc in
	// turn, five times each, and take the median of each figure, and of
	// each round's ratio to the reference (pairing keeps the ratio
	// meaningful when the machine's speed drifts).
	var packets int
	var refs, fds, nps []result
	var fdRatio, npRatio []float64
	for range rounds {
		n, ref, err := readDecode(file)
		if err != nil {
			return err
		}
		packets = n
		fd, err := measure(file, "flowdoc analyze --format json", bin, "analyze", "--format", "json", "--progress", "never", "-o", os.DevNull, file)
		if err != nil {
			return err
		}
		np, err := measure(file, "flowdoc analyze --format json --no-payload", bin, "analyze", "--format", "json", "--no-payload", "--progress", "never", "-o", os.DevNull, file)
		if err != nil {
			return err
		}
		refs, fds, nps = append(refs, ref), append(fds, fd), append(nps, np)
		fdRatio, npRatio = append(fdRatio, ref.seconds/fd.seconds), append(npRatio, ref.seconds/np.seconds)
	}
	secs := func(r result) float64 { return r.seconds }
	ref, fd, np := median(refs, secs), median(fds, secs), median(nps, secs)
	fd.rssMiB, np.rssMiB = median(fds, func(r result) float64 { return r.rssMiB }).rssMiB, median(nps, func(r result) float64 { return r.rssMiB }).rssMiB
	results := []result{ref, fd, np}
	var conv bytes.Buffer
	if _, err := exec.LookPath("tshark"); err == nil && tshark {
		r, err := measureTo(&conv, file, "tshark -q -z conv,tcp", "tshark", "-q", "-z", "conv,tcp", "-r", file)
		if err != nil {
			return err
		}
		results = append(results, r)
	} else if tshark {
		fmt.Println("tshark not installed: no comparison with it")
	}
	mb := float64(st.Size()) / 1e6
	fmt.Printf("\n%s: %d packets, %.0f MB\n\n", file, packets, mb)
	fmt.Printf("%-42s %9s %7s %12s %9s %10s\n", fmt.Sprintf("median of %d (tshark: 1)", rounds), "seconds", "CPU s", "packets/s", "MB/s", "peak RSS")
	for _, r := range results {
		rss := "-"
		if r.rssMiB > 0 {
			rss = fmt.Sprintf("%.0f MiB", r.rssMiB)
		}
		fmt.Printf("%-42s %9.2f %7.2f %12.0f %9.0f %10s\n", r.name, r.seconds, r.cpu, float64(packets)/r.seconds, mb/r.seconds, rss)
	}
	fmt.Printf("\nendpoint states (--no-payload): %.2f of the reference loop's packets/s (median of the rounds' ratios), peak RSS %.0f MiB\n",
		medianOf(npRatio), np.rssMiB)
	fmt.Printf("with HTTP read (the default): %.2f of the reference loop's packets/s, peak RSS %.0f MiB; reassembly and HTTP cost %.0f%% of the time\n",
		medianOf(fdRatio), fd.rssMiB, 100*(fd.seconds-np.seconds)/fd.seconds)
	if len(results) > 3 {
		ts := results[3]
		fmt.Printf("flowdoc vs tshark: %.1fx faster in %.1fx less memory for states, %.1fx faster in %.1fx less with HTTP read\n",
			ts.seconds/np.seconds, ts.rssMiB/np.rssMiB, ts.seconds/fd.seconds, ts.rssMiB/fd.rssMiB)
		sum, err := crossCheck(bin, file, conv.Bytes())
		if err != nil {
			return err
		}
		fmt.Println(sum)
	}
	return nil
}

// warm reads the capture once, untimed (readDecode and measure call it),
// so that every command measured finds it in the page cache: the kernel
// evicts pages of a file this size between runs on this machine, and
// whichever command ran first would pay for reading it from disk.
func warm(file string) {
	if f, err := os.Open(file); err == nil {
		io.Copy(io.Discard, f)
		f.Close()
	}
}

// readDecode is the reference: pcapgo's reader and a DecodingLayerParser
// over Ethernet, IPv4 and TCP, and nothing else.
func readDecode(file string) (int, result, error) {
	f, err := os.Open(file)
	if err != nil {
		return 0, result{}, err
	}
	defer f.Close()
	warm(file)
	cpu0 := cpuTime()
	start := time.Now()
	r, err := pcapgo.NewReader(bufio.NewReaderSize(f, 1<<16))
	if err != nil {
		return 0, result{}, err
	}
	var eth layers.Ethernet
	var ip layers.IPv4
	var tcp layers.TCP
	var pl gopacket.Payload
	p := gopacket.NewDecodingLayerParser(layers.LayerTypeEthernet, &eth, &ip, &tcp, &pl)
	decoded := make([]gopacket.LayerType, 0, 4)
	n, syns := 0, 0
	for {
		data, _, err := r.ZeroCopyReadPacketData()
		if err == io.EOF {
			break
		}
		if err != nil {
			return 0, result{}, err
		}
		n++
		if p.DecodeLayers(data, &decoded) == nil && tcp.SYN {
			syns++ // use the decoded layer, as a real consumer would
		}
	}
	if syns == 0 {
		return 0, result{}, fmt.Errorf("%s: no SYN decoded", file)
	}
	return n, result{name: "reference: pcapgo + DecodingLayerParser", seconds: time.Since(start).Seconds(), cpu: cpuTime() - cpu0}, nil
}

// cpuTime is the user and system time this process has used.
func cpuTime() float64 {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano()).Seconds()
}

// measure runs bin with args on file, once the file is in the page cache.
func measure(file, name, bin string, args ...string) (result, error) {
	return measureTo(io.Discard, file, name, bin, args...)
}

// measureTo is measure, the command's output written to out.
func measureTo(out io.Writer, file, name, bin string, args ...string) (result, error) {
	warm(file)
	cmd := exec.Command(bin, args...)
	cmd.Stdout = out
	var stderr strings.Builder
	cmd.Stderr = &stderr
	start := time.Now()
	if err := cmd.Run(); err != nil {
		return result{}, fmt.Errorf("%s: %v: %s", name, err, stderr.String())
	}
	el := time.Since(start).Seconds()
	var rss float64
	if ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage); ok {
		rss = float64(ru.Maxrss) / 1024 // KiB on Linux
	}
	cpu := (cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime()).Seconds()
	return result{name: name, seconds: el, cpu: cpu, rssMiB: rss}, nil
}
