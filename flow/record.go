package flow

import (
	"net/netip"
	"time"

	"github.com/flowdoc/flowdoc/flow/packet"
	"github.com/flowdoc/flowdoc/flow/payload"
)

// Key identifies a connection by its endpoints, client first. Every
// record holds one, and a capture may hold millions: it keeps the
// addresses as bytes (smaller than two netip.AddrPort, and no pointers
// for the garbage collector to follow); Client and Server rebuild them.
type Key struct {
	client, server [16]byte // netip.Addr.As16
	cport, sport   uint16
	cfam, sfam     family
}

// family is how a Key's address was made: none (the zero Addr), IPv4 or
// IPv6 (including IPv4-mapped IPv6, kept as such).
type family uint8

const (
	famNone family = iota
	famV4
	famV6
)

// MakeKey returns the key of a connection from client to server. An IPv6
// zone, which no captured packet carries, is not kept.
func MakeKey(client, server netip.AddrPort) Key {
	var k Key
	k.client, k.cport, k.cfam = keyAddr(client)
	k.server, k.sport, k.sfam = keyAddr(server)
	return k
}

func keyAddr(ap netip.AddrPort) ([16]byte, uint16, family) {
	a := ap.Addr()
	switch {
	case a.Is4():
		return a.As16(), ap.Port(), famV4
	case a.IsValid():
		return a.As16(), ap.Port(), famV6
	}
	return [16]byte{}, ap.Port(), famNone
}

func (f family) addrPort(b *[16]byte, port uint16) netip.AddrPort {
	switch f {
	case famV4:
		return netip.AddrPortFrom(netip.AddrFrom4([4]byte(b[12:])), port)
	case famV6:
		return netip.AddrPortFrom(netip.AddrFrom16(*b), port)
	}
	return netip.AddrPortFrom(netip.Addr{}, port)
}

// Client is the client's address and port.
func (k Key) Client() netip.AddrPort { return k.cfam.addrPort(&k.client, k.cport) }

// Server is the server's address and port.
func (k Key) Server() netip.AddrPort { return k.sfam.addrPort(&k.server, k.sport) }

// swap exchanges the client and the server.
func (k *Key) swap() {
	k.client, k.server = k.server, k.client
	k.cport, k.sport = k.sport, k.cport
	k.cfam, k.sfam = k.sfam, k.cfam
}

func (k Key) String() string { return k.Client().String() + " > " + k.Server().String() }

// Timestamp is a capture time in Unix nanoseconds. Records store times this
// way to stay small: a capture may hold millions of connections.
type Timestamp int64

// TS converts t to a Timestamp.
func TS(t time.Time) Timestamp { return Timestamp(t.UnixNano()) }

// Time returns ts as a time.Time in UTC; the zero Timestamp gives the zero
// time.Time.
func (ts Timestamp) Time() time.Time {
	if ts == 0 {
		return time.Time{}
	}
	return time.Unix(0, int64(ts)).UTC()
}

// Sub returns ts-u.
func (ts Timestamp) Sub(u Timestamp) time.Duration { return time.Duration(ts - u) }

// IsZero reports whether ts is unset.
func (ts Timestamp) IsZero() bool { return ts == 0 }

// Note says why an Event was kept.
type Note uint8

const (
	NoteRetransmit     Note = 1 << iota // a SYN, FIN or data segment sent again
	NoteKeepAlive                       // a TCP keep-alive probe
	NoteWindowProbe                     // a zero-window probe
	NoteZeroWindow                      // the sender advertised a zero window
	NoteRSTIgnored                      // an RST outside the receiver's window
	NoteListenOverflow                  // a SYN-ACK sent again after the client's ACK
	NoteStateChange                     // an endpoint changed state
	// NoteNotCaptured marks what the capture did not hold: a FIN, whose
	// event cites the peer's packet that acknowledged it; or data of the
	// peer's, which this event's FIN acknowledged.
	NoteNotCaptured
)

