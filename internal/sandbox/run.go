package sandbox

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"time"

	"github.com/hyperhq/hyper/internal/cleanup"
	"github.com/hyperhq/hyper/internal/disk"
	"github.com/hyperhq/hyper/internal/errdefs"
	"github.com/hyperhq/hyper/internal/guest"
	"github.com/hyperhq/hyper/internal/hypervisor"
	"github.com/hyperhq/hyper/internal/protocol"
	"github.com/hyperhq/hyper/internal/vm"
)

// ScratchSerial is the serial of the pod's scratch disk (the containers'
// writable layers).
const ScratchSerial = "scratch"

const (
	// deliverTimeout bounds the wait for a process's last output.
	deliverTimeout = 5 * time.Second
	// defaultStopGrace is the grace period of a stop that arrived while
	// the VM booted, or while a container was being added or restarted.
	defaultStopGrace = 10 * time.Second
)

var timeAfter = time.After

// run is one run of the pod's VM: from the start of its boot until every
// container's main process exited for good or the VM died.
type run struct {
	s    *Sandbox
	vm   *vm.VM // nil while booting (or not yet re-attached)
	refs *runRefs
	// stopping is set by Stop (or a forced removal): no container
	// restarts any more in this run; stopCh is closed then, cutting
	// restart back-offs short.
	stopping bool
	stopCh   chan struct{}
	release  func()
}

func newRun(s *Sandbox, release func()) *run {
	if release == nil {
		release = func() {}
	}
	return &run{s: s, refs: newRunRefs(), stopCh: make(chan struct{}), release: release}
}

// stop marks the run as stopping. Called with mu held.
func (r *run) stop() {
	if !r.stopping {
		r.stopping = true
		close(r.stopCh)
	}
}

// Prepare makes what a run needs on the host (Run); it runs once the
// sandbox is starting, so two starts never prepare at once.
type Prepare func(ctx context.Context) (Run, error)

// Start boots the pod's VM and starts every container's main process
// (init containers first, each to its end). It returns once they run; the
// run itself belongs to the sandbox, not to ctx.
func (s *Sandbox) Start(ctx context.Context, prepare Prepare) error {
	s.mu.Lock()
	if s.removing {
		s.mu.Unlock()
		return errdefs.Conflict("pod %s is being removed", s.spec.Name)
	}
	if s.run != nil {
		s.mu.Unlock()
		return errdefs.Conflict("pod %s is already running", s.spec.Name)
	}
	r := newRun(s, nil)
	s.run = r
	if s.st.state != Created { // a new run: new channels
		s.exited = make(chan struct{})
		for _, c := range append(slices.Clip(s.ctrs), s.inits...) {
			c.io = newIO(c.spec.Process.Stdin && !c.init)
		}
		close(s.restarted)
		s.restarted = make(chan struct{})
	}
	for _, c := range s.ctrs {
		c.status.RestartCount, c.status.OOMKilled = 0, false
	}
	for _, c := range s.inits {
		if c.status.State == CtrExited {
			s.ctrTo(c, CtrCreated)
		}
		c.status.ExitCode, c.status.OOMKilled = 0, false
	}
	gone := s.vmGone
	s.mu.Unlock()
	<-gone // the previous run's VM has powered off

	ctx = context.WithoutCancel(ctx)
	v, err := r.boot(ctx, prepare)
	s.mu.Lock()
	now := time.Now().UTC()
	if err != nil {
		s.to(Failed)
		s.st.reason, s.st.exitCode, s.st.finishedAt = err.Error(), 125, now
		s.closeRun()
		s.run = nil
		s.mu.Unlock()
		s.save()
		return err
	}
	r.vm = v
	s.to(Running)
	s.st.reason, s.st.exitCode, s.st.startedAt = "", 0, now
	s.st.paused = false
	s.st.vmPid, s.st.accel = v.Pid(), s.cfg.VM.Accel.Kind
	s.st.boot = BootCold
	if v.Template != "" {
		s.st.boot = BootTemplate
	}
	var evs []Event
	for _, c := range s.ctrs {
		s.ctrTo(c, CtrRunning)
		c.status.Pid = c.io.proc.Pid
		evs = append(evs, startEvent(c))
	}
	pending := r.pending()
	s.mu.Unlock()
	s.save()
	s.emit(evs...)
	go r.supervise()
	pending(ctx)
	return nil
}

