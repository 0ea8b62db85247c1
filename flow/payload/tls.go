package payload

// TLS is what was read of a TLS handshake.
type TLS struct {
	// ServerName is the name the client asked for (SNI); "" if none.
	ServerName string
	// ClientHello and ServerHello: the handshake messages were seen.
	ClientHello, ServerHello bool
}

// tlsReader reads the first handshake record each way: enough to say the
// connection is TLS and which server name it is for. The rest is
// encrypted.
type tlsReader struct {
	t    *TLS
	rec  [2][]byte // the first record, gathered
	done [2]bool
}

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
	if !r.done[s] {
		r.rec[s] = append(r.rec[s], c.data...)
		b := r.rec[s]
		if len(b) >= 5 {
			n := 5 + (int(b[3])<<8 | int(b[4]))
			switch {
			case b[0] != 0x16 || len(b) > 5 && b[5] != 1 && b[5] != 2:
				r.done[s] = true
			case len(b) >= n || len(b) >= maxHello:
				r.hello(b[5:min(n, len(b))])
				r.done[s] = true
			}
		}
		if r.done[s] {
			r.rec[s] = nil
		}
	}
	return !r.done[Client] || !r.done[Server]
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
