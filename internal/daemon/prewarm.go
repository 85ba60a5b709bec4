package daemon

import (
	"context"
	"os"
	"path/filepath"

	"github.com/hyperhq/hyper/internal/api/types"
	"github.com/hyperhq/hyper/internal/hypervisor"
	"github.com/hyperhq/hyper/internal/protocol"
	"github.com/hyperhq/hyper/internal/sandbox"
	"github.com/hyperhq/hyper/internal/vm"
)

// prewarm builds the VM template of a default pod (default vCPUs, memory,
// scratch disk size and network mode) in the background, so that the
// first pod does not wait for it (docs/adr/0009-vm-templates.md). Pods of
// another shape build theirs on first use. It closes d.prewarmed when done.
func (d *Daemon) prewarm(ctx context.Context) {
	defer close(d.prewarmed)
	if d.cfg.VM.Templates == nil {
		return
	}
	// Only the scratch disk's size shapes the template: a sparse file.
	dir, err := os.MkdirTemp(d.cfg.Root, ".prewarm-")
	if err != nil {
		d.log.Warn("prewarming the vm template", "err", err)
		return
	}
	defer os.RemoveAll(dir)
	scratch := filepath.Join(dir, "scratch")
	f, err := os.Create(scratch)
	if err == nil {
		err = f.Truncate(int64(d.cfg.ScratchMB) << 20)
		f.Close()
	}
	var nics []hypervisor.NIC
	switch d.cfg.Network {
	case types.NetworkUser:
		nics = []hypervisor.NIC{{ID: "eth0"}}
	case types.NetworkNone:
	default:
		return // bridge mode: tap NICs have no template
	}
	// Every pod has its 9p share (volumes); an empty one shapes the same.
	share := filepath.Join(dir, "share")
	if err == nil {
		err = os.Mkdir(share, 0o700)
	}
	if err == nil {
		err = vm.Prewarm(ctx, d.cfg.VM, vm.Spec{ID: "prewarm", VCPUs: d.cfg.VCPUs, MemoryMB: d.cfg.MemoryMB,
			Disks:  []hypervisor.Disk{{Path: scratch, Serial: sandbox.ScratchSerial}},
			Shares: []hypervisor.Share{{Tag: protocol.PodShareTag, Path: share}}, NICs: nics})
	}
	if err != nil && ctx.Err() == nil {
		d.log.Warn("prewarming the vm template", "err", err)
	}
}
