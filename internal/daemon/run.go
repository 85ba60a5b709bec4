package daemon

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/hyperhq/hyper/internal/api/types"
	"github.com/hyperhq/hyper/internal/cleanup"
	"github.com/hyperhq/hyper/internal/disk"
	"github.com/hyperhq/hyper/internal/errdefs"
	"github.com/hyperhq/hyper/internal/guest"
	"github.com/hyperhq/hyper/internal/hypervisor"
	"github.com/hyperhq/hyper/internal/protocol"
	"github.com/hyperhq/hyper/internal/vm"
)

const scratchSerial = "scratch"

// Start implements api.Pods: it boots the pod's VM and starts every
// container's main process. It returns once they run; the run itself
// belongs to the daemon, not to the request.
func (x Pods) Start(ctx context.Context, ref string) error {
	d := x.d
	p, err := d.lookup(ref)
	if err != nil {
		return err
	}
	p.mu.Lock()
	if p.removing {
		p.mu.Unlock()
		return errdefs.Conflict("pod %s is being removed", ref)
	}
	if p.starting || p.vm != nil {
		p.mu.Unlock()
		return errdefs.Conflict("pod %s is already running", ref)
	}
	p.starting = true
	if p.rec.State != stateCreated { // a new run: new channels
		p.exited = make(chan struct{})
		for i, cs := range p.rec.Spec.Containers {
			p.ctrs[i] = newCtr(cs.OpenStdin)
		}
		for i := range p.initDone {
			p.initDone[i] = make(chan struct{})
		}
		close(p.restarted)
		p.restarted = make(chan struct{})
	}
	p.stopping, p.stopCh = false, make(chan struct{})
	for i := range p.rec.Containers {
		p.rec.Containers[i].RestartCount = 0
	}
	for i := range p.rec.InitContainers {
		p.rec.InitContainers[i].State, p.rec.InitContainers[i].ExitCode = stateCreated, 0
	}
	rec, gone := p.rec, p.vmGone
	p.mu.Unlock()
	<-gone // the previous run's VM has powered off

	v, err := d.boot(context.WithoutCancel(ctx), p, rec)
	p.mu.Lock()
	p.starting = false
	now := time.Now().UTC()
	if err != nil {
		p.rec.State, p.rec.Reason, p.rec.ExitCode, p.rec.FinishedAt = stateFailed, err.Error(), 125, now
		p.closeRun()
		p.mu.Unlock()
		d.save(p)
		return err
	}
	p.vm, p.refs = v, newRunRefs()
	p.rec.State, p.rec.Reason, p.rec.ExitCode, p.rec.StartedAt = stateRunning, "", 0, now
	p.rec.VM.Pid, p.rec.VM.Accel = v.Pid(), d.cfg.VM.Accel.Kind
	for i := range p.rec.Containers {
		p.rec.Containers[i].State = stateRunning
		p.rec.Containers[i].Pid = p.ctrs[i].proc.Pid
	}
	// A stop or a forced removal that came while the VM booted is carried
	// out now that there is something to stop.
	stopping, removing := p.stopping, p.removing
	specs, names := p.rec.Spec.Containers, containerNames(p.rec.Containers)
	p.mu.Unlock()
	d.save(p)
	go d.supervise(p, v)
	switch {
	case removing:
		v.Destroy()
	case stopping:
		for i, name := range names {
			v.Guest.StopContainer(context.WithoutCancel(ctx), protocol.StopRequest{Container: name,
				Signal: stopSignal(specs[i]), GraceMillis: defaultStopGrace.Milliseconds()})
		}
	}
	return nil
}

// defaultStopGrace is the grace period of a stop that arrived during boot.
const defaultStopGrace = 10 * time.Second

// awaitDelivered waits (at most 5 s) until the host has copied every
// main process's last output.
func awaitDelivered(ctrs []*ctr) {
	timeout := time.After(5 * time.Second)
	for _, c := range ctrs {
		if c.delivered == nil {
			continue
		}
		select {
		case <-c.delivered:
		case <-timeout:
			return
		}
	}
}

// closeRun ends a run that never started: waiters and attached clients
// are released. Called with p.mu held.
func (p *pod) closeRun() {
	select {
	case <-p.exited:
		return // closed already (a removal after the run ended)
	default:
	}
	for _, c := range p.ctrs {
		select {
		case <-c.done:
		default:
			close(c.done)
		}
		if c.stdinR != nil {
			c.stdinR.Close()
		}
	}
	p.closeInits()
	close(p.exited)
}

