package main

import (
	"bufio"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"math/big"
	"net"
	"strconv"
	"strings"
	"sync"
	"time"
)

// The HTTP/1.1 the lab's payload scenarios need: a server that advertises
// a Keep-Alive timeout, answers with Connection: close, sends chunked
// bodies and 100 Continue; a client that pipelines, sends POST with
// Expect: 100-continue, and leaks or ignores Connection: close on request.
//
//	peer httpd -listen ADDR [-idle D] [-advertise D] [-close-every N] [-body N] [-chunked (/chunk... paths)]
//	peer http -connect ADDR [-n N] [-interval D] [-requests "GET /a,HEAD /b,POST /c"]
//	          [-pipeline] [-pause D] [-leak none|non200]
//	peer tls-server -listen ADDR
//	peer tls-client -connect ADDR -name NAME [-n N]

// request is what the server read of one request.
type request struct {
	method, path string
	expect       bool
	length       int
}

func readHTTPRequest(br *bufio.Reader) (request, error) {
	var rq request
	line, err := br.ReadString('\n')
	if err != nil {
		return rq, err
	}
	f := strings.Fields(line)
	if len(f) != 3 {
		return rq, errors.New("bad request line")
	}
	rq.method, rq.path = f[0], f[1]
	for {
		h, err := br.ReadString('\n')
		if err != nil {
			return rq, err
		}
		if h == "\r\n" {
			return rq, nil
		}
		k, v, _ := strings.Cut(h, ":")
		v = strings.TrimSpace(v)
		switch strings.ToLower(k) {
		case "content-length":
			rq.length, _ = strconv.Atoi(v)
		case "expect":
			rq.expect = strings.EqualFold(v, "100-continue")
		}
	}
}

func httpd(args []string) {
	fs := flag.NewFlagSet("httpd", flag.ExitOnError)
	listen := fs.String("listen", "", "address to listen on")
	idle := fs.Duration("idle", 0, "close a keep-alive connection idle this long (0: never)")
	advertise := fs.Duration("advertise", 0, "the Keep-Alive timeout to advertise in responses (0: none)")
	closeEvery := fs.Int("close-every", 0, "answer every Nth request on a connection with Connection: close, and close")
	body := fs.Int("body", 0, "response body size (0: a short text)")
	chunked := fs.Bool("chunked", false, "send bodies chunked when the path says \"chunk\"")
	fs.Parse(args)
	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		log.Fatal(err)
	}
	serveConns(ln, func(c net.Conn, br *bufio.Reader) {
		for n := 1; ; n++ {
			if *idle > 0 {
				c.SetReadDeadline(time.Now().Add(*idle))
			}
			rq, err := readHTTPRequest(br)
			if err != nil {
				return
			}
			if rq.expect {
				io.WriteString(c, "HTTP/1.1 100 Continue\r\n\r\n")
			}
			if _, err := io.CopyN(io.Discard, br, int64(rq.length)); err != nil {
				return
			}
			status := 200
			if s, ok := strings.CutPrefix(rq.path, "/status/"); ok {
				status, _ = strconv.Atoi(s)
			}
			text := fmt.Sprintf("%d %s for %s %s\n", status, statusText(status), rq.method, rq.path)
			if *body > 0 {
				text = strings.Repeat(text, *body/len(text)+1)[:*body]
			}
			var hdr strings.Builder
			fmt.Fprintf(&hdr, "HTTP/1.1 %d %s\r\nContent-Type: text/plain\r\n", status, statusText(status))
			if *advertise > 0 {
				fmt.Fprintf(&hdr, "Connection: keep-alive\r\nKeep-Alive: timeout=%d\r\n", int(advertise.Seconds()))
			}
			closing := *closeEvery > 0 && n%*closeEvery == 0
			if closing {
				hdr.WriteString("Connection: close\r\n")
			}
			w := bufio.NewWriter(c)
			switch {
			case *chunked && strings.Contains(rq.path, "chunk") && rq.method != "HEAD":
				hdr.WriteString("Transfer-Encoding: chunked\r\n\r\n")
				w.WriteString(hdr.String())
				half := len(text) / 2
				for _, part := range []string{text[:half], text[half:]} {
					fmt.Fprintf(w, "%x\r\n%s\r\n", len(part), part)
				}
				w.WriteString("0\r\n\r\n")
			default:
				fmt.Fprintf(&hdr, "Content-Length: %d\r\n\r\n", len(text))
				w.WriteString(hdr.String())
				if rq.method != "HEAD" {
					w.WriteString(text)
				}
			}
			if w.Flush() != nil || closing {
				return
			}
		}
	})
}

// serveConns accepts connections on ln for ever, each handled on a
// goroutine of its own and closed when handle returns.
func serveConns(ln net.Listener, handle func(c net.Conn, br *bufio.Reader)) {
	for {
		c, err := ln.Accept()
		if err != nil {
			log.Fatal(err)
		}
		go func() {
			defer c.Close()
			handle(c, bufio.NewReader(c))
		}()
	}
}

