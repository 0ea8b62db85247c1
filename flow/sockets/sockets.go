// Package sockets reads the host's own TCP socket table: what
// /proc/net/tcp and /proc/net/tcp6 list, each socket with its state, its
// queues and timer, and the process holding it (from /proc/PID/fd), as
// `ss -tanp` shows them. flowdoc live joins it to the captured flows; a
// CLOSE_WAIT socket sends nothing, so one leaked before a capture began is
// seen here only.
//
// It owns nothing but the reading: Read parses the table once, on Linux;
// elsewhere, or without /proc, it returns an error.
package sockets

import (
	"bufio"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/flowdoc/flowdoc/flow"
)

// Socket is one TCP socket of the host's kernel, as /proc/net/tcp (and
// tcp6) lists it, with the process that holds it where that is known.
type Socket struct {
	Local, Remote netip.AddrPort
	// State is the kernel's state; Listen sockets have Listen set and
	// State Closed.
	State   flow.State
	Listen  bool
	TxQueue uint32 // bytes sent and not acknowledged (listen: accept backlog)
	RxQueue uint32 // bytes received and not read by the application
	// Timer is the timer running (retransmit, keepalive, TIME_WAIT...)
	// and TimerLeft how long it has to go.
	Timer     string
	TimerLeft time.Duration
	UID       int
	Inode     uint64
	// PID and Command are the process holding the socket (the first one
	// found, when several share it); 0 and "" when not known (no
	// permission, or no process: TIME_WAIT and orphans have none).
	PID     int
	Command string
	// Seen is when this socket was first seen in its state by whoever
	// read the table repeatedly (flowdoc live); zero if not known.
	Seen time.Time
}

// kernelStates maps the kernel's TCP states (include/net/tcp_states.h).
var kernelStates = map[uint64]flow.State{
	1: flow.Established, 2: flow.SynSent, 3: flow.SynRecv, 4: flow.FinWait1, 5: flow.FinWait2, 6: flow.TimeWait,
	7: flow.Closed, 8: flow.CloseWait, 9: flow.LastAck, 11: flow.Closing, 12: flow.SynRecv, // 12: NEW_SYN_RECV, a request socket
}

var timerNames = [...]string{"", "retransmit", "keepalive", "time_wait", "zero_window_probe"}

// Read reads the TCP sockets of the network namespace this process
// is in from root (normally "/proc"), and the processes holding them.
func Read(root string) ([]Socket, error) {
	var out []Socket
	found := false
	for _, name := range []string{"net/tcp", "net/tcp6"} {
		f, err := os.Open(filepath.Join(root, name))
		if err != nil {
			if errors.Is(err, os.ErrNotExist) {
				continue // no IPv6
			}
			return nil, err
		}
		socks, err := parseProcNetTCP(f)
		f.Close()
		if err != nil {
			return nil, fmt.Errorf("%s: %w", filepath.Join(root, name), err)
		}
		found = true
		out = append(out, socks...)
	}
	if !found {
		return nil, fmt.Errorf("%s/net/tcp: %w", root, os.ErrNotExist)
	}
	owners := socketOwners(root)
	for i := range out {
		if o, ok := owners[out[i].Inode]; ok {
			out[i].PID, out[i].Command = o.pid, o.comm
		}
	}
	return out, nil
}

