package e2e

import (
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
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
	// attach to a container that is not the first: its output, then its
	// exit status, while the pod runs on.
	h.ok("create", "-c", "duo", "--name", "late", "busybox", "sh", "-c", "sleep 5; echo late-out; exit 7")
	out, stderr, code := h.run("", "attach", "--no-stdin", "duo/late")
	if out != "late-out\n" || code != 7 {
		t.Errorf("attach duo/late: %q %q exit %d", out, stderr, code)
	}
	if p, _ := h.client.GetPod(h.ctx(), "duo"); p.State != "running" {
		t.Errorf("the pod after its third container's exit: %s", p.State)
	}
	// A second pod with a container of the same name: the bare name is
	// ambiguous, and the error names both.
	h.ok("run", "-d", "--name", "other", "busybox", "sleep", "3600")
	h.ok("create", "-c", "other", "--name", "second", "busybox", "sleep", "3600")
	_, stderr, code = h.run("", "exec", "second", "true")
	if code == 0 || !strings.Contains(stderr, "duo/second") || !strings.Contains(stderr, "other/second") {
		t.Errorf("an ambiguous container name: code %d, %q", code, stderr)
	}
	if _, stderr, code := h.run("", "exec", "nosuch", "true"); code == 0 || !strings.Contains(stderr, "no such pod or container") {
		t.Errorf("exec nosuch: code %d, %q", code, stderr)
	}
}

