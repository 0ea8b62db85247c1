package capture

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/gopacket/gopacket/pcapgo"
)

// TestPcapFileAgreesWithPcapgo reads every classic pcap in testdata with
// both readers, in their big-endian forms too, and wants the same
// records: the same bytes, times and lengths.
func TestPcapFileAgreesWithPcapgo(t *testing.T) {
	paths, _ := filepath.Glob("../../testdata/*.pcap")
	if len(paths) < 10 {
		t.Fatalf("only %d captures in testdata", len(paths))
	}
	for _, path := range paths {
		raw, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		forms := []struct {
			name string
			data []byte
		}{{"", raw}}
		if binary.LittleEndian.Uint32(raw) == pcapMicros {
			forms = append(forms, struct {
				name string
				data []byte
			}{" big-endian", bigEndianPcap(t, raw)})
		}
		for _, form := range forms {
			t.Run(filepath.Base(path)+form.name, func(t *testing.T) {
				want, err := pcapgo.NewReader(bytes.NewReader(form.data))
				if err != nil {
					t.Fatal(err)
				}
				// A small buffer, so that records straddle its refills.
				got, err := newPcapFile(bufio.NewReaderSize(bytes.NewReader(form.data), 64))
				if err != nil {
					t.Fatal(err)
				}
				if got.LinkType() != want.LinkType() {
					t.Fatalf("link type %v, want %v", got.LinkType(), want.LinkType())
				}
				for n := 1; ; n++ {
					wd, wci, werr := want.ReadPacketData()
					gd, gci, gerr := got.ZeroCopyReadPacketData()
					if werr != nil || gerr != nil {
						if werr != io.EOF || gerr != io.EOF {
							t.Fatalf("packet %d: err %v, want %v", n, gerr, werr)
						}
						break
					}
					if !bytes.Equal(gd, wd) || !gci.Timestamp.Equal(wci.Timestamp) || gci.Length != wci.Length || gci.CaptureLength != wci.CaptureLength {
						t.Fatalf("packet %d: %d bytes at %v (length %d), want %d at %v (%d)", n, len(gd), gci.Timestamp, gci.Length, len(wd), wci.Timestamp, wci.Length)
					}
				}
			})
		}
	}
}

// TestPcapFileBadRecords: each way a record can be cut or corrupt gives
// the error the pass words its warning from.
func TestPcapFileBadRecords(t *testing.T) {
	hdr := func(caplen, length uint32) []byte {
		var h [16]byte
		binary.LittleEndian.PutUint32(h[8:], caplen)
		binary.LittleEndian.PutUint32(h[12:], length)
		return h[:]
	}
	file := func(snaplen uint32, recs ...[]byte) []byte {
		var h [24]byte
		binary.LittleEndian.PutUint32(h[:], pcapMicros)
		binary.LittleEndian.PutUint16(h[4:], 2)
		binary.LittleEndian.PutUint16(h[6:], 4)
		binary.LittleEndian.PutUint32(h[16:], snaplen)
		binary.LittleEndian.PutUint32(h[20:], 1)
		return bytes.Join(append([][]byte{h[:]}, recs...), nil)
	}
	big := bytes.Repeat([]byte{7}, 3000)
	for _, c := range []struct {
		name    string
		data    []byte
		packets int    // read before the error
		want    error  // or
		wantMsg string // in the error's text
		first   []byte // the first packet, if given
	}{
		{"clean end", file(65535, hdr(4, 4), []byte("abcd")), 1, io.EOF, "", nil},
		{"header cut", file(65535, hdr(4, 4), []byte("abcd"), hdr(4, 4)[:9]), 1, io.ErrUnexpectedEOF, "", nil},
		{"data cut", file(65535, hdr(4, 4), []byte("ab")), 0, io.ErrUnexpectedEOF, "", nil},
		{"no data at all", file(65535, hdr(4, 4)), 0, io.ErrUnexpectedEOF, "", nil},
		{"longer than the snap length", file(100, hdr(300000, 300000)), 0, nil, "capture length exceeds snap length: 300000 > 100", nil},
		{"longer than on the wire: read as captured", file(65535, hdr(8, 4), []byte("abcdefgh"), hdr(1, 1), []byte("x")), 2, io.EOF, "", []byte("abcdefgh")},
		{"longer than the buffer", file(65535, hdr(3000, 3000), big, hdr(1, 1), []byte("x")), 2, io.EOF, "", big},
		{"longer than the buffer, cut", file(65535, hdr(3000, 3000), big[:2000]), 0, io.ErrUnexpectedEOF, "", nil},
		{"longer than the buffer, no data", file(65535, hdr(3000, 3000)), 0, io.ErrUnexpectedEOF, "", nil},
		{"a gigabyte claimed, a few bytes there", file(1<<31, hdr(1<<30, 1<<30), big), 0, io.ErrUnexpectedEOF, "", nil},
	} {
		t.Run(c.name, func(t *testing.T) {
			var before, after runtime.MemStats
			runtime.ReadMemStats(&before)
			defer func() {
				runtime.ReadMemStats(&after)
				if grew := after.TotalAlloc - before.TotalAlloc; grew > 16<<20 {
					t.Errorf("allocated %d MiB for %d bytes of file", grew>>20, len(c.data))
				}
			}()
			f, err := newPcapFile(bufio.NewReaderSize(bytes.NewReader(c.data), 1024))
			if err != nil {
				t.Fatal(err)
			}
			n := 0
			for {
				data, ci, err := f.ZeroCopyReadPacketData()
				if err != nil {
					if n != c.packets || c.want != nil && !errors.Is(err, c.want) || c.wantMsg != "" && !strings.Contains(err.Error(), c.wantMsg) {
						t.Fatalf("after %d packets: %v; want %d packets, then %v%s", n, err, c.packets, c.want, c.wantMsg)
					}
					return
				}
				if len(data) != ci.CaptureLength {
					t.Fatalf("packet %d: %d bytes, capture length %d", n+1, len(data), ci.CaptureLength)
				}
				if n == 0 && c.first != nil && !bytes.Equal(data, c.first) {
					t.Fatalf("first packet: %d bytes, want %d", len(data), len(c.first))
				}
				n++
			}
		})
	}
}
