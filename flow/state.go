package flow

import "fmt"

// Side names one endpoint of a connection: the sender of a packet or the
// subject of a verdict.
type Side uint8

const (
	Client Side = iota // the endpoint that sent the SYN (or is inferred to have)
	Server             // the endpoint that answered it
)

// Other returns the opposite side.
func (s Side) Other() Side { return s ^ 1 }

func (s Side) String() string {
	if s == Client {
		return "client"
	}
	return "server"
}

// State is an endpoint's TCP state, named as netstat prints them.
//
// Transitions, driven by segments the endpoint sends (>) and receives (<):
//
//	Closed      > SYN                      SynSent
//	Closed      < SYN, > SYN-ACK           SynRecv
//	SynSent     < SYN-ACK                  Established
//	SynSent     < SYN (simultaneous open)  SynRecv
//	SynRecv     < ACK of its SYN           Established
//	Established > FIN                      FinWait1
//	Established < FIN                      CloseWait
//	FinWait1    < ACK of its FIN           FinWait2
//	FinWait1    < FIN                      Closing (TimeWait if the FIN also acks its FIN)
//	FinWait2    < FIN                      TimeWait
//	Closing     < ACK of its FIN           TimeWait
//	CloseWait   > FIN                      LastAck
//	LastAck     < ACK of its FIN           Closed
//	any         > RST or < in-window RST   Closed
//
// Timers: TimeWait becomes Closed after Config.TimeWait; an orphaned
// FinWait2 after Config.FinTimeout. CloseWait lasts until the application
// closes the socket, however long that is.
type State uint8

const (
	Unknown State = iota // the capture cannot tell
	Closed
	SynSent
	SynRecv
	Established
	FinWait1
	FinWait2
	CloseWait
	Closing
	LastAck
	TimeWait
	numStates
)

var stateNames = [numStates]string{
	Unknown:     "UNKNOWN",
	Closed:      "CLOSED",
	SynSent:     "SYN_SENT",
	SynRecv:     "SYN_RECV",
	Established: "ESTABLISHED",
	FinWait1:    "FIN_WAIT_1",
	FinWait2:    "FIN_WAIT_2",
	CloseWait:   "CLOSE_WAIT",
	Closing:     "CLOSING",
	LastAck:     "LAST_ACK",
	TimeWait:    "TIME_WAIT",
}

func (s State) String() string {
	if s < numStates {
		return stateNames[s]
	}
	return fmt.Sprintf("State(%d)", uint8(s))
}

// States lists every state in order, Unknown first.
func States() []State {
	s := make([]State, numStates)
	for i := range s {
		s[i] = State(i)
	}
	return s
}

// MarshalText implements encoding.TextMarshaler.
func (s State) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// Ended reports whether an endpoint in s holds no live connection: only
// a timer (TIME_WAIT) or nothing is left.
func (s State) Ended() bool {
	return s == Closed || s == TimeWait
}
