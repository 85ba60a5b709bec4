package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hyperhq/hyper/internal/api"
	"github.com/hyperhq/hyper/internal/api/apitest"
	"github.com/hyperhq/hyper/internal/api/types"
	"github.com/hyperhq/hyper/internal/errdefs"
)

const podID = "c0ffee0123456789c0ffee0123456789c0ffee0123456789c0ffee0123456789"

// fakeDaemon is a Backend with one pod whose process prints, echoes its
// stdin and exits with exitCode once started.
type fakeDaemon struct {
	mu       sync.Mutex
	order    []string
	spec     types.PodSpec
	execSpec types.ExecSpec
	exitCode int
	started  chan struct{}
	exited   chan struct{}
	killed   []int
	removed  []string
	loaded   []byte
	state    string
	// attachErr fails Attach after the upgrade.
	attachErr error
}

func newFakeDaemon() *fakeDaemon {
	return &fakeDaemon{started: make(chan struct{}), exited: make(chan struct{}), state: types.StateCreated}
}

func (f *fakeDaemon) note(s string) {
	f.mu.Lock()
	f.order = append(f.order, s)
	f.mu.Unlock()
}

func (f *fakeDaemon) pod() types.Pod {
	f.mu.Lock()
	defer f.mu.Unlock()
	spec := f.spec
	if len(spec.Containers) == 0 {
		spec.Containers = []types.ContainerSpec{{Image: "busybox", Cmd: []string{"sh"}}}
	}
	return types.Pod{ID: podID, Name: "web", State: f.state, Created: time.Now().Add(-time.Hour), Spec: spec,
		Containers: []types.Container{{Name: "main", Image: "docker.io/library/busybox:latest", Command: []string{"sh"}}}}
}

func (f *fakeDaemon) Create(ctx context.Context, spec types.PodSpec) (types.CreateResponse, error) {
	f.note("create")
	if spec.Containers[0].Image == "missing" {
		return types.CreateResponse{}, errdefs.NotFound("no such image: missing")
	}
	f.mu.Lock()
	f.spec = spec
	f.mu.Unlock()
	return types.CreateResponse{ID: podID}, nil
}

func (f *fakeDaemon) Start(ctx context.Context, id string) error {
	f.note("start")
	f.mu.Lock()
	f.state = types.StateRunning
	f.mu.Unlock()
	close(f.started)
	return nil
}

func (f *fakeDaemon) Stop(ctx context.Context, id string, timeout time.Duration) error {
	if id == "gone" {
		return errdefs.NotFound("no such pod: gone")
	}
	f.note("stop " + id + " " + timeout.String())
	return nil
}

func (f *fakeDaemon) Kill(ctx context.Context, id string, signal int) error {
	f.mu.Lock()
	f.killed = append(f.killed, signal)
	f.mu.Unlock()
	return nil
}

func (f *fakeDaemon) Remove(ctx context.Context, id string, force bool) error {
	if id == "gone" {
		return errdefs.NotFound("no such pod: gone")
	}
	f.mu.Lock()
	f.removed = append(f.removed, id)
	f.mu.Unlock()
	return nil
}

func (f *fakeDaemon) List(ctx context.Context, all bool) ([]types.Pod, error) {
	return []types.Pod{f.pod()}, nil
}

func (f *fakeDaemon) Get(ctx context.Context, id string) (types.Pod, error) {
	if id != podID && id != "web" {
		return types.Pod{}, errdefs.NotFound("no such pod: %s", id)
	}
	return f.pod(), nil
}

func (f *fakeDaemon) Wait(ctx context.Context, id string, ready func()) (types.WaitResponse, error) {
	f.note("wait")
	ready()
	select {
	case <-f.exited:
		return types.WaitResponse{ExitCode: f.exitCode}, nil
	case <-ctx.Done():
		return types.WaitResponse{}, ctx.Err()
	}
}

// process is the pod's main process (or an exec): output, stdin echoed,
// exit.
func (f *fakeDaemon) process(stdio api.Stdio) error {
	io.WriteString(stdio.Stdout, "hello\n")
	if stdio.Stderr != nil {
		io.WriteString(stdio.Stderr, "warn\n")
	}
	if stdio.Stdin != nil {
		if _, err := io.Copy(stdio.Stdout, stdio.Stdin); err != nil {
			return err
		}
	}
	return nil
}

