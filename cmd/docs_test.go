package cmd

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"net/netip"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/spf13/pflag"

	"github.com/flowdoc/flowdoc/analyze"
	"github.com/flowdoc/flowdoc/flow"
	"github.com/flowdoc/flowdoc/flow/capture"
	"github.com/flowdoc/flowdoc/flow/sockets"
	"github.com/flowdoc/flowdoc/report"
)

// The tests in this file hold the documents in docs/ to the code: what a
// document lists must be what flowdoc does, and the reverse.

var update = flag.Bool("update", false, "rewrite docs/verdicts.md from the explain entries")

// markedRows returns the rows (header and rule left out) of every table
// that follows a line "<!-- marker -->" in the document at path.
func markedRows(t *testing.T, path, marker string) []string {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var rows []string
	in, header := false, 0
	for line := range strings.Lines(string(data)) {
		line = strings.TrimSpace(line)
		switch {
		case line == "<!-- "+marker+" -->":
			in, header = true, 2
		case in && strings.HasPrefix(line, "|"):
			if header > 0 {
				header--
				continue
			}
			rows = append(rows, line)
		case in && line != "":
			in = false
		}
	}
	if len(rows) == 0 {
		t.Fatalf("%s: no table after <!-- %s -->", path, marker)
	}
	return rows
}

var backticked = regexp.MustCompile("`([^`]+)`")

// firstCell returns what is written in backticks in a row's first cell,
// each brace list expanded: `a.{b,c}` is a.b and a.c.
func firstCell(row string) []string {
	cell := strings.TrimPrefix(row, "|")
	for i := 0; i < len(cell); i++ {
		if cell[i] == '\\' {
			i++
		} else if cell[i] == '|' {
			cell = cell[:i]
			break
		}
	}
	var names []string
	for _, m := range backticked.FindAllStringSubmatch(cell, -1) {
		names = append(names, expandBraces(m[1])...)
	}
	return names
}

func expandBraces(s string) []string {
	open := strings.IndexByte(s, '{')
	if open < 0 {
		return []string{s}
	}
	end := strings.IndexByte(s[open:], '}')
	if end < 0 {
		return []string{s}
	}
	var out []string
	for _, alt := range strings.Split(s[open+1:open+end], ",") {
		out = append(out, expandBraces(s[:open]+alt+s[open+end+1:])...)
	}
	return out
}

// TestUsageDoc holds docs/usage.md to the commands: every command has a
// section, every flag of every command is in a table marked for that
// command (with its shorthand and its default), and every flag documented
// is one the command has.
func TestUsageDoc(t *testing.T) {
	const doc = "../docs/usage.md"
	text, err := os.ReadFile(doc)
	if err != nil {
		t.Fatal(err)
	}
	root := newRootCmd(io.Discard, io.Discard)
	for _, c := range root.Commands() {
		if c.Hidden || c.Name() == "help" || c.Name() == "completion" {
			continue
		}
		t.Run(c.Name(), func(t *testing.T) {
			if !bytes.Contains(text, []byte("## `flowdoc "+c.Name())) {
				t.Errorf("%s has no section \"## `flowdoc %s ...`\"", doc, c.Name())
			}
			// The rows of every table marked "flags: NAME ..." with this
			// command among the names, by flag name.
			rows := map[string]string{}
			for _, marker := range flagMarkers(text) {
				if !slices.Contains(strings.Fields(strings.TrimPrefix(marker, "flags:")), c.Name()) {
					continue
				}
				for _, row := range markedRows(t, doc, marker) {
					for _, name := range firstCell(row) {
						if long, ok := strings.CutPrefix(name, "--"); ok {
							long, _, _ = strings.Cut(long, " ")
							if _, dup := rows[long]; dup {
								t.Errorf("--%s is documented twice for %s", long, c.Name())
							}
							rows[long] = row
						}
					}
				}
			}
			c.Flags().VisitAll(func(f *pflag.Flag) {
				if f.Hidden || f.Name == "help" {
					return
				}
				row, ok := rows[f.Name]
				if !ok {
					t.Errorf("flowdoc %s --%s is not in %s", c.Name(), f.Name, doc)
					return
				}
				if f.Shorthand != "" && !slices.Contains(firstCell(row), "-"+f.Shorthand) {
					t.Errorf("flowdoc %s --%s: its row does not give its shorthand -%s: %s", c.Name(), f.Name, f.Shorthand, row)
				}
				if !documentsDefault(row, f) {
					t.Errorf("flowdoc %s --%s: its row does not give its default %q: %s", c.Name(), f.Name, f.DefValue, row)
				}
			})
			for name := range rows {
				if f := c.Flags().Lookup(name); f == nil || f.Hidden {
					t.Errorf("%s documents flowdoc %s --%s, which it does not have", doc, c.Name(), name)
				}
			}
		})
	}
}