type bootStep struct {
	name string
	run  func() error
}

// boot starts the VM, configures the pod and starts the containers.
func (d *Daemon) boot(ctx context.Context, p *pod, rec record) (*vm.VM, error) {
	var undo cleanup.Cleanup
	defer undo.Clean()
	var v *vm.VM
	var disks []hypervisor.Disk
	var shares []hypervisor.Share
	ids, serials := bootSerials(rec) // image ID -> disk serial
	scratch := filepath.Join(rec.Dir, "scratch.ext4")
	var nw podNetwork
	steps := []bootStep{
		{"prepare image root filesystems", func() error {
			for _, id := range ids {
				disk, err := d.imageDisk(ctx, id)
				if err != nil {
					return err
				}
				disks = append(disks, disk)
			}
			return nil
		}},
		{"prepare volumes", func() error {
			vd, share, err := d.vols.attach(ctx, p, rec)
			if err == nil {
				undo.Add(func() { d.vols.release(rec.ID) })
				disks, shares = append(disks, vd...), append(shares, share)
			}
			return err
		}},
		{"prepare scratch disk", func() error {
			if _, err := os.Stat(scratch); err == nil {
				return nil // kept across stop/start
			}
			return disk.CreateExt4(scratch, d.cfg.ScratchMB)
		}},
		{"prepare network", func() (err error) {
			nw, err = planNetwork(d.cfg.Network, rec.ID, rec.Spec, d.net, vm.UserNetwork(d.cfg.VM))
			if err == nil && nw.mode == types.NetworkBridge {
				undo.Add(func() {
					if err := d.net.Detach(rec.ID); err != nil {
						d.log.Warn("releasing the network of a pod that failed to start", "pod", rec.ID[:12], "err", err)
					}
				})
			}
			return err
		}},
		{"boot vm", func() (err error) {
			spec := rec.Spec
			v, err = vm.Boot(ctx, d.cfg.VM, vm.Spec{
				ID: rec.VMID, VCPUs: or(spec.VCPUs, d.cfg.VCPUs), MemoryMB: or(spec.MemoryMB, d.cfg.MemoryMB),
				Disks: append(disks, hypervisor.Disk{Path: scratch, Serial: scratchSerial}),
				NICs:  nw.nics, Shares: shares,
			})
			if err == nil {
				undo.Add(func() { v.Destroy() })
			}
			return err
		}},
		{"create pod", func() error {
			sysctls, err := podSysctls(rec.Spec)
			if err != nil {
				return err
			}
			return v.Guest.CreatePod(ctx, protocol.PodSpec{Hostname: rec.Spec.Hostname, ScratchDisk: scratchSerial,
				DNS: nw.dns(rec.Spec.DNS), Interfaces: nw.ifaces, Sysctls: sysctls,
				Hosts: nw.hosts(rec.Spec.Hostname, rec.Name)})
		}},
		{"run init containers", func() error {
			for i := range rec.InitContainers {
				if err := d.runInit(ctx, p, i, v.Guest, rec, serials); err != nil {
					return err
				}
			}
			return nil
		}},
		{"start containers", func() error {
			for i, c := range rec.Containers {
				if err := v.Guest.CreateContainer(ctx, guestContainer(rec, c.Name, rec.Spec.Containers[i], serials[c.ImageID])); err != nil {
					return err
				}
				if err := d.startMain(ctx, p, c.Name, v.Guest); err != nil {
					return err
				}
			}
			return nil
		}},
	}
	for _, s := range steps {
		if err := s.run(); err != nil {
			return nil, fmt.Errorf("starting pod %s: %s: %w", rec.Name, s.name, err)
		}
	}
	p.mu.Lock()
	p.rec.Network, p.rec.Ports = nw.mode, nw.bindings
	if nw.addr.IsValid() {
		p.rec.IPAddress = nw.addr.String()
	}
	p.rec.Serials = serials
	p.mu.Unlock()
	undo.Release()
	return v, nil
}

func or(v, def int) int {
	if v > 0 {
		return v
	}
	return def
}

