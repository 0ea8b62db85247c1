package analyze

import (
	"strings"
	"testing"
)

// A server that checks its idle connections once a second (lighttpd,
// gunicorn's gthread worker) closes each 2 to 3 s after its last data. A
// pool that reused one it closed after 3.0 s must be told to let go
// before the shortest of the server's idle closes (2.0 s), not before
// 3.0 s: a pool idle timeout of 2.5 s would still be reset.
func TestStaleRemedyNamesShortestIdleClose(t *testing.T) {
	const srv = "10.0.0.2:80"
	convs := []conv{
		// closed by the server after 2.0 s idle; the client closes at once
		{cport: 40001, server: srv, segs: join(open(0), exchange(0.01, 100, 200),
			[]seg{{2.011, false, "FA", 0, -1}, {2.0112, true, "FA", 0, -1}, {2.0114, false, "A", 0, -1}})},
		// closed after 2.5 s idle; the client closes at once
		{cport: 40002, server: srv, segs: join(open(0.1), exchange(0.11, 100, 200),
			[]seg{{2.611, false, "FA", 0, -1}, {2.6112, true, "FA", 0, -1}, {2.6114, false, "A", 0, -1}})},
		// closed after 3.0 s idle, reused 1 s later: RST
		{cport: 40003, server: srv, segs: join(open(0.2), exchange(0.21, 100, 200),
			[]seg{{3.211, false, "FA", 0, -1}, {3.2112, true, "A", 0, -1}, {4.2, true, "PA", 100, -1}, {4.2002, false, "R", 0, -1}})},
	}
	got := staleFindingOf(t, convs)
	if !strings.Contains(got.Remedy, "shorter than 2.0 s") || !strings.Contains(got.Summary, "after 3.0 s idle") {
		t.Errorf("the finding should name the connection's 3.0 s and advise below the server's shortest idle close, 2.0 s:\n%s\n%s", got.Summary, got.Remedy)
	}
	for _, m := range got.Metrics {
		if m.Name == "peer_idle_timeout_s" && (m.Value < 1.99 || m.Value > 2.01) {
			t.Errorf("peer_idle_timeout_s = %v, want 2.0", m.Value)
		}
	}
}

// A host whose clients both close connections right after their
// responses and keep others idle in a pool that watches them (aiohttp:
// it closes within a millisecond of the server's idle FIN). A
// connection the server closed for being idle 43 ms before the end of
// the capture is too young to call a leak: leaving it idle shows no
// forgetting in an application that keeps idle connections on purpose.
func TestYoungCloseWaitOfAPoolThatWatches(t *testing.T) {
	const srv = "10.0.0.2:80"
	closesFirst := func(port uint16, at float64) conv {
		return conv{cport: port, server: srv, segs: join(open(at), exchange(at+0.01, 100, 200),
			[]seg{{at + 0.0115, true, "FA", 0, -1}, {at + 0.0117, false, "FA", 0, -1}, {at + 0.0119, true, "A", 0, -1}})}
	}
	convs := []conv{
		closesFirst(40001, 0), closesFirst(40002, 0.5),
		// the pool's: idle 2.8 s until the server's FIN, closed 0.3 ms after
		{cport: 40003, server: srv, segs: join(open(0.1), exchange(0.11, 100, 200),
			[]seg{{2.911, false, "FA", 0, -1}, {2.9113, true, "FA", 0, -1}, {2.9115, false, "A", 0, -1}})},
		// idle 2.9 s until the server's FIN 43 ms before the end
		{cport: 40004, server: srv, segs: join(open(0.2), exchange(0.21, 100, 200),
			[]seg{{3.111, false, "FA", 0, -1}, {3.154, true, "A", 0, -1}})},
	}
	rep := analyzeFile(t, craft(t, convs...))
	got := verdictsOf(rep)
	for i, f := range rep.Flows {
		if f.Key.Client().Port() == 40004 && (!strings.Contains(got[i], "open(client)") || strings.Contains(got[i], "close_wait_leak")) {
			t.Errorf("40004: %q, want open(client), not close_wait_leak (all: %q)", got[i], got)
		}
	}
}

