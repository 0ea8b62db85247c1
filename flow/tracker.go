package flow

import (
	"net/netip"
	"slices"
	"time"
)

// Linux defaults for the timers that end a connection without a packet.
const (
	DefaultTimeWait   = 60 * time.Second // TCP_TIMEWAIT_LEN
	DefaultFinTimeout = 60 * time.Second // net.ipv4.tcp_fin_timeout
)

// maxEvents caps the events a record keeps; the rest are counted.
const maxEvents = 32

// Config tunes a Tracker. The zero Config uses the Linux defaults.
type Config struct {
	// TimeWait is how long an endpoint stays in TIME_WAIT.
	TimeWait time.Duration
	// FinTimeout is how long an orphaned FIN_WAIT_2 lasts.
	FinTimeout time.Duration
	// At is the moment states are reported for; zero means the last
	// packet's time.
	At time.Time
}

func (c Config) timeWait() time.Duration {
	if c.TimeWait > 0 {
		return c.TimeWait
	}
	return DefaultTimeWait
}

func (c Config) finTimeout() time.Duration {
	if c.FinTimeout > 0 {
		return c.FinTimeout
	}
	return DefaultFinTimeout
}

// Meta is where a segment came from.
type Meta struct {
	At      Timestamp
	Input   uint16
	Packet  uint32
	WireLen int
}

// tuple is a connection's endpoints in a canonical order, so both
// directions find the same flow.
type tuple struct{ a, b netip.AddrPort }

func makeTuple(src, dst netip.AddrPort) tuple {
	if less(dst, src) {
		return tuple{dst, src}
	}
	return tuple{src, dst}
}

func less(x, y netip.AddrPort) bool {
	if c := x.Addr().Compare(y.Addr()); c != 0 {
		return c < 0
	}
	return x.Port() < y.Port()
}

// track is the sequence-space view of one side, needed only while the
// connection is in the table.
type track struct {
	sent      bool
	synSeen   bool
	nxtOK     bool
	ackOK     bool
	finSent   bool
	gotFin    bool // has received the peer's FIN
	synAck    bool // has sent a SYN-ACK
	overflow  bool // a server whose accept queue dropped the handshake's ACK
	zeroWin   bool // last advertised window was zero
	dataAfter bool // sent data after the peer's FIN
	isn       uint32
	nxt       uint32 // sequence number after the highest one sent
	ack       uint32 // highest acknowledgement sent
	finSeq    uint32
	win       uint16 // raw advertised window
	retransN  uint32 // for the history's T letter
	zeroWinN  uint32 // for the history's W letter
	hist      uint16 // history letters already logged
}

type conn struct {
	rec  Record
	t    [2]track
	hist [20]byte
	nh   uint8
}

// Tracker follows TCP connections through a stream of segments. Feed it
// with Add in capture order, then call Finish once.
type Tracker struct {
	cfg       Config
	flows     map[tuple]*conn
	done      []Record
	nextID    int
	last      Timestamp
	lastSweep Timestamp
	added     uint64
}

// NewTracker returns an empty Tracker.
func NewTracker(cfg Config) *Tracker {
	return &Tracker{cfg: cfg, flows: make(map[tuple]*conn, 1024)}
}

// Open is the number of connections in the table now.
func (t *Tracker) Open() int { return len(t.flows) }

// Add feeds one segment.
func (t *Tracker) Add(seg *Segment, m Meta) {
	if m.At > t.last {
		t.last = m.At
	}
	t.added++
	if t.added&0xffff == 0 && t.last-t.lastSweep > Timestamp(10*time.Second) {
		t.sweep()
	}
	k := makeTuple(seg.Src, seg.Dst)
	c := t.flows[k]
	if c != nil && seg.Flags&(SYN|ACK|RST) == SYN && c.startsNew(seg) {
		t.retire(k, c)
		c = nil
	}
	if c == nil {
		c = t.newConn(seg, m)
		t.flows[k] = c
	}
	c.add(seg, m)
}

