package sandbox

import (
	"context"
	"errors"
	"sync"
	"testing"

	"github.com/hyperhq/hyper/internal/errdefs"
	"github.com/hyperhq/hyper/internal/hypervisor"
	"github.com/hyperhq/hyper/internal/protocol"
)

// memStore keeps the saved statuses (a fake Store).
type memStore struct {
	mu      sync.Mutex
	saved   []Status
	deleted bool
}

func (m *memStore) Save(st Status) { m.mu.Lock(); m.saved = append(m.saved, st); m.mu.Unlock() }
func (m *memStore) Delete()        { m.mu.Lock(); m.deleted = true; m.mu.Unlock() }

func (m *memStore) last() Status {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.saved[len(m.saved)-1]
}

// noRootfs fails: a pod that does not run never asks for its disk.
func noRootfs(context.Context) (hypervisor.Disk, error) {
	return hypervisor.Disk{}, errors.New("a disk asked for while not running")
}

func spec(name, image string) ContainerSpec {
	return ContainerSpec{Name: name, Image: image, Process: protocol.ProcessSpec{Args: []string{name}}}
}

func newTestSandbox(t *testing.T, st Status) (*Sandbox, *memStore) {
	store := &memStore{}
	sb := New(&Config{LogMaxFiles: 1}, Spec{ID: "0123456789abcdef", Name: "web", Dir: t.TempDir()},
		[]ContainerSpec{spec("web-init-0", "sha256:i")}, []ContainerSpec{spec("a", "sha256:x"), spec("b", "sha256:y")}, st, store)
	return sb, store
}

func TestChangeNotRunning(t *testing.T) {
	sb, store := newTestSandbox(t, Status{State: Exited, Containers: []ContainerStatus{{Name: "a", State: CtrExited, ExitCode: 3}}})
	before := sb.Status() // what a concurrent save or inspect holds
	ch := sb.BeginChange()
	if err := ch.AddContainer(context.Background(), spec("web-1", "sha256:z"), noRootfs); err != nil {
		t.Fatal(err)
	}
	if err := ch.AddContainer(context.Background(), spec("web-init-0", "sha256:z"), noRootfs); !errors.Is(err, errdefs.ErrConflict) {
		t.Errorf("a name of an init container taken again: %v", err)
	}
	if !sb.HasName("web-1") || !sb.HasName("web-init-0") || sb.HasName("") || sb.HasName("nosuch") {
		t.Error("names after add")
	}
	sb.mu.Lock()
	done := sb.ctrs[2].io.done
	sb.mu.Unlock()
	if !isClosed(done) {
		t.Error("a container added to an exited pod is not done")
	}
	if err := ch.RemoveContainer(context.Background(), "a", false); err != nil {
		t.Fatal(err)
	}
	if err := ch.RemoveContainer(context.Background(), "web-init-0", true); !errors.Is(err, errdefs.ErrInvalidArgument) {
		t.Errorf("removing an init container: %v", err)
	}
	if err := ch.RemoveContainer(context.Background(), "nosuch", true); !errors.Is(err, errdefs.ErrNotFound) {
		t.Errorf("removing a missing container: %v", err)
	}
	ch.Done()
	st := store.last()
	if len(st.Containers) != 2 || st.Containers[0].Name != "b" || st.Containers[1].Name != "web-1" || st.Containers[1].State != CtrCreated {
		t.Errorf("after remove: %+v", st.Containers)
	}
	if len(before.Containers) != 2 || before.Containers[0].Name != "a" || before.Containers[0].ExitCode != 3 {
		t.Errorf("a snapshot changed: %+v", before.Containers)
	}
	if got := sb.Images(); len(got) != 3 || got[0] != "sha256:i" {
		t.Errorf("distinct images %v", got)
	}
	if st.Seq <= before.Seq {
		t.Errorf("saves not numbered: %d after %d", st.Seq, before.Seq)
	}
}

