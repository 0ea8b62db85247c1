package cmd

import (
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"testing"
	"time"
)

// The pacer keeps the memory limit at its slack over the live heap, and
// at least gcFloor; while the trackers finish, at the finishing slack;
// once reporting, at the narrower report slack but no
// lower than what the runtime held when reporting began. Stopped, it
// gives the collector its settings back.
func TestGCPacer(t *testing.T) {
	t.Setenv("GOGC", "")
	t.Setenv("GOMEMLIMIT", "")
	const percent, limit = 77, 1 << 40
	oldPercent := debug.SetGCPercent(percent)
	oldLimit := debug.SetMemoryLimit(limit)
	defer func() {
		debug.SetGCPercent(oldPercent)
		debug.SetMemoryLimit(oldLimit)
	}()

	// A live heap past the floor, so that the slack shows (it counts
	// whether or not its pages were ever touched).
	ballast := make([]byte, gcFloor+64<<20)
	runtime.GC()
	live := func() float64 {
		s := []metrics.Sample{{Name: "/gc/heap/live:bytes"}}
		metrics.Read(s)
		return float64(s[0].Value.Uint64())
	}
	p := tuneGC()
	if p == nil {
		t.Fatal("tuneGC paced nothing with GOGC and GOMEMLIMIT unset")
	}
	if got := debug.SetGCPercent(-1); got != gcPercent {
		t.Errorf("GC percent while pacing = %d, want %d", got, gcPercent)
	}
	debug.SetGCPercent(gcPercent)
	within := func(what string, got int64, want float64) {
		t.Helper()
		if d := float64(got) - want; d < -want*0.02 || d > want*0.02 {
			t.Errorf("%s: memory limit %d MiB, want %.0f MiB", what, got>>20, want/(1<<20))
		}
	}
	p.apply()
	within("pass", debug.SetMemoryLimit(-1), live()*gcSlack)
	p.finishing()
	within("trackers finishing", debug.SetMemoryLimit(-1), live()*gcFinishSlack)
	held := []metrics.Sample{{Name: "/memory/classes/total:bytes"}, {Name: "/memory/classes/heap/released:bytes"}}
	metrics.Read(held)
	p.reporting()
	within("report", debug.SetMemoryLimit(-1), live()*gcReportSlack)
	runtime.KeepAlive(ballast)

	// With the ballast gone, the limit stays at what the runtime held
	// when reporting began.
	ballast = nil
	runtime.GC()
	p.apply()
	within("report, live heap gone", debug.SetMemoryLimit(-1), float64(held[0].Value.Uint64()-held[1].Value.Uint64()))

	p.stop()
	// A collection after stop (its finalizer hook) changes nothing.
	runtime.GC()
	runtime.GC()
	time.Sleep(10 * time.Millisecond)
	if got := debug.SetMemoryLimit(-1); got != limit {
		t.Errorf("memory limit after stop = %d, want %d", got, limit)
	}
	if got := debug.SetGCPercent(oldPercent); got != percent {
		t.Errorf("GC percent after stop = %d, want %d", got, percent)
	}

	t.Setenv("GOGC", "100")
	if p := tuneGC(); p != nil {
		p.stop()
		t.Error("tuneGC paced the collector although GOGC was set")
	}
	var none *gcPacer
	none.finishing() // a nil pacer does nothing
	none.reporting()
	none.stop()
}
