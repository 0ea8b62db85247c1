package packet

import (
	"path/filepath"
	"testing"
)

// BenchmarkDecode is the decoder alone, on frames in memory.
func BenchmarkDecode(b *testing.B) {
	frames := readFrames(b, filepath.Join(testdata, "timewait-storm.pcap"))
	d := NewDecoder()
	var seg Segment
	b.ReportAllocs()
	n := 0
	for b.Loop() {
		for _, f := range frames {
			d.Decode(f.lt, f.data, f.at, &seg)
			n++
		}
	}
	b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "pkts/s")
}

// BenchmarkDecodeRare is the decoder on what the fast path leaves:
// header-only frames, tunnels, other link types, fragments.
func BenchmarkDecodeRare(b *testing.B) {
	for _, name := range []string{"header-only-64.pcap", "tunnels.pcap", "link-types.pcapng", "fragments.pcap"} {
		frames := readFrames(b, filepath.Join(testdata, "decode", name))
		b.Run(name, func(b *testing.B) {
			d := NewDecoder()
			var seg Segment
			b.ReportAllocs()
			n := 0
			for b.Loop() {
				for _, f := range frames {
					d.Decode(f.lt, f.data, f.at, &seg)
					n++
				}
			}
			b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "pkts/s")
		})
	}
}
