package payload

import (
	"reflect"
	"strings"
	"testing"
	"time"
)

// conversation is an HTTP exchange as the two sides wrote it, in order.
type said struct {
	from Side
	text string
}

// readHTTP runs an HTTP reader over a conversation, each message cut into
// pieces of at most `piece` bytes (0: whole), and returns the result.
func readHTTP(t *testing.T, conv []said, piece int) *HTTP {
	t.Helper()
	p := &Summary{}
	var proto protocol
	var seq [2]uint32
	at := Timestamp(1)
	for _, s := range conv {
		b := []byte(s.text)
		for len(b) > 0 {
			n := len(b)
			if piece > 0 {
				n = min(n, piece)
			}
			if proto == nil {
				if detectHTTP(s.from, b) != isThis {
					t.Fatalf("not recognised as HTTP: %q", b)
				}
				proto = startHTTP(nil, p)
			}
			c := &chunk{data: b[:n], seq: seq[s.from], at: Packet{At: at, Number: uint32(at)}}
			proto.data(s.from, c)
			seq[s.from] += uint32(n)
			b = b[n:]
			at++
		}
	}
	for s := Client; s <= Server; s++ {
		proto.end(s, true)
	}
	return p.HTTP
}

func TestHTTPSplitAnywhere(t *testing.T) {
	conv := []said{
		{Client, "GET /a HTTP/1.1\r\nHost: x\r\n\r\nHEAD /b HTTP/1.1\r\nHost: x\r\n\r\n" +
			"POST /c HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 5\r\n\r\n"},
		{Server, "HTTP/1.1 200 OK\r\nContent-Length: 3\r\nKeep-Alive: timeout=5, max=100\r\n\r\nabc" +
			"HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n" +
			"HTTP/1.1 100 Continue\r\n\r\n"},
		{Client, "hello"},
		{Server, "HTTP/1.1 404 Not Found\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n" +
			"4;ext=1\r\nwiki\r\n5\r\npedia\r\n0\r\nX-Trailer: y\r\n\r\n"},
	}
	whole := readHTTP(t, conv, 0)
	if whole.Error != "" {
		t.Fatalf("error: %s", whole.Error)
	}
	if whole.Requests != 3 || whole.Responses != 3 || len(whole.Exchanges) != 3 {
		t.Fatalf("requests %d responses %d exchanges %d, want 3 3 3", whole.Requests, whole.Responses, len(whole.Exchanges))
	}
	if whole.KeepAlive != 5*time.Second || whole.Client != Client {
		t.Errorf("keep-alive %v client %v", whole.KeepAlive, whole.Client)
	}
	type brief struct {
		Method, Target string
		Status         int
		Body, CL       int64
		Complete       bool
		Close, Cont    bool
		Chunked        bool
	}
	var got []brief
	for _, e := range whole.Exchanges {
		got = append(got, brief{e.Method, e.Target, e.Status, e.BodyBytes, e.ContentLength, e.Complete, e.ResponseClose, e.Continue, e.Chunked})
	}
	want := []brief{
		{"GET", "/a", 200, 3, 3, true, false, false, false},
		{"HEAD", "/b", 200, 0, 1000, true, false, false, false}, // no body after HEAD
		{"POST", "/c", 404, 9, -1, true, true, true, true},
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("exchanges\n got %+v\nwant %+v", got, want)
	}
	for _, piece := range []int{1, 2, 3, 7, 13} {
		if split := readHTTP(t, conv, piece); !sameExchanges(split, whole) {
			t.Errorf("cut in pieces of %d bytes: %+v\nwhole: %+v", piece, split, whole)
		}
	}
}

// sameExchanges compares two readings but for the times, which depend on
// how the bytes were cut into packets.
func sameExchanges(a, b *HTTP) bool {
	strip := func(h *HTTP) HTTP {
		c := *h
		c.Exchanges = nil
		for _, e := range h.Exchanges {
			e.RequestAt, e.ResponseAt, e.ResponseEnd, e.RequestPacket, e.ResponsePacket = 0, 0, 0, 0, 0
			e.endSeq, e.endOK = 0, false
			c.Exchanges = append(c.Exchanges, e)
		}
		return c
	}
	return reflect.DeepEqual(strip(a), strip(b))
}

func TestHTTPTimesAndPackets(t *testing.T) {
	h := readHTTP(t, []said{
		{Client, "GET /x HTTP/1.1\r\n\r\n"},
		{Server, "HTTP/1.1 500 Internal Server Error\r\nContent-Length: 4\r\n\r\n"},
		{Server, "oops"},
	}, 0)
	e := h.Exchanges[0]
	if e.RequestPacket != 1 || e.ResponsePacket != 2 || e.ResponseEnd != 3 || !e.Complete || e.Reason != "Internal Server Error" {
		t.Errorf("%+v", e)
	}
	if !e.endOK || e.endSeq != uint32(len("HTTP/1.1 500 Internal Server Error\r\nContent-Length: 4\r\n\r\noops")) {
		t.Errorf("response ends at %d (ok %v)", e.endSeq, e.endOK)
	}
}