var noteNames = [...]string{"retransmission", "keepalive", "window_probe", "zero_window", "rst_ignored", "listen_overflow", "state_change", "not_captured"}

// Names spells the notes set in n, in bit order.
func (n Note) Names() []string {
	var out []string
	for i, name := range noteNames {
		if n&(1<<i) != 0 {
			out = append(out, name)
		}
	}
	return out
}

// Event is one packet worth citing: a SYN, FIN or RST, one that changed an
// endpoint's state, or the first of a kind (zero window, keep-alive). It is
// kept compact: a record holds several.
type Event struct {
	At     Timestamp
	Packet uint32 // 1-based frame number in input Input
	Seq    uint32
	Ack    uint32
	Len    uint32 // payload bytes
	Input  uint16
	From   Side
	Flags  packet.Flags
	Note   Note
	// The endpoints' states after this packet.
	ClientState, ServerState State
}

// Half is one endpoint of a connection and what it sent. (Fields are
// ordered by size, so a record has no padding.)
type Half struct {
	// Since is when the endpoint entered the state it was last seen in
	// (for an expired one, the state that expired).
	Since Timestamp

	Packets uint64
	// Bytes is the payload bytes sent, by sequence numbers as Zeek's
	// orig_bytes and resp_bytes count them: holes in the capture
	// included, each sequence number once, the SYN and FIN not.
	Bytes uint64
	// Missed is how many of Bytes the capture does not hold: holes no
	// packet filled, data seen only in the peer's acknowledgements, and
	// payload cut by the snap length.
	Missed    uint64
	WireBytes uint64 // frame lengths on the wire, as tshark counts them
	IPBytes   uint64 // IP datagram lengths, as Zeek's ip_bytes counts them

	FirstPacket Timestamp
	LastPacket  Timestamp
	LastPayload Timestamp // last new payload; 0 if none
	// FinAt and FinPacket are the endpoint's first FIN; 0 if it sent none.
	// For a FIN the capture lost, which the peer acknowledged, FinPacket
	// is that acknowledging packet (its event is noted NoteNotCaptured).
	FinAt Timestamp
	// DataBeforeFin is the last new payload, either way, before that FIN:
	// how long the connection was quiet when this side closed it; before
	// the endpoint's goodbye, when it said one (see Goodbye).
	DataBeforeFin Timestamp

	synLast Timestamp

	// ISN is the endpoint's initial sequence number, when its SYN (or
	// SYN-ACK) was seen (SYNs() > 0). An address translation (NAT) keeps
	// it: the same connection captured on both sides of one has the
	// same ISNs under other addresses.
	ISN      uint32
	synGapUS uint32 // interval before the last SYN retransmission, in µs

	Retrans     uint32 // segments carrying a SYN, FIN or data already sent
	RSTs        uint32
	ZeroWindows uint32 // segments advertising a zero receive window
	KeepAlives  uint32
	WinProbes   uint32 // zero-window probes

	LastPayloadPacket   uint32
	FinPacket           uint32
	DataBeforeFinPacket uint32
	LastPayloadInput    uint16
	FinInput            uint16
	DataBeforeFinInput  uint16

	MSS uint16 // from the SYN; 0 if not seen

	// State is the endpoint's state at the end of the capture, its timers
	// applied. Expired is the state whose timer ran out to make it Closed
	// (TimeWait, FinWait2, or SynSent/SynRecv when the handshake was given
	// up), or Unknown.
	State, Expired State

	WScale int8 // from the SYN; -1 if not seen, WScaleCut if the snap length cut it

	DataBeforeFinFrom Side // who sent the DataBeforeFin payload

	// HalfClosed is set when the endpoint acknowledged data after sending
	// its FIN: it shut down only its sending side (shutdown(SHUT_WR)), so
	// its FIN_WAIT_2 is not orphaned and does not time out.
	HalfClosed bool
	// ZeroWindowAtEnd is set when the last window the endpoint advertised
	// was zero: it had stopped reading, and still had at the end.
	ZeroWindowAtEnd bool

	raw      State // the state machine's state, timers not applied
	synCount uint8 // SYNs (or SYN-ACKs) sent
}

