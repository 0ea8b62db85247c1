package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// soak runs flowdoc live on loopback for d while a generator opens rate
// connections a second to a local server (a request, a response, a close
// from either side, some leaked), samples flowdoc's resident memory every
// few seconds, and reports it with the drops libpcap counted and the
// flows flowdoc kept: at each of its status lines and in its report,
// which must never be more than maxFlows (an error otherwise). To test
// the cap the churn must outnumber it: the traffic goes on past d, up to
// 3d, until it has made a fifth more connections than the cap; flowdoc is
// then stopped as a user would, with SIGINT. The traffic is bounded:
// 3*rate*d connections at most, on 127.0.0.0/8 only, and it stops by
// itself.
func soak(bin string, d time.Duration, rate, maxFlows int) error {
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		return err
	}
	defer ln.Close()
	port := ln.Addr().(*net.TCPAddr).Port
	go serve(ln)

	lv, err := startLive(bin, port, d, maxFlows)
	if err != nil {
		return err
	}
	time.Sleep(time.Second) // the capture is open
	rss := sampleRSS(lv.cmd.Process.Pid, 5*time.Second)

	start := time.Now()
	opened, failed, leaked := generate(port, d, rate, maxFlows+maxFlows/5)
	time.Sleep(2 * time.Second) // the last packets reach flowdoc
	lv.cmd.Process.Signal(os.Interrupt)
	rep, derr := readSoakReport(lv.out)
	samples, peak := rss()
	peakKept := <-lv.kept
	var ru syscall.Rusage
	lv.cmd.Wait()
	if lv.cmd.ProcessState != nil {
		ru = *lv.cmd.ProcessState.SysUsage().(*syscall.Rusage)
	}
	if derr != nil {
		return fmt.Errorf("reading flowdoc's report: %w", derr)
	}
	el := time.Since(start)
	fmt.Printf("soak: %d connections in %s (%.0f/s, %d leaked, %d failed to connect), flowdoc live --max-flows %d\n",
		opened, el.Round(time.Second), float64(opened)/el.Seconds(), leaked, failed, maxFlows)
	fmt.Printf("soak: %d packets captured (%.0f/s), libpcap dropped %d, %d flows in the report\n",
		rep.packets(), float64(rep.packets())/el.Seconds(), rep.Capture.Dropped+rep.Capture.IfDropped, len(rep.Flows))
	fmt.Printf("soak: resident memory every 5 s (MiB): %s; peak %.0f MiB (getrusage %.0f MiB)\n",
		strings.Join(samples, " "), peak, float64(ru.Maxrss)/1024)
	fmt.Printf("soak: flows kept: at most %d at a status line, %d in the report, %d dropped from memory; the cap is %d\n",
		peakKept, len(rep.Flows), rep.evicted(), maxFlows)
	if opened-failed <= maxFlows {
		fmt.Printf("soak: the churn did not outnumber the cap: this run does not test it (raise SOAKRATE or SOAKTIME)\n")
	}
	if peakKept > maxFlows || len(rep.Flows) > maxFlows {
		return fmt.Errorf("soak: flowdoc live --max-flows %d kept more flows than the cap", maxFlows)
	}
	return nil
}

// liveRun is flowdoc live running for a soak: its report comes on out,
// the most flows its status lines said it held on kept.
type liveRun struct {
	cmd  *exec.Cmd
	out  io.Reader
	kept chan int
}

// startLive starts flowdoc live on loopback, on the soak server's port.
func startLive(bin string, port int, d time.Duration, maxFlows int) (*liveRun, error) {
	cmd := exec.Command(bin, "live", "-i", "lo", "-f", "tcp port "+strconv.Itoa(port), "--interval", "5s",
		"--max-flows", strconv.Itoa(maxFlows), "--no-sockets", "-F", "json", "--duration", (3*d + 10*time.Second).String())
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	// Its status lines, one per interval: the flows it holds then.
	status, err := cmd.StderrPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	kept := make(chan int, 1)
	go func() {
		peak := 0
		sc := bufio.NewScanner(status)
		for sc.Scan() {
			if m := statusFlows.FindStringSubmatch(sc.Text()); m != nil {
				n, _ := strconv.Atoi(m[1])
				peak = max(peak, n)
			}
		}
		kept <- peak
	}()
	return &liveRun{cmd, out, kept}, nil
}

