package spawn

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"runtime"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/hyperhq/hyper/internal/hyperstart/errs"
	"github.com/hyperhq/hyper/internal/hyperstart/reaper"
	"github.com/hyperhq/hyper/internal/hyperstart/security"
	"github.com/hyperhq/hyper/internal/protocol"
)

// SetupTimeout bounds how long a spawn child may take to set up.
const SetupTimeout = 60 * time.Second

// Options describe a process to start.
type Options struct {
	Spec Spec
	// Exe is the hyperstart binary, normally "/proc/self/exe".
	Exe string
	// Stdio become the child's fds 0, 1 and 2.
	Stdio [3]*os.File
	// Namespaces to join (ipc, uts, pid of the pod), as open ns fds, each
	// with its CLONE_NEW* type.
	Namespaces []Namespace
	// MountNS, if set, is the mount namespace fd to join (the container's,
	// for processes other than its init).
	MountNS int
	// CgroupFD is the directory fd of the cgroup to start the child in,
	// or -1.
	CgroupFD int
	Reaper   *reaper.Reaper
}

// Namespace is a namespace file descriptor and its type.
type Namespace struct {
	FD   int
	Type int
}

// Process is a started process.
type Process struct {
	Pid  int
	Exit <-chan unix.WaitStatus
	// Terminal is the master of the process's terminal, if it has one.
	Terminal *os.File
}

// Start starts a process and returns once it has exec'd the user's
// program (or failed to: the error carries its kind and no process is
// left running). Most processes are set up and started directly from a
// locked OS thread (see startDirect); those that need per-process setup a
// thread cannot do go through a spawn child, whose status is collected
// by the reaper if it fails.
func Start(ctx context.Context, o Options) (Process, error) {
	conf, err := security.Parse(&o.Spec.Process)
	if err != nil {
		return Process{}, err
	}
	if Direct(&o.Spec, &conf) {
		return onThread(func() (Process, error) { return startDirect(o, &conf) })
	}
	return startChild(ctx, o, onThread)
}

// Direct reports whether a process of spec, confined by conf, is started
// without a spawn child: it has no rlimits (they are per process, not per
// thread), its confinement can be set on a thread (conf.OnThread: not
// with capabilities, a seccomp filter or an OOM score), and a container's
// first process has the pod's proc to clone (a thread cannot mount a proc
// of the pod's PID namespace, which it joins for its children only).
func Direct(spec *Spec, conf *security.Process) bool {
	return len(spec.Process.Rlimits) == 0 && conf.OnThread() && (!spec.Init || spec.Proc != "")
}

// started is what a start on a thread gives.
type started struct {
	p   Process
	err error
}

// onThread runs fn on a new locked OS thread, which may join namespaces
// and change its root: it is never unlocked, and the runtime discards it
// when fn's goroutine ends.
func onThread(fn func() (Process, error)) (Process, error) {
	ch := make(chan started, 1)
	go func() {
		runtime.LockOSThread()
		p, err := fn()
		ch <- started{p, err}
	}()
	st := <-ch
	return st.p, st.err
}

// enterNamespaces gives the calling locked thread filesystem attributes
// of its own and moves it into the pod's namespaces and the container's
// mount namespace, if any.
func enterNamespaces(o *Options) error {
	if err := unix.Unshare(unix.CLONE_FS); err != nil {
		return errs.Internal("unsharing fs attributes: %w", err)
	}
	for _, ns := range o.Namespaces {
		if err := unix.Setns(ns.FD, ns.Type); err != nil {
			return errs.Unavailable("joining pod namespace %#x: %w", ns.Type, err)
		}
	}
	if o.MountNS > 0 {
		if err := unix.Setns(o.MountNS, unix.CLONE_NEWNS); err != nil {
			return errs.Conflict("joining container mount namespace: %w", err)
		}
	}
	return nil
}

// startDirect does a spawn child's setup on the calling locked thread
// (for a container's first process, in a mount namespace of the thread's
// own, which the process inherits) and forks and execs the program from
// it; ForkExec sets the session, terminal, user and cgroup.
func startDirect(o Options, conf *security.Process) (Process, error) {
	if err := enterNamespaces(&o); err != nil {
		return Process{}, err
	}
	spec := &o.Spec
	if spec.Init {
		if err := unix.Unshare(unix.CLONE_NEWNS); err != nil {
			return Process{}, errs.Internal("unsharing mount namespace: %w", err)
		}
		if err := setupContainer(spec); err != nil {
			return Process{}, err
		}
	}
	p := &spec.Process
	user, err := resolveUser(p)
	if err != nil {
		return Process{}, err
	}
	sys := &syscall.SysProcAttr{Setsid: true, Credential: credential(user)}
	if o.CgroupFD >= 0 {
		sys.UseCgroupFD, sys.CgroupFD = true, o.CgroupFD
	}
	files := []uintptr{o.Stdio[0].Fd(), o.Stdio[1].Fd(), o.Stdio[2].Fd()}
	var master *os.File
	if p.Terminal {
		m, slave, err := openTerminal(user.UID)
		if err != nil {
			return Process{}, errs.Internal("%w", err)
		}
		defer slave.Close()
		master = m
		files = []uintptr{slave.Fd(), slave.Fd(), slave.Fd()}
		sys.Setctty, sys.Ctty = true, 0
	}
	fail := func(err error) (Process, error) {
		if master != nil {
			master.Close()
		}
		return Process{}, err
	}
	env := Env(p.Env, user.Home, p.Terminal)
	path, err := enterCwd(p, env)
	if err != nil {
		return fail(err)
	}
	if err := conf.Thread(); err != nil {
		return fail(err)
	}
	attr := &syscall.ProcAttr{Env: env, Files: files, Sys: sys}
	pid, exit, err := o.Reaper.Start(func() (int, error) {
		return syscall.ForkExec(path, p.Args, attr)
	})
	if err != nil {
		return fail(execError(path, err))
	}
	return Process{Pid: pid, Exit: exit, Terminal: master}, nil
}

