package flow

import (
	"bytes"
	"encoding/binary"
	"net/netip"
	"path/filepath"
	"reflect"
	"testing"
	"time"

	"github.com/flowdoc/flowdoc/flow/payload"
	"github.com/gopacket/gopacket/pcapgo"
)

// brief is what a test checks of an exchange.
type brief struct {
	Method, Target string
	Status         int
	CL, Body       int64
	Chunked        bool
	Continue       bool
	Close          bool
	Complete       bool
	Acked          bool
	Missing        bool
}

func briefs(h *payload.HTTP) []brief {
	var out []brief
	for _, x := range h.Exchanges {
		out = append(out, brief{x.Method, x.Target, x.Status, x.ContentLength, x.BodyBytes, x.Chunked, x.Continue, x.ResponseClose, x.Complete, x.Acked, x.Missing})
	}
	return out
}

// onlyFlowHTTP returns the HTTP of a capture's one connection.
func onlyFlow(t *testing.T, res *Result) *Record {
	t.Helper()
	if len(res.Flows) != 1 {
		t.Fatalf("%d flows, want 1", len(res.Flows))
	}
	return res.Flows[0]
}

// The lab's pipelined connection: four requests sent at once, the
// responses 12000 bytes each over several segments; a HEAD, a POST
// answered with 100 Continue first, two chunked bodies.
var pipelineExchanges = []brief{
	{"GET", "/a", 200, 12000, 12000, false, false, false, true, true, false},
	{"HEAD", "/b", 200, 12000, 0, false, false, false, true, true, false},
	{"POST", "/chunked", 200, -1, 12000, true, true, false, true, true, false},
	{"GET", "/chunked/d", 200, -1, 12000, true, false, false, true, true, false},
}

func TestLabHTTPPipeline(t *testing.T) {
	r := onlyFlow(t, analyzeFile(t, "../testdata/http-pipeline.pcap", Config{}))
	p := r.Payload()
	if p == nil || p.Protocol != "http" || p.HTTP == nil {
		t.Fatalf("payload %+v", p)
	}
	h := p.HTTP
	if h.Requests != 4 || h.Responses != 4 || h.Error != "" || h.Client != payload.Client || p.Missing != [2]uint64{} {
		t.Errorf("requests %d responses %d error %q client %v missing %v", h.Requests, h.Responses, h.Error, h.Client, p.Missing)
	}
	if got := briefs(h); !reflect.DeepEqual(got, pipelineExchanges) {
		t.Errorf("exchanges\n got %+v\nwant %+v", got, pipelineExchanges)
	}
	// Pipelined: every request went out before the first response.
	if last := h.Exchanges[3].RequestAt; last > h.Exchanges[0].ResponseAt {
		t.Errorf("the last request (%v) came after the first response (%v): not pipelined", last, h.Exchanges[0].ResponseAt)
	}
	for i, x := range h.Exchanges {
		if x.RequestPacket == 0 || x.ResponsePacket <= x.RequestPacket || x.ResponseEnd < x.ResponseAt {
			t.Errorf("exchange %d: request #%d, response #%d, response %v to %v", i, x.RequestPacket, x.ResponsePacket, x.ResponseAt, x.ResponseEnd)
		}
	}
}

