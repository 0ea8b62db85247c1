package flow

import (
	"bytes"
	"slices"
	"testing"
)

// TestControlOnlyCapture: testdata/timewait-storm.pcap kept whole reads
// without a warning; cut down to its SYN, FIN and RST packets (as
// tcpdump 'tcp[tcpflags] & (tcp-syn|tcp-fin|tcp-rst) != 0' captures), it
// warns that the capture was filtered on TCP flags, naming its FINs.
func TestControlOnlyCapture(t *testing.T) {
	frames, lt := readFrames(t, "../testdata/timewait-storm.pcap")
	for _, filtered := range []bool{false, true} {
		data := writePcap(t, frames, lt, func(d []byte) []byte {
			if !filtered {
				return d
			}
			ihl := int(d[14]&0x0f) * 4
			if d[14+ihl+13]&0x07 == 0 { // neither FIN, SYN nor RST
				return nil
			}
			return d
		})
		res := readOpts(t, bytes.NewReader(data), "storm.pcap", ReadOptions{})
		var warned *Warning
		for i, w := range res.Inputs[0].Warnings {
			if w.Kind == WarnControlOnly {
				warned = &res.Inputs[0].Warnings[i]
			}
		}
		switch {
		case filtered && (warned == nil || warned.N != 80):
			t.Errorf("filtered on flags: warnings %+v; want one about its 80 FINs", res.Inputs[0].Warnings)
		case !filtered && warned != nil:
			t.Errorf("whole: warned %+v", *warned)
		}
	}
}

// TestRefusal: the errors servers open a connection with when they
// refuse the client are told apart from what they open a served one with.
func TestRefusal(t *testing.T) {
	pgFatal := []byte("E\x00\x00\x00\x00SFATAL\x00VFATAL\x00C53300\x00Msorry, too many clients already\x00Fproc.c\x00L359\x00RInitProcess\x00\x00")
	pgFatal[4] = byte(len(pgFatal) - 1)
	for _, c := range []struct {
		name string
		b    []byte
		want Refusal
	}{
		{"Redis maxclients", []byte("-ERR max number of clients reached\r\n"), RefusalRedis},
		{"Redis PONG", []byte("+PONG\r\n"), NoRefusal},
		{"memcached maxconns", []byte("ERROR Too many open connections\r\n"), RefusalMemcached},
		{"memcached version", []byte("VERSION 1.6.18\r\n"), NoRefusal},
		{"MariaDB 1040", append([]byte{23, 0, 0, 0, 0xff, 0x10, 0x04}, "Too many connections"...), RefusalMySQL},
		{"MariaDB handshake", append([]byte{0x5b, 0, 0, 0, 0x0a}, "5.5.5-10.11.6-MariaDB-0+deb12u1\x00"...), NoRefusal},
		{"MySQL error, length wrong", append([]byte{40, 0, 0, 0, 0xff, 0x10, 0x04}, "Too many connections"...), NoRefusal},
		{"PostgreSQL 53300", pgFatal, RefusalPostgres},
		{"PostgreSQL authentication request", []byte("R\x00\x00\x00\x08\x00\x00\x00\x00"), NoRefusal},
		{"vsftpd max_clients", []byte("421 There are too many connected users, please try later.\r\n"), RefusalLine},
		{"SMTP 554", []byte("554 5.7.1 mx.example.net: access denied\r\n"), RefusalLine},
		{"FTP greeting", []byte("220 (vsFTPd 3.0.3)\r\n"), NoRefusal},
		{"MQTT CONNACK server unavailable", []byte{0x20, 0x02, 0x00, 0x03}, RefusalMQTT},
		{"MQTT CONNACK accepted", []byte{0x20, 0x02, 0x00, 0x00}, NoRefusal},
		{"MQTT 5 CONNACK quota exceeded", []byte{0x20, 0x03, 0x00, 0x97, 0x00}, RefusalMQTT},
		{"TLS handshake_failure", []byte{0x15, 0x03, 0x03, 0x00, 0x02, 0x02, 0x28}, RefusalTLS},
		{"TLS ServerHello", tlsServerHello(), NoRefusal},
		{"sshd past MaxStartups", []byte("Exceeded MaxStartups\r\n"), RefusalSSH},
		{"sshd's banner", []byte("SSH-2.0-OpenSSH_9.2p1 Debian-2+deb12u10\r\n"), NoRefusal},
		{"HTTP 503", []byte("HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\n\r\n"), NoRefusal},
		{"ngIRCd past MaxConnectionsIP", []byte("ERROR :Connection refused, too many connections from your IP address\r\n"), RefusalIRC},
		{"an IRC server's first notice", []byte(":irc.example NOTICE * :*** Looking up your hostname\r\n"), NoRefusal},
	} {
		if got := refusal(c.b, len(c.b)); got != c.want {
			t.Errorf("%s: %v, want %v", c.name, got, c.want)
		}
		// A header-only capture (tcpdump -s 96 over Ethernet and IPv4
		// with TCP timestamps) keeps 30 bytes of each; at least 24.
		if cut := c.b[:min(24, len(c.b))]; refusal(cut, len(c.b)) != c.want {
			t.Errorf("%s, its first %d bytes captured: %v, want %v", c.name, len(cut), refusal(cut, len(c.b)), c.want)
		}
	}
}

