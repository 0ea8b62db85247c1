package cmd

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math"
	"net/netip"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"runtime/pprof"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/flowdoc/flowdoc/analyze"
	"github.com/flowdoc/flowdoc/flow"
	"github.com/flowdoc/flowdoc/flow/capture"
	"github.com/flowdoc/flowdoc/flow/packet"
	"github.com/flowdoc/flowdoc/flow/payload"
	"github.com/flowdoc/flowdoc/report"
)

type analyzeOptions struct {
	Out, ErrOut io.Writer

	Inputs     []string
	Format     string
	Output     string
	All        bool
	Events     bool
	At         string
	TimeWait   time.Duration
	FinTimeout time.Duration
	Grace      time.Duration
	PortRange  string
	ports      analyze.PortRange

	Host        string
	Port        uint16
	Verdicts    []string
	MinSeverity string
	FailOn      string
	filter      analyze.Filter
	failOn      analyze.Severity
	Progress    string // auto, always, never
	Color       string // auto, always, never
	BPF         string // -f
	CPUProfile  string
	MemProfile  string

	NoPayload  bool
	FlowBuffer string // sizes, as 256KiB
	Buffer     string
	payload    payload.Config
	gc         *gcPacer // nil unless analyze paces the collector
}

func newAnalyzeCmd(out, errOut io.Writer, runF func(context.Context, *analyzeOptions) error) *cobra.Command {
	o := &analyzeOptions{Out: out, ErrOut: errOut}
	c := &cobra.Command{
		Use:   "analyze CAPTURE...",
		Short: "Analyse pcap or pcapng captures",
		Long: `Analyse one or more captures (pcap or pcapng, optionally gzip-compressed;
"-" reads standard input). Several files are merged in timestamp order, as
when each side of a connection was captured on its own host.

Every TCP connection is followed from both ends. The report starts with the
endpoint states per host, as netstat would count them on each host at the
end of the capture, then lists the connections that did not close cleanly.
The byte streams are reassembled in the same pass: HTTP/1.x requests and
responses are read (a leak is tied to the request behind it) and TLS is
recognised; --no-payload skips that.

Timers count: an endpoint whose TIME_WAIT (or orphaned FIN_WAIT_2) ran out
before the end of the capture is CLOSED. CLOSE_WAIT never ends by itself:
only the application can close the socket.

Exit status: 0 analysed (even with warnings), 1 could not analyse, 2 usage.`,
		Example: `  # The report for a capture attached to a ticket
  flowdoc analyze incident.pcapng

  # Straight from tcpdump on the suspect host
  tcpdump -i any -w - 'tcp port 8080' | flowdoc analyze -

  # Both hosts' captures together, every flow, as JSON
  flowdoc analyze --all --format json -o report.json client.pcap server.pcap.gz

  # A Zeek-style conn.log, for tools that already read Zeek's logs
  flowdoc analyze --all -o conn.log capture.pcap

  # States as they stood at a given moment, with Windows' 240 s TIME_WAIT
  flowdoc analyze --at 2026-01-02T03:05:00Z --time-wait 240s capture.pcap

  # A huge capture, states only: no reassembly, no HTTP
  flowdoc analyze --no-payload big.pcap`,
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) == 0 {
				return flagErrorf("no capture given: name one or more files, or - for standard input")
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			o.Inputs = args
			if err := o.validate(); err != nil {
				return err
			}
			if runF != nil {
				return runF(cmd.Context(), o)
			}
			return runAnalyze(cmd.Context(), o)
		},
	}
	f := c.Flags()
	o.addReportFlags(f)
	f.StringVarP(&o.BPF, "filter", "f", "", "analyse only the packets this BPF `FILTER` matches (tcpdump's syntax; needs a libpcap build)")
	f.StringVar(&o.At, "at", "", "report states as they stand at `TIME` (RFC 3339, or Unix seconds) instead of the last packet")
	f.StringVar(&o.CPUProfile, "cpuprofile", "", "write a CPU profile to `FILE`")
	f.MarkHidden("cpuprofile")
	f.StringVar(&o.Progress, "progress", "auto", "progress on standard error: auto (when it is a terminal), always, never")
	return c
}

