package report

import (
	"bytes"
	"image/png"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"golang.org/x/net/html"
)

// TestHTMLSelfContained checks every capture's page: it parses as HTML,
// has the three pictures where they apply, and nothing loads from
// elsewhere (no scripts, no links, no URLs but the SVG namespace).
func TestHTMLSelfContained(t *testing.T) {
	captures, _ := filepath.Glob("../testdata/*.pcap*")
	for _, c := range captures {
		rep := labReport(t, c)
		var buf bytes.Buffer
		if err := (&HTML{}).Render(&buf, rep); err != nil {
			t.Fatal(err)
		}
		page := buf.String()
		doc, err := html.Parse(strings.NewReader(page))
		if err != nil {
			t.Fatalf("%s: %v", c, err)
		}
		count := map[string]int{}
		var walk func(*html.Node)
		walk = func(n *html.Node) {
			if n.Type == html.ElementNode {
				count[n.Data]++
				for _, a := range n.Attr {
					if a.Key == "src" || a.Key == "href" || strings.HasPrefix(a.Key, "on") {
						t.Errorf("%s: <%s %s=%q>", filepath.Base(c), n.Data, a.Key, a.Val)
					}
				}
			}
			for ch := n.FirstChild; ch != nil; ch = ch.NextSibling {
				walk(ch)
			}
		}
		walk(doc)
		for _, tag := range []string{"script", "link", "img", "iframe", "object"} {
			if count[tag] > 0 {
				t.Errorf("%s: %d <%s> elements", filepath.Base(c), count[tag], tag)
			}
		}
		if urls := regexp.MustCompile(`(https?:)?//[a-z0-9.-]+`).FindAllString(page, -1); len(urls) != strings.Count(page, "http://www.w3.org/2000/svg") {
			t.Errorf("%s: URLs in the page: %v", filepath.Base(c), urls)
		}
		// The host bars, the timeline, one ladder per finding with a
		// flow whose packets were kept (all of the lab's).
		wantSVG := 1 + 1 + 1 // the arrowheads, the bars, the timeline
		drawn := map[int]bool{}
		for _, f := range rep.Findings {
			for _, id := range f.Flows {
				if !drawn[id] {
					drawn[id] = true
					wantSVG++
					break
				}
			}
		}
		if count["svg"] < wantSVG-1 || count["svg"] > wantSVG+len(rep.Hosts)+20 {
			t.Errorf("%s: %d <svg>, want about %d", filepath.Base(c), count["svg"], wantSVG)
		}
		if len(rep.Findings) > 0 && !strings.Contains(page, `class="finding `+rep.Findings[0].Severity.String()) {
			t.Errorf("%s: no section for the first finding", filepath.Base(c))
		}
	}
}

// TestHTMLEscapes renders a capture whose file name is markup: the page
// must show it as text, never as an element.
func TestHTMLEscapes(t *testing.T) {
	data, err := os.ReadFile("../testdata/keepalive-leak.pcap")
	if err != nil {
		t.Fatal(err)
	}
	hostile := filepath.Join(t.TempDir(), `<img src=x onerror=alert(1)><script>alert(2)<\script>.pcap`)
	if err := os.WriteFile(hostile, data, 0o644); err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := (&HTML{}).Render(&buf, labReport(t, hostile)); err != nil {
		t.Fatal(err)
	}
	page := buf.String()
	if strings.Contains(page, "<img") || strings.Contains(page, "<script") {
		t.Fatalf("markup from the file name reached the page unescaped")
	}
	if !strings.Contains(page, "&lt;img src=x onerror=alert(1)&gt;&lt;script&gt;") {
		t.Errorf("the file name is not shown, escaped")
	}
}

