package e2e

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/hyperhq/hyper/internal/image/imagetest"
)

func TestRunForeground(t *testing.T) {
	h := newHyperd(t)
	h.loadBusybox()
	if out, errs, code := h.run("", "run", "--rm", "busybox", "echo", "hello from a pod"); code != 0 || out != "hello from a pod\n" {
		t.Fatalf("run: exit %d, out %q, err %q", code, out, errs)
	}
	if _, _, code := h.run("", "run", "--rm", "busybox", "sh", "-c", "exit 7"); code != 7 {
		t.Fatalf("exit code %d, want 7", code)
	}
	if out, _, code := h.run("line one\nline two\n", "run", "--rm", "-i", "busybox", "sh", "-c", "cat; echo done >&2"); code != 0 || out != "line one\nline two\n" {
		t.Fatalf("piped stdin: exit %d, out %q", code, out)
	}
	if out, _, _ := h.run("", "run", "--rm", "-e", "GREETING=hi", "-w", "/tmp", "-u", "alice", "busybox",
		"sh", "-c", "echo $GREETING $(pwd) $(id -un)"); out != "hi /tmp alice\n" {
		t.Fatalf("env/workdir/user: %q", out)
	}
	if out := h.ok("ps", "-a", "-q"); strings.TrimSpace(out) != "" {
		t.Fatalf("--rm left pods: %q", out)
	}
}

func TestDetachedLifecycle(t *testing.T) {
	h := newHyperd(t)
	h.loadBusybox()
	id := strings.TrimSpace(h.ok("run", "-d", "--name", "web", "busybox", "sh", "-c", "echo up; while true; do sleep 1; done"))
	if len(id) != 64 {
		t.Fatalf("run -d printed %q, want a full ID", id)
	}
	if ps := h.ok("ps"); !strings.Contains(ps, "web") || !strings.Contains(ps, id[:12]) || !strings.Contains(ps, "Up") {
		t.Fatalf("ps:\n%s", ps)
	}
	waitFor(t, 30*time.Second, "logs", func() bool { return strings.Contains(h.ok("logs", "web"), "up") })
	if out := h.ok("exec", "web", "sh", "-c", "echo inside $(hostname)"); out != "inside "+id[:12]+"\n" {
		t.Fatalf("exec: %q", out)
	}
	if _, _, code := h.run("", "exec", "web", "sh", "-c", "exit 3"); code != 3 {
		t.Fatalf("exec exit %d, want 3", code)
	}
	if out, _, code := h.run("abc", "exec", "-i", "web", "cat"); code != 0 || out != "abc" {
		t.Fatalf("exec -i: %d %q", code, out)
	}
	h.ok("stop", "-t", "1", "web")
	if ps := h.ok("ps", "-a"); !strings.Contains(ps, "Exited") {
		t.Fatalf("ps -a after stop:\n%s", ps)
	}
	if _, errs, code := h.run("", "exec", "web", "true"); code == 0 || errs == "" {
		t.Fatalf("exec into stopped pod: exit %d, err %q", code, errs)
	}
	h.ok("start", "web")
	waitFor(t, 30*time.Second, "second start's output", func() bool { return strings.Count(h.ok("logs", "web"), "up") == 2 })
	h.ok("kill", "-s", "KILL", "web")
	waitFor(t, 10*time.Second, "pod to exit after kill", func() bool { return strings.Contains(h.ok("ps", "-a"), "Exited (137)") })
	h.ok("rm", "web")
	if out := h.ok("ps", "-a", "-q"); strings.TrimSpace(out) != "" {
		t.Fatalf("rm left pods: %q", out)
	}
	if out := h.ok("info"); !strings.Contains(out, "tcg") && !strings.Contains(out, "kvm") {
		t.Fatalf("info does not say the acceleration:\n%s", out)
	}
}

