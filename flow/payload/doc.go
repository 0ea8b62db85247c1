// Package payload reads what TCP connections carry: it puts each
// connection's two byte streams in order and reads HTTP/1.x and TLS
// hellos in them.
//
// What it owns: the reading state of each connection (a Stream); the
// reassembler (gopacket/reassembly) that puts segments in order once one
// came out of order, bounded by Config; recognising the protocol from a
// stream's first bytes; the HTTP/1.x and TLS readers; what was read (a
// Summary: the protocol, the HTTP exchanges or the TLS server name, the
// bytes never captured), and its compact packed form (Packed), in which
// a connection that is over keeps it. It knows nothing of TCP states or
// of the connection table: package flow tracks the connections and calls
// it, and holds each connection's Stream, then its Packed, on the
// connection's record.
//
// What goes in: for each segment that carries payload, the segment
// (its sequence number, flags, payload, and length before the snap
// length cut it), the side that sent it, the packet it came in and the
// sending side's initial sequence number when its SYN was seen; how far
// each side acknowledged; that the connection is over, or left the
// tracker's table while still open; the capture's time, which alone
// drives the reassembler's timers.
//
// What comes out: a Packed for each connection, read back with
// Packed.Read into a Summary. Exchanges name the packets their request
// and response came in, by time, packet number and input, as flow's
// events do.
//
// Side and Timestamp are this package's own, with flow.Side's and
// flow.Timestamp's values: flow converts at the calls.
//
// A Reader and its Streams are used by one goroutine (a tracker), in this
// order:
//
//  1. NewReader, once.
//  2. For a connection's first segment that carries payload, Start (or,
//     for a connection whose stream rests, Resume; nil means nothing
//     more is read).
//  3. Stream.Segment for each segment that carries payload, in capture
//     order; Stream.Ack with the connection's acknowledgements when it
//     leaves the table (for a resting stream, Reader.AckRest). Reader.Flush
//     every so often with the capture's time: the reassembler lets go of
//     quiet connections and skips the gaps no retransmission filled.
//  4. When the connection leaves the table: Stream.Finish if it is over,
//     which returns the Packed result; else Stream.Rest, which returns
//     the result packed with where reading stood, when nothing is pending
//     (a resting stream weighs a few bytes instead of hundreds), and
//     goes back to 2 if a segment brings the connection back.
//     Stream.Snapshot, at any time, returns what Finish would.
//  5. At the end of the capture: Reader.FlushAll, then Finish for every
//     Stream still open and Reader.Unrest for every resting result.
//
// A Stream is not used after Finish or a successful Rest: the Reader
// keeps it for a later connection.
package payload
