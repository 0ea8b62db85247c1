package analyze

import (
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gopacket/gopacket/pcapgo"
)

// TestHeaderOnlyDiagnosis: captures of real software, cut to 96 bytes a
// packet as `tcpdump -s 96` does (30 bytes of payload over Ethernet and
// IPv4 with TCP timestamps), get the diagnosis the whole captures get:
// a request after a server's idle close is still one (its method, or a
// TLS record of application data, is in the bytes kept), and a refusal
// is still known by its first bytes (PostgreSQL's FATAL, memcached's
// error).
func TestHeaderOnlyDiagnosis(t *testing.T) {
	for _, name := range []string{"apache-keepalive", "apache-tls", "lighttpd-keepalive", "server-reload", "server-cap-refusal", "more-caps", "nginx-404-leak"} {
		path := filepath.Join("../testdata/real", name+"@late.pcap")
		whole := verdictsByFlow(t, path, nil)
		cut := verdictsByFlow(t, path, snapTo(t, path, 96))
		if len(whole) != len(cut) {
			t.Errorf("%s: %d flows whole, %d cut", name, len(whole), len(cut))
			continue
		}
		differ := 0
		for k, v := range whole {
			if cut[k] != v {
				differ++
				if differ <= 3 {
					t.Errorf("%s, flow %s: whole %q, cut to 96 bytes %q", name, k, v, cut[k])
				}
			}
		}
		if differ > 3 {
			t.Errorf("%s: %d flows differ in all", name, differ)
		}
	}
}

// verdictsByFlow reads the capture at path (from data when not nil) and
// returns each flow's verdict classes but the plain states' (time_wait,
// clean, open), by its 4-tuple and start.
func verdictsByFlow(t *testing.T, path string, data []byte) map[string]string {
	t.Helper()
	if data != nil {
		path = filepath.Join(t.TempDir(), filepath.Base(path))
		if err := os.WriteFile(path, data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	rep := analyzeLab(t, path, time.Time{}, Options{})
	out := map[string]string{}
	for i := range rep.Flows {
		f := &rep.Flows[i]
		var cs []string
		for _, v := range f.Verdicts {
			if v.Class != TimeWaitClass && v.Class != CleanClass && v.Class != OpenClass {
				cs = append(cs, string(v.Class)+"("+v.Side.String()+")")
			}
		}
		slices.Sort(cs)
		out[f.Key.String()+" "+f.First.Time().String()] = strings.Join(cs, " ")
	}
	return out
}

// snapTo returns the pcapng capture at path as a pcap whose packets are
// cut to snap bytes.
func snapTo(t *testing.T, path string, snap int) []byte {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	r, err := pcapgo.NewNgReader(f, pcapgo.DefaultNgReaderOptions)
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	w := pcapgo.NewWriterNanos(&buf)
	if err := w.WriteFileHeader(uint32(snap), r.LinkType()); err != nil {
		t.Fatal(err)
	}
	for {
		data, ci, err := r.ReadPacketData()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if len(data) > snap {
			data, ci.CaptureLength = data[:snap], snap
		}
		if err := w.WritePacket(ci, data); err != nil {
			t.Fatal(err)
		}
	}
	return buf.Bytes()
}
