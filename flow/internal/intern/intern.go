// Package intern shares the strings that recur from one connection to the
// next (histories, request targets): one copy each instead of one per
// connection spares memory, and the garbage collector's time.
package intern

// Table holds the strings kept. The zero Table is ready to use; a Table
// belongs to one goroutine.
type Table struct {
	m map[string]string
}

// maxStrings bounds the strings a Table keeps; past it, new strings are allocated
// as usual.
const maxStrings = 1 << 14

// Get returns b as a string, the copy kept if there is one.
func (t *Table) Get(b []byte) string {
	if s, ok := t.m[string(b)]; ok {
		return s
	}
	s := string(b)
	if t.m == nil {
		t.m = make(map[string]string, 64)
	}
	if len(t.m) < maxStrings {
		t.m[s] = s
	}
	return s
}
