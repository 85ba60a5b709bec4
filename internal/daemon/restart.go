package daemon

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"time"

	"github.com/hyperhq/hyper/internal/errdefs"
	"github.com/hyperhq/hyper/internal/guest"
	"github.com/hyperhq/hyper/internal/protocol"
	"github.com/hyperhq/hyper/internal/vm"
)

// runInit runs init container i to its end in the booting VM: its own
// root filesystem, the pod's namespaces, its output in its own log. A
// non-zero exit (or Stop meanwhile) fails the pod's start; init
// containers are not retried.
func (d *Daemon) runInit(ctx context.Context, p *pod, i int, g *guest.Client, rec record, serials map[string]string) error {
	c := rec.InitContainers[i]
	p.mu.Lock()
	done, stopCh, stopping := p.initDone[i], p.stopCh, p.stopping
	p.mu.Unlock()
	if stopping {
		return errdefs.Conflict("stopped before init container %s ran", c.Name)
	}
	err := g.CreateContainer(ctx, guestContainer(rec, c.Name, rec.Spec.InitContainers[i], serials[c.ImageID]))
	if err != nil {
		return fmt.Errorf("init container %s: %w", c.Name, err)
	}
	proc, err := g.Exec(ctx, c.Name, protocol.InitExec, rec.InitProcs[i])
	if err != nil {
		return fmt.Errorf("init container %s: %w", c.Name, err)
	}
	defer proc.Close()
	delivered, err := d.ctrLogs.pump(proc, filepath.Join(rec.Dir, "logs", c.Name+".log"), nil)
	if err != nil {
		return err
	}
	p.mu.Lock()
	p.rec.InitContainers[i].State, p.rec.InitContainers[i].Pid = stateRunning, proc.Pid
	p.mu.Unlock()
	d.save(p)
	waitDone := make(chan struct{})
	go func() { // Stop while an init container runs stops it
		select {
		case <-stopCh:
			sctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
			g.StopContainer(sctx, protocol.StopRequest{Container: c.Name, Signal: stopSignal(rec.Spec.InitContainers[i]), GraceMillis: 5000})
			cancel()
		case <-waitDone:
		}
	}()
	st, err := proc.Wait(ctx)
	close(waitDone)
	if err == nil {
		select {
		case <-delivered:
		case <-time.After(5 * time.Second):
		}
	}
	p.mu.Lock()
	close(done)
	p.rec.InitContainers[i].State, p.rec.InitContainers[i].Pid = stateExited, 0
	if err == nil {
		p.rec.InitContainers[i].ExitCode = st.Code
	}
	stopping = p.stopping
	p.mu.Unlock()
	d.save(p)
	switch {
	case err != nil:
		return fmt.Errorf("init container %s: %w", c.Name, err)
	case stopping:
		return errdefs.Conflict("stopped while init container %s ran (exit code %d)", c.Name, st.Code)
	case st.Code != 0:
		return fmt.Errorf("init container %s exited with code %d", c.Name, st.Code)
	}
	if err := removeContainer(ctx, g, c.Name); err != nil {
		d.log.Warn("removing init container", "pod", rec.ID[:12], "container", c.Name, "err", err)
	}
	return nil
}

// removeContainer removes a container whose init exited, waiting a
// little for its last processes to be reaped.
func removeContainer(ctx context.Context, g *guest.Client, name string) error {
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

// superviseCtr waits for container name's main process to end for good:
// while its restart policy says so, it is run again in the same VM after
// a back-off. It returns the last exit status, nil if the guest went
// away. The container stays in the record while it is supervised (a
// removal waits for the supervision to end), but others may come and go:
// its index is looked up afresh each time.
func (d *Daemon) superviseCtr(p *pod, v *vm.VM, name string) *protocol.ExitStatus {
	backoff := restartBackoffMin
	since := time.Now()
	for {
		p.mu.Lock()
		i, _ := p.ctrIndex(name)
		c := p.ctrs[i]
		proc, delivered := c.proc, c.delivered
		p.mu.Unlock()
		st, err := proc.Wait(context.Background())
		if err != nil {
			return nil
		}
		p.mu.Lock()
		i, _ = p.ctrIndex(name)
		ctr := &p.rec.Containers[i]
		ctr.State, ctr.ExitCode, ctr.Pid = stateExited, st.Code, 0
		restart := !p.stopping && !isClosed(c.removed) &&
			shouldRestart(p.rec.Spec.Containers[i].RestartPolicy, p.rec.Spec.RestartPolicy, st.Code, ctr.RestartCount)
		stopCh, podID := p.stopCh, p.rec.ID
		p.mu.Unlock()
		d.save(p)
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
		case <-c.removed:
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
			case <-time.After(5 * time.Second):
			}
		}
		proc.Close()
		if err := d.restartCtr(p, v.Guest, name, c); err != nil {
			d.log.Warn("restarting container failed", "pod", podID[:12], "container", name, "err", err)
			return &st
		}
		since = time.Now()
	}
}

// restartCtr runs container name's main process again: the guest's
// container is removed and created anew (a fresh writable layer, as a
// restarted Kubernetes container gets), and its init process started.
func (d *Daemon) restartCtr(p *pod, g *guest.Client, name string, c *ctr) error {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := removeContainer(ctx, g, name); err != nil {
		return err
	}
	p.mu.Lock()
	stopping := p.stopping || isClosed(c.removed)
	i, _ := p.ctrIndex(name)
	spec := guestContainer(p.rec, name, p.rec.Spec.Containers[i], runSerials(p.rec)[p.rec.Containers[i].ImageID])
	p.mu.Unlock()
	if stopping {
		return errors.New("stopped")
	}
	if err := g.CreateContainer(ctx, spec); err != nil {
		return err
	}
	if err := d.startMain(ctx, p, name, g); err != nil {
		return err
	}
	p.mu.Lock()
	i, _ = p.ctrIndex(name)
	ctr := &p.rec.Containers[i]
	ctr.RestartCount++
	ctr.State, ctr.Pid = stateRunning, c.proc.Pid
	stopping, n := p.stopping || isClosed(c.removed), ctr.RestartCount
	sig, podID := stopSignal(p.rec.Spec.Containers[i]), p.rec.ID
	p.mu.Unlock()
	d.save(p)
	d.log.Info("restarted container", "pod", podID[:12], "container", name, "restarts", n)
	if stopping { // Stop (or a removal) came while the container was being re-created
		err := g.StopContainer(ctx, protocol.StopRequest{Container: name, Signal: sig, GraceMillis: 5000})
		if err != nil && !errors.Is(err, errdefs.ErrNotFound) {
			d.log.Warn("stopping restarted container", "container", name, "err", err)
		}
	}
	return nil
}

func isClosed(ch <-chan struct{}) bool {
	select {
	case <-ch:
		return true
	default:
		return false
	}
}
