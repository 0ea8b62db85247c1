// Command labmangle derives a capture with loss, reordering and
// retransmissions from a real one, for the reassembly tests (the lab's
// kernel has no netem): of the full-size data segments the server sent,
// it drops the 2nd, sends the 4th before the 3rd, and repeats the 5th
// three packets later, as a retransmission would. It prints what it did.
//
//	labmangle -in http-pipeline.pcap -out http-lossy.pcap -server-port 8080
package main

import (
	"encoding/binary"
	"flag"
	"fmt"
	"log"
	"os"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcapgo"
)

type packet struct {
	ci   gopacket.CaptureInfo
	data []byte
}

func main() {
	in := flag.String("in", "", "capture to read (pcap)")
	out := flag.String("out", "", "capture to write (pcap)")
	port := flag.Int("server-port", 8080, "the server's TCP port")
	flag.Parse()
	f, err := os.Open(*in)
	if err != nil {
		log.Fatal(err)
	}
	r, err := pcapgo.NewReader(f)
	if err != nil {
		log.Fatal(err)
	}
	var pkts []packet
	var big []int // indexes of the server's full-size data segments
	for {
		data, ci, err := r.ReadPacketData()
		if err != nil {
			break
		}
		p := gopacket.NewPacket(data, r.LinkType(), gopacket.NoCopy)
		if t, ok := p.Layer(layers.LayerTypeTCP).(*layers.TCP); ok && int(t.SrcPort) == *port && len(t.Payload) >= 1000 {
			big = append(big, len(pkts))
		}
		pkts = append(pkts, packet{ci, data})
	}
	if len(big) < 5 {
		log.Fatalf("%s: %d full-size server segments, need 5", *in, len(big))
	}
	drop, a, b, dup := big[1], big[2], big[3], big[4]
	fmt.Printf("labmangle: dropped packet %d, swapped %d and %d, repeated %d three packets later\n", drop+1, a+1, b+1, dup+1)
	var res []packet
	for i, p := range pkts {
		switch i {
		case drop:
			continue
		case a, b: // arrival times stay in order: the segments came the other way round
			o := pkts[a+b-i]
			p.data, p.ci.CaptureLength, p.ci.Length = o.data, o.ci.CaptureLength, o.ci.Length
		}
		res = append(res, p)
		if i == dup+3 {
			again := pkts[dup]
			again.ci.Timestamp = p.ci.Timestamp
			// A retransmission is a new IP datagram: the server's next
			// identification, not the first one's (that would be the same
			// packet captured twice).
			again.data = withIPID(again.data, ipID(pkts[i].data)+1)
			res = append(res, again)
		}
	}
	o, err := os.Create(*out)
	if err != nil {
		log.Fatal(err)
	}
	w := pcapgo.NewWriter(o)
	if err := w.WriteFileHeader(r.Snaplen(), r.LinkType()); err != nil {
		log.Fatal(err)
	}
	for _, p := range res {
		if err := w.WritePacket(p.ci, p.data); err != nil {
			log.Fatal(err)
		}
	}
	if err := o.Close(); err != nil {
		log.Fatal(err)
	}
}

// ipID is the identification of an Ethernet frame's IPv4 header.
func ipID(frame []byte) uint16 { return binary.BigEndian.Uint16(frame[14+4:]) }

// withIPID returns a copy of an Ethernet frame carrying IPv4 with the
// identification id, its header checksum made anew.
func withIPID(frame []byte, id uint16) []byte {
	out := append([]byte(nil), frame...)
	ip := out[14 : 14+int(out[14]&0x0f)*4]
	binary.BigEndian.PutUint16(ip[4:], id)
	binary.BigEndian.PutUint16(ip[10:], 0)
	var sum uint32
	for i := 0; i < len(ip); i += 2 {
		sum += uint32(binary.BigEndian.Uint16(ip[i:]))
	}
	for sum > 0xffff {
		sum = sum&0xffff + sum>>16
	}
	binary.BigEndian.PutUint16(ip[10:], ^uint16(sum))
	return out
}
