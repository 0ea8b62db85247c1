package analyze

import "fmt"

// Class names what a verdict or finding says, as the JSON spells it.
type Class string

// Verdict classes: one flow each.
const (
	CloseWaitLeak    Class = "close_wait_leak"
	IdleTimeoutClose Class = "idle_timeout_close"
	TimeWaitClass    Class = "time_wait"
	Refused          Class = "refused"
	UnansweredSYN    Class = "unanswered_syn"
	ListenOverflow   Class = "listen_overflow"
	AcceptThenClose  Class = "accept_then_close"
	StaleReuseReset  Class = "stale_reuse_reset"
	ZeroWindowStall  Class = "zero_window_stall"
	HalfCloseOK      Class = "half_close_ok"
	ResetClass       Class = "reset"
	CleanClass       Class = "clean"
	OpenClass        Class = "open"
	MidstreamClass   Class = "midstream"
	PeerUnreachable  Class = "peer_unreachable"
	// The server answered the SYN; the client never went on.
	HandshakeIncomplete Class = "handshake_incomplete"
	// A probe of a port scan: a SYN from a scanning address, no
	// conversation.
	PortScan Class = "port_scan"
	// From the HTTP in the payload.
	CloseIgnored Class = "connection_close_ignored"
	// The connection of another flow, seen again under translated
	// addresses (NAT).
	TranslatedClass Class = "translated"
)

// Classes only findings have: they are about many flows at once.
const (
	TimeWaitPressure Class = "time_wait_pressure"
	ReconnectStorm   Class = "reconnect_storm"
	KeepAliveClass   Class = "tcp_keepalive"
	// From the host's own socket table (flowdoc live).
	KernelCloseWait Class = "kernel_close_wait"
)

// Severity orders verdicts and findings: what to look at first.
type Severity uint8

const (
	Info Severity = iota
	Warning
	Error
)

var severityNames = [...]string{"info", "warning", "error"}

func (s Severity) String() string {
	if int(s) < len(severityNames) {
		return severityNames[s]
	}
	return fmt.Sprintf("Severity(%d)", uint8(s))
}

// ParseSeverity reads a severity as String spells it.
func ParseSeverity(s string) (Severity, bool) {
	for i, n := range severityNames {
		if n == s {
			return Severity(i), true
		}
	}
	return Info, false
}

// MarshalText implements encoding.TextMarshaler: JSON spells a severity
// as String does.
func (s Severity) MarshalText() ([]byte, error) { return []byte(s.String()), nil }
