package payload

import "time"

// Side names the endpoint that sent a stream's bytes. Its values are
// those of flow.Side, which converts to it.
type Side uint8

const (
	Client Side = iota // the endpoint that sent the SYN (or is inferred to have)
	Server             // the endpoint that answered it
)

// Other returns the opposite side.
func (s Side) Other() Side { return s ^ 1 }

func (s Side) String() string {
	if s == Client {
		return "client"
	}
	return "server"
}

// Timestamp is a capture time in Unix nanoseconds, as flow.Timestamp is,
// which converts to it: an exchange stays small.
type Timestamp int64

// Time returns ts as a time.Time in UTC; the zero Timestamp gives the zero
// time.Time.
func (ts Timestamp) Time() time.Time {
	if ts == 0 {
		return time.Time{}
	}
	return time.Unix(0, int64(ts)).UTC()
}

// Sub returns ts-u.
func (ts Timestamp) Sub(u Timestamp) time.Duration { return time.Duration(ts - u) }

// interner shares the request targets that recur from one connection to
// the next: one copy each instead of one per connection spares memory,
// and the garbage collector's time. It belongs to one goroutine.
type interner struct {
	m map[string]string
}

// maxInterned bounds the strings an interner keeps; past it, new strings
// are allocated as usual.
const maxInterned = 1 << 14

// get returns b as a string, the copy kept if there is one.
func (in *interner) get(b []byte) string {
	if s, ok := in.m[string(b)]; ok {
		return s
	}
	s := string(b)
	if in.m == nil {
		in.m = make(map[string]string, 64)
	}
	if len(in.m) < maxInterned {
		in.m[s] = s
	}
	return s
}
