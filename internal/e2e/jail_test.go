package e2e

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/hyperhq/hyper/internal/jail"
	"github.com/hyperhq/hyper/internal/testenv"
)

// jailUser is the user jailed QEMUs run as (hack/install-deps.sh).
func jailUser(t testing.TB) jail.Identity {
	t.Helper()
	u, err := jail.LookupUser("hyper-qemu")
	if err != nil {
		testenv.Unavailable(t, "%v", err)
	}
	return u
}

// podQemu is the pid of a running pod's QEMU.
func podQemu(t testing.TB, h *hyperd, pod string) int {
	t.Helper()
	pid, err := strconv.Atoi(strings.TrimSpace(h.inspect(pod, "{{.VM.Pid}}")))
	if err != nil || pid <= 0 {
		t.Fatalf("pod %s's QEMU: %q %v", pod, h.inspect(pod, "{{.VM.Pid}}"), err)
	}
	return pid
}

// procField is the first word of a field of /proc/PID/status.
func procField(t testing.TB, pid int, field string) string {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		if k, v, ok := strings.Cut(line, ":"); ok && k == field {
			return strings.Fields(v)[0]
		}
	}
	return ""
}

// memoryCgroup is the memory cgroup directory of process pid (v1).
func memoryCgroup(t testing.TB, pid int) string {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/cgroup", pid))
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		if f := strings.SplitN(line, ":", 3); len(f) == 3 && f[1] == "memory" {
			return filepath.Join("/sys/fs/cgroup/memory", f[2])
		}
	}
	t.Fatalf("qemu %d has no memory cgroup: %s", pid, b)
	return ""
}

// TestJailedPods: with the default configuration every pod's QEMU runs as
// the jail's user, filtered, without new privileges, in a root holding its
// own pod's files only and a cgroup limited to its memory plus the
// overhead; as that user, hyperd's state (database, disks, templates) is
// out of reach from the host; a restarted hyperd re-attaches to them; the
// cgroups go with the pods.
func TestJailedPods(t *testing.T) {
	u := jailUser(t)
	h := newHyperd(t)
	h.loadBusybox()
	h.ok("run", "-d", "--name", "a", "busybox", "sleep", "1000")
	h.ok("run", "-d", "--name", "b", "-v", "data:/data", "busybox", "sleep", "1000")
	var cgroups []string
	for _, pod := range []string{"a", "b"} {
		pid := podQemu(t, h, pod)
		if uid, sc, nnp := procField(t, pid, "Uid"), procField(t, pid, "Seccomp"), procField(t, pid, "NoNewPrivs"); uid != strconv.Itoa(u.UID) || sc != "2" || nnp != "1" {
			t.Errorf("pod %s's QEMU: uid %s, seccomp %s, no_new_privs %s", pod, uid, sc, nnp)
		}
		ents, err := os.ReadDir(fmt.Sprintf("/proc/%d/root", pid))
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range ents {
			// The system's directories, the boot files' and shares' first
			// path components (the test's temp dirs, /work, /var...).
			if !slices.Contains([]string{"usr", "lib", "lib64", "bin", "sbin", "etc", "dev", "proc", "tmp", "var", "work", "root"}, e.Name()) {
				t.Errorf("pod %s's jail has /%s", pod, e.Name())
			}
		}
		if _, err := os.Stat(fmt.Sprintf("/proc/%d/root%s/root/hyperd.db", pid, h.dir)); !os.IsNotExist(err) {
			t.Errorf("pod %s's jail holds hyperd's database (%v)", pod, err)
		}
		cg := memoryCgroup(t, pid)
		if !strings.Contains(cg, "/hyper/") {
			t.Errorf("pod %s's QEMU is in cgroup %s", pod, cg)
		}
		limit, _ := os.ReadFile(filepath.Join(cg, "memory.limit_in_bytes"))
		if want := strconv.Itoa((256 + 320) << 20); strings.TrimSpace(string(limit)) != want {
			t.Errorf("pod %s's memory limit %q, want %s", pod, limit, want)
		}
		cgroups = append(cgroups, cg)
	}
	// Every file of hyperd's state, as the QEMU user from the host: none
	// writable, templates' not even readable.
	var files, templates []string
	filepath.WalkDir(filepath.Join(h.dir, "root"), func(p string, d os.DirEntry, err error) error {
		if err == nil && d.Type().IsRegular() {
			files = append(files, p)
			if strings.Contains(p, "/templates/") {
				templates = append(templates, p)
			}
		}
		return nil
	})
	if len(templates) == 0 || !slices.ContainsFunc(files, func(p string) bool { return strings.HasSuffix(p, "hyperd.db") }) {
		t.Fatalf("no template or database among %d files", len(files))
	}
	if got := asUser(t, u, "-w", files); len(got) > 0 {
		t.Errorf("writable by %s: %q", u.Name, got)
	}
	if got := asUser(t, u, "-r", templates); len(got) > 0 {
		t.Errorf("template files readable by %s: %q", u.Name, got)
	}
	// hyperd restarted (killed): it re-attaches to the jailed QEMUs through
	// their sockets, and removes the empty cgroups of VMs gone meanwhile
	// but not the running ones'.
	pids := []int{podQemu(t, h, "a"), podQemu(t, h, "b")}
	stale := filepath.Join(filepath.Dir(cgroups[0]), "stale-e2e")
	if err := os.Mkdir(stale, 0o755); err != nil {
		t.Fatal(err)
	}
	h.kill9()
	h.start()
	// hyperd listens before it has taken over its VMs: the sweep may come
	// just after the socket.
	gone := func() bool { _, err := os.Stat(stale); return os.IsNotExist(err) }
	for end := time.Now().Add(10 * time.Second); !gone() && time.Now().Before(end); {
		time.Sleep(50 * time.Millisecond)
	}
	if !gone() {
		os.Remove(stale)
		t.Errorf("stale cgroup %s kept at hyperd's start", stale)
	}
	for i, pod := range []string{"a", "b"} {
		if pid := podQemu(t, h, pod); pid != pids[i] {
			t.Errorf("pod %s's QEMU after the restart: %d, was %d", pod, pid, pids[i])
		}
		if _, err := os.Stat(cgroups[i]); err != nil {
			t.Errorf("pod %s's cgroup after the restart: %v", pod, err)
		}
	}
	if out := h.ok("exec", "a", "echo", "hi"); out != "hi\n" {
		t.Errorf("exec in a re-attached jailed pod: %q", out)
	}
	h.ok("rm", "-f", "a", "b")
	for _, cg := range cgroups {
		waitFor(t, 10*time.Second, "cgroup "+cg+" to go", func() bool { _, err := os.Stat(cg); return os.IsNotExist(err) })
	}
	h.ok("volume", "rm", "data")
}

