package flow

import (
	"net/netip"
	"testing"
)

// TestTupleHashSpreads: connections that differ in one octet of an
// address, or in a port, land in different slots of the table (the low
// bits of the hash): a table whose slots ignored the last octets of the
// clients' addresses would probe through all of them on every packet.
func TestTupleHashSpreads(t *testing.T) {
	srv := netip.MustParseAddrPort("10.0.0.1:80")
	for _, c := range []struct {
		name   string
		client func(i int) netip.AddrPort
	}{
		{"last two octets", func(i int) netip.AddrPort {
			return netip.AddrPortFrom(netip.AddrFrom4([4]byte{172, 16, byte(i >> 8), byte(i)}), 40000)
		}},
		{"port", func(i int) netip.AddrPort { return netip.AddrPortFrom(netip.MustParseAddr("172.16.0.1"), uint16(i)) }},
		{"IPv6 last bytes", func(i int) netip.AddrPort {
			b := netip.MustParseAddr("2001:db8::").As16()
			b[14], b[15] = byte(i>>8), byte(i)
			return netip.AddrPortFrom(netip.AddrFrom16(b), 40000)
		}},
	} {
		slots := map[uint64]bool{}
		for i := range 1 << 16 {
			k, _ := makeTuple(c.client(i), srv)
			slots[k.hash()&(1<<16-1)] = true
		}
		// Random hashes would fill about 63 % of them.
		if len(slots) < 1<<16*55/100 {
			t.Errorf("%s: 65,536 tuples fill %d of 65,536 slots", c.name, len(slots))
		}
	}
}
