package report

import (
	"bytes"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/flowdoc/flowdoc/analyze"
	"github.com/yuin/goldmark"
	"github.com/yuin/goldmark/extension"
)

// TestMarkdownRenders converts the Markdown report of every capture to
// HTML with a real Markdown renderer (goldmark, GitHub's tables) and
// checks what a reader would see: one title, a section per finding, and
// tables whose rows all have as many cells as their header.
func TestMarkdownRenders(t *testing.T) {
	md := goldmark.New(goldmark.WithExtensions(extension.Table))
	row := regexp.MustCompile(`(?s)<tr>(.*?)</tr>`)
	cell := regexp.MustCompile(`<t[hd][ >]`)
	captures, _ := filepath.Glob("../testdata/*.pcap*")
	for _, c := range captures {
		t.Run(filepath.Base(c), func(t *testing.T) {
			rep := labReport(t, c)
			var src, html bytes.Buffer
			if err := (&Markdown{MaxFlows: 3}).Render(&src, rep); err != nil {
				t.Fatal(err)
			}
			if err := md.Convert(src.Bytes(), &html); err != nil {
				t.Fatal(err)
			}
			h := html.String()
			if n := strings.Count(h, "<h1>"); n != 1 {
				t.Errorf("%d titles", n)
			}
			if n := strings.Count(h, "<h3>"); n != len(rep.Findings) {
				t.Errorf("%d finding sections for %d findings", n, len(rep.Findings))
			}
			tables := strings.Split(h, "<table>")[1:]
			if len(tables) < 1+len(rep.Findings)-countNoEvidence(rep) {
				t.Errorf("%d tables", len(tables))
			}
			for _, tb := range tables {
				tb = tb[:strings.Index(tb, "</table>")]
				rows := row.FindAllStringSubmatch(tb, -1)
				want := len(cell.FindAllString(rows[0][1], -1))
				for _, r := range rows[1:] {
					if got := len(cell.FindAllString(r[1], -1)); got != want {
						t.Errorf("a row of %d cells under a header of %d: %s", got, want, r[1])
					}
				}
			}
		})
	}
}

func countNoEvidence(rep *analyze.Report) int {
	n := 0
	for _, f := range rep.Findings {
		if len(f.Evidence) == 0 {
			n++
		}
	}
	return n
}
