package e2e

import (
	"context"
	"encoding/json"
	"io"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/hyperhq/hyper/internal/api/types"
)

// TestOOMKilled: a process that eats more memory than its VM has is
// killed by the guest kernel's OOM killer: the pod exits 137, and
// inspect says OOMKilled, in Hyper's container list and docker's State.
// A pod that exits on its own is not OOMKilled.
func TestOOMKilled(t *testing.T) {
	h := newHyperd(t)
	h.loadBusybox()

	// The shell keeps the command substitution's output: it grows until
	// the VM's memory runs out, and it is the biggest process.
	_, errs, code := h.run("", "run", "--name", "oom", "-m", "128m", "busybox",
		"sh", "-c", `x=$(head -c 400m /dev/zero | tr "\0" a); echo survived`)
	if code != 137 {
		t.Errorf("run of a memory hog: exit %d, want 137: %s", code, errs)
	}
	if got := h.inspect("oom", "{{.ExitCode}} {{.State.OOMKilled}} {{(index .Containers 0).OOMKilled}}"); got != "137 true true" {
		t.Errorf("inspect oom: %q, want 137 true true", got)
	}
	h.ok("run", "--name", "fine", "-m", "128m", "busybox", "sh", "-c", "exit 0")
	if got := h.inspect("fine", "{{.ExitCode}} {{.State.OOMKilled}}"); got != "0 false" {
		t.Errorf("inspect fine: %q, want 0 false", got)
	}
	h.ok("rm", "oom", "fine")
}

// TestStats: `stats --no-stream` shows docker's columns and the VM's
// host cost; a busy container's CPU % is well above an idle one's; the
// API's reading has the guest's cgroup figures, network counters and the
// QEMU process's RSS; a stream sends a reading a second.
func TestStats(t *testing.T) {
	h := newHyperd(t)
	h.loadBusybox()
	h.ok("run", "-d", "--name", "busy", "busybox", "sh", "-c", "while :; do :; done")
	h.ok("run", "-d", "--name", "idle", "busybox", "sleep", "1000")

	out := h.ok("stats", "--no-stream")
	t.Logf("stats --no-stream:\n%s", out)
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 3 || !strings.HasPrefix(lines[0], "CONTAINER ID") || !strings.Contains(lines[0], "MEM USAGE / LIMIT") ||
		!strings.Contains(lines[0], "VM CPU %") {
		t.Fatalf("stats --no-stream: %q", out)
	}
	rows := map[string]map[string]any{}
	for _, l := range strings.Split(strings.TrimSpace(h.ok("stats", "--no-stream", "--format", "json", "busy", "idle")), "\n") {
		var r map[string]any
		if err := json.Unmarshal([]byte(l), &r); err != nil {
			t.Fatalf("stats --format json: %q: %v", l, err)
		}
		rows[r["Name"].(string)] = r
	}
	cpu := func(name, key string) float64 {
		s, _ := rows[name][key].(string)
		v, err := strconv.ParseFloat(strings.TrimSuffix(s, "%"), 64)
		if err != nil {
			t.Fatalf("%s of %s: %q", key, name, s)
		}
		return v
	}
	busy, idle := cpu("busy", "CPUPerc"), cpu("idle", "CPUPerc")
	t.Logf("CPU %%: busy %.2f idle %.2f; VM CPU %%: busy %.2f idle %.2f", busy, idle, cpu("busy", "VMCPUPerc"), cpu("idle", "VMCPUPerc"))
	if busy < 20 || idle > busy/4 {
		t.Errorf("CPU %%: busy %.2f, idle %.2f", busy, idle)
	}
	if cpu("busy", "VMCPUPerc") < cpu("idle", "VMCPUPerc") {
		t.Errorf("VM CPU %%: busy %v < idle %v", rows["busy"]["VMCPUPerc"], rows["idle"]["VMCPUPerc"])
	}

	st, err := h.client.Stats(h.ctx(), "idle")
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("idle: %+v", st)
	if len(st.Containers) != 1 || st.Containers[0].Memory.Usage == 0 || st.Containers[0].Pids.Current < 1 ||
		st.VM.HostRSSBytes < 16<<20 || st.VM.MemTotalBytes == 0 || st.VM.CPUs < 1 || len(st.Networks) == 0 {
		t.Errorf("stats of idle: %+v", st)
	}
	for _, n := range st.Networks {
		if n.Name == "lo" {
			t.Errorf("lo in the networks: %+v", st.Networks)
		}
	}
	n := 0
	start := time.Now()
	ctx, cancel := context.WithTimeout(h.ctx(), 20*time.Second)
	defer cancel()
	err = h.client.StreamStats(ctx, "idle", func(types.PodStats) error {
		if n++; n == 3 {
			return io.EOF
		}
		return nil
	})
	if err != io.EOF || time.Since(start) < 1500*time.Millisecond {
		t.Errorf("stream of 3 readings: %v after %v", err, time.Since(start))
	}
	if _, errs, code := h.run("", "stats", "--no-stream", "nosuch"); code == 0 || !strings.Contains(errs, "nosuch") {
		t.Errorf("stats of a missing pod: exit %d: %s", code, errs)
	}
	h.ok("rm", "-f", "busy", "idle")
}
