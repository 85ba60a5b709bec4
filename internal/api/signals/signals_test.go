package signals

import "testing"

func TestParse(t *testing.T) {
	for in, want := range map[string]int{
		"KILL": 9, "SIGKILL": 9, "kill": 9, "sigterm": 15, "9": 9, "INT": 2, " HUP ": 1,
		"USR1": 10, "SIGUSR2": 12, "WINCH": 28, "64": 64, "RTMIN": 34, "SIGRTMIN+2": 36, "RTMAX-1": 63,
	} {
		got, err := Parse(in)
		if err != nil || got != want {
			t.Errorf("Parse(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, in := range []string{"", "0", "65", "-1", "SIGFOO", "RTMIN+40", "RTMAX+1", "9x"} {
		if n, err := Parse(in); err == nil {
			t.Errorf("Parse(%q) = %d, want an error", in, n)
		}
	}
}

func TestName(t *testing.T) {
	for n, want := range map[int]string{9: "SIGKILL", 6: "SIGABRT", 17: "SIGCHLD", 29: "SIGIO", 40: "40"} {
		if got := Name(n); got != want {
			t.Errorf("Name(%d) = %q, want %q", n, got, want)
		}
	}
}