// http-lossy is http-pipeline with a server segment dropped (packet 18,
// 4096 bytes by tshark's tcp.len, inside GET /a's body), two segments
// arriving the other way round and one sent twice (cmd/tools/labmangle).
// Reordering and the repeat change nothing; the loss is counted, the
// body it fell in is marked, and reading goes on.
func TestLabHTTPLossy(t *testing.T) {
	r := onlyFlow(t, analyzeFile(t, "../testdata/http-lossy.pcap", Config{}))
	p := r.Payload()
	if p == nil || p.HTTP == nil {
		t.Fatalf("payload %+v", p)
	}
	if p.Missing != [2]uint64{0, 4096} || p.MissingPacket[Server] == 0 || p.Limited != [2]bool{} {
		t.Errorf("missing %v at #%v, limited %v; want 4096 bytes of the server's", p.Missing, p.MissingPacket, p.Limited)
	}
	if r.Server.Retrans == 0 {
		t.Errorf("the repeated segment is not counted as a retransmission")
	}
	want := append([]brief(nil), pipelineExchanges...)
	want[0].Missing = true
	if got := briefs(p.HTTP); !reflect.DeepEqual(got, want) || p.HTTP.Error != "" {
		t.Errorf("exchanges (error %q)\n got %+v\nwant %+v", p.HTTP.Error, got, want)
	}

	// With room for a single out-of-order page, the reassembler gives up
	// waiting at once: the flow says a limit dropped data.
	r = onlyFlow(t, analyzeFile(t, "../testdata/http-lossy.pcap", Config{Payload: payload.Config{FlowBuffer: 1}}))
	if !r.Payload().Limited[Server] || r.Payload().Missing[Server] == 0 {
		t.Errorf("one-page buffer: limited %v, missing %v", r.Payload().Limited, r.Payload().Missing)
	}
}

func TestLabHTTPKeepAlive(t *testing.T) {
	res := analyzeFile(t, "../testdata/http-keepalive.pcap", Config{})
	var statuses []int
	for _, r := range res.Flows {
		h := r.Payload().HTTP
		if h.KeepAlive != 2*time.Second || h.Requests != 1 || h.Responses != 1 || !h.Exchanges[0].Acked {
			t.Errorf("flow %d: keep-alive %v, %d requests, %d responses, acked %v", r.ID, h.KeepAlive, h.Requests, h.Responses, h.Exchanges[0].Acked)
		}
		statuses = append(statuses, h.Exchanges[0].Status)
	}
	if want := []int{200, 404, 503, 200, 404, 503, 200}; !reflect.DeepEqual(statuses, want) {
		t.Errorf("statuses %v, want %v", statuses, want)
	}
}

func TestLabHTTPStaleAndClose(t *testing.T) {
	h := onlyFlow(t, analyzeFile(t, "../testdata/http-stale.pcap", Config{})).Payload().HTTP
	want := []brief{
		{"GET", "/orders", 200, 23, 23, false, false, false, true, true, false},
		{"POST", "/orders", 0, -1, 0, false, false, false, false, false, false}, // sent on the dead connection
	}
	if got := briefs(h); !reflect.DeepEqual(got, want) || h.KeepAlive != 5*time.Second {
		t.Errorf("http-stale: keep-alive %v\n got %+v\nwant %+v", h.KeepAlive, got, want)
	}

	h = onlyFlow(t, analyzeFile(t, "../testdata/http-close.pcap", Config{})).Payload().HTTP
	want = []brief{
		{"GET", "/1", 200, 18, 18, false, false, false, true, true, false},
		{"GET", "/2", 200, 18, 18, false, false, true, true, true, false}, // Connection: close
		{"GET", "/3", 0, -1, 0, false, false, false, false, false, false},
	}
	if got := briefs(h); !reflect.DeepEqual(got, want) {
		t.Errorf("http-close\n got %+v\nwant %+v", got, want)
	}
}

func TestLabTLS(t *testing.T) {
	res := analyzeFile(t, "../testdata/tls.pcap", Config{})
	for _, r := range res.Flows {
		if p := r.Payload(); p == nil || p.Protocol != "tls" || p.HTTP != nil ||
			*p.TLS != (payload.TLS{ServerName: "lab.flowdoc.test", ClientHello: true, ServerHello: true}) {
			t.Errorf("flow %d: %+v", r.ID, p)
		}
	}
}

