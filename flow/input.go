package flow

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/gopacket/gopacket/layers"

	"github.com/flowdoc/flowdoc/flow/packet"
)

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
	// Reordered counts the packets stamped a little earlier than the
	// packet before them (at most MaxReorder): read in the capture's
	// order, at that packet's time when at most MaxClamp earlier.
	// ReorderedBy is the most by which one was.
	Reordered   int
	ReorderedBy time.Duration
	// Duplicates counts the TCP packets captured twice, left out: the
	// same packet (tuple, sequence and acknowledgement numbers, flags,
	// length, window, IPv4 identification and TCP checksum) within
	// DupWindow of the first copy. Elsewhere counts those that were
	// another input's packets (within CrossWindow), left out too.
	Duplicates, Elsewhere int

	linkSeen    map[layers.LinkType]bool
	other       map[string]int           // packets not TCP, by what they hold
	longer      int                      // records captured longer than on the wire
	cut         int                      // records the snap length cut before their headers ended
	cutFirst    int                      // the first of them
	plain, fins int                      // TCP packets without SYN, FIN or RST; with FIN
	unsupported map[layers.LinkType]bool // warned about
	lastLink    layers.LinkType
	first       int64 // Unix nanoseconds of First and Last, while reading
	last        int64
	prev        int64 // the time the packet before was read at
}

// A capture on several CPUs or interfaces (tcpdump -i any, a capture
// card's queues) stamps packets out of order by microseconds: a request
// stamped after the RST that answered it. A packet stamped earlier than
// the packet before it by up to MaxClamp is read at that packet's time,
// in the capture's order. Up to MaxReorder (a pcapng written interface
// by interface, in blocks) it keeps its own time: clamped, a whole block
// would be read at one instant. Further back is the capture's clock set
// back: the packet keeps its time, and a warning says so.
const (
	MaxClamp   = time.Millisecond
	MaxReorder = 100 * time.Millisecond
)

// behind takes a packet stamped at ts, back (ns) earlier than the packet
// before it: it returns the time it is read at.
func (in *Input) behind(ts, back int64) int64 {
	if back > int64(MaxReorder) {
		in.warn(Warning{Kind: WarnClockBack, Packet: in.Packets, N: int(back / int64(time.Millisecond))})
		return ts
	}
	in.Reordered++
	in.ReorderedBy = max(in.ReorderedBy, time.Duration(back))
	if back > int64(MaxClamp) {
		return ts
	}
	return in.prev
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
