// Package main is hyperstart, the init process (PID 1) of a Hyper VM. It sets up
// the VM, then serves the host over a virtio-serial port: it creates the
// pod and its containers and runs their processes.
//
// The same binary runs in two helper modes: "pod-init" (init of the pod's
// PID namespace, started at boot) and "spawn" (sets up and execs a container
// process that needs per-process setup, such as rlimits; others are started
// directly from a hyperstart thread).
package main

import (
	"context"
	"flag"
	"io"
	"log/slog"
	"os"
	"runtime"
	"time"

	"golang.org/x/sys/unix"

	"github.com/hyperhq/hyper/internal/hyperstart/agent"
	"github.com/hyperhq/hyper/internal/hyperstart/boot"
	"github.com/hyperhq/hyper/internal/hyperstart/channel"
	"github.com/hyperhq/hyper/internal/hyperstart/mount"
	"github.com/hyperhq/hyper/internal/hyperstart/podinit"
	"github.com/hyperhq/hyper/internal/hyperstart/reaper"
	"github.com/hyperhq/hyper/internal/hyperstart/resume"
	"github.com/hyperhq/hyper/internal/hyperstart/rpc"
	"github.com/hyperhq/hyper/internal/hyperstart/security"
	"github.com/hyperhq/hyper/internal/hyperstart/spawn"
	"github.com/hyperhq/hyper/internal/hyperstart/stdio"
	"github.com/hyperhq/hyper/internal/protocol"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

const (
	noexec = unix.MS_NOSUID | unix.MS_NODEV | unix.MS_NOEXEC
	nodev  = unix.MS_NOSUID | unix.MS_NODEV
)

// mounts is the VM's filesystem setup, in order.
var mounts = []mount.Entry{
	{Source: "proc", Target: "/proc", FSType: "proc", Flags: noexec},
	{Source: "sysfs", Target: "/sys", FSType: "sysfs", Flags: noexec},
	{Source: "devtmpfs", Target: "/dev", FSType: "devtmpfs", Flags: unix.MS_NOSUID, Data: "mode=0755"},
	{Source: "devpts", Target: "/dev/pts", FSType: "devpts", Flags: unix.MS_NOSUID | unix.MS_NOEXEC, Data: "ptmxmode=0666,mode=0620,gid=5"},
	{Source: "tmpfs", Target: "/dev/shm", FSType: "tmpfs", Flags: nodev, Data: "mode=1777"},
	{Source: "tmpfs", Target: "/run", FSType: "tmpfs", Flags: nodev, Data: "mode=0755"},
	{Source: "cgroup2", Target: "/sys/fs/cgroup", FSType: "cgroup2", Flags: noexec, Optional: true},
}

// init keeps the main goroutine on the main thread, PID 1's own task, so
// that no other goroutine ever runs there. A start locks a thread, moves it
// into the pod's namespaces and a new mount namespace and lets it end; the
// runtime cannot end the main thread, so it would park it in that state,
// /proc/1/ns/mnt would then name the container's namespace and the start
// would fail its "not in a new mount namespace" check.
func init() { runtime.LockOSThread() }

func main() {
	if len(os.Args) > 1 {
		switch os.Args[1] {
		case podinit.Mode:
			os.Exit(podinit.Run(os.Args[2:]))
		case spawn.Mode:
			os.Exit(spawn.Run())
		}
	}
	chanPath := flag.String("channel", os.Getenv("HYPERSTART_CHANNEL"), "channel device or unix socket (default: find the virtio port)")
	flag.Parse()
	pid1 := os.Getpid() == 1
	consoleErr := boot.Console()
	level := slog.LevelInfo
	if os.Getenv("HYPERSTART_LOG") == "debug" {
		level = slog.LevelDebug
	}
	slog.SetDefault(slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level})))
	if consoleErr != nil {
		slog.Error("console", "err", consoleErr)
	}

	if !security.Isolating() {
		slog.Warn("the kernel has no Landlock ABI >= 2: containers of a pod are kept apart by uid and capabilities only")
	}
	cfg := agent.Config{Paths: agent.DefaultPaths}
	if pid1 {
		setup(cfg.Paths)
		cfg.Reboot = func() error { return unix.Reboot(unix.LINUX_REBOOT_CMD_RESTART) }
		cfg.Resume = resume.Apply
	}
	boot.HoldSignals()
	cfg.Reaper = reaper.New()
	go cfg.Reaper.Run()
	cfg.Stdio = stdio.New(256, 30*time.Second)
	mux := rpc.NewMux(cfg.Stdio)
	ag := agent.New(cfg)
	ag.Register(mux)
	// pod-init starts while the channel is looked for, and is up before
	// the guest opens it (when a template is saved).
	podInit := make(chan struct{})
	go func() {
		defer close(podInit)
		if !pid1 {
			return
		}
		if err := ag.PrestartPod(); err != nil {
			slog.Error("starting pod-init ahead", "err", err)
		}
	}()

	open := func() (io.ReadWriteCloser, error) {
		path := *chanPath
		if path == "" {
			p, err := channel.FindPort("/sys", protocol.PortName, 10*time.Second)
			if err != nil {
				return nil, err
			}
			path = p
		}
		return channel.Open(path)
	}
	if port := channel.VsockPort(channel.ReadCmdline()); port != 0 && *chanPath == "" {
		vopen, err := channel.VsockOpener(port)
		if err != nil {
			slog.Error("vsock channel unavailable, using the serial port", "port", port, "err", err)
		} else {
			open = vopen
		}
	}
	hello := func() protocol.Hello {
		var ts unix.Timespec
		unix.ClockGettime(unix.CLOCK_BOOTTIME, &ts)
		return protocol.Hello{Proto: protocol.Version, Agent: version, BootNanos: ts.Nano()}
	}
	<-podInit
	slog.Info("hyperstart ready", "version", version)
	channel.Serve(context.Background(), open, hello, func(ctx context.Context, s channel.Session) error {
		return mux.Serve(ctx, s)
	})
}

// setup prepares the VM as PID 1. Failures are logged, never fatal: the
// kernel panics if init exits.
func setup(paths agent.Paths) {
	steps := []struct {
		name string
		fn   func() error
	}{
		{"reroot", boot.Reroot},
		{"mounts", func() error { return boot.Mounts(mounts) }},
		{"cgroups", func() error { return boot.Cgroups(paths.CgroupDir) }},
		{"loopback", boot.LoopbackUp},
	}
	for _, s := range steps {
		if err := s.fn(); err != nil {
			slog.Error("boot setup", "step", s.name, "err", err)
		}
	}
}
