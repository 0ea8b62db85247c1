package analyze

import (
	"testing"
	"time"
)

// TestZeroWindowSince: a stall that lasts to the end is dated from the
// zero window that began it, as the peer's last data filled the window,
// not from an earlier one a read soon opened again (rsync's at its start).
func TestZeroWindowSince(t *testing.T) {
	c := conv{cport: 44000, server: "10.0.0.2:873", segs: join(open(0), []seg{
		{0.01, false, "PA", 1000, -1}, {0.011, true, "AW", 0, -1}, {0.05, true, "A", 0, -1},
		{1.0, false, "PA", 1000, -1}, {1.001, true, "AW", 0, -1},
	})}
	rep := analyzeLab(t, craft(t, c), craftT0.Add(3*time.Second), Options{})
	v := verdictOf(&rep.Flows[0], ZeroWindowStall)
	if v == nil {
		t.Fatalf("no zero_window_stall: %v", verdictsOf(rep))
	}
	if want := craftT0.Add(1001 * time.Millisecond); v.Since.Time().Sub(want).Abs() > time.Millisecond {
		t.Errorf("stall since %v, want %v (the second zero window): %s", v.Since.Time(), want, v.Summary)
	}
}
