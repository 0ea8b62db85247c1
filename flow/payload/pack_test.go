package payload

import (
	"fmt"
	"math"
	"math/rand/v2"
	"reflect"
	"testing"
	"time"
)

// fill sets every exported field under v to a value drawn from rnd: a
// field pack forgets then comes back zero, and the test fails, whatever
// field is added to the payload later.
func fill(v reflect.Value, rnd *rand.Rand) {
	if v.Type() == reflect.TypeFor[Side]() {
		v.SetUint(uint64(rnd.IntN(2)))
		return
	}
	switch v.Kind() {
	case reflect.Pointer:
		v.Set(reflect.New(v.Type().Elem()))
		fill(v.Elem(), rnd)
	case reflect.Struct:
		for i := range v.NumField() {
			if v.Type().Field(i).IsExported() {
				fill(v.Field(i), rnd)
			}
		}
	case reflect.Slice:
		n := 1 + rnd.IntN(4)
		v.Set(reflect.MakeSlice(v.Type(), n, n))
		for i := range n {
			fill(v.Index(i), rnd)
		}
	case reflect.Array:
		for i := range v.Len() {
			fill(v.Index(i), rnd)
		}
	case reflect.String:
		switch rnd.IntN(3) {
		case 0:
			v.SetString(wellKnown[rnd.IntN(len(wellKnown))])
		case 1:
			v.SetString("")
		default:
			b := make([]byte, rnd.IntN(300))
			for i := range b {
				b[i] = byte(rnd.UintN(256))
			}
			v.SetString(string(b))
		}
	case reflect.Bool:
		v.SetBool(rnd.IntN(2) == 1)
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		// Zero, small, negative (ContentLength -1), capture times, extremes.
		vals := []int64{0, 1, -1, int64(rnd.IntN(1 << 20)), 1_767_323_045_123_456_789 + rnd.Int64N(int64(time.Hour)), math.MaxInt64 >> 1}
		x := vals[rnd.IntN(len(vals))]
		if v.OverflowInt(x) {
			x = int64(rnd.IntN(100))
		}
		v.SetInt(x)
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		x := rnd.Uint64()
		if rnd.IntN(3) == 0 {
			x = 0
		}
		for v.OverflowUint(x) {
			x >>= 8
		}
		v.SetUint(x)
	}
}

// TestPackRoundTrip: every payload comes back from pack as it went in.
func TestPackRoundTrip(t *testing.T) {
	rnd := rand.New(rand.NewPCG(1, 2))
	var scratch []byte
	var buf Buffer
	for i := range 2000 {
		var p Summary
		fill(reflect.ValueOf(&p).Elem(), rnd)
		if i%5 == 0 {
			p.HTTP = nil
		}
		if i%7 == 0 {
			p.TLS = nil
		}
		if i%11 == 0 && p.HTTP != nil {
			p.HTTP.Exchanges = nil
		}
		if i%3 == 0 {
			// A resting stream's result: its rest state and where each
			// response ends go in too.
			p.rest = &restState{next: [2]uint32{rnd.Uint32(), rnd.Uint32()}, nextOK: [2]bool{true, i%2 == 0},
				cut: [2]bool{i%4 == 0, false}, httpEnd: [2]bool{false, i%5 == 0}, done: i%6 == 0}
			if p.HTTP != nil {
				for j := range p.HTTP.Exchanges {
					p.HTTP.Exchanges[j].endSeq, p.HTTP.Exchanges[j].endOK = rnd.Uint32(), j%2 == 0
				}
			}
		}
		packed := pack(&p, &scratch)
		if packed == "" {
			t.Fatal("pack returned nothing")
		}
		got := packed.Read(&buf)
		if !reflect.DeepEqual(*got, p) {
			t.Fatalf("payload %d differs after packing:\n%s", i, diffFields(reflect.ValueOf(p), reflect.ValueOf(*got), "Summary"))
		}
		if rs, ok := packed.restOf(); ok != (p.rest != nil) || ok && rs != *p.rest {
			t.Fatalf("payload %d: rest state %+v, %v; packed %+v", i, rs, ok, p.rest)
		}
		if fresh := packed.Read(nil); !reflect.DeepEqual(fresh, got) || fresh == got {
			t.Fatalf("payload %d: Read(nil) differs from Read(&buf), or is not a copy", i)
		}
	}
}

// TestPackSize: an exchange packs into a fraction of its struct.
func TestPackSize(t *testing.T) {
	at := Timestamp(1_767_323_045_123_456_789)
	x := Exchange{Method: "GET", Target: "/bench/items?page=1", Version: "HTTP/1.1", Status: 200, Reason: "OK",
		RequestAt: at, ResponseAt: at + 54_000_000, ResponseEnd: at + 55_300_000, RequestPacket: 15405, ResponsePacket: 21159,
		ContentLength: 1742, BodyBytes: 1742, Complete: true, Acked: true}
	p := Summary{Protocol: "http", HTTP: &HTTP{Requests: 2, Responses: 2, Exchanges: []Exchange{x, x}}}
	p.HTTP.Exchanges[1].RequestAt += 100_000_000
	var scratch []byte
	s := pack(&p, &scratch)
	if len(s) > 120 {
		t.Errorf("two exchanges pack into %d bytes, want at most 120", len(s))
	}
	t.Logf("two exchanges: %d bytes packed, %d as structs", len(s), 2*reflect.TypeFor[Exchange]().Size()+reflect.TypeFor[HTTP]().Size()+reflect.TypeFor[Summary]().Size())
}

// TestUnpackShort: a packed string cut anywhere decodes without a panic.
func TestUnpackShort(t *testing.T) {
	rnd := rand.New(rand.NewPCG(3, 4))
	var scratch []byte
	var buf Buffer
	for range 200 {
		var p Summary
		fill(reflect.ValueOf(&p).Elem(), rnd)
		s := pack(&p, &scratch)
		for n := range len(s) {
			unpack(s[:n], &buf)
		}
	}
}

// diffFields names the fields where a and b differ.
func diffFields(a, b reflect.Value, path string) string {
	switch a.Kind() {
	case reflect.Pointer:
		if a.IsNil() || b.IsNil() {
			if a.IsNil() != b.IsNil() {
				return path + ": nil vs not\n"
			}
			return ""
		}
		return diffFields(a.Elem(), b.Elem(), path)
	case reflect.Struct:
		out := ""
		for i := range a.NumField() {
			if a.Type().Field(i).IsExported() {
				out += diffFields(a.Field(i), b.Field(i), path+"."+a.Type().Field(i).Name)
			}
		}
		return out
	case reflect.Slice, reflect.Array:
		if a.Len() != b.Len() {
			return fmt.Sprintf("%s: %d elements vs %d\n", path, a.Len(), b.Len())
		}
		out := ""
		for i := range a.Len() {
			out += diffFields(a.Index(i), b.Index(i), fmt.Sprintf("%s[%d]", path, i))
		}
		return out
	}
	if !reflect.DeepEqual(a.Interface(), b.Interface()) {
		return fmt.Sprintf("%s: %.60q vs %.60q\n", path, fmt.Sprint(a.Interface()), fmt.Sprint(b.Interface()))
	}
	return ""
}
