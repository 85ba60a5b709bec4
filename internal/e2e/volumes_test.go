package e2e

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/hyperhq/hyper/internal/api/types"
)

// TestNamedVolumes: a named volume outlives its pods and hyperd, is
// attached to one running pod at a time, and is not removed while used.
func TestNamedVolumes(t *testing.T) {
	h := newHyperd(t)
	h.loadBusybox()

	h.ok("run", "--rm", "-v", "data:/data", "busybox", "sh", "-c", "echo kept > /data/f")
	if out := h.ok("volume", "ls"); !strings.Contains(out, "data") {
		t.Errorf("volume ls after first use: %q", out)
	}
	if out := h.ok("run", "--rm", "-v", "data:/data:ro", "busybox", "cat", "/data/f"); out != "kept\n" {
		t.Errorf("second pod reads %q", out)
	}
	if _, errs, code := h.run("", "run", "--rm", "-v", "data:/data:ro", "busybox", "touch", "/data/g"); code == 0 || !strings.Contains(errs+h.ok("volume", "ls"), "data") {
		t.Errorf("write to a read-only mount: exit %d, %q", code, errs)
	}

	// One running pod at a time; no removal while a pod uses it.
	h.ok("run", "-d", "--name", "holder", "-v", "data:/data", "busybox", "sleep", "1000")
	if _, errs, code := h.run("", "run", "-d", "--name", "second", "-v", "data:/d", "busybox", "true"); code != 125 || !strings.Contains(errs, "running pod holder") {
		t.Errorf("second running pod: exit %d, %q", code, errs)
	}
	if _, errs, code := h.run("", "volume", "rm", "data"); code != 1 || !strings.Contains(errs, "in use by pod holder") {
		t.Errorf("rm in use: exit %d, %q", code, errs)
	}
	var vis []types.VolumeInfo
	if err := json.Unmarshal([]byte(h.ok("volume", "inspect", "data")), &vis); err != nil || len(vis) != 1 || vis[0].RunningIn != "holder" || len(vis[0].Serial) != 20 {
		t.Errorf("inspect: %+v %v", vis, err)
	}
	h.ok("exec", "holder", "sh", "-c", "echo more >> /data/f")
	h.ok("stop", "holder") // the guest unmounts the volume: its data is on the disk
	h.ok("rm", "holder")

	// hyperd restarted: the volume and its data are still there.
	h.cmd.Process.Signal(syscall.SIGTERM)
	h.cmd.Wait()
	h.start()
	if out := h.ok("run", "--rm", "-v", "data:/data", "busybox", "cat", "/data/f"); out != "kept\nmore\n" {
		t.Errorf("after restart: %q", out)
	}
	if out := h.ok("volume", "ls", "--format", "json"); !strings.Contains(out, `"name":"data"`) {
		t.Errorf("ls json: %q", out)
	}
	h.ok("volume", "create", "--size", "64m", "small")
	h.ok("volume", "rm", "data", "small")
	if out := h.ok("volume", "ls", "-q"); strings.TrimSpace(out) != "" {
		t.Errorf("volumes left: %q", out)
	}
	if _, errs, code := h.run("", "volume", "create", "bad/name"); code == 0 || !strings.Contains(errs, "invalid volume name") {
		t.Errorf("bad name: %d %q", code, errs)
	}
}

// TestNamedVolumeQemuKill: data a pod wrote into a named volume and
// synced, as an application wanting durability does, survives a SIGKILL of
// the pod's QEMU: the volume is crash-consistent, and the next pod's mount
// replays its ext4 journal.
func TestNamedVolumeQemuKill(t *testing.T) {
	h := newHyperd(t)
	h.loadBusybox()
	h.ok("run", "-d", "--name", "writer", "-v", "data:/data", "busybox", "sh", "-c",
		"echo durable > /data/f && sync && echo synced && exec sleep 1000")
	waitFor(t, time.Minute, "the writer to sync", func() bool { return strings.Contains(h.ok("logs", "writer"), "synced") })
	var pid int
	if _, err := fmt.Sscan(h.inspect("writer", "{{.VM.Pid}}"), &pid); err != nil || !slices.Contains(podQemusUnder(h.dir), pid) {
		t.Fatalf("writer's QEMU: pid %d (%v), QEMUs %v", pid, err, podQemusUnder(h.dir))
	}
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
		t.Fatalf("killing QEMU %d: %v", pid, err)
	}
	p := waitExited(t, h, "writer")
	if !strings.Contains(p.Reason, "signal 9") {
		t.Errorf("after the kill: %s, exit %d, reason %q", p.State, p.ExitCode, p.Reason)
	}
	h.ok("rm", "writer")
	if out := h.ok("run", "--rm", "-v", "data:/data", "busybox", "cat", "/data/f"); out != "durable\n" {
		t.Errorf("after the QEMU kill the volume holds %q", out)
	}
	h.ok("volume", "rm", "data")
}

