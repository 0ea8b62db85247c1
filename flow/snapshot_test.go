package flow

import (
	"context"
	"io"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/pcapgo"

	"github.com/flowdoc/flowdoc/flow/capture"
)

// stepReader replays a capture as a live source would deliver it, and at
// packet `at` asks the pass for a snapshot (then reports itself idle, as
// a live reader does between packets).
type stepReader struct {
	r     *pcapgo.Reader
	n, at int
	asked bool
	snaps chan chan<- *Result
	reply chan *Result
}

func (s *stepReader) ZeroCopyReadPacketData() ([]byte, gopacket.CaptureInfo, error) {
	if s.n == s.at && !s.asked {
		s.asked = true
		s.snaps <- s.reply
		return nil, gopacket.CaptureInfo{}, capture.ErrIdle
	}
	data, ci, err := s.r.ZeroCopyReadPacketData()
	if err == nil {
		s.n++
	}
	return data, ci, err
}

// TestSnapshotIsReadSoFar takes a snapshot in the middle of a pass, as
// flowdoc live does at every interval, and holds it equal to reading only
// the packets before it; the pass itself must end as if no snapshot had
// been taken.
func TestSnapshotIsReadSoFar(t *testing.T) {
	for _, name := range []string{"keepalive-leak.pcap", "stale-reuse.pcap", "listen-overflow.pcap", "timewait-storm.pcap", "midstream.pcap"} {
		path := filepath.Join("../testdata", name)
		whole := analyzeFile(t, path, Config{})
		total := packets(whole)
		for _, at := range []int{1, total / 3, total / 2, total - 1} {
			res, snap := readSnapshotAt(t, path, at, Config{})
			if !reflect.DeepEqual(res.Flows, whole.Flows) {
				t.Errorf("%s: the pass with a snapshot at packet %d ends differently", name, at)
			}
			prefix := analyzeFirst(t, path, at)
			if len(snap.Flows)+len(prefix.Flows) > 0 && !reflect.DeepEqual(snap.Flows, prefix.Flows) {
				t.Errorf("%s: snapshot at packet %d: %d flows, reading %d packets: %d flows, or they differ", name, at, len(snap.Flows), at, len(prefix.Flows))
				for i := range min(len(snap.Flows), len(prefix.Flows)) {
					if !reflect.DeepEqual(snap.Flows[i], prefix.Flows[i]) {
						t.Logf("first difference:\nsnapshot %+v\nprefix   %+v", *snap.Flows[i], *prefix.Flows[i])
						break
					}
				}
			}
			if !snap.End.Equal(prefix.End) {
				t.Errorf("%s: snapshot at packet %d ends at %v, the prefix at %v", name, at, snap.End, prefix.End)
			}
		}
	}
}

// packets counts the packets of a pass's inputs.
func packets(r *Result) int {
	n := 0
	for _, in := range r.Inputs {
		n += in.Packets
	}
	return n
}

// readSnapshotAt reads the pcap file at path with cfg as a live source
// delivers it, and asks the pass for a snapshot at packet at: it returns
// the pass's result and the snapshot.
func readSnapshotAt(t *testing.T, path string, at int, cfg Config) (res, snap *Result) {
	t.Helper()
	pr := openPcap(t, path)
	snaps := make(chan chan<- *Result, 1)
	sr := &stepReader{r: pr, at: at, snaps: snaps, reply: make(chan *Result, 1)}
	src := capture.NewPacketSource(path, sr, pr.LinkType())
	src.Format = capture.FormatPcap // as the file would read
	res, err := Read(context.Background(), []*capture.Source{src}, ReadOptions{Config: cfg, Snapshots: snaps})
	if err != nil {
		t.Fatal(err)
	}
	select {
	case snap = <-sr.reply:
	default:
		t.Fatalf("%s: no snapshot at packet %d", path, at)
	}
	return res, snap
}

// analyzeFirst reads the first n packets of a pcap file.
func analyzeFirst(t *testing.T, path string, n int) *Result {
	t.Helper()
	pr := openPcap(t, path)
	pipeR, pipeW := io.Pipe()
	go func() {
		w := pcapgo.NewWriterNanos(pipeW)
		w.WriteFileHeader(pr.Snaplen(), pr.LinkType())
		for range n {
			data, ci, err := pr.ReadPacketData()
			if err != nil {
				break
			}
			w.WritePacket(ci, data)
		}
		pipeW.Close()
	}()
	return readAll(t, pipeR, path)
}

// TestLiveFolds: with a cap on the flows kept (as flowdoc live runs), a
// flood's and a scan's connections are folded as without one, and a
// snapshot in the middle holds the aggregates so far: every connection is
// in it once, a flow or counted in an aggregate, as in the pass that ends
// at the same packet (where the SYNs still waiting are folded too).
func TestLiveFolds(t *testing.T) {
	connections := func(r *Result) (flows, folded int) {
		for _, a := range r.Aggregates {
			folded += a.Connections
		}
		return len(r.Flows), folded
	}
	snapFolded := 0
	for _, name := range []string{"flood/syn-flood.pcap", "flood/real-synflood.pcap", "scan/masscan.pcap", "scan/hping3-flood-closed.pcap", "scan/nmap-syn.pcap"} {
		path := filepath.Join("../testdata", name)
		whole := analyzeFile(t, path, Config{})
		capped := analyzeFile(t, path, Config{MaxFlows: 1_000_000})
		if _, folded := connections(whole); folded == 0 {
			t.Fatalf("%s: nothing folded: the test does not exercise folding", name)
		}
		if !reflect.DeepEqual(capped.Flows, whole.Flows) || !reflect.DeepEqual(capped.Aggregates, whole.Aggregates) {
			f, a := connections(capped)
			wf, wa := connections(whole)
			t.Errorf("%s: with a cap, %d flows and %d folded; without, %d and %d", name, f, a, wf, wa)
		}
		at := packets(whole) / 2
		res, snap := readSnapshotAt(t, path, at, Config{MaxFlows: 1_000_000})
		if !reflect.DeepEqual(res.Aggregates, whole.Aggregates) {
			t.Errorf("%s: the pass with a snapshot ends with other aggregates", name)
		}
		prefix := analyzeFirst(t, path, at)
		sf, sa := connections(snap)
		pf, pa := connections(prefix)
		t.Logf("%s: the snapshot at packet %d: %d flows, %d folded; the pass that ends there: %d, %d", name, at, sf, sa, pf, pa)
		if sf+sa != pf+pa || sa > pa {
			t.Errorf("%s: the snapshot at packet %d has %d flows and %d folded; the pass that ends there %d and %d", name, at, sf, sa, pf, pa)
		}
		snapFolded += sa
	}
	if snapFolded == 0 {
		t.Error("no snapshot held a folded connection: the test does not exercise them")
	}
}
