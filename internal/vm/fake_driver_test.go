package vm_test

import (
	"context"
	"encoding/json"
	"net"
	"sync"

	"github.com/hyperhq/hyper/internal/errdefs"
	"github.com/hyperhq/hyper/internal/guest/guesttest"
	"github.com/hyperhq/hyper/internal/hypervisor"
	"github.com/hyperhq/hyper/internal/protocol"
	"github.com/hyperhq/hyper/internal/template"
)

// fakePid is the "process" of every fake VM: above any pid_max.
const fakePid = 1 << 30

// fakeDriver is a hypervisor driver without a hypervisor, for tests of
// vm's steps and undo: a VM is a few goroutines, and its DialChannel
// returns one end of a net.Pipe whose other end its guest serves. It is an
// Attacher and a Templater, and its VMs hot-plug disks.
type fakeDriver struct {
	// guest serves the guest end of the channel; nil: serveGuest.
	guest func(v *fakeVM, g net.Conn)
	// exitAtStart makes the VM exit as soon as it has started.
	exitAtStart bool
	// startErr fails Start; restoreErr fails the Start of restored VMs.
	startErr, restoreErr error

	mu  sync.Mutex
	vms []*fakeVM
}

func (d *fakeDriver) Name() string { return "fake" }

func (d *fakeDriver) Create(_ context.Context, spec hypervisor.Spec) (hypervisor.VM, error) {
	return d.newVM(spec, ""), nil
}

func (d *fakeDriver) newVM(spec hypervisor.Spec, tmpl string) *fakeVM {
	v := &fakeVM{d: d, spec: spec, template: tmpl, done: make(chan struct{})}
	d.mu.Lock()
	d.vms = append(d.vms, v)
	d.mu.Unlock()
	return v
}

// created lists the VMs made so far.
func (d *fakeDriver) created() []*fakeVM {
	d.mu.Lock()
	defer d.mu.Unlock()
	return append([]*fakeVM(nil), d.vms...)
}

// Owns implements hypervisor.Attacher: the started VM of spec.ID.
func (d *fakeDriver) Owns(spec hypervisor.Spec, pid int) bool {
	return pid == fakePid && d.running(spec.ID) != nil
}

func (d *fakeDriver) running(id string) *fakeVM {
	for _, v := range d.created() {
		if v.spec.ID == id && v.Pid() != 0 && !v.exited() {
			return v
		}
	}
	return nil
}

// Attach implements hypervisor.Attacher: the VM itself (it never stopped
// running in this process).
func (d *fakeDriver) Attach(_ context.Context, spec hypervisor.Spec, pid int) (hypervisor.VM, error) {
	if !d.Owns(spec, pid) {
		return nil, errdefs.NotFound("no fake vm %s as pid %d", spec.ID, pid)
	}
	return d.running(spec.ID), nil
}

// SaveTemplate implements hypervisor.Templater: nothing to save.
func (d *fakeDriver) SaveTemplate(context.Context, hypervisor.Spec, string) error { return nil }

// Restore implements hypervisor.Templater.
func (d *fakeDriver) Restore(_ context.Context, spec hypervisor.Spec, dir string) (hypervisor.VM, error) {
	return d.newVM(spec, dir), nil
}

// fakeVM is one VM of a fakeDriver.
type fakeVM struct {
	d        *fakeDriver
	spec     hypervisor.Spec
	template string // restored from

	mu      sync.Mutex
	started bool
	killed  bool
	reason  string
	calls   []string          // the guest's RPCs, in order
	resume  json.RawMessage   // the Resume request
	disks   []hypervisor.Disk // hot-added
	once    sync.Once
	done    chan struct{}
}

func (v *fakeVM) Start(context.Context) error {
	if v.d.startErr != nil {
		return v.d.startErr
	}
	if v.template != "" && v.d.restoreErr != nil {
		return v.d.restoreErr
	}
	v.mu.Lock()
	v.started = true
	v.mu.Unlock()
	if v.d.exitAtStart {
		v.exit("fake hypervisor exited at start")
	}
	return nil
}