// sampleRSS reads the resident memory of process pid every interval
// until the function it returns is called, which gives the samples and
// their peak.
func sampleRSS(pid int, every time.Duration) func() ([]string, float64) {
	stop := make(chan struct{})
	var samples []string
	var peak float64
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		t := time.NewTicker(every)
		defer t.Stop()
		for {
			select {
			case <-stop:
				return
			case <-t.C:
				rss := rssMiB(pid)
				peak = max(peak, rss)
				samples = append(samples, fmt.Sprintf("%.0f", rss))
			}
		}
	}()
	return func() ([]string, float64) {
		close(stop)
		wg.Wait()
		return samples, peak
	}
}

// soakReport is what a soak reads of flowdoc live's JSON report.
type soakReport struct {
	Capture struct {
		Received, Dropped int
		IfDropped         int `json:"if_dropped"`
	} `json:"capture"`
	Flows  []json.RawMessage `json:"flows"`
	Inputs []struct {
		Packets  int      `json:"packets"`
		Warnings []string `json:"warnings"`
	} `json:"inputs"`
}

// readSoakReport decodes the report, and drains what follows it.
func readSoakReport(out io.Reader) (soakReport, error) {
	var rep soakReport
	err := json.NewDecoder(bufio.NewReader(out)).Decode(&rep)
	io.Copy(io.Discard, out)
	return rep, err
}

func (r *soakReport) packets() int {
	if len(r.Inputs) == 0 {
		return 0
	}
	return r.Inputs[0].Packets
}

// evicted is how many flows the report says were dropped from memory.
func (r *soakReport) evicted() int {
	n := 0
	if len(r.Inputs) > 0 {
		for _, w := range r.Inputs[0].Warnings {
			if m := evictedWarning.FindStringSubmatch(w); m != nil {
				n, _ = strconv.Atoi(m[1])
			}
		}
	}
	return n
}

// statusFlows finds the flows held in one of flowdoc live's status lines
// ("..., 5000 connections (12 open), ...").
var statusFlows = regexp.MustCompile(`, (\d+) connections \(\d+ open\)`)

// evictedWarning finds the flows dropped in the report's warning.
var evictedWarning = regexp.MustCompile(`^(\d+) connections were dropped from memory`)

// serve answers each connection's request; every third connection it
// closes after the response (the others it leaves for the client).
func serve(ln net.Listener) {
	n := 0
	for {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		n++
		go func(c net.Conn, serverCloses bool) {
			defer c.Close()
			buf := make([]byte, 512)
			if _, err := c.Read(buf); err != nil {
				return
			}
			c.Write([]byte("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"))
			if serverCloses {
				return
			}
			c.SetReadDeadline(time.Now().Add(5 * time.Second))
			io.Copy(io.Discard, c)
		}(c, n%3 == 0)
	}
}

// generate opens rate connections a second for d, and on (up to 3d) until
// it has opened atLeast. One in 50 is leaked
// (never closed: CLOSE_WAIT when the server closes it), until the end.
// The connections come from four loopback addresses in turn: from one,
// the ports its TIME_WAITs hold would cap the rate at a few hundred a
// second.
func generate(port int, d time.Duration, rate, atLeast int) (opened, failed, leaked int) {
	addr := "127.0.0.1:" + strconv.Itoa(port)
	tick := time.NewTicker(time.Second / time.Duration(rate))
	defer tick.Stop()
	end, last := time.Now().Add(d), time.Now().Add(3*d)
	var held []net.Conn
	defer func() {
		for _, c := range held {
			c.Close()
		}
	}()
	var wg sync.WaitGroup
	var mu sync.Mutex
	var nfailed atomic.Int64
	for now := time.Now(); now.Before(end) || opened < atLeast && now.Before(last); now = time.Now() {
		<-tick.C
		opened++
		leak := opened%50 == 0
		wg.Add(1)
		n := opened
		go func() {
			defer wg.Done()
			d := net.Dialer{Timeout: time.Second, LocalAddr: &net.TCPAddr{IP: net.IPv4(127, 0, 0, byte(1+n%4))}}
			c, err := d.Dial("tcp4", addr)
			if err != nil {
				nfailed.Add(1)
				return
			}
			c.Write([]byte("GET / HTTP/1.1\r\nHost: soak\r\n\r\n"))
			buf := make([]byte, 512)
			c.SetReadDeadline(time.Now().Add(2 * time.Second))
			c.Read(buf)
			if leak {
				mu.Lock()
				held = append(held, c)
				mu.Unlock()
				return
			}
			c.Close()
		}()
		if leak {
			leaked++
		}
	}
	wg.Wait()
	return opened, int(nfailed.Load()), leaked
}

// rssMiB is a process's resident memory now, from /proc.
func rssMiB(pid int) float64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			kb, _ := strconv.Atoi(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")))
			return float64(kb) / 1024
		}
	}
	return 0
}
