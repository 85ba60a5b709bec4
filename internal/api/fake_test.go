package api_test

import (
	"context"
	"io"
	"sync"
	"time"

	"github.com/hyperhq/hyper/internal/api"
	"github.com/hyperhq/hyper/internal/api/types"
	"github.com/hyperhq/hyper/internal/errdefs"
)

// fake is a Backend whose every method is a replaceable func; the defaults
// serve one pod, "p1" (name "web"), with one container "main".
type fake struct {
	mu    sync.Mutex
	calls []call

	create func(ctx context.Context, spec types.PodSpec) (types.CreateResponse, error)
	start  func(ctx context.Context, id string) error
	stop   func(ctx context.Context, id string, timeout time.Duration) error
	kill   func(ctx context.Context, id string, signal int) error
	remove func(ctx context.Context, id string, force bool) error
	list   func(ctx context.Context, all bool) ([]types.Pod, error)
	get    func(ctx context.Context, id string) (types.Pod, error)
	wait   func(ctx context.Context, id string, ready func()) (types.WaitResponse, error)
	attach func(ctx context.Context, id, container string, stdio api.Stdio) error
	// attachesLate: attach calls stdio.Attached itself.
	attachesLate bool
	logs         func(ctx context.Context, id string, o types.LogOptions, fn func(types.LogEntry) error) error
	resize       func(ctx context.Context, id, container string, rows, cols uint16) error
	createExec   func(ctx context.Context, pod string, spec types.ExecSpec) (types.CreateResponse, error)
	startExec    func(ctx context.Context, id string, stdio api.Stdio) error
	resizeExec   func(ctx context.Context, id string, rows, cols uint16) error
	inspect      func(ctx context.Context, id string) (types.ExecInfo, error)
	load         func(ctx context.Context, r io.Reader) ([]types.Image, error)
	save         func(ctx context.Context, w io.Writer, refs []string, format string) error
	images       func(ctx context.Context) ([]types.Image, error)
	rmi          func(ctx context.Context, ref string, force bool) error
	info         func(ctx context.Context) (types.Info, error)
}

// call is one recorded backend call.
type call struct {
	Method string
	Args   []any
}

func (f *fake) record(method string, args ...any) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, call{method, args})
}

// last is the most recent call of method.
func (f *fake) last(method string) (call, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for i := len(f.calls) - 1; i >= 0; i-- {
		if f.calls[i].Method == method {
			return f.calls[i], true
		}
	}
	return call{}, false
}

func (f *fake) backend() api.Backend {
	return api.Backend{Pods: f, Streams: fakeStreams{f}, Execs: f, Images: fakeImages{f}, System: f}
}

var testPod = types.Pod{
	ID:    "0123456789abcdef0123456789abcdef",
	Name:  "web",
	State: types.StateCreated,
	Spec: types.PodSpec{Name: "web", Containers: []types.ContainerSpec{
		{Name: "main", Image: "busybox", Cmd: []string{"sh"}},
	}},
	Containers: []types.Container{{Name: "main", Image: "busybox", State: types.StateCreated}},
}

func (f *fake) Create(ctx context.Context, spec types.PodSpec) (types.CreateResponse, error) {
	f.record("Create", spec)
	if f.create != nil {
		return f.create(ctx, spec)
	}
	return types.CreateResponse{ID: testPod.ID}, nil
}

func (f *fake) Start(ctx context.Context, id string) error {
	f.record("Start", id)
	if f.start != nil {
		return f.start(ctx, id)
	}
	return nil
}

func (f *fake) Stop(ctx context.Context, id string, timeout time.Duration) error {
	f.record("Stop", id, timeout)
	if f.stop != nil {
		return f.stop(ctx, id, timeout)
	}
	return nil
}

func (f *fake) Kill(ctx context.Context, id string, signal int) error {
	f.record("Kill", id, signal)
	if f.kill != nil {
		return f.kill(ctx, id, signal)
	}
	return nil
}

func (f *fake) Remove(ctx context.Context, id string, force bool) error {
	f.record("Remove", id, force)
	if f.remove != nil {
		return f.remove(ctx, id, force)
	}
	return nil
}

func (f *fake) Rename(ctx context.Context, id, name string) error {
	f.record("Rename", id, name)
	return nil
}

func (f *fake) List(ctx context.Context, all bool) ([]types.Pod, error) {
	f.record("List", all)
	if f.list != nil {
		return f.list(ctx, all)
	}
	return []types.Pod{testPod}, nil
}

