package flow

import (
	"errors"
	"fmt"
	"net/netip"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
)

// Errors returned by Decoder.Decode, wrapped in a *DecodeError.
var (
	ErrTruncated       = errors.New("flow: truncated packet")
	ErrBadHeader       = errors.New("flow: malformed header")
	ErrUnknownLinkType = errors.New("flow: unsupported link type")
)

// DecodeError is a packet that could not be decoded: where, and why.
type DecodeError struct {
	Packet int    // 1-based frame number in its input; 0 if not known
	Offset int    // byte offset of the layer that failed
	Layer  string // the layer that failed, e.g. "TCP"
	Err    error
}

func (e *DecodeError) Error() string {
	if e.Packet > 0 {
		return fmt.Sprintf("packet %d: %s at byte %d: %v", e.Packet, e.Layer, e.Offset, e.Err)
	}
	return fmt.Sprintf("%s at byte %d: %v", e.Layer, e.Offset, e.Err)
}

func (e *DecodeError) Unwrap() error { return e.Err }

// Segment is what the tracker needs of one TCP segment.
type Segment struct {
	Src, Dst netip.AddrPort
	Seq, Ack uint32
	Flags    Flags
	Window   uint16 // raw, unscaled
	// Len is the payload length the IP header declares. It may exceed the
	// captured bytes (snap length) and the MSS (TSO/GSO on the capturing
	// host).
	Len int
	// IPLen is the IP datagram's length: Len plus the IP and TCP headers
	// (Zeek's ip_bytes count these).
	IPLen int
	// Options, meaningful on SYN segments.
	MSS    uint16
	WScale int8 // -1 when absent
	// Dir is the packet's direction relative to the capturing host, where
	// the link layer records it (Linux cooked captures).
	Dir Direction
	// Payload is the captured part of the payload: Len bytes, or fewer
	// when the snap length cut the packet. It points into the packet's
	// buffer, valid until the next packet is read.
	Payload []byte
}

// Direction is where a packet went relative to the capturing host.
type Direction uint8

const (
	DirUnknown  Direction = iota
	DirIncoming           // addressed to the capturing host
	DirOutgoing           // sent by it
)

// sllDirection maps a Linux cooked capture's packet type to a Direction.
func sllDirection(packetType uint16) Direction {
	switch packetType {
	case 0: // PACKET_HOST
		return DirIncoming
	case 4: // PACKET_OUTGOING
		return DirOutgoing
	}
	return DirUnknown
}

// Decoder turns link-layer frames into Segments. It reuses its buffers: a
// Decoder must not be used concurrently, and a Segment does not refer to
// the frame.
type Decoder struct {
	eth     layers.Ethernet
	dot1q   layers.Dot1Q
	sll     layers.LinuxSLL
	sll2    layers.LinuxSLL2
	loop    layers.Loopback
	ip4     layers.IPv4
	ip6     layers.IPv6
	ext     ipv6Ext
	tcp     layers.TCP
	payload gopacket.Payload
	decoded []gopacket.LayerType

	byFirst map[gopacket.LayerType]*gopacket.DecodingLayerParser
}

// NewDecoder returns a Decoder ready for any supported link type.
func NewDecoder() *Decoder {
	d := &Decoder{decoded: make([]gopacket.LayerType, 0, 12), byFirst: map[gopacket.LayerType]*gopacket.DecodingLayerParser{}}
	d.ext.ip6 = &d.ip6
	for _, first := range []gopacket.LayerType{
		layers.LayerTypeEthernet, layers.LayerTypeLinuxSLL, layers.LayerTypeLinuxSLL2,
		layers.LayerTypeLoopback, layers.LayerTypeIPv4, layers.LayerTypeIPv6,
	} {
		p := gopacket.NewDecodingLayerParser(first)
		// An array indexed by layer type: faster than the default map.
		var dlc gopacket.DecodingLayerContainer = gopacket.DecodingLayerSparse(nil)
		for _, l := range []gopacket.DecodingLayer{&d.eth, &d.dot1q, &d.sll, &d.sll2, &d.loop, &d.ip4, &d.ip6, &d.ext, &d.tcp, &d.payload} {
			dlc = dlc.Put(l)
		}
		p.SetDecodingLayerContainer(dlc)
		d.byFirst[first] = p
	}
	return d
}