// vmExit classifies a run's VM's end.
func vmExit(clean, guestFailed, removing bool) string {
	switch {
	case clean:
		return VMExitClean
	case guestFailed:
		return VMExitGuestError
	case removing:
		return VMExitRemoved
	}
	return VMExitDied
}

// isRemoving tells whether a removal has begun.
func (s *Sandbox) isRemoving() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.removing
}

// pending is what a stop or a forced removal that came while the run's
// VM was booting (or being re-attached) leaves to do, now that there is
// something to stop: the returned function does it. Called with the
// sandbox's mu held, once r.vm is set.
func (r *run) pending() func(context.Context) {
	s, v := r.s, r.vm
	stopping, removing := r.stopping, s.removing
	stops := s.stopRequests(defaultStopGrace)
	return func(ctx context.Context) {
		switch {
		case removing:
			v.Destroy()
		case stopping:
			for _, req := range stops {
				v.Guest.StopContainer(ctx, req)
			}
		}
	}
}

// stopRequests are the stops of every main container. Called with mu
// held.
func (s *Sandbox) stopRequests(grace time.Duration) []protocol.StopRequest {
	var reqs []protocol.StopRequest
	for _, c := range s.ctrs {
		reqs = append(reqs, protocol.StopRequest{Container: c.spec.Name, Signal: c.spec.StopSignal, GraceMillis: grace.Milliseconds()})
	}
	return reqs
}

// closeRun ends a run that never started, or whose end was reported:
// waiters and attached clients are released. Called with mu held.
func (s *Sandbox) closeRun() { endRun(s.exited, runIOs(s.ctrs, s.inits)) }

// runIOs are the I/O of the current run of containers. Called with the
// sandbox's mu held.
func runIOs(ctrs, inits []*container) []*ctrIO {
	var ios []*ctrIO
	for _, c := range append(slices.Clip(ctrs), inits...) {
		ios = append(ios, c.io)
	}
	return ios
}

// endRun releases the waiters (exited) and attached clients (ios) of a
// run, once. Called with mu held.
func endRun(exited chan struct{}, ios []*ctrIO) {
	if isClosed(exited) {
		return // closed already (a removal after the run ended)
	}
	for _, c := range ios {
		c.end()
	}
	close(exited)
}

type step struct {
	name string
	run  func() error
}

// boot prepares the host side, starts the VM, configures the pod and
// starts the containers.
func (r *run) boot(ctx context.Context, prepare Prepare) (*vm.VM, error) {
	s := r.s
	var undo cleanup.Cleanup
	defer undo.Clean()
	var v *vm.VM
	var rn Run
	scratch := filepath.Join(s.spec.Dir, "scratch.ext4")
	s.mu.Lock()
	inits, ctrs := slices.Clip(s.inits), slices.Clip(s.ctrs)
	s.mu.Unlock()
	ids := distinctImages(inits, ctrs)
	serials := map[string]string{}
	steps := []step{
		{"prepare host resources", func() (err error) {
			if rn, err = prepare(ctx); err != nil {
				return err
			}
			if rn.Release != nil {
				undo.Add(rn.Release)
			}
			for _, id := range ids {
				if _, ok := rn.Rootfs[id]; !ok {
					return errdefs.InvalidArgument("no root file system for image %s", id)
				}
				serials[id] = rn.Rootfs[id].Serial
			}
			return nil
		}},
		{"prepare scratch disk", func() error {
			if _, err := os.Stat(scratch); err == nil {
				return nil // kept across stop/start
			}
			return disk.CreateExt4(scratch, s.spec.ScratchMB)
		}},
		{"boot vm", func() (err error) {
			var disks []hypervisor.Disk
			for _, id := range ids {
				disks = append(disks, rn.Rootfs[id])
			}
			disks = append(append(disks, rn.Disks...), hypervisor.Disk{Path: scratch, Serial: ScratchSerial})
			v, err = vm.Boot(ctx, s.cfg.VM, vm.Spec{ID: s.spec.VMID, VCPUs: s.spec.VCPUs, MemoryMB: s.spec.MemoryMB,
				Disks: disks, NICs: rn.NICs, Shares: rn.Shares})
			if err == nil {
				undo.Add(func() { v.Destroy() })
			}
			return err
		}},
		{"create pod", func() error {
			pod := rn.Pod
			pod.ScratchDisk = ScratchSerial
			return v.Guest.CreatePod(ctx, pod)
		}},
		{"run init containers", func() error {
			for _, c := range inits {
				if err := r.runInit(ctx, c, v, serials[c.spec.Image]); err != nil {
					return err
				}
			}
			return nil
		}},
		{"start containers", func() error {
			for _, c := range ctrs {
				if err := v.Guest.CreateContainer(ctx, guestSpec(c.spec, serials[c.spec.Image])); err != nil {
					return err
				}
				if err := r.startMain(ctx, c, v); err != nil {
					return err
				}
			}
			return nil
		}},
	}
	for _, st := range steps {
		if err := st.run(); err != nil {
			return nil, fmt.Errorf("starting pod %s: %s: %w", s.spec.Name, st.name, err)
		}
	}
	s.mu.Lock()
	s.st.serials = serials
	r.release = rn.Release
	if r.release == nil {
		r.release = func() {}
	}
	s.mu.Unlock()
	undo.Release()
	return v, nil
}

