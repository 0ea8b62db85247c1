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
	"flag"
	"fmt"
	"io"
	"log"
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
		// Written aside and renamed when whole: make takes a file newer
		// than the generator for one it made.
		if err := gen(*out+".part", *packets, *shape); err != nil {
			log.Fatal(err)
		}
		if err := os.Rename(*out+".part", *out); err != nil {
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