// SupportedLinkType reports whether Decode understands frames of lt.
func SupportedLinkType(lt layers.LinkType) bool {
	return firstLayer(lt, nil) != gopacket.LayerTypeZero
}

// firstLayer maps a link type to the layer its frames start with; raw IP
// link types look at the version nibble of data (nil: any IP version).
func firstLayer(lt layers.LinkType, data []byte) gopacket.LayerType {
	switch lt {
	case layers.LinkTypeEthernet:
		return layers.LayerTypeEthernet
	case layers.LinkTypeLinuxSLL:
		return layers.LayerTypeLinuxSLL
	case layers.LinkTypeLinuxSLL2:
		return layers.LayerTypeLinuxSLL2
	case layers.LinkTypeNull, layers.LinkTypeLoop:
		return layers.LayerTypeLoopback
	case layers.LinkTypeIPv4:
		return layers.LayerTypeIPv4
	case layers.LinkTypeIPv6:
		return layers.LayerTypeIPv6
	case layers.LinkTypeRaw, 12, 14: // 12 and 14: DLT_RAW on some BSDs
		if len(data) > 0 && data[0]>>4 == 6 {
			return layers.LayerTypeIPv6
		}
		return layers.LayerTypeIPv4
	}
	return gopacket.LayerTypeZero
}

// Decode decodes one frame of link type lt into seg. It reports false with
// a nil error for frames that are not TCP (ARP, UDP, ICMP, IP fragments);
// a frame that is TCP, or cannot be told, but is malformed gives a
// *DecodeError with Packet left 0 for the caller to fill in.
func (d *Decoder) Decode(lt layers.LinkType, data []byte, seg *Segment) (bool, error) {
	if fastDecode(lt, data, seg) {
		return true, nil
	}
	return d.decodeLayers(lt, data, seg)
}

// decodeLayers decodes with gopacket's layers: every case the fast path
// leaves to it, and every malformed frame, whose error it describes.
func (d *Decoder) decodeLayers(lt layers.LinkType, data []byte, seg *Segment) (bool, error) {
	first := firstLayer(lt, data)
	p := d.byFirst[first]
	if p == nil {
		return false, &DecodeError{Layer: lt.String(), Err: ErrUnknownLinkType}
	}
	err := p.DecodeLayers(data, &d.decoded)
	tcpAt := -1
	for i, t := range d.decoded {
		if t == layers.LayerTypeTCP {
			tcpAt = i
			break
		}
	}
	if err != nil {
		if _, unsupported := err.(gopacket.UnsupportedLayerType); unsupported {
			if tcpAt >= 0 {
				// Nothing after TCP matters.
				err = nil
			} else {
				return false, nil // not TCP, or a non-first IP fragment
			}
		} else if tcpAt < 0 {
			return false, d.errorAt(data, err, p.Truncated)
		}
		// TCP decoded; a failure in what follows (payload) does not matter.
	}
	if tcpAt < 0 {
		return false, nil
	}
	return true, d.fill(seg, tcpAt)
}

// errorAt builds the DecodeError for a failure in the layer after the last
// one decoded.
func (d *Decoder) errorAt(data []byte, err error, truncated bool) *DecodeError {
	off, layer := 0, "link layer"
	if n := len(d.decoded); n > 0 {
		last := d.decoded[n-1]
		if l := d.layer(last); l != nil {
			off = len(data) - len(l.LayerPayload())
		}
		layer = "after " + last.String()
		switch last {
		case layers.LayerTypeIPv4, layers.LayerTypeIPv6, layers.LayerTypeIPv6Routing, layers.LayerTypeIPv6Destination,
			layers.LayerTypeIPv6Fragment, layers.LayerTypeIPSecAH:
			layer = "TCP"
			if d.ip4.Protocol != layers.IPProtocolTCP && last == layers.LayerTypeIPv4 {
				layer = "IPv4 payload"
			}
		case layers.LayerTypeEthernet, layers.LayerTypeDot1Q, layers.LayerTypeLinuxSLL,
			layers.LayerTypeLinuxSLL2, layers.LayerTypeLoopback:
			layer = "IP"
		}
	}
	if off < 0 {
		off = 0
	}
	cause := ErrBadHeader
	if truncated {
		cause = ErrTruncated
	}
	return &DecodeError{Offset: off, Layer: layer, Err: fmt.Errorf("%w: %v", cause, err)}
}

