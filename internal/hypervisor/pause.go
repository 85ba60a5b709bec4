package hypervisor

import "context"

// Pauser is a VM that can be paused: its vCPUs stopped (no guest code
// runs, its memory stays), then resumed where it was.
type Pauser interface {
	Pause(ctx context.Context) error
	Resume(ctx context.Context) error
	// Paused tells whether the VM's vCPUs are stopped.
	Paused(ctx context.Context) (bool, error)
}
