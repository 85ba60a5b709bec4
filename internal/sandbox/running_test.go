package sandbox

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hyperhq/hyper/internal/errdefs"
	"github.com/hyperhq/hyper/internal/guest"
	"github.com/hyperhq/hyper/internal/hypervisor"
	"github.com/hyperhq/hyper/internal/logs"
	"github.com/hyperhq/hyper/internal/protocol"
	"github.com/hyperhq/hyper/internal/vm"
)

// These tests run the sandbox's running paths on fake VMs (fake_test.go).

// waitFor bounds every wait of these tests.
const waitFor = 10 * time.Second

// watchdog fails the test with every goroutine's stack if it runs longer
// than d: a hang anywhere (not only in a bounded wait) fails clearly.
func watchdog(t *testing.T, d time.Duration) {
	name := t.Name()
	timer := time.AfterFunc(d, func() {
		buf := make([]byte, 4<<20)
		n := runtime.Stack(buf, true)
		panic(fmt.Sprintf("%s still runs after %s:\n%s", name, d, buf[:n]))
	})
	t.Cleanup(func() { timer.Stop() })
}

// hookStore is a memStore that may act on each save.
type hookStore struct {
	memStore
	mu     sync.Mutex
	onSave func(Status)
}

func (h *hookStore) Save(st Status) {
	h.memStore.Save(st)
	h.mu.Lock()
	hook := h.onSave
	h.mu.Unlock()
	if hook != nil {
		hook(st)
	}
}

func (h *hookStore) hook(f func(Status)) {
	h.mu.Lock()
	h.onSave = f
	h.mu.Unlock()
}

// states lists the pod states saved, in order.
func (m *memStore) states() []State {
	m.mu.Lock()
	defer m.mu.Unlock()
	var s []State
	for _, st := range m.saved {
		s = append(s, st.State)
	}
	return s
}

// harness is a sandbox on the fake driver.
type harness struct {
	t     *testing.T
	drv   *fakeDriver
	sb    *Sandbox
	store *hookStore

	mu sync.Mutex
	// releases has one entry per Release call: whether the run's VM
	// had ended by then.
	releases []bool
}

var quiet = slog.New(slog.DiscardHandler)

// refusals fails the test if the sandbox logs a refused state change
// (a bug of the state machine or its callers).
type refusals struct {
	slog.Handler
	t *testing.T
}

func (r refusals) Enabled(context.Context, slog.Level) bool { return true }

func (r refusals) Handle(_ context.Context, rec slog.Record) error {
	if rec.Message == "refused a state change" {
		r.t.Errorf("%s: %v", rec.Message, rec)
	}
	return nil
}

func (r refusals) WithAttrs([]slog.Attr) slog.Handler { return r }

// newHarness makes a sandbox of init containers inits and main
// containers ctrs on the fake driver.
func newHarness(t *testing.T, inits []ContainerSpec, ctrs ...ContainerSpec) *harness {
	t.Helper()
	watchdog(t, 60*time.Second)
	// The VM's channel socket is under RunDir: keep its path short.
	runDir, err := os.MkdirTemp("", "sbt")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(runDir) })
	spec := Spec{ID: "0123456789abcdef", Name: "web", VMID: "pod", Dir: t.TempDir()}
	// The caller makes the logs directory; an existing scratch disk is
	// kept across runs: no mkfs.ext4 needed.
	if err := os.Mkdir(filepath.Join(spec.Dir, "logs"), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(spec.Dir, "scratch.ext4"), nil, 0o600); err != nil {
		t.Fatal(err)
	}
	h := &harness{t: t, drv: &fakeDriver{}, store: &hookStore{}}
	cfg := &Config{VM: vm.Config{Driver: h.drv, RunDir: runDir, Log: quiet}, Log: slog.New(refusals{slog.DiscardHandler, t}), LogMaxFiles: 1}
	h.sb = New(cfg, spec, inits, ctrs, Status{}, h.store)
	return h
}

// ctr is a container whose main process runs args in the fake guest.
func ctr(name, image string, args ...string) ContainerSpec {
	return ContainerSpec{Name: name, Image: image, Process: protocol.ProcessSpec{Args: args}}
}

// serialOf is the serial of image's disk.
func serialOf(image string) string { return "img-" + strings.TrimPrefix(image, "sha256:") }

func rootfsOf(image string) hypervisor.Disk {
	return hypervisor.Disk{Path: os.DevNull, Serial: serialOf(image), Hotplug: true}
}

// diskOf is image's disk as an added container's Rootfs.
func diskOf(image string) Rootfs {
	return func(context.Context) (hypervisor.Disk, error) { return rootfsOf(image), nil }
}

