package agent

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"time"

	"golang.org/x/sys/unix"

	"github.com/hyperhq/hyper/internal/hyperstart/errs"
	"github.com/hyperhq/hyper/internal/hyperstart/security"
	"github.com/hyperhq/hyper/internal/hyperstart/spawn"
	"github.com/hyperhq/hyper/internal/hyperstart/stdio"
	"github.com/hyperhq/hyper/internal/protocol"
)

// ExecProcess starts a container's init process or another process in
// the mount namespace of its running init.
func (a *Agent) ExecProcess(ctx context.Context, req protocol.ExecRequest) (protocol.ExecResult, error) {
	if err := ValidateID("exec id", req.Exec); err != nil {
		return protocol.ExecResult{}, err
	}
	if err := spawn.Validate(&req.Process); err != nil {
		return protocol.ExecResult{}, err
	}
	isInit := req.Exec == protocol.InitExec

	a.mu.Lock()
	c, p, pd, err := a.reserveExec(req.Container, req.Exec, isInit)
	a.mu.Unlock()
	if err != nil {
		return protocol.ExecResult{}, err
	}
	p.terminal = req.Process.Terminal
	if isInit {
		p.oomBase, _ = c.cg.OOMKills()
	}

	pio, sp, err := a.startProcess(ctx, c, pd, &req)
	a.mu.Lock()
	if err != nil {
		c.forget(req.Exec)
		if isInit {
			c.state = stateCreated
		}
		a.mu.Unlock()
		return protocol.ExecResult{}, err
	}
	p.pid = sp.Pid
	p.master = pio.master
	p.stdin = req.Process.Stdin
	p.io = pio
	if isInit {
		c.init = p
		c.state = stateRunning
	}
	a.mu.Unlock()
	go a.watch(c, p, sp.Exit, pio)
	slog.Debug("process started", "container", c.id, "exec", p.id, "pid", p.pid)
	return protocol.ExecResult{Pid: p.pid}, nil
}

// reserveExec checks the state and records a new, not yet started
// process; a.mu must be held.
func (a *Agent) reserveExec(cid, eid string, isInit bool) (*container, *process, *pod, error) {
	if cid != protocol.VMContainer {
		if a.pod == nil {
			return nil, nil, nil, errs.Conflict("pod not created yet")
		}
		if err := a.pod.alive(); err != nil {
			return nil, nil, nil, err
		}
	}
	c, err := a.lookupProcs(cid)
	if err != nil {
		return nil, nil, nil, err
	}
	if _, ok := c.procs[eid]; ok {
		return nil, nil, nil, errs.Conflict("process %s already exists in container %s", eid, cid)
	}
	if isInit && c.state != stateCreated {
		return nil, nil, nil, errs.Conflict("container %s is %s: its init process cannot be started", cid, c.state)
	}
	if !isInit && c.state != stateRunning {
		return nil, nil, nil, errs.Conflict("container %s has no running init process (it is %s)", cid, c.state)
	}
	if len(c.procs) >= MaxExecs && !c.evict() {
		return nil, nil, nil, errs.Conflict("container %s has too many processes", cid)
	}
	p := newProcess(cid, eid, isInit)
	c.procs[eid] = p
	c.order = append(c.order, eid)
	if isInit {
		c.state = stateStarting
	}
	return c, p, a.pod, nil
}

// forget drops the record of a process; a.mu must be held.
func (c *container) forget(eid string) {
	delete(c.procs, eid)
	for i, id := range c.order {
		if id == eid {
			c.order = append(c.order[:i], c.order[i+1:]...)
			return
		}
	}
}

// evict forgets the oldest finished non-init process; a.mu must be held.
func (c *container) evict() bool {
	for _, id := range c.order {
		p := c.procs[id]
		if p.isInit || !p.finished() {
			continue
		}
		c.forget(id)
		return true
	}
	return false
}

// procIO are the parent's ends of a started process's stdio.
type procIO struct {
	master  *os.File // terminal master, or nil
	outputs []*pump
	stdin   *stdinPump
}