var flagMarker = regexp.MustCompile(`<!-- (flags:[a-z ]+) -->`)

func flagMarkers(text []byte) []string {
	var ms []string
	for _, m := range flagMarker.FindAllSubmatch(text, -1) {
		if s := string(m[1]); !slices.Contains(ms, s) {
			ms = append(ms, s)
		}
	}
	return ms
}

var durationText = regexp.MustCompile(`\b[0-9][0-9.]*(?:ns|us|ms|s|m|h)(?:[0-9.]+(?:ns|us|ms|s|m|h))*\b`)

// claimedDefault is a row's "(default 1s)", "(default 60s, Linux...".
var claimedDefault = regexp.MustCompile(`\(default [0-9]`)

// documentsDefault reports whether a flag's row gives its default: as
// --help spells it, or for a duration any spelling of the same length.
func documentsDefault(row string, f *pflag.Flag) bool {
	switch f.DefValue {
	case "", "0", "false", "[]", "0s":
		// No default to give; but a row must not claim one.
		return !claimedDefault.MatchString(row)
	}
	if strings.Contains(row, f.DefValue) {
		return true
	}
	if f.Value.Type() == "duration" {
		want, err := time.ParseDuration(f.DefValue)
		if err != nil {
			return false
		}
		for _, s := range durationText.FindAllString(row, -1) {
			if d, err := time.ParseDuration(s); err == nil && d == want {
				return true
			}
		}
	}
	return false
}

