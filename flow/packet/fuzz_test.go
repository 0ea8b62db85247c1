package packet

import (
	"bytes"
	"errors"
	"path/filepath"
	"reflect"
	"testing"
	"time"

	"github.com/gopacket/gopacket/layers"
)

// fuzzLinkTypes are chosen by the first byte of a fuzz input: below 0x80
// one of the first eight (the corpus's first bytes keep their meaning),
// else one of the rest.
var fuzzLinkTypes = []layers.LinkType{
	layers.LinkTypeEthernet, layers.LinkTypeLinuxSLL, layers.LinkTypeLinuxSLL2, layers.LinkTypeNull,
	layers.LinkTypeLoop, layers.LinkTypeRaw, layers.LinkTypeIPv4, layers.LinkTypeIPv6,
	layers.LinkTypePPP, layers.LinkTypePPP_HDLC, layers.LinkTypeC_HDLC, layers.LinkTypeFDDI,
	layers.LinkTypeIEEE802_11, layers.LinkTypeIEEE80211Radio, layers.LinkTypePrismHeader,
	layers.LinkTypePFLog, LinkTypeNFLOG, LinkTypePKTAP, layers.LinkTypePPPEthernet, layers.LinkTypeATM_RFC1483,
}

// fuzzLinkByte is the first byte of a fuzz input for link type lt.
func fuzzLinkByte(lt layers.LinkType) byte {
	for i, l := range fuzzLinkTypes {
		if l == lt {
			if i < 8 {
				return byte(i)
			}
			return byte(0x80 + i - 8)
		}
	}
	return 0
}

// seedFrames are real frames from the lab captures and the crafted
// captures of encapsulations and link types, each prefixed with the byte
// of its link type.
func seedFrames(f *testing.F) [][]byte {
	var out [][]byte
	for _, name := range []string{"keepalive-leak.pcap", "ipv6.pcap", "proxy-any.pcap"} {
		for i, fr := range readFrames(f, filepath.Join(testdata, name)) {
			if i%7 == 0 {
				out = append(out, append([]byte{fuzzLinkByte(fr.lt)}, fr.data...))
			}
		}
	}
	for _, name := range []string{"tunnels.pcap", "link-types.pcapng", "fragments.pcap", "header-only-64.pcap", "header-only-v6-80.pcap", "ipv6-length-0.pcap"} {
		for i, fr := range readFrames(f, filepath.Join(testdata, "decode", name)) {
			if i%3 == 0 || name == "fragments.pcap" {
				out = append(out, append([]byte{fuzzLinkByte(fr.lt)}, fr.data...))
			}
		}
	}
	return out
}

// fuzzFrame splits a decoder fuzz input into its link type (the first
// byte) and frame.
func fuzzFrame(b []byte) (layers.LinkType, []byte, bool) {
	if len(b) == 0 {
		return 0, nil, false
	}
	i := int(b[0]) % 8
	if b[0] >= 0x80 {
		i = 8 + int(b[0]-0x80)%(len(fuzzLinkTypes)-8)
	}
	return fuzzLinkTypes[i], b[1:], true
}

func addSeedFrames(f *testing.F) {
	for _, fr := range seedFrames(f) {
		f.Add(fr)
	}
}

func FuzzDecode(f *testing.F) {
	addSeedFrames(f)
	d := NewDecoder()
	f.Fuzz(func(t *testing.T, b []byte) {
		lt, frame, ok := fuzzFrame(b)
		if !ok {
			return
		}
		var seg Segment
		ok, err := d.Decode(lt, frame, time.Time{}, &seg)
		var de *DecodeError
		if err != nil && !errors.As(err, &de) {
			t.Fatalf("untyped error: %v", err)
		}
		if ok && (seg.Len < 0 || !seg.Src.IsValid() || !seg.Dst.IsValid()) {
			t.Fatalf("bad segment %+v", seg)
		}
	})
}

// FuzzFastPath holds the fast path to gopacket's: for every frame it
// takes, both must give the same segment.
func FuzzFastPath(f *testing.F) {
	addSeedFrames(f)
	d := NewDecoder()
	f.Fuzz(func(t *testing.T, b []byte) {
		lt, frame, ok := fuzzFrame(b)
		if !ok {
			return
		}
		var fast, slow Segment
		if !fastDecode(lt, frame, &fast) {
			return
		}
		ok, err := d.decodeLayers(lt, frame, &slow)
		if err != nil || !ok {
			t.Fatalf("fast path took a frame gopacket rejects (ok %v, %v)", ok, err)
		}
		fp, sp := fast.Payload, slow.Payload
		fast.Payload, slow.Payload = nil, nil
		if !reflect.DeepEqual(fast, slow) || !bytes.Equal(fp, sp) {
			t.Fatalf("fast path %+v payload %q\ngopacket  %+v payload %q", fast, fp, slow, sp)
		}
	})
}
