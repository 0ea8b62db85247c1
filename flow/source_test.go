package flow

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcapgo"

	"github.com/flowdoc/flowdoc/flow/capture"
	"github.com/flowdoc/flowdoc/flow/packet"
)

// summary is what must not change when the same packets arrive in another
// container or encapsulation.
func summary(res *Result) string {
	var b strings.Builder
	for _, r := range res.Flows {
		fmt.Fprintf(&b, "%s %s/%s %s %d/%d %d/%d\n", r.Key, r.Client.State, r.Server.State, r.History,
			r.Client.Packets, r.Server.Packets, r.Client.Bytes, r.Server.Bytes)
	}
	return b.String()
}

func readAll(t *testing.T, r io.Reader, name string) *Result {
	t.Helper()
	return readWith(t, r, name, Config{})
}

// readWith is readAll with a tracker configuration.
func readWith(t *testing.T, r io.Reader, name string, cfg Config) *Result {
	t.Helper()
	return readOpts(t, r, name, ReadOptions{Config: cfg})
}

// readFile reads the capture at path with options.
func readFile(t *testing.T, path string, opt ReadOptions) *Result {
	t.Helper()
	s, err := capture.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	res, err := Read(context.Background(), []*capture.Source{s}, opt)
	if err != nil {
		t.Fatal(err)
	}
	return res
}

// readOpts is readAll with options.
func readOpts(t *testing.T, r io.Reader, name string, opt ReadOptions) *Result {
	t.Helper()
	s, err := capture.NewSource(name, r)
	if err != nil {
		t.Fatal(err)
	}
	res, err := Read(context.Background(), []*capture.Source{s}, opt)
	if err != nil {
		t.Fatal(err)
	}
	return res
}

type frame struct {
	ci   gopacket.CaptureInfo
	data []byte
}

// openPcap opens the pcap file at path for the test; it is closed when
// the test ends.
func openPcap(t testing.TB, path string) *pcapgo.Reader {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	r, err := pcapgo.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func readFrames(t testing.TB, path string) ([]frame, layers.LinkType) {
	t.Helper()
	r := openPcap(t, path)
	var out []frame
	for {
		data, ci, err := r.ReadPacketData()
		if err == io.EOF {
			return out, r.LinkType()
		}
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, frame{ci, data})
	}
}

// writePcap writes frames, each rewritten by fn, as a pcap of link type
// lt; fn returns nil to leave a frame out.
func writePcap(t testing.TB, frames []frame, lt layers.LinkType, fn func([]byte) []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	w := pcapgo.NewWriterNanos(&buf)
	if err := w.WriteFileHeader(65536, lt); err != nil {
		t.Fatal(err)
	}
	for _, f := range frames {
		d := fn(append([]byte(nil), f.data...))
		if d == nil {
			continue
		}
		ci := f.ci
		ci.CaptureLength, ci.Length = len(d), len(d)+(f.ci.Length-len(f.data))
		if err := w.WritePacket(ci, d); err != nil {
			t.Fatal(err)
		}
	}
	return buf.Bytes()
}

