package flow

import (
	"math/rand/v2"
	"testing"
)

// TestConnTable checks the table against a map through a long random run
// of sets and deletes, with hashes crowded into a few home slots so that
// probe runs wrap around the end and deletions move entries back.
func TestConnTable(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	var tab hashTable[*conn]
	want := map[uint64]*conn{}
	for i := range 200000 {
		// Hashes are multiples of 8: they crowd into an eighth of the
		// slots, making long probe runs.
		h := rng.Uint64N(20000) << 3
		switch {
		case rng.IntN(3) == 0:
			tab.del(h)
			delete(want, h)
		default:
			c := &conn{}
			tab.set(h, c)
			want[h] = c
		}
		if i%2000 == 0 || i > 199900 {
			if tab.n != len(want) {
				t.Fatalf("step %d: %d in the table, want %d", i, tab.n, len(want))
			}
			for k, c := range want {
				if got := tab.get(k); got != c {
					t.Fatalf("step %d: get(%#x) = %p, want %p", i, k, got, c)
				}
			}
			if got := len(tab.values()); got != len(want) {
				t.Fatalf("step %d: values() has %d, want %d", i, got, len(want))
			}
		}
		if tab.get(h|1<<63) != nil {
			t.Fatalf("step %d: found a hash never set", i)
		}
	}
	for k := range want {
		tab.del(k)
	}
	if tab.n != 0 || len(tab.values()) != 0 {
		t.Fatalf("%d left after deleting everything", tab.n)
	}
}

// values returns every value in the table.
func (t *hashTable[V]) values() []V {
	var zero V
	out := make([]V, 0, t.n)
	for _, s := range t.slots {
		if s.v != zero {
			out = append(out, s.v)
		}
	}
	return out
}