// addReportFlags adds the flags analyze and live share: the report's
// format and destination, the timers, the filters.
func (o *analyzeOptions) addReportFlags(f *pflag.FlagSet) {
	f.StringVarP(&o.Format, "format", "F", "", "output format: "+strings.Join(report.Formats, ", ")+" (default: from the -o extension, else text)")
	f.StringVarP(&o.Output, "output", "o", "", "write the report to `FILE` instead of standard output")
	f.BoolVarP(&o.All, "all", "a", false, "list every flow, not only those that did not close cleanly")
	f.BoolVar(&o.Events, "events", false, "JSON: add each flow's notable packets (SYN, FIN, RST, state changes) with their numbers")
	f.DurationVar(&o.TimeWait, "time-wait", flow.DefaultTimeWait, "how long TIME_WAIT lasts (Linux 60s, Windows 240s)")
	f.DurationVar(&o.FinTimeout, "fin-timeout", flow.DefaultFinTimeout, "how long an orphaned FIN_WAIT_2 lasts (net.ipv4.tcp_fin_timeout)")
	f.DurationVar(&o.Grace, "close-wait-grace", 0, "override: a CLOSE_WAIT quiet this long at the end is a leak, younger is not (default: judged from how fast each host closed its other connections)")
	f.StringVar(&o.PortRange, "port-range", analyze.LinuxPortRange.String(), "the clients' ephemeral port range `LOW-HIGH`, for TIME_WAIT pressure (Windows: 49152-65535)")
	f.StringVar(&o.Host, "host", "", "only flows with this `IP` at either end, and findings about them")
	f.Uint16Var(&o.Port, "port", 0, "only flows with this `PORT` at either end")
	f.StringSliceVar(&o.Verdicts, "verdict", nil, "only flows with a verdict of these `CLASS`es, and findings of them (flowdoc explain lists them)")
	f.StringVar(&o.MinSeverity, "min-severity", "info", "only flows and findings at least this severe: info, warning, error")
	f.StringVar(&o.FailOn, "fail-on", "", "exit with status 3 when a finding at least this severe remains: warning, error")
	f.StringVar(&o.MemProfile, "memprofile", "", "write a heap profile taken after the analysis to `FILE`")
	f.MarkHidden("memprofile")
	f.StringVar(&o.Color, "color", "auto", "colour in the text report: auto (on a terminal, unless NO_COLOR is set), always, never")
	f.BoolVar(&o.NoPayload, "no-payload", false, "do not reassemble or read payload (HTTP, TLS): endpoint states only, fastest")
	f.StringVar(&o.FlowBuffer, "flow-buffer", formatSize(payload.DefaultFlowBuffer), "out-of-order bytes buffered per connection while a missing segment is awaited (`SIZE`: 512KiB, 4MiB)")
	f.StringVar(&o.Buffer, "buffer", formatSize(payload.DefaultBuffer), "out-of-order bytes buffered across all connections (`SIZE`)")
}

// parseSize reads a byte count: a number with an optional unit (k/KiB,
// M/MiB, G/GiB: powers of 1024).
func parseSize(s string) (int, bool) {
	t := strings.ToLower(strings.TrimSpace(s))
	mult := 1
	for _, u := range sizeUnits {
		if rest, ok := strings.CutSuffix(t, u.suffix); ok && rest != "" {
			t, mult = strings.TrimSpace(rest), u.mult
			break
		}
	}
	n, err := strconv.ParseInt(t, 10, 64)
	if err != nil || n <= 0 || n > maxSize/int64(mult) {
		return 0, false
	}
	return int(n) * mult, true
}

// maxSize is the largest size taken: 1 TiB, or what an int holds on a
// 32-bit platform.
const maxSize = min(1<<40, math.MaxInt)

