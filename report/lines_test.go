package report

import (
	"bufio"
	"bytes"
	"encoding/csv"
	"encoding/json"
	"net/netip"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// parseZeek reads a conn.log as Zeek's readers do: the separator and the
// field names from the header, then one map per line. It checks that the
// header is complete and each line has as many fields as #fields.
func parseZeek(t *testing.T, log string) []map[string]string {
	t.Helper()
	var fields, types []string
	var rows []map[string]string
	closed := false
	for _, line := range strings.Split(strings.TrimSuffix(log, "\n"), "\n") {
		if closed {
			t.Fatalf("line after #close: %q", line)
		}
		if rest, ok := strings.CutPrefix(line, "#"); ok {
			key, val, _ := strings.Cut(rest, "\t")
			switch {
			case strings.HasPrefix(rest, "separator "):
				if rest != `separator \x09` {
					t.Fatalf("separator line %q", line)
				}
			case key == "fields":
				fields = strings.Split(val, "\t")
			case key == "types":
				types = strings.Split(val, "\t")
			case key == "close":
				closed = true
			}
			continue
		}
		if len(fields) == 0 || len(types) != len(fields) {
			t.Fatalf("data before a complete header (%d fields, %d types)", len(fields), len(types))
		}
		vals := strings.Split(line, "\t")
		if len(vals) != len(fields) {
			t.Fatalf("%d values for %d fields: %q", len(vals), len(fields), line)
		}
		row := map[string]string{}
		for i, f := range fields {
			if vals[i] == "" {
				t.Fatalf("field %s empty (Zeek writes - or (empty)): %q", f, line)
			}
			row[f] = vals[i]
		}
		rows = append(rows, row)
	}
	if !closed {
		t.Fatal("no #close line")
	}
	return rows
}

// TestLinesAgreeWithJSON parses the JSON Lines, CSV and Zeek reports of
// every capture back and compares them with the JSON report.
func TestLinesAgreeWithJSON(t *testing.T) {
	captures, _ := filepath.Glob("../testdata/*.pcap*")
	for _, c := range captures {
		t.Run(filepath.Base(c), func(t *testing.T) {
			rep := labReport(t, c)
			var js bytes.Buffer
			if err := (&JSON{}).Render(&js, rep); err != nil {
				t.Fatal(err)
			}
			type flowRow struct {
				ID          int    `json:"id"`
				ClientState string `json:"client_state"`
				ServerState string `json:"server_state"`
				History     string `json:"history"`
			}
			var whole struct {
				Flows    []flowRow         `json:"flows"`
				Findings []json.RawMessage `json:"findings"`
			}
			if err := json.Unmarshal(js.Bytes(), &whole); err != nil {
				t.Fatal(err)
			}

			var jl bytes.Buffer
			if err := (&JSONLines{}).Render(&jl, rep); err != nil {
				t.Fatal(err)
			}
			var flows []flowRow
			findings := 0
			sc := bufio.NewScanner(&jl)
			sc.Buffer(nil, 1<<20)
			for sc.Scan() {
				var head struct{ Type string }
				if err := json.Unmarshal(sc.Bytes(), &head); err != nil {
					t.Fatalf("line %q: %v", sc.Text(), err)
				}
				switch head.Type {
				case "flow":
					if findings > 0 {
						t.Fatal("a flow after the findings")
					}
					var f flowRow
					json.Unmarshal(sc.Bytes(), &f)
					flows = append(flows, f)
				case "finding":
					findings++
				default:
					t.Fatalf("type %q", head.Type)
				}
			}
			if len(flows) != len(whole.Flows) || findings != len(whole.Findings) {
				t.Fatalf("jsonl: %d flows, %d findings; json: %d, %d", len(flows), findings, len(whole.Flows), len(whole.Findings))
			}
			for i := range flows {
				if flows[i] != whole.Flows[i] {
					t.Errorf("jsonl flow %+v, json %+v", flows[i], whole.Flows[i])
				}
			}

			var cb bytes.Buffer
			if err := (CSV{}).Render(&cb, rep); err != nil {
				t.Fatal(err)
			}
			rows, err := csv.NewReader(&cb).ReadAll()
			if err != nil {
				t.Fatal(err)
			}
			if len(rows) != len(whole.Flows)+1 || len(rows[0]) != len(csvColumns) {
				t.Fatalf("csv: %d rows of %d columns for %d flows", len(rows), len(rows[0]), len(whole.Flows))
			}
			col := map[string]int{}
			for i, name := range rows[0] {
				col[name] = i
			}
			for i, row := range rows[1:] {
				id, _ := strconv.Atoi(row[col["id"]])
				got := flowRow{id, row[col["client_state"]], row[col["server_state"]], row[col["history"]]}
				if got != whole.Flows[i] {
					t.Errorf("csv flow %+v, json %+v", got, whole.Flows[i])
				}
			}

			var zb bytes.Buffer
			if err := (Zeek{}).Render(&zb, rep); err != nil {
				t.Fatal(err)
			}
			zrows := parseZeek(t, zb.String())
			if len(zrows) != len(whole.Flows) {
				t.Fatalf("zeek: %d rows for %d flows", len(zrows), len(whole.Flows))
			}
			for i, row := range zrows {
				id, _ := strconv.Atoi(row["flowdoc_id"])
				hist := row["history"]
				if hist == "(empty)" {
					hist = ""
				}
				got := flowRow{id, row["flowdoc_client_state"], row["flowdoc_server_state"], hist}
				if got != whole.Flows[i] {
					t.Errorf("zeek flow %+v, json %+v", got, whole.Flows[i])
				}
			}
		})
	}
}

// TestManyLocalAddresses: a host with many addresses is named by the
// first few in the text report's header, and how many more.
func TestManyLocalAddresses(t *testing.T) {
	rep := labReport(t, "../testdata/keepalive-leak.pcap")
	for i := range 12 {
		rep.LocalAddrs = append(rep.LocalAddrs, netip.AddrFrom4([4]byte{10, 9, 0, byte(i + 1)}))
	}
	var b bytes.Buffer
	textHeader(&b, rep, 200)
	if s := b.String(); !strings.Contains(s, "10.9.0.8, and 4 more (the JSON's local_addresses)") || strings.Contains(s, "10.9.0.9") {
		t.Errorf("header:\n%s\nwant 8 addresses and 4 more", s)
	}
}
