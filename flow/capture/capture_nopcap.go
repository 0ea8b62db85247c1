//go:build !cgo

package capture

import (
	"context"
	"io"
)

// LiveAvailable reports whether this build can capture (it has
// libpcap).
const LiveAvailable = false

// Live is a live capture; this build cannot make one.
type Live struct {
	Source *Source
}

// OpenLive needs libpcap: this build returns ErrNoLibpcap.
func OpenLive(ctx context.Context, iface string, opt LiveOptions, w io.Writer) (*Live, error) {
	return nil, ErrNoLibpcap
}

// Stats is never reached in this build.
func (c *Live) Stats() (Stats, error) { return Stats{}, ErrNoLibpcap }

// Close is never reached in this build.
func (c *Live) Close() {}

// FinishWrite is never reached in this build.
func (c *Live) FinishWrite() error { return nil }

// Interfaces needs libpcap: this build returns ErrNoLibpcap.
func Interfaces() ([]Interface, error) { return nil, ErrNoLibpcap }

// CompileFilter needs libpcap: this build returns ErrNoLibpcap.
func CompileFilter(expr string) (Filter, error) { return nil, ErrNoLibpcap }
