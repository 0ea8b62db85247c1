// Command goh2 plays both ends of the real-software lab's go-h2-idle
// scenario: a Go net/http server over TLS (HTTP/2 by ALPN) with an idle
// timeout, and Go net/http clients speaking HTTP/2 to it.
//
//	goh2 serve ADDR CERT KEY IDLE TTL
//	    serve "ok\n" on every path over TLS, IdleTimeout IDLE; exit after TTL
//	goh2 client URL ROLE PAUSE HOLD
//	    one Transport (ForceAttemptHTTP2, certificate not verified) and one
//	    GET; then, by ROLE:
//	      leak   the body is never read nor closed; the response is kept
//	      reuse  the body is read and closed; the next GET after PAUSE
//	      close  the body is read and closed; after PAUSE the Transport
//	             closes its idle connections
//	    then it holds everything for HOLD and exits.
//
// A client prints "ROLE PORT" with the local port of each request's
// connection (the second request of "reuse" as "reuse2") on stdout.
package main

import (
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptrace"
	"os"
	"time"
)

func main() {
	if len(os.Args) < 2 {
		log.Fatal("usage: goh2 serve ADDR CERT KEY IDLE TTL | goh2 client URL ROLE PAUSE HOLD")
	}
	switch os.Args[1] {
	case "serve":
		if len(os.Args) != 7 {
			log.Fatal("usage: goh2 serve ADDR CERT KEY IDLE TTL")
		}
		serve(os.Args[2], os.Args[3], os.Args[4], dur(os.Args[5]), dur(os.Args[6]))
	case "client":
		if len(os.Args) != 6 {
			log.Fatal("usage: goh2 client URL ROLE PAUSE HOLD")
		}
		client(os.Args[2], os.Args[3], dur(os.Args[4]), dur(os.Args[5]))
	default:
		log.Fatalf("goh2: unknown mode %q", os.Args[1])
	}
}

func dur(s string) time.Duration {
	d, err := time.ParseDuration(s)
	if err != nil {
		log.Fatal(err)
	}
	return d
}

func serve(addr, cert, key string, idle, ttl time.Duration) {
	srv := &http.Server{
		Addr:        addr,
		IdleTimeout: idle,
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			io.WriteString(w, "ok\n")
		}),
	}
	time.AfterFunc(ttl, func() { os.Exit(0) })
	log.Fatal(srv.ListenAndServeTLS(cert, key))
}

func client(url, role string, pause, hold time.Duration) {
	tr := &http.Transport{
		ForceAttemptHTTP2: true,
		TLSClientConfig:   &tls.Config{InsecureSkipVerify: true},
		DialContext:       (&net.Dialer{Timeout: 3 * time.Second}).DialContext,
	}
	c := &http.Client{Transport: tr}
	get := func(name string) *http.Response {
		trace := &httptrace.ClientTrace{GotConn: func(ci httptrace.GotConnInfo) {
			fmt.Printf("%s %d\n", name, ci.Conn.LocalAddr().(*net.TCPAddr).Port)
		}}
		req, err := http.NewRequestWithContext(httptrace.WithClientTrace(context.Background(), trace), "GET", url, nil)
		if err != nil {
			log.Fatal(err)
		}
		resp, err := c.Do(req)
		if err != nil {
			fmt.Fprintln(os.Stderr, "goh2:", role, err)
			return nil
		}
		if resp.ProtoMajor != 2 {
			fmt.Fprintln(os.Stderr, "goh2:", role, "not HTTP/2:", resp.Proto)
		}
		return resp
	}
	var kept []*http.Response // reachable: nothing closes them
	resp := get(role)
	switch role {
	case "leak":
		kept = append(kept, resp) // the bug: the body is never closed
	case "reuse", "close":
		if resp != nil {
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
		}
		time.Sleep(pause)
		if role == "close" {
			tr.CloseIdleConnections()
			break
		}
		if resp := get("reuse2"); resp != nil {
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
		}
	default:
		log.Fatalf("goh2: unknown role %q", role)
	}
	time.Sleep(hold)
	_ = kept
}
