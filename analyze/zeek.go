package analyze

import (
	"regexp"
	"strings"

	"github.com/flowdoc/flowdoc/flow"
)

// zeekEndpoint is the state Zeek's TCP analyzer keeps for one endpoint. It
// records what the endpoint sent, not an RFC 793 state: an endpoint that
// sent a FIN is "closed" whether or not the peer acknowledged it.
type zeekEndpoint uint8

const (
	zeekInactive   zeekEndpoint = iota // sent nothing
	zeekSynSent                        // sent a SYN, handshake not complete
	zeekSynAckSent                     // sent a SYN-ACK, handshake not complete
	zeekPartial                        // sent packets, but no SYN was seen
	zeekEstablished
	zeekClosed // sent a FIN
	zeekReset  // sent a RST
)

// zeekEndpointOf derives the Zeek endpoint state of side s from the
// record: its RST and FIN, and the handshake letters of the history.
func zeekEndpointOf(r *flow.Record, s flow.Side) zeekEndpoint {
	h := r.Half(s)
	switch {
	case h.RSTs > 0:
		return zeekReset
	case h.FinPacket != 0:
		return zeekClosed
	case h.Packets == 0:
		return zeekInactive
	}
	has := func(letters string) bool { return strings.ContainsAny(r.History, letters) }
	syn, synAck := "S", "H" // letters of this side's SYN and SYN-ACK
	if s == flow.Server {
		syn, synAck = "s", "h"
	}
	if !has(syn + synAck) {
		return zeekPartial
	}
	// The handshake is complete once the client sent a SYN, the server a
	// SYN-ACK and the client something more (an ACK or data).
	if has("S") && has("h") && has("AD") {
		return zeekEstablished
	}
	if s == flow.Client {
		return zeekSynSent
	}
	return zeekSynAckSent
}

// rstOS0 is Zeek's pattern for "the originator sent a SYN, then a RST,
// and the responder answered nothing".
var rstOS0 = regexp.MustCompile(`^\^?S[^HAFGIQ]*R`)

// ZeekConnState returns the conn_state Zeek's conn.log gives the
// connection (base/protocols/conn/main.zeek): S0, S1, SF, REJ, S2, S3,
// RSTO, RSTR, RSTOS0, RSTRH, SH, SHR or OTH. Zeek's originator is the
// client, its responder the server.
func ZeekConnState(r *flow.Record) string {
	os, rs := zeekEndpointOf(r, flow.Client), zeekEndpointOf(r, flow.Server)
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
