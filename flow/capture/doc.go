// Package capture reads packet captures: files, and with libpcap, network
// interfaces.
//
// What it owns: recognising a capture's container (classic pcap in either
// byte order and timestamp resolution, pcapng, either of them gzip
// compressed) from its first bytes, and reading its records without
// copying them; what the capture says of itself (its end and its losses,
// from pcapng interface statistics); live capture on an interface, with a
// pcap or pcapng copy of what was captured; BPF filters. It does not
// decode the frames (package packet does) and knows nothing of
// connections: package flow reads Sources in its pass.
//
// What goes in: a path ("-" for standard input) or an io.Reader; for a
// live capture, an interface's name and LiveOptions.
//
// What comes out: a Source, which hands out one record at a time: the
// frame's bytes, its CaptureInfo (time, lengths) and its link type.
//
// A Source is read by one goroutine, in this order:
//
//  1. Open or NewSource (a file or stream), or OpenLive (an interface:
//     its Live.Source). The container is recognised here; a stream that
//     is no capture gives ErrNotCapture.
//  2. SetFilter, optionally, with a Filter from CompileFilter. The Source
//     only keeps it, for its reader to apply (Filter): packets left out
//     still take their frame numbers.
//  3. Next, until it returns io.EOF. The bytes it returns are valid until
//     the next call. A live Source returns ErrIdle when no packet came
//     within LiveOptions.Poll, so that its reader can do what it has to
//     meanwhile, and io.EOF once the context given to OpenLive is done.
//     Any other error is a record that cannot be read: what came before
//     stands.
//  4. End and Dropped, once Next has returned io.EOF: when the capture
//     ended and what it lost, where it says.
//  5. Close; for a live capture, Live.FinishWrite (which completes the
//     copy with its statistics) and Live.Close.
//
// Live capture, interfaces and BPF filters need libpcap, and so cgo; a
// build without cgo reads capture files only, and those functions return
// ErrNoLibpcap (LiveAvailable says which build this is).
package capture