// guestSpec is what the guest is told to create for container cs whose
// image disk has serial.
func guestSpec(cs ContainerSpec, serial string) protocol.ContainerSpec {
	g := cs.Guest
	g.ID = cs.Name
	g.Rootfs.DiskSerial = serial
	return g
}

// distinctImages lists the distinct images of containers, in order.
func distinctImages(lists ...[]*container) []string {
	var ids []string
	seen := map[string]bool{}
	for _, cs := range lists {
		for _, c := range cs {
			if !seen[c.spec.Image] {
				seen[c.spec.Image] = true
				ids = append(ids, c.spec.Image)
			}
		}
	}
	return ids
}

// startMain starts container c's main process and pumps its output.
func (r *run) startMain(ctx context.Context, c *container, v *vm.VM) error {
	s := r.s
	s.mu.Lock()
	spec := c.spec.Process
	s.mu.Unlock()
	proc, err := v.Guest.Exec(ctx, c.spec.Name, protocol.InitExec, spec)
	if err != nil {
		return err
	}
	if err := r.pumpMain(c, proc); err != nil {
		proc.Close()
		return err
	}
	return nil
}

// pumpMain copies a main process's output into the container's log file
// and to attached clients, and attached clients' input to it.
func (r *run) pumpMain(c *container, proc *guest.Process) error {
	s := r.s
	delivered, err := s.logs.pump(proc, c.spec.Name, c.out)
	if err != nil {
		return err
	}
	s.mu.Lock()
	cio := c.io
	cio.proc, cio.delivered = proc, delivered
	forward := proc.Stdin != nil && cio.stdinR != nil && !cio.forwarding
	cio.forwarding = cio.forwarding || forward
	ended := cio.stdinEnded
	s.mu.Unlock()
	switch {
	case forward:
		go s.forwardStdin(cio)
	case ended && proc.Stdin != nil: // the clients' input ended before this process started
		proc.Stdin.Close()
	}
	return nil
}

// forwardStdin copies the attached clients' input (cio.stdinR) to the
// container's process of the moment, restarts included, and closes its
// stdin when the input ends.
func (s *Sandbox) forwardStdin(cio *ctrIO) {
	buf := make([]byte, 32<<10)
	for {
		n, err := cio.stdinR.Read(buf)
		s.mu.Lock()
		proc := cio.proc
		cio.stdinEnded = err != nil
		s.mu.Unlock()
		if n > 0 {
			proc.Stdin.Write(buf[:n]) // lost if the process exited meanwhile
		}
		if err != nil {
			proc.Stdin.Close()
			return
		}
	}
}