// TestLinkTypes re-encapsulates real Ethernet frames in every supported
// link layer and checks nothing changes.
func TestLinkTypes(t *testing.T) {
	for _, capture := range []string{"../testdata/keepalive-leak.pcap", "../testdata/ipv6.pcap"} {
		frames, lt := readFrames(t, capture)
		if lt != layers.LinkTypeEthernet {
			t.Fatalf("%s: want Ethernet", capture)
		}
		want := summary(analyzeFile(t, capture, Config{}))
		ethType := func(b []byte) uint16 { return binary.BigEndian.Uint16(b[12:14]) }
		// Only IP can be carried without an Ethernet header.
		ipOnly := func(fn func([]byte) []byte) func([]byte) []byte {
			return func(b []byte) []byte {
				if t := ethType(b); t != 0x0800 && t != 0x86dd {
					return nil
				}
				return fn(b)
			}
		}
		family := func(b []byte) uint32 {
			if ethType(b) == 0x86dd {
				return 24 // BSD AF_INET6 on the wire in NetBSD/OpenBSD captures
			}
			return 2
		}
		tests := []struct {
			name string
			lt   layers.LinkType
			fn   func([]byte) []byte
		}{
			{"raw", layers.LinkTypeRaw, ipOnly(func(b []byte) []byte { return b[14:] })},
			{"ipv4/ipv6 link type", ipLinkType(frames), ipOnly(func(b []byte) []byte { return b[14:] })},
			{"null (host order)", layers.LinkTypeNull, ipOnly(func(b []byte) []byte {
				return append(binary.LittleEndian.AppendUint32(nil, family(b)), b[14:]...)
			})},
			{"loop (network order)", layers.LinkTypeLoop, ipOnly(func(b []byte) []byte {
				return append(binary.BigEndian.AppendUint32(nil, family(b)), b[14:]...)
			})},
			{"linux sll", layers.LinkTypeLinuxSLL, ipOnly(func(b []byte) []byte {
				h := make([]byte, 16)
				binary.BigEndian.PutUint16(h[2:], 1) // ARPHRD_ETHER
				binary.BigEndian.PutUint16(h[4:], 6)
				copy(h[6:], b[6:12])
				binary.BigEndian.PutUint16(h[14:], ethType(b))
				return append(h, b[14:]...)
			})},
			{"linux sll, address longer than its field (InfiniBand)", layers.LinkTypeLinuxSLL, ipOnly(func(b []byte) []byte {
				h := make([]byte, 16)
				binary.BigEndian.PutUint16(h[2:], 32) // ARPHRD_INFINIBAND
				binary.BigEndian.PutUint16(h[4:], 20) // the field holds its first 8 bytes
				binary.BigEndian.PutUint16(h[14:], ethType(b))
				return append(h, b[14:]...)
			})},
			{"802.1Q", layers.LinkTypeEthernet, func(b []byte) []byte {
				return vlanTag(b, 0x8100, 100)
			}},
			{"QinQ 802.1ad", layers.LinkTypeEthernet, func(b []byte) []byte {
				return vlanTag(vlanTag(b, 0x8100, 300), 0x88a8, 200)
			}},
		}
		if strings.Contains(capture, "ipv6") {
			tests = append(tests, struct {
				name string
				lt   layers.LinkType
				fn   func([]byte) []byte
			}{"ipv6 extension headers", layers.LinkTypeEthernet, ipv6DestOpts})
		}
		for _, tt := range tests {
			t.Run(filepath.Base(capture)+"/"+tt.name, func(t *testing.T) {
				if tt.lt == 0 {
					t.Skip("mixed IP versions")
				}
				data := writePcap(t, frames, tt.lt, tt.fn)
				res := readAll(t, bytes.NewReader(data), tt.name)
				if got := summary(res); got != want {
					t.Errorf("got\n%s\nwant\n%s", got, want)
				}
				if res.Inputs[0].BadPackets != 0 {
					t.Errorf("bad packets: %v", res.Inputs[0].Warnings)
				}
			})
		}
	}
}

func ipLinkType(frames []frame) layers.LinkType {
	v4, v6 := false, false
	for _, f := range frames {
		switch binary.BigEndian.Uint16(f.data[12:14]) {
		case 0x0800:
			v4 = true
		case 0x86dd:
			v6 = true
		}
	}
	switch {
	case v4 && !v6:
		return layers.LinkTypeIPv4
	case v6 && !v4:
		return layers.LinkTypeIPv6
	}
	return 0
}

func vlanTag(b []byte, tpid, vid uint16) []byte {
	out := append([]byte(nil), b[:12]...)
	out = binary.BigEndian.AppendUint16(out, tpid)
	out = binary.BigEndian.AppendUint16(out, vid)
	return append(out, b[12:]...)
}

