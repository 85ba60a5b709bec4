package agent

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/hyperhq/hyper/internal/hyperstart/disk"
	"github.com/hyperhq/hyper/internal/hyperstart/errs"
	"github.com/hyperhq/hyper/internal/hyperstart/mount"
	"github.com/hyperhq/hyper/internal/hyperstart/netcfg"
	"github.com/hyperhq/hyper/internal/hyperstart/podinit"
	"github.com/hyperhq/hyper/internal/hyperstart/reaper"
	"github.com/hyperhq/hyper/internal/hyperstart/spawn"
	"github.com/hyperhq/hyper/internal/protocol"
)

// pod is the state of the pod once created.
type pod struct {
	initPid int
	ns      []spawn.Namespace // ipc, uts, pid of pod-init
	proc    string            // a proc mount of the pod's PID namespace
	dead    chan struct{}     // closed when pod-init exits
}

// alive reports an error if pod-init has died.
func (p *pod) alive() error {
	select {
	case <-p.dead:
		return errs.Unavailable("the pod is dead: its init process exited")
	default:
		return nil
	}
}

// podInitTimeout bounds pod-init's setup.
const podInitTimeout = 10 * time.Second

// podFiles are the files of the pod bound into every container's /etc.
var podFiles = []string{"hosts", "hostname", "resolv.conf"}

// CreatePod writes the pod's files, mounts the scratch disk and starts
// pod-init. It may only succeed once.
func (a *Agent) CreatePod(ctx context.Context, spec protocol.PodSpec) (protocol.Empty, error) {
	if err := validatePod(&spec); err != nil {
		return protocol.Empty{}, err
	}
	a.mu.Lock()
	if a.pod != nil || a.podCreating {
		a.mu.Unlock()
		return protocol.Empty{}, errs.Conflict("pod already created")
	}
	a.podCreating = true
	a.mu.Unlock()

	p, err := a.createPod(&spec)
	a.mu.Lock()
	a.podCreating = false
	if err == nil {
		a.pod = p
	}
	a.mu.Unlock()
	return protocol.Empty{}, err
}

func (a *Agent) createPod(spec *protocol.PodSpec) (*pod, error) {
	hostname := spec.Hostname
	if hostname == "" {
		hostname = "localhost"
	}
	if err := configureNetwork(spec.Interfaces); err != nil {
		return nil, err
	}
	if err := writePodFiles(a.cfg.Paths.pod(), hostname, spec); err != nil {
		return nil, errs.Internal("%w", err)
	}
	if err := a.mountScratch(spec.ScratchDisk); err != nil {
		return nil, err
	}
	p, err := a.podInit()
	if err == nil {
		err = setHostname(p.nsFD(unix.CLONE_NEWUTS), hostname)
		if err == nil {
			err = applySysctls(a.cfg.Paths.procSys(), p.nsFD(unix.CLONE_NEWIPC), spec.Sysctls)
		}
		if err != nil {
			a.endPodInit(p)
		}
	}
	if err != nil {
		mount.Unmount(a.cfg.Paths.scratch())
		return nil, err
	}
	slog.Info("pod created", "hostname", hostname, "podInit", p.initPid)
	return p, nil
}

func validatePod(spec *protocol.PodSpec) error {
	if len(spec.Hostname) > 64 || !isWord(spec.Hostname) {
		return errs.Invalid("invalid hostname %q", spec.Hostname)
	}
	if spec.ScratchDisk != "" {
		if err := ValidateID("scratch disk serial", spec.ScratchDisk); err != nil {
			return err
		}
	}
	for _, h := range spec.Hosts {
		if _, err := netip.ParseAddr(h.IP); err != nil {
			return errs.Invalid("hosts entry: invalid IP %q", h.IP)
		}
		if len(h.Names) == 0 {
			return errs.Invalid("hosts entry %s without names", h.IP)
		}
		if err := words("hosts entry name", h.Names); err != nil {
			return err
		}
	}
	for _, s := range spec.DNS.Servers {
		if _, err := netip.ParseAddr(s); err != nil {
			return errs.Invalid("invalid DNS server %q", s)
		}
	}
	if err := words("DNS search domain", spec.DNS.Search); err != nil {
		return err
	}
	if err := words("DNS option", spec.DNS.Options); err != nil {
		return err
	}
	if err := validateSysctls(spec.Sysctls); err != nil {
		return err
	}
	if len(spec.Interfaces) > 8 {
		return errs.Invalid("too many interfaces: %d", len(spec.Interfaces))
	}
	for _, i := range spec.Interfaces {
		if _, err := netcfg.Parse(i.MAC, i.Address, i.Gateway, i.MTU); err != nil {
			return errs.Invalid("interface: %v", err)
		}
	}
	return nil
}