func (d *Decoder) layer(t gopacket.LayerType) gopacket.DecodingLayer {
	switch t {
	case layers.LayerTypeEthernet:
		return &d.eth
	case layers.LayerTypeDot1Q:
		return &d.dot1q
	case layers.LayerTypeLinuxSLL:
		return &d.sll
	case layers.LayerTypeLinuxSLL2:
		return &d.sll2
	case layers.LayerTypeLoopback:
		return &d.loop
	case layers.LayerTypeIPv4:
		return &d.ip4
	case layers.LayerTypeIPv6:
		return &d.ip6
	case layers.LayerTypeIPv6Routing, layers.LayerTypeIPv6Destination, layers.LayerTypeIPv6Fragment, layers.LayerTypeIPSecAH:
		return &d.ext
	case layers.LayerTypeTCP:
		return &d.tcp
	}
	return nil
}

// fill copies what the tracker needs out of the decoded layers; the IP
// layer is the one just before TCP (possibly after extension headers).
func (d *Decoder) fill(seg *Segment, tcpAt int) error {
	tcp := &d.tcp
	hdr := int(tcp.DataOffset) * 4
	var src, dst netip.Addr
	segLen, ipHdr := -1, 0
	for i := tcpAt - 1; i >= 0; i-- {
		switch d.decoded[i] {
		case layers.LayerTypeIPv4:
			src = addr4(d.ip4.SrcIP)
			dst = addr4(d.ip4.DstIP)
			ipHdr = int(d.ip4.IHL) * 4
			segLen = int(d.ip4.Length) - ipHdr
		case layers.LayerTypeIPv6:
			src = addr16(d.ip6.SrcIP)
			dst = addr16(d.ip6.DstIP)
			ipHdr = 40
			if d.ip6.HopByHop != nil {
				ipHdr += len(d.ip6.HopByHop.Contents)
			}
			if i+1 < tcpAt && isIPv6Ext(d.decoded[i+1]) {
				ipHdr += d.ext.total
			}
			segLen = 40 + int(d.ip6.Length) - ipHdr
			if d.ip6.Length == 0 { // jumbogram or TSO: trust what was captured
				segLen = len(tcp.Contents) + len(tcp.Payload)
			}
		default:
			continue
		}
		break
	}
	if !src.IsValid() {
		return &DecodeError{Layer: "IP", Err: ErrBadHeader}
	}
	if segLen < hdr {
		// A header that claims less than the TCP header: take what the
		// frame holds rather than reject it (seen with some offload paths).
		segLen = hdr + len(tcp.Payload)
	}
	*seg = Segment{
		Src:    netip.AddrPortFrom(src, uint16(tcp.SrcPort)),
		Dst:    netip.AddrPortFrom(dst, uint16(tcp.DstPort)),
		Seq:    tcp.Seq,
		Ack:    tcp.Ack,
		Window: tcp.Window,
		Len:    segLen - hdr,
		IPLen:  ipHdr + segLen,
		WScale: -1,
	}
	seg.Payload = tcp.Payload[:min(len(tcp.Payload), max(seg.Len, 0))]
	var f Flags
	if tcp.FIN {
		f |= FIN
	}
	if tcp.SYN {
		f |= SYN
	}
	if tcp.RST {
		f |= RST
	}
	if tcp.PSH {
		f |= PSH
	}
	if tcp.ACK {
		f |= ACK
	}
	if tcp.URG {
		f |= URG
	}
	if tcp.ECE {
		f |= ECE
	}
	if tcp.CWR {
		f |= CWR
	}
	seg.Flags = f
	for _, l := range d.decoded[:tcpAt] {
		switch l {
		case layers.LayerTypeLinuxSLL:
			seg.Dir = sllDirection(uint16(d.sll.PacketType))
		case layers.LayerTypeLinuxSLL2:
			seg.Dir = sllDirection(uint16(d.sll2.PacketType))
		}
	}
	if tcp.SYN {
		for _, o := range tcp.Options {
			switch o.OptionType {
			case layers.TCPOptionKindMSS:
				if len(o.OptionData) == 2 {
					seg.MSS = uint16(o.OptionData[0])<<8 | uint16(o.OptionData[1])
				}
			case layers.TCPOptionKindWindowScale:
				if len(o.OptionData) == 1 {
					ws := o.OptionData[0]
					if ws > 14 {
						ws = 14 // RFC 7323: larger values are treated as 14
					}
					seg.WScale = int8(ws)
				}
			}
		}
	}
	return nil
}

