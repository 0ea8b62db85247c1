package analyze

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/flowdoc/flowdoc/flow"
	"github.com/flowdoc/flowdoc/flow/capture"
)

// labExpect is what a lab scenario must produce: each flow's verdicts
// ("class(side)" in order, counted), and the findings ("severity class
// flows", in order).
type labExpect struct {
	flows    map[string]int
	findings []string
	options  Options
	// says are phrases the findings must hold (summaries, remedies and
	// evidence): what the payload adds.
	says []string
}

var labExpectations = map[string]labExpect{
	"http-keepalive": {
		flows: map[string]int{
			"close_wait_leak(client) idle_timeout_close(server)": 4,
			"time_wait(client) clean(client)":                    3,
		},
		findings: []string{"error close_wait_leak 4", "warning idle_timeout_close 4"},
		says: []string{
			"The last response on every leaked connection was an error (404 ×2, 503 ×2), while the 3 connections it closed got 200 ×3: the client releases connections only after a success.",
			"404 Not Found in answer to GET /status/404",
			"Release the connection on error responses too",
			"Its responses advertised it (Keep-Alive: timeout=2).",
		},
	},
	"http-stale": {
		flows: map[string]int{
			"stale_reuse_reset(client) idle_timeout_close(server)": 1,
		},
		findings: []string{"warning stale_reuse_reset 1", "warning idle_timeout_close 1"},
		says: []string{
			"10.99.1.1 sent requests (POST /orders) on 1 connection",
			"POST /orders from client on the closed connection",
			"Its responses advertised Keep-Alive: timeout=5, but it closed after 2.0 s",
		},
	},
	"http-pipeline": {
		flows:    map[string]int{"time_wait(client) clean(client)": 1},
		findings: []string{},
	},
	"http-lossy": {
		flows:    map[string]int{"time_wait(client) clean(client)": 1},
		findings: []string{},
	},
	"http-close": {
		flows:    map[string]int{"connection_close_ignored(client) reset(server)": 1},
		findings: []string{"warning connection_close_ignored 1"},
		says:     []string{"200 OK with Connection: close", "GET /3 on the same connection"},
	},
	"tls": {
		flows:    map[string]int{"reset(client)": 2},
		findings: []string{},
	},
	"accept-close": {
		flows: map[string]int{
			"accept_then_close(server)": 25,
		},
		findings: []string{"error reconnect_storm 25"},
	},
	"clean": {
		flows: map[string]int{
			"idle_timeout_close(server) time_wait(server) clean(server)": 2,
			"open(client)":                    2,
			"reset(client)":                   1,
			"time_wait(client) clean(client)": 4,
		},
		findings: []string{"info idle_timeout_close 2"},
	},
	"half-close": {
		flows: map[string]int{
			"half_close_ok(client) time_wait(client) clean(client)": 3,
		},
		findings: []string{},
	},
	"ipv6": {
		flows: map[string]int{
			"close_wait_leak(client) idle_timeout_close(server)": 3,
			"time_wait(client) clean(client)":                    3,
		},
		findings: []string{"error close_wait_leak 3", "warning idle_timeout_close 3"},
	},
	"keepalive-leak": {
		flows: map[string]int{
			"close_wait_leak(client) idle_timeout_close(server)": 6,
		},
		findings: []string{"error close_wait_leak 6", "warning idle_timeout_close 6"},
	},
	"keepalive": {
		flows: map[string]int{
			"open(client)": 2,
		},
		findings: []string{"info tcp_keepalive 1"},
	},
	"listen-overflow": {
		flows: map[string]int{
			"listen_overflow(server)": 3,
			"open(client)":            2,
		},
		findings: []string{"error listen_overflow 3"},
	},
	"midstream": {
		flows: map[string]int{
			"close_wait_leak(client) midstream(client)": 4,
		},
		findings: []string{"error close_wait_leak 4"},
	},
	"non200-leak": {
		flows: map[string]int{
			"close_wait_leak(client) idle_timeout_close(server)": 4,
			"time_wait(client) clean(client)":                    4,
		},
		findings: []string{"error close_wait_leak 4", "warning idle_timeout_close 4"},
	},
	"proxy-any": {
		flows: map[string]int{
			"close_wait_leak(server) idle_timeout_close(client)": 1,
			"open(client)": 3,
		},
		findings: []string{"error close_wait_leak 1", "warning idle_timeout_close 1"},
	},
	"refused": {
		flows: map[string]int{
			"refused(server)": 3,
		},
		findings: []string{"error refused 3"},
	},
	"stale-reuse": {
		flows: map[string]int{
			"stale_reuse_reset(client) idle_timeout_close(server)": 2,
		},
		findings: []string{"warning stale_reuse_reset 2", "warning idle_timeout_close 2"},
	},
	"timewait-storm": {
		// The lab narrows the client's port range to 40 ports, as its user would tell flowdoc.
		options: Options{PortRange: PortRange{40000, 40039}},
		flows: map[string]int{
			"time_wait(client) clean(client)": 40,
		},
		findings: []string{"error time_wait_pressure 40"},
	},
	"unanswered": {
		flows: map[string]int{
			"unanswered_syn(server)": 2,
		},
		findings: []string{"error unanswered_syn 2"},
	},
	"zero-window": {
		flows: map[string]int{
			"zero_window_stall(server) open(client)": 1,
		},
		findings: []string{"error zero_window_stall 1"},
	},
}

