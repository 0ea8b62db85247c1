package analyze

import (
	"regexp"
	"time"

	"github.com/flowdoc/flowdoc/flow"
	"github.com/flowdoc/flowdoc/flow/packet"
)

// zeekEndpoint is the state Zeek's TCP analyzer keeps for one endpoint
// (TCP_Endpoint). It records what the endpoint sent, not an RFC 793
// state: an endpoint that sent a FIN is "closed" whether or not the peer
// acknowledged it.
type zeekEndpoint uint8

const (
	zeekInactive   zeekEndpoint = iota // sent nothing
	zeekSynSent                        // sent a SYN, handshake not complete
	zeekSynAckSent                     // sent a SYN-ACK first, handshake not complete
	zeekPartial                        // sent packets, but no SYN was seen
	zeekEstablished
	zeekClosed // sent a FIN
	zeekReset  // sent a RST
)

// zeekEnd is an endpoint's state and the one before it.
type zeekEnd struct{ state, prev zeekEndpoint }

func (e *zeekEnd) set(s zeekEndpoint) {
	if e.state != s {
		e.prev, e.state = e.state, s
	}
}

// zeekEndpoints runs Zeek's endpoint state machine (TCPSessionAdapter's
// UpdateStateMachine) over the history: each letter is the first packet
// of its kind from its side (or again, for S, H, F and R with another
// sequence number), in capture order, and only the first packet of a kind
// can change a state. It returns the client's and the server's states.
func zeekEndpoints(history string) (orig, resp zeekEndpoint) {
	var e [2]zeekEnd // by flow.Side
	for i := 0; i < len(history); i++ {
		c := history[i]
		s := flow.Client
		if 'a' <= c && c <= 'z' {
			s, c = flow.Server, c-('a'-'A')
		}
		var syn, ack, fin, rst, data bool
		switch c {
		case 'S':
			syn = true
		case 'H':
			syn, ack = true, true
		case 'A':
			ack = true
		case 'D':
			ack, data = true, true
		case 'F':
			fin, ack = true, true
		case 'R':
			rst = true
		case 'I':
			fin, rst = true, true
		case 'Q': // several of SYN, FIN and RST: taken as SYN and FIN
			syn, fin = true, true
		default: // ^, T, W and the like change no state
			continue
		}
		ep, peer := &e[s], &e[s.Other()]
		isOrig := s == flow.Client
		switch ep.state {
		case zeekInactive:
			if syn {
				switch {
				case isOrig && ack:
					ep.set(zeekSynAckSent)
				case isOrig:
					ep.set(zeekSynSent)
				default:
					if peer.state == zeekSynSent {
						peer.set(zeekEstablished)
					}
					ep.set(zeekEstablished)
				}
			}
			if fin {
				ep.set(zeekClosed)
			}
			if rst {
				ep.set(zeekReset)
			}
			if ep.state == zeekInactive {
				switch {
				case !isOrig && !data && e[flow.Client].state == zeekSynSent:
					// An ACK of the SYN before the SYN-ACK: not yet a
					// partial connection.
				case ack && peer.state == zeekEstablished:
					// The SYN-ACK was seen but not the SYN.
					ep.set(zeekEstablished)
				default:
					ep.set(zeekPartial)
				}
			}
		case zeekSynSent, zeekSynAckSent:
			if fin {
				ep.set(zeekClosed)
			}
			if rst {
				ep.set(zeekReset)
			}
		case zeekEstablished, zeekPartial:
			if syn && ep.state == zeekPartial && peer.state == zeekInactive && !ack {
				ep.set(zeekSynSent)
			}
			if fin && !rst {
				ep.set(zeekClosed)
				if peer.state == zeekReset && peer.prev == zeekClosed {
					// The peer sent a FIN, then a RST: a normal close.
					peer.set(zeekClosed)
				}
			}
			if rst {
				ep.set(zeekReset)
			}
		case zeekClosed:
			// A RST after both FINs changes nothing.
			if rst && peer.state != zeekClosed {
				ep.set(zeekReset)
			}
		}
	}
	return e[flow.Client].state, e[flow.Server].state
}

// rstOS0 is Zeek's pattern for "the originator sent a SYN, then a RST,
// and the responder answered nothing".
var rstOS0 = regexp.MustCompile(`^\^?S[^HAFGIQ]*R`)

// ZeekConnState returns the conn_state Zeek's conn.log gives the
// connection (base/protocols/conn/main.zeek): S0, S1, SF, REJ, S2, S3,
// RSTO, RSTR, RSTOS0, RSTRH, SH, SHR or OTH. Zeek's originator is the
// client, its responder the server; the endpoint states are those Zeek's
// TCP analyzer reaches on the packets the history records.
func ZeekConnState(r *flow.Record) string {
	os, rs := zeekEndpoints(r.History)
	inactive := func(e zeekEndpoint) bool { return e == zeekInactive || e == zeekPartial }
	switch {
	case rs == zeekReset:
		switch {
		case os == zeekSynSent || os == zeekSynAckSent ||
			os == zeekReset && r.Client.Bytes == 0 && r.Server.Bytes == 0:
			return "REJ"
		case inactive(os):
			return "RSTRH"
		}
		return "RSTR"
	case os == zeekReset:
		if inactive(rs) {
			if rstOS0.MatchString(r.History) {
				return "RSTOS0"
			}
			return "OTH"
		}
		return "RSTO"
	case os == zeekClosed && rs == zeekClosed:
		return "SF"
	case os == zeekClosed:
		if inactive(rs) {
			return "SH"
		}
		return "S2"
	case rs == zeekClosed:
		if inactive(os) {
			return "SHR"
		}
		return "S3"
	case os == zeekSynSent && rs == zeekInactive:
		return "S0"
	case os == zeekEstablished && rs == zeekEstablished:
		return "S1"
	}
	return "OTH"
}

// ZeekDuration is the connection's duration as Zeek's conn.log gives it:
// from the first packet to the last one before both endpoints had closed
// (sent a FIN or a RST). The final ACK of a close, or a RST after both
// FINs, is counted in the packets but does not lengthen the connection.
func ZeekDuration(r *flow.Record) time.Duration {
	c, s := closedAt(r, flow.Client), closedAt(r, flow.Server)
	if c == 0 || s == 0 {
		return r.Duration()
	}
	return min(max(c, s), r.Last).Sub(r.First)
}

// closedAt is when side s first sent a FIN or a RST; 0 if it did neither.
func closedAt(r *flow.Record, s flow.Side) flow.Timestamp {
	h := r.Half(s)
	at := h.FinAt
	if h.RSTs == 0 {
		return at
	}
	rst := h.LastPacket // if the RST's event was not kept
	for _, e := range r.Events {
		if e.From == s && e.Flags&packet.RST != 0 {
			rst = e.At
			break
		}
	}
	if at == 0 || rst < at {
		return rst
	}
	return at
}