// nicTimeout bounds the wait for a NIC's driver to register it.
const nicTimeout = 5 * time.Second

// configureNetwork sets up the pod's NICs, each found by its MAC. The VM's
// network namespace is the pod's.
func configureNetwork(ifaces []protocol.Interface) error {
	for _, i := range ifaces {
		cfg, err := netcfg.Parse(i.MAC, i.Address, i.Gateway, i.MTU)
		if err != nil {
			return errs.Invalid("interface: %v", err)
		}
		name, err := netcfg.Configure(cfg, nicTimeout)
		if err != nil {
			return errs.Internal("network: %w", err)
		}
		slog.Info("interface configured", "name", name, "mac", i.MAC, "address", i.Address, "gateway", i.Gateway)
	}
	return nil
}

// isWord reports whether s has no whitespace, control characters or '/',
// so it cannot break the line-based files it is written to.
func isWord(s string) bool {
	for _, r := range s {
		if r <= ' ' || r == 0x7f || r == '/' || r == '#' {
			return false
		}
	}
	return true
}

func words(kind string, ws []string) error {
	for _, w := range ws {
		if w == "" || len(w) > 253 || !isWord(w) {
			return errs.Invalid("invalid %s %q", kind, w)
		}
	}
	return nil
}

func writePodFiles(dir, hostname string, spec *protocol.PodSpec) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("creating %s: %w", dir, err)
	}
	var hosts strings.Builder
	fmt.Fprintf(&hosts, "127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n")
	if hostname != "localhost" {
		fmt.Fprintf(&hosts, "127.0.1.1\t%s\n", hostname)
	}
	for _, h := range spec.Hosts {
		fmt.Fprintf(&hosts, "%s\t%s\n", h.IP, strings.Join(h.Names, " "))
	}
	var resolv strings.Builder
	for _, s := range spec.DNS.Servers {
		fmt.Fprintf(&resolv, "nameserver %s\n", s)
	}
	if len(spec.DNS.Search) > 0 {
		fmt.Fprintf(&resolv, "search %s\n", strings.Join(spec.DNS.Search, " "))
	}
	if len(spec.DNS.Options) > 0 {
		fmt.Fprintf(&resolv, "options %s\n", strings.Join(spec.DNS.Options, " "))
	}
	files := map[string]string{
		"hostname":    hostname + "\n",
		"hosts":       hosts.String(),
		"resolv.conf": resolv.String(),
	}
	for name, content := range files {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			return fmt.Errorf("writing %s: %w", p, err)
		}
	}
	return nil
}

// mountScratch mounts the disk with the given serial (ext4), or a tmpfs,
// where containers' writable layers live.
func (a *Agent) mountScratch(serial string) error {
	dir := a.cfg.Paths.scratch()
	e := mount.Entry{Source: "tmpfs", Target: dir, FSType: "tmpfs", Flags: unix.MS_NODEV, Data: "mode=0755"}
	if serial != "" {
		dev, err := disk.FindBySerial(a.cfg.Paths.SysBlock, a.cfg.Paths.Dev, serial, DiskTimeout)
		if err != nil {
			return err
		}
		e = mount.Entry{Source: dev, Target: dir, FSType: "ext4", Flags: unix.MS_NODEV}
	}
	if err := e.Mount(); err != nil {
		return errs.Internal("scratch disk: %w", err)
	}
	if err := os.MkdirAll(filepath.Join(dir, "containers"), 0o700); err != nil {
		mount.Unmount(dir)
		return errs.Internal("preparing scratch disk: %w", err)
	}
	return nil
}

