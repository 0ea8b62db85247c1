//go:build cgo

package capture

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"os"
	"strings"
	"syscall"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcap"
	"github.com/gopacket/gopacket/pcapgo"
)

// LiveAvailable reports whether this build can capture (it has
// libpcap).
const LiveAvailable = true

// Live is a live capture on one interface.
type Live struct {
	// Source is what Read reads the packets from.
	Source *Source
	handle *pcap.Handle
	reader *liveReader
}

// OpenLive starts capturing on iface ("any" for every interface). The
// capture ends, and its Source reports the end of input, when ctx ends. If
// w is not nil every packet is also written to it as a pcap file.
func OpenLive(ctx context.Context, iface string, opt LiveOptions, w io.Writer) (*Live, error) {
	if opt.Snaplen <= 0 {
		opt.Snaplen = 262144
	}
	if opt.BufferSize <= 0 {
		opt.BufferSize = 16 << 20
	}
	if opt.Poll <= 0 {
		opt.Poll = 200 * time.Millisecond
	}
	in, err := pcap.NewInactiveHandle(iface)
	if err != nil {
		return nil, liveError(iface, err)
	}
	defer in.CleanUp()
	for _, set := range []error{in.SetSnapLen(opt.Snaplen), in.SetPromisc(opt.Promisc), in.SetTimeout(opt.Poll), in.SetBufferSize(opt.BufferSize)} {
		if set != nil {
			return nil, liveError(iface, set)
		}
	}
	h, err := in.Activate()
	if err != nil {
		return nil, liveError(iface, err)
	}
	if iface == "any" {
		// Linux cooked v2 names the interface of each packet; libpcap
		// still defaults to v1. Kept as it is where v2 is not offered.
		_ = h.SetLinkType(layers.LinkTypeLinuxSLL2)
	}
	if opt.Filter != "" {
		if err := h.SetBPFFilter(opt.Filter); err != nil {
			h.Close()
			return nil, fmt.Errorf("filter %q: %w", opt.Filter, err)
		}
	}
	lr := &liveReader{h: h, ctx: ctx, start: time.Now()}
	switch {
	case w != nil && opt.PcapNG:
		ng, err := pcapgo.NewNgWriterInterface(w, pcapgo.NgInterface{Name: iface, Filter: opt.Filter, LinkType: h.LinkType(),
			SnapLength: uint32(opt.Snaplen), TimestampResolution: 9}, pcapgo.NgWriterOptions{SectionInfo: pcapgo.NgSectionInfo{Application: "flowdoc live"}})
		if err != nil {
			h.Close()
			return nil, err
		}
		lr.ng = ng
	case w != nil:
		pw := pcapgo.NewWriterNanos(w)
		if err := pw.WriteFileHeader(uint32(opt.Snaplen), h.LinkType()); err != nil {
			h.Close()
			return nil, err
		}
		lr.w = pw
	}
	return &Live{Source: NewPacketSource(iface, lr, h.LinkType()), handle: h, reader: lr}, nil
}

// liveError makes libpcap's errors say what to do.
func liveError(iface string, err error) error {
	msg := err.Error()
	switch {
	case errors.Is(err, os.ErrPermission) || errors.Is(err, syscall.EPERM) ||
		strings.Contains(msg, "ermission") || strings.Contains(msg, "not permitted"):
		exe, _ := os.Executable()
		if exe == "" {
			exe = "$(command -v flowdoc)"
		}
		return fmt.Errorf("capturing on %s: %w (%s): run as root, or grant the capability once with: sudo setcap cap_net_raw,cap_net_admin=eip %s", iface, ErrPermission, msg, exe)
	case strings.Contains(msg, "No such device") || strings.Contains(msg, "doesn't exist"):
		return fmt.Errorf("capturing on %s: no such interface (flowdoc interfaces lists them)", iface)
	}
	return fmt.Errorf("capturing on %s: %w", iface, err)
}

// Stats returns libpcap's counters so far.
func (c *Live) Stats() (Stats, error) {
	s, err := c.handle.Stats()
	if err != nil {
		return Stats{}, err
	}
	return Stats{Received: s.PacketsReceived, Dropped: s.PacketsDropped, IfDropped: s.PacketsIfDropped}, nil
}

// Close stops the capture. Call it after Read returned.
func (c *Live) Close() { c.handle.Close() }

