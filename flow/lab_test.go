package flow

import (
	"bufio"
	"context"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/flowdoc/flowdoc/flow/capture"
)

// truth is what `ss -tan` showed on each lab host when a capture ended.
type truth struct {
	scenario string
	at       time.Time
	hostOf   map[netip.Addr]string                  // address -> host
	sockets  map[string]map[[2]netip.AddrPort]State // host -> (local, peer) -> state
}

// ssStates maps ss's state names to flowdoc's.
var ssStates = map[string]State{
	"ESTAB": Established, "SYN-SENT": SynSent, "SYN-RECV": SynRecv, "FIN-WAIT-1": FinWait1,
	"FIN-WAIT-2": FinWait2, "CLOSE-WAIT": CloseWait, "CLOSING": Closing, "LAST-ACK": LastAck,
	"TIME-WAIT": TimeWait,
}

func readTruth(t testing.TB, path string) *truth {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	tr := &truth{hostOf: map[netip.Addr]string{}, sockets: map[string]map[[2]netip.AddrPort]State{}}
	host := ""
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		fields := strings.Fields(line)
		if len(fields) == 0 || strings.HasPrefix(line, "#") {
			continue
		}
		switch fields[0] {
		case "scenario":
			tr.scenario = fields[1]
		case "at":
			if tr.at, err = time.Parse(time.RFC3339Nano, fields[1]); err != nil {
				t.Fatalf("%s:%d: %v", path, n, err)
			}
		case "host":
			host = fields[1]
			tr.sockets[host] = map[[2]netip.AddrPort]State{}
			for _, a := range fields[2:] {
				tr.hostOf[netip.MustParseAddr(a)] = host
			}
		default:
			if fields[0] == "LISTEN" {
				continue
			}
			st, ok := ssStates[fields[0]]
			if !ok || len(fields) < 5 || host == "" {
				t.Fatalf("%s:%d: unexpected line %q", path, n, line)
			}
			local, err1 := netip.ParseAddrPort(fields[3])
			peer, err2 := netip.ParseAddrPort(fields[4])
			if err1 != nil || err2 != nil {
				t.Fatalf("%s:%d: %v %v", path, n, err1, err2)
			}
			tr.sockets[host][[2]netip.AddrPort{local, peer}] = st
		}
	}
	return tr
}

// labCaptures lists the lab captures with their truth files.
func labCaptures(t testing.TB) map[string]string {
	t.Helper()
	truths, _ := filepath.Glob("../testdata/*.truth")
	if len(truths) == 0 {
		t.Fatal("no lab captures in ../testdata")
	}
	out := map[string]string{}
	for _, tp := range truths {
		base := strings.TrimSuffix(tp, ".truth")
		for _, ext := range []string{".pcap", ".pcapng", ".pcap.gz"} {
			if _, err := os.Stat(base + ext); err == nil {
				out[base+ext] = tp
			}
		}
		if _, ok := out[base+".pcap"]; !ok {
			if _, ok := out[base+".pcapng"]; !ok {
				t.Fatalf("%s has no capture next to it", tp)
			}
		}
	}
	return out
}

func analyzeFile(t testing.TB, path string, cfg Config) *Result {
	t.Helper()
	s, err := capture.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	res, err := Read(context.Background(), []*capture.Source{s}, ReadOptions{Config: cfg})
	if err != nil {
		t.Fatal(err)
	}
	return res
}

// labExceptions are the endpoints where a capture cannot agree with ss,
// each with its reason. Keyed by scenario and "client"/"server" endpoint.
var labExceptions = map[string]string{}

// TestLabStatesMatchSS is the standard flowdoc is held to: on real
// traffic, each endpoint's state at the end of the capture is what ss
// showed on its host.
func TestLabStatesMatchSS(t *testing.T) {
	for capture, truthPath := range labCaptures(t) {
		t.Run(filepath.Base(capture), func(t *testing.T) {
			tr := readTruth(t, truthPath)
			res := analyzeFile(t, capture, Config{At: tr.at})
			if len(res.Flows) == 0 {
				t.Fatal("no flows")
			}
			seen := map[string]map[[2]netip.AddrPort]bool{}
			for i := range res.Flows {
				r := res.Flows[i]
				for _, s := range []Side{Client, Server} {
					local, peer := r.Endpoint(s), r.Endpoint(s.Other())
					host, ok := tr.hostOf[local.Addr()]
					if !ok {
						continue
					}
					want, ok := tr.sockets[host][[2]netip.AddrPort{local, peer}]
					if !ok {
						want = Closed
					}
					if seen[host] == nil {
						seen[host] = map[[2]netip.AddrPort]bool{}
					}
					seen[host][[2]netip.AddrPort{local, peer}] = true
					got := r.Half(s).State
					if got == want {
						continue
					}
					key := fmt.Sprintf("%s %s %s", tr.scenario, r.Key, s)
					if why, ok := labExceptions[key]; ok {
						t.Logf("flow %d %s: %s is %s, ss says %s: known exception: %s", r.ID, r.Key, s, got, want, why)
						continue
					}
					t.Errorf("flow %d %s (history %s): %s on %s is %s, ss says %s", r.ID, r.Key, r.History, s, host, got, want)
				}
			}
			// Every socket ss listed between lab hosts was in the capture.
			for host, socks := range tr.sockets {
				for sock, st := range socks {
					if _, ours := tr.hostOf[sock[1].Addr()]; !ours {
						continue
					}
					if !seen[host][sock] {
						t.Errorf("ss on %s shows %s %s > %s, but the capture has no such flow", host, st, sock[0], sock[1])
					}
				}
			}
		})
	}
}
