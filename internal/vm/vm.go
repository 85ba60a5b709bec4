// Package vm boots a pod VM: a hypervisor VM running hyperkernel and
// hyperstart, with the guest channel connected and the guest ready. A VM
// boots without knowing its pod: the pod, its containers and its disks are
// configured through the guest channel afterwards (see docs/architecture.md).
//
// Boot is a list of named steps; each one registers how to undo itself, so a
// failed boot leaves no process, socket or file behind.
package vm

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"sync/atomic"
	"time"

	"github.com/hyperhq/hyper/internal/cleanup"
	"github.com/hyperhq/hyper/internal/errdefs"
	"github.com/hyperhq/hyper/internal/guest"
	"github.com/hyperhq/hyper/internal/hypervisor"
	"github.com/hyperhq/hyper/internal/protocol"
)

// Config is what every VM of a host shares.
type Config struct {
	Driver hypervisor.Driver
	Kernel hypervisor.Kernel // vmlinux, initrd with hyperstart, extra cmdline
	Accel  hypervisor.Accel
	// RunDir holds one state directory per VM.
	RunDir string
	Log    *slog.Logger
	// Templates, if set, lets VMs resume a saved guest instead of booting
	// (where the driver can: hypervisor.Templater).
	Templates Templates
	// GuestRPCs, if set, observes every guest RPC of the VMs.
	GuestRPCs guest.Observer
}

// Spec describes one VM.
type Spec struct {
	ID          string
	VCPUs       int // default 1
	MemoryMB    int // default 256
	Disks       []hypervisor.Disk
	Shares      []hypervisor.Share
	NICs        []hypervisor.NIC
	BootTimeout time.Duration // default 60s
}

// Timings are the moments of one boot, for benchmarks and logs.
type Timings struct {
	Start     time.Time // before the hypervisor was launched
	Launched  time.Time // hypervisor process running
	Connected time.Time // channel socket connected
	Ready     time.Time // hello received
}

// VM is a booted VM with a ready guest.
type VM struct {
	ID      string
	Dir     string
	Guest   *guest.Client
	Timings Timings
	// Template is the directory of the template the VM was restored
	// from; empty if it booted.
	Template string

	hv       hypervisor.VM
	log      *slog.Logger
	stopping atomic.Bool   // the host is ending the VM on purpose
	done     chan struct{} // closed when the hypervisor has exited
	exit     hypervisor.ExitInfo
	why      error                // why the host failed the VM, if it did
	macs     []protocol.MACChange // NIC addresses the guest must take (restored VMs)
}

type step struct {
	name string
	run  func(ctx context.Context) error
}

// withDefaults fills in what spec leaves out.
func (spec Spec) withDefaults() Spec {
	if spec.VCPUs == 0 {
		spec.VCPUs = 1
	}
	if spec.MemoryMB == 0 {
		spec.MemoryMB = 256
	}
	if spec.BootTimeout == 0 {
		spec.BootTimeout = 60 * time.Second
	}
	return spec
}

// Boot starts a VM and waits until its guest is ready.
func Boot(ctx context.Context, cfg Config, spec Spec) (*VM, error) {
	spec = spec.withDefaults()
	if !validID(spec.ID) {
		return nil, errdefs.InvalidArgument("bad vm id %q", spec.ID)
	}
	log := cfg.Log
	if log == nil {
		log = slog.Default()
	}
	v := &VM{ID: spec.ID, Dir: filepath.Join(cfg.RunDir, spec.ID), log: log.With("vm", spec.ID), done: make(chan struct{})}
	ctx, cancel := context.WithTimeout(ctx, spec.BootTimeout)
	defer cancel()
	var undo cleanup.Cleanup
	defer undo.Clean()
	var conn net.Conn
	steps := []step{
		{"create state dir", func(context.Context) error {
			if err := os.MkdirAll(cfg.RunDir, 0o700); err != nil {
				return err
			}
			if err := os.Mkdir(v.Dir, 0o700); err != nil {
				if errors.Is(err, os.ErrExist) {
					return errdefs.Conflict("vm %s exists", spec.ID)
				}
				return err
			}
			undo.Add(func() { os.RemoveAll(v.Dir) })
			return nil
		}},
		{"start vm", func(ctx context.Context) error {
			return v.startHypervisor(ctx, cfg, hvSpec(cfg, spec, v.Dir), &undo)
		}},
		{"connect guest channel", func(ctx context.Context) error {
			c, err := v.hv.DialChannel(ctx, protocol.PortName)
			conn = c
			v.Timings.Connected = time.Now()
			return err
		}},
		{"wait for guest ready", func(ctx context.Context) error {
			gc, err := guest.Connect(ctx, conn, nil)
			if err != nil {
				return v.explain(err)
			}
			gc.Observe(cfg.GuestRPCs)
			v.Guest = gc
			v.Timings.Ready = time.Now()
			return nil
		}},
		{"resume guest", v.resumeGuest},
	}
	for _, s := range steps {
		if err := s.run(ctx); err != nil {
			return nil, fmt.Errorf("booting vm %s: %s: %w", spec.ID, s.name, err)
		}
	}
	undo.Release()
	go v.monitor()
	v.log.Debug("vm ready", "accel", cfg.Accel.Kind, "boot", v.Timings.Ready.Sub(v.Timings.Start), "template", v.Template)
	return v, nil
}