// startsNew reports whether a SYN (without ACK) opens a new connection on
// the tuple of c rather than continuing it.
func (c *conn) startsNew(seg *Segment) bool {
	s := c.side(seg.Src)
	ts := &c.t[s]
	if s == Client {
		if ts.synSeen {
			return seg.Seq != ts.isn // a new connect(): a new ISN
		}
		return true // c began midstream, or with only a SYN-ACK
	}
	// A SYN from the server's endpoint: simultaneous open while the client
	// waits for an answer, otherwise a new connection the other way.
	return !(c.rec.Client.raw == SynSent && !ts.sent)
}

func (t *Tracker) newConn(seg *Segment, m Meta) *conn {
	t.nextID++
	c := &conn{}
	r := &c.rec
	r.ID = t.nextID
	r.First, r.Last = m.At, m.At
	r.Client.WScale, r.Server.WScale = -1, -1
	switch {
	case seg.Flags&(SYN|ACK) == SYN:
		r.Key = Key{Client: seg.Src, Server: seg.Dst}
		r.Client.raw, r.Server.raw = Closed, Closed
	case seg.Flags&(SYN|ACK) == SYN|ACK:
		// The SYN was not captured; the client must have sent one.
		r.Key = Key{Client: seg.Dst, Server: seg.Src}
		r.Client.raw, r.Server.raw = SynSent, Closed
		r.Client.Since = m.At
	default:
		r.Midstream, r.RolesInferred = true, true
		if serverLike(seg.Src, seg.Dst) {
			r.Key = Key{Client: seg.Dst, Server: seg.Src}
		} else {
			r.Key = Key{Client: seg.Src, Server: seg.Dst}
		}
		r.Client.raw, r.Server.raw = Established, Established
		r.Client.Since, r.Server.Since = m.At, m.At
	}
	return c
}

// serverLike guesses, with no handshake to go by, whether a is the
// listening end of a connection between a and b: a well-known port facing
// a high one, a port outside the ephemeral ranges facing one inside them,
// or else the lower port.
func serverLike(a, b netip.AddrPort) bool {
	pa, pb := a.Port(), b.Port()
	switch {
	case pa < 1024 != (pb < 1024):
		return pa < 1024
	case ephemeral(pa) != ephemeral(pb):
		return !ephemeral(pa)
	}
	return pa < pb
}

// ephemeral reports whether p lies in the ephemeral port range of Linux
// (32768-60999) or of Windows and the IANA (49152-65535).
func ephemeral(p uint16) bool { return p >= 32768 }

func (c *conn) side(src netip.AddrPort) Side {
	if src == c.rec.Key.Client {
		return Client
	}
	return Server
}

// Seq arithmetic modulo 2^32 (RFC 9293, 3.4).
func seqLT(a, b uint32) bool { return int32(a-b) < 0 }
func seqLE(a, b uint32) bool { return int32(a-b) <= 0 }
func seqGT(a, b uint32) bool { return int32(a-b) > 0 }
func seqGE(a, b uint32) bool { return int32(a-b) >= 0 }

