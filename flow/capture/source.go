package capture

import (
	"bufio"
	"compress/gzip"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcapgo"
)

// ErrNotCapture is returned by Open for input that is neither pcap nor
// pcapng (nor either of them gzip-compressed).
var ErrNotCapture = errors.New("flow: not a pcap or pcapng capture")

// Format is the container format of a capture.
type Format uint8

const (
	FormatPcap Format = iota + 1
	FormatPcapNG
	FormatLive // packets from a network interface
)

func (f Format) String() string {
	switch f {
	case FormatPcap:
		return "pcap"
	case FormatPcapNG:
		return "pcapng"
	case FormatLive:
		return "live"
	}
	return "unknown"
}

// packetReader is what pcapgo's two readers have in common.
type packetReader interface {
	ZeroCopyReadPacketData() ([]byte, gopacket.CaptureInfo, error)
}

// PacketReader is where a live Source gets its packets: a libpcap handle,
// say. ZeroCopyReadPacketData returns ErrIdle when no packet came for a
// while (so that the pass can do what it has to in the meantime), and
// io.EOF when the capture is over.
type PacketReader interface {
	ZeroCopyReadPacketData() ([]byte, gopacket.CaptureInfo, error)
}

// ErrIdle is returned by a PacketReader that has no packet yet.
var ErrIdle = errors.New("flow: no packet yet")

// NewPacketSource makes a Source of packets of link type lt read from r:
// a live capture named name (the interface).
func NewPacketSource(name string, r PacketReader, lt layers.LinkType) *Source {
	return &Source{Name: name, Format: FormatLive, r: r, linkType: lt, size: -1, counted: &countingReader{}}
}

// Source is one opened capture, read packet by packet.
type Source struct {
	Name       string // the path, or "-" for standard input
	Format     Format
	Compressed bool // gzip

	r        packetReader
	linkType layers.LinkType // of a pcap file, or the first pcapng interface
	mixed    bool            // pcapng: each packet carries its link type
	size     int64           // bytes on disk, or -1
	counted  *countingReader
	closers  []io.Closer
	filter   Filter
	// end is the capture's recorded end (pcapng interface statistics), in
	// Unix nanoseconds; dropped the packets its statistics say were lost.
	end     int64
	dropped uint64
}

// captureEnder is a PacketReader that knows when its capture ended.
type captureEnder interface{ CaptureEnd() time.Time }

// End is when the capture ended, where it says (pcapng interface
// statistics; a live capture that has stopped), in UTC; the zero Time if
// it does not. A quiet tail after the last packet is part of the capture.
func (s *Source) End() time.Time {
	if ce, ok := s.r.(captureEnder); ok {
		if t := ce.CaptureEnd(); !t.IsZero() {
			return t.UTC()
		}
	}
	if s.end == 0 {
		return time.Time{}
	}
	return time.Unix(0, s.end).UTC()
}

// Dropped is how many packets the capture's statistics say were lost
// while capturing (pcapng interface statistics).
func (s *Source) Dropped() uint64 { return s.dropped }

// Open opens the capture at path ("-" for standard input), detecting pcap,
// pcapng and gzip compression by their magic bytes.
func Open(path string) (*Source, error) {
	var f io.ReadCloser
	size := int64(-1)
	if path == "-" {
		f = io.NopCloser(os.Stdin)
	} else {
		file, err := os.Open(path)
		if err != nil {
			return nil, err
		}
		if st, err := file.Stat(); err == nil && st.Mode().IsRegular() {
			size = st.Size()
		}
		f = file
	}
	s, err := NewSource(path, f)
	if err != nil {
		f.Close()
		return nil, err
	}
	s.size = size
	s.closers = append(s.closers, f)
	return s, nil
}

// NewSource reads a capture from r, which it does not close.
func NewSource(name string, r io.Reader) (*Source, error) {
	s := &Source{Name: name, size: -1}
	s.counted = &countingReader{r: r}
	br := bufio.NewReaderSize(s.counted, 1<<20)
	magic, err := br.Peek(4)
	if err != nil {
		if errors.Is(err, io.EOF) {
			return nil, fmt.Errorf("%w: empty or shorter than a capture header", ErrNotCapture)
		}
		return nil, err
	}
	if magic[0] == 0x1f && magic[1] == 0x8b {
		zr, err := gzip.NewReader(br)
		if err != nil {
			return nil, fmt.Errorf("gzip: %w", err)
		}
		s.Compressed = true
		s.closers = append(s.closers, zr)
		br = bufio.NewReaderSize(zr, 1<<20)
		if magic, err = br.Peek(4); err != nil {
			return nil, fmt.Errorf("%w: gzip stream shorter than a capture header", ErrNotCapture)
		}
	}
	switch m := binary.BigEndian.Uint32(magic); m {
	case pcapMicros, pcapMicrosBig, pcapNanos, pcapNanosBig: // each with its byte swap: the order m was read in does not matter
		pr, err := newPcapFile(br)
		if err != nil {
			return nil, fmt.Errorf("pcap header: %w", err)
		}
		s.Format, s.r, s.linkType = FormatPcap, pr, pr.LinkType()
	case 0x0a0d0d0a:
		// Interface statistics (at the end of the file, as dumpcap and
		// flowdoc live write them) say when the capture ended and what
		// it lost.
		stats := func(_ int, st pcapgo.NgInterfaceStatistics) {
			if !st.EndTime.IsZero() {
				s.end = max(s.end, st.EndTime.UnixNano())
			}
			if st.PacketsDropped != pcapgo.NgNoValue64 {
				s.dropped += st.PacketsDropped
			}
		}
		nr, err := pcapgo.NewNgReader(br, pcapgo.NgReaderOptions{WantMixedLinkType: true, SkipUnknownVersion: true, StatisticsCallback: stats})
		if err != nil {
			return nil, fmt.Errorf("pcapng header: %w", err)
		}
		s.Format, s.r, s.linkType, s.mixed = FormatPcapNG, nr, nr.LinkType(), true
	default:
		return nil, fmt.Errorf("%w (magic bytes %x)", ErrNotCapture, magic)
	}
	return s, nil
}

// LinkType is the link type of a pcap file, or of a pcapng file's first
// interface.
func (s *Source) LinkType() layers.LinkType { return s.linkType }

// Size is the file's size in bytes, or -1 when not known (a pipe).
func (s *Source) Size() int64 { return s.size }

// BytesRead is how many bytes of the file (compressed, if it is) were read.
func (s *Source) BytesRead() int64 { return s.counted.n }

// Close closes the file.
func (s *Source) Close() error {
	var first error
	for i := len(s.closers) - 1; i >= 0; i-- {
		if err := s.closers[i].Close(); err != nil && first == nil {
			first = err
		}
	}
	s.closers = nil
	return first
}

// Next reads the next packet: its bytes, valid until the next call, its
// capture info and its link type. It returns io.EOF at the end of the
// capture, ErrIdle when a live capture has no packet yet, and any other
// error for a record that cannot be read (what was read before it
// stands).
func (s *Source) Next() (data []byte, ci gopacket.CaptureInfo, lt layers.LinkType, err error) {
	data, ci, err = s.r.ZeroCopyReadPacketData()
	if err != nil {
		return nil, ci, 0, err
	}
	lt = s.linkType
	if s.mixed && len(ci.AncillaryData) > 0 {
		if l, ok := ci.AncillaryData[0].(layers.LinkType); ok {
			lt = l
		}
	}
	return data, ci, lt, nil
}

type countingReader struct {
	r io.Reader
	n int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}
