package analyze

import (
	"cmp"
	"fmt"
	"net/netip"
	"runtime"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/flowdoc/flowdoc/flow"
	"github.com/flowdoc/flowdoc/flow/payload"
)

// What the HTTP read in a flow's payload adds to its verdicts and to the
// findings: the request behind a leak or a reset, the Keep-Alive timeout
// a server advertised, a Connection: close the client ignored.

// httpOf returns a flow's HTTP conversation if side s sent its requests,
// decoded into pb: valid until pb's next use.
func httpOf(r *flow.Record, s flow.Side, pb *payload.Buffer) *payload.HTTP {
	p := r.ReadPayload(pb)
	if p == nil || p.HTTP == nil || flow.Side(p.HTTP.Client) != s {
		return nil
	}
	return p.HTTP
}

// request is "GET /upload", as prose says it.
func request(x *payload.Exchange) string {
	if x.Malformed() {
		return fmt.Sprintf("a malformed request %q", x.Target)
	}
	return cmp.Or(x.RequestLine(), "a request not captured")
}

// leakExchange marks a CLOSE_WAIT leak verdict of side s whose side got
// a response before the peer closed: detailed adds it.
func leakExchange(r *flow.Record, s flow.Side, v *Verdict, pb *payload.Buffer) {
	if h := httpOf(r, s, pb); h != nil && h.LastResponse() != nil {
		v.lastResponse = true
	}
}

// detailed returns the summary and evidence of v, a verdict of flow f,
// with what is read from f's payload when shown (into pb): for a leak,
// the last response its side got.
func (v *Verdict) detailed(f *Flow, pb *payload.Buffer) (string, []Evidence) {
	if !v.lastResponse {
		return v.Summary, v.Evidence
	}
	more, e, ok := v.detail(f.ReadPayload(pb))
	if !ok {
		return v.Summary, v.Evidence
	}
	return v.Summary + more, append(slices.Clip(v.Evidence), e)
}

// detail returns what detailed adds to v's summary, and the evidence it
// adds, from p, its flow's payload; false when it adds nothing.
func (v *Verdict) detail(p *payload.Summary) (string, Evidence, bool) {
	if !v.lastResponse || p == nil || p.HTTP == nil || flow.Side(p.HTTP.Client) != v.Side {
		return "", Evidence{}, false
	}
	x := p.HTTP.LastResponse()
	if x == nil {
		return "", Evidence{}, false
	}
	read := ""
	switch {
	case x.Complete && x.Acked:
		read = ", and its TCP acknowledged the whole response"
	case x.Complete:
		read = ", the end of which its TCP never acknowledged"
	}
	return fmt.Sprintf("; its last request, %s, got %s%s", request(x), x.StatusLine(), read),
		Evidence{Input: int(x.ResponseInput), Packet: int(x.ResponsePacket), At: flow.Timestamp(x.ResponseAt),
			What: fmt.Sprintf("%s in answer to %s", x.StatusLine(), request(x))}, true
}

// packetAt is a packet of a side's, what came later counts as after it
// (staleRequest): a packet stamped the same microsecond is placed by its
// number, in the same input.
type packetAt struct {
	at     flow.Timestamp
	packet uint32
	input  uint16
}

// finOf is h's FIN as a packetAt.
func finOf(h *flow.Half) packetAt { return packetAt{h.FinAt, h.FinPacket, h.FinInput} }

// staleRequest returns the request side s sent on a connection the peer
// had closed (after a, its FIN), read into pb; nil when the payload does
// not tell.
func staleRequest(r *flow.Record, s flow.Side, a packetAt, pb *payload.Buffer) *payload.Exchange {
	h := httpOf(r, s, pb)
	if h == nil {
		return nil
	}
	for i := len(h.Exchanges) - 1; i >= 0; i-- {
		x := &h.Exchanges[i]
		at := flow.Timestamp(x.RequestAt)
		if x.RequestPacket > 0 && (at > a.at || at == a.at && x.RequestInput == a.input && x.RequestPacket > a.packet) {
			return x
		}
	}
	return nil
}

