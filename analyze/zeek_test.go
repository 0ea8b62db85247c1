package analyze

import (
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
		{"Sh", "OTH"},    // SYN-ACK never acknowledged
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
