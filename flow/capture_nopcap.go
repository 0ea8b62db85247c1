//go:build !cgo

package flow

import (
	"context"
	"io"
)

// LiveCaptureAvailable reports whether this build can capture (it has
// libpcap).
const LiveCaptureAvailable = false

// Capture is a live capture; this build cannot make one.
type Capture struct {
	Source *Source
}

// OpenLive needs libpcap: this build returns ErrNoLibpcap.
func OpenLive(ctx context.Context, iface string, opt LiveOptions, w io.Writer) (*Capture, error) {
	return nil, ErrNoLibpcap
}

// Stats is never reached in this build.
func (c *Capture) Stats() (CaptureStats, error) { return CaptureStats{}, ErrNoLibpcap }

// Close is never reached in this build.
func (c *Capture) Close() {}

// FinishWrite is never reached in this build.
func (c *Capture) FinishWrite() error { return nil }

// Interfaces needs libpcap: this build returns ErrNoLibpcap.
func Interfaces() ([]Interface, error) { return nil, ErrNoLibpcap }

// CompileFilter needs libpcap: this build returns ErrNoLibpcap.
func CompileFilter(expr string) (PacketFilter, error) { return nil, ErrNoLibpcap }
