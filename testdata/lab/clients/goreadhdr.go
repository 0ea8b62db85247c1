// Command goreadhdr is the Go net/http server of the real-software lab's
// request-timeouts scenario: a server with a ReadHeaderTimeout, which
// closes a connection whose request's headers did not end in time.
//
//	goreadhdr ADDR TIMEOUT TTL
//	    serve "ok\n" on every path, ReadHeaderTimeout TIMEOUT (IdleTimeout
//	    30 s); exit after TTL
package main

import (
	"io"
	"log"
	"net/http"
	"os"
	"time"
)

func main() {
	if len(os.Args) != 4 {
		log.Fatal("usage: goreadhdr ADDR TIMEOUT TTL")
	}
	srv := &http.Server{
		Addr:              os.Args[1],
		ReadHeaderTimeout: dur(os.Args[2]),
		IdleTimeout:       30 * time.Second,
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			io.WriteString(w, "ok\n")
		}),
	}
	time.AfterFunc(dur(os.Args[3]), func() { os.Exit(0) })
	log.Fatal(srv.ListenAndServe())
}

func dur(s string) time.Duration {
	d, err := time.ParseDuration(s)
	if err != nil {
		log.Fatal(err)
	}
	return d
}
