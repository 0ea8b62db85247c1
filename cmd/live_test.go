package cmd

import (
	"encoding/json"
	"errors"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/flowdoc/flowdoc/flow/capture"
)

// livePeer builds the lab's traffic program.
func livePeer(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "labpeer")
	if out, err := exec.Command(goTool(t), "build", "-o", bin, "./tools/labpeer").CombinedOutput(); err != nil {
		t.Fatalf("go build peer: %v\n%s", err, out)
	}
	return bin
}

// canCapture skips the test when this process may not capture.
func canCapture(t *testing.T) {
	t.Helper()
	if !capture.LiveAvailable {
		t.Skip("built without libpcap (CGO_ENABLED=0): no live capture")
	}
	c, err := capture.OpenLive(t.Context(), "lo", capture.LiveOptions{Filter: "tcp port 9"}, nil)
	if errors.Is(err, capture.ErrPermission) {
		t.Skipf("no permission to capture (run as root, or with CAP_NET_RAW): %v", err)
	}
	if err != nil {
		t.Skipf("cannot capture on lo: %v", err)
	}
	c.Close()
}

func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// startPeer runs the peer program until the test ends, and returns its pid.
func startPeer(t *testing.T, bin string, args ...string) int {
	t.Helper()
	c := exec.Command(bin, args...)
	c.Stderr = os.Stderr
	if err := c.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Process.Kill(); c.Wait() })
	return c.Process.Pid
}

type liveJSON struct {
	Capture *struct {
		Interface string `json:"interface"`
		Received  int    `json:"received"`
		Dropped   int    `json:"dropped"`
	} `json:"capture"`
	Kernel *struct {
		Disagreements []json.RawMessage `json:"disagreements"`
		Matched       int               `json:"with_packets"`
	} `json:"kernel"`
	Flows []struct {
		ID          int    `json:"id"`
		ClientState string `json:"client_state"`
		ServerState string `json:"server_state"`
		History     string `json:"history"`
		Kernel      *struct {
			Client *struct {
				State string `json:"state"`
				PID   int    `json:"pid"`
			} `json:"client"`
			Server *struct {
				State string `json:"state"`
			} `json:"server"`
		} `json:"kernel"`
	} `json:"flows"`
	Findings []struct {
		Class   string             `json:"class"`
		Summary string             `json:"summary"`
		Metrics map[string]float64 `json:"metrics"`
		Flows   []int              `json:"flows"`
	} `json:"findings"`
}

