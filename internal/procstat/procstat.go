// Package procstat reads what a host process costs from /proc: its CPU
// time (/proc/PID/stat) and memory (/proc/PID/smaps_rollup). hyperd uses
// it for its VMs' QEMUs (stats, metrics). Reads are bounded and parsing
// never trusts the files' shape (a command name may hold anything).
package procstat

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"time"
)

// Usage is a process's CPU time and memory.
type Usage struct {
	CPU      time.Duration // user + system
	RSS, PSS int64         // bytes; 0 when smaps_rollup could not be read
}

// clockTick is USER_HZ: /proc/PID/stat's unit of CPU time (100 on
// every Linux architecture hyperd runs on).
const clockTick = 100

// maxProcFile bounds what is read of a /proc file.
const maxProcFile = 64 << 10

// Read reads process pid's usage under proc ("/proc", or a test's
// directory). An error: the process is gone, or its stat unreadable.
func Read(proc string, pid int) (Usage, error) {
	dir := filepath.Join(proc, strconv.Itoa(pid))
	stat, err := readBounded(filepath.Join(dir, "stat"))
	if err != nil {
		return Usage{}, err
	}
	ticks, err := ParseStatCPU(stat)
	if err != nil {
		return Usage{}, fmt.Errorf("%s/stat: %w", dir, err)
	}
	u := Usage{CPU: time.Duration(ticks) * time.Second / clockTick}
	if rollup, err := readBounded(filepath.Join(dir, "smaps_rollup")); err == nil {
		u.RSS, u.PSS = ParseRollup(rollup)
	}
	return u, nil
}

func readBounded(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return io.ReadAll(io.LimitReader(f, maxProcFile))
}

// ParseStatCPU returns utime+stime (clock ticks) of a /proc/PID/stat
// line: fields 14 and 15, counted after the command's closing paren
// (the command may hold spaces and parens).
func ParseStatCPU(b []byte) (uint64, error) {
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0, fmt.Errorf("no command field")
	}
	f := bytes.Fields(b[i+1:])
	// f[0] is field 3 (state): utime is field 14, stime 15.
	if len(f) < 13 {
		return 0, fmt.Errorf("%d fields after the command, want at least 13", len(f))
	}
	ut, err := strconv.ParseUint(string(f[11]), 10, 64)
	if err != nil {
		return 0, fmt.Errorf("utime: %w", err)
	}
	st, err := strconv.ParseUint(string(f[12]), 10, 64)
	if err != nil {
		return 0, fmt.Errorf("stime: %w", err)
	}
	return ut + st, nil
}

// ParseRollup returns the Rss and Pss lines (kB) of smaps_rollup, in
// bytes; what it does not find is 0.
func ParseRollup(b []byte) (rss, pss int64) {
	for line := range bytes.Lines(b) {
		f := bytes.Fields(line)
		if len(f) < 2 {
			continue
		}
		kb, err := strconv.ParseInt(string(f[1]), 10, 64)
		if err != nil || kb < 0 || kb > 1<<40 {
			continue
		}
		switch string(f[0]) {
		case "Rss:":
			rss = kb << 10
		case "Pss:":
			pss = kb << 10
		}
	}
	return rss, pss
}
