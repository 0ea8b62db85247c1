package report

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestMalformedRequest: a request line with a space in its target was
// captured, and is malformed: the reports say so, not that the request
// was not captured. The capture is the lab's, with the target's slash
// replaced by a space in place.
func TestMalformedRequest(t *testing.T) {
	data, err := os.ReadFile("../testdata/http-keepalive.pcap")
	if err != nil {
		t.Fatal(err)
	}
	data = bytes.ReplaceAll(data, []byte("GET /status/404"), []byte("GET /status 404"))
	path := filepath.Join(t.TempDir(), "malformed.pcap")
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
	rep := labReport(t, path)
	var text, js bytes.Buffer
	if err := (&Text{All: true}).Render(&text, rep); err != nil {
		t.Fatal(err)
	}
	if err := (&JSON{}).Render(&js, rep); err != nil {
		t.Fatal(err)
	}
	const want = `(malformed request "GET /status 404 HTTP/1.1") -> 404 Not Found`
	if !strings.Contains(text.String(), want) || strings.Contains(text.String(), "request not captured") {
		t.Errorf("the text report does not say %s:\n%s", want, text.String())
	}
	if !strings.Contains(js.String(), `"target":"GET /status 404 HTTP/1.1","malformed":true`) {
		t.Errorf("the JSON report does not mark the request malformed")
	}
}
