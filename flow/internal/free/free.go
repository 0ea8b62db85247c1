// Package free holds the free lists of objects the tracker and the payload
// reader are done with, for the next connection to reuse: bounded, so that
// after a burst of connections memory goes back to following those open.
package free

// Max is how many objects a free list keeps: more than a busy tracker
// retires between its new connections.
const Max = 1 << 14

// Take takes the last object off a free list; nil when it is empty.
func Take[T any](l *[]*T) *T {
	n := len(*l)
	if n == 0 {
		return nil
	}
	x := (*l)[n-1]
	*l = (*l)[:n-1]
	return x
}

// Keep puts x on a free list, unless it holds Max already (then x is
// the collector's).
func Keep[T any](l []*T, x *T) []*T {
	if len(l) < Max {
		l = append(l, x)
	}
	return l
}
