package analyze

import (
	"context"
	"testing"

	"github.com/flowdoc/flowdoc/flow"
	"github.com/flowdoc/flowdoc/flow/capture"
	"github.com/flowdoc/flowdoc/flow/payload"
)

// TestRefusalUnread: Redis over maxclients and memcached over -c say
// their error and close as the client's first command arrives. Read
// with --no-payload, no refusal is known by its words; a server that
// sent its message and its FIN before acknowledging a byte of the
// client's closed on its own, unasked: accept_then_close, not a pooled
// connection reset "for being idle" 200 µs after it opened.
func TestRefusalUnread(t *testing.T) {
	for _, c := range []struct {
		path string
		port uint16
		min  int
	}{
		{"../testdata/real/server-cap-refusal@late.pcap", 6379, 5},
		{"../testdata/real/more-caps@late.pcap", 11211, 5},
	} {
		s, err := capture.Open(c.path)
		if err != nil {
			t.Fatal(err)
		}
		res, err := flow.Read(context.Background(), []*capture.Source{s}, flow.ReadOptions{Config: flow.Config{Payload: payload.Config{Off: true}}})
		s.Close()
		if err != nil {
			t.Fatal(err)
		}
		rep := Build(res, Options{})
		unasked := 0
		for i := range rep.Flows {
			f := &rep.Flows[i]
			if f.Key.Server().Port() != c.port {
				continue
			}
			if hasVerdict(f, StaleReuseReset, flow.Client) {
				t.Errorf("%s: flow %d (client port %d) is %v: the server refused it as it accepted it", c.path, f.ID, f.Key.Client().Port(), f.Verdicts)
			}
			if f.Client.Bytes > 0 && closedUnasked(f.Record) {
				unasked++
				if !hasVerdict(f, AcceptThenClose, flow.Server) {
					t.Errorf("%s: flow %d (client port %d) closed unasked, not accept_then_close: %v", c.path, f.ID, f.Key.Client().Port(), f.Verdicts)
				}
			}
		}
		if unasked < c.min {
			t.Errorf("%s: %d connections to port %d closed before the client's data was acknowledged, want %d or more", c.path, unasked, c.port, c.min)
		}
	}
}