// prepare is the sandbox's Prepare: a disk per image, and a Release
// that records whether the VM was gone when it was called.
func (h *harness) prepare(ctx context.Context) (Run, error) {
	rootfs := map[string]hypervisor.Disk{}
	for _, img := range h.sb.Images() {
		rootfs[img] = rootfsOf(img)
	}
	return Run{Rootfs: rootfs, Pod: protocol.PodSpec{Hostname: "web"}, Release: func() {
		v := h.drv.last()
		h.mu.Lock()
		h.releases = append(h.releases, v != nil && isClosed(v.done))
		h.mu.Unlock()
	}}, nil
}

func (h *harness) start() {
	h.t.Helper()
	if err := h.sb.Start(context.Background(), h.prepare); err != nil {
		h.t.Fatalf("start: %v", err)
	}
}

// wait waits for ch, failing the test after waitFor.
func (h *harness) wait(ch <-chan struct{}, what string) {
	h.t.Helper()
	select {
	case <-ch:
	case <-time.After(waitFor):
		h.t.Fatalf("timed out waiting for %s (status %+v)", what, h.sb.Status())
	}
}

// eventually polls cond until it holds, failing the test after waitFor.
func (h *harness) eventually(cond func() bool, what string) {
	h.t.Helper()
	if !poll(cond) {
		h.t.Fatalf("timed out waiting for %s (status %+v)", what, h.sb.Status())
	}
}

func poll(cond func() bool) bool {
	for deadline := time.Now().Add(waitFor); !cond(); time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			return false
		}
	}
	return true
}

// ended waits until the run's VM is gone and checks that Release was
// called once per run, each time after its VM had ended.
func (h *harness) ended(runs int) {
	h.t.Helper()
	h.wait(h.sb.VMGone(), "the VM to be gone")
	h.mu.Lock()
	defer h.mu.Unlock()
	if len(h.releases) != runs || slices.Contains(h.releases, false) {
		h.t.Errorf("releases %v, want %d, each after its VM ended", h.releases, runs)
	}
}

// subscribers counts the clients attached to main container name.
func (h *harness) subscribers(name string) int {
	h.sb.mu.Lock()
	c, ok := mainCtr(h.sb.ctrs, name)
	h.sb.mu.Unlock()
	if !ok {
		return 0
	}
	c.out.mu.Lock()
	defer c.out.mu.Unlock()
	return len(c.out.subs)
}

// attach attaches stdout to container name in the background; the
// channel gets Attach's result.
func (h *harness) attach(ctx context.Context, name string, stdout *syncBuffer) chan error {
	h.t.Helper()
	n := h.subscribers(name)
	res := background(func() error { return h.sb.Attach(ctx, name, Stdio{Stdout: stdout}) })
	h.eventually(func() bool { return h.subscribers(name) > n }, "the client to attach")
	return res
}

// background runs f in a goroutine; the channel gets its result.
func background(f func() error) chan error {
	res := make(chan error, 1)
	go func() { res <- f() }()
	return res
}

// result waits for the result of a call run in the background, failing
// the test after waitFor.
func (h *harness) result(res <-chan error, what string) error {
	h.t.Helper()
	select {
	case err := <-res:
		return err
	case <-time.After(waitFor):
		h.t.Fatalf("timed out waiting for %s (status %+v)", what, h.sb.Status())
		return nil
	}
}

func (h *harness) ctrStatus(name string) ContainerStatus {
	h.t.Helper()
	for _, c := range h.sb.Status().Containers {
		if c.Name == name {
			return c
		}
	}
	h.t.Fatalf("no container %s in status", name)
	return ContainerStatus{}
}

// syncBuffer is a client's output.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

