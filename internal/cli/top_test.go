package cli

import (
	"strings"
	"testing"
	"time"
)

func TestPsColumns(t *testing.T) {
	for opts, want := range map[string]string{
		"":                "UID PID PPID C STIME TTY TIME CMD",
		"-ef":             "UID PID PPID C STIME TTY TIME CMD",
		"aux":             "USER PID %CPU %MEM VSZ RSS TTY STAT START TIME COMMAND",
		"-o pid,comm":     "PID COMMAND",
		"-eo pid=P,s,cmd": "P STAT CMD",
	} {
		cols, err := psColumns(strings.Fields(opts))
		if err != nil {
			t.Errorf("%q: %v", opts, err)
			continue
		}
		var got []string
		for _, c := range cols {
			got = append(got, c.title)
		}
		if strings.Join(got, " ") != want {
			t.Errorf("%q: %v, want %s", opts, got, want)
		}
	}
	for _, bad := range []string{"-o wchan", "-L", "-o", "x y z"} {
		if _, err := psColumns(strings.Fields(bad)); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
	if got := psTime(26*time.Hour + 61*time.Second); got != "1-02:01:01" {
		t.Errorf("psTime: %s", got)
	}
	if got := psComm("/bin/sleep 10"); got != "sleep" {
		t.Errorf("psComm: %s", got)
	}
}
