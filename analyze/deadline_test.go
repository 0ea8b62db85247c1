package analyze

import (
	"testing"
	"time"

	"github.com/flowdoc/flowdoc/flow"
)

// TestDeadlineRun: closes at one age from the accept, whatever the
// idle time, are a deadline; an idle timeout's (one idle time, ages
// apart), a restart's (opened and closed together), an idle timeout's
// that a request raced, and ages under a second are not.
func TestDeadlineRun(t *testing.T) {
	ms := func(v float64) time.Duration { return time.Duration(v * float64(time.Millisecond)) }
	at := func(v float64) flow.Timestamp { return flow.Timestamp(ms(v)) }
	for _, c := range []struct {
		name string
		cs   []closeAge
		want int
	}{
		{"sshd LoginGraceTime", []closeAge{{0, at(4024), ms(3011), ms(3000)}, {1, at(4082), ms(3012), ms(3000)}, {2, at(4130), ms(3012), ms(2840)}, {3, at(8355), ms(8360), ms(2000)}}, 3},
		{"keep-alive timeout", []closeAge{{0, at(3000), ms(2100), ms(2000)}, {1, at(3500), ms(2600), ms(2000)}, {2, at(4100), ms(3300), ms(2001)}}, 0},
		{"a restart", []closeAge{{0, at(5000), ms(4000), ms(1000)}, {1, at(5000), ms(4000), ms(2500)}, {2, at(5001), ms(4001), ms(3800)}}, 0},
		// Jetty's idle timeout on connections used once right after
		// connecting: one age and one idle time, but for a request that
		// raced the timer 1 ms before it.
		{"an idle timeout raced", []closeAge{{0, at(5001), ms(3005), ms(3000)}, {1, at(6010), ms(3010), ms(3004)}, {2, at(7300), ms(3027), ms(0.97)}, {3, at(9020), ms(3020), ms(3015)}}, 0},
		{"refusals at accept", []closeAge{{0, at(100), ms(0.3), 0}, {1, at(350), ms(0.2), ms(0.1)}, {2, at(600), ms(0.3), 0}}, 0},
	} {
		run, ok := deadlineRun(c.cs)
		if ok != (c.want > 0) || len(run) != c.want {
			t.Errorf("%s: %d closes in a deadline (%v), want %d", c.name, len(run), ok, c.want)
		}
	}
}
