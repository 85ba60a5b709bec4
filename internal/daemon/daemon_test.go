package daemon_test

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"os"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/hyperhq/hyper/internal/api"
	"github.com/hyperhq/hyper/internal/api/types"
	"github.com/hyperhq/hyper/internal/daemon"
	"github.com/hyperhq/hyper/internal/devimage"
	"github.com/hyperhq/hyper/internal/errdefs"
	"github.com/hyperhq/hyper/internal/testenv"
)

func TestMain(m *testing.M) { testenv.Main(m) }

// syncBuf is a bytes.Buffer safe for the daemon's pump goroutines.
type syncBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuf) Write(p []byte) (int, error) { s.mu.Lock(); defer s.mu.Unlock(); return s.b.Write(p) }
func (s *syncBuf) String() string              { s.mu.Lock(); defer s.mu.Unlock(); return s.b.String() }

func newDaemon(t *testing.T) (*daemon.Daemon, context.Context) {
	t.Helper()
	env := testenv.New(t)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	t.Cleanup(cancel)
	cfg := daemon.Config{Root: t.TempDir(), VM: env.Config, ScratchMB: 256, Version: "test"}
	d, err := daemon.New(ctx, cfg, slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn})))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		pods, _ := d.Pods().List(context.Background(), true)
		for _, p := range pods {
			if err := d.Pods().Remove(context.Background(), p.ID, true); err != nil {
				t.Errorf("removing %s: %v", p.Name, err)
			}
		}
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		if err := d.Close(ctx); err != nil {
			t.Error(err)
		}
	})
	var archive bytes.Buffer
	if err := devimage.BusyboxArchive(&archive, "busybox:latest"); err != nil {
		t.Fatal(err)
	}
	if _, err := d.Images().Load(ctx, &archive); err != nil {
		t.Fatal(err)
	}
	return d, ctx
}

// runForeground does what `hyperctl run` does: create, attach, wait, start.
func runForeground(t *testing.T, d *daemon.Daemon, ctx context.Context, spec types.PodSpec) (string, string, types.WaitResponse, string) {
	t.Helper()
	cr, err := d.Pods().Create(ctx, spec)
	if err != nil {
		t.Fatal(err)
	}
	var out, errb syncBuf
	attached := make(chan struct{})
	go func() {
		defer close(attached)
		d.Streams().Attach(ctx, cr.ID, "", api.Stdio{Stdout: &out, Stderr: &errb})
	}()
	time.Sleep(50 * time.Millisecond) // the attach registers
	waited := make(chan types.WaitResponse, 1)
	registered := make(chan struct{})
	go func() {
		w, err := d.Pods().Wait(ctx, cr.ID, func() { close(registered) })
		if err != nil {
			t.Error(err)
		}
		waited <- w
	}()
	<-registered
	if err := d.Pods().Start(ctx, cr.ID); err != nil {
		t.Fatal(err)
	}
	w := <-waited
	<-attached
	return out.String(), errb.String(), w, cr.ID
}

func TestRunForeground(t *testing.T) {
	d, ctx := newDaemon(t)
	out, errs, w, id := runForeground(t, d, ctx, types.PodSpec{Name: "fg", Containers: []types.ContainerSpec{
		{Image: "busybox", Cmd: []string{"sh", "-c", "echo hello; echo oops >&2; exit 3"}}}})
	if out != "hello\n" || errs != "oops\n" || w.ExitCode != 3 {
		t.Fatalf("out %q err %q wait %+v", out, errs, w)
	}
	p, _ := d.Pods().Get(ctx, "fg")
	if p.State != types.StateExited || p.ExitCode != 3 {
		t.Fatalf("pod %+v", p)
	}
	var logged []string
	d.Streams().Logs(ctx, id, types.LogOptions{}, func(e types.LogEntry) error {
		logged = append(logged, e.Stream+":"+e.Log)
		return nil
	})
	if strings.Join(logged, "|") != "stdout:hello\n|stderr:oops\n" && strings.Join(logged, "|") != "stderr:oops\n|stdout:hello\n" {
		t.Fatalf("logs %q", logged)
	}
}