// startProcess claims the stdio streams, creates pipes or a terminal and
// starts the process through a spawn child.
func (a *Agent) startProcess(ctx context.Context, c *container, pd *pod, req *protocol.ExecRequest) (procIO, spawn.Process, error) {
	streams, err := a.claimStreams(ctx, req)
	if err != nil {
		return procIO{}, spawn.Process{}, err
	}
	var parentEnds, childEnds []*os.File
	closeAll := func(fs []*os.File) {
		for _, f := range fs {
			f.Close()
		}
	}
	defer func() { closeAll(childEnds) }()
	fail := func(err error) (procIO, spawn.Process, error) {
		closeAll(parentEnds)
		for _, s := range streams {
			s.Close()
		}
		return procIO{}, spawn.Process{}, err
	}

	// The parent's ends of stdout, stderr and stdin pipes (nil with a
	// terminal: the spawn child opens one and sends its master back).
	var outR, errR, inW *os.File
	var childStdio [3]*os.File
	null, err := os.Open(os.DevNull)
	if err != nil {
		return fail(errs.Internal("opening %s: %w", os.DevNull, err))
	}
	childEnds = append(childEnds, null)
	childStdio = [3]*os.File{null, null, null}
	if !req.Process.Terminal {
		for i, dst := range []**os.File{&outR, &errR} {
			r, w, err := os.Pipe()
			if err != nil {
				return fail(errs.Internal("creating output pipe: %w", err))
			}
			parentEnds, childEnds = append(parentEnds, r), append(childEnds, w)
			childStdio[i+1], *dst = w, r
		}
		if req.Process.Stdin {
			r, w, err := os.Pipe()
			if err != nil {
				return fail(errs.Internal("creating stdin pipe: %w", err))
			}
			parentEnds, childEnds = append(parentEnds, w), append(childEnds, r)
			childStdio[0], inW = r, w
		}
	}

	opts := spawn.Options{
		Spec:     spawn.Spec{Init: req.Exec == protocol.InitExec, Process: req.Process},
		Exe:      a.cfg.Exe,
		Stdio:    childStdio,
		CgroupFD: c.cgfd,
		Reaper:   a.cfg.Reaper,
	}
	sp, err := a.start(ctx, c, pd, opts)
	if err != nil {
		return fail(err)
	}
	var pio procIO
	if m := sp.Terminal; m != nil {
		pio.master = m
		pio.outputs = []*pump{newPump(m, streams[protocol.Stdout], req.Exec == protocol.InitExec)}
		if s := streams[protocol.Stdin]; s != nil {
			pio.stdin = newStdinPump(s, m, false)
		}
	} else {
		hold := req.Exec == protocol.InitExec
		pio.outputs = []*pump{newPump(outR, streams[protocol.Stdout], hold), newPump(errR, streams[protocol.Stderr], hold)}
		if s := streams[protocol.Stdin]; s != nil {
			pio.stdin = newStdinPump(s, inW, true)
		}
	}
	return pio, sp, nil
}

// start starts a process of c: in hyperstart's own root and namespaces
// for the VM; for an init, in a new mount namespace set up as the
// container's root, on a holder thread that keeps it (and a Landlock
// domain) for the container's later confined processes if the init is
// confined; else in the init's mount namespace, from the holder if any.
func (a *Agent) start(ctx context.Context, c *container, pd *pod, opts spawn.Options) (spawn.Process, error) {
	p := &opts.Spec.Process
	switch {
	case c == a.vm:
		return spawn.Start(ctx, opts)
	case opts.Spec.Init:
		opts.Namespaces = pd.ns
		opts.Spec.Rootfs = c.rootfs
		opts.Spec.Volumes = c.vols
		opts.Spec.Proc = pd.proc
		opts.Spec.Confinement = c.confinement
		opts.Spec.PodFiles = map[string]string{}
		for _, f := range podFiles {
			opts.Spec.PodFiles[f] = filepath.Join(a.cfg.Paths.pod(), f)
		}
		if !isolated(p) || pd.proc == "" {
			return spawn.Start(ctx, opts)
		}
		h, err := spawn.NewHolder(opts)
		if err != nil {
			return spawn.Process{}, err
		}
		sp, err := h.Start(ctx, opts)
		if err != nil {
			h.Close()
			return spawn.Process{}, err
		}
		a.mu.Lock()
		c.holder = h // until the init exits (watch)
		a.mu.Unlock()
		return sp, nil
	}
	a.mu.Lock()
	h := c.holder
	a.mu.Unlock()
	if h != nil && isolated(p) {
		return h.Start(ctx, opts)
	}
	opts.Namespaces = pd.ns
	fd, err := a.openMountNS(c)
	if err != nil {
		return spawn.Process{}, err
	}
	defer unix.Close(fd)
	opts.MountNS = fd
	return spawn.Start(ctx, opts)
}

