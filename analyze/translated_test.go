package analyze

import (
	"encoding/binary"
	"fmt"
	"net/netip"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gopacket/gopacket"
)

// translate writes the Ethernet/IPv4 capture at path with each packet to
// or from server also captured under vip instead (a Kubernetes service's
// virtual address in front of it): the client's packets first to vip,
// then, after, to server (DNAT on the way in); the server's first from
// server, then from vip. shift moves the copies in time: 20 µs is a
// translation; seconds, the same conversation replayed.
func translate(t *testing.T, path string, server, vip netip.AddrPort, shift time.Duration) string {
	out := filepath.Join(t.TempDir(), "nat-"+filepath.Base(path))
	s4, v4 := server.Addr().As4(), vip.Addr().As4()
	rewrite(t, path, out, func(_ int, data []byte, ci gopacket.CaptureInfo, write func(gopacket.CaptureInfo, []byte)) {
		ip := data[14:]
		if len(data) < 54 || binary.BigEndian.Uint16(data[12:]) != 0x0800 || ip[9] != 6 {
			write(ci, data)
			return
		}
		tcp := ip[int(ip[0]&15)*4:]
		copied := slices.Clone(data)
		cip, ctcp := copied[14:], copied[14+int(ip[0]&15)*4:]
		toServer := [4]byte(ip[16:20]) == s4 && binary.BigEndian.Uint16(tcp[2:]) == server.Port()
		fromServer := [4]byte(ip[12:16]) == s4 && binary.BigEndian.Uint16(tcp[0:]) == server.Port()
		switch {
		case toServer:
			copy(cip[16:20], v4[:])
			binary.BigEndian.PutUint16(ctcp[2:], vip.Port())
		case fromServer:
			copy(cip[12:16], v4[:])
			binary.BigEndian.PutUint16(ctcp[0:], vip.Port())
		}
		later := ci
		later.Timestamp = ci.Timestamp.Add(shift)
		first, second := copied, data               // the client's: to the virtual address first
		if fromServer || shift > time.Millisecond { // a replay: the copy is the later conversation
			first, second = data, copied
		}
		write(ci, first)
		write(later, second)
	})
	return out
}

// TestTranslatedCopies: a capture that holds each connection before and
// after an address translation (tcpdump -i any on a Kubernetes node: a
// pod's connections to a service, on both veths) counts each once. The
// leak is 6 connections, not 12; the host table holds the client and the
// real server, not the virtual address; the copies are listed, each
// naming its flow.
func TestTranslatedCopies(t *testing.T) {
	const leak = "../testdata/keepalive-leak.pcap"
	server, vip := netip.MustParseAddrPort("10.99.1.2:8080"), netip.MustParseAddrPort("10.96.0.10:80")
	once := analyzeFile(t, leak)
	rep := analyzeFile(t, translate(t, leak, server, vip, 20*time.Microsecond))
	if rep.Totals.Flows != once.Totals.Flows || rep.Totals.Translated != once.Totals.Flows || len(rep.Flows) != 2*len(once.Flows) {
		t.Fatalf("%d flows listed, %d counted, %d translated; want %d counted and as many translated", len(rep.Flows), rep.Totals.Flows, rep.Totals.Translated, once.Totals.Flows)
	}
	for _, f := range rep.Flows {
		i := slices.IndexFunc(f.Verdicts, func(v Verdict) bool { return v.Class == TranslatedClass })
		switch {
		case f.Key.Server() == vip && (f.CopyOf != 0 || i >= 0):
			t.Errorf("flow %d to the virtual address, seen first: copy of %d, verdicts %v", f.ID, f.CopyOf, f.Verdicts)
		case f.Key.Server() == server && (f.CopyOf != f.ID-1 || i < 0 || !strings.Contains(f.Verdicts[i].Summary, "the same connection as flow")):
			t.Errorf("flow %d behind the translation: copy of %d, verdicts %v; want a copy of flow %d", f.ID, f.CopyOf, f.Verdicts, f.ID-1)
		}
	}
	rows := map[netip.Addr][]int{}
	for _, h := range rep.StateTable().Hosts {
		rows[h.Host] = h.Counts
	}
	want := map[netip.Addr][]int{}
	for _, h := range once.StateTable().Hosts {
		want[h.Host] = h.Counts
	}
	if len(rows) != len(want) || !slices.Equal(rows[server.Addr()], want[server.Addr()]) || !slices.Equal(rows[netip.MustParseAddr("10.99.1.1")], want[netip.MustParseAddr("10.99.1.1")]) {
		t.Errorf("host table %v; want %v: the client, and the server behind the virtual address", rows, want)
	}
	if a, b := findingsOf(rep), findingsOf(once); !slices.Equal(a, b) {
		t.Errorf("findings %v; want %v", a, b)
	}
	i := slices.IndexFunc(rep.Findings, func(f Finding) bool { return f.Class == IdleTimeoutClose })
	if i < 0 || !strings.Contains(rep.Findings[i].Summary, "captured again behind an address translation (NAT), to 10.99.1.2:8080") {
		t.Errorf("idle_timeout_close finding %v: want it to name the server behind the virtual address", rep.Findings)
	}
	// The same conversations replayed 3 s later under other addresses (a
	// load test replaying a recording) are connections of their own.
	replay := analyzeFile(t, translate(t, leak, server, vip, 3*time.Second))
	if replay.Totals.Translated != 0 || replay.Totals.Flows != 2*once.Totals.Flows {
		t.Errorf("replayed 3 s later: %d counted, %d translated; want %d, none", replay.Totals.Flows, replay.Totals.Translated, 2*once.Totals.Flows)
	}
}