// readHTTPResponse reads one final response (skipping 100 Continue) and
// returns its status.
func readHTTPResponse(br *bufio.Reader, method string) (int, error) {
	for {
		line, err := br.ReadString('\n')
		if err != nil {
			return 0, err
		}
		f := strings.Fields(line)
		if len(f) < 2 {
			return 0, errors.New("bad status line")
		}
		status, _ := strconv.Atoi(f[1])
		length, chunked := -1, false
		for {
			h, err := br.ReadString('\n')
			if err != nil {
				return 0, err
			}
			if h == "\r\n" {
				break
			}
			k, v, _ := strings.Cut(h, ":")
			v = strings.TrimSpace(v)
			switch strings.ToLower(k) {
			case "content-length":
				length, _ = strconv.Atoi(v)
			case "transfer-encoding":
				chunked = strings.EqualFold(v, "chunked")
			}
		}
		if status < 200 {
			continue
		}
		switch {
		case method == "HEAD":
		case chunked:
			for {
				sz, err := br.ReadString('\n')
				if err != nil {
					return 0, err
				}
				n, _ := strconv.ParseInt(strings.TrimSpace(sz), 16, 64)
				if _, err := io.CopyN(io.Discard, br, n+2); err != nil {
					return 0, err
				}
				if n == 0 {
					break
				}
			}
		case length >= 0:
			if _, err := io.CopyN(io.Discard, br, int64(length)); err != nil {
				return 0, err
			}
		}
		return status, nil
	}
}

func httpClient(args []string) {
	fs := flag.NewFlagSet("http", flag.ExitOnError)
	connect := fs.String("connect", "", "server address")
	n := fs.Int("n", 1, "connections to make, one after the other")
	interval := fs.Duration("interval", 0, "pause between connections")
	requests := fs.String("requests", "GET /", "the requests each connection sends, in order")
	pipeline := fs.Bool("pipeline", false, "send all requests before reading the responses")
	pause := fs.Duration("pause", 0, "pause between requests on a connection")
	leak := fs.String("leak", "none", "connections never closed: none, or non200 (after an error status)")
	fs.Parse(args)
	reqs := strings.Split(*requests, ",")
	// Connection i sends request i (of the list, in turn) when there are
	// several connections, all of them when there is one.
	for i := range *n {
		list := reqs
		if *n > 1 {
			list = []string{reqs[i%len(reqs)]}
		}
		c, err := net.Dial("tcp", *connect)
		if err != nil {
			log.Printf("connection %d: %v", i+1, err)
			continue
		}
		br := bufio.NewReader(c)
		write := func(r string) (string, error) {
			method, path, _ := strings.Cut(strings.TrimSpace(r), " ")
			if method == "POST" {
				body := "name=flowdoc&lab=1"
				if _, err := fmt.Fprintf(c, "POST %s HTTP/1.1\r\nHost: lab\r\nExpect: 100-continue\r\nContent-Length: %d\r\n\r\n", path, len(body)); err != nil {
					return method, err
				}
				if !*pipeline {
					// Wait for 100 Continue before the body.
					line, err := br.ReadString('\n')
					if err != nil || !strings.Contains(line, " 100 ") {
						return method, fmt.Errorf("no 100 Continue: %q %v", line, err)
					}
					br.ReadString('\n')
				}
				_, err := io.WriteString(c, body)
				return method, err
			}
			_, err := fmt.Fprintf(c, "%s %s HTTP/1.1\r\nHost: lab\r\n\r\n", method, path)
			return method, err
		}
		last := 0
		if *pipeline {
			var methods []string
			for _, r := range list {
				m, err := write(r)
				if err != nil {
					break
				}
				methods = append(methods, m)
			}
			for _, m := range methods {
				if last, err = readHTTPResponse(br, m); err != nil {
					break
				}
			}
		} else {
			for j, r := range list {
				if j > 0 {
					time.Sleep(*pause)
				}
				m, err := write(r)
				if err != nil {
					break
				}
				if last, err = readHTTPResponse(br, m); err != nil {
					break // reset, or closed: give up on this connection
				}
			}
		}
		if *leak == "non200" && last != 200 {
			hold(c)
		} else {
			c.Close()
		}
		time.Sleep(*interval)
	}
	forever()
}

// selfSigned makes a throwaway certificate for the TLS scenario.
func selfSigned(name string) tls.Certificate {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		log.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: name}, DNSNames: []string{name},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		log.Fatal(err)
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}
}

func tlsServer(args []string) {
	fs := flag.NewFlagSet("tls-server", flag.ExitOnError)
	listen := fs.String("listen", "", "address to listen on")
	fs.Parse(args)
	cfg := &tls.Config{Certificates: []tls.Certificate{selfSigned("lab.flowdoc.test")}}
	ln, err := tls.Listen("tcp", *listen, cfg)
	if err != nil {
		log.Fatal(err)
	}
	serveConns(ln, func(c net.Conn, br *bufio.Reader) {
		for {
			rq, err := readHTTPRequest(br)
			if err != nil {
				return
			}
			respond(c, 200, len(rq.path))
		}
	})
}

func tlsClient(args []string) {
	fs := flag.NewFlagSet("tls-client", flag.ExitOnError)
	connect := fs.String("connect", "", "server address")
	name := fs.String("name", "", "server name to ask for (SNI)")
	n := fs.Int("n", 1, "connections")
	fs.Parse(args)
	var wg sync.WaitGroup
	for range *n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c, err := tls.Dial("tcp", *connect, &tls.Config{ServerName: *name, InsecureSkipVerify: true})
			if err != nil {
				log.Print(err)
				return
			}
			defer c.Close()
			fmt.Fprintf(c, "GET / HTTP/1.1\r\nHost: %s\r\n\r\n", *name)
			readResponse(bufio.NewReader(c))
		}()
	}
	wg.Wait()
	forever()
}
