package sandbox

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"time"

	"github.com/hyperhq/hyper/internal/protocol"
	"github.com/hyperhq/hyper/internal/vm"
)

// Recover takes over a pod recorded as running when the host process
// starts: its VM (process pid, checked by alive) is re-attached and its
// containers' output pumped again. A pod whose VM is gone, or cannot be
// re-attached, is marked exited with the reason and its VM ended, so
// nothing is left half-managed. release undoes what the caller holds for
// the run (volumes, network) once the VM is gone; it is called at once
// if the VM is not re-attached. Recover reports whether the VM runs.
func (s *Sandbox) Recover(ctx context.Context, alive bool, kill func(), release func()) bool {
	s.mu.Lock()
	if s.st.state != Running || s.run != nil {
		s.mu.Unlock()
		return false
	}
	r := newRun(s, release)
	s.run = r
	pid := s.st.vmPid
	s.mu.Unlock()
	reason := "the VM was gone when hyperd started"
	if pid > 0 && alive {
		err := r.reattach(ctx, pid)
		if err == nil {
			s.log.Info("re-attached pod", "pod", short(s.spec.ID), "name", s.spec.Name)
			s.repause(ctx)
			return true
		}
		s.log.Warn("re-attaching pod failed; stopping its VM", "pod", short(s.spec.ID), "err", err)
		kill()
		reason = "hyperd restarted and could not re-attach: " + err.Error()
	}
	os.RemoveAll(filepath.Join(s.cfg.VM.RunDir, s.spec.VMID))
	r.release()
	s.mu.Lock()
	s.to(Exited)
	s.st.reason, s.st.exitCode, s.st.finishedAt = reason, 137, time.Now().UTC()
	for _, c := range s.ctrs {
		if c.status.State == CtrRunning {
			s.ctrTo(c, CtrExited)
		}
		c.status.Pid = 0
	}
	s.run = nil
	s.closeRun()
	s.mu.Unlock()
	s.save()
	return false
}

func (r *run) reattach(ctx context.Context, pid int) error {
	s := r.s
	v, err := vm.Attach(ctx, s.cfg.VM, vm.Spec{ID: s.spec.VMID}, pid)
	if err != nil {
		return err
	}
	s.mu.Lock()
	ctrs := slices.Clip(s.ctrs)
	s.mu.Unlock()
	for _, c := range ctrs {
		if c.status.State != CtrRunning {
			continue
		}
		proc, err := v.Guest.Attach(ctx, c.spec.Name, protocol.InitExec, c.spec.Process.Terminal, c.spec.Process.Stdin)
		if err == nil {
			err = r.pumpMain(c, proc)
		}
		if err != nil {
			v.Guest.Close()
			return fmt.Errorf("container %s: %w", c.spec.Name, err)
		}
	}
	s.mu.Lock()
	r.vm = v
	stopping, pending := r.stopping, r.pending()
	s.mu.Unlock()
	if !stopping {
		r.resumeRestarts()
	}
	go r.supervise()
	pending(ctx)
	return nil
}
