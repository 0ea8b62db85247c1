// Package cmd is flowdoc's command line: it parses flags, opens the
// inputs, runs the analysis and renders the report.
package cmd

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime/debug"
	"strings"
	"syscall"

	"github.com/spf13/cobra"
)

type exitCode int

const (
	exitOK       exitCode = 0
	exitError    exitCode = 1 // could not analyse
	exitUsage    exitCode = 2 // bad flags or arguments
	exitFindings exitCode = 3 // --fail-on matched a finding
)

// FlagError is a usage mistake: it is printed with a hint to --help.
type FlagError struct{ Err error }

func (e *FlagError) Error() string { return e.Err.Error() }
func (e *FlagError) Unwrap() error { return e.Err }

func flagErrorf(format string, a ...any) error {
	return &FlagError{Err: fmt.Errorf(format, a...)}
}

// Main runs flowdoc with os.Args and returns its exit code.
func Main() exitCode {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	root := newRootCmd(os.Stdout, os.Stderr)
	root.SetArgs(os.Args[1:])
	return execute(ctx, root, os.Stderr)
}

func execute(ctx context.Context, root *cobra.Command, errOut io.Writer) exitCode {
	c, err := root.ExecuteContextC(ctx)
	if err == nil {
		return exitOK
	}
	var fe *FlagError
	var fd *FindingsError
	switch {
	case errors.As(err, &fd):
		fmt.Fprintf(errOut, "flowdoc: %v\n", err)
		return exitFindings
	case errors.As(err, &fe) || isCobraUsage(err):
		fmt.Fprintf(errOut, "flowdoc: %v\n", err)
		if c != nil {
			fmt.Fprintf(errOut, "Run '%s --help' for usage.\n", c.CommandPath())
		}
		return exitUsage
	case errors.Is(err, context.Canceled):
		fmt.Fprintln(errOut, "flowdoc: interrupted")
		return exitError
	}
	fmt.Fprintf(errOut, "flowdoc: %v\n", err)
	return exitError
}

// isCobraUsage recognises cobra's own argument and flag errors, which it
// returns as plain errors.
func isCobraUsage(err error) bool {
	msg := err.Error()
	for _, p := range []string{"unknown command", "unknown flag", "unknown shorthand flag", "flag needs an argument",
		"invalid argument", "accepts ", "requires at least", "requires at most", "bad flag syntax"} {
		if strings.Contains(msg, p) {
			return true
		}
	}
	return false
}

func newRootCmd(out, errOut io.Writer) *cobra.Command {
	root := &cobra.Command{
		Use:   "flowdoc",
		Short: "Find the TCP connections stuck half-closed in a packet capture, and say why",
		Long: `flowdoc reads packet captures, follows every TCP connection from both ends and
reports each endpoint's TCP state (as netstat names them) at the end of the
capture: the CLOSE_WAIT sockets an application never closed, the TIME_WAIT
pile-up of a reconnecting client, the handshakes nobody answered.`,
		Version:       version(),
		SilenceErrors: true,
		SilenceUsage:  true,
	}
	root.SetOut(out)
	root.SetErr(errOut)
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return &FlagError{Err: err} })
	root.AddCommand(newAnalyzeCmd(out, errOut, nil), newLiveCmd(out, errOut), newInterfacesCmd(out), newExplainCmd(out))
	return root
}

// version is the module version and VCS revision the binary was built from.
func version() string {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return "(unknown)"
	}
	v := bi.Main.Version
	if v == "" || v == "(devel)" {
		v = "devel"
	}
	for _, s := range bi.Settings {
		if s.Key == "vcs.revision" && len(s.Value) >= 12 {
			v += " (" + s.Value[:12] + ")"
		}
	}
	return v + " " + bi.GoVersion
}
