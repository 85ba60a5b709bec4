package qemu

import (
	"context"
	"fmt"

	"github.com/hyperhq/hyper/internal/hypervisor"
)

var _ hypervisor.Pauser = (*vm)(nil)

// Pause implements hypervisor.Pauser: QMP stop.
func (v *vm) Pause(ctx context.Context) error { return v.runState(ctx, "stop") }

// Resume implements hypervisor.Pauser: QMP cont (a running VM stays so).
func (v *vm) Resume(ctx context.Context) error { return v.runState(ctx, "cont") }

// Paused implements hypervisor.Pauser: QMP query-status.
func (v *vm) Paused(ctx context.Context) (bool, error) {
	q, err := v.qmp(ctx)
	if err != nil {
		return false, err
	}
	defer q.close()
	var st struct {
		Running bool `json:"running"`
	}
	if err := q.query(ctx, "query-status", nil, &st); err != nil {
		return false, fmt.Errorf("vm %s: %w", v.spec.ID, err)
	}
	return !st.Running, nil
}

func (v *vm) runState(ctx context.Context, cmd string) error {
	q, err := v.qmp(ctx)
	if err != nil {
		return err
	}
	defer q.close()
	if err := q.execute(ctx, cmd, nil); err != nil {
		return fmt.Errorf("vm %s: %w", v.spec.ID, err)
	}
	return nil
}
