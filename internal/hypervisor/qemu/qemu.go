// Package qemu is the QEMU driver of package hypervisor: a microvm machine
// with direct kernel boot, no firmware, no display, QMP on a unix socket,
// the guest console in a log file, and the QEMU process in its own session
// so that the daemon's death does not take the VM with it. The driver
// opens every host file QEMU uses and passes descriptors, so that QEMU can
// run jailed (package jail): unprivileged, seeing only its boot files and
// shares, in a cgroup (docs/adr/0012-qemu-jail.md).
package qemu

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/hyperhq/hyper/internal/hypervisor"
	"github.com/hyperhq/hyper/internal/jail"
)

// Options configure the driver.
type Options struct {
	// Binary is the QEMU binary; default qemu-system-x86_64 from PATH.
	Binary string
	// Sandbox turns on QEMU's seccomp filter (-sandbox).
	Sandbox bool
	// TSCKHz is the host TSC frequency given to TCG guests; New measures
	// it when zero.
	TSCKHz uint64
	// Transport of the guest channels: TransportSerial (default) or
	// TransportVsock.
	Transport string
	// TCGBufferMB bounds TCG's translated-code buffer (QEMU's default is
	// 1 GiB, touched as code is translated): what keeps a TCG QEMU within
	// a memory limit.
	TCGBufferMB int
	// Jail, when set, runs every QEMU jailed. nil: QEMU runs as the
	// daemon's user and sees the host's files.
	Jail *Jail
}

// Jail configures the jail of every QEMU.
type Jail struct {
	User jail.Identity
	// Cgroup places each QEMU in a cgroup of its own with the limits below.
	Cgroup bool
	// MemoryOverheadMB is added to a VM's memory for its cgroup's memory
	// limit: what QEMU itself uses (TCG's translated code, device
	// buffers, threads).
	MemoryOverheadMB int
	// Pids limits the processes and threads of one QEMU.
	Pids int
	// Jailer is the program that calls jail.Main first; default the
	// running executable (/proc/self/exe).
	Jailer string
}

// Transports of the guest channels.
const (
	// TransportSerial: each channel is a virtio-serial port whose host end
	// is a unix socket (Channel.SocketPath).
	TransportSerial = "serial"
	// TransportVsock: the first channel is a vsock connection to the
	// guest (the host needs /dev/vhost-vsock); the others stay serial.
	TransportVsock = "vsock"
)

// Driver implements hypervisor.Driver.
type Driver struct{ opts Options }

// New returns a QEMU driver.
func New(opts Options) *Driver {
	if opts.Binary == "" {
		opts.Binary = "qemu-system-x86_64"
	}
	if opts.TSCKHz == 0 {
		opts.TSCKHz = hostTSCKHz()
	}
	if j := opts.Jail; j != nil && j.Jailer == "" {
		c := *j
		// The running binary's inode, even once an upgrade replaced it.
		c.Jailer = "/proc/self/exe"
		opts.Jail = &c
	}
	return &Driver{opts: opts}
}

// Name implements hypervisor.Driver.
func (d *Driver) Name() string { return DriverName }

// UserNetwork implements hypervisor.UserNetworker: slirp's fixed
// addresses. The gateway is also the host's loopback, seen from the
// guest; the DNS address forwards to the host's resolvers.
func (d *Driver) UserNetwork() hypervisor.UserNet {
	return hypervisor.UserNet{Address: "10.0.2.15/24", Gateway: "10.0.2.2", DNS: []string{"10.0.2.3"}, MTU: 1500}
}

// Version returns the first line of `qemu -version`.
func (d *Driver) Version(ctx context.Context) (string, error) {
	out, err := exec.CommandContext(ctx, d.opts.Binary, "-version").Output()
	if err != nil {
		return "", fmt.Errorf("running %s -version: %w", d.opts.Binary, err)
	}
	line, _, _ := strings.Cut(string(out), "\n")
	return line, nil
}

// Create implements hypervisor.Driver.
func (d *Driver) Create(ctx context.Context, spec hypervisor.Spec) (hypervisor.VM, error) {
	line, err := buildArgs(spec, d.opts)
	if err != nil {
		return nil, err
	}
	return d.newVM(spec, line), nil
}

func (d *Driver) newVM(spec hypervisor.Spec, line *cmdline) *vm {
	return &vm{spec: spec, binary: d.opts.Binary, line: line, jail: d.opts.Jail, vsock: d.opts.Transport == TransportVsock, done: make(chan struct{})}
}

type vm struct {
	spec   hypervisor.Spec
	binary string
	line   *cmdline
	// jail is how QEMU is jailed; nil: it is not.
	jail *Jail
	// cgroup is the id of the jail whose cgroup QEMU is in ("": none),
	// removed once QEMU has gone. Set before QEMU starts (or is attached).
	cgroup string
	// memoryFile is the template memory file of a VM that saves or
	// restores one: it is bound into the jail.
	memoryFile string
	// restoreFrom is the state file of the template a restored VM
	// resumes (see template.go); empty for a VM that boots.
	restoreFrom string
	// vsock: the first channel is reached over vsock (channel.go).
	vsock bool

	// mu guards launched, cmd, pid and exit. launch holds it across starting QEMU
	// (fork and exec, not the boot) on purpose: Pid and Kill wait until a
	// start has its process, so that a Kill during Start kills it. No QMP
	// call or other I/O is made under it.
	mu       sync.Mutex
	launched bool // Start was called
	cmd      *exec.Cmd
	pid      int // of an attached QEMU, not our child
	done     chan struct{}
	exit     hypervisor.ExitInfo
}