// TestHostVolumes: host directories over the pod's 9p share, read-write
// and read-only; bad host paths and mount paths refused before any VM.
func TestHostVolumes(t *testing.T) {
	h := newHyperd(t)
	h.loadBusybox()
	rw, ro := t.TempDir(), t.TempDir()
	os.Chmod(rw, 0o777) // written by uid 1000 in the guest
	os.WriteFile(filepath.Join(ro, "in"), []byte("from host\n"), 0o644)
	out := h.ok("run", "--rm", "-u", "1000", "-v", rw+":/rw", "-v", ro+":/ro:ro", "busybox", "sh", "-c",
		"cat /ro/in; echo x > /rw/new && echo wrote; touch /ro/no 2>/dev/null || echo refused")
	if out != "from host\nwrote\nrefused\n" {
		t.Errorf("pod said %q", out)
	}
	var st syscall.Stat_t
	if err := syscall.Stat(filepath.Join(rw, "new"), &st); err != nil || st.Uid != 1000 {
		t.Errorf("file written by uid 1000 in the guest: %+v %v", st.Uid, err)
	}
	if _, err := os.Stat(filepath.Join(ro, "no")); err == nil {
		t.Error("a read-only host dir was written")
	}

	link := filepath.Join(t.TempDir(), "link")
	os.Symlink(filepath.Join(h.dir, "root"), link)
	for what, c := range map[string][2]string{
		"symlink escape": {link + ":/x", "resolves through a symlink"},
		"missing":        {"/nonexistent/dir:/x", "does not exist"},
		"proc":           {rw + ":/proc", "/proc belongs to the guest"},
		"dev":            {rw + ":/dev/x", "/dev belongs to the guest"},
	} {
		if _, errs, code := h.run("", "run", "-d", "-v", c[0], "busybox", "true"); code != 125 || !strings.Contains(errs, c[1]) {
			t.Errorf("%s: exit %d, %q", what, code, errs)
		}
	}
	if ps := h.ok("ps", "-a", "-q"); strings.TrimSpace(ps) != "" {
		t.Errorf("refused pods left behind: %q", ps)
	}
	waitFor(t, time.Minute, "the share's binds to go with the VM", func() bool {
		mi, _ := os.ReadFile("/proc/self/mountinfo")
		return !strings.Contains(string(mi), h.dir)
	})
}

// TestEmptyDir: a Kubernetes Pod whose two containers share an emptyDir.
func TestEmptyDir(t *testing.T) {
	h := newHyperd(t)
	h.loadBusybox()
	pod := filepath.Join(t.TempDir(), "pod.yaml")
	os.WriteFile(pod, []byte(`apiVersion: v1
kind: Pod
metadata: {name: shared}
spec:
  restartPolicy: Never
  containers:
  - name: writer
    image: busybox
    command: ["sh", "-c", "echo hello-from-writer > /out/msg; sleep 1000"]
    volumeMounts: [{name: scratch, mountPath: /out}]
  - name: reader
    image: busybox
    command: ["sh", "-c", "until [ -s /in/msg ]; do sleep 0.2; done; cat /in/msg; sleep 1000"]
    volumeMounts: [{name: scratch, mountPath: /in, readOnly: true}]
  volumes:
  - {name: scratch, emptyDir: {}}
`), 0o644)
	h.ok("run", "-d", "-p", pod)
	waitFor(t, 2*time.Minute, "the reader's output", func() bool {
		return strings.Contains(h.ok("logs", "-c", "reader", "shared"), "hello-from-writer")
	})
	if _, _, code := h.run("", "exec", "-c", "reader", "shared", "touch", "/in/x"); code == 0 {
		t.Error("reader wrote to its read-only mount")
	}
	h.ok("rm", "-f", "shared")
}
