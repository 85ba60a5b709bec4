// Package sandbox is Hyper's pod core: the lifecycle of one pod VM, driven
// by every front door (hyperd's REST API today; the OCI runtime and the
// containerd shim next). A Sandbox boots its VM (from a template or cold),
// creates, starts, stops, restarts and removes containers in it, runs
// execs, fans each container's output out to its log file and to any
// number of attached clients, supervises exits and the VM's death, and
// takes over a VM left running by an earlier host process.
//
// Its inputs are data: a Spec, ContainerSpecs with their root file system
// disks, and per run a Run of disks, shares, NICs and guest network
// configuration prepared by the caller, plus a small Store to persist its
// Status. It knows nothing of REST, the state database, names and ID
// prefixes, the image store or the CLI, and names no hypervisor: the VM
// layer (package vm) and its driver do.
//
// # Lock order
//
// Sandbox.change (orders one pod's container additions and removals end
// to end; the caller may check and resolve what it adds while holding it,
// and nothing that serves reads takes it) → Sandbox.mu → fanout.mu
// (fanout.mu alone is held while output is written to attached clients:
// a slow client slows its process, never the sandbox). Nothing else is
// taken with Sandbox.mu, and Sandbox.mu is never held across a guest RPC,
// a VM or driver call, disk I/O, or a Store call: methods read and change
// state under it, release it, then act. Store.Save may be called from any goroutine, with
// snapshots numbered by Status.Seq so that a late save of an older
// snapshot can be dropped.
package sandbox

import (
	"cmp"
	"errors"
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/hyperhq/hyper/internal/hypervisor"
	"github.com/hyperhq/hyper/internal/protocol"
	"github.com/hyperhq/hyper/internal/vm"
)

// Config is what every sandbox of a host shares.
type Config struct {
	VM  vm.Config
	Log *slog.Logger
	// LogMaxSize and LogMaxFiles rotate the containers' log files.
	LogMaxSize  int64
	LogMaxFiles int
}

// Spec is what does not change over a sandbox's life.
type Spec struct {
	ID   string // the pod's ID (logs, messages)
	Name string // the pod's name (messages)
	// VMID names the VM (short: it is part of socket paths).
	VMID string
	// Dir holds the containers' logs (logs/<name>.log) and the scratch
	// disk, kept across runs.
	Dir       string
	VCPUs     int
	MemoryMB  int
	ScratchMB int
	// RestartPolicy is the pod's default for its containers.
	RestartPolicy string
	// Persistent: a run lasts until it is stopped (or its VM dies), with
	// or without containers, as a CRI pod sandbox outlives its
	// containers; it may start with none, and its last container may be
	// removed. Otherwise a run ends once every main process exited for
	// good.
	Persistent bool
	// AutoRemove: once the run ends cleanly the sandbox deletes its
	// record (Store.Delete) before its waiters hear of the exit.
	AutoRemove bool
	// Events, if set, receives the containers' start, oom and die events
	// (events.go).
	Events Sink
	// LogMaxSize and LogMaxFiles, when > 0, rotate this pod's logs
	// instead of Config's (run --log-opt).
	LogMaxSize  int64
	LogMaxFiles int
}

// ContainerSpec is one container as the sandbox runs it.
type ContainerSpec struct {
	Name string
	// Image identifies the root file system: containers of one image
	// share its disk in the VM.
	Image string
	// Guest is what the guest creates; its Rootfs.DiskSerial is set by
	// the sandbox from the disk it attached for Image.
	Guest protocol.ContainerSpec
	// Process is the container's main process.
	Process       protocol.ProcessSpec
	RestartPolicy string // "" uses Spec.RestartPolicy
	StopSignal    int
}

// Run is what the caller prepares on the host for one run of the VM:
// root file system disks (by image), volume disks and shares, NICs and
// the guest's pod configuration. Release undoes it; the sandbox calls it
// once the run's VM is gone, or when the start failed.
type Run struct {
	Rootfs  map[string]hypervisor.Disk // by ContainerSpec.Image
	Disks   []hypervisor.Disk          // volumes
	Shares  []hypervisor.Share
	NICs    []hypervisor.NIC
	Pod     protocol.PodSpec // hostname, DNS, interfaces, hosts, sysctls; the scratch disk is the sandbox's
	Release func()
}

// Store persists a sandbox's status. The sandbox never holds a lock while
// calling it.
type Store interface {
	// Save records st; an implementation drops a snapshot older (by Seq)
	// than one it already saved. Failures are its to log.
	Save(st Status)
	// Delete forgets the sandbox (auto-remove): it is gone from listings
	// before its waiters hear of the exit.
	Delete()
}

// How a run's VM came up (Status.Boot).
const (
	BootTemplate = "template" // resumed from a VM template
	BootCold     = "cold"     // booted
)

// Status is a snapshot of a sandbox's state.
type Status struct {
	// Seq orders snapshots: a larger one is newer.
	Seq        uint64
	State      State
	Reason     string
	ExitCode   int
	StartedAt  time.Time
	FinishedAt time.Time
	VMPid      int
	Accel      string
	// Boot is how the current (or last) run's VM came up: BootTemplate
	// or BootCold; "" if none did (or it was re-attached).
	Boot string
	// Serials maps the images of the current (or last) run to their
	// disks' serials in its VM.
	Serials map[string]string
	// Paused: the running pod's VM is paused (State stays Running).
	Paused     bool
	Containers []ContainerStatus
	Inits      []ContainerStatus
}

// ContainerStatus is one container's part of a Status.
type ContainerStatus struct {
	Name         string
	State        CtrState
	ExitCode     int
	Pid          int
	RestartCount int
	// OOMKilled: the last run of its main process ended with an OOM kill
	// in the guest (protocol.ExitStatus.OOMKilled).
	OOMKilled bool
}

