package sandbox

import (
	"github.com/hyperhq/hyper/internal/errdefs"
	"github.com/hyperhq/hyper/internal/guest"
)

// FilesGuest returns the guest of the running VM, for file transfers
// with main container name's root filesystem (cp, diff, export).
func (s *Sandbox) FilesGuest(name string) (*guest.Client, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := mainCtr(s.ctrs, name); !ok {
		return nil, errdefs.NotFound("pod %s has no container %q", s.spec.Name, name)
	}
	if s.run == nil || s.run.vm == nil {
		return nil, errdefs.Conflict("pod %s is not running: cp needs its VM; start it first", s.spec.Name)
	}
	return s.run.vm.Guest, nil
}
