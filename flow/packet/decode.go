package packet

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"
	"time"

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

// Decoder turns link-layer frames into Segments. It reuses its buffers and
// holds IP fragments from one frame to the next: a Decoder must not be
// used concurrently.
type Decoder struct {
	eth     layers.Ethernet
	dot1q   layers.Dot1Q
	sll     sllLayer
	sll2    sll2Layer
	loop    layers.Loopback
	ip4     layers.IPv4
	ip6     ip6Layer
	ext     ipv6Ext
	tcp     layers.TCP
	payload gopacket.Payload
	// The tunnels of mirror ports and cloud traffic mirrors, decoded
	// without allocating; the inner layers reuse the outer ones' structs.
	udp     layers.UDP
	vxlan   layers.VXLAN
	geneve  layers.Geneve
	gre     layers.GRE
	erspan  layers.ERSPANII
	gtp     layers.GTPv1U
	decoded []gopacket.LayerType

	byFirst map[gopacket.LayerType]*gopacket.DecodingLayerParser

	frags fragments // IP fragments of TCP segments, until whole
	// at is the capture time of the frame being decoded, past the fast
	// path: fragments are held and given up in capture time.
	at time.Time
	// other, after a frame that is not TCP, names what it holds ("UDP",
	// "ARP", "IP fragment"): every path that reports such a frame sets it.
	other string
}

// NewDecoder returns a Decoder ready for any supported link type.
func NewDecoder() *Decoder {
	d := &Decoder{decoded: make([]gopacket.LayerType, 0, 12), byFirst: map[gopacket.LayerType]*gopacket.DecodingLayerParser{}}
	d.ext.ip6 = &d.ip6.IPv6
	// An array indexed by layer type: faster than the default map. The
	// parsers only look layers up in it: one serves them all.
	var dlc gopacket.DecodingLayerContainer = gopacket.DecodingLayerSparse(nil)
	for _, l := range []gopacket.DecodingLayer{&d.eth, &d.dot1q, &d.sll, &d.sll2, &d.loop, &d.ip4, &d.ip6, &d.ext, &d.tcp, &d.payload,
		&d.udp, &d.vxlan, &d.geneve, &d.gre, &d.erspan, &d.gtp} {
		dlc = dlc.Put(l)
	}
	for _, first := range []gopacket.LayerType{
		layers.LayerTypeEthernet, layers.LayerTypeLinuxSLL, layers.LayerTypeLinuxSLL2,
		layers.LayerTypeLoopback, layers.LayerTypeIPv4, layers.LayerTypeIPv6,
	} {
		p := gopacket.NewDecodingLayerParser(first)
		p.SetDecodingLayerContainer(dlc)
		d.byFirst[first] = p
	}
	return d
}

// firstLayer maps a link type to the layer its frames start with; raw IP
// link types look at the version nibble of data (nil: any IP version).
// Link types the layered parser does not take give LayerTypeZero.
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

// Decode decodes one frame of link type lt, captured at at, into seg. It
// reports false with a nil error for frames that are not TCP (ARP, UDP,
// ICMP, an IP fragment held until its datagram is whole), which Other
// then names; a frame that is TCP, or cannot be told, but is malformed
// gives a *DecodeError with Packet left 0 for the caller to fill in.
func (d *Decoder) Decode(lt layers.LinkType, data []byte, at time.Time, seg *Segment) (bool, error) {
	if fastDecode(lt, data, seg) {
		return true, nil
	}
	d.at = at
	return d.decodeLayers(lt, data, seg)
}

// Other names what the last frame Decode reported as not TCP held:
// "UDP", "ARP", "IP fragment", "EtherType 0x88cc".
func (d *Decoder) Other() string { return d.other }