func TestRunToExit(t *testing.T) {
	h := newHarness(t, nil, ctr("a", "sha256:x", "echo", "hi"), ctr("b", "sha256:x", "exit", "3"))
	var out syncBuffer
	attached := h.attach(context.Background(), "a", &out) // before the start: docker's start -a
	h.start()
	h.wait(h.sb.Exited(), "the pod to exit")
	if err := h.result(attached, "attach to return once the pod exited"); err != nil {
		t.Errorf("attach: %v", err)
	}
	if got := out.String(); got != "hi\n" {
		t.Errorf("attached client got %q", got)
	}
	st := h.sb.Status()
	if st.State != Exited || st.ExitCode != 0 || st.FinishedAt.IsZero() || st.VMPid != 4242 {
		t.Errorf("status %+v", st)
	}
	want := []ContainerStatus{{Name: "a", State: CtrExited}, {Name: "b", State: CtrExited, ExitCode: 3}}
	if !slices.Equal(st.Containers, want) {
		t.Errorf("containers %+v, want %+v", st.Containers, want)
	}
	if st.Serials["sha256:x"] != "img-x" {
		t.Errorf("serials %v", st.Serials)
	}

	if _, done, err := h.sb.LogFile("a"); err != nil || !isClosed(done) {
		t.Fatalf("log file: %v (done %v)", err, isClosed(done))
	}
	if e := h.readLog("a"); len(e) != 1 || e[0].Log != "hi\n" || e[0].Stream != "stdout" {
		t.Errorf("log: %+v", e)
	}

	states := h.store.states()
	i := slices.Index(states, Running)
	if i < 0 || !slices.Contains(states[i:], Exited) || h.store.last().State != Exited {
		t.Errorf("saved states %v", states)
	}
	h.ended(1)
	v := h.drv.last()
	g := v.guest
	if g.count(protocol.MethodResume) != 1 || g.count(protocol.MethodCreatePod) != 1 || g.count(protocol.MethodShutdown) != 1 {
		t.Errorf("guest calls %v", g.callCounts())
	}
	if c := g.created("a"); len(c) != 1 || c[0].ID != "a" || c[0].Rootfs.DiskSerial != "img-x" {
		t.Errorf("created %+v", c)
	}
	var serials []string
	for _, d := range v.spec.Disks {
		serials = append(serials, d.Serial)
	}
	if !slices.Equal(serials, []string{"img-x", ScratchSerial}) { // one disk for the image both use
		t.Errorf("boot disks %v", serials)
	}
	if h.sb.Running() {
		t.Error("running after the exit")
	}
}

// readLog returns the entries of container name's log.
func (h *harness) readLog(name string) []logs.Entry {
	h.t.Helper()
	path, _, err := h.sb.LogFile(name)
	if err != nil {
		h.t.Fatal(err)
	}
	var entries []logs.Entry
	err = logs.Read(context.Background(), path, 1, logs.ReadOptions{}, func(e logs.Entry) error {
		entries = append(entries, e)
		return nil
	})
	if err != nil {
		h.t.Fatal(err)
	}
	return entries
}

func TestInitContainers(t *testing.T) {
	h := newHarness(t, []ContainerSpec{ctr("init-0", "sha256:i", "echo", "ready")}, ctr("a", "sha256:x", "exit", "0"))
	h.start()
	h.wait(h.sb.Exited(), "the pod to exit")
	st := h.sb.Status()
	if st.State != Exited || len(st.Inits) != 1 || st.Inits[0] != (ContainerStatus{Name: "init-0", State: CtrExited}) {
		t.Errorf("status %+v", st)
	}
	if e := h.readLog("init-0"); len(e) != 1 || e[0].Log != "ready\n" {
		t.Errorf("init container's log %+v", e)
	}
	g := h.drv.last().guest
	if c := g.created("init-0"); len(c) != 1 || c[0].Rootfs.DiskSerial != "img-i" {
		t.Errorf("init container created %+v", c)
	}
	if n := g.count(protocol.MethodRemoveContainer); n != 1 {
		t.Errorf("the init container was removed %d times, want once", n)
	}
	h.ended(1)
}

func TestInitContainerFails(t *testing.T) {
	h := newHarness(t, []ContainerSpec{ctr("init-0", "sha256:i", "exit", "2")}, ctr("a", "sha256:x", "sleep"))
	err := h.sb.Start(context.Background(), h.prepare)
	if err == nil || !strings.Contains(err.Error(), "exited with code 2") {
		t.Fatalf("start: %v", err)
	}
	st := h.sb.Status()
	if st.State != Failed || st.ExitCode != 125 || st.Inits[0].ExitCode != 2 || st.Containers[0].State != CtrCreated {
		t.Errorf("status %+v", st)
	}
	if c := h.drv.last().guest.created("a"); len(c) != 0 {
		t.Errorf("a main container was created after its init container failed: %+v", c)
	}
	if h.sb.Running() || !isClosed(h.sb.Exited()) || !isClosed(h.drv.last().done) {
		t.Error("the failed start left its run or its VM on")
	}
	h.ended(1)
}

