// Package signals names Linux signals for the API and hyperctl: "KILL",
// "SIGKILL", "kill" and "9" are all SIGKILL. The numbers are Linux's (the
// guest's), whatever the client runs on.
package signals

import (
	"fmt"
	"sort"
	"strconv"
	"strings"
)

// byName maps names without the SIG prefix to Linux x86-64/arm64 numbers.
var byName = map[string]int{
	"HUP": 1, "INT": 2, "QUIT": 3, "ILL": 4, "TRAP": 5, "ABRT": 6, "IOT": 6,
	"BUS": 7, "FPE": 8, "KILL": 9, "USR1": 10, "SEGV": 11, "USR2": 12,
	"PIPE": 13, "ALRM": 14, "TERM": 15, "STKFLT": 16, "CHLD": 17, "CLD": 17,
	"CONT": 18, "STOP": 19, "TSTP": 20, "TTIN": 21, "TTOU": 22, "URG": 23,
	"XCPU": 24, "XFSZ": 25, "VTALRM": 26, "PROF": 27, "WINCH": 28, "IO": 29,
	"POLL": 29, "PWR": 30, "SYS": 31,
}

// Min and Max bound signal numbers (Linux has real-time signals up to 64).
const (
	Min = 1
	Max = 64
)

// Parse turns a signal name or number into its Linux number.
func Parse(s string) (int, error) {
	t := strings.TrimSpace(s)
	if t == "" {
		return 0, fmt.Errorf("empty signal")
	}
	if n, err := strconv.Atoi(t); err == nil {
		if n < Min || n > Max {
			return 0, fmt.Errorf("invalid signal number %d (want %d-%d)", n, Min, Max)
		}
		return n, nil
	}
	u := strings.TrimPrefix(strings.ToUpper(t), "SIG")
	if n, ok := byName[u]; ok {
		return n, nil
	}
	// SIGRTMIN+n / SIGRTMAX-n as in kill(1).
	if rest, ok := strings.CutPrefix(u, "RTMIN"); ok {
		if off, ok := rtOffset(rest, '+'); ok && 34+off <= Max {
			return 34 + off, nil
		}
	}
	if rest, ok := strings.CutPrefix(u, "RTMAX"); ok {
		if off, ok := rtOffset(rest, '-'); ok && 64-off >= 34 {
			return 64 - off, nil
		}
	}
	return 0, fmt.Errorf("invalid signal %q", s)
}

func rtOffset(rest string, sign byte) (int, bool) {
	if rest == "" {
		return 0, true
	}
	if rest[0] != sign {
		return 0, false
	}
	n, err := strconv.Atoi(rest[1:])
	if err != nil || n < 0 {
		return 0, false
	}
	return n, true
}

// Name is a signal number's name ("SIGTERM"), or its number as a string.
func Name(n int) string {
	best := ""
	for k, v := range byName {
		// Prefer the canonical name where there are aliases.
		if v == n && (best == "" || k == "ABRT" || k == "CHLD" || k == "IO") {
			best = k
		}
	}
	if best == "" {
		return strconv.Itoa(n)
	}
	return "SIG" + best
}

// Names lists the known names, sorted, without the SIG prefix.
func Names() []string {
	out := make([]string, 0, len(byName))
	for k := range byName {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
