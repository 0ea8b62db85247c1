package flow

// hashTable maps a tuple's hash to a value: the connection in progress
// (connections whose tuples share a hash are chained through conn.next),
// or a retired one. It is an open-addressing table with linear probing
// that keeps each hash beside its value: a lookup reads one slot, usually
// one cache line, before the connection itself. (A Go map spends a
// second cache miss on its control word, on every packet, and hashes the
// tuple again.) The zero V marks a free slot and is never stored.
type hashTable[V comparable] struct {
	slots []hashSlot[V] // a power of two of them
	n     int           // slots in use
}

type hashSlot[V comparable] struct {
	h uint64
	v V
}

const minTableSlots = 1 << 10

// find returns the index of hash h's slot, or of the free slot that ends
// its probe run (found false). The table must have slots.
func (t *hashTable[V]) find(h uint64) (i uint64, found bool) {
	var zero V
	mask := uint64(len(t.slots) - 1)
	for i = h & mask; ; i = (i + 1) & mask {
		switch s := &t.slots[i]; {
		case s.v == zero:
			return i, false
		case s.h == h:
			return i, true
		}
	}
}

// get returns the value of hash h, or the zero V.
func (t *hashTable[V]) get(h uint64) V {
	if len(t.slots) == 0 {
		var zero V
		return zero
	}
	i, _ := t.find(h)
	return t.slots[i].v // zero when not found
}

// set makes v the value of hash h.
func (t *hashTable[V]) set(h uint64, v V) {
	if (t.n+1)*4 > len(t.slots)*3 {
		t.grow()
	}
	i, found := t.find(h)
	if !found {
		t.n++
	}
	t.slots[i] = hashSlot[V]{h, v}
}

// del removes hash h. The slots after it in its probe run move back
// (no tombstones: lookups stay as short as the load allows).
func (t *hashTable[V]) del(h uint64) {
	var zero V
	if len(t.slots) == 0 {
		return
	}
	i, found := t.find(h)
	if !found {
		return
	}
	t.n--
	mask := uint64(len(t.slots) - 1)
	for j := (i + 1) & mask; t.slots[j].v != zero; j = (j + 1) & mask {
		// The slot at j may fill the hole at i unless its home lies
		// cyclically in (i, j].
		if home := t.slots[j].h & mask; (j-home)&mask >= (j-i)&mask {
			t.slots[i] = t.slots[j]
			i = j
		}
	}
	t.slots[i] = hashSlot[V]{}
}

// empty removes every entry and keeps the slots.
func (t *hashTable[V]) empty() {
	clear(t.slots)
	t.n = 0
}

func (t *hashTable[V]) grow() {
	var zero V
	old := t.slots
	t.slots = make([]hashSlot[V], max(minTableSlots, 2*len(old)))
	t.n = 0
	for _, s := range old {
		if s.v != zero {
			t.set(s.h, s.v)
		}
	}
}