func TestRestartOnFailure(t *testing.T) {
	c := ctr("a", "sha256:x", "exit", "1")
	c.RestartPolicy = "onFailure:2"
	h := newHarness(t, nil, c)
	h.start()
	h.wait(h.sb.Exited(), "the pod to exit")
	st := h.sb.Status()
	if st.State != Exited || st.ExitCode != 1 {
		t.Errorf("status %+v", st)
	}
	if c := st.Containers[0]; c.RestartCount != 2 || c.ExitCode != 1 || c.State != CtrExited {
		t.Errorf("container %+v", c)
	}
	g := h.drv.last().guest
	if n := len(g.created("a")); n != 3 {
		t.Errorf("guest created the container %d times, want 3", n)
	}
	if n := g.count(protocol.MethodRemoveContainer); n != 2 {
		t.Errorf("guest removed the container %d times, want 2 (once per restart)", n)
	}
	h.ended(1)
	if h.drv.count() != 1 {
		t.Errorf("%d VMs for one run", h.drv.count())
	}
}

func TestStopAndStartAgain(t *testing.T) {
	c := ctr("a", "sha256:x", "sleep")
	c.StopSignal = 10
	h := newHarness(t, nil, c)
	h.start()
	if st := h.sb.Status(); st.State != Running || st.Containers[0].State != CtrRunning || st.Containers[0].Pid == 0 {
		t.Fatalf("status after start %+v", st)
	}
	if err := h.sb.Stop(context.Background(), time.Second); err != nil {
		t.Fatal(err)
	}
	if !isClosed(h.sb.Exited()) {
		t.Fatal("Stop returned before the run ended")
	}
	if st := h.sb.Status(); st.State != Exited || st.ExitCode != 128+10 || st.Containers[0].ExitCode != 128+10 {
		t.Errorf("status after stop %+v", st)
	}
	first := h.drv.last()

	var out syncBuffer
	attached := h.attach(context.Background(), "a", &out) // waits for the next run
	h.start()                                             // waits for the first VM to be gone
	if !isClosed(first.done) || h.drv.count() != 2 {
		t.Errorf("second run: first VM ended %v, %d VMs", isClosed(first.done), h.drv.count())
	}
	if st := h.sb.Status(); st.State != Running || isClosed(h.sb.Exited()) {
		t.Fatalf("status of the second run %+v", st)
	}
	select {
	case err := <-attached:
		t.Fatalf("attach to the second run returned while it runs: %v", err)
	default:
	}
	if err := h.sb.Kill(context.Background(), 9); err != nil {
		t.Fatal(err)
	}
	h.wait(h.sb.Exited(), "the second run to exit")
	if st := h.sb.Status(); st.State != Exited || st.ExitCode != 137 {
		t.Errorf("status after kill %+v", st)
	}
	h.result(attached, "attach to return once the second run exited")
	h.ended(2)
	if err := h.sb.Kill(context.Background(), 9); !errors.Is(err, errdefs.ErrConflict) {
		t.Errorf("kill of an exited pod: %v", err)
	}
}

func TestVMDeath(t *testing.T) {
	h := newHarness(t, nil, ctr("a", "sha256:x", "sleep"))
	h.start()
	h.drv.last().exit("crashed")
	h.wait(h.sb.Exited(), "the pod to end")
	st := h.sb.Status()
	if st.State != Failed || !strings.Contains(st.Reason, "vm") || !strings.Contains(st.Reason, "crashed") || st.ExitCode != 137 {
		t.Errorf("status %+v", st)
	}
	if c := st.Containers[0]; c.State != CtrExited || c.ExitCode != 137 || c.Pid != 0 {
		t.Errorf("container %+v", c)
	}
	if h.sb.Running() {
		t.Error("running after the VM died")
	}
	if last := h.store.last(); last.State != Failed {
		t.Errorf("saved %+v", last)
	}
	h.ended(1)
}

