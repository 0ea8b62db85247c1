package cmd

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"
	"unicode/utf8"
)

var netnsSeq atomic.Int32

// netns makes a network namespace of the test's own, flowdoc-cli- and a
// unique suffix, with its loopback up; it is deleted when the test ends
// (after the processes started in it, by startIn, are killed). It skips
// the test where namespaces cannot be made (not root, no ip(8)).
func netns(t *testing.T) string {
	t.Helper()
	ip, err := exec.LookPath("ip")
	if os.Geteuid() != 0 || err != nil {
		t.Skip("network namespaces need root and ip(8)")
	}
	name := fmt.Sprintf("flowdoc-cli-%d-%d", os.Getpid(), netnsSeq.Add(1))
	if out, err := exec.Command(ip, "netns", "add", name).CombinedOutput(); err != nil {
		t.Skipf("cannot make a network namespace: %v %s", err, out)
	}
	t.Cleanup(func() { exec.Command(ip, "netns", "del", name).Run() })
	if out, err := exec.Command(ip, "netns", "exec", name, ip, "link", "set", "lo", "up").CombinedOutput(); err != nil {
		t.Fatalf("lo up in %s: %v %s", name, err, out)
	}
	return name
}

// startIn runs a program in namespace ns until the test ends, and
// returns its pid (ip netns exec becomes the program).
func startIn(t *testing.T, ns string, bin string, args ...string) int {
	t.Helper()
	c := exec.Command("ip", append([]string{"netns", "exec", ns, bin}, args...)...)
	c.Stderr = os.Stderr
	if err := c.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Process.Kill(); c.Wait() })
	return c.Process.Pid
}

// TestLiveViewInTerminal runs flowdoc live in a real terminal of 80×24
// (a tmux session of its own) in a network namespace of its own, while a
// client leaks keep-alive connections and another makes a bounded churn
// of healthy ones. Every frame of the view fits the terminal (no line
// wraps) and names the leaking process; no frame is left in the
// terminal's scrollback; after the capture the screen says where the
// report went (the capture ends with Ctrl-C, typed in the terminal).
func TestLiveViewInTerminal(t *testing.T) {
	tmux, err := exec.LookPath("tmux")
	if err != nil {
		t.Skip("tmux is not installed (apt-get install tmux): the view is not checked in a terminal")
	}
	canCapture(t)
	ns := netns(t)
	bin, peer := buildFlowdoc(t), livePeer(t)
	dir := t.TempDir()
	report := filepath.Join(dir, "report.txt")
	sock := filepath.Join(dir, "tmux") // a tmux server of the test's own
	tm := func(args ...string) string {
		t.Helper()
		out, err := exec.Command(tmux, append([]string{"-S", sock, "-f", "/dev/null"}, args...)...).Output()
		if err != nil {
			t.Fatalf("tmux %s: %v", strings.Join(args, " "), err)
		}
		return string(out)
	}
	// --duration only bounds the test: Ctrl-C ends the capture.
	shell := fmt.Sprintf("ip netns exec %s %s live -i lo --interval 300ms --duration 40s -o %s; echo flowdoc-exit=$?; sleep 60", ns, bin, report)
	tm("new-session", "-d", "-x", "80", "-y", "24", "-s", "view", "env TERM=xterm-256color "+shell)
	t.Cleanup(func() { exec.Command(tmux, "-S", sock, "kill-server").Run() })
	tm("set-option", "-w", "-t", "view", "remain-on-exit", "on") // the shell may end with Ctrl-C too

	time.Sleep(time.Second) // the capture is open
	startIn(t, ns, peer, "server", "-listen", "127.0.0.1:8080", "-idle", "500ms")
	time.Sleep(200 * time.Millisecond)
	leaker := startIn(t, ns, peer, "client", "-connect", "127.0.0.1:8080", "-n", "5", "-leak", "all")
	startIn(t, ns, peer, "client", "-connect", "127.0.0.1:8080", "-n", "400", "-interval", "10ms")

	// The frames, as the terminal shows them, for five seconds of
	// traffic; then Ctrl-C, and what the terminal shows when flowdoc has
	// ended.
	var frames []string
	interrupted := time.Now().Add(5 * time.Second)
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		// -J joins a line the terminal wrapped: it shows as wider than 80.
		screen := tm("capture-pane", "-p", "-J", "-t", "view")
		if strings.Contains(screen, "flowdoc-exit=") || strings.Contains(screen, "Pane is dead") {
			break
		}
		if strings.Contains(screen, "Ctrl-C stops") {
			frames = append(frames, screen)
			if time.Now().After(interrupted) {
				tm("send-keys", "-t", "view", "C-c")
				interrupted = deadline
			}
		}
		time.Sleep(250 * time.Millisecond)
	}
	if len(frames) < 5 {
		t.Fatalf("%d frames of the view seen", len(frames))
	}
	named := regexp.MustCompile(`pid ` + strconv.Itoa(leaker) + ` \(labpeer\) holds 5 sockets in CLOSE_WAIT to 127\.0\.0\.1:8080`)
	disagreeing := regexp.MustCompile(`Socket table at [0-9:]+: [0-9]+ sockets?, [0-9]+ with packets, ([0-9]+) disagreeing`)
	seen := false
	var flicker []string
	for _, f := range frames {
		lines := strings.Split(strings.TrimRight(f, "\n"), "\n")
		if len(lines) > 24 {
			t.Errorf("a frame of %d lines:\n%s", len(lines), f)
		}
		for _, l := range lines {
			if n := utf8.RuneCountInString(strings.TrimRight(l, " ")); n > 80 {
				t.Errorf("a line of %d columns, wrapped by the terminal: %q", n, l)
			}
			if strings.HasPrefix(l, "  ERROR") && !strings.Contains(l, "close_wait_leak") && !strings.Contains(l, "kernel_close_wait") {
				flicker = append(flicker, l)
			}
		}
		seen = seen || named.MatchString(f)
		// Under churn the table and the packets are read a moment
		// apart: connections that opened or closed in between are no
		// disagreement.
		if m := disagreeing.FindStringSubmatch(f); m == nil || m[1] != "0" {
			t.Errorf("the socket table line is missing or has disagreements:\n%s", f)
		}
	}
	if !seen {
		t.Errorf("no frame names the leaking process (pid %d):\n%s", leaker, frames[len(frames)-1])
	}

	end := tm("capture-pane", "-p", "-J", "-t", "view", "-S", "-")
	t.Logf("a frame of the view:\n%s\nthe terminal after Ctrl-C:\n%s", frames[len(frames)-1], strings.TrimRight(end, "\n"))
	if !strings.Contains(end, "flowdoc: report written to "+report) || !strings.Contains(end, "flowdoc live: ") {
		t.Errorf("after the capture the terminal shows:\n%s", end)
	}
	if strings.Contains(end, "Ctrl-C stops") {
		t.Errorf("a frame of the view is left in the terminal:\n%s", end)
	}
	if b, err := os.ReadFile(report); err != nil || !strings.Contains(string(b), "pid "+strconv.Itoa(leaker)+" (labpeer)") {
		t.Errorf("the report does not name the process: %v\n%s", err, b)
	}
	t.Run("no error flicker on healthy churn", func(t *testing.T) {
		if len(flicker) > 0 {
			t.Errorf("healthy churn showed an ERROR for a refresh: %q", flicker)
		}
	})
}