func TestLastContainer(t *testing.T) {
	sb := New(&Config{}, Spec{Name: "one", Dir: t.TempDir()}, nil, []ContainerSpec{spec("a", "x")}, Status{}, &memStore{})
	ch := sb.BeginChange()
	defer ch.Done()
	if err := ch.RemoveContainer(context.Background(), "a", true); !errors.Is(err, errdefs.ErrConflict) {
		t.Errorf("removing the last container: %v", err)
	}
}

func TestStateMachine(t *testing.T) {
	sb, _ := newTestSandbox(t, Status{})
	if st := sb.Status(); st.State != Created || st.Containers[0].State != CtrCreated {
		t.Fatalf("new sandbox: %+v", st)
	}
	sb.mu.Lock()
	defer sb.mu.Unlock()
	if err := sb.to(Exited); err == nil {
		t.Error("created -> exited allowed")
	}
	for _, next := range []State{Running, Exited, Running, Failed, Running, Removed} {
		if err := sb.to(next); err != nil {
			t.Fatal(err)
		}
	}
	if err := sb.to(Running); err == nil {
		t.Error("a removed pod runs again")
	}
	c := sb.ctrs[0]
	if err := c.to(CtrCreated); err == nil {
		t.Error("created -> created allowed")
	}
	for _, next := range []CtrState{CtrRunning, CtrExited, CtrRunning, CtrExited, CtrCreated} {
		if err := c.to(next); err != nil {
			t.Fatal(err)
		}
	}
	if err := c.to(CtrExited); err != nil {
		t.Fatal(err) // a run that ended before it started
	}
}

func TestStopAndKillNotRunning(t *testing.T) {
	sb, _ := newTestSandbox(t, Status{})
	if err := sb.Stop(context.Background(), 0); err != nil {
		t.Errorf("stopping a pod that does not run: %v", err)
	}
	if err := sb.Kill(context.Background(), 9); !errors.Is(err, errdefs.ErrConflict) {
		t.Errorf("killing a pod that does not run: %v", err)
	}
	if err := sb.Kill(context.Background(), 0); !errors.Is(err, errdefs.ErrInvalidArgument) {
		t.Errorf("signal 0: %v", err)
	}
	if _, err := sb.Exec(context.Background(), "a", "e1", protocol.ProcessSpec{}, Stdio{}, nil); !errors.Is(err, errdefs.ErrConflict) {
		t.Errorf("exec in a pod that does not run: %v", err)
	}
	if err := sb.Remove(context.Background(), false); err != nil {
		t.Fatal(err)
	}
	if st := sb.Status(); st.State != Removed {
		t.Errorf("after remove: %s", st.State)
	}
	if !isClosed(sb.Exited()) {
		t.Error("waiters of a removed pod are not released")
	}
	if err := sb.Start(context.Background(), nil); !errors.Is(err, errdefs.ErrConflict) {
		t.Errorf("starting a removed pod: %v", err)
	}
}

func TestStartFailsPreparing(t *testing.T) {
	sb, store := newTestSandbox(t, Status{})
	released := false
	err := sb.Start(context.Background(), func(context.Context) (Run, error) {
		return Run{Release: func() { released = true }}, nil // no root file systems
	})
	if !errors.Is(err, errdefs.ErrInvalidArgument) || !released {
		t.Fatalf("start: %v (released %v)", err, released)
	}
	st := store.last()
	if st.State != Failed || st.ExitCode != 125 || st.Reason == "" || sb.Running() {
		t.Errorf("after a failed start: %+v", st)
	}
	if !isClosed(sb.Exited()) {
		t.Error("waiters of a failed start are not released")
	}
	boom := errors.New("boom")
	if err := sb.Start(context.Background(), func(context.Context) (Run, error) { return Run{}, boom }); !errors.Is(err, boom) {
		t.Errorf("the preparation's error is lost: %v", err)
	}
}

func TestRunRefs(t *testing.T) {
	r := newRunRefs()
	if !r.hold() {
		t.Fatal("hold of a live run")
	}
	r.release()
	if isClosed(r.done) {
		t.Fatal("ended while supervise holds it")
	}
	r.release()
	if !isClosed(r.done) || r.hold() {
		t.Fatal("an ended run is held again")
	}
	var none *runRefs
	if none.hold() {
		t.Fatal("hold of no run")
	}
}