// Goodbye reports whether the endpoint's last payload (LastPayload) was
// a goodbye: a message it sent just before its FIN, unasked (the payload
// before it was its own, or it is a control message: an HTTP/2 GOAWAY, a
// TLS alert, a 421 line; and no HTTP response), after a quiet period of a
// second or more and at least ten times as long as the moment between the
// two. A server that closes an idle
// session often says why first: PostgreSQL's FATAL 57P05, MySQL's
// ER_CLIENT_INTERACTION_TIMEOUT, an FTP or SMTP 421. The quiet period,
// not the goodbye, is then what DataBeforeFin ends.
func (h *Half) Goodbye() bool {
	// Without a goodbye, DataBeforeFin is the later of both sides' last
	// payloads before the FIN, and an endpoint sends none after its FIN.
	return h.FinPacket > 0 && h.LastPayload > h.DataBeforeFin && h.LastPayload <= h.FinAt
}

// SYNs is how many SYNs (or SYN-ACKs) the endpoint sent with its
// initial sequence number, 255 at most. A SYN sent many times during a
// flood may have been counted without being kept as an event.
func (h *Half) SYNs() int { return int(h.synCount) }

// WScaleCut is a Half's WScale when the snap length cut its SYN within the
// TCP options (a header-only capture): the window scale is unknown, not
// absent.
const WScaleCut int8 = -2

// Record is one TCP connection.
type Record struct {
	// The fields holding pointers come first: the garbage collector then
	// reads only the start of each record, of which there are millions.

	// History is Zeek's conn.log history: one letter per event kind and
	// direction, upper case from the client (S SYN, H SYN-ACK, A pure ACK,
	// D data, F FIN, R RST, T retransmission, W zero window, ^ roles
	// flipped by inference).
	History string
	// KeepAlive holds when each side sent its first and last TCP
	// keep-alive probe; nil when neither sent one (most connections).
	KeepAlive *KeepAliveTimes
	Events    []Event
	// stream reads the byte streams (the protocol, HTTP exchanges, bytes
	// never captured) while the connection lasts; once they are finished,
	// or the stream rests, packed holds what was read, and stream is nil.
	// See Payload.
	stream *payload.Stream
	packed payload.Packed

	Key Key
	// RolesInferred is set when no SYN told which side is the client.
	RolesInferred bool
	// Midstream is set when the capture began after the handshake: the
	// states started from an assumed ESTABLISHED.
	Midstream bool
	// OneSided is set when packets of only one direction were captured
	// although the other side clearly sent some: states then are Unknown.
	OneSided bool
	// Reused is set when this connection took over the 4-tuple of an
	// earlier one that was still open, or closed less than TIME_WAIT plus
	// the FIN timeout before (reuse after that is ordinary port cycling).
	Reused bool
	flags  recFlags
	// ext holds more of the record's bits: with annGapUS and annPacket,
	// a close announced ahead of the FIN (see Announced: annDone and
	// annServer); whether the connection carried another protocol
	// (OtherProtocol).
	ext extFlags
	// (The key, the bools, the flags, ext and dropped fill whole words:
	// no padding. TestRecordSize holds the sizes.)
	//
	// dropped holds, in its low 24 bits, how many events past the cap
	// were not kept (see EventsDropped), and in its top 8 more bits of
	// the record's (ext2Flags).
	dropped             uint32
	annGapUS, annPacket uint32
	// ID is 1-based, in order of first packet. While the pass runs it
	// holds the Meta.Order of the first packet, by which the trackers'
	// records are merged and then numbered. (Where int has 32 bits, a
	// capture of more than 2^31 packets may have its flows numbered out
	// of order: the orders wrap. The states do not depend on them.)
	ID int

	First, Last    Timestamp
	Client, Server Half
}