func (c *conn) add(seg *Segment, m Meta) {
	r := &c.rec
	s := c.side(seg.Src)
	o := s.Other()
	ts, to := &c.t[s], &c.t[o]
	hs, ho := r.Half(s), r.Half(o)
	f := seg.Flags

	if m.At > r.Last {
		r.Last = m.At
	}
	if hs.Packets == 0 {
		hs.FirstPacket = m.At
	}
	hs.LastPacket = m.At
	hs.Packets++
	hs.WireBytes += uint64(m.WireLen)
	ts.sent = true
	before := [2]State{r.Client.raw, r.Server.raw}
	var note Note
	keep := f&(SYN|FIN|RST) != 0

	// Zeek's history letters for the flags.
	switch {
	case f.Has(SYN) && f.Has(ACK):
		c.log(s, 'H')
	case f.Has(SYN):
		c.log(s, 'S')
	}
	if f.Has(FIN) {
		c.log(s, 'F')
	}
	if f.Has(RST) {
		c.log(s, 'R')
	}
	if f&(SYN|FIN|RST) == 0 && f.Has(ACK) && seg.Len == 0 {
		c.log(s, 'A')
	}

	if f.Has(RST) {
		hs.RSTs++
		if c.rstAcceptable(s, seg) {
			c.set(s, Closed, m.At)
			c.set(o, Closed, m.At)
		} else {
			note |= NoteRSTIgnored
		}
		c.event(seg, m, s, note, before)
		return
	}

	// The window the sender advertises for its receive side.
	if !f.Has(SYN) {
		ts.win = seg.Window
		zero := seg.Window == 0
		if zero {
			hs.ZeroWindows++
			ts.zeroWinN++
			c.logCounted(s, 'W', ts.zeroWinN)
			if !ts.zeroWin {
				note |= NoteZeroWindow
				keep = true
			}
		}
		ts.zeroWin = zero
	}

	if ts.overflow && f&SYN == 0 && hs.raw == SynRecv {
		// The server sends something other than its SYN-ACK: it
		// accepted the connection at last.
		ts.overflow = false
		c.set(s, Established, m.At)
	}

	// The acknowledgement: what the sender has received of the other side.
	if f.Has(ACK) {
		if !ts.ackOK || seqGT(seg.Ack, ts.ack) {
			if ts.ackOK && ts.finSent && to.dataAfter {
				// Data that came after our FIN is acknowledged: a
				// half-close, not an orphaned socket.
				hs.HalfClosed = true
			}
			ts.ack, ts.ackOK = seg.Ack, true
		}
		if to.synSeen && seqGE(seg.Ack, to.isn+1) {
			switch ho.raw {
			case SynSent:
				if f.Has(SYN) {
					c.set(o, Established, m.At) // SYN-ACK received
				}
			case SynRecv:
				if !to.overflow {
					c.set(o, Established, m.At) // the handshake's ACK
				}
			}
		}
		if to.finSent && seqGE(seg.Ack, to.finSeq+1) {
			switch ho.raw {
			case FinWait1:
				c.set(o, FinWait2, m.At)
			case Closing:
				c.set(o, TimeWait, m.At)
			case LastAck:
				c.set(o, Closed, m.At)
			}
		}
	}

	// Sequence space.
	span := uint32(seg.Len)
	if f.Has(SYN) {
		span++
	}
	if f.Has(FIN) {
		span++
	}
	end := seg.Seq + span
	probe := false
	if f.Has(SYN) {
		c.syn(s, seg, m, &note)
	}
	if ts.nxtOK {
		switch {
		case f&(SYN|FIN) == 0 && seg.Len <= 1 && seg.Seq == ts.nxt-1:
			// One byte below the next sequence number: a probe the peer
			// must answer. Linux sends the same segment to probe a zero
			// window and to keep an idle connection alive.
			probe = true
			if to.zeroWin {
				hs.WinProbes++
				if hs.WinProbes == 1 {
					note |= NoteWindowProbe
				}
			} else {
				hs.KeepAlives++
				if hs.KeepAlives == 1 {
					note |= NoteKeepAlive
				}
			}
		case span > 0 && seqLE(end, ts.nxt):
			// A SYN-ACK that repeats a bare SYN's number answers a
			// simultaneous open; it is not sent again.
			if !(f.Has(SYN|ACK) && !ts.synAck) {
				hs.Retrans++
				ts.retransN++
				c.logCounted(s, 'T', ts.retransN)
				if f&(SYN|FIN) != 0 {
					note |= NoteRetransmit
				}
			}
		}
		if !probe && seqGT(end, ts.nxt) {
			start := seg.Seq
			if seqLT(start, ts.nxt) {
				start = ts.nxt
			}
			newBytes := end - start
			if f.Has(FIN) && newBytes > 0 {
				newBytes--
			}
			if f.Has(SYN) && newBytes > 0 && start == seg.Seq {
				newBytes--
			}
			c.payload(s, newBytes, m)
			ts.nxt = end
		}
	} else {
		ts.nxt, ts.nxtOK = end, true
		c.payload(s, uint32(seg.Len), m)
	}
	if f.Has(SYN) {
		ts.synSeen = true
		if f.Has(ACK) {
			ts.synAck = true
		}
	}

	if f.Has(FIN) {
		if ts.finSent {
			if seg.Seq+uint32(seg.Len) == ts.finSeq && ho.raw == TimeWait {
				ho.Since = m.At // a FIN sent again restarts TIME_WAIT
			}
		} else {
			ts.finSent = true
			ts.finSeq = seg.Seq + uint32(seg.Len)
			hs.FinAt, hs.FinPacket, hs.FinInput = m.At, m.Packet, m.Input
			switch hs.raw {
			case CloseWait:
				if ts.ackOK && seqGE(ts.ack, to.finSeq+1) {
					c.set(s, LastAck, m.At)
				} else {
					// It sent its FIN before it received ours: both
					// sides closed at once.
					c.set(s, Closing, m.At)
				}
			case Established, SynRecv, SynSent:
				c.set(s, FinWait1, m.At)
			}
			c.receiveFin(o, m.At)
		}
	}

	if keep || probe && note != 0 || before != [2]State{r.Client.raw, r.Server.raw} {
		c.event(seg, m, s, note, before)
	}
}