// TestLiveUnnamedProcess: flowdoc live run as an unprivileged user with
// only the capabilities to capture (as after setcap) cannot name a root
// process's sockets; the report says what naming them takes.
func TestLiveUnnamedProcess(t *testing.T) {
	canCapture(t)
	setpriv, err := exec.LookPath("setpriv")
	if err != nil {
		t.Skip("no setpriv(1): flowdoc cannot be run with capabilities alone")
	}
	ns := netns(t)
	peer := livePeer(t)
	// Where nobody can run it from.
	dir, err := os.MkdirTemp("", "flowdoc-cli-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	os.Chmod(dir, 0o755)
	bin := filepath.Join(dir, "flowdoc")
	if out, err := exec.Command(goTool(t), "build", "-o", bin, "./flowdoc").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	type result struct {
		out []byte
		err error
	}
	done := make(chan result, 1)
	go func() {
		c := exec.Command("ip", "netns", "exec", ns, setpriv, "--reuid=65534", "--regid=65534", "--clear-groups",
			"--inh-caps=+net_raw,+net_admin", "--ambient-caps=+net_raw,+net_admin", bin, "live", "-i", "lo", "--duration", "4s", "-F", "json")
		var stderr strings.Builder
		c.Stderr = &stderr
		out, err := c.Output()
		if err != nil {
			out = append(out, stderr.String()...)
		}
		done <- result{out, err}
	}()
	time.Sleep(time.Second)
	startIn(t, ns, peer, "server", "-listen", "127.0.0.1:8080", "-idle", "500ms")
	time.Sleep(200 * time.Millisecond)
	startIn(t, ns, peer, "client", "-connect", "127.0.0.1:8080", "-n", "3", "-leak", "all")
	r := <-done
	if r.err != nil {
		t.Fatalf("flowdoc as nobody: %v\n%s", r.err, r.out)
	}
	var rep liveJSON
	if err := json.Unmarshal(r.out, &rep); err != nil {
		t.Fatalf("%v\n%s", err, r.out)
	}
	found := false
	for _, f := range rep.Findings {
		if f.Class == "kernel_close_wait" {
			found = true
			if !strings.Contains(f.Summary, "an unknown process holds 3 sockets in CLOSE_WAIT") || !strings.Contains(f.Summary, "naming the process needs root, or CAP_SYS_PTRACE") {
				t.Errorf("kernel_close_wait: %s", f.Summary)
			}
		}
	}
	if !found {
		t.Errorf("no kernel_close_wait finding: %+v", rep.Findings)
	}
}
