package sandbox

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/hyperhq/hyper/internal/errdefs"
	"github.com/hyperhq/hyper/internal/guest"
	"github.com/hyperhq/hyper/internal/protocol"
	"github.com/hyperhq/hyper/internal/vm"
)

// Restart back-offs: doubled after each restart, reset after a run of
// restartResetAfter, as docker does.
const (
	restartBackoffMin = 100 * time.Millisecond
	restartBackoffMax = 10 * time.Second
	restartResetAfter = 10 * time.Second
)

// runInit runs init container c to its end in the booting VM: its own
// root filesystem, the pod's namespaces, its output in its own log. A
// non-zero exit (or Stop meanwhile) fails the pod's start; init
// containers are not retried.
func (r *run) runInit(ctx context.Context, c *container, v *vm.VM, serial string) error {
	s := r.s
	name := c.spec.Name
	s.mu.Lock()
	done, stopCh, stopping := c.io.done, r.stopCh, r.stopping
	s.mu.Unlock()
	if stopping {
		return errdefs.Conflict("stopped before init container %s ran", name)
	}
	g := v.Guest
	if err := g.CreateContainer(ctx, guestSpec(c.spec, serial)); err != nil {
		return fmt.Errorf("init container %s: %w", name, err)
	}
	spec := c.spec.Process
	spec.Stdin = false // nobody attaches to an init container: stdin is /dev/null
	proc, err := g.Exec(ctx, name, protocol.InitExec, spec)
	if err != nil {
		return fmt.Errorf("init container %s: %w", name, err)
	}
	defer proc.Close()
	delivered, err := s.logs.pump(proc, name, nil)
	if err != nil {
		return err
	}
	s.mu.Lock()
	s.ctrTo(c, CtrRunning)
	c.status.Pid = proc.Pid
	s.mu.Unlock()
	s.save()
	waitDone := make(chan struct{})
	go func() { // Stop while an init container runs stops it
		select {
		case <-stopCh:
			sctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
			g.StopContainer(sctx, protocol.StopRequest{Container: name, Signal: c.spec.StopSignal, GraceMillis: 5000})
			cancel()
		case <-waitDone:
		}
	}()
	st, err := proc.Wait(ctx)
	close(waitDone)
	if err == nil {
		select {
		case <-delivered:
		case <-time.After(deliverTimeout):
		}
	}
	s.mu.Lock()
	if !isClosed(done) {
		close(done)
	}
	s.ctrTo(c, CtrExited)
	c.status.Pid = 0
	if err == nil {
		c.status.ExitCode, c.status.OOMKilled = st.Code, st.OOMKilled
	}
	stopping = r.stopping
	s.mu.Unlock()
	s.save()
	switch {
	case err != nil:
		return fmt.Errorf("init container %s: %w", name, err)
	case stopping:
		return errdefs.Conflict("stopped while init container %s ran (exit code %d)", name, st.Code)
	case st.Code != 0:
		return fmt.Errorf("init container %s exited with code %d", name, st.Code)
	}
	if err := removeGuestContainer(ctx, g, name); err != nil {
		s.log.Warn("removing init container", "pod", short(s.spec.ID), "container", name, "err", err)
	}
	return nil
}