// syn handles a SYN or SYN-ACK sent by s.
func (c *conn) syn(s Side, seg *Segment, m Meta, note *Note) {
	ts, to := &c.t[s], &c.t[s.Other()]
	hs := c.rec.Half(s)
	if ts.synSeen && seg.Seq == ts.isn {
		// A retransmitted SYN or SYN-ACK: note the backoff, which tells
		// when the sender will give up.
		hs.synGap = m.At.Sub(hs.synLast)
		hs.synLast = m.At
		if hs.synCount < 255 {
			hs.synCount++
		}
		if seg.Flags.Has(ACK) && ts.synAck && to.ackOK && seqGE(to.ack, ts.isn+1) && hs.raw == Established {
			// The client acknowledged our SYN, yet the SYN-ACK comes
			// again: the server dropped that ACK because its accept
			// queue was full, and sits in SYN_RECV.
			*note |= NoteListenOverflow
			ts.overflow = true
			c.set(s, SynRecv, m.At)
		}
		return
	}
	ts.isn = seg.Seq
	hs.synLast = m.At
	hs.synCount = 1
	if seg.MSS > 0 {
		hs.MSS = seg.MSS
	}
	hs.WScale = seg.WScale
	if seg.Flags.Has(ACK) {
		switch hs.raw {
		case Closed, SynSent, Unknown:
			c.set(s, SynRecv, m.At)
		}
		return
	}
	switch hs.raw {
	case Closed, Unknown:
		c.set(s, SynSent, m.At)
	}
	if to.synSeen && !to.synAck {
		// Both sent a bare SYN before receiving the other's: a
		// simultaneous open, where each answers with a SYN-ACK.
		c.set(s, SynRecv, m.At)
		if c.rec.Half(s.Other()).raw == SynSent {
			c.set(s.Other(), SynRecv, m.At)
		}
	}
}

// receiveFin moves the receiver of a FIN.
func (c *conn) receiveFin(s Side, at Timestamp) {
	ts := &c.t[s]
	if ts.gotFin {
		return
	}
	ts.gotFin = true
	switch c.rec.Half(s).raw {
	case Established, SynRecv:
		c.set(s, CloseWait, at)
	case FinWait1:
		c.set(s, Closing, at)
	case FinWait2:
		c.set(s, TimeWait, at)
	}
}

// rstAcceptable applies the receiver's checks to an RST sent by s: in
// SYN_SENT it must acknowledge the SYN; otherwise its sequence number must
// fall in the receiver's window.
func (c *conn) rstAcceptable(s Side, seg *Segment) bool {
	o := s.Other()
	ts, to := &c.t[s], &c.t[o]
	if c.rec.Half(o).raw == SynSent {
		return seg.Flags.Has(ACK) && to.synSeen && seg.Ack == to.isn+1
	}
	var next uint32
	switch {
	case to.ackOK:
		next = to.ack
	case ts.nxtOK:
		next = ts.nxt
	default:
		return true // nothing to check against
	}
	win := uint32(to.win)
	hs, ho := c.rec.Half(s), c.rec.Half(o)
	switch {
	case hs.WScale >= 0 && ho.WScale >= 0:
		win <<= uint(ho.WScale)
	case hs.WScale < 0 && ho.WScale < 0 && c.rec.Midstream:
		win = 1 << 30 // scale unknown
	}
	if win == 0 {
		win = 1
	}
	// Anything the sender had already sent may still be in flight.
	if ts.nxtOK && seqGT(ts.nxt, next+win) {
		win = ts.nxt - next + 1
	}
	return seqGE(seg.Seq, next) && seqLT(seg.Seq, next+win)
}

