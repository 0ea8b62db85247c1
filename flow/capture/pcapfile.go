package capture

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
)

// pcapFile reads a classic pcap file. It does what pcapgo's Reader does,
// with the same errors, but hands out each packet's bytes where they lie
// in the buffered reader: pcapgo's reader puts a 4 KiB buffer of its own
// in front and copies every packet out of it, two copies of every byte
// of a capture that may hold gigabytes.
type pcapFile struct {
	br      *bufio.Reader
	swapped bool  // big-endian headers
	nanos   int64 // nanoseconds per unit of the timestamps' fraction
	snaplen uint32
	lt      layers.LinkType
	// big holds a packet larger than the buffered reader's buffer.
	big []byte
	// discard is how much of the buffered reader the last packet still
	// holds: it is skipped at the next call, so that its bytes stay
	// valid until then.
	discard int
}

// The magic numbers of classic pcap, as read little-endian.
const (
	pcapMicros    = 0xa1b2c3d4
	pcapNanos     = 0xa1b23c4d
	pcapMicrosBig = 0xd4c3b2a1
	pcapNanosBig  = 0x4d3cb2a1
)

// maxEager is the largest packet whose length is believed up front, as
// in pcapgo: a longer one must be within the snap length.
const maxEager = 262144

func newPcapFile(br *bufio.Reader) (*pcapFile, error) {
	var h [24]byte
	if _, err := io.ReadFull(br, h[:]); err != nil {
		return nil, err
	}
	f := &pcapFile{br: br}
	switch binary.LittleEndian.Uint32(h[:4]) {
	case pcapMicros:
		f.nanos = 1000
	case pcapNanos:
		f.nanos = 1
	case pcapMicrosBig:
		f.nanos, f.swapped = 1000, true
	case pcapNanosBig:
		f.nanos, f.swapped = 1, true
	default:
		return nil, fmt.Errorf("unknown magic %x", h[:4])
	}
	if v := f.u16(h[4:]); v != 2 {
		return nil, fmt.Errorf("unknown major version %d", v)
	}
	if v := f.u16(h[6:]); v != 4 {
		return nil, fmt.Errorf("unknown minor version %d", v)
	}
	f.snaplen = f.u32(h[16:])
	f.lt = layers.LinkType(f.u32(h[20:]))
	return f, nil
}

func (f *pcapFile) u16(b []byte) uint16 {
	if f.swapped {
		return binary.BigEndian.Uint16(b)
	}
	return binary.LittleEndian.Uint16(b)
}

func (f *pcapFile) u32(b []byte) uint32 {
	if f.swapped {
		return binary.BigEndian.Uint32(b)
	}
	return binary.LittleEndian.Uint32(b)
}

// LinkType is the file's link type.
func (f *pcapFile) LinkType() layers.LinkType { return f.lt }

// ZeroCopyReadPacketData reads the next record; data is valid until the
// next call.
func (f *pcapFile) ZeroCopyReadPacketData() (data []byte, ci gopacket.CaptureInfo, err error) {
	if f.discard > 0 {
		f.br.Discard(f.discard) // buffered already: cannot fail
		f.discard = 0
	}
	h, err := f.br.Peek(16)
	if err != nil {
		if len(h) > 0 && err == io.EOF {
			err = io.ErrUnexpectedEOF
		}
		return nil, ci, err
	}
	sec, frac := f.u32(h), f.u32(h[4:])
	caplen, length := f.u32(h[8:]), f.u32(h[12:])
	f.br.Discard(16)
	ci.Timestamp = time.Unix(int64(sec), int64(frac)*f.nanos).UTC()
	ci.CaptureLength, ci.Length = int(caplen), int(length)
	if caplen > max(f.snaplen, maxEager) {
		return nil, ci, fmt.Errorf("capture length exceeds snap length: %d > %d", caplen, f.snaplen)
	}
	// A capture length over the original length is read as captured, as
	// Wireshark does; the pass warns about it.
	n := int(caplen)
	if n > f.br.Size() {
		// Grown with the bytes that come, not to the length the header
		// claims: a short corrupt file must not make the reader allocate
		// gigabytes (as pcapgo's readFull guards too).
		buf := bytes.NewBuffer(f.big[:0])
		got, err := io.CopyN(buf, f.br, int64(n))
		f.big = buf.Bytes()
		if got < int64(n) {
			if err == nil || err == io.EOF {
				err = io.ErrUnexpectedEOF
			}
			return nil, ci, err
		}
		return f.big, ci, nil
	}
	data, err = f.br.Peek(n)
	if err != nil {
		if errors.Is(err, io.EOF) {
			err = io.ErrUnexpectedEOF
		}
		return nil, ci, err
	}
	f.discard = n
	return data, ci, nil
}
