// Command labgohttp is the client of the real-software lab's incident of
// non-200 responses never released: a Go net/http client that reads and
// closes the body of a 200, but returns early on any other status without
// closing it. Such a connection never goes back to the pool and is never
// closed: when the server's keep-alive timeout closes it, the socket sits
// in CLOSE_WAIT until the process exits.
//
// Each request goes out on a client of its own. It prints one line per
// request on stdout, "leak PORT" or "ok PORT" with the local port the
// request went out on, then holds its sockets for -hold and exits. Over
// HTTPS (an https -url) the certificate is not verified: the lab's are
// self-signed.
package main

import (
	"context"
	"crypto/tls"
	"flag"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptrace"
	"os"
	"strings"
	"time"
)

func main() {
	base := flag.String("url", "", "server base URL, e.g. http://10.0.0.2:8080 or https://10.0.0.2:8443")
	paths := flag.String("paths", "/ok,/missing", "paths, requested in turn")
	n := flag.Int("n", 8, "requests")
	interval := flag.Duration("interval", 250*time.Millisecond, "time between requests")
	hold := flag.Duration("hold", 10*time.Second, "how long to keep running after the last request")
	flag.Parse()
	if *base == "" {
		log.Fatal("gohttp: -url is required")
	}
	var leaked []io.ReadCloser // kept reachable: nothing closes them
	list := strings.Split(*paths, ",")
	for i := 0; i < *n; i++ {
		port := 0
		trace := &httptrace.ClientTrace{GotConn: func(ci httptrace.GotConnInfo) {
			port = ci.Conn.LocalAddr().(*net.TCPAddr).Port
		}}
		ctx := httptrace.WithClientTrace(context.Background(), trace)
		req, err := http.NewRequestWithContext(ctx, "GET", *base+list[i%len(list)], nil)
		if err != nil {
			log.Fatal(err)
		}
		// A client (and pool) per request, as a service that makes one
		// per call does: each request has a connection of its own. No
		// Client.Timeout: it would close the leaked bodies when it fires.
		// HTTP/1.1 over TLS too (a custom dialer and TLS config turn
		// HTTP/2 off).
		client := &http.Client{Transport: &http.Transport{
			DialContext:     (&net.Dialer{Timeout: 3 * time.Second}).DialContext,
			TLSClientConfig: &tls.Config{InsecureSkipVerify: true},
		}}
		resp, err := client.Do(req)
		if err != nil {
			fmt.Fprintln(os.Stderr, "gohttp:", err)
		} else if resp.StatusCode != http.StatusOK {
			// The bug: an early return on an error status, body not closed.
			leaked = append(leaked, resp.Body)
			fmt.Printf("leak %d\n", port)
		} else {
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			fmt.Printf("ok %d\n", port)
		}
		time.Sleep(*interval)
	}
	time.Sleep(*hold)
	_ = leaked
}