// liveReader delivers a handle's packets to the pass: ErrIdle when the
// poll interval passed without one, io.EOF once ctx has ended.
type liveReader struct {
	h          *pcap.Handle
	ctx        context.Context
	w          *pcapgo.Writer
	ng         *pcapgo.NgWriter
	err        error // a write error, reported once the capture ends
	start, end time.Time
}

// CaptureEnd is when the capture stopped; zero while it runs.
func (r *liveReader) CaptureEnd() time.Time {
	if r.end.IsZero() && r.ctx.Err() != nil {
		r.end = time.Now() // the pass saw ctx end before this reader did
	}
	return r.end
}

func (r *liveReader) ZeroCopyReadPacketData() ([]byte, gopacket.CaptureInfo, error) {
	if r.ctx.Err() != nil {
		if r.end.IsZero() {
			r.end = time.Now()
		}
		return nil, gopacket.CaptureInfo{}, io.EOF
	}
	data, ci, err := r.h.ZeroCopyReadPacketData()
	switch {
	case err == nil:
		if r.err == nil {
			switch {
			case r.w != nil:
				r.err = r.w.WritePacket(ci, data)
			case r.ng != nil:
				ci.InterfaceIndex = 0
				r.err = r.ng.WritePacket(ci, data)
			}
		}
		return data, ci, nil
	case errors.Is(err, pcap.NextErrorTimeoutExpired):
		return nil, ci, ErrIdle
	case errors.Is(err, io.EOF), errors.Is(err, pcap.NextErrorNoMorePackets):
		return nil, ci, io.EOF
	}
	return nil, ci, err
}

// FinishWrite completes the copy of the packets: for pcapng, the
// interface's statistics (start and end of the capture, packets received
// and dropped). Call it after Read returned; it returns the first error
// writing the copy met.
func (c *Live) FinishWrite() error {
	r := c.reader
	if r.ng != nil && r.err == nil {
		st := pcapgo.NgInterfaceStatistics{StartTime: r.start, EndTime: r.end, LastUpdate: r.end,
			PacketsReceived: pcapgo.NgNoValue64, PacketsDropped: pcapgo.NgNoValue64}
		if r.end.IsZero() {
			st.EndTime, st.LastUpdate = time.Now(), time.Now()
		}
		if s, err := c.handle.Stats(); err == nil {
			st.PacketsReceived, st.PacketsDropped = uint64(s.PacketsReceived), uint64(s.PacketsDropped+s.PacketsIfDropped)
		}
		r.err = r.ng.WriteInterfaceStats(0, st)
		if r.err == nil {
			r.err = r.ng.Flush()
		}
	}
	return r.err
}

// Interfaces lists what libpcap can capture on.
func Interfaces() ([]Interface, error) {
	devs, err := pcap.FindAllDevs()
	if err != nil {
		return nil, err
	}
	var out []Interface
	for _, d := range devs {
		i := Interface{Name: d.Name, Description: d.Description,
			Up: d.Flags&0x2 != 0, Running: d.Flags&0x4 != 0, Loopback: d.Flags&0x1 != 0}
		for _, a := range d.Addresses {
			if ip, ok := netip.AddrFromSlice(a.IP); ok {
				i.Addrs = append(i.Addrs, ip.Unmap())
			}
		}
		out = append(out, i)
	}
	return out, nil
}

// bpfFilter is a BPF filter compiled for each link type it meets.
type bpfFilter struct {
	expr   string
	byLink map[layers.LinkType]*pcap.BPF
}

// CompileFilter compiles a BPF filter (tcpdump's syntax) for capture
// files: it is checked now, and compiled for each link type as packets of
// that type come.
func CompileFilter(expr string) (Filter, error) {
	b, err := pcap.NewBPF(layers.LinkTypeEthernet, 262144, expr)
	if err != nil {
		return nil, fmt.Errorf("filter %q: %w", expr, err)
	}
	return &bpfFilter{expr: expr, byLink: map[layers.LinkType]*pcap.BPF{layers.LinkTypeEthernet: b}}, nil
}

func (f *bpfFilter) Matches(lt layers.LinkType, ci gopacket.CaptureInfo, data []byte) bool {
	b, ok := f.byLink[lt]
	if !ok {
		b, _ = pcap.NewBPF(lt, 262144, f.expr) // nil: the filter cannot apply to this link type
		f.byLink[lt] = b
	}
	if b == nil {
		return false
	}
	if ci.CaptureLength == 0 {
		ci.CaptureLength = len(data)
	}
	if ci.Length == 0 {
		ci.Length = len(data)
	}
	return b.Matches(ci, data)
}
