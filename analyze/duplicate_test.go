package analyze

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcapgo"

	"github.com/flowdoc/flowdoc/flow"
	"github.com/flowdoc/flowdoc/flow/capture"
)

// twice writes the capture at path with every packet captured twice, as
// tcpdump -i any records a container's packets on its veth and on the
// bridge: a pcapng of two interfaces, the copy on the second 7 µs later.
func twice(t *testing.T, path string) string {
	t.Helper()
	src, err := capture.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	out := filepath.Join(t.TempDir(), "twice-"+filepath.Base(path)+"ng")
	o, err := os.Create(out)
	if err != nil {
		t.Fatal(err)
	}
	var w *pcapgo.NgWriter
	for n := 0; ; n++ {
		data, ci, lt, err := src.Next()
		if err != nil {
			break
		}
		if n == 0 {
			intf := pcapgo.DefaultNgInterface
			intf.LinkType, intf.Name, intf.TimestampResolution = lt, "veth0", 9
			if w, err = pcapgo.NewNgWriterInterface(o, intf, pcapgo.DefaultNgWriterOptions); err != nil {
				t.Fatal(err)
			}
			intf.Name = "br0"
			if _, err := w.AddInterface(intf); err != nil {
				t.Fatal(err)
			}
		}
		ci.AncillaryData, ci.InterfaceIndex = nil, 0
		if err := w.WritePacket(ci, data); err != nil {
			t.Fatal(err)
		}
		ci.Timestamp, ci.InterfaceIndex = ci.Timestamp.Add(7*time.Microsecond), 1
		if err := w.WritePacket(ci, data); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	if err := o.Close(); err != nil {
		t.Fatal(err)
	}
	return out
}

// brief is what a report says of its flows and findings, for comparing
// two reports; the findings' words (with ages counted to the end of the
// capture) when words.
func brief(rep *Report, words bool) string {
	var b strings.Builder
	for _, f := range rep.Flows {
		fmt.Fprintf(&b, "%d %s %s %d/%d %d/%d %s %s:", f.ID, f.Key, f.History, f.Client.Packets, f.Server.Packets,
			f.Client.Retrans, f.Server.Retrans, f.Client.State, f.Server.State)
		for _, v := range f.Verdicts {
			fmt.Fprintf(&b, " %s(%s)", v.Class, v.Side)
		}
		b.WriteString("\n")
	}
	for _, f := range rep.Findings {
		fmt.Fprintf(&b, "%s %s %d", f.Class, f.Severity, f.Connections())
		if words {
			b.WriteString(" " + f.Summary)
		}
		b.WriteString("\n")
	}
	return b.String()
}

// TestDuplicatePackets: a capture that holds every packet twice reads as
// the capture that holds it once, and says how many it left out. Counted
// as they came, the copies were retransmissions, SYNs sent again (a slow
// connect: a listen_overflow error on tls.pcap and stale-reuse.pcap) and
// a SYN-ACK sent again after the ACK.
func TestDuplicatePackets(t *testing.T) {
	for _, path := range []string{"../testdata/tls.pcap", "../testdata/stale-reuse.pcap", "../testdata/ipv6.pcap",
		"../testdata/keepalive-leak.pcap", "../testdata/real/listen-overflow@late.pcap", "../testdata/http-lossy.pcap"} {
		t.Run(filepath.Base(path), func(t *testing.T) {
			once, two := analyzeFile(t, path), analyzeFile(t, twice(t, path))
			if a, b := brief(once, true), brief(two, true); a != b {
				t.Errorf("read twice:\n%s\nread once:\n%s", b, a)
			}
			in := two.Inputs[0]
			if in.Duplicates != once.Inputs[0].TCPPackets || in.TCPPackets != 2*once.Inputs[0].TCPPackets ||
				!slices.ContainsFunc(in.Warnings, func(w string) bool { return strings.Contains(w, "captured twice") }) {
				t.Errorf("%d TCP packets, %d duplicates, warnings %q; want %d of each", in.TCPPackets, in.Duplicates, in.Warnings, once.Inputs[0].TCPPackets)
			}
		})
	}
}

// restamp writes the capture at path with the packets' stamps changed by
// stamp (given each packet's index and time), in the same order.
func restamp(t *testing.T, path string, stamp func(i int, at time.Time, prev time.Time) time.Time) string {
	out := filepath.Join(t.TempDir(), "restamped-"+filepath.Base(path))
	var prev time.Time
	rewrite(t, path, out, func(i int, data []byte, ci gopacket.CaptureInfo, write func(gopacket.CaptureInfo, []byte)) {
		at := ci.Timestamp
		ci.Timestamp = stamp(i, at, prev)
		prev = at
		write(ci, data)
	})
	return out
}

// rewrite writes out, a pcap of the link type of the capture at path,
// with what each calls write with for each of its packets (i, from 0).
func rewrite(t *testing.T, path, out string, each func(i int, data []byte, ci gopacket.CaptureInfo, write func(gopacket.CaptureInfo, []byte))) {
	t.Helper()
	src, err := capture.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	o, err := os.Create(out)
	if err != nil {
		t.Fatal(err)
	}
	w := pcapgo.NewWriterNanos(o)
	write := func(ci gopacket.CaptureInfo, data []byte) {
		ci.AncillaryData, ci.InterfaceIndex = nil, 0
		if err := w.WritePacket(ci, data); err != nil {
			t.Fatal(err)
		}
	}
	for i := 0; ; i++ {
		data, ci, lt, err := src.Next()
		if err != nil {
			break
		}
		if i == 0 {
			if err := w.WriteFileHeader(262144, lt); err != nil {
				t.Fatal(err)
			}
		}
		each(i, data, ci, write)
	}
	if err := o.Close(); err != nil {
		t.Fatal(err)
	}
}

// TestReorderedStamps: a capture on several CPUs stamps packets out of
// order by microseconds; read at the time of the packet before them, they
// change no verdict. Read at their own times, a request stamped after
// the RST that answers it lost stale-reuse.pcap both its stale_reuse_reset
// warnings, and a reset after a FIN made accept-close.pcap one.
func TestReorderedStamps(t *testing.T) {
	for _, path := range []string{"../testdata/stale-reuse.pcap", "../testdata/accept-close.pcap", "../testdata/keepalive-leak.pcap"} {
		t.Run(filepath.Base(path), func(t *testing.T) {
			// Every other packet that came within 1 ms of the one before
			// is stamped before it, and the one before after.
			var stamps []time.Time
			restamp(t, path, func(_ int, at, _ time.Time) time.Time { stamps = append(stamps, at); return at })
			swapped := slices.Clone(stamps)
			n := 0
			for i := 0; i+1 < len(swapped); i += 2 {
				if d := swapped[i+1].Sub(swapped[i]); d > 0 && d < time.Millisecond {
					swapped[i], swapped[i+1] = swapped[i+1], swapped[i]
					n++
				}
			}
			once, swappedRep := analyzeFile(t, path), analyzeFile(t, restamp(t, path, func(i int, _, _ time.Time) time.Time { return swapped[i] }))
			if a, b := brief(once, true), brief(swappedRep, true); a != b {
				t.Errorf("stamped out of order:\n%s\nin order:\n%s", b, a)
			}
			if in := swappedRep.Inputs[0]; n == 0 || in.Reordered != n || len(in.Warnings) != len(once.Inputs[0].Warnings) {
				t.Errorf("%d packets reordered, warnings %q; want %d, no warning", in.Reordered, in.Warnings, n)
			}
		})
	}
	// A pcapng written interface by interface: a connection's packets
	// come as a block after another's, stamped up to 30 ms before the
	// other's last. They keep their times: read at the other's last, the
	// 40 ms connection would last 10 ms.
	a := conv{cport: 40000, server: "10.0.0.2:80", segs: join(open(0), exchange(0.01, 100, 200),
		[]seg{{0.04, true, "FA", 0, -1}, {0.045, false, "FA", 0, -1}, {0.05, true, "A", 0, -1}})}
	b := conv{cport: 40001, server: "10.0.0.2:80", segs: join(open(0.1), exchange(0.11, 100, 200),
		[]seg{{0.13, true, "FA", 0, -1}, {0.135, false, "FA", 0, -1}, {0.14, true, "A", 0, -1}})}
	crafted := craft(t, a, b)
	n := len(a.segs)
	block := analyzeFile(t, restamp(t, crafted, func(i int, at, _ time.Time) time.Time {
		if i >= n {
			return at.Add(-80 * time.Millisecond)
		}
		return at
	}))
	if len(block.Flows) != 2 || block.Flows[1].Duration() != 40*time.Millisecond {
		t.Errorf("the block stamped back: %d flows, the second lasting %s; want 40 ms", len(block.Flows), block.Flows[1].Duration())
	}
	if in := block.Inputs[0]; in.Reordered == 0 || in.ReorderedByS < 0.029 {
		t.Errorf("block 30 ms back: %d reordered, by %g s; want them counted", in.Reordered, in.ReorderedByS)
	}
	// The clock set back an hour halfway: a warning naming the packet.
	path := "../testdata/keepalive-leak.pcap"
	rep := analyzeFile(t, restamp(t, path, func(i int, at, _ time.Time) time.Time {
		if i >= 30 {
			return at.Add(-time.Hour)
		}
		return at
	}))
	if w := rep.Inputs[0].Warnings; !slices.ContainsFunc(w, func(s string) bool {
		return strings.Contains(s, "packet 31 is stamped") && strings.Contains(s, "set back")
	}) {
		t.Errorf("warnings %q; want the clock set back at packet 31", w)
	}
}

// TestTwoPointCapture: the same traffic captured at the client's host and
// at the server's, read together, the second's clock 50 ms ahead and
// every seventh of its packets lost: it reads as the first alone, the
// second's packets left out as the first's. http-lossy.pcap's
// retransmission is in both, and stays one.
func TestTwoPointCapture(t *testing.T) {
	for _, path := range []string{"../testdata/keepalive-leak.pcap", "../testdata/http-lossy.pcap", "../testdata/stale-reuse.pcap"} {
		t.Run(filepath.Base(path), func(t *testing.T) {
			other := restamp(t, path, func(_ int, at, _ time.Time) time.Time { return at.Add(50 * time.Millisecond) })
			// restamp cannot drop: the losses are left to a second pass.
			lossy := filepath.Join(t.TempDir(), "lossy.pcap")
			keep(t, other, lossy, func(i int) bool { return i%7 != 6 })
			var srcs []*capture.Source
			for _, p := range []string{path, lossy} {
				s, err := capture.Open(p)
				if err != nil {
					t.Fatal(err)
				}
				defer s.Close()
				srcs = append(srcs, s)
			}
			res, err := flow.Read(t.Context(), srcs, flow.ReadOptions{})
			if err != nil {
				t.Fatal(err)
			}
			// The second capture ends 50 ms later: ages in the findings' words
			// count to there.
			once, both := analyzeFile(t, path), Build(res, Options{})
			if a, b := brief(once, false), brief(both, false); a != b {
				t.Errorf("read with a copy from another point:\n%s\nalone:\n%s", b, a)
			}
			in := both.Inputs[1]
			if in.Elsewhere != in.TCPPackets || !slices.ContainsFunc(in.Warnings, func(w string) bool { return strings.Contains(w, "in another input too") }) {
				t.Errorf("second input: %d TCP packets, %d in the other, warnings %q; want all", in.TCPPackets, in.Elsewhere, in.Warnings)
			}
		})
	}
}

// keep copies the packets of the capture at path whose index ok takes
// into out.
func keep(t *testing.T, path, out string, ok func(i int) bool) {
	rewrite(t, path, out, func(i int, data []byte, ci gopacket.CaptureInfo, write func(gopacket.CaptureInfo, []byte)) {
		if ok(i) {
			write(ci, data)
		}
	})
}

// TestMergedPointsWarned: the same traffic captured at two points and
// merged into one file (mergecap folds both into one interface) holds
// each packet again 50 ms later under its IPv4 identification: read as
// one input, the copies are not told from retransmissions, and a warning
// says to give the captures apart.
func TestMergedPointsWarned(t *testing.T) {
	const path = "../testdata/keepalive-leak.pcap"
	type pkt struct {
		ci   gopacket.CaptureInfo
		data []byte
	}
	var all []pkt
	rewrite(t, path, filepath.Join(t.TempDir(), "copy.pcap"), func(_ int, data []byte, ci gopacket.CaptureInfo, _ func(gopacket.CaptureInfo, []byte)) {
		later := ci
		later.Timestamp = ci.Timestamp.Add(50 * time.Millisecond)
		all = append(all, pkt{ci, slices.Clone(data)}, pkt{later, slices.Clone(data)})
	})
	slices.SortStableFunc(all, func(a, b pkt) int { return a.ci.Timestamp.Compare(b.ci.Timestamp) })
	merged := filepath.Join(t.TempDir(), "merged.pcap")
	o, err := os.Create(merged)
	if err != nil {
		t.Fatal(err)
	}
	w := pcapgo.NewWriterNanos(o)
	if err := w.WriteFileHeader(262144, layers.LinkTypeEthernet); err != nil {
		t.Fatal(err)
	}
	for _, p := range all {
		p.ci.AncillaryData, p.ci.InterfaceIndex = nil, 0
		if err := w.WritePacket(p.ci, p.data); err != nil {
			t.Fatal(err)
		}
	}
	if err := o.Close(); err != nil {
		t.Fatal(err)
	}
	rep := analyzeFile(t, merged)
	if w := rep.Inputs[0].Warnings; !slices.ContainsFunc(w, func(s string) bool { return strings.Contains(s, "seems to merge the captures of two points") }) {
		t.Errorf("warnings %q; want the merge told", w)
	}
	if w := analyzeFile(t, path).Inputs[0].Warnings; len(w) != 0 {
		t.Errorf("the capture alone: warnings %q; want none", w)
	}
}
