package analyze

import (
	"math"
	"testing"
	"time"

	"github.com/flowdoc/flowdoc/flow"
)

func ms(n ...int) []time.Duration {
	out := make([]time.Duration, len(n))
	for i, v := range n {
		out[i] = time.Duration(v) * time.Millisecond
	}
	return out
}

func TestClusterDurations(t *testing.T) {
	tests := []struct {
		name   string
		in     []time.Duration
		sizes  []int
		median time.Duration // of the largest cluster
	}{
		{"one server timeout", ms(20010, 20003, 19998, 20051), []int{4}, 20006500 * time.Microsecond},
		// 20 s keep-alive closes plus two closed for other reasons.
		{"timeout and outliers", ms(20005, 3100, 20001, 20020, 61000), []int{3, 1, 1}, 20005 * time.Millisecond},
		// Neighbours within 10 % chain into one cluster; 2 s and 5 s do not.
		{"two timeouts", ms(2001, 5002, 5010, 2003, 5001), []int{3, 2}, 5002 * time.Millisecond},
		{"small values use 200 ms", ms(100, 250, 1000), []int{2, 1}, 175 * time.Millisecond},
		{"nothing", nil, nil, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cl := ClusterDurations(tt.in)
			if len(cl) != len(tt.sizes) {
				t.Fatalf("%d clusters %v, want sizes %v", len(cl), cl, tt.sizes)
			}
			for i, c := range cl {
				if len(c.Values) != tt.sizes[i] {
					t.Errorf("cluster %d has %d values, want %d", i, len(c.Values), tt.sizes[i])
				}
			}
			if len(cl) > 0 && cl[0].Median != tt.median {
				t.Errorf("median %v, want %v", cl[0].Median, tt.median)
			}
		})
	}
}

func TestMatchDefaults(t *testing.T) {
	names := func(ds []ServerDefault) []string {
		var out []string
		for _, d := range ds {
			out = append(out, d.Server)
		}
		return out
	}
	tests := []struct {
		idle time.Duration
		want []string
	}{
		{20 * time.Second, []string{"Tomcat"}},
		{20900 * time.Millisecond, []string{"Tomcat"}}, // 10 % of 20 s is 2 s
		{23 * time.Second, nil},                        // too far
		{5100 * time.Millisecond, []string{"Apache httpd", "Node.js", "uvicorn"}},
		{75 * time.Second, []string{"nginx"}},
		{60 * time.Second, []string{"AWS ALB"}},
		{2250 * time.Millisecond, []string{"gunicorn"}}, // 300 ms floor
		{2400 * time.Millisecond, nil},
		{1500 * time.Millisecond, nil},
	}
	for _, tt := range tests {
		if got := names(MatchDefaults(tt.idle)); !equalStrings(got, tt.want) {
			t.Errorf("MatchDefaults(%v) = %v, want %v", tt.idle, got, tt.want)
		}
	}
}

func equalStrings(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// TestPortPressure: hand-computed cases of rate x TIME_WAIT against the
// port range.
func TestPortPressure(t *testing.T) {
	tests := []struct {
		name      string
		p         PortPressure
		implied   float64
		share     float64
		exhausted bool
		maxRate   float64
	}{
		// 100 connections/s x 60 s = 6000 of Linux's 28,232 ports.
		{"linux, 100/s", PortPressure{100, 60 * time.Second, LinuxPortRange.Size()}, 6000, 6000.0 / 28232, false, 28232.0 / 60},
		// 500/s x 60 s = 30,000 > 28,232: exhausted; the limit is 470.5/s.
		{"linux, 500/s", PortPressure{500, 60 * time.Second, 28232}, 30000, 30000.0 / 28232, true, 470.5333333333333},
		// Windows: 16,384 ports and 240 s: 70/s needs 16,800.
		{"windows, 70/s", PortPressure{70, 240 * time.Second, WindowsPortRange.Size()}, 16800, 16800.0 / 16384, true, 16384.0 / 240},
		// The lab's 40-port range at 50/s.
		{"narrow range", PortPressure{50, 60 * time.Second, PortRange{40000, 40039}.Size()}, 3000, 75, true, 40.0 / 60},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := tt.p
			if p.Implied() != tt.implied || math.Abs(p.Share()-tt.share) > 1e-9 || p.Exhausted() != tt.exhausted || math.Abs(p.MaxRate()-tt.maxRate) > 1e-9 {
				t.Errorf("implied %v share %v exhausted %v max rate %v", p.Implied(), p.Share(), p.Exhausted(), p.MaxRate())
			}
		})
	}
	if LinuxPortRange.Size() != 28232 || WindowsPortRange.Size() != 16384 {
		t.Errorf("port range sizes %d %d", LinuxPortRange.Size(), WindowsPortRange.Size())
	}
}

