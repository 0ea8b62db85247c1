package payload

import "strconv"

// TLS is what was read of a TLS handshake.
type TLS struct {
	// ServerName is the name the client asked for (SNI); "" if none.
	ServerName string
	// ClientHello and ServerHello: the handshake messages were seen.
	ClientHello, ServerHello bool
	// Alert is, per side, the alert that side sent in the clear in place
	// of its hello or during the handshake: the words of a server that
	// refuses the client's hello, of a client that gives up on the
	// server's certificate. The zero Alert is none.
	Alert [2]Alert
}

// Alert is a TLS alert sent in the clear.
type Alert struct {
	Sent        bool
	Fatal       bool // level 2; else a warning (level 1)
	Description uint8
}

// alertNames are the alert descriptions of RFC 8446 and RFC 5246 that a
// handshake may end with.
var alertNames = map[uint8]string{
	0: "close_notify", 10: "unexpected_message", 20: "bad_record_mac", 21: "decryption_failed", 22: "record_overflow",
	40: "handshake_failure", 42: "bad_certificate", 43: "unsupported_certificate", 44: "certificate_revoked",
	45: "certificate_expired", 46: "certificate_unknown", 47: "illegal_parameter", 48: "unknown_ca",
	49: "access_denied", 50: "decode_error", 51: "decrypt_error", 70: "protocol_version",
	71: "insufficient_security", 80: "internal_error", 86: "inappropriate_fallback", 90: "user_canceled",
	100: "no_renegotiation", 109: "missing_extension", 110: "unsupported_extension", 112: "unrecognized_name",
	113: "bad_certificate_status_response", 115: "unknown_psk_identity", 116: "certificate_required",
	120: "no_application_protocol",
}

// Name is the alert's description as the RFCs name it ("protocol_version"),
// or its number for one they do not.
func (a Alert) Name() string {
	if n, ok := alertNames[a.Description]; ok {
		return n
	}
	return "alert " + strconv.Itoa(int(a.Description))
}

// tlsReader reads the first handshake record each way: enough to say the
// connection is TLS and which server name it is for; then the records
// that follow in the clear, for an alert, until a side's change of
// cipher spec or application data (the rest is encrypted).
type tlsReader struct {
	t    *TLS
	rec  [2][]byte // the first record, gathered
	scan [2]recScan
	done [2]bool
}

// recScan walks the records a side sends after its hello, in the clear:
// their headers, gathered across segments, and how much of the current
// record is still to skip.
type recScan struct {
	on   bool // past the first record
	hdr  [7]byte
	n    int // bytes of hdr gathered
	skip int
	seen int // bytes walked, at most maxScan
}

// maxScan caps the bytes walked after a side's hello: a server's
// certificate chain is a few kilobytes.
const maxScan = 64 << 10

// maxHello caps the first record gathered: a ClientHello with
// post-quantum key shares spans two or three segments.
const maxHello = 16 << 10

// detectTLS recognises a TLS handshake record (content type 22, version
// 3.x) that carries a ClientHello or ServerHello.
func detectTLS(_ Side, b []byte) verdict {
	if len(b) > 0 && b[0] != 0x16 || len(b) > 1 && b[1] != 3 || len(b) > 2 && b[2] > 4 {
		return notThis
	}
	if len(b) < 6 {
		return needMore
	}
	if b[5] != 1 && b[5] != 2 {
		return notThis
	}
	return isThis
}

func startTLS(_ *Stream, p *Summary) protocol {
	p.TLS = &TLS{}
	return &tlsReader{t: p.TLS}
}

