package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"os/exec"
	"strconv"
	"strings"
)

// The bench capture holds every ending the verdicts care about, port reuse
// and hundreds of thousands of connections: when tshark is installed and
// has read it anyway, its conversation table is checked against flowdoc's
// flows, as the tests do on the small captures in testdata.

// dir is what was counted one way on a 4-tuple: frames, and their bytes on
// the wire.
type dir struct {
	frames uint64
	bytes  float64
	// slack is how far above bytes the true count may be: tshark prints
	// 10 kB and more truncated to whole kB or MB, of 1000 or 1024 bytes
	// (whichever it used). 0 when every count was exact.
	slack float64
}

// pair is a 4-tuple, a direction: from a to b.
type pair struct{ a, b netip.AddrPort }

// tally sums what one tool counted per direction of each 4-tuple (a
// 4-tuple reused by several connections sums them), and how many
// connections it counted in all.
type tally struct {
	dirs  map[pair]dir
	conns int
}

func (t *tally) add(p pair, frames uint64, bytes, unit float64) {
	d := t.dirs[p]
	d.frames += frames
	d.bytes += bytes
	if unit > 1 {
		d.slack += 1.024*unit + 0.024*bytes
	}
	t.dirs[p] = d
}

// tsharkConv reads `tshark -q -z conv,tcp`: "A <-> B framesBA bytesBA unit
// framesAB bytesAB unit ...", byte counts of 10 kB and more rounded.
func tsharkConv(out []byte) (*tally, error) {
	t := &tally{dirs: map[pair]dir{}}
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		line := sc.Text()
		if !strings.Contains(line, "<->") {
			continue
		}
		f := strings.Fields(line)
		if len(f) < 9 {
			return nil, fmt.Errorf("tshark: short line %q", line)
		}
		a, errA := hostPort(f[0])
		b, errB := hostPort(f[2])
		fBA, errFBA := strconv.ParseUint(f[3], 10, 64)
		fAB, errFAB := strconv.ParseUint(f[6], 10, 64)
		bBA, uBA, errBBA := size(f[4], f[5])
		bAB, uAB, errBAB := size(f[7], f[8])
		for _, err := range []error{errA, errB, errFBA, errFAB, errBBA, errBAB} {
			if err != nil {
				return nil, fmt.Errorf("tshark: %q: %v", line, err)
			}
		}
		t.add(pair{b, a}, fBA, bBA, uBA)
		t.add(pair{a, b}, fAB, bAB, uAB)
		t.conns++
	}
	return t, sc.Err()
}

// hostPort reads "10.0.0.1:80" or "fd00::1:80".
func hostPort(s string) (netip.AddrPort, error) {
	i := strings.LastIndexByte(s, ':')
	if i < 0 {
		return netip.AddrPort{}, fmt.Errorf("no port in %q", s)
	}
	a, err := netip.ParseAddr(s[:i])
	if err != nil {
		return netip.AddrPort{}, err
	}
	p, err := strconv.ParseUint(s[i+1:], 10, 16)
	return netip.AddrPortFrom(a, uint16(p)), err
}

func size(n, unit string) (float64, float64, error) {
	v, err := strconv.ParseFloat(n, 64)
	u := map[string]float64{"bytes": 1, "kB": 1e3, "MB": 1e6, "GB": 1e9}[unit]
	if err == nil && u == 0 {
		err = fmt.Errorf("unit %q", unit)
	}
	return v * u, u, err
}

// flowdocFlows runs flowdoc on file for every flow as JSON Lines, and sums
// the packets and wire bytes of each end.
func flowdocFlows(bin, file string) (*tally, error) {
	cmd := exec.Command(bin, "analyze", "--all", "--no-payload", "--format", "jsonl", "--progress", "never", file)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	t := &tally{dirs: map[pair]dir{}}
	type end struct {
		Packets   uint64  `json:"packets"`
		WireBytes float64 `json:"wire_bytes"`
	}
	type addr struct {
		IP   netip.Addr `json:"ip"`
		Port uint16     `json:"port"`
	}
	var line struct {
		Type           string `json:"type"`
		Client, Server json.RawMessage
		Connections    int
		Ends           struct{ Client, Server end }
	}
	var client, server addr
	folded := 0
	dec := json.NewDecoder(bufio.NewReaderSize(stdout, 1<<20))
	for {
		line.Type = ""
		err := dec.Decode(&line)
		if err == io.EOF {
			break
		}
		if err == nil && line.Type == "flow" {
			err = errors.Join(json.Unmarshal(line.Client, &client), json.Unmarshal(line.Server, &server))
		}
		if err != nil {
			cmd.Process.Kill()
			cmd.Wait()
			return nil, fmt.Errorf("flowdoc's JSON Lines: %v", err)
		}
		if line.Type == "aggregate" {
			folded += line.Connections
		}
		if line.Type != "flow" {
			continue
		}
		line.Client, line.Server = nil, nil
		c := netip.AddrPortFrom(client.IP, client.Port)
		s := netip.AddrPortFrom(server.IP, server.Port)
		t.add(pair{c, s}, line.Ends.Client.Packets, line.Ends.Client.WireBytes, 1)
		t.add(pair{s, c}, line.Ends.Server.Packets, line.Ends.Server.WireBytes, 1)
		t.conns++
	}
	if err := cmd.Wait(); err != nil {
		return nil, fmt.Errorf("%v: %s", err, stderr.String())
	}
	if folded > 0 {
		return nil, fmt.Errorf("flowdoc folded %d connections into aggregates: the cross-check needs every one listed", folded)
	}
	return t, nil
}

// crossCheck compares flowdoc's flows on file with tshark's conversation
// table (its output): the number of connections, and the frames and wire
// bytes of every direction of every 4-tuple. It returns a one-line summary,
// or an error listing the first disagreements.
func crossCheck(bin, file string, tsharkOut []byte) (string, error) {
	want, err := tsharkConv(tsharkOut)
	if err != nil {
		return "", err
	}
	got, err := flowdocFlows(bin, file)
	if err != nil {
		return "", err
	}
	var diffs []string
	diff := func(format string, args ...any) {
		if len(diffs) < 10 {
			diffs = append(diffs, fmt.Sprintf(format, args...))
		}
	}
	if got.conns != want.conns {
		diff("flowdoc has %d flows, tshark %d conversations", got.conns, want.conns)
	}
	bad := 0
	for p, w := range want.dirs {
		g, ok := got.dirs[p]
		switch {
		case !ok && w.frames == 0:
		case !ok:
			bad++
			diff("%s > %s: tshark counts %d frames, flowdoc none", p.a, p.b, w.frames)
		case g.frames != w.frames || g.bytes < w.bytes || g.bytes > w.bytes+w.slack:
			bad++
			diff("%s > %s: tshark counts %d frames, %.0f bytes; flowdoc %d, %.0f", p.a, p.b, w.frames, w.bytes, g.frames, g.bytes)
		}
	}
	for p, g := range got.dirs {
		if _, ok := want.dirs[p]; !ok && g.frames > 0 {
			bad++
			diff("%s > %s: flowdoc counts %d frames that tshark has not", p.a, p.b, g.frames)
		}
	}
	if len(diffs) > 0 {
		return "", fmt.Errorf("flowdoc and tshark disagree on %d of %d directions:\n  %s", bad, len(want.dirs), strings.Join(diffs, "\n  "))
	}
	return fmt.Sprintf("cross-check with tshark: %d flows = %d conversations; frames and wire bytes agree on all %d directions of %d 4-tuples",
		got.conns, want.conns, len(want.dirs), len(want.dirs)/2), nil
}
