package cmd

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"unicode/utf8"
)

// buildFlowdoc builds the binary, for tests that need a process of its
// own (a terminal, other credentials).
func buildFlowdoc(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "flowdoc")
	if out, err := exec.Command(goTool(t), "build", "-o", bin, "./flowdoc").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// goTool is the go command: go test puts its own toolchain's first on the
// PATH.
func goTool(t *testing.T) string {
	t.Helper()
	goBin, err := exec.LookPath("go")
	if err != nil {
		t.Fatalf("the go command is not on PATH: %v", err)
	}
	return goBin
}

var ansi = regexp.MustCompile("\x1b\\[[0-9;]*m")

// TestTerminal runs flowdoc on a real pseudo-terminal of 80 columns (with
// script(1)): the report is coloured and fits, unless NO_COLOR is set or
// --color never is given; piped, it never is coloured.
func TestTerminal(t *testing.T) {
	if _, err := exec.LookPath("script"); err != nil {
		t.Skip("script(1) not installed (util-linux): no pseudo-terminal to test on")
	}
	bin := buildFlowdoc(t)
	capture, _ := filepath.Abs("../testdata/keepalive-leak.pcap")
	onTTY := func(env, flags string) string {
		t.Helper()
		c := exec.Command("script", "-qec", "stty cols 80 && "+env+" "+bin+" analyze --all "+flags+" "+capture, "/dev/null")
		c.Env = append(os.Environ(), "TERM=xterm")
		out, err := c.Output()
		if err != nil {
			t.Fatalf("%s: %v\n%s", c, err, out)
		}
		return strings.ReplaceAll(string(out), "\r\n", "\n")
	}

	out := onTTY("env -u NO_COLOR", "")
	if !ansi.MatchString(out) {
		t.Errorf("no colour on a terminal:\n%s", out)
	}
	for _, line := range strings.Split(ansi.ReplaceAllString(out, ""), "\n") {
		if utf8.RuneCountInString(line) > 80 && !strings.HasPrefix(line, "/") {
			t.Errorf("line wider than the 80-column terminal: %q", line)
		}
	}
	if !strings.Contains(out, "\n    history ShADadf, close_wait_leak(client)") {
		t.Errorf("flow notes not moved below their flow on a narrow terminal:\n%s", out)
	}
	if out := onTTY("NO_COLOR=1", ""); ansi.MatchString(out) {
		t.Errorf("colour with NO_COLOR set:\n%q", out)
	}
	if out := onTTY("env -u NO_COLOR", "--color never"); ansi.MatchString(out) {
		t.Errorf("colour with --color never:\n%q", out)
	}

	piped, err := exec.Command(bin, "analyze", capture).Output()
	if err != nil {
		t.Fatal(err)
	}
	if ansi.Match(piped) {
		t.Errorf("colour when piped")
	}
	forced, _ := exec.Command(bin, "analyze", "--color", "always", capture).Output()
	if !ansi.Match(forced) {
		t.Errorf("no colour with --color always")
	}
}
