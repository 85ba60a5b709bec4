package cgroup

import (
	"testing"
)

func TestParsers(t *testing.T) {
	m := ParseFlat([]byte("usage_usec 120\nuser_usec 20\nbad line\nx notanumber\n"))
	if m["usage_usec"] != 120 || m["user_usec"] != 20 || len(m) != 2 {
		t.Errorf("ParseFlat: %v", m)
	}
	if v, err := ParseSingle([]byte("max\n")); v != 0 || err != nil {
		t.Errorf("max: %d %v", v, err)
	}
	if v, err := ParseSingle([]byte("4096\n")); v != 4096 || err != nil {
		t.Errorf("4096: %d %v", v, err)
	}
	io := parseIOStat([]byte("254:0 rbytes=10 wbytes=20 rios=1 wios=2 dbytes=0 dios=0\n8:0 rbytes=5 wbytes=x\n"))
	if io.ReadBytes != 15 || io.WriteBytes != 20 || io.ReadIOs != 1 || io.WriteIOs != 2 {
		t.Errorf("io.stat: %+v", io)
	}
}

func FuzzParsers(f *testing.F) {
	f.Add([]byte("254:0 rbytes=10 wbytes=20 rios=1 wios=2\n"))
	f.Add([]byte("oom 1\noom_kill 2\n"))
	f.Add([]byte("=\n \n=="))
	f.Fuzz(func(t *testing.T, b []byte) {
		ParseFlat(b)
		ParseSingle(b)
		parseIOStat(b)
	})
}
