package packet

import (
	"encoding/binary"
	"net/netip"

	"github.com/gopacket/gopacket/layers"
)

// fastDecode decodes the frames that make up nearly every capture (IPv4
// without options, or IPv6 with TCP next, behind Ethernet with up to two
// VLAN tags, Linux cooked v1 or v2, BSD loopback or nothing; whole, or
// cut by the snap length within the TCP options) straight from the
// bytes. It reports false for anything else, malformed frames
// included, which Decoder.decodeLayers then takes through gopacket; for
// the frames it takes, it gives exactly what that path gives (FuzzFastPath
// holds it to that).
func fastDecode(lt layers.LinkType, b []byte, seg *Segment) bool {
	var iface uint32
	if lt == layers.LinkTypeLinuxSLL2 && len(b) >= 8 {
		iface = binary.BigEndian.Uint32(b[4:8])
	}
	if !fastFrame(lt, b, seg) {
		return false
	}
	seg.Iface = iface
	return true
}

// fastFrame is fastDecode but for the interface.
func fastFrame(lt layers.LinkType, b []byte, seg *Segment) bool {
	et, b, dir, ok := fastLink(lt, b)
	if !ok {
		return false
	}
	var src, dst netip.Addr
	var tcp []byte
	var segLen, ipHdr int
	var id uint16
	switch et {
	case 0x0800:
		// No options, not a fragment, TCP.
		if len(b) < 20 || b[0] != 0x45 || b[9] != 6 || binary.BigEndian.Uint16(b[6:8])&0x3fff != 0 {
			return false
		}
		length := int(binary.BigEndian.Uint16(b[2:4]))
		if length == 0 { // TSO: the length of what was captured
			length = min(len(b), 0xffff)
		}
		if length < 20 {
			return false
		}
		src, dst = netip.AddrFrom4([4]byte(b[12:16])), netip.AddrFrom4([4]byte(b[16:20]))
		segLen, ipHdr, id = length-20, 20, binary.BigEndian.Uint16(b[4:6])
		tcp = b[20:min(len(b), max(length, 20))]
	case 0x86dd:
		if len(b) < 40 || b[0]>>4 != 6 || b[6] != 6 {
			return false
		}
		plen := int(binary.BigEndian.Uint16(b[4:6]))
		if plen == 0 {
			return false
		}
		src, dst = netip.AddrFrom16([16]byte(b[8:24])), netip.AddrFrom16([16]byte(b[24:40]))
		segLen, ipHdr = plen, 40
		tcp = b[40:min(len(b), 40+plen)]
	default:
		return false
	}

	if len(tcp) < 20 {
		return false
	}
	hdr := int(tcp[12]>>4) * 4
	if hdr < 20 {
		return false
	}
	if hdr > len(tcp) {
		return fastCut(seg, tcp, hdr, segLen, ipHdr, src, dst, dir, id)
	}
	if segLen < hdr {
		segLen = len(tcp)
	}
	*seg = Segment{
		Src:      netip.AddrPortFrom(src, binary.BigEndian.Uint16(tcp[0:2])),
		Dst:      netip.AddrPortFrom(dst, binary.BigEndian.Uint16(tcp[2:4])),
		Seq:      binary.BigEndian.Uint32(tcp[4:8]),
		Ack:      binary.BigEndian.Uint32(tcp[8:12]),
		Flags:    Flags(tcp[13]),
		Window:   binary.BigEndian.Uint16(tcp[14:16]),
		IPID:     id,
		Checksum: binary.BigEndian.Uint16(tcp[16:18]),
		Len:      segLen - hdr,
		IPLen:    ipHdr + segLen,
		WScale:   -1,
		Dir:      dir,
	}
	seg.Payload = tcp[hdr:min(len(tcp), hdr+max(seg.Len, 0))]
	if seg.Flags.Has(SYN) {
		return synOptions(tcp[20:hdr], seg)
	}
	return true
}