// removeGuestContainer removes a container whose init exited, waiting a
// little for its last processes to be reaped.
func removeGuestContainer(ctx context.Context, g *guest.Client, name string) error {
	deadline := time.Now().Add(10 * time.Second)
	for {
		err := g.RemoveContainer(ctx, name)
		if err == nil || errors.Is(err, errdefs.ErrNotFound) {
			return nil
		}
		if !errors.Is(err, errdefs.ErrConflict) || time.Now().After(deadline) {
			return err
		}
		select {
		case <-time.After(50 * time.Millisecond):
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// superviseCtr waits for container c's main process to end for good:
// while its restart policy says so, it is run again in the same VM after
// a back-off. It returns the last exit status, nil if the guest went
// away.
func (r *run) superviseCtr(c *container) *protocol.ExitStatus {
	s := r.s
	v := r.vm
	backoff := restartBackoffMin
	since := time.Now()
	for {
		s.mu.Lock()
		cio := c.io
		proc, delivered := cio.proc, cio.delivered
		s.mu.Unlock()
		st, err := proc.Wait(context.Background())
		if err != nil {
			return nil
		}
		s.mu.Lock()
		if c.status.State == CtrRunning {
			s.ctrTo(c, CtrExited)
		}
		c.status.ExitCode, c.status.Pid, c.status.OOMKilled = st.Code, 0, st.OOMKilled
		restart := !r.stopping && !isClosed(cio.removed) &&
			ShouldRestart(c.spec.RestartPolicy, s.spec.RestartPolicy, st.Code, c.status.RestartCount)
		stopCh := r.stopCh
		s.mu.Unlock()
		s.save()
		s.emit(exitEvents(c, st.Code, st.OOMKilled)...)
		if !restart {
			return &st
		}
		if time.Since(since) >= restartResetAfter {
			backoff = restartBackoffMin
		}
		t := time.NewTimer(backoff)
		select {
		case <-t.C:
		case <-stopCh:
			t.Stop()
			return &st
		case <-cio.removed:
			t.Stop()
			return &st
		case <-v.Guest.Done():
			t.Stop()
			return &st
		}
		backoff = min(backoff*2, restartBackoffMax)
		if delivered != nil { // the last run's output goes first in the log
			select {
			case <-delivered:
			case <-time.After(deliverTimeout):
			}
		}
		proc.Close()
		if err := r.restartCtr(c); err != nil {
			s.log.Warn("restarting container failed", "pod", short(s.spec.ID), "container", c.spec.Name, "err", err)
			return &st
		}
		since = time.Now()
	}
}

// restartCtr runs container c's main process again: the guest's
// container is removed and created anew (a fresh writable layer, as a
// restarted Kubernetes container gets), and its init process started.
func (r *run) restartCtr(c *container) error {
	s := r.s
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	g, name := r.vm.Guest, c.spec.Name
	if err := removeGuestContainer(ctx, g, name); err != nil {
		return err
	}
	s.mu.Lock()
	stopping := r.stopping || isClosed(c.io.removed)
	spec := guestSpec(c.spec, s.st.serials[c.spec.Image])
	s.mu.Unlock()
	if stopping {
		return errStopped
	}
	if err := g.CreateContainer(ctx, spec); err != nil {
		return err
	}
	if err := r.startMain(ctx, c, r.vm); err != nil {
		return err
	}
	s.mu.Lock()
	c.status.RestartCount++
	s.ctrTo(c, CtrRunning)
	c.status.Pid = c.io.proc.Pid
	stopping, n := r.stopping || isClosed(c.io.removed), c.status.RestartCount
	ev := startEvent(c)
	s.mu.Unlock()
	s.save()
	s.emit(ev)
	s.log.Info("restarted container", "pod", short(s.spec.ID), "container", name, "restarts", n)
	if stopping { // Stop (or a removal) came while the container was being re-created
		err := g.StopContainer(ctx, protocol.StopRequest{Container: name, Signal: c.spec.StopSignal, GraceMillis: 5000})
		if err != nil && !errors.Is(err, errdefs.ErrNotFound) {
			s.log.Warn("stopping restarted container", "container", name, "err", err)
		}
	}
	return nil
}

// resumeRestarts restarts the containers of a re-attached pod that had
// exited and were waiting for their restart when the earlier host
// process ended: their back-off is over by now.
func (r *run) resumeRestarts() {
	s := r.s
	s.mu.Lock()
	var due []*container
	for _, c := range s.ctrs {
		if c.status.State == CtrExited && ShouldRestart(c.spec.RestartPolicy, s.spec.RestartPolicy, c.status.ExitCode, c.status.RestartCount) {
			due = append(due, c)
		}
	}
	s.mu.Unlock()
	for _, c := range due {
		if err := r.restartCtr(c); err != nil {
			s.log.Warn("restarting container after a host restart", "pod", short(s.spec.ID), "container", c.spec.Name, "err", err)
		}
	}
}