// quiet scenarios: healthy traffic, which must not raise an error or a
// warning.
var quiet = []string{"clean", "half-close", "keepalive"}

// truthAt reads when a lab capture's ground truth was taken.
func truthAt(t *testing.T, path string) time.Time {
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "at "); ok {
			at, err := time.Parse(time.RFC3339Nano, v)
			if err != nil {
				t.Fatal(err)
			}
			return at
		}
	}
	t.Fatalf("%s: no at line", path)
	return time.Time{}
}

func analyzeLab(t *testing.T, path string, at time.Time, opt Options) *Report {
	s, err := capture.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	res, err := flow.Read(context.Background(), []*capture.Source{s}, flow.ReadOptions{Config: flow.Config{At: at}})
	if err != nil {
		t.Fatal(err)
	}
	return Build(res, opt)
}

// TestLabVerdicts holds every flow of every lab capture to the verdicts
// its scenario calls for, and every scenario to its findings, as they
// stand when the ground truth was taken.
func TestLabVerdicts(t *testing.T) {
	truths, _ := filepath.Glob("../testdata/*.truth")
	if len(truths) != len(labExpectations) {
		t.Errorf("%d lab captures, %d with expectations", len(truths), len(labExpectations))
	}
	for _, tp := range truths {
		name := strings.TrimSuffix(filepath.Base(tp), ".truth")
		t.Run(name, func(t *testing.T) {
			want, ok := labExpectations[name]
			if !ok {
				t.Fatal("no expectations for this capture")
			}
			capture := strings.TrimSuffix(tp, ".truth") + ".pcap"
			if _, err := os.Stat(capture); err != nil {
				capture += "ng"
			}
			rep := analyzeLab(t, capture, truthAt(t, tp), want.options)
			got := map[string]int{}
			for _, f := range rep.Flows {
				var vs []string
				for _, v := range f.Verdicts {
					vs = append(vs, fmt.Sprintf("%s(%s)", v.Class, v.Side))
					if v.Summary == "" || v.Confidence <= 0 || v.Confidence > 1 {
						t.Errorf("flow %d: %s has summary %q, confidence %v", f.ID, v.Class, v.Summary, v.Confidence)
					}
				}
				got[strings.Join(vs, " ")]++
			}
			for k, n := range want.flows {
				if got[k] != n {
					t.Errorf("%d flows with verdicts %q, want %d", got[k], k, n)
				}
			}
			for k, n := range got {
				if _, ok := want.flows[k]; !ok {
					t.Errorf("%d unexpected flows with verdicts %q", n, k)
				}
			}
			var findings []string
			var said strings.Builder
			for _, f := range rep.Findings {
				said.WriteString(f.Summary + "\n" + f.Remedy + "\n")
				for _, e := range f.Evidence {
					said.WriteString(e.What + "\n")
				}
				findings = append(findings, fmt.Sprintf("%s %s %d", f.Severity, f.Class, len(f.Flows)))
				if f.Summary == "" || f.Remedy == "" {
					t.Errorf("finding %s without summary or remedy", f.Class)
				}
				if f.Severity > Info && len(f.Evidence) == 0 && f.Class != TimeWaitPressure {
					t.Errorf("finding %s cites no packet", f.Class)
				}
				if slices.Contains(quiet, name) && f.Severity > Info {
					t.Errorf("healthy traffic raised %s %s: %s", f.Severity, f.Class, f.Summary)
				}
			}
			if !slices.Equal(findings, want.findings) {
				t.Errorf("findings %q, want %q", findings, want.findings)
			}
			for _, phrase := range want.says {
				if !strings.Contains(said.String(), phrase) {
					t.Errorf("the findings do not say %q; they say:\n%s", phrase, said.String())
				}
			}
		})
	}
}
