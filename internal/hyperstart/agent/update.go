package agent

import (
	"context"
	"log/slog"

	"github.com/hyperhq/hyper/internal/hyperstart/cgroup"
	"github.com/hyperhq/hyper/internal/hyperstart/errs"
	"github.com/hyperhq/hyper/internal/protocol"
)

// UpdateContainer sets the limits of a container's cgroup.
func (a *Agent) UpdateContainer(_ context.Context, req protocol.UpdateRequest) (protocol.Empty, error) {
	if err := req.Resources.Check(); err != nil {
		return protocol.Empty{}, errs.Invalid("updating %s: %v", req.Container, err)
	}
	a.mu.Lock()
	c, err := a.lookup(req.Container)
	var ok bool
	var cg cgroup.Group
	if err == nil {
		ok, cg = c.cg.Path != "" && c.state != stateRemoving, c.cg
	}
	a.mu.Unlock()
	if err != nil {
		return protocol.Empty{}, err
	}
	if !ok {
		return protocol.Empty{}, errs.Conflict("container %s is being removed", req.Container)
	}
	if err := cg.SetLimits(req.Resources); err != nil {
		return protocol.Empty{}, errs.Internal("%w", err)
	}
	slog.Info("container updated", "id", req.Container)
	return protocol.Empty{}, nil
}