// PrestartPod starts pod-init ahead of CreatePod, which then only sets its
// hostname: started at boot, before the guest opens its channel, it is
// part of a VM template, so that no Go program starts for the first time
// after a restore (TCG would translate its start-up again, ~70 ms).
func (a *Agent) PrestartPod() error {
	p, err := a.startPodInit()
	if err != nil {
		return err
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.spare != nil || a.pod != nil || a.podCreating {
		a.endPodInit(p)
		return errs.Conflict("pod-init already started")
	}
	a.spare = p
	return nil
}

// podInit returns the pod-init started ahead, if alive, or starts one.
func (a *Agent) podInit() (*pod, error) {
	a.mu.Lock()
	p := a.spare
	a.spare = nil
	a.mu.Unlock()
	if p != nil && p.alive() == nil {
		return p, nil
	}
	if p != nil {
		a.endPodInit(p)
	}
	return a.startPodInit()
}

// setHostname sets the hostname of the UTS namespace utsNS (an open ns
// fd) from a thread that joins it.
func setHostname(utsNS int, hostname string) error {
	return inNamespace(utsNS, unix.CLONE_NEWUTS, func() error {
		if err := unix.Sethostname([]byte(hostname)); err != nil {
			return errs.Internal("setting the pod's hostname: %w", err)
		}
		return nil
	})
}

// podProcDir makes a new directory, under a shared mount, for pod-init to
// mount a proc of the pod's PID namespace on: the mount propagates to
// hyperstart's mount namespace, where container starts clone it.
func (a *Agent) podProcDir() (string, error) {
	dir := a.cfg.Paths.podProc()
	if !mount.IsMountPoint(dir) {
		e := mount.Entry{Source: "tmpfs", Target: dir, FSType: "tmpfs", Mode: 0o700,
			Flags: unix.MS_NOSUID | unix.MS_NODEV | unix.MS_NOEXEC, Data: "mode=0700,size=16k"}
		if err := e.Mount(); err != nil {
			return "", errs.Internal("pod proc: %w", err)
		}
		if err := unix.Mount("", dir, "", unix.MS_SHARED, ""); err != nil {
			mount.Unmount(dir)
			return "", errs.Internal("pod proc: making %s shared: %w", dir, err)
		}
	}
	d, err := os.MkdirTemp(dir, "pid")
	if err != nil {
		return "", errs.Internal("pod proc: %w", err)
	}
	return d, nil
}

// startPodInit starts pod-init in new PID, IPC, UTS and mount namespaces,
// waits until it is set up, and opens the first three for containers to
// join (its mount namespace is an empty root of its own).
func (a *Agent) startPodInit() (*pod, error) {
	proc, err := a.podProcDir()
	if err != nil {
		return nil, err
	}
	null, err := os.Open(os.DevNull)
	if err != nil {
		return nil, errs.Internal("opening %s: %w", os.DevNull, err)
	}
	defer null.Close()
	readyR, readyW, err := os.Pipe()
	if err != nil {
		return nil, errs.Internal("creating pod-init pipe: %w", err)
	}
	defer readyR.Close()
	attr := &syscall.ProcAttr{
		Env:   []string{},
		Files: []uintptr{null.Fd(), os.Stderr.Fd(), os.Stderr.Fd(), readyW.Fd()},
		Sys: &syscall.SysProcAttr{
			Setsid:     true,
			Cloneflags: unix.CLONE_NEWPID | unix.CLONE_NEWIPC | unix.CLONE_NEWUTS | unix.CLONE_NEWNS,
		},
	}
	pid, exit, err := a.cfg.Reaper.Start(func() (int, error) {
		return syscall.ForkExec(a.cfg.Exe, []string{"hyperstart", podinit.Mode, "", proc}, attr)
	})
	readyW.Close()
	if err != nil {
		return nil, errs.Internal("starting pod-init: %w", err)
	}
	readyR.SetReadDeadline(time.Now().Add(podInitTimeout))
	msg, err := io.ReadAll(io.LimitReader(readyR, 4096))
	if err != nil || len(msg) > 0 {
		a.cfg.Reaper.Kill(pid, unix.SIGKILL)
		if err == nil {
			err = errors.New(string(msg))
		}
		return nil, errs.Internal("pod-init failed: %w", err)
	}
	p := &pod{initPid: pid, proc: proc, dead: make(chan struct{})}
	for _, ns := range []struct {
		name string
		typ  int
	}{{"ipc", unix.CLONE_NEWIPC}, {"uts", unix.CLONE_NEWUTS}, {"pid", unix.CLONE_NEWPID}} {
		fd, err := unix.Open(fmt.Sprintf("/proc/%d/ns/%s", pid, ns.name), unix.O_RDONLY|unix.O_CLOEXEC, 0)
		if err != nil {
			err = errs.Internal("opening %s namespace of pod-init: %w", ns.name, err)
		} else if !a.cfg.Reaper.Running(pid) {
			unix.Close(fd)
			err = errs.Internal("pod-init exited at once")
		}
		if err != nil {
			a.endPodInit(p)
			return nil, err
		}
		p.ns = append(p.ns, spawn.Namespace{FD: fd, Type: ns.typ})
	}
	go func() {
		ws := <-exit
		code, sig := reaper.ExitCode(ws)
		slog.Error("pod-init exited: every process of the pod was killed", "code", code, "signal", sig)
		close(p.dead)
	}()
	return p, nil
}
