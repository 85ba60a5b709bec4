package e2e

import (
	"testing"
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
