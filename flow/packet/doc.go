// Package packet decodes captured frames into TCP segments.
//
// What it owns: the link layers, IP (fragments reassembled) and the
// tunnels TCP travels in, down to what the connection tracker needs of
// each TCP segment; the TCP header flags; which link types it decodes
// and their libpcap names. It knows nothing of connections: package flow
// reads the captures, hands each frame to a Decoder and tracks what comes
// out.
//
// What goes in: a frame's bytes, its link type (Ethernet with VLAN, QinQ,
// 802.1ah and LLC/SNAP; Linux cooked v1 and v2; raw IP; BSD loopback;
// PPP; Cisco HDLC; FDDI; 802.11; pflog; NFLOG; Apple PKTAP) and its
// capture time. TCP is found inside VXLAN, Geneve, GRE, ERSPAN, MPLS,
// PPPoE, GTP-U, IP in IP and Teredo, and in headers the snap length cut
// within their options.
//
// What comes out: a Segment (the inner 4-tuple, sequence numbers, flags,
// window, SYN options, lengths, the captured payload, the tunnel it was
// found in, the direction where the link layer records it); or word that
// the frame is not TCP, with what it holds (Decoder.Other); or a
// *DecodeError that says where and why the frame is malformed.
//
// A Decoder is used by one goroutine, frame by frame in capture order:
//
//  1. NewDecoder, once.
//  2. Decode(linkType, frame, captureTime, &seg), for every frame.
//  3. With true, seg holds the segment; seg.Payload points into the frame
//     (or the Decoder's buffers), valid until the next Decode. With false
//     and a nil error, Other names what the frame held. With an error,
//     the frame was TCP, or could not be told, but was malformed.
//
// Within Decode, a frame goes down these paths in turn until one takes
// it:
//
//  1. The fast path, straight from the bytes, without allocating: the
//     frames that make up nearly every capture (Ethernet, Linux cooked,
//     loopback or raw IP; IPv4 without options, or IPv6; TCP).
//  2. gopacket's DecodingLayerParser: every frame the fast path leaves,
//     malformed ones included, whose error it describes.
//  3. gopacket's full decoders, for tunnels and rarer link types; the
//     encapsulations gopacket does not know are unwrapped by hand and
//     their inner frame decoded again, a few deep at most.
//  4. The defragmenters, for IP fragments of TCP: a fragment is held, and
//     reported as not TCP, until its datagram is whole; the segment comes
//     with the last fragment. Datagrams not completed in time are given
//     up, in capture time.
//
// FuzzFastPath holds the fast path to the layered path's result on every
// frame it takes.
package packet
