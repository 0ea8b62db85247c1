package analyze

import (
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/flowdoc/flowdoc/flow"
)

// WarningText spells an input's warning, as the reports and the terminal
// say it.
func WarningText(w flow.Warning) string {
	switch w.Kind {
	case flow.WarnStopped:
		what := "unreadable record"
		if errors.Is(w.Err, io.ErrUnexpectedEOF) {
			what = "truncated record"
		}
		return fmt.Sprintf("packet %d: %s (%v); stopped reading, the %d packets before it were analysed", w.Packet, what, w.Err, w.N)
	case flow.WarnLonger:
		return fmt.Sprintf("packet %d: captured length %d exceeds its length on the wire %d; read as captured", w.Packet, w.Captured, w.OnWire)
	case flow.WarnLongerAll:
		return fmt.Sprintf("%d packets in all had a captured length over their length on the wire", w.N)
	case flow.WarnDropped:
		return fmt.Sprintf("the capture's statistics say %d packets were dropped while capturing: some states may be wrong", w.N)
	case flow.WarnLinkType:
		return fmt.Sprintf("packet %d: link type %s is not supported; its packets are skipped", w.Packet, w.LinkType)
	case flow.WarnEvicted:
		return fmt.Sprintf("%d connections were dropped from memory to stay under --max-flows %d: the report covers the newest", w.N, w.Limit)
	case flow.WarnOmitted:
		return "further warnings omitted"
	case flow.WarnClockBack:
		return fmt.Sprintf("packet %d is stamped %s before the packet before it: the capture's clock was set back (NTP, by hand); "+
			"the times around it are the clock's, and durations across it are short by that much", w.Packet, fmtDur(time.Duration(w.N)*time.Millisecond))
	case flow.WarnMerged:
		return fmt.Sprintf("%d TCP packets came again %s to %s later, the first at packet %d, on another interface or with the same IPv4 identification: the file seems to merge "+
			"the captures of two points (mergecap); they were counted twice, as retransmissions. Give flowdoc the captures as separate files: "+
			"it then leaves out the second copy of each packet", w.N, fmtDur(flow.DupWindow), fmtDur(flow.CrossWindow), w.Packet)
	case flow.WarnCrossCopies:
		what := wasWere(w.N, "TCP packet")
		return fmt.Sprintf("%s in another input too, the first at packet %d: the same packet within %s, "+
			"the same traffic captured at two points (the client's host and the server's); each was counted once, in the input that has it first",
			what, w.Packet, fmtDur(flow.CrossWindow))
	case flow.WarnDuplicates:
		what := wasWere(w.N, "TCP packet")
		return fmt.Sprintf("%s captured twice, the first at packet %d: the same packet again within %s, "+
			"as tcpdump -i any records it on each interface it crosses (a container's veth, then the bridge) or a switch mirrors it from two ports; "+
			"each was counted once, not as a retransmission", what, w.Packet, fmtDur(flow.DupWindow))
	case flow.WarnCutHeaders:
		what := wasWere(w.N, "packet")
		return fmt.Sprintf("%s cut by the snap length within their headers, the first at packet %d (an IP header and its extensions, a tunnel's, "+
			"or TCP's fixed 20 bytes: IPv6 over Ethernet needs 74 bytes): counted as undecodable and skipped; a snap length of 128 bytes or more keeps such headers whole", what, w.Packet)
	case flow.WarnLostAtClose:
		return fmt.Sprintf("%s acknowledged data the capture never saw, the first at packet %d: packets were lost at the capture point (tcpdump's \"dropped by kernel\"), "+
			"the peer's FIN perhaps among them; a CLOSE_WAIT there is not judged a leak", plural(w.N, "FIN"), w.Packet)
	case flow.WarnLostFins:
		what := wasWere(w.N, "FIN")
		return fmt.Sprintf("%s not in the capture, the first acknowledged at packet %d: the peer acknowledged each (and had closed, or closed then), "+
			"so it was sent and the capture point lost it (tcpdump's \"dropped by kernel\"); each was taken as sent. Other packets may be missing too", what, w.Packet)
	case flow.WarnControlOnly:
		return fmt.Sprintf("only SYN, FIN and RST packets were captured (%d FINs, nothing between): a filter on TCP flags; "+
			"handshakes and closes look unfinished, so the states and the half-open and flood findings are not to be trusted", w.N)
	}
	if w.Err != nil {
		return w.Err.Error()
	}
	return "a warning"
}

// wasWere is "1 FIN was", "3 FINs were".
func wasWere(n int, noun string) string {
	if n == 1 {
		return "1 " + noun + " was"
	}
	return plural(n, noun) + " were"
}

// warningTexts spells warnings.
func warningTexts(ws []flow.Warning) []string {
	out := make([]string, len(ws))
	for i, w := range ws {
		out[i] = WarningText(w)
	}
	return out
}