// decodeLayers decodes with gopacket's layers: every case the fast path
// leaves to it, and every malformed frame, whose error it describes.
// Encapsulations and link types the layered parser does not take go on
// to decodeOther; IP fragments of TCP to the defragmenters.
func (d *Decoder) decodeLayers(lt layers.LinkType, data []byte, seg *Segment) (bool, error) {
	p := d.byFirst[firstLayer(lt, data)]
	if p == nil {
		if otherLinkType(lt) {
			return d.decodeOther(lt, data, seg)
		}
		return false, &DecodeError{Layer: lt.String(), Err: ErrUnknownLinkType}
	}
	err := p.DecodeLayers(data, &d.decoded)
	for i, t := range d.decoded {
		if t == layers.LayerTypeTCP {
			// A failure in what follows TCP (payload) does not matter.
			return filled(d.fill(seg, i, false))
		}
	}
	if len(d.decoded) == 0 {
		if err == nil {
			d.other = "empty frame"
			return false, nil
		}
		return false, d.errorAt(data, err, p.Truncated)
	}
	last := d.decoded[len(d.decoded)-1]
	var next gopacket.LayerType
	if ut, ok := err.(gopacket.UnsupportedLayerType); ok {
		next = gopacket.LayerType(ut)
	}
	switch {
	case d.encapsulated(last, next):
		return d.decodeOther(lt, data, seg)
	case next == gopacket.LayerTypeFragment:
		if last == layers.LayerTypeIPv4 && d.ip4.Protocol == layers.IPProtocolTCP {
			return d.defrag(seg)
		}
		if isIPv6Ext(last) && d.ext.frag {
			return d.defrag6(seg)
		}
		d.other = "IP fragment"
		return false, nil
	case err == nil || next != gopacket.LayerTypeZero:
		d.other = d.otherName(last, next)
		return false, nil
	case d.cutHeader(last):
		d.decoded = append(d.decoded, layers.LayerTypeTCP)
		return filled(d.fill(seg, len(d.decoded)-1, true))
	case d.inTunnel():
		if l := d.layer(last); l == nil || l.NextLayerType() != layers.LayerTypeTCP {
			d.other = "undecodable " + d.otherName(last, next)
			return false, nil
		}
	}
	return false, d.errorAt(data, err, p.Truncated)
}

// encapsulated reports whether the layered parser stopped, before any
// TCP, at an encapsulation that decodeOther unwraps: the next layer it
// has no decoder for, or what the last one it decoded carries.
func (d *Decoder) encapsulated(last, next gopacket.LayerType) bool {
	switch next {
	case layers.LayerTypeLLC, layers.LayerTypeMPLS, layers.LayerTypePPPoE, layers.LayerTypePPP, layers.LayerTypeEtherIP:
		return true
	}
	if last == gopacket.LayerTypePayload && len(d.decoded) > 1 {
		last = d.decoded[len(d.decoded)-2]
	}
	switch last {
	case layers.LayerTypeEthernet:
		return next == gopacket.LayerTypeZero && d.eth.EthernetType == ethernetTypePBB
	case layers.LayerTypeDot1Q:
		return next == gopacket.LayerTypeZero && d.dot1q.Type == ethernetTypePBB
	case layers.LayerTypeGRE:
		return d.gre.Protocol == greERSPAN3
	case layers.LayerTypeUDP:
		return d.udp.SrcPort == udpTeredo || d.udp.DstPort == udpTeredo || d.udp.DstPort == udpVXLANLinux
	}
	return false
}

// inTunnel reports whether the layers decoded cross a tunnel, inside
// which a failure is the tunnel's business (random UDP on its port), not
// a TCP packet's: unless it is TCP itself that fails.
func (d *Decoder) inTunnel() bool {
	for _, t := range d.decoded {
		if _, ok := tunnelLayers[t]; ok || t == layers.LayerTypeUDP {
			return true
		}
	}
	return false
}

