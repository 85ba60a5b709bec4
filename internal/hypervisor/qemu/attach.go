package qemu

import (
	"context"
	"fmt"
	"os"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/hyperhq/hyper/internal/errdefs"
	"github.com/hyperhq/hyper/internal/hypervisor"
)

// Attach implements hypervisor.Attacher: pid must be the QEMU process of
// spec.ID. QEMU is not our child then, so its end is seen through a pidfd
// and its exit status is unknown.
func (d *Driver) Attach(ctx context.Context, spec hypervisor.Spec, pid int) (hypervisor.VM, error) {
	cmdline, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
	if err != nil || !strings.Contains(string(cmdline), "hyper-"+spec.ID+"\x00") {
		return nil, errdefs.NotFound("vm %s: no QEMU process %d", spec.ID, pid)
	}
	fd, err := unix.PidfdOpen(pid, 0)
	if err != nil {
		return nil, fmt.Errorf("vm %s: watching qemu %d: %w", spec.ID, pid, err)
	}
	v := &vm{spec: spec, binary: d.opts.Binary, done: make(chan struct{}), pid: pid}
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
	v.mu.Lock()
	v.exit = hypervisor.ExitInfo{ExitCode: -1, Reason: "qemu exited (started by an earlier hyperd: status unknown)", At: time.Now()}
	v.mu.Unlock()
	close(v.done)
}
