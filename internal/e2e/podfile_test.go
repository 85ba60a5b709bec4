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

// TestPodSharedNamespaces: a pod's containers share localhost (one serves
// on 127.0.0.1:8080, the other reads from it), IPC and UTS (the pod's
// hostname), each with a root of its own. Busybox has no ipcmk or ipcs
// to show a SysV segment across containers: the shared IPC namespace is
// shown by its identity, /proc/self/ns/ipc, which is the same in both.
func TestPodSharedNamespaces(t *testing.T) {
	h := newHyperd(t)
	h.loadBusybox()
	pod := writePod(t, "shared.pod", `{
  "id": "shared", "hostname": "duo-host",
  "containers": [
    {"name": "a", "image": "busybox", "command": ["sh", "-c", "mkdir /www && echo hello-from-a > /www/index.html && exec httpd -f -p 127.0.0.1:8080 -h /www"]},
    {"name": "b", "image": "busybox", "command": ["sh", "-c", "until wget -qO- http://127.0.0.1:8080/; do sleep 0.2; done; exec sleep 1000"]}
  ]
}`)
	h.ok("run", "-d", "-p", pod)
	waitFor(t, time.Minute, "b to read a's page", func() bool { return strings.Contains(h.ok("logs", "-c", "b", "shared"), "hello-from-a") })
	ns := func(ctr string) []string {
		t.Helper()
		return strings.Fields(h.ok("exec", "-c", ctr, "shared", "sh", "-c", "hostname; for n in net ipc uts mnt; do readlink /proc/self/ns/$n; done"))
	}
	a, b := ns("a"), ns("b")
	if len(a) != 5 || len(b) != 5 {
		t.Fatalf("a: %q, b: %q", a, b)
	}
	if a[0] != "duo-host" || b[0] != "duo-host" {
		t.Errorf("hostnames %q %q, want the pod's, duo-host", a[0], b[0])
	}
	for i, what := range []string{"net", "ipc", "uts"} {
		if a[i+1] != b[i+1] {
			t.Errorf("%s namespaces differ: a %s, b %s", what, a[i+1], b[i+1])
		}
	}
	if a[4] == b[4] {
		t.Errorf("a and b share a mount namespace, %s: no root of their own", a[4])
	}
	h.ok("rm", "-f", "shared")
}