// sizeUnits are tried in order: longer suffixes first.
var sizeUnits = []struct {
	suffix string
	mult   int
}{
	{"gib", 1 << 30}, {"gb", 1 << 30}, {"g", 1 << 30},
	{"mib", 1 << 20}, {"mb", 1 << 20}, {"m", 1 << 20},
	{"kib", 1 << 10}, {"kb", 1 << 10}, {"k", 1 << 10},
	{"b", 1},
}

func formatSize(n int) string {
	switch {
	case n%(1<<30) == 0:
		return strconv.Itoa(n>>30) + "GiB"
	case n%(1<<20) == 0:
		return strconv.Itoa(n>>20) + "MiB"
	case n%(1<<10) == 0:
		return strconv.Itoa(n>>10) + "KiB"
	}
	return strconv.Itoa(n)
}

func (o *analyzeOptions) validate() error {
	if o.Format == "" {
		o.Format = "text"
		switch strings.ToLower(filepath.Ext(o.Output)) {
		case ".json":
			o.Format = "json"
		case ".jsonl", ".ndjson":
			o.Format = "jsonl"
		case ".csv":
			o.Format = "csv"
		case ".md", ".markdown":
			o.Format = "md"
		case ".html", ".htm":
			o.Format = "html"
		case ".log": // conn.log
			o.Format = "zeek"
		}
	}
	if _, err := report.New(o.Format, report.Options{}); err != nil {
		return &FlagError{Err: err}
	}
	if o.TimeWait <= 0 || o.FinTimeout <= 0 || o.Grace < 0 {
		return flagErrorf("--time-wait and --fin-timeout must be positive, --close-wait-grace not negative")
	}
	if o.Host != "" {
		a, err := netip.ParseAddr(o.Host)
		if err != nil {
			return flagErrorf("--host %q: not an IP address", o.Host)
		}
		o.filter.Host = a.Unmap()
	}
	o.filter.Port = o.Port
	for _, v := range o.Verdicts {
		c := analyze.Class(strings.TrimSpace(strings.ToLower(v)))
		if _, ok := analyze.Explain(c); !ok {
			return flagErrorf("--verdict %q: no such class (flowdoc explain lists them)", v)
		}
		o.filter.Classes = append(o.filter.Classes, c)
	}
	sev, ok := analyze.ParseSeverity(o.MinSeverity)
	if !ok {
		return flagErrorf("--min-severity %q: want info, warning or error", o.MinSeverity)
	}
	o.filter.MinSeverity = sev
	if o.FailOn != "" {
		if o.failOn, ok = analyze.ParseSeverity(o.FailOn); !ok || o.failOn == analyze.Info {
			return flagErrorf("--fail-on %q: want warning or error", o.FailOn)
		}
	}
	if _, err := fmt.Sscanf(o.PortRange, "%d-%d", &o.ports.Low, &o.ports.High); err != nil ||
		o.ports.Low < 1 || o.ports.High > 65535 || o.ports.Size() < 1 {
		return flagErrorf("--port-range %q: want LOW-HIGH, as 32768-60999", o.PortRange)
	}
	o.payload.Off = o.NoPayload
	var okF, okB bool
	o.payload.FlowBuffer, okF = parseSize(o.FlowBuffer)
	o.payload.Buffer, okB = parseSize(o.Buffer)
	if !okF || !okB {
		return flagErrorf("--flow-buffer %q, --buffer %q: want a size, as 256KiB or 64MiB", o.FlowBuffer, o.Buffer)
	}
	switch o.Color {
	case "auto", "always", "never":
	default:
		return flagErrorf("--color must be auto, always or never, not %q", o.Color)
	}
	switch o.Progress {
	case "auto", "always", "never":
	default:
		return flagErrorf("--progress must be auto, always or never, not %q", o.Progress)
	}
	if o.At != "" {
		if _, err := parseTime(o.At); err != nil {
			return &FlagError{Err: err}
		}
	}
	stdin := 0
	for _, in := range o.Inputs {
		if in == "-" {
			stdin++
		}
	}
	if stdin > 1 {
		return flagErrorf("standard input (-) can be read only once")
	}
	return nil
}