func TestAddRemoveContainer(t *testing.T) {
	h := newHarness(t, nil, ctr("a", "sha256:x", "sleep"))
	h.start()
	v := h.drv.last()
	ctx := context.Background()
	ch := h.sb.BeginChange()
	if err := ch.AddContainer(ctx, ctr("b", "sha256:y", "sleep"), diskOf("sha256:y")); err != nil {
		t.Fatal(err)
	}
	if err := ch.AddContainer(ctx, ctr("c", "sha256:x", "sleep"), diskOf("sha256:x")); err != nil {
		t.Fatal(err)
	}
	if err := ch.AddContainer(ctx, ctr("c", "sha256:x", "sleep"), diskOf("sha256:x")); !errors.Is(err, errdefs.ErrConflict) {
		t.Errorf("a name taken again: %v", err)
	}
	ch.Done()
	if added, _ := v.disks(); !slices.Equal(added, []string{"img-y"}) {
		t.Errorf("disks added %v, want only the new image's", added)
	}
	g := v.guest
	if b, c := g.created("b"), g.created("c"); len(b) != 1 || b[0].Rootfs.DiskSerial != "img-y" || len(c) != 1 || c[0].Rootfs.DiskSerial != "img-x" {
		t.Errorf("created b %+v, c %+v", b, c)
	}
	st := h.sb.Status()
	if st.State != Running || len(st.Containers) != 3 || st.Serials["sha256:y"] != "img-y" {
		t.Fatalf("status after adding %+v", st)
	}
	for _, c := range st.Containers {
		if c.State != CtrRunning || c.Pid == 0 {
			t.Errorf("container %+v", c)
		}
	}

	ch = h.sb.BeginChange()
	if err := ch.RemoveContainer(ctx, "b", false); !errors.Is(err, errdefs.ErrConflict) {
		t.Errorf("removing a running container without force: %v", err)
	}
	if err := ch.RemoveContainer(ctx, "c", true); err != nil {
		t.Fatal(err)
	}
	if _, removed := v.disks(); len(removed) != 0 {
		t.Errorf("disks removed %v while their image is used", removed)
	}
	if err := ch.RemoveContainer(ctx, "b", true); err != nil {
		t.Fatal(err)
	}
	if _, removed := v.disks(); !slices.Equal(removed, []string{"img-y"}) {
		t.Errorf("disks removed %v, want the unused image's", removed)
	}
	if err := ch.RemoveContainer(ctx, "b", true); !errors.Is(err, errdefs.ErrNotFound) {
		t.Errorf("removing a removed container: %v", err)
	}
	ch.Done()
	st = h.sb.Status()
	if st.State != Running || isClosed(h.sb.Exited()) || !slices.Equal(ctrNames(st), []string{"a"}) {
		t.Fatalf("after removing: %+v", st)
	}
	if _, ok := st.Serials["sha256:y"]; ok {
		t.Errorf("serials %v keep a removed disk", st.Serials)
	}
	if g.count(protocol.MethodRemoveContainer) != 2 {
		t.Errorf("guest calls %v", g.callCounts())
	}
	if _, err := os.Stat(logPath(h.sb.spec.Dir, "b")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("log of a removed container: %v", err)
	}

	// An added container that exits does not end the pod.
	ch = h.sb.BeginChange()
	err := ch.AddContainer(ctx, ctr("e", "sha256:y", "exit", "5"), diskOf("sha256:y"))
	ch.Done()
	if err != nil {
		t.Fatal(err)
	}
	h.eventually(func() bool { return h.ctrStatus("e").State == CtrExited }, "the added container to exit")
	if c := h.ctrStatus("e"); c.ExitCode != 5 || h.sb.Status().State != Running {
		t.Errorf("after the added container exited: %+v, pod %s", c, h.sb.Status().State)
	}
	if added, _ := v.disks(); !slices.Equal(added, []string{"img-y", "img-y"}) {
		t.Errorf("disks added %v: the image's disk was removed, so it comes again", added)
	}
	if err := h.sb.Stop(ctx, time.Second); err != nil {
		t.Fatal(err)
	}
	if st := h.sb.Status(); st.State != Exited || st.ExitCode != 143 {
		t.Errorf("the pod's exit is not its first container's: %+v", st)
	}
	h.ended(1)
}

