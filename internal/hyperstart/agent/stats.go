package agent

import (
	"log/slog"
)

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