// TestNoPayload: with reassembly off nothing is read, and the states are
// the same.
func TestNoPayload(t *testing.T) {
	for _, name := range []string{"http-pipeline.pcap", "http-keepalive.pcap", "tls.pcap"} {
		with := analyzeFile(t, filepath.Join("../testdata", name), Config{})
		without := analyzeFile(t, filepath.Join("../testdata", name), Config{Payload: payload.Config{Off: true}})
		for i, r := range without.Flows {
			if r.Payload() != nil {
				t.Errorf("%s flow %d: payload read with --no-payload", name, r.ID)
			}
			// What came after a FIN, a control message before the peer's,
			// another protocol and a handshake's opening are known from
			// their bytes only.
			told := recDataAfterFin<<Client | recDataAfterFin<<Server | recControlAfterFin<<Client | recControlAfterFin<<Server |
				recControlBeforeFin<<Client | recControlBeforeFin<<Server
			if r.is(told) || r.OtherProtocol() || r.Opened() {
				t.Errorf("%s flow %d: data around a FIN told apart with --no-payload", name, r.ID)
			}
			w := *with.Flows[i]
			w.stream, w.packed = nil, ""
			w.set(told, false)
			w.ext &^= extOtherProtocol
			w.setExt2(ext2Opener, false)
			if !reflect.DeepEqual(*r, w) {
				t.Errorf("%s flow %d differs without payload", name, r.ID)
			}
		}
	}
}

// TestSnapLength: a capture cut at 200 bytes a packet says the payload
// was cut. The captured start of the first cut packet is read (the status
// line of the first response: a header-only capture still tells what the
// server answered); nothing after it is, rather than misread.
func TestSnapLength(t *testing.T) {
	frames, lt := readFrames(t, "../testdata/http-pipeline.pcap")
	var buf bytes.Buffer
	w := pcapgo.NewWriter(&buf)
	w.WriteFileHeader(200, lt)
	firstCut := 0
	for i, f := range frames {
		data, ci := f.data, f.ci
		if len(data) > 200 {
			data, ci.CaptureLength = data[:200], 200
			if firstCut == 0 {
				firstCut = i + 1
			}
		}
		w.WritePacket(ci, data)
	}
	r := onlyFlow(t, readAll(t, &buf, "snap200.pcap"))
	p := r.Payload()
	if p == nil || p.Truncated != [2]uint32{0, uint32(firstCut)} {
		t.Fatalf("truncated %+v, want the server's stream from #%d", p, firstCut)
	}
	whole := onlyFlow(t, analyzeFile(t, "../testdata/http-pipeline.pcap", Config{})).Payload().HTTP.Exchanges[0]
	h := p.HTTP
	if h.Requests != 4 || h.Responses != 1 || h.Error != "" {
		t.Fatalf("requests %d responses %d error %q: only the first response's start is captured", h.Requests, h.Responses, h.Error)
	}
	if x := h.Exchanges[0]; x.Status != whole.Status || x.Reason != whole.Reason || x.ResponsePacket != uint32(firstCut) || x.Complete || whole.Status == 0 {
		t.Errorf("first exchange %+v; want the status %d %s from #%d, not complete", x, whole.Status, whole.Reason, firstCut)
	}
}

// TestMidstreamRolesFromHTTP: the lab's keep-alive capture with every
// handshake cut and the server moved to port 61080, above its clients'
// ports, so that the ports alone point the wrong way. The side that sent
// the requests is the client; a connection that carried no request during
// the capture (its data cut too) gets its roles from its siblings, whose
// requests showed which endpoint serves.
func TestMidstreamRolesFromHTTP(t *testing.T) {
	frames, lt := readFrames(t, "../testdata/http-keepalive.pcap")
	const idle = 60394 // the client port whose connection loses its data
	mangled := writePcap(t, frames, lt, func(d []byte) []byte {
		// Ethernet, IPv4, TCP: ports at the TCP header's start, flags at 13.
		if len(d) < 34 || d[12] != 0x08 || d[13] != 0x00 || d[23] != 6 {
			return d
		}
		ihl := int(d[14]&0x0f) * 4
		tcp := d[14+ihl:]
		if tcp[13]&0x02 != 0 {
			return nil // a SYN: the capture begins after the handshakes
		}
		for _, off := range []int{0, 2} {
			switch binary.BigEndian.Uint16(tcp[off:]) {
			case 8080:
				binary.BigEndian.PutUint16(tcp[off:], 61080)
			case idle:
				if total := int(binary.BigEndian.Uint16(d[16:])); total > ihl+int(tcp[12]>>4)*4 {
					return nil // data on the idle connection
				}
			}
		}
		return d
	})
	server := netip.MustParseAddrPort("10.99.1.2:61080")
	read := func(cfg Config) []*Record {
		res := readWith(t, bytes.NewReader(mangled), "midstream-http.pcap", cfg)
		if len(res.Flows) != 7 {
			t.Fatalf("%d flows, want 7", len(res.Flows))
		}
		return res.Flows
	}
	for _, r := range read(Config{}) {
		if r.Key.Server() != server || !r.Midstream || !r.RolesInferred {
			t.Errorf("%v: midstream %v, roles inferred %v; want %v as the server", r.Key, r.Midstream, r.RolesInferred, server)
		}
		h := r.httpRoles(nil)
		switch {
		case r.Key.Client().Port() == idle && h != nil:
			t.Errorf("%v: HTTP read on the connection whose data was cut", r.Key)
		case r.Key.Client().Port() != idle && (h == nil || h.Client != payload.Client):
			t.Errorf("%v: HTTP %+v, want requests from the client", r.Key, h)
		}
	}
	// Without the payload the ports decide, wrongly here: the test above
	// shows what reading HTTP adds.
	wrong := 0
	for _, r := range read(Config{Payload: payload.Config{Off: true}}) {
		if r.Key.Client() == server {
			wrong++
		}
	}
	if wrong != 7 {
		t.Errorf("without payload %d of 7 flows have the server as client; the port heuristic was expected to fail on all", wrong)
	}
}