func TestExec(t *testing.T) {
	h := newHarness(t, nil, ctr("a", "sha256:x", "sleep"))
	h.start()
	ctx := context.Background()
	var out syncBuffer
	var started *guest.Process
	code, err := h.sb.Exec(ctx, "a", "e1", protocol.ProcessSpec{Args: []string{"echo", "hello"}}, Stdio{Stdout: &out},
		func(p *guest.Process) { started = p })
	if err != nil || code != 0 || out.String() != "hello\n" || started == nil || started.Pid == 0 {
		t.Errorf("exec: %d, %v, %q, %+v", code, err, out.String(), started)
	}
	if code, err := h.sb.Exec(ctx, "a", "e2", protocol.ProcessSpec{Args: []string{"exit", "4"}}, Stdio{}, nil); err != nil || code != 4 {
		t.Errorf("exec of exit 4: %d, %v", code, err)
	}
	if code, err := h.sb.Exec(ctx, "a", "e3", protocol.ProcessSpec{Args: []string{"nosuch"}}, Stdio{}, nil); !errors.Is(err, errdefs.ErrNotFound) || code != 127 {
		t.Errorf("exec of a missing program: %d, %v", code, err)
	}
	if code, err := h.sb.Exec(ctx, "a", "e1", protocol.ProcessSpec{Args: []string{"exit", "0"}}, Stdio{}, nil); !errors.Is(err, errdefs.ErrConflict) || code != 126 {
		t.Errorf("exec id taken again: %d, %v", code, err)
	}
	var vmOut syncBuffer
	if code, err := h.sb.Exec(ctx, protocol.VMContainer, "e4", protocol.ProcessSpec{Args: []string{"echo", "vm"}}, Stdio{Stdout: &vmOut}, nil); err != nil || code != 0 || vmOut.String() != "vm\n" {
		t.Errorf("exec in the VM: %d, %v, %q", code, err, vmOut.String())
	}
	if !h.sb.CanExec("a") || !h.sb.CanExec(protocol.VMContainer) || h.sb.CanExec("nosuch") {
		t.Error("CanExec of a running pod")
	}
	if err := h.sb.Resize(ctx, "a", 24, 80); err != nil || h.drv.last().guest.count(protocol.MethodResizeTerminal) != 1 {
		t.Errorf("resize: %v", err)
	}
	if err := h.sb.Resize(ctx, "nosuch", 24, 80); !errors.Is(err, errdefs.ErrConflict) {
		t.Errorf("resize of a missing container: %v", err)
	}
	if st := h.sb.Status(); st.State != Running {
		t.Errorf("execs changed the pod: %+v", st)
	}
	if err := h.sb.Stop(ctx, time.Second); err != nil {
		t.Fatal(err)
	}
	if code, err := h.sb.Exec(ctx, "a", "e5", protocol.ProcessSpec{Args: []string{"exit", "0"}}, Stdio{}, nil); !errors.Is(err, errdefs.ErrConflict) || code != 126 {
		t.Errorf("exec in an exited pod: %d, %v", code, err)
	}
	if h.sb.CanExec("a") {
		t.Error("CanExec of an exited pod")
	}
	h.ended(1)
}

func TestRemoveRunning(t *testing.T) {
	h := newHarness(t, nil, ctr("a", "sha256:x", "sleep"))
	h.start()
	ctx := context.Background()
	if err := h.sb.Remove(ctx, false); !errors.Is(err, errdefs.ErrConflict) {
		t.Fatalf("remove of a running pod without force: %v", err)
	}
	if st := h.sb.Status(); st.State != Running {
		t.Fatalf("a refused removal changed the pod: %+v", st)
	}
	if err := h.sb.Remove(ctx, true); err != nil {
		t.Fatal(err)
	}
	v := h.drv.last()
	if !isClosed(v.done) || !isClosed(h.sb.VMGone()) || !isClosed(h.sb.Exited()) {
		t.Errorf("remove returned before the VM was gone: vm ended %v", isClosed(v.done))
	}
	if st := h.sb.Status(); st.State != Removed {
		t.Errorf("status %+v", st)
	}
	if v.guest.count(protocol.MethodShutdown) != 1 {
		t.Errorf("the guest was not asked to power off: %v", v.guest.callCounts())
	}
	h.ended(1)
	if err := h.sb.Start(ctx, h.prepare); !errors.Is(err, errdefs.ErrConflict) {
		t.Errorf("start of a removed pod: %v", err)
	}
	if h.drv.count() != 1 {
		t.Errorf("a removed pod booted a VM")
	}
}

// TestStartWhileExitReported starts a pod again as soon as its exit is
// saved, before the exit was reported to waiters: the new run's waiters
// and clients must not be released by the old run's end.
func TestStartWhileExitReported(t *testing.T) {
	h := newHarness(t, nil, ctr("a", "sha256:x", "sleep"))
	h.start()
	restarted := make(chan chan error, 1)
	var once sync.Once
	h.store.hook(func(st Status) {
		if st.State != Exited {
			return
		}
		once.Do(func() {
			restarted <- background(func() error { return h.sb.Start(context.Background(), h.prepare) })
			poll(h.sb.Running) // the new run is on; it waits for the old VM
		})
	})
	if err := h.sb.Kill(context.Background(), 9); err != nil {
		t.Fatal(err)
	}
	var res chan error
	select {
	case res = <-restarted:
	case <-time.After(waitFor):
		t.Fatal("the pod's exit was not saved")
	}
	if err := h.result(res, "the second start"); err != nil {
		t.Fatal(err)
	}
	h.store.hook(nil)
	if st := h.sb.Status(); st.State != Running || isClosed(h.sb.Exited()) {
		t.Fatalf("second run: %+v, exited %v", st, isClosed(h.sb.Exited()))
	}
	path, done, _ := h.sb.LogFile("a")
	if path == "" || isClosed(done) {
		t.Error("the second run's log followers are released while it runs")
	}
	if err := h.sb.Stop(context.Background(), time.Second); err != nil {
		t.Fatal(err)
	}
	h.ended(2)
}

