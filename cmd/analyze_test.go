package cmd

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// run executes flowdoc with args and returns its exit code and outputs.
func run(t *testing.T, args ...string) (exitCode, string, string) {
	t.Helper()
	var out, errOut bytes.Buffer
	root := newRootCmd(&out, &errOut)
	root.SetArgs(args)
	code := execute(context.Background(), root, &errOut)
	return code, out.String(), errOut.String()
}

func TestExitCodes(t *testing.T) {
	dir := t.TempDir()
	notCapture := filepath.Join(dir, "notes.txt")
	os.WriteFile(notCapture, []byte("these are not packets\n"), 0o644)
	empty := filepath.Join(dir, "empty.pcap")
	os.WriteFile(empty, nil, 0o644)
	const good = "../testdata/keepalive-leak.pcap"
	tests := []struct {
		name     string
		args     []string
		code     exitCode
		stderr   string // a substring
		stdout   string // a substring
		noStdout bool
		absent   string // in neither stdout nor stderr
	}{
		{name: "no capture", args: []string{"analyze"}, code: exitUsage, stderr: "no capture given"},
		{name: "unknown flag", args: []string{"analyze", "--bogus", good}, code: exitUsage, stderr: "unknown flag: --bogus"},
		{name: "unknown format", args: []string{"analyze", "-F", "xml", good}, code: exitUsage, stderr: `unknown format "xml"`},
		{name: "bad --at", args: []string{"analyze", "--at", "yesterday", good}, code: exitUsage, stderr: `--at "yesterday"`},
		{name: "stdin twice", args: []string{"analyze", "-", "-"}, code: exitUsage, stderr: "only once"},
		{name: "unknown command", args: []string{"analyse", good}, code: exitUsage, stderr: "unknown command"},
		{name: "missing file", args: []string{"analyze", filepath.Join(dir, "nope.pcap")}, code: exitError, stderr: "nope.pcap: no such file", noStdout: true},
		{name: "not a capture", args: []string{"analyze", notCapture}, code: exitError, noStdout: true, absent: "flow:",
			stderr: `notes.txt: not a pcap or pcapng capture (it begins with "thes": text, not a capture's magic number)`},
		{name: "empty", args: []string{"analyze", empty}, code: exitError, noStdout: true, absent: "flow:",
			stderr: "empty.pcap: not a pcap or pcapng capture (empty or shorter than a capture header)"},
		{name: "a directory", args: []string{"analyze", dir}, code: exitError, noStdout: true, stderr: dir + ": is a directory"},
		{name: "good", args: []string{"analyze", good}, code: exitOK, stdout: "6 TCP connections"},
		{name: "one good, one missing", args: []string{"analyze", good, filepath.Join(dir, "gone.pcap")}, code: exitOK,
			stderr: "gone.pcap: no such file", stdout: "gone.pcap: not read (see the warnings)", absent: " , 0 packets"},
		{name: "none readable", args: []string{"analyze", notCapture, filepath.Join(dir, "gone.pcap")}, code: exitError, noStdout: true,
			stderr: "gone.pcap: no such file\nflowdoc: none of the captures could be read"},
		{name: "version", args: []string{"--version"}, code: exitOK, stdout: "flowdoc version"},
		{name: "no TCP: what it holds, in one line", args: []string{"analyze", "../testdata/decode/no-tcp.pcap"}, code: exitOK,
			stderr: "no-tcp.pcap: no TCP packets among its 12 packets (UDP 9, ICMPv4 3; link type EN10MB)\n"},
		{name: "tunnels", args: []string{"analyze", "../testdata/decode/tunnels.pcap"}, code: exitOK, stdout: "17 TCP connections"},
		{name: "link types", args: []string{"analyze", "../testdata/decode/link-types.pcapng"}, code: exitOK, stdout: "10 TCP connections"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, out, errOut := run(t, tt.args...)
			if code != tt.code {
				t.Errorf("exit %d, want %d\nstderr: %s", code, tt.code, errOut)
			}
			if !strings.Contains(errOut, tt.stderr) {
				t.Errorf("stderr %q, want it to contain %q", errOut, tt.stderr)
			}
			if !strings.Contains(out, tt.stdout) {
				t.Errorf("stdout %q, want it to contain %q", out, tt.stdout)
			}
			// Each error is said once.
			for _, line := range strings.Split(strings.TrimSpace(errOut), "\n") {
				if line != "" && strings.Count(errOut, line) > 1 {
					t.Errorf("stderr says %q more than once: %q", line, errOut)
				}
			}
			if tt.absent != "" && strings.Contains(out+errOut, tt.absent) {
				t.Errorf("%q in the output:\nstdout: %s\nstderr: %s", tt.absent, out, errOut)
			}
			if tt.noStdout && out != "" {
				t.Errorf("stdout %q, want nothing", out)
			}
			if code == exitUsage && !strings.Contains(errOut, "--help") {
				t.Errorf("a usage error should point to --help: %q", errOut)
			}
			if strings.Count(strings.TrimSpace(errOut), "\n") > 5 {
				t.Errorf("errors should be short: %q", errOut)
			}
		})
	}
}

func TestJSONOutputFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "report.json")
	// The format comes from the extension.
	code, out, errOut := run(t, "analyze", "-o", path, "--at", "2026-11-21T17:41:20Z", "../testdata/clean.pcapng")
	if code != exitOK || out != "" {
		t.Fatalf("exit %d, stdout %q, stderr %q", code, out, errOut)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var rep struct {
		Schema     string `json:"schema"`
		CaptureEnd string `json:"capture_end"`
		Flows      []struct {
			ClientState string `json:"client_state"`
		} `json:"flows"`
	}
	if err := json.Unmarshal(b, &rep); err != nil {
		t.Fatal(err)
	}
	if rep.Schema != "flowdoc/v1" || rep.CaptureEnd != "2026-11-21T17:41:20Z" || len(rep.Flows) != 9 {
		t.Errorf("schema %q, end %q, %d flows", rep.Schema, rep.CaptureEnd, len(rep.Flows))
	}
}

func TestStdin(t *testing.T) {
	f, err := os.Open("../testdata/refused.pcap")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	old := os.Stdin
	os.Stdin = f
	defer func() { os.Stdin = old }()
	code, out, errOut := run(t, "analyze", "-")
	if code != exitOK || !strings.Contains(out, "-: pcap EN10MB") || !strings.Contains(out, "3 TCP connections") {
		t.Errorf("exit %d\nstdout %s\nstderr %s", code, out, errOut)
	}
}

func TestHelpHasExamples(t *testing.T) {
	code, out, _ := run(t, "analyze", "--help")
	if code != exitOK || !strings.Contains(out, "Examples:") || !strings.Contains(out, "tcpdump -i any -w -") {
		t.Errorf("exit %d, help:\n%s", code, out)
	}
}

func TestExplain(t *testing.T) {
	code, out, _ := run(t, "explain")
	if code != exitOK || !strings.Contains(out, "close_wait_leak") || !strings.Contains(out, "reconnect_storm") {
		t.Errorf("exit %d, list:\n%s", code, out)
	}
	code, out, _ = run(t, "explain", "close_wait_leak")
	for _, want := range []string{"What it means", "ss -tanp state close-wait", "netstat -ano", "Fix"} {
		if code != exitOK || !strings.Contains(out, want) {
			t.Errorf("exit %d, explain close_wait_leak lacks %q:\n%s", code, want, out)
		}
	}
	code, _, errOut := run(t, "explain", "nonsense")
	if code != exitUsage || !strings.Contains(errOut, `no class "nonsense"`) {
		t.Errorf("exit %d, stderr %q", code, errOut)
	}
}

func TestPortRangeFlag(t *testing.T) {
	code, _, errOut := run(t, "analyze", "--port-range", "60999-32768", "../testdata/refused.pcap")
	if code != exitUsage || !strings.Contains(errOut, "--port-range") {
		t.Errorf("exit %d, stderr %q", code, errOut)
	}
	code, out, _ := run(t, "analyze", "--port-range", "40000-40039", "../testdata/timewait-storm.pcap")
	if code != exitOK || !strings.Contains(out, "time_wait_pressure") || !strings.Contains(out, "ephemeral ports (40000-40039)") {
		t.Errorf("exit %d:\n%s", code, out)
	}
}