// otherName names what a frame that is not TCP holds, for the count of
// what a capture without TCP holds.
func (d *Decoder) otherName(last, next gopacket.LayerType) string {
	if last == gopacket.LayerTypePayload && len(d.decoded) > 1 {
		last = d.decoded[len(d.decoded)-2]
	}
	if last == layers.LayerTypeUDP { // not what an application protocol in it is
		return "UDP"
	}
	if next != gopacket.LayerTypeZero && next != gopacket.LayerTypePayload {
		return next.String()
	}
	switch last {
	case layers.LayerTypeIPv4:
		return "IP protocol " + d.ip4.Protocol.String()
	case layers.LayerTypeIPv6:
		return "IP protocol " + d.ip6.NextHeader.String()
	case layers.LayerTypeEthernet:
		return fmt.Sprintf("EtherType 0x%04x", uint16(d.eth.EthernetType))
	case layers.LayerTypeDot1Q:
		return fmt.Sprintf("EtherType 0x%04x", uint16(d.dot1q.Type))
	case layers.LayerTypeLinuxSLL:
		return fmt.Sprintf("EtherType 0x%04x", uint16(d.sll.EthernetType))
	case layers.LayerTypeLinuxSLL2:
		return fmt.Sprintf("EtherType 0x%04x", uint16(d.sll2.ProtocolType))
	}
	if isIPv6Ext(last) {
		return "IP protocol " + d.ext.next.String()
	}
	return last.String()
}

// cutHeader decodes, into d.tcp, a TCP header that follows the last layer
// decoded and that the snap length cut within its options.
func (d *Decoder) cutHeader(last gopacket.LayerType) bool {
	l := d.layer(last)
	return l != nil && l.NextLayerType() == layers.LayerTypeTCP && cutTCP(&d.tcp, l.LayerPayload())
}

// cutTCP decodes the fixed header of a TCP segment whose options the snap
// length cut (tcpdump -s 64), which gopacket rejects ("TCP data offset
// greater than packet length"). Contents holds the bytes captured;
// Options are left empty, for the caller to walk what was captured.
func cutTCP(t *layers.TCP, b []byte) bool {
	if len(b) < 20 {
		return false
	}
	off := b[12] >> 4
	if off < 5 || int(off)*4 <= len(b) {
		return false
	}
	f := b[13]
	*t = layers.TCP{
		SrcPort:    layers.TCPPort(binary.BigEndian.Uint16(b[0:2])),
		DstPort:    layers.TCPPort(binary.BigEndian.Uint16(b[2:4])),
		Seq:        binary.BigEndian.Uint32(b[4:8]),
		Ack:        binary.BigEndian.Uint32(b[8:12]),
		DataOffset: off,
		FIN:        f&0x01 != 0,
		SYN:        f&0x02 != 0,
		RST:        f&0x04 != 0,
		PSH:        f&0x08 != 0,
		ACK:        f&0x10 != 0,
		URG:        f&0x20 != 0,
		ECE:        f&0x40 != 0,
		CWR:        f&0x80 != 0,
		NS:         b[12]&0x01 != 0,
		Window:     binary.BigEndian.Uint16(b[14:16]),
		Checksum:   binary.BigEndian.Uint16(b[16:18]),
		Urgent:     binary.BigEndian.Uint16(b[18:20]),
	}
	t.Contents = b
	return true
}

// filled is what the decoder reports for a TCP segment whose fields were
// filled in with err: a segment, or an error.
func filled(err error) (bool, error) {
	return err == nil, err
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
	case layers.LayerTypeUDP:
		return &d.udp
	case layers.LayerTypeVXLAN:
		return &d.vxlan
	case layers.LayerTypeGeneve:
		return &d.geneve
	case layers.LayerTypeGRE:
		return &d.gre
	case layers.LayerTypeERSPANII:
		return &d.erspan
	case layers.LayerTypeGTPv1U:
		return &d.gtp
	}
	return nil
}

