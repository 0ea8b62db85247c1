package packet

import (
	"encoding/binary"
	"fmt"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
)

// Encapsulations, and their numbers, that gopacket has no decoder for.
const (
	// ethernetTypePBB is 802.1ah's I-TAG (provider backbone bridging): a
	// 4-byte tag, then the customer's whole Ethernet frame.
	ethernetTypePBB = 0x88e7
	// greERSPAN3 is ERSPAN type III in GRE: a 12-byte header (20 with its
	// platform subheader), then the mirrored Ethernet frame.
	greERSPAN3 = 0x22eb
	// udpTeredo carries IPv6 in UDP (RFC 4380), after optional
	// authentication and origin indicators.
	udpTeredo = 3544
	// udpVXLANLinux is the port Linux's vxlan used before IANA's 4789.
	udpVXLANLinux = 8472
)

// maxNesting bounds the encapsulations unwrapped in one frame beyond
// those gopacket decodes by itself.
const maxNesting = 4

// otherLinkType reports whether decodeOther reads frames of lt: link
// types rarer than those the layered parser takes.
func otherLinkType(lt layers.LinkType) bool {
	switch lt {
	case layers.LinkTypePPP, layers.LinkTypePPP_HDLC, layers.LinkTypeC_HDLC, layers.LinkTypeFDDI,
		layers.LinkTypeIEEE802_11, layers.LinkTypeIEEE80211Radio, layers.LinkTypePrismHeader,
		layers.LinkTypePFLog, LinkTypeNFLOG, LinkTypePKTAP, layers.LinkTypePPPEthernet, layers.LinkTypeATM_RFC1483:
		return true
	}
	return false
}

// pktapFrame is the frame an Apple PKTAP record carries, and its link
// type: the header gives its own length and the frame's link type.
func pktapFrame(b []byte) ([]byte, layers.LinkType, bool) {
	if len(b) < 12 {
		return nil, 0, false
	}
	n := int(binary.LittleEndian.Uint32(b[0:4]))
	lt := layers.LinkType(binary.LittleEndian.Uint32(b[8:12]))
	if n < 12 || n > len(b) || binary.LittleEndian.Uint32(b[4:8]) != 1 { // PTH_TYPE_PACKET
		return nil, 0, false
	}
	return b[n:], lt, true
}

// tunnelLayers are the encapsulations gopacket decodes.
var tunnelLayers = map[gopacket.LayerType]Tunnel{
	layers.LayerTypeVXLAN:    VXLAN,
	layers.LayerTypeGeneve:   Geneve,
	layers.LayerTypeGRE:      GRE,
	layers.LayerTypeERSPANII: ERSPAN2,
	layers.LayerTypeMPLS:     MPLS,
	layers.LayerTypePPPoE:    PPPoE,
	layers.LayerTypeGTPv1U:   GTPU,
	layers.LayerTypeEtherIP:  EtherIP,
}