// TestVerdictsDoc holds docs/verdicts.md to the explain entries: it must
// be what verdictsDoc writes. go test ./cmd -run TestVerdictsDoc -update
// rewrites it.
func TestVerdictsDoc(t *testing.T) {
	const doc = "../docs/verdicts.md"
	got := verdictsDoc()
	if *update {
		if err := os.WriteFile(doc, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(doc)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s is not what the explain entries make; go test ./cmd -run TestVerdictsDoc -update rewrites it, then read the diff", doc)
	}
	// Every class flowdoc explain knows has its section.
	for _, e := range analyze.Explanations() {
		if !bytes.Contains(want, []byte("\n## `"+string(e.Class)+"`")) {
			t.Errorf("%s has no section for %s", doc, e.Class)
		}
	}
}

// verdictsDoc writes docs/verdicts.md from the entries flowdoc explain
// prints.
func verdictsDoc() []byte {
	var b bytes.Buffer
	b.WriteString(`# Verdicts and findings

<!-- Generated from the entries of flowdoc explain (analyze/explain.go) by
TestVerdictsDoc in cmd/docs_test.go: do not edit. After changing an entry,
go test ./cmd -run TestVerdictsDoc -update rewrites this file. -->

A **verdict** is about one flow and one of its sides (` + "`client` or `server`" + `): a class,
a severity (` + "`info`, `warning`, `error`" + `), a confidence, a one-line summary and the
packets it rests on. A **finding** is about many flows at once, per host or
server endpoint: the numbers, the likely cause and the remedy, said once. Many
verdict classes have a finding of the same name that gathers those verdicts;
some classes are findings only, drawn from many flows (or, for
` + "`kernel_close_wait`" + `, from the host's socket table under ` + "`flowdoc live`" + `); some,
such as ` + "`clean`" + ` and ` + "`open`" + `, are verdicts only.

` + "`flowdoc explain`" + ` lists the classes and ` + "`flowdoc explain CLASS`" + ` prints one of the
sections below. ` + "`--verdict CLASS,...`" + ` narrows a report to flows and findings of
those classes; [json.md](json.md) says where they appear in the JSON.

| class | what |
| --- | --- |
`)
	es := analyze.Explanations()
	for _, e := range es {
		fmt.Fprintf(&b, "| [`%s`](#%s) | %s |\n", e.Class, e.Class, strings.ReplaceAll(mdEscape(e.Title), "|", `\|`))
	}
	for _, e := range es {
		fmt.Fprintf(&b, "\n## `%s`\n\n**%s**\n", e.Class, mdEscape(e.Title))
		for _, part := range []struct{ head, text string }{
			{"What it means", e.Meaning}, {"How flowdoc detects it", e.Detection}, {"Usual causes", e.Causes},
			{"Confirm on the host", e.Confirm}, {"Fix", e.Fix},
		} {
			fmt.Fprintf(&b, "\n*%s.* %s\n", part.head, mdEscape(part.text))
		}
	}
	return b.Bytes()
}

// mdEscape keeps Markdown from reading an entry's text as markup.
var mdEscape = strings.NewReplacer(`\`, `\\`, "`", "\\`", "*", `\*`, "<", `\<`, ">", `\>`, "[", `\[`, "]", `\]`).Replace

// TestJSONDoc holds docs/json.md to the JSON flowdoc writes: every field
// in the JSON of the test captures (with --all and --events, filtered,
// gzip-compressed, truncated, and with a socket table joined as live
// does) is documented, and every documented field is in that JSON; the
// few that none of these produce must be in rareJSON and still in the
// encoder. The JSON Lines objects are held to the same fields.
func TestJSONDoc(t *testing.T) {
	const doc = "../docs/json.md"
	documented := map[string]bool{}
	for _, row := range markedRows(t, doc, "json fields") {
		for _, p := range firstCell(row) {
			documented[p] = true
		}
	}
	seen := map[string]bool{}
	addJSON := func(what string, b []byte) {
		var v any
		if err := json.Unmarshal(b, &v); err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		jsonPaths(v, "", seen)
	}

	captures, _ := filepath.Glob("../testdata/*.pcap")
	ng, _ := filepath.Glob("../testdata/*.pcapng")
	captures = append(captures, ng...)
	if len(captures) < 10 {
		t.Fatalf("only %d test captures", len(captures))
	}
	for _, c := range captures {
		code, out, errOut := run(t, "analyze", "--all", "--events", "-F", "json", c)
		if code != exitOK {
			t.Fatalf("%s: exit %d: %s", c, code, errOut)
		}
		addJSON(c, []byte(out))
	}
	const leak = "../testdata/keepalive-leak.pcap"
	_, out, _ := run(t, "analyze", "--host", "10.99.1.1", "-F", "json", leak)
	addJSON("--host", []byte(out))
	// Tunnels, a header-only capture, a flood of SYNs folded, a scan,
	// connections captured before and after a NAT, and TLS handshakes
	// refused with alerts.
	for _, c := range []string{"../testdata/decode/tunnels.pcap", "../testdata/decode/header-only-64.pcap", "../testdata/flood/syn-flood.pcap", "../testdata/scan/nmap-syn.pcap",
		"../testdata/nat/dnat-leak.pcap", "../testdata/real/tls-failures@late.pcap"} {
		_, out, _ := run(t, "analyze", "-F", "json", c)
		addJSON(c, []byte(out))
	}

	// A compressed capture and a truncated one, read together.
	dir := t.TempDir()
	data, err := os.ReadFile(leak)
	if err != nil {
		t.Fatal(err)
	}
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	zw.Write(data)
	zw.Close()
	os.WriteFile(filepath.Join(dir, "leak.pcap.gz"), gz.Bytes(), 0o644)
	os.WriteFile(filepath.Join(dir, "cut.pcap"), data[:len(data)-10], 0o644)
	_, out, _ = run(t, "analyze", "-F", "json", filepath.Join(dir, "leak.pcap.gz"), filepath.Join(dir, "cut.pcap"))
	addJSON("gzip and truncated", []byte(out))

	if capture.LiveAvailable {
		_, out, _ = run(t, "analyze", "-f", "tcp port 8080", "-F", "json", leak)
		addJSON("-f", []byte(out))
	}
	addJSON("live", liveReportJSON(t, leak))

	for p := range seen {
		if !documented[p] {
			t.Errorf("the JSON has %s, which %s does not document", p, doc)
		}
	}
	for p := range documented {
		if seen[p] {
			if _, rare := rareJSON[p]; rare && p != "inputs[].filtered_packets" {
				t.Logf("%s is in the JSON of the test captures now: it need not be in rareJSON", p)
			}
			continue
		}
		why, rare := rareJSON[p]
		if !rare {
			t.Errorf("%s documents %s, which the JSON of the test captures does not have", doc, p)
			continue
		}
		if key := p[strings.LastIndexAny(p, ".]")+1:]; !inEncoder(t, key) {
			t.Errorf("%s documents %s (%s), and no encoder writes %q", doc, p, why, key)
		}
	}

	// JSON Lines: "type", then the fields of a flow or a finding.
	for _, row := range markedRows(t, doc, "jsonl fields") {
		for _, p := range firstCell(row) {
			documented["jsonl:"+p] = true
		}
	}
	_, out, _ = run(t, "analyze", "--all", "-F", "jsonl", leak)
	lines := map[string]bool{}
	for line := range strings.Lines(out) {
		var obj map[string]any
		if err := json.Unmarshal([]byte(line), &obj); err != nil {
			t.Fatalf("jsonl: %v: %s", err, line)
		}
		prefix := map[any]string{"flow": "flows[]", "finding": "findings[]"}[obj["type"]]
		if prefix == "" || !documented["jsonl:type"] {
			t.Errorf("jsonl: type %v, want flow or finding, documented", obj["type"])
			continue
		}
		delete(obj, "type")
		jsonPaths(obj, prefix, lines)
	}
	for p := range lines {
		if !documented[p] {
			t.Errorf("jsonl: a line has %s, which %s does not document", p, doc)
		}
	}
}

// rareJSON are the documented fields none of TestJSONDoc's inputs
// produce, and why.
var rareJSON = map[string]string{
	"inputs[].end":                            "pcapng interface statistics, or live",
	"inputs[].dropped_packets":                "a capture that lost packets",
	"flows[].http.via":                        "responses through a proxy (the lab's squid-pconn capture)",
	"inputs[].filtered_packets":               "-f, which needs a libpcap build",
	"inputs[].duplicate_packets":              "a packet captured twice in one input (analyze's TestDuplicatePackets)",
	"inputs[].reordered_packets":              "packets stamped out of order (analyze's TestReorderedStamps)",
	"inputs[].reordered_by_s":                 "packets stamped out of order (analyze's TestReorderedStamps)",
	"flows[].events_dropped":                  "more than 32 events on one connection",
	"flows[].http.earlier_exchanges":          "more than 16 exchanges on one connection",
	"flows[].http.upgraded":                   "an HTTP upgrade or CONNECT",
	"flows[].http.exchanges[].request_close":  "a request with Connection: close",
	"flows[].payload.gaps[].buffer_limited":   "a buffer cap reached",
	"flows[].payload.gaps[].truncated":        "a snap length shorter than the packets",
	"flows[].payload.gaps[].truncated.packet": "a snap length shorter than the packets",
	"aggregates[].one_port":                   "a sweep of one port over more than 100 hosts",
	"aggregates[].retried_by":                 "SYNs sent again to a flooded endpoint (flow's TestRetriedClientsNamed)",
	"aggregates[].retried_by[].peer":          "SYNs sent again to a flooded endpoint (flow's TestRetriedClientsNamed)",
	"aggregates[].retried_by[].connections":   "SYNs sent again to a flooded endpoint (flow's TestRetriedClientsNamed)",
	"aggregates[].sources":                    "SYNs spread over a whole network (analyze's TestSpreadFloodFinding)",
	"aggregates[].other":                      "SYNs spread over a whole network (analyze's TestSpreadFloodFinding)",
}

// jsonPaths adds the path of every field in v to paths: object keys
// joined by dots, array elements as [], and the sides under "ends" and
// "kernel" of a flow as *. The values of "states" and "metrics" are maps
// of names, not fields.
func jsonPaths(v any, prefix string, paths map[string]bool) {
	switch v := v.(type) {
	case map[string]any:
		for k, x := range v {
			if (strings.HasSuffix(prefix, "[].ends") || strings.HasSuffix(prefix, "[].kernel")) && (k == "client" || k == "server") {
				k = "*"
			}
			p := k
			if prefix != "" {
				p = prefix + "." + k
			}
			paths[p] = true
			if p != "hosts[].states" && p != "findings[].metrics" {
				jsonPaths(x, p, paths)
			}
		}
	case []any:
		for _, x := range v {
			jsonPaths(x, prefix+"[]", paths)
		}
	}
}

// inEncoder reports whether the source of flowdoc's packages writes a
// JSON field named key.
func inEncoder(t *testing.T, key string) bool {
	t.Helper()
	found := false
	for _, dir := range []string{"../flow", "../analyze", "../report"} {
		filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
			if err != nil || found || d.IsDir() || !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
				return err
			}
			src, err := os.ReadFile(path)
			if err == nil && (bytes.Contains(src, []byte(`"`+key+`"`)) || bytes.Contains(src, []byte(`"`+key+`,`))) {
				found = true
			}
			return nil
		})
	}
	return found
}