func tlsServerHello() []byte {
	return append([]byte{0x16, 0x03, 0x03, 0x00, 0x4a, 0x02, 0x00, 0x00, 0x46, 0x03, 0x03}, make([]byte, 0x46-2)...)
}

// TestCalm: gRPC's GOAWAY for a client that pings too often is told from
// other GOAWAYs and frames, whole frames only.
func TestCalm(t *testing.T) {
	frame := func(typ byte, stream uint32, payload []byte) []byte {
		n := len(payload)
		b := []byte{byte(n >> 16), byte(n >> 8), byte(n), typ, 0, byte(stream >> 24), byte(stream >> 16), byte(stream >> 8), byte(stream)}
		return append(b, payload...)
	}
	goaway := func(code byte, debug string) []byte {
		return frame(0x07, 0, append([]byte{0, 0, 0, 1, 0, 0, 0, code}, debug...))
	}
	pingAck := frame(0x06, 0, make([]byte, 8))
	for _, c := range []struct {
		name string
		b    []byte
		want bool
	}{
		{"PING ACK, then GOAWAY too_many_pings", append(slices.Clone(pingAck), goaway(0x0b, "too_many_pings")...), true},
		{"GOAWAY too_many_pings alone", goaway(0x0b, "too_many_pings"), true},
		{"GOAWAY NO_ERROR", goaway(0x00, "max_idle"), false},
		{"DATA", frame(0x00, 1, []byte("hello")), false},
		{"GOAWAY cut short", goaway(0x0b, "too_many_pings")[:12], false},
		{"HTTP/1.1", []byte("HTTP/1.1 200 OK\r\n\r\n"), false},
	} {
		if got := calm(c.b); got != c.want {
			t.Errorf("%s: %v, want %v", c.name, got, c.want)
		}
	}
}

// TestAMQPRefusal: an AMQP Connection.Close with 530 or 403 refuses the
// connection; one with 320 (a broker shutting down) or another method
// does not.
func TestAMQPRefusal(t *testing.T) {
	closeFrame := func(class, method byte, code uint16) []byte {
		text := "NOT_ALLOWED - connection limit (3) is reached"
		args := append([]byte{0, class, 0, method, byte(code >> 8), byte(code), byte(len(text))}, text...)
		args = append(args, 0, 10, 0, 40) // the method that failed: Connection.Open
		size := len(args)
		return append(append([]byte{1, 0, 0, 0, 0, byte(size >> 8), byte(size)}, args...), 0xce)
	}
	for _, c := range []struct {
		name string
		b    []byte
		want bool
	}{
		{"530 NOT_ALLOWED", closeFrame(10, 50, 530), true},
		{"403 ACCESS_REFUSED", closeFrame(10, 50, 403), true},
		{"320 CONNECTION_FORCED", closeFrame(10, 50, 320), false},
		{"Connection.Tune", closeFrame(10, 30, 530), false},
		{"a heartbeat", []byte{8, 0, 0, 0, 0, 0, 0, 0xce}, false},
	} {
		if got := amqpRefusal(c.b); got != c.want {
			t.Errorf("%s: %v, want %v", c.name, got, c.want)
		}
	}
}

// TestIMAPRefusal: a tagged NO with LIMIT or UNAVAILABLE refuses the
// login; a NO for a wrong password, or an untagged BYE, does not.
func TestIMAPRefusal(t *testing.T) {
	for _, c := range []struct {
		b    string
		want bool
	}{
		{"TAG1 NO [LIMIT] Maximum number of connections from user+IP exceeded (mail_max_userip_connections=2)\r\n", true},
		{"a001 NO [UNAVAILABLE] Temporary authentication failure\r\n", true},
		{"a001 NO [AUTHENTICATIONFAILED] Authentication failed.\r\n", false},
		{"* BYE Logging out\r\na002 OK Logout completed.\r\n", false},
	} {
		if got := imapRefusal([]byte(c.b)); got != c.want {
			t.Errorf("%q: %v, want %v", c.b, got, c.want)
		}
	}
}

