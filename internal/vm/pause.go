package vm

import (
	"context"
	"fmt"
	"time"

	"github.com/hyperhq/hyper/internal/errdefs"
	"github.com/hyperhq/hyper/internal/hypervisor"
	"github.com/hyperhq/hyper/internal/protocol"
)

// Pause stops the VM's vCPUs (the guest's keepalives are suspended
// meanwhile); Resume runs them again. A driver without the ability
// answers Unavailable.
func (v *VM) Pause(ctx context.Context) error {
	p, ok := v.hv.(hypervisor.Pauser)
	if !ok {
		return errdefs.Unavailable("vm %s: its hypervisor cannot pause", v.ID)
	}
	v.Guest.SetPaused(true)
	if err := p.Pause(ctx); err != nil {
		v.Guest.SetPaused(false)
		return fmt.Errorf("pausing vm %s: %w", v.ID, err)
	}
	return nil
}

// Resume runs a paused VM again (a running one is left so).
func (v *VM) Resume(ctx context.Context) error {
	p, ok := v.hv.(hypervisor.Pauser)
	if !ok {
		return errdefs.Unavailable("vm %s: its hypervisor cannot pause", v.ID)
	}
	if err := p.Resume(ctx); err != nil {
		return fmt.Errorf("resuming vm %s: %w", v.ID, err)
	}
	v.Guest.SetPaused(false)
	return nil
}

// resumeSettle is how long a resumed guest is given to see a host
// disconnect before the host connects again.
const resumeSettle = time.Second

// resumePaused runs an attached VM that an earlier host process paused:
// its guest must answer to be re-attached (the caller pauses it again).
// A VM that runs is left so. The guest never saw the earlier host go (QEMU
// notices the hang-up only when the next one connects, and the guest then
// sees it closed and open again at once, as if nothing happened), so the
// channel is connected once and closed, to end the guest's stale session,
// before the real connection.
func resumePaused(ctx context.Context, v *VM) {
	p, ok := v.hv.(hypervisor.Pauser)
	if !ok {
		return
	}
	paused, err := p.Paused(ctx)
	if err == nil && paused {
		err = p.Resume(ctx)
		if err == nil {
			v.log.Info("resumed a paused vm to re-attach it")
			if conn, err := v.hv.DialChannel(ctx, protocol.PortName); err == nil {
				conn.Close()
			}
			select {
			case <-time.After(resumeSettle):
			case <-ctx.Done():
			}
		}
	}
	if err != nil {
		v.log.Warn("resuming an attached vm", "err", err)
	}
}
