//go:build race

package flow

// raceOn is set when the tests run under the race detector, ten times
// slower: the longest randomized tests then try fewer seeds.
const raceOn = true