// supervise waits for the run to end: every container's main process
// exited for good (the pod then powers off), or the VM died. Containers
// added to the running pod are supervised too (change.go); the run ends
// once none is supervised and none is being added or removed.
func (r *run) supervise() {
	s := r.s
	v := r.vm
	s.mu.Lock()
	var watched []*container
	for _, c := range s.ctrs {
		if c.io.proc == nil { // exited before the host process restarted
			r.refs.status[c.spec.Name] = &protocol.ExitStatus{Code: c.status.ExitCode}
			continue
		}
		r.refs.hold()
		watched = append(watched, c)
	}
	s.mu.Unlock()
	for _, c := range watched {
		r.watch(c)
	}
	if s.spec.Persistent {
		// The run outlives its containers: it holds itself until it is
		// stopped, or the guest goes away.
		go func() {
			select {
			case <-r.stopCh:
			case <-v.Guest.Done():
			}
			s.mu.Lock()
			r.refs.release()
			s.mu.Unlock()
		}()
	} else {
		s.mu.Lock()
		r.refs.release() // supervise's own reference
		s.mu.Unlock()
	}
	<-r.refs.done
	// Everything exited, or the guest went away. Report a clean exit at
	// once (waiters need not wait for the power-off), then power off; a
	// new run or a removal waits for the VM to be gone.
	gone := make(chan struct{})
	s.mu.Lock()
	s.vmGone = gone
	var first *protocol.ExitStatus
	if len(s.ctrs) > 0 {
		first = r.refs.status[s.ctrs[0].spec.Name]
	} else if !isClosed(v.Guest.Done()) { // a persistent run without containers, stopped
		first = &protocol.ExitStatus{}
	}
	clean := first != nil
	var ios []*ctrIO
	var evs []Event
	for _, c := range s.ctrs {
		if r.refs.status[c.spec.Name] == nil && c.status.State != CtrExited {
			s.ctrTo(c, CtrExited)
			c.status.ExitCode = 137
			evs = append(evs, exitEvents(c, 137, false)...)
		}
		c.status.Pid = 0
		ios = append(ios, c.io)
	}
	auto := s.spec.AutoRemove
	// What the run's end releases: a new Start, which may begin once
	// the run is over, replaces them.
	exited, ends := s.exited, runIOs(s.ctrs, s.inits)
	if clean {
		// The run is over as soon as every main process exited: a new
		// Start may begin (it waits for gone), and waiters hear of the
		// exit before the power-off.
		s.to(Exited)
		s.st.reason, s.st.exitCode, s.st.finishedAt = "", first.Code, time.Now().UTC()
		s.run = nil
		if auto {
			s.removing = true
		}
	}
	s.mu.Unlock()
	s.emit(evs...)
	if clean {
		awaitDelivered(ios) // attached clients and logs -f get the last output first
		if auto {
			s.store.Delete() // gone from listings before its waiters hear of the exit
		} else {
			s.save()
		}
		s.mu.Lock()
		endRun(exited, ends)
		s.mu.Unlock()
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
	r.release()
	reason := v.ExitReason()
	s.emit(Event{Kind: EventVMExit, VMExit: vmExit(clean, v.GuestFailed(), s.isRemoving())})
	if !clean {
		// The VM died: the run stays on (no Start can slip in) until its
		// state is saved and the run closed.
		s.mu.Lock()
		s.to(Failed)
		s.st.reason, s.st.finishedAt = "vm ended: "+reason, time.Now().UTC()
		s.st.exitCode = 128 + 9
		s.mu.Unlock()
		s.save()
		s.mu.Lock()
		s.run = nil
		s.closeRun()
		s.mu.Unlock()
	}
	close(gone)
	if auto && clean {
		s.mu.Lock()
		if s.st.state != Removed { // a Remove may have come first
			s.to(Removed)
		}
		s.mu.Unlock()
	}
	st := s.Status()
	s.log.Info("pod exited", "pod", short(s.spec.ID), "code", st.ExitCode, "vm", reason)
}

func short(id string) string {
	if len(id) > 12 {
		return id[:12]
	}
	return id
}

// watch supervises container c for the rest of the run. The caller
// holds a reference to the run for it, released when the supervision
// ends.
func (r *run) watch(c *container) {
	s := r.s
	ended := make(chan struct{})
	s.mu.Lock()
	c.io.ended = ended
	s.mu.Unlock()
	go func() {
		st := r.superviseCtr(c)
		s.mu.Lock()
		r.refs.status[c.spec.Name] = st
		close(ended)
		r.refs.release()
		s.mu.Unlock()
	}()
}

// runRefs counts what holds a run: each supervised container, and each
// addition or removal in progress. The run ends (done is closed) when the
// count falls to zero; it cannot be held again then. Its fields are
// guarded by the sandbox's mu.
type runRefs struct {
	n    int
	done chan struct{}
	// status is the last exit status of each container whose
	// supervision ended; nil when the guest went away.
	status map[string]*protocol.ExitStatus
}

// newRunRefs starts with one reference: supervise's own.
func newRunRefs() *runRefs {
	return &runRefs{n: 1, done: make(chan struct{}), status: map[string]*protocol.ExitStatus{}}
}

// hold takes a reference unless the run has ended.
func (r *runRefs) hold() bool {
	if r == nil || r.n == 0 {
		return false
	}
	r.n++
	return true
}

func (r *runRefs) release() {
	r.n--
	if r.n == 0 {
		close(r.done)
	}
}