// asUser returns the files test(1) op ("-r", "-w") holds for, run as u.
func asUser(t *testing.T, u jail.Identity, op string, files []string) []string {
	t.Helper()
	cmd := exec.Command("sh", append([]string{"-c", `for f; do [ ` + op + ` "$f" ] && echo "$f"; done; true`, "sh"}, files...)...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: uint32(u.UID), Gid: uint32(u.GID)}}
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("checking access as %s: %v", u.Name, err)
	}
	return strings.Fields(string(out))
}

// BenchmarkJail measures what the jail costs, interleaved in one run:
// `hyperctl run --rm busybox true` with a jailed QEMU (the default) and
// with [jail] enabled = false; then the peak memory of a jailed pod's
// cgroup whose guest fills its RAM (page cache), against its limit. Run
// with -benchtime 1x.
func BenchmarkJail(b *testing.B) {
	jailUser(b)
	h := newHyperd(b)
	h.loadBusybox()
	open := newHyperdConfig(b, "[jail]\nenabled = false\n")
	open.loadBusybox()
	h.ok("run", "--rm", "busybox", "true") // the rootfs and template, not measured
	open.ok("run", "--rm", "busybox", "true")
	var jailed, unjailed []time.Duration
	for i := 0; i < testenv.Runs(); i++ {
		for _, m := range []struct {
			h    *hyperd
			into *[]time.Duration
		}{{h, &jailed}, {open, &unjailed}} {
			start := time.Now()
			m.h.ok("run", "--rm", "busybox", "true")
			*m.into = append(*m.into, time.Since(start))
		}
	}
	h.ok("run", "-d", "--name", "fill", "busybox", "sh", "-c",
		"dd if=/dev/zero of=/f bs=1M count=400 2>/dev/null; cat /f /f > /dev/null; echo filled; exec sleep 1000")
	waitFor(b, 5*time.Minute, "the guest to fill its memory", func() bool { return strings.Contains(h.ok("logs", "fill"), "filled") })
	pid := podQemu(b, h, "fill")
	cg := memoryCgroup(b, pid)
	peak, _ := os.ReadFile(filepath.Join(cg, "memory.max_usage_in_bytes"))
	fails, _ := os.ReadFile(filepath.Join(cg, "memory.failcnt"))
	stat, _ := os.ReadFile(filepath.Join(cg, "memory.stat"))
	kmem, _ := os.ReadFile(filepath.Join(cg, "memory.kmem.max_usage_in_bytes"))
	var now []string // of the memory now charged: page cache, anonymous, kernel
	for _, line := range strings.Split(string(stat), "\n") {
		if k, v, ok := strings.Cut(line, " "); ok && (k == "cache" || k == "rss" || k == "mapped_file") {
			n, _ := strconv.Atoi(v)
			now = append(now, fmt.Sprintf("%s %d MiB", k, n>>20))
		}
	}
	kmemMB, _ := strconv.Atoi(strings.TrimSpace(string(kmem)))
	now = append(now, fmt.Sprintf("kmem peak %d MiB", kmemMB>>20))
	peakMB, _ := strconv.Atoi(strings.TrimSpace(string(peak)))
	peakMB >>= 20
	fmt.Printf("\njail cost, %d runs each, %s:\n", len(jailed), h.env.Config.Accel.Kind)
	fmt.Printf("  run --rm busybox true jailed:   p50 %4dms p90 %4dms\n", testenv.Pct(jailed, 50).Milliseconds(), testenv.Pct(jailed, 90).Milliseconds())
	fmt.Printf("  run --rm busybox true unjailed: p50 %4dms p90 %4dms\n", testenv.Pct(unjailed, 50).Milliseconds(), testenv.Pct(unjailed, 90).Milliseconds())
	fmt.Printf("  guest filling 256 MiB: cgroup peak %d MiB (limit %d MiB, failcnt %s), QEMU VmHWM %s kB\n",
		peakMB, 256+320, strings.TrimSpace(string(fails)), procField(b, pid, "VmHWM"))
	fmt.Printf("  charged at the end: %s\n", strings.Join(now, ", "))
	b.ReportMetric(float64(testenv.Pct(jailed, 50).Milliseconds()), "jailed-p50-ms")
	b.ReportMetric(float64(testenv.Pct(unjailed, 50).Milliseconds()), "unjailed-p50-ms")
	b.ReportMetric(float64(peakMB-256), "overhead-MiB")
	h.ok("rm", "-f", "fill")
}
