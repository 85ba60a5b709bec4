package e2e

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/hyperhq/hyper/internal/testenv"
)

// The capability masks of /proc/PID/status (the guest kernel has 41).
const (
	dockerCaps = "00000000a80425fb" // Docker's default set
	allCaps    = "000001ffffffffff"
	sysAdmin   = 1 << 21
)

// statusScript prints the security lines of the shell's own status.
const statusScript = `grep -E '^(CapInh|CapPrm|CapEff|CapBnd|CapAmb|NoNewPrivs|Seccomp):' /proc/self/status`

// procStatus reads "Key:\tvalue" lines into a map.
func procStatus(out string) map[string]string {
	m := map[string]string{}
	for _, line := range strings.Split(out, "\n") {
		if k, v, ok := strings.Cut(line, ":"); ok {
			m[strings.TrimSpace(k)] = strings.TrimSpace(v)
		}
	}
	return m
}

// loadSecTest loads "sectest": busybox with sectool (testdata/sectool:
// prints its euid, or makes one syscall Docker's profile denies) and a
// setuid-root copy of it.
func (h *hyperd) loadSecTest() {
	h.t.Helper()
	bin, err := os.ReadFile(testenv.Binary(h.t, "./internal/e2e/testdata/sectool"))
	if err != nil {
		h.t.Fatal(err)
	}
	h.loadStandIn("sectest:latest", []string{"sh"},
		layerFile{name: "bin/sectool", mode: 0o755, body: string(bin)},
		layerFile{name: "bin/sectool-suid", mode: 0o4755, body: string(bin)})
}

// TestSecurityDefaults: a container runs with Docker's defaults: its
// capabilities, its seccomp profile, its masked and read-only paths.
func TestSecurityDefaults(t *testing.T) {
	h := newHyperd(t)
	h.loadSecTest()
	out := h.ok("run", "--rm", "sectest", "sh", "-c", statusScript+`
mkdir -p /mnt; mount -t tmpfs none /mnt 2>/dev/null && echo mount=ok || echo mount=denied
echo kcore=$(head -c 16 /proc/kcore 2>/dev/null | wc -c) interrupts=$(stat -c %t:%T /proc/interrupts)
echo sysrq=$(echo h 2>/dev/null > /proc/sysrq-trigger && echo ok || echo denied)
date -s 2000-01-01 2>&1; echo year=$(date +%Y)
reboot -f >/dev/null 2>&1; echo reboot=survived
for c in add_key unshare-uts init_module settimeofday; do sectool $c; done`)
	st := procStatus(out)
	for k, want := range map[string]string{"CapEff": dockerCaps, "CapPrm": dockerCaps, "CapBnd": dockerCaps,
		"CapInh": "0000000000000000", "CapAmb": "0000000000000000", "Seccomp": "2", "NoNewPrivs": "0",
		"mount": "denied", "kcore=0 interrupts=1:3": "", "sysrq": "denied", "!year=2000": "", "reboot": "survived",
		"add_key=EPERM": "", "unshare-uts=EPERM": "", "init_module=EPERM": "", "settimeofday=EPERM": ""} {
		if not, ok := strings.CutPrefix(k, "!"); ok {
			if strings.Contains(out, not+"\n") {
				t.Errorf("did not want %s", not)
			}
			continue
		}
		if strings.Contains(k, "=") {
			if !strings.Contains(out, k+"\n") {
				t.Errorf("want %s", k)
			}
			continue
		}
		if got := st[k]; got != want && !strings.Contains(out, k+"="+want+"\n") {
			t.Errorf("%s: %q, want %q", k, got, want)
		}
	}
	if t.Failed() {
		t.Logf("output:\n%s", out)
	}
}

