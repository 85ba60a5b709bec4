package hypervisor

import (
	"context"

	"github.com/hyperhq/hyper/internal/errdefs"
)

// ErrNoTemplate marks a VM that cannot be saved as a template or started
// from one (its shape, or the driver's configuration): such VMs boot.
var ErrNoTemplate = errdefs.Unavailable("no VM template for this shape")

// Templater is the optional ability of a driver to save a booted VM as a
// template and to start VMs by resuming one instead of booting (see
// docs/adr/0009-vm-templates.md).
type Templater interface {
	// SaveTemplate boots spec and, once its guest has opened the first
	// channel (it is ready and waits for its host), saves the VM into dir
	// and ends it. dir must exist and be empty; once saved, nothing may
	// modify it while VMs use it. ErrNoTemplate: spec cannot have one.
	SaveTemplate(ctx context.Context, spec Spec, dir string) error
	// Restore is Create for a VM that resumes the template in dir. spec
	// must have the template's shape: the same kernel, vCPUs, memory,
	// acceleration and boot-time devices in the same order. Paths (state
	// dir, sockets, disk files, shared directories) and port forwards may
	// differ; the NICs keep the template's MAC addresses. A restored VM
	// whose Start fails leaves its state dir as it found it: the caller
	// boots a VM in it next.
	Restore(ctx context.Context, spec Spec, dir string) (VM, error)
}