// startChild starts a spawn child, forked from the locked thread thread
// runs its function on, and waits until it has exec'd the user's program (or failed to: the error carries the child's code). On
// failure the child has exited; its status is still collected by the
// reaper.
func startChild(ctx context.Context, o Options, thread func(func() (Process, error)) (Process, error)) (Process, error) {
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return Process{}, errs.Internal("creating spawn socket: %w", err)
	}
	child := os.NewFile(uintptr(fds[1]), "spawn-child")
	parentFile := os.NewFile(uintptr(fds[0]), "spawn-parent")
	conn, err := net.FileConn(parentFile)
	parentFile.Close()
	if err != nil {
		child.Close()
		return Process{}, errs.Internal("spawn socket: %w", err)
	}
	defer conn.Close()

	p, err := thread(func() (Process, error) { return forkChild(o, child) })
	child.Close()
	if err != nil {
		return Process{}, err
	}
	uc, ok := conn.(*net.UnixConn)
	if !ok {
		o.Reaper.Kill(p.Pid, unix.SIGKILL)
		return Process{}, errs.Internal("spawn socket is a %T", conn)
	}
	master, err := handshake(ctx, uc, &o.Spec)
	if err != nil {
		o.Reaper.Kill(p.Pid, unix.SIGKILL)
		return Process{}, err
	}
	if o.Spec.Process.Terminal && master == nil {
		o.Reaper.Kill(p.Pid, unix.SIGKILL)
		return Process{}, errs.Internal("spawn child sent no terminal")
	}
	p.Terminal = master
	return p, nil
}

// forkChild forks the spawn child from the calling locked thread.
func forkChild(o Options, child *os.File) (Process, error) {
	if err := enterNamespaces(&o); err != nil {
		return Process{}, err
	}
	sys := &syscall.SysProcAttr{Setsid: true}
	if o.Spec.Init {
		sys.Cloneflags = unix.CLONE_NEWNS
	}
	if o.CgroupFD >= 0 {
		sys.UseCgroupFD, sys.CgroupFD = true, o.CgroupFD
	}
	attr := &syscall.ProcAttr{
		Env:   []string{},
		Files: []uintptr{o.Stdio[0].Fd(), o.Stdio[1].Fd(), o.Stdio[2].Fd(), child.Fd()},
		Sys:   sys,
	}
	exe := o.Exe
	if exe == "" {
		exe = "/proc/self/exe"
	}
	pid, exit, err := o.Reaper.Start(func() (int, error) {
		return syscall.ForkExec(exe, []string{"hyperstart", Mode}, attr)
	})
	if err != nil {
		return Process{}, errs.Internal("starting %s %s: %w", exe, Mode, err)
	}
	return Process{Pid: pid, Exit: exit}, nil
}

// handshake sends the spec and reads the child's verdict: EOF without
// data means the program was exec'd. A terminal master fd may come first.
func handshake(ctx context.Context, conn *net.UnixConn, spec *Spec) (master *os.File, err error) {
	deadline := time.Now().Add(SetupTimeout)
	if d, ok := ctx.Deadline(); ok && d.Before(deadline) {
		deadline = d
	}
	conn.SetDeadline(deadline)
	defer func() {
		if err != nil && master != nil {
			master.Close()
			master = nil
		}
	}()
	if err := json.NewEncoder(conn).Encode(spec); err != nil {
		return nil, errs.Internal("sending spawn spec: %w", err)
	}
	conn.CloseWrite()
	var msg []byte
	buf := make([]byte, 4096)
	oob := make([]byte, unix.CmsgSpace(4))
	for len(msg) < maxErrorSize {
		n, oobn, _, _, rerr := conn.ReadMsgUnix(buf, oob)
		if oobn > 0 {
			fds, perr := parseRights(oob[:oobn])
			for i, fd := range fds {
				if i == 0 && master == nil && n == 1 && buf[0] == terminalMsg {
					master = os.NewFile(uintptr(fd), "ptmx")
					n = 0
					continue
				}
				unix.Close(fd)
			}
			if perr != nil {
				return master, errs.Internal("receiving terminal: %w", perr)
			}
		}
		msg = append(msg, buf[:n]...)
		if errors.Is(rerr, io.EOF) || rerr == nil && n == 0 && oobn == 0 {
			break
		}
		if rerr != nil {
			var ne net.Error
			if errors.As(rerr, &ne) && ne.Timeout() {
				return master, errs.Unavailable("process setup timed out after %v", SetupTimeout)
			}
			return master, errs.Internal("reading spawn result: %w", rerr)
		}
	}
	if len(msg) == 0 {
		return master, nil
	}
	var pe protocol.Error
	if err := json.Unmarshal(msg, &pe); err != nil {
		return master, errs.Internal("decoding spawn result %q: %w", truncate(msg), err)
	}
	return master, errs.FromProtocol(&pe)
}

func parseRights(oob []byte) ([]int, error) {
	msgs, err := unix.ParseSocketControlMessage(oob)
	if err != nil {
		return nil, err
	}
	var fds []int
	for _, m := range msgs {
		r, err := unix.ParseUnixRights(&m)
		if err != nil {
			return fds, err
		}
		fds = append(fds, r...)
	}
	return fds, nil
}

func truncate(b []byte) string {
	if len(b) > 200 {
		b = b[:200]
	}
	return fmt.Sprintf("%s", b)
}
