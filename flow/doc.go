// Package flow reads packet captures and follows every TCP connection in
// them from both ends.
//
// What goes in: captures opened with package capture (pcap or pcapng
// files, gzip-compressed files or streams, live interfaces), read in one
// streaming pass by Read, which turns every frame into a TCP segment with
// package packet (its doc lists the link types and tunnels): TCP inside
// tunnels, in IP fragments once reassembled, and in headers the snap
// length cut within their options. The flows are the inner connections.
//
// What comes out: a Result with one Record per TCP connection. A Record holds
// the connection's 4-tuple with the client and server roles, each endpoint's
// RFC 793 state as it stands at the end of the capture (the last packet, or
// Config.At), per-direction counters, a Zeek-style history string, a
// bounded list of the packets that changed an endpoint's state, which the
// analyze package cites as evidence, and what was read in its payload
// (Record.Payload). Connections that carry no conversation (a SYN flood's,
// a scan's), once there are many of them, are not records but counted in
// the Result's Aggregates (lone.go says how).
//
// The state machine is driven by every segment seen, in both directions, and
// does not depend on payload reassembly: a half-closed connection never
// "completes" in a reassembler, yet its states are exactly what matters.
// Reading the payload (reassembly, HTTP, TLS) is package payload's: the
// tracker only calls it (from payloader.go), in the order that package's
// doc gives, and keeps on each record the payload.Stream, then the
// payload.Packed, it returns.
//
// Read's pass, in order:
//
//  1. One goroutine reads every input's packets in timestamp order
//     (capture.Source.Next; several inputs are merged), numbers them,
//     applies the input's filter, decodes them (packet.Decoder), and
//     marks the SYNs that may be folded (synCounter).
//  2. It hands each segment, in batches, to the Tracker that owns its
//     4-tuple: one per CPU, each on a goroutine of its own, each adding
//     its segments in order: the state machines, and the payload (a
//     payload.Reader per tracker).
//  3. Every few thousand packets, and whenever a live input is idle, the
//     reading goroutine calls ReadOptions.OnProgress and answers the
//     ReadOptions.Snapshots waiting, each tracker copying its records
//     between two batches.
//  4. At the end of the inputs each tracker finishes its connections (the
//     timers, in capture time), and Read merges their records in order of
//     first packet, and their aggregates, and infers the roles of those
//     whose SYN it did not see.
//
// Packet numbers are 1-based frame numbers within each input file, as
// Wireshark numbers them, so evidence can be found with "Go to Packet".
package flow
