package flow

import (
	"cmp"
	"math/rand/v2"
	"net/netip"
	"slices"
	"testing"
	"unsafe"
)

// A Key gives back exactly the addresses it was made from: IPv4, IPv6,
// IPv4-mapped IPv6 (not unmapped), and the zero address.
func TestKeyRoundTrip(t *testing.T) {
	for _, c := range []struct{ client, server netip.AddrPort }{
		{netip.MustParseAddrPort("10.99.1.1:40000"), netip.MustParseAddrPort("10.99.1.2:8080")},
		{netip.MustParseAddrPort("[fd00:99:1::1]:40000"), netip.MustParseAddrPort("[fd00:99:1::2]:443")},
		{netip.MustParseAddrPort("[::ffff:10.0.0.1]:1"), netip.MustParseAddrPort("10.0.0.2:80")},
		{netip.MustParseAddrPort("0.0.0.0:0"), netip.MustParseAddrPort("[::]:0")},
		{netip.AddrPort{}, netip.AddrPortFrom(netip.Addr{}, 7)},
	} {
		k := MakeKey(c.client, c.server)
		if k.Client() != c.client || k.Server() != c.server {
			t.Errorf("MakeKey(%v, %v) gives back %v, %v", c.client, c.server, k.Client(), k.Server())
		}
		if want := c.client.String() + " > " + c.server.String(); k.String() != want {
			t.Errorf("String() = %q, want %q", k.String(), want)
		}
		k.swap()
		if k.Client() != c.server || k.Server() != c.client {
			t.Errorf("swapped %v, %v: %v, %v", c.client, c.server, k.Client(), k.Server())
		}
		if k != MakeKey(c.server, c.client) {
			t.Errorf("swapped %v, %v: not the key made the other way round", c.client, c.server)
		}
	}
}

// The record's size is what the peak memory in docs/performance.md rests
// on: a field added or moved carelessly costs megabytes on a large capture.
func TestRecordSize(t *testing.T) {
	if n := unsafe.Sizeof(Record{}); n > 456 {
		t.Errorf("a Record takes %d bytes, more than 456", n)
	}
	// 576 is a size class of the allocator: a byte more costs 64.
	if n := unsafe.Sizeof(conn{}); n > 576 {
		t.Errorf("a conn takes %d bytes, more than 576: 200 k open connections cost 13 MB more", n)
	}
	// A retired connection keeps its sequence state for lateWindow: a
	// busy capture holds a hundred thousand of them.
	if n := unsafe.Sizeof(seqSlot{}); n > 168 {
		t.Errorf("a seqSlot takes %d bytes, more than 168", n)
	}
	// A SYN flood holds an embryo per SYN of the last second.
	if n := unsafe.Sizeof(embryo{}); n > 248 {
		t.Errorf("an embryo takes %d bytes, more than 248", n)
	}
	// A slab of records larger than 32 KiB takes whole 8 KiB pages: one
	// that is not a whole number of them wastes the rest of the last.
	if n := unsafe.Sizeof([recChunk]Record{}); n%8192 != 0 {
		t.Errorf("a slab of %d records takes %d bytes, not a whole number of 8 KiB pages: %d bytes wasted each", recChunk, n, 8192-n%8192)
	}
	if n := unsafe.Sizeof(Key{}); n != 38 {
		t.Errorf("a Key takes %d bytes, not 38", n)
	}
}

// TestSortByFirst: the radix sort of records by ID is the stable sort.
func TestSortByFirst(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for _, n := range []int{0, 1, 2, 100, 5000} {
		for _, top := range []int{3, 1 << 12, 1 << 40} {
			recs := make([]*Record, n)
			for i := range recs {
				recs[i] = &Record{ID: rng.IntN(top), dropped: uint32(i)}
			}
			want := slices.Clone(recs)
			slices.SortStableFunc(want, func(a, b *Record) int { return cmp.Compare(a.ID, b.ID) })
			sortByFirst(recs)
			if !slices.Equal(recs, want) {
				t.Fatalf("%d records, IDs below %d: not the stable order", n, top)
			}
		}
	}
}
