// Package podinit is the init process of a pod's PID namespace. hyperstart
// re-executes itself as "pod-init" with new PID, IPC, UTS and mount
// namespaces; containers then join the first three. pod-init sets the
// hostname if given (hyperstart may set it later from the pod's UTS
// namespace), mounts a proc of the pod's PID namespace on a directory of
// a shared mount if given (it propagates to hyperstart, which clones it
// onto containers' /proc), moves onto an empty root (containers see it as their PID 1,
// and must not reach the VM's filesystem through /proc/1/root), reports
// readiness by closing fd 3, ignores every catchable signal and reaps the
// orphans of the pod forever. If it dies, the kernel kills every process
// of the pod.
package podinit

import (
	"fmt"
	"os"
	"os/signal"
	"runtime"
	"syscall"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// Mode is argv[1] of pod-init.
const Mode = "pod-init"

// ignored are the catchable signals pod-init ignores. SIGCHLD is watched
// instead, and SIGURG is left to the Go runtime (goroutine preemption).
var ignored = []os.Signal{
	unix.SIGHUP, unix.SIGINT, unix.SIGQUIT, unix.SIGUSR1, unix.SIGUSR2,
	unix.SIGPIPE, unix.SIGALRM, unix.SIGTERM, unix.SIGSTKFLT, unix.SIGTSTP,
	unix.SIGTTIN, unix.SIGTTOU, unix.SIGXCPU, unix.SIGXFSZ, unix.SIGVTALRM,
	unix.SIGWINCH, unix.SIGIO, unix.SIGPWR, unix.SIGSYS, unix.SIGCONT,
}

// Run is pod-init's main; it never returns unless setup fails.
func Run(args []string) int {
	runtime.GOMAXPROCS(1)
	unix.Prctl(unix.PR_SET_NAME, uintptr(unsafe.Pointer(&[]byte(Mode + "\x00")[0])), 0, 0, 0)
	signal.Ignore(ignored...)
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, unix.SIGCHLD)
	ready := os.NewFile(ReadyFD, "ready")
	if err := setup(args); err != nil {
		fmt.Fprintf(ready, "pod-init: %v", err)
		return 1
	}
	ready.Close()
	for {
		reap()
		select {
		case <-sigs:
		case <-time.After(10 * time.Second):
		}
	}
}

// ReadyFD is closed by pod-init once set up; on failure it carries the
// error text.
const ReadyFD = 3

// setup takes the arguments [hostname [proc-dir]], either may be empty.
func setup(args []string) error {
	if os.Getpid() != 1 {
		return fmt.Errorf("must be PID 1 of a new PID namespace (started by hyperstart)")
	}
	if len(args) > 0 && args[0] != "" {
		if err := unix.Sethostname([]byte(args[0])); err != nil {
			return fmt.Errorf("setting hostname: %w", err)
		}
	}
	if len(args) > 1 && args[1] != "" {
		if err := unix.Mount("proc", args[1], "proc", unix.MS_NOSUID|unix.MS_NODEV|unix.MS_NOEXEC, ""); err != nil {
			return fmt.Errorf("mounting proc on %s: %w", args[1], err)
		}
	}
	return emptyRoot("/run")
}

// emptyRoot pivots onto a new, empty, read-only tmpfs mounted on dir (in
// pod-init's own mount namespace) and detaches everything else.
func emptyRoot(dir string) error {
	steps := []struct {
		what string
		fn   func() error
	}{
		{"making / private", func() error { return unix.Mount("", "/", "", unix.MS_REC|unix.MS_PRIVATE, "") }},
		{"mounting tmpfs on " + dir, func() error {
			return unix.Mount("tmpfs", dir, "tmpfs", unix.MS_NOSUID|unix.MS_NODEV|unix.MS_NOEXEC, "mode=0555,size=16k")
		}},
		{"creating old root", func() error { return unix.Mkdir(dir+"/old", 0o500) }},
		{"pivot_root", func() error { return unix.PivotRoot(dir, dir+"/old") }},
		{"chdir /", func() error { return unix.Chdir("/") }},
		{"detaching old root", func() error { return unix.Unmount("/old", unix.MNT_DETACH) }},
		{"removing old root", func() error { return unix.Rmdir("/old") }},
		{"remounting / read-only", func() error {
			return unix.Mount("", "/", "", unix.MS_REMOUNT|unix.MS_RDONLY|unix.MS_NOSUID|unix.MS_NODEV|unix.MS_NOEXEC, "")
		}},
	}
	for _, s := range steps {
		if err := s.fn(); err != nil {
			return fmt.Errorf("%s: %w", s.what, err)
		}
	}
	return nil
}

func reap() {
	for {
		var ws unix.WaitStatus
		pid, err := unix.Wait4(-1, &ws, unix.WNOHANG, nil)
		if err == syscall.EINTR {
			continue
		}
		if err != nil || pid <= 0 {
			return
		}
	}
}
