package analyze

import (
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/flowdoc/flowdoc/flow"
	"github.com/flowdoc/flowdoc/flow/sockets"
)

// TestJoinKernel joins a socket table to the keep-alive leak capture, as
// flowdoc live would read it on the client host: the leaked sockets held
// by a process, two more leaked before the capture, a TIME_WAIT, and one
// socket whose state contradicts the capture.
func TestJoinKernel(t *testing.T) {
	rep := analyzeLab(t, "../testdata/keepalive-leak.pcap", time.Time{}, Options{})
	client := netip.MustParseAddr("10.99.1.1")
	server := netip.MustParseAddrPort("10.99.1.2:8080")
	var socks []sockets.Socket
	for i, f := range rep.Flows {
		st := flow.CloseWait
		if i == 0 {
			st = flow.Established // the contradiction
		}
		socks = append(socks, sockets.Socket{Local: f.Key.Client(), Remote: f.Key.Server(), State: st, PID: 4242, Command: "python3", Inode: uint64(100 + i)})
	}
	for port := uint16(50000); port < 50002; port++ {
		socks = append(socks, sockets.Socket{Local: netip.AddrPortFrom(client, port), Remote: server, State: flow.CloseWait, PID: 4242, Command: "python3"})
	}
	socks = append(socks,
		// Just seen in CLOSE_WAIT: within the grace, not a leak yet.
		sockets.Socket{Local: netip.AddrPortFrom(client, 50005), Remote: server, State: flow.CloseWait, PID: 4242, Command: "python3", Seen: time.Unix(0, 0)},
		sockets.Socket{Local: netip.AddrPortFrom(client, 50010), Remote: server, State: flow.TimeWait},
		sockets.Socket{Local: netip.MustParseAddrPort("0.0.0.0:22"), Listen: true})
	rep.JoinKernel(socks, []netip.Addr{client}, time.Unix(0, 0), time.Second, 0)

	k := rep.Kernel
	if k.Sockets != 10 || k.Matched != len(rep.Flows) {
		t.Errorf("%d sockets, %d matched; want 10, %d", k.Sockets, k.Matched, len(rep.Flows))
	}
	if len(k.Disagreements) != 1 || k.Disagreements[0].Flow != rep.Flows[0].ID || k.Disagreements[0].Kernel != "ESTABLISHED" || k.Disagreements[0].Inferred != "CLOSE_WAIT" {
		t.Errorf("disagreements %+v", k.Disagreements)
	}
	if len(k.Unseen) != 2 || k.Unseen[0].State != "CLOSE_WAIT" || k.Unseen[0].Count != 3 || k.Unseen[0].Process() != "pid 4242 (python3)" ||
		k.Unseen[1].State != "TIME_WAIT" || k.Unseen[1].Process() != "no process (the kernel's)" {
		t.Errorf("unseen %+v", k.Unseen)
	}
	for i, f := range rep.Flows {
		if k := f.Kernel; k == nil || !k.Known[flow.Client] || k.Known[flow.Server] || k.Sockets[flow.Client] == nil || k.Sockets[flow.Client].Inode != uint64(100+i) {
			t.Errorf("flow %d: kernel %+v", f.ID, f.Kernel)
		}
	}
	var kf, leak *Finding
	for i := range rep.Findings {
		switch rep.Findings[i].Class {
		case KernelCloseWait:
			kf = &rep.Findings[i]
		case CloseWaitLeak:
			leak = &rep.Findings[i]
		}
	}
	if kf == nil || !strings.Contains(kf.Summary, "pid 4242 (python3) holds 7 sockets in CLOSE_WAIT to 10.99.1.2:8080") ||
		!strings.Contains(kf.Summary, "the capture shows the peer closing 5 of them (flows 2, 3, 4, 5, 6); the other 2 were in CLOSE_WAIT before it started") {
		t.Errorf("kernel finding %+v", kf)
	}
	if leak == nil || !strings.Contains(leak.Summary, "The kernel shows them held by pid 4242 (python3).") {
		t.Errorf("leak finding %+v", leak)
	}
	if rep.Findings[0].Severity != Error {
		t.Errorf("findings not sorted: %v first", rep.Findings[0].Class)
	}
	if w := rep.Warnings(); len(w) != 1 || !strings.Contains(w[0], "disagrees") {
		t.Errorf("warnings %q", w)
	}
}

