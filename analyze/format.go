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