// decodeOther decodes what the layered parser leaves: tunnels and
// encapsulations, and the rarer link types (PPP, 802.11, FDDI...). It
// takes gopacket's full decoders, which allocate (this path is for
// rarities), and the first TCP segment they find after an IP header: the
// inner connection of a tunnel. Encapsulations gopacket does not know
// (Teredo, 802.1ah, ERSPAN type III, VXLAN on Linux's old port, MPLS
// pseudowires, NFLOG, Cisco HDLC) are unwrapped here and their inner
// frame decoded again. seg.Tunnel is the encapsulation the segment was
// found in.
func (d *Decoder) decodeOther(lt layers.LinkType, data []byte, seg *Segment) (bool, error) {
	orig := data
	var first gopacket.Decoder = lt
	switch lt {
	case LinkTypePKTAP:
		inner, ilt, ok := pktapFrame(data)
		if !ok || ilt == LinkTypePKTAP || !SupportedLinkType(ilt) {
			d.other = "PKTAP without a frame"
			return false, nil
		}
		if fastDecode(ilt, inner, seg) {
			return true, nil
		}
		return d.decodeLayers(ilt, inner, seg)
	case layers.LinkTypePPP_HDLC: // PPP in HDLC-like framing: decodePPP skips its 0xff 0x03
		first = layers.LinkTypePPP
	case layers.LinkTypePPPEthernet: // PPPoE without its Ethernet header
		first = layers.LayerTypePPPoE
	case layers.LinkTypeATM_RFC1483: // LLC/SNAP on ATM
		first = layers.LayerTypeLLC
	case layers.LinkTypeC_HDLC: // address, control, then an EtherType
		if len(data) < 4 {
			return false, &DecodeError{Layer: "Cisco HDLC", Err: ErrTruncated}
		}
		first, data = layers.EthernetType(binary.BigEndian.Uint16(data[2:4])), data[4:]
	case LinkTypeNFLOG:
		var ok bool
		if data, first, ok = nflogPacket(data); !ok {
			d.other = "NFLOG without a packet"
			return false, nil
		}
	}
	via := NoTunnel
	for range maxNesting {
		pkt := gopacket.NewPacket(data, first, gopacket.DecodeOptions{NoCopy: true})
		ls := pkt.Layers()
		ip := -1
		for i, l := range ls {
			switch l.LayerType() {
			case layers.LayerTypeIPv4, layers.LayerTypeIPv6:
				ip = i
			case layers.LayerTypeTCP:
				if ip < 0 {
					continue
				}
				return filledIn(seg, ls[:ip], via, fillTCP(seg, layerIPInfo(ls[ip:i]), l.(*layers.TCP), false))
			}
		}
		n := len(ls)
		if _, failed := pkt.ErrorLayer().(*gopacket.DecodeFailure); failed && ip >= 0 && n >= 2 {
			// TCP after an IP header, and gopacket failed on it: cut by
			// the snap length within its options, or malformed.
			if nl, ok := ls[n-2].(interface{ NextLayerType() gopacket.LayerType }); ok && nl.NextLayerType() == layers.LayerTypeTCP {
				b := ls[n-1].LayerContents()
				if cutTCP(&d.tcp, b) {
					return filledIn(seg, ls[:ip], via, fillTCP(seg, layerIPInfo(ls[ip:n-1]), &d.tcp, true))
				}
				off := cap(orig) - cap(b)
				if off < 0 || off > len(orig) {
					off = 0
				}
				return false, &DecodeError{Offset: off, Layer: "TCP", Err: fmt.Errorf("%w: %v", ErrBadHeader, pkt.ErrorLayer().Error())}
			}
		}
		inner, next, tunnel := unwrap(ls)
		if inner == nil {
			d.other = lastName(ls)
			return false, nil
		}
		data, first, via = inner, next, tunnel
	}
	d.other = "nested too deep"
	return false, nil
}

// filledIn is filled for a segment found after the layers outer (and
// the encapsulation via, unwrapped by hand), which give its tunnel.
func filledIn(seg *Segment, outer []gopacket.Layer, via Tunnel, err error) (bool, error) {
	if err == nil {
		seg.Tunnel = tunnelOf(outer, via)
	}
	return filled(err)
}

// wholeLayer is the last layer of ls that gopacket decoded: not a failure
// nor an undecoded payload; -1 if none.
func wholeLayer(ls []gopacket.Layer) int {
	i := len(ls) - 1
	for ; i >= 0; i-- {
		switch ls[i].(type) {
		case *gopacket.DecodeFailure, *gopacket.Payload:
			continue
		}
		break
	}
	return i
}

// lastName names what a frame without TCP holds.
func lastName(ls []gopacket.Layer) string {
	if i := wholeLayer(ls); i >= 0 {
		return ls[i].LayerType().String()
	}
	return "undecodable"
}

// tunnelOf is the innermost encapsulation among the layers before the
// inner IP header; else via, the one unwrapped by hand.
func tunnelOf(ls []gopacket.Layer, via Tunnel) Tunnel {
	for i := len(ls) - 1; i >= 0; i-- {
		if t, ok := tunnelLayers[ls[i].LayerType()]; ok {
			return t
		}
		switch ls[i].LayerType() {
		case layers.LayerTypeIPv4, layers.LayerTypeIPv6:
			if via == NoTunnel {
				return IPinIP
			}
		}
	}
	return via
}

// layerIPInfo reads an IP header and the extension headers after it.
func layerIPInfo(ls []gopacket.Layer) ipInfo {
	switch ip := ls[0].(type) {
	case *layers.IPv4:
		return ip4Info(ip)
	case *layers.IPv6:
		ext := 0
		for _, l := range ls[1:] {
			ext += len(l.LayerContents())
		}
		return ip6Info(ip, ext)
	}
	return ipInfo{}
}