// parseTime accepts RFC 3339 or Unix seconds with a fraction.
func parseTime(s string) (time.Time, error) {
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return t, nil
	}
	if f, err := strconv.ParseFloat(s, 64); err == nil {
		sec := int64(f)
		return time.Unix(sec, int64((f-float64(sec))*1e9)).UTC(), nil
	}
	return time.Time{}, fmt.Errorf("--at %q: want RFC 3339 (2026-01-02T03:04:05Z) or Unix seconds", s)
}

func runAnalyze(ctx context.Context, o *analyzeOptions) error {
	if err := o.checkOutputs(); err != nil {
		return err
	}
	o.gc = tuneGC()
	defer o.gc.stop()
	if o.MemProfile != "" {
		runtime.MemProfileRate = memProfileRate
	}
	if o.CPUProfile != "" {
		f, err := os.Create(o.CPUProfile)
		if err != nil {
			return err
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return err
		}
		defer pprof.StopCPUProfile()
	}
	// A capture that cannot be read is said once: as the error when it is
	// the only one, else on standard error while the others are analysed;
	// the report lists it as not read, with why.
	var srcs []*capture.Source
	var failed []flow.Input
	for _, path := range o.Inputs {
		s, err := capture.Open(path)
		if err != nil {
			failed = append(failed, flow.Input{Path: path, LinkTypes: []string{}, Warnings: []flow.Warning{said(openError(err))}})
			continue
		}
		if !packet.SupportedLinkType(s.LinkType()) && s.Format == capture.FormatPcap {
			failed = append(failed, flow.Input{Path: path, LinkTypes: []string{}, Warnings: []flow.Warning{said(fmt.Sprintf(
				"link type %s is not supported (supported: %s)", packet.LinkTypeName(s.LinkType()), supportedLinkTypes))}})
			s.Close()
			continue
		}
		defer s.Close()
		if o.BPF != "" {
			f, err := capture.CompileFilter(o.BPF)
			if err != nil {
				return err
			}
			s.SetFilter(f)
		}
		srcs = append(srcs, s)
	}
	if len(srcs) == 0 && len(failed) == 1 {
		return fmt.Errorf("%s: %s", failed[0].Path, analyze.WarningText(failed[0].Warnings[0]))
	}
	for _, in := range failed {
		fmt.Fprintf(o.ErrOut, "flowdoc: %s: %s\n", in.Path, analyze.WarningText(in.Warnings[0]))
	}
	if len(srcs) == 0 {
		return errors.New("none of the captures could be read")
	}
	ropt := flow.ReadOptions{Config: flow.Config{TimeWait: o.TimeWait, FinTimeout: o.FinTimeout, AllEvents: o.Events, Payload: o.payload}}
	if o.At != "" {
		ropt.At, _ = parseTime(o.At)
	}
	prog := newProgress(o.ErrOut, o.Progress)
	if prog != nil {
		ropt.OnProgress = prog.update
	}
	ropt.OnFinish = o.gc.finishing
	res, err := flow.Read(ctx, srcs, ropt)
	if prog != nil {
		prog.done()
	}
	if err != nil {
		// Interrupted: report what was read, then say so.
		fmt.Fprintf(o.ErrOut, "flowdoc: interrupted; reporting the %d connections read so far\n", len(res.Flows))
	}
	for i := range res.Inputs {
		in := &res.Inputs[i]
		for _, w := range in.Warnings {
			fmt.Fprintf(o.ErrOut, "flowdoc: %s: %s\n", in.Path, analyze.WarningText(w))
		}
		if in.TCPPackets == 0 {
			w := noTCP(in)
			in.Warnings = append(in.Warnings, said(w))
			fmt.Fprintf(o.ErrOut, "flowdoc: %s: %s\n", in.Path, w)
		}
	}
	res.Inputs = append(res.Inputs, failed...)
	return o.report(res, nil)
}