// TestRunFlags: run's docker flags reach the pod: /etc/hosts entries
// (host-gateway included), rlimits, tmpfs and --mount mounts, groups, the
// stop settings, the restart policy and --cidfile; what a VM cannot do is
// refused clearly.
func TestRunFlags(t *testing.T) {
	h := newHyperd(t)
	h.loadBusybox()
	tmp := t.TempDir()
	if err := os.WriteFile(filepath.Join(tmp, "hello"), []byte("from the host\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	cid := filepath.Join(tmp, "cid")
	id := strings.TrimSpace(h.ok("run", "-d", "--name", "rf", "--init", "--cidfile", cid,
		"--add-host", "db.local:10.1.2.3", "--add-host", "gw.local:host-gateway",
		"--ulimit", "nofile=1024:2048", "--group-add", "123",
		"--tmpfs", "/scratch:size=16m", "--mount", "type=tmpfs,target=/t2,tmpfs-size=8388608",
		"--mount", "type=volume,source=rfvol,target=/vol", "--mount", "type=bind,source="+tmp+",target=/hostdir,readonly",
		"--restart", "on-failure:2", "--stop-signal", "SIGINT", "--stop-timeout", "3",
		"--log-driver", "json-file", "--shm-size", "128m", "busybox", "sleep", "3600"))
	if b, err := os.ReadFile(cid); err != nil || string(b) != id {
		t.Errorf("--cidfile: %q, %v; want %q", b, err, id)
	}
	hosts := h.ok("exec", "rf", "cat", "/etc/hosts")
	if !regexp.MustCompile(`(?m)^10\.1\.2\.3\s+db\.local$`).MatchString(hosts) ||
		!regexp.MustCompile(`(?m)^10\.0\.2\.2\s+gw\.local$`).MatchString(hosts) {
		t.Errorf("/etc/hosts:\n%s", hosts)
	}
	// The main process has them, and an exec inherits them (as docker's).
	for _, proc := range []string{"$(pidof sleep)", "self"} {
		out := h.ok("exec", "rf", "sh", "-c", "grep 'open files' /proc/"+proc+"/limits; grep Groups /proc/"+proc+"/status")
		if !regexp.MustCompile(`1024\s+2048`).MatchString(out) || !regexp.MustCompile(`Groups:.*\b123\b`).MatchString(out) {
			t.Errorf("--ulimit nofile=1024:2048 --group-add 123, /proc/%s: %q", proc, out)
		}
	}
	mounts := h.ok("exec", "rf", "cat", "/proc/mounts")
	for _, want := range []string{`/scratch tmpfs rw\S*size=16384k`, `/t2 tmpfs rw\S*size=8192k`, `/hostdir \S+ ro`, `/dev/shm tmpfs \S*size=131072k`} {
		if !regexp.MustCompile(want).MatchString(mounts) {
			t.Errorf("no mount %s in:\n%s", want, mounts)
		}
	}
	if out := h.ok("exec", "rf", "cat", "/hostdir/hello"); out != "from the host\n" {
		t.Errorf("bind mount: %q", out)
	}
	if _, _, code := h.run("", "exec", "rf", "touch", "/hostdir/x"); code == 0 {
		t.Error("a readonly bind mount was written")
	}
	h.ok("exec", "rf", "sh", "-c", "echo kept > /vol/f")
	if out := h.ok("volume", "ls", "-q"); !strings.Contains(out, "rfvol") {
		t.Errorf("--mount type=volume created no volume rfvol: %q", out)
	}
	p, err := h.client.GetPod(h.ctx(), "rf")
	if err != nil || p.Spec.RestartPolicy != "onFailure:2" || p.Spec.StopTimeout != 3 || p.Spec.Containers[0].StopSignal != "SIGINT" {
		t.Errorf("inspect: %+v, %v", p.Spec, err)
	}

	// --stop-signal and --stop-timeout: stop without -t sends SIGINT and
	// waits 3 s, not 10.
	h.ok("run", "-d", "--name", "sig", "--stop-signal", "SIGINT", "busybox", "sh", "-c",
		`trap "echo got-int; exit 0" INT; while true; do sleep 1; done`)
	h.ok("run", "-d", "--name", "deaf", "--stop-timeout", "2", "busybox", "sh", "-c",
		`trap "" TERM INT; while true; do sleep 1; done`)
	time.Sleep(time.Second) // the traps are set
	if out := h.ok("exec", "sig", "grep", "/dev/shm", "/proc/mounts"); !strings.Contains(out, "size=65536k") {
		t.Errorf("the default /dev/shm: %q", out)
	}
	h.ok("stop", "sig")
	if out, _, _ := h.run("", "logs", "sig"); out != "got-int\n" {
		t.Errorf("--stop-signal SIGINT: logs %q", out)
	}
	start := time.Now()
	h.ok("stop", "deaf")
	took := time.Since(start)
	t.Logf("stop of a pod ignoring SIGTERM with --stop-timeout 2: %v", took)
	if took < 2*time.Second || took > 8*time.Second {
		t.Errorf("stop with --stop-timeout 2 took %v", took)
	}

	// --restart on-failure:2: two restarts, then the pod exits.
	h.ok("run", "-d", "--name", "fail", "--restart", "on-failure:2", "busybox", "sh", "-c", "echo run; exit 3")
	waitFor(t, 2*time.Minute, "the failing pod to exit", func() bool {
		p, err := h.client.GetPod(h.ctx(), "fail")
		return err == nil && p.State == "exited"
	})
	p, _ = h.client.GetPod(h.ctx(), "fail")
	if p.ExitCode != 3 || p.Containers[0].RestartCount != 2 {
		t.Errorf("on-failure:2: exit %d, restarts %d", p.ExitCode, p.Containers[0].RestartCount)
	}

	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--device", "/dev/kvm"}, "a VM has no host devices; --device is not supported"},
		{[]string{"--gpus", "all"}, "--gpus is not supported"},
		{[]string{"--log-driver", "syslog"}, "only json-file and local"},
		{[]string{"--cidfile", cid}, "container ID file found"},
		{[]string{"--restart", "always", "--rm"}, "conflicting options"},
		{[]string{"--restart", "sometimes"}, "invalid restart policy"},
		{[]string{"--mount", "type=bind,source=/tmp,target=/x,bind-propagation=shared"}, `unknown key "bind-propagation"`},
		{[]string{"--tmpfs", "/x:noexec"}, `option "noexec" is not supported`},
		{[]string{"--ulimit", "nofile=10:5"}, "above the hard limit"},
		{[]string{"--add-host", "x:not-an-ip"}, "is not an IP address"},
		{[]string{"--network", "none", "--add-host", "x:host-gateway"}, "no host-gateway"},
		{[]string{"--stop-signal", "SIGNOPE"}, "stopSignal"},
		{[]string{"--shm-size", "lots"}, "--shm-size"},
	} {
		_, stderr, code := h.run("", append(append([]string{"run", "-d"}, tc.args...), "busybox", "true")...)
		if code == 0 || !strings.Contains(stderr, tc.want) {
			t.Errorf("run %v: exit %d, %q; want %q", tc.args, code, stderr, tc.want)
		}
	}
}

// TestRestartPolicyAtHyperdStart: when hyperd starts, an always pod that
// its user stopped is started again, an unless-stopped one is not; an
// unless-stopped pod whose VM died while hyperd was down is.
func TestRestartPolicyAtHyperdStart(t *testing.T) {
	h := newHyperd(t)
	h.loadBusybox()
	for _, p := range []struct{ name, policy string }{{"al", "always"}, {"us", "unless-stopped"}, {"crash", "unless-stopped"}, {"plain", "no"}} {
		h.ok("run", "-d", "--name", p.name, "--restart", p.policy, "busybox", "sleep", "3600")
	}
	h.ok("stop", "-t", "0", "al", "us")
	// hyperd dies at once: their VMs may be ending, their state not yet
	// cleaned; the next hyperd removes what is left (vm.RemoveStale).
	crashed, err := h.client.GetPod(h.ctx(), "crash")
	if err != nil {
		t.Fatal(err)
	}
	h.kill9()
	// The VM of "crash" dies while hyperd is down (a host reboot would do
	// the same); plain's lives on.
	if err := syscall.Kill(crashed.VM.Pid, syscall.SIGKILL); err != nil {
		t.Fatalf("killing the VM of crash: %v", err)
	}
	h.start()
	state := func(name string) string {
		p, err := h.client.GetPod(h.ctx(), name)
		if err != nil {
			return err.Error()
		}
		return p.State
	}
	waitFor(t, 2*time.Minute, "al and crash to run again", func() bool {
		return state("al") == "running" && state("crash") == "running"
	})
	if s := state("us"); s != "exited" {
		t.Errorf("an unless-stopped pod stopped by its user is %s after hyperd's start", s)
	}
	if s := state("plain"); s != "running" {
		t.Errorf("a pod whose VM lived is %s after hyperd's start (re-attached)", s)
	}
	if out := h.ok("exec", "crash", "echo", "up"); out != "up\n" {
		t.Errorf("exec in the restarted pod: %q", out)
	}
	// Started again by its user, an unless-stopped pod is restartable again.
	h.ok("start", "us")
	p, _ := h.client.GetPod(h.ctx(), "us")
	if p.State != "running" {
		t.Errorf("us after start: %s", p.State)
	}
}

// TestLogOpts: --log-opt max-size and max-file rotate this pod's logs
// (hyperd's configuration keeps 10 MB and 3 files for the others).
func TestLogOpts(t *testing.T) {
	h := newHyperd(t)
	h.loadBusybox()
	id := strings.TrimSpace(h.ok("run", "-d", "--log-opt", "max-size=4k", "--log-opt", "max-file=2", "busybox", "sh", "-c",
		`i=0; while [ $i -lt 400 ]; do echo line-$i-xxxxxxxxxxxxxxxxxxxxxxxxxxxxxx; i=$((i+1)); done`))
	h.ok("wait", id)
	out := h.ok("logs", id)
	lines := strings.Split(strings.TrimSpace(out), "\n")
	t.Logf("%d of 400 lines kept", len(lines))
	if len(lines) >= 400 || len(lines) < 20 || !strings.HasPrefix(lines[len(lines)-1], "line-399-") {
		t.Errorf("logs after rotation: %d lines, last %q", len(lines), lines[len(lines)-1])
	}
	files, _ := filepath.Glob(filepath.Join(h.dir, "root", "pods", id, "logs", "*"))
	if len(files) == 0 || len(files) > 2 {
		t.Errorf("log files: %v", files)
	}
	if _, stderr, code := h.run("", "run", "-d", "--log-opt", "compress=true", "busybox"); code == 0 || !strings.Contains(stderr, "only max-size and max-file") {
		t.Errorf("--log-opt compress: %d %q", code, stderr)
	}
}

// TestPublishAll: -P publishes the image's EXPOSE ports on free host
// ports, beside -p's; the port answers from the host.
func TestPublishAll(t *testing.T) {
	h := newHyperd(t)
	h.loadBusybox()
	im, err := mutate.Config(busyboxImage(t), v1.Config{Cmd: []string{"httpd", "-f", "-p", "8080", "-h", "/etc"},
		ExposedPorts: map[string]struct{}{"8080/tcp": {}, "9999/udp": {}}})
	if err != nil {
		t.Fatal(err)
	}
	h.loadImage("exposer:latest", im)
	h.ok("run", "-d", "--name", "pa", "-P", "exposer")
	p, err := h.client.GetPod(h.ctx(), "pa")
	if err != nil {
		t.Fatal(err)
	}
	var tcp int
	for _, b := range p.Ports {
		if b.ContainerPort == 8080 && b.Protocol == "tcp" {
			tcp = b.HostPort
		}
	}
	if len(p.Ports) != 2 || tcp == 0 {
		t.Fatalf("-P published %+v", p.Ports)
	}
	out := h.ok("port", "pa")
	t.Logf("port pa:\n%s", out)
	waitFor(t, time.Minute, "the published port to answer", func() bool {
		resp, err := http.Get(fmt.Sprintf("http://127.0.0.1:%d/hostname", tcp))
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == 200
	})
	if _, stderr, code := h.run("", "run", "-d", "-P", "--network", "none", "exposer"); code == 0 || !strings.Contains(stderr, "cannot publish") {
		t.Errorf("-P --network none: %d %q", code, stderr)
	}
}
