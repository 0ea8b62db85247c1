package analyze

import (
	"slices"
	"testing"
	"time"

	"github.com/flowdoc/flowdoc/flow"
)

// TestDeferredAccept: a SYN-ACK sent again after the client's ACK is a
// full accept queue's, unless it is a deferred accept's
// (TCP_DEFER_ACCEPT): the client sent nothing, the SYN-ACK came again
// past its first retransmission timeout, and the server served a
// connection opened after this one meanwhile.
func TestDeferredAccept(t *testing.T) {
	silent := func(again float64) conv {
		return conv{cport: 41000, server: "10.0.0.2:8003", segs: join(open(0), []seg{
			{again, false, "SA", 0, -1}, {again + 0.0002, true, "A", 0, -1}})}
	}
	served := conv{cport: 41002, server: "10.0.0.2:8003", segs: join(open(1), exchange(1.01, 40, 200))}
	for _, tc := range []struct {
		name     string
		convs    []conv
		overflow bool
	}{
		{"sent again at the end of a 3 s deferral, another connection served meanwhile", []conv{silent(3.03), served}, false},
		{"sent again at 1 s, the first retransmission timeout", []conv{silent(1.0), served}, true},
		{"sent again at 3 s, no other connection served", []conv{silent(3.03)}, true},
	} {
		rep := analyzeLab(t, craft(t, tc.convs...), craftT0.Add(5*time.Second), Options{})
		f := &rep.Flows[0]
		got := slices.ContainsFunc(f.Verdicts, func(v Verdict) bool { return v.Class == ListenOverflow })
		if got != tc.overflow {
			t.Errorf("%s: %s; want listen_overflow %v", tc.name, verdictsOf(rep)[0], tc.overflow)
		}
	}
}

// TestOtherProgramsCloses: a pool's connection the server closed after
// 3 s idle, in CLOSE_WAIT for less than that, is no leak on the strength
// of the quick closes of another program on the same host (a proxy's, to
// another server) while its own application has closed none: a pool that
// notices a close at its next use holds it that long. Past the idle time,
// it is.
func TestOtherProgramsCloses(t *testing.T) {
	var convs []conv
	for k := range 4 {
		at := 0.1 * float64(k)
		convs = append(convs, conv{cport: 42000 + uint16(k), server: "10.0.0.3:9000", segs: join(open(at), exchange(at+0.01, 40, 200),
			[]seg{{at + 0.02, false, "FA", 0, -1}, {at + 0.0203, true, "FA", 0, -1}, {at + 0.0205, false, "A", 0, -1}})})
	}
	pooled := conv{cport: 43000, server: "10.0.0.2:8001", segs: join(open(0.5), exchange(0.51, 40, 200),
		[]seg{{3.5112, false, "FA", 0, -1}, {3.5114, true, "A", 0, -1}})}
	convs = append(convs, pooled)
	for _, tc := range []struct {
		end  float64
		leak bool
	}{{4.8, false}, {7.5, true}} {
		rep := analyzeLab(t, craft(t, convs...), craftT0.Add(time.Duration(tc.end*float64(time.Second))), Options{})
		i := slices.IndexFunc(rep.Flows, func(f Flow) bool { return f.Key.Client().Port() == 43000 })
		f := &rep.Flows[i]
		if got := hasVerdict(f, CloseWaitLeak, flow.Client); got != tc.leak {
			t.Errorf("capture ending %.1f s in: %s; want close_wait_leak %v", tc.end, verdictsOf(rep)[i], tc.leak)
		}
	}
}