// TestSecurityFlags: --privileged, --cap-drop, --cap-add and
// --security-opt change the defaults as in docker.
func TestSecurityFlags(t *testing.T) {
	h := newHyperd(t)
	h.loadSecTest()
	for _, tc := range []struct {
		what  string
		flags []string
		want  map[string]string
		lines []string
	}{
		{"privileged", []string{"--privileged"}, map[string]string{"CapEff": allCaps, "CapBnd": allCaps, "Seccomp": "0"},
			[]string{"mount=ok", "!add_key=EPERM"}},
		{"cap-drop ALL", []string{"--cap-drop", "ALL"}, map[string]string{"CapEff": "0000000000000000", "CapBnd": "0000000000000000", "Seccomp": "2"},
			[]string{"mount=denied"}},
		{"cap-add SYS_ADMIN", []string{"--cap-add", "sys_admin"}, map[string]string{"CapEff": "00000000a82425fb", "Seccomp": "2"},
			[]string{"mount=ok", "unshare-uts=ok", "add_key=EPERM"}},
		{"seccomp unconfined", []string{"--security-opt", "seccomp=unconfined"}, map[string]string{"CapEff": dockerCaps, "Seccomp": "0"},
			[]string{"!add_key=EPERM", "mount=denied"}},
	} {
		args := append(append([]string{"run", "--rm"}, tc.flags...), "sectest", "sh", "-c", statusScript+`
mkdir -p /mnt; mount -t tmpfs none /mnt 2>/dev/null && echo mount=ok || echo mount=denied
sectool add_key; sectool unshare-uts`)
		out := h.ok(args...)
		st := procStatus(out)
		for k, want := range tc.want {
			if st[k] != want {
				t.Errorf("%s: %s %q, want %q", tc.what, k, st[k], want)
			}
		}
		for _, l := range tc.lines {
			if not, ok := strings.CutPrefix(l, "!"); ok {
				if strings.Contains(out, not+"\n") {
					t.Errorf("%s: did not want %s in\n%s", tc.what, not, out)
				}
			} else if !strings.Contains(out, l+"\n") {
				t.Errorf("%s: want %s in\n%s", tc.what, l, out)
			}
		}
	}
	if _, errs, code := h.run("", "run", "--rm", "--cap-add", "CAP_FLY", "sectest", "true"); code != 125 || !strings.Contains(errs, "CAP_FLY") {
		t.Errorf("unknown capability: exit %d, %q", code, errs)
	}
	if _, errs, code := h.run("", "run", "--rm", "--security-opt", "seccomp=localhost/../../etc/passwd", "sectest", "true"); code != 125 || !strings.Contains(errs, "not a path inside") {
		t.Errorf("escaping profile: exit %d, %q", code, errs)
	}
}

// TestNoNewPrivileges: with no-new-privileges a setuid-root binary run by
// another user does not become root; without, it does.
func TestNoNewPrivileges(t *testing.T) {
	h := newHyperd(t)
	h.loadSecTest()
	out := h.ok("run", "--rm", "-u", "1000", "--security-opt", "no-new-privileges", "sectest", "sh", "-c", statusScript+"; sectool-suid euid")
	if st := procStatus(out); st["NoNewPrivs"] != "1" || st["CapEff"] != "0000000000000000" || !strings.Contains(out, "euid=1000\n") {
		t.Errorf("no-new-privileges:\n%s", out)
	}
	if out := h.ok("run", "--rm", "-u", "1000", "sectest", "sectool-suid", "euid"); !strings.Contains(out, "euid=0\n") {
		t.Errorf("without no-new-privileges a setuid binary does not become root: %q", out)
	}
}