// ipv6DestOpts inserts a routing header and a destination options header
// (each padding only) between the IPv6 header and TCP.
func ipv6DestOpts(b []byte) []byte {
	if binary.BigEndian.Uint16(b[12:14]) != 0x86dd || b[14+6] != 6 {
		return b
	}
	ip := b[14:]
	ext := []byte{
		60, 0, 0, 0, 0, 0, 0, 0, // routing: next = dest opts, len 0, type 0, segments left 0
		6, 0, 1, 4, 0, 0, 0, 0, // dest opts: next = TCP, PadN
	}
	ext[2] = 4 // routing type 4 (SRH-like, unknown types are fine with segments left 0)
	out := append([]byte(nil), b[:14+40]...)
	out[14+6] = 43
	binary.BigEndian.PutUint16(out[14+4:], binary.BigEndian.Uint16(ip[4:])+uint16(len(ext)))
	out = append(out, ext...)
	return append(out, ip[40:]...)
}

func TestBadInput(t *testing.T) {
	good, err := os.ReadFile("../testdata/keepalive-leak.pcap")
	if err != nil {
		t.Fatal(err)
	}
	all := analyzeFile(t, "../testdata/keepalive-leak.pcap", Config{})
	total := all.Inputs[0].Packets

	t.Run("not a capture", func(t *testing.T) {
		_, err := capture.NewSource("x.txt", strings.NewReader("GET / HTTP/1.1\r\n\r\n"))
		if !errors.Is(err, capture.ErrNotCapture) {
			t.Errorf("err = %v, want ErrNotCapture", err)
		}
	})
	t.Run("empty", func(t *testing.T) {
		_, err := capture.NewSource("empty", strings.NewReader(""))
		if !errors.Is(err, capture.ErrNotCapture) {
			t.Errorf("err = %v, want ErrNotCapture", err)
		}
	})
	t.Run("missing file", func(t *testing.T) {
		_, err := capture.Open(filepath.Join(t.TempDir(), "nope.pcap"))
		if !errors.Is(err, os.ErrNotExist) {
			t.Errorf("err = %v, want not exist", err)
		}
	})
	t.Run("truncated last record", func(t *testing.T) {
		res := readAll(t, bytes.NewReader(good[:len(good)-20]), "cut.pcap")
		in := res.Inputs[0]
		if !in.Incomplete || len(in.Warnings) != 1 || in.Warnings[0].Kind != WarnStopped || in.Warnings[0].Packet != total ||
			in.Warnings[0].N != total-1 || !errors.Is(in.Warnings[0].Err, io.ErrUnexpectedEOF) {
			t.Errorf("incomplete=%v warnings=%+v, want packet %d truncated (unexpected EOF)", in.Incomplete, in.Warnings, total)
		}
		if in.Packets != total-1 || len(res.Flows) != len(all.Flows) {
			t.Errorf("read %d packets, %d flows; want %d and %d", in.Packets, len(res.Flows), total-1, len(all.Flows))
		}
	})
	t.Run("corrupt TCP header", func(t *testing.T) {
		frames, lt := readFrames(t, "../testdata/keepalive-leak.pcap")
		n := 0
		data := writePcap(t, frames, lt, func(b []byte) []byte {
			n++
			if n == 10 {
				ihl := int(b[14]&0x0f) * 4
				b[14+ihl+12] = 0x20 // TCP data offset 2: shorter than a header
			}
			return b
		})
		res := readAll(t, bytes.NewReader(data), "corrupt.pcap")
		in := res.Inputs[0]
		if w := in.Warnings; in.BadPackets != 1 || len(w) != 1 || w[0].Kind != WarnPacket || w[0].Packet != 10 || !strings.HasPrefix(w[0].Err.Error(), "packet 10: TCP") {
			t.Errorf("bad=%d warnings=%+v", in.BadPackets, in.Warnings)
		}
		if in.Packets != total || len(res.Flows) != len(all.Flows) {
			t.Errorf("read %d packets, %d flows", in.Packets, len(res.Flows))
		}
	})
	t.Run("unsupported link type", func(t *testing.T) {
		frames, _ := readFrames(t, "../testdata/keepalive-leak.pcap")
		data := writePcap(t, frames, layers.LinkTypeTokenRing, func(b []byte) []byte { return b })
		if packet.SupportedLinkType(layers.LinkTypeTokenRing) {
			t.Fatal("token ring claimed supported")
		}
		res := readAll(t, bytes.NewReader(data), "tokenring.pcap")
		in := res.Inputs[0]
		if len(res.Flows) != 0 || in.BadPackets != total || len(in.Warnings) != 1 || in.Warnings[0].Kind != WarnLinkType || in.Warnings[0].LinkType != packet.LinkTypeName(layers.LinkTypeTokenRing) {
			t.Errorf("flows=%d bad=%d warnings=%+v", len(res.Flows), in.BadPackets, in.Warnings)
		}
	})
	t.Run("capture without TCP", func(t *testing.T) {
		frames, lt := readFrames(t, "../testdata/ipv6.pcap")
		var icmp []frame
		for _, f := range frames {
			if f.data[14+6] == 58 { // ICMPv6
				icmp = append(icmp, f)
			}
		}
		res := readAll(t, bytes.NewReader(writePcap(t, icmp, lt, func(b []byte) []byte { return b })), "icmp.pcap")
		in := res.Inputs[0]
		if len(icmp) == 0 || len(res.Flows) != 0 || in.NonTCP != len(icmp) || in.TCPPackets != 0 {
			t.Errorf("%d ICMPv6 frames: flows=%d nonTCP=%d", len(icmp), len(res.Flows), in.NonTCP)
		}
	})
}

