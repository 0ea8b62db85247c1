package flow

import (
	"fmt"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/ip4defrag"
)

// fragments holds the IPv4 fragments of TCP segments until their datagram
// is whole (gopacket's ip4defrag), in capture time and within bounds: a
// datagram not completed within fragTimeout is given up, as a Linux
// receiver gives it up (ipfrag_time), and when more than maxFragBytes are
// held, all are.
type fragments struct {
	d     *ip4defrag.IPv4Defragmenter // nil until the first fragment
	held  int                         // bytes held, an upper bound
	swept time.Time                   // when old datagrams were last given up
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
	if f.d == nil || f.held > maxFragBytes {
		f.d, f.held = ip4defrag.NewIPv4Defragmenter(), 0
	}
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
	cut := false
	if err := d.tcp.DecodeFromBytes(out.Payload, gopacket.NilDecodeFeedback); err != nil {
		if cut = cutTCP(&d.tcp, out.Payload); !cut {
			return false, &DecodeError{Layer: "TCP", Err: fmt.Errorf("%w: %v (in a reassembled datagram)", ErrBadHeader, err)}
		}
	}
	return filled(fillTCP(seg, ip4Info(out), &d.tcp, cut))
}