// fill copies what the tracker needs out of the decoded layers; the IP
// layer is the one just before TCP (possibly after extension headers).
// cut: d.tcp is a header cut within its options (cutTCP).
func (d *Decoder) fill(seg *Segment, tcpAt int, cut bool) error {
	var ip ipInfo
	for i := tcpAt - 1; i >= 0 && !ip.src.IsValid(); i-- {
		switch d.decoded[i] {
		case layers.LayerTypeIPv4:
			ip = ip4Info(&d.ip4)
		case layers.LayerTypeIPv6:
			ext := 0
			if d.ip6.HopByHop != nil {
				ext += len(d.ip6.HopByHop.Contents)
			}
			if i+1 < tcpAt && isIPv6Ext(d.decoded[i+1]) {
				ext += d.ext.total
			}
			ip = ip6Info(&d.ip6.IPv6, ext)
		}
	}
	if err := fillTCP(seg, ip, &d.tcp, cut); err != nil {
		return err
	}
	ips := 0
	for _, l := range d.decoded[:tcpAt] {
		switch l {
		case layers.LayerTypeLinuxSLL:
			seg.Dir = sllDirection(uint16(d.sll.PacketType), d.sll.AddrType)
		case layers.LayerTypeLinuxSLL2:
			seg.Dir = sllDirection(uint16(d.sll2.PacketType), uint16(d.sll2.ARPHardwareType))
			seg.Iface = d.sll2.InterfaceIndex
		case layers.LayerTypeIPv4, layers.LayerTypeIPv6:
			ips++
		default:
			if t, ok := tunnelLayers[l]; ok {
				seg.Tunnel = t // the innermost
			}
		}
	}
	if ips > 1 && seg.Tunnel == NoTunnel {
		seg.Tunnel = IPinIP
	}
	return nil
}

// ipInfo is what a segment takes from the IP header before it.
type ipInfo struct {
	src, dst netip.Addr
	hdr      int    // the IP header's length, extension headers included
	segLen   int    // the TCP segment's length it declares; -1: none (IPv6 payload length 0)
	id       uint16 // IPv4's identification
}

func ip4Info(ip *layers.IPv4) ipInfo {
	hdr := int(ip.IHL) * 4
	return ipInfo{addr4(ip.SrcIP), addr4(ip.DstIP), hdr, int(ip.Length) - hdr, ip.Id}
}

// ip6Info: ext is the length of the extension headers, hop-by-hop
// options included.
func ip6Info(ip *layers.IPv6, ext int) ipInfo {
	in := ipInfo{src: addr16(ip.SrcIP), dst: addr16(ip.DstIP), hdr: 40 + ext, segLen: int(ip.Length) - ext}
	if ip.Length == 0 { // a jumbogram: what was captured
		in.segLen = -1
	}
	return in
}