// TestKernelCloseWaitWording: what the kernel's CLOSE_WAIT finding says
// is what the capture shows. Sockets the capture saw the peer close are
// not said to have been in CLOSE_WAIT "at least" as long as flowdoc
// watched, and sockets whose process /proc did not name say what naming
// it takes.
func TestKernelCloseWaitWording(t *testing.T) {
	rep := analyzeLab(t, "../testdata/keepalive-leak.pcap", time.Time{}, Options{})
	client := netip.MustParseAddr("10.99.1.1")
	var socks []sockets.Socket
	var leaked []int
	for i, f := range rep.Flows {
		if f.Client.State != flow.CloseWait {
			continue
		}
		leaked = append(leaked, f.ID)
		// Seen long before the table is read: flowdoc watched them.
		socks = append(socks, sockets.Socket{Local: f.Key.Client(), Remote: f.Key.Server(), State: flow.CloseWait, Inode: uint64(100 + i), Seen: rep.End.Add(-time.Hour)})
	}
	at := rep.End.Add(10 * time.Second)
	rep.JoinKernel(socks, []netip.Addr{client}, at, time.Second, 0)
	var kf, leak *Finding
	for i := range rep.Findings {
		switch rep.Findings[i].Class {
		case KernelCloseWait:
			kf = &rep.Findings[i]
		case CloseWaitLeak:
			leak = &rep.Findings[i]
		}
	}
	if kf == nil || leak == nil {
		t.Fatalf("findings %+v", rep.Findings)
	}
	for _, want := range []string{"an unknown process holds " + strconv.Itoa(len(leaked)) + " sockets in CLOSE_WAIT", "the capture shows the peer closing each of them (flows " + IDList(leaked, 10) + ")",
		"and the process has not closed them since", NamingHint} {
		if !strings.Contains(kf.Summary, want) {
			t.Errorf("kernel finding %q\nwant it to say %q", kf.Summary, want)
		}
	}
	for _, wrong := range []string{"at least", "every one of them closing", "seen in CLOSE_WAIT since"} {
		if strings.Contains(kf.Summary, wrong) {
			t.Errorf("kernel finding %q says %q", kf.Summary, wrong)
		}
	}
	if !strings.Contains(leak.Summary, NamingHint) || strings.Contains(leak.Summary, ") (") {
		t.Errorf("leak finding %q", leak.Summary)
	}
	if rep.Kernel.Unnamed != len(leaked) {
		t.Errorf("%d unnamed sockets, want %d", rep.Kernel.Unnamed, len(leaked))
	}
}

// TestJoinKernelSettle: while the capture goes on, a flow with a packet
// just before the table was read is not a disagreement (it may have
// closed, or opened, between the two readings); a quiet one still is.
func TestJoinKernelSettle(t *testing.T) {
	rep := analyzeLab(t, "../testdata/keepalive-leak.pcap", time.Time{}, Options{})
	client := netip.MustParseAddr("10.99.1.1")
	last := rep.Flows[0].Last.Time()
	for _, f := range rep.Flows {
		if f.Last.Time().After(last) {
			last = f.Last.Time()
		}
	}
	// No sockets at all: every endpoint inferred open disagrees, unless
	// it is still moving.
	for _, tc := range []struct {
		settle time.Duration
		want   bool
	}{{0, true}, {time.Hour, false}} {
		r := *rep
		r.Flows = slices.Clone(rep.Flows)
		r.Findings = slices.Clone(rep.Findings)
		r.JoinKernel(nil, []netip.Addr{client}, last.Add(time.Second), time.Second, tc.settle)
		if got := len(r.Kernel.Disagreements) > 0; got != tc.want {
			t.Errorf("settle %s: disagreements %+v", tc.settle, r.Kernel.Disagreements)
		}
	}
}

// TestKernelFoldedSockets: during a SYN flood at the host, the kernel's
// SYN_RECV sockets at the flooded endpoint belong to the connections
// folded into its aggregate; they are not listed as sockets no packet
// touched. One at another port still is.
func TestKernelFoldedSockets(t *testing.T) {
	rep := analyzeLab(t, "../testdata/flood/syn-flood.pcap", time.Time{}, Options{})
	var server netip.AddrPort
	for _, a := range rep.Aggregates {
		if a.Server.IsValid() {
			server = a.Server
			break
		}
	}
	if !server.IsValid() {
		t.Fatal("no aggregate of a server endpoint: the test does not exercise folding")
	}
	var socks []sockets.Socket
	for i := range 5 {
		peer := netip.AddrPortFrom(netip.AddrFrom4([4]byte{198, 51, 100, byte(i)}), uint16(40000+i))
		socks = append(socks, sockets.Socket{Local: server, Remote: peer, State: flow.SynRecv})
	}
	other := netip.AddrPortFrom(server.Addr(), server.Port()+1)
	socks = append(socks, sockets.Socket{Local: other, Remote: netip.MustParseAddrPort("198.51.100.9:40009"), State: flow.SynRecv},
		sockets.Socket{Local: netip.AddrPortFrom(server.Addr(), server.Port()), Listen: true},
		sockets.Socket{Local: netip.AddrPortFrom(server.Addr(), server.Port()+1), Listen: true})
	rep.JoinKernel(socks, []netip.Addr{server.Addr()}, time.Unix(0, 0), time.Second, 0)
	var unseen int
	for _, g := range rep.Kernel.Unseen {
		unseen += g.Count
		if g.Local.IsValid() && g.Local != other {
			t.Errorf("listed as unseen: %+v", g)
		}
	}
	if unseen != 1 {
		t.Errorf("%d sockets listed as unseen (%+v); want the one at %s", unseen, rep.Kernel.Unseen, other)
	}
}
