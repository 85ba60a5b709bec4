package daemon

import (
	"context"
	"fmt"
	"strings"

	"github.com/hyperhq/hyper/internal/api/types"
	"github.com/hyperhq/hyper/internal/cleanup"
	"github.com/hyperhq/hyper/internal/hypervisor"
	"github.com/hyperhq/hyper/internal/protocol"
	"github.com/hyperhq/hyper/internal/sandbox"
	"github.com/hyperhq/hyper/internal/vm"
)

// Start implements api.Pods: it boots the pod's VM and starts every
// container's main process. It returns once they run; the run itself
// belongs to the pod's sandbox, not to the request.
func (x Pods) Start(ctx context.Context, ref string) error {
	p, err := x.d.lookup(ref)
	if err != nil {
		return err
	}
	p.markUserStopped(false)
	return x.start(ctx, p)
}

// start boots pod p's VM and starts its containers.
func (x Pods) start(ctx context.Context, p *pod) error {
	if err := x.d.startObserved(ctx, p, func(ctx context.Context) (sandbox.Run, error) { return x.d.prepareRun(ctx, p) }); err != nil {
		return err
	}
	x.d.watchHealth(p)
	return nil
}

// prepareRun makes what a run of pod p needs on the host: its images'
// root file systems, its volumes and its network. The run's Release
// undoes it.
func (d *Daemon) prepareRun(ctx context.Context, p *pod) (run sandbox.Run, err error) {
	var undo cleanup.Cleanup
	defer undo.Clean()
	p.mu.Lock()
	rec := p.rec
	p.mu.Unlock()
	run.Rootfs = map[string]hypervisor.Disk{}
	for _, id := range p.sb.Images() {
		disk, err := d.imageDisk(ctx, id)
		if err != nil {
			return run, fmt.Errorf("prepare image root filesystems: %w", err)
		}
		run.Rootfs[id] = disk
	}
	vd, share, err := d.vols.attach(ctx, p, rec)
	if err != nil {
		return run, fmt.Errorf("prepare volumes: %w", err)
	}
	undo.Add(func() { d.vols.release(rec.ID) })
	run.Disks, run.Shares = vd, []hypervisor.Share{share}
	nw, err := planNetwork(d.cfg.Network, rec.ID, rec.Spec, d.net, vm.UserNetwork(d.cfg.VM))
	if err != nil {
		return run, fmt.Errorf("prepare network: %w", err)
	}
	undo.Add(func() { d.releaseNetwork(p) })
	sysctls, err := podSysctls(rec.Spec)
	if err != nil {
		return run, err
	}
	aliases, err := nw.hostAliases(rec.Spec.HostAliases)
	if err != nil {
		return run, err
	}
	run.NICs = nw.nics
	run.Pod = protocol.PodSpec{Hostname: rec.Spec.Hostname, DNS: nw.dns(rec.Spec.DNS), Interfaces: nw.ifaces,
		Sysctls: sysctls, Hosts: append(nw.hosts(rec.Spec.Hostname, rec.Name), aliases...)}
	p.mu.Lock()
	p.rec.Network, p.rec.Ports = nw.mode, nw.bindings
	p.rec.IPAddress = ""
	if nw.addr.IsValid() {
		p.rec.IPAddress = nw.addr.String()
	}
	p.mu.Unlock()
	run.Release = func() {
		d.vols.release(rec.ID)
		d.releaseNetwork(p)
	}
	undo.Release()
	return run, nil
}

// releaseNetwork releases what the pod's last run held of the bridge
// network (nothing in other modes).
func (d *Daemon) releaseNetwork(p *pod) {
	p.mu.Lock()
	id, mode := p.rec.ID, p.rec.Network
	p.rec.IPAddress = ""
	p.mu.Unlock()
	if mode != types.NetworkBridge {
		return
	}
	if err := d.net.Detach(id); err != nil {
		d.log.Warn("releasing pod network", "pod", id[:12], "err", err)
	}
}

// recoverRunning takes over a pod recorded as running when the daemon
// starts (sandbox.Recover).
func (d *Daemon) recoverRunning(ctx context.Context, p *pod) {
	p.mu.Lock()
	rec := p.rec
	p.mu.Unlock()
	pid := rec.VM.Pid
	d.vols.holdAttached(p, rec)
	alive := pid > 0 && vm.Owns(d.cfg.VM, rec.VMID, pid)
	kill := func() {
		if err := vm.KillRecorded(ctx, d.cfg.VM, rec.VMID, pid); err != nil {
			d.log.Warn("stopping the VM of a pod not re-attached", "pod", rec.ID[:12], "err", err)
		}
	}
	p.sb.Recover(ctx, alive, kill, func() {
		d.vols.release(rec.ID)
		d.releaseNetwork(p)
	})
	d.watchHealth(p)
}

// shortID shortens "sha256:<hex>" to docker's 12 hex digits.
func shortID(id string) string {
	if _, hex, ok := strings.Cut(id, ":"); ok && len(hex) >= 12 {
		return hex[:12]
	}
	return id
}
