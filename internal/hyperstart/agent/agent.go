// Package agent implements hyperstart's RPC methods: the pod, its
// containers and their processes. Every method validates its request and
// returns coded errors (see package errs); none may bring hyperstart down.
package agent

import (
	"context"
	"log/slog"
	"path/filepath"
	"sync"
	"time"

	"golang.org/x/sys/unix"

	"github.com/hyperhq/hyper/internal/hyperstart/cgroup"
	"github.com/hyperhq/hyper/internal/hyperstart/disk"
	"github.com/hyperhq/hyper/internal/hyperstart/mount"
	"github.com/hyperhq/hyper/internal/hyperstart/reaper"
	"github.com/hyperhq/hyper/internal/hyperstart/resume"
	"github.com/hyperhq/hyper/internal/hyperstart/rpc"
	"github.com/hyperhq/hyper/internal/hyperstart/stdio"
	"github.com/hyperhq/hyper/internal/protocol"
)

// Timeouts.
const (
	DiskTimeout  = 10 * time.Second // for a disk to appear
	StdioTimeout = 10 * time.Second // for a process's stdio streams
	KillTimeout  = 10 * time.Second // for a killed cgroup to empty
	DrainIdle    = time.Second      // output silence after exit before giving up on it
	MaxExecs     = 1024             // process records kept per container
)

// Paths are where hyperstart keeps its state.
type Paths struct {
	Run       string // "/run/hyper"
	CgroupDir string // parent of container cgroups: "/sys/fs/cgroup/hyper"
	SysBlock  string // "/sys/block"
	Dev       string // "/dev"
	ProcSys   string // "/proc/sys"; "" is that too
}

// DefaultPaths are the paths inside the VM.
var DefaultPaths = Paths{
	Run:       "/run/hyper",
	CgroupDir: filepath.Join(cgroup.Root, "hyper"),
	SysBlock:  disk.SysBlock,
	Dev:       "/dev",
}

func (p Paths) pod() string        { return filepath.Join(p.Run, "pod") }
func (p Paths) scratch() string    { return filepath.Join(p.Run, "scratch") }
func (p Paths) images() string     { return filepath.Join(p.Run, "images") }
func (p Paths) containers() string { return filepath.Join(p.Run, "containers") }
func (p Paths) podProc() string    { return filepath.Join(p.Run, "podproc") }

func (p Paths) procSys() string {
	if p.ProcSys == "" {
		return "/proc/sys"
	}
	return p.ProcSys
}

// Config wires an Agent.
type Config struct {
	Paths  Paths
	Reaper *reaper.Reaper
	Stdio  *stdio.Registry
	// Exe is the hyperstart binary re-executed as pod-init and spawn.
	Exe string
	// Reboot ends the VM; Shutdown calls it last. Nil: Shutdown only
	// cleans up.
	Reboot func() error
	// Resume applies a checked ResumeRequest to the VM (clock, RNG,
	// MACs). Nil: Resume only checks the request.
	Resume func(protocol.ResumeRequest) error
}

// Agent holds the guest's state.
type Agent struct {
	cfg Config

	mu          sync.Mutex
	pod         *pod
	podCreating bool
	spare       *pod // pod-init started ahead of CreatePod
	containers  map[string]*container
	// vm holds the processes run in the VM itself, outside every
	// container (protocol.VMContainer): always running, no cgroup.
	vm *container

	imgMu  sync.Mutex
	images map[string]*image

	vols volumeSet
}

// New returns an agent.
func New(cfg Config) *Agent {
	if cfg.Exe == "" {
		cfg.Exe = "/proc/self/exe"
	}
	return &Agent{
		cfg:        cfg,
		containers: make(map[string]*container),
		images:     make(map[string]*image),
		vm:         &container{id: protocol.VMContainer, cgfd: -1, state: stateRunning, procs: make(map[string]*process)},
	}
}

// Register registers the methods on m.
func (a *Agent) Register(m *rpc.Mux) {
	m.Handle(protocol.MethodPing, rpc.Method(a.Ping))
	m.Handle(protocol.MethodCreatePod, rpc.Method(a.CreatePod))
	m.Handle(protocol.MethodCreateContainer, rpc.Method(a.CreateContainer))
	m.Handle(protocol.MethodExecProcess, rpc.Method(a.ExecProcess))
	m.Handle(protocol.MethodWaitProcess, rpc.Method(a.WaitProcess))
	m.Handle(protocol.MethodAttachProcess, rpc.Method(a.AttachProcess))
	m.Handle(protocol.MethodSignalProcess, rpc.Method(a.SignalProcess))
	m.Handle(protocol.MethodResizeTerminal, rpc.Method(a.ResizeTerminal))
	m.Handle(protocol.MethodStopContainer, rpc.Method(a.StopContainer))
	m.Handle(protocol.MethodRemoveContainer, rpc.Method(a.RemoveContainer))
	m.Handle(protocol.MethodShutdown, rpc.Method(a.Shutdown))
	m.Handle(protocol.MethodResume, rpc.Method(a.Resume))
	m.Handle(protocol.MethodStats, rpc.Method(a.Stats))
	a.RegisterArchive(m)
	m.Handle(protocol.MethodTop, rpc.Method(a.Top))
	m.Handle(protocol.MethodUpdateContainer, rpc.Method(a.UpdateContainer))
}

// Ping answers.
func (a *Agent) Ping(context.Context, protocol.Empty) (protocol.Empty, error) {
	return protocol.Empty{}, nil
}

// Resume checks the host's ResumeRequest and applies it.
func (a *Agent) Resume(_ context.Context, req protocol.ResumeRequest) (protocol.Empty, error) {
	if err := resume.Check(req); err != nil {
		return protocol.Empty{}, err
	}
	if a.cfg.Resume != nil {
		if err := a.cfg.Resume(req); err != nil {
			return protocol.Empty{}, err
		}
	}
	return protocol.Empty{}, nil
}

// Shutdown answers, then kills every container, syncs, unmounts and
// reboots (which ends the VM: QEMU runs with -no-reboot).
func (a *Agent) Shutdown(ctx context.Context, _ protocol.Empty) (protocol.Empty, error) {
	rpc.AfterReply(ctx, a.shutdown)
	return protocol.Empty{}, nil
}

func (a *Agent) shutdown() {
	slog.Info("shutting down")
	a.mu.Lock()
	var cs []*container
	for _, c := range a.containers {
		cs = append(cs, c)
	}
	a.mu.Unlock()
	for _, c := range cs {
		c.cg.Kill()
	}
	for _, c := range cs {
		if err := c.cg.WaitEmpty(3 * time.Second); err != nil {
			slog.Warn("shutdown", "err", err)
		}
	}
	unix.Sync()
	for _, c := range cs {
		mount.Unmount(c.rootfs)
	}
	a.imgMu.Lock()
	for _, img := range a.images {
		mount.Unmount(img.dir)
	}
	a.imgMu.Unlock()
	a.unmountVolumes()
	if err := mount.Unmount(a.cfg.Paths.scratch()); err != nil {
		slog.Warn("shutdown", "err", err)
	}
	unix.Sync()
	if a.cfg.Reboot != nil {
		if err := a.cfg.Reboot(); err != nil {
			slog.Error("reboot failed", "err", err)
		}
	}
}
