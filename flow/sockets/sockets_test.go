package sockets

import (
	"github.com/flowdoc/flowdoc/flow"

	"net"
	"net/netip"
	"os"
	"strings"
	"testing"
	"time"
)

func TestParseProcNetTCP(t *testing.T) {
	const table = `  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 00000000:1F90 00000000:0000 0A 00000000:00000003 00:00000000 00000000     0        0 1149 1 00000000f17fe4d0 100 0 0 10 0
   1: 0101630A:9106 0201630A:1F90 08 00000000:00000000 00:00000000 00000000  1000        0 55512 1 00000000f9f174d2 20 4 30 10 -1
   2: 0101630A:9108 0201630A:1F90 06 00000000:00000000 03:00000FA0 00000000     0        0 0 3 00000000134c2b60
   3: 0101630A:9106 0201630A:1F90 08 00000000:00000000 00:00000000 00000000  1000        0 55512 1 00000000f9f174d2 20 4 30 10 -1
`
	socks, err := parseProcNetTCP(strings.NewReader(table))
	if err != nil {
		t.Fatal(err)
	}
	if len(socks) != 3 { // the last line repeats the second one
		t.Fatalf("%d sockets", len(socks))
	}
	if !socks[0].Listen || socks[0].Local != netip.MustParseAddrPort("0.0.0.0:8080") || socks[0].RxQueue != 3 {
		t.Errorf("listener: %+v", socks[0])
	}
	cw := socks[1]
	if cw.State != flow.CloseWait || cw.Local != netip.MustParseAddrPort("10.99.1.1:37126") || cw.Remote != netip.MustParseAddrPort("10.99.1.2:8080") || cw.UID != 1000 || cw.Inode != 55512 {
		t.Errorf("close-wait: %+v", cw)
	}
	tw := socks[2]
	if tw.State != flow.TimeWait || tw.Timer != "time_wait" || tw.TimerLeft != 40*time.Second {
		t.Errorf("time-wait: %+v", tw)
	}
}

func TestParseProcAddr6(t *testing.T) {
	// ::1 port 8080, and fd00:99:1::1, as x86's /proc/net/tcp6 writes them.
	for in, want := range map[string]string{
		"00000000000000000000000001000000:1F90": "[::1]:8080",
		"990000FD000001000000000001000000:0050": "[fd00:99:1::1]:80",
	} {
		got, err := parseProcAddr(in)
		if err != nil || got.String() != want {
			t.Errorf("%s: %v %v, want %s", in, got, err, want)
		}
	}
}

// TestReadSocketsOwnSocket opens a connection on loopback and finds both
// its ends in the kernel's table, held by this process.
func TestReadSocketsOwnSocket(t *testing.T) {
	if _, err := os.Stat("/proc/net/tcp"); err != nil {
		t.Skip("no /proc/net/tcp here")
	}
	l, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	c, err := net.Dial("tcp4", l.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	s, err := l.Accept()
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	local := netip.MustParseAddrPort(c.LocalAddr().String())
	remote := netip.MustParseAddrPort(c.RemoteAddr().String())
	socks, err := Read("/proc")
	if err != nil {
		t.Fatal(err)
	}
	found := 0
	for _, sk := range socks {
		if sk.Local == local && sk.Remote == remote || sk.Local == remote && sk.Remote == local {
			found++
			if sk.State != flow.Established || sk.PID != os.Getpid() {
				t.Errorf("%+v: want ESTABLISHED, pid %d", sk, os.Getpid())
			}
		}
	}
	if found != 2 {
		t.Errorf("found %d ends of the connection, want 2", found)
	}
}
