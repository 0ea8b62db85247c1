package flow

import (
	"time"

	"github.com/flowdoc/flowdoc/flow/packet"
)

// A packet the capture saw leave is not proof that it arrived. When one
// side goes on sending what the other must answer (data, a FIN, a
// keep-alive probe), sends it again, and hears nothing back, its packets
// after the peer's last one evidently did not reach the peer (or the
// peer's answers did not come back): the peer, or a firewall or NAT on
// the path that forgot the connection, stopped answering. The peer's state
// is then what it was when it last spoke, not what those packets would
// have made it.

// InitialRTO is the retransmission timeout before any RTT is measured
// (RFC 6298, 2.1; Linux's TCP_TIMEOUT_INIT): a SYN-ACK not acknowledged
// within it is sent again by a server that keeps the half-open connection.
const InitialRTO = time.Second

// Unanswered returns when side s's unanswered stretch began: the first
// moment, after the peer's last packet, from which s sent something the
// peer had to answer and then sent it again (or probed) without any
// answer. It is zero when the peer answered, or when the capture holds no
// proof that s's packets went unanswered (a single FIN or request at the
// end of the capture may still be in flight).
func (r *Record) Unanswered(s Side) Timestamp {
	h, peer := r.Half(s), r.Half(s.Other())
	if peer.Packets == 0 || h.LastPacket <= peer.LastPacket {
		return 0
	}
	quiet := peer.LastPacket
	var since Timestamp
	earliest := func(t Timestamp) {
		if t > quiet && (since == 0 || t < since) {
			since = t
		}
	}
	// A FIN sent again: its first sending went unacknowledged.
	if h.FinAt > quiet {
		for i := range r.Events {
			e := &r.Events[i]
			if e.From == s && e.Flags.Has(packet.FIN) && e.Note&NoteRetransmit != 0 && e.At > h.FinAt {
				earliest(h.FinAt)
				break
			}
		}
	}
	// Keep-alive probes the peer should have answered, each with an ACK:
	// two at least after its last packet (one may still be in flight).
	if ka := r.KeepAlive; ka != nil && ka.Last[s] > quiet && probesAfter(ka, h.KeepAlives, s, quiet) >= 2 {
		earliest(firstProbeAfter(ka, h.KeepAlives, s, quiet))
	}
	// New data after the peer's last packet, and packets after it no
	// sooner than a retransmission timeout can fire: sent again, the
	// peer having acknowledged nothing.
	if h.Retrans > 0 && h.LastPayload > quiet && h.LastPacket.Sub(h.LastPayload) >= MinRTO {
		earliest(h.LastPayload)
	}
	return since
}

// MinRTO is the shortest retransmission timeout (Linux's TCP_RTO_MIN,
// 200 ms; RFC 6298 allows less, no common stack uses less): a packet sent
// sooner than this after another is not a retransmission of it.
const MinRTO = 200 * time.Millisecond

// firstProbeAfter estimates when side s sent its first keep-alive probe
// after time t, from the first and last and their even spacing.
func firstProbeAfter(ka *KeepAliveTimes, n uint32, s Side, t Timestamp) Timestamp {
	first, last := ka.First[s], ka.Last[s]
	if first > t || n < 2 {
		return max(first, t+1)
	}
	every := last.Sub(first) / time.Duration(n-1)
	if every <= 0 {
		return last
	}
	k := (t.Sub(first) + every) / every // probes up to t, then the next
	return min(first+Timestamp(k*every), last)
}

// probesAfter estimates how many of side s's n keep-alive probes came
// after time t, from the first and last and their even spacing.
func probesAfter(ka *KeepAliveTimes, n uint32, s Side, t Timestamp) int {
	first, last := ka.First[s], ka.Last[s]
	switch {
	case last <= t:
		return 0
	case first > t:
		return int(n)
	case n < 2:
		return 1
	}
	every := last.Sub(first) / time.Duration(n-1)
	if every <= 0 {
		return 1
	}
	return 1 + int(last.Sub(t)/every)
}

// settleUnanswered undoes, on the peer of a side whose packets went
// unanswered, the state changes that only those packets made: the peer
// never received them. A server that acknowledged nothing after its
// SYN-ACK, and never sent it again, kept no half-open connection (SYN
// cookies: its accept queue was full and it dropped the client's ACK): it
// holds no socket at all.
//
// It returns, per side, whether the side was found to hold no socket.
func (r *Record) settleUnanswered(at Timestamp) (noSocket [2]bool) {
	if r.OneSided {
		return
	}
	for s := Client; s <= Server; s++ {
		if r.Unanswered(s) == 0 {
			continue
		}
		p := r.Half(s.Other())
		if p.Since <= p.LastPacket {
			continue // the peer's state is its own doing
		}
		st, since, ok := r.stateAt(s.Other(), p.LastPacket)
		if !ok {
			continue
		}
		p.raw, p.Since = st, since
		noSocket[s.Other()] = st == SynRecv && p.synCount == 1 && at.Sub(p.synLast) > InitialRTO
	}
	return noSocket
}

// settleHalfOpen puts back in SYN_SENT a client that sent only SYNs and
// never answered the server's SYN-ACKs, the first of them at least the
// initial RTO before at: a client that received one acknowledges it
// within a round trip, so it did not (or it does not exist: a spoofed
// source). Its SYN timers then say whether it had given up by at.
//
// It reports whether the server holds no socket: it sent its SYN-ACK
// once, and not again for more than the initial RTO, when a server that
// keeps a half-open connection sends it again (a SYN cookie: no state
// kept).
func (r *Record) settleHalfOpen(at Timestamp) (noSocket bool) {
	C, S := &r.Client, &r.Server
	if r.Midstream || r.OneSided || C.raw != Established || C.synCount == 0 || S.synCount == 0 ||
		C.Packets != uint64(C.synCount) || S.Packets != uint64(S.synCount) || C.Bytes+S.Bytes > 0 ||
		at.Sub(S.FirstPacket) < InitialRTO {
		return false
	}
	C.raw, C.Since = SynSent, C.FirstPacket
	return S.raw == SynRecv && S.synCount == 1 && at.Sub(S.synLast) > InitialRTO
}

// stateAt returns side s's state as it stood at time t, from the events
// (every state change is one, but the server completing the handshake,
// which its own later packets show), and when it entered it; false when
// the events cannot tell (none before t, or events past the cap dropped
// before t).
func (r *Record) stateAt(s Side, t Timestamp) (State, Timestamp, bool) {
	var last *Event
	for i := range r.Events {
		e := &r.Events[i]
		if e.At > t {
			break
		}
		last = e
	}
	if last == nil || r.EventsDropped() > 0 && r.Events[len(r.Events)-1].At <= t {
		return Unknown, 0, false
	}
	st, since := last.ClientState, last.At
	if s == Server {
		st = last.ServerState
	}
	if h := r.Half(s); st == SynRecv && h.Packets > uint64(h.synCount) {
		// It sent more than its SYN-ACKs: it had the handshake's ACK.
		st = Established
	}
	return st, since, true
}
