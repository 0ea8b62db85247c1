package analyze

import (
	"net/netip"
	"slices"
	"testing"
	"time"

	"github.com/flowdoc/flowdoc/flow"
)

// TestClientIndex checks the index the leak findings look a host's flows
// up in: each host's flows in report order, several hosts merged in that
// order, a host named twice counted once.
func TestClientIndex(t *testing.T) {
	a, b, c := netip.MustParseAddr("10.0.0.1"), netip.MustParseAddr("10.0.0.2"), netip.MustParseAddr("10.0.0.3")
	srv := netip.MustParseAddrPort("10.9.9.9:80")
	clients := []netip.Addr{a, b, a, c, b, a}
	rep := &Report{}
	for i, h := range clients {
		r := &flow.Record{ID: i + 1, Key: flow.MakeKey(netip.AddrPortFrom(h, uint16(40000+i)), srv)}
		rep.Flows = append(rep.Flows, Flow{Record: r})
	}
	x := clientIndex{rep: rep}
	for _, tc := range []struct {
		hosts []netip.Addr
		ids   []int
	}{
		{[]netip.Addr{a}, []int{1, 3, 6}},
		{[]netip.Addr{b, a}, []int{1, 2, 3, 5, 6}},
		{[]netip.Addr{c, c}, []int{4}},
		{[]netip.Addr{srv.Addr()}, nil},
		{[]netip.Addr{c, b, a}, []int{1, 2, 3, 4, 5, 6}},
	} {
		var ids []int
		for _, f := range x.flows(tc.hosts...) {
			ids = append(ids, f.ID)
		}
		if !slices.Equal(ids, tc.ids) {
			t.Errorf("flows(%v) = %v, want %v", tc.hosts, ids, tc.ids)
		}
	}
}

// BenchmarkLeakFindings is findings on 150 k flows to 3000 servers, each
// of which leaked one connection: one leak group per server, each of
// which looks up the connections its host opened itself (a proxy's).
func BenchmarkLeakFindings(b *testing.B) {
	client := netip.MustParseAddr("10.0.0.1")
	rep := &Report{}
	for i := range 150_000 {
		srv := netip.AddrFrom4([4]byte{10, 1, byte(i % 3000 >> 8), byte(i % 3000)})
		r := &flow.Record{ID: i + 1, Key: flow.MakeKey(netip.AddrPortFrom(client, uint16(1024+i%60000)), netip.AddrPortFrom(srv, 80))}
		r.Client.State, r.Server.State = flow.Established, flow.Established
		f := Flow{Record: r}
		if i < 3000 {
			r.Client.State, r.Server.State = flow.FinWait2, flow.CloseWait
			f.Verdicts = []Verdict{{Class: CloseWaitLeak, Side: flow.Server, Severity: Error, Confidence: 0.9}}
		}
		rep.Flows = append(rep.Flows, f)
	}
	b.ReportAllocs()
	for b.Loop() {
		if fs := findings(rep, Options{}.withDefaults()); len(fs) != 3000 {
			b.Fatalf("%d findings, want 3000", len(fs))
		}
	}
}

// TestLastStatuses checks the tally of last response statuses, which
// splits the flows across the CPUs when there are many: the flows of
// non200-leak (real HTTP, statuses 200, 404 and 500) repeated past the
// split tally the same as they do alone, times the repeats.
func TestLastStatuses(t *testing.T) {
	rep := analyzeLab(t, "../testdata/non200-leak.pcap", time.Time{}, Options{})
	var one []*Flow
	for i := range rep.Flows {
		one = append(one, &rep.Flows[i])
	}
	client := func(int) flow.Side { return flow.Client }
	want, read := lastStatuses(one, client)
	if want.total() == 0 || len(want) < 2 {
		t.Fatalf("non200-leak: statuses %v, want several", want)
	}
	repeats := 3*4096/len(one) + 1
	var many []*Flow
	for range repeats {
		many = append(many, one...)
	}
	got, gotRead := lastStatuses(many, client)
	for st, n := range want {
		if got[st] != n*repeats {
			t.Errorf("status %d: %d of %d flows, want %d", st, got[st], len(many), n*repeats)
		}
	}
	if len(got) != len(want) {
		t.Errorf("statuses %v over %d flows, want those of %v", got, len(many), want)
	}
	for i := range many {
		if gotRead[i] != read[i%len(one)] {
			t.Fatalf("flow %d (%d): read %v, want %v", i, many[i].ID, gotRead[i], read[i%len(one)])
		}
	}
}
