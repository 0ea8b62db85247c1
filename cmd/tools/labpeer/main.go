// Command labpeer is the lab's traffic: small TCP servers, clients and a proxy
// that behave the way the incidents flowdoc exists for behaved, on the real
// kernel TCP stack. It speaks just enough HTTP/1.1 to be realistic.
//
//	labpeer server -listen ADDR [-idle D] [-delay D] [-accept-close] [-no-accept -backlog N] [-no-read] [-half-close]
//	labpeer client -connect ADDR [-n N] [-interval D] [-paths P,...] [-leak none|all|non200]
//	               [-reuse-after D] [-timeout D] [-half-close] [-flood BYTES] [-close-order client|server] [-abort]
//	labpeer proxy -listen ADDR -upstream ADDR
//	labpeer httpd|http|tls-server|tls-client ... (http.go: the payload scenarios)
//
// Every mode runs until it is killed (the lab keeps each PID and kills it
// after the capture), so sockets an application "leaks" stay open.
package main

import (
	"bufio"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"net"
	"os"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

func main() {
	if len(os.Args) < 2 {
		log.Fatal("usage: labpeer server|client|proxy|httpd|http|tls-server|tls-client ...")
	}
	log.SetPrefix("labpeer " + os.Args[1] + ": ")
	switch os.Args[1] {
	case "server":
		server(os.Args[2:])
	case "client":
		client(os.Args[2:])
	case "proxy":
		proxy(os.Args[2:])
	case "httpd":
		httpd(os.Args[2:])
	case "http":
		httpClient(os.Args[2:])
	case "tls-server":
		tlsServer(os.Args[2:])
	case "tls-client":
		tlsClient(os.Args[2:])
	default:
		log.Fatalf("unknown mode %q", os.Args[1])
	}
}

// held keeps leaked connections referenced, so the garbage collector never
// closes them behind the application's back.
var held struct {
	sync.Mutex
	conns []net.Conn
}

func hold(c net.Conn) {
	held.Lock()
	held.conns = append(held.conns, c)
	held.Unlock()
}

func forever() { select {} }

func server(args []string) {
	fs := flag.NewFlagSet("server", flag.ExitOnError)
	listen := fs.String("listen", "", "address to listen on")
	idle := fs.Duration("idle", 0, "close a keep-alive connection idle this long (0: never)")
	delay := fs.Duration("delay", 0, "wait this long before each response")
	acceptClose := fs.Bool("accept-close", false, "accept and close at once (a connection cap)")
	noAccept := fs.Bool("no-accept", false, "never accept (the accept queue fills)")
	backlog := fs.Int("backlog", 1, "listen backlog with -no-accept")
	noRead := fs.Bool("no-read", false, "accept but never read (the receive window closes)")
	halfClose := fs.Bool("half-close", false, "read the request until EOF, then respond and close")
	fs.Parse(args)

	if *noAccept {
		listenRaw(*listen, *backlog)
		forever()
	}
	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		log.Fatal(err)
	}
	for {
		c, err := ln.Accept()
		if err != nil {
			log.Fatal(err)
		}
		switch {
		case *acceptClose:
			c.Close()
		case *noRead:
			c.(*net.TCPConn).SetReadBuffer(4096)
			hold(c)
		case *halfClose:
			go func() {
				defer c.Close()
				req, _ := io.ReadAll(c)
				respond(c, 200, len(req))
			}()
		default:
			go serve(c, *idle, *delay)
		}
	}
}

// listenRaw listens with a given backlog, which net.Listen does not allow.
func listenRaw(addr string, backlog int) {
	ap, err := net.ResolveTCPAddr("tcp", addr)
	if err != nil {
		log.Fatal(err)
	}
	domain := syscall.AF_INET
	var sa syscall.Sockaddr = &syscall.SockaddrInet4{Port: ap.Port, Addr: [4]byte(ap.IP.To4())}
	if ap.IP.To4() == nil {
		domain = syscall.AF_INET6
		sa = &syscall.SockaddrInet6{Port: ap.Port, Addr: [16]byte(ap.IP.To16())}
	}
	fd, err := syscall.Socket(domain, syscall.SOCK_STREAM, 0)
	if err != nil {
		log.Fatal(err)
	}
	syscall.SetsockoptInt(fd, syscall.SOL_SOCKET, syscall.SO_REUSEADDR, 1)
	if err := syscall.Bind(fd, sa); err != nil {
		log.Fatal(err)
	}
	if err := syscall.Listen(fd, backlog); err != nil {
		log.Fatal(err)
	}
}

// serve answers requests on a keep-alive connection until the client
// closes or it sits idle for idle.
func serve(c net.Conn, idle, delay time.Duration) {
	defer c.Close()
	br := bufio.NewReader(c)
	for {
		if idle > 0 {
			c.SetReadDeadline(time.Now().Add(idle))
		}
		path, err := readRequest(br)
		if err != nil {
			return // EOF, reset, or the idle timeout: close
		}
		if delay > 0 {
			time.Sleep(delay)
		}
		status := 200
		if strings.HasPrefix(path, "/status/") {
			status, _ = strconv.Atoi(strings.TrimPrefix(path, "/status/"))
		}
		if respond(c, status, 0) != nil {
			return
		}
	}
}

func readRequest(br *bufio.Reader) (string, error) {
	line, err := br.ReadString('\n')
	if err != nil {
		return "", err
	}
	f := strings.Fields(line)
	if len(f) < 2 {
		return "", errors.New("bad request line")
	}
	for {
		h, err := br.ReadString('\n')
		if err != nil {
			return "", err
		}
		if h == "\r\n" || h == "\n" {
			return f[1], nil
		}
	}
}