// TestMerge reads two captures as two inputs and compares with the pcapng
// mergecap made of them (two interfaces, two link types).
func TestMerge(t *testing.T) {
	a, err := capture.Open("../testdata/ipv6.pcap")
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	b, err := capture.Open("../testdata/proxy-any.pcap")
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	res, err := Read(context.Background(), []*capture.Source{a, b}, ReadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	merged := analyzeFile(t, "../testdata/mixed-link.pcapng", Config{})
	if got, want := summary(res), summary(merged); got != want {
		t.Errorf("two inputs:\n%s\nmergecap's pcapng:\n%s", got, want)
	}
	if got := merged.Inputs[0].LinkTypes; len(got) != 2 {
		t.Errorf("link types %v, want two", got)
	}
	// Evidence points into the right file.
	for _, r := range res.Flows {
		for _, e := range r.Events {
			want := uint16(0)
			if r.Key.Client().Addr().Is4() {
				want = 1
			}
			if e.Input != want {
				t.Fatalf("flow %s: event in input %d", r.Key, e.Input)
			}
		}
	}
}

// TestTrackersChangeNothing reads every capture with one tracker and with
// several: the records, their order and IDs included, must be the same.
func TestTrackersChangeNothing(t *testing.T) {
	captures, _ := filepath.Glob("../testdata/*.pcap*")
	for _, c := range captures {
		read := func(n int) *Result {
			s, err := capture.Open(c)
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			res, err := Read(context.Background(), []*capture.Source{s}, ReadOptions{Trackers: n, Config: Config{AllEvents: true}})
			if err != nil {
				t.Fatal(err)
			}
			return res
		}
		one, three := read(1), read(3)
		if len(one.Flows) != len(three.Flows) || !one.End.Equal(three.End) {
			t.Fatalf("%s: %d flows with one tracker, %d with three", c, len(one.Flows), len(three.Flows))
		}
		for i := range one.Flows {
			if !reflect.DeepEqual(one.Flows[i], three.Flows[i]) {
				t.Errorf("%s: flow %d differs:\none   %+v\nthree %+v", c, i+1, one.Flows[i], three.Flows[i])
			}
		}
	}
}

// TestPcapNGEndTime: a pcapng whose interface statistics record the end
// of the capture (and drops) ends there, not at its last packet: a quiet
// tail ages the states. dumpcap and flowdoc live write these.
func TestPcapNGEndTime(t *testing.T) {
	pr := openPcap(t, "../testdata/keepalive-leak.pcap")
	var buf bytes.Buffer
	ng, err := pcapgo.NewNgWriterInterface(&buf, pcapgo.NgInterface{Name: "veth0", LinkType: pr.LinkType(), TimestampResolution: 9}, pcapgo.DefaultNgWriterOptions)
	if err != nil {
		t.Fatal(err)
	}
	var last time.Time
	for {
		data, ci, err := pr.ReadPacketData()
		if err != nil {
			break
		}
		ng.WritePacket(ci, data)
		last = ci.Timestamp
	}
	end := last.Add(90 * time.Second)
	if err := ng.WriteInterfaceStats(0, pcapgo.NgInterfaceStatistics{EndTime: end, LastUpdate: end, PacketsReceived: 70, PacketsDropped: 2}); err != nil {
		t.Fatal(err)
	}
	ng.Flush()
	src, err := capture.NewSource("with-end.pcapng", &buf)
	if err != nil {
		t.Fatal(err)
	}
	res, err := Read(context.Background(), []*capture.Source{src}, ReadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	in := res.Inputs[0]
	if !res.End.Equal(end) || !in.End.Equal(end) || in.Dropped != 2 || len(in.Warnings) != 1 || in.Warnings[0] != (Warning{Kind: WarnDropped, N: 2}) {
		t.Errorf("end %v (input %v), want %v; dropped %d; warnings %+v", res.End, in.End, end, in.Dropped, in.Warnings)
	}
	for _, r := range res.Flows {
		if r.Client.State != CloseWait {
			t.Errorf("flow %d: client %s, want CLOSE_WAIT", r.ID, r.Client.State)
		}
		if r.Server.State != Closed || r.Server.Expired != FinWait2 {
			t.Errorf("flow %d: server %s (expired %s): the orphaned FIN_WAIT_2 should have ended in the 90 s tail", r.ID, r.Server.State, r.Server.Expired)
		}
	}
}

// TestLocalAddrs: the capturing host's addresses, from the directions a
// Linux cooked capture records. On the loopback interface both ends are
// the host's (testdata/decode/loopback-any.pcap: tcpdump -i any, a
// connection from 10.0.0.1 to 10.0.0.2, both on lo); a host that
// forwards has only the address it translates to (testdata/nat).
func TestLocalAddrs(t *testing.T) {
	for file, want := range map[string]string{
		"../testdata/decode/loopback-any.pcap": "[10.0.0.1 10.0.0.2]",
		"../testdata/nat/snat-masquerade.pcap": "[10.77.2.1]",
		"../testdata/proxy-any.pcap":           "[10.99.1.2 10.99.2.1]",
		"../testdata/keepalive-leak.pcap":      "[]",
		// Spoofed sources answered over lo (a lab's route): not the host's.
		"../testdata/flood/real-synflood.pcap": "[10.99.0.1]",
	} {
		if got := fmt.Sprint(readFile(t, file, ReadOptions{}).LocalAddrs); got != want {
			t.Errorf("%s: local addresses %s; want %s", file, got, want)
		}
	}
}

// TestOnFinish: the hook runs once, at the end of the pass, and changes
// nothing read.
func TestOnFinish(t *testing.T) {
	calls := 0
	res := readFile(t, "../testdata/keepalive-leak.pcap", ReadOptions{OnFinish: func() { calls++ }})
	if calls != 1 {
		t.Fatalf("OnFinish called %d times, want 1", calls)
	}
	plain := readFile(t, "../testdata/keepalive-leak.pcap", ReadOptions{})
	if len(res.Flows) == 0 || len(res.Flows) != len(plain.Flows) {
		t.Errorf("%d flows with the hook, %d without", len(res.Flows), len(plain.Flows))
	}
}