func (r *tlsReader) data(s Side, c *chunk) bool {
	switch {
	case r.done[s]:
	case r.scan[s].on:
		r.walk(s, c.data)
	default:
		r.rec[s] = append(r.rec[s], c.data...)
		b := r.rec[s]
		if len(b) >= 5 {
			n := 5 + (int(b[3])<<8 | int(b[4]))
			switch {
			case b[0] == 0x15 || b[0] != 0x16 || len(b) > 5 && b[5] != 1 && b[5] != 2:
				// Not a hello: an alert in its place (walked as the
				// records after one are), or not TLS.
				r.rec[s] = nil
				r.scan[s].on = true
				if b[0] == 0x15 {
					r.walk(s, b)
				} else {
					r.done[s] = true
				}
			case len(b) >= n:
				r.hello(b[5:n])
				r.rec[s] = nil
				r.scan[s].on = true
				r.walk(s, b[n:])
			case len(b) >= maxHello:
				r.hello(b[5:])
				r.done[s], r.rec[s] = true, nil
			}
		}
	}
	return !r.done[Client] || !r.done[Server]
}

// walk reads the records that side s sends in the clear after its
// hello: handshake records are skipped; an alert is kept, and ends the
// walk, as do a change of cipher spec, application data, anything else
// and maxScan bytes.
func (r *tlsReader) walk(s Side, b []byte) {
	w := &r.scan[s]
	if w.seen += len(b); w.seen > maxScan {
		r.done[s] = true
		return
	}
	for len(b) > 0 {
		if w.skip > 0 {
			k := min(w.skip, len(b))
			w.skip, b = w.skip-k, b[k:]
			continue
		}
		want := 5
		if w.n >= 5 && w.hdr[0] == 0x15 {
			want = 7
		}
		k := copy(w.hdr[w.n:want], b)
		w.n, b = w.n+k, b[k:]
		if w.n < want {
			return
		}
		typ, n := w.hdr[0], int(w.hdr[3])<<8|int(w.hdr[4])
		switch {
		case w.hdr[1] != 3:
			r.done[s] = true
		case typ == 0x15 && n == 2 && w.n == 7:
			r.t.Alert[s] = Alert{Sent: true, Fatal: w.hdr[5] == 2, Description: w.hdr[6]}
			r.done[s] = true
		case typ == 0x15 && n == 2:
			continue
		case typ == 0x16:
			w.n, w.skip = 0, n
			continue
		default:
			r.done[s] = true
		}
		return
	}
}

// hello reads a handshake message: its type, and a ClientHello's server
// name extension.
func (r *tlsReader) hello(m []byte) {
	if len(m) < 4 {
		return
	}
	switch m[0] {
	case 2:
		r.t.ServerHello = true
		return
	case 1:
		r.t.ClientHello = true
	default:
		return
	}
	// ClientHello: version(2) random(32) session_id<1> cipher_suites<2>
	// compression<1> extensions<2>.
	b := m[4:]
	skip := func(n int) bool {
		if n > len(b) {
			b = nil
			return false
		}
		b = b[n:]
		return true
	}
	vec := func(lenBytes int) bool {
		if len(b) < lenBytes {
			return false
		}
		n := 0
		for i := range lenBytes {
			n = n<<8 | int(b[i])
		}
		return skip(lenBytes + n)
	}
	if !skip(34) || !vec(1) || !vec(2) || !vec(1) || len(b) < 2 {
		return
	}
	b = b[2:]
	for len(b) >= 4 {
		typ, n := int(b[0])<<8|int(b[1]), int(b[2])<<8|int(b[3])
		b = b[4:]
		if n > len(b) {
			return
		}
		if typ == 0 { // server_name: list<2> of type(1) name<2>
			e := b[:n]
			if len(e) >= 5 && e[2] == 0 {
				l := int(e[3])<<8 | int(e[4])
				if 5+l <= len(e) && l <= 255 && printable(e[5:5+l]) {
					r.t.ServerName = string(e[5 : 5+l])
				}
			}
			return
		}
		b = b[n:]
	}
}

func printable(b []byte) bool {
	for _, c := range b {
		if c <= ' ' || c >= 0x7f {
			return false
		}
	}
	return true
}

func (r *tlsReader) gap(s Side, _ int) { r.done[s], r.rec[s] = true, nil }

func (r *tlsReader) end(s Side, _ bool) { r.done[s], r.rec[s] = true, nil }

func (r *tlsReader) cut(s Side) { r.end(s, false) }

func (r *tlsReader) ack(Side, uint32) {}