// parseProcNetTCP reads the table of /proc/net/tcp or tcp6. The kernel
// writes the table while sockets come and go, one hash bucket after
// another across several reads: a socket may come out twice (seen with
// tests that open connections alongside). A line repeating one already
// read (same endpoints and inode) is skipped.
func parseProcNetTCP(r io.Reader) ([]Socket, error) {
	type id struct {
		local, remote netip.AddrPort
		inode         uint64
	}
	var out []Socket
	seen := map[id]bool{}
	sc := bufio.NewScanner(r)
	sc.Buffer(nil, 1<<16)
	line := 0
	for sc.Scan() {
		line++
		f := strings.Fields(sc.Text())
		if line == 1 || len(f) == 0 {
			continue // the header
		}
		if len(f) < 10 {
			return out, fmt.Errorf("line %d: %d fields", line, len(f))
		}
		local, err1 := parseProcAddr(f[1])
		remote, err2 := parseProcAddr(f[2])
		st, err3 := strconv.ParseUint(f[3], 16, 8)
		if err := errors.Join(err1, err2, err3); err != nil {
			return out, fmt.Errorf("line %d: %w", line, err)
		}
		s := Socket{Local: local, Remote: remote}
		if st == 10 {
			s.Listen, s.State = true, flow.Closed
		} else if state, ok := kernelStates[st]; ok {
			s.State = state
		} else {
			s.State = flow.Unknown
		}
		if tx, rx, ok := strings.Cut(f[4], ":"); ok {
			t, _ := strconv.ParseUint(tx, 16, 32)
			r, _ := strconv.ParseUint(rx, 16, 32)
			s.TxQueue, s.RxQueue = uint32(t), uint32(r)
		}
		if tr, when, ok := strings.Cut(f[5], ":"); ok {
			n, _ := strconv.ParseUint(tr, 16, 8)
			if n < uint64(len(timerNames)) {
				s.Timer = timerNames[n]
			}
			if j, err := strconv.ParseUint(when, 16, 64); err == nil && n != 0 {
				s.TimerLeft = time.Duration(j) * time.Second / clockTicks
			}
		}
		s.UID, _ = strconv.Atoi(f[7])
		s.Inode, _ = strconv.ParseUint(f[9], 10, 64)
		if k := (id{s.Local, s.Remote, s.Inode}); !seen[k] {
			seen[k] = true
			out = append(out, s)
		}
	}
	return out, sc.Err()
}

// clockTicks is the kernel's USER_HZ, the unit of /proc/net/tcp's timers.
const clockTicks = 100

// parseProcAddr reads "0100007F:1F90": the address as the kernel stores
// it (32-bit words in host byte order), then the port in hex.
func parseProcAddr(s string) (netip.AddrPort, error) {
	a, p, ok := strings.Cut(s, ":")
	if !ok {
		return netip.AddrPort{}, fmt.Errorf("address %q", s)
	}
	b, err := hex.DecodeString(a)
	if err != nil || (len(b) != 4 && len(b) != 16) {
		return netip.AddrPort{}, fmt.Errorf("address %q", s)
	}
	for i := 0; i < len(b); i += 4 {
		binary.BigEndian.PutUint32(b[i:], binary.NativeEndian.Uint32(b[i:]))
	}
	port, err := strconv.ParseUint(p, 16, 16)
	if err != nil {
		return netip.AddrPort{}, fmt.Errorf("port %q", s)
	}
	addr, _ := netip.AddrFromSlice(b)
	return netip.AddrPortFrom(addr.Unmap(), uint16(port)), nil
}

type owner struct {
	pid  int
	comm string
}

// socketOwners maps socket inodes to the processes holding them, as far
// as this process may look into /proc/PID/fd.
func socketOwners(root string) map[uint64]owner {
	owners := map[uint64]owner{}
	procs, err := os.ReadDir(root)
	if err != nil {
		return owners
	}
	for _, p := range procs {
		pid, err := strconv.Atoi(p.Name())
		if err != nil {
			continue
		}
		fdDir := filepath.Join(root, p.Name(), "fd")
		fds, err := os.ReadDir(fdDir)
		if err != nil {
			continue
		}
		comm := ""
		for _, fd := range fds {
			link, err := os.Readlink(filepath.Join(fdDir, fd.Name()))
			if err != nil || !strings.HasPrefix(link, "socket:[") {
				continue
			}
			inode, err := strconv.ParseUint(strings.TrimSuffix(strings.TrimPrefix(link, "socket:["), "]"), 10, 64)
			if err != nil {
				continue
			}
			if _, seen := owners[inode]; seen {
				continue
			}
			if comm == "" {
				b, _ := os.ReadFile(filepath.Join(root, p.Name(), "comm"))
				comm = strings.TrimSpace(string(b))
			}
			owners[inode] = owner{pid, comm}
		}
	}
	return owners
}
