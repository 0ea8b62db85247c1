package payload

import "testing"

// tlsRec is a TLS record of content type typ carrying body.
func tlsRec(typ byte, body ...byte) []byte {
	return append([]byte{typ, 3, 3, byte(len(body) >> 8), byte(len(body))}, body...)
}

// handshake is a handshake record holding one message of type hs and n
// bytes of body.
func handshake(hs byte, n int) []byte {
	return tlsRec(0x16, append([]byte{hs, 0, byte(n >> 8), byte(n)}, make([]byte, n)...)...)
}

// TestTLSAlerts: an alert in the clear is read where a side sends it:
// in place of the server's hello (a server refusing the client's
// version), or after the server's first flight (a client rejecting its
// certificate), whatever the segments' boundaries; and none is made up
// from the encrypted records that follow a change of cipher spec.
func TestTLSAlerts(t *testing.T) {
	cat := func(bs ...[]byte) (out []byte) {
		for _, b := range bs {
			out = append(out, b...)
		}
		return out
	}
	hello := handshake(1, 200)
	for _, tc := range []struct {
		name           string
		client, server []byte
		want           [2]Alert
	}{
		{"server refuses", hello, tlsRec(0x15, 2, 70), [2]Alert{Server: {Sent: true, Fatal: true, Description: 70}}},
		{"client rejects the certificate",
			cat(hello, tlsRec(0x15, 2, 48)),
			cat(handshake(2, 80), handshake(11, 3000), handshake(12, 300), handshake(14, 0)),
			[2]Alert{Client: {Sent: true, Fatal: true, Description: 48}}},
		{"a warning", cat(hello, tlsRec(0x15, 1, 112)), handshake(2, 80), [2]Alert{Client: {Sent: true, Description: 112}}},
		{"encrypted after the change of cipher spec",
			cat(hello, tlsRec(0x14, 1), tlsRec(0x17, 0x15, 0, 2, 2, 48)),
			cat(handshake(2, 80), tlsRec(0x14, 1), tlsRec(0x15, 2, 40)),
			[2]Alert{}},
	} {
		for piece := 1; piece <= 9; piece++ {
			tl := &TLS{}
			r := &tlsReader{t: tl}
			for s, b := range [2][]byte{tc.client, tc.server} {
				for len(b) > 0 {
					n := min(piece, len(b))
					r.data(Side(s), &chunk{data: append([]byte(nil), b[:n]...)})
					b = b[n:]
				}
			}
			if tl.Alert != tc.want {
				t.Errorf("%s, in pieces of %d: alerts %+v, want %+v", tc.name, piece, tl.Alert, tc.want)
			}
		}
	}
	if n := (Alert{Description: 70}).Name(); n != "protocol_version" {
		t.Errorf("alert 70 is %q", n)
	}
	if n := (Alert{Description: 200}).Name(); n != "alert 200" {
		t.Errorf("alert 200 is %q", n)
	}
}
