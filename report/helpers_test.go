package report

import (
	"context"
	"testing"

	"github.com/flowdoc/flowdoc/analyze"
	"github.com/flowdoc/flowdoc/flow"
	"github.com/flowdoc/flowdoc/flow/capture"
)

// labReport analyses a lab capture as the CLI would.
func labReport(t testing.TB, path string) *analyze.Report {
	t.Helper()
	s, err := capture.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	// As --events reads: every flow keeps its events.
	res, err := flow.Read(context.Background(), []*capture.Source{s}, flow.ReadOptions{Config: flow.Config{AllEvents: true}})
	if err != nil {
		t.Fatal(err)
	}
	return analyze.Build(res, analyze.Options{})
}
