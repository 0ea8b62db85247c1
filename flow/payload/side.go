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
