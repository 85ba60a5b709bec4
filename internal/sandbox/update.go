package sandbox

import (
	"context"
	"errors"
	"fmt"

	"github.com/hyperhq/hyper/internal/errdefs"
	"github.com/hyperhq/hyper/internal/protocol"
	"github.com/hyperhq/hyper/internal/vm"
)

// Update sets limits of main container name's cgroup: they are kept in its
// spec, so every later creation of the container in a guest applies them,
// and, when the pod runs and the container is running, set in the guest at
// once (one guest RPC, made without the lock). A paused pod is a Conflict.
func (s *Sandbox) Update(ctx context.Context, name string, r protocol.Resources) error {
	if err := r.Check(); err != nil {
		return errdefs.InvalidArgument("updating %s/%s: %w", s.spec.Name, name, err)
	}
	s.mu.Lock()
	c, ok := mainCtr(s.ctrs, name)
	if !ok || name == "" {
		s.mu.Unlock()
		return errdefs.NotFound("pod %s has no container %s", s.spec.Name, name)
	}
	if s.st.paused {
		s.mu.Unlock()
		return errdefs.Conflict("pod %s is paused", s.spec.Name)
	}
	cur := protocol.Resources{}
	if c.spec.Guest.Resources != nil {
		cur = *c.spec.Guest.Resources
	}
	merged := cur.Merge(r)
	c.spec.Guest.Resources = &merged
	var v *vm.VM
	if s.run != nil && s.run.vm != nil && s.st.state == Running && c.status.State == CtrRunning {
		v = s.run.vm
	}
	s.mu.Unlock()
	if v == nil {
		return nil
	}
	err := s.cutShort(v, v.Guest.UpdateContainer(ctx, name, r))
	if errors.Is(err, errdefs.ErrConflict) { // it stopped meanwhile: its next start applies them
		return nil
	}
	if errors.Is(err, errdefs.ErrNotFound) { // it exited meanwhile: its next creation applies them
		return nil
	}
	if err != nil {
		return fmt.Errorf("updating %s/%s: %w", s.spec.Name, name, err)
	}
	return nil
}