// report builds the report from a pass's result, lets decorate add to it
// (the kernel's view, for live), filters and renders it: the same for
// analyze and live.
func (o *analyzeOptions) report(res *flow.Result, decorate func(*analyze.Report)) error {
	// The pass's connection tables are garbage now: collect them before
	// the report grows on top of them.
	runtime.GC()
	o.gc.reporting()

	rep := analyze.Build(res, o.analyzeOptions())
	if decorate != nil {
		decorate(rep)
	}
	rep = rep.Filtered(o.filter)
	if o.MemProfile != "" {
		if err := writeHeapProfile(o.MemProfile); err != nil {
			return err
		}
	}
	ropts := report.Options{All: o.All, Events: o.Events}
	toFile := o.Output != "" && o.Output != "-"
	if !toFile {
		ropts.Color, ropts.Width = terminalStyle(o.Out, o.Color)
	} else {
		ropts.Color = o.Color == "always"
	}
	r, _ := report.New(o.Format, ropts)
	if toFile {
		f, err := os.Create(o.Output)
		if err != nil {
			return err
		}
		defer f.Close()
		if err := r.Render(f, rep); err != nil {
			return fmt.Errorf("writing %s: %w", o.Output, err)
		}
		if err := f.Close(); err != nil {
			return err
		}
		return o.failed(rep)
	}
	if err := r.Render(o.Out, rep); err != nil {
		return err
	}
	return o.failed(rep)
}

func (o *analyzeOptions) analyzeOptions() analyze.Options {
	return analyze.Options{CloseWaitGrace: o.Grace, PortRange: o.ports, TimeWait: o.TimeWait}
}

// FindingsError is --fail-on matching: exit status 3.
type FindingsError struct {
	N        int
	Severity analyze.Severity
}

func (e *FindingsError) Error() string {
	return fmt.Sprintf("%d %s at %s or worse (--fail-on %s)", e.N, map[bool]string{true: "finding", false: "findings"}[e.N == 1], e.Severity, e.Severity)
}

// failed returns a *FindingsError when --fail-on is set and a finding at
// least that severe is in the report.
func (o *analyzeOptions) failed(rep *analyze.Report) error {
	if o.FailOn == "" {
		return nil
	}
	n := 0
	for _, f := range rep.Findings {
		if f.Severity >= o.failOn {
			n++
		}
	}
	if n == 0 {
		return nil
	}
	return &FindingsError{N: n, Severity: o.failOn}
}

// openError says in the user's terms why a capture could not be opened,
// for "FILE: " to go before.
func openError(err error) string {
	var pe *fs.PathError
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return "no such file"
	case errors.Is(err, fs.ErrPermission):
		return "permission denied"
	case errors.Is(err, capture.ErrNotCapture):
		return "not a pcap or pcapng capture" + notCaptureDetail(err)
	case errors.As(err, &pe):
		return pe.Err.Error() // without the path, said before it
	}
	return err.Error()
}

// notCaptureDetail is what follows "not a pcap or pcapng capture": the
// first bytes the file holds where a capture has its magic number (as
// text when they are), or why there is none.
func notCaptureDetail(err error) string {
	rest := strings.TrimPrefix(err.Error(), capture.ErrNotCapture.Error())
	if h, ok := strings.CutPrefix(rest, " (magic bytes "); ok {
		if b, err := hex.DecodeString(strings.TrimSuffix(h, ")")); err == nil && len(b) > 0 {
			if printable(b) {
				return fmt.Sprintf(" (it begins with %q: text, not a capture's magic number)", b)
			}
			return fmt.Sprintf(" (it begins with the bytes %x, not a capture's magic number)", b)
		}
	}
	if r, ok := strings.CutPrefix(rest, ": "); ok {
		return " (" + r + ")"
	}
	return rest
}

// printable reports whether b is printable ASCII text.
func printable(b []byte) bool {
	for _, c := range b {
		if (c < ' ' || c > '~') && c != '\t' && c != '\n' && c != '\r' {
			return false
		}
	}
	return true
}

// memProfileRate is the runtime's default sampling rate, which main turns
// off.
const memProfileRate = 512 << 10

func writeHeapProfile(path string) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	defer f.Close()
	runtime.GC()
	return pprof.WriteHeapProfile(f)
}

