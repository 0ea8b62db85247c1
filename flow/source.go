package flow

import (
	"bufio"
	"compress/gzip"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcapgo"

	"github.com/flowdoc/flowdoc/flow/packet"
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
	filter   PacketFilter
	// end is the capture's recorded end (pcapng interface statistics), in
	// Unix nanoseconds; dropped the packets its statistics say were lost.
	end     int64
	dropped uint64
}

// captureEnder is a PacketReader that knows when its capture ended.
type captureEnder interface{ CaptureEnd() time.Time }

// captureEnd is when the capture ended, if it says: 0 if not.
func (s *Source) captureEnd() int64 {
	if ce, ok := s.r.(captureEnder); ok {
		if t := ce.CaptureEnd(); !t.IsZero() {
			return t.UnixNano()
		}
	}
	return s.end
}

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

// next reads a packet. data is valid until the next call.
func (s *Source) next() (data []byte, ci gopacket.CaptureInfo, lt layers.LinkType, err error) {
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

// Input describes one capture as it was read. The reports' schema for it
// is analyze.Input, built from it: a field added here is in no report
// until it is added there.
type Input struct {
	Path string
	// Format is pcap, pcapng or live; empty when the input could not be
	// read at all (its Warnings say why).
	Format     string
	Compressed bool
	LinkTypes  []string
	Packets    int
	TCPPackets int
	NonTCP     int
	BadPackets int
	Filtered   int   // left out by a BPF filter
	Bytes      int64 // captured bytes of all packets
	First      time.Time
	Last       time.Time
	// End is when the capture ended, where it says (pcapng interface
	// statistics; the moment flowdoc live stopped): a quiet tail after
	// the last packet counts. Zero when not recorded.
	End time.Time
	// Dropped is what the capture's statistics say it lost.
	Dropped  uint64
	Warnings []Warning
	// Incomplete is true when reading stopped before the end of the file
	// (a truncated or corrupt record): what came before was analysed.
	Incomplete bool
	// OptionsCut counts the TCP packets whose header the snap length cut
	// within its options (tcpdump -s 64): tracked from the fixed header.
	OptionsCut int
	// Encapsulations names the tunnels TCP was found in (VXLAN, GRE...),
	// in the order first seen: its connections are the inner ones.
	Encapsulations []string

	linkSeen    map[layers.LinkType]bool
	other       map[string]int           // packets not TCP, by what they hold
	longer      int                      // records captured longer than on the wire
	unsupported map[layers.LinkType]bool // warned about
	lastLink    layers.LinkType
	first       int64 // Unix nanoseconds of First and Last, while reading
	last        int64
}

func (in *Input) sawLinkType(lt layers.LinkType) {
	if lt == in.lastLink && in.linkSeen != nil {
		return
	}
	in.lastLink = lt
	if in.linkSeen[lt] {
		return
	}
	if in.linkSeen == nil {
		in.linkSeen = map[layers.LinkType]bool{}
	}
	in.linkSeen[lt] = true
	in.LinkTypes = append(in.LinkTypes, packet.LinkTypeName(lt))
}

func (in *Input) sawOther(what string) {
	if what == "" {
		what = "other"
	}
	if in.other == nil {
		in.other = map[string]int{}
	}
	in.other[what]++
}

func (in *Input) sawTunnel(name string) {
	if !slices.Contains(in.Encapsulations, name) {
		in.Encapsulations = append(in.Encapsulations, name)
	}
}

// NonTCPSummary describes the packets that were not TCP by what they hold, the
// most first: "UDP 100, ICMPv4 20"; "" if there were none.
func (in *Input) NonTCPSummary() string {
	type kind struct {
		what string
		n    int
	}
	var ks []kind
	for w, n := range in.other {
		ks = append(ks, kind{w, n})
	}
	slices.SortFunc(ks, func(a, b kind) int {
		if a.n != b.n {
			return b.n - a.n
		}
		return strings.Compare(a.what, b.what)
	})
	var b strings.Builder
	for i, k := range ks {
		if i == 6 {
			rest := 0
			for _, k := range ks[i:] {
				rest += k.n
			}
			fmt.Fprintf(&b, ", other %d", rest)
			break
		}
		if i > 0 {
			b.WriteString(", ")
		}
		fmt.Fprintf(&b, "%s %d", k.what, k.n)
	}
	return b.String()
}
