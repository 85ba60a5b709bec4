package agent

import (
	"bufio"
	"bytes"
	"context"
	"log/slog"
	"os"
	"runtime"
	"sort"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/hyperhq/hyper/internal/hyperstart/cgroup"
	"github.com/hyperhq/hyper/internal/hyperstart/errs"
	"github.com/hyperhq/hyper/internal/protocol"
)

// Stats reads the cgroup figures of the containers asked for (all when
// none), the VM's network counters and its memory.
func (a *Agent) Stats(_ context.Context, req protocol.StatsRequest) (protocol.StatsResult, error) {
	if len(req.Containers) > protocol.MaxStatsContainers {
		return protocol.StatsResult{}, errs.Invalid("stats of %d containers: at most %d", len(req.Containers), protocol.MaxStatsContainers)
	}
	type named struct {
		id string
		cg cgroup.Group
	}
	var groups []named
	a.mu.Lock()
	if len(req.Containers) == 0 {
		for id, c := range a.containers {
			if c.state != stateCreating && c.cg.Path != "" {
				groups = append(groups, named{id, c.cg})
			}
		}
	}
	for _, id := range req.Containers {
		c, err := a.lookup(id)
		if err != nil {
			a.mu.Unlock()
			return protocol.StatsResult{}, err
		}
		groups = append(groups, named{id, c.cg})
	}
	a.mu.Unlock()
	sort.Slice(groups, func(i, j int) bool { return groups[i].id < groups[j].id })

	var res protocol.StatsResult
	for _, g := range groups {
		st, err := g.cg.Stats()
		if err != nil { // removed meanwhile
			slog.Debug("stats", "container", g.id, "err", err)
			continue
		}
		st.Container = g.id
		res.Containers = append(res.Containers, st)
	}
	if b, err := os.ReadFile("/proc/net/dev"); err == nil {
		res.Network = parseNetDev(b)
	}
	if b, err := os.ReadFile("/proc/meminfo"); err == nil {
		res.MemTotalBytes, res.MemAvailableBytes = parseMeminfo(b)
	}
	res.CPUs = runtime.NumCPU()
	var ts unix.Timespec
	if unix.ClockGettime(unix.CLOCK_MONOTONIC, &ts) == nil {
		res.ReadNanos = ts.Nano()
	}
	return res, nil
}

// parseNetDev reads /proc/net/dev's interfaces but lo, at most
// MaxStatsInterfaces.
func parseNetDev(b []byte) []protocol.InterfaceStats {
	var out []protocol.InterfaceStats
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() && len(out) < protocol.MaxStatsInterfaces {
		name, rest, ok := strings.Cut(sc.Text(), ":")
		name = strings.TrimSpace(name)
		if !ok || name == "lo" || name == "" || len(name) > protocol.MaxStatsName {
			continue
		}
		f := strings.Fields(rest)
		if len(f) < 16 {
			continue
		}
		n := func(i int) uint64 { v, _ := strconv.ParseUint(f[i], 10, 64); return v }
		out = append(out, protocol.InterfaceStats{Name: name,
			RxBytes: n(0), RxPackets: n(1), RxErrors: n(2), RxDropped: n(3),
			TxBytes: n(8), TxPackets: n(9), TxErrors: n(10), TxDropped: n(11)})
	}
	return out
}

// parseMeminfo returns MemTotal and MemAvailable in bytes.
func parseMeminfo(b []byte) (total, avail uint64) {
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), ":")
		if !ok {
			continue
		}
		kb, err := strconv.ParseUint(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
		if err != nil {
			continue
		}
		switch k {
		case "MemTotal":
			total = kb << 10
		case "MemAvailable":
			avail = kb << 10
		}
	}
	return total, avail
}

// oomKilledSince tells whether an OOM killer killed a process of c since
// its cgroup's oom_kill count was base.
func oomKilledSince(c *container, base uint64) bool {
	n, err := c.cg.OOMKills()
	if err != nil {
		slog.Debug("reading oom_kill", "container", c.id, "err", err)
		return false
	}
	return n > base
}