func TestHTTPBodyUntilClose(t *testing.T) {
	for _, fin := range []bool{true, false} {
		p := &Summary{}
		r := startHTTP(nil, p)
		r.data(Client, &chunk{data: []byte("GET / HTTP/1.0\r\n\r\n")})
		r.data(Server, &chunk{data: []byte("HTTP/1.0 200 OK\r\n\r\nbody bytes")})
		r.end(Server, fin)
		e := p.HTTP.Exchanges[0]
		if e.Complete != fin || e.BodyBytes != 10 {
			t.Errorf("fin %v: complete %v body %d", fin, e.Complete, e.BodyBytes)
		}
	}
}

func TestHTTPMalformed(t *testing.T) {
	for _, tc := range []struct {
		name string
		conv []said
		want string // in the error
	}{
		{"request line", []said{{Client, "GET /a b HTTP/1.1\r\n\r\n"}}, "malformed request line"},
		{"version", []said{{Client, "GET / HTTP/2.0\r\n\r\n"}}, "malformed request line"},
		{"header", []said{{Client, "GET / HTTP/1.1\r\nno colon here\r\n\r\n"}}, "malformed header line"},
		{"content length", []said{{Client, "GET / HTTP/1.1\r\n\r\n"}, {Server, "HTTP/1.1 200 OK\r\nContent-Length: -3\r\n\r\n"}}, "bad Content-Length"},
		{"two lengths", []said{{Client, "GET / HTTP/1.1\r\n\r\n"}, {Server, "HTTP/1.1 200 OK\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\n"}}, "bad Content-Length"},
		{"status", []said{{Client, "GET / HTTP/1.1\r\n\r\n"}, {Server, "HTTP/1.1 2000 OK\r\n\r\n"}}, "malformed status line"},
		{"chunk size", []said{{Client, "GET / HTTP/1.1\r\n\r\n"}, {Server, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n"}}, "malformed chunk size"},
		{"binary after", []said{{Client, "GET / HTTP/1.1\r\n\r\n\x16\x03\x01\x00\xff\n"}}, "not HTTP (0x16)"},
		{"zeros after", []said{{Client, "GET / HTTP/1.1\r\n\r\n\x00\x00\x00"}}, "not HTTP (0x00)"},
		{"long line", []said{{Client, "GET /" + strings.Repeat("a", maxLine) + " HTTP/1.1\r\n\r\n"}}, "longer than"},
		{"response first on the client side", []said{{Client, "GET / HTTP/1.1\r\n\r\n"}, {Client, "HTTP/1.1 200 OK\r\n\r\n"}}, "status line among requests"},
	} {
		for _, piece := range []int{0, 1, 5} {
			h := readHTTP(t, tc.conv, piece)
			if !strings.Contains(h.Error, tc.want) {
				t.Errorf("%s (pieces of %d): error %q, want it to say %q", tc.name, piece, h.Error, tc.want)
			}
		}
	}
}

// TestHTTPMalformedRequest: a request line that is not HTTP (a space in
// the target) was still a request: the server's answer is its response,
// not one to a request not captured.
func TestHTTPMalformedRequest(t *testing.T) {
	for _, piece := range []int{0, 1, 5} {
		h := readHTTP(t, []said{{Client, "GET /a b HTTP/1.1\r\nHost: x\r\n\r\n"},
			{Server, "HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"}}, piece)
		if h.Requests != 1 || h.Responses != 1 || len(h.Exchanges) != 1 || h.Client != Client {
			t.Fatalf("pieces of %d: %+v", piece, h)
		}
		x := h.Exchanges[0]
		if !x.Malformed() || x.Target != "GET /a b HTTP/1.1" || x.RequestLine() != "" || x.Status != 400 || x.RequestPacket == 0 {
			t.Errorf("pieces of %d: %+v", piece, x)
		}
	}
	// Not a request at all: nothing is made up.
	h := readHTTP(t, []said{{Client, "GET / HTTP/1.1\r\n\r\n"}, {Server, "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"},
		{Server, "GET /x y HTTP/1.1\r\n\r\n"}}, 0)
	if len(h.Exchanges) != 1 || h.Exchanges[0].Malformed() {
		t.Errorf("a request line on the server's side: %+v", h.Exchanges)
	}
}

func TestHTTPGapInBody(t *testing.T) {
	p := &Summary{}
	r := startHTTP(nil, p)
	r.data(Client, &chunk{data: []byte("GET / HTTP/1.1\r\n\r\nGET /2 HTTP/1.1\r\n\r\n")})
	r.data(Server, &chunk{data: []byte("HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nab")})
	r.gap(Server, 5) // lost inside the body: reading goes on
	r.data(Server, &chunk{data: []byte("cde")})
	r.data(Server, &chunk{data: []byte("HTTP/1.1 204 No Content\r\n\r\n")})
	h := p.HTTP
	if h.Error != "" || h.Responses != 2 || !h.Exchanges[0].Missing || !h.Exchanges[0].Complete || h.Exchanges[1].Status != 204 {
		t.Fatalf("%+v", h)
	}
	r.gap(Server, 3) // between messages: lost
	if !strings.Contains(h.Error, "3 bytes not captured") {
		t.Errorf("error %q", h.Error)
	}
}

func TestHTTPPipelineKeepsLast(t *testing.T) {
	var req, resp strings.Builder
	n := maxExchanges + 5
	for i := range n {
		req.WriteString("GET /" + string(rune('a'+i)) + " HTTP/1.1\r\n\r\n")
		resp.WriteString("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")
	}
	h := readHTTP(t, []said{{Client, req.String()}, {Server, resp.String()}}, 0)
	if h.Requests != n || h.Responses != n || len(h.Exchanges) != maxExchanges || h.Earlier != 5 {
		t.Fatalf("requests %d responses %d kept %d earlier %d", h.Requests, h.Responses, len(h.Exchanges), h.Earlier)
	}
	if l := h.Last(); l.Target != "/"+string(rune('a'+n-1)) || l.Status != 200 {
		t.Errorf("last %+v", l)
	}
}

func TestHTTPUpgrade(t *testing.T) {
	p := &Summary{}
	r := startHTTP(nil, p)
	r.data(Client, &chunk{data: []byte("GET /ws HTTP/1.1\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n")})
	more := r.data(Server, &chunk{data: []byte("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\r\n\x81\x05hello")})
	if more || !p.HTTP.Upgraded || p.HTTP.Error != "" {
		t.Errorf("more %v %+v", more, p.HTTP)
	}
}

func TestDetect(t *testing.T) {
	for _, tc := range []struct {
		b         string
		http, tls verdict
	}{
		{"GET / HTTP/1.1", isThis, notThis},
		{"GE", needMore, notThis},
		{"HTTP/1.1 200", isThis, notThis},
		{"HTT", needMore, notThis},
		{"GETX /", notThis, notThis},
		{"SSH-2.0-OpenSSH", notThis, notThis},
		{"\x16\x03\x01\x02\x00\x01", notThis, isThis},
		{"\x16\x03", notThis, needMore},
		{"\x16\x03\x01\x02\x00\x17", notThis, notThis},
		{"", needMore, needMore},
	} {
		if h, l := detectHTTP(Client, []byte(tc.b)), detectTLS(Client, []byte(tc.b)); h != tc.http || l != tc.tls {
			t.Errorf("%q: http %v tls %v, want %v %v", tc.b, h, l, tc.http, tc.tls)
		}
	}
}

// FuzzHTTP feeds arbitrary bytes, cut arbitrarily, to both directions:
// never a panic, never more exchanges than kept, counts that add up.
func FuzzHTTP(f *testing.F) {
	f.Add([]byte("GET / HTTP/1.1\r\nHost: a\r\n\r\n"), []byte("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"), uint8(3))
	f.Add([]byte("POST /u HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n"), []byte("HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 201 Created\r\n\r\n"), uint8(1))
	f.Add([]byte("GET / HTTP/1.1\r\n\r\n"), []byte("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nffffffffffffffff\r\n"), uint8(7))
	f.Fuzz(func(t *testing.T, client, server []byte, cut uint8) {
		p := &Summary{}
		r := startHTTP(nil, p)
		n := int(cut%16) + 1
		for len(client) > 0 || len(server) > 0 {
			for s, b := range [2]*[]byte{&client, &server} {
				k := min(n, len(*b))
				if k > 0 {
					r.data(Side(s), &chunk{data: (*b)[:k]})
					*b = (*b)[k:]
				}
			}
			if cut&0x80 != 0 {
				r.gap(Server, 1)
			}
		}
		r.end(Client, true)
		r.end(Server, true)
		h := p.HTTP
		if len(h.Exchanges) > maxExchanges || h.Earlier+len(h.Exchanges) < h.Requests || h.Responses > h.Earlier+len(h.Exchanges) {
			t.Fatalf("requests %d responses %d kept %d earlier %d", h.Requests, h.Responses, len(h.Exchanges), h.Earlier)
		}
		for _, e := range h.Exchanges {
			if len(e.Target) > maxTarget || len(e.Reason) > maxReason || e.BodyBytes < 0 {
				t.Fatalf("%+v", e)
			}
		}
	})
}

// TestTchar holds the lookup table to RFC 9110's list of token
// characters, written out the other way round: what is allowed.
func TestTchar(t *testing.T) {
	const allowed = "!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
	for c := 0; c < 256; c++ {
		if want := strings.IndexByte(allowed, byte(c)) >= 0; tchar(byte(c)) != want {
			t.Errorf("tchar(%q) = %v, want %v", byte(c), !want, want)
		}
	}
}
