package analyze

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/flowdoc/flowdoc/flow"
)

// TestZeekConnState derives conn_state from histories whose outcome Zeek's
// documentation of conn.log names.
func TestZeekConnState(t *testing.T) {
	for _, tc := range []struct{ history, want string }{
		{"S", "S0"},      // attempt, no reply
		{"ST", "S0"},     // ... retransmitted
		{"Sr", "REJ"},    // refused
		{"ShADad", "S1"}, // established, not terminated
		{"ShADadFf", "SF"},
		{"ShADadfF", "SF"},
		{"ShADadF", "S2"},   // the originator closed, no reply
		{"ShADadf", "S3"},   // the responder closed: a CLOSE_WAIT leak's shape
		{"ShADadR", "RSTO"}, // the originator aborted
		{"ShADadfr", "RSTR"},
		{"Sh", "S1"},        // SYN-ACK not (yet) acknowledged: Zeek's endpoints are both established
		{"^hA", "S1"},       // the SYN missed: the ACK of the SYN-ACK establishes the originator
		{"^hADad", "S1"},    // ... or its data
		{"^h", "OTH"},       // a SYN-ACK alone
		{"^hSAD", "OTH"},    // a SYN captured after its SYN-ACK: Zeek's originator stays in SYN_SENT
		{"ShADadFfR", "SF"}, // a RST after both FINs
		{"ShADadFRf", "SF"}, // FIN, RST, then the peer's FIN: Zeek takes it back to closed
		{"ShADadRFf", "RSTO"},
		{"ShADadFfr", "SF"},
		{"ShADadFr", "RSTR"},
		{"Sa", "S0"},     // an ACK of the SYN before the SYN-ACK leaves the responder inactive
		{"ShAI", "RSTO"}, // FIN and RST at once
		{"SR", "RSTOS0"}, // SYN then RST, no SYN-ACK
		{"hr", "RSTRH"},  // SYN-ACK then RST, no SYN seen
		{"SF", "SH"},     // SYN then FIN, no SYN-ACK
		{"hf", "SHR"},    // SYN-ACK then FIN, no SYN seen
		{"Dd", "OTH"},    // midstream
		{"DdF", "SH"},    // midstream: Zeek counts a partial responder as inactive
		{"^ShADad", "S1"},
	} {
		r := &flow.Record{History: tc.history}
		for _, c := range tc.history {
			h := &r.Client
			if c >= 'a' && c <= 'z' {
				h = &r.Server
			}
			h.Packets++
			switch c {
			case 'F', 'f':
				h.FinPacket = uint32(h.Packets)
			case 'R', 'r':
				h.RSTs++
			case 'D', 'd':
				h.Bytes += 10
			}
		}
		if got := ZeekConnState(r); got != tc.want {
			t.Errorf("history %q: conn_state %s, want %s", tc.history, got, tc.want)
		}
	}
}

// TestZeekConnStateBaselines derives conn_state from histories of the
// conn.log rows in Zeek's own test baselines (testing/btest/Baseline:
// core.tcp.*, core.history-flip, core.expire-all-timers,
// core.checksums_ignore_nets, core.tcp.rxmit-history and the
// conn_state-RST-behavior script test), where Zeek wrote both.
func TestZeekConnStateBaselines(t *testing.T) {
	for _, tc := range []struct{ history, want string }{
		{"R", "OTH"},
		{"SR", "RSTOS0"},
		{"SaR", "RSTOS0"},
		{"SaFR", "OTH"},
		{"ShADadtFRfr", "SF"},
		{"^hADdFaf", "SF"},
		{"ShADdFaf", "SF"},
		{"Da", "OTH"},
		{"D", "OTH"},
		{"DdA", "OTH"},
		{"ShADafgF", "SF"},
		{"^hADadFf", "SF"},
		{"ShADadFf", "SF"},
		{"ShADad", "S1"},
		{"^h", "OTH"},
		{"ShADaGdgtR", "RSTO"},
		{"ShAdfFa", "SF"},
		{"ShAdDaFf", "SF"},
		{"HcADF", "SH"},
		{"C", "OTH"},
	} {
		r := &flow.Record{History: tc.history}
		r.Client.Bytes, r.Server.Bytes = 1, 1
		if got := ZeekConnState(r); got != tc.want {
			t.Errorf("history %q: conn_state %s, Zeek wrote %s", tc.history, got, tc.want)
		}
	}
}

// TestZeekConnStateLab checks conn_state on the lab captures, where the
// outcome of each scenario is known.
func TestZeekConnStateLab(t *testing.T) {
	for _, tc := range []struct{ capture, want string }{
		{"refused.pcap", "REJ"},
		{"unanswered.pcap", "S0"},
		{"keepalive-leak.pcap", "S3"},
		{"stale-reuse.pcap", "RSTR"},
		{"timewait-storm.pcap", "SF"},
		{"half-close.pcap", "SF"},
		{"midstream.pcap", "SHR"}, // only the server's FIN and the ACK were seen
	} {
		rep := analyzeLab(t, "../testdata/"+tc.capture, time.Time{}, Options{})
		var got []string
		for i := range rep.Flows {
			got = append(got, ZeekConnState(rep.Flows[i].Record))
		}
		if n := strings.Count(strings.Join(got, " ")+" ", tc.want+" "); n != len(got) {
			t.Errorf("%s: conn_state %v, want all %s", tc.capture, got, tc.want)
		}
	}
}

// TestZeekCrafted checks conn_state and duration on the crafted captures
// of testdata/zeek (see flow's TestZeekCaptures), as Zeek's TCP analyzer
// and base/protocols/conn have them.
func TestZeekCrafted(t *testing.T) {
	type conn struct {
		state    string
		duration time.Duration
	}
	ms := func(f float64) time.Duration { return time.Duration(f * float64(time.Millisecond)) }
	for _, tc := range []struct {
		capture string
		want    []conn
	}{
		// Zeek's originator sent its SYN after the SYN-ACK: it stays in
		// SYN_SENT until its FIN.
		{"synack-first", []conn{{"SF", ms(11.9)}}},
		{"out-of-order", []conn{{"SF", ms(402)}}},
		{"gap", []conn{{"SF", ms(102)}}},
		{"snaplen", []conn{{"SF", ms(102)}}},
		// The final ACK, a second later, and the RST after it count in
		// the packets, not in the duration.
		{"rst-after-fins", []conn{{"SF", ms(21)}}},
		{"handshake-s1", []conn{{"S1", ms(1)}, {"S1", ms(1)}}},
		{"letters", []conn{{"SF", ms(260)}}},
	} {
		rep := analyzeLab(t, "../testdata/zeek/"+tc.capture+".pcap", time.Time{}, Options{})
		var got []conn
		for i := range rep.Flows {
			r := rep.Flows[i].Record
			got = append(got, conn{ZeekConnState(r), ZeekDuration(r).Round(100 * time.Microsecond)})
		}
		if !slices.Equal(got, tc.want) {
			t.Errorf("%s: %v, want %v", tc.capture, got, tc.want)
		}
	}
}
