package report

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/flowdoc/flowdoc/analyze"
)

var update = flag.Bool("update", false, "rewrite golden files")

// TestGolden renders every lab capture in each format and compares with
// testdata/golden/<capture>.<ext>. Run `go test ./report -update` to
// rewrite them, then read the diff.
func TestGolden(t *testing.T) {
	captures, _ := filepath.Glob("../testdata/*.pcap*")
	if len(captures) == 0 {
		t.Fatal("no captures")
	}
	for _, c := range captures {
		rep := labReport(t, c)
		for _, f := range goldenFormats {
			checkGolden(t, filepath.Join("../testdata/golden", filepath.Base(c)+"."+f.ext), f.r, rep)
		}
	}
}

// goldenFormats are the renderers golden files are kept for, by the
// files' extension.
var goldenFormats = []struct {
	ext string
	r   Renderer
}{
	{"txt", &Text{}},
	{"all.txt", &Text{All: true}},
	{"color80.txt", &Text{Color: true, Width: 80}},
	{"json", &JSON{Events: true}},
	{"jsonl", &JSONLines{}},
	{"csv", CSV{}},
	{"md", &Markdown{}},
	{"zeek.log", Zeek{}},
	{"html", &HTML{}},
}

// checkGolden renders rep with r and compares with the golden file, or
// rewrites it with -update.
func checkGolden(t *testing.T, golden string, r Renderer, rep *analyze.Report) {
	t.Run(filepath.Base(golden), func(t *testing.T) {
		var buf bytes.Buffer
		if err := r.Render(&buf, rep); err != nil {
			t.Fatal(err)
		}
		if *update {
			if err := os.MkdirAll(filepath.Dir(golden), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(golden, buf.Bytes(), 0o644); err != nil {
				t.Fatal(err)
			}
			return
		}
		want, err := os.ReadFile(golden)
		if err != nil {
			t.Fatalf("%v (run go test ./report -update)", err)
		}
		if !bytes.Equal(buf.Bytes(), want) {
			t.Errorf("%s differs from the golden file; run go test ./report -update and read the diff\ngot:\n%s", golden, buf.String())
		}
	})
}

// TestTextFitsWidth renders every capture for an 80-column terminal and
// checks that no line is wider, but for words that cannot be broken.
func TestTextFitsWidth(t *testing.T) {
	captures, _ := filepath.Glob("../testdata/*.pcap*")
	for _, c := range captures {
		rep := labReport(t, c)
		var buf bytes.Buffer
		if err := (&Text{All: true, Color: true, Width: 80}).Render(&buf, rep); err != nil {
			t.Fatal(err)
		}
		for _, line := range strings.Split(buf.String(), "\n") {
			if n := visibleLen(line); n > 80 && strings.Count(strings.TrimSpace(line), " ") > 0 && !strings.HasPrefix(line, "../") && !isTableRow(line) {
				t.Errorf("%s: %d columns: %q", filepath.Base(c), n, line)
			}
		}
	}
}

// isTableRow reports whether line is a row of the flow or host table,
// whose columns cannot wrap (they are as wide as their widest cell).
func isTableRow(line string) bool {
	f := strings.Fields(line)
	return len(f) > 0 && (f[0] == "ID" || f[0] == "HOST" || strings.Trim(f[0], "0123456789") == "" || strings.Contains(f[0], "."))
}