func (c *conn) payload(s Side, n uint32, m Meta) {
	if n == 0 {
		return
	}
	h := c.rec.Half(s)
	h.Bytes += uint64(n)
	h.LastPayload, h.LastPayloadPacket, h.LastPayloadInput = m.At, m.Packet, m.Input
	c.log(s, 'D')
	if c.t[s.Other()].finSent {
		c.t[s].dataAfter = true
	}
}

func (c *conn) set(s Side, st State, at Timestamp) {
	h := c.rec.Half(s)
	if h.raw != st {
		h.raw, h.Since = st, at
	}
}

func (c *conn) event(seg *Segment, m Meta, s Side, note Note, before [2]State) {
	r := &c.rec
	if before != [2]State{r.Client.raw, r.Server.raw} {
		note |= NoteStateChange
	}
	if len(r.Events) >= maxEvents {
		r.EventsDropped++
		return
	}
	if r.Events == nil {
		r.Events = make([]Event, 0, 8)
	}
	r.Events = append(r.Events, Event{
		At: m.At, Packet: m.Packet, Input: m.Input, From: s, Flags: seg.Flags,
		Seq: seg.Seq, Ack: seg.Ack, Len: uint32(seg.Len), Note: note,
		ClientState: r.Client.raw, ServerState: r.Server.raw,
	})
}

// History letters: each logged once per direction.
const histLetters = "SHADFRTW"

func (c *conn) log(s Side, letter byte) {
	i := indexByte(histLetters, letter)
	bit := uint16(1) << i
	if c.t[s].hist&bit != 0 {
		return
	}
	c.t[s].hist |= bit
	c.appendHist(s, letter)
}

// logCounted logs a letter the 1st, 10th, 100th... time, as Zeek does for
// repeated retransmissions and zero windows.
func (c *conn) logCounted(s Side, letter byte, n uint32) {
	switch n {
	case 1, 10, 100, 1000, 10000, 100000:
		c.appendHist(s, letter)
	}
}

func (c *conn) appendHist(s Side, letter byte) {
	if int(c.nh) >= len(c.hist) {
		return
	}
	if s == Server {
		letter += 'a' - 'A'
	}
	c.hist[c.nh] = letter
	c.nh++
}

func indexByte(s string, b byte) int {
	for i := 0; i < len(s); i++ {
		if s[i] == b {
			return i
		}
	}
	return 0
}

// retire moves a connection out of the table into the finished records.
func (t *Tracker) retire(k tuple, c *conn) {
	delete(t.flows, k)
	t.finishConn(c, false)
}

func (t *Tracker) finishConn(c *conn, reused bool) {
	r := &c.rec
	r.History = string(c.hist[:c.nh])
	if !c.t[Client].sent != !c.t[Server].sent {
		// Only one direction was captured. A side that acknowledged
		// something evidently heard from the other: its packets were
		// missed, and neither state can be known.
		for s := Client; s <= Server; s++ {
			if c.t[s].sent && c.t[s].ackOK && r.Half(s).RSTs == 0 {
				r.OneSided = true
			}
		}
	}
	if len(r.Events) < cap(r.Events) {
		r.Events = slices.Clip(r.Events)
	}
	t.done = append(t.done, *r)
}

// sweep retires connections that are over: nothing open on either side
// and quiet for longer than any timer. It keeps the table, and memory,
// proportional to the connections open at once.
func (t *Tracker) sweep() {
	t.lastSweep = t.last
	horizon := t.cfg.timeWait()
	if ft := t.cfg.finTimeout(); ft > horizon {
		horizon = ft
	}
	horizon += 30 * time.Second
	for k, c := range t.flows {
		if t.last.Sub(c.rec.Last) < horizon {
			continue
		}
		if over(c.rec.Client.raw) && over(c.rec.Server.raw) {
			t.retire(k, c)
		}
	}
}

