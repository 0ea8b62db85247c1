// Command flowdoc reads packet captures, follows every TCP connection from
// both ends and tells which ones are stuck half-closed, and why.
package main

import (
	"os"
	"runtime"

	"github.com/flowdoc/flowdoc/cmd"
)

func main() {
	// No heap profile unless asked for (analyze --memprofile turns it back
	// on): its sampling costs time on every allocation, and its buckets
	// memory.
	runtime.MemProfileRate = 0
	os.Exit(int(cmd.Main()))
}
