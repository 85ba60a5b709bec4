package e2e

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestPodFiles(t *testing.T) {
	h := newHyperd(t)
	h.loadBusybox()
	dir := t.TempDir()
	write := func(name, text string) string {
		p := filepath.Join(dir, name)
		os.WriteFile(p, []byte(text), 0o644)
		return p
	}

	// A Hyper pod file with two containers: one PID namespace, two roots.
	hyper := write("two.pod", `{
  "id": "duo",
  "containers": [
    {"name": "a", "image": "busybox", "command": ["sh", "-c", "echo from-a; exec sleep 1001"]},
    {"name": "b", "image": "busybox", "command": ["sleep", "1002"], "workdir": "/tmp"}
  ],
  "resource": {"vcpu": 1, "memory": 256},
  "dns": ["10.0.2.3"]
}`)
	h.ok("run", "-d", "-p", hyper)
	waitFor(t, 30*time.Second, "container a's output", func() bool { return strings.Contains(h.ok("logs", "duo"), "from-a") })
	if ps := h.ok("exec", "-c", "a", "duo", "ps", "-o", "args"); !strings.Contains(ps, "sleep 1002") {
		t.Errorf("container a does not see b's process:\n%s", ps)
	}
	h.ok("exec", "-c", "b", "duo", "touch", "/b-only")
	if _, _, code := h.run("", "exec", "-c", "a", "duo", "test", "-e", "/b-only"); code == 0 {
		t.Error("container a sees b's files")
	}
	if out := h.ok("exec", "-c", "b", "duo", "pwd"); out != "/tmp\n" {
		t.Errorf("workdir of b: %q", out)
	}
	if out := h.ok("exec", "duo", "cat", "/etc/resolv.conf"); !strings.Contains(out, "10.0.2.3") {
		t.Errorf("pod dns not applied: %q", out)
	}
	h.ok("rm", "-f", "duo")

	// A Kubernetes Pod: command/args, runAsUser, created then started.
	k8s := write("pod.yaml", `apiVersion: v1
kind: Pod
metadata:
  name: kube
spec:
  restartPolicy: Never
  containers:
  - name: main
    image: busybox
    command: ["sh", "-c"]
    args: ["id -u; sleep 1000"]
    securityContext:
      runAsUser: 1000
`)
	id := strings.TrimSpace(h.ok("create", "-p", k8s))
	h.ok("start", id)
	waitFor(t, 30*time.Second, "kube's output", func() bool { return strings.Contains(h.ok("logs", "kube"), "1000") })
	h.ok("rm", "-f", "kube")

	// Bad input is refused, naming it, before any VM.
	bad := write("bad.pod", `{"id": "x", "containers": [{"name": "a", "image": "busybox"}, {"name": "a", "image": "busybox"}]}`)
	if _, errs, code := h.run("", "run", "-d", "-p", bad); code != 125 || !strings.Contains(errs, "containers[1]") {
		t.Errorf("duplicate container: exit %d, err %q", code, errs)
	}
	if ps := h.ok("ps", "-a", "-q"); strings.TrimSpace(ps) != "" {
		t.Errorf("refused pods left behind: %q", ps)
	}
}
