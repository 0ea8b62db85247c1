package packet

import (
	"encoding/binary"
	"fmt"
	"slices"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/ip4defrag"
	"github.com/gopacket/gopacket/ip6defrag"
	"github.com/gopacket/gopacket/layers"
)

// fragments holds the IPv4 fragments of TCP segments until their datagram
// is whole (gopacket's ip4defrag), in capture time and within bounds: a
// datagram not completed within fragTimeout is given up, as a Linux
// receiver gives it up (ipfrag_time), and when more than maxFragBytes are
// held, all are.
//
// IPv6 fragments go to gopacket's ip6defrag, which times fragments in
// the reader's clock, not the capture's: they are held until their
// packet is whole or the bound is reached. IPv6's 32-bit Identification
// makes a stale match unlikely where IPv4's 16 bits would not.
type fragments struct {
	d     *ip4defrag.IPv4Defragmenter // nil until the first fragment
	d6    *ip6defrag.IPv6Defragmenter // nil until the first IPv6 fragment
	held  int                         // bytes held, an upper bound
	swept time.Time                   // when old datagrams were last given up
}

// bound starts afresh when more than maxFragBytes are held.
func (f *fragments) bound() {
	if f.held > maxFragBytes {
		f.d, f.d6, f.held = nil, nil, 0
	}
	if f.d == nil {
		f.d = ip4defrag.NewIPv4Defragmenter()
	}
	if f.d6 == nil {
		f.d6 = ip6defrag.NewIPv6Defragmenter()
	}
}

const (
	fragTimeout  = 30 * time.Second
	maxFragBytes = 64 << 20
)

// defrag adds the IPv4 fragment in d.ip4 to its datagram; when that is
// whole, it decodes the TCP segment in it into seg. The segment is the
// last fragment's packet.
func (d *Decoder) defrag(seg *Segment) (bool, error) {
	f := &d.frags
	f.bound()
	if d.at.Sub(f.swept) > time.Second || d.at.Before(f.swept) {
		f.d.DiscardOlderThan(d.at.Add(-fragTimeout))
		f.swept = d.at
	}
	// ip4defrag keeps the layer it is given: a copy, off the frame's
	// buffer, which the next frame reuses.
	ip := d.ip4
	buf := make([]byte, 0, len(ip.Contents)+len(ip.Payload))
	buf = append(append(buf, ip.Contents...), ip.Payload...)
	ip.Contents, ip.Payload = buf[:len(ip.Contents)], buf[len(ip.Contents):]
	ip.SrcIP, ip.DstIP = buf[12:16], buf[16:20]
	ip.Options, ip.Padding = nil, nil
	out, err := f.d.DefragIPv4WithTimestamp(&ip, d.at)
	if err != nil {
		return false, &DecodeError{Layer: "IPv4 fragment", Err: fmt.Errorf("%w: %v", ErrBadHeader, err)}
	}
	if out == nil {
		f.held += len(ip.Payload)
		d.other = "IP fragment"
		return false, nil
	}
	f.held = max(0, f.held-(len(out.Payload)-len(ip.Payload)))
	return d.reassembled(seg, out.Payload, func() ipInfo { return ip4Info(out) })
}

// reassembled decodes the TCP segment of a reassembled datagram, whose
// IP header ip describes.
func (d *Decoder) reassembled(seg *Segment, b []byte, ip func() ipInfo) (bool, error) {
	cut := false
	if err := d.tcp.DecodeFromBytes(b, gopacket.NilDecodeFeedback); err != nil {
		if cut = cutTCP(&d.tcp, b); !cut {
			return false, &DecodeError{Layer: "TCP", Err: fmt.Errorf("%w: %v (in a reassembled datagram)", ErrBadHeader, err)}
		}
	}
	return filled(fillTCP(seg, ip(), &d.tcp, cut))
}

// defrag6 adds the IPv6 fragment decoded in d.ip6 and d.ext (which ends
// with its Fragment header) to its packet; when that is whole, it decodes
// the TCP segment in it into seg. Fragments of anything but TCP are not
// held.
func (d *Decoder) defrag6(seg *Segment) (bool, error) {
	h := d.ext.Contents[len(d.ext.Contents)-8:]
	if layers.IPProtocol(h[0]) != layers.IPProtocolTCP {
		d.other = "IP fragment"
		return false, nil
	}
	f := &d.frags
	f.bound()
	// ip6defrag keeps what it is given: copies, off the frame's buffer.
	fo := binary.BigEndian.Uint16(h[2:4])
	fg := &layers.IPv6Fragment{
		BaseLayer:      layers.BaseLayer{Contents: slices.Clone(h), Payload: slices.Clone(d.ext.Payload)},
		NextHeader:     layers.IPProtocolTCP,
		FragmentOffset: fo >> 3,
		MoreFragments:  fo&1 != 0,
		Identification: binary.BigEndian.Uint32(h[4:8]),
	}
	ip := &layers.IPv6{Version: 6, TrafficClass: d.ip6.TrafficClass, FlowLabel: d.ip6.FlowLabel, HopLimit: d.ip6.HopLimit,
		SrcIP: slices.Clone(d.ip6.SrcIP), DstIP: slices.Clone(d.ip6.DstIP)}
	out := f.d6.DefragIPv6(ip, fg)
	if out == nil {
		f.held += len(fg.Payload)
		d.other = "IP fragment"
		return false, nil
	}
	f.held = max(0, f.held-(len(out.Payload)-len(fg.Payload)))
	return d.reassembled(seg, out.Payload, func() ipInfo { return ip6Info(out, 0) })
}
