package sandbox

import (
	"context"
	"fmt"

	"github.com/hyperhq/hyper/internal/errdefs"
	"github.com/hyperhq/hyper/internal/vm"
)

// Pause stops the running pod's VM (its vCPUs: no guest code runs, it
// costs the host no CPU; its memory stays). The pod stays Running with
// Status.Paused; execs are refused until Unpause, while Stop, Kill and a
// forced Remove unpause it first. The driver call is made without mu.
func (s *Sandbox) Pause(ctx context.Context) error { return s.pause(ctx, true) }

// Unpause runs a paused pod's VM again.
func (s *Sandbox) Unpause(ctx context.Context) error { return s.pause(ctx, false) }

func (s *Sandbox) pause(ctx context.Context, pause bool) error {
	v, err := s.pauseTarget(!pause)
	if err != nil {
		return err
	}
	op, what := v.Pause, "pausing"
	if !pause {
		op, what = v.Resume, "unpausing"
	}
	if err := s.cutShort(v, op(ctx)); err != nil {
		return fmt.Errorf("%s pod %s: %w", what, s.spec.Name, err)
	}
	s.setPaused(v, pause)
	return nil
}

// pauseTarget is the VM of a running pod whose paused flag is paused.
func (s *Sandbox) pauseTarget(paused bool) (*vm.VM, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.run == nil || s.run.vm == nil || s.st.state != Running {
		return nil, errdefs.Conflict("pod %s is not running", s.spec.Name)
	}
	if s.st.paused != paused {
		if paused {
			return nil, errdefs.Conflict("pod %s is not paused", s.spec.Name)
		}
		return nil, errdefs.Conflict("pod %s is already paused", s.spec.Name)
	}
	return s.run.vm, nil
}

// setPaused records the pause of v, if v is still the run's VM.
func (s *Sandbox) setPaused(v *vm.VM, paused bool) {
	s.mu.Lock()
	same := s.run != nil && s.run.vm == v
	if same {
		s.st.paused = paused
	}
	s.mu.Unlock()
	if same {
		s.save()
	}
}

// unpauseFor runs the VM again, if paused, before op (stop, kill,
// remove) acts on its guest.
func (s *Sandbox) unpauseFor(ctx context.Context, op string) {
	s.mu.Lock()
	var v *vm.VM
	if s.st.paused && s.run != nil {
		v = s.run.vm
	}
	s.mu.Unlock()
	if v == nil {
		return
	}
	if err := v.Resume(ctx); err != nil {
		s.log.Warn("unpausing before "+op, "pod", short(s.spec.ID), "err", err)
		return
	}
	s.setPaused(v, false)
}

// repause pauses again a re-attached VM recorded as paused (re-attaching
// ran it: its guest had to answer).
func (s *Sandbox) repause(ctx context.Context) {
	v, err := s.pauseTarget(true)
	if err != nil {
		return
	}
	if err := v.Pause(ctx); err != nil {
		s.log.Warn("pausing a re-attached pod again", "pod", short(s.spec.ID), "err", err)
		s.setPaused(v, false)
	}
}
