package flow

import (
	"bufio"
	"fmt"
	"math"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// conv is one row of `tshark -q -z conv,tcp`: frames and bytes each way.
type conv struct {
	a, b               netip.AddrPort
	framesBA, framesAB uint64
	bytesBA, bytesAB   float64 // in bytes, as printed (may be rounded)
	unitBA, unitAB     float64 // the printed unit: 1 for "bytes", 1000 for kB...
}

// parseTsharkConv reads tshark 4.x's conversation table. Byte counts of
// 10 kB and more are printed rounded, with an SI unit.
func parseTsharkConv(t *testing.T, path string) []conv {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []conv
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		if !strings.Contains(line, "<->") {
			continue
		}
		fl := strings.Fields(line)
		// A <-> B framesBA nBA unit framesAB nAB unit ...
		if len(fl) < 9 {
			t.Fatalf("%s: short line %q", path, line)
		}
		c := conv{a: parseHostPort(t, fl[0]), b: parseHostPort(t, fl[2])}
		c.framesBA = atou(t, fl[3])
		c.bytesBA, c.unitBA = size(t, fl[4], fl[5])
		c.framesAB = atou(t, fl[6])
		c.bytesAB, c.unitAB = size(t, fl[7], fl[8])
		out = append(out, c)
	}
	return out
}

// parseHostPort reads tshark's "10.0.0.1:80" or "fd00::1:80".
func parseHostPort(t *testing.T, s string) netip.AddrPort {
	i := strings.LastIndexByte(s, ':')
	a, err := netip.ParseAddr(s[:i])
	if err != nil {
		t.Fatalf("address %q: %v", s, err)
	}
	return netip.AddrPortFrom(a, uint16(atou(t, s[i+1:])))
}

func atou(t *testing.T, s string) uint64 {
	n, err := strconv.ParseUint(strings.ReplaceAll(s, ",", ""), 10, 64)
	if err != nil {
		t.Fatalf("number %q: %v", s, err)
	}
	return n
}

func size(t *testing.T, n, unit string) (float64, float64) {
	v, err := strconv.ParseFloat(strings.ReplaceAll(n, ",", ""), 64)
	if err != nil {
		t.Fatalf("size %q: %v", n, err)
	}
	u := map[string]float64{"bytes": 1, "kB": 1e3, "MB": 1e6, "GB": 1e9}[unit]
	if u == 0 {
		t.Fatalf("unit %q", unit)
	}
	return v * u, u
}

// sidecars maps each testdata file with extension ext (tshark's outputs)
// to the capture beside it, the crafted captures of testdata/zeek
// included.
func sidecars(t *testing.T, ext string) map[string]string {
	t.Helper()
	files, _ := filepath.Glob("../testdata/*" + ext)
	crafted, _ := filepath.Glob("../testdata/zeek/*" + ext)
	files = append(files, crafted...)
	if len(files) == 0 {
		t.Fatalf("no %s files in ../testdata", ext)
	}
	more, _ := filepath.Glob(filepath.Join(decodeDir, "*"+ext))
	files = append(files, more...)
	out := map[string]string{}
	for _, f := range files {
		base := strings.TrimSuffix(f, ext)
		capture := base + ".pcap"
		if _, err := os.Stat(capture); err != nil {
			capture = base + ".pcapng"
		}
		out[f] = capture
	}
	return out
}

