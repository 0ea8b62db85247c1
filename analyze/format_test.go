package analyze

import (
	"testing"
	"time"
)

// TestFormatDuration: a tenth of a millisecond below 10 ms (a race of
// 1.7 ms is not one of 1 ms), whole units above; bounds round up.
func TestFormatDuration(t *testing.T) {
	for _, tc := range []struct {
		d           time.Duration
		said, bound string
	}{
		{734 * time.Microsecond, "734 µs", "1 ms"},
		{time.Millisecond, "1.0 ms", "1 ms"},
		{1700 * time.Microsecond, "1.7 ms", "1.7 ms"},
		{1740 * time.Microsecond, "1.7 ms", "1.8 ms"},
		{9990 * time.Microsecond, "10 ms", "10 ms"},
		{12300 * time.Microsecond, "12 ms", "13 ms"},
		{2040 * time.Millisecond, "2.0 s", "2.0 s"},
		{-3 * time.Millisecond, "-3.0 ms", "1 ms"},
		{75 * time.Second, "1 min 15 s", "1 min 15 s"},
	} {
		if got := FormatDuration(tc.d); got != tc.said {
			t.Errorf("FormatDuration(%v) = %q, want %q", tc.d, got, tc.said)
		}
		if got := fmtBound(tc.d); got != tc.bound {
			t.Errorf("fmtBound(%v) = %q, want %q", tc.d, got, tc.bound)
		}
	}
}