func TestPeakConcurrent(t *testing.T) {
	s := func(sec ...float64) []flow.Timestamp {
		var out []flow.Timestamp
		for _, v := range sec {
			out = append(out, flow.Timestamp(v*1e9))
		}
		return out
	}
	tw := 60 * time.Second
	tests := []struct {
		starts []flow.Timestamp
		end    flow.Timestamp
		want   int
	}{
		{s(0, 1, 2), flow.Timestamp(100e9), 3},
		{s(0, 30, 61), flow.Timestamp(100e9), 2}, // the first ended at 60
		{s(0, 60), flow.Timestamp(100e9), 1},     // ends and starts at 60 do not overlap
		{s(0, 10, 20), flow.Timestamp(30e9), 3},  // all still running at the end
		{s(0, 10, 20), flow.Timestamp(15e9), 2},  // the third began after the end
	}
	for _, tt := range tests {
		if got := peakConcurrent(tt.starts, tw, tt.end); got != tt.want {
			t.Errorf("peakConcurrent(%v) = %d, want %d", tt.starts, got, tt.want)
		}
	}
}

// TestTimeoutWords: a server that names itself is held to its own
// default, not to whichever server's default the idle time matches. One
// whose closes spread past its default (it checks its timers once a
// second: the shortest close matches) is at its default.
func TestTimeoutWords(t *testing.T) {
	for _, tc := range []struct {
		name        string
		d, shortest time.Duration
		want        string
	}{
		{"gunicorn", 2500 * time.Millisecond, 2 * time.Second, `, the default of gunicorn --keep-alive (2.0 s), which the responses name ("gunicorn")`},
		{"gunicorn", 2500 * time.Millisecond, 2500 * time.Millisecond, `; the responses name "gunicorn", whose --keep-alive defaults to 2.0 s: it is set to 2.5 s there, or a proxy in front of it closes (proxies pass the Server header on)`},
		{"Apache/2.4.71 (Debian)", 2 * time.Second, 0, `; the responses name "Apache/2.4.71 (Debian)", whose KeepAliveTimeout defaults to 5.0 s: it is set to 2.0 s there, or a proxy in front of it closes (proxies pass the Server header on)`},
		{"Apache", 2 * time.Second, 0, `; the responses name "Apache", whose KeepAliveTimeout defaults to 5.0 s: it is set to 2.0 s there, or a proxy in front of it closes (proxies pass the Server header on)`},
		{"Apache/2.4.62", 5 * time.Second, 0, `, the default of Apache httpd KeepAliveTimeout (5.0 s), which the responses name ("Apache/2.4.62")`},
		{"Apache-Coyote/1.1", 20 * time.Second, 0, `, the default of Tomcat keepAliveTimeout/connectionTimeout (20.0 s), which the responses name ("Apache-Coyote/1.1")`},
		{"nginx/1.22.1", 75 * time.Second, 0, `, the default of nginx keepalive_timeout (1 min 15 s), which the responses name ("nginx/1.22.1")`},
		{"BaseHTTP/0.6 Python/3.11.2", 2 * time.Second, 0, `; the responses name "BaseHTTP/0.6 Python/3.11.2"`},
		{"", 2 * time.Second, 0, ", which matches the default of gunicorn --keep-alive (2.0 s)"},
		{"", 7 * time.Second, 0, ""},
	} {
		if tc.shortest == 0 {
			tc.shortest = tc.d
		}
		if got := timeoutWords(tc.d, tc.shortest, tc.name, "", false); got != tc.want {
			t.Errorf("%q after %s:\n got %s\nwant %s", tc.name, tc.d, got, tc.want)
		}
	}
}

// TestTimeoutWordsVia: responses that came through a proxy name the
// proxy's timeout, not the server behind it.
func TestTimeoutWordsVia(t *testing.T) {
	got := timeoutWords(2600*time.Millisecond, 2500*time.Millisecond, "nginx/1.22.1", "1.1 lab (squid/5.7)", false)
	want := `; the responses came through a proxy (Via: 1.1 lab (squid/5.7)), which holds the client's connection, from "nginx/1.22.1" behind it: the proxy's idle timeout, not that server's`
	if got != want {
		t.Errorf("got %s\nwant %s", got, want)
	}
}