func (f *fakeDaemon) Attach(ctx context.Context, id, container string, stdio api.Stdio) error {
	f.note("attach")
	if f.attachErr != nil {
		return f.attachErr
	}
	stdio.Attached() // connected: the client is answered now
	select {
	case <-f.started:
	case <-ctx.Done():
		return ctx.Err()
	}
	err := f.process(stdio)
	close(f.exited)
	return err
}

func (f *fakeDaemon) Logs(ctx context.Context, id string, o types.LogOptions, fn func(types.LogEntry) error) error {
	t0 := time.Date(2024, 1, 2, 3, 4, 5, 0, time.UTC)
	for _, e := range []types.LogEntry{{Stream: "stdout", Log: "out line\n", Time: t0}, {Stream: "stderr", Log: "err line\n", Time: t0}} {
		if err := fn(e); err != nil {
			return err
		}
	}
	return nil
}

func (f *fakeDaemon) Resize(ctx context.Context, id, container string, rows, cols uint16) error {
	return nil
}

func (f *fakeDaemon) CreateExec(ctx context.Context, pod string, spec types.ExecSpec) (types.CreateResponse, error) {
	if pod != "web" {
		return types.CreateResponse{}, errdefs.NotFound("no such pod: %s", pod)
	}
	f.mu.Lock()
	f.execSpec = spec
	f.mu.Unlock()
	return types.CreateResponse{ID: "e1"}, nil
}

func (f *fakeDaemon) StartExec(ctx context.Context, id string, stdio api.Stdio) error {
	if f.execSpec.Cmd[0] == "nonexistent" {
		return errors.New("exec: \"nonexistent\": executable file not found")
	}
	return f.process(stdio)
}

func (f *fakeDaemon) ResizeExec(ctx context.Context, id string, rows, cols uint16) error { return nil }

func (f *fakeDaemon) InspectExec(ctx context.Context, id string) (types.ExecInfo, error) {
	return types.ExecInfo{ID: id, PodID: podID, ExitCode: f.exitCode}, nil
}

type fakeImages struct{ f *fakeDaemon }

var testImage = types.Image{ID: "sha256:" + strings.Repeat("ab", 32), Names: []string{"docker.io/library/busybox:latest"}, Size: 4_400_000, Created: time.Now().Add(-48 * time.Hour)}

func (i fakeImages) Load(ctx context.Context, r io.Reader) ([]types.Image, error) {
	b, err := io.ReadAll(r)
	i.f.mu.Lock()
	i.f.loaded = b
	i.f.mu.Unlock()
	return []types.Image{testImage}, err
}

func (i fakeImages) Save(ctx context.Context, w io.Writer, refs []string, format string) error {
	if refs[0] == "broken" {
		io.WriteString(w, "partial")
		return errors.New("blob missing")
	}
	_, err := io.WriteString(w, "TAR:"+strings.Join(refs, ",")+":"+format)
	return err
}

func (i fakeImages) List(ctx context.Context) ([]types.Image, error) {
	return []types.Image{testImage}, nil
}

func (i fakeImages) Remove(ctx context.Context, ref string, force bool) error {
	if ref != "busybox" {
		return errdefs.NotFound("no such image: %s", ref)
	}
	return nil
}

func (f *fakeDaemon) Info(ctx context.Context) (types.Info, error) {
	return types.Info{Version: "0.1", Hypervisor: "qemu", HypervisorVersion: "8.2", Accel: "tcg", AccelReason: "/dev/kvm: permission denied",
		Kernel: "/k", Initrd: "/i", Root: "/var/lib/hyper", Pods: 3, PodsRunning: 1, Images: 2,
		Isolation: types.Isolation{Mechanism: "software emulation", Note: "TCG: not a boundary"},
		API:       []types.APIListener{{Host: "unix:///s", Security: "unix socket"}, {Host: "tcp://0.0.0.0:2376", Security: "mutual TLS"}}}, nil
}

func (f *fakeDaemon) Version() types.Version {
	return types.Version{Version: "0.1", APIVersion: "v1", GoVersion: "go1.x", Os: "linux", Arch: "amd64"}
}

// serve runs the real API server on a fake daemon and returns -H's value.
func serve(t *testing.T, f *fakeDaemon) string {
	t.Helper()
	return "unix://" + apitest.Serve(t, fakeBackend(f), nil)
}

// fakeBackend is everything the API serves, from f.
func fakeBackend(f *fakeDaemon) api.Backend {
	return api.Backend{Pods: f, Streams: f, Execs: f, Images: fakeImages{f}, System: f, Containers: fakeContainers{f}}
}

type result struct {
	code     int
	out, err string
}

