package report

import (
	"bytes"
	"net/netip"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/flowdoc/flowdoc/analyze"
	"github.com/flowdoc/flowdoc/flow"
	"github.com/flowdoc/flowdoc/flow/sockets"
)

// leakWithKernel is the keep-alive leak capture joined to the socket
// table of its client host: java (pid 4242) holds the leaked sockets,
// and two more that went quiet before the capture; pid 0 is a process
// /proc would not name.
func leakWithKernel(t *testing.T, pid int) *analyze.Report {
	t.Helper()
	rep := labReport(t, "../testdata/keepalive-leak.pcap")
	client := netip.MustParseAddr("10.99.1.1")
	server := netip.MustParseAddrPort("10.99.1.2:8080")
	var socks []sockets.Socket
	for i, f := range rep.Flows {
		if f.Client.State == flow.CloseWait {
			socks = append(socks, sockets.Socket{Local: f.Key.Client(), Remote: f.Key.Server(), State: flow.CloseWait, PID: pid, Command: "java", Inode: uint64(100 + i)})
		}
	}
	for port := uint16(50000); port < 50002; port++ {
		socks = append(socks, sockets.Socket{Local: netip.AddrPortFrom(client, port), Remote: server, State: flow.CloseWait, PID: pid, Command: "java", Inode: uint64(port)})
	}
	rep.JoinKernel(socks, []netip.Addr{client}, rep.End.Add(time.Minute), time.Second, 0)
	return rep
}

// TestLiveViewFits: the live view on an 80×24 terminal fits it (no line
// the terminal would wrap, no row more than it has) and names the
// process behind the leak in its findings, as the report does.
func TestLiveViewFits(t *testing.T) {
	st := LiveStatus{Interface: "eth0", Elapsed: 42 * time.Second, Packets: 123456, Rate: 2939, Dropped: 0}
	for _, tc := range []struct {
		name string
		pid  int
		want []string
	}{
		{"named", 4242, []string{"pid 4242 (java) holds 8 sockets in CLOSE_WAIT to 10.99.1.2:8080", "pid 4242 (java) on 10.99.1.1 holds 6 connections"}},
		{"unnamed", 0, []string{"an unknown process holds 8 sockets in CLOSE_WAIT", "8 sockets held by an unknown process: naming the process needs root"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rep := leakWithKernel(t, tc.pid)
			for _, height := range []int{23, 0} {
				var buf bytes.Buffer
				if err := LiveView(&buf, st, rep, 80, height); err != nil {
					t.Fatal(err)
				}
				view := buf.String()
				lines := strings.Split(strings.TrimSuffix(view, "\n"), "\n")
				if height > 0 && len(lines) > height {
					t.Errorf("%d lines for %d rows:\n%s", len(lines), height, view)
				}
				for _, l := range lines {
					if n := utf8.RuneCountInString(l); n > 80 {
						t.Errorf("%d columns: %q", n, l)
					}
				}
				for _, w := range tc.want {
					if !strings.Contains(view, w) {
						t.Errorf("the view does not say %q:\n%s", w, view)
					}
				}
				if strings.Contains(view, "(java) (") {
					t.Errorf("a process named twice over:\n%s", view)
				}
			}
		})
	}
}

// TestLiveViewFewRows: on a short terminal the findings give way, and
// say how many are not shown.
func TestLiveViewFewRows(t *testing.T) {
	rep := leakWithKernel(t, 4242)
	var buf bytes.Buffer
	LiveView(&buf, LiveStatus{Interface: "lo"}, rep, 80, 14)
	lines := strings.Split(strings.TrimSuffix(buf.String(), "\n"), "\n")
	if len(lines) > 14 || !strings.Contains(buf.String(), "more)") {
		t.Errorf("%d lines for 14 rows:\n%s", len(lines), buf.String())
	}
}

// TestKernelSectionPunctuation: the text report's socket table line ends
// with a colon only when disagreements follow it.
func TestKernelSectionPunctuation(t *testing.T) {
	rep := leakWithKernel(t, 4242)
	var buf bytes.Buffer
	if err := (&Text{Width: 80}).Render(&buf, rep); err != nil {
		t.Fatal(err)
	}
	text := buf.String()
	i := strings.Index(text, "The host's socket table")
	if i < 0 {
		t.Fatalf("no socket table section:\n%s", text)
	}
	section := text[i:]
	if j := strings.Index(section, "disagreeing with the inferred state"); j < 0 || !strings.HasPrefix(section[j+len("disagreeing with the inferred state"):], ".\n") {
		t.Errorf("the socket table line does not end with a full stop:\n%s", section)
	}
}

// TestLiveCountsConnections: a capture holding each connection before and
// after a NAT (testdata/nat/dnat-leak.pcap: 10 connections, 6 leaked)
// shows 10 connections in the live view's head, 6 still open, not the 20
// flows and 12 it lists.
func TestLiveCountsConnections(t *testing.T) {
	rep := labReport(t, "../testdata/nat/dnat-leak.pcap")
	var b bytes.Buffer
	if err := LiveView(&b, LiveStatus{Interface: "any"}, rep, 120, 40); err != nil {
		t.Fatal(err)
	}
	if head := b.String(); !strings.Contains(head, "10 connections, 6 still open") {
		t.Errorf("live view:\n%s\nwant 10 connections, 6 still open", head)
	}
}