// recFlags are a record's bits of its own.
type recFlags uint8

const (
	recHeld    recFlags = 1 << iota // its connection is in the tracker's table
	recClientA                      // once the connection is retired, its conn.clientA
	// recDataAfterFin, shifted by the Side, is set once that side sent
	// data after the peer's FIN other than a control message (see
	// DataAfterFin).
	recDataAfterFin
	_
	// recControlAfterFin, shifted by the Side, is set once that side sent
	// a control message after the peer's FIN (see ControlAfterFin).
	recControlAfterFin
	_
	// recControlBeforeFin, shifted by the Side, is set when that side's
	// last payload before the peer's FIN was a control message (see
	// ControlBeforeFin).
	recControlBeforeFin
)

func (r *Record) is(f recFlags) bool { return r.flags&f != 0 }

func (r *Record) set(f recFlags, on bool) {
	if on {
		r.flags |= f
	} else {
		r.flags &^= f
	}
}

// DataAfterFin reports whether side s sent data after the peer's FIN
// that was no control message (an HTTP/2 GOAWAY, a TLS alert, a 421
// line): a message the peer, done sending, was to read, such as a
// request on a connection the server had closed. Known only where the
// payload was read whole: false with Config.Payload.Off, or where the
// snap length cut it.
func (r *Record) DataAfterFin(s Side) bool { return r.is(recDataAfterFin << s) }

// ControlAfterFin reports whether side s sent a control message after
// the peer's FIN: a TLS close_notify answering the peer's, a GOAWAY. With
// DataAfterFin false, what s sent after the peer's FIN was read and held
// no request. Known only where the payload was read.
func (r *Record) ControlAfterFin(s Side) bool { return r.is(recControlAfterFin << s) }

// extFlags are more of a record's bits. The first four say where it
// stands with an announced close: a side's short message, unasked, after
// a quiet period, which may be the first step of a goodbye in two (Go's
// HTTP/2 server sends GOAWAY when its idle timeout fires, and
// close_notify and FIN a second later).
type extFlags uint8

const (
	annNoted  extFlags = 1 << iota // (conn.ann) an announcement is its side's last payload (but for annMore)
	annMore                        // (conn.ann) a control message of that side followed it
	annDone                        // its close is done: Announced holds
	annServer                      // the side is the server's
	// extOtherProtocol is set once the payload, read from the
	// connection's first byte, was of no protocol flowdoc reads (see
	// OtherProtocol).
	extOtherProtocol
	// The last three bits hold a Refusal: what the server's first
	// message refused the client with.
	extRefusalShift = iota
)

// extPings and extClientAlert, in a record's ext, say that the server
// closed the connection for its client's pings (see ClosedForPings), and
// that the client sent a fatal TLS alert in the clear (ClientAlert).
// They are annNoted's and annMore's bits, which only a connection's ann
// uses.
const (
	extPings       = annNoted
	extClientAlert = annMore
)

func (a extFlags) side() Side {
	if a&annServer != 0 {
		return Server
	}
	return Client
}

// Announced reports whether side s announced its close ahead of its
// FIN: after the quiet period that Half.DataBeforeFin begins, s sent a
// short message answering nothing (a GOAWAY, encrypted or not), then at
// most one control message (a TLS close_notify), then its FIN, no later
// after the announcement than the quiet before it lasted; or the peer
// answered it within echoWindow with its own FIN, which came first (a
// TLS client answering a server's close_notify). The quiet the close
// ends is then the one before the announcement: at returns when the
// announcement was sent, and packet its packet number in the input of
// DataBeforeFin (to the microsecond). Known with or without the payload
// read (but for the control message).
func (r *Record) Announced(s Side) (at Timestamp, packet uint32, ok bool) {
	if r.ext&annDone == 0 || r.ext.side() != s {
		return 0, 0, false
	}
	h := r.Half(s)
	return h.DataBeforeFin + Timestamp(time.Duration(r.annGapUS)*time.Microsecond), r.annPacket, true
}

