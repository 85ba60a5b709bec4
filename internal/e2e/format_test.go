package e2e

import (
	"encoding/json"
	"strings"
	"testing"
	"time"
)

// TestDockerFormatFields: scripts written for docker's ps and inspect
// --format fields work against a real pod, running then killed.
func TestDockerFormatFields(t *testing.T) {
	h := newHyperd(t)
	h.loadBusybox()
	id := strings.TrimSpace(h.ok("run", "-d", "--name", "web", "--label", "tier=fe", "busybox", "sleep", "1000"))
	if out := h.ok("ps", "--format", "{{.Names}} {{.Status}}"); !strings.HasPrefix(out, "web Up ") {
		t.Fatalf("ps --format: %q", out)
	}
	out := h.ok("ps", "--format", `table {{.ID}}\t{{.Names}}\t{{.Command}}\t{{.Label "tier"}}`)
	if lines := strings.Split(strings.TrimSpace(out), "\n"); len(lines) != 2 || !strings.HasPrefix(lines[0], "POD ID ") ||
		!strings.HasPrefix(lines[1], id[:12]+" ") || !strings.Contains(lines[1], `"sleep 1000"`) || !strings.HasSuffix(lines[1], "fe") {
		t.Fatalf("ps table format:\n%s", out)
	}
	var row map[string]string
	if err := json.Unmarshal([]byte(h.ok("ps", "--format", "json")), &row); err != nil || row["Names"] != "web" || row["State"] != "running" || row["Image"] != "busybox" {
		t.Fatalf("ps json: %v %v", row, err)
	}
	if out := h.ok("inspect", "-f", "{{.State.Status}} {{.State.ExitCode}} {{.State.Running}} {{.Config.Image}} {{.Name}}", "web"); out != "running 0 true busybox web\n" {
		t.Fatalf("inspect running: %q", out)
	}
	if out := h.ok("inspect", "-f", "{{.State.StartedAt}}", "web"); !strings.HasPrefix(out, "20") || strings.HasPrefix(out, "0001") {
		t.Fatalf("inspect StartedAt: %q", out)
	}
	h.ok("kill", "web")
	waitFor(t, 20*time.Second, "pod to exit after kill", func() bool {
		return h.ok("inspect", "-f", "{{.State.Status}}", "web") == "exited\n"
	})
	if out := h.ok("inspect", "-f", "{{.State.Status}} {{.State.ExitCode}} {{.State.Running}}", "web"); out != "exited 137 false\n" {
		t.Fatalf("inspect exited: %q", out)
	}
	if out := h.ok("ps", "-a", "--format", "{{.Names}} {{.Status}}"); !strings.HasPrefix(out, "web Exited (137) ") {
		t.Fatalf("ps -a after kill: %q", out)
	}
	h.ok("rm", "web")
}