// TestRealTranslations: tcpdump -i any in a router namespace, nginx
// behind it with keepalive_timeout 2s, a Python client that leaks 6
// keep-alive connections and closes 4 (testdata/nat: lab.sh, ground
// truth in the .md files). Once through a DNAT of a virtual address to
// nginx, once masqueraded on the way out: every packet twice, under other
// addresses. ss at the end: the client holds 6 CLOSE-WAIT and 4
// TIME-WAIT sockets, nginx 6 FIN-WAIT-2; the router's address is
// 10.77.2.1.
func TestRealTranslations(t *testing.T) {
	client, server := netip.MustParseAddr("10.77.1.2"), netip.MustParseAddr("10.77.2.2")
	for _, c := range []struct {
		file  string
		local netip.Addr
	}{
		{"dnat-leak.pcap", netip.MustParseAddr("10.77.9.9")}, // the virtual address, answered for by the router
		{"snat-masquerade.pcap", netip.MustParseAddr("10.77.2.1")},
	} {
		t.Run(c.file, func(t *testing.T) {
			rep := analyzeFile(t, "../testdata/nat/"+c.file)
			if rep.Totals.Flows != 10 || rep.Totals.Translated != 10 {
				t.Errorf("%d connections, %d translated; want 10 each", rep.Totals.Flows, rep.Totals.Translated)
			}
			st := rep.StateTable()
			got := map[netip.Addr]map[string]int{}
			for _, h := range st.Hosts {
				got[h.Host] = map[string]int{}
				for i, n := range h.Counts {
					if n > 0 {
						got[h.Host][st.States[i]] = n
					}
				}
			}
			want := map[netip.Addr]map[string]int{
				client: {"CLOSE_WAIT": 6, "TIME_WAIT": 4},
				server: {"FIN_WAIT_2": 6, "CLOSED": 4},
			}
			if fmt.Sprint(got) != fmt.Sprint(want) {
				t.Errorf("host table %v; want %v (ss)", got, want)
			}
			i := slices.IndexFunc(rep.Findings, func(f Finding) bool { return f.Class == CloseWaitLeak })
			if i < 0 || len(rep.Findings[i].Flows) != 6 || !slices.Equal(rep.Findings[i].Hosts, []netip.Addr{client}) {
				t.Errorf("findings %v; want a close_wait_leak of 6 connections on %s", findingsOf(rep), client)
			}
			// Narrowed to the address only the copies have (the server
			// behind the virtual one, the masquerade), the report keeps
			// the copies, counted as the connections, and the findings
			// about them (made from the flows they copy).
			behind := server
			if c.local != netip.MustParseAddr("10.77.9.9") {
				behind = c.local
			}
			only := rep.Filtered(Filter{Host: behind})
			if w, ok := only.Worst(); !ok || w != Error || only.Totals.Flows != 10 || only.Totals.Translated != 0 {
				t.Errorf("--host %s: findings %v, %d connections, %d translated; want the leak, 10, 0", behind, findingsOf(only), only.Totals.Flows, only.Totals.Translated)
			}
			// With --min-severity too, the copies are listed by their
			// originals' verdicts: the 6 leaked connections.
			if worse := rep.Filtered(Filter{Host: behind, MinSeverity: Warning}); worse.Totals.Flows != 6 || len(worse.Flows) != 6 {
				t.Errorf("--host %s --min-severity warning: %d connections, %d flows listed; want the 6 leaked", behind, worse.Totals.Flows, len(worse.Flows))
			}
			for _, f := range rep.Flows {
				if f.CopyOf != 0 && (len(f.Verdicts) != 1 || f.Verdicts[0].Class != TranslatedClass) {
					t.Errorf("copy %d: verdicts %v; want translated only", f.ID, f.Verdicts)
				}
			}
			if !slices.Equal(rep.LocalAddrs, []netip.Addr{c.local}) {
				t.Errorf("local addresses %v; want %v: the host forwards the others' packets", rep.LocalAddrs, c.local)
			}
		})
	}
}

