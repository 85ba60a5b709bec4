package cli

import "testing"

func TestParseUpdate(t *testing.T) {
	all := func(string) bool { return true }
	req, err := parseUpdate(all, "0.5", "64m", "max")
	if err != nil {
		t.Fatal(err)
	}
	if *req.CPUs != 0.5 || *req.MemoryBytes != 64<<20 || *req.PidsLimit != 0 {
		t.Errorf("req %v %v %v", *req.CPUs, *req.MemoryBytes, *req.PidsLimit)
	}
	req, err = parseUpdate(func(f string) bool { return f == "memory" }, "", "-1", "")
	if err != nil || req.CPUs != nil || req.PidsLimit != nil || *req.MemoryBytes != 0 {
		t.Errorf("only --memory -1: %+v, %v", req, err)
	}
	for _, bad := range [][3]string{{"x", "1m", "1"}, {"-2", "1m", "1"}, {"1", "lots", "1"}, {"1", "1m", "-5"}} {
		if _, err := parseUpdate(all, bad[0], bad[1], bad[2]); err == nil {
			t.Errorf("%q: no error", bad)
		}
	}
	if _, err := parseUpdate(func(string) bool { return false }, "", "", ""); err == nil {
		t.Error("no flags: no error")
	}
}