// ControlBeforeFin reports whether side s's last payload before the
// peer's FIN was a control message (a TLS close_notify or other alert, an
// HTTP/2 GOAWAY, a 421 line, PostgreSQL's Terminate): s had begun to
// close before the peer did, and the peer's FIN may answer it. Known only
// where the payload was read.
func (r *Record) ControlBeforeFin(s Side) bool { return r.is(recControlBeforeFin << s) }

// OtherProtocol reports whether the connection's payload, read from its
// first byte, was of no protocol flowdoc reads (neither HTTP nor TLS):
// MQTT, Redis, a database's own. False where the payload was not read
// (Config.Payload.Off), or the capture began after the first bytes.
func (r *Record) OtherProtocol() bool { return r.ext&extOtherProtocol != 0 }

// Refusal is an error a server opens a connection with to refuse the
// client, and then closes it: a connection limit's or an access check's.
type Refusal uint8

const (
	NoRefusal        Refusal = iota
	RefusalRedis             // "-ERR max number of clients reached"
	RefusalMySQL             // an error packet instead of the handshake: 1040 "Too many connections", a host blocked
	RefusalPostgres          // an ErrorResponse, FATAL, to the startup: 53300 "sorry, too many clients already"
	RefusalLine              // an FTP or SMTP 421 or 554 line: too many users, service not available
	RefusalMQTT              // a CONNACK refusing the connection: server unavailable, not authorized
	RefusalTLS               // a TLS alert instead of the server's hello
	RefusalMemcached         // "ERROR Too many open connections" (maxconns_fast)
	RefusalSSH               // OpenSSH's "Exceeded MaxStartups" instead of its banner
	RefusalAMQP              // an AMQP Connection.Close 530 or 403 as the connection opens (RabbitMQ's connection limits)
	RefusalIMAP              // an IMAP NO [LIMIT] or [UNAVAILABLE] to the login (Dovecot's mail_max_userip_connections)
	RefusalIRC               // an IRC ERROR line as the server's first message (ngIRCd's MaxConnectionsIP, a ban)
	RefusalNATS              // a NATS -ERR as the connection opens: max_connections, or an authorization violation
	RefusalRsync             // an rsync daemon's @ERROR after the greetings: max connections, an unknown module, access
	RefusalSOCKS             // a SOCKS proxy's reply refusing the request: its ruleset, an unreachable host
)

var refusalNames = [...]string{"", "Redis's \"max number of clients reached\"", "a MySQL error packet instead of its handshake",
	"a PostgreSQL FATAL error to the startup message", "a 421 or 554 line", "an MQTT CONNACK refusing the connection",
	"a TLS alert instead of the server's hello", "memcached's \"Too many open connections\"",
	"sshd's \"Exceeded MaxStartups\" instead of its banner",
	"an AMQP Connection.Close refusing the connection as it opens (530 NOT_ALLOWED or 403 ACCESS_REFUSED)",
	"an IMAP NO [LIMIT] or [UNAVAILABLE] to the login",
	"an IRC ERROR line instead of its greeting",
	"a NATS -ERR as the connection opens (maximum connections exceeded, or an authorization violation)",
	"an rsync daemon's @ERROR after the greetings (max connections reached, an unknown module, access denied)",
	"a SOCKS reply refusing the request (its ruleset, or the destination unreachable)"}

func (f Refusal) String() string { return refusalNames[f] }

