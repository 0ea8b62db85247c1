package cmd

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/flowdoc/flowdoc/analyze"
)

func newExplainCmd(out io.Writer) *cobra.Command {
	return &cobra.Command{
		Use:   "explain [CLASS]",
		Short: "Explain a verdict or finding: what it means, its causes, how to confirm and fix it",
		Long: `Explain what a verdict or finding class means, how flowdoc detects it, what
usually causes it, how to confirm it on the host and how to fix it. Without a
class, list them all.`,
		Example: `  flowdoc explain
  flowdoc explain close_wait_leak`,
		Args: cobra.MaximumNArgs(1),
		ValidArgsFunction: func(*cobra.Command, []string, string) ([]string, cobra.ShellCompDirective) {
			var names []string
			for _, e := range analyze.Explanations() {
				names = append(names, string(e.Class))
			}
			return names, cobra.ShellCompDirectiveNoFileComp
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) == 0 {
				tw := tabwriter.NewWriter(out, 0, 0, 2, ' ', 0)
				for _, e := range analyze.Explanations() {
					fmt.Fprintf(tw, "%s\t%s\n", e.Class, e.Title)
				}
				tw.Flush()
				fmt.Fprintln(out, "\nflowdoc explain CLASS tells more.")
				return nil
			}
			e, ok := analyze.Explain(analyze.Class(strings.ToLower(args[0])))
			if !ok {
				return flagErrorf("no class %q: flowdoc explain lists them", args[0])
			}
			fmt.Fprintf(out, "%s (%s)\n", e.Title, e.Class)
			for _, part := range []struct{ head, text string }{
				{"What it means", e.Meaning}, {"How flowdoc detects it", e.Detection}, {"Usual causes", e.Causes},
				{"Confirm on the host", e.Confirm}, {"Fix", e.Fix},
			} {
				fmt.Fprintf(out, "\n%s\n", part.head)
				wrapText(out, "  ", part.text)
			}
			return nil
		},
	}
}

// wrapText writes text in lines of at most 80 columns.
func wrapText(w io.Writer, indent, text string) {
	line := indent
	for _, word := range strings.Fields(text) {
		if len(line) > len(indent) && len(line)+1+len(word) > 80 {
			fmt.Fprintln(w, line)
			line = indent
		}
		if len(line) > len(indent) {
			line += " "
		}
		line += word
	}
	fmt.Fprintln(w, line)
}