func TestFailOn(t *testing.T) {
	tests := []struct {
		args []string
		code exitCode
	}{
		{[]string{"analyze", "--fail-on", "error", "../testdata/keepalive-leak.pcap"}, exitFindings},
		{[]string{"analyze", "--fail-on", "warning", "../testdata/stale-reuse.pcap"}, exitFindings},
		{[]string{"analyze", "--fail-on", "error", "../testdata/stale-reuse.pcap"}, exitOK},
		{[]string{"analyze", "--fail-on", "warning", "../testdata/half-close.pcap"}, exitOK},
		// A filter that leaves the leak out leaves nothing to fail on.
		{[]string{"analyze", "--fail-on", "error", "--port", "9", "../testdata/keepalive-leak.pcap"}, exitOK},
		{[]string{"analyze", "--fail-on", "info", "../testdata/clean.pcapng"}, exitUsage},
	}
	for _, tt := range tests {
		code, _, errOut := run(t, tt.args...)
		if code != tt.code {
			t.Errorf("%v: exit %d, want %d (%s)", tt.args, code, tt.code, errOut)
		}
		if code == exitFindings && !strings.Contains(errOut, "--fail-on") {
			t.Errorf("%v: stderr %q", tt.args, errOut)
		}
	}
}

func TestFilterFlags(t *testing.T) {
	code, out, _ := run(t, "analyze", "--format", "json", "--host", "10.99.1.2", "--verdict", "close_wait_leak", "../testdata/non200-leak.pcap")
	var rep struct {
		Filter   string `json:"filter"`
		Flows    []struct{ Verdicts []struct{ Class string } }
		Findings []struct{ Class string }
	}
	if err := json.Unmarshal([]byte(out), &rep); err != nil || code != exitOK {
		t.Fatalf("exit %d: %v", code, err)
	}
	if rep.Filter != "host 10.99.1.2, verdict close_wait_leak" || len(rep.Flows) != 4 || len(rep.Findings) != 1 || rep.Findings[0].Class != "close_wait_leak" {
		t.Errorf("filter %q, %d flows, findings %v", rep.Filter, len(rep.Flows), rep.Findings)
	}
	for _, bad := range [][]string{{"--host", "nonsense"}, {"--verdict", "nosuch"}, {"--min-severity", "loud"}} {
		code, _, errOut := run(t, append(append([]string{"analyze"}, bad...), "../testdata/refused.pcap")...)
		if code != exitUsage {
			t.Errorf("%v: exit %d (%s)", bad, code, errOut)
		}
	}
}

func TestPayloadFlags(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want int
		ok   bool
	}{
		{"256KiB", 256 << 10, true}, {"4MiB", 4 << 20, true}, {"1g", 1 << 30, true}, {"512k", 512 << 10, true},
		{"1900", 1900, true}, {"64 MB", 64 << 20, true}, {"0", 0, false}, {"-1k", 0, false}, {"KiB", 0, false}, {"lots", 0, false},
	} {
		if n, ok := parseSize(tc.in); n != tc.want || ok != tc.ok {
			t.Errorf("parseSize(%q) = %d, %v; want %d, %v", tc.in, n, ok, tc.want, tc.ok)
		}
	}
	code, _, errOut := run(t, "analyze", "--flow-buffer", "lots", "../testdata/http-close.pcap")
	if code != exitUsage || !strings.Contains(errOut, "--flow-buffer") {
		t.Errorf("bad --flow-buffer: exit %d, %q", code, errOut)
	}
	_, with, _ := run(t, "analyze", "--all", "../testdata/http-close.pcap")
	_, without, _ := run(t, "analyze", "--all", "--no-payload", "../testdata/http-close.pcap")
	if !strings.Contains(with, "GET /3 -> no response") || strings.Contains(without, "GET /") {
		t.Errorf("--no-payload: with payload\n%s\nwithout\n%s", with, without)
	}
}
