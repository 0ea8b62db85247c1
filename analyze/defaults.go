package analyze

import (
	"fmt"
	"math"
	"slices"
	"strings"
	"time"
)

// ServerDefault is an idle or keep-alive timeout a common server closes
// connections after, unless configured otherwise.
type ServerDefault struct {
	Server  string
	Setting string
	Timeout time.Duration
	// names are how the server's Server header starts (lower case);
	// none for servers that send no such header by default.
	names []string
}

func (d ServerDefault) String() string {
	return fmt.Sprintf("%s %s (%s)", d.Server, d.Setting, fmtDur(d.Timeout))
}

// serverDefaults are the defaults an idle close is compared with. Sources
// are each project's reference documentation for the setting named.
var serverDefaults = []ServerDefault{
	// Apache httpd core: KeepAliveTimeout, default 5 seconds.
	{"Apache httpd", "KeepAliveTimeout", 5 * time.Second, []string{"apache/", "apache "}},
	// Node.js http: server.keepAliveTimeout, default 5000 ms; since
	// server.keepAliveTimeoutBuffer (default 1000 ms, v24.6 and backports
	// to 20.x and 22.x) the socket closes at their sum.
	{"Node.js", "server.keepAliveTimeout", 5 * time.Second, nil},
	{"Node.js", "server.keepAliveTimeout + keepAliveTimeoutBuffer", 6 * time.Second, nil},
	// gunicorn settings: keepalive, default 2 seconds.
	{"gunicorn", "--keep-alive", 2 * time.Second, []string{"gunicorn"}},
	// uvicorn settings: --timeout-keep-alive, default 5 seconds.
	{"uvicorn", "--timeout-keep-alive", 5 * time.Second, []string{"uvicorn"}},
	// Tomcat HTTP connector: keepAliveTimeout defaults to connectionTimeout,
	// 20000 ms in the shipped server.xml (60 s when unset).
	{"Tomcat", "keepAliveTimeout/connectionTimeout", 20 * time.Second, []string{"apache-coyote", "tomcat"}},
	// nginx ngx_http_core_module: keepalive_timeout 75s.
	{"nginx", "keepalive_timeout", 75 * time.Second, []string{"nginx", "openresty"}},
	// AWS Application Load Balancer: idle_timeout.timeout_seconds, 60.
	{"AWS ALB", "idle timeout", 60 * time.Second, []string{"awselb"}},
	// Go net/http: Server.IdleTimeout falls back to ReadTimeout; none set
	// means no idle timeout, but many services set 60-120 s.
	// HAProxy: timeout http-keep-alive falls back to timeout http-request,
	// commonly configured to 10 s in the shipped examples.
	{"HAProxy", "timeout http-keep-alive (common 10 s)", 10 * time.Second, nil},
	// Envoy HTTP connection manager: common_http_protocol_options
	// idle_timeout, default 1 hour.
	{"Envoy", "idle_timeout", time.Hour, []string{"envoy"}},
	// IIS: connectionTimeout, 120 seconds.
	{"IIS", "connectionTimeout", 120 * time.Second, []string{"microsoft-iis"}},
	// Jetty: idleTimeout, 30000 ms.
	{"Jetty", "idleTimeout", 30 * time.Second, []string{"jetty"}},
}

// MatchDefaults returns the server defaults within tolerance of an idle
// time d: 10 % of the default or 300 ms, whichever is more (timers fire a
// little late; the last payload seen is not always the last one read).
func MatchDefaults(d time.Duration) []ServerDefault {
	var out []ServerDefault
	for _, s := range serverDefaults {
		if s.matches(d) {
			out = append(out, s)
		}
	}
	return out
}

func (s ServerDefault) matches(d time.Duration) bool {
	tol := max(s.Timeout/10, 300*time.Millisecond)
	diff := d - s.Timeout
	return diff >= -tol && diff <= tol
}

// defaultOf returns the default of the server whose Server header is
// name ("Apache/2.4.62 (Debian)"); false for one not among
// serverDefaults.
func defaultOf(name string) (ServerDefault, bool) {
	name = strings.ToLower(name)
	for _, s := range serverDefaults {
		for _, n := range s.names {
			// "Apache/2.4.62", or "Apache" alone (ServerTokens Prod).
			if strings.HasPrefix(name, n) || name == strings.TrimRight(n, "/ ") {
				return s, true
			}
		}
	}
	return ServerDefault{}, false
}

