package capture

import (
	"errors"
	"net/netip"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
)

// ErrNoLibpcap is returned for live capture and BPF filters by a flowdoc
// built without cgo: those need libpcap.
var ErrNoLibpcap = errors.New("this flowdoc was built without libpcap (CGO_ENABLED=0): live capture and -f filters need a build with cgo and libpcap; it reads capture files only")

// ErrPermission is returned when the process may not capture.
var ErrPermission = errors.New("no permission to capture")

// LiveOptions configure a live capture.
type LiveOptions struct {
	// Filter is a BPF filter in tcpdump's syntax; empty for every packet.
	Filter string
	// Snaplen is how many bytes of each packet are kept; 0 means 262144.
	// TCP headers need about 128 bytes; payload analysis needs more.
	Snaplen int
	// Promisc puts the interface in promiscuous mode.
	Promisc bool
	// BufferSize is the kernel's capture buffer, in bytes; 0 means 16 MiB.
	BufferSize int
	// Poll is how long a read waits for a packet before the pass gets to
	// do its chores; 0 means 200 ms.
	Poll time.Duration
	// PcapNG writes the copy of the packets (OpenLive's w) as pcapng, with
	// the interface's name and filter and, at FinishWrite, its statistics:
	// when the capture ended and what it dropped. Otherwise it is pcap.
	PcapNG bool
}

// Stats are a live capture's counters, as libpcap reports them.
type Stats struct {
	Received  int // packets the filter passed
	Dropped   int // dropped by the kernel: its buffer was full
	IfDropped int // dropped by the interface or its driver
}

// Interface is a network interface packets can be captured on.
type Interface struct {
	Name        string
	Description string
	Addrs       []netip.Addr
	Up, Running bool
	Loopback    bool
}

// A Filter decides which packets of a capture file are analysed: a
// compiled BPF filter (CompileFilter).
type Filter interface {
	Matches(lt layers.LinkType, ci gopacket.CaptureInfo, data []byte) bool
}

// SetFilter gives the Source a filter, for its reader to apply: Next
// still returns every packet, so that the packets the filter leaves out
// count in the packet numbers (evidence names the file's frame numbers).
func (s *Source) SetFilter(f Filter) { s.filter = f }

// Filter is the filter SetFilter gave; nil for none: every packet is
// analysed.
func (s *Source) Filter() Filter { return s.filter }
