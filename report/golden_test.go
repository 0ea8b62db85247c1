package report

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
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
	formats := []struct {
		ext string
		r   Renderer
	}{
		{"txt", &Text{}},
		{"all.txt", &Text{All: true}},
		{"json", &JSON{Events: true}},
		{"jsonl", &JSONLines{}},
		{"csv", CSV{}},
		{"md", &Markdown{}},
		{"zeek.log", Zeek{}},
	}
	for _, c := range captures {
		rep := labReport(t, c)
		for _, f := range formats {
			golden := filepath.Join("../testdata/golden", strings.TrimPrefix(filepath.Base(c), "")+"."+f.ext)
			t.Run(filepath.Base(golden), func(t *testing.T) {
				var buf bytes.Buffer
				if err := f.r.Render(&buf, rep); err != nil {
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
	}
}