// TestTranslationsTold: refusals through a DNAT are paired by the
// client's ISN (no server ISN: the RST); two connections with the same
// fixed ISNs that end otherwise (a tool that does not choose them) are
// two.
func TestTranslationsTold(t *testing.T) {
	const refused = "../testdata/refused.pcap"
	once := analyzeFile(t, refused)
	var server netip.AddrPort
	for _, f := range once.Flows {
		server = f.Key.Server()
	}
	rep := analyzeFile(t, translate(t, refused, server, netip.MustParseAddrPort("10.96.0.11:80"), 20*time.Microsecond))
	if rep.Totals.Flows != once.Totals.Flows || rep.Totals.Translated != once.Totals.Flows {
		t.Errorf("refused through a DNAT: %d connections, %d translated; want %d each", rep.Totals.Flows, rep.Totals.Translated, once.Totals.Flows)
	}
	if a, b := findingsOf(rep), findingsOf(once); !slices.Equal(a, b) {
		t.Errorf("refused through a DNAT: findings %v; want %v", a, b)
	}
	clean := conv{cport: 40000, server: "10.0.0.2:80", fixedISN: true, segs: join(open(0), exchange(0.01, 100, 200),
		[]seg{{0.05, true, "FA", 0, -1}, {0.051, false, "FA", 0, -1}, {0.052, true, "A", 0, -1}})}
	reset := conv{cport: 40001, server: "10.0.0.2:80", fixedISN: true, segs: join(open(0.005), exchange(0.015, 100, 200),
		[]seg{{0.055, false, "R", 0, -1}})}
	two := analyzeFile(t, craft(t, clean, reset))
	if two.Totals.Flows != 2 || two.Totals.Translated != 0 {
		t.Errorf("two connections with the same ISNs: %d connections, %d translated; want 2, none", two.Totals.Flows, two.Totals.Translated)
	}
}

// TestTranslationLegs: crafted captures of two harder cases.
//   - masquerade-cooked-v1.pcap: a Docker host's masquerade captured with
//     tcpdump -i any in Linux cooked v1, which records no interface: the
//     pod's pure ACKs and RSTs (IPv4 identification 0), seen on the veth
//     and the bridge, stay twice in the inner flows, which still pair
//     with the outer ones (3 connections, the server resets them);
//   - refused-dnat-snat.pcap: connects to a service refused behind a
//     DNAT and a SNAT, three legs each (4 connections).
func TestTranslationLegs(t *testing.T) {
	for file, conns := range map[string]int{"masquerade-cooked-v1.pcap": 3, "refused-dnat-snat.pcap": 4} {
		rep := analyzeFile(t, "../testdata/nat/"+file)
		if rep.Totals.Flows != conns || rep.Totals.Translated != len(rep.Flows)-conns {
			t.Errorf("%s: %d connections, %d translated of %d flows; want %d connections", file, rep.Totals.Flows, rep.Totals.Translated, len(rep.Flows), conns)
		}
		for _, f := range rep.Findings {
			if f.Connections() > conns {
				t.Errorf("%s: finding %s of %d connections; want %d at most", file, f.Class, f.Connections(), conns)
			}
		}
	}
}

// TestRefusedProbesNotPaired: two probes of one host's ports from one
// source port with one ISN (a scanner's), both refused, are two
// connections: a translation changes an address.
func TestRefusedProbesNotPaired(t *testing.T) {
	probe := func(port string, at float64) conv {
		return conv{cport: 40000, client: "10.0.9.9", server: "10.0.0.2:" + port, fixedISN: true,
			segs: []seg{{at, true, "S", 0, -1}, {at + 0.0001, false, "RA", 0, -1}}}
	}
	rep := analyzeFile(t, craft(t, probe("22", 0), probe("23", 0.0005)))
	if rep.Totals.Flows != 2 || rep.Totals.Translated != 0 {
		t.Errorf("two refused probes: %d connections, %d translated; want 2, none", rep.Totals.Flows, rep.Totals.Translated)
	}
}