// GC pacing while analysing. The heap is nearly all connection records,
// kept to the end: collecting them over and over as it grows costs CPU
// and frees nothing. So the collector runs rarely (GOGC 200) under a soft
// memory limit that keeps the heap within a slack of what is live, and at
// least gcFloor. During the pass the slack is gcSlack: the records grow
// fast, and a tighter limit makes the collector run nearly without pause.
// When the last packet is read, the trackers make records of the
// connections still open: each conn (576 bytes) is garbage once its
// record (450) is made, and with gcSlack the heap would hold nearly both
// (200 k connections open: 80 MB more). The slack is then gcFinishSlack.
// Once the pass is over the slack narrows to gcReportSlack, but the limit
// stays at least what the pass held at its end: up to there, the report
// reuses memory the process has had anyway, and collecting sooner would
// lower no peak. It lowers the peak where the report outgrows the pass
// (make bench's capture with --no-payload), for a few more collections
// that cost no time beyond the noise of a run.
const (
	gcPercent     = 200
	gcFloor       = 96 << 20
	gcSlack       = 1.5
	gcFinishSlack = 1.3
	gcReportSlack = 1.2
)

// gcPacer applies that pacing; the nil *gcPacer does nothing.
type gcPacer struct {
	finish     atomic.Bool  // the trackers are finishing: gcFinishSlack is in force
	report     atomic.Bool  // the pass is over: gcReportSlack is in force
	least      atomic.Int64 // the lowest limit, besides gcFloor
	mu         sync.Mutex   // held to set the limit, so that stop has the last word
	stopped    bool
	oldPercent int // the collector's settings before, for stop
	oldLimit   int64
}

// tuneGC starts the pacing, unless GOGC or GOMEMLIMIT in the environment
// say otherwise (then it returns nil). Call stop when done.
func tuneGC() *gcPacer {
	if os.Getenv("GOGC") != "" || os.Getenv("GOMEMLIMIT") != "" {
		return nil
	}
	p := &gcPacer{}
	p.oldPercent = debug.SetGCPercent(gcPercent)
	p.oldLimit = debug.SetMemoryLimit(gcFloor)
	// What is live changes only at a collection, and is known right after
	// it: the limit follows it then (read on a ticker, it stayed behind
	// while the heap grew fast, and the collector ran again and again at
	// the old one).
	afterEachGC(p.apply)
	return p
}

// gcSentinel is an object whose finalizer runs once a collection has
// found it unreachable (it is not tiny: tiny objects share finalizers).
type gcSentinel struct {
	_ *int
	_ [8]byte
}

// afterEachGC calls f after each collection for as long as f returns
// true.
func afterEachGC(f func() bool) {
	var arm func(*gcSentinel)
	arm = func(*gcSentinel) {
		if f() {
			runtime.SetFinalizer(&gcSentinel{}, arm)
		}
	}
	runtime.SetFinalizer(&gcSentinel{}, arm)
}

// apply sets the memory limit from the heap live at the last collection;
// false once the pacing has stopped.
func (p *gcPacer) apply() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.stopped {
		return false
	}
	sample := []metrics.Sample{{Name: "/gc/heap/live:bytes"}}
	metrics.Read(sample)
	if sample[0].Value.Kind() == metrics.KindUint64 {
		live := float64(sample[0].Value.Uint64())
		slack := gcSlack
		switch {
		case p.report.Load():
			slack = gcReportSlack
		case p.finish.Load():
			slack = gcFinishSlack
		}
		debug.SetMemoryLimit(max(gcFloor, p.least.Load(), int64(live*slack)))
	}
	return true
}

// reporting narrows the slack to gcReportSlack, above what the runtime
// holds now. Call it right after the pass's last collection: what is
// live is then known exactly, and the memory the pass held is not yet
// given back.
func (p *gcPacer) reporting() {
	if p == nil {
		return
	}
	held := []metrics.Sample{{Name: "/memory/classes/total:bytes"}, {Name: "/memory/classes/heap/released:bytes"}}
	metrics.Read(held)
	if held[0].Value.Kind() == metrics.KindUint64 && held[1].Value.Kind() == metrics.KindUint64 {
		p.least.Store(int64(held[0].Value.Uint64() - held[1].Value.Uint64()))
	}
	p.report.Store(true)
	p.apply()
}

