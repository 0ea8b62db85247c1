package capture

import (
	"bytes"
	"compress/gzip"
	"encoding/binary"
	"io"
	"os"
	"testing"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/pcapgo"
)

// TestContainers reads one capture in every container, through a pipe
// as from standard input (no size, no seeking), and wants the records
// pcapgo reads from the original: the same bytes, times and lengths.
func TestContainers(t *testing.T) {
	raw, err := os.ReadFile("../../testdata/keepalive-leak.pcap")
	if err != nil {
		t.Fatal(err)
	}
	want, err := pcapgo.NewReader(bytes.NewReader(raw))
	if err != nil {
		t.Fatal(err)
	}
	var records []gopacket.CaptureInfo
	var frames [][]byte
	for {
		data, ci, err := want.ReadPacketData()
		if err != nil {
			break
		}
		records, frames = append(records, ci), append(frames, data)
	}

	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	zw.Write(raw)
	zw.Close()
	var nanos, ng bytes.Buffer
	nw := pcapgo.NewWriterNanos(&nanos)
	nw.WriteFileHeader(65536, want.LinkType())
	ngw, err := pcapgo.NewNgWriter(&ng, want.LinkType())
	if err != nil {
		t.Fatal(err)
	}
	for i, ci := range records {
		nw.WritePacket(ci, frames[i])
		ngw.WritePacket(ci, frames[i])
	}
	ngw.Flush()

	tests := []struct {
		name   string
		data   []byte
		format Format
	}{
		{"pcap", raw, FormatPcap},
		{"big-endian pcap", bigEndianPcap(t, raw), FormatPcap},
		{"gzip", gz.Bytes(), FormatPcap},
		{"nanosecond pcap", nanos.Bytes(), FormatPcap},
		{"pcapng", ng.Bytes(), FormatPcapNG},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			pr, pw := io.Pipe()
			go func() { pw.Write(tt.data); pw.Close() }()
			s, err := NewSource("-", pr)
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			if s.Format != tt.format || s.Compressed != (tt.name == "gzip") || s.Size() != -1 {
				t.Errorf("format %v, compressed %v, size %d", s.Format, s.Compressed, s.Size())
			}
			n := 0
			for ; ; n++ {
				data, ci, lt, err := s.Next()
				if err == io.EOF {
					break
				}
				if err != nil {
					t.Fatalf("record %d: %v", n+1, err)
				}
				if n >= len(records) || lt != want.LinkType() || !bytes.Equal(data, frames[n]) ||
					!ci.Timestamp.Equal(records[n].Timestamp) || ci.Length != records[n].Length || ci.CaptureLength != records[n].CaptureLength {
					t.Fatalf("record %d: %d bytes at %v (length %d, link type %v) differs from pcapgo's", n+1, len(data), ci.Timestamp, ci.Length, lt)
				}
			}
			if n != len(records) {
				t.Errorf("%d records, want %d", n, len(records))
			}
		})
	}
}

// bigEndianPcap re-encodes a little-endian microsecond pcap big-endian.
func bigEndianPcap(t *testing.T, le []byte) []byte {
	if binary.LittleEndian.Uint32(le) != 0xa1b2c3d4 {
		t.Fatal("want a little-endian microsecond pcap")
	}
	be := make([]byte, 0, len(le))
	swap := func(b []byte, sizes ...int) {
		for _, n := range sizes {
			switch n {
			case 2:
				be = binary.BigEndian.AppendUint16(be, binary.LittleEndian.Uint16(b))
			case 4:
				be = binary.BigEndian.AppendUint32(be, binary.LittleEndian.Uint32(b))
			}
			b = b[n:]
		}
	}
	swap(le[:24], 4, 2, 2, 4, 4, 4, 4)
	for p := le[24:]; len(p) >= 16; {
		incl := int(binary.LittleEndian.Uint32(p[8:]))
		swap(p[:16], 4, 4, 4, 4)
		be = append(be, p[16:16+incl]...)
		p = p[16+incl:]
	}
	return be
}