// fillTCP fills seg from a decoded TCP header and the IP header before it.
func fillTCP(seg *Segment, ip ipInfo, tcp *layers.TCP, cut bool) error {
	if !ip.src.IsValid() {
		return &DecodeError{Layer: "IP", Err: ErrBadHeader}
	}
	hdr := int(tcp.DataOffset) * 4
	segLen := ip.segLen
	if segLen < 0 {
		segLen = len(tcp.Contents) + len(tcp.Payload)
	}
	if segLen < hdr {
		if cut {
			// Not the snap length: the IP header says the datagram
			// ends inside the TCP header.
			return &DecodeError{Layer: "TCP", Err: fmt.Errorf("%w: IP length %d shorter than the TCP header (%d)", ErrBadHeader, segLen, hdr)}
		}
		// A header that claims less than the TCP header: take what the
		// frame holds rather than reject it (seen with some offload paths).
		segLen = hdr + len(tcp.Payload)
	}
	*seg = Segment{
		Src:        netip.AddrPortFrom(ip.src, uint16(tcp.SrcPort)),
		Dst:        netip.AddrPortFrom(ip.dst, uint16(tcp.DstPort)),
		Seq:        tcp.Seq,
		Ack:        tcp.Ack,
		Window:     tcp.Window,
		IPID:       ip.id,
		Checksum:   tcp.Checksum,
		Len:        segLen - hdr,
		IPLen:      ip.hdr + segLen,
		WScale:     -1,
		OptionsCut: cut,
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
	if !tcp.SYN {
		return nil
	}
	if cut {
		cutOptions(tcp.Contents[20:], seg)
		return nil
	}
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
			if len(data) < off+n {
				df.SetTruncated()
				return errors.New("IPv6 extension header too short")
			}
			// Offset 0 and no more fragments: an atomic fragment (RFC
			// 6946), the whole datagram, as sent after an ICMPv6 Packet
			// Too Big. Its next header follows.
			e.frag = binary.BigEndian.Uint16(data[off+2:off+4])&0xfff9 != 0
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

// ip6Layer is gopacket's IPv6 that also takes a payload length of 0
// without a jumbo payload option, as captured on a host whose NIC
// segments (TSO): the length is then what was captured.
type ip6Layer struct {
	layers.IPv6
	patched []byte // the frame's IPv6 datagram with its length filled in
}

func (ip *ip6Layer) DecodeFromBytes(data []byte, df gopacket.DecodeFeedback) error {
	err := ip.IPv6.DecodeFromBytes(data, df)
	if err == nil || len(data) <= 40 || data[4] != 0 || data[5] != 0 {
		return err
	}
	// Decode a copy with the captured length; the layers after point
	// into the copy, valid until the next frame as the frame itself.
	ip.patched = append(ip.patched[:0], data...)
	binary.BigEndian.PutUint16(ip.patched[4:6], uint16(min(len(data)-40, 0xffff)))
	return ip.IPv6.DecodeFromBytes(ip.patched, df)
}

// sllLayer is gopacket's Linux cooked header that also takes an address
// length over 8, as tshark does: the header is 16 bytes all the same,
// its address field an 8-byte window (some drivers report longer
// hardware addresses, InfiniBand's 20).
type sllLayer struct{ layers.LinuxSLL }

func (sll *sllLayer) DecodeFromBytes(data []byte, df gopacket.DecodeFeedback) error {
	if len(data) < 16 || binary.BigEndian.Uint16(data[4:6]) <= 8 {
		return sll.LinuxSLL.DecodeFromBytes(data, df)
	}
	sll.PacketType = layers.LinuxSLLPacketType(binary.BigEndian.Uint16(data[0:2]))
	sll.AddrType = binary.BigEndian.Uint16(data[2:4])
	sll.AddrLen = binary.BigEndian.Uint16(data[4:6])
	sll.Addr = data[6:14]
	sll.EthernetType = layers.EthernetType(binary.BigEndian.Uint16(data[14:16]))
	sll.BaseLayer = layers.BaseLayer{Contents: data[:16], Payload: data[16:]}
	return nil
}

// sll2Layer is sllLayer for the Linux cooked header v2.
type sll2Layer struct{ layers.LinuxSLL2 }

func (sll *sll2Layer) DecodeFromBytes(data []byte, df gopacket.DecodeFeedback) error {
	if len(data) < 20 || data[11] <= 8 {
		return sll.LinuxSLL2.DecodeFromBytes(data, df)
	}
	sll.ProtocolType = layers.EthernetType(binary.BigEndian.Uint16(data[0:2]))
	sll.InterfaceIndex = binary.BigEndian.Uint32(data[4:8])
	sll.ARPHardwareType = layers.ARPHardwareType(binary.BigEndian.Uint16(data[8:10]))
	sll.PacketType = layers.LinuxSLL2PacketType(data[10])
	sll.AddrLength = data[11]
	sll.Addr = data[12:20]
	sll.BaseLayer = layers.BaseLayer{Contents: data[:20], Payload: data[20:]}
	return nil
}
