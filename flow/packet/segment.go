package packet

import "net/netip"

// Segment is what the tracker needs of one TCP segment.
type Segment struct {
	Src, Dst netip.AddrPort
	Seq, Ack uint32
	Flags    Flags
	Window   uint16 // raw, unscaled
	// IPID is the IPv4 header's identification (0 for IPv6), Checksum
	// the TCP header's: a packet captured twice (on two interfaces it
	// crossed) has the same; a TCP stack's retransmission of a segment
	// has not (a new IPID, or a new timestamp option).
	IPID, Checksum uint16
	// Len is the payload length the IP header declares. It may exceed the
	// captured bytes (snap length) and the MSS (TSO/GSO on the capturing
	// host).
	Len int
	// IPLen is the IP datagram's length: Len plus the IP and TCP headers
	// (Zeek's ip_bytes count these).
	IPLen int
	// Options, meaningful on SYN segments.
	MSS    uint16
	WScale int8 // -1 when absent, or cut (OptionsCut)
	// OptionsCut is set when the snap length cut the TCP header within its
	// options (tcpdump -s 64): the fixed header is whole, the options
	// past the cut are unknown, and Len comes from the IP header.
	OptionsCut bool
	// Dir is the packet's direction relative to the capturing host, where
	// the link layer records it (Linux cooked captures).
	Dir Direction
	// Iface is the interface the packet was captured on, where the
	// capture records it: a Linux cooked v2 capture's interface index (0
	// otherwise; the pass may set it from a pcapng's interface).
	Iface uint32
	// Tunnel is the encapsulation the segment was found in; its addresses
	// are the inner connection's. NoTunnel for a segment sent as it is.
	Tunnel Tunnel
	// Payload is the captured part of the payload: Len bytes, or fewer
	// when the snap length cut the packet. It points into the packet's
	// buffer, valid until the next packet is read.
	Payload []byte
}

// Flags are the TCP header flags of a segment, in the header's bit order.
type Flags uint8

const (
	FIN Flags = 1 << iota
	SYN
	RST
	PSH
	ACK
	URG
	ECE
	CWR
)

// Has reports whether every flag of g is set in f.
func (f Flags) Has(g Flags) bool { return f&g == g }

func (f Flags) String() string {
	const names = "FSRPAUEC"
	var b [8]byte
	n := 0
	for i := range 8 {
		if f&(1<<i) != 0 {
			b[n] = names[i]
			n++
		}
	}
	if n == 0 {
		return "."
	}
	return string(b[:n])
}

// Direction is where a packet went relative to the capturing host.
type Direction uint8

const (
	DirUnknown  Direction = iota
	DirIncoming           // addressed to the capturing host
	DirOutgoing           // sent by it
	// The same on its loopback interface, whose other end is its own
	// too (but where a lab routes addresses it has not).
	DirLoopIncoming
	DirLoopOutgoing
)

// Outgoing reports whether the packet was sent by the capturing host.
func (d Direction) Outgoing() bool { return d == DirOutgoing || d == DirLoopOutgoing }

// Loopback reports whether the packet was on the loopback interface.
func (d Direction) Loopback() bool { return d == DirLoopIncoming || d == DirLoopOutgoing }

// arphrdLoopback is a Linux cooked capture's hardware type of a loopback
// interface.
const arphrdLoopback = 772

// sllDirection maps a Linux cooked capture's packet type, and hardware
// type, to a Direction.
func sllDirection(packetType, hwType uint16) Direction {
	if hwType == arphrdLoopback {
		switch packetType {
		case 0:
			return DirLoopIncoming
		case 4:
			return DirLoopOutgoing
		}
	}
	switch packetType {
	case 0: // PACKET_HOST
		return DirIncoming
	case 4: // PACKET_OUTGOING
		return DirOutgoing
	}
	return DirUnknown
}

// Tunnel is an encapsulation TCP was found in. Its String is the name
// the reports give it.
type Tunnel uint8

const (
	NoTunnel Tunnel = iota
	VXLAN
	Geneve
	GRE
	ERSPAN2 // ERSPAN type II
	ERSPAN3 // ERSPAN type III
	MPLS
	PPPoE
	GTPU // GTP-U
	EtherIP
	PBB    // 802.1ah provider backbone bridging
	Teredo // IPv6 in UDP (RFC 4380)
	IPinIP // IP in IP, with nothing between the two headers
)

var tunnelNames = [...]string{
	NoTunnel: "", VXLAN: "VXLAN", Geneve: "Geneve", GRE: "GRE", ERSPAN2: "ERSPAN II", ERSPAN3: "ERSPAN III",
	MPLS: "MPLS", PPPoE: "PPPoE", GTPU: "GTP-U", EtherIP: "EtherIP", PBB: "802.1ah", Teredo: "Teredo", IPinIP: "IP in IP",
}

func (t Tunnel) String() string {
	if int(t) < len(tunnelNames) {
		return tunnelNames[t]
	}
	return "unknown tunnel"
}