func over(s State) bool {
	return s == Closed || s == TimeWait || s == FinWait2
}

// Finish ends the pass and returns every connection, in order of first
// packet, with the states as they stand at cfg.At (or the last packet).
// It returns the moment the states were taken at.
func (t *Tracker) Finish() ([]Record, time.Time) {
	for k, c := range t.flows {
		t.retire(k, c)
	}
	at := t.last
	if !t.cfg.At.IsZero() {
		at = TS(t.cfg.At)
	}
	recs := t.done
	t.done = nil
	slices.SortFunc(recs, func(a, b Record) int { return a.ID - b.ID })
	markReuse(recs)
	for i := range recs {
		t.finalize(&recs[i], at)
	}
	inferRoles(recs)
	return recs, at.Time()
}

// markReuse flags connections that reused an earlier one's 4-tuple.
func markReuse(recs []Record) {
	seen := make(map[tuple]struct{}, len(recs))
	for i := range recs {
		k := makeTuple(recs[i].Key.Client, recs[i].Key.Server)
		if _, ok := seen[k]; ok {
			recs[i].Reused = true
		}
		seen[k] = struct{}{}
	}
}

// finalize applies the timers at time at, and the rules for what a
// capture cannot know.
func (t *Tracker) finalize(r *Record, at Timestamp) {
	for _, h := range []*Half{&r.Client, &r.Server} {
		h.State, h.Expired = h.raw, Unknown
		age := at.Sub(h.Since)
		switch h.raw {
		case TimeWait:
			if age >= t.cfg.timeWait() {
				h.State, h.Expired = Closed, TimeWait
			}
		case FinWait2:
			if !h.HalfClosed && age >= t.cfg.finTimeout() {
				h.State, h.Expired = Closed, FinWait2
			}
		case SynSent, SynRecv:
			if gaveUp(h, at) {
				h.State, h.Expired = Closed, h.raw
			}
		}
	}
	if r.OneSided {
		for _, h := range []*Half{&r.Client, &r.Server} {
			if h.RSTs == 0 {
				h.State, h.Expired = Unknown, Unknown
			}
		}
	}
}

// gaveUp reports whether an endpoint retransmitting its SYN (or SYN-ACK)
// has given up by time at. Retransmissions back off exponentially, each
// interval double the one before; the sender gives up instead of sending
// the next one. The first interval is the initial RTO, 1 s on Linux (3 s
// on older Windows). The retry count is a setting
// (net.ipv4.tcp_syn_retries), so it is not assumed: silence for half as
// long again as the next interval means no retransmission is coming.
func gaveUp(h *Half, at Timestamp) bool {
	if h.synCount == 0 || h.synLast == 0 {
		return false
	}
	next := 2 * h.synGap
	if h.synCount < 2 || next <= 0 {
		next = 3 * time.Second
	}
	return at.Sub(h.synLast) > next+next/2
}

// inferRoles fixes the roles of midstream connections: an endpoint that
// accepted a handshake elsewhere in the capture is a server.
func inferRoles(recs []Record) {
	servers := map[netip.AddrPort]bool{}
	for i := range recs {
		if !recs[i].RolesInferred {
			servers[recs[i].Key.Server] = true
		}
	}
	for i := range recs {
		r := &recs[i]
		if r.RolesInferred && servers[r.Key.Client] && !servers[r.Key.Server] {
			r.swap()
		}
	}
}

// swap exchanges the roles of client and server.
func (r *Record) swap() {
	r.Key.Client, r.Key.Server = r.Key.Server, r.Key.Client
	r.Client, r.Server = r.Server, r.Client
	for i := range r.Events {
		e := &r.Events[i]
		e.From = e.From.Other()
		e.ClientState, e.ServerState = e.ServerState, e.ClientState
	}
	h := []byte(r.History)
	for i, b := range h {
		switch {
		case 'A' <= b && b <= 'Z':
			h[i] = b + 'a' - 'A'
		case 'a' <= b && b <= 'z':
			h[i] = b - ('a' - 'A')
		}
	}
	r.History = "^" + string(h)
}