// TestTsharkConversations checks flow counts and per-direction frames and
// bytes against tshark's on the same captures (kept next to them, so CI
// does not need tshark).
func TestTsharkConversations(t *testing.T) {
	for tf, capture := range sidecars(t, ".tshark") {
		t.Run(filepath.Base(capture), func(t *testing.T) {
			want := parseTsharkConv(t, tf)
			res := analyzeFile(t, capture, Config{})
			if len(res.Flows) != len(want) {
				t.Errorf("%d flows, tshark has %d conversations", len(res.Flows), len(want))
			}
			type dir struct {
				from, to netip.AddrPort
				frames   uint64
				bytes    uint64
			}
			ours := map[[2]netip.AddrPort][]dir{}
			for i := range res.Flows {
				r := res.Flows[i]
				for _, s := range []Side{Client, Server} {
					h := r.Half(s)
					d := dir{r.Endpoint(s), r.Endpoint(s.Other()), h.Packets, h.WireBytes}
					k := [2]netip.AddrPort{d.from, d.to}
					ours[k] = append(ours[k], d)
				}
			}
			check := func(from, to netip.AddrPort, frames uint64, bytes, unit float64) {
				ds := ours[[2]netip.AddrPort{from, to}]
				if frames == 0 && len(ds) == 0 {
					return
				}
				i := slices.IndexFunc(ds, func(d dir) bool {
					return d.frames == frames && bytesMatch(float64(d.bytes), bytes, unit)
				})
				if i < 0 {
					t.Errorf("%s > %s: tshark counts %d frames, %.0f bytes; flowdoc has %v", from, to, frames, bytes, fmtDirs(ds))
					return
				}
				ours[[2]netip.AddrPort{from, to}] = slices.Delete(ds, i, i+1)
			}
			for _, c := range want {
				check(c.a, c.b, c.framesAB, c.bytesAB, c.unitAB)
				check(c.b, c.a, c.framesBA, c.bytesBA, c.unitBA)
			}
			for k, ds := range ours {
				for _, d := range ds {
					if d.frames > 0 {
						t.Errorf("%s > %s: flowdoc counts %d frames that tshark has not", k[0], k[1], d.frames)
					}
				}
			}
		})
	}
}

// bytesMatch compares a byte count with tshark's printed one: exact in
// bytes; a larger one is truncated to whole kB or MB (taken as 1000 or
// 1024 bytes, whichever tshark used).
func bytesMatch(got, printed, unit float64) bool {
	if unit == 1 {
		return got == printed
	}
	lo := printed
	hi := (printed/unit + 1) * unit * 1.024
	return got >= lo && got < hi && math.Abs(got-printed) < 2*unit*1.024
}

func fmtDirs[T any](ds []T) string {
	var b strings.Builder
	for _, d := range ds {
		fmt.Fprintf(&b, "%v ", d)
	}
	return b.String()
}

// TestTsharkIPBytes checks the IP bytes and packets of every direction
// (summed over the flows of each 4-tuple) against tshark's sums of ip.len
// and ipv6.plen, written by testdata/lab/ipbytes.sh.
func TestTsharkIPBytes(t *testing.T) {
	for tf, capture := range sidecars(t, ".ipbytes") {
		t.Run(filepath.Base(capture), func(t *testing.T) {
			data, err := os.ReadFile(tf)
			if err != nil {
				t.Fatal(err)
			}
			type sums struct{ packets, ipBytes uint64 }
			want := map[string]sums{}
			for _, line := range strings.Split(strings.TrimSpace(string(data)), "\n") {
				fl := strings.Fields(line)
				if len(fl) != 6 {
					t.Fatalf("%s: bad line %q", tf, line)
				}
				from := netip.AddrPortFrom(netip.MustParseAddr(fl[0]), uint16(atou(t, fl[1])))
				to := netip.AddrPortFrom(netip.MustParseAddr(fl[2]), uint16(atou(t, fl[3])))
				want[from.String()+" > "+to.String()] = sums{atou(t, fl[4]), atou(t, fl[5])}
			}
			got := map[string]sums{}
			res := analyzeFile(t, capture, Config{})
			for _, r := range res.Flows {
				for _, s := range []Side{Client, Server} {
					if h := r.Half(s); h.Packets > 0 {
						k := r.Endpoint(s).String() + " > " + r.Endpoint(s.Other()).String()
						g := got[k]
						got[k] = sums{g.packets + h.Packets, g.ipBytes + h.IPBytes}
					}
				}
			}
			if len(got) != len(want) {
				t.Errorf("%d directions, tshark has %d", len(got), len(want))
			}
			for k, w := range want {
				if got[k] != w {
					t.Errorf("%s: %d packets, %d IP bytes; tshark: %d, %d", k, got[k].packets, got[k].ipBytes, w.packets, w.ipBytes)
				}
			}
		})
	}
}