func respond(w io.Writer, status, n int) error {
	body := fmt.Sprintf("%d %s; read %d bytes\n", status, statusText(status), n)
	_, err := fmt.Fprintf(w, "HTTP/1.1 %d %s\r\nContent-Type: text/plain\r\nContent-Length: %d\r\n\r\n%s",
		status, statusText(status), len(body), body)
	return err
}

func statusText(s int) string {
	switch s {
	case 200:
		return "OK"
	case 404:
		return "Not Found"
	case 500:
		return "Internal Server Error"
	case 503:
		return "Service Unavailable"
	}
	return "Status"
}

func client(args []string) {
	fs := flag.NewFlagSet("client", flag.ExitOnError)
	connect := fs.String("connect", "", "server address")
	n := fs.Int("n", 1, "connections to make")
	interval := fs.Duration("interval", 0, "pause between connections")
	parallel := fs.Bool("parallel", false, "make the connections all at once")
	paths := fs.String("paths", "/", "request paths, used in turn")
	leak := fs.String("leak", "none", "connections never closed: none, all, or non200 (returned early on an error status)")
	reuseAfter := fs.Duration("reuse-after", 0, "send a second request on the same connection after this pause")
	timeout := fs.Duration("timeout", 0, "give up waiting for a response (or connect) after this long, and close")
	halfClose := fs.Bool("half-close", false, "shut down the sending side after the request")
	flood := fs.Int("flood", 0, "after the request, write this many bytes and never read")
	closeOrder := fs.String("close-order", "client", "client: close after the response; server: wait for the server's FIN, then close")
	abort := fs.Bool("abort", false, "close with RST (SO_LINGER 0)")
	keepalive := fs.Duration("keepalive", -1, "TCP keep-alive interval (negative: off)")
	fs.Parse(args)

	pathList := strings.Split(*paths, ",")
	var wg sync.WaitGroup
	for i := 0; i < *n; i++ {
		path := pathList[i%len(pathList)]
		run := func() {
			defer wg.Done()
			d := net.Dialer{Timeout: *timeout, KeepAlive: *keepalive}
			if *keepalive > 0 {
				d.KeepAliveConfig = net.KeepAliveConfig{Enable: true, Idle: *keepalive, Interval: *keepalive, Count: 9}
			}
			c, err := d.Dial("tcp", *connect)
			if err != nil {
				log.Printf("connection %d: %v", i+1, err)
				return
			}
			one(c, path, *leak, *reuseAfter, *timeout, *halfClose, *flood, *closeOrder, *abort)
		}
		wg.Add(1)
		if *parallel {
			go run()
		} else {
			run()
			time.Sleep(*interval)
		}
	}
	wg.Wait()
	forever()
}

func one(c net.Conn, path, leak string, reuseAfter, timeout time.Duration, halfClose bool, flood int, closeOrder string, abort bool) {
	if _, err := fmt.Fprintf(c, "GET %s HTTP/1.1\r\nHost: lab\r\n\r\n", path); err != nil {
		c.Close()
		return
	}
	if halfClose {
		c.(*net.TCPConn).CloseWrite()
	}
	if flood > 0 {
		hold(c)
		go c.Write(make([]byte, flood)) // blocks once the window closes
		return
	}
	if timeout > 0 {
		c.SetReadDeadline(time.Now().Add(timeout))
	}
	br := bufio.NewReader(c)
	status, err := readResponse(br)
	if err != nil {
		c.Close() // timed out, or reset: give up
		return
	}
	switch {
	case leak == "all", leak == "non200" && status != 200:
		hold(c) // returned early: never read on, never closed
		return
	case reuseAfter > 0:
		time.Sleep(reuseAfter)
		fmt.Fprintf(c, "GET %s HTTP/1.1\r\nHost: lab\r\n\r\n", path)
		readResponse(br)
		c.Close()
		return
	case closeOrder == "server":
		c.SetReadDeadline(time.Time{})
		io.Copy(io.Discard, br) // until the server's FIN
	}
	if abort {
		c.(*net.TCPConn).SetLinger(0)
	}
	c.Close()
}

func readResponse(br *bufio.Reader) (int, error) {
	line, err := br.ReadString('\n')
	if err != nil {
		return 0, err
	}
	f := strings.Fields(line)
	if len(f) < 2 {
		return 0, errors.New("bad status line")
	}
	status, _ := strconv.Atoi(f[1])
	length := 0
	for {
		h, err := br.ReadString('\n')
		if err != nil {
			return 0, err
		}
		if h == "\r\n" {
			break
		}
		if k, v, ok := strings.Cut(h, ":"); ok && strings.EqualFold(k, "Content-Length") {
			length, _ = strconv.Atoi(strings.TrimSpace(v))
		}
	}
	_, err = io.CopyN(io.Discard, br, int64(length))
	return status, err
}

// proxy forwards each request upstream and waits for the answer with no
// timeout; it never closes the caller's socket, even once the caller has
// given up and closed its end.
func proxy(args []string) {
	fs := flag.NewFlagSet("proxy", flag.ExitOnError)
	listen := fs.String("listen", "", "address to listen on")
	upstream := fs.String("upstream", "", "upstream server")
	fs.Parse(args)
	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		log.Fatal(err)
	}
	for {
		c, err := ln.Accept()
		if err != nil {
			log.Fatal(err)
		}
		hold(c)
		go func() {
			br := bufio.NewReader(c)
			path, err := readRequest(br)
			if err != nil {
				return
			}
			u, err := net.Dial("tcp", *upstream)
			if err != nil {
				return
			}
			hold(u)
			fmt.Fprintf(u, "GET %s HTTP/1.1\r\nHost: upstream\r\n\r\n", path)
			readResponse(bufio.NewReader(u)) // blocks: no timeout
		}()
	}
}
