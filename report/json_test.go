package report

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/netip"
	"path/filepath"
	"reflect"
	"strconv"
	"testing"
	"time"
	"unsafe"

	"github.com/flowdoc/flowdoc/analyze"
)

// TestFlowEncoderMatchesEncodingJSON holds the flow encoder to
// encoding/json's encoding of analyze.FlowView, the schema type: on every
// flow of every capture, with and without events; on a view with every
// field set, found by reflection (strings that need escaping, a zero in
// every Opt); and on that view with each field in turn left zero, so that
// a field added to the schema and not to the encoder, or an omitempty
// the encoder does not honour, fails here.
func TestFlowEncoderMatchesEncodingJSON(t *testing.T) {
	var fe flowEncoder
	check := func(name string, v *analyze.FlowView) {
		t.Helper()
		want, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		if got := fe.appendFlow(nil, v); !bytes.Equal(got, want) {
			t.Errorf("%s:\n got %s\nwant %s", name, got, want)
		}
	}
	captures, _ := filepath.Glob("../testdata/*.pcap*")
	for _, c := range captures {
		rep := labReport(t, c)
		for i := range rep.Flows {
			for _, events := range []bool{false, true} {
				var v analyze.FlowView
				rep.ViewFlow(i, &v, events)
				check(fmt.Sprintf("%s flow %d events %v", filepath.Base(c), i+1, events), &v)
			}
		}
	}
	var full analyze.FlowView
	leaves := fill(reflect.ValueOf(&full).Elem(), -1, new(int))
	check("every field set", &full)
	for skip := range leaves {
		var v analyze.FlowView
		fill(reflect.ValueOf(&v).Elem(), skip, new(int))
		check(fmt.Sprintf("field %d of %d zero", skip, leaves), &v)
	}
}

// fill sets every field of v, recursively: strings to text that needs
// escaping, numbers to distinct values, booleans (unexported ones too:
// they say whether a part is present) to true, slices to two elements.
// The leaf numbered skip, in the order fill meets them, stays zero. It
// returns the number of leaves.
func fill(v reflect.Value, skip int, n *int) int {
	leaf := func() bool {
		*n++
		return *n-1 != skip
	}
	switch {
	case v.Type() == reflect.TypeFor[netip.Addr]():
		if leaf() {
			v.Set(reflect.ValueOf(netip.MustParseAddr("2001:db8::1")))
		}
		return *n
	case v.Kind() == reflect.Struct:
		for i := range v.NumField() {
			f, sf := v.Field(i), v.Type().Field(i)
			switch {
			case sf.IsExported():
				fill(f, skip, n)
			case f.Kind() == reflect.Bool && leaf():
				reflect.NewAt(f.Type(), unsafe.Pointer(f.UnsafeAddr())).Elem().SetBool(true)
			}
		}
		return *n
	case v.Kind() == reflect.Slice:
		if leaf() {
			v.Set(reflect.MakeSlice(v.Type(), 2, 2))
			for i := range 2 {
				fill(v.Index(i), skip, n)
			}
		}
		return *n
	}
	if !leaf() {
		return *n
	}
	k := *n
	switch v.Kind() {
	case reflect.String:
		v.SetString(fmt.Sprintf("s%d \"<&>\u2028\x01\xff\\", k))
	case reflect.Bool:
		v.SetBool(true)
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		if v.Type() == reflect.TypeFor[analyze.Time]() {
			v.SetInt(time.Date(2026, 1, 2, 3, 4, 5, k*1000, time.UTC).UnixNano())
		} else {
			v.SetInt(int64(k % 100))
		}
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		v.SetUint(uint64(k))
	case reflect.Float32, reflect.Float64:
		v.SetFloat(float64(k) / 7)
	default:
		panic("fill: a " + v.Kind().String() + " in the schema")
	}
	return *n
}

func TestAppendFloat(t *testing.T) {
	for _, f := range []float64{0, 1, 0.5, 35.2, 1e-7, 123456789.125, 1e21, 3.0000000001} {
		want, _ := json.Marshal(f)
		if got := appendFloat(nil, f); !bytes.Equal(got, want) {
			t.Errorf("%v: got %s want %s", f, got, want)
		}
	}
}

// TestWriteFlowsParallel renders enough flows for several workers and
// compares with one encoder doing them all in order.
func TestWriteFlowsParallel(t *testing.T) {
	base := labReport(t, "../testdata/timewait-storm.pcap")
	rep := *base
	rep.Flows = nil
	for len(rep.Flows) < 5*flowChunk+17 {
		rep.Flows = append(rep.Flows, base.Flows...)
	}
	flows := rep.Flows
	for _, events := range []bool{false, true} {
		var got bytes.Buffer
		(&JSON{Events: events}).writeFlows(&got, &rep)
		var fe flowEncoder
		want := fe.appendFlows(nil, &rep, 0, len(flows), events)
		if !bytes.Equal(got.Bytes(), want) {
			t.Fatalf("events %v: parallel output differs (%d bytes, want %d)", events, got.Len(), len(want))
		}
		var parsed []json.RawMessage
		if err := json.Unmarshal(append(append([]byte("["), want...), ']'), &parsed); err != nil || len(parsed) != len(flows) {
			t.Fatalf("events %v: %d flows parsed, %v", events, len(parsed), err)
		}
	}
}

// TestAppendTS holds the timestamp encoder to time's RFC 3339 formatting
// across days, midnight, before 1970 and one encoder reused in between.
func TestAppendTS(t *testing.T) {
	var e flowEncoder
	for _, at := range []time.Time{
		time.Date(2026, 1, 2, 3, 4, 5, 123456789, time.UTC),
		time.Date(2026, 1, 2, 23, 59, 59, 999999999, time.UTC),
		time.Date(2026, 1, 3, 0, 0, 0, 1000, time.UTC),
		time.Date(2026, 1, 2, 12, 0, 0, 0, time.UTC),
		time.Date(1969, 12, 31, 23, 59, 58, 500000000, time.UTC),
		time.Date(1960, 6, 1, 10, 20, 30, 0, time.UTC),
		time.Date(2100, 2, 28, 7, 8, 9, 10, time.UTC),
	} {
		want, _ := json.Marshal(analyze.TimeOf(at))
		if got := e.appendTS(nil, analyze.TimeOf(at)); !bytes.Equal(got, want) {
			t.Errorf("%v: got %s want %s", at, got, want)
		}
	}
}

// TestAppendUint holds the integer encoder to strconv across the lengths
// of decimal numbers, and for negative ones.
func TestAppendUint(t *testing.T) {
	for _, n := range []uint64{0, 1, 9, 10, 42, 99, 100, 101, 999, 1000, 1001, 65535, 999999999, 1000000000, 1<<63 - 1, 1 << 63, 1<<64 - 1} {
		if got, want := appendUint([]byte("x"), n), strconv.AppendUint([]byte("x"), n, 10); !bytes.Equal(got, want) {
			t.Errorf("%d: got %s want %s", n, got, want)
		}
	}
	for _, n := range []int64{-1 << 63, -12, -1, 0, 7, 1<<63 - 1} {
		if got, want := appendInt(nil, n), strconv.AppendInt(nil, n, 10); !bytes.Equal(got, want) {
			t.Errorf("%d: got %s want %s", n, got, want)
		}
	}
}
