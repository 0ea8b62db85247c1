package flow

// Warning is something wrong with an input that the reading went past,
// or that stopped it (what came before was analysed). It is a value, not
// a sentence: the words are chosen where it is shown (analyze spells them
// for the reports, and cmd on the terminal, with analyze.WarningText).
type Warning struct {
	Kind WarningKind
	// Packet is the 1-based frame number it is about; 0 when it is about
	// the input as a whole.
	Packet int
	// N is the figure it states: the packets analysed before the reading
	// stopped (WarnStopped), the packets in all (WarnLongerAll), the
	// packets dropped (WarnDropped), the connections dropped from memory
	// (WarnEvicted), the FINs (WarnControlOnly), the packets captured
	// twice (WarnDuplicates), another input's too (WarnCrossCopies) or
	// again too late to be copies (WarnMerged), the milliseconds the
	// clock went back (WarnClockBack).
	N int
	// Captured and OnWire are a record's lengths (WarnLonger); Limit the
	// cap it was held to (WarnEvicted: --max-flows).
	Captured, OnWire, Limit int
	// LinkType names the link type not supported (WarnLinkType).
	LinkType string
	// Err is the cause: the read error (WarnStopped), the decoding error,
	// a *DecodeError (WarnPacket), or the whole warning (WarnOther).
	Err error
}

// WarningKind says what a Warning is about.
type WarningKind uint8

const (
	WarnOther       WarningKind = iota // Err says it all
	WarnStopped                        // a truncated or unreadable record at Packet ended the reading
	WarnLonger                         // Packet's captured length exceeds its length on the wire: read as captured
	WarnLongerAll                      // N packets in all had a captured length over their length on the wire
	WarnDropped                        // the capture's statistics say N packets were dropped while capturing
	WarnLinkType                       // Packet has a link type not supported; its packets are skipped
	WarnPacket                         // Packet could not be decoded: Err
	WarnEvicted                        // N connections were dropped from memory to stay under Limit
	WarnOmitted                        // more warnings came, not kept
	WarnControlOnly                    // N packets with FIN, yet none without SYN, FIN or RST: a flags filter
	WarnDuplicates                     // N packets, the first at Packet, were captured twice: each counted once
	WarnClockBack                      // Packet is stamped N ms before the packet before it: the clock was set back
	WarnCrossCopies                    // N packets, the first at Packet, were another input's packets too: each counted once
	WarnMerged                         // N packets, the first at Packet, came again 2 ms to 1 s later, on another interface or with their IPv4 identification: two points merged
	WarnLostFins                       // N FINs were not captured, the first acknowledged at Packet: the peer's ACKs show them
	WarnCutHeaders                     // N packets, the first at Packet, were cut by the snap length within their headers: skipped
	WarnLostAtClose                    // N FINs, the first at Packet, acknowledged data the capture never saw
)

// maxWarnings caps the warnings kept per input; the rest are counted.
const maxWarnings = 20

func (in *Input) warn(w Warning) {
	if len(in.Warnings) < maxWarnings {
		in.Warnings = append(in.Warnings, w)
	} else if len(in.Warnings) == maxWarnings {
		in.Warnings = append(in.Warnings, Warning{Kind: WarnOmitted})
	}
}