// TestSecurityPodFile: a Kubernetes Pod's securityContext, at pod and
// container level; runAsNonRoot against the image's user.
func TestSecurityPodFile(t *testing.T) {
	h := newHyperd(t)
	h.loadSecTest()
	dir := t.TempDir()
	pod := filepath.Join(dir, "pod.yaml")
	os.WriteFile(pod, []byte(`apiVersion: v1
kind: Pod
metadata: {name: confined}
spec:
  restartPolicy: Never
  securityContext:
    runAsUser: 1000
    runAsNonRoot: true
    seccompProfile: {type: RuntimeDefault}
  containers:
  - name: main
    image: sectest
    command: [sh, -c, "`+statusScript+`; sectool add_key; sectool-suid euid"]
    securityContext:
      allowPrivilegeEscalation: false
      capabilities: {drop: [ALL], add: [NET_BIND_SERVICE]}
`), 0o644)
	out := h.ok("run", "--rm", "-p", pod)
	if st := procStatus(out); st["CapBnd"] != "0000000000000400" || st["NoNewPrivs"] != "1" || st["Seccomp"] != "2" ||
		!strings.Contains(out, "add_key=EPERM\n") || !strings.Contains(out, "euid=1000\n") {
		t.Errorf("pod file:\n%s", out)
	}
	root := filepath.Join(dir, "root.yaml")
	os.WriteFile(root, []byte(`apiVersion: v1
kind: Pod
metadata: {name: rootless}
spec:
  securityContext: {runAsNonRoot: true}
  containers: [{name: main, image: sectest, command: ["true"]}]
`), 0o644)
	if _, errs, code := h.run("", "create", "-p", root); code != 125 || !regexp.MustCompile(`runAsNonRoot.*root`).MatchString(errs) {
		t.Errorf("runAsNonRoot with a root image: exit %d, %q", code, errs)
	}
}

// TestExecSecurity: an exec inherits its container's capabilities,
// seccomp filter and no-new-privileges; exec --privileged gets every
// capability and keeps the filter, as docker exec.
func TestExecSecurity(t *testing.T) {
	h := newHyperd(t)
	h.loadSecTest()
	h.ok("run", "-d", "--name", "ex", "--cap-drop", "ALL", "--cap-add", "KILL", "--security-opt", "no-new-privileges", "sectest", "sleep", "1000")
	waitFor(t, 30*time.Second, "the pod to run", func() bool { return strings.Contains(h.ok("ps"), "ex") })
	st := procStatus(h.ok("exec", "ex", "sh", "-c", statusScript))
	if st["CapEff"] != "0000000000000020" || st["CapBnd"] != "0000000000000020" || st["Seccomp"] != "2" || st["NoNewPrivs"] != "1" {
		t.Errorf("exec: %v", st)
	}
	st = procStatus(h.ok("exec", "--privileged", "ex", "sh", "-c", statusScript))
	if st["CapEff"] != allCaps || st["Seccomp"] != "2" || st["NoNewPrivs"] != "1" {
		t.Errorf("exec --privileged: %v", st)
	}
	if _, errs, code := h.run("", "exec", "--vm", "--privileged", "ex", "true"); code != 125 || !strings.Contains(errs, "--privileged is for containers") {
		t.Errorf("exec --vm --privileged: exit %d, %q", code, errs)
	}
	h.ok("rm", "-f", "ex")
}

// TestSecurityAcrossDaemonRestart: a container created with its own
// security settings starts with them after hyperd restarted.
func TestSecurityAcrossDaemonRestart(t *testing.T) {
	h := newHyperd(t)
	h.loadSecTest()
	h.ok("create", "--name", "later", "--cap-drop", "ALL", "--security-opt", "no-new-privileges", "sectest", "sh", "-c", statusScript)
	h.cmd.Process.Signal(syscall.SIGTERM) // a stop, not a crash: the template VM hyperd builds at start goes too
	h.cmd.Wait()
	h.start()
	h.ok("start", "later")
	var st map[string]string
	waitFor(t, 60*time.Second, "the container's output", func() bool {
		st = procStatus(h.ok("logs", "later"))
		return st["Seccomp"] != ""
	})
	if st["CapEff"] != "0000000000000000" || st["CapBnd"] != "0000000000000000" || st["NoNewPrivs"] != "1" || st["Seccomp"] != "2" {
		t.Errorf("after a restart of hyperd: %v", st)
	}
	h.ok("rm", "-f", "later")
}