func (v *fakeVM) exit(reason string) {
	v.once.Do(func() {
		v.mu.Lock()
		v.reason = reason
		v.mu.Unlock()
		close(v.done)
	})
}

func (v *fakeVM) exited() bool {
	select {
	case <-v.done:
		return true
	default:
		return false
	}
}

func (v *fakeVM) Pid() int {
	v.mu.Lock()
	defer v.mu.Unlock()
	if !v.started {
		return 0
	}
	return fakePid
}

func (v *fakeVM) Wait(ctx context.Context) (hypervisor.ExitInfo, error) {
	select {
	case <-v.done:
		v.mu.Lock()
		defer v.mu.Unlock()
		return hypervisor.ExitInfo{ExitCode: 0, Reason: v.reason}, nil
	case <-ctx.Done():
		return hypervisor.ExitInfo{}, ctx.Err()
	}
}

func (v *fakeVM) Shutdown(context.Context) error { v.exit("shut down by the host"); return nil }

func (v *fakeVM) Kill() error {
	v.mu.Lock()
	v.killed = true
	v.mu.Unlock()
	v.exit("killed")
	return nil
}

func (v *fakeVM) wasKilled() bool {
	v.mu.Lock()
	defer v.mu.Unlock()
	return v.killed
}

// DialChannel implements hypervisor.VM: a pipe to the fake guest, which
// loses its end when the VM exits.
func (v *fakeVM) DialChannel(ctx context.Context, name string) (net.Conn, error) {
	if len(v.spec.Channels) == 0 || v.spec.Channels[0].Name != name {
		return nil, errdefs.NotFound("fake vm %s has no channel %q", v.spec.ID, name)
	}
	if v.exited() {
		return nil, errdefs.Unavailable("fake vm %s exited before its channel could be reached", v.spec.ID)
	}
	host, g := net.Pipe()
	serve := v.d.guest
	if serve == nil {
		serve = serveGuest
	}
	go serve(v, g)
	go func() { <-v.done; g.Close() }()
	return host, nil
}

func (v *fakeVM) AddDisk(_ context.Context, d hypervisor.Disk) error {
	v.mu.Lock()
	defer v.mu.Unlock()
	v.disks = append(v.disks, d)
	return nil
}

func (v *fakeVM) RemoveDisk(context.Context, string) error { return nil }

// serveGuest is a well-behaved guest: hello, then every RPC succeeds; a
// Shutdown powers the VM off.
func serveGuest(v *fakeVM, g net.Conn) {
	guesttest.Serve(g, func(s net.Conn) {
		defer s.Close()
		var h protocol.StreamHeader
		var req json.RawMessage
		if protocol.ReadFrame(s, &h) != nil || protocol.ReadFrame(s, &req) != nil {
			return
		}
		v.mu.Lock()
		v.calls = append(v.calls, h.Method)
		if h.Method == protocol.MethodResume {
			v.resume = req
		}
		v.mu.Unlock()
		protocol.WriteFrame(s, protocol.Response{})
		if h.Method == protocol.MethodShutdown {
			v.exit("powered off by the guest")
		}
	})
}

// silentGuest never says hello.
func silentGuest(v *fakeVM, g net.Conn) { <-v.done }

// fakeTemplates is a vm.Templates with one template for every shape.
type fakeTemplates struct {
	t template.Template

	mu        sync.Mutex
	shapes    []hypervisor.Spec
	discarded []string
}

func (f *fakeTemplates) Get(_ context.Context, spec hypervisor.Spec) (template.Template, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.shapes = append(f.shapes, spec)
	return f.t, nil
}

func (f *fakeTemplates) Discard(t template.Template, _ error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.discarded = append(f.discarded, t.Dir)
}