// timeoutWords says what an idle close after d tells of the server: the
// default it matches, or, when the responses named their server (name,
// the Server header), whether that server's setting is at its default
// (which the shortest of its idle closes matching says too: a server
// that checks its timers periodically closes later than they expire). A
// proxy or load balancer in front passes the header on, and its own
// timeout may be the one: the words say so. The defaults are HTTP
// servers': other, set when the connections carried another protocol
// (MQTT, a database's), compares with none of them. The words start
// with a comma or a semicolon; "" when there is nothing to say.
func timeoutWords(d, shortest time.Duration, name, via string, other bool) string {
	if via != "" {
		// A proxy the responses came through: it holds the client's
		// connection, and its timeout closed it.
		if name != "" {
			return fmt.Sprintf("; the responses came through a proxy (Via: %s), which holds the client's connection, from %q behind it: the proxy's idle timeout, not that server's", via, name)
		}
		return fmt.Sprintf("; the responses came through a proxy (Via: %s), which holds the client's connection: its idle timeout", via)
	}
	if name != "" {
		s, known := defaultOf(name)
		switch {
		case !known:
			return fmt.Sprintf("; the responses name %q", name)
		case s.matches(d) || s.matches(shortest):
			return fmt.Sprintf(", the default of %s, which the responses name (%q)", s, name)
		default:
			return fmt.Sprintf("; the responses name %q, whose %s defaults to %s: it is set to %s there, or a proxy in front of it closes (proxies pass the Server header on)",
				name, s.Setting, fmtDur(s.Timeout), fmtDur(d))
		}
	}
	m := MatchDefaults(d)
	if len(m) == 0 || other {
		return ""
	}
	var names []string
	for _, s := range m {
		names = append(names, s.String())
	}
	return ", which matches the default of " + strings.Join(names, ", or ")
}

// Cluster is a group of close values.
type Cluster struct {
	Values   []time.Duration // sorted
	Median   time.Duration
	Min, Max time.Duration
}

// ClusterDurations groups durations that lie within 10 % (or 200 ms) of
// their neighbours, largest group first (ties: shorter durations first).
// Idle times before a server's FINs cluster around its timeout; other
// values come from connections closed for other reasons.
func ClusterDurations(ds []time.Duration) []Cluster {
	if len(ds) == 0 {
		return nil
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	var out []Cluster
	start := 0
	for i := 1; i <= len(s); i++ {
		if i < len(s) {
			gap := s[i] - s[i-1]
			if gap <= max(s[i-1]/10, 200*time.Millisecond) {
				continue
			}
		}
		v := s[start:i]
		out = append(out, Cluster{Values: v, Median: median(v), Min: v[0], Max: v[len(v)-1]})
		start = i
	}
	slices.SortStableFunc(out, func(a, b Cluster) int { return len(b.Values) - len(a.Values) })
	return out
}

func median(v []time.Duration) time.Duration {
	n := len(v)
	if n%2 == 1 {
		return v[n/2]
	}
	return (v[n/2-1] + v[n/2]) / 2
}

// PortRange is an ephemeral port range, both ends included.
type PortRange struct{ Low, High int }

// Size is the number of ports in r.
func (r PortRange) Size() int { return r.High - r.Low + 1 }

func (r PortRange) String() string { return fmt.Sprintf("%d-%d", r.Low, r.High) }

// Default ephemeral port ranges and TIME_WAIT durations.
var (
	LinuxPortRange   = PortRange{32768, 60999} // net.ipv4.ip_local_port_range
	WindowsPortRange = PortRange{49152, 65535} // netsh int ipv4 show dynamicport tcp
)

const windowsTimeWait = 240 * time.Second // TcpTimedWaitDelay default

// PortPressure is the TIME_WAIT arithmetic for one client towards one
// server endpoint: with connections closed (actively, by the client) at
// Rate per second and each held for TimeWait, Rate x TimeWait ports are
// busy at any time.
type PortPressure struct {
	Rate     float64 // connections per second
	TimeWait time.Duration
	Ports    int
}

// Implied is the steady-state TIME_WAIT population.
func (p PortPressure) Implied() float64 { return p.Rate * p.TimeWait.Seconds() }

// Share is Implied as a fraction of the ports.
func (p PortPressure) Share() float64 {
	if p.Ports <= 0 {
		return math.Inf(1)
	}
	return p.Implied() / float64(p.Ports)
}

// Exhausted reports whether the steady state needs more ports than exist.
func (p PortPressure) Exhausted() bool { return p.Implied() >= float64(p.Ports) }

// MaxRate is the connection rate that would use every port.
func (p PortPressure) MaxRate() float64 { return float64(p.Ports) / p.TimeWait.Seconds() }
