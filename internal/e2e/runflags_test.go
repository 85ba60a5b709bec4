package e2e

import (
	"strings"
	"testing"
	"time"
)

// TestContainerAddressing: exec and logs reach a pod's second container
// as POD/CONTAINER and by its bare name, as docker's commands take a
// container; the pod's own name still means its first container.
func TestContainerAddressing(t *testing.T) {
	h := newHyperd(t)
	h.loadBusybox()
	h.ok("run", "-d", "--name", "duo", "-e", "WHO=first", "busybox", "sleep", "3600")
	h.ok("create", "-c", "duo", "--name", "second", "-e", "WHO=second", "busybox", "sh", "-c", "echo from-second; exec sleep 3600")
	host := h.ok("exec", "duo", "hostname") // one pod, one hostname
	for _, ref := range []string{"duo/second", "second"} {
		if out := h.ok("exec", ref, "hostname"); out != host {
			t.Errorf("exec %s hostname: %q", ref, out)
		}
		if out := h.ok("exec", ref, "sh", "-c", "echo $WHO"); out != "second\n" {
			t.Errorf("exec %s in the wrong container: %q", ref, out)
		}
	}
	if out := h.ok("exec", "duo", "sh", "-c", "echo $WHO"); out != "first\n" {
		t.Errorf("exec duo: %q", out)
	}
	if out := h.ok("exec", "-c", "second", "duo", "sh", "-c", "echo $WHO"); out != "second\n" {
		t.Errorf("exec -c second duo: %q", out)
	}
	waitFor(t, time.Minute, "logs of second", func() bool {
		out, _, _ := h.run("", "logs", "second")
		return out == "from-second\n"
	})
	// A second pod with a container of the same name: the bare name is
	// ambiguous, and the error names both.
	h.ok("run", "-d", "--name", "other", "busybox", "sleep", "3600")
	h.ok("create", "-c", "other", "--name", "second", "busybox", "sleep", "3600")
	_, stderr, code := h.run("", "exec", "second", "true")
	if code == 0 || !strings.Contains(stderr, "duo/second") || !strings.Contains(stderr, "other/second") {
		t.Errorf("an ambiguous container name: code %d, %q", code, stderr)
	}
	if _, stderr, code := h.run("", "exec", "nosuch", "true"); code == 0 || !strings.Contains(stderr, "no such pod or container") {
		t.Errorf("exec nosuch: code %d, %q", code, stderr)
	}
}