func (f *fake) Get(ctx context.Context, id string) (types.Pod, error) {
	f.record("Get", id)
	if f.get != nil {
		return f.get(ctx, id)
	}
	if id == testPod.ID || id == testPod.Name || id == testPod.ID[:12] {
		return testPod, nil
	}
	return types.Pod{}, errdefs.NotFound("no such pod: %s", id)
}

func (f *fake) Wait(ctx context.Context, id string, ready func()) (types.WaitResponse, error) {
	f.record("Wait", id)
	if f.wait != nil {
		return f.wait(ctx, id, ready)
	}
	ready()
	return types.WaitResponse{}, nil
}

type fakeStreams struct{ f *fake }

func (s fakeStreams) Attach(ctx context.Context, id, container string, stdio api.Stdio) error {
	s.f.record("Attach", id, container, stdio.Stdin != nil, stdio.Stderr != nil)
	if !s.f.attachesLate {
		stdio.Attached() // a backend attached at once
	}
	if s.f.attach != nil {
		return s.f.attach(ctx, id, container, stdio)
	}
	return nil
}

func (s fakeStreams) Logs(ctx context.Context, id string, o types.LogOptions, fn func(types.LogEntry) error) error {
	s.f.record("Logs", id, o)
	if s.f.logs != nil {
		return s.f.logs(ctx, id, o, fn)
	}
	return nil
}

func (s fakeStreams) Resize(ctx context.Context, id, container string, rows, cols uint16) error {
	s.f.record("Resize", id, container, rows, cols)
	if s.f.resize != nil {
		return s.f.resize(ctx, id, container, rows, cols)
	}
	return nil
}

func (f *fake) CreateExec(ctx context.Context, pod string, spec types.ExecSpec) (types.CreateResponse, error) {
	f.record("CreateExec", pod, spec)
	if f.createExec != nil {
		return f.createExec(ctx, pod, spec)
	}
	return types.CreateResponse{ID: "exec1"}, nil
}

func (f *fake) StartExec(ctx context.Context, id string, stdio api.Stdio) error {
	f.record("StartExec", id, stdio.Stdin != nil, stdio.Stderr != nil)
	if f.startExec != nil {
		return f.startExec(ctx, id, stdio)
	}
	return nil
}

func (f *fake) ResizeExec(ctx context.Context, id string, rows, cols uint16) error {
	f.record("ResizeExec", id, rows, cols)
	if f.resizeExec != nil {
		return f.resizeExec(ctx, id, rows, cols)
	}
	return nil
}

func (f *fake) InspectExec(ctx context.Context, id string) (types.ExecInfo, error) {
	f.record("InspectExec", id)
	if f.inspect != nil {
		return f.inspect(ctx, id)
	}
	if id != "exec1" {
		return types.ExecInfo{}, errdefs.NotFound("no such exec: %s", id)
	}
	return types.ExecInfo{ID: id, PodID: testPod.ID}, nil
}

type fakeImages struct{ f *fake }

func (i fakeImages) Load(ctx context.Context, r io.Reader) ([]types.Image, error) {
	i.f.record("Load")
	if i.f.load != nil {
		return i.f.load(ctx, r)
	}
	_, err := io.Copy(io.Discard, r)
	return nil, err
}

func (i fakeImages) Save(ctx context.Context, w io.Writer, refs []string, format string) error {
	i.f.record("Save", refs, format)
	if i.f.save != nil {
		return i.f.save(ctx, w, refs, format)
	}
	return nil
}

func (i fakeImages) List(ctx context.Context) ([]types.Image, error) {
	i.f.record("Images")
	if i.f.images != nil {
		return i.f.images(ctx)
	}
	return nil, nil
}

func (i fakeImages) Remove(ctx context.Context, ref string, force bool) error {
	i.f.record("Rmi", ref, force)
	if i.f.rmi != nil {
		return i.f.rmi(ctx, ref, force)
	}
	return nil
}

func (f *fake) Info(ctx context.Context) (types.Info, error) {
	f.record("Info")
	if f.info != nil {
		return f.info(ctx)
	}
	return types.Info{Version: "test", Hypervisor: "qemu", Accel: "tcg", AccelReason: "/dev/kvm: no such file", Pods: 2, PodsRunning: 1}, nil
}

func (f *fake) Version() types.Version {
	return types.Version{Version: "test", APIVersion: types.APIVersion, GoVersion: "go", Os: "linux", Arch: "amd64"}
}