// closeIgnored returns the verdict for a client that sent a request after
// a response saying Connection: close.
func closeIgnored(r *flow.Record, pb *payload.Buffer) (Verdict, bool) {
	h := httpOf(r, flow.Client, pb)
	if h == nil {
		return Verdict{}, false
	}
	for i := range h.Exchanges {
		x := &h.Exchanges[i]
		if !x.ResponseClose || x.ResponsePacket == 0 {
			continue
		}
		for j := i + 1; j < len(h.Exchanges); j++ {
			y := &h.Exchanges[j]
			if y.RequestPacket == 0 || y.RequestAt < x.ResponseAt {
				continue
			}
			answer := "and got no answer"
			if y.Status != 0 {
				answer = "and got " + y.StatusLine()
			} else if r.Server.RSTs > 0 {
				answer = "and got RST"
			}
			return Verdict{Class: CloseIgnored, Side: flow.Client, Severity: Warning, Confidence: 0.9, Since: flow.Timestamp(y.RequestAt),
				Summary: fmt.Sprintf("the server answered %s with Connection: close, yet the client sent %s on the connection %s later, %s",
					request(x), request(y), fmtDur(y.RequestAt.Sub(x.ResponseAt)), answer),
				Evidence: []Evidence{
					{Input: int(x.ResponseInput), Packet: int(x.ResponsePacket), At: flow.Timestamp(x.ResponseAt), What: x.StatusLine() + " with Connection: close"},
					{Input: int(y.RequestInput), Packet: int(y.RequestPacket), At: flow.Timestamp(y.RequestAt), What: request(y) + " on the same connection"},
				}}, true
		}
	}
	return Verdict{}, false
}

// statusCounts tallies the status of the last response on each flow, for
// the side that sent the requests: "404 ×2, 500 ×2".
type statusCounts map[int]int

func (c statusCounts) add(r *flow.Record, s flow.Side, pb *payload.Buffer) bool {
	h := httpOf(r, s, pb)
	if h == nil {
		return false
	}
	x := h.LastResponse()
	if x == nil {
		return false
	}
	c[x.Status]++
	return true
}

// lastStatuses tallies the status of the last response on each of fs, for
// the side side(i) says sent the requests on fs[i]; read[i] is set when
// there was one. Each flow's payload is unpacked to tell, and a busy
// client's flows number in the hundreds of thousands: they are split
// across the CPUs.
func lastStatuses(fs []*Flow, side func(i int) flow.Side) (counts statusCounts, read []bool) {
	read = make([]bool, len(fs))
	workers := min(runtime.GOMAXPROCS(0), max(1, len(fs)/4096))
	parts := make([]statusCounts, workers)
	per := (len(fs) + workers - 1) / workers
	var wg sync.WaitGroup
	for w := range workers {
		lo, hi := w*per, min((w+1)*per, len(fs))
		parts[w] = statusCounts{}
		wg.Add(1)
		go func() {
			defer wg.Done()
			var pb payload.Buffer
			for i := lo; i < hi; i++ {
				read[i] = parts[w].add(fs[i].Record, side(i), &pb)
			}
		}()
	}
	wg.Wait()
	counts = parts[0]
	for _, p := range parts[1:] {
		for st, n := range p {
			counts[st] += n
		}
	}
	return counts, read
}

func (c statusCounts) total() int {
	n := 0
	for _, v := range c {
		n += v
	}
	return n
}

// success counts the 2xx and 3xx.
func (c statusCounts) success() int {
	n := 0
	for st, v := range c {
		if st < 400 {
			n += v
		}
	}
	return n
}

func (c statusCounts) String() string {
	codes := make([]int, 0, len(c))
	for st := range c {
		codes = append(codes, st)
	}
	slices.Sort(codes)
	var parts []string
	for _, st := range codes {
		parts = append(parts, fmt.Sprintf("%d ×%d", st, c[st]))
	}
	return strings.Join(parts, ", ")
}