func TestAutoRemove(t *testing.T) {
	d, ctx := newDaemon(t)
	_, _, w, id := runForeground(t, d, ctx, types.PodSpec{AutoRemove: true, Containers: []types.ContainerSpec{
		{Image: "busybox", Cmd: []string{"true"}}}})
	if w.ExitCode != 0 {
		t.Fatalf("wait %+v", w)
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		if _, err := d.Pods().Get(ctx, id); errors.Is(err, errdefs.ErrNotFound) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("pod not removed")
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func TestDetachedLifecycle(t *testing.T) {
	d, ctx := newDaemon(t)
	cr, err := d.Pods().Create(ctx, types.PodSpec{Name: "svc", Containers: []types.ContainerSpec{
		{Image: "busybox", Cmd: []string{"sh", "-c", "echo started; exec sleep 1000"}}}})
	if err != nil {
		t.Fatal(err)
	}
	if err := d.Pods().Start(ctx, "svc"); err != nil {
		t.Fatal(err)
	}
	if err := d.Pods().Start(ctx, "svc"); !errors.Is(err, errdefs.ErrConflict) {
		t.Errorf("second start: %v", err)
	}
	if err := d.Pods().Remove(ctx, "svc", false); !errors.Is(err, errdefs.ErrConflict) {
		t.Errorf("remove running: %v", err)
	}
	// exec with stdin
	ex, err := d.Execs().CreateExec(ctx, "svc", types.ExecSpec{Cmd: []string{"sh", "-c", "cat; hostname; exit 7"}, Stdin: true})
	if err != nil {
		t.Fatal(err)
	}
	var out syncBuf
	if err := d.Execs().StartExec(ctx, ex.ID, api.Stdio{Stdin: strings.NewReader("piped\n"), Stdout: &out, Stderr: &out}); err != nil {
		t.Fatal(err)
	}
	info, _ := d.Execs().InspectExec(ctx, ex.ID)
	if info.ExitCode != 7 || out.String() != "piped\n"+cr.ID[:12]+"\n" {
		t.Fatalf("exec: %+v %q", info, out.String())
	}
	if err := d.Pods().Stop(ctx, "svc", time.Second); err != nil {
		t.Fatal(err)
	}
	p, _ := d.Pods().Get(ctx, "svc")
	if p.State != types.StateExited {
		t.Fatalf("after stop: %+v", p)
	}
	if _, err := d.Execs().CreateExec(ctx, "svc", types.ExecSpec{Cmd: []string{"true"}}); !errors.Is(err, errdefs.ErrConflict) {
		t.Errorf("exec in stopped pod: %v", err)
	}
	if err := d.Pods().Start(ctx, "svc"); err != nil {
		t.Fatal(err)
	}
	starts := func() (n int) {
		d.Streams().Logs(ctx, "svc", types.LogOptions{}, func(e types.LogEntry) error {
			if e.Log == "started\n" {
				n++
			}
			return nil
		})
		return n
	}
	for deadline := time.Now().Add(30 * time.Second); starts() < 2 && time.Now().Before(deadline); {
		time.Sleep(50 * time.Millisecond)
	}
	if n := starts(); n != 2 {
		t.Errorf("logs hold %d starts, want 2 (logs survive stop/start)", n)
	}
	if err := d.Pods().Stop(ctx, "svc", time.Second); err != nil {
		t.Fatal(err)
	}
}

func TestQEMUKilled(t *testing.T) {
	d, ctx := newDaemon(t)
	if _, err := d.Pods().Create(ctx, types.PodSpec{Name: "victim", Containers: []types.ContainerSpec{
		{Image: "busybox", Cmd: []string{"sleep", "1000"}}}}); err != nil {
		t.Fatal(err)
	}
	if err := d.Pods().Start(ctx, "victim"); err != nil {
		t.Fatal(err)
	}
	p, _ := d.Pods().Get(ctx, "victim")
	syscall.Kill(p.VM.Pid, syscall.SIGKILL)
	start := time.Now()
	for {
		p, _ = d.Pods().Get(ctx, "victim")
		if p.State != types.StateRunning {
			break
		}
		if time.Since(start) > 2*time.Second {
			t.Fatalf("pod still running %v after its QEMU was killed", time.Since(start))
		}
		time.Sleep(20 * time.Millisecond)
	}
	if p.Reason == "" || !strings.Contains(p.Reason, "killed") {
		t.Errorf("reason %q", p.Reason)
	}
	t.Logf("reported %s after %v: %s", p.State, time.Since(start).Round(time.Millisecond), p.Reason)
}

func TestBadInput(t *testing.T) {
	d, ctx := newDaemon(t)
	for name, spec := range map[string]types.PodSpec{
		"unknown image": {Containers: []types.ContainerSpec{{Image: "nosuch:image", Cmd: []string{"true"}}}},
		"no containers": {Name: "empty"},
		"bad name":      {Name: "../etc", Containers: []types.ContainerSpec{{Image: "busybox"}}},
		"low memory":    {MemoryMB: 16, Containers: []types.ContainerSpec{{Image: "busybox"}}},
	} {
		if _, err := d.Pods().Create(ctx, spec); err == nil {
			t.Errorf("%s: accepted", name)
		} else if !errors.Is(err, errdefs.ErrNotFound) && !errors.Is(err, errdefs.ErrInvalidArgument) {
			t.Errorf("%s: %v has no error kind", name, err)
		}
	}
	spec := types.PodSpec{Name: "dup", Containers: []types.ContainerSpec{{Image: "busybox", Cmd: []string{"true"}}}}
	if _, err := d.Pods().Create(ctx, spec); err != nil {
		t.Fatal(err)
	}
	if _, err := d.Pods().Create(ctx, spec); !errors.Is(err, errdefs.ErrConflict) {
		t.Errorf("duplicate name: %v", err)
	}
	if pods, _ := d.Pods().List(ctx, true); len(pods) != 1 {
		t.Errorf("bad requests left pods behind: %d", len(pods))
	}
}

// A stop that arrives while the VM boots is carried out once it has booted:
// Stop returns with the pod exited, not running.
func TestStopDuringBoot(t *testing.T) {
	d, ctx := newDaemon(t)
	if _, err := d.Pods().Create(ctx, types.PodSpec{Name: "slow", Containers: []types.ContainerSpec{
		{Image: "busybox", Cmd: []string{"sleep", "1000"}}}}); err != nil {
		t.Fatal(err)
	}
	started := make(chan error, 1)
	go func() { started <- d.Pods().Start(ctx, "slow") }()
	time.Sleep(100 * time.Millisecond) // booting
	stopCtx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	if err := d.Pods().Stop(stopCtx, "slow", time.Second); err != nil {
		t.Fatalf("stop during boot: %v", err)
	}
	<-started
	if p, _ := d.Pods().Get(ctx, "slow"); p.State == types.StateRunning {
		t.Fatalf("pod still running after a stop during boot: %+v", p)
	}
}
