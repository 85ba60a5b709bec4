package qemu

import (
	"fmt"
	"log/slog"

	"github.com/hyperhq/hyper/internal/errdefs"
	"github.com/hyperhq/hyper/internal/hypervisor"
	"github.com/hyperhq/hyper/internal/jail"
)

// tcgBufferMB is TCG's translated-code buffer under a memory limit: part
// of the jail's memory overhead (docs/adr/0012-qemu-jail.md).
const tcgBufferMB = 128

// DriverName is the name the QEMU driver is registered under.
const DriverName = "qemu"

func init() {
	hypervisor.Register(DriverName, func(o hypervisor.Options) (hypervisor.Driver, error) {
		switch o.Transport {
		case "", TransportSerial, TransportVsock:
		default:
			return nil, errdefs.InvalidArgument("transport %q: want %s or %s", o.Transport, TransportSerial, TransportVsock)
		}
		opts := Options{Binary: o.Binary, Transport: o.Transport}
		if o.Jail.User != "" {
			u, err := jail.LookupUser(o.Jail.User)
			if err != nil {
				return nil, fmt.Errorf("jail: %w (or turn the jail off: [jail] enabled = false)", err)
			}
			opts.Jail = &Jail{User: u, Cgroup: true, MemoryOverheadMB: o.Jail.MemoryOverheadMB, Pids: o.Jail.Pids}
			// A jailed QEMU also filters its system calls.
			opts.Sandbox = true
			if err := jail.CgroupsAvailable(); err != nil {
				opts.Jail.Cgroup = false
				slog.Warn("QEMUs run without memory and pids limits", "err", err)
			} else {
				// Those of VMs that ended while no daemon watched them.
				jail.RemoveStaleCgroups()
				opts.TCGBufferMB = tcgBufferMB
			}
		}
		return New(opts), nil
	})
}