// liveReportJSON reads the capture at path and reports it as flowdoc live would, with
// the capture's counters and a socket table of the client host joined:
// the leaked sockets (one in a state the capture contradicts), one more
// leaked before the capture, and one accepted on a listening port.
func liveReportJSON(t *testing.T, path string) []byte {
	t.Helper()
	var out bytes.Buffer
	var o *analyzeOptions
	c := newAnalyzeCmd(&out, io.Discard, func(_ context.Context, opts *analyzeOptions) error { o = opts; return nil })
	c.SetArgs([]string{"-F", "json", "--all", path})
	if err := c.Execute(); err != nil {
		t.Fatal(err)
	}
	src, err := capture.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	res, err := flow.Read(context.Background(), []*capture.Source{src}, flow.ReadOptions{Config: flow.Config{TimeWait: o.TimeWait, FinTimeout: o.FinTimeout, Payload: o.payload}})
	if err != nil {
		t.Fatal(err)
	}
	err = o.report(res, func(rep *analyze.Report) {
		rep.Capture = &analyze.CaptureStats{Interface: "eth0", Filter: "tcp port 8080", Received: 68, Duration: 6 * time.Second}
		client := netip.MustParseAddr("10.99.1.1")
		var socks []sockets.Socket
		for i, f := range rep.Flows {
			st := flow.CloseWait
			if i == 0 {
				st = flow.Established
			}
			socks = append(socks, sockets.Socket{Local: f.Key.Client(), Remote: f.Key.Server(), State: st, PID: 4242, Command: "java", Timer: "keepalive", Inode: uint64(100 + i)})
		}
		socks = append(socks,
			sockets.Socket{Local: netip.AddrPortFrom(client, 50000), Remote: netip.MustParseAddrPort("10.99.1.2:8080"), State: flow.CloseWait, PID: 4242, Command: "java"},
			sockets.Socket{Local: netip.AddrPortFrom(client, 9000), Listen: true},
			sockets.Socket{Local: netip.AddrPortFrom(client, 9000), Remote: netip.MustParseAddrPort("10.0.0.5:40000"), State: flow.CloseWait})
		rep.JoinKernel(socks, []netip.Addr{client}, time.Unix(0, 0), time.Second, 0)
	})
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(out.Bytes(), []byte(`"without_packets"`)) {
		t.Fatalf("no socket table in the report:\n%s", out.Bytes())
	}
	return out.Bytes()
}

