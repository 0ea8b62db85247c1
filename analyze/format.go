package analyze

import (
	"fmt"
	"time"
)

// FormatDuration spells a duration the way people read them: 120 ms,
// 35.2 s, 3 min 12 s, 1 h 04 min.
func FormatDuration(d time.Duration) string {
	switch {
	case d < 0:
		return "-" + FormatDuration(-d)
	case d < time.Millisecond:
		return fmt.Sprintf("%d µs", d.Microseconds())
	case d < 10*time.Millisecond:
		// 1.7 ms, not 1 ms: races and round trips are told apart here.
		if s := fmt.Sprintf("%.1f ms", float64(d)/float64(time.Millisecond)); s != "10.0 ms" {
			return s
		}
		return "10 ms"
	case d < time.Second:
		return fmt.Sprintf("%d ms", d.Milliseconds())
	case d < time.Minute:
		return fmt.Sprintf("%.1f s", d.Seconds())
	case d < time.Hour:
		if sec := int(d.Seconds()) % 60; sec != 0 {
			return fmt.Sprintf("%d min %02d s", int(d.Minutes()), sec)
		}
		return fmt.Sprintf("%d min", int(d.Minutes()))
	}
	return fmt.Sprintf("%d h %02d min", int(d.Hours()), int(d.Minutes())%60)
}

func fmtDur(d time.Duration) string { return FormatDuration(d) }

// fmtBound says d as a bound, rounded up to the digits FormatDuration
// shows: "1 ms" at the least, then to a tenth of a millisecond below
// 10 ms, to the millisecond below a second.
func fmtBound(d time.Duration) string {
	step := time.Millisecond
	switch {
	case d <= time.Millisecond:
		return "1 ms"
	case d < 10*time.Millisecond:
		step = 100 * time.Microsecond
	case d >= time.Second:
		return fmtDur(d)
	}
	return fmtDur((d + step - 1).Truncate(step))
}

// many is plural with the count in thousands: "10,000 ports".
func many(n int, one string) string {
	if n == 1 {
		return plural(n, one)
	}
	return thousands(n) + " " + one + "s"
}

// plural returns "1 connection" or "3 connections".
func plural(n int, one string) string {
	if n == 1 {
		return "1 " + one
	}
	return fmt.Sprintf("%d %ss", n, one)
}