// Node.js closes a keep-alive connection idle for 6 s; a request that
// reaches it as its timer fires is reset unread, with no FIN. That
// connection shows no idle close of its own, the server's others do
// (6.0 s): the finding names it, and the remedy bounds the pool by it.
func TestStaleRaceNamesOtherIdleCloses(t *testing.T) {
	const srv = "10.0.0.2:3000"
	closed := func(port uint16, at float64) conv {
		return conv{cport: port, server: srv, segs: join(open(at), exchange(at+0.01, 100, 200),
			[]seg{{at + 6.011, false, "FA", 0, -1}, {at + 6.0112, true, "FA", 0, -1}, {at + 6.0114, false, "A", 0, -1}})}
	}
	convs := []conv{
		closed(40001, 0), closed(40002, 0.1),
		// reused 6.0 s after the response: RST, the request unread
		{cport: 40003, server: srv, segs: join(open(0.2), exchange(0.21, 100, 200),
			[]seg{{6.211, true, "PA", 100, -1}, {6.2112, false, "R", 0, -1}})},
	}
	got := staleFindingOf(t, convs)
	if !strings.Contains(got.Summary, "closed others after 6.0 s idle") || !strings.Contains(got.Remedy, "shorter than 6.0 s") {
		t.Errorf("the finding should name the server's 6.0 s idle closes:\n%s\n%s", got.Summary, got.Remedy)
	}
}

// nginx's upstream pool in front of Node.js: nginx (10.0.0.5) sends a
// caller's POST on a pooled connection just after Node closed it for
// being idle (FIN, then RST); it does not retry a POST and answers its
// caller 502. The finding says that the host is a reverse proxy
// forwarding its caller's request, what the caller got, and that the
// remedy is the proxy's upstream timeout below the backend's.
func TestStaleReuseOfAProxy(t *testing.T) {
	const backend = "10.0.0.2:3000"
	get := []byte("GET / HTTP/1.1\r\nHost: x\r\n\r\n")
	post := []byte("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nx=1")
	ok := []byte("HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nok\n")
	bad := []byte("HTTP/1.1 502 Bad Gateway\r\nContent-Length: 3\r\n\r\nno\n")
	closed := func(port uint16, at float64) conv {
		return conv{cport: port, server: backend, client: "10.0.0.5", segs: join(open(at), exchange(at+0.01, 0, 0),
			[]seg{{at + 6.011, false, "FA", 0, -1}, {at + 6.0112, true, "FA", 0, -1}, {at + 6.0114, false, "A", 0, -1}}),
			data: map[int][]byte{3: get, 4: ok}}
	}
	convs := []conv{
		closed(40001, 0), closed(40002, 0.1),
		// the pooled connection: Node's FIN, the POST 0.3 ms later, RST
		{cport: 40003, server: backend, client: "10.0.0.5", segs: join(open(0.2), exchange(0.21, 0, 0),
			[]seg{{6.211, false, "FA", 0, -1}, {6.2113, true, "PA", 0, -1}, {6.2115, false, "R", 0, -1}}),
			data: map[int][]byte{3: post, 4: ok, 7: post}},
		// the caller's connection to nginx: its POST, answered 502
		{cport: 50001, server: "10.0.0.5:8080", client: "10.0.0.1", segs: join(open(6.2), exchange(6.211, 0, 0),
			[]seg{{6.213, true, "FA", 0, -1}, {6.2132, false, "FA", 0, -1}, {6.2134, true, "A", 0, -1}}),
			data: map[int][]byte{3: post, 4: bad}},
	}
	got := staleFindingOf(t, convs)
	for _, want := range []string{"10.0.0.5 is a reverse proxy", "POST / from 10.0.0.1 to 10.0.0.5:8080", "Its callers got 502 Bad Gateway on 1."} {
		if !strings.Contains(got.Summary, want) {
			t.Errorf("the summary should say %q:\n%s", want, got.Summary)
		}
	}
	if !strings.Contains(got.Remedy, "the proxy's upstream idle timeout shorter than 6.0 s") {
		t.Errorf("the remedy should bound the proxy's upstream pool by the backend's 6.0 s:\n%s", got.Remedy)
	}
}

// staleFindingOf analyses the crafted connections and returns their
// stale_reuse_reset finding; the test fails without one.
func staleFindingOf(t *testing.T, convs []conv) *Finding {
	t.Helper()
	rep := analyzeFile(t, craft(t, convs...))
	for i := range rep.Findings {
		if rep.Findings[i].Class == StaleReuseReset {
			return &rep.Findings[i]
		}
	}
	t.Fatalf("no stale_reuse_reset finding: %v %v", findingsOf(rep), verdictsOf(rep))
	return nil
}