// Start implements hypervisor.VM. A restored VM runs once its state is
// loaded.
func (v *vm) Start(ctx context.Context) error {
	if err := v.launch(); err != nil {
		return fmt.Errorf("starting vm %s: %w", v.spec.ID, err)
	}
	if v.restoreFrom == "" {
		return nil
	}
	if err := v.resume(ctx); err != nil {
		v.Kill()
		<-v.done
		v.removeSockets() // the caller may boot in the same state dir
		return fmt.Errorf("restoring vm %s from %s: %w%s", v.spec.ID, filepath.Dir(v.restoreFrom), err, v.exited())
	}
	return nil
}

func (v *vm) launch() error {
	// Once only: a second start would rebind the sockets of the first.
	v.mu.Lock()
	again := v.launched || v.pid != 0
	v.launched = true
	v.mu.Unlock()
	if again {
		return errors.New("already started")
	}
	logf, err := os.OpenFile(filepath.Join(v.spec.StateDir, qemuLog), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return err
	}
	defer logf.Close()
	files, err := openPassed(v.line.files)
	defer closeAll(files)
	if err != nil {
		return err
	}
	extra := []*os.File{nil} // incomingFD
	if v.restoreFrom != "" {
		state, err := os.Open(v.restoreFrom)
		if err != nil {
			return err
		}
		defer state.Close()
		extra[0] = state
	}
	cmd, err := v.command()
	if err != nil {
		return err
	}
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.ExtraFiles = append(extra, files...)
	v.mu.Lock()
	defer v.mu.Unlock()
	if err := cmd.Start(); err != nil {
		return err
	}
	v.cmd = cmd
	go v.reap()
	return nil
}

// command is QEMU's, jailed or not. Either way it has a session of its
// own (and so a process group): a signal to the daemon's group, or its
// death, leaves the VM running.
func (v *vm) command() (*exec.Cmd, error) {
	if v.jail == nil {
		cmd := exec.Command(v.binary, v.line.args...)
		cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
		return cmd, nil
	}
	spec, err := v.jailSpec()
	if err != nil {
		return nil, err
	}
	return jail.Command(v.jail.Jailer, spec)
}

func (v *vm) reap() {
	err := v.cmd.Wait()
	info := hypervisor.ExitInfo{At: time.Now()}
	var ee *exec.ExitError
	switch {
	case err == nil:
		info.Reason = "qemu exited with status 0"
	case errors.As(err, &ee):
		ws, _ := ee.Sys().(syscall.WaitStatus)
		if ws.Signaled() {
			info.ExitCode = 128 + int(ws.Signal())
			info.Reason = fmt.Sprintf("qemu killed by signal %d (%s)", int(ws.Signal()), ws.Signal())
		} else {
			info.ExitCode = ws.ExitStatus()
			info.Reason = fmt.Sprintf("qemu exited with status %d%s", info.ExitCode, v.logTail())
		}
	default:
		info.ExitCode = -1
		info.Reason = "waiting for qemu: " + err.Error()
	}
	v.ended(info)
}

// ended records how QEMU ended, once its jail's cgroup is gone.
func (v *vm) ended(info hypervisor.ExitInfo) {
	if v.cgroup != "" {
		if err := jail.RemoveCgroup(v.cgroup); err != nil {
			info.Reason += "; " + err.Error()
		}
	}
	v.mu.Lock()
	v.exit = info
	v.mu.Unlock()
	close(v.done)
}

// logTail returns the end of qemu.log, to explain a failed start.
func (v *vm) logTail() string {
	b, err := os.ReadFile(filepath.Join(v.spec.StateDir, qemuLog))
	if err != nil || len(b) == 0 {
		return ""
	}
	if len(b) > 512 {
		b = b[len(b)-512:]
	}
	return ": " + strings.TrimSpace(string(b))
}

// Pid implements hypervisor.VM.
func (v *vm) Pid() int {
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.cmd == nil || v.cmd.Process == nil {
		return v.pid
	}
	return v.cmd.Process.Pid
}

// Wait implements hypervisor.VM.
func (v *vm) Wait(ctx context.Context) (hypervisor.ExitInfo, error) {
	select {
	case <-v.done:
		v.mu.Lock()
		defer v.mu.Unlock()
		return v.exit, nil
	case <-ctx.Done():
		return hypervisor.ExitInfo{}, ctx.Err()
	}
}

// Shutdown implements hypervisor.VM: QMP "quit", then SIGKILL if QEMU has
// not gone when ctx ends.
func (v *vm) Shutdown(ctx context.Context) error {
	if v.Pid() == 0 {
		return nil
	}
	select {
	case <-v.done:
		return nil
	default:
	}
	qctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	q, err := dialQMP(qctx, filepath.Join(v.spec.StateDir, qmpSocket))
	if err == nil {
		q.execute(qctx, "quit", nil) // the connection drops as QEMU quits
		q.close()
	}
	cancel()
	select {
	case <-v.done:
		return nil
	case <-ctx.Done():
		v.Kill()
		<-v.done
		return fmt.Errorf("stopping vm %s: %w (killed)", v.spec.ID, ctx.Err())
	}
}

// Kill implements hypervisor.VM.
func (v *vm) Kill() error {
	pid := v.Pid()
	if pid == 0 {
		return nil
	}
	select {
	case <-v.done:
		return nil
	default:
	}
	// The process group is QEMU's own (Setsid), so this reaches helpers too.
	if err := syscall.Kill(-pid, syscall.SIGKILL); err != nil && !errors.Is(err, syscall.ESRCH) {
		return fmt.Errorf("killing vm %s: %w", v.spec.ID, err)
	}
	return nil
}