// TestFastOpenRequest: with TCP Fast Open the client's request rides on
// its SYN (testdata/decode/tcp-fast-open.pcap: Linux on lo, a Python
// server and client, tcp_fastopen=3; the first connection gets the
// cookie, the next two send their request in the SYN). Its data starts
// after the SYN: the request reads as any other.
func TestFastOpenRequest(t *testing.T) {
	res := readFile(t, "../testdata/decode/tcp-fast-open.pcap", ReadOptions{})
	if len(res.Flows) != 3 {
		t.Fatalf("%d flows; want 3", len(res.Flows))
	}
	for _, r := range res.Flows {
		p := r.Payload()
		if p == nil || p.HTTP == nil || len(p.HTTP.Exchanges) != 1 || p.HTTP.Exchanges[0].Method != "GET" || p.HTTP.Exchanges[0].Status != 200 {
			t.Errorf("flow %s (history %s): payload %+v; want GET / answered 200", r.Key, r.History, p)
		}
	}
}

// TestSnapLengthCutsHeaders: the keep-alive capture cut at 60 bytes a
// packet. Its IPv6 MLD reports (hop-by-hop options) are cut within their
// headers: one warning counts them all, where each was a warning of its
// own; every TCP packet is still read.
func TestSnapLengthCutsHeaders(t *testing.T) {
	frames, lt := readFrames(t, "../testdata/http-keepalive.pcap")
	var buf bytes.Buffer
	w := pcapgo.NewWriter(&buf)
	w.WriteFileHeader(60, lt)
	first, n := 0, 0
	for i, f := range frames {
		data, ci := f.data, f.ci
		if len(data) > 60 {
			data, ci.CaptureLength = data[:60], 60
		}
		if len(data) > 14 && data[12] == 0x86 && data[13] == 0xdd && data[20] == 0 { // IPv6, hop-by-hop
			if n++; first == 0 {
				first = i + 1
			}
		}
		w.WritePacket(ci, data)
	}
	res := readAll(t, &buf, "snap60.pcap")
	in := res.Inputs[0]
	if n == 0 || len(in.Warnings) != 1 || in.Warnings[0] != (Warning{Kind: WarnCutHeaders, N: n, Packet: first}) {
		t.Errorf("warnings %+v; want one of %d packets cut within their headers, the first #%d", in.Warnings, n, first)
	}
	whole := analyzeFile(t, "../testdata/http-keepalive.pcap", Config{})
	if in.TCPPackets != whole.Inputs[0].TCPPackets || len(res.Flows) != len(whole.Flows) {
		t.Errorf("%d TCP packets in %d flows; want %d in %d", in.TCPPackets, len(res.Flows), whole.Inputs[0].TCPPackets, len(whole.Flows))
	}
}