// leakStatuses explains a CLOSE_WAIT leak by the responses: which
// statuses the leaked connections got last, against the connections the
// same client released. It returns "" when the payload does not tell.
func leakStatuses(g *group, byClient *clientIndex) (string, []Metric, bool) {
	host := g.flows[0].Endpoint(g.vs[0].Side).Addr()
	leaked, read := lastStatuses(g.flows, func(i int) flow.Side { return g.vs[i].Side })
	if leaked.total() == 0 {
		return "", nil, false
	}
	isLeak := make(map[*flow.Record]bool, len(g.flows))
	for i, f := range g.flows {
		if read[i] {
			isLeak[f.Record] = true
		}
	}
	var closed []*Flow
	for _, f := range byClient.flows(host) {
		if !isLeak[f.Record] && f.Client.FinPacket > 0 {
			closed = append(closed, f)
		}
	}
	released, _ := lastStatuses(closed, func(int) flow.Side { return flow.Client })
	var ms []Metric
	for st, n := range leaked {
		ms = append(ms, Metric{fmt.Sprintf("leaked_after_status_%d", st), float64(n)})
	}
	slices.SortFunc(ms, func(a, b Metric) int { return strings.Compare(a.Name, b.Name) })
	n := leaked.total()
	errorsOnly := leaked.success() == 0 && released.total() > 0 && released.success() == released.total()
	var sb strings.Builder
	switch {
	case errorsOnly:
		fmt.Fprintf(&sb, " The last response on %s was an error (%s), while the %s it closed got %s: the client releases connections only after a success.",
			map[bool]string{true: "the leaked connection", false: "every leaked connection"}[n == 1], leaked, plural(released.total(), "connection"), released)
	case n == 1:
		fmt.Fprintf(&sb, " The last response on the leaked connection was %s.", leaked)
	default:
		fmt.Fprintf(&sb, " The last responses on the leaked connections: %s.", leaked)
		if released.total() > 0 {
			fmt.Fprintf(&sb, " On the %s it closed: %s.", plural(released.total(), "connection"), released)
		}
	}
	return sb.String(), ms, errorsOnly
}

// advertisedKeepAlive returns the Keep-Alive timeouts the server side of
// the flows advertised, most common first.
func advertisedKeepAlive(fs []*Flow, server flow.Side) []time.Duration {
	n := map[time.Duration]int{}
	var pb payload.Buffer
	for _, f := range fs {
		if h := httpOf(f.Record, server.Other(), &pb); h != nil && h.KeepAlive > 0 {
			n[h.KeepAlive]++
		}
	}
	var out []time.Duration
	for d := range n {
		out = append(out, d)
	}
	slices.SortFunc(out, func(a, b time.Duration) int { return cmp.Or(n[b]-n[a], cmp.Compare(a, b)) })
	return out
}

// keepAliveText compares a measured idle timeout with the advertised one.
func keepAliveText(measured time.Duration, advertised []time.Duration, anyHTTP bool) (string, []Metric) {
	if len(advertised) == 0 {
		if anyHTTP {
			return " Its responses advertised no Keep-Alive timeout, so clients cannot know it.", nil
		}
		return "", nil
	}
	a := advertised[0]
	ms := []Metric{{"advertised_keep_alive_s", a.Seconds()}}
	diff := measured - a
	if diff < 0 {
		diff = -diff
	}
	// Header values are whole seconds, and servers check their idle
	// timers now and then.
	if diff <= max(time.Second, a/10) {
		return fmt.Sprintf(" Its responses advertised it (Keep-Alive: timeout=%d).", int(a.Seconds())), ms
	}
	return fmt.Sprintf(" Its responses advertised Keep-Alive: timeout=%d, but it closed after %s: clients that trust the header reuse connections the server has already closed.",
		int(a.Seconds()), fmtDur(measured)), ms
}

// closeIgnoredFinding sums up the clients that ignored Connection: close.
func closeIgnoredFinding(g *group) Finding {
	f := g.flows[0]
	client, server := f.Key.Client().Addr(), f.Key.Server()
	return Finding{Class: CloseIgnored, Severity: Warning, Hosts: []netip.Addr{client}, Endpoints: []netip.AddrPort{server},
		Flows: ids(g.flows), Metrics: []Metric{{"connections", float64(len(g.flows))}},
		Summary: fmt.Sprintf("%s sent requests on %s after %s answered with Connection: close: it reuses connections the server said it would close, and those requests fail.",
			client, plural(len(g.flows), "connection"), server),
		Remedy: remedy(CloseIgnored), Evidence: evidence(g, false)}
}