func addr4(ip []byte) netip.Addr {
	if len(ip) != 4 {
		return netip.Addr{}
	}
	return netip.AddrFrom4([4]byte(ip))
}

func addr16(ip []byte) netip.Addr {
	if len(ip) != 16 {
		return netip.Addr{}
	}
	return netip.AddrFrom16([16]byte(ip))
}

// isIPv6Ext reports whether t is one of the layer types ipv6Ext decodes.
// DecodingLayerParser records the type it asked for, not the layer's own.
func isIPv6Ext(t gopacket.LayerType) bool {
	switch t {
	case layers.LayerTypeIPv6Routing, layers.LayerTypeIPv6Destination, layers.LayerTypeIPv6Fragment, layers.LayerTypeIPSecAH:
		return true
	}
	return false
}

// ipv6ExtType is the layer type of ipv6Ext, registered once.
var ipv6ExtType = gopacket.RegisterLayerType(1_300_001, gopacket.LayerTypeMetadata{Name: "IPv6Extensions"})

// ipv6Ext walks the chain of IPv6 extension headers (routing, destination
// options, fragment, authentication, mobility) that follows the fixed
// header and its hop-by-hop options, which layers.IPv6 handles itself.
// The whole chain is one layer, so it needs the IPv6 layer's next header.
type ipv6Ext struct {
	layers.BaseLayer
	ip6   *layers.IPv6
	next  layers.IPProtocol
	total int  // bytes of extension headers
	frag  bool // a fragment: the TCP segment is not whole in this packet
}

func (e *ipv6Ext) LayerType() gopacket.LayerType { return ipv6ExtType }

func (e *ipv6Ext) CanDecode() gopacket.LayerClass {
	return gopacket.NewLayerClass([]gopacket.LayerType{
		layers.LayerTypeIPv6Routing, layers.LayerTypeIPv6Destination,
		layers.LayerTypeIPv6Fragment, layers.LayerTypeIPSecAH,
	})
}

func (e *ipv6Ext) NextLayerType() gopacket.LayerType {
	if e.frag {
		return gopacket.LayerTypeFragment
	}
	return e.next.LayerType()
}

func (e *ipv6Ext) DecodeFromBytes(data []byte, df gopacket.DecodeFeedback) error {
	nh := e.ip6.NextHeader
	if e.ip6.HopByHop != nil {
		nh = e.ip6.HopByHop.NextHeader
	}
	e.frag, e.total = false, 0
	off := 0
	for {
		var n int
		switch nh {
		case layers.IPProtocolIPv6Routing, layers.IPProtocolIPv6Destination, 135, 139, 140:
			if len(data) < off+2 {
				df.SetTruncated()
				return errors.New("IPv6 extension header too short")
			}
			n = (int(data[off+1]) + 1) * 8
		case layers.IPProtocolIPv6Fragment:
			n = 8
			e.frag = true
		case layers.IPProtocolAH:
			if len(data) < off+2 {
				df.SetTruncated()
				return errors.New("IPv6 extension header too short")
			}
			n = (int(data[off+1]) + 2) * 4
		default:
			e.next = nh
			e.total = off
			e.BaseLayer = layers.BaseLayer{Contents: data[:off], Payload: data[off:]}
			return nil
		}
		if len(data) < off+n {
			df.SetTruncated()
			return errors.New("IPv6 extension header too short")
		}
		nh = layers.IPProtocol(data[off])
		off += n
		if e.frag {
			e.next = nh
			e.total = off
			e.BaseLayer = layers.BaseLayer{Contents: data[:off], Payload: data[off:]}
			return nil
		}
	}
}
