package e2e

import (
	"strings"
	"testing"
	"time"

	"github.com/hyperhq/hyper/internal/api/types"
)

// TestWaitRestartRename: `wait` prints the main container's exit code,
// `restart -t` gives a running pod a new run, `rename` moves the pod to
// its new name (the old one is not found), as docker's commands do.
// Names are not hexadecimal: "a" would also be an ID prefix.
func TestWaitRestartRename(t *testing.T) {
	h := newHyperd(t)
	h.loadBusybox()

	h.ok("run", "-d", "--name", "first", "busybox", "sh", "-c", "exit 3")
	if out := h.ok("wait", "first"); out != "3\n" {
		t.Errorf("wait first: %q, want 3", out)
	}
	// wait blocks while the pod runs.
	h.ok("run", "-d", "--name", "wait", "busybox", "sh", "-c", "sleep 2; exit 5")
	start := time.Now()
	if out := h.ok("wait", "wait", "first"); out != "5\n3\n" {
		t.Errorf("wait wait first: %q, want 5 and 3", out)
	}
	if d := time.Since(start); d < time.Second {
		t.Errorf("wait of a running pod returned after %v", d)
	}

	h.ok("run", "-d", "--name", "sleeper", "busybox", "sleep", "1000")
	before, err := h.client.GetPod(h.ctx(), "sleeper")
	if err != nil || before.State != types.StateRunning {
		t.Fatalf("sleeper before the restart: %+v, %v", before, err)
	}
	start = time.Now()
	if out := h.ok("restart", "-t", "1", "sleeper"); out != "sleeper\n" {
		t.Errorf("restart: %q", out)
	}
	t.Logf("restart -t 1 of a running pod took %v", time.Since(start).Round(time.Millisecond))
	after, err := h.client.GetPod(h.ctx(), "sleeper")
	if err != nil || after.State != types.StateRunning || !after.StartedAt.After(before.StartedAt) || after.VM.Pid == before.VM.Pid {
		t.Errorf("after the restart: state %s started %v (was %v) vm %d (was %d), %v",
			after.State, after.StartedAt, before.StartedAt, after.VM.Pid, before.VM.Pid, err)
	}

	h.ok("rename", "first", "second")
	if got := h.inspect("second", "{{.Name}} {{.ExitCode}}"); got != "second 3" {
		t.Errorf("inspect second: %q", got)
	}
	if _, errs, code := h.run("", "inspect", "first"); code == 0 || !strings.Contains(errs, "no such object: first") {
		t.Errorf("inspect first after the rename: exit %d: %s", code, errs)
	}
	if _, errs, code := h.run("", "rename", "second", "sleeper"); code != 1 || !strings.Contains(errs, "already used") {
		t.Errorf("rename to a taken name: exit %d: %s", code, errs)
	}
	h.ok("rm", "-f", "second", "wait", "sleeper")
}
