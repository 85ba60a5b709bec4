package e2e

import (
	"strings"
	"testing"
)

// TestUpdate: update sets a running container's cgroup limits in its VM
// (memory.max, cpu.max, pids.max), a process above the memory limit is
// OOM-killed, a limit above the VM's size is refused, and the limits are
// set again when the pod starts again.
func TestUpdate(t *testing.T) {
	h := newHyperd(t)
	h.loadBusybox()
	h.ok("run", "-d", "--name", "lim", "-m", "256m", "busybox", "sleep", "1000")
	// The container has no /sys/fs/cgroup: its cgroup is read from the VM.
	cg := func(file string) string {
		return strings.TrimSpace(h.ok("exec", "--vm", "lim", "cat", "/sys/fs/cgroup/hyper/lim/"+file))
	}
	if out := strings.TrimSpace(h.ok("update", "--memory", "64m", "lim")); out != "lim" {
		t.Errorf("update printed %q, want lim", out)
	}
	if got := cg("memory.max"); got != "67108864" {
		t.Errorf("memory.max = %q, want 67108864", got)
	}
	if got := h.ok("stats", "--no-stream", "--format", "{{.MemUsage}}", "lim"); !strings.Contains(got, "/ 64MiB") {
		t.Errorf("stats' MEM USAGE / LIMIT: %q, want the 64MiB limit", got)
	}
	_, errs, code := h.run("", "exec", "lim", "sh", "-c", `x=$(head -c 100m /dev/zero | tr "\0" a); echo survived`)
	if code != 137 {
		t.Errorf("exec of a 100m memory hog under a 64m limit: exit %d, want 137: %s", code, errs)
	}
	h.ok("update", "--cpus", "0.5", "--pids-limit", "50", "lim/lim")
	if got := cg("cpu.max"); got != "50000 100000" {
		t.Errorf("cpu.max = %q, want 50000 100000", got)
	}
	if got := cg("pids.max"); got != "50" {
		t.Errorf("pids.max = %q, want 50", got)
	}
	_, errs, code = h.run("", "update", "--memory", "1g", "lim")
	if code == 0 || !strings.Contains(errs, "256 MiB") {
		t.Errorf("update --memory 1g on a 256m VM: exit %d, %q; want a refusal naming the VM's 256 MiB", code, errs)
	}
	_, errs, code = h.run("", "update", "--cpus", "4", "lim")
	if code == 0 || !strings.Contains(errs, "vCPUs") {
		t.Errorf("update --cpus 4: exit %d, %q; want a refusal naming the VM's vCPUs", code, errs)
	}
	if got := h.inspect("lim", "{{with (index .Spec.Containers 0).Resources}}{{.NanoCPUs}} {{.MemoryBytes}} {{.PidsLimit}}{{end}}"); got != "500000000 67108864 50" {
		t.Errorf("inspect's limits: %q, want 500000000 67108864 50", got)
	}
	h.ok("pause", "lim")
	if _, errs, code := h.run("", "update", "--pids-limit", "10", "lim"); code == 0 || !strings.Contains(errs, "paused") {
		t.Errorf("update of a paused pod: exit %d, %q; want a refusal", code, errs)
	}
	h.ok("unpause", "lim")
	h.ok("stop", "-t", "1", "lim")
	h.ok("update", "--pids-limit", "max", "lim")
	h.ok("start", "lim")
	if got := cg("memory.max"); got != "67108864" {
		t.Errorf("after a restart memory.max = %q, want 67108864", got)
	}
	if got := cg("cpu.max"); got != "50000 100000" {
		t.Errorf("after a restart cpu.max = %q, want 50000 100000", got)
	}
	if got := cg("pids.max"); got != "max" {
		t.Errorf("after a restart pids.max = %q, want max (removed while stopped)", got)
	}
	h.ok("rm", "-f", "lim")
}