// TestCSVDoc holds the CSV columns in docs/json.md to the header flowdoc
// writes: the same names, in the same order.
func TestCSVDoc(t *testing.T) {
	var want []string
	for _, row := range markedRows(t, "../docs/json.md", "csv columns") {
		want = append(want, firstCell(row)...)
	}
	code, out, errOut := run(t, "analyze", "-F", "csv", "../testdata/keepalive-leak.pcap")
	if code != exitOK {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	header, _, _ := strings.Cut(out, "\n")
	if got := strings.Split(header, ","); !slices.Equal(got, want) {
		t.Errorf("CSV header\n%q\ndocs/json.md documents\n%q", got, want)
	}
}

// TestZeekDoc holds the conn.log columns in docs/json.md to the #fields
// line flowdoc writes: the same names, in the same order.
func TestZeekDoc(t *testing.T) {
	var want []string
	for _, row := range markedRows(t, "../docs/json.md", "zeek fields") {
		want = append(want, firstCell(row)...)
	}
	code, out, errOut := run(t, "analyze", "-F", "zeek", "../testdata/keepalive-leak.pcap")
	if code != exitOK {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	var got []string
	sc := bufio.NewScanner(strings.NewReader(out))
	for sc.Scan() {
		if f, ok := strings.CutPrefix(sc.Text(), "#fields\t"); ok {
			got = strings.Split(f, "\t")
		}
	}
	if !slices.Equal(got, want) {
		t.Errorf("conn.log #fields\n%q\ndocs/json.md documents\n%q", got, want)
	}
}

// TestReadmeExamples holds the outputs shown in README.md to what flowdoc
// prints: each code block after a line "<!-- output: ARGS -->" must be a
// run of consecutive lines of the output of flowdoc ARGS, run from the
// repository's top directory. A first line "$ flowdoc ..." shows the
// command; a last line "..." says the output goes on.
func TestReadmeExamples(t *testing.T) {
	data, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	t.Chdir("..")
	examples := regexp.MustCompile("(?s)<!-- output: ([^>]+) -->\n```\n(.*?)```\n").FindAllSubmatch(data, -1)
	if len(examples) < 3 {
		t.Fatalf("%d examples in README.md, want at least 3", len(examples))
	}
	for _, m := range examples {
		args := strings.Fields(string(m[1]))
		t.Run(strings.Join(args, " "), func(t *testing.T) {
			want := strings.Split(strings.TrimSuffix(string(m[2]), "\n"), "\n")
			if cmdLine, ok := strings.CutPrefix(want[0], "$ "); ok {
				if cmdLine != "flowdoc "+strings.Join(args, " ") {
					t.Errorf("the example shows %q, runs flowdoc %s", cmdLine, strings.Join(args, " "))
				}
				want = want[1:]
			}
			if want[len(want)-1] == "..." {
				want = want[:len(want)-1]
			}
			code, out, errOut := run(t, args...)
			if code != exitOK {
				t.Fatalf("exit %d: %s", code, errOut)
			}
			got := strings.Split(out, "\n")
			for i := range got {
				if slices.Equal(got[i:min(i+len(want), len(got))], want) {
					return
				}
			}
			t.Errorf("README.md shows\n%s\nwhich is not in what flowdoc %s prints:\n%s", strings.Join(want, "\n"), strings.Join(args, " "), out)
		})
	}
}

// TestDocLinks checks that every relative link in README.md and docs/
// names a file that exists.
func TestDocLinks(t *testing.T) {
	docs, _ := filepath.Glob("../docs/*.md")
	docs = append(docs, "../README.md")
	link := regexp.MustCompile(`\]\(([^)#]*)(#[^)]*)?\)`)
	n := 0
	for _, doc := range docs {
		data, err := os.ReadFile(doc)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range link.FindAllStringSubmatch(string(data), -1) {
			target := m[1]
			if target == "" || strings.Contains(target, "://") {
				continue
			}
			n++
			if _, err := os.Stat(filepath.Join(filepath.Dir(doc), target)); err != nil {
				t.Errorf("%s links to %s: %v", doc, target, err)
			}
		}
	}
	if n < 10 {
		t.Errorf("only %d links found: the pattern no longer matches the documents", n)
	}
}

// TestFormatsDoc: usage.md's table of formats has a row for each format
// report.New takes, and none for a format it does not.
func TestFormatsDoc(t *testing.T) {
	var documented []string
	for _, row := range markedRows(t, "../docs/usage.md", "formats") {
		documented = append(documented, firstCell(row)...)
	}
	slices.Sort(documented)
	want := slices.Sorted(slices.Values(report.Formats))
	if !slices.Equal(documented, want) {
		t.Errorf("docs/usage.md's formats %v; report.Formats %v", documented, want)
	}
}
