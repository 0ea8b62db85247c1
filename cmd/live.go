package cmd

import (
	"bufio"
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/flowdoc/flowdoc/analyze"
	"github.com/flowdoc/flowdoc/flow"
	"github.com/flowdoc/flowdoc/flow/capture"
	"github.com/flowdoc/flowdoc/flow/sockets"
	"github.com/flowdoc/flowdoc/report"
)

type liveOptions struct {
	analyzeOptions
	Interface string
	Snaplen   int
	Promisc   bool
	Duration  time.Duration
	Write     string
	Interval  time.Duration
	IdleEvict time.Duration
	MaxFlows  int
	NoSockets bool
	View      string // auto, always, never
	Proc      string // the /proc to read sockets from
}

func newLiveCmd(out, errOut io.Writer) *cobra.Command {
	o := &liveOptions{analyzeOptions: analyzeOptions{Out: out, ErrOut: errOut, Progress: "never"}, Proc: "/proc"}
	c := &cobra.Command{
		Use:   "live -i INTERFACE",
		Short: "Capture on an interface and analyse as it goes",
		Long: `Capture packets on a network interface of this host (libpcap), follow every
TCP connection as 'analyze' does, and show the endpoint states and findings
as they develop: refreshed every --interval on a terminal, one line per
interval otherwise. On Ctrl-C, SIGTERM or after --duration it writes the full
report, in any --format, exactly as 'analyze' would for the same packets
(-w keeps them in a pcapng file to attach or analyse again). Every output
file is checked before the capture starts; the -w file is created (or
truncated) only once the interface is open.

On Linux it also reads the host's own socket table (/proc/net/tcp and tcp6)
at the start, at every interval and at the end, and joins it to the flows:
each flow shows the kernel's state and the process holding the socket, the
sockets that sent nothing during the capture (a leaked CLOSE_WAIT sends
nothing) get a section of their own, and CLOSE_WAIT sockets become findings
that name the process.

Capturing needs root or CAP_NET_RAW (sudo setcap cap_net_raw,cap_net_admin=eip
$(command -v flowdoc)); naming other users' processes needs root (or
CAP_SYS_PTRACE: add cap_sys_ptrace to the setcap list).`,
		Example: `  # Watch a suspect host's HTTP traffic for five minutes, keep the packets
  sudo flowdoc live -i any -f 'tcp port 8080' --duration 5m -w evidence.pcapng

  # Until Ctrl-C, then a report to attach to the ticket
  sudo flowdoc live -i eth0 -o report.html

  # In a script: one status line every 10 s, JSON at the end
  sudo flowdoc live -i eth0 --interval 10s --duration 1m -F json > live.json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := o.validateLive(); err != nil {
				return err
			}
			return runLive(cmd.Context(), o)
		},
	}
	f := c.Flags()
	o.addReportFlags(f)
	f.StringVarP(&o.Interface, "interface", "i", "", "capture on `IFACE` (any: every interface; flowdoc interfaces lists them)")
	f.StringVarP(&o.BPF, "filter", "f", "", "capture only what this BPF `FILTER` matches (tcpdump's syntax), e.g. 'tcp port 8080'")
	f.IntVar(&o.Snaplen, "snaplen", 262144, "bytes kept of each packet (TCP states need 128)")
	f.BoolVar(&o.Promisc, "promisc", false, "put the interface in promiscuous mode")
	f.DurationVar(&o.Duration, "duration", 0, "stop after `D` (default: at Ctrl-C or SIGTERM)")
	f.StringVarP(&o.Write, "write", "w", "", "also write every captured packet to `FILE` (pcapng; pcap if FILE ends in .pcap)")
	f.DurationVar(&o.Interval, "interval", 2*time.Second, "refresh the view (or write a status line) every `D`")
	f.DurationVar(&o.IdleEvict, "idle-evict", 5*time.Second, "a connection idle this long leaves the table for its compact record")
	f.IntVar(&o.MaxFlows, "max-flows", 1000000, "keep at most `N` connections in memory; the oldest finished ones are dropped first, and counted")
	f.BoolVar(&o.NoSockets, "no-sockets", false, "do not read the host's socket table (/proc/net/tcp)")
	f.StringVar(&o.View, "view", "auto", "the refreshed view: auto (on a terminal), always, never (a line per interval)")
	return c
}

func (o *liveOptions) validateLive() error {
	if o.Interface == "" {
		return flagErrorf("no interface given: -i IFACE (flowdoc interfaces lists them; any captures on all)")
	}
	o.Inputs = []string{o.Interface}
	if err := o.validate(); err != nil {
		return err
	}
	if o.At != "" {
		return flagErrorf("--at is for capture files")
	}
	if o.Interval < 100*time.Millisecond || o.IdleEvict <= 0 || o.Snaplen < 64 || o.MaxFlows < 0 || o.Duration < 0 {
		return flagErrorf("--interval must be at least 100ms, --idle-evict positive, --snaplen at least 64, --max-flows and --duration not negative")
	}
	switch o.View {
	case "auto", "always", "never":
	default:
		return flagErrorf("--view must be auto, always or never, not %q", o.View)
	}
	if o.Write != "" && o.Output != "" && filepath.Clean(o.Write) == filepath.Clean(o.Output) {
		return flagErrorf("-w and -o name the same file, %s: the packets and the report need one each", o.Write)
	}
	return nil
}

// lateFile is the -w file: created (or truncated) only once the capture
// has started, so that a capture that cannot start leaves an earlier file
// of that name as it was. What is written before is held.
type lateFile struct {
	f    *os.File
	held []byte
}

func (l *lateFile) Write(p []byte) (int, error) {
	if l.f == nil {
		l.held = append(l.held, p...)
		return len(p), nil
	}
	return l.f.Write(p)
}

// create creates the file and writes what was held.
func (l *lateFile) create(path string) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if _, err := f.Write(l.held); err != nil {
		f.Close()
		return err
	}
	l.f, l.held = f, nil
	return nil
}

func runLive(ctx context.Context, o *liveOptions) error {
	if !capture.LiveAvailable {
		return capture.ErrNoLibpcap
	}
	if o.Duration > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, o.Duration)
		defer cancel()
	}
	if err := o.checkOutputs(o.Write); err != nil {
		return err
	}
	lc, err := openLive(ctx, o)
	if err != nil {
		return err
	}
	defer lc.capture.Close()
	if lc.file.f != nil {
		defer lc.file.f.Close()
	}
	start := time.Now()
	// The host's socket table: on unless told not to, or nothing to read,
	// or the interface has no address of this host (a mirror port).
	var watch *socketWatch
	if !o.NoSockets {
		watch, err = newSocketWatch(o.Proc, o.Interface)
		if err != nil {
			fmt.Fprintf(o.ErrOut, "flowdoc: not reading the host's socket table: %v\n", err)
		}
	}
	var screen *liveScreen
	if o.View == "always" || o.View == "auto" && isTerminal(o.ErrOut) {
		screen = newLiveScreen(o.ErrOut)
		defer screen.close() // on every return: the terminal as it was
	}
	final := o.watchLive(ctx, lc.capture, watch, screen, start)
	res := final.res
	if final.err != nil && !errors.Is(final.err, context.Canceled) && !errors.Is(final.err, context.DeadlineExceeded) {
		return final.err
	}
	screen.close() // what follows stays on the terminal
	elapsed := time.Since(start)
	stats := o.endLive(lc, res)
	err = o.report(res, func(rep *analyze.Report) {
		rep.Capture = &analyze.CaptureStats{Interface: o.Interface, Filter: o.BPF, Received: stats.Received,
			Dropped: stats.Dropped, IfDropped: stats.IfDropped, Duration: elapsed}
		if watch != nil {
			if socks, at, err := watch.read(); err == nil {
				rep.JoinKernel(socks, watch.local, at, cmp.Or(o.Grace, analyze.DefaultCloseWaitGrace), kernelSettle)
			}
		}
		if screen != nil {
			// The view is gone: its last state, in one line.
			st := liveStatus(o, lc.capture, res, elapsed)
			st.Rate = float64(st.Packets) / elapsed.Seconds()
			fmt.Fprintln(o.ErrOut, report.LiveLine(st, rep))
		}
	})
	if o.Output != "" && o.Output != "-" {
		var fe *FindingsError
		if err == nil || errors.As(err, &fe) {
			fmt.Fprintf(o.ErrOut, "flowdoc: report written to %s\n", o.Output)
		}
	}
	return err
}

// liveCapture is an open capture and the copy of its packets (-w).
type liveCapture struct {
	capture *capture.Live
	out     *bufio.Writer // nil without -w
	file    lateFile
}

// openLive opens the interface, then the -w file: the interface first,
// as tcpdump does, so that if it cannot be opened no file has been
// touched.
func openLive(ctx context.Context, o *liveOptions) (*liveCapture, error) {
	lc := &liveCapture{}
	var w io.Writer
	if o.Write != "" {
		lc.out = bufio.NewWriterSize(&lc.file, 1<<20)
		w = lc.out
	}
	// pcap has no place for the end of the capture or its losses: unless
	// asked for .pcap, the copy is pcapng, which has.
	ng := !strings.HasSuffix(strings.ToLower(o.Write), ".pcap")
	live, err := capture.OpenLive(ctx, o.Interface, capture.LiveOptions{Filter: o.BPF, Snaplen: o.Snaplen, Promisc: o.Promisc, PcapNG: ng}, w)
	if err != nil {
		return nil, err
	}
	lc.capture = live
	if o.Write != "" {
		if err := lc.file.create(o.Write); err != nil {
			live.Close()
			return nil, fmt.Errorf("-w %s: %w", o.Write, err)
		}
	}
	return lc, nil
}

// livePass is how the pass over a live capture ended.
type livePass struct {
	res *flow.Result
	err error
}

// watchLive runs the pass over the capture and, every interval until it
// ends, analyses a snapshot of it: the view, or a status line.
func (o *liveOptions) watchLive(ctx context.Context, live *capture.Live, watch *socketWatch, screen *liveScreen, start time.Time) livePass {
	snaps := make(chan chan<- *flow.Result)
	finished := make(chan livePass, 1)
	cfg := flow.Config{TimeWait: o.TimeWait, FinTimeout: o.FinTimeout, AllEvents: o.Events, IdleEvict: o.IdleEvict, MaxFlows: o.MaxFlows, Payload: o.payload}
	go func() {
		res, err := flow.Read(ctx, []*capture.Source{live.Source}, flow.ReadOptions{Config: cfg, Snapshots: snaps})
		finished <- livePass{res, err}
	}()
	tick := time.NewTicker(o.Interval)
	defer tick.Stop()
	lastPackets, lastAt := 0, start
	for {
		select {
		case final := <-finished:
			return final
		case <-tick.C:
		}
		// The socket table first, then the packets: a flow whose last
		// packet came in between is not compared with it.
		var socks []sockets.Socket
		var socksAt time.Time
		socksErr := errNoSockets
		if watch != nil {
			socks, socksAt, socksErr = watch.read()
		}
		reply := make(chan *flow.Result, 1)
		select {
		case snaps <- reply:
		case final := <-finished:
			return final
		}
		var res *flow.Result
		select {
		case res = <-reply:
		case final := <-finished:
			return final
		}
		rep := analyze.Build(res, o.analyzeOptions.analyzeOptions())
		if socksErr == nil {
			rep.JoinKernel(socks, watch.local, socksAt, cmp.Or(o.Grace, analyze.DefaultCloseWaitGrace), kernelSettle)
		}
		now := time.Now()
		st := liveStatus(o, live, res, now.Sub(start))
		st.Rate = float64(st.Packets-lastPackets) / now.Sub(lastAt).Seconds()
		lastPackets, lastAt = st.Packets, now
		if screen != nil {
			screen.draw(st, rep)
		} else {
			fmt.Fprintln(o.ErrOut, report.LiveLine(st, rep))
		}
	}
}

// endLive finishes the copy of the packets and says what the capture
// lost; it returns the interface's counters.
func (o *liveOptions) endLive(lc *liveCapture, res *flow.Result) capture.Stats {
	stats, _ := lc.capture.Stats()
	if lc.out != nil {
		err := errors.Join(lc.capture.FinishWrite(), lc.out.Flush(), lc.file.f.Close())
		if err != nil {
			fmt.Fprintf(o.ErrOut, "flowdoc: writing %s: %v\n", o.Write, err)
		} else {
			fmt.Fprintf(o.ErrOut, "flowdoc: %d packets written to %s\n", res.Inputs[0].Packets, o.Write)
		}
	}
	if stats.Dropped+stats.IfDropped > 0 {
		fmt.Fprintf(o.ErrOut, "flowdoc: libpcap dropped %d packets: the report says so\n", stats.Dropped+stats.IfDropped)
	}
	if res.Evicted > 0 {
		res.Inputs[0].Warnings = append(res.Inputs[0].Warnings, flow.Warning{Kind: flow.WarnEvicted, N: res.Evicted, Limit: o.MaxFlows})
	}
	return stats
}

// errNoSockets stands for a socket table not read (--no-sockets).
var errNoSockets = errors.New("the socket table is not read")

// kernelSettle is how long a flow must have been quiet for its state to
// be compared with the socket table: the table and the packets are read
// a moment apart, and libpcap hands packets over up to its poll interval
// late.
const kernelSettle = time.Second

func liveStatus(o *liveOptions, c *capture.Live, res *flow.Result, elapsed time.Duration) report.LiveStatus {
	st := report.LiveStatus{Interface: o.Interface, Elapsed: elapsed, Evicted: res.Evicted}
	if len(res.Inputs) > 0 {
		st.Packets = res.Inputs[0].Packets
	}
	if s, err := c.Stats(); err == nil {
		st.Dropped = s.Dropped + s.IfDropped
	}
	return st
}

// socketWatch reads the host's socket table and remembers since when each
// socket has been in its state (as far as flowdoc has watched).
type socketWatch struct {
	proc  string
	local []netip.Addr
	seen  map[uint64]seenState
}

type seenState struct {
	state flow.State
	since time.Time
}

func newSocketWatch(proc, iface string) (*socketWatch, error) {
	ifaces, err := capture.Interfaces()
	if err != nil {
		return nil, err
	}
	w := &socketWatch{proc: proc, seen: map[uint64]seenState{}}
	local := false
	for _, i := range ifaces {
		w.local = append(w.local, i.Addrs...)
		if i.Name == iface && len(i.Addrs) > 0 {
			local = true
		}
	}
	if iface == "any" {
		local = true
	}
	if !local {
		return nil, fmt.Errorf("%s has no address of this host (a mirror port?): its packets are not this host's connections", iface)
	}
	slices.SortFunc(w.local, netip.Addr.Compare)
	w.local = slices.Compact(w.local)
	if _, _, err := w.read(); err != nil {
		return nil, err
	}
	return w, nil
}

// read reads the table now, marking when each socket was first seen in
// its state; it returns the sockets and when it read them.
func (w *socketWatch) read() ([]sockets.Socket, time.Time, error) {
	socks, err := sockets.Read(w.proc)
	if err != nil {
		return nil, time.Time{}, err
	}
	now := time.Now()
	next := make(map[uint64]seenState, len(socks))
	for i := range socks {
		s := &socks[i]
		if s.Inode == 0 { // TIME_WAIT and request sockets have none
			continue
		}
		prev, ok := w.seen[s.Inode]
		if !ok || prev.state != s.State {
			prev = seenState{s.State, now}
		}
		next[s.Inode] = prev
		s.Seen = prev.since
	}
	w.seen = next
	return socks, now, nil
}

func newInterfacesCmd(out io.Writer) *cobra.Command {
	return &cobra.Command{
		Use:   "interfaces",
		Short: "List the interfaces flowdoc live can capture on",
		Example: `  flowdoc interfaces
  sudo flowdoc live -i $(flowdoc interfaces | awk 'NR==2 {print $1}')`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			ifaces, err := capture.Interfaces()
			if err != nil {
				return err
			}
			tw := tabwriter.NewWriter(out, 0, 0, 2, ' ', 0)
			fmt.Fprintln(tw, "NAME\tSTATE\tADDRESSES\tDESCRIPTION")
			for _, i := range ifaces {
				state := "down"
				if i.Up {
					state = "up"
					if i.Running {
						state += ",running"
					}
				}
				if i.Loopback {
					state += ",loopback"
				}
				var addrs []string
				for _, a := range i.Addrs {
					addrs = append(addrs, a.String())
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", i.Name, state, strings.Join(addrs, " "), i.Description)
			}
			return tw.Flush()
		},
	}
}
