package sandbox

import (
	"context"
	"errors"
	"io"
	"time"

	"github.com/hyperhq/hyper/internal/errdefs"
	"github.com/hyperhq/hyper/internal/guest"
	"github.com/hyperhq/hyper/internal/protocol"
	"github.com/hyperhq/hyper/internal/vm"
)

// Stop stops every main container (its stop signal, then SIGKILL after
// grace) and returns once the run ended; no container restarts any more
// in this run. A pod that is not running is no error, as in docker.
func (s *Sandbox) Stop(ctx context.Context, grace time.Duration) error {
	s.mu.Lock()
	r, exited := s.run, s.exited
	if r == nil {
		// A run whose end is being reported (its exit saved, its clients
		// not yet released) has ended for Stop only once it is reported.
		ending := (s.st.state == Exited || s.st.state == Failed) && !isClosed(exited)
		s.mu.Unlock()
		if ending {
			select {
			case <-exited:
			case <-ctx.Done():
				return ctx.Err()
			}
		}
		return nil
	}
	r.stop()
	stops := s.stopRequests(grace)
	v := r.vm
	s.mu.Unlock()
	s.unpauseFor(ctx, "stop")
	if v != nil { // else init containers run (they stop), or the VM boots
		for _, req := range stops {
			err := v.Guest.StopContainer(ctx, req)
			if err != nil && !errors.Is(err, errdefs.ErrNotFound) {
				s.log.Warn("stopping container", "pod", short(s.spec.ID), "container", req.Container, "err", err)
			}
		}
	}
	select {
	case <-exited:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Kill sends sig to every main container's main process.
func (s *Sandbox) Kill(ctx context.Context, sig int) error {
	if sig <= 0 || sig > 64 {
		return errdefs.InvalidArgument("invalid signal %d", sig)
	}
	s.mu.Lock()
	running := s.run != nil && s.run.vm != nil && s.st.state == Running
	var v *vm.VM
	if running {
		v = s.run.vm
	}
	var procs []*guest.Process // read under the lock: restarts replace them
	for _, c := range s.ctrs {
		if c.io.proc != nil {
			procs = append(procs, c.io.proc)
		}
	}
	s.mu.Unlock()
	if !running {
		return errdefs.Conflict("pod %s is not running", s.spec.Name)
	}
	s.unpauseFor(ctx, "kill")
	var errs []error
	for _, proc := range procs {
		if err := s.cutShort(v, proc.Signal(ctx, sig)); err != nil && !errors.Is(err, errdefs.ErrNotFound) {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// forceGrace bounds how long a forced removal waits for a running pod's
// guest to sync its disks and power off before the VM is killed.
const forceGrace = 5 * time.Second

// Remove ends the sandbox: a running pod needs force (its processes are
// killed, as docker's rm -f does, but the guest syncs and unmounts first
// so volume writes survive). It returns once the VM is gone; the
// sandbox's state is Removed then and it does no more. The caller removes
// the pod's files and record.
func (s *Sandbox) Remove(ctx context.Context, force bool) error {
	s.mu.Lock()
	r, exited := s.run, s.exited
	if r != nil && !force {
		s.mu.Unlock()
		return errdefs.Conflict("pod %s is running: stop it first or use force", s.spec.Name)
	}
	s.removing = true // checked with run, under one lock: no Start slips in
	var v vmStopper
	if r != nil {
		r.stop() // no restarts; init containers stop
		if r.vm != nil {
			v = r.vm
		}
	}
	s.mu.Unlock()
	if r != nil {
		if v != nil {
			s.unpauseFor(ctx, "remove")
			sctx, cancel := context.WithTimeout(ctx, forceGrace)
			v.Shutdown(sctx)
			cancel()
		}
		select {
		case <-exited:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	select { // the VM holds the pod's scratch disk until it is gone
	case <-s.VMGone():
	case <-ctx.Done():
		return ctx.Err()
	}
	s.mu.Lock()
	if s.st.state != Removed { // removed twice at once: no error
		s.to(Removed)
	}
	s.closeRun() // waiters on a pod that never ran are released
	if !isClosed(s.restarted) {
		close(s.restarted) // and clients waiting for a next run: none comes
	}
	s.mu.Unlock()
	return nil
}

type vmStopper interface {
	Shutdown(ctx context.Context) error
}

// Stdio is a client's end of a process's standard streams; nil ones are
// not connected. Stderr nil with a terminal: everything is on Stdout.
type Stdio struct {
	Stdin          io.Reader
	Stdout, Stderr io.Writer
	// Attached, if set, is called by Attach once the streams are
	// connected: output from then on reaches them.
	Attached func()
}

// Attach connects stdio to main container name ("" is the first) until
// its run ends, the client goes, or ctx ends. Attaching to a pod that has
// not started yet, or has exited, waits for its next run (docker's
// `start -a`).
func (s *Sandbox) Attach(ctx context.Context, name string, stdio Stdio) error {
	s.mu.Lock()
	c, ok := mainCtr(s.ctrs, name)
	if !ok {
		s.mu.Unlock()
		return errdefs.NotFound("pod %s has no container %q", s.spec.Name, name)
	}
	cio, restarted := c.io, s.restarted
	s.mu.Unlock()
	id, gone := c.out.subscribe(stdio.Stdout, stdio.Stderr)
	defer c.out.unsubscribe(id)
	if stdio.Attached != nil {
		stdio.Attached()
	}
	if isClosed(cio.done) { // exited: wait for the next run
		select {
		case <-restarted:
		case <-gone:
			return nil
		case <-ctx.Done():
			return nil
		}
		s.mu.Lock()
		cio = c.io
		s.mu.Unlock()
	}
	if stdio.Stdin != nil && cio.stdinW != nil {
		go func() {
			if _, err := io.Copy(cio.stdinW, stdio.Stdin); err == nil {
				cio.stdinW.Close() // the client's EOF closes the process's stdin
			}
		}()
	}
	s.mu.Lock()
	ended := cio.ended // nil (blocks) if not supervised
	s.mu.Unlock()
	select {
	case <-cio.done:
	case <-ended: // exited for good while the pod runs on
		s.mu.Lock()
		delivered := cio.delivered
		s.mu.Unlock()
		if delivered != nil { // its last output reaches the client first
			select {
			case <-delivered:
			case <-time.After(deliverTimeout):
			}
		}
	case <-gone:
	case <-ctx.Done():
	}
	return nil
}

// LogFile returns container name's log file ("" is the first main
// container; init containers too) and a channel closed when its current
// run ended (a follower stops there).
func (s *Sandbox) LogFile(name string) (path string, done <-chan struct{}, err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	c, ok := findCtr(s.ctrs, s.inits, name)
	if !ok {
		return "", nil, errdefs.NotFound("pod %s has no container %q", s.spec.Name, name)
	}
	return logPath(s.spec.Dir, c.spec.Name), c.io.done, nil
}

// Resize sets main container name's terminal size.
func (s *Sandbox) Resize(ctx context.Context, name string, rows, cols uint16) error {
	s.mu.Lock()
	var proc *guest.Process
	if c, ok := mainCtr(s.ctrs, name); ok {
		proc = c.io.proc // read under the lock: restarts replace it
	}
	s.mu.Unlock()
	if proc == nil {
		return errdefs.Conflict("pod %s is not running", s.spec.Name)
	}
	return proc.Resize(ctx, rows, cols)
}

// CanExec tells whether an exec in container name (protocol.VMContainer:
// the VM itself) can start now.
func (s *Sandbox) CanExec(name string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	_, live := mainCtr(s.ctrs, name)
	return s.run != nil && s.run.vm != nil && (live || name == protocol.VMContainer)
}

// Exec runs spec in container name (protocol.VMContainer: the VM itself)
// as exec id, connected to stdio, and returns its exit code. started, if
// set, is told the process once it runs (to resize it).
func (s *Sandbox) Exec(ctx context.Context, name, id string, spec protocol.ProcessSpec, stdio Stdio, started func(*guest.Process)) (int, error) {
	s.mu.Lock()
	var g *guest.Client
	if s.run != nil && s.run.vm != nil {
		g = s.run.vm.Guest
	}
	paused := s.st.paused
	s.mu.Unlock()
	if g == nil {
		return 126, errdefs.Conflict("pod %s is not running", s.spec.Name)
	}
	if paused {
		return 126, errdefs.Conflict("pod %s is paused", s.spec.Name)
	}
	if stdio.Stdin == nil {
		spec.Stdin = false
	}
	proc, err := g.Exec(ctx, name, id, spec)
	if err != nil {
		if errors.Is(err, errdefs.ErrNotFound) {
			return 127, err
		}
		return 126, err
	}
	defer proc.Close()
	if started != nil {
		started(proc)
	}
	if proc.Stdin != nil {
		go func() {
			io.Copy(proc.Stdin, stdio.Stdin)
			proc.Stdin.Close()
		}()
	}
	done := make(chan struct{}, 2)
	copyOut := func(w io.Writer, r io.Reader) {
		if w == nil {
			w = io.Discard
		}
		io.Copy(w, r)
		done <- struct{}{}
	}
	n := 1
	go copyOut(stdio.Stdout, proc.Stdout)
	if proc.Stderr != nil {
		n++
		go copyOut(stdio.Stderr, proc.Stderr)
	}
	st, err := proc.Wait(context.WithoutCancel(ctx))
	for range n {
		<-done
	}
	if err != nil {
		return 126, err
	}
	return st.Code, nil
}
