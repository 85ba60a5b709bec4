package e2e

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hyperhq/hyper/internal/api/types"
)

// writePod writes a pod file into a temporary directory.
func writePod(t *testing.T, name, text string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// logTime is the time of the first log line of a container.
func logTime(t *testing.T, h *hyperd, pod, ctr, want string) time.Time {
	t.Helper()
	out := h.ok("logs", "-t", "-c", ctr, pod)
	ts, line, _ := strings.Cut(out, " ")
	if strings.TrimSpace(line) != want {
		t.Fatalf("logs of %s: %q, want %q", ctr, out, want)
	}
	tm, err := time.Parse(time.RFC3339Nano, ts)
	if err != nil {
		t.Fatalf("logs of %s: %v", ctr, err)
	}
	return tm
}

func waitExited(t *testing.T, h *hyperd, pod string) types.Pod {
	t.Helper()
	var p types.Pod
	waitFor(t, 60*time.Second, pod+" to end", func() bool {
		var err error
		p, err = h.client.GetPod(h.ctx(), pod)
		return err == nil && (p.State == types.StateExited || p.State == types.StateFailed)
	})
	return p
}

func TestInitContainers(t *testing.T) {
	h := newHyperd(t)
	h.loadBusybox()

	// Init containers run in order, each to its end, before the app.
	ok := writePod(t, "init.pod", `{
  "id": "inits",
  "initContainers": [
    {"name": "i1", "image": "busybox", "command": ["sh", "-c", "echo init-1; touch /only-i1; sleep 0.2"]},
    {"name": "i2", "image": "busybox", "command": ["sh", "-c", "test ! -e /only-i1 && echo init-2; sleep 0.2"]}
  ],
  "containers": [{"name": "app", "image": "busybox", "command": ["echo", "app"]}]
}`)
	h.ok("run", "-d", "-p", ok)
	p := waitExited(t, h, "inits")
	if p.State != types.StateExited || p.ExitCode != 0 {
		t.Fatalf("pod: %s %d %q", p.State, p.ExitCode, p.Reason)
	}
	t1 := logTime(t, h, "inits", "i1", "init-1")
	t2 := logTime(t, h, "inits", "i2", "init-2") // i2 has its own rootfs
	ta := logTime(t, h, "inits", "app", "app")
	if !t1.Before(t2) || !t2.Before(ta) {
		t.Errorf("out of order: i1 %v, i2 %v, app %v", t1, t2, ta)
	}
	if len(p.InitContainers) != 2 || p.InitContainers[1].State != types.StateExited || !p.InitContainers[0].Init {
		t.Errorf("init containers in inspect: %+v", p.InitContainers)
	}

	// A failing init container fails the start; the app never runs.
	bad := writePod(t, "bad.pod", `{
  "id": "badinit",
  "initContainers": [{"name": "boom", "image": "busybox", "command": ["sh", "-c", "echo failing; exit 3"]}],
  "containers": [{"name": "app", "image": "busybox", "command": ["echo", "app"]}]
}`)
	if _, errs, code := h.run("", "run", "-d", "-p", bad); code == 0 || !strings.Contains(errs, "boom") {
		t.Errorf("failing init: exit %d, err %q", code, errs)
	}
	p, err := h.client.GetPod(h.ctx(), "badinit")
	if err != nil {
		t.Fatal(err)
	}
	if p.State != types.StateFailed || !strings.Contains(p.Reason, "init container boom exited with code 3") {
		t.Errorf("failed init: state %s, reason %q", p.State, p.Reason)
	}
	if out := h.ok("logs", "-c", "boom", "badinit"); out != "failing\n" {
		t.Errorf("boom's log: %q", out)
	}
	if out := h.ok("logs", "-c", "app", "badinit"); out != "" {
		t.Errorf("app ran: %q", out)
	}
	if p.Containers[0].State != types.StateCreated {
		t.Errorf("app state %s", p.Containers[0].State)
	}

	// Stop while an init container runs: the start ends, failed.
	slow := writePod(t, "slow.pod", `{
  "id": "slowinit",
  "initContainers": [{"name": "wait", "image": "busybox", "command": ["sh", "-c", "echo waiting; exec sleep 1000"]}],
  "containers": [{"name": "app", "image": "busybox", "command": ["echo", "app"]}]
}`)
	started := make(chan string, 1)
	go func() { _, errs, _ := h.run("", "run", "-d", "-p", slow); started <- errs }()
	waitFor(t, 60*time.Second, "the init container's output", func() bool {
		out, _, _ := h.run("", "logs", "-c", "wait", "slowinit")
		return out == "waiting\n"
	})
	h.ok("stop", "slowinit")
	if errs := <-started; !strings.Contains(errs, "stopped while init container wait ran") {
		t.Errorf("run of a stopped pod: %q", errs)
	}
	if p, _ := h.client.GetPod(h.ctx(), "slowinit"); p.State != types.StateFailed {
		t.Errorf("stopped during init: %s %q", p.State, p.Reason)
	}
}

func TestRestartPolicies(t *testing.T) {
	h := newHyperd(t)
	h.loadBusybox()

	// onFailure:2: a container exiting 1 runs 3 times, then the pod exits.
	// The writable layer is fresh on each run.
	f := writePod(t, "fail.pod", `{
  "id": "flaky",
  "containers": [
    {"name": "c", "image": "busybox", "restartPolicy": "onFailure:2",
     "command": ["sh", "-c", "test -e /ran && echo dirty; touch /ran; echo run; exit 1"]}
  ]
}`)
	h.ok("run", "-d", "-p", f)
	p := waitExited(t, h, "flaky")
	if p.State != types.StateExited || p.ExitCode != 1 || p.Containers[0].RestartCount != 2 {
		t.Errorf("flaky: state %s, code %d, restarts %d", p.State, p.ExitCode, p.Containers[0].RestartCount)
	}
	if out := h.ok("logs", "flaky"); out != "run\nrun\nrun\n" {
		t.Errorf("flaky's log: %q", out)
	}
	if ps := h.ok("ps", "-a"); !strings.Contains(ps, "(2 restarts)") {
		t.Errorf("ps:\n%s", ps)
	}

	// always: restarted after exit 0 until stop; per-pod policy.
	a := writePod(t, "always.pod", `{
  "id": "forever",
  "restartPolicy": "always",
  "containers": [
    {"name": "c", "image": "busybox", "command": ["echo", "tick"]},
    {"name": "d", "image": "busybox", "restartPolicy": "never", "command": ["sleep", "1000"]}
  ]
}`)
	h.ok("run", "-d", "-p", a)
	waitFor(t, 60*time.Second, "3 restarts", func() bool {
		p, err := h.client.GetPod(h.ctx(), "forever")
		return err == nil && p.Containers[0].RestartCount >= 3
	})
	p, _ = h.client.GetPod(h.ctx(), "forever")
	if p.State != types.StateRunning {
		t.Errorf("forever: %s", p.State)
	}
	h.ok("stop", "forever")
	p = waitExited(t, h, "forever")
	n := p.Containers[0].RestartCount
	time.Sleep(time.Second)
	if p, _ = h.client.GetPod(h.ctx(), "forever"); p.Containers[0].RestartCount != n || p.State != types.StateExited {
		t.Errorf("restarts went on after stop: %d -> %d, %s", n, p.Containers[0].RestartCount, p.State)
	}
	if p.Containers[1].RestartCount != 0 {
		t.Errorf("never-container restarted %d times", p.Containers[1].RestartCount)
	}
	if out := h.ok("logs", "-c", "c", "forever"); strings.Count(out, "tick\n") != n+1 {
		t.Errorf("forever's log has %d ticks for %d restarts", strings.Count(out, "tick\n"), n)
	}
}

// TestManyImages: image disks go on the VM's SCSI controller, so a pod may
// use more images than the machine has device slots (8, 4 of them taken),
// init containers' images included.
func TestManyImages(t *testing.T) {
	h := newHyperd(t)
	for i := range 5 { // five images with distinct IDs (their configs differ)
		h.loadVariant(fmt.Sprintf("bb%d", i), fmt.Sprintf("N=%d", i))
	}
	pod := writePod(t, "many.pod", `{
  "id": "many",
  "initContainers": [{"image": "bb0", "command": ["echo", "i0"]}, {"image": "bb1", "command": ["echo", "i1"]}],
  "containers": [{"image": "bb2", "command": ["true"]}, {"image": "bb3", "command": ["echo", "done"]}, {"image": "bb4", "command": ["sh", "-c", "echo $N"]}]
}`)
	h.ok("run", "-d", "-p", pod)
	if p := waitExited(t, h, "many"); p.State != types.StateExited {
		t.Errorf("many: %s %q", p.State, p.Reason)
	}
	if out := h.ok("logs", "-c", "many-2", "many"); out != "4\n" {
		t.Errorf("many-2: %q", out)
	}
	if out := h.ok("logs", "-c", "many-init-1", "many"); out != "i1\n" {
		t.Errorf("many-init-1: %q", out)
	}
}

// TestRestartAcrossDaemonRestart: a container waiting for its restart
// (back-off) when hyperd is killed is restarted by the next hyperd.
func TestRestartAcrossDaemonRestart(t *testing.T) {
	h := newHyperd(t)
	h.loadBusybox()
	f := writePod(t, "flap.pod", `{
  "id": "flap",
  "containers": [
    {"name": "keep", "image": "busybox", "command": ["sleep", "1000"]},
    {"name": "flap", "image": "busybox", "restartPolicy": "always", "command": ["sh", "-c", "echo run; exit 1"]}
  ]
}`)
	h.ok("run", "-d", "-p", f)
	restarts := func() int {
		p, err := h.client.GetPod(h.ctx(), "flap")
		if err != nil {
			t.Fatal(err)
		}
		return p.Containers[1].RestartCount
	}
	// After 5 restarts the back-off is 3.2 s: the container spends nearly
	// all its time exited, waiting.
	waitFor(t, 60*time.Second, "5 restarts", func() bool { return restarts() >= 5 })
	n := restarts()
	waitFor(t, 30*time.Second, "the next restart", func() bool { return restarts() > n })
	time.Sleep(200 * time.Millisecond) // it has exited again, and waits
	h.kill9()
	h.start()
	n = restarts()
	waitFor(t, 30*time.Second, "a restart by the new hyperd", func() bool { return restarts() > n })
	h.ok("rm", "-f", "flap")
}