// TestConcurrentOps runs reads, attaches, signals, execs, resizes and
// container changes at once on a running pod (for -race), then stops it.
func TestConcurrentOps(t *testing.T) {
	a := ctr("a", "sha256:x", "sleep")
	a.RestartPolicy = PolicyAlways
	h := newHarness(t, nil, a)
	h.start()
	ctx := context.Background()
	stop := make(chan struct{})
	var wg sync.WaitGroup
	loop := func(f func(i int)) {
		wg.Go(func() {
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				f(i)
			}
		})
	}
	loop(func(int) {
		h.sb.Status()
		h.sb.Running()
		ctrNames(h.sb.Status())
		h.sb.CanExec("a")
		h.sb.LogFile("a")
		time.Sleep(time.Millisecond)
	})
	for range 2 {
		loop(func(int) {
			actx, cancel := context.WithTimeout(ctx, 30*time.Millisecond)
			h.sb.Attach(actx, "a", Stdio{Stdout: &syncBuffer{}})
			cancel()
		})
	}
	loop(func(int) {
		h.sb.Kill(ctx, 15) // the container restarts
		time.Sleep(150 * time.Millisecond)
	})
	var execs, adds atomic.Int32 // those that succeeded
	loop(func(i int) {
		if code, err := h.sb.Exec(ctx, "a", fmt.Sprintf("e%d", i), protocol.ProcessSpec{Args: []string{"echo", "x"}}, Stdio{Stdout: &syncBuffer{}}, nil); err == nil && code == 0 {
			execs.Add(1)
		}
		h.sb.Resize(ctx, "a", 24, 80)
		time.Sleep(5 * time.Millisecond)
	})
	loop(func(i int) {
		name := fmt.Sprintf("x%d", i)
		ch := h.sb.BeginChange()
		if ch.AddContainer(ctx, ctr(name, "sha256:y", "sleep"), diskOf("sha256:y")) == nil {
			adds.Add(1)
		}
		ch.Done()
		ch = h.sb.BeginChange()
		ch.RemoveContainer(ctx, name, true)
		ch.Done()
	})
	time.Sleep(1500 * time.Millisecond)
	if err := h.result(background(func() error { return h.sb.Stop(ctx, time.Second) }), "stop"); err != nil {
		t.Error(err)
	}
	close(stop)
	wg.Wait()
	h.ended(1)
	st := h.sb.Status()
	if st.State != Exited || st.ExitCode != 143 {
		t.Errorf("status %+v", st)
	}
	if h.ctrStatus("a").RestartCount == 0 || execs.Load() == 0 || adds.Load() == 0 {
		t.Errorf("nothing concurrent happened: %d restarts, %d execs, %d additions", h.ctrStatus("a").RestartCount, execs.Load(), adds.Load())
	}
	t.Logf("%d restarts, %d execs, %d additions", h.ctrStatus("a").RestartCount, execs.Load(), adds.Load())
}

// TestPersistentEmpty: a persistent sandbox (a CRI pod) starts with no
// container, keeps running while containers come and go, and ends when
// it is stopped.
func TestPersistentEmpty(t *testing.T) {
	h := newHarness(t, nil)
	h.sb.spec.Persistent = true
	h.start()
	ctx := context.Background()
	if st := h.sb.Status(); st.State != Running || !h.sb.Running() {
		t.Fatalf("an empty persistent sandbox: %+v", st)
	}
	ch := h.sb.BeginChange()
	if err := ch.AddContainer(ctx, ctr("a", "sha256:x", "exit", "2"), diskOf("sha256:x")); err != nil {
		t.Fatal(err)
	}
	ch.Done()
	h.eventually(func() bool { return h.ctrStatus("a").State == CtrExited }, "the container to exit")
	if isClosed(h.sb.Exited()) || h.sb.Status().State != Running {
		t.Fatalf("the run ended with its only container: %+v", h.sb.Status())
	}
	ch = h.sb.BeginChange()
	if err := ch.RemoveContainer(ctx, "a", false); err != nil {
		t.Fatalf("removing the last container of a persistent sandbox: %v", err)
	}
	ch.Done()
	if err := h.sb.Stop(ctx, time.Second); err != nil {
		t.Fatal(err)
	}
	h.wait(h.sb.Exited(), "the run to end")
	if st := h.sb.Status(); st.State != Exited || st.ExitCode != 0 {
		t.Errorf("after stop: %+v", st)
	}
	h.ended(1)
}

