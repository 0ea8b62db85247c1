package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// soak runs flowdoc live on loopback for d while a generator opens rate
// connections a second to a local server (a request, a response, a close
// from either side, some leaked), samples flowdoc's resident memory every
// few seconds, and reports it with the drops libpcap counted. The traffic
// is bounded: rate*d connections at most, on 127.0.0.1 only, and it stops
// by itself.
func soak(bin string, d time.Duration, rate, maxFlows int) error {
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		return err
	}
	defer ln.Close()
	port := ln.Addr().(*net.TCPAddr).Port
	go serve(ln)

	cmd := exec.Command(bin, "live", "-i", "lo", "-f", "tcp port "+strconv.Itoa(port), "--interval", "5s",
		"--max-flows", strconv.Itoa(maxFlows), "--no-sockets", "-F", "json", "--duration", (d + 3*time.Second).String())
	out, err := cmd.StdoutPipe()
	if err != nil {
		return err
	}
	cmd.Stderr = io.Discard
	if err := cmd.Start(); err != nil {
		return err
	}
	pid := cmd.Process.Pid
	time.Sleep(time.Second) // the capture is open

	stop := make(chan struct{})
	var samples []string
	var peak float64
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		t := time.NewTicker(5 * time.Second)
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

	start := time.Now()
	opened, leaked := generate(port, d, rate)
	var rep struct {
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
	dec := json.NewDecoder(bufio.NewReader(out))
	derr := dec.Decode(&rep)
	close(stop)
	wg.Wait()
	var ru syscall.Rusage
	cmd.Wait()
	if cmd.ProcessState != nil {
		ru = *cmd.ProcessState.SysUsage().(*syscall.Rusage)
	}
	if derr != nil {
		return fmt.Errorf("reading flowdoc's report: %w", derr)
	}
	el := time.Since(start)
	fmt.Printf("soak: %d connections in %s (%.0f/s, %d leaked), flowdoc live --max-flows %d\n", opened, el.Round(time.Second), float64(opened)/el.Seconds(), leaked, maxFlows)
	packets := 0
	if len(rep.Inputs) > 0 {
		packets = rep.Inputs[0].Packets
	}
	fmt.Printf("soak: %d packets captured (%.0f/s), libpcap dropped %d, %d flows in the report\n",
		packets, float64(packets)/el.Seconds(), rep.Capture.Dropped+rep.Capture.IfDropped, len(rep.Flows))
	fmt.Printf("soak: resident memory every 5 s (MiB): %s; peak %.0f MiB (getrusage %.0f MiB)\n",
		strings.Join(samples, " "), peak, float64(ru.Maxrss)/1024)
	return nil
}

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

// generate opens rate connections a second for d. One in 50 is leaked
// (never closed: CLOSE_WAIT when the server closes it), until the end.
func generate(port int, d time.Duration, rate int) (opened, leaked int) {
	addr := "127.0.0.1:" + strconv.Itoa(port)
	tick := time.NewTicker(time.Second / time.Duration(rate))
	defer tick.Stop()
	end := time.Now().Add(d)
	var held []net.Conn
	defer func() {
		for _, c := range held {
			c.Close()
		}
	}()
	var wg sync.WaitGroup
	var mu sync.Mutex
	for time.Now().Before(end) {
		<-tick.C
		opened++
		leak := opened%50 == 0
		wg.Add(1)
		go func() {
			defer wg.Done()
			c, err := net.DialTimeout("tcp4", addr, time.Second)
			if err != nil {
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
	return opened, leaked
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
