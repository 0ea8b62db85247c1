// Command flowdoc reads packet captures, follows every TCP connection from
// both ends and tells which ones are stuck half-closed, and why.
package main

import (
	"os"

	"github.com/flowdoc/flowdoc/cmd"
)

func main() {
	os.Exit(int(cmd.Main()))
}