// Sandbox is one pod VM's lifecycle.
type Sandbox struct {
	cfg   *Config
	spec  Spec
	store Store
	log   *slog.Logger
	logs  logFiles

	// change serializes container additions and removals. Held across
	// I/O on purpose (guest RPCs, disk hot-plugs, the caller's image and
	// volume work): it orders one pod's container changes end to end;
	// nothing that serves reads waits on it.
	change sync.Mutex

	mu       sync.Mutex
	seq      uint64
	st       podStatus
	removing bool // a removal has begun: no new run may start
	ctrs     []*container
	inits    []*container
	run      *run // the current run; nil when none is on
	// exited is closed when the current (or next, before the first
	// start) run ends; restarted when a new run of an exited pod begins;
	// vmGone once the last run's VM has powered off.
	exited    chan struct{}
	restarted chan struct{}
	vmGone    chan struct{}
}

// podStatus is the pod-level part of a Status.
type podStatus struct {
	state      State
	reason     string
	exitCode   int
	startedAt  time.Time
	finishedAt time.Time
	vmPid      int
	accel      string
	boot       string
	serials    map[string]string
	paused     bool
}

// New makes the sandbox of a pod from its spec, its containers and, for
// a pod that existed before (the host process restarted), its last
// status (State zero: a new pod). A pod recorded as running is taken
// over by Recover.
func New(cfg *Config, spec Spec, inits, ctrs []ContainerSpec, last Status, store Store) *Sandbox {
	s := &Sandbox{cfg: cfg, spec: spec, store: store, log: cfg.Log,
		exited: make(chan struct{}), restarted: make(chan struct{}), vmGone: make(chan struct{})}
	if s.log == nil {
		s.log = slog.Default()
	}
	s.logs = logFiles{dir: spec.Dir, maxSize: cmp.Or(spec.LogMaxSize, cfg.LogMaxSize), maxFiles: cmp.Or(spec.LogMaxFiles, cfg.LogMaxFiles), log: s.log}
	close(s.vmGone)
	s.seq = last.Seq
	s.st = podStatus{state: last.State, reason: last.Reason, exitCode: last.ExitCode, startedAt: last.StartedAt,
		finishedAt: last.FinishedAt, vmPid: last.VMPid, accel: last.Accel, serials: last.Serials,
		paused: last.Paused && last.State == Running}
	if s.st.state == "" {
		s.st.state = Created
	}
	ended := s.st.state == Exited || s.st.state == Failed
	mk := func(specs []ContainerSpec, sts []ContainerStatus, init bool) []*container {
		var out []*container
		for i, cs := range specs {
			c := newContainer(cs, init)
			if i < len(sts) && sts[i].Name == cs.Name {
				c.status = sts[i]
			}
			if ended || (init && s.st.state != Created) { // a recovered running pod's inits are done
				c.io.end()
			}
			out = append(out, c)
		}
		return out
	}
	s.inits = mk(inits, last.Inits, true)
	s.ctrs = mk(ctrs, last.Containers, false)
	if ended {
		close(s.exited)
	}
	return s
}

// Status returns a snapshot of the sandbox's state.
func (s *Sandbox) Status() Status {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.status()
}

// status is Status with mu held.
func (s *Sandbox) status() Status {
	st := Status{Seq: s.seq, State: s.st.state, Reason: s.st.reason, ExitCode: s.st.exitCode,
		StartedAt: s.st.startedAt, FinishedAt: s.st.finishedAt, VMPid: s.st.vmPid, Accel: s.st.accel,
		Boot: s.st.boot, Serials: s.st.serials, Paused: s.st.paused && s.st.state == Running}
	for _, c := range s.inits {
		st.Inits = append(st.Inits, c.status)
	}
	for _, c := range s.ctrs {
		st.Containers = append(st.Containers, c.status)
	}
	return st
}

// Running tells whether a run is on: booting, running, or a recorded
// running VM not yet re-attached.
func (s *Sandbox) Running() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.run != nil
}

// VMGone is closed once the last run's VM has powered off.
func (s *Sandbox) VMGone() <-chan struct{} {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.vmGone
}

// Exited is closed when the current run (or the next one, if none is on)
// ends.
func (s *Sandbox) Exited() <-chan struct{} {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.exited
}

// save persists a snapshot. Called without mu.
func (s *Sandbox) save() {
	s.mu.Lock()
	s.seq++
	st := s.status()
	removed := s.st.state == Removed
	s.mu.Unlock()
	if !removed { // a late save must not bring a removed pod back
		s.store.Save(st)
	}
}

// findCtr returns the container named name ("" is the first main one),
// main containers first, then init containers. Called with the sandbox's
// mu held.
func findCtr(ctrs, inits []*container, name string) (*container, bool) {
	if name == "" {
		if len(ctrs) == 0 {
			return nil, false
		}
		return ctrs[0], true
	}
	for _, cs := range [][]*container{ctrs, inits} {
		if i := slices.IndexFunc(cs, func(c *container) bool { return c.spec.Name == name }); i >= 0 {
			return cs[i], true
		}
	}
	return nil, false
}

// mainCtr returns main container name ("" is the first). Called with the
// sandbox's mu held.
func mainCtr(ctrs []*container, name string) (*container, bool) {
	c, ok := findCtr(ctrs, nil, name)
	return c, ok
}

// Container returns container name's spec ("" is the first main one;
// init containers too) and whether it is an init container.
func (s *Sandbox) Container(name string) (ContainerSpec, bool, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	c, ok := findCtr(s.ctrs, s.inits, name)
	if !ok {
		return ContainerSpec{}, false, false
	}
	return c.spec, c.init, true
}

var errStopped = errors.New("stopped")