// TestHTMLEscapesHTTP: markup in a request target and a reason phrase
// read from the payload reaches the page (in the flow notes, the leak's
// summary and evidence) only escaped. The capture is the lab's, with the
// bytes replaced in place (same lengths, so the streams still line up).
func TestHTMLEscapesHTTP(t *testing.T) {
	data, err := os.ReadFile("../testdata/http-keepalive.pcap")
	if err != nil {
		t.Fatal(err)
	}
	data = bytes.ReplaceAll(data, []byte("/status/404"), []byte("/<script>a/"))
	data = bytes.ReplaceAll(data, []byte("Not Found"), []byte("<img/src>"))
	hostile := filepath.Join(t.TempDir(), "hostile.pcap")
	if err := os.WriteFile(hostile, data, 0o644); err != nil {
		t.Fatal(err)
	}
	rep := labReport(t, hostile)
	var buf bytes.Buffer
	if err := (&HTML{}).Render(&buf, rep); err != nil {
		t.Fatal(err)
	}
	page := buf.String()
	if strings.Contains(page, "<img") || strings.Contains(page, "<script") {
		t.Fatalf("markup from the HTTP payload reached the page unescaped")
	}
	if !strings.Contains(page, "GET /&lt;script&gt;a/") || !strings.Contains(page, "&lt;img/src&gt;") {
		t.Errorf("the request and the reason are not shown, escaped")
	}
	var md bytes.Buffer
	if err := (&Markdown{}).Render(&md, rep); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(md.String(), "<script>") || strings.Contains(md.String(), "<img/src>") {
		t.Errorf("markup from the HTTP payload reached the Markdown unescaped")
	}
}

// TestHTMLInBrowser loads a page in headless Chromium, when it is
// installed, and checks what it drew: the DOM after loading has the
// pictures, and the screenshot is a picture (not blank) with the
// CLOSE_WAIT red of the leak in it. The screenshot is kept in
// $FLOWDOC_SCREENSHOT_DIR when that is set, to look at.
func TestHTMLInBrowser(t *testing.T) {
	browser := ""
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			browser = p
			break
		}
	}
	if browser == "" {
		t.Skip("no chromium installed (apt-get install chromium): the page is not checked in a browser")
	}
	dir := t.TempDir()
	page := filepath.Join(dir, "report.html")
	var buf bytes.Buffer
	if err := (&HTML{}).Render(&buf, labReport(t, "../testdata/keepalive-leak.pcap")); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(page, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	shotDir := os.Getenv("FLOWDOC_SCREENSHOT_DIR")
	if shotDir == "" {
		shotDir = dir
	}
	shot := filepath.Join(shotDir, "keepalive-leak.png")
	chrome := func(args ...string) []byte {
		t.Helper()
		base := []string{"--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
			"--disable-background-networking", "--disable-component-update", "--disable-sync",
			"--user-data-dir=" + filepath.Join(dir, "profile"), "--window-size=1200,2200"}
		cmd := exec.Command(browser, append(base, args...)...)
		done := make(chan struct{})
		var out []byte
		var err error
		go func() { out, err = cmd.Output(); close(done) }()
		select {
		case <-done:
		case <-time.After(90 * time.Second):
			cmd.Process.Kill()
			<-done
			t.Fatal("chromium did not finish in 90 s")
		}
		if err != nil {
			t.Fatalf("chromium %v: %v", args, err)
		}
		return out
	}

	dom := string(chrome("--dump-dom", "file://"+page))
	for _, want := range []string{"<svg", "close_wait_leak", "no FIN from the client", "Timeline"} {
		if !strings.Contains(dom, want) {
			t.Errorf("the DOM Chromium built has no %q", want)
		}
	}

	chrome("--screenshot="+shot, "file://"+page)
	f, err := os.Open(shot)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	img, err := png.Decode(f)
	if err != nil {
		t.Fatalf("screenshot: %v", err)
	}
	colours := map[uint32]bool{}
	red := 0
	b := img.Bounds()
	for y := b.Min.Y; y < b.Max.Y; y += 2 {
		for x := b.Min.X; x < b.Max.X; x += 2 {
			r, g, bl, _ := img.At(x, y).RGBA()
			colours[(r>>11)<<10|(g>>11)<<5|bl>>11] = true
			if near(r, 0xcf) && near(g, 0x22) && near(bl, 0x2e) {
				red++
			}
		}
	}
	if len(colours) < 20 {
		t.Errorf("the screenshot has %d colours: blank?", len(colours))
	}
	if red < 100 {
		t.Errorf("the screenshot has %d pixels of CLOSE_WAIT red: the bars and the leak were not drawn", red)
	}
	if b.Dx() < 1000 {
		t.Errorf("screenshot %v", b)
	}
	t.Logf("screenshot: %s (%dx%d, %d colours, %d red pixels)", shot, b.Dx(), b.Dy(), len(colours), red)
}

// near reports whether a 16-bit colour channel is within a few steps of
// the 8-bit value v.
func near(c uint32, v uint32) bool {
	c >>= 8
	return c+6 >= v && c <= v+6
}
