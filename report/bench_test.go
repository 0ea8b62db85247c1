package report

import (
	"io"
	"os"
	"testing"
)

// BenchmarkJSON renders every flow of a capture (FLOWDOC_BENCH_FILE, or a
// lab capture) as JSON.
func BenchmarkJSON(b *testing.B) {
	path := os.Getenv("FLOWDOC_BENCH_FILE")
	if path == "" {
		path = "../testdata/timewait-storm.pcap"
	}
	rep := labReport(b, path)
	b.ReportAllocs()
	for b.Loop() {
		if err := (&JSON{}).Render(io.Discard, rep); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(len(rep.Flows)*b.N)/b.Elapsed().Seconds(), "flows/s")
}