// TestOpener: the opening messages a server's protocol answers as soon as
// it takes a connection up are known by their first bytes; a request,
// whose answer waits on a handler, is none.
func TestOpener(t *testing.T) {
	pgStartup := []byte{0, 0, 0, 41, 0, 3, 0, 0}
	pgStartup = append(pgStartup, "user\x00postgres\x00database\x00postgres\x00\x00"...)
	for _, tc := range []struct {
		name string
		b    []byte
		want bool
	}{
		{"TLS ClientHello", []byte{0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00, 0x01, 0xfc, 0x03, 0x03}, true},
		{"AMQP 0-9-1 header", []byte("AMQP\x00\x00\x09\x01"), true},
		{"PostgreSQL SSLRequest", []byte{0, 0, 0, 8, 0x04, 0xd2, 0x16, 0x2f}, true},
		{"PostgreSQL startup", pgStartup, true},
		{"SSH version line", []byte("SSH-2.0-OpenSSH_9.2p1 Debian-2\r\n"), true},
		{"MQTT 3.1.1 CONNECT", []byte("\x10\x10\x00\x04MQTT\x04\x02\x00\x3c\x00\x04test"), true},
		{"MQTT 3.1 CONNECT", []byte("\x10\x12\x00\x06MQIsdp\x03\x02\x00\x3c\x00\x04test"), true},
		{"HTTP/2 preface", []byte("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"), true},
		{"rsync client's greeting", []byte("@RSYNCD: 32.0 sha512 sha256 sha1 md5 md4\n"), true},
		{"HTTP/1.1 request", []byte("GET / HTTP/1.1\r\nHost: a\r\n\r\n"), false},
		{"TLS application data", []byte{0x17, 0x03, 0x03, 0x00, 0x20, 0x01}, false},
		{"TLS ServerHello", []byte{0x16, 0x03, 0x03, 0x00, 0x5a, 0x02}, false},
		{"Redis command", []byte("*1\r\n$4\r\nPING\r\n"), false},
		{"a length that is no PostgreSQL message", []byte{0x7f, 0, 0, 8, 0x04, 0xd2, 0x16, 0x2f}, false},
		{"too short", []byte("AMQ"), false},
	} {
		if got := opener(tc.b); got != tc.want {
			t.Errorf("%s: opener = %v, want %v", tc.name, got, tc.want)
		}
	}
}

// TestNATSRefusal: a NATS server's -ERR that refuses a client as it
// connects is told from its timeouts' and from other protocols' errors.
func TestNATSRefusal(t *testing.T) {
	for _, c := range []struct {
		b    string
		want bool
	}{
		{"-ERR 'maximum connections exceeded'\r\n", true},
		{"-ERR 'Authorization Violation'\r\n", true},
		{"-ERR 'Authentication Timeout'\r\n", false},
		{"-ERR 'Stale Connection'\r\n", false},
		{"-ERR max number of clients reached\r\n", false},
		{"INFO {\"server_id\":\"x\"}\r\n", false},
	} {
		if got := natsRefusal([]byte(c.b)); got != c.want {
			t.Errorf("%q: natsRefusal = %v, want %v", c.b, got, c.want)
		}
	}
}

// TestPongLines: answers to pings, whole lines, are told from pings and
// from anything else.
func TestPongLines(t *testing.T) {
	for _, c := range []struct {
		b    string
		want bool
	}{
		{"PONG\r\n", true},
		{"PONG\r\nPONG\r\n", true},
		{"PONG :irc.example.net\r\n", true},
		{"PING\r\n", false},
		{"PONG\r\nPUB a 1\r\nx\r\n", false},
		{"PONGS\r\n", false},
		{"PONG", false},
		{"+PONG\r\n", false},
	} {
		if got := pongLines([]byte(c.b)); got != c.want {
			t.Errorf("%q: pongLines = %v, want %v", c.b, got, c.want)
		}
	}
}

// TestSOCKSRefusal: a SOCKS proxy's reply refusing a request, after its
// method selection (SOCKS5) or as its first message (SOCKS4).
func TestSOCKSRefusal(t *testing.T) {
	for _, c := range []struct {
		name   string
		b      []byte
		before uint64
		want   bool
	}{
		{"SOCKS5 not allowed by ruleset", []byte{5, 2, 0, 1, 0, 0, 0, 0, 0, 0}, 2, true},
		{"SOCKS5 host unreachable", []byte{5, 4, 0, 1, 0, 0, 0, 0, 0, 0}, 2, true},
		{"SOCKS5 succeeded", []byte{5, 0, 0, 1, 10, 0, 0, 1, 0x1f, 0x90}, 2, false},
		{"SOCKS5 reply as a first message", []byte{5, 2, 0, 1, 0, 0, 0, 0, 0, 0}, 0, false},
		{"SOCKS4 rejected", []byte{0, 0x5b, 0, 0, 0, 0, 0, 0}, 0, true},
		{"SOCKS4 granted", []byte{0, 0x5a, 0, 0, 0, 0, 0, 0}, 0, false},
	} {
		if got := socksRefusal(c.b, c.before); got != c.want {
			t.Errorf("%s: socksRefusal = %v, want %v", c.name, got, c.want)
		}
	}
}