func hyperctl(t *testing.T, host string, stdin string, args ...string) result {
	t.Helper()
	var out, errb bytes.Buffer
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if host != "" { // "": HYPER_HOST's
		args = append([]string{"-H", host}, args...)
	}
	code := Run(ctx, args, Streams{In: strings.NewReader(stdin), Out: &out, Err: &errb})
	return result{code, out.String(), errb.String()}
}

func TestRunForeground(t *testing.T) {
	f := newFakeDaemon()
	f.exitCode = 3
	host := serve(t, f)
	r := hyperctl(t, host, "piped input\n", "run", "-i", "--rm", "-e", "A=1", "busybox", "cat", "-n")
	if r.code != 3 || r.out != "hello\npiped input\n" || r.err != "warn\n" {
		t.Fatalf("run: %+v", r)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	// Attach and wait are in place before the start (the backend sees the
	// attach only after the upgrade, so their order may vary).
	if !attachWaitThenStart(f.order, "create") {
		t.Errorf("order %v", f.order)
	}
	c := f.spec.Containers[0]
	if !f.spec.AutoRemove || !c.OpenStdin || c.Tty || strings.Join(c.Cmd, " ") != "cat -n" || c.Env[0] != "A=1" {
		t.Errorf("spec %+v", f.spec)
	}
}

func TestRunDetached(t *testing.T) {
	f := newFakeDaemon()
	host := serve(t, f)
	r := hyperctl(t, host, "", "run", "-d", "--name", "web", "busybox")
	if r.code != 0 || r.out != podID+"\n" || r.err != "" {
		t.Fatalf("run -d: %+v", r)
	}
}

func TestRunErrors(t *testing.T) {
	host := serve(t, newFakeDaemon())
	r := hyperctl(t, host, "", "run", "--pull", "never", "missing")
	if r.code != 125 || r.err != "hyperctl: no such image: missing\n" {
		t.Errorf("missing image: %+v", r)
	}
	r = hyperctl(t, host, "", "run", "--memory", "lots", "busybox")
	if r.code != 125 || !strings.Contains(r.err, "--memory") {
		t.Errorf("bad memory: %+v", r)
	}
	r = hyperctl(t, host, "", "run", "--bogus", "busybox")
	if r.code != 125 || !strings.Contains(r.err, "unknown flag: --bogus") {
		t.Errorf("bad flag: %+v", r)
	}
	r = hyperctl(t, host, "", "run", "-it", "busybox")
	if r.code != 125 || !strings.Contains(r.err, "not a TTY") {
		t.Errorf("-it from a pipe: %+v", r)
	}
	r = hyperctl(t, "unix:///nonexistent/h.sock", "", "run", "busybox")
	if r.code != 125 || !strings.Contains(r.err, "is hyperd running?") {
		t.Errorf("no daemon: %+v", r)
	}
}

func TestExec(t *testing.T) {
	f := newFakeDaemon()
	f.exitCode = 7
	host := serve(t, f)
	r := hyperctl(t, host, "in\n", "exec", "-i", "-e", "X=1", "-w", "/tmp", "-u", "root", "-c", "main", "web", "cat", "-u")
	if r.code != 7 || r.out != "hello\nin\n" || r.err != "warn\n" {
		t.Errorf("exec: %+v", r)
	}
	s := f.execSpec
	if strings.Join(s.Cmd, " ") != "cat -u" || !s.Stdin || s.Tty || s.Env[0] != "X=1" || s.WorkingDir != "/tmp" || s.User != "root" || s.Container != "main" {
		t.Errorf("exec spec %+v", s)
	}
	f.exitCode = 0
	r = hyperctl(t, host, "", "exec", "--vm", "web", "ps")
	if r.code != 0 || !f.execSpec.VM || f.execSpec.Container != "" || f.execSpec.Cmd[0] != "ps" {
		t.Errorf("exec --vm: %+v, spec %+v", r, f.execSpec)
	}
	r = hyperctl(t, host, "", "exec", "web", "nonexistent")
	if r.code != 126 || !strings.Contains(r.err, "executable file not found") {
		t.Errorf("exec failure: %+v", r)
	}
	r = hyperctl(t, host, "", "exec", "nope", "ls")
	if r.code != 125 || r.err != "hyperctl: no such pod: nope\n" {
		t.Errorf("exec missing pod: %+v", r)
	}
}

func TestPsAndInspect(t *testing.T) {
	host := serve(t, newFakeDaemon())
	r := hyperctl(t, host, "", "ps", "-a")
	lines := strings.Split(strings.TrimSpace(r.out), "\n")
	if r.code != 0 || len(lines) != 2 || !strings.HasPrefix(lines[0], "POD ID ") || !strings.HasPrefix(lines[1], podID[:12]+"   web ") || !strings.Contains(lines[1], "Created") {
		t.Errorf("ps: %+v", r)
	}
	r = hyperctl(t, host, "", "list", "-q", "--no-trunc")
	if r.out != podID+"\n" {
		t.Errorf("ps -q: %+v", r)
	}
	r = hyperctl(t, host, "", "ps", "--format", "json")
	var row map[string]string
	if err := json.Unmarshal([]byte(r.out), &row); err != nil || row["ID"] != podID[:12] || row["Names"] != "web" || row["Status"] != "Created" {
		t.Errorf("ps json: %+v %v", r, err)
	}
	r = hyperctl(t, host, "", "ps", "--format", "{{.Name}} {{.State}} {{.Names}} {{.Status}}")
	if r.out != "web created web Created\n" {
		t.Errorf("ps template: %+v", r)
	}
	r = hyperctl(t, host, "", "inspect", "-f", "{{.State.Status}} {{.State.ExitCode}} {{.Name}} {{.Config.Image}}", "web")
	if r.code != 0 || r.out != "created 0 web busybox\n" {
		t.Errorf("inspect template: %+v", r)
	}
	r = hyperctl(t, host, "", "inspect", "web", "busybox", "nothing")
	var objs []map[string]any
	if err := json.Unmarshal([]byte(r.out), &objs); err != nil || len(objs) != 2 || objs[0]["id"] != podID || objs[1]["id"] != testImage.ID {
		t.Errorf("inspect: %+v %v", r, err)
	}
	if r.code != 1 || r.err != "hyperctl: no such object: nothing\n" {
		t.Errorf("inspect missing: %+v", r)
	}
}

func TestLogs(t *testing.T) {
	host := serve(t, newFakeDaemon())
	r := hyperctl(t, host, "", "logs", "web")
	if r.code != 0 || r.out != "out line\n" || r.err != "err line\n" {
		t.Errorf("logs: %+v", r)
	}
	r = hyperctl(t, host, "", "logs", "-t", "--tail", "2", "--since", "10m", "web")
	if r.out != "2024-01-02T03:04:05Z out line\n" {
		t.Errorf("logs -t: %+v", r)
	}
	r = hyperctl(t, host, "", "logs", "--tail", "x", "web")
	if r.code != 125 {
		t.Errorf("logs --tail x: %+v", r)
	}
}

func TestMultiPodCommands(t *testing.T) {
	f := newFakeDaemon()
	host := serve(t, f)
	r := hyperctl(t, host, "", "rm", "-f", "web", "gone", "web2")
	if r.code != 1 || r.out != "web\nweb2\n" || r.err != "hyperctl: no such pod: gone\n" {
		t.Errorf("rm: %+v", r)
	}
	r = hyperctl(t, host, "", "stop", "-t", "3", "web")
	if r.code != 0 || f.order[len(f.order)-1] != "stop web 3s" {
		t.Errorf("stop: %+v %v", r, f.order)
	}
	r = hyperctl(t, host, "", "kill", "-s", "TERM", "web")
	if r.code != 0 || len(f.killed) != 1 || f.killed[0] != 15 {
		t.Errorf("kill: %+v %v", r, f.killed)
	}
	r = hyperctl(t, host, "", "kill", "-s", "NOPE", "web")
	if r.code != 125 {
		t.Errorf("kill bad signal: %+v", r)
	}
}

func TestImageCommands(t *testing.T) {
	f := newFakeDaemon()
	host := serve(t, f)
	r := hyperctl(t, host, "", "images")
	lines := strings.Split(strings.TrimSpace(r.out), "\n")
	if len(lines) != 2 || strings.Join(strings.Fields(lines[1]), " ") != "busybox latest abababababab 2 days ago 4.4MB" {
		t.Errorf("images: %+v", r)
	}
	r = hyperctl(t, host, "", "images", "-q")
	if r.out != "abababababab\n" {
		t.Errorf("images -q: %+v", r)
	}
	dir := t.TempDir()
	tarFile := filepath.Join(dir, "in.tar")
	os.WriteFile(tarFile, []byte("TARDATA"), 0o644)
	r = hyperctl(t, host, "", "load", "-i", tarFile)
	if r.code != 0 || r.out != "Loaded image: busybox:latest\n" || string(f.loaded) != "TARDATA" {
		t.Errorf("load: %+v", r)
	}
	r = hyperctl(t, host, "FROMSTDIN", "load")
	if r.code != 0 || string(f.loaded) != "FROMSTDIN" {
		t.Errorf("load stdin: %+v", r)
	}
	out := filepath.Join(dir, "out.tar")
	r = hyperctl(t, host, "", "save", "-o", out, "busybox", "alpine")
	if data, _ := os.ReadFile(out); r.code != 0 || string(data) != "TAR:busybox,alpine:docker" {
		t.Errorf("save: %+v %q", r, data)
	}
	r = hyperctl(t, host, "", "save", "--format", "oci", "busybox")
	if r.out != "TAR:busybox:oci" {
		t.Errorf("save to stdout: %+v", r)
	}
	broken := filepath.Join(dir, "broken.tar")
	r = hyperctl(t, host, "", "save", "-o", broken, "broken")
	if _, err := os.Stat(broken); r.code != 1 || !strings.Contains(r.err, "blob missing") || err == nil {
		t.Errorf("save failing midway: %+v (file left: %v)", r, err == nil)
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 2 {
		t.Errorf("temporary files left: %v", entries)
	}
	r = hyperctl(t, host, "", "rmi", "busybox", "nginx")
	if r.code != 1 || r.out != "Deleted: busybox\n" || r.err != "hyperctl: no such image: nginx\n" {
		t.Errorf("rmi: %+v", r)
	}
}

func TestInfoAndVersion(t *testing.T) {
	host := serve(t, newFakeDaemon())
	r := hyperctl(t, host, "", "info")
	for _, want := range []string{"Hypervisor:     qemu 8.2", "Acceleration:   tcg", " Reason:        /dev/kvm: permission denied", "Root Dir:       /var/lib/hyper", " Running:       1", "Images:         2",
		"Isolation:      software emulation (NOT a security boundary)", " Note:          TCG: not a boundary",
		"API:            unix:///s (unix socket)", "                tcp://0.0.0.0:2376 (mutual TLS)"} {
		if !strings.Contains(r.out, want+"\n") {
			t.Errorf("info lacks %q:\n%s", want, r.out)
		}
	}
	r = hyperctl(t, host, "", "info", "--format", "json")
	var info types.Info
	if err := json.Unmarshal([]byte(r.out), &info); err != nil || info.AccelReason == "" {
		t.Errorf("info json: %+v", r)
	}
	r = hyperctl(t, host, "", "version")
	if r.code != 0 || !strings.Contains(r.out, "Client:\n Version:") || !strings.Contains(r.out, "Server:\n Version:     0.1") {
		t.Errorf("version: %+v", r)
	}
}

func TestRunAttachFailsAfterUpgrade(t *testing.T) {
	f := newFakeDaemon()
	f.attachErr = errdefs.Conflict("container main is gone")
	host := serve(t, f)
	r := hyperctl(t, host, "", "run", "busybox")
	if r.code != 125 || r.err != "hyperctl: container main is gone\n" {
		t.Errorf("run: %+v", r)
	}
}

func TestStartAttached(t *testing.T) {
	f := newFakeDaemon()
	f.exitCode = 4
	host := serve(t, f)
	r := hyperctl(t, host, "", "start", "-a", "web")
	if r.code != 4 || r.out != "hello\n" || r.err != "warn\n" {
		t.Errorf("start -a: %+v", r)
	}
	f.mu.Lock()
	order := append([]string(nil), f.order...)
	f.mu.Unlock()
	if !attachWaitThenStart(order) {
		t.Errorf("order %v", order)
	}
	r = hyperctl(t, host, "", "start", "-a", "web", "web")
	if r.code != 125 {
		t.Errorf("start -a of two pods: %+v", r)
	}
	r = hyperctl(t, host, "", "start", "-a", "web")
	if r.code != 125 || !strings.Contains(r.err, "already running") {
		t.Errorf("start -a of a running pod: %+v", r)
	}
}

// attachWaitThenStart tells whether order is prefix..., then attach and wait
// in either order, then start.
func attachWaitThenStart(order []string, prefix ...string) bool {
	want := len(prefix) + 3
	if len(order) != want || strings.Join(order[:len(prefix)], ",") != strings.Join(prefix, ",") || order[want-1] != "start" {
		return false
	}
	mid := strings.Join(order[len(prefix):want-1], ",")
	return mid == "attach,wait" || mid == "wait,attach"
}