// TestDaemonRestart: kill -9 hyperd with 3 pods running; a new hyperd finds
// them running, exec works, logs keep flowing. Then kill -9 one QEMU: the
// pod is reported exited with a reason within 2 s.
func TestDaemonRestart(t *testing.T) {
	h := newHyperd(t)
	h.loadBusybox()
	names := []string{"p1", "p2", "p3"}
	for _, n := range names {
		h.ok("run", "-d", "--name", n, "busybox", "sh", "-c", "i=0; while true; do echo tick $i; i=$((i+1)); sleep 0.2; done")
	}
	for _, n := range names {
		waitFor(t, 30*time.Second, n+" output", func() bool { return strings.Contains(h.ok("logs", n), "tick 1") })
	}
	h.kill9()
	time.Sleep(time.Second) // the pods keep ticking while no daemon runs
	h.start()
	ps := h.ok("ps")
	for _, n := range names {
		if !strings.Contains(ps, n) {
			t.Fatalf("pod %s not running after restart:\n%s\n%s", n, ps, h.log)
		}
		if out := h.ok("exec", n, "echo", "alive"); out != "alive\n" {
			t.Fatalf("exec in %s after restart: %q", n, out)
		}
	}
	before := strings.Count(h.ok("logs", "p1"), "tick")
	waitFor(t, 30*time.Second, "logs to continue after restart", func() bool {
		return strings.Count(h.ok("logs", "p1"), "tick") > before+3
	})
	// Kill one QEMU.
	ctx := context.Background()
	p, err := h.client.GetPod(ctx, "p2")
	if err != nil {
		t.Fatal(err)
	}
	syscall.Kill(p.VM.Pid, syscall.SIGKILL)
	start := time.Now()
	waitFor(t, 2*time.Second, "p2 reported exited", func() bool {
		p, err := h.client.GetPod(ctx, "p2")
		return err == nil && p.State != "running"
	})
	p, _ = h.client.GetPod(ctx, "p2")
	if p.Reason == "" {
		t.Errorf("no reason given for p2's end")
	}
	t.Logf("p2 reported %s after %v: %s", p.State, time.Since(start).Round(time.Millisecond), p.Reason)
	if _, err := os.Stat(filepath.Join(h.dir, "run", "vms", p.ID[:16])); !os.IsNotExist(err) {
		t.Errorf("p2's VM state dir left behind")
	}
}

func TestBadInput(t *testing.T) {
	h := newHyperd(t)
	h.loadBusybox()
	dir := t.TempDir()
	corrupt := filepath.Join(dir, "corrupt.tar")
	os.WriteFile(corrupt, []byte("this is not a tar archive at all"), 0o644)
	if _, errs, code := h.run("", "load", "-i", corrupt); code == 0 || !strings.Contains(errs, "hyperctl:") {
		t.Fatalf("corrupt archive: exit %d, err %q", code, errs)
	}
	// Hostile layers: a path escaping the root, and a write through a
	// symlink that points out of it.
	for name, layer := range map[string][]byte{
		"traversal": imagetest.Layer(t, imagetest.File("../../etc/evil", "x", 0o644)),
		"symlink escape": imagetest.Layer(t, imagetest.Symlink("esc", "../../../.."),
			imagetest.File("esc/tmp/evil", "x", 0o644)),
	} {
		archive, _ := imagetest.ClassicArchive(t, imagetest.ClassicImage{Config: imagetest.Config(),
			Layers: [][]byte{layer}, RepoTags: []string{"evil/" + strings.ReplaceAll(name, " ", "-") + ":latest"}})
		f := filepath.Join(dir, "evil.tar")
		os.WriteFile(f, archive, 0o644)
		if _, errs, code := h.run("", "load", "-i", f); code == 0 || !strings.Contains(errs, "hyperctl:") {
			t.Errorf("%s archive: exit %d, err %q", name, code, errs)
		} else {
			t.Logf("%s archive refused: %s", name, strings.TrimSpace(errs))
		}
	}
	if _, err := os.Stat("/tmp/evil"); err == nil {
		t.Error("a hostile layer wrote outside the store")
	}
	if _, errs, code := h.run("", "run", "nosuch:image", "true"); code != 125 || errs == "" {
		t.Fatalf("unknown image: exit %d, err %q", code, errs)
	}
	h.ok("run", "-d", "--name", "dup", "busybox", "sleep", "100")
	if _, errs, code := h.run("", "run", "-d", "--name", "dup", "busybox", "true"); code != 125 || !strings.Contains(errs, "already") {
		t.Fatalf("duplicate name: exit %d, err %q", code, errs)
	}
	if _, errs, code := h.run("", "run", "--name", "bad/name", "busybox", "true"); code != 125 || errs == "" {
		t.Fatalf("bad name: exit %d, err %q", code, errs)
	}
	if imgs := h.ok("images", "-q"); len(strings.Fields(imgs)) != 1 {
		t.Fatalf("bad input changed the images: %q", imgs)
	}
	if ps := h.ok("ps", "-a", "-q"); len(strings.Fields(ps)) != 1 {
		t.Fatalf("bad input left pods: %q", ps)
	}
}