// TestLiveFindsTheLeakingProcess captures real traffic on loopback: a
// server that closes keep-alive connections idle for 1 s and a client (a
// child process of the test) that never closes them. The live report must
// find the CLOSE_WAIT leak, name the client's pid, and agree with the
// kernel on every endpoint; the packets it wrote (-w) must make the same
// report through analyze.
func TestLiveFindsTheLeakingProcess(t *testing.T) {
	canCapture(t)
	peer := livePeer(t)
	port := freePort(t)
	addr := "127.0.0.1:" + strconv.Itoa(port)
	pcap := filepath.Join(t.TempDir(), "live.pcapng")

	type result struct {
		code           exitCode
		stdout, stderr string
	}
	done := make(chan result, 1)
	go func() {
		code, out, errOut := run(t, "live", "-i", "lo", "-f", "tcp port "+strconv.Itoa(port), "--duration", "5s",
			"--interval", "500ms", "-w", pcap, "-F", "json", "--all")
		done <- result{code, out, errOut}
	}()
	time.Sleep(700 * time.Millisecond) // the capture is open
	startPeer(t, peer, "server", "-listen", addr, "-idle", "1s")
	time.Sleep(200 * time.Millisecond)
	clientPID := startPeer(t, peer, "client", "-connect", addr, "-n", "3", "-leak", "all")
	res := <-done
	if res.code != exitOK {
		t.Fatalf("exit %d\n%s", res.code, res.stderr)
	}
	if !strings.Contains(res.stderr, "flowdoc live: ") || !strings.Contains(res.stderr, "packets written to "+pcap) {
		t.Errorf("no status lines or no -w confirmation on stderr:\n%s", res.stderr)
	}
	var rep liveJSON
	if err := json.Unmarshal([]byte(res.stdout), &rep); err != nil {
		t.Fatalf("%v\n%s", err, res.stdout)
	}
	if rep.Capture == nil || rep.Capture.Interface != "lo" || rep.Capture.Received == 0 || rep.Capture.Dropped != 0 {
		t.Errorf("capture %+v", rep.Capture)
	}
	if len(rep.Flows) != 3 {
		t.Fatalf("%d flows, want 3: %+v", len(rep.Flows), rep.Flows)
	}
	for _, f := range rep.Flows {
		if f.ClientState != "CLOSE_WAIT" || f.ServerState != "FIN_WAIT_2" {
			t.Errorf("flow %d: %s/%s, want CLOSE_WAIT/FIN_WAIT_2 (history %s)", f.ID, f.ClientState, f.ServerState, f.History)
		}
		if f.Kernel == nil || f.Kernel.Client == nil || f.Kernel.Server == nil {
			t.Errorf("flow %d: no kernel view of both ends: %+v", f.ID, f.Kernel)
			continue
		}
		if f.Kernel.Client.State != f.ClientState || f.Kernel.Server.State != f.ServerState {
			t.Errorf("flow %d: kernel %s/%s, inferred %s/%s", f.ID, f.Kernel.Client.State, f.Kernel.Server.State, f.ClientState, f.ServerState)
		}
		if f.Kernel.Client.PID != clientPID {
			t.Errorf("flow %d: the kernel names pid %d for the client, the test started %d", f.ID, f.Kernel.Client.PID, clientPID)
		}
	}
	if rep.Kernel == nil || len(rep.Kernel.Disagreements) != 0 || rep.Kernel.Matched != 6 {
		t.Errorf("kernel %+v", rep.Kernel)
	}
	var leak, kernelLeak bool
	for _, f := range rep.Findings {
		switch f.Class {
		case "close_wait_leak":
			leak = len(f.Flows) == 3 && strings.Contains(f.Summary, "pid "+strconv.Itoa(clientPID)+" (labpeer)")
		case "kernel_close_wait":
			// Other processes on this host may hold CLOSE_WAIT sockets of
			// their own: only the client's finding counts.
			if int(f.Metrics["pid"]) == clientPID {
				kernelLeak = f.Metrics["sockets"] == 3 && f.Metrics["in_capture"] == 3
			}
		}
	}
	if !leak || !kernelLeak {
		t.Errorf("the leak is not found and named (close_wait_leak %v, kernel_close_wait %v): %+v", leak, kernelLeak, rep.Findings)
	}

	// The packets written: analyze makes the same flows and findings of
	// them (the kernel's own findings aside).
	code, out, errOut := run(t, "analyze", "-F", "json", "--all", pcap)
	if code != exitOK {
		t.Fatalf("analyze %s: exit %d\n%s", pcap, code, errOut)
	}
	var again liveJSON
	if err := json.Unmarshal([]byte(out), &again); err != nil {
		t.Fatal(err)
	}
	if len(again.Flows) != len(rep.Flows) {
		t.Fatalf("analyze of the -w file: %d flows, live: %d", len(again.Flows), len(rep.Flows))
	}
	for i := range again.Flows {
		a, b := again.Flows[i], rep.Flows[i]
		if a.ClientState != b.ClientState || a.ServerState != b.ServerState || a.History != b.History {
			t.Errorf("flow %d: analyze %s/%s %s, live %s/%s %s", a.ID, a.ClientState, a.ServerState, a.History, b.ClientState, b.ServerState, b.History)
		}
	}
	var liveClasses, fileClasses []string
	for _, f := range rep.Findings {
		if f.Class != "kernel_close_wait" {
			liveClasses = append(liveClasses, f.Class)
		}
	}
	for _, f := range again.Findings {
		fileClasses = append(fileClasses, f.Class)
	}
	if strings.Join(liveClasses, ",") != strings.Join(fileClasses, ",") {
		t.Errorf("findings: live %v, analyze of the -w file %v", liveClasses, fileClasses)
	}
}

// TestLiveErrors: what live says when it cannot capture.
func TestLiveErrors(t *testing.T) {
	if code, _, errOut := run(t, "live"); code != exitUsage || !strings.Contains(errOut, "no interface given") {
		t.Errorf("no -i: exit %d, %q", code, errOut)
	}
	if !capture.LiveAvailable {
		if code, _, errOut := run(t, "live", "-i", "lo"); code != exitError || !strings.Contains(errOut, "built without libpcap") {
			t.Errorf("static build: exit %d, %q", code, errOut)
		}
		return
	}
	if code, _, errOut := run(t, "live", "-i", "flowdoc-nosuch0", "--duration", "1s"); code != exitError || !strings.Contains(errOut, "flowdoc-nosuch0") {
		t.Errorf("no such interface: exit %d, %q", code, errOut)
	}
	if code, _, errOut := run(t, "live", "-i", "lo", "-f", "tcp port", "--duration", "1s"); code != exitError || !strings.Contains(errOut, "filter") {
		t.Errorf("bad filter: exit %d, %q", code, errOut)
	}

	// Without the right to capture: as nobody, with no capabilities.
	setpriv, err := exec.LookPath("setpriv")
	if os.Geteuid() != 0 || err != nil {
		t.Log("not root, or no setpriv(1): the no-permission case is not tested")
		return
	}
	bin := buildFlowdoc(t)
	c := exec.Command(setpriv, "--reuid=65534", "--regid=65534", "--clear-groups", "--inh-caps=-all", bin, "live", "-i", "lo", "--duration", "1s")
	out, err := c.CombinedOutput()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 1 || !strings.Contains(string(out), "no permission to capture") || !strings.Contains(string(out), "setcap cap_net_raw") {
		t.Errorf("as nobody: %v, %q; want exit 1 and how to grant the capability", err, out)
	}
}