const channelSocket = "hyper.sock"

// hvSpec is the hypervisor's view of a pod VM.
func hvSpec(cfg Config, spec Spec, dir string) hypervisor.Spec {
	return hypervisor.Spec{
		ID: spec.ID, StateDir: dir, VCPUs: spec.VCPUs, MemoryMB: spec.MemoryMB,
		Kernel: cfg.Kernel, Accel: cfg.Accel,
		Disks: spec.Disks, Shares: spec.Shares, NICs: spec.NICs,
		Channels:   []hypervisor.Channel{{Name: protocol.PortName, SocketPath: filepath.Join(dir, channelSocket)}},
		ConsoleLog: filepath.Join(dir, "console.log"),
	}
}

// Attach takes over a VM booted by an earlier process (a restarted
// daemon): it reconnects the guest channel, and the guest, which keeps its
// processes, says hello again.
func Attach(ctx context.Context, cfg Config, spec Spec, pid int) (*VM, error) {
	at, ok := cfg.Driver.(hypervisor.Attacher)
	if !ok {
		return nil, errdefs.Unavailable("driver %s cannot attach to running VMs", cfg.Driver.Name())
	}
	log := cfg.Log
	if log == nil {
		log = slog.Default()
	}
	v := &VM{ID: spec.ID, Dir: filepath.Join(cfg.RunDir, spec.ID), log: log.With("vm", spec.ID), done: make(chan struct{})}
	hv, err := at.Attach(ctx, hvSpec(cfg, spec, v.Dir), pid)
	if err != nil {
		return nil, fmt.Errorf("attaching vm %s: %w", spec.ID, err)
	}
	v.hv = hv
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	resumePaused(ctx, v)
	conn, err := hv.DialChannel(ctx, protocol.PortName)
	if err == nil {
		v.Guest, err = guest.Connect(ctx, conn, nil)
	}
	if err != nil {
		return nil, fmt.Errorf("attaching vm %s: guest channel: %w", spec.ID, err)
	}
	v.Guest.Observe(cfg.GuestRPCs)
	go v.monitor()
	return v, nil
}

// Owns tells whether process pid is the hypervisor of VM id, still
// running: a recorded pid may have gone to any other process since.
func Owns(cfg Config, id string, pid int) bool {
	at, ok := cfg.Driver.(hypervisor.Attacher)
	return ok && pid > 0 && at.Owns(hvSpec(cfg, Spec{ID: id}, filepath.Join(cfg.RunDir, id)), pid)
}

// KillRecorded ends VM id, which an earlier process started as pid (one
// that could not be re-attached), if pid is still it, and waits until it
// is gone.
func KillRecorded(ctx context.Context, cfg Config, id string, pid int) error {
	at, ok := cfg.Driver.(hypervisor.Attacher)
	if !ok || pid <= 0 {
		return nil
	}
	hv, err := at.Attach(ctx, hvSpec(cfg, Spec{ID: id}, filepath.Join(cfg.RunDir, id)), pid)
	if errors.Is(err, errdefs.ErrNotFound) {
		return nil
	}
	if err == nil {
		err = hv.Kill()
	}
	if err == nil {
		ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		_, err = hv.Wait(ctx)
	}
	if err != nil {
		return fmt.Errorf("killing vm %s (pid %d): %w", id, pid, err)
	}
	return nil
}

// RemoveStale removes what is left of VM id, which an earlier process
// ran as pid and which should not run: its hypervisor, if pid is still
// it, and its state directory (a host process killed between the VM's
// end and its cleanup leaves it, and the next Boot of id would find it).
// Nothing left is not an error.
func RemoveStale(ctx context.Context, cfg Config, id string, pid int) error {
	if !validID(id) {
		return nil
	}
	dir := filepath.Join(cfg.RunDir, id)
	if _, err := os.Lstat(dir); errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err := KillRecorded(ctx, cfg, id, pid); err != nil {
		return err
	}
	if err := os.RemoveAll(dir); err != nil {
		return fmt.Errorf("removing state of vm %s: %w", id, err)
	}
	return nil
}

