package daemon

import (
	"context"
	"strconv"
	"sync"

	"github.com/hyperhq/hyper/internal/api"
	"github.com/hyperhq/hyper/internal/api/types"
	"github.com/hyperhq/hyper/internal/errdefs"
	"github.com/hyperhq/hyper/internal/guest"
	"github.com/hyperhq/hyper/internal/protocol"
	"github.com/hyperhq/hyper/internal/sandbox"
	"github.com/hyperhq/hyper/internal/secpolicy"
)

// execution is one exec: created, then started once.
type execution struct {
	id, pod   string
	container string
	spec      protocol.ProcessSpec

	mu       sync.Mutex
	started  bool
	running  bool
	exitCode int
	proc     *guest.Process
}

// Execs adapts the daemon to api.Execs.
type Execs struct{ d *Daemon }

// Execs returns the daemon's api.Execs.
func (d *Daemon) Execs() Execs { return Execs{d} }

// CreateExec implements api.Execs.
func (x Execs) CreateExec(ctx context.Context, ref string, spec types.ExecSpec) (types.CreateResponse, error) {
	d := x.d
	if len(spec.Cmd) == 0 {
		return types.CreateResponse{}, errdefs.InvalidArgument("exec needs a command")
	}
	p, name, base, err := x.target(ref, spec)
	if err != nil {
		return types.CreateResponse{}, err
	}
	if !p.sb.CanExec(name) {
		return types.CreateResponse{}, errdefs.Conflict("pod %s is not running", ref)
	}
	if p.sb.Status().Paused {
		return types.CreateResponse{}, errdefs.Conflict("pod %s is paused: unpause it first", ref)
	}
	podID := p.rec.ID
	user := base.User
	if spec.User != "" {
		user = spec.User
	}
	cwd := base.Cwd
	if spec.WorkingDir != "" {
		cwd = spec.WorkingDir
	}
	if spec.Privileged && spec.VM {
		return types.CreateResponse{}, errdefs.InvalidArgument("an exec in the VM runs as hyperstart's root already: --privileged is for containers")
	}
	// As docker exec: the container's capabilities (all with
	// --privileged), seccomp filter, no-new-privileges, rlimits and
	// extra groups.
	e := &execution{id: newID(), pod: podID, container: name, spec: protocol.ProcessSpec{
		Args: spec.Cmd, Env: mergeEnv(base.Env, spec.Env), Cwd: cwd, User: user,
		Rlimits: base.Rlimits, AdditionalGroups: base.AdditionalGroups,
		Terminal: spec.Tty, Stdin: spec.Stdin,
		Capabilities:    secpolicy.ExecCaps(base.Capabilities, spec.Privileged),
		NoNewPrivileges: base.NoNewPrivileges, Seccomp: base.Seccomp,
	}}
	d.mu.Lock()
	d.execs[e.id] = e
	d.mu.Unlock()
	p.publish(types.ActionExecCreate, name, e.eventAttrs())
	return types.CreateResponse{ID: e.id}, nil
}

// target finds where an exec runs: the pod's container (by name, or
// the first) with its main process's settings as defaults, or, with
// spec.VM, the VM itself without defaults.
func (x Execs) target(ref string, spec types.ExecSpec) (*pod, string, protocol.ProcessSpec, error) {
	if spec.VM {
		if spec.Container != "" {
			return nil, "", protocol.ProcessSpec{}, errdefs.InvalidArgument("an exec in the VM runs outside every container: give no container")
		}
		p, err := x.d.lookup(ref)
		return p, protocol.VMContainer, protocol.ProcessSpec{}, err
	}
	p, name, err := x.d.lookupContainer(ref, spec.Container)
	if err != nil {
		return nil, "", protocol.ProcessSpec{}, err
	}
	cs, _, ok := p.sb.Container(name)
	if !ok { // removed meanwhile
		return nil, "", protocol.ProcessSpec{}, errdefs.NotFound("pod %s has no container %q", ref, name)
	}
	return p, name, cs.Process, nil
}

// get finds exec id.
func (x Execs) get(id string) (*execution, error) {
	d := x.d
	d.mu.Lock()
	defer d.mu.Unlock()
	e, ok := d.execs[id]
	if !ok {
		return nil, errdefs.NotFound("no such exec: %s", id)
	}
	return e, nil
}

// StartExec implements api.Execs.
func (x Execs) StartExec(ctx context.Context, id string, stdio api.Stdio) error {
	d := x.d
	e, err := x.get(id)
	if err != nil {
		return err
	}
	e.mu.Lock()
	if e.started {
		e.mu.Unlock()
		return errdefs.Conflict("exec %s was already started", id)
	}
	e.started, e.running = true, true
	e.mu.Unlock()
	p, err := d.lookup(e.pod)
	if err != nil {
		return err
	}
	code, err := p.sb.Exec(ctx, e.container, e.id[:16], e.spec,
		sandbox.Stdio{Stdin: stdio.Stdin, Stdout: stdio.Stdout, Stderr: stdio.Stderr},
		func(proc *guest.Process) {
			e.mu.Lock()
			e.proc = proc
			e.mu.Unlock()
			p.publish(types.ActionExecStart, e.container, e.eventAttrs())
		})
	e.mu.Lock()
	e.running, e.exitCode = false, code
	started := e.proc != nil
	e.mu.Unlock()
	if started {
		attrs := e.eventAttrs()
		attrs["exitCode"] = strconv.Itoa(code)
		p.publish(types.ActionExecDie, e.container, attrs)
	}
	return err
}

// ResizeExec implements api.Execs.
func (x Execs) ResizeExec(ctx context.Context, id string, rows, cols uint16) error {
	e, err := x.get(id)
	if err != nil {
		return err
	}
	e.mu.Lock()
	proc := e.proc
	e.mu.Unlock()
	if proc == nil {
		return errdefs.Conflict("exec %s is not running", id)
	}
	return proc.Resize(ctx, rows, cols)
}

// InspectExec implements api.Execs.
func (x Execs) InspectExec(ctx context.Context, id string) (types.ExecInfo, error) {
	e, err := x.get(id)
	if err != nil {
		return types.ExecInfo{}, err
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	return types.ExecInfo{ID: e.id, PodID: e.pod, Running: e.running, ExitCode: e.exitCode, Tty: e.spec.Terminal}, nil
}
