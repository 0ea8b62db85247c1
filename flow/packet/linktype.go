package packet

import (
	"fmt"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
)

// Link types that gopacket has no constant for.
const (
	// LinkTypeNFLOG is Linux's netfilter log (iptables -j NFLOG, tcpdump
	// -i nflog).
	LinkTypeNFLOG layers.LinkType = 239
	// LinkTypePKTAP is Apple's packet tap (tcpdump -k, -i any on macOS):
	// a header with the process and the inner frame's link type, then
	// the frame. gopacket decodes it on Darwin only.
	LinkTypePKTAP layers.LinkType = 258
)

// SupportedLinkType reports whether Decode understands frames of lt.
func SupportedLinkType(lt layers.LinkType) bool {
	return firstLayer(lt, nil) != gopacket.LayerTypeZero || otherLinkType(lt)
}

// LinkTypeName is the libpcap name of a link type (tcpdump's "link-type").
func LinkTypeName(lt layers.LinkType) string {
	switch lt {
	case layers.LinkTypeEthernet:
		return "EN10MB"
	case layers.LinkTypeLinuxSLL:
		return "LINUX_SLL"
	case layers.LinkTypeLinuxSLL2:
		return "LINUX_SLL2"
	case layers.LinkTypeNull:
		return "NULL"
	case layers.LinkTypeLoop:
		return "LOOP"
	case layers.LinkTypeRaw, 12, 14:
		return "RAW"
	case layers.LinkTypeIPv4:
		return "IPV4"
	case layers.LinkTypeIPv6:
		return "IPV6"
	case layers.LinkTypePPP:
		return "PPP"
	case layers.LinkTypePPP_HDLC:
		return "PPP_SERIAL"
	case layers.LinkTypeC_HDLC:
		return "C_HDLC"
	case layers.LinkTypeFDDI:
		return "FDDI"
	case layers.LinkTypeIEEE802_11:
		return "IEEE802_11"
	case layers.LinkTypeIEEE80211Radio:
		return "IEEE802_11_RADIO"
	case layers.LinkTypePrismHeader:
		return "PRISM_HEADER"
	case layers.LinkTypePFLog:
		return "PFLOG"
	case LinkTypeNFLOG:
		return "NFLOG"
	case LinkTypePKTAP:
		return "PKTAP"
	case layers.LinkTypePPPEthernet:
		return "PPP_ETHER"
	case layers.LinkTypeATM_RFC1483:
		return "ATM_RFC1483"
	}
	return fmt.Sprintf("DLT_%d", uint32(lt))
}