// startMain starts container name's main process and pumps its output.
func (d *Daemon) startMain(ctx context.Context, p *pod, name string, g *guest.Client) error {
	p.mu.Lock()
	i, ok := p.ctrIndex(name)
	var spec protocol.ProcessSpec
	if ok {
		spec = p.rec.Procs[i]
	}
	p.mu.Unlock()
	if !ok {
		return errdefs.NotFound("container %s was removed", name)
	}
	proc, err := g.Exec(ctx, name, protocol.InitExec, spec)
	if err != nil {
		return err
	}
	if err := d.pumpMain(p, name, proc); err != nil {
		proc.Close()
		return err
	}
	return nil
}

// pumpMain copies a main process's output into the container's log file
// and to attached clients, and attached clients' input to it.
func (d *Daemon) pumpMain(p *pod, name string, proc *guest.Process) error {
	p.mu.Lock()
	i, ok := p.ctrIndex(name)
	var c *ctr
	var out *fanout
	if ok {
		c, out = p.ctrs[i], p.outs[i]
	}
	dir := p.rec.Dir
	p.mu.Unlock()
	if !ok {
		return errdefs.NotFound("container %s was removed", name)
	}
	delivered, err := d.ctrLogs.pump(proc, filepath.Join(dir, "logs", name+".log"), out)
	if err != nil {
		return err
	}
	p.mu.Lock()
	c.proc, c.delivered = proc, delivered
	p.mu.Unlock()
	if proc.Stdin != nil && c.stdinR != nil {
		go func() {
			io.Copy(proc.Stdin, c.stdinR)
			proc.Stdin.Close()
		}()
	}
	return nil
}

