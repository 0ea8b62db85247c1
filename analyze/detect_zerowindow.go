package analyze

import (
	"fmt"
	"net/netip"

	"github.com/flowdoc/flowdoc/flow"
	"github.com/flowdoc/flowdoc/flow/packet"
)

// Zero-window stall: a receiver that stopped reading.
var zeroWindowDetector = detector{
	class: ZeroWindowStall,
	explain: Explanation{
		Class: ZeroWindowStall, Title: "Zero-window stall",
		Meaning: "A receiver advertised a zero receive window: its application stopped reading, its socket buffer " +
			"is full, and the sender can only probe.",
		Detection: "Zero-window advertisements from one side, with the other side's zero-window probes; a stall " +
			"when the window is still zero at the end of the capture, the connection still open. A receiver that then " +
			"resets the connection itself let go of it unread (a cancelled download, a client's timeout): Info; one the " +
			"sender resets gave up on the stalled reader.",
		Causes: "A receiving application that is blocked, overloaded or deadlocked, or that reads only when it " +
			"has finished something else.",
		Confirm: "ss -tn on the receiver: a large Recv-Q on the socket that does not drain; a thread dump of the " +
			"receiving process.",
		Fix: "Find what keeps the receiving application from reading (a thread dump shows where it waits).",
	},
	inspect: inspectZeroWindow,
	group: func(f *Flow, v *Verdict) (groupKey, bool) {
		// A client's connections, per client host and server (its ports
		// change); a server's, per server endpoint.
		if v.Side == flow.Client {
			return groupKey{host: f.Key.Client().Addr(), endpoint: f.Key.Server()}, true
		}
		return groupKey{endpoint: f.Endpoint(v.Side)}, true
	},
	findings: func(g *group, _ *findCtx) []Finding {
		sev, stuck, abandoned, dropped, resumed := Info, 0, 0, 0, 0
		for i, v := range g.vs {
			switch v.Severity {
			case Error:
				sev, stuck = Error, stuck+1
			case Warning:
				sev = max(sev, Warning)
				if g.flows[i].Half(v.Side).ZeroWindowAtEnd {
					dropped++ // the sender reset it (inspectZeroWindow)
				} else {
					resumed++
				}
			default:
				abandoned++
			}
		}
		v, f := g.vs[0], g.flows[0]
		n := len(g.flows)
		who, on := f.Endpoint(v.Side).String(), plural(n, "connection")
		hosts, scope := []netip.Addr(nil), []netip.AddrPort{f.Endpoint(v.Side)}
		if v.Side == flow.Client {
			who, on = f.Key.Client().Addr().String(), plural(n, "connection")+" to "+f.Key.Server().String()
			hosts, scope = []netip.Addr{f.Key.Client().Addr()}, []netip.AddrPort{f.Key.Server()}
		}
		sum := fmt.Sprintf("%s stopped reading on %s: it advertised a zero receive window", who, on)
		switch {
		case stuck == 1 && len(g.flows) == 1:
			sum += ", and was still not reading at the end of the capture"
		case stuck > 0:
			sum += fmt.Sprintf(", and %s still stalled at the end of the capture", ofThem(stuck))
		}
		fix := remedy(ZeroWindowStall)
		switch {
		case abandoned == 1 && n == 1:
			sum += ", then reset it with the rest unread: it gave up on the transfer (a download cancelled, a client's timeout, a reader that stops at what it needs)"
		case abandoned == n:
			sum += ", then reset each with the rest unread: it gave up on those transfers (downloads cancelled, a client's timeout, a reader that stops at what it needs)"
		case abandoned > 0:
			sum += fmt.Sprintf("; it reset %d of them with the rest unread, giving up on those transfers", abandoned)
		}
		switch {
		case dropped == n:
			sum += fmt.Sprintf(", and had not read again when the sender reset %s: the sender gave up on the stalled reader (its send timeout, such as nginx's send_timeout with reset_timedout_connection)", map[bool]string{true: "it", false: "them"}[n == 1])
		case dropped > 0:
			sum += fmt.Sprintf("; the sender reset %d of them, giving up on the stalled reader", dropped)
		}
		switch {
		case resumed == n:
			sum += ", then read again"
		case resumed > 0:
			sum += fmt.Sprintf("; it read again on %d of them", resumed)
		}
		if abandoned == n {
			fix = "Nothing to fix in the network: the reader let go of the transfer itself. If it should have finished, find why the reader stopped and gave up (its timeout, a user cancelling, a rate limit)."
		}
		return []Finding{{Class: ZeroWindowStall, Severity: sev, Hosts: hosts, Endpoints: scope,
			Flows: ids(g.flows), Metrics: []Metric{{"connections", float64(n)}, {"stalled_at_end", float64(stuck)}, {"reset_unread", float64(abandoned)}, {"reset_by_sender", float64(dropped)}},
			Summary: sum + ".", Remedy: fix, Evidence: evidence(g, false)}}
	},
}