// finishing narrows the slack to gcFinishSlack while the trackers
// finish. The next collection sets the limit from what is live then.
func (p *gcPacer) finishing() {
	if p == nil {
		return
	}
	p.finish.Store(true)
	p.apply()
}

// stop ends the pacing and restores the collector's settings.
func (p *gcPacer) stop() {
	if p == nil {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.stopped = true
	debug.SetMemoryLimit(p.oldLimit)
	debug.SetGCPercent(p.oldPercent)
}

// said is a warning of cmd's own, its words chosen here.
func said(text string) flow.Warning { return flow.Warning{Kind: flow.WarnOther, Err: errors.New(text)} }

// supportedLinkTypes names, for a user, the link types flowdoc reads.
const supportedLinkTypes = "Ethernet, Linux cooked SLL and SLL2, raw IP, BSD loopback, PPP, PPPoE, Cisco HDLC, ATM (RFC 1483), FDDI, 802.11 with or without radiotap or Prism headers, pflog, NFLOG, Apple PKTAP"

// noTCP says, in one line, what a capture without TCP holds: "no TCP
// packets among its 120 packets (UDP 100, ICMPv4 20; link type EN10MB)".
func noTCP(in *flow.Input) string {
	w := fmt.Sprintf("no TCP packets among its %d packets", in.Packets)
	if in.Packets == 0 {
		return w
	}
	held := in.NonTCPSummary()
	if in.BadPackets > 0 {
		if held != "" {
			held += ", "
		}
		held += fmt.Sprintf("undecodable %d", in.BadPackets)
	}
	if in.Filtered > 0 {
		if held != "" {
			held += ", "
		}
		held += fmt.Sprintf("left out by the filter %d", in.Filtered)
	}
	lt := "link type "
	if len(in.LinkTypes) > 1 {
		lt = "link types "
	}
	return fmt.Sprintf("%s (%s; %s%s)", w, held, lt, strings.Join(in.LinkTypes, ", "))
}

// checkOutputs makes sure every file flowdoc will write can be written,
// before a long read or capture depends on it, and without changing any:
// an existing file is opened for writing (not truncated), and a new
// one's directory must take a file. extra are more paths (live's -w).
func (o *analyzeOptions) checkOutputs(extra ...string) error {
	paths := map[string]string{"-o": o.Output, "--memprofile": o.MemProfile, "--cpuprofile": o.CPUProfile}
	if len(extra) > 0 {
		paths["-w"] = extra[0]
	}
	for _, flag := range []string{"-o", "-w", "--memprofile", "--cpuprofile"} {
		if p := paths[flag]; p != "" && p != "-" {
			if err := checkWritable(p); err != nil {
				return fmt.Errorf("%s %s: %w", flag, p, err)
			}
		}
	}
	return nil
}

// checkWritable reports, in the user's terms, why path cannot be
// written; nil if it can.
func checkWritable(path string) error {
	if fi, err := os.Stat(path); err == nil {
		if fi.IsDir() {
			return errors.New("a directory, not a file")
		}
		if !fi.Mode().IsRegular() {
			return nil // a device or a pipe: opening it may wait for a reader
		}
		f, err := os.OpenFile(path, os.O_WRONLY, 0)
		if errors.Is(err, fs.ErrPermission) {
			return errors.New("no permission to write it")
		}
		if err != nil {
			return err
		}
		return f.Close()
	}
	dir := filepath.Dir(path)
	fi, err := os.Stat(dir)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return fmt.Errorf("no directory %s", dir)
	case err != nil:
		return err
	case !fi.IsDir():
		return fmt.Errorf("%s is not a directory", dir)
	}
	f, err := os.CreateTemp(dir, ".flowdoc-check-*")
	if errors.Is(err, fs.ErrPermission) {
		return fmt.Errorf("no permission to create a file in %s", dir)
	}
	if err != nil {
		return err
	}
	f.Close()
	return os.Remove(f.Name())
}
