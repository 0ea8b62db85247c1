package report

import (
	"net/netip"
	"path/filepath"
	"testing"
	"time"

	"github.com/flowdoc/flowdoc/flow"
	"github.com/flowdoc/flowdoc/flow/sockets"
)

// TestGoldenKernel renders the keep-alive leak joined to a socket table of
// the client host, as flowdoc live reads it, in every format: the kernel
// section, and each flow's sockets in its notes and its JSON. The table
// holds the leaked sockets with their process, one flow's socket gone,
// one that contradicts the capture, and sockets without packets: leaked
// before the capture, a TIME_WAIT, and clients of a local listener.
func TestGoldenKernel(t *testing.T) {
	rep := labReport(t, "../testdata/keepalive-leak.pcap")
	client := netip.MustParseAddr("10.99.1.1")
	server := netip.MustParseAddrPort("10.99.1.2:8080")
	var socks []sockets.Socket
	for i, f := range rep.Flows {
		st := flow.CloseWait
		switch i {
		case 0:
			st = flow.Established // the contradiction
		case 1:
			continue // closed since
		}
		socks = append(socks, sockets.Socket{Local: f.Key.Client(), Remote: f.Key.Server(), State: st, PID: 4242, Command: "python3",
			RxQueue: uint32(i), Timer: "keepalive"})
	}
	for port := uint16(50000); port < 50002; port++ {
		socks = append(socks, sockets.Socket{Local: netip.AddrPortFrom(client, port), Remote: server, State: flow.CloseWait, PID: 4242, Command: "python3", TxQueue: 10})
	}
	socks = append(socks,
		sockets.Socket{Local: netip.AddrPortFrom(client, 50010), Remote: server, State: flow.TimeWait},
		sockets.Socket{Local: netip.MustParseAddrPort("0.0.0.0:22"), Listen: true},
		sockets.Socket{Local: netip.AddrPortFrom(client, 22), Remote: netip.MustParseAddrPort("10.99.1.9:40001"), State: flow.Established, PID: 7, Command: "sshd"},
		sockets.Socket{Local: netip.AddrPortFrom(client, 22), Remote: netip.MustParseAddrPort("10.99.1.9:40002"), State: flow.Established, PID: 7, Command: "sshd"})
	rep.JoinKernel(socks, []netip.Addr{client}, time.Date(2026, 11, 21, 18, 17, 20, 0, time.UTC), time.Second, 0)
	for _, f := range goldenFormats {
		checkGolden(t, filepath.Join("../testdata/golden", "keepalive-leak.pcap.kernel."+f.ext), f.r, rep)
	}
}