// explain adds why the VM ended, if it did, to a boot error.
func (v *VM) explain(err error) error {
	wctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	if info, werr := v.hv.Wait(wctx); werr == nil {
		return fmt.Errorf("%w (%s; see %s)", err, info.Reason, filepath.Join(v.Dir, "console.log"))
	}
	return err
}

// monitor ends the VM when its guest channel fails: a guest that breaks the
// protocol or goes away is not given a second chance. It closes done once
// the hypervisor has exited.
func (v *VM) monitor() {
	exited := make(chan hypervisor.ExitInfo, 1)
	go func() {
		info, _ := v.hv.Wait(context.Background())
		exited <- info
	}()
	var info hypervisor.ExitInfo
	select {
	case <-v.Guest.Done():
		if v.stopping.Load() {
			info = <-exited
			break
		}
		// The channel also ends when the hypervisor dies: its reason is
		// the better one then.
		select {
		case info = <-exited:
		case <-time.After(300 * time.Millisecond):
			v.why = fmt.Errorf("guest channel failed: %w", v.Guest.Err())
			v.log.Warn("failing vm", "reason", v.why)
			v.hv.Kill()
			info = <-exited
		}
	case info = <-exited:
	}
	v.exit = info
	v.Guest.Close()
	close(v.done)
}

// Done is closed when the VM has exited.
func (v *VM) Done() <-chan struct{} { return v.done }

// GuestFailed tells whether the host ended the VM because its guest
// channel failed (a guest error); valid after Done is closed.
func (v *VM) GuestFailed() bool { return v.why != nil }

// ExitReason says why the VM ended; valid after Done is closed.
func (v *VM) ExitReason() string {
	if v.why != nil {
		return v.why.Error()
	}
	return v.exit.Reason
}

// Pid is the hypervisor's process id.
func (v *VM) Pid() int { return v.hv.Pid() }

// UserNetwork is the guest side of the driver's user-mode network, nil if
// the driver has none.
func UserNetwork(cfg Config) *hypervisor.UserNet {
	un, ok := cfg.Driver.(hypervisor.UserNetworker)
	if !ok {
		return nil
	}
	u := un.UserNetwork()
	return &u
}

// AddDisk attaches a disk to the running VM (as one with Hotplug); the
// guest finds it by its serial.
func (v *VM) AddDisk(ctx context.Context, d hypervisor.Disk) error {
	hp, ok := v.hv.(hypervisor.DiskHotplugger)
	if !ok {
		return errdefs.Unavailable("vm %s: its hypervisor cannot add disks to a running VM", v.ID)
	}
	return hp.AddDisk(ctx, d)
}

// RemoveDisk detaches the disk with serial from the running VM. The guest
// must no longer use it.
func (v *VM) RemoveDisk(ctx context.Context, serial string) error {
	hp, ok := v.hv.(hypervisor.DiskHotplugger)
	if !ok {
		return errdefs.Unavailable("vm %s: its hypervisor cannot remove disks from a running VM", v.ID)
	}
	return hp.RemoveDisk(ctx, serial)
}

// Shutdown powers the VM off through the guest, falling back to the
// hypervisor and then to SIGKILL when ctx ends, then removes its state.
func (v *VM) Shutdown(ctx context.Context) error {
	v.stopping.Store(true)
	gctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	err := v.Guest.Shutdown(gctx)
	cancel()
	if err == nil {
		select {
		case <-v.done:
		case <-ctx.Done():
		case <-time.After(10 * time.Second):
		}
	}
	select {
	case <-v.done:
	default:
		v.hv.Shutdown(ctx)
	}
	<-v.done
	return v.removeState()
}

// Destroy kills the VM at once and removes its state.
func (v *VM) Destroy() error {
	v.stopping.Store(true)
	v.hv.Kill()
	<-v.done
	return v.removeState()
}

func (v *VM) removeState() error {
	v.Guest.Close()
	if err := os.RemoveAll(v.Dir); err != nil {
		return fmt.Errorf("removing vm %s state: %w", v.ID, err)
	}
	return nil
}

func validID(id string) bool {
	if id == "" || len(id) > 64 {
		return false
	}
	for _, r := range id {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_' || r == '.') {
			return false
		}
	}
	return id != "." && id != ".."
}