// Refusal returns the refusal the server opened the connection with:
// its first message (after at most one byte, PostgreSQL's answer to a
// request for TLS) was a protocol's error that refuses a client. Known
// only where the payload was read.
func (r *Record) Refusal() Refusal {
	f := Refusal(r.ext >> extRefusalShift)
	if r.ext2()&ext2RefusalHigh != 0 {
		f |= 8
	}
	return f
}

// setRefusal makes f the record's Refusal.
func (r *Record) setRefusal(f Refusal) {
	r.ext = r.ext&^(7<<extRefusalShift) | extFlags(f&7)<<extRefusalShift
	r.setExt2(ext2RefusalHigh, f&8 != 0)
}

// EventsDropped is how many events past the cap were not kept, at most
// droppedMax.
func (r *Record) EventsDropped() int { return int(r.dropped & droppedMax) }

// droppedMax is the most EventsDropped counts.
const droppedMax = 1<<24 - 1

// dropEvents adds n to EventsDropped, up to droppedMax.
func (r *Record) dropEvents(n int) {
	d := min(int(r.dropped&droppedMax)+n, droppedMax)
	r.dropped = r.dropped&^droppedMax | uint32(d)
}

// ext2Flags are the record's bits in the top byte of dropped.
type ext2Flags uint8

const (
	// ext2RefusalHigh is a Refusal's fourth bit, above the three in ext.
	ext2RefusalHigh ext2Flags = 1 << iota
	// ext2Opener: the client's first payload opened a handshake (Opened).
	ext2Opener
	// ext2Pongs: the client answered pings after the server's FIN
	// (PongsAfterFin).
	ext2Pongs
)

// PongsAfterFin reports whether the client, after the server's FIN, sent
// answers to pings (NATS's or IRC's PONG lines): a stopped client, woken,
// answering the pings that gave up on it. Neither a request on the
// closed connection nor its application's close. Known only where the
// payload was read.
func (r *Record) PongsAfterFin() bool { return r.ext2()&ext2Pongs != 0 }

// Opened reports whether the client's first payload opened a handshake
// that the server's protocol answers as soon as it has accepted the
// connection, whatever its application does (a TLS ClientHello, an AMQP
// protocol header, PostgreSQL's startup message, an SSH version line, an
// MQTT CONNECT, the HTTP/2 preface): a server that sent nothing after it
// had not come to the connection. Known only where the payload was read.
func (r *Record) Opened() bool { return r.ext2()&ext2Opener != 0 }

func (r *Record) ext2() ext2Flags { return ext2Flags(r.dropped >> 24) }

func (r *Record) setExt2(f ext2Flags, on bool) {
	if on {
		r.dropped |= uint32(f) << 24
	} else {
		r.dropped &^= uint32(f) << 24
	}
}

// ClosedForPings reports whether the server sent an HTTP/2 GOAWAY with
// the error ENHANCE_YOUR_CALM, in the clear: it closes the connection
// because its client pings more often than it allows (gRPC's
// "too_many_pings"). Known only where the payload was read.
func (r *Record) ClosedForPings() bool { return r.ext&extPings != 0 }

// ClientAlert reports whether the client sent a fatal TLS alert in the
// clear: it gave up on the handshake (most often, a server certificate
// it does not trust). Known only where the payload was read.
func (r *Record) ClientAlert() bool { return r.ext&extClientAlert != 0 }

// KeepAliveTimes are the first and last keep-alive probes of each side
// (indexed by Side); 0 for a side that sent none.
type KeepAliveTimes struct {
	First, Last [2]Timestamp
}

// Half returns the endpoint on side s.
func (r *Record) Half(s Side) *Half {
	if s == Client {
		return &r.Client
	}
	return &r.Server
}

// Endpoint returns the address of side s.
func (r *Record) Endpoint(s Side) netip.AddrPort {
	if s == Client {
		return r.Key.Client()
	}
	return r.Key.Server()
}

// Duration is the time between the first and the last packet.
func (r *Record) Duration() time.Duration { return r.Last.Sub(r.First) }