// TestRemoveReleasesAttach: a client attached to an exited pod waits for
// its next run; removing the pod ends the wait, as it does for a pod that
// never ran.
func TestRemoveReleasesAttach(t *testing.T) {
	h := newHarness(t, nil, ctr("a", "sha256:x", "exit", "0"))
	h.start()
	h.wait(h.sb.Exited(), "the pod to exit")
	h.ended(1)
	ctx := context.Background()
	attached := h.attach(ctx, "a", &syncBuffer{}) // waits for the next run
	if err := h.sb.Remove(ctx, false); err != nil {
		t.Fatal(err)
	}
	if err := h.result(attached, "attach to return once the pod was removed"); err != nil {
		t.Errorf("attach: %v", err)
	}
}

// deleteHookStore is a hookStore that acts on Delete too.
type deleteHookStore struct {
	*hookStore
	onDelete func()
}

func (d deleteHookStore) Delete() {
	d.hookStore.Delete()
	d.onDelete()
}

// TestAutoRemoveWhileRemoved removes an auto-removed pod while its run
// ends (a client's rm that found it before it left the listings): either
// removal may come last, and neither is refused.
func TestAutoRemoveWhileRemoved(t *testing.T) {
	for i := range 200 {
		h := newHarness(t, nil, ctr("a", "sha256:x", "exit", "0"))
		h.sb.spec.AutoRemove = true
		removed := make(chan error, 1)
		h.sb.store = deleteHookStore{h.store, func() {
			go func() { removed <- h.sb.Remove(context.Background(), false) }()
		}}
		h.start()
		if err := h.result(removed, "the removal"); err != nil {
			t.Fatal(err)
		}
		h.ended(1)
		h.eventually(func() bool { return h.sb.Status().State == Removed }, "the pod to be removed")
		if t.Failed() {
			t.Fatalf("run %d", i)
		}
	}
}

// TestStdinAfterRestart: an attached client's input goes to the
// container's process of the moment, also after it was restarted.
func TestStdinAfterRestart(t *testing.T) {
	c := ctr("a", "sha256:x", "cat")
	c.Process.Stdin = true
	c.RestartPolicy = PolicyAlways
	h := newHarness(t, nil, c)
	h.start()
	ctx := context.Background()
	in, inW := io.Pipe()
	defer inW.Close()
	var out syncBuffer
	attached := background(func() error { return h.sb.Attach(ctx, "a", Stdio{Stdin: in, Stdout: &out}) })
	h.eventually(func() bool { return h.subscribers("a") == 1 }, "the client to attach")
	write := func(s string) {
		t.Helper()
		if err := h.result(background(func() error { _, err := io.WriteString(inW, s); return err }), "the input to be read"); err != nil {
			t.Fatal(err)
		}
	}
	write("one\n")
	h.eventually(func() bool { return out.String() == "one\n" }, "the first input echoed")
	if err := h.sb.Kill(ctx, 15); err != nil {
		t.Fatal(err)
	}
	h.eventually(func() bool { c := h.ctrStatus("a"); return c.RestartCount == 1 && c.State == CtrRunning }, "the restart")
	write("two\n")
	h.eventually(func() bool { return out.String() == "one\ntwo\n" }, "the input after the restart echoed")
	if err := h.sb.Stop(ctx, time.Second); err != nil {
		t.Fatal(err)
	}
	h.result(attached, "attach to return once the pod stopped")
	h.ended(1)
}

// TestStopWhileExitReported: a Stop that comes while a run's exit is
// being reported returns only once the run has ended (its waiters are
// released), as it does during the run.
func TestStopWhileExitReported(t *testing.T) {
	h := newHarness(t, nil, ctr("a", "sha256:x", "sleep"))
	h.start()
	exited := h.sb.Exited()
	stopped := make(chan bool, 1) // whether the run had ended when Stop returned
	var once sync.Once
	h.store.hook(func(st Status) {
		if st.State != Exited {
			return
		}
		once.Do(func() {
			go func() {
				h.sb.Stop(context.Background(), time.Second)
				stopped <- isClosed(exited)
			}()
			time.Sleep(50 * time.Millisecond) // Stop waits while the exit is reported
		})
	})
	if err := h.sb.Kill(context.Background(), 9); err != nil {
		t.Fatal(err)
	}
	select {
	case ended := <-stopped:
		if !ended {
			t.Error("Stop returned before the run had ended")
		}
	case <-time.After(waitFor):
		t.Fatal("Stop did not return")
	}
	h.store.hook(nil)
	h.ended(1)
}

// ctrNames lists the main containers' names of st, in order.
func ctrNames(st Status) []string {
	var n []string
	for _, c := range st.Containers {
		n = append(n, c.Name)
	}
	return n
}
