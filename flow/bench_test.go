package flow

import (
	"bytes"
	"context"
	"io"
	"os"
	"testing"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcapgo"

	"github.com/flowdoc/flowdoc/flow/capture"
	"github.com/flowdoc/flowdoc/flow/packet"
	"github.com/flowdoc/flowdoc/flow/payload"
)

// benchFile is the capture benchmarks read: FLOWDOC_BENCH_FILE (make
// bench sets it to its synthetic capture), else a lab capture replayed.
func benchFile(b *testing.B) []byte {
	b.Helper()
	path := os.Getenv("FLOWDOC_BENCH_FILE")
	if path == "" {
		path = "../testdata/timewait-storm.pcap"
	}
	data, err := os.ReadFile(path)
	if err != nil {
		b.Fatal(err)
	}
	return data
}

// BenchmarkReadDecode is the reference: pcapgo and a DecodingLayerParser
// over Ethernet, IPv4 and TCP, nothing more.
func BenchmarkReadDecode(b *testing.B) {
	data := benchFile(b)
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	var packets int
	for b.Loop() {
		r, err := pcapgo.NewReader(bytes.NewReader(data))
		if err != nil {
			b.Fatal(err)
		}
		var eth layers.Ethernet
		var ip layers.IPv4
		var tcp layers.TCP
		var pl gopacket.Payload
		p := gopacket.NewDecodingLayerParser(layers.LayerTypeEthernet, &eth, &ip, &tcp, &pl)
		decoded := make([]gopacket.LayerType, 0, 4)
		for {
			frame, _, err := r.ZeroCopyReadPacketData()
			if err == io.EOF {
				break
			}
			packets++
			p.DecodeLayers(frame, &decoded)
		}
	}
	b.ReportMetric(float64(packets)/b.Elapsed().Seconds(), "pkts/s")
}

// BenchmarkRead is flowdoc's whole pass: read, decode, track, finish.
func BenchmarkRead(b *testing.B) {
	data := benchFile(b)
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	var packets int
	for b.Loop() {
		s, err := capture.NewSource("bench", bytes.NewReader(data))
		if err != nil {
			b.Fatal(err)
		}
		res, err := Read(context.Background(), []*capture.Source{s}, ReadOptions{})
		if err != nil {
			b.Fatal(err)
		}
		packets += res.Inputs[0].Packets
	}
	b.ReportMetric(float64(packets)/b.Elapsed().Seconds(), "pkts/s")
}

// BenchmarkTrack is one tracker alone on the first million packets,
// decoded and batched ahead as the reader does: the per-packet path of
// connections and states ("states", as --no-payload) and with the HTTP
// read ("http", the default), without the reading that feeds it.
func BenchmarkTrack(b *testing.B) {
	data := benchFile(b)
	src, err := capture.NewSource("bench", bytes.NewReader(data))
	if err != nil {
		b.Fatal(err)
	}
	dec := packet.NewDecoder()
	var batches []*batch
	cur := new(batch)
	var seg packet.Segment
	packets := 0
	for packets < 1_000_000 {
		frame, ci, lt, err := src.Next()
		if err != nil {
			break
		}
		if ok, err := dec.Decode(lt, frame, ci.Timestamp, &seg); !ok || err != nil {
			continue
		}
		packets++
		k, srcA := makeTuple(seg.Src, seg.Dst)
		cur.push(&seg, Meta{At: Timestamp(ci.Timestamp.UnixNano()), Packet: uint32(packets), WireLen: uint32(ci.Length), Order: uint64(packets)}, k, k.hash(), srcA, true)
		if cur.n == batchSize {
			batches = append(batches, cur)
			cur = new(batch)
		}
	}
	batches = append(batches, cur)
	for _, mode := range []struct {
		name string
		off  bool
	}{{"states", true}, {"http", false}} {
		b.Run(mode.name, func(b *testing.B) {
			benchTrack(b, batches, packets, Config{Payload: payload.Config{Off: mode.off, Buffer: payload.DefaultBuffer}})
		})
	}
}

// benchTrack adds the batches to a new tracker on every round: addBatch
// takes each payload from the batch's offsets, and the tracker does not
// change the segments.
func benchTrack(b *testing.B, batches []*batch, packets int, cfg Config) {
	last := [2]int{-1, -1} // flows, and HTTP exchanges read
	b.ReportAllocs()
	for b.Loop() {
		t := NewTracker(cfg)
		for _, bt := range batches {
			t.addBatch(bt)
		}
		recs, _ := t.finish()
		got := [2]int{len(recs), 0}
		var pb payload.Buffer
		for _, r := range recs {
			if p := r.ReadPayload(&pb); p != nil && p.HTTP != nil {
				got[1] += len(p.HTTP.Exchanges)
			}
		}
		if last[0] >= 0 && got != last {
			b.Fatalf("%v flows and HTTP exchanges, %v the round before: the batches did not replay", got, last)
		}
		if cfg.Payload.Off == (got[1] > 0) {
			b.Fatalf("%d HTTP exchanges read with payload off=%v", got[1], cfg.Payload.Off)
		}
		last = got
	}
	b.ReportMetric(float64(packets)*float64(b.N)/b.Elapsed().Seconds(), "pkts/s")
}
