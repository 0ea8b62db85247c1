package packet

import (
	"bufio"
	"bytes"
	"io"
	"os"
	"testing"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcapgo"
)

// testdata holds the module's captures: the lab's, and in decode/ the
// crafted ones of encapsulations, link types, fragments and snap lengths
// (made by the flow package's TestDecodeCaptures).
const testdata = "../../testdata"

// frame is a captured frame, copied out of its file.
type frame struct {
	lt   layers.LinkType
	at   time.Time
	data []byte
}

// readFrames reads every frame of a pcap or pcapng file, each with its
// own link type.
func readFrames(tb testing.TB, path string) []frame {
	tb.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		tb.Fatal(err)
	}
	var r interface {
		ReadPacketData() ([]byte, gopacket.CaptureInfo, error)
	}
	lt := layers.LinkType(0)
	if bytes.HasPrefix(b, []byte{0x0a, 0x0d, 0x0d, 0x0a}) {
		ng, err := pcapgo.NewNgReader(bufio.NewReader(bytes.NewReader(b)), pcapgo.NgReaderOptions{WantMixedLinkType: true})
		if err != nil {
			tb.Fatal(err)
		}
		r = ng
	} else {
		pr, err := pcapgo.NewReader(bytes.NewReader(b))
		if err != nil {
			tb.Fatal(err)
		}
		r, lt = pr, pr.LinkType()
	}
	var out []frame
	for {
		data, ci, err := r.ReadPacketData()
		if err == io.EOF {
			return out
		}
		if err != nil {
			tb.Fatal(err)
		}
		f := frame{lt, ci.Timestamp, data}
		if len(ci.AncillaryData) > 0 {
			f.lt = ci.AncillaryData[0].(layers.LinkType)
		}
		out = append(out, f)
	}
}
