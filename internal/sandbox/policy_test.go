package sandbox

import (
	"testing"
)

func TestShouldRestart(t *testing.T) {
	for _, c := range []struct {
		ctr, pod       string
		code, restarts int
		want           bool
	}{
		{"", "", 1, 0, false},
		{"never", "always", 1, 0, false},
		{"", "always", 0, 100, true},
		{"", "onFailure", 0, 0, false},
		{"", "onFailure", 1, 100, true},
		{"onFailure:2", "", 1, 1, true},
		{"onFailure:2", "", 1, 2, false},
		{"onFailure:0", "always", 1, 0, false},
		{"bogus", "always", 1, 0, false},
	} {
		if got := ShouldRestart(c.ctr, c.pod, c.code, c.restarts); got != c.want {
			t.Errorf("ShouldRestart(%q, %q, %d, %d) = %v", c.ctr, c.pod, c.code, c.restarts, got)
		}
	}
	for _, bad := range []string{"always:1", "onFailure:-1", "onFailure:x", "sometimes"} {
		if _, _, err := ParsePolicy(bad); err == nil {
			t.Errorf("ParsePolicy(%q) accepted", bad)
		}
	}
}
