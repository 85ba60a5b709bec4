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

// TestPauseUnpause: a paused pod's VM uses (next to) no host CPU, shows
// paused in ps and inspect, refuses execs, survives longer than the
// guest channel's keepalive and a hyperd restart, and after unpause its
// output goes on and execs work; stop and rm -f work on a paused pod.
func TestPauseUnpause(t *testing.T) {
	h := newHyperd(t)
	h.loadBusybox()
	h.ok("run", "-d", "--name", "ticker", "busybox", "sh", "-c", "i=0; while :; do echo tick $i; i=$((i+1)); sleep 0.2; done")
	waitFor(t, 30*time.Second, "output", func() bool { return strings.Contains(h.ok("logs", "ticker"), "tick 3") })

	hostCPU := func() time.Duration {
		st, err := h.client.Stats(h.ctx(), "ticker")
		if err != nil {
			t.Fatal(err)
		}
		return time.Duration(st.VM.HostCPUNanos)
	}
	measure := func() time.Duration {
		before := hostCPU()
		time.Sleep(5 * time.Second)
		return hostCPU() - before
	}
	running := measure()
	if out := h.ok("pause", "ticker"); out != "ticker\n" {
		t.Errorf("pause: %q", out)
	}
	paused := time.Now()
	logsPaused := h.ok("logs", "ticker")
	idle := measure()
	t.Logf("QEMU CPU over 5 s: running %v, paused %v", running, idle)
	if idle >= running || idle > 500*time.Millisecond {
		t.Errorf("QEMU CPU over 5 s: paused %v, running %v", idle, running)
	}
	if got := h.inspect("ticker", "{{.State.Status}} {{.State.Paused}} {{.State.Running}}"); got != "paused true true" {
		t.Errorf("inspect of a paused pod: %q", got)
	}
	if out := h.ok("ps", "--format", "{{.Status}}|{{.State}}"); !strings.Contains(out, "(Paused)|paused") {
		t.Errorf("ps of a paused pod: %q", out)
	}
	if _, errs, code := h.run("", "exec", "ticker", "true"); code == 0 || !strings.Contains(errs, "paused") {
		t.Errorf("exec in a paused pod: exit %d: %s", code, errs)
	}
	if _, errs, code := h.run("", "pause", "ticker"); code == 0 || !strings.Contains(errs, "already paused") {
		t.Errorf("pause of a paused pod: exit %d: %s", code, errs)
	}
	if got := h.ok("logs", "ticker"); got != logsPaused {
		t.Errorf("output while paused:\nbefore %q\nafter %q", logsPaused, got)
	}
	// Longer than the guest channel's keepalive (15 s, and 15 s for its answer).
	time.Sleep(time.Until(paused.Add(35 * time.Second)))
	h.ok("unpause", "ticker")
	if out := h.ok("exec", "ticker", "echo", "hello"); out != "hello\n" {
		t.Errorf("exec after unpause: %q", out)
	}
	waitFor(t, 30*time.Second, "output after unpause", func() bool { return len(h.ok("logs", "ticker")) > len(logsPaused)+20 })
	if got := h.inspect("ticker", "{{.State.Status}} {{.State.Paused}}"); got != "running false" {
		t.Errorf("inspect after unpause: %q", got)
	}

	// A hyperd restart keeps a paused pod paused and manageable.
	h.ok("pause", "ticker")
	h.kill9()
	h.start()
	if got := h.inspect("ticker", "{{.State.Status}} {{.State.Paused}}"); got != "paused true" {
		t.Errorf("inspect of a paused pod after a hyperd restart: %q", got)
	}
	if _, errs, code := h.run("", "exec", "ticker", "true"); code == 0 || !strings.Contains(errs, "paused") {
		t.Errorf("exec in a paused pod after a hyperd restart: exit %d: %s", code, errs)
	}
	h.ok("unpause", "ticker")
	if out := h.ok("exec", "ticker", "echo", "again"); out != "again\n" {
		t.Errorf("exec after a restart and unpause: %q", out)
	}

	// stop and rm -f of a paused pod.
	h.ok("pause", "ticker")
	h.ok("stop", "-t", "1", "ticker")
	if got := h.inspect("ticker", "{{.State.Status}} {{.State.Paused}}"); got != "exited false" {
		t.Errorf("inspect after stopping a paused pod: %q", got)
	}
	h.ok("start", "ticker")
	h.ok("pause", "ticker")
	h.ok("rm", "-f", "ticker")
}

// TestTop: `top POD` lists the container's processes (its init and a
// child, with ps's default columns, by pid), -o picks columns, unsupported ps
// options are refused; a paused pod's processes cannot be listed.
func TestTop(t *testing.T) {
	h := newHyperd(t)
	h.loadBusybox()
	h.ok("run", "-d", "--name", "tp", "busybox", "sh", "-c", "sleep 1000 & sleep 2000")
	var out string
	waitFor(t, 30*time.Second, "both sleeps", func() bool {
		out = h.ok("top", "tp")
		return strings.Count(out, "\n") == 3 // sh forks the first sleep and execs the second
	})
	t.Logf("top tp:\n%s", out)
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if f := strings.Fields(lines[0]); strings.Join(f, " ") != "UID PID PPID C STIME TTY TIME CMD" ||
		!strings.HasSuffix(lines[1], " sleep 2000") || !strings.HasSuffix(lines[2], " sleep 1000") {
		t.Errorf("top tp: %q", out)
	}
	if !strings.HasPrefix(lines[1], "root ") {
		t.Errorf("top tp: user of the init: %q", lines[1])
	}
	out = h.ok("top", "tp", "-o", "pid,user,comm,rss")
	t.Logf("top tp -o pid,user,comm,rss:\n%s", out)
	if !strings.Contains(out, "PID") || !strings.Contains(out, "COMMAND") || !strings.Contains(out, " sleep ") {
		t.Errorf("top -o: %q", out)
	}
	aux := h.ok("top", "tp", "aux")
	if !strings.Contains(aux, "%CPU") || !strings.Contains(aux, "sleep 2000") {
		t.Errorf("top aux: %q", aux)
	}
	if _, errs, code := h.run("", "top", "tp", "-o", "wchan"); code == 0 || !strings.Contains(errs, "not supported") {
		t.Errorf("top -o wchan: exit %d: %s", code, errs)
	}
	h.ok("pause", "tp")
	if _, errs, code := h.run("", "top", "tp"); code == 0 || !strings.Contains(errs, "paused") {
		t.Errorf("top of a paused pod: exit %d: %s", code, errs)
	}
	h.ok("rm", "-f", "tp")
}
