package flow

import (
	"bytes"
	"testing"
)

// TestControlOnlyCapture: testdata/timewait-storm.pcap kept whole reads
// without a warning; cut down to its SYN, FIN and RST packets (as
// tcpdump 'tcp[tcpflags] & (tcp-syn|tcp-fin|tcp-rst) != 0' captures), it
// warns that the capture was filtered on TCP flags, naming its FINs.
func TestControlOnlyCapture(t *testing.T) {
	frames, lt := readFrames(t, "../testdata/timewait-storm.pcap")
	for _, filtered := range []bool{false, true} {
		data := writePcap(t, frames, lt, func(d []byte) []byte {
			if !filtered {
				return d
			}
			ihl := int(d[14]&0x0f) * 4
			if d[14+ihl+13]&0x07 == 0 { // neither FIN, SYN nor RST
				return nil
			}
			return d
		})
		res := readOpts(t, bytes.NewReader(data), "storm.pcap", ReadOptions{})
		var warned *Warning
		for i, w := range res.Inputs[0].Warnings {
			if w.Kind == WarnControlOnly {
				warned = &res.Inputs[0].Warnings[i]
			}
		}
		switch {
		case filtered && (warned == nil || warned.N != 80):
			t.Errorf("filtered on flags: warnings %+v; want one about its 80 FINs", res.Inputs[0].Warnings)
		case !filtered && warned != nil:
			t.Errorf("whole: warned %+v", *warned)
		}
	}
}
