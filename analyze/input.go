package analyze

import (
	"slices"
	"time"

	"github.com/flowdoc/flowdoc/flow"
)

// Input is one capture read: its format, what it held, and what went
// wrong reading it. The json tags are the report's schema.
type Input struct {
	Path       string   `json:"path"`
	Format     string   `json:"format"`
	Compressed bool     `json:"compressed,omitempty"`
	LinkTypes  []string `json:"link_types"`
	Packets    int      `json:"packets"`
	TCPPackets int      `json:"tcp_packets"`
	NonTCP     int      `json:"non_tcp_packets"`
	BadPackets int      `json:"bad_packets"`
	// Filtered counts the packets a BPF filter left out.
	Filtered int `json:"filtered_packets,omitempty"`
	// Bytes counts the captured bytes of all packets.
	Bytes int64     `json:"bytes"`
	First time.Time `json:"first"`
	Last  time.Time `json:"last"`
	// End is when the capture ended, where it says; zero when not
	// recorded.
	End time.Time `json:"end,omitzero"`
	// Dropped is what the capture's statistics say it lost.
	Dropped  uint64   `json:"dropped_packets,omitempty"`
	Warnings []string `json:"warnings"`
	// Incomplete is set when reading stopped before the end of the
	// file: what came before was analysed.
	Incomplete bool `json:"incomplete,omitempty"`
	// lossy is set when the input shows it lost packets: its statistics
	// say so, or acknowledgements of what it never held.
	lossy bool
	// OptionsCut counts the TCP packets whose header the snap length cut
	// within its options (a header-only capture): tracked from the fixed
	// header.
	OptionsCut int `json:"options_cut_packets,omitempty"`
	// Encapsulations names the tunnels TCP was found in (VXLAN, GRE...).
	Encapsulations []string `json:"encapsulations,omitempty"`
	// Duplicates counts the TCP packets captured twice: left out, each
	// counted once.
	Duplicates int `json:"duplicate_packets,omitempty"`
	// Elsewhere counts the TCP packets that another input has too (the
	// same traffic captured at two points): left out.
	Elsewhere int `json:"packets_in_other_inputs,omitempty"`
	// Reordered counts the packets stamped a little earlier than the
	// packet before them: read at that packet's time.
	Reordered int `json:"reordered_packets,omitempty"`
	// ReorderedByS is the most by which one was, in seconds.
	ReorderedByS float64 `json:"reordered_by_s,omitempty"`
}

func inputsOf(ins []flow.Input) []Input {
	out := make([]Input, len(ins))
	for i, in := range ins {
		out[i] = Input{Path: in.Path, Format: in.Format, Compressed: in.Compressed, LinkTypes: in.LinkTypes,
			Packets: in.Packets, TCPPackets: in.TCPPackets, NonTCP: in.NonTCP, BadPackets: in.BadPackets,
			Filtered: in.Filtered, Bytes: in.Bytes, First: in.First, Last: in.Last, End: in.End,
			Dropped: in.Dropped, Warnings: warningTexts(in.Warnings), Incomplete: in.Incomplete,
			OptionsCut: in.OptionsCut, Encapsulations: in.Encapsulations, Duplicates: in.Duplicates, Elsewhere: in.Elsewhere,
			Reordered: in.Reordered, ReorderedByS: in.ReorderedBy.Seconds()}
		out[i].lossy = in.Dropped > 0 || slices.ContainsFunc(in.Warnings, func(w flow.Warning) bool {
			return w.Kind == flow.WarnLostFins || w.Kind == flow.WarnLostAtClose
		})
	}
	return out
}
