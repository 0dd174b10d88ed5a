package svdir

import (
	"reflect"
	"testing"
)

func TestRoundTrip(t *testing.T) {
	cases := []Info{
		{State: StateDown},
		{State: StateUp, Pid: 42, Since: 1700000000123456789, Ready: true, ReadySince: 1700000000223456789, Started: 1700000000123456789, ExitCode: -1, ExitSignal: 9, Restarts: 3, Backoff: 1700000004000000000, StatusText: "serving 3 clients"},
		{State: StateFinish, ExitCode: 2, StatusText: "a=b"},
		{State: StateDown, ExitCode: -1, Supervisor: 77, Exited: 1700000000123456789, StartError: "run is not executable (chmod +x run)", StartErrorAt: 1700000001000000000, StartFailures: 15, StartFailedSince: 1699999990000000000},
		{State: StateDown, ExitCode: 1, Failed: true, FailedReason: "died 3 times in 10 seconds (exit 1)", FailedAt: 1700000002000000000, FailedBoot: "0b1c2d3e-aaaa-bbbb-cccc-000000000000"},
		{State: StateUp, Pid: 9, Ready: true, Protocol: true},
		{State: StateDown, ExitCode: 0, OnceOK: true},
		{State: StateDown, ExitCode: -1, WaitingFor: []string{"db", "cache x", "a=b"}},
	}
	for _, c := range cases {
		got, err := DecodeInfo(c.Encode())
		if err != nil || !reflect.DeepEqual(got, c) {
			t.Errorf("round trip %+v: %+v %v", c, got, err)
		}
	}
	in := Info{State: StateUp, StatusText: "two\nlines\x00"}
	got, _ := DecodeInfo(in.Encode())
	if got.StatusText != "two lines " {
		t.Errorf("status text %q", got.StatusText)
	}
	for _, bad := range []string{"", "state", "pid=1\n", "state=up\npid=x\n"} {
		if _, err := DecodeInfo([]byte(bad)); err == nil {
			t.Errorf("accepted %q", bad)
		}
	}
	if g, err := DecodeInfo([]byte("state=up\nfuture=1\n")); err != nil || g.State != StateUp {
		t.Errorf("unknown key: %+v %v", g, err)
	}
}

func FuzzDecodeInfo(f *testing.F) {
	f.Add((&Info{State: StateUp, Pid: 1, StatusText: "x"}).Encode())
	f.Add([]byte("state=down\n"))
	f.Add([]byte("garbage"))
	f.Add((&Info{State: StateDown, OnceOK: true, WaitingFor: []string{"db", "cache"}}).Encode())
	f.Fuzz(func(t *testing.T, b []byte) {
		in, err := DecodeInfo(b)
		if err != nil {
			return
		}
		// What decodes re-encodes and decodes to the same value, unless a
		// value held characters the encoder folds.
		again, err := DecodeInfo(in.Encode())
		if err != nil {
			t.Fatalf("re-decode: %v", err)
		}
		if again.Pid != in.Pid || again.Restarts != in.Restarts || again.Backoff != in.Backoff ||
			again.OnceOK != in.OnceOK || again.Protocol != in.Protocol || len(again.WaitingFor) != len(in.WaitingFor) {
			t.Fatalf("%+v != %+v", again, in)
		}
	})
}