// isolated reports whether a process of spec gets a Landlock domain:
// started from its container's holder (spawn.Holder), it shares its
// init's.
func isolated(spec *protocol.ProcessSpec) bool {
	conf, err := security.Parse(spec)
	return err == nil && conf.Isolated && security.Isolating()
}

// claimStreams waits for the stdio streams the process needs.
func (a *Agent) claimStreams(ctx context.Context, req *protocol.ExecRequest) (map[string]net.Conn, error) {
	names := []string{protocol.Stdout}
	if !req.Process.Terminal {
		names = append(names, protocol.Stderr)
	}
	if req.Process.Stdin {
		names = append(names, protocol.Stdin)
	}
	deadline := time.Now().Add(StdioTimeout)
	streams := map[string]net.Conn{}
	for _, n := range names {
		s, err := a.cfg.Stdio.Claim(ctx, stdio.Key{Container: req.Container, Exec: req.Exec, Stdio: n}, time.Until(deadline))
		if err != nil {
			for _, s := range streams {
				s.Close()
			}
			return nil, err
		}
		streams[n] = s
	}
	return streams, nil
}

// openMountNS opens the mount namespace of the container's init, making
// sure the pid still belongs to it (it cannot be reused before reaped).
func (a *Agent) openMountNS(c *container) (int, error) {
	a.mu.Lock()
	init := c.init
	a.mu.Unlock()
	if init == nil {
		return -1, errs.Conflict("container %s has no running init process", c.id)
	}
	fd, err := unix.Open(fmt.Sprintf("/proc/%d/ns/mnt", init.pid), unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err == nil && !a.cfg.Reaper.Running(init.pid) {
		unix.Close(fd)
		err = unix.ESRCH
	}
	if err != nil {
		return -1, errs.Conflict("container %s has no running init process: %w", c.id, err)
	}
	return fd, nil
}

// AttachProcess gives a running process new stdio streams, opened by the
// host beforehand as for ExecProcess: how a restarted host takes over the
// output of processes started by its predecessor.
func (a *Agent) AttachProcess(ctx context.Context, ref protocol.ProcessRef) (protocol.Empty, error) {
	_, p, err := a.findProcess(ref.Container, ref.Exec)
	if err != nil {
		return protocol.Empty{}, err
	}
	a.mu.Lock()
	pio, terminal, stdin := p.io, p.terminal, p.stdin
	a.mu.Unlock()
	if pio.outputs == nil {
		return protocol.Empty{}, errs.Conflict("process %s/%s has not started", ref.Container, ref.Exec)
	}
	streams, err := a.claimStreams(ctx, &protocol.ExecRequest{Container: ref.Container, Exec: ref.Exec,
		Process: protocol.ProcessSpec{Terminal: terminal, Stdin: stdin}})
	if err != nil {
		return protocol.Empty{}, err
	}
	pio.outputs[0].attach(streams[protocol.Stdout])
	if len(pio.outputs) > 1 {
		pio.outputs[1].attach(streams[protocol.Stderr])
	}
	if s := streams[protocol.Stdin]; s != nil {
		if pio.stdin != nil {
			pio.stdin.attach(s)
		} else {
			s.Close()
		}
	}
	return protocol.Empty{}, nil
}
