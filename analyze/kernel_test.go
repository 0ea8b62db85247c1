package analyze

import (
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/flowdoc/flowdoc/flow"
)

// TestJoinKernel joins a socket table to the keep-alive leak capture, as
// flowdoc live would read it on the client host: the leaked sockets held
// by a process, two more leaked before the capture, a TIME_WAIT, and one
// socket whose state contradicts the capture.
func TestJoinKernel(t *testing.T) {
	rep := analyzeLab(t, "../testdata/keepalive-leak.pcap", time.Time{}, Options{})
	client := netip.MustParseAddr("10.99.1.1")
	server := netip.MustParseAddrPort("10.99.1.2:8080")
	var socks []flow.Socket
	for i, f := range rep.Flows {
		st := flow.CloseWait
		if i == 0 {
			st = flow.Established // the contradiction
		}
		socks = append(socks, flow.Socket{Local: f.Key.Client(), Remote: f.Key.Server(), State: st, PID: 4242, Command: "python3", Inode: uint64(100 + i)})
	}
	for port := uint16(50000); port < 50002; port++ {
		socks = append(socks, flow.Socket{Local: netip.AddrPortFrom(client, port), Remote: server, State: flow.CloseWait, PID: 4242, Command: "python3"})
	}
	socks = append(socks,
		// Just seen in CLOSE_WAIT: within the grace, not a leak yet.
		flow.Socket{Local: netip.AddrPortFrom(client, 50005), Remote: server, State: flow.CloseWait, PID: 4242, Command: "python3", Seen: time.Unix(0, 0)},
		flow.Socket{Local: netip.AddrPortFrom(client, 50010), Remote: server, State: flow.TimeWait},
		flow.Socket{Local: netip.MustParseAddrPort("0.0.0.0:22"), Listen: true})
	rep.JoinKernel(socks, []netip.Addr{client}, time.Unix(0, 0), time.Second)

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
	if kf == nil || !strings.Contains(kf.Summary, "pid 4242 (python3) holds 7 sockets to 10.99.1.2:8080 in CLOSE_WAIT") ||
		!strings.Contains(kf.Summary, "5 of them closed in the capture, 2 went quiet before it started") {
		t.Errorf("kernel finding %+v", kf)
	}
	if leak == nil || !strings.Contains(leak.Summary, "held by pid 4242 (python3) (5)") {
		t.Errorf("leak finding %+v", leak)
	}
	if rep.Findings[0].Severity != Error {
		t.Errorf("findings not sorted: %v first", rep.Findings[0].Class)
	}
	if w := rep.Warnings(); len(w) != 1 || !strings.Contains(w[0], "disagrees") {
		t.Errorf("warnings %q", w)
	}
}
