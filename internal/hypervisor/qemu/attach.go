package qemu

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/hyperhq/hyper/internal/errdefs"
	"github.com/hyperhq/hyper/internal/hypervisor"
	"github.com/hyperhq/hyper/internal/jail"
)

// vmName is QEMU's -name of the VM with id: how a restarted daemon
// recognises its QEMU processes.
func vmName(id string) string { return "hyper-" + id }

// Owns implements hypervisor.Attacher: pid runs QEMU with the VM's name.
func (d *Driver) Owns(spec hypervisor.Spec, pid int) bool {
	_, ok := ownCmdline(spec, pid)
	return ok
}

// ownCmdline is the command line of pid if it is the QEMU of spec.
func ownCmdline(spec hypervisor.Spec, pid int) ([]byte, bool) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
	return b, err == nil && namedIn(b, spec.ID)
}

// namedIn tells whether a NUL-separated command line names VM id.
func namedIn(cmdline []byte, id string) bool {
	args := strings.Split(string(cmdline), "\x00")
	for i := 0; i+1 < len(args); i++ {
		if args[i] == "-name" && args[i+1] == vmName(id) {
			return true
		}
	}
	return false
}

// Attach implements hypervisor.Attacher: pid must be the QEMU process of
// spec.ID. QEMU is not our child then, so its end is seen through a pidfd
// and its exit status is unknown.
func (d *Driver) Attach(ctx context.Context, spec hypervisor.Spec, pid int) (hypervisor.VM, error) {
	// The pidfd first: once it is open, pid cannot go to another process
	// between the check and the watch.
	fd, err := unix.PidfdOpen(pid, 0)
	if err != nil && !errors.Is(err, syscall.ESRCH) {
		return nil, fmt.Errorf("vm %s: watching qemu %d: %w", spec.ID, pid, err)
	}
	cmdline, ok := ownCmdline(spec, pid)
	if err != nil || !ok {
		if err == nil {
			unix.Close(fd)
		}
		return nil, errdefs.NotFound("vm %s: no QEMU process %d", spec.ID, pid)
	}
	v := d.newVM(spec, nil)
	v.pid = pid
	v.vsock = usesVsock(cmdline) // as it was started, whatever the transport now
	if id, err := jail.ProcessCgroup(pid); err == nil {
		v.cgroup = id // jailed by the earlier hyperd: its cgroup goes with it
	}
	go v.watchPidfd(fd)
	return v, nil
}

// watchPidfd waits until the process behind fd has ended.
func (v *vm) watchPidfd(fd int) {
	defer unix.Close(fd)
	fds := []unix.PollFd{{Fd: int32(fd), Events: unix.POLLIN}}
	for {
		if _, err := unix.Poll(fds, -1); err == nil || err != syscall.EINTR {
			break
		}
	}
	v.ended(hypervisor.ExitInfo{ExitCode: -1, Reason: "qemu exited (started by an earlier hyperd: status unknown)", At: time.Now()})
}