// supervise waits for the run to end: every container's main process
// exited for good (the pod then powers off), or the VM died. Containers
// added to the running pod are supervised too (containers.go); the run
// ends once none is supervised and none is being added or removed.
func (d *Daemon) supervise(p *pod, v *vm.VM) {
	p.mu.Lock()
	refs, podID := p.refs, p.rec.ID
	var names []string
	for i, c := range p.ctrs {
		name := p.rec.Containers[i].Name
		if c.proc == nil { // exited before the daemon restarted
			refs.status[name] = &protocol.ExitStatus{Code: p.rec.Containers[i].ExitCode}
			continue
		}
		refs.hold()
		names = append(names, name)
	}
	p.mu.Unlock()
	for _, name := range names {
		d.watch(p, v, refs, name)
	}
	p.mu.Lock()
	refs.release() // supervise's own reference
	p.mu.Unlock()
	<-refs.done
	// Everything exited, or the guest went away. Report a clean exit at
	// once (waiters need not wait for the power-off), then power off; a
	// new run or a removal waits for the VM to be gone.
	gone := make(chan struct{})
	if d.trackPowerOff() {
		defer d.poweringOff.Done()
	}
	p.mu.Lock()
	p.vmGone = gone
	first := refs.status[p.rec.Containers[0].Name]
	clean := first != nil
	for i := range p.rec.Containers {
		if refs.status[p.rec.Containers[i].Name] == nil {
			p.rec.Containers[i].State, p.rec.Containers[i].ExitCode = stateExited, 137
		}
		p.rec.Containers[i].Pid = 0
	}
	auto := p.rec.Spec.AutoRemove
	if clean {
		// The run is over as soon as every main process exited: a new
		// Start may begin (it waits for gone), and waiters hear of the
		// exit before the power-off.
		p.rec.State, p.rec.Reason, p.rec.ExitCode, p.rec.FinishedAt = stateExited, "", first.Code, time.Now().UTC()
		p.vm = nil
		if auto {
			p.removing = true
		}
	}
	ctrs := p.ctrs
	p.mu.Unlock()
	if clean {
		awaitDelivered(ctrs) // attached clients and logs -f get the last output first
		if auto {
			d.forget(p) // gone from the API before its waiters hear of the exit
		} else {
			d.save(p)
		}
		p.mu.Lock()
		p.closeRun()
		p.mu.Unlock()
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	select {
	case <-v.Done():
	default:
		v.Shutdown(ctx)
	}
	cancel()
	<-v.Done()
	v.Destroy() // removes the VM's state dir
	d.vols.release(podID)
	d.releaseNetwork(p)
	reason := v.ExitReason()
	if !clean {
		// The VM died: the pod stays running (no Start can slip in) until
		// its state is saved and the run closed.
		p.mu.Lock()
		p.rec.State, p.rec.Reason, p.rec.FinishedAt = stateFailed, "vm ended: "+reason, time.Now().UTC()
		p.rec.ExitCode = 128 + int(syscall.SIGKILL)
		p.vm = nil
		p.mu.Unlock()
		d.save(p)
		p.mu.Lock()
		p.closeRun()
		p.mu.Unlock()
	}
	close(gone)
	s := p.snapshot()
	d.log.Info("pod exited", "pod", s.ID[:12], "code", s.ExitCode, "vm", reason)
	if auto {
		if err := d.removePod(p); err != nil {
			d.log.Warn("auto-removing pod", "err", err)
		}
	}
}

// recoverRunning takes over a pod recorded as running when the daemon
// starts: its VM is re-attached and its containers' output pumped again.
// A pod whose VM is gone, or cannot be re-attached, is marked exited with
// the reason and its VM ended, so nothing is left half-managed.
func (d *Daemon) recoverRunning(ctx context.Context, p *pod) {
	p.mu.Lock()
	rec := p.rec
	p.mu.Unlock()
	reason := "the VM was gone when hyperd started"
	if pid := rec.VM.Pid; pid > 0 && vm.Owns(d.cfg.VM, rec.VMID, pid) {
		err := d.reattach(ctx, p, rec, pid)
		if err == nil {
			d.log.Info("re-attached pod", "pod", rec.ID[:12], "name", rec.Name)
			return
		}
		d.log.Warn("re-attaching pod failed; stopping its VM", "pod", rec.ID[:12], "err", err)
		if err := vm.KillRecorded(ctx, d.cfg.VM, rec.VMID, pid); err != nil {
			d.log.Warn("stopping the VM of a pod not re-attached", "pod", rec.ID[:12], "err", err)
		}
		reason = "hyperd restarted and could not re-attach: " + err.Error()
	}
	os.RemoveAll(filepath.Join(d.cfg.VM.RunDir, rec.VMID))
	d.vols.release(rec.ID)
	p.mu.Lock()
	p.rec.State, p.rec.Reason, p.rec.ExitCode, p.rec.FinishedAt = stateExited, reason, 137, time.Now().UTC()
	for i := range p.rec.Containers {
		p.rec.Containers[i].State, p.rec.Containers[i].Pid = stateExited, 0
	}
	p.closeRun()
	p.mu.Unlock()
	d.save(p)
}

func (d *Daemon) reattach(ctx context.Context, p *pod, rec record, pid int) error {
	v, err := vm.Attach(ctx, d.cfg.VM, vm.Spec{ID: rec.VMID}, pid)
	if err != nil {
		return err
	}
	for i, c := range rec.Containers {
		if c.State != stateRunning {
			continue
		}
		proc, err := v.Guest.Attach(ctx, c.Name, protocol.InitExec, rec.Procs[i].Terminal, rec.Procs[i].Stdin)
		if err == nil {
			err = d.pumpMain(p, c.Name, proc)
		}
		if err != nil {
			v.Guest.Close()
			return fmt.Errorf("container %s: %w", c.Name, err)
		}
	}
	p.mu.Lock()
	p.vm, p.refs = v, newRunRefs()
	p.mu.Unlock()
	d.vols.holdAttached(p, rec)
	d.resumeRestarts(p, v, rec)
	go d.supervise(p, v)
	return nil
}

// resumeRestarts restarts the containers of a re-attached pod that had
// exited and were waiting for their restart when the earlier hyperd
// ended: their back-off is over by now.
func (d *Daemon) resumeRestarts(p *pod, v *vm.VM, rec record) {
	for i, c := range rec.Containers {
		if c.State != stateExited || !shouldRestart(rec.Spec.Containers[i].RestartPolicy, rec.Spec.RestartPolicy, c.ExitCode, c.RestartCount) {
			continue
		}
		p.mu.Lock()
		j, ok := p.ctrIndex(c.Name)
		var cc *ctr
		if ok {
			cc = p.ctrs[j]
		}
		p.mu.Unlock()
		if cc == nil {
			continue
		}
		if err := d.restartCtr(p, v.Guest, c.Name, cc); err != nil {
			d.log.Warn("restarting container after a hyperd restart", "pod", rec.ID[:12], "container", c.Name, "err", err)
		}
	}
}

// shortID shortens "sha256:<hex>" to docker's 12 hex digits.
func shortID(id string) string {
	if _, hex, ok := strings.Cut(id, ":"); ok && len(hex) >= 12 {
		return hex[:12]
	}
	return id
}