// unwrap finds, after the last layer gopacket decoded, an encapsulation
// it does not know: the inner frame, its first layer, and the tunnel.
func unwrap(ls []gopacket.Layer) ([]byte, gopacket.Decoder, Tunnel) {
	i := wholeLayer(ls)
	if i < 0 {
		return nil, nil, NoTunnel
	}
	switch l := ls[i].(type) {
	case *layers.UDP:
		switch {
		case l.SrcPort == udpTeredo || l.DstPort == udpTeredo:
			if b := teredoIPv6(l.Payload); b != nil {
				return b, layers.LayerTypeIPv6, Teredo
			}
		case l.DstPort == udpVXLANLinux && len(l.Payload) >= 8+14 && l.Payload[0]&0x08 != 0: // I: a valid VNI
			return l.Payload, layers.LayerTypeVXLAN, VXLAN
		}
	case *layers.Ethernet:
		return unwrapEtherType(l.EthernetType, l.Payload)
	case *layers.Dot1Q:
		return unwrapEtherType(l.Type, l.Payload)
	case *layers.GRE:
		if l.Protocol == greERSPAN3 {
			if b := erspan3Frame(l.Payload); b != nil {
				return b, layers.LayerTypeEthernet, ERSPAN3
			}
		}
	case *layers.MPLS:
		// An Ethernet pseudowire: a control word (first nibble 0), then
		// the frame.
		if p := l.Payload; l.StackBottom && len(p) > 4 && p[0]>>4 == 0 {
			return p[4:], layers.LayerTypeEthernet, MPLS
		}
	}
	return nil, nil, NoTunnel
}

// unwrapEtherType unwraps what EtherType et carries in b, where gopacket
// did not: 802.1ah, and PPPoE sessions that the snap length cut (gopacket
// wants the whole of the length PPPoE declares).
func unwrapEtherType(et layers.EthernetType, b []byte) ([]byte, gopacket.Decoder, Tunnel) {
	switch {
	case et == ethernetTypePBB && len(b) > 4:
		return b[4:], layers.LayerTypeEthernet, PBB
	case et == layers.EthernetTypePPPoESession && len(b) > 6:
		return b[6:], layers.LayerTypePPP, PPPoE
	}
	return nil, nil, NoTunnel
}

// teredoIPv6 skips a Teredo packet's authentication and origin
// indicators (RFC 4380 section 5.1.1) to the IPv6 packet; nil if there is
// none.
func teredoIPv6(b []byte) []byte {
	for len(b) >= 2 && b[0] == 0 {
		switch b[1] {
		case 1: // authentication: ID and value lengths, ID, value, nonce, confirmation
			if len(b) < 4 || len(b) < 4+int(b[2])+int(b[3])+9 {
				return nil
			}
			b = b[4+int(b[2])+int(b[3])+9:]
		case 0: // origin indication
			if len(b) < 8 {
				return nil
			}
			b = b[8:]
		default:
			return nil
		}
	}
	if len(b) < 40 || b[0]>>4 != 6 {
		return nil
	}
	return b
}

// erspan3Frame is the Ethernet frame an ERSPAN type III header carries;
// nil if it carries something else.
func erspan3Frame(b []byte) []byte {
	if len(b) < 12 || b[0]>>4 != 2 { // type III is version 2
		return nil
	}
	if (b[10]>>2)&0x1f != 0 { // frame type: 0 is Ethernet
		return nil
	}
	n := 12
	if b[11]&1 != 0 { // O: a platform-specific subheader follows
		n += 8
	}
	if len(b) <= n {
		return nil
	}
	return b[n:]
}

// nflogPacket finds the packet in a Linux NFLOG record: a 4-byte header
// (address family, version, resource ID), then TLVs (length and type in
// the capturing host's order, little-endian on nearly all, each padded to
// 4 bytes); type 9 holds the packet from its IP header on.
func nflogPacket(b []byte) ([]byte, gopacket.Decoder, bool) {
	if len(b) < 4 {
		return nil, nil, false
	}
	var first gopacket.Decoder
	switch b[0] {
	case 2: // AF_INET
		first = layers.LayerTypeIPv4
	case 10: // AF_INET6
		first = layers.LayerTypeIPv6
	default:
		return nil, nil, false
	}
	for b = b[4:]; len(b) >= 4; {
		n := int(binary.LittleEndian.Uint16(b[0:2]))
		if n < 4 || n > len(b) {
			return nil, nil, false
		}
		if binary.LittleEndian.Uint16(b[2:4])&0x7fff == 9 {
			return b[4:n], first, true
		}
		b = b[min(len(b), (n+3)&^3):]
	}
	return nil, nil, false
}