// fastLink takes off the link-layer header: the EtherType of what it
// carries, and the direction where the header records one.
func fastLink(lt layers.LinkType, b []byte) (et uint16, rest []byte, dir Direction, ok bool) {
	switch lt {
	case layers.LinkTypeEthernet:
		if len(b) < 14 {
			return 0, nil, dir, false
		}
		et, b = binary.BigEndian.Uint16(b[12:14]), b[14:]
		for range 2 {
			if et != 0x8100 && et != 0x88a8 {
				break
			}
			if len(b) < 4 {
				return 0, nil, dir, false
			}
			et, b = binary.BigEndian.Uint16(b[2:4]), b[4:]
		}
	case layers.LinkTypeLinuxSLL:
		if len(b) < 16 {
			return 0, nil, dir, false
		}
		dir = sllDirection(binary.BigEndian.Uint16(b[0:2]), binary.BigEndian.Uint16(b[2:4]))
		et, b = binary.BigEndian.Uint16(b[14:16]), b[16:]
	case layers.LinkTypeLinuxSLL2:
		if len(b) < 20 {
			return 0, nil, dir, false
		}
		switch binary.BigEndian.Uint16(b[8:10]) {
		case 1, 772, 65534: // Ethernet, loopback, none (tun)
		default:
			return 0, nil, dir, false
		}
		dir = sllDirection(uint16(b[10]), binary.BigEndian.Uint16(b[8:10]))
		et, b = binary.BigEndian.Uint16(b[0:2]), b[20:]
	case layers.LinkTypeNull, layers.LinkTypeLoop:
		if len(b) < 4 {
			return 0, nil, dir, false
		}
		fam := binary.LittleEndian.Uint32(b)
		if b[0] == 0 && b[1] == 0 {
			fam = binary.BigEndian.Uint32(b)
		}
		switch fam {
		case 2:
			et = 0x0800
		case 10, 24, 28, 30:
			et = 0x86dd
		default:
			return 0, nil, dir, false
		}
		b = b[4:]
	case layers.LinkTypeRaw, 12, 14:
		if len(b) == 0 {
			return 0, nil, dir, false
		}
		et = 0x0800
		if b[0]>>4 == 6 {
			et = 0x86dd
		}
	case layers.LinkTypeIPv4:
		et = 0x0800
	case layers.LinkTypeIPv6:
		et = 0x86dd
	default:
		return 0, nil, dir, false
	}
	return et, b, dir, true
}

// fastCut is fastDecode for a TCP header that the snap length cut within
// its options (tcpdump -s 64): the fixed header is whole, the IP header
// gives the length, the options before the cut are read. Apart, so that
// the common case stays as it was.
func fastCut(seg *Segment, tcp []byte, hdr, segLen, ipHdr int, src, dst netip.Addr, dir Direction, id uint16) bool {
	if segLen < hdr { // not the snap length: the IP length ends inside the header
		return false
	}
	*seg = Segment{
		Src:        netip.AddrPortFrom(src, binary.BigEndian.Uint16(tcp[0:2])),
		Dst:        netip.AddrPortFrom(dst, binary.BigEndian.Uint16(tcp[2:4])),
		Seq:        binary.BigEndian.Uint32(tcp[4:8]),
		Ack:        binary.BigEndian.Uint32(tcp[8:12]),
		Flags:      Flags(tcp[13]),
		Window:     binary.BigEndian.Uint16(tcp[14:16]),
		IPID:       id,
		Checksum:   binary.BigEndian.Uint16(tcp[16:18]),
		Len:        segLen - hdr,
		IPLen:      ipHdr + segLen,
		WScale:     -1,
		OptionsCut: true,
		Dir:        dir,
	}
	if seg.Flags.Has(SYN) {
		cutOptions(tcp[20:], seg)
	}
	return true
}

// synOptions reads the MSS and window scale of a SYN, walking the options
// as gopacket does; it gives up on MPTCP options, whose checks differ.
func synOptions(o []byte, seg *Segment) bool {
	for len(o) > 0 {
		switch o[0] {
		case 0: // end of options
			return true
		case 1: // no-op
			o = o[1:]
			continue
		case 30: // MPTCP
			return false
		}
		if len(o) < 2 || o[1] < 2 || int(o[1]) > len(o) {
			return true // gopacket stops here too
		}
		readOption(o, seg)
		o = o[o[1]:]
	}
	return true
}

// cutOptions reads the MSS and window scale among the options of a SYN
// that the snap length cut: those whole before the cut.
func cutOptions(o []byte, seg *Segment) {
	for len(o) > 0 && o[0] != 0 {
		if o[0] == 1 {
			o = o[1:]
			continue
		}
		if len(o) < 2 || o[1] < 2 || int(o[1]) > len(o) {
			return
		}
		readOption(o, seg)
		o = o[o[1]:]
	}
}

// readOption reads one whole option, if it is an MSS or a window scale.
func readOption(o []byte, seg *Segment) {
	switch n := o[1]; {
	case o[0] == 2 && n == 4:
		seg.MSS = binary.BigEndian.Uint16(o[2:4])
	case o[0] == 3 && n == 3:
		ws := o[2]
		if ws > 14 {
			ws = 14
		}
		seg.WScale = int8(ws)
	}
}