func inspectZeroWindow(c *flowCtx) {
	r := c.r
	for _, s := range []flow.Side{flow.Client, flow.Server} {
		h, peer := r.Half(s), r.Half(s.Other())
		if h.ZeroWindows == 0 || !h.ZeroWindowAtEnd && peer.WinProbes == 0 {
			continue
		}
		zw := firstEvent(r, func(e *flow.Event) bool { return e.From == s && e.Note&flow.NoteZeroWindow != 0 })
		if h.ZeroWindowAtEnd && peer.LastPayload > 0 {
			// The stall that lasts to the end began as the peer's last
			// new data filled the window: not at an earlier zero window
			// that a read soon opened again (rsync's at its start).
			if last := lastEvent(r, func(e *flow.Event) bool {
				return e.From == s && e.Note&flow.NoteZeroWindow != 0 && e.At <= peer.LastPayload
			}); last != nil && zw != nil && last.At > zw.At {
				zw = last
			}
			if next := firstEvent(r, func(e *flow.Event) bool {
				return e.From == s && e.Note&flow.NoteZeroWindow != 0 && e.At >= peer.LastPayload
			}); next != nil {
				zw = next
			}
		}
		probe := firstEvent(r, func(e *flow.Event) bool {
			return e.From == s.Other() && e.Note&flow.NoteWindowProbe != 0 && (zw == nil || e.At >= zw.At)
		})
		v := Verdict{Class: ZeroWindowStall, Side: s, Severity: Warning, Confidence: 0.9}
		if zw != nil {
			v.Since, v.Age = zw.At, c.age(zw.At)
		}
		rst := lastEvent(r, func(e *flow.Event) bool { return e.Flags.Has(packet.RST) && (zw == nil || e.At >= zw.At) })
		switch {
		case h.ZeroWindowAtEnd && rst != nil && rst.From == s:
			// It let go of the connection unread: the kernel resets a
			// socket closed with data in its receive buffer.
			v.Severity = Info
			v.Summary = fmt.Sprintf("the %s advertised a zero window (it stopped reading), then reset the connection %s later with the rest unread: it gave up on the transfer",
				sideName(s), fmtDur(rst.At.Sub(v.Since)))
		case h.ZeroWindowAtEnd && rst != nil:
			v.Summary = fmt.Sprintf("the %s advertised a zero window and had not read again when the %s reset the connection, %s later: it gave up on the stalled reader",
				sideName(s), sideName(s.Other()), fmtDur(rst.At.Sub(v.Since)))
		case h.ZeroWindowAtEnd:
			v.Severity = Error
			v.Summary = fmt.Sprintf("the %s advertised a zero window and was still not reading at the end of the capture, %s later (the %s probed or retransmitted into the closed window %d times)",
				sideName(s), fmtDur(v.Age), sideName(s.Other()), peer.WinProbes+peer.Retrans)
		default:
			v.Summary = fmt.Sprintf("the %s advertised a zero window %d times, then read again", sideName(s), h.ZeroWindows)
		}
		if zw != nil {
			v.Evidence = append(v.Evidence, ev(zw, zeroWindowFrom[s]))
		}
		if probe != nil {
			v.Evidence = append(v.Evidence, ev(probe, zeroWinProbeFrom[s.Other()]))
		}
		if rst != nil && h.ZeroWindowAtEnd {
			v.Evidence = append(v.Evidence, ev(rst, rstFrom[rst.From]))
		}
		c.add(v)
	}
}
