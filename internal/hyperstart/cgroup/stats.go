package cgroup

import (
	"bufio"
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/hyperhq/hyper/internal/protocol"
)

// maxStatFile bounds what is read of one cgroup interface file.
const maxStatFile = 64 << 10

// Stats reads the group's cpu, memory, pids and io figures. A file the
// kernel does not provide (a controller not enabled) leaves its figures 0.
func (g Group) Stats() (protocol.ContainerStats, error) {
	var st protocol.ContainerStats
	if !exists(g.Path) {
		return st, os.ErrNotExist
	}
	cpu := g.flat("cpu.stat")
	st.CPU = protocol.CPUStats{UsageUsec: cpu["usage_usec"], UserUsec: cpu["user_usec"], SystemUsec: cpu["system_usec"],
		Periods: cpu["nr_periods"], Throttled: cpu["nr_throttled"], ThrottledUsec: cpu["throttled_usec"]}
	ms := g.flat("memory.stat")
	ev := g.flat("memory.events")
	st.Memory = protocol.MemoryStats{UsageBytes: g.single("memory.current"), LimitBytes: g.single("memory.max"),
		AnonBytes: ms["anon"], FileBytes: ms["file"], KernelBytes: ms["kernel"], ShmemBytes: ms["shmem"],
		InactiveFile: ms["inactive_file"], PgFault: ms["pgfault"], PgMajFault: ms["pgmajfault"],
		OOM: ev["oom"], OOMKill: ev["oom_kill"]}
	st.Pids = protocol.PidsStats{Current: g.single("pids.current"), Limit: g.single("pids.max")}
	st.IO = parseIOStat(g.read("io.stat"))
	return st, nil
}

// OOMKills is memory.events' oom_kill: how many of the group's processes
// any OOM killer (the group's limit or the VM's memory running out) killed.
func (g Group) OOMKills() (uint64, error) {
	b, err := os.ReadFile(filepath.Join(g.Path, "memory.events"))
	if err != nil {
		return 0, err
	}
	return ParseFlat(b)["oom_kill"], nil
}

func (g Group) read(name string) []byte {
	f, err := os.Open(filepath.Join(g.Path, name))
	if err != nil {
		return nil
	}
	defer f.Close()
	b := make([]byte, maxStatFile)
	n, _ := f.Read(b)
	return b[:n]
}

func (g Group) flat(name string) map[string]uint64 { return ParseFlat(g.read(name)) }

func (g Group) single(name string) uint64 {
	v, _ := ParseSingle(g.read(name))
	return v
}

// ParseSingle parses a one-value file ("123\n"); "max" is 0.
func ParseSingle(b []byte) (uint64, error) {
	s := strings.TrimSpace(string(b))
	if s == "max" {
		return 0, nil
	}
	v, err := strconv.ParseUint(s, 10, 64)
	if err != nil {
		return 0, errors.New("not a number")
	}
	return v, nil
}

// ParseFlat parses a flat keyed file ("key value" lines); lines that are
// not that are skipped.
func ParseFlat(b []byte) map[string]uint64 {
	m := make(map[string]uint64)
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), " ")
		if !ok {
			continue
		}
		if n, err := strconv.ParseUint(strings.TrimSpace(v), 10, 64); err == nil {
			m[k] = n
		}
	}
	return m
}

// parseIOStat sums io.stat's nested keyed lines ("8:0 rbytes=1 wbytes=2
// rios=3 wios=4 ...") over the devices.
func parseIOStat(b []byte) protocol.IOStats {
	var st protocol.IOStats
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		fs := strings.Fields(sc.Text())
		for _, f := range fs[min(1, len(fs)):] {
			k, v, ok := strings.Cut(f, "=")
			if !ok {
				continue
			}
			n, err := strconv.ParseUint(v, 10, 64)
			if err != nil {
				continue
			}
			switch k {
			case "rbytes":
				st.ReadBytes += n
			case "wbytes":
				st.WriteBytes += n
			case "rios":
				st.ReadIOs += n
			case "wios":
				st.WriteIOs += n
			}
		}
	}
	return st
}
