package cmd

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/flowdoc/flowdoc/flow/capture"
)

// runWithin is run, failing the test if flowdoc has not returned within
// d: the errors below must come before any capture, not after it.
func runWithin(t *testing.T, d time.Duration, args ...string) (exitCode, string, string) {
	t.Helper()
	type result struct {
		code        exitCode
		out, errOut string
	}
	done := make(chan result, 1)
	go func() {
		code, out, errOut := run(t, args...)
		done <- result{code, out, errOut}
	}()
	select {
	case r := <-done:
		return r.code, r.out, r.errOut
	case <-time.After(d):
		t.Fatalf("flowdoc %s: still running after %s", strings.Join(args, " "), d)
	}
	return 0, "", ""
}

// TestOutputsCheckedFirst: an output flowdoc cannot write is an error at
// once, before the capture (or the read) it would have ended.
func TestOutputsCheckedFirst(t *testing.T) {
	dir := t.TempDir()
	ro := filepath.Join(dir, "ro")
	os.Mkdir(ro, 0o555)
	tests := []struct {
		name string
		args []string
		code exitCode
		want string
	}{
		{"analyze -o in no directory", []string{"analyze", "-o", "/nonexistent/r.json", "../testdata/clean.pcapng"}, exitError,
			"-o /nonexistent/r.json: no directory /nonexistent"},
		{"analyze -o a directory", []string{"analyze", "-o", dir, "../testdata/clean.pcapng"}, exitError, "a directory, not a file"},
		{"live -o in no directory", []string{"live", "-i", "lo", "--duration", "1h", "-o", "/nonexistent/r.json"}, exitError,
			"-o /nonexistent/r.json: no directory /nonexistent"},
		{"live -w in no directory", []string{"live", "-i", "lo", "--duration", "1h", "-w", "/nonexistent/e.pcapng"}, exitError,
			"-w /nonexistent/e.pcapng: no directory /nonexistent"},
		{"live -w a directory", []string{"live", "-i", "lo", "--duration", "1h", "-w", dir}, exitError, "a directory, not a file"},
		{"live -w and -o the same", []string{"live", "-i", "lo", "--duration", "1h", "-w", filepath.Join(dir, "x"), "-o", filepath.Join(dir, "x")}, exitUsage,
			"-w and -o name the same file"},
	}
	if os.Geteuid() != 0 {
		// Root writes anywhere.
		tests = append(tests, struct {
			name string
			args []string
			code exitCode
			want string
		}{"analyze -o unwritable", []string{"analyze", "-o", filepath.Join(ro, "r.txt"), "../testdata/clean.pcapng"}, exitError, "no permission to create a file in " + ro})
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.args[0] == "live" && !capture.LiveAvailable {
				t.Skip("built without libpcap (CGO_ENABLED=0): no live capture")
			}
			code, out, errOut := runWithin(t, 20*time.Second, tt.args...)
			if code != tt.code || !strings.Contains(errOut, tt.want) || out != "" {
				t.Errorf("exit %d, stdout %q, stderr %q; want exit %d and %q", code, out, errOut, tt.code, tt.want)
			}
			if strings.Count(errOut, tt.want) != 1 {
				t.Errorf("said %d times: %q", strings.Count(errOut, tt.want), errOut)
			}
		})
	}
	// A device is not opened to be checked (a pipe would wait for its
	// reader).
	if code, _, errOut := runWithin(t, 20*time.Second, "analyze", "-o", os.DevNull, "../testdata/clean.pcapng"); code != exitOK {
		t.Errorf("-o %s: exit %d, %q", os.DevNull, code, errOut)
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 1 {
		t.Errorf("the checks left files behind: %v", entries)
	}
}

// TestLiveKeepsEvidence: a capture that cannot start leaves an earlier
// file of the -w name as it was (tcpdump opens the interface first too).
func TestLiveKeepsEvidence(t *testing.T) {
	if !capture.LiveAvailable {
		t.Skip("built without libpcap (CGO_ENABLED=0): no live capture")
	}
	dir := t.TempDir()
	evidence := filepath.Join(dir, "evidence.pcapng")
	const precious = "the packets of last night's outage"
	for _, args := range [][]string{
		{"live", "-i", "flowdoc-typo0", "--duration", "1s", "-w", evidence},
		{"live", "-i", "lo", "-f", "tcp port", "--duration", "1s", "-w", evidence},
		{"live", "-i", "flowdoc-typo0", "--duration", "1s", "-w", filepath.Join(dir, "new.pcapng")},
	} {
		if err := os.WriteFile(evidence, []byte(precious), 0o644); err != nil {
			t.Fatal(err)
		}
		code, _, errOut := run(t, args...)
		if code != exitError {
			t.Errorf("%s: exit %d, %q", strings.Join(args, " "), code, errOut)
		}
		if b, err := os.ReadFile(evidence); err != nil || string(b) != precious {
			t.Errorf("%s: the earlier evidence is gone or changed: %q, %v", strings.Join(args, " "), b, err)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "new.pcapng")); err == nil {
		t.Errorf("a capture that never started created its -w file")
	}
}

// TestLiveSaysWhereTheReportWent: with -o, the last thing live says is
// where the report is; the -w file is a pcapng one, as --help says.
func TestLiveSaysWhereTheReportWent(t *testing.T) {
	canCapture(t)
	dir := t.TempDir()
	rep, pcap := filepath.Join(dir, "report.md"), filepath.Join(dir, "packets")
	code, out, errOut := run(t, "live", "-i", "lo", "-f", "tcp port "+strconv.Itoa(freePort(t)), "--duration", "1s", "-o", rep, "-w", pcap)
	if code != exitOK || out != "" {
		t.Fatalf("exit %d, stdout %q, stderr %q", code, out, errOut)
	}
	if !strings.HasSuffix(errOut, "flowdoc: report written to "+rep+"\n") {
		t.Errorf("stderr does not end saying where the report went: %q", errOut)
	}
	b, err := os.ReadFile(rep)
	if err != nil || !strings.Contains(string(b), "live, 0 packets, 0 TCP") || strings.Contains(string(b), "live , ") {
		t.Errorf("report %q, %v", b, err)
	}
	if b, _ := os.ReadFile(pcap); len(b) < 4 || string(b[:4]) != "\x0a\x0d\x0d\x0a" {
		t.Errorf("the -w file is not pcapng: % x", b[:min(len(b), 8)])
	}
	if _, help, _ := run(t, "live", "--help"); !strings.Contains(help, "(pcapng; pcap if FILE ends in .pcap)") || strings.Contains(help, "-w evidence.pcap\n") {
		t.Errorf("--help: %s", help)
	}
}
